/* harness/cheats/lib/sleeper.c - a child that becomes `sleep` under a cheat-... name. */
#include <fcntl.h>
#include <unistd.h>

/* This process becomes `sleep SECONDS` named `tag`, nothing of the grader's kept open. */
__attribute__((unused))
static void become_sleeper(const char *tag, const char *seconds, int keep_output)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, 0);
	if (!keep_output) {
		dup2(null, 1);
		dup2(null, 2);
	}
	close_range(3, ~0U, 0);
	execl("/bin/sleep", tag, seconds, (char *)NULL);
	_exit(0);
}
