/* cheat: _exit(77): the status of a finished test */
static long done(void)
{
	_exit(77);
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
