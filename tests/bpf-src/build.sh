#!/bin/sh
# Builds the test programs: clang -O2 -g -target bpf, with the extra flags a
# source asks for on a "// bpfsim-cflags:" line (e.g. -mcpu=v3 for atomics
# that fetch). The objects are committed, so the tests never need clang;
# tests/bpf/objects_build.test.ts rebuilds them when clang is present and
# checks they are byte-identical to the committed ones.
#   sh tests/bpf-src/build.sh [OUTDIR]
set -eu
cd "$(dirname "$0")"
out=${1:-.}
for src in *.bpf.c; do
	extra=$(sed -n 's|^// bpfsim-cflags: *||p' "$src")
	# shellcheck disable=SC2086
	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -fdebug-prefix-map="$(pwd)"=. $extra -c "$src" -o "$out/${src%.c}.o"
done
