/*
 * tpool.c - chapter 03, part B (variant cleanroom-fifo-caller-fed, written from the
 * lesson, paio.h and the skeleton alone, without reading the reference).
 *
 * Shape: the caller-fed pool of lesson section 8. The pool and its thread
 * ids are one allocation (a flexible array member). A worker takes a job
 * slot from the pool's queue, reads it with no lock held, keeps the result
 * in the slot, pushes the slot on its batch's "finished" stack and signals
 * the batch's condition. The caller answers the requests that need no I/O
 * itself, stores every result in reqs, and hands the slot its batch's next
 * request (queued at the back, so batches take turns).
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

struct slot {
	struct slot *link;     /* pool queue or batch's finished stack */
	struct batch *b;
	size_t idx;
	ssize_t res;
};

struct batch {
	struct batch_req *reqs;
	pthread_cond_t cv;     /* finished stack not empty */
	struct slot *fin;      /* under the pool's mutex */
};

struct tpool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct slot *qhead, *qtail;  /* under mu */
	bool stopping;               /* under mu */
	unsigned nthreads;
	pthread_t tid[];
};

static ssize_t read_whole(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	int use_read = 0;

	for (;;) {
		if (got == len)
			return (ssize_t)got;
		ssize_t k = use_read ? read(fd, buf + got, len - got)
				     : pread(fd, buf + got, len - got, off + (off_t)got);
		if (k > 0) {
			got += (size_t)k;
		} else if (k == 0) {
			return (ssize_t)got;
		} else if (errno == EINTR) {
			/* again */
		} else if (errno == ESPIPE && got == 0 && !use_read) {
			use_read = 1;
		} else {
			return -errno;
		}
	}
}

static void enqueue(struct tpool *p, struct slot *s)
{
	s->link = NULL;
	if (p->qtail)
		p->qtail->link = s;
	else
		p->qhead = s;
	p->qtail = s;
	pthread_cond_signal(&p->work);
}

static void *worker_main(void *arg)
{
	struct tpool *p = arg;

	pthread_mutex_lock(&p->mu);
	while (1) {
		while (p->qhead == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->qhead == NULL)
			break;
		struct slot *s = p->qhead;
		p->qhead = s->link;
		if (!p->qhead)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->mu);

		struct batch_req *r = &s->b->reqs[s->idx];
		ssize_t res = read_whole(r->fd, r->buf, r->len, r->offset);

		pthread_mutex_lock(&p->mu);
		s->res = res;
		s->link = s->b->fin;
		s->b->fin = s;
		pthread_cond_signal(&s->b->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void shut_down(struct tpool *p, unsigned nstarted)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	while (nstarted > 0)
		pthread_join(p->tid[--nstarted], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int tpool_create(struct tpool **out, unsigned nthreads)
{
	if (out == NULL || nthreads < 1 || nthreads > TPOOL_MAX_THREADS)
		return -EINVAL;

	struct tpool *p = calloc(1, sizeof *p + nthreads * sizeof(pthread_t));
	if (p == NULL)
		return -ENOMEM;
	int e = pthread_mutex_init(&p->mu, NULL);
	if (e != 0) {
		free(p);
		return -e;
	}
	e = pthread_cond_init(&p->work, NULL);
	if (e != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return -e;
	}

	sigset_t block, saved;
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	unsigned started = 0;
	while (started < nthreads) {
		e = pthread_create(&p->tid[started], NULL, worker_main, p);
		if (e != 0)
			break;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	if (e != 0) {
		shut_down(p, started);
		return -e;
	}
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

/* Answer the requests that need no I/O; return the next that does, or n. */
static size_t take(struct batch_req *reqs, size_t n, size_t *next)
{
	while (*next < n) {
		struct batch_req *r = &reqs[(*next)++];

		if (r->offset < 0 || r->len > (size_t)SSIZE_MAX)
			r->res = -EINVAL;
		else if (r->len == 0)
			r->res = 0;
		else
			return *next - 1;
	}
	return n;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n, unsigned qd)
{
	if (p == NULL || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = (size_t)qd < n ? (size_t)qd : n;
	struct slot *slots = calloc(w, sizeof *slots);
	if (slots == NULL)
		return -ENOMEM;
	struct batch b = { .reqs = reqs, .fin = NULL };
	int e = pthread_cond_init(&b.cv, NULL);
	if (e != 0) {
		free(slots);
		return -e;
	}

	size_t next = 0, busy = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < w; i++) {
		size_t k = take(reqs, n, &next);
		if (k == n)
			break;
		slots[i].b = &b;
		slots[i].idx = k;
		enqueue(p, &slots[i]);
		busy++;
	}
	while (busy > 0) {
		while (b.fin == NULL)
			pthread_cond_wait(&b.cv, &p->mu);
		while (b.fin != NULL) {
			struct slot *s = b.fin;
			b.fin = s->link;
			reqs[s->idx].res = s->res;
			busy--;
			size_t k = take(reqs, n, &next);
			if (k < n) {
				s->idx = k;
				enqueue(p, s);
				busy++;
			}
		}
	}
	pthread_mutex_unlock(&p->mu);

	pthread_cond_destroy(&b.cv);
	free(slots);
	return 0;
}

void tpool_destroy(struct tpool *p)
{
	if (p != NULL)
		shut_down(p, p->nthreads);
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t want = n;
	if (want > qd)
		want = qd;
	if (want > TPOOL_MAX_THREADS)
		want = TPOOL_MAX_THREADS;

	struct tpool *p = NULL;
	int e = tpool_create(&p, (unsigned)want);
	if (e == 0) {
		e = tpool_batch_read(p, reqs, n, qd);
		tpool_destroy(p);
	}
	return e;
}
