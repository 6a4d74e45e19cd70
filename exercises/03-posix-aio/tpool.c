/*
 * tpool.c - chapter 03 exercise, part B: build your own - the machinery
 * glibc's POSIX aio hides, as a pool of threads making blocking preads.
 *
 * Read chapters/03-posix-aio/README.md first (sections 7, 8 and 11); the
 * contract is chapters/03-posix-aio/paio.h (part B).
 * Grade your work with:   make check CH=03
 * Try it in a real tool:  make run CH=03 ARGS="--pool 4 --bs 1000 /etc/services"
 *
 * Allowed: pthread_* (mutex, condition variables, create, join, sigmask),
 * pread, and read after ESPIPE, malloc and free. Refused by the tests:
 * aio_* and lio_listio (this part replaces them). No polling and no
 * sleep() while waiting: sleep on a condition variable.
 *
 * Who does what: the caller of tpool_batch_read hands requests out and
 * sleeps until its own are done; the workers, started once by tpool_create,
 * take requests from a shared queue, make the blocking reads, store the
 * results and see that the caller is woken. Lesson section 8 draws one way
 * to share the work and gives the reasons for each choice.
 *
 * pthread_* functions return the error number (positive); every function
 * here returns it negated. Replace each "return -ENOSYS" as you solve its
 * TODO. A failing test names the TODO and a lesson section; deeper hints
 * for each test (the man page passage, then the shape of the fix in words)
 * come with `make hint T=03.NN`, one level per call.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * TODO 10: define the pool's state. Decide what the workers and every
 * caller share (the queue of work, whether the pool is stopping, the
 * threads to join later) and what belongs to one call of
 * tpool_batch_read only (its requests' progress, its own way to be woken:
 * other callers' requests are none of its business). One mutex protects
 * all of the shared part; write down, beside each field, who may read or
 * change it and with which lock held. Lesson section 8, "The decisions".
 */
struct tpool {
	int todo;  /* replace with the pool's fields (TODO 10) */
};

int tpool_create(struct tpool **out, unsigned nthreads)
{
	/*
	 * TODO 11: start a pool of exactly nthreads workers, or fail leaving
	 * nothing behind. The contract (valid arguments, what *out holds on
	 * failure, which errors to return) is in paio.h, tpool_create.
	 * Why the workers must start with every signal blocked, and why the
	 * creating thread arranges that rather than each worker: man 3
	 * pthread_create (what a new thread inherits), man 3 pthread_sigmask;
	 * the caller's own mask must be as it was afterwards. Why a creation
	 * that fails half way is the hard case: the threads already started
	 * are running and must be stopped and joined (paio.h; pitfall 22 of
	 * lesson section 10).
	 *
	 * TODO 12 (a static function, the workers' start routine): wait for
	 * work, take one job, read it (TODO 13), store the result in the batch
	 * it came from and keep that batch going (its window refilled, its
	 * caller woken when what it waits for has happened); leave when the
	 * pool stops. Who refills the window, the worker or the caller, is
	 * yours to decide: lesson section 8, "What a hand-off costs".
	 * Three rules the tests check, each with its reason in the lesson
	 * (section 8, "The decisions", and section 12): the lock is never held
	 * during a read (else the pool reads one request at a time); a wait
	 * on a condition variable may return with nothing to do (POSIX allows
	 * spurious wake-ups, pthread_cond_wait(3p)); a wake-up sent before the
	 * state it announces has changed can be lost for good.
	 *
	 * TODO 13 (a static function): read one request completely, the way
	 * chapter 01's pread_full did, with this chapter's extension for pipes
	 * and sockets: paio.h, "Pipes, FIFOs and sockets" and "Result of each
	 * request" (which checks come first, when a count is the result and
	 * when an error is). Read man 2 pread (RETURN VALUE, ERRORS) and man 2
	 * read (EINTR; NOTES on the size of one transfer). Requests reach
	 * 5 GiB and offsets pass 4 GiB: mind the types.
	 */
	(void)out;
	(void)nthreads;
	return -ENOSYS;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 14: run one batch through the pool: every request read by the
	 * workers, at most min(qd, n) of this batch's requests queued or being
	 * read at any moment, the window refilled as they finish, and the call
	 * returns only when every request of THIS batch has its res. Other
	 * callers may be running batches on the same pool at the same time,
	 * and the batches take turns: none keeps the workers to itself.
	 * The contract (arguments, return values, synchronisation rules) is in
	 * paio.h, tpool_batch_read.
	 */
	(void)p;
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}

void tpool_destroy(struct tpool *p)
{
	/*
	 * TODO 15: stop the pool. When tpool_destroy returns, no worker is
	 * running any more and everything tpool_create made is released
	 * (paio.h, tpool_destroy). Why joining and not detaching: man 3
	 * pthread_join (NOTES) and lesson section 8. Think about which workers
	 * a single wake-up reaches: every one of them must notice.
	 */
	(void)p;
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 16: the one-call form of part B, for callers of batch.h: a pool
	 * made for this batch alone, used, and gone. Its size, its argument
	 * checks and which error it returns are in paio.h,
	 * tpool_batch_read_once; n can be far larger than TPOOL_MAX_THREADS.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
