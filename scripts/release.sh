#!/usr/bin/env bash
# Builds the one-file release of underhood for workshops: a static x86_64 binary
# (glibc, static-pie: no loader, no shared library, nothing else to install), with
# the lessons and the rootfs skeleton compiled in, and prints its sha256.
#
#   scripts/release.sh            # -> dist/underhood-<version>-x86_64-linux
#
# Static glibc comes from the same toolchain as the default build (no musl target to
# download): `-C target-feature=+crt-static` with an explicit --target, so build
# scripts and proc macros stay dynamic (they run on this machine, not in the release).
# `--version` names the commit it was built from.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(uname -m)
[ "$arch" = x86_64 ] || {
    echo "release.sh: builds the x86_64 release; this machine is $arch (use cargo build --release)" >&2
    exit 2
}
target=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-target}/release-static

RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" --target-dir "$target_dir"

bin=$target_dir/$target/release/underhood
# Static or nothing: a release that needs the build machine's libraries would fail on
# the laptops it is meant for.
if ! file -b "$bin" | grep -Eq 'static(-pie)? linked'; then
    echo "release.sh: $bin is not statically linked: $(file -b "$bin")" >&2
    exit 1
fi
version=$("$bin" --version | awk '{print $2}')
mkdir -p dist
out=dist/underhood-$version-$arch-linux
cp "$bin" "$out"
strip "$out" 2>/dev/null || true
chmod 755 "$out"
"$out" --version
(cd dist && sha256sum "$(basename "$out")" | tee "$(basename "$out").sha256")
echo "release: $out ($(du -h "$out" | cut -f1))"
