/*
 * uring_hooks.h - chapter 05's seam hooks on liburing's exported functions.
 *
 * liburing makes its system calls inline, so the only places where the
 * harness can watch a submission are the exported submit functions. The
 * hooks below run in place of io_uring_submit, io_uring_submit_and_wait,
 * io_uring_submit_and_wait_timeout and io_uring_submit_and_get_events (for
 * calls from the code under test only) and, before handing the SQEs to the
 * kernel:
 *   - count the calls and the SQEs, and the requests in flight (submitted
 *     and not yet reaped, from the ring's own indices);
 *   - may shorten READ/WRITE SQEs (clamp): a short transfer on an ordinary
 *     file, as a signal or a network filesystem would cause;
 *   - may turn a READ/WRITE SQE into a NOP that completes with a chosen res
 *     (IORING_NOP_INJECT_RESULT): -EAGAIN, -EINTR, -EIO, 0 in cqe->res on
 *     demand, with the request's user_data kept;
 *   - stop code that submits without end (a read loop that never sees end
 *     of file) once a budget is spent, so that it fails with a message
 *     instead of a time-out.
 * The pending SQEs are the ones liburing has handed out and not yet flushed:
 * sq.sqe_head .. sq.sqe_tail (liburing 2.3 and later).
 *
 * The probe and setup hooks doctor what the kernel says (clear a feature
 * bit, take an opcode away, no probe at all, setup failing), to tell code
 * that asks the kernel from code that guesses.
 *
 * Header-only, included once by tests.c.
 */
#ifndef URING_HOOKS_H
#define URING_HOOKS_H

#include "grade.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <string.h>

/* liburing 2.3's headers predate it; the kernel's value (io_uring.h). */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif

/* Submissions one call may make before the hooks refuse the rest. */
#define SUBMIT_BUDGET 20000

enum { OPS_READ = 1, OPS_WRITE = 2 };

struct uring_watch {
	/* settings, by the test */
	unsigned clamp;        /* > 0: READ/WRITE SQEs asking more are cut to this */
	int inject_ops;        /* OPS_READ | OPS_WRITE: which SQEs injection takes */
	int inject_left;       /* how many of them become NOPs ... */
	int inject_res;        /* ... completing with this res */
	/* observations */
	long submits;          /* submit calls */
	long sqes;             /* SQEs handed over */
	long rw_sqes;          /* of which READ or WRITE */
	int other_opcode;      /* last opcode seen that is not READ, WRITE, POLL_ADD, NOP (-1: none) */
	unsigned max_pending;  /* most SQEs in one submit call */
	unsigned max_in_flight;/* most requests submitted and not reaped */
	bool budget_blown;
};

static struct uring_watch uw = { .other_opcode = -1 };

static bool is_rw(const struct io_uring_sqe *sqe, int ops)
{
	return ((ops & OPS_READ) && sqe->opcode == IORING_OP_READ) ||
	       ((ops & OPS_WRITE) && sqe->opcode == IORING_OP_WRITE);
}

static void tamper_sqe(struct io_uring_sqe *sqe)
{
	if (is_rw(sqe, OPS_READ | OPS_WRITE))
		uw.rw_sqes++;
	else if (sqe->opcode != IORING_OP_POLL_ADD && sqe->opcode != IORING_OP_NOP)
		uw.other_opcode = sqe->opcode;
	if (uw.inject_left > 0 && is_rw(sqe, uw.inject_ops)) {
		__u64 user_data = sqe->user_data;

		uw.inject_left--;
		io_uring_prep_nop(sqe);
		sqe->rw_flags = IORING_NOP_INJECT_RESULT;
		sqe->len = (unsigned)uw.inject_res;
		sqe->user_data = user_data;
		return;
	}
	if (uw.clamp && is_rw(sqe, OPS_READ | OPS_WRITE) && sqe->len > uw.clamp)
		sqe->len = uw.clamp;
}

/* Look at (and maybe change) what is about to be submitted. False: the
 * budget is spent, refuse the call. */
static bool watch_submit(struct io_uring *ring)
{
	unsigned pending = ring->sq.sqe_tail - ring->sq.sqe_head;
	unsigned in_flight = *ring->sq.ktail + pending - *ring->cq.khead;

	if (++uw.submits > SUBMIT_BUDGET) {
		uw.budget_blown = true;
		return false;
	}
	uw.sqes += pending;
	if (pending > uw.max_pending)
		uw.max_pending = pending;
	if (in_flight > uw.max_in_flight)
		uw.max_in_flight = in_flight;
	for (unsigned i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++)
		tamper_sqe(&ring->sq.sqes[i & ring->sq.ring_mask]);
	return true;
}

static int hook_submit(struct io_uring *ring)
{
	return watch_submit(ring) ? SEAM_REAL(io_uring_submit)(ring) : -ECANCELED;
}

static int hook_submit_and_wait(struct io_uring *ring, unsigned nr)
{
	return watch_submit(ring) ? SEAM_REAL(io_uring_submit_and_wait)(ring, nr) : -ECANCELED;
}

