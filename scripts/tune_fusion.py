#!/usr/bin/env python3
"""Tune newsqa's answer fusion weights and abstention threshold offline.

Input: the `--details` JSONL of a `newsqa eval` run made with a generous reader budget
(`[answer] read_sentences = 12`), so that every window a smaller budget would read is in
the file with its features (cosine similarity, term overlap, BM25) and the reader's spans
(raw start+end logits). The reader scores each window on its own, so any smaller
`read_sentences` and any ranking and fusion weights can be replayed exactly.

    python3 scripts/tune_fusion.py details.jsonl [--read 2,3,4,5,6]
    python3 scripts/tune_fusion.py details.jsonl --margins 0,0.2,0.3,0.4 [--min-read 3]

With `--margins`, the file comes from a run with `read_sentences` (and
`max_read_sentences`) = 9 and the default ranking; its windows are in the engine's pick
order. Each margin is replayed as the engine reads: the first `--min-read` picks, then any
later pick whose ranking score is within the margin of the best sentence's.

1. For each reader budget, grid-searches the sentence-ranking weights and the linear
   fusion z = logit + ws*cosine + wo*overlap + wb*bm25 for the best F1 on the answerable
   questions (no abstention).
2. For the chosen budget, fits the confidence p = sigmoid(a*z + b) by logistic regression
   of "the chosen answer is right (F1 >= 0.5)", with unanswerable questions as negatives,
   and prints the `[answer]` weights that compute it.
3. Prints the abstention trade-off: for each confidence threshold, the F1 kept on
   answerable questions and the share of unanswerable questions abstained on.
"""
import argparse
import itertools
import json
import math


def load(path):
    rows = []
    for line in open(path):
        d = json.loads(line)
        rows.append((bool(d["gold"]), d["windows"]))
    return rows


def rank_score(w, rank_o=0.6, rank_b=0.3):
    return w["similarity"] + rank_o * w["overlap"] + rank_b * w["bm25"]


# Weight of the window's no-answer score ([CLS] logit) in z, relative to the span logit
# (--no-answer sets the grid; 0 for a reader without a no-answer score).
NO_ANSWER = [0.0]
WN = 0.0
# Weight of the answer verifier's logit in z (--verifier sets the grid; 0 without a verifier).
VERIFIER = [0.0]
WV = 0.0


def best_span(windows, ws, wo, wb, wn=None, wv=None):
    """(z, cosine, em, f1) of the best single-sentence span in the windows read; None if none."""
    wn = WN if wn is None else wn
    wv = WV if wv is None else wv
    best = None
    for w in windows:
        for _text, logit, single, em, f1 in w["spans"]:
            if not single:
                continue
            z = (logit + wn * w.get("no_answer", 0.0) + wv * w.get("verifier", 0.0)
                 + ws * w["similarity"] + wo * w["overlap"] + wb * w["bm25"])
            if best is None or z > best[0]:
                best = (z, w["similarity"], em, f1)
    return best or (None, 0.0, 0.0, 0.0)


def read_adaptive(windows, min_read, margin):
    """The windows the engine reads: the first min_read picks, then those within margin of the best."""
    top = max((rank_score(w) for w in windows), default=0.0)
    return [w for k, w in enumerate(windows) if k < min_read or rank_score(w) >= top - margin]


def choose(rows, read, rank_o, rank_b, ws, wo, wb):
    """Per question: (answerable, z of the best span, its cosine, em, f1); z None if no span."""
    return [
        (answerable,) + best_span(sorted(windows, key=lambda w: -rank_score(w, rank_o, rank_b))[:read], ws, wo, wb)
        for answerable, windows in rows
    ]


def choose_adaptive(rows, min_read, margin, ws, wo, wb, wn=None, wv=None):
    """Like choose, reading as the engine does with a read margin (see read_adaptive)."""
    return [(answerable,) + best_span(read_adaptive(windows, min_read, margin), ws, wo, wb, wn, wv)
            for answerable, windows in rows]


def at_answered(chosen, a, b, min_similarity, keep):
    """The highest threshold that keeps `keep` of the answerable questions answered, with the
    share of unanswerable questions abstained on and the F1 kept there."""
    conf = lambda c: 0.0 if c[1] is None or c[2] < min_similarity else 1 / (1 + math.exp(-(a * c[1] + b)))
    ans = sorted((conf(c) for c in chosen if c[0]), reverse=True)
    if not ans:
        return 0.0, 0.0, 0.0
    t = ans[min(len(ans) - 1, max(0, math.ceil(keep * len(ans)) - 1))]
    un = [c for c in chosen if not c[0]]
    unab = 100 * sum(1 for c in un if conf(c) < t) / max(1, len(un))
    f1 = 100 * sum(c[4] for c in chosen if c[0] and conf(c) >= t) / len(ans)
    return t, unab, f1


