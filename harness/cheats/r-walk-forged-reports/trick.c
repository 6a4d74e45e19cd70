/* cheat: forge the reports wherever they may be, walking up from the test's directory */
#include "lib/put.c"
#include "lib/walk.c"
#include "lib/forged.c"
#include "lib/forge-targets.c"

static void cheat_call(void)
{
	static int done;

	if (!done++)  /* once per test process */
		forge_reports_everywhere(put_blob, "01", "blocking I/O");
}

#include "lib/calls-01.c"
