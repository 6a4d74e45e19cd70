/*
 * batch_battery.h - the tests of a batch read (chapters/common/batch.h),
 * written once for every interface that implements it.
 *
 * Every I/O chapter's batch read honours one contract: per request, bytes
 * read (short only at end of file) or -errno for it alone while the others
 * run; the offset named, never the file position; at most qd in flight.
 * This file holds the checks of that contract that do not depend on the
 * interface, and a macro that turns them into graded tests for one target:
 *
 *   static const struct battery_target uring = {
 *       .name = "rd_batch_read through io_uring",
 *       .setup = ..., .open = ..., .read = ..., .close = ...,
 *       .before = ..., .after = ..., .max_inflight = ..., .fills_to = ...,
 *   };
 *   BATCH_BATTERY(uring_batch, uring, "rd_batch_read through io_uring",
 *                 "TODO 8 (reader.h, rd_batch_read)")
 *
 * A target says how to open a file for batches at depth qd (chapter 10: a
 * reader, rd_open; a chapter whose batch read has the batch_read_fn shape:
 * the file itself, with the qd kept for the calls: battery_fn_* below do
 * that), how to run one batch, and how to close. Its optional hooks watch the mechanism around every
 * batch (`before`, `after`: so every test of the battery also proves that
 * the interface was really used) and measure the window (`max_inflight`:
 * the most reads in flight at once during the last batch; `fills_to`: how
 * many its back-end keeps in flight at that depth, where that is certain).
 *
 * The tests, in this order (points: BATTERY_POINTS_*, which a chapter may
 * define before including this file, to keep its table as it was):
 *   random_reads   batches of random reads at qd 1, 4 and 32, some past the
 *                  end of the file, one in ten of length 0; the file
 *                  position never moves
 *   errors         a closed fd and a negative offset fail alone while the
 *                  others read, one of them on another file
 *   shapes         n not a multiple of qd, qd far above n (UINT_MAX), one
 *                  request at qd 1, n == 0 touching nothing
 *   many           1500 requests in one batch
 *   beyond_4gib    a sparse file of 6 GiB: a read across the 4 GiB line, one
 *                  beyond 5 GiB, one in a hole, one cut short by the end,
 *                  one past it
 *   window         at most qd in flight (qd 1: never 2; qd 3; qd 300), and
 *                  as many as the target's back-end keeps, up to qd
 * After each session (open .. close) no descriptor and no heap block of the
 * code under test is left (the target checks what else it owns: threads).
 *
 * When the target's file is open with O_DIRECT (open sets *align), every
 * offset and length is a multiple of the alignment; buffers are always
 * 4096-aligned, so any target can read them with O_DIRECT.
 *
 * Expected bytes come from the harness's random data, from the printed
 * seed. Header-only, like batch_checks.h on which it builds: a test file
 * includes it once and instantiates it as often as it has targets.
 */
#ifndef BATCH_BATTERY_H
#define BATCH_BATTERY_H

#include "grade.h"
#include "batch.h"
#include "batch_checks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef BATTERY_POINTS_RANDOM
#define BATTERY_POINTS_RANDOM 3
#endif
#ifndef BATTERY_POINTS_ERRORS
#define BATTERY_POINTS_ERRORS 2
#endif
#ifndef BATTERY_POINTS_SHAPES
#define BATTERY_POINTS_SHAPES 2
#endif
#ifndef BATTERY_POINTS_MANY
#define BATTERY_POINTS_MANY 1
#endif
#ifndef BATTERY_POINTS_BEYOND_4GIB
#define BATTERY_POINTS_BEYOND_4GIB 2
#endif
#ifndef BATTERY_POINTS_WINDOW
#define BATTERY_POINTS_WINDOW 2
#endif
/* Each test's time limit: thousands of reads, under sanitizers, on two
 * busy cores. The reads take milliseconds. */
#ifndef BATTERY_TIMEOUT
#define BATTERY_TIMEOUT 20
#endif

/* Every buffer's alignment: enough for O_DIRECT on any common device. */
#define BATTERY_BUF_ALIGN 4096u

