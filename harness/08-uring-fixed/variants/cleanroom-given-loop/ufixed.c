/*
 * Variant cleanroom-given-loop (harness/README.md, "Correct variants"):
 * written from the lesson, ufixed.h, the skeleton and the man pages alone,
 * without reading solutions/ or the tests, by a colleague (clean room for
 * chapter 08, 2026-12-07). Shape: the skeleton's given chapter 06 loop as it
 * is; TODOs filled by a learner: SINGLE_ISSUER | DEFER_TASKRUN on a plain
 * ring with one plain retry on -EINVAL, buffers table then files table;
 * add/remove refuse a non-1 update count; buffer_slot() compares the
 * offset into the slot and the room left; prep_rest() looks both slots up
 * again for every SQE from the whole request; exit unregisters buffers,
 * then files; ufixed_batch_read halves the ring on -ENOMEM.
 */
/*
 * ufixed.c - chapter 08 exercise: chapter 06's batch read on a ring with a
 * registered buffer table and a registered file table, optionally with an
 * SQ polling thread (SQPOLL) or polled completions (IOPOLL).
 *
 * Read chapters/08-uring-fixed/README.md first; the contract (what each
 * function must return) is in chapters/08-uring-fixed/ufixed.h, the request
 * type in chapters/common/batch.h.
 * Grade your work with:   make check CH=08
 * Try it in a real tool:  make run CH=08
 *
 * Every function returns 0 (or a slot number) or -errno. liburing returns
 * -errno itself: never read errno after a liburing call, never return -1.
 * Replace each "return -ENOSYS" as you solve its TODO. A failing test names
 * the TODO and a lesson section; deeper hints for each test (the man page
 * passage, then the shape of the fix in words) come with
 * `make hint T=08.NN`, one level per call.
 *
 * Rules (the grader enforces them): every read goes through the ring (read,
 * pread, readv, preadv, preadv2, aio_read and io_submit are refused);
 * registration happens in ufixed_init() and the add/remove functions, never
 * in ufixed_read(); liburing 2.3 API only; no threads, no signal handlers,
 * no sleeping.
 *
 * What is new in this chapter is the two tables (TODOs 1 to 7, 9) and how
 * each read uses them (TODO 8). The batch machinery that runs the reads
 * (window, one submit per round, reap in one pass, short reads, -EINTR,
 * -EAGAIN) is chapter 06's and is given below, complete.
 */
#define _GNU_SOURCE
#include "ufixed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Largest single read we ask for. The SQE's length field is 32 bits and the
 * kernel caps one read at MAX_RW_COUNT (2 GiB - 4 KiB) anyway; asking for
 * less keeps us clear of both, and the remainder is just the next chunk.
 */
#define CHUNK_MAX (1u << 30)

/* Rounds in a row ending in -EAGAIN/-EBUSY with no progress before we give up. */
#define STUCK_MAX 8

/*
 * The wait policy (wait_some), chapter 06's: wait for half the window's
 * completions, at most WAIT_MAX, per io_uring_enter, instead of one. At
 * depth 32 waiting for one cost about three enters per 32 reads and a fifth
 * of fio's IOPS (make bench, alternating runs; lesson, section 10). The
 * wait is bounded by WAIT_PATIENCE_NS, since a read may never complete by
 * itself (a pipe): once time runs out, the call waits for one at a time.
 */
#define WAIT_SHARE 2
#define WAIT_MAX 16
#define WAIT_PATIENCE_NS 1000000

/* The largest SQ the kernel accepts (IORING_MAX_ENTRIES). */
#define MAX_ENTRIES 32768u

/* The state of one ufixed_read() call. */
struct run {
	const struct ufixed *u;
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n;
	size_t next;       /* first request not yet started                    */
	unsigned inflight; /* started, not finished: queued, in kernel or CQE  */
	unsigned window;   /* most requests in flight: min(qd, CQ size)        */
	unsigned stuck;    /* rounds in a row without progress (see STUCK_MAX) */
	bool patient;      /* wait for window / WAIT_SHARE completions, bounded */
};

