# harness/sandbox.sh - sourced by grade.sh: run the learner's build and tests
# in a bubblewrap sandbox.
#
# Inside, a process sees the system read-only (/usr, the few files of /etc
# that programs need), the paths it is given, and nothing else: not the
# course's solutions/ or mutants, not build/reports, not the grader's tools,
# not /root or /home. It runs with no capabilities, in its own user, pid,
# network (loopback only), IPC and UTS namespaces, in a new session (no
# TIOCSTI into the terminal), and every process of it dies when its first
# process ends. Resource limits (time, file size, memory, processes) are
# set by sandbox_limits around it.
#
# SANDBOX=auto (the default) uses bubblewrap when it works and otherwise
# grades unsandboxed, saying so once; SANDBOX=required makes that an error
# (for autograders); SANDBOX=off turns it off (to debug the grader).

SANDBOX=${SANDBOX:-auto}
SANDBOX_ON=0
SANDBOX_WHY=""

# sandbox_base: the arguments every sandbox starts with (in SB), worked out
# once per grading and kept in SB_BASE.
SB_BASE=()
sandbox_base() {
	local d f i links=() targets=()
	if [ ${#SB_BASE[@]} -gt 0 ]; then
		SB=("${SB_BASE[@]}")
		return 0
	fi
	SB=(bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session
	    --cap-drop ALL --ro-bind /usr /usr --proc /proc --dev /dev --tmpfs /tmp
	    --clearenv --setenv PATH /usr/local/bin:/usr/bin:/bin --setenv HOME /tmp
	    --setenv LANG C.UTF-8 --setenv TMPDIR /tmp)
	# The links (/bin -> usr/bin on a merged /usr) read with one readlink.
	for d in /bin /sbin /lib /lib32 /lib64 /libx32; do
		[ -L "$d" ] && links+=("$d")
	done
	[ ${#links[@]} -eq 0 ] || mapfile -t targets < <(readlink -- "${links[@]}")
	i=0
	for d in /bin /sbin /lib /lib32 /lib64 /libx32; do
		if [ -L "$d" ]; then
			SB+=(--symlink "${targets[$i]}" "$d")
			i=$((i + 1))
		elif [ -d "$d" ]; then
			SB+=(--ro-bind "$d" "$d")
		fi
	done
	# What the dynamic loader, the compiler driver (update-alternatives) and
	# name lookups read; not /etc as a whole (/etc/shadow is readable to root).
	for f in ld.so.cache ld.so.conf ld.so.conf.d alternatives passwd group nsswitch.conf \
		localtime hosts services protocols; do
		[ -e "/etc/$f" ] && SB+=(--ro-bind "/etc/$f" "/etc/$f")
	done
	# A checkout under /usr would be visible whole through the bind above:
	# the reference stays hidden wherever the course lives.
	if [ -n "${ROOT:-}" ] && [ -d "$ROOT/solutions" ]; then
		SB+=(--tmpfs "$ROOT/solutions")
	fi
	SB_BASE=("${SB[@]}")
	return 0
}

# sandbox_check: decide once whether gradings are sandboxed; prints the
# reason when they are not. Returns 1 if SANDBOX=required cannot be met.
sandbox_check() {
	local err
	[ "$EUID" = 0 ] && sandbox_cleanup_stale
	if [ "$SANDBOX" = off ]; then
		SANDBOX_WHY="SANDBOX=off was given"
	elif [ -n "${GRADE_PREPARED:-}" ] && [ "${GRADE_SANDBOX_CHECKED:-}" = 1 ]; then
		# make test's own gradings: harness/selftest.sh ran this same trial
		# once before them, and bubblewrap started (grade.sh, GRADE_PREPARED).
		sandbox_base
		SANDBOX_ON=1
		return 0
	elif ! command -v bwrap >/dev/null 2>&1; then
		SANDBOX_WHY="bubblewrap is not installed (sudo apt-get install bubblewrap, or make deps)"
	else
		sandbox_base
		if err=$("${SB[@]}" -- /bin/true 2>&1); then
			SANDBOX_ON=1
			return 0
		fi
		SANDBOX_WHY="bubblewrap cannot start here ($(printf '%s' "$err" | head -n 1)); in a container, allow user namespaces or run it with --privileged"
	fi
	if [ "$SANDBOX" = required ]; then
		echo "grade: SANDBOX=required, but the tests cannot be sandboxed: $SANDBOX_WHY" >&2
		return 1
	fi
	echo "grade: NOT SANDBOXED: $SANDBOX_WHY. The learner's code runs with your rights and can reach this checkout; grade untrusted code only in a sandbox (harness/README.md, 'Grading untrusted code')." >&2
	return 0
}

# sandbox_limits CPU_SECONDS: resource limits for what runs next, in the
# current (sub)shell. Memory is not limited under SAN=1: AddressSanitizer
# reserves terabytes of address space it never uses.
sandbox_limits() {
	local nproc
	ulimit -S -c 0 2>/dev/null
	ulimit -S -t "$1" 2>/dev/null
	ulimit -S -f $((64 * 1024 * 1024)) 2>/dev/null  # 64 GiB of file offset (sparse files)
	[ "${SAN:-0}" = 1 ] || ulimit -S -v $((16 * 1024 * 1024)) 2>/dev/null
	# Processes: root is not held by RLIMIT_NPROC (the kernel exempts it);
	# for anyone else, what runs already plus room for the tests' own. The
	# runner runs one test per core at once, and a test of chapter 03 may
	# start TPOOL_MAX_THREADS (256) threads: 512 for the runner and its
	# helpers, and 256 more for each core (with 512 in all, two such tests
	# side by side failed pthread_create with EAGAIN for a learner).
	if [ "$EUID" != 0 ]; then
		nproc=$(ps -u "$EUID" -L --no-headers 2>/dev/null | wc -l)
		ulimit -S -u $((nproc + 512 + 256 * $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4))) 2>/dev/null
	else
		sandbox_pids_cgroup
	fi
	return 0
}

# For root, a pids cgroup (v1 here, v2 where the controller is delegated)
# does what RLIMIT_NPROC cannot: the subshell that calls this, and all it
# starts, may hold at most SANDBOX_PIDS tasks. Best effort: without
# cgroups, the pid namespace still ends every process with the sandbox.
SANDBOX_PIDS=${SANDBOX_PIDS:-2048}
sandbox_pids_cgroup() {
	local base dir
	for base in /sys/fs/cgroup/pids /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -w "$base/cgroup.procs" ] || continue
		[ "$base" = /sys/fs/cgroup/pids ] || grep -qw pids "$base/cgroup.subtree_control" 2>/dev/null || continue
		dir=$base/aio-grade.$$.$BASHPID
		mkdir "$dir" 2>/dev/null || continue
		if echo "$SANDBOX_PIDS" > "$dir/pids.max" 2>/dev/null && echo "$BASHPID" > "$dir/cgroup.procs" 2>/dev/null; then
			return 0
		fi
		rmdir "$dir" 2>/dev/null
	done
	return 0
}

# sandbox_cleanup_stale: remove the empty cgroups of gradings that are no
# longer running (one stopped before its cleanup ran, or raced a process
# still exiting). Called once per grading.
sandbox_cleanup_stale() {
	local dir pid
	for dir in /sys/fs/cgroup/pids/aio-grade.* /sys/fs/cgroup/unified/aio-grade.* /sys/fs/cgroup/aio-grade.*; do
		[ -d "$dir" ] || continue
		pid=${dir##*/aio-grade.}
		pid=${pid%%.*}
		kill -0 "$pid" 2>/dev/null || rmdir "$dir" 2>/dev/null
	done
	return 0
}

# sandbox_cleanup: remove the cgroups left by this grading's subshells.
sandbox_cleanup() {
	local dir dirs=()
	for dir in /sys/fs/cgroup/pids/aio-grade.$$.* /sys/fs/cgroup/unified/aio-grade.$$.* /sys/fs/cgroup/aio-grade.$$.*; do
		[ -d "$dir" ] && dirs+=("$dir")
	done
	[ ${#dirs[@]} -eq 0 ] || rmdir -- "${dirs[@]}" 2>/dev/null
	return 0
}

# sandbox_run [--timeout SECONDS] [--ro PATH]... [--rw PATH]... [--mask PATH]...
#             [--env NAME=VALUE]... [--chdir DIR] -- COMMAND...
# Run COMMAND in the sandbox (or as it is when grading is not sandboxed:
# then only the environment is cleaned, the same as inside). Inherited file
# descriptors stay open for COMMAND.
sandbox_run() {
	local args=() env=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C.UTF-8) dir="" limit=()
	while [ $# -gt 0 ]; do
		case "$1" in
		# Outside the sandbox, where the code inside cannot stop the clock.
		--timeout) limit=(timeout -k 5 "$2"); shift 2 ;;
		--ro) args+=(--ro-bind "$2" "$2"); shift 2 ;;
		--rw) args+=(--bind "$2" "$2"); shift 2 ;;
		--mask) args+=(--tmpfs "$2"); shift 2 ;;
		--env) args+=(--setenv "${2%%=*}" "${2#*=}"); env+=("$2"); shift 2 ;;
		--chdir) args+=(--chdir "$2"); dir=$2; shift 2 ;;
		--) shift; break ;;
		*) echo "sandbox_run: unknown option $1" >&2; return 2 ;;
		esac
	done
	if [ "$SANDBOX_ON" = 1 ]; then
		sandbox_base
		"${limit[@]}" "${SB[@]}" "${args[@]}" -- "$@"
	else
		(cd "${dir:-.}" && exec "${limit[@]}" env -i "${env[@]}" "$@")
	fi
}