def reads(rows, min_read, margin):
    """Windows read per question: (median, mean, 95th percentile)."""
    counts = sorted(len(read_adaptive(windows, min_read, margin)) for _answerable, windows in rows)
    return counts[len(counts) // 2], sum(counts) / len(counts), counts[int(0.95 * len(counts))]


def scores(chosen):
    n = sum(1 for c in chosen if c[0]) or 1
    return (100 * sum(c[3] for c in chosen if c[0]) / n, 100 * sum(c[4] for c in chosen if c[0]) / n)


def fit_logistic(xs, ys, steps=3000, lr=0.05):
    """Fits p = sigmoid(a*x + b) by gradient descent on standardised x."""
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs)) or 1.0
    zs = [(x - mean) / sd for x in xs]
    a = b = 0.0
    for _ in range(steps):
        ga = gb = 0.0
        for z, y in zip(zs, ys):
            p = 1 / (1 + math.exp(-(a * z + b)))
            ga += (p - y) * z
            gb += p - y
        a -= lr * ga / len(zs)
        b -= lr * gb / len(zs)
    return a / sd, b - a * mean / sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("details")
    ap.add_argument("--read", default="2,3,4,5,6")
    ap.add_argument("--min-similarity", type=float, default=0.2)
    ap.add_argument("--margins", help="adaptive reading depth: margins to replay")
    ap.add_argument("--min-read", type=int, default=3)
    ap.add_argument("--pick", help="margin,ws,wo,wb to fit the confidence for (default: the best)")
    ap.add_argument("--no-answer", default="0", help="weights of the no-answer score to try, e.g. 0,-0.5,-1")
    ap.add_argument("--verifier", default="0", help="weights of the answer verifier's logit to try, e.g. 0,1,2")
    args = ap.parse_args()
    NO_ANSWER[:] = [float(x) for x in args.no_answer.split(",")]
    VERIFIER[:] = [float(x) for x in args.verifier.split(",")]
    rows = load(args.details)
    print(f"{len(rows)} questions, {sum(a for a, _ in rows)} answerable")
    if args.margins:
        return adaptive(rows, args)
    grid_rank = [(o, b) for o in (0.3, 0.6, 1.0) for b in (0.0, 0.1, 0.3)]
    grid_fuse = list(itertools.product((4.0, 6.0, 9.0, 12.0, 16.0), (0.0, 2.0, 4.0, 6.0), (0.0, 1.0)))
    best_by_read = {}
    for read in [int(x) for x in args.read.split(",")]:
        best = None
        for ro, rb in grid_rank:
            for fuse in grid_fuse:
                em, f1 = scores(choose(rows, read, ro, rb, *fuse))
                if best is None or f1 > best[1]:
                    best = (em, f1, ro, rb, fuse)
        em, f1, ro, rb, fuse = best
        best_by_read[read] = best
        print(
            f"read_sentences={read}: EM {em:.2f} F1 {f1:.2f}  rank_overlap={ro} rank_bm25={rb} "
            f"z = logit + {fuse[0]}*cosine + {fuse[1]}*overlap + {fuse[2]}*bm25"
        )

    read = 3 if 3 in best_by_read else max(best_by_read)
    _em, _f1, ro, rb, (ws, wo, wb) = best_by_read[read]
    chosen = choose(rows, read, ro, rb, ws, wo, wb)
    print(f"\nread_sentences={read}, rank_overlap_weight = {ro}, rank_bm25_weight = {rb}")
    calibrate(chosen, (ws, wo, wb), args.min_similarity, f"read_sentences={read}")


