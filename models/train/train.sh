#!/usr/bin/env bash
# One command from the base encoder to a shipped reader directory:
#   models/train/train.sh [--quick] [--out DIR] [--resume] [train.py train options...]
# 1. builds the venv (setup.sh), 2. trains (checkpoints every 5 min under the cache;
# --resume continues an interrupted run), 3. exports DIR (default: a new directory
# models/minilm-squad.new, never the shipped one unless named), 4. scores it against the
# gold paragraphs beside the shipped reader, 5. writes the model card from the run's log.
# --quick: 300 questions, minutes; its output loads in newsqa and answers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${NEWSQA_CACHE:-$HOME/.cache/newsqa}"
out="$root/models/minilm-squad.new"
run="$cache/train/reader"
quick=0
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --out) out="$2"; shift ;;
        --run-dir) run="$2"; shift ;;
        *) args+=("$1") ;;
    esac
    shift
done
eval_args=()
if [ "$quick" = 1 ]; then
    run="$cache/train/reader-quick"
    args=(--limit 300 --max-len 192 "${args[@]}")
    eval_args=(--limit 100)
    case " ${args[*]} " in *" --resume "*) ;; *) rm -rf "$run" ;; esac
fi
"$here/setup.sh"
py="$cache/train-venv/bin/python"
export TOKENIZERS_PARALLELISM=false
"$py" "$here/train.py" train --run-dir "$run" "${args[@]}"
"$py" "$here/train.py" export --run-dir "$run" --out "$out"
"$py" "$here/train.py" evaluate "$out" "$root/models/minilm-squad" --out "$run/scores.json" "${eval_args[@]}"
"$py" "$here/train.py" export --run-dir "$run" --out "$out" --scores "$run/scores.json"
echo "reader: $out (card: $out/MODEL_CARD.md)"
