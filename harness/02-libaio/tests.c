/*
 * Chapter 02 tests: the batch of reads through kernel AIO
 * (chapters/02-libaio/laio.h).
 *
 * Expected bytes come from the harness's own random data (seeded, the seed
 * printed in failure messages). Faults are real where the kernel can be
 * made to produce them deterministically: per-request errors (bad fd,
 * write-only fd, directory, negative offset, misaligned O_DIRECT), end of
 * file, pipes fed in pieces (short reads), SIGUSR1 while the call sleeps
 * inside io_submit on an empty pipe (res -EINTR). The rest is played by
 * the seam hooks of aio_watch.h: io_submit accepting fewer than asked or
 * answering -EAGAIN, io_getevents answering -EINTR, completions one at a
 * time or latest first, short reads on a regular file.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "laio.h"
#include "aio_watch.h"

/* The batch-read battery (the contract's own tests, shared with chapter 10):
 * two instances at the end of this file, 6 points each. */
#define BATTERY_POINTS_RANDOM 2
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <semaphore.h>
#include <stdatomic.h>

/* ---------------------------------------------------------------- helpers */

/* "-EBADF", "4096", and a word when the value is errno's marker. */
_Static_assert(ERRNO_MARKER == EXDEV, "the message below names EXDEV");

/* -ERRNO_MARKER is what errno held during every libaio call: code that
 * reads errno after one gives exactly that. */
static const char *errno_name(ssize_t v)
{
	if (v == -ERRNO_MARKER)
		return "-EXDEV (that is what errno held: libaio calls return -errno "
		       "themselves and leave errno alone)";
	return grade_errno_str(v);
}

static unsigned long long seed(void) { return (unsigned long long)grade_seed(); }

/* A file of random bytes in the test directory, opened with flags. */
struct datafile {
	unsigned char *data;
	size_t size;
	int fd;
};

static struct datafile make_datafile(const char *name, size_t size, int flags)
{
	struct datafile f = { grade_random_bytes(size), size, -1 };

	f.fd = grade_open(grade_make_file(name, f.data, size), flags);
	return f;
}

static void close_datafile(struct datafile *f)
{
	close(f->fd);
	free(f->data);
}

/* Skip unless the test directory's filesystem does O_DIRECT. */
static int open_direct_or_skip(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	char why[600];

	if (fd >= 0)
		return fd;
	snprintf(why, sizeof(why), "O_DIRECT is refused on %s (%s): its filesystem "
		 "has no direct I/O (tmpfs?)", grade_tmpdir(), strerror(errno));
	grade_skip("odirect", why, "keep the course on a disk filesystem such as ext4 or xfs; "
			"run make doctor");
	return -1;
}

/* Skip unless O_DIRECT on fd really demands alignment: tmpfs (Linux 6.6+)
 * accepts O_DIRECT and then reads anything, aligned or not. */
static void require_dio_alignment(int fd)
{
	void *buf = NULL;
	ssize_t at100, len100;

	grade_check(posix_memalign(&buf, 4096, 4096) == 0, "harness: out of memory");
	at100 = SEAM_REAL(pread)(fd, buf, 4096, 100);
	len100 = SEAM_REAL(pread)(fd, buf, 100, 0);
	free(buf);
	if (at100 >= 0 || len100 >= 0) {
		char why[600];

		snprintf(why, sizeof(why), "O_DIRECT on %s reads misaligned ranges "
			 "without complaint (a pread at offset 100 returned %zd, one of "
			 "100 bytes %zd): its filesystem does not enforce alignment (tmpfs?)",
			 grade_tmpdir(), at100, len100);
		grade_skip("odirect", why, "keep the course on a disk filesystem such as ext4 or "
				"xfs; run make doctor");
	}
}

/*
 * A batch and what each request must end with: res, and for res > 0 the
 * bytes (src). Buffers are 4096-aligned (O_DIRECT) and filled with a
 * pattern, so that bytes never written show up.
 */
struct plan {
	size_t n;
	struct batch_req *reqs;
	ssize_t *want;
	const unsigned char **src;
	const char **what;   /* what kind of request, for messages */
};

static struct plan plan_new(size_t n)
{
	struct plan p = { n, grade_xmalloc(n * sizeof(struct batch_req)),
			  grade_xmalloc(n * sizeof(ssize_t)),
			  grade_xmalloc(n * sizeof(unsigned char *)),
			  grade_xmalloc(n * sizeof(char *)) };

	memset(p.reqs, 0, n * sizeof(struct batch_req));
	return p;
}

static void *aligned_buffer(size_t len)
{
	void *buf = NULL;
	size_t rounded = (len + 4095) / 4096 * 4096;

	grade_check(posix_memalign(&buf, 4096, rounded ? rounded : 4096) == 0,
		    "harness: out of memory");
	memset(buf, 0xA5, rounded ? rounded : 4096);
	return buf;
}

/* Request i reads len bytes at off of f (through fd, f->fd if fd < 0). */
static void plan_read(struct plan *p, size_t i, const struct datafile *f, int fd,
		      off_t off, size_t len, const char *what)
{
	size_t avail = (size_t)off >= f->size ? 0 : f->size - (size_t)off;

	free(p->reqs[i].buf);
	p->reqs[i] = (struct batch_req){ fd >= 0 ? fd : f->fd, off, len,
					 aligned_buffer(len), 12345 };
	p->want[i] = (ssize_t)(len < avail ? len : avail);
	p->src[i] = f->data + (p->want[i] > 0 ? off : 0);
	p->what[i] = what;
}

/* Request i must fail with err (a negated errno). */
static void plan_error(struct plan *p, size_t i, int fd, off_t off, size_t len,
		       ssize_t err, const char *what)
{
	free(p->reqs[i].buf);
	p->reqs[i] = (struct batch_req){ fd, off, len, aligned_buffer(len), 12345 };
	p->want[i] = err;
	p->src[i] = NULL;
	p->what[i] = what;
}

/* Reset results and buffers, to run the same plan again. */
static void plan_reset(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		size_t len = p->reqs[i].len, rounded = (len + 4095) / 4096 * 4096;

		p->reqs[i].res = 12345;
		if (p->reqs[i].buf)   /* NULL: a read of 0 bytes with nowhere to go */
			memset(p->reqs[i].buf, 0xA5, rounded ? rounded : 4096);
	}
}

/* Do the first bytes of buf (up to 16) still hold the fill pattern? */
static bool never_written(const unsigned char *buf, size_t len)
{
	if (len > 16)
		len = 16;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 0xA5)
			return false;
	return len > 0;
}

static void plan_check(const struct plan *p, const char *call)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct batch_req *r = &p->reqs[i];
		ssize_t at;

		grade_check(r->res == p->want[i],
			    "%s: request %zu of %zu (%s, offset %lld, len %zu): res is %s, "
			    "expected %s (seed %llu)", call, i, p->n, p->what[i],
			    (long long)r->offset, r->len, r->res == 12345 ? "never set" :
			    errno_name(r->res), errno_name(p->want[i]), seed());
		if (p->want[i] <= 0)
			continue;
		at = grade_first_diff(r->buf, p->src[i], (size_t)p->want[i]);
		if (at >= 0 && never_written((const unsigned char *)r->buf + at,
					     (size_t)p->want[i] - (size_t)at))
			grade_fail("%s: request %zu of %zu (%s, offset %lld, len %zu): res is "
				   "%zd but the buffer was never written from byte %zd on: res "
				   "counts bytes that were not read (a negative res taken for a "
				   "byte count?) (seed %llu)", call, i, p->n, p->what[i],
				   (long long)r->offset, r->len, r->res, at, seed());
		grade_check(at < 0, "%s: request %zu of %zu (%s, offset %lld, len %zu): "
			    "res is right but the buffer is wrong from byte %zd on: it holds "
			    "other data (a short read continued at the wrong offset, or results "
			    "matched to the wrong request?) (seed %llu; rerun with make check "
			    "CH=02 SEED=%llu)", call, i, p->n, p->what[i], (long long)r->offset,
			    r->len, at, seed(), seed());
	}
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->reqs[i].buf);
	free(p->reqs);
	free(p->want);
	free(p->src);
	free(p->what);
}

/* n random reads of f: offsets up to past its end, lengths 0..maxlen-1. */
static struct plan random_plan(const struct datafile *f, size_t n, size_t maxlen)
{
	struct plan p = plan_new(n);

	for (size_t i = 0; i < n; i++)
		plan_read(&p, i, f, -1, (off_t)grade_rand_below(f->size + 2 * maxlen),
			  grade_rand_below(maxlen), "random read");
	return p;
}

/* After a batch of cached reads with no fault injected: an io_submit that
 * took every iocb it was offered, followed by another io_submit with no
 * wait in between, left iocbs behind that were ready. Up to 3 such calls
 * per wait are let through (a refill may go out in a few calls); one call
 * per iocb makes many more. who: the function; what: the batch; advice:
 * what the code did, and the fix. */
static void check_refill_submits(const char *who, const char *what, const char *advice)
{
	grade_check(aw.submits_back_to_back <= 3 * aw.getevents_calls, "%s made %ld io_submit "
		    "calls for %s (%ld io_getevents calls), %ld of them right after one that "
		    "took every iocb it was offered: %s", who, aw.submit_calls, what,
		    aw.getevents_calls, aw.submits_back_to_back, advice);
}

/* Run the batch with the seams armed; it must return 0. */
static void run_batch(struct plan *p, unsigned qd, const char *call)
{
	struct seam_heap heap;
	char what[300];
	int ret;

	plan_reset(p);
	watch_next_call();
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p->reqs, p->n, qd));
	grade_check(ret == 0, "%s: laio_batch_read(reqs, %zu, %u) returned %s, expected 0 "
		    "(every request has its res) (seed %llu)", call, p->n, qd,
		    errno_name(ret), seed());
	plan_check(p, call);
	/* Every fault this batch met (an -EINTR retried, a partial submit, a
	 * short read continued) is survived without memory left behind. */
	snprintf(what, sizeof(what), "laio_batch_read (%s): what a retry or a "
		 "remainder allocates is freed too (TODO 7)", call);
	grade_check_heap(&heap, what);
}

/* The faults of a test are played by the hooks on io_getevents: a batch
 * whose completions never went through it was not tested at all. */
static void require_events_seen(long before, const char *call)
{
	grade_check(aw.events > before, "%s: no completion came back through io_getevents(), "
		    "whose answers this test shapes (the harness saw none): reap with "
		    "io_getevents (laio.h), not with io_queue_run or by reading the "
		    "completion ring yourself", call);
}

/* "[aio]" lines in /proc/self/maps: one per live io context. */
static int count_aio_maps(void)
{
	FILE *fp = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	grade_check(fp != NULL, "harness: cannot read /proc/self/maps");
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, "[aio]"))
			n++;
	fclose(fp);
	return n;
}

/* ------------------------------------------------------------------ batch */

GRADE_TEST(batch, end_of_file, 1,
	   "end of file: an empty file, a read of exactly the whole file, one 100 times longer "
	   "than the file, one at its end",
	   "TODO 6: res 0 is end of file: the request is done with the bytes it has; a res "
	   "equal to what was asked is not short (lesson: \"Short reads, EOF and -EINTR inside "
	   "res\")")
{
	struct datafile f = make_datafile("f", 10000, O_RDONLY);
	struct datafile empty = make_datafile("empty", 0, O_RDONLY);
	struct plan p = plan_new(5);

	/* Reads past the end, across it and of length 0 are the battery's
	 * (02.27 on): these are the ends it does not reach. */
	watch_start();
	plan_read(&p, 0, &f, -1, 9000, 4096, "crosses end of file");
	plan_read(&p, 1, &f, -1, 10000, 100, "at end of file");
	plan_read(&p, 2, &empty, -1, 0, 4096, "empty file");
	plan_read(&p, 3, &f, -1, 0, 10000, "the whole file");
	plan_read(&p, 4, &f, -1, 0, 1 << 20, "1 MiB from a 10000-byte file");
	run_batch(&p, 3, "5 requests at qd 3");

	/* The file grows between two calls, on the same fd: where the end is
	 * comes from this call's reads (or this call's fstat), never from a
	 * size remembered from an earlier call. */
	{
		int w = grade_open(grade_path("f"), O_WRONLY);
		unsigned char *more = grade_random_bytes(15000);

		memcpy(more, f.data, 10000);
		grade_check(SEAM_REAL(pwrite)(w, more + 10000, 5000, 10000) == 5000,
			    "harness: cannot grow the file: %s", strerror(errno));
		close(w);
		free(f.data);
		f.data = more;
		f.size = 15000;
		plan_read(&p, 0, &f, -1, 9000, 4096, "crosses the end the file had in the call "
			  "before; it grew by 5000 bytes since (an end of file remembered from "
			  "an earlier call?)");
		plan_read(&p, 1, &f, -1, 10000, 100, "at the end the file had in the call "
			  "before; it grew by 5000 bytes since (an end of file remembered from "
			  "an earlier call?)");
		plan_read(&p, 3, &f, -1, 0, 15000, "the whole file, grown to 15000 bytes");
		plan_read(&p, 4, &f, -1, 0, 1 << 20, "1 MiB from the file grown to 15000 bytes");
		run_batch(&p, 3, "5 requests at qd 3, the file grown by 5000 bytes since the "
			  "call before");
	}
	plan_free(&p);
	close_datafile(&empty);
	close_datafile(&f);
}

GRADE_TEST(batch, arguments, 1,
	   "qd 0 (even with n 0), and a NULL array with n > 0, are -EINVAL",
	   "TODO 1: check the arguments before anything else (chapters/common/batch.h)")
{
	struct batch_req one = { -1, 0, 0, NULL, 7 };
	int ret;

	watch_start();
	ret = SEAM_CALL(laio_batch_read(&one, 1, 0));
	grade_check(ret == -EINVAL, "laio_batch_read with qd 0 returned %s, expected -EINVAL",
		    errno_name(ret));
	ret = SEAM_CALL(laio_batch_read(NULL, 3, 4));
	grade_check(ret == -EINVAL, "laio_batch_read(NULL, 3, 4) returned %s, expected -EINVAL",
		    errno_name(ret));
	ret = SEAM_CALL(laio_batch_read(NULL, 1, 4));
	grade_check(ret == -EINVAL, "laio_batch_read(NULL, 1, 4) returned %s, expected -EINVAL "
		    "(any n > 0 with a NULL array)", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read(NULL, 0, 0));
	grade_check(ret == -EINVAL, "laio_batch_read(NULL, 0, 0) returned %s, expected -EINVAL: "
		    "qd 0 is wrong whatever n is, so check it before the empty batch returns 0 "
		    "(laio.h: laio_batch_read is io_setup + laio_batch_read_ctx, which checks its "
		    "arguments first, whatever n is)", errno_name(ret));
	grade_check(aw.setups == aw.destroys, "laio_batch_read left an io context behind "
		    "(io_setup %ld, io_destroy %ld)", aw.setups, aw.destroys);
	grade_check(seam_calls(SEAM_io_setup) == 0, "laio_batch_read called io_setup %ld time(s) "
		    "for calls whose arguments are -EINVAL: check them before anything talks to "
		    "the kernel (a context of 0 events is refused too, but that is io_setup's "
		    "answer, not yours)", seam_calls(SEAM_io_setup));
}

GRADE_TEST(batch, errors_mid_batch, 2,
	   "a bad fd, a write-only fd, a directory, a negative offset and an O_NONBLOCK pipe, "
	   "empty or holding 100 bytes of 4096 asked, fail alone, also past the end of the "
	   "file and with length 0; the reads around them succeed",
	   "TODO 4: a negative io_submit return (not -EAGAIN) is the error of the FIRST "
	   "iocb of the array, not of the batch: that request fails, the others still go "
	   "out (lesson: \"Submission can be partial\", pitfall 6); TODO 6: a negative res "
	   "in an event is that request's error, -EAGAIN and -ECONNRESET too (only -EINTR "
	   "is tried again), "
	   "also after some bytes of it arrived (pitfall 16); TODO 3: a request of length 0, "
	   "or one past the end of the file, still goes to the kernel, which checks its fd "
	   "and offset first (laio.h; pitfall 21)")
{
	struct datafile f = make_datafile("f", 200000, O_RDONLY);
	int wronly = grade_open(grade_path("f"), O_WRONLY);
	int opath = grade_open(grade_path("f"), O_PATH);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	struct plan p = plan_new(24);
	static const unsigned qds[] = { 1, 8, 64 };
	static const char hundred[100] = "100 bytes in an O_NONBLOCK pipe";
	int nb[2], part[2];

	watch_start();
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(190000),
			  1 + grade_rand_below(8000), "a good read");
	plan_error(&p, 2, -1, 0, 100, -EBADF, "fd -1");
	plan_error(&p, 4, 9999, 0, 100, -EBADF, "fd 9999, not open");
	plan_error(&p, 5, wronly, 0, 100, -EBADF, "an fd open O_WRONLY");
	plan_error(&p, 7, dir, 0, 100, -EINVAL, "a directory");
	plan_error(&p, 8, f.fd, -4096, 100, -EINVAL, "negative offset");
	plan_error(&p, 11, -1, 0, 100, -EBADF, "fd -1, last");
	/* Empty, its writer open, O_NONBLOCK: the kernel completes the read
	 * with res -EAGAIN, and would again as often as it is asked. */
	grade_check(pipe2(nb, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	plan_error(&p, 12, nb[0], 0, 100, -EAGAIN, "an empty O_NONBLOCK pipe, its writer open");
	/* 100 bytes in it, 4096 asked: the first piece reads the 100, the rest
	 * fails with -EAGAIN, and that is the request's answer: an error after
	 * some bytes is an error (laio.h; chapter 01's read_full alike). */
	grade_check(pipe2(part, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s",
		    strerror(errno));
	plan_error(&p, 13, part[0], 0, 4096, -EAGAIN, "an O_NONBLOCK pipe holding 100 bytes, "
		   "its writer open: after the 100 bytes the rest fails with -EAGAIN, which is "
		   "the request's answer, not the count so far (an error after some bytes is "
		   "an error, pitfall 16)");
	/* Where a shortcut might answer without the kernel: at or past the
	 * end of the file (fstat knows where it is, not whether the fd can
	 * read), and with length 0. The kernel checks the fd and the offset
	 * first, whatever the length and the position (laio.h). */
	plan_error(&p, 14, wronly, 200000, 100, -EBADF, "an fd open O_WRONLY, read at the end "
		   "of its file: that fd cannot read, wherever the read is (an end of file "
		   "answered without the kernel? fstat says where the end is, not whether the "
		   "fd can read: pitfall 21)");
	plan_error(&p, 15, opath, 250000, 100, -EBADF, "an fd open O_PATH, read past the end "
		   "of its file: fstat works on it, a read does not (an end of file answered "
		   "without the kernel? pitfall 21)");
	plan_error(&p, 16, dir, 1 << 20, 100, -EINVAL, "a directory, read at 1 MiB");
	plan_error(&p, 17, f.fd, -4096, 0, -EINVAL, "length 0 at a negative offset: a request "
		   "of length 0 still goes to the kernel, which refuses the offset (laio.h)");
	plan_error(&p, 18, 9999, 0, 0, -EBADF, "length 0 on fd 9999, not open: a request of "
		   "length 0 still goes to the kernel, which refuses the fd (laio.h)");
	/* Both wrong: the kernel looks at the fd first (io_submit(2) answers
	 * -EBADF), so a check of the offset made before the kernel's must
	 * not answer -EINVAL for these. */
	plan_error(&p, 20, 9999, -4096, 100, -EBADF, "fd 9999, not open, at a negative "
		   "offset: the kernel refuses the fd before it looks at the offset (-EBADF); "
		   "an offset check of your own before io_submit must not answer first (laio.h: "
		   "checked as the kernel checks it; pitfall 21)");
	plan_error(&p, 21, wronly, -4096, 0, -EBADF, "an fd open O_WRONLY, length 0 at a "
		   "negative offset: the kernel refuses the fd before it looks at the offset "
		   "(-EBADF; laio.h: checked as the kernel checks it; pitfall 21)");
	plan_error(&p, 22, dir, 0, 0, -EINVAL, "a directory, length 0: an fd open for "
		   "reading, at offset 0, that has no read at all (the kernel refuses it with "
		   "-EINVAL whatever the length); a check of your own for length 0 (fcntl "
		   "F_GETFL, the offset) cannot know every reason the kernel refuses a read: "
		   "let io_submit answer (laio.h: checked as the kernel checks it; pitfall 21)");
	/* Length 0 and no buffer: "at least len bytes" of buffer is none at
	 * all. The kernel writes nothing and answers 0; a NULL check of your
	 * own must not answer -EFAULT for it. */
	plan_read(&p, 23, &f, -1, 5000, 0, "length 0 with buf NULL: the kernel writes nothing "
		  "and answers 0 (batch.h: buf holds at least len bytes, here none); a check "
		  "of your own for a NULL buffer must not answer -EFAULT for it: let io_submit "
		  "answer (laio.h: checked as the kernel checks it; pitfall 21)");
	free(p.reqs[23].buf);
	p.reqs[23].buf = NULL;
	aw.submit_limit = 2000;
	aw.loop_why = "A read of an empty O_NONBLOCK pipe completes with res -EAGAIN, and "
		      "would again at every try: -EAGAIN in res is that request's error "
		      "(TODO 6); only -EINTR in res is submitted again";
	for (size_t q = 0; q < sizeof(qds) / sizeof(qds[0]); q++) {
		char what[16], drain[128];

		while (read(part[0], drain, sizeof(drain)) > 0)
			;   /* whatever an earlier run left */
		grade_check(write(part[1], hundred, sizeof(hundred)) == (ssize_t)sizeof(hundred),
			    "harness: write to a pipe: %s", strerror(errno));
		snprintf(what, sizeof(what), "qd %u", qds[q]);
		/* A socket whose peer closed with our bytes unread: its first
		 * read fails with ECONNRESET, and the kernel forgets the error
		 * there (the next read says 0, end of file). An error is final:
		 * read again, and the request would claim an end of file. */
		int sk[2];

		grade_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) == 0,
			    "harness: socketpair: %s", strerror(errno));
		grade_check(write(sk[1], "x", 1) == 1, "harness: write to a socket: %s",
			    strerror(errno));
		close(sk[0]);
		plan_error(&p, 19, sk[1], 0, 100, -ECONNRESET, "a socket whose peer closed "
			   "with bytes unread: the read fails with -ECONNRESET once, and the "
			   "kernel then forgets it (a second read gives 0, end of file): an error "
			   "in res is the request's answer, never read again; only -EINTR is (TODO "
			   "6)");
		run_batch(&p, qds[q], what);
		close(sk[1]);
		grade_check(aw.waits_owing_rest == 0, "qd %u: io_submit failed for the first "
			    "iocb of an array of several (a bad fd, say), and laio_batch_read then "
			    "waited in io_getevents %ld time(s) before submitting the rest (first: "
			    "%ld iocb(s) left behind it): that error is the first request's alone; "
			    "the iocbs behind it are still ready, and go out through io_submit again "
			    "at once, before any wait, or the window is not full while requests wait "
			    "(TODO 4; pitfall 6)", qds[q], aw.waits_owing_rest,
			    aw.waits_owing_rest_nr);
	}
	plan_free(&p);
	close(part[0]);
	close(part[1]);
	close(nb[0]);
	close(nb[1]);
	close(dir);
	close(opath);
	close(wronly);
	close_datafile(&f);
}

