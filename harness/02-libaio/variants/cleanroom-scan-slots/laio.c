/*
 * A correct chapter 02 module shaped differently from the reference
 * (harness/NN-topic/variants/: make test requires full marks from it, so
 * that the tests ask for what laio.h says and not for the reference's
 * shape). Written by a colleague from the lesson, laio.h, the skeleton and
 * the man pages alone, without reading solutions/ or the tests: the loop is
 * in laio_batch_read_ctx and laio_batch_read is io_setup + it + io_destroy;
 * three callocs; each round scans the slots for free ones (a busy flag),
 * keeps the prepared iocbs in an array shifted with memmove as io_submit
 * takes them from the front, refills a slot refused by io_submit at once,
 * finds completions through io_event.data (the slot), reaps with
 * io_getevents(1, window, NULL), and pauses with nanosleep of 2 ms, 50
 * tries in a row, when -EAGAIN comes with nothing in flight.
 */
#define _GNU_SOURCE
#include "laio.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x2000U
#endif

#define EAGAIN_TRIES 50
#define EAGAIN_PAUSE_NS 2000000L

struct slot {
	struct iocb cb;
	size_t req;
	size_t done;
	int busy;
};

/* Describe the next piece of the request carried by s. */
static void prep_piece(struct slot *s, struct batch_req *reqs)
{
	struct batch_req *r = &reqs[s->req];

	io_prep_pread(&s->cb, r->fd, (char *)r->buf + s->done, r->len - s->done,
		      (long long)r->offset + (long long)s->done);
	s->cb.data = s;
}

static void pause_a_little(void)
{
	struct timespec ts = { 0, EAGAIN_PAUSE_NS };

	(void)nanosleep(&ts, NULL); /* EINTR: a shorter pause, that is all */
}

int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd)
{
	if (ctx == 0 || nr_events == 0 || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = qd;
	if (w > n)
		w = n;
	if (w > nr_events)
		w = nr_events;
	if (w > LAIO_MAX_QD)
		w = LAIO_MAX_QD;

	struct slot *slots = calloc(w, sizeof(*slots));
	struct iocb **pend = calloc(w, sizeof(*pend));
	struct io_event *events = calloc(w, sizeof(*events));
	if (slots == NULL || pend == NULL || events == NULL) {
		free(slots);
		free(pend);
		free(events);
		return -ENOMEM;
	}

	size_t next = 0;      /* first request not started */
	size_t finished = 0;  /* requests with their res */
	size_t npend = 0;     /* prepared, not accepted */
	size_t inflight = 0;  /* accepted, not reaped */
	unsigned eagain_tries = 0;
	int ret = 0;

	while (finished < n) {
		/* refill every free slot */
		for (size_t s = 0; s < w && next < n; s++) {
			if (slots[s].busy)
				continue;
			slots[s].busy = 1;
			slots[s].req = next++;
			slots[s].done = 0;
			prep_piece(&slots[s], reqs);
			pend[npend++] = &slots[s].cb;
		}

		/* submit what is pending */
		int must_reap = 0;
		while (npend > 0) {
			int rc = io_submit(ctx, (long)npend, pend);
			if (rc > 0) {
				memmove(pend, pend + rc, (npend - (size_t)rc) * sizeof(*pend));
				npend -= (size_t)rc;
				inflight += (size_t)rc;
				eagain_tries = 0;
			} else if (rc == -EINTR) {
				continue;
			} else if (rc == -EAGAIN) {
				if (inflight > 0) {
					must_reap = 1;
					break;
				}
				if (++eagain_tries > EAGAIN_TRIES) {
					ret = -EAGAIN;
					goto out;
				}
				pause_a_little();
			} else if (rc < 0) {
				struct slot *s = pend[0]->data;
				reqs[s->req].res = rc;
				s->busy = 0;
				finished++;
				memmove(pend, pend + 1, (npend - 1) * sizeof(*pend));
				npend--;
				/* the freed slot takes the next request at once */
				if (next < n) {
					s->busy = 1;
					s->req = next++;
					s->done = 0;
					prep_piece(s, reqs);
					pend[npend++] = &s->cb;
				}
			} else {
				/* 0 accepted: should not happen; treat as -EAGAIN */
				if (inflight > 0) {
					must_reap = 1;
					break;
				}
				if (++eagain_tries > EAGAIN_TRIES) {
					ret = -EAGAIN;
					goto out;
				}
				pause_a_little();
			}
		}
		(void)must_reap;

		if (inflight == 0) {
			if (finished >= n)
				break;
			continue; /* something to refill/submit again */
		}

		/* reap: at least one completion */
		int got;
		do {
			got = io_getevents(ctx, 1, (long)w, events, NULL);
		} while (got == -EINTR || got == 0);
		if (got < 0) {
			ret = got;
			goto out;
		}
		inflight -= (size_t)got;

		for (int e = 0; e < got; e++) {
			struct slot *s = events[e].data;
			struct batch_req *r = &reqs[s->req];
			long long res = (long long)(long)events[e].res;
			size_t want = r->len - s->done;

			if (res == -EINTR) {
				prep_piece(s, reqs);
				pend[npend++] = &s->cb;
			} else if (res < 0) {
				r->res = (ssize_t)res;
				s->busy = 0;
				finished++;
			} else if (res == 0 || (size_t)res >= want) {
				s->done += (size_t)res;
				r->res = (ssize_t)s->done;
				s->busy = 0;
				finished++;
			} else {
				s->done += (size_t)res;
				prep_piece(s, reqs);
				pend[npend++] = &s->cb;
			}
		}
	}
out:
	free(slots);
	free(pend);
	free(events);
	return ret;
}

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = qd;
	if (w > n)
		w = n;
	if (w > LAIO_MAX_QD)
		w = LAIO_MAX_QD;

	io_context_t ctx = 0;
	int rc = io_setup((int)w, &ctx);
	if (rc < 0)
		return rc;
	rc = laio_batch_read_ctx(ctx, (unsigned)w, reqs, n, qd);
	io_destroy(ctx);
	return rc;
}

void *laio_alloc_aligned(size_t len)
{
	if (len == 0 || len > SIZE_MAX - (LAIO_DIO_ALIGN - 1))
		return NULL;
	size_t size = (len + (LAIO_DIO_ALIGN - 1)) & ~((size_t)LAIO_DIO_ALIGN - 1);
	void *p = NULL;
	if (posix_memalign(&p, LAIO_DIO_ALIGN, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	struct statx stx;

	if (fd < 0)
		return -EBADF; /* AT_FDCWD would describe the current directory */
	memset(&stx, 0, sizeof(stx));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0)
		return -errno;
	size_t m = LAIO_DIO_ALIGN, o = LAIO_DIO_ALIGN;
	if (stx.stx_mask & STATX_DIOALIGN) {
		if (stx.stx_dio_mem_align == 0 || stx.stx_dio_offset_align == 0)
			return -EOPNOTSUPP;
		m = stx.stx_dio_mem_align;
		o = stx.stx_dio_offset_align;
	}
	if (mem_align)
		*mem_align = m;
	if (offset_align)
		*offset_align = o;
	return 0;
}
