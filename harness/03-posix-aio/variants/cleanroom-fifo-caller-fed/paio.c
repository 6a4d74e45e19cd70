/*
 * paio.c - chapter 03, part A (variant cleanroom-fifo-caller-fed, written from the
 * lesson, paio.h and the skeleton alone, without reading the reference).
 *
 * Shape: no window of slots. Each request that enters the window gets its
 * own heap aiocb (malloc'd when it enters, reused for its continuations,
 * freed when it has its result). The reads in flight are a packed list in
 * submission order (oldest first; a collected entry is removed by shifting
 * the rest down), which is also the aio_suspend list. Requests to (re)submit
 * wait in a small FIFO ring (continuations, and a read refused with EAGAIN),
 * served before new requests. Waiting: with 8 or more in flight, a patient
 * wait on the 4th oldest alone with a 2 ms interval, until one such wait
 * runs out; every other wait is on the whole packed list with NULL.
 * EAGAIN with nothing in flight: clock_nanosleep of 2 ms, 40 tries at most.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct item {
	struct aiocb cb;   /* first: the list holds &cb, cast back to item */
	size_t req;
	size_t done;
};

#define EAGAIN_TRIES 40
#define PATIENT_MIN 8
#define PATIENT_POS 3

struct run {
	struct batch_req *reqs;
	size_t n, w, next;
	const struct aiocb **fl;  /* in flight, oldest first */
	size_t nfl;
	struct item **pend;       /* ring of items to (re)submit */
	size_t phead, npend;
	int err;
};

static void pend_push(struct run *r, struct item *it)
{
	r->pend[(r->phead + r->npend) % r->w] = it;
	r->npend++;
}

static struct item *pend_front(struct run *r)
{
	return r->pend[r->phead];
}

static void pend_pop(struct run *r)
{
	r->phead = (r->phead + 1) % r->w;
	r->npend--;
}

/* The next item to submit: a pending one, or a new request. NULL: none. */
static struct item *next_item(struct run *r)
{
	if (r->npend)
		return pend_front(r);
	while (r->next < r->n && r->nfl + r->npend < r->w) {
		struct batch_req *q = &r->reqs[r->next];

		if (q->offset < 0 || q->len > (size_t)SSIZE_MAX) {
			q->res = -EINVAL;
			r->next++;
			continue;
		}
		if (q->len == 0) {
			q->res = 0;
			r->next++;
			continue;
		}
		struct item *it = malloc(sizeof *it);
		if (!it) {
			r->err = -ENOMEM;
			return NULL;
		}
		it->req = r->next++;
		it->done = 0;
		pend_push(r, it);
		return it;
	}
	return NULL;
}

/* Submit what can be submitted. Returns 1 if aio_read said EAGAIN. */
static int submit(struct run *r)
{
	struct item *it;

	while (!r->err && (it = next_item(r)) != NULL) {
		struct batch_req *q = &r->reqs[it->req];

		memset(&it->cb, 0, sizeof it->cb);
		it->cb.aio_fildes = q->fd;
		it->cb.aio_buf = (char *)q->buf + it->done;
		it->cb.aio_nbytes = q->len - it->done;
		it->cb.aio_offset = q->offset + (off_t)it->done;
		it->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
		if (aio_read(&it->cb) == -1) {
			if (errno == EAGAIN)
				return 1;   /* stays at the front of the ring */
			q->res = -errno;
			pend_pop(r);
			free(it);
			continue;
		}
		pend_pop(r);
		r->fl[r->nfl++] = &it->cb;
		return -1;   /* accepted: caller resets its count, calls again */
	}
	return 0;
}

/* Collect every finished read; continuations go to the ring. */
static void collect(struct run *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->nfl; i++) {
		struct item *it = (struct item *)r->fl[i];
		int e = aio_error(&it->cb);

		if (e == EINPROGRESS) {
			r->fl[k++] = r->fl[i];
			continue;
		}
		if (e < 0)
			e = errno;
		ssize_t got = aio_return(&it->cb);
		struct batch_req *q = &r->reqs[it->req];

		if (e) {
			q->res = -e;
		} else if (got == 0) {
			q->res = (ssize_t)it->done;
		} else {
			it->done += (size_t)got;
			if (it->done < q->len && !r->err) {
				pend_push(r, it);
				continue;
			}
			q->res = (ssize_t)it->done;
		}
		free(it);
	}
	r->nfl = k;
}

static void nap(void)
{
	struct timespec ts = { 0, 2000000L };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	struct run r = { .reqs = reqs, .n = n };
	r.w = n < qd ? n : qd;
	if (r.w > PAIO_MAX_INFLIGHT)
		r.w = PAIO_MAX_INFLIGHT;
	r.fl = malloc(r.w * sizeof *r.fl);
	r.pend = malloc(r.w * sizeof *r.pend);
	if (!r.fl || !r.pend) {
		free(r.fl);
		free(r.pend);
		return -ENOMEM;
	}

	unsigned tries = 0;
	int patient = 1;

	for (;;) {
		int s, eagain = 0;

		while ((s = submit(&r)) == -1)
			tries = 0;
		eagain = s;

		if (r.nfl == 0) {
			if (eagain && !r.err && tries < EAGAIN_TRIES) {
				tries++;
				nap();
				continue;
			}
			if (eagain && !r.err)
				r.err = -EAGAIN;
			break;
		}

		int rc;
		if (patient && !r.err && r.nfl >= PATIENT_MIN) {
			struct timespec to = { 0, 2000000L };
			const struct aiocb *one[1] = { r.fl[PATIENT_POS] };

			rc = aio_suspend(one, 1, &to);
			if (rc == -1 && errno == EAGAIN) {
				patient = 0;
				rc = 0;
			}
		} else {
			rc = aio_suspend(r.fl, (int)r.nfl, NULL);
		}
		if (rc == -1 && errno != EINTR && !r.err)
			r.err = -errno;
		collect(&r);
	}

	/* nothing in flight here; drop what waits in the ring */
	while (r.npend) {
		free(pend_front(&r));
		pend_pop(&r);
	}
	free(r.fl);
	free(r.pend);
	return r.err;
}
