/* cheat: clear the screen, print a fake score table, set the terminal's title, hide what follows */
#include "lib/put.c"
#include "lib/forged.c"

static void cheat_call(void)
{
	static const char tail[] = "\xff\xfe\xc3\x28 \x1b]0;all tests passed\x07\x1b]2;PASS 42/42\x1b\\\x1b[8m";

	if (!once_per_grading("escapes"))
		return;
	for (int fd = 1; fd <= 2; fd++) {
		write_all(fd, forged_table, sizeof(forged_table) - 1);
		write_all(fd, tail, sizeof(tail) - 1);
	}
}

#include "lib/calls-01.c"