int ufixed_init(struct ufixed *u, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	int ret;

	if (!u)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		u->files[s] = -1;
	if (entries == 0 || entries > MAX_ENTRIES)
		return -EINVAL;
	if (flags & ~(UFIXED_SQPOLL | UFIXED_IOPOLL))
		return -EINVAL;

	memset(&p, 0, sizeof(p));
	if (flags & UFIXED_SQPOLL) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = UFIXED_SQ_IDLE_MS;
	}
	if (flags & UFIXED_IOPOLL)
		p.flags |= IORING_SETUP_IOPOLL;
	if (!flags) {
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
		if (ret == -EINVAL) {
			memset(&p, 0, sizeof(p));
			ret = io_uring_queue_init_params(entries, &u->ring, &p);
		}
	} else {
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (ret < 0) {
		memset(&u->ring, 0, sizeof(u->ring));
		return ret;
	}

	ret = io_uring_register_buffers_sparse(&u->ring, UFIXED_MAX_BUFS);
	if (ret == 0)
		ret = io_uring_register_files_sparse(&u->ring, UFIXED_MAX_FILES);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring);
		memset(&u->ring, 0, sizeof(u->ring));
		return ret;
	}
	u->sq_entries = u->ring.sq.ring_entries;
	u->cq_entries = u->ring.cq.ring_entries;
	u->flags = flags;
	u->live = 1;
	return 0;
}

int ufixed_add_buffer(struct ufixed *u, void *base, size_t len)
{
	struct iovec iov;
	unsigned s;
	int ret;

	if (!u || !u->live || !base || len == 0 || len > UFIXED_MAX_BUF_LEN)
		return -EINVAL;
	for (s = 0; s < UFIXED_MAX_BUFS; s++)
		if (!u->bufs[s].iov_base)
			break;
	if (s == UFIXED_MAX_BUFS)
		return -ENOSPC;
	iov.iov_base = base;
	iov.iov_len = len;
	ret = io_uring_register_buffers_update_tag(&u->ring, s, &iov, NULL, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	u->bufs[s] = iov;
	return (int)s;
}

int ufixed_remove_buffer(struct ufixed *u, unsigned slot)
{
	struct iovec iov = { NULL, 0 };
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_BUFS || !u->bufs[slot].iov_base)
		return -EINVAL;
	ret = io_uring_register_buffers_update_tag(&u->ring, slot, &iov, NULL, 1);
	if (ret < 0)
		return ret;
	u->bufs[slot] = iov;
	return 0;
}

int ufixed_add_file(struct ufixed *u, int fd)
{
	unsigned s;
	int ret;

	if (!u || !u->live)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	for (s = 0; s < UFIXED_MAX_FILES; s++)
		if (u->files[s] < 0)
			break;
	if (s == UFIXED_MAX_FILES)
		return -ENOSPC;
	ret = io_uring_register_files_update(&u->ring, s, &fd, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	u->files[s] = fd;
	return (int)s;
}

int ufixed_remove_file(struct ufixed *u, unsigned slot)
{
	int empty = -1;
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_FILES || u->files[slot] < 0)
		return -EINVAL;
	ret = io_uring_register_files_update(&u->ring, slot, &empty, 1);
	if (ret < 0)
		return ret;
	u->files[slot] = -1;
	return 0;
}

/*
 * TODO 6: the slot of the registered buffer that holds ALL of
 * [buf, buf + len), or -1. Why the whole range: a READ_FIXED that runs past
 * the end of its slot fails with -EFAULT (lesson, section 2).
 * Pitfalls the tests check: a range that starts inside a slot and ends
 * past it; empty slots; ranges near the top of the address space, where
 * an end address computed as a sum wraps around (so compare in a form
 * that cannot overflow). man 3 io_uring_prep_read_fixed.
 */
static int buffer_slot(const struct ufixed *u, const void *buf, size_t len)
{
	uintptr_t b = (uintptr_t)buf;

	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++) {
		uintptr_t base = (uintptr_t)u->bufs[s].iov_base;
		size_t size = u->bufs[s].iov_len;

		if (!base || b < base)
			continue;
		if (b - base >= size)
			continue;
		if (len > size - (b - base))
			continue;
		return (int)s;
	}
	return -1;
}

/*
 * TODO 7: the slot of the file table that holds fd, or -1. Whatever number
 * the caller's fd has, the table decides: a read on an fd found here names
 * the slot (TODO 8). Pitfall: what do empty slots hold, and what must a
 * request with fd -1 therefore never find? (lesson, section 5)
 */