GRADE_TEST(batch, beyond_4gib, 1,
	   "reads at offsets beyond 4 GiB of a sparse file, short reads continued there; "
	   "one read of 5 GiB",
	   "TODOs 3 and 6: offsets and lengths are 64-bit all the way to the iocb, also for "
	   "the rest of a short read: a 32-bit type on the way drops the high bits "
	   "(pitfall 18; man 3 io_prep_pread)")
{
	static const unsigned long long offs[] = {
		(4ull << 30) - 2048, 5ull << 30, (7ull << 30) + 4096,
	};
	const char *path = grade_path("sparse");
	int fd = grade_open(path, O_RDWR | O_CREAT | O_TRUNC);
	struct datafile f = { grade_random_bytes(3 * 4096), 3 * 4096, fd };
	struct plan p = plan_new(4);

	grade_check(ftruncate(fd, (off_t)(8ull << 30)) == 0, "harness: cannot make an 8 GiB "
		    "sparse file: %s", strerror(errno));
	for (size_t i = 0; i < 3; i++) {
		grade_check(SEAM_REAL(pwrite)(fd, f.data + 4096 * i, 4096, (off_t)offs[i]) == 4096,
			    "harness: cannot write the sparse file: %s", strerror(errno));
		plan_read(&p, i, &f, fd, (off_t)offs[i], 4096, "a read beyond 4 GiB");
		p.want[i] = 4096;
		p.src[i] = f.data + 4096 * i;
	}
	/* The last 100 bytes of the file: zeros (a hole), then end of file. */
	plan_read(&p, 3, &f, fd, (off_t)((8ull << 30) - 100), 4096, "a read at the end of 8 GiB");
	p.want[3] = 100;
	p.src[3] = NULL;
	watch_start();
	aw.halve = true;
	plan_reset(&p);
	{
		int ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 2));
		static const unsigned char zeros[100];

		grade_check(ret == 0, "laio_batch_read returned %s, expected 0", errno_name(ret));
		for (size_t i = 0; i < 3; i++) {
			grade_check(p.reqs[i].res == 4096, "request %zu (offset %llu, len 4096, every "
				    "read halved): res is %s, expected 4096", i, offs[i],
				    errno_name(p.reqs[i].res));
			grade_check_same(p.reqs[i].buf, p.src[i], 4096, "a read beyond 4 GiB");
		}
		grade_check(p.reqs[3].res == 100, "request 3 (100 bytes before the end of an "
			    "8 GiB file): res is %s, expected 100", errno_name(p.reqs[3].res));
		grade_check_same(p.reqs[3].buf, zeros, 100, "the end of an 8 GiB sparse file");
	}

	/* 5 GiB at offset 1 GiB of a descriptor whose reads only pretend: each
	 * iocb is answered with at most 0x7ffff000 bytes (the kernel's cap on
	 * one transfer), so the request is a chain of short reads. */
	{
		const unsigned long long len = 5ull << 30;
		unsigned char *base = fault_sparse_buffer((size_t)len + 4096, 0);
		int pfd = dup(fd);
		struct batch_req big;
		int ret;

		grade_check(pfd >= 0, "harness: dup: %s", strerror(errno));
		big = (struct batch_req){ pfd, (off_t)(1ull << 30), (size_t)len, base, 1 };
		watch_start();
		pretend_aio_start(pfd, base, 1ll << 30);
		ret = SEAM_CALL(laio_batch_read(&big, 1, 4));
		fault_sparse_buffer_free(base, (size_t)len + 4096, 0);
		close(pfd);
		grade_check(ret == 0, "laio_batch_read of one 5 GiB request returned %s, expected 0",
			    errno_name(ret));
		grade_check(big.res == (ssize_t)len, "a request of 5 GiB (each iocb answered with "
			    "at most 0x7ffff000 bytes, the kernel's cap) has res %s after %ld iocb(s), "
			    "expected %llu: keep lengths in a size_t and submit the rest, len - done, "
			    "after each short read", errno_name(big.res), pa.pieces, len);
		grade_check(pa.done == len, "a request of 5 GiB has res %s, but the iocbs "
			    "submitted for it brought %llu bytes (%ld iocb(s), each answered with at "
			    "most 0x7ffff000 bytes, the kernel's cap): res counts bytes that were never "
			    "read. Compare a piece's res with what it asked in 64 bits (a size_t, "
			    "never an unsigned or an int) and add up what came back (TODO 6; "
			    "pitfall 18)", errno_name(big.res), pa.done, pa.pieces);
	}
	plan_free(&p);
	close(fd);
	free(f.data);
}

/* ----------------------------------------------------------------- window */

GRADE_TEST(window, refills_as_completions_arrive, 3,
	   "the window refills as each completion arrives: qd in flight while requests wait",
	   "TODOs 3-5: after each completion, give the free slot the next request and "
	   "io_submit it before waiting again; wake at the first completion, not when the "
	   "whole window is done (\"waves\" leave the device with fewer than qd requests: pitfall 3)")
{
	const size_t n = 40;
	const unsigned qd = 8;
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = plan_new(n);

	for (size_t i = 0; i < n; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
			  1 + grade_rand_below(8000), "a read inside the file");
	watch_start();
	/* The device finishes one read at a time: each waiting io_getevents
	 * gets one completion (min_nr of them if it asks for more). */
	aw.one_at_a_time = true;
	aw.window = qd;
	aw.batch_n = (long)n;
	run_batch(&p, qd, "40 requests at qd 8, completions one at a time");
	grade_check(aw.max_inflight == qd, "at most %ld requests were in flight at once with "
		    "qd 8 and 40 requests: the queue depth was not used", aw.max_inflight);
	grade_check(aw.submits_while_inflight > 0, "io_submit was only ever called with "
		    "nothing in flight: the window went out in waves (submit 8, wait for all "
		    "8, submit the next 8) instead of refilling as completions arrived");
	grade_check(aw.waits_below == 0, "laio_batch_read waited in io_getevents %ld time(s) "
		    "with fewer than 8 requests in flight while requests were still waiting "
		    "to start (first: %ld in flight, %ld of 40 submitted): refill the window "
		    "before waiting", aw.waits_below, aw.waits_below_inflight,
		    aw.waits_below_accepted);
	grade_check(aw.waits_min_nr_above_one == 0, "laio_batch_read waited in io_getevents "
		    "%ld time(s) with min_nr above 1 (first: min_nr %ld) while requests were still "
		    "waiting to start: that wait sleeps until that many reads finish, with the "
		    "slot of the first one idle meanwhile. Wait with min_nr 1, so the window "
		    "refills as soon as any slot is free (TODO 5; lesson: \"Reaping: min_nr, nr "
		    "and the timeout\")", aw.waits_min_nr_above_one, aw.wait_min_nr);

	/* The oldest request in flight is the slowest: completions come one at
	 * a time, the latest first. Any free slot takes the next request. */
	watch_start();
	aw.one_at_a_time = true;
	aw.reverse = true;
	aw.window = qd;
	aw.batch_n = (long)n;
	run_batch(&p, qd, "40 requests at qd 8, completions one at a time, latest first");
	grade_check(aw.waits_below == 0 && aw.max_inflight == qd, "with completions one at a "
		    "time, latest first (the oldest request in flight is the slowest), "
		    "laio_batch_read waited %ld time(s) with fewer than 8 requests in flight while "
		    "requests were still waiting to start (first: %ld in flight, %ld of 40 "
		    "submitted; at most %ld at once): one slow request must not hold the window "
		    "back. Any slot that frees up takes the next request, whichever request "
		    "finished; the window is a number of slots, not a range of request indexes "
		    "(TODO 3; pitfall 3)", aw.waits_below, aw.waits_below_inflight,
		    aw.waits_below_accepted, aw.max_inflight);

	/* Completions as the kernel gives them: buffered reads of a cached file
	 * are done inside io_submit, so one wait hands back the whole window.
	 * Every slot freed takes a request, not one slot per wait. */
	watch_start();
	aw.window = qd;
	aw.batch_n = (long)n;
	run_batch(&p, qd, "40 requests at qd 8, several completions per io_getevents");
	grade_check(aw.waits_below == 0, "io_getevents handed back several completions at "
		    "once, and laio_batch_read then waited %ld time(s) with fewer than 8 requests "
		    "in flight while requests were still waiting to start (first: %ld in flight, "
		    "%ld of 40 submitted): every slot that a completion frees takes the next "
		    "request before the next wait, however many came back in one call (TODOs 3-5; "
		    "pitfall 3)", aw.waits_below, aw.waits_below_inflight, aw.waits_below_accepted);

	/* Some reads fail in their event (an empty O_NONBLOCK pipe: res -EAGAIN,
	 * completed inside io_submit): a slot freed by a failed request takes
	 * the next request at once, like one freed by a read that succeeded. */
	{
		int nb[2];

		grade_check(pipe2(nb, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s",
			    strerror(errno));
		for (size_t i = 3; i < 30; i += 4)
			plan_error(&p, i, nb[0], 0, 100, -EAGAIN, "an empty O_NONBLOCK pipe, its "
				   "writer open: res -EAGAIN in its event");
		watch_start();
		aw.one_at_a_time = true;
		aw.window = qd;
		aw.batch_n = (long)n;
		aw.submit_limit = 2000;
		run_batch(&p, qd, "40 requests at qd 8, 7 of them failing in their event (res "
			  "-EAGAIN), completions one at a time");
		grade_check(aw.waits_below == 0 && aw.max_inflight == qd, "with 7 of 40 requests "
			    "failing in their event (res -EAGAIN, an empty O_NONBLOCK pipe) and "
			    "completions one at a time, laio_batch_read waited %ld time(s) with fewer "
			    "than 8 requests in flight while requests were still waiting to start "
			    "(first: %ld in flight, %ld of 40 submitted; at most %ld at once): a slot "
			    "freed by a request that failed is free like any other, and takes the "
			    "next request before the next wait, not only once the window has "
			    "drained (TODOs 3 and 6; pitfall 3)", aw.waits_below,
			    aw.waits_below_inflight, aw.waits_below_accepted, aw.max_inflight);
		close(nb[0]);
		close(nb[1]);
	}

	/* Some reads past the end of the file (res 0 in their event): a slot
	 * freed by end of file is free like any other. laio.h lets a module
	 * answer such reads without the kernel, so the window is watched
	 * while the other 33 are still going out. */
	{
		size_t eofs = 0;

		for (size_t i = 0; i < n; i++)
			plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
				  1 + grade_rand_below(8000), "a read inside the file");
		for (size_t i = 2; i < 30; i += 4, eofs++)
			plan_read(&p, i, &f, -1, (off_t)(f.size + 1000 * i), 100 + i, "a read past "
				  "the end of the file: res 0 in its event");
		watch_start();
		aw.one_at_a_time = true;
		aw.window = qd;
		aw.batch_n = (long)(n - eofs);
		run_batch(&p, qd, "40 requests at qd 8, 7 of them past the end of the file (res 0 "
			  "in their event), completions one at a time");
		grade_check(aw.waits_below == 0 && aw.max_inflight == qd, "with 7 of 40 requests "
			    "past the end of the file (res 0 in their event) and completions one at a "
			    "time, laio_batch_read waited %ld time(s) with fewer than 8 requests in "
			    "flight while requests were still waiting to start (first: %ld in flight, "
			    "%ld submitted; at most %ld at once): a slot freed by a request that hit "
			    "end of file is free like any other, and takes the next request before "
			    "the next wait, not only once the window has drained (TODOs 3 and 6; "
			    "pitfall 3)", aw.waits_below, aw.waits_below_inflight,
			    aw.waits_below_accepted, aw.max_inflight);
	}

	/* Some requests io_submit refuses (a descriptor that is not open:
	 * -EBADF for that iocb, never in flight): the slot such a request
	 * held is free again before the next wait, as one freed by a
	 * completion is. */
	{
		size_t bad = 0;

		for (size_t i = 0; i < n; i++)
			plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
				  1 + grade_rand_below(8000), "a read inside the file");
		for (size_t i = 5; i < 30; i += 6, bad++)
			plan_error(&p, i, -1, 0, 100, -EBADF, "a descriptor that is not open: "
				   "io_submit refuses its iocb with -EBADF");
		watch_start();
		aw.one_at_a_time = true;
		aw.window = qd;
		aw.batch_n = (long)(n - bad);
		run_batch(&p, qd, "40 requests at qd 8, 5 of them on a descriptor that is not "
			  "open (io_submit: -EBADF), completions one at a time");
		grade_check(aw.waits_below == 0 && aw.max_inflight == qd, "with 5 of 40 requests "
			    "on a descriptor that is not open (io_submit refuses each with -EBADF) "
			    "and completions one at a time, laio_batch_read waited %ld time(s) with "
			    "fewer than 8 requests in flight while requests were still waiting to "
			    "start (first: %ld in flight, %ld submitted; at most %ld at once): the "
			    "slot of a request io_submit refused is free again, and takes the next "
			    "request before the next wait (TODOs 3 and 4; pitfall 3)",
			    aw.waits_below, aw.waits_below_inflight, aw.waits_below_accepted,
			    aw.max_inflight);
	}
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST_T(window, limits, 2,
	   "n 0 with NULL; qd 3, 1 << 20 and UINT_MAX for 10 reads; 66000 reads at qd "
	   "UINT_MAX: the window is min(qd, n, LAIO_MAX_QD), and so is io_setup's size",
	   "TODOs 2-4: the window is min(qd, n, LAIO_MAX_QD), in a type that holds UINT_MAX; "
	   "a context sized by qd or n runs into /proc/sys/fs/aio-max-nr (65536); fill the "
	   "whole window before waiting (laio.h, pitfall 19)",
	   15 /* 66000 reads: a correct code that reaps one event per call makes 66000
	       * io_submit and 66000 io_getevents calls through the seams */)
{
	static const struct { size_t n; unsigned qd; } cases[] = {
		{ 10, 3 }, { 10, 1u << 20 }, { 10, UINT_MAX }, { 66000, UINT_MAX },
	};
	const size_t size = 1 << 16;
	struct datafile f = make_datafile("f", size, O_RDONLY);
	unsigned char *bufs = grade_xmalloc(66000 * 16);
	struct batch_req *reqs = grade_xmalloc(66000 * sizeof(*reqs));
	int ret0;

	watch_start();
	ret0 = SEAM_CALL(laio_batch_read(NULL, 0, 4));
	grade_check(ret0 == 0, "laio_batch_read(NULL, 0, 4) returned %s, expected 0: an empty "
		    "batch may come without an array (only NULL with n > 0 is -EINVAL)",
		    errno_name(ret0));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n, window = cases[c].qd;
		int ret;

		if (window > LAIO_MAX_QD)
			window = LAIO_MAX_QD;
		if (window > n)
			window = n;
		for (size_t i = 0; i < n; i++)
			reqs[i] = (struct batch_req){ f.fd, (off_t)(i * 16 % (size - 16)), 16,
						      bufs + i * 16, 12345 };
		watch_next_call();
		aw.setup_nr = 0;
		/* A refill per completion reaped is legal: up to n io_submit calls. */
		aw.submit_limit = (long)n + SUBMIT_LIMIT;
		ret = SEAM_CALL(laio_batch_read(reqs, n, cases[c].qd));
		grade_check(ret == 0, "laio_batch_read(reqs, %zu, %u) returned %s, expected 0",
			    n, cases[c].qd, errno_name(ret));
		for (size_t i = 0; i < n; i++) {
			grade_check(reqs[i].res == 16, "%zu reads at qd %u: request %zu has res %s, "
				    "expected 16", n, cases[c].qd, i, errno_name(reqs[i].res));
			grade_check_same(reqs[i].buf, f.data + reqs[i].offset, 16, "laio_batch_read");
		}
		grade_check(aw.setup_nr >= 1 && aw.setup_nr <= (long)window,
			    "%zu reads at qd %u: io_setup was asked for %ld events; expected "
			    "1 to the window, min(qd, n, LAIO_MAX_QD) = %zu: a context sized by "
			    "qd (or capped only by LAIO_MAX_QD) charges the machine-wide "
			    "aio-max-nr for slots that n requests never use", n, cases[c].qd,
			    aw.setup_nr, window);
		grade_check(aw.max_inflight == (long)window, "%zu reads at qd %u: at most %ld "
			    "requests were in flight at once, expected the window, min(qd, n, "
			    "LAIO_MAX_QD) = %zu", n, cases[c].qd, aw.max_inflight, window);
	}
	free(reqs);
	free(bufs);
	close_datafile(&f);
}

GRADE_TEST(window, results_by_event_not_order, 2,
	   "completions arriving latest first still land in the right requests",
	   "TODO 6: find the request through ev.data (what you put in iocb.data) or "
	   "ev.obj, never through its position in events[] or the order of submission "
	   "(pitfall 4)")
{
	const size_t n = 24;
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = plan_new(n);
	long before;

	/* Results that cannot be mistaken for one another: reads inside the
	 * file, reads crossing its end (short) and reads past it (0). */
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 0)
			plan_read(&p, i, &f, -1, (off_t)grade_rand_below(250000), 100 + 37 * i,
				  "a read inside the file");
		else if (i % 3 == 1)
			plan_read(&p, i, &f, -1, (off_t)(f.size - 50 - i), 100 + 37 * i,
				  "a read crossing end of file");
		else
			plan_read(&p, i, &f, -1, (off_t)(f.size + 1000 * i), 100 + 37 * i,
				  "a read past end of file");
	}
	watch_start();
	aw.reverse = true;
	run_batch(&p, 8, "24 requests at qd 8, each io_getevents answering latest first");
	require_events_seen(0, "24 requests at qd 8");
	aw.one_at_a_time = true;
	before = aw.events;
	run_batch(&p, 6, "24 requests at qd 6, one completion per io_getevents, latest first");
	require_events_seen(before, "24 requests at qd 6");
	plan_free(&p);
	close_datafile(&f);
}

/* ----------------------------------------------------------------- faults */

GRADE_TEST(faults, partial_submit, 3,
	   "io_submit accepting only 1-3 of the iocbs it is given (also with -EINTR between): "
	   "the rest submitted again, before any wait",
	   "TODO 4: io_submit returns how many iocbs it accepted, from the front of the "
	   "array; the others were NOT submitted: submit them again, at once, before "
	   "waiting; -EINTR (nothing submitted) too (io_submit(2), pitfall 5)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 50, 10000);

	watch_start();
	aw.accept_cycle = 3;
	run_batch(&p, 8, "50 requests at qd 8, io_submit taking 1, 2 or 3 per call");
	grade_check(aw.max_inflight <= 8, "%ld requests were in flight at once with qd 8",
		    aw.max_inflight);
	aw.accept_cycle = 1;
	run_batch(&p, 5, "50 requests at qd 5, io_submit taking 1 per call");
	plan_free(&p);

	/* Reads inside the file only (every one reaches io_submit): after a
	 * partial io_submit, the rest of the window goes out before any wait. */
	p = plan_new(40);
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
			  1 + grade_rand_below(9999), "a read inside the file");
	watch_start();
	aw.accept_cycle = 3;
	aw.window = 8;
	aw.batch_n = (long)p.n;
	run_batch(&p, 8, "40 requests at qd 8, io_submit taking 1, 2 or 3 per call");
	grade_check(aw.waits_below == 0, "io_submit took only part of the iocbs it was given, "
		    "and laio_batch_read then waited in io_getevents %ld time(s) with fewer than "
		    "8 requests in flight while requests were still waiting to go out (first: "
		    "%ld in flight, %ld of 40 submitted): the iocbs io_submit did not take are "
		    "submitted again at once, before any wait, so that the window is full "
		    "(TODO 4; laio.h: \"the window is filled ... before the first wait\"); "
		    "and every slot that completions free takes the next request before the "
		    "next wait (02.05 tells these two apart)",
		    aw.waits_below, aw.waits_below_inflight, aw.waits_below_accepted);

	/* The same with a signal before every second io_submit (-EINTR:
	 * nothing submitted): no reason to wait either, submit again at once. */
	watch_start();
	aw.accept_cycle = 3;
	aw.submit_eintr_every = 2;
	aw.window = 8;
	aw.batch_n = (long)p.n;
	run_batch(&p, 8, "40 requests at qd 8, io_submit taking 1, 2 or 3 per call and "
		  "answering -EINTR every second call");
	grade_check(aw.submit_eintrs > 0, "harness: no -EINTR was injected into io_submit");
	grade_check(aw.waits_below == 0, "io_submit took part of the window, then answered "
		    "-EINTR (a signal came before it submitted anything), and laio_batch_read "
		    "then waited in io_getevents %ld time(s) with fewer than 8 requests in flight "
		    "while requests were still waiting to go out (first: %ld in flight, %ld of 40 "
		    "submitted): -EINTR from io_submit is answered by calling io_submit again at "
		    "once, with the same iocbs, not by reaping first: the window is full before "
		    "the first wait (TODO 4; laio.h: \"io_submit returning -EINTR ... submit the "
		    "same iocbs again\")", aw.waits_below, aw.waits_below_inflight,
		    aw.waits_below_accepted);
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(faults, eagain_retried, 2,
	   "io_submit answering -EAGAIN (the first three calls, then every second one; three "
	   "times before each, also before each piece of one request read in 1000 pieces; "
	   "pauses cut short by a signal)",
	   "TODO 4: -EAGAIN means \"no resources now\": with requests in flight, reap "
	   "(io_getevents) and submit again; with none, pause a few milliseconds and "
	   "retry (a bounded number of times, more than three; a signal that ends a pause "
	   "early changes nothing) (pitfall 7)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = plan_new(40);

	/* Reads inside the file, none of length 0: every request must reach
	 * io_submit (a module may answer a read past the end without the
	 * kernel), so that the -EAGAIN counted below are all injected. */
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
			  1 + grade_rand_below(9999), "a read inside the file");
	watch_start();
	aw.eagain_first = 3;
	aw.eagain_every = 2;
	run_batch(&p, 8, "40 requests at qd 8, io_submit answering -EAGAIN");
	grade_check(aw.eagains >= 4, "harness: only %ld -EAGAIN were injected", aw.eagains);
	/* qd 1: nothing is in flight at any io_submit, and each request is
	 * refused three times before it is accepted: 120 refusals in all, never
	 * more than 3 in a row. The bound is on refusals in a row. */
	watch_start();
	aw.eagain_run = 3;
	run_batch(&p, 1, "40 requests at qd 1, io_submit answering -EAGAIN three times before "
		  "accepting each (120 times in all, at most 3 in a row)");
	grade_check(aw.eagains >= 120, "harness: only %ld -EAGAIN were injected", aw.eagains);
	/* The same, with a signal arriving during each of the first ten pauses:
	 * the pause ends early (EINTR), and that is all. */
	watch_start();
	aw.eagain_run = 3;
	aw.pause_eintrs = 10;
	plan_reset(&p);
	{
		int ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 1));

		grade_check(ret == 0, "40 requests at qd 1, io_submit answering -EAGAIN three times "
			    "before accepting each, a signal handler running during %ld of the pauses "
			    "between tries (the pause returned early: nanosleep failing with EINTR, "
			    "or an io_getevents with a timeout, nothing in flight, answering "
			    "-EINTR): laio_batch_read returned %s, expected 0. A signal during the "
			    "pause only shortens it: retry io_submit as after any pause (the "
			    "batch's answer is never the pause's -EINTR) (TODO 4; laio.h)",
			    aw.pauses_cut, errno_name(ret));
		plan_check(&p, "40 requests at qd 1, -EAGAIN three times before each, pauses "
			   "cut short by signals");
	}
	/* One request read in 1000 pieces (each iocb answered with at most 1000
	 * bytes), at qd 1, every piece refused three times before it is
	 * accepted: 3000 refusals, never more than 3 in a row. io_submit taking
	 * the rest of a short read is a success like any other and starts the
	 * count again; a count kept per request (reset only when a new request
	 * starts) runs out, whatever its bound (02.10 allows fewer than 1000). */
	{
		const size_t len = 1000 * 1000;
		unsigned char *buf = aligned_buffer(len);
		int pfd = grade_open("/dev/null", O_RDONLY);   /* never read: it pretends */
		struct batch_req one = { pfd, 4096, len, buf, 12345 };
		int ret;

		watch_start();
		aw.eagain_run = 3;
		aw.submit_limit = 5000;   /* 4 calls for each of the 1000 pieces */
		aw.loop_why = "io_submit answered -EAGAIN three times before taking each piece of "
			      "one request read 1000 bytes at a time: a loop that never ends?";
		pretend_aio_start(pfd, buf, 4096);
		pa.cap = 1000;
		ret = SEAM_CALL(laio_batch_read(&one, 1, 1));
		close(pfd);
		free(buf);
		grade_check(ret == 0 && one.res == (ssize_t)len, "one request of %zu bytes at qd 1, "
			    "each iocb answered with at most 1000 bytes (%ld piece(s) taken), "
			    "io_submit answering -EAGAIN three times before taking each piece (%ld "
			    "in all, never more than 3 in a row): laio_batch_read returned %s, res %s, "
			    "expected 0 and %zu. io_submit taking the rest of a short read is a "
			    "success like any other: it starts the count of tries again (laio.h: "
			    "\"a success starts the count again\"); a count kept per request, reset "
			    "only when a new request starts, runs out on a request read in many "
			    "pieces (TODO 4; pitfall 7)", len, pa.pieces, aw.eagains, errno_name(ret),
			    errno_name(one.res), len);
	}
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(faults, eagain_gives_up, 1,
	   "io_submit answering -EAGAIN for ever (also with -EINTR in between): -EAGAIN after "
	   "a bounded number of tries",
	   "TODO 4: with nothing in flight, retry -EAGAIN a bounded number of times (say "
	   "50, a few ms apart), then end the batch with -EAGAIN; TODO 7: io_destroy on "
	   "that path too")
{
	struct datafile f = make_datafile("f", 10000, O_RDONLY);
	struct plan p = random_plan(&f, 4, 1000);
	struct seam_heap heap;
	int ret;

	watch_start();
	aw.eagain_always = true;
	aw.submit_limit = 1000;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EAGAIN, "laio_batch_read returned %s after io_submit answered "
		    "-EAGAIN %ld times in a row; expected -EAGAIN", errno_name(ret), aw.eagains);
	grade_check(aw.setups == aw.destroys, "laio_batch_read returned without io_destroy "
		    "(io_setup %ld, io_destroy %ld)", aw.setups, aw.destroys);
	grade_check(aw.pauses > 0, "laio_batch_read retried -EAGAIN with nothing in flight "
		    "%ld times without a pause of any length (nanosleep of a positive time, or "
		    "io_getevents with a timeout of milliseconds, min_nr 1 and nr at least 1: with "
		    "min_nr 0 it is satisfied at once, with nr below min_nr the kernel refuses it "
		    "at once (EINVAL), the timeout never runs, and the retries spin; "
		    "io_getevents(2))", aw.eagains);
	grade_check(aw.paused_ns <= 10000000000LL, "laio_batch_read paused %.1f s in all "
		    "(%ld pauses) before giving up: pauses are meant to be short (milliseconds: "
		    "a timespec of { 0, 5000000 } is 5 ms, { 5, 0 } is 5 s), the whole retry "
		    "budget well under a second (laio.h; the tests allow 10 s)",
		    (double)aw.paused_ns / 1e9, aw.pauses);
	grade_check(aw.paused_ns >= aw.pauses * 100000LL, "laio_batch_read paused %ld times "
		    "between -EAGAIN tries, %.1f microseconds each on average: a pause of "
		    "microseconds gives the kernel no time to free anything, so the whole retry "
		    "budget is spent at once. Pause a few milliseconds (a timespec of { 0, "
		    "5000000 } is 5 ms, { 0, 5000 } is 5 microseconds) (TODO 4; laio.h)",
		    aw.pauses, (double)aw.paused_ns / (double)aw.pauses / 1e3);
	grade_check(aw.unpaused_retries == 0, "laio_batch_read called io_submit again %ld "
		    "time(s) right after -EAGAIN with nothing in flight, without a pause "
		    "between (%ld tries, %ld pauses): every try needs its pause, the last "
		    "ones too. A pause the kernel refuses is none: nanosleep fails at once "
		    "with EINVAL when tv_nsec is above 999999999, so a pause that grows "
		    "(5 ms, 10 ms, ...) must carry whole seconds into tv_sec (TODO 4; "
		    "nanosleep(2), ERRORS)", aw.unpaused_retries, aw.eagains, aw.pauses);
	grade_check_heap(&heap, "laio_batch_read giving up on -EAGAIN");

	/* -EINTR between the refusals: no success, so the count goes on. */
	watch_next_call();
	aw.eagain_always = true;
	aw.submit_eintr_every = 2;
	aw.eintr_first_in_turn = true;
	aw.submit_limit = 2000;   /* 1000 refusals, and a -EINTR after each */
	aw.loop_why = "io_submit answered -EAGAIN and -EINTR in turn, nothing in flight: "
		      "-EINTR accepts nothing, so it is no success and does not start the "
		      "count of -EAGAIN tries again; give up with -EAGAIN after a bounded "
		      "number of them (TODO 4; laio.h: \"a success starts the count again\")";
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EAGAIN, "laio_batch_read returned %s after io_submit answered "
		    "-EAGAIN %ld times and -EINTR %ld times in turn, nothing in flight; expected "
		    "-EAGAIN (-EINTR is no success: the -EAGAIN keep counting)", errno_name(ret),
		    aw.eagains, aw.submit_eintrs);

	/* A signal during every pause (a process with a fast interval timer):
	 * each pause ends early, and each refusal is still a try. */
	watch_next_call();
	aw.eagain_always = true;
	aw.submit_eintr_every = 0;
	aw.eintr_first_in_turn = false;
	aw.pause_eintrs = 1000000;
	aw.submit_limit = 1000;
	aw.loop_why = "a signal handler ran during every pause between the tries, so each "
		      "pause ended early (EINTR): a refusal is a try however long the pause "
		      "after it lasted; count the refusals, not the pauses that ran their "
		      "full time (TODO 4; laio.h: \"a bounded number of retries in a row\")";
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	aw.pause_eintrs = 0;
	grade_check(ret == -EAGAIN, "laio_batch_read returned %s after io_submit answered "
		    "-EAGAIN %ld times in a row, nothing in flight, with every pause between the "
		    "tries cut short by a signal (%ld of them); expected -EAGAIN: a pause that ends "
		    "early is still a pause, and the refusal before it still a try (TODO 4)",
		    errno_name(ret), aw.eagains, aw.pauses_cut);
	plan_free(&p);
	close_datafile(&f);
}

