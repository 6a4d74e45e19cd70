/*
 * grade.c - registry, completion guard, skips and report lines on Criterion.
 *
 * Two processes are involved. Criterion's runner (this binary's main) forks a
 * worker per test; the worker runs the GRADE_TEST body and ends it with
 * _exit(GRADE_DONE_STATUS). The runner's report hooks below see how each
 * worker ended and turn that into PASS / FAIL / SKIP with points, then write
 * one report line per test for harness/tools/report.c.
 */
#define _GNU_SOURCE
#include "grade.h"

#include "tsv.h"
#include <criterion/hooks.h>
#include <criterion/options.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liburing.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef GRADE_CHAPTER
#define GRADE_CHAPTER "00"
#endif
#ifndef GRADE_CHAPTER_TITLE
#define GRADE_CHAPTER_TITLE ""
#endif

/* Prefix of a skip message; tells a skip apart from any other early end. */
#define SKIP_MARK "[grade-skip] "
#define MAX_TESTS 256
#define MAX_OUTPUT 2048

enum outcome { OUT_NOT_RUN, OUT_PASS, OUT_FAIL, OUT_SKIP };

struct slot {
	const struct grade_entry *entry;
	enum outcome outcome;
	char skip_kind[64];  /* what the machine lacks, for a skip (grade_skip) */
	char output[MAX_OUTPUT];
};

static struct slot slots[MAX_TESTS];
static size_t nslots;

void grade_register(const struct grade_entry *entry)
{
	if (nslots == MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests in one chapter\n", MAX_TESTS);
		abort();
	}
	slots[nslots++].entry = entry;
}

static int by_line(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->entry->line - y->entry->line;
}

static struct slot *find_slot(const char *suite, const char *name)
{
	for (size_t i = 0; i < nslots; i++)
		if (!strcmp(slots[i].entry->suite, suite) && !strcmp(slots[i].entry->name, name))
			return &slots[i];
	return NULL;
}

/* ---------------------------------------------------------------------
 * Worker side: the test body's frame.
 */

static char test_dir[4096];
static uint64_t rng_state;
static uint64_t seed_value;

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t base_seed(void)
{
	const char *env = getenv("SEED");

	return env && *env ? strtoull(env, NULL, 0) : 20261122ULL;
}

/* A test's time limit in seconds: its own, longer under SAN=1 (grade.h). */
static double time_limit(const struct grade_entry *e)
{
	double limit = e ? e->timeout : GRADE_TIMEOUT;

	return getenv("GRADE_SANITIZE") ? limit * GRADE_SAN_TIME_SCALE : limit;
}

/*
 * The time limit is kept inside the test's own process: a POSIX timer sends
 * SIGXCPU (default action: terminate; nothing in the course uses it) when the
 * test runs too long, and the runner reports that signal as "timed out".
 * Criterion's own limit stays as a backstop a few seconds later.
 */
static void arm_time_limit(const char *suite, const char *name)
{
	struct slot *s = find_slot(suite, name);
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGXCPU };
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)time_limit(s ? s->entry : NULL) } };
	struct rlimit no_core = { 0, 0 };
	timer_t timer;

	setrlimit(RLIMIT_CORE, &no_core);  /* a timed-out test leaves no core file */
	signal(SIGXCPU, SIG_DFL);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0)
		timer_settime(timer, 0, &its, NULL);
}

extern long __real_syscall(long sysno, ...);  /* the seam's way past itself (seams.c) */

/* Add "writes allowed beneath DIR" to a Landlock ruleset; -1 if it cannot. */
static int allow_writes_beneath(int ruleset, const char *dir, __u64 access)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	int fd = open(dir, O_PATH | O_CLOEXEC);
	long ret;

	if (fd < 0)
		return -1;
	rule.parent_fd = fd;
	ret = __real_syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(fd);
	return ret < 0 ? -1 : 0;
}

