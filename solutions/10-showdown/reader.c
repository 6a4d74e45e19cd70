/*
 * reader.c - chapter 10 reference: a batch read that works everywhere.
 *
 * rd_open tries io_uring, then libaio on O_DIRECT, then a thread pool, and
 * keeps a line saying why each one it skipped was skipped. The back-ends are
 * the modules of chapters 06, 02 and 03 (see reader.h); this file only
 * chooses and drives them.
 */
#define _GNU_SOURCE /* O_DIRECT, strerrorname_np */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RD_KNOWN_FLAGS (RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO)

struct reader {
	enum rd_backend backend;
	int fd;
	int direct;           /* fd has O_DIRECT                              */
	unsigned qd;          /* the window of every batch                    */
	struct ubatch ring;   /* RD_IO_URING: set up once, ring.live == 1     */
	io_context_t aio;     /* RD_LIBAIO: set up once; 0 when there is none */
	unsigned aio_events;  /* the nr_events aio was set up with            */
	struct tpool *pool;   /* RD_THREADS: made once                        */
	char why[256];        /* rd_why(); always NUL-terminated              */
	size_t why_len;
};

/* Append one clause to r->why ("; " between clauses), cut at its size. */
static void say(struct reader *r, const char *fmt, ...)
{
	size_t room = sizeof(r->why) - r->why_len;
	va_list ap;
	int n;

	if (room <= 1)
		return;
	if (r->why_len > 0) {
		n = snprintf(r->why + r->why_len, room, "; ");
		r->why_len += (size_t)n < room ? (size_t)n : room - 1;
		room = sizeof(r->why) - r->why_len;
	}
	va_start(ap, fmt);
	n = vsnprintf(r->why + r->why_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->why_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* The errno's name for rd_why ("EPERM"); strerrorname_np(3) knows them all
 * but returns NULL for a number it does not know. */
static const char *ename(int neg_errno)
{
	const char *name = strerrorname_np(-neg_errno);

	return name ? name : "unknown error";
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* open(2) as -errno. */
static int open_file(const char *path, int direct)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));

	return fd < 0 ? -errno : fd;
}

/*
 * Step 1: io_uring. Returns 1 when the ring is up and reads, 0 when
 * io_uring is unavailable here (said in r->why), -errno on an error.
 */
static int try_uring(struct reader *r)
{
	struct io_uring_probe *probe;
	int ret, probed, can_read;

	ret = ubatch_init(&r->ring, min_u(r->qd, RD_MAX_RING));
	if (ret == -ENOSYS || ret == -EPERM || ret == -ENOMEM) {
		say(r, "io_uring: io_uring_queue_init %s (%s)", ename(ret),
		    ret == -ENOSYS ? "not in this kernel" :
		    ret == -EPERM ? "seccomp or kernel.io_uring_disabled" :
				    "RLIMIT_MEMLOCK too small for the ring");
		return 0;
	}
	if (ret < 0)
		return ret;
	/*
	 * A ring can come up on a kernel that cannot read through it:
	 * IORING_OP_READ arrived in 5.6, the probe itself in 5.6 too. Ask
	 * the ring rather than parse the kernel's version, which says
	 * nothing about backports or seccomp. The probe is NULL where the
	 * kernel has none, and also when liburing cannot allocate it: either
	 * way nothing says the ring can read.
	 */
	probe = io_uring_get_probe_ring(&r->ring.ring);
	probed = probe != NULL;
	can_read = probed && io_uring_opcode_supported(probe, IORING_OP_READ);
	if (probed)
		io_uring_free_probe(probe); /* probe is not to be looked at again */
	if (!can_read) {
		ubatch_exit(&r->ring);
		if (probed)
			say(r, "io_uring: no IORING_OP_READ in this kernel");
		else
			say(r, "io_uring: no opcode probe (a kernel before 5.6, or out of "
			       "memory), so no IORING_OP_READ");
		return 0;
	}
	return 1;
}

/*
 * Step 2: libaio, which needs r->fd open with O_DIRECT. Returns 1 when an
 * AIO context of the window's size was set up (r->aio, kept for the
 * reader's life), 0 when not (said), -errno on an error.
 */
static int try_libaio(struct reader *r)
{
	unsigned nr = min_u(r->qd, RD_MAX_RING);
	io_context_t ctx = 0;   /* io_setup wants it 0 */
	int ret;

	if (!r->direct) {
		say(r, "libaio: needs O_DIRECT");
		return 0;
	}
	/* libaio returns -errno itself, like liburing. The context that
	 * answers the question is the one every batch reads through: one
	 * io_setup per reader, one io_destroy in rd_close, instead of a
	 * context per batch whose io_destroy waits for an RCU grace period
	 * (tens of milliseconds: chapter 02, "Keep the context"). */
	ret = io_setup((int)nr, &ctx);
	if (ret == -ENOSYS || ret == -EAGAIN || ret == -EPERM) {
		say(r, "libaio: io_setup %s%s", ename(ret),
		    ret == -EAGAIN ? " (fs.aio-max-nr reached)" : "");
		return 0;
	}
	if (ret < 0)
		return ret;
	r->aio = ctx;
	r->aio_events = nr;
	return 1;
}

