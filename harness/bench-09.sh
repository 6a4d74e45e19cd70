#!/usr/bin/env bash
# harness/bench-09.sh - make bench CH=09: chapter 09's io_uring echo server
# beside a plain epoll echo server, under the same loads, in one run, as ratios.
#
#   make bench CH=09 [IMPL=solutions] [ECHO_SERVER=path] [BENCH_SECONDS=2]
#                    [BENCH_REPEAT=3] [BENCH_LOADS="1x64x1 16x64x1 256x64x1 64x64x8 8x65536x2"]
#
# The io_uring server is IMPL's program (build/<impl>/09-uring-multishot/
# echo-server, built by the chapter's build), or ECHO_SERVER=path for any
# program with the same command line. The epoll server
# (chapters/09-uring-multishot/epoll-echo.c) and the load client (loadgen.c)
# are built here. Each load is CONNSxBYTESxDEPTH. For every load, REPEAT
# rounds, each running both servers one after the other (the order swapped
# every round, so a drift of the machine hits both alike), each server fresh
# on a free loopback port; printed: the medians, and the median of each
# round's ratio io_uring / epoll. The load client shares the machine with the
# server: on 2 CPUs, one each, roughly, and anything else running takes from
# both. Exit status 1 if a run failed (a wrong echo, a crash, a server that
# did not stop on SIGTERM with status 0), 2 if nothing could be built.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The reference by default; the learner's own code in the student edition.
IMPL=${IMPL:-$([ -d "$ROOT/solutions" ] && echo solutions || echo exercises)}
SECS=${BENCH_SECONDS:-2}
REPEAT=${BENCH_REPEAT:-3}
LOADS=${BENCH_LOADS:-1x64x1 16x64x1 256x64x1 64x64x8 8x65536x2}
TICKS=$(getconf CLK_TCK)
CHAPTER=09-uring-multishot
CH_DIR=$ROOT/chapters/$CHAPTER
TOOLS=$ROOT/build/bench/09
CC=${CC:-cc}

. "$ROOT/harness/common.sh"

die() { echo "bench: $*" >&2; exit 2; }

# The two tools do not depend on the implementation graded: built once per
# tree, here, with the course's warnings.
build_tool() {
	local name=$1
	"$CC" -std=gnu11 -O2 -g -Wall -Wextra -U_FORTIFY_SOURCE -I"$CH_DIR" \
		-o "$TOOLS/$name" "$CH_DIR/$name.c" \
		$(pkg-config --libs liburing 2>/dev/null || echo -luring) ||
		die "cannot build $name (make deps installs liburing)"
}
mkdir -p "$TOOLS" || die "cannot create $TOOLS"
build_tool epoll-echo
build_tool loadgen
EPOLL=$TOOLS/epoll-echo
LOADGEN=$TOOLS/loadgen

# The io_uring server: ECHO_SERVER, or the chapter's program of IMPL.
if [ -n "${ECHO_SERVER:-}" ]; then
	URING=$ECHO_SERVER
elif [ -f "$ROOT/harness/$CHAPTER/chapter.mk" ]; then
	impl_dir=$(cd "$IMPL" 2>/dev/null && pwd) || die "no such directory: $IMPL"
	out=$(impl_build_dir "$ROOT" "$impl_dir")/$CHAPTER
	make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" \
		CHAPTER="$CHAPTER" IMPL_DIR="$impl_dir/$CHAPTER" OUT="$out" SAN="${SAN:-0}" programs ||
		die "cannot build chapter 09's programs of $IMPL"
	URING=$out/echo-server
else
	die "chapter 09 has no build yet (harness/$CHAPTER/chapter.mk): say which server to measure, e.g. make bench CH=09 ECHO_SERVER=path/to/echo-server"
fi
[ -x "$URING" ] || die "no io_uring echo server at $URING"

TMP=$(mktemp -d) || die "mktemp failed"
SRV_PID=
cleanup() {
	[ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The state letter of a process (Z once it has exited, empty when reaped).
proc_state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }

# start_server BIN: runs it on a free port (--port 0), waits for its
# "listening on 127.0.0.1:PORT" line; sets SRV_PID and SRV_PORT.
start_server() {
	SRV_PORT=
	"$1" --port 0 >"$TMP/server.out" 2>"$TMP/server.err" &
	SRV_PID=$!
	for _ in $(seq 1 200); do
		SRV_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([1-9][0-9]*\)$/\1/p' "$TMP/server.out")
		[ -n "$SRV_PORT" ] && return 0
		case "$(proc_state "$SRV_PID")" in Z | "") break ;; esac
		sleep 0.05
	done
	echo "bench: $1 --port 0 did not print \"listening on 127.0.0.1:PORT\" (with the real port)" \
		"within 10 s: $(head -c 300 "$TMP/server.out" "$TMP/server.err" | tr '\n' ' ')" >&2
	stop_server "$1" >/dev/null 2>&1
	return 1
}

