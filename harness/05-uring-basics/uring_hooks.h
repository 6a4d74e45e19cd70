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
 *     demand, with the request's user_data kept, after letting a number of
 *     them through first (an error after partial progress);
 *   - may complete READ/WRITE SQEs at explicit offsets below a bound as NOPs
 *     that report the bytes asked (up to the bound) without moving any data:
 *     lengths and totals beyond 4 GiB cost microseconds, and only the bytes
 *     from the bound on are really read or written (a faked write leaves the
 *     file as long as the real one would have, a hole where its bytes were);
 *   - watch the IORING_OP_POLL_ADD requests: how many, for which events, and
 *     whether each retry after an injected -EAGAIN waited for one first; and
 *     may complete them with a chosen res (-EINTR, an error) instead;
 *   - may make the submit call itself fail (-EAGAIN, -EBUSY, -EINTR, -ENXIO)
 *     without submitting anything, as io_uring_enter(2) does when the kernel
 *     is short of memory or a signal arrives first, also only after letting a
 *     number of submit calls through;
 *   - may make io_uring_submit_and_wait only submit (as when a signal cuts
 *     its wait short) and the wait for a CQE that is not there yet fail;
 *   - call a test's function for each READ/WRITE SQE (to act at a chosen
 *     point of a copy);
 *   - stop code that submits without end (a read loop that never sees end
 *     of file) once a budget is spent, so that it fails with a message
 *     instead of a time-out.
 * The pending SQEs are the ones liburing has handed out and not yet flushed:
 * sq.sqe_head .. sq.sqe_tail (liburing 2.3 and later).
 *
 * io_uring_enter and io_uring_enter2 called by the module itself are
 * refused: SQEs it publishes by hand would reach the kernel unseen.
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
#include "nop_inject.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Submissions one call may make before the hooks refuse the rest. */
#define SUBMIT_BUDGET 20000

enum { OPS_READ = 1, OPS_WRITE = 2 };

struct uring_watch {
	/* settings, by the test */
	unsigned clamp;        /* > 0: READ/WRITE SQEs asking more are cut to this */
	int inject_ops;        /* OPS_READ | OPS_WRITE: which SQEs injection takes */
	int inject_left;       /* how many of them become NOPs ... */
	int inject_res;        /* ... completing with this res */
	int inject_skip;       /* matching SQEs let through before injection starts */
	const void *inject_at; /* non-NULL: only the SQEs whose buffer starts here match
				* (a piece of one request, whatever the order) */
	__u64 fake_below;      /* > 0: READ/WRITE at explicit offsets below this are
				* NOPs reporting min(len, fake_below - off) bytes
				* (a WRITE still extends the file that far) */
	int submit_error;      /* < 0: submit calls fail with this, submitting nothing ... */
	int submit_error_left; /* ... this many times (-1: every time) ... */
	int submit_error_skip; /* ... after letting this many submit calls through */
	bool submit_no_wait;   /* io_uring_submit_and_wait only submits (as when a
				* signal cuts its wait short) ... */
	int wait_error;        /* ... and < 0: waiting for a CQE that is not there yet
				* fails with this (__io_uring_get_cqe, wait_cqes) ... */
	int wait_error_left;   /* ... this many times, then the waits work again
				* (0: every time) ... */
	void (*after_wait_errors)(void); /* ... and this is called as the last of
				* them is returned (to let the request complete) */
	void (*on_rw)(const struct io_uring_sqe *sqe); /* called for each READ/WRITE SQE */
	int poll_inject_left;  /* POLL_ADD SQEs that become NOPs (-1: every one) ... */
	int poll_inject_res;   /* ... completing with this res */
	/* observations */
	long submits;          /* submit calls */
	long sqes;             /* SQEs handed over */
	long rw_sqes;          /* of which READ or WRITE */
	int other_opcode;      /* last opcode seen that is not READ, WRITE, POLL_ADD, NOP (-1: none) */
	unsigned max_pending;  /* most SQEs in one submit call */
	unsigned max_in_flight;/* most requests submitted and not reaped */
	bool budget_blown;
	long faked;            /* SQEs completed by fake_below */
	long injected;         /* SQEs turned into injected results */
	long polls;            /* IORING_OP_POLL_ADD SQEs */
	unsigned poll_events;  /* their events, or'ed */
	bool eagain_pending;   /* an -EAGAIN was injected, no poll seen since */
	long unpaced;          /* READ/WRITE submitted right after an -EAGAIN, no poll between */
};

