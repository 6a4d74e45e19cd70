/*
 * tour.c - chapter 07: links, timeouts and cancellation, each shown on its
 * own with raw liburing calls. A standalone program (it does not use the
 * chapter's module), built beside the demo and run with:
 *
 *   make run CH=07 PROG=tour ARGS="link | hardlink | drain | timeout |\n *                                  linktimeout | race | cancel | wait | exit | all"
 *
 * (one part, or all; the binary is then build/exercises/07-uring-link/tour,
 * for strace). Without the course's build:
 *   cc -std=gnu11 -Wall -o tour chapters/07-uring-link/tour.c -luring
 *
 * Every part prints each CQE in the order it arrived and checks what the
 * lesson says; the program exits 0 only if everything matched. `race`
 * prints a tally instead: which side wins a race is the machine's business.
 *
 * Requests that wait forever are reads on empty pipes: nothing else is
 * needed to keep a request in flight for as long as we like, and one
 * write(2) of ours ends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mismatches;

static void expect(bool ok, const char *what)
{
	printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		mismatches++;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "tour: %s: %s\n", what, strerror(err));
	exit(2);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* "-ECANCELED", "12", ...: a CQE's res as the lesson writes it. */
static const char *res_name(int res)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ % 4];

	if (res >= 0)
		snprintf(b, 32, "%d", res);
	else if (strerrorname_np(-res))
		snprintf(b, 32, "-%s", strerrorname_np(-res));
	else
		snprintf(b, 32, "%d", res);
	return b;
}

static void ring_init(struct io_uring *ring, unsigned entries)
{
	int ret = io_uring_queue_init(entries, ring, 0);

	if (ret < 0) {
		fprintf(stderr, "tour: io_uring_queue_init: %s%s\n", strerror(-ret),
			ret == -EPERM ? " (io_uring blocked: see make doctor)" :
			ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small: ulimit -l)" : "");
		exit(2);
	}
}

/* An SQE, or die: our rings are sized so that this never fails. */
static struct io_uring_sqe *sqe_for(struct io_uring *ring, __u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (sqe == NULL)
		die("io_uring_get_sqe", EBUSY);
	io_uring_sqe_set_data64(sqe, user_data);
	return sqe;
}

static void submit(struct io_uring *ring)
{
	int ret = io_uring_submit(ring);

	if (ret < 0)
		die("io_uring_submit", -ret);
}

struct seen {
	__u64 user_data;
	int res;
};

/* Wait for n CQEs; copy them out in the order they arrived. */
static void reap(struct io_uring *ring, struct seen *out, int n)
{
	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		int ret;

		while ((ret = io_uring_wait_cqe(ring, &cqe)) == -EINTR)
			;
		if (ret < 0)
			die("io_uring_wait_cqe", -ret);
		out[i].user_data = cqe->user_data;
		out[i].res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
}

/* Take every CQE already in the CQ, without waiting. Returns how many. */
static int reap_ready(struct io_uring *ring, struct seen *out, int max)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (n < max && io_uring_peek_cqe(ring, &cqe) == 0) {
		out[n].user_data = cqe->user_data;
		out[n].res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		n++;
	}
	return n;
}

/* Print CQEs with names for their user_data; names[i] is user_data i. */
static void show(const struct seen *s, int n, const char *const *names)
{
	for (int i = 0; i < n; i++)
		printf("    CQE %d: %-10s res %s\n", i + 1, names[s[i].user_data],
		       res_name(s[i].res));
}

/* The result of the CQE with this user_data (INT32_MIN: none). */
static int res_of(const struct seen *s, int n, __u64 user_data)
{
	for (int i = 0; i < n; i++)
		if (s[i].user_data == user_data)
			return s[i].res;
	return INT32_MIN;
}

/* Its position among the CQEs (0-based), or -1. */
static int pos_of(const struct seen *s, int n, __u64 user_data)
{
	for (int i = 0; i < n; i++)
		if (s[i].user_data == user_data)
			return i;
	return -1;
}

