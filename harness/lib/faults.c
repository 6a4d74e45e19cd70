/*
 * faults.c - the fault scripts behind faults.h.
 */
#define _GNU_SOURCE
#include "faults.h"
#include "grade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct fault {
	pthread_t thread;
	pid_t target_tid;
	pthread_t target;
	struct fault_step *steps;
	struct fault_report report;
	struct sigaction old_action;
	atomic_bool stop;  /* the test thread's call has returned */
};

static atomic_int signals_caught;

static void on_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_caught, 1);
}

long fault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void fault_nap(void)
{
	struct timespec ts = { 0, 200 * 1000 };  /* 0.2 ms */

	SEAM_REAL(nanosleep)(&ts, NULL);
}

static int pipe_unread(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

/* Wait until cond(f, step) holds or patience runs out. */
static bool wait_until(struct fault *f, const struct fault_step *s,
		       bool (*cond)(struct fault *, const struct fault_step *))
{
	long deadline = fault_now_ms() + FAULT_PATIENCE_MS;

	while (!cond(f, s)) {
		if (fault_now_ms() > deadline || atomic_load(&f->stop)) {
			f->report.gave_up++;
			return false;
		}
		fault_nap();
	}
	return true;
}

static bool is_drained(struct fault *f, const struct fault_step *s)
{
	(void)f;
	return pipe_unread(s->fd) <= 0;
}

static bool is_full(struct fault *f, const struct fault_step *s)
{
	(void)f;
	return pipe_unread(s->fd) >= (int)s->len;
}

/* /proc/self/task/TID/syscall starts with the number of the system call the
 * thread sleeps in ("running" while it runs). */
static bool is_blocked(struct fault *f, const struct fault_step *s)
{
	char path[64], buf[64] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)f->target_tid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	if (buf[0] < '0' || buf[0] > '9')
		return false;
	return strtol(buf, NULL, 10) == s->sysno;
}

/* Write all of data, waiting (bounded) while the pipe is full. */
static void write_all(struct fault *f, int fd, const unsigned char *data, size_t len)
{
	long deadline = fault_now_ms() + FAULT_PATIENCE_MS;

	while (len > 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0) {
			if (fault_now_ms() > deadline || atomic_load(&f->stop)) {
				f->report.gave_up++;
				return;
			}
			continue;
		}
		n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;  /* reader gone (EPIPE): the test will notice */
		}
		data += n;
		len -= (size_t)n;
		deadline = fault_now_ms() + FAULT_PATIENCE_MS;
	}
}

/* Read up to len bytes (or to EOF if all), bounded by patience. */
static void read_into_sink(struct fault *f, int fd, size_t len, bool all)
{
	long deadline = fault_now_ms() + FAULT_PATIENCE_MS;
	size_t wanted = f->report.sunk + len;

	while (all || f->report.sunk < wanted) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned char chunk[65536];
		size_t ask = sizeof(chunk);
		ssize_t n;

		if (!all && wanted - f->report.sunk < ask)
			ask = wanted - f->report.sunk;
		if (poll(&p, 1, 50) <= 0) {
			if (fault_now_ms() > deadline || atomic_load(&f->stop)) {
				f->report.gave_up++;
				return;
			}
			continue;
		}
		n = read(fd, chunk, ask);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return;
		f->report.sink = realloc(f->report.sink, f->report.sunk + (size_t)n);
		if (!f->report.sink)
			abort();  /* harness out of memory: nothing sensible to do */
		memcpy(f->report.sink + f->report.sunk, chunk, (size_t)n);
		f->report.sunk += (size_t)n;
		deadline = fault_now_ms() + FAULT_PATIENCE_MS;
	}
}

static bool handler_ran(struct fault *f, const struct fault_step *s)
{
	(void)s;
	return atomic_load(&signals_caught) > f->report.signals;
}

/*
 * Interrupt the test thread, then wait until its handler has run. Only then
 * may the script go on (write the data the call waits for, drain the pipe):
 * a sleeping read() that finds data when it wakes returns the data, not
 * EINTR, so feeding it before the handler ran would hide the interruption.
 */
static void signal_and_wait(struct fault *f)
{
	if (pthread_kill(f->target, SIGUSR1) != 0)
		return;
	if (wait_until(f, NULL, handler_ran))
		f->report.signals++;
}

static void run_step(struct fault *f, const struct fault_step *s)
{
	switch (s->op) {
	case FAULT_WRITE:
		write_all(f, s->fd, s->data, s->len);
		break;
	case FAULT_WRITE_PIECES:
		for (size_t off = 0; off < s->len; off += s->piece) {
			size_t n = s->len - off < s->piece ? s->len - off : s->piece;

			if (!wait_until(f, s, is_drained))
				return;
			write_all(f, s->fd, (const unsigned char *)s->data + off, n);
		}
		break;
	case FAULT_WAIT_DRAINED:
		wait_until(f, s, is_drained);
		break;
	case FAULT_WAIT_FULL:
		wait_until(f, s, is_full);
		break;
	case FAULT_WAIT_BLOCKED:
		if (wait_until(f, s, is_blocked))
			f->report.blocked_seen++;
		break;
	case FAULT_SIGNAL:
		signal_and_wait(f);
		break;
	case FAULT_READ:
		read_into_sink(f, s->fd, s->len, false);
		break;
	case FAULT_READ_ALL:
		read_into_sink(f, s->fd, 0, true);
		break;
	case FAULT_CLOSE:
		close(s->fd);
		break;
	case FAULT_END:
		break;
	}
}