def calibrate(chosen, fuse, min_similarity, label):
    """Fits the confidence on the chosen answers and prints it as [answer] weights, then the trade-off."""
    ws, wo, wb = fuse
    with_z = [c for c in chosen if c[1] is not None]
    a, b = fit_logistic([c[1] for c in with_z], [1.0 if c[0] and c[4] >= 0.5 else 0.0 for c in with_z])
    print(f"z = logit + {WN}*no_answer + {WV}*verifier + {ws}*cosine + {wo}*overlap + {wb}*bm25")
    print(f"confidence = sigmoid({a:.4f} * z + {b:.4f}); as [answer] weights:")
    print(f"  reader_weight = {a:.4f}\n  no_answer_weight = {a * WN:.4f}\n  verifier_weight = {a * WV:.4f}")
    print(f"  similarity_weight = {a * ws:.4f}")
    print(f"  overlap_weight = {a * wo:.4f}\n  bm25_weight = {a * wb:.4f}\n  score_bias = {b:.4f}")
    trade_off(chosen, a, b, min_similarity, label)


def adaptive(rows, args):
    grid_fuse = list(itertools.product((2.0, 4.0, 6.0, 9.0, 12.0), (0.0, 1.0, 2.0, 3.0, 4.0, 6.0), (0.0, 1.0)))
    best = None
    for margin in [float(x) for x in args.margins.split(",")]:
        med, mean, p95 = reads(rows, args.min_read, margin)
        top = None
        for fuse in grid_fuse:
            em, f1 = scores(choose_adaptive(rows, args.min_read, margin, *fuse))
            if top is None or f1 > top[1]:
                top = (em, f1, fuse)
        em, f1, fuse = top
        print(
            f"margin {margin}: windows read median {med}, mean {mean:.2f}, p95 {p95}; best EM {em:.2f} F1 {f1:.2f} "
            f"z = logit + {fuse[0]}*cosine + {fuse[1]}*overlap + {fuse[2]}*bm25"
        )
        if best is None or f1 > best[0]:
            best = (f1, margin, fuse)
        for other in [(12.0, 6.0, 1.0), (6.0, 3.0, 1.0), (4.0, 2.0, 1.0)]:
            em, f1 = scores(choose_adaptive(rows, args.min_read, margin, *other))
            print(f"    with {other}: EM {em:.2f} F1 {f1:.2f}")
    _f1, margin, (ws, wo, wb) = best
    if args.pick:
        margin, ws, wo, wb = [float(x) for x in args.pick.split(",")]
    global WN, WV
    if NO_ANSWER != [0.0] or VERIFIER != [0.0]:
        print("\nno-answer and verifier weights: F1 without abstaining; at the threshold keeping >= 90% of "
              "answerable questions answered, the share of unanswerable ones abstained on")
        top = None
        for wn, wv in itertools.product(NO_ANSWER, VERIFIER):
            chosen = choose_adaptive(rows, args.min_read, margin, ws, wo, wb, wn, wv)
            _em, f1 = scores(chosen)
            with_z = [c for c in chosen if c[1] is not None]
            a, b = fit_logistic([c[1] for c in with_z], [1.0 if c[0] and c[4] >= 0.5 else 0.0 for c in with_z])
            t, unab, f1_kept = at_answered(chosen, a, b, args.min_similarity, 0.90)
            print(f"  wn {wn:+.2f} wv {wv:+.2f}: F1 {f1:.2f}; threshold {t:.3f}: "
                  f"abstained {unab:.1f}% of unanswerable, F1 {f1_kept:.2f}")
            if top is None or (unab, f1) > (top[0], top[1]):
                top = (unab, f1, wn, wv)
        WN, WV = top[2], top[3]
    chosen = choose_adaptive(rows, args.min_read, margin, ws, wo, wb)
    print(f"\nread_margin = {margin}")
    calibrate(chosen, (ws, wo, wb), args.min_similarity, f"margin {margin}")


def trade_off(chosen, a, b, min_similarity, label):
    print(f"\nabstention trade-off at {label} (min_similarity {min_similarity}):")
    print("threshold  F1(answerable)  answered(answerable)  abstained(unanswerable)")
    n_ans = sum(1 for c in chosen if c[0]) or 1
    n_un = sum(1 for c in chosen if not c[0]) or 1
    for t in [x / 20 for x in range(0, 20)]:
        f1 = ans = unab = 0
        for answerable, z, sim, _e, f in chosen:
            p = 0.0 if z is None else 1 / (1 + math.exp(-(a * z + b)))
            answered = p >= t and sim >= min_similarity
            if answerable:
                f1 += f if answered else 0
                ans += answered
            else:
                unab += not answered
        print(f"{t:9.2f}  {100 * f1 / n_ans:14.2f}  {100 * ans / n_ans:19.1f}%  {100 * unab / n_un:22.1f}%")


if __name__ == "__main__":
    main()
