#!/usr/bin/env python3
"""Tune the answer fusion weights and the abstention threshold offline.

Input: the `--details` JSONL of a `newsqa eval` run made with a generous reader budget
(e.g. `[answer] read_sentences = 12`, `window_sentences = 0`), so that every window a
smaller budget would read is in the file with its features (similarity, overlap, BM25) and
the reader's spans. A reader window's spans do not depend on the other windows, so any
smaller `read_sentences` and any ranking/fusion weights can be replayed exactly from it.

    python3 scripts/tune_fusion.py details.jsonl [--read 2,3,4,5,6]

Prints the best weights per reader budget (by F1 over answerable questions, no
abstention), then, for those weights, the abstention trade-off: for each threshold, the
F1 kept on answerable questions and the share of unanswerable questions abstained on.
"""
import argparse
import itertools
import json


def load(path):
    rows = []
    for line in open(path):
        d = json.loads(line)
        rows.append((bool(d["gold"]), d["windows"]))
    return rows


def replay(rows, read, rank_o, rank_b, wr, ws, wo, wb):
    """Yields (answerable, best score, best similarity, em, f1) per question."""
    for answerable, windows in rows:
        ranked = sorted(
            windows, key=lambda w: -(w["similarity"] + rank_o * w["overlap"] + rank_b * w["bm25"])
        )[:read]
        best = None
        for w in ranked:
            for text, reader, single, em, f1 in w["spans"]:
                if not single:
                    continue
                s = wr * reader + ws * w["similarity"] + wo * w["overlap"] + wb * w["bm25"]
                if best is None or s > best[0]:
                    best = (s, w["similarity"], em, f1)
        if best is None:
            yield answerable, float("-inf"), 0.0, 0.0, 0.0
        else:
            yield (answerable,) + best


def f1_of(rows, *args):
    n = em = f1 = 0
    for answerable, _s, _sim, e, f in replay(rows, *args):
        if answerable:
            n += 1
            em += e
            f1 += f
    return 100 * em / max(n, 1), 100 * f1 / max(n, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("details")
    ap.add_argument("--read", default="2,3,4,5,6")
    args = ap.parse_args()
    rows = load(args.details)
    grid_rank = [(o, b) for o in (0.0, 0.2, 0.4, 0.6) for b in (0.0, 0.1, 0.2)]
    grid_fuse = [
        (wr, ws, wo, wb)
        for wr in (0.5, 1.0)
        for ws, wo, wb in itertools.product((0.0, 0.3, 0.6, 1.0), (0.0, 0.2, 0.4, 0.8), (0.0, 0.1, 0.3))
    ]
    print(f"{len(rows)} questions, {sum(a for a, _ in rows)} answerable")
    best_overall = None
    for read in [int(x) for x in args.read.split(",")]:
        best = None
        for ro, rb in grid_rank:
            for fuse in grid_fuse:
                em, f1 = f1_of(rows, read, ro, rb, *fuse)
                if best is None or f1 > best[1]:
                    best = (em, f1, ro, rb, fuse)
        em, f1, ro, rb, fuse = best
        print(
            f"read_sentences={read}: EM {em:.2f} F1 {f1:.2f}  rank_overlap={ro} rank_bm25={rb} "
            f"reader={fuse[0]} similarity={fuse[1]} overlap={fuse[2]} bm25={fuse[3]}"
        )
        best_overall = best_overall or {}
        best_overall[read] = (ro, rb, fuse)

    read = max(best_overall) if 4 not in best_overall else 4
    ro, rb, fuse = best_overall[read]
    print(f"\nabstention trade-off at read_sentences={read} (min_similarity 0.2):")
    print("threshold  F1(answerable)  answered(answerable)  abstained(unanswerable)")
    results = list(replay(rows, read, ro, rb, *fuse))
    n_ans = sum(1 for r in results if r[0]) or 1
    n_un = sum(1 for r in results if not r[0]) or 1
    for t in [x / 20 for x in range(0, 21)]:
        f1 = ans = unab = 0
        for answerable, s, sim, _e, f in results:
            answered = s >= t and sim >= 0.2
            if answerable:
                f1 += f if answered else 0
                ans += answered
            else:
                unab += not answered
        print(f"{t:9.2f}  {100 * f1 / n_ans:14.2f}  {100 * ans / n_ans:19.1f}%  {100 * unab / n_un:22.1f}%")


if __name__ == "__main__":
    main()
