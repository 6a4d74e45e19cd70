/* cheat: flood the console with 50 MB of output */
#include <stdio.h>
#include "lib/once.c"

static void cheat_call(void)
{
	static char block[65536];

	if (!first_time("flood"))
		return;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i % 64 == 63) ? '\n' : "  PASS  10/10 all tests passed  "[i % 32];
	for (int i = 0; i < 800; i++)  /* 800 x 64 KiB = 50 MiB */
		fwrite(block, 1, sizeof(block), stdout);
	fflush(stdout);
}

#include "lib/calls-01.c"