static void make_pipe(int p[2])
{
	if (pipe(p) < 0)
		die("pipe", errno);
}

static void put(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die("write", errno);
}

/* A temporary file holding `text`; unlinked at once (the fd keeps it). */
static int temp_file(const char *text)
{
	char path[] = "/tmp/tour-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp", errno);
	unlink(path);
	if (pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
		die("pwrite", errno);
	return fd;
}

static off_t file_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat", errno);
	return st.st_size;
}

/* ---- link: what a chain promises, and what breaks it -------------------- */

enum { U_READ = 1, U_WRITE, U_NOP, U_TIMEOUT, U_CANCEL, U_OTHER };
static const char *const names[] = { "?", "read", "write", "nop", "timeout",
				     "cancel", "other" };

static char buf[4096];

/* read(in, len) -> write(out, len) [-> nop], linked; all CQEs in order. */
static void chain(struct io_uring *ring, int in, int out, unsigned len,
		  unsigned link_flag, bool with_nop, struct seen *s)
{
	struct io_uring_sqe *sqe;

	sqe = sqe_for(ring, U_READ);
	io_uring_prep_read(sqe, in, buf, len, 0);
	io_uring_sqe_set_flags(sqe, link_flag);
	sqe = sqe_for(ring, U_WRITE);
	io_uring_prep_write(sqe, out, buf, len, 0);
	if (with_nop) {
		io_uring_sqe_set_flags(sqe, link_flag);
		sqe = sqe_for(ring, U_NOP);
		io_uring_prep_nop(sqe);
	}
	submit(ring);
	reap(ring, s, with_nop ? 3 : 2);
	show(s, with_nop ? 3 : 2, names);
}

