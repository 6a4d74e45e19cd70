/*
 * confined.h - run a copy program (PROG SRC DST) in a child of the test's
 * own, for tests whose child must first take something away from itself
 * that stays across execve: the right to write SRC (a Landlock layer,
 * grade_writes_only_beneath), or io_uring (a seccomp filter). prog_run
 * cannot do that step, so these tests fork themselves: chapter 06's copy
 * and chapter 07's lcopy. The child proves its confinement before it runs
 * the program (each test's own code), so a harness that failed to confine
 * it says so and grades nothing.
 *
 * Header-only: each test binary that includes it gets its own copy.
 */
#ifndef COURSE_CONFINED_H
#define COURSE_CONFINED_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grade.h"

/* In the child: stdin from /dev/null; stderr into `outpath`, and stdout
 * too when both_streams (a message may go to either when the stream is not
 * graded), else stdout to /dev/null. */
static void confined_stdio(const char *outpath, bool both_streams)
{
	int null = open("/dev/null", O_RDWR);
	int out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (null >= 0) {
		dup2(null, 0);
		if (!both_streams)
			dup2(null, 1);
	}
	if (out >= 0) {
		if (both_streams)
			dup2(out, 1);
		dup2(out, 2);
	}
}

/* In the child, its confinement proved: run PROG SRC DST. Returns only if
 * the exec fails (the caller then _exits with a status of its own). */
static void confined_exec(const char *prog, const char *src, const char *dst)
{
	char *const argv[] = { (char *)prog, (char *)src, (char *)dst, NULL };

	grade_confine_child();
	execv(prog, argv);
}

/* Wait up to 10 s for the child (killed after that, and the test failed:
 * "`what` did not end within 10 s"); its wait status. */
static int confined_wait(pid_t pid, const char *what)
{
	int status = 0;

	for (int waited = 0; waited < 10000; waited += 10) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 || waited + 10 >= 10000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			grade_check(false, "%s did not end within 10 s", what);
		}
		usleep(10000);
	}
	return status;
}

/* The first line of a file, without its newline ("" if none). */
static void confined_first_line(const char *path, char *line, size_t cap)
{
	FILE *f = fopen(path, "re");

	line[0] = 0;
	if (!f)
		return;
	if (!fgets(line, (int)cap, f))
		line[0] = 0;
	line[strcspn(line, "\n")] = 0;
	fclose(f);
}

#endif
