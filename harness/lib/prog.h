/*
 * prog.h - run a program from outside, as a user would.
 *
 * For chapters whose product is a program (cp, cat, an echo server): the
 * program is started with fork + execv, stdin from /dev/null, default
 * signal actions and nothing blocked (a fresh program, whatever the test
 * process had), confined like learner code (grade_confine_child), killed if
 * the test process dies (PR_SET_PDEATHSIG).
 *
 *   - prog_run: run it to its end, stdout and stderr captured in files of
 *     the test directory, under a umask, a working directory and a file-size
 *     limit (RLIMIT_FSIZE with SIGXFSZ ignored, so that the write fails with
 *     EFBIG instead of killing it: ignored signals stay ignored across
 *     execve), with a time limit enforced through a pidfd (no sleeps).
 *   - prog_start: start a long-running program (a server) with its stdout on
 *     a pipe (its first line read with prog_read_line), stderr in a file;
 *     prog_wait / prog_kill_all end it. Every program started this way is
 *     killed and reaped by prog_kill_all.
 */
#ifndef PROG_H
#define PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define PROG_TIME_LIMIT_MS 4000

/* One SQE the program handed to the kernel, as /proc/PID/fdinfo/RING
 * shows it at the entry of the io_uring_enter that submits it. */
struct prog_sqe {
	char opcode[24];       /* "READ", "WRITE", "LINK_TIMEOUT", ...       */
	int fd;
	unsigned flags;        /* IOSQE_*                                     */
	unsigned long long off, addr, user_data;
};

/* Called at each io_uring_enter that submits: the SQEs it submits, in
 * order (n may be 0 if fdinfo could not be read). */
typedef void prog_submit_fn(const struct prog_sqe *sqes, unsigned n, void *ctx);

struct prog_opts {
	rlim_t fsize_limit; /* RLIMIT_FSIZE in bytes; 0: none             */
	const char *cwd;    /* working directory; NULL: the test's        */
	bool set_umask;     /* run under `umask` instead of 022           */
	mode_t umask;
	int time_limit_ms;  /* prog_run: 0 means PROG_TIME_LIMIT_MS       */
	/* prog_run under ptrace: at the entry of every io_uring_enter with
	 * to_submit > 0, on_submit gets the SQEs being submitted, read from
	 * the ring's fdinfo while the program is stopped (so the program
	 * cannot alter what is reported: the kernel reads those SQEs next).
	 * prog_run then returns -errno if tracing was impossible (no ptrace),
	 * else 0. */
	prog_submit_fn *on_submit;
	void *ctx;
};

struct prog_result {
	int exited;         /* 1 if it exited (status valid)              */
	int status;         /* exit status                                */
	int signal;         /* the signal that killed it, or 0            */
	int timed_out;      /* killed after the time limit                */
	int time_limit_ms;  /* the limit it ran under                     */
	char out[4096];     /* start of stdout                            */
	size_t outlen;      /* its full length                            */
	char err[4096];     /* start of stderr                            */
	size_t errlen;
};

/* Run argv (argv[0] a path) to its end; opts may be NULL. Returns 0, or
 * -errno when opts->on_submit was asked for and ptrace is refused. */
int prog_run(const char *const argv[], const struct prog_opts *opts, struct prog_result *r);

/* prog_run for a test that needs opts->on_submit: where ptrace is refused,
 * the test is skipped (kind "ptrace"), `why` saying what the trace is for
 * ("cuts SRC short while copy waits at its first io_uring_enter"). */
void prog_run_traced(const char *const argv[], const struct prog_opts *opts,
		     struct prog_result *r, const char *why);

/* How it ended, in words: "exit status 1", "killed by SIGSEGV", ... */
const char *prog_ending(const struct prog_result *r);

/* The first line of its stderr, quoted, for messages. */
const char *prog_stderr_line(const struct prog_result *r);

/* Is `name` an executable in PATH? Its full path in out. */
bool prog_in_path(const char *name, char *out, size_t cap);

/* A long-running program. */
struct prog_proc {
	pid_t pid;
	int out;             /* read end of its stdout                      */
	char line[512];      /* its first line of stdout (with newline)     */
	size_t linelen;
	char errpath[4200];  /* its stderr                                  */
	size_t filler;       /* bytes of ours in its stdout before its line */
};

/* Start argv (argv[0] a path). With fill_stdout, its stdout pipe is made
 * 4 KiB and filled first, so that its first write blocks until the test
 * reads (prog_read_line drains the filler): the test can look at the
 * process exactly when it prints. */
void prog_start(struct prog_proc *p, const char *const argv[], bool fill_stdout);

/* Read stdout until the first newline (or EOF), at most ms milliseconds. */
bool prog_read_line(struct prog_proc *p, int ms);

/* Everything it wrote to stdout after its first line, until EOF. */
size_t prog_rest_of_stdout(struct prog_proc *p, char *buf, size_t cap);

/* Wait up to ms for pid to end; its wait status in *ws. */
bool prog_wait(pid_t pid, int ms, int *ws);

/* Kill and reap every program prog_start started and nobody waited for. */
void prog_kill_all(void);

/* A wait status in words. */
const char *prog_status_text(int ws);

/* The first line of the program's stderr, quoted, or "(nothing on stderr)";
 * and its length. */
const char *prog_proc_stderr(const struct prog_proc *p);
size_t prog_proc_stderr_len(const struct prog_proc *p);

#endif /* PROG_H */
