/* cheat: leave a process behind that ignores SIGTERM (sleep 60, named cheat-leftover) */
#include <signal.h>
#include "lib/once.c"
#include "lib/sleeper.c"

static void cheat_call(void)
{
	if (first_time("leftover") && fork() == 0) {
		setsid();
		signal(SIGTERM, SIG_IGN);  /* ignored signals stay ignored across execve */
		signal(SIGHUP, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		become_sleeper("cheat-leftover", "60", 0);
	}
}

#include "lib/calls-01.c"
