/*
 * tpool.c - chapter 03, part B (variant cleanroom-slots-lowest-ready, written from
 * the lesson, paio.h and the skeleton alone, without reading the reference).
 *
 * Shape: one mutex and one "work" condition per pool, a FIFO linked list
 * of jobs (one job per window slot of a batch, allocated by the caller on
 * the heap), a "done" condition and a count of live jobs per batch. The
 * worker refills its own job from its batch and goes on reading; when
 * other jobs wait it puts its job at the back and takes the front one.
 * The last job of a batch to retire signals its caller.
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

struct batch;

struct job {
	struct job *next;     /* queue link, under p->mu */
	struct batch *b;
	size_t idx;           /* request this job reads */
};

struct batch {
	struct batch_req *reqs;
	size_t n;
	size_t next;          /* first request not yet taken, under p->mu */
	size_t live;          /* jobs not retired, under p->mu */
	pthread_cond_t done;  /* signalled when live reaches 0 */
};

struct tpool {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* queue non-empty or stopping */
	struct job *head, *tail; /* under mu */
	bool stopping;        /* under mu */
	unsigned nthreads;
	pthread_t *tids;
};

static void push(struct tpool *p, struct job *j)
{
	j->next = NULL;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
}

static struct job *pop(struct tpool *p)
{
	struct job *j = p->head;

	p->head = j->next;
	if (!p->head)
		p->tail = NULL;
	return j;
}

static ssize_t read_full(const struct batch_req *r)
{
	if (r->offset < 0 || r->len > (size_t)SSIZE_MAX)
		return -EINVAL;
	if (r->len == 0)
		return 0;

	size_t done = 0;
	bool stream = false;

	while (done < r->len) {
		ssize_t k;

		if (stream)
			k = read(r->fd, (char *)r->buf + done, r->len - done);
		else
			k = pread(r->fd, (char *)r->buf + done, r->len - done,
				  r->offset + (off_t)done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ESPIPE && !stream && done == 0) {
				stream = true;
				continue;
			}
			return -errno;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

static void *worker(void *arg)
{
	struct tpool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->head)
			break;
		struct job *j = pop(p);

		for (;;) {
			struct batch *b = j->b;
			struct batch_req *r = &b->reqs[j->idx];

			pthread_mutex_unlock(&p->mu);
			ssize_t res = read_full(r);
			pthread_mutex_lock(&p->mu);
			r->res = res;
			if (b->next < b->n) {
				j->idx = b->next++;
				if (p->head) {
					push(p, j);
					j = pop(p);
				}
				continue;
			}
			if (--b->live == 0)
				pthread_cond_signal(&b->done);
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void stop_and_join(struct tpool *p, unsigned started)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->tids[i], NULL);
}

int tpool_create(struct tpool **out, unsigned nthreads)
{
	if (!out || nthreads == 0 || nthreads > TPOOL_MAX_THREADS)
		return -EINVAL;

	struct tpool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->tids = calloc(nthreads, sizeof *p->tids);
	if (!p->tids) {
		free(p);
		return -ENOMEM;
	}
	int rc = pthread_mutex_init(&p->mu, NULL);
	if (rc) {
		free(p->tids);
		free(p);
		return -rc;
	}
	rc = pthread_cond_init(&p->work, NULL);
	if (rc) {
		pthread_mutex_destroy(&p->mu);
		free(p->tids);
		free(p);
		return -rc;
	}

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	unsigned i;
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&p->tids[i], NULL, worker, p);
		if (rc)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (rc) {
		stop_and_join(p, i);
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
		free(p->tids);
		free(p);
		return -rc;
	}
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n, unsigned qd)
{
	if (!p || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = n < qd ? n : qd;
	struct job *jobs = malloc(w * sizeof *jobs);
	if (!jobs)
		return -ENOMEM;

	struct batch b = { .reqs = reqs, .n = n, .next = w, .live = w };
	int rc = pthread_cond_init(&b.done, NULL);
	if (rc) {
		free(jobs);
		return -rc;
	}

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < w; i++) {
		jobs[i].b = &b;
		jobs[i].idx = i;
		push(p, &jobs[i]);
		pthread_cond_signal(&p->work);
	}
	while (b.live > 0)
		pthread_cond_wait(&b.done, &p->mu);
	pthread_mutex_unlock(&p->mu);

	pthread_cond_destroy(&b.done);
	free(jobs);
	return 0;
}

void tpool_destroy(struct tpool *p)
{
	if (!p)
		return;
	stop_and_join(p, p->nthreads);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->tids);
	free(p);
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t t = n < qd ? n : qd;
	if (t > TPOOL_MAX_THREADS)
		t = TPOOL_MAX_THREADS;

	struct tpool *p;
	int rc = tpool_create(&p, (unsigned)t);
	if (rc)
		return rc;
	rc = tpool_batch_read(p, reqs, n, qd);
	tpool_destroy(p);
	return rc;
}
