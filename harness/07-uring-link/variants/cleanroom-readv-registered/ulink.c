/*
 * ulink.c - chapter 07: io_uring links, linked timeouts and cancellation
 * (clean-room implementation y: the copy as READV -> WRITEV pairs on
 * registered files).
 *
 * user_data scheme:
 *   - a caller's read (ulink_start_read): the address of a heap record that
 *     holds its tag. malloc'd addresses are at least 8-aligned, so even.
 *   - every request of the module's own: an odd value. The deadline read,
 *     its timeout, the cancel, the NOPs that take back SQEs of a failed
 *     submission, and the copy's halves ((slot << 2) | (write << 1) | 1).
 */
#define _GNU_SOURCE
#include "ulink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* odd, and above every copy slot's value (slots < 2048) */
#define UD_DEADLINE_READ (UINT64_MAX - 8)
#define UD_DEADLINE_TIMER (UINT64_MAX - 6)
#define UD_CANCEL (UINT64_MAX - 4)
#define UD_TAKEN_BACK (UINT64_MAX - 2)

#define MAX_IO 0x7ffff000u /* the kernel's own cap on one transfer */
#define BUSY_TRIES 8       /* -EAGAIN / -EBUSY retries before giving up */

struct started {
	__u64 tag;
};

static bool own(__u64 ud)
{
	return ud & 1;
}

/*
 * Every SQE in the SQ that the kernel has not consumed becomes a NOP whose
 * success posts no CQE: a failed submission must never start later. If
 * `gone` is given, each such SQE's former user_data is passed to it.
 */
static void take_back(struct io_uring *ring, void (*gone)(void *, __u64),
                      void *arg)
{
	unsigned head = *ring->sq.khead;
	unsigned tail = ring->sq.sqe_tail;

	for (; head != tail; head++) {
		struct io_uring_sqe *sqe =
			&ring->sq.sqes[head & *ring->sq.kring_mask];
		__u64 was = sqe->user_data;

		io_uring_prep_nop(sqe);
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		sqe->user_data = UD_TAKEN_BACK;
		if (gone && was != UD_TAKEN_BACK)
			gone(arg, was);
	}
}

/* Room for `need` SQEs, sending what the SQ holds (NOPs taken back
 * earlier) if it is full. 0, or the error of that submission. */
static int make_room(struct io_uring *ring, unsigned need)
{
	int busy = 0;

	while (io_uring_sq_space_left(ring) < need) {
		int r = io_uring_submit(ring);

		if (r > 0 || r == -EINTR)
			continue;
		if (r == 0)
			r = -EAGAIN;
		if ((r != -EAGAIN && r != -EBUSY) || ++busy > BUSY_TRIES)
			return r;
	}
	return 0;
}

/*
 * Submit everything queued. -EINTR: again; -EAGAIN/-EBUSY: again, a few
 * times. Returns 0 once the SQ is empty, or the error.
 */
static int submit_all(struct io_uring *ring)
{
	int busy = 0;

	while (io_uring_sq_ready(ring) > 0) {
		int r = io_uring_submit(ring);

		if (r >= 0) {
			if (r == 0 && ++busy > BUSY_TRIES)
				return -EAGAIN;
			continue;
		}
		if (r == -EINTR)
			continue;
		if ((r == -EAGAIN || r == -EBUSY) && ++busy <= BUSY_TRIES)
			continue;
		return r;
	}
	return 0;
}

/* Wait for a CQE: -EINTR resumed, -EAGAIN/-EBUSY a few times. */
static int wait_one(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	int busy = 0;

	for (;;) {
		int r = io_uring_wait_cqe(ring, cqe);

		if (r == 0)
			return 0;
		if (r == -EINTR)
			continue;
		if ((r == -EAGAIN || r == -EBUSY) && ++busy <= BUSY_TRIES)
			continue;
		return r;
	}
}

int ulink_init(struct ulink *u, unsigned entries)
{
	int r;

	if (u == NULL)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	if (entries < 2 || entries > 4096)
		return -EINVAL;
	r = io_uring_queue_init(entries, &u->ring, 0);
	if (r < 0) {
		memset(u, 0, sizeof(*u));
		return r;
	}
	u->sq_entries = u->ring.sq.ring_entries;
	u->cq_entries = u->ring.cq.ring_entries;
	u->inflight = 0;
	u->live = 1;
	return 0;
}

void ulink_exit(struct ulink *u)
{
	if (u == NULL || !u->live)
		return;
	if (u->inflight > 0)
		ulink_cancel_all(u, NULL, 0);
	io_uring_queue_exit(&u->ring);
	u->live = 0;
	u->inflight = 0;
}

/* One round of the deadline read: >= 0 bytes, -ETIME, -EINTR (again), or
 * an error. */
