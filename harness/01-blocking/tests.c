/*
 * Chapter 01 tests: blocking I/O done right (chapters/01-blocking/blocking.h).
 *
 * Faults are real: pipes fed in pieces by a harness thread, SIGUSR1 sent
 * (handler without SA_RESTART) while the learner's call sleeps inside read()
 * or write(), a reader that has gone away. Expected bytes come from the
 * harness's own random data, generated from the printed seed.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "blocking.h"

/* The shared battery (end of this file) replaced four batch tests of this
 * chapter: a point each keeps the chapter's total as it was. */
#define BATTERY_POINTS_RANDOM 1
#define BATTERY_POINTS_ERRORS 1
#define BATTERY_POINTS_SHAPES 1
#define BATTERY_POINTS_MANY 1
#define BATTERY_POINTS_BEYOND_4GIB 1
#define BATTERY_POINTS_WINDOW 1
#include "batch_battery.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "open_hooks.h"
#include "tasks.h"

#define LESSON "chapters/01-blocking/README.md"

/* ------------------------------------------------------------------ helpers */

/*
 * A scripted system call, for faults a local file never shows: the code under
 * test's calls (of one family, on one descriptor or on any) are numbered from
 * 1; each transfers at most `piece` bytes, every `eintr_every`-th one fails
 * with EINTR before doing anything, and call number `fail_call` fails with
 * `err`. Calls after that pass through to the real function, so a loop that
 * wrongly carries on ends instead of hanging, and the count shows it.
 * `eintr_first` (set after script_set) makes the first calls fail with EINTR,
 * all in a row, before any byte moves.
 */
struct script {
	int only_fd;       /* -1: every descriptor */
	size_t piece;      /* 0: no limit */
	long eintr_every;  /* 0: never */
	long fail_call;    /* 0: never */
	int err;
	long calls;        /* calls seen so far */
	long after_fail;   /* calls made after the failing one */
	long eintr_first;  /* the first this many calls fail with EINTR */
};
static struct script rd_script, wr_script;

static void script_set(struct script *s, int only_fd, size_t piece, long eintr_every,
		       long fail_call, int err)
{
	*s = (struct script){ only_fd, piece, eintr_every, fail_call, err, 0, 0, 0 };
}

/* true: this call fails (errno set); otherwise *n may have been shortened. */
static bool script_fails(struct script *s, int fd, size_t *n)
{
	long k;

	if (s->only_fd >= 0 && fd != s->only_fd)
		return false;
	k = ++s->calls;
	if (s->fail_call && k > s->fail_call) {
		s->after_fail++;
		return false;
	}
	if (k == s->fail_call) {
		errno = s->err;
		return true;
	}
	if (k <= s->eintr_first || (s->eintr_every && k % s->eintr_every == 0)) {
		errno = EINTR;
		return true;
	}
	if (s->piece && *n > s->piece)
		*n = s->piece;
	return false;
}

static ssize_t script_read(int fd, void *buf, size_t n)
{
	return script_fails(&rd_script, fd, &n) ? -1 : SEAM_REAL(read)(fd, buf, n);
}

static ssize_t script_pread(int fd, void *buf, size_t n, off_t off)
{
	return script_fails(&rd_script, fd, &n) ? -1 : SEAM_REAL(pread)(fd, buf, n, off);
}

static ssize_t script_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return script_fails(&rd_script, fd, &n) ? -1 : SEAM_REAL(pread64)(fd, buf, n, off);
}

static ssize_t script_write(int fd, const void *buf, size_t n)
{
	return script_fails(&wr_script, fd, &n) ? -1 : SEAM_REAL(write)(fd, buf, n);
}

static void hooks_script(void)
{
	seam_hook_read = script_read;
	seam_hook_pread = script_pread;
	seam_hook_pread64 = script_pread64;
	seam_hook_write = script_write;
}

static void hooks_off(void)
{
	seam_hook_read = NULL;
	seam_hook_pread = NULL;
	seam_hook_pread64 = NULL;
	seam_hook_write = NULL;
}

/*
 * Pauses the code under test makes while a storm of EINTRs comes: poll,
 * ppoll and the four sleeps, counted and not slept (poll is asked with a
 * timeout of 0). After EINTR the only move is the call again, at once: the
 * signal's handler has already run, and a pause only delays the caller, at
 * every signal (a program with an interval timer gets one per tick).
 */
static long naps;

static int nap_poll(void *fds, unsigned long n, int timeout)
{
	(void)timeout;
	naps++;
	return SEAM_REAL(poll)(fds, n, 0);
}

static int nap_ppoll(void *fds, unsigned long n, const struct timespec *ts, const sigset_t *ss)
{
	(void)ts;
	naps++;
	return SEAM_REAL(ppoll)(fds, n, &(struct timespec){ 0 }, ss);
}

static int nap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	(void)rem;
	naps++;
	return 0;
}

static int nap_usleep(useconds_t us)
{
	(void)us;
	naps++;
	return 0;
}

static unsigned int nap_sleep(unsigned int secs)
{
	(void)secs;
	naps++;
	return 0;
}

static int nap_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req,
			       struct timespec *rem)
{
	(void)clk;
	(void)fl;
	(void)req;
	(void)rem;
	naps++;
	return 0;
}

static void naps_on(void)
{
	naps = 0;
	seam_hook_poll = nap_poll;
	seam_hook_ppoll = nap_ppoll;
	seam_hook_nanosleep = nap_nanosleep;
	seam_hook_usleep = nap_usleep;
	seam_hook_sleep = nap_sleep;
	seam_hook_clock_nanosleep = nap_clock_nanosleep;
}

static void naps_off(void)
{
	seam_hook_poll = NULL;
	seam_hook_ppoll = NULL;
	seam_hook_nanosleep = NULL;
	seam_hook_usleep = NULL;
	seam_hook_sleep = NULL;
	seam_hook_clock_nanosleep = NULL;
}

/* The check after a storm of EINTRs: `who` retried `call` without a pause. */
#define NAPS_MSG(who, call, todo)                                                          \
	who " paused %ld time(s) (poll, ppoll, sleep, usleep, nanosleep, clock_nanosleep) "  \
	"while " call " failed with EINTR again and again: EINTR means \"call it again\", "  \
	"at once. The signal's handler has already run when " call " fails; a pause before " \
	"the next call only delays the caller, at every signal (a program with an interval " \
	"timer, setitimer(2), gets one per tick) (" todo "; lesson: \"EINTR and "            \
	"SA_RESTART\")"

/*
 * Transfers that only pretend: no byte moves, so lengths beyond 2 and 4 GiB
 * cost nothing. The file is `size` bytes long; each call moves at most
 * 0x7ffff000 bytes (the kernel's cap, read(2) NOTES); a call that is not at
 * the place in the buffer (and, for pread, in the file) where the bytes so
 * far end is recorded as a violation. A write past `size` fails with ENOSPC,
 * so a loop whose count wrapped around ends.
 */
#define KERNEL_CAP 0x7ffff000ull
#define GIB (1ull << 30)

static struct {
	const char *base;            /* where the caller's buffer starts */
	off_t start;                 /* pread: the first offset */
	unsigned long long size;     /* bytes the pretend file has */
	unsigned long long done;     /* bytes moved so far */
	long calls;
} pretend;

static void pretend_set(const void *base, off_t start, unsigned long long size)
{
	pretend.base = base;
	pretend.start = start;
	pretend.size = size;
	pretend.done = 0;
	pretend.calls = 0;
}

static ssize_t pretend_move(const void *buf, size_t n, long long off, bool has_off, bool is_write)
{
	unsigned long long left = pretend.size - pretend.done;
	size_t k = n > KERNEL_CAP ? (size_t)KERNEL_CAP : n;

	pretend.calls++;
	if (pretend.base && (const char *)buf != pretend.base + pretend.done)
		seam_violate("after %llu bytes your code asked for the next ones at buf + %lld, "
			     "not at buf + %llu", pretend.done,
			     (long long)((const char *)buf - pretend.base), pretend.done);
	if (has_off && (unsigned long long)(off - pretend.start) != pretend.done)
		seam_violate("after %llu bytes from offset %lld your code asked for the next ones "
			     "at offset %lld, not %lld", pretend.done, (long long)pretend.start,
			     off, (long long)pretend.start + (long long)pretend.done);
	if (k > left) {
		if (is_write) {
			errno = ENOSPC;
			return -1;
		}
		k = (size_t)left;
	}
	pretend.done += k;
	return (ssize_t)k;
}

static ssize_t pretend_read(int fd, void *buf, size_t n)
{
	(void)fd;
	return pretend_move(buf, n, 0, false, false);
}

static ssize_t pretend_pread(int fd, void *buf, size_t n, off_t off)
{
	(void)fd;
	return pretend_move(buf, n, off, true, false);
}

static ssize_t pretend_pread64(int fd, void *buf, size_t n, off64_t off)
{
	(void)fd;
	return pretend_move(buf, n, off, true, false);
}

static ssize_t pretend_write(int fd, const void *buf, size_t n)
{
	(void)fd;
	return pretend_move(buf, n, 0, false, true);
}

/* A write() that takes nothing once (its second call returns 0, without an
 * error), then writes as usual: the bytes are still to be sent. */
static long zero_write_calls;

static ssize_t zero_once_write(int fd, const void *buf, size_t n)
{
	if (++zero_write_calls == 2)
		return 0;
	return SEAM_REAL(write)(fd, buf, n > 30000 ? 30000 : n);
}

static ssize_t ok_write(int fd, const void *buf, size_t n)
{
	(void)fd;
	(void)buf;
	return (ssize_t)n;
}

/* A huge buffer that is never touched: only its first page is memory, the
 * range after it is left unmapped, so it costs no address space (graders
 * often cap RLIMIT_AS below 5 GiB). Free with unreserve(). */
static void *reserve(unsigned long long len)
{
	return fault_sparse_buffer((size_t)len, 0);
}

static void unreserve(void *base, unsigned long long len)
{
	fault_sparse_buffer_free(base, (size_t)len, 0);
}

/* A sparse file of `size` bytes with `len` bytes of data at `at`; returns an fd. */
static int sparse_file(const char *name, unsigned long long size, off_t at,
		       const void *data, size_t len)
{
	const char *path = grade_path(name);
	int fd = grade_open(path, O_RDWR | O_CREAT | O_TRUNC);

	grade_check(ftruncate(fd, (off_t)size) == 0, "harness: cannot make a sparse file of "
		    "%llu bytes: %s", size, strerror(errno));
	grade_check(SEAM_REAL(pwrite)(fd, data, len, at) == (ssize_t)len,
		    "harness: cannot write the sparse file: %s", strerror(errno));
	return fd;
}

/* ------------------------------------------------------------------ read_full */

/*
 * A second caller between two calls of the first, as another thread would
 * be: read() or write() moves at most 1000 bytes a call and, the first
 * time, runs a whole other read_full or write_full (on another file) before
 * it returns. Each call's progress must be its own.
 */
static struct {
	int fd;
	unsigned char *buf;
	size_t len;
	ssize_t got;
	int state;   /* 0: not yet, 1: running, 2: done */
} nested;

static void nested_start(int fd, unsigned char *buf, size_t len)
{
	nested.fd = fd;
	nested.buf = buf;
	nested.len = len;
	nested.got = 0;
	nested.state = 0;
}

static ssize_t nesting_read(int fd, void *buf, size_t n)
{
	ssize_t k = SEAM_REAL(read)(fd, buf, n > 1000 ? 1000 : n);
	int saved = errno;

	if (nested.state == 0) {
		nested.state = 1;
		nested.got = read_full(nested.fd, nested.buf, nested.len);
		nested.state = 2;
	}
	errno = saved;
	return k;
}

static ssize_t nesting_write(int fd, const void *buf, size_t n)
{
	ssize_t k = SEAM_REAL(write)(fd, buf, n > 1000 ? 1000 : n);
	int saved = errno;

	if (nested.state == 0) {
		nested.state = 1;
		nested.got = write_full(nested.fd, nested.buf, nested.len);
		nested.state = 2;
	}
	errno = saved;
	return k;
}

/* The same, but the other write_full runs to its end before this write()
 * takes its bytes: as another thread's call would between the moment a
 * write_full chose what to write and its write(2). */
static ssize_t nesting_write_first(int fd, const void *buf, size_t n)
{
	if (nested.state == 0) {
		nested.state = 1;
		nested.got = write_full(nested.fd, nested.buf, nested.len);
		nested.state = 2;
	}
	return SEAM_REAL(write)(fd, buf, n > 1000 ? 1000 : n);
}

GRADE_TEST(read_full, whole_files, 2,
	   "read_full reads whole files of random sizes, also when another read_full runs in "
	   "between",
	   "TODO 1: one read(2) may return fewer bytes than asked; read_full returns len bytes, "
	   "fewer only at end of file; its count is the call's own (a local variable: another "
	   "thread may run read_full meanwhile) (lesson: \"What read and write promise\")")
{
	static const size_t sizes[] = { 1, 17, 4096, 65537, 300001 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i] + grade_rand_below(100);
		unsigned char *data = grade_random_bytes(size), *buf = grade_xmalloc(size);
		int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
		ssize_t got = SEAM_CALL(read_full(fd, buf, size));

		grade_check(got == (ssize_t)size,
			    "read_full(fd, buf, %zu) on a %zu-byte file returned %s, expected %zu",
			    size, size, grade_errno_str(got), size);
		grade_check_same(buf, data, size, "read_full");
		close(fd);
		free(data);
		free(buf);
	}

	/* Two callers, as two threads would be: another read_full (3000 bytes
	 * of another file) runs to its end between two reads of this one. */
	{
		unsigned char *data = grade_random_bytes(6000), *other = grade_random_bytes(3000);
		unsigned char *buf = grade_xmalloc(6000), *obuf = grade_xmalloc(3000);
		int fd = grade_open(grade_make_file("mine", data, 6000), O_RDONLY);
		int ofd = grade_open(grade_make_file("other", other, 3000), O_RDONLY);
		ssize_t got;

		nested_start(ofd, obuf, 3000);
		seam_hook_read = nesting_read;
		got = SEAM_CALL(read_full(fd, buf, 6000));
		seam_hook_read = NULL;
		grade_check(nested.state == 2, "read_full(fd, buf, 6000) returned %s without "
			    "calling read(2)", grade_errno_str(got));
		grade_check(nested.got == 3000 && grade_first_diff(obuf, other, 3000) < 0,
			    "read_full(fd2, buf2, 3000), run in the middle of another read_full, "
			    "returned %s or the wrong bytes, expected 3000", grade_errno_str(nested.got));
		grade_check(got == 6000 && grade_first_diff(buf, data, 6000) < 0,
			    "read_full(fd, buf, 6000) returned %s, with byte %zd of buf wrong, when "
			    "another read_full (of 3000 bytes of another file, as another thread's "
			    "would be) ran to its end between two of its reads; expected 6000 and the "
			    "right bytes: keep a call's count in its own local variables, never in a "
			    "static or global one that every call shares (TODO 1; blocking.h)",
			    grade_errno_str(got), grade_first_diff(buf, data, 6000));
		close(fd);
		close(ofd);
		free(data);
		free(other);
		free(buf);
		free(obuf);
	}
}

/* An end of file with more after it, for read (a terminal's Ctrl-D: more
 * input may follow, for the next reader) and pread (a writer appends at the
 * end meanwhile): the first call brings at most 1000 bytes, the second
 * returns 0, and the calls after it (a loop that asked again after the 0)
 * are counted in eof_after and take the bytes. false: return 0 now. */
static long eof_calls, eof_after;

static bool eof_script(size_t *n)
{
	long k = ++eof_calls;

	if (k == 1 && *n > 1000)
		*n = 1000;
	if (k == 2)
		return false;
	if (k > 2)
		eof_after++;
	return true;
}

static ssize_t ctrl_d_read(int fd, void *buf, size_t n)
{
	return eof_script(&n) ? SEAM_REAL(read)(fd, buf, n) : 0;
}

GRADE_TEST(read_full, stops_at_eof, 2,
	   "read_full stops at end of file and returns the short count, then 0",
	   "TODO 1: read(2) returns 0 at end of file: stop and return what you have; "
	   "do not call read again, not in a loop and not once more \"to make sure\" "
	   "(blocking.h: \"read returning 0 means end of file: stop, do not retry\"; "
	   "lesson: \"End of file\")")
{
	unsigned char *data = grade_random_bytes(1000), buf[4096];
	int fd = grade_open(grade_make_file("f", data, 1000), O_RDONLY);
	ssize_t got = SEAM_CALL(read_full(fd, buf, sizeof(buf)));

	grade_check(got == 1000, "read_full asked for 4096 bytes of a 1000-byte file "
		    "returned %s, expected 1000", grade_errno_str(got));
	grade_check_same(buf, data, 1000, "read_full");
	got = SEAM_CALL(read_full(fd, buf, sizeof(buf)));
	grade_check(got == 0, "read_full at end of file returned %s, expected 0", grade_errno_str(got));
	got = SEAM_CALL(read_full(fd, buf, 0));
	grade_check(got == 0, "read_full with len 0 returned %s, expected 0", grade_errno_str(got));
	close(fd);
	free(data);

	/* read() brings 1000 bytes, then 0 (a terminal's Ctrl-D: more input
	 * may follow it, for the next reader): the 0 ends this read_full. */
	data = grade_random_bytes(3000);
	fd = grade_open(grade_make_file("tty", data, 3000), O_RDONLY);
	eof_calls = eof_after = 0;
	seam_hook_read = ctrl_d_read;
	got = SEAM_CALL(read_full(fd, buf, sizeof(buf)));
	seam_hook_read = NULL;
	grade_check(got == 1000 && eof_after == 0, "read() returned 1000 bytes, then 0 (end of "
		    "file, as a terminal's Ctrl-D gives it); read_full then called read() %ld more "
		    "time(s) and returned %s, expected 1000 with no read() after the 0: a 0 from "
		    "read is the end of this input, believe it the first time (on a terminal a "
		    "second read waits for the next line; blocking.h: \"read returning 0 means end "
		    "of file: stop, do not retry\")", eof_after, grade_errno_str(got));
	grade_check_same(buf, data, 1000, "read_full before the 0");
	close(fd);
	free(data);
}

GRADE_TEST(read_full, errors_are_negative_errno, 2,
	   "read_full returns -errno: -EBADF for a bad descriptor, -EISDIR for a directory",
	   "TODO 1: on failure return -errno (a negative number), not -1 and not errno; "
	   "man 2 read, ERRORS")
{
	char buf[16];
	ssize_t got = SEAM_CALL(read_full(-1, buf, sizeof(buf)));
	int dir;

	grade_check(got == -EBADF, "read_full(-1, ...) returned %s, expected -EBADF (%d)",
		    grade_errno_str(got), -EBADF);
	dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	got = SEAM_CALL(read_full(dir, buf, sizeof(buf)));
	grade_check(got == -EISDIR, "read_full on a directory returned %s, expected -EISDIR (%d)",
		    grade_errno_str(got), -EISDIR);
	close(dir);
}

GRADE_TEST(read_full, pipe_in_pieces, 3,
	   "read_full collects a pipe that a writer fills 333 bytes at a time",
	   "TODO 1: read(2) on a pipe returns what is there now, often less than asked: "
	   "a short read is not the end, ask again for the rest (lesson: \"Short reads\")")
{
	const size_t len = 10000;
	unsigned char *data = grade_random_bytes(len), *buf = grade_xmalloc(len + 100);
	int p[2];
	struct fault *f;
	struct fault_report r;
	ssize_t got;

	fault_pipe(p, 0);
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WRITE_PIECES, .fd = p[1], .data = data, .len = len, .piece = 333 },
		{ .op = FAULT_CLOSE, .fd = p[1] },
		{ .op = FAULT_END } });
	/* Ask for more than will come: the writer closes, read_full sees EOF. */
	got = SEAM_CALL(read_full(p[0], buf, len + 100));
	r = fault_join(f);
	grade_check(got == (ssize_t)len, "read_full returned %s for a pipe that delivered %zu "
		    "bytes in pieces of 333, then closed", grade_errno_str(got), len);
	grade_check_same(buf, data, len, "read_full from a pipe");
	grade_check(seam_calls_sum(SEAM_read, SEAM_COUNT) >= (long)(len / 333),
		    "read_full made %ld read() calls for %zu pieces: it must use read(2)",
		    seam_calls(SEAM_read), len / 333 + 1);
	close(p[0]);
	free(r.sink);
	free(data);
	free(buf);
}

GRADE_TEST(read_full, retries_after_eintr, 2,
	   "read_full retries when a signal interrupts read() before any data (EINTR)",
	   "TODO 1: read(2) fails with EINTR when a signal handler without SA_RESTART "
	   "runs while it waits: call it again (lesson: \"EINTR and SA_RESTART\")")
{
	unsigned char *data = grade_random_bytes(4096), buf[4096];
	int p[2];
	struct fault *f;
	struct fault_report r;
	ssize_t got;

	fault_pipe(p, 0);
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_read },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WRITE, .fd = p[1], .data = data, .len = 4096 },
		{ .op = FAULT_CLOSE, .fd = p[1] },
		{ .op = FAULT_END } });
	got = SEAM_CALL(read_full(p[0], buf, sizeof(buf)));
	r = fault_join(f);
	grade_check(r.blocked_seen == 1, "read_full never waited inside read() on an empty "
		    "pipe, so the signal could not be sent (it returned %s)", grade_errno_str(got));
	grade_check(r.signals == 1, "read_full slept inside read() on an empty pipe and SIGUSR1 "
		    "was sent, but its handler never ran while read_full waited (it returned %s): "
		    "does your code block signals around read() (sigprocmask, pthread_sigmask)? "
		    "The program's signals are not the library's to hide: let read() fail with "
		    "EINTR and call it again (lesson: \"EINTR and SA_RESTART\")",
		    grade_errno_str(got));
	grade_check(got == 4096, "read_full returned %s after read() was interrupted by a "
		    "signal (EINTR); expected it to retry and return 4096", grade_errno_str(got));
	grade_check_same(buf, data, 4096, "read_full after EINTR");
	close(p[0]);
	free(r.sink);
	free(data);

	/* A storm: every second read() fails with EINTR, the others bring at
	 * most 10 bytes; 10000 bytes take 1000 EINTRs. */
	{
		const size_t len = 10000;
		unsigned char *more = grade_random_bytes(len), *got_buf = grade_xmalloc(len);
		int fd = grade_open(grade_make_file("f", more, len), O_RDONLY);

		script_set(&rd_script, -1, 10, 2, 0, 0);
		hooks_script();
		naps_on();
		got = SEAM_CALL(read_full(fd, got_buf, len));
		naps_off();
		hooks_off();
		grade_check(got == (ssize_t)len, "read_full(fd, buf, %zu) returned %s when every "
			    "second read() failed with EINTR (%ld of them) and the others brought at "
			    "most 10 bytes; expected %zu: retry after every EINTR, with no limit on "
			    "how many (lesson: \"EINTR and SA_RESTART\")", len, grade_errno_str(got),
			    rd_script.calls / 2, len);
		grade_check(naps == 0, NAPS_MSG("read_full", "read()", "TODO 1"), naps);
		grade_check_same(got_buf, more, len, "read_full after 1000 EINTRs");
		close(fd);
		free(more);
		free(got_buf);
	}

	/* A burst: the first 1000 read() calls fail with EINTR one after the
	 * other, before any byte comes; then each brings at most 1000 bytes. */
	{
		const size_t len = 5000;
		unsigned char *more = grade_random_bytes(len), *got_buf = grade_xmalloc(len);
		int fd = grade_open(grade_make_file("burst", more, len), O_RDONLY);

		script_set(&rd_script, -1, 1000, 0, 0, 0);
		rd_script.eintr_first = 1000;
		hooks_script();
		naps_on();
		got = SEAM_CALL(read_full(fd, got_buf, len));
		naps_off();
		hooks_off();
		grade_check(naps == 0, NAPS_MSG("read_full", "read()", "TODO 1"), naps);
		grade_check(got == (ssize_t)len, "read_full(fd, buf, %zu) returned %s when its first "
			    "1000 read() calls failed with EINTR, one after the other, before any "
			    "byte came; expected %zu: a storm of signals may interrupt read() any "
			    "number of times in a row, and each EINTR only means \"call it again\": "
			    "no limit on the EINTRs in all, nor on those in a row (lesson: \"EINTR "
			    "and SA_RESTART\")", len, grade_errno_str(got), len);
		grade_check_same(got_buf, more, len, "read_full after 1000 EINTRs in a row");
		close(fd);
		free(more);
		free(got_buf);
	}
}

/* An empty non-blocking pipe (its write end eagain_empty.wr): read() fails
 * with EAGAIN. A read_full that reads again, or waits with poll() or a
 * sleep for data, finds bytes the harness put there first, so that it
 * ends: the counts show it. */
static struct eagain_empty {
	int wr;
	long calls, waits;
} eagain_empty;

static void eagain_empty_fill(void)
{
	/* Non-blocking: if the pipe were full, the bytes would not be added. */
	ssize_t k = SEAM_REAL(write)(eagain_empty.wr, "0123456789", 10);

	(void)k;
}

static ssize_t eagain_empty_read(int fd, void *buf, size_t n)
{
	if (++eagain_empty.calls > 1)
		eagain_empty_fill();
	return SEAM_REAL(read)(fd, buf, n);
}

/* The waits a module may make (poll, ppoll and the four sleeps), each
 * counted in `counter` after `act()` has made what it waits for happen (so
 * it ends at once: sleep() is not slept for real); pfx_wait_hooks()
 * installs all six. */
#define WAIT_HOOKS(pfx, counter, act)                                                      \
	static int pfx##_poll(void *fds, unsigned long n, int timeout)                    \
	{                                                                                  \
		counter++;                                                                 \
		act();                                                                     \
		return SEAM_REAL(poll)(fds, n, timeout);                                   \
	}                                                                                  \
	static int pfx##_ppoll(void *fds, unsigned long n, const struct timespec *ts,     \
			       const sigset_t *ss)                                          \
	{                                                                                  \
		counter++;                                                                 \
		act();                                                                     \
		return SEAM_REAL(ppoll)(fds, n, ts, ss);                                   \
	}                                                                                  \
	static int pfx##_nanosleep(const struct timespec *req, struct timespec *rem)      \
	{                                                                                  \
		counter++;                                                                 \
		act();                                                                     \
		return SEAM_REAL(nanosleep)(req, rem);                                     \
	}                                                                                  \
	static int pfx##_usleep(useconds_t us)                                            \
	{                                                                                  \
		counter++;                                                                 \
		act();                                                                     \
		return SEAM_REAL(usleep)(us);                                              \
	}                                                                                  \
	static unsigned int pfx##_sleep(unsigned int secs)                                \
	{                                                                                  \
		(void)secs;                                                                \
		counter++;                                                                 \
		act();                                                                     \
		return 0;                                                                  \
	}                                                                                  \
	static int pfx##_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req, \
					 struct timespec *rem)                              \
	{                                                                                  \
		counter++;                                                                 \
		act();                                                                     \
		return SEAM_REAL(clock_nanosleep)(clk, fl, req, rem);                      \
	}                                                                                  \
	static void pfx##_wait_hooks(void)                                                 \
	{                                                                                  \
		seam_hook_poll = pfx##_poll;                                               \
		seam_hook_ppoll = pfx##_ppoll;                                             \
		seam_hook_nanosleep = pfx##_nanosleep;                                     \
		seam_hook_usleep = pfx##_usleep;                                           \
		seam_hook_sleep = pfx##_sleep;                                             \
		seam_hook_clock_nanosleep = pfx##_clock_nanosleep;                         \
	}

WAIT_HOOKS(eagain_empty, eagain_empty.waits, eagain_empty_fill)

