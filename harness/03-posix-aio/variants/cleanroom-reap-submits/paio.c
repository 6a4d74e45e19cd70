/*
 * paio.c - chapter 03, part A (variant cleanroom-reap-submits, written
 * from the lesson, paio.h and the skeleton alone, without reading the
 * reference).
 *
 * Shape: one allocation holds the aiocbs, the aio_suspend list and the
 * slots' bookkeeping. The submission happens inside the reaping: a slot
 * whose read finished is given its continuation or the next request and
 * submitted on the spot, until aio_read says EAGAIN; from then on freed
 * slots only wait (READY) until the next round, which first submits the
 * READY slots in request order. Waiting: with 2 or more in flight, the
 * first wait is a patient one on the OLDEST read in flight (by submission
 * number) with a 1 ms interval; once one runs out, every wait is on the
 * whole list with NULL. EAGAIN with nothing in flight: poll(NULL, 0, ms)
 * pauses of 1, 2, 4 ... 32 ms until 300 ms have passed since the first,
 * then -EAGAIN.
 * Its first version forgot an EAGAIN met while reaping and retried at the
 * top of the loop at once, with nothing in flight and no pause: test 03.38
 * caught it; the flags "blocked" and "backlog" are the fix.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { IDLE, READY, BUSY };

struct meta {
	size_t req;
	size_t done;
	uint64_t seq;   /* submission number, for "oldest" */
	int st;
};

struct win {
	struct batch_req *reqs;
	size_t n, w, next, busy;
	uint64_t seq;
	struct aiocb *cb;
	const struct aiocb **list;
	struct meta *m;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Give slot i the next request needing I/O, or leave it IDLE. */
static void assign(struct win *v, size_t i)
{
	v->m[i].st = IDLE;
	while (v->next < v->n) {
		struct batch_req *r = &v->reqs[v->next++];

		if (r->offset < 0 || r->len > (size_t)SSIZE_MAX) {
			r->res = -EINVAL;
		} else if (r->len == 0) {
			r->res = 0;
		} else {
			v->m[i].req = (size_t)(r - v->reqs);
			v->m[i].done = 0;
			v->m[i].st = READY;
			return;
		}
	}
}

/* Submit READY slot i. 0: accepted or answered (slot reassigned), 1: EAGAIN. */
static int launch(struct win *v, size_t i)
{
	while (v->m[i].st == READY) {
		struct meta *m = &v->m[i];
		struct batch_req *r = &v->reqs[m->req];
		struct aiocb *cb = &v->cb[i];

		memset(cb, 0, sizeof *cb);
		cb->aio_sigevent.sigev_notify = SIGEV_NONE;
		cb->aio_fildes = r->fd;
		cb->aio_offset = r->offset + (off_t)m->done;
		cb->aio_buf = (char *)r->buf + m->done;
		cb->aio_nbytes = r->len - m->done;
		if (aio_read(cb) == 0) {
			m->st = BUSY;
			m->seq = v->seq++;
			v->list[i] = cb;
			v->busy++;
			return 0;
		}
		if (errno == EAGAIN)
			return 1;
		r->res = -errno;
		assign(v, i);
	}
	return 0;
}

int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	struct win v = { .reqs = reqs, .n = n };
	v.w = n < qd ? n : qd;
	if (v.w > PAIO_MAX_INFLIGHT)
		v.w = PAIO_MAX_INFLIGHT;

	char *blk = calloc(v.w, sizeof(struct aiocb) + sizeof(void *) +
				sizeof(struct meta));
	if (!blk)
		return -ENOMEM;
	v.cb = (struct aiocb *)blk;
	v.m = (struct meta *)(blk + v.w * sizeof(struct aiocb));
	v.list = (const struct aiocb **)(blk + v.w * (sizeof(struct aiocb) +
						      sizeof(struct meta)));

	int err = 0, patient = 1;
	int blocked = 0;  /* EAGAIN since the last wait or pause */
	int backlog = 0;  /* READY slots left behind by an EAGAIN */
	unsigned nap = 1;
	int64_t first_eagain = -1;

	for (size_t i = 0; i < v.w; i++)
		assign(&v, i);

	for (;;) {
		/* Submit READY slots, oldest request first, until EAGAIN;
		 * not again after an EAGAIN before a wait or a pause. */
		if (!blocked)
			backlog = 0;
		while (!err && !blocked) {
			size_t best = v.w;
			for (size_t i = 0; i < v.w; i++)
				if (v.m[i].st == READY &&
				    (best == v.w || v.m[i].req < v.m[best].req))
					best = i;
			if (best == v.w)
				break;
			size_t before = v.busy;
			if (launch(&v, best)) {
				blocked = 1;
				backlog = 1;
				break;
			}
			if (v.busy > before) {
				first_eagain = -1;
				nap = 1;
			}
		}

		if (v.busy == 0) {
			if (!blocked || err)
				break;
			int64_t t = now_ms();
			if (first_eagain < 0)
				first_eagain = t;
			else if (t - first_eagain >= 300) {
				err = -EAGAIN;
				break;
			}
			poll(NULL, 0, (int)nap);   /* EINTR: just try again */
			if (nap < 32)
				nap *= 2;
			blocked = 0;
			continue;
		}

		int rc;
		if (patient && !err && v.busy >= 2) {
			size_t old = v.w;
			for (size_t i = 0; i < v.w; i++)
				if (v.m[i].st == BUSY &&
				    (old == v.w || v.m[i].seq < v.m[old].seq))
					old = i;
			const struct aiocb *one[1] = { &v.cb[old] };
			struct timespec to = { 0, 1000000L };

			rc = aio_suspend(one, 1, &to);
			if (rc == -1 && errno == EAGAIN) {
				patient = 0;
				rc = 0;
			}
		} else {
			rc = aio_suspend(v.list, (int)v.w, NULL);
		}
		if (rc == -1 && errno != EINTR && !err)
			err = -errno;
		blocked = 0;

		/* Reap; refill and submit each freed slot on the spot, unless
		 * an EAGAIN stopped this (then the next round's ordered
		 * submission comes first). */
		for (size_t i = 0; i < v.w; i++) {
			struct meta *m = &v.m[i];
			if (m->st != BUSY)
				continue;
			int e = aio_error(&v.cb[i]);
			if (e == EINPROGRESS)
				continue;
			if (e < 0)
				e = errno;
			ssize_t got = aio_return(&v.cb[i]);
			struct batch_req *r = &reqs[m->req];

			v.list[i] = NULL;
			v.busy--;
			m->st = IDLE;
			if (e) {
				r->res = -e;
			} else if (got == 0) {
				r->res = (ssize_t)m->done;
			} else {
				m->done += (size_t)got;
				if (m->done < r->len)
					m->st = READY;
				else
					r->res = (ssize_t)m->done;
			}
			if (err)
				continue;
			if (m->st == IDLE)
				assign(&v, i);
			if (!blocked && !backlog) {
				size_t before = v.busy;
				if (launch(&v, i))
					blocked = 1;
				else if (v.busy > before) {
					first_eagain = -1;
					nap = 1;
				}
			}
		}
	}

	free(blk);
	return err;
}
