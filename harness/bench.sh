#!/usr/bin/env bash
# harness/bench.sh - make bench: the batch read of each chapter beside fio,
# on one file, in one run, as ratios.
#
#   make bench [IMPL=solutions] [QD="1 32 128"] [BENCH_FILE=path] [BENCH_SIZE_MB=1024]
#              [BENCH_SECONDS=3] [BENCH_REPEAT=3]
#   writes build/reports/bench.csv, and bench.svg (IOPS against queue depth)
#   when gnuplot is installed
#   make bench CH=09 [ECHO_SERVER=path] ...   chapter 09's echo servers (bench-09.sh)
#
# 4 KiB random reads with O_DIRECT (chapter 01: buffered, cold cache), every
# run preceded by dropping the page cache when root. The machine's absolute
# numbers drift from run to run and from machine to machine: read the ratio
# of each demo to fio measured here, a few seconds apart, not the IOPS alone.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# make bench CH=09: the echo servers of chapter 09 instead (bench-09.sh).
case "${CH:-}" in
09 | 9 | 09-uring-multishot) exec "$ROOT/harness/bench-09.sh" ;;
esac
# The reference by default; the learner's own code in the student edition.
IMPL=${IMPL:-$([ -d "$ROOT/solutions" ] && echo solutions || echo exercises)}
QDS=${QD:-1 32 128}
SIZE_MB=${BENCH_SIZE_MB:-1024}
FILE=${BENCH_FILE:-$ROOT/build/bench/data-${SIZE_MB}m}
SECONDS_PER_RUN=${BENCH_SECONDS:-3}

if ! command -v fio >/dev/null 2>&1; then
	echo "bench: fio is needed for the comparison: sudo apt-get install fio" >&2
	exit 2