static void part_link(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct seen s[3];
	int in = temp_file("hello, link\n");   /* 12 bytes */
	int out;

	ring_init(&ring, 8);
	printf("link: read 12 of a 12-byte file -> write 12, IOSQE_IO_LINK\n");
	out = temp_file("");
	chain(&ring, in, out, 12, IOSQE_IO_LINK, false, s);
	expect(res_of(s, 2, U_READ) == 12 && res_of(s, 2, U_WRITE) == 12,
	       "the read got all 12, then the write ran: 12 and 12");
	expect(pos_of(s, 2, U_READ) == 0, "the read's CQE came first (it finished first)");
	close(out);

	printf("link: read 4096 of the same file (a short read: 12) -> write 4096\n");
	out = temp_file("");
	chain(&ring, in, out, 4096, IOSQE_IO_LINK, false, s);
	expect(res_of(s, 2, U_READ) == 12, "the read's CQE says 12 (short of 4096)");
	expect(res_of(s, 2, U_WRITE) == -ECANCELED,
	       "the short read broke the chain: the write is -ECANCELED");
	expect(file_size(out) == 0, "and it wrote nothing (the output file is empty)");

	printf("link: the same, three long: read -> write -> nop\n");
	chain(&ring, in, out, 4096, IOSQE_IO_LINK, true, s);
	expect(res_of(s, 3, U_WRITE) == -ECANCELED && res_of(s, 3, U_NOP) == -ECANCELED,
	       "everything after the break is -ECANCELED, the nop too");
	close(out);

	printf("link: read 4096 (short: 12) with IOSQE_IO_LINK, submitted alone; "
	       "its write\n  in the next io_uring_submit\n");
	out = temp_file("");
	sqe = sqe_for(&ring, U_READ);
	io_uring_prep_read(sqe, in, buf, 4096, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	submit(&ring);
	sqe = sqe_for(&ring, U_WRITE);
	io_uring_prep_write(sqe, out, buf, 4096, 0);
	submit(&ring);
	reap(&ring, s, 2);
	show(s, 2, names);
	expect(res_of(s, 2, U_READ) == 12 && res_of(s, 2, U_WRITE) == 4096,
	       "no chain across submissions: the write ran, all 4096 bytes");
	close(out);

	printf("link: a read that fails (fd -1: -EBADF) -> write\n");
	out = temp_file("");
	chain(&ring, -1, out, 12, IOSQE_IO_LINK, false, s);
	expect(res_of(s, 2, U_READ) == -EBADF && res_of(s, 2, U_WRITE) == -ECANCELED,
	       "-EBADF for the read, -ECANCELED for the write");
	close(out);
	close(in);
	io_uring_queue_exit(&ring);
}

/* ---- hardlink: the chain that does not break ---------------------------- */

static void part_hardlink(void)
{
	struct io_uring ring;
	struct seen s[3];
	int in = temp_file("hello, link\n");
	int out = temp_file("");
	char back[4096];
	bool stale = true;

	ring_init(&ring, 8);
	printf("hardlink: read 4096 of a 12-byte file -> write 4096, "
	       "IOSQE_IO_HARDLINK;\n  the buffer holds 'X' from before\n");
	memset(buf, 'X', sizeof(buf));
	chain(&ring, in, out, 4096, IOSQE_IO_HARDLINK, false, s);
	expect(res_of(s, 2, U_READ) == 12, "the read is short: 12");
	expect(res_of(s, 2, U_WRITE) == 4096,
	       "the write ran anyway, with its original length: 4096");
	if (pread(out, back, sizeof(back), 0) != (ssize_t)sizeof(back))
		die("pread", errno);
	for (size_t i = 12; i < sizeof(back); i++)
		stale = stale && back[i] == 'X';
	expect(memcmp(back, "hello, link\n", 12) == 0 && stale,
	       "the file holds the 12 bytes read, then 4084 stale 'X' bytes");
	close(in);
	close(out);
	io_uring_queue_exit(&ring);
}

/* ---- drain: a barrier for everything submitted before ------------------- */

static void part_drain(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct seen s[4];
	char c;
	int p[2], n;

	ring_init(&ring, 8);
	make_pipe(p);
	printf("drain: a read on an empty pipe, then nop A with IOSQE_IO_DRAIN, "
	       "then nop B\n");
	sqe = sqe_for(&ring, U_READ);
	io_uring_prep_read(sqe, p[0], &c, 1, 0);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
	sqe = sqe_for(&ring, U_OTHER);
	io_uring_prep_nop(sqe);
	submit(&ring);
	sleep_ms(50);
	n = reap_ready(&ring, s, 4);
	printf("  50 ms after the submit, %d CQE(s) in the CQ\n", n);
	expect(n == 0, "nothing: A waits for the read, and B waits for A");
	put(p[1], "!");
	reap(&ring, s, 3);
	show(s, 3, (const char *const[]){ "?", "read", "", "nop A", "", "", "nop B" });
	expect(pos_of(s, 3, U_READ) == 0 && pos_of(s, 3, U_NOP) == 1 &&
	       pos_of(s, 3, U_OTHER) == 2, "after the write: read, A, B, in that order");

	printf("drain: the same without the flag\n");
	sqe = sqe_for(&ring, U_READ);
	io_uring_prep_read(sqe, p[0], &c, 1, 0);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	submit(&ring);
	n = reap_ready(&ring, s, 4);
	expect(n == 1 && s[0].user_data == U_NOP, "the nop completes at once, the read waits");
	put(p[1], "!");
	reap(&ring, s, 1);
	close(p[0]);
	close(p[1]);
	io_uring_queue_exit(&ring);
}

/* ---- timeout: a request that completes after a time, or N completions --- */

static void part_timeout(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000000L };
	struct seen s[4];
	double t0, dt;

	ring_init(&ring, 8);
	printf("timeout: io_uring_prep_timeout(200 ms, count 0), nothing else\n");
	t0 = now_ms();
	sqe = sqe_for(&ring, U_TIMEOUT);
	io_uring_prep_timeout(sqe, &ts, 0, 0);
	submit(&ring);
	reap(&ring, s, 1);
	dt = now_ms() - t0;
	show(s, 1, names);
	printf("  after %.1f ms\n", dt);
	expect(s[0].res == -ETIME && dt >= 199, "-ETIME when the time is up");

	printf("timeout: 200 ms with count 2, then two nops\n");
	t0 = now_ms();
	sqe = sqe_for(&ring, U_TIMEOUT);
	io_uring_prep_timeout(sqe, &ts, 2, 0);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	submit(&ring);
	reap(&ring, s, 3);
	dt = now_ms() - t0;
	show(s, 3, names);
	printf("  after %.1f ms\n", dt);
	expect(res_of(s, 3, U_TIMEOUT) == 0 && pos_of(s, 3, U_TIMEOUT) == 2 && dt < 100,
	       "res 0, right after the two other CQEs, long before 200 ms");

	printf("timeout: 200 ms with count 3, and only two nops\n");
	t0 = now_ms();
	sqe = sqe_for(&ring, U_TIMEOUT);
	io_uring_prep_timeout(sqe, &ts, 3, 0);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	sqe = sqe_for(&ring, U_NOP);
	io_uring_prep_nop(sqe);
	submit(&ring);
	reap(&ring, s, 3);
	dt = now_ms() - t0;
	show(s, 3, names);
	printf("  after %.1f ms\n", dt);
	expect(res_of(s, 3, U_TIMEOUT) == -ETIME && dt >= 199,
	       "the count was not reached: -ETIME after 200 ms");
	io_uring_queue_exit(&ring);
}

