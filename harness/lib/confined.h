/*
 * confined.h - run a copy program (PROG SRC DST) in a child of the test's
 * own, for tests whose child must first take something away from itself
 * that stays across execve: the right to write SRC (a Landlock layer,
 * grade_writes_only_beneath), or io_uring (a seccomp filter). prog_run
 * cannot do that step, so these tests fork themselves: chapter 06's copy
 * and chapter 07's lcopy. The child proves its confinement before it runs
 * the program (each test's own code, a struct confinement), so a harness
 * that failed to confine it says so and grades nothing: confined_run.
 *
 * Header-only: each test binary that includes it gets its own copy.
 */
#ifndef COURSE_CONFINED_H
#define COURSE_CONFINED_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* The child's exit statuses where the program never ran (the harness's own
 * failures, told from the program's statuses: 0, 1, ...). */
enum { CONFINED_NONE = 90, CONFINED_NOT_REFUSED, CONFINED_EXEC_FAILED };

/*
 * What a test's child takes away from itself before it runs the program,
 * and what the harness says when it cannot.
 */
struct confinement {
	/* In the child, its stdio set: take the right away, then prove it is
	 * gone (src and the test's `arg`). 0; CONFINED_NONE where the kernel
	 * cannot confine it; CONFINED_NOT_REFUSED where the right is still
	 * there. */
	int (*confine)(const char *src, const void *arg);
	/* A Landlock layer's: the right it takes away ("write SRC"). Where the
	 * kernel has no Landlock the test is skipped (the probe knows that
	 * feature); else (NULL) CONFINED_NONE is the harness's failure `none`. */
	const char *landlock_takes, *none;
	/* CONFINED_NOT_REFUSED: the harness failed to confine the child. */
	const char *not_refused;
};

static bool confined_exited(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* CONFINED_NONE from a child that needed Landlock: skipped, with the fix. */
static void confined_skip_landlock(const char *right)
{
	char reason[200];

	snprintf(reason, sizeof(reason), "the kernel has no Landlock (or refuses a new layer): "
		 "the test takes the right to %s away with one, even from root", right);
	grade_skip("landlock", reason,
		   "a kernel with CONFIG_SECURITY_LANDLOCK and landlock in the lsm= list");
}

/*
 * Run PROG SRC DST in a child of the test's own (its output as
 * confined_stdio puts it) that first confines itself as `how` says, and
 * wait for it (`what` names the run if it does not end). The harness's own
 * failures end the test here, before anything of the program is graded:
 * no confinement (skipped or failed, as `how` says), a right not refused,
 * a program that could not be run. Returns the child's wait status: the
 * program's, for the test's own checks.
 */
static int confined_run(const char *prog, const char *src, const char *dst,
			const char *outpath, bool both_streams,
			const struct confinement *how, const void *arg, const char *what)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	grade_check(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		int refused;

		confined_stdio(outpath, both_streams);
		refused = how->confine(src, arg);
		if (refused != 0)
			_exit(refused);
		confined_exec(prog, src, dst);
		_exit(CONFINED_EXEC_FAILED);
	}
	status = confined_wait(pid, what);
	if (how->landlock_takes && confined_exited(status, CONFINED_NONE))
		confined_skip_landlock(how->landlock_takes);
	grade_check(!confined_exited(status, CONFINED_NONE), "%s", how->none);
	grade_check(!confined_exited(status, CONFINED_NOT_REFUSED), "%s", how->not_refused);
	grade_check(!confined_exited(status, CONFINED_EXEC_FAILED),
		    "harness: the copy program %s could not be run", prog);
	return status;
}

/* In the child, proving its confinement: open(path, flags) is refused with
 * EACCES, as a Landlock layer refuses it. */
static bool confined_open_refused(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == EACCES;
}

/* In the child: the right to write SRC taken away (a Landlock layer lets
 * files be opened for writing only beneath `dir`, DST's, and /dev), proved
 * by open(SRC, O_RDWR) failing with EACCES. */
static int confined_no_write_src(const char *src, const void *dir)
{
	if (grade_writes_only_beneath(dir) != 0)
		return CONFINED_NONE;
	return confined_open_refused(src, O_RDWR) ? 0 : CONFINED_NOT_REFUSED;
}

static const struct confinement confined_src_read_only = {
	.confine = confined_no_write_src,
	.landlock_takes = "write SRC",
	.not_refused = "harness: SRC could still be opened for writing under the test's Landlock "
		       "layer",
};

/*
 * The test of a copy program given a SRC it may read but not write (the
 * lesson of chapter 06, "The program"): graded as root, a file of mode 0444
 * would still open for writing, so the child takes the right away with a
 * Landlock layer (confined_src_read_only); the program must exit 0 with
 * DST a copy of SRC. Chapter 06's copy and chapter 07's lcopy, in their
 * own words: `name` names the program; both_streams, its messages go to
 * stdout or stderr ("output"), else to stderr ("stderr"); `advice` ends
 * the message of a copy that did not exit 0.
 */
static void confined_src_read_only_test(const char *prog, const char *name, bool both_streams,
					const char *advice)
{
	const size_t size = 300001;
	const char *stream = both_streams ? "output" : "stderr";
	unsigned char *data, *back;
	const char *src, *dir, *outpath;
	char dst[4200], what[100], line[200] = "";
	size_t backlen;
	int status;

	data = grade_random_bytes(size);
	src = grade_make_file("ro-src", data, size);
	dir = grade_path("ro-out");
	grade_check(mkdir(dir, 0755) == 0, "harness: mkdir %s: %s", dir, strerror(errno));
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	outpath = grade_path(both_streams ? "ro-output" : "ro-stderr");
	snprintf(what, sizeof(what), "%s of a SRC it may only read", name);
	status = confined_run(prog, src, dst, outpath, both_streams, &confined_src_read_only, dir,
			      what);
	confined_first_line(outpath, line, sizeof(line));
	grade_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s of a %zu-byte SRC it may read but not write: %s %d (%s: \"%s\"), expected "
		    "exit status 0. %s", name, size,
		    WIFEXITED(status) ? "exit status" : "killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), stream, line, advice);
	back = grade_slurp(dst, &backlen);
	grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
		    "%s exited 0, but DST %s", what, !back ? "does not exist" :
		    backlen != size ? "has the wrong size" : "differs from SRC");
	free(back);
	free(data);
}

#endif
