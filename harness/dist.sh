#!/usr/bin/env bash
# harness/dist.sh - make dist: the student edition of the course.
#
#   harness/dist.sh [DIR]       (make dist; DIR defaults to build/dist)
#
# Writes DIR/aio-course/ and DIR/aio-course.tar.gz: the lessons, the
# skeletons, the grader and its tests, without what gives the answers away
# (and DIR/aio-course-instructor.tar.gz, the whole course, to keep private):
#   solutions/                      the reference modules;
#   harness/NN-topic/mutants/       wrong versions of them, as diffs whose
#                                   context lines are the reference's code;
#   harness/NN-topic/variants/      correct modules shaped differently (they
#                                   hold the reference's code too);
#   harness/cheats/                 the cheat submissions (instructor matter);
#   harness/selftest.sh, harness/tools/mutate.py, harness/tools/caught-by.sh,
#   .ci/                            the course's own tests, which need the above.
# make check, make hint, make progress, make watch, make run and make bench
# work there on the learner's exercises/; make doctor asks the kernel with
# the reference demos of a few chapters, shipped compiled and stripped.
#
# Then it checks that no file of the edition holds the reference's code: no
# run of LEAK_LINES (4) consecutive lines of a reference file, each at least
# 20 characters once blanks are trimmed and none given in a skeleton. The
# edition is refused (exit 1, nothing left in DIR) if one does, unless
# harness/dist-allowed.txt lists the file ("PATH<TAB>why", one a line) with
# the reason its overlap gives nothing away.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/dist}
NAME=aio-course
LEAK_LINES=${LEAK_LINES:-4}
PY=$(command -v /usr/bin/python3 || command -v python3) || {
	echo "make dist: python3 is needed to check the edition for the reference's code" >&2
	exit 2
}

# The course's files: what git tracks when this is a checkout (no build/, no
# editor leftovers), else every file outside build/.
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git -C "$ROOT" ls-files)
else
	mapfile -t files < <(cd "$ROOT" && find . -path ./build -prune -o -type f -print | sed 's|^\./||')
fi
keep=()
for f in "${files[@]}"; do
	case "$f" in
	solutions/* | harness/*/mutants/* | harness/*/variants/* | harness/cheats/* | .ci/* | \
		harness/selftest.sh | harness/tools/mutate.py | harness/tools/caught-by.sh | \
		harness/dist.sh | harness/dist-allowed.txt) ;;
	*) [ -f "$ROOT/$f" ] && keep+=("$f") ;;
	esac
done

stage=$OUT/.$NAME.$$
rm -rf "$stage" && mkdir -p "$stage/$NAME" || exit 2
trap 'rm -rf "$stage"' EXIT
tar -C "$ROOT" -cf - -- "${keep[@]}" | tar -C "$stage/$NAME" -xf - || exit 2

# make doctor asks the kernel some questions with a chapter's demo built on
# the reference module: the edition carries those demos compiled and
# stripped (no source, no symbols of the module's own functions).
for c in $(cd "$ROOT/harness" && grep -l reference_demo [0-9][0-9]-*/doctor.sh | cut -d/ -f1); do
	obj=$stage/obj/$c
	make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$c" \
		IMPL_DIR="$ROOT/solutions/$c" OUT="$obj" demo > "$stage/build-$c.log" 2>&1 &&
		strip -o "$stage/$NAME/harness/$c/doctor-demo" "$obj/demo" || {
		echo "make dist: chapter $c's demo for make doctor does not build (see $stage/build-$c.log)" >&2
		trap - EXIT
		exit 2
	}
done
# A chapter built on earlier chapters' modules (BACKEND_SRCS, chapter 10)
# links the reference's: the edition carries those compiled, without debug
# information or local symbols, as harness/CHAPTER/backends/*.o.
for c in $(cd "$ROOT/harness" && grep -l '^BACKEND_SRCS *:= *[^ ]' [0-9][0-9]-*/chapter.mk | cut -d/ -f1); do
	objs=$(make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$c" \
		IMPL_DIR="$ROOT/solutions/$c" OUT="$stage/obj/$c" backends 2> "$stage/build-$c.log") || {
		echo "make dist: chapter $c's back-ends do not build (see $stage/build-$c.log)" >&2
		trap - EXIT
		exit 2
	}
	mkdir -p "$stage/$NAME/harness/$c/backends" || exit 2
	for o in $objs; do
		strip --strip-unneeded -o "$stage/$NAME/harness/$c/backends/${o##*/}" "$o" || exit 2
	done
