/*
 * Chapter 03 tests: POSIX aio (part A, paio_batch_read) and the thread pool
 * behind it (part B, tpool_*); the contract is chapters/03-posix-aio/paio.h.
 *
 * Part A is watched through the aio seams (watch.h): every aiocb aio_read
 * accepted must be collected by exactly one aio_return, after aio_error
 * stopped saying EINPROGRESS, before the call returns. Pipes are answered
 * by a harness thread only while the test thread sleeps inside
 * aio_suspend, in orders that need the whole window in flight.
 *
 * Part B is watched through pthread_create (each worker's start routine is
 * wrapped: its thread id, its signal mask, its end), pthread_join and the
 * reads. Pipes answered in reverse order prove that the pool reads in
 * parallel; "every thread asleep" (from /proc/self/task/TID/syscall) marks
 * the moments at which the reads in progress are counted.
 *
 * Expected bytes come from the harness's own random data, generated from
 * the printed seed. No test sleeps to order threads: every wait is for a
 * condition, and bounded.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "paio.h"
#include "watch.h"

/* The shared battery (end of this file) runs on both batch reads: twelve
 * tests, a point each. They replaced paio.random_file and the random part
 * of the pool's (now tpool.request_edges); the chapter's total went from 90
 * to 97, the least twelve tests can weigh. */
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
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* res before the call: no request can end with it. */
#define UNSET ((ssize_t)-7777)

/* A request whose res the code never wrote still holds UNSET. */
static const char *errno_name(ssize_t v)
{
	return v == UNSET ? "never set" : grade_errno_str(v);
}

/* What a read of len bytes at off returns from a file of size bytes. */
static size_t expected_len(size_t size, off_t off, size_t len)
{
	if ((size_t)off >= size)
		return 0;
	return size - (size_t)off < len ? size - (size_t)off : len;
}

/* n random reads of the file (data, size) on fd; some past its end. */
static struct batch_req *random_reads(int fd, size_t size, size_t n, size_t maxlen)
{
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));

	for (size_t i = 0; i < n; i++) {
		size_t len = 1 + grade_rand_below(maxlen);
		off_t off = (off_t)grade_rand_below(size);

		if (i % 10 == 3)
			off = (off_t)(size - grade_rand_below(len));   /* crosses the end */
		else if (i % 10 == 7)
			off = (off_t)(size + grade_rand_below(4096));  /* past the end */
		reqs[i] = (struct batch_req){ fd, off, len, grade_xmalloc(len), UNSET };
	}
	return reqs;
}

/* Every request of a file batch has the right res and bytes; frees them. */
static void check_file_results(const char *fn, struct batch_req *reqs, size_t n,
			       const unsigned char *data, size_t size, unsigned qd)
{
	for (size_t i = 0; i < n; i++) {
		size_t want = expected_len(size, reqs[i].offset, reqs[i].len);

		grade_check(reqs[i].res == (ssize_t)want, "%s (qd %u): request %zu (offset %lld, "
			    "len %zu of a %zu-byte file): res is %s, expected %zu (seed %llu)", fn,
			    qd, i, (long long)reqs[i].offset, reqs[i].len, size,
			    errno_name(reqs[i].res), want, (unsigned long long)grade_seed());
		grade_check_same(reqs[i].buf, data + (want ? reqs[i].offset : 0), want, fn);
	}
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);
}

/* Pipe requests: each got its len bytes (the writer hung up after them). */
static void check_pipe_results(const char *fn, struct batch_req *reqs, int n,
			       unsigned char **data, size_t len)
{
	for (int i = 0; i < n; i++) {
		grade_check(reqs[i].res == (ssize_t)len, "%s: request %d (a pipe that delivered "
			    "%zu bytes, then its writer hung up): res is %s, expected %zu", fn, i,
			    len, errno_name(reqs[i].res), len);
		grade_check_same(reqs[i].buf, data[i], len, fn);
	}
}

static void check_fed(const struct feed *f, const char *what)
{
	grade_check(f->why[0] == '\0', "%s: %s", what, f->why);
}

/* After part A's call: every accepted read collected, nothing else wrong. */
static void check_protocol(void)
{
	long left = aw_in_flight();

	w_check_no_violation();
	grade_check(left == 0, "paio_batch_read returned with %ld read(s) still in flight "
		    "(accepted by aio_read, never collected by aio_return): glibc's helper "
		    "threads will write into those aiocbs and buffers after they are freed "
		    "(TODOs 7 and 9)", left);
	grade_check(aw.returns == aw.accepted, "aio_read accepted %ld reads but aio_return was "
		    "called %ld times: exactly once per accepted read (TODO 7)", aw.accepted,
		    aw.returns);
}

/* A timed aio_suspend may run out once in a batch (the bounded wait of
 * lesson section 3). The watch takes a timed wait that holds a pipe read as
 * run out at once when nothing in its list has finished, and counts real
 * expiries too, so a loop of timed waits shows here. */
static void check_timed_waits(void)
{
	long timeouts = atomic_load(&aw.suspend_timeouts);

	grade_check(timeouts <= 1, "paio_batch_read's timed aio_suspend ran out %ld times in "
		    "one batch: a loop of timed waits is polling. Pass NULL as the timeout; a "
		    "bounded wait on some of the reads may run out once, and from then on wait "
		    "on all of them with NULL (TODO 6, lesson section 3)", timeouts);
}

/* Each aio_suspend that returns 0 means a read in its list finished, and
 * that read is collected before the next wait: at most one call per read,
 * plus one per EINTR and per timed wait that ran out. */
static void check_suspends_per_read(void)
{
	grade_check(aw.suspends <= aw.accepted + atomic_load(&aw.eintr_seen) +
		    atomic_load(&aw.suspend_timeouts),
		    "paio_batch_read called aio_suspend %ld times for %ld reads: each call should "
		    "sleep until a read in its list finished, which you collect before waiting "
		    "again. A collected aiocb left in the list, or an empty list, makes "
		    "aio_suspend return at once: polling (TODO 6)", aw.suspends, aw.accepted);
}

/* ===================================================================== */
/* Part A: paio_batch_read                                               */
/* ===================================================================== */

GRADE_TEST(paio, uses_aio_read, 2,
	   "paio_batch_read submits every read with aio_read: 32 reads of 4 KiB, one aio_read each, no pread",
	   "TODO 5: aio_read(3) for each request; read, pread and lio_listio are refused in "
	   "part A (lesson section 11)")
{
	const size_t size = 256 * 1024, n = 32;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int rc;

	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)(grade_rand_below(60) * 4096), 4096,
					      grade_xmalloc(4096), UNSET };
	aw_watch();
	rc = SEAM_CALL(paio_batch_read(reqs, n, 8));
	grade_check(rc == 0, "paio_batch_read(reqs, 32, 8) returned %s, expected 0",
		    errno_name(rc));
	check_protocol();
	grade_check(aw.accepted == (long)n, "paio_batch_read made %ld accepted aio_read calls "
		    "for 32 reads of 4 KiB inside the file: expected exactly 32, one per request",
		    aw.accepted);
	check_file_results("paio_batch_read", reqs, n, data, size, 8);
	close(fd);
	free(data);
}

GRADE_TEST(paio, edge_cases, 2,
	   "paio_batch_read: qd 0 and NULL are -EINVAL, n 0 does nothing, len 0 is 0 and offset -1 is -EINVAL without I/O",
	   "TODOs 1 and 3: check the arguments first; answer len == 0 (0, even for a bad fd) "
	   "and offset < 0 (-EINVAL) without submitting anything (paio.h, \"Result of each "
	   "request\")")
{
	const size_t size = 5000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	char bufs[6][200];
	struct batch_req one = { -1, 0, 0, NULL, UNSET };
	struct batch_req reqs[6] = {
		{ -1, 0, 0, bufs[0], UNSET },              /* len 0: 0, even with a bad fd */
		{ fd, -1, 10, bufs[1], UNSET },            /* -EINVAL */
		{ fd, -1, 0, bufs[2], UNSET },             /* -EINVAL comes first */
		{ fd, 5100, 100, bufs[3], UNSET },         /* past the end: 0 */
		{ fd, 4950, 100, bufs[4], UNSET },         /* crosses the end: 50 */
		{ fd, 0, 100, bufs[5], UNSET },
	};
	static const ssize_t want[6] = { 0, -EINVAL, -EINVAL, 0, 50, 100 };
	int rc;

	aw_watch();
	rc = SEAM_CALL(paio_batch_read(&one, 1, 0));
	grade_check(rc == -EINVAL, "paio_batch_read with qd 0 returned %s, expected -EINVAL",
		    errno_name(rc));
	rc = SEAM_CALL(paio_batch_read(NULL, 3, 4));
	grade_check(rc == -EINVAL, "paio_batch_read(NULL, 3, 4) returned %s, expected -EINVAL",
		    errno_name(rc));
	rc = SEAM_CALL(paio_batch_read(NULL, 1, 4));
	grade_check(rc == -EINVAL, "paio_batch_read(NULL, 1, 4) returned %s, expected -EINVAL",
		    errno_name(rc));
	rc = SEAM_CALL(paio_batch_read(&one, 0, 4));
	grade_check(rc == 0 && one.res == UNSET && aw.read_calls == 0,
		    "paio_batch_read with n 0 returned %s, res %s, %ld aio_read calls: expected 0 "
		    "and nothing done", errno_name(rc), errno_name(one.res), aw.read_calls);
	rc = SEAM_CALL(paio_batch_read(&one, 0, 0));
	grade_check(rc == -EINVAL && one.res == UNSET, "paio_batch_read(reqs, 0, 0) returned "
		    "%s, expected -EINVAL: qd == 0 is refused whatever n is; check the "
		    "arguments before answering n == 0 with 0 (TODO 1, paio.h \"Conventions\")",
		    errno_name(rc));
	rc = SEAM_CALL(paio_batch_read(reqs, 6, 1u << 30));
	grade_check(rc == 0, "paio_batch_read(reqs, 6, 2^30) returned %s, expected 0 (a qd "
		    "larger than n is fine)", errno_name(rc));
	check_protocol();
	for (int i = 0; i < 6; i++)
		grade_check(reqs[i].res == want[i], "request %d (fd %d, offset %lld, len %zu): res "
			    "is %s, expected %s", i, reqs[i].fd, (long long)reqs[i].offset,
			    reqs[i].len, errno_name(reqs[i].res), errno_name(want[i]));
	grade_check(aw.zero_len == 0, "paio_batch_read submitted a read of 0 bytes: answer "
		    "len == 0 with 0 and no I/O (TODO 3)");
	grade_check(aw.neg_offset == 0, "paio_batch_read submitted a read at a negative "
		    "offset: answer it with -EINVAL and no I/O (TODO 3)");
	grade_check_same(bufs[4], data + 4950, 50, "request 4");
	grade_check_same(bufs[5], data, 100, "request 5");

	/* len SSIZE_MAX + 1 (a small buffer): -EINVAL without I/O. The kernel
	 * would refuse it too, but only after the read was submitted. */
	aw.read_calls = 0;
	reqs[0] = (struct batch_req){ fd, 0, (size_t)SSIZE_MAX + 1, bufs[0], UNSET };
	rc = SEAM_CALL(paio_batch_read(reqs, 1, 1));
	grade_check(rc == 0 && reqs[0].res == -EINVAL && aw.read_calls == 0,
		    "a request of len SSIZE_MAX + 1: paio_batch_read returned %s, res %s, after "
		    "%ld aio_read calls; expected 0, -EINVAL and no aio_read: len > SSIZE_MAX is "
		    "answered -EINVAL before any I/O, like offset < 0 (TODO 3, paio.h \"Result "
		    "of each request\")", errno_name(rc), errno_name(reqs[0].res), aw.read_calls);
	check_protocol();

	/* The last request needs no I/O; the one after it in memory is not part
	 * of the batch and must stay untouched. */
	reqs[0] = (struct batch_req){ fd, 0, 100, bufs[0], UNSET };
	reqs[1] = (struct batch_req){ fd, 7, 0, bufs[1], UNSET };
	reqs[2] = (struct batch_req){ fd, 300, 100, bufs[2], UNSET };
	rc = SEAM_CALL(paio_batch_read(reqs, 2, 4));
	grade_check(rc == 0 && reqs[0].res == 100 && reqs[1].res == 0, "paio_batch_read of 2 "
		    "requests (100 bytes, then len 0) returned %s, res %s and %s; expected 0, 100, "
		    "0", errno_name(rc), errno_name(reqs[0].res), errno_name(reqs[1].res));
	grade_check(reqs[2].res == UNSET, "paio_batch_read(reqs, 2, 4) wrote res %s into "
		    "reqs[2], beyond the batch: it read past the end of the array after a last "
		    "request that needed no I/O (TODO 3)", errno_name(reqs[2].res));
	check_protocol();
	close(fd);
	free(data);
}

GRADE_TEST(paio, errors_per_request, 2,
	   "paio_batch_read: a bad fd, a directory, a write-only fd, an empty non-blocking pipe and one that runs dry half way (EAGAIN) get their own -errno; the others still run",
	   "TODO 7: a read's failure comes from aio_error, as a positive error number, not "
	   "from errno; it is that request's result alone, and the read is still collected. "
	   "EAGAIN from aio_error is such a failure (a non-blocking fd with no data), not "
	   "aio_read's \"try later\" (aio_error(3), lesson section 2)")
{
	const size_t size = 8192;
	unsigned char *data = grade_random_bytes(size);
	const char *path = grade_make_file("f", data, size);
	int fd = grade_open(path, O_RDONLY), wfd = grade_open(path, O_WRONLY);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	char bufs[10][1000];
	int np[2], dp[2];
	struct batch_req reqs[10] = {
		{ fd, 0, 1000, bufs[0], UNSET },
		{ 999, 0, 1000, bufs[1], UNSET },   /* not open */
		{ fd, 3000, 1000, bufs[2], UNSET },
		{ dir, 0, 1000, bufs[3], UNSET },
		{ fd, 6000, 1000, bufs[4], UNSET },
		{ wfd, 0, 1000, bufs[5], UNSET },   /* open for writing only */
		{ fd, 7800, 1000, bufs[6], UNSET }, /* 392 bytes left */
		{ fd, 1500, 1000, bufs[7], UNSET },
		{ -1, 0, 1000, bufs[8], UNSET },    /* an empty non-blocking pipe */
		{ -1, 0, 1000, bufs[9], UNSET },    /* a non-blocking pipe holding 100 */
	};
	static const ssize_t want[10] = { 1000, -EBADF, 1000, -EISDIR, 1000, -EBADF, 392, 1000,
					  -EAGAIN, -EAGAIN };
	int rc;

	/* Its writer stays open: the read fails with EAGAIN at once, and would
	 * again as often as it is submitted. */
	fault_pipe(np, 0);
	grade_check(fcntl(np[0], F_SETFL, O_NONBLOCK) == 0, "harness: cannot make the pipe "
		    "non-blocking");
	reqs[8].fd = np[0];
	/* 100 bytes, its writer open: the first read gets them, the
	 * continuation fails with EAGAIN. An error after progress is the error:
	 * 100 would claim that the writer hung up. */
	fault_pipe(dp, 0);
	grade_check(fcntl(dp[0], F_SETFL, O_NONBLOCK) == 0, "harness: cannot make the pipe "
		    "non-blocking");
	grade_check(SEAM_REAL(write)(dp[1], data, 100) == 100, "harness: cannot feed the pipe");
	reqs[9].fd = dp[0];
	aw_watch();
	aw.read_budget = 100;
	aw.budget_why = "paio_batch_read made more than 100 aio_read calls for 10 requests: a "
			"read that failed with EAGAIN (aio_error said EAGAIN: an empty "
			"non-blocking pipe) was submitted again. That EAGAIN is the read's own "
			"failure, its result -EAGAIN; only aio_read refusing with EAGAIN means "
			"\"try later\" (TODO 7)";
	rc = SEAM_CALL(paio_batch_read(reqs, 10, 3));
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0: a failed request is "
		    "that request's result, not the batch's", errno_name(rc));
	check_protocol();
	for (int i = 0; i < 10; i++)
		grade_check(reqs[i].res == want[i], "request %d%s: res is %s, expected %s", i,
			    i == 8 ? " (an empty non-blocking pipe)" : i == 9 ? " (1000 bytes asked "
			    "of a non-blocking pipe holding 100, its writer open: the first read got "
			    "100, the continuation failed with EAGAIN; an error after progress is the "
			    "request's error, a count would claim end of file)" : "",
			    errno_name(reqs[i].res), errno_name(want[i]));
	grade_check_same(bufs[2], data + 3000, 1000, "request 2");
	grade_check_same(bufs[6], data + 7800, 392, "request 6");
	grade_check_same(bufs[7], data + 1500, 1000, "request 7");
	close(np[0]);
	close(np[1]);
	close(dp[0]);
	close(dp[1]);
	close(dir);
	close(wfd);
	close(fd);
	free(data);
}

GRADE_TEST(paio, aiocb_prepared, 1,
	   "paio_batch_read zeroes each aiocb and asks for no notification (SIGEV_NONE)",
	   "TODO 4: every aiocb given to aio_read starts cleared (glibc refuses leftovers "
	   "such as a garbage aio_reqprio) and asks for no notification, which in glibc is "
	   "not the value 0 (aio(7) NOTES, sigevent(7), lesson section 1)")
{
	const size_t size = 100000, n = 24;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 5000);
	int rc;

	aw_watch();
	/* Memory from malloc is no longer zero: fields left unset show up. */
	mallopt(M_PERTURB, 0x5a);
	rc = SEAM_CALL(paio_batch_read(reqs, n, 6));
	mallopt(M_PERTURB, 0);
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_file_results("paio_batch_read", reqs, n, data, size, 6);
	close(fd);
	free(data);
}

GRADE_TEST(paio, aio_return_once, 3,
	   "paio_batch_read calls aio_return exactly once per accepted read, after aio_error said it finished",
	   "TODO 7: after aio_suspend, call aio_error for each read in flight; only when it "
	   "is not EINPROGRESS call aio_return, once, and then the aiocb is yours again; "
	   "never for a read aio_read refused (aio_return(3), lesson section 2)")
{
	const size_t size = 1 << 19, n = 64, len = 3000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 20000);
	static const int order[3] = { 2, 0, 1 };
	int p[3][2];
	struct batch_req preqs[3];
	unsigned char *pdata[3];
	struct feed *f;
	int rc;

	aw_watch();
	rc = SEAM_CALL(paio_batch_read(reqs, n, 8));
	grade_check(rc == 0, "paio_batch_read(reqs, 64, 8) on a file returned %s, expected 0",
		    errno_name(rc));
	check_protocol();
	check_file_results("paio_batch_read", reqs, n, data, size, 8);

	/* Three pipes answered 2, 0, 1, each while the code sleeps in aio_suspend:
	 * when aio_suspend returns, the others are still in progress. */
	feed_pipes(3, p, preqs, pdata, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 3, .pipes = p, .order = order, .data = pdata,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(preqs, 3, 3));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, "3 pipes at qd 3, answered 2, 0, 1, each while paio_batch_read sleeps in "
		  "aio_suspend");
	grade_check(rc == 0, "paio_batch_read on 3 pipes returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read", preqs, 3, pdata, len);
	feed_free_pipes(3, p, preqs, pdata);
	free(f);
	close(fd);
	free(data);
}

GRADE_TEST(paio, sleeps_in_aio_suspend, 3,
	   "paio_batch_read sleeps in aio_suspend while reads are pending, instead of polling",
	   "TODO 6: sleep in aio_suspend on a list of exactly the reads in flight: glibc "
	   "returns at once while any entry is no longer in progress, so a collected read "
	   "left in the list makes every wait a busy loop (lesson section 3)")
{
	static const int order[4] = { 1, 3, 0, 2 };
	const size_t len = 2000;
	int p[4][2];
	struct batch_req reqs[4];
	unsigned char *data[4];
	struct feed *f;
	long bound;
	int rc;

	aw_watch();
	feed_pipes(4, p, reqs, data, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 4, .pipes = p, .order = order, .data = data,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(reqs, 4, 4));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read on 4 pipes returned %s, expected 0", errno_name(rc));
	check_fed(f, "4 pipes, each answered only while paio_batch_read sleeps in aio_suspend");
	check_protocol();
	check_pipe_results("paio_batch_read", reqs, 4, data, len);
	check_timed_waits();
	check_suspends_per_read();
	bound = 3 * 4 * (aw.suspends + 2);   /* a scan before and after each wait is fine */
	grade_check(aw.errors <= bound, "paio_batch_read called aio_error %ld times for 4 reads "
		    "and %ld aio_suspend calls (at most %ld expected): it polls instead of "
		    "sleeping in aio_suspend (TODO 6)", aw.errors, aw.suspends, bound);
	feed_free_pipes(4, p, reqs, data);
	free(f);
}

GRADE_TEST(paio, eintr_in_aio_suspend, 2,
	   "paio_batch_read waits again when a signal interrupts aio_suspend (EINTR)",
	   "TODO 6: aio_suspend fails with EINTR when a handler installed without SA_RESTART "
	   "ran while it waited; that is no error of any request: call it again "
	   "(aio_suspend(3), lesson section 3)")
{
	const size_t len = 500;
	int p[1][2];
	struct batch_req reqs[1];
	unsigned char *data[1];
	struct feed *f;
	int rc;

	aw_watch();
	feed_pipes(1, p, reqs, data, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 1, .pipes = p, .data = data, .len = len,
					   .wait = W_IN_SUSPEND, .interrupt = true });
	rc = SEAM_CALL(paio_batch_read(reqs, 1, 2));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	grade_check(f->interrupted || rc == 0, "paio_batch_read returned %s before a signal "
		    "could interrupt aio_suspend (expected 0)", errno_name(rc));
	grade_check(f->interrupted, "paio_batch_read with a read pending on an empty pipe: %s",
		    f->why[0] ? f->why : "aio_suspend never returned EINTR");
	grade_check(rc == 0, "paio_batch_read returned %s after a signal interrupted "
		    "aio_suspend (EINTR); expected it to wait again and return 0", errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read after EINTR", reqs, 1, data, len);
	feed_free_pipes(1, p, reqs, data);
	free(f);
}

GRADE_TEST(paio, short_reads, 3,
	   "paio_batch_read continues short reads: aio_read capped at 1000 bytes, pipes fed 100 bytes at a time",
	   "TODOs 4 and 7: a read can return fewer bytes than asked before end of file; the "
	   "request is not finished: submit the part still missing, from where the bytes so "
	   "far end (lesson section 2, short reads)")
{
	const size_t size = 200000, n = 24, len = 1000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int p[2][2];
	struct batch_req preqs[2];
	unsigned char *pdata[2];
	struct feed *f;
	int rc;

	for (size_t i = 0; i < n; i++) {
		size_t l = 2500 + grade_rand_below(6500);

		reqs[i] = (struct batch_req){ fd, (off_t)grade_rand_below(size - l), l,
					      grade_xmalloc(l), UNSET };
	}
	aw_watch();
	aw.cap = 1000;   /* every aio_read transfers at most 1000 bytes */
	rc = SEAM_CALL(paio_batch_read(reqs, n, 4));
	aw.cap = 0;
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_file_results("paio_batch_read with reads cut to 1000 bytes", reqs, n, data, size, 4);

	feed_pipes(2, p, preqs, pdata, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .data = pdata, .len = len,
					   .piece = 100 });
	rc = SEAM_CALL(paio_batch_read(preqs, 2, 2));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	grade_check(rc == 0, "paio_batch_read on pipes fed in pieces returned %s, expected 0",
		    errno_name(rc));
	check_protocol();
	check_fed(f, "pipes fed 100 bytes at a time");
	check_pipe_results("paio_batch_read (pipes fed 100 bytes at a time)", preqs, 2, pdata, len);
	feed_free_pipes(2, p, preqs, pdata);
	free(f);
	close(fd);
	free(data);
}

GRADE_TEST(paio, end_of_file, 2,
	   "paio_batch_read ends a request at end of file: pipes that hang up early, reads past a file's end (no read submitted again after a 0)",
	   "TODO 7: a read that returns 0 is the end of the file: the request ends with the "
	   "bytes it has and is not submitted again (read(2), lesson section 2)")
{
	const size_t size = 10000, len = 300;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	char bufs[4][1000];
	struct batch_req reqs[4] = {
		{ fd, 9500, 1000, bufs[0], UNSET },  /* 500 */
		{ fd, 20000, 1000, bufs[1], UNSET }, /* 0 */
		{ fd, 10000, 1, bufs[2], UNSET },    /* 0 */
		{ fd, 9999, 1000, bufs[3], UNSET },  /* 1: one byte, then end of file */
	};
	int p[2][2];
	struct batch_req preqs[2];
	unsigned char *pdata[2];
	struct feed *f;
	long accepted;
	int rc;

	aw_watch();
	aw.read_budget = 100;
	aw.budget_why = "paio_batch_read made more than 100 aio_read calls for a few requests "
			"at end of file: aio_return == 0 means end of file; finish the request "
			"instead of submitting it again (TODO 7)";
	accepted = aw.accepted;
	rc = SEAM_CALL(paio_batch_read(reqs, 4, 2));
	accepted = aw.accepted - accepted;
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	/* 500 bytes then 0; 0; 0; 1 byte then 0: each request ends at its
	 * first 0, so six reads in all. */
	grade_check(accepted <= 6, "paio_batch_read made %ld aio_read calls (accepted) for 4 "
		    "requests at the end of a 10000-byte file, where 6 are enough (offset 9500: "
		    "500 bytes, then 0; offsets 20000 and 10000: 0; offset 9999: 1 byte, then 0): "
		    "the first aio_return of 0 is the end of the file; end the request there "
		    "instead of submitting it again to make sure (TODO 7, read(2))", accepted);
	grade_check(reqs[0].res == 500 && reqs[1].res == 0 && reqs[2].res == 0 &&
		    reqs[3].res == 1, "reads at offsets 9500, 20000, 10000 and 9999 of a "
		    "10000-byte file: res %s, %s, %s, %s; expected 500, 0, 0, 1 (a read that "
		    "returns 1 byte is 1 byte, not end of file)", errno_name(reqs[0].res),
		    errno_name(reqs[1].res), errno_name(reqs[2].res), errno_name(reqs[3].res));
	grade_check_same(bufs[0], data + 9500, 500, "request 0");
	grade_check_same(bufs[3], data + 9999, 1, "request 3");

	/* Each pipe delivers 300 bytes and hangs up; the requests ask for 800. */
	feed_pipes(2, p, preqs, pdata, len, 500, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .data = pdata, .len = len });
	rc = SEAM_CALL(paio_batch_read(preqs, 2, 2));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read on pipes returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read (800 bytes asked)", preqs, 2, pdata, len);
	feed_free_pipes(2, p, preqs, pdata);
	free(f);
	close(fd);
	free(data);
}

GRADE_TEST(paio, queue_depth, 3,
	   "paio_batch_read keeps qd reads in flight, never more: 8 pipes answered last to first, 40 file reads at qd 5",
	   "TODOs 2, 3 and 5: fill the whole window before the first wait, and never have "
	   "more than qd reads in flight; the pipes are answered in reverse order, so they "
	   "all must be waiting at once (paio.h, qd; lesson section 11)")
{
	static const int order[8] = { 7, 6, 5, 4, 3, 2, 1, 0 };
	const size_t size = 1 << 18, n = 40, len = 100;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 8000);
	int p[8][2];
	struct batch_req preqs[8];
	unsigned char *pdata[8];
	struct feed *f;
	int rc;

	aw_watch();
	rc = SEAM_CALL(paio_batch_read(reqs, n, 5));
	grade_check(rc == 0, "paio_batch_read(reqs, 40, 5) returned %s, expected 0",
		    errno_name(rc));
	check_protocol();
	grade_check(aw.max_inflight <= 5, "paio_batch_read had %ld reads in flight at once "
		    "with qd 5 (in flight: accepted by aio_read, not yet collected by "
		    "aio_return)", aw.max_inflight);
	check_file_results("paio_batch_read", reqs, n, data, size, 5);

	aw.max_inflight = 0;
	feed_pipes(8, p, preqs, pdata, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 8, .pipes = p, .order = order, .data = pdata,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(preqs, 8, 8));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, "8 pipes at qd 8, answered from the last to the first");
	grade_check(rc == 0, "paio_batch_read on 8 pipes returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read", preqs, 8, pdata, len);
	grade_check(aw.max_inflight == 8, "paio_batch_read had at most %ld reads in flight "
		    "with qd 8 and 8 requests", aw.max_inflight);
	feed_free_pipes(8, p, preqs, pdata);
	free(f);
	close(fd);
	free(data);
}