static struct uring_watch uw = { .other_opcode = -1 };

static bool is_rw(const struct io_uring_sqe *sqe, int ops)
{
	return ((ops & OPS_READ) && sqe->opcode == IORING_OP_READ) ||
	       ((ops & OPS_WRITE) && sqe->opcode == IORING_OP_WRITE);
}

/* Make sqe a NOP that completes with res, keeping its user_data. */
static void nop_with_result(struct io_uring_sqe *sqe, int res)
{
	__u64 user_data = sqe->user_data;

	io_uring_prep_nop(sqe);
	sqe->rw_flags = IORING_NOP_INJECT_RESULT;
	sqe->len = (unsigned)res;
	sqe->user_data = user_data;
}

/* A write completed without moving data still leaves the file as long as
 * the real write would have (a hole where its bytes were): the file's size
 * is what the code under test wrote, whatever way it opened the file
 * (O_APPEND writes land at the end of the file, not at sqe->off). */
static void fake_write_extends(int fd, __u64 end)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (__u64)st.st_size < end)
		(void)ftruncate(fd, (off_t)end);
}

static void tamper_sqe(struct io_uring_sqe *sqe)
{
	bool rw = is_rw(sqe, OPS_READ | OPS_WRITE);

	if (rw) {
		uw.rw_sqes++;
		if (uw.on_rw)
			uw.on_rw(sqe);
	} else if (sqe->opcode == IORING_OP_POLL_ADD) {
		uw.polls++;
		uw.poll_events |= sqe->poll32_events;
		uw.eagain_pending = false;
		if (uw.poll_inject_left != 0) {
			if (uw.poll_inject_left > 0)
				uw.poll_inject_left--;
			nop_with_result(sqe, uw.poll_inject_res);
			return;
		}
	} else if (sqe->opcode != IORING_OP_NOP)
		uw.other_opcode = sqe->opcode;
	if (rw && uw.eagain_pending) {
		uw.unpaced++;
		uw.eagain_pending = false;
	}
	if (uw.inject_left > 0 && is_rw(sqe, uw.inject_ops) &&
	    (!uw.inject_at || sqe->addr == (__u64)(uintptr_t)uw.inject_at)) {
		if (uw.inject_skip > 0) {
			uw.inject_skip--;
		} else {
			uw.inject_left--;
			uw.injected++;
			if (uw.inject_res == -EAGAIN)
				uw.eagain_pending = true;
			nop_with_result(sqe, uw.inject_res);
			return;
		}
	}
	if (uw.clamp && rw && sqe->len > uw.clamp)
		sqe->len = uw.clamp;
	if (uw.fake_below && rw && sqe->off != (__u64)-1 && sqe->off < uw.fake_below) {
		__u64 room = uw.fake_below - sqe->off;
		__u64 res = sqe->len < room ? sqe->len : room;

		/* The kernel moves at most MAX_RW_COUNT (2 GiB - 4 KiB) at once. */
		if (res > 0x7ffff000u)
			res = 0x7ffff000u;
		uw.faked++;
		if (sqe->opcode == IORING_OP_WRITE)
			fake_write_extends(sqe->fd, sqe->off + res);
		nop_with_result(sqe, (int)res);
	}
}

/* Look at (and maybe change) what is about to be submitted. False: refuse
 * the call, submitting nothing (the budget is spent, or a submit error is
 * asked for: submit_result() says which). */
