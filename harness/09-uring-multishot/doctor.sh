# harness/09-uring-multishot/doctor.sh - chapter 09's lines for make doctor
# (sourced by harness/doctor.sh, which provides ROOT, ok, info and warn).
#
# Asked of the kernel by the chapter's demo, built on the reference module:
# does a small burst get echoed through a multishot accept, multishot
# receives and a buffer ring (Linux 6.0+), and does the default server (a
# ring of 256 entries and a buffer ring) fit under this user's
# RLIMIT_MEMLOCK? The second question is asked under the limit as it is;
# root (CAP_IPC_LOCK) is not charged.

d09=$ROOT/build/doctor/09-uring-multishot
if demo09=$(reference_demo 09-uring-multishot); then
	out=$(timeout 20 "$demo09" burst --conns 4 --msgs 4 --size 256 --entries 16 --bufs 16 --buf-size 1024 2>&1)
	case "$out" in
	*"every byte checked"*)
		ok "multishot (ch. 09)" "multishot accept and receive with a buffer ring echo a burst of 4 connections" ;;
	*"not permitted"* | *"Function not implemented"*)
		warn "multishot (ch. 09)" "io_uring is refused here, so chapter 09 cannot run" \
			"see the io_uring line above; the chapter's tests are skipped until it works" ;;
	*"Cannot allocate memory"*)
		warn "multishot (ch. 09)" "even a small server (16 entries, 16 buffers) gets ENOMEM: RLIMIT_MEMLOCK is $(ulimit -l) KiB" \
			"raise it with ulimit -l N (up to $(ulimit -Hl) KiB); the chapter's tests are skipped until then" ;;
	*"Operation not supported"*)
		warn "multishot (ch. 09)" "this kernel ($(uname -r)) has no multishot receive (Linux 6.0+) or buffer rings (5.19+)" \
			"use a 6.0 or newer kernel for chapter 09" ;;
	*)
		warn "multishot (ch. 09)" "the chapter 09 demo failed: $(printf '%s' "$out" | grep -m 1 'demo:' || printf '%s' "$out" | head -n 1)" \
			"run make run CH=09 IMPL=solutions ARGS=burst to see why" ;;
	esac
	out=$(timeout 20 "$demo09" burst --conns 2 --msgs 2 --size 64 2>&1)
	case "$out" in
	*"every byte checked"*)
		ok "memlock (ch. 09)" "the default server (256 entries, 256 buffers of 4 KiB) fits under RLIMIT_MEMLOCK $(ulimit -l) KiB" ;;
	*"Cannot allocate memory"*)
		warn "memlock (ch. 09)" "the default server gets ENOMEM: its ring is charged to RLIMIT_MEMLOCK, $(ulimit -l) KiB here" \
			"raise it with ulimit -l N (up to $(ulimit -Hl) KiB), or run the demo with --entries 64 --bufs 64; the tests need 128 KiB" ;;
	*)
		info "memlock (ch. 09)" "not known: the default server did not start ($(printf '%s' "$out" | grep -m 1 'demo:' || printf '%s' "$out" | head -n 1))" ;;
	esac
else
	info "multishot (ch. 09)" "not tried: the chapter 09 demo does not build (make check CH=09 IMPL=solutions shows why)"
fi
unset d09 out