static int file_slot(const struct ufixed *u, int fd)
{
	if (fd < 0)
		return -1;
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		if (u->files[s] == fd)
			return (int)s;
	return -1;
}

/*
 * TODO 8: prepare in sqe the read of what request i still lacks. The given
 * loop calls it for the first read and for every continuation, with q->res
 * holding the bytes read so far, and finds the request again by the SQE's
 * user data (the index i). What the rest of a request is, and why one SQE
 * asks for at most CHUNK_MAX bytes, is chapter 06's (its lesson, section 6).
 * New here, from ufixed.h (ufixed_read, "How each read is issued"): the
 * tables decide how each read goes out, through TODOs 6 and 7.
 * Pitfalls the tests check: the rest of a short read lies in the request's
 * registered buffer too, and must keep its slot; with a registered file
 * the SQE must not carry the caller's fd number (lesson, section 5); the
 * prep helpers overwrite fields you may have set before them.
 * man 3 io_uring_prep_read_fixed, man 3 io_uring_prep_read,
 * man 3 io_uring_sqe_set_flags, man 2 io_uring_enter (IOSQE_FIXED_FILE).
 */
static void prep_rest(const struct ufixed *u, struct io_uring_sqe *sqe, struct batch_req *q,
		      size_t i)
{
	size_t done = (size_t)q->res;
	size_t rest = q->len - done;
	unsigned chunk = rest > CHUNK_MAX ? CHUNK_MAX : (unsigned)rest;
	char *buf = (char *)q->buf + done;
	__u64 off = (__u64)q->offset + done;
	int bs = buffer_slot(u, q->buf, q->len);
	int fs = file_slot(u, q->fd);
	int fd = fs >= 0 ? fs : q->fd;

	if (bs >= 0)
		io_uring_prep_read_fixed(sqe, fd, buf, chunk, off, bs);
	else
		io_uring_prep_read(sqe, fd, buf, chunk, off);
	if (fs >= 0)
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	io_uring_sqe_set_data64(sqe, (__u64)i);
}

/*
 * ---------------------------------------------------------------------
 * Given: the batch machinery of chapter 06 (get_sqe, fill, wait_one,
 * wait_some, complete, reap, drain and the body of ufixed_read), copied
 * from the reference as it is, comments included; nothing to do here.
 * Chapter 06's lesson (chapters/06-uring-batching/README.md) explains it.
 * Every read it issues, first or continued, is prepared by prep_rest()
 * (TODO 8).
 *
 * You may paste your own chapter 06 loop instead. If you do, keep three
 * things of this one: every read goes through prep_rest(); an SQE is taken
 * with sqe_now(), which on an SQPOLL ring waits for the kernel thread to
 * free SQ room (io_uring_sqring_wait) instead of giving up; and drain()
 * counts the SQEs still queued as never seen by the kernel only without
 * SQPOLL (with SQPOLL the kernel thread takes them on its own, so their
 * reads will complete and must be waited for).
 * ---------------------------------------------------------------------
 */

/*
 * An SQE if one is free, without submitting. With SQPOLL the kernel thread
 * frees SQ slots as it takes SQEs, and it may post the CQEs of fast reads
 * before it moves the SQ head: an SQ that looks full with every read reaped
 * is only the thread lagging. Wait for it (io_uring_sqring_wait(3)) instead
 * of taking "no SQE" for "nothing will ever free one".
 */
static struct io_uring_sqe *sqe_now(struct run *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r->ring);
	int ret;

	if (sqe || !(r->u->flags & UFIXED_SQPOLL))
		return sqe;
	do
		ret = io_uring_sqring_wait(r->ring);
	while (ret == -EINTR);
	return ret < 0 ? NULL : io_uring_get_sqe(r->ring);
}

/*
 * An SQE, submitting what is queued first if the SQ is full. NULL if there
 * is still no room (the submit failed with -EAGAIN/-EBUSY); the caller then
 * stops queueing and the wait step retries the submit.
 */
static struct io_uring_sqe *get_sqe(struct run *r)
{
	struct io_uring_sqe *sqe = sqe_now(r);
	int ret;