/* paio_batch_read of n pipes at qd, each answered (in `order`) once the
 * code sleeps in aio_suspend: the read of each pipe must be in flight when
 * its turn comes (`why` says which), never more than qd at once. */
static void paio_pipes_in_order(int n, const int *order, unsigned qd, const char *why)
{
	const size_t len = 700;
	int p[FEED_MAX][2];
	struct batch_req reqs[FEED_MAX];
	unsigned char *data[FEED_MAX];
	struct feed *f;
	int rc;

	aw.max_inflight = 0;
	feed_pipes(n, p, reqs, data, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = n, .pipes = p, .order = order, .data = data,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(reqs, (size_t)n, qd));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, why);
	grade_check(rc == 0, "paio_batch_read on %d pipes at qd %u returned %s, expected 0", n,
		    qd, errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read", reqs, n, data, len);
	grade_check(aw.max_inflight <= (long)qd, "paio_batch_read had %ld reads in flight with "
		    "qd %u", aw.max_inflight, qd);
	feed_free_pipes(n, p, reqs, data);
	free(f);
}

GRADE_TEST(paio, window_refilled, 2,
	   "paio_batch_read submits the next request as soon as one finishes (qd 2: pipes answered 1, 2, 0; qd 4: 6 pipes answered 1, 4, 5, 0, 2, 3)",
	   "TODOs 3 and 7: when a read finishes and requests are left, give its slot the next "
	   "request and submit it before waiting again, without waiting for the rest of the "
	   "window (paio.h, qd)")
{
	aw_watch();
	paio_pipes_in_order(3, (const int[]){ 1, 2, 0 }, 2, "3 pipes at qd 2: request 2 must "
			    "be submitted when request 1 finishes, while request 0 still waits");
	/* qd 4: at qd 2 half a window is one read, so a window refilled only
	 * once half of it is done looks the same as one refilled at once.
	 * Here pipe 1 is answered while 0, 2 and 3 wait: pipe 4 must be
	 * submitted then, and pipe 5 once pipe 4 is done, both while three
	 * of the first window still wait. */
	paio_pipes_in_order(6, (const int[]){ 1, 4, 5, 0, 2, 3 }, 4, "6 pipes at qd 4: request "
			    "4 must be submitted when request 1 finishes, and request 5 when "
			    "request 4 does, while requests 0, 2 and 3 still wait: a slot is "
			    "refilled as soon as its read is collected, not once half of the "
			    "window (or all of it) is done");
}

/* aio_read of a continuation of a short read on `cont_eagain_fd` (aio_offset
 * not a multiple of 4096) fails with EAGAIN `cont_eagain_left` times. */
static int cont_eagain_fd = -1;
static long cont_eagain_left;

static bool cont_eagain_take(const struct aiocb *cb)
{
	bool take = false;

	pthread_mutex_lock(&aw.lock);
	if (cont_eagain_left > 0 && cb->aio_fildes == cont_eagain_fd &&
	    cb->aio_offset % 4096 != 0) {
		cont_eagain_left--;
		take = true;
	}
	pthread_mutex_unlock(&aw.lock);
	return take;
}

static int cont_eagain_read(struct aiocb *cb)
{
	int rc;

	if (!cont_eagain_take(cb))
		return aw_aio_read(cb);
	aw.cont_refuse_errno = EAGAIN;
	rc = aw_aio_read(cb);
	aw.cont_refuse_errno = 0;
	return rc;
}

static int cont_eagain_read64(struct aiocb64 *cb)
{
	int rc;

	if (!cont_eagain_take((const struct aiocb *)cb))
		return aw_aio_read64(cb);
	aw.cont_refuse_errno = EAGAIN;
	rc = aw_aio_read64(cb);
	aw.cont_refuse_errno = 0;
	return rc;
}

/* qd 2: a read on a pipe, held, and 3000 bytes of a file read 1000 at a
 * time. The continuation at 1000 meets EAGAIN once, with the pipe read in
 * flight: the code waits for it, and that wait lists the reads in flight
 * only, not the aiocb of the short read it collected and has yet to
 * submit again (glibc returns at once for an entry that is not in
 * progress: polling). The pipe is answered once the code sleeps. */
static void eagain_cont_with_pipe(int fd, const unsigned char *data)
{
	const size_t len = 400;
	int p[1][2];
	struct batch_req reqs[2];
	unsigned char *pdata[1];
	char *buf = grade_xmalloc(3000);
	struct feed *f;
	int rc;

	feed_pipes(1, p, reqs, pdata, len, 0, UNSET);
	reqs[1] = (struct batch_req){ fd, 0, 3000, buf, UNSET };
	aw.read_calls = 0;
	aw.cap = 1000;
	cont_eagain_fd = fd;
	cont_eagain_left = 1;
	seam_hook_aio_read = cont_eagain_read;
	seam_hook_aio_read64 = cont_eagain_read64;
	f = feed_start(&(struct feed_cfg){ .n = 1, .pipes = p, .data = pdata, .len = len,
					   .wait = W_IN_SUSPEND,
					   .after_returns = aw.returns + 1 });
	rc = SEAM_CALL(paio_batch_read(reqs, 2, 2));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	seam_hook_aio_read = aw_aio_read;
	seam_hook_aio_read64 = aw_aio_read64;
	cont_eagain_left = 0;
	aw.cap = 0;
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read returned %s when the continuation of a short read "
		    "met EAGAIN once while a read on a pipe was in flight; expected 0",
		    errno_name(rc));
	check_fed(f, "the continuation of a short file read met EAGAIN while a read on a pipe "
		  "was in flight: wait for the pipe read in aio_suspend, with only the reads in "
		  "flight in the list (NULL for the slot whose continuation waits to be "
		  "submitted again; TODOs 6 and 8)");
	check_protocol();
	check_suspends_per_read();
	grade_check(reqs[1].res == 3000, "a file read of 3000 bytes, read 1000 at a time, whose "
		    "continuation met EAGAIN once: res %s, expected 3000", errno_name(reqs[1].res));
	grade_check_same(buf, data, 3000, "the file read whose continuation met EAGAIN");
	check_pipe_results("paio_batch_read (a pipe read beside it)", reqs, 1, pdata, len);
	feed_free_pipes(1, p, reqs, pdata);
	free(buf);
	free(f);
}

GRADE_TEST(paio, eagain_from_aio_read, 3,
	   "paio_batch_read: aio_read failing with EAGAIN is retried (3 in a row, or every other call, continuations of short reads too, one while a pipe read is in flight: the wait lists only reads in flight); if it never ends, -EAGAIN",
	   "TODOs 5 and 8: EAGAIN means \"out of resources, try later\": wait for one of your "
	   "reads and submit again; with none in flight pause and retry a bounded number of "
	   "times, then return -EAGAIN (paio.h)")
{
	const size_t size = 100000, n = 20;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	/* The third case cuts every read to 1000 bytes: the continuations of
	 * short reads meet EAGAIN too, and it means the same for them. */
	static const struct { enum aw_eagain mode; size_t cap; const char *what; } cases[3] = {
		{ AW_EAGAIN_FIRST, 0, "the first 3 aio_read calls failed with EAGAIN" },
		{ AW_EAGAIN_ALTERNATE, 0, "every other aio_read call failed with EAGAIN" },
		{ AW_EAGAIN_ALTERNATE, 1000, "every read was cut to 1000 bytes and every other "
		  "aio_read call failed with EAGAIN, the continuations' too" },
	};
	struct batch_req *reqs;
	int rc;

	aw_watch();
	aw.read_budget = 500;
	aw.budget_why = "paio_batch_read made more than 500 aio_read calls for 20 requests: "
			"when EAGAIN does not end, give up with -EAGAIN after a bounded number "
			"of tries (TODO 8)";
	for (int k = 0; k < 3; k++) {
		reqs = random_reads(fd, size, n, 5000);
		aw.read_calls = 0;
		aw.eagain_then_accept = 0;
		aw.eagain = cases[k].mode;
		aw.eagain_first = 3;
		aw.cap = cases[k].cap;
		rc = SEAM_CALL(paio_batch_read(reqs, n, 6));
		aw.eagain = AW_EAGAIN_NONE;
		aw.cap = 0;
		w_check_no_violation();
		grade_check(rc == 0, "paio_batch_read returned %s when %s; expected 0 (retry)",
			    errno_name(rc), cases[k].what);
		grade_check(aw.eagain_then_accept == 0, "when %s, paio_batch_read had %ld of its "
			    "aio_read calls accepted right after an EAGAIN while reads of the batch "
			    "were in flight, with no aio_suspend or aio_return in between: after "
			    "EAGAIN, wait for one of your reads before calling aio_read again, and "
			    "then submit the refused request first (trying the next ready requests "
			    "at once puts them in flight before it; TODO 8, paio.h: \"never call "
			    "aio_read again before that\")", cases[k].what, aw.eagain_then_accept);
		check_protocol();
		for (size_t i = 0; i < n; i++)
			grade_check(reqs[i].res != -EAGAIN, "request %zu got -EAGAIN when %s: EAGAIN "
				    "from aio_read is not the request's result, submit it again%s",
				    i, cases[k].what, cases[k].cap ? " (a continuation of a short "
				    "read as well: the slot stays ready, TODOs 5 and 8)" : "");
		check_file_results("paio_batch_read", reqs, n, data, size, 6);
	}
	eagain_cont_with_pipe(fd, data);
	reqs = random_reads(fd, size, n, 5000);
	aw.read_calls = 0;
	aw.eagain = AW_EAGAIN_ALWAYS;
	rc = SEAM_CALL(paio_batch_read(reqs, n, 6));
	aw.eagain = AW_EAGAIN_NONE;
	w_check_no_violation();
	grade_check(rc == -EAGAIN, "paio_batch_read returned %s when every aio_read call failed "
		    "with EAGAIN; expected -EAGAIN after a bounded number of tries", errno_name(rc));
	check_protocol();
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);
	/* A batch that gave up leaves nothing behind: the next one counts its
	 * own tries from zero (a count kept in a static variable would make
	 * it give up at its first EAGAIN). */
	reqs = random_reads(fd, size, n, 5000);
	aw.read_calls = 0;
	aw.eagain = AW_EAGAIN_FIRST;
	aw.eagain_first = 3;
	rc = SEAM_CALL(paio_batch_read(reqs, n, 6));
	aw.eagain = AW_EAGAIN_NONE;
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read returned %s for a batch whose first 3 aio_read calls "
		    "failed with EAGAIN, right after a batch that gave up with -EAGAIN; expected 0: "
		    "each call counts its own tries from zero (a count of EAGAINs kept in a static "
		    "variable carries over to the next call; TODO 8, paio.h: a call keeps its "
		    "state in memory of its own)", errno_name(rc));
	check_protocol();
	check_file_results("paio_batch_read", reqs, n, data, size, 6);
	close(fd);
	free(data);
}

/* aio_suspend failing for a while, not once: the next `sticky_fails` calls
 * fail with ENOMEM, as if glibc had no memory for its waits, then calls go
 * through again. */
static long sticky_fails;

static void sticky_arm(void)
{
	pthread_mutex_lock(&aw.lock);
	if (sticky_fails > 0) {
		sticky_fails--;
		aw.suspend_fail_errno = ENOMEM;
	}
	pthread_mutex_unlock(&aw.lock);
}

static int sticky_suspend(const struct aiocb *const list[], int n, const struct timespec *ts)
{
	sticky_arm();
	return aw_aio_suspend(list, n, ts);
}

static int sticky_suspend64(const struct aiocb64 *const list[], int n,
			    const struct timespec *ts)
{
	sticky_arm();
	return aw_aio_suspend64(list, n, ts);
}

GRADE_TEST(paio, error_collects_reads, 2,
	   "paio_batch_read: when aio_suspend fails (ENOMEM), once or 12 times in a row, it returns -ENOMEM only after collecting every read in flight, each once it finished",
	   "TODO 9: on an error path, wait for every read still in flight (sleep in "
	   "aio_suspend; EINTR: check aio_error and wait again) and aio_return it only once "
	   "it finished, before freeing the aiocbs: glibc's helpers write into them until "
	   "then (paio.h, return value)")
{
	const size_t len = 400;
	int p[3][2];
	struct batch_req reqs[3];
	unsigned char *data[3];
	struct feed *f;
	long left;
	int rc;

	aw_watch();
	feed_pipes(3, p, reqs, data, len, 0, UNSET);
	aw.suspend_fail_errno = ENOMEM;   /* the first aio_suspend fails */
	/* While it waits for the reads still in flight, a signal interrupts
	 * aio_suspend once (EINTR: wait again); each pipe is answered only while
	 * the code sleeps in aio_suspend. */
	f = feed_start(&(struct feed_cfg){ .n = 3, .pipes = p, .data = data, .len = len,
					   .wait = W_IN_SUSPEND, .interrupt = true });
	rc = SEAM_CALL(paio_batch_read(reqs, 3, 3));
	left = aw_in_flight();
	grade_check(left == 0, "paio_batch_read returned %s with %ld read(s) still in flight "
		    "after aio_suspend failed: collect every accepted read before returning "
		    "(TODO 9)", errno_name(rc), left);
	feed_join(f);
	w_check_no_violation();
	grade_check(rc == -ENOMEM, "paio_batch_read returned %s when aio_suspend failed with "
		    "ENOMEM; expected -ENOMEM", errno_name(rc));
	check_fed(f, "after aio_suspend failed, the reads still in flight are waited for by "
		  "sleeping in aio_suspend (again after EINTR), not by polling aio_error (TODO 9)");
	check_protocol();
	feed_free_pipes(3, p, reqs, data);
	free(f);

	/* aio_suspend fails 12 times in a row (ENOMEM), the waits of the drain
	 * too; the pipes are answered only once the code sleeps in aio_suspend
	 * again. A failed wait is no news about the reads: ask aio_error, and
	 * call aio_return only for a read that finished. */
	feed_pipes(3, p, reqs, data, len, 0, UNSET);
	aw_pace_watch();
	seam_hook_aio_suspend = sticky_suspend;
	seam_hook_aio_suspend64 = sticky_suspend64;
	sticky_fails = 12;
	f = feed_start(&(struct feed_cfg){ .n = 3, .pipes = p, .data = data, .len = len,
					   .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(reqs, 3, 3));
	left = aw_in_flight();
	grade_check(left == 0, "paio_batch_read returned %s with %ld read(s) still in flight "
		    "after aio_suspend failed 12 times in a row (ENOMEM): keep waiting for every "
		    "accepted read and collect it before returning (TODO 9)", errno_name(rc), left);
	feed_join(f);
	sticky_fails = 0;
	seam_hook_aio_suspend = aw_aio_suspend;
	seam_hook_aio_suspend64 = aw_aio_suspend64;
	w_check_no_violation();
	grade_check(rc == -ENOMEM, "paio_batch_read returned %s when aio_suspend failed with "
		    "ENOMEM 12 times in a row; expected -ENOMEM", errno_name(rc));
	check_fed(f, "while aio_suspend kept failing (ENOMEM), then worked again, the reads "
		  "still in flight were waited for: a failed aio_suspend says nothing about "
		  "them; ask aio_error, and aio_return a read only once it finished (TODO 9)");
	check_protocol();
	feed_free_pipes(3, p, reqs, data);
	free(f);
}

GRADE_TEST(paio, many_requests, 1,
	   "paio_batch_read: 3000 reads of 16 bytes with qd 2^20 and with qd UINT_MAX (PAIO_MAX_INFLIGHT in flight, never more)",
	   "TODO 2: the window's size is min(qd, n, PAIO_MAX_INFLIGHT), whatever qd says: "
	   "bounded by the contract's limit, no smaller bound of your own, and on the heap "
	   "(paio.h: qd and PAIO_MAX_INFLIGHT)")
{
	static const unsigned qds[] = { 1u << 20, UINT_MAX };
	static const char *const qd_names[] = { "2^20", "UINT_MAX" };
	const size_t size = 1 << 16, n = 3000;
	unsigned char *data = grade_random_bytes(size), *bufs = grade_xmalloc(n * 16);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int rc;

	aw_watch();
	/* qd UINT_MAX ("no limit") too: the cap is PAIO_MAX_INFLIGHT whatever
	 * qd is, also one that does not fit an int. */
	for (size_t round = 0; round < 2; round++) {
		for (size_t i = 0; i < n; i++)
			reqs[i] = (struct batch_req){ fd, (off_t)grade_rand_below(size - 16), 16,
						      bufs + i * 16, UNSET };
		aw.max_inflight = 0;
		/* The window's size shows when the code waits: a read of 16 bytes
		 * from the page cache may be collected before the window is full,
		 * but no wait (aio_suspend, a pause, aio_error asked again about
		 * the same read) may come with fewer than PAIO_MAX_INFLIGHT in
		 * flight while requests are left to submit. */
		aw_fill_expect((long)n, PAIO_MAX_INFLIGHT);
		rc = SEAM_CALL(paio_batch_read(reqs, n, qds[round]));
		aw_fill_end();
		grade_check(rc == 0, "paio_batch_read (qd %s) returned %s, expected 0",
			    qd_names[round], errno_name(rc));
		check_protocol();
		grade_check(aw.max_inflight <= (long)PAIO_MAX_INFLIGHT, "paio_batch_read had %ld "
			    "reads in flight with qd %s; at most PAIO_MAX_INFLIGHT (%u) allowed, "
			    "whatever qd says: is qd compared or converted as an int somewhere? "
			    "(TODO 2, paio.h qd)", aw.max_inflight, qd_names[round],
			    PAIO_MAX_INFLIGHT);
		grade_check(aw.underfilled == 0, "paio_batch_read %s with %ld reads in flight while "
			    "%ld of the 3000 requests (qd %s) were not submitted yet (%ld such waits): "
			    "the window is min(qd, n, PAIO_MAX_INFLIGHT) = %u, kept full while requests "
			    "are left; a smaller bound of your own is a window too small, however the "
			    "code waits (TODO 2, paio.h qd; lesson section 10, pitfall 7)",
			    aw.underfilled_how, aw.underfilled_inflight, aw.underfilled_left,
			    qd_names[round], aw.underfilled, PAIO_MAX_INFLIGHT);
		for (size_t i = 0; i < n; i++) {
			grade_check(reqs[i].res == 16, "qd %s, request %zu: res is %s, expected 16",
				    qd_names[round], i, errno_name(reqs[i].res));
			grade_check_same(reqs[i].buf, data + reqs[i].offset, 16, "paio_batch_read");
		}
	}
	close(fd);
	free(reqs);
	free(bufs);
	free(data);
}

/* ===================================================================== */
/* Part B: the thread pool                                               */
/* ===================================================================== */

/* The test thread's signal mask around the calls that create a pool: a
 * tpool_create that leaves the caller's signals blocked would also block the
 * test's own time limit (SIGXCPU), so the mask is put back at once and the
 * mistake is recorded for tpool.workers_block_signals. */
static bool mask_left_changed;

static void mask_get(sigset_t *m)
{
	sigemptyset(m);
	pthread_sigmask(SIG_BLOCK, NULL, m);
}

static void mask_put_back(const sigset_t *before)
{
	sigset_t now;

	mask_get(&now);
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		if (sigismember(&now, sig) != sigismember(before, sig)) {
			mask_left_changed = true;
			pthread_sigmask(SIG_SETMASK, before, NULL);
			return;
		}
	}
}

#define POOL_CALL(expr)                                  \
	({                                               \
		sigset_t pool_mask_;                     \
		mask_get(&pool_mask_);                   \
		__auto_type pool_result_ = SEAM_CALL(expr); \
		mask_put_back(&pool_mask_);              \
		pool_result_;                            \
	})

/* Create a pool under watch; fails the test with the reason if it fails. */
static struct tpool *pool_or_fail(unsigned nthreads)
{
	struct tpool *p = NULL;
	int rc = POOL_CALL(tpool_create(&p, nthreads));

	grade_check(rc == 0 && p != NULL, "tpool_create(&p, %u) returned %s%s", nthreads,
		    errno_name(rc), rc == 0 ? " but left p NULL" : ", expected 0");
	return p;
}

/* pool_or_fail, leaving the seams armed: the workers' first waits are
 * watched too (SEAM_CALL_VOID of the tpool_destroy disarms them). */
static struct tpool *pool_or_fail_armed(unsigned nthreads)
{
	struct tpool *p = pool_or_fail(nthreads);

	seam_arm();
	return p;
}

GRADE_TEST(tpool, create_and_destroy, 3,
	   "tpool_create starts exactly nthreads threads; tpool_destroy joins every one of them",
	   "TODOs 11 and 15: tpool_create starts exactly nthreads workers; tpool_destroy "
	   "wakes every one of them and joins it before it returns (pthread_join(3), lesson "
	   "section 8, \"The decisions\")")
{
	struct tpool *p = (struct tpool *)&p, *q;
	int base = fault_count_threads(), now, rc;

	tw_watch();
	rc = POOL_CALL(tpool_create(&p, 0));
	grade_check(rc == -EINVAL && p == (struct tpool *)&p, "tpool_create(&p, 0) returned %s "
		    "(expected -EINVAL, p untouched)", errno_name(rc));
	rc = POOL_CALL(tpool_create(&p, TPOOL_MAX_THREADS + 1));
	grade_check(rc == -EINVAL, "tpool_create(&p, TPOOL_MAX_THREADS + 1) returned %s, "
		    "expected -EINVAL", errno_name(rc));
	rc = POOL_CALL(tpool_create(NULL, 2));
	grade_check(rc == -EINVAL, "tpool_create(NULL, 2) returned %s, expected -EINVAL",
		    errno_name(rc));
	grade_check(tw.create_calls == 0, "tpool_create started threads for invalid arguments");

	q = pool_or_fail_armed(5);
	now = fault_count_threads();
	grade_check(tw.created == 5 && now == base + 5, "after tpool_create(&p, 5): %ld "
		    "pthread_create calls and %d threads more than before; expected 5 and 5",
		    tw.created, now - base);
	/* Every worker asleep in its wait for work (bounded), then destroy. */
	for (long deadline = fault_now_ms() + 1000; fault_now_ms() < deadline; fault_nap()) {
		int asleep = 0;

		for (int i = 0; i < atomic_load(&tw.ntids) && i < TW_MAX; i++)
			asleep += atomic_load(&tw.last_cond[i]) != NULL && w_sysno_of(tw.tids[i]) >= 0;
		if (asleep == 5)
			break;
	}
	tw.check_join_sync = true;
	SEAM_CALL_VOID(tpool_destroy(q));   /* disarms */
	tw.check_join_sync = false;
	w_check_no_violation();
	grade_check(tw.detaches == 0, "tpool_destroy detached threads: join them instead, so "
		    "that no worker runs after tpool_destroy returned (TODO 15)");
	grade_check(tw_joined() == 5, "tpool_destroy joined %ld of the 5 workers with "
		    "pthread_join (TODO 15)", tw_joined());
	grade_check(atomic_load(&tw.exited) == 5, "%d of the 5 workers had ended when "
		    "tpool_destroy returned", atomic_load(&tw.exited));
	now = w_threads_settle(base);
	grade_check(now == base, "%d threads are left after tpool_destroy (before the pool: %d)",
		    now, base);
	/* A pool of one, destroyed while its worker holds the lock on its way
	 * into its first wait (it lingers there 300 ms): the stop flag must be
	 * set with the lock held, or the wake-up comes too early. */
	atomic_store(&tw.stop_race, true);
	q = pool_or_fail_armed(1);
	for (long deadline = fault_now_ms() + 1000;
	     atomic_load(&tw.in_gap) == 0 && fault_now_ms() < deadline; fault_nap())
		;
	SEAM_CALL_VOID(tpool_destroy(q));
	atomic_store(&tw.stop_race, false);
	w_check_no_violation();
	SEAM_CALL_VOID(tpool_destroy(NULL));
	grade_check(tw_joined() == 6, "tpool_destroy of a 1-thread pool did not join its worker");
}

/* Part B's functional batch: random reads of a file plus error requests. */
static struct batch_req *mixed_reads(int fd, int dir, size_t size, size_t n)
{
	struct batch_req *reqs = random_reads(fd, size, n, 40000);

	reqs[1].fd = 999;               /* -EBADF */
	reqs[2].offset = (off_t)size - 1; /* 1: one byte, then end of file */
	reqs[4].fd = -1;                /* 0: len 0, no I/O even for a bad fd */
	reqs[4].len = 0;
	reqs[5].fd = dir;               /* -EISDIR */
	reqs[6].offset = -1;            /* -EINVAL, even with len 0 */
	reqs[6].len = 0;
	reqs[8].len = 0;                /* 0 */
	reqs[9].offset = -1;            /* -EINVAL */
	return reqs;
}

static void check_mixed(struct batch_req *reqs, size_t n, const unsigned char *data,
			size_t size, unsigned qd)
{
	static const struct { size_t i; ssize_t want; } special[7] = {
		{ 1, -EBADF }, { 2, 1 }, { 4, 0 }, { 5, -EISDIR }, { 6, -EINVAL }, { 8, 0 },
		{ 9, -EINVAL },
	};

	grade_check(reqs[2].res != 1 || memcmp(reqs[2].buf, data + size - 1, 1) == 0,
		    "tpool_batch_read (qd %u): request 2 (the last byte of the file) read the "
		    "wrong byte", qd);
	for (int k = 0; k < 7; k++) {
		struct batch_req *r = &reqs[special[k].i];

		grade_check(r->res == special[k].want, "tpool_batch_read (qd %u): request %zu (fd "
			    "%d, offset %lld, len %zu): res is %s, expected %s", qd, special[k].i,
			    r->fd, (long long)r->offset, r->len, errno_name(r->res),
			    errno_name(special[k].want));
		r->fd = -1;  /* not compared again */
		r->res = 0;
		r->offset = (off_t)size;
		r->len = 0;
	}
	check_file_results("tpool_batch_read", reqs, n, data, size, qd);
}

/* read(2) as the pool's watch makes it; the first EAGAIN on `late_fd` is
 * followed at once by 64 bytes written to `late_wfd`: data that arrives
 * just after the read failed, as it may on any pipe or socket. */
static int late_fd = -1, late_wfd = -1;
static atomic_bool late_fed;

static ssize_t late_data_read(int fd, void *buf, size_t n)
{
	static const char late[64] = "data that came just after read(2) said EAGAIN";
	ssize_t r = rw_read(fd, buf, n);
	int err = errno;

	if (r < 0 && err == EAGAIN && fd == late_fd && !atomic_exchange(&late_fed, true))
		(void)!SEAM_REAL(write)(late_wfd, late, sizeof(late));
	errno = err;
	return r;
}

