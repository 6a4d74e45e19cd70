/*
 * ubatch.c - chapter 06 reference: a batch of reads through one io_uring,
 * with a queue-depth window, many SQEs per submit and many CQEs per reap.
 *
 * The shape of one ubatch_read() call:
 *
 *     for (;;) {
 *         fill:  start requests until the window is full (SQEs only, no
 *                system call unless the SQ itself fills up)
 *         wait:  one io_uring_enter that submits everything queued and
 *                waits for completions: half a window's worth (at most
 *                16) for at most a millisecond, else one (see wait_some)
 *         reap:  every CQE that is there, in one pass, one CQ advance
 *     }
 *
 * While a request is running, reqs[i].res holds the bytes it has read so
 * far; that is all the state a request needs, so the call allocates nothing.
 * user_data carries the request's index: completions come back in any order.
 */
#define _GNU_SOURCE
#include "ubatch.h"

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

/*
 * How many rounds in a row may end in -EAGAIN/-EBUSY with no progress at
 * all (nothing submitted, nothing reaped) before we give up. The kernel
 * says -EAGAIN when it cannot allocate a request; it is worth a few tries.
 */
#define STUCK_MAX 8

/*
 * The wait policy (wait_some). Waiting for one completion per
 * io_uring_enter refills the window soonest, but costs an enter for every
 * two or three reads at depth 32; waiting for half the window costs one
 * enter per half window while the device still has the other half to work
 * on. At most WAIT_MAX, though: at depth 128, waiting for 64 left the
 * device short and lost about a tenth of the IOPS against waiting for one
 * (lesson, section 5, measured); 16 did not.
 *
 * The wait is bounded: a read that may never complete by itself (a pipe,
 * a socket) must not hold up the others' results. If the completions have
 * not come within WAIT_PATIENCE_NS, the device (or one of the reads) is
 * slow: for the rest of the call we wait for one completion at a time.
 */
#define WAIT_SHARE 2
#define WAIT_MAX 16
#define WAIT_PATIENCE_NS 1000000

/* The state of one ubatch_read() call. */
struct run {
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n;
	size_t next;       /* first request not yet started                    */
	unsigned inflight; /* started, not finished: queued, in kernel or CQE  */
	unsigned window;   /* most requests in flight: min(qd, CQ size)        */
	unsigned stuck;    /* rounds in a row without progress (see STUCK_MAX) */
	bool patient;      /* wait for window / WAIT_SHARE completions, bounded */
};

int ubatch_init(struct ubatch *b, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	if (!b)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	if (entries == 0)
		return -EINVAL;

	/*
	 * Default CQ size: twice the SQ (io_uring_setup(2)). We never let more
	 * requests be in flight than the CQ holds, so it cannot overflow even
	 * on a kernel without IORING_FEAT_NODROP (before 5.5), where an
	 * overflowing CQE would be lost, not kept.
	 */
	memset(&p, 0, sizeof(p));
	/*
	 * Only this thread submits (SINGLE_ISSUER), and completions are posted
	 * when it asks for them in io_uring_enter (DEFER_TASKRUN, Linux 6.1),
	 * not by interrupting it as each read completes: fewer wake-ups and a
	 * cheaper kernel side (lesson, section 8). The price: the ring belongs
	 * to the thread that set it up. A kernel that does not know the flags
	 * says -EINVAL; then the ring is set up without them.
	 */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(entries, &b->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &b->ring, &p);
	}
	if (ret < 0)
		return ret; /* already -errno: do not look at errno */

	b->sq_entries = p.sq_entries;
	b->cq_entries = p.cq_entries;
	b->live = 1;
	return 0;
}

void ubatch_exit(struct ubatch *b)
{
	if (!b || !b->live)
		return;
	io_uring_queue_exit(&b->ring);
	b->live = 0;
}

/*
 * An SQE, submitting what is queued first if the SQ is full. NULL if there
 * is still no room (the submit failed with -EAGAIN/-EBUSY); the caller then
 * stops queueing and the wait step retries the submit.
 */
