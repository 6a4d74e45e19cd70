#!/usr/bin/env bash
# harness/hint.sh - make hint: a deeper hint for one test, on request.
#
#   harness/hint.sh T [LEVEL]        (make hint T=05.10 [LEVEL=N])
#   harness/hint.sh --check LIST HINTS
#       (make test) HINTS has a "## NN.MM" section with a non-empty "### 2"
#       and "### 3" for every test of the list file LIST (the list binary's
#       tsv), and none for a test that does not exist; prints what is wrong
#       on one line and exits 1 otherwise.
#
# Level 1 is the hint a failing test prints (tests.c). The deeper levels live
# in harness/NN-topic/hints.md:
#   2  the man page passage behind the test;
#   3  the shape of the fix, in words (never the code).
# Without LEVEL, each call shows one level more than the last call showed for
# that test (kept in build/hints/, never in the learner's tree), so a learner
# takes only as much help as they ask for. LEVEL=N shows levels 1 to N.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/harness/common.sh"

if [ "${1:-}" = --check ]; then
	awk -F '\t' '
		FNR == NR { if (!/^#/ && NF >= 5) { want[$2] = 1; order[++n] = $2 } next }
		/^## / { t = substr($0, 4); if (!(t in want)) bad = bad " " t " (no such test)"; seen[t] = 1; next }
		/^### / { lvl = substr($0, 5); next }
		t != "" && lvl != "" && /[^[:space:]]/ { has[t, lvl] = 1 }
		END {
			for (i = 1; i <= n; i++) {
				id = order[i]
				if (!(id in seen)) bad = bad " " id " (missing)"
				else if (!has[id, "2"] || !has[id, "3"]) bad = bad " " id " (a level missing)"
			}
			if (bad != "") { print substr(bad, 2); exit 1 }
		}' "${2:?}" "${3:?}"
	exit
fi

T=${1:-}
LEVEL=${2:-}
DEEPEST=3

case "$T" in
[0-9][0-9].[0-9][0-9]) ;;
*)
	echo "make hint: say which test, as the report numbers it: make hint T=05.10 (LEVEL=1..$DEEPEST to choose the depth)" >&2
	exit 2
	;;
esac
case "$LEVEL" in
'' | [1-$DEEPEST]) ;;
*) echo "make hint: LEVEL=$LEVEL: hints go from 1 (what went wrong) to $DEEPEST (the shape of the fix)" >&2; exit 2 ;;
esac

nn=${T%%.*}
mapfile -t found < <(chapters_matching "$ROOT" "$nn")
if [ ${#found[@]} -ne 1 ]; then
	echo "make hint: there is no chapter $nn" >&2
	exit 2
fi
c=${found[0]}
hints=$ROOT/harness/$c/hints.md

# The test's title, points and first hint, from the learner-free list binary.
mk=(make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$c"
    IMPL_DIR="$ROOT/exercises/$c" OUT="$ROOT/build/hints/unused")
"${mk[@]}" list >&2 || { echo "make hint: the grader's own build of $c failed (make test shows why)" >&2; exit 2; }
list=$("${mk[@]}" list-path)
first=$("${list%.tsv}" --grade-describe "$T") || exit 2

# level N: the text of "### N" under "## T" in hints.md (empty if none).
level() {
	awk -v t="## $T" -v l="### $1" '
		/^## / { in_test = ($0 == t); in_level = 0; next }
		in_test && /^### / { in_level = ($0 == l); next }
		in_test && in_level { print }' "$hints" 2>/dev/null |
		sed -e '/./,$!d' | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'
}

seen_file=$ROOT/build/hints/seen-$T
seen=1
[ -r "$seen_file" ] && read -r seen < "$seen_file"
case "$seen" in [1-$DEEPEST]) ;; *) seen=1 ;; esac
if [ -n "$LEVEL" ]; then
	upto=$LEVEL
else
	upto=$((seen + 1))
	[ "$upto" -gt "$DEEPEST" ] && upto=$DEEPEST
fi

echo "$first"
names=("" "" "the man page" "the shape of the fix")
shown=1
for ((n = 2; n <= upto; n++)); do
	text=$(level "$n")
	if [ -z "$text" ]; then
		echo
		echo "(no level-$n hint for $T yet: the lesson section and the TODO its first hint names are the place to look)"
		break
	fi
	echo
	echo "hint $n, ${names[$n]}:"
	printf '%s\n' "$text" | sed 's/^/  /'
	shown=$n
done

mkdir -p "$ROOT/build/hints"
[ "$shown" -gt "$seen" ] && echo "$shown" > "$seen_file"
echo
if [ "$shown" -lt "$DEEPEST" ] && [ -n "$(level $((shown + 1)))" ]; then
	echo "Still stuck after trying? make hint T=$T again shows hint $((shown + 1)) (${names[$((shown + 1))]})."
else
	echo "That is the deepest hint. Run just this test while you work on it: make check CH=$nn T=$T"
fi
