/*
 * ulink.c - chapter 07 reference: io_uring links, linked timeouts and
 * cancellation, on one ring kept between calls.
 *
 * One rule runs through the whole file: every request ends in exactly one
 * CQE, and its buffer belongs to the kernel until that CQE has been seen.
 * So every function counts the CQEs it is owed and returns only when it has
 * reaped them all; a function that gives up half way would leave the kernel
 * writing into memory the caller is about to free.
 *
 * Whose CQE is this? user_data tells, and our own requests must never be
 * mistaken for the caller's reads:
 *
 *   even values   a read started by ulink_start_read(): the address of the
 *                 small record (struct started) that holds the caller's tag.
 *                 malloc() returns addresses aligned to at least 8, so they
 *                 are never odd.
 *   odd values    our own requests: (index << 3) | (kind << 1) | 1, where
 *                 kind is OWN (the deadline read, its timeout, a cancel,
 *                 an SQE taken back), or a ulink_copy() read or write of
 *                 slot `index`.
 *
 * (struct ulink has no field for a table of tags, and a table kept in a
 * global would tie the module to one ring: a record per started read needs
 * neither, and the record's address is the tag's name for the kernel.)
 */
#define _GNU_SOURCE
#include "ulink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The SQE's length field is 32 bits; one read(2) moves at most 2 GiB - 4 KiB
 * anyway. A longer request is asked for in part, as read(2) may answer. */
#define CHUNK_MAX (1u << 30)

/* Submissions that may fail with -EAGAIN/-EBUSY in a row (the kernel short
 * of memory) before we give up and return that error. */
#define STUCK_MAX 8

enum kind { OWN = 0, COPY_READ = 1, COPY_WRITE = 2 };
enum own { DEADLINE_READ, DEADLINE_TIMER, CANCEL, TAKEN_BACK };

static __u64 own_ud(unsigned index, enum kind kind)
{
	return ((__u64)index << 3) | ((__u64)kind << 1) | 1;
}

static bool is_own(__u64 ud) { return ud & 1; }
static enum kind ud_kind(__u64 ud) { return (enum kind)((ud >> 1) & 3); }
static unsigned ud_index(__u64 ud) { return (unsigned)(ud >> 3); }

/* A read started by ulink_start_read(), until its CQE is reaped. */
struct started {
	__u64 tag;
};

/* ------------------------------------------------------------ submission */

/*
 * Turn every SQE queued but not yet taken by the kernel into a NOP that
 * posts no CQE (IOSQE_CQE_SKIP_SUCCESS, Linux 5.17+; older kernels post an
 * -EINVAL CQE with TAKEN_BACK, which every reaper here throws away). Used
 * when a submission failed: those requests were never started, and the next
 * io_uring_submit() must not start them behind our back. forget(), if given,
 * is told the user_data of each one first.
 *
 * Safe without SQPOLL: the kernel reads SQEs only inside io_uring_enter.
 * liburing keeps no copy of the SQ outside the ring: positions *khead up to
 * sqe_tail are the queued SQEs, sqes[pos & ring_mask] (liburing fills the
 * index array in order).
 */
static void take_back_queued(struct io_uring *ring,
                             void (*forget)(void *ctx, __u64 ud), void *ctx)
{
	unsigned pos;

	for (pos = *ring->sq.khead; pos != ring->sq.sqe_tail; pos++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[pos & ring->sq.ring_mask];

		if (forget)
			forget(ctx, sqe->user_data);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		io_uring_sqe_set_data64(sqe, own_ud(TAKEN_BACK, OWN));
	}
}

/*
 * Hand every queued SQE to the kernel. A link chain must reach the kernel
 * whole, so we go on until the SQ is empty. -EINTR is retried; -EAGAIN and
 * -EBUSY (io_uring_enter(2): short of memory, or CQEs to reap first) a few
 * times. Returns 0, or the -errno that stopped it, with some SQEs still
 * queued: the caller takes them back.
 */
static int submit_all(struct io_uring *ring)
{
	unsigned stuck = 0;

	while (io_uring_sq_ready(ring) > 0) {
		int ret = io_uring_submit(ring);

		if (ret > 0) {
			stuck = 0;
			continue;
		}
		if (ret == -EINTR)
			continue;
		if (ret == 0)
			ret = -EAGAIN; /* nothing taken, nothing said: try again */
		if ((ret != -EAGAIN && ret != -EBUSY) || ++stuck > STUCK_MAX)
			return ret;
	}
	return 0;
}

