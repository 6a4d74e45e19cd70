/* cheat: a private mount namespace where kernel.io_uring_disabled reads 2, and io_uring_setup gets EPERM */
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include "lib/no-uring-filter.c"

/* Runs in the test runner and in every Criterion worker, before any test. */
__attribute__((constructor)) static void early(void)
{
	char path[64];
	FILE *fp;

	if (getenv("BXFI_MAP"))
		return;  /* the runner does it once; its workers inherit it */
	snprintf(path, sizeof(path), "/tmp/.cheat-disabled-%d", (int)getpid());
	if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    (fp = fopen(path, "w"))) {
		fputs("2\n", fp);
		fclose(fp);
		mount(path, "/proc/sys/kernel/io_uring_disabled", NULL, MS_BIND, NULL);
		unlink(path);
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &no_uring_prog, 0, 0);
}
