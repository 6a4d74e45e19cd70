/*
 * harness/cheats/lib/daemon.c - a daemon that outlives the test, renamed
 * cheat-... (check.sh finds leftovers by their CHEATS_RUN variable anyway).
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* Rename this process, argv[0] and comm, so that it can be found: "cheat-...". */
__attribute__((unused))
static void mark(const char *tag)
{
	size_t room = strlen(program_invocation_name), len = strlen(tag);

	memset(program_invocation_name, 0, room);
	memcpy(program_invocation_name, tag, len < room ? len : room);
	prctl(PR_SET_NAME, tag, 0, 0, 0);
}

/* Returns 1 in a daemon (double fork, own session, no descriptor of the
 * grader left open, renamed `tag`), 0 in the caller. */
__attribute__((unused))
static int daemonize(const char *tag)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return 0;
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return 0;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close_range(3, ~0U, 0);
	mark(tag);
	return 1;
}