# stop_server BIN: SIGTERM, then it must exit with status 0 within 5 s.
stop_server() {
	local rc st
	kill -TERM "$SRV_PID" 2>/dev/null
	for _ in $(seq 1 100); do
		st=$(proc_state "$SRV_PID")
		[ "$st" = Z ] || [ -z "$st" ] && break
		sleep 0.05
	done
	st=$(proc_state "$SRV_PID")
	if [ -n "$st" ] && [ "$st" != Z ]; then
		echo "bench: $1 still running 5 s after SIGTERM: killed" >&2
		kill -KILL "$SRV_PID" 2>/dev/null
	fi
	wait "$SRV_PID"
	rc=$?
	SRV_PID=
	if [ "$rc" != 0 ]; then
		echo "bench: $1 exited with status $rc after SIGTERM (expected 0): $(head -c 300 "$TMP/server.err")" >&2
		return 1
	fi
}

# The CPU time a process has used (user + system), in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

# measure BIN CONNS SIZE DEPTH: one fresh server, one load; prints
# "MSGS_PER_S P99_US CPU_US_PER_MSG", nothing on failure (the reason on
# stderr). The CPU time is the server's over the whole load run (warm-up
# included), per message at the measured rate over the run's wall time.
measure() {
	local bin=$1 line rc c0 c1 t0 t1
	start_server "$bin" || return 1
	c0=$(cpu_ticks "$SRV_PID")
	t0=$EPOCHREALTIME
	line=$("$LOADGEN" --port "$SRV_PORT" --conns "$2" --size "$3" --depth "$4" --seconds "$SECS" 2>"$TMP/load.err")
	rc=$?
	t1=$EPOCHREALTIME
	c1=$(cpu_ticks "$SRV_PID")
	stop_server "$bin" || rc=1
	if [ "$rc" != 0 ]; then
		echo "bench: loadgen against $bin ($2 conns, $3 bytes, depth $4): $(cat "$TMP/load.err")" >&2
		return 1
	fi
	awk -v c="$((c1 - c0))" -v hz="$TICKS" -v t="$t0" -v u="$t1" '{
		for (i = 1; i < NF; i++) if ($i == "p99") p99 = $(i + 1)
		msgs = $1 * (u - t)
		printf "%s %s %.2f\n", $1, p99, (msgs > 0 ? c * 1e6 / hz / msgs : 0) }' <<<"$line"
}

median() {
	[ $# -gt 0 ] || { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; }
# The smallest and the largest of the rounds' ratios: how far to trust the median.
spread() {
	[ $# -gt 0 ] || { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'
}

FAILED=0
echo "bench: chapter 09 echo servers over loopback TCP, $SECS s a run, medians of $REPEAT alternating rounds"
echo "  io_uring: $URING"
echo "  epoll:    $EPOLL"
echo "  client:   $LOADGEN (one thread, io_uring)"
echo "  $(nproc) CPUs, shared by the load client and the server (one thread each);" \
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "  Absolute numbers are this machine's at this moment: read the ratios."
FMT='  %-24s %10s %10s %5s %-9s  %9s %9s %5s  %8s %8s\n'
printf "$FMT" "load" "io_uring" "epoll" "ratio" "(range)" "io_uring" "epoll" "ratio" "io_uring" "epoll"
printf "$FMT" "(conns x bytes, depth)" "msg/s" "msg/s" "" "" "p99 us" "p99 us" "" "CPU us/m" "CPU us/m"
for load in $LOADS; do
	IFS=x read -r conns size depth <<<"$load"
	if [ -z "$depth" ]; then
		echo "bench: a load is CONNSxBYTESxDEPTH, not '$load'" >&2
		FAILED=1
		continue
	fi
	um=() em=() up=() ep=() rm_=() rp=() uc=() ec=()
	for round in $(seq 1 "$REPEAT"); do
		# Swap the order every round: neither server always runs on
		# the heels of the other.
		if [ $((round % 2)) = 1 ]; then order="u e"; else order="e u"; fi
		u= e=
		for who in $order; do
			if [ "$who" = u ]; then
				u=$(measure "$URING" "$conns" "$size" "$depth") || FAILED=1
			else
				e=$(measure "$EPOLL" "$conns" "$size" "$depth") || FAILED=1
			fi
		done
		[ -n "$u" ] && [ -n "$e" ] || continue
		read -r u_rate u_p99 u_cpu <<<"$u"
		read -r e_rate e_p99 e_cpu <<<"$e"
		um+=("$u_rate") em+=("$e_rate") up+=("$u_p99") ep+=("$e_p99") uc+=("$u_cpu") ec+=("$e_cpu")
		rm_+=("$(ratio "$u_rate" "$e_rate")") rp+=("$(ratio "$u_p99" "$e_p99")")
	done
	printf "$FMT" "$conns x $size B, depth $depth" \
		"$(median "${um[@]}")" "$(median "${em[@]}")" "$(median "${rm_[@]}")" "$(spread "${rm_[@]}")" \
		"$(median "${up[@]}")" "$(median "${ep[@]}")" "$(median "${rp[@]}")" \
		"$(median "${uc[@]}")" "$(median "${ec[@]}")"
done
echo "  ratio = io_uring / epoll, median of the rounds' ratios (range: lowest-highest round): msg/s above 1,"
echo "  p99 below 1, io_uring wins. A ratio inside the range two identical servers give here is noise:"
echo "  make bench CH=09 ECHO_SERVER=$EPOLL measures that range. CPU us/m: the server's user + system"
echo "  time over the whole run (warm-up included) per message, from /proc/PID/stat."
[ "$FAILED" = 0 ] || { echo "bench: some runs failed (see above); their rounds are left out" >&2; exit 1; }
