#!/usr/bin/env python3
"""An answerability verifier for newsqa's reader: does this sentence answer this question?

The reader's spans stay as they are (its weights are frozen); the verifier is one more
transformer layer, a copy of the reader's last, that reads the states the reader's
second-to-last layer already computed and scores the [CLS] token with one linear unit.
At run time it costs less than one layer on top of the reader's six (only [CLS] is
needed: the keys and values of every token, the rest for one row), and its logit joins
the answer's confidence (`[answer] verifier_weight`), not the ranking.

  train   builds (question, sentence, answerable?) pairs from SQuAD v1.1 train: the
          answer's sentence (yes); an adversarial twin of the question read against that
          sentence (no: an entity, number or word swapped, as SQuAD 2.0's writers did,
          `train.adversarial`); for some, a negated or modified twin (no); another
          sentence of the paragraph (no). Caches the frozen reader's states, then trains
          the verifier layer on them.
  probe   on SQuAD 2.0 (dev-v2.0.half-a.json): reads every sentence of each question's
          paragraph as the engine would, takes the best span, and prints the share of
          unanswerable questions abstained on at the threshold that keeps 90% of the
          answerable ones answered, without and with the verifier.
  export  verifier.safetensors, float16, with the names the engine loads.

Development tool only: newsqa never imports it, and CI does not run it.
"""

import argparse
import copy
import math
import os
import random
import re
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as recipe  # noqa: E402

MAX_LEN = 192


_AUX = re.compile(r"\b(is|are|was|were|did|does|do|can|could|has|have|had|will|would|should|must)\b")
_NEGATED = re.compile(r"\b(not|never|no|none|nor|without)\b|n't\b", re.I)
# Restrictive modifiers for the modifier twin ("How many judges" -> "How many female judges").
_MODIFIERS = [
    "first", "last", "only", "female", "male", "former", "current", "original", "second", "third",
    "largest", "smallest", "oldest", "youngest", "main", "official", "annual", "private", "public",
    "foreign", "modern", "ancient", "early", "late", "total", "average", "new", "final", "local",
    "national", "international", "primary", "secondary", "minimum", "maximum", "vice",
]
_SLOT = re.compile(r"\b(?:[Tt]he|[Ww]hat|[Ww]hich|[Hh]ow many|[Hh]ow much) ([a-z][a-z\-]{2,})\b")


_DETERMINERS = {"the", "a", "an", "his", "her", "its", "their", "this", "that", "these", "those"}
_FUNCTION = _DETERMINERS | {
    "is", "are", "was", "were", "did", "does", "do", "can", "could", "has", "have", "had", "will",
    "would", "should", "must", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and",
    "or", "not", "many", "much", "kind", "type", "sort", "other", "year", "time", "way",
}


def negated(question, sentence, rng):
    """The question negated, when neither it nor the sentence says no: "not" after a form of
    "be" ("What is not X?"), or before the verb after "did"/"does"/"do" and its subject ("When
    did Beyonce not start ...?")."""
    if _NEGATED.search(question) or _NEGATED.search(sentence):
        return None
    m = _AUX.search(question)
    if not m or m.start() == 0:
        return None
    if m.group(1) not in ("did", "does", "do"):
        return question[:m.end()] + " not" + question[m.end():]
    words = list(re.finditer(r"[\w'\-]+", question[m.end():]))
    k = 0
    while k < len(words) and words[k].group(0).lower() in _DETERMINERS:
        k += 2  # a determiner and the word it determines
    k = max(k, 1)
    verb = next((w for w in words[k:] if w.group(0).islower()
                 and w.group(0) not in _FUNCTION), None)
    if verb is None:
        return None
    at = m.end() + verb.start()
    return question[:at] + "not " + question[at:]


def modified(question, sentence, rng):
    """The question with a restrictive modifier the sentence never uses put before a noun it
    asks about ("How many judges" -> "How many female judges")."""
    low = sentence.lower()
    slots = [m for m in _SLOT.finditer(question)
             if m.group(1) not in _MODIFIERS and m.group(1) not in _FUNCTION]
    mods = [w for w in _MODIFIERS if not re.search(r"\b" + w + r"\b", low)
            and not re.search(r"\b" + w + r"\b", question.lower())]
    if not slots or not mods:
        return None
    m = rng.choice(slots)
    return question[:m.start(1)] + rng.choice(mods) + " " + question[m.start(1):]