/* After a batch whose io_getevents answered -EINTR, with polls finding
 * nothing (poll_delay): the -EINTR was answered by waiting again, not by
 * polling until something was there. One poll per wait is let through. */
static void check_eintr_waits_again(const char *what)
{
	long waits = aw.getevents_calls - aw.polls - aw.eintrs;

	grade_check(aw.polls <= waits + 4, "%s: laio_batch_read made %ld io_getevents calls, "
		    "%ld of them polls that did not wait (min_nr 0, or a timeout under 0.1 ms) "
		    "and %ld answered -EINTR: after -EINTR your code polls until a completion "
		    "is there, which spins a CPU for as long as the reads take. -EINTR means "
		    "a signal handler ran: call io_getevents again as before, min_nr 1 and no "
		    "timeout, and sleep until a completion arrives (TODO 5; pitfall 8)", what,
		    aw.getevents_calls, aw.polls, aw.eintrs);
	/* Waited again, and as before: for one completion, not for all that
	 * are in flight (the window is watched when the test sets it). */
	grade_check(aw.waits_min_nr_above_one == 0, "%s: after io_getevents answered -EINTR "
		    "your code waited again with min_nr %ld while requests were still waiting "
		    "to start (%ld such wait(s)): it now sleeps until that many reads finish, "
		    "and the slot of the first one stays idle meanwhile. A signal changes "
		    "nothing about what to wait for: call io_getevents again exactly as before, "
		    "min_nr 1 (TODO 5; pitfall 8; lesson: \"Reaping: min_nr, nr and the "
		    "timeout\")", what, aw.wait_min_nr, aw.waits_min_nr_above_one);
}

GRADE_TEST(faults, getevents_eintr, 2,
	   "io_getevents interrupted by a signal (-EINTR, every second call; 20 and 10000 "
	   "times in a row): waited again as before, for one completion",
	   "TODO 5: -EINTR from io_getevents means a signal handler ran while you waited; "
	   "nothing happened to the requests: call it again (pitfall 8)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 40, 10000);

	watch_start();
	aw.eintr_every = 2;
	aw.window = 8;
	aw.batch_n = 40;
	/* Polls (min_nr 0, or a timeout of (nearly) nothing) find nothing the
	 * first 1000 times after each io_submit: code that answers -EINTR by
	 * polling until something is there spins; one that waits again does
	 * not. */
	aw.poll_delay = 1000;
	run_batch(&p, 8, "40 requests at qd 8, io_getevents answering -EINTR every second call");
	grade_check(aw.eintrs > 0, "harness: no -EINTR was injected");
	check_eintr_waits_again("40 requests at qd 8, io_getevents answering -EINTR every "
				"second call");
	/* A process whose signals come often: every -EINTR is waited again,
	 * however many come in a row. */
	watch_start();
	aw.eintr_first = 20;
	aw.window = 8;
	aw.batch_n = 40;
	aw.poll_delay = 1000;
	run_batch(&p, 8, "40 requests at qd 8, io_getevents answering -EINTR 20 times in a row "
		  "(wait again after each: a count of tries does not apply to -EINTR)");
	grade_check(aw.eintrs == 20, "harness: %ld -EINTR were injected, not 20", aw.eintrs);
	check_eintr_waits_again("40 requests at qd 8, io_getevents answering -EINTR 20 times "
				"in a row");
	/* A long wait in a process with a fast interval timer (a profiler's
	 * SIGPROF every millisecond): thousands of -EINTR in one wait. Any
	 * count of tries runs out; there must be none. */
	watch_start();
	aw.eintr_first = 10000;
	aw.poll_delay = 1000;
	run_batch(&p, 8, "40 requests at qd 8, io_getevents answering -EINTR 10000 times in a "
		  "row (a signal every millisecond during a wait of 10 s): wait again after each, "
		  "with no count of tries");
	grade_check(aw.eintrs == 10000, "harness: %ld -EINTR were injected, not 10000",
		    aw.eintrs);
	check_eintr_waits_again("40 requests at qd 8, io_getevents answering -EINTR 10000 times "
				"in a row");
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(faults, short_reads_continue, 3,
	   "short reads (every res halved) continue from offset + done; end of file stops",
	   "TODO 6: a positive res smaller than what was asked is not the end: the missing "
	   "part goes out through io_submit again, from where the read stopped; res 0 is "
	   "end of file (lesson: \"Short reads, EOF and -EINTR inside res\", pitfall 9)")
{
	struct datafile f = make_datafile("f", 100000, O_RDONLY);
	struct plan p = plan_new(20);

	for (size_t i = 0; i < 16; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(90000),
			  1 + grade_rand_below(9000), "a read inside the file");
	plan_read(&p, 16, &f, -1, 99000, 5000, "crosses end of file");
	plan_read(&p, 17, &f, -1, 100000, 10, "at end of file");
	plan_read(&p, 18, &f, -1, 5, 1, "one byte");
	plan_read(&p, 19, &f, -1, 0, 100000, "the whole file");
	watch_start();
	aw.halve = true;
	run_batch(&p, 6, "20 requests at qd 6, every read returning half of what it did");
	require_events_seen(0, "20 requests at qd 6, every read halved");
	grade_check(aw.zero_len_iocbs == 0, "laio_batch_read submitted %ld read(s) of 0 bytes "
		    "in a batch without zero-length requests: a request that has all its len "
		    "bytes is finished (its res is len); asking the kernel for 0 more bytes is "
		    "a wasted round trip (laio.h: \"until len bytes or EOF\")", aw.zero_len_iocbs);
	/* The same, the device finishing one read at a time: the rest of each
	 * short read goes out before the next wait, while the others run. */
	watch_next_call();
	aw.one_at_a_time = true;
	run_batch(&p, 6, "20 requests at qd 6, every read halved, completions one at a time");
	grade_check(aw.waits_owing_remainder == 0, "20 requests at qd 6, every read halved, "
		    "completions one at a time: laio_batch_read waited in io_getevents %ld "
		    "time(s) after a short read came back and before submitting its rest (first: "
		    "%ld read(s) in flight): the rest of a short read keeps its slot, and goes out "
		    "through io_submit before the next wait, like a new request in a freed slot; "
		    "held back until the window drains, that slot sits idle while the device has "
		    "fewer than qd reads (TODOs 5 and 6; pitfalls 3 and 9)",
		    aw.waits_owing_remainder, aw.waits_owing_inflight);
	grade_check(aw.waits_min_nr_halved == 0, "20 requests at qd 6, every read halved, "
		    "completions one at a time: laio_batch_read waited in io_getevents %ld "
		    "time(s) for more than one completion (first: min_nr %ld): every read comes "
		    "back short here, so the rest of the first one to finish waited for the "
		    "others before it could go out. That holds at the end of the batch too, "
		    "when no request is left to start: a wait for everything still in flight "
		    "holds back the rest of every short read among them. Wait with min_nr 1 "
		    "and submit each rest as it comes (TODO 5; pitfall 9)",
		    aw.waits_min_nr_halved, aw.wait_min_nr_halved);
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(faults, pipe_in_pieces, 2,
	   "a pipe fed 333 bytes at a time, in a batch with file reads: every piece collected",
	   "TODO 6: a read of a pipe completes with what is there now (a short read): "
	   "submit the rest until len bytes or end of file (res 0)")
{
	const size_t len = 9000;
	unsigned char *pipe_data = grade_random_bytes(len);
	struct datafile f = make_datafile("f", 50000, O_RDONLY);
	struct datafile fromp = { pipe_data, len, -1 };
	struct plan p = plan_new(3);
	int fds[2];
	struct fault *flt;
	struct fault_report r;
	int ret;

	fault_pipe(fds, 0);
	plan_read(&p, 0, &f, -1, 1000, 4000, "a file read");
	/* asks for more than will come: the writer closes, the read sees EOF */
	plan_read(&p, 1, &fromp, fds[0], 0, len + 500, "the pipe");
	plan_read(&p, 2, &f, -1, 30000, 7000, "a file read");
	watch_start();
	flt = fault_start((struct fault_step[]){
		{ .op = FAULT_WRITE_PIECES, .fd = fds[1], .data = pipe_data, .len = len,
		  .piece = 333 },
		{ .op = FAULT_CLOSE, .fd = fds[1] },
		{ .op = FAULT_END } });
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 3));
	r = fault_join(flt);
	grade_check(ret == 0, "laio_batch_read returned %s, expected 0", errno_name(ret));
	plan_check(&p, "a pipe fed in pieces of 333 bytes, then closed");
	grade_check(r.gave_up == 0, "the writer gave up: laio_batch_read stopped reading "
		    "the pipe before its end");
	close(fds[0]);
	free(r.sink);
	plan_free(&p);
	close_datafile(&f);
}

/* One read of 5000 bytes at offset 4096 that the harness pretends to
 * answer 1000 bytes at a time (the fd is /dev/null, never read), its second
 * piece answered res -EINTR count times in a row. *one is the request as
 * the module left it; the buffer is freed. */
static int read_with_eintr_burst(long count, struct batch_req *one)
{
	unsigned char *buf = aligned_buffer(5000);
	int pfd = grade_open("/dev/null", O_RDONLY);
	int ret;

	*one = (struct batch_req){ pfd, 4096, 5000, buf, 12345 };
	watch_start();
	pretend_aio_start(pfd, buf, 4096);
	pa.cap = 1000;
	pa.eintr_piece = 2;
	pa.eintr_count = count;
	ret = SEAM_CALL(laio_batch_read(one, 1, 1));
	close(pfd);
	free(buf);
	return ret;
}

GRADE_TEST(faults, signal_during_read, 2,
	   "a signal interrupts a pipe read inside io_submit: res -EINTR is tried again, "
	   "however often it comes, and before the next wait",
	   "TODO 6: res == -EINTR means a blocking read was interrupted by a signal "
	   "before any data (AIO is never restarted by the kernel): submit the same "
	   "piece again, as often as it comes, before waiting again (pitfall 11)")
{
	const size_t len = 4096;
	unsigned char *pipe_data = grade_random_bytes(len);
	struct datafile fromp = { pipe_data, len, -1 };
	struct plan p = plan_new(1);
	int fds[2];
	struct fault *flt;
	struct fault_report r;
	int ret;

	fault_pipe(fds, 0);
	plan_read(&p, 0, &fromp, fds[0], 0, len, "the pipe");
	watch_start();
	/* A read of an empty pipe sleeps inside io_submit (kernel AIO reads
	 * of pipes are synchronous); SIGUSR1 has a handler without SA_RESTART. */
	flt = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_submit },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_submit },
		{ .op = FAULT_WRITE, .fd = fds[1], .data = pipe_data, .len = len },
		{ .op = FAULT_CLOSE, .fd = fds[1] },
		{ .op = FAULT_END } });
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 1));
	r = fault_join(flt);
	grade_check(r.signals == 1, "laio_batch_read never slept inside io_submit reading "
		    "an empty pipe, so the signal could not be sent (it returned %s)",
		    errno_name(ret));
	grade_check(ret == 0, "laio_batch_read returned %s, expected 0", errno_name(ret));
	plan_check(&p, "a pipe read interrupted by a signal");
	grade_check(r.blocked_seen == 2, "after the signal, the read was not submitted again");
	close(fds[0]);
	free(r.sink);
	plan_free(&p);

	/* A request read in pieces of 1000 bytes whose second piece is
	 * interrupted: the same piece goes again, from byte 1000. Once, then in
	 * bursts: ten in a row, and a thousand (a signal every millisecond while
	 * a pipe stays empty for a second). */
	{
		static const struct {
			long count;
			const char *times, *advice;
		} burst[3] = {
			{ 1, "once", "-EINTR means that piece read nothing: submit the same piece "
			  "again, keeping the 1000 bytes already in" },
			{ 10, "ten times in a row", "Each -EINTR is a signal that came before any "
			  "byte of that piece: submit it again however often it comes, with no "
			  "count of tries" },
			{ 1000, "1000 times in a row", "A count of tries, even a large one, turns a "
			  "busy signal handler into a failed read: submit the piece again each "
			  "time, with no count" },
		};

		for (int k = 0; k < 3; k++) {
			struct batch_req one;
			int ret = read_with_eintr_burst(burst[k].count, &one);

			grade_check(pa.eintrs >= 1, "harness: the second piece was not interrupted "
				    "(%ld piece(s) submitted)", pa.pieces);
			grade_check(ret == 0 && one.res == 5000, "a read of 5000 bytes answered 1000 "
				    "at a time, its second piece interrupted %s (res -EINTR %ld "
				    "time(s)): laio_batch_read returned %s, res %s, expected 0 and "
				    "5000. %s (TODO 6, pitfall 11)", burst[k].times, pa.eintrs,
				    errno_name(ret), errno_name(one.res), burst[k].advice);
		}
	}

	/* -EINTR in res while other reads are in flight: the interrupted piece
	 * keeps its slot and goes out again before the next wait, as the rest
	 * of a short read does; held back, its slot idles while requests wait. */
	{
		struct datafile f = make_datafile("f", 300000, O_RDONLY);
		struct plan q = plan_new(40);

		for (size_t i = 0; i < q.n; i++)
			plan_read(&q, i, &f, -1, (off_t)grade_rand_below(290000),
				  1 + grade_rand_below(8000), "a read inside the file");
		watch_start();
		aw.one_at_a_time = true;
		aw.eintr_res_every = 3;
		aw.window = 8;
		aw.batch_n = (long)q.n;
		run_batch(&q, 8, "40 requests at qd 8, every third completion answered res -EINTR, "
			  "completions one at a time");
		grade_check(aw.eintr_res_injected >= 5, "harness: only %ld completion(s) were "
			    "answered -EINTR", aw.eintr_res_injected);
		grade_check(aw.waits_below == 0 && aw.max_inflight == 8, "40 requests at qd 8, "
			    "every third completion answered res -EINTR, completions one at a time: "
			    "laio_batch_read waited in io_getevents %ld time(s) with fewer than 8 "
			    "reads in flight while requests were still waiting to start (first: %ld "
			    "in flight, %ld iocb(s) submitted; at most %ld at once): a piece that came "
			    "back -EINTR keeps its slot and goes out again through io_submit before "
			    "the next wait, like the rest of a short read; held back until the window "
			    "drains, its slot sits idle (TODO 6; pitfalls 3 and 11)", aw.waits_below,
			    aw.waits_below_inflight, aw.waits_below_accepted, aw.max_inflight);
		plan_free(&q);
		close_datafile(&f);
	}
}

GRADE_TEST(faults, eagain_paced, 2,
	   "after -EAGAIN from io_submit: reap one completion before retrying with requests in "
	   "flight, pause with none; never io_submit again at once",
	   "TODO 4: -EAGAIN means the kernel is out of room now; calling io_submit again "
	   "at once spins. With requests in flight, io_getevents first (each completion "
	   "frees room); with none, nanosleep a few milliseconds between tries (pitfall 7)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 40, 10000);

	watch_start();
	aw.eagain_first = 3;   /* nothing in flight yet: only a pause helps */
	aw.eagain_every = 2;   /* later, with requests in flight: reap first */
	/* Keep requests in flight: io_submit takes 1-3 iocbs, and the device
	 * finishes one read at a time. */
	aw.accept_cycle = 3;
	aw.one_at_a_time = true;
	/* A wait with a timeout sees it run out, the first five times: that
	 * wait reaped nothing. (A wait with no timeout is never refused.) */
	aw.timeout_zeros = 5;
	run_batch(&p, 8, "40 requests at qd 8, io_submit answering -EAGAIN");
	grade_check(aw.eagains >= 4, "harness: only %ld -EAGAIN were injected", aw.eagains);
	grade_check(aw.unpaused_retries == 0, "io_submit answered -EAGAIN with nothing in "
		    "flight, and your code called it again %ld time(s) without pausing first "
		    "(no nanosleep, no io_getevents with a timeout and min_nr 1: min_nr 0 "
		    "returns at once): that spins a CPU until the kernel has room",
		    aw.unpaused_retries);
	grade_check(aw.resubmits_unreaped == 0, "io_submit answered -EAGAIN with requests in "
		    "flight, and your code called it again %ld time(s) before reaping any "
		    "(io_getevents handing back at least one event; %ld of those after an "
		    "io_getevents that handed back none: a poll that finds nothing, or a wait "
		    "whose timeout ran out, reaped nothing): reap first, completions free the "
		    "room it lacks; wait for one with min_nr 1 (a wait with a timeout that "
		    "comes back empty is waited again)", aw.resubmits_unreaped,
		    aw.resubmits_after_empty_poll);
	grade_check(aw.eagain_rewaits == 0, "io_submit answered -EAGAIN with requests in "
		    "flight, and before calling it again your code waited %ld time(s) for more "
		    "than one completion (first: min_nr %ld with %ld in flight, or a second wait "
		    "after one had come back): one completion frees the room -EAGAIN lacked; "
		    "waiting for the rest drains the window, the device idles with fewer than "
		    "qd reads. Reap (min_nr 1), then refill and io_submit again (TODO 4; laio.h: "
		    "\"reap at least one completion, then retry\"; pitfall 3)", aw.eagain_rewaits,
		    aw.eagain_rewait_min_nr, aw.eagain_rewait_inflight);
	grade_check(aw.pauses_inflight == 0, "io_submit answered -EAGAIN with requests in "
		    "flight, and your code paused %ld time(s) (nanosleep, usleep, poll, ...) while "
		    "reads of its own were in flight: a completion is what frees the room "
		    "-EAGAIN lacked, and io_getevents (min_nr 1) waits exactly until one comes; "
		    "a sleep on top of it only leaves the refill late. Pause only when nothing "
		    "of yours is in flight (TODO 4; laio.h: \"Nothing else pauses\"; pitfall 7)",
		    aw.pauses_inflight);
	/* qd 2, io_submit taking one iocb per call and answering -EAGAIN every
	 * second call: the -EAGAIN comes with exactly one request in flight. */
	watch_start();
	aw.accept_cycle = 1;
	aw.eagain_every = 2;
	run_batch(&p, 2, "40 requests at qd 2, io_submit taking one iocb per call and "
		  "answering -EAGAIN every second call");
	grade_check(aw.resubmits_unreaped == 0 && aw.unpaused_retries == 0, "io_submit "
		    "answered -EAGAIN with one request in flight, and your code called it "
		    "again %ld time(s) before reaping it (and %ld time(s) without any pause): "
		    "with anything in flight, reap first (one request in flight is not "
		    "nothing in flight)", aw.resubmits_unreaped, aw.unpaused_retries);
	plan_free(&p);

	/* The -EAGAIN comes right after io_submit refused a request with an
	 * error, whose slot is free again while requests wait to start: reap
	 * first all the same. qd 3, io_submit taking one iocb per call and
	 * answering -EAGAIN every third call: the first takes request 0, the
	 * second fails request 1 (fd 9999: -EBADF), the third is -EAGAIN with
	 * request 0 in flight. */
	p = plan_new(6);
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)(i * 9000), 5000, "a good read");
	plan_error(&p, 1, 9999, 0, 100, -EBADF, "fd 9999, not open");
	watch_start();
	aw.accept_cycle = 1;
	aw.eagain_every = 3;
	run_batch(&p, 3, "6 requests at qd 3, the second on fd 9999 (not open), io_submit "
		  "taking one iocb per call and answering -EAGAIN every third call");
	grade_check(aw.eagains >= 1, "harness: no -EAGAIN was injected");
	grade_check(aw.resubmits_unreaped == 0, "io_submit refused a request (fd 9999: -EBADF) "
		    "and then answered -EAGAIN with a request in flight, and your code called it "
		    "again %ld time(s) before reaping any: the slot the refused request gave "
		    "back can be refilled, but the io_submit that carries it waits for the "
		    "io_getevents that -EAGAIN asks for (TODO 4; laio.h: \"reap at least one "
		    "completion, then retry\"; pitfall 7)", aw.resubmits_unreaped);
	plan_free(&p);

	/* qd 8, io_submit answering -EAGAIN every third call and taking all it
	 * is given otherwise, completions one at a time: after the reap that
	 * answers an -EAGAIN, the refused iocbs and the slot that reap freed
	 * all go out before the next wait. Reads inside the file only: each
	 * one reaches io_submit. */
	p = plan_new(40);
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)grade_rand_below(290000),
			  1 + grade_rand_below(9999), "a read inside the file");
	watch_start();
	aw.eagain_every = 3;
	aw.one_at_a_time = true;
	aw.window = 8;
	aw.batch_n = (long)p.n;
	run_batch(&p, 8, "40 requests at qd 8, io_submit answering -EAGAIN every third call, "
		  "completions one at a time");
	grade_check(aw.eagains >= 4, "harness: only %ld -EAGAIN were injected", aw.eagains);
	grade_check(aw.waits_below == 0 && aw.max_inflight == 8, "40 requests at qd 8, io_submit "
		    "answering -EAGAIN every third call, completions one at a time: after the "
		    "reap that answered an -EAGAIN, laio_batch_read submitted again and then "
		    "waited %ld time(s) with fewer than 8 reads in flight while requests were "
		    "still waiting to start (first: %ld in flight, %ld submitted; at most %ld at "
		    "once): the completion that reap brought back freed a slot, which takes the "
		    "next request in the same io_submit as the iocbs the kernel refused, and the "
		    "window is full again before the next wait. -EAGAIN says \"not now\", not "
		    "\"never more than this\": the window stays min(qd, n, LAIO_MAX_QD) (TODOs 3 "
		    "and 4; pitfalls 3 and 7)", aw.waits_below, aw.waits_below_inflight,
		    aw.waits_below_accepted, aw.max_inflight);
	plan_free(&p);
	close_datafile(&f);
}