/*
 * Make sure n SQEs can be taken in a row (a link must not be split by a
 * submission between its SQEs). If the SQ is too full, submit what is
 * queued first. Returns 0 or -errno.
 */
static int room_for(struct io_uring *ring, unsigned n)
{
	int ret;

	if (io_uring_sq_space_left(ring) >= n)
		return 0;
	ret = submit_all(ring);
	if (ret < 0)
		return ret;
	return io_uring_sq_space_left(ring) >= n ? 0 : -EBUSY;
}

/*
 * Wait for the next CQE. It stays in the CQ. A signal (-EINTR) is not an
 * answer: wait again. -EAGAIN and -EBUSY (io_uring_enter(2): the kernel is
 * short of memory for the moment) are tried again a few times.
 */
static int wait_cqe(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	unsigned stuck = 0;
	int ret;

	for (;;) {
		ret = io_uring_wait_cqe(ring, cqe);
		if (ret == -EINTR)
			continue;
		if ((ret == -EAGAIN || ret == -EBUSY) && ++stuck <= STUCK_MAX)
			continue;
		return ret;
	}
}

/* ------------------------------------------------------------ init, exit */

int ulink_init(struct ulink *u, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	if (!u)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	/* Two slots at least: a deadline read is a read and its timeout. */
	if (entries < 2 || entries > 4096)
		return -EINVAL;

	/*
	 * Default CQ size, twice the SQ (io_uring_setup(2)). No function here
	 * lets more requests be in flight than the SQ holds, plus one cancel,
	 * so the CQ cannot overflow.
	 */
	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret < 0)
		return ret; /* already -errno: never look at errno */
	u->sq_entries = p.sq_entries;
	u->cq_entries = p.cq_entries;
	u->live = 1;
	return 0;
}

void ulink_exit(struct ulink *u)
{
	if (!u || !u->live)
		return;
	/* io_uring_queue_exit(3) does not wait for reads in flight: they
	 * would write into the caller's buffers after we return. */
	if (u->inflight > 0)
		ulink_cancel_all(u, NULL, 0);
	io_uring_queue_exit(&u->ring);
	u->live = 0;
	u->inflight = 0;
}

/* ------------------------------------------------------- deadline read */

static struct __kernel_timespec ms_to_ts(unsigned ms)
{
	struct __kernel_timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long long)(ms % 1000) * 1000000;
	return ts;
}

/*
 * Queue the read and its linked timeout, then submit both. ts is read by
 * the kernel while it takes the timeout SQE (the SQE holds only its
 * address), so it must live until submit_all() has returned: it does, it
 * belongs to our caller's frame.
 */
static int start_deadline_read(struct io_uring *ring, int fd, void *buf,
                               unsigned len, struct __kernel_timespec *ts)
{
	struct io_uring_sqe *read_sqe, *timer_sqe;
	int ret = room_for(ring, 2);

	if (ret < 0)
		return ret;
	read_sqe = io_uring_get_sqe(ring);
	timer_sqe = io_uring_get_sqe(ring);
	if (!read_sqe || !timer_sqe)
		return -EBUSY; /* room_for() said there was room: cannot happen */

	/* Offset -1: the file position, moved by the read, as read(2) does. */
	io_uring_prep_read(read_sqe, fd, buf, len, (__u64)-1);
	io_uring_sqe_set_flags(read_sqe, IOSQE_IO_LINK);
	io_uring_sqe_set_data64(read_sqe, own_ud(DEADLINE_READ, OWN));
	io_uring_prep_link_timeout(timer_sqe, ts, 0);
	io_uring_sqe_set_data64(timer_sqe, own_ud(DEADLINE_TIMER, OWN));

	ret = submit_all(ring);
	if (ret < 0)
		take_back_queued(ring, NULL, NULL);
	return ret;
}

/*
 * Reap the read's CQE and the timeout's, in whatever order they come.
 * Returns what the read says, with "cancelled by its timeout" as -ETIME.
 */