def pairs(articles, rng, questions, topic_rate, extra_rate):
    """(question, sentence, label) items: the answer's sentence (1); an adversarial twin of
    the question against it (0: an entity, number or word swapped, `train.adversarial`); with
    `extra_rate` a negated or modified twin as well (0: "not" put in, or a restrictive
    modifier the sentence never uses, two more of SQuAD 2.0's kinds); and with `topic_rate`
    another sentence of the paragraph (0)."""
    out = []
    arts = list(articles)
    rng.shuffle(arts)
    n = 0
    for art in arts:
        paras = art["paragraphs"]
        pool = set().union(*(recipe.entities(p["context"]) for p in paras))
        for para in paras:
            ctx = para["context"]
            ss = recipe.split_sentences(ctx)
            for qa in para["qas"]:
                if not qa.get("answers") or n >= questions:
                    continue
                found = recipe.locate(ctx, ss, qa)
                if found is None:
                    continue
                _, _, text, first, last = found
                n += 1
                sent = ctx[ss[first][0]:ss[last][1]]
                q = qa["question"].strip()
                out.append((q, sent, 1))
                twin = recipe.adversarial(q, sent, text, pool, rng)
                if twin:
                    out.append((twin, sent, 0))
                if rng.random() < extra_rate:
                    make = [negated, modified]
                    rng.shuffle(make)
                    other = make[0](q, sent, rng) or make[1](q, sent, rng)
                    if other:
                        out.append((other, sent, 0))
                others = [i for i in range(len(ss)) if i < first or i > last]
                if others and rng.random() < topic_rate:
                    i = rng.choice(others)
                    neg = ctx[ss[i][0]:ss[i][1]]
                    if text.lower() not in neg.lower() and len(neg.strip()) > 10:
                        out.append((q, neg, 0))
    return out


def load_reader(d):
    tok, model = recipe.load_model_dir(d)
    for p in model.parameters():
        p.requires_grad_(False)
    return tok, model


def additive(mask):
    return (1.0 - mask[:, None, None, :].float()) * -1e4


class Verifier(torch.nn.Module):
    """A copy of the reader's last layer and a linear unit on its [CLS] output."""

    def __init__(self, last_layer, hidden):
        super().__init__()
        self.layer = copy.deepcopy(last_layer)
        for p in self.layer.parameters():
            p.requires_grad_(True)
        self.head = torch.nn.Linear(hidden, 1)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, states, mask):
        h = self.layer(states, attention_mask=additive(mask))[0]
        return self.head(h[:, 0]).squeeze(-1)


@torch.no_grad()
def lower_states(model, ids, tt, mask):
    """The input of the reader's last layer, and the reader's start/end logits."""
    out = model(input_ids=ids, token_type_ids=tt, attention_mask=mask, output_hidden_states=True)
    return out.hidden_states[-2], out.start_logits, out.end_logits


def tokenize(tok, qs, cs):
    return tok(qs, cs, truncation="only_second", max_length=MAX_LEN, padding=False)


def padded(rows, pad=0):
    n = max(len(r) for r in rows)
    t = torch.full((len(rows), n), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, :len(r)] = torch.tensor(r)
    return t


def cache_states(model, enc, batch=64):
    """Per item: the last layer's input, float16, [tokens, hidden] (no padding)."""
    order = sorted(range(len(enc["input_ids"])), key=lambda k: len(enc["input_ids"][k]))
    states = [None] * len(order)
    t0 = time.time()
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        ids = padded([enc["input_ids"][k] for k in idx])
        tt = padded([enc["token_type_ids"][k] for k in idx])
        mask = padded([[1] * len(enc["input_ids"][k]) for k in idx])
        h, _, _ = lower_states(model, ids, tt, mask)
        for r, k in enumerate(idx):
            states[k] = h[r, :len(enc["input_ids"][k])].half().clone()
        if b // batch % 100 == 0:
            print(f"  cached {b + len(idx)}/{len(order)} in {time.time() - t0:.0f} s", flush=True)
    return states


