/* mutant of tpool.c: reports EINTR from pread as the request's result */
/*
 * tpool.c - chapter 03, part B: the machinery glibc's POSIX aio hides.
 *
 *   caller (tpool_batch_read)              workers (nthreads of them)
 *   -------------------------              --------------------------
 *   take a free job slot                   wait on `work` for a job
 *   job->req = next request     --queue-->  pop the job
 *   signal `work`                          pread until done (no lock held)
 *   ...                                    store res, give the slot back,
 *   wait on batch.done          <--------  signal batch.done
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
 * reused as requests finish: a batch never has more than qd of them. */
struct tpool_job {
	struct batch_req *req;
	struct tpool_batch *batch;
	struct tpool_job *next;  /* in the pool's queue, or the batch's free list */
};

/* One call of tpool_batch_read; lives on the caller's stack. */
struct tpool_batch {
	pthread_cond_t done;     /* a job of this batch finished       */
	struct tpool_job *free;  /* job slots not queued, not running   */
	size_t in_flight;        /* queued + running                    */
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

/* Called with the lock held: give the slot back and wake its caller. */
static void job_done(struct tpool_job *job)
{
	struct tpool_batch *b = job->batch;

	job->req = NULL;
	job->next = b->free;
	b->free = job;
	b->in_flight--;
	pthread_cond_signal(&b->done);
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
		pthread_mutex_unlock(&p->lock);

		res = read_request(job->req);  /* the blocking part, unlocked */

		pthread_mutex_lock(&p->lock);
		job->req->res = res;
		job_done(job);
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
	job->next = NULL;
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->work);
}

/* Called with the lock held: queue requests while the batch has free job
 * slots, i.e. while fewer than qd of its requests are queued or running. */
static void queue_more(struct tpool *p, struct tpool_batch *b,
		       struct batch_req *reqs, size_t n, size_t *next)
{
	while (*next < n && b->free != NULL) {
		struct tpool_job *job = b->free;

		b->free = job->next;
		job->req = &reqs[(*next)++];
		job->batch = b;
		b->in_flight++;
		enqueue(p, job);
	}
}

static int batch_init(struct tpool_batch *b, struct tpool_job *jobs, size_t count)
{
	int rc = pthread_cond_init(&b->done, NULL);

	if (rc != 0)
		return -rc;
	b->free = NULL;
	b->in_flight = 0;
	for (size_t i = 0; i < count; i++) {
		jobs[i].next = b->free;
		b->free = &jobs[i];
	}
	return 0;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n,
		     unsigned qd)
{
	struct tpool_batch b;
	struct tpool_job *jobs;
	size_t window, next = 0;
	int rc;

	if (p == NULL || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	window = n < qd ? n : qd;
	jobs = calloc(window, sizeof(*jobs));
	if (jobs == NULL)
		return -ENOMEM;
	rc = batch_init(&b, jobs, window);
	if (rc < 0) {
		free(jobs);
		return rc;
	}

	pthread_mutex_lock(&p->lock);
	for (;;) {
		queue_more(p, &b, reqs, n, &next);
		if (next == n && b.in_flight == 0)
			break;
		pthread_cond_wait(&b.done, &p->lock);
	}
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
