/* cheat: flood the console with 50 MB of output, with write() */
#include "lib/put.c"

static void cheat_call(void)
{
	static char block[65536];

	if (!once_per_grading("flood"))
		return;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i % 64 == 63) ? '\n' : "  PASS  10/10 all tests passed  "[i % 32];
	for (int i = 0; i < 800; i++)  /* 800 x 64 KiB = 50 MiB */
		write_all(1, block, sizeof(block));
}

#include "lib/calls-01.c"