	if (sqe)
		return sqe;
	do
		ret = io_uring_submit(r->ring);
	while (ret == -EINTR);
	if (ret <= 0)
		return NULL;
	return io_uring_get_sqe(r->ring);
}

/*
 * Start requests until the window is full or all are started. Requests that
 * need no I/O are finished here. Only io_uring_get_sqe(): the SQEs pile up
 * in the SQ for the one submit of the wait step (unless the SQ fills up).
 */
static void fill(struct run *r)
{
	while (r->next < r->n && r->inflight < r->window) {
		struct batch_req *q = &r->reqs[r->next];
		struct io_uring_sqe *sqe;

		if (q->offset < 0) {
			/* io_uring takes offset -1 as "the file position" and
			 * moves it; the batch contract wants neither. */
			q->res = -EINVAL;
			r->next++;
			continue;
		}
		if (q->len == 0) {
			q->res = 0;
			r->next++;
			continue;
		}
		sqe = get_sqe(r);
		if (!sqe)
			return;
		q->res = 0;
		prep_rest(r->u, sqe, q, r->next);
		r->next++;
		r->inflight++;
	}
}

/* Wait for one completion without submitting (the SQ may hold SQEs the
 * kernel would not take just now). */
static int wait_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	return ret; /* the CQE stays in the ring for reap() */
}

/*
 * One io_uring_enter: submit what is queued and wait for `want` completions,
 * for at most WAIT_PATIENCE_NS when want > 1. Returns what
 * io_uring_submit_and_wait* returns; a bounded wait that ran out of time is
 * not an error: 0.
 */
static int enter(struct run *r, unsigned want)
{
	struct __kernel_timespec patience = { .tv_sec = 0, .tv_nsec = WAIT_PATIENCE_NS };
	struct io_uring_cqe *cqe;
	int ret;

	if (want <= 1)
		return io_uring_submit_and_wait(r->ring, 1);
	ret = io_uring_submit_and_wait_timeout(r->ring, &cqe, want, &patience, NULL);
	if (ret == -ETIME)
		ret = 0; /* nothing submitted, time ran out: reap what is there */
	/* Fewer than `want` came (time ran out, or a signal): the reads are
	 * slow, wait for one at a time from now on. */
	if (ret >= 0 && io_uring_cq_ready(r->ring) < want)
		r->patient = false;
	return ret;
}

/*
 * Submit everything queued and wait for completions, in one io_uring_enter:
 * half the window's worth if the reads keep up (see WAIT_SHARE), else one.
 * Returns 0 (there may be CQEs to reap) or -errno when the batch cannot go
 * on.
 */
static int wait_some(struct run *r)
{
	for (;;) {
		unsigned want = r->patient ? r->window / WAIT_SHARE : 1;
		int ret;

		if (want > WAIT_MAX)
			want = WAIT_MAX;
		/* Never more than the reads in flight: waiting for a completion
		 * that cannot come would only end by the timeout. */
		if (want > r->inflight)
			want = r->inflight;
		ret = enter(r, want);
		if (ret >= 0) {
			/* ret = SQEs the kernel took. The wait may have been
			 * cut short by a signal after the submit: reap() then
			 * finds nothing and we come back here. */
			if (ret > 0)
				r->stuck = 0;
			return 0;
		}
		if (ret == -EINTR)
			continue; /* a signal came while waiting: wait again */
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;

		/* The kernel is short of resources (or of CQ room): it asks
		 * us to reap completions, then try again (io_uring_enter(2)). */
		if (++r->stuck > STUCK_MAX)
			return ret;
		if (io_uring_cq_ready(r->ring))
			return 0;
		/* Requests the kernel already has will complete: wait. */
		if (r->inflight > io_uring_sq_ready(r->ring))
			return wait_one(r->ring);
		/* Nothing in the kernel to wait for: just try again. */
	}
}

/*
 * Handle one CQE. Returns false if the request needs another read and no
 * SQE is free: the CQE is then left in the CQ for the next round, whose
 * submit makes room. (Submitting from here would be worse: the CQEs handled
 * in this pass are not yet off the CQ, so the CQ could overflow.)
 */
