/*
 * ring_watch.h - chapter 06: watch a learner's io_uring through the seams.
 *
 * Hooks on every exported liburing function that may enter the kernel
 * (io_uring_submit*, __io_uring_get_cqe behind io_uring_wait_cqe*,
 * io_uring_wait_cqes, io_uring_get_events, io_uring_enter*). On each call
 * from the code under test, before the real function runs:
 *
 *   - count it, and fail the test at once past a limit (a watchdog: code
 *     that resubmits a read at end of file forever fails in milliseconds,
 *     with a message, instead of hanging until the time limit);
 *   - measure the requests in flight: SQEs taken from the ring so far minus
 *     CQEs consumed so far (sq.sqe_tail - *cq.khead, both counted from 0 on
 *     a fresh ring, each read making exactly one CQE), i.e. a read counts
 *     from io_uring_get_sqe until its CQE is reaped; keep the maximum;
 *   - notice a CQ overflow (IORING_SQ_CQ_OVERFLOW, or CQEs dropped);
 *   - cut the reads queued in the SQ (not yet seen by the kernel) to half
 *     their length, once per user_data: a short read in the middle of a
 *     regular file, which the kernel will not make on demand;
 *   - return an injected error (-EINTR, -EAGAIN, -EBUSY) once, instead of
 *     calling the real function (the kernel took nothing, as for real).
 *
 * Only liburing's exported functions are visible (its system calls are
 * inline): that is what the lesson's budget counts.
 *
 * Worth moving to harness/lib for chapters 07-09 (io_uring too).
 */
#ifndef RING_WATCH_H
#define RING_WATCH_H

#include "grade.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>

#define WATCH_MAX_SHRUNK 4096
#define WATCH_IOV_SLOTS 512
#define WATCH_IOV_MAX 8

struct ring_watch {
	long calls;            /* liburing calls that may enter the kernel       */
	long limit;            /* watchdog: fail the test past this many calls   */
	const char *limit_why; /* ... with this explanation                      */
	unsigned max_inflight; /* the most requests in flight seen at a call     */
	bool overflow;         /* a CQ overflow was seen                         */
	long inits, init_ok;   /* io_uring_queue_init* calls, successful ones    */
	long exits;            /* io_uring_queue_exit calls                      */
	/* fault injection */
	long inject_at;        /* the call (1, 2, ...) that fails instead; 0: no  */
	int inject_err;        /* what it returns (-EINTR, -EAGAIN, ...)         */
	bool injected;
	/* short reads */
	bool shrink;           /* cut queued reads in half, once per user_data   */
	unsigned shrunk;       /* reads cut so far                               */
	unsigned reads_seen;   /* read SQEs seen queued at a call                */
	__u64 shrunk_ids[WATCH_MAX_SHRUNK];
	struct iovec iov[WATCH_IOV_SLOTS][WATCH_IOV_MAX];
	unsigned iov_used;
};

static struct ring_watch watch;

static unsigned watch_inflight(const struct io_uring *ring)
{
	return ring->sq.sqe_tail - *ring->cq.khead;
}

static bool watch_was_shrunk(__u64 id)
{
	for (unsigned i = 0; i < watch.shrunk && i < WATCH_MAX_SHRUNK; i++)
		if (watch.shrunk_ids[i] == id)
			return true;
	return false;
}

/* Halve a READV's total length through a copy of its iovec array (the
 * learner's array is left alone). false if it cannot be done. */
static bool watch_shrink_readv(struct io_uring_sqe *sqe)
{
	const struct iovec *src = (const struct iovec *)(uintptr_t)sqe->addr;
	struct iovec *dst;
	size_t total = 0, keep;
	unsigned n = sqe->len, i;

	if (n == 0 || n > WATCH_IOV_MAX || watch.iov_used == WATCH_IOV_SLOTS || !src)
		return false;
	for (i = 0; i < n; i++)
		total += src[i].iov_len;
	if (total < 2)
		return false;
	keep = total / 2;
	dst = watch.iov[watch.iov_used++];
	for (i = 0; i < n && keep > 0; i++) {
		dst[i] = src[i];
		if (dst[i].iov_len > keep)
			dst[i].iov_len = keep;
		keep -= dst[i].iov_len;
	}
	sqe->addr = (__u64)(uintptr_t)dst;
	sqe->len = i;
	return true;
}

/* The SQEs queued but not yet handed to the kernel: sqe_head .. sqe_tail. */
static void watch_shrink_queued(struct io_uring *ring)
{
	for (unsigned h = ring->sq.sqe_head; h != ring->sq.sqe_tail; h++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[h & ring->sq.ring_mask];
		bool cut = false;

		if (sqe->opcode != IORING_OP_READ && sqe->opcode != IORING_OP_READ_FIXED &&
		    sqe->opcode != IORING_OP_READV)
			continue;
		watch.reads_seen++;
		if (!watch.shrink || watch.shrunk >= WATCH_MAX_SHRUNK ||
		    watch_was_shrunk(sqe->user_data))
			continue;
		if (sqe->opcode == IORING_OP_READV) {
			cut = watch_shrink_readv(sqe);
		} else if (sqe->len > 1) {
			sqe->len /= 2;
			cut = true;
		}
		if (cut)
			watch.shrunk_ids[watch.shrunk++] = sqe->user_data;
	}
}