GRADE_TEST(read_full, nonblocking_eagain, 1,
	   "read_full on an empty non-blocking pipe returns -EAGAIN at once, instead of spinning "
	   "or waiting for data",
	   "TODO 1: EAGAIN is an error to report (-EAGAIN), not a reason to loop, nor to wait "
	   "and read again: man 2 read, EAGAIN (lesson: \"EAGAIN: when the descriptor is "
	   "non-blocking\")")
{
	char buf[64];
	int p[2];
	ssize_t got;

	fault_pipe(p, 0);
	grade_check(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s", strerror(errno));
	got = SEAM_CALL(read_full(p[0], buf, sizeof(buf)));
	grade_check(got == -EAGAIN, "read_full on an empty non-blocking pipe returned %s, "
		    "expected -EAGAIN (%d)", grade_errno_str(got), -EAGAIN);

	/* The same empty pipe: a second read(), or a poll() or sleep before it,
	 * finds bytes there, so a read_full that waits for data ends. */
	grade_check(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s", strerror(errno));
	eagain_empty = (struct eagain_empty){ .wr = p[1] };
	seam_hook_read = eagain_empty_read;
	eagain_empty_wait_hooks();
	got = SEAM_CALL(read_full(p[0], buf, sizeof(buf)));
	seam_hook_read = NULL;
	seam_hook_poll = NULL;
	seam_hook_ppoll = NULL;
	seam_hook_nanosleep = NULL;
	seam_hook_usleep = NULL;
	seam_hook_clock_nanosleep = NULL;
	seam_hook_sleep = NULL;
	grade_check(got == -EAGAIN && eagain_empty.calls == 1 && eagain_empty.waits == 0,
		    "read_full(fd, buf, 64) on an empty non-blocking pipe returned %s after %ld "
		    "read() call(s) and %ld wait(s) (poll, ppoll, sleep, usleep, "
		    "nanosleep, clock_nanosleep); expected "
		    "-EAGAIN after one read() and no wait: \"nothing now\" is the answer, also "
		    "before any byte came. Report it at once; waiting for data is the caller's "
		    "choice, made with the right tool (chapter 04's epoll), and a descriptor made "
		    "non-blocking asked for no wait (TODO 1; blocking.h: \"EAGAIN ... is such an "
		    "error, never retried\")", grade_errno_str(got), eagain_empty.calls,
		    eagain_empty.waits);
	close(p[0]);
	close(p[1]);
}

GRADE_TEST(read_full, error_after_progress, 2,
	   "read_full returns -errno when read() fails after some bytes came (EIO, EAGAIN), "
	   "also on a real non-blocking pipe",
	   "TODO 1: an error is the answer even after a short read: return -errno, not the "
	   "bytes so far (blocking.h: \"On an error returns -errno, even if some bytes were "
	   "already read\"); EAGAIN is an error too, never a reason to call read again, and a "
	   "non-blocking descriptor no reason to stop before it; "
	   "after a short read, ask only for the room left in buf, after the bytes you have "
	   "(lesson: \"An error after partial progress\", \"Short reads\")")
{
	static const int errs[] = { EIO, EAGAIN };
	unsigned char *data = grade_random_bytes(10000), *buf = grade_xmalloc(10000);
	const char *path = grade_make_file("f", data, 10000);
	struct seam_heap heap;

	seam_heap_usage(&heap);
	for (int i = 0; i < 2; i++) {
		int fd = grade_open(path, O_RDONLY);
		ssize_t got;

		/* read() gives 1000 bytes, then 1000, then fails. */
		script_set(&rd_script, -1, 1000, 0, 3, errs[i]);
		hooks_script();
		got = SEAM_CALL(read_full(fd, buf, 10000));
		hooks_off();
		grade_check(got == -errs[i], "read() returned 1000, 1000, then -1 with errno %s; "
			    "read_full returned %s, expected %s", grade_errno_str(-errs[i]) + 1,
			    grade_errno_str(got), grade_errno_str(-errs[i]));
		grade_check(rd_script.after_fail == 0, "read_full called read() %ld more time(s) "
			    "after it failed with %s: report the error at once", rd_script.after_fail,
			    grade_errno_str(-errs[i]) + 1);
		close(fd);
	}

	/* read() gives at most 1000 bytes a call: read_full(fd, buf, 2500) must
	 * ask for 2500, 1500, then 500, and never write past buf + 2500. */
	{
		int fd = grade_open(path, O_RDONLY);
		ssize_t got;
		size_t past = 0;

		memset(buf, 0xAA, 4096);
		script_set(&rd_script, -1, 1000, 0, 0, 0);
		hooks_script();
		got = SEAM_CALL(read_full(fd, buf, 2500));
		hooks_off();
		for (size_t k = 2500; k < 4096; k++)
			past += buf[k] != 0xAA;
		grade_check(got == 2500, "read_full(fd, buf, 2500) returned %s when each read() "
			    "gave at most 1000 bytes; expected 2500", grade_errno_str(got));
		grade_check(past == 0, "read_full(fd, buf, 2500) wrote %zu byte(s) past buf + 2500: "
			    "after a short read, ask read() for len - done bytes, not len", past);
		grade_check_same(buf, data, 2500, "read_full in pieces of 1000");
		close(fd);
	}
	/* The real thing: a non-blocking pipe holding 10 bytes, asked for 64.
	 * read() gives the 10, then fails with EAGAIN ("nothing more now"):
	 * an error after progress, so -EAGAIN is the answer. With the write
	 * end closed, the same 10 bytes end with 0 instead: end of file, 10. */
	for (int closed = 0; closed < 2; closed++) {
		int p[2];
		ssize_t got;

		fault_pipe(p, 0);
		grade_check(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s",
			    strerror(errno));
		grade_check(SEAM_REAL(write)(p[1], data, 10) == 10, "harness: write: %s",
			    strerror(errno));
		if (closed)
			close(p[1]);
		seam_reset();
		got = SEAM_CALL(read_full(p[0], buf, 64));
		if (!closed)
			grade_check(got == -EAGAIN, "read_full(fd, buf, 64) on a non-blocking pipe "
				    "holding 10 bytes (its writer still there) returned %s after %ld "
				    "read() call(s); expected -EAGAIN: read() gives the 10 bytes, and "
				    "the next one fails with EAGAIN, \"nothing more now\", an error "
				    "after progress like any other. A non-blocking descriptor is no "
				    "reason to stop after the first read() that brought bytes: read on "
				    "until len bytes, end of file (0) or an error, and return that "
				    "error (TODO 1; blocking.h: \"EAGAIN (a non-blocking descriptor "
				    "with nothing more now) is such an error\")", grade_errno_str(got),
				    seam_calls(SEAM_read));
		else
			grade_check(got == 10, "read_full(fd, buf, 64) on a non-blocking pipe "
				    "holding 10 bytes whose writer has closed returned %s after %ld "
				    "read() call(s); expected 10: after the 10 bytes read() returns 0, "
				    "end of file, on a non-blocking descriptor too (only a writer still "
				    "there makes it EAGAIN) (TODO 1; lesson: \"End of file\")",
				    grade_errno_str(got), seam_calls(SEAM_read));
		close(p[0]);
		if (!closed)
			close(p[1]);
	}
	grade_check_heap(&heap, "read_full, whose read() failed part way (EIO, EAGAIN) or "
			 "came in pieces (TODO 1),");
	free(data);
	free(buf);
}

GRADE_TEST(read_full, beyond_4gib, 1,
	   "read_full of 3 GiB and of 5 GiB: the count goes past 2 and 4 GiB (no data moves)",
	   "TODO 1: keep the count in a size_t and return it as ssize_t: an int or an unsigned "
	   "wraps past 2 or 4 GiB; each read(2) moves at most 0x7ffff000 bytes (read(2), NOTES)")
{
	/* How much to read, from a file of how many bytes (the last one ends
	 * first: a short count beyond 4 GiB). */
	static const struct { unsigned long long len, size; } cases[] = {
		{ 3 * GIB, 5 * GIB + 7 }, { 5 * GIB + 7, 5 * GIB + 7 }, { 5 * GIB, 4 * GIB + 5 },
	};
	char *base = reserve(5 * GIB + 4096);
	int fd = grade_open(grade_make_file("f", "x", 1), O_RDONLY);

	for (int i = 0; i < 3; i++) {
		unsigned long long want = cases[i].len < cases[i].size ? cases[i].len : cases[i].size;
		ssize_t got;

		/* Nothing is really read. */
		pretend_set(base, 0, cases[i].size);
		seam_hook_read = pretend_read;
		got = SEAM_CALL(read_full(fd, base, (size_t)cases[i].len));
		seam_hook_read = NULL;
		grade_check(got == (ssize_t)want, "read_full(fd, buf, %llu) of a %llu-byte file "
			    "returned %s after %ld read() calls, expected %llu", cases[i].len,
			    cases[i].size, grade_errno_str(got), pretend.calls, want);
		grade_check(pretend.done == want, "read_full(fd, buf, %llu) returned %llu, but its "
			    "%ld read() calls brought %llu bytes in all: the count is what read(2) "
			    "returned, added up, never len itself", cases[i].len, want,
			    pretend.calls, pretend.done);
	}
	unreserve(base, 5 * GIB + 4096);
	close(fd);
}

/* ----------------------------------------------------------------- pread_full */

/* pread_full and blk_batch_read read with pread(2) only: lseek + read
 * (even with the position put back afterwards) moves the position that
 * every other user of the descriptor shares, if only for a moment. */
static void refuse_seek_and_read(const char *who)
{
	const char *why = !strcmp(who, "pread_full") ?
		"pread_full reads at its offset with pread(2) and never moves the file "
		"position, not even to put it back (TODO 2; blocking.h)" :
		"blk_batch_read reads each request with pread_full, i.e. pread(2), and never "
		"moves the file position (TODO 5; blocking.h)";

	seam_refuse(SEAM_lseek, why);
	seam_refuse(SEAM_lseek64, why);
	seam_refuse(SEAM_read, why);
}

/* pread() brings 1000 bytes, then 0 (end of file), then, if called again at
 * that offset, what a writer appended meanwhile (eof_script). */
static ssize_t eof_then_more_pread(int fd, void *buf, size_t n, off_t off)
{
	return eof_script(&n) ? SEAM_REAL(pread)(fd, buf, n, off) : 0;
}

static ssize_t eof_then_more_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return eof_then_more_pread(fd, buf, n, (off_t)off);
}

GRADE_TEST(pread_full, random_ranges, 2,
	   "pread_full reads 50 random ranges of a file, some running past its end, and a file "
	   "of /proc (size 0); a 0 from pread ends it",
	   "TODO 2: read_full's job with pread(2) at a given offset; at end of file (pread "
	   "returns 0) return the short count, without asking again (lesson: \"Short reads\", "
	   "\"End of file\"; man 2 pread)")
{
	const size_t size = 300000;
	unsigned char *data = grade_random_bytes(size), *buf = grade_xmalloc(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);

	for (int i = 0; i < 50; i++) {
		off_t off = (off_t)grade_rand_below(size + 1000);
		size_t len = grade_rand_below(size / 4);
		size_t want = (size_t)off >= size ? 0 : size - (size_t)off < len ? size - (size_t)off : len;
		ssize_t got = SEAM_CALL(pread_full(fd, buf, len, off));

		grade_check(got == (ssize_t)want, "pread_full(fd, buf, %zu, %lld) on a %zu-byte "
			    "file returned %s, expected %zu (seed %llu)", len, (long long)off, size,
			    grade_errno_str(got), want, (unsigned long long)grade_seed());
		grade_check_same(buf, data + (want ? off : 0), want, "pread_full");
	}
	close(fd);

	/* A file of /proc: regular, its size 0 (st_size), and yet it has bytes
	 * (those of /proc/self/cmdline stay the same while this process runs):
	 * its end is where pread returns 0, not where st_size says. */
	{
		const char *proc = "/proc/self/cmdline";
		size_t wantlen;
		unsigned char *want = grade_slurp(proc, &wantlen);
		ssize_t got;

		grade_check(want != NULL && wantlen > 3, "harness: cannot read %s: %s", proc,
			    strerror(errno));
		fd = grade_open(proc, O_RDONLY);
		got = SEAM_CALL(pread_full(fd, buf, wantlen + 100, 3));
		close(fd);
		grade_check(got == (ssize_t)(wantlen - 3), "pread_full(fd, buf, %zu, 3) on %s, a "
			    "regular file whose st_size says 0 and which holds %zu bytes, returned "
			    "%s, expected %zu: the end of a file is where pread returns 0, not the "
			    "size fstat told (the files of /proc and /sys say 0); ask pread, never "
			    "st_size (TODO 2; lesson: \"End of file\")", wantlen + 100, proc, wantlen,
			    grade_errno_str(got), wantlen - 3);
		grade_check_same(buf, want + 3, wantlen - 3, "pread_full of /proc/self/cmdline");
		free(want);
	}

	/* pread() brings 1000 bytes, then 0: the end of the file. A second
	 * pread there would find what a writer appended since; the 0 ends
	 * this pread_full, as read_full's 0 does (01.02). */
	fd = grade_open(grade_make_file("grows", data, 5000), O_RDONLY);
	eof_calls = eof_after = 0;
	seam_hook_pread = eof_then_more_pread;
	seam_hook_pread64 = eof_then_more_pread64;
	{
		ssize_t got = SEAM_CALL(pread_full(fd, buf, 4096, 0));

		seam_hook_pread = NULL;
		seam_hook_pread64 = NULL;
		grade_check(got == 1000 && eof_after == 0, "pread() returned 1000 bytes, then 0 "
			    "(end of file); pread_full then called pread() %ld more time(s) and "
			    "returned %s, expected 1000 with no pread() after the 0: believe the "
			    "end of file the first time, as read_full does (TODO 2; blocking.h: "
			    "\"read returning 0 means end of file: stop, do not retry\")",
			    eof_after, grade_errno_str(got));
		grade_check_same(buf, data, 1000, "pread_full before the 0");
	}
	close(fd);
	free(data);
	free(buf);
}

GRADE_TEST(pread_full, keeps_file_position, 1,
	   "pread_full uses pread(2) and leaves the file position where it was; asked again "
	   "after the file changed, it reads the new bytes",
	   "TODO 2: use pread(2), not lseek + read: other code may share the descriptor; "
	   "every call reads the file anew (no cache of earlier answers)")
{
	unsigned char *data = grade_random_bytes(8192), buf[1000];
	int fd = grade_open(grade_make_file("f", data, 8192), O_RDONLY);
	ssize_t got;

	grade_check(lseek(fd, 123, SEEK_SET) == 123, "harness: lseek: %s", strerror(errno));
	refuse_seek_and_read("pread_full");
	got = SEAM_CALL(pread_full(fd, buf, sizeof(buf), 5000));
	grade_check(got == (ssize_t)sizeof(buf), "pread_full returned %s, expected %zu",
		    grade_errno_str(got), sizeof(buf));
	grade_check_same(buf, data + 5000, sizeof(buf), "pread_full");
	grade_check(lseek(fd, 0, SEEK_CUR) == 123, "pread_full moved the file position from 123 "
		    "to %lld", (long long)lseek(fd, 0, SEEK_CUR));
	grade_check(seam_calls_sum(SEAM_pread, SEAM_pread64, SEAM_COUNT) > 0,
		    "pread_full never called pread(2)");

	/* The same request again after the file changed there: the answer is
	 * the file's bytes of now, which only a pread can tell. */
	{
		int wfd = grade_open(grade_path("f"), O_WRONLY);
		unsigned char fresh[sizeof(buf)];

		for (size_t i = 0; i < sizeof(fresh); i++)
			fresh[i] = (unsigned char)~data[5000 + i];
		grade_check(pwrite(wfd, fresh, sizeof(fresh), 5000) == (ssize_t)sizeof(fresh),
			    "harness: pwrite: %s", strerror(errno));
		close(wfd);
		seam_reset();
		got = SEAM_CALL(pread_full(fd, buf, sizeof(buf), 5000));
		grade_check(got == (ssize_t)sizeof(buf) &&
			    seam_calls_sum(SEAM_pread, SEAM_pread64, SEAM_COUNT) > 0 &&
			    memcmp(buf, fresh, sizeof(buf)) == 0, "pread_full(fd, buf, %zu, 5000) "
			    "a second time, after the file's bytes there were rewritten, returned "
			    "%s after %ld pread() call(s) and %s: every call reads the file as it is "
			    "now, with pread(2); keep no copy of earlier answers in statics (TODO 2; "
			    "blocking.h: \"pread_full ... use pread(2)\", \"Each call keeps its "
			    "progress to itself\")", sizeof(buf), grade_errno_str(got),
			    seam_calls_sum(SEAM_pread, SEAM_pread64, SEAM_COUNT),
			    memcmp(buf, fresh, sizeof(buf)) == 0 ? "the new bytes" :
			    "the old bytes or others, not the new ones");
	}
	close(fd);
	free(data);
}

/* A pread that transfers at most 1000 bytes, as a slow device or a network
 * filesystem may: the contract allows it, pread_full must carry on. */
static ssize_t short_pread(int fd, void *buf, size_t n, off_t off)
{
	return SEAM_REAL(pread)(fd, buf, n > 1000 ? 1000 : n, off);
}

static ssize_t short_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return SEAM_REAL(pread64)(fd, buf, n > 1000 ? 1000 : n, off);
}

/* A pread that transfers at most 1000 bytes and, the first time, runs a
 * whole other pread_full on the sharer's request before it returns: a
 * second user of the descriptor, between two preads of the first. */
static struct {
	int fd;
	unsigned char *buf;
	off_t off;
	size_t len;
	ssize_t got;
	int state;   /* 0: not yet, 1: running, 2: done */
} sharer;

static void sharer_runs(void)
{
	if (sharer.state != 0)
		return;
	sharer.state = 1;
	sharer.got = pread_full(sharer.fd, sharer.buf, sharer.len, sharer.off);
	sharer.state = 2;
}

static ssize_t sharing_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t k = SEAM_REAL(pread)(fd, buf, n > 1000 ? 1000 : n, off);
	int saved = errno;

	sharer_runs();
	errno = saved;
	return k;
}

static ssize_t sharing_pread64(int fd, void *buf, size_t n, off64_t off)
{
	ssize_t k = SEAM_REAL(pread64)(fd, buf, n > 1000 ? 1000 : n, off);
	int saved = errno;

	sharer_runs();
	errno = saved;
	return k;
}

/* A pread that is short once (its first call moves at most 1000 bytes),
 * then moves all that is asked. */
static long short_once_calls;

static ssize_t short_once_pread(int fd, void *buf, size_t n, off_t off)
{
	return SEAM_REAL(pread)(fd, buf, ++short_once_calls == 1 && n > 1000 ? 1000 : n, off);
}

static ssize_t short_once_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return SEAM_REAL(pread64)(fd, buf, ++short_once_calls == 1 && n > 1000 ? 1000 : n, off);
}

GRADE_TEST(pread_full, short_pread_advances_offset, 3,
	   "pread_full continues a short pread at the advanced offset, also when another "
	   "pread_full runs in between",
	   "TODO 2: pread never moves a file position for you: after a short pread, the place "
	   "in the file must advance with the place in the buffer, or the same bytes are "
	   "read twice; that progress is the call's own (local variables: another thread may "
	   "run pread_full on the same descriptor meanwhile) (lesson: \"Short reads\")")
{
	const size_t size = 20000;
	unsigned char *data = grade_random_bytes(size), *buf = grade_xmalloc(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	ssize_t got;

	seam_hook_pread = short_pread;
	seam_hook_pread64 = short_pread64;
	got = SEAM_CALL(pread_full(fd, buf, 15000, 4321));
	seam_hook_pread = NULL;
	seam_hook_pread64 = NULL;
	grade_check(got == 15000, "pread_full(fd, buf, 15000, 4321) returned %s when each "
		    "pread(2) transferred at most 1000 bytes; expected 15000", grade_errno_str(got));
	grade_check_same(buf, data + 4321, 15000, "pread_full after short preads");

	/* One short pread, then preads that move all they are asked for:
	 * pread_full(fd, buf, 2500, 3000) asks for 2500, then 1500, and never
	 * writes past buf + 2500. */
	{
		size_t past = 0;

		memset(buf, 0xAA, 4096);
		short_once_calls = 0;
		seam_hook_pread = short_once_pread;
		seam_hook_pread64 = short_once_pread64;
		got = SEAM_CALL(pread_full(fd, buf, 2500, 3000));
		seam_hook_pread = NULL;
		seam_hook_pread64 = NULL;
		for (size_t k = 2500; k < 4096; k++)
			past += buf[k] != 0xAA;
		grade_check(got == 2500 && past == 0, "pread_full(fd, buf, 2500, 3000) returned %s "
			    "and wrote %zu byte(s) past buf + 2500 when its first pread() brought 1000 "
			    "bytes; expected 2500 and none: after a short pread, ask for len - done "
			    "bytes, the room left in buf, not len again (TODO 2; lesson: \"Short "
			    "reads\")", grade_errno_str(got), past);
		grade_check_same(buf, data + 3000, 2500, "pread_full after one short pread");
	}

	/* Two users of one descriptor, as blocking.h allows: another
	 * pread_full runs to its end between two preads of this one. */
	memset(buf, 0, size);
	sharer.fd = fd;
	sharer.buf = grade_xmalloc(3000);
	sharer.off = 12000;
	sharer.len = 3000;
	sharer.state = 0;
	seam_hook_pread = sharing_pread;
	seam_hook_pread64 = sharing_pread64;
	got = SEAM_CALL(pread_full(fd, buf, 6000, 1234));
	seam_hook_pread = NULL;
	seam_hook_pread64 = NULL;
	grade_check(sharer.state == 2, "pread_full(fd, buf, 6000, 1234) returned %s without "
		    "calling pread(2)", grade_errno_str(got));
	grade_check(sharer.got == 3000 && grade_first_diff(sharer.buf, data + 12000, 3000) < 0,
		    "pread_full(fd, buf2, 3000, 12000), run in the middle of another pread_full on "
		    "the same descriptor, returned %s or the wrong bytes, expected 3000",
		    grade_errno_str(sharer.got));
	grade_check(got == 6000 && grade_first_diff(buf, data + 1234, 6000) < 0,
		    "pread_full(fd, buf, 6000, 1234) returned %s, with byte %zd of buf wrong, when "
		    "another pread_full on the same descriptor (another thread's, as blocking.h "
		    "allows) ran to its end between two of its preads; expected 6000 and the right "
		    "bytes: keep a call's progress in its own local variables, never in a static "
		    "or global one that every call shares", grade_errno_str(got),
		    grade_first_diff(buf, data + 1234, 6000));
	free(sharer.buf);
	close(fd);
	free(data);
	free(buf);
}

GRADE_TEST(pread_full, bad_arguments, 1,
	   "pread_full: -EINVAL for a negative offset (with a bad descriptor too), -EBADF for a "
	   "bad descriptor, 0 past EOF, -ESPIPE for a pipe",
	   "TODO 2: a negative offset is your own check, done first (blocking.h); pread's "
	   "failures come back as -errno, ESPIPE included: no fallback to read (man 2 pread, "
	   "ERRORS)")
{
	unsigned char *data = grade_random_bytes(100), buf[100];
	int fd = grade_open(grade_make_file("f", data, 100), O_RDONLY);
	ssize_t got = SEAM_CALL(pread_full(fd, buf, sizeof(buf), -1));

	grade_check(got == -EINVAL, "pread_full at offset -1 returned %s, expected -EINVAL",
		    grade_errno_str(got));
	got = SEAM_CALL(pread_full(-1, buf, sizeof(buf), 0));
	grade_check(got == -EBADF, "pread_full(-1, ...) returned %s, expected -EBADF",
		    grade_errno_str(got));
	/* Both wrong: the offset's check comes first (pread(2) itself says
	 * EINVAL for pread(-1, buf, 100, -1)). */
	got = SEAM_CALL(pread_full(-1, buf, sizeof(buf), -1));
	grade_check(got == -EINVAL, "pread_full(-1, buf, 100, -1), with a bad descriptor and a "
		    "negative offset, returned %s, expected -EINVAL: offset < 0 is checked first, "
		    "before anything else, the descriptor included (blocking.h: \"offset < 0 is "
		    "-EINVAL, checked first\"); a check of fd of your own, if any, comes after it "
		    "(TODO 2)", grade_errno_str(got));
	got = SEAM_CALL(pread_full(fd, buf, sizeof(buf), 5000));
	grade_check(got == 0, "pread_full past end of file returned %s, expected 0",
		    grade_errno_str(got));
	close(fd);
	free(data);

	/* A pipe has no offsets: pread fails with ESPIPE, and that is the
	 * answer, even with bytes waiting in the pipe. */
	{
		int p[2];

		fault_pipe(p, 0);
		grade_check(write(p[1], "0123456789", 10) == 10, "harness: write: %s",
			    strerror(errno));
		seam_reset();
		got = SEAM_CALL(pread_full(p[0], buf, 10, 0));
		grade_check(got == -ESPIPE && seam_calls(SEAM_read) == 0, "pread_full on a pipe "
			    "returned %s after %ld read() call(s), expected -ESPIPE and no read(): "
			    "pread_full reads at its offset with pread(2) and never at the file "
			    "position, so a descriptor without offsets (a pipe, a socket) gets pread's "
			    "own -ESPIPE (man 2 pread, ERRORS; lesson: \"What read and write "
			    "promise\")", grade_errno_str(got), seam_calls(SEAM_read));
		close(p[0]);
		close(p[1]);
	}
}

GRADE_TEST(pread_full, error_after_progress, 1,
	   "pread_full returns -errno when pread() fails after some bytes came (EIO, EAGAIN), "
	   "and -EAGAIN when the first pread() fails so",
	   "TODO 2: an error after a short pread is the answer: return -errno, not the bytes "
	   "so far (blocking.h, read_full); EAGAIN is such an error, before any byte too (not "
	   "an end of file), never a reason to call pread again (the cases of TODO 1; lesson: "
	   "\"EAGAIN: when the descriptor is non-blocking\")")
{
	static const int errs[] = { EIO, EAGAIN };
	unsigned char *data = grade_random_bytes(10000), *buf = grade_xmalloc(10000);
	int fd = grade_open(grade_make_file("f", data, 10000), O_RDONLY);
	ssize_t got;
	struct seam_heap heap;

	seam_heap_usage(&heap);
	for (int i = 0; i < 2; i++) {
		/* pread() gives 1000 bytes, then fails. */
		script_set(&rd_script, -1, 1000, 0, 2, errs[i]);
		hooks_script();
		got = SEAM_CALL(pread_full(fd, buf, 8000, 100));
		hooks_off();
		grade_check(got == -errs[i], "pread() returned 1000, then -1 with errno %s; "
			    "pread_full returned %s, expected %s", grade_errno_str(-errs[i]) + 1,
			    grade_errno_str(got), grade_errno_str(-errs[i]));
		grade_check(rd_script.after_fail == 0, "pread_full called pread() %ld more "
			    "time(s) after it failed with %s: report the error at once%s",
			    rd_script.after_fail, grade_errno_str(-errs[i]) + 1, errs[i] == EAGAIN ?
			    " (EAGAIN means \"nothing now\": a retry at once spins, blocking.h)" : "");
	}

	/* The very first pread() fails with EAGAIN, before any byte came:
	 * "nothing now" is an error to report, not an end of file (0). */
	memset(buf, 0, 8000);
	script_set(&rd_script, -1, 1000, 0, 1, EAGAIN);
	hooks_script();
	got = SEAM_CALL(pread_full(fd, buf, 8000, 100));
	hooks_off();
	grade_check(got == -EAGAIN && rd_script.after_fail == 0, "pread_full(fd, buf, 8000, 100) "
		    "returned %s, with %ld pread() call(s) after the first, when that first pread() "
		    "failed with EAGAIN before any byte came; expected -EAGAIN and none: EAGAIN is "
		    "\"nothing now\", an error to report as it is, also before any byte (as "
		    "read_full's on an empty non-blocking pipe, 01.06); 0 would tell the caller "
		    "the file ends at offset 100, which it does not (TODO 2; blocking.h: \"EAGAIN "
		    "... is such an error, never retried\")", grade_errno_str(got),
		    rd_script.after_fail);
	grade_check_heap(&heap, "pread_full, whose pread() failed part way (EIO, EAGAIN) or "
			 "at once (EAGAIN) (TODO 2),");
	close(fd);
	free(data);
	free(buf);
}

/* A pread() on a file whose wait a signal can interrupt (a FIFO-like
 * device, NFS mounted "intr", FUSE): the first call sends SIGUSR1 (handler
 * without SA_RESTART) to the calling thread. If the handler runs at once,
 * the wait ends with EINTR, as the kernel's would; if the signal stays
 * pending (blocked around pread), the call reads normally and the test
 * sees the handler never ran while pread_full waited. */
static struct {
	volatile sig_atomic_t ran;
	long calls;
	bool held_back;
} sig_pread;

static void on_sig_pread(int sig)
{
	(void)sig;
	sig_pread.ran++;
}

static ssize_t signalled_pread(int fd, void *buf, size_t n, off_t off)
{
	if (++sig_pread.calls == 1) {
		sig_atomic_t before = sig_pread.ran;

		pthread_kill(pthread_self(), SIGUSR1);
		if (sig_pread.ran != before) {
			errno = EINTR;
			return -1;
		}
		sig_pread.held_back = true;
	}
	return SEAM_REAL(pread)(fd, buf, n, off);
}

static ssize_t signalled_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return signalled_pread(fd, buf, n, (off_t)off);
}

GRADE_TEST(pread_full, retries_after_eintr, 1,
	   "pread_full retries a pread() that fails with EINTR, between short preads, and lets "
	   "a signal's handler run while pread waits",
	   "TODO 2: EINTR means nothing happened: call pread again at the same offset "
	   "(lesson: \"EINTR and SA_RESTART\")")
{
	const size_t size = 20000;
	unsigned char *data = grade_random_bytes(size), *buf = grade_xmalloc(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	ssize_t got;

	/* Each pread moves at most 1500 bytes; every third one fails with EINTR. */
	script_set(&rd_script, -1, 1500, 3, 0, 0);
	hooks_script();
	got = SEAM_CALL(pread_full(fd, buf, 12000, 777));
	hooks_off();
	grade_check(got == 12000, "pread_full(fd, buf, 12000, 777) returned %s when every third "
		    "pread() failed with EINTR; expected 12000", grade_errno_str(got));
	grade_check_same(buf, data + 777, 12000, "pread_full after EINTR");

	/* A storm: every second pread() fails with EINTR, the others bring at
	 * most 10 bytes; 10000 bytes take 1000 EINTRs. */
	script_set(&rd_script, -1, 10, 2, 0, 0);
	hooks_script();
	naps_on();
	got = SEAM_CALL(pread_full(fd, buf, 10000, 333));
	naps_off();
	hooks_off();
	grade_check(naps == 0, NAPS_MSG("pread_full", "pread()", "TODO 2"), naps);
	grade_check(got == 10000, "pread_full(fd, buf, 10000, 333) returned %s when every second "
		    "pread() failed with EINTR (%ld of them) and the others brought at most 10 "
		    "bytes; expected 10000: retry after every EINTR, with no limit on how many",
		    grade_errno_str(got), rd_script.calls / 2);
	grade_check_same(buf, data + 333, 10000, "pread_full after 1000 EINTRs");

	/* A burst: the first 1000 preads fail with EINTR one after the other,
	 * before any byte comes; then each brings at most 1000 bytes. */
	script_set(&rd_script, -1, 1000, 0, 0, 0);
	rd_script.eintr_first = 1000;
	hooks_script();
	naps_on();
	got = SEAM_CALL(pread_full(fd, buf, 5000, 4444));
	naps_off();
	hooks_off();
	grade_check(naps == 0, NAPS_MSG("pread_full", "pread()", "TODO 2"), naps);
	grade_check(got == 5000, "pread_full(fd, buf, 5000, 4444) returned %s when its first 1000 "
		    "pread() calls failed with EINTR, one after the other, before any byte came; "
		    "expected 5000: retry after every EINTR, with no limit on the EINTRs in all "
		    "nor on those in a row", grade_errno_str(got));
	grade_check_same(buf, data + 4444, 5000, "pread_full after 1000 EINTRs in a row");

	/* A real signal while pread() waits: its handler runs, the wait ends
	 * with EINTR, pread_full calls pread again. */
	{
		struct sigaction sa, old_sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sig_pread;   /* sa_flags 0: no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		grade_check(sigaction(SIGUSR1, &sa, &old_sa) == 0, "harness: sigaction: %s",
			    strerror(errno));
		sig_pread.ran = 0;
		sig_pread.calls = 0;
		sig_pread.held_back = false;
		seam_hook_pread = signalled_pread;
		seam_hook_pread64 = signalled_pread64;
		got = SEAM_CALL(pread_full(fd, buf, 3000, 1000));
		seam_hook_pread = NULL;
		seam_hook_pread64 = NULL;
		sigaction(SIGUSR1, &old_sa, NULL);
		grade_check(!sig_pread.held_back, "a signal (SIGUSR1) came while pread_full was "
			    "inside pread(), and its handler did not run until pread_full let it "
			    "(pread_full returned %s): does your code block signals (sigprocmask, "
			    "pthread_sigmask) around pread()? The program's signals are not "
			    "pread_full's to hold back: on a file whose wait a signal can end (NFS, "
			    "FUSE), pread fails with EINTR; call it again (TODO 2; lesson: \"EINTR "
			    "and SA_RESTART\")", grade_errno_str(got));
		grade_check(got == 3000, "pread_full(fd, buf, 3000, 1000) returned %s when a "
			    "signal interrupted its first pread() (EINTR); expected 3000",
			    grade_errno_str(got));
		grade_check_same(buf, data + 1000, 3000, "pread_full after a signal");
	}
	close(fd);
	free(data);
	free(buf);
}

GRADE_TEST(pread_full, beyond_4gib, 2,
	   "pread_full at offsets beyond 4 GiB of a sparse file, and lengths beyond 4 GiB",
	   "TODO 2: offsets are off_t (64 bits) and counts size_t: never keep either in an int "
	   "or unsigned; the next pread starts at offset + done (lesson: \"Short reads\")")
{
	static const unsigned long long offs[] = { 4 * GIB - 100, 5 * GIB + 12345 };
	unsigned char *data = grade_random_bytes(8192), buf[8192];
	int fd = sparse_file("sparse", 6 * GIB, (off_t)offs[0], data, 4096);
	char *base;
	ssize_t got;

	grade_check(SEAM_REAL(pwrite)(fd, data + 4096, 4096, (off_t)offs[1]) == 4096,
		    "harness: cannot write the sparse file: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		/* Short preads of 1000 bytes make the offset arithmetic matter. */
		script_set(&rd_script, -1, 1000, 0, 0, 0);
		hooks_script();
		got = SEAM_CALL(pread_full(fd, buf, 4096, (off_t)offs[i]));
		hooks_off();
		grade_check(got == 4096, "pread_full(fd, buf, 4096, %llu) in a 6 GiB sparse file "
			    "returned %s, expected 4096", offs[i], grade_errno_str(got));
		grade_check_same(buf, data + 4096 * i, 4096, "pread_full beyond 4 GiB");
	}
	got = SEAM_CALL(pread_full(fd, buf, 100, (off_t)(6 * GIB)));
	grade_check(got == 0, "pread_full at the end of a 6 GiB file returned %s, expected 0",
		    grade_errno_str(got));

	/* 5 GiB + 3 bytes at offset 3 GiB of a pretend file: nothing really moves. */
	base = reserve(6 * GIB);
	pretend_set(base, (off_t)(3 * GIB), 5 * GIB + 3);
	seam_hook_pread = pretend_pread;
	seam_hook_pread64 = pretend_pread64;
	got = SEAM_CALL(pread_full(fd, base, (size_t)(6 * GIB), (off_t)(3 * GIB)));
	hooks_off();
	grade_check(got == (ssize_t)(5 * GIB + 3), "pread_full(fd, buf, 6 GiB, 3 GiB) of a file "
		    "with 5 GiB + 3 bytes from there returned %s after %ld pread() calls, expected "
		    "%llu", grade_errno_str(got), pretend.calls, 5 * GIB + 3);
	grade_check(pretend.done == 5 * GIB + 3, "pread_full(fd, buf, 6 GiB, 3 GiB) returned "
		    "%llu, but its %ld pread() calls brought %llu bytes in all: the count is what "
		    "pread(2) returned, added up", 5 * GIB + 3, pretend.calls, pretend.done);
	unreserve(base, 6 * GIB);
	close(fd);
	free(data);
}

/* ----------------------------------------------------------------- write_full */

GRADE_TEST(write_full, regular_file, 1,
	   "write_full writes 100000 random bytes to a file, also when a write() takes none "
	   "or another write_full runs in between, and 0 bytes as 0; in the middle of a file, "
	   "at its position",
	   "TODO 3: loop on write(2) until len bytes are written, whatever each call took "
	   "(0 included: it is no end of file); return len; the count is the call's own (a "
	   "local variable: another thread may run write_full meanwhile); write at the "
	   "descriptor's position and leave its flags alone")
{
	const size_t len = 100000;
	unsigned char *data = grade_random_bytes(len), *back;
	const char *path = grade_path("out");
	int fd = grade_open(path, O_WRONLY | O_CREAT | O_TRUNC);
	ssize_t got = SEAM_CALL(write_full(fd, data, len));
	size_t backlen;

	grade_check(got == (ssize_t)len, "write_full of %zu bytes returned %s", len,
		    grade_errno_str(got));
	got = SEAM_CALL(write_full(fd, data, 0));
	grade_check(got == 0, "write_full of 0 bytes returned %s, expected 0", grade_errno_str(got));
	close(fd);
	back = grade_slurp(path, &backlen);
	grade_check(backlen == len, "the file holds %zu bytes after write_full of %zu", backlen, len);
	grade_check_same(back, data, len, "write_full");
	free(back);

	/* write() takes 30000 bytes, then none (0, no error), then the rest. */
	fd = grade_open(path, O_WRONLY | O_CREAT | O_TRUNC);
	zero_write_calls = 0;
	seam_hook_write = zero_once_write;
	got = SEAM_CALL(write_full(fd, data, len));
	seam_hook_write = NULL;
	close(fd);
	grade_check(got == (ssize_t)len, "write() took 30000 bytes, then returned 0 (nothing "
		    "written, no error); write_full returned %s, expected %zu: a write has no end "
		    "of file, and 0 is not an error either: write_full returns len or -errno, "
		    "never a short count; call write again for the rest (lesson: \"Short "
		    "writes\", its last paragraph)", grade_errno_str(got), len);
	back = grade_slurp(path, &backlen);
	grade_check(back != NULL && backlen == len, "the file holds %zu bytes after write_full of "
		    "%zu, one of whose write() calls took nothing", back ? backlen : 0, len);
	grade_check_same(back, data, len, "write_full after a write() of 0");
	free(back);

	/* At the file position, in the middle of that file: the bytes land
	 * there, not at its end, and the descriptor's flags are the caller's. */
	{
		unsigned char *mid = grade_random_bytes(500);
		int before, after;
		off_t pos;

		fd = grade_open(path, O_WRONLY);
		grade_check(lseek(fd, 1000, SEEK_SET) == 1000, "harness: lseek: %s",
			    strerror(errno));
		before = fcntl(fd, F_GETFL);
		got = SEAM_CALL(write_full(fd, mid, 500));
		after = fcntl(fd, F_GETFL);
		pos = lseek(fd, 0, SEEK_CUR);
		close(fd);
		grade_check(got == 500, "write_full of 500 bytes at position 1000 of a file of "
			    "%zu bytes returned %s, expected 500", len, grade_errno_str(got));
		grade_check(before == after, "write_full changed the flags of the caller's "
			    "descriptor (fcntl F_SETFL) from %#o to %#o%s: the descriptor is the "
			    "caller's, and so are its flags; write(2) as it is (TODO 3)",
			    (unsigned)before, (unsigned)after,
			    (after & ~before) & O_APPEND ? " (O_APPEND switched on: every write "
			    "then goes to the end of the file, not to its position)" :
			    (before ^ after) & O_NONBLOCK ? " (O_NONBLOCK switched)" : "");
		back = grade_slurp(path, &backlen);
		grade_check(back != NULL && backlen == len && pos == 1500, "write_full of 500 "
			    "bytes at position 1000 of a file of %zu bytes left it %zu bytes long "
			    "and the position at %lld, expected %zu and 1500: write(2) writes at "
			    "the descriptor's position and moves it on (man 2 write; TODO 3)",
			    len, back ? backlen : 0, (long long)pos, len);
		grade_check(grade_first_diff(back, data, 1000) < 0 &&
			    grade_first_diff(back + 1000, mid, 500) < 0 &&
			    grade_first_diff(back + 1500, data + 1500, len - 1500) < 0,
			    "write_full of 500 bytes at position 1000 did not put them at bytes "
			    "1000-1499 of the file with the rest as it was (seed %u): write at "
			    "the descriptor's position (TODO 3)", grade_seed());
		free(back);
		free(mid);
	}

	/* Two callers, as two threads would be: another write_full (3000 bytes
	 * to another file) runs to its end between two writes of this one,
	 * then inside its first write(), before that write takes its bytes. */
	for (int round = 0; round < 2; round++) {
		char other_path[PATH_MAX];
		unsigned char *other = grade_random_bytes(3000);
		int ofd;

		snprintf(other_path, sizeof(other_path), "%s", grade_path("other"));
		ofd = grade_open(other_path, O_WRONLY | O_CREAT | O_TRUNC);
		fd = grade_open(path, O_WRONLY | O_CREAT | O_TRUNC);
		nested_start(ofd, other, 3000);
		seam_hook_write = round ? nesting_write_first : nesting_write;
		got = SEAM_CALL(write_full(fd, data, 6000));
		seam_hook_write = NULL;
		close(fd);
		close(ofd);
		grade_check(nested.state == 2, "write_full(fd, buf, 6000) returned %s without "
			    "calling write(2)", grade_errno_str(got));
		back = grade_slurp(other_path, &backlen);
		grade_check(nested.got == 3000 && back != NULL && backlen == 3000 &&
			    grade_first_diff(back, other, 3000) < 0, "write_full(fd2, buf2, 3000), "
			    "run in the middle of another write_full, returned %s and its file holds "
			    "%zu bytes (or the wrong ones), expected 3000 and 3000",
			    grade_errno_str(nested.got), back ? backlen : 0);
		free(back);
		back = grade_slurp(path, &backlen);
		grade_check(got == 6000 && back != NULL && backlen == 6000 &&
			    grade_first_diff(back, data, 6000) < 0, "write_full(fd, buf, 6000) "
			    "returned %s and its file holds %zu bytes (or the wrong ones) when another "
			    "write_full (of 3000 bytes to another file, as another thread's would be) "
			    "ran to its end %s; expected 6000 and the 6000 "
			    "bytes: keep a call's count and bytes in its own local variables or the "
			    "caller's buffer, never in a static or global one that every call shares "
			    "(a static staging buffer too) (TODO 3; blocking.h: \"Each call keeps its "
			    "progress to itself\")", grade_errno_str(got), back ? backlen : 0,
			    round ? "inside its first write(), before that write took its bytes"
				  : "between two of its writes");
		free(back);
		free(other);
	}
	free(data);
}

GRADE_TEST(write_full, partial_write_continues, 3,
	   "write_full continues after a signal cuts a write() short, from the right byte",
	   "TODO 3: a short write sent the FIRST bytes of the buffer: continue with the bytes "
	   "not yet written, never from the start (lesson: \"Short writes\")")
{
	const size_t len = 20000;
	unsigned char *data = grade_random_bytes(len);
	int p[2];
	struct fault *f;
	struct fault_report r;
	ssize_t got;

	fault_pipe(p, 4096);
	/* write() fills the 4 KiB pipe and sleeps; the signal makes it return
	 * the 4096 bytes it wrote; then the harness drains the pipe. */
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_FULL, .fd = p[0], .len = 4096 },
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_write },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_READ_ALL, .fd = p[0] },
		{ .op = FAULT_END } });
	got = SEAM_CALL(write_full(p[1], data, len));
	close(p[1]);
	r = fault_join(f);
	grade_check(r.signals == 1, "write_full never waited in write() on a full pipe "
		    "(returned %s)", grade_errno_str(got));
	grade_check(got == (ssize_t)len, "write_full returned %s, expected %zu", grade_errno_str(got), len);
	grade_check(r.sunk == len, "the reader received %zu bytes, expected %zu: after a short "
		    "write, continue with the bytes not yet written", r.sunk, len);
	grade_check_same(r.sink, data, len, "bytes received from write_full");
	close(p[0]);
	free(r.sink);
	free(data);
}

