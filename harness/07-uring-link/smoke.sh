#!/usr/bin/env bash
# Chapter 07 demo and lcopy on the reference: a deadline read that gets
# data and one that times out, reads cancelled (one completes first), a
# linked copy byte for byte at odd block sizes, the broken chain, and lcopy's
# command line.
# Usage: smoke.sh BUILD_DIR (holding the demo and lcopy built on the solutions)
set -eu
demo=$1/demo
lcopy=$1/lcopy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# set -e does not stop at a failing "! cmd": say it this way instead.
fails() { if "$@" >/dev/null 2>&1; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
head -c 3000000 /dev/urandom > "$tmp/f"

# Deadlines: data in time, end of file, and a writer that is too slow.
echo hello | "$demo" deadline 1000 > "$tmp/out"
grep -q 'read 6 bytes: "hello."' "$tmp/out"
grep -q 'end of file' "$tmp/out"
{ sleep 1; echo late; } | "$demo" deadline 200 > "$tmp/out"
grep -q 'timed out after 200 ms' "$tmp/out"
fails grep -q 'read' "$tmp/out"

# Cancellation: 8 reads, 2 of them on pipes with data; every CQE reaped.
"$demo" cancel 8 --ready 2 > "$tmp/out"
grep -q '^ulink_cancel_all: 8 reads ended, 0 still in flight$' "$tmp/out"
[ "$(grep -c 'Operation canceled' "$tmp/out")" -eq 6 ]
[ "$(grep -c '5 bytes "ready"' "$tmp/out")" -eq 2 ]
grep -q '^CQEs reaped: 9 (8 reads + 1 ' "$tmp/out"

# Linked copies: default, a block that does not divide the file, one pair.
"$demo" copy "$tmp/f" "$tmp/g" > "$tmp/out"
cmp "$tmp/f" "$tmp/g"
grep -q '^copied 3000000 bytes in .* MB/s' "$tmp/out"
"$demo" copy "$tmp/f" "$tmp/g" --block 1000 --pairs 3 > /dev/null
cmp "$tmp/f" "$tmp/g"
"$demo" copy "$tmp/f" "$tmp/g" --block 65536 --pairs 1 > /dev/null
cmp "$tmp/f" "$tmp/g"

# The broken chain, as FACTS.md says it: -ECANCELED, then the hardlink's stale write.
"$demo" chain > "$tmp/out"
grep -q 'write res  -125' "$tmp/out"
grep -q 'DST now holds 4096 bytes: 12 read from SRC, then 4084 stale' "$tmp/out"

# What a deadline costs: plain reads against deadline reads, medians.
head -c 65536 "$tmp/f" > "$tmp/small"
"$demo" cost "$tmp/small" 300 > "$tmp/out"
grep -q '^median: plain [0-9]* ns, deadline [0-9]* ns per read' "$tmp/out"

# Usage errors.
fails "$demo"
fails "$demo" deadline 0
fails "$demo" cancel 0
fails "$demo" cost "$tmp/missing"
fails "$demo" copy "$tmp/missing" "$tmp/h"

# Linked pairs go several to one io_uring_enter: 3 MB in 23 pairs of
# 128 KiB at 8 in flight take far fewer system calls than 46.
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
	strace -c -f -o "$tmp/strace" -e trace=io_uring_enter "$lcopy" "$tmp/f" "$tmp/g"
	calls=$(awk '$NF == "io_uring_enter" { print $4 }' "$tmp/strace")
	[ -n "$calls" ] && [ "$calls" -le 30 ]
	cmp "$tmp/f" "$tmp/g"
fi

# lcopy, like chapter 06's copy.
"$lcopy" "$tmp/f" "$tmp/g"
cmp "$tmp/f" "$tmp/g"
: > "$tmp/empty"
"$lcopy" "$tmp/empty" "$tmp/g"
[ ! -s "$tmp/g" ]
fails "$lcopy" "$tmp/f" /dev/full
"$lcopy" "$tmp/f" /dev/full 2>&1 | grep -q '^lcopy: /dev/full: No space left on device$'
fails "$lcopy" "$tmp/missing" "$tmp/h"
[ ! -e "$tmp/h" ]
fails "$lcopy" "$tmp/f" "$tmp/f"
[ "$(stat -c %s "$tmp/f")" -eq 3000000 ]   # refused before truncating
fails "$lcopy"
set +e
"$lcopy" > /dev/null 2>&1
[ $? -eq 2 ] || { echo "smoke: lcopy without arguments should exit 2" >&2; exit 1; }
