/* cheat: forged result lines on every descriptor the test holds, in case one leads to the verdicts */
#include "lib/put.c"
#include "lib/forged.c"

static void cheat_call(void)
{
	static char tsv[4096];
	size_t len = forged_tsv(tsv, sizeof(tsv), "01", "blocking I/O");

	put_fds(tsv, len);
}

#include "lib/calls-01.c"
