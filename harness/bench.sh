#!/usr/bin/env bash
# harness/bench.sh - make bench: the batch read of each chapter beside fio,
# on one file, in one run, as ratios, with the CPU time each spends per read.
#
#   make bench [FULL=1] [IMPL=exercises|solutions|path] [QD="1 32 128"]
#              [BENCH_FILE=path] [BENCH_SIZE_MB=N] [BENCH_SECONDS=N] [BENCH_REPEAT=N]
#   make bench CH=09 [ECHO_SERVER=path] ...   chapter 09's echo servers (bench-09.sh)
#   make bench CH=11 [FULL=1] [IMPL=...]      chapter 11's search through each
#                                             interface (bench-11.sh)
#
# Two modes:
#   quick (the default, about a minute and a half on 2 cores): a 256 MiB file,
#     queue depth 32 (chapter 01, blocking, at 1), 1 s a run, fio batched
#     like the chapters only;
#   full (FULL=1, about twenty minutes): a 1 GiB file, queue depths 1, 32
#     and 128, 3 s a run, 5 rounds (3 left one lucky fio run at qd 128 the
#     whole median: 0.67 of fio where 10 rounds gave 0.98), also fio's
#     default of one system call per request, and chapter 07's linked copy
#     and deadline cost.
# Both: medians of the rounds (3, full 5), alternating (the order is
# reversed every round, so a drift of the machine hits every program
# alike), with the lowest and highest round beside; 4 KiB random reads
# with O_DIRECT (chapter 01: buffered, the file evicted from the page cache
# before every run). Writes build/reports/bench.csv, and bench.svg (IOPS
# against queue depth; bars when one depth was measured) when gnuplot is
# installed.
#
# Whose code: the reference (solutions/) by default; IMPL=exercises (or any
# tree laid out like it) measures that tree beside the reference, when the
# course has solutions/, and beside fio. In the student edition, the
# learner's exercises/ beside fio. A chapter whose demo does not build, fails
# or reports failed reads (a skeleton returns -ENOSYS) is shown "not done".
#
# CPU time per read: user + system time of the whole program (its threads,
# io_uring's SQ thread and glibc's aio helpers included), from the shell's
# `times` around the run, divided by the reads it made. For fio, the CPU
# time of the same fio command making a single read is taken off first
# (fio spends a quarter of a second of CPU starting and stopping its jobs).
#
# The machine's absolute numbers drift from run to run and from machine to
# machine: read the ratio of each program to fio measured here, a few
# seconds apart, not the IOPS alone.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# make bench CH=09: the echo servers of chapter 09 instead (bench-09.sh);
# CH=11: chapter 11's search on an index on disk (bench-11.sh).
case "${CH:-}" in
09 | 9 | 09-uring-multishot) exec "$ROOT/harness/bench-09.sh" ;;
11 | 11-capstone) exec "$ROOT/harness/bench-11.sh" ;;
esac
# shellcheck source=/dev/null
. "$ROOT/harness/common.sh"

die() { echo "bench: $*" >&2; exit 2; }

if [ -n "${FULL:-}" ] && [ "$FULL" != 0 ]; then
	MODE=full SIZE_MB=${BENCH_SIZE_MB:-1024} QDS=${QD:-1 32 128} SECS=${BENCH_SECONDS:-3} ROUNDS=5
else
	MODE=quick SIZE_MB=${BENCH_SIZE_MB:-256} QDS=${QD:-32} SECS=${BENCH_SECONDS:-1} ROUNDS=3
fi
REPEAT=${BENCH_REPEAT:-$ROUNDS}
FILE=${BENCH_FILE:-$ROOT/build/bench/data-${SIZE_MB}m}
# A demo that is still running after this long is stopped and counted not done.
LIMIT=$((SECS * 20 + 10))

"$ROOT/harness/deps.sh" --check || exit 2
command -v fio >/dev/null 2>&1 || die "fio is needed for the comparison: sudo apt-get install fio"

# The trees measured (IMPLS) and their names in the table. The reference by
# default; a tree asked for (IMPL=) beside the reference when there is one.
if [ -z "${IMPL:-}" ]; then
	IMPL=$([ -d "$ROOT/solutions" ] && echo solutions || echo exercises)
fi
IMPL=$(cd "$IMPL" 2>/dev/null && pwd) || die "no such directory: ${IMPL}"
IMPLS=("$IMPL")
[ -d "$ROOT/solutions" ] && [ "$IMPL" != "$ROOT/solutions" ] && IMPLS+=("$ROOT/solutions")
who_name() {
	case "$1" in
	"$ROOT/solutions") echo reference ;;
	"$ROOT/exercises") echo yours ;;
	*) basename "$1" ;;
	esac
}

