/*
 * paio.c - chapter 03, part A (variant cleanroom-slots-lowest-ready, written from the
 * lesson, paio.h and the skeleton alone, without reading the reference).
 *
 * Shape: a fixed window of slots (one calloc'd array, plus a parallel
 * aio_suspend list with NULL holes). Each slot is FREE, READY (request or
 * continuation waiting to be submitted) or INFLIGHT. Each round: fill free
 * slots, submit READY slots lowest request index first, then wait with
 * aio_suspend on the whole list (NULL timeout, never a partial wait), then
 * scan every in-flight slot with aio_error. EAGAIN with nothing in flight:
 * pauses of 1, 2, 4 ... 128 ms, then -EAGAIN.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { S_FREE, S_READY, S_INFLIGHT };

struct slot {
	struct aiocb cb;
	size_t req;
	size_t done;
	int state;
};

#define MAX_EAGAIN_TRIES 8

static void pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L }, rem;

	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* Give slot s the next request that needs I/O; answer the others. */
static void fill_slot(struct slot *s, struct batch_req *reqs, size_t n,
		      size_t *next)
{
	while (*next < n) {
		struct batch_req *r = &reqs[*next];
		size_t i = (*next)++;

		if (r->offset < 0 || r->len > (size_t)SSIZE_MAX) {
			r->res = -EINVAL;
			continue;
		}
		if (r->len == 0) {
			r->res = 0;
			continue;
		}
		s->req = i;
		s->done = 0;
		s->state = S_READY;
		return;
	}
}

int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = n < qd ? n : qd;
	if (w > PAIO_MAX_INFLIGHT)
		w = PAIO_MAX_INFLIGHT;

	struct slot *s = calloc(w, sizeof *s);
	if (!s)
		return -ENOMEM;
	const struct aiocb **list = calloc(w, sizeof *list);
	if (!list) {
		free(s);
		return -ENOMEM;
	}

	size_t next = 0, inflight = 0;
	int err = 0;
	unsigned tries = 0, pause = 1;

	for (;;) {
		int eagain = 0;

		if (!err) {
			for (size_t i = 0; i < w && next < n; i++)
				if (s[i].state == S_FREE)
					fill_slot(&s[i], reqs, n, &next);
			for (;;) {
				/* lowest request index among READY slots */
				size_t best = w;
				for (size_t i = 0; i < w; i++)
					if (s[i].state == S_READY &&
					    (best == w || s[i].req < s[best].req))
						best = i;
				if (best == w)
					break;
				struct slot *sl = &s[best];
				struct batch_req *r = &reqs[sl->req];

				memset(&sl->cb, 0, sizeof sl->cb);
				sl->cb.aio_fildes = r->fd;
				sl->cb.aio_offset = r->offset + (off_t)sl->done;
				sl->cb.aio_buf = (char *)r->buf + sl->done;
				sl->cb.aio_nbytes = r->len - sl->done;
				sl->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
				if (aio_read(&sl->cb) == 0) {
					sl->state = S_INFLIGHT;
					list[best] = &sl->cb;
					inflight++;
					tries = 0;
					pause = 1;
					continue;
				}
				if (errno == EAGAIN) {
					eagain = 1;
					break;
				}
				r->res = -errno;
				sl->state = S_FREE;
				fill_slot(sl, reqs, n, &next);
			}
		}

		if (inflight == 0) {
			if (eagain && !err) {
				if (tries >= MAX_EAGAIN_TRIES) {
					err = -EAGAIN;
					break;
				}
				pause_ms(pause);
				pause *= 2;
				tries++;
				continue;
			}
			break;
		}

		if (aio_suspend(list, (int)w, NULL) == -1 && errno != EINTR) {
			if (!err)
				err = -errno;
			else
				pause_ms(1);
		}

		for (size_t i = 0; i < w; i++) {
			struct slot *sl = &s[i];
			if (sl->state != S_INFLIGHT)
				continue;
			int e = aio_error(&sl->cb);
			if (e == EINPROGRESS)
				continue;
			if (e < 0)
				e = errno;
			ssize_t got = aio_return(&sl->cb);
			struct batch_req *r = &reqs[sl->req];

			list[i] = NULL;
			inflight--;
			sl->state = S_FREE;
			if (e != 0) {
				r->res = -e;
			} else if (got == 0) {
				r->res = (ssize_t)sl->done;
			} else {
				sl->done += (size_t)got;
				if (sl->done >= r->len)
					r->res = (ssize_t)sl->done;
				else if (!err)
					sl->state = S_READY;
			}
		}
	}

	free(list);
	free(s);
	return err;
}
