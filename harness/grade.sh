#!/usr/bin/env bash
# harness/grade.sh - grade an implementation tree, chapter by chapter.
#
#   harness/grade.sh IMPL [CH]      (make check IMPL=... CH=... calls this)
#
# IMPL is a tree laid out like exercises/ (NN-topic/<files>); it is read,
# never written. Exit status: 0 only at full marks of what was graded (with
# ONLY_TEST, below: when that test passed).
#
# The grade belongs to the grader, not to the code it grades:
#   - only the files the chapter names are taken from IMPL, as regular files
#     of sane size, into a private directory of this grading;
#   - they are compiled in a sandbox (harness/sandbox.sh) that cannot see the
#     course's solutions, with the contract's include path only, and vetted
#     before linking (harness/vet.sh);
#   - the tests run in the sandbox too, under limits; the verdicts reach this
#     script on a descriptor that only the test runner holds, and are checked
#     (harness/tools/report.c, `report check`) against the list of tests and
#     points taken from a binary built without the learner's code, and skips
#     against what the course's own probe found on this machine;
#   - learner output is cleaned and bounded before it reaches the console or
#     a report; reports are written whole, then renamed into place.
set -u

case $0 in */*) ROOT=${0%/*} ;; *) ROOT=. ;; esac
ROOT=$(cd "$ROOT/.." && pwd)
IMPL_ARG=${1:?usage: grade.sh IMPL [CH]}
CH=${2:-}
SAN=${SAN:-0}
REPORTS=${REPORTS:-$ROOT/build/reports}
MAKE=${MAKE:-make}
# FAIL_FAST=1 (make test's mutants): stop a chapter at its first failed test;
# the tests not run then count as failed. Only "does it lose points" is known.
# ONLY_TEST=NN.MM (make check T=NN.MM): run that one test of chapter NN; the
# others count as not run (as failed in the reports). The console says that
# test's verdict, and the exit status is 0 when it passed. For a learner
# fixing one failure, and for make test, which knows the test that catches
# each mutant.
ONLY_TEST=${ONLY_TEST:-}
if [ -n "$ONLY_TEST" ]; then
	case "$ONLY_TEST" in
	[0-9][0-9].[0-9][0-9]) ;;
	*) echo "grade: T=$ONLY_TEST: write the test's number as the report shows it, e.g. T=05.10" >&2; exit 2 ;;
	esac
	if [ -n "$CH" ] && [ "$CH" != "${ONLY_TEST%%.*}" ] && [ "${CH%%-*}" != "${ONLY_TEST%%.*}" ]; then
		echo "grade: T=$ONLY_TEST is a test of chapter ${ONLY_TEST%%.*}, not of CH=$CH" >&2
		exit 2
	fi
	CH=${ONLY_TEST%%.*}
fi
#
# A runner still going after this long is stuck, whatever the tests' own
# limits say; a build, after BUILD_LIMIT.
CHAPTER_LIMIT=${CHAPTER_LIMIT:-600}
BUILD_LIMIT=${BUILD_LIMIT:-180}
# The largest source file taken from a learner's tree.
MAX_SOURCE_BYTES=$((1024 * 1024))
# The most console output of the learner's code shown per chapter.
MAX_OUTPUT_BYTES=${MAX_OUTPUT_BYTES:-65536}

. "$ROOT/harness/common.sh"
IMPL=$(cd "$IMPL_ARG" 2>/dev/null && pwd) || { no_such_impl "$ROOT" "$IMPL_ARG" grade "$CH"; exit 2; }
. "$ROOT/harness/sandbox.sh"

# make test's own gradings (harness/selftest.sh), set by the caller only,
# never by anything a learner controls, save what one grading of many
# repeats:
#   GRADE_PREPARED=1      the packages were checked and build/tools built by
#                         the caller just before;
#   GRADE_FACTS_CACHE=F   the probe's facts (below) of the first grading are
#                         kept in F and read by the next (same machine, same
#                         build/ filesystem, same run);
#   GRADE_SANDBOX_CHECKED=1  (with GRADE_PREPARED) the caller tried the
#                         sandbox (sandbox_check) before, and it started: this
#                         grading is sandboxed without trying again;
#   GRADE_REUSE=REF:OBJ   a source file byte for byte the same as REF/<file>
#                         is not compiled again: its objects are taken from
#                         OBJ/impl, a build of REF by harness/mk/chapter.mk
#                         with this grading's SAN and WERROR (a mutant
#                         changes one file of a chapter; the others are the
#                         reference's);
#   GRADE_PKG_VARS=LINES  (with GRADE_PREPARED) the libraries' flags, one
#                         VAR=value per line (make pkg-vars), given to each
#                         make of this grading instead of its own pkg-config.
PKG_VARS=()
if [ -z "${GRADE_PREPARED:-}" ]; then
	"$ROOT/harness/deps.sh" --check || exit 2
	"$MAKE" -s -C "$ROOT" tools >/dev/null || { echo "grade: cannot build the report tool" >&2; exit 2; }
elif [ -n "${GRADE_PKG_VARS:-}" ]; then
	mapfile -t PKG_VARS <<< "$GRADE_PKG_VARS"
fi
REPORT=$ROOT/build/tools/report
PROBE=$ROOT/build/tools/probe
sandbox_check || exit 2

mapfile -t chapters < <(chapters_matching "$ROOT" "$CH")
if [ ${#chapters[@]} -eq 0 ]; then
	echo "grade: no chapter matches CH=$CH (have: $(cd "$ROOT/harness" && echo [0-9][0-9]-*))" >&2
	exit 2
fi

# Everything of this grading lives in its own directory, removed at the end:
# two gradings at the same time (an instructor's class, make test) never
# share a file.
mkdir -p "$ROOT/build/grading" "$REPORTS" || exit 2
PRIV=$(mktemp -d "$ROOT/build/grading/run.XXXXXX") || exit 2
# The compiler and the sanitizers name the learner's files by the private
# copy they were built from ($PRIV/src/NN-topic/file.c): on the console that
# prefix becomes the tree graded, as the learner knows it (relative to the
# current directory when the tree is inside it: exercises/NN-topic/file.c),
# so that an editor can jump to the line. report sanitize replaces that one
# string, then cleans the line as it cleans any other.
case "$IMPL/" in
"$PWD"/?*) SHOWN_IMPL=${IMPL#"$PWD"/} ;;
*) SHOWN_IMPL=$IMPL ;;
esac
MAP_PATHS=(--path-from "$PRIV/src/" --path-to "$SHOWN_IMPL/")
# No report of an earlier grading may stand in for this one if it is
# stopped half way: the new ones are renamed into place at the end.
rm -f "$REPORTS/results.json" "$REPORTS/junit.xml"
trap 'rm -rf "$PRIV"; sandbox_cleanup' EXIT

# Ctrl-C: the build and the test runner run under timeout, in a process
# group of their own, so the terminal's SIGINT reaches only this script; and
# bash runs a trap only once the command it waits for in the foreground has
# ended. So they run in the background, waited for with `wait`, which a
# signal interrupts at once, and the trap ends them (every descendant of
# this script, leaves first: timeout passes the signal on, the sandbox dies
# with its parent) before the grading stops.
descendants() {
	local pid=$1 child
	for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		descendants "$child"
		echo "$child"
	done
}
interrupted() {
	trap - INT TERM
	# shellcheck disable=SC2046  # one pid per word
	kill -TERM $(descendants $$) 2>/dev/null
	echo "grade: interrupted" >&2
	exit 130
}
trap interrupted INT TERM

# copy_sources CHAPTER DEST FILES: copy the files the chapter grades (its
# make sources, a line of names) from the learner's tree; on refusal print
# why and return 1.
copy_sources() {
	local c=$1 dest=$2 files=$3 f src size
	if [ -L "$IMPL/$c" ] || [ ! -d "$IMPL/$c" ]; then
		[ -e "$IMPL/$c" ] || [ -L "$IMPL/$c" ] || { echo "the directory $IMPL/$c is missing: copy exercises/$c there to start"; return 1; }
		echo "$IMPL/$c must be a directory, not a link or a file"
		return 1
	fi
	[ -d "$dest" ] || mkdir -p "$dest"
	for f in $files; do
		src=$IMPL/$c/$f
		if [ -L "$src" ]; then
			echo "$f is a symbolic link: the grader takes only regular files (copy the file itself there)"
			return 1
		elif [ ! -e "$src" ]; then
			echo "$f is missing from $IMPL/$c: copy it from exercises/$c"
			return 1
		elif [ ! -f "$src" ]; then
			echo "$f is not a regular file (a FIFO, a device or a directory): the grader takes only regular files"
			return 1
		fi
		size=$(stat -c %s -- "$src") || return 1
		if [ "$size" -gt "$MAX_SOURCE_BYTES" ]; then
			echo "$f is $size bytes: the grader takes source files up to $MAX_SOURCE_BYTES bytes"
			return 1
		fi
		cp -- "$src" "$dest/$f" || { echo "cannot read $f"; return 1; }
	done
	return 0
}

# The learner's build: in the sandbox, seeing the contract, the harness's
# build rules and its prebuilt objects read-only (never solutions/ or the
# mutants), writing only its output directory.
build_learner() {
	local c=$1 src=$2 out=$3 m masks=()
	for m in "$ROOT"/harness/*/mutants; do
		[ -d "$m" ] && masks+=(--mask "$m")
	done
	(
		sandbox_limits "$BUILD_LIMIT"
		ulimit -S -v $((4 * 1024 * 1024)) 2>/dev/null
		ulimit -S -f $((256 * 1024)) 2>/dev/null
		sandbox_run --timeout "$BUILD_LIMIT" --ro "$ROOT/chapters" --ro "$ROOT/harness" "${masks[@]}" \
			--ro "$ROOT/build/harness" --ro "$src" --rw "$out" --chdir "$out" -- \
			"$MAKE" -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" \
			CHAPTER="$c" IMPL_DIR="$src" OUT="$out" SAN="$SAN" WERROR="${WERROR:-0}" "${PKG_VARS[@]}" tests programs
	) 2>&1 | "$REPORT" sanitize --max "$MAX_OUTPUT_BYTES" "${MAP_PATHS[@]}" >&2
	return "${PIPESTATUS[0]}"
}