static ssize_t deadline_round(struct ulink *u, int fd, void *buf, size_t len,
                              unsigned timeout_ms)
{
	struct io_uring *ring = &u->ring;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL,
	};
	struct io_uring_sqe *rd, *tm;
	bool have_read = false, have_timer = false;
	int read_res = 0;
	int r;

	r = make_room(ring, 2);
	if (r < 0)
		return r;
	rd = io_uring_get_sqe(ring);
	io_uring_prep_read(rd, fd, buf, len > MAX_IO ? MAX_IO : (unsigned)len,
	                   (__u64)-1);
	io_uring_sqe_set_flags(rd, IOSQE_IO_LINK);
	rd->user_data = UD_DEADLINE_READ;
	tm = io_uring_get_sqe(ring);
	io_uring_prep_link_timeout(tm, &ts, 0);
	tm->user_data = UD_DEADLINE_TIMER;

	r = submit_all(ring);
	if (r < 0) {
		take_back(ring, NULL, NULL);
		return r;
	}

	while (!have_read || !have_timer) {
		struct io_uring_cqe *cqe;

		r = wait_one(ring, &cqe);
		if (r < 0)
			return r;
		if (cqe->user_data == UD_DEADLINE_READ) {
			have_read = true;
			read_res = cqe->res;
		} else if (cqe->user_data == UD_DEADLINE_TIMER) {
			have_timer = true;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	if (read_res == -ECANCELED)
		return -ETIME;
	return read_res;
}

ssize_t ulink_read_timeout(struct ulink *u, int fd, void *buf, size_t len,
                           unsigned timeout_ms)
{
	ssize_t r;

	if (u == NULL || !u->live || (buf == NULL && len > 0) ||
	    timeout_ms == 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (u->inflight > 0)
		return -EBUSY;
	do
		r = deadline_round(u, fd, buf, len, timeout_ms);
	while (r == -EINTR);
	return r;
}

int ulink_start_read(struct ulink *u, int fd, void *buf, size_t len, off_t off,
                     __u64 tag)
{
	struct io_uring_sqe *sqe;
	struct started *s;
	int r;

	if (u == NULL || !u->live || buf == NULL || len == 0)
		return -EINVAL;
	if (u->inflight >= u->sq_entries)
		return -EBUSY;
	s = malloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->tag = tag;
	r = make_room(&u->ring, 1);
	if (r < 0) {
		free(s);
		return r;
	}
	sqe = io_uring_get_sqe(&u->ring);
	io_uring_prep_read(sqe, fd, buf, len > MAX_IO ? MAX_IO : (unsigned)len,
	                   (__u64)off);
	io_uring_sqe_set_data(sqe, s);
	r = submit_all(&u->ring);
	if (r < 0) {
		take_back(&u->ring, NULL, NULL);
		free(s);
		return r;
	}
	u->inflight++;
	return 0;
}

int ulink_cancel_all(struct ulink *u, struct ulink_done *done, unsigned max)
{
	struct io_uring *ring;
	struct io_uring_sqe *sqe;
	unsigned ended = 0;
	bool cancel_owed = true;
	int r;

	if (u == NULL || !u->live || (done == NULL && max > 0))
		return -EINVAL;
	if (u->inflight == 0)
		return 0;
	ring = &u->ring;

	r = make_room(ring, 1);
	if (r < 0)
		return r;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_cancel64(sqe, 0,
	                       IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	sqe->user_data = UD_CANCEL;
	r = submit_all(ring);
	if (r < 0) {
		take_back(ring, NULL, NULL);
		return r;
	}

	while (u->inflight > 0 || cancel_owed) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		r = wait_one(ring, &cqe);
		if (r < 0)
			return r;
		io_uring_for_each_cqe(ring, head, cqe) {
			__u64 ud = cqe->user_data;

			seen++;
			if (ud == UD_CANCEL) {
				cancel_owed = false;
			} else if (!own(ud) && ud != 0) {
				struct started *s =
					(struct started *)(uintptr_t)ud;

				if (ended < max) {
					done[ended].tag = s->tag;
					done[ended].res = cqe->res;
				}
				ended++;
				free(s);
				u->inflight--;
			}
		}
		io_uring_cq_advance(ring, seen);
	}
	return (int)ended;
}

/* ------------------------------------------------------------------ */
/* ulink_copy: a window of slots, each a buffer working through a block. */

struct slot {
	off_t off;      /* the block's first byte             */
	size_t len;     /* the block's length (0: slot free)  */
	size_t got;     /* bytes read into the buffer         */
	size_t put;     /* bytes of them written              */
	unsigned owed;  /* requests queued or in the kernel   */
	bool paired;    /* this round is a read -> write pair */
	int read_res, write_res;
	char *buf;
	struct iovec riov, wiov; /* live until the round's CQEs are in */
};

struct copy {
	struct ulink *u;
	int in, out;      /* fds, or 0 and 1 in the registered table */
	bool fixed;       /* in and out are registered files */
	off_t size, next; /* next: the first byte not given to a slot */
	size_t block;
	unsigned nslots;
	struct slot *slots;
	unsigned owed;    /* all slots' requests queued or in the kernel */
	unsigned unsent;  /* of them, still in the SQ */
	int err;          /* the first error */
};

static __u64 copy_ud(unsigned i, bool write)
{
	return ((__u64)i << 2) | ((__u64)write << 1) | 1;
}

static void fail(struct copy *c, int err)
{
	if (c->err == 0)
		c->err = err;
}

/* A request that was taken back: it will never have a CQE. */
static void copy_gone(void *arg, __u64 ud)
{
	struct copy *c = arg;
	struct slot *s;

	if (!own(ud) || (ud >> 2) >= c->nslots)
		return;
	s = &c->slots[ud >> 2];
	s->owed--;
	c->owed--;
	c->unsent--;
	s->read_res = s->write_res = -ECANCELED;
}

/* Queue the slot's next step, if it has one and there is room. */
static bool queue_step(struct copy *c, unsigned i)
{
	struct io_uring *ring = &c->u->ring;
	struct slot *s = &c->slots[i];
	struct io_uring_sqe *rd, *wr;

	if (s->len == 0) {
		if (c->next >= c->size)
			return false;
		s->off = c->next;
		s->len = (size_t)(c->size - c->next) < c->block ?
		                 (size_t)(c->size - c->next) :
		                 c->block;
		s->got = s->put = 0;
		c->next += (off_t)s->len;
	}
	if (s->got > s->put) {
		/* write what was read and not written yet */
		if (io_uring_sq_space_left(ring) < 1)
			return false;
		wr = io_uring_get_sqe(ring);
		s->wiov.iov_base = s->buf + s->put;
		s->wiov.iov_len = s->got - s->put;
		io_uring_prep_writev(wr, c->out, &s->wiov, 1,
		                     (__u64)(s->off + (off_t)s->put));
		if (c->fixed)
			io_uring_sqe_set_flags(wr, IOSQE_FIXED_FILE);
		wr->user_data = copy_ud(i, true);
		s->paired = false;
		s->owed = 1;
		c->owed += 1;
		c->unsent += 1;
		return true;
	}
	if (io_uring_sq_space_left(ring) < 2)
		return false;
	s->riov.iov_base = s->wiov.iov_base = s->buf + s->got;
	s->riov.iov_len = s->wiov.iov_len = s->len - s->got;
	rd = io_uring_get_sqe(ring);
	io_uring_prep_readv(rd, c->in, &s->riov, 1,
	                    (__u64)(s->off + (off_t)s->got));
	io_uring_sqe_set_flags(rd, IOSQE_IO_LINK |
	                                   (c->fixed ? IOSQE_FIXED_FILE : 0));
	rd->user_data = copy_ud(i, false);
	wr = io_uring_get_sqe(ring);
	io_uring_prep_writev(wr, c->out, &s->wiov, 1,
	                     (__u64)(s->off + (off_t)s->got));
	if (c->fixed)
		io_uring_sqe_set_flags(wr, IOSQE_FIXED_FILE);
	wr->user_data = copy_ud(i, true);
	s->paired = true;
	s->owed = 2;
	c->owed += 2;
	c->unsent += 2;
	return true;
}

/* Every request of the slot's round has its CQE: what next? */
static void round_over(struct copy *c, struct slot *s)
{
	size_t want = s->paired ? s->len - s->got : s->got - s->put;

	if (s->paired) {
		int r = s->read_res;

		if (r == -EINTR || r == -ECANCELED)
			return; /* nothing read: the pair again */
		if (r < 0) {
			fail(c, r);
			return;
		}
		if (r == 0) {
			fail(c, -EIO);
			return;
		}
		s->got += (size_t)r;
		if ((size_t)r < want)
			return; /* short: its write was cancelled */
		want = (size_t)r;
	}
	if (s->write_res > 0) {
		s->put += (size_t)s->write_res;
	} else if (s->write_res == 0) {
		fail(c, -EIO);
		return;
	} else if (s->write_res != -EINTR && s->write_res != -ECANCELED) {
		fail(c, s->write_res);
		return;
	}
	(void)want;
	if (s->put == s->len)
		s->len = 0; /* block done: the slot is free */
}

static void reap_ready(struct copy *c)
{
	struct io_uring *ring = &c->u->ring;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(ring, head, cqe) {
		__u64 ud = cqe->user_data;
		struct slot *s;

		seen++;
		if (!own(ud) || ud == UD_TAKEN_BACK || (ud >> 2) >= c->nslots)
			continue;
		s = &c->slots[ud >> 2];
		if (ud & 2)
			s->write_res = cqe->res;
		else
			s->read_res = cqe->res;
		s->owed--;
		c->owed--;
		if (s->owed == 0 && c->err == 0)
			round_over(c, s);
	}
	io_uring_cq_advance(ring, seen);
}

static bool copy_done(const struct copy *c)
{
	unsigned i;

	if (c->next < c->size)
		return false;
	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].len != 0)
			return false;
	return true;
}

