#!/usr/bin/env python3
"""Train newsqa's extractive reader from the base sentence encoder.

One recipe, three steps (train.sh runs them in order):

  train     fine-tune all-MiniLM-L6-v2 as a BertForQuestionAnswering on SQuAD v1.1 train,
            on the contexts the engine reads (one sentence, a sentence with neighbours, the
            whole paragraph) plus SQuAD 2.0-style negatives (a sentence or passage without
            the answer, target at [CLS]), so the reader has a learned no-answer score.
            Checkpoints every few minutes; --resume continues an interrupted run.
  evaluate  gold-paragraph EM/F1 of a model directory on SQuAD-format files.
  export    the shipped directory: config.json, vocab, tokenizer files, float16
            model.safetensors with the tensor names rust-bert looks up (pooler included),
            and MODEL_CARD.md generated from the run's own log and scores.

Development tool only: newsqa never imports it, and CI does not run it.
"""

import argparse
import json
import math
import os
import random
import re
import shutil
import string
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

# --------------------------------------------------------------------------- sentences

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd", "co",
    "corp", "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt", "no", "fig", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g",
    "i.e", "c", "ca", "approx", "al", "ed", "vol", "pp", "op", "rev", "ft",
}
_BOUNDARY = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")


def split_sentences(text):
    """Character ranges of the sentences of `text` (a plain-rules splitter, close enough to
    the engine's for training: abbreviations, initials and decimals do not end a sentence)."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + 1
        word = re.search(r"([A-Za-z.]+)\.$", text[start:end])
        if word:
            w = word.group(1).lower().rstrip(".")
            if w in _ABBREV or len(w) == 1:
                continue
        stop = m.end()
        while stop > end and text[stop - 1].isspace():
            stop -= 1
        spans.append((start, stop))
        start = m.end()
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans or [(0, len(text))]


# --------------------------------------------------------------------------- data


def load_squad(path):
    with open(path) as f:
        return json.load(f)["data"]


# Word pairs for the antonym swap of an adversarial question (SQuAD 2.0's most common kind
# of unanswerable question after the entity swap).
_ANTONYM_PAIRS = [
    ("first", "last"), ("largest", "smallest"), ("biggest", "smallest"), ("most", "least"),
    ("highest", "lowest"), ("earliest", "latest"), ("before", "after"), ("increase", "decrease"),
    ("increased", "decreased"), ("north", "south"), ("east", "west"), ("northern", "southern"),
    ("eastern", "western"), ("longest", "shortest"), ("older", "younger"), ("oldest", "youngest"),
    ("larger", "smaller"), ("maximum", "minimum"), ("won", "lost"), ("win", "lose"),
    ("upper", "lower"), ("inside", "outside"), ("above", "below"), ("positive", "negative"),
    ("major", "minor"), ("strongest", "weakest"), ("best", "worst"), ("private", "public"),
    ("male", "female"), ("higher", "lower"), ("more", "fewer"), ("early", "late"),
    ("start", "end"), ("began", "ended"), ("accepted", "rejected"), ("allowed", "banned"),
]
_ANTONYMS = {a: b for a, b in _ANTONYM_PAIRS} | {b: a for a, b in _ANTONYM_PAIRS}
_ENTITY = re.compile(r"\b[A-Z][\w'\-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'\-]*)*")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")


def entities(text):
    """Runs of capitalised words ("Notre Dame", "Bank of England"), the first word of each
    sentence left out."""
    found = set()
    for s, e in split_sentences(text):
        for m in _ENTITY.finditer(text, s, e):
            words = m.group(0).split()
            if m.start() == s:
                words = words[1:]
            if words and not (len(words) == 1 and len(words[0]) < 3):
                found.add(" ".join(words))
    return found


def adversarial(question, context, answer, pool, rng):
    """The question made unanswerable from `context`, in the ways SQuAD 2.0's writers did
    most: an entity, a number or a word swapped for another (another entity of the same
    article, another number, the antonym) that `context` does not mention. None when no
    swap fits. The reader learns to read the question's details, not only its topic."""
    low = context.lower()
    swaps = []
    q_ents = [m for m in _ENTITY.finditer(question) if m.start() > 0]
    for m in q_ents:
        ent = m.group(0)
        if ent in context:
            n = len(ent.split())
            alts = [x for x in pool if len(x.split()) == n and x.lower() not in low
                    and x not in question and answer.lower() not in x.lower()]
            if alts:
                swaps.append((m.start(), m.end(), rng.choice(sorted(alts))))
    for m in _NUMBER.finditer(question):
        num = m.group(0)
        if num not in context:
            continue
        digits = num.replace(",", "")
        if re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", digits):
            alt = str(int(digits) + rng.choice([-1, 1]) * rng.randint(1, 40))
        elif digits.isdigit():
            alt = str(int(digits) * rng.choice([2, 3, 10]) + rng.randint(1, 9))
        else:
            continue
        if alt not in context:
            swaps.append((m.start(), m.end(), alt))
    for m in re.finditer(r"[A-Za-z]+", question):
        w = m.group(0)
        alt = _ANTONYMS.get(w.lower())
        if alt and re.search(r"\b" + alt + r"(?:e?s)?\b", low) is None and w.lower() in low:
            swaps.append((m.start(), m.end(), alt.capitalize() if w[0].isupper() else alt))
    if not swaps:
        return None
    s, e, alt = rng.choice(swaps)
    return question[:s] + alt + question[e:]