static int reap_deadline_read(struct io_uring *ring)
{
	bool have_read = false, have_timer = false;
	int read_res = 0, timer_res = 0;

	while (!have_read || !have_timer) {
		struct io_uring_cqe *cqe;
		__u64 ud;
		int ret = wait_cqe(ring, &cqe);

		if (ret < 0)
			return ret; /* the ring itself is broken */
		ud = io_uring_cqe_get_data64(cqe);
		if (ud == own_ud(DEADLINE_READ, OWN)) {
			have_read = true;
			read_res = cqe->res;
		} else if (ud == own_ud(DEADLINE_TIMER, OWN)) {
			have_timer = true;
			timer_res = cqe->res;
		} /* else: an SQE taken back earlier, on an old kernel */
		io_uring_cqe_seen(ring, cqe);
	}
	/* The read decides: data that came as the timer fired is data. */
	if (read_res == -ECANCELED && timer_res == -ETIME)
		return -ETIME;
	return read_res;
}

ssize_t ulink_read_timeout(struct ulink *u, int fd, void *buf, size_t len,
                           unsigned timeout_ms)
{
	unsigned chunk = len > CHUNK_MAX ? CHUNK_MAX : (unsigned)len;
	int res;

	if (!u || !u->live || (!buf && len > 0) || timeout_ms == 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (u->inflight > 0)
		return -EBUSY; /* their CQEs would come in the middle of ours */

	do {
		/* A fresh deadline for each try: -EINTR is not the read's
		 * answer, and the caller asked for timeout_ms of waiting. */
		struct __kernel_timespec ts = ms_to_ts(timeout_ms);

		res = start_deadline_read(&u->ring, fd, buf, chunk, &ts);
		if (res < 0)
			return res;
		res = reap_deadline_read(&u->ring);
	} while (res == -EINTR);
	return res;
}

/* ------------------------------------------------------ start, cancel */

int ulink_start_read(struct ulink *u, int fd, void *buf, size_t len, off_t off,
                     __u64 tag)
{
	struct io_uring_sqe *sqe;
	struct started *s;
	int ret;

	if (!u || !u->live || !buf || len == 0)
		return -EINVAL;
	/* One CQE per read plus the cancel's must fit in the CQ (2 x SQ). */
	if (u->inflight >= u->sq_entries)
		return -EBUSY;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->tag = tag;

	ret = room_for(&u->ring, 1);
	sqe = ret < 0 ? NULL : io_uring_get_sqe(&u->ring);
	if (!sqe) {
		free(s);
		return ret < 0 ? ret : -EBUSY;
	}
	io_uring_prep_read(sqe, fd, buf, len > CHUNK_MAX ? CHUNK_MAX : (unsigned)len,
	                   (__u64)off); /* off -1 becomes "the file position" */
	io_uring_sqe_set_data(sqe, s);
	ret = submit_all(&u->ring);
	if (ret < 0) {
		/* Not started: it must not start later, with s freed. */
		take_back_queued(&u->ring, NULL, NULL);
		free(s);
		return ret;
	}
	u->inflight++;
	return 0;
}

/*
 * One cancel request for every read in flight (Linux 5.19+): its CQE says
 * how many it caught, and it may come before theirs. The reads it caught
 * end with -ECANCELED; the others with their own result. It is retried
 * until submitted: without it the reads on an idle pipe never end.
 */
static int start_cancel(struct io_uring *ring)
{
	unsigned tries;
	int ret = -EAGAIN;

	for (tries = 0; tries <= STUCK_MAX && ret < 0; tries++) {
		struct io_uring_sqe *sqe;

		ret = room_for(ring, 1);
		sqe = ret < 0 ? NULL : io_uring_get_sqe(ring);
		if (!sqe) {
			ret = ret < 0 ? ret : -EBUSY;
			continue;
		}
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY |
		                                       IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, own_ud(CANCEL, OWN));
		ret = submit_all(ring);
		if (ret < 0)
			take_back_queued(ring, NULL, NULL);
	}
	return ret;
}

/* Record one read's end: done[] if there is room, then free its record. */
static void read_ended(struct ulink *u, struct io_uring_cqe *cqe,
                       struct ulink_done *done, unsigned max, unsigned *n)
{
	struct started *s = io_uring_cqe_get_data(cqe);

	if (*n < max) {
		done[*n].tag = s->tag;
		done[*n].res = cqe->res;
	}
	(*n)++;
	free(s);
	u->inflight--;
}

