#!/usr/bin/env bash
# harness/class.sh - grade a whole class (make grade-class SUBMISSIONS=dir [CH=NN]).
#
#   harness/class.sh SUBMISSIONS [CH]
#
# SUBMISSIONS holds one directory per student, each laid out like exercises/
# (NN-topic/<files>); the directory's name is the student's name. Each tree
# is graded by harness/grade.sh (sandboxed, read, never written), one after
# the other, each with its own report directory:
#
#   build/class/<student>/results.json, junit.xml, chapter-NN.tsv, grade.log
#   build/class.csv     student, one column per chapter, total, max, note
#
# Both are replaced by each run (copy them away to keep them). A line per
# student is printed as it is graded: name, score, time.
#
# Student names are untrusted: they are only ever passed as one argument or
# one path, shown cleaned (control characters as ?, valid UTF-8), and written
# to the CSV quoted, on one line, with a ' in front of a name that starts
# with = + - or @ (so that a spreadsheet does not read it as a formula).
#
# A student whose tree hangs or breaks costs only their own row: grade.sh
# bounds each build and chapter, and each student's whole grading is bounded
# by CLASS_TIMEOUT seconds (default: 900 per chapter graded); what it did not
# finish is blank in the CSV, and the note says why.
#
# Exit status: 0 when every student was graded, whatever the scores; 1 when
# the grader failed for some student (the note says so; the others are still
# graded); 2 on a usage error or when grading cannot start here.
#
# Environment: SANDBOX (default required here: untrusted code is graded
# only in the sandbox; SANDBOX=auto to allow grading unsandboxed), SAN,
# SEED, CLASS_TIMEOUT, and grade.sh's own limits (CHAPTER_LIMIT, BUILD_LIMIT).
set -u
export LC_ALL=C   # byte order for names, the same sort everywhere

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUB_ARG=${1:-}
CH=${2:-}
MAKE=${MAKE:-make}
export SANDBOX=${SANDBOX:-required}
OUT=$ROOT/build/class
CSV=$ROOT/build/class.csv
REPORT=$ROOT/build/tools/report

die() { echo "grade-class: $*" >&2; exit 2; }

[ -n "$SUB_ARG" ] || die "say where the submissions are: make grade-class SUBMISSIONS=dir [CH=NN] (one directory per student, each laid out like exercises/)"
SUB=$(cd -- "$SUB_ARG" 2>/dev/null && pwd -P) || die "no such directory: $SUB_ARG"

