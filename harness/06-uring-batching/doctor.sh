# Chapter 06 (sourced by harness/doctor.sh): test 06.26 watches the copy
# program's system calls with strace, which needs ptrace.
if command -v strace >/dev/null 2>&1; then
	if strace -f -o /dev/null true >/dev/null 2>&1; then
		ok "ptrace (ch. 06)" "strace can trace programs: test 06.26 checks that copy batches through io_uring"
	else
		warn "ptrace (ch. 06)" "strace cannot trace here (ptrace refused): test 06.26 is skipped" \
			"in a container add --cap-add SYS_PTRACE; or sysctl kernel.yama.ptrace_scope=1"
	fi
fi
