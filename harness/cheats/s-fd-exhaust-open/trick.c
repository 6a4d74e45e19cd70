/* cheat: fill the descriptor table and leave it full for the harness */
#include <fcntl.h>

static void cheat_call(void)
{
	for (int i = 0; i < (1 << 17); i++)
		if (open("/dev/null", O_RDONLY) < 0)
			break;  /* EMFILE: nothing left for anyone */
}

#include "lib/calls-05.c"
