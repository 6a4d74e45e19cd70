/*
 * ulink.h - chapter 07, io_uring linking, timeouts and cancellation: the
 * contract.
 *
 * Three things a real io_uring program needs once requests can take
 * forever or come in chains, on one ring kept between calls:
 *
 *     struct ulink u;
 *     ulink_init(&u, 16);
 *
 *     n = ulink_read_timeout(&u, fd, buf, len, 500);  a read with a deadline:
 *                                                     the data, or -ETIME
 *     ulink_start_read(&u, fd, buf, len, -1, tag);    reads left in flight...
 *     ulink_cancel_all(&u, done, max);                ...cancelled on shutdown,
 *                                                     every CQE reaped
 *     ulink_copy(&u, in, out, size, block, pairs);    a copy made of linked
 *                                                     read -> write pairs
 *     ulink_exit(&u);
 *
 * and a program on top of it, `lcopy SRC DST`, with the same command line
 * and behaviour as chapter 06's copy.
 *
 * Every function returns 0 (or a count) on success and a negated errno value
 * on failure. liburing returns -errno itself: never read errno after a
 * liburing call, and never return -1. The -EINVAL checks come first: an
 * argument a function refuses is -EINVAL even where there is nothing to do
 * (len 0, size 0, nothing in flight).
 *
 * A liburing call that fails took nothing or reaped nothing:
 *   - -EINTR (a signal): call it again; -EINTR never comes out of a function;
 *   - -EAGAIN or -EBUSY (io_uring_enter(2): the kernel is short of memory,
 *     or the CQ is full): reap what is there and call again, a few times;
 *     if it never stops, return it: never loop for ever;
 *   - anything else: the ring is broken for this call: return the error.
 * SQEs queued for a submission that failed are still in the SQ, and the next
 * io_uring_submit would start them: a read the caller was told had failed
 * must never start later. Take them back (turn them into NOPs, say) or
 * submit them knowingly.
 *
 * The rule behind every function here: each request ends in exactly one
 * CQE, and its buffer belongs to the kernel until that CQE has been seen.
 * A function returns only when every request it submitted has its CQE
 * reaped (the timeouts and cancel requests it used too), so the caller may
 * free or reuse every buffer, and the CQ is left as it found it.
 *
 * Rules of the exercise (the grader enforces them through link seams)
 * --------------------------------------------------------------------
 *  - I/O goes through the ring: read(2), pread(2), write(2), pwrite(2) and
 *    their vector forms, poll(2), select(2), epoll, aio and sendfile(2) are
 *    not allowed on the module's fds.
 *  - The deadline is the kernel's (a linked timeout), not a sleep, an alarm
 *    or a poll: no sleeping, no signals or timers of your own, no threads.
 *  - ulink_copy() links each read to its write with IOSQE_IO_LINK and puts
 *    several pairs in one submission.
 *  - Only liburing 2.3 API (Debian 12); nothing newer.
 */
#ifndef COURSE_ULINK_H
#define COURSE_ULINK_H

#include <stddef.h>
#include <sys/types.h>
#include <liburing.h>

/* The largest block ulink_copy() accepts. */
#define ULINK_MAX_BLOCK (1u << 20)

/*
 * One ring kept between calls. Owned by the caller; ulink_init() fills it,
 * ulink_exit() empties it. The fields are readable by the caller; only the
 * implementation writes them. Two of them are independent: the module keeps
 * no state outside them (no statics), so calls on two rings may interleave.
 */
struct ulink {
	struct io_uring ring;  /* the ring itself                              */
	unsigned sq_entries;   /* SQ size the kernel gave (power of two)       */
	unsigned cq_entries;   /* CQ size the kernel gave (2 x sq_entries)     */
	unsigned inflight;     /* reads started by ulink_start_read() whose    */
	                       /* CQE has not been reaped yet                  */
	int live;              /* 1 between a successful init and the exit     */
};

