#!/usr/bin/env bash
# Chapter 04 demo on the reference: clients against the in-process server
# (plain, slow reader with hang-ups, pipelined), the labs, and the server
# program driven by the demo over TCP and a unix socket.
# Usage: smoke.sh BUILD_DIR (holding demo and server built on the solutions)
set -eu
demo=$1/demo
server=$1/server
# The file lives beside the build (a disk filesystem: the labs use O_DIRECT).
tmp=$(mktemp -d "$1/smoke.XXXXXX")
# A unix socket path must fit in 108 bytes: keep it short.
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/ch04.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
	rm -rf "$tmp" "$sockdir"
}
trap cleanup EXIT
trap 'echo "smoke.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
head -c 4194304 /dev/urandom > "$tmp/data"

"$demo" --clients 4 --requests 16 --seed 1 "$tmp/data" > "$tmp/out"
grep -q "4 clients x 16 requests: 64 replies right, 0 wrong" "$tmp/out"
"$demo" --slow --hangup --pipeline --clients 3 --requests 8 --seed 2 "$tmp/data" > "$tmp/out"
grep -q "24 replies right, 0 wrong" "$tmp/out"
grep -q "^slow client 0 finished" "$tmp/out"
! "$demo" 2>/dev/null
! "$demo" "$tmp/missing" 2>/dev/null

"$demo" --lab counter | grep -q "read (returns the sum and resets to 0)       -> 6"
"$demo" --lab semaphore | grep -c -- "-> 1$" | grep -q 3
"$demo" --lab overflow | grep -q "2^64-1 (never a valid value)           -> -1, EINVAL"
"$demo" --lab level-edge | grep -q "epoll_wait #2, nothing read:   LT reports 1, ET reports 0"
"$demo" --lab bridge "$tmp/data" | grep -q "read counter -> 4; io_getevents(min_nr 0) -> 4"
"$demo" --lab regular-file "$tmp/data" | grep -q "epoll_ctl(ADD) of the regular file           -> -1, EPERM"

# The program: ready line (waited for up to 60 s: a loaded machine is slow to
# start it), demo clients, SIGTERM -> 0 (killed by PID only).
"$server" --file "$tmp/data" --port 0 --qd 8 > "$tmp/line" &
pid=$!
for _ in $(seq 3000); do grep -qs '^listening on ' "$tmp/line" && break; sleep 0.02; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/line")
[ -n "$port" ]
"$demo" --port "$port" --clients 6 --requests 10 --seed 3 "$tmp/data" | grep -q "60 replies right, 0 wrong"
kill -TERM "$pid"
wait "$pid"
pid=

"$server" --file "$tmp/data" --unix "$sockdir/sock" > "$tmp/line" &
pid=$!
for _ in $(seq 3000); do grep -qs '^listening on ' "$tmp/line" && break; sleep 0.02; done
grep -qx "listening on unix:$sockdir/sock" "$tmp/line"
"$demo" --unix "$sockdir/sock" --clients 3 --requests 10 --slow --seed 4 "$tmp/data" | grep -q "30 replies right, 0 wrong"
kill -INT "$pid"
wait "$pid"
pid=
[ ! -e "$sockdir/sock" ]
