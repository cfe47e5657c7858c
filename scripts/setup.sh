#!/usr/bin/env bash
# Installs what newsqa needs to build and run, and does nothing it has done before:
#   - a CPU-only libtorch 2.4.0 (for rust-bert 0.23 / tch 0.17), assembled from PyPI wheels,
#     kept in $NEWSQA_CACHE (default ~/.cache/newsqa) and linked into the project as .libtorch;
#   - checks that the two local models shipped in models/ are present.
# Safe to run on every CI run: when the folder is already there it returns in a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${NEWSQA_CACHE:-$HOME/.cache/newsqa}"
libtorch="$cache/libtorch-2.4.0-cpu"

say() { printf 'setup: %s\n' "$*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || { say "missing '$1': $2"; exit 1; }
}

install_libtorch() {
    if [ -f "$libtorch/build-version" ] && [ -f "$libtorch/lib/libtorch_cpu.so" ]; then
        say "libtorch already in $libtorch"
        return
    fi
    need python3 "install Python 3 with pip"
    need unzip "apt-get install -y unzip"
    local wheels="$cache/wheels" tmp
    mkdir -p "$wheels"
    say "downloading the torch 2.4.0 and CUDA runtime wheels from PyPI (about 810 MB) into $wheels"
    python3 -m pip download --quiet --no-deps -d "$wheels" \
        torch==2.4.0 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105
    tmp="$(mktemp -d "$cache/libtorch.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    say "unpacking a CPU-only libtorch into $libtorch"
    mkdir -p "$tmp/out/lib"
    unzip -q "$wheels"/torch-2.4.0-*.whl 'torch/include/*' 'torch/lib/libtorch_cpu.so' \
        'torch/lib/libc10.so' 'torch/lib/libgomp*' -d "$tmp/torch"
    mv "$tmp/torch/torch/include" "$tmp/out/include"
    mv "$tmp/torch/torch/lib/"* "$tmp/out/lib/"
    unzip -q -j "$wheels"/nvidia_cuda_runtime_cu12-12.1.105-*.whl '*/libcudart.so.12' -d "$tmp/out/lib"
    unzip -q -j "$wheels"/nvidia_cuda_cupti_cu12-12.1.105-*.whl '*/libcupti.so.12' -d "$tmp/out/lib"
    # The wheel's own libtorch.so pulls in the CUDA kernels; an empty stub keeps the link CPU-only.
    echo 'int newsqa_libtorch_stub;' > "$tmp/stub.c"
    cc -shared -o "$tmp/out/lib/libtorch.so" "$tmp/stub.c"
    echo "2.4.0" > "$tmp/out/build-version"
    rm -rf "$libtorch"
    mkdir -p "$(dirname "$libtorch")"
    mv "$tmp/out" "$libtorch"
    rm -rf "$tmp"
    trap - EXIT
    say "libtorch ready ($(du -sh "$libtorch" | cut -f1))"
}

link_libtorch() {
    # .cargo/config.toml points LIBTORCH at this link, so the build finds it wherever the cache is.
    if [ "$(readlink "$root/.libtorch" 2>/dev/null)" != "$libtorch" ]; then
        ln -sfn "$libtorch" "$root/.libtorch"
    fi
}

check_models() {
    local dir
    for dir in models/minilm-squad models/all-minilm-l6-v2; do
        if [ ! -s "$root/$dir/model.safetensors" ]; then
            say "model weights missing in $dir (they ship in the repository; is this a partial clone?)"
            exit 1
        fi
    done
}

need cargo "install Rust with rustup"
install_libtorch
link_libtorch
check_models
say "ready"