static struct io_uring_sqe *get_sqe(struct run *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r->ring);
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

/* Prepare the read of what request i still lacks: len - done bytes. */
static void prep_rest(struct io_uring_sqe *sqe, struct batch_req *q, size_t i)
{
	size_t done = (size_t)q->res;
	size_t left = q->len - done;
	unsigned chunk = left > CHUNK_MAX ? CHUNK_MAX : (unsigned)left;
	/* Pointer arithmetic on a NULL buf (done == 0) would be undefined. */
	void *dst = done ? (char *)q->buf + done : q->buf;

	/* Unsigned sum: offset >= 0 here, and offset + done <= file size. */
	io_uring_prep_read(sqe, q->fd, dst, chunk, (__u64)q->offset + done);
	io_uring_sqe_set_data64(sqe, (__u64)i);
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
		prep_rest(sqe, q, r->next);
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
 * One io_uring_enter: submit what is queued and wait for `want` completions
 * (all of them reads the kernel has once the submit is done), for at most
 * WAIT_PATIENCE_NS when want > 1. Returns what io_uring_submit_and_wait*
 * returns; a bounded wait that ran out of time is not an error: 0.
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
	/* Fewer than `want` (time ran out, or a signal): the reads are slow,
	 * wait for one at a time from now on. */
	if (ret >= 0 && io_uring_cq_ready(r->ring) < want)
		r->patient = false;
	return ret;
}

/*
 * Submit everything queued and wait for completions, in one io_uring_enter:
 * half the window's worth if the reads keep up (see WAIT_SHARE), else one.
 * Returns 0 (there may be CQEs to reap) or -errno when the batch cannot go on.
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
		sqe = io_uring_get_sqe(r->ring);
		if (!sqe)
			return false;
		if (res > 0)
			q->res += res;
		prep_rest(sqe, q, (size_t)i);
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
 * the SQ were never seen by the kernel; ubatch_exit() discards them.
 */
static void drain(struct run *r)
{
	unsigned queued = io_uring_sq_ready(r->ring);
	unsigned left = r->inflight > queued ? r->inflight - queued : 0;

	while (left > 0) {
		struct io_uring_cqe *cqe;

		if (wait_one(r->ring) < 0)
			return; /* cannot wait any more; ubatch_exit() cancels */
		while (left > 0 && io_uring_peek_cqe(r->ring, &cqe) == 0) {
			io_uring_cqe_seen(r->ring, cqe);
			left--;
		}
	}
}

int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	struct run r;
	int ret;

	if (!b || !b->live || qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	memset(&r, 0, sizeof(r));
	r.ring = &b->ring;
	r.reqs = reqs;
	r.n = n;
	/* Never more in flight than the CQ can hold: no overflow, ever. */
	r.window = qd < b->cq_entries ? qd : b->cq_entries;
	/* The bounded wait is one io_uring_enter with IORING_ENTER_EXT_ARG
	 * (Linux 5.11). Without it liburing would queue a timeout request of
	 * its own: a CQE the window does not count. Then wait for one. */
	r.patient = false;

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

/* Ring size for one batch: the window needs no more, the batch no more than n. */
static unsigned ring_size_for(size_t n, unsigned qd)
{
	size_t want = qd < n ? qd : n;

	return want > UBATCH_MAX_ENTRIES ? UBATCH_MAX_ENTRIES : (unsigned)want;
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ubatch b;
	unsigned entries;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	/* Ring memory is charged to RLIMIT_MEMLOCK: if the wanted size does
	 * not fit, a smaller ring still works (the window shrinks with it). */
	entries = ring_size_for(n, qd);
	for (;;) {
		ret = ubatch_init(&b, entries);
		if (ret != -ENOMEM || entries == 1)
			break;
		entries /= 2;
	}
	if (ret < 0)
		return ret;

	ret = ubatch_read(&b, reqs, n, qd);
	ubatch_exit(&b);
	return ret;
}
