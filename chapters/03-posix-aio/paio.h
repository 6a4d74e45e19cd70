/*
 * paio.h - chapter 03: POSIX aio, and the thread pool it hides.
 *
 * The contract for the chapter's two modules. The reference implementations
 * are solutions/03-posix-aio/paio.c and solutions/03-posix-aio/tpool.c, the
 * learner's are exercises/03-posix-aio/paio.c and exercises/03-posix-aio/
 * tpool.c; the demo (chapters/03-posix-aio/demo.c) and the tests are linked
 * with either. No extra library: since glibc 2.34 POSIX aio lives in libc
 * itself (older systems need -lrt); the pool needs -pthread.
 *
 * Part A, paio_batch_read: the course's batch of reads (batch.h) through
 * glibc's POSIX aio (aio_read, aio_suspend, aio_error, aio_return).
 *
 * Part B, tpool_*: "build your own". glibc implements POSIX aio in user
 * space, with helper threads that call pread(2) and then mark the request
 * done. Part B is that machinery, written by you: a pool of threads that
 * take read requests from a queue, make the blocking calls, store the
 * results and wake the thread that waits for them.
 *
 * Conventions used by every function here
 * ---------------------------------------
 *  - Failure is reported as a negated errno value (-EINVAL, -EBADF, ...),
 *    never through errno, and never by exiting the process.
 *    Note the three conventions you meet on the way: aio_read, aio_suspend
 *    and aio_return return -1 and set errno; aio_error RETURNS the error
 *    number (positive: 0, EINPROGRESS, EBADF, ECANCELED, ...); pthread_*
 *    functions return the error number (positive) and leave errno alone.
 *  - Nothing here keeps a pointer to caller memory after it returns.
 *  - The argument checks come before "n == 0 returns 0": qd == 0 (and
 *    p == NULL for the pool) is -EINVAL whatever n is, as in chapter 01.
 *  - Pipes, FIFOs and sockets: pread(2) on them fails with ESPIPE. glibc's
 *    aio then calls read(2) instead and ignores aio_offset (its helper
 *    thread does exactly that), so paio_batch_read reads pipes. The pool
 *    does the same on purpose: when pread fails with ESPIPE before any byte
 *    of the request was read, the request is read with read(2) from the
 *    descriptor's current position, and offset is ignored. This extends
 *    batch.h for this chapter only (chapters 01, 02, 05 report -ESPIPE),
 *    and it is what lets the tests prove that the pool runs requests in
 *    parallel: reads on pipes that the harness answers in reverse order
 *    finish only if they are all waiting at the same time.
 *
 * Result of each request (both parts), in reqs[i].res
 * ---------------------------------------------------
 *  - bytes read: len, or fewer only when end of file came first (0 when
 *    offset is at or past the end; for a pipe, when every writer closed).
 *    A read that returns 0 < r < remaining before EOF is continued
 *    (offset + done, buf + done, len - done) until len bytes or EOF.
 *  - -errno for that request alone (-EBADF, -EISDIR, -EFAULT, -EIO, ...).
 *    A read that fails after some bytes arrived reports the error, not the
 *    partial count (a short count would claim end of file).
 *  - len == 0: res = 0 and no I/O at all (even for a bad fd), like
 *    pread_full() in chapter 01.
 *  - offset < 0, or len > SSIZE_MAX: res = -EINVAL, no I/O (this check
 *    comes first: offset -1 with len 0 is -EINVAL).
 *  - Every request gets its res, whatever happens to the others, in any
 *    order: res lands in the request it belongs to.
 */
#ifndef COURSE_PAIO_H
#define COURSE_PAIO_H

#include <stddef.h>
#include "batch.h"

/* ------------------------------------------------------------------------ */
/* Part A: the batch read through POSIX aio                                  */
/* ------------------------------------------------------------------------ */

/*
 * The most requests paio_batch_read keeps in flight, whatever qd says.
 * glibc's aio_suspend(3) puts two arrays of nent entries on the caller's
 * stack (about 40 bytes an entry): a list of 65536 would be 2.6 MB of
 * stack, more than many threads have.
 */
#define PAIO_MAX_INFLIGHT 1024u