int grade_writes_only_beneath(const char *dir)
{
	int abi = (int)__real_syscall(SYS_landlock_create_ruleset, NULL, 0,
				      LANDLOCK_CREATE_RULESET_VERSION);
	struct landlock_ruleset_attr attr = { .handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE };
	int ruleset, ret = -1;

	if (abi < 1)
		return -1;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	ruleset = (int)__real_syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return -1;
	if (allow_writes_beneath(ruleset, dir, attr.handled_access_fs) == 0 &&
	    allow_writes_beneath(ruleset, "/dev", attr.handled_access_fs) == 0 &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    __real_syscall(SYS_landlock_restrict_self, ruleset, 0) == 0)
		ret = 0;
	close(ruleset);
	return ret;
}

/*
 * From here on, this test process (and what it starts) may open files for
 * writing only beneath the tests' temporary directory and /dev (not /tmp:
 * in the sandbox it holds the directories leading to a checkout under
 * /tmp, and nothing of the tests needs it; unix sockets are not files
 * opened for writing, so 04's fallback socket path still works): the
 * code under test can no longer write its own machine code through
 * /proc/self/mem (the one way to rewrite the harness that needs no
 * forbidden function), nor anything of the course. A Landlock domain; where
 * the kernel has none, the sandbox of grade.sh is what holds.
 */
static void limit_writes(const char *tmp_base)
{
	(void)grade_writes_only_beneath(tmp_base);
}

/*
 * The test's own thread ended under it: the code under test called
 * pthread_exit (or was cancelled) on the caller's thread. Without this the
 * process lives on for its other threads (a pool's workers, the harness's),
 * and the test would end only at the chapter's time limit, as "timed out".
 * A thread-specific value of the test's thread only: its destructor runs
 * when that thread exits, never when a test ends (it ends with _exit).
 */
static pthread_key_t test_thread_key;

static void test_thread_ended(void *unused)
{
	(void)unused;
	_exit(GRADE_THREAD_ENDED_STATUS);
}

static bool test_thread_key_made;

static void make_test_thread_key(void)
{
	test_thread_key_made = pthread_key_create(&test_thread_key, test_thread_ended) == 0;
}

static void mark_test_thread(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_test_thread_key);
	if (test_thread_key_made)
		pthread_setspecific(test_thread_key, &test_thread_key);
}

/*
 * The test's standard output and error, as the test began: which file each
 * one is (device and inode), or none. A module that points one of them at
 * a file of the test (dup2(dst, 1)) could then move its data with printf,
 * whose write(2) happens inside libc, where the seams cannot refuse it:
 * grade_test_end fails the test when either one is another file, or was
 * closed, by the end.
 */
struct std_fd {
	bool open;
	dev_t dev;
	ino_t ino;
};
static struct std_fd std_fds[3];

static struct std_fd std_fd_now(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return (struct std_fd){ .open = false };
	return (struct std_fd){ .open = true, .dev = st.st_dev, .ino = st.st_ino };
}

static void check_std_fds(void)
{
	static const char *const names[3] = { "standard input", "standard output",
					       "standard error" };

	for (int fd = 1; fd <= 2; fd++) {
		struct std_fd now = std_fd_now(fd);

		if (!std_fds[fd].open)
			continue;   /* not the test's to check: closed when it began */
		grade_check(now.open && now.dev == std_fds[fd].dev && now.ino == std_fds[fd].ino,
			    "descriptor %d (the test's %s) was %s by the end of the test: your code "
			    "closed or replaced a descriptor that is not its own (dup2, dup3, or a "
			    "close followed by an open or dup that took the number). A module uses "
			    "only the descriptors it is given or opens; and the printf family, "
			    "which writes with write(2) from inside libc, is for messages, never "
			    "for the data", fd, names[fd], now.open ? "another file" : "closed");
	}
}