GRADE_TEST(write_full, retries_after_eintr, 2,
	   "write_full retries when a signal interrupts write() before any byte (EINTR)",
	   "TODO 3: write(2) fails with EINTR if a signal arrives before it wrote anything: "
	   "call it again (lesson: \"EINTR and SA_RESTART\")")
{
	const size_t len = 5000;
	unsigned char *data = grade_random_bytes(len), *filler = grade_random_bytes(4096);
	int p[2];
	struct fault *f;
	struct fault_report r;
	ssize_t got;

	fault_pipe(p, 4096);
	grade_check(SEAM_REAL(write)(p[1], filler, 4096) == 4096, "harness: cannot fill the pipe");
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_write },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_READ_ALL, .fd = p[0] },
		{ .op = FAULT_END } });
	got = SEAM_CALL(write_full(p[1], data, len));
	close(p[1]);
	r = fault_join(f);
	grade_check(r.signals == 1, "write_full never waited in write() on a full pipe "
		    "(returned %s)", grade_errno_str(got));
	grade_check(got == (ssize_t)len, "write_full returned %s after write() was interrupted "
		    "by a signal (EINTR); expected it to retry and return %zu", grade_errno_str(got), len);
	grade_check(r.sunk == 4096 + len, "the reader received %zu bytes, expected %zu",
		    r.sunk, 4096 + len);
	grade_check_same(r.sink + 4096, data, len, "bytes received from write_full");
	close(p[0]);
	free(r.sink);
	free(filler);

	/* A storm: every second write() fails with EINTR, the others take at
	 * most 10 bytes; 5000 bytes take 500 EINTRs. */
	{
		const char *path = grade_path("out");
		int fd = grade_open(path, O_WRONLY | O_CREAT | O_TRUNC);
		unsigned char *back;
		size_t backlen;

		script_set(&wr_script, -1, 10, 2, 0, 0);
		hooks_script();
		naps_on();
		got = SEAM_CALL(write_full(fd, data, len));
		naps_off();
		hooks_off();
		close(fd);
		grade_check(naps == 0, NAPS_MSG("write_full", "write()", "TODO 3"), naps);
		grade_check(got == (ssize_t)len, "write_full(fd, buf, %zu) returned %s when every "
			    "second write() failed with EINTR (%ld of them) and the others took at "
			    "most 10 bytes; expected %zu: retry after every EINTR, with no limit on "
			    "how many (lesson: \"EINTR and SA_RESTART\")", len, grade_errno_str(got),
			    wr_script.calls / 2, len);
		back = grade_slurp(path, &backlen);
		grade_check(back != NULL && backlen == len, "the file holds %zu bytes after "
			    "write_full of %zu", back ? backlen : 0, len);
		grade_check_same(back, data, len, "write_full after 500 EINTRs");
		free(back);
	}

	/* A burst: the first 1000 write() calls fail with EINTR one after the
	 * other, before any byte goes out; then each takes at most 1000 bytes. */
	{
		const char *path = grade_path("burst");
		int fd = grade_open(path, O_WRONLY | O_CREAT | O_TRUNC);
		unsigned char *back;
		size_t backlen;

		script_set(&wr_script, -1, 1000, 0, 0, 0);
		wr_script.eintr_first = 1000;
		hooks_script();
		naps_on();
		got = SEAM_CALL(write_full(fd, data, len));
		naps_off();
		hooks_off();
		close(fd);
		grade_check(naps == 0, NAPS_MSG("write_full", "write()", "TODO 3"), naps);
		grade_check(got == (ssize_t)len, "write_full(fd, buf, %zu) returned %s when its first "
			    "1000 write() calls failed with EINTR, one after the other, before any "
			    "byte went out; expected %zu: a storm of signals may interrupt write() any "
			    "number of times in a row, and each EINTR only means \"call it again\": "
			    "no limit on the EINTRs in all, nor on those in a row (lesson: \"EINTR "
			    "and SA_RESTART\")", len, grade_errno_str(got), len);
		back = grade_slurp(path, &backlen);
		grade_check(back != NULL && backlen == len, "the file holds %zu bytes after "
			    "write_full of %zu", back ? backlen : 0, len);
		grade_check_same(back, data, len, "write_full after 1000 EINTRs in a row");
		free(back);
	}
	free(data);
}

/*
 * The calling thread's signal mask after a call, against the one before it:
 * 0 if the same, else the first signal whose blocked state changed. A module
 * may block a signal for a moment, but what it blocks it must unblock on
 * every way out, or the program's handler for it never runs again.
 */
static int mask_changed(const sigset_t *before)
{
	sigset_t now;

	pthread_sigmask(SIG_BLOCK, NULL, &now);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(before, sig) != sigismember(&now, sig))
			return sig;
	return 0;
}

static const char *mask_state(int sig)
{
	sigset_t now;

	pthread_sigmask(SIG_BLOCK, NULL, &now);
	return sigismember(&now, sig) == 1 ? "blocked" : "unblocked";
}

GRADE_TEST(write_full, reader_gone_epipe, 1,
	   "write_full returns -EPIPE when the pipe has no reader, and leaves the thread's "
	   "signal mask as it found it",
	   "TODO 3: return -errno for errors other than EINTR; man 2 write, EPIPE. The grader "
	   "ignores SIGPIPE, so nothing needs blocking (lesson: \"What read and write "
	   "promise\")")
{
	char buf[100] = { 0 };
	int p[2], sig;
	ssize_t got;
	sigset_t before;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	fault_pipe(p, 0);
	close(p[0]);
	got = SEAM_CALL(write_full(p[1], buf, sizeof(buf)));
	grade_check(got == -EPIPE, "write_full to a pipe without reader returned %s, expected "
		    "-EPIPE (%d)", grade_errno_str(got), -EPIPE);
	close(p[1]);
	sig = mask_changed(&before);
	grade_check(sig == 0, "write_full to a pipe without reader returned -EPIPE and left "
		    "signal %d (%s) %s in the calling thread, which it had found %s: the "
		    "signal mask is the program's. Whatever write_full blocks for a moment it "
		    "must unblock before it returns, on every way out, or the program's handler "
		    "never runs again; here nothing needs blocking at all: the grader ignores "
		    "SIGPIPE, and a program that does not gets the signal from write(2) as it "
		    "should (TODO 3; man 2 write, EPIPE; man 7 signal)", sig, strsignal(sig),
		    mask_state(sig), sigismember(&before, sig) == 1 ? "blocked" : "unblocked");
}

/* A full non-blocking pipe (its read end eagain_first.rd): write() fails
 * with EAGAIN. A write_full that writes again, or waits with poll() for
 * room, finds the pipe drained first, so that it ends: the counts show it. */
static struct eagain_first {
	int rd;
	long calls, polls;
} eagain_first;

static void eagain_first_drain(void)
{
	char sink[4096];

	while (SEAM_REAL(read)(eagain_first.rd, sink, sizeof(sink)) > 0)
		;
}

static ssize_t eagain_first_write(int fd, const void *buf, size_t n)
{
	if (++eagain_first.calls > 1)
		eagain_first_drain();
	return SEAM_REAL(write)(fd, buf, n);
}

/* A pause before the answer is a wait too, even with no write after it: the
 * caller of a non-blocking descriptor asked for none. */
WAIT_HOOKS(eagain_first, eagain_first.polls, eagain_first_drain)

GRADE_TEST(write_full, error_after_progress, 2,
	   "write_full returns -errno when write() fails after some bytes went out (ENOSPC, "
	   "EAGAIN, EPIPE), and -EAGAIN at once on a full non-blocking pipe",
	   "TODO 3: an error after a short write is the answer: return -errno, not the bytes "
	   "so far; EAGAIN on a non-blocking descriptor is reported, never retried "
	   "(lesson: \"EAGAIN: when the descriptor is non-blocking\")")
{
	static const int errs[] = { ENOSPC, EAGAIN, EPIPE };
	unsigned char *data = grade_random_bytes(20000);
	int p[2];
	ssize_t got;
	struct seam_heap heap;

	seam_heap_usage(&heap);
	for (int i = 0; i < 3; i++) {
		int fd = grade_open(grade_path("out"), O_WRONLY | O_CREAT | O_TRUNC);

		/* write() takes 1000 bytes, then 1000, then fails. */
		script_set(&wr_script, -1, 1000, 0, 3, errs[i]);
		hooks_script();
		got = SEAM_CALL(write_full(fd, data, 10000));
		hooks_off();
		grade_check(got == -errs[i], "write() returned 1000, 1000, then -1 with errno %s; "
			    "write_full returned %s, expected %s%s", grade_errno_str(-errs[i]) + 1,
			    grade_errno_str(got), grade_errno_str(-errs[i]), errs[i] == EPIPE ?
			    ": a reader that left part way is an error like any other; the bytes "
			    "it took are not what the caller asked for (blocking.h: \"An error "
			    "after a short write is still -errno\")" : "");
		grade_check(wr_script.after_fail == 0, "write_full called write() %ld more time(s) "
			    "after it failed with %s: report the error at once", wr_script.after_fail,
			    grade_errno_str(-errs[i]) + 1);
		close(fd);
	}

	/* The real thing: a non-blocking 4 KiB pipe takes 4096 bytes, then EAGAIN. */
	fault_pipe(p, 4096);
	grade_check(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s", strerror(errno));
	got = SEAM_CALL(write_full(p[1], data, 20000));
	grade_check(got == -EAGAIN, "write_full of 20000 bytes to a non-blocking pipe that holds "
		    "4096 returned %s, expected -EAGAIN", grade_errno_str(got));

	/* The same pipe, full: the very first write() fails with EAGAIN, before
	 * any byte went out. A second write(), or a poll() for room, finds the
	 * pipe drained by the harness, so a loop that waits ends. */
	grade_check(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s", strerror(errno));
	while (SEAM_REAL(write)(p[1], data, 1) > 0)
		;  /* full to the last byte, whatever the call above left in it */
	grade_check(errno == EAGAIN, "harness: cannot fill the pipe: %s", strerror(errno));
	eagain_first = (struct eagain_first){ .rd = p[0] };
	seam_hook_write = eagain_first_write;
	eagain_first_wait_hooks();
	got = SEAM_CALL(write_full(p[1], data, 100));
	seam_hook_write = NULL;
	seam_hook_poll = NULL;
	seam_hook_ppoll = NULL;
	seam_hook_nanosleep = NULL;
	seam_hook_usleep = NULL;
	seam_hook_sleep = NULL;
	seam_hook_clock_nanosleep = NULL;
	grade_check(got == -EAGAIN && eagain_first.calls == 1 && eagain_first.polls == 0,
		    "write_full(fd, buf, 100) on a full non-blocking pipe returned %s after %ld "
		    "write() call(s) and %ld wait(s) (poll, ppoll, sleep, usleep, nanosleep, "
		    "clock_nanosleep); expected -EAGAIN after one write() and "
		    "no wait, not even a pause before the answer: EAGAIN before any byte went out is the answer too, as read_full's on "
		    "an empty pipe (01.06); report it at once, and the caller decides whether and "
		    "how to wait (chapter 04's epoll) (TODO 3; blocking.h: \"EAGAIN is reported, "
		    "never retried\")", grade_errno_str(got), eagain_first.calls, eagain_first.polls);
	grade_check_heap(&heap, "write_full, whose write() failed part way (ENOSPC, EAGAIN, "
			 "EPIPE) or at once (EAGAIN) (TODO 3),");
	close(p[0]);
	close(p[1]);
	free(data);
}

GRADE_TEST(write_full, beyond_4gib, 1,
	   "write_full of 3 GiB and of 5 GiB: the count goes past 2 and 4 GiB (no data moves)",
	   "TODO 3: keep the count in a size_t: an int or an unsigned wraps past 2 or 4 GiB; "
	   "each write(2) moves at most 0x7ffff000 bytes (write(2), NOTES)")
{
	static const unsigned long long lens[] = { 3 * GIB, 5 * GIB + 7 };
	char *base = reserve(5 * GIB + 4096);
	int fd = grade_open(grade_path("out"), O_WRONLY | O_CREAT | O_TRUNC);

	for (int i = 0; i < 2; i++) {
		ssize_t got;

		/* The device takes exactly lens[i] bytes, then is full. */
		pretend_set(base, 0, lens[i]);
		seam_hook_write = pretend_write;
		got = SEAM_CALL(write_full(fd, base, (size_t)lens[i]));
		seam_hook_write = NULL;
		grade_check(got == (ssize_t)lens[i], "write_full(fd, buf, %llu) returned %s after "
			    "%ld write() calls, expected %llu", lens[i], grade_errno_str(got),
			    pretend.calls, lens[i]);
		grade_check(pretend.done == lens[i], "write_full(fd, buf, %llu) returned %llu, but "
			    "its %ld write() calls took %llu bytes in all: return len only once "
			    "write(2) has taken every byte", lens[i], lens[i], pretend.calls,
			    pretend.done);
	}
	unreserve(base, 5 * GIB + 4096);
	close(fd);
}

GRADE_TEST(edges, length_zero, 1,
	   "len 0 returns 0 even with a bad descriptor or a NULL buffer; a negative offset is "
	   "still -EINVAL",
	   "TODOs 1-3: with len == 0 there is nothing to do: return 0 before calling read, "
	   "pread or write (a do-while loop calls them once anyway), and before any check of "
	   "your own of fd or buf (NULL with len 0 is no error: read(2) takes it too); "
	   "pread_full checks offset < 0 first (blocking.h; lesson: \"The exercise\")")
{
	char buf[1];
	ssize_t r = SEAM_CALL(read_full(-1, buf, 0));
	ssize_t p = SEAM_CALL(pread_full(-1, buf, 0, 0));
	ssize_t w = SEAM_CALL(write_full(-1, buf, 0));
	ssize_t neg = SEAM_CALL(pread_full(-1, buf, 0, -1));

	grade_check(r == 0, "read_full(-1, buf, 0) returned %s, expected 0", grade_errno_str(r));
	grade_check(p == 0, "pread_full(-1, buf, 0, 0) returned %s, expected 0", grade_errno_str(p));
	grade_check(w == 0, "write_full(-1, buf, 0) returned %s, expected 0", grade_errno_str(w));
	grade_check(neg == -EINVAL, "pread_full(-1, buf, 0, -1) returned %s, expected -EINVAL",
		    grade_errno_str(neg));

	/* Nothing to move, nowhere to put it: a NULL buffer with len 0, as an
	 * empty request of a batch may have (n == 0 takes reqs == NULL too). */
	{
		int fd = grade_open(grade_make_file("f", "0123456789", 10), O_RDWR);

		r = SEAM_CALL(read_full(fd, NULL, 0));
		p = SEAM_CALL(pread_full(fd, NULL, 0, 3));
		w = SEAM_CALL(write_full(fd, NULL, 0));
		close(fd);
		grade_check(r == 0 && p == 0 && w == 0, "with buf NULL and len 0, read_full "
			    "returned %s, pread_full %s and write_full %s; expected 0 from each: "
			    "len 0 asks for nothing, and a NULL buffer of 0 bytes is as good as any "
			    "(read(2) takes it too); return 0 for len 0 before any check of buf of "
			    "your own (lesson: \"The exercise\", \"All three\")", grade_errno_str(r),
			    grade_errno_str(p), grade_errno_str(w));
	}
}

/* ------------------------------------------------------------------ copy_file */

/* copy_file moves data with read(2) and write(2) through its buffer only. */
/*
 * close() of the destination failing: on a local disk it never does, so
 * the harness closes the destination's descriptor behind copy_file's back,
 * and copy_file's own close() then fails (EBADF), standing in for the
 * delayed write error that close(2) reports on NFS or a full quota.
 */
static struct {
	const char *dst;
	unsigned long long size, written;
	int closed;          /* the descriptor the harness closed, or -1 */
	bool closed_again;   /* copy_file's own close of it came           */
} behind = { .closed = -1 };

/* Every close copy_file makes: one of a descriptor that is not open means
 * a descriptor closed twice (with the number reused meanwhile, it would
 * close someone else's file). The one exception: the destination the
 * harness closed behind copy_file's back, which copy_file closes once. */
static int close_open_only(int fd)
{
	/* close(-1) is a harmless EBADF (no descriptor has a negative number):
	 * a cleanup that closes "whatever is open, -1 if nothing" is no
	 * double close. */
	if (fd >= 0 && fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
		if (fd == behind.closed && !behind.closed_again)
			behind.closed_again = true;
		else
			seam_violate("copy_file closed descriptor %d, which was not open: a "
				     "descriptor closed twice? Close each one once, on every path "
				     "(TODO 4; close(2): do not retry close after an error)", fd);
	}
	return SEAM_REAL(close)(fd);
}

/* close(2) of the destination (the file at failing_close.path) that really
 * closes it, as Linux always does, and then reports failing_close.err: a
 * delayed write error (EIO) or a signal (EINTR). Its descriptor lands in
 * failing_close.fd; a second close of it is close_open_only's violation. */
static struct {
	const char *path;
	int err;
	int fd;
} failing_close = { .fd = -1 };

static int close_failing_dst(int fd)
{
	bool is_dst = failing_close.fd < 0 && fault_fd_on_file(failing_close.path) == fd;
	int r = close_open_only(fd);

	if (is_dst && r == 0) {
		failing_close.fd = fd;
		errno = failing_close.err;
		return -1;
	}
	return r;
}

static void fail_dst_close(const char *path, int err)
{
	failing_close.path = path;
	failing_close.err = err;
	failing_close.fd = -1;
	behind.closed = -1;
	seam_hook_close = close_failing_dst;
}

/* A close that succeeds and still changes errno, as POSIX allows any
 * successful call to do (errno(3)): errno read after it is not the errno
 * of the call that failed before. */
static int close_dirtying_errno(int fd)
{
	int r = close_open_only(fd);

	if (r == 0)
		errno = EINTR;
	return r;
}

static void refuse_kernel_copies(void)
{
	const char *why = "copy_file must move the data through its own buffer with "
			  "read(2) and write(2) (TODO 4)";

	seam_refuse(SEAM_sendfile, why);
	seam_refuse(SEAM_sendfile64, why);
	seam_refuse(SEAM_splice, why);
	seam_refuse(SEAM_copy_file_range, why);
	seam_refuse(SEAM_mmap, why);
	seam_refuse(SEAM_mmap64, why);
	seam_hook_close = close_open_only;
}

/* A read() that, the first time, runs a whole other copy_file (of another
 * file, to another destination) before it returns, as another thread's
 * copy would run meanwhile: each call's buffer, count and descriptors must
 * be its own. */
static struct {
	const char *src, *dst;
	size_t bufsize;
	off_t got;
	int state;   /* 0: not yet, 1: running, 2: done */
} nested_copy;

static ssize_t nesting_copy_read(int fd, void *buf, size_t n)
{
	ssize_t k = SEAM_REAL(read)(fd, buf, n);
	int saved = errno;

	if (nested_copy.state == 0) {
		nested_copy.state = 1;
		nested_copy.got = copy_file(nested_copy.src, nested_copy.dst, nested_copy.bufsize);
		nested_copy.state = 2;
	}
	errno = saved;
	return k;
}

GRADE_TEST(copy_file, byte_for_byte, 3,
	   "copy_file copies files of odd sizes through odd buffer sizes, byte for byte, also "
	   "when another copy_file runs in between",
	   "TODO 4: every byte of the source reaches the destination, the last partial buffer "
	   "and the empty file included; the buffer, the count and the descriptors are the "
	   "call's own (local variables and malloc: another thread may copy meanwhile) "
	   "(blocking.h, copy_file; lesson: \"End of file\")")
{
	static const struct { size_t size, bufsize; } cases[] = {
		{ 0, 4096 }, { 1, 1 }, { 1000, 7 }, { 4095, 4096 }, { 4096, 4096 },
		{ 4097, 4096 }, { 65537, 65536 }, { 1000003, 1 << 20 }, { 300001, 333 },
	};

	refuse_kernel_copies();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t size = cases[i].size, backlen;
		unsigned char *data = grade_random_bytes(size), *back;
		const char *src = grade_make_file("src", data, size), *dst = grade_path("dst");
		off_t got = SEAM_CALL(copy_file(src, dst, cases[i].bufsize));

		grade_check(got == (off_t)size, "copy_file of a %zu-byte file with bufsize %zu "
			    "returned %s, expected %zu", size, cases[i].bufsize,
			    grade_errno_str((ssize_t)got), size);
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL, "copy_file returned %lld but %s does not exist",
			    (long long)got, dst);
		grade_check(backlen == size, "the copy has %zu bytes, the source %zu (bufsize %zu)",
			    backlen, size, cases[i].bufsize);
		grade_check_same(back, data, size, "copy_file");
		free(back);
		free(data);
	}

	/* Two callers, as two threads would be: another copy_file (3000 bytes,
	 * bufsize 700) runs to its end right after the first read() of this one
	 * (6000 bytes, bufsize 1000), before that read's bytes are written. */
	{
		char src[PATH_MAX], dst[PATH_MAX], osrc[PATH_MAX], odst[PATH_MAX];
		unsigned char *data = grade_random_bytes(6000), *other = grade_random_bytes(3000);
		unsigned char *back;
		size_t backlen;
		int fds = fault_count_fds();
		ssize_t diff;
		char how[64] = "";
		off_t got;

		snprintf(src, sizeof(src), "%s", grade_make_file("mine", data, 6000));
		snprintf(osrc, sizeof(osrc), "%s", grade_make_file("other", other, 3000));
		snprintf(dst, sizeof(dst), "%s", grade_path("mine-copy"));
		snprintf(odst, sizeof(odst), "%s", grade_path("other-copy"));
		nested_copy.src = osrc;
		nested_copy.dst = odst;
		nested_copy.bufsize = 700;
		nested_copy.got = 0;
		nested_copy.state = 0;
		seam_hook_read = nesting_copy_read;
		got = SEAM_CALL(copy_file(src, dst, 1000));
		seam_hook_read = NULL;
		grade_check(nested_copy.state == 2, "copy_file(src, dst, 1000) returned %s without "
			    "calling read(2)", grade_errno_str((ssize_t)got));
		back = grade_slurp(odst, &backlen);
		grade_check(nested_copy.got == 3000 && back != NULL && backlen == 3000 &&
			    grade_first_diff(back, other, 3000) < 0, "copy_file(src2, dst2, 700), run "
			    "in the middle of another copy_file, returned %s and its copy has %zu "
			    "bytes (or the wrong ones), expected 3000 and 3000",
			    grade_errno_str((ssize_t)nested_copy.got), back ? backlen : 0);
		free(back);
		back = grade_slurp(dst, &backlen);
		diff = back && backlen == 6000 ? grade_first_diff(back, data, 6000) : -1;
		if (diff >= 0)
			snprintf(how, sizeof(how), ", byte %zd of it wrong,", diff);
		grade_check(got == 6000 && back != NULL && backlen == 6000 && diff < 0 &&
			    fault_count_fds() == fds,
			    "copy_file(src, dst, 1000) of a 6000-byte file returned %s, its copy has "
			    "%zu bytes%s and %d descriptor(s) stayed open, when another "
			    "copy_file (3000 bytes to another file, as another thread's would be) ran "
			    "to its end between its first read() and the write of those bytes; "
			    "expected 6000, the same bytes and none: the buffer, the total and the "
			    "descriptors belong to the call (local variables, a buffer malloc'd per "
			    "call), never to a static or global that every call shares, not even "
			    "\"for small buffers\" (TODO 4; blocking.h: \"Each call keeps its progress "
			    "to itself\")", grade_errno_str((ssize_t)got), back ? backlen : 0, how,
			    fault_count_fds() - fds);
		free(back);
		free(data);
		free(other);
	}
}

static size_t largest_read;
static ssize_t recording_read(int fd, void *buf, size_t n)
{
	if (n > largest_read)
		largest_read = n;
	return SEAM_REAL(read)(fd, buf, n);
}

GRADE_TEST(copy_file, uses_the_buffer_size, 2,
	   "copy_file reads in bufsize pieces: 100 reads of at most 1000 bytes for 100000 bytes, "
	   "through one buffer allocated once",
	   "TODO 4: one buffer of bufsize bytes; each read(2) asks for at most bufsize "
	   "(no bigger buffer, no byte-at-a-time loop, no sendfile)")
{
	const size_t size = 100000, bufsize = 1000;
	unsigned char *data = grade_random_bytes(size);
	const char *src = grade_make_file("src", data, size);
	struct seam_heap before, after;
	off_t got;
	long reads;

	refuse_kernel_copies();
	seam_hook_read = recording_read;
	seam_heap_usage(&before);
	got = SEAM_CALL(copy_file(src, grade_path("dst"), bufsize));
	seam_heap_usage(&after);
	seam_hook_read = NULL;
	reads = seam_calls(SEAM_read);
	grade_check(got == (off_t)size, "copy_file returned %s, expected %zu",
		    grade_errno_str((ssize_t)got), size);
	grade_check(largest_read <= bufsize, "copy_file asked read() for %zu bytes with "
		    "bufsize %zu", largest_read, bufsize);
	grade_check(reads >= 100 && reads <= 102, "copy_file made %ld read() calls for %zu "
		    "bytes with bufsize %zu; expected 100 to 102", reads, size, bufsize);
	/* One buffer for the whole copy: a malloc per block (and its free)
	 * costs a system call per block for a big bufsize (glibc serves large
	 * blocks with mmap and munmap) and can fail with -ENOMEM half way. */
	grade_check(after.allocs - before.allocs < 10, "copy_file allocated memory %ld times "
		    "for a copy of %zu bytes through a buffer of %zu (%ld blocks): the copy goes "
		    "through one buffer of bufsize bytes, allocated once before the loop and "
		    "freed once after it, not one per block (TODO 4; blocking.h: \"through one "
		    "buffer of bufsize bytes\"; lesson: \"Cleaning up\")",
		    after.allocs - before.allocs, size, bufsize, (long)(size / bufsize));
	free(data);
}