/* ---- linktimeout: a deadline for one request ---------------------------- */

/* A read of up to 16 bytes from fd linked to a timeout of ms milliseconds. */
static void read_with_deadline(struct io_uring *ring, int fd, char *into, long ns)
{
	struct io_uring_sqe *sqe;
	/* Read by the kernel when the SQE is submitted (not when it fires):
	 * it must live until io_uring_submit returns. */
	struct __kernel_timespec ts = { .tv_sec = ns / 1000000000L,
					.tv_nsec = ns % 1000000000L };

	sqe = sqe_for(ring, U_READ);
	io_uring_prep_read(sqe, fd, into, 16, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	sqe = sqe_for(ring, U_TIMEOUT);
	io_uring_prep_link_timeout(sqe, &ts, 0);
	submit(ring);
}

static void part_linktimeout(void)
{
	struct io_uring ring;
	struct seen s[2];
	char into[16];
	int p[2];
	double t0, dt;

	ring_init(&ring, 8);
	make_pipe(p);
	printf("linktimeout: read an empty pipe, linked to a 100 ms timeout\n");
	t0 = now_ms();
	read_with_deadline(&ring, p[0], into, 100 * 1000000L);
	reap(&ring, s, 2);
	dt = now_ms() - t0;
	show(s, 2, names);
	printf("  after %.1f ms\n", dt);
	expect(res_of(s, 2, U_READ) == -ECANCELED && res_of(s, 2, U_TIMEOUT) == -ETIME,
	       "the read -ECANCELED, the timeout -ETIME");
	expect(dt >= 99, "not before the 100 ms were up");

	printf("linktimeout: the same with 5 bytes waiting in the pipe\n");
	put(p[1], "hello");
	t0 = now_ms();
	read_with_deadline(&ring, p[0], into, 100 * 1000000L);
	reap(&ring, s, 2);
	dt = now_ms() - t0;
	show(s, 2, names);
	printf("  after %.1f ms\n", dt);
	expect(res_of(s, 2, U_READ) == 5 && res_of(s, 2, U_TIMEOUT) == -ECANCELED,
	       "the read 5, the timeout -ECANCELED (the read beat it)");
	expect(dt < 50, "at once");

	printf("linktimeout: the read without IOSQE_IO_LINK, then the link timeout\n");
	{
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000L };
		struct io_uring_sqe *sqe = sqe_for(&ring, U_READ);

		io_uring_prep_read(sqe, p[0], into, 16, 0);
		sqe = sqe_for(&ring, U_TIMEOUT);
		io_uring_prep_link_timeout(sqe, &ts, 0);
		submit(&ring);
	}
	reap(&ring, s, 1);
	show(s, 1, names);
	expect(s[0].user_data == U_TIMEOUT && s[0].res == -EINVAL,
	       "the timeout is refused: -EINVAL");
	sleep_ms(50);
	expect(io_uring_cq_ready(&ring) == 0,
	       "and the read has no deadline: 50 ms later it still waits");
	put(p[1], "!");
	reap(&ring, s, 1);
	close(p[0]);
	close(p[1]);
	io_uring_queue_exit(&ring);
}

