/* mutant of copy.c: one block in flight at a time (a read, its write, the next read) */
/*
 * copy.c - chapter 06 reference program: copy SRC DST through io_uring with
 * several reads and writes in flight.
 *
 *     copy SRC DST
 *
 * SRC must be a regular file. DST is created with mode 0644 (less the
 * umask) or truncated if it exists; SRC and DST may not be the same file.
 * Exit status 0 on success; otherwise a message on stderr and status 1
 * (2 for a usage error). Nothing is printed on stdout.
 *
 * The pipeline: SLOTS buffers of BLOCK bytes. Each slot owns one block of
 * the file at a time and goes
 *
 *     READING --(block full)--> WRITING --(block written)--> next block
 *        ^  |                      ^  |
 *        +--+ short read:          +--+ short write:
 *             read the rest             write the rest
 *
 * so up to SLOTS requests (some reads, some writes) are in the kernel at
 * once. A block is written at the same offset it was read from, so blocks
 * may finish in any order. The reads and writes are not linked: a short
 * read in an IOSQE_IO_LINK chain would cancel the write (-ECANCELED), and
 * we would have to redo it anyway.
 *
 * Every slot has at most one request queued or in flight, and the SQ has
 * SLOTS entries, so an SQE is always free when a completion asks for the
 * next step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (128u * 1024u) /* bytes per request                */
#define SLOTS 1u             /* blocks in flight at once          */

enum slot_state { IDLE, READING, WRITING };

struct slot {
	char *buf;
	off_t off;        /* where the block starts, in SRC and in DST   */
	size_t want;      /* bytes in this block (less for the last one) */
	size_t got;       /* bytes read so far                           */
	size_t put;       /* bytes written so far                        */
	enum slot_state state;
};

struct copy {
	struct io_uring ring;
	int in, out;
	const char *src, *dst;
	off_t size;       /* bytes to copy: SRC's size when we started   */
	off_t next;       /* offset of the next block to read            */
	unsigned busy;    /* slots with a request queued or in flight     */
	int err;          /* first error, -errno, 0 if none               */
	const char *err_path;
	struct slot slot[SLOTS];
};

static void fail(struct copy *c, int err, const char *path)
{
	if (c->err == 0) { /* keep the first error: it is the cause */
		c->err = err;
		c->err_path = path;
	}
}

static bool queue_io(struct copy *c, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe) { /* cannot happen (see the top comment), but never crash */
		fail(c, -EBUSY, "io_uring_get_sqe");
		return false;
	}
	if (s->state == READING)
		io_uring_prep_read(sqe, c->in, s->buf + s->got,
		                   (unsigned)(s->want - s->got),
		                   (__u64)(s->off + (off_t)s->got));
	else
		io_uring_prep_write(sqe, c->out, s->buf + s->put,
		                    (unsigned)(s->got - s->put),
		                    (__u64)(s->off + (off_t)s->put));
	io_uring_sqe_set_data(sqe, s);
	return true;
}

/* Give slot s the next block to read, if any is left and all is well. */
static void start_block(struct copy *c, struct slot *s)
{
	off_t left = c->size - c->next;

	s->state = IDLE;
	if (c->err || left <= 0)
		return;
	s->off = c->next;
	s->want = left < (off_t)BLOCK ? (size_t)left : BLOCK;
	s->got = s->put = 0;
	s->state = READING;
	c->next += (off_t)s->want;
	if (queue_io(c, s))
		c->busy++;
	else
		s->state = IDLE;
}

/* Queue slot s's next request; if that fails, the slot is out of the game. */
static void requeue(struct copy *c, struct slot *s)
{
	if (!queue_io(c, s)) {
		s->state = IDLE;
		c->busy--;
	}
}

static void read_done(struct copy *c, struct slot *s, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		requeue(c, s); /* try the same read again */
		return;
	}
	if (res < 0) {
		fail(c, res, c->src);
		s->state = IDLE;
		c->busy--;
		return;
	}
	if (res == 0) {
		/* End of file before the size fstat gave: SRC shrank while we
		 * copied. Write what we have and read no further. */
		s->want = s->got;
		c->size = s->off + (off_t)s->got;
		if (c->next > c->size)
			c->next = c->size;
	} else {
		s->got += (size_t)res;
	}
	if (s->got < s->want) {
		requeue(c, s); /* short read: the rest, at the advanced offset */
		return;
	}
	if (s->got == 0) { /* nothing to write */
		c->busy--;
		start_block(c, s);
		return;
	}
	s->state = WRITING;
	requeue(c, s);
}

static void write_done(struct copy *c, struct slot *s, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		requeue(c, s);
		return;
	}
	if (res <= 0) {
		/* 0 bytes for a non-empty write would loop forever: call it EIO */
		fail(c, res < 0 ? res : -EIO, c->dst);
		s->state = IDLE;
		c->busy--;
		return;
	}
	s->put += (size_t)res;
	if (s->put < s->got) {
		requeue(c, s); /* short write: the rest, at the advanced offset */
		return;
	}
	c->busy--;
	start_block(c, s);
}