/* copy_file only writes the destination: a descriptor on it open for
 * reading too (O_RDWR) fails with EACCES on a file of mode 0200 for every
 * user but root, who may open anything (the sandbox drops that power; this
 * sees it where it does not). */
static ssize_t write_only_write(int fd, const void *buf, size_t n)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_ACCMODE) != O_WRONLY)
		seam_violate("copy_file wrote to a destination it had opened for reading too "
			     "(%s): a destination that is writable but not readable (mode 0200) "
			     "cannot be opened that way; open it O_WRONLY",
			     (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "not O_WRONLY");
	return SEAM_REAL(write)(fd, buf, n);
}

/* copy_file only reads the source: a descriptor on it open for writing too
 * fails with EACCES on a file of mode 0400 (and with EROFS on a read-only
 * mount) for every user but root; the access mode shows it under root too. */
static ssize_t read_only_read(int fd, void *buf, size_t n)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
		seam_violate("copy_file read the source through a descriptor opened for writing "
			     "too (%s): a source that may be read but not written (mode 0400, a "
			     "file on a read-only mount) cannot be opened that way; open it "
			     "O_RDONLY (TODO 4; man 2 open, the access modes)",
			     (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "not O_RDONLY");
	return SEAM_REAL(read)(fd, buf, n);
}

static off_t copy_onto_fifo(const char *src, const char *fifo, size_t bufsize, size_t cap,
			    bool leave, bool *came);

/* open(2) of a file someone else owns, as the kernel answers an ordinary
 * user: O_NOATIME is for the file's owner (and root) only, EPERM for anyone
 * else (open(2), EPERM). The file at foreign_src plays such a file. */
static const char *foreign_src;

static int foreign_src_verdict(const char **path, int flags)
{
	if (foreign_src && !strcmp(*path, foreign_src) && (flags & O_NOATIME))
		return EPERM;
	return 0;
}
static struct {
	unsigned char *buf;
	size_t len, cap;
	bool leave;     /* the reader leaves (closes) once it has cap bytes */
} fifo_sink;

GRADE_TEST(copy_file, truncates_destination, 1,
	   "copy_file truncates a longer existing destination in place, also one writable but "
	   "not readable, from a read-only source someone else owns; and copies onto /dev/null, "
	   "from /dev/null, onto a FIFO and through symbolic links (source and destination)",
	   "TODO 4: an existing destination must be emptied when it is opened (O_TRUNC, the same "
	   "file: no unlink, so its links and mode stay), and opened for writing only (read-write "
	   "fails on a file of mode 0200); the source is opened for reading only (a file of mode "
	   "0400, perhaps not yours: no O_NOATIME); a symbolic link, as the destination or the "
	   "source, is followed, as open(2) and cp do (no "
	   "O_NOFOLLOW); a FIFO as the destination waits in open() for its reader and has no "
	   "offsets: no O_NONBLOCK, and write(2), not pwrite: man 2 open, O_TRUNC and the "
	   "access modes; man 7 fifo; lesson: \"Cleaning up\"")
{
	unsigned char *old = grade_random_bytes(50000), *data = grade_random_bytes(100), *back;
	const char *src = grade_make_file("src", data, 100);
	const char *dst = grade_make_file("dst", old, 50000), *link_path = grade_path("dst-link");
	struct stat was, now;
	off_t got;
	size_t backlen;

	refuse_kernel_copies();
	/* The destination may be written, not read: copy_file needs no more.
	 * It has a second name (a hard link), which must see the copy. The
	 * source may be read, not written. */
	grade_check(chmod(dst, 0200) == 0 && chmod(src, 0400) == 0, "harness: chmod: %s",
		    strerror(errno));
	grade_check(link(dst, link_path) == 0 && stat(dst, &was) == 0, "harness: link: %s",
		    strerror(errno));
	seam_hook_write = write_only_write;
	seam_hook_read = read_only_read;
	/* ... and it belongs to someone else (played by the open seams). */
	foreign_src = src;
	open_hooks_install(foreign_src_verdict);
	got = SEAM_CALL(copy_file(src, dst, 4096));
	open_hooks_remove();
	foreign_src = NULL;
	hooks_off();
	grade_check(stat(dst, &now) == 0, "copy_file returned %s and the destination is gone: %s",
		    grade_errno_str((ssize_t)got), strerror(errno));
	chmod(link_path, 0600);
	grade_check(chmod(dst, 0600) == 0, "harness: chmod: %s", strerror(errno));
	grade_check(got == 100, "copy_file from a source of mode 0400 (readable, not writable) "
		    "that another user owns, onto an existing destination of mode 0200 (writable, "
		    "not readable) returned %s, expected 100%s", grade_errno_str((ssize_t)got),
		    got == -EACCES ? ": open the source O_RDONLY and the destination O_WRONLY, "
		    "each for what copy_file does with it" : got == -EPERM ? ": open(2) refuses "
		    "O_NOATIME on a file you do not own (EPERM: man 2 open, O_NOATIME), and a "
		    "source that may be read need not be yours; open it plainly O_RDONLY" : "");
	grade_check(now.st_ino == was.st_ino && now.st_dev == was.st_dev, "copy_file replaced "
		    "the existing destination by a new file (inode %llu, was %llu): open the file "
		    "that is there with O_TRUNC and write into it; no unlink or rename first, which "
		    "loses the file's other names (hard links), its mode and its owner (man 2 open, "
		    "O_TRUNC)", (unsigned long long)now.st_ino, (unsigned long long)was.st_ino);
	grade_check((now.st_mode & 07777) == 0200, "the existing destination had mode 0200 and "
		    "has %04o after copy_file: the mode argument of open(2) is for a file that "
		    "O_CREAT creates; an existing file keeps its mode (do not chmod it)",
		    (unsigned)(now.st_mode & 07777));
	back = grade_slurp(dst, &backlen);
	grade_check(backlen == 100, "the destination has %zu bytes after copying 100 bytes over "
		    "a 50000-byte file: it was not truncated", backlen);
	grade_check_same(back, data, 100, "copy_file");
	free(back);
	back = grade_slurp(link_path, &backlen);
	grade_check(back != NULL && backlen == 100, "the destination's other name (a hard link) "
		    "has %zu bytes after copying 100 bytes: copy_file must write into the existing "
		    "file, not a new one", back ? backlen : 0);
	grade_check_same(back, data, 100, "the destination's hard link");
	free(back);

	/* A destination given by a symbolic link to an existing file: open(2)
	 * follows it, as cp does, and the file it names gets the copy. */
	{
		char sym[PATH_MAX];
		struct stat lst;

		snprintf(sym, sizeof(sym), "%s", grade_path("dst-sym"));
		grade_check(symlink(dst, sym) == 0, "harness: symlink: %s", strerror(errno));
		int fd = grade_open(dst, O_WRONLY | O_TRUNC);

		/* The file behind the link holds 50000 old bytes again. */
		grade_check(SEAM_REAL(pwrite)(fd, old, 50000, 0) == 50000, "harness: pwrite: %s",
			    strerror(errno));
		close(fd);
		got = SEAM_CALL(copy_file(src, sym, 4096));
		grade_check(got == 100, "copy_file onto a symbolic link to an existing file "
			    "returned %s, expected 100: the destination may be any path open(2) "
			    "opens, and open follows a symbolic link to the file it names, as cp "
			    "does (O_NOFOLLOW refuses it with ELOOP: man 2 open, O_NOFOLLOW)",
			    grade_errno_str((ssize_t)got));
		grade_check(lstat(sym, &lst) == 0 && S_ISLNK(lst.st_mode), "after copy_file onto "
			    "a symbolic link, the link is gone or no link any more: write into the "
			    "file it names; no unlink, rename or new file in its place");
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == 100, "after copy_file onto a symbolic link "
			    "to it, the file has %zu bytes, expected 100", back ? backlen : 0);
		grade_check_same(back, data, 100, "the file behind the symbolic link");
		free(back);
	}

	/* A source given by a symbolic link (one to the link, even): open(2)
	 * follows links to the file they name, as cp does for its source. */
	{
		char link1[PATH_MAX], link2[PATH_MAX], to[PATH_MAX];

		snprintf(link1, sizeof(link1), "%s", grade_path("src-sym"));
		snprintf(link2, sizeof(link2), "%s", grade_path("src-sym-sym"));
		snprintf(to, sizeof(to), "%s", grade_path("from-sym"));
		grade_check(symlink(src, link1) == 0 && symlink(link1, link2) == 0,
			    "harness: symlink: %s", strerror(errno));
		got = SEAM_CALL(copy_file(link2, to, 4096));
		grade_check(got == 100, "copy_file from a symbolic link (to a link to a 100-byte "
			    "file) returned %s, expected 100: the source may be any path open(2) "
			    "opens, and open follows symbolic links to the file they name, as cp "
			    "does for its source (O_NOFOLLOW refuses a link with ELOOP: man 2 open, "
			    "O_NOFOLLOW; blocking.h: \"src and dst may be any file open(2) "
			    "opens\")", grade_errno_str((ssize_t)got));
		back = grade_slurp(to, &backlen);
		grade_check(back != NULL && backlen == 100, "after copy_file from a symbolic link "
			    "to a 100-byte file, the copy has %zu bytes", back ? backlen : 0);
		grade_check_same(back, data, 100, "the copy of the file behind the symbolic link");
		free(back);
	}

	/* A destination that is no regular file: /dev/null takes the bytes;
	 * O_TRUNC does nothing to it (ftruncate(2) would fail with EINVAL). */
	{
		long reads = seam_calls(SEAM_read), writes = seam_calls(SEAM_write);

		got = SEAM_CALL(copy_file(src, "/dev/null", 4096));
		reads = seam_calls(SEAM_read) - reads;
		writes = seam_calls(SEAM_write) - writes;
		grade_check(got == 100, "copy_file onto /dev/null returned %s, expected 100: "
			    "the destination may be any file open(2) opens for writing, as cp's "
			    "may; O_TRUNC in open's flags empties an existing regular file and "
			    "leaves a device alone, where a separate ftruncate(2) fails with EINVAL "
			    "(man 2 open, O_TRUNC; man 2 ftruncate, ERRORS)",
			    grade_errno_str((ssize_t)got));
		/* /dev/null is a destination like any other: the 100 bytes still
		 * go through read() and write(), not around them. */
		grade_check(reads >= 1 && writes >= 1, "copy_file onto /dev/null of a 100-byte "
			    "file made %ld read() and %ld write() calls: the bytes it counts must "
			    "really be read from the source and written to the destination, "
			    "whatever the destination is (a device, a FIFO, a file); no shortcut "
			    "for /dev/null (TODO 4; blocking.h: \"moves the data through a buffer "
			    "... with read(2) and write(2)\")", reads, writes);
	}

	/* A source that is no regular file either: /dev/null, a character
	 * device at its end at once (cp /dev/null FILE empties FILE). */
	{
		char emptied[PATH_MAX];
		struct stat st;

		snprintf(emptied, sizeof(emptied), "%s", grade_make_file("emptied", old, 1000));
		got = SEAM_CALL(copy_file("/dev/null", emptied, 4096));
		grade_check(got == 0 && stat(emptied, &st) == 0 && st.st_size == 0,
			    "copy_file from /dev/null onto a 1000-byte file returned %s and left "
			    "it %lld bytes long, expected 0 and 0: the source may be any file "
			    "open(2) opens for reading, as cp's may, a device too (/dev/null reads "
			    "as end of file at once): no test of its type (fstat), copy until read "
			    "says end of file (TODO 4; blocking.h: \"src and dst may be any file "
			    "open(2) opens\")", grade_errno_str((ssize_t)got),
			    stat(emptied, &st) == 0 ? (long long)st.st_size : -1LL);
	}

	/* A FIFO as the destination (cp SRC fifo), whose reader comes only once
	 * copy_file waits for it in open(): 100000 bytes, more than the FIFO
	 * holds, so that writes wait for the reader too; then with a reader that
	 * leaves early. A FIFO has no file offsets (pwrite fails with ESPIPE),
	 * and its open for writing with O_NONBLOCK fails (ENXIO) while no
	 * reader is there. */
	{
		const size_t len = 100000;
		unsigned char *more = grade_random_bytes(len);
		char fifo[PATH_MAX];
		bool came;

		src = grade_make_file("fifo-src", more, len);
		snprintf(fifo, sizeof(fifo), "%s", grade_path("dst-fifo"));
		got = copy_onto_fifo(src, fifo, 4096, len + 1, false, &came);
		grade_check(came, "copy_file onto a FIFO (made by mkfifo) whose reader comes only "
			    "once copy_file waits for it in open() returned %s and never waited "
			    "there: opening a FIFO for writing waits until a reader opens it "
			    "(fifo(7)); with O_NONBLOCK open fails at once with ENXIO instead. Open "
			    "the destination O_WRONLY | O_CREAT | O_TRUNC, without O_NONBLOCK "
			    "(TODO 4; blocking.h: \"src and dst may be any file open(2) opens\")",
			    grade_errno_str((ssize_t)got));
		grade_check(got == (off_t)len && fifo_sink.len == len, "copy_file of %zu bytes "
			    "onto a FIFO whose reader came returned %s, and the reader received %zu "
			    "bytes; expected %zu and %zu: a FIFO or a pipe has no file offsets, so "
			    "write the destination with write(2), which goes on where the last one "
			    "stopped (pwrite fails with ESPIPE: man 2 pread and man 2 lseek, "
			    "ERRORS), and finish every short write (TODO 4; blocking.h: \"moves the "
			    "data ... with read(2) and write(2)\")", len, grade_errno_str((ssize_t)got),
			    fifo_sink.len, len, len);
		grade_check_same(fifo_sink.buf, more, len, "the bytes the FIFO's reader received");
		free(fifo_sink.buf);

		/* Again, and the reader leaves after 1000 bytes: the FIFO holds at
		 * most 64 KiB, so a later write finds no reader (EPIPE; the
		 * grader ignores SIGPIPE), and the copy failed. */
		snprintf(fifo, sizeof(fifo), "%s", grade_path("dst-fifo-left"));
		got = copy_onto_fifo(src, fifo, 4096, 1000, true, &came);
		free(fifo_sink.buf);
		grade_check(came && got == -EPIPE, "copy_file of %zu bytes onto a FIFO whose "
			    "reader left after 1000 bytes returned %s, expected -EPIPE: a write that "
			    "finds no reader fails with EPIPE, and a write that fails mid-copy makes "
			    "the copy's result its -errno; the copy did not reach its destination, "
			    "whoever is to blame (cp reports it too) (TODO 4; blocking.h: \"a read or "
			    "write that fails mid-copy makes the result its -errno\"; man 2 write, "
			    "EPIPE)", len, grade_errno_str((ssize_t)got));
		free(more);
	}

	/* An existing destination of the source's very size, newer than the
	 * source, holding other bytes: it is still emptied and written. Sizes
	 * and times say nothing about the bytes (make's rule is not a copy). */
	{
		unsigned char *other = malloc(100);
		const char *from = grade_make_file("same-size-src", data, 100), *same;
		struct timespec later[2];

		grade_check(other != NULL, "harness: malloc");
		for (int i = 0; i < 100; i++)
			other[i] = data[i] ^ 0x5a;
		same = grade_make_file("same-size-newer", other, 100);
		clock_gettime(CLOCK_REALTIME, &later[0]);
		later[0].tv_sec += 3600;
		later[1] = later[0];
		grade_check(utimensat(AT_FDCWD, same, later, 0) == 0, "harness: utimensat: %s",
			    strerror(errno));
		got = SEAM_CALL(copy_file(from, same, 4096));
		back = grade_slurp(same, &backlen);
		grade_check(got == 100 && back != NULL && backlen == 100 &&
			    memcmp(back, data, 100) == 0, "copy_file of a 100-byte file onto an "
			    "existing 100-byte file that is newer than the source returned %s and "
			    "left %s: a copy writes every byte of the source, whatever the "
			    "destination's size and time say (no \"up to date\" shortcut: that is "
			    "make's rule, not cp's) (TODO 4; blocking.h: \"Copy the file at src to "
			    "dst\")", grade_errno_str((ssize_t)got), back == NULL ? "it unreadable" :
			    backlen != 100 ? "it another size" : memcmp(back, data, 100) == 0 ?
			    "the source's bytes" : "its old bytes");
		free(back);
		free(other);
	}
	free(old);
	free(data);
}

/* open(2) as the kernel answers an ordinary user (root, or a grader with
 * CAP_DAC_OVERRIDE, may open anything): the file at readonly_dst, of a mode
 * without write permission, cannot be opened for writing (EACCES). */
static const char *readonly_dst;

static int readonly_dst_verdict(const char **path, int flags)
{
	struct stat st;

	if (readonly_dst && !strcmp(*path, readonly_dst) && (flags & O_ACCMODE) != O_RDONLY &&
	    stat(*path, &st) == 0 && !(st.st_mode & 0222))
		return EACCES;
	return 0;
}

/* open(2) calls of the code under test since seam_reset(), every spelling. */
#define OPENS() seam_calls_sum(SEAM_open, SEAM_open64, SEAM_openat, SEAM_openat64, SEAM_COUNT)

GRADE_TEST(copy_file, errors, 2,
	   "copy_file: -ENOENT for a missing source (destination untouched) or directory, "
	   "-ENOTDIR, -EISDIR, -EACCES (destination untouched), -EINVAL for bufsize 0 "
	   "(nothing opened); -ENOENT for an empty path, and for a missing source onto a "
	   "directory; a source created after its -ENOENT is copied by the next call",
	   "TODO 4: return open(2)'s own -errno (man 2 open, ERRORS), an empty path's ENOENT "
	   "too; check bufsize first, before opening anything; open the source before the "
	   "destination, so that a missing source truncates nothing and its error is the "
	   "answer; a destination you may not write is an error, not a file to remove and "
	   "make again")
{
	unsigned char data[10] = "0123456789";
	char src[PATH_MAX];  /* grade_path's storage is reused after 8 calls */
	off_t got;

	snprintf(src, sizeof(src), "%s", grade_make_file("src", data, sizeof(data)));
	refuse_kernel_copies();
	seam_reset();
	got = SEAM_CALL(copy_file(grade_path("missing"), grade_path("dst"), 4096));
	grade_check(got == -ENOENT, "copy_file from a missing source returned %s, expected "
		    "-ENOENT", grade_errno_str((ssize_t)got));
	/* ENOENT is the answer, not a reason to try again: only EINTR (a
	 * signal ending a FIFO's wait) is worth another open. */
	grade_check(OPENS() <= 1, "copy_file from a missing source called open() %ld times; "
		    "expected once: when open(2) fails with anything but EINTR, that error is "
		    "the answer at once (ENOENT, EACCES, ENOTDIR ... are no pause of the "
		    "filesystem: another try, with or without a wait, only delays the answer "
		    "or copies a file that came later) (TODO 4; blocking.h: \"if it cannot be "
		    "opened, its error is the answer\"; lesson: \"EINTR and SA_RESTART\")",
		    OPENS());
	grade_check(access(grade_path("dst"), F_OK) != 0, "copy_file from a missing source "
		    "created the destination: open the source first, and the destination only "
		    "once the source is open (blocking.h)");

	/* An existing destination stays as it was when the source is missing. */
	{
		const char *old = grade_make_file("old", data, sizeof(data));
		unsigned char *back;
		size_t backlen;

		got = SEAM_CALL(copy_file(grade_path("missing"), old, 4096));
		grade_check(got == -ENOENT, "copy_file from a missing source onto an existing "
			    "file returned %s, expected -ENOENT", grade_errno_str((ssize_t)got));
		back = grade_slurp(old, &backlen);
		grade_check(back != NULL && backlen == sizeof(data), "copy_file from a missing "
			    "source left the existing destination with %zu bytes of its %zu: it "
			    "opened (and truncated) the destination before it knew the source "
			    "could be read; open the source first (blocking.h)",
			    back ? backlen : 0, sizeof(data));
		grade_check_same(back, data, sizeof(data), "the untouched destination");
		free(back);
	}
	/* A failed open says nothing about the next call: a source that was
	 * missing and has been created since is copied (no negative cache of
	 * paths in statics: each call keeps its state to itself). */
	{
		char late[PATH_MAX], late_dst[PATH_MAX];
		unsigned char *back;
		size_t backlen;

		snprintf(late, sizeof(late), "%s", grade_path("late"));
		snprintf(late_dst, sizeof(late_dst), "%s", grade_path("late-dst"));
		got = SEAM_CALL(copy_file(late, late_dst, 4096));
		grade_check(got == -ENOENT, "copy_file from a missing source returned %s, expected "
			    "-ENOENT", grade_errno_str((ssize_t)got));
		grade_make_file("late", data, sizeof(data));
		got = SEAM_CALL(copy_file(late, late_dst, 4096));
		grade_check(got == (off_t)sizeof(data), "copy_file from a source that was missing "
			    "in an earlier call and has been created since returned %s, expected %zu: "
			    "every call opens its source anew and takes open(2)'s answer of now; "
			    "remember nothing about a path (or anything else) in a static between "
			    "calls (TODO 4; blocking.h: \"Each call keeps its progress to itself\"; "
			    "lesson: \"Pitfalls\", the statics of pitfall 7)", grade_errno_str((ssize_t)got),
			    sizeof(data));
		back = grade_slurp(late_dst, &backlen);
		grade_check(back != NULL && backlen == sizeof(data), "copy_file from a source "
			    "created after an earlier -ENOENT left the destination with %zu bytes of "
			    "its %zu", back ? backlen : 0, sizeof(data));
		grade_check_same(back, data, sizeof(data), "the copy of a source created late");
		free(back);
	}
	/* A source that cannot be opened for another reason: its path goes
	 * through a regular file (root gets it too). open's errno is the answer. */
	{
		char bad_src[PATH_MAX + 16];

		snprintf(bad_src, sizeof(bad_src), "%s/x", src);
		got = SEAM_CALL(copy_file(bad_src, grade_path("dst"), 4096));
		grade_check(got == -ENOTDIR, "copy_file from \"src/x\", where src is a regular file, "
			    "returned %s, expected -ENOTDIR: the answer is the -errno open(2) gave "
			    "for the source, whatever it is, not a code of your own (man 2 open, "
			    "ERRORS, ENOTDIR)", grade_errno_str((ssize_t)got));
		grade_check(access(grade_path("dst"), F_OK) != 0, "copy_file from a source it "
			    "could not open created the destination (blocking.h)");
	}
	/* Two wrong at once: a missing source, and a destination that is a
	 * directory. The source is opened first, so its error is the answer;
	 * the destination is never looked at. */
	got = SEAM_CALL(copy_file(grade_path("missing"), grade_tmpdir(), 4096));
	grade_check(got == -ENOENT, "copy_file from a missing source onto a directory returned "
		    "%s, expected -ENOENT: the source is opened first, and when it cannot be "
		    "opened its error is the answer; the destination is not looked at (no stat "
		    "or check of it of your own before the source is open) (TODO 4; blocking.h: "
		    "\"src is opened first\")", grade_errno_str((ssize_t)got));
	/* An empty path names no file: open(2) fails with ENOENT for it
	 * (path_resolution(7), "Empty pathname"), and that is the answer. */
	got = SEAM_CALL(copy_file("", grade_path("dst"), 4096));
	grade_check(got == -ENOENT && access(grade_path("dst"), F_OK) != 0, "copy_file(\"\", "
		    "dst, 4096), an empty source path, returned %s%s; expected -ENOENT, open(2)'s "
		    "own answer for an empty path (path_resolution(7), \"Empty pathname\"), and "
		    "nothing created: pass the paths to open as they are, and return the -errno "
		    "open gives, no code of your own for a path you find odd (TODO 4; man 2 open, "
		    "ERRORS)", grade_errno_str((ssize_t)got), access(grade_path("dst"), F_OK) == 0 ?
		    " and created the destination" : "");
	got = SEAM_CALL(copy_file(src, "", 4096));
	grade_check(got == -ENOENT, "copy_file(src, \"\", 4096), an empty destination path, "
		    "returned %s, expected -ENOENT, open(2)'s own answer for an empty path "
		    "(path_resolution(7), \"Empty pathname\"; TODO 4)", grade_errno_str((ssize_t)got));

	/* bufsize 0 is refused before anything is opened: an existing destination
	 * keeps its bytes, a new one is not created. */
	{
		const char *old = grade_make_file("old0", data, sizeof(data));
		unsigned char *back;
		size_t backlen;

		got = SEAM_CALL(copy_file(src, old, 0));
		grade_check(got == -EINVAL, "copy_file with bufsize 0 returned %s, expected -EINVAL",
			    grade_errno_str((ssize_t)got));
		back = grade_slurp(old, &backlen);
		grade_check(back != NULL && backlen == sizeof(data), "copy_file with bufsize 0 "
			    "returned -EINVAL, but the existing destination has %zu bytes of its %zu "
			    "left: it was opened (and truncated) before the bad argument was seen; "
			    "check bufsize first, before opening anything (lesson: \"Cleaning up\", "
			    "the first row of the ladder)", back ? backlen : 0, sizeof(data));
		free(back);
		got = SEAM_CALL(copy_file(src, grade_path("dst0"), 0));
		grade_check(got == -EINVAL && access(grade_path("dst0"), F_OK) != 0, "copy_file "
			    "with bufsize 0 returned %s and %s the destination: -EINVAL, and nothing "
			    "created; check bufsize before opening anything (lesson: \"Cleaning "
			    "up\")", grade_errno_str((ssize_t)got),
			    access(grade_path("dst0"), F_OK) == 0 ? "created" : "did not create");

		/* Before the source too: bufsize is checked before anything is
		 * opened, so a missing source with bufsize 0 is -EINVAL. */
		seam_reset();
		got = SEAM_CALL(copy_file(grade_path("missing"), grade_path("dst0"), 0));
		grade_check(got == -EINVAL && seam_calls_sum(SEAM_open, SEAM_open64, SEAM_openat,
							     SEAM_openat64, SEAM_COUNT) == 0,
			    "copy_file(\"missing\", dst, 0) returned %s after %ld open() call(s); "
			    "expected -EINVAL and no open at all: bufsize is checked before anything "
			    "is opened, the source included (blocking.h; lesson: \"Cleaning up\", the "
			    "first row of the ladder)", grade_errno_str((ssize_t)got),
			    seam_calls_sum(SEAM_open, SEAM_open64, SEAM_openat, SEAM_openat64,
					   SEAM_COUNT));
	}
	/* A destination that exists and may not be written (mode 0444): open's
	 * EACCES is the answer, and the file stays as it was: same file, same
	 * bytes (copy_file is no cp -f, which removes it and makes a new one). */
	{
		const char *ro = grade_make_file("readonly", data, sizeof(data));
		struct stat was, now;
		unsigned char *back;
		size_t backlen;

		grade_check(chmod(ro, 0444) == 0 && stat(ro, &was) == 0, "harness: chmod: %s",
			    strerror(errno));
		readonly_dst = ro;
		open_hooks_install(readonly_dst_verdict);
		seam_reset();
		got = SEAM_CALL(copy_file(src, ro, 4096));
		open_hooks_remove();
		readonly_dst = NULL;
		seam_hook_close = close_open_only;
		grade_check(got == -EACCES, "copy_file onto an existing file of mode 0444 (open(2) "
			    "for writing fails with EACCES) returned %s, expected -EACCES: a "
			    "destination that may not be written is an error, open's own "
			    "(blocking.h: \"dst not writable: that error, e.g. -EACCES\")",
			    grade_errno_str((ssize_t)got));
		grade_check(OPENS() <= 2, "copy_file onto a file it may not write (EACCES) called "
			    "open() %ld times; expected twice, the source once and the destination "
			    "once: EACCES is the answer at once, not a reason to open again (only "
			    "EINTR is) (TODO 4; blocking.h: \"dst not writable: that error\")",
			    OPENS());
		grade_check(stat(ro, &now) == 0 && now.st_ino == was.st_ino &&
			    (now.st_mode & 07777) == 0444, "copy_file onto an existing file of mode "
			    "0444, which it may not write, removed or replaced that file (%s): the "
			    "destination's permissions are its owner's decision; report open's "
			    "EACCES and leave the file alone, no unlink and retry (TODO 4; man 2 "
			    "open, EACCES)", stat(ro, &now) != 0 ? "it is gone" :
			    now.st_ino != was.st_ino ? "a new file has its name" : "its mode changed");
		back = grade_slurp(ro, &backlen);
		grade_check(back != NULL && backlen == sizeof(data), "copy_file onto a file it may "
			    "not write changed it: %zu bytes, it had %zu", back ? backlen : 0,
			    sizeof(data));
		grade_check_same(back, data, sizeof(data), "the destination it may not write");
		free(back);
		chmod(ro, 0600);
	}
	/* From here, close() succeeds and leaves errno at EINTR, as POSIX allows:
	 * the errno of the failed open must be taken before the cleanup. */
	seam_hook_close = close_dirtying_errno;
	got = SEAM_CALL(copy_file(src, grade_path("no/such/dir"), 4096));
	grade_check(got == -ENOENT, "copy_file to a file in a missing directory returned %s, "
		    "expected -ENOENT%s", grade_errno_str((ssize_t)got), got == -EINTR ?
		    ": the harness's close() succeeded but left errno at EINTR (any successful "
		    "call may change errno, errno(3)), and your code read errno after closing "
		    "the source; take -errno the moment open fails, before any close or free "
		    "(lesson: \"Cleaning up\")" : "");
	got = SEAM_CALL(copy_file(src, grade_tmpdir(), 4096));
	grade_check(got == -EISDIR, "copy_file onto a directory returned %s, expected -EISDIR",
		    grade_errno_str((ssize_t)got));
	got = SEAM_CALL(copy_file(src, grade_path("dst"), 0));
	grade_check(got == -EINVAL, "copy_file with bufsize 0 returned %s, expected -EINVAL",
		    grade_errno_str((ssize_t)got));
}

GRADE_TEST(copy_file, no_descriptor_leaks, 2,
	   "copy_file closes every descriptor, after a copy and after each error",
	   "TODO 4: close both descriptors on every path; a goto-based cleanup at the end of "
	   "the function keeps it in one place (lesson: \"Cleaning up\")")
{
	unsigned char *data = grade_random_bytes(70000);
	const char *src = grade_make_file("src", data, 70000);
	int before;

	refuse_kernel_copies();
	before = fault_count_fds();
	off_t ok = SEAM_CALL(copy_file(src, grade_path("dst"), 4096));
	int after_ok = fault_count_fds();
	off_t bad_dst = SEAM_CALL(copy_file(src, grade_path("no/such/dir"), 4096));
	int after_bad_dst = fault_count_fds();
	off_t bad_src = SEAM_CALL(copy_file(grade_path("missing"), grade_path("dst"), 4096));
	int after_bad_src = fault_count_fds();
	/* A directory opens for reading; read() then fails with EISDIR. */
	off_t dir_src = SEAM_CALL(copy_file(grade_tmpdir(), grade_path("dst"), 4096));
	int after_dir_src = fault_count_fds();

	grade_check(ok == 70000, "copy_file of a 70000-byte file returned %s, expected 70000",
		    grade_errno_str((ssize_t)ok));
	grade_check(bad_dst == -ENOENT && bad_src == -ENOENT, "copy_file with a missing "
		    "destination directory returned %s and with a missing source %s; expected "
		    "-ENOENT for both", grade_errno_str((ssize_t)bad_dst), grade_errno_str((ssize_t)bad_src));
	grade_check(after_ok == before, "copy_file left %d descriptor(s) open after a copy",
		    after_ok - before);
	grade_check(after_bad_dst == after_ok, "copy_file left %d descriptor(s) open when it "
		    "could not open the destination (the source stays open?)",
		    after_bad_dst - after_ok);
	grade_check(after_bad_src == after_bad_dst, "copy_file left %d descriptor(s) open when "
		    "the source was missing", after_bad_src - after_bad_dst);
	grade_check(dir_src == -EISDIR, "copy_file from a directory returned %s, expected "
		    "-EISDIR: read(2) of a directory fails with EISDIR, and a read that fails "
		    "makes the copy's result that read's own -errno, as read_full returns it, not "
		    "a code of your own (blocking.h, copy_file)", grade_errno_str((ssize_t)dir_src));
	grade_check(after_dir_src == after_bad_src, "copy_file left %d descriptor(s) open when "
		    "the source was a directory: an early return for a check of your own (fstat, "
		    "S_ISDIR) skips the cleanup too; take every exit through it",
		    after_dir_src - after_bad_src);
	free(data);
}