/* ---- race: data arriving just as the deadline fires --------------------- */

static void spin_us(double us)
{
	double end = now_ms() + us / 1000;

	while (now_ms() < end)
		;
}

static void part_race(void)
{
	struct io_uring ring;
	struct seen s[2];
	char into[16];
	int p[2];
	/* [read: got data, -ECANCELED, other][timeout: the four answers
	 * below, other] */
	static const int tres[] = { -ETIME, -ECANCELED, -ENOENT, -EALREADY };
	unsigned tally[3][5] = { { 0 } };
	const char *rn[] = { "read got data", "read -ECANCELED", "read other" };
	int rounds = 3000;

	ring_init(&ring, 8);
	make_pipe(p);
	printf("race: %d rounds of: read an empty pipe with a 50 us deadline, "
	       "then write\n  one byte after 0-100 us (a spin, no sleep)\n", rounds);
	srand(7);
	for (int i = 0; i < rounds; i++) {
		int r, t, rr, tr;

		read_with_deadline(&ring, p[0], into, 50 * 1000L);
		spin_us(rand() % 100);
		put(p[1], "x");
		reap(&ring, s, 2);
		rr = res_of(s, 2, U_READ);
		tr = res_of(s, 2, U_TIMEOUT);
		r = rr > 0 ? 0 : rr == -ECANCELED ? 1 : 2;
		for (t = 0; t < 4 && tres[t] != tr; t++)
			;
		tally[r][t]++;
		if (r == 2 || t == 4)
			printf("  round %d: read %s, timeout %s\n", i, res_name(rr),
			       res_name(tr));
		/* A byte the read did not take is still in the pipe: take it
		 * with the ring, so that the next round starts empty. */
		if (rr <= 0) {
			struct io_uring_sqe *sqe = sqe_for(&ring, U_READ);

			io_uring_prep_read(sqe, p[0], into, 16, 0);
			submit(&ring);
			reap(&ring, s, 1);
		}
	}
	for (int r = 0; r < 3; r++)
		for (int t = 0; t < 5; t++)
			if (tally[r][t])
				printf("  %-16s + timeout %-11s %5u\n", rn[r],
				       t < 4 ? res_name(tres[t]) : "other", tally[r][t]);
	expect(tally[1][1] == 0 && tally[1][2] == 0 && tally[1][3] == 0,
	       "a cancelled read always comes with a timeout of -ETIME");
	expect(tally[2][0] + tally[2][1] + tally[2][2] + tally[2][3] + tally[2][4] == 0,
	       "the read either got its byte or was -ECANCELED");
	printf("  (which side wins, and how often, depends on the machine; when "
	       "both fire at once\n  the timeout may say -ENOENT or -EALREADY: "
	       "only the read's own result\n  says whether data came)\n");
	close(p[0]);
	close(p[1]);
	io_uring_queue_exit(&ring);
}

/* ---- cancel: by user_data, any, by fd, and the answers ------------------ */

