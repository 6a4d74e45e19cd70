#!/usr/bin/env bash
# Chapter 01 demo on the reference: cat, copy and random reads behave.
# Usage: smoke.sh BUILD_DIR (holding the demo built on the solutions)
set -eu
# `! cmd` does not stop a set -e script when cmd succeeds: say it plainly.
fails() { if "$@" 2>/dev/null; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
demo=$1/demo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 100003 /dev/urandom > "$tmp/src"
"$demo" -b 7 "$tmp/src" "$tmp/src" > "$tmp/cat"
cat "$tmp/src" "$tmp/src" | cmp - "$tmp/cat"
"$demo" -c -b 4096 "$tmp/src" "$tmp/copy" 2>/dev/null
cmp "$tmp/src" "$tmp/copy"
"$demo" -r 100 "$tmp/src" | grep -q "reads/s (0 failed or short)"
fails "$demo" "$tmp/missing"
fails "$demo"
