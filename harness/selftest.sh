#!/usr/bin/env bash
# harness/selftest.sh - the repository's own test (make test).
#
# Proves that the grader grades:
#   - every chapter builds warning-free (-Werror): solutions, skeletons, demos;
#   - the solutions score full marks, also under ASan + UBSan;
#   - the skeletons score zero;
#   - every correct variant (harness/NN-*/variants/NAME/ or NAME.diff, a module shaped
#     differently from the reference) scores full marks;
#   - every mutant (harness/NN-*/mutants/*.diff, a plausible mistake or a cheat,
#     applied to the reference) loses points, and still applies;
#   - the demo of each chapter runs on the reference (harness/NN-*/smoke.sh);
#   - the reports exist and parse;
#   - every cheat submission (harness/cheats/) earns only what its honest
#     code earns, leaves nothing behind and does not change the next grading
#     (harness/cheats/check.sh, in the sandbox: SANDBOX=required).
# Ends with one line "N passed, N failed"; exit 0 only if nothing failed.
#
# PART says how much (make test and make test-mutants set it):
#   quick    (make test) everything above but grading the mutants, the
#            variants and the cheats: each mutant's and variant's diff is
#            only checked to apply. A few minutes on 2 cores.
#   mutants  (make test-mutants) only those gradings: every mutant loses
#            points, every variant has full marks, every cheat earns only
#            what its honest code earns. Some 3,800 gradings: about an
#            hour on 2 cores. With ONLY_CHANGED=1 (CI), a chapter whose
#            inputs are those of its recorded full run is left out
#            (mutants/last-full-run.tsv). CI runs both parts.
#   all      (the default, e.g. CH=NN harness/selftest.sh) both.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=/dev/null
. "$ROOT/harness/common.sh"
CH=${CH:-}
PART=${PART:-all}
case $PART in
quick | mutants | all) ;;
*)
	echo "selftest: PART is quick, mutants or all, not '$PART'"
	echo "0 passed, 1 failed"
	exit 1
	;;
esac
# quick_part, mutants_part: whether this run does that part.
quick_part() { [ "$PART" != mutants ]; }
mutants_part() { [ "$PART" != quick ]; }
# One directory per CH, so that several chapters' self-tests can run at once.
OUT=$ROOT/build/selftest${CH:+-$CH}
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok     $*"; }
not_ok() { failed=$((failed + 1)); echo "FAILED $*"; }