/* Returns 0 when the copy ended (c->err says how), or a ring error with
 * requests possibly still in the kernel. */
static int run_copy(struct copy *c)
{
	struct io_uring *ring = &c->u->ring;
	int busy = 0;

	for (;;) {
		unsigned i, queued = 0;

		if (c->err == 0)
			for (i = 0; i < c->nslots; i++)
				if (c->slots[i].owed == 0 && queue_step(c, i))
					queued++;
		(void)queued;

		/* submit ours; or, before the first error, leftovers of an
		 * earlier call that keep ours from the SQ */
		if (c->unsent > 0 ||
		    (c->err == 0 && io_uring_sq_ready(ring) > 0)) {
			int r = io_uring_submit(ring);

			if (r == -EINTR)
				continue;
			if (r == -EAGAIN || r == -EBUSY) {
				unsigned in_kernel = c->owed - c->unsent;

				if (++busy > BUSY_TRIES) {
					take_back(ring, copy_gone, c);
					fail(c, r);
				} else if (in_kernel > 0) {
					struct io_uring_cqe *cqe;
					int w = wait_one(ring, &cqe);

					if (w < 0)
						return w;
					reap_ready(c);
				}
				continue;
			}
			if (r < 0) {
				/* the ring failed this call: take the queued
				 * SQEs back, reap what is in the kernel */
				take_back(ring, copy_gone, c);
				fail(c, r);
				continue;
			}
			if (c->unsent > io_uring_sq_ready(ring))
				c->unsent = io_uring_sq_ready(ring);
			if (c->unsent > 0) {
				if (++busy > BUSY_TRIES) {
					take_back(ring, copy_gone, c);
					fail(c, -EAGAIN);
				}
				continue;
			}
			busy = 0;
		}

		if (c->owed == 0) {
			if (c->err != 0 || copy_done(c))
				return 0;
			continue;
		}
		{
			struct io_uring_cqe *cqe;
			int w = wait_one(ring, &cqe);

			if (w < 0)
				return w;
		}
		reap_ready(c);
	}
}