void grade_test_begin(const char *suite, const char *name)
{
	const char *base = getenv("GRADE_TMPDIR");

	arm_time_limit(suite, name);
	mark_test_thread();
	prctl(PR_SET_DUMPABLE, 1);  /* /proc/self of the test stays readable */

	/* A write to a pipe nobody reads must give EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);

	seed_value = base_seed();
	rng_state = fnv1a(name, fnv1a(suite, 1469598103934665603ULL ^ seed_value));
	if (rng_state == 0)
		rng_state = 1;

	snprintf(test_dir, sizeof(test_dir), "%s/%s.%s.XXXXXX",
		 base && *base ? base : "/tmp", suite, name);
	grade_check(mkdtemp(test_dir) != NULL,
		    "harness: cannot create a test directory %s: %s "
		    "(is the build directory writable?)", test_dir, strerror(errno));
	limit_writes(base && *base ? base : "/tmp");
	for (int fd = 1; fd <= 2; fd++)
		std_fds[fd] = std_fd_now(fd);
	seam_reset();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/*
 * SAN=1: no LeakSanitizer report at exit. A test ends with _exit (the guard
 * above), so LeakSanitizer would only ever speak for a test that failed half
 * way, about the harness's buffers it left behind: a leak that is not the
 * learner's. The module's leaks are found by the heap accounting (heap.c,
 * grade_check_heap), in plain and sanitized builds alike. (Asking
 * LeakSanitizer at the end of each test, __lsan_do_recoverable_leak_check,
 * was tried: in the test process it warns "Running thread N was not
 * suspended" and did not report a block a module leaked on purpose.)
 * Defined in every build: the harness is compiled without the sanitizers
 * (flags.mk, HARNESS_CFLAGS); the run-time a SAN=1 build links asks for it.
 */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "leak_check_at_exit=0";
}

void grade_test_end(void)
{
	seam_heap_quarantine_check();   /* a write into a freed block */
	grade_check(1, "end of test");  /* reports a pending seam violation */
	check_std_fds();
	if (test_dir[0])
		nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	fflush(NULL);
	_exit(GRADE_DONE_STATUS);
}

void grade_check_violation(void)
{
	const char *v = seam_violation();

	if (v)
		cr_assert_fail("%s", v);
}

void grade_skip(const char *kind, const char *reason, const char *fix)
{
	cr_skip_test(SKIP_MARK "%s\t%s. Fix: %s", kind, reason, fix);
	abort();  /* not reached: cr_skip_test ends the test */
}

uint64_t grade_seed(void) { return seed_value; }

uint64_t grade_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

size_t grade_rand_below(size_t bound)
{
	return bound ? (size_t)(grade_rand() % bound) : 0;
}

void grade_fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len >= 8) {
		uint64_t r = grade_rand();

		memcpy(p, &r, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t r = grade_rand();

		memcpy(p, &r, len);
	}
}

const char *grade_tmpdir(void) { return test_dir; }

const char *grade_path(const char *name)
{
	static char paths[8][4200];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", test_dir, name);
	return p;
}

void *grade_xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	grade_check(p != NULL, "harness: out of memory (%zu bytes)", len);
	return p;
}

unsigned char *grade_random_bytes(size_t len)
{
	unsigned char *p = grade_xmalloc(len);

	grade_fill_random(p, len);
	return p;
}

const char *grade_make_file(const char *name, const void *data, size_t len)
{
	const char *path = grade_path(name);
	const unsigned char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	grade_check(fd >= 0, "harness: cannot create %s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = SEAM_REAL(write)(fd, p, len);

		grade_check(n > 0, "harness: cannot write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return path;
}

unsigned char *grade_slurp(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	*len_out = 0;
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap);
			grade_check(buf != NULL, "harness: out of memory");
		}
		n = SEAM_REAL(read)(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*len_out = len;
	return buf ? buf : grade_xmalloc(1);
}

ssize_t grade_first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < len; i++)
		if (x[i] != y[i])
			return (ssize_t)i;
	return -1;
}

void grade_check_same(const void *got, const void *want, size_t len, const char *what)
{
	ssize_t at = grade_first_diff(got, want, len);

	grade_check(at < 0, "%s: wrong data at byte %zd of %zu (seed %llu; rerun with "
		    "make check CH=%s SEED=%llu)", what, at, len,
		    (unsigned long long)grade_seed(), GRADE_CHAPTER,
		    (unsigned long long)grade_seed());
}

