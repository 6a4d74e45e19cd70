#!/usr/bin/env bash
# Chapter 09 demo on the reference: a burst echoed by one multishot accept
# and one multishot receive per connection; a tiny buffer ring that runs dry
# (-ENOBUFS, re-armed) and a stalled reader (flow control) with every byte
# still right; 200 idle connections that cost the module no buffer; the
# server alone under strace (no accept4/recvfrom/sendto); the raw-ring
# behaviours the lesson quotes (demo mistakes); usage errors.
# Usage: smoke.sh BUILD_DIR (holding the demo built on the solutions)
set -eu
demo=$1/demo
tmp=$(mktemp -d)
srv=
trap 'if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
# set -e does not stop at a failing "! cmd": say it this way instead.
fails() {
	local rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" -ne 2 ]; then echo "smoke: should have exited 2 (got $rc): $*" >&2; exit 1; fi
}

# A burst on the defaults: one accept for all, one receive each, all echoed.
"$demo" burst > "$tmp/out"
grep -q '^echoed: 65536 bytes back to 8 clients in .* ms, every byte checked$' "$tmp/out"
grep -q '^  connections      accepted 8, closed 8, open now 0$' "$tmp/out"
grep -q '^  accept SQEs      1 armed' "$tmp/out"
grep -q '^  receive SQEs     8 armed' "$tmp/out"
grep -q '^  bytes            65536 received, 65536 sent$' "$tmp/out"
grep -q '^  buffers held     0 now$' "$tmp/out"

# A ring of 2 x 16 bytes: it runs dry, receives are re-armed, nothing lost.
"$demo" burst --bufs 2 --buf-size 16 --conns 4 --msgs 4 --size 2048 > "$tmp/out"
grep -q '^echoed: 32768 bytes back to 4 clients' "$tmp/out"
n=$(awk '/^  -ENOBUFS/ { print $2 }' "$tmp/out")
r=$(awk '/^  receive SQEs/ { print $3 }' "$tmp/out")
[ "$n" -gt 0 ] && [ "$r" -gt 4 ]

# A client that does not read: the others are served, then it is too.
"$demo" burst --conns 4 --msgs 64 --size 32768 --bufs 64 --buf-size 1024 --stall --unix > "$tmp/out"
grep -q '^the others are done; client 0 has sent [0-9]* bytes and read none' "$tmp/out"
grep -q '^echoed: 8388608 bytes back to 4 clients' "$tmp/out"
grep -q '^  buffers held     0 now$' "$tmp/out"

# Idle connections: one accept, one receive each, no buffer held, little heap.
"$demo" idle 200 > "$tmp/out"
grep -q '^accepted 200 with 1 accept SQE(s), 200 receive SQEs armed, 0 buffers held$' "$tmp/out"
per=$(awk '/^per idle connection:/ { print $4 }' "$tmp/out")
[ "$per" -lt 512 ]

# The server alone under strace: io_uring_enter, never accept4/recvfrom/sendto.
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
	strace -f -c -o "$tmp/strace" -e trace=io_uring_enter,accept4,recvfrom,sendto \
		"$demo" serve --port 0 > "$tmp/serve" &
	srv=$!
	for _ in $(seq 50); do grep -q '^listening on' "$tmp/serve" 2>/dev/null && break; sleep 0.1; done
	port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (pid \([0-9]*\).*/\1/p' "$tmp/serve")
	pid=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (pid \([0-9]*\).*/\2/p' "$tmp/serve")
	"$demo" clients "$port" --conns 8 --msgs 100 > "$tmp/out"
	grep -q '^echoed: 409600 bytes back to 8 clients' "$tmp/out"
	kill -INT "$pid"
	wait "$srv"
	srv=
	grep -q '^  bytes            409600 received, 409600 sent$' "$tmp/serve"
	grep -q ' io_uring_enter$' "$tmp/strace"
	! grep -q ' accept4$\| recvfrom$\| sendto$' "$tmp/strace" || { echo "smoke: the server made socket calls" >&2; exit 1; }
fi

# The raw-ring behaviours, as the lesson quotes them.
"$demo" mistakes > "$tmp/out"
[ "$(grep -c '^    accept CQE res [0-9]* (a new socket)  flags F_MORE$' "$tmp/out")" -eq 3 ]
[ "$(grep -c 'res   16  *flags F_BUFFER F_MORE  buffer [0-3]$' "$tmp/out")" -ge 8 ]
grep -q 'res -105 No buffer space available flags -  *(flags >> 16 = 0' "$tmp/out"
grep -q '^    10 of 10 ended with -ENOBUFS at once$' "$tmp/out"
grep -q '^    none: the request is still armed$' "$tmp/out"
grep -q 'res    5  *flags F_BUFFER F_MORE  buffer 0$' "$tmp/out"
grep -q '^  the client reads: end of file: the socket is really closed now$' "$tmp/out"
grep -q '^    SINGLE_ISSUER | DEFER_TASKRUN  *ok$' "$tmp/out"
grep -q '^    a flag this kernel does not know (1 << 30)  *Invalid argument$' "$tmp/out"

# Usage errors: exit status 2 and a message.
fails "$demo"
fails "$demo" bogus
fails "$demo" burst --conns 0
fails "$demo" burst --stall --conns 1
fails "$demo" burst --fast
fails "$demo" idle
fails "$demo" idle abc
fails "$demo" serve
fails "$demo" serve --port 1 --unix "$tmp/x.sock"
fails "$demo" serve --port 99999
fails "$demo" clients
fails "$demo" clients 7 --bufs 4
fails "$demo" mistakes extra
# A size the contract refuses: uecho_open's -EINVAL, exit status 1.
if "$demo" burst --bufs 3 > /dev/null 2> "$tmp/err"; then echo "smoke: --bufs 3 worked" >&2; exit 1; fi
grep -q 'uecho_open: Invalid argument' "$tmp/err"
echo "smoke: chapter 09 demo as the lesson says"
