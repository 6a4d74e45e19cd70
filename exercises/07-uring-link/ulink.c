/*
 * ulink.c - chapter 07 exercise: io_uring links, linked timeouts and
 * cancellation, on one ring kept between calls.
 *
 * Read chapters/07-uring-link/README.md first; the contract (what each
 * function must return) is in chapters/07-uring-link/ulink.h.
 * Grade your work with:   make check CH=07
 * Try it in a real tool:  make run CH=07 ARGS="deadline 500"
 *                         make run CH=07 ARGS="cancel 4 --ready 1"
 *                         make run CH=07 ARGS="copy /tmp/lab/f /tmp/lab/g"
 *
 * Every function returns 0 (or a count, or bytes) or -errno. liburing
 * returns -errno itself: never read errno after a liburing call, never
 * return -1. Replace each "return -ENOSYS" as you solve its TODOs.
 *
 * A failing test names the TODO and a lesson section; deeper hints for each
 * test (the man page passage, then the shape of the fix in words) come with
 * `make hint T=07.NN`, one level per call.
 *
 * Rules (the grader enforces them): I/O goes through the ring (read, pread,
 * write, pwrite, their vector forms, poll, epoll, sendfile are refused);
 * the deadline is a linked timeout, not a sleep, a signal or a timer of
 * your own; no threads; liburing 2.3 API only. Add as many static helpers
 * as you like: only the six functions of ulink.h are seen from outside.
 *
 * The rule behind all of it: each request ends in exactly one CQE, and its
 * buffer belongs to the kernel until that CQE has been seen. A function
 * returns only when every request it submitted has its CQE reaped.
 */
#define _GNU_SOURCE
#include "ulink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * TODO 3 (whose CQE is this?): decide, before you write any other
 * function, what you put in user_data. Only the goal and the contract are
 * given here; the design is yours.
 *
 * The goal: from a CQE's user_data alone, tell which request it ends. One
 * ring carries the caller's reads, the read and timeout of
 * ulink_read_timeout(), your cancel requests and the reads and writes of
 * ulink_copy() (which slot, which half of the pair).
 * The contract: ulink_cancel_all() gives each read back with the caller's
 * tag, and a tag is any 64-bit value (0, UINT64_MAX and everything between
 * are used by the grader), so no tag may ever be taken for one of your own
 * requests, nor two reads with the same tag for one. struct ulink has no
 * field for your bookkeeping, and a global would tie the module to one
 * ring. Write your scheme down here, in a comment, and keep to it.
 * man 3 io_uring_sqe_set_data, man 3 io_uring_cqe_get_data; lesson,
 * section 6, "Cancelling what you do not know".
 */

int ulink_init(struct ulink *u, unsigned entries)
{
	/*
	 * TODO 1: give the caller a live ring, or an error and a *u that
	 * needs no releasing (ulink.h: "On failure u->live is 0"), whatever
	 * *u held before the call. The sizes the rest of the module relies on
	 * are the ones the kernel chose (it rounds), not the one asked for.
	 * Why entries < 2 is refused: a deadline read needs two SQEs in the SQ
	 * at once. liburing's setup already returns -errno.
	 * man 3 io_uring_queue_init_params, man 2 io_uring_setup.
	 */
	(void)u;
	(void)entries;
	return -ENOSYS;
}

void ulink_exit(struct ulink *u)
{
	/*
	 * TODO 2: release the ring, once: a second call, or a call after a
	 * failed ulink_init(), must do nothing (u->live says which).
	 * Come back here after TODO 7: io_uring_queue_exit() does not wait for
	 * requests in flight (man 3 io_uring_queue_exit; `make run CH=07
	 * PROG=tour ARGS=exit`), so reads started with ulink_start_read() must
	 * be cancelled and their CQEs reaped before the ring goes.
	 */
	(void)u;
}

ssize_t ulink_read_timeout(struct ulink *u, int fd, void *buf, size_t len,
                           unsigned timeout_ms)
{
	/*
	 * TODO 4 (the linked pair): the deadline must be the kernel's, so that
	 * when the time is up the kernel itself ends the read and the buffer
	 * is free again: a read and a link timeout tied to it, which reach the
	 * kernel together (lesson, section 5). Arguments first, in the order
	 * ulink.h lists the results. Like read(2), the read uses and moves the
	 * file position. Pitfalls: a submission between the two SQEs sends a
	 * link with nothing after it (no deadline at all); the timeout's time
	 * is read by the kernel at submission, not when you prepare the SQE;
	 * a full SQ gives no SQE; milliseconds are not the kernel's unit.
	 * man 2 io_uring_enter (IOSQE_IO_LINK, IORING_OP_LINK_TIMEOUT;
	 * liburing 2.3 has no page for io_uring_prep_link_timeout: read its
	 * prototype in liburing.h), man 3 io_uring_sqe_set_flags,
	 * man 3 io_uring_get_sqe, man 3 io_uring_submit.
	 *
	 * TODO 5 (both CQEs): two requests end in two CQEs, in either order,
	 * and the call is over only when both are reaped (else the next call
	 * finds one in the CQ). The read's CQE is the answer: bytes are bytes
	 * even if the timer fired too (lesson, "The race"); what the two CQEs
	 * say when the timer won, `make run CH=07 PROG=tour ARGS=linktimeout`
	 * shows. -EINTR never comes out: not from a wait (a signal), not from
	 * the read's CQE (nothing was read: the caller still wants the data,
	 * within a whole deadline). If the submission fails, the SQEs still
	 * queued must never reach the kernel later (ulink.h, at the top).
	 * man 3 io_uring_wait_cqe, man 3 io_uring_cqe_seen.
	 */
	(void)u;
	(void)fd;
	(void)buf;
	(void)len;
	(void)timeout_ms;
	return -ENOSYS;
}