int ulink_cancel_all(struct ulink *u, struct ulink_done *done, unsigned max)
{
	bool cancel_pending = true;
	unsigned n = 0;
	int ret;

	if (!u || !u->live || (!done && max > 0))
		return -EINVAL;
	if (u->inflight == 0)
		return 0;
	ret = start_cancel(&u->ring);
	if (ret < 0)
		return ret; /* nothing reaped; the reads are still ours */

	while (u->inflight > 0 || cancel_pending) {
		struct io_uring_cqe *cqe;
		__u64 ud;

		ret = wait_cqe(&u->ring, &cqe);
		if (ret < 0)
			return ret; /* the ring is broken: nothing more to do */
		ud = io_uring_cqe_get_data64(cqe);
		if (!is_own(ud)) {
			read_ended(u, cqe, done, max, &n);
		} else if (ud == own_ud(CANCEL, OWN)) {
			cancel_pending = false;
			/* A kernel older than 5.19 refuses CANCEL_ANY: the
			 * reads would never end, so say so, do not hang. */
			if (cqe->res == -EINVAL && u->inflight > 0) {
				io_uring_cqe_seen(&u->ring, cqe);
				return -EOPNOTSUPP;
			}
		}
		io_uring_cqe_seen(&u->ring, cqe);
	}
	return (int)n;
}

/* ---------------------------------------------------------------- copy */

/*
 * One buffer and the block it holds. A slot has 0, 1 or 2 requests in
 * flight (a read and its linked write); its next step is decided only when
 * all of them have their CQEs, so the order of the CQEs never matters.
 */
struct slot {
	char *buf;
	off_t off;        /* the block's offset, in both files      */
	size_t len;       /* the block's length                     */
	size_t got;       /* bytes of it read so far                */
	size_t put;       /* bytes of it written so far (<= got)    */
	unsigned pending; /* its requests without a CQE yet         */
};

struct copy {
	struct io_uring *ring;
	int in, out;
	off_t size, next; /* bytes to copy; offset of the next block */
	size_t block;
	struct slot *slots;
	unsigned nslots;
	unsigned pending; /* requests queued or in flight, all slots */
	int err;          /* first error, 0 if none                  */
};

static void fail(struct copy *c, int err)
{
	if (c->err == 0)
		c->err = err; /* the first error is the cause */
}

static int queue_one(struct copy *c, unsigned i, enum kind kind, size_t from,
                     size_t to, unsigned flags)
{
	struct slot *s = &c->slots[i];
	struct io_uring_sqe *sqe = io_uring_get_sqe(c->ring);
	__u64 off = (__u64)s->off + from;

	if (!sqe)
		return -EBUSY; /* room_for() said there was room */
	if (kind == COPY_READ)
		io_uring_prep_read(sqe, c->in, s->buf + from, (unsigned)(to - from), off);
	else
		io_uring_prep_write(sqe, c->out, s->buf + from, (unsigned)(to - from), off);
	io_uring_sqe_set_flags(sqe, flags);
	io_uring_sqe_set_data64(sqe, own_ud(i, kind));
	s->pending++;
	c->pending++;
	return 0;
}

/*
 * Slot i is quiet (no request in flight): queue its next step.
 *  - bytes read but not written (a short read or a short write broke the
 *    chain): write them, alone;
 *  - bytes of the block not read yet: a linked pair for the rest, read
 *    [got, len) then write [got, len) (put == got here);
 *  - block done: take the next block, as a linked pair.
 */
static void step(struct copy *c, unsigned i)
{
	struct slot *s = &c->slots[i];
	int ret;

	if (c->err)
		return; /* after the first error, nothing new */
	if (s->put == s->got && s->got == s->len) {
		off_t left = c->size - c->next;

		if (left <= 0)
			return; /* nothing left for this slot */
		s->off = c->next;
		s->len = left < (off_t)c->block ? (size_t)left : c->block;
		s->got = s->put = 0;
		c->next += (off_t)s->len;
	}
	if (s->put < s->got) {
		ret = room_for(c->ring, 1);
		if (ret == 0)
			ret = queue_one(c, i, COPY_WRITE, s->put, s->got, 0);
	} else {
		ret = room_for(c->ring, 2);
		if (ret == 0)
			ret = queue_one(c, i, COPY_READ, s->got, s->len, IOSQE_IO_LINK);
		if (ret == 0)
			ret = queue_one(c, i, COPY_WRITE, s->got, s->len, 0);
	}
	if (ret < 0)
		fail(c, ret);
}

static void read_done(struct copy *c, struct slot *s, int res)
{
	if (res == -EINTR)
		return; /* step() reads the same bytes again */
	if (res < 0)
		fail(c, res);
	else if (res == 0)
		fail(c, -EIO); /* end of file before `size`: the file shrank */
	else
		s->got += (size_t)res;
}

