#!/usr/bin/env bash
# harness/grade.sh - grade an implementation tree, chapter by chapter.
#
#   harness/grade.sh IMPL [CH]      (make check IMPL=... CH=... calls this)
#
# IMPL is a tree laid out like exercises/ (NN-topic/<files>); it is read,
# never written. Builds go to build/<tag>/, reports to build/reports/.
# Exit status: 0 only at full marks of what was graded.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${1:?usage: grade.sh IMPL [CH]}
CH=${2:-}
SAN=${SAN:-0}
REPORTS=${REPORTS:-$ROOT/build/reports}
MAKE=${MAKE:-make}
# A runner that is still going after this long is stuck, whatever the tests'
# own limits say.
CHAPTER_LIMIT=${CHAPTER_LIMIT:-600}

IMPL=$(cd "$IMPL" 2>/dev/null && pwd) || { echo "grade: no such directory: $1" >&2; exit 2; }
. "$ROOT/harness/common.sh"
BUILD=$(impl_build_dir "$ROOT" "$IMPL")

"$ROOT/harness/deps.sh" --check || exit 2
"$MAKE" -s -C "$ROOT" tools >/dev/null || { echo "grade: cannot build the report tool" >&2; exit 2; }
REPORT=$ROOT/build/tools/report

chapters=()
for d in "$ROOT"/harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	if [ -z "$CH" ] || [ "$CH" = "${c%%-*}" ] || [ "$CH" = "$c" ]; then
		chapters+=("$c")
	fi
done
if [ ${#chapters[@]} -eq 0 ]; then
	echo "grade: no chapter matches CH=$CH (have: $(cd "$ROOT/harness" && echo [0-9][0-9]-*))" >&2
	exit 2
fi

mkdir -p "$REPORTS"
# Only the chapters graded now: another grading may be writing the others.
for c in "${chapters[@]}"; do rm -f "$REPORTS/chapter-${c%%-*}.tsv"; done
# Report every test of the chapter as failed with one reason (it did not build,
# its directory is missing, the runner died), so the points still show.
list_failed() {
	"${mk[@]}" list >/dev/null 2>&1 && "$out/list" --grade-list-failed "$1" > "$tsv"
}

results=()
for c in "${chapters[@]}"; do
	nn=${c%%-*}
	out=$BUILD/$c
	tsv=$REPORTS/chapter-$nn.tsv
	mk=("$MAKE" -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT"
	    CHAPTER="$c" IMPL_DIR="$IMPL/$c" OUT="$out" SAN="$SAN" WERROR="${WERROR:-0}")
	echo "== $c  ($IMPL/$c)"
	why=""
	if [ ! -d "$IMPL/$c" ]; then
		why="the directory $IMPL/$c is missing: copy exercises/$c there to start"
	elif ! "${mk[@]}" tests programs; then
		why="your code does not build: read the compiler errors above (make check CH=$nn)"
	fi
	if [ -n "$why" ]; then
		list_failed "$why"
	else
		tmp=$BUILD/tmp/$c
		rm -rf "$tmp" && mkdir -p "$tmp"
		rm -f "$tsv"
		# Programs of the exercise are graded from outside through this path.
		# Criterion's own lines are dropped (the report says it all); what the
		# code under test prints, and sanitizer reports, stay on stderr. A
		# runner that dies without reporting (not a test: the runner itself)
		# gets one more try, so that a fault of the runner never costs points.
		for attempt in 1 2; do
			{
				GRADE_RESULTS=$tsv GRADE_TMPDIR=$tmp GRADE_PROGRAMS=$out \
					GRADE_SANITIZE=$([ "$SAN" = 1 ] && echo 1) \
					timeout -k 5 "$CHAPTER_LIMIT" "$out/tests" 2>&1 1>&3 |
					grep -v -E '^\[(----|====|RUN |PASS|FAIL|SKIP|ERR |WARN)\]' >&2
				rc=${PIPESTATUS[0]}
			} 3>&1
			[ -s "$tsv" ] && break
			echo "grade: the test runner of $c stopped (status $rc) without reporting; running it again" >&2
		done
		[ -s "$tsv" ] || list_failed "the test runner stopped (status $rc) before it reported; run $out/tests --verbose to see why"
		rm -rf "$tmp"
	fi
	if [ -s "$tsv" ]; then
		"$REPORT" lines "$tsv"
		results+=("$tsv")
	else
		echo "grade: chapter $c produced no results" >&2
	fi

done

"$REPORT" summary --json "$REPORTS/results.json" --junit "$REPORTS/junit.xml" "${results[@]}"
