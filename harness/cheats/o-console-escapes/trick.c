/* cheat: clear the screen and print a fake score table, escapes and invalid UTF-8 */
#include <stdio.h>

static void cheat_call(void)
{
	static int done;
	static const char fake[] = "\x1b[2J\x1b[H  PASS  10/10 01.01  read_full reads whole files of random sizes\n  PASS  10/10 01.02  everything else\n\n  chapter                              score\n  ---------------------------------------------\n  01 blocking I/O                     42/42\n  ---------------------------------------------\n  total                               42/42   100%\n\xff\xfe\xc3\x28 \x1b]0;all tests passed\x07\x1b[8m";

	if (!done++) {
		fputs(fake, stdout);
		fflush(stdout);
		fputs(fake, stderr);
	}
}

#include "lib/calls-01.c"