static void write_done(struct copy *c, struct slot *s, int res)
{
	/* -ECANCELED: the read before it came back short or failed, the
	 * write did nothing. -EINTR: nothing written either. step() redoes it. */
	if (res == -ECANCELED || res == -EINTR)
		return;
	if (res < 0)
		fail(c, res);
	else if (res == 0)
		fail(c, -EIO); /* no progress on a non-empty write: never loop */
	else
		s->put += (size_t)res;
}

/* A CQE of ours: which slot, which step. Anything else is not ours. */
static void complete(struct copy *c, __u64 ud, int res)
{
	unsigned i = ud_index(ud);
	struct slot *s;

	if (!is_own(ud) || ud_kind(ud) == OWN || i >= c->nslots)
		return; /* an SQE taken back earlier, on an old kernel */
	s = &c->slots[i];
	s->pending--;
	c->pending--;
	if (ud_kind(ud) == COPY_READ)
		read_done(c, s, res);
	else
		write_done(c, s, res);
}

/* An SQE taken back: its CQE will never come. */
static void forget(void *ctx, __u64 ud)
{
	complete(ctx, ud, -ECANCELED);
}

/* Every CQE that is there, then one CQ advance; then the next steps. */
static void reap_and_refill(struct copy *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, i;

	io_uring_for_each_cqe(c->ring, head, cqe) {
		complete(c, io_uring_cqe_get_data64(cqe), cqe->res);
		seen++;
	}
	io_uring_cq_advance(c->ring, seen);
	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].pending == 0)
			step(c, i);
}

/*
 * Submit what is queued and wait for one CQE, in one io_uring_enter.
 * -EINTR: go on (reaping finds what is there). -EAGAIN/-EBUSY: reap, or
 * wait for what the kernel has, or try again a few times.
 */
static int submit_and_wait(struct copy *c)
{
	unsigned stuck = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait(c->ring, 1);

		if (ret >= 0 || ret == -EINTR)
			return 0;
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		if (io_uring_cq_ready(c->ring))
			return 0;
		if (c->pending > io_uring_sq_ready(c->ring))
			return wait_cqe(c->ring, &cqe);
		if (++stuck > STUCK_MAX)
			return ret;
	}
}

/* Returns 0, or -errno when the ring cannot be waited on any more: the
 * kernel may still hold buffers, which must then not be freed. */
static int run_copy(struct copy *c)
{
	unsigned i;

	for (i = 0; i < c->nslots; i++)
		step(c, i);
	while (c->pending > 0) {
		int ret = submit_and_wait(c);

		if (ret < 0) {
			struct io_uring_cqe *cqe;

			fail(c, ret);
			/* What the kernel never took will never complete. */
			take_back_queued(c->ring, forget, c);
			if (c->pending > 0 && wait_cqe(c->ring, &cqe) < 0)
				return ret;
		}
		reap_and_refill(c);
	}
	return 0;
}

int ulink_copy(struct ulink *u, int in_fd, int out_fd, off_t size, size_t block,
               unsigned pairs)
{
	struct copy c;
	off_t blocks;
	unsigned i;
	char *bufs;

	if (!u || !u->live || size < 0 || block == 0 || block > ULINK_MAX_BLOCK ||
	    pairs == 0)
		return -EINVAL;
	if (size == 0)
		return 0;
	if (u->inflight > 0)
		return -EBUSY; /* their CQEs would come in the middle of ours */

	memset(&c, 0, sizeof(c));
	c.ring = &u->ring;
	c.in = in_fd;
	c.out = out_fd;
	c.size = size;
	c.block = block;
	/* A pair is two SQEs; no more pairs than blocks to copy. */
	blocks = (size - 1) / (off_t)block + 1;
	c.nslots = pairs < u->sq_entries / 2 ? pairs : u->sq_entries / 2;
	if ((off_t)c.nslots > blocks)
		c.nslots = (unsigned)blocks;

	c.slots = calloc(c.nslots, sizeof(*c.slots));
	/* 4096-aligned: the same buffers would serve O_DIRECT. */
	if (!c.slots || posix_memalign((void **)&bufs, 4096, c.nslots * block)) {
		free(c.slots);
		return -ENOMEM;
	}
	for (i = 0; i < c.nslots; i++)
		c.slots[i].buf = bufs + (size_t)i * block;

	if (run_copy(&c) < 0)
		return c.err; /* buffers left to the kernel on purpose: see above */
	free(bufs);
	free(c.slots);
	return c.err;
}
