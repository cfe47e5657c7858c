#!/usr/bin/env bash
# One command from the base encoder to a shipped reader directory:
#   models/train/train.sh [--quick] [--out DIR] [--resume] [train.py train options...]
# 1. builds the venv (setup.sh), 2. trains (checkpoints every 5 min under the cache;
# --resume continues an interrupted run), 3. exports DIR (default: a new directory
# models/minilm-squad.new, never the shipped one unless named), 4. scores it against the
# gold paragraphs beside the shipped reader, 5. writes the model card from the run's log.
# Training has six stages: one epoch at lr 1e-4, then 2,000 steps of a second epoch (other
# contexts and negatives) at lr 5e-5, then 1,500 steps of a third at lr 3e-5, then 5,000
# steps (1.2 epochs) at lr 3e-5 with a quarter whole paragraphs, then 5,000 steps at lr 3e-5
# with 30% sentences with neighbours, then 4,000 steps at lr 2e-5, each from the stage
# before's weights with a fresh optimiser (about 8 h on 2 cores).
# --quick: 300 questions, one stage, minutes; its output loads in newsqa and answers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${NEWSQA_CACHE:-$HOME/.cache/newsqa}"
out="$root/models/minilm-squad.new"
run="$cache/train/reader"
quick=0
resume=()
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --out) out="$2"; shift ;;
        --run-dir) run="$2"; shift ;;
        --resume) resume=(--resume) ;;
        *) args+=("$1") ;;
    esac
    shift
done
eval_args=()
if [ "$quick" = 1 ]; then
    run="$cache/train/reader-quick"
    args=(--limit 300 --max-len 192 "${args[@]}")
    eval_args=(--limit 100)
    [ ${#resume[@]} -gt 0 ] || rm -rf "$run"
fi
"$here/setup.sh"
py="$cache/train-venv/bin/python"
export TOKENIZERS_PARALLELISM=false
if [ "$quick" = 1 ] || ! [ -f "$run/final.pt" ] || [ ${#resume[@]} -gt 0 ]; then
    "$py" "$here/train.py" train --run-dir "$run" "${resume[@]}" "${args[@]}"
fi
# stage N OPTIONS...: train run "$stage1-stageN" from the stage before's final.pt.
stage() {
    local before="$run"
    run="$stage1-stage$1"
    shift
    "$py" "$here/train.py" train --run-dir "$run" "${resume[@]}" --init "$before/final.pt" \
        "$@" "${args[@]}"
}
if [ "$quick" = 0 ]; then
    stage1="$run"
    stage 2 --epoch-offset 1 --lr 5e-5 --warmup 0.01 --max-steps 2000
    stage 3 --epoch-offset 2 --lr 3e-5 --warmup 0.01 --max-steps 1500
    stage 4 --epoch-offset 3 --lr 3e-5 --warmup 0.02 --mix 0.5 0.25 --epochs 2 --max-steps 5000
    stage 5 --epoch-offset 5 --lr 3e-5 --warmup 0.02 --mix 0.45 0.3 --epochs 2 --max-steps 5000
    stage 6 --epoch-offset 7 --lr 2e-5 --warmup 0.02 --mix 0.5 0.25 --epochs 2 --max-steps 4000
fi
"$py" "$here/train.py" export --run-dir "$run" --out "$out"
"$py" "$here/train.py" evaluate "$out" "$root/models/minilm-squad" --out "$run/scores.json" "${eval_args[@]}"
"$py" "$here/train.py" export --run-dir "$run" --out "$out" --scores "$run/scores.json"
echo "reader: $out (card: $out/MODEL_CARD.md)"