/* Present only where AddressSanitizer's run-time is linked (SAN=1). */
extern void __asan_init(void) __attribute__((weak));

GRADE_TEST(copy_file, frees_its_buffer, 2,
	   "copy_file frees its buffer after a copy and after each error; -ENOMEM when malloc fails, "
	   "also for a bufsize of SIZE_MAX",
	   "TODO 4: every path out of copy_file after the malloc goes through one cleanup that "
	   "frees the buffer and closes the descriptors; a NULL from malloc is -ENOMEM "
	   "(lesson: \"Cleaning up\")")
{
	unsigned char *data = grade_random_bytes(70000);
	char src[PATH_MAX];  /* grade_path's storage is reused after 8 calls */
	struct seam_heap before;
	off_t ok, bad_dst, bad_src, got_einval, dir_src, no_memory;
	int fds;

	snprintf(src, sizeof(src), "%s", grade_make_file("src", data, 70000));
	refuse_kernel_copies();
	seam_heap_usage(&before);
	ok = SEAM_CALL(copy_file(src, grade_path("dst"), 4096));
	grade_check(ok == 70000, "copy_file of a 70000-byte file returned %s, expected 70000",
		    grade_errno_str((ssize_t)ok));
	grade_check_heap(&before, "copy_file of a 70000-byte file");
	bad_dst = SEAM_CALL(copy_file(src, grade_path("no/such/dir"), 4096));
	grade_check(bad_dst == -ENOENT, "copy_file to a missing directory returned %s, expected "
		    "-ENOENT", grade_errno_str((ssize_t)bad_dst));
	grade_check_heap(&before, "copy_file to a missing directory");
	bad_src = SEAM_CALL(copy_file(grade_path("missing"), grade_path("dst"), 4096));
	grade_check(bad_src == -ENOENT, "copy_file from a missing source returned %s, expected "
		    "-ENOENT", grade_errno_str((ssize_t)bad_src));
	grade_check_heap(&before, "copy_file from a missing source");
	got_einval = SEAM_CALL(copy_file(src, grade_path("dst"), 0));
	grade_check(got_einval == -EINVAL, "copy_file with bufsize 0 returned %s, expected -EINVAL",
		    grade_errno_str((ssize_t)got_einval));
	grade_check_heap(&before, "copy_file with bufsize 0 (check bufsize before malloc: "
			 "malloc(0) may return a block that must be freed too)");
	dir_src = SEAM_CALL(copy_file(grade_tmpdir(), grade_path("dst"), 4096));
	grade_check(dir_src < 0, "copy_file from a directory returned %s, expected a negative "
		    "errno (read(2) of a directory fails with EISDIR)",
		    grade_errno_str((ssize_t)dir_src));
	grade_check_heap(&before, "copy_file from a directory");

	/* 1 MiB, not 4 KiB: a small buffer may live on the stack, where no
	 * malloc can fail (blocking.h asks for one buffer, not for malloc). */
	fds = fault_count_fds();
	seam_heap_fail(1, -1);
	no_memory = SEAM_CALL(copy_file(src, grade_path("dst2"), 1 << 20));
	seam_heap_fail(0, 0);
	grade_check(no_memory == -ENOMEM, "copy_file(src, dst, 1 MiB) returned %s when malloc "
		    "returned NULL, expected -ENOMEM", grade_errno_str((ssize_t)no_memory));
	grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when malloc "
		    "failed", fault_count_fds() - fds);

	/* Only the first allocation fails (no room for 1 MiB, say): a smaller
	 * buffer of copy_file's own would be no buffer of bufsize bytes. */
	seam_heap_usage(&before);
	seam_heap_fail(1, 1);
	no_memory = SEAM_CALL(copy_file(src, grade_path("dst3"), 1 << 20));
	seam_heap_fail(0, 0);
	grade_check(no_memory == -ENOMEM, "copy_file(src, dst, 1 MiB) returned %s when its first "
		    "malloc returned NULL (the next one would have succeeded), expected -ENOMEM: "
		    "the copy goes through one buffer of bufsize bytes, and no room for it is the "
		    "answer, not a reason to copy with a smaller buffer of your own (blocking.h: "
		    "\"no memory for the buffer: -ENOMEM\"; TODO 4)",
		    grade_errno_str((ssize_t)no_memory));
	grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when malloc "
		    "failed", fault_count_fds() - fds);
	grade_check_heap(&before, "copy_file whose malloc failed");

	/* Buffers no allocator can give: malloc fails by itself, no seam
	 * needed. A size computed on the way (bufsize + 1 for a NUL, bufsize
	 * rounded up to a page) wraps to a tiny block, and read(2), asked for
	 * bufsize bytes, then writes the file past its end. Not under SAN=1:
	 * AddressSanitizer's malloc aborts on such a size instead of
	 * returning NULL (allocator_may_return_null=0); the plain grading,
	 * which is the grade, keeps it. */
	if (!__asan_init) {
		static const size_t huge[] = { SIZE_MAX, SIZE_MAX - 100 };

		for (int i = 0; i < 2; i++) {
			fds = fault_count_fds();
			seam_heap_usage(&before);
			no_memory = SEAM_CALL(copy_file(src, grade_path("dst4"), huge[i]));
			grade_check(no_memory == -ENOMEM || no_memory == -EINVAL,
				    "copy_file(src, dst, SIZE_MAX%s) returned "
				    "%s, expected -ENOMEM (or -EINVAL: above SSIZE_MAX): no malloc can give "
				    "a buffer that size. "
				    "Ask malloc for bufsize itself: a size computed from it (bufsize + "
				    "1, bufsize rounded up to a page) wraps past SIZE_MAX to a few "
				    "bytes, which read(2), asked for bufsize, then overruns (TODO 4; "
				    "blocking.h: \"no memory for the buffer: -ENOMEM\")",
				    i ? " - 100" : "", grade_errno_str((ssize_t)no_memory));
			grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) "
				    "open when malloc of bufsize SIZE_MAX%s failed",
				    fault_count_fds() - fds, i ? " - 100" : "");
			grade_check_heap(&before, "copy_file whose malloc of SIZE_MAX failed");
		}
	}
	free(data);
}

/* A source that changes while copy_file reads it: right after its first
 * read() returns, the harness appends to the file (cut < 0) or cuts it
 * short to `cut` bytes, through a descriptor of its own. */
static struct {
	int wfd;
	off_t cut;
	const void *more;
	size_t more_len;
	off_t at;
	long calls;
} changing;

static ssize_t changing_read(int fd, void *buf, size_t n)
{
	ssize_t k = SEAM_REAL(read)(fd, buf, n);
	int saved = errno;

	if (++changing.calls == 1) {
		if (changing.cut >= 0)
			grade_check(ftruncate(changing.wfd, changing.cut) == 0, "harness: "
				    "ftruncate: %s", strerror(errno));
		else
			grade_check(SEAM_REAL(pwrite)(changing.wfd, changing.more, changing.more_len,
						      changing.at) == (ssize_t)changing.more_len,
				    "harness: pwrite: %s", strerror(errno));
	}
	errno = saved;
	return k;
}

/* A FIFO's writer that comes only once copy_file sleeps in open() of the
 * FIFO (open(2) of a FIFO for reading waits for a writer, fifo(7)): it
 * then writes its bytes and closes. If copy_file never waits there (it
 * opened with O_NONBLOCK, which does not wait), the writer never comes and
 * a read finds no writer: end of file (pipe(7)). */
static struct {
	const char *path;
	const unsigned char *data;
	size_t len;
	pid_t tid;
	atomic_bool stop;
	bool came;
	int interrupts;          /* SIGUSR1s (no SA_RESTART) to send, one per wait */
	int sent;                /* ...sent so far                                */
	int interrupted;         /* ...sent, and their handler ran                */
} fifo_writer;

static atomic_int fifo_signals;

static void on_fifo_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&fifo_signals, 1);
}

static bool asleep_opening_fifo(void)
{
	struct task_call c;
	const char *p;

	if (task_call_read(getpid(), fifo_writer.tid, &c) != 0 || c.running)
		return false;
	if (c.nr == SYS_openat)
		p = (const char *)c.args[1];
#ifdef SYS_open
	else if (c.nr == SYS_open)
		p = (const char *)c.args[0];
#endif
#ifdef SYS_creat
	else if (c.nr == SYS_creat)   /* creat(2) is open(2) by another name */
		p = (const char *)c.args[0];
#endif
	else
		return false;
	return p && !strcmp(p, fifo_writer.path);
}

/* If the test asked for it, interrupt the open() that copy_file sleeps in,
 * with SIGUSR1 (its handler installed without SA_RESTART), up to
 * fifo_writer.interrupts times, once per wait: the handler runs as open()
 * returns EINTR, and only a wait seen after it is an open made again.
 * Returns true when it sent a signal (look again). */
static bool fifo_interrupt_once(long t0)
{
	int seen;

	if (fifo_writer.sent >= fifo_writer.interrupts)
		return false;
	seen = atomic_load(&fifo_signals);
	fifo_writer.sent++;
	syscall(SYS_tgkill, getpid(), fifo_writer.tid, SIGUSR1);
	while (atomic_load(&fifo_signals) == seen && fault_now_ms() - t0 < FAULT_PATIENCE_MS)
		fault_nap();
	if (atomic_load(&fifo_signals) != seen)
		fifo_writer.interrupted++;
	return true;
}

static void *fifo_writer_main(void *arg)
{
	long t0 = fault_now_ms();
	int w;

	(void)arg;
	seam_mark_harness_thread();
	while (!atomic_load(&fifo_writer.stop) && fault_now_ms() - t0 < FAULT_PATIENCE_MS) {
		if (asleep_opening_fifo() && fifo_interrupt_once(t0))
			continue;
		if (asleep_opening_fifo() && fifo_writer.interrupted == fifo_writer.interrupts) {
			w = open(fifo_writer.path, O_WRONLY | O_CLOEXEC);
			fifo_writer.came = w >= 0;
			for (size_t done = 0; w >= 0 && done < fifo_writer.len; ) {
				ssize_t k = SEAM_REAL(write)(w, fifo_writer.data + done,
							     fifo_writer.len - done);

				if (k < 0 && errno != EINTR)
					break;
				done += k > 0 ? (size_t)k : 0;
			}
			if (w >= 0)
				close(w);
			return NULL;
		}
		fault_nap();
	}
	/* Never saw it: release a copy_file that might still wait in open(). */
	w = open(fifo_writer.path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (w >= 0)
		close(w);
	return NULL;
}

/* A FIFO's reader that comes only once copy_file sleeps in open() of the
 * FIFO for writing (such an open waits for a reader, fifo(7)): it then
 * reads to end of file into fifo_sink. If copy_file never waits there (it
 * opened with O_NONBLOCK, which fails with ENXIO while no reader is there),
 * the reader never comes. Uses fifo_writer's path, tid, stop and came. */
static void *fifo_reader_main(void *arg)
{
	long t0 = fault_now_ms();
	int r;

	(void)arg;
	seam_mark_harness_thread();
	while (!atomic_load(&fifo_writer.stop) && fault_now_ms() - t0 < FAULT_PATIENCE_MS) {
		if (asleep_opening_fifo() && fifo_interrupt_once(t0))
			continue;
		if (asleep_opening_fifo()) {
			r = open(fifo_writer.path, O_RDONLY | O_CLOEXEC);
			fifo_writer.came = r >= 0;
			while (r >= 0) {
				char extra[4096];
				bool room = fifo_sink.len < fifo_sink.cap;
				ssize_t k = room ? SEAM_REAL(read)(r, fifo_sink.buf + fifo_sink.len,
								   fifo_sink.cap - fifo_sink.len)
						 : SEAM_REAL(read)(r, extra, sizeof(extra));

				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					break;
				fifo_sink.len += (size_t)k;  /* beyond cap: counted, not kept */
				if (fifo_sink.leave && fifo_sink.len >= fifo_sink.cap)
					break;
			}
			if (r >= 0)
				close(r);
			return NULL;
		}
		fault_nap();
	}
	/* Never saw it: release a copy_file that might still wait in open(). */
	r = open(fifo_writer.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (r >= 0)
		close(r);
	return NULL;
}

/* copy_file(src, fifo, bufsize) onto a new FIFO whose reader comes once
 * copy_file waits for it in open(); the reader's bytes land in fifo_sink
 * (room for cap bytes). *came: the reader came. */
static off_t copy_onto_fifo(const char *src, const char *fifo, size_t bufsize, size_t cap,
			    bool leave, bool *came)
{
	pthread_t th;
	off_t got;

	grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));
	fifo_sink.buf = grade_xmalloc(cap);
	fifo_sink.len = 0;
	fifo_sink.cap = cap;
	fifo_sink.leave = leave;
	fifo_writer.path = fifo;
	fifo_writer.tid = gettid();
	fifo_writer.came = false;
	fifo_writer.sent = 0;              /* fifo_writer.interrupts: the caller's */
	fifo_writer.interrupted = 0;
	atomic_store(&fifo_writer.stop, false);
	grade_check(pthread_create(&th, NULL, fifo_reader_main, NULL) == 0,
		    "harness: pthread_create failed");
	got = SEAM_CALL(copy_file(src, fifo, bufsize));
	atomic_store(&fifo_writer.stop, true);
	pthread_join(th, NULL);
	*came = fifo_writer.came;
	return got;
}

/* open(2) of open_storm.src, then of open_storm.dst, fails with EINTR so
 * many times first (a storm of signals in a wait of open: the open hooks'
 * verdict). */
static struct {
	const char *src, *dst;
	int src_left, dst_left;
} open_storm;

static int open_storm_verdict(const char **path, int flags)
{
	(void)flags;
	if (open_storm.src && !strcmp(*path, open_storm.src) && open_storm.src_left > 0) {
		open_storm.src_left--;
		return EINTR;
	}
	if (open_storm.dst && !strcmp(*path, open_storm.dst) && open_storm.dst_left > 0) {
		open_storm.dst_left--;
		return EINTR;
	}
	return 0;
}

GRADE_TEST(copy_file, short_transfers_and_eintr, 2,
	   "copy_file copies when read() and write() come back short and fail with EINTR, "
	   "from a pipe (a signal ending its wait in read() too) and a FIFO and onto a FIFO (each open() also interrupted by signals, "
	   "1000 times in a row too, leaving no descriptor or buffer behind), a file of /proc "
	   "(size 0) and a file that grows or shrinks meanwhile",
	   "TODO 4: move the data with read_full and write_full (or loops just as careful): a "
	   "short read is not the end of the file, a short write must be finished; copy until "
	   "read says end of file, whatever size the source had; open the source plainly "
	   "O_RDONLY (a FIFO's open waits for its writer, a FIFO destination's for its reader, "
	   "and a signal can end either wait with EINTR: open that file again, as often as it "
	   "takes, keeping what is already open and allocated) (lesson: \"Short reads\", "
	   "\"Short writes\", \"End of file\", \"EINTR and SA_RESTART\")")
{
	const size_t size = 30011;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src = grade_make_file("src", data, size), *dst = grade_path("dst");
	char dst_name[PATH_MAX];
	size_t backlen;
	off_t got;

	refuse_kernel_copies();
	/* read() moves at most 100 bytes, write() at most 77; both fail with
	 * EINTR now and then. */
	script_set(&rd_script, -1, 100, 5, 0, 0);
	script_set(&wr_script, -1, 77, 4, 0, 0);
	hooks_script();
	got = SEAM_CALL(copy_file(src, dst, 4096));
	hooks_off();
	grade_check(got == (off_t)size, "copy_file of %zu bytes returned %s when read() gave at "
		    "most 100 bytes and write() took at most 77, with EINTR now and then",
		    size, grade_errno_str((ssize_t)got));
	back = grade_slurp(dst, &backlen);
	grade_check(back != NULL && backlen == size, "the copy has %zu bytes, the source %zu",
		    back ? backlen : 0, size);
	grade_check_same(back, data, size, "copy_file with short transfers");
	free(back);

	/* A source that is not a regular file: a pipe, opened by its name in
	 * /proc/self/fd, fed 333 bytes at a time (its size says 0). */
	{
		const size_t len = 10000;
		char path[64];
		int p[2];
		struct fault *f;
		struct fault_report r;

		fault_pipe(p, 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
		f = fault_start((struct fault_step[]){
			{ .op = FAULT_WRITE_PIECES, .fd = p[1], .data = data, .len = len, .piece = 333 },
			{ .op = FAULT_CLOSE, .fd = p[1] },
			{ .op = FAULT_END } });
		got = SEAM_CALL(copy_file(path, dst, 4096));
		r = fault_join(f);
		close(p[0]);
		free(r.sink);
		grade_check(got == (off_t)len, "copy_file from a pipe (its name in /proc/self/fd) "
			    "that a writer fed %zu bytes in pieces of 333, then closed, returned %s, "
			    "expected %zu: any file that open(2) and read(2) accept is a source, not "
			    "only a regular one; copy until read says end of file, never by the "
			    "size fstat gives (0 for a pipe) (TODO 4; lesson: \"Short reads\", \"End "
			    "of file\")", len, grade_errno_str((ssize_t)got), len);
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == len, "the copy of a pipe has %zu bytes, "
			    "expected %zu", back ? backlen : 0, len);
		grade_check_same(back, data, len, "copy_file from a pipe");
		free(back);
	}

	/* The same pipe, empty: copy_file sleeps in read() until a signal
	 * (SIGUSR1, its handler installed without SA_RESTART) interrupts it;
	 * only then do the bytes come. The handler must run while copy_file
	 * waits: the program's signals are not copy_file's to hold back. */
	{
		const size_t len = 5000;
		char path[64];
		int p[2];
		struct fault *f;
		struct fault_report r;

		fault_pipe(p, 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
		f = fault_start((struct fault_step[]){
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_read },
			{ .op = FAULT_SIGNAL },
			{ .op = FAULT_WRITE, .fd = p[1], .data = data, .len = len },
			{ .op = FAULT_CLOSE, .fd = p[1] },
			{ .op = FAULT_END } });
		got = SEAM_CALL(copy_file(path, dst, 4096));
		r = fault_join(f);
		close(p[0]);
		free(r.sink);
		grade_check(r.blocked_seen == 1, "copy_file from an empty pipe (its name in "
			    "/proc/self/fd) never waited inside read(), so the signal could not be "
			    "sent (it returned %s)", grade_errno_str((ssize_t)got));
		grade_check(r.signals == 1, "copy_file slept inside read() on an empty pipe and "
			    "SIGUSR1 was sent, but its handler never ran while copy_file waited (it "
			    "returned %s): does your code block signals (sigprocmask, "
			    "pthread_sigmask) around the copy? The program's signals are not "
			    "copy_file's to hold back: a copy from a pipe or a FIFO can wait for "
			    "ever, and the program's handler (a timeout, Ctrl-C) must run meanwhile; "
			    "let read() fail with EINTR and read again (TODO 4; lesson: \"EINTR and "
			    "SA_RESTART\")", grade_errno_str((ssize_t)got));
		grade_check(got == (off_t)len, "copy_file from a pipe whose read() a signal "
			    "interrupted (EINTR) returned %s, expected %zu: read again after EINTR",
			    grade_errno_str((ssize_t)got), len);
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == len, "the copy of a pipe has %zu bytes, "
			    "expected %zu", back ? backlen : 0, len);
		grade_check_same(back, data, len, "copy_file from a pipe after a signal");
		free(back);
	}

	/* grade_path's storage is reused: keep the destination's name. */
	snprintf(dst_name, sizeof(dst_name), "%s", dst);
	dst = dst_name;

	/* A FIFO by its name, whose writer comes only once copy_file waits for
	 * it in open(); then again, with that wait interrupted three times (each
	 * open made again interrupted once more) by a signal whose handler was
	 * installed without SA_RESTART. */
	for (int round = 0; round < 2; round++) {
		const size_t len = 10000;
		char fifo[PATH_MAX];
		struct sigaction sa, old_sa;
		pthread_t th;

		snprintf(fifo, sizeof(fifo), "%s", grade_path(round ? "fifo-signalled" : "fifo"));
		grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));
		fifo_writer.path = fifo;
		fifo_writer.data = data;
		fifo_writer.len = len;
		fifo_writer.tid = gettid();
		fifo_writer.came = false;
		fifo_writer.interrupts = round == 1 ? 3 : 0;
		fifo_writer.sent = 0;
		fifo_writer.interrupted = 0;
		atomic_store(&fifo_writer.stop, false);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fifo_signal;   /* sa_flags 0: no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		grade_check(sigaction(SIGUSR1, &sa, &old_sa) == 0, "harness: sigaction: %s",
			    strerror(errno));
		grade_check(pthread_create(&th, NULL, fifo_writer_main, NULL) == 0,
			    "harness: pthread_create failed");
		got = SEAM_CALL(copy_file(fifo, dst, 4096));
		atomic_store(&fifo_writer.stop, true);
		pthread_join(th, NULL);
		sigaction(SIGUSR1, &old_sa, NULL);
		if (round == 1 && fifo_writer.interrupted > 0)
			grade_check(got == (off_t)len && fifo_writer.came, "copy_file from a FIFO "
				    "returned %s, expected %zu, after a signal (SIGUSR1, its handler "
				    "installed without SA_RESTART) had interrupted its wait in open() for "
				    "the FIFO's writer %d time(s) (the harness sends 3, one to each "
				    "open): each signal ends open()'s wait with EINTR (signal(7), "
				    "\"Interruption of system calls\"), and nothing was opened. Open "
				    "again, every time, as read_full reads again after every EINTR: no "
				    "limit on how many (TODO 4; lesson: \"EINTR and SA_RESTART\")",
				    grade_errno_str((ssize_t)got), len, fifo_writer.interrupted);
		grade_check(got == (off_t)len && fifo_writer.came, "copy_file from a FIFO (made "
			    "by mkfifo) whose writer comes only once copy_file waits for it in "
			    "open(), then sends %zu bytes, returned %s, expected %zu%s: opening a "
			    "FIFO for reading waits until a writer opens it (fifo(7)); with "
			    "O_NONBLOCK open returns at once, and a read before any writer came sees "
			    "end of file (pipe(7)), even if O_NONBLOCK is cleared afterwards. Open "
			    "the source O_RDONLY, without O_NONBLOCK (TODO 4; blocking.h: \"a FIFO "
			    "as src (read to its end)\")", len, grade_errno_str((ssize_t)got), len,
			    fifo_writer.came ? "" : " (copy_file never waited in open() of the "
			    "FIFO, so the writer never came)");
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == len, "the copy of a FIFO has %zu bytes, "
			    "expected %zu", back ? backlen : 0, len);
		grade_check_same(back, data, len, "copy_file from a FIFO");
		free(back);
	}

	/* A FIFO as the destination, whose reader comes only once copy_file
	 * waits for it in open() for writing, that wait first interrupted three
	 * times by a signal whose handler was installed without SA_RESTART. */
	{
		const size_t len = 10000;
		char from[PATH_MAX], fifo[PATH_MAX];
		struct sigaction sa, old_sa;
		bool came;

		snprintf(from, sizeof(from), "%s", grade_make_file("to-fifo", data, len));
		snprintf(fifo, sizeof(fifo), "%s", grade_path("dst-fifo-signalled"));
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fifo_signal;   /* sa_flags 0: no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		grade_check(sigaction(SIGUSR1, &sa, &old_sa) == 0, "harness: sigaction: %s",
			    strerror(errno));
		fifo_writer.interrupts = 3;
		got = copy_onto_fifo(from, fifo, 4096, len + 1, false, &came);
		fifo_writer.interrupts = 0;
		sigaction(SIGUSR1, &old_sa, NULL);
		grade_check(fifo_writer.interrupted == 0 || (got == (off_t)len && came),
			    "copy_file onto a FIFO returned %s, expected %zu, after a signal "
			    "(SIGUSR1, its handler installed without SA_RESTART) had interrupted "
			    "its wait in open() of the destination for the FIFO's reader %d "
			    "time(s) (the harness sends 3, one to each open): each signal ends "
			    "open()'s wait with EINTR (signal(7), \"Interruption of system "
			    "calls\"), and nothing was opened. Open the destination again, every "
			    "time, just as the source (TODO 4; lesson: \"EINTR and SA_RESTART\")",
			    grade_errno_str((ssize_t)got), len, fifo_writer.interrupted);
		grade_check(got == (off_t)len && came && fifo_sink.len == len, "copy_file of %zu "
			    "bytes onto a FIFO whose reader comes only once copy_file waits for it "
			    "in open() returned %s, and the reader received %zu bytes%s (TODO 4; "
			    "blocking.h: \"src and dst may be any file open(2) opens\")", len,
			    grade_errno_str((ssize_t)got), fifo_sink.len,
			    came ? "" : " (copy_file never waited in open() of the FIFO)");
		grade_check_same(fifo_sink.buf, data, len, "the bytes the FIFO's reader received");
		free(fifo_sink.buf);
	}

	/* A storm: the first 1000 open() calls of the source, and the first
	 * 1000 of the destination, fail with EINTR before anything is opened,
	 * as a storm of signals during a FIFO's (or a slow filesystem's) wait
	 * would make them. */
	{
		char from[PATH_MAX], to[PATH_MAX];

		snprintf(from, sizeof(from), "%s", grade_make_file("storm-src", data, 5000));
		snprintf(to, sizeof(to), "%s", grade_path("storm-dst"));
		open_storm.src = from;
		open_storm.dst = to;
		struct seam_heap heap;
		int fds = fault_count_fds();

		seam_heap_usage(&heap);
		open_storm.src_left = 1000;
		open_storm.dst_left = 1000;
		open_hooks_install(open_storm_verdict);
		naps_on();
		got = SEAM_CALL(copy_file(from, to, 4096));
		naps_off();
		open_hooks_remove();
		grade_check(naps == 0, NAPS_MSG("copy_file", "open()", "TODO 4"), naps);
		grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when "
			    "open() of the source, then of the destination, failed with EINTR 1000 "
			    "times each before it succeeded (copy_file returned %s): an EINTR means "
			    "\"open this file again\", not \"start over\"; retry the one open that "
			    "was interrupted, and keep what is already open (the source, when the "
			    "destination's open is interrupted), to close once, at the end (TODO 4; "
			    "lesson: \"Cleaning up\")", fault_count_fds() - fds,
			    grade_errno_str((ssize_t)got));
		grade_check_heap(&heap, "copy_file whose open() calls failed with EINTR 1000 times "
				 "each (an EINTR is a reason to open again, not to start over and "
				 "allocate another buffer)");
		grade_check(got == 5000, "copy_file of a 5000-byte file returned %s when the first "
			    "1000 open() calls of the source, and the first 1000 of the destination, "
			    "failed with EINTR, one after the other (%d and %d of them came); expected "
			    "5000: each EINTR only means \"open again\", however many come in a row, "
			    "as read_full reads again after every EINTR: no limit on the retries "
			    "(TODO 4; blocking.h: \"a signal that ends that wait with EINTR is no "
			    "error: open again\"; lesson: \"EINTR and SA_RESTART\")",
			    grade_errno_str((ssize_t)got), 1000 - open_storm.src_left,
			    1000 - open_storm.dst_left);
		back = grade_slurp(to, &backlen);
		grade_check(back != NULL && backlen == 5000, "the copy has %zu bytes, expected 5000",
			    back ? backlen : 0);
		grade_check_same(back, data, 5000, "copy_file after 1000 EINTRs from open()");
		free(back);
	}

	/* A file of /proc: regular, its size 0 (st_size), and yet it has bytes,
	 * made as it is read (proc(5)); those of /proc/self/cmdline stay the
	 * same while this process runs. bufsize 7: several reads. */
	{
		const char *proc = "/proc/self/cmdline";
		size_t wantlen;
		unsigned char *want = grade_slurp(proc, &wantlen);
		struct stat st;

		grade_check(want != NULL && wantlen > 0 && stat(proc, &st) == 0,
			    "harness: cannot read %s: %s", proc, strerror(errno));
		got = SEAM_CALL(copy_file(proc, dst, 7));
		back = grade_slurp(dst, &backlen);
		grade_check(got == (off_t)wantlen && back != NULL && backlen == wantlen,
			    "copy_file of %s (a regular file whose size, st_size, says %lld, and "
			    "which holds %zu bytes when read) with bufsize 7 returned %s, and the "
			    "copy has %zu bytes; expected %zu: a size that fstat tells is no promise "
			    "of the content (the files of /proc and /sys say 0): copy until "
			    "read says end of file, with the buffer of bufsize bytes, whatever "
			    "st_size says (no shortcut for an empty file, no buffer sized by it) "
			    "(TODO 4; lesson: \"End of file\")", proc, (long long)st.st_size,
			    wantlen, grade_errno_str((ssize_t)got), back ? backlen : 0, wantlen);
		grade_check_same(back, want, wantlen, "copy_file of /proc/self/cmdline");
		free(back);
		free(want);
	}

	/* A regular file that grows, then one that shrinks, while copy_file
	 * copies it: the copy is what read() gave until it said end of file,
	 * not the size fstat told before. */
	for (int i = 0; i < 2; i++) {
		const size_t first = 10000, now = i ? 6000 : 13000;
		const char *name = i ? "shrinks" : "grows";

		src = grade_make_file(name, data, first);
		changing.wfd = grade_open(src, O_WRONLY);
		changing.cut = i ? (off_t)now : -1;
		changing.more = data + first;
		changing.more_len = now - first;
		changing.at = (off_t)first;
		changing.calls = 0;
		seam_hook_read = changing_read;
		got = SEAM_CALL(copy_file(src, dst, 4096));
		hooks_off();
		close(changing.wfd);
		back = grade_slurp(dst, &backlen);
		grade_check(got == (off_t)now && back != NULL && backlen == now, "copy_file of a "
			    "%zu-byte file that %s to %zu bytes right after copy_file's first read() "
			    "returned %s, and the copy has %zu bytes; expected %zu and %zu: copy what "
			    "read() gives until it returns 0 (end of file), never a size taken "
			    "before (fstat's st_size), and write only the bytes read: no "
			    "preallocation or ftruncate of the destination to the source's size "
			    "(TODO 4; lesson: \"End of file\")", first, i ? "shrank" : "grew", now,
			    grade_errno_str((ssize_t)got), back ? backlen : 0, now, now);
		grade_check_same(back, data, now, i ? "copy_file of a file that shrank" :
				 "copy_file of a file that grew");
		free(back);
	}
	free(data);
}

