#!/usr/bin/env bash
# harness/doctor.sh - what this machine allows, for the course (make doctor).
# Each line: OK, WARN (with the fix) or INFO. Chapters add their own lines in
# harness/NN-*/doctor.sh, sourced here, using the same three functions.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROBE=$ROOT/build/tools/probe
warnings=0

ok() { printf '  OK    %-22s %s\n' "$1" "$2"; }
info() { printf '  INFO  %-22s %s\n' "$1" "$2"; }
warn() {
	warnings=$((warnings + 1))
	printf '  WARN  %-22s %s\n' "$1" "$2"
	printf '        %-22s fix: %s\n' "" "$3"
}

# reference_demo CHAPTER: the path of the chapter's demo built on the
# reference module, which some chapters' lines ask the kernel with: built
# from solutions/ in build/doctor/CHAPTER, or, in the student edition (make
# dist), the compiled copy it ships as harness/CHAPTER/doctor-demo (never
# the source). Returns 1 if neither is there.
reference_demo() {
	local out=$ROOT/build/doctor/$1
	if [ -d "$ROOT/solutions/$1" ]; then
		make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" \
			CHAPTER="$1" IMPL_DIR="$ROOT/solutions/$1" OUT="$out" demo > /dev/null 2>&1 || return 1
		echo "$out/demo"
	elif [ -x "$ROOT/harness/$1/doctor-demo" ]; then
		mkdir -p "$out" && echo "$ROOT/harness/$1/doctor-demo"
	else
		return 1
	fi
}

echo "make doctor: $(uname -sr), $(nproc) cores, user $(id -un)"
make -s -C "$ROOT" build/tools/probe >/dev/null 2>&1 || echo "  (the probe does not build yet: io_uring and O_DIRECT lines are unknown)"

# --- toolchain and libraries ---------------------------------------------
if command -v cc >/dev/null; then ok "compiler" "$(cc --version | head -n 1)"; else
	warn "compiler" "no cc" "sudo make deps"; fi
for pkg in liburing criterion; do
	if v=$(pkg-config --modversion "$pkg" 2>/dev/null); then ok "$pkg" "$v"; else
		warn "$pkg" "not found by pkg-config" "sudo make deps"; fi
done
if [ -e /usr/include/libaio.h ]; then
	ok "libaio" "$(dpkg-query -W -f '${Version}' libaio-dev 2>/dev/null || echo present) (no pkg-config file on Debian 12: linked with -laio)"
else
	warn "libaio" "libaio.h not found" "sudo make deps"
fi
if command -v strace >/dev/null; then ok "strace" "$(strace -V | head -n 1)"; else
	warn "strace" "missing: the lessons count system calls with strace -c" "sudo apt-get install strace"; fi

# --- the grader's sandbox ---------------------------------------------------
if ! command -v bwrap >/dev/null; then
	warn "sandbox" "bubblewrap is missing: make check grades learner code unsandboxed (it can reach this checkout)" \
		"sudo apt-get install bubblewrap (make deps)"
elif err=$(bwrap --unshare-all --unshare-user --die-with-parent --cap-drop ALL --ro-bind / / -- /bin/true 2>&1); then
	ok "sandbox" "bubblewrap $(bwrap --version | awk '{ print $2 }'): tests run in their own namespaces, without solutions/"
else
	warn "sandbox" "bubblewrap cannot start: ${err:-unknown error}; make check grades unsandboxed" \
		"allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or in a container run it with --privileged; SANDBOX=required makes this an error"
fi

# --- io_uring ----------------------------------------------------------------
disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)
seccomp=$(awk '/^Seccomp:/ { print $2 }' /proc/self/status)
res=$("$PROBE" uring 8 2>/dev/null)
case "$res" in
ok*) ok "io_uring" "a ring can be set up (${res#ok })" ;;
*EPERM*)
	if [ "$disabled" != 0 ]; then
		warn "io_uring" "refused: sysctl kernel.io_uring_disabled=$disabled" \
			"sudo sysctl -w kernel.io_uring_disabled=0 (1 allows only the group in kernel.io_uring_group)"
	else
		warn "io_uring" "refused (EPERM) by a seccomp filter (Seccomp: $seccomp); Docker's default profile blocks io_uring" \
			"run the container with --security-opt seccomp=unconfined, or use a VM"
	fi ;;