/* One read that ended during ulink_cancel_all(): its tag and its result
 * (bytes read, or -ECANCELED if the cancel caught it, or its -errno). */
struct ulink_done {
	__u64 tag;
	int res;
};

/*
 * ulink_init - set up a ring of `entries` submission slots (2..4096; the
 * kernel rounds up to a power of two, the CQ gets twice as many).
 *
 * Returns 0, or -errno from io_uring_queue_init_params(3) (-ENOMEM when
 * RLIMIT_MEMLOCK is too small, -EPERM when io_uring is blocked, -ENOSYS
 * without io_uring). Returns -EINVAL itself, before any ring is set up, for
 * u == NULL, entries < 2 (a deadline read needs two slots) or entries
 * above 4096 (the kernel would take up to 32768: this course's bound is
 * smaller). On failure u->live is 0 and nothing needs releasing.
 */
int ulink_init(struct ulink *u, unsigned entries);

/*
 * ulink_read_timeout - one read with a deadline.
 *
 * Reads at most len bytes from fd at its current position (like read(2):
 * a pipe or socket gives what it has, 0 means end of file) into buf, and
 * gives up after timeout_ms milliseconds. The read and its deadline are two
 * linked requests (io_uring_prep_read + IOSQE_IO_LINK, then
 * io_uring_prep_link_timeout), submitted together.
 *
 * Returns:
 *   - the bytes read (0..len), if the read completed, even when the timeout
 *     fired at the same moment (the read's result decides);
 *   - -ETIME if the deadline passed first (the read's CQE then says
 *     -ECANCELED and the timeout's -ETIME: neither is passed on as such);
 *   - the read's own -errno (-EBADF, -EFAULT, -EISDIR, ...);
 *   - 0 for len == 0, without any I/O, whatever fd is;
 *   - -EINVAL for u not live, buf == NULL with len > 0, or timeout_ms == 0;
 *   - -EBUSY if reads started with ulink_start_read() are still in flight
 *     (their CQEs would arrive in the middle of this call's).
 *
 * A CQE of the read with -EINTR is not a result: the read is tried again
 * with a fresh deadline. A wait interrupted by a signal (-EINTR from a
 * liburing wait) is resumed; -EINTR never comes out of this function.
 * Before returning, both CQEs (the read's and the timeout's) are reaped.
 */
ssize_t ulink_read_timeout(struct ulink *u, int fd, void *buf, size_t len,
                           unsigned timeout_ms);

/*
 * ulink_start_read - start one read and return without waiting for it.
 *
 *   fd, buf, len, off  as io_uring_prep_read(3); off -1 reads at the file
 *                      position (pipes, sockets). len > 0, buf != NULL.
 *   tag                the caller's name for this read; ulink_cancel_all()
 *                      reports it with the read's result.
 *
 * The read is submitted before this returns. buf belongs to the kernel
 * until ulink_cancel_all() (or ulink_exit()) has reaped the read's CQE.
 * At most u->sq_entries reads are in flight: one more gives -EBUSY, leaving
 * room in the CQ for the cancel requests' own CQEs.
 *
 * Returns 0 (u->inflight is one more), -EINVAL for u not live, buf == NULL
 * or len == 0, -EBUSY when full, -ENOMEM if memory the implementation keeps
 * per read cannot be allocated, or the -errno of the submission (in every
 * error case the read was not started, and will not be). An fd the kernel
 * cannot read (-1, closed) is the read's own error, in its result in
 * ulink_cancel_all()'s list; a negative fd may also be refused here with
 * -EBADF, the read not started: either is right.
 */
int ulink_start_read(struct ulink *u, int fd, void *buf, size_t len, off_t off,
                     __u64 tag);

