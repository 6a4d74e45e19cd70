/*
 * ubatch.h - chapter 06, io_uring batching: the contract.
 *
 * The chapter's exercise is the course's shared workload (a batch of reads,
 * see batch.h) pushed through one io_uring with a queue-depth window:
 *
 *     struct ubatch b;
 *     ubatch_init(&b, 64);                 one ring, set up once
 *     ubatch_read(&b, reqs, n, 32);        many batches through it
 *     ubatch_read(&b, more, m, 32);
 *     ubatch_exit(&b);                     torn down once
 *
 * plus ubatch_batch_read(), the shared-shape function (batch_read_fn) that
 * sets a ring up and tears it down around one batch, so that the shared
 * differential tests (and make bench) can call this chapter like every other one.
 *
 * Every function returns 0 (or a count) on success and a negated errno value
 * on failure. liburing returns -errno itself: never read errno after a
 * liburing call, and never return -1.
 *
 * Rules of the exercise (the grader enforces them through link seams)
 * --------------------------------------------------------------------
 *  - Reads go through io_uring: read(2), pread(2), readv(2), preadv(2),
 *    preadv2(2), aio_read(3) and io_submit(2) are not allowed.
 *  - Batch the submissions: prepare many SQEs, then submit them with one
 *    call. A batch of n reads at depth qd on cached data must enter the
 *    kernel about n/qd times, not n times (budget: see the lesson).
 *  - ubatch_read() must not create or destroy rings: it reuses b->ring.
 *  - Only liburing 2.3 API (Debian 12); nothing newer.
 *  - No threads, no signal handlers of your own, no sleeping.
 */
#ifndef COURSE_UBATCH_H
#define COURSE_UBATCH_H

#include <stddef.h>
#include <liburing.h>

#include "batch.h"

/*
 * One io_uring kept between calls. Owned by the caller (put it on the stack
 * or in a struct); ubatch_init() fills it, ubatch_exit() empties it.
 * The fields are readable by the caller (the demo prints them); only the
 * implementation writes them.
 */
struct ubatch {
	struct io_uring ring;  /* the ring itself                              */
	unsigned sq_entries;   /* SQ size the kernel gave (power of two)       */
	unsigned cq_entries;   /* CQ size the kernel gave (2 x sq_entries):    */
	                       /* the most requests ever in flight at once     */
	int live;              /* 1 between a successful init and the exit     */
};

/*
 * ubatch_init - set up a ring of `entries` submission slots.
 *
 *   b        caller-owned struct, contents overwritten.
 *   entries  SQ size wanted, 1..32768; the kernel rounds it up to a power
 *            of two. The CQ gets twice as many slots (io_uring_setup(2)).
 *
 * Returns 0, or -errno from io_uring_queue_init_params(3): -EINVAL for
 * entries 0 or too large, -ENOMEM when RLIMIT_MEMLOCK is too small for the
 * ring (ordinary users: 8 MiB by default), -EPERM when io_uring is blocked
 * (seccomp, kernel.io_uring_disabled), -ENOSYS without io_uring at all.
 * On failure b->live is 0 and nothing needs releasing.
 *
 * The ring may be set up with IORING_SETUP_SINGLE_ISSUER and
 * IORING_SETUP_DEFER_TASKRUN where the kernel has them (the reference does,
 * lesson section 8; not required): callers use a ring from the thread that
 * set it up. Where the kernel does not have them (it answers -EINVAL for a
 * flag it does not know: Linux 5.19 for both), the ring is set up without.
 *
 * Other threads may use rings of their own at the same time: every function
 * here keeps a call's state in b and in its own variables, never in a static
 * or a global one.
 */
int ubatch_init(struct ubatch *b, unsigned entries);

/*
 * ubatch_read - run a batch of reads through b's ring, at most qd in flight.
 *
 *   b     a ring set up by ubatch_init() (b->live == 1).
 *   reqs  n requests as described in batch.h; the caller owns them and every
 *         buffer. Each reqs[i].res receives bytes read (== len unless end of
 *         file came first) or -errno for that request alone.
 *   qd    the window: the most reads in flight at once, > 0. At most
 *         min(qd, b->cq_entries) reads are ever in flight (counting a read
 *         as in flight until its CQE is reaped), so the CQ never overflows;
 *         qd may be larger than the ring. Keep the window full: refill it
 *         as reads complete, in the order of the array (a freed slot takes
 *         the first request not yet started; they complete in any order).
 *
 * Per request (results in reqs[i].res, the call itself still returns 0):
 *   - offset < 0 gives -EINVAL without any I/O (io_uring would read at the
 *     file position for offset -1, and move it);
 *   - len == 0 gives 0 without any I/O, whatever fd is (a negative offset
 *     is checked first: -EINVAL);
 *   - a short read before end of file is continued: the rest is resubmitted
 *     at offset + done into buf + done, until len bytes or end of file;
 *   - a failed read (-EBADF, -EFAULT, -EISDIR, -EIO, ...) is stored as it
 *     came, and the others go on; that holds after partial progress too: if
 *     the rest of a short read fails, res is that -errno, not the bytes so
 *     far (bytes short of len mean end of file, nothing else);
 *   - a CQE with -EINTR (the read was interrupted) is not a result: the same
 *     rest is read again.
 *
 * Returns 0 when every request has its res. Returns -EINVAL (touching
 * nothing) for b == NULL, b not live or qd == 0, whatever n is, and for
 * reqs == NULL with n > 0; otherwise n == 0 returns 0 at once. Another
 * negative value (-EAGAIN, -ENOMEM, ...) means the batch as a whole could
 * not finish (a liburing call's error that ends it is returned as it came,
 * never turned into another one such as -EIO): res fields are then
 * unspecified, no read is left writing into the caller's buffers if
 * draining was possible, and b must be released with ubatch_exit() (it may
 * be set up again with ubatch_init()).
 *
 * -EINTR never comes out of this function: an interrupted wait is resumed.
 * On return the CQ is empty and nothing is left queued in the SQ, so the
 * ring can serve the next call.
 */
int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd);

/*
 * ubatch_exit - tear the ring down (io_uring_queue_exit(3)): unmaps it and
 * closes its fd. Safe to call twice, and after a failed ubatch_init().
 */
void ubatch_exit(struct ubatch *b);

/*
 * ubatch_batch_read - the shared-shape batch read (batch_read_fn, batch.h):
 * sets up a ring sized for min(qd, n) (at most UBATCH_MAX_ENTRIES slots;
 * if RLIMIT_MEMLOCK refuses it, -ENOMEM, it may try smaller sizes), runs
 * ubatch_read(), tears the ring down. Same results and return values as
 * ubatch_read(); a ring that cannot be set up at all gives ubatch_init()'s
 * error; n == 0 returns 0 without creating a ring. No ring or fd is left
 * behind on any path.
 */
int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd);

/* The largest SQ ubatch_batch_read() asks for (CQ: twice this). */
#define UBATCH_MAX_ENTRIES 256u

#endif /* COURSE_UBATCH_H */