static bool watch_submit(struct io_uring *ring)
{
	unsigned pending = ring->sq.sqe_tail - ring->sq.sqe_head;
	unsigned in_flight = *ring->sq.ktail + pending - *ring->cq.khead;

	if (++uw.submits > SUBMIT_BUDGET) {
		uw.budget_blown = true;
		return false;
	}
	if (uw.submit_error && uw.submit_error_left != 0) {
		if (uw.submit_error_skip > 0) {
			uw.submit_error_skip--;
		} else {
			if (uw.submit_error_left > 0)
				uw.submit_error_left--;
			return false;
		}
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

/* What a refused submit call returns. */
static int refused(void)
{
	return uw.budget_blown ? -ECANCELED : uw.submit_error;
}

static int hook_submit(struct io_uring *ring)
{
	return watch_submit(ring) ? SEAM_REAL(io_uring_submit)(ring) : refused();
}

static int hook_submit_and_wait(struct io_uring *ring, unsigned nr)
{
	if (!watch_submit(ring))
		return refused();
	return uw.submit_no_wait ? SEAM_REAL(io_uring_submit)(ring)
				 : SEAM_REAL(io_uring_submit_and_wait)(ring, nr);
}

/* The error a wait for nr CQEs on ring is to fail with, or 0: let it wait.
 * Only a wait that would go to the kernel fails: liburing looks at the CQ
 * first and returns at once when nr CQEs are there already, so no signal can
 * cut such a wait short. Counts the failures when only wait_error_left of
 * them were asked for. */
static int wait_fault(struct io_uring *ring, unsigned nr)
{
	int err = uw.wait_error;

	if (err && io_uring_cq_ready(ring) >= (nr ? nr : 1))
		return 0;
	if (err && uw.wait_error_left > 0 && --uw.wait_error_left == 0) {
		uw.wait_error = 0;
		if (uw.after_wait_errors)
			uw.after_wait_errors();
	}
	return err;
}

/* The waits liburing makes when no CQE is ready yet (io_uring_wait_cqe and
 * io_uring_wait_cqe_nr are inline and end in __io_uring_get_cqe). A call that
 * waits for nothing (nr 0: io_uring_peek_cqe finding the CQ empty) is a
 * look, not a wait: it goes through as it is. */
static int hook_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned submit,
			unsigned nr, sigset_t *sig)
{
	int err = nr ? wait_fault(ring, nr) : 0;

	return err ? err : SEAM_REAL(__io_uring_get_cqe)(ring, cqe, submit, nr, sig);
}

static int hook_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
			  struct __kernel_timespec *ts, sigset_t *sig)
{
	int err = nr ? wait_fault(ring, nr) : 0;

	return err ? err : SEAM_REAL(io_uring_wait_cqes)(ring, cqe, nr, ts, sig);
}

static int hook_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
				 struct __kernel_timespec *ts)
{
	int err = wait_fault(ring, 1);

	return err ? err : SEAM_REAL(io_uring_wait_cqe_timeout)(ring, cqe, ts);
}

static int hook_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
					unsigned nr, struct __kernel_timespec *ts, sigset_t *sig)
{
	if (!watch_submit(ring))
		return refused();
	if (uw.submit_no_wait) {
		int ret = SEAM_REAL(io_uring_submit)(ring), err;

		return ret < 0 || !(err = wait_fault(ring, nr)) ? ret : err;
	}
	return SEAM_REAL(io_uring_submit_and_wait_timeout)(ring, cqe, nr, ts, sig);
}

static int hook_submit_and_get_events(struct io_uring *ring)
{
	return watch_submit(ring) ? SEAM_REAL(io_uring_submit_and_get_events)(ring) : refused();
}

/* io_uring_enter(2) called by the module itself: SQEs published by hand
 * would reach the kernel where no hook above sees them (no count, no short
 * transfer, no injected result). The contract says how to submit. */
static const char *const ENTER_RULE =
	"your code called io_uring_enter() itself, which this exercise does not allow: "
	"uring_basics.h, \"Submit with io_uring_submit(3) or io_uring_submit_and_wait(3) "
	"(one call per request). The grader counts those calls\"; wait with "
	"io_uring_wait_cqe(3)";