GRADE_TEST(tpool, request_edges, 1,
	   "tpool_batch_read: a batch with a bad fd, a directory, len 0 with fd -1, offset -1 with len 0, a read of the last byte; an empty non-blocking pipe is -EAGAIN, and so is one that runs dry half way or is fed just after the EAGAIN; a socket is read like a pipe",
	   "TODOs 12-14: offset < 0 is -EINVAL (even with len 0, checked first), len 0 is 0 "
	   "with no I/O (even for a bad fd); every other request gets its bytes or its own "
	   "-errno, EAGAIN from read(2) included: only EINTR is tried again (paio.h, "
	   "\"Result of each request\")")
{
	const size_t size = 1 << 20, n = 50;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	struct batch_req *reqs;
	struct tpool *p;
	int rc;

	tw_watch();
	p = pool_or_fail(4);
	reqs = mixed_reads(fd, dir, size, n);
	rc = SEAM_CALL(tpool_batch_read(p, reqs, n, 3));
	grade_check(rc == 0, "tpool_batch_read(p, reqs, 50, 3) returned %s, expected 0",
		    errno_name(rc));
	grade_check(atomic_load(&rw.by_caller) == 0, "the thread that called tpool_batch_read "
		    "made %ld of the reads itself: the pool's workers must do them (TODO 12)",
		    atomic_load(&rw.by_caller));
	check_mixed(reqs, n, data, size, 3);
	/* len SSIZE_MAX + 1 (a small buffer): -EINVAL without I/O. The kernel
	 * would refuse it too, but only after a pread was made. */
	{
		char small[16];
		struct batch_req big = { fd, 0, (size_t)SSIZE_MAX + 1, small, UNSET };
		long calls = atomic_load(&rw.calls);

		rc = SEAM_CALL(tpool_batch_read(p, &big, 1, 1));
		grade_check(rc == 0 && big.res == -EINVAL && atomic_load(&rw.calls) == calls,
			    "a request of len SSIZE_MAX + 1: tpool_batch_read returned %s, res %s, "
			    "after %ld pread/read calls; expected 0, -EINVAL and no read: len > "
			    "SSIZE_MAX is answered -EINVAL before any I/O, like offset < 0 (TODO 13, "
			    "paio.h \"Result of each request\")", errno_name(rc), errno_name(big.res),
			    atomic_load(&rw.calls) - calls);
	}
	/* An empty non-blocking pipe (its writer open): read(2) fails with
	 * EAGAIN at once, and that is the request's result. Only EINTR means
	 * "call again"; EAGAIN would come back as long as nobody writes. */
	{
		char nbuf[64];
		int np[2];
		struct batch_req e = { -1, 0, sizeof(nbuf), nbuf, UNSET };

		fault_pipe(np, 0);
		grade_check(fcntl(np[0], F_SETFL, O_NONBLOCK) == 0, "harness: cannot make the "
			    "pipe non-blocking");
		e.fd = np[0];
		rw.budget = atomic_load(&rw.calls) + 50;
		rw.budget_why = "tpool_batch_read read an empty non-blocking pipe more than 50 "
				"times: read(2) failing with EAGAIN is the request's result "
				"(-EAGAIN), not a reason to read again; only EINTR is retried "
				"(TODO 13, paio.h \"Result of each request\")";
		rc = SEAM_CALL(tpool_batch_read(p, &e, 1, 1));
		rw.budget = 0;
		w_check_no_violation();
		grade_check(rc == 0 && e.res == -EAGAIN, "a request on an empty non-blocking pipe: "
			    "tpool_batch_read returned %s, res %s; expected 0 and -EAGAIN (read(2) "
			    "fails with EAGAIN: the request's own error, TODO 13)", errno_name(rc),
			    errno_name(e.res));
		/* The same pipe with 20 bytes in it, for a request of 64: the first
		 * read gets the 20, the next fails with EAGAIN. An error after
		 * progress is the error: 20 would claim that the writer hung up. */
		grade_check(SEAM_REAL(write)(np[1], "twenty bytes, no end", 20) == 20,
			    "harness: cannot feed the pipe");
		e.res = UNSET;
		rw.budget = atomic_load(&rw.calls) + 50;
		rc = SEAM_CALL(tpool_batch_read(p, &e, 1, 1));
		rw.budget = 0;
		w_check_no_violation();
		grade_check(rc == 0 && e.res == -EAGAIN, "a request of 64 bytes on a non-blocking "
			    "pipe holding 20 (its writer still open): tpool_batch_read returned %s, "
			    "res %s; expected 0 and -EAGAIN. The first read got 20 bytes, the next "
			    "failed with EAGAIN: an error after partial progress is the request's "
			    "error, and a count of 20 would claim end of file, which it is not "
			    "(TODO 13, paio.h \"Result of each request\")", errno_name(rc),
			    errno_name(e.res));
		close(np[0]);
		close(np[1]);
	}
	/* EAGAIN is the answer even when data arrives a moment later: the
	 * harness writes 64 bytes into the pipe right after the first read
	 * failed with EAGAIN. A worker that pauses and reads again ("EAGAIN
	 * means try again") gets them; the request's result is -EAGAIN. */
	{
		char lbuf[64];
		int np[2];
		struct batch_req e = { -1, 0, sizeof(lbuf), lbuf, UNSET };

		fault_pipe(np, 0);
		grade_check(fcntl(np[0], F_SETFL, O_NONBLOCK) == 0, "harness: cannot make the "
			    "pipe non-blocking");
		e.fd = np[0];
		late_fd = np[0];
		late_wfd = np[1];
		atomic_store(&late_fed, false);
		seam_hook_read = late_data_read;
		rc = SEAM_CALL(tpool_batch_read(p, &e, 1, 1));
		seam_hook_read = rw_read;
		late_fd = late_wfd = -1;
		w_check_no_violation();
		grade_check(rc == 0 && e.res == -EAGAIN, "a request on an empty non-blocking pipe "
			    "that got 64 bytes just after read(2) failed with EAGAIN: "
			    "tpool_batch_read returned %s, res %s; expected 0 and -EAGAIN. EAGAIN "
			    "is the request's result: a worker does not pause and read again (only "
			    "EINTR is retried; TODO 13, paio.h \"Result of each request\")",
			    errno_name(rc), errno_name(e.res));
		close(np[0]);
		close(np[1]);
	}
	/* A socket is no pipe, but pread fails on it with ESPIPE all the same
	 * (paio.h, "Pipes, FIFOs and sockets"): the rule goes by that error,
	 * not by the kind of file. 40 bytes in it, its peer closed, a request
	 * of 64 at offset 7: the 40 bytes, then end of file. */
	{
		char sbuf[64];
		int sp[2];
		struct batch_req e = { -1, 7, sizeof(sbuf), sbuf, UNSET };

		grade_check(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0,
			    "harness: socketpair failed");
		grade_check(SEAM_REAL(write)(sp[1], data, 40) == 40, "harness: cannot feed the "
			    "socket");
		close(sp[1]);
		e.fd = sp[0];
		rc = SEAM_CALL(tpool_batch_read(p, &e, 1, 1));
		grade_check(rc == 0 && e.res == 40 && memcmp(sbuf, data, 40) == 0,
			    "a request of 64 bytes on a socket holding 40 (its peer closed): "
			    "tpool_batch_read returned %s, res %s%s; expected 0 and 40, the socket's "
			    "bytes. pread on a socket fails with ESPIPE as on a pipe: the rule is "
			    "\"pread failed with ESPIPE before any byte: read(2) instead\", whatever "
			    "the kind of descriptor (checking for a FIFO with fstat misses sockets; "
			    "TODO 13, paio.h \"Pipes, FIFOs and sockets\")", errno_name(rc),
			    errno_name(e.res), e.res == 40 ? " with the wrong bytes" : "");
		close(sp[0]);
		/* A descriptor's number says nothing of its kind for long: the
		 * socket's number, closed, now names the regular file. 64 bytes
		 * at offset 4096 are the file's bytes there, read with pread. */
		grade_check(dup2(fd, sp[0]) == sp[0], "harness: dup2 failed");
		e = (struct batch_req){ sp[0], 4096, sizeof(sbuf), sbuf, UNSET };
		rc = SEAM_CALL(tpool_batch_read(p, &e, 1, 1));
		grade_check(rc == 0 && e.res == 64 && memcmp(sbuf, data + 4096, 64) == 0,
			    "a request of 64 bytes at offset 4096 of a regular file whose fd number "
			    "was a socket's a moment before: tpool_batch_read returned %s, res %s%s; "
			    "expected 0 and 64, the file's bytes at 4096. Decide pread or read(2) "
			    "for each request, by ESPIPE from its own pread: fd numbers are reused, "
			    "so remembering \"this fd is a pipe\" (in a static or in the pool) reads "
			    "a file from its current position (TODO 13, paio.h \"Pipes, FIFOs and "
			    "sockets\")", errno_name(rc), errno_name(e.res),
			    e.res == 64 ? " with the wrong bytes" : "");
		close(sp[0]);
	}
	SEAM_CALL_VOID(tpool_destroy(p));
	close(dir);
	close(fd);
	free(data);
}

GRADE_TEST_T(tpool, parallel_pipes, 4,
	   "the pool reads in parallel: 6 pipes answered from the last to the first all complete, 130 on a pool of 130 at qd 2^20, and the first 2 of a batch of 65537",
	   "TODOs 12-14: never hold the lock during the read, so every worker can wait in a "
	   "read at the same time; pread on a pipe fails with ESPIPE: then use read(2); a "
	   "batch keeps min(qd, n) requests queued or being read, with no cap of its own "
	   "(lesson section 8)", 15)
{
	static const int order[6] = { 5, 4, 3, 2, 1, 0 };
	const size_t len = 512;
	int p[6][2];
	struct batch_req reqs[6];
	unsigned char *data[6];
	struct tpool *pool;
	struct feed *f;
	int rc;

	tw_watch();
	pool = pool_or_fail(6);
	/* Each request asks for 100 bytes more than its pipe delivers before it
	 * hangs up: the last read of each sees end of file. Their offsets are
	 * not 0: a pipe has no position to seek to, and the offset is ignored
	 * (paio.h, the ESPIPE rule), not a reason to refuse the request. */
	feed_pipes(6, p, reqs, data, len, 100, UNSET);
	for (int i = 0; i < 6; i++)
		reqs[i].offset = (off_t)4096 * (i + 1);
	f = feed_start(&(struct feed_cfg){ .n = 6, .pipes = p, .order = order, .data = data,
					   .len = len });
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, 6, 6));
	feed_join(f);
	grade_check(rc == 0, "tpool_batch_read(p, reqs, 6, 6) returned %s, expected 0",
		    errno_name(rc));
	for (int i = 0; i < 6; i++)
		grade_check(reqs[i].res != -ESPIPE, "request %d (a pipe, at offset %lld) got "
			    "-ESPIPE: when pread fails with ESPIPE before any byte, read it with "
			    "read(2) from the pipe, whatever the request's offset: a pipe has no "
			    "position, and paio.h says the offset is then ignored (TODO 13)", i,
			    (long long)reqs[i].offset);
	check_fed(f, "6 pipes answered from the last to the first, each once the one before "
		  "was read: a pool that reads one request at a time waits on pipe 0 forever");
	check_pipe_results("tpool_batch_read", reqs, 6, data, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(6, p, reqs, data);
	free(f);

	/* 130 pipes on a pool of 130 at qd 2^20, answered from the last to the
	 * first: all 130 reads must wait at once. A window of the code's own
	 * size ("64 is plenty") leaves the last pipes unread. */
	{
		enum { NP = 130 };
		static int rorder[NP];
		int (*bp)[2] = grade_xmalloc(NP * sizeof(*bp));
		struct batch_req *breqs = grade_xmalloc(NP * sizeof(*breqs));
		unsigned char **bdata = grade_xmalloc(NP * sizeof(*bdata));

		for (int i = 0; i < NP; i++)
			rorder[i] = NP - 1 - i;
		pool = pool_or_fail(NP);
		feed_pipes(NP, bp, breqs, bdata, 64, 0, UNSET);
		/* 130 workers to wake before the last pipe is read: a patience
		 * of 4 s for each answer, not 1, for a loaded machine. */
		f = feed_start(&(struct feed_cfg){ .n = NP, .pipes = bp, .order = rorder,
						   .data = bdata, .len = 64, .patience_ms = 4000 });
		rc = SEAM_CALL(tpool_batch_read(pool, breqs, NP, 1u << 20));
		feed_join(f);
		grade_check(rc == 0, "tpool_batch_read(p, reqs, 130, 2^20) on a pool of 130 "
			    "returned %s, expected 0", errno_name(rc));
		check_fed(f, "130 pipes on a pool of 130 at qd 2^20, answered from the last to "
			  "the first: all 130 reads must wait at the same time. The window is "
			  "min(qd, n) requests queued or being read, with no smaller cap of your "
			  "own (TODO 14)");
		check_pipe_results("tpool_batch_read", breqs, NP, bdata, 64);
		SEAM_CALL_VOID(tpool_destroy(pool));
		feed_free_pipes(NP, bp, breqs, bdata);
		free(f);
		free(bp);
		free(breqs);
		free(bdata);
	}

	/* 65537 requests at qd 2^20 on a pool of 2: 2 pipes answered from the
	 * last to the first, then 65535 of length 0. The window is 65537: a
	 * window or a count of jobs in 16 bits (65537 is 1 there) reads one
	 * request at a time, or returns before the pipes are read. */
	{
		enum { NB = 65537 };
		static const int rorder[2] = { 1, 0 };
		int bp[2][2];
		unsigned char *bdata[2];
		struct batch_req *breqs = grade_xmalloc(NB * sizeof(*breqs));
		size_t wrong = 0, first_wrong = 0;

		pool = pool_or_fail(2);
		feed_pipes(2, bp, breqs, bdata, 64, 0, UNSET);
		for (size_t i = 2; i < NB; i++)
			breqs[i] = (struct batch_req){ -1, 0, 0, NULL, UNSET };
		f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = bp, .order = rorder,
						   .data = bdata, .len = 64 });
		rc = SEAM_CALL(tpool_batch_read(pool, breqs, NB, 1u << 20));
		feed_join(f);
		grade_check(rc == 0, "tpool_batch_read(p, reqs, 65537, 2^20) on a pool of 2 "
			    "returned %s, expected 0", errno_name(rc));
		check_fed(f, "a batch of 65537 requests at qd 2^20 on a pool of 2, the first 2 "
			  "pipes answered from the last to the first: both must be read at the "
			  "same time. The window is min(qd, n) = 65537: keep it, and the count "
			  "of jobs under way, in a size_t (65537 in 16 bits is 1) (TODO 14)");
		check_pipe_results("tpool_batch_read (65537 requests)", breqs, 2, bdata, 64);
		for (size_t i = 2; i < NB; i++) {
			if (breqs[i].res != 0 && wrong++ == 0)
				first_wrong = i;
		}
		grade_check(wrong == 0, "tpool_batch_read(p, reqs, 65537, 2^20): %zu of the "
			    "65535 requests of length 0 did not get res 0 (request %zu: %s) (TODOs "
			    "13 and 14)", wrong, first_wrong,
			    wrong ? errno_name(breqs[first_wrong].res) : "");
		SEAM_CALL_VOID(tpool_destroy(pool));
		feed_free_pipes(2, bp, breqs, bdata);
		free(f);
		free(breqs);
	}
}

GRADE_TEST(tpool, short_reads, 2,
	   "the pool continues short reads: pread capped at 1000 bytes, pipes fed 100 bytes at a time; on a pipe, the rest only (read(2) cut to 40)",
	   "TODO 13: a short pread is not the end of the file: go on reading the part still "
	   "missing until len or a 0 (chapter 01's pread_full; pread(2), RETURN VALUE)")
{
	const size_t size = 300000, n = 20, len = 1000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int p[2][2];
	struct batch_req preqs[2];
	unsigned char *pdata[2];
	struct tpool *pool;
	struct feed *f;
	int rc;

	for (size_t i = 0; i < n; i++) {
		size_t l = 2500 + grade_rand_below(9000);

		reqs[i] = (struct batch_req){ fd, (off_t)grade_rand_below(size - l), l,
					      grade_xmalloc(l), UNSET };
	}
	tw_watch();
	pool = pool_or_fail(3);
	rw.cap = 1000;
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 3));
	rw.cap = 0;
	grade_check(rc == 0, "tpool_batch_read returned %s, expected 0", errno_name(rc));
	check_file_results("tpool_batch_read with reads cut to 1000 bytes", reqs, n, data, size, 3);

	feed_pipes(2, p, preqs, pdata, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .data = pdata, .len = len,
					   .piece = 100 });
	rc = SEAM_CALL(tpool_batch_read(pool, preqs, 2, 2));
	feed_join(f);
	grade_check(rc == 0, "tpool_batch_read on pipes fed in pieces returned %s, expected 0",
		    errno_name(rc));
	check_pipe_results("tpool_batch_read (pipes fed 100 bytes at a time)", preqs, 2, pdata, len);
	/* The rest of a short read(2) is the rest only: a pipe holding 100
	 * bytes (its writer closed), a request of 60, every read cut to 40.
	 * The second read asks for 20 at buf + 40; asking for 60 again would
	 * take 40 more bytes, 20 of them past the end of the request's buffer,
	 * and out of the pipe. */
	{
		unsigned char over[100];
		int op[2];
		struct batch_req e = { -1, 0, 60, over, UNSET };

		fault_pipe(op, 0);
		grade_check(SEAM_REAL(write)(op[1], data, 100) == 100, "harness: cannot feed the "
			    "pipe");
		close(op[1]);
		memset(over, 0xa5, sizeof(over));
		e.fd = op[0];
		rw.cap = 40;
		rc = SEAM_CALL(tpool_batch_read(pool, &e, 1, 1));
		rw.cap = 0;
		grade_check(rc == 0 && e.res == 60 && memcmp(over, data, 60) == 0 &&
			    over[60] == 0xa5 && over[99] == 0xa5 &&
			    SEAM_REAL(read)(op[0], over, sizeof(over)) == 40,
			    "a request of 60 bytes on a pipe holding 100, each read(2) cut to 40: "
			    "tpool_batch_read returned %s, res %s, expected 0 and 60, with the 20 "
			    "bytes after the request's buffer untouched and 40 bytes left in the "
			    "pipe. After a short read, the next read(2) asks for len - done bytes at "
			    "buf + done, not len again: that writes past the caller's buffer (TODO "
			    "13; chapter 01's pread_full)", errno_name(rc), errno_name(e.res));
		close(op[0]);
	}
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(2, p, preqs, pdata);
	free(f);
	close(fd);
	free(data);
}

/* Two threads create pools at once (the end of tpool.workers_block_signals):
 * the test thread's first pthread_create waits until a second thread, with a
 * mask of its own, has been through a whole tpool_create. Each must get its
 * own mask back. No timing: the wait ends when the second call returned, or
 * when it sleeps on a lock (a module may serialise its creates: then they
 * never overlap, and the test learns nothing, which is no failure). */
static struct {
	pid_t first;              /* the thread whose first pthread_create waits */
	atomic_bool gated;        /* that pthread_create came */
	pthread_t other;
	bool started;
	atomic_int other_tid;
	atomic_bool other_done;
	struct tpool *other_pool;
	int other_rc;
	bool other_mask_wrong;
} cm;

static void *cm_other_main(void *arg)
{
	sigset_t mine, after;

	(void)arg;
	atomic_store(&cm.other_tid, w_gettid());
	sigemptyset(&mine);
	sigaddset(&mine, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &mine, NULL);
	cm.other_rc = tpool_create(&cm.other_pool, 2);
	mask_get(&after);
	cm.other_mask_wrong = !sigismember(&after, SIGUSR1) || sigismember(&after, SIGUSR2) ||
			      sigismember(&after, SIGINT);
	atomic_store(&cm.other_done, true);
	return NULL;
}

static int cm_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			     void *arg)
{
	if (w_gettid() == cm.first && !atomic_exchange(&cm.gated, true) &&
	    SEAM_REAL(pthread_create)(&cm.other, NULL, cm_other_main, NULL) == 0) {
		long deadline = fault_now_ms() + FEED_PATIENCE_MS;

		cm.started = true;
		while (!atomic_load(&cm.other_done) && fault_now_ms() < deadline) {
			pid_t tid = atomic_load(&cm.other_tid);

			if (tid != 0 && w_sysno_of(tid) == SYS_futex && w_sysno_of(tid) == SYS_futex)
				break;   /* waits for a lock this call holds */
			fault_nap();
		}
	}
	return tw_pthread_create(t, a, fn, arg);
}

GRADE_TEST(tpool, workers_block_signals, 1,
	   "every worker starts and reads with all signals blocked, the real-time ones too; two threads creating pools at once each get their own mask back",
	   "TODO 11: workers start with every signal blocked; a new thread inherits its "
	   "creator's mask, so arrange it around the creation, and leave the caller's own "
	   "mask as it was (pthread_create(3), pthread_sigmask(3), lesson section 8)")
{
	const size_t size = 10000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	char buf[100];
	struct batch_req req = { fd, 10, 100, buf, UNSET };
	sigset_t mine, usr2;
	struct tpool *pool;
	int rc;

	tw_watch();
	/* The caller already blocks SIGUSR2: after tpool_create it still must
	 * (put the old mask back, do not unblock everything). POOL_CALL sees
	 * any change of the caller's mask (mask_left_changed). */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);
	pool = pool_or_fail(3);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	grade_check(!mask_left_changed, "the caller had SIGUSR2 blocked before tpool_create, "
		    "and tpool_create returned with another mask (SIGUSR2 unblocked?): put back "
		    "the mask the caller had (pthread_sigmask(SIG_SETMASK, &old, NULL), with the "
		    "old mask saved by the call that blocked everything), do not unblock every "
		    "signal (TODO 11, pthread_sigmask(3))");
	rc = SEAM_CALL(tpool_batch_read(pool, &req, 1, 1));
	grade_check(rc == 0 && req.res == 100, "tpool_batch_read of 100 bytes returned %s, res "
		    "%s", errno_name(rc), errno_name(req.res));
	grade_check(w_started(3) == 3, "%d of the 3 workers started", atomic_load(&tw.started));
	{
		int sig = atomic_load(&tw.unmasked_signal);
		char name[32];

		if (sig >= SIGRTMIN)
			snprintf(name, sizeof(name), "SIGRTMIN+%d, a real-time signal", sig - SIGRTMIN);
		else
			snprintf(name, sizeof(name), "SIG%s", sigabbrev_np(sig) ?: "?");
		grade_check(atomic_load(&tw.unmasked_threads) == 0, "%d of the 3 workers started "
			    "with signal %d (%s) not blocked: a signal for the process could then "
			    "interrupt a worker in the middle of a read. Block every signal, the "
			    "real-time ones (SIGRTMIN..SIGRTMAX) too: sigfillset(3) gives them all, "
			    "a loop over the 31 classic numbers does not (TODO 11, signal(7))",
			    atomic_load(&tw.unmasked_threads), sig, name);
		sig = atomic_load(&tw.unmasked_read_signal);
		grade_check(atomic_load(&tw.unmasked_reads) == 0, "a worker read with signal %d "
			    "(SIG%s) not blocked, although it started with every signal blocked: "
			    "the worker changed its own mask afterwards. pthread_sigmask with "
			    "SIG_SETMASK replaces the whole mask (SIG_BLOCK adds to it): a worker "
			    "that only wants one more signal blocked has them all already; leave "
			    "its mask as it inherited it (TODO 11, pthread_sigmask(3))", sig,
			    sig >= SIGRTMIN ? "RTMIN+n" : (sigabbrev_np(sig) ?: "?"));
	}
	pthread_sigmask(SIG_BLOCK, NULL, &mine);
	grade_check(!mask_left_changed && !sigismember(&mine, SIGUSR1) &&
		    !sigismember(&mine, SIGINT), "tpool_create left the calling thread with "
		    "signals blocked: restore its mask after creating the workers (TODO 11)");
	SEAM_CALL_VOID(tpool_destroy(pool));

	/* Two creates at once: this thread blocks SIGUSR2, the other SIGUSR1;
	 * the other's whole tpool_create runs inside this one's first
	 * pthread_create. */
	{
		struct tpool *mine_pool = NULL;
		sigset_t before, after;
		bool back;

		pthread_sigmask(SIG_BLOCK, &usr2, NULL);
		mask_get(&before);
		cm.first = w_gettid();
		seam_hook_pthread_create = cm_pthread_create;
		rc = SEAM_CALL(tpool_create(&mine_pool, 2));
		mask_get(&after);
		pthread_sigmask(SIG_SETMASK, &before, NULL);
		pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
		back = !cm.started;
		for (long deadline = fault_now_ms() + FEED_PATIENCE_MS;
		     cm.started && fault_now_ms() < deadline; fault_nap()) {
			if (atomic_load(&cm.other_done)) {
				SEAM_REAL(pthread_join)(cm.other, NULL);
				back = true;
				break;
			}
		}
		seam_hook_pthread_create = tw_pthread_create;
		grade_check(cm.started, "harness: cannot start the second thread");
		grade_check(back, "a second thread's tpool_create, started while this thread's "
			    "tpool_create was starting its workers, never returned (TODO 11)");
		grade_check(rc == 0 && cm.other_rc == 0, "two threads created pools at once: "
			    "tpool_create returned %s and %s, expected 0 and 0 (TODO 11)",
			    errno_name(rc), errno_name(cm.other_rc));
		grade_check(!sigismember(&after, SIGUSR1) && sigismember(&after, SIGUSR2) &&
			    !sigismember(&after, SIGINT) && !cm.other_mask_wrong, "two threads "
			    "created pools at once (the second one's tpool_create ran while the "
			    "first one's was starting its workers; the first blocked SIGUSR2, the "
			    "second SIGUSR1): %s came back with another mask than it had%s. The "
			    "mask saved while the workers are created belongs to that call: keep "
			    "it in a local variable, not a static one, which the other thread's "
			    "call overwrites (TODO 11; paio.h, tpool_create)",
			    cm.other_mask_wrong ? "the second thread" : "the first thread",
			    cm.other_mask_wrong ? "" : sigismember(&after, SIGUSR1) ?
			    " (the second thread's: SIGUSR1 blocked)" : "");
		if (back && cm.other_pool != NULL)
			SEAM_CALL_VOID(tpool_destroy(cm.other_pool));
		if (mine_pool != NULL)
			SEAM_CALL_VOID(tpool_destroy(mine_pool));
	}
	close(fd);
	free(data);
}

GRADE_TEST(tpool, eintr_retried, 2,
	   "the workers retry a read that fails with EINTR (every other pread and read fails so), also after a first piece arrived, also on a pipe fed in pieces",
	   "TODO 13: -1 with errno EINTR means nothing was read: call pread (or read) again; "
	   "only other errors are the request's result (lesson section 8)")
{
	const size_t size = 100000, n = 12, len = 300;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 9000);
	int p[2][2];
	struct batch_req preqs[2];
	unsigned char *pdata[2];
	struct tpool *pool;
	struct feed *f;
	int rc;

	tw_watch();
	pool = pool_or_fail(2);
	rw.eintr = true;
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 2));
	grade_check(rc == 0, "tpool_batch_read returned %s, expected 0", errno_name(rc));
	for (size_t i = 0; i < n; i++)
		grade_check(reqs[i].res != -EINTR, "request %zu got -EINTR: a read interrupted "
			    "before any byte must be made again (TODO 13)", i);
	check_file_results("tpool_batch_read with EINTR", reqs, n, data, size, 2);

	/* Every pread cut to 1000 bytes as well: each continuation's first try
	 * fails with EINTR, after the request's first piece arrived. No byte
	 * moved in that call: try again, the request is neither its bytes so
	 * far (a short count claims end of file) nor -EINTR. */
	reqs = grade_xmalloc(n * sizeof(*reqs));
	for (size_t i = 0; i < n; i++) {
		size_t l = 2500 + grade_rand_below(6500);

		reqs[i] = (struct batch_req){ fd, (off_t)grade_rand_below(size - l), l,
					      grade_xmalloc(l), UNSET };
	}
	rw.cap = 1000;
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 2));
	rw.cap = 0;
	grade_check(rc == 0, "tpool_batch_read (reads cut to 1000 bytes, every other call "
		    "EINTR) returned %s, expected 0", errno_name(rc));
	for (size_t i = 0; i < n; i++)
		grade_check(reqs[i].res == (ssize_t)reqs[i].len, "request %zu (%zu bytes of a "
			    "file, each pread cut to 1000, every other call failing with EINTR): res "
			    "%s, expected %zu. EINTR after a first piece arrived is still \"no byte "
			    "moved in this call\": call again for the rest; it is neither the "
			    "request's error nor its end (TODO 13, read(2) ERRORS)", i, reqs[i].len,
			    errno_name(reqs[i].res), reqs[i].len);
	check_file_results("tpool_batch_read with EINTR after a first piece", reqs, n, data,
			   size, 2);

	feed_pipes(2, p, preqs, pdata, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .data = pdata, .len = len });
	rc = SEAM_CALL(tpool_batch_read(pool, preqs, 2, 2));
	feed_join(f);
	rw.eintr = false;
	grade_check(rc == 0, "tpool_batch_read on pipes returned %s, expected 0", errno_name(rc));
	check_pipe_results("tpool_batch_read on pipes with EINTR", preqs, 2, pdata, len);
	grade_check(atomic_load(&rw.eintr_injected) > 0, "no read was made by the workers");
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(2, p, preqs, pdata);
	free(f);

	/* One pipe fed in pieces of 100 bytes, read by the new worker of a
	 * pool of one (its calls counted from 0): pread fails with EINTR, then
	 * ESPIPE; read fails with EINTR, then brings the first piece; the next
	 * read fails with EINTR after 100 bytes arrived. The request is still a
	 * pipe: go on with read(2), whichever call was interrupted. */
	{
		int q[1][2];
		struct batch_req qreq[1];
		unsigned char *qdata[1];
		struct feed *g;

		pool = pool_or_fail(1);
		feed_pipes(1, q, qreq, qdata, len, 0, UNSET);
		rw.eintr = true;
		g = feed_start(&(struct feed_cfg){ .n = 1, .pipes = q, .data = qdata, .len = len,
						   .piece = 100 });
		rc = SEAM_CALL(tpool_batch_read(pool, qreq, 1, 1));
		feed_join(g);
		rw.eintr = false;
		grade_check(rc == 0 && qreq[0].res == (ssize_t)len, "tpool_batch_read of a pipe "
			    "fed in pieces of 100 bytes, every other pread and read failing with "
			    "EINTR, returned %s, res %s; expected 0 and %zu. After ESPIPE the request "
			    "is read with read(2) to its end: an EINTR after a first piece arrived is "
			    "not a reason to go back to pread (which fails with ESPIPE once bytes have "
			    "arrived) (TODO 13, paio.h: pipes)", errno_name(rc),
			    errno_name(qreq[0].res), len);
		check_pipe_results("tpool_batch_read of a pipe in pieces, with EINTR", qreq, 1,
				   qdata, len);
		SEAM_CALL_VOID(tpool_destroy(pool));
		feed_free_pipes(1, q, qreq, qdata);
		free(g);
	}
	close(fd);
	free(data);
}