/* The requests of the error-after-partial tests: the even ones start below
 * FAIL_BELOW and fail after their first piece, the odd ones start above it
 * and read their 4096 bytes, every piece halved. At qd 1 every request
 * takes the slot (or whatever the code keeps per request in flight) that a
 * failed one just left: nothing of the failed request's progress may carry
 * over to the next. */
#define FAIL_BELOW (32 * 4096)

/* Events of reads at an offset that is not a multiple of 4096 (the rest of
 * a short read, since every request starts on one) below FAIL_BELOW fail
 * with -EIO. */
static int eio_on_remainder(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			    struct timespec *ts)
{
	int got = w_io_getevents(ctx, min_nr, nr, ev, ts);

	for (int i = 0; i < got; i++)
		if (ev[i].obj && ev[i].obj->u.c.offset % 4096 != 0 &&
		    ev[i].obj->u.c.offset < FAIL_BELOW)
			ev[i].res = (unsigned long)-EIO;
	return got;
}

/* io_submit refusing, with -EBADF, an iocb at an offset that is not a
 * multiple of 4096 below FAIL_BELOW (the rest of a short read: as if its fd
 * had been closed between the two pieces), the first of the array; the
 * iocbs before one are accepted, as the kernel does. */
static long remainder_refusals;

static int ebadf_on_remainder_submit(io_context_t ctx, long nr, struct iocb **list)
{
	for (long i = 0; list && i < nr; i++) {
		if (!list[i] || list[i]->u.c.offset % 4096 == 0 ||
		    list[i]->u.c.offset >= FAIL_BELOW)
			continue;
		if (i > 0) {
			nr = i;
			break;
		}
		if (++remainder_refusals > 1000)
			grade_fail("io_submit refused the rest of a short read with -EBADF %ld "
				   "times: a negative io_submit return is the error of the first "
				   "iocb of the array; that request is finished with it (TODO 4)",
				   remainder_refusals - 1);
		errno = ERRNO_MARKER;
		return -EBADF;
	}
	return w_io_submit(ctx, nr, list);
}

/* 12 requests of 4096 bytes of f: the even ones fail half way with err, the
 * odd ones read (FAIL_BELOW). */
static struct plan fail_half_plan(const struct datafile *f, ssize_t err)
{
	struct plan p = plan_new(12);

	for (size_t i = 0; i < p.n; i++) {
		if (i % 2 == 0) {
			plan_read(&p, i, f, -1, (off_t)(4096 * (i * 5 % 30)), 4096,
				  "a read that fails half way");
			p.want[i] = err;
		} else {
			plan_read(&p, i, f, -1, (off_t)(FAIL_BELOW + 4096 * (i * 7 % 30)), 4096,
				  "a good read after one that failed half way");
		}
	}
	return p;
}

/* Run p (from fail_half_plan) at qd through laio_batch_read (ctx 0) or
 * laio_batch_read_ctx on ctx (32 events), and check every request: a failed
 * request's res is its error, and the good one that follows it in a slot
 * starts from its own first byte. */
static void check_fail_half(struct plan *p, io_context_t ctx, unsigned qd, const char *how,
			    const char *todo)
{
	const char *fn = ctx ? "laio_batch_read_ctx" : "laio_batch_read";
	int ret;

	plan_reset(p);
	watch_next_call();
	ret = ctx ? SEAM_CALL(laio_batch_read_ctx(ctx, 32, p->reqs, p->n, qd)) :
		    SEAM_CALL(laio_batch_read(p->reqs, p->n, qd));
	grade_check(ret == 0, "%s: 12 reads at qd %u, every piece halved, the even ones %s: "
		    "returned %s, expected 0", fn, qd, how, errno_name(ret));
	for (size_t i = 0; i < p->n; i += 2)
		grade_check(p->reqs[i].res == p->want[i], "%s, qd %u: request %zu (offset %lld, "
			    "len 4096): its first piece read 2048 bytes, then %s; res is %s, "
			    "expected %s: a request that fails after a partial transfer fails, "
			    "however the error comes (a count would claim end of file) (%s; "
			    "pitfall 16)", fn, qd, i, (long long)p->reqs[i].offset, how,
			    errno_name(p->reqs[i].res), errno_name(p->want[i]), todo);
	for (size_t i = 1; i < p->n; i += 2) {
		ssize_t at;

		grade_check(p->reqs[i].res == 4096, "%s, qd %u: request %zu (offset %lld, len "
			    "4096, every piece halved), after request %zu failed half way: res is "
			    "%s, expected 4096. A request that ended in an error leaves nothing "
			    "behind for the next one in its place: bytes done start at 0 for every "
			    "new request, whichever way the last one ended (TODO 3; lesson, \"The "
			    "batch read with a queue-depth window\")", fn, qd, i,
			    (long long)p->reqs[i].offset, i - 1, errno_name(p->reqs[i].res));
		at = grade_first_diff(p->reqs[i].buf, p->src[i], 4096);
		grade_check(at < 0, "%s, qd %u: request %zu (offset %lld, len 4096, every piece "
			    "halved), after request %zu failed half way: res is right but the "
			    "buffer is wrong from byte %zd on%s: the request did not start from "
			    "its own first byte. The progress of a request that ended in an error "
			    "(bytes done) carried over to the next one in its place: reset it when "
			    "a slot takes a new request, on every path (TODO 3)", fn, qd, i,
			    (long long)p->reqs[i].offset, i - 1, at,
			    at >= 0 && never_written((const unsigned char *)p->reqs[i].buf + at,
						     (size_t)(4096 - at)) ? " (never written)" : "");
	}
}

GRADE_TEST(faults, error_after_partial, 2,
	   "a read that fails after a short piece (half, then -EIO in its event, or -EBADF from "
	   "io_submit) gets the error, not the half; the next request in its place starts "
	   "from its own first byte",
	   "TODOs 4 and 6: an error after a partial transfer is still the request's error: res "
	   "= -errno, not the bytes so far, whether it comes in the piece's res or as "
	   "io_submit's error for the piece (a short count would claim end of file; laio.h; "
	   "pitfall 16); TODO 3: a new request starts with 0 bytes done, also after one "
	   "that failed")
{
	struct datafile f = make_datafile("f", 64 * 4096, O_RDONLY);
	static const unsigned qds[] = { 4, 1 };

	watch_start();
	aw.halve = true;        /* every read comes back short: half of it */
	for (size_t q = 0; q < 2; q++) {
		struct plan p = fail_half_plan(&f, -EIO);

		seam_hook_io_getevents = eio_on_remainder;
		seam_hook_io_submit = w_io_submit;
		check_fail_half(&p, 0, qds[q], "the rest failing with -EIO in its event",
				"TODO 6");
		plan_free(&p);

		/* The rest of each short read refused by io_submit itself: -EBADF
		 * is that request's error, whatever its first piece brought. */
		p = fail_half_plan(&f, -EBADF);
		seam_hook_io_getevents = w_io_getevents;
		seam_hook_io_submit = ebadf_on_remainder_submit;
		remainder_refusals = 0;
		check_fail_half(&p, 0, qds[q], "io_submit refusing the rest (the first iocb "
				"of the array) with -EBADF", "TODO 4");
		grade_check(remainder_refusals >= 6, "harness: io_submit refused the rest of "
			    "only %ld short read(s)", remainder_refusals);
		seam_hook_io_submit = w_io_submit;
		plan_free(&p);
	}
	close_datafile(&f);
}

GRADE_TEST(faults, everything_at_once, 2,
	   "partial submits, -EAGAIN, -EINTR, short reads, completions latest first and "
	   "bad requests, all in one batch; then io_submit answering -EINTR 3, 200 and 10000 "
	   "times in a row",
	   "TODOs 4-6: each fault alone has its own test above; start with those")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 60, 12000);

	plan_error(&p, 13, 9999, 0, 100, -EBADF, "fd 9999, not open");
	plan_error(&p, 41, f.fd, -1, 100, -EINVAL, "negative offset");
	watch_start();
	aw.accept_cycle = 3;
	aw.eagain_every = 4;
	aw.eintr_every = 3;
	aw.submit_eintr_every = 5;
	aw.halve = true;
	aw.reverse = true;
	aw.one_at_a_time = true;
	run_batch(&p, 8, "60 requests at qd 8, every fault at once (io_submit answering "
		  "-EINTR every fifth call)");
	grade_check(aw.submit_eintrs > 0, "harness: no -EINTR was injected into io_submit");
	grade_check(aw.max_inflight <= 8, "%ld requests were in flight at once with qd 8",
		    aw.max_inflight);

	/* Signals come in bursts: io_submit answers -EINTR three times in a
	 * row before each call it answers. Every one of them is retried. */
	watch_start();
	aw.submit_eintr_run = 3;
	plan_reset(&p);
	{
		int ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 8));

		grade_check(aw.submit_eintrs >= 3, "harness: no -EINTR was injected into io_submit");
		for (size_t i = 0; i < p.n; i++)
			grade_check(p.reqs[i].res != -EINTR || p.want[i] == -EINTR, "request %zu "
				    "has res -EINTR after io_submit answered -EINTR three times in a "
				    "row: -EINTR from io_submit means a signal came before anything was "
				    "submitted, every time it comes: retry in a loop (while), not once "
				    "(if); it is no request's error (TODO 4; laio.h)", i);
		grade_check(ret == 0, "laio_batch_read returned %s when io_submit answered -EINTR "
			    "three times in a row before each answer, expected 0: -EINTR from "
			    "io_submit is retried however often it comes (TODO 4)", errno_name(ret));
		plan_check(&p, "60 requests at qd 8, io_submit answering -EINTR three times in a "
			   "row before each call it answers");
	}

	/* A long burst: 200 -EINTR in a row before each answer. No count of
	 * tries applies to -EINTR (the -EAGAIN budget is for -EAGAIN alone). */
	watch_start();
	aw.submit_eintr_run = 200;
	aw.submit_limit = 100000;   /* 201 calls for each one answered */
	plan_reset(&p);
	{
		int ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 8));

		grade_check(ret == 0, "laio_batch_read returned %s when io_submit answered -EINTR "
			    "200 times in a row before each answer (%ld in all), expected 0: -EINTR "
			    "accepts nothing and refuses nothing, it is a signal that came first; "
			    "submit again however often it comes, without counting it against the "
			    "-EAGAIN tries (TODO 4; laio.h)", errno_name(ret), aw.submit_eintrs);
		plan_check(&p, "60 requests at qd 8, io_submit answering -EINTR 200 times in a "
			   "row before each call it answers");
	}

	/* One burst of 10000 in a row (a signal every millisecond while the
	 * kernel is busy): no count of tries, however high, applies. */
	{
		struct plan q = random_plan(&f, 4, 4096);
		int ret;

		watch_start();
		aw.submit_eintr_run = 10000;
		aw.submit_limit = 30000;
		ret = SEAM_CALL(laio_batch_read(q.reqs, q.n, 4));
		grade_check(ret == 0, "laio_batch_read returned %s when io_submit answered -EINTR "
			    "10000 times in a row before it took the batch (%ld in all), expected 0: "
			    "however many come, each -EINTR is a signal that came first; a count of "
			    "tries, even a large one, turns a busy signal handler into a failure "
			    "(TODO 4; laio.h)", errno_name(ret), aw.submit_eintrs);
		plan_check(&q, "4 requests at qd 4, io_submit answering -EINTR 10000 times in a "
			   "row before it takes them");
		plan_free(&q);
	}
	plan_free(&p);
	close_datafile(&f);
}

/* ----------------------------------------------------------------- errors */

GRADE_TEST(errors, return_values_not_errno, 2,
	   "errors come from libaio's return values (-errno), never from errno",
	   "TODOs 2 and 4: io_setup, io_submit and io_getevents return -errno and leave "
	   "errno alone: store or return their value itself (io_submit(2), NOTES; "
	   "pitfall 1)")
{
	struct datafile f = make_datafile("f", 100000, O_RDONLY);
	int other = dup(f.fd);
	struct plan p = plan_new(6);
	struct seam_heap heap;
	int ret;

	grade_check(other >= 0, "harness: dup: %s", strerror(errno));
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)(i * 9000), 5000, "a good read");
	plan_error(&p, 1, 9999, 0, 100, -EBADF, "fd 9999, not open");
	plan_error(&p, 3, other, 0, 100, -EBADF, "io_submit answers -EBADF for it");
	watch_start();
	aw.ebadf_fd = other;
	run_batch(&p, 4, "io_submit failing for two requests");
	aw.ebadf_fd = -1;
	aw.setup_error = -EAGAIN;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EAGAIN, "laio_batch_read returned %s when io_setup returned "
		    "-EAGAIN; expected -EAGAIN", errno_name(ret));
	grade_check_heap(&heap, "laio_batch_read whose io_setup failed");
	/* Other answers of io_setup are passed on as they are: -EAGAIN is one
	 * error among several (io_setup(2), ERRORS). */
	{
		static const int errs[] = { -ENOMEM, -ENOSYS };

		for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			aw.setup_error = errs[e];
			seam_heap_usage(&heap);
			watch_next_call();
			aw.setup_calls = 0;
			ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
			grade_check(ret == errs[e], "laio_batch_read returned %s when io_setup "
				    "returned %s; expected %s: the batch returns io_setup's own "
				    "error, whichever it is (laio.h, \"Returns\": -EAGAIN is only "
				    "one of them) (TODO 2)", errno_name(ret),
				    grade_errno_str(errs[e]), grade_errno_str(errs[e]));
			grade_check_heap(&heap, "laio_batch_read whose io_setup failed");
			/* -ENOSYS is the kernel saying it has no AIO at all: no
			 * retry can change that answer. */
			if (errs[e] == -ENOSYS)
				grade_check(aw.setup_calls == 1 && aw.pauses == 0,
					    "laio_batch_read called io_setup %ld times (and paused "
					    "%ld times) when io_setup answered -ENOSYS: -ENOSYS "
					    "means this kernel has no AIO, and asking again cannot "
					    "change that. io_setup's negative return is the batch's "
					    "answer at once (lesson, \"The API, walked through\", "
					    "step 1; TODO 2): retry only what is temporary, as "
					    "io_submit's -EAGAIN and -EINTR are", aw.setup_calls,
					    aw.pauses);
		}
		aw.setup_error = 0;
	}
	/* aio-max-nr nearly used up: io_setup refuses the window with -EAGAIN,
	 * and would take a context of one event. The batch's answer is still
	 * -EAGAIN (laio.h): a smaller context is a smaller window than
	 * min(qd, n, LAIO_MAX_QD), which the caller asked for. */
	aw.setup_error = -EAGAIN;
	aw.setup_error_above = 1;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	aw.setup_error = 0;
	aw.setup_error_above = 0;
	grade_check(ret == -EAGAIN, "laio_batch_read (6 requests at qd 4) returned %s when "
		    "io_setup answered -EAGAIN for the window of 4 events (it would have taken 1); "
		    "expected -EAGAIN: io_setup's -EAGAIN (/proc/sys/fs/aio-max-nr used up) is the "
		    "batch's answer, not a cue to ask for a smaller context: the window is "
		    "min(qd, n, LAIO_MAX_QD), and a caller who wants less passes a smaller qd "
		    "(laio.h, \"Returns\"; TODO 2)", errno_name(ret));
	grade_check(aw.setups == aw.destroys, "laio_batch_read left an io context behind after "
		    "io_setup answered -EAGAIN (io_setup %ld, io_destroy %ld)", aw.setups,
		    aw.destroys);
	grade_check_heap(&heap, "laio_batch_read whose io_setup answered -EAGAIN");
	close(other);
	plan_free(&p);
	close_datafile(&f);
}

/* ----------------------------------------------------------------- direct */

GRADE_TEST(direct, misaligned_per_request, 3,
	   "O_DIRECT: a misaligned offset or length fails that request alone with -EINVAL",
	   "TODO 6: the kernel accepts a misaligned O_DIRECT read and completes it with "
	   "res -EINVAL; libaio.h declares res unsigned, so a negative result must be seen "
	   "as negative, and it belongs to that request alone (pitfall 10). Alignment is "
	   "the kernel's to judge: do not answer it yourself (an fd not open for reading "
	   "is -EBADF first; a read of 0 bytes is the kernel's to answer)")
{
	struct datafile f = make_datafile("f", 1 << 20, O_RDONLY);
	int fd = open_direct_or_skip(grade_path("f"));
	int wfd = open(grade_path("f"), O_WRONLY | O_DIRECT | O_CLOEXEC);
	struct plan p = plan_new(10);
	char none[1];
	ssize_t k;

	require_dio_alignment(fd);
	grade_check(wfd >= 0, "harness: open O_WRONLY | O_DIRECT: %s", strerror(errno));

	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, fd, (off_t)(4096 * (3 * i + 1)), 4096,
			  "an aligned O_DIRECT read");
	plan_error(&p, 2, fd, 4096 * 7 + 100, 4096, -EINVAL, "misaligned offset");
	plan_error(&p, 3, fd, 4096 * 10, 100, -EINVAL, "misaligned length (100)");
	plan_error(&p, 6, fd, 4096 * 19 + 100, 100, -EINVAL, "misaligned offset and length");
	/* Alignment is the kernel's to judge, after its other checks: an fd
	 * not open for reading is -EBADF whatever the offset (io_submit says
	 * so first), and a read of 0 bytes gets what the kernel answers for
	 * it (a pread of 0 bytes there tells: 0 on ext4 and xfs). */
	plan_error(&p, 8, wfd, 4096 * 25 + 100, 4096, -EBADF,
		   "O_WRONLY | O_DIRECT fd, misaligned offset");
	k = SEAM_REAL(pread)(fd, none, 0, 4096 * 28 + 100);
	if (k == 0)
		plan_read(&p, 9, &f, fd, 4096 * 28 + 100, 0, "0 bytes at a misaligned offset");
	else
		plan_error(&p, 9, fd, 4096 * 28 + 100, 0, -errno,
			   "0 bytes at a misaligned offset");
	watch_start();
	run_batch(&p, 2, "O_DIRECT at qd 2");
	run_batch(&p, 10, "O_DIRECT at qd 10");
	plan_free(&p);
	close(wfd);
	close(fd);
	close_datafile(&f);
}

/* -------------------------------------------------------------- resources */

/* io_destroy on a context that is already gone: the kernel refuses it
 * (EINVAL), but the context's id is the address of its ring, which the next
 * mmap of the process may be handed again: another thread's io_setup in
 * between, and the second io_destroy tears down that thread's context. */
static void check_destroyed_once(const char *what)
{
	grade_check(aw.destroys_refused == 0, "%s: io_destroy was called %ld more "
		    "time(s) on a context already destroyed (the kernel answered EINVAL): "
		    "destroy the context exactly once, on the one path every return goes "
		    "through (TODO 7). Its id may already belong to another thread's new "
		    "context, which a second io_destroy would tear down", what,
		    aw.destroys_refused);
}

GRADE_TEST(resources, no_leaks, 2,
	   "no io context, fd or thread left behind: one io_setup and one io_destroy per call",
	   "TODO 7: io_destroy after every successful io_setup, free your bookkeeping; "
	   "open no fd, start no thread (pitfall 12)")
{
	struct datafile f = make_datafile("f", 200000, O_RDONLY);
	struct plan good = random_plan(&f, 30, 10000), bad = random_plan(&f, 10, 1000);
	int maps = count_aio_maps(), fds = fault_count_fds(), threads = fault_count_threads();

	plan_error(&bad, 4, 9999, 0, 100, -EBADF, "fd 9999, not open");
	watch_start();
	run_batch(&good, 4, "30 requests at qd 4");
	grade_check(aw.setups == 1 && aw.destroys == 1, "one laio_batch_read call made %ld "
		    "successful io_setup and %ld io_destroy calls; expected 1 and 1",
		    aw.setups, aw.destroys);
	run_batch(&bad, 4, "10 requests at qd 4, one with a bad fd");
	grade_check(aw.setups == 2 && aw.destroys == 2, "two laio_batch_read calls made %ld "
		    "successful io_setup and %ld io_destroy calls; expected 2 and 2",
		    aw.setups, aw.destroys);
	check_destroyed_once("two laio_batch_read calls");
	grade_check(count_aio_maps() == maps, "%d io context(s) are still mapped (\"[aio]\" "
		    "in /proc/self/maps) after laio_batch_read returned", count_aio_maps() - maps);
	grade_check(fault_count_fds() == fds, "%d more descriptor(s) open after "
		    "laio_batch_read than before", fault_count_fds() - fds);
	grade_check(fault_count_threads() == threads, "%d more thread(s) after "
		    "laio_batch_read than before", fault_count_threads() - threads);
	/* Closed again, an fd of its own leaves no count behind: what the iocbs
	 * asked for and the open calls tell. */
	grade_check(aw.resfd_iocbs == 0, "laio_batch_read offered io_submit %ld iocb(s) that "
		    "ask the kernel to signal an eventfd (io_set_eventfd, IOCB_FLAG_RESFD): laio.h "
		    "says no fd is opened, and this chapter reaps with io_getevents alone (an "
		    "eventfd beside kernel AIO is chapter 04's); drop the eventfd (pitfall 12)",
		    aw.resfd_iocbs);
	grade_check(seam_calls_sum(SEAM_open, SEAM_open64, SEAM_openat, SEAM_openat64,
				   SEAM_COUNT) == 0, "laio_batch_read called open %ld time(s): "
		    "laio.h says no fd is opened; every request names its fd, which the "
		    "caller opened (pitfall 12)", seam_calls_sum(SEAM_open, SEAM_open64,
		    SEAM_openat, SEAM_openat64, SEAM_COUNT));
	plan_free(&good);
	plan_free(&bad);
	close_datafile(&f);
}

