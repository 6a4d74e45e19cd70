#!/usr/bin/env bash
# harness/bench-11.sh - make bench CH=11: chapter 11's search on an index on
# disk, its reads served by each interface in turn, in one run, as ratios.
#
#   make bench CH=11 [FULL=1] [IMPL=exercises|solutions|path]
#                    [BENCH_N=N] [BENCH_QUERIES=N] [BENCH_ROUNDS=R]
#
# The search is IMPL's ann_search and ann_search_uring (the reference,
# solutions/, by default; IMPL=exercises is yours), built into the chapter's
# demo with the course's index code and the reference back-ends of chapters
# 01, 03 and 06. The demo's showdown runs the same queries through blocking
# pread, the thread pool, libaio, io_uring (a hop's reads in one batch),
# io_uring with one read in flight, and the pipelined search on its own
# ring (W reads in flight, a slot refilled as each completes), first on a
# cold O_DIRECT file, then on a warm page cache, and prints one table of
# medians with each interface's queries/s as a ratio to blocking's and to
# batched io_uring's in the same round. Then, from the same run: blocking,
# batched and pipelined side by side, and the capstone's aim (the pipelined
# search at least 3 times blocking's queries/s at the same recall, cold).
#
#   quick (the default): an index of BENCH_N vectors (default 50000 x 64,
#     about 200 MiB, built once in build/ann/ and kept, shared with make run
#     CH=11), 200 queries a run, 2 rounds. About a minute and a half on 2
#     busy cores the first time (a minute of it building the index), half a
#     minute after. Not the lesson's 100000: that index took 2 min 40 s to
#     build on the same machine, more than a quick run may spend;
#   full (FULL=1): the lesson's index of 100000 x 64 (about 400 MiB, built
#     once: 2 min 40 s here the first time), 1000 queries a run, 3 rounds:
#     about two minutes once the index exists.
#
# Writes build/reports/bench-11.csv (the demo's --csv), and bench-11.svg
# (queries/s per interface, cold and warm) when gnuplot is installed.
# A search that is not written yet (the skeleton's -ENOSYS) is shown as
# "not done (make check CH=11)"; ann_search written and ann_search_uring
# not yet: the other rows are measured, the pipelined one says so. Exit status: 0; 1 when the showdown failed;
# 2 when nothing could be measured (dependencies, the build).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHAPTER=11-capstone
# shellcheck source=/dev/null
. "$ROOT/harness/common.sh"

die() { echo "bench: $*" >&2; exit 2; }

if [ -n "${FULL:-}" ] && [ "$FULL" != 0 ]; then
	MODE=full N=${BENCH_N:-100000} QUERIES=${BENCH_QUERIES:-1000} ROUNDS=${BENCH_ROUNDS:-3}
else
	MODE=quick N=${BENCH_N:-50000} QUERIES=${BENCH_QUERIES:-200} ROUNDS=${BENCH_ROUNDS:-2}
fi

"$ROOT/harness/deps.sh" --check || exit 2
[ -f "$ROOT/harness/$CHAPTER/chapter.mk" ] || die "chapter 11 has no build here (harness/$CHAPTER/chapter.mk)"

# The tree measured: the reference by default, the learner's own in the
# student edition (no solutions/).
if [ -z "${IMPL:-}" ]; then
	IMPL=$([ -d "$ROOT/solutions" ] && echo solutions || echo exercises)
fi
impl=$(cd "$IMPL" 2>/dev/null && pwd) || { no_such_impl "$ROOT" "$IMPL" bench 11; exit 2; }
case "$impl" in
"$ROOT/solutions") who=reference ;;
"$ROOT/exercises") who=yours ;;
*) who=$(basename "$impl") ;;
esac

TMP=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# run LIMIT CMD...: CMD with its output shown and kept in $TMP/out, stopped
# after LIMIT seconds (timeout passes Ctrl-C on to it). Returns CMD's
# status (124: stopped).
run() {
	local limit=$1
	shift
	timeout -k 5 "$limit" "$@" 2>&1 | tee "$TMP/out"
	return "${PIPESTATUS[0]}"
}

