#!/usr/bin/env bash
# Chapter 03 demo and tour on the reference: the same bytes as cksum through
# POSIX aio and through the pool, random reads, the pipe lab, the lesson's tour.
# Usage: smoke.sh BUILD_DIR (holding the demo and tour built on the solutions)
set -eu
# `! cmd` does not stop a set -e script when cmd succeeds: say it plainly.
fails() { if "$@" 2>/dev/null; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
demo=$1/demo
tour=$1/tour
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 1000003 /dev/urandom > "$tmp/src"
want=$(cksum < "$tmp/src" | awk '{ print $1, $2 }')
# File mode prints "... cksum CRC LENGTH" on its first line.
for args in "--qd 8 --bs 4096" "--qd 1" "--pool 4 --qd 8 --bs 1000" "--fds 3 --qd 6 --bs 7000"; do
	out=$("$demo" $args "$tmp/src")
	got=$(printf '%s\n' "$out" | sed -n '1s/.*cksum \([0-9]* [0-9]*\).*/\1/p')
	[ "$got" = "$want" ] || { echo "demo $args: cksum '$got', expected '$want'" >&2; exit 1; }
done
"$demo" --random 500 --qd 16 "$tmp/src" | grep -q "IOPS"
"$demo" --random 500 --qd 16 --pool 8 "$tmp/src" | grep -q "IOPS"
"$demo" --pipes 8 --qd 8 | grep -q "8 reads on 8 pipes"
"$demo" --pipes 8 --pool 4 --one-pipe | grep -q "8 reads on 1 pipe"
fails "$demo" "$tmp/missing"
fails "$demo"
fails "$demo" --qd 0 "$tmp/src"
"$tour" all > "$tmp/tour.out" || { cat "$tmp/tour.out" >&2; exit 1; }
grep -q "everything as the lesson says" "$tmp/tour.out"