int grade_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	grade_check(fd >= 0, "harness: cannot open %s: %s", path, strerror(errno));
	return fd;
}

int grade_confine_child(void)
{
	/* A Landlock domain that handles one rare right (creating block
	 * devices) and grants nothing: the point is the domain itself, since
	 * a process inside one may ptrace (and open /proc/PID/mem of) only
	 * processes inside the same domain or below it. Raw system calls:
	 * this runs between fork and exec. */
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_BLOCK,
	};
	long fd = __real_syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	long ret;

	if (fd < 0)
		return -errno;
	ret = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (ret == 0)
		ret = __real_syscall(SYS_landlock_restrict_self, (int)fd, 0);
	ret = ret < 0 ? -errno : 0;
	close((int)fd);
	return (int)ret;
}

const char *grade_errno_str(ssize_t v)
{
	static char bufs[8][64];
	static unsigned next;
	char *buf = bufs[next++ % 8];
	const char *name = v < 0 && v >= -4095 ? strerrorname_np((int)-v) : NULL;

	if (name)
		snprintf(buf, sizeof(bufs[0]), "-%s", name);
	else
		snprintf(buf, sizeof(bufs[0]), "%zd", v);
	return buf;
}

static bool has_cap_ipc_lock(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	unsigned long long caps = 0;
	char line[256];

	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(fp);
	return caps & (1ULL << 14);  /* CAP_IPC_LOCK: not charged at all */
}

void grade_require_memlock(size_t bytes, const char *what)
{
	struct rlimit rl;
	char why[320];

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= bytes || has_cap_ipc_lock())
		return;
	char kind[64];

	snprintf(kind, sizeof(kind), "memlock:%zu", bytes);
	snprintf(why, sizeof(why), "RLIMIT_MEMLOCK is %llu KiB, but about %zu KiB are needed "
		 "for %s (io_uring rings and registered buffers are charged to it, and a "
		 "ring stays charged a little while after it is torn down)",
		 (unsigned long long)rl.rlim_cur / 1024, bytes / 1024, what);
	grade_skip(kind, why, "raise it (ulimit -l 8192, or memlock in /etc/security/limits.conf); "
			"run make doctor");
}

/* Why io_uring cannot be used here, in words a learner can act on. */
void grade_require_io_uring(unsigned entries)
{
	struct io_uring ring;
	int ret = SEAM_REAL(io_uring_queue_init)(entries, &ring, 0);
	char buf[256] = "";
	FILE *fp;

	if (ret == 0) {
		SEAM_REAL(io_uring_queue_exit)(&ring);
		return;
	}
	if (ret == -ENOSYS)
		grade_skip("io_uring", "this kernel has no io_uring (io_uring_setup: ENOSYS)",
			   "use a kernel >= 5.6 built with CONFIG_IO_URING; run make doctor");
	if (ret == -ENOMEM) {
		struct rlimit rl;

		getrlimit(RLIMIT_MEMLOCK, &rl);
		snprintf(buf, sizeof(buf),
			 "io_uring_queue_init(%u) failed with ENOMEM: the ring is charged to "
			 "RLIMIT_MEMLOCK, which is %llu KiB here", entries,
			 (unsigned long long)rl.rlim_cur / 1024);
		grade_skip("io_uring", buf, "raise it (ulimit -l 65536, or memlock in "
				"/etc/security/limits.conf); run make doctor");
	}
	if (ret == -EPERM) {
		int disabled = 0;

		fp = fopen("/proc/sys/kernel/io_uring_disabled", "r");
		if (fp) {
			if (fscanf(fp, "%d", &disabled) != 1)
				disabled = 0;
			fclose(fp);
		}
		if (disabled)
			grade_skip("io_uring", "io_uring is switched off by sysctl kernel.io_uring_disabled",
				   "as root: sysctl -w kernel.io_uring_disabled=0; run make doctor");
		grade_skip("io_uring", "io_uring_setup is refused (EPERM): a seccomp filter blocks it, "
			   "as Docker's default profile does",
			   "run the container with --security-opt seccomp=unconfined, or on "
			   "a machine without the filter; run make doctor");
	}
	snprintf(buf, sizeof(buf), "io_uring_queue_init(%u) failed: %s", entries, strerror(-ret));
	grade_skip("io_uring", buf, "run make doctor");
}