GRADE_TEST(copy_file, error_mid_copy, 2,
	   "copy_file returns the -errno of a read or write that fails mid-copy, and cleans up "
	   "(descriptors, buffer, the thread's signal mask)",
	   "TODO 4: a failed read_full or write_full ends the copy with its -errno (not the "
	   "bytes copied so far), through the same cleanup as every other path: close both "
	   "descriptors, free the buffer (lesson: \"Cleaning up\")")
{
	const size_t size = 50000;
	unsigned char *data = grade_random_bytes(size), *old = grade_random_bytes(80000);
	const char *src = grade_make_file("src", data, size);
	struct seam_heap before;
	int fds, sig;
	off_t got;
	sigset_t mask;

	refuse_kernel_copies();
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	seam_heap_usage(&before);
	fds = fault_count_fds();
	/* The third write() fails: the disk is full, then a device error. */
	for (int i = 0; i < 2; i++) {
		static const int errs[] = { ENOSPC, EIO };
		/* The destination exists, longer than the source: whatever the
		 * copy wrote before it failed, no old byte may stay behind it. */
		const char *dst = grade_make_file("dst", old, 80000);
		struct stat st = { 0 };

		script_set(&wr_script, -1, 0, 0, 3, errs[i]);
		hooks_script();
		got = SEAM_CALL(copy_file(src, dst, 4096));
		hooks_off();
		grade_check(got == -errs[i], "copy_file returned %s when its third write() failed "
			    "with %s, expected %s: the copy's result is the failing write's own "
			    "-errno, as write_full returned it, not a code of your own",
			    grade_errno_str((ssize_t)got), grade_errno_str(-errs[i]) + 1,
			    grade_errno_str(-errs[i]));
		grade_check(stat(dst, &st) != 0 || st.st_size <= 2 * 4096, "copy_file of a "
			    "50000-byte source over an existing 80000-byte file failed at its third "
			    "write() (%s), after two writes of at most 4096 bytes, and left the "
			    "destination %lld bytes long: bytes it never wrote (the old file's, or "
			    "space reserved for the source's size) stay behind the new ones, a file "
			    "that looks whole and is not. Empty the destination when it is opened "
			    "(O_TRUNC), not by a ftruncate once the copy is done, and do not size it "
			    "in advance (TODO 4; man 2 open, O_TRUNC; lesson: \"Cleaning up\")",
			    grade_errno_str(-errs[i]) + 1, (long long)st.st_size);
		grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open after a "
			    "write failed mid-copy", fault_count_fds() - fds);
		grade_check_heap(&before, "copy_file whose write failed mid-copy");
		sig = mask_changed(&mask);
		grade_check(sig == 0, "copy_file whose third write() failed (%s) left signal %d "
			    "(%s) %s in the calling thread, which it had found %s: what a copy "
			    "changes for itself (a signal blocked for the copy's length) it must put "
			    "back on every way out, the failing ones too, like its descriptors and "
			    "its buffer (TODO 4; lesson: \"Cleaning up\")",
			    grade_errno_str(-errs[i]), sig, strsignal(sig), mask_state(sig),
			    sigismember(&mask, sig) == 1 ? "blocked" : "unblocked");
	}

	/* The third read() fails: an I/O error on the source. */
	script_set(&rd_script, -1, 0, 0, 3, EIO);
	hooks_script();
	got = SEAM_CALL(copy_file(src, grade_path("dst"), 4096));
	hooks_off();
	grade_check(got == -EIO, "copy_file returned %s when its third read() failed with EIO, "
		    "expected -EIO", grade_errno_str((ssize_t)got));
	grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open after a "
		    "read failed mid-copy", fault_count_fds() - fds);
	grade_check_heap(&before, "copy_file whose read failed mid-copy");
	sig = mask_changed(&mask);
	grade_check(sig == 0, "copy_file whose third read() failed (-EIO) left signal %d (%s) "
		    "%s in the calling thread, which it had found %s: put back what the copy "
		    "changed on every way out (TODO 4; lesson: \"Cleaning up\")", sig,
		    strsignal(sig), mask_state(sig),
		    sigismember(&mask, sig) == 1 ? "blocked" : "unblocked");
	free(old);
	free(data);
}

GRADE_TEST(copy_file, creates_mode_0644, 1,
	   "copy_file creates the destination with mode 0644 before umask (umask 0, 022, 077)",
	   "TODO 4: a new file's mode is an argument of open(2), and the kernel applies the "
	   "umask to it; the contract's mode is 0644, not 0666, not the source's mode "
	   "(man 2 open, O_CREAT; man 2 umask; lesson: \"Cleaning up\")")
{
	static const struct { mode_t mask, want; } cases[] = {
		{ 0, 0644 }, { 022, 0644 }, { 077, 0600 },
	};
	const char *src = grade_make_file("src", "0123456789", 10);
	mode_t old;

	refuse_kernel_copies();
	/* The source's own mode is not the copy's. */
	grade_check(chmod(src, 0751) == 0, "harness: chmod: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		char name[16];
		const char *dst;
		struct stat st;
		off_t got;

		snprintf(name, sizeof(name), "dst%d", i);
		dst = grade_path(name);
		old = umask(cases[i].mask);
		got = SEAM_CALL(copy_file(src, dst, 4096));
		umask(old);
		grade_check(got == 10, "copy_file returned %s, expected 10",
			    grade_errno_str((ssize_t)got));
		grade_check(stat(dst, &st) == 0, "copy_file returned 10 but %s does not exist", dst);
		grade_check((st.st_mode & 07777) == cases[i].want, "under umask %03o the new "
			    "destination has mode %04o, expected %04o (0644 before the umask; "
			    "the source has %04o)", (unsigned)cases[i].mask,
			    (unsigned)(st.st_mode & 07777), (unsigned)cases[i].want, 0751u);
	}
}

/*
 * How much of its buffer a copy's reads use: the lowest address a read()
 * was handed and the highest end (buf + n) one asked to fill. A copy
 * through one buffer of bufsize bytes asks, over the copy, for room up to
 * bufsize bytes past the lowest (or up to the kernel's cap of 0x7ffff000
 * a call, read(2) NOTES, for a bigger one); a buffer of its own that is
 * smaller (a cap, a size cut to 32 bits) shows as a smaller span. How many
 * reads that takes is the copy's business (read_full may ask in pieces).
 */
static struct {
	uintptr_t lo, hi;
} read_span;

static ssize_t spanning_read(int fd, void *buf, size_t n)
{
	uintptr_t at = (uintptr_t)buf;

	if (read_span.hi == 0 || at < read_span.lo)
		read_span.lo = at;
	if (at + n > read_span.hi)
		read_span.hi = at + n;
	return pretend_read(fd, buf, n);
}

/* pretend_read's file of `size` bytes, its reads' span measured. */
static void pretend_span_set(unsigned long long size)
{
	pretend_set(NULL, 0, size);
	read_span.lo = read_span.hi = 0;
	seam_hook_read = spanning_read;
	seam_hook_write = ok_write;
}

/* The most of the buffer the reads must have asked for: all of it, or the
 * kernel's cap of one call. */
static unsigned long long span_wanted(size_t bufsize)
{
	return bufsize < KERNEL_CAP ? bufsize : KERNEL_CAP;
}

/* Can this process hold a block of len bytes at all? (Where it cannot, a
 * copy_file that answers -ENOMEM for its buffer is right.) */

static bool heap_can_hold(size_t len)
{
	void *p = malloc(len);

	free(p);
	return p != NULL;
}

GRADE_TEST(copy_file, beyond_4gib, 1,
	   "copy_file of a 5 GiB file returns 5 GiB + 123, through its 64 MiB buffer and through "
	   "ones of 3 GiB and of 4 GiB + 8 KiB (no data moves)",
	   "TODO 4: keep the total in an off_t, as the return type says: an int wraps past "
	   "2 GiB; the buffer is bufsize bytes, a big one too, and what read_full returns for "
	   "one buffer is an ssize_t, bufsize a size_t: never an int or an unsigned int on the "
	   "way (lesson: \"64-bit sizes and offsets\"; Hints, TODO 4)")
{
	const char *src = grade_make_file("src", "x", 1);
	off_t got;

	refuse_kernel_copies();
	/* read() pretends the source has 5 GiB + 123 bytes; write() takes
	 * anything. Neither touches the buffer. */
	pretend_span_set(5 * GIB + 123);
	got = SEAM_CALL(copy_file(src, grade_path("dst"), 64 << 20));
	hooks_off();
	grade_check(got == (off_t)(5 * GIB + 123), "copy_file of a 5 GiB + 123-byte file "
		    "returned %s, expected %llu", grade_errno_str((ssize_t)got), 5 * GIB + 123);
	/* 80 full buffers of 64 MiB, the last 123 bytes: the reads fill the
	 * whole buffer, in one read each or in pieces. */
	grade_check(read_span.hi - read_span.lo >= span_wanted(64 << 20), "copy_file of a "
		    "5 GiB + 123-byte file with bufsize 64 MiB made %ld read() calls, none of them "
		    "asking for room beyond the first %llu bytes of its buffer: the buffer is the "
		    "caller's bufsize bytes, however big (malloc's failure is -ENOMEM, no cap or "
		    "smaller buffer of your own), and the reads fill it (TODO 4; blocking.h: "
		    "\"through one buffer of bufsize bytes\")", pretend.calls,
		    (unsigned long long)(read_span.hi - read_span.lo));

	/* One buffer of 4 GiB + 8 KiB (malloc'd, never touched: no memory is
	 * used): read_full's answer for a full buffer is beyond 2 and 4 GiB.
	 * Not under SAN=1: AddressSanitizer's allocator fills the shadow of a
	 * whole block (an eighth of its size) at malloc and again at free, so
	 * this buffer would cost 512 MiB and some 4 s of CPU there; the plain
	 * grading, which is the grade, keeps it. */
	if (!__asan_init) {
		const size_t big = (size_t)(4 * GIB + 8192);

		/* First 3 GiB, which an int takes for a negative number. */
		pretend_span_set(5 * GIB + 123);
		got = SEAM_CALL(copy_file(src, grade_path("dst"), (size_t)(3 * GIB)));
		hooks_off();
		if (got == -ENOMEM && !heap_can_hold((size_t)(3 * GIB)))
			return;  /* this machine has no room for such a buffer: -ENOMEM is right */
		grade_check(got == (off_t)(5 * GIB + 123), "copy_file of a 5 GiB + 123-byte file "
			    "with bufsize 3 GiB returned %s after %ld read() calls, expected %llu: "
			    "any bufsize above 0 is a buffer size (a size_t); only 0 is -EINVAL. "
			    "Kept in an int, 3 GiB looks negative (and 4 GiB looks like 0): check "
			    "and use bufsize as the size_t it is (TODO 4; lesson: \"64-bit sizes "
			    "and offsets\")", grade_errno_str((ssize_t)got), pretend.calls,
			    5 * GIB + 123);

		pretend_span_set(5 * GIB + 123);
		got = SEAM_CALL(copy_file(src, grade_path("dst"), big));
		hooks_off();
		if (got == -ENOMEM && !heap_can_hold(big))
			return;  /* this machine has no room for such a buffer: -ENOMEM is right */
		grade_check(got == (off_t)(5 * GIB + 123), "copy_file of a 5 GiB + 123-byte file "
			    "with bufsize 4 GiB + 8 KiB returned %s after %ld read() calls, expected "
			    "%llu: read_full fills the whole buffer, 4 GiB + 8 KiB, and returns that "
			    "as an ssize_t; kept in an int (or an unsigned int) it wraps past 2 "
			    "(or 4) GiB, and a copy loop that believes it stops early or fails (TODO "
			    "4; lesson: \"64-bit sizes and offsets\")", grade_errno_str((ssize_t)got),
			    pretend.calls, 5 * GIB + 123);
		/* A bufsize cut to 8 KiB on its way (an unsigned int) asks for
		 * nothing beyond the first 8 KiB of the buffer. */
		grade_check(read_span.hi - read_span.lo >= span_wanted(big), "copy_file of a "
			    "5 GiB + 123-byte file with bufsize 4 GiB + 8 KiB made %ld read() calls, "
			    "none of them asking for room beyond the first %llu bytes of its buffer; "
			    "expected them to ask for all of it, or at least for the first "
			    "0x7ffff000 bytes (the most one read moves, read(2) NOTES): bufsize is a "
			    "size_t, and an unsigned int on its way cuts 4 GiB + 8 KiB to 8 KiB (TODO 4; blocking.h: \"through one buffer of bufsize "
			    "bytes\")", pretend.calls, (unsigned long long)(read_span.hi - read_span.lo));
	}
}

/* -------------------------------------------------------------- blk_batch_read */

/* A pread() that, the first time (or, with skip, after skip preads of the
 * first batch), runs a whole other blk_batch_read (two requests) before it
 * returns, as another thread's batch would run meanwhile: blocking.h lets
 * several threads call at once. */
static struct {
	struct batch_req *reqs;
	size_t n;
	int ret;
	int state;   /* 0: not yet, 1: running, 2: done */
	int skip;    /* preads of the first batch to let go by first */
} nested_batch;

static void nested_batch_runs(void)
{
	if (nested_batch.state != 0)
		return;
	if (nested_batch.skip > 0) {
		nested_batch.skip--;
		return;
	}
	nested_batch.state = 1;
	nested_batch.ret = blk_batch_read(nested_batch.reqs, nested_batch.n, 1);
	nested_batch.state = 2;
}

static ssize_t nesting_batch_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t k = SEAM_REAL(pread)(fd, buf, n, off);
	int saved = errno;

	nested_batch_runs();
	errno = saved;
	return k;
}

static ssize_t nesting_batch_pread64(int fd, void *buf, size_t n, off64_t off)
{
	ssize_t k = SEAM_REAL(pread64)(fd, buf, n, off);
	int saved = errno;

	nested_batch_runs();
	errno = saved;
	return k;
}

/*
 * blk_batch_read of a big batch in a thread of its own, with a stack of
 * 1 MiB (as many programs give their threads: a library function cannot
 * count on more) and 256 MiB of guard pages below it: a module that puts something of n's size on the
 * stack (a variable-length array of indices, pointers or requests) runs
 * into the guard, every time, instead of writing over whatever memory lies
 * below the stack. The fault is caught in that thread (on a stack of its
 * own) and reported as what it is.
 */
#define BIG_BATCH_STACK ((size_t)1 << 20)
#define BIG_BATCH_GUARD ((size_t)256 << 20)

static struct {
	struct batch_req *reqs;
	size_t n;
	int ret;
	int state;            /* 0: not run, 1: running, 2: returned, 3: a fault */
	int sig;              /* the fault's signal                              */
	uintptr_t addr;       /* ...and the address it was at                    */
	uintptr_t stack_lo;   /* the lowest address of the thread's stack         */
} big_batch;
static sigjmp_buf big_batch_jump;

static void big_batch_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	big_batch.sig = sig;
	big_batch.addr = (uintptr_t)si->si_addr;
	siglongjmp(big_batch_jump, 1);
}

/* The fault was in the guard pages below the thread's stack: it ran out. */
static bool big_batch_overflowed(void)
{
	return big_batch.stack_lo && big_batch.addr < big_batch.stack_lo &&
	       big_batch.addr + BIG_BATCH_GUARD + 65536 >= big_batch.stack_lo;
}

static void *big_batch_main(void *arg)
{
	static char alt[64 * 1024];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, no_ss = { .ss_flags = SS_DISABLE };
	struct sigaction sa, old_segv, old_bus;

	pthread_attr_t self;
	void *lo;
	size_t size;

	(void)arg;
	if (pthread_getattr_np(pthread_self(), &self) == 0) {
		if (pthread_attr_getstack(&self, &lo, &size) == 0)
			big_batch.stack_lo = (uintptr_t)lo;
		pthread_attr_destroy(&self);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = big_batch_fault;
	sa.sa_flags = SA_ONSTACK | SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, &old_segv) != 0 ||
	    sigaction(SIGBUS, &sa, &old_bus) != 0)
		return NULL;
	big_batch.state = 1;
	if (sigsetjmp(big_batch_jump, 1) == 0) {
		big_batch.ret = SEAM_CALL(blk_batch_read(big_batch.reqs, big_batch.n, 1));
		big_batch.state = 2;
	} else {
		seam_disarm();
		big_batch.state = 3;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	sigaltstack(&no_ss, NULL);
	return NULL;
}

/*
 * blk_batch_read of an array that ends where the mapped memory ends: the
 * page after reqs[n - 1] is PROT_NONE, so a module that reads (not only
 * writes) a request past the end of the batch, reqs[n] (a look ahead whose
 * bound is off by one, i + k <= n instead of i + k < n), faults every time
 * instead of reading whatever lies after the caller's array. The fault is
 * caught and reported with the address; *faulted says whether it came.
 */
static sigjmp_buf edge_jump;
static volatile uintptr_t edge_addr;

static void edge_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	edge_addr = (uintptr_t)si->si_addr;
	siglongjmp(edge_jump, 1);
}

static int batch_at_edge(struct batch_req *reqs, size_t n, unsigned qd, bool *faulted)
{
	struct sigaction sa, old_segv, old_bus;
	volatile int ret = -ENOSYS;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = edge_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	*faulted = false;
	if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0)
		grade_fail("sigaction: %s", strerror(errno));
	if (sigsetjmp(edge_jump, 1) == 0) {
		ret = SEAM_CALL(blk_batch_read(reqs, n, qd));
	} else {
		seam_disarm();
		*faulted = true;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return ret;
}

GRADE_TEST(batch, arguments, 1,
	   "blk_batch_read: qd 0 and a NULL array are -EINVAL; n == 0 with NULL is 0; the "
	   "request after the batch is not touched, the others keep their place; length 0 at "
	   "offset -1 is -EINVAL, and needs no buffer; a request on descriptor -1 fails alone, "
	   "with pread_full's answer, and so does one of 100 bytes without a buffer; qd 65536 and 2^31 are accepted; 10000 requests are one batch, and "
	   "400,000 called from a thread with a 1 MiB stack; no memory and a second caller "
	   "meanwhile leave no request unread",
	   "TODO 5: check the arguments before the loop: only qd == 0 (qd is an unsigned: any "
	   "other value is accepted) and (reqs == NULL with n > 0) are -EINVAL; the loop runs "
	   "for i < n, whatever n is (10000 and 400000 too: nothing of n's size on the stack); "
	   "every request, length 0 and descriptor -1 included, gets pread_full's answer, no "
	   "check of your own before it (chapters/common/batch.h, blocking.h)")
{
	unsigned char *data = grade_random_bytes(10 * 100);
	int fd = grade_open(grade_make_file("f", data, 10 * 100), O_RDONLY);
	struct batch_req one = { -1, 0, 0, NULL, 7 };
	char bufs[11][100];
	/* reqs[10] lies just past the batch: it must not be touched. */
	struct batch_req reqs[11];
	int ret = SEAM_CALL(blk_batch_read(&one, 1, 0));

	grade_check(ret == -EINVAL, "blk_batch_read with qd 0 returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	/* qd 0 is -EINVAL also when there is nothing to read. */
	for (int k = 0; k < 2; k++) {
		ret = SEAM_CALL(blk_batch_read(k ? NULL : &one, 0, 0));
		grade_check(ret == -EINVAL, "blk_batch_read(%s, 0, 0) returned %s, expected "
			    "-EINVAL: qd == 0 is an error whatever n is; check qd before returning "
			    "early for an empty batch (blocking.h)", k ? "NULL" : "reqs",
			    grade_errno_str(ret));
	}
	ret = SEAM_CALL(blk_batch_read(NULL, 3, 4));
	grade_check(ret == -EINVAL, "blk_batch_read(NULL, 3, 4) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(blk_batch_read(NULL, 1, 4));
	grade_check(ret == -EINVAL, "blk_batch_read(NULL, 1, 4) returned %s, expected -EINVAL "
		    "(any n > 0 with a NULL array)", grade_errno_str(ret));
	ret = SEAM_CALL(blk_batch_read(NULL, 0, 4));
	grade_check(ret == 0, "blk_batch_read(NULL, 0, 4) returned %s, expected 0: an empty "
		    "batch is no error, whatever reqs is", grade_errno_str(ret));
	for (int i = 0; i < 10; i++)
		reqs[i] = (struct batch_req){ fd, 100 * (9 - i), 100, bufs[i], -1 };
	reqs[10] = (struct batch_req){ fd, 0, 100, bufs[10], 777 };
	ret = SEAM_CALL(blk_batch_read(reqs, 10, 3));
	grade_check(ret == 0, "blk_batch_read(reqs, 10, 3) returned %s, expected 0",
		    grade_errno_str(ret));
	grade_check(reqs[10].res == 777, "blk_batch_read(reqs, 10, 3) also read reqs[10], one "
		    "past the end of the batch (res became %s): the loop runs for i < n",
		    grade_errno_str(reqs[10].res));
	for (int i = 0; i < 10; i++)
		grade_check(reqs[i].fd == fd && reqs[i].offset == 100 * (9 - i) &&
			    reqs[i].len == 100 && reqs[i].buf == bufs[i], "after blk_batch_read, "
			    "reqs[%d] reads %zu bytes at offset %lld into %s, not 100 at offset %d into "
			    "its own buffer: the caller owns the array, and the batch writes only each "
			    "request's res; to read in another order, sort an array of your own, never "
			    "the caller's (chapters/common/batch.h: \"The caller owns reqs\")", i,
			    reqs[i].len, (long long)reqs[i].offset, reqs[i].buf == bufs[i] ?
			    "its own buffer" : "another buffer", 100 * (9 - i));
	for (int i = 0; i < 10; i++) {
		grade_check(reqs[i].res == 100, "request %d has res %s, expected 100", i,
			    grade_errno_str(reqs[i].res));
		grade_check_same(bufs[i], data + 100 * (9 - i), 100, "blk_batch_read");
	}
	/* A request of length 0 is still checked: its res is pread_full's answer,
	 * and pread_full checks offset < 0 first, also when len == 0. */
	reqs[0] = (struct batch_req){ fd, 0, 0, bufs[0], 7 };
	reqs[1] = (struct batch_req){ fd, -1, 0, bufs[1], 7 };
	ret = SEAM_CALL(blk_batch_read(reqs, 2, 1));
	grade_check(ret == 0, "blk_batch_read of two requests of length 0 returned %s, expected 0",
		    grade_errno_str(ret));
	grade_check(reqs[0].res == 0 && reqs[1].res == -EINVAL, "requests of length 0: at offset "
		    "0 res is %s (expected 0), at offset -1 %s (expected -EINVAL): a request of "
		    "length 0 is not skipped; its res is what pread_full answers, and pread_full "
		    "checks offset < 0 first, also when len == 0 (blocking.h)",
		    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));

	/* A request on descriptor -1 fails alone, with what pread answers for
	 * it; the batch is no error, and the others are read. */
	reqs[0] = (struct batch_req){ fd, 0, 100, bufs[0], 7 };
	reqs[1] = (struct batch_req){ -1, 0, 100, bufs[1], 7 };
	reqs[2] = (struct batch_req){ fd, 200, 100, bufs[2], 7 };
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 2));
	grade_check(ret == 0, "blk_batch_read of 3 requests, the second on descriptor -1, "
		    "returned %s, expected 0: a bad request is that request's error, in its res, "
		    "and the others still run; the whole batch is -EINVAL only for qd == 0 or "
		    "reqs == NULL with n > 0 (chapters/common/batch.h: \"for this request alone; "
		    "the other requests still run\"; TODO 5)", grade_errno_str(ret));
	grade_check(reqs[1].res == -EBADF, "the request on descriptor -1 has res %s, expected "
		    "-EBADF: each request's res is pread_full's answer for it (man 2 pread, "
		    "ERRORS)", grade_errno_str(reqs[1].res));
	grade_check(reqs[0].res == 100 && reqs[2].res == 100, "beside a request on descriptor "
		    "-1, the others got res %s and %s, expected 100 each",
		    grade_errno_str(reqs[0].res), grade_errno_str(reqs[2].res));
	grade_check_same(bufs[0], data, 100, "blk_batch_read beside a bad request");
	grade_check_same(bufs[2], data + 200, 100, "blk_batch_read beside a bad request");

	/* Two things wrong with one request: descriptor -1 and offset -1, or
	 * descriptor -1 and length 0. Its res is what pread_full answers for
	 * it: -EINVAL, the offset being checked first (pread(2) itself says
	 * EINVAL there), and 0 for a length of 0, whatever the descriptor. */
	reqs[0] = (struct batch_req){ -1, -1, 100, bufs[0], 7 };
	reqs[1] = (struct batch_req){ -1, 0, 0, bufs[1], 7 };
	reqs[2] = (struct batch_req){ fd, 300, 100, bufs[2], 7 };
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 2));
	grade_check(ret == 0 && reqs[2].res == 100, "blk_batch_read of 3 requests, two of them "
		    "on descriptor -1, returned %s and gave the good one res %s, expected 0 and 100",
		    grade_errno_str(ret), grade_errno_str(reqs[2].res));
	grade_check(reqs[0].res == -EINVAL && reqs[1].res == 0, "on descriptor -1, the request "
		    "at offset -1 got res %s (expected -EINVAL) and the one of length 0 got %s "
		    "(expected 0): each request's res is pread_full's answer for it, and "
		    "pread_full checks offset < 0 first, then returns 0 for len == 0 without "
		    "calling pread, whatever fd is; a check of the descriptor of your own before "
		    "pread_full answers -EBADF for both (TODO 5; blocking.h, pread_full and "
		    "blk_batch_read)", grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));

	/* A request with no buffer (buf == NULL): one of length 0 needs none,
	 * so its res is 0 (or -EINVAL at offset -1), as pread_full answers
	 * for len == 0 whatever buf is (01.22). */
	reqs[0] = (struct batch_req){ fd, 0, 0, NULL, 7 };
	reqs[1] = (struct batch_req){ fd, -1, 0, NULL, 7 };
	reqs[2] = (struct batch_req){ fd, 500, 100, bufs[2], 7 };
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 2));
	grade_check(ret == 0 && reqs[2].res == 100, "blk_batch_read of 3 requests, two of length "
		    "0 with buf == NULL, returned %s and gave the one with a buffer res %s, expected "
		    "0 and 100", grade_errno_str(ret), grade_errno_str(reqs[2].res));
	grade_check(reqs[0].res == 0 && reqs[1].res == -EINVAL, "requests of length 0 with buf "
		    "== NULL got res %s (at offset 0, expected 0) and %s (at offset -1, expected "
		    "-EINVAL): a request of length 0 needs no buffer, and each request's res is "
		    "pread_full's answer for it, which checks the offset, then returns 0 for len "
		    "== 0 whatever buf is; a check of buf of your own before pread_full answers "
		    "-EFAULT or -EINVAL for both (TODO 5; blocking.h, pread_full and "
		    "blk_batch_read)", grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));

	/* A request of 100 bytes with no buffer is that request's error alone
	 * (pread(2) answers EFAULT), not a reason to refuse the whole batch:
	 * the batch as a whole fails only for qd == 0 or reqs == NULL. */
	reqs[0] = (struct batch_req){ fd, 0, 100, bufs[0], 7 };
	reqs[1] = (struct batch_req){ fd, 100, 100, NULL, 7 };
	reqs[2] = (struct batch_req){ fd, 600, 100, bufs[2], 7 };
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 2));
	grade_check(ret == 0 && reqs[0].res == 100 && reqs[2].res == 100, "blk_batch_read of 3 "
		    "requests, the second of 100 bytes with buf == NULL, returned %s and gave the "
		    "others res %s and %s; expected 0, and 100 each: a request without a buffer is "
		    "an error for that request alone, in its res (pread_full answers -EFAULT: "
		    "pread(2), ERRORS), and the other requests still run; the whole batch is an "
		    "error only for qd == 0 or reqs == NULL with n > 0 (TODO 5; chapters/common/"
		    "batch.h: \"for this request alone; the other requests still run\")",
		    grade_errno_str(ret), grade_errno_str(reqs[0].res), grade_errno_str(reqs[2].res));
	grade_check(reqs[1].res < 0, "the request of 100 bytes with buf == NULL got res %s, "
		    "expected a negative errno (pread(2) answers EFAULT)",
		    grade_errno_str(reqs[1].res));
	grade_check_same(bufs[0], data, 100, "blk_batch_read beside a request without a buffer");
	grade_check_same(bufs[2], data + 600, 100, "blk_batch_read beside a request without a "
			 "buffer");

	/* The array may end where the caller's memory ends: nothing past
	 * reqs[n - 1] is read either (a look ahead bounded by i + k <= n reads
	 * reqs[n]). Four requests end at a page that is not mapped. */
	{
		long pg = sysconf(_SC_PAGESIZE);
		char *map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		static const unsigned edge_qds[] = { 1, 2, 3, 4, 5, 64 };

		if (map == MAP_FAILED || mprotect(map + pg, (size_t)pg, PROT_NONE) != 0)
			grade_fail("mmap/mprotect: %s", strerror(errno));
		for (int k = 0; k < 6; k++) {
			struct batch_req *edge = (struct batch_req *)(map + pg) - 4;
			bool faulted;

			for (int j = 0; j < 4; j++)
				edge[j] = (struct batch_req){ fd, 100 * (j + 1), 100, bufs[j], 7 };
			ret = batch_at_edge(edge, 4, edge_qds[k], &faulted);
			grade_check(!faulted, "blk_batch_read(reqs, 4, %u) read memory past the end "
				    "of the array (it faulted at %s reqs[3]): the batch is reqs[0] to "
				    "reqs[n - 1], and what lies after it is the caller's, maybe not "
				    "even mapped (here: a page that is not); a look ahead (read-ahead "
				    "of the next requests) must stop at i + k < n, not <= n (TODO 5; "
				    "chapters/common/batch.h)", edge_qds[k],
				    edge_addr >= (uintptr_t)(map + pg) ? "an address past" :
				    "an address before the end of");
			grade_check(ret == 0 && edge[0].res == 100 && edge[3].res == 100,
				    "blk_batch_read(reqs, 4, %u) of 4 requests at the end of a page "
				    "returned %s with res %s and %s, expected 0 and 100 each",
				    edge_qds[k], grade_errno_str(ret), grade_errno_str(edge[0].res),
				    grade_errno_str(edge[3].res));
			if (faulted)
				break;
		}
		munmap(map, 2 * (size_t)pg);
	}

	/* Any qd from 1 to UINT_MAX is accepted, 65536 and 2^31 too: kept in
	 * a type narrower than unsigned, they would become 0. */
	{
		static const unsigned qds[] = { 1u << 16, 1u << 31, (1u << 24) + (1u << 8) };

		for (int k = 0; k < 3; k++) {
			reqs[0] = (struct batch_req){ fd, 400, 100, bufs[0], 7 };
			ret = SEAM_CALL(blk_batch_read(reqs, 1, qds[k]));
			grade_check(ret == 0 && reqs[0].res == 100, "blk_batch_read(reqs, 1, %u) "
				    "returned %s with res %s, expected 0 and 100: any qd from 1 to "
				    "UINT_MAX is accepted (blocking.h); qd is an unsigned, and passed "
				    "through a narrower type (uint16_t, unsigned char) %u becomes 0 "
				    "(TODO 5)", qds[k], grade_errno_str(ret),
				    grade_errno_str(reqs[0].res), qds[k]);
		}
	}

	/* A big batch: 10000 requests of one byte each. Any n is one batch. */
	{
		const size_t many = 10000;
		struct batch_req *big = grade_xmalloc(many * sizeof(*big));
		unsigned char *bytes = grade_xmalloc(many);
		size_t unread = 0;

		for (size_t i = 0; i < many; i++)
			big[i] = (struct batch_req){ fd, (off_t)(i * 7 % 1000), 1, bytes + i, 7 };
		ret = SEAM_CALL(blk_batch_read(big, many, 64));
		for (size_t i = 0; i < many; i++)
			unread += big[i].res != 1 || bytes[i] != data[i * 7 % 1000];
		grade_check(ret == 0 && unread == 0, "blk_batch_read of %zu requests of one byte "
			    "each (qd 64) returned %s, and %zu request(s) lack their byte; expected 0 "
			    "and every one read: a batch may hold any number of requests, and the "
			    "function returns 0 once each has its res (blocking.h); no table of a "
			    "fixed size of your own: allocate what n needs, or need nothing "
			    "(TODO 5; lesson: \"The exercise\")", many, grade_errno_str(ret), unread);
		free(big);
		free(bytes);
	}

	/* Every allocation of the module fails: the batch is -ENOMEM (its res
	 * then unspecified), or it is done without them; 0 with a request
	 * left unread is neither. */
	{
		int unread = 0;

		for (int i = 0; i < 3; i++) {
			reqs[i] = (struct batch_req){ fd, 100 * (i + 1), 100, bufs[i], 7 };
			memset(bufs[i], 0, sizeof(bufs[i]));
		}
		seam_heap_fail(1, -1);
		ret = SEAM_CALL(blk_batch_read(reqs, 3, 2));
		seam_heap_fail(0, 0);
		for (int i = 0; i < 3; i++)
			unread += reqs[i].res != 100 ||
				  grade_first_diff(bufs[i], data + 100 * (i + 1), 100) >= 0;
		grade_check(ret == -ENOMEM || (ret == 0 && unread == 0), "with every malloc "
			    "failing, blk_batch_read of 3 requests returned %s and %d of them lack "
			    "their res or bytes; expected 0 with each one read (pread_full needs no "
			    "memory), or -ENOMEM for the whole batch: 0 means every request has its "
			    "res (chapters/common/batch.h: \"returns 0 once every request has its "
			    "res, or a negated errno ... resources: -ENOMEM\"; TODO 5)",
			    grade_errno_str(ret), unread);
	}

	/* Two callers, as two threads would be: another blk_batch_read (two
	 * requests) runs to its end between two preads of this one: first
	 * during its first pread, then (its requests of other lengths) during
	 * its third, once this one has answers to keep: a table of answers
	 * that both calls share comes out wrong for the first one. */
	for (int round = 0; round < 2; round++) {
		struct batch_req other[2];
		size_t olen[2] = { round ? 50 : 100, round ? 70 : 100 };
		int unread = 0, ounread = 0;

		for (int i = 0; i < 3; i++) {
			reqs[i] = (struct batch_req){ fd, 100 * i, 100, bufs[i], 7 };
			memset(bufs[i], 0, sizeof(bufs[i]));
		}
		/* Its offsets go down, this one's up: an order of reading kept in a
		 * table that both calls share comes out wrong for one of them. */
		for (int i = 0; i < 2; i++) {
			other[i] = (struct batch_req){ fd, 600 - 100 * i, olen[i], bufs[3 + i], 7 };
			memset(bufs[3 + i], 0, sizeof(bufs[3 + i]));
		}
		nested_batch.reqs = other;
		nested_batch.n = 2;
		nested_batch.ret = 7;
		nested_batch.state = 0;
		nested_batch.skip = round ? 2 : 0;
		seam_hook_pread = nesting_batch_pread;
		seam_hook_pread64 = nesting_batch_pread64;
		ret = SEAM_CALL(blk_batch_read(reqs, 3, 3));
		hooks_off();
		nested_batch.skip = 0;
		for (int i = 0; i < 3; i++)
			unread += reqs[i].res != 100 || grade_first_diff(bufs[i], data + 100 * i, 100) >= 0;
		for (int i = 0; i < 2; i++)
			ounread += other[i].res != (ssize_t)olen[i] ||
				   grade_first_diff(bufs[3 + i], data + 600 - 100 * i, olen[i]) >= 0;
		/* The second round needs a third pread: a batch that reads its
		 * three requests in fewer preads is only checked by the first. */
		if (round == 1 && nested_batch.state == 0 && ret == 0 && unread == 0)
			continue;
		grade_check(nested_batch.state == 2, "blk_batch_read of 3 requests returned %s "
			    "without calling pread(2)", grade_errno_str(ret));
		grade_check(ret == 0 && unread == 0 && nested_batch.ret == 0 && ounread == 0,
			    "blk_batch_read of 3 requests returned %s with %d of them unread or wrong, "
			    "and another blk_batch_read of 2 requests (of %zu and %zu bytes), run to its "
			    "end during the %s of its preads (as another thread's would be), returned "
			    "%s with %d unread or wrong; "
			    "expected 0 and every request read, in both: several threads may call at "
			    "once, and a batch keeps its state to itself (local variables), with no "
			    "static \"busy\" flag, index or table (of answers too) shared by every call "
			    "(TODO 5; blocking.h: \"Each call keeps its progress to itself\")",
			    grade_errno_str(ret), unread, olen[0], olen[1],
			    round ? "third" : "first", grade_errno_str(nested_batch.ret), ounread);
	}

	/* A big batch, 400,000 requests of length 0 (no pread at all), in a
	 * thread with a stack of 1 MiB: the batch needs no memory of n's
	 * size, and none of it may be on the stack. */
	{
		const size_t many = 400000;
		pthread_attr_t attr;
		pthread_t th;
		size_t wrong = 0;

		big_batch.reqs = grade_xmalloc(many * sizeof(*big_batch.reqs));
		big_batch.n = many;
		big_batch.ret = 7;
		big_batch.state = 0;
		big_batch.sig = 0;
		big_batch.addr = 0;
		big_batch.stack_lo = 0;
		for (size_t i = 0; i < many; i++)
			big_batch.reqs[i] = (struct batch_req){ fd, (off_t)(i % 1000), 0, data, 7 };
		grade_check(pthread_attr_init(&attr) == 0 &&
			    pthread_attr_setstacksize(&attr, BIG_BATCH_STACK) == 0 &&
			    pthread_attr_setguardsize(&attr, BIG_BATCH_GUARD) == 0 &&
			    pthread_create(&th, &attr, big_batch_main, NULL) == 0,
			    "harness: cannot start a thread with a 1 MiB stack");
		pthread_join(th, NULL);
		pthread_attr_destroy(&attr);
		grade_check(big_batch.state != 3 || !big_batch_overflowed(), "blk_batch_read of "
			    "%zu requests, called from a thread with a stack of 1 MiB, ran "
			    "out of that stack (it wrote below its end, into the guard pages): "
			    "something of the batch's size is on the stack, a variable-length array "
			    "(of indices, pointers or requests) perhaps. The caller's stack may be "
			    "1 MiB or less, and the batch may hold any number of requests: read them in the "
			    "caller's order and need nothing, or malloc what n needs (and -ENOMEM "
			    "when there is none) (TODO 5; lesson: \"The exercise\")", many);
		grade_check(big_batch.state != 3, "blk_batch_read of %zu requests of length 0 "
			    "crashed with SIG%s at address %#llx (a bad pointer: not its stack "
			    "running out)", many, sigabbrev_np(big_batch.sig) ?
			    sigabbrev_np(big_batch.sig) : "?", (unsigned long long)big_batch.addr);
		grade_check(big_batch.state == 2, "harness: the thread of the big batch did not run");
		for (size_t i = 0; i < many; i++)
			wrong += big_batch.reqs[i].res != 0;
		grade_check(big_batch.ret == -ENOMEM || (big_batch.ret == 0 && wrong == 0),
			    "blk_batch_read of %zu requests of length 0 returned %s and %zu of them "
			    "have a res other than 0: expected 0 and each one's res 0 (or -ENOMEM for "
			    "the whole batch)", many, grade_errno_str(big_batch.ret), wrong);
		free(big_batch.reqs);
	}
	close(fd);
	free(data);
}