static int hook_enter(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
		      sigset_t *sig)
{
	(void)fd, (void)submit, (void)complete, (void)fl, (void)sig;
	seam_violate("%s", ENTER_RULE);
	return -EPERM;
}

static int hook_enter2(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
		       sigset_t *sig, size_t sz)
{
	(void)sz;
	return hook_enter(fd, submit, complete, fl, sig);
}

/* --- doctoring what the kernel says ------------------------------------ */

struct doctor {
	unsigned clear_features;  /* IORING_FEAT_* bits to hide             */
	int clear_ops[4];         /* opcodes to mark unsupported (0 = end;  */
	                          /* IORING_OP_NOP is never taken away)     */
	bool no_probe;            /* the probe fails (NULL)                 */
	int setup_error;          /* < 0: ring setup fails with it          */
	unsigned cq_size;         /* > 0: io_uring_queue_init_params gives  */
	                          /* the ring a CQ of this size (CQSIZE)    */
	unsigned max_entries;     /* > 0: setup of a larger ring fails with */
	                          /* -ENOMEM (RLIMIT_MEMLOCK too small)     */
	unsigned most_entries;    /* the largest ring asked for since       */
	                          /* doctor_kernel                          */
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

/* A probe handed back is cleared before it is freed: nothing supported, no
 * opcode known. Code that still reads it after io_uring_free_probe (a use
 * after free that the allocator would otherwise hide, its bytes mostly
 * intact) then finds READ and WRITE unsupported, instead of passing by
 * luck. */
static void hook_free_probe(struct io_uring_probe *p)
{
	if (p) {
		for (unsigned i = 0; i < p->ops_len; i++)
			p->ops[i].flags = 0;
		p->last_op = 0;
	}
	SEAM_REAL(io_uring_free_probe)(p);
}

/* The error ring setup is to fail with, or 0. */
static int setup_fault(unsigned entries)
{
	if (entries > doc.most_entries)
		doc.most_entries = entries;
	if (doc.setup_error)
		return doc.setup_error;
	return doc.max_entries && entries > doc.max_entries ? -ENOMEM : 0;
}

static int hook_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	int ret = setup_fault(entries);

	if (ret)
		return ret;
	ret = SEAM_REAL(io_uring_queue_init)(entries, ring, flags);
	if (ret == 0)
		ring->features &= ~doc.clear_features;
	return ret;
}

static int hook_queue_init_params(unsigned entries, struct io_uring *ring,
				  struct io_uring_params *p)
{
	int ret = setup_fault(entries);

	if (ret)
		return ret;
	if (doc.cq_size) {
		/* A kernel that sizes the CQ otherwise than twice the SQ. */
		p->flags |= IORING_SETUP_CQSIZE;
		p->cq_entries = doc.cq_size;
	}
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
	seam_hook_io_uring_free_probe = hook_free_probe;
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
	seam_hook___io_uring_get_cqe = hook_get_cqe;
	seam_hook_io_uring_wait_cqes = hook_wait_cqes;
	seam_hook_io_uring_wait_cqe_timeout = hook_wait_cqe_timeout;
	seam_hook_io_uring_enter = hook_enter;
	seam_hook_io_uring_enter2 = hook_enter2;
}

static void watch_reset(void)
{
	uw = (struct uring_watch){ .other_opcode = -1 };
}

/* Skip unless this kernel's NOP can inject a result (a recent addition). */
static void require_nop_inject(void)
{
	int works = nop_inject_probe();

	grade_check(works >= 0, "harness: cannot set up a 2-entry ring");
	if (!works)
		grade_skip("nop_inject", "this kernel's IORING_OP_NOP cannot inject a result "
			   "(IORING_NOP_INJECT_RESULT), which this test uses to put -EAGAIN, "
			   "-EINTR, -EIO or 0 into cqe->res",
			   "nothing to fix in your code; a newer kernel runs this test");
}

#endif /* URING_HOOKS_H */
