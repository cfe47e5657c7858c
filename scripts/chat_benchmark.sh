#!/usr/bin/env bash
# How newsqa answers members the way they write in chat, side by side with a baseline
# binary, in one run (BENCHMARKS.md, "Chat-phrased questions, follow-ups and yes/no"):
#
#   scripts/chat_benchmark.sh [BASE_BINARY] [SPLIT]
#
# - the news set clean and chat-phrased (tests/data/news-questions.jsonl, news-chat.jsonl):
#   F1 and answered share of the answerable questions, abstentions of the unanswerable;
# - the conversations (news-conversations.jsonl): first and later turns, each with and
#   without the conversation;
# - the yes/no questions (news-yesno.jsonl): sentences given, the expected one cited;
# - SQuAD part-dev (first 1,000 questions) and the seed questions, which must not fall.
#
# SPLIT is the news sets' split (default test: never tuned on). BASE_BINARY (an older
# `newsqa`) is run on the same index and questions where it can read the file. The BBC
# corpus is ingested once into $NEWSQA_BENCH_DIR (default /tmp/newsqa-chat-bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
new="target/release/newsqa"
base="${1:-}"
split="${2:-test}"
dir="${NEWSQA_BENCH_DIR:-/tmp/newsqa-chat-bench}"
bbc="../shared/data/news/bbc"
squad="../shared/data/squad/dev-v1.1.part-dev.json"
mkdir -p "$dir"
[ -x "$new" ] || cargo build --release --locked --bin newsqa

if [ ! -d "$dir/bbc" ]; then
    echo "ingesting the BBC corpus into $dir/bbc" >&2
    "$new" --index "$dir/bbc" ingest "$bbc" >/dev/null
fi

eval_json() { # BINARY FILE [ARGS...]
    local bin="$1" file="$2"
    shift 2
    "$bin" --index "$dir/bbc" eval "$file" --corpus "$bbc" --split "$split" --no-ingest --json "$@" 2>/dev/null
}

report() { # NAME JSON
    python3 - "$1" "$2" <<'EOF'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
out = [name]
if r.get("questions") and not r.get("by_kind"):
    out.append("EM / F1 %.2f / %.2f; answered %d of %d; never abstaining %.2f / %.2f; p50 %.1f ms, p95 %.1f ms"
               % (r["em"], r["f1"], r["answered"], r["questions"], r["em_no_abstain"], r["f1_no_abstain"], r["p50_ms"], r["p95_ms"]))
elif r.get("questions"):
    k = r.get("by_kind", {}).get("answerable", {})
    un = r["unanswerable"]
    out.append("answerable F1 %.2f, answered %d/%d (%.1f%%); unanswerable abstained %d/%d; p50 %.1f ms, p95 %.1f ms"
               % (r["f1"], k.get("answered", 0), k.get("questions", 0),
                  100 * k.get("answered", 0) / max(1, k.get("questions", 1)),
                  r["unanswerable_abstained"], un, r["p50_ms"], r["p95_ms"]))
    kinds = ", ".join("%s %d/%d" % (n, v["questions"] - v["answered"], v["questions"])
                      for n, v in r.get("by_kind", {}).items() if n != "answerable")
    if kinds:
        out.append("  abstained by kind: " + kinds)
c = r.get("conversations")
if c:
    for n in ["first", "first_after_another", "later", "later_alone"]:
        t = c[n]
        out.append("  %-20s %3d questions, answered %3d, EM / F1 %.2f / %.2f" % (n, t["questions"], t["answered"], t["em"], t["f1"]))
y = r.get("yes_no")
if y:
    out.append("  decided %d: given a sentence %d, the expected one %d (%.1f%%); verdicts %d; undecided %d, abstained %d"
               % (y["decided"], y["given_a_sentence"], y["cited_right"], y["cited_right_pct"], y["verdicts"], y["undecided"], y["undecided_abstained"]))
print("\n".join(out))
EOF
}

binaries=("$new")
[ -n "$base" ] && binaries+=("$base")
echo "split: $split; new: $new ($(git rev-parse --short HEAD))${base:+; base: $base}"
for bin in "${binaries[@]}"; do
    echo "== $bin"
    for set in news-questions news-chat; do
        report "$set" "$(eval_json "$bin" "tests/data/$set.jsonl")"
    done
    if [ "$bin" = "$new" ]; then
        for set in news-conversations news-yesno; do
            report "$set" "$(eval_json "$bin" "tests/data/$set.jsonl")"
        done
    fi
    rm -rf "$dir/squad"
    report "squad part-dev 1000" "$("$bin" --index "$dir/squad" eval "$squad" --limit 1000 --json 2>/dev/null)"
    seed=0
    total=0
    while IFS= read -r line; do
        q="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["question"])' "$line")"
        got="$("$bin" --index "$dir/seed" ask --json "$q" 2>/dev/null || true)"
        if [ -z "$got" ]; then
            "$bin" --index "$dir/seed" ingest tests/data/seed-article.txt >/dev/null
            got="$("$bin" --index "$dir/seed" ask --json "$q")"
        fi
        total=$((total + 1))
        seed=$((seed + $(python3 -c '
import json, sys
want, got = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if not want["answers"]:
    print(int(got["answer"] is None))
else:
    print(int(got["answer"] in want["answers"] and got["citation"] == want["citation"]))
' "$line" "$got")))
    done < tests/data/seed-questions.jsonl
    echo "seed questions: $seed of $total with the expected answer and citation (or abstention)"
    rm -rf "$dir/seed"
done