/* tpool_batch_read of n pipes at qd on a pool of 6, answered in order,
 * each once the pool's threads and the caller all sleep: at each answer
 * exactly min(qd, requests left) must be being read. */
static void tpool_window_exact(struct tpool *pool, int n, unsigned qd)
{
	const size_t len = 256;
	int p[FEED_MAX][2];
	struct batch_req reqs[FEED_MAX];
	unsigned char *data[FEED_MAX];
	struct feed *f;
	int rc;

	feed_pipes(n, p, reqs, data, len, 0, UNSET);
	rw.max_inprogress = 0;
	/* Before each answer, once everyone sleeps: how many reads wait? */
	f = feed_start(&(struct feed_cfg){ .n = n, .pipes = p, .data = data, .len = len,
					   .wait = W_QUIET, .workers = 6, .reqs = reqs,
					   .unset = UNSET });
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, (size_t)n, qd));
	feed_join(f);
	grade_check(rc == 0, "tpool_batch_read(p, reqs, %d, %u) returned %s, expected 0", n, qd,
		    errno_name(rc));
	for (int k = 0; k < f->answered; k++) {
		int want = n - k < (int)qd ? n - k : (int)qd;

		grade_check(f->quiet_reads[k] <= (int)qd, "with qd %u, %d requests were being read "
			    "at once (6 idle-able workers, %d requests): queue at most qd at a time "
			    "(TODO 14)", qd, f->quiet_reads[k], n);
		grade_check(f->quiet_reads[k] == want, "with qd %u and %d requests left, %d were "
			    "being read while everyone slept, expected %d: refill the window up to "
			    "qd, and when one request finishes and others are left, queue the next "
			    "one at once, not when half of the window is done (TODO 14)", qd, n - k,
			    f->quiet_reads[k], want);
	}
	grade_check(atomic_load(&rw.max_inprogress) <= (long)qd, "with qd %u, %ld reads of the "
		    "batch were in progress at once (TODO 14)", qd, atomic_load(&rw.max_inprogress));
	check_fed(f, "pipes answered in order, each once the pool and the caller slept");
	check_pipe_results("tpool_batch_read", reqs, n, data, len);
	feed_free_pipes(n, p, reqs, data);
	free(f);
}

GRADE_TEST(tpool, queue_depth, 3,
	   "tpool_batch_read keeps exactly min(qd, left) requests reading: 6 pipes at qd 2, then 8 at qd 4, a pool of 6",
	   "TODO 14: a batch owns min(qd, n) job slots: queue a request only when one is free, "
	   "and refill a slot as soon as its request finishes (lesson section 8)")
{
	struct tpool *pool;

	tw_watch();
	pool = pool_or_fail(6);
	tpool_window_exact(pool, 6, 2);
	/* qd 4: a window refilled only once half of it is done (the caller
	 * sleeping until 2 of 4 finished) reads 3 while 5 are left; at qd 2
	 * half a window is one request, the same as refilling at once. */
	tpool_window_exact(pool, 8, 4);
	SEAM_CALL_VOID(tpool_destroy(pool));
}

GRADE_TEST(tpool, waits_for_every_request, 2,
	   "tpool_batch_read returns only when every one of its requests has its result",
	   "TODO 14: wait until the batch's count of queued + running requests is 0, not until "
	   "the queue is empty: a request taken by a worker is still running "
	   "(pthread_cond_wait(3) in a while loop)")
{
	static const int order[2] = { 1, 0 };
	const size_t len = 128;
	int p[2][2];
	struct batch_req reqs[2];
	unsigned char *data[2];
	struct tpool *pool;
	struct feed *f;
	ssize_t res0;
	long reading;
	int rc;

	tw_watch();
	pool = pool_or_fail(2);
	feed_pipes(2, p, reqs, data, len, 0, UNSET);
	/* Pipe 1 first; pipe 0 only once request 1 is done and everyone sleeps. */
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .order = order, .data = data,
					   .len = len, .wait = W_QUIET, .workers = 2,
					   .reqs = reqs, .unset = UNSET });
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, 2, 2));
	res0 = *(volatile ssize_t *)&reqs[0].res;
	reading = atomic_load(&rw.inprogress);
	feed_join(f);
	grade_check(rc == 0, "tpool_batch_read returned %s, expected 0", errno_name(rc));
	grade_check(res0 != UNSET && reading == 0, "tpool_batch_read returned while request 0 "
		    "was still being read (res %s, %ld read(s) in progress) (TODO 14)",
		    errno_name(res0), reading);
	check_fed(f, "pipe 1 answered, then pipe 0 once the caller slept again");
	check_pipe_results("tpool_batch_read", reqs, 2, data, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(2, p, reqs, data);
	free(f);
}

/* Another thread calling tpool_batch_read (qd 1 unless qd says) on a shared pool. */
struct other_caller {
	struct tpool *pool;
	struct batch_req *reqs;
	size_t n;
	unsigned qd;             /* 0: 1 */
	int rc;
	atomic_int tid;
};

static void *other_caller_main(void *arg)
{
	struct other_caller *c = arg;

	atomic_store(&c->tid, w_gettid());
	c->rc = tpool_batch_read(c->pool, c->reqs, c->n, c->qd ? c->qd : 1);
	return NULL;
}

static bool other_read_pending(int fd)
{
	long deadline = fault_now_ms() + FEED_PATIENCE_MS;

	while (atomic_load(&rw.reading[fd]) == 0) {
		if (fault_now_ms() > deadline)
			return false;
		fault_nap();
	}
	return true;
}

GRADE_TEST(tpool, batches_independent, 2,
	   "two threads share a pool: the second caller returns while the first one's read still waits; two pools are independent",
	   "TODOs 10 and 14: give each batch its own count and its own condition variable, so "
	   "that a caller waits for its own requests only; keep the queue, the lock and the "
	   "stop flag in the pool's own struct, not in static variables shared by every pool "
	   "(lesson section 8)")
{
	static const int order[2] = { 1, 0 };
	const size_t len = 64;
	int p[2][2];
	struct batch_req reqs[2];
	unsigned char *data[2];
	struct other_caller other;
	pthread_t t;
	struct tpool *pool;
	struct feed *f;
	ssize_t other_res;
	int rc;

	tw_watch();
	pool = pool_or_fail(2);
	feed_pipes(2, p, reqs, data, len, 0, UNSET);
	/* Another thread reads pipe 0 through the pool; we read pipe 1. Pipe 1
	 * is answered first; pipe 0 only once our call has returned. */
	other = (struct other_caller){ .pool = pool, .reqs = &reqs[0], .n = 1, .rc = -1 };
	seam_arm();   /* both callers' calls are watched from here on */
	grade_check(SEAM_REAL(pthread_create)(&t, NULL, other_caller_main, &other) == 0,
		    "harness: cannot start the second caller");
	grade_check(other_read_pending(p[0][0]), "the first caller's request (a pipe) was "
		    "never read by a worker");
	f = feed_start(&(struct feed_cfg){ .n = 2, .pipes = p, .order = order, .data = data,
					   .len = len, .after_return = true });
	rc = tpool_batch_read(pool, &reqs[1], 1, 1);
	other_res = *(volatile ssize_t *)&reqs[0].res;
	feed_returned(f);
	SEAM_REAL(pthread_join)(t, NULL);
	seam_disarm();
	feed_join(f);
	grade_check(rc == 0 && reqs[1].res == (ssize_t)len, "the second caller's "
		    "tpool_batch_read returned %s, res %s; expected 0 and %zu", errno_name(rc),
		    errno_name(reqs[1].res), len);
	grade_check(other_res == UNSET, "the second caller returned only after the first "
		    "caller's request was answered: it waited for requests of another batch "
		    "(TODO 14)");
	check_fed(f, "two callers on one pool");
	grade_check(other.rc == 0, "the first caller's tpool_batch_read returned %s",
		    errno_name(other.rc));
	check_pipe_results("tpool_batch_read", reqs, 2, data, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(2, p, reqs, data);
	free(f);

	/* Two pools at once are two pools: pool A is destroyed while pool B
	 * lives on, then B reads a batch (from a thread of ours, so that a B
	 * left without workers fails here instead of hanging the test). */
	{
		const size_t size = 20000, nb = 8;
		unsigned char *fdata = grade_random_bytes(size);
		int fd = grade_open(grade_make_file("f", fdata, size), O_RDONLY);
		struct batch_req *breqs = random_reads(fd, size, nb, 2000);
		struct tpool *a = pool_or_fail(2), *b = pool_or_fail(3);
		struct other_caller c = { .pool = b, .reqs = breqs, .n = nb, .rc = 1 };
		pthread_t bt;
		long deadline;

		SEAM_CALL_VOID(tpool_destroy(a));
		/* Pool B's workers act on whatever destroying A told them before B
		 * gets work: a B worker woken by a stop flag the pools share has
		 * seen it and ended by now. Otherwise, on a busy machine, B's batch
		 * could reach the queue first and keep that worker busy. */
		deadline = fault_now_ms() + 3000;
		while (!(cx_others_asleep() && cx_others_asleep()) && fault_now_ms() < deadline)
			fault_nap();
		seam_arm();
		grade_check(SEAM_REAL(pthread_create)(&bt, NULL, other_caller_main, &c) == 0,
			    "harness: cannot start the caller of pool B");
		deadline = fault_now_ms() + 3000;
		while (*(volatile int *)&c.rc == 1 && fault_now_ms() < deadline)
			fault_nap();
		seam_disarm();
		if (*(volatile int *)&c.rc == 1) {
			grade_check(false, "two pools: after tpool_destroy of pool A, a batch of "
				    "%zu file reads on pool B (3 workers, created after A) did not "
				    "return within 3 s: destroying A stopped B's workers too. Each "
				    "pool has its own queue, lock, condition variables and stop "
				    "flag, in its struct tpool: no static variables shared by every "
				    "pool (TODOs 10 and 15)", nb);
			SEAM_REAL(pthread_detach)(bt);   /* stuck for good: the test ends here */
			return;
		}
		SEAM_REAL(pthread_join)(bt, NULL);
		grade_check(c.rc == 0, "two pools: tpool_batch_read on pool B after pool A was "
			    "destroyed returned %s, expected 0", errno_name(c.rc));
		check_file_results("tpool_batch_read (pool B, after pool A was destroyed)",
				   breqs, nb, fdata, size, 1);
		SEAM_CALL_VOID(tpool_destroy(b));
		close(fd);
		free(fdata);
	}
}

GRADE_TEST(tpool, create_fails_cleanly, 2,
	   "when the 3rd pthread_create fails (EAGAIN), tpool_create returns -EAGAIN and joins the 2 it started",
	   "TODO 11: a creation that fails half way leaves no thread and no memory behind, "
	   "and returns the error negated (paio.h, tpool_create; pthread_create(3))")
{
	struct tpool *p = (struct tpool *)&p;
	int base = fault_count_threads(), now, rc;

	tw_watch();
	tw.fail_at = 2;
	rc = POOL_CALL(tpool_create(&p, 5));
	grade_check(rc == -EAGAIN, "tpool_create(&p, 5) returned %s when the third "
		    "pthread_create failed with EAGAIN; expected -EAGAIN", errno_name(rc));
	grade_check(p == (struct tpool *)&p, "tpool_create changed *out although it failed");
	grade_check(!mask_left_changed, "the failed tpool_create left the calling thread with "
		    "its signals blocked: on the error path too, put the caller's mask back "
		    "(pthread_sigmask(SIG_SETMASK, &old, NULL)) before returning (TODO 11)");
	grade_check(tw.created == 2 && tw_joined() == 2, "tpool_create started %ld threads and "
		    "joined %ld of them before returning -EAGAIN; expected 2 and 2 (TODO 11)",
		    tw.created, tw_joined());
	grade_check(tw.joins_unknown == 0, "tpool_create called pthread_join %ld times on a "
		    "thread id that no pthread_create gave it (or twice on one): when the 3rd "
		    "pthread_create fails, only the 2 threads started are to be joined. Count a "
		    "thread once pthread_create returned 0 for it, not before: a pthread_t of a "
		    "create that failed holds nothing (pthread_create(3): its contents are then "
		    "undefined), and pthread_join on it is undefined behaviour (TODO 11)",
		    tw.joins_unknown);
	now = w_threads_settle(base);
	grade_check(now == base, "%d threads are left after the failed tpool_create (before: %d)",
		    now, base);
}

GRADE_TEST_T(tpool, batch_read_once, 2,
	   "tpool_batch_read_once: a pool of min(qd, n) threads for one batch, all joined afterwards",
	   "TODO 16: create a pool of min(qd, n, TPOOL_MAX_THREADS) threads, run the batch, "
	   "destroy the pool; if tpool_create fails, return its error; qd 0 is -EINVAL, n 0 "
	   "creates nothing",
	   15 /* pools made and joined again and again: over 5 s under AddressSanitizer
	       * on a loaded machine (a self-test beside five others) */)
{
	const size_t size = 300000, n = 10;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 30000);
	struct batch_req one = { fd, 0, 10, NULL, UNSET };
	int base = fault_count_threads(), now, rc;
	char onebuf[10];

	tw_watch();
	rc = POOL_CALL(tpool_batch_read_once(&one, 1, 0));
	grade_check(rc == -EINVAL, "tpool_batch_read_once with qd 0 returned %s, expected "
		    "-EINVAL", errno_name(rc));
	rc = POOL_CALL(tpool_batch_read_once(&one, 0, 4));
	grade_check(rc == 0 && tw.create_calls == 0, "tpool_batch_read_once with n 0 returned "
		    "%s and called pthread_create %ld times; expected 0 and 0", errno_name(rc),
		    tw.create_calls);
	one = (struct batch_req){ fd, 5, 10, onebuf, UNSET };
	rc = POOL_CALL(tpool_batch_read_once(&one, 1, 1));
	grade_check(rc == 0 && one.res == 10, "tpool_batch_read_once(&one, 1, 1) (10 bytes of "
		    "a file) returned %s, res %s; expected 0 and 10 (qd 1 is a valid queue "
		    "depth)", errno_name(rc), errno_name(one.res));
	grade_check_same(onebuf, data + 5, 10, "tpool_batch_read_once with qd 1");
	grade_check(tw.created == 1 && tw_joined() == 1, "tpool_batch_read_once(&one, 1, 1) "
		    "started %ld threads and joined %ld; expected 1 and 1", tw.created,
		    tw_joined());
	tw.created = 0;
	memset(tw.joined, 0, sizeof(tw.joined));
	rc = POOL_CALL(tpool_batch_read_once(reqs, n, 4));
	grade_check(rc == 0, "tpool_batch_read_once(reqs, 10, 4) returned %s, expected 0",
		    errno_name(rc));
	grade_check(tw.created == 4, "tpool_batch_read_once(reqs, 10, 4) started %ld threads, "
		    "expected min(qd, n) = 4", tw.created);
	grade_check(tw_joined() == 4, "tpool_batch_read_once joined %ld of its 4 threads",
		    tw_joined());
	now = w_threads_settle(base);
	grade_check(now == base, "%d threads are left after tpool_batch_read_once (before: %d)",
		    now, base);
	check_file_results("tpool_batch_read_once", reqs, n, data, size, 4);

	/* The pool cannot be created (the 2nd pthread_create fails): its error. */
	reqs = random_reads(fd, size, n, 3000);
	tw.fail_at = tw.create_calls + 1;
	rc = POOL_CALL(tpool_batch_read_once(reqs, n, 4));
	tw.fail_at = -1;
	grade_check(rc == -EAGAIN, "tpool_batch_read_once returned %s when its pool could not "
		    "be created (pthread_create failed with EAGAIN); expected -EAGAIN (TODO 16)",
		    errno_name(rc));
	grade_check(w_threads_settle(base) == base, "threads are left after a "
		    "tpool_batch_read_once whose pool could not be created");
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);

	/* 300 requests at qd 2^20: min(qd, n) is above TPOOL_MAX_THREADS. */
	reqs = random_reads(fd, size, 300, 16);
	rc = POOL_CALL(tpool_batch_read_once(reqs, 300, 1u << 20));
	grade_check(rc == 0, "tpool_batch_read_once(reqs, 300, 2^20) returned %s, expected 0: "
		    "the pool has min(qd, n, TPOOL_MAX_THREADS) threads", errno_name(rc));
	grade_check(tw.created == 5 + TPOOL_MAX_THREADS, "tpool_batch_read_once(reqs, 300, "
		    "2^20) started %ld threads, expected TPOOL_MAX_THREADS (%u)",
		    tw.created - 5, TPOOL_MAX_THREADS);
	grade_check(w_threads_settle(base) == base, "threads are left after "
		    "tpool_batch_read_once");
	check_file_results("tpool_batch_read_once", reqs, 300, data, size, 1u << 20);

	/* qd far above n (and below TPOOL_MAX_THREADS): n threads, not qd. */
	{
		long created = tw.created;

		reqs = random_reads(fd, size, n, 3000);
		rc = POOL_CALL(tpool_batch_read_once(reqs, n, 64));
		grade_check(rc == 0, "tpool_batch_read_once(reqs, 10, 64) returned %s, expected 0",
			    errno_name(rc));
		grade_check(tw.created - created == (long)n, "tpool_batch_read_once(reqs, 10, 64) "
			    "started %ld threads, expected min(qd, n) = 10: a pool larger than the "
			    "batch only costs threads that never get a request (TODO 16)",
			    tw.created - created);
		grade_check(w_threads_settle(base) == base, "threads are left after "
			    "tpool_batch_read_once(reqs, 10, 64)");
		check_file_results("tpool_batch_read_once", reqs, n, data, size, 64);
	}

	/* 65539 requests of length 0 at qd 2^20: min(qd, n) is far above
	 * TPOOL_MAX_THREADS, and above 65535 (a count kept in 16 bits is 3). */
	{
		const size_t many = 65539;
		struct batch_req *zero = calloc(many, sizeof(*zero));
		long created = tw.created;
		size_t bad = many;

		grade_check(zero != NULL, "no memory for %zu requests", many);
		for (size_t i = 0; i < many; i++)
			zero[i] = (struct batch_req){ fd, (off_t)i, 0, NULL, UNSET };
		rc = POOL_CALL(tpool_batch_read_once(zero, many, 1u << 20));
		for (size_t i = 0; i < many && bad == many; i++)
			if (zero[i].res != 0)
				bad = i;
		grade_check(rc == 0 && bad == many, "tpool_batch_read_once(reqs, 65539, 2^20), "
			    "every request of length 0, returned %s%s; expected 0 and res 0 for "
			    "each", errno_name(rc), bad == many ? "" : ", and a request's res is "
			    "not 0");
		grade_check(tw.created - created == TPOOL_MAX_THREADS, "tpool_batch_read_once(reqs, "
			    "65539, 2^20) started %ld threads, expected TPOOL_MAX_THREADS (%u): "
			    "min(qd, n) is 65539 here, more than an unsigned short holds; keep "
			    "counts of requests in size_t (TODO 16)", tw.created - created,
			    TPOOL_MAX_THREADS);
		grade_check(w_threads_settle(base) == base, "threads are left after "
			    "tpool_batch_read_once(reqs, 65539, 2^20)");
		free(zero);
	}

	/* The k-th allocation fails, in tpool_create or in the batch: whichever
	 * fails, -ENOMEM, and the pool is destroyed all the same. */
	{
		struct seam_heap before;

		seam_heap_usage(&before);
		for (int k = 1; k <= 8; k++) {
			reqs = random_reads(fd, size, n, 3000);
			seam_heap_fail(k, 1);   /* the k-th allocation from here fails */
			rc = POOL_CALL(tpool_batch_read_once(reqs, n, 3));
			seam_heap_fail(0, 0);
			grade_check(rc == 0 || rc == -ENOMEM, "tpool_batch_read_once returned %s "
				    "with allocation %d failing; expected 0 or -ENOMEM", errno_name(rc),
				    k);
			now = w_threads_settle(base);
			grade_check(now == base, "%d threads are left after a tpool_batch_read_once "
				    "that returned %s (allocation %d failed): whatever fails, the batch "
				    "or the pool's creation, destroy the pool before returning the "
				    "error (TODO 16)", now - base, errno_name(rc), k);
			grade_check_heap(&before, "a tpool_batch_read_once whose allocation failed "
					 "(destroy the pool on every path, TODO 16)");
			if (rc == 0)
				check_file_results("tpool_batch_read_once", reqs, n, data, size, 3);
			else {
				for (size_t i = 0; i < n; i++)
					free(reqs[i].buf);
				free(reqs);
			}
			if (rc == 0)
				break;
		}
	}
	close(fd);
	free(data);
}

/* ===================================================================== */
/* Part B under stress: wake-ups that POSIX allows, in the worst order   */
/* ===================================================================== */

static const char lost_wakeup_hint[] =
	"TODOs 12 and 14: change a batch's count and the queue only with the lock held, "
	"signal after the change, and check the count with the lock held right before "
	"pthread_cond_wait (which lets go of the lock and sleeps in one step); wait in a "
	"while loop (pthread_cond_wait(3), lesson section 8)";

/* The workers that returned from their start routine before tpool_destroy. */
static void check_workers_alive(int nthreads)
{
	int gone = atomic_load(&tw.exited);

	grade_check(gone == 0, "%d of the %d workers returned from their start routine before "
		    "tpool_destroy was called: a wake-up that finds no work (POSIX allows "
		    "spurious wake-ups) must send the worker back to pthread_cond_wait, in a "
		    "while loop on \"queue empty and not stopping\" (TODO 12)", gone, nthreads);
}

/* 20 s: the pipes are fed only once every thread sleeps, which a loaded
 * machine makes slow; a pool that loses track waits out the 6 s bounds. */
GRADE_TEST_T(tpool, spurious_wakeups, 3,
	   "the pool survives spurious wake-ups: every thread's first pthread_cond_wait of a round returns at once",
	   "TODOs 12 and 14: pthread_cond_wait may return although nobody signalled "
	   "(pthread_cond_wait(3)): wait in a while loop on the condition you need - for a "
	   "worker, a job or stopping; for the caller, a free slot or every request done", 20)
{
	static const int order[3] = { 2, 1, 0 };
	const size_t size = 200000, n = 20, len = 300;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 9000);
	int p[3][2];
	struct batch_req preqs[3];
	unsigned char *pdata[3];
	struct cx_call call;
	struct feed_cfg cfg;
	struct tpool *pool;
	struct feed *fed;
	bool returned;

	tw_watch();
	cx_watch();
	seam_arm();   /* the workers' waits are watched from their first one */
	cx_round(CX_SPURIOUS);
	pool = pool_or_fail(3);
	seam_arm();
	grade_check(w_started(3) == 3, "%d of the 3 workers started", atomic_load(&tw.started));

	/* Three pipes answered last to first, each once everyone sleeps: all three
	 * workers must be waiting in a read at once. */
	feed_pipes(3, p, preqs, pdata, len, 0, UNSET);
	cfg = (struct feed_cfg){ .n = 3, .pipes = p, .order = order, .data = pdata, .len = len,
				 .wait = W_QUIET, .workers = 3, .reqs = preqs, .unset = UNSET };
	call = (struct cx_call){ .pool = pool, .reqs = preqs, .n = 3, .qd = 3, .feed = &cfg };
	cx_round(CX_SPURIOUS);
	returned = cx_run(&call, 6000);
	check_workers_alive(3);
	grade_check(returned, "tpool_batch_read of 3 pipes (qd 3, a pool of 3) did not return "
		    "within 6 s after spurious wake-ups (%ld given)", atomic_load(&cx.spurious));
	feed_join(call.f);
	for (int i = 0; i < 3; i++)
		grade_check(preqs[i].res != UNSET, "tpool_batch_read returned while request %d "
			    "(a pipe) had no result yet: after a spurious wake-up the caller went on "
			    "as if its requests were done; wait in a while loop until the batch's "
			    "count is 0 (TODO 14)", i);
	check_fed(call.f, "3 pipes answered from the last to the first, each once every "
		  "thread slept");
	grade_check(call.rc == 0, "tpool_batch_read on 3 pipes returned %s, expected 0",
		    errno_name(call.rc));
	check_pipe_results("tpool_batch_read after spurious wake-ups", preqs, 3, pdata, len);
	fed = call.f;

	/* 20 file reads at qd 2: the caller waits for a free slot 18 times. */
	call = (struct cx_call){ .pool = pool, .reqs = reqs, .n = n, .qd = 2 };
	cx_round(CX_SPURIOUS);
	returned = cx_run(&call, 6000);
	check_workers_alive(3);
	grade_check(returned, "tpool_batch_read of %zu file reads (qd 2) did not return within "
		    "6 s after spurious wake-ups", n);
	grade_check(call.rc == 0, "tpool_batch_read(p, reqs, %zu, 2) returned %s, expected 0", n,
		    errno_name(call.rc));
	cx_round(0);
	seam_disarm();
	check_file_results("tpool_batch_read after spurious wake-ups", reqs, n, data, size, 2);
	SEAM_CALL_VOID(tpool_destroy(pool));
	grade_check(tw_joined() == 3, "tpool_destroy joined %ld of the 3 workers", tw_joined());
	feed_free_pipes(3, p, preqs, pdata);
	free(fed);
	close(fd);
	free(data);
}

/* 20 s: each lock waits (up to 200 ms) for the others to sleep, which a
 * loaded machine makes slow; only a lost wake-up waits out the 5 s bound. */