/* Another writer of the file: once a pread() of fd has brought the last
 * bytes of the range [at, at + len), new bytes are written there, so a
 * later read of the same range finds them. */
static struct changer_state {
	int fd, wfd;
	off_t at;
	size_t len;
	const unsigned char *fresh;
	bool changed;
} changer;

static void changer_after(int fd, off_t off, ssize_t k)
{
	if (changer.changed || fd != changer.fd || k <= 0 || off < changer.at ||
	    off + k < changer.at + (off_t)changer.len)
		return;
	changer.changed = true;
	if (SEAM_REAL(pwrite)(changer.wfd, changer.fresh, changer.len, changer.at) !=
	    (ssize_t)changer.len)
		seam_violate("harness: cannot rewrite the file: %s", strerror(errno));
}

static ssize_t changing_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t k = SEAM_REAL(pread)(fd, buf, n, off);
	int saved = errno;

	changer_after(fd, off, k);
	errno = saved;
	return k;
}

static ssize_t changing_pread64(int fd, void *buf, size_t n, off64_t off)
{
	ssize_t k = SEAM_REAL(pread64)(fd, buf, n, off);
	int saved = errno;

	changer_after(fd, (off_t)off, k);
	errno = saved;
	return k;
}

GRADE_TEST(batch, error_after_progress, 1,
	   "blk_batch_read: a request whose pread() fails after a short one gets -EIO; one "
	   "whose preads fail with EINTR now and then (or a signal interrupts) is read whole; "
	   "a 0 from pread ends a request; two requests for the same bytes are two reads",
	   "TODO 5 (and TODO 2): res is pread_full's answer, and pread_full returns -errno "
	   "for an error even after a short pread, not the bytes so far, and calls pread "
	   "again after EINTR; every request is read on its own, two alike too")
{
	unsigned char *data = grade_random_bytes(8192);
	int fd = grade_open(grade_make_file("f", data, 8192), O_RDONLY);
	int bad = dup(fd);
	char bufs[3][4096];
	struct batch_req reqs[3] = {
		{ fd, 0, 4096, bufs[0], 1 },
		{ bad, 100, 4000, bufs[1], 1 },  /* 1000 bytes, then EIO */
		{ fd, 4096, 4096, bufs[2], 1 },
	};
	int ret;

	grade_check(bad >= 0, "harness: dup: %s", strerror(errno));
	script_set(&rd_script, bad, 1000, 0, 2, EIO);
	hooks_script();
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 4));
	hooks_off();
	grade_check(ret == 0, "blk_batch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[1].res == -EIO, "request 1: pread() returned 1000, then failed with "
		    "EIO; res is %s, expected -EIO", grade_errno_str(reqs[1].res));
	grade_check(reqs[0].res == 4096 && reqs[2].res == 4096, "requests 0 and 2: res %s and "
		    "%s, expected 4096 each", grade_errno_str(reqs[0].res),
		    grade_errno_str(reqs[2].res));
	grade_check_same(bufs[0], data, 4096, "request 0");
	grade_check_same(bufs[2], data + 4096, 4096, "request 2");

	/* Request 1 again: now its preads bring at most 1000 bytes and every
	 * second one fails with EINTR (a signal): no error, the request is read
	 * whole, as pread_full reads it. */
	for (int i = 0; i < 3; i++)
		reqs[i].res = 1;
	memset(bufs[1], 0, sizeof(bufs[1]));
	script_set(&rd_script, bad, 1000, 2, 0, 0);
	hooks_script();
	ret = SEAM_CALL(blk_batch_read(reqs, 3, 4));
	hooks_off();
	grade_check(ret == 0, "blk_batch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[1].res == 4000, "request 1 (4000 bytes at offset 100): every second "
		    "pread() failed with EINTR and the others brought at most 1000 bytes; res is %s, "
		    "expected 4000: EINTR means \"call it again\", in a batch too; read each "
		    "request with pread_full, which already retries it and continues short preads "
		    "(TODO 5; lesson: \"EINTR and SA_RESTART\")", grade_errno_str(reqs[1].res));
	grade_check_same(bufs[1], data + 100, 4000, "request 1 after EINTRs");
	grade_check(reqs[0].res == 4096 && reqs[2].res == 4096, "requests 0 and 2: res %s and "
		    "%s, expected 4096 each", grade_errno_str(reqs[0].res),
		    grade_errno_str(reqs[2].res));

	/* A real signal (SIGUSR1, handler without SA_RESTART) while the batch's
	 * first pread() waits: its handler runs then, not after the batch. */
	{
		struct sigaction sa, old_sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sig_pread;
		sigemptyset(&sa.sa_mask);
		grade_check(sigaction(SIGUSR1, &sa, &old_sa) == 0, "harness: sigaction: %s",
			    strerror(errno));
		for (int i = 0; i < 3; i++)
			reqs[i].res = 1;
		sig_pread.ran = 0;
		sig_pread.calls = 0;
		sig_pread.held_back = false;
		seam_hook_pread = signalled_pread;
		seam_hook_pread64 = signalled_pread64;
		ret = SEAM_CALL(blk_batch_read(reqs, 3, 4));
		seam_hook_pread = NULL;
		seam_hook_pread64 = NULL;
		sigaction(SIGUSR1, &old_sa, NULL);
		grade_check(!sig_pread.held_back, "a signal (SIGUSR1) came while blk_batch_read was "
			    "inside its first pread(), and its handler did not run until the batch "
			    "let it (blk_batch_read returned %s): does your code block signals "
			    "(sigprocmask, pthread_sigmask) around the batch? The program's signals "
			    "are not the batch's to hold back; pread_full already calls pread again "
			    "after EINTR (TODO 5; lesson: \"EINTR and SA_RESTART\")",
			    grade_errno_str(ret));
		grade_check(ret == 0 && reqs[0].res == 4096 && reqs[1].res == 4000 &&
			    reqs[2].res == 4096, "blk_batch_read returned %s with res %s, %s and %s "
			    "when a signal interrupted its first pread() (EINTR); expected 0 with "
			    "4096, 4000 and 4096", grade_errno_str(ret), grade_errno_str(reqs[0].res),
			    grade_errno_str(reqs[1].res), grade_errno_str(reqs[2].res));
	}

	/* One request whose pread() brings 1000 bytes, then 0 (end of file):
	 * the 0 ends it, as it ends pread_full (01.09); a second pread there
	 * would take bytes a writer appended after the end. */
	reqs[0].res = 1;
	eof_calls = eof_after = 0;
	seam_hook_pread = eof_then_more_pread;
	seam_hook_pread64 = eof_then_more_pread64;
	ret = SEAM_CALL(blk_batch_read(reqs, 1, 4));
	seam_hook_pread = NULL;
	seam_hook_pread64 = NULL;
	grade_check(ret == 0 && reqs[0].res == 1000 && eof_after == 0, "a request of 4096 bytes "
		    "whose pread() returned 1000 bytes, then 0 (end of file): blk_batch_read "
		    "returned %s, gave it res %s and called pread() %ld more time(s) after the 0; "
		    "expected 0, res 1000 and none: the end of file is where pread returns 0, the "
		    "first time (TODO 5: read each request with pread_full; blocking.h: \"read "
		    "returning 0 means end of file: stop, do not retry\")", grade_errno_str(ret),
		    grade_errno_str(reqs[0].res), eof_after);

	/* Two requests for the same 4096 bytes, and the file changes there
	 * (another writer) once the first of them has been read: each request
	 * is a read of its own, so one finds the old bytes and the other the
	 * new ones, in whichever order the batch served them. */
	{
		unsigned char *fresh = grade_random_bytes(4096);
		int wfd = grade_open(grade_path("f"), O_WRONLY);
		bool old_new, new_old;

		changer = (struct changer_state){ .fd = fd, .wfd = wfd, .at = 4096, .len = 4096,
					     .fresh = fresh };
		reqs[0] = (struct batch_req){ fd, 4096, 4096, bufs[0], 1 };
		reqs[1] = (struct batch_req){ fd, 4096, 4096, bufs[1], 1 };
		memset(bufs, 0, sizeof(bufs));
		seam_hook_pread = changing_pread;
		seam_hook_pread64 = changing_pread64;
		ret = SEAM_CALL(blk_batch_read(reqs, 2, 2));
		seam_hook_pread = NULL;
		seam_hook_pread64 = NULL;
		close(wfd);
		old_new = !memcmp(bufs[0], data + 4096, 4096) && !memcmp(bufs[1], fresh, 4096);
		new_old = !memcmp(bufs[0], fresh, 4096) && !memcmp(bufs[1], data + 4096, 4096);
		grade_check(ret == 0 && reqs[0].res == 4096 && reqs[1].res == 4096 &&
			    (old_new || new_old), "two requests of a batch for the same 4096 bytes "
			    "(same descriptor, offset and length), and the file rewritten there by "
			    "another writer once the first of them was read: blk_batch_read "
			    "returned %s with res %s and %s, and %s; expected 0, 4096 each, and the "
			    "old bytes in one buffer, the new ones in the other: every request is a "
			    "read of its own, with pread_full, even one that looks like another; an "
			    "answer copied from another request is the file as it was, not as it is "
			    "(TODO 5; batch.h: \"For each one the implementation reads\")",
			    grade_errno_str(ret), grade_errno_str(reqs[0].res),
			    grade_errno_str(reqs[1].res), !changer.changed ? "the file was never "
			    "read there" : (!memcmp(bufs[0], bufs[1], 4096) ? "both buffers hold "
			    "the same bytes" : "the buffers hold other bytes"));
		free(fresh);
	}
	close(bad);
	close(fd);
	free(data);
}

/* One descriptor of a batch whose preads only pretend (pretend_move); the
 * others read for real. */
static int pretend_fd = -1;

static ssize_t pretend_fd_pread(int fd, void *buf, size_t n, off_t off)
{
	return fd == pretend_fd ? pretend_move(buf, n, off, true, false)
				: SEAM_REAL(pread)(fd, buf, n, off);
}

static ssize_t pretend_fd_pread64(int fd, void *buf, size_t n, off64_t off)
{
	return fd == pretend_fd ? pretend_move(buf, n, off, true, false)
				: SEAM_REAL(pread64)(fd, buf, n, off);
}

GRADE_TEST(batch, three_gib_request, 1,
	   "blk_batch_read: one request of 5 GiB (no data moves) beside an ordinary one",
	   "TODO 5: a request's length (a size_t) and answer (pread_full's ssize_t) are 64 "
	   "bits: never pass them through an int or an unsigned int on their way to "
	   "pread_full and to res; res is what pread_full read, however big the request "
	   "(lesson: \"64-bit sizes and offsets\")")
{
	unsigned char *data = grade_random_bytes(512);
	int fd = grade_open(grade_make_file("f", data, 512), O_RDONLY);
	char buf[512], *base;
	struct batch_req reqs[2];
	int ret;

	reqs[0] = (struct batch_req){ fd, 0, 512, buf, 1 };
	/* 5 GiB at offset 1 GiB of a descriptor whose preads only pretend: the
	 * file has 5 GiB + 5 bytes from there; nothing really moves. Past
	 * 2 GiB an int wraps, past 4 GiB an unsigned int. */
	pretend_fd = dup(fd);
	grade_check(pretend_fd >= 0, "harness: dup: %s", strerror(errno));
	base = reserve(5 * GIB + 4096);
	pretend_set(base, (off_t)GIB, 5 * GIB + 5);
	reqs[1] = (struct batch_req){ pretend_fd, (off_t)GIB, (size_t)(5 * GIB), base, 1 };
	seam_hook_pread = pretend_fd_pread;
	seam_hook_pread64 = pretend_fd_pread64;
	ret = SEAM_CALL(blk_batch_read(reqs, 2, 2));
	hooks_off();
	unreserve(base, 5 * GIB + 4096);
	close(pretend_fd);
	grade_check(ret == 0, "blk_batch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[1].res == (ssize_t)(5 * GIB), "request 1 (5 GiB at offset 1 GiB): res "
		    "is %s after %ld pread() calls, expected %llu%s", grade_errno_str(reqs[1].res),
		    pretend.calls, 5 * GIB, reqs[1].res == (ssize_t)GIB ? ": 1 GiB is 5 GiB cut to "
		    "32 bits: the length is a size_t and res an ssize_t, and an int or an "
		    "unsigned int on the way (for the request's len or its answer) wraps" : "");
	/* res is what the preads brought, added up: a 5 GiB answer with fewer
	 * bytes read is a length copied into res, not a read. */
	grade_check(pretend.done == 5 * GIB, "request 1 (5 GiB at offset 1 GiB): res is %s, but "
		    "its %ld pread() call(s) brought %llu bytes in all, expected %llu: res is the "
		    "count pread_full read, added up from pread's answers, never the request's "
		    "len copied in (not for a big request either: each one is read, whatever its "
		    "size) (TODO 5; batch.h: \"res >= 0 bytes read\")", grade_errno_str(reqs[1].res),
		    pretend.calls, pretend.done, 5 * GIB);
	grade_check(reqs[0].res == 512, "request 0 (512 bytes at offset 0): res is %s, expected "
		    "512", grade_errno_str(reqs[0].res));
	grade_check_same(buf, data, 512, "blk_batch_read");
	close(fd);
	free(data);
}

/* ------------------------------------------------- copy_file, continued */

/* The open family through the real calls, each result then handed to
 * after_open_action(path, fd), whose return is the call's: a test's way to act
 * on every open of the module (after_open_hooks(NULL) ends it). */
static int (*after_open_action)(const char *path, int fd);

#define AFTER_OPEN(name, params, call)                                  \
	static int after_##name params                                  \
	{                                                               \
		mode_t mode;                                            \
		va_list ap;                                             \
                                                                        \
		va_start(ap, flags);                                    \
		mode = open_hooks_mode(flags, ap);                      \
		va_end(ap);                                             \
		return after_open_action(path, call);                   \
	}
AFTER_OPEN(open, (const char *path, int flags, ...), SEAM_REAL(open)(path, flags, mode))
AFTER_OPEN(open64, (const char *path, int flags, ...), SEAM_REAL(open64)(path, flags, mode))
AFTER_OPEN(openat, (int dirfd, const char *path, int flags, ...),
	   SEAM_REAL(openat)(dirfd, path, flags, mode))
AFTER_OPEN(openat64, (int dirfd, const char *path, int flags, ...),
	   SEAM_REAL(openat64)(dirfd, path, flags, mode))
#undef AFTER_OPEN

static void after_open_hooks(int (*after)(const char *path, int fd))
{
	after_open_action = after;
	seam_hook_open = after ? after_open : NULL;
	seam_hook_open64 = after ? after_open64 : NULL;
	seam_hook_openat = after ? after_openat : NULL;
	seam_hook_openat64 = after ? after_openat64 : NULL;
}

/* An open() that succeeds and leaves errno at EINTR, as any successful
 * call may (errno(3)): errno says nothing about a call that did not fail,
 * so a retry loop that looks at errno must look at open's result first. */
static int dirty_errno(const char *path, int fd)
{
	(void)path;
	if (fd >= 0)
		errno = EINTR;
	return fd;
}

/* An open() of the source (the file at zero_late_src) after which
 * descriptor 0 is closed, as when another thread of the program closes its
 * standard input between copy_file's two opens: the source got a higher
 * number, and the destination, however it is opened, gets 0. */
static const char *zero_late_src;

static int zero_late_close(const char *path, int fd)
{
	if (zero_late_src && path && fd > 0 && !strcmp(path, zero_late_src) &&
	    fcntl(0, F_GETFD) != -1) {
		int saved = errno;

		zero_late_src = NULL;
		close(0);
		errno = saved;
	}
	return fd;
}

GRADE_TEST(copy_file, descriptor_zero, 1,
	   "copy_file works when descriptor 0 is free, so open() returns 0, also when that "
	   "open leaves errno at EINTR, and when 0 comes free only for the destination",
	   "TODO 4: open(2) returns -1 on failure; every other result, 0 included, is a "
	   "descriptor, and errno means something only after a failure (man 2 open, RETURN "
	   "VALUE; man 3 errno; lesson: \"Cleaning up\")")
{
	const size_t size = 5000;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src = grade_make_file("src", data, size), *dst = grade_path("dst");
	int saved, fds, fds_after, zero_open;
	size_t backlen;
	off_t got;

	refuse_kernel_copies();
	/* Twice: then with every open() that succeeds leaving errno at EINTR
	 * (a retry "while it fails with EINTR" must see that it did not fail). */
	for (int dirty = 0; dirty < 2; dirty++) {
		/* Close fd 0 (a daemon's stdin often is), and put it back afterwards. */
		saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
		close(0);
		fds = fault_count_fds();
		if (dirty)
			after_open_hooks(dirty_errno);
		got = SEAM_CALL(copy_file(src, dst, 4096));
		after_open_hooks(NULL);
		fds_after = fault_count_fds();
		zero_open = fcntl(0, F_GETFD) != -1;
		if (zero_open)
			close(0);
		if (saved >= 0) {
			dup2(saved, 0);
			close(saved);
		}
		grade_check(got == (off_t)size, "with descriptor 0 closed, copy_file of a %zu-byte "
			    "file returned %s, expected %zu: open() gave it descriptor 0, which is a "
			    "valid descriptor (only -1 is an error)", size,
			    grade_errno_str((ssize_t)got), size);
		grade_check(!zero_open && fds_after == fds, "with descriptor 0 closed, copy_file "
			    "left %d descriptor(s) open (descriptor 0 %s)%s", fds_after - fds + zero_open,
			    zero_open ? "among them" : "closed", dirty ? ", when each open() that "
			    "succeeded left errno at EINTR (any successful call may change errno: man "
			    "3 errno): a retry loop around open that tests errno, or a result <= 0, "
			    "opened the file again after open had returned descriptor 0; only -1 is a "
			    "failure, and errno means something only then (TODO 4)" : "");
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == size, "the copy has %zu bytes, the source %zu",
			    back ? backlen : 0, size);
		grade_check_same(back, data, size, "copy_file with descriptor 0 free");
		free(back);
	}

	/* Descriptor 0 open when the source is opened, and closed (by another
	 * thread of the program, say) right after: the source has a higher
	 * number, and the destination gets 0. */
	{
		int zero_was_open = fcntl(0, F_GETFD) != -1;

		saved = zero_was_open ? fcntl(0, F_DUPFD_CLOEXEC, 3) : -1;
		if (!zero_was_open)
			grade_check(open("/dev/null", O_RDONLY) == 0, "harness: cannot open "
				    "/dev/null as descriptor 0: %s", strerror(errno));
		fds = fault_count_fds();
		zero_late_src = src;
		after_open_hooks(zero_late_close);
		got = SEAM_CALL(copy_file(src, dst, 4096));
		after_open_hooks(NULL);
		grade_check(zero_late_src == NULL, "copy_file(src, dst, 4096) returned %s without "
			    "opening the source %s with open(2) or openat(2)",
			    grade_errno_str((ssize_t)got), src);
		fds_after = fault_count_fds();
		zero_open = fcntl(0, F_GETFD) != -1;
		if (zero_open)
			close(0);
		if (saved >= 0) {
			dup2(saved, 0);
			close(saved);
		}
		grade_check(got == (off_t)size && !zero_open && fds_after == fds - 1, "copy_file of "
			    "a %zu-byte file returned %s and left %s open, when descriptor 0 was "
			    "closed (as another thread may close it) after the source's open and "
			    "before the destination's, so that the destination's open() returned 0; "
			    "expected %zu and descriptor 0 closed again: 0 is a descriptor like any "
			    "other, for the destination too (only -1 is a failure), whatever number "
			    "the source got (TODO 4; man 2 open, RETURN VALUE; lesson: \"Cleaning "
			    "up\")", size, grade_errno_str((ssize_t)got), zero_open ?
			    "descriptor 0" : fds_after != fds - 1 ? "another descriptor" : "nothing",
			    size);
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == size, "the copy onto descriptor 0 has %zu "
			    "bytes, the source %zu", back ? backlen : 0, size);
		grade_check_same(back, data, size, "copy_file with the destination on descriptor 0");
		free(back);
	}
	free(data);
}

/* An empty source: the destination is closed at the first read. */
static ssize_t read_closing_dst(int fd, void *buf, size_t n)
{
	if (behind.closed < 0) {
		behind.closed = fault_fd_on_file(behind.dst);
		if (behind.closed >= 0)
			close(behind.closed);
	}
	return SEAM_REAL(read)(fd, buf, n);
}

/* A source of behind.size bytes: the destination is closed after the
 * write that completes the copy. */
static ssize_t write_closing_dst(int fd, const void *buf, size_t n)
{
	ssize_t k = SEAM_REAL(write)(fd, buf, n);

	if (k > 0)
		behind.written += (unsigned long long)k;
	if (k > 0 && behind.closed < 0 && behind.written == behind.size) {
		behind.closed = fd;
		close(fd);
	}
	return k;
}

GRADE_TEST(copy_file, close_error_reported, 2,
	   "copy_file returns -errno when close() of the destination fails (a delayed write "
	   "error), also after copying an empty file",
	   "TODO 4: close(2) can report a write error the kernel found only later (NFS, "
	   "quotas): check close(dst) and, if the copy had succeeded so far, return its "
	   "-errno, taken before the source is closed; never close it a second time; the "
	   "source is still closed and the buffer freed (lesson: \"Cleaning up\"; close(2), "
	   "\"Dealing with error returns from close()\")")
{
	static const size_t sizes[] = { 10000, 0 };
	struct seam_heap heap;

	refuse_kernel_copies();
	for (int i = 0; i < 2; i++) {
		unsigned char *data = grade_random_bytes(sizes[i] ? sizes[i] : 1);
		const char *src = grade_make_file("src", data, sizes[i]);
		int fds;
		off_t got;

		behind.dst = grade_path(i ? "empty-copy" : "copy");
		behind.size = sizes[i];
		behind.written = 0;
		behind.closed = -1;
		behind.closed_again = false;
		fds = fault_count_fds();
		seam_heap_usage(&heap);
		if (sizes[i])
			seam_hook_write = write_closing_dst;
		else
			seam_hook_read = read_closing_dst;
		/* A close that succeeds leaves errno at EINTR (errno(3) allows it):
		 * close's error must be taken before the source is closed. */
		seam_hook_close = close_dirtying_errno;
		got = SEAM_CALL(copy_file(src, behind.dst, 4096));
		hooks_off();
		seam_hook_close = close_open_only;
		grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when "
			    "close() of the destination failed", fault_count_fds() - fds);
		grade_check_heap(&heap, "copy_file whose close() of the destination failed (free "
				 "the buffer on that path too)");
		if (sizes[i])
			grade_check(behind.closed >= 0, "copy_file of %zu bytes returned %s and "
				    "never wrote all of them", sizes[i], grade_errno_str((ssize_t)got));
		else if (behind.closed < 0) {
			free(data);
			continue;  /* the destination was not open yet when it read */
		}
		grade_check(got == -EBADF, "copy_file of a %s file returned %s when close() of "
			    "the destination failed with EBADF (the harness closed that descriptor "
			    "%s, standing in for a delayed write error, e.g. on NFS); expected "
			    "-EBADF: close's error is the copy's error%s", sizes[i] ? "10000-byte" :
			    "empty", grade_errno_str((ssize_t)got), sizes[i] ? "after the last "
			    "write()" : "at the first read()", got == -EINTR ? "; -EINTR is what "
			    "errno held after the harness's close() of the source, which succeeded "
			    "and changed errno, as any successful call may (errno(3)): take close's "
			    "-errno the moment it fails, before closing anything else" : "");
		free(data);
	}

	/* The third write() fails (ENOSPC), and then close() of the destination
	 * fails too (EIO): the copy's own error stays the answer. */
	{
		unsigned char *data = grade_random_bytes(50000);
		const char *src = grade_make_file("src", data, 50000), *dst = grade_path("full");
		int fds = fault_count_fds();
		off_t got;

		seam_heap_usage(&heap);
		script_set(&wr_script, -1, 0, 0, 3, ENOSPC);
		hooks_script();
		fail_dst_close(dst, EIO);
		got = SEAM_CALL(copy_file(src, dst, 4096));
		hooks_off();
		grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when a "
			    "write and then close() of the destination failed", fault_count_fds() - fds);
		grade_check_heap(&heap, "copy_file whose write and then close() of the destination "
				 "failed");
		grade_check(got == -ENOSPC, "copy_file returned %s when its third write() failed with "
			    "ENOSPC and then close() of the destination failed with EIO; expected "
			    "-ENOSPC: after a failed copy, close's error does not replace the copy's "
			    "own", grade_errno_str((ssize_t)got));
		free(data);
	}

	/* The copy succeeds; close() of the destination releases the descriptor
	 * (Linux always does) and fails with EINTR: that is the answer, and the
	 * descriptor must not be closed again. */
	{
		unsigned char *data = grade_random_bytes(5000);
		const char *src = grade_make_file("src", data, 5000), *dst = grade_path("eintr");
		int fds = fault_count_fds();
		off_t got;

		seam_heap_usage(&heap);
		fail_dst_close(dst, EINTR);
		got = SEAM_CALL(copy_file(src, dst, 4096));
		grade_check(failing_close.fd >= 0, "copy_file of 5000 bytes returned %s and never "
			    "closed the destination", grade_errno_str((ssize_t)got));
		grade_check(fault_count_fds() == fds, "copy_file left %d descriptor(s) open when "
			    "close() of the destination failed with EINTR", fault_count_fds() - fds);
		grade_check_heap(&heap, "copy_file whose close() of the destination failed with "
				 "EINTR");
		grade_check(got == -EINTR, "copy_file returned %s when close() of the destination "
			    "failed with EINTR after a copy that had succeeded; expected -EINTR (the "
			    "descriptor is released all the same: never close it again, not even for "
			    "EINTR; close(2), \"Dealing with error returns from close()\")",
			    grade_errno_str((ssize_t)got));
		free(data);
	}
}

/* ------------------------------------------ blk_batch_read: the shared battery */

/*
 * The batch-read contract's own tests (harness/lib/batch_battery.h), run on
 * blk_batch_read, each batch watched: no lseek and no read(2) (refused, as
 * in 01.10), every byte of the answers carried by pread(2) (a module that
 * answers with mmap, readv or another interface is seen), and one pread at
 * a time: the blocking way has a queue depth of 1, whatever qd says.
 */
static struct {
	atomic_long inflight, max_inflight, calls;
	atomic_llong bytes;
	long calls_before;
	long long bytes_before;
} bw;

static ssize_t bw_count(ssize_t got)
{
	if (got > 0)
		atomic_fetch_add(&bw.bytes, (long long)got);
	atomic_fetch_sub(&bw.inflight, 1);
	return got;
}

static void bw_enter(void)
{
	long now = atomic_fetch_add(&bw.inflight, 1) + 1, most = atomic_load(&bw.max_inflight);

	atomic_fetch_add(&bw.calls, 1);
	while (now > most && !atomic_compare_exchange_weak(&bw.max_inflight, &most, now))
		;
}

static ssize_t bw_pread(int fd, void *buf, size_t n, off_t off)
{
	bw_enter();
	return bw_count(SEAM_REAL(pread)(fd, buf, n, off));
}

static ssize_t bw_pread64(int fd, void *buf, size_t n, off64_t off)
{
	bw_enter();
	return bw_count(SEAM_REAL(pread64)(fd, buf, n, off));
}

static void blk_battery_setup(void)
{
	battery_fn_use(blk_batch_read, 0);
	refuse_seek_and_read("blk_batch_read");
	/* Queue depth 1 whatever qd says: the reads are made by the caller's
	 * thread, one after the other; no worker threads to honour qd. */
	seam_refuse(SEAM_pthread_create, "blk_batch_read reads one request after the other "
		    "in the calling thread, with pread_full: queue depth 1, whatever qd says; "
		    "threads that honour qd are chapter 03's job (TODO 5; blocking.h; lesson: "
		    "\"One blocking thread is queue depth 1\")");
	seam_hook_pread = bw_pread;
	seam_hook_pread64 = bw_pread64;
}