*ENOSYS*) warn "io_uring" "this kernel has no io_uring" "a kernel >= 5.6 with CONFIG_IO_URING (the course uses features of 5.19+)" ;;
*ENOMEM*) warn "io_uring" "ring setup fails with ENOMEM: RLIMIT_MEMLOCK too small" "ulimit -l 65536 (see the memlock line)" ;;
*) warn "io_uring" "ring setup failed: ${res:-the probe did not run}" "read chapters/05-*/README.md, 'What blocks io_uring'" ;;
esac
info "io_uring_disabled" "kernel.io_uring_disabled = $disabled (0: allowed for all)"

memlock=$(ulimit -l)
if [ "$memlock" = unlimited ] || [ "$(id -u)" = 0 ]; then
	ok "RLIMIT_MEMLOCK" "$memlock KiB$([ "$(id -u)" = 0 ] && echo ' (root has CAP_IPC_LOCK: the limit does not apply; ordinary users are charged for rings)')"
elif [ "$memlock" -ge 8192 ]; then
	ok "RLIMIT_MEMLOCK" "$memlock KiB: enough for the course's small rings and 4 MiB of registered buffers"
else
	warn "RLIMIT_MEMLOCK" "$memlock KiB: rings and registered buffers are charged to it (ENOMEM)" \
		"ulimit -l 65536, or memlock in /etc/security/limits.conf"
fi

# --- the disk under build/ ---------------------------------------------------
mkdir -p "$ROOT/build"
fs=$(findmnt -n -o FSTYPE -T "$ROOT/build" 2>/dev/null || stat -f -c %T "$ROOT/build")
res=$("$PROBE" odirect "$ROOT/build" 2>/dev/null)
case "$res" in
ok*) ok "O_DIRECT" "works on $ROOT/build ($fs)" ;;
*) warn "O_DIRECT" "refused on $ROOT/build ($fs): ${res:-probe failed}" \
	"clone the course onto a disk filesystem (ext4, xfs, btrfs); tmpfs has no O_DIRECT" ;;
esac
dev=$(basename "$(df --output=source "$ROOT/build" | tail -n 1)")
if [ -e "/sys/class/block/$dev/partition" ]; then
	dev=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
fi
if [ -r "/sys/block/$dev/queue/io_poll" ]; then
	if [ "$(cat "/sys/block/$dev/queue/io_poll")" = 1 ]; then
		ok "poll queues" "/dev/$dev has poll queues: IORING_SETUP_IOPOLL works"
	else
		warn "poll queues" "/dev/$dev has none (io_poll=0): IOPOLL reads fail with EOPNOTSUPP, its demo is skipped" \
			"NVMe only: boot with nvme.poll_queues=N (chapter 08 explains); nothing to fix for the rest of the course"
	fi
	info "block device" "/dev/$dev: $(cat "/sys/block/$dev/queue/logical_block_size")-byte logical, $(cat "/sys/block/$dev/queue/physical_block_size")-byte physical sectors, scheduler $(sed 's/.*\[\(.*\)\].*/\1/' "/sys/block/$dev/queue/scheduler" 2>/dev/null)"
else
	info "poll queues" "no block device behind $ROOT/build ($fs): IOPOLL demo skipped"
fi
info "aio-max-nr" "$(cat /proc/sys/fs/aio-max-nr 2>/dev/null) (in use: $(cat /proc/sys/fs/aio-nr 2>/dev/null)); io_setup fails with EAGAIN beyond it"

for snippet in "$ROOT"/harness/[0-9][0-9]-*/doctor.sh; do
	[ -e "$snippet" ] || continue
	# shellcheck source=/dev/null
	. "$snippet"
done

if [ "$warnings" = 0 ]; then
	echo "make doctor: everything the course needs is here."
else
	echo "make doctor: $warnings warning(s); the tests that need those features are skipped with the reason."
fi
