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
 * function, what you put in user_data. One ring carries the caller's reads
 * (each with a tag the caller chose: any 64-bit value), the reads and
 * timeouts of ulink_read_timeout(), your cancel requests and the reads and
 * writes of ulink_copy(). Reaping, you must tell each CQE's owner from
 * user_data alone, and no tag the caller picks may be mistaken for one of
 * your own requests. struct ulink has no room for a table of tags: think
 * about what a pointer to something you allocate looks like in its low
 * bits, and what you can then put in the other values. Nothing in the
 * lesson spells out an answer; write yours down here, in a comment.
 * man 3 io_uring_sqe_set_data, man 3 io_uring_cqe_get_data.
 */

int ulink_init(struct ulink *u, unsigned entries)
{
	/*
	 * TODO 1: set up the ring, like chapter 06's init, and say why each
	 * check is there. Clear *u first, so u->live is 0 on every failure;
	 * refuse what ulink.h refuses (a deadline read needs two SQEs) with
	 * -EINVAL; record the sizes the kernel gave, not the ones you asked
	 * for. man 3 io_uring_queue_init_params, man 2 io_uring_setup.
	 */
	(void)u;
	(void)entries;
	return -ENOSYS;
}

void ulink_exit(struct ulink *u)
{
	/*
	 * TODO 2: release the ring, once: a second call, or a call after a
	 * failed ulink_init(), must do nothing.
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
	 * TODO 4 (the linked pair): check the arguments in the order ulink.h
	 * lists its results. Then queue two SQEs that go to the kernel in the
	 * same submission: the read (at the file position: what offset says
	 * that?) flagged so that the next SQE is linked to it, and a linked
	 * timeout. Both SQEs must fit before you take the first one: a
	 * submission between them would send a link with nothing after it.
	 * The timeout's struct __kernel_timespec is read by the kernel when it
	 * takes the SQE, not when you prepare it: where must it live?
	 * io_uring_get_sqe returns NULL when the SQ is full: never use it.
	 * man 2 io_uring_enter (IORING_OP_LINK_TIMEOUT; liburing 2.3 has no page
	 * for io_uring_prep_link_timeout: read its prototype in liburing.h),
	 * man 3 io_uring_sqe_set_flags
	 * (IOSQE_IO_LINK), man 3 io_uring_get_sqe, man 3 io_uring_submit.
	 *
	 * TODO 5 (both CQEs): wait until you have the read's CQE AND the
	 * timeout's; they may come in either order (tell them apart by
	 * user_data). The read's result decides: bytes are bytes even if the
	 * timer fired too; a read cancelled by its timer (what do the two CQEs
	 * say then? run `make run CH=07 PROG=tour ARGS=linktimeout`) is -ETIME.
	 * A wait interrupted by a signal is resumed; a read CQE of -EINTR means
	 * "try again", with a fresh deadline. If the submission fails, the SQEs
	 * still queued must never reach the kernel later.
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
	 * TODO 6: start one read and return without waiting for it: queue it,
	 * name it in user_data so that ulink_cancel_all() can give the caller
	 * back `tag` (TODO 3), submit it, count it in u->inflight. At most
	 * u->sq_entries in flight (why does the CQ then never overflow, even
	 * with your cancel's CQE?). If the submission fails the read was not
	 * started: it must not start later either, and whatever you allocated
	 * for it goes. man 3 io_uring_prep_read, man 3 io_uring_submit.
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
	 * the read. A read that completed first keeps its result. Report up to
	 * max of them in done[], and return how many ended.
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
 * TODO 9 (the pairs): each block is a read SQE linked to a write SQE of
 *  the same buffer, offset and length; the write starts only if the read
 *  filled the buffer. Keep the window full, and let one io_uring_enter
 *  carry several pairs (the grader counts them; strace -c shows them).
 *  man 3 io_uring_prep_read, man 3 io_uring_prep_write,
 *  man 3 io_uring_submit_and_wait.
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
