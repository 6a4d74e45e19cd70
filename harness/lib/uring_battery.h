/*
 * uring_battery.h - the batch battery's watch (batch_battery.h) for an
 * io_uring chapter's shared-shape batch read: chapters 06
 * (ubatch_batch_read) and 08 (ufixed_batch_read), seen through the ring
 * watch (ring_watch.h) and the link seams.
 *
 * Around every batch of the battery it proves the mechanism, so that each
 * of its tests also fails a module that reads some other way:
 *   - no refused call was made (read, pread, ...: the chapter's
 *     module_setup refuses them);
 *   - n == 0 sets up no ring; otherwise one ring was set up for the call,
 *     no larger than min(qd, n) and the chapter's cap (rounded up to a
 *     power of two, as the kernel does), and torn down before the call
 *     returned, with no read left in the kernel and no CQE unreaped;
 *   - the reads were carried by the ring: every request that needs I/O
 *     (len > 0, offset >= 0) reached the kernel as an SQE of a submit;
 *   - they were batched: the largest submission carried the whole first
 *     window (min(qd, the reads, the SQ)), not one read at a time;
 *   - the CQ never overflowed.
 * The window (`urb_max_inflight`, `urb_fills_to`): the ring's CQ has twice
 * its SQ's slots, so min(qd, n) reads fit; the contract makes that certain
 * only when the first ring asked for was set up (no -ENOMEM and a smaller
 * retry).
 *
 * Before including it a chapter defines:
 *   URB_FN           the function's name, for the messages ("ubatch_batch_read")
 *   URB_MAX_ENTRIES  the cap on its ring (UBATCH_MAX_ENTRIES)
 *   URB_TODO         where the messages send the learner ("TODO 9 (...)")
 * (and BATTERY_POINTS_*, if not one point each), and builds its target
 * from battery_fn_* and urb_*: its setup runs the
 * chapter's module_setup (io_uring required, blocking reads refused, the
 * watch started) and battery_fn_use(). A chapter with more to check wraps
 * urb_before / urb_after.
 */
#ifndef URING_BATTERY_H
#define URING_BATTERY_H

/* One point per battery test in these chapters: their own tests of the ring
 * (short reads, faults, the budget, registration) carry most of the grade,
 * and what the battery adds is the shared contract (a chapter may still
 * define other weights before including this file). */
#ifndef BATTERY_POINTS_RANDOM
#define BATTERY_POINTS_RANDOM 1
#endif
#ifndef BATTERY_POINTS_ERRORS
#define BATTERY_POINTS_ERRORS 1
#endif
#ifndef BATTERY_POINTS_SHAPES
#define BATTERY_POINTS_SHAPES 1
#endif
#ifndef BATTERY_POINTS_MANY
#define BATTERY_POINTS_MANY 1
#endif
#ifndef BATTERY_POINTS_BEYOND_4GIB
#define BATTERY_POINTS_BEYOND_4GIB 1
#endif
#ifndef BATTERY_POINTS_WINDOW
#define BATTERY_POINTS_WINDOW 1
#endif

#include "grade.h"
#include "ring_watch.h"
#include "batch_battery.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* The raw system call's wrappers: a module entering by them hands SQEs
 * over without a submit the watch can read, so their count is not checked. */
static long urb_entered_before;

static long urb_raw_enters(void)
{
	return seam_calls_sum(SEAM_io_uring_enter, SEAM_io_uring_enter2, SEAM_COUNT);
}

static unsigned urb_pow2_at_least(size_t v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* The ring the contract sizes for a batch: min(qd, n, cap). */
static size_t urb_ring_for(unsigned qd, size_t n)
{
	size_t want = qd < n ? qd : n;

	return want > URB_MAX_ENTRIES ? URB_MAX_ENTRIES : want;
}

static void urb_before(void)
{
	watch_reset_counts();
	watch.exit_in_kernel = watch.exit_cq_ready = 0;
	urb_entered_before = urb_raw_enters();
}

static void urb_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	const char *refused = seam_violation();
	unsigned qd = battery_fn.qd, sq, first;
	size_t io = 0;

	grade_check(refused == NULL, URB_FN " (%s): %s", what, refused ? refused : "");
	if (n == 0) {
		grade_check(watch.inits == 0, URB_FN " (%s) set up %ld ring(s): an empty batch "
			    "returns 0 before any ring (" URB_TODO ")", what, watch.inits);
		return;
	}
	if (ret != 0)
		return;  /* the battery says what it expected */
	for (size_t i = 0; i < n; i++)
		io += reqs[i].len > 0 && reqs[i].offset >= 0;
	grade_check(watch.init_ok == 1 && watch.exits == 1, URB_FN " (%s) set up %ld ring(s) "
		    "and tore down %ld: one ring per call, set up for it and torn down before it "
		    "returns (" URB_TODO ")", what, watch.init_ok, watch.exits);
	sq = urb_pow2_at_least(urb_ring_for(qd, n));
	grade_check(watch.most_entries <= sq, URB_FN " (%s) asked for a ring of %u entries at qd "
		    "%u: the contract sizes it for min(qd, n), at most %u entries (" URB_TODO ")",
		    what, watch.most_entries, qd, (unsigned)URB_MAX_ENTRIES);
	grade_check(watch.exit_in_kernel == 0 && watch.exit_cq_ready == 0, URB_FN " (%s) tore "
		    "its ring down with %u read(s) still in the kernel and %u CQE(s) not reaped: "
		    "every read's CQE is reaped before the batch returns (" URB_TODO ")", what,
		    watch.exit_in_kernel, watch.exit_cq_ready);
	grade_check(!watch.overflow, URB_FN " (%s): the CQ overflowed: more reads in flight "
		    "than its slots (" URB_TODO ")", what);
	if (urb_raw_enters() != urb_entered_before || io == 0)
		return;
	grade_check(watch.sqes_submitted >= (long)io, URB_FN " (%s): %zu request(s) need a read, "
		    "but only %ld SQE(s) reached the kernel through io_uring_submit*: every read "
		    "goes through the ring, io_uring_prep_read and a submit (" URB_TODO ")", what,
		    io, watch.sqes_submitted);
	sq = urb_pow2_at_least(watch.most_entries ? watch.most_entries : 1);
	first = qd < sq ? qd : sq;
	if (io < first)
		first = (unsigned)io;
	grade_check(watch.most_queued >= first, URB_FN " (%s): the largest submission carried %u "
		    "SQE(s), where the first window holds %u reads: prepare an SQE for every read "
		    "the window allows, then submit them with one call, not one read at a time "
		    "(" URB_TODO ")", what, watch.most_queued, first);
}

static long urb_max_inflight(void)
{
	return (long)watch.max_inflight;
}

/* The window the contract makes certain: min(qd, n, the CQ of the ring it
 * sizes), when that ring was set up at the first try. */
static unsigned urb_fills_to(unsigned qd, size_t n)
{
	size_t cq = 2 * (size_t)urb_pow2_at_least(urb_ring_for(qd, n)), fill = qd;

	if (watch.inits != 1 || watch.init_ok != 1)
		return 0;
	if (cq < fill)
		fill = cq;
	return (unsigned)(n < fill ? n : fill);
}

#pragma GCC diagnostic pop

#endif /* URING_BATTERY_H */
