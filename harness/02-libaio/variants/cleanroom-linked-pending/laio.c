/*
 * A correct chapter 02 module shaped differently from the reference
 * (harness/NN-topic/variants/: make test requires full marks from it, so
 * that the tests ask for what laio.h says and not for the reference's
 * shape). Written by a colleague from the lesson, laio.h, the skeleton and
 * the man pages alone, without reading solutions/ or the tests: three
 * mallocs, made before io_setup in laio_batch_read; the pending iocbs a
 * linked list through the slots, copied into an array for each io_submit;
 * slots handed out lazily (never-used ones first, then a linked free
 * list); the slot's index, not a pointer, in iocb.data; bytes done counted
 * up to len rather than compared with what the piece asked; the -EAGAIN
 * pause a nanosleep backing off 1, 2, 4, 4... ms, 12 tries in a row;
 * laio_alloc_aligned with aligned_alloc and a block count.
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
#define STATX_DIOALIGN 0x2000
#endif

#define NO_SLOT ((size_t)-1)

struct cslot {
	struct iocb cb;
	size_t req;
	size_t done;
	size_t qnext;   /* next slot of the pending list, NO_SLOT at its end */
};

struct work {
	struct cslot *slot;
	struct iocb **arr;     /* scratch: the pending list as io_submit wants it */
	struct io_event *ev;
	size_t w;
};

static int work_alloc(struct work *wk, size_t w)
{
	wk->w = w;
	wk->slot = malloc(w * sizeof(*wk->slot));
	if (wk->slot == NULL)
		return -ENOMEM;
	wk->arr = malloc(w * sizeof(*wk->arr));
	if (wk->arr == NULL) {
		free(wk->slot);
		return -ENOMEM;
	}
	wk->ev = malloc(w * sizeof(*wk->ev));
	if (wk->ev == NULL) {
		free(wk->arr);
		free(wk->slot);
		return -ENOMEM;
	}
	return 0;
}

static void work_free(struct work *wk)
{
	free(wk->ev);
	free(wk->arr);
	free(wk->slot);
}

static size_t window(size_t n, unsigned qd, size_t cap)
{
	size_t w = qd;
	if (n < w)
		w = n;
	if (cap < w)
		w = cap;
	if (LAIO_MAX_QD < w)
		w = LAIO_MAX_QD;
	return w;
}

/* backoff: 1, 2, 4, 4, ... ms; true while the caller may try again */
static int backoff(unsigned try)
{
	if (try > 12)
		return 0;
	long ms = try < 3 ? 1L << (try - 1) : 4;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
	(void)nanosleep(&ts, NULL);
	return 1;
}

static int core(io_context_t ctx, struct work *wk, struct batch_req *reqs,
		size_t n)
{
	struct cslot *sl = wk->slot;
	size_t w = wk->w;
	size_t qhead = NO_SLOT, qtail = NO_SLOT, qlen = 0;
	size_t next = 0, out = 0, left = n;
	size_t idle = 0;          /* slots 0..idle-1 have been used at least once */
	size_t freehead = NO_SLOT; /* released slots, linked through qnext */
	unsigned refusals = 0;

#define ENQUEUE(i) do {                                                     \
		struct batch_req *r_ = &reqs[sl[i].req];                    \
		io_prep_pread(&sl[i].cb, r_->fd, (char *)r_->buf + sl[i].done, \
			      r_->len - sl[i].done,                          \
			      (long long)r_->offset + (long long)sl[i].done);  \
		sl[i].cb.data = (void *)(uintptr_t)(i);                     \
		sl[i].qnext = NO_SLOT;                                      \
		if (qtail == NO_SLOT) qhead = (i); else sl[qtail].qnext = (i); \
		qtail = (i); qlen++;                                        \
	} while (0)