int ulink_copy(struct ulink *u, int in_fd, int out_fd, off_t size, size_t block,
               unsigned pairs)
{
	struct copy c = { .u = u, .in = in_fd, .out = out_fd, .size = size,
	                  .block = block };
	off_t blocks;
	char *area;
	unsigned i;
	int r;

	if (u == NULL || !u->live || size < 0 || block == 0 ||
	    block > ULINK_MAX_BLOCK || pairs == 0)
		return -EINVAL;
	if (u->inflight > 0)
		return -EBUSY;
	if (size == 0)
		return 0;

	c.nslots = u->sq_entries / 2;
	if (pairs < c.nslots)
		c.nslots = pairs;
	blocks = (size - 1) / (off_t)block + 1;
	if (blocks < (off_t)c.nslots)
		c.nslots = (unsigned)blocks;
	if (size < (off_t)block)
		c.block = (size_t)size;

	c.slots = calloc(c.nslots, sizeof(*c.slots));
	if (c.slots == NULL)
		return -ENOMEM;
	area = malloc((size_t)c.nslots * c.block);
	if (area == NULL) {
		free(c.slots);
		return -ENOMEM;
	}
	for (i = 0; i < c.nslots; i++)
		c.slots[i].buf = area + (size_t)i * c.block;

	/* Both files in the ring's table: the kernel looks them up once,
	 * not per request. Where that is refused (a bad fd, a table already
	 * there), the plain descriptors do the same job. */
	{
		int fds[2] = { in_fd, out_fd };

		if (io_uring_register_files(&u->ring, fds, 2) == 0) {
			c.fixed = true;
			c.in = 0;
			c.out = 1;
		}
	}
	r = run_copy(&c);
	if (r < 0 && c.owed > 0)
		return r; /* the kernel may still write into them: kept */
	if (c.fixed)
		io_uring_unregister_files(&u->ring);
	free(area);
	free(c.slots);
	if (r < 0)
		return r;
	return c.err;
}