/*
 * ulink_cancel_all - cancel every read in flight and wait until the kernel
 * has let go of every buffer.
 *
 * Cancels the reads started with ulink_start_read() (io_uring_prep_cancel64
 * per tag, or one request with IORING_ASYNC_CANCEL_ANY | _ALL, or by fd),
 * then reaps CQEs until every started read has its CQE and so has every
 * cancel request. A read that completed before its cancel keeps its result;
 * a cancel that finds the read already running answers -EALREADY and the
 * read's CQE comes later: it is waited for too. -ENOENT from a cancel means
 * the read had already completed: its CQE is (or will be) in the CQ.
 *
 *   done, max  where to report each read that ended: the first max of
 *              them are written to done[0..max); done may be NULL (max 0).
 *
 * Returns the number of reads that ended (the u->inflight it found; u->inflight
 * is then 0), or -EINVAL for u not live or done == NULL with max > 0.
 * A wait interrupted by a signal is resumed. With nothing in flight it
 * returns 0 at once.
 */
int ulink_cancel_all(struct ulink *u, struct ulink_done *done, unsigned max);

/*
 * ulink_copy - copy `size` bytes from in_fd to out_fd (both from offset 0,
 * positioned I/O: the file positions do not move), as linked read -> write
 * pairs.
 *
 *   block  bytes per pair, 1..ULINK_MAX_BLOCK (the last one shorter).
 *   pairs  the most pairs in flight at once, >= 1; more than the ring holds
 *          (u->sq_entries / 2 pairs) is allowed and means as many as fit.
 *          A request counts as in flight from its SQE until its CQE is
 *          reaped (io_uring_cqe_seen or io_uring_cq_advance).
 *
 * Each block is a read SQE with IOSQE_IO_LINK followed by a write SQE of
 * the same buffer, offset and length: the kernel starts the write only when
 * the read has completed in full. The window is kept full: as pairs end,
 * new ones are queued, several per submission.
 *
 * A chain breaks when its read comes back short or fails: the write's CQE is
 * then -ECANCELED and it wrote nothing. The copy goes on correctly:
 *   - a short read (0 < res < len): write the res bytes that were read, and
 *     read (and write) the rest of the block, at offset + res;
 *   - a read of 0 before `size` bytes (the file shrank): -EIO;
 *   - a read that fails: its -errno (-EIO, -EBADF, -EISDIR, ...);
 *   - a short write (0 < res < len): write the rest, at offset + res (under a
 *     file-size limit the rest fails with -EFBIG: that is the result);
 *   - a write that fails: its -errno (-ENOSPC, -EFBIG, -EBADF, ...);
 *   - a CQE with -EINTR: that step is done again.
 * After the first error no new pair is started; the pairs in flight are
 * reaped (not abandoned: their buffers are freed only after their CQEs),
 * and the first error is returned.
 *
 * Returns 0 when all `size` bytes are written (size 0: nothing to do),
 * -EINVAL for u not live, size < 0, block 0 or above ULINK_MAX_BLOCK, or
 * pairs 0, -EBUSY if reads started with ulink_start_read() are in flight,
 * -ENOMEM if the buffers cannot be allocated, or the first error as above.
 * -EINTR never comes out of this function. After -EAGAIN or -EBUSY from a
 * submit with pairs of its own in the kernel, it reaps what the CQ holds or
 * waits for a completion before it submits again (io_uring_enter(2): "wait
 * for some completions and try again"). Every buffer it allocated is
 * freed on every path but one: when the ring itself fails (a liburing call
 * returns an error other than -EINTR, -EAGAIN, -EBUSY) with pairs still in
 * the kernel, their buffers are left allocated on purpose, since the kernel
 * may still write into them; that error is returned.
 */
int ulink_copy(struct ulink *u, int in_fd, int out_fd, off_t size, size_t block,
               unsigned pairs);

/*
 * ulink_exit - release the ring. Reads still in flight are cancelled and
 * reaped first (io_uring_queue_exit(3) does not wait for them, and their
 * buffers would be written after the caller freed them). Safe to call twice,
 * and after a failed ulink_init().
 */
void ulink_exit(struct ulink *u);

#endif /* COURSE_ULINK_H */
