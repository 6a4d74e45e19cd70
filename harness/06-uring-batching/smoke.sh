#!/usr/bin/env bash
# Chapter 06 demo and copy program on the reference: whole-file and random
# reads at several depths, a ring smaller than qd, signals during the waits,
# the batch counted by strace (if installed), copy byte for byte and into
# /dev/full.
# Usage: smoke.sh BUILD_DIR (holding the demo and copy built on the solutions)
set -eu
demo=$1/demo
copy=$1/copy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# set -e does not stop at a failing "! cmd": say it this way instead.
fails() { if "$@" 2>/dev/null; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
head -c 1048576 /dev/urandom > "$tmp/f"       # 256 blocks of 4 KiB

for qd in 1 32; do
	"$demo" --qd $qd "$tmp/f" > "$tmp/out"
	grep -q "^ring: .* qd $qd -> window $qd$" "$tmp/out"
	grep -q "^sequential reads of 4096 bytes: 256 in 1 ubatch_read calls" "$tmp/out"
	fails grep -q "failed reads\|short reads" "$tmp/out"
done
# A ring of 2 SQ entries (4 CQ entries) at qd 8: the window is the CQ size.
"$demo" --qd 8 --entries 2 "$tmp/f" > "$tmp/out"
grep -q "^ring: 2 SQ entries, 4 CQ entries; qd 8 -> window 4$" "$tmp/out"
grep -q "reads of 4096 bytes: 256 in" "$tmp/out"
# SIGALRM every 200 us (no SA_RESTART) while 5000 random reads run.
"$demo" --qd 16 --random 5000 --signals 200 "$tmp/f" > "$tmp/out"
grep -q "^random reads of 4096 bytes: 5000 in" "$tmp/out"
grep -q "SIGALRM delivered during the run" "$tmp/out"
# Odd block size: the last read is short at end of file, not an error.
"$demo" --qd 4 --bs 1000 "$tmp/f" > "$tmp/out"
grep -q "^sequential reads of 1000 bytes: 1049 in" "$tmp/out"
# Usage errors.
fails "$demo"
fails "$demo" --qd 0 "$tmp/f"
fails "$demo" "$tmp/missing"

# The batch, counted: 256 cached reads at qd 32 in a handful of io_uring_enter.
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
	strace -c -f -o "$tmp/strace" -e trace=io_uring_enter "$demo" --qd 32 "$tmp/f" > /dev/null
	calls=$(awk '$NF == "io_uring_enter" { print $4 }' "$tmp/strace")
	[ -n "$calls" ] && [ "$calls" -le 18 ]
fi

# The copy program.
"$copy" "$tmp/f" "$tmp/g"
cmp "$tmp/f" "$tmp/g"
: > "$tmp/empty"
"$copy" "$tmp/empty" "$tmp/g"
[ ! -s "$tmp/g" ]
fails "$copy" "$tmp/f" /dev/full
fails "$copy" "$tmp/missing" "$tmp/h"
[ ! -e "$tmp/h" ]
fails "$copy"
