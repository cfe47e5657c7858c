#!/usr/bin/env bash
# Install what is needed, then run every test (unit, model and end-to-end), plus the
# formatting and lint checks that keep main green.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --locked --all-targets -- -D warnings
cargo test --release --locked --workspace