GRADE_TEST(resources, cleanup_on_failure, 2,
	   "io_getevents failing (-EFAULT, once or every time, also in the wait after "
	   "-EAGAIN; -EINVAL): the batch returns that error at once and destroys its context",
	   "TODOs 5 and 7: an io_getevents error other than -EINTR ends the batch: "
	   "io_destroy, free, return that error (not -errno); do not wait again for the "
	   "reads in flight, io_destroy does")
{
	struct datafile f = make_datafile("f", 100000, O_RDONLY);
	struct plan p = random_plan(&f, 20, 5000);
	int maps = count_aio_maps(), fds = fault_count_fds();
	struct seam_heap heap;
	int ret;

	watch_start();
	aw.efault_at = 1;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EFAULT, "laio_batch_read returned %s when io_getevents failed "
		    "with -EFAULT; expected -EFAULT", errno_name(ret));
	grade_check(aw.setups == aw.destroys, "laio_batch_read returned without io_destroy "
		    "after io_getevents failed (io_setup %ld, io_destroy %ld)", aw.setups,
		    aw.destroys);
	grade_check(count_aio_maps() == maps, "%d io context(s) still mapped after the "
		    "failed batch", count_aio_maps() - maps);
	check_destroyed_once("laio_batch_read whose io_getevents failed with -EFAULT");
	grade_check(fault_count_fds() == fds, "%d more descriptor(s) open after the failed "
		    "batch", fault_count_fds() - fds);
	grade_check_heap(&heap, "laio_batch_read whose io_getevents failed with -EFAULT");

	/* The same error at every call, as a real -EFAULT (an events array
	 * the kernel cannot write) or -EINVAL (a context that is not one)
	 * comes: waiting again for the reads in flight would never end. */
	plan_reset(&p);
	watch_start();
	aw.efault_from = 1;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EFAULT, "laio_batch_read returned %s when io_getevents failed "
		    "with -EFAULT at every call; expected -EFAULT", errno_name(ret));
	grade_check(aw.efaults == 1, "io_getevents answered -EFAULT, and your code called it "
		    "%ld more time(s) before returning: an io_getevents error other than -EINTR "
		    "ends the batch at once (TODO 5); the reads still in flight are io_destroy's "
		    "to wait for (TODO 7)", aw.efaults - 1);
	grade_check(aw.setups == aw.destroys && count_aio_maps() == maps, "laio_batch_read "
		    "returned without io_destroy after io_getevents kept failing (io_setup %ld, "
		    "io_destroy %ld)", aw.setups, aw.destroys);
	grade_check_heap(&heap, "laio_batch_read whose io_getevents failed with -EFAULT at "
			 "every call");
	check_destroyed_once("laio_batch_read whose io_getevents failed with -EFAULT at "
			     "every call");

	/* The wait that -EAGAIN asks for (reads of ours in flight: reap one,
	 * then submit again) is a wait like any other: its failure ends the
	 * batch too. io_submit takes one iocb per call and refuses every
	 * second call, so the first io_getevents is that wait. */
	plan_reset(&p);
	watch_start();
	aw.accept_cycle = 1;
	aw.eagain_every = 2;
	aw.efault_at = 1;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EFAULT && aw.efaults == 1 && aw.getevents_calls == 1,
		    "laio_batch_read returned %s after %ld io_getevents call(s) when io_submit "
		    "answered -EAGAIN with reads in flight and the io_getevents that followed "
		    "failed with -EFAULT; expected -EFAULT at once: the wait after -EAGAIN is "
		    "checked like every other, and an error other than -EINTR ends the batch "
		    "(TODO 5; laio.h: \"an error from io_setup or io_getevents\")",
		    errno_name(ret), aw.getevents_calls);
	grade_check(aw.setups == aw.destroys && count_aio_maps() == maps, "laio_batch_read "
		    "returned without io_destroy after io_getevents failed in the wait after "
		    "-EAGAIN (io_setup %ld, io_destroy %ld)", aw.setups, aw.destroys);
	grade_check_heap(&heap, "laio_batch_read whose io_getevents failed with -EFAULT in "
			 "the wait after -EAGAIN");

	/* Another error than -EFAULT (-EINVAL: a context the kernel no longer
	 * knows): the batch returns io_getevents' own answer, not a fixed one. */
	plan_reset(&p);
	watch_start();
	aw.efault_at = 2;
	aw.efault_errno = EINVAL;
	ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
	grade_check(ret == -EINVAL, "laio_batch_read returned %s when io_getevents failed "
		    "with -EINVAL; expected -EINVAL: an io_getevents error other than -EINTR "
		    "is returned as io_getevents answered it, whichever it is (laio.h, "
		    "\"other\"; TODO 5)", errno_name(ret));
	grade_check(aw.setups == aw.destroys && count_aio_maps() == maps, "laio_batch_read "
		    "returned without io_destroy after io_getevents failed with -EINVAL "
		    "(io_setup %ld, io_destroy %ld)", aw.setups, aw.destroys);

	/* Reads cut short, and io_getevents failing while the rest of some are
	 * out: the batch ends early, and the caller's requests are still as
	 * the caller left them (batch.h: only res is written, on every path). */
	{
		struct batch_req *orig = grade_xmalloc(p.n * sizeof(*orig));
		size_t moved = p.n;

		plan_reset(&p);
		memcpy(orig, p.reqs, p.n * sizeof(*orig));
		watch_start();
		aw.halve = true;
		aw.efault_at = 3;
		seam_heap_usage(&heap);
		ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 4));
		grade_check(ret == -EFAULT, "laio_batch_read returned %s when io_getevents "
			    "failed with -EFAULT after short reads; expected -EFAULT",
			    errno_name(ret));
		for (size_t i = 0; i < p.n && moved == p.n; i++)
			if (p.reqs[i].fd != orig[i].fd || p.reqs[i].offset != orig[i].offset ||
			    p.reqs[i].len != orig[i].len || p.reqs[i].buf != orig[i].buf)
				moved = i;
		grade_check(moved == p.n, "20 reads at qd 4, every read halved, io_getevents "
			    "failing with -EFAULT at its third call: laio_batch_read returned with "
			    "request %zu changed (offset %lld, len %zu, buf %p; the caller gave "
			    "offset %lld, len %zu, buf %p): batch.h lets the batch write res and "
			    "nothing else, on the paths that end early too. Keep the progress of "
			    "a short read (the bytes done) in your own bookkeeping, not in the "
			    "caller's request (TODO 6; pitfall 9)", moved,
			    moved < p.n ? (long long)p.reqs[moved].offset : 0LL,
			    moved < p.n ? p.reqs[moved].len : 0,
			    moved < p.n ? p.reqs[moved].buf : NULL,
			    moved < p.n ? (long long)orig[moved].offset : 0LL,
			    moved < p.n ? orig[moved].len : 0,
			    moved < p.n ? orig[moved].buf : NULL);
		if (moved < p.n)   /* put it back, for plan_free */
			memcpy(p.reqs, orig, p.n * sizeof(*orig));
		grade_check_heap(&heap, "laio_batch_read whose io_getevents failed with -EFAULT "
				 "after short reads");
		free(orig);
	}
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(resources, allocation_failures, 2,
	   "malloc failing at each of your allocations: -ENOMEM (or a full answer), and "
	   "nothing left behind: no heap block, no io context",
	   "TODOs 2 and 7: check every allocation; on failure free what was allocated and "
	   "io_destroy a context already set up, then return -ENOMEM (lesson: pitfalls)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 30, 10000);
	struct seam_heap before, after;
	long allocs;

	watch_start();
	seam_heap_usage(&before);
	run_batch(&p, 8, "30 requests at qd 8");
	grade_check_heap(&before, "laio_batch_read of 30 requests");
	seam_heap_usage(&after);
	allocs = after.allocs - before.allocs;
	for (long k = 1; k <= allocs; k++) {
		int maps = count_aio_maps(), ret;
		char what[96];

		plan_reset(&p);
		watch_next_call();
		aw.setups = aw.destroys = 0;
		seam_heap_usage(&before);
		seam_heap_fail(k, 1);
		ret = SEAM_CALL(laio_batch_read(p.reqs, p.n, 8));
		seam_heap_fail(0, 0);
		snprintf(what, sizeof(what), "laio_batch_read whose allocation %ld of %ld failed",
			 k, allocs);
		grade_check(ret == -ENOMEM || ret == 0, "%s returned %s, expected -ENOMEM",
			    what, errno_name(ret));
		if (ret == 0)
			plan_check(&p, what);
		grade_check_heap(&before, what);
		grade_check(aw.setups == aw.destroys && count_aio_maps() == maps, "%s left an "
			    "io context behind (io_setup %ld, io_destroy %ld)", what, aw.setups,
			    aw.destroys);
		check_destroyed_once(what);
	}
	plan_free(&p);
	close_datafile(&f);
}

/* -------------------------------------------------------------- mechanism */

GRADE_TEST(mechanism, no_blocking_reads, 2,
	   "every byte through io_submit + io_getevents: pread, read and threads refused",
	   "TODOs 3-6: every read, the rest of a short read too, goes through io_submit and "
	   "io_getevents; pread and friends and pthread_create are refused (pitfall 13)")
{
	static const char why[] = "laio_batch_read must move every byte through io_submit "
				  "and io_getevents, short-read remainders too (TODOs 3-6)";
	struct datafile f = make_datafile("f", 200000, O_RDONLY);
	struct plan p = random_plan(&f, 20, 10000);

	seam_refuse_blocking_io(why);
	seam_refuse(SEAM_pthread_create, "laio_batch_read needs no thread: the kernel does "
					 "the reads (TODOs 3-6)");
	watch_start();
	aw.halve = true;
	run_batch(&p, 4, "20 requests at qd 4 with short reads, pread refused");
	grade_check(seam_calls(SEAM_io_submit) > 0 && seam_calls(SEAM_io_getevents) > 0,
		    "laio_batch_read called io_submit %ld and io_getevents %ld times",
		    seam_calls(SEAM_io_submit), seam_calls(SEAM_io_getevents));
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(mechanism, submission_budget, 2,
	   "64 reads at qd 64 take at most 4 io_submit calls, and 1024 at qd 64 one call per "
	   "refill (also when io_submit takes 1-3 per call); no polling with io_getevents",
	   "TODO 4: one io_submit carries every iocb that is ready, not one iocb per call; "
	   "TODO 5: sleep in io_getevents until a completion arrives instead of polling "
	   "(pitfall 15)")
{
	struct datafile f = make_datafile("f", 1 << 20, O_RDONLY);
	struct plan p = plan_new(64);

	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)(4096 * grade_rand_below(256)), 4096,
			  "a 4 KiB read");
	watch_start();
	/* Polls (min_nr 0, or a timeout of (nearly) nothing) find nothing ready
	 * the first 1000 times after each io_submit: a poller spins, a waiter
	 * does not. */
	aw.poll_delay = 1000;
	run_batch(&p, 64, "64 requests at qd 64");
	grade_check(aw.submit_calls <= 4, "laio_batch_read made %ld io_submit calls for 64 "
		    "reads at qd 64; expected at most 4 (one call can take all 64 iocbs)",
		    aw.submit_calls);
	grade_check(aw.getevents_calls <= 2 * 64 + 4, "laio_batch_read made %ld io_getevents "
		    "calls for 64 reads (%ld of them polls that did not wait: min_nr 0, or a "
		    "timeout under 0.1 ms, which is over before anything can finish; a timespec "
		    "of { 0, 1000 } is 1 microsecond, { 0, 1000000 } is 1 ms): busy polling. "
		    "Wait with min_nr >= 1 and no timeout", aw.getevents_calls, aw.polls);
	plan_free(&p);

	/* After the first window: every wait hands back all that completed
	 * (buffered reads of cached pages finish inside io_submit), and the
	 * slots those free are refilled in one io_submit, not one per iocb.
	 * No fault is injected, so an io_submit that took every iocb it was
	 * asked for and is followed by another io_submit with no wait in
	 * between left iocbs behind that were ready. As for the first window
	 * (at most 4 calls), a refill may go out in up to 4 calls; one call per
	 * iocb makes up to 64. */
	p = plan_new(1024);
	for (size_t i = 0; i < p.n; i++)
		plan_read(&p, i, &f, -1, (off_t)(4096 * grade_rand_below(256)), 4096,
			  "a 4 KiB read");
	watch_start();
	run_batch(&p, 64, "1024 requests at qd 64");
	check_refill_submits("laio_batch_read", "1024 reads at qd 64 after waits that handed "
			     "back up to 64 completions", "after the first window your code "
			     "offers io_submit one iocb per call. Refill every free slot, then one "
			     "io_submit with every iocb that is ready (TODOs 3 and 4; pitfall 15)");

	/* The same with io_submit taking only 1-3 of the iocbs it is offered:
	 * the rest are offered again, all of them, whether or not reads are in
	 * flight by then. An offer of 3 or fewer taken whole and followed by
	 * another io_submit before any wait held iocbs back. */
	plan_reset(&p);
	watch_start();
	aw.accept_cycle = 3;
	run_batch(&p, 64, "1024 requests at qd 64, io_submit taking 1-3 iocbs per call");
	check_refill_submits("laio_batch_read", "1024 reads at qd 64 while io_submit took at "
			     "most 3 iocbs per call", "with reads in flight your code offers "
			     "io_submit one iocb per call. Offer every iocb not yet accepted, each "
			     "time (TODO 4; pitfall 15)");
	plan_free(&p);
	close_datafile(&f);
}

/* ---------------------------------------------------------------- helpers */

/* Defined when the AddressSanitizer runtime is in the process (make test's
 * ASan run), whose allocator aborts where glibc's returns NULL. */
extern void __asan_init(void) __attribute__((weak));

/* The process's virtual size now, in bytes (0 if unknown). */
static unsigned long long vm_size(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	while (fp && fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	if (fp)
		fclose(fp);
	return kb * 1024;
}

/*
 * laio_alloc_aligned(4 GiB + 1) with the address space limited (RLIMIT_AS)
 * to 512 MiB more than the process has: no block of 4 GiB fits, so the one
 * right answer is NULL (memory ran out), and no byte of RAM is used. A
 * length rounded up in 32 bits (LAIO_DIO_ALIGN is an unsigned int, and
 * ~(LAIO_DIO_ALIGN - 1) clears the high half of a size_t) asks for 4 KiB
 * instead, gets it, and returns it for 4 GiB.
 */
static void big_alloc_rounded_in_64_bits(void)
{
	const size_t big = ((size_t)4 << 30) + 1, rounded = ((size_t)4 << 30) + 4096;
	struct rlimit old, lim;
	unsigned long long vm = vm_size();
	size_t usable = 0;
	void *p;

	if (__asan_init || vm == 0)
		return;
	grade_check(getrlimit(RLIMIT_AS, &old) == 0, "harness: getrlimit: %s", strerror(errno));
	lim = old;
	lim.rlim_cur = (rlim_t)(vm + (512ull << 20));
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur)
		lim.rlim_cur = old.rlim_cur;
	grade_check(setrlimit(RLIMIT_AS, &lim) == 0, "harness: setrlimit: %s", strerror(errno));
	p = SEAM_CALL(laio_alloc_aligned(big));
	grade_check(setrlimit(RLIMIT_AS, &old) == 0, "harness: setrlimit: %s", strerror(errno));
	if (p) {
		usable = malloc_usable_size(p);
		free(p);
	}
	grade_check(p == NULL || usable >= rounded, "laio_alloc_aligned(4 GiB + 1) returned a "
		    "block of %zu usable bytes, expected at least %zu (or NULL: the grader left no "
		    "room for 4 GiB): the length was rounded up in 32 bits. LAIO_DIO_ALIGN is an "
		    "unsigned int, so a mask made from it is 32 bits wide and clears the high half "
		    "of a size_t; round in size_t (TODO 8; pitfall 14)", usable, rounded);
}

GRADE_TEST(helpers, alloc_aligned, 1,
	   "laio_alloc_aligned: 4096-aligned, zeroed, rounded up to a multiple of 4096 (in 64 "
	   "bits: 4 GiB + 1 too); NULL for 0 and for sizes that overflow",
	   "TODO 8: aligned memory (man 3 posix_memalign, which does not report through "
	   "errno), zeroed, its size rounded up; NULL when len is 0 or rounding up would "
	   "overflow (laio.h, pitfall 14)")
{
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, (1 << 20) + 3 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t rounded = (sizes[i] + 4095) / 4096 * 4096;
		unsigned char *p = SEAM_CALL(laio_alloc_aligned(sizes[i]));
		size_t nonzero = rounded;

		grade_check(p != NULL, "laio_alloc_aligned(%zu) returned NULL", sizes[i]);
		grade_check((uintptr_t)p % 4096 == 0, "laio_alloc_aligned(%zu) returned %p, "
			    "not a multiple of 4096 (O_DIRECT needs aligned buffers)",
			    sizes[i], (void *)p);
		grade_check(malloc_usable_size(p) >= rounded, "laio_alloc_aligned(%zu) gave "
			    "%zu usable bytes; expected at least %zu (rounded up to 4096)",
			    sizes[i], malloc_usable_size(p), rounded);
		for (size_t b = 0; b < rounded && nonzero == rounded; b++)
			if (p[b] != 0)
				nonzero = b;
		grade_check(nonzero == rounded, "laio_alloc_aligned(%zu): byte %zu is not "
			    "zero; the whole rounded length must be zeroed", sizes[i], nonzero);
		memset(p, 0x5A, rounded);
		free(p);
	}
	grade_check(SEAM_CALL(laio_alloc_aligned(0)) == NULL,
		    "laio_alloc_aligned(0) did not return NULL");
	grade_check(SEAM_CALL(laio_alloc_aligned(SIZE_MAX)) == NULL,
		    "laio_alloc_aligned(SIZE_MAX) did not return NULL");
	grade_check(SEAM_CALL(laio_alloc_aligned(SIZE_MAX - 100)) == NULL,
		    "laio_alloc_aligned(SIZE_MAX - 100) did not return NULL (rounding up "
		    "overflows)");
	grade_check(SEAM_CALL(laio_alloc_aligned(SIZE_MAX - 4094)) == NULL,
		    "laio_alloc_aligned(SIZE_MAX - 4094) did not return NULL: rounding it up "
		    "to a multiple of 4096 overflows (the largest length that rounds up "
		    "safely is SIZE_MAX - 4095)");
	if (!__asan_init) {
		/* The largest length that rounds up safely: a multiple of 4096
		 * already, so it stays as it is, and no memory holds it. (ASan's
		 * allocator aborts on such a size instead of returning NULL.) */
		void *p = SEAM_CALL(laio_alloc_aligned(SIZE_MAX - 4095));

		free(p);
		grade_check(p == NULL, "laio_alloc_aligned(SIZE_MAX - 4095) returned a block: "
			    "that length is a multiple of 4096 already, so rounding it up leaves it "
			    "as it is, and no memory holds it: expected NULL (posix_memalign fails). "
			    "A rounding that adds a whole 4096 to a multiple of 4096 wraps around to "
			    "0 at this length (and wastes 4 KiB at every other multiple): round up "
			    "with (len + 4095) & ~4095, in size_t (TODO 8; pitfall 20)");
	}
	seam_heap_fail(1, -1);
	{
		void *p = SEAM_CALL(laio_alloc_aligned(100));

		seam_heap_fail(0, 0);
		grade_check(p == NULL, "laio_alloc_aligned(100) returned %p when the allocation "
			    "failed (posix_memalign returned ENOMEM): expected NULL", p);
	}
	big_alloc_rounded_in_64_bits();
}

/*
 * memcpy for the whole test binary, the code under test included: memmove,
 * after a look at whether the two ranges overlap. memcpy(3) leaves an
 * overlapping copy undefined; this glibc's x86-64 memcpy happens to move
 * such a range correctly (it is memmove inside), so nothing else here could
 * see the mistake, and the same code copies garbage where memcpy runs the
 * other way (other libcs, other machines). The classic case in this chapter
 * is moving the pending iocbs down after a partial io_submit. No restrict
 * here: with it the compiler could take the ranges for disjoint and turn
 * the memmove into a call of this very memcpy. (The sanitizer build's
 * module calls ASan's memcpy, which refuses an overlap itself.)
 */
void *memcpy(void *dst, const void *src, size_t n)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

	if (n > 0 && d != s && d < s + n && s < d + n)
		grade_fail("memcpy was asked to copy %zu bytes from %p to %p, ranges that "
			   "overlap: memcpy(3) does not allow that (\"the memory areas must "
			   "not overlap\"), and what it copies then depends on the C library "
			   "and the machine. Moving entries within one array, e.g. the pending "
			   "iocbs down after io_submit took the first k (TODO 4), is "
			   "memmove(3)'s job", n, src, dst);
	return memmove(dst, src, n);
}

/*
 * statx for the whole test binary, the code under test included: the real
 * system call, unless a test asks for another STATX_DIOALIGN reply. No file
 * here can produce "no direct I/O on this file" (both alignments 0: ext4
 * with data=journal, fs-verity, inline data), nor a device without DMA
 * alignment limits (memory alignment 1), so the harness plays them.
 */
static struct {
	bool fake;
	unsigned mem, off;   /* the reply's alignments when fake */
	bool silent;         /* the reply lacks STATX_DIOALIGN, stx_blksize is blksize */
	unsigned blksize;
	int fail;            /* > 0: statx fails with this errno (after the real call) */
	long calls;
	void (*during)(void); /* run once inside the next statx, its reply in buf: */
	                      /* another caller's turn at that very moment        */
} sx;

int statx(int dirfd, const char *restrict path, int flags, unsigned int mask,
	  struct statx *restrict buf)
{
	if (syscall(SYS_statx, dirfd, path, flags, mask, buf) != 0)
		return -1;
	sx.calls++;
	if (sx.fail > 0) {
		errno = sx.fail;
		return -1;
	}
	if (sx.silent) {
		/* A kernel or filesystem that says nothing about direct I/O
		 * (before Linux 6.1, or procfs, ...), on a file whose block
		 * size is not 4096. */
		buf->stx_mask &= ~(unsigned)STATX_DIOALIGN;
		buf->stx_dio_mem_align = buf->stx_dio_offset_align = 0;
		buf->stx_blksize = sx.blksize;
		return 0;
	}
	if (sx.fake && (mask & STATX_DIOALIGN)) {
		buf->stx_mask |= STATX_DIOALIGN;
		buf->stx_dio_mem_align = sx.mem;
		buf->stx_dio_offset_align = sx.off;
	}
	if (sx.during) {
		void (*during)(void) = sx.during;

		sx.during = NULL;
		during();
	}
	return 0;
}

/* The other caller of laio_dio_alignment, on a pipe (statx says nothing
 * about direct I/O there: 4096 and 4096), inside the first one's statx. */
static struct {
	int fd, ret;
	size_t mem, off;
} dio_other;

static void dio_other_caller(void)
{
	sx.fake = false;   /* the real reply for the pipe */
	dio_other.mem = dio_other.off = 7;
	dio_other.ret = laio_dio_alignment(dio_other.fd, &dio_other.mem, &dio_other.off);
}

/* What the kernel says for fd: mem and offset alignment, 4096 when silent. */
static void kernel_dio_alignment(int fd, size_t *mem, size_t *off)
{
	struct statx stx;

	memset(&stx, 0, sizeof(stx));
	grade_check(statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0,
		    "harness: statx: %s", strerror(errno));
	*mem = *off = LAIO_DIO_ALIGN;
	if (stx.stx_mask & STATX_DIOALIGN) {
		*mem = stx.stx_dio_mem_align;
		*off = stx.stx_dio_offset_align;
	}
}

