/*
 * demo.c - chapter 07: deadlines, cancellation and linked copies at work.
 *
 *   demo deadline MS                    read stdin, each read with a deadline
 *   demo cancel N [--ready K]           N reads on empty pipes, then cancel all
 *   demo copy SRC DST [--block B] [--pairs P]   a timed linked copy
 *   demo chain                          a short read breaking a linked chain
 *   demo cost FILE [N]                  what a linked timeout costs per read
 *
 * deadline   reads stdin with ulink_read_timeout() until end of file, an
 *            error, or a read that waits more than MS ms, and prints each
 *            read's bytes and when it came:
 *              (echo a; sleep 0.2; echo b; sleep 1; echo c) | demo deadline 500
 * cancel     starts N reads (tags 0..N-1) with ulink_start_read() on N empty
 *            pipes (K of them get 5 bytes first, so their reads complete
 *            with data), cancels them all with ulink_cancel_all(), and prints
 *            each tag's result and how many CQEs the module reaped (read
 *            from the ring's CQ head): N reads + its cancel request(s).
 * copy       copies SRC to DST with ulink_copy() (B bytes per pair, default
 *            128 KiB; P pairs in flight, default 8; a ring of 2 x P entries)
 *            and prints MB/s.
 * chain      does not use the module: on a ring of its own it links a read
 *            of 4096 bytes from a 12-byte file to a write of the same buffer,
 *            once with IOSQE_IO_LINK and once with IOSQE_IO_HARDLINK, and
 *            prints the CQEs in the order they came and what DST got.
 *
 * cost       reads FILE (best cached: read it once first) 4 KiB at a time,
 *            N times (default 20000) through a plain read on a ring of its
 *            own, then N times through ulink_read_timeout() (the same read
 *            plus a linked timeout), five rounds, and prints the medians:
 *            the price of a deadline on a request that does not need it.
 *
 * deadline, cancel, copy and cost are built only on ulink.h, so they run on your
 * implementation as well as on the reference. To count system calls, run
 * the demo under  strace -f -c -e trace=io_uring_enter
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ulink.h"

static void usage(void)
{
	fprintf(stderr,
	        "usage: demo deadline MS\n"
	        "       demo cancel N [--ready K]\n"
	        "       demo copy SRC DST [--block B] [--pairs P]\n"
	        "       demo chain\n"
	        "       demo cost FILE [N]\n");
	exit(2);
}

static unsigned long number(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX) {
		fprintf(stderr, "demo: %s wants a number, not '%s'\n", what, s);
		usage();
	}
	return v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What -ret means, in words, with a word about the usual causes. */
static const char *why(int ret)
{
	return ret == -ENOSYS ? " (not written yet? see the TODOs)"
	     : ret == -EPERM ? " (io_uring blocked: make doctor)"
	     : ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small? make doctor)" : "";
}

static int init_or_say(struct ulink *u, unsigned entries)
{
	int ret = ulink_init(u, entries);

	if (ret < 0)
		fprintf(stderr, "demo: ulink_init(%u): %s%s\n", entries,
		        strerror(-ret), why(ret));
	else
		printf("ring: %u SQ entries, %u CQ entries\n", u->sq_entries,
		       u->cq_entries);
	return ret;
}

/* Up to 40 bytes, unprintable ones as '.'. */
static void show_bytes(const char *buf, ssize_t n)
{
	ssize_t i;

	putchar('"');
	for (i = 0; i < n && i < 40; i++)
		putchar(isprint((unsigned char)buf[i]) ? buf[i] : '.');
	printf("\"%s", n > 40 ? "..." : "");
}

/* ------------------------------------------------------------ deadline */

static int deadline(unsigned ms)
{
	struct ulink u;
	char buf[4096];
	double start = now_ms();
	ssize_t n;

	if (ms == 0) {
		fprintf(stderr, "demo: deadline wants MS > 0\n");
		return 2;
	}
	if (init_or_say(&u, 2) < 0)
		return 1;
	/* valgrind cannot see the kernel fill buf through the ring (no system
	 * call names it): cleared, it does not call the bytes uninitialised. */
	memset(buf, 0, sizeof(buf));
	for (;;) {
		n = ulink_read_timeout(&u, STDIN_FILENO, buf, sizeof(buf), ms);
		printf("%+9.1f ms  ", now_ms() - start);
		if (n <= 0)
			break;
		printf("read %zd bytes: ", n);
		show_bytes(buf, n);
		putchar('\n');
	}
	if (n == 0)
		printf("end of file\n");
	else if (n == -ETIME)
		printf("timed out after %u ms\n", ms);
	else
		printf("error: %s%s\n", strerror((int)-n), why((int)n));
	ulink_exit(&u);
	return n == 0 || n == -ETIME ? 0 : 1;
}

