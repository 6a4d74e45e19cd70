/* cheat: fork a child per call and never reap it (capped: 50 per test process) */
#include "lib/sleeper.c"

static void cheat_call(void)
{
	static int children;

	if (children < 50) {
		children++;
		if (fork() == 0)
			become_sleeper("cheat-noreap", "30", 0);
	}
	/* no waitpid: nobody reaps them */
}

#include "lib/calls-01.c"