# The answer text of an adversarial twin: no answer, and not to be distilled (`--distill`).
TWIN = "\0twin"


def locate(ctx, ss, qa):
    """Where a question's first answer is in `ctx`, whose sentences are `ss`: (start, end, text,
    first sentence, last sentence). The answer's own offset, else the first place its text
    occurs; None when it does not occur or a sentence boundary cuts it."""
    ans = qa["answers"][0]
    a0, text = ans["answer_start"], ans["text"]
    a1 = a0 + len(text)
    if ctx[a0:a1] != text:
        found = ctx.find(text)
        if found < 0:
            return None
        a0, a1 = found, found + len(text)
    first = next((i for i, (s, e) in enumerate(ss) if s <= a0 < e), None)
    last = next((i for i, (s, e) in enumerate(ss) if s < a1 <= e), None)
    if first is None or last is None:
        return None
    return a0, a1, text, first, last


def build_examples(articles, rng, mix, neg_rate, adv_rate=0.0, twin_context="sentence"):
    """One epoch of (question, context, answer_start, answer_text, group) items; answer None
    = no answer; `group` numbers the question, so its answer context and its negative can be
    normalised together (`--shared-norm`). Contexts follow `mix`: shares of single sentences,
    sentence windows, paragraphs. `adv_rate`: the share of questions that also get an
    adversarial twin (`adversarial`), with the target at [CLS], read against the answer's
    own sentence (`twin_context` "sentence") or against the question's answer context, of
    whatever length `mix` drew ("window"). A twin is a group of its own."""
    items = []
    group = 0
    for art in articles:
        paras = art["paragraphs"]
        sents = [split_sentences(p["context"]) for p in paras]
        pool = set().union(*(entities(p["context"]) for p in paras)) if adv_rate else set()
        for pi, para in enumerate(paras):
            ctx = para["context"]
            ss = sents[pi]
            for qa in para["qas"]:
                if not qa.get("answers"):
                    continue
                found = locate(ctx, ss, qa)
                if found is None:
                    continue
                a0, a1, text, first, last = found
                r = rng.random()
                if r < mix[0]:
                    lo, hi = first, last
                elif r < mix[0] + mix[1]:
                    lo = max(0, first - rng.randint(0, 2))
                    hi = min(len(ss) - 1, last + rng.randint(0 if lo < first else 1, 2))
                else:
                    lo, hi = 0, len(ss) - 1
                c0, c1 = ss[lo][0], ss[hi][1]
                group += 1
                items.append((qa["question"], ctx[c0:c1], a0 - c0, text, group))
                if adv_rate and rng.random() < adv_rate:
                    if twin_context == "window":
                        sent = ctx[c0:c1]
                    else:
                        sent = ctx[ss[first][0]:ss[last][1]]
                    twin = adversarial(qa["question"], sent, text, pool, rng)
                    if twin:
                        items.append((twin, sent, None, TWIN, -group))
                if rng.random() >= neg_rate:
                    continue
                # A negative: a sentence of the same paragraph that does not hold the
                # answer (the hard case the engine meets most), else one of another
                # paragraph of the same article. Never a sentence that contains the
                # answer's text elsewhere.
                neg = None
                others = [i for i in range(len(ss)) if i < first or i > last]
                if others and rng.random() < 0.7:
                    i = rng.choice(others)
                    neg = ctx[ss[i][0]:ss[i][1]]
                elif len(paras) > 1:
                    pj = rng.randrange(len(paras) - 1)
                    pj += pj >= pi
                    oss = sents[pj]
                    i = rng.randrange(len(oss))
                    j = min(len(oss) - 1, i + (1 if rng.random() < 0.3 else 0))
                    neg = paras[pj]["context"][oss[i][0]:oss[j][1]]
                if neg and text.lower() not in neg.lower() and len(neg.strip()) > 10:
                    items.append((qa["question"], neg, None, None, group))
    return items


