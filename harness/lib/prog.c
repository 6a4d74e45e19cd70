/*
 * prog.c - run a program from outside, as a user would (prog.h).
 */
#define _GNU_SOURCE
#include "prog.h"
#include "faults.h"
#include "grade.h"
#include "seams.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t live_pids[16];
static int nlive;

/* In the child, before execv: what every program started here gets. */
static void child_common(pid_t parent, int in, int out, int err)
{
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(err, 2) < 0)
		_exit(126);
	/* A fresh program: default signal actions, nothing blocked. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void slurp_into(const char *path, char *buf, size_t cap, size_t *len)
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

/* The SQEs pending in ring `fd` of task tid, from its fdinfo: what the
 * io_uring_enter it is entering will submit. */
static unsigned read_pending_sqes(pid_t tid, unsigned long long fd, struct prog_sqe *sqes,
				  unsigned cap)
{
	char path[96], line[512];
	unsigned n = 0;
	bool in_sqes = false;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%llu", (int)tid, fd);
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	while (n < cap && fgets(line, sizeof(line), fp)) {
		struct prog_sqe *q = &sqes[n];
		unsigned idx;

		if (!strncmp(line, "SQEs:", 5)) {
			in_sqes = true;
			continue;
		}
		if (!in_sqes)
			continue;
		if (sscanf(line, " %u: opcode:%23[^,], fd:%d, flags:%x, off:%llu, addr:0x%llx, "
			   "rw_flags:0x%*x, buf_index:%*d user_data:%llu", &idx, q->opcode, &q->fd,
			   &q->flags, &q->off, &q->addr, &q->user_data) == 7)
			n++;
		else
			break;  /* "CQEs:" and what follows */
	}
	fclose(fp);
	return n;
}

/* A syscall stop of a traced task: at the entry of an io_uring_enter that
 * submits, report its SQEs. */
static void syscall_stop(pid_t tid, const struct prog_opts *o)
{
	static struct prog_sqe sqes[512];
	struct __ptrace_syscall_info info;
	unsigned n;

	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) <= 0 ||
	    info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != SYS_io_uring_enter ||
	    (unsigned)info.entry.args[1] == 0)
		return;
	n = read_pending_sqes(tid, info.entry.args[0], sqes, sizeof(sqes) / sizeof(sqes[0]));
	o->on_submit(sqes, n, o->ctx);
}

/*
 * The environment of a traced program: ours, with LeakSanitizer's check at
 * exit off. That check stops the program with ptrace, which a traced
 * program cannot do (it would fail the run with "LeakSanitizer has
 * encountered a fatal error"); a sanitized build's leaks are not what the
 * traced run looks at. Built before fork: the child may not allocate.
 */
static char **traced_environ(void)
{
	size_t n = 0, i, k = 0;
	const char *asan = getenv("ASAN_OPTIONS");
	char **envp;

	while (environ[n])
		n++;
	envp = grade_xmalloc((n + 2) * sizeof(*envp));
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13))
			envp[k++] = environ[i];
	if (asprintf(&envp[k], "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
		     asan && *asan ? ":" : "") < 0)
		grade_fail("harness: out of memory");
	envp[k + 1] = NULL;
	return envp;
}

static void free_environ(char **envp)
{
	size_t k = 0;

	while (envp[k] && strncmp(envp[k], "ASAN_OPTIONS=", 13))
		k++;
	free(envp[k]);
	free(envp);
}

/* Run the traced child to its end (it stopped itself before execv). Every
 * task it makes is traced too; signals are passed on. */