/* ---------------------------------------------------------------------
 * Runner side: Criterion's report hooks, in the runner process.
 */

static void append(struct slot *s, const char *fmt, ...)
{
	size_t used = strlen(s->output);
	va_list ap;

	if (used >= sizeof(s->output) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(s->output + used, sizeof(s->output) - used, fmt, ap);
	va_end(ap);
}

/* The test's number in the report (NN.MM): its place in the file. */
static size_t number_of(const struct grade_entry *e)
{
	size_t k = 1;

	for (size_t i = 0; i < nslots; i++)
		if (slots[i].entry->line < e->line)
			k++;
	return k;
}

static void describe_failure(struct slot *s, struct criterion_test_stats *st)
{
	if (st->timed_out || (st->crashed && st->signal == SIGXCPU)) {
		append(s, "timed out after %.0f s: the call never returned. Look for a loop "
			  "that never ends (retrying 0 at end of file?) or a wait for data "
			  "that will never come.", time_limit(s->entry));
	} else if (st->crashed || st->signal) {
		const char *abbrev = sigabbrev_np(st->signal);

		append(s, "crashed with SIG%s (%s)%s", abbrev ? abbrev : "?",
		       strsignal(st->signal),
		       st->signal == SIGABRT ? ": abort() or a failed assert() in your code" :
		       st->signal == SIGSEGV ? ": a bad pointer (one read from a block your code "
					       "had freed, for one: the grader fills freed blocks "
					       "with 0xdb bytes, and in some tests takes their "
					       "pages away, so that any read of one crashes)" : "");
		/* The grader's build and test binary are gone once the grading
		 * ends: the way to the line is a sanitized grading of this test. */
		if (st->signal == SIGSEGV || st->signal == SIGBUS) {
			if (getenv("GRADE_SANITIZE"))
				append(s, ". The sanitizer's report, above the results (its "
					  "lines start with \"  | \"), names the file and line");
			else
				append(s, ". To see the file and line: make check SAN=1 T=%s.%02zu "
					  "(the sanitizer's report is printed above the results, its "
					  "lines starting with \"  | \")",
				       GRADE_CHAPTER, number_of(s->entry));
		}
	} else if (st->failed_asserts > 0) {
		const char *sep = "";

		for (struct criterion_assert_stats *a = st->asserts; a; a = a->next) {
			if (a->passed)
				continue;
			append(s, "%s%s", sep, a->message ? a->message : "a check failed");
			sep = "\n";
		}
	} else if (st->exit_code == GRADE_THREAD_ENDED_STATUS) {
		append(s, "the test did not finish: your code ended the thread that called it "
			  "(pthread_exit, or pthread_cancel of that thread), so the call never "
			  "returned. A function returns its result (bytes or -errno); pthread_exit "
			  "is for the threads your code starts itself, at the end of their own "
			  "start routine.");
	} else if (st->exit_code != GRADE_DONE_STATUS) {
		append(s, "the test did not finish: the process exited with status %d in "
			  "the middle of the test. Your code must return (bytes or -errno), "
			  "never call exit(), _exit() or abort().", st->exit_code);
		if (getenv("GRADE_SANITIZE") && st->exit_code == 1)
			append(s, " Under SAN=1 this is usually a sanitizer report: read it above "
				  "the results.");
	} else {
		append(s, "failed");
	}
	if (s->entry->hint && *s->entry->hint)
		append(s, "\nhint: %s", s->entry->hint);
}

/* The one test run when the runner was started with --grade-only NN.MM
 * (make check T=NN.MM), else NULL: every test runs. */
static const struct grade_entry *only_entry;

static void record(struct criterion_test_stats *st)
{
	struct slot *s = find_slot(st->test->category, st->test->name);

	if (!s)
		return;  /* a plain Criterion test: not graded */
	if (only_entry && s->entry != only_entry)
		return;  /* filtered out: stays "not run" */
	s->output[0] = '\0';
	if (!st->timed_out && !st->crashed && !st->signal && st->failed_asserts == 0 &&
	    st->message && !strncmp(st->message, SKIP_MARK, strlen(SKIP_MARK))) {
		const char *kind = st->message + strlen(SKIP_MARK);
		const char *tab = strchr(kind, '\t');

		s->outcome = OUT_SKIP;
		if (!tab)
			tab = kind;
		snprintf(s->skip_kind, sizeof(s->skip_kind), "%.*s", (int)(tab - kind), kind);
		append(s, "%s", *tab ? tab + 1 : tab);
		return;
	}
	if (!st->timed_out && !st->crashed && !st->signal && st->failed_asserts == 0 &&
	    st->exit_code == GRADE_DONE_STATUS && st->test_status == CR_STATUS_PASSED) {
		s->outcome = OUT_PASS;
		return;
	}
	s->outcome = OUT_FAIL;
	describe_failure(s, st);
}

ReportHook(POST_TEST)(struct criterion_test_stats *st) { record(st); }
ReportHook(TEST_CRASH)(struct criterion_test_stats *st) { record(st); }

static const char *outcome_word(enum outcome o)
{
	return o == OUT_PASS ? "pass" : o == OUT_SKIP ? "skip" : "fail";
}

static void write_line(FILE *fp, size_t i, enum outcome o, const char *output)
{
	const struct grade_entry *e = slots[i].entry;

	fprintf(fp, "%s\t%s.%02zu\t%s\t%d\t%d\t%s\t", GRADE_CHAPTER, GRADE_CHAPTER, i + 1,
		e->title, o == OUT_PASS ? e->points : 0, e->points, outcome_word(o));
	tsv_put_escaped(fp, output);
	fprintf(fp, "\t%s\n", o == OUT_SKIP ? slots[i].skip_kind : "");
}

/*
 * Where the report lines go: the file descriptor grade.sh handed the runner
 * in GRADE_RESULTS_FD, else stdout. The runner takes the descriptor before
 * any test starts, marks it close-on-exec and drops the variable, so the
 * test workers (re-executed by BoxFort) never hold it: learner code runs only
 * in workers and cannot write, add or rewrite a result line.
 */
static int results_fd = STDOUT_FILENO;

static void take_results_fd(void)
{
	const char *env = getenv("GRADE_RESULTS_FD");
	char *end;
	long fd;

	if (!env || !*env)
		return;
	fd = strtol(env, &end, 10);
	if (*end == '\0' && fd > 2 && fd < 1024 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
		results_fd = (int)fd;
	else
		fprintf(stderr, "harness: GRADE_RESULTS_FD=%s is not an open descriptor\n", env);
	unsetenv("GRADE_RESULTS_FD");
}

static void write_results(const char *why_not_run)
{
	FILE *fp = fdopen(dup(results_fd), "w");

	if (!fp) {
		fprintf(stderr, "harness: cannot write the results: %s\n", strerror(errno));
		return;
	}
	qsort(slots, nslots, sizeof(slots[0]), by_line);
	fprintf(fp, "#chapter\t%s\t%s\n", GRADE_CHAPTER, GRADE_CHAPTER_TITLE);
	for (size_t i = 0; i < nslots; i++) {
		if (why_not_run)
			write_line(fp, i, OUT_FAIL, why_not_run);
		else if (slots[i].outcome == OUT_NOT_RUN && only_entry && slots[i].entry != only_entry)
			write_line(fp, i, OUT_FAIL, "not run: this grading ran one test alone (T=)");
		else if (slots[i].outcome == OUT_NOT_RUN)
			write_line(fp, i, OUT_FAIL, "the test did not run (the runner lost it)");
		else
			write_line(fp, i, slots[i].outcome, slots[i].output);
	}
	fclose(fp);
}

/*
 * Criterion 2.4 binds its runner's socket at /tmp/criterion_<pid>.sock,
 * whatever TMPDIR says, and removes it only when the run ends normally: a
 * run stopped by --fail-fast (make test's mutants, make mutate) kills its own
 * process group and leaves it. In the sandbox /tmp is the grading's own
 * tmpfs, gone with it; unsandboxed (SANDBOX=off, no bubblewrap, make mutate)
 * it is the machine's /tmp, where they piled up by the hundred. Once every
 * verdict is in, no worker is started any more, and the ones still running
 * hold their connections, not the path: the runner removes it then.
 */
static void remove_runner_socket(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/criterion_%llu.sock", (unsigned long long)getpid());
	unlink(path);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	write_results(NULL);
	remove_runner_socket();
}

/*
 * --grade-only NN.MM: run test MM of this chapter alone (the numbers are the
 * tests' order in the file, as the report shows them). Returns Criterion's
 * filter for it, "suite/name", or NULL (with a message) if there is no such
 * test.
 */
static char *only_filter(const char *id)
{
	static char filter[512];
	size_t len = strlen(GRADE_CHAPTER);
	char *end;
	long k;

	if (strncmp(id, GRADE_CHAPTER, len) || id[len] != '.') {
		fprintf(stderr, "harness: T=%s is not a test of chapter %s (write T=%s.05)\n", id,
			GRADE_CHAPTER, GRADE_CHAPTER);
		return NULL;
	}
	k = strtol(id + len + 1, &end, 10);
	qsort(slots, nslots, sizeof(slots[0]), by_line);
	if (*end || k < 1 || (size_t)k > nslots) {
		fprintf(stderr, "harness: chapter %s has no test %s (it has %s.01 to %s.%02zu)\n",
			GRADE_CHAPTER, id, GRADE_CHAPTER, GRADE_CHAPTER, nslots);
		return NULL;
	}
	only_entry = slots[k - 1].entry;
	snprintf(filter, sizeof(filter), "--filter=%s/%s", only_entry->suite, only_entry->name);
	return filter;
}

/*
 * main: `--grade-list-failed MESSAGE` writes every test as failed with
 * MESSAGE (used when the learner's code does not build, so the report still
 * lists every test and its points); `--grade-only NN.MM` first runs that test
 * alone; `--grade-describe NN.MM` prints its title, points and first hint
 * (make hint); anything else goes to Criterion.
 */
int main(int argc, char **argv)
{
	struct criterion_test_set *tests;
	int ok = 0;

	if (argc == 3 && !strcmp(argv[1], "--grade-list-failed")) {
		write_results(argv[2]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--grade-describe")) {
		/* make hint: the test's title, points and first hint, from
		 * the learner-free list binary. */
		if (!only_filter(argv[2]))
			return 2;
		printf("%s %s (%d point%s)\nhint: %s\n", argv[2], only_entry->title,
		       only_entry->points, only_entry->points == 1 ? "" : "s",
		       only_entry->hint && *only_entry->hint ? only_entry->hint : "(none)");
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "--grade-only")) {
		char *filter = only_filter(argv[2]);

		if (!filter)
			return 2;
		/* Criterion gets "--filter=suite/name" in place of the two. */
		argv[1] = argv[0];
		argv[2] = filter;
		argv++;
		argc--;
	}
	take_results_fd();
	/* The runner decides every verdict: not dumpable, so no other process
	 * of this user without CAP_SYS_PTRACE can read or write its memory
	 * (/proc/PID/mem, ptrace). Workers are re-executed and dumpable again
	 * (grade_test_begin makes sure), so tests can read their own /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		ok = criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return ok ? 0 : 1;
}

void grade_check_heap(const struct seam_heap *before, const char *what)
{
	struct seam_heap now;

	seam_heap_usage(&now);
	grade_check(now.blocks <= before->blocks,
		    "%s left %ld block%s (%lld bytes) of heap memory allocated that it never freed: "
		    "every malloc, calloc, realloc, posix_memalign or strdup of your code needs its "
		    "free on every path, the error paths included",
		    what, now.blocks - before->blocks, now.blocks - before->blocks == 1 ? "" : "s",
		    now.bytes - before->bytes);
}