GRADE_TEST(helpers, dio_alignment, 1,
	   "laio_dio_alignment: what statx(STATX_DIOALIGN) says (above 4096 too), 4096 "
	   "where it says "
	   "nothing (a pipe, a reply without it), -EOPNOTSUPP where it says 0 (either "
	   "alignment), statx's own "
	   "-errno (-EBADF for a bad fd, -ENOMEM); either pointer NULL",
	   "TODO 9: ask statx(2) about the fd itself for STATX_DIOALIGN; stx_mask says "
	   "whether the kernel answered, and an alignment of 0 means no O_DIRECT; "
	   "pointers may be NULL; -errno on failure (laio.h)")
{
	struct datafile f = make_datafile("f", 8192, O_RDONLY);
	size_t mem = 1, off = 1, kmem, koff;
	struct seam_heap heap;
	int fds[2], ret;

	seam_heap_usage(&heap);
	kernel_dio_alignment(f.fd, &kmem, &koff);
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	grade_check(ret == 0 || (ret == -EOPNOTSUPP && kmem == 0),
		    "laio_dio_alignment on a file returned %s, expected 0", errno_name(ret));
	if (ret == 0)
		grade_check(mem == kmem && off == koff, "laio_dio_alignment on a file in %s "
			    "gave memory %zu, offset %zu; statx says %zu and %zu",
			    grade_tmpdir(), mem, off, kmem, koff);
	ret = SEAM_CALL(laio_dio_alignment(f.fd, NULL, NULL));
	grade_check(ret == 0 || (ret == -EOPNOTSUPP && kmem == 0),
		    "laio_dio_alignment(fd, NULL, NULL) returned %s, expected 0",
		    errno_name(ret));
	/* One pointer NULL: the other output is written all the same. */
	mem = off = 1;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, NULL));
	if (ret == 0)
		grade_check(mem == kmem, "laio_dio_alignment(fd, &mem, NULL) gave memory "
			    "alignment %zu; statx says %zu: either pointer may be NULL, alone, "
			    "and the other output is still written (laio.h)", mem, kmem);
	ret = SEAM_CALL(laio_dio_alignment(f.fd, NULL, &off));
	if (ret == 0)
		grade_check(off == koff, "laio_dio_alignment(fd, NULL, &off) gave offset "
			    "alignment %zu; statx says %zu: either pointer may be NULL, alone, "
			    "and the other output is still written (laio.h)", off, koff);
	fault_pipe(fds, 0);
	mem = off = 1;
	ret = SEAM_CALL(laio_dio_alignment(fds[0], &mem, &off));
	kernel_dio_alignment(fds[0], &kmem, &koff);
	grade_check(ret == 0 && mem == kmem && off == koff, "laio_dio_alignment on a pipe "
		    "returned %s with memory %zu, offset %zu; expected 0, %zu and %zu (statx "
		    "does not report STATX_DIOALIGN for a pipe: use LAIO_DIO_ALIGN)",
		    errno_name(ret), mem, off, kmem, koff);
	close(fds[0]);
	close(fds[1]);
	grade_check_heap(&heap, "laio_dio_alignment (on a file and on a pipe)");
	/* AT_FDCWD (-100) is no descriptor either, though statx with
	 * AT_EMPTY_PATH takes it for the current directory. */
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(AT_FDCWD, &mem, &off));
	grade_check(ret == -EBADF && mem == 7 && off == 7, "laio_dio_alignment(%d, &mem, &off) "
		    "returned %s (mem %zu, off %zu), expected -EBADF with the outputs left at 7: "
		    "%d is AT_FDCWD, which statx(2) with AT_EMPTY_PATH takes for the current "
		    "directory and describes; laio.h asks about an open file fd, and a negative "
		    "fd is none: refuse it before statx (TODO 9)", AT_FDCWD, errno_name(ret),
		    mem, off, AT_FDCWD);
	errno = ERRNO_MARKER;
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(-1, &mem, &off));
	grade_check(ret == -EBADF, "laio_dio_alignment(-1, ...) returned %s, expected -EBADF",
		    errno_name(ret));
	grade_check_heap(&heap, "laio_dio_alignment(-1, ...), failing with -EBADF (what it "
			 "allocates is freed on the error paths too; TODO 9)");
	grade_check(mem == 7 && off == 7, "laio_dio_alignment(-1, &mem, &off) failed, yet "
		    "changed the outputs from 7 and 7 to %zu and %zu: they are written only on "
		    "success (laio.h), so a caller that ignores the error keeps its own values",
		    mem, off);

	/* Replies no file here gives, played through statx, which laio.h
	 * says the answer comes from. */
	sx = (typeof(sx)){ .fake = true, .mem = 0, .off = 0 };
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	grade_check(sx.calls > 0, "laio_dio_alignment never called statx (it answered %s, "
		    "memory %zu, offset %zu): the alignment is the kernel's answer for this "
		    "file (statx(2), STATX_DIOALIGN), not a number chosen in advance or "
		    "derived from fstat; it differs from one filesystem and device to the "
		    "next (TODO 9; laio.h)", errno_name(ret), mem, off);
	grade_check(ret == -EOPNOTSUPP && mem == 7 && off == 7, "laio_dio_alignment "
		    "returned %s (memory %zu, offset %zu) when statx reported "
		    "STATX_DIOALIGN with both alignments 0 (no direct I/O on this file); "
		    "expected -EOPNOTSUPP, the outputs left as they were", errno_name(ret),
		    mem, off);
	grade_check_heap(&heap, "laio_dio_alignment answering -EOPNOTSUPP (what it allocates "
			 "is freed on every path; TODO 9)");
	sx = (typeof(sx)){ .fake = true, .mem = 1, .off = 512 };
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	grade_check(ret == 0 && mem == 1 && off == 512, "laio_dio_alignment returned %s "
		    "(memory %zu, offset %zu) when statx reported STATX_DIOALIGN with "
		    "memory alignment 1 (no limit) and offset alignment 512; expected 0, 1 "
		    "and 512: only an alignment of 0 means no direct I/O", errno_name(ret),
		    mem, off);
	/* Either field alone 0: statx(2) documents each as "0 if direct I/O
	 * is not supported on this file", and an alignment of 0 handed on
	 * would make a caller divide by zero. */
	for (int which = 0; which < 2; which++) {
		sx = (typeof(sx)){ .fake = true, .mem = which ? 0 : 512,
				   .off = which ? 512 : 0 };
		mem = off = 7;
		ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
		grade_check(ret == -EOPNOTSUPP && mem == 7 && off == 7, "laio_dio_alignment "
			    "returned %s (memory %zu, offset %zu) when statx reported "
			    "STATX_DIOALIGN with memory alignment %u and offset alignment %u; "
			    "expected -EOPNOTSUPP, the outputs left as they were: statx(2) gives "
			    "each field as 0 when the file cannot do direct I/O, so one 0 is "
			    "enough (an alignment of 0 is no alignment a caller can use; TODO 9)",
			    errno_name(ret), mem, off, sx.mem, sx.off);
	}
	/* A device of 16 KiB logical blocks (NVMe formatted so, XFS with
	 * large block sizes): offsets aligned to 4096 are not enough there. */
	sx = (typeof(sx)){ .fake = true, .mem = 8192, .off = 16384 };
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	grade_check(ret == 0 && mem == 8192 && off == 16384, "laio_dio_alignment returned %s "
		    "(memory %zu, offset %zu) when statx reported STATX_DIOALIGN with "
		    "memory alignment 8192 and offset alignment 16384 (a device of 16 KiB "
		    "blocks); expected 0, 8192 and 16384: the answer is what statx says, "
		    "above LAIO_DIO_ALIGN too (4096 is the chapter's choice for its own "
		    "buffers, not a cap on what the kernel may require; TODO 9)",
		    errno_name(ret), mem, off);
	sx.fake = false;

	/* No STATX_DIOALIGN in the reply, on a file whose block size is not
	 * 4096: the answer is LAIO_DIO_ALIGN, whatever else statx says. */
	sx = (typeof(sx)){ .silent = true, .blksize = 512 };
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	sx.silent = false;
	grade_check(ret == 0 && mem == LAIO_DIO_ALIGN && off == LAIO_DIO_ALIGN,
		    "laio_dio_alignment returned %s (memory %zu, offset %zu) when statx's reply "
		    "lacked STATX_DIOALIGN (a kernel before 6.1, or a filesystem that does not "
		    "say) and gave stx_blksize 512; expected 0, 4096 and 4096: when the kernel "
		    "does not report the alignment, both are LAIO_DIO_ALIGN, the safe choice "
		    "(laio.h). stx_blksize is the preferred size for buffered I/O, not what "
		    "O_DIRECT requires (TODO 9)", errno_name(ret), mem, off);

	/* statx failing with something other than EBADF: its errno, negated. */
	sx = (typeof(sx)){ .fail = ENOMEM };
	mem = off = 7;
	errno = ERRNO_MARKER;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	sx.fail = 0;
	grade_check(ret == -ENOMEM && mem == 7 && off == 7, "laio_dio_alignment returned %s "
		    "(memory %zu, offset %zu) when statx failed with errno ENOMEM (the kernel "
		    "out of memory); expected -ENOMEM, the outputs left as they were: the "
		    "error is statx's own errno, negated, not a fixed -EBADF (laio.h; statx(2), "
		    "ERRORS)", errno_name(ret), mem, off);
	grade_check_heap(&heap, "laio_dio_alignment whose statx failed with ENOMEM (what it "
			 "allocates is freed on the error paths too; TODO 9)");

	/* 0 is a descriptor like any other: a program started with stdin
	 * closed gets its first open file there. Only a negative fd is none. */
	int saved0 = dup(0);

	if (dup2(f.fd, 0) == 0) {
		kernel_dio_alignment(0, &kmem, &koff);
		mem = off = 7;
		ret = SEAM_CALL(laio_dio_alignment(0, &mem, &off));
		grade_check(kmem == 0 ? ret == -EOPNOTSUPP : (ret == 0 && mem == kmem &&
			    off == koff), "laio_dio_alignment(0, "
			    "&mem, &off) on a file open as fd 0 returned %s (memory %zu, offset "
			    "%zu); expected 0, %zu and %zu: fd 0 is a valid descriptor (open(2) "
			    "hands out the lowest free one, 0 when stdin is closed); only a "
			    "negative fd is refused before statx (TODO 9)", errno_name(ret), mem,
			    off, kmem, koff);
	}
	if (saved0 >= 0) {
		dup2(saved0, 0);
		close(saved0);
	} else {
		close(0);
	}

	/* Two callers at once, made deterministic: a second call, on a pipe,
	 * runs inside the first one's statx, after the first reply is in and
	 * before the first call has read it (as another thread may). Each call
	 * reads its own reply (laio.h: no state in static variables). */
	fault_pipe(fds, 0);
	dio_other.fd = fds[0];
	dio_other.ret = 12345;
	sx = (typeof(sx)){ .fake = true, .mem = 1, .off = 512, .during = dio_other_caller };
	mem = off = 7;
	ret = SEAM_CALL(laio_dio_alignment(f.fd, &mem, &off));
	sx = (typeof(sx)){ 0 };
	grade_check(dio_other.ret != 12345, "laio_dio_alignment called statx without the "
		    "descriptor it was given, or not at all (TODO 9)");
	grade_check(ret == 0 && mem == 1 && off == 512 && dio_other.ret == 0 &&
		    dio_other.mem == LAIO_DIO_ALIGN && dio_other.off == LAIO_DIO_ALIGN,
		    "two laio_dio_alignment calls at once, a file's (statx reports memory 1, "
		    "offset 512) and, during its statx, a pipe's (no STATX_DIOALIGN: 4096 and "
		    "4096): the file's call returned %s with memory %zu, offset %zu, the pipe's "
		    "%s with %zu and %zu. The file's call read the pipe's reply: the struct statx "
		    "is shared between calls (a static?). Keep it on the stack of each call, "
		    "or allocate it per call (laio.h: several threads may call at the same "
		    "moment, keep no state in static variables; TODO 9)", errno_name(ret), mem,
		    off, errno_name(dio_other.ret), dio_other.mem, dio_other.off);
	close(fds[0]);
	close(fds[1]);
	close_datafile(&f);
}

/* ---------------------------------------------------------------- battery */

/*
 * The tests every batch read shares (harness/lib/batch_battery.h), through
 * laio_batch_read twice: on files open with O_DIRECT, what the contract is
 * about, and on plain (buffered) files. Around every batch, the watcher of
 * this chapter proves the mechanism: the bytes came back through
 * io_getevents from iocbs io_submit accepted, with pread, read, mmap and
 * threads refused for the whole test; one io context, sized at most by the
 * window and destroyed before the call returns; every accepted iocb reaped;
 * never more than min(qd, n, LAIO_MAX_QD) in flight. So a batch read that
 * gets the bytes right some other way fails every one of these tests.
 */
static const char battery_refused[] = "laio_batch_read moves every byte through io_submit "
				      "and io_getevents, and needs no thread (TODOs 3-6)";

/* The watcher's counts when the batch began (watch_next_call resets the rest). */
static struct {
	long setups, destroys, events;
	long long event_bytes;
} bw;

static void battery_watch(int open_flags)
{
	battery_fn_use(laio_batch_read, open_flags);
	watch_start();
	seam_refuse_blocking_io(battery_refused);
	seam_refuse(SEAM_pthread_create, battery_refused);
}

static void direct_setup(void)
{
	static const unsigned char block[4096];

	close(open_direct_or_skip(grade_make_file("odirect-probe", block, sizeof(block))));
	battery_watch(O_DIRECT);
}

static void buffered_setup(void)
{
	battery_watch(0);
}

/* min(qd, n, LAIO_MAX_QD): the most that may be in flight, and what
 * laio_batch_read puts in flight before its first wait (laio.h). */
static size_t laio_window(unsigned qd, size_t n)
{
	size_t w = qd < LAIO_MAX_QD ? qd : LAIO_MAX_QD;

	return n < w ? n : w;
}

/* The bytes a batch reports read: its positive res, added. */
static long long res_bytes(const struct batch_req *reqs, size_t n)
{
	long long bytes = 0;

	for (size_t i = 0; i < n; i++)
		if (reqs[i].res > 0)
			bytes += reqs[i].res;
	return bytes;
}

/* Every byte a batch reports came back through io_getevents (bw: when it
 * began), from iocbs io_submit accepted. fn names the function, call the
 * batch, todo where to look. */
static void check_bytes_through(const char *fn, const char *call, long long bytes,
				const char *todo)
{
	long long through = aw.event_bytes - bw.event_bytes;

	grade_check(aw.accepted > 0 && through >= bytes, "%s (%s) reported %lld bytes read, but "
		    "io_getevents handed back %lld in %ld completion(s) of %ld iocb(s) accepted by "
		    "io_submit: every byte goes through io_submit and io_getevents (%s; laio.h)",
		    fn, call, bytes, through, aw.events - bw.events, aw.accepted, todo);
}

static void aio_before(void)
{
	watch_next_call();
	aw.setup_nr = 0;
	bw.setups = aw.setups;
	bw.destroys = aw.destroys;
	bw.events = aw.events;
	bw.event_bytes = aw.event_bytes;
}

static void aio_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	long setups = aw.setups - bw.setups, destroys = aw.destroys - bw.destroys;
	long events = aw.events - bw.events;
	unsigned qd = battery_fn.qd;
	size_t window = laio_window(qd, n);
	char call[160];

	grade_check(setups == destroys, "laio_batch_read (%s, qd %u) made %ld io_setup and %ld "
		    "io_destroy call(s): the context it sets up is destroyed before it returns, "
		    "on every path (TODO 7)", what, qd, setups, destroys);
	if (ret != 0 || n == 0)
		return;   /* the battery says what is wrong with the answer itself */
	if (res_bytes(reqs, n) == 0)
		return;
	snprintf(call, sizeof(call), "%s, qd %u", what, qd);
	check_bytes_through("laio_batch_read", call, res_bytes(reqs, n), "TODOs 3-6");
	grade_check(setups == 1, "laio_batch_read (%s, qd %u) set up %ld io context(s): one per "
		    "call, set up once and used for the whole batch (TODO 2)", what, qd, setups);
	grade_check(aw.setup_nr >= 1 && aw.setup_nr <= (long)window, "laio_batch_read (%s, "
		    "qd %u) asked io_setup for %ld events; expected 1 to the window, min(qd, n, "
		    "LAIO_MAX_QD) = %zu (TODO 2, pitfall 19)", what, qd, aw.setup_nr, window);
	grade_check(events == aw.accepted, "laio_batch_read (%s, qd %u) returned with %ld of the "
		    "%ld iocb(s) io_submit accepted never reaped: every request's res comes from "
		    "its completion, and nothing is left in flight (TODOs 5 and 6)", what, qd,
		    aw.accepted - events, aw.accepted);
	grade_check(aw.max_inflight <= (long)window, "laio_batch_read (%s, qd %u): %ld requests "
		    "were in flight at once (accepted by io_submit, not yet reaped); at most "
		    "min(qd, n, LAIO_MAX_QD) = %zu (TODOs 2-4, pitfall 2)", what, qd,
		    aw.max_inflight, window);
}

static long aio_max_inflight(void)
{
	return aw.max_inflight;
}

/* The window is filled before the first wait (laio.h), and the watcher
 * counts an iocb in flight from io_submit to io_getevents, however fast
 * the device: the fill is certain. */
static unsigned aio_fills_to(unsigned qd, size_t n)
{
	return (unsigned)laio_window(qd, n);
}

static const struct battery_target direct_target = {
	.name = "laio_batch_read on O_DIRECT files",
	.setup = direct_setup, .open = battery_fn_open, .read = battery_fn_read,
	.close = battery_fn_close, .before = aio_before, .after = aio_after,
	.max_inflight = aio_max_inflight, .fills_to = aio_fills_to,
};

static const struct battery_target buffered_target = {
	.name = "laio_batch_read on buffered files",
	.setup = buffered_setup, .open = battery_fn_open, .read = battery_fn_read,
	.close = battery_fn_close, .before = aio_before, .after = aio_after,
	.max_inflight = aio_max_inflight, .fills_to = aio_fills_to,
};

BATCH_BATTERY(battery_direct, direct_target, "laio_batch_read on O_DIRECT files",
	      "TODOs 2-7 (exercises/02-libaio/laio.c, laio_batch_read; lesson, \"The batch "
	      "read with a queue-depth window\" and \"O_DIRECT and alignment\")")
BATCH_BATTERY(battery_buffered, buffered_target, "laio_batch_read on buffered files",
	      "TODOs 2-7 (exercises/02-libaio/laio.c, laio_batch_read; lesson, \"The batch "
	      "read with a queue-depth window\")")

/*
 * The third instance: laio_batch_read_ctx on a context the harness sets up
 * when the target opens (io_setup(CTX_EVENTS)) and destroys when it closes,
 * as a long-lived program would. Around every batch the same watcher, and
 * what this function adds to the contract: no io_setup and no io_destroy
 * inside (the context is the caller's), the context empty when the batch
 * returns (every iocb accepted was reaped, nothing ready left to reap), and
 * never more in flight than min(qd, n, nr_events, LAIO_MAX_QD). CTX_EVENTS
 * is below the battery's largest qd (300), so the nr_events bound is
 * measured too.
 */
#define CTX_EVENTS 128u

static struct {
	io_context_t ctx;
	unsigned nr_events;
	int fd;
	unsigned qd;
} bc;

static const char ctx_refused[] = "laio_batch_read_ctx moves every byte through io_submit "
				  "and io_getevents, and needs no thread (TODO 10)";

/* The harness's own io_setup, for the caller's context (not watched). */
static io_context_t caller_ctx(unsigned nr_events)
{
	io_context_t ctx = 0;
	int rc = SEAM_REAL(io_setup)((int)nr_events, &ctx);

	if (rc < 0)
		skip_if_machine_lacks_aio(rc, 1);
	grade_check(rc == 0, "harness: io_setup(%u) failed: %s", nr_events, grade_errno_str(rc));
	return ctx;
}

/* The harness's io_destroy of the caller's context: it fails if the code
 * under test destroyed the context already. */
static void caller_ctx_done(io_context_t ctx, const char *what)
{
	int rc = SEAM_REAL(io_destroy)(ctx);

	grade_check(rc == 0, "%s: the caller's io_destroy of its own context returned %s: "
		    "laio_batch_read_ctx destroyed a context that was not its own (the caller "
		    "keeps it for its next batch; TODO 10, pitfall 22)", what, grade_errno_str(rc));
}

/* Completions ready in ctx that nobody reaped (harness, not watched). */
static int ready_left(io_context_t ctx)
{
	struct io_event ev[64];
	struct timespec zero = { 0, 0 };
	int got = SEAM_REAL(io_getevents)(ctx, 0, 64, ev, &zero);

	return got < 0 ? 0 : got;
}

/* min(qd, n, nr_events, LAIO_MAX_QD) */
static size_t ctx_window(unsigned nr_events, unsigned qd, size_t n)
{
	size_t w = laio_window(qd, n);

	return nr_events < w ? nr_events : w;
}

/* What laio_batch_read_ctx must leave behind, whatever it returned: no
 * context made or destroyed, nothing of its own in flight (ret_ok: the
 * paths where laio.h says so; on an io_getevents failure reads may stay). */
static void check_ctx_left(io_context_t ctx, long setups, long destroys, bool in_flight_ok,
			   const char *what)
{
	int ready;

	grade_check(setups == 0, "laio_batch_read_ctx (%s) called io_setup %ld time(s): the "
		    "context is the caller's, set up once for many batches; making one per call "
		    "is what this function exists to avoid (TODO 10, pitfall 22)", what, setups);
	grade_check(destroys == 0, "laio_batch_read_ctx (%s) called io_destroy: the context is "
		    "the caller's, who reads its next batch through it (TODO 10, pitfall 22)", what);
	if (in_flight_ok)
		return;
	grade_check(aw.inflight == 0, "laio_batch_read_ctx (%s) returned with %ld iocb(s) it "
		    "submitted still in the caller's context, never reaped: the next batch's "
		    "io_getevents would take their completions for its own (TODO 10; laio.h)",
		    what, aw.inflight);
	ready = ready_left(ctx);
	grade_check(ready == 0, "laio_batch_read_ctx (%s) returned with %d completion(s) ready "
		    "in the caller's context and not reaped (TODO 10; laio.h)", what, ready);
}

static void ctx_setup(void)
{
	watch_start();
	seam_refuse_blocking_io(ctx_refused);
	seam_refuse(SEAM_pthread_create, ctx_refused);
}

static int ctx_open(const char *path, unsigned qd, size_t *align)
{
	bc.nr_events = CTX_EVENTS;
	bc.ctx = caller_ctx(bc.nr_events);
	bc.fd = grade_open(path, O_RDONLY);
	bc.qd = qd;
	*align = 1;
	return bc.fd;
}

static int ctx_read(struct batch_req *reqs, size_t n)
{
	return SEAM_CALL(laio_batch_read_ctx(bc.ctx, bc.nr_events, reqs, n, bc.qd));
}

static void ctx_close(void)
{
	close(bc.fd);
	bc.fd = -1;
	caller_ctx_done(bc.ctx, "after the battery's batches");
	bc.ctx = 0;
}

static void ctx_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	size_t window = ctx_window(bc.nr_events, bc.qd, n);
	char call[160];

	snprintf(call, sizeof(call), "%s, qd %u, nr_events %u", what, bc.qd, bc.nr_events);
	check_ctx_left(bc.ctx, aw.setups - bw.setups, aw.destroys - bw.destroys, false, call);
	if (ret != 0 || n == 0 || res_bytes(reqs, n) == 0)
		return;
	check_bytes_through("laio_batch_read_ctx", call, res_bytes(reqs, n), "TODO 10");
	grade_check(aw.max_inflight <= (long)window, "laio_batch_read_ctx (%s): %ld requests "
		    "were in flight at once; at most min(qd, n, nr_events, LAIO_MAX_QD) = %zu: the "
		    "caller set the context up for nr_events (TODO 10, pitfall 23)", call,
		    aw.max_inflight, window);
}

static unsigned ctx_fills_to(unsigned qd, size_t n)
{
	return (unsigned)ctx_window(CTX_EVENTS, qd, n);
}

static const struct battery_target ctx_target = {
	.name = "laio_batch_read_ctx on one context per file",
	.setup = ctx_setup, .open = ctx_open, .read = ctx_read, .close = ctx_close,
	.before = aio_before, .after = ctx_after,
	.max_inflight = aio_max_inflight, .fills_to = ctx_fills_to,
};

BATCH_BATTERY(battery_ctx, ctx_target, "laio_batch_read_ctx on the caller's context",
	      "TODO 10 (exercises/02-libaio/laio.c, laio_batch_read_ctx; lesson, \"Keep the "
	      "context\")")

/* ---------------------------------------------------------- the caller's context */

/* One batch of p through laio_batch_read_ctx on ctx; the result is checked
 * by the caller. Leaves the watcher's counts of this call in aw. */
static int run_ctx(struct plan *p, io_context_t ctx, unsigned nr_events, unsigned qd)
{
	struct seam_heap heap;
	char what[200];
	int ret;

	plan_reset(p);
	watch_next_call();
	aw.setups = aw.destroys = 0;
	seam_heap_usage(&heap);
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, nr_events, p->reqs, p->n, qd));
	/* laio.h: the bookkeeping is freed on every path, whatever the batch
	 * met on the way (an -EINTR retried, a partial submit, -ENOMEM). */
	snprintf(what, sizeof(what), "laio_batch_read_ctx(ctx, %u, reqs, %zu, %u) returning %s "
		 "(what a retry allocates is freed too; TODO 10)", nr_events, p->n, qd,
		 errno_name(ret));
	grade_check_heap(&heap, what);
	return ret;
}

static void run_ctx_ok(struct plan *p, io_context_t ctx, unsigned nr_events, unsigned qd,
		       const char *what)
{
	int ret = run_ctx(p, ctx, nr_events, qd);

	grade_check(ret == 0, "%s: laio_batch_read_ctx(ctx, %u, reqs, %zu, %u) returned %s, "
		    "expected 0 (every request has its res) (seed %llu)", what, nr_events, p->n,
		    qd, errno_name(ret), seed());
	plan_check(p, what);
	check_ctx_left(ctx, aw.setups, aw.destroys, false, what);
}