static bool complete(struct run *r, const struct io_uring_cqe *cqe)
{
	__u64 i = io_uring_cqe_get_data64(cqe);
	struct batch_req *q;
	struct io_uring_sqe *sqe;
	int res = cqe->res;
	bool again;

	if (i >= r->n)
		return true; /* not one of ours: cannot happen, but never index with it */
	q = &r->reqs[i];

	/* Go on after a short read (res > 0, still bytes to read) and after an
	 * interrupted one. res == 0 is end of file; other errors are final. */
	again = res == -EINTR || (res > 0 && (size_t)q->res + (size_t)res < q->len);
	if (again) {
		sqe = sqe_now(r);
		if (!sqe)
			return false;
		if (res > 0)
			q->res += res;
		prep_rest(r->u, sqe, q, (size_t)i);
		return true; /* still in flight: the window does not move */
	}

	if (res < 0)
		q->res = res;
	else
		q->res += res;
	r->inflight--;
	return true;
}

/*
 * Reap every CQE that is there in one pass, then tell the kernel once how
 * far we got (one store to the CQ head instead of one per CQE).
 */
static unsigned reap(struct run *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(r->ring, head, cqe) {
		if (!complete(r, cqe))
			break;
		seen++;
	}
	io_uring_cq_advance(r->ring, seen);
	return seen;
}

/*
 * After a fatal error: wait for the reads the kernel already has, so none
 * of them writes into the caller's buffers after we return. SQEs still in
 * the SQ were never seen by the kernel; ufixed_exit() discards them.
 */
static void drain(struct run *r)
{
	/* With SQPOLL the kernel thread takes queued SQEs on its own: every
	 * read in flight will complete. Otherwise the kernel never saw the
	 * ones still queued. */
	unsigned queued = r->u->flags & UFIXED_SQPOLL ? 0 : io_uring_sq_ready(r->ring);
	unsigned left = r->inflight > queued ? r->inflight - queued : 0;

	while (left > 0) {
		struct io_uring_cqe *cqe;

		if (wait_one(r->ring) < 0)
			return; /* cannot wait any more; ufixed_exit() cancels */
		while (left > 0 && io_uring_peek_cqe(r->ring, &cqe) == 0) {
			io_uring_cqe_seen(r->ring, cqe);
			left--;
		}
	}
}

int ufixed_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd)
{
	struct run r;
	int ret;

	if (!u || !u->live || qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	memset(&r, 0, sizeof(r));
	r.u = u;
	r.ring = &u->ring;
	r.reqs = reqs;
	r.n = n;
	/* Never more in flight than the CQ can hold: no overflow, ever. */
	r.window = qd < u->cq_entries ? qd : u->cq_entries;
	/* A bounded wait needs IORING_ENTER_EXT_ARG (Linux 5.11). */
	r.patient = (u->ring.features & IORING_FEAT_EXT_ARG) != 0;

	for (;;) {
		fill(&r);
		if (r.inflight == 0) {
			if (r.next == r.n)
				return 0;
			ret = -EBUSY; /* no SQE with nothing queued: a ring
			                 left dirty by an earlier failure */
			break;
		}
		ret = wait_some(&r);
		if (ret < 0)
			break;
		if (reap(&r) > 0)
			r.stuck = 0;
		else if (io_uring_cq_ready(r.ring) && ++r.stuck > STUCK_MAX) {
			ret = -EAGAIN; /* CQEs we cannot act on: no SQE ever */
			break;
		}
	}
	drain(&r);
	return ret;
}

void ufixed_exit(struct ufixed *u)
{
	if (!u || !u->live)
		return;
	io_uring_unregister_buffers(&u->ring);
	io_uring_unregister_files(&u->ring);
	io_uring_queue_exit(&u->ring);
	memset(u, 0, sizeof(*u));
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		u->files[s] = -1;
}

int ufixed_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ufixed u;
	unsigned entries;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	entries = qd;
	if (n < entries)
		entries = (unsigned)n;
	if (entries > UFIXED_MAX_ENTRIES)
		entries = UFIXED_MAX_ENTRIES;
	for (;;) {
		ret = ufixed_init(&u, entries, 0);
		if (ret == -ENOMEM && entries > 1) {
			entries /= 2;
			continue;
		}
		if (ret < 0)
			return ret;
		break;
	}
	ret = ufixed_read(&u, reqs, n, qd);
	ufixed_exit(&u);
	return ret;
}