TMP=$(mktemp -d) || die "mktemp failed"
CHILD=
cleanup() {
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The interfaces measured, one line each:
#   CHAPTER|MODES|DEPTHS|INTERFACE|FIO JOB|FIO OPTIONS|PROGRAM AND ARGUMENTS
# MODES: "quick full" or "full" (full mode only). DEPTHS: "all" (every queue
# depth of QD) or "1" (a blocking interface: once, at queue depth 1). In the
# options, @QD@ is the queue depth, @BATCH@ fio's submission and completion
# batches of the queue depth (what the chapters do), @FILE@ the data file and
# @READS@ the reads that take about a run's seconds at the program's rate. The
# program is one of the chapter's (build/<tree>/<chapter>/<program>).
# The showdown (chapter 10) gets its line here once its reader exists.
interfaces() {
	cat <<'EOF'
01-blocking|quick full|1|01 blocking pread (buffered)|fio psync|--ioengine=psync --iodepth=1|demo -r @READS@ @FILE@
02-libaio|full|all|02 libaio|fio libaio, a submit per read|--ioengine=libaio --iodepth=@QD@ --direct=1|demo --direct --qd @QD@ --random @READS@ @FILE@
02-libaio|quick full|all|02 libaio|fio libaio, batched submits|--ioengine=libaio --iodepth=@QD@ --direct=1 @BATCH@|demo --direct --qd @QD@ --random @READS@ @FILE@
06-uring-batching|full|all|06 io_uring|fio io_uring, a submit per read|--ioengine=io_uring --iodepth=@QD@ --direct=1|demo --direct --qd @QD@ --random @READS@ @FILE@
06-uring-batching|quick full|all|06 io_uring|fio io_uring, batched submits|--ioengine=io_uring --iodepth=@QD@ --direct=1 @BATCH@|demo --direct --qd @QD@ --random @READS@ @FILE@
08-uring-fixed|quick full|all|08 fixed buffers + files|fio --fixedbufs --registerfiles|--ioengine=io_uring --iodepth=@QD@ --direct=1 --fixedbufs --registerfiles @BATCH@|demo read @FILE@ --direct --qd @QD@ --n @READS@ --fixed --files
08-uring-fixed|quick full|all|08 SQPOLL + fixed|fio --sqthread_poll|--ioengine=io_uring --iodepth=@QD@ --direct=1 --fixedbufs --registerfiles --sqthread_poll=1 @BATCH@|demo read @FILE@ --direct --qd @QD@ --n @READS@ --fixed --files --sqpoll
03-posix-aio|quick full|all|03 POSIX aio|fio posixaio|--ioengine=posixaio --iodepth=@QD@ --direct=1|demo --direct --qd @QD@ --random @READS@ @FILE@
03-posix-aio|quick full|all|03 own thread pool|fio psync, a job per thread|--ioengine=psync --iodepth=1 --direct=1 --numjobs=@QD@ --group_reporting|demo --pool @QD@ --direct --qd @QD@ --random @READS@ @FILE@
EOF
}

# ---------------------------------------------------------------- the file
mkdir -p "$(dirname "$FILE")" || die "cannot create $(dirname "$FILE")"
if [ ! -s "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((SIZE_MB * 1048576)) ]; then
	echo "bench: writing $SIZE_MB MiB of random data to $FILE (once)"
	# Real data: blocks from fallocate read back as zeros without touching the disk.
	dd if=/dev/urandom of="$FILE" bs=1M count="$SIZE_MB" status=none conv=fsync || exit 2
fi

# cold_cache: the bench file's pages out of the page cache, before each
# buffered run (POSIX_FADV_DONTNEED through dd: any user, this file only; the
# rest of the machine's cache, and the colleagues using it, left alone).
# O_DIRECT runs skip it: their reads never look at the page cache.
COLD=0
cold_cache() { dd if="$FILE" iflag=nocache count=0 status=none 2>/dev/null; }

# ---------------------------------------------------------------- builds
# BUILT[tree/chapter]: the chapter's build directory, or empty when the
# tree's code of that chapter does not build (its programs are then not
# run: a program left from an earlier build is not the code in the tree).
# The chapters build side by side (separate directories, no shared target).
declare -A BUILT
# Chapter 07's programs serve the full run only.
CHAPTERS=$( (interfaces | cut -d'|' -f1; [ "$MODE" = quick ] || echo 07-uring-link) | sort -u)
k=0
for impl in "${IMPLS[@]}"; do
	for ch in $CHAPTERS; do
		k=$((k + 1))
		out=$(impl_build_dir "$ROOT" "$impl")/$ch
		echo "$impl/$ch $out" > "$TMP/build-$k"
		make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$ch" \
			IMPL_DIR="$impl/$ch" OUT="$out" SAN="${SAN:-0}" demo programs >"$TMP/build-$k.log" 2>&1 &
		echo "$!" >> "$TMP/build-$k"
	done
done
for ((i = 1; i <= k; i++)); do
	{ read -r key out; read -r pid; } < "$TMP/build-$i"
	if wait "$pid"; then BUILT[$key]=$out; else BUILT[$key]=; fi
done

# ---------------------------------------------------------------- running
# run_counted OUT LIMIT CMD...: runs CMD with its output in OUT, stopped
# after LIMIT seconds; sets RUN_CPU_US to the user + system time it and its
# children used (the shell's `times` before and after: only the children a
# shell has waited for count, so the run is waited for here, in this shell).
# In the background and waited for, so that Ctrl-C stops it at once.
# On this path, shell builtins and arithmetic only: a fork costs tens of
# milliseconds on a loaded machine, and there are a hundred runs.
RUN_CPU_US=0
# children_us FILE: CHILDREN_US, from `times` written to FILE: its second
# line, the children's user and system time, "XmY.ZZZs XmY.ZZZs".
children_us() {
	local u s t rest
	{ read -r _; read -r u s; } < "$1"
	CHILDREN_US=0
	for t in "$u" "$s"; do
		t=${t%s} rest=${t#*m}
		CHILDREN_US=$((CHILDREN_US + ((10#${t%%m*} * 60 + 10#${rest%.*}) * 1000 + 10#${rest#*.}) * 1000))
	done
}
run_counted() {
	local out=$1 limit=$2 rc
	shift 2
	times > "$TMP/times0"
	timeout -k 5 "$limit" "$@" > "$out" 2>&1 &
	CHILD=$!
	# (bash's own "Segmentation fault" line would break the table: the
	# reason is given with the row instead)
	wait "$CHILD" 2>/dev/null
	rc=$?
	CHILD=
	times > "$TMP/times1"
	children_us "$TMP/times0"
	RUN_CPU_US=$CHILDREN_US
	children_us "$TMP/times1"
	RUN_CPU_US=$((CHILDREN_US - RUN_CPU_US))
	return "$rc"
}

# fio_base OPTIONS...: FIO_BASE_US, the CPU time of fio making a single
# read with these options (its set-up and tear-down), measured once per
# engine and number of jobs (the rest changes it by less than the noise:
# 0.22-0.23 s of CPU for io_uring, with or without SQPOLL, and posixaio).
declare -A FIO_BASE
FIO_BASE_US=0
fio_base() {
	local key="" o
	for o in "$@"; do
		case "$o" in --ioengine=* | --numjobs=*) key+="$o " ;; esac
	done
	if [ -z "${FIO_BASE[$key]:-}" ]; then
		run_counted "$TMP/fio.base" 60 fio --name=bench --filename="$FILE" --rw=randread --bs=4k \
			--norandommap --number_ios=1 --output-format=terse --terse-version=3 "$@"
		FIO_BASE[$key]=$RUN_CPU_US
	fi
	FIO_BASE_US=${FIO_BASE[$key]}
}

# run_fio OPTIONS...: one fio run; sets IOPS and CPU_PER_READ (us). Fails
# when fio does (the engine refused, io_uring blocked...). The reads are
# fio's own count (terse field 6, KiB read, over every job); field 8 is IOPS.
IOPS=0 CPU_PER_READ=0
run_fio() {
	local kib
	fio_base "$@"
	[ "$COLD" = 0 ] || cold_cache
	run_counted "$TMP/fio.out" 60 fio --name=bench --filename="$FILE" --rw=randread --bs=4k \
		--runtime="$SECS" --time_based --norandommap --output-format=terse --terse-version=3 "$@" || return 1
	IFS=';' read -r _ _ _ _ _ kib _ IOPS _ < "$TMP/fio.out"
	[ "${IOPS:-0}" -gt 0 ] 2>/dev/null || return 1
	per_read $((RUN_CPU_US > FIO_BASE_US ? RUN_CPU_US - FIO_BASE_US : 0)) $((kib / 4))
}

# run_demo READS PROGRAM ARGS...: one run of a chapter's program; sets IOPS
# and CPU_PER_READ (us). Fails, with the reason in RUN_WHY, when the program
# fails, prints no rate, or reports failed or short reads.
RUN_WHY=
run_demo() {
	local reads=$1 rc
	shift
	[ "$COLD" = 0 ] || cold_cache
	run_counted "$TMP/demo.out" "$LIMIT" "$@"
	rc=$?
	RUN_WHY='' IOPS=''
	local out line
	IFS= read -r -d '' out < "$TMP/demo.out"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		RUN_WHY="still running after $LIMIT s: stopped"
	elif [ "$rc" -gt 128 ]; then
		RUN_WHY="killed by $(kill -l "$((rc - 128))" 2>/dev/null || echo "signal $((rc - 128))")"
	elif [ "$rc" != 0 ]; then
		line=${out#"${out%%[![:space:]]*}"}
		line=${line%%$'\n'*}
		RUN_WHY=${line:0:160}
		RUN_WHY=${RUN_WHY:-exit status $rc}
	elif [[ $out =~ $FAILED_READS ]]; then
		RUN_WHY="it reported ${BASH_REMATCH[2]}"
	fi
	[[ $out =~ ([0-9]+)\ (IOPS|reads/s) ]] && IOPS=${BASH_REMATCH[1]}
	[ -z "$RUN_WHY" ] && [ -z "$IOPS" ] && RUN_WHY="printed no IOPS or reads/s"
	[ -z "$RUN_WHY" ] || return 1
	per_read "$RUN_CPU_US" "$reads"
}
# per_read US READS: CPU_PER_READ, US / READS with one decimal.
per_read() {
	local tenths=$((($1 * 10 + $2 / 2) / ($2 > 0 ? $2 : 1)))
	CPU_PER_READ=$((tenths / 10)).$((tenths % 10))
}
# How the demos report failed or short reads (02: "N errors", 03: "N of the
# reads failed", 06: "N failed reads", "N short reads", 08: "N failed", 01:
# "(N failed or short)"): a program that reports some measured nothing.
FAILED_READS='(^|[[:space:](])([1-9][0-9]* (errors|failed|of the reads failed|short reads))'

# run_program DIR PROGRAM_ARGS READS: run_demo on the program of a
# chapter's build directory DIR, its @READS@ replaced.
run_program() {
	local -a da
	read -r -a da <<<"${2//@READS@/$3}"
	run_demo "$3" "$1/${da[0]}" "${da[@]:1}"
}

median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- the table
REPORT_DIR=$ROOT/build/reports
CSV=$REPORT_DIR/bench.csv
mkdir -p "$REPORT_DIR" || exit 2
echo "mode,queue_depth,interface,compared_with,implementation,code,status,iops,ratio_to_fio,cpu_us_per_read,rounds,ratio_min,ratio_max" > "$CSV"
# implementation: the tree (solutions, exercises, or its path), or fio;
# code: its name in the table (reference, yours...).
csv_row() { # QD INTERFACE FIO_JOB TREE CODE STATUS IOPS RATIO CPU ROUNDS [RATIO_MIN RATIO_MAX]
	printf '%s,%s,"%s","%s","%s","%s",%s,%s,%s,%s,%s,%s,%s\n' "$MODE" "$1" "${2//\"/\"\"}" "${3//\"/\"\"}" \
		"${4//\"/\"\"}" "${5//\"/\"\"}" "$6" "$7" "$8" "$9" "${10}" "${11:-}" "${12:-}" >> "$CSV"
}
# A row of the table: interface, code, IOPS, x fio, the rounds' lowest and
# highest x fio, CPU per read.
row() { printf '  %-50s %-10s %9s %6s %10s %9s\n' "$@"; }
NOTES=()

# compare QD CHAPTER INTERFACE FIO_JOB FIO_OPTIONS PROGRAM_ARGS: REPEAT
# rounds of fio and every tree's program, the order reversed every other
# round; prints a row per tree and one for fio (medians; x fio: the median of
# each round's ratio to that round's fio), and the same rows to the CSV.
compare() {
	local qd=$1 ch=$2 label=$3 job=$4 fopts=$5 dargs=$6 nn=${2%%-*}
	local -a fo da order
	local -A iops cpu ratios state why rate
	local round who r f reads impl dir i
	fopts=${fopts//@BATCH@/--iodepth_batch_submit=@QD@ --iodepth_batch_complete_max=@QD@}
	read -r -a fo <<<"${fopts//@QD@/$qd}"
	dargs=${dargs//@QD@/$qd}
	dargs=${dargs//@FILE@/$FILE}
	case " ${fo[*]} " in *" --direct=1 "*) COLD=0 ;; *) COLD=1 ;; esac
	for impl in "${IMPLS[@]}"; do
		state[$impl]=ok
		[ -n "${BUILT[$impl/$ch]}" ] || { state[$impl]="not built"; why[$impl]="does not build"; }
	done
	for round in $(seq 1 "$REPEAT"); do
		order=(fio "${IMPLS[@]}")
		if [ $((round % 2)) = 0 ]; then
			for ((i = ${#order[@]} - 1; i >= 0; i--)); do printf '%s\n' "${order[i]}"; done > "$TMP/order"
			mapfile -t order < "$TMP/order"
		fi
		f=
		for who in "${order[@]}"; do
			if [ "$who" = fio ]; then
				run_fio "${fo[@]}" || { echo "bench: fio ${fo[*]} failed: $(head -c 300 "$TMP/fio.out")" >&2; continue; }
				f=$IOPS rate[fio]=$IOPS
				iops[fio]+=" $IOPS" cpu[fio]+=" $CPU_PER_READ"
				continue
			fi
			[ "${state[$who]}" = ok ] || continue
			# A run of about SECS at the program's own rate, known from
			# its last run, or from a short one first (a tenth of a run at
			# fio's rate): a slow program does not stretch the bench.
			dir=${BUILT[$who/$ch]}
			if [ -z "${rate[$who]:-}" ]; then
				reads=${rate[fio]:-10000}
				run_program "$dir" "$dargs" $((reads * SECS / 10 + 100)) && rate[$who]=$IOPS
			fi
			if [ -z "${rate[$who]:-}" ] || ! run_program "$dir" "$dargs" $((${rate[$who]} * SECS + 100)); then
				state[$who]="not done"
				why[$who]=$RUN_WHY
				continue
			fi
			rate[$who]=$IOPS
			iops[$who]+=" $IOPS" cpu[$who]+=" $CPU_PER_READ"
			printf '%s %s\n' "$who" "$IOPS" >> "$TMP/round-$round"
		done
		# Each round's ratio to that round's fio.
		if [ -n "$f" ] && [ -s "$TMP/round-$round" ]; then
			while read -r who r; do ratios[$who]+=" $(ratio "$r" "$f")"; done < "$TMP/round-$round"
		fi
		rm -f "$TMP/round-$round"
	done
	local first=$label
	for impl in "${IMPLS[@]}"; do
		who=$(who_name "$impl")
		# shellcheck disable=SC2086 # the lists are space-separated numbers
		if [ "${state[$impl]}" = ok ] && [ -n "${iops[$impl]:-}" ]; then
			local mi mc mr n lo hi
			mi=$(median ${iops[$impl]}) mc=$(median ${cpu[$impl]}) mr=$(median ${ratios[$impl]:-})
			n=$(wc -w <<<"${iops[$impl]}")
			# The spread of the rounds' ratios: on a noisy disk one round
			# can be far from the others, and a median of three is only
			# as good as the spread says.
			lo=$(printf '%s\n' ${ratios[$impl]:-} | sort -g | head -n 1)
			hi=$(printf '%s\n' ${ratios[$impl]:-} | sort -g | tail -n 1)
			row "$first" "$who" "$mi" "${mr:--}" "${lo:+$lo-$hi}" "$mc"
			csv_row "$qd" "$label" "$job" "${impl#"$ROOT"/}" "$who" ok "$mi" "$mr" "$mc" "$n" "$lo" "$hi"
		else
			local shown="not done (make check CH=$nn)"
			[ "$impl" = "$ROOT/solutions" ] && shown="failed (see below)"
			printf '  %-50s %-10s %s\n' "$first" "$who" "$shown"
			csv_row "$qd" "$label" "$job" "${impl#"$ROOT"/}" "$who" "${state[$impl]}" "" "" "" 0
			NOTES+=("$who, $label at queue depth $qd: ${why[$impl]:-no run succeeded}")
		fi
		first=""
	done
	if [ -n "${iops[fio]:-}" ]; then
		local mi mc n
		# shellcheck disable=SC2086
		mi=$(median ${iops[fio]}) mc=$(median ${cpu[fio]})
		n=$(wc -w <<<"${iops[fio]}")
		row "  beside: $job" fio "$mi" "" "" "$mc"
		csv_row "$qd" "$label" "$job" fio fio ok "$mi" "" "$mc" "$n"
	else
		printf '  %-50s %-10s %s\n' "  beside: $job" fio "failed (see above)"
		csv_row "$qd" "$label" "$job" fio fio failed "" "" "" 0
	fi
}

# ---------------------------------------------------------------- the run
# Queue depth 1 comes first when a blocking interface runs at it.
read -r -a QD_LIST <<<"$QDS"
DEPTHS=$( (printf '%s\n' "${QD_LIST[@]}"; interfaces | awk -F'|' -v m="$MODE" 'index(" " $2 " ", " " m " ") && $3 == 1 { print 1 }') | sort -n -u)
mapfile -t LINES < <(interfaces)
names=""
for impl in "${IMPLS[@]}"; do names+="$(who_name "$impl") (${impl#"$ROOT"/}), "; done
echo "bench: $MODE run$([ "$MODE" = quick ] && echo " (make bench FULL=1: queue depths 1, 32 and 128, 1 GiB, 3 s runs)")"
echo "  file:    $FILE, $SIZE_MB MiB of random data"
echo "  reads:   4 KiB at random offsets, O_DIRECT (01: buffered, the file evicted from the page cache before each run)"
echo "  runs:    about $SECS s each, medians of $REPEAT rounds, fio and the programs alternating (order reversed every round)"
echo "  code:    ${names}and $(fio --version)"
echo "  machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run;" \
	"absolute numbers are this machine's at this moment: read the ratios"
row "interface (and the fio job it is compared with)" "code" "IOPS" "x fio" "rounds" "CPU us/rd"
for qd in $DEPTHS; do
	echo "  -- queue depth $qd"
	for line in "${LINES[@]}"; do
		IFS='|' read -r ch modes depths label job fopts dargs <<<"$line"
		case " $modes " in *" $MODE "*) ;; *) continue ;; esac
		if [ "$depths" = 1 ]; then
			[ "$qd" = 1 ] || continue
		else
			case " ${QD_LIST[*]} " in *" $qd "*) ;; *) continue ;; esac
		fi
		compare "$qd" "$ch" "$label" "$job" "$fopts" "$dargs"
	done
done
echo "  x fio: the median of the rounds' ratios of IOPS to fio's (above 1: faster than fio);"
echo "  rounds: the lowest and the highest of those ratios (a wide range: the disk's noise, run it again)."
echo "  CPU us/rd: user + system time per read of the whole program (its threads, the SQ thread);"
echo "  fio's without its start and stop (the CPU time of the same job making one read)."

# not_done TREE CHAPTER WHAT: the row of a tree whose program could not run,
# and the reason among the notes.
xrow() { printf '  %-50s %-10s %9s %9s %7s\n' "$@"; }
not_done() {
	local who nn=${2%%-*}
	who=$(who_name "$1")
	if [ "$1" = "$ROOT/solutions" ]; then
		printf '  %-50s %-10s %s\n' "$3" "$who" "failed (see below)"
	else
		printf '  %-50s %-10s %s\n' "$3" "$who" "not done (make check CH=$nn)"
	fi
	NOTES+=("$who, $3: ${RUN_WHY:-does not build}")
}

# io_uring_enter calls per read at queue depth 32: chapter 06's batched
# module, chapter 08's with and without SQPOLL, and fio's batched io_uring
# job beside them (strace -c -f counts the real system calls; liburing makes
# them inline, where LD_PRELOAD cannot see them).
# calls_row LABEL WHO: the row of the io_uring_enter calls strace counted in $TMP/strace.
calls_row() {
	local calls
	calls=$(awk '$NF == "io_uring_enter" { print $4 }' "$TMP/strace")
	xrow "$1" "$2" "${calls:-0}" "$(awk -v c="${calls:-0}" 'BEGIN { printf "%.3f", c / 20000 }')" ""
}
# enter_row LABEL CHAPTER PROGRAM_ARGS...: one row per tree.
enter_row() {
	local label=$1 ch=$2 impl dir
	shift 2
	for impl in "${IMPLS[@]}"; do
		RUN_WHY=
		dir=${BUILT[$impl/$ch]}
		if [ -z "$dir" ] || ! run_demo 20000 strace -f -c -o "$TMP/strace" -e trace=io_uring_enter \
			"$dir/demo" "$@" >/dev/null; then
			not_done "$impl" "$ch" "$label"
			continue
		fi
		calls_row "$label" "$(who_name "$impl")"
	done
}
if command -v strace >/dev/null 2>&1; then
	echo "  -- io_uring_enter calls per read: 20000 reads at queue depth 32, O_DIRECT, strace -c -f"
	xrow "" "code" "calls" "per read" ""
	enter_row "06 batched ring (ubatch_read)" 06-uring-batching --direct --qd 32 --random 20000 "$FILE"
	for mode in "" --sqpoll; do
		enter_row "08 ${mode:-plain ring}, fixed buffers + files" 08-uring-fixed \
			read "$FILE" --direct --qd 32 --n 20000 --fixed --files ${mode:+"$mode"}
	done
	if strace -f -c -o "$TMP/strace" -e trace=io_uring_enter fio --name=bench --filename="$FILE" \
		--rw=randread --bs=4k --ioengine=io_uring --iodepth=32 --direct=1 \
		--iodepth_batch_submit=32 --iodepth_batch_complete_max=32 --number_ios=20000 \
		--output-format=terse > /dev/null 2>&1; then
		calls_row "  beside: fio io_uring, batched submits" fio
	fi
fi

# Chapter 07 (full run): the linked copy (lcopy, read -> write pairs with
# IOSQE_IO_LINK) beside chapter 06's copy (a read, then the write once its
# CQE is seen), copying the bench file, alternating, the file evicted from
# the page cache before each run. Time ratio lcopy / copy: below 1, links win.
copy_ms() {
	local start
	rm -f "$FILE.copy"
	cold_cache
	start=$(date +%s%N)
	run_counted "$TMP/copy.out" "$LIMIT" "$@" "$FILE" "$FILE.copy" || {
		RUN_WHY=$(grep -m 1 . "$TMP/copy.out" | cut -c 1-160)
		RUN_WHY=${RUN_WHY:-failed}
		return 1
	}
	COPY_MS=$((($(date +%s%N) - start) / 1000000))
	cmp -s "$FILE" "$FILE.copy" || { RUN_WHY="the copy differs from the file"; return 1; }
}
if [ "$MODE" = full ]; then
	echo "  -- copying $SIZE_MB MiB (cold cache);" \
		"ms, medians; ratio: median of the rounds' ratios, below 1: links win"
	xrow "" "code" "lcopy" "copy" "ratio"
	for impl in "${IMPLS[@]}"; do
		copy=${BUILT[$impl/06-uring-batching]:+${BUILT[$impl/06-uring-batching]}/copy}
		lcopy=${BUILT[$impl/07-uring-link]:+${BUILT[$impl/07-uring-link]}/lcopy}
		ls_=() cs_=() rs_=() RUN_WHY='' failed=''
		[ -n "$copy" ] || failed=06-uring-batching
		[ -n "$lcopy" ] || failed=${failed:-07-uring-link}
		for _ in $(seq 1 "$REPEAT"); do
			[ -z "$failed" ] || break
			copy_ms "$copy" || { failed=06-uring-batching; break; }
			c=$COPY_MS
			copy_ms "$lcopy" || { failed=07-uring-link; break; }
			[ "$c" -gt 0 ] || continue
			cs_+=("$c") ls_+=("$COPY_MS") rs_+=("$(ratio "$COPY_MS" "$c")")
		done
		if [ -n "$failed" ] || [ ${#rs_[@]} = 0 ]; then
			not_done "$impl" "${failed:-07-uring-link}" "07 lcopy / 06 copy"
		else
			xrow "07 lcopy / 06 copy (lower is faster)" "$(who_name "$impl")" \
				"$(median "${ls_[@]}")" "$(median "${cs_[@]}")" "$(median "${rs_[@]}")"
		fi
	done
	rm -f "$FILE.copy"

	# Chapter 07: what a linked timeout adds to a request that completes at
	# once (4 KiB reads of a cached 1 MiB file, one at a time, with and without).
	head -c 1048576 "$FILE" > "$FILE.small"
	cat "$FILE.small" > /dev/null
	echo "  -- a deadline per request: chapter 07's demo cost, cached reads, medians of 5 rounds"
	for impl in "${IMPLS[@]}"; do
		dir=${BUILT[$impl/07-uring-link]}
		RUN_WHY=
		if [ -n "$dir" ] && run_counted "$TMP/cost.out" "$LIMIT" "$dir/demo" cost "$FILE.small" 20000 &&
			grep -q '^median: ' "$TMP/cost.out"; then
			sed -n "s/^median: /  $(who_name "$impl"): /p" "$TMP/cost.out"
		else
			[ -n "$dir" ] && RUN_WHY=$(grep -m 1 . "$TMP/cost.out" | cut -c 1-160)
			not_done "$impl" 07-uring-link "07 cost of a linked timeout"
		fi
	done
	rm -f "$FILE.small"
fi

# Each reason once (a skeleton fails the same way at every depth).
if [ ${#NOTES[@]} -gt 0 ]; then
	echo "  -- not measured, and why (make check CH=NN grades the chapter and says what is missing)"
	printf '%s\n' "${NOTES[@]}" | awk -F': ' '{ k = $1; sub(/,.*/, "", k); k = k ": " substr($0, length($1) + 3) } !seen[k]++ { print "  " $0 }'
fi

# ---------------------------------------------------------------- the picture
# IOPS against queue depth: per interface one colour, the trees' programs
# solid (the first tree) and dotted (the second), the fio job dashed. A run
# at a single queue depth (the quick one) is drawn as bars instead: a group
# per interface, a bar per tree and fio. gnuplot-nox draws it, when installed.
picture_lines() {
	awk -F'"' -v svg="$1" -v title="$2" '
		NR > 1 && $9 ~ /^,ok,/ {
			split($1, a, ","); split($9, b, ",")
			k = $2 " / " $4 " / " $8
			if (!(k in seen)) { seen[k] = ++n; iface[n] = $2; job[n] = $4; who[n] = $8
				if (!($2 SUBSEP $4 in colour)) colour[$2 SUBSEP $4] = ++colours }
			rows[seen[k]] = rows[seen[k]] a[2] " " b[3] "\n" }
		END {
			print "set terminal svg size 1100,640 dynamic noenhanced background rgb \"white\""
			print "set output \"" svg "\""
			print "set title \"" title "\""
			# Colours beyond the eight of gnuplot: no two interfaces share one.
			print "set linetype 9 lc rgb \"#8c564b\"; set linetype 10 lc rgb \"#e377c2\""
			print "set linetype 11 lc rgb \"#7f7f7f\"; set linetype 12 lc rgb \"#bcbd22\""
			print "set logscale x 2; set logscale y 10; set grid"
			print "set xlabel \"queue depth\"; set ylabel \"IOPS (median)\""
			print "set key outside right top font \",9\""
			printf "plot "
			for (k = 1; k <= n; k++) {
				c = colour[iface[k] SUBSEP job[k]]
				if (who[k] == "fio") { dt = 2; t = job[k] }
				else { dt = (who[k] in style) ? style[who[k]] : (style[who[k]] = ++styles == 1 ? 1 : 3)
					t = iface[k] " (" who[k] ")" }
				printf "%s\047-\047 using 1:2 with linespoints lt %d dt %d title \"%s\"", (k > 1 ? ", " : ""), c, dt, t
			}
			print ""
			for (k = 1; k <= n; k++) printf "%se\n", rows[k]
		}' "$CSV"
}
picture_bars() {
	awk -F'"' -v svg="$1" -v title="$2" '
		NR > 1 {
			split($1, a, ","); split($9, b, ",")
			g = $2 " (QD " a[2] ")"
			if (!(g in group)) { group[g] = ++n; gname[n] = g }
			w = $8
			if (!(w in col)) { col[w] = ++m; wname[m] = w }
			v[group[g], col[w]] = (b[2] == "ok") ? b[3] : "-" }
		END {
			print "set terminal svg size 1100,640 dynamic noenhanced background rgb \"white\""
			print "set output \"" svg "\""
			print "set title \"" title "\""
			print "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1"
			print "set datafile missing \"-\"; set grid ytics; set yrange [0:*]"
			print "set ylabel \"IOPS (median)\"; set xtics rotate by -30 font \",9\""
			print "set key outside right top"
			print "$d << EOD"
			for (i = 1; i <= n; i++) { printf "\"%s\"", gname[i]; for (j = 1; j <= m; j++) printf " %s", ((i, j) in v) ? v[i, j] : "-"; print "" }
			print "EOD"
			printf "plot "
			for (j = 1; j <= m; j++) printf "%s$d using %d%s title \"%s\"", (j > 1 ? ", " : ""), j + 1, (j == 1 ? ":xtic(1)" : ""), wname[j]
			print ""
		}' "$CSV"
}
if command -v gnuplot >/dev/null 2>&1 && [ "$(wc -l < "$CSV")" -gt 1 ]; then
	title="4 KiB random reads, O_DIRECT (01: buffered), $SIZE_MB MiB, $MODE run of $(date +%F)"
	if [ ${#QD_LIST[@]} -gt 1 ]; then
		picture_lines "$REPORT_DIR/bench.svg" "$title" > "$REPORT_DIR/bench.gp"
	else
		picture_bars "$REPORT_DIR/bench.svg" "$title" > "$REPORT_DIR/bench.gp"
	fi
	if gnuplot "$REPORT_DIR/bench.gp" 2>"$TMP/gnuplot.err"; then
		echo "bench: $CSV and $REPORT_DIR/bench.svg"
	else
		echo "bench: $CSV (gnuplot could not draw $REPORT_DIR/bench.svg: $(head -c 300 "$TMP/gnuplot.err"))"
	fi
else
	echo "bench: $CSV (install gnuplot-nox for a picture of it)"
fi