/* ------------------------------------------------------------- cancel */

static int cancel(unsigned n, unsigned ready)
{
	struct ulink u;
	struct ulink_done *done = calloc(n, sizeof(*done));
	int (*pipes)[2] = calloc(n, sizeof(*pipes));
	char (*bufs)[64] = calloc(n, sizeof(*bufs));
	unsigned i, opened = 0, started = 0, cq_before;
	int ret, status = 1;

	if (!done || !pipes || !bufs) {
		fprintf(stderr, "demo: out of memory\n");
		goto out;
	}
	if (init_or_say(&u, n < 2 ? 2 : n) < 0)
		goto out;
	for (opened = 0; opened < n; opened++) {
		if (pipe2(pipes[opened], O_CLOEXEC) < 0) {
			fprintf(stderr, "demo: pipe: %s\n", strerror(errno));
			goto exit_ring;
		}
		if (opened < ready && write(pipes[opened][1], "ready", 5) != 5) {
			fprintf(stderr, "demo: write: %s\n", strerror(errno));
			opened++;
			goto exit_ring;
		}
	}
	cq_before = *u.ring.cq.khead;
	for (started = 0; started < n; started++) {
		ret = ulink_start_read(&u, pipes[started][0], bufs[started],
		                       sizeof(bufs[started]), -1, started);
		if (ret < 0) {
			fprintf(stderr, "demo: ulink_start_read(tag %u): %s%s\n",
			        started, strerror(-ret), why(ret));
			break;
		}
	}
	printf("started %u reads (%u on pipes with 5 bytes waiting, the others on"
	       " empty pipes); in flight: %u\n", started, ready < started ? ready : started,
	       u.inflight);
	ret = ulink_cancel_all(&u, done, n);
	if (ret < 0) {
		fprintf(stderr, "demo: ulink_cancel_all: %s%s\n", strerror(-ret), why(ret));
		goto exit_ring;
	}
	printf("ulink_cancel_all: %d reads ended, %u still in flight\n", ret, u.inflight);
	for (i = 0; i < (unsigned)ret && i < n; i++) {
		printf("  tag %2llu: ", (unsigned long long)done[i].tag);
		if (done[i].res >= 0) {
			printf("%d bytes ", done[i].res);
			show_bytes(bufs[done[i].tag % n], done[i].res);
			putchar('\n');
		} else {
			printf("%s\n", strerror(-done[i].res));
		}
	}
	printf("CQEs reaped: %u (%d reads + %u of the module's own requests)\n",
	       *u.ring.cq.khead - cq_before, ret, *u.ring.cq.khead - cq_before - (unsigned)ret);
	status = started == n ? 0 : 1;
exit_ring:
	ulink_exit(&u); /* cancels and reaps whatever is left */
	for (i = 0; i < opened; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
out:
	free(bufs);
	free(pipes);
	free(done);
	return status;
}

/* ------------------------------------------------------ cost of a deadline */

/* One plain read of `len` bytes at the file position on a ring of our own:
 * what ulink_read_timeout does without its linked timeout. */
static int plain_read(struct io_uring *ring, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, len, (__u64)-1);
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_value);
}

/* n reads of 4 KiB of a cached file, one at a time, timed in ns per read;
 * at end of file the position goes back to 0. */
static double time_reads(struct ulink *u, struct io_uring *ring, int fd, unsigned n)
{
	static char buf[4096];
	double start = now_ms();

	for (unsigned i = 0; i < n; i++) {
		long ret = u ? (long)ulink_read_timeout(u, fd, buf, sizeof(buf), 1000)
			     : plain_read(ring, fd, buf, sizeof(buf));

		if (ret == 0 && lseek(fd, 0, SEEK_SET) == 0)
			continue;
		if (ret < 0) {
			fprintf(stderr, "demo: read: %s\n", strerror((int)-ret));
			return -1;
		}
	}
	return (now_ms() - start) * 1e6 / n;
}

