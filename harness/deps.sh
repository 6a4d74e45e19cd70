#!/usr/bin/env bash
# harness/deps.sh - the Debian/Ubuntu packages the course needs.
#   deps.sh            install them (root, or through sudo)
#   deps.sh --check    say what is missing and how to install it; as root on a
#                      machine with apt-get, install it (exit 0 if all is there)
set -u
# bubblewrap: the sandbox of make check (without it, grading still works and
# says it is not sandboxed).
# patch: make test applies the mutants (diffs against the reference).
# python3: make test reads the reports and checks the cheat submissions.
PACKAGES="build-essential patch python3 pkg-config liburing-dev libaio-dev libcriterion-dev strace bubblewrap"

missing() {
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

install() {
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "deps: no apt-get here; install the equivalents of: $PACKAGES" >&2
		return 1
	fi
	echo "deps: installing $PACKAGES"
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $PACKAGES
}

if [ "${1:-}" = "--check" ]; then
	m=$(missing)
	[ -z "$m" ] && exit 0
	echo "deps: missing:$m" >&2
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: running as root, installing them now (make deps)" >&2
		install >&2 && [ -z "$(missing)" ] && exit 0
	fi
	echo "deps: install them with:  sudo make deps   (or: sudo apt-get install$m)" >&2
	exit 2
fi
install
m=$(missing)
[ -z "$m" ] || { echo "deps: still missing:$m" >&2; exit 1; }
echo "deps: all there"