static void blk_battery_before(void)
{
	atomic_store(&bw.max_inflight, 0);
	bw.calls_before = atomic_load(&bw.calls);
	bw.bytes_before = atomic_load(&bw.bytes);
}

static void blk_battery_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	long long answered = 0, carried = atomic_load(&bw.bytes) - bw.bytes_before;
	long calls = atomic_load(&bw.calls) - bw.calls_before;

	grade_check_violation();
	grade_check(atomic_load(&bw.inflight) == 0, "blk_batch_read (%s) returned while %ld "
		    "pread() call(s) were still running", what, atomic_load(&bw.inflight));
	grade_check(atomic_load(&bw.max_inflight) <= 1, "blk_batch_read (%s) had %ld pread() "
		    "calls running at once: the blocking way is one request after the other, queue "
		    "depth 1 whatever qd says (TODO 5; blocking.h)", what,
		    atomic_load(&bw.max_inflight));
	if (ret != 0)
		return;  /* the res fields are unspecified: the battery reports ret */
	for (size_t i = 0; i < n; i++)
		if (reqs[i].res > 0 && (size_t)reqs[i].res <= reqs[i].len)
			answered += reqs[i].res;  /* a res beyond len: the battery names it */
	grade_check(carried >= answered, "blk_batch_read (%s) answered %lld bytes in all, but "
		    "its %ld pread() calls read only %lld: every request is read with pread_full, "
		    "i.e. pread(2) (TODO 5; blocking.h, \"Rules of the exercise\")", what,
		    answered, calls, carried);
}

static long blk_battery_max_inflight(void)
{
	return atomic_load(&bw.max_inflight);
}

/* blocking.h: one request after the other, queue depth 1 whatever qd says. */
static unsigned blk_battery_fills_to(unsigned qd, size_t n)
{
	(void)qd;
	return n > 0 ? 1 : 0;
}

static const struct battery_target blk_target = {
	.name = "blk_batch_read",
	.setup = blk_battery_setup,
	.open = battery_fn_open, .read = battery_fn_read, .close = battery_fn_close,
	.before = blk_battery_before, .after = blk_battery_after,
	.max_inflight = blk_battery_max_inflight, .fills_to = blk_battery_fills_to,
};

BATCH_BATTERY(blk_batch, blk_target, "blk_batch_read",
	      "TODO 5 (blk_batch_read: each request with pread_full, its answer in its own "
	      "res; lesson, \"The exercise\")")

/* ------------------------------------- a descriptor number that names a new file */

/*
 * Descriptor numbers are reused: open(2) and dup2(2) hand out a number that
 * was closed a moment ago. What a descriptor is (closed, a pipe, a file) is
 * the kernel's answer to each call, never something to remember from an
 * earlier call: every function asks read, pread or write every time.
 */
enum reuse_fn { REUSE_READ, REUSE_PREAD, REUSE_WRITE, REUSE_BATCH };

static const char *const reuse_names[] = { "read_full", "pread_full", "write_full",
					   "blk_batch_read" };

/* One call of fn on num: 1000 bytes at offset 0 (buf is read into, or
 * written from). The batch's answer is its request's res. */
static ssize_t reuse_call(enum reuse_fn fn, int num, unsigned char *buf, size_t len)
{
	struct batch_req req = { num, 0, len, buf, 1 };
	int ret;

	switch (fn) {
	case REUSE_READ:
		return SEAM_CALL(read_full(num, buf, len));
	case REUSE_PREAD:
		return SEAM_CALL(pread_full(num, buf, len, 0));
	case REUSE_WRITE:
		return SEAM_CALL(write_full(num, buf, len));
	default:
		ret = SEAM_CALL(blk_batch_read(&req, 1, 1));
		return ret ? ret : req.res;
	}
}

GRADE_TEST(edges, descriptor_number_reused, 1,
	   "read_full, pread_full, write_full and blk_batch_read use a descriptor number that "
	   "was closed (EBADF), a pipe (ESPIPE), a pipe at its end or without a reader (EPIPE) "
	   "in an earlier call, and now names a file",
	   "TODOs 1, 2, 3 and 5: a descriptor number names whatever is open on it now "
	   "(open(2) reuses the lowest free number): let read, pread or write judge it on "
	   "every call, and keep nothing in a static about a descriptor from an earlier call "
	   "(lesson: \"What read and write promise\"; man 2 dup2)")
{
	unsigned char *data = grade_random_bytes(1000), buf[1000];
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", grade_make_file("f", data, 1000));
	for (int fn = REUSE_READ; fn <= REUSE_BATCH; fn++) {
		const char *who = reuse_names[fn];

		for (int pipe_first = 0; pipe_first < 2; pipe_first++) {
			const char *was = pipe_first ? (fn == REUSE_READ ? "a pipe at its end" :
						     fn == REUSE_WRITE ? "a pipe without a reader" :
						     "a pipe") : "closed";
			ssize_t want = pipe_first ? (fn == REUSE_READ ? 0 : fn == REUSE_WRITE ?
						    -EPIPE : -ESPIPE) : -EBADF;
			int p[2], num, file;
			ssize_t first, got;

			fault_pipe(p, 0);
			if (!pipe_first) {
				num = p[0];      /* a number that is closed */
				close(p[0]);
				close(p[1]);
			} else if (fn == REUSE_WRITE) {
				num = p[1];      /* its reader has gone: EPIPE */
				close(p[0]);
			} else {
				num = p[0];      /* its writer has gone: end of file */
				close(p[1]);
			}
			memcpy(buf, data, sizeof(buf));
			first = reuse_call(fn, num, buf, sizeof(buf));
			grade_check(first == want, "%s on a descriptor that is %s returned %s, "
				    "expected %s", who, was, grade_errno_str(first),
				    grade_errno_str(want));
			/* The same number now names a file (open(2) may give it
			 * back by itself: the lowest free number). */
			file = fn == REUSE_WRITE ?
				grade_open(grade_path("out"), O_WRONLY | O_CREAT | O_TRUNC) :
				grade_open(path, O_RDONLY);
			if (file != num) {  /* open took another number: move it */
				grade_check(dup2(file, num) == num, "harness: dup2: %s",
					    strerror(errno));
				close(file);
			}
			if (fn == REUSE_WRITE)
				memcpy(buf, data, sizeof(buf));
			else
				memset(buf, 0, sizeof(buf));
			got = reuse_call(fn, num, buf, sizeof(buf));
			close(num);
			grade_check(got == (ssize_t)sizeof(buf), "%s on descriptor %d returned %s, "
				    "expected %zu: that number was %s in the call before (which "
				    "returned %s), and now names a file (dup2, as open(2) reuses the "
				    "lowest free number). Did your code remember what that descriptor "
				    "did in a static and answer from it without calling %s? Each call "
				    "asks the kernel afresh (TODO %d)", who, num, grade_errno_str(got),
				    sizeof(buf), was, grade_errno_str(first), fn == REUSE_READ ?
				    "read" : fn == REUSE_WRITE ? "write" : "pread",
				    fn == REUSE_READ ? 1 : fn == REUSE_PREAD ? 2 :
				    fn == REUSE_WRITE ? 3 : 5);
			if (fn == REUSE_WRITE) {
				size_t backlen;
				unsigned char *back = grade_slurp(grade_path("out"), &backlen);

				grade_check(back != NULL && backlen == sizeof(buf), "write_full "
					    "returned %s, but the file on descriptor %d has %zu bytes",
					    grade_errno_str(got), num, back ? backlen : 0);
				grade_check_same(back, data, sizeof(buf), who);
				free(back);
			} else {
				grade_check_same(buf, data, sizeof(buf), who);
			}
		}
	}
	free(data);
}

/* ------------------------------------------------------- two threads at once */

/*
 * "Several threads may call them at once" (blocking.h). One thread's call
 * waits where blocking I/O waits (read on an empty pipe, write to a full one,
 * a pread the device is slow to answer, the open of a FIFO without its
 * writer); meanwhile another thread's call of the same function, on a file
 * that is ready, must go through. A lock held across the system call ("so
 * that two reads never mix") makes the second caller wait for the first:
 * every caller then waits for the slowest.
 */
enum { TWO_READ, TWO_PREAD, TWO_WRITE, TWO_COPY, TWO_BATCH, TWO_KINDS };

static const char *const two_names[TWO_KINDS] = {
	"read_full", "pread_full", "write_full", "copy_file", "blk_batch_read",
};

struct two_call {
	int kind;
	int fd;
	unsigned char *buf;
	size_t len;
	const char *src, *dst;
	long long ret;
	atomic_int tid;
	atomic_int done;
};

static void *two_thread(void *arg)
{
	struct two_call *c = arg;
	struct batch_req req;

	atomic_store(&c->tid, (int)syscall(SYS_gettid));
	switch (c->kind) {
	case TWO_READ:
		c->ret = read_full(c->fd, c->buf, c->len);
		break;
	case TWO_PREAD:
		c->ret = pread_full(c->fd, c->buf, c->len, 0);
		break;
	case TWO_WRITE:
		c->ret = write_full(c->fd, c->buf, c->len);
		break;
	case TWO_COPY:
		c->ret = copy_file(c->src, c->dst, 4096);
		break;
	default:
		req = (struct batch_req){ .fd = c->fd, .offset = 0, .len = c->len, .buf = c->buf };
		c->ret = blk_batch_read(&req, 1, 1);
		if (c->ret == 0)
			c->ret = req.res;
		break;
	}
	atomic_store(&c->done, 1);
	return NULL;
}

/* A pread(2) on this descriptor first waits, in read(2) on a pipe of the
 * harness, for the test to let it go: a device slow to answer. */
static int two_gated_fd = -1, two_gate_r = -1;
static atomic_int two_gate_open;

static void two_gate_wait(int fd)
{
	char c;

	if (fd == two_gated_fd && !atomic_load(&two_gate_open)) {
		while (SEAM_REAL(read)(two_gate_r, &c, 1) < 0 && errno == EINTR)
			;
		atomic_store(&two_gate_open, 1);
	}
}

static ssize_t two_gated_pread(int fd, void *buf, size_t n, off_t off)
{
	two_gate_wait(fd);
	return SEAM_REAL(pread)(fd, buf, n, off);
}

static ssize_t two_gated_pread64(int fd, void *buf, size_t n, off64_t off)
{
	two_gate_wait(fd);
	return SEAM_REAL(pread64)(fd, buf, n, off);
}

/* Wait (up to ms) until thread c sleeps in system call nr: true if it does. */
static bool two_wait_in(struct two_call *c, long nr, long ms)
{
	long end = fault_now_ms() + ms;

	while (fault_now_ms() < end) {
		int tid = atomic_load(&c->tid);

		if (atomic_load(&c->done))
			return false;
		if (tid && task_in_syscall(getpid(), tid, nr))
			return true;
		fault_nap();
	}
	return false;
}

/* Wait (up to ms) for thread c to return: true if it did. */
static bool two_wait_done(struct two_call *c, long ms)
{
	long end = fault_now_ms() + ms;

	while (!atomic_load(&c->done) && fault_now_ms() < end)
		fault_nap();
	return atomic_load(&c->done);
}

/* fd moved to descriptor number `at` exactly, the original closed. */
static int high_fd_move(int fd, int at)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, at);

	grade_check(moved == at, "harness: cannot move a descriptor to number %d (got %d): %s",
		    at, moved, strerror(errno));
	close(fd);
	return moved;
}

/*
 * The first thread's call, made to wait: read_full on an empty pipe
 * (TWO_READ), write_full into a full pipe (TWO_WRITE), or a pread the
 * device is slow to answer (TWO_PREAD and TWO_BATCH: the gated pread).
 * slow->fd is moved to number `at` when at >= 0. Returns the system call it
 * waits in; *waits says where, for the messages. Not for TWO_COPY.
 */
static long two_slow_setup(struct two_call *slow, int p[2], int gate[2], const char *path,
			   int at, const char **waits)
{
	switch (slow->kind) {
	case TWO_READ:
		fault_pipe(p, 0);
		slow->fd = p[0] = at >= 0 ? high_fd_move(p[0], at) : p[0];
		*waits = "read() on an empty pipe";
		return SYS_read;
	case TWO_WRITE:
		fault_pipe(p, 0);
		grade_check(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s",
			    strerror(errno));
		while (SEAM_REAL(write)(p[1], slow->buf, slow->len) > 0)
			;
		while (SEAM_REAL(write)(p[1], slow->buf, 1) > 0)   /* to the last byte */
			;
		grade_check(fcntl(p[1], F_SETFL, 0) == 0, "harness: fcntl: %s", strerror(errno));
		slow->fd = p[1] = at >= 0 ? high_fd_move(p[1], at) : p[1];
		*waits = "write() to a full pipe";
		return SYS_write;
	default:
		fault_pipe(gate, 0);
		slow->fd = grade_open(path, O_RDONLY);
		if (at >= 0)
			slow->fd = high_fd_move(slow->fd, at);
		two_gated_fd = slow->fd;
		two_gate_r = gate[0];
		atomic_store(&two_gate_open, 0);
		seam_hook_pread = two_gated_pread;
		seam_hook_pread64 = two_gated_pread64;
		*waits = "pread() of a device slow to answer";
		return SYS_read;
	}
}

/* Let the first thread's call go: 100 bytes into its pipe, its pipe
 * drained until it wrote its 100, its FIFO's writer come (TWO_COPY: slow->src
 * is the FIFO), or its pread's gate opened. */
static void two_slow_release(struct two_call *slow, int p[2], int gate[2],
			     const unsigned char *data)
{
	switch (slow->kind) {
	case TWO_READ:
		SEAM_REAL(write)(p[1], data, 100);
		break;
	case TWO_WRITE: {
		unsigned char sink[4096];

		grade_check(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "harness: fcntl: %s",
			    strerror(errno));
		for (long end = fault_now_ms() + FAULT_PATIENCE_MS;
		     !atomic_load(&slow->done) && fault_now_ms() < end;)
			if (SEAM_REAL(read)(p[0], sink, sizeof(sink)) <= 0)
				fault_nap();
		break;
	}
	case TWO_COPY: {
		int w = open(slow->src, O_WRONLY | O_NONBLOCK);

		if (w >= 0) {
			SEAM_REAL(write)(w, data, 100);
			close(w);
		}
		break;
	}
	default:
		SEAM_REAL(write)(gate[1], "g", 1);
		break;
	}
}

/* After both threads were joined: the hooks off, the pipes and the gated
 * descriptor closed. */
static void two_slow_end(struct two_call *slow, int p[2], int gate[2])
{
	seam_disarm();
	seam_hook_pread = NULL;
	seam_hook_pread64 = NULL;
	two_gated_fd = -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (gate[i] >= 0)
			close(gate[i]);
	}
	if (slow->kind == TWO_PREAD || slow->kind == TWO_BATCH)
		close(slow->fd);
}

GRADE_TEST_T(edges, threads_do_not_wait_for_each_other, 1,
	     "one thread's read_full, pread_full, write_full, copy_file or blk_batch_read "
	     "waits (empty pipe, full pipe, slow device, FIFO without its writer) while "
	     "another thread's call of the same function goes through",
	     "TODOs 1-5: each call keeps its progress in its own local variables, so no lock "
	     "is needed; a lock held across read, write, pread or open makes every caller wait "
	     "for the slowest one (blocking.h: \"several threads may call them at once\"; "
	     "lesson: \"One blocking thread is queue depth 1\")", 20)
{
	unsigned char *data = grade_random_bytes(1000);
	char path[PATH_MAX], fifo[PATH_MAX], dst1[PATH_MAX], dst2[PATH_MAX];

	snprintf(path, sizeof(path), "%s", grade_make_file("ready", data, 1000));
	snprintf(fifo, sizeof(fifo), "%s", grade_path("fifo"));
	snprintf(dst1, sizeof(dst1), "%s", grade_path("dst1"));
	snprintf(dst2, sizeof(dst2), "%s", grade_path("dst2"));
	grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));

	for (int kind = 0; kind < TWO_KINDS; kind++) {
		static unsigned char slow_buf[1000], quick_buf[1000];
		struct two_call slow = { .kind = kind, .buf = slow_buf, .len = 100 };
		struct two_call quick = { .kind = kind, .buf = quick_buf, .len = 1000 };
		const char *who = two_names[kind];
		const char *waits = "";
		unsigned char *back = NULL;
		int p[2] = { -1, -1 }, gate[2] = { -1, -1 }, ready_fd = -1, out_fd = -1;
		long nr = SYS_read;
		pthread_t ts, tq;
		bool slow_waits, slow_returned_early, quick_done;
		size_t backlen = 0;

		memset(quick_buf, 0, sizeof(quick_buf));
		if (kind == TWO_COPY) {     /* a FIFO whose writer has not come */
			slow.src = fifo;
			slow.dst = dst1;
			quick.src = path;
			quick.dst = dst2;
			nr = SYS_openat;
			waits = "open() of a FIFO whose writer has not come yet";
		} else {
			nr = two_slow_setup(&slow, p, gate, path, -1, &waits);
			if (kind == TWO_WRITE) {
				quick.fd = out_fd = grade_open(dst2, O_WRONLY | O_CREAT | O_TRUNC);
				memcpy(quick_buf, data, 1000);
			} else {
				quick.fd = ready_fd = grade_open(path, O_RDONLY);
			}
		}

		seam_arm();   /* the hooks apply to the code under test only while armed */
		grade_check(pthread_create(&ts, NULL, two_thread, &slow) == 0,
			    "harness: pthread_create failed");
		slow_waits = two_wait_in(&slow, nr, FAULT_PATIENCE_MS);
		slow_returned_early = atomic_load(&slow.done);
		if (slow_waits) {
			grade_check(pthread_create(&tq, NULL, two_thread, &quick) == 0,
				    "harness: pthread_create failed");
			/* A call on a ready file takes microseconds: 3 s is a wide margin. */
			quick_done = two_wait_done(&quick, 3000);
		} else {
			quick_done = false;
		}

		/* Let the slow call go, then wait for both. */
		two_slow_release(&slow, p, gate, data);
		pthread_join(ts, NULL);
		if (slow_waits)
			pthread_join(tq, NULL);
		two_slow_end(&slow, p, gate);
		if (ready_fd >= 0)
			close(ready_fd);
		if (out_fd >= 0)
			close(out_fd);

		grade_check(slow_waits || !slow_returned_early, "%s in the first thread "
			    "returned %s instead of waiting in %s until the grader let it go",
			    who, grade_errno_str((ssize_t)slow.ret), waits);
		grade_check(slow_waits, "%s in the first thread was not seen waiting in %s "
			    "within %d s", who, waits, FAULT_PATIENCE_MS / 1000);
		grade_check(quick_done, "%s in one thread did not return within 3 s while "
			    "another thread's %s waited in %s; it returned only once that one was "
			    "let go (%s). One caller must not wait for another: a lock (a static "
			    "mutex) held across the system call makes every thread wait for the "
			    "slowest. Keep each call's progress in its own local variables and no "
			    "lock is needed (TODO %d; blocking.h: \"several threads may call them "
			    "at once\")", who, who, waits, grade_errno_str((ssize_t)quick.ret),
			    kind == TWO_READ ? 1 : kind == TWO_PREAD ? 2 : kind == TWO_WRITE ? 3 :
			    kind == TWO_COPY ? 4 : 5);
		grade_check(slow.ret == 100, "%s that waited in %s returned %s once let go, "
			    "expected 100", who, waits, grade_errno_str((ssize_t)slow.ret));
		grade_check(quick.ret == 1000, "%s of a ready 1000-byte file returned %s, "
			    "expected 1000", who, grade_errno_str((ssize_t)quick.ret));
		if (kind == TWO_WRITE || kind == TWO_COPY) {
			back = grade_slurp(dst2, &backlen);
			grade_check(back != NULL && backlen == 1000, "%s wrote %zu bytes to its "
				    "file, expected 1000", who, back ? backlen : 0);
			grade_check_same(back, data, 1000, who);
			free(back);
		} else {
			grade_check_same(quick_buf, data, 1000, who);
		}
	}
	free(data);
}

/* ------------------------------------------------------------------ high descriptor numbers */

/*
 * A descriptor number is not small. A process may hold thousands (a server,
 * a program whose limit was raised with ulimit -n), and 1031 or 65543 is as
 * good a number as 3. Code that keeps a table indexed by the descriptor
 * (1024 entries, as select()'s fd_set has), or picks a lock by its number
 * (fd % N), works on every small number and fails, or stalls, on a big one.
 */

/* The soft limit of descriptors, raised towards the hard one (at most
 * 70000): the numbers below it are this test's to use. */
static int high_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < 70000 && rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { rl.rlim_max < 70000 ? rl.rlim_max : 70000, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = up.rlim_cur;
	}
	return rl.rlim_cur > 70000 ? 70000 : (int)rl.rlim_cur;
}

/* One call after the other on descriptors first .. first + count - 1, each
 * for one byte (blk_batch_read: one batch of them all). */
struct many_call {
	int kind;
	int first, count;
	unsigned char *buf;
	atomic_long ok;
	atomic_int done;
};

static void *many_thread(void *arg)
{
	struct many_call *c = arg;

	if (c->kind == TWO_BATCH) {
		struct batch_req *reqs = calloc((size_t)c->count, sizeof(*reqs));

		if (reqs) {
			for (int i = 0; i < c->count; i++)
				reqs[i] = (struct batch_req){ .fd = c->first + i, .offset = i,
							      .len = 1, .buf = c->buf + i };
			if (blk_batch_read(reqs, (size_t)c->count, 1) == 0)
				for (int i = 0; i < c->count; i++)
					atomic_fetch_add(&c->ok, reqs[i].res == 1);
			free(reqs);
		}
	} else {
		for (int i = 0; i < c->count; i++) {
			int fd = c->first + i;
			ssize_t r = c->kind == TWO_READ ? read_full(fd, c->buf + i, 1) :
				    c->kind == TWO_PREAD ? pread_full(fd, c->buf + i, 1, i) :
				    write_full(fd, c->buf + i, 1);

			atomic_fetch_add(&c->ok, r == 1);
		}
	}
	atomic_store(&c->done, 1);
	return NULL;
}

#define HIGH_SLOW_FD 1100   /* the waiting call's descriptor */
#define HIGH_MANY 1024      /* the other thread's: the next 1024 numbers */

GRADE_TEST_T(edges, high_descriptor_numbers, 1,
	     "read_full, pread_full, write_full and blk_batch_read on descriptors numbered "
	     "1024 and beyond, copy_file when its descriptors are; and a call waiting on "
	     "descriptor N does not hold up another thread's calls on N + 1 to N + 1024",
	     "TODOs 1-5: a descriptor number is only a name for the kernel; nothing in "
	     "these functions needs a table indexed by it (select()'s fd_set stops at "
	     "1024) or a lock picked by it (fd % N puts descriptors N apart behind one "
	     "lock): keep each call's progress in its own local variables (blocking.h: "
	     "\"several threads may call them at once\"; man 2 getrlimit, RLIMIT_NOFILE)", 20)
{
	const size_t len = 1000;
	unsigned char *data = grade_random_bytes(HIGH_MANY + len), *buf = grade_xmalloc(len);
	char path[PATH_MAX], out[PATH_MAX];
	static const int numbers[] = { 1024, 1031, 4099, 65543, -1 };
	int limit = high_fd_limit();

	snprintf(path, sizeof(path), "%s", grade_make_file("f", data, HIGH_MANY + len));
	snprintf(out, sizeof(out), "%s", grade_path("out"));

	/* Each function once on a descriptor of a high number: 1024, 1031,
	 * 4099, 65543 and the last the limit allows, those below the limit. */
	for (size_t k = 0; k < sizeof(numbers) / sizeof(numbers[0]); k++) {
		int num = numbers[k] < 0 ? limit - 1 : numbers[k];
		struct batch_req req;
		unsigned char *back;
		size_t backlen;
		ssize_t got;
		int fd, ret;

		if (num >= limit || num < 3)
			continue;
		fd = high_fd_move(grade_open(path, O_RDONLY), num);
		memset(buf, 0, len);
		got = SEAM_CALL(read_full(fd, buf, len));
		grade_check(got == (ssize_t)len, "read_full on descriptor %d (a file of %zu bytes) "
			    "returned %s, expected %zu: any number below the limit (ulimit -n, here "
			    "%d) is a descriptor like 3", num, HIGH_MANY + len, grade_errno_str(got),
			    len, limit);
		grade_check_same(buf, data, len, "read_full on a high descriptor number");
		memset(buf, 0, len);
		got = SEAM_CALL(pread_full(fd, buf, len, 7));
		grade_check(got == (ssize_t)len, "pread_full on descriptor %d returned %s, expected "
			    "%zu", num, grade_errno_str(got), len);
		grade_check_same(buf, data + 7, len, "pread_full on a high descriptor number");
		memset(buf, 0, len);
		req = (struct batch_req){ .fd = fd, .offset = 11, .len = len, .buf = buf };
		ret = SEAM_CALL(blk_batch_read(&req, 1, 1));
		grade_check(ret == 0 && req.res == (ssize_t)len, "blk_batch_read of one request "
			    "of %zu bytes on descriptor %d returned %s, the request's res %s; "
			    "expected 0 and %zu: a request's descriptor is any number below the "
			    "limit (ulimit -n, here %d), not an index into a table of yours (TODO 5)",
			    len, num, grade_errno_str(ret), grade_errno_str(req.res), len, limit);
		grade_check_same(buf, data + 11, len, "blk_batch_read on a high descriptor number");
		close(fd);

		fd = high_fd_move(grade_open(out, O_WRONLY | O_CREAT | O_TRUNC), num);
		got = SEAM_CALL(write_full(fd, data, len));
		close(fd);
		grade_check(got == (ssize_t)len, "write_full of %zu bytes on descriptor %d returned "
			    "%s, expected %zu", len, num, grade_errno_str(got), len);
		back = grade_slurp(out, &backlen);
		grade_check(back != NULL && backlen == len, "the file holds %zu bytes after "
			    "write_full of %zu on descriptor %d", back ? backlen : 0, len, num);
		grade_check_same(back, data, len, "write_full on a high descriptor number");
		free(back);
	}

	/* copy_file when every number up to 1040 is taken: open() gives it
	 * descriptors above 1024. */
	if (limit > 1100) {
		static int fill[1100];
		int nfill = 0, null = grade_open("/dev/null", O_RDONLY), lo;
		unsigned char *back;
		size_t backlen;
		off_t got;

		while (nfill < 1100 && (lo = fcntl(null, F_DUPFD_CLOEXEC, 0)) >= 0) {
			fill[nfill++] = lo;
			if (lo >= 1040)
				break;
		}
		got = SEAM_CALL(copy_file(path, out, 4096));
		for (int i = 0; i < nfill; i++)
			close(fill[i]);
		close(null);
		grade_check(got == (off_t)(HIGH_MANY + len), "copy_file returned %s when open() "
			    "gave it descriptors above 1040, expected %zu", grade_errno_str((ssize_t)got),
			    HIGH_MANY + len);
		back = grade_slurp(out, &backlen);
		grade_check(back != NULL && backlen == HIGH_MANY + len, "the copy has %zu bytes, "
			    "expected %zu", back ? backlen : 0, HIGH_MANY + len);
		grade_check_same(back, data, HIGH_MANY + len, "copy_file with high descriptors");
		free(back);
	}

	/* A call that waits on descriptor N (HIGH_SLOW_FD), and another thread's
	 * calls on N + 1 .. N + 1024: descriptor N + k shares N's remainder
	 * modulo k, so a lock picked by fd % k, for any k up to 1024, puts one
	 * of them behind the waiting call. */
	if (limit > HIGH_SLOW_FD + HIGH_MANY + 8) {
		static const int kinds[] = { TWO_READ, TWO_PREAD, TWO_WRITE, TWO_BATCH };

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			static unsigned char slow_buf[1000], many_buf[HIGH_MANY];
			int kind = kinds[k];
			struct two_call slow = { .kind = kind, .buf = slow_buf, .len = 100 };
			struct many_call many = { .kind = kind, .first = HIGH_SLOW_FD + 1,
						  .count = HIGH_MANY, .buf = many_buf };
			const char *who = two_names[kind], *waits;
			int p[2] = { -1, -1 }, gate[2] = { -1, -1 }, base;
			long nr = SYS_read;
			bool slow_waits, many_done;
			pthread_t ts, tm;

			memset(many_buf, 0, sizeof(many_buf));
			nr = two_slow_setup(&slow, p, gate, path, HIGH_SLOW_FD, &waits);
			if (kind == TWO_WRITE) {
				base = grade_open(out, O_WRONLY | O_CREAT | O_TRUNC);
				memcpy(many_buf, data, HIGH_MANY);
			} else {
				base = grade_open(path, O_RDONLY);
			}
			for (int i = 0; i < HIGH_MANY; i++)
				grade_check(fcntl(base, F_DUPFD_CLOEXEC, HIGH_SLOW_FD + 1 + i) ==
					    HIGH_SLOW_FD + 1 + i, "harness: cannot open descriptor %d",
					    HIGH_SLOW_FD + 1 + i);
			close(base);

			seam_arm();
			grade_check(pthread_create(&ts, NULL, two_thread, &slow) == 0,
				    "harness: pthread_create failed");
			slow_waits = two_wait_in(&slow, nr, FAULT_PATIENCE_MS);
			many_done = false;
			if (slow_waits) {
				long end;

				grade_check(pthread_create(&tm, NULL, many_thread, &many) == 0,
					    "harness: pthread_create failed");
				/* 1024 calls of a byte take milliseconds: 3 s is a wide margin. */
				end = fault_now_ms() + 3000;
				while (!atomic_load(&many.done) && fault_now_ms() < end)
					fault_nap();
				many_done = atomic_load(&many.done);
			}
			long ok_while_waiting = atomic_load(&many.ok);

			two_slow_release(&slow, p, gate, data);
			pthread_join(ts, NULL);
			if (slow_waits)
				pthread_join(tm, NULL);
			two_slow_end(&slow, p, gate);
			for (int i = 0; i < HIGH_MANY; i++)
				close(HIGH_SLOW_FD + 1 + i);

			grade_check(slow_waits, "%s on descriptor %d was not seen waiting in %s "
				    "within %d s (it returned %s)", who, HIGH_SLOW_FD, waits,
				    FAULT_PATIENCE_MS / 1000, grade_errno_str((ssize_t)slow.ret));
			grade_check(many_done, "while %s on descriptor %d waited in %s, another "
				    "thread's %s on descriptors %d to %d (one byte each%s) did not "
				    "finish within 3 s: %ld of its %d reads or writes had gone through. "
				    "A call on one of those numbers waited for the call on %d: a lock "
				    "picked by the descriptor's number (fd %% N, a table of N locks) "
				    "puts descriptors N apart behind one lock, and a lock held across "
				    "the system call makes its other users wait for the slowest. No "
				    "lock is needed: each call's progress lives in its own local "
				    "variables (TODO %d; blocking.h: \"several threads may call them "
				    "at once\")", who, HIGH_SLOW_FD, waits, who, HIGH_SLOW_FD + 1,
				    HIGH_SLOW_FD + HIGH_MANY, kind == TWO_BATCH ? ", in one batch" : "",
				    ok_while_waiting, HIGH_MANY, HIGH_SLOW_FD,
				    kind == TWO_READ ? 1 : kind == TWO_PREAD ? 2 : kind == TWO_WRITE ?
				    3 : 5);
			grade_check(slow.ret == 100, "%s that waited in %s on descriptor %d returned "
				    "%s once let go, expected 100", who, waits, HIGH_SLOW_FD,
				    grade_errno_str((ssize_t)slow.ret));
			grade_check(atomic_load(&many.ok) == HIGH_MANY, "%s of one byte on each of "
				    "descriptors %d to %d succeeded %ld times of %d", who,
				    HIGH_SLOW_FD + 1, HIGH_SLOW_FD + HIGH_MANY, atomic_load(&many.ok),
				    HIGH_MANY);
			if (kind == TWO_WRITE) {
				unsigned char *back;
				size_t backlen;

				back = grade_slurp(out, &backlen);
				grade_check(back != NULL && backlen == HIGH_MANY, "write_full of a byte "
					    "on each of %d descriptors of one file left %zu bytes in it",
					    HIGH_MANY, back ? backlen : 0);
				grade_check_same(back, data, HIGH_MANY, "write_full on descriptors "
						 "1101 to 2124");
				free(back);
			} else {
				grade_check_same(many_buf, data, HIGH_MANY, who);
			}
		}
	}
	free(buf);
	free(data);
}