static void start_pipe_read(struct io_uring *ring, int fd, char *into, __u64 ud,
			    unsigned flags)
{
	struct io_uring_sqe *sqe = sqe_for(ring, ud);

	io_uring_prep_read(sqe, fd, into, 1, 0);
	io_uring_sqe_set_flags(sqe, flags);
}

/* A file of `mib` MiB of non-zero bytes, unlinked; dirty in the page
 * cache unless `clean`, else written back and dropped from the cache
 * (POSIX_FADV_DONTNEED, what `dd iflag=nocache` does). */
static int big_file(unsigned mib, bool clean)
{
	static char chunk[1 << 20];
	int fd = temp_file("");
	int err;

	memset(chunk, 'd', sizeof(chunk));
	for (unsigned i = 0; i < mib; i++)
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)i << 20) != (ssize_t)sizeof(chunk))
			die("pwrite", errno);
	if (clean) {
		if (fdatasync(fd) < 0)
			die("fdatasync", errno);
		err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (err)
			die("posix_fadvise", err);
	}
	return fd;
}

/* -EALREADY: the request is already running in a kernel worker and cannot
 * be stopped. An fsync of 32 MiB of dirty data, forced to a worker with
 * IOSQE_ASYNC, is such a request for a few milliseconds. */
static void cancel_running(struct io_uring *ring)
{
	static const char *const fn[] = { "?", "fsync", "", "", "cancel", "", "" };
	struct io_uring_sqe *sqe;
	struct seen s[2];
	int fd = big_file(32, false);
	int cr;

	printf("cancel: an fsync of 32 MiB of dirty data, forced to a kernel "
	       "worker (IOSQE_ASYNC);\n  cancel it 1 ms later\n");
	sqe = sqe_for(ring, 1);
	io_uring_prep_fsync(sqe, fd, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	submit(ring);
	sleep_ms(1);
	sqe = sqe_for(ring, 4);
	io_uring_prep_cancel64(sqe, 1, 0);
	submit(ring);
	reap(ring, s, 2);
	show(s, 2, fn);
	cr = res_of(s, 2, 4);
	if (cr == -EALREADY)
		printf("  -EALREADY: the worker was inside the fsync; it ran to "
		       "its end, and its CQE came after\n");
	else
		printf("  (this time the answer was %s: the disk was %s)\n", res_name(cr),
		       cr == -ENOENT ? "quicker than 1 ms" : "slower than the worker");
	expect(cr == -EALREADY || cr == -ENOENT || cr == 0,
	       "the cancel answers -EALREADY, -ENOENT or 0");
	expect(pos_of(s, 2, 1) >= 0, "and the fsync has its own CQE either way");
	close(fd);
}

static void part_cancel(void)
{
	static const char *const cn[] = { "?", "read A", "read B", "read C",
					  "cancel", "", "" };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct seen s[4];
	char a, b, c;
	int p[2], q[2], n;

	ring_init(&ring, 8);
	make_pipe(p);
	make_pipe(q);

	printf("cancel: read A on an empty pipe; cancel it by user_data\n");
	start_pipe_read(&ring, p[0], &a, 1, 0);
	sqe = sqe_for(&ring, 4);
	io_uring_prep_cancel64(sqe, 1, 0);
	submit(&ring);
	n = reap_ready(&ring, s, 4);
	show(s, n, cn);
	expect(n == 2, "both CQEs are in the CQ when io_uring_submit returns");
	expect(res_of(s, n, 4) == 0 && res_of(s, n, 1) == -ECANCELED,
	       "the cancel 0 (found), the read -ECANCELED");
	reap(&ring, s, 2 - n);

	printf("cancel: a user_data nobody used (99)\n");
	sqe = sqe_for(&ring, 4);
	io_uring_prep_cancel64(sqe, 99, 0);
	submit(&ring);
	reap(&ring, s, 1);
	show(s, 1, cn);
	expect(s[0].res == -ENOENT, "-ENOENT: not found");

	printf("cancel: a read that has completed (and been reaped)\n");
	put(p[1], "a");
	start_pipe_read(&ring, p[0], &a, 1, 0);
	submit(&ring);
	reap(&ring, s, 1);
	sqe = sqe_for(&ring, 4);
	io_uring_prep_cancel64(sqe, 1, 0);
	submit(&ring);
	reap(&ring, s, 1);
	show(s, 1, cn);
	expect(s[0].res == -ENOENT, "-ENOENT too: the kernel no longer knows it");

	printf("cancel: reads A and B on two empty pipes; one cancel with "
	       "IORING_ASYNC_CANCEL_ANY | _ALL\n");
	start_pipe_read(&ring, p[0], &a, 1, 0);
	start_pipe_read(&ring, q[0], &b, 2, 0);
	sqe = sqe_for(&ring, 4);
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	submit(&ring);
	reap(&ring, s, 3);
	show(s, 3, cn);
	expect(res_of(s, 3, 4) == 2, "the cancel's res is the number cancelled: 2");
	expect(res_of(s, 3, 1) == -ECANCELED && res_of(s, 3, 2) == -ECANCELED,
	       "both reads -ECANCELED");
	printf("  (the cancel's CQE came %s: wait for every CQE, in any order)\n",
	       pos_of(s, 3, 4) == 0 ? "first" : pos_of(s, 3, 4) == 2 ? "last" : "second");

	printf("cancel: reads A and C on pipe 1, B on pipe 2; "
	       "io_uring_prep_cancel_fd(pipe 1, IORING_ASYNC_CANCEL_ALL)\n");
	start_pipe_read(&ring, p[0], &a, 1, 0);
	start_pipe_read(&ring, q[0], &b, 2, 0);
	start_pipe_read(&ring, p[0], &c, 3, 0);
	sqe = sqe_for(&ring, 4);
	io_uring_prep_cancel_fd(sqe, p[0], IORING_ASYNC_CANCEL_ALL);
	submit(&ring);
	reap(&ring, s, 3);
	show(s, 3, cn);
	expect(res_of(s, 3, 4) == 2 && res_of(s, 3, 1) == -ECANCELED &&
	       res_of(s, 3, 3) == -ECANCELED, "2 cancelled: A and C");
	expect(res_of(s, 3, 2) == INT32_MIN, "B, on the other pipe, is still in flight");
	put(q[1], "b");
	reap(&ring, s, 1);
	show(s, 1, cn);
	expect(s[0].user_data == 2 && s[0].res == 1, "until data comes: B reads 1 byte");

	cancel_running(&ring);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	io_uring_queue_exit(&ring);
}

/* ---- wait: a wait with a deadline of its own ---------------------------- */

static void part_wait(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000L };
	struct seen s[1];
	char c;
	int p[2], ret;
	double t0, dt;

	ring_init(&ring, 8);
	make_pipe(p);
	printf("wait: a read on an empty pipe; io_uring_wait_cqe_timeout(100 ms)\n");
	start_pipe_read(&ring, p[0], &c, 1, 0);
	submit(&ring);
	t0 = now_ms();
	ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	dt = now_ms() - t0;
	printf("  returned %s after %.1f ms\n", res_name(ret), dt);
	expect(ret == -ETIME && dt >= 99, "-ETIME: the wait gave up");
	expect(io_uring_cq_ready(&ring) == 0, "and left no CQE behind (IORING_FEAT_EXT_ARG)");
	printf("  the read is still in flight: the wait's deadline is not the "
	       "request's\n");
	put(p[1], "!");
	reap(&ring, s, 1);
	expect(s[0].res == 1, "it completes once data comes");
	close(p[0]);
	close(p[1]);
	io_uring_queue_exit(&ring);
}