/*
 * paio_batch_read - read every request of a batch through POSIX aio.
 *
 *  reqs, n  the requests (batch.h); the caller owns reqs and every buffer.
 *  qd       at most min(qd, n, PAIO_MAX_INFLIGHT) requests are in flight
 *           at any moment. "In flight" means: aio_read() accepted it and
 *           aio_return() has not been called for it yet. The window is
 *           refilled as completions arrive: when one request finishes and
 *           others are waiting, the next one is submitted before waiting
 *           again, without waiting for the rest of the window to drain.
 *           Waiting is any way of letting time pass: aio_suspend, a pause
 *           (nanosleep, sched_yield, poll, ...) or aio_error asked again
 *           and again about reads still in progress.
 *           "Next" is in the order of the array: requests enter the
 *           window reqs[0] first, each refill taking the first request
 *           not yet taken (the tests answer reads on pipes in that
 *           order); they may finish in any order.
 *
 * Returns 0 when every request has its res. Returns a negated errno when
 * the batch as a whole could not run, and then the res fields are
 * unspecified:
 *   -EINVAL  qd == 0, or reqs == NULL with n > 0;
 *   -ENOMEM  no memory for the bookkeeping;
 *   -EAGAIN  aio_read kept failing with EAGAIN while nothing of this batch
 *            was in flight (see below);
 *   other    aio_suspend failed with something other than EINTR.
 * Even then it returns only after every read it started has finished and
 * been collected with aio_return: glibc's helper threads write into the
 * aiocbs and the buffers, so returning earlier would let them write into
 * freed memory.
 * n == 0 returns 0 and calls nothing.
 * Several threads may call paio_batch_read at the same time, each with its
 * own requests: a call keeps its window in memory of its own, not in static
 * variables.
 *
 * Rules (the tests count and refuse calls through link seams):
 *  - Every read and every continuation of a short read is submitted with
 *    aio_read(3), one aiocb per request in flight. read, pread, preadv,
 *    readv and lio_listio are NOT allowed (lio_listio is taught in the
 *    lesson; here the tests count aio_read calls). Do not create threads:
 *    glibc makes its own.
 *  - Each aiocb is zeroed (memset) before it is filled: glibc refuses a
 *    garbage aio_reqprio with EINVAL. aio_sigevent.sigev_notify is
 *    SIGEV_NONE: no signal and no thread per completion (SIGEV_SIGNAL is
 *    0 in glibc, so a zeroed aiocb asks for a signal 0: say NONE).
 *  - An aiocb stays at the same address and is not touched while its read
 *    is in flight (glibc keeps a pointer to it).
 *  - Wait with aio_suspend(3) on the list of aiocbs in flight (NULL
 *    entries are allowed and ignored), never by calling aio_error in a
 *    loop: the tests answer reads on pipes only once your code sleeps
 *    inside aio_suspend. Only reads in flight belong in the list: glibc
 *    returns at once when an entry is no longer in progress, so an entry
 *    left there after aio_return turns every wait into a busy loop (the
 *    tests allow at most one aio_suspend call per accepted aio_read, plus
 *    one per EINTR and one per timed wait that ran out). Pass NULL as the
 *    timeout. One exception, optional (lesson section 3, "Waking less
 *    often"): a wait on only some of the reads in flight, to collect
 *    several per wake-up, must have a timeout (an interval, not a deadline:
 *    aio_suspend(3); short: the tests refuse more than a second), and once such a wait runs
 *    out (EAGAIN), every later wait of the batch is on all the reads in
 *    flight with NULL. Such a wait is on older reads, with newer ones in
 *    flight behind it: a wait on some of the reads never holds the newest
 *    read in flight (glibc runs one descriptor's reads in order, so a wait
 *    on the newest is a wait for the whole window to drain). A read that does not come
 *    back must not hold up the others: the tests hold reads on pipes until
 *    every other read of the batch was collected. The tests take a
 *    timeout, whatever its length, as run out at once when a pipe read is
 *    in the list and nothing in it has finished (a wait on file reads
 *    alone is a real one), and allow one timed wait per batch to run out,
 *    so a loop of timed waits counts as polling, on any machine.
 *    aio_suspend failing with EINTR (a signal handler
 *    installed without SA_RESTART ran while it waited) is not an error:
 *    wait again.
 *  - After aio_suspend returns, find the finished requests with
 *    aio_error(3) (EINPROGRESS: still running; 0: done; a positive errno:
 *    failed) and call aio_return(3) EXACTLY ONCE for every aio_read that
 *    returned 0, after aio_error stopped saying EINPROGRESS and before the
 *    aiocb is reused or freed. Never for a read aio_read refused.
 *  - aio_read failing with EAGAIN (out of resources) is not a failure of
 *    the request: wait for a request of the batch to finish (aio_suspend),
 *    then submit again; never call aio_read again before that (the tests
 *    allow at most qd EAGAINs in a row without an aio_suspend or an
 *    aio_return in between). If none is in flight, pause briefly
 *    (nanosleep, usleep, clock_nanosleep, poll or select for a non-zero
 *    time; the tests allow at most qd such EAGAINs in a row without a
 *    pause in between) and try again: the tests inject up to 3 EAGAINs in
 *    a row with nothing in flight and expect the batch to succeed, also
 *    when that happens again to every request of the batch (count the
 *    tries in a row: an accepted aio_read starts the count again); an
 *    EAGAIN that never ends must end the batch with -EAGAIN after a
 *    bounded number of tries, within 2 seconds (the reference pauses 1,
 *    2, 4 ... 128 ms: about a quarter of a second), and not before the
 *    pauses since the last accepted read add up to 1 ms (the tests
 *    refuse aio_read until then).
 *  - aio_read failing with any other errno (EBADF, EINVAL, ...) is that
 *    request's result (-errno); the other requests go on.
 *  - No fd is opened or closed; no memory outlives the call.
 */