/* What a deadline costs: plain reads and deadline reads (read + linked
 * timeout, two SQEs and two CQEs each) of a cached file, five rounds
 * alternating, medians. */
static int cost(const char *path, unsigned n)
{
	double plain[5], linked[5], ratio[5];
	struct io_uring ring;
	struct ulink u;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
		return 1;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret == 0)
		ret = ulink_init(&u, 4);
	if (ret < 0) {
		fprintf(stderr, "demo: ring: %s%s\n", strerror(-ret), why(ret));
		close(fd);
		return 1;
	}
	for (int k = 0; k < 5; k++) {
		plain[k] = time_reads(NULL, &ring, fd, n);
		linked[k] = time_reads(&u, NULL, fd, n);
		if (plain[k] <= 0 || linked[k] <= 0) {
			ret = -EIO;
			break;
		}
		ratio[k] = linked[k] / plain[k];
		printf("round %d: plain %.0f ns, with a linked timeout %.0f ns per read\n", k + 1,
		       plain[k], linked[k]);
	}
	ulink_exit(&u);
	io_uring_queue_exit(&ring);
	close(fd);
	if (ret < 0)
		return 1;
	sort_doubles(plain, 5);
	sort_doubles(linked, 5);
	sort_doubles(ratio, 5);
	printf("median: plain %.0f ns, deadline %.0f ns per read: a linked timeout costs "
	       "%.0f ns (x%.2f)\n", plain[2], linked[2], linked[2] - plain[2], ratio[2]);
	return 0;
}

/* --------------------------------------------------------------- copy */

static int copy(const char *src, const char *dst, size_t block, unsigned pairs)
{
	struct stat in_st, out_st;
	struct ulink u;
	double t0, ms;
	int in, out, ret, status = 1;
	unsigned entries = pairs > 2048 ? 4096 : pairs * 2;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &in_st) < 0 || !S_ISREG(in_st.st_mode)) {
		fprintf(stderr, "demo: %s: %s\n", src,
		        in < 0 ? strerror(errno) : "not a regular file");
		goto close_in;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (out < 0 || fstat(out, &out_st) < 0) {
		fprintf(stderr, "demo: %s: %s\n", dst, strerror(errno));
		goto close_out;
	}
	if (in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
		fprintf(stderr, "demo: %s and %s are the same file\n", src, dst);
		goto close_out;
	}
	if (S_ISREG(out_st.st_mode) && ftruncate(out, 0) < 0) {
		fprintf(stderr, "demo: %s: %s\n", dst, strerror(errno));
		goto close_out;
	}
	if (init_or_say(&u, entries) < 0)
		goto close_out;
	t0 = now_ms();
	ret = ulink_copy(&u, in, out, in_st.st_size, block, pairs);
	ms = now_ms() - t0;
	ulink_exit(&u);
	if (ret < 0) {
		fprintf(stderr, "demo: ulink_copy: %s%s\n", strerror(-ret), why(ret));
		goto close_out;
	}
	printf("copied %lld bytes in %.1f ms: %.0f MB/s (block %zu, pairs %u)\n",
	       (long long)in_st.st_size, ms,
	       ms > 0 ? (double)in_st.st_size / ms / 1e3 : 0.0, block, pairs);
	printf("system calls: strace -f -c -e trace=io_uring_enter <this command>\n");
	status = 0;
close_out:
	if (out >= 0 && close(out) < 0 && status == 0) {
		fprintf(stderr, "demo: %s: %s\n", dst, strerror(errno));
		status = 1;
	}
close_in:
	if (in >= 0)
		close(in);
	return status;
}

/* -------------------------------------------------------------- chain */

#define CHAIN_LEN 4096
#define SHORT_LEN 12

/* A file of its own, already unlinked: fd, or -1 with a message. */
static int temp_file(const char *what)
{
	char path[] = "/tmp/ulink-demo-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "demo: %s: mkstemp: %s\n", what, strerror(errno));
	else
		unlink(path);
	return fd;
}