struct battery_target {
	/* The subject of every message: "rd_batch_read through libaio". */
	const char *name;
	/* Optional, first in every test: hooks, and skips where the machine
	 * lacks what the target needs (grade_skip). */
	void (*setup)(void);
	/* Open `path` for batches at depth qd: return the descriptor the
	 * requests must name, and in *align 1, or the alignment O_DIRECT
	 * needs when the file is open with it. Fails the test if it cannot. */
	int (*open)(const char *path, unsigned qd, size_t *align);
	/* One batch on what open set up; the batch read's own return value. */
	int (*read)(struct batch_req *reqs, size_t n);
	/* Release what open set up. */
	void (*close)(void);
	/* Optional, around every batch: reset the counters, then check what the
	 * mechanism did (ret is read's return value, `what` names the batch). */
	void (*before)(void);
	void (*after)(const struct batch_req *reqs, size_t n, int ret, const char *what);
	/* Optional: the most reads in flight at once during the last batch. */
	long (*max_inflight)(void);
	/* Optional: how many reads the back-end certainly keeps in flight at
	 * depth qd for a batch of n equal reads (0: nothing certain). */
	unsigned (*fills_to)(unsigned qd, size_t n);
};

/* One open .. close of a target, and what was there before it. */
struct battery_session {
	int fd;
	size_t align;
	int fds_before;
	struct seam_heap heap_before;
};

static void *battery_buf(size_t len)
{
	size_t size = len == 0 ? BATTERY_BUF_ALIGN
			       : (len + BATTERY_BUF_ALIGN - 1) / BATTERY_BUF_ALIGN * BATTERY_BUF_ALIGN;
	void *p = aligned_alloc(BATTERY_BUF_ALIGN, size);

	grade_check(p != NULL, "harness: out of memory (%zu bytes)", size);
	memset(p, 0xa5, size);
	return p;
}

static void battery_open(const struct battery_target *t, const char *path, unsigned qd,
			 struct battery_session *s)
{
	s->fds_before = fault_count_fds();
	seam_heap_usage(&s->heap_before);
	s->align = 1;
	s->fd = t->open(path, qd, &s->align);
	if (s->align == 0)
		s->align = 1;
}

static void battery_close(const struct battery_target *t, struct battery_session *s,
			  const char *what)
{
	int fds;

	t->close();
	fds = fault_count_fds();
	grade_check(fds == s->fds_before, "%s: after %s, %d descriptor(s) more are open than "
		    "before it: every descriptor it opened (the file, a ring) must be closed",
		    t->name, what, fds - s->fds_before);
	grade_check_heap(&s->heap_before, what);
}

/* One batch, watched by the target. The requests' inputs (fd, offset, len,
 * buf) are the caller's: after the batch each must be as it was, or the
 * checks of res below would be checking what the code wrote there (a batch
 * sorted in place passes them otherwise). */
static int battery_run(const struct battery_target *t, struct batch_req *reqs, size_t n,
		       const char *what)
{
	struct batch_req *before = reqs && n ? grade_xmalloc(n * sizeof(*reqs)) : NULL;
	int ret;

	if (before)
		memcpy(before, reqs, n * sizeof(*reqs));
	if (t->before)
		t->before();
	ret = t->read(reqs, n);
	if (t->after)
		t->after(reqs, n, ret, what);
	for (size_t i = 0; before && i < n; i++) {
		const struct batch_req *q = &reqs[i], *was = &before[i];

		if (q->fd == was->fd && q->offset == was->offset && q->len == was->len &&
		    q->buf == was->buf)
			continue;
		grade_check(false, "%s: %s: request %zu was fd %d, offset %lld, len %zu, buf %p "
			    "before the batch and is fd %d, offset %lld, len %zu, buf %p after it: "
			    "only res is yours to write. fd, offset, len and buf are the caller's "
			    "(batch.h): a request moved, sorted in place or used as scratch space "
			    "leaves the caller with results it cannot match to its requests. Keep "
			    "what you need in memory of your own", t->name, what, i, was->fd,
			    (long long)was->offset, was->len, was->buf, q->fd, (long long)q->offset,
			    q->len, q->buf);
		break;
	}
	free(before);
	return ret;
}