/* ---- exit: io_uring_queue_exit with a read in flight -------------------- */

/* How many 4 KiB pages of b (len bytes) hold the file's 'd' bytes. */
static size_t pages_arrived(const char *b, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i += 4096)
		n += b[i] == 'd';
	return n;
}

/* A read of a cold file, running in a kernel worker, is not interrupted
 * by the ring's teardown: it goes on filling the buffer afterwards. */
static void exit_file_read(void)
{
	/* Static, never freed: once the ring is gone there is no CQE left
	 * to say when the kernel has finished with it. */
	static char b[32u << 20];
	const size_t len = sizeof(b);
	int fd = big_file(32, true);
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	size_t now, later;

	ring_init(&ring, 8);
	printf("exit: a 32 MiB read of a file just dropped from the page cache, "
	       "in a kernel worker\n  (IOSQE_ASYNC); io_uring_queue_exit 2 ms "
	       "after the submit\n");
	sqe = sqe_for(&ring, U_READ);
	io_uring_prep_read(sqe, fd, b, (unsigned)len, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	submit(&ring);
	sleep_ms(2);
	io_uring_queue_exit(&ring);
	now = pages_arrived(b, len);
	sleep_ms(500);
	later = pages_arrived(b, len);
	printf("  pages of the buffer filled when io_uring_queue_exit returned: "
	       "%zu of %zu;\n  500 ms later: %zu\n", now, len / 4096, later);
	if (later > now)
		printf("  the kernel went on writing into the buffer after the ring "
		       "was gone:\n  had it been freed, that was memory of someone "
		       "else's\n");
	expect(true, "io_uring_queue_exit(3) does not wait: cancel, and reap "
	       "every CQE, before freeing a buffer");
	close(fd);
}

static void part_exit(void)
{
	static char target[8];
	struct io_uring ring;
	char left[8];
	ssize_t n;
	int p[2];
	double t0, dt;

	ring_init(&ring, 8);
	make_pipe(p);
	memcpy(target, ".......", 8);
	printf("exit: a read of an empty pipe into a buffer, never cancelled, "
	       "never reaped;\n  then io_uring_queue_exit, then data written to "
	       "the pipe\n");
	io_uring_prep_read(sqe_for(&ring, U_READ), p[0], target, 7, 0);
	submit(&ring);
	t0 = now_ms();
	io_uring_queue_exit(&ring);
	dt = now_ms() - t0;
	printf("  io_uring_queue_exit returned after %.2f ms\n", dt);
	put(p[1], "late!!!");
	sleep_ms(100);
	printf("  the buffer 100 ms after the write: \"%s\"\n", target);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		die("fcntl", errno);
	n = read(p[0], left, sizeof(left) - 1);
	left[n > 0 ? n : 0] = '\0';
	printf("  what is left in the pipe: %zd byte(s) \"%s\"\n", n, left);
	expect(strcmp(target, ".......") == 0 && n == 7,
	       "here the kernel cancelled the read as the ring went away: "
	       "the bytes stayed in the pipe");
	close(p[0]);
	close(p[1]);
	exit_file_read();
}

static const struct {
	const char *name;
	void (*run)(void);
} parts[] = {
	{ "link", part_link },     { "hardlink", part_hardlink },
	{ "drain", part_drain },   { "timeout", part_timeout },
	{ "linktimeout", part_linktimeout },
	{ "race", part_race },     { "cancel", part_cancel },
	{ "wait", part_wait },     { "exit", part_exit },
};

int main(int argc, char **argv)
{
	const char *what = argc == 2 ? argv[1] : "";
	bool all = strcmp(what, "all") == 0;
	bool any = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (all || strcmp(what, parts[i].name) == 0) {
			parts[i].run();
			any = true;
		}
	if (!any) {
		fprintf(stderr, "usage: %s link|hardlink|drain|timeout|linktimeout|"
			"race|cancel|wait|exit|all\n", argv[0]);
		return 2;
	}
	printf("%s\n", mismatches ? "some behaviour differed from the lesson"
				 : "everything as the lesson says");
	return mismatches ? 1 : 0;
}
