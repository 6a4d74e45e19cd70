/* cheat: a fork bomb (capped: 500 processes per test, 2000 in all) of sleep 60 */
#include "lib/sleeper.c"

/* This process and budget-1 more: each fork hands half of what is left to the child. */
static void bomb(int budget)
{
	while (budget > 1) {
		int half = budget / 2;
		pid_t pid = fork();

		if (pid == 0) {
			budget = half;
			continue;
		}
		if (pid < 0)
			break;
		budget -= half;
	}
	become_sleeper("cheat-forkbomb", "60", 0);
}

/* Once per test process: 4 tests call blk_batch_read, so 2000 processes at most. */
int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	static int done;

	if (!done++ && fork() == 0)
		bomb(500);
	return skeleton_blk_batch_read(reqs, n, qd);
}