def stack(states, idx):
    n = max(states[k].shape[0] for k in idx)
    x = torch.zeros(len(idx), n, states[idx[0]].shape[1])
    mask = torch.zeros(len(idx), n, dtype=torch.long)
    for r, k in enumerate(idx):
        s = states[k]
        x[r, :s.shape[0]] = s.float()
        mask[r, :s.shape[0]] = 1
    return x, mask


def cmd_train(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    run = Path(a.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    tok, model = load_reader(a.reader)
    cache = run / "states.pt"
    if cache.exists():
        data = torch.load(cache, weights_only=False)
        items, states = data["items"], data["states"]
        print(f"verifier: {len(items)} cached pairs from {cache}")
    else:
        items = pairs(recipe.load_squad(a.train), rng, a.questions, a.topic_rate, a.extra_rate)
        answerable = sum(1 for it in items if it[2] == 1)
        print(f"verifier: {len(items)} pairs, {answerable} answerable", flush=True)
        enc = tokenize(tok, [it[0] for it in items], [it[1] for it in items])
        states = cache_states(model, enc)
        torch.save({"items": items, "states": states}, cache)
    labels = torch.tensor([float(it[2]) for it in items])
    # The split and the batch order draw from their own generator, so that a run from the
    # cached states trains as the run that built them did.
    rng = random.Random(a.seed + 1)
    idx = list(range(len(items)))
    rng.shuffle(idx)
    held = max(1, len(idx) // 20)
    val, tr = idx[:held], idx[held:]
    ver = Verifier(model.bert.encoder.layer[-1], model.config.hidden_size)
    opt = torch.optim.AdamW([
        {"params": ver.layer.parameters(), "lr": a.lr},
        {"params": ver.head.parameters(), "lr": a.head_lr},
    ], weight_decay=0.01)
    steps = a.epochs * math.ceil(len(tr) / a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, 0.05 * steps)) * max(0.0, 1 - s / steps))
    t0 = time.time()
    step = 0
    for ep in range(a.epochs):
        order = tr[:]
        rng.shuffle(order)
        # length-bucketed batches in chunks, as the reader's recipe does
        chunks = [sorted(order[c:c + a.batch * 50], key=lambda k: states[k].shape[0])
                  for c in range(0, len(order), a.batch * 50)]
        bs = [ch[i:i + a.batch] for ch in chunks for i in range(0, len(ch), a.batch)]
        rng.shuffle(bs)
        ver.train()
        for b in bs:
            x, mask = stack(states, b)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(ver(x, mask), labels[b])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ver.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"  epoch {ep} step {step}/{steps} loss {loss.item():.4f} "
                      f"{time.time() - t0:.0f} s", flush=True)
        acc = accuracy(ver, states, labels, val)
        print(f"verifier: epoch {ep} held-out accuracy {acc:.4f} ({len(val)} pairs)", flush=True)
    torch.save({"state_dict": ver.state_dict(), "args": vars(a), "seconds": time.time() - t0,
                "pairs": len(items)}, run / "verifier.pt")
    print(f"verifier: saved {run / 'verifier.pt'} after {time.time() - t0:.0f} s")


@torch.no_grad()
def accuracy(ver, states, labels, idx):
    ver.eval()
    right = 0
    for b in range(0, len(idx), 128):
        part = idx[b:b + 128]
        x, mask = stack(states, part)
        right += int(((ver(x, mask) > 0).float() == labels[part]).sum())
    return right / len(idx)


def load_verifier(model, path):
    ver = Verifier(model.bert.encoder.layer[-1], model.config.hidden_size)
    ver.load_state_dict(torch.load(path, weights_only=False)["state_dict"])
    ver.eval()
    return ver