static void battery_check_ret(const struct battery_target *t, int ret, size_t n, unsigned qd,
			      const char *what)
{
	grade_check(ret == 0, "%s: %s (n %zu, qd %u) returned %s, expected 0: a request's error "
		    "is its res, the batch as a whole still succeeds (seed %llu)", t->name, what, n,
		    qd, grade_errno_str(ret), (unsigned long long)grade_seed());
}

/* n random requests on fd: offsets in [0, size + size/8), lengths up to
 * maxlen, one in ten of length 0; multiples of align when align > 1. */
static struct batch_req *battery_reqs(int fd, size_t n, size_t size, size_t maxlen, size_t align)
{
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	size_t a = align > 1 ? align : 1;
	size_t span = (size + size / 8) / a + 1, most = maxlen / a ? maxlen / a : 1;

	for (size_t i = 0; i < n; i++) {
		reqs[i].fd = fd;
		reqs[i].offset = (off_t)(grade_rand_below(span) * a);
		reqs[i].len = grade_rand_below(10) == 0 ? 0 : (1 + grade_rand_below(most)) * a;
		reqs[i].buf = battery_buf(reqs[i].len);
		reqs[i].res = 0x5a5a;
	}
	return reqs;
}

/*
 * A target for a batch read of the batch_read_fn shape (batch.h: chapters
 * 01, 02, 03, 06, 08): the harness opens the file (open_flags: O_DIRECT for
 * an O_DIRECT target), keeps qd for each call, and closes it. A chapter
 * names its function and flags in its setup:
 *
 *   static void blk_setup(void) { battery_fn_use(blk_batch_read, 0); }
 *   static const struct battery_target blk = {
 *       .name = "blk_batch_read", .setup = blk_setup,
 *       .open = battery_fn_open, .read = battery_fn_read, .close = battery_fn_close,
 *   };
 */
static struct {
	batch_read_fn fn;
	int open_flags;
	int fd;
	unsigned qd;
} battery_fn;

static void battery_fn_use(batch_read_fn fn, int open_flags)
{
	battery_fn.fn = fn;
	battery_fn.open_flags = open_flags;
	battery_fn.fd = -1;
}

static int battery_fn_open(const char *path, unsigned qd, size_t *align)
{
	battery_fn.fd = grade_open(path, O_RDONLY | battery_fn.open_flags);
	battery_fn.qd = qd;
	*align = battery_fn.open_flags & O_DIRECT ? BATTERY_BUF_ALIGN : 1;
	return battery_fn.fd;
}

static int battery_fn_read(struct batch_req *reqs, size_t n)
{
	return SEAM_CALL(battery_fn.fn(reqs, n, battery_fn.qd));
}

static void battery_fn_close(void)
{
	close(battery_fn.fd);
	battery_fn.fd = -1;
}

/* ------------------------------------------------------------ the tests */

static void battery_random_reads(const struct battery_target *t)
{
	static const unsigned qds[] = { 1, 4, 32 };
	size_t size = 200000 + grade_rand_below(200000);
	unsigned char *data = grade_random_bytes(size);
	const char *path = grade_make_file("battery-random", data, size);
	char what[96];

	for (size_t q = 0; q < sizeof(qds) / sizeof(qds[0]); q++) {
		struct battery_session s;
		off_t pos;

		battery_open(t, path, qds[q], &s);
		/* The file position is the caller's: a read that uses it
		 * (offset -1 for io_uring, read(2) for a pool) moves it. */
		pos = (off_t)(3 * BATTERY_BUF_ALIGN);
		grade_check(lseek(s.fd, pos, SEEK_SET) == pos, "harness: lseek on the target's "
			    "descriptor %d: %s", s.fd, strerror(errno));
		for (int round = 0; round < 2; round++) {
			size_t n = 1 + grade_rand_below(120);
			struct batch_req *reqs = battery_reqs(s.fd, n, size, 40000, s.align);
			int ret;

			snprintf(what, sizeof(what), "a batch of %zu random reads at qd %u", n, qds[q]);
			ret = battery_run(t, reqs, n, what);
			battery_check_ret(t, ret, n, qds[q], what);
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, data, size, what);
			free_reqs(reqs, n);
		}
		grade_check(lseek(s.fd, 0, SEEK_CUR) == pos, "%s moved the file position from %lld "
			    "to %lld: every read names its offset; the position is the caller's",
			    t->name, (long long)pos, (long long)lseek(s.fd, 0, SEEK_CUR));
		snprintf(what, sizeof(what), "the random batches at qd %u", qds[q]);
		battery_close(t, &s, what);
	}
	free(data);
}

