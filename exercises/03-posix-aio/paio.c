/*
 * paio.c - chapter 03 exercise, part A: the batch of reads through POSIX aio.
 *
 * Read chapters/03-posix-aio/README.md first (sections 1-3 and 11); the
 * contract, with every rule the tests check, is chapters/03-posix-aio/paio.h.
 * Grade your work with:   make check CH=03
 * Try it in a real tool:  make run CH=03 ARGS="/etc/services"
 *
 * Allowed: aio_read, aio_suspend, aio_error, aio_return, aio_cancel, malloc
 * and free, nanosleep (only for the EAGAIN pause). Refused by the tests:
 * read, pread, readv, preadv, lio_listio, pthread_create.
 *
 * The suggested shape (the reference is about 250 lines): a "window" of
 * min(qd, n, PAIO_MAX_INFLIGHT) slots, each holding one aiocb, the request
 * it serves, the bytes already read, and a state (free, ready to submit,
 * in flight); then a loop:
 *
 *     fill free slots with the next requests     (TODO 3)
 *     submit every ready slot with aio_read      (TODOs 4, 5)
 *     sleep in aio_suspend                       (TODO 6)
 *     reap finished reads: aio_error, aio_return (TODO 7)
 *
 * Replace "return -ENOSYS" once the TODOs are done.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 1: check the arguments: qd == 0, or reqs == NULL with n > 0,
	 * is -EINVAL; n == 0 returns 0 and does nothing (batch.h).
	 *
	 * TODO 2: allocate the window: min(qd, n, PAIO_MAX_INFLIGHT) slots
	 * (each: a struct aiocb, which request it serves, the bytes done so
	 * far, its state) and the list aio_suspend waits on: an array of
	 * const struct aiocb * of the same length, NULL where nothing is in
	 * flight. -ENOMEM if malloc fails. The aiocbs must not move while
	 * their reads are in flight: one array, allocated once.
	 *
	 * TODO 3: give free slots the next requests. Answer without any I/O:
	 * offset < 0 or len > SSIZE_MAX: res = -EINVAL (check this first);
	 * len == 0: res = 0 (even for a bad fd). Those take no slot.
	 *
	 * TODO 4: prepare a slot's aiocb for the part of its request not read
	 * yet: memset it to 0 (glibc refuses a garbage aio_reqprio), then
	 * aio_fildes = fd, aio_buf = buf + done, aio_nbytes = len - done,
	 * aio_offset = offset + done, aio_sigevent.sigev_notify = SIGEV_NONE
	 * (0 would be SIGEV_SIGNAL). aio(7), lesson section 1.
	 *
	 * TODO 5: submit it with aio_read(3). 0: it is in flight, put
	 * &slot.cb in the suspend list. -1 with EAGAIN: keep it ready and try
	 * again later (TODO 8). -1 with any other errno: that request's
	 * res = -errno; the batch goes on.
	 *
	 * TODO 6: wait with aio_suspend(3) on the list (NULL entries are
	 * ignored; timeout NULL). It fails with EINTR when a signal handler
	 * ran: that is not an error, call it again. Any other failure ends
	 * the batch with -errno, but only after TODO 9. Never poll aio_error
	 * in a loop instead: lesson section 3.
	 *
	 * TODO 7: reap. For each slot in flight, aio_error(3): EINPROGRESS
	 * means still running, leave it. Anything else: call aio_return(3)
	 * exactly once, set the list entry to NULL, then
	 *   err > 0          -> res = -err (aio_error returns a POSITIVE errno)
	 *   aio_return == 0  -> end of file: res = bytes done so far
	 *   done == len      -> res = len
	 *   otherwise        -> a short read: the slot is ready again for the
	 *                       rest (back to TODO 4), not free.
	 * aio_return(3), lesson section 2.
	 *
	 * TODO 8: EAGAIN from aio_read while none of your reads is in flight:
	 * nothing will finish and free resources, so pause (nanosleep 1 ms,
	 * then 2, 4, ... ms) and try again; after a bounded number of tries
	 * in a row (the reference: 8, about a quarter of a second in all)
	 * return -EAGAIN. An accepted aio_read starts the count again. With reads in flight, just wait for one of them (TODO 6)
	 * before you call aio_read again: retrying at once only spins.
	 *
	 * TODO 9: before returning, on every path (errors included): no read
	 * may still be in flight. Wait for each one still running (aio_suspend
	 * on it alone), collect it with aio_return, then free the window.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
