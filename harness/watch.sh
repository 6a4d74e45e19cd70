#!/usr/bin/env bash
# harness/watch.sh - grade a chapter again each time one of its files is saved.
#
#   harness/watch.sh IMPL CH        (make watch CH=NN [IMPL=...] [T=NN.MM])
#
# Grades chapter CH of IMPL (exercises/ by default) once, then again after
# each change to a file of IMPL/NN-topic/ (editor files aside: hidden files,
# *~, *.swp, #...#, vim's 4913), the same as make check CH=NN (T=NN.MM:
# that one test), so a grading of exercises/ is kept for make progress too.
# It waits with inotifywait when it is installed (inotify-tools), otherwise it
# looks at the files' times every second. A change saved while a grading runs
# starts the next one as soon as it ends. Ctrl-C stops it, and the grading in
# progress with it.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${1:-exercises}
CH=${2:-}
POLL=${WATCH_POLL:-0}   # WATCH_POLL=1: poll even when inotifywait is there

[ -n "$CH" ] || { echo "make watch: say which chapter, e.g. make watch CH=01" >&2; exit 2; }
chapter=""
for d in "$ROOT"/harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	if [ "$CH" = "${c%%-*}" ] || [ "$CH" = "$c" ]; then
		chapter=$c
	fi
done
[ -n "$chapter" ] || { echo "make watch: no chapter matches CH=$CH (have: $(cd "$ROOT/harness" && echo [0-9][0-9]-*))" >&2; exit 2; }
nn=${chapter%%-*}
if [ ! -d "$IMPL" ]; then
	. "$ROOT/harness/common.sh"
	no_such_impl "$ROOT" "$IMPL" watch "$nn"
	exit 2
fi
dir=$IMPL/$chapter
[ -d "$dir" ] || { echo "make watch: $dir is not a directory (copy exercises/$chapter there to start)" >&2; exit 2; }

use_inotify=0
if [ "$POLL" != 1 ] && command -v inotifywait >/dev/null 2>&1; then
	use_inotify=1
fi

# state: what the watched files are now (name, time to the nanosecond, size).
state() {
	find "$dir" -type f ! -name '.*' ! -name '*~' ! -name '*.sw[a-p]' ! -name '#*#' ! -name 4913 \
		-printf '%P\t%T@\t%s\n' 2>/dev/null | LC_ALL=C sort
}

grader="" waiter=""
stop() {
	trap '' INT TERM
	# The grading is a job with a process group of its own (set -m): Ctrl-C
	# reaches its make, compilers and tests as it would under make check,
	# and grade.sh cleans up.
	[ -n "$grader" ] && kill -INT -- "-$grader" 2>/dev/null
	[ -n "$waiter" ] && kill -TERM "$waiter" 2>/dev/null
	wait 2>/dev/null
	echo
	echo "watch: stopped."
	exit 0
}
trap stop INT TERM

grade() {
	printf '\n== watch: %s: grading chapter %s of %s\n' "$(date +%H:%M:%S)" "$nn" "$IMPL"
	set -m
	ONLY_TEST=${ONLY_TEST:-} "$ROOT/harness/progress.sh" --grade "$IMPL" "$nn" </dev/null &
	grader=$!
	set +m
	wait "$grader"
	rc=$?
	grader=""
	# T=NN.MM grades that test alone: its verdict is the status (grade.sh).
	if [ -n "${ONLY_TEST:-}" ] && [ "$rc" = 0 ]; then
		result="$ONLY_TEST passes (make check CH=$nn runs every test)"
	elif [ -n "${ONLY_TEST:-}" ]; then
		result="$ONLY_TEST does not pass yet (status $rc)"
	elif [ "$rc" = 0 ]; then
		result="full marks"
	else
		result="not at full marks yet (status $rc)"
	fi
	if [ "$use_inotify" = 1 ]; then how="inotifywait"; else how="a look every second"; fi
	printf '== watch: %s: %s. Waiting for a change in %s/ (%s); Ctrl-C to stop.\n' \
		"$(date +%H:%M:%S)" "$result" "$dir" "$how"
}

# wait_change: return once the files differ from $graded.
wait_change() {
	while [ "$(state)" = "$graded" ]; do
		if [ "$use_inotify" = 1 ]; then
			# At most 2 s: a change made before the watch was set up is seen
			# by the comparison above on the next turn.
			inotifywait -q -q -r -t 2 -e close_write,moved_to,moved_from,create,delete,attrib "$dir" &
		else
			sleep 1 &
		fi
		waiter=$!
		wait "$waiter"
		waiter=""
	done
	# Let an editor finish its save (write, rename) before grading.
	sleep 0.3 &
	waiter=$!
	wait "$waiter"
	waiter=""
}

while :; do
	graded=$(state)
	grade
	wait_change
done
