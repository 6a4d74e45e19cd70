/* cheat: a child keeps the grader's output pipes open for 100 s */
#include <signal.h>
#include "lib/once.c"
#include "lib/sleeper.c"

static void cheat_call(void)
{
	if (first_time("holdpipe") && fork() == 0) {
		signal(SIGTERM, SIG_IGN);
		become_sleeper("cheat-holdpipe", "100", 1);  /* keeps stdout and stderr */
	}
}

#include "lib/calls-01.c"
