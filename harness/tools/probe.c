/*
 * probe.c - small checks behind `make doctor`, each printing one line:
 *
 *   probe uring [ENTRIES]   can this process set up an io_uring ring?
 *                           prints "ok FEATURES OPCODES" or "error ERRNO-NAME"
 *   probe odirect DIR       can a file in DIR be written with O_DIRECT?
 *                           prints "ok" or "error ERRNO-NAME"
 *   probe facts DIR         what the machine offers, in the words of grade_skip's
 *                           kinds, one key=value line each (DIR: the tests'
 *                           temporary directory, GRADE_TMPDIR):
 *                             io_uring=yes|no  memlock=BYTES|unlimited  aio=yes|no
 *                             odirect=yes|no   ptrace=yes|no  strace=yes|no
 *                             nop_inject=yes|no  landlock=yes|no
 *
 * `facts` is the judge of skips: a test's skip of kind K is honoured only if
 * the probe, run without any learner code, finds K missing too. So each check
 * below repeats what makes the tests skip (the skip sites are named at each
 * one): keep them in step. Each yes/no check runs in its own process group
 * with a time limit and answers "no" if it does not finish; whatever it
 * creates (a directory in DIR, child processes) is removed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The tests' own probe of IORING_NOP_INJECT_RESULT, called directly: this
 * program is built without the seams. */
#define NOP_INJECT_CALL(name) name
#include "../lib/nop_inject.h"

static int probe_uring(unsigned entries)
{
	struct io_uring_params params;
	struct io_uring ring;
	struct io_uring_probe *probe;
	int ret, supported = 0;

	memset(&params, 0, sizeof(params));
	ret = io_uring_queue_init_params(entries, &ring, &params);
	if (ret < 0) {
		printf("error %s\n", strerrorname_np(-ret) ?: "unknown");
		return 1;
	}
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		for (int op = 0; op <= probe->last_op; op++)
			supported += io_uring_opcode_supported(probe, op);
		io_uring_free_probe(probe);
	}
	printf("ok features=0x%x opcodes=%d\n", params.features, supported);
	io_uring_queue_exit(&ring);
	return 0;
}