GRADE_TEST(ctx, many_batches_one_context, 2,
	   "ten batches through one context of the caller's, with short reads, partial submits "
	   "and completions latest first: no io_setup or io_destroy, nothing left in it between "
	   "batches",
	   "TODO 10: the context is the caller's: use it, never set one up or destroy it; "
	   "reap everything you submitted before returning (lesson: \"Keep the context\", "
	   "pitfall 22)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 40, 10000);
	int maps = count_aio_maps();
	io_context_t ctx;

	watch_start();
	ctx = caller_ctx(32);
	for (unsigned k = 0; k < 10; k++) {
		char what[120];

		snprintf(what, sizeof(what), "batch %u of 10 on one context of 32 events, qd %u",
			 k + 1, 1 + k * 7);
		aw.halve = k % 3 == 1;
		aw.reverse = k % 2 == 1;
		aw.one_at_a_time = k % 4 == 3;
		aw.accept_cycle = k % 5 == 2 ? 3 : 0;
		run_ctx_ok(&p, ctx, 32, 1 + k * 7, what);
		grade_check(count_aio_maps() == maps + 1, "%s: %d io context(s) mapped, expected "
			    "the caller's one alone", what, count_aio_maps() - maps);
	}
	caller_ctx_done(ctx, "after ten batches");
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(ctx, window_bounded_by_nr_events, 2,
	   "the window is min(qd, n, nr_events, LAIO_MAX_QD): a context of 4 events at qd 32, "
	   "one of 64 at qd 5, one of 4200 at qd UINT_MAX",
	   "TODO 10: the caller set the context up for nr_events: never put more than that in "
	   "flight, even when qd is larger (the kernel may accept more; pitfall 23)")
{
	static const struct { unsigned nr, qd; size_t n; } cases[] = {
		{ 4, 32, 40 }, { 64, 5, 40 }, { 4200, UINT_MAX, 4500 },
	};
	const size_t size = 1 << 16;
	struct datafile f = make_datafile("f", size, O_RDONLY);
	unsigned char *bufs = grade_xmalloc(4500 * 16);
	struct batch_req *reqs = grade_xmalloc(4500 * sizeof(*reqs));

	watch_start();
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n, window = ctx_window(cases[c].nr, cases[c].qd, n);
		io_context_t ctx = caller_ctx(cases[c].nr);
		char what[120];
		int ret;

		snprintf(what, sizeof(what), "%zu reads at qd %u on a context of %u events", n,
			 cases[c].qd, cases[c].nr);
		for (size_t i = 0; i < n; i++)
			reqs[i] = (struct batch_req){ f.fd, (off_t)(i * 16 % (size - 16)), 16,
						      bufs + i * 16, 12345 };
		watch_next_call();
		aw.setups = aw.destroys = 0;
		ret = SEAM_CALL(laio_batch_read_ctx(ctx, cases[c].nr, reqs, n, cases[c].qd));
		grade_check(ret == 0, "%s: laio_batch_read_ctx returned %s, expected 0", what,
			    errno_name(ret));
		for (size_t i = 0; i < n; i++) {
			grade_check(reqs[i].res == 16, "%s: request %zu has res %s, expected 16",
				    what, i, errno_name(reqs[i].res));
			grade_check_same(reqs[i].buf, f.data + reqs[i].offset, 16,
					 "laio_batch_read_ctx");
		}
		check_ctx_left(ctx, aw.setups, aw.destroys, false, what);
		grade_check(aw.max_inflight == (long)window, "%s: at most %ld requests were in "
			    "flight at once, expected the window, min(qd, n, nr_events, LAIO_MAX_QD) "
			    "= %zu, filled before the first wait", what, aw.max_inflight, window);
		caller_ctx_done(ctx, what);
	}
	free(reqs);
	free(bufs);
	close_datafile(&f);
}

GRADE_TEST(ctx, arguments, 1,
	   "ctx 0, nr_events 0, qd 0 and a NULL array with n > 0 are -EINVAL, even with n 0; "
	   "n 0 on a good context returns 0 and touches nothing",
	   "TODO 10: check every argument before anything else, the two new ones too "
	   "(laio.h, laio_batch_read_ctx, \"Returns\")")
{
	struct batch_req one = { -1, 0, 0, NULL, 7 };
	io_context_t ctx;
	int ret;

	watch_start();
	ctx = caller_ctx(8);
	ret = SEAM_CALL(laio_batch_read_ctx(0, 8, &one, 1, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx with ctx 0 returned %s, expected -EINVAL",
		    errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(0, 8, NULL, 0, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx(0, 8, NULL, 0, 4) returned %s, expected "
		    "-EINVAL: a missing context is wrong whatever n is", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 0, &one, 1, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx with nr_events 0 returned %s, expected "
		    "-EINVAL", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 0, NULL, 0, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx(ctx, 0, NULL, 0, 4) returned %s, "
		    "expected -EINVAL (nr_events 0, whatever n is)", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 8, &one, 1, 0));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx with qd 0 returned %s, expected -EINVAL",
		    errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 8, NULL, 0, 0));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx(ctx, 8, NULL, 0, 0) returned %s, "
		    "expected -EINVAL (qd 0, whatever n is: the argument errors are checked "
		    "before the empty batch)", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 8, NULL, 3, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx(ctx, 8, NULL, 3, 4) returned %s, "
		    "expected -EINVAL", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 8, NULL, 1, 4));
	grade_check(ret == -EINVAL, "laio_batch_read_ctx(ctx, 8, NULL, 1, 4) returned %s, "
		    "expected -EINVAL (any n > 0 with a NULL array)", errno_name(ret));
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 8, NULL, 0, 4));
	grade_check(ret == 0, "laio_batch_read_ctx(ctx, 8, NULL, 0, 4) returned %s, expected 0: "
		    "an empty batch may come without an array", errno_name(ret));
	grade_check(one.res == 7, "laio_batch_read_ctx wrote a res for a call it refused");
	grade_check(seam_calls_sum(SEAM_io_setup, SEAM_io_destroy, SEAM_io_submit,
				   SEAM_io_getevents, SEAM_COUNT) == 0,
		    "laio_batch_read_ctx talked to the kernel (io_setup %ld, io_destroy %ld, "
		    "io_submit %ld, io_getevents %ld) for calls that are -EINVAL or empty",
		    seam_calls(SEAM_io_setup), seam_calls(SEAM_io_destroy),
		    seam_calls(SEAM_io_submit), seam_calls(SEAM_io_getevents));
	caller_ctx_done(ctx, "after the argument errors");
}

/* io_submit as the watcher answers it, and -EAGAIN for ever once it took some. */
static int accept_once_then_eagain(io_context_t ctx, long nr, struct iocb **list)
{
	int rc = w_io_submit(ctx, nr, list);

	if (rc > 0)
		aw.eagain_always = true;
	return rc;
}

GRADE_TEST(ctx, every_path_leaves_the_context, 2,
	   "-EAGAIN given up, -EINTR, malloc failing, io_getevents failing: the caller's "
	   "context is never destroyed, is empty where laio.h says, and takes the next batch",
	   "TODO 10: on every path but a failing io_getevents, everything submitted is "
	   "reaped before returning; never io_destroy the caller's context, not even on "
	   "errors (laio.h, laio_batch_read_ctx; pitfall 22)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 30, 10000);
	struct seam_heap before, after;
	io_context_t ctx;
	long allocs;
	int ret;

	watch_start();
	ctx = caller_ctx(16);

	/* -EAGAIN with nothing in flight, for ever: -EAGAIN, context empty. */
	aw.eagain_always = true;
	aw.submit_limit = 1000;
	seam_heap_usage(&before);
	ret = run_ctx(&p, ctx, 16, 8);
	grade_check(ret == -EAGAIN, "laio_batch_read_ctx returned %s after io_submit answered "
		    "-EAGAIN %ld times in a row; expected -EAGAIN", errno_name(ret), aw.eagains);
	check_ctx_left(ctx, aw.setups, aw.destroys, false, "io_submit answering -EAGAIN for ever");
	grade_check_heap(&before, "laio_batch_read_ctx giving up on -EAGAIN");
	aw.eagain_always = false;

	/* The first io_submit takes the whole window, then -EAGAIN for ever:
	 * -EAGAIN, but only once every read it took was reaped. */
	seam_hook_io_submit = accept_once_then_eagain;
	seam_heap_usage(&before);
	ret = run_ctx(&p, ctx, 16, 8);
	seam_hook_io_submit = w_io_submit;
	grade_check_heap(&before, "laio_batch_read_ctx giving up on -EAGAIN after a window");
	grade_check(ret == -EAGAIN, "laio_batch_read_ctx returned %s when io_submit took the "
		    "first window and then answered -EAGAIN for ever; expected -EAGAIN",
		    errno_name(ret));
	check_ctx_left(ctx, aw.setups, aw.destroys, false, "io_submit taking the first window, "
		       "then answering -EAGAIN for ever (reap what is in flight before giving up)");
	aw.eagain_always = false;

	/* The same with a window of 100, more than a budget of retries usually
	 * is: a -EAGAIN with reads in flight is answered by reaping one, which
	 * always helps; only the refusals with nothing in flight are counted
	 * towards giving up. */
	{
		struct plan big = random_plan(&f, 120, 10000);
		io_context_t wide = caller_ctx(128);

		/* one event per wait: the window drains one read at a time */
		aw.one_at_a_time = true;
		seam_hook_io_submit = accept_once_then_eagain;
		ret = run_ctx(&big, wide, 128, 100);
		seam_hook_io_submit = w_io_submit;
		aw.one_at_a_time = false;
		grade_check(ret == -EAGAIN, "laio_batch_read_ctx returned %s when io_submit took "
			    "the first window of 100 and then answered -EAGAIN for ever; expected "
			    "-EAGAIN", errno_name(ret));
		grade_check(aw.inflight == 0, "laio_batch_read_ctx (qd 100, io_submit taking the "
			    "first window of 100, then answering -EAGAIN for ever) gave up with %ld "
			    "read(s) still in flight, after %ld -EAGAIN answers: a -EAGAIN while "
			    "reads are in flight is answered by reaping one of them, and is not a "
			    "try of the bounded retries; count only the refusals with nothing in "
			    "flight (laio.h: \"with nothing of ours in flight\"; TODO 4; pitfall 7)",
			    aw.inflight, aw.eagains);
		check_ctx_left(wide, aw.setups, aw.destroys, false, "qd 100, io_submit taking "
			       "the first window, then answering -EAGAIN for ever");
		aw.eagain_always = false;
		caller_ctx_done(wide, "after -EAGAIN for ever with a window of 100");
		plan_free(&big);
	}
	aw.submit_limit = SUBMIT_LIMIT;

	/* -EAGAIN with reads in flight, -EINTR both ways: all retried, 0. */
	aw.eagain_first = 1;
	aw.eagain_every = 3;
	aw.eintr_every = 3;
	aw.submit_eintr_every = 4;
	aw.accept_cycle = 3;
	run_ctx_ok(&p, ctx, 16, 8, "the next batch on the same context, with -EAGAIN and -EINTR "
		   "from io_submit and -EINTR from io_getevents");
	grade_check(aw.eagains > 0 && aw.eintrs > 0, "harness: nothing was injected");
	grade_check(aw.resubmits_unreaped == 0 && aw.unpaused_retries == 0 &&
		    aw.eagain_rewaits == 0, "laio_batch_read_ctx: after io_submit answered "
		    "-EAGAIN, your code called it again %ld time(s) with reads in flight before "
		    "reaping one of them, %ld time(s) with none in flight without a pause, and "
		    "waited for more than one completion %ld time(s) before retrying: on the "
		    "caller's context -EAGAIN is paced as in laio_batch_read (reap one "
		    "completion with reads in flight, pause with none) (TODOs 4 and 10; "
		    "pitfall 7)", aw.resubmits_unreaped, aw.unpaused_retries, aw.eagain_rewaits);
	aw.eagain_first = aw.eagain_every = aw.eintr_every = aw.submit_eintr_every = 0;
	aw.accept_cycle = 0;

	/* Each allocation failing in turn: -ENOMEM (or 0), nothing submitted
	 * left behind, the context still the caller's. */
	seam_heap_usage(&before);
	run_ctx_ok(&p, ctx, 16, 8, "30 requests at qd 8");
	grade_check_heap(&before, "laio_batch_read_ctx of 30 requests");
	seam_heap_usage(&after);
	allocs = after.allocs - before.allocs;
	for (long k = 1; k <= allocs; k++) {
		char what[96];

		snprintf(what, sizeof(what), "laio_batch_read_ctx whose allocation %ld of %ld "
			 "failed", k, allocs);
		seam_heap_usage(&before);
		seam_heap_fail(k, 1);
		ret = run_ctx(&p, ctx, 16, 8);
		seam_heap_fail(0, 0);
		grade_check(ret == -ENOMEM || ret == 0, "%s returned %s, expected -ENOMEM", what,
			    errno_name(ret));
		if (ret == 0)
			plan_check(&p, what);
		grade_check_heap(&before, what);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, what);
	}
	run_ctx_ok(&p, ctx, 16, 8, "a batch on the context after the allocation failures");

	/* io_getevents failing for good: its error, the context left to the
	 * caller, who destroys it (which waits for what is in flight). */
	aw.efault_at = 1;
	seam_heap_usage(&before);
	ret = run_ctx(&p, ctx, 16, 8);
	grade_check(ret == -EFAULT, "laio_batch_read_ctx returned %s when io_getevents failed "
		    "with -EFAULT; expected -EFAULT", errno_name(ret));
	grade_check_heap(&before, "laio_batch_read_ctx whose io_getevents failed");
	check_ctx_left(ctx, aw.setups, aw.destroys, true, "io_getevents failing with -EFAULT");
	caller_ctx_done(ctx, "after io_getevents failed");
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(faults, getevents_timeout_runs_out, 1,
	   "io_getevents with a timeout coming back with no event (the time ran out, 3 and "
	   "1000 times in a row): not an error, the batch waits again and returns 0",
	   "TODO 5: io_getevents returns the number of events, and with a timeout that can be 0: "
	   "nothing finished yet, which is no error of the batch; wait again (or wait with no "
	   "timeout at all, as the lesson does) (io_getevents(2), RETURN VALUE)")
{
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 30, 10000);

	watch_start();
	/* The first three waits that carry a timeout see it run out. A code
	 * that waits with no timeout is never asked. */
	aw.timeout_zeros = 3;
	run_batch(&p, 4, "30 requests at qd 4, the first three io_getevents with a timeout "
		  "answering 0 events (the time ran out)");
	/* A slow device (a disk retrying a sector, a network filesystem):
	 * 1000 timed waits in a row run out. However long it takes, the
	 * reads are still in flight; a watchdog that gives up after some
	 * number of empty waits returns an error the contract has no room
	 * for, with the reads still going. */
	watch_start();
	aw.timeout_zeros = 1000;
	run_batch(&p, 4, "30 requests at qd 4, the first 1000 io_getevents with a timeout "
		  "answering 0 events (a device that takes its time): no count of empty waits "
		  "ends the batch, wait again");
	plan_free(&p);
	close_datafile(&f);
}

GRADE_TEST(ctx, faults_of_the_batch, 3,
	   "laio_batch_read_ctx under laio_batch_read's faults: the window refilled as "
	   "completions arrive (latest first too), in one io_submit per refill, io_getevents answering -EINTR 20 times in "
	   "a row, a piece answered -EINTR ten times, reads failing (-EIO in the event, -EBADF "
	   "from io_submit) after a short piece, one read of 5 GiB",
	   "TODO 10: laio_batch_read_ctx keeps every rule of laio.h's \"Behaviour the tests "
	   "check\" (TODOs 3-6): it is the same loop on the caller's context. One loop is "
	   "simplest: laio_batch_read = io_setup + laio_batch_read_ctx + io_destroy")
{
	static const char why[] = "laio_batch_read_ctx keeps every rule laio_batch_read "
				  "keeps (laio.h: \"with every rule of its 'Behaviour the tests "
				  "check'\"). If it has a loop of its own, that loop needs the same "
				  "cases as TODOs 3-6; simpler, make laio_batch_read io_setup + "
				  "laio_batch_read_ctx + io_destroy (TODO 10)";
	struct datafile f = make_datafile("f", 300000, O_RDONLY);
	struct plan p = random_plan(&f, 40, 10000);
	io_context_t ctx = caller_ctx(32);
	int ret;

	/* The window refills as completions arrive: one at a time, the latest
	 * first (the oldest read in flight is the slowest), and then as the
	 * kernel gives them, several per wait. Every read inside the file, as
	 * in 02.05: each one goes to the kernel. */
	struct plan in = plan_new(40);

	for (size_t i = 0; i < in.n; i++)
		plan_read(&in, i, &f, -1, (off_t)grade_rand_below(290000),
			  1 + grade_rand_below(8000), "a read inside the file");
	for (int kernel_pace = 0; kernel_pace <= 1; kernel_pace++) {
		const char *how = kernel_pace ? "several completions per io_getevents" :
				  "completions one at a time, the latest first";

		watch_start();
		aw.one_at_a_time = aw.reverse = !kernel_pace;
		aw.window = 8;
		aw.batch_n = (long)in.n;
		ret = run_ctx(&in, ctx, 32, 8);
		grade_check(ret == 0, "laio_batch_read_ctx (40 requests at qd 8, nr_events 32, "
			    "%s) returned %s, expected 0", how, errno_name(ret));
		plan_check(&in, "laio_batch_read_ctx, 40 requests at qd 8");
		grade_check(aw.waits_below == 0 && aw.waits_min_nr_above_one == 0 &&
			    aw.max_inflight == 8, "laio_batch_read_ctx (40 requests at qd 8, "
			    "nr_events 32, %s) waited %ld time(s) with fewer than 8 reads in flight "
			    "while requests were still waiting to start (first: %ld in flight, %ld of "
			    "40 submitted), %ld time(s) for min_nr above 1; at most %ld in flight: "
			    "every slot a completion frees takes the next request before the next "
			    "wait, whichever request finished and however many came back, and the "
			    "wait is for min_nr 1 (TODOs 3-5, pitfall 3). %s", how, aw.waits_below,
			    aw.waits_below_inflight, aw.waits_below_accepted,
			    aw.waits_min_nr_above_one, aw.max_inflight, why);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, how);
	}
	plan_free(&in);

	/* Every refill in one io_submit, as 02.24 asks of laio_batch_read: 1024
	 * cached reads at qd 32, no fault injected, so an io_submit that took
	 * every iocb it was offered and is followed by another io_submit with
	 * no wait in between left iocbs behind that were ready (up to 3 such
	 * calls per wait are let through, as 02.24 does). */
	in = plan_new(1024);
	for (size_t i = 0; i < in.n; i++)
		plan_read(&in, i, &f, -1, (off_t)(4096 * grade_rand_below(70)), 4096,
			  "a 4 KiB read");
	watch_start();
	ret = run_ctx(&in, ctx, 32, 32);
	grade_check(ret == 0, "laio_batch_read_ctx (1024 requests at qd 32, nr_events 32) "
		    "returned %s, expected 0", errno_name(ret));
	plan_check(&in, "laio_batch_read_ctx, 1024 requests at qd 32");
	{
		char advice[1024];

		snprintf(advice, sizeof(advice), "your code offers io_submit one iocb (or a few) "
			 "per call. Refill every slot the wait freed, then one io_submit with every "
			 "iocb that is ready (TODOs 3, 4 and 10; pitfall 15). %s", why);
		check_refill_submits("laio_batch_read_ctx", "1024 reads at qd 32", advice);
	}
	check_ctx_left(ctx, aw.setups, aw.destroys, false, "1024 requests at qd 32");
	plan_free(&in);

	/* io_getevents interrupted 20 times in a row: waited again each time. */
	watch_start();
	aw.eintr_first = 20;
	ret = run_ctx(&p, ctx, 32, 8);
	grade_check(aw.eintrs > 0, "harness: no -EINTR was injected");
	grade_check(ret == 0, "laio_batch_read_ctx (40 requests at qd 8) returned %s after "
		    "io_getevents answered -EINTR %ld time(s) in a row; expected 0: -EINTR from "
		    "io_getevents is a signal handler that ran while you waited, waited again "
		    "however often it comes (TODO 5, pitfall 8). %s", errno_name(ret),
		    aw.eintrs, why);
	plan_check(&p, "laio_batch_read_ctx, io_getevents answering -EINTR 20 times in a row");
	check_ctx_left(ctx, aw.setups, aw.destroys, false, "io_getevents answering -EINTR");

	/* A read answered 1000 bytes at a time, its second piece -EINTR ten
	 * times in a row: the same piece again each time. */
	{
		unsigned char *buf = aligned_buffer(5000);
		int pfd = grade_open("/dev/null", O_RDONLY);   /* never read: it pretends */
		struct batch_req one = { pfd, 4096, 5000, buf, 12345 };

		watch_start();
		pretend_aio_start(pfd, buf, 4096);
		pa.cap = 1000;
		pa.eintr_piece = 2;
		pa.eintr_count = 10;
		ret = SEAM_CALL(laio_batch_read_ctx(ctx, 32, &one, 1, 1));
		close(pfd);
		free(buf);
		grade_check(pa.eintrs > 0, "harness: no piece was interrupted (%ld piece(s) "
			    "submitted)", pa.pieces);
		grade_check(ret == 0 && one.res == 5000, "laio_batch_read_ctx of 5000 bytes "
			    "answered 1000 at a time, its second piece interrupted ten times in a row "
			    "(res -EINTR %ld time(s)): returned %s, res %s, expected 0 and 5000: each "
			    "-EINTR in res is a signal before any byte of that piece, submitted "
			    "again (TODO 6, pitfall 11). %s", pa.eintrs, errno_name(ret),
			    errno_name(one.res), why);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, "a piece answered -EINTR");
	}

	/* Every read short (half); the rest of every second one failing, with
	 * -EIO in its event, or refused by io_submit with -EBADF. */
	for (unsigned k = 0, qd = 4; k < 2; k++, qd = 1) {
		struct plan q = fail_half_plan(&f, -EIO);
		char what[120];

		watch_start();
		aw.halve = true;
		seam_hook_io_getevents = eio_on_remainder;
		check_fail_half(&q, ctx, qd, "the rest failing with -EIO in its event", why);
		seam_hook_io_getevents = w_io_getevents;
		snprintf(what, sizeof(what), "reads failing with -EIO after a short piece, qd %u",
			 qd);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, what);
		plan_free(&q);

		q = fail_half_plan(&f, -EBADF);
		watch_start();
		aw.halve = true;
		seam_hook_io_submit = ebadf_on_remainder_submit;
		remainder_refusals = 0;
		check_fail_half(&q, ctx, qd, "io_submit refusing the rest (the first iocb of the "
				"array) with -EBADF", why);
		seam_hook_io_submit = w_io_submit;
		grade_check(remainder_refusals >= 6, "harness: io_submit refused the rest of "
			    "only %ld short read(s)", remainder_refusals);
		snprintf(what, sizeof(what), "the rest of short reads refused with -EBADF, qd %u",
			 qd);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, what);
		plan_free(&q);
	}

	/* 5 GiB in one request, each iocb answered with at most 0x7ffff000
	 * bytes (the kernel's cap on one transfer). */
	{
		const unsigned long long len = 5ull << 30;
		unsigned char *base = fault_sparse_buffer((size_t)len + 4096, 0);
		int pfd = grade_open("/dev/null", O_RDONLY);   /* never read: it pretends */
		struct batch_req big = { pfd, (off_t)(1ull << 30), (size_t)len, base, 1 };

		watch_start();
		pretend_aio_start(pfd, base, 1ll << 30);
		ret = SEAM_CALL(laio_batch_read_ctx(ctx, 32, &big, 1, 4));
		fault_sparse_buffer_free(base, (size_t)len + 4096, 0);
		close(pfd);
		grade_check(ret == 0 && big.res == (ssize_t)len, "laio_batch_read_ctx of one "
			    "5 GiB request (each iocb answered with at most 0x7ffff000 bytes) "
			    "returned %s, res %s after %ld iocb(s); expected 0 and %llu: lengths in "
			    "a size_t, the rest (len - done) submitted after each short read "
			    "(TODO 6). %s", errno_name(ret), errno_name(big.res), pa.pieces, len,
			    why);
		grade_check(pa.done == len, "laio_batch_read_ctx of one 5 GiB request has res "
			    "%s, but the iocbs submitted for it brought %llu bytes (%ld iocb(s), each "
			    "answered with at most 0x7ffff000 bytes): res counts bytes that were "
			    "never read. Compare a piece's res with what it asked in 64 bits (a "
			    "size_t) and add up what came back (TODO 6; pitfall 18). %s",
			    errno_name(big.res), pa.done, pa.pieces, why);
		check_ctx_left(ctx, aw.setups, aw.destroys, false, "one read of 5 GiB");
	}
	caller_ctx_done(ctx, "after the faults");
	plan_free(&p);
	close_datafile(&f);
}

/* ------------------------------------------------------------- two callers */

/*
 * Two threads each run a batch of their own at the same moment (laio.h: no
 * state shared between calls). The order is forced, not left to timing: the
 * first caller's io_getevents returns its completions, and before the first
 * caller may look at them, the second caller runs its batch up to its own
 * first io_getevents. Completions kept in a static array (or any other
 * state shared by calls) are overwritten by the second caller's, every time.
 */
#define TWO_WAIT_S 4
#define TWO_N 8

