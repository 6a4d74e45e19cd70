/*
 * tpool.c - chapter 03, part B: the machinery glibc's POSIX aio hides.
 *
 *   caller (tpool_batch_read)              workers (nthreads of them)
 *   -------------------------              --------------------------
 *   take up to qd job slots                wait on `work` for a job
 *   job->req = next request     --queue-->  pop the job
 *   signal `work` for each                 pread until done (no lock held)
 *   wait on batch.done                     store res; while the batch has
 *                                            requests left, take the next
 *                                            one into the same slot and go on
 *                               <--------  last one out: signal batch.done
 *
 * A worker refills its own slot instead of handing it back to the caller
 * to refill: a hand-off through the caller costs two wake-ups (worker ->
 * caller -> worker) per read, which is most of the pool's cost on cached
 * data (see the lesson's "What a hand-off costs"). When other batches
 * have jobs queued, the refilled job goes to the back of the queue and the
 * worker takes the front one, so one batch cannot keep a worker to itself.
 *
 * One mutex protects the queue and every batch's bookkeeping. A worker
 * never holds it during I/O, so all workers can be blocked in pread at
 * the same time: that is the parallelism the pool exists for.
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

struct tpool_batch;

/* One request handed to the workers. Job slots belong to a batch and are
 * reused as requests finish: a batch has min(qd, n) of them. */
struct tpool_job {
	struct batch_req *req;
	struct tpool_batch *batch;
	struct tpool_job *next;  /* in the pool's queue                        */
};

/* One call of tpool_batch_read; lives on the caller's stack. */
struct tpool_batch {
	pthread_cond_t done;     /* a job of the batch came back         */
	size_t in_flight;        /* jobs queued + running               */
	struct tpool_job *free;  /* job slots the caller may refill      */
};

struct tpool {
	pthread_mutex_t lock;
	pthread_cond_t work;     /* a job was queued, or stopping was set */
	struct tpool_job *head, *tail;
	bool stopping;
	unsigned nthreads;       /* started (and to be joined)           */
	pthread_t threads[];
};

/* ---- the worker side -------------------------------------------------- */

/* Read the whole request, like pread_full in chapter 01: continue short
 * reads, retry EINTR, stop at end of file. ESPIPE (pipe, socket) before
 * any byte: read(2) from the current position instead, as glibc does. */
static ssize_t read_request(const struct batch_req *r)
{
	bool use_read = false;
	size_t done = 0;

	if (r->offset < 0 || r->len > SSIZE_MAX)
		return -EINVAL;
	while (done < r->len) {
		char *dst = (char *)r->buf + done;
		size_t want = r->len - done;
		ssize_t got = use_read ? read(r->fd, dst, want)
				       : pread(r->fd, dst, want, r->offset + (off_t)done);

		if (got > 0) {
			done += (size_t)got;
		} else if (got == 0) {
			break;                                  /* end of file */
		} else if (errno == EINTR) {
			continue;
		} else if (errno == ESPIPE && !use_read && done == 0) {
			use_read = true;
		} else {
			return -errno;
		}
	}
	return (ssize_t)done;
}

static struct tpool_job *dequeue(struct tpool *p)
{
	struct tpool_job *job = p->head;

	p->head = job->next;
	if (p->head == NULL)
		p->tail = NULL;
	return job;
}

static void enqueue_quiet(struct tpool *p, struct tpool_job *job)
{
	job->next = NULL;
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
}

static void *worker_main(void *arg)
{
	struct tpool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct tpool_job *job;
		ssize_t res;

		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->head == NULL)
			break;                  /* stopping, and nothing left */
		job = dequeue(p);
		{
			struct batch_req *req = job->req;
			struct tpool_batch *b = job->batch;

			pthread_mutex_unlock(&p->lock);
			res = read_request(req);  /* the blocking part, unlocked */
			pthread_mutex_lock(&p->lock);
			req->res = res;
			/* hand the slot back: the caller refills it */
			job->req = NULL;
			job->next = b->free;
			b->free = job;
			b->in_flight--;
			pthread_cond_signal(&b->done);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- creating and destroying ------------------------------------------ */

/* Stop and join the threads started so far, then free the pool. */
static void stop_and_free(struct tpool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);

	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Start p->nthreads .. want-1. Workers inherit the creator's signal mask:
 * block everything while creating them, then restore ours. */
static int start_workers(struct tpool *p, unsigned want)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (rc != 0)
		return -rc;
	while (p->nthreads < want) {
		rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
		if (rc != 0)
			break;
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

static int init_sync(struct tpool *p)
{
	int rc = pthread_mutex_init(&p->lock, NULL);

	if (rc != 0)
		return -rc;
	rc = pthread_cond_init(&p->work, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&p->lock);
		return -rc;
	}
	return 0;
}

int tpool_create(struct tpool **out, unsigned nthreads)
{
	struct tpool *p;
	int rc;

	if (out == NULL || nthreads == 0 || nthreads > TPOOL_MAX_THREADS)
		return -EINVAL;
	p = calloc(1, sizeof(*p) + nthreads * sizeof(p->threads[0]));
	if (p == NULL)
		return -ENOMEM;
	rc = init_sync(p);
	if (rc < 0) {
		free(p);
		return rc;
	}
	rc = start_workers(p, nthreads);
	if (rc < 0) {
		stop_and_free(p);   /* joins the ones that did start */
		return rc;
	}
	*out = p;
	return 0;
}

void tpool_destroy(struct tpool *p)
{
	if (p != NULL)
		stop_and_free(p);
}

/* ---- the caller side -------------------------------------------------- */

/* Called with the lock held. */
static void enqueue(struct tpool *p, struct tpool_job *job)
{
	enqueue_quiet(p, job);
	pthread_cond_signal(&p->work);
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n,
		     unsigned qd)
{
	struct tpool_batch b = { .in_flight = 0, .free = NULL };
	struct tpool_job *jobs;
	size_t window;
	int rc;

	if (p == NULL || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	window = n < qd ? n : qd;
	jobs = calloc(window, sizeof(*jobs));
	if (jobs == NULL)
		return -ENOMEM;
	rc = pthread_cond_init(&b.done, NULL);
	if (rc != 0) {
		free(jobs);
		return -rc;
	}

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < window; i++) {
		jobs[i].batch = &b;
		jobs[i].next = b.free;
		b.free = &jobs[i];
	}
	for (size_t next = 0; next < n; next++) {
		struct tpool_job *job;

		while (b.free == NULL)
			pthread_cond_wait(&b.done, &p->lock);
		job = b.free;
		b.free = job->next;
		job->req = &reqs[next];
		b.in_flight++;
		enqueue(p, job);
	}
	while (b.in_flight > 0)
		pthread_cond_wait(&b.done, &p->lock);
	pthread_mutex_unlock(&p->lock);

	pthread_cond_destroy(&b.done);
	free(jobs);
	return 0;
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct tpool *p;
	size_t threads;
	int rc;

	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	threads = n < qd ? n : qd;
	if (threads > TPOOL_MAX_THREADS)
		threads = TPOOL_MAX_THREADS;
	rc = tpool_create(&p, (unsigned)threads);
	if (rc < 0)
		return rc;
	rc = tpool_batch_read(p, reqs, n, qd);
	tpool_destroy(p);
	return rc;
}