static void *fault_main(void *arg)
{
	struct fault *f = arg;

	seam_mark_harness_thread();
	for (const struct fault_step *s = f->steps; s->op != FAULT_END; s++)
		run_step(f, s);
	return NULL;
}

struct fault *fault_start(const struct fault_step *steps)
{
	struct fault *f = calloc(1, sizeof(*f));
	struct sigaction sa;
	size_t n = 0;

	grade_check(f != NULL, "harness: out of memory");
	while (steps[n].op != FAULT_END)
		n++;
	f->steps = calloc(n + 1, sizeof(*steps));
	grade_check(f->steps != NULL, "harness: out of memory");
	memcpy(f->steps, steps, n * sizeof(*steps));
	f->target = pthread_self();
	atomic_store(&signals_caught, 0);
	f->target_tid = (pid_t)syscall(SYS_gettid);

	/* No SA_RESTART: a blocked read or write returns EINTR (or a short count). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, &f->old_action);

	grade_check(pthread_create(&f->thread, NULL, fault_main, f) == 0,
		    "harness: cannot start the fault thread");
	return f;
}

struct fault_report fault_join(struct fault *f)
{
	struct fault_report r;

	/* Waits for something the test thread was to do are over now: a wrong
	 * implementation returned early, and the script must not sit out its
	 * patience. Reads of what is already in a pipe still go on. */
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	sigaction(SIGUSR1, &f->old_action, NULL);
	r = f->report;
	free(f->steps);
	free(f);
	return r;
}

void fault_pipe(int fds[2], size_t capacity)
{
	grade_check(pipe2(fds, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	if (capacity)
		(void)fcntl(fds[1], F_SETPIPE_SZ, (int)capacity);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* opendir holds one descriptor of its own while counting. */
int fault_count_fds(void) { return count_dir("/proc/self/fd") - 1; }
int fault_count_threads(void) { return count_dir("/proc/self/task"); }

int fault_closed_fd(void)
{
	int fd = 900;

	while (fcntl(fd, F_GETFD) != -1)
		fd++;
	return fd;
}

bool fault_is_socket(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* True if no mapping of this process overlaps [lo, hi). */
static bool range_free(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a, b;
	bool free_ = true;
	char line[512];

	if (!f)
		return false;
	while (free_ && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
			free_ = false;
	fclose(f);
	return free_;
}

static void *map_at(uintptr_t at, size_t len)
{
	void *p = mmap((void *)at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);

	if (p != MAP_FAILED && p != (void *)at) {  /* a kernel that took it as a hint */
		munmap(p, len);
		p = MAP_FAILED;
	}
	return p;
}

/* The page-aligned pieces of a sparse buffer: the head page and the tail. */
static void sparse_pieces(size_t len, size_t tail, size_t *span, size_t *tail_at, size_t *tail_len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	*span = (len + page - 1) / page * page;
	if (tail > len)
		tail = len;
	*tail_at = (len - tail) / page * page;
	if (*tail_at < page)
		*tail_at = page;
	*tail_len = *span > *tail_at ? *span - *tail_at : 0;
}

unsigned char *fault_sparse_buffer(size_t len, size_t tail)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span, tail_at, tail_len;
	void *probe = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t top;

	sparse_pieces(len, tail, &span, &tail_at, &tail_len);
	grade_check(probe != MAP_FAILED, "harness: mmap of one page: %s", strerror(errno));
	top = (uintptr_t)probe;
	munmap(probe, page);
	/* Below the mappings (they grow down from near the top of the address
	 * space), in steps, until a free range of the whole span is found. */
	for (uintptr_t step = 1; step <= 64; step++) {
		uintptr_t gap = span + ((uintptr_t)1 << 30), base;
		void *head;

		if (top < step * gap)
			break;
		base = (top - step * gap) / page * page;
		if (!range_free(base, base + span))
			continue;
		head = map_at(base, page);
		if (head == MAP_FAILED)
			continue;
		if (tail_len && map_at(base + tail_at, tail_len) == MAP_FAILED) {
			munmap(head, page);
			continue;
		}
		return head;
	}
	grade_fail("harness: found no free range of %zu bytes of address space for a sparse buffer", len);
	return NULL;
}

void fault_sparse_buffer_free(unsigned char *buf, size_t len, size_t tail)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span, tail_at, tail_len;

	if (!buf)
		return;
	sparse_pieces(len, tail, &span, &tail_at, &tail_len);
	munmap(buf, page);
	if (tail_len)
		munmap(buf + tail_at, tail_len);
}

int fault_fd_on_file(const char *path)
{
	struct stat want, st;

	if (stat(path, &want) != 0)
		return -1;
	for (int fd = 0; fd < 1024; fd++)
		if (fstat(fd, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
			return fd;
	return -1;
}
