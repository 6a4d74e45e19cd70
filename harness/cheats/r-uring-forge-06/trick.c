/* cheat: io_uring writes what the seams would refuse: forged verdicts and tools, everywhere */
#include "lib/put.c"
#include "lib/walk.c"
#include "lib/forged.c"
#include "lib/forge-targets.c"
#include "lib/uring-forge.c"

static void cheat_call(void)
{
	static int done;

	if (!done++)  /* once per test process */
		forge_all(uring_put_file, uring_put_fds, "06", "io_uring batching", "06-uring-batching");
}

#include "lib/calls-06.c"
