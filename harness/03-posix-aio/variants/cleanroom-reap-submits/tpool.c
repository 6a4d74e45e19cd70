/*
 * tpool.c - chapter 03, part B (variant cleanroom-reap-submits, written
 * from the lesson, paio.h and the skeleton alone, without reading the
 * reference).
 *
 * Shape: the pool's queue is a ring array of job pointers that grows (by
 * doubling, copying from its head) before a batch queues its window, so a
 * queue operation never allocates inside a worker. Workers refill their
 * own job: after a read they store res, count the request as answered,
 * answer the following requests that need no I/O themselves, and take the
 * next one that does (going to the back of the ring when other jobs wait).
 * The caller waits on its batch's condition until ALL n requests are
 * answered (a count of answers, not of live jobs); the answer that
 * completes the batch is stored, and its job retired, in the same critical
 * section that broadcasts.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct batch {
	struct batch_req *reqs;
	size_t n;
	size_t next;         /* under the pool's lock */
	size_t answered;     /* under the pool's lock */
	pthread_cond_t all_done;
};

struct job {
	struct batch *b;
	size_t idx;
};

struct tpool {
	pthread_mutex_t lock;
	pthread_cond_t has_work;
	struct job **ring;   /* under lock */
	size_t cap, head, len;
	int stop;
	unsigned nthreads;
	pthread_t *threads;
};

static int ring_reserve(struct tpool *p, size_t extra)
{
	if (p->len + extra <= p->cap)
		return 0;
	size_t cap = p->cap ? p->cap : 16;
	while (cap < p->len + extra)
		cap *= 2;
	struct job **nr = malloc(cap * sizeof *nr);
	if (!nr)
		return -ENOMEM;
	for (size_t i = 0; i < p->len; i++)
		nr[i] = p->ring[(p->head + i) % p->cap];
	free(p->ring);
	p->ring = nr;
	p->cap = cap;
	p->head = 0;
	return 0;
}

static void ring_push(struct tpool *p, struct job *j)
{
	p->ring[(p->head + p->len) % p->cap] = j;
	p->len++;
}

static struct job *ring_pop(struct tpool *p)
{
	struct job *j = p->ring[p->head];

	p->head = (p->head + 1) % p->cap;
	p->len--;
	return j;
}

/* Under the lock: the batch's next request needing I/O, answering the
 * others; n when none is left. */
static size_t next_io(struct batch *b)
{
	while (b->next < b->n) {
		struct batch_req *r = &b->reqs[b->next++];

		if (r->offset < 0 || r->len > (size_t)SSIZE_MAX)
			r->res = -EINVAL;
		else if (r->len == 0)
			r->res = 0;
		else
			return b->next - 1;
		b->answered++;
	}
	return b->n;
}

static ssize_t do_read(const struct batch_req *r)
{
	char *buf = r->buf;
	size_t left = r->len;
	off_t off = r->offset;
	bool piped = false;

	while (left > 0) {
		ssize_t k = piped ? read(r->fd, buf, left) : pread(r->fd, buf, left, off);

		if (k == 0)
			break;
		if (k < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == ESPIPE && !piped && left == r->len) {
				piped = true;
				continue;
			}
			return -e;
		}
		buf += k;
		off += k;
		left -= (size_t)k;
	}
	return (ssize_t)(r->len - left);
}

static void *work_loop(void *arg)
{
	struct tpool *p = arg;
	struct job *j = NULL;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (!j) {
			while (p->len == 0 && !p->stop)
				pthread_cond_wait(&p->has_work, &p->lock);
			if (p->len == 0)
				break;
			j = ring_pop(p);
		}
		struct batch *b = j->b;
		struct batch_req *r = &b->reqs[j->idx];

		pthread_mutex_unlock(&p->lock);
		ssize_t res = do_read(r);
		pthread_mutex_lock(&p->lock);

		r->res = res;
		b->answered++;
		size_t k = next_io(b);
		if (b->answered == b->n)
			pthread_cond_broadcast(&b->all_done);
		if (k == b->n) {
			j = NULL;            /* retired */
		} else {
			j->idx = k;
			if (p->len > 0) {    /* take turns */
				ring_push(p, j);  /* room: pop freed one */
				j = ring_pop(p);
			}
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_free(struct tpool *p)
{
	pthread_cond_destroy(&p->has_work);
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p->threads);
	free(p);
}

static void pool_stop(struct tpool *p, unsigned count)
{
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->has_work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < count; i++)
		pthread_join(p->threads[i], NULL);
}

int tpool_create(struct tpool **out, unsigned nthreads)
{
	if (!out || !nthreads || nthreads > TPOOL_MAX_THREADS)
		return -EINVAL;

	struct tpool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->threads = malloc(nthreads * sizeof *p->threads);
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc) {
		free(p->threads);
		free(p);
		return -rc;
	}
	if ((rc = pthread_cond_init(&p->has_work, NULL)) != 0) {
		pthread_mutex_destroy(&p->lock);
		free(p->threads);
		free(p);
		return -rc;
	}

	sigset_t everything, mine;
	sigfillset(&everything);
	rc = pthread_sigmask(SIG_SETMASK, &everything, &mine);
	if (rc) {
		pool_free(p);
		return -rc;
	}
	unsigned made = 0;
	for (; made < nthreads; made++)
		if ((rc = pthread_create(&p->threads[made], NULL, work_loop, p)) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &mine, NULL);

	if (rc) {
		pool_stop(p, made);
		pool_free(p);
		return -rc;
	}
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

int tpool_batch_read(struct tpool *p, struct batch_req *reqs, size_t n, unsigned qd)
{
	if (!p || !qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;

	size_t w = qd < n ? qd : n;
	struct job *jobs = malloc(w * sizeof *jobs);
	if (!jobs)
		return -ENOMEM;
	struct batch b;
	memset(&b, 0, sizeof b);
	b.reqs = reqs;
	b.n = n;
	int rc = pthread_cond_init(&b.all_done, NULL);
	if (rc) {
		free(jobs);
		return -rc;
	}

	pthread_mutex_lock(&p->lock);
	rc = ring_reserve(p, w);
	if (rc == 0) {
		for (size_t i = 0; i < w; i++) {
			size_t k = next_io(&b);
			if (k == n)
				break;
			jobs[i].b = &b;
			jobs[i].idx = k;
			ring_push(p, &jobs[i]);
		}
		pthread_cond_broadcast(&p->has_work);
		while (b.answered < n)
			pthread_cond_wait(&b.all_done, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);

	pthread_cond_destroy(&b.all_done);
	free(jobs);
	return rc;
}

void tpool_destroy(struct tpool *p)
{
	if (!p)
		return;
	pool_stop(p, p->nthreads);
	pool_free(p);
}

int tpool_batch_read_once(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (!qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;

	unsigned t = TPOOL_MAX_THREADS;
	if (qd < t)
		t = qd;
	if (n < t)
		t = (unsigned)n;

	struct tpool *p;
	int rc = tpool_create(&p, t);
	if (rc)
		return rc;
	rc = tpool_batch_read(p, reqs, n, qd);
	tpool_destroy(p);
	return rc;
}