int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd);

/* ------------------------------------------------------------------------ */
/* Part B: build your own - a thread pool of blocking reads                  */
/* ------------------------------------------------------------------------ */

/* tpool_create accepts 1..TPOOL_MAX_THREADS threads. */
#define TPOOL_MAX_THREADS 256u

/* Opaque: you define it in tpool.c. */
struct tpool;

/*
 * tpool_create - start a pool of nthreads worker threads.
 *
 *  out       receives the pool (unchanged on failure).
 *  nthreads  1..TPOOL_MAX_THREADS.
 *
 * Starts exactly nthreads threads with pthread_create(3) before it returns
 * (the tests count /proc/self/task and the pthread_create calls). Each
 * worker waits on a condition variable for work: an idle pool uses no CPU.
 * Workers run with every signal blocked (create them while the creating
 * thread blocks all signals: a new thread inherits the mask; see
 * pthread_sigmask(3)), so a process-directed signal is handled by one of
 * the caller's threads, never by a worker in the middle of a read.
 * Several threads may create pools at the same time: each gets its own mask
 * back (the mask saved around the creation belongs to the call).
 *
 * Returns 0, or:
 *   -EINVAL  out == NULL, nthreads == 0 or > TPOOL_MAX_THREADS;
 *   -ENOMEM  no memory;
 *   -errno   pthread_create (or pthread_mutex_init / pthread_cond_init)
 *            failed, e.g. -EAGAIN: the threads already started are stopped
 *            and joined and everything is freed before returning, so a
 *            failed create leaves no thread and no memory behind.
 */
int tpool_create(struct tpool **out, unsigned nthreads);

/*
 * tpool_batch_read - the batch of reads (batch.h) through the pool.
 *
 *  p        a pool from tpool_create.
 *  reqs, n  the requests, as in paio_batch_read (same results, including
 *           the ESPIPE rule above: pipes are read with read(2)).
 *  qd       at most min(qd, n) requests of this batch are queued or being
 *           read at any moment; they run in parallel on up to
 *           min(qd, n, nthreads) workers. When one finishes and requests
 *           are left, the next one is queued (or taken on by the worker
 *           that finished) at once. As in paio_batch_read, a batch's
 *           requests are taken in the order of the array.
 *
 * Each worker takes a request, reads it completely with pread(2) (read(2)
 * after ESPIPE) - continuing short reads, retrying EINTR - and stores
 * res. The caller sleeps on a condition variable while it waits, woken by
 * the workers: no polling, no sleep(). Returns 0 when every request has its
 * res; -EINVAL for p == NULL, qd == 0, or reqs == NULL with n > 0;
 * -ENOMEM, or the negated error of pthread_cond_init (then the res fields
 * are unspecified and nothing was queued). n == 0 returns 0.
 *
 * Synchronisation: every wait on a condition variable is in a while loop
 * on its condition (POSIX allows spurious wake-ups: the tests give every
 * thread some); the queue and every batch's bookkeeping are read and
 * changed only with the lock held, and a waiter is signalled after the
 * state it waits for has changed. The tests wake waiters spuriously and
 * take each lock only once the pool's other threads sleep: a wait that is
 * not in a loop, or a wake-up that can be lost, fails every time.
 *
 * Several threads may call tpool_batch_read on the same pool at the same
 * time; each call returns when its own requests are done, and never
 * before (the workers must be finished with its reqs and buffers). The
 * batches take turns: when a request finishes while requests of other
 * batches wait in the queue, its batch's next request goes behind them,
 * so that one long batch cannot keep the workers to itself.
 *
 * Rules: reads are made by the pool's workers with pread(2), or read(2)
 * after ESPIPE; aio_* and lio_listio are NOT allowed (this part replaces
 * them); tpool_batch_read creates no threads (the workers exist already)
 * and opens no fd.
 */
int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n,
		     unsigned qd);

/*
 * tpool_destroy - stop the workers and free the pool.
 *
 * Wakes every worker, lets it finish and exit, joins it with
 * pthread_join(3) (no detached threads: when tpool_destroy returns, every
 * worker has ended) and frees everything tpool_create allocated.
 * p == NULL does nothing. Calling it while a tpool_batch_read on the same
 * pool is still running is a caller error.
 */
void tpool_destroy(struct tpool *p);

/*
 * tpool_batch_read_once - the batch-read shape (batch_read_fn) of part B,
 * for the shared tests and any caller of batch.h: creates a pool of
 * min(qd, n, TPOOL_MAX_THREADS) threads, runs tpool_batch_read with qd,
 * destroys the pool, and returns the first error of the three (-EINVAL
 * for qd == 0 or reqs == NULL with n > 0; n == 0 returns 0 and creates
 * nothing).
 */
int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd);

#endif /* COURSE_PAIO_H */
