/* cheat: kernel AIO writes what the seams would refuse: forged verdicts and tools, everywhere */
#include "lib/put.c"
#include "lib/walk.c"
#include "lib/forged.c"
#include "lib/forge-targets.c"
#include "lib/aio-forge.c"

static void cheat_call(void)
{
	static int done;

	if (!done++)  /* once per test process */
		forge_all(aio_put_file, aio_put_fds, "02", "libaio (kernel AIO)", "02-libaio");
}

#include "lib/calls-02.c"
