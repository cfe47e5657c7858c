#!/usr/bin/env python3
"""Measure what each answerability signal adds to the confidence, and refit it.

Input: `newsqa eval --details` files (one JSON line per question, each with its candidates
and their features). Fits, on the tune files, "the top candidate is right (F1 >= 0.5)" by
logistic regression of the current fusion logit plus each further signal: agreement
(summed confidence of other sentences' candidates with the same answer), neighbour
coverage (IDF-weighted share of question terms in the cited sentence and its neighbours)
the reader's no-answer score and the answer verifier's logit (which sets the confidence
only, not the ranking). Unanswerable questions count as wrong. Reports log loss
and AUC on the tune files and on the held-out files, then prints the `[answer]` weights that
compute the chosen model, folded into the current ones (read from --config, default
config.example.toml, which holds the defaults).

    python3 scripts/fit_confidence.py --tune v2.jsonl,news-tune.jsonl --test news-test.jsonl \\
        [--use context_overlap] [--config config.toml]

numpy only.
"""
import argparse
import json
import math
import tomllib

import numpy as np

SIGNALS = ["agreement", "context_overlap", "no_answer", "verifier"]


def load(paths):
    rows = []
    for path in paths.split(","):
        for line in open(path):
            d = json.loads(line)
            if not d["candidates"]:
                continue
            top = d["candidates"][0]
            p = min(max(top["score"], 1e-6), 1 - 1e-6)
            right = 1.0 if d["gold"] and top["f1"] >= 0.5 else 0.0
            rows.append([math.log(p / (1 - p))] + [top[s] for s in SIGNALS] + [right])
    return np.array(rows)


def fit(X, y, l2=1e-3, steps=4000, lr=0.5):
    X = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X @ w))
        w -= lr * (X.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0])
    return w


def scores(X, w):
    return np.hstack([X, np.ones((len(X), 1))]) @ w


def log_loss(s, y):
    p = np.clip(1 / (1 + np.exp(-s)), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(s, y):
    order = np.argsort(s)
    rank = np.empty(len(s))
    rank[order] = np.arange(len(s))
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((rank[pos].sum() - n_pos * (n_pos - 1) / 2) / (n_pos * n_neg))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tune", required=True, help="details files to fit on (comma-separated)")
    ap.add_argument("--test", required=True, help="held-out details files to report on")
    ap.add_argument("--use", default="context_overlap",
                    help="signals of the model to print weights for (comma-separated; '' = none)")
    ap.add_argument("--config", default="config.example.toml")
    a = ap.parse_args()
    tune, test = load(a.tune), load(a.test)
    print(f"{len(tune)} tune questions, {len(test)} test questions")
    print(f"{'model':34s} {'tune log loss':>14s} {'tune AUC':>9s} {'test log loss':>14s} {'test AUC':>9s}")
    models = [[]] + [[s] for s in SIGNALS] + [SIGNALS]
    use = [s for s in a.use.split(",") if s]
    if use not in models:
        models.append(use)
    chosen = None
    for m in models:
        cols = [0] + [1 + SIGNALS.index(s) for s in m]
        w = fit(tune[:, cols], tune[:, -1])
        st, ss = scores(tune[:, cols], w), scores(test[:, cols], w)
        name = "fusion" + "".join(" + " + s for s in m)
        print(f"{name:34s} {log_loss(st, tune[:, -1]):14.4f} {auc(st, tune[:, -1]):9.4f} "
              f"{log_loss(ss, test[:, -1]):14.4f} {auc(ss, test[:, -1]):9.4f}")
        if m == use:
            chosen = w
    # p = sigmoid(a * z + sum(c_s * signal_s) + b), z = the current fusion logit.
    cfg = tomllib.load(open(a.config, "rb"))["answer"]
    scale, bias = chosen[0], chosen[-1]
    print(f"\n[answer] weights for fusion + {' + '.join(use) or 'nothing'} (scale {scale:.4f}):")
    extra = dict(zip(use, chosen[1:-1]))
    for k in ["reader_weight", "no_answer_weight", "verifier_weight", "similarity_weight",
              "overlap_weight", "bm25_weight", "context_overlap_weight", "agreement_weight"]:
        if k.removesuffix("_weight") not in extra:
            print(f"{k} = {scale * cfg.get(k, 0.0):.4f}")
    for s, k in [("context_overlap", "context_overlap_weight"), ("agreement", "agreement_weight"),
                 ("verifier", "verifier_weight")]:
        if s in extra:
            print(f"{k} = {scale * cfg.get(k, 0.0) + extra[s]:.4f}  # fitted")
    if "no_answer" in extra:
        print(f"no_answer_weight = {scale * cfg.get('no_answer_weight', 0.0) + extra['no_answer']:.4f}  # fitted")
    print(f"score_bias = {scale * cfg['score_bias'] + bias:.4f}")


if __name__ == "__main__":
    main()
