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
 * slots, each serving one request at a time and remembering how far that
 * request got and whether its read is in flight; then a loop that fills
 * free slots, submits, sleeps until a read finishes, and collects what
 * finished (lesson section 12). Small functions, one per step, keep the
 * states of a slot easy to follow.
 *
 * Every function returns 0 or a negated errno value; POSIX aio itself uses
 * two other conventions (lesson section 2), so convert at once. Replace
 * "return -ENOSYS" once the TODOs are done. A failing test names the TODO
 * and a lesson section; deeper hints for each test (the man page passage,
 * then the shape of the fix in words) come with `make hint T=03.NN`, one
 * level per call.
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
	 * TODO 1: refuse a call that cannot describe a batch, and do nothing
	 * for an empty one. Which arguments are which is in batch.h and in
	 * paio.h (paio_batch_read, "Returns"); the checks come before any
	 * allocation.
	 *
	 * TODO 2: set up the window: one slot per read that may be in flight,
	 * and beside the slots the list that aio_suspend(3) waits on. How many
	 * slots: paio.h (qd, and why PAIO_MAX_INFLIGHT exists). Why one
	 * allocation that never moves: glibc keeps a pointer to each aiocb
	 * until you collect its read (aio(7), NOTES; lesson section 1, rule 2).
	 * Running out of memory is -ENOMEM, with nothing leaked.
	 *
	 * TODO 3: give free slots the next requests. Some requests need no I/O
	 * at all and are answered here (paio.h, "Result of each request": which
	 * ones, with what, and which check comes first); they must not leave a
	 * slot empty while requests are left (lesson section 10, pitfall 31).
	 *
	 * TODO 4: describe, in a slot's aiocb, the part of its request that is
	 * still missing: after a short read that is not the whole request
	 * (lesson section 2). Two traps the tests check: glibc refuses a
	 * control block with leftovers in it, and the notification field's
	 * value 0 is not "none" in glibc (aio(7), sigevent(7); lesson section
	 * 1, rule 1). Offsets pass 4 GiB.
	 *
	 * TODO 5: submit a slot with aio_read(3). Read its RETURN VALUE and
	 * ERRORS: an accepted read is in flight and belongs in the wait list;
	 * a refused one was never queued. EAGAIN ("out of resources") is not
	 * the request's answer (TODO 8); any other refusal is, and the batch
	 * goes on: the refused request's slot takes the next request before
	 * you sleep (pitfall 31).
	 *
	 * TODO 6: sleep until at least one of your reads finished, with
	 * aio_suspend(3) on the list of reads in flight and no timeout. Know
	 * which of its failures is not an error at all (aio_suspend(3) ERRORS,
	 * signal(7); lesson section 3), and why a list entry must not outlive
	 * its read. Never poll instead: the tests answer pipes only while you
	 * sleep in aio_suspend. (Waking less often is optional and comes with
	 * rules: paio.h, the aio_suspend rule; lesson section 3.)
	 *
	 * TODO 7: collect finished reads. aio_error(3) tells which of your
	 * reads finished and how; aio_return(3) gives the count, and its man
	 * page says when and how often you may call it. Then decide what the
	 * request's state is now: failed, at end of file, complete, or short
	 * and to be continued (paio.h, "Result of each request"; lesson
	 * section 2, the life of a request). Mind the convention: aio_error
	 * returns the error number itself.
	 *
	 * TODO 8: aio_read saying EAGAIN. With reads of yours in flight, one of
	 * them finishing is what frees resources; with none in flight, nothing
	 * will, so pause before each new try and give up after a bounded
	 * number of tries in a row. The numbers the tests hold you to are in
	 * paio.h (the EAGAIN rule); lesson section 11.
	 *
	 * TODO 9: when paio_batch_read returns, on every path (errors
	 * included), none of its reads is still in flight and nothing it
	 * allocated is left (paio.h, "Returns"; lesson section 10, pitfall 11).
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
