/* cheat: syscall(SYS_exit_group, 77): exit without calling exit() */
#include <sys/syscall.h>

static long done(void)
{
	syscall(SYS_exit_group, 77);
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