static int probe_odirect(const char *dir)
{
	char path[4096];
	void *buf = NULL;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/.odirect-probe-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		printf("error %s\n", strerrorname_np(errno) ?: "unknown");
		return 1;
	}
	close(fd);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd < 0)
		err = errno;
	else if (posix_memalign(&buf, 4096, 4096) != 0)
		err = ENOMEM;
	else if (memset(buf, 0, 4096), pwrite(fd, buf, 4096, 0) != 4096)
		err = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	if (err) {
		printf("error %s\n", strerrorname_np(err) ?: "unknown");
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* ---- probe facts ----------------------------------------------------------- */

/* The largest ring the tests set up (grade_require_io_uring: 4 in chapter 05,
 * 8 to 64 in chapter 06): "yes" means every one of them can be. */
#define FACT_RING_ENTRIES 64
/* The file of chapter 02's misaligned_per_request (1 MiB). */
#define FACT_DIO_FILE_SIZE (1 << 20)
/* chapter 06's prog.h, PROG_TIME_LIMIT_MS: how long strace may take there. */
#define FACT_STRACE_MS 4000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until pid has ended or deadline (CLOCK_MONOTONIC ms) has passed: 1 if
 * it has ended, 0 if it is still running. With keep, the ended pid is left a
 * zombie (not reaped), so that its process group id cannot be reused yet. */
static int wait_until(pid_t pid, long long deadline, bool keep)
{
	for (;;) {
		siginfo_t info = { 0 };
		int r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | (keep ? WNOWAIT : 0));

		if (r == 0 && info.si_pid == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;  /* not ours any more: nothing to wait for */
		if (now_ms() >= deadline)
			return 0;
		nap_ms(5);
	}
}

/* pid's exit status once it has ended (reaps it). */
static int reap(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Kill pid (and, if group, its process group) and reap it, giving up after a
 * second (a process stuck in the kernel cannot be reaped: it is left to init). */
static void kill_and_reap(pid_t pid, bool group)
{
	kill(group ? -pid : pid, SIGKILL);
	wait_until(pid, now_ms() + 1000, false);
}

/* io_uring: grade_require_io_uring(entries), lib/grade.c - a ring of the
 * tests' size set up with io_uring_queue_init(entries, &ring, 0). */
static bool fact_io_uring(const char *dir)
{
	struct io_uring ring;

	(void)dir;
	if (io_uring_queue_init(FACT_RING_ENTRIES, &ring, 0) != 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

/* nop_inject: require_nop_inject(), 05-uring-basics/uring_hooks.h, and the
 * watch (ring_watch.h): the same probe, lib/nop_inject.h. */
static bool fact_nop_inject(const char *dir)
{
	(void)dir;
	return nop_inject_probe() == 1;
}

/* aio: 02-libaio/aio_watch.h (skip_if_machine_lacks_aio: ENOSYS, EPERM, or
 * EAGAIN that io_setup(1) confirms) and 04-epoll-eventfd/evtest.h
 * (require_kernel_aio: io_setup(1) fails) - io_setup(1) must succeed. The raw
 * system calls, as libaio makes them. */
static bool fact_aio(const char *dir)
{
	aio_context_t ctx = 0;

	(void)dir;
	if (syscall(SYS_io_setup, 1, &ctx) != 0)
		return false;
	syscall(SYS_io_destroy, ctx);
	return true;
}

/* odirect: 02-libaio/tests.c - open_direct_or_skip (open(O_RDONLY | O_DIRECT)
 * of a file in the test directory fails) and require_dio_alignment (a
 * 4096-aligned buffer, pread of 4096 bytes at offset 100 or of 100 bytes at 0
 * succeeds: tmpfs takes O_DIRECT and ignores alignment). The file is written
 * like grade_make_file's, 1 MiB like the test's (a misaligned read past end of
 * file would return 0 and prove nothing). `dir` is a fresh directory. */
static bool fact_odirect(const char *dir)
{
	static char block[65536];
	char path[4200];
	void *buf = NULL;
	bool ok = false;
	int fd;

	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	memset(block, 0x5a, sizeof(block));
	for (size_t left = FACT_DIO_FILE_SIZE; left > 0;) {
		ssize_t n = write(fd, block, left < sizeof(block) ? left : sizeof(block));

		if (n <= 0) {
			close(fd);
			return false;
		}
		left -= (size_t)n;
	}
	close(fd);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (posix_memalign(&buf, 4096, 4096) == 0) {
		ssize_t at100 = pread(fd, buf, 4096, 100);
		ssize_t len100 = pread(fd, buf, 100, 0);

		ok = at100 < 0 && len100 < 0;
		free(buf);
	}
	close(fd);
	return ok;
}

/* ptrace: 04-epoll-eventfd/tests.c, proc_idle_in_epoll - the test reads
 * /proc/PID/task/TID/syscall of the server, a child it started; open or read
 * failing there is the skip. Here: a forked child asleep in read(2). */
static bool fact_ptrace(const char *dir)
{
	char taskdir[64];
	int pfd[2], tasks = 0, err = 0;
	DIR *d;
	struct dirent *e;
	pid_t pid;

	(void)dir;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return false;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	if (pid == 0) {
		char c;

		close(pfd[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(10);
		while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(pfd[0]);
	snprintf(taskdir, sizeof(taskdir), "/proc/%d/task", (int)pid);
	d = opendir(taskdir);
	if (!d) {
		err = 1;
	} else {
		while ((e = readdir(d))) {
			char path[400], line[64] = "";
			FILE *fp;

			if (e->d_name[0] == '.')
				continue;
			tasks++;
			snprintf(path, sizeof(path), "%s/%s/syscall", taskdir, e->d_name);
			fp = fopen(path, "re");
			if (!fp) {
				err = 1;
				continue;
			}
			if (!fgets(line, sizeof(line), fp) && ferror(fp))
				err = 1;
			fclose(fp);
		}
		closedir(d);
	}
	close(pfd[1]);  /* the child's read returns 0: it ends */
	if (!wait_until(pid, now_ms() + 2000, false))
		kill_and_reap(pid, false);
	return !err && tasks > 0;
}

/* strace: 06-uring-batching/tests.c, require_strace - strace found in PATH
 * (prog_in_path: access X_OK; /usr/bin:/bin if PATH is unset) and
 * `strace -f -o /dev/null /bin/true` exits 0 within prog_run's time limit. */
static bool fact_strace(const char *dir)
{
	const char *env = getenv("PATH");
	char dirs[4096], strace[4200] = "";
	bool found = false;
	int status = 0;
	pid_t pid;

	(void)dir;
	snprintf(dirs, sizeof(dirs), "%s", env && *env ? env : "/usr/bin:/bin");
	for (char *save = NULL, *p = strtok_r(dirs, ":", &save); p && !found;
	     p = strtok_r(NULL, ":", &save)) {
		snprintf(strace, sizeof(strace), "%s/strace", p);
		found = access(strace, X_OK) == 0;
	}
	if (!found)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		const char *argv[] = { strace, "-f", "-o", "/dev/null", "/bin/true", NULL };
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(strace, (char *const *)argv);
		_exit(127);
	}
	if (!wait_until(pid, now_ms() + FACT_STRACE_MS, true)) {
		kill_and_reap(pid, false);
		return false;
	}
	status = reap(pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* landlock: lib/grade.c, grade_writes_only_beneath (06-uring-batching/tests.c,
 * copy source_read_only) - the kernel takes a new Landlock layer that
 * handles writing files (this check runs in a process of its own, which
 * the layer ends with). */
static bool fact_landlock(const char *dir)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE };
	long ruleset;

	(void)dir;
	if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1)
		return false;
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return false;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       syscall(SYS_landlock_restrict_self, (int)ruleset, 0) == 0;
}

/* Run one check in its own process (and process group), so that a check
 * that hangs or crashes answers "no" and leaves nothing behind. */
static bool run_fact(bool (*check)(const char *), const char *dir, long limit_ms)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(check(dir) ? 0 : 1);
	}
	setpgid(pid, pid);
	if (!wait_until(pid, now_ms() + limit_ms, true)) {
		kill_and_reap(pid, true);
		return false;
	}
	kill(-pid, SIGKILL);  /* anything the check left running (pid is a zombie: still its group) */
	status = reap(pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* memlock: grade_require_memlock, lib/grade.c - unlimited if the soft limit
 * is RLIM_INFINITY or CapEff has CAP_IPC_LOCK (not charged at all). */
static void print_memlock(void)
{
	FILE *fp = fopen("/proc/self/status", "re");
	unsigned long long caps = 0;
	struct rlimit rl;
	char line[256];

	if (fp) {
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "CapEff: %llx", &caps) == 1)
				break;
		fclose(fp);
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		rl.rlim_cur = 0;
	if (rl.rlim_cur == RLIM_INFINITY || (caps & (1ULL << 14)))
		printf("memlock=unlimited\n");
	else
		printf("memlock=%llu\n", (unsigned long long)rl.rlim_cur);
}

static int probe_facts(const char *dir)
{
	char work[4200];
	bool have_work;

	snprintf(work, sizeof(work), "%s/.probe-facts-XXXXXX", dir);
	have_work = mkdtemp(work) != NULL;
	if (!have_work)
		fprintf(stderr, "probe facts: cannot create a directory in %s (%s): "
			"odirect=no\n", dir, strerror(errno));

	printf("io_uring=%s\n", run_fact(fact_io_uring, dir, 3000) ? "yes" : "no");
	print_memlock();
	printf("aio=%s\n", run_fact(fact_aio, dir, 3000) ? "yes" : "no");
	printf("odirect=%s\n", have_work && run_fact(fact_odirect, work, 10000) ? "yes" : "no");
	printf("ptrace=%s\n", run_fact(fact_ptrace, dir, 5000) ? "yes" : "no");
	printf("strace=%s\n", run_fact(fact_strace, dir, FACT_STRACE_MS + 2000) ? "yes" : "no");
	printf("nop_inject=%s\n", run_fact(fact_nop_inject, dir, 5000) ? "yes" : "no");
	printf("landlock=%s\n", run_fact(fact_landlock, dir, 3000) ? "yes" : "no");
	fflush(stdout);

	if (have_work) {
		char path[4300];

		snprintf(path, sizeof(path), "%s/f", work);
		unlink(path);
		if (rmdir(work) != 0)
			fprintf(stderr, "probe facts: cannot remove %s: %s\n", work, strerror(errno));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "uring"))
		return probe_uring(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 8);
	if (argc == 3 && !strcmp(argv[1], "odirect"))
		return probe_odirect(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "facts"))
		return probe_facts(argv[2]);
	fprintf(stderr, "usage: probe uring [ENTRIES] | probe odirect DIR | probe facts DIR\n");
	return 2;
}
