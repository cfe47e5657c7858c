#!/usr/bin/env bash
# Side-by-side benchmark: newsqa eval and the Haystack reference on the same SQuAD questions,
# one right after the other on this machine, then a bulk ingest of the BBC corpus.
# Needs ../shared (data, Haystack script) and, for the reference, the Haystack venv described
# in ../shared/tools/haystack/README.md (HAYSTACK_PY to point elsewhere).
# Usage: scripts/bench.sh [LIMIT]   (default 500 questions)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
limit="${1:-500}"
shared="${NEWSQA_SHARED:-../shared}"
squad="$shared/data/squad/dev-v1.1.part-dev.json"
haystack_py="${HAYSTACK_PY:-$HOME/haystack-venv/bin/python}"
scripts/setup.sh
cargo build --release --locked --bin newsqa
newsqa=target/release/newsqa
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== newsqa eval ($limit questions of $squad)"
/usr/bin/time -f "peak RSS %M KB, wall %e s" "$newsqa" --index "$work/squad" eval "$squad" --limit "$limit" --json
if [ -x "$haystack_py" ]; then
    echo "== Haystack 2 reference, same file and limit"
    HF_HUB_OFFLINE=1 /usr/bin/time -f "peak RSS %M KB, wall %e s" "$haystack_py" \
        "$shared/tools/haystack/haystack_qa.py" models/minilm-squad "$squad" --limit "$limit"
    echo "== newsqa eval again, after the reference (the machines are noisy)"
    "$newsqa" --index "$work/squad" eval "$squad" --limit "$limit" --json --no-ingest
else
    echo "(no Haystack venv at $haystack_py: reference skipped)"
fi
echo "== bulk ingest of the BBC corpus"
/usr/bin/time -f "peak RSS %M KB, wall %e s" "$newsqa" --index "$work/bbc" ingest "$shared/data/news/bbc"