# phase NAME: the wall time and the CPU time (of the children waited for,
# bash's `times`) since the previous phase, as a line "NAME wall_ms cpu_ms"
# in $OUT/phases.tsv: for whoever makes make test faster.
# (`times` runs in this shell, not in $( ): a subshell's children are not ours.)
children_cpu_ms() {
	local line="" u s
	times > "$OUT/.times"
	while IFS= read -r u; do line=$u; done < "$OUT/.times"
	CPU_MS=0
	[[ $line =~ ^([0-9]+)m([0-9]+)\.([0-9]+)s\ ([0-9]+)m([0-9]+)\.([0-9]+)s$ ]] || return 0
	u=$((BASH_REMATCH[1] * 60000 + 10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]}))
	s=$((BASH_REMATCH[4] * 60000 + 10#${BASH_REMATCH[5]} * 1000 + 10#${BASH_REMATCH[6]}))
	CPU_MS=$((u + s))
}
PHASE_WALL=${EPOCHREALTIME/./} PHASE_CPU=0
phase() {
	local now=${EPOCHREALTIME/./}
	children_cpu_ms
	printf '%s\t%d\t%d\n' "$1" $(((now - PHASE_WALL) / 1000)) $((CPU_MS - PHASE_CPU)) >> "$OUT/phases.tsv"
	PHASE_WALL=$now PHASE_CPU=$CPU_MS
}

harness/deps.sh --check || { echo "0 passed, 1 failed"; exit 1; }
make -s tools || { echo "0 passed, 1 failed"; exit 1; }
# The libraries' flags, asked of pkg-config once (make pkg-vars), given to
# every make of this run on its command line and to the gradings
# (GRADE_PKG_VARS): otherwise each build of a test binary starts six
# processes for them, and make test makes about 750 (5 ms a process here).
mapfile -t PKG_VARS < <(make -s --no-print-directory pkg-vars)
PKG_LINES=$(printf '%s\n' "${PKG_VARS[@]}")
# The cheats are graded in the sandbox: without bubblewrap, make test cannot
# show that the grader holds.
if [ -z "${NO_CHEATS:-}" ] && [ -z "$CH" ] && mutants_part && ! command -v bwrap >/dev/null 2>&1; then
	echo "FAILED bubblewrap is missing: make test-mutants grades the cheat submissions in the sandbox (sudo make deps, or NO_CHEATS=1 to skip them)"
	echo "0 passed, 1 failed"
	exit 1
fi

# The mutants' quick builds (check_mutant) are linked by gold where the
# toolchain has it: the same program (--wrap and every flag are gold's too),
# made in about half the CPU time of ld.bfd (0.1 s of the 0.9 s a mutant's
# build and run takes here, 1,300 times in make test). Never for a grading:
# learners' builds use the toolchain's default linker.
FAST_LD=()
if "${CC:-cc}" -fuse-ld=gold -Wl,--version > /dev/null 2>&1; then
	FAST_LD=(LDFLAGS=-fuse-ld=gold)
fi

# The sandbox is tried once here; each grading of this run takes that answer
# instead of trying it again (grade.sh, GRADE_SANDBOX_CHECKED). Where it
# does not start, every grading tries, and says why, as it would alone.
SANDBOX_CHECKED=""
if (. harness/sandbox.sh && sandbox_check > /dev/null 2>&1 && [ "$SANDBOX_ON" = 1 ]); then
	SANDBOX_CHECKED=1
fi

# score_of DIR: "score max" of the chapter TSVs in DIR (skips excluded).
score_of() {
	awk -F'\t' '!/^#/ && $6 != "skip" { s += $4; m += $5 } END { printf "%d %d\n", s, m }' "$1"/chapter-*.tsv 2>/dev/null
}

# The student edition (make dist): made without the reference's code, and
# its grader grades there (chapter 01's skeleton: zero, all tests). Only the
# course's own code is built and graded here, in build/selftest-dist: it runs
# as one more job beside the chapters' self-tests, not after them.
dist_check() {
	dist=$ROOT/build/selftest-dist
	rm -rf "$dist"
	if harness/dist.sh "$dist" > "$logs/dist.out" 2>&1; then
		echo "ok     make dist: the student edition has no solutions, mutants or cheats, and no reference code"
		(cd "$dist/aio-course" && REPORTS="$dist/reports" make -s check CH=01) > "$logs/dist-check.out" 2>&1
		read -r s m < <(score_of "$dist/reports")
		pass=1 fail=0
		if [ "${m:-0}" -gt 0 ] && [ "$s" = 0 ]; then
			echo "ok     the student edition grades: chapter 01's skeleton scores 0/$m there"
			pass=$((pass + 1))
		else
			echo "FAILED the student edition's make check CH=01: the skeleton scored ${s:-?}/${m:-?} (see $logs/dist-check.out)"
			fail=$((fail + 1))
		fi
		# A chapter that links earlier chapters' reference modules
		# (BACKEND_SRCS: 10, 11), which the edition ships compiled (and 11
		# the course's own code, as source): the reference, graded there,
		# is full. The same list as dist.sh's.
		for c in $(cd harness && grep -l '^BACKEND_SRCS *:= *[^ ]' [0-9][0-9]-*/chapter.mk | cut -d/ -f1); do
			nn=${c%%-*}
			mkdir -p "$dist/tree/$c" && cp solutions/"$c"/* "$dist/tree/$c/"
			(cd "$dist/aio-course" && REPORTS="$dist/reports$nn" make -s check CH="$nn" IMPL="$dist/tree") > "$logs/dist-check$nn.out" 2>&1
			read -r s m < <(score_of "$dist/reports$nn")
			if [ "${m:-0}" -gt 0 ] && [ "$s" = "$m" ]; then
				echo "ok     the student edition grades chapter $nn on its compiled back-ends: the reference scores $s/$m there"
				pass=$((pass + 1))
			else
				echo "FAILED the student edition's make check CH=$nn of the reference: ${s:-?}/${m:-?} (see $logs/dist-check$nn.out)"
				fail=$((fail + 1))
			fi
		done
		echo "$pass passed, $fail failed"
	else
		echo "FAILED make dist: $(tail -n 1 "$logs/dist.out")"
		echo "0 passed, 1 failed"
	fi
}

# Without CH: every chapter's self-test, three chapters at a time (two
# mutants each), then make dist's check in the first free place, reported
# in order. Measured on the 2-core VM (build/selftest-NN/phases.tsv): with
# two chapters at a time the cores were idle a quarter of the time (tests
# wait for the disk, for time limits, for signals), and make test took 14.0
# min; with three, 12.5. The chapters with the most mutants start first, so
# that the last one to finish is a short one.
if [ -z "$CH" ]; then
	logs=$ROOT/build/selftest-logs
	rm -rf "$logs" && mkdir -p "$logs"
	running=0
	order=$(for d in harness/[0-9][0-9]-*/; do
		m=("$d"mutants/*.diff)
		[ -e "${m[0]}" ] || m=()
		c=${d%/}
		echo "${#m[@]} ${c##*/}"
	done | sort -k1,1nr -k2,2 | cut -d' ' -f2)
	for c in $order; do
		CH=${c%%-*} JOBS=${JOBS:-2} PART=$PART "$0" > "$logs/$c.log" 2>&1 &
		running=$((running + 1))
		if [ "$running" -ge "${CHAPTER_JOBS:-3}" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
	if [ "$running" -ge "${CHAPTER_JOBS:-3}" ]; then
		wait -n
	fi
	quick_part && dist_check > "$logs/zy-dist.log" &
	wait
	# The cheats last: one of them succeeding could otherwise spoil the
	# chapters' gradings running beside it.
	if [ -z "${NO_CHEATS:-}" ] && mutants_part; then
		SANDBOX=required harness/cheats/check.sh > "$logs/zz-cheats.log" 2>&1
	fi
	for log in "$logs"/*.log; do
		sed '$d' "$log" | sed '/^$/d' | grep -v '^#'
		# The last line is the log's count; anything else (a crash, a
		# killed run) is one failure, said as such.
		last=$(tail -n 1 "$log")
		if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
			passed=$((passed + BASH_REMATCH[1]))
			failed=$((failed + BASH_REMATCH[2]))
		else
			echo "FAILED $(basename "$log" .log): its run ended without a count (last line: ${last:-nothing})"
			failed=$((failed + 1))
		fi
	done
	# A CI shows only the end of a long run: say the failures again there.
	if [ "$failed" != 0 ]; then
		echo
		echo "The failures again:"
		grep -h '^FAILED' "$logs"/*.log
		for log in "$logs"/*.log; do
			[[ $(tail -n 1 "$log") =~ ^[0-9]+\ passed ]] || echo "FAILED $(basename "$log" .log): no count"
		done
	fi
	echo
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

chapters=()
for d in harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	[ -z "$CH" ] || [ "$CH" = "${c%%-*}" ] || continue
	chapters+=("$c")
done

# grade NAME IMPL CH [VAR=VALUE...]: grade quietly into $OUT/NAME; log kept there.
# (A process costs about 10 ms of CPU on the 2-core VM, and make test grades
# some 700 times: the mutant path below starts only the ones it needs.)
grade() {
	local name=$1 impl=$2 ch=$3
	shift 3
	[ ! -e "${OUT:?}/$name" ] || rm -rf "${OUT:?}/$name"
	mkdir -p "$OUT/$name"
	# The packages and build/tools were checked above, the sandbox was tried
	# once, and the machine's facts are probed once per run (grade.sh,
	# GRADE_PREPARED, GRADE_SANDBOX_CHECKED and GRADE_FACTS_CACHE). The
	# variables are exported to grade.sh alone, from this function.
	local -x REPORTS="$OUT/$name" GRADE_PREPARED=1 GRADE_FACTS_CACHE="$OUT/facts" \
		GRADE_SANDBOX_CHECKED="$SANDBOX_CHECKED" GRADE_PKG_VARS="$PKG_LINES" "$@"
	harness/grade.sh "$impl" "$ch" > "$OUT/$name/log" 2>&1
}

# failed_test DIR TEST: whether DIR's chapter report says TEST failed.
failed_test() {
	local f _ id outcome
	for f in "$1"/chapter-*.tsv; do
		[ -f "$f" ] || continue
		while IFS=$'\t' read -r _ id _ _ _ outcome _; do
			[ "$id" = "$2" ] && [ "$outcome" = fail ] && return 0
		done < "$f"
	done
	return 1
}

# expect_full_marks NAME CHAPTER HOW [VAR=VALUE...]: grade the solutions of
# CHAPTER (built HOW, e.g. " under ASan + UBSan") and require full marks.
expect_full_marks() {
	local name=$1 c=$2 how=$3
	shift 3
	grade "$name" solutions "${c%%-*}" "$@"
	full_marks_verdict "$name" "$c" "$how"
}

# full_marks_verdict NAME CHAPTER HOW: ok if the grading in $OUT/NAME gave full marks.
full_marks_verdict() {
	local s m
	read -r s m < <(score_of "$OUT/$1")
	if [ "${m:-0}" -gt 0 ] && [ "$s" = "$m" ]; then
		ok "$2: solutions score full marks$3 ($s/$m)"
	else
		not_ok "$2: solutions score ${s:-?}/${m:-?}$3 (see $OUT/$1/log)"
	fi
}

# run_alone DIR TEST: run TEST of DIR's test runner (DIR: a chapter's build
# made by chapter.mk, with tests and programs) alone, outside the sandbox, in
# a directory of its own; print its outcome (pass, fail, skip) as the runner
# reports it, or nothing. Without TEST, every test: "NN.MM outcome" lines. For make test's mutants only: the code is the
# course's own (the reference with one mistake), never a learner's. The
# limits are the sandbox's: CPU time, address space, no core; and whatever
# the run leaves behind is killed with its process group (timeout makes
# one, with its own pid: the subshell's, which execs it).
run_alone() {
	local dir=$1 t=$2 pid
	rm -rf "$dir/alone" && mkdir -p "$dir/alone/tmp" || return 0
	(
		ulimit -S -c 0 2>/dev/null
		ulimit -S -t 300 2>/dev/null
		ulimit -S -v $((16 * 1024 * 1024)) 2>/dev/null
		cd "$dir/alone/tmp" || exit 1
		GRADE_TMPDIR=$dir/alone/tmp GRADE_PROGRAMS=$dir GRADE_RESULTS_FD=9 \
			exec timeout -k 5 300 "$dir/tests" ${t:+--grade-only "$t"} \
			9> "$dir/alone/raw.tsv" > "$dir/alone/log" 2>&1
	) &
	pid=$!
	wait "$pid"
	kill -KILL -- "-$pid" 2>/dev/null
	awk -F'\t' -v t="$t" '$7 ~ /^(not run|the test did not run)/ { next }
		t == "" && $2 ~ /^[0-9]+\.[0-9]+$/ { print $2, $6 }
		t != "" && $2 == t { print $6 }' \
		"$dir/alone/raw.tsv" 2>/dev/null
}

# quick_build CHAPTER TREE DIR: build TREE/CHAPTER's tests and programs in
# DIR (emptied first) as grade.sh builds them, with the same rules and
# vetting, for run_alone: the files TREE leaves as the reference has them
# are not compiled again (reuse_objects), the changed ones without -g
# (DEBUG_INFO=0, harness/mk/flags.mk: the same code, about 0.1 s less
# each), linked by gold where there is one (FAST_LD). Only for make test's
# own mutants and variants. Fails if anything does (see DIR/build.log).
quick_build() {
	local c=$1 tree=$2 dir=$3
	rm -rf "$dir" && mkdir -p "$dir" &&
		reuse_objects "$tree/$c" "$dir" "$ROOT/solutions/$c" "$OUT/reference/$c" &&
		make -s --no-print-directory -f harness/mk/chapter.mk ROOT="$ROOT" CHAPTER="$c" \
			IMPL_DIR="$tree/$c" OUT="$dir" SAN=0 WERROR=0 DEBUG_INFO=0 "${PKG_VARS[@]}" \
			"${FAST_LD[@]}" tests programs > "$dir/build.log" 2>&1
}

# tree_of_diff KIND CHAPTER DIFF TREE: TREE/CHAPTER made of the solution
# with DIFF applied, a unified diff against the reference whose first line
# is "KIND of FILE: WHAT" (KIND: mutant or variant). Sets WHAT; returns 1
# after printing "not_ok ..." if the first line does not name a file of the
# solution or the diff no longer applies exactly (no fuzz: it must not drift).
tree_of_diff() {
	local kind=$1 c=$2 diff=$3 tree=$4 name header="" target=""
	name=${diff##*/}
	name=${name%.diff}
	IFS= read -r header < "$diff"
	[[ $header =~ ^$kind\ of\ ([^:]*):\ .*$ ]] && target=${BASH_REMATCH[1]}
	WHAT=${header#*: }
	if [ -z "$target" ] || [ ! -f "solutions/$c/$target" ]; then
		echo "not_ok $c: $kind $name has no first line '$kind of FILE: WHAT' naming a file of solutions/$c"
		return 1
	fi
	[ ! -e "$tree" ] || rm -rf "$tree"
	mkdir -p "$tree" && cp -r "solutions/$c" "$tree/$c"
	if ! patch -s -p1 -F0 --no-backup-if-mismatch -r - -d "$tree/$c" < "$diff" > "$tree.patch.log" 2>&1; then
		echo "not_ok $c: $kind $name no longer applies to solutions/$c/$target (see $tree.patch.log): update the diff"
		return 1
	fi
}

# check_mutant CHAPTER DIFF: grade the solution with DIFF applied (first
# line "mutant of FILE: MISTAKE", tree_of_diff); print "ok ..." if it loses
# points, "not_ok ..." if not, or if the diff no longer applies.
check_mutant() {
	local c=$1 mutant=$2 nn=${1%%-*} name what tree s m caught first alone WHAT
	name=${mutant##*/}
	name=${name%.diff}
	tree=$OUT/trees/$nn-$name
	tree_of_diff mutant "$c" "$mutant" "$tree" || return
	what=$WHAT
	# The test that caught this mutant last time (mutants/caught-by.tsv),
	# run alone: if it fails, the mutant loses points in a real grading, and
	# the tests before it need not run. If it passes now (the tests or the
	# mutant changed), the mutant is graded in full below.
	first=${CAUGHT_BY[$name]:-}
	# The quick way, where it proves as much: built as grade.sh builds it
	# (quick_build), then that test run alone outside the sandbox
	# (run_alone), where the reference passes it (REF_ALONE). The sandbox
	# keeps a learner's code from the grader; this is the course's own.
	# About 0.8 s of CPU instead of 1.4 (make test grades some 1400 mutants).
	if [ -n "$first" ] && [ "${REF_ALONE[$first]:-}" = pass ]; then
		alone=$OUT/alone/$nn-$name
		if quick_build "$c" "$tree" "$alone" && [ "$(run_alone "$alone" "$first")" = fail ]; then
			printf '%s\t%s\n' "$name" "$first" > "$OUT/caught-$nn-$name"
			echo "ok $c: mutant $name loses points (caught by $first, run alone) - $what"
			rm -rf "$alone"
			return
		fi
		rm -rf "$alone"
		first=
	fi
	# The files the mutant leaves alone are not compiled again: their objects
	# come from the reference's build (grade.sh, GRADE_REUSE).
	reuse=GRADE_REUSE="$ROOT/solutions/$c:$OUT/reference/$c"
	if [ -n "$first" ]; then
		grade "mutant-$nn-$name" "$tree" "$nn" "$reuse" ONLY_TEST="$first"
		if failed_test "$OUT/mutant-$nn-$name" "$first"; then
			printf '%s\t%s\n' "$name" "$first" > "$OUT/caught-$nn-$name"
			echo "ok $c: mutant $name loses points (caught by $first, run alone) - $what"
			return
		fi
	fi
	# Stopped at the first failed test: whether it loses points is all
	# make test needs to know (the tests it did not run count as failed).
	grade "mutant-$nn-$name" "$tree" "$nn" "$reuse" FAIL_FAST=1
	read -r s m < <(score_of "$OUT/mutant-$nn-$name")
	if [ "${m:-0}" -gt 0 ] && [ "$s" -lt "$m" ]; then
		caught=$(awk -F'\t' '!/^#/ && $6 == "fail" && $7 !~ /^the test did not run/ { printf "%s ", $2 }' \
			"$OUT/mutant-$nn-$name"/chapter-*.tsv)
		[ -n "$caught" ] && printf '%s\t%s\n' "$name" "${caught%% *}" > "$OUT/caught-$nn-$name"
		echo "ok $c: mutant $name loses points ($s/$m; caught by ${caught% }) - $what"
	else
		echo "not_ok $c: mutant $name is not caught: ${s:-?}/${m:-?} - $what"
	fi
}

# check_variant CHAPTER V: grade a correct module shaped differently from
# the reference (V: harness/NN-*/variants/NAME/, whole files that replace
# the reference's, a module written on its own; or variants/NAME.diff, the
# reference with one part done another way, first line "variant of FILE:
# HOW", applied as a mutant is); print "ok ..." if it scores full marks,
# "not_ok ..." if not: then a test asks for more than the contract, or the
# variant is out of date.
check_variant() {
	local c=$1 v=$2 nn=${1%%-*} vname tree line s m
	vname=$(basename "$v" .diff)
	tree=$OUT/trees/variant-$vname
	if [ -d "$v" ]; then
		rm -rf "$tree" && mkdir -p "$tree" && cp -r "solutions/$c" "$tree/$c" && cp "$v"* "$tree/$c/"
	elif ! line=$(tree_of_diff variant "$c" "$v" "$tree"); then
		echo "$line"
		return
	fi
	# The quick way first, as for the mutants (quick_build), every test
	# run alone outside the sandbox (run_alone), where the
	# reference passes every one of them (REF_ALONE). If the variant passes
	# them all too, it has full marks there; anything else (a failure, a
	# skip, a test missing, a build that fails) and it is graded in full
	# below, in the sandbox, and that grading is the verdict. About a fifth
	# less CPU than a full grading (grade.sh's sandbox, reports and build
	# checks), for some 290 variants.
	local alone=$OUT/alone/variant-$nn-$vname outcomes="" total
	total=${#REF_ALONE[@]}
	if [ "$total" -gt 0 ] && [ -z "$(printf '%s\n' "${REF_ALONE[@]}" | grep -vx pass)" ] &&
		quick_build "$c" "$tree" "$alone"; then
		outcomes=$(run_alone "$alone" "")
	fi
	rm -rf "$alone"
	if [ -n "$outcomes" ] && [ "$(grep -c ' pass$' <<< "$outcomes")" = "$total" ] &&
		[ "$(wc -l <<< "$outcomes")" = "$total" ]; then
		echo "ok $c: variant $vname, correct and shaped differently, passes all $total tests (run alone, as the reference does)"
		return
	fi
	grade "variant-$nn-$vname" "$tree" "$nn"
	read -r s m < <(score_of "$OUT/variant-$nn-$vname")
	if [ "${m:-0}" -gt 0 ] && [ "$s" = "$m" ]; then
		echo "ok $c: variant $vname, correct and shaped differently, scores full marks ($s/$m)"
	else
		echo "not_ok $c: variant $vname, correct and shaped differently, scores ${s:-?}/${m:-?}: a test asks for more than the contract, or the variant is out of date (see $OUT/variant-$nn-$vname/log)"
	fi
}

# tell_verdicts FILE...: count and print the "ok ..." or "not_ok ..." line
# that a job running beside the others left in each FILE.
tell_verdicts() {
	local verdict line
	for verdict in "$@"; do
		[ -e "$verdict" ] || continue
		line=$(cat "$verdict")
		case "$line" in
		ok*) ok "${line#ok }" ;;
		*) not_ok "${line#not_ok }" ;;
		esac
	done
}

# seed_plain CHAPTER: the grader's own objects of CHAPTER (and the ones every
# chapter shares), as the -Werror builds above made them
# (build/harness/plain-werror), put where grade.sh's builds without -Werror
# look for them (build/harness/plain: make check's flavour, the mutants'),
# unless they are there already. -Werror changes what the compiler reports,
# never what it writes: the objects are the same bytes, and tests.c need not
# be compiled a second time (seconds per chapter). Times are kept, so make
# takes them as they are; each file is renamed into place, as make writes
# them (two chapters' self-tests share shared/). Only the course's harness
# goes this way, never an implementation's objects.
seed_plain() {
	local from=$ROOT/build/harness/plain-werror to=$ROOT/build/harness/plain f
	[ -d "$from/$1" ] || return 0
	while IFS= read -r f; do
		[ -e "$to/$f" ] && continue
		mkdir -p "$to/${f%/*}" && cp -p "$from/$f" "$to/$f.$$.tmp" && mv "$to/$f.$$.tmp" "$to/$f"
	done < <(cd "$from" && find "$1" shared -type f ! -name '*.tmp')
}

# check_applies KIND CHAPTER DIFF: print "ok" if DIFF (a mutant's or a
# variant's, first line "KIND of FILE: WHAT") names a file of the solution
# and still applies to it exactly (no fuzz), else a reason. The quick part's
# check: the grading of the mutants and variants (make test-mutants) would
# fail for such a diff, and this costs one patch --dry-run, not a grading.
check_applies() {
	local kind=$1 c=$2 diff=$3 header="" target=""
	IFS= read -r header < "$diff"
	[[ $header =~ ^$kind\ of\ ([^:]*):\ .*$ ]] && target=${BASH_REMATCH[1]}
	if [ -z "$target" ] || [ ! -f "solutions/$c/$target" ]; then
		echo "has no first line '$kind of FILE: WHAT' naming a file of solutions/$c"
	elif ! patch -s -p1 -F0 --dry-run -r - -d "solutions/$c" < "$diff" > /dev/null 2>&1; then
		echo "no longer applies to solutions/$c/$target (patch -p1 -F0 --dry-run): update the diff"
	else
		echo ok
	fi
}

# quick_chapter CHAPTER: make test's part of one chapter: the -Werror
# builds, full marks for the solutions (plain, then under ASan + UBSan), the
# reports, the hints, zero for the skeleton, every mutant and variant still
# applies, the demo.
quick_chapter() {
	local c=$1 nn=${1%%-*} impl problems list kind d why n=0
	for impl in solutions exercises; do
		if make -s --no-print-directory -f harness/mk/chapter.mk ROOT="$ROOT" CHAPTER="$c" \
			IMPL_DIR="$ROOT/$impl/$c" OUT="$ROOT/build/werror/$impl/$c" WERROR=1 "${PKG_VARS[@]}" \
			tests demo programs > "$OUT/build-$impl-$nn.log" 2>&1; then
			ok "$c: $impl, tests and demo build with -Wall -Wextra -Werror"
		else
			not_ok "$c: $impl does not build warning-free (see $OUT/build-$impl-$nn.log)"
		fi
	done
	phase "$nn werror builds"

	expect_full_marks "solutions-$nn" "$c" "" WERROR=1
	phase "$nn grade solutions"
	if [ -f "$OUT/solutions-$nn/results.json" ] && [ -f "$OUT/solutions-$nn/junit.xml" ]; then
		py=$(command -v /usr/bin/python3 || command -v python3)
		if [ -z "$py" ]; then
			ok "$c: reports written (python3 missing: not parsed)"
		elif "$py" - "$OUT/solutions-$nn" <<'PY'; then
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
assert r["score"] == r["max_score"] > 0
for t in r["tests"]:
    assert {"name", "number", "score", "max_score", "status", "output"} <= t.keys()
ET.parse(d + "/junit.xml")
PY
			ok "$c: results.json (Gradescope) and junit.xml parse"
		else
			not_ok "$c: results.json or junit.xml does not parse"
		fi
	else
		not_ok "$c: reports missing in $OUT/solutions-$nn"
	fi

	# make hint's deeper levels: one section per test, each with levels 2
	# and 3, and no section for a test that does not exist.
	if [ -f "harness/$c/hints.md" ]; then
		list=$(make -s --no-print-directory -f harness/mk/chapter.mk ROOT="$ROOT" CHAPTER="$c" \
			IMPL_DIR="$ROOT/exercises/$c" OUT="$OUT/unused" WERROR=1 list list-path)
		if problems=$(harness/hint.sh --check "$list" "harness/$c/hints.md"); then
			ok "$c: hints.md has levels 2 and 3 for every test (make hint)"
		else
			not_ok "$c: harness/$c/hints.md: $problems"
		fi
	fi
	phase "$nn reports, hints"

	grade "exercises-$nn" exercises "$nn" WERROR=1
	read -r s m < <(score_of "$OUT/exercises-$nn")
	if [ "${m:-0}" -gt 0 ] && [ "$s" = 0 ]; then
		ok "$c: the skeleton scores 0/$m"
	else
		not_ok "$c: the skeleton scores ${s:-?}/${m:-?} (see $OUT/exercises-$nn/log)"
	fi
	phase "$nn grade skeleton"
	# One sandboxed grading of a chapter at a time, never two side by side:
	# io_uring charges the rings and registered buffers of every process of
	# a user (root's too, in the sandbox) to one RLIMIT_MEMLOCK, and four
	# gradings of chapter 08 at once lost points to -ENOMEM.
	expect_full_marks "sanitized-$nn" "$c" " under ASan + UBSan" SAN=1
	phase "$nn sanitized grading"

	# The mutants and variants still apply: one line for all that do.
	for kind in mutant variant; do
		for d in harness/"$c"/"$kind"s/*.diff; do
			[ -e "$d" ] || continue
			why=$(check_applies "$kind" "$c" "$d")
			if [ "$why" = ok ]; then
				n=$((n + 1))
			else
				not_ok "$c: $kind $(basename "$d" .diff) $why"
			fi
		done
	done
	ok "$c: $n mutants' and variants' diffs apply to the solution exactly (make test-mutants grades them)"
	phase "$nn diffs apply"

	if [ -x "harness/$c/smoke.sh" ]; then
		if harness/"$c"/smoke.sh "$ROOT/build/werror/solutions/$c" > "$OUT/smoke-$nn.log" 2>&1; then
			ok "$c: the demo works on the reference (harness/$c/smoke.sh)"
		else
			not_ok "$c: the demo smoke test failed (see $OUT/smoke-$nn.log)"
		fi
	fi
	phase "$nn smoke"
}

# mutants_chapter CHAPTER: make test-mutants's part of one chapter: every
# mutant loses points, every correct variant has full marks.
mutants_chapter() {
	local c=$1 nn=${1%%-*} t outcome m mutant v running=0 inputs record nm nv
	# What the verdicts depend on (harness/tools/inputs.sh: the chapter's
	# files, the grader's, the machine's), as one hash. With ONLY_CHANGED=1
	# (CI), a chapter whose inputs are the ones its committed record of a
	# full run names (mutants/last-full-run.tsv) is not graded again: the
	# same files on the same machine gave those verdicts. A full run that
	# passes leaves its record in $OUT (caught-by.sh commits it).
	inputs=$(harness/tools/inputs.sh --hash "$c") || inputs=""
	record=harness/$c/mutants/last-full-run.tsv
	if [ -n "${ONLY_CHANGED:-}" ] && [ -n "$inputs" ] && [ -f "$record" ]; then
		local key="" when="" what=""
		while IFS=$'\t' read -r key when what; do
			[ "${key:0:1}" = "#" ] || break
		done < "$record"
		if [ "$key" = "$inputs" ]; then
			ok "$c: mutants and variants not graded again: their inputs are unchanged since the full run of $when ($what; make test-mutants without ONLY_CHANGED grades them)"
			phase "$nn mutants: unchanged since the recorded run"
			return
		fi
	fi
	# Mutants are graded JOBS at a time (3; make test gives 2, beside other
	# chapters'): a few wait out a test's time limit while the others use the
	# cores. The harness objects they share are built first, once (most of
	# them copied from the -Werror build of the quick part, where there is
	# one: seed_plain), and so is the reference, as grade.sh builds a
	# learner's tree (SAN=0, WERROR=0): the objects of the files a mutant
	# does not change are taken from there.
	seed_plain "$c"
	make -s --no-print-directory -f harness/mk/chapter.mk ROOT="$ROOT" CHAPTER="$c" \
		IMPL_DIR="$ROOT/solutions/$c" OUT="$OUT/reference/$c" SAN=0 WERROR=0 "${PKG_VARS[@]}" harness tests programs
	phase "$nn reference build"
	# Every test of the reference run alone outside the sandbox, as the
	# mutants' caught-by tests are run on the quick way (check_mutant): a
	# mutant's failure there counts only for a test the reference passes there.
	REF_ALONE=()
	while read -r t outcome; do
		REF_ALONE[$t]=$outcome
	done < <(run_alone "$OUT/reference/$c" "")
	# The test that caught each mutant last time (mutants/caught-by.tsv),
	# read once for the chapter.
	CAUGHT_BY=()
	if [ -f "harness/$c/mutants/caught-by.tsv" ]; then
		while IFS=$'\t' read -r m t _; do
			[ -n "$m" ] && [ "${m:0:1}" != "#" ] && [ -z "${CAUGHT_BY[$m]:-}" ] && CAUGHT_BY[$m]=$t
		done < "harness/$c/mutants/caught-by.tsv"
	fi
	phase "$nn reference alone"
	# The correct variants one after another, run beside the mutants: a
	# grading waits on the disk and on time limits much of its time (a
	# variant's took 5-17 s of wall time for well under a second of CPU),
	# which the mutants' compiles fill. Their verdicts are read after the
	# mutants'. (A `wait -n` below may take this chain's end for a mutant's:
	# one more mutant runs then.)
	{
		for v in harness/"$c"/variants/*/ harness/"$c"/variants/*.diff; do
			[ -e "$v" ] || continue
			check_variant "$c" "$v" > "$OUT/vverdict-$nn-$(basename "$v" .diff)"
		done
	} &
	for mutant in harness/"$c"/mutants/*.diff; do
		[ -e "$mutant" ] || continue
		m=${mutant##*/}
		m=${m%.diff}
		{
			t0=$EPOCHREALTIME
			check_mutant "$c" "$mutant"
			# How long it took, for whoever makes make test faster.
			t1=$EPOCHREALTIME
			echo "$(( (${t1/./} - ${t0/./}) / 1000 ))" > "$OUT/ms-$nn-$m"
		} > "$OUT/verdict-$nn-$m" &
		running=$((running + 1))
		if [ "$running" -ge "${JOBS:-3}" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
	wait
	tell_verdicts "$OUT"/verdict-"$nn"-*

	# What caught each mutant this time: harness/tools/caught-by.sh copies
	# it into harness/NN-*/mutants/caught-by.tsv for the next runs.
	cat "$OUT"/caught-"$nn"-* > "$OUT/caught-by.tsv" 2>/dev/null
	tell_verdicts "$OUT"/vverdict-"$nn"-*
	phase "$nn mutants, and variants beside them"

	# The record of this run, if nothing failed (in either part) and nothing
	# it read changed while it ran (a file edited meanwhile: no record).
	if [ "$failed" = 0 ] && [ -n "$inputs" ] &&
		[ "$(harness/tools/inputs.sh --hash "$c")" = "$inputs" ]; then
		nm=("$OUT"/verdict-"$nn"-*)
		[ -e "${nm[0]}" ] || nm=()
		nv=("$OUT"/vverdict-"$nn"-*)
		[ -e "${nv[0]}" ] || nv=()
		printf '# %s\t%s\t%s\n%s\t%s\t%s\n' \
			"the inputs (harness/tools/inputs.sh --hash $c)" "the full run" "what it found (written by harness/tools/caught-by.sh)" \
			"$inputs" "$(date -u +%Y-%m-%dT%H:%MZ)" "${#nm[@]} mutants lost points, ${#nv[@]} variants had full marks" \
			> "$OUT/last-full-run.tsv"
	fi
}

declare -A REF_ALONE=() CAUGHT_BY=()
rm -rf "$OUT" && mkdir -p "$OUT"
phase start
for c in "${chapters[@]}"; do
	echo "== chapter $c"
	if quick_part; then
		quick_chapter "$c"
	fi
	if mutants_part; then
		mutants_chapter "$c"
	fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
