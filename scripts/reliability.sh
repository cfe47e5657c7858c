#!/usr/bin/env bash
# The long versions of the reliability checks (issue 12; BENCHMARKS.md, "Reliability"). The
# test suite runs a short version of each; this prints the figures.
#
#   scripts/reliability.sh [props|load|soak|crash]...   (default: all four)
#
#   props  the property tests with 20,000 cases each (PROPTEST_CASES to change)
#   load   50 /ask at once from two servers, then 200 over 20 s, through the fake Discord:
#          acknowledgement times, p50/p95/p99, throughput, busy count, the bot's peak RSS
#   soak   10,000 questions against the BBC corpus through the bot's backend, RSS every
#          1,000 (SOAK_QUESTIONS to change)
#   crash  a bulk ingest of the BBC corpus killed with SIGKILL at five random moments: after
#          each kill, every article it reported is searchable and `newsqa check` passes; a
#          last ingest completes the corpus with no duplicates
#
# Needs what scripts/test.sh sets up (libtorch, a release build) and ../shared/data/news/bbc.
# The BBC index for soak is built once into $NEWSQA_CACHE/bbc-index (about 7 minutes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
cache="${NEWSQA_CACHE:-$HOME/.cache/newsqa}"
bbc="$root/../shared/data/news/bbc"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(props load soak crash)

cargo build --release --locked --bin newsqa
newsqa="$root/target/release/newsqa"

props() {
    echo "== property tests, ${PROPTEST_CASES:-20000} cases each"
    export PROPTEST_CASES="${PROPTEST_CASES:-20000}"
    cargo test --release --locked -p newsqa-index --test props
    cargo test --release --locked -p newsqa-web --test props
    cargo test --release --locked -p newsqa --lib any_question_is_analysed
}

load() {
    echo "== load"
    cargo test --release --locked --test cli load_benchmark -- --ignored --nocapture 2>&1 |
        grep -E "^(load|bot Vm)|test result"
}

soak() {
    echo "== soak"
    local index="$cache/bbc-index"
    if ! [ -f "$index/meta.json" ]; then
        "$newsqa" --index "$index" ingest "$bbc" | tail -1
    fi
    cargo bench --locked --bench soak -- "$index" "${SOAK_QUESTIONS:-10000}"
}

crash() {
    echo "== crash: a BBC ingest killed with SIGKILL at five random moments"
    local dir
    dir="$(mktemp -d)"
    trap 'rm -rf "$dir"' RETURN
    local index="$dir/index"
    for round in 1 2 3 4 5; do
        local wait=$((RANDOM % 40 + 5))
        "$newsqa" --index "$index" ingest --json "$bbc" >"$dir/out-$round.jsonl" 2>/dev/null &
        local pid=$!
        sleep "$wait"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
        else
            wait "$pid" 2>/dev/null || true
            echo "round $round: the ingest finished before the kill at ${wait} s"
        fi
        "$newsqa" --index "$index" check >"$dir/check-$round.txt" || {
            cat "$dir/check-$round.txt"
            echo "round $round: the index does not add up" >&2
            return 1
        }
        "$newsqa" --index "$index" articles --json >"$dir/articles-$round.json"
        python3 - "$dir/out-$round.jsonl" "$dir/articles-$round.json" "$round" "$wait" <<'EOF'
import json, sys
out, listed, round_, wait = sys.argv[1:]
reported = set()
for line in open(out):
    try:
        v = json.loads(line)
    except ValueError:
        continue  # the line the kill cut short
    if v.get("ok"):
        reported.add(v["article"]["id"])
ids = {a["id"] for a in json.load(open(listed))}
lost = reported - ids
print(f"round {round_}: killed after {wait} s; {len(reported)} articles reported this round, "
      f"{len(ids)} in the index, {len(lost)} reported but missing; check ok")
sys.exit(1 if lost else 0)
EOF
    done
    "$newsqa" --index "$index" ingest "$bbc" | tail -1
    "$newsqa" --index "$index" check
    "$newsqa" --index "$index" articles --json | python3 -c '
import json, sys
ids = [a["id"] for a in json.load(sys.stdin)]
dups = len(ids) - len(set(ids))
print(f"after the last ingest: {len(ids)} articles, {dups} duplicates")
sys.exit(1 if dups else 0)'
}

for part in "${parts[@]}"; do
    case "$part" in
        props | load | soak | crash) "$part" ;;
        *) echo "unknown part: $part (props, load, soak, crash)" >&2; exit 2 ;;
    esac
done