/* read 4096 of a 12-byte file -> linked write of the same buffer. */
static int one_chain(struct io_uring *ring, int src, int dst, unsigned link_flag,
                     const char *name)
{
	static char buf[CHAIN_LEN];
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct stat st;
	int i, ret, stale = 0;

	memset(buf, '.', sizeof(buf)); /* what the buffer held before */
	if (ftruncate(dst, 0) < 0)
		return -errno;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_read(sqe, src, buf, CHAIN_LEN, 0);
	io_uring_sqe_set_flags(sqe, link_flag);
	io_uring_sqe_set_data64(sqe, 1);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_write(sqe, dst, buf, CHAIN_LEN, 0);
	io_uring_sqe_set_data64(sqe, 2);
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;

	printf("%s: read %d bytes at 0 -> write %d bytes at 0\n", name, CHAIN_LEN,
	       CHAIN_LEN);
	for (i = 0; i < 2; i++) {
		do
			ret = io_uring_wait_cqe(ring, &cqe);
		while (ret == -EINTR);
		if (ret < 0)
			return ret;
		printf("  CQE %d: %-5s res %5d  %s\n", i + 1,
		       cqe->user_data == 1 ? "read" : "write", cqe->res,
		       cqe->res < 0 ? strerror(-cqe->res) : "bytes");
		io_uring_cqe_seen(ring, cqe);
	}
	if (fstat(dst, &st) < 0)
		return -errno;
	for (i = SHORT_LEN; i < CHAIN_LEN; i++)
		stale += buf[i] == '.';
	printf("  DST now holds %lld bytes", (long long)st.st_size);
	if (st.st_size > SHORT_LEN)
		printf(": %d read from SRC, then %d stale bytes of the buffer ('.')",
		       SHORT_LEN, stale);
	printf("\n");
	return 0;
}

static int chain(void)
{
	struct io_uring ring;
	int src = temp_file("SRC"), dst = temp_file("DST"), ret = -EBADF;

	if (src < 0 || dst < 0)
		goto out;
	if (write(src, "twelve bytes", SHORT_LEN) != SHORT_LEN) {
		ret = -errno;
		goto out;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0)
		goto out;
	printf("SRC: a file of %d bytes\n", SHORT_LEN);
	ret = one_chain(&ring, src, dst, IOSQE_IO_LINK, "IOSQE_IO_LINK");
	if (ret == 0)
		ret = one_chain(&ring, src, dst, IOSQE_IO_HARDLINK, "IOSQE_IO_HARDLINK");
	io_uring_queue_exit(&ring);
out:
	if (ret < 0)
		fprintf(stderr, "demo: chain: %s%s\n", strerror(-ret), why(ret));
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return ret < 0 ? 1 : 0;
}

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they happen, even in a pipe */
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "deadline") && argc == 3)
		return deadline((unsigned)number(argv[2], "MS"));
	if (!strcmp(argv[1], "chain") && argc == 2)
		return chain();
	if (!strcmp(argv[1], "cost") && (argc == 3 || argc == 4)) {
		unsigned long n = argc == 4 ? number(argv[3], "N") : 20000;

		if (n == 0 || n > 100000000) {
			fprintf(stderr, "demo: cost wants 1 <= N <= 100000000\n");
			return 2;
		}
		return cost(argv[2], (unsigned)n);
	}
	if (!strcmp(argv[1], "cancel") && (argc == 3 || argc == 5)) {
		unsigned n = (unsigned)number(argv[2], "N"), ready = 0;

		if (argc == 5) {
			if (strcmp(argv[3], "--ready"))
				usage();
			ready = (unsigned)number(argv[4], "--ready");
		}
		if (n == 0 || n > 4096 || ready > n) {
			fprintf(stderr, "demo: cancel wants 1 <= N <= 4096 and K <= N\n");
			return 2;
		}
		return cancel(n, ready);
	}
	if (!strcmp(argv[1], "copy") && argc >= 4) {
		unsigned long block = 128 * 1024, pairs = 8;

		for (i = 4; i < argc; i += 2) {
			if (i + 1 >= argc)
				usage();
			if (!strcmp(argv[i], "--block"))
				block = number(argv[i + 1], "--block");
			else if (!strcmp(argv[i], "--pairs"))
				pairs = number(argv[i + 1], "--pairs");
			else
				usage();
		}
		if (block == 0 || block > ULINK_MAX_BLOCK || pairs == 0) {
			fprintf(stderr, "demo: 1 <= --block <= %u, --pairs >= 1\n",
			        ULINK_MAX_BLOCK);
			return 2;
		}
		return copy(argv[2], argv[3], block, (unsigned)pairs);
	}
	usage();
}