/* Open the file for step 2 or 3: O_DIRECT when wanted, through the page
 * cache when the filesystem refuses it (-EINVAL). Sets r->fd, r->direct. */
static int open_for(struct reader *r, const char *path, int want_direct)
{
	int fd;

	if (want_direct) {
		fd = open_file(path, 1);
		if (fd >= 0) {
			r->fd = fd;
			r->direct = 1;
			return 0;
		}
		if (fd != -EINVAL)
			return fd;
		say(r, "O_DIRECT: EINVAL (not on this filesystem)");
	}
	fd = open_file(path, 0);
	if (fd < 0)
		return fd;
	r->fd = fd;
	r->direct = 0;
	return 0;
}

static void close_file(struct reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->direct = 0;
}

/* The steps in order; on failure everything set up so far is released by
 * the caller (rd_close). */
static int choose(struct reader *r, const char *path, unsigned flags)
{
	int ret;

	if (flags & RD_NO_URING) {
		say(r, "io_uring: RD_NO_URING");
	} else {
		ret = try_uring(r);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			r->backend = RD_IO_URING;
			ret = open_for(r, path, flags & RD_DIRECT);
			if (ret == 0)
				say(r, "using io_uring (%u entries)", r->ring.sq_entries);
			return ret;
		}
	}

	if (flags & RD_NO_LIBAIO) {
		say(r, "libaio: RD_NO_LIBAIO");
	} else {
		/* libaio is worth it only on O_DIRECT, asked for or not. */
		ret = open_for(r, path, 1);
		if (ret < 0)
			return ret;
		ret = try_libaio(r);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			r->backend = RD_LIBAIO;
			say(r, "using libaio on O_DIRECT");
			return 0;
		}
		/* The pool reads through the page cache unless asked not to. */
		if (r->direct && !(flags & RD_DIRECT))
			close_file(r);
	}

	if (r->fd < 0) {
		ret = open_for(r, path, flags & RD_DIRECT);
		if (ret < 0)
			return ret;
	}
	ret = tpool_create(&r->pool, min_u(r->qd, RD_MAX_THREADS));
	if (ret < 0)
		return ret;
	r->backend = RD_THREADS;
	say(r, "using threads (%u)", min_u(r->qd, RD_MAX_THREADS));
	return 0;
}

int rd_open(struct reader **out, const char *path, unsigned qd, unsigned flags)
{
	struct reader *r;
	int ret;

	if (!out || !path || qd == 0 || (flags & ~RD_KNOWN_FLAGS))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->qd = qd;
	ret = choose(r, path, flags);
	if (ret < 0) {
		rd_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

enum rd_backend rd_backend(const struct reader *r)
{
	return r->backend;
}

const char *rd_backend_name(enum rd_backend b)
{
	switch (b) {
	case RD_IO_URING:
		return "io_uring";
	case RD_LIBAIO:
		return "libaio";
	case RD_THREADS:
		return "threads";
	}
	return "?";
}

const char *rd_why(const struct reader *r)
{
	return r->why;
}

int rd_fd(const struct reader *r)
{
	return r->fd;
}

int rd_direct(const struct reader *r)
{
	return r->direct;
}

/* The libaio back-end's batch, through the reader's one context: at most
 * min(qd, aio_events) in flight, since the context was set up for
 * aio_events (laio.h, laio_batch_read_ctx). */
static int aio_read(struct reader *r, struct batch_req *reqs, size_t n, unsigned qd)
{
	int ret = laio_batch_read_ctx(r->aio, r->aio_events, reqs, n, qd);

	if (ret < 0 && ret != -EAGAIN && ret != -ENOMEM && r->aio) {
		/* io_getevents failed for good: reads of this batch may still
		 * be in flight into the caller's buffers (laio.h). io_destroy
		 * waits for them, so the buffers are the caller's again when we
		 * return. The reader has no context left: like a failed ring,
		 * only rd_close is allowed now (reader.h), and a batch anyway
		 * gets laio_batch_read_ctx's -EINVAL for ctx 0. */
		io_destroy(r->aio);
		r->aio = 0;
	}
	return ret;
}

int rd_batch_read(struct reader *r, struct batch_req *reqs, size_t n)
{
	if (!r || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	switch (r->backend) {
	case RD_IO_URING:
		return ubatch_read(&r->ring, reqs, n, r->qd);
	case RD_LIBAIO:
		return aio_read(r, reqs, n, r->qd);
	case RD_THREADS:
		return tpool_batch_read(r->pool, reqs, n, r->qd);
	}
	return -EINVAL;
}

void rd_close(struct reader *r)
{
	if (!r)
		return;
	/* Only what was set up: ubatch.h promises ubatch_exit is safe twice and
	 * after a failed ubatch_init, not on a ring that was only zeroed by
	 * calloc; paio.h promises tpool_destroy(NULL) does nothing. */
	if (r->ring.live)
		ubatch_exit(&r->ring);
	if (r->aio)
		io_destroy(r->aio);   /* waits for anything in flight */
	tpool_destroy(r->pool);
	close_file(r);
	free(r);
}
