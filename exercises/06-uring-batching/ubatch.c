/*
 * ubatch.c - chapter 06 exercise: a batch of reads through one io_uring,
 * with a queue-depth window, many SQEs per submit and many CQEs per reap.
 *
 * Read chapters/06-uring-batching/README.md first; the contract (what each
 * function must return) is in chapters/06-uring-batching/ubatch.h, the
 * request type in chapters/common/batch.h.
 * Grade your work with:   make check CH=06
 * Try it in a real tool:  make run CH=06 ARGS="--qd 32 /tmp/lab/f"
 *
 * Every function returns 0 (or a count) or -errno. liburing returns -errno
 * itself: never read errno after a liburing call, never return -1.
 * Replace each "return -ENOSYS" as you solve its TODO.
 *
 * Rules (the grader enforces them): every read goes through the ring
 * (read, pread, readv, preadv, preadv2 are refused); ubatch_read() never sets
 * up or tears down a ring; liburing 2.3 API only; no threads, no sleeping.
 */
#define _GNU_SOURCE
#include "ubatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int ubatch_init(struct ubatch *b, unsigned entries)
{
	/*
	 * TODO 1: set up the ring (lesson, sections 3 and 4).
	 *  - b == NULL or entries == 0: -EINVAL. Clear *b first (memset), so
	 *    that b->live is 0 on every failure;
	 *  - struct io_uring_params p = { 0 };
	 *    ret = io_uring_queue_init_params(entries, &b->ring, &p);
	 *    a negative ret is already -errno (-EINVAL for entries > 32768,
	 *    -ENOMEM when RLIMIT_MEMLOCK is too small): return it as it is;
	 *  - record the sizes the kernel gave: b->sq_entries = p.sq_entries,
	 *    b->cq_entries = p.cq_entries (2 x sq_entries), then b->live = 1.
	 * man 3 io_uring_queue_init, man 2 io_uring_setup ("cq_entries").
	 */
	(void)b;
	(void)entries;
	return -ENOSYS;
}

void ubatch_exit(struct ubatch *b)
{
	/*
	 * TODO 2: if b is live, io_uring_queue_exit(&b->ring) and b->live = 0.
	 * Calling it twice, or after a failed ubatch_init, must do nothing.
	 * man 3 io_uring_queue_exit.
	 */
	(void)b;
}

/*
 * The state of one ubatch_read() call: a suggestion, change it as you like.
 * While a request is running, reqs[i].res can hold the bytes it has read so
 * far: then the call needs no memory of its own.
 */
struct run {
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n;
	size_t next;       /* first request not started yet                  */
	unsigned inflight; /* started, and its final CQE not reaped yet      */
	unsigned window;   /* most requests in flight: min(qd, cq_entries)   */
};

/*
 * Write ubatch_read() as a loop of small static helpers (lesson, section 5):
 *
 *     for (;;) { fill; if nothing is in flight: done; wait; reap; }
 *
 * TODO 4 (fill): start requests while inflight < window and requests remain.
 *  - offset < 0: res = -EINVAL, no I/O (for io_uring, offset -1 means "the
 *    file position", and the kernel would move it: lesson, section 6);
 *  - len == 0: res = 0, no I/O;
 *  - otherwise sqe = io_uring_get_sqe(ring). NULL means the SQ is full:
 *    io_uring_submit(ring) what is queued, then get again (and if that still
 *    fails, stop filling: the wait step submits). Never use a NULL sqe.
 *  man 3 io_uring_get_sqe, man 3 io_uring_submit (lesson, section 3).
 *
 * TODO 5 (prep): the read of what request i still lacks:
 *    io_uring_prep_read(sqe, fd, buf + done, len - done, offset + done);
 *    io_uring_sqe_set_data64(sqe, i);      user_data = the request's index
 *  Offsets and lengths are 64-bit: keep them in off_t / size_t. An SQE's
 *  len is 32 bits and one read moves at most 0x7ffff000 bytes: ask for at
 *  most a chunk (say 1 GiB) and let the short read go on (lesson, section 6).
 *  man 3 io_uring_prep_read, man 3 io_uring_sqe_set_data.
 *
 * TODO 6 (wait): io_uring_submit_and_wait(ring, 1): one system call that
 *  submits every queued SQE and waits for at least one completion.
 *  - -EINTR: a signal came while waiting; call it again (never return it);
 *  - -EAGAIN or -EBUSY: reap what is there, or wait for a read the kernel
 *    already has (io_uring_wait_cqe), then try again: submitting again at
 *    once only spins; give up after a few rounds without progress. Never
 *    wait when nothing is queued or in the kernel;
 *  - any other negative value: the batch cannot go on (return it, after
 *    waiting for the reads the kernel already has: they write into the
 *    caller's buffers).
 *  man 3 io_uring_submit_and_wait, man 2 io_uring_enter ("ERRORS").
 *  Budget: a batch of n cached reads at depth qd may enter the kernel at
 *  most 2 * ceil(n / qd) + 2 times (lesson, "Hints").
 *
 * TODO 7 (reap): every CQE that is ready, in one pass, then ONE advance:
 *    io_uring_for_each_cqe(ring, head, cqe) { complete(cqe); seen++; }
 *    io_uring_cq_advance(ring, seen);
 *  Forgetting the advance hands you the same CQEs again.
 *  man 3 io_uring_cq_advance (lesson, section 2).
 *
 * TODO 8 (complete): the CQE's request is reqs[io_uring_cqe_get_data64(cqe)]
 *  (CQEs come back in any order: never assume the k-th CQE is request k).
 *  - res > 0 and still short of len: add it to done and queue the rest
 *    (TODO 5: offset AND buffer advanced); the request stays in flight;
 *  - res == 0: end of file, the request is finished with what it has;
 *  - res == -EINTR: queue the same read again (it is not a result);
 *  - other res < 0: that request's result, even if an earlier part of it
 *    was read (an error after partial progress is -errno, never the bytes
 *    so far); the others go on;
 *  - finished: inflight--, so that fill can start another one.
 *  man 3 io_uring_cqe_get_data (lesson, sections 6 and 7).
 */
int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	/*
	 * TODO 3: check the arguments, then run the loop above.
	 *  - b == NULL, !b->live, qd == 0, or reqs == NULL with n > 0: -EINVAL;
	 *    n == 0: return 0 without entering the kernel;
	 *  - window = min(qd, b->cq_entries): never more requests in flight
	 *    than the CQ has slots, so it cannot overflow (lesson, section 4);
	 *    qd may be 1 << 20 or UINT_MAX;
	 *  - refill the window as reads complete, one slot at a time: one slow
	 *    read must not hold back the others (lesson, section 5);
	 *  - whatever you allocate, free it on every path (the grader counts
	 *    the blocks; a NULL from malloc is -ENOMEM). res can hold the
	 *    progress, so no memory is needed at all;
	 *  - use b->ring: no io_uring_queue_init here (the grader counts);
	 *  - return 0 when every request has its res, with the CQ and the SQ
	 *    both empty (io_uring_cq_ready == io_uring_sq_ready == 0).
	 */
	(void)b;
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 9: the shared shape (batch_read_fn in batch.h) around one ring.
	 *  - qd == 0 or reqs == NULL with n > 0: -EINVAL; n == 0: 0, no ring;
	 *  - ubatch_init with min(qd, n, UBATCH_MAX_ENTRIES) entries (on
	 *    -ENOMEM you may halve the size and try again), ubatch_read, then
	 *    ubatch_exit on EVERY path, also when ubatch_read fails: a ring
	 *    left behind is a leaked fd.
	 * Lesson, section 8 ("One ring for many batches").
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
