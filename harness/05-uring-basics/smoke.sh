#!/usr/bin/env bash
# Chapter 05 demo on the reference: a cat through io_uring (files byte for
# byte, several files, stdin, a pipe in pieces), the feature report, errors;
# and the lesson's raw_ring (no liburing) printing a file byte for byte.
# Usage: smoke.sh BUILD_DIR (holding demo and raw_ring built on the solutions)
set -eu
# `! cmd` does not stop a set -e script when cmd succeeds: say it plainly.
fails() { if "$@" 2>/dev/null; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
demo=$1/demo
raw=$1/raw_ring
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 300007 /dev/urandom > "$tmp/a"
head -c 4097 /dev/urandom > "$tmp/b"
: > "$tmp/empty"

# cat: byte for byte, odd buffer sizes, several files in order
"$demo" "$tmp/a" | cmp - "$tmp/a"
"$demo" -b 7 "$tmp/b" | cmp - "$tmp/b"
"$demo" -b 4k "$tmp/a" "$tmp/empty" "$tmp/b" > "$tmp/out"
cat "$tmp/a" "$tmp/empty" "$tmp/b" | cmp - "$tmp/out"
# stdin (offset -1), from a file and from a pipe written in pieces
"$demo" - < "$tmp/b" | cmp - "$tmp/b"
(head -c 1000 "$tmp/a"; sleep 0.05; tail -c +1001 "$tmp/a") | "$demo" | cmp - "$tmp/a"
# a missing file: reported, the others still copied, exit status 1
if "$demo" "$tmp/b" "$tmp/missing" "$tmp/b" > "$tmp/out" 2> "$tmp/err"; then
	echo "demo exited 0 with a missing file" >&2
	exit 1
fi
grep -q "missing" "$tmp/err"
cat "$tmp/b" "$tmp/b" | cmp - "$tmp/out"
# bad usage: exit status 2
set +e
"$demo" -b 0 "$tmp/b" > /dev/null 2>&1
[ $? -eq 2 ] || { echo "demo -b 0 did not exit 2" >&2; exit 1; }
set -e

# --features: one NAME yes|no line per listed feature and opcode
"$demo" --features > "$tmp/report"
grep -Eq '^IORING_OP_READ[[:space:]]+yes' "$tmp/report"
grep -Eq '^IORING_OP_NOP[[:space:]]+yes' "$tmp/report"
grep -Eq '^IORING_FEAT_NODROP[[:space:]]+(yes|no)' "$tmp/report"
[ "$(grep -Ec '^IORING_[A-Z0-9_]+[[:space:]]+(yes|no)' "$tmp/report")" -eq 31 ]

# the raw ring: no liburing, same bytes
"$raw" -b 3000 "$tmp/a" | cmp - "$tmp/a"
"$raw" "$tmp/empty" | cmp - "$tmp/empty"
"$raw" -v -b 1000 "$tmp/b" 2> "$tmp/trace" | cmp - "$tmp/b"
grep -q "enter(to_submit=1, min_complete=1)" "$tmp/trace"
fails "$raw" "$tmp/missing"