static void battery_errors(const struct battery_target *t)
{
	const size_t size = 99877, other_size = 50000;  /* not a multiple of 4096 */
	unsigned char *data = grade_random_bytes(size), *other_data = grade_random_bytes(other_size);
	const char *path = grade_make_file("battery-errors", data, size);
	int other = grade_open(grade_make_file("battery-other", other_data, other_size), O_RDONLY);
	int closed = fault_closed_fd();
	struct battery_session s;
	struct batch_req reqs[10];
	size_t a, len;
	int ret;

	battery_open(t, path, 3, &s);
	a = s.align;
	len = a > 1 ? a : 1000;
	reqs[0] = (struct batch_req){ s.fd, 0, len, NULL, 0x5a5a };
	reqs[1] = (struct batch_req){ closed, 0, len, NULL, 0x5a5a };           /* -EBADF  */
	reqs[2] = (struct batch_req){ s.fd, (off_t)(2 * len), len, NULL, 0x5a5a };
	reqs[3] = (struct batch_req){ s.fd, -(off_t)(a > 1 ? a : 1), len, NULL, 0x5a5a }; /* -EINVAL */
	reqs[4] = (struct batch_req){ other, (off_t)len, len, NULL, 0x5a5a };  /* another file */
	reqs[5] = (struct batch_req){ s.fd, (off_t)((size / len + 4) * len), len, NULL, 0x5a5a }; /* past the end */
	reqs[6] = (struct batch_req){ s.fd, (off_t)(5 * len), 0, NULL, 0x5a5a }; /* length 0 */
	reqs[7] = (struct batch_req){ closed, (off_t)(3 * len), len, NULL, 0x5a5a }; /* -EBADF  */
	reqs[8] = (struct batch_req){ s.fd, (off_t)(size / len * len), 2 * len, NULL, 0x5a5a }; /* across the end */
	reqs[9] = (struct batch_req){ other, 0, len, NULL, 0x5a5a };
	for (int i = 0; i < 10; i++)
		reqs[i].buf = battery_buf(reqs[i].len);
	ret = battery_run(t, reqs, 10, "a batch of 10 with two closed fds and a negative offset");
	battery_check_ret(t, ret, 10, 3, "a batch with bad requests in it");
	for (int i = 0; i < 10; i++) {
		static const char *const why[10] = {
			"", " (a closed descriptor)", "", " (a negative offset)",
			" (on another file than the target's)", " (past the end of the file)",
			" (length 0)", " (a closed descriptor)", " (across the end of the file)",
			" (on another file)",
		};
		char what[96];

		if (reqs[i].fd == closed) {
			grade_check(reqs[i].res == -EBADF, "%s: request %d%s: res is %s, expected -EBADF "
				    "for it alone", t->name, i, why[i], grade_errno_str(reqs[i].res));
			continue;
		}
		snprintf(what, sizeof(what), "%s, request %d%s", t->name, i, why[i]);
		if (reqs[i].fd == other)
			check_req(&reqs[i], (size_t)i, other_data, other_size, what);
		else
			check_req(&reqs[i], (size_t)i, data, size, what);
	}
	for (int i = 0; i < 10; i++)
		free(reqs[i].buf);
	battery_close(t, &s, "a batch with bad requests");
	close(other);
	free(other_data);
	free(data);
}