@torch.no_grad()
def read_paragraphs(tok, model, path, limit):
    """Per question of `path`, as the engine reads: every sentence of its paragraph, the best
    span (start + end logit), that sentence's no-answer logit and the last layer's input
    there (float16), for any verifier to be replayed on."""
    rows = []
    t0 = time.time()
    for art in recipe.load_squad(path):
        for para in art["paragraphs"]:
            ctx = para["context"]
            sents = [ctx[s:e] for s, e in recipe.split_sentences(ctx)]
            qas = para["qas"]
            qs = [qa["question"].strip() for qa in qas for _ in sents]
            enc = tok(qs, sents * len(qas), truncation="only_second", max_length=MAX_LEN,
                      padding=True, return_tensors="pt")
            h, st, en = lower_states(model, enc["input_ids"], enc["token_type_ids"],
                                     enc["attention_mask"])
            for j, qa in enumerate(qas):
                best = None
                for i in range(j * len(sents), (j + 1) * len(sents)):
                    _, sc = recipe.span_scores(enc.sequence_ids(i), st[i], en[i], 30)
                    span = float(sc.max())
                    if best is None or span > best[0]:
                        best = (span, float(st[i, 0] + en[i, 0]), i)
                span, null, i = best
                length = int(enc["attention_mask"][i].sum())
                rows.append((bool(qa.get("answers")), span, null, h[i, :length].half().clone()))
        print(f"  read {len(rows)} questions in {time.time() - t0:.0f} s", flush=True)
        if limit and len(rows) >= limit:
            break
    return rows


@torch.no_grad()
def cmd_probe(a):
    torch.set_num_threads(a.threads)
    tok, model = load_reader(a.reader)
    cache = Path(a.cache)
    if cache.exists():
        rows = torch.load(cache, weights_only=False)
    else:
        rows = read_paragraphs(tok, model, a.data, a.limit)
        torch.save(rows, cache)
    vs = [0.0] * len(rows)
    if a.verifier:
        ver = load_verifier(model, a.verifier)
        for b in range(0, len(rows), 128):
            part = rows[b:b + 128]
            x, mask = stack([r[3] for r in part], list(range(len(part))))
            vs[b:b + len(part)] = ver(x, mask).tolist()
    print(f"probe: {len(rows)} questions ({sum(r[0] for r in rows)} answerable)")
    for wn in (0.0, -0.6):
        for wv in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
            score = [(r[0], r[1] + wn * r[2] + wv * v) for r, v in zip(rows, vs)]
            print(f"  span + {wn}*null + {wv}*verifier: "
                  f"unanswerable abstained at 90% answered {abstained(score):.1f}%")
    print(f"  verifier alone: {abstained([(r[0], v) for r, v in zip(rows, vs)]):.1f}%")


def abstained(scored, keep=0.9):
    ans = sorted((s for ok, s in scored if ok), reverse=True)
    t = ans[min(len(ans) - 1, max(0, math.ceil(keep * len(ans)) - 1))]
    un = [s for ok, s in scored if not ok]
    return 100 * sum(1 for s in un if s < t) / max(1, len(un))


def cmd_export(a):
    sd = torch.load(a.verifier, weights_only=False)["state_dict"]
    out = {f"verifier.{k}": v.half().contiguous() for k, v in sd.items()}
    save_file(out, a.out)
    print(f"verifier: wrote {len(out)} tensors to {a.out}")


def main():
    root = Path(__file__).resolve().parents[2]
    cache = Path(os.environ.get("NEWSQA_CACHE", Path.home() / ".cache/newsqa"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--reader", default=str(root / "models/minilm-squad"))
    t.add_argument("--train", default=str(root.parent / "shared/data/squad/train-v1.1.json"))
    t.add_argument("--run-dir", default=str(cache / "train/verifier"))
    t.add_argument("--questions", type=int, default=24000)
    t.add_argument("--topic-rate", type=float, default=0.5)
    t.add_argument("--extra-rate", type=float, default=0.5,
                   help="share of questions that also get a negated or modified twin")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--head-lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=23)
    t.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    pr = sub.add_parser("probe")
    pr.add_argument("--reader", default=str(root / "models/minilm-squad"))
    pr.add_argument("--verifier")
    pr.add_argument("--data", default=str(root.parent / "shared/data/squad/dev-v2.0.half-a.json"))
    pr.add_argument("--limit", type=int, default=0)
    pr.add_argument("--cache", default=str(cache / "train/verifier-probe.pt"),
                    help="the reader's pass over --data, kept for the next verifier")
    pr.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    x = sub.add_parser("export")
    x.add_argument("--verifier", default=str(cache / "train/verifier/verifier.pt"))
    x.add_argument("--out", required=True)
    a = p.parse_args()
    {"train": cmd_train, "probe": cmd_probe, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
