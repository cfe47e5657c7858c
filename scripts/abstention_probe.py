#!/usr/bin/env python3
"""How far can the engine's own signals take abstention on SQuAD 2.0?

Input: the `--details` JSONL of a `newsqa eval` run on `dev-v2.0.half-a.json` (any reading
depth). For each question it takes the signals of the chosen answer (the first candidate):
the reader's span logit and no-answer score, the cosine, term overlap and BM25 of its
sentence, the engine's confidence, and the margins to the best other answer. It prints, for
each signal alone and for a logistic fit over all of them, the share of unanswerable
questions abstained on at the threshold that keeps 90% of the answerable ones answered.
The fit is scored by 5-fold cross-validation over contiguous blocks of questions (the file
is in article order, so a fold holds whole articles) and in-sample.

    python3 scripts/abstention_probe.py halfa-details.jsonl

If the cross-validated fit is not clearly above the engine's confidence, the signals do not
hold what abstention needs, and a better fusion cannot find it: the reader must learn it.
"""
import json
import math
import sys

NAMES = [
    "reader", "no_answer", "reader - no_answer", "similarity", "overlap", "bm25",
    "confidence (logit)", "confidence margin", "reader margin", "mean no_answer read",
    "answer words", "sentences read",
]


def signals(d):
    """The chosen answer's signals; None where the engine found no answer at all."""
    cands = d["candidates"]
    if not cands:
        return None
    top = cands[0]
    other = [c for c in cands[1:] if c["answer"].lower() != top["answer"].lower()]
    score = min(max(top["score"], 1e-6), 1 - 1e-6)
    no_answer = [w.get("no_answer", 0.0) for w in d.get("windows") or []] or [0.0]
    return [
        top["reader"], top["no_answer"], top["reader"] - top["no_answer"], top["similarity"],
        top["overlap"], top["bm25"], math.log(score / (1 - score)),
        top["score"] - other[0]["score"] if other else top["score"],
        top["reader"] - other[0]["reader"] if other else 5.0,
        sum(no_answer) / len(no_answer), min(len(top["answer"].split()), 10), len(no_answer),
    ]


def abstained_at(scores, answerable, keep=0.9):
    """Share of unanswerable questions scored below the threshold keeping `keep` answered."""
    ans = sorted((s for s, a in zip(scores, answerable) if a), reverse=True)
    t = ans[max(0, math.ceil(keep * len(ans)) - 1)]
    un = [s for s, a in zip(scores, answerable) if not a]
    return 100 * sum(1 for s in un if s < t) / len(un)


def fit(xs, ys, steps=400, lr=0.5, l2=1e-3):
    """Logistic regression on standardised signals; returns a scoring function."""
    k = len(xs[0])
    mean = [sum(x[j] for x in xs) / len(xs) for j in range(k)]
    sd = [math.sqrt(sum((x[j] - mean[j]) ** 2 for x in xs) / len(xs)) or 1.0 for j in range(k)]
    zs = [[(x[j] - mean[j]) / sd[j] for j in range(k)] for x in xs]
    w, b = [0.0] * k, 0.0
    for _ in range(steps):
        gw, gb = [0.0] * k, 0.0
        for z, y in zip(zs, ys):
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, sum(a * c for a, c in zip(w, z)) + b))))
            for j in range(k):
                gw[j] += (p - y) * z[j]
            gb += p - y
        w = [a - lr * (g / len(zs) + l2 * a) for a, g in zip(w, gw)]
        b -= lr * gb / len(zs)
    return lambda x: sum(a * (c - m) / s for a, c, m, s in zip(w, x, mean, sd)) + b


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = [json.loads(line) for line in open(sys.argv[1])]
    xs = [signals(d) for d in rows]
    answerable = [bool(d["gold"]) for d in rows]
    # A question with no answer at all takes the lowest value seen of every signal.
    lows = [min(x[j] for x in xs if x is not None) for j in range(len(NAMES))]
    xs = [x if x is not None else list(lows) for x in xs]
    n_un = sum(1 for a in answerable if not a)
    print(f"{len(rows)} questions, {len(rows) - n_un} answerable, {n_un} unanswerable")
    print("unanswerable abstained on at the threshold keeping 90% of answerable answered:")
    for j, name in enumerate(NAMES):
        col = [x[j] for x in xs]
        best = max(abstained_at(col, answerable), abstained_at([-v for v in col], answerable))
        print(f"  {name:22s} {best:5.1f}%")
    ys = [1.0 if a else 0.0 for a in answerable]
    folds = 5
    size = math.ceil(len(xs) / folds)
    cv = [0.0] * len(xs)
    for f in range(folds):
        lo, hi = f * size, min(len(xs), (f + 1) * size)
        score = fit(xs[:lo] + xs[hi:], ys[:lo] + ys[hi:])
        for i in range(lo, hi):
            cv[i] = score(xs[i])
    score = fit(xs, ys)
    print(f"  {'all, logistic fit':22s} {abstained_at(cv, answerable):5.1f}% (5-fold, by article block); "
          f"{abstained_at([score(x) for x in xs], answerable):.1f}% in-sample")


if __name__ == "__main__":
    main()