static void battery_shapes(const struct battery_target *t)
{
	static const struct { unsigned qd; size_t n; const char *what; } shapes[] = {
		{ 7, 100, "100 requests at qd 7 (n not a multiple of qd)" },
		{ UINT_MAX, 10, "10 requests at qd UINT_MAX (qd far above n)" },
		{ 1, 1, "one request at qd 1" },
	};
	size_t size = 150000 + grade_rand_below(100000);
	unsigned char *data = grade_random_bytes(size);
	const char *path = grade_make_file("battery-shapes", data, size);
	struct battery_session s;
	struct batch_req one;
	int ret;

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct batch_req *reqs;

		battery_open(t, path, shapes[k].qd, &s);
		reqs = battery_reqs(s.fd, shapes[k].n, size, 20000, s.align);
		ret = battery_run(t, reqs, shapes[k].n, shapes[k].what);
		battery_check_ret(t, ret, shapes[k].n, shapes[k].qd, shapes[k].what);
		for (size_t i = 0; i < shapes[k].n; i++)
			check_req(&reqs[i], i, data, size, shapes[k].what);
		free_reqs(reqs, shapes[k].n);
		battery_close(t, &s, shapes[k].what);
	}

	battery_open(t, path, 4, &s);
	one = (struct batch_req){ s.fd, 0, 16, battery_buf(16), 7 };
	ret = battery_run(t, &one, 0, "a batch of n == 0");
	grade_check(ret == 0 && one.res == 7, "%s with n == 0 returned %s and set a request's res "
		    "to %zd: n == 0 returns 0 and touches nothing (batch.h)", t->name,
		    grade_errno_str(ret), one.res);
	free(one.buf);
	battery_close(t, &s, "a batch of n == 0");
	free(data);
}

static void battery_many(const struct battery_target *t)
{
	const size_t n = 1500;
	size_t size = 1000000 + grade_rand_below(500000);
	unsigned char *data = grade_random_bytes(size);
	const char *path = grade_make_file("battery-many", data, size);
	struct battery_session s;
	struct batch_req *reqs;
	int ret;

	battery_open(t, path, 64, &s);
	reqs = battery_reqs(s.fd, n, size, s.align > 1 ? 3 * s.align : 3000, s.align);
	ret = battery_run(t, reqs, n, "a batch of 1500 requests at qd 64");
	battery_check_ret(t, ret, n, 64, "a batch of 1500 requests");
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "a batch of 1500 requests at qd 64");
	free_reqs(reqs, n);
	battery_close(t, &s, "a batch of 1500 requests");
	free(data);
}

/* A sparse file of 6 GiB + 5000 bytes: data across the 4 GiB line, beyond
 * 5 GiB and in its last 5000 bytes; holes (zeros) everywhere else. */
#define BATTERY_GIB (1ll << 30)
static const struct { long long off; size_t len; } battery_chunks[3] = {
	{ 4 * BATTERY_GIB - 4096, 8192 },
	{ 5 * BATTERY_GIB + 3 * 4096, 8192 },
	{ 6 * BATTERY_GIB, 5000 },
};

