#!/usr/bin/env bash
# harness/compdb.sh - build/compile_commands.json, for clangd and other
# editors that read a compilation database (make check and make run write
# it; `make compdb` on its own, which passes the flags of harness/mk/flags.mk
# in CFLAGS). clangd finds it in build/ by itself.
#
# One entry per C file of exercises/, solutions/, chapters/ and harness/,
# with the flags harness/mk/chapter.mk compiles it with: the contract's
# include path for a chapter's files, the harness's own for its tests.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/compile_commands.json
# The compiler flags of harness/mk/flags.mk, which make passes in.
CFLAGS=${CFLAGS:?run through make: make compdb}
PKG=$(pkg-config --cflags liburing criterion 2>/dev/null)

# json STRING: STRING as a JSON string, in J (no subshell: one per entry
# field would make this slow).
json() {
	J=${1//\\/\\\\}
	J=\"${J//\"/\\\"}\"
}

# entry DIR FILE FLAGS: one compile command.
entry() {
	local dir file
	json "$1"; dir=$J
	json "$2"; file=$J
	json "cc $CFLAGS $3 -c -o /dev/null $2"
	printf '%s{ "directory": %s, "file": %s, "command": %s }' "$sep" "$dir" "$file" "$J"
	sep=$',\n  '
}

sep=""
mkdir -p "$ROOT/build" || exit 2
{
	printf '[\n  '
	for d in "$ROOT"/chapters/[0-9][0-9]-*/; do
		c=$(basename "$d")
		inc="-I$ROOT/chapters/common -I$ROOT/chapters/$c $PKG"
		for f in "$ROOT/exercises/$c"/*.c "$ROOT/solutions/$c"/*.c "$d"*.c; do
			[ -f "$f" ] && entry "$ROOT" "$f" "$inc"
		done
		for f in "$ROOT/harness/$c"/*.c; do
			[ -f "$f" ] && entry "$ROOT" "$f" "$inc -I$ROOT/harness/lib -DGRADE_CHAPTER='\"${c%%-*}\"'"
		done
	done
	for f in "$ROOT"/harness/lib/*.c "$ROOT"/harness/tools/*.c; do
		[ -f "$f" ] && entry "$ROOT" "$f" "-I$ROOT/chapters/common -I$ROOT/harness/lib $PKG"
	done
	printf '\n]\n'
} > "$OUT.$$" && mv "$OUT.$$" "$OUT"
