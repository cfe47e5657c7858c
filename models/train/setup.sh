#!/usr/bin/env bash
# Builds the training venv under the cache directory ($NEWSQA_CACHE, default ~/.cache/newsqa),
# with the pinned versions of requirements.txt. Does nothing when it is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${NEWSQA_CACHE:-$HOME/.cache/newsqa}"
venv="$cache/train-venv"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    echo "train setup: venv ready in $venv" >&2
    exit 0
fi
command -v python3 >/dev/null || { echo "train setup: needs python3 with pip and venv" >&2; exit 1; }
echo "train setup: building $venv (torch 2.4.0 and transformers 4.46.3 from PyPI, about 2.5 GB)" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$stamp"
echo "train setup: ready" >&2