static struct {
	sem_t first_reaped;   /* caller A's io_getevents returned events       */
	sem_t second_reaped;  /* caller B's io_getevents returned events       */
	atomic_int a_paused;  /* A held back once                              */
	atomic_int b_posted;
	atomic_int a_timed_out; /* a later wait of A found nothing in 4 s      */
	struct plan *b_plan;
	int b_rc;
} two;
static _Thread_local int two_role;   /* 1: caller A (the test), 2: caller B */

static void two_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += TWO_WAIT_S;
}

static int two_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			 struct timespec *timeout)
{
	struct timespec dl, bound = { TWO_WAIT_S, 0 };
	int r;

	if (two_role == 1 && atomic_load(&two.a_paused)) {
		/* A's later waits: its reads are in the page cache and complete
		 * at once. One that never comes was taken by the other caller. */
		if (timeout == NULL && min_nr > 0) {
			r = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, &bound);
			if (r == 0) {
				atomic_store(&two.a_timed_out, 1);
				return -ETIME;
			}
			return r;
		}
		return SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, timeout);
	}
	r = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, timeout);
	if (r > 0 && two_role == 1 && !atomic_exchange(&two.a_paused, 1)) {
		sem_post(&two.first_reaped);
		two_deadline(&dl);
		while (sem_timedwait(&two.second_reaped, &dl) != 0 && errno == EINTR)
			;
	} else if (r > 0 && two_role == 2 && !atomic_exchange(&two.b_posted, 1)) {
		sem_post(&two.second_reaped);
	}
	return r;
}

static void *two_second_caller(void *arg)
{
	struct timespec dl;

	(void)arg;
	two_role = 2;
	two_deadline(&dl);
	while (sem_timedwait(&two.first_reaped, &dl) != 0 && errno == EINTR)
		;
	two.b_rc = laio_batch_read(two.b_plan->reqs, two.b_plan->n, TWO_N);
	/* a B that never reaped (it failed first) must not hold A back */
	if (!atomic_exchange(&two.b_posted, 1))
		sem_post(&two.second_reaped);
	return NULL;
}

/* Each caller's io_setup and io_destroy, counted from both threads: a
 * context variable shared by the two calls (a static io_context_t) has
 * B's io_setup overwrite A's handle while A is still reading, so the two
 * io_destroy calls both name B's context (the kernel refuses the second)
 * and A's is never destroyed, every time: B's call runs while A waits. */
static atomic_long two_setups, two_destroys, two_destroys_refused;

static int two_io_setup(int nr, io_context_t *ctx)
{
	int rc = SEAM_REAL(io_setup)(nr, ctx);

	if (rc == 0)
		atomic_fetch_add(&two_setups, 1);
	return rc;
}

static int two_io_destroy(io_context_t ctx)
{
	int rc = SEAM_REAL(io_destroy)(ctx);

	atomic_fetch_add(rc == 0 ? &two_destroys : &two_destroys_refused, 1);
	return rc;
}

GRADE_TEST_T(batch, two_callers_at_once, 1,
	     "two threads each read a batch of their own at the same moment: neither sees the "
	     "other's completions",
	     "laio.h: every call keeps its own bookkeeping (its io_context_t, slots, pending "
	     "list, the io_event array io_getevents fills) in its own memory, never in static "
	     "variables shared by every call (TODOs 2, 5 and 7)", 15)
{
	struct datafile fa = make_datafile("a", 64 * 1024, O_RDONLY);
	struct datafile fb = make_datafile("b", 64 * 1024, O_RDONLY);
	struct plan pa = plan_new(TWO_N), pb = plan_new(TWO_N);
	pthread_t t;
	int rc;

	for (size_t i = 0; i < TWO_N; i++) {
		plan_read(&pa, i, &fa, -1, (off_t)(4096 * i), 4096, "caller A's 4 KiB read");
		/* B's reads are past its file's end (res 0), A's are whole: a
		 * completion of B's taken for one of A's is seen, every time. (B's
		 * reads alike A's, all 4096 for slots 0-7, looked the same.) */
		plan_read(&pb, i, &fb, -1, (off_t)(64 * 1024 + 4096 * i), 4096,
			  "caller B's 4 KiB read past the end of its file");
	}
	grade_check(sem_init(&two.first_reaped, 0, 0) == 0 &&
		    sem_init(&two.second_reaped, 0, 0) == 0, "harness: sem_init failed");
	two.b_plan = &pb;
	two.b_rc = 12345;
	two_role = 1;
	seam_hook_io_getevents = two_getevents;
	seam_hook_io_setup = two_io_setup;
	seam_hook_io_destroy = two_io_destroy;
	grade_check(SEAM_REAL(pthread_create)(&t, NULL, two_second_caller, NULL) == 0,
		    "harness: cannot start the second caller");
	seam_arm();
	rc = laio_batch_read(pa.reqs, pa.n, TWO_N);
	SEAM_REAL(pthread_join)(t, NULL);
	seam_disarm();
	seam_hook_io_getevents = NULL;
	seam_hook_io_setup = NULL;
	seam_hook_io_destroy = NULL;
	grade_check(atomic_load(&two_destroys_refused) == 0 &&
		    atomic_load(&two_destroys) == atomic_load(&two_setups),
		    "two threads called laio_batch_read at the same moment (B's whole call ran "
		    "while A waited for its completions): %ld io context(s) were set up, %ld "
		    "destroyed, and %ld io_destroy call(s) refused by the kernel (a context "
		    "already destroyed). The two calls shared one context handle (a static "
		    "io_context_t?): B's io_setup overwrote A's, both calls destroyed B's "
		    "context and A's was never destroyed. Keep the io_context_t in a local "
		    "variable of each call, zeroed before io_setup (laio.h: no state in static "
		    "variables; TODOs 2 and 7, pitfall 12)", atomic_load(&two_setups),
		    atomic_load(&two_destroys), atomic_load(&two_destroys_refused));
	grade_check(!atomic_load(&two.a_timed_out) && rc == 0 && two.b_rc == 0,
		    "two threads called laio_batch_read at the same moment, each with 8 reads of "
		    "its own file (B's past its end); caller A returned %s and caller B %s, expected 0 and 0%s. The "
		    "harness let B run its batch up to its first io_getevents while A had "
		    "completions in hand it had not yet looked at: what B's call wrote went into "
		    "A's bookkeeping. Keep every call's state in memory of its own (laio.h: no "
		    "state shared between calls), not in static variables", errno_name(rc),
		    errno_name(two.b_rc), atomic_load(&two.a_timed_out) ? " (A waited 4 s for "
		    "completions of its own that had been handed to nobody: B's call took "
		    "them, or A took B's)" : "");
	plan_check(&pa, "caller A, while caller B read another file at the same moment "
		   "(state shared between calls?)");
	plan_check(&pb, "caller B, while caller A read another file at the same moment "
		   "(state shared between calls?)");
	sem_destroy(&two.first_reaped);
	sem_destroy(&two.second_reaped);
	plan_free(&pa);
	plan_free(&pb);
	close_datafile(&fa);
	close_datafile(&fb);
}

/* ------------------------------------------------------- the caller's array */

/*
 * A copy of p's requests placed so that the page right after reqs[n - 1]
 * can be neither read nor written, and, when the array fills whole pages,
 * the page right before reqs[0] either: a loop that runs to i <= n (or
 * looks at reqs[-1]) faults at once, every time, instead of reading
 * whatever the heap holds there.
 */
struct guarded {
	char *map;
	size_t maplen;
	struct batch_req *own;  /* p's own array, back in place after */
};

static void guard_reqs(struct plan *p, struct guarded *g)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE), bytes = p->n * sizeof(*p->reqs);
	const size_t pages = (bytes + pg - 1) / pg;
	struct batch_req *at;

	g->maplen = (pages + 2) * pg;
	g->map = mmap(NULL, g->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	grade_check(g->map != MAP_FAILED, "harness: mmap: %s", strerror(errno));
	grade_check(mprotect(g->map + pg, pages * pg, PROT_READ | PROT_WRITE) == 0,
		    "harness: mprotect: %s", strerror(errno));
	at = (struct batch_req *)(g->map + pg + pages * pg - bytes);
	memcpy(at, p->reqs, bytes);
	g->own = p->reqs;
	p->reqs = at;
}

static void unguard_reqs(struct plan *p, struct guarded *g)
{
	memcpy(g->own, p->reqs, p->n * sizeof(*p->reqs));
	p->reqs = g->own;
	munmap(g->map, g->maplen);
}

GRADE_TEST(batch, only_the_callers_array, 1,
	   "reqs[0] .. reqs[n - 1] and nothing beside them: arrays of 512 and 5 requests with "
	   "a page no one may touch right after them (and before the 512), through "
	   "laio_batch_read and laio_batch_read_ctx",
	   "TODOs 1 and 3: the batch is reqs[0] .. reqs[n - 1] (chapters/common/batch.h): "
	   "every loop over it runs while i < n, never i <= n. A crash (SIGSEGV) in this test "
	   "is your code reading or writing reqs[n] (or reqs[-1]), the memory after (or "
	   "before) the caller's array")
{
	static const size_t sizes[] = { 512, 5 };   /* 512 requests fill whole pages */
	struct datafile f = make_datafile("f", 256 * 1024, O_RDONLY);
	io_context_t ctx = caller_ctx(16);

	watch_start();
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct plan p = plan_new(sizes[k]);
		struct guarded g;
		char what[160];

		for (size_t i = 0; i < p.n; i++)
			plan_read(&p, i, &f, -1, (off_t)grade_rand_below(300 * 1024),
				  1 + grade_rand_below(8192), "a read, some past the end");
		guard_reqs(&p, &g);
		snprintf(what, sizeof(what), "%zu requests at qd 16 ending at a page no one may "
			 "touch", p.n);
		run_batch(&p, 16, what);
		snprintf(what, sizeof(what), "laio_batch_read_ctx of %zu requests at qd 16 ending "
			 "at a page no one may touch", p.n);
		run_ctx_ok(&p, ctx, 16, 16, what);
		unguard_reqs(&p, &g);
		plan_free(&p);
	}
	caller_ctx_done(ctx, "after the batches");
	close_datafile(&f);
}

/* check_no_pause WHAT WHY: the watcher saw no pause (a sleep made before
 * io_submit first answered -EAGAIN or 0) in the run WHAT; WHY says why
 * none was due there. */
static void check_no_pause(const char *what, const char *why)
{
	grade_check(aw.pauses_unasked == 0, "%s paused %ld time(s) (nanosleep, usleep, poll, a "
		    "timed io_getevents with nothing in flight, ...) though io_submit never "
		    "answered -EAGAIN: %s", what, aw.pauses_unasked, why);
}

GRADE_TEST(faults, no_pause_without_eagain, 1,
	   "no pause where io_submit never refused: 1000 reads at qd 1 and 200 at qd 8, "
	   "through laio_batch_read and laio_batch_read_ctx, then with -EINTR, partial submits, "
	   "bad fds and res -EINTR, without one nanosleep (or any other sleep)",
	   "TODOs 4 and 5: the pause between tries is for io_submit answering -EAGAIN with "
	   "nothing of yours in flight, and only for that; otherwise the wait is io_getevents "
	   "for the reads in flight (laio.h; pitfall 7)")
{
	struct datafile f = make_datafile("f", 256 * 1024, O_RDONLY);
	io_context_t ctx = caller_ctx(16);
	static const unsigned qds[] = { 1, 8 };
	static const size_t ns[] = { 1000, 200 };

	watch_start();
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		struct plan p = random_plan(&f, ns[k], 4096);
		char what[160];

		/* The watcher counts every sleep (nanosleep, usleep, poll, a
		 * timed io_getevents with nothing in flight, ...) made before
		 * io_submit first answers -EAGAIN or 0, real or injected; its
		 * pauses take no time, and nothing is injected here. A wait
		 * for reads in flight, with a timeout or without, is no pause. */
		snprintf(what, sizeof(what), "%zu requests at qd %u", p.n, qds[k]);
		run_batch(&p, qds[k], what);
		snprintf(what, sizeof(what), "laio_batch_read (%zu requests at qd %u)", p.n, qds[k]);
		check_no_pause(what, "the pause is only for -EAGAIN with nothing of yours in "
			       "flight (laio.h). Each pause is milliseconds, so one per round makes "
			       "this batch take seconds for nothing; the wait for completions is "
			       "io_getevents (TODOs 4 and 5, pitfall 7)");
		snprintf(what, sizeof(what), "laio_batch_read_ctx of %zu requests at qd %u", p.n,
			 qds[k]);
		run_ctx_ok(&p, ctx, 16, qds[k], what);
		check_no_pause(what, "the pause is only for -EAGAIN with nothing of yours in "
			       "flight (laio.h; TODOs 4, 5 and 10, pitfall 7)");
		plan_free(&p);
	}
	/* Signals, not refusals: io_submit answering -EINTR (nothing was
	 * submitted) and io_getevents answering -EINTR are tried again at
	 * once; neither is a reason to pause. */
	{
		struct plan p = random_plan(&f, 200, 4096);
		const char *what = "200 requests at qd 8, every 3rd io_submit and every 4th "
				   "io_getevents answering -EINTR";
		char label[200];

		aw.submit_eintr_every = 3;
		aw.eintr_every = 4;
		run_batch(&p, 8, what);
		grade_check(aw.submit_eintrs > 0, "harness: no io_submit -EINTR injected (%s)",
			    what);
		snprintf(label, sizeof(label), "laio_batch_read (%s)", what);
		check_no_pause(label, "-EINTR from io_submit or io_getevents means a signal "
			       "handler ran, nothing is short of resources; call it again at once "
			       "(laio.h: nothing else pauses; TODOs 4 and 5, pitfall 7)");
		aw.submit_eintr_every = aw.eintr_every = 0;
		plan_free(&p);
	}
	/* Nor is a partial submit (the rest goes out at once, laio.h), a run
	 * of -EINTR from io_submit, a request io_submit fails (the ones behind
	 * it go on) or a piece answered res -EINTR (the same piece again). */
	{
		struct plan p = random_plan(&f, 200, 4096);
		const char *what = "200 requests at qd 8, three on fd 9999 (not open), "
				   "io_submit taking 1-3 iocbs per call and answering -EINTR 3 "
				   "times in 4, every 5th read answered res -EINTR";
		char label[300];

		for (size_t i = 7; i < p.n; i += 70)
			plan_error(&p, i, 9999, 0, 100, -EBADF, "fd 9999, not open");
		aw.accept_cycle = 3;
		aw.submit_eintr_run = 3;
		aw.eintr_res_every = 5;
		run_batch(&p, 8, what);
		grade_check(aw.eintr_res_injected > 0 && aw.submit_eintrs > 0, "harness: no "
			    "-EINTR injected (%s)", what);
		snprintf(label, sizeof(label), "laio_batch_read (%s)", what);
		check_no_pause(label, "io_submit taking fewer iocbs than offered, answering "
			       "-EINTR (however often) or failing the first iocb is no refusal: "
			       "submit the rest at once; and a read answered res -EINTR is "
			       "submitted again at once. None of them lacks a resource that time "
			       "would bring (laio.h: nothing else pauses; TODOs 4 and 6, "
			       "pitfall 7)");
		aw.accept_cycle = aw.submit_eintr_run = aw.eintr_res_every = 0;
		plan_free(&p);
	}
	caller_ctx_done(ctx, "after the batches");
	close_datafile(&f);
}

/* ------------------------------------------------ O_DIRECT, short reads */

/* Every event of more than one block comes back short, cut to whole blocks
 * (half of it, rounded down to a block, at least one block): the rest of
 * the read then starts on a block too, a legal O_DIRECT read. */
static long direct_cuts;

static int direct_in_blocks(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			    struct timespec *ts)
{
	int got = w_io_getevents(ctx, min_nr, nr, ev, ts);

	for (int i = 0; i < got; i++) {
		long res = (long)ev[i].res;

		if (res > 4096) {
			long cut = res / 2 / 4096 * 4096;

			ev[i].res = (unsigned long)(cut > 0 ? cut : 4096);
			direct_cuts++;
		}
	}
	return got;
}

GRADE_TEST(direct, short_reads_continue, 1,
	   "O_DIRECT: a read that comes back short (whole blocks, before end of file) is "
	   "continued like any other, through laio_batch_read and laio_batch_read_ctx",
	   "TODO 6: laio.h's short-read rule has no exception for O_DIRECT: a positive res "
	   "below what the piece asked, before end of file, is continued from offset + done "
	   "into buf + done (pitfall 9). A short count in whole blocks leaves the rest "
	   "aligned, so it is a legal O_DIRECT read; only res 0 is end of file")
{
	struct datafile f = make_datafile("f", 1 << 20, O_RDONLY);
	int fd = open_direct_or_skip(grade_path("f"));
	struct plan p = plan_new(8);
	io_context_t ctx;
	int ret;

	for (size_t i = 0; i < p.n - 1; i++)
		plan_read(&p, i, &f, fd, (off_t)(4096 * (24 * i + 3)), 4096 * (2 + 2 * i),
			  "an aligned O_DIRECT read, answered in whole blocks");
	/* The last runs past the end: 2 blocks there, then res 0. */
	plan_read(&p, p.n - 1, &f, fd, (off_t)((1 << 20) - 2 * 4096), 8 * 4096,
		  "an aligned O_DIRECT read past the end of the file, answered in whole blocks");
	watch_start();
	seam_hook_io_getevents = direct_in_blocks;
	run_batch(&p, 1, "O_DIRECT reads each answered short in whole blocks (half of what "
		  "a piece asks) before the end of the file, qd 1");
	run_batch(&p, 4, "O_DIRECT reads each answered short in whole blocks (half of what "
		  "a piece asks) before the end of the file, qd 4");
	grade_check(direct_cuts > 0, "harness: no O_DIRECT read came back short");

	ctx = caller_ctx(16);
	plan_reset(&p);
	watch_next_call();
	ret = SEAM_CALL(laio_batch_read_ctx(ctx, 16, p.reqs, p.n, 4));
	seam_hook_io_getevents = w_io_getevents;
	grade_check(ret == 0, "laio_batch_read_ctx(ctx, 16, reqs, %zu, 4), O_DIRECT reads "
		    "answered short in whole blocks: returned %s, expected 0", p.n,
		    errno_name(ret));
	plan_check(&p, "laio_batch_read_ctx, O_DIRECT reads each answered short in whole "
		   "blocks (half of what a piece asks) before the end of the file, qd 4");
	caller_ctx_done(ctx, "after the O_DIRECT batch");
	plan_free(&p);
	close(fd);
	close_datafile(&f);
}

/* ------------------------------------ a whole call inside another's submit */

/*
 * Caller A reads 16 requests at qd 4, so after its first wait most of them
 * are still to start. The first io_submit A makes after io_getevents handed
 * it events (the refill) is held before it reaches the kernel until caller
 * B's whole laio_batch_read (24 requests of another file, qd 4) has
 * returned; then it goes on. A piece of bookkeeping kept in a static and
 * set when a batch starts (the next request to start, the number of iocbs
 * pending or of idle slots, a count in flight, the window) then holds what
 * B's call left in it when A goes on: A starts the wrong requests or none,
 * drops iocbs it never counted, or pops slots still in flight, every time.
 * (02.51 lets A go at B's first wait, when B has set up its whole window
 * and A has made no call since its own window went out.)
 */
#define WHOLE_A_N 16
#define WHOLE_B_N 24

static struct {
	sem_t a_held;         /* A is held in its refill's io_submit        */
	sem_t b_returned;     /* B's laio_batch_read returned               */
	atomic_int a_reaped;  /* A's io_getevents handed back events        */
	atomic_int a_was_held;
	atomic_int b_ran;
	atomic_int a_timed_out;
	struct plan *b_plan;
	int b_rc;
} whole;
static _Thread_local int whole_role;   /* 1: caller A (the test), 2: caller B */

static int whole_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			   struct timespec *timeout)
{
	int r = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, timeout);

	if (r > 0 && whole_role == 1)
		atomic_store(&whole.a_reaped, 1);
	return r;
}

static int whole_submit(io_context_t ctx, long nr, struct iocb **list)
{
	struct timespec dl;

	if (whole_role == 1 && atomic_load(&whole.a_reaped) &&
	    !atomic_exchange(&whole.a_was_held, 1)) {
		sem_post(&whole.a_held);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += TWO_WAIT_S;
		while (sem_timedwait(&whole.b_returned, &dl) != 0)
			if (errno != EINTR) {
				atomic_store(&whole.a_timed_out, 1);
				break;
			}
	}
	return SEAM_REAL(io_submit)(ctx, nr, list);
}

static void *whole_second_caller(void *arg)
{
	struct timespec dl;

	(void)arg;
	whole_role = 2;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += TWO_WAIT_S;
	while (sem_timedwait(&whole.a_held, &dl) != 0 && errno == EINTR)
		;
	whole.b_rc = laio_batch_read(whole.b_plan->reqs, whole.b_plan->n, 4);
	atomic_store(&whole.b_ran, 1);
	sem_post(&whole.b_returned);
	return NULL;
}

GRADE_TEST_T(batch, a_whole_call_inside_another, 1,
	     "a second thread runs a whole batch of its own while the first is about to "
	     "submit its refill: the first goes on where it was",
	     "laio.h: several threads may call laio_batch_read at the same moment; keep "
	     "every piece of a call's bookkeeping (the next request to start, the counts of "
	     "pending iocbs, idle slots and reads in flight, the window, the slots) in memory "
	     "of that call, never in a static variable that each call resets when it starts "
	     "(TODOs 2 and 3)", 15)
{
	struct datafile fa = make_datafile("a", 128 * 1024, O_RDONLY);
	struct datafile fb = make_datafile("b", 128 * 1024, O_RDONLY);
	struct plan pa = plan_new(WHOLE_A_N), pb = plan_new(WHOLE_B_N);
	pthread_t t;
	int rc;

	for (size_t i = 0; i < WHOLE_A_N; i++)
		plan_read(&pa, i, &fa, -1, (off_t)(4096 * i), 4096, "caller A's 4 KiB read");
	for (size_t i = 0; i < WHOLE_B_N; i++)
		plan_read(&pb, i, &fb, -1, (off_t)(4096 * i + 1000), 3000,
			  "caller B's 3000-byte read");
	grade_check(sem_init(&whole.a_held, 0, 0) == 0 &&
		    sem_init(&whole.b_returned, 0, 0) == 0, "harness: sem_init failed");
	whole.b_plan = &pb;
	whole.b_rc = 12345;
	whole_role = 1;
	seam_hook_io_getevents = whole_getevents;
	seam_hook_io_submit = whole_submit;
	grade_check(SEAM_REAL(pthread_create)(&t, NULL, whole_second_caller, NULL) == 0,
		    "harness: cannot start the second caller");
	seam_arm();
	rc = laio_batch_read(pa.reqs, pa.n, 4);
	/* An A that was never held (it failed first, or never refilled) must
	 * not leave B waiting: B then runs alone, after A. */
	if (!atomic_exchange(&whole.a_was_held, 1))
		sem_post(&whole.a_held);
	else
		atomic_store(&whole.a_was_held, 2);
	SEAM_REAL(pthread_join)(t, NULL);
	seam_disarm();
	seam_hook_io_getevents = NULL;
	seam_hook_io_submit = NULL;
	grade_check(atomic_load(&whole.a_was_held) == 2, "caller A (16 reads at qd 4, returned "
		    "%s) never called io_submit after io_getevents had handed it completions: at "
		    "qd 4 the other 12 requests go out as completions free their slots (TODO 3)",
		    errno_name(rc));
	grade_check(atomic_load(&whole.b_ran) && !atomic_load(&whole.a_timed_out),
		    "harness: caller B's batch did not return while caller A was held");
	grade_check(rc == 0 && whole.b_rc == 0, "caller A (16 reads at qd 4) was about to "
		    "submit its refill while caller B ran a whole batch of 24 reads at qd 4 in "
		    "another thread; then A went on. A returned %s and B %s, expected 0 and 0. "
		    "Something of A's call was kept where B's call could change it (a static "
		    "variable?): every call's state lives in memory of its own (laio.h)",
		    errno_name(rc), errno_name(whole.b_rc));
	plan_check(&pa, "caller A (16 reads at qd 4), held at its refill's io_submit while "
		   "caller B ran a whole batch of 24 reads in another thread: A's call lost "
		   "track of its own requests (the next one to start, or a count, kept in a "
		   "static variable that B's call set again?)");
	plan_check(&pb, "caller B, which ran its whole batch while caller A was held");
	sem_destroy(&whole.a_held);
	sem_destroy(&whole.b_returned);
	plan_free(&pa);
	plan_free(&pb);
	close_datafile(&fa);
	close_datafile(&fb);
}
