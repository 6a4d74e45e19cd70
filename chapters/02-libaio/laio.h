/*
 * laio.h - chapter 02: the batch of reads through Linux kernel AIO (libaio).
 *
 * The contract for the chapter's module. The reference implementation is
 * solutions/02-libaio/laio.c, the learner's is exercises/02-libaio/laio.c;
 * the demo (chapters/02-libaio/demo.c) and the tests are linked with either.
 * Link with -laio (Debian 12's libaio has no pkg-config file).
 *
 * Conventions used by every function here
 * ---------------------------------------
 *  - Failure is reported as a negated errno value (-EINVAL, -EBADF, ...),
 *    never through errno. libaio's own functions (io_setup, io_submit,
 *    io_getevents, io_destroy) return -errno themselves and leave errno
 *    alone (io_submit(2), NOTES): read their return value, never errno.
 *  - Nothing here keeps a pointer to caller memory after it returns.
 *  - Several threads may call these functions at the same moment, each
 *    with its own requests (and context): keep no state in static variables.
 *
 * What the exercise allows
 * ------------------------
 *  - Data moves only through io_submit + io_getevents: pread, pread64,
 *    preadv, preadv2, read and readv are NOT allowed in laio_batch_read
 *    and laio_batch_read_ctx, not even "just for the short-read remainder". The tests refuse them.
 *  - The io context is created with io_setup and destroyed with io_destroy
 *    inside each laio_batch_read call; no context, fd or memory survives
 *    the call. laio_batch_read_ctx uses the caller's context and never
 *    sets one up or destroys one. Do not open or close the caller's fds.
 *    libaio's io_queue_*
 *    helpers (io_queue_init, io_queue_run, ...) are not allowed: they call
 *    io_setup and io_getevents inside libaio, where the grader cannot see.
 *  - posix_memalign/aligned_alloc/malloc/calloc/free are fine. statx is
 *    fine. Threads are not needed and not allowed.
 */
#ifndef COURSE_LAIO_H
#define COURSE_LAIO_H

#include <stddef.h>
#include <libaio.h>
#include "batch.h"

/*
 * The alignment this chapter uses for O_DIRECT: buffer address, file offset
 * and length all multiples of 4096. Filesystems often accept less (ext4 on
 * a 512-byte-sector disk reports 512 through statx STATX_DIOALIGN); 4096 is
 * the choice that works on every common device and filesystem.
 */
#define LAIO_DIO_ALIGN 4096u

/*
 * A qd above this is treated as LAIO_MAX_QD. The kernel counts every
 * context against /proc/sys/fs/aio-max-nr (65536 on Debian 12), shared by
 * the whole machine, so a library should not ask for more than it needs.
 */
#define LAIO_MAX_QD 4096u

