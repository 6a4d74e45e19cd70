/*
 * prog.h - chapter 06: run a program from outside, as a user would.
 *
 * fork + execv with stdin from /dev/null, stdout and stderr captured in
 * files of the test directory, a umask, optionally a file-size limit
 * (RLIMIT_FSIZE, with SIGXFSZ ignored so that the write fails with EFBIG
 * instead of killing the program: ignored signals stay ignored across
 * execve), and a time limit enforced through a pidfd (no sleeps).
 *
 * Worth moving to harness/lib: any chapter whose product is a program
 * (cat, cp, an echo server) needs the same.
 */
#ifndef PROG_H
#define PROG_H

#include "grade.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG_TIME_LIMIT_MS 4000

struct prog_opts {
	rlim_t fsize_limit; /* RLIMIT_FSIZE in bytes; 0: none          */
	const char *cwd;    /* working directory; NULL: the test's     */
	bool set_umask;     /* run under `umask` instead of 022        */
	mode_t umask;
};

struct prog_result {
	int exited;         /* 1 if it exited (status valid)           */
	int status;         /* exit status                             */
	int signal;         /* the signal that killed it, or 0         */
	int timed_out;      /* killed after PROG_TIME_LIMIT_MS         */
	char out[4096];     /* start of stdout                         */
	size_t outlen;      /* its full length                         */
	char err[4096];     /* start of stderr                         */
	size_t errlen;
};

static void prog_slurp(const char *path, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	unsigned char *all = grade_slurp(path, &n);

	*len = n;
	if (n >= cap)
		n = cap - 1;
	if (all)
		memcpy(buf, all, n);
	buf[n] = '\0';
	free(all);
}

static void prog_run(const char *const argv[], const struct prog_opts *o, struct prog_result *r)
{
	char out_path[4200], err_path[4200];
	int pidfd, wstatus = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(out_path, sizeof(out_path), "%s/.prog-stdout", grade_tmpdir());
	snprintf(err_path, sizeof(err_path), "%s/.prog-stderr", grade_tmpdir());
	fflush(NULL);
	pid = fork();
	grade_check(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		umask(o && o->set_umask ? o->umask : 022);
		signal(SIGPIPE, SIG_DFL);
		if (o && o->fsize_limit) {
			struct rlimit rl = { o->fsize_limit, o->fsize_limit };

			signal(SIGXFSZ, SIG_IGN);
			if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
				_exit(126);
		}
		if (o && o->cwd && chdir(o->cwd) < 0)
			_exit(126);
		grade_confine_child();
		execv(argv[0], (char *const *)argv);
		dprintf(2, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n;

		do
			n = poll(&p, 1, PROG_TIME_LIMIT_MS);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			r->timed_out = 1;
			kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(wstatus)) {
		r->exited = 1;
		r->status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus)) {
		r->signal = WTERMSIG(wstatus);
	}
	prog_slurp(out_path, r->out, sizeof(r->out), &r->outlen);
	prog_slurp(err_path, r->err, sizeof(r->err), &r->errlen);
	unlink(out_path);
	unlink(err_path);
}

/* How it ended, in words: "exit status 1", "killed by SIGSEGV", ... */
static const char *prog_ending(const struct prog_result *r)
{
	static char buf[128];

	if (r->timed_out)
		snprintf(buf, sizeof(buf), "did not finish within %d ms (killed)",
			 PROG_TIME_LIMIT_MS);
	else if (r->exited)
		snprintf(buf, sizeof(buf), "exit status %d", r->status);
	else
		snprintf(buf, sizeof(buf), "killed by SIG%s", sigabbrev_np(r->signal) ?: "?");
	return buf;
}

/* The first line of stderr, for messages. */
static const char *prog_stderr_line(const struct prog_result *r)
{
	static char buf[256];
	size_t n = strcspn(r->err, "\n");

	if (r->errlen == 0)
		return "(nothing on stderr)";
	if (n >= sizeof(buf) - 3)
		n = sizeof(buf) - 4;
	snprintf(buf, sizeof(buf), "\"%.*s\"", (int)n, r->err);
	return buf;
}

/* Is `name` an executable in PATH? Its full path in out. */
static bool prog_in_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char dirs[4096];

	snprintf(dirs, sizeof(dirs), "%s", path && *path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

#endif /* PROG_H */