GRADE_TEST_T(tpool, no_lost_wakeup, 3,
	     "no lost wake-up: each lock is taken only once every other thread of the pool sleeps",
	     lost_wakeup_hint, 20)
{
	static const struct { unsigned threads; size_t n; unsigned qd; } rounds[3] = {
		{ 1, 1, 1 }, { 1, 6, 2 }, { 2, 9, 3 },
	};
	const size_t size = 100000;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);

	tw_watch();
	cx_watch();
	for (int k = 0; k < 3; k++) {
		struct batch_req *reqs = random_reads(fd, size, rounds[k].n, 5000);
		struct tpool *pool = pool_or_fail(rounds[k].threads);
		struct cx_call call = { .pool = pool, .reqs = reqs, .n = rounds[k].n,
					.qd = rounds[k].qd };
		bool returned;
		long by_workers = atomic_load(&rw.by_workers);

		seam_arm();
		cx_round(CX_SETTLE);
		returned = cx_run(&call, 5000);
		cx_round(0);
		seam_disarm();
		by_workers = atomic_load(&rw.by_workers) - by_workers;
		grade_check(returned, "tpool_batch_read(%zu file reads, qd %u, a pool of %u) did "
			    "not return within 5 s: every read was done, but the caller slept on. "
			    "Here each thread takes the lock only once the others sleep, so a "
			    "wake-up sent before the count changed, or a count checked before "
			    "taking the lock to wait, is lost every time", rounds[k].n, rounds[k].qd,
			    rounds[k].threads);
		grade_check(call.rc == 0, "tpool_batch_read returned %s, expected 0",
			    errno_name(call.rc));
		w_check_no_violation();   /* a wake-up sent after the lock was let go */
		check_file_results("tpool_batch_read", reqs, rounds[k].n, data, size, rounds[k].qd);
		grade_check(by_workers >= (long)rounds[k].n, "tpool_batch_read(%zu file reads, qd %u, "
			    "a pool of %u): the pool's workers made %ld read call(s), fewer than the "
			    "%zu requests: the workers make the reads, not the caller (paio.h, "
			    "\"Rules\"; TODO 12)", rounds[k].n, rounds[k].qd, rounds[k].threads,
			    by_workers, rounds[k].n);
		SEAM_CALL_VOID(tpool_destroy(pool));
	}
	grade_check(atomic_load(&cx.settled) > 0, "harness: no lock was taken by the pool");
	close(fd);
	free(data);
}

/* ===================================================================== */
/* Errors after progress, 64 bits, pacing, edges and memory              */
/* ===================================================================== */

#define GIB (1ull << 30)

/* A sparse file of 6 GiB with `len` bytes of data at 5 GiB + 100. */
static int sparse_file(const unsigned char *data, size_t len)
{
	const char *path = grade_path("sparse");
	int fd = grade_open(path, O_RDWR | O_CREAT | O_TRUNC);

	grade_check(ftruncate(fd, (off_t)(6 * GIB)) == 0, "harness: cannot make a 6 GiB "
		    "sparse file: %s", strerror(errno));
	grade_check(SEAM_REAL(pwrite)(fd, data, len, (off_t)(5 * GIB + 100)) == (ssize_t)len,
		    "harness: cannot write the sparse file: %s", strerror(errno));
	return fd;
}

/* Reads beyond 4 GiB in the sparse file, and what they must return. */
static void sparse_reqs(int fd, struct batch_req r[4], unsigned char *bufs)
{
	r[0] = (struct batch_req){ fd, (off_t)(5 * GIB + 100), 5000, bufs, UNSET };
	r[1] = (struct batch_req){ fd, (off_t)(5 * GIB + 3100), 1000, bufs + 5000, UNSET };
	r[2] = (struct batch_req){ fd, (off_t)(6 * GIB - 10), 100, bufs + 6000, UNSET };
	r[3] = (struct batch_req){ fd, (off_t)(6 * GIB + 5), 100, bufs + 6100, UNSET };
}

static void check_sparse(const char *fn, struct batch_req r[4], const unsigned char *data)
{
	static const ssize_t want[4] = { 5000, 1000, 10, 0 };
	static const unsigned char zero[10];

	for (int i = 0; i < 4; i++)
		grade_check(r[i].res == want[i], "%s: a read of %zu bytes at offset %llu (5 GiB + "
			    "%llu) of a 6 GiB sparse file: res %s, expected %zd: an offset kept in "
			    "an int or an unsigned loses everything above 4 GiB", fn, r[i].len,
			    (unsigned long long)r[i].offset,
			    (unsigned long long)r[i].offset - 5 * GIB, errno_name(r[i].res), want[i]);
	grade_check_same(r[0].buf, data, 5000, fn);
	grade_check_same(r[1].buf, data + 3000, 1000, fn);
	grade_check_same(r[2].buf, zero, 10, fn);
}

GRADE_TEST(paio, beyond_4gib, 1,
	   "paio_batch_read at offsets beyond 4 GiB of a sparse file (short reads continued there too), and a read of 6 GiB (no data moves)",
	   "TODOs 4 and 7: beyond 4 GiB: a continuation's position must be worked out in 64 "
	   "bits (aio_offset is an off_t), and the bytes read so far, which pass 2 and 4 GiB, "
	   "kept in a size_t, never in an int or an unsigned (aio(7), lesson section 2)")
{
	unsigned char *data = grade_random_bytes(5000), *bufs = grade_xmalloc(6200);
	int fd = sparse_file(data, 5000), small;
	struct batch_req r[4];
	int rc;

	sparse_reqs(fd, r, bufs);
	aw_watch();
	aw.cap = 1000;
	rc = SEAM_CALL(paio_batch_read(r, 4, 4));
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_sparse("paio_batch_read", r, data);
	/* len SSIZE_MAX is allowed (only len > SSIZE_MAX is -EINVAL): 3000 bytes
	 * in pieces of 1000 (the cap), then end of file; no byte lands beyond. */
	small = grade_open(grade_make_file("small", data, 3000), O_RDONLY);
	r[0] = (struct batch_req){ small, 0, SSIZE_MAX, bufs, UNSET };
	rc = SEAM_CALL(paio_batch_read(r, 1, 1));
	aw.cap = 0;
	grade_check(rc == 0 && r[0].res == 3000, "a read of SSIZE_MAX bytes from a 3000-byte "
		    "file: paio_batch_read returned %s, res %s; expected 0 and 3000 (only len > "
		    "SSIZE_MAX is -EINVAL)", errno_name(rc), errno_name(r[0].res));
	check_protocol();
	grade_check_same(bufs, data, 3000, "paio_batch_read of SSIZE_MAX bytes");
	/* A single request of 4 GiB + 10 bytes (a buffer of address space only):
	 * its length and what is left of it are sizes, not unsigned ints. */
	{
		const size_t huge = 4 * GIB + 10;
		unsigned char *big = mmap(NULL, huge, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		grade_check(big != MAP_FAILED, "harness: cannot map 4 GiB of address space");
		r[0] = (struct batch_req){ small, 0, huge, big, UNSET };
		rc = SEAM_CALL(paio_batch_read(r, 1, 1));
		grade_check(rc == 0 && r[0].res == 3000, "a read of 4 GiB + 10 bytes from a "
			    "3000-byte file: paio_batch_read returned %s, res %s; expected 0 and "
			    "3000: is the length (or what is left of it) kept in an int or an "
			    "unsigned? aio_nbytes is a size_t (TODO 4)", errno_name(rc),
			    errno_name(r[0].res));
		check_protocol();
		grade_check_same(big, data, 3000, "paio_batch_read of 4 GiB + 10 bytes");
		munmap(big, huge);
	}
	/* A pretend file of 5 GiB + 3 bytes on fd 900: each aio_read of it
	 * answers at most 0x7ffff000 bytes and moves none, so a read of 6 GiB
	 * ends with a total that fits neither an int nor an unsigned. */
	aw.pretend_null = grade_open("/dev/null", O_RDONLY);
	aw.pretend_fd = 900;
	aw.pretend_size = 5 * GIB + 3;
	r[0] = (struct batch_req){ 900, 0, 6 * GIB, bufs, UNSET };
	r[1] = (struct batch_req){ 900, (off_t)(4 * GIB), SSIZE_MAX, bufs, UNSET };
	rc = SEAM_CALL(paio_batch_read(r, 2, 2));
	aw.pretend_fd = 0;
	grade_check(rc == 0 && r[0].res == (ssize_t)(5 * GIB + 3) && r[1].res == (ssize_t)(GIB + 3),
		    "reads of 6 GiB at offset 0 and of SSIZE_MAX bytes at 4 GiB, from a file of 5 "
		    "GiB + 3 bytes (each aio_read returns at most 0x7ffff000 bytes, like read(2)): "
		    "paio_batch_read returned %s, res %s and %s; expected 0, %llu and %llu: are "
		    "the bytes read so far kept in an int or an unsigned? They pass 2 and 4 GiB: "
		    "use a size_t (TODO 7)", errno_name(rc), errno_name(r[0].res),
		    errno_name(r[1].res), 5 * GIB + 3, GIB + 3);
	check_protocol();
	close(aw.pretend_null);
	close(small);
	close(fd);
	free(bufs);
	free(data);
}

GRADE_TEST(paio, error_after_progress, 2,
	   "paio_batch_read: a read that fails after a first piece arrived reports the error, not the bytes so far",
	   "TODOs 5 and 7: a short read is continued; if the continuation fails, the "
	   "request's res is -err, from aio_error or from aio_read's refusal: a count would "
	   "claim end of file (paio.h, \"Result of each request\")")
{
	const size_t size = 100000, n = 8;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int rc;

	/* Even requests fit in one piece of 1000 bytes; odd ones need a second
	 * piece, which fails: it reads a directory (EISDIR from aio_error), then
	 * aio_read itself refuses it (EINVAL). Either way the error is the
	 * request's result, not the 1000 bytes so far. */
	static const struct { int err; const char *how; } cases[2] = {
		{ EISDIR, "the first 1000 arrived, then the rest failed with EISDIR" },
		{ EINVAL, "the first 1000 arrived, then aio_read refused the continuation with "
			  "EINVAL: the refusal is the result, a count would claim end of file "
			  "(TODO 5)" },
	};

	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)(4096 * (i + 1)), i % 2 ? 2500 : 800,
					      grade_xmalloc(2500), UNSET };
	aw_watch();
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < n; i++)
			reqs[i].res = UNSET;
		aw.cap = 1000;
		aw.cont_fail_fd = k ? 0 : dir;
		aw.cont_refuse_errno = k ? EINVAL : 0;
		rc = SEAM_CALL(paio_batch_read(reqs, n, 3));
		aw.cap = 0;
		aw.cont_fail_fd = 0;
		aw.cont_refuse_errno = 0;
		grade_check(rc == 0, "paio_batch_read returned %s, expected 0: a failed request is "
			    "that request's result", errno_name(rc));
		check_protocol();
		for (size_t i = 0; i < n; i++) {
			ssize_t want = i % 2 ? -cases[k].err : 800;

			grade_check(reqs[i].res == want, "request %zu (%zu bytes; %s): res %s, "
				    "expected %s", i, reqs[i].len, i % 2 ? cases[k].how :
				    "read in one piece", errno_name(reqs[i].res), errno_name(want));
			if (!(i % 2))
				grade_check_same(reqs[i].buf, data + reqs[i].offset, 800,
						 "paio_batch_read");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);
	close(dir);
	close(fd);
	free(data);
}

GRADE_TEST(paio, eagain_waits_for_progress, 2,
	   "paio_batch_read: after EAGAIN with reads in flight it waits for one of them before trying again (no spinning)",
	   "TODOs 5, 6 and 8: EAGAIN from aio_read while reads of yours are in flight means "
	   "\"wait for one\": sleep in aio_suspend, collect, then submit again; calling "
	   "aio_read again at once only spins (paio.h)")
{
	/* Pipe 1 first, then pipe 2 while pipe 0 still waits: once a read is
	 * collected, the next request goes in before waiting again, without
	 * waiting for the rest of the window to drain. */
	static const int order[4] = { 1, 2, 0, 3 };
	const size_t len = 200;
	int p[4][2];
	struct batch_req reqs[4];
	unsigned char *data[4];
	struct feed *f;
	int rc;

	aw_watch();
	aw.read_budget = 2000;
	aw.budget_why = "paio_batch_read made more than 2000 aio_read calls for 4 pipes while "
			"aio_read said EAGAIN: it retries at once instead of waiting in aio_suspend "
			"for one of its reads (TODOs 6 and 8)";
	aw.limit = 2;   /* glibc's resources: EAGAIN while 2 reads are in flight */
	feed_pipes(4, p, reqs, data, len, 0, UNSET);
	f = feed_start(&(struct feed_cfg){ .n = 4, .pipes = p, .order = order, .data = data,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(reqs, 4, 4));
	feed_join(f);
	aw.limit = 0;
	w_check_no_violation();
	check_fed(f, "4 pipes at qd 4 while aio_read accepts only 2 at a time, answered 1, 2, "
		  "0, 3: once pipe 1's read is collected, pipe 2's must be submitted while pipe "
		  "0's still waits; EAGAIN asks you to wait for one read, not for all of them "
		  "(TODO 8), and the request aio_read turned away goes in before any later "
		  "one (requests enter the window in the order of the array: paio.h, qd)");
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0 (EAGAIN with reads in "
		    "flight: wait for one, then submit again)", errno_name(rc));
	check_protocol();
	check_pipe_results("paio_batch_read", reqs, 4, data, len);
	grade_check(aw.max_eagain_run <= 4, "paio_batch_read called aio_read %ld times in a "
		    "row, each failing with EAGAIN, without waiting in aio_suspend or collecting "
		    "a read in between (TODO 8)", aw.max_eagain_run);
	grade_check(aw.max_inflight == 2, "paio_batch_read had at most %ld reads in flight "
		    "where aio_read accepted 2", aw.max_inflight);
	feed_free_pipes(4, p, reqs, data);
	free(f);
}

/* paio.h: "No fd is opened or closed". A descriptor made for a pause (an
 * eventfd to poll on, say) and never closed is one more in /proc/self/fd
 * after every pause. */
static void check_fds_left(int before, const char *what)
{
	int now = fault_count_fds();

	grade_check(now == before, "paio_batch_read left %d descriptor(s) more open than before "
		    "it ran (%s): it opens no descriptor at all, and anything it opened must "
		    "be closed before it returns. To pause, nanosleep needs none (poll with no "
		    "fds, nfds 0, sleeps too) (TODO 8, paio.h rules, pitfall 29)", now - before,
		    what);
}

GRADE_TEST(paio, memory, 2,
	   "paio_batch_read frees what it allocates, also when an allocation fails (-ENOMEM), when aio_read's EAGAIN never ends and when aio_suspend fails",
	   "TODOs 2 and 9: what is allocated is freed on every path, also when a later "
	   "allocation fails and the call returns -ENOMEM, and when the batch fails as a "
	   "whole (-EAGAIN after the last try, aio_suspend's error) with nothing left in "
	   "flight; no descriptor is opened either, not even for a pause (malloc(3), "
	   "lesson section 10, pitfall 29)")
{
	const size_t size = 50000, n = 12;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct seam_heap before;
	int fds_before, rc;

	aw_watch();
	seam_heap_usage(&before);
	fds_before = fault_count_fds();
	rc = SEAM_CALL(paio_batch_read(NULL, 0, 4));
	grade_check(rc == 0, "paio_batch_read(NULL, 0, 4) returned %s, expected 0 (nothing to "
		    "do)", errno_name(rc));
	for (int k = 0; k <= 4; k++) {
		struct batch_req *reqs = random_reads(fd, size, n, 4000);

		if (k > 0)
			seam_heap_fail(k, 1);   /* the k-th allocation from here fails */
		rc = SEAM_CALL(paio_batch_read(reqs, n, 5));
		seam_heap_fail(0, 0);
		grade_check(rc == 0 || (k > 0 && rc == -ENOMEM), "paio_batch_read returned %s "
			    "%s; expected 0%s", errno_name(rc), k ? "when an allocation failed" : "",
			    k ? " or -ENOMEM" : "");
		check_protocol();
		grade_check_heap(&before, k ? "paio_batch_read with an allocation failing" :
				 "paio_batch_read of 12 reads");
		check_fds_left(fds_before, k ? "an allocation failing" : "a batch of 12 reads");
		if (rc == 0) {
			check_file_results("paio_batch_read", reqs, n, data, size, 5);
		} else {
			for (size_t i = 0; i < n; i++)
				free(reqs[i].buf);
			free(reqs);
		}
	}
	/* The batch failing as a whole frees the window too: aio_read's EAGAIN
	 * that never ends (-EAGAIN, with nothing in flight), and aio_suspend
	 * failing (ENOMEM) while reads are in flight (-ENOMEM once they are
	 * collected). */
	{
		struct batch_req *reqs = random_reads(fd, size, n, 4000);

		aw.read_calls = 0;
		aw.eagain = AW_EAGAIN_ALWAYS;
		rc = SEAM_CALL(paio_batch_read(reqs, n, 5));
		aw.eagain = AW_EAGAIN_NONE;
		grade_check(rc == -EAGAIN, "paio_batch_read returned %s when every aio_read failed "
			    "with EAGAIN; expected -EAGAIN", errno_name(rc));
		check_protocol();
		grade_check_heap(&before, "paio_batch_read giving up with -EAGAIN (aio_read's "
				 "EAGAIN never ended; nothing in flight, but the window is still "
				 "yours to free, TODO 9)");
		check_fds_left(fds_before, "giving up with -EAGAIN after pausing between "
			       "its tries (aio_read's EAGAIN never ended)");
		aw.suspend_fail_errno = ENOMEM;   /* the next aio_suspend fails */
		rc = SEAM_CALL(paio_batch_read(reqs, n, 5));
		aw.suspend_fail_errno = 0;
		grade_check(rc == -ENOMEM || rc == 0, "paio_batch_read returned %s when "
			    "aio_suspend failed with ENOMEM; expected -ENOMEM", errno_name(rc));
		check_protocol();
		grade_check_heap(&before, "paio_batch_read returning aio_suspend's error "
				 "(-ENOMEM; after collecting the reads in flight, free the window "
				 "too, TODO 9)");
		check_fds_left(fds_before, "returning aio_suspend's error (-ENOMEM)");
		for (size_t i = 0; i < n; i++)
			free(reqs[i].buf);
		free(reqs);
	}
	close(fd);
	free(data);
}

GRADE_TEST(tpool, error_after_progress, 2,
	   "the pool: a read that fails after a first piece arrived reports the error, not the bytes so far",
	   "TODO 13: pread failing after some bytes arrived: the request's res is -errno; "
	   "returning the bytes so far would claim end of file (paio.h)")
{
	const size_t size = 100000, n = 8;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs)), first;
	struct tpool *pool;
	int rc, rc2;

	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)(4096 * (i + 1)), i % 2 ? 2500 : 800,
					      grade_xmalloc(2500), UNSET };
	tw_watch();
	pool = pool_or_fail(2);
	rw.cap = 1000;
	rw.cont_fail = true;
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 3));
	/* And a pread that fails before any byte (not with ESPIPE): its error. */
	first = (struct batch_req){ fd, 100, 800, grade_xmalloc(800), UNSET };
	rc2 = SEAM_CALL(tpool_batch_read(pool, &first, 1, 1));
	rw.cap = 0;
	rw.cont_fail = false;
	grade_check(rc == 0 && rc2 == 0, "tpool_batch_read returned %s and %s, expected 0",
		    errno_name(rc), errno_name(rc2));
	grade_check(first.res == -EIO, "a read whose first pread failed with EIO: res %s, "
		    "expected -EIO (read(2) instead of pread is only for ESPIPE) (TODO 13)",
		    errno_name(first.res));
	free(first.buf);
	for (size_t i = 0; i < n; i++) {
		ssize_t want = i % 2 ? -EIO : 800;

		grade_check(reqs[i].res == want, "request %zu (%zu bytes; %s): res %s, expected %s",
			    i, reqs[i].len, i % 2 ? "pread gave the first 1000, then failed with "
			    "EIO" : "read in one piece", errno_name(reqs[i].res), errno_name(want));
		if (!(i % 2))
			grade_check_same(reqs[i].buf, data + reqs[i].offset, 800, "tpool_batch_read");
		free(reqs[i].buf);
	}
	free(reqs);
	SEAM_CALL_VOID(tpool_destroy(pool));
	close(fd);
	free(data);
}

GRADE_TEST(tpool, beyond_4gib, 2,
	   "the pool at offsets beyond 4 GiB of a sparse file, and a read of 5 GiB (no data moves)",
	   "TODO 13: keep offsets in off_t and counts in size_t: an int or an unsigned wraps "
	   "at 2 or 4 GiB; each pread moves at most 0x7ffff000 bytes (read(2), NOTES)")
{
	unsigned char *data = grade_random_bytes(5000), *bufs = grade_xmalloc(6200);
	int fd = sparse_file(data, 5000);
	struct batch_req r[4], big;
	struct tpool *pool;
	int rc;

	sparse_reqs(fd, r, bufs);
	tw_watch();
	pool = pool_or_fail(2);
	rw.cap = 1000;
	rc = SEAM_CALL(tpool_batch_read(pool, r, 4, 4));
	rw.cap = 0;
	grade_check(rc == 0, "tpool_batch_read returned %s, expected 0", errno_name(rc));
	check_sparse("tpool_batch_read", r, data);

	/* A pretend file of 5 GiB + 3 bytes on fd 900: the hook answers every
	 * pread of it and moves no byte, so the buffer is never touched. */
	rw.pretend_fd = 900;
	rw.pretend_size = 5 * GIB + 3;
	big = (struct batch_req){ 900, 0, 6 * GIB, bufs, UNSET };
	rc = SEAM_CALL(tpool_batch_read(pool, &big, 1, 1));
	grade_check(rc == 0 && big.res == (ssize_t)(5 * GIB + 3), "a read of 6 GiB from a file "
		    "of 5 GiB + 3 bytes: tpool_batch_read returned %s, res %s; expected 0 and "
		    "%llu", errno_name(rc), errno_name(big.res), 5 * GIB + 3);
	/* len SSIZE_MAX is allowed (only len > SSIZE_MAX is -EINVAL). */
	big = (struct batch_req){ 900, 0, SSIZE_MAX, bufs, UNSET };
	rc = SEAM_CALL(tpool_batch_read(pool, &big, 1, 1));
	rw.pretend_fd = 0;
	grade_check(rc == 0 && big.res == (ssize_t)(5 * GIB + 3), "a read of SSIZE_MAX bytes "
		    "from a file of 5 GiB + 3 bytes: tpool_batch_read returned %s, res %s; "
		    "expected 0 and %llu (only len > SSIZE_MAX is -EINVAL)", errno_name(rc),
		    errno_name(big.res), 5 * GIB + 3);
	SEAM_CALL_VOID(tpool_destroy(pool));
	close(fd);
	free(bufs);
	free(data);
}

/* A caller of tpool_batch_read on a stack the test can read afterwards:
 * CALLER_STACK bytes of our own, painted before the call, so that how far
 * the call went down into it shows as the lowest byte it changed. glibc
 * keeps the thread's descriptor and TLS at the top of a stack given with
 * pthread_attr_setstack: they count as used, a few KiB. */
#define CALLER_STACK (4u << 20)
#define CALLER_STACK_PAINT 0xa5

struct stack_caller {
	struct tpool *pool;
	struct batch_req *reqs;
	size_t n;
	unsigned qd;
	int rc;
};

static void *stack_caller_main(void *arg)
{
	struct stack_caller *c = arg;

	c->rc = tpool_batch_read(c->pool, c->reqs, c->n, c->qd);
	return NULL;
}

/* Run the batch on a painted stack; the bytes of it used, or 0 if the
 * harness could not (the test then fails on c->rc, left -1). */
static size_t stack_used_by_batch(struct stack_caller *c)
{
	unsigned char *stack = mmap(NULL, CALLER_STACK, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pthread_attr_t attr;
	pthread_t t;
	size_t low = 0;

	c->rc = -1;
	grade_check(stack != MAP_FAILED, "harness: cannot map a stack for the caller");
	if (stack == MAP_FAILED)
		return 0;
	memset(stack, CALLER_STACK_PAINT, CALLER_STACK);
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, CALLER_STACK);
	if (SEAM_REAL(pthread_create)(&t, &attr, stack_caller_main, c) == 0) {
		SEAM_REAL(pthread_join)(t, NULL);
		while (low < CALLER_STACK && stack[low] == CALLER_STACK_PAINT)
			low++;
	} else {
		grade_check(false, "harness: cannot start the caller on its own stack");
		low = CALLER_STACK;
	}
	pthread_attr_destroy(&attr);
	munmap(stack, CALLER_STACK);
	return CALLER_STACK - low;
}

GRADE_TEST(tpool, argument_edges, 2,
	   "the pool's edges: NULL with n 0, qd 0, qd 2^20 (also for 20000 requests: their slots are not on the caller's stack), 256 threads, TPOOL_MAX_THREADS + 1, NULL pool",
	   "TODOs 11, 14 and 16: n == 0 returns 0 even with reqs NULL; qd == 0 and p == NULL "
	   "are -EINVAL; qd far above n is fine; what grows with min(qd, n) is allocated "
	   "(calloc: -ENOMEM if it fails), never an array on the stack; "
	   "1..TPOOL_MAX_THREADS threads (paio.h)")
{
	const size_t size = 30000, n = 10;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 3000);
	struct batch_req one = { fd, 0, 10, NULL, UNSET };
	int base = fault_count_threads(), rc;
	struct tpool *pool, *big = NULL;

	tw_watch();
	pool = pool_or_fail(3);
	rc = SEAM_CALL(tpool_batch_read(pool, NULL, 0, 4));
	grade_check(rc == 0, "tpool_batch_read(p, NULL, 0, 4) returned %s, expected 0",
		    errno_name(rc));
	rc = SEAM_CALL(tpool_batch_read(pool, &one, 1, 0));
	grade_check(rc == -EINVAL && one.res == UNSET, "tpool_batch_read with qd 0 returned %s, "
		    "expected -EINVAL and nothing read", errno_name(rc));
	rc = SEAM_CALL(tpool_batch_read(pool, NULL, 0, 0));
	grade_check(rc == -EINVAL, "tpool_batch_read(p, NULL, 0, 0) returned %s, expected "
		    "-EINVAL: qd == 0 is refused whatever n is; check the arguments before "
		    "answering n == 0 with 0 (TODO 14, paio.h \"Conventions\")", errno_name(rc));
	rc = SEAM_CALL(tpool_batch_read(NULL, NULL, 0, 4));
	grade_check(rc == -EINVAL, "tpool_batch_read(NULL, NULL, 0, 4) returned %s, expected "
		    "-EINVAL: a NULL pool is refused whatever n is; check the arguments before "
		    "answering n == 0 with 0 (TODO 14, paio.h \"Conventions\")", errno_name(rc));
	rc = SEAM_CALL(tpool_batch_read(NULL, &one, 1, 1));
	grade_check(rc == -EINVAL, "tpool_batch_read(NULL, ...) returned %s, expected -EINVAL",
		    errno_name(rc));
	rc = SEAM_CALL(tpool_batch_read(pool, NULL, 1, 1));
	grade_check(rc == -EINVAL, "tpool_batch_read(p, NULL, 1, 1) returned %s, expected "
		    "-EINVAL", errno_name(rc));
	/* The request after the batch in memory must stay untouched. */
	reqs[1] = (struct batch_req){ fd, 0, 0, reqs[1].buf, UNSET };
	reqs[2].res = UNSET;
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, 2, 4));
	grade_check(rc == 0 && reqs[2].res == UNSET, "tpool_batch_read(p, reqs, 2, 4) returned "
		    "%s and wrote res %s into reqs[2], beyond the batch: expected 0 and nothing "
		    "there (TODO 14)", errno_name(rc), errno_name(reqs[2].res));
	rc = POOL_CALL(tpool_batch_read_once(NULL, 1, 4));
	grade_check(rc == -EINVAL && tw.created == 3, "tpool_batch_read_once(NULL, 1, 4) "
		    "returned %s (and started %ld threads), expected -EINVAL and none",
		    errno_name(rc), tw.created - 3);
	rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 1u << 20));
	grade_check(rc == 0, "tpool_batch_read(p, reqs, 10, 2^20) returned %s, expected 0",
		    errno_name(rc));
	grade_check(atomic_load(&rw.max_inprogress) <= 3, "a pool of 3 had %ld reads in "
		    "progress at once", atomic_load(&rw.max_inprogress));
	check_file_results("tpool_batch_read with qd 2^20", reqs, n, data, size, 1u << 20);

	/* 20000 reads of one byte at qd 2^20, called from a thread whose stack
	 * we can read: the job slots of a batch grow with min(qd, n) (here 20000
	 * of them), so they belong on the heap. A stack array of them would be
	 * 24 MiB for a batch of 2^20 requests: more than the 8 MiB a thread's
	 * stack has, and a crash instead of -ENOMEM. */
	{
		const size_t many = 20000;
		struct batch_req *mreqs = grade_xmalloc(many * sizeof(*mreqs));
		unsigned char *one_bytes = grade_xmalloc(many);
		struct stack_caller c = { .pool = pool, .reqs = mreqs, .n = many, .qd = 1u << 20 };
		size_t used, wrong = 0;

		for (size_t i = 0; i < many; i++)
			mreqs[i] = (struct batch_req){ fd, (off_t)(i % size), 1, &one_bytes[i], UNSET };
		used = stack_used_by_batch(&c);
		for (size_t i = 0; i < many; i++)
			if (mreqs[i].res != 1 || one_bytes[i] != data[i % size])
				wrong++;
		grade_check(c.rc == 0 && wrong == 0, "tpool_batch_read(p, reqs, 20000, 2^20) of "
			    "one byte each returned %s with %zu request(s) wrong, expected 0 and "
			    "none", errno_name(c.rc), wrong);
		grade_check(used <= 256 * 1024, "tpool_batch_read(p, reqs, 20000, 2^20) used %zu "
			    "KiB of its caller's stack (a few KiB expected, whatever n and qd): "
			    "something that grows with min(qd, n), the batch's job slots, is an "
			    "array on the stack. A batch of 2^20 requests would need more than a "
			    "thread's 8 MiB stack and crash its caller; allocate it (calloc), "
			    "where running out is -ENOMEM (TODO 14, paio.h tpool_batch_read)",
			    used / 1024);
		free(one_bytes);
		free(mreqs);
	}
	SEAM_CALL_VOID(tpool_destroy(pool));
	rc = POOL_CALL(tpool_batch_read_once(NULL, 0, 4));
	grade_check(rc == 0, "tpool_batch_read_once(NULL, 0, 4) returned %s, expected 0",
		    errno_name(rc));
	rc = POOL_CALL(tpool_batch_read_once(NULL, 0, 0));
	grade_check(rc == -EINVAL, "tpool_batch_read_once(NULL, 0, 0) returned %s, expected "
		    "-EINVAL: qd == 0 is refused whatever n is; check the arguments before "
		    "answering n == 0 with 0 (TODO 16, paio.h \"Conventions\")", errno_name(rc));
	rc = POOL_CALL(tpool_create(&big, TPOOL_MAX_THREADS));
	grade_check(rc == 0 && big != NULL, "tpool_create(&p, TPOOL_MAX_THREADS) returned %s, "
		    "expected 0: TPOOL_MAX_THREADS itself is allowed", errno_name(rc));
	grade_check(tw.created == 3 + TPOOL_MAX_THREADS, "tpool_create(&p, %u) started %ld "
		    "threads", TPOOL_MAX_THREADS, tw.created - 3);
	SEAM_CALL_VOID(tpool_destroy(big));
	grade_check(tw_joined() == tw.created && tw.joins_unknown == 0, "%ld of %ld workers "
		    "joined (%ld joins of threads that were not workers or joined twice)",
		    tw_joined(), tw.created, tw.joins_unknown);
	grade_check(w_threads_settle(base) == base, "threads are left after tpool_destroy");
	close(fd);
	free(data);
}