int ulink_start_read(struct ulink *u, int fd, void *buf, size_t len, off_t off,
                     __u64 tag)
{
	/*
	 * TODO 6: start one read and return without waiting for it; it stays
	 * the kernel's until ulink_cancel_all() or ulink_exit() reaps it, and
	 * then the caller must get `tag` back (your scheme of TODO 3).
	 * u->inflight is how the other functions know reads are out there.
	 * At most u->sq_entries in flight (why does the CQ then never overflow,
	 * even with your cancel's CQE?). If the submission fails the read was
	 * not started: it must not start later either, and whatever you
	 * allocated for it goes; but -EINTR or -EAGAIN from the submit took
	 * nothing: submit again (ulink.h, at the top). An SQ left full by an
	 * earlier failure must not stop this call. Offsets past 4 GiB too.
	 * man 3 io_uring_prep_read, man 3 io_uring_submit.
	 */
	(void)u;
	(void)fd;
	(void)buf;
	(void)len;
	(void)off;
	(void)tag;
	return -ENOSYS;
}

int ulink_cancel_all(struct ulink *u, struct ulink_done *done, unsigned max)
{
	/*
	 * TODO 7: cancel every read in flight and reap until each of them AND
	 * each cancel request has its CQE. One cancel request can catch them
	 * all (which flags?), or one per read; either way its CQE may come
	 * before or after the reads' (measure it: make run CH=07 ARGS="cancel 4
	 * --ready 1"). Read what -ENOENT and -EALREADY from a cancel mean in
	 * man 3 io_uring_prep_cancel: in neither case may you stop waiting for
	 * the read. A read that completed first keeps its result. Report the
	 * first max of them to end in done[], and return how many ended.
	 * man 3 io_uring_prep_cancel64, man 2 io_uring_enter
	 * (IORING_OP_ASYNC_CANCEL).
	 */
	(void)u;
	(void)done;
	(void)max;
	return -ENOSYS;
}

/*
 * ulink_copy() is the longest function: write it as a few small ones.
 *
 * TODO 8 (set-up): check the arguments; allocate one buffer per pair in
 *  flight (how many pairs fit in the SQ at once?), and free them on every
 *  path, errors included: but never while the kernel may still write into
 *  one (the rule at the top). man 3 posix_memalign.
 *
 * TODO 9 (the pairs): only the goal and the contract. Goal: the write of
 *  a block never waits for user space, because the kernel starts it as
 *  soon as its read has filled the buffer, and each trip into the kernel
 *  carries many such pairs. Contract (ulink.h, ulink_copy): every read
 *  linked to the write of the same buffer, offset and length, never a hard
 *  link; at most `pairs` in flight (fewer if the ring is smaller); several
 *  pairs per submission, and never a read without its write in the same
 *  one (a link ends with its submission: the SQ may have less room than a
 *  pair needs); the grader reads every SQE you submit.
 *  man 3 io_uring_sqe_set_flags, lesson sections 1 and 2.
 *
 * TODO 10 (broken chains): list every way a pair can end (ulink.h,
 *  ulink_copy) and what comes next for its buffer in each: a short read,
 *  a read of 0, a failed read, a short write, a failed write, -EINTR, the
 *  write's -ECANCELED. CQEs come back in any order, even within one pair
 *  (`make run CH=07 ARGS=chain` shows one): decide a buffer's next step
 *  only when all of its requests have their CQEs. Keep every offset and
 *  length in off_t / size_t.
 *
 * TODO 11 (errors and the end): after the first error, start nothing new,
 *  reap every request still in flight, then return that first error.
 *  -EINTR from a wait is never a result.
 */
int ulink_copy(struct ulink *u, int in_fd, int out_fd, off_t size, size_t block,
               unsigned pairs)
{
	(void)u;
	(void)in_fd;
	(void)out_fd;
	(void)size;
	(void)block;
	(void)pairs;
	return -ENOSYS;
}