# The chapters graded, in order.
. "$ROOT/harness/common.sh"
mapfile -t chapters < <(chapters_matching "$ROOT" "$CH")
[ ${#chapters[@]} -gt 0 ] || die "no chapter matches CH=$CH (have: $(cd "$ROOT/harness" && echo [0-9][0-9]-*))"

case ${CLASS_TIMEOUT:-} in
'') CLASS_TIMEOUT=$((900 * ${#chapters[@]})) ;;
*[!0-9]* | 0) die "CLASS_TIMEOUT=$CLASS_TIMEOUT: give the seconds a student's grading may take, e.g. 900" ;;
esac

# The names come from the paths by parameter expansion, never through $(...),
# which would drop a trailing newline. Hidden entries (.git) are skipped.
students=()
shopt -s nullglob
for d in "$SUB"/*/; do
	d=${d%/}
	students+=("${d##*/}")
done
shopt -u nullglob
[ ${#students[@]} -gt 0 ] || die "no student directories in $SUB (one directory per student, each laid out like exercises/; names starting with . are skipped)"

# What every grading needs, checked once: the packages, the report tool, the
# sandbox. A machine that cannot grade fails here, not once per student.
"$ROOT/harness/deps.sh" --check || exit 2
"$MAKE" -s -C "$ROOT" tools >/dev/null || die "cannot build the report tool"
(
	. "$ROOT/harness/sandbox.sh"
	sandbox_check
) || exit 2

mkdir -p "$ROOT/build" || exit 2
# One class grading at a time in this checkout: they share build/class.
exec 8> "$ROOT/build/.class.lock" || exit 2
flock -n 8 || die "another make grade-class is running in this checkout (build/.class.lock)"

rm -rf -- "$OUT" "$CSV" || exit 2
mkdir -p -- "$OUT" || exit 2
WORK=$(mktemp -d "$ROOT/build/.class.XXXXXX") || exit 2
child=""
trap 'rm -rf -- "$WORK"' EXIT
# end_session SID: end what is left of a grading's session: TERM, then KILL
# what is still there 5 s later. (The sandbox's processes die with it.)
end_session() {
	local t
	pkill -TERM -s "$1" 2>/dev/null || return 0
	for t in 1 2 3 4 5 6 7 8 9 10; do
		pgrep -s "$1" >/dev/null 2>&1 || return 0
		sleep 0.5
	done
	pkill -KILL -s "$1" 2>/dev/null
	return 0
}

# Ctrl-C or TERM: the grading in progress ends with the run (timeout passes
# the signal on to every process of it); the students done keep their reports.
interrupted() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
		end_session "$child"
	fi
	echo "grade-class: interrupted: build/class.csv was not written; build/class/ holds the reports of the students graded so far" >&2
	exit 130
}
trap interrupted INT TERM

# clean_name NAME: the name as it may be shown or written: control
# characters as ?, valid UTF-8, no terminal escapes.
clean_name() {
	printf '%s' "$1" | tr '\000-\037\177' '?' | "$REPORT" sanitize --prefix '' --max 100000
}

# csv_field TEXT: one CSV field, quoted, quotes doubled, a formula defused.
csv_field() {
	local t=$1
	case $t in [=+@-]*) t="'$t" ;; esac
	printf '"%s"' "${t//\"/\"\"}"
}

# chapter_score TSV: "SCORE MAX" of a chapter's checked results (skipped
# tests are left out of the maximum, as in results.json).
chapter_score() {
	awk -F '\t' '!/^#/ && NF >= 6 { s += $4; if ($6 != "skip") m += $5 } END { printf "%d %d\n", s, m }' "$1"
}

width=8
for s in "${students[@]}"; do
	n=$(clean_name "$s")
	[ ${#n} -gt $width ] && width=${#n}
done
[ $width -gt 40 ] && width=40

echo "grade-class: ${#students[@]} student(s) in $SUB; chapter(s) ${chapters[*]%%-*}; at most $CLASS_TIMEOUT s each"

declare -A SCORE MAX
names=() notes=() failed=0 timedout=0 i=0
for s in "${students[@]}"; do
	name=$(clean_name "$s")
	names+=("$name")
	dest=$OUT/$s
	mkdir -- "$dest" || { echo "grade-class: cannot create build/class/$name" >&2; exit 2; }
	start=$(date +%s)
	# Its own report directory; a limit on the whole grading; a session of
	# its own (setsid: the background job is no group leader, so it does not
	# fork and $! is the session's id). timeout signals its process group;
	# what left that group (the sandbox's own timeout makes a group of its
	# own) is still in the session, and ended with it below: nothing of one
	# student's grading runs beside the next one's.
	# grade.sh is given a link of a plain name to the tree: it takes the
	# path through $(cd ...; pwd), which would drop a trailing newline.
	ln -sfn -- "$SUB/$s" "$WORK/submission" || exit 2
	REPORTS=$dest setsid timeout --kill-after=30 "$CLASS_TIMEOUT" \
		"$ROOT/harness/grade.sh" "$WORK/submission" "$CH" </dev/null >"$WORK/log" 2>&1 &
	child=$!
	wait "$child"
	rc=$?
	end_session "$child"
	child=""
	secs=$(($(date +%s) - start))
	# The log, cleaned again (it is the grader's, but it costs nothing).
	{
		printf 'student %s, tree %s/%s\n' "$name" "$SUB" "$name"
		cat "$WORK/log"
	} | "$REPORT" sanitize --prefix '' --max $((64 * 1024 * 1024)) >"$dest/grade.log"

	score=0 max=0 missing=()
	for c in "${chapters[@]}"; do
		nn=${c%%-*}
		if [ -s "$dest/chapter-$nn.tsv" ]; then
			read -r sc mx < <(chapter_score "$dest/chapter-$nn.tsv")
			SCORE[$i,$nn]=$sc MAX[$i,$nn]=$mx
			score=$((score + sc)) max=$((max + mx))
		else
			missing+=("$nn")
		fi
	done
	case $rc in
	0 | 1)
		if [ ${#missing[@]} -eq 0 ]; then
			note=""
		else
			note="grader failed: chapter(s) ${missing[*]} not graded (see its grade.log)"
			failed=$((failed + 1))
		fi ;;
	124 | 137)
		note="timed out after $CLASS_TIMEOUT s${missing[*]:+: chapter(s) ${missing[*]} not graded (blank), counted 0}"
		timedout=$((timedout + 1)) ;;
	*)
		note="grader failed (status $rc)${missing[*]:+: chapter(s) ${missing[*]} not graded} (see its grade.log)"
		failed=$((failed + 1)) ;;
	esac
	notes+=("$note")
	got="$score/$max" pct=""
	[ $max -gt 0 ] && pct="$((score * 100 / max))%"
	[ ${#missing[@]} -eq ${#chapters[@]} ] && got="-"
	printf '  [%d/%d] %-*s %9s %4s %5ds  %s\n' $((i + 1)) ${#students[@]} "$width" "$name" \
		"$got" "$pct" "$secs" "$note"
	i=$((i + 1))
done

# A chapter's maximum, for the students it was not graded for: the largest
# any student's grading found (skips aside, they are the same for all).
declare -A CHMAX
for c in "${chapters[@]}"; do
	nn=${c%%-*} m=0
	for ((j = 0; j < i; j++)); do
		[ -n "${MAX[$j,$nn]:-}" ] && [ "${MAX[$j,$nn]}" -gt $m ] && m=${MAX[$j,$nn]}
	done
	CHMAX[$nn]=$m
done

{
	printf '"student"'
	for c in "${chapters[@]}"; do printf ',%s' "$(csv_field "$c")"; done
	printf ',"total","max","note"\n'
	for ((j = 0; j < i; j++)); do
		csv_field "${names[$j]}"
		total=0 max=0
		for c in "${chapters[@]}"; do
			nn=${c%%-*}
			if [ -n "${SCORE[$j,$nn]:-}" ]; then
				printf ',"%d"' "${SCORE[$j,$nn]}"
				total=$((total + SCORE[$j,$nn]))
				[ -n "$max" ] && max=$((max + MAX[$j,$nn]))
			else
				printf ',""'
				# No one's grading finished it: its maximum is not known.
				[ -n "$max" ] && [ "${CHMAX[$nn]}" -gt 0 ] && max=$((max + CHMAX[$nn])) || max=""
			fi
		done
		printf ',"%d","%s",%s\n' "$total" "$max" "$(csv_field "${notes[$j]}")"
	done
} >"$WORK/csv" && mv -- "$WORK/csv" "$CSV" || { echo "grade-class: cannot write $CSV" >&2; exit 2; }

echo "grade-class: $((i - failed)) of $i student(s) graded; table: build/class.csv; reports: build/class/<student>/"
[ $timedout -gt 0 ] && echo "grade-class: $timedout student(s) timed out after $CLASS_TIMEOUT s (CLASS_TIMEOUT=N to allow more): their blank chapters were not graded"
if [ $failed -gt 0 ]; then
	echo "grade-class: the grader failed for $failed student(s): their note says why; the others are graded" >&2
	exit 1
fi
exit 0