GRADE_TEST(tpool, memory, 3,
	   "the pool frees everything: after destroy, and when an allocation fails half way through tpool_create or a batch",
	   "TODOs 11, 14 and 15: every allocation has its free on every path: a failed "
	   "tpool_create stops and joins what it started and frees what it allocated; "
	   "tpool_destroy frees the pool; a batch frees its job slots (malloc(3))")
{
	const size_t size = 50000, n = 12;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	int base = fault_count_threads();
	struct seam_heap before;
	int failed = 0;

	tw_watch();
	seam_heap_usage(&before);
	/* Refused arguments: -EINVAL, and nothing left allocated. */
	{
		struct tpool *bad = NULL;
		int r1 = POOL_CALL(tpool_create(NULL, 2));
		int r2 = POOL_CALL(tpool_create(&bad, 0));
		int r3 = POOL_CALL(tpool_create(&bad, TPOOL_MAX_THREADS + 1));

		grade_check(r1 == -EINVAL && r2 == -EINVAL && r3 == -EINVAL && bad == NULL,
			    "tpool_create(NULL, 2), (&p, 0) and (&p, TPOOL_MAX_THREADS + 1) "
			    "returned %s, %s and %s; expected -EINVAL each, p untouched",
			    errno_name(r1), errno_name(r2), errno_name(r3));
		grade_check_heap(&before, "tpool_create refusing its arguments (-EINVAL: out "
				 "NULL, 0 or TPOOL_MAX_THREADS + 1 threads): check them before "
				 "allocating anything, or free on that path too (TODO 11);");
	}
	for (int k = 0; k <= 6; k++) {
		struct batch_req *reqs = random_reads(fd, size, n, 4000);
		struct tpool *pool = NULL;
		int rc, now;

		if (k > 0)
			seam_heap_fail(k, 1);   /* the k-th allocation from here fails */
		rc = POOL_CALL(tpool_create(&pool, 3));
		if (rc == 0)
			rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 4));
		seam_heap_fail(0, 0);
		failed += rc != 0;
		grade_check(rc == 0 || (k > 0 && rc == -ENOMEM), "with allocation %d failing, "
			    "tpool_create or tpool_batch_read returned %s; expected 0 or -ENOMEM", k,
			    errno_name(rc));
		if (pool) {
			if (rc != 0)   /* the batch's allocation failed: the pool still works */
				rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 4));
			grade_check(rc == 0, "tpool_batch_read after a failed one returned %s",
				    errno_name(rc));
			check_file_results("tpool_batch_read", reqs, n, data, size, 4);
			SEAM_CALL_VOID(tpool_destroy(pool));
		} else {
			for (size_t i = 0; i < n; i++)
				free(reqs[i].buf);
			free(reqs);
		}
		now = w_threads_settle(base);
		grade_check(now == base, "%d threads are left after %s (allocation %d failed)",
			    now - base, pool ? "tpool_destroy" : "a failed tpool_create", k);
		grade_check_heap(&before, pool ? "tpool_create, tpool_batch_read and tpool_destroy"
				 : "a tpool_create that failed half way");
	}
	grade_check(failed > 0, "no allocation of tpool_create or tpool_batch_read could be "
		    "made to fail: does the pool allocate its memory with malloc or calloc?");
	/* pthread_create failing at once (EAGAIN), and half way (EPERM: any error
	 * of pthread_create is the result, not only EAGAIN). */
	for (int k = 0; k < 2; k++) {
		struct tpool *pool = NULL;
		int want = k ? EPERM : EAGAIN, rc;

		tw.fail_at = tw.create_calls + (k ? 2 : 0);
		tw.fail_errno = want;
		rc = POOL_CALL(tpool_create(&pool, 4));
		tw.fail_at = -1;
		tw.fail_errno = 0;
		grade_check(rc == -want && pool == NULL, "tpool_create returned %s when the %s "
			    "pthread_create failed with %s, expected -%s (TODO 11)", errno_name(rc),
			    k ? "third" : "first", k ? "EPERM" : "EAGAIN", k ? "EPERM" : "EAGAIN");
		grade_check(w_threads_settle(base) == base, "threads are left after a failed "
			    "tpool_create");
		grade_check_heap(&before, "a tpool_create whose pthread_create failed");
		grade_check(!mask_left_changed, "tpool_create left the calling thread with its "
			    "signals blocked when the %s pthread_create failed: on the error path "
			    "too, put the caller's mask back (pthread_sigmask(SIG_SETMASK, &old, "
			    "NULL)) before returning (TODO 11)", k ? "third" : "first");
	}
	close(fd);
	free(data);
}

GRADE_TEST(paio, window_stays_full, 2,
	   "paio_batch_read: requests answered without I/O (len 0, offset -1) do not leave a slot of the window empty",
	   "TODOs 3 and 5: a slot whose next request needs no I/O takes the request after "
	   "it, before you wait: the window holds min(qd, requests left) reads in flight "
	   "(paio.h, qd)")
{
	static const int order[3] = { 1, 2, 0 };
	const size_t len = 300;
	int p[3][2];
	struct batch_req preqs[3], all[7];
	unsigned char *data[3];
	struct feed *f;
	int rc;

	aw_watch();
	feed_pipes(3, p, preqs, data, len, 0, UNSET);
	all[0] = preqs[0];
	all[1] = (struct batch_req){ p[0][0], 0, 0, NULL, UNSET };      /* 0 */
	all[2] = (struct batch_req){ p[0][0], -1, 10, preqs[0].buf, UNSET }; /* -EINVAL */
	all[3] = (struct batch_req){ -1, 0, 0, NULL, UNSET };           /* 0 */
	all[4] = preqs[1];
	all[5] = (struct batch_req){ -1, -5, 0, NULL, UNSET };          /* -EINVAL */
	all[6] = preqs[2];
	/* qd 2: pipe 1 is answered while pipe 0 waits; pipe 1's slot must get
	 * pipe 2 before the code waits again, and pipe 0 is answered last. */
	f = feed_start(&(struct feed_cfg){ .n = 3, .pipes = p, .order = order, .data = data,
					   .len = len, .wait = W_IN_SUSPEND });
	rc = SEAM_CALL(paio_batch_read(all, 7, 2));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, "requests 0, 4 and 6 are pipes, 1, 2, 3 and 5 need no I/O; at qd 2 "
		  "pipe 4 must be in flight together with pipe 0, then pipe 6 once pipe 4 is "
		  "done: a slot that answered a request without I/O must take the next one");
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	grade_check(all[1].res == 0 && all[2].res == -EINVAL && all[3].res == 0 &&
		    all[5].res == -EINVAL, "requests 1, 2, 3, 5 (len 0; offset -1; len 0 with "
		    "fd -1; offset -5 with len 0): res %s, %s, %s, %s; expected 0, -EINVAL, 0, "
		    "-EINVAL", errno_name(all[1].res), errno_name(all[2].res),
		    errno_name(all[3].res), errno_name(all[5].res));
	preqs[0].res = all[0].res;
	preqs[1].res = all[4].res;
	preqs[2].res = all[6].res;
	check_pipe_results("paio_batch_read", preqs, 3, data, len);
	grade_check(aw.max_inflight == 2, "paio_batch_read had at most %ld reads in flight "
		    "with qd 2 and 3 pipes", aw.max_inflight);
	feed_free_pipes(3, p, preqs, data);
	free(f);
}

GRADE_TEST(paio, refused_requests, 2,
	   "paio_batch_read: aio_read refusing a request (EINVAL, then EBADF) is that request's -errno; the batch goes on, also when a whole window is refused; the rest of the round is submitted, and the refused request's slot refilled before the wait",
	   "TODOs 5 and 8: aio_read failing with an errno other than EAGAIN is the request's "
	   "result (-errno) and frees its slot; refill the window and go on until every "
	   "request has its res (paio.h, rules)")
{
	const size_t size = 40000, n = 9;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	int bad = grade_open(grade_path("f"), O_RDONLY);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	static const bool refused[9] = { 1, 1, 1, 0, 1, 0, 1, 1, 0 };
	struct seam_heap before;
	int rc;

	/* First EINVAL, then EBADF (paio.h names both): the refusal's own
	 * errno is the result, not one errno for every refusal. */
	static const int errs[2] = { EINVAL, EBADF };

	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct batch_req){ refused[i] ? bad : fd, (off_t)(3000 * i), 2000,
					      grade_xmalloc(2000), UNSET };
	aw_watch();
	for (int k = 0; k < 2; k++) {
		const char *en = k ? "EBADF" : "EINVAL";

		for (size_t i = 0; i < n; i++) {
			reqs[i].fd = refused[i] ? bad : fd;
			reqs[i].len = 2000;
			reqs[i].res = UNSET;
		}
		seam_heap_usage(&before);
		aw.refuse_fd = bad;
		aw.refuse_errno = errs[k];
		rc = SEAM_CALL(paio_batch_read(reqs, n, 2));
		aw.refuse_fd = 0;
		w_check_no_violation();
		grade_check(rc == 0, "paio_batch_read returned %s when aio_read refused some "
			    "requests with %s; expected 0: a refused request is that request's "
			    "result", errno_name(rc), en);
		check_protocol();
		grade_check_heap(&before, "paio_batch_read with 6 of 9 requests refused by "
				 "aio_read: what was allocated for a read that aio_read refused "
				 "(its aiocb?) is freed there, since no aio_return will ever come "
				 "for it (TODOs 5 and 9);");
		for (size_t i = 0; i < n; i++) {
			if (!refused[i])
				continue;
			grade_check(reqs[i].res == -errs[k], "request %zu (aio_read refused it "
				    "with %s): res %s, expected -%s: the result is the negated errno "
				    "aio_read set, whatever it is, not one errno for every refusal "
				    "(TODO 5, aio_read(3) ERRORS)", i, en, errno_name(reqs[i].res), en);
			if (k == 1) {
				reqs[i].fd = fd;   /* not compared again */
				reqs[i].res = 0;
				reqs[i].len = 0;
			}
		}
	}
	check_file_results("paio_batch_read", reqs, n, data, size, 2);
	/* A refusal in the middle of a round: at qd 3 the first window is pipe
	 * 0, a refused request, pipe 1. The refusal is that request's answer,
	 * so its slot takes pipe 2 before the code sleeps (paio.h, qd: the next
	 * one is submitted before waiting again), and pipe 1 is submitted in
	 * the same round. The harness answers pipe 2 first, then pipe 1, then
	 * pipe 0. */
	{
		static const int order[3] = { 2, 1, 0 }, request[3] = { 0, 2, 3 };
		const size_t len = 300;
		int p[3][2];
		struct batch_req preqs[3], all[4];
		unsigned char *pdata[3];
		char rbuf[10];
		struct feed *f;

		feed_pipes(3, p, preqs, pdata, len, 0, UNSET);
		all[0] = preqs[0];
		all[1] = (struct batch_req){ bad, 0, sizeof(rbuf), rbuf, UNSET };
		all[2] = preqs[1];
		all[3] = preqs[2];
		f = feed_start(&(struct feed_cfg){ .n = 3, .pipes = p, .order = order,
						   .request = request, .data = pdata, .len = len,
						   .wait = W_IN_SUSPEND });
		aw.refuse_fd = bad;
		aw.refuse_errno = EBADF;
		rc = SEAM_CALL(paio_batch_read(all, 4, 3));
		aw.refuse_fd = 0;
		grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with "
			    "%ld read(s) still in flight", errno_name(rc), aw_in_flight());
		feed_join(f);
		w_check_no_violation();
		check_fed(f, "at qd 3, requests 0, 2 and 3 are pipes and aio_read refuses request "
			  "1 (EBADF): all three pipes must be in flight before the code sleeps. "
			  "A refusal is that request's result; go on submitting the other ready "
			  "requests, do not stop the round there, and give the refused request's "
			  "slot the next request before you wait (TODOs 5 and 8, lesson pitfall "
			  "31)");
		grade_check(rc == 0 && all[1].res == -EBADF, "paio_batch_read returned %s, request "
			    "1 (refused with EBADF) res %s; expected 0 and -EBADF", errno_name(rc),
			    errno_name(all[1].res));
		check_protocol();
		preqs[0].res = all[0].res;
		preqs[1].res = all[2].res;
		preqs[2].res = all[3].res;
		check_pipe_results("paio_batch_read (a refusal between pipes)", preqs, 3, pdata, len);
		feed_free_pipes(3, p, preqs, pdata);
		free(f);
	}
	close(bad);
	close(fd);
	free(data);
}

GRADE_TEST(paio, eagain_backs_off, 2,
	   "paio_batch_read: EAGAIN with nothing in flight is followed by a pause, and the count of tries starts again after progress",
	   "TODO 8: with none of your reads in flight, pause (nanosleep, a few ms growing) "
	   "before each new try, and give up only after a bounded number of tries IN A ROW: "
	   "an accepted aio_read starts the count again (paio.h, rules)")
{
	const size_t size = 100000, n = 20;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs;
	long storm_left, tries_quiet, tries_storm;
	int rc;

	aw_watch();
	aw_pace_watch();
	aw.read_budget = 500;
	aw.budget_why = "paio_batch_read made more than 500 aio_read calls for 20 requests "
			"while aio_read said EAGAIN: give up with -EAGAIN after a bounded number "
			"of tries (TODO 8)";
	reqs = random_reads(fd, size, n, 5000);
	tries_quiet = aw.refused_eagain;
	aw.eagain = AW_EAGAIN_ALWAYS;
	rc = SEAM_CALL(paio_batch_read(reqs, n, 6));
	aw.eagain = AW_EAGAIN_NONE;
	tries_quiet = aw.refused_eagain - tries_quiet;
	w_check_no_violation();
	grade_check(rc == -EAGAIN, "paio_batch_read returned %s when every aio_read call failed "
		    "with EAGAIN; expected -EAGAIN after a bounded number of tries", errno_name(rc));
	grade_check(aw.max_idle_run <= 6, "paio_batch_read called aio_read %ld times in a row, "
		    "each failing with EAGAIN while none of its reads was in flight, without "
		    "pausing in between (qd 6): with nothing to wait for, sleep a little "
		    "(nanosleep, usleep, clock_nanosleep, poll or select for a non-zero time) "
		    "before the next try; trying again at once only spins (TODO 8)",
		    aw.max_idle_run);
	grade_check(aw.paused_ns <= 2000000000LL, "paio_batch_read paused %lld ms in all "
		    "(the lengths it asked nanosleep, usleep, poll ... for) before giving up on an "
		    "EAGAIN that never ended: give up within 2 seconds, e.g. pauses of 1, 2, 4 "
		    "... 128 ms, about a quarter of a second (TODO 8, paio.h rules)",
		    aw.paused_ns / 1000000);
	check_protocol();
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);

	/* 8 reads at qd 1: each one's first 2 tries fail with EAGAIN (nothing in
	 * flight), then it is accepted. 16 EAGAINs in all, never more than 2 in
	 * a row: the batch must succeed. The first 3 pauses end at once with
	 * EINTR, as a signal would end them: a pause cut short is no failure. */
	reqs = random_reads(fd, size, 8, 5000);
	aw.refused_eagain = 0;
	aw.max_idle_run = 0;
	aw.eagain = AW_EAGAIN_IDLE;
	aw.eagain_first = 2;
	aw.pause_eintr = 3;
	aw.pause_eintr_given = 0;
	rc = SEAM_CALL(paio_batch_read(reqs, 8, 1));
	aw.eagain = AW_EAGAIN_NONE;
	aw.pause_eintr = 0;
	w_check_no_violation();
	grade_check(rc != -EINTR, "paio_batch_read(reqs, 8, 1) returned -EINTR: a signal "
		    "interrupted one of its pauses after aio_read's EAGAIN (%ld of them ended "
		    "at once with EINTR). A pause cut short is not a failure of the batch, and "
		    "-EINTR is none of its errors: sleep again for what is left (nanosleep's "
		    "second argument), or go on to the next try (TODO 8; nanosleep(2), signal(7))",
		    aw.pause_eintr_given);
	grade_check(rc == 0, "paio_batch_read(reqs, 8, 1) returned %s when each read's first 2 "
		    "aio_read calls failed with EAGAIN (%ld EAGAINs in all, at most 2 in a row); "
		    "expected 0: count the tries in a row, and start again from 0 once aio_read "
		    "accepted a read (TODO 8)", errno_name(rc), aw.refused_eagain);
	grade_check(aw.max_idle_run <= 1, "paio_batch_read (qd 1) called aio_read %ld times in "
		    "a row, each failing with EAGAIN while nothing was in flight, without a "
		    "pause in between (TODO 8)", aw.max_idle_run);
	check_protocol();
	check_file_results("paio_batch_read", reqs, 8, data, size, 1);

	/* 8 reads at qd 2, and glibc takes one read at a time (EAGAIN while one
	 * is in flight): each round, the first try of a read fails twice with
	 * nothing in flight, then one read is accepted and the next slot's try
	 * meets EAGAIN with that one in flight. The accepted read starts the
	 * count again, although its round ended in EAGAIN. */
	reqs = random_reads(fd, size, 8, 5000);
	aw.refused_eagain = 0;
	aw.max_idle_run = 0;
	aw.eagain = AW_EAGAIN_IDLE;
	aw.eagain_first = 2;
	aw.limit = 1;
	rc = SEAM_CALL(paio_batch_read(reqs, 8, 2));
	aw.eagain = AW_EAGAIN_NONE;
	aw.limit = 0;
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read(reqs, 8, 2) returned %s when aio_read took one "
		    "read at a time and each read's first 2 tries with nothing in flight failed "
		    "with EAGAIN (%ld EAGAINs in all, never more than 2 in a row with nothing in "
		    "flight); expected 0: every accepted aio_read starts the count of tries in a "
		    "row again, also one followed by an EAGAIN in the same round (TODO 8, "
		    "paio.h rules)", errno_name(rc), aw.refused_eagain);
	check_protocol();
	check_file_results("paio_batch_read (one read accepted at a time)", reqs, 8, data, size, 2);

	/* 6 reads at qd 3: with nothing in flight, aio_read says EAGAIN until
	 * the code has paused 1 ms in all since its last accepted read (the
	 * lengths it asked for, no clock). The reference asks 1 ms, then 2:
	 * a code that pauses microseconds gives up long before glibc could
	 * have freed anything. */
	reqs = random_reads(fd, size, 6, 5000);
	aw.refused_eagain = 0;
	aw.paused_at_accept = aw.paused_ns;
	aw.eagain_pause_ns = 1000000LL;
	aw.eagain = AW_EAGAIN_PAUSED;
	rc = SEAM_CALL(paio_batch_read(reqs, 6, 3));
	aw.eagain = AW_EAGAIN_NONE;
	w_check_no_violation();
	grade_check(rc == 0, "paio_batch_read(reqs, 6, 3) returned %s when aio_read said EAGAIN "
		    "(with nothing in flight) until the pauses asked for since the last accepted "
		    "read added up to 1 ms (%ld EAGAINs in all): pause milliseconds, not "
		    "microseconds, and keep trying for a while, e.g. pauses of 1, 2, 4 ... 128 ms "
		    "(a nanosleep of { 0, 1000 } is 1 us; TODO 8, paio.h rules)", errno_name(rc),
		    aw.refused_eagain);
	check_protocol();
	check_file_results("paio_batch_read (EAGAIN until 1 ms of pauses)", reqs, 6, data, size,
			   3);

	/* A steady stream of signals (a profiler's timer, say) and an EAGAIN
	 * that never ends: every pause ends with EINTR after 0.5 ms of real
	 * sleep. The batch must still give up with -EAGAIN. The reference's
	 * pauses (1, 2 ... 128 ms, each resumed for what is left) take about
	 * 510 such pieces; one started again from its full length never ends,
	 * so the storm stops after 3000 and the test says so. */
	reqs = random_reads(fd, size, 4, 5000);
	aw.pause_storm = 3000;
	aw.pause_storm_given = 0;
	tries_storm = aw.refused_eagain;
	aw.eagain = AW_EAGAIN_ALWAYS;
	rc = SEAM_CALL(paio_batch_read(reqs, 4, 2));
	aw.eagain = AW_EAGAIN_NONE;
	tries_storm = aw.refused_eagain - tries_storm;
	storm_left = aw.pause_storm;
	aw.pause_storm = 0;
	w_check_no_violation();
	grade_check(storm_left > 0, "paio_batch_read was still pausing after %ld pauses in a row "
		    "had each been cut short by a signal after 0.5 ms (aio_read said EAGAIN every "
		    "time, nothing in flight): a pause that a signal interrupts must not start "
		    "again from its full length, or a steady stream of signals (a profiler's timer) "
		    "keeps the batch pausing forever. Sleep only what is left (nanosleep's second "
		    "argument), or count the interrupted pause as a try and go on (TODO 8; "
		    "nanosleep(2), signal(7))", aw.pause_storm_given);
	grade_check(rc == -EAGAIN, "paio_batch_read returned %s when aio_read said EAGAIN every "
		    "time and a signal cut every pause short after 0.5 ms; expected -EAGAIN after "
		    "a bounded number of tries (TODO 8)", errno_name(rc));
	/* The same EAGAIN without signals (the first part, qd 6) took
	 * tries_quiet tries. Signals may shorten the pauses but not multiply
	 * the tries: a count of tries, or pauses resumed for what is left,
	 * keeps the number (fewer at qd 2 than at qd 6). A give-up decided by
	 * the clock with pauses a signal cuts short tries once per signal
	 * (once per piece of pause the storm gave): about 500 tries in 300 ms
	 * here, a spin under a fast enough timer. A clock-bound code that
	 * resumes its pauses tries once per several pieces, whatever the load
	 * did to the first part's count; load only makes a spinning code try
	 * less. */
	grade_check(tries_storm <= 2 * tries_quiet + 10 ||
		    4 * tries_storm <= 3 * aw.pause_storm_given, "paio_batch_read tried aio_read %ld "
		    "times (each failing with EAGAIN, nothing in flight) while a signal cut each "
		    "pause short after 0.5 ms, against %ld times for the same EAGAIN without "
		    "signals (qd 6, above): the signals multiplied the tries. Is the give-up "
		    "decided by the clock while an interrupted pause is not resumed? Then every "
		    "signal brings a new try, as fast as the signals come (a profiler's timer): "
		    "bound the tries by a count, or sleep what is left of an interrupted pause "
		    "(nanosleep's second argument) (TODO 8; nanosleep(2), signal(7))",
		    tries_storm, tries_quiet);
	check_protocol();
	for (size_t i = 0; i < 4; i++)
		free(reqs[i].buf);
	free(reqs);
	close(fd);
	free(data);
}

/* ===================================================================== */
/* Part B: batches on one pool take turns                                */
/* ===================================================================== */

/* Wait (bounded) until the caller has started and sleeps (twice: a thread
 * woken between two looks shows "running" in the second). */
static bool other_caller_asleep(struct other_caller *c)
{
	long deadline = fault_now_ms() + FEED_PATIENCE_MS;
	pid_t tid;

	while ((tid = atomic_load(&c->tid)) == 0 || w_sysno_of(tid) < 0 || w_sysno_of(tid) < 0) {
		if (fault_now_ms() > deadline)
			return false;
		fault_nap();
	}
	return true;
}

/* Give a pipe its data, then hang up (once). */
static void turn_answer(int p[2], const unsigned char *data, size_t len)
{
	if (p[1] < 0)
		return;
	grade_check(SEAM_REAL(write)(p[1], data, len) == (ssize_t)len, "harness: cannot feed a pipe");
	close(p[1]);
	p[1] = -1;
}

/* Which of n pipes (fds[i], not answered yet: !gone[i]) a worker reads
 * next; -1 if none within the bound. */
static int turn_next_read(const int *fds, const bool *gone, int n)
{
	long deadline = fault_now_ms() + FEED_PATIENCE_MS;

	for (;;) {
		for (int i = 0; i < n; i++)
			if (!gone[i] && atomic_load(&rw.reading[fds[i]]) > 0)
				return i;
		if (fault_now_ms() > deadline)
			return -1;
		fault_nap();
	}
}

/* The second half of tpool.batches_take_turns: caller A has 4 requests at
 * qd 2 on a pool of one worker, so one of A's jobs waits in the queue in
 * front of caller B's request. When A's first read ends, A's next request
 * goes behind B's all the same (paio.h: "its batch's next request goes
 * behind them"), even though the job at the front is A's own. Returns the
 * position of B's read among the five, and A's third's, through *b, *a2. */