static int hook_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
					unsigned nr, struct __kernel_timespec *ts, sigset_t *sig)
{
	return watch_submit(ring)
		? SEAM_REAL(io_uring_submit_and_wait_timeout)(ring, cqe, nr, ts, sig)
		: -ECANCELED;
}

static int hook_submit_and_get_events(struct io_uring *ring)
{
	return watch_submit(ring) ? SEAM_REAL(io_uring_submit_and_get_events)(ring) : -ECANCELED;
}

/* --- doctoring what the kernel says ------------------------------------ */

struct doctor {
	unsigned clear_features;  /* IORING_FEAT_* bits to hide             */
	int clear_ops[4];         /* opcodes to mark unsupported (0 = end;  */
	                          /* IORING_OP_NOP is never taken away)     */
	bool no_probe;            /* the probe fails (NULL)                 */
	int setup_error;          /* < 0: ring setup fails with it          */
	long probes;              /* probes handed to the code under test   */
};

static struct doctor doc;

static struct io_uring_probe *doctor_probe(struct io_uring_probe *p)
{
	if (!p)
		return NULL;
	if (doc.no_probe) {
		SEAM_REAL(io_uring_free_probe)(p);
		return NULL;
	}
	for (int i = 0; i < 4 && doc.clear_ops[i]; i++)
		if (doc.clear_ops[i] <= p->last_op)
			p->ops[doc.clear_ops[i]].flags &= ~IO_URING_OP_SUPPORTED;
	doc.probes++;
	return p;
}

static struct io_uring_probe *hook_get_probe_ring(struct io_uring *ring)
{
	return doctor_probe(SEAM_REAL(io_uring_get_probe_ring)(ring));
}

static struct io_uring_probe *hook_get_probe(void)
{
	return doctor_probe(SEAM_REAL(io_uring_get_probe)());
}

static int hook_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	int ret;

	if (doc.setup_error)
		return doc.setup_error;
	ret = SEAM_REAL(io_uring_queue_init)(entries, ring, flags);
	if (ret == 0)
		ring->features &= ~doc.clear_features;
	return ret;
}

static int hook_queue_init_params(unsigned entries, struct io_uring *ring,
				  struct io_uring_params *p)
{
	int ret;

	if (doc.setup_error)
		return doc.setup_error;
	ret = SEAM_REAL(io_uring_queue_init_params)(entries, ring, p);
	if (ret == 0) {
		ring->features &= ~doc.clear_features;
		p->features &= ~doc.clear_features;
	}
	return ret;
}

/* The hooks stay in place for the whole test (they pass everything through
 * unchanged when nothing is doctored), so that the probes handed out are
 * counted: each must come back through io_uring_free_probe. */
static void watch_kernel(void)
{
	seam_hook_io_uring_get_probe_ring = hook_get_probe_ring;
	seam_hook_io_uring_get_probe = hook_get_probe;
	seam_hook_io_uring_queue_init = hook_queue_init;
	seam_hook_io_uring_queue_init_params = hook_queue_init_params;
}

static void doctor_kernel(struct doctor d)
{
	d.probes = doc.probes;
	doc = d;
}

static void undoctor_kernel(void)
{
	doc = (struct doctor){ .probes = doc.probes };
}

/* --- every test ------------------------------------------------------- */

/* Every test starts with all the hooks in place: they act only on calls from
 * the code under test, and pass everything through unchanged until the test
 * asks for a change (uw, doctor_kernel). */
static void watch_submissions(void)
{
	watch_kernel();
	seam_hook_io_uring_submit = hook_submit;
	seam_hook_io_uring_submit_and_wait = hook_submit_and_wait;
	seam_hook_io_uring_submit_and_wait_timeout = hook_submit_and_wait_timeout;
	seam_hook_io_uring_submit_and_get_events = hook_submit_and_get_events;
}

static void watch_reset(void)
{
	uw = (struct uring_watch){ .other_opcode = -1 };
}

/* Skip unless this kernel's NOP can inject a result (a recent addition). */
static void require_nop_inject(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int res = 0;

	grade_check(SEAM_REAL(io_uring_queue_init)(2, &ring, 0) == 0,
		    "harness: cannot set up a 2-entry ring");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->rw_flags = IORING_NOP_INJECT_RESULT;
	sqe->len = (unsigned)-EAGAIN;
	if (SEAM_REAL(io_uring_submit_and_wait)(&ring, 1) == 1 &&
	    io_uring_wait_cqe(&ring, &cqe) == 0) {
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	SEAM_REAL(io_uring_queue_exit)(&ring);
	if (res != -EAGAIN)
		grade_skip("nop_inject", "this kernel's IORING_OP_NOP cannot inject a result "
			   "(IORING_NOP_INJECT_RESULT), which this test uses to put -EAGAIN, "
			   "-EINTR, -EIO or 0 into cqe->res",
			   "nothing to fix in your code; a newer kernel runs this test");
}

#endif /* URING_HOOKS_H */
