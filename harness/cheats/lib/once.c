/*
 * harness/cheats/lib/once.c - once per grading: true for the first test
 * process that gets here (the runner's pid and start time name the grading).
 */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

/* Start time of a process (field 22 of /proc/PID/stat), to name this grading. */
static unsigned long long started(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	int field = 2;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')))
		for (; *p; p++)
			if (*p == ' ' && ++field == 22) {
				t = strtoull(p + 1, NULL, 10);
				break;
			}
	fclose(fp);
	return t;
}

/* True once per grading (per test runner), whichever test gets here first. */
__attribute__((unused))
static int first_time(const char *tag)
{
	const char *dir = getenv("GRADE_TMPDIR");
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/.cheat-%s-%d-%llu", dir && *dir ? dir : "/tmp", tag,
		 (int)getppid(), started(getppid()));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