static void battery_beyond_4gib(const struct battery_target *t)
{
	static const struct { long long off; size_t len; const char *what; } plan[] = {
		{ 4 * BATTERY_GIB - 4096, 8192, "across the 4 GiB line" },
		{ 5 * BATTERY_GIB + 3 * 4096, 8192, "beyond 5 GiB" },
		{ 4 * BATTERY_GIB + BATTERY_GIB / 2, 4096, "in a hole at 4.5 GiB (zeros)" },
		{ 6 * BATTERY_GIB, 8192, "at 6 GiB, 5000 bytes before the end (short at end of file)" },
		{ 7 * BATTERY_GIB, 4096, "at 7 GiB, past the end" },
		{ 4 * BATTERY_GIB, 4096, "at exactly 4 GiB" },
	};
	enum { NPLAN = sizeof(plan) / sizeof(plan[0]) };
	const long long size = 6 * BATTERY_GIB + 5000;
	const char *path = grade_path("battery-sparse");
	unsigned char *chunk[3];
	struct battery_session s;
	struct batch_req reqs[NPLAN];
	int fd, ret;

	fd = grade_open(path, O_RDWR | O_CREAT | O_TRUNC);
	grade_check(ftruncate(fd, (off_t)size) == 0, "harness: cannot make a sparse file of 6 GiB "
		    "in %s: %s", grade_tmpdir(), strerror(errno));
	for (int c = 0; c < 3; c++) {
		chunk[c] = grade_random_bytes(battery_chunks[c].len);
		grade_check(pwrite(fd, chunk[c], battery_chunks[c].len, (off_t)battery_chunks[c].off) ==
				    (ssize_t)battery_chunks[c].len,
			    "harness: cannot write the sparse file: %s", strerror(errno));
	}
	close(fd);

	battery_open(t, path, 2, &s);
	for (int i = 0; i < NPLAN; i++)
		reqs[i] = (struct batch_req){ s.fd, (off_t)plan[i].off, plan[i].len,
					      battery_buf(plan[i].len), 0x5a5a };
	ret = battery_run(t, reqs, NPLAN, "reads beyond 4 GiB of a sparse file");
	battery_check_ret(t, ret, NPLAN, 2, "reads beyond 4 GiB of a sparse file");
	for (int i = 0; i < NPLAN; i++) {
		long long off = plan[i].off, end = off + (long long)plan[i].len;
		ssize_t want = off >= size ? 0 : (ssize_t)((end < size ? end : size) - off);
		unsigned char *expect;

		grade_check(reqs[i].res == want, "%s: the read of %zu bytes at offset %lld (%s): res "
			    "is %s, expected %s: offsets are 64-bit (off_t), and only the end of "
			    "the file makes a read short", t->name, plan[i].len, off, plan[i].what,
			    grade_errno_str(reqs[i].res), grade_errno_str(want));
		if (want <= 0)
			continue;
		/* What the file holds there: zeros, and the chunks written. */
		expect = calloc(1, (size_t)want);
		grade_check(expect != NULL, "harness: out of memory");
		for (int c = 0; c < 3; c++) {
			long long lo = battery_chunks[c].off > off ? battery_chunks[c].off : off;
			long long ce = battery_chunks[c].off + (long long)battery_chunks[c].len;
			long long hi = ce < off + want ? ce : off + want;

			if (lo < hi)
				memcpy(expect + (lo - off), chunk[c] + (lo - battery_chunks[c].off),
				       (size_t)(hi - lo));
		}
		grade_check(grade_first_diff(reqs[i].buf, expect, (size_t)want) < 0,
			    "%s: the read at offset %lld (%s) has the right length but byte %zd is "
			    "wrong: the offset was cut to 32 bits, or the data of another request",
			    t->name, off, plan[i].what,
			    grade_first_diff(reqs[i].buf, expect, (size_t)want));
		free(expect);
	}
	for (int i = 0; i < NPLAN; i++)
		free(reqs[i].buf);
	for (int c = 0; c < 3; c++)
		free(chunk[c]);
	battery_close(t, &s, "reads beyond 4 GiB");
}

static void battery_window(const struct battery_target *t)
{
	static const struct { unsigned qd; size_t n; } cases[] = { { 1, 40 }, { 3, 40 }, { 300, 600 } };
	const size_t bs = BATTERY_BUF_ALIGN, size = 600 * BATTERY_BUF_ALIGN + 1234;
	unsigned char *data = grade_random_bytes(size);
	const char *path = grade_make_file("battery-window", data, size);
	char what[96];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		unsigned qd = cases[k].qd;
		size_t n = cases[k].n;
		unsigned char *bufs = battery_buf(n * bs);
		struct battery_session s;
		struct batch_req *reqs;
		int ret;

		battery_open(t, path, qd, &s);
		reqs = block_reqs(s.fd, n, bs, bufs);
		snprintf(what, sizeof(what), "%zu reads of %zu bytes at qd %u", n, bs, qd);
		ret = battery_run(t, reqs, n, what);
		battery_check_ret(t, ret, n, qd, what);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, what);
		if (t->max_inflight) {
			long most = t->max_inflight();
			unsigned fill = t->fills_to ? t->fills_to(qd, n) : 0;

			grade_check(most <= (long)qd, "%s: %s: %ld reads were in flight at once; the "
				    "window is the qd given: at most %u", t->name, what, most, qd);
			grade_check(most >= 1, "%s: %s: no read was seen in flight: were the reads "
				    "made through this interface at all?", t->name, what);
			grade_check(most >= (long)fill, "%s: %s: at most %ld reads were in flight at "
				    "once, where the back-end keeps %u when it is handed qd %u: the "
				    "window is qd itself (not a smaller ring's or pool's size), and "
				    "a queue that fills up (an io_uring SQ full) is submitted to make "
				    "room, not the end of the window",
				    t->name, what, most, fill, qd);
		}
		free(reqs);
		free(bufs);
		battery_close(t, &s, what);
	}
	free(data);
}

