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
 *   caller (tpool_batch_read)              workers (nthreads of them)
 *   lock                                   lock
 *   queue requests while a slot is free    while queue empty and not stopping:
 *   signal(work)              --------->       cond_wait(work)
 *   cond_wait(batch.done)                  take a job; unlock
 *   ...                                    read it completely (no lock held!)
 *   until its requests are all done  <---  lock; store res; free the slot;
 *   unlock                                 signal(batch.done)
 *
 * Replace each "return -ENOSYS" as you solve its TODO.
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
 * TODO 10: define the pool: a pthread_mutex_t, a pthread_cond_t "work"
 * (a job was queued, or stopping was set), a queue of jobs (head and tail
 * of a linked list), a bool stopping, the number of threads started and
 * their pthread_t ids (a flexible array member sized by tpool_create).
 * A job is one request plus the batch it belongs to; a batch (one call of
 * tpool_batch_read, on the caller's stack) has its own condition variable
 * "done", its free job slots and a count of requests queued or running.
 */
struct tpool {
	int todo;  /* replace with the fields above */
};

int tpool_create(struct tpool **out, unsigned nthreads)
{
	/*
	 * TODO 11: check the arguments (out == NULL, nthreads == 0 or more
	 * than TPOOL_MAX_THREADS: -EINVAL); allocate the pool (-ENOMEM);
	 * pthread_mutex_init and pthread_cond_init (they return a positive
	 * error number: return it negated). Then start the workers:
	 *  - block every signal first (sigfillset, pthread_sigmask(SIG_SETMASK,
	 *    &all, &old)): a new thread inherits the mask of its creator, so
	 *    the workers never run a signal handler in the middle of a read;
	 *  - pthread_create nthreads times (worker_main of TODO 12);
	 *  - restore the old mask.
	 * If a pthread_create fails (with any error, not only EAGAIN): stop
	 * and pthread_join the threads already started (as tpool_destroy
	 * does), free everything, leave *out alone, and return the error
	 * negated (e.g. -EAGAIN).
	 * pthread_create(3), pthread_sigmask(3).
	 *
	 * TODO 12 (a static function, the workers' start routine): lock; loop:
	 * while the queue is empty and not stopping, pthread_cond_wait(work);
	 * if the queue is empty (so stopping): unlock and return. Take the
	 * first job, UNLOCK, read it (TODO 13), LOCK, store res, give the job
	 * slot back to its batch, decrement the batch's count and signal its
	 * "done" condition - in that order, all with the lock held (a signal
	 * sent before the change can be lost). Wait in a while loop: POSIX
	 * allows spurious wake-ups, and the tests make them happen. Never hold the lock during the read: the pool
	 * would read one request at a time. pthread_cond_wait(3).
	 *
	 * TODO 13 (a static function): read one request completely, like
	 * pread_full in chapter 01: offset < 0 or len > SSIZE_MAX is -EINVAL
	 * (checked first: offset -1 with len 0 is -EINVAL); len 0 is 0 with
	 * no I/O; pread(2) at offset + done into buf + done until len bytes or
	 * end of file (0); -1 with EINTR: try again; -1 with ESPIPE before any
	 * byte (a pipe or a socket): continue with read(2), which ignores the
	 * offset; any other -1: return -errno. Return the bytes read.
	 */
	(void)out;
	(void)nthreads;
	return -ENOSYS;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 14: p == NULL, qd == 0, or reqs == NULL with n > 0: -EINVAL;
	 * n == 0: return 0. Allocate min(qd, n) job slots (the batch's queue
	 * depth) and init the batch's "done" condition. Lock; loop: while a
	 * slot is free and requests are left, give it the next request,
	 * append it to the pool's queue and signal "work"; if every request
	 * was queued and the batch's count is 0, stop; else
	 * pthread_cond_wait(done) - the check and the wait with the lock held
	 * throughout, in a loop. Unlock, destroy the condition, free the
	 * slots, return 0. Return only when every request of THIS batch has
	 * its res: an empty queue is not enough (workers may still be reading),
	 * and other callers' requests are none of your business.
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
	 * TODO 15: p == NULL does nothing. Lock, set stopping, broadcast
	 * "work" (every worker must wake, not just one), unlock; then
	 * pthread_join every worker (never detach: when tpool_destroy returns,
	 * no worker may be running); destroy the mutex and the condition;
	 * free the pool. pthread_join(3), pthread_cond_broadcast(3).
	 */
	(void)p;
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 16: qd == 0, or reqs == NULL with n > 0: -EINVAL; n == 0:
	 * return 0 without creating anything. Otherwise tpool_create a pool
	 * of min(qd, n, TPOOL_MAX_THREADS) threads, tpool_batch_read with qd,
	 * tpool_destroy, and return the first error of the three.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