/*
 * laio_batch_read - read every request of a batch through kernel AIO.
 *
 * The contract of batch.h, done with libaio (io_setup(2), io_submit(2),
 * io_getevents(2), io_destroy(2)):
 *
 *  reqs, n  the requests; the caller owns reqs and every buffer. Each
 *           request reads up to reqs[i].len bytes from reqs[i].fd at
 *           reqs[i].offset into reqs[i].buf and stores the outcome in
 *           reqs[i].res: bytes read (fewer than len only at end of file),
 *           or -errno for that request alone (-EBADF, -EINVAL, -EIO, ...).
 *           Every request gets its res, whatever happens to the others.
 *           A request of length 0, or one at or past end of file, is still
 *           checked as the kernel checks it: -EBADF for an fd that cannot
 *           read (not open, O_WRONLY, O_PATH), -EINVAL for a negative offset.
 *  qd       the queue depth: at most min(qd, n, LAIO_MAX_QD) requests are
 *           in flight at any moment (submitted to the kernel and not yet
 *           reaped). The window is refilled as completions arrive: when one
 *           request finishes and others are waiting, the next one goes out
 *           without waiting for the rest of the window to drain; and the
 *           window is filled (min(qd, n, LAIO_MAX_QD) in flight) before the
 *           first wait. Any qd from 1 to UINT_MAX is valid. io_setup is
 *           asked for at most the window's number of events (never more
 *           than LAIO_MAX_QD, nor than n: the window is enough).
 *
 * Returns 0 when every request has its res. Returns a negated errno when
 * the batch as a whole could not run, and then the res fields are
 * unspecified:
 *   -EINVAL  qd == 0, or reqs == NULL with n > 0;
 *   -ENOMEM  no memory for the bookkeeping (everything allocated so far
 *            freed, and the context destroyed if it was set up);
 *   -EAGAIN  io_setup found /proc/sys/fs/aio-max-nr used up, or io_submit
 *            kept answering -EAGAIN with nothing of ours in flight (a
 *            bounded number of retries in a row);
 *   other    an error from io_setup or io_getevents that leaves the
 *            context unusable (-ENOSYS, -EFAULT, ...).
 * On every one of these paths the bookkeeping is freed (and the context
 * destroyed if it was set up), as on success.
 * n == 0 returns 0 and touches nothing (it need not create a context).
 *
 * Behaviour the tests check:
 *  - offsets are 64-bit: requests beyond 4 GiB of a (sparse) file work,
 *    and so does the remainder of a short read there.
 *  - short read before EOF: a read that returns 0 < res < remaining is
 *    continued by submitting the remainder (offset + done, buf + done,
 *    len - done) through io_submit again, until len bytes or EOF (res 0).
 *    A request that has all its len bytes is finished: no read of 0
 *    bytes is submitted for it (a res equal to what was asked is not short).
 *    A read that fails after some bytes arrived reports the error (-errno),
 *    not the partial count: a short count would claim end of file.
 *    A res of -EINTR (a blocking read interrupted by a signal, e.g. on a
 *    pipe) is not an error: the same piece is submitted again.
 *  - io_submit may accept fewer iocbs than asked: it returns k, and
 *    iocbs k.. were NOT submitted and must be submitted again.
 *  - io_submit returning -EINTR (a signal before anything was submitted):
 *    submit the same iocbs again. It is no request's error.
 *  - io_submit returning a negative value other than -EAGAIN/-EINTR refers
 *    to the FIRST iocb of the array (bad fd, negative offset, fd not open
 *    for reading): that request gets it as its res and the rest go on.
 *  - io_submit returning -EAGAIN: reap at least one completion, then retry;
 *    never call io_submit again before that io_getevents (one request in
 *    flight is enough to reap). If nothing is in flight, retry a bounded
 *    number of times in a row (more than three: the tests answer -EAGAIN
 *    three times in a row before accepting, also for every request of a
 *    batch at qd 1; a success starts the count again) with a short pause
 *    between tries (nanosleep of a few milliseconds, or io_getevents with
 *    a timeout), then give up with -EAGAIN (the tests allow at most 1000
 *    calls, and 10 s of pauses in all; well under a second is the aim).
 *    The bound is a count of tries, not a clock: the tests' pauses return
 *    at once, so a limit measured in elapsed time is never reached there.
 *    Nothing else pauses: until io_submit answers -EAGAIN, the only wait
 *    is io_getevents for the reads in flight (no sleep "to be gentle").
 *  - io_getevents returning -EINTR (a signal arrived while waiting): call
 *    it again. It is not an error of any request.
 *  - results are mapped back through the completion itself (io_event.data
 *    or io_event.obj), never by the order completions arrive in.
 *  - O_DIRECT fds: buffers, offsets and lengths must be multiples of
 *    LAIO_DIO_ALIGN. A misaligned offset or length is not rejected by
 *    io_submit: the kernel completes that request with res = -EINVAL,
 *    which lands in reqs[i].res while the other requests succeed.
 *    (Kernel 6.18 also accepts a misaligned buffer when the I/O stays
 *    inside one page; do not rely on it.)
 *  - no leaks: io_destroy is called on every path after io_setup
 *    succeeded (io_destroy waits for anything still in flight, so the
 *    caller's buffers are safe once the call returns); no fd is opened.
 */
int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd);