/*
 * The tests of one target: suite_ names them in the reports (a C name,
 * unique per instance), target_ is a struct battery_target, what_ is the
 * subject of the titles ("rd_batch_read through io_uring"), todo_ where the
 * hints send the learner ("TODO 8 (reader.h, rd_batch_read)").
 */
#define BATTERY_SETUP(target_)                 \
	do {                                   \
		if ((target_).setup)           \
			(target_).setup();     \
	} while (0)

#define BATCH_BATTERY(suite_, target_, what_, todo_)                                           \
	GRADE_TEST_T(suite_, random_reads, BATTERY_POINTS_RANDOM,                             \
		     what_ ": batches of random reads at qd 1, 4 and 32, some past the end of "  \
			   "the file, some of length 0",                                          \
		     todo_ ": every request gets the bytes read (fewer only at end of file, 0 "  \
			   "past it) or its own -errno; the offset is the request's, never the "  \
			   "file position (chapters/common/batch.h)", BATTERY_TIMEOUT)            \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_random_reads(&(target_));                                              \
	}                                                                                      \
	GRADE_TEST_T(suite_, errors, BATTERY_POINTS_ERRORS,                                   \
		     what_ ": a closed fd and a negative offset fail alone; the others read, "   \
			   "one on another file",                                                 \
		     todo_ ": a request's error is its res (-EBADF, -EINVAL), never the "        \
			   "batch's; requests may name any descriptor (chapters/common/batch.h)", \
		     BATTERY_TIMEOUT)                                                           \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_errors(&(target_));                                                    \
	}                                                                                      \
	GRADE_TEST_T(suite_, shapes, BATTERY_POINTS_SHAPES,                                   \
		     what_ ": n not a multiple of qd, qd far above n, one request, n == 0",     \
		     todo_ ": any qd from 1 to UINT_MAX is a window, however n compares; n == 0 " \
			   "returns 0 at once (chapters/common/batch.h)", BATTERY_TIMEOUT)        \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_shapes(&(target_));                                                    \
	}                                                                                      \
	GRADE_TEST_T(suite_, many, BATTERY_POINTS_MANY,                                       \
		     what_ ": 1500 requests in one batch",                                      \
		     todo_ ": the window is refilled as reads complete until every request has " \
			   "its res (chapters/common/batch.h)", BATTERY_TIMEOUT)                  \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_many(&(target_));                                                      \
	}                                                                                      \
	GRADE_TEST_T(suite_, beyond_4gib, BATTERY_POINTS_BEYOND_4GIB,                         \
		     what_ ": reads beyond 4 GiB of a sparse file, across the 4 GiB line, in a " \
			   "hole, at and past its end",                                           \
		     todo_ ": offsets are off_t, 64 bits: never an int or an unsigned on the "   \
			   "way (chapters/common/batch.h)", BATTERY_TIMEOUT)                      \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_beyond_4gib(&(target_));                                               \
	}                                                                                      \
	GRADE_TEST_T(suite_, window, BATTERY_POINTS_WINDOW,                                   \
		     what_ ": never more than qd reads in flight (qd 1, 3, 300), and the window " \
			   "is qd itself",                                                        \
		     todo_ ": hand the back-end the qd the caller gave, as it is: not n, not a " \
			   "constant, not the ring's or the pool's size", BATTERY_TIMEOUT)        \
	{                                                                                      \
		BATTERY_SETUP(target_);                                                        \
		battery_window(&(target_));                                                    \
	}

#pragma GCC diagnostic pop

#endif /* BATCH_BATTERY_H */
