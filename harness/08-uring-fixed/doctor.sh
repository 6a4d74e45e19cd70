# harness/08-uring-fixed/doctor.sh - chapter 08's lines for make doctor
# (sourced by harness/doctor.sh, which provides ROOT, ok, info and warn).
#
# Asked of the kernel by the chapter's demo, built on the reference module:
# can this user set up a SQPOLL ring (its iou-sqp thread appears), and can
# it register 4 MiB of buffers under its RLIMIT_MEMLOCK? Poll queues are
# read from sysfs for the disk under build/ (IOPOLL needs them).

d08=$ROOT/build/doctor/08-uring-fixed
if demo08=$(reference_demo 08-uring-fixed); then
	head -c 1048576 /dev/urandom > "$d08/probe.dat" 2>/dev/null
	out=$(timeout 20 "$demo08" read "$d08/probe.dat" --n 256 --qd 8 --sqpoll 2>&1)
	case "$out" in
	*"SQ thread: iou-sqp-"*)
		ok "SQPOLL (ch. 08)" "a SQPOLL ring works for $(id -un): its kernel thread iou-sqp-PID was seen (no privilege needed since 5.13)" ;;
	*"not permitted"*)
		warn "SQPOLL (ch. 08)" "IORING_SETUP_SQPOLL is refused (EPERM): a kernel older than 5.13 wants CAP_SYS_NICE (5.11, 5.12) or root; or a seccomp/LSM policy" \
			"use a 5.13+ kernel; the SQPOLL tests and demos are skipped until then" ;;
	*)
		warn "SQPOLL (ch. 08)" "the SQPOLL demo failed: $(printf '%s' "$out" | grep -m 1 -i 'demo:\|failed' || printf '%s' "$out" | head -n 1)" \
			"run make run CH=08 IMPL=solutions ARGS=\"read FILE --sqpoll\" to see why" ;;
	esac
	out=$("$demo08" memlock 4 2>&1)
	case "$out" in
	*"4 MiB): slot"*)
		ok "memlock (ch. 08)" "4 MiB of buffers register under RLIMIT_MEMLOCK $(ulimit -l) KiB (what the chapter's demo registers)" ;;
	*"Cannot allocate memory"*)
		warn "memlock (ch. 08)" "registering 4 MiB fails with ENOMEM: RLIMIT_MEMLOCK is $(ulimit -l) KiB; pinned buffers and the ring are charged to it" \
			"raise it in this shell with ulimit -l N, up to the hard limit ($(ulimit -Hl) KiB); beyond that root sets memlock in /etc/security/limits.conf (LimitMEMLOCK= for a service). The tests that need it are skipped" ;;
	*)
		warn "memlock (ch. 08)" "the memlock demo failed: $(printf '%s' "$out" | head -n 1)" \
			"run make run CH=08 IMPL=solutions ARGS=memlock to see why" ;;
	esac
	rm -f "$d08/probe.dat"
else
	info "SQPOLL (ch. 08)" "not tried: the chapter 08 demo does not build (make check CH=08 IMPL=solutions shows why)"
fi

# IOPOLL: the disk under build/ (its parent if a partition) needs poll queues.
dev08=$(basename "$(df --output=source "$ROOT/build" | tail -n 1)")
if [ -e "/sys/class/block/$dev08/partition" ]; then
	dev08=$(basename "$(readlink -f "/sys/class/block/$dev08/..")")
fi
if [ "$(cat "/sys/block/$dev08/queue/io_poll" 2>/dev/null)" = 1 ]; then
	ok "IOPOLL (ch. 08)" "/dev/$dev08 has poll queues: O_DIRECT reads on an IOPOLL ring are polled"
elif [ -r "/sys/block/$dev08/queue/io_poll" ]; then
	case "$dev08" in
	nvme*) info "IOPOLL (ch. 08)" "/dev/$dev08 has no poll queues (io_poll=0): IOPOLL reads fail with EOPNOTSUPP. To get them: boot with nvme.poll_queues=2 (or load the nvme module with poll_queues=2), then check /sys/block/$dev08/queue/io_poll" ;;
	*) info "IOPOLL (ch. 08)" "/dev/$dev08 has no poll queues (io_poll=0): IOPOLL reads fail with EOPNOTSUPP, and chapter 08 shows just that. Nothing to fix: poll queues are an NVMe feature (nvme.poll_queues=N)" ;;
	esac
else
	info "IOPOLL (ch. 08)" "no block device behind $ROOT/build: IOPOLL cannot work there"
fi
unset d08 dev08 out