static bool turns_behind_own_job(int *b_pos, int *a2_pos)
{
	const size_t len = 64;
	int pa[4][2], pb[1][2], fds[5], order[5];
	struct batch_req ra[4], rb[1];
	unsigned char *da[4], *db[1];
	struct other_caller a, b;
	pthread_t ta, tb;
	struct tpool *pool;
	bool gone[5] = { false }, ok = true;
	int k = 0;

	pool = pool_or_fail(1);
	feed_pipes(4, pa, ra, da, len, 0, UNSET);
	feed_pipes(1, pb, rb, db, len, 0, UNSET);
	for (int i = 0; i < 4; i++)
		fds[i] = pa[i][0];
	fds[4] = pb[0][0];
	a = (struct other_caller){ .pool = pool, .reqs = ra, .n = 4, .qd = 2, .rc = -1 };
	b = (struct other_caller){ .pool = pool, .reqs = rb, .n = 1, .rc = -1 };
	seam_arm();
	grade_check(SEAM_REAL(pthread_create)(&ta, NULL, other_caller_main, &a) == 0,
		    "harness: cannot start the first caller");
	order[k] = turn_next_read(fds, gone, 5);
	if (order[k] < 0)
		ok = false;
	grade_check(SEAM_REAL(pthread_create)(&tb, NULL, other_caller_main, &b) == 0,
		    "harness: cannot start the second caller");
	if (!other_caller_asleep(&b))
		ok = false;
	while (k < 5) {
		int i = order[k];

		if (i < 0) {   /* nothing read: answer everything so that all ends */
			ok = false;
			for (int j = 0; j < 5; j++)
				turn_answer(j < 4 ? pa[j] : pb[0], j < 4 ? da[j] : db[0], len);
			break;
		}
		turn_answer(i < 4 ? pa[i] : pb[0], i < 4 ? da[i] : db[0], len);
		gone[i] = true;
		if (++k < 5)
			order[k] = turn_next_read(fds, gone, 5);
	}
	SEAM_REAL(pthread_join)(ta, NULL);
	SEAM_REAL(pthread_join)(tb, NULL);
	seam_disarm();
	*b_pos = *a2_pos = -1;
	for (int j = 0; ok && j < 5; j++) {
		if (order[j] == 4)
			*b_pos = j;
		if (order[j] == 2)
			*a2_pos = j;
	}
	grade_check(a.rc == 0 && b.rc == 0, "tpool_batch_read returned %s (4 requests at qd 2) "
		    "and %s (1 request), expected 0 and 0", errno_name(a.rc), errno_name(b.rc));
	check_pipe_results("tpool_batch_read (first caller, qd 2)", ra, 4, da, len);
	check_pipe_results("tpool_batch_read (second caller)", rb, 1, db, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(4, pa, ra, da);
	feed_free_pipes(1, pb, rb, db);
	return ok;
}

GRADE_TEST(tpool, batches_take_turns, 2,
	   "batches take turns: on a pool of one worker, another caller's waiting request is read before the rest of a long batch (at qd 1, and at qd 2 with one of its own jobs queued in front)",
	   "TODOs 12 and 14: a batch must not keep a worker to itself. When one of its requests "
	   "finishes while requests of other batches wait in the queue, its next request goes "
	   "behind them (lesson section 8, \"The decisions\")")
{
	const size_t len = 64;
	int pa[3][2], pb[1][2], first;
	struct batch_req ra[3], rb[1];
	unsigned char *da[3], *db[1];
	struct other_caller a, b;
	pthread_t ta, tb;
	struct tpool *pool;
	bool a0_read, b_queued;

	tw_watch();
	pool = pool_or_fail(1);
	feed_pipes(3, pa, ra, da, len, 0, UNSET);
	feed_pipes(1, pb, rb, db, len, 0, UNSET);
	a = (struct other_caller){ .pool = pool, .reqs = ra, .n = 3, .rc = -1 };
	b = (struct other_caller){ .pool = pool, .reqs = rb, .n = 1, .rc = -1 };
	/* Caller A: 3 requests at qd 1; the only worker waits in the first. */
	seam_arm();   /* both callers' calls are watched from here on */
	grade_check(SEAM_REAL(pthread_create)(&ta, NULL, other_caller_main, &a) == 0,
		    "harness: cannot start the first caller");
	a0_read = other_read_pending(pa[0][0]);
	/* Caller B: 1 request, queued while the worker reads A's first. */
	grade_check(SEAM_REAL(pthread_create)(&tb, NULL, other_caller_main, &b) == 0,
		    "harness: cannot start the second caller");
	b_queued = other_caller_asleep(&b);
	/* A's first request ends: the worker reads B's request next, or A's second. */
	turn_answer(pa[0], da[0], len);
	{
		int two[2] = { pb[0][0], pa[1][0] }, i;
		bool none_gone[2] = { false, false };

		i = turn_next_read(two, none_gone, 2);
		first = i < 0 ? -1 : two[i];
	}
	turn_answer(pb[0], db[0], len);
	turn_answer(pa[1], da[1], len);
	turn_answer(pa[2], da[2], len);
	SEAM_REAL(pthread_join)(ta, NULL);
	SEAM_REAL(pthread_join)(tb, NULL);
	seam_disarm();
	grade_check(a0_read, "the first caller's first request (a pipe) was never read by the "
		    "pool's one worker");
	grade_check(b_queued, "the second caller never went to sleep in tpool_batch_read");
	grade_check(first >= 0, "after the first caller's first request finished, the worker "
		    "read neither the second caller's request nor the first caller's next one");
	grade_check(first == pb[0][0], "after the first caller's first request finished, the "
		    "pool's one worker went on with that caller's next request while the second "
		    "caller's request was waiting in the queue: one batch kept the worker to "
		    "itself, and a long batch would make every other caller wait for all of it "
		    "(TODOs 12 and 14)");
	grade_check(a.rc == 0 && b.rc == 0, "tpool_batch_read returned %s (3 requests) and %s "
		    "(1 request), expected 0 and 0", errno_name(a.rc), errno_name(b.rc));
	check_pipe_results("tpool_batch_read (first caller)", ra, 3, da, len);
	check_pipe_results("tpool_batch_read (second caller)", rb, 1, db, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(3, pa, ra, da);
	feed_free_pipes(1, pb, rb, db);
	{
		int b_pos, a2_pos;

		grade_check(turns_behind_own_job(&b_pos, &a2_pos), "4 requests at qd 2 and 1 "
			    "request on a pool of one worker: the worker stopped reading the pipes "
			    "(or the second caller never went to sleep)");
		grade_check(b_pos < a2_pos, "4 requests at qd 2 and then 1 request of a second "
			    "caller on a pool of one worker: the second caller's request was read "
			    "%s of the reads, after the first caller's third (read %s). When the "
			    "first caller's first request finished, the second caller's request "
			    "was waiting in the queue (behind the first caller's second job): the "
			    "first caller's next request goes behind it, also when the job at the "
			    "front of the queue is the first caller's own. Look at whether ANY job "
			    "of another batch waits, not only at the front one (TODOs 12 and 14)",
			    b_pos == 0 ? "first" : b_pos == 1 ? "2nd" : b_pos == 2 ? "3rd" :
			    b_pos == 3 ? "4th" : "last", a2_pos == 1 ? "2nd" : a2_pos == 2 ? "3rd" :
			    "earlier");
	}
}

/* ===================================================================== */
/* The shared battery, on both parts                                     */
/* ===================================================================== */

/*
 * The batch-read contract's own tests (harness/lib/batch_battery.h), run on
 * paio_batch_read and on tpool_batch_read. Every batch is watched with the
 * chapter's own seams (watch.h), so that each test also fails a module
 * that answers another way:
 *  - part A: no blocking read, no lio_listio, no thread (aw_watch refuses
 *    them); every request answered with bytes was submitted with aio_read;
 *    every accepted read collected once by aio_return, none left in flight.
 *    The window is the aiocbs accepted and not yet collected: at most
 *    min(qd, n, PAIO_MAX_INFLIGHT), and that many (or every request not
 *    yet submitted) at every wait of a plain batch: aio_suspend, a pause,
 *    aio_error polled (watch.h, aw.fill_n).
 *  - part B: one pool of POOL_BATTERY_THREADS workers per session, made by
 *    open and destroyed by close (every thread joined); no aio, no lseek, no
 *    read(2) on a regular file (tw_watch and the refusals below); the reads
 *    made by the workers, none by the caller, no thread created per batch,
 *    none still reading when the batch returns. The window is the preads in
 *    progress at once: how many run depends on timing, so nothing is
 *    certain beyond "at most qd".
 */
static struct {
	long accepted, returns;
} pb;

static void paio_battery_setup(void)
{
	aw_watch();
	battery_fn_use(paio_batch_read, 0);
}

/* A plain batch: every request a read of 1 byte or more on the first
 * request's regular file, ending inside it, so that each one takes exactly
 * one aio_read (no end of file, no continuation, none answered without
 * I/O). For those, the watch checks the window at every wait. */
static bool paio_battery_plain(const struct batch_req *reqs, size_t n)
{
	struct stat st;

	if (n == 0 || fstat(reqs[0].fd, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	for (size_t i = 0; i < n; i++)
		if (reqs[i].fd != reqs[0].fd || reqs[i].len == 0 || reqs[i].offset < 0 ||
		    reqs[i].len > (size_t)st.st_size ||
		    reqs[i].offset > st.st_size - (off_t)reqs[i].len)
			return false;
	return true;
}

static int paio_battery_read(struct batch_req *reqs, size_t n)
{
	size_t w = battery_fn.qd < PAIO_MAX_INFLIGHT ? battery_fn.qd : PAIO_MAX_INFLIGHT;
	int ret;

	aw_fill_expect(reqs && paio_battery_plain(reqs, n) ? (long)n : 0, (long)(n < w ? n : w));
	ret = battery_fn_read(reqs, n);
	aw_fill_end();
	return ret;
}

static void paio_battery_before(void)
{
	pthread_mutex_lock(&aw.lock);
	aw.max_inflight = 0;
	pb.accepted = aw.accepted;
	pb.returns = aw.returns;
	pthread_mutex_unlock(&aw.lock);
}

static void paio_battery_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	long accepted, returns, left = aw_in_flight(), answered = 0;

	grade_check_violation();
	w_check_no_violation();
	pthread_mutex_lock(&aw.lock);
	accepted = aw.accepted - pb.accepted;
	returns = aw.returns - pb.returns;
	pthread_mutex_unlock(&aw.lock);
	grade_check(left == 0, "paio_batch_read (%s) returned with %ld read(s) still in flight "
		    "(accepted by aio_read, never collected by aio_return): glibc's helper threads "
		    "will write into those aiocbs and buffers after they are freed (TODOs 7 and 9)",
		    what, left);
	grade_check(returns == accepted, "paio_batch_read (%s): aio_read accepted %ld reads but "
		    "aio_return was called %ld times: exactly once per accepted read (TODO 7)",
		    what, accepted, returns);
	grade_check(aw.underfilled == 0, "paio_batch_read (%s) %s with %ld reads in flight "
		    "while %ld requests were not submitted yet (%ld such waits): the window is "
		    "min(qd, n, PAIO_MAX_INFLIGHT) = %ld, kept full while requests are left, "
		    "however the code waits: not a smaller bound of your own (TODO 2, paio.h qd; "
		    "lesson section 10, pitfall 7)", what, aw.underfilled_how,
		    aw.underfilled_inflight, aw.underfilled_left, aw.underfilled,
		    aw.underfilled_window);
	if (ret != 0)
		return;  /* the res fields are unspecified: the battery reports ret */
	for (size_t i = 0; i < n; i++)
		answered += reqs[i].res > 0 && (size_t)reqs[i].res <= reqs[i].len;
	grade_check(accepted >= answered, "paio_batch_read (%s) answered %ld requests with "
		    "bytes, but aio_read accepted only %ld reads: every read is submitted with "
		    "aio_read(3) (TODO 5, lesson section 11)", what, answered, accepted);
}

static long paio_battery_max_inflight(void)
{
	long most;

	pthread_mutex_lock(&aw.lock);
	most = aw.max_inflight;
	pthread_mutex_unlock(&aw.lock);
	return most;
}

/* paio.h, qd: at most min(qd, n, PAIO_MAX_INFLIGHT) in flight, and the
 * window refilled before every wait. A read from the page cache may finish,
 * and be collected, before the window is full, so the most in flight at
 * once is certain only as a bound: the window's size is checked where it
 * shows, at every wait of a plain batch (paio_battery_after). */
static unsigned paio_battery_fills_to(unsigned qd, size_t n)
{
	(void)qd;
	(void)n;
	return 0;
}

static const struct battery_target paio_target = {
	.name = "paio_batch_read",
	.setup = paio_battery_setup,
	.open = battery_fn_open, .read = paio_battery_read, .close = battery_fn_close,
	.before = paio_battery_before, .after = paio_battery_after,
	.max_inflight = paio_battery_max_inflight, .fills_to = paio_battery_fills_to,
};

/* More workers than the battery's small depths (qd 1, 3, 4, 7), so that a
 * pool that ignores qd is free to run more reads than it may. */
#define POOL_BATTERY_THREADS 8u

static struct {
	struct tpool *pool;
	int fd;
	unsigned qd;
	int threads_before;
	long creates, by_caller, by_workers;
} pt;

static const char pool_battery_why[] =
	"the workers read a file with pread(2) at the request's offset, read(2) only "
	"after pread failed with ESPIPE (a pipe): the file position is the caller's "
	"(TODO 13; paio.h, \"Rules\")";

/* lseek(fd, 0, SEEK_CUR) only asks where the position is (and fails with
 * ESPIPE on a pipe, as pread does): a way to tell a pipe from a file that
 * moves nothing, so it is let through. Any other lseek moves the caller's
 * position and is refused. */
static off_t battery_lseek(int fd, off_t off, int whence)
{
	if (off == 0 && whence == SEEK_CUR)
		return SEAM_REAL(lseek)(fd, off, whence);
	seam_violate("your code called lseek(fd, %lld, %s), which this exercise does not "
		     "allow: %s", (long long)off, whence == SEEK_SET ? "SEEK_SET" :
		     whence == SEEK_CUR ? "SEEK_CUR" : whence == SEEK_END ? "SEEK_END" : "...",
		     pool_battery_why);
	errno = EPERM;
	return -1;
}

static off64_t battery_lseek64(int fd, off64_t off, int whence)
{
	return battery_lseek(fd, (off_t)off, whence);
}

static void pool_battery_setup(void)
{
	tw_watch();
	seam_hook_lseek = battery_lseek;
	seam_hook_lseek64 = battery_lseek64;
	seam_refuse(SEAM_read, pool_battery_why);
}

static int pool_battery_open(const char *path, unsigned qd, size_t *align)
{
	pt.threads_before = fault_count_threads();
	pt.fd = grade_open(path, O_RDONLY);
	pt.qd = qd;
	pt.pool = pool_or_fail(POOL_BATTERY_THREADS);
	*align = 1;
	return pt.fd;
}

static int pool_battery_read(struct batch_req *reqs, size_t n)
{
	return SEAM_CALL(tpool_batch_read(pt.pool, reqs, n, pt.qd));
}

static void pool_battery_close(void)
{
	int left;

	SEAM_CALL_VOID(tpool_destroy(pt.pool));
	pt.pool = NULL;
	close(pt.fd);
	left = w_threads_settle(pt.threads_before) - pt.threads_before;
	grade_check(left == 0, "tpool_destroy left %d thread(s) running: wake every worker and "
		    "join it before returning (TODO 15)", left);
}

static void pool_battery_before(void)
{
	pthread_mutex_lock(&tw.lock);
	pt.creates = tw.create_calls;
	pthread_mutex_unlock(&tw.lock);
	pt.by_caller = atomic_load(&rw.by_caller);
	pt.by_workers = atomic_load(&rw.by_workers);
	atomic_store(&rw.max_inprogress, 0);
}

static void pool_battery_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	long creates, by_caller = atomic_load(&rw.by_caller) - pt.by_caller;
	long by_workers = atomic_load(&rw.by_workers) - pt.by_workers;
	long reading = atomic_load(&rw.inprogress), most = atomic_load(&rw.max_inprogress);
	bool moved = false;

	pthread_mutex_lock(&tw.lock);
	creates = tw.create_calls - pt.creates;
	pthread_mutex_unlock(&tw.lock);
	grade_check_violation();
	w_check_no_violation();
	grade_check(creates == 0, "tpool_batch_read (%s) called pthread_create %ld time(s): the "
		    "workers exist already, started by tpool_create (TODO 14)", what, creates);
	grade_check(by_caller == 0, "tpool_batch_read (%s): the calling thread made %ld of the "
		    "reads itself: the pool's workers make them (TODO 12)", what, by_caller);
	grade_check(reading == 0, "tpool_batch_read (%s) returned while %ld read(s) were still "
		    "in progress: return only once every request of the batch has its res "
		    "(TODO 14)", what, reading);
	grade_check(most <= (long)POOL_BATTERY_THREADS, "tpool_batch_read (%s): %ld reads in "
		    "progress at once on a pool of %u workers: only the workers read (TODO 12)",
		    what, most, POOL_BATTERY_THREADS);
	for (size_t i = 0; i < n; i++)
		moved |= reqs[i].res > 0 && (size_t)reqs[i].res <= reqs[i].len;
	if (moved && ret == 0)
		grade_check(by_workers > 0, "tpool_batch_read (%s) answered requests with bytes, "
			    "but the pool's workers made no pread: the workers read each request "
			    "with pread(2) (TODOs 12-13)", what);
}

static long pool_battery_max_inflight(void)
{
	return atomic_load(&rw.max_inprogress);
}

static const struct battery_target pool_target = {
	.name = "tpool_batch_read",
	.setup = pool_battery_setup,
	.open = pool_battery_open, .read = pool_battery_read, .close = pool_battery_close,
	.before = pool_battery_before, .after = pool_battery_after,
	.max_inflight = pool_battery_max_inflight,
};

BATCH_BATTERY(paio_batch, paio_target, "paio_batch_read",
	      "TODOs 2-7 (paio_batch_read: a window of min(qd, n) aiocbs, each read submitted "
	      "with aio_read and collected with aio_return; lesson, sections 2, 3 and 11)")
BATCH_BATTERY(pool_batch, pool_target, "tpool_batch_read",
	      "TODOs 12-14 (tpool_batch_read: min(qd, n) job slots, each request read by a "
	      "worker with pread; lesson, section 8)")

/* 03.52's parts on "oldest by submission": paio_batch_read(reqs, n, qd) with
 * np of the requests on pipes answered only after `returns` more aio_return
 * calls (every aio_return of the test counts), each aio_read cut to cap bytes
 * (0: not cut). Checks the run: nothing left in flight, the pipes fed (why:
 * what check_fed says if not), the result 0, the protocol, and at most one
 * timed wait run out. what names the batch in the messages. The caller
 * checks the requests' results and frees the pipes. */
static void held_pipes_batch(struct batch_req *reqs, size_t n, unsigned qd, int np,
			     int (*pipes)[2], unsigned char **pdata, size_t plen, long returns,
			     size_t cap, const char *what, const char *why)
{
	long t0 = atomic_load(&aw.suspend_timeouts), r0, timeouts;
	struct feed *f;
	int rc;

	pthread_mutex_lock(&aw.lock);
	r0 = aw.returns;
	pthread_mutex_unlock(&aw.lock);
	f = feed_start(&(struct feed_cfg){ .n = np, .pipes = pipes, .data = pdata, .len = plen,
					   .wait = W_IN_SUSPEND, .after_returns = r0 + returns });
	aw.cap = cap;
	rc = SEAM_CALL(paio_batch_read(reqs, n, qd));
	aw.cap = 0;
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, why);
	grade_check(rc == 0, "paio_batch_read (%s) returned %s, expected 0", what, errno_name(rc));
	check_protocol();
	timeouts = atomic_load(&aw.suspend_timeouts) - t0;
	grade_check(timeouts <= 1, "paio_batch_read's timed aio_suspend ran out %ld times in one "
		    "batch (%s): a loop of timed waits is polling; a bounded wait on some of the "
		    "reads may run out once, then wait on all of them with NULL (TODO 6, lesson "
		    "section 3)", timeouts, what);
	free(f);
}

GRADE_TEST(paio, held_reads_do_not_stall, 2,
	   "paio_batch_read: 8 reads on pipes that answer only at the end do not hold up 72 file reads (qd 20); a bounded wait leaves reads behind it (qd 8 and 12; qd 16 with 8 in flight; \"oldest\" by submission at qd 24, continuations too)",
	   "TODO 6: wait on every read in flight, so that whichever finishes wakes you. A "
	   "wait on only some of them (the oldest, say) sleeps while the others are done and "
	   "their slots could take the next requests; if you do that to wake less often, "
	   "bound it with a timeout and, once it runs out, wait on all (lesson section 3)")
{
	/* The pipes: the head of the batch, then one every 8 requests, so that
	 * a wait on any one of the 8 oldest reads in flight, or on the oldest
	 * few, sleeps on a pipe sooner or later; 43 file reads after the last
	 * pipe, so that a bounded wait on a pipe would run out again and again
	 * if it were tried at every wait. */
	static const int pipe_at[8] = { 0, 1, 2, 3, 12, 20, 28, 36 };
	const size_t size = 1 << 20, n = 80, len = 4096, plen = 300;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req reqs[80];
	struct batch_req preqs[8];
	unsigned char *pdata[8];
	int p[8][2];
	bool is_pipe[80] = { false };
	struct feed *f;
	int rc;

	aw_watch();
	feed_pipes(8, p, preqs, pdata, plen, 0, UNSET);
	for (int k = 0; k < 8; k++) {
		reqs[pipe_at[k]] = preqs[k];
		is_pipe[pipe_at[k]] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_pipe[i])
			reqs[i] = (struct batch_req){ fd, (off_t)grade_rand_below(size - len), len,
						      grade_xmalloc(len), UNSET };
	}
	f = feed_start(&(struct feed_cfg){ .n = 8, .pipes = p, .data = pdata, .len = plen,
					   .wait = W_IN_SUSPEND, .after_returns = 72 });
	rc = SEAM_CALL(paio_batch_read(reqs, n, 20));
	grade_check(aw_in_flight() == 0 || rc != 0, "paio_batch_read returned %s with %ld "
		    "read(s) still in flight", errno_name(rc), aw_in_flight());
	feed_join(f);
	w_check_no_violation();
	check_fed(f, "8 pipe reads among 72 file reads at qd 20, the pipes answered only after "
		  "every file read was collected: the wait must wake for whichever read finishes");
	grade_check(rc == 0, "paio_batch_read returned %s, expected 0", errno_name(rc));
	check_protocol();
	check_timed_waits();
	check_suspends_per_read();
	for (size_t i = 0; i < n; i++) {
		if (is_pipe[i])
			continue;
		grade_check(reqs[i].res == (ssize_t)len, "paio_batch_read: file request %zu "
			    "(offset %lld, len %zu): res is %s, expected %zu", i,
			    (long long)reqs[i].offset, len, errno_name(reqs[i].res), len);
		grade_check_same(reqs[i].buf, data + reqs[i].offset, len, "paio_batch_read");
		free(reqs[i].buf);
	}
	for (int k = 0; k < 8; k++)
		preqs[k] = reqs[pipe_at[k]];
	check_pipe_results("paio_batch_read", preqs, 8, pdata, plen);
	feed_free_pipes(8, p, preqs, pdata);
	free(f);

	/* File reads alone at qd 8 and 12: a timed wait, if the code makes
	 * one, must be on older reads with newer ones behind it (the watch
	 * refuses one whose list holds the newest read in flight: on one file
	 * that wait lasts until the window has drained). */
	for (int round = 0; round < 2; round++) {
		const unsigned qd = round == 0 ? 8 : 12;
		struct batch_req *freqs = random_reads(fd, size, 64, len);

		rc = SEAM_CALL(paio_batch_read(freqs, 64, qd));
		grade_check(rc == 0, "paio_batch_read of 64 file reads at qd %u returned %s, "
			    "expected 0", qd, errno_name(rc));
		check_protocol();
		check_file_results("paio_batch_read (64 file reads)", freqs, 64, data, size, qd);
	}
	/* A window of 16 slots with only 8 reads in flight: every other
	 * request has length 0 and takes no slot (paio.h). The 8th oldest read
	 * is then the newest: whether to wait on some of them goes by the
	 * reads in flight, not by the size of the window. */
	{
		struct batch_req *freqs = random_reads(fd, size, 16, len);

		for (size_t i = 0; i < 16; i += 2)
			freqs[i].len = 0;
		rc = SEAM_CALL(paio_batch_read(freqs, 16, 16));
		grade_check(rc == 0, "paio_batch_read of 16 file reads (every other of length 0) "
			    "at qd 16 returned %s, expected 0", errno_name(rc));
		check_protocol();
		check_file_results("paio_batch_read (16 requests, 8 of length 0)", freqs, 16,
				   data, size, 16);
	}
	/* "Oldest" goes by submission, not by the place in the window: 32
	 * requests at qd 24, 8 file reads, 8 pipes held until every file read
	 * was collected, 16 file reads. Once the first 8 reads are collected,
	 * their slots take the last 8 requests: the slots at the front of the
	 * window then hold the NEWEST reads, and the 8 oldest in flight are the
	 * pipes. A wait on "the 8th running slot" is a wait on the newest. */
	{
		const size_t n2 = 32;
		struct batch_req r2[32], p2[8];
		unsigned char *pd2[8];
		int pp[8][2];

		aw_watch();
		feed_pipes(8, pp, p2, pd2, plen, 0, UNSET);
		for (size_t i = 0; i < n2; i++)
			r2[i] = i >= 8 && i < 16 ? p2[i - 8] :
				(struct batch_req){ fd, (off_t)grade_rand_below(size - len), len,
						    grade_xmalloc(len), UNSET };
		/* Hold the pipes until this batch's 24 file reads are collected. */
		held_pipes_batch(r2, n2, 24, 8, pp, pd2, plen, 24, 0,
				 "8 file reads, 8 held pipes, 16 file reads, qd 24",
				 "32 requests at qd 24, 8 pipes (requests 8-15) answered only after "
				 "the 24 file reads were collected: after the first 8 reads, the front "
				 "slots of the window hold the newest reads; \"oldest\" goes by the "
				 "order of submission, not by the place in the window");
		check_suspends_per_read();
		for (size_t i = 0; i < n2; i++) {
			if (i >= 8 && i < 16)
				continue;
			grade_check(r2[i].res == (ssize_t)len, "paio_batch_read: file request %zu "
				    "(offset %lld, len %zu, 8 held pipes before it): res is %s, "
				    "expected %zu", i, (long long)r2[i].offset, len,
				    errno_name(r2[i].res), len);
			grade_check_same(r2[i].buf, data + r2[i].offset, len, "paio_batch_read");
			free(r2[i].buf);
		}
		for (int k = 0; k < 8; k++)
			p2[k] = r2[8 + k];
		check_pipe_results("paio_batch_read", p2, 8, pd2, plen);
		feed_free_pipes(8, pp, p2, pd2);
	}
	/* "Oldest" goes by submission, continuations too: 16 requests at qd
	 * 16, request 7 a file read of 2000 bytes that aio_read cuts to 1000,
	 * the 15 others pipes held until request 7 was collected twice. The
	 * 8th oldest read, request 7, finishes first (a wait on it alone is a
	 * real one: a file); its continuation is then the NEWEST read in
	 * flight, although its request entered the window 8th. A wait on "the
	 * 8th oldest" counted by when requests entered the window is then a
	 * wait on the newest: the watch refuses a timed wait whose list holds
	 * it. */
	{
		struct batch_req q[16], qp15[15];
		unsigned char *qdata[15], *fbuf = grade_xmalloc(2000);
		int qp[15][2];

		aw_watch();
		feed_pipes(15, qp, qp15, qdata, plen, 0, UNSET);
		for (int k = 0; k < 16; k++)
			q[k] = k < 7 ? qp15[k] : k > 7 ? qp15[k - 1] :
			       (struct batch_req){ fd, 4096, 2000, fbuf, UNSET };
		/* Each aio_read cut to 1000 bytes; the pipes held until request 7
		 * was collected twice. */
		held_pipes_batch(q, 16, 16, 15, qp, qdata, plen, 2, 1000,
				 "15 held pipes and a file read in two pieces, qd 16",
				 "16 requests at qd 16, request 7 a file read cut in two pieces, the "
				 "others pipes answered once request 7 was collected twice: after its "
				 "first piece, the continuation of request 7 is the newest read in "
				 "flight; \"oldest\" goes by the order of the aio_read calls, "
				 "continuations included, not by the order in which requests entered "
				 "the window");
		grade_check(q[7].res == 2000, "paio_batch_read: request 7 (2000 bytes of a file, "
			    "each aio_read cut to 1000 bytes): res %s, expected 2000",
			    errno_name(q[7].res));
		grade_check_same(fbuf, data + 4096, 2000, "paio_batch_read (request 7)");
		for (int k = 0; k < 15; k++)
			qp15[k] = q[k < 7 ? k : k + 1];
		check_pipe_results("paio_batch_read (15 held pipes)", qp15, 15, qdata, plen);
		feed_free_pipes(15, qp, qp15, qdata);
		free(fbuf);
	}
	close(fd);
	free(data);
}