/* Handle every CQE that is there, then advance the CQ once. */
static void reap(struct copy *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&c->ring, head, cqe) {
		struct slot *s = io_uring_cqe_get_data(cqe);

		if (s->state == READING)
			read_done(c, s, cqe->res);
		else if (s->state == WRITING)
			write_done(c, s, cqe->res);
		seen++;
	}
	io_uring_cq_advance(&c->ring, seen);
}

/* Submit what is queued and wait for one completion, in one system call. */
static int submit_and_wait(struct copy *c)
{
	unsigned tries = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait(&c->ring, 1);

		if (ret >= 0 || ret == -EINTR)
			return 0; /* reap() finds what is there */
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		/* Short of resources: reap, or wait for what the kernel has. */
		if (io_uring_cq_ready(&c->ring))
			return 0;
		if (c->busy > io_uring_sq_ready(&c->ring)) {
			ret = io_uring_wait_cqe(&c->ring, &cqe);
			return ret == -EINTR ? 0 : ret;
		}
		if (++tries > 8)
			return ret;
	}
}

static int run(struct copy *c)
{
	unsigned i;

	for (i = 0; i < SLOTS; i++)
		start_block(c, &c->slot[i]);

	while (c->busy > 0) {
		int ret = submit_and_wait(c);

		if (ret < 0) {
			/* The ring itself failed: we cannot even wait for the
			 * requests in flight. Closing the ring cancels them. */
			fail(c, ret, "io_uring_enter");
			return -1;
		}
		reap(c);
	}
	return c->err ? -1 : 0;
}

static int open_files(struct copy *c)
{
	struct stat in_st, out_st;

	c->in = open(c->src, O_RDONLY | O_CLOEXEC);
	if (c->in < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->src, strerror(errno));
		return -1;
	}
	if (fstat(c->in, &in_st) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->src, strerror(errno));
		return -1;
	}
	if (!S_ISREG(in_st.st_mode)) {
		fprintf(stderr, "copy: %s: not a regular file\n", c->src);
		return -1;
	}
	/* Open without O_TRUNC first: if DST is SRC, truncating it would
	 * destroy the data before we could notice. */
	c->out = open(c->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (c->out < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dst, strerror(errno));
		return -1;
	}
	if (fstat(c->out, &out_st) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dst, strerror(errno));
		return -1;
	}
	if (in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
		fprintf(stderr, "copy: %s and %s are the same file\n", c->src,
		        c->dst);
		return -1;
	}
	if (S_ISREG(out_st.st_mode) && ftruncate(c->out, 0) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dst, strerror(errno));
		return -1;
	}
	c->size = in_st.st_size;
	return 0;
}

static int setup(struct copy *c, char **bufs)
{
	unsigned i;
	int ret;

	/* 4096-aligned, so the same buffers would also serve O_DIRECT. */
	ret = posix_memalign((void **)bufs, 4096, (size_t)SLOTS * BLOCK);
	if (ret) {
		*bufs = NULL;
		fprintf(stderr, "copy: %s\n", strerror(ret));
		return -1;
	}
	for (i = 0; i < SLOTS; i++)
		c->slot[i].buf = *bufs + (size_t)i * BLOCK;

	ret = io_uring_queue_init(SLOTS, &c->ring, 0);
	if (ret < 0) { /* -errno, not errno */
		fprintf(stderr, "copy: io_uring_queue_init: %s%s\n",
		        strerror(-ret),
		        ret == -EPERM || ret == -ENOSYS
		                ? " (io_uring blocked or missing: see make doctor)"
		                : ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small?)" : "");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct copy c;
	char *bufs = NULL;
	int status = 1;
	bool ring = false;

	if (argc != 3) {
		fprintf(stderr, "usage: copy SRC DST\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.in = c.out = -1;
	c.src = argv[1];
	c.dst = argv[2];

	/* Past RLIMIT_FSIZE a write raises SIGXFSZ, which would kill us with
	 * no message; ignored, the write fails with EFBIG instead. */
	signal(SIGXFSZ, SIG_IGN);

	if (open_files(&c) < 0 || setup(&c, &bufs) < 0)
		goto out;
	ring = true;

	if (run(&c) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c.err_path, strerror(-c.err));
		goto out;
	}
	status = 0;
out:
	if (ring)
		io_uring_queue_exit(&c.ring);
	if (c.in >= 0)
		close(c.in);
	/* close() is where some filesystems report a failed write. */
	if (c.out >= 0 && close(c.out) < 0 && status == 0) {
		fprintf(stderr, "copy: %s: %s\n", c.dst, strerror(errno));
		status = 1;
	}
	free(bufs);
	return status;
}