fi
mkdir -p "$(dirname "$FILE")"
if [ ! -s "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((SIZE_MB * 1048576)) ]; then
	echo "bench: writing $SIZE_MB MiB of random data to $FILE (once)"
	# Real data: blocks from fallocate read back as zeros without touching the disk.
	dd if=/dev/urandom of="$FILE" bs=1M count="$SIZE_MB" status=none conv=fsync || exit 2
fi

drop_caches() {
	sync
	if [ "$(id -u)" = 0 ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

# Build the demos of the implementation graded.
for ch in 01 02 03 06 07 08; do
	PROG=none "$ROOT/harness/run.sh" "$IMPL" "$ch" >/dev/null 2>&1
done
. "$ROOT/harness/common.sh"
BUILD=$(impl_build_dir "$ROOT" "$(cd "$IMPL" && pwd)")

# fio ENGINE QD [extra...]: read IOPS from fio's terse output (field 8).
fio_iops() {
	local engine=$1 qd=$2
	shift 2
	drop_caches
	fio --name=bench --filename="$FILE" --rw=randread --bs=4k --ioengine="$engine" \
		--iodepth="$qd" --runtime="$SECONDS_PER_RUN" --time_based --norandommap \
		--output-format=terse --terse-version=3 "$@" 2>/dev/null | awk -F';' '{ printf "%d", $8 }'
}

# demo BINARY ARGS...: the first "<number> IOPS" or "<number> reads/s" it prints.
demo_iops() {
	drop_caches
	"$@" 2>&1 | grep -o -m 1 -E '[0-9]+ (IOPS|reads/s)' | awk '{ print $1 }'
}

# Reads for a demo run of about SECONDS_PER_RUN at the rate fio just measured.
reads_for() {
	local iops=${1:-10000}
	[ "$iops" -gt 0 ] 2>/dev/null || iops=10000
	echo $(( iops * SECONDS_PER_RUN ))
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# compare LABEL FIO_ARGS -- DEMO_ARGS: REPEAT alternating runs of fio and the
# demo; prints the medians and the median of the per-pair ratios. In the demo
# arguments, @READS@ becomes the reads that take about SECONDS_PER_RUN at the
# rate fio just measured.
compare() {
	local label=$1 fa=() da=() fs=() ds=() rs=() f d
	shift
	while [ "$1" != "--" ]; do fa+=("$1"); shift; done
	shift
	da=("$@")
	for _ in $(seq 1 "$REPEAT"); do
		f=$(fio_iops "${fa[@]}")
		d=$(demo_iops "${da[@]//@READS@/$(reads_for "$f")}")
		[ -n "$f" ] && [ -n "$d" ] && [ "$f" -gt 0 ] || continue
		fs+=("$f"); ds+=("$d")
		rs+=("$(awk -v a="$d" -v b="$f" 'BEGIN { printf "%.2f", a / b }')")
	done
	printf '  %-46s %9s %9s %7s\n' "$label" "$(median "${ds[@]}")" "$(median "${fs[@]}")" "$(median "${rs[@]}")"
	[ ${#ds[@]} -gt 0 ] && printf '%s,"%s",%s,%s,%s\n' "$qd" "${label//\"/\"\"}" "$(median "${ds[@]}")" \
		"$(median "${fs[@]}")" "$(median "${rs[@]}")" >> "$CSV"
	return 0
}

REPEAT=${BENCH_REPEAT:-3}
# The same figures as a table for other tools, and as a picture when gnuplot
# is installed (apt-get install gnuplot-nox): build/reports/bench.{csv,svg}.
REPORT_DIR=$ROOT/build/reports
CSV=$REPORT_DIR/bench.csv
mkdir -p "$REPORT_DIR" || exit 2
echo "queue_depth,comparison,demo_iops,fio_iops,ratio" > "$CSV"
B="--iodepth_batch_submit"
C="--iodepth_batch_complete_max"
echo "bench: $FILE, 4 KiB random reads, $SECONDS_PER_RUN s a run, medians of $REPEAT alternating runs, IMPL=$IMPL"
printf '  %-46s %9s %9s %7s\n' "demo / fio (IOPS)" "demo" "fio" "ratio"
for qd in $QDS; do
	echo "  -- queue depth $qd"
	if [ "$qd" = 1 ]; then
		compare "01 blocking pread (buffered) / fio psync" psync 1 -- \
			"$BUILD/01-blocking/demo" -r @READS@ "$FILE"
	fi
	# fio makes one io_submit / io_uring_enter per request by default; the
	# chapters batch. The batched fio line is the like-for-like comparison.
	compare "02 libaio / fio libaio" libaio "$qd" --direct=1 -- \
		"$BUILD/02-libaio/demo" --direct --qd "$qd" --random @READS@ "$FILE"
	compare "02 libaio / fio libaio, batched submits" libaio "$qd" --direct=1 "$B=$qd" "$C=$qd" -- \
		"$BUILD/02-libaio/demo" --direct --qd "$qd" --random @READS@ "$FILE"
	compare "06 io_uring / fio io_uring" io_uring "$qd" --direct=1 -- \
		"$BUILD/06-uring-batching/demo" --direct --qd "$qd" --random @READS@ "$FILE"
	compare "06 io_uring / fio io_uring, batched submits" io_uring "$qd" --direct=1 "$B=$qd" "$C=$qd" -- \
		"$BUILD/06-uring-batching/demo" --direct --qd "$qd" --random @READS@ "$FILE"
	# Chapter 08: the batch read on registered buffers and files, and on an
	# SQPOLL ring, beside fio with the same registrations (batched submits).
	compare "08 fixed bufs+files / fio --fixedbufs --registerfiles" io_uring "$qd" --direct=1 \
		--fixedbufs --registerfiles "$B=$qd" "$C=$qd" -- \
		"$BUILD/08-uring-fixed/demo" read "$FILE" --direct --qd "$qd" --n @READS@ --fixed --files
	compare "08 SQPOLL + fixed / fio --sqthread_poll" io_uring "$qd" --direct=1 --fixedbufs \
		--registerfiles --sqthread_poll=1 "$B=$qd" "$C=$qd" -- \
		"$BUILD/08-uring-fixed/demo" read "$FILE" --direct --qd "$qd" --n @READS@ --fixed --files --sqpoll
	compare "03 POSIX aio / fio posixaio" posixaio "$qd" --direct=1 -- \
		"$BUILD/03-posix-aio/demo" --direct --qd "$qd" --random @READS@ "$FILE"
	compare "03 own thread pool / fio psync, one job per thread" psync 1 --direct=1 --numjobs="$qd" --group_reporting -- \
		"$BUILD/03-posix-aio/demo" --pool "$qd" --direct --qd "$qd" --random @READS@ "$FILE"
done

# Chapter 08: io_uring_enter calls per read at QD 32, with and without SQPOLL
# (strace -c -f counts the real system calls; liburing makes them inline).
if command -v strace >/dev/null 2>&1 && [ -x "$BUILD/08-uring-fixed/demo" ]; then
	echo "  -- io_uring_enter per read, 20000 reads at QD 32, O_DIRECT (strace -c -f)"
	for mode in "" "--sqpoll"; do
		out=$(mktemp)
		strace -f -c -o "$out" -e trace=io_uring_enter \
			"$BUILD/08-uring-fixed/demo" read "$FILE" --direct --qd 32 --n 20000 --fixed --files $mode >/dev/null 2>&1
		calls=$(awk '$NF == "io_uring_enter" { print $4 }' "$out")
		rm -f "$out"
		printf '  %-46s %9s %9s\n' "08 ${mode:-plain ring} (calls, per read)" "${calls:-?}" \
			"$(awk -v c="${calls:-0}" 'BEGIN { printf "%.3f", c / 20000 }')"
	done
fi

# Chapter 07: the linked copy (lcopy, read -> write pairs with IOSQE_IO_LINK)
# beside chapter 06's copy (a read, then the write once its CQE is seen),
# copying the bench file, alternating, page cache dropped before each run
# when root (warm otherwise). Time ratio lcopy / copy: below 1, links win.
copy_ms() {
	local start end
	rm -f "$FILE.copy"
	drop_caches
	start=$(date +%s%N)
	"$@" "$FILE" "$FILE.copy" || return 1
	end=$(date +%s%N)
	echo $(( (end - start) / 1000000 ))
}
if [ -x "$BUILD/07-uring-link/lcopy" ] && [ -x "$BUILD/06-uring-batching/copy" ]; then
	ls_=() cs_=() rs_=()
	for _ in $(seq 1 "$REPEAT"); do
		c=$(copy_ms "$BUILD/06-uring-batching/copy") || continue
		l=$(copy_ms "$BUILD/07-uring-link/lcopy") || continue
		[ "$c" -gt 0 ] || continue
		cs_+=("$c"); ls_+=("$l")
		rs_+=("$(awk -v a="$l" -v b="$c" 'BEGIN { printf "%.2f", a / b }')")
	done
	echo "  -- copying $SIZE_MB MiB ($([ "$(id -u)" = 0 ] && echo "cold cache" || echo "warm cache: not root"))"
	printf '  %-46s %9s %9s %7s\n' "(ms, medians; ratio: median of the pairs')" "lcopy" "copy" "ratio"
	printf '  %-46s %9s %9s %7s\n' "07 lcopy / 06 copy (lower is faster)" \
		"$(median "${ls_[@]}")" "$(median "${cs_[@]}")" "$(median "${rs_[@]}")"
	rm -f "$FILE.copy"
fi

# Chapter 07: what a linked timeout adds to a request that completes at once
# (4 KiB reads of a cached 1 MiB file, one at a time, with and without it).
if [ -x "$BUILD/07-uring-link/demo" ]; then
	head -c 1048576 "$FILE" > "$FILE.small"
	cat "$FILE.small" > /dev/null
	echo "  -- a deadline per request (07 demo cost, cached reads, medians of 5 rounds)"
	"$BUILD/07-uring-link/demo" cost "$FILE.small" 20000 | sed -n 's/^median: /  /p'
	rm -f "$FILE.small"
fi

# The picture: IOPS against queue depth, each chapter's demo (solid) beside
# the fio line it is compared with (dashed, same colour).
if command -v gnuplot >/dev/null 2>&1 && [ "$(wc -l < "$CSV")" -gt 1 ]; then
	plot=$REPORT_DIR/bench.gp
	awk -F'"' -v svg="$REPORT_DIR/bench.svg" -v title="4 KiB random reads, O_DIRECT (01: buffered), IMPL=$IMPL" '
		NR > 1 { label = $2; split($1, a, ","); split($3, b, ",")
			if (!(label in seen)) { seen[label] = ++n; name[n] = label }
			k = seen[label]; rows[k] = rows[k] a[1] " " b[2] " " b[3] "\n" }
		END {
			print "set terminal svg size 1100,640 dynamic noenhanced background rgb \"white\""
			print "set output \"" svg "\""
			print "set title \"" title "\""
			print "set logscale x 2; set logscale y 10; set grid"
			print "set xlabel \"queue depth\"; set ylabel \"IOPS (median)\""
			print "set key outside right top font \",9\""
			printf "plot "
			for (k = 1; k <= n; k++) {
				# "02 libaio / fio libaio, batched": the demo, then its fio line.
				gsub(/"/, "", name[k])
				demo = name[k]; fio = name[k]
				sub(/ \/ .*/, "", demo); sub(/^[^\/]*\/ /, "", fio)
				printf "%s\047-\047 using 1:2 with linespoints lt %d dt 1 title \"%s\", \047-\047 using 1:3 with linespoints lt %d dt 2 title \"  %s\"", (k > 1 ? ", " : ""), k, demo, k, fio
			}
			print ""
			for (k = 1; k <= n; k++) { printf "%se\n%se\n", rows[k], rows[k] }
		}' "$CSV" > "$plot"
	if gnuplot "$plot" 2>/dev/null; then
		echo "bench: $CSV and $REPORT_DIR/bench.svg"
	else
		echo "bench: $CSV (gnuplot could not draw $REPORT_DIR/bench.svg)"
	fi
else
	echo "bench: $CSV (install gnuplot-nox for a picture of it)"
fi