REPORT_DIR=$ROOT/build/reports
CSV=$REPORT_DIR/bench-11.csv
mkdir -p "$REPORT_DIR" || die "cannot create $REPORT_DIR"
rm -f "$CSV" "$REPORT_DIR/bench-11.svg" "$REPORT_DIR/bench-11.gp"

echo "bench: chapter 11, $MODE run$([ "$MODE" = quick ] && echo " (make bench CH=11 FULL=1: the lesson's 100000-vector index, 1000 queries, 3 rounds)")"
echo "  search:  $who (${impl#"$ROOT"/}/$CHAPTER/search.c), k 10, L 64, W 8: ann_search (a hop's reads in one"
echo "           batch) and ann_search_uring (W reads in flight, a slot refilled as each completes)"
echo "  index:   $N vectors of 64 floats (build/ann/, built once and kept); $QUERIES queries a run, medians of $ROUNDS rounds"
echo "  machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run;" \
	"absolute numbers are this machine's at this moment: read the ratios"

out=$(impl_build_dir "$ROOT" "$impl")/$CHAPTER
if ! make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$CHAPTER" \
	IMPL_DIR="$impl/$CHAPTER" OUT="$out" SAN="${SAN:-0}" demo >"$TMP/build.log" 2>&1; then
	if [ "$who" = reference ]; then
		echo "bench: the reference's demo does not build:" >&2
		head -n 20 "$TMP/build.log" >&2
		exit 2
	fi
	echo "  $who: not done (make check CH=11): the search does not build"
	head -n 5 "$TMP/build.log" | sed 's/^/    /'
	exit 0
fi
DEMO=$out/demo

# The demo keeps its index and answers under build/ann/ of the current
# directory: the repository's, as for make run CH=11. It makes them when
# they are missing (the first time: the build's time is said, and counted
# in the showdown's below), after checking that the search is written at
# all (a skeleton is told at once, not after the build).
cd "$ROOT" || die "cannot enter $ROOT"
LIMIT=$((3600 + QUERIES * ROUNDS))
start=$(date +%s)
run "$LIMIT" "$DEMO" showdown --n "$N" --queries "$QUERIES" --rounds "$ROUNDS" --csv "$CSV"
rc=$?
secs=$(($(date +%s) - start))
if grep -q 'ann_search is not written yet' "$TMP/out"; then
	echo "  $who: not done (make check CH=11): ann_search returns -ENOSYS (the skeleton)"
	rm -f "$CSV"
	exit 0
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "bench: the showdown was still running after $LIMIT s: stopped" >&2
	exit 1
fi
echo "bench: $secs s$(grep -q '^built ' "$TMP/out" && echo ", the index's build included"); load average $(cut -d' ' -f1-3 /proc/loadavg) after"

# The figures the capstone's issue asks about, all from this run: blocking,
# batched and pipelined io_uring at the same k, L and W, cold (O_DIRECT) and
# warm, and the aim: the pipelined search at least 3x blocking's queries/s
# at the same recall, cold. "The same recall": within 0.01 of blocking's
# (the pipelined walk follows the order of completions, so it may read
# other nodes). The CSV's columns: mode (1), backend (2), status (11),
# queries_per_s (12), ratio_to_blocking (13), ratio_to_io_uring (14),
# p50_us (15), p99_us (16), reads_per_query (17), hops_per_query (18),
# recall (19), note (22).
if [ -s "$CSV" ]; then
	awk -F, '
		NR > 1 { m = ($1 ~ /^cold/) ? "cold" : "warm"; st[m, $2] = $11
			q[m, $2] = $12; xb[m, $2] = $13; xu[m, $2] = $14; p50[m, $2] = $15; p99[m, $2] = $16
			rd[m, $2] = $17; hp[m, $2] = $18; rc[m, $2] = $19; note[m, $2] = $NF }
		function row(m, b, label) {
			if (st[m, b] != "ok") {
				gsub(/"/, "", note[m, b])
				printf "  %-4s %-20s %s\n", m, label, (st[m, b] == "" ? "not run" : note[m, b])
				return
			}
			printf "  %-4s %-20s %9.0f %10s %9s %8.0f %8.0f %7.1f %6.1f %6.3f\n", m, label, q[m, b], xb[m, b],
				xu[m, b], p50[m, b], p99[m, b], rd[m, b], hp[m, b], rc[m, b] }
		END {
			printf "\n  %-4s %-20s %9s %10s %9s %8s %8s %7s %6s %6s\n", "", "reader", "queries/s", "x blocking",
				"x batched", "p50 us", "p99 us", "reads/q", "hops/q", "recall"
			split("cold warm", modes, " ")
			for (i = 1; i <= 2; i++) {
				row(modes[i], "blocking", "blocking pread")
				row(modes[i], "io_uring", "io_uring batched")
				row(modes[i], "io_uring-pipelined", "io_uring pipelined")
			}
			if (st["cold", "io_uring-pipelined"] != "ok" || st["cold", "blocking"] != "ok") {
				print "\n  aim (pipelined at least 3x blocking, cold, same recall): not measured"
				exit
			}
			x = xb["cold", "io_uring-pipelined"]; r = rc["cold", "io_uring-pipelined"]; rb = rc["cold", "blocking"]
			printf "\n  aim: pipelined at least 3x blocking on queries/s at the same recall, cold: %sx at recall %.3f\n", x, r
			printf "  (blocking %.3f): %s. Against batched io_uring in the same rounds: %sx cold, %sx warm.\n", rb,
				(x >= 3 && r >= rb - 0.01) ? "met" : "NOT met", xu["cold", "io_uring-pipelined"],
				(xu["warm", "io_uring-pipelined"] != "" ? xu["warm", "io_uring-pipelined"] : "-")
			printf "  Batching alone (a hop'\''s W reads in one submit): %sx blocking cold; libaio %sx, threads %sx,\n",
				xb["cold", "io_uring"], xb["cold", "libaio"], xb["cold", "threads"]
			printf "  io_uring one read at a time %sx.\n", xb["cold", "io_uring-qd1"] }' "$CSV"
fi

# ---------------------------------------------------------------- the picture
# Bars: a group per interface, a bar for cold and one for warm, log scale
# (the page cache is an order of magnitude faster than the disk).
if [ -s "$CSV" ] && command -v gnuplot >/dev/null 2>&1; then
	awk -F, -v svg="$REPORT_DIR/bench-11.svg" -v title="chapter 11: queries/s, $N vectors, k 10 L 64 W 8, $who, $MODE run of $(date +%F)" '
		NR > 1 {
			if (!($2 in group)) { group[$2] = ++n; gname[n] = $2 }
			if (!($1 in col)) { col[$1] = ++m; cname[m] = $1 }
			v[group[$2], col[$1]] = ($11 == "ok" && $12 > 0) ? $12 : "-" }
		END {
			print "set terminal svg size 1000,560 dynamic noenhanced background rgb \"white\""
			print "set output \"" svg "\""
			print "set title \"" title "\""
			print "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1"
			print "set datafile missing \"-\"; set grid ytics; set logscale y"
			print "set ylabel \"queries/s (median)\"; set key outside right top"
			print "$d << EOD"
			for (i = 1; i <= n; i++) { printf "\"%s\"", gname[i]; for (j = 1; j <= m; j++) printf " %s", ((i, j) in v) ? v[i, j] : "-"; print "" }
			print "EOD"
			printf "plot "
			for (j = 1; j <= m; j++) printf "%s$d using %d%s title \"%s\"", (j > 1 ? ", " : ""), j + 1, (j == 1 ? ":xtic(1)" : ""), cname[j]
			print ""
		}' "$CSV" > "$REPORT_DIR/bench-11.gp"
	if gnuplot "$REPORT_DIR/bench-11.gp" 2>"$TMP/gnuplot.err"; then
		echo "bench: $CSV and $REPORT_DIR/bench-11.svg"
	else
		echo "bench: $CSV (gnuplot could not draw $REPORT_DIR/bench-11.svg: $(head -c 300 "$TMP/gnuplot.err"))"
	fi
elif [ -s "$CSV" ]; then
	echo "bench: $CSV (install gnuplot-nox for a picture of it)"
fi
[ "$rc" = 0 ] || { echo "bench: some runs failed (see above)" >&2; exit 1; }
