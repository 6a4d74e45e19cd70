/*
 * laio.c - chapter 02 exercise: the batch of reads through kernel AIO.
 *
 * Read chapters/02-libaio/README.md first; the contract (what each function
 * must return, what the tests check) is in chapters/02-libaio/laio.h, and
 * the request type in chapters/common/batch.h.
 * Grade your work with:   make check CH=02
 * Try it in a real tool:  make run CH=02 ARGS="--verify --qd 8 chapters/02-libaio/README.md"
 *
 * Rules (the grader enforces them): data moves only through io_submit and
 * io_getevents (pread, read, preadv... are refused, even for the rest of a
 * short read); no threads; laio_batch_read: one io context per call,
 * destroyed before you return; laio_batch_read_ctx: the caller's context,
 * never set up or destroyed by you. libaio's functions return -errno and
 * leave errno alone: use what they return, never errno. Replace each
 * "return -ENOSYS" as you solve its TODO. A failing test names the TODO
 * and a lesson section; deeper hints for each test (the man page passage,
 * then the shape of the fix in words) come with `make hint T=02.NN`, one
 * level per call.
 */
#define _GNU_SOURCE
#include "laio.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * A suggested shape (the lesson's "The batch read with a queue-depth
 * window"): one slot per request that may be in flight. A slot owns the
 * iocb the kernel is given and remembers which request it carries and how
 * many bytes of it are already in. Point iocb.data at the slot: the kernel
 * hands it back in io_event.data, whatever order reads complete in.
 *
 *   not started --refill--> pending --io_submit--> in flight --io_getevents
 *        ^                     ^                                   |
 *        |                     +---- short read / -EINTR ----------+
 *        |                                                         v
 *        +------------------ slot free again <------------- finished (res)
 *
 * Use it, change it, or ignore it: only the behaviour is graded.
 */
struct slot {
	struct iocb cb;  /* what the kernel is told; cb.data = this slot */
	size_t req;      /* index into reqs[] of the request carried     */
	size_t done;     /* bytes of that request already read           */
};

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 1: the arguments. chapters/common/batch.h and laio.h
	 *    ("Returns") say which combinations of qd, reqs and n are -EINVAL,
	 *    which is an empty batch, and what an empty batch may touch. Decide
	 *    before you allocate anything or talk to the kernel.
	 *
	 * TODO 2: the window and the io context. The window is how many
	 *    requests may be in flight at once; laio.h defines it from qd, n
	 *    and LAIO_MAX_QD, and qd can be UINT_MAX (mind the type). The
	 *    kernel will not hold you to it: it rounds io_setup's nr up and
	 *    accepts more (lesson: "Submission can be partial", pitfall 2), so
	 *    the bookkeeping you size by the window is what keeps you honest.
	 *    Size the context by the window too, not by qd or n: every context
	 *    counts against a machine-wide budget (pitfall 19). io_setup has a
	 *    precondition on the handle you pass in, and reports failure by its
	 *    return value (man 2 io_setup, DESCRIPTION, ERRORS, NOTES). Every
	 *    failure here returns with nothing left allocated (pitfall 20).
	 *
	 * TODO 3: refill. Whenever a slot is free and a request has not
	 *    started, the slot takes that request and its iocb describes the
	 *    read (man 3 io_prep_pread). The iocb must carry a way back to its
	 *    slot: completions arrive in any order (TODO 6). A prepared iocb is
	 *    not in flight until io_submit has accepted it.
	 *
	 * TODO 4: submit the prepared iocbs, as many per call as are ready
	 *    (pitfall 15). Read man 2 io_submit, RETURN VALUE, ERRORS and NOTES,
	 *    and decide what each kind of answer means for the iocbs you passed:
	 *    a count smaller than you asked (pitfall 5); "no resources now",
	 *    with and without requests of yours in flight, neither given up on
	 *    nor retried at once (pitfalls 7 and 17; laio.h gives the limits);
	 *    an interruption; and any other error, which is about one request
	 *    only, not the batch (pitfall 6).
	 *
	 * TODO 5: reap. Wait until at least one request completes, so that the
	 *    window refills while the others still run (pitfall 3), sleeping in
	 *    the kernel rather than polling (pitfall 15). A signal handler
	 *    running during the wait is not an error (pitfall 8; man 7 signal
	 *    lists io_getevents among the calls never restarted); any other
	 *    failure ends the batch. man 2 io_getevents.
	 *
	 * TODO 6: one completion: decide what it means for its request, which
	 *    you find through the event itself (pitfall 4). The contract in
	 *    laio.h ("Behaviour the tests check") is the whole specification;
	 *    the lesson's "Short reads, EOF and -EINTR inside res" and
	 *    pitfalls 9, 10, 11, 16 and 18 are the traps. Data moves only
	 *    through io_submit, for every piece of a request (pitfall 13).
	 *
	 * TODO 7: tear down. No context, memory, fd or thread outlives the call,
	 *    whichever way it ends (pitfalls 12 and 20). man 2 io_destroy says
	 *    what it does with reads still in flight, and why that makes the
	 *    caller's buffers safe.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}

int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 10: the same batch on the caller's context (laio.h,
	 *    laio_batch_read_ctx; lesson: "Keep the context"). Solve TODOs 1-7
	 *    first: this is their loop without the context's birth and death.
	 *    The context is the caller's: no io_setup, no io_destroy here, on
	 *    any path (pitfall 22). It was set up for nr_events, so the window
	 *    has one more bound than laio_batch_read's (pitfall 23). It must
	 *    be empty when you return, since the next batch's io_getevents
	 *    would take your leftovers for its own; and laio.h says what may
	 *    be left in it on the one path where it cannot be, and who cleans
	 *    up then. The argument errors have two more cases than TODO 1's.
	 *    Once this works, laio_batch_read can be io_setup + this +
	 *    io_destroy: one loop to get right instead of two.
	 */
	(void)ctx;
	(void)nr_events;
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}

void *laio_alloc_aligned(size_t len)
{
	/*
	 * TODO 8: memory fit for O_DIRECT (pitfall 14). The contract is in
	 * laio.h (laio_alloc_aligned): the alignment, the rounded size, the
	 * contents, and the sizes that get NULL. man 3 posix_memalign says how
	 * it reports failure, and it is not the usual way.
	 */
	(void)len;
	return NULL;
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	/*
	 * TODO 9: ask the kernel what O_DIRECT needs for this fd. laio.h
	 * (laio_dio_alignment) gives the outcomes: the kernel's values, the
	 * safe default when it does not say, "not supported", and errors. man 2
	 * statx: how to name a file by its fd alone, what STATX_DIOALIGN asks
	 * for, and how stx_mask tells you whether you got it. statx is a glibc
	 * function, so its failure is reported the C library way. If your
	 * headers predate Linux 6.1, the lesson's "The exercise" says what to
	 * define. A negative fd is no open file (laio.h says what it gets).
	 */
	(void)fd;
	(void)mem_align;
	(void)offset_align;
	return -ENOSYS;
}