static void watch_observe(const struct io_uring *ring)
{
	unsigned inflight = watch_inflight(ring);

	if (inflight > watch.max_inflight)
		watch.max_inflight = inflight;
	if (io_uring_cq_has_overflow(ring) || (ring->cq.koverflow && *ring->cq.koverflow))
		watch.overflow = true;
}

/* A call that may enter the kernel; true (with *err) to fail it instead. */
static bool watch_call(struct io_uring *ring, int *err)
{
	watch.calls++;
	if (watch.limit && watch.calls > watch.limit) {
		seam_disarm();
		grade_fail("your code called liburing %ld times in one call without finishing "
			   "(the test allows %ld): %s", watch.calls, watch.limit,
			   watch.limit_why ? watch.limit_why
					   : "it never stops: a request resubmitted forever, or "
					     "CQEs handled again and again?");
	}
	if (ring) {
		watch_observe(ring);
		watch_shrink_queued(ring);
	}
	if (!watch.injected && watch.inject_at == watch.calls) {
		watch.injected = true;
		*err = watch.inject_err;
		return true;
	}
	return false;
}

/* The hooks: observe, maybe inject, else the real call, then observe again. */
#define WATCH_RING_HOOK(name, params, args)                      \
	static int watch_##name params                            \
	{                                                         \
		int err, ret;                                     \
		if (watch_call(ring, &err))                       \
			return err;                               \
		ret = SEAM_REAL(name) args;                       \
		watch_observe(ring);                              \
		return ret;                                       \
	}
WATCH_RING_HOOK(io_uring_submit, (struct io_uring *ring), (ring))
WATCH_RING_HOOK(io_uring_submit_and_wait, (struct io_uring *ring, unsigned nr), (ring, nr))
WATCH_RING_HOOK(io_uring_submit_and_wait_timeout,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
		 struct __kernel_timespec *ts, sigset_t *sig), (ring, cqe, nr, ts, sig))
WATCH_RING_HOOK(__io_uring_get_cqe,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned submit,
		 unsigned nr, sigset_t *sig), (ring, cqe, submit, nr, sig))
WATCH_RING_HOOK(io_uring_wait_cqes,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
		 struct __kernel_timespec *ts, sigset_t *sig), (ring, cqe, nr, ts, sig))
WATCH_RING_HOOK(io_uring_wait_cqe_timeout,
		(struct io_uring *ring, struct io_uring_cqe **cqe, struct __kernel_timespec *ts),
		(ring, cqe, ts))
WATCH_RING_HOOK(io_uring_get_events, (struct io_uring *ring), (ring))
WATCH_RING_HOOK(io_uring_submit_and_get_events, (struct io_uring *ring), (ring))
#undef WATCH_RING_HOOK

static int watch_io_uring_enter(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
				sigset_t *sig)
{
	int err;

	if (watch_call(NULL, &err))
		return err;
	return SEAM_REAL(io_uring_enter)(fd, submit, complete, fl, sig);
}

static int watch_io_uring_enter2(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
				 sigset_t *sig, size_t sz)
{
	int err;

	if (watch_call(NULL, &err))
		return err;
	return SEAM_REAL(io_uring_enter2)(fd, submit, complete, fl, sig, sz);
}

static int watch_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned fl)
{
	int ret = SEAM_REAL(io_uring_queue_init)(entries, ring, fl);

	watch.inits++;
	watch.init_ok += ret == 0;
	return ret;
}

static int watch_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
					    struct io_uring_params *p)
{
	int ret = SEAM_REAL(io_uring_queue_init_params)(entries, ring, p);

	watch.inits++;
	watch.init_ok += ret == 0;
	return ret;
}

static void watch_io_uring_queue_exit(struct io_uring *ring)
{
	watch.exits++;
	SEAM_REAL(io_uring_queue_exit)(ring);
}

/* Install the hooks (the test process is the test's alone: they stay). */
static void watch_start(long limit, const char *why)
{
	memset(&watch, 0, sizeof(watch));
	watch.limit = limit;
	watch.limit_why = why;
	seam_hook_io_uring_submit = watch_io_uring_submit;
	seam_hook_io_uring_submit_and_wait = watch_io_uring_submit_and_wait;
	seam_hook_io_uring_submit_and_wait_timeout = watch_io_uring_submit_and_wait_timeout;
	seam_hook___io_uring_get_cqe = watch___io_uring_get_cqe;
	seam_hook_io_uring_wait_cqes = watch_io_uring_wait_cqes;
	seam_hook_io_uring_wait_cqe_timeout = watch_io_uring_wait_cqe_timeout;
	seam_hook_io_uring_get_events = watch_io_uring_get_events;
	seam_hook_io_uring_submit_and_get_events = watch_io_uring_submit_and_get_events;
	seam_hook_io_uring_enter = watch_io_uring_enter;
	seam_hook_io_uring_enter2 = watch_io_uring_enter2;
	seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
	seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
	seam_hook_io_uring_queue_exit = watch_io_uring_queue_exit;
}

/* Start counting afresh (between two calls of one test). */
static void watch_reset_counts(void)
{
	watch.calls = 0;
	watch.max_inflight = 0;
	watch.overflow = false;
	watch.inits = watch.init_ok = watch.exits = 0;
	watch.inject_at = 0;
	watch.injected = false;
}

#endif /* RING_WATCH_H */
