#!/usr/bin/env python3
"""Rewrites the news question set the ways members type in a chat channel.

    python3 scripts/chat_phrasing.py > tests/data/news-chat.jsonl

Each line of tests/data/news-questions.jsonl becomes one chat-phrased line with the same
id (suffixed "c"), split, kind, answers, article and citation, plus `source` (the clean
question's id), `clean` (its text) and `phrasing` (what was done to it). The rewrite is
seeded by the question's id, so the file is reproducible.

What a rewrite may do, one to three of these:
- a greeting, hedge or filler in front ("hey, ", "anyone know ", "sorry if this was asked, but ");
- a tail behind ("lol", "thanks!", "anyone?", an emoji, "??");
- lower case throughout;
- the question mark dropped;
- a typo in a common word ("teh", "wich").

The tune and test splits draw their fillers, tails and typos from DISJOINT lists: the
engine's question reader may be tuned on the tune split, and the test split then shows
whether it holds for phrasings it was never shown. The engine itself has no such lists.
"""

import hashlib
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FILLERS = {
    "tune": [
        "hey, ",
        "hey ",
        "Hey! ",
        "quick question: ",
        "Quick question - ",
        "anyone know ",
        "Anyone know ",
        "hi all, ",
        "sorry if this was asked already, but ",
        "ok so ",
        "does anyone know ",
        "yo ",
        "hello! ",
        "random q but ",
        "@newsqa ",
    ],
    "test": [
        "heya, ",
        "Hiya ",
        "question for the bot: ",
        "does anybody know ",
        "um ",
        "so ",
        "Hi there! ",
        "apologies if this is a dumb question, but ",
        "can someone tell me ",
        "just wondering, ",
        "Morning all! ",
        "Guys ",
        "bot, ",
        "Real quick: ",
        "@NewsBot ",
    ],
}

TAILS = {
    "tune": [" lol", " thanks!", " anyone?", " \U0001f642", "??", " thx", " pls", ", cheers", "!!"],
    "test": [" haha", " thank you!", " \U0001f914", "???", " ty", " anybody?", " \U0001f440", " :)", ", ta"],
}

TYPOS = {
    "tune": {"the": "teh", "which": "wich", "what": "waht", "their": "thier", "with": "wiht"},
    "test": {"when": "wehn", "about": "abuot", "from": "form", "was": "wsa", "did": "didd"},
}

CHANGES = ["filler", "tail", "lower", "no_mark", "typo"]


def rewrite(q, split, rng):
    text = q
    chosen = rng.sample(CHANGES, rng.choice([1, 2, 2, 3]))
    done = []
    # A typo only where the question has one of the common words.
    if "typo" in chosen:
        words = [w for w in TYPOS[split] if re.search(r"\b%s\b" % w, text, re.IGNORECASE)]
        if words:
            w = rng.choice(words)
            typo = TYPOS[split][w]
            text = re.sub(
                r"\b%s\b" % w,
                lambda m: typo.capitalize() if m.group(0)[0].isupper() else typo,
                text,
                count=1,
                flags=re.IGNORECASE,
            )
            done.append("typo")
    if "no_mark" in chosen or ("tail" in chosen and rng.random() < 0.5):
        text = text.rstrip("?")
        done.append("no_mark")
    if "filler" in chosen:
        filler = rng.choice(FILLERS[split])
        # A filler ending in a space runs into the question: its first word goes lower case.
        text = filler + (text[0].lower() + text[1:] if rng.random() < 0.7 else text)
        done.append("filler")
    if "tail" in chosen:
        text = text + rng.choice(TAILS[split])
        done.append("tail")
    if "lower" in chosen:
        text = text.lower()
        done.append("lower")
    return text, done


def main():
    src = ROOT / "tests" / "data" / "news-questions.jsonl"
    for line in src.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        seed = int(hashlib.sha256(item["id"].encode()).hexdigest()[:12], 16)
        rng = random.Random(seed)
        text, done = rewrite(item["question"], item["split"], rng)
        out = dict(item)
        out["id"] = item["id"] + "c"
        out["source"] = item["id"]
        out["clean"] = item["question"]
        out["question"] = text
        out["phrasing"] = done
        out.pop("note", None)
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
