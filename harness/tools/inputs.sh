#!/usr/bin/env bash
# harness/tools/inputs.sh [--hash] CHAPTER - what a chapter's mutants' and
# variants' verdicts depend on: the files (one path a line, from the top of
# the repository), or with --hash one sha256 of their contents and of the
# machine (kernel, compiler, libraries, user), the key of the chapter's
# record of its last full grading (harness/NN-*/mutants/last-full-run.tsv,
# written by harness/tools/caught-by.sh; read by make test-mutants with
# ONLY_CHANGED=1, as CI runs it).
#
# The files: the chapter's own (its reference, contract, lesson, tests,
# mutants and variants; caught-by.tsv and the record itself left out: they
# change how fast a verdict comes, never which), the reference and contract
# headers of each chapter whose modules it links (BACKEND_SRCS), the grader's
# scripts, build rules and tools, harness/lib's sources, and those of its
# headers the chapter's tests include, directly or through others. Broad on
# purpose: a file counted that could not matter costs a grading, a file
# missed would let a stale verdict stand.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
hash=""
if [ "${1:-}" = --hash ]; then
	hash=1
	shift
fi
c=${1:-}
c=${c%/}
c=${c##*/}
if [ -z "$c" ] || [ ! -f "harness/$c/chapter.mk" ]; then
	echo "usage: harness/tools/inputs.sh [--hash] NN-topic" >&2
	exit 2
fi

# The chapters whose references this one links, from its BACKEND_SRCS
# (e.g. "02-libaio/laio.c 03-posix-aio/tpool.c \" over two lines).
linked() {
	local line all="" collecting=0
	while IFS= read -r line; do
		if [[ $line =~ ^BACKEND_SRCS[[:space:]]*:?=(.*)$ ]]; then
			collecting=1
			line=${BASH_REMATCH[1]}
		fi
		[ "$collecting" = 1 ] || continue
		all+=" ${line%\\}"
		[[ $line == *\\ ]] || collecting=0
	done < "harness/$c/chapter.mk"
	for f in $all; do
		echo "${f%%/*}"
	done | sort -u
}

# The headers of harness/lib included from FILES, and from those, and so on.
lib_headers() {
	local todo=("$@") seen=" " f h line
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		[ -f "$f" ] || continue
		while IFS= read -r line; do
			[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
			h=harness/lib/${BASH_REMATCH[1]}
			[ -f "$h" ] || continue
			[[ $seen == *" $h "* ]] && continue
			seen+="$h "
			todo+=("$h")
			echo "$h"
		done < "$f"
	done
}

files() {
	local d
	# The files git would commit (tracked, or new and not ignored): the same
	# list in a developer's checkout as in CI's clean clone of the commit.
	git ls-files -co --exclude-standard -- "harness/$c" "solutions/$c" "chapters/$c" chapters/common \
		Makefile ':(glob)harness/*.sh' harness/mk ':(glob)harness/tools/*.c' harness/lib |
		grep -v -e '/mutants/caught-by\.tsv$' -e '/mutants/last-full-run\.tsv$' -e '^harness/lib/.*\.h$'
	# Of a linked chapter, its reference and its contract's headers (its
	# lesson is not read by this chapter's build).
	for d in $(linked); do
		git ls-files -co --exclude-standard -- "solutions/$d" ":(glob)chapters/$d/*.h"
	done
	lib_headers $(git ls-files -co --exclude-standard -- "harness/$c" harness/lib | grep -E '\.(c|h)$' |
		grep -v '^harness/lib/.*\.h$')
}

if [ -z "$hash" ]; then
	files | sort -u
	exit 0
fi
{
	# The machine: a verdict recorded on another kernel, compiler, library
	# or user does not stand for this one.
	echo "kernel $(uname -r)"
	echo "compiler $(${CC:-cc} --version 2>&1 | head -n 1)"
	echo "glibc $(getconf GNU_LIBC_VERSION 2>&1)"
	echo "libraries $(pkg-config --modversion liburing libaio criterion 2>&1 | tr '\n' ' ')"
	echo "user $([ "$(id -u)" = 0 ] && echo root || echo other) memlock $(ulimit -l)"
	# (A file listed but deleted from the working tree is left out here, as
	# it is from a commit of it.)
	files | sort -u | while IFS= read -r f; do
		[ -f "$f" ] && printf '%s\0' "$f"
	done | xargs -0 -r sha256sum --
} | sha256sum | cut -d' ' -f1