GRADE_TEST(paio, every_wait_may_fail, 1,
	   "paio_batch_read at qd 32: every other aio_suspend fails with EINTR (80 reads), then the first fails with ENOMEM",
	   "TODOs 6 and 9: EINTR from any aio_suspend, a timed one included, means \"wait "
	   "again\"; any other failure of any aio_suspend, a timed one included, ends the "
	   "batch with -errno once every read in flight is collected (aio_suspend(3), "
	   "lesson section 3)")
{
	const size_t size = 1 << 20, n = 80;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 4096);
	struct seam_heap before;
	long left;
	int rc;

	aw_watch();
	seam_heap_usage(&before);
	aw.suspend_eintr_every = 2;
	rc = SEAM_CALL(paio_batch_read(reqs, n, 32));
	aw.suspend_eintr_every = 0;
	grade_check(rc == 0, "paio_batch_read(80 file reads, qd 32) returned %s, expected 0; "
		    "every other aio_suspend failed with EINTR (%ld of %ld calls), which is not "
		    "an error: wait again (TODO 6)", errno_name(rc), atomic_load(&aw.eintr_seen),
		    aw.suspends);
	check_protocol();
	grade_check_heap(&before, "paio_batch_read with every other aio_suspend interrupted "
			 "(EINTR): what a wait allocates (a list built for it?) is freed on the way "
			 "back to aio_suspend after EINTR too, not only when the wait ends (TODOs 6 "
			 "and 9);");
	check_file_results("paio_batch_read, every other aio_suspend interrupted", reqs, n,
			   data, size, 32);

	reqs = random_reads(fd, size, n, 4096);
	aw.suspend_fail_errno = ENOMEM;   /* the next aio_suspend fails */
	rc = SEAM_CALL(paio_batch_read(reqs, n, 32));
	left = aw_in_flight();
	grade_check(left == 0, "paio_batch_read returned %s with %ld read(s) still in flight "
		    "after aio_suspend failed: collect every accepted read before returning "
		    "(TODO 9)", errno_name(rc), left);
	grade_check(rc == -ENOMEM, "paio_batch_read(80 file reads, qd 32) returned %s when its "
		    "first aio_suspend failed with ENOMEM; expected -ENOMEM (paio.h, return "
		    "value)", errno_name(rc));
	check_protocol();
	grade_check_heap(&before, "paio_batch_read returning aio_suspend's error (-ENOMEM) "
			 "(TODO 9);");
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);
	close(fd);
	free(data);
}

/* Every thread of the pool asleep (workers, and the caller `tid`), bounded. */
static bool pool_all_asleep(int workers, pid_t tid)
{
	long deadline = fault_now_ms() + FEED_PATIENCE_MS;

	for (;;) {
		int asleep = w_sysno_of(tid) >= 0;

		for (int i = 0; i < atomic_load(&tw.ntids) && i < TW_MAX; i++)
			asleep += w_sysno_of(tw.tids[i]) >= 0;
		if (asleep == workers + 1)
			return true;
		if (fault_now_ms() > deadline)
			return false;
		fault_nap();
	}
}

/* 10 s: the pool is left idle for 1.5 s on top of the held read. The read
 * is held longer than a second, so that a wait on a deadline a second ahead,
 * computed once and waited on again after it passed, shows as polling. */
GRADE_TEST_T(tpool, sleeps_while_waiting, 2,
	   "the pool sleeps while it waits: while a read is held 1.3 s, neither the caller nor an idle worker wakes up; idle for 1.5 s, no worker ends",
	   "TODOs 12 and 14: wait with pthread_cond_wait until another thread changed the "
	   "state and signalled; a wait with a short timeout in a loop is polling: the caller "
	   "and the idle workers wake up over and over although nothing happened (paio.h: "
	   "\"an idle pool uses no CPU\", \"no polling\"; pthread_cond_wait(3))", 10)
{
	const size_t len = 64;
	const long hold_ms = 1300;
	int p[1][2];
	struct batch_req reqs[1];
	unsigned char *data[1];
	struct other_caller caller;
	struct tpool *pool;
	pthread_t t;
	long caller0, worker0, caller_woke, worker_woke;
	bool asleep, sent;

	tw_watch();
	pool = pool_or_fail(3);
	feed_pipes(1, p, reqs, data, len, 0, UNSET);
	/* The caller runs in a thread of its own: this one holds its read. */
	caller = (struct other_caller){ .pool = pool, .reqs = reqs, .n = 1, .rc = -1 };
	seam_arm();
	grade_check(SEAM_REAL(pthread_create)(&t, NULL, other_caller_main, &caller) == 0,
		    "harness: cannot start the caller");
	grade_check(other_read_pending(p[0][0]), "the request (a pipe) was never read by a "
		    "worker");
	while (atomic_load(&caller.tid) == 0)
		fault_nap();
	asleep = pool_all_asleep(3, (pid_t)atomic_load(&caller.tid));
	caller0 = atomic_load(&tw.waits_caller);
	worker0 = atomic_load(&tw.waits_worker);
	for (long end = fault_now_ms() + hold_ms; fault_now_ms() < end;)
		fault_nap();
	caller_woke = atomic_load(&tw.waits_caller) - caller0;
	worker_woke = atomic_load(&tw.waits_worker) - worker0;
	sent = write(p[0][1], data[0], len) == (ssize_t)len;
	close(p[0][1]);
	SEAM_REAL(pthread_join)(t, NULL);
	seam_disarm();
	grade_check(sent, "harness: cannot write to the pipe");
	grade_check(caller.rc == 0 && reqs[0].res == (ssize_t)len, "tpool_batch_read of one "
		    "pipe returned %s, res %s; expected 0 and %zu", errno_name(caller.rc),
		    errno_name(reqs[0].res), len);
	grade_check(asleep, "the caller and the 3 workers never all slept while the one read "
		    "waited for its pipe: does a thread spin instead of waiting on a condition "
		    "variable? (TODOs 12 and 14)");
	grade_check(caller_woke <= 2, "the caller of tpool_batch_read waited on a condition "
		    "variable %ld times in %ld ms while its only read was held and nothing "
		    "changed: a wait with a timeout in a loop is polling. Wait with "
		    "pthread_cond_wait until the last job of the batch signals (TODO 14, paio.h: "
		    "\"no polling, no sleep()\"). A deadline (pthread_cond_timedwait) is "
		    "absolute: once it has passed, waiting on it again returns at once",
		    caller_woke, hold_ms);
	grade_check(worker_woke <= 2, "the pool's 2 idle workers waited on a condition "
		    "variable %ld times in %ld ms while no work was queued: an idle worker that "
		    "wakes up on a timer to look for work is polling. Wait with pthread_cond_wait "
		    "until a job is queued or the pool stops (TODO 12, paio.h: \"an idle pool "
		    "uses no CPU\")", worker_woke, hold_ms);
	check_pipe_results("tpool_batch_read", reqs, 1, data, len);
	/* The pool idle for 1.5 s: glibc's helpers would be gone (they retire
	 * after 1 s idle, lesson section 7); the pool's workers live until
	 * tpool_destroy, and a later batch needs them. */
	for (long end = fault_now_ms() + 1500; fault_now_ms() < end;)
		fault_nap();
	grade_check(atomic_load(&tw.exited) == 0, "%d of the pool's 3 workers ended while the "
		    "pool sat idle for 1.5 s, before tpool_destroy: glibc's helper threads retire "
		    "after 1 s without work, the pool's workers must not. tpool_create starts "
		    "them once, a batch starts none, so a worker that leaves is gone for every "
		    "later batch. Wait for work with pthread_cond_wait, no timeout, and leave "
		    "the loop only when the pool stops (TODOs 12 and 15; paio.h, tpool_create)",
		    atomic_load(&tw.exited));
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(1, p, reqs, data);
}

/* ===================================================================== */
/* Part A: two calls at once                                             */
/* ===================================================================== */

/* A paio_batch_read on a thread of the harness's own (not marked: its calls
 * are the code's), so that a call that never returns fails the test with a
 * reason instead of hanging it. */
struct paio_call {
	struct batch_req *reqs;
	size_t n;
	unsigned qd;
	int rc;
	atomic_int tid;
	atomic_bool done;
	pthread_t thread;
};

static void *paio_call_main(void *arg)
{
	struct paio_call *c = arg;

	atomic_store(&c->tid, w_gettid());
	c->rc = paio_batch_read(c->reqs, c->n, c->qd);
	atomic_store(&c->done, true);
	return NULL;
}

static bool paio_call_start(struct paio_call *c)
{
	c->rc = 1;
	atomic_store(&c->tid, 0);
	atomic_store(&c->done, false);
	return SEAM_REAL(pthread_create)(&c->thread, NULL, paio_call_main, c) == 0;
}

/* Wait (bounded) for the call to return; joins it if it did. */
static bool paio_call_wait(struct paio_call *c, long patience_ms)
{
	long deadline = fault_now_ms() + patience_ms;

	while (!atomic_load(&c->done) && fault_now_ms() < deadline)
		fault_nap();
	if (!atomic_load(&c->done))
		return false;
	SEAM_REAL(pthread_join)(c->thread, NULL);
	return true;
}

GRADE_TEST_T(paio, concurrent_calls, 1,
	   "two threads call paio_batch_read at once: 24 file reads run and return while the other thread's read waits on a pipe",
	   "TODOs 2 and 9: a batch's window (its aiocbs, the list aio_suspend waits on, its "
	   "counters) belongs to that call: allocate it for the call, never keep it in "
	   "static variables, which another thread in the middle of its own batch is "
	   "using (paio.h, paio_batch_read)", 30)
{
	const size_t size = 1 << 18, n = 24, len = 500;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	struct batch_req *reqs = random_reads(fd, size, n, 8000);
	int p[1][2];
	struct batch_req preqs[1];
	unsigned char *pdata[1];
	struct paio_call held = { .reqs = preqs, .n = 1, .qd = 4 };
	struct paio_call files = { .reqs = reqs, .n = n, .qd = 6 };
	bool waiting = false, files_back, held_back, fed;

	aw_watch();
	feed_pipes(1, p, preqs, pdata, len, 0, UNSET);
	seam_arm();   /* both threads' calls are watched from here on */
	grade_check(paio_call_start(&held), "harness: cannot start the first caller");
	/* Its pipe read accepted, and the thread asleep (twice: a thread woken
	 * between two looks shows "running" in the second). */
	for (long deadline = fault_now_ms() + FEED_PATIENCE_MS; fault_now_ms() < deadline;
	     fault_nap()) {
		pid_t tid = atomic_load(&held.tid);

		if (tid != 0 && aw_in_flight() == 1 && w_sysno_of(tid) >= 0 &&
		    w_sysno_of(tid) >= 0) {
			waiting = true;
			break;
		}
	}
	if (!paio_call_start(&files)) {
		grade_check(false, "harness: cannot start the second caller");
		files_back = false;
	} else {
		files_back = paio_call_wait(&files, 10000);
	}
	/* Now answer the pipe, whatever happened: the first call can end. */
	fed = SEAM_REAL(write)(p[0][1], pdata[0], len) == (ssize_t)len;
	close(p[0][1]);
	held_back = paio_call_wait(&held, 10000);
	seam_disarm();
	if (!files_back || !held_back) {
		w_check_no_violation();
		grade_check(false, "two calls of paio_batch_read at once: %s did not return "
			    "within 10 s: do the two calls share a window (static variables)? Each "
			    "call needs its own aiocbs, list and counters (TODOs 2 and 9)",
			    !files_back ? "the one with 24 file reads, while the other one's read "
			    "waited on a pipe," : "the one reading a pipe, after the pipe was "
			    "answered,");
		/* Stuck for good: the test ends here. */
		if (!files_back)
			SEAM_REAL(pthread_detach)(files.thread);
		if (!held_back)
			SEAM_REAL(pthread_detach)(held.thread);
		return;
	}
	w_check_no_violation();
	grade_check(waiting, "paio_batch_read of one pipe never had its read in flight and its "
		    "thread asleep while the pipe stayed empty");
	grade_check(fed, "harness: cannot write to the pipe");
	grade_check(files.rc == 0, "paio_batch_read of 24 file reads returned %s while another "
		    "thread's paio_batch_read waited on a pipe, expected 0", errno_name(files.rc));
	grade_check(held.rc == 0, "paio_batch_read of one pipe returned %s after another "
		    "thread's batch ran beside it, expected 0", errno_name(held.rc));
	check_protocol();
	check_file_results("paio_batch_read (beside another thread's batch)", reqs, n, data,
			   size, 6);
	check_pipe_results("paio_batch_read (the other thread's pipe)", preqs, 1, pdata, len);
	feed_free_pipes(1, p, preqs, pdata);
	close(fd);
	free(data);
}

/* pthread_mutex_init and pthread_cond_init made to fail (03.56): the call
 * numbered fail_at (0-based, counted from the module's first init call since
 * the counter was reset) returns fail_errno without initialising anything. */
static struct {
	atomic_long calls;
	atomic_long fail_at;   /* -1: none fails */
	int fail_errno;
} ix = { .fail_at = -1 };

static int ix_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	if (atomic_fetch_add(&ix.calls, 1) == atomic_load(&ix.fail_at))
		return ix.fail_errno;
	return SEAM_REAL(pthread_mutex_init)(m, a);
}

static int ix_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	if (atomic_fetch_add(&ix.calls, 1) == atomic_load(&ix.fail_at))
		return ix.fail_errno;
	return SEAM_REAL(pthread_cond_init)(c, a);
}

/* Fail init call k (EAGAIN or ENOMEM, as pthread_mutex_init(3p) and
 * pthread_cond_init(3p) may) during the next call; returns the errno. */
static int ix_fail(long k)
{
	ix.fail_errno = k % 2 ? ENOMEM : EAGAIN;
	atomic_store(&ix.calls, 0);
	atomic_store(&ix.fail_at, k);
	return ix.fail_errno;
}

/* Whether the call just made reached init call k (which then failed). */
static bool ix_reached(long k)
{
	atomic_store(&ix.fail_at, -1);
	return atomic_load(&ix.calls) > k;
}

GRADE_TEST(tpool, sync_init_fails, 1,
	   "tpool_create and tpool_batch_read when a pthread_mutex_init or pthread_cond_init fails: the error negated, nothing left behind, the pool still works",
	   "TODOs 11 and 14: pthread_mutex_init(3p) and pthread_cond_init(3p) can fail "
	   "(EAGAIN, ENOMEM) and return the error number: check what they return, and on "
	   "failure undo what came before (destroy what you initialised, join what you "
	   "started, free what you allocated) and return the error negated (paio.h, "
	   "tpool_create and tpool_batch_read)")
{
	const size_t size = 50000, n = 12;
	unsigned char *data = grade_random_bytes(size);
	int fd = grade_open(grade_make_file("f", data, size), O_RDONLY);
	int base = fault_count_threads();
	struct seam_heap before;
	struct tpool *pool = NULL;
	struct batch_req *failed[16];
	int rc, want, nfailed = 0;

	tw_watch();
	seam_hook_pthread_mutex_init = ix_mutex_init;
	seam_hook_pthread_cond_init = ix_cond_init;
	seam_heap_usage(&before);
	/* Each init call of tpool_create in turn, until it makes no more. A
	 * module that initialises nothing (static initialisers) has nothing
	 * that can fail here. */
	for (long k = 0; k < 16; k++) {
		want = ix_fail(k);
		rc = POOL_CALL(tpool_create(&pool, 3));
		if (!ix_reached(k)) {
			grade_check(rc == 0, "tpool_create(&p, 3) returned %s with nothing failing",
				    errno_name(rc));
			break;
		}
		grade_check(rc == -want && pool == NULL, "tpool_create returned %s (p %s) when "
			    "its init call number %ld (pthread_mutex_init or pthread_cond_init) "
			    "failed with %s; expected %s and p untouched (TODO 11)", errno_name(rc),
			    pool ? "set" : "NULL", k + 1, errno_name(-want) + 1, errno_name(-want));
		if (pool) {
			SEAM_CALL_VOID(tpool_destroy(pool));
			pool = NULL;
		}
		grade_check(w_threads_settle(base) == base, "threads are left after a tpool_create "
			    "whose pthread_mutex_init or pthread_cond_init failed: join the ones "
			    "started before (TODO 11)");
		grade_check_heap(&before, "a tpool_create whose pthread_mutex_init or "
				 "pthread_cond_init failed (TODO 11):");
	}
	if (!pool)
		pool = pool_or_fail(3);
	/* Each init call of tpool_batch_read in turn (chapter 03's reference
	 * makes one, the batch's condition variable), then the same batch again:
	 * the pool is not broken by a batch that could not start. The failed
	 * batch's buffers are kept, filled with 0xA5, until the pool is
	 * destroyed (its workers then have done all they will ever do): a
	 * batch that fails queues nothing, so nothing is read into them. */
	for (long k = 0; k < 16; k++) {
		struct batch_req *reqs = random_reads(fd, size, n, 4000);

		for (size_t i = 0; i < n; i++)
			memset(reqs[i].buf, 0xA5, reqs[i].len);
		want = ix_fail(k);
		rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 4));
		if (ix_reached(k)) {
			struct batch_req *again = grade_xmalloc(n * sizeof(*again));

			grade_check(rc == -want, "tpool_batch_read returned %s when its init call "
				    "number %ld (pthread_mutex_init or pthread_cond_init) failed "
				    "with %s; expected %s (TODO 14)", errno_name(rc), k + 1,
				    errno_name(-want) + 1, errno_name(-want));
			if (nfailed < 16)
				failed[nfailed++] = reqs;
			for (size_t i = 0; i < n; i++)
				again[i] = (struct batch_req){ fd, reqs[i].offset, reqs[i].len,
							       grade_xmalloc(reqs[i].len), UNSET };
			reqs = again;
			rc = SEAM_CALL(tpool_batch_read(pool, reqs, n, 4));
			grade_check(rc == 0, "tpool_batch_read after one whose init call number %ld "
				    "failed returned %s, expected 0: the pool must still work",
				    k + 1, errno_name(rc));
			check_file_results("tpool_batch_read (after one whose init failed)", reqs, n,
					   data, size, 4);
			continue;
		}
		grade_check(rc == 0, "tpool_batch_read returned %s with nothing failing",
			    errno_name(rc));
		check_file_results("tpool_batch_read", reqs, n, data, size, 4);
		break;
	}
	SEAM_CALL_VOID(tpool_destroy(pool));
	grade_check(w_threads_settle(base) == base, "threads are left after tpool_destroy");
	for (int b = 0; b < nfailed; b++) {
		for (size_t i = 0; i < n; i++) {
			const unsigned char *buf = failed[b][i].buf;
			size_t at = 0;

			while (at < failed[b][i].len && buf[at] == 0xA5)
				at++;
			grade_check(at == failed[b][i].len, "tpool_batch_read returned the error "
				    "of its failing pthread_cond_init (or pthread_mutex_init), and "
				    "later a worker read into the buffer of its request %zu (byte %zu "
				    "changed; failed batch %d): the batch's "
				    "requests were queued before the failing pthread_cond_init, and "
				    "left in the queue. Initialise first, queue after: a batch that "
				    "fails queues nothing, and keeps no pointer to the caller's "
				    "memory (TODO 14; paio.h, tpool_batch_read)", i, at, b + 1);
			free(failed[b][i].buf);
		}
		free(failed[b]);
	}
	grade_check_heap(&before, "tpool_create, tpool_batch_read whose init failed, and "
			 "tpool_destroy (TODO 14):");
	close(fd);
	free(data);
}

/* ===================================================================== */
/* Part B: two batches queued at once                                    */
/* ===================================================================== */

#define QB_N 24      /* requests of each batch          */
#define QB_QD 20     /* the window of each batch        */

/* Wait (bounded) until both callers have returned. */
static bool both_returned(struct other_caller *a, struct other_caller *b, long ms)
{
	long deadline = fault_now_ms() + ms;

	while (*(volatile int *)&a->rc == 1 || *(volatile int *)&b->rc == 1) {
		if (fault_now_ms() > deadline)
			return false;
		fault_nap();
	}
	return true;
}

GRADE_TEST(tpool, two_batches_queued, 2,
	   "two batches of 24 pipe reads at qd 20 on a pool of one worker: all 39 jobs waiting in the queue at once come back right",
	   "TODOs 12 and 14: the queue holds the jobs of every batch under way at once, also "
	   "a job that goes back behind another batch's when the batches take turns; a queue "
	   "sized for one batch's window overflows (lesson section 8, \"The decisions\")")
{
	const size_t len = 64;
	int pa[QB_N][2], pb[QB_N][2];
	struct batch_req ra[QB_N], rb[QB_N];
	unsigned char *da[QB_N], *db[QB_N];
	struct other_caller a, b;
	pthread_t ta, tb;
	struct tpool *pool;
	bool a0_read, a_asleep, b_asleep, returned;

	tw_watch();
	pool = pool_or_fail(1);
	feed_pipes(QB_N, pa, ra, da, len, 0, UNSET);
	feed_pipes(QB_N, pb, rb, db, len, 0, UNSET);
	a = (struct other_caller){ .pool = pool, .reqs = ra, .n = QB_N, .qd = QB_QD, .rc = 1 };
	b = (struct other_caller){ .pool = pool, .reqs = rb, .n = QB_N, .qd = QB_QD, .rc = 1 };
	/* Caller A queues its window of 20; the one worker waits in A's first
	 * read, so 19 of A's jobs stay in the queue. Then caller B queues its
	 * 20 behind them: 39 jobs wait at once, more than either window. */
	seam_arm();
	grade_check(SEAM_REAL(pthread_create)(&ta, NULL, other_caller_main, &a) == 0,
		    "harness: cannot start the first caller");
	a0_read = other_read_pending(pa[0][0]);
	a_asleep = other_caller_asleep(&a);
	grade_check(SEAM_REAL(pthread_create)(&tb, NULL, other_caller_main, &b) == 0,
		    "harness: cannot start the second caller");
	b_asleep = other_caller_asleep(&b);
	/* Every pipe gets its bytes: the worker then reads them one after the
	 * other, in whatever order the queue gives. */
	for (int i = 0; i < QB_N; i++) {
		turn_answer(pa[i], da[i], len);
		turn_answer(pb[i], db[i], len);
	}
	returned = both_returned(&a, &b, 5000);
	seam_disarm();
	if (!returned) {
		grade_check(false, "two batches of %d pipe reads at qd %d on a pool of one worker "
			    "(19 of the first batch's jobs waited in the queue when the second "
			    "queued its 20): with every pipe answered, %s did not return within 5 s. "
			    "Jobs were lost from the queue: it must hold every job of every batch under "
			    "way at once (a fixed or per-batch-sized array overflows; a linked list "
			    "through the job slots cannot), also a job put back behind another batch's "
			    "(TODOs 12 and 14)", QB_N, QB_QD,
			    *(volatile int *)&a.rc == 1 && *(volatile int *)&b.rc == 1 ? "neither "
			    "caller" : *(volatile int *)&a.rc == 1 ? "the first caller" :
			    "the second caller");
		SEAM_REAL(pthread_detach)(ta);   /* stuck for good: the test ends here */
		SEAM_REAL(pthread_detach)(tb);
		return;
	}
	SEAM_REAL(pthread_join)(ta, NULL);
	SEAM_REAL(pthread_join)(tb, NULL);
	grade_check(a0_read, "the first caller's first request (a pipe) was never read by the "
		    "pool's one worker");
	grade_check(a_asleep && b_asleep, "the %s caller never went to sleep in "
		    "tpool_batch_read", a_asleep ? "second" : "first");
	grade_check(a.rc == 0 && b.rc == 0, "two batches of %d at qd %d on one worker: "
		    "tpool_batch_read returned %s and %s, expected 0 and 0", QB_N, QB_QD,
		    errno_name(a.rc), errno_name(b.rc));
	check_pipe_results("tpool_batch_read (first caller, 24 at qd 20)", ra, QB_N, da, len);
	check_pipe_results("tpool_batch_read (second caller, 24 at qd 20)", rb, QB_N, db, len);
	SEAM_CALL_VOID(tpool_destroy(pool));
	feed_free_pipes(QB_N, pa, ra, da);
	feed_free_pipes(QB_N, pb, rb, db);
}

/* Memory the C library allocates for the module is not in the module's heap
 * accounting (harness/lib/heap.c sees the module's own malloc calls only):
 * pthread_attr_setsigmask_np and pthread_attr_setaffinity_np keep a block
 * behind the attribute until pthread_attr_destroy. mallinfo2(3) counts every
 * block in use in the process, whoever asked for it. After a first round of
 * pools (glibc then caches the workers' stacks and their TLS, and heap.c's
 * quarantine of freed blocks is full), a second round of as many pools must
 * leave it where it was: a block left behind per pool shows as HIDDEN_POOLS
 * times its size. */
#define HIDDEN_POOLS 300
#define HIDDEN_SLACK_PER_POOL 32

GRADE_TEST(tpool, nothing_left_behind, 1,
	   "tpool_create and tpool_destroy 600 times: nothing is left allocated, not even by the C library for the pool (an attribute never destroyed)",
	   "TODOs 11 and 15: what tpool_create sets up, tpool_destroy (or its error path) "
	   "takes down: every pthread_attr_init has its pthread_attr_destroy, as every "
	   "malloc has its free; glibc keeps memory behind an attribute given a signal mask "
	   "or a CPU set (pthread_attr_init(3), pthread_attr_setsigmask_np(3))")
{
	size_t before = 0, after;
	int base = fault_count_threads(), rc = 0;

	for (int round = 0; round < 2 && rc == 0; round++) {
		if (round == 1)
			before = mallinfo2().uordblks;
		for (int i = 0; i < HIDDEN_POOLS && rc == 0; i++) {
			struct tpool *pool = NULL;

			rc = POOL_CALL(tpool_create(&pool, 2));
			if (rc == 0)
				SEAM_CALL_VOID(tpool_destroy(pool));
		}
	}
	after = mallinfo2().uordblks;
	grade_check(rc == 0, "tpool_create(&p, 2) returned %s, expected 0", errno_name(rc));
	grade_check(w_threads_settle(base) == base, "threads are left after tpool_destroy");
	grade_check(rc != 0 || after <= before + HIDDEN_POOLS * HIDDEN_SLACK_PER_POOL,
		    "%d pools of 2 threads, each created and destroyed: the process had %zu "
		    "bytes more in use afterwards (mallinfo2), about %zu per pool, although "
		    "the pool's own blocks were all freed. Something the C library allocated "
		    "for the pool is never given back: a pthread_attr_t set up with "
		    "pthread_attr_init (and a signal mask or a CPU set) needs its "
		    "pthread_attr_destroy, once the threads are created (TODOs 11 and 15)",
		    HIDDEN_POOLS, after > before ? after - before : 0,
		    after > before ? (after - before) / HIDDEN_POOLS : 0);
}