def encode(tok, items, max_len, stride):
    """Tokenised features with start/end token targets; [CLS] (0, 0) when the window holds
    no answer; whether it is an adversarial twin; and its question's group. A long context
    becomes overlapping windows, all in the question's group."""
    qs = [it[0].strip() for it in items]
    cs = [it[1] for it in items]
    enc = tok(qs, cs, truncation="only_second", max_length=max_len, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    feats = []
    for i, ids in enumerate(enc["input_ids"]):
        src = enc["overflow_to_sample_mapping"][i]
        _, _, a0, text, group = items[src]
        seq = enc.sequence_ids(i)
        offs = enc["offset_mapping"][i]
        s_tok = e_tok = 0
        if a0 is not None:
            a1 = a0 + len(text)
            ctx_idx = [k for k, sid in enumerate(seq) if sid == 1]
            if ctx_idx and offs[ctx_idx[0]][0] <= a0 and offs[ctx_idx[-1]][1] >= a1:
                s_tok = next(k for k in ctx_idx if offs[k][1] > a0)
                e_tok = next(k for k in reversed(ctx_idx) if offs[k][0] < a1)
        feats.append((ids, enc["token_type_ids"][i], s_tok, e_tok, text == TWIN, group))
    return feats


def batches(feats, batch, rng, grouped=False):
    """Length-bucketed batches (little padding), in random order. `grouped`: a question's
    windows (answer context, negatives, a long paragraph's overflow) share a batch, which
    then holds whole questions up to `batch` windows."""
    if grouped:
        groups = {}
        for k, f in enumerate(feats):
            groups.setdefault(f[5], []).append(k)
        units = list(groups.values())
    else:
        units = [[k] for k in range(len(feats))]
    rng.shuffle(units)
    out = []
    chunk = batch * 50
    for c in range(0, len(units), chunk):
        part = sorted(units[c:c + chunk], key=lambda u: max(len(feats[k][0]) for k in u))
        cur = []
        for u in part:
            if cur and len(cur) + len(u) > batch:
                out.append(cur)
                cur = []
            cur += u
        if cur:
            out.append(cur)
    rng.shuffle(out)
    return out


def collate(feats, idx):
    n = max(len(feats[k][0]) for k in idx)
    ids = torch.zeros(len(idx), n, dtype=torch.long)
    tt = torch.zeros(len(idx), n, dtype=torch.long)
    mask = torch.zeros(len(idx), n, dtype=torch.long)
    for r, k in enumerate(idx):
        f = feats[k]
        ids[r, :len(f[0])] = torch.tensor(f[0])
        tt[r, :len(f[1])] = torch.tensor(f[1])
        mask[r, :len(f[0])] = 1
    st = torch.tensor([feats[k][2] for k in idx])
    en = torch.tensor([feats[k][3] for k in idx])
    twin = torch.tensor([feats[k][4] for k in idx])
    group = torch.tensor([feats[k][5] for k in idx])
    return ids, tt, mask, st, en, twin, group


# --------------------------------------------------------------------------- model


def base_model(base_dir):
    """BertForQuestionAnswering with the base encoder's weights; the QA head is new."""
    config = BertConfig.from_pretrained(base_dir)
    config.architectures = ["BertForQuestionAnswering"]
    model = BertForQuestionAnswering(config)
    sd = load_file(os.path.join(base_dir, "model.safetensors"))
    sd = {("bert." + k): v.float() for k, v in sd.items()
          if not k.startswith("pooler.") and not k.endswith("position_ids")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"qa_outputs.weight", "qa_outputs.bias"}, missing
    return model


def load_init(path):
    """An earlier stage's weights: a run's final.pt, or an exported reader directory (its
    float16 model.safetensors, as shipped in models/minilm-squad), in float32 either way."""
    p = Path(path)
    if p.is_dir():
        sd = load_file(p / "model.safetensors")
        return {k: v.float() for k, v in sd.items()
                if not k.startswith("bert.pooler.") and not k.endswith("position_ids")}
    return torch.load(p, weights_only=True)


def resolve_autocast(choice):
    """"bf16" or "fp32" for the training steps. "auto" times the model's largest product both
    ways and takes bfloat16 autocast only where it is clearly faster (CPUs with AVX-512 BF16 or
    AMX: about twice; on older AVX-512 CPUs it was slower)."""
    if choice != "auto":
        return choice
    a, b = torch.randn(32 * 128, 384), torch.randn(384, 1536)

    def best(dtype):
        x, y = a.to(dtype), b.to(dtype)
        ts = []
        for _ in range(6):
            t = time.perf_counter()
            x @ y
            ts.append(time.perf_counter() - t)
        return min(ts[1:])

    try:
        fast = best(torch.bfloat16) <= 0.8 * best(torch.float32)
    except RuntimeError:
        fast = False
    return "bf16" if fast else "fp32"


def trainable(model, freeze_embeddings):
    if freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def distill_loss(teacher, out, ids, tt, mask, keep, temp):
    """KL divergence of the student's start and end distributions from the teacher's, at
    temperature `temp` (scaled by its square, as Hinton et al.), over the rows in `keep`."""
    with torch.no_grad():
        t = teacher(input_ids=ids[keep], token_type_ids=tt[keep], attention_mask=mask[keep])
    pad = mask[keep] == 0
    total = 0.0
    for s_log, t_log in ((out.start_logits[keep], t.start_logits),
                         (out.end_logits[keep], t.end_logits)):
        s_log = s_log.masked_fill(pad, -1e4) / temp
        t_log = t_log.masked_fill(pad, -1e4) / temp
        total = total + torch.nn.functional.kl_div(
            torch.log_softmax(s_log, -1), torch.log_softmax(t_log, -1),
            log_target=True, reduction="batchmean")
    return total / 2 * temp * temp


def shared_norm_loss(out, tt, mask, st, en, group):
    """Shared normalisation (Clark and Gardner, 2018): for each question whose answer window
    shares the batch with other windows of the question (its negative, a long paragraph's
    other windows), the start and end distributions are taken over the context tokens of
    all of them together, so the gold span must outscore every span of the question's other
    windows on one scale. The engine compares raw span logits across the sentences it
    reads; per-window targets alone never ask for that. Mean over such questions (None if
    none)."""
    ctx = (tt == 1) & (mask == 1)
    width = tt.shape[1]
    losses = []
    for g in torch.unique(group[(st > 0) & (group > 0)]).tolist():
        rows = (group == g).nonzero().flatten()
        if len(rows) < 2:
            continue
        # A long paragraph's windows overlap, so the answer may be in more than one: the
        # target is the probability mass on all its copies.
        at = (st[rows] > 0).nonzero().flatten()
        for logits, target in ((out.start_logits, st), (out.end_logits, en)):
            lg = logits[rows].masked_fill(~ctx[rows], -1e4).flatten()
            pos = at * width + target[rows[at]]
            losses.append(-torch.logsumexp(torch.log_softmax(lg, -1)[pos], 0))
    if not losses:
        return None
    return torch.stack(losses).sum() / (len(losses) / 2)


def save_atomic(obj, path):
    tmp = str(path) + ".tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def log(run_dir, **rec):
    rec["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(os.path.join(run_dir, "log.jsonl"), "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


def cmd_train(a):
    torch.set_num_threads(a.threads)
    run = Path(a.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    ckpt = run / "checkpoint.pt"
    hp = dict(base=str(a.base), train=str(a.train), epochs=a.epochs, lr=a.lr,
              warmup=a.warmup, batch=a.batch, max_len=a.max_len, stride=a.stride,
              mix=a.mix, neg_rate=a.neg_rate, seed=a.seed, limit=a.limit,
              freeze_embeddings=not a.train_embeddings, weight_decay=a.weight_decay,
              init=a.init, epoch_offset=a.epoch_offset, max_steps=a.max_steps,
              adv_rate=a.adv_rate, distill=a.distill, distill_weight=a.distill_weight,
              distill_temp=a.distill_temp, twin_context=a.twin_context,
              shared_norm=a.shared_norm, autocast=a.autocast)
    state = None
    if a.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        hp = state["hp"]
        print(f"resuming at epoch {state['epoch']} batch {state['batch']}", flush=True)
        if a.max_steps:
            # A run may be shortened when resumed; its schedule decays to the new end.
            hp["max_steps"] = a.max_steps
    elif ckpt.exists():
        sys.exit(f"{ckpt} exists: pass --resume to continue it, or remove {run}")
    # Settled once per run and kept in hparams.json, so a resumed run computes as it began.
    hp["autocast"] = resolve_autocast(hp.get("autocast", "fp32"))
    bf16 = hp["autocast"] == "bf16"
    (run / "hparams.json").write_text(json.dumps(hp, indent=1))

    tok = BertTokenizerFast.from_pretrained(hp["base"])
    articles = load_squad(hp["train"])
    if hp["limit"]:
        rng = random.Random(hp["seed"])
        flat = [(i, j) for i, art in enumerate(articles) for j in range(len(art["paragraphs"]))]
        rng.shuffle(flat)
        keep, n = {}, 0
        for i, j in flat:
            if n >= hp["limit"]:
                break
            keep.setdefault(i, []).append(j)
            n += len(articles[i]["paragraphs"][j]["qas"])
        articles = [dict(title=articles[i]["title"],
                         paragraphs=[articles[i]["paragraphs"][j] for j in sorted(js)])
                    for i, js in sorted(keep.items())]
    questions = sum(len(p["qas"]) for art in articles for p in art["paragraphs"])

    def epoch_data(epoch):
        # A later stage (--epoch-offset) draws other contexts and negatives than the first.
        rng = random.Random(hp["seed"] * 1000 + epoch + hp.get("epoch_offset", 0))
        items = build_examples(articles, rng, hp["mix"], hp["neg_rate"], hp.get("adv_rate", 0.0),
                               hp.get("twin_context", "sentence"))
        feats = encode(tok, items, hp["max_len"], hp["stride"])
        return items, feats, batches(feats, hp["batch"], rng, grouped=bool(hp.get("shared_norm")))

    items, feats, order = epoch_data(0)
    steps_per_epoch = len(order)
    total = steps_per_epoch * hp["epochs"]
    if hp.get("max_steps"):
        total = min(total, hp["max_steps"])
    tokens = sum(len(f[0]) for f in feats)
    neg = sum(1 for f in feats if f[2] == 0)
    print(f"{questions} questions -> {len(items)} contexts -> {len(feats)} windows "
          f"({neg} without answer), {tokens} tokens, {steps_per_epoch} steps/epoch", flush=True)

    model = base_model(hp["base"])
    if hp.get("init") and not state:
        # A second stage: the weights of an earlier run (its final.pt), fresh optimiser.
        init = load_init(hp["init"])
        missing, unexpected = model.load_state_dict(init, strict=False)
        assert not unexpected and set(missing) <= {"bert.embeddings.word_embeddings.weight"}, missing
    teacher = None
    if hp.get("distill"):
        # The teacher (an earlier run's final.pt) keeps the student's spans where they were
        # on every window but the adversarial twins, which alone teach something new.
        teacher = base_model(hp["base"])
        init = load_init(hp["distill"])
        teacher.load_state_dict(init, strict=False)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    params = trainable(model, hp["freeze_embeddings"])
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=hp["weight_decay"]),
                             dict(params=no_decay, weight_decay=0.0)], lr=hp["lr"])
    warm = max(1, int(total * hp["warmup"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    epoch, start_batch, wall = 0, 0, 0.0
    if state:
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        epoch, start_batch, wall = state["epoch"], state["batch"], state["wall"]
        torch.set_rng_state(state["torch_rng"])
        if epoch > 0:
            items, feats, order = epoch_data(epoch)
    else:
        log(run, event="start", questions=questions, contexts=len(items), windows=len(feats),
            no_answer_windows=neg, tokens=tokens, steps=total, **hp)

    def checkpoint(ep, b):
        sd = {k: v for k, v in model.state_dict().items()
              if k != "bert.embeddings.word_embeddings.weight" or not hp["freeze_embeddings"]}
        save_atomic(dict(hp=hp, model=sd, opt=opt.state_dict(), sched=sched.state_dict(),
                         epoch=ep, batch=b, wall=wall + time.time() - t0,
                         torch_rng=torch.get_rng_state()), ckpt)

    model.train()
    t0 = time.time()
    last_ckpt = t0
    seen_tok, run_loss, n_loss = 0, 0.0, 0
    while epoch < hp["epochs"]:
        for b in range(start_batch, len(order)):
            ids, tt, mask, st, en, twin, group = collate(feats, order[b])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(input_ids=ids, token_type_ids=tt, attention_mask=mask,
                            start_positions=st, end_positions=en)
                loss = out.loss
                if teacher is not None and not bool(twin.all()):
                    loss = (1 - hp["distill_weight"]) * loss + hp["distill_weight"] * distill_loss(
                        teacher, out, ids, tt, mask, ~twin, hp["distill_temp"])
                if hp.get("shared_norm"):
                    shared = shared_norm_loss(out, tt, mask, st, en, group)
                    if shared is not None:
                        loss = loss + hp["shared_norm"] * shared
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            seen_tok += int(mask.sum())
            run_loss += float(loss)
            n_loss += 1
            step = epoch * steps_per_epoch + b + 1
            if step % 50 == 0 or step == total:
                el = time.time() - t0
                log(run, event="step", step=step, of=total, epoch=epoch,
                    loss=round(run_loss / n_loss, 4), lr=sched.get_last_lr()[0],
                    tok_per_s=round(seen_tok / max(el, 1e-6)),
                    eta_min=round((total - step) * el / max(1, step - (epoch * steps_per_epoch + start_batch)) / 60, 1))
                run_loss, n_loss = 0.0, 0
            if time.time() - last_ckpt > a.checkpoint_minutes * 60:
                checkpoint(epoch, b + 1)
                last_ckpt = time.time()
            if step >= total:
                break
        if epoch * steps_per_epoch + b + 1 >= total:
            epoch = hp["epochs"]
            checkpoint(epoch, 0)
            break
        epoch += 1
        start_batch = 0
        checkpoint(epoch, 0)
        if epoch < hp["epochs"]:
            items, feats, order = epoch_data(epoch)
    wall += time.time() - t0
    torch.save({k: v for k, v in model.state_dict().items()}, run / "final.pt")
    log(run, event="done", steps=total, wall_s=round(wall))


# --------------------------------------------------------------------------- evaluation


def normalize(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(pred, gold):
    p, g = normalize(pred).split(), normalize(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    pr, rc = same / len(p), same / len(g)
    return 2 * pr * rc / (pr + rc)


def load_model_dir(d):
    tok = BertTokenizerFast.from_pretrained(d)
    model = BertForQuestionAnswering.from_pretrained(d, torch_dtype=torch.float32)
    model.eval()
    return tok, model


def span_scores(seq, start, end, max_answer):
    """The first context token and the start + end logit of every span of the context (the
    tokens whose sequence id is 1) at most `max_answer` tokens long, as a matrix [first
    token, last token] relative to it; other cells -1e9."""
    ctx = [k for k, sid in enumerate(seq) if sid == 1]
    lo, hi = ctx[0], ctx[-1]
    sc = start[lo:hi + 1][:, None] + end[lo:hi + 1][None, :]
    n = hi - lo + 1
    band = torch.triu(torch.ones(n, n, dtype=torch.bool)) & ~torch.triu(
        torch.ones(n, n, dtype=torch.bool), diagonal=max_answer)
    return lo, sc.masked_fill(~band, -1e9)


@torch.no_grad()
def predict(tok, model, question, context, max_len=384, stride=128, max_answer=30):
    enc = tok(question.strip(), context, truncation="only_second", max_length=max_len,
              stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True,
              padding=True, return_tensors="pt")
    offs = enc.pop("offset_mapping")
    enc.pop("overflow_to_sample_mapping")
    out = model(**enc)
    best = (-1e9, "", 0.0)
    for w in range(enc["input_ids"].shape[0]):
        seq = enc.sequence_ids(w)
        s, e = out.start_logits[w], out.end_logits[w]
        null = float(s[0] + e[0])
        lo, sc = span_scores(seq, s, e, max_answer)
        n = sc.shape[0]
        k = int(sc.argmax())
        i, j = lo + k // n, lo + k % n
        v = float(sc.view(-1)[k])
        if v > best[0]:
            best = (v, context[int(offs[w][i][0]):int(offs[w][j][1])], v - null)
    return best


def evaluate(model_dir, files, articles=None, answerable_only=True, limit=0):
    tok, model = load_model_dir(model_dir)
    em = f = n = 0
    t0 = time.time()
    todo = [(qa, p["context"]) for path in files for art in load_squad(path)
            if not articles or art["title"] in articles
            for p in art["paragraphs"] for qa in p["qas"]
            if qa.get("answers") or not answerable_only]
    for qa, context in todo[:limit or None]:
        golds = [x["text"] for x in qa["answers"]]
        _, pred, _ = predict(tok, model, qa["question"], context)
        em += max(float(normalize(pred) == normalize(g)) for g in golds)
        f += max(f1(pred, g) for g in golds)
        n += 1
    return dict(em=round(100 * em / max(n, 1), 2), f1=round(100 * f / max(n, 1), 2),
                questions=n, seconds=round(time.time() - t0))


CLEAN_V2 = ["Normans", "Computational_complexity_theory", "Huguenot", "Steam_engine"]


def cmd_evaluate(a):
    torch.set_num_threads(a.threads)
    res = {}
    for d in a.model:
        r = dict(part_dev=evaluate(d, [os.path.join(a.data, "dev-v1.1.part-dev.json")], limit=a.limit),
                 clean_v2=evaluate(d, [os.path.join(a.data, "dev-v2.0.half-a.json")],
                                   articles=CLEAN_V2, limit=a.limit))
        res[d] = r
        print(json.dumps({d: r}), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


# --------------------------------------------------------------------------- export


def cmd_export(a):
    run = Path(a.run_dir)
    hp = json.loads((run / "hparams.json").read_text())
    base = hp["base"]
    model = base_model(base)
    sd = torch.load(run / "final.pt", weights_only=True)
    model.load_state_dict(sd, strict=False)
    out = Path(a.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
               if not k.endswith("position_ids")}
    # rust-bert's BertForQuestionAnswering also builds a pooler the QA head never uses; its
    # weights come from the base encoder so that every tensor it looks up is present.
    base_sd = load_file(os.path.join(base, "model.safetensors"))
    for k in ("pooler.dense.weight", "pooler.dense.bias"):
        tensors["bert." + k] = base_sd[k].to(torch.float16).contiguous()
    if hp["freeze_embeddings"]:
        w = base_sd["embeddings.word_embeddings.weight"]
        assert torch.equal(tensors["bert.embeddings.word_embeddings.weight"], w.to(torch.float16))
    save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((Path(base) / "config.json").read_text())
    config.update(architectures=["BertForQuestionAnswering"], torch_dtype="float16",
                  _name_or_path="minilm-squad (from sentence-transformers/all-MiniLM-L6-v2)")
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(base) / f, tmp / f)
    scores = json.loads(Path(a.scores).read_text()) if a.scores else None
    (tmp / "MODEL_CARD.md").write_text(model_card(run, hp, scores, a))
    if scores:
        shutil.copy(a.scores, tmp / "eval.json")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    print(f"exported {out}")


def total_steps(start, hp):
    return hp.get("max_steps") or start["steps"]


def model_card(run, hp, scores, a):
    recs = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    start = next(r for r in recs if r["event"] == "start")
    done = [r for r in recs if r["event"] == "done"][-1]
    steps = [r for r in recs if r["event"] == "step"]
    mix = hp["mix"]
    lines = [
        "# minilm-squad: a small extractive QA reader with a no-answer score",
        "",
        "Generated by `models/train/train.py export` from the run's own log "
        f"(`{run.name}`); do not edit by hand.",
        "",
        "| | |",
        "|---|---|",
        "| architecture | BERT (`BertForQuestionAnswering`), 6 layers, hidden 384, 12 heads, "
        "uncased WordPiece vocab of 30,522; 22.7 M parameters |",
        "| files | `config.json`, `vocab.txt`, `model.safetensors` (float16; rust-bert 0.23 loads "
        "it into a float32 model), `tokenizer*.json` for Python tools |",
        "| base | sentence-transformers `all-MiniLM-L6-v2` (Apache-2.0), the encoder shipped in "
        "`models/all-minilm-l6-v2/` |",
        f"| training data | `{Path(hp['train']).name}`: {start['questions']:,} questions "
        f"(SQuAD v1.1 train{', limited' if hp['limit'] else ''}; CC BY-SA 4.0). No dev question. |",
        f"| contexts | per question one answer context: the answer's sentence alone ({mix[0]:.0%}), "
        f"with up to two neighbours on each side ({mix[1]:.0%}), the whole paragraph "
        f"({1 - mix[0] - mix[1]:.0%}); plus, for {hp['neg_rate']:.0%} of questions, a negative "
        "(a sentence of the same paragraph without the answer, 70%, else a sentence or two of "
        "another paragraph of the article) with its target at [CLS]: "
        f"{start['windows']:,} windows, {start['no_answer_windows']:,} without an answer, "
        f"{start['tokens']:,} tokens an epoch |",
        f"| training | {hp['epochs']} epoch(s){' (cut short by --max-steps)' if hp.get('max_steps') else ''}, "
        f"{min(total_steps(start, hp), start['steps']):,} steps of {hp['batch']} "
        f"windows (max {hp['max_len']} tokens, stride {hp['stride']}), AdamW lr {hp['lr']} "
        f"with {hp['warmup']:.0%} warm-up then linear decay, weight decay {hp['weight_decay']}, "
        f"word embeddings {'frozen (bit for bit the encoder' + chr(39) + 's)' if hp['freeze_embeddings'] else 'trained'}, "
        f"seed {hp['seed']}; CPU{', bfloat16 autocast' if hp.get('autocast') == 'bf16' else ''}, "
        f"{done['wall_s'] / 3600:.1f} h wall |",
        f"| final training loss | {steps[-1]['loss'] if steps else 'n/a'} (mean of the last 50 steps) |",
    ]
    if hp.get("init"):
        # The chain of runs, first stage first: each continued the one before (its final.pt).
        chain = [run]
        while (ihp := json.loads((chain[0] / "hparams.json").read_text())).get("init"):
            if Path(ihp["init"]).is_dir():
                break  # an exported reader: its own card lists the stages before it
            chain.insert(0, Path(ihp["init"]).parent)
        parts, wall, first = [], 0.0, 1
        card = Path(ihp.get("init") or "") / "MODEL_CARD.md"
        if ihp.get("init") and card.exists():
            # The stages before an exported reader, as its own card lists them.
            text = card.read_text()
            rows = [l for l in text.splitlines() if l.startswith("| stages | ")]
            before = rows[0][len("| stages | "):].split(". Each stage after")[0] if rows else ""
            if before:
                m = re.search(r"\(`([^`]+)`\)", text)
                parts.append(before.replace("this run", f"`{m.group(1)}`" if m else "its run"))
                wall += 3600 * sum(float(h) for h in re.findall(r"([\d.]+) h wall", before))
                first += len(re.findall(r"(?:^|; )\d+\. ", before))
        for n, r in enumerate(chain, first):
            rhp = json.loads((r / "hparams.json").read_text())
            rrecs = [json.loads(l) for l in (r / "log.jsonl").read_text().splitlines()]
            rdone = [x for x in rrecs if x["event"] == "done"][-1]
            wall += rdone["wall_s"]
            what = (f"{rhp['epochs']} epoch(s)" if not rhp.get("max_steps")
                    else f"data epoch {rhp.get('epoch_offset', 0) + 1}")
            who = "this run" if r == run else f"`{r.name}`"
            parts.append(f"{n}. {who}: {what}, {rdone['steps']:,} steps, lr {rhp['lr']}, "
                         f"{rdone['wall_s'] / 3600:.1f} h wall")
        lines.append(
            f"| stages | {'; '.join(parts)}. Each stage after the first starts from the one "
            f"before's weights with a fresh optimiser; together {wall / 3600:.1f} h on the CPU |")
    if scores:
        for n, (d, r) in enumerate(scores.items()):
            who = "this reader" if n == 0 else f"the reader it was compared with (`{d}` then)"
            lines.append(
                f"| gold paragraph, {who} | part-dev (SQuAD v1.1 dev, 24 articles, first "
                f"{r['part_dev']['questions']:,} q): EM {r['part_dev']['em']}, F1 {r['part_dev']['f1']}; "
                f"clean SQuAD 2.0 articles (Normans, Computational_complexity_theory, Huguenot, "
                f"Steam_engine; {r['clean_v2']['questions']:,} answerable q): EM {r['clean_v2']['em']}, "
                f"F1 {r['clean_v2']['f1']} (384-token windows, stride 128, best span <= 30 tokens) |")
    lines += [
        "| no-answer score | the [CLS] start+end logits: `span logit - [CLS] logit` says how "
        "much better the best span is than \"no answer here\"; the engine uses it in its "
        "fusion and abstention |",
        "| rust-bert note | the pooler (unused by the QA head) is the base encoder's, so every "
        "tensor rust-bert looks up is present. `ModelType::Bert`, `lower_case = true`. |",
        "| known weaknesses | Wikipedia questions only; the scores are logits, calibrated by the "
        "engine's fusion, not probabilities |",
        "",
        "Recipe: `models/train/README.md`.",
        "",
    ]
    return "\n".join(lines)


def main():
    root = Path(__file__).resolve().parents[2]
    cache = Path(os.environ.get("NEWSQA_CACHE", Path.home() / ".cache" / "newsqa"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fine-tune the reader (checkpoints; --resume)")
    t.add_argument("--base", default=str(root / "models/all-minilm-l6-v2"))
    t.add_argument("--train", default=str(root.parent / "shared/data/squad/train-v1.1.json"))
    t.add_argument("--run-dir", default=str(cache / "train/reader"))
    t.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--warmup", type=float, default=0.05)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--max-len", type=int, default=256)
    t.add_argument("--stride", type=int, default=96)
    t.add_argument("--mix", type=float, nargs=2, default=[0.6, 0.25],
                   help="shares of sentence-alone and sentence-window contexts (rest: paragraph)")
    t.add_argument("--neg-rate", type=float, default=0.5, help="negatives per question")
    t.add_argument("--adv-rate", type=float, default=0.0,
                   help="share of questions that also get an adversarial (unanswerable) twin")
    t.add_argument("--twin-context", choices=["sentence", "window"], default="sentence",
                   help="read a twin against the answer's sentence, or against the question's "
                        "own answer context (sentence, window or paragraph, as --mix drew)")
    t.add_argument("--shared-norm", type=float, default=0.0,
                   help="weight of a loss that normalises a question's windows together, so "
                        "its gold span outscores the spans of its negatives (0 = off)")
    t.add_argument("--distill", help="a teacher's final.pt: keep the spans near its own on "
                   "every window but the adversarial twins")
    t.add_argument("--distill-weight", type=float, default=0.5,
                   help="the teacher's share of the loss, against the targets'")
    t.add_argument("--distill-temp", type=float, default=2.0)
    t.add_argument("--seed", type=int, default=17)
    t.add_argument("--limit", type=int, default=0, help="questions to train on (0 = all)")
    t.add_argument("--train-embeddings", action="store_true",
                   help="also train the word embeddings (default: frozen, shared with the encoder)")
    t.add_argument("--init", help="start from an earlier run's final.pt or an exported reader "
                   "directory such as models/minilm-squad (a later stage)")
    t.add_argument("--epoch-offset", type=int, default=0,
                   help="data epoch to start at, so a second stage sees other contexts")
    t.add_argument("--max-steps", type=int, default=0,
                   help="stop after this many steps, the schedule decaying to them (0 = all; "
                        "may be given with --resume to shorten a run)")
    t.add_argument("--autocast", choices=["auto", "fp32", "bf16"], default="auto",
                   help="bfloat16 autocast for the steps (weights and optimiser stay float32); "
                   "auto: where this CPU multiplies bfloat16 clearly faster")
    t.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    t.add_argument("--checkpoint-minutes", type=float, default=5)
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("evaluate", help="gold-paragraph EM/F1 of model directories")
    e.add_argument("model", nargs="+")
    e.add_argument("--data", default=str(root.parent / "shared/data/squad"))
    e.add_argument("--limit", type=int, default=0)
    e.add_argument("--out")
    e.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    e.set_defaults(fn=cmd_evaluate)
    x = sub.add_parser("export", help="write the shipped model directory and its card")
    x.add_argument("--run-dir", default=str(cache / "train/reader"))
    x.add_argument("--out", required=True)
    x.add_argument("--scores", help="evaluate's --out file, for the model card")
    x.set_defaults(fn=cmd_export)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
