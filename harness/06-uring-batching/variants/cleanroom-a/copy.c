/*
 * copy.c - chapter 06 clean-room variant "cleanroom-a": written from the
 * lesson and the skeleton alone (no look at the reference or the tests
 * first) by a colleague in a clean-room review.
 *
 * Shape: SRC opened O_RDONLY|O_NONBLOCK (a FIFO cannot hang the open),
 * checked with fstat, O_NONBLOCK cleared; DST opened without O_TRUNC, its
 * inode compared with SRC's, then emptied with ftruncate when it is a
 * regular file. SLOTS slots, one request each; every trip is one
 * io_uring_submit_and_wait(1) and one io_uring_for_each_cqe pass whose
 * handlers queue each slot's next step directly. SIGXFSZ ignored so that a
 * write past the file-size limit comes back as -EFBIG.
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
#define SLOTS 8u             /* blocks in flight at once          */

enum { IDLE, READING, WRITING };

struct slot {
	int state;
	off_t off;    /* where the block starts in SRC and DST */
	size_t len;   /* block length (shrinks at early EOF)  */
	size_t done;  /* bytes read or written so far          */
	char *buf;
};

struct copy {
	struct io_uring ring;
	struct slot slot[SLOTS];
	int src, dst;
	const char *srcname, *dstname;
	off_t size, next;
	bool eof;      /* SRC ended early: start no more blocks */
	int err;       /* first error (positive errno)          */
	const char *errname;
	unsigned active;
};

static void fail(struct copy *c, int err, const char *name)
{
	if (!c->err) {
		c->err = err;
		c->errname = name;
	}
}

static void queue(struct copy *c, struct slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	/* cannot be NULL: SLOTS SQ entries, one request per slot */
	if (s->state == READING)
		io_uring_prep_read(sqe, c->src, s->buf + s->done,
		                   (unsigned)(s->len - s->done), s->off + (off_t)s->done);
	else
		io_uring_prep_write(sqe, c->dst, s->buf + s->done,
		                    (unsigned)(s->len - s->done), s->off + (off_t)s->done);
	io_uring_sqe_set_data(sqe, s);
}

/* Give slot s the next block, or leave it idle. */
static void start(struct copy *c, struct slot *s)
{
	s->state = IDLE;
	if (c->err || c->eof || c->next >= c->size)
		return;
	s->off = c->next;
	s->len = (size_t)(c->size - c->next) < BLOCK ? (size_t)(c->size - c->next)
	                                             : BLOCK;
	c->next += (off_t)s->len;
	s->done = 0;
	s->state = READING;
	c->active++;
	queue(c, s);
}

static void to_write(struct copy *c, struct slot *s)
{
	if (s->len == 0 || c->err) {
		c->active--;
		start(c, s);
		return;
	}
	s->state = WRITING;
	s->done = 0;
	queue(c, s);
}

static void complete(struct copy *c, struct slot *s, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		queue(c, s); /* the same rest again */
		return;
	}
	if (s->state == READING) {
		if (res < 0) {
			fail(c, -res, c->srcname);
			c->active--;
			s->state = IDLE;
			return;
		}
		if (res == 0) { /* end of file before the size fstat gave */
			c->eof = true;
			s->len = s->done;
			to_write(c, s);
			return;
		}
		s->done += (size_t)res;
		if (s->done < s->len) {
			if (c->err) {
				c->active--;
				s->state = IDLE;
				return;
			}
			queue(c, s);
			return;
		}
		to_write(c, s);
		return;
	}
	/* WRITING */
	if (res <= 0) {
		fail(c, res < 0 ? -res : EIO, c->dstname);
		c->active--;
		s->state = IDLE;
		return;
	}
	s->done += (size_t)res;
	if (s->done < s->len && !c->err) {
		queue(c, s);
		return;
	}
	c->active--;
	start(c, s);
}

static int open_files(struct copy *c)
{
	struct stat ss, ds;
	int fl;

	c->src = open(c->srcname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->src < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->srcname, strerror(errno));
		return -1;
	}
	if (fstat(c->src, &ss) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->srcname, strerror(errno));
		return -1;
	}
	if (!S_ISREG(ss.st_mode)) {
		fprintf(stderr, "copy: %s: not a regular file\n", c->srcname);
		return -1;
	}
	fl = fcntl(c->src, F_GETFL);
	if (fl < 0 || fcntl(c->src, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->srcname, strerror(errno));
		return -1;
	}
	c->size = ss.st_size;

	/* no O_TRUNC: DST may be SRC under another name */
	c->dst = open(c->dstname, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (c->dst < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dstname, strerror(errno));
		return -1;
	}
	if (fstat(c->dst, &ds) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dstname, strerror(errno));
		return -1;
	}
	if (ds.st_dev == ss.st_dev && ds.st_ino == ss.st_ino) {
		fprintf(stderr, "copy: %s and %s are the same file\n",
		        c->srcname, c->dstname);
		return -1;
	}
	if (S_ISREG(ds.st_mode) && ftruncate(c->dst, 0) < 0) {
		fprintf(stderr, "copy: %s: %s\n", c->dstname, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct copy c;
	char *bufs;
	unsigned i;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: copy SRC DST\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.src = c.dst = -1;
	c.srcname = argv[1];
	c.dstname = argv[2];
	signal(SIGXFSZ, SIG_IGN);

	if (open_files(&c) < 0)
		return 1;

	bufs = malloc((size_t)SLOTS * BLOCK);
	if (!bufs) {
		fprintf(stderr, "copy: %s\n", strerror(ENOMEM));
		return 1;
	}
	ret = io_uring_queue_init(SLOTS, &c.ring, 0);
	if (ret < 0) {
		fprintf(stderr, "copy: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < SLOTS; i++) {
		c.slot[i].buf = bufs + (size_t)i * BLOCK;
		start(&c, &c.slot[i]);
	}

	while (c.active > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		ret = io_uring_submit_and_wait(&c.ring, 1);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "copy: io_uring: %s\n", strerror(-ret));
			return 1; /* exit tears the ring down */
		}
		io_uring_for_each_cqe(&c.ring, head, cqe) {
			complete(&c, io_uring_cqe_get_data(cqe), cqe->res);
			seen++;
		}
		io_uring_cq_advance(&c.ring, seen);
	}
	io_uring_queue_exit(&c.ring);
	free(bufs);
	close(c.src);
	if (close(c.dst) < 0)
		fail(&c, errno, c.dstname);
	if (c.err) {
		fprintf(stderr, "copy: %s: %s\n", c.errname, strerror(c.err));
		return 1;
	}
	return 0;
}
