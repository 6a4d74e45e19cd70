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
 * Replace each "return -ENOSYS" as you solve its TODO. A failing test names
 * the TODO and a lesson section; deeper hints for each test (the man page
 * passage, then the shape of the fix in words) come with
 * `make hint T=06.NN`, one level per call.
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
	 * TODO 1: set up b's ring and record the SQ and CQ sizes the kernel
	 * actually gave, which are not always what was asked for.
	 * Why the sizes matter: the CQ size bounds the window of every later
	 * ubatch_read (lesson, section 4), and the kernel rounds entries up.
	 * man 3 io_uring_queue_init says which variant lets you read back what
	 * io_uring_setup(2) filled in, and what it returns on failure (the
	 * error is in the return value, never in errno). The contract
	 * (ubatch.h) wants b->live to read 0 after every failure, whatever
	 * was in *b before. Set-up flags are optional (lesson, section 8); if
	 * you ask for some, a kernel that does not know them says -EINVAL,
	 * and the ring must then be set up without them.
	 */
	(void)b;
	(void)entries;
	return -ENOSYS;
}

void ubatch_exit(struct ubatch *b)
{
	/*
	 * TODO 2: release what a successful ubatch_init acquired (the mapping
	 * and the ring's fd: man 3 io_uring_queue_exit). Calling it twice, or
	 * after a failed ubatch_init, must do nothing: a second teardown of the
	 * same ring would close an fd that may belong to someone else by then.
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
 * ubatch_read() is a loop of trips, each made of the steps below (lesson,
 * section 5, the window diagram); small static helpers keep each step
 * readable. The call is over when every request has been started and none
 * is in flight.
 *
 * TODO 4 (fill): start requests while the window has room and requests
 *  remain. Some requests need no I/O at all: the contract in ubatch.h says
 *  which, what their res is, and in which order the two cases are checked.
 *  Why a negative offset never reaches the kernel: read what offset -1
 *  means in man 3 io_uring_prep_read (lesson, section 6).
 *  The SQ can be smaller than the window, so getting an SQE can fail:
 *  man 3 io_uring_get_sqe, RETURN VALUE, says what you must do before you
 *  can get one (lesson, section 3). Writing through a NULL SQE crashes;
 *  giving up there leaves requests undone.
 *
 * TODO 5 (prep): prepare the read of what a request still lacks, tagged so
 *  that its CQE can be traced back to it. The same helper serves the first
 *  read and every continuation of a short read, so think of "what is still
 *  missing" as a place in the file, a place in the buffer and a length.
 *  Pitfalls: offsets go beyond 4 GiB and lengths beyond 2 and 4 GiB, but an
 *  SQE's length is 32 bits and one read moves at most 0x7ffff000 bytes
 *  (man 2 read, NOTES; lesson, section 6).
 *  man 3 io_uring_prep_read, man 3 io_uring_sqe_set_data.
 *
 * TODO 6 (wait): hand every queued SQE to the kernel and wait for at least
 *  one completion, in ONE system call per trip: the grader's budget is
 *  2 * ceil(n / qd) + 2 calls for n cached reads (lesson, section 1 and
 *  "Hints"). A negative answer is an error of the ring, not of a request;
 *  man 2 io_uring_enter, ERRORS, and the lesson's section 7 table say which
 *  ones are waited out, which are retried and how, and which end the
 *  batch. -EINTR never reaches the caller. Retrying -EAGAIN at once only
 *  spins. Ending the batch early still leaves reads in the kernel, writing
 *  into the caller's buffers: the contract says what must happen to them.
 *  Never wait when nothing is queued or in the kernel: that waits forever.
 *
 * TODO 7 (reap): handle every CQE that is ready, then tell the kernel once
 *  how many you consumed. Why once: each report is a store the kernel
 *  watches, and a CQE you forget to report comes back again, one reported
 *  twice makes you skip another (man 3 io_uring_cq_advance; the macro
 *  io_uring_for_each_cqe in liburing.h; lesson, section 2). Copy what you
 *  need out of a CQE before its slot is handed back.
 *
 * TODO 8 (complete): decide what one CQE means for its request. CQEs come
 *  back in any order (man 7 io_uring). A CQE's res can mean "finished",
 *  "go on with the rest" or "do the same read again": ubatch.h, under "Per
 *  request", lists every case, and the lesson's sections 6 and 7 explain
 *  them (short reads, end of file, an error after partial progress, -EINTR
 *  in a CQE). A request leaves the window only when it is finished.
 *  If its next read finds no free SQE, you are inside the reaping pass:
 *  the lesson's "Hints" (Window) says why you must not submit there.
 */
int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	/*
	 * TODO 3: check the arguments as ubatch.h says, then run the loop
	 * above through b's own ring (this call never sets a ring up or tears
	 * one down: that is what makes many batches through one ring cheap,
	 * lesson, section 8).
	 * The window: why it can never exceed the CQ size is the lesson's
	 * section 4; qd itself may be 1 << 20 or UINT_MAX. One slow read must
	 * not hold back the others (section 5).
	 * The grader counts your heap blocks on every path and makes malloc
	 * fail: if you allocate, every return frees it. A request's res can
	 * hold its progress while it runs.
	 * On return the ring must be ready for the next call: nothing left in
	 * the CQ or the SQ (man 3 io_uring_cq_ready).
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
	 * TODO 9: the course's shared one-call shape (batch_read_fn in
	 * chapters/common/batch.h) built from the three functions above.
	 * The contract is ubatch.h, ubatch_batch_read: the arguments, the size
	 * of the ring, and "no ring or fd is left behind on any path".
	 * Lesson, section 8.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