#define RELEASE(i, v) do {                                                  \
		reqs[sl[i].req].res = (v);                                  \
		sl[i].qnext = freehead; freehead = (i); left--;             \
	} while (0)

	while (left > 0) {
		/* hand every free slot a request */
		while (next < n) {
			size_t i;
			if (freehead != NO_SLOT) {
				i = freehead;
				freehead = sl[i].qnext;
			} else if (idle < w) {
				i = idle++;
			} else {
				break;
			}
			sl[i].req = next++;
			sl[i].done = 0;
			ENQUEUE(i);
		}

		int reap = qlen == 0;
		if (qlen > 0) {
			size_t k = 0;
			for (size_t i = qhead; i != NO_SLOT; i = sl[i].qnext)
				wk->arr[k++] = &sl[i].cb;
			int rc = io_submit(ctx, (long)k, wk->arr);
			if (rc == -EINTR)
				continue;
			if (rc > 0) {
				refusals = 0;
				out += (size_t)rc;
				for (int j = 0; j < rc; j++) {
					qhead = sl[qhead].qnext;
					qlen--;
				}
				if (qhead == NO_SLOT)
					qtail = NO_SLOT;
				continue;
			}
			if (rc == -EAGAIN || rc == 0) {
				if (out == 0) {
					if (!backoff(++refusals))
						return -EAGAIN;
					continue;
				}
				reap = 1;
			} else {
				size_t i = qhead;
				qhead = sl[i].qnext;
				if (qhead == NO_SLOT)
					qtail = NO_SLOT;
				qlen--;
				RELEASE(i, rc);
				continue;
			}
		}
		if (!reap || out == 0)
			continue;

		int got;
		do
			got = io_getevents(ctx, 1, (long)w, wk->ev, NULL);
		while (got == -EINTR || got == 0);
		if (got < 0)
			return got;
		out -= (size_t)got;
		for (int e = 0; e < got; e++) {
			size_t i = (size_t)(uintptr_t)wk->ev[e].data;
			long long res = (long long)(long)wk->ev[e].res;
			struct batch_req *r = &reqs[sl[i].req];

			if (res == -EINTR) {
				ENQUEUE(i);
			} else if (res < 0) {
				RELEASE(i, (ssize_t)res);
			} else if (res == 0) {
				RELEASE(i, (ssize_t)sl[i].done);
			} else {
				sl[i].done += (size_t)res;
				if (sl[i].done >= r->len)
					RELEASE(i, (ssize_t)sl[i].done);
				else
					ENQUEUE(i);
			}
		}
	}
	return 0;
#undef ENQUEUE
#undef RELEASE
}

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct work wk;
	io_context_t ctx = 0;
	int rc;

	if (qd == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (reqs == NULL)
		return -EINVAL;

	/* bookkeeping first, then the context */
	rc = work_alloc(&wk, window(n, qd, LAIO_MAX_QD));
	if (rc < 0)
		return rc;
	rc = io_setup((int)wk.w, &ctx);
	if (rc < 0) {
		work_free(&wk);
		return rc;
	}
	rc = core(ctx, &wk, reqs, n);
	io_destroy(ctx);
	work_free(&wk);
	return rc;
}

int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd)
{
	struct work wk;
	int rc;

	if (ctx == 0 || nr_events == 0 || qd == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (reqs == NULL)
		return -EINVAL;
	rc = work_alloc(&wk, window(n, qd, nr_events));
	if (rc < 0)
		return rc;
	rc = core(ctx, &wk, reqs, n);
	work_free(&wk);
	return rc;
}

void *laio_alloc_aligned(size_t len)
{
	size_t blocks;
	void *p = NULL;

	if (len == 0)
		return NULL;
	blocks = len / LAIO_DIO_ALIGN + (len % LAIO_DIO_ALIGN != 0);
	if (blocks > SIZE_MAX / LAIO_DIO_ALIGN)
		return NULL;
	p = aligned_alloc(LAIO_DIO_ALIGN, blocks * LAIO_DIO_ALIGN);
	if (p != NULL)
		memset(p, 0, blocks * LAIO_DIO_ALIGN);
	return p;
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	struct statx sx;

	if (fd < 0)
		return -EBADF;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == -1)
		return -errno;
	if (!(sx.stx_mask & STATX_DIOALIGN)) {
		sx.stx_dio_mem_align = LAIO_DIO_ALIGN;
		sx.stx_dio_offset_align = LAIO_DIO_ALIGN;
	} else if (sx.stx_dio_mem_align == 0 || sx.stx_dio_offset_align == 0) {
		return -EOPNOTSUPP;
	}
	if (mem_align)
		*mem_align = sx.stx_dio_mem_align;
	if (offset_align)
		*offset_align = sx.stx_dio_offset_align;
	return 0;
}