done
rm -rf "$stage/obj" "$stage"/build-*.log

# The edition says what it is, first thing in its README.
{
	echo "> **Student edition** (made with \`make dist\`): the reference solutions, the"
	echo "> known-wrong variants and the course's own tests are not included. \`make check\`"
	echo "> grades your \`exercises/\`. Where a lesson says \`IMPL=solutions\`, leave it out to"
	echo "> run your own code (the default), and read \`build/exercises/\` where it says"
	echo "> \`build/solutions/\`: the output matches the lesson's once \`make check CH=NN\` passes."
	echo
	cat "$ROOT/README.md"
} > "$stage/$NAME/README.md" || exit 2

# The reference's code, anywhere in the edition?
if ! "$PY" - "$ROOT" "$stage/$NAME" "$LEAK_LINES" <<'PY'; then
import os, sys

root, edition, run = sys.argv[1], sys.argv[2], int(sys.argv[3])

def lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [l.strip() for l in f]
    except OSError:
        return []

def numbered(path):
    """(line number, text) of the non-blank lines of path."""
    return [(n + 1, l) for n, l in enumerate(lines(path)) if l]

# What every learner is given anyway: the skeletons' lines.
given = set()
ex = os.path.join(root, "exercises")
for chapter in os.listdir(ex):
    for name in os.listdir(os.path.join(ex, chapter)):
        given.update(lines(os.path.join(ex, chapter, name)))

# Runs of `run` consecutive non-blank lines of each reference file, every one
# of them long (not "return 0;" or "}") and in no skeleton.
runs = {}
sol = os.path.join(root, "solutions")
for chapter in sorted(os.listdir(sol)):
    for name in sorted(os.listdir(os.path.join(sol, chapter))):
        ref = numbered(os.path.join(sol, chapter, name))
        for i in range(len(ref) - run + 1):
            window = tuple(l for _, l in ref[i:i + run])
            if all(len(l) >= 20 and l not in given for l in window):
                runs.setdefault(window, "solutions/%s/%s:%d" % (chapter, name, ref[i][0]))

allowed = set()
for l in lines(os.path.join(root, "harness", "dist-allowed.txt")):
    if l and not l.startswith("#") and "\t" in l:
        allowed.add(l.split("\t", 1)[0])

leaks = 0
for dirpath, _, names in os.walk(edition):
    for name in names:
        path = os.path.join(dirpath, name)
        if os.path.relpath(path, edition) in allowed:
            continue
        text = numbered(path)
        for i in range(len(text) - run + 1):
            where = runs.get(tuple(l for _, l in text[i:i + run]))
            if where:
                leaks += 1
                print("make dist: %s:%d is the reference's code (%s)"
                      % (os.path.relpath(path, edition), text[i][0], where), file=sys.stderr)
                break
sys.exit(1 if leaks else 0)
PY
	echo "make dist: the student edition would carry the reference's code (above): not written" >&2
	exit 1
fi

# The instructor's archive: the whole course, solutions, mutants and cheats
# included. Keep it private.
tar -C "$ROOT" -czf "$stage/$NAME-instructor.tar.gz" --transform "s|^|$NAME-instructor/|" -- "${files[@]}" || exit 2

rm -rf "${OUT:?}/$NAME" "$OUT/$NAME.tar.gz" "$OUT/$NAME-instructor.tar.gz"
tar -C "$stage" -czf "$stage/$NAME.tar.gz" "$NAME" &&
	mv "$stage/$NAME" "$OUT/$NAME" && mv "$stage/$NAME.tar.gz" "$OUT/$NAME.tar.gz" &&
	mv "$stage/$NAME-instructor.tar.gz" "$OUT/" || exit 2
echo "make dist: $OUT/$NAME.tar.gz, the student edition (${#keep[@]} files; no solutions, mutants or cheats; make doctor's reference demos compiled)"
echo "make dist: $OUT/$NAME-instructor.tar.gz, the whole course: keep it private"