static int trace_child(pid_t pid, int limit, const struct prog_opts *o, int *wstatus,
		       int *timed_out)
{
	long deadline = fault_now_ms() + limit;
	int st = 0;

	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	if (!WIFSTOPPED(st)) {
		*wstatus = st;
		return WIFEXITED(st) && WEXITSTATUS(st) == 125 ? -EPERM : 0;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |
		   PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		   PTRACE_O_TRACEEXEC) < 0 ||
	    ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0) {
		int err = -errno;

		kill(pid, SIGKILL);
		while (waitpid(pid, wstatus, __WALL) < 0 && errno == EINTR)
			;
		return err;
	}
	for (;;) {
		pid_t t = waitpid(-1, &st, __WALL | WNOHANG);
		int deliver = 0;

		if (t == 0) {
			struct timespec ts = { 0, 200 * 1000 };

			if (fault_now_ms() > deadline && !*timed_out) {
				*timed_out = 1;
				kill(pid, SIGKILL);
			}
			SEAM_REAL(nanosleep)(&ts, NULL);
			continue;
		}
		if (t < 0) {
			if (errno == EINTR)
				continue;
			return 0;  /* ECHILD: every traced task is gone */
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (t == pid)
				*wstatus = st;
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80))
			syscall_stop(t, o);
		else if ((st >> 16) == 0 && WSTOPSIG(st) != SIGSTOP)
			deliver = WSTOPSIG(st);  /* a signal for the program */
		ptrace(PTRACE_SYSCALL, t, 0, deliver);
	}
}

