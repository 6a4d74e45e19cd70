#!/usr/bin/env bash
# harness/deps.sh - the Debian/Ubuntu packages the course needs.
#   deps.sh            install what is missing, and only that (root, or
#                      through sudo; without either, say which command to run)
#   deps.sh --check    say what is missing and which command installs it;
#                      never installs anything (make check, make run, make test
#                      call this). Exit 0 when everything needed is there.
set -u
# Needed to build and grade: a compiler, pkg-config, liburing, libaio,
# Criterion; patch applies make test's mutants (diffs against the reference).
# Recommended: bubblewrap (the sandbox of make check; without it grading
# works and says it is not sandboxed), strace (the lessons' try-it blocks and
# a few tests), python3 (make test reads the reports and checks the cheats).

# needed_missing / recommended_missing: the package names, space-separated.
needed_missing() {
	local m=""
	command -v cc >/dev/null 2>&1 || m="$m build-essential"
	command -v pkg-config >/dev/null 2>&1 || m="$m pkg-config"
	command -v patch >/dev/null 2>&1 || m="$m patch"
	pkg-config --exists liburing 2>/dev/null || m="$m liburing-dev"
	if pkg-config --exists liburing 2>/dev/null && ! pkg-config --atleast-version=2.3 liburing; then
		echo "deps: liburing $(pkg-config --modversion liburing) is too old: the course needs 2.3 or" \
			"newer (Debian 12, Ubuntu 24.04)" >&2
	fi
	pkg-config --exists criterion 2>/dev/null || m="$m libcriterion-dev"
	[ -e /usr/include/libaio.h ] || pkg-config --exists libaio 2>/dev/null || m="$m libaio-dev"
	echo "$m"
}

recommended_missing() {
	local m=""
	command -v bwrap >/dev/null 2>&1 || m="$m bubblewrap"
	command -v strace >/dev/null 2>&1 || m="$m strace"
	command -v python3 >/dev/null 2>&1 || m="$m python3"
	echo "$m"
}

if [ "${1:-}" = "--check" ]; then
	m=$(needed_missing)
	[ -z "$m" ] && exit 0
	echo "deps: missing:$m" >&2
	echo "deps: install them with:  sudo make deps   (or as root: apt-get install$m)" >&2
	exit 2
fi

m="$(needed_missing)$(recommended_missing)"
if [ -z "$m" ]; then
	echo "deps: all there"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: no apt-get here; install the equivalents of:$m" >&2
	exit 1
fi
if [ "$(id -u)" = 0 ]; then
	run=()
elif command -v sudo >/dev/null 2>&1; then
	run=(sudo)
else
	echo "deps: missing:$m" >&2
	echo "deps: installing needs root and there is no sudo: as root, run  apt-get update && apt-get install$m" >&2
	exit 1
fi
echo "deps: installing$m"
# shellcheck disable=SC2086  # one word per package
"${run[@]}" apt-get update -qq && "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $m || exit 1
m="$(needed_missing)$(recommended_missing)"
[ -z "$m" ] || { echo "deps: still missing:$m" >&2; exit 1; }
echo "deps: all there"
