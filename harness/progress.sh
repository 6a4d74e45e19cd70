#!/usr/bin/env bash
# harness/progress.sh - a learner's progress through the chapters.
#
#   harness/progress.sh                  (make progress) the table: each
#                                        chapter's last score and what is next
#   harness/progress.sh --grade IMPL [CH] (make check) grade.sh IMPL CH, then,
#                                        when IMPL is exercises/, keep each
#                                        chapter it graded in build/progress/
#
# What is kept is the checked result of a chapter (build/reports/chapter-NN.tsv,
# written by grade.sh) as build/progress/chapter-NN.tsv; its time is the
# time of the grading. Only a grading of the learner's own exercises/ with
# all of a chapter's tests counts: not IMPL=solutions or another tree, not
# T=NN.MM (one test alone), not COPY=, SERVER= or ECHO_SERVER= (someone else's program).
# Nothing is written into the learner's tree, nothing goes on the network,
# and grade.sh's status is the status of --grade.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/harness/common.sh"
KEEP=$ROOT/build/progress

# signatures DIR: one line per chapter result in DIR: its name, inode and
# time. grade.sh writes each one anew (a new file renamed into place), so a
# line that changed is a chapter this grading finished.
signatures() {
	local f
	for f in "$1"/chapter-[0-9][0-9].tsv; do
		[ -f "$f" ] && printf '%s %s\n' "${f##*/}" "$(stat -c '%i %y' -- "$f")"
	done
	return 0
}

# How many gradings in a row each test has failed (build/progress/streak-NN.tsv):
# STUCK_AFTER of them, and the learner is pointed at make hint for that test.
# Only a failure of code the learner wrote counts: not one of a grading that
# scored 0 in the chapter (the skeleton, or nothing working yet), and not one
# whose message shows the skeleton's stub still in place ("returned -ENOSYS",
# or a program's "not implemented (TODO N)"): such a test is not started, not
# stuck. It keeps its count; a pass sets it back to 0.
STUCK_AFTER=3
stuck() {
	local rec=$1 nn streak c hints
	nn=${rec##*/chapter-}
	nn=${nn%.tsv}
	streak=$KEEP/streak-$nn.tsv
	awk -F '\t' -v OFS='\t' -v old="$streak" '
		BEGIN { while ((getline line < old) > 0) { split(line, f, "\t"); n[f[1]] = f[2] } }
		!/^#/ && NF >= 6 { id[++k] = $2; st[k] = $6; msg[k] = $7; score += $4 }
		END {
			for (i = 1; i <= k; i++) {
				c = n[id[i]] + 0
				if (st[i] != "fail")
					c = 0
				else if (score > 0 && msg[i] !~ /returned -ENOSYS|not implemented \(TODO/)
					c++
				print id[i], c
			}
		}' \
		"$rec" > "$streak.$$" && mv -- "$streak.$$" "$streak"
	c=$(chapters_matching "$ROOT" "$nn")
	hints=$ROOT/harness/$c/hints.md
	# One line, for the first such test: the one to work on next.
	awk -F '\t' -v k="$STUCK_AFTER" -v deeper="$([ -s "$hints" ] && echo 1)" '
		$2 >= k { if (first == "") { first = $1; times = $2 } else more++ }
		END {
			if (first == "") exit
			also = more ? " (" more " more tests too)" : ""
			what = deeper ? "shows a deeper hint (the man page, then the shape of the fix)" : "shows its hint again, and the lesson section to read"
			printf "  stuck? %s has failed %d gradings in a row%s: make hint T=%s %s\n", first, times, also, first, what
		}' "$streak"
}

if [ "${1:-}" = "--grade" ]; then
	shift
	impl=${1:-exercises}
	own=$(cd -- "$ROOT/exercises" 2>/dev/null && pwd -P)
	mine=$(cd -- "$impl" 2>/dev/null && pwd -P)
	if [ -z "$own" ] || [ "$mine" != "$own" ] || [ -n "${ONLY_TEST:-}" ] ||
		[ -n "${COPY:-}" ] || [ -n "${SERVER:-}" ] || [ -n "${ECHO_SERVER:-}" ]; then
		exec "$ROOT/harness/grade.sh" "$@"
	fi
	reports=${REPORTS:-$ROOT/build/reports}
	before=$(signatures "$reports")
	"$ROOT/harness/grade.sh" "$@"
	rc=$?
	after=$(signatures "$reports")
	mkdir -p "$KEEP" || exit "$rc"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		grep -qxF -- "$line" <<<"$before" && continue
		name=${line%% *}
		cp -p -- "$reports/$name" "$KEEP/.$name.$$" && mv -- "$KEEP/.$name.$$" "$KEEP/$name"
		stuck "$KEEP/$name"
	done <<<"$after"
	exit "$rc"
fi

# ---------------------------------------------------------------- the table

title_of() {
	sed -n 's/^CHAPTER_TITLE[[:space:]]*:*=[[:space:]]*//p' "$ROOT/harness/$1/chapter.mk" | head -n 1
}

{
printf '\n  %-34s %-8s %-17s %s\n' "chapter" "score" "graded" ""
printf '  %s\n' "-----------------------------------------------------------------------------"
next="" next_why=""
for d in "$ROOT"/harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	nn=${c%%-*}
	title=$(title_of "$c")
	rec=$KEEP/chapter-$nn.tsv
	if [ ! -s "$rec" ]; then
		printf '  %-2s %-31.31s %-8s %-17s %s\n' "$nn" "$title" "-" "not graded yet" ""
		[ -n "$next" ] || { next=$nn; next_why="not graded yet: read chapters/$c/README.md, then make check CH=$nn"; }
		continue
	fi
	# score, maximum without the skips, skips, tests failed, the first failed
	read -r score max skipped failed first < <(awk -F '\t' '
		!/^#/ && NF >= 6 {
			s += $4
			if ($6 == "skip") k++; else m += $5
			if ($6 == "fail") { f++; if (first == "" && $2 ~ /^[0-9]+\.[0-9]+$/) first = $2 }
		}
		END { printf "%d %d %d %d %s\n", s, m, k, f, (first == "" ? "-" : first) }' "$rec")
	when=$(date -r "$rec" '+%Y-%m-%d %H:%M')
	note=""
	if [ "$max" -eq 0 ]; then
		note="all its tests skipped on this machine (make doctor says why)"
	elif [ "$score" -eq "$max" ]; then
		note="full marks"
	else
		note="$failed test(s) to fix"
		[ -n "$next" ] || { next=$nn; next_why="$failed test(s) failed at the last grading; the first: make check T=$first (then make check CH=$nn)"; }
	fi
	[ "$skipped" -gt 0 ] && [ "$max" -gt 0 ] && note="$note, $skipped skipped"
	# Files of the chapter saved since it was graded: the score may be old.
	if [ -n "$(find "$ROOT/exercises/$c" -type f -newer "$rec" ! -name '.*' 2>/dev/null | head -n 1)" ]; then
		note="$note (files changed since: make check CH=$nn)"
	fi
	printf '  %-2s %-31.31s %-8s %-17s %s\n' "$nn" "$title" "$score/$max" "$when" "$note"
done
printf '  %s\n' "-----------------------------------------------------------------------------"
if [ -n "$next" ]; then
	echo "  next: chapter $next, $next_why"
else
	echo "  every chapter graded here is at full marks."
fi
echo "  (the last grading of exercises/ with make check, kept in build/progress/)"
} | sed 's/ *$//'