int prog_run(const char *const argv[], const struct prog_opts *o, struct prog_result *r)
{
	char out_path[4200], err_path[4200];
	int pidfd, wstatus = 0, limit, ret = 0;
	pid_t pid, parent = getpid();
	bool trace = o && o->on_submit;
	char **envp = trace ? traced_environ() : environ;

	memset(r, 0, sizeof(*r));
	limit = o && o->time_limit_ms > 0 ? o->time_limit_ms : PROG_TIME_LIMIT_MS;
	r->time_limit_ms = limit;
	snprintf(out_path, sizeof(out_path), "%s/.prog-stdout", grade_tmpdir());
	snprintf(err_path, sizeof(err_path), "%s/.prog-stderr", grade_tmpdir());
	fflush(NULL);
	pid = fork();
	grade_check(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		child_common(parent, open("/dev/null", O_RDONLY),
			     open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
			     open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
		umask(o && o->set_umask ? o->umask : 022);
		if (o && o->fsize_limit) {
			struct rlimit rl = { o->fsize_limit, o->fsize_limit };

			signal(SIGXFSZ, SIG_IGN);
			if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
				_exit(126);
		}
		if (o && o->cwd && chdir(o->cwd) < 0)
			_exit(126);
		if (trace && (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 || raise(SIGSTOP) != 0))
			_exit(125);
		grade_confine_child();
		execve(argv[0], (char *const *)argv, envp);
		dprintf(2, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (envp != environ)
		free_environ(envp);
	if (trace) {
		ret = trace_child(pid, limit, o, &wstatus, &r->timed_out);
		goto ended;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n;

		do
			n = SEAM_REAL(poll)(&p, 1, limit);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			r->timed_out = 1;
			kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
ended:
	if (WIFEXITED(wstatus)) {
		r->exited = 1;
		r->status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus)) {
		r->signal = WTERMSIG(wstatus);
	}
	slurp_into(out_path, r->out, sizeof(r->out), &r->outlen);
	slurp_into(err_path, r->err, sizeof(r->err), &r->errlen);
	unlink(out_path);
	unlink(err_path);
	return ret;
}

void prog_run_traced(const char *const argv[], const struct prog_opts *opts,
		     struct prog_result *r, const char *why)
{
	char reason[300];

	if (prog_run(argv, opts, r) == 0)
		return;
	snprintf(reason, sizeof(reason), "programs cannot be traced here (ptrace refused): this "
		 "test %s", why);
	grade_skip("ptrace", reason, "allow ptrace: in a container run it with --cap-add "
		   "SYS_PTRACE; or sysctl kernel.yama.ptrace_scope=1");
}

const char *prog_ending(const struct prog_result *r)
{
	static char buf[128];

	if (r->timed_out)
		snprintf(buf, sizeof(buf), "did not finish within %d ms (killed)",
			 r->time_limit_ms);
	else if (r->exited)
		snprintf(buf, sizeof(buf), "exit status %d", r->status);
	else
		snprintf(buf, sizeof(buf), "killed by SIG%s", sigabbrev_np(r->signal) ?: "?");
	return buf;
}

const char *prog_stderr_line(const struct prog_result *r)
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

bool prog_in_path(const char *name, char *out, size_t cap)
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

void prog_start(struct prog_proc *p, const char *const argv[], bool fill_stdout)
{
	static int nth;
	int pipefd[2];
	size_t filler = 0;
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	snprintf(p->errpath, sizeof(p->errpath), "%s/.prog-stderr-%d", grade_tmpdir(), nth++);
	grade_check(pipe2(pipefd, O_CLOEXEC) == 0, "harness: pipe: %s", strerror(errno));
	if (fill_stdout) {
		int cap = fcntl(pipefd[1], F_SETPIPE_SZ, 4096);
		char junk[4096];

		memset(junk, '#', sizeof(junk));
		if (cap > 0 && (size_t)cap <= sizeof(junk) &&
		    SEAM_REAL(write)(pipefd[1], junk, (size_t)cap) == cap)
			filler = (size_t)cap;
	}
	fflush(NULL);
	p->pid = fork();
	grade_check(p->pid >= 0, "harness: fork: %s", strerror(errno));
	if (p->pid == 0) {
		child_common(parent, open("/dev/null", O_RDONLY), pipefd[1],
			     open(p->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644));
		grade_confine_child();
		execv(argv[0], (char *const *)argv);
		dprintf(2, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	p->out = pipefd[0];
	p->filler = filler;
	if (nlive < (int)(sizeof(live_pids) / sizeof(live_pids[0])))
		live_pids[nlive++] = p->pid;
}

bool prog_read_line(struct prog_proc *p, int ms)
{
	long deadline = fault_now_ms() + ms;

	while (p->filler > 0) {
		char junk[4096];
		ssize_t n = SEAM_REAL(read)(p->out, junk, p->filler < sizeof(junk) ? p->filler
										   : sizeof(junk));

		if (n <= 0)
			return false;
		p->filler -= (size_t)n;
	}
	while (p->linelen < sizeof(p->line) - 1) {
		struct pollfd pf = { .fd = p->out, .events = POLLIN };
		long left = deadline - fault_now_ms();
		ssize_t n;

		if (left <= 0 || SEAM_REAL(poll)(&pf, 1, (int)left) <= 0)
			return false;
		n = SEAM_REAL(read)(p->out, p->line + p->linelen, 1);
		if (n <= 0)
			return false;
		p->linelen++;
		p->line[p->linelen] = '\0';
		if (p->line[p->linelen - 1] == '\n')
			return true;
	}
	return false;
}

size_t prog_rest_of_stdout(struct prog_proc *p, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = SEAM_REAL(read)(p->out, buf + n, cap - 1 - n);

		if (r <= 0 || (n += (size_t)r) >= cap - 1)
			break;
	}
	buf[n] = '\0';
	return n;
}

static void forget_pid(pid_t pid)
{
	for (int i = 0; i < nlive; i++)
		if (live_pids[i] == pid)
			live_pids[i] = live_pids[--nlive];
}

bool prog_wait(pid_t pid, int ms, int *ws)
{
	long deadline = fault_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(pid, ws, WNOHANG);

		if (r == pid) {
			forget_pid(pid);
			return true;
		}
		if (r < 0 && errno != EINTR)
			return false;
		if (fault_now_ms() > deadline)
			return false;
		{
			struct timespec ts = { 0, 500 * 1000 };

			SEAM_REAL(nanosleep)(&ts, NULL);
		}
	}
}

void prog_kill_all(void)
{
	while (nlive > 0) {
		pid_t pid = live_pids[--nlive];
		int ws;

		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
	}
}

const char *prog_status_text(int ws)
{
	static char buf[96];

	if (WIFEXITED(ws))
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(buf, sizeof(buf), "killed by SIG%s", sigabbrev_np(WTERMSIG(ws)) ?: "?");
	else
		snprintf(buf, sizeof(buf), "wait status %#x", ws);
	return buf;
}

const char *prog_proc_stderr(const struct prog_proc *p)
{
	static char buf[300];
	size_t n = 0, k = 0;
	unsigned char *all = grade_slurp(p->errpath, &n);

	while (k < n && k < sizeof(buf) - 3 && all[k] != '\n')
		k++;
	if (n == 0)
		snprintf(buf, sizeof(buf), "(nothing on stderr)");
	else
		snprintf(buf, sizeof(buf), "\"%.*s\"", (int)k, (const char *)all);
	free(all);
	return buf;
}

size_t prog_proc_stderr_len(const struct prog_proc *p)
{
	size_t n = 0;
	unsigned char *all = grade_slurp(p->errpath, &n);

	free(all);
	return n;
}