# The environment of the tests: the program directory, the private temporary
# directory, and an instructor's COPY=, SERVER= or ECHO_SERVER= program.
test_sandbox_args() {
	local out=$1 tmp=$2 v p
	SBARGS=(--ro "$out" --rw "$tmp" --chdir "$tmp" --env GRADE_TMPDIR="$tmp" --env GRADE_PROGRAMS="$out")
	[ -n "${SEED:-}" ] && SBARGS+=(--env SEED="$SEED")
	[ "$SAN" = 1 ] && SBARGS+=(--env GRADE_SANITIZE=1)
	for v in COPY SERVER ECHO_SERVER; do
		p=${!v:-}
		[ -n "$p" ] || continue
		p=$(realpath -e -- "$p" 2>/dev/null) || { echo "grade: $v=${!v} does not exist" >&2; continue; }
		SBARGS+=(--ro "$p" --env "$v=$p")
		# SERVER= names chapter 04's file server; when chapter 09 is the
		# only one graded, the server meant is its echo server.
		if [ "$v" = SERVER ] && [ -z "${ECHO_SERVER:-}" ] && [ ${#chapters[@]} = 1 ] &&
			[ "${chapters[0]%%-*}" = 09 ]; then
			SBARGS+=(--env "ECHO_SERVER=$p")
		fi
	done
	return 0
}

# run_tests OUT RAW: the chapter's test runner in the sandbox, its verdicts
# in RAW; the status is the runner's.
run_tests() {
	(
		sandbox_limits "$CHAPTER_LIMIT"
		sandbox_run --timeout "$CHAPTER_LIMIT" "${SBARGS[@]}" --env GRADE_RESULTS_FD=9 \
			-- "$1/tests" ${ONLY_TEST:+--grade-only "$ONLY_TEST"} ${FAIL_FAST:+--fail-fast} 9> "$2" 2>&1
	) | grep -a -v -E '^\[(----|====|RUN |PASS|FAIL|SKIP|ERR |WARN)\]' |
		"$REPORT" sanitize --prefix "  | " --max "$MAX_OUTPUT_BYTES" "${MAP_PATHS[@]}" >&2
	return "${PIPESTATUS[0]}"
}

# listed NN TEST LIST: whether LIST (a chapter's list of tests) has TEST.
listed() {
	local ch id _
	while IFS=$'\t' read -r ch id _; do
		[ "$ch" = "$1" ] && [ "$id" = "$2" ] && return 0
	done < "$3"
	return 1
}

results=()
facts=$PRIV/facts
for c in "${chapters[@]}"; do
	nn=${c%%-*}
	src=$PRIV/src/$c
	out=$PRIV/out/$c
	tmp=$PRIV/tmp/$c
	list=$PRIV/list-$nn.tsv
	raw=$PRIV/raw-$nn.tsv
	checked=$PRIV/chapter-$nn.tsv
	mk=("$MAKE" -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT"
	    CHAPTER="$c" IMPL_DIR="$src" OUT="$out" SAN="$SAN" WERROR="${WERROR:-0}" "${PKG_VARS[@]}")
	echo "== $c  ($IMPL/$c)"
	mkdir -p "$out/impl" "$tmp" "$src"

	# The list of tests and points comes from a binary without learner code.
	# One make builds it and then prints where it is and which files the
	# chapter grades (its last two lines; anything before them is the
	# build's, shown as it was).
	# Gradings of one chapter side by side (make test, a class) share these
	# objects: one builds them at a time, the others then find them made
	# (make test once failed in objcopy while two wrote one back-end at
	# once). A lock held too long (5 minutes) is waited for no longer.
	# (A lock that cannot be opened, in a build/ not ours, is done without.)
	lock=$ROOT/build/.harness-$nn.lock
	{ [ -e "$lock" ] || : >"$lock"; } 2>/dev/null
	if { exec 9<"$lock"; } 2>/dev/null; then
		flock -w 300 9 || echo "grade: building $c without the build lock ($lock is held)" >&2
	fi
	made=()
	mapfile -t made < <("${mk[@]}" harness list list-path sources 9<&-)
	wait $! && [ ${#made[@]} -ge 2 ] && made_ok=1 || made_ok=0
	exec 9<&-
	[ ${#made[@]} -le 2 ] || printf '%s\n' "${made[@]:0:${#made[@]}-2}" >&2
	if [ "$made_ok" = 0 ] || ! cp "${made[-2]}" "$list"; then
		echo "grade: the grader's own build of $c failed (make test shows why)" >&2
		continue
	fi
	sources=${made[-1]}

	if [ -n "$ONLY_TEST" ] && ! listed "$nn" "$ONLY_TEST" "$list"; then
		echo "grade: chapter $nn has no test $ONLY_TEST (make check CH=$nn lists them)" >&2
		exit 2
	fi

	why=""
	if ! why=$(copy_sources "$c" "$src" "$sources"); then
		why="your files were not graded: $why"
	elif [ -n "${GRADE_REUSE:-}" ] && ! reuse_objects "$src" "$out" "${GRADE_REUSE%%:*}" "${GRADE_REUSE#*:}"; then
		why="the grader could not reuse the reference's objects (GRADE_REUSE=$GRADE_REUSE)"
	elif ! { build_learner "$c" "$src" "$out" & wait $!; }; then
		if [ -s "$out/refused.txt" ]; then
			why="your code was refused before it ran: $(cat "$out/refused.txt")"
		else
			why="your code does not build: read the compiler errors above (make check CH=$nn). Only $(cd "$src" && echo *) are taken from your tree, compiled against the chapter's headers; a helper shared between your files must be declared in the contract, so make helpers static"
		fi
	fi

	if [ -z "$why" ]; then
		test_sandbox_args "$out" "$tmp"
		# What this machine can do, found by the course's probe without any
		# learner code, in the tests' sandbox, once per grading; a test may
		# skip only for a reason confirmed here.
		# (make test's cache is read where it is: written whole, then
		# renamed into place.)
		if [ ! -s "$facts" ] && [ -n "${GRADE_FACTS_CACHE:-}" ] && [ -s "$GRADE_FACTS_CACHE" ]; then
			facts=$GRADE_FACTS_CACHE
		fi
		if [ ! -s "$facts" ]; then
			sandbox_run --timeout 60 "${SBARGS[@]}" --ro "$PROBE" -- "$PROBE" facts "$tmp" > "$facts" 2>/dev/null
			if [ -n "${GRADE_FACTS_CACHE:-}" ] && [ -s "$facts" ]; then
				cp "$facts" "$GRADE_FACTS_CACHE.$$" && mv "$GRADE_FACTS_CACHE.$$" "$GRADE_FACTS_CACHE"
			fi
		fi
		# The runner writes its verdicts on descriptor 9, which it alone
		# holds (harness/lib/grade.c). Criterion's own lines are dropped (the
		# report says it all); what the code under test prints, and sanitizer
		# reports, are shown cleaned and bounded. A runner that dies without
		# reporting gets one more try, so that a fault of the runner never
		# costs points.
		for attempt in 1 2; do
			: > "$raw"
			run_tests "$out" "$raw" & wait $!
			rc=$?
			[ -s "$raw" ] && break
			[ "$attempt" = 1 ] && echo "grade: the test runner of $c stopped (status $rc) without reporting; running it again" >&2
		done
		"$REPORT" check --list "$list" --facts "$facts" --out "$checked" \
			--why-missing "the test runner stopped (status $rc) before it reported this test: read the output above" "$raw"
	else
		"$REPORT" check --list "$list" --facts /dev/null --out "$checked" --why-missing "$why"
	fi
	if [ -s "$checked" ]; then
		"$REPORT" lines ${ONLY_TEST:+--only "$ONLY_TEST"} "$checked"
		results+=("$checked")
		cp "$checked" "$REPORTS/.chapter-$nn.tsv.$$" && mv "$REPORTS/.chapter-$nn.tsv.$$" "$REPORTS/chapter-$nn.tsv"
	else
		echo "grade: chapter $c produced no results" >&2
	fi
	# The last chapter's goes with the rest of $PRIV, at exit.
	[ "$c" = "${chapters[-1]}" ] || rm -rf "$tmp"
done

# T=NN.MM: the summary is that test's verdict, and so is the exit status.
"$REPORT" summary ${ONLY_TEST:+--only "$ONLY_TEST"} --json "$REPORTS/results.json" \
	--junit "$REPORTS/junit.xml" "${results[@]}"
