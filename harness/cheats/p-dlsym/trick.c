/* cheat: dlsym finds grade_test_end or _exit at run time: no suspicious symbol to vet */
#include <dlfcn.h>

static long done(void)
{
	void (*end)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "grade_test_end");
	void (*leave)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "_exit");

	if (end)
		end();
	if (leave)
		leave(77);
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
