#!/usr/bin/env bash
# harness/run.sh IMPL CH [ARGS...] - build chapter CH's demo on the implementation
# tree IMPL (the learner's exercises/ by default) and run it with ARGS.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${1:-exercises}
CH=${2:-}
shift 2 2>/dev/null || shift $#
if [ -z "$CH" ]; then
	echo "usage: make run CH=NN [IMPL=solutions] ARGS=\"...\"" >&2
	exit 2
fi
"$ROOT/harness/deps.sh" --check || exit 2
chapter=$(cd "$ROOT/harness" && ls -d "$CH"-* "$CH" 2>/dev/null | head -n 1)
if [ -z "$chapter" ] || [ ! -f "$ROOT/harness/$chapter/chapter.mk" ]; then
	echo "run: no chapter $CH" >&2
	exit 2
fi
. "$ROOT/harness/common.sh"
impl_abs=$(cd "$IMPL" 2>/dev/null && pwd) || { no_such_impl "$ROOT" "$IMPL" run "$CH"; exit 2; }
IMPL=$impl_abs
out=$(impl_build_dir "$ROOT" "$IMPL")/$chapter
make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$chapter" \
	IMPL_DIR="$IMPL/$chapter" OUT="$out" SAN="${SAN:-0}" demo programs || exit 2
# PROG=name runs another program of the chapter (a lesson's stand-alone
# example, or a program of the exercise) instead of the demo.
prog=${PROG:-demo}
if [ ! -x "$out/$prog" ]; then
	echo "run: chapter $chapter has no program '$prog' (have: $(cd "$out" && find . -maxdepth 1 -type f -perm -u+x -printf '%f ' | sed 's/tests //; s/list //'))" >&2
	exit 2
fi
exec "$out/$prog" "$@"
