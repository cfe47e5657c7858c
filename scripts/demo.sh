#!/usr/bin/env bash
# The main job, from a fresh clone: install what is needed, build, ingest the seed article
# into a throw-away index and ask it the question the bot exists for.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
cargo build --release --locked --bin newsqa
index="$(mktemp -d)"
trap 'rm -rf "$index"' EXIT
newsqa=target/release/newsqa
"$newsqa" --index "$index" ingest tests/data/seed-article.txt
echo
echo '$ newsqa ask "Which agency is exempted from the order?"'
"$newsqa" --index "$index" ask "Which agency is exempted from the order?"