/*
 * laio_batch_read_ctx - the same batch, through the caller's io context.
 *
 * laio_batch_read sets up a context and destroys it in every call, and
 * io_destroy is slow: it waits for the reads still in flight and then for
 * an RCU grace period of the kernel (tens of milliseconds; the lesson's
 * "Keep the context"). A program that reads many batches sets up one
 * context for its whole life and hands it to every batch:
 *
 *     io_context_t ctx = 0;
 *     int rc = io_setup(nr_events, &ctx);        // once
 *     ...
 *     rc = laio_batch_read_ctx(ctx, nr_events, reqs, n, qd);   // per batch
 *     ...
 *     io_destroy(ctx);                           // once, at the end
 *
 *  ctx        a context the caller set up with io_setup(nr_events, &ctx)
 *             and still owns: laio_batch_read_ctx never calls io_setup or
 *             io_destroy. It must hold nothing in flight when the call
 *             begins, and nobody else may use it during the call: every
 *             completion io_getevents hands back is taken for one of this
 *             batch's.
 *  nr_events  the nr_events the context was set up with: the kernel may
 *             accept more (it rounds up), but the caller asked for this
 *             many, so no more are ever in flight.
 *  reqs, n, qd  as for laio_batch_read, with every rule of its "Behaviour
 *             the tests check" (short reads continued, -EINTR and -EAGAIN,
 *             partial submits, results by the completion, O_DIRECT), except
 *             the window: at most min(qd, n, nr_events, LAIO_MAX_QD)
 *             requests are in flight at any moment, and the window is
 *             filled to that before the first wait.
 *
 * Returns 0 when every request has its res; then nothing this call
 * submitted is left in the context (every accepted iocb was reaped), and
 * the context is ready for the next batch. Otherwise a negated errno, with
 * the res fields unspecified:
 *   -EINVAL  ctx == 0, nr_events == 0, qd == 0, or reqs == NULL with
 *            n > 0 (whatever n is: these are checked first);
 *   -ENOMEM  no memory for the bookkeeping: nothing was submitted, the
 *            context is as it was;
 *   -EAGAIN  io_submit kept answering -EAGAIN with nothing of ours in
 *            flight (laio_batch_read's bounded retries): every iocb this
 *            call submitted was reaped, the context is empty and usable;
 *   other    io_getevents failed with something other than -EINTR
 *            (-EFAULT, -EINVAL for a context that is not one, ...): the
 *            batch stops at once and reads it submitted MAY STILL BE IN
 *            FLIGHT in the context, writing into the caller's buffers. The
 *            context is not fit for another batch (their completions would
 *            come back to it). The caller must io_destroy it, which waits
 *            for those reads: only after io_destroy returns are the buffers
 *            safe to reuse or free. Then io_setup a new one if it goes on.
 * The bookkeeping is freed on every path. n == 0 (with valid arguments)
 * returns 0 and touches nothing, the context included.
 * A ctx that is not 0 but not a live context either (destroyed, say) is
 * not detected up front: io_submit answers -EINVAL, which laio.h's rule
 * makes the first iocb's error, so every request ends with res -EINVAL.
 *
 * laio_batch_read(reqs, n, qd) is io_setup(w) + laio_batch_read_ctx(ctx,
 * w, reqs, n, qd) + io_destroy, with w = min(qd, n, LAIO_MAX_QD): its
 * io_destroy is what makes its buffers safe on the io_getevents path.
 */
int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd);

/*
 * laio_alloc_aligned - memory fit for O_DIRECT.
 *
 * Returns a zero-filled buffer whose address is a multiple of
 * LAIO_DIO_ALIGN and whose usable size is len rounded up to a multiple of
 * LAIO_DIO_ALIGN, so a read of the rounded length fits. Free it with
 * free(3). Returns NULL when len == 0, when rounding up would overflow, or
 * when memory runs out (this is the one function here that cannot return
 * -errno; it does not promise anything about errno either).
 * See posix_memalign(3).
 */
void *laio_alloc_aligned(size_t len);

/*
 * laio_dio_alignment - what O_DIRECT alignment this fd needs.
 *
 * Asks statx(2) with STATX_DIOALIGN (Linux 6.1+) on the open file fd and
 * stores in *mem_align the required alignment of buffer addresses and in
 * *offset_align the required alignment of file offsets and lengths.
 * When the kernel or the filesystem does not report it (the reply's
 * stx_mask lacks STATX_DIOALIGN), both are set to LAIO_DIO_ALIGN, the
 * safe choice. Either pointer may be NULL.
 *
 * Returns 0 on success, -EOPNOTSUPP when the filesystem reports that
 * direct I/O is not supported on this file (alignment 0), -EBADF for a
 * negative fd (no open file: checked before statx, which would take
 * AT_FDCWD, -100, for the current directory), or the -errno of statx
 * (-EBADF for a closed fd, ...). The outputs are written only on
 * success. Note that this tells the minimum; LAIO_DIO_ALIGN is what this
 * chapter uses, and it is a multiple of every value seen in practice.
 */
int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align);

#endif /* COURSE_LAIO_H */
