/* cheat: execl a shell that exits 77: the test process ends "finished" */
static long done(void)
{
	execl("/bin/sh", "sh", "-c", "exit 77", (char *)NULL);
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
