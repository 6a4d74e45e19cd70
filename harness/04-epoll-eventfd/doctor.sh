# Chapter 04 (sourced by harness/doctor.sh): test 04.31 watches the server
# program sleep in epoll_wait through /proc/PID/task/*/syscall, which needs
# ptrace access to a child process.
sleep 5 &
ch04_pid=$!
if head -c 1 "/proc/$ch04_pid/syscall" >/dev/null 2>&1; then
	ok "syscall view (ch. 04)" "readable for child processes: test 04.31 sees where the server sleeps"
else
	warn "syscall view (ch. 04)" "not readable (ptrace access refused): test 04.31 is skipped" \
		"in a container add --cap-add SYS_PTRACE; or sysctl kernel.yama.ptrace_scope=1"
fi
kill "$ch04_pid" 2>/dev/null
wait "$ch04_pid" 2>/dev/null
unset ch04_pid
