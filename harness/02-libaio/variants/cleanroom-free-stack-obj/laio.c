/*
 * A correct chapter 02 module shaped differently from the reference
 * (harness/NN-topic/variants/: make test requires full marks from it, so
 * that the tests ask for what laio.h says and not for the reference's
 * shape). Written by a colleague from the lesson, laio.h, the skeleton and
 * the man pages alone, without reading solutions/ or the tests: one malloc
 * carved into slots, events, pending pointers and a stack of free slots;
 * a struct of the batch's state handed to small helpers (refill, complete,
 * release); one io_submit per turn of the loop, the pending iocbs a
 * head..tail range compacted only when it reaches the end; completions
 * found through io_event.obj (the iocb is the slot's first member);
 * io_getevents nr = reads in flight; the -EAGAIN pause with nothing in
 * flight is io_getevents(1, 1) with a 5 ms timeout, 8 tries in a row.
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

enum { MAX_EAGAIN_IN_A_ROW = 8 };

struct slot {
	struct iocb cb;   /* first: an io_event's obj is the slot itself */
	size_t req;
	size_t done;
};

struct batch {
	io_context_t ctx;
	struct batch_req *reqs;
	size_t n, w;
	struct slot *slots;
	struct iocb **pend;     /* pend[head..tail): prepared, not accepted */
	size_t head, tail;
	size_t *freestk;        /* free slots, a stack */
	size_t nfree;
	struct io_event *ev;
	size_t next;            /* first request not started */
	size_t inflight;
};

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void queue_piece(struct batch *b, struct slot *s)
{
	struct batch_req *r = &b->reqs[s->req];
	size_t left = r->len - s->done;
	long long off = (long long)r->offset + (long long)s->done;

	io_prep_pread(&s->cb, r->fd, (char *)r->buf + s->done, left, off);
	s->cb.data = s;
	if (b->head > 0 && b->tail == b->w) {
		memmove(b->pend, b->pend + b->head,
			(b->tail - b->head) * sizeof(*b->pend));
		b->tail -= b->head;
		b->head = 0;
	}
	b->pend[b->tail++] = &s->cb;
}

static void release(struct batch *b, struct slot *s, ssize_t res)
{
	b->reqs[s->req].res = res;
	b->freestk[b->nfree++] = (size_t)(s - b->slots);
}

static void refill(struct batch *b)
{
	while (b->nfree > 0 && b->next < b->n) {
		struct slot *s = &b->slots[b->freestk[--b->nfree]];
		s->req = b->next++;
		s->done = 0;
		queue_piece(b, s);
	}
}

/* One completion: finished (slot back on the stack) or queued again. */
static void complete(struct batch *b, const struct io_event *e)
{
	struct slot *s = (struct slot *)(void *)e->obj;
	long res = (long)e->res;
	size_t want = b->reqs[s->req].len - s->done;

	if (res == -EINTR) {
		queue_piece(b, s);
		return;
	}
	if (res < 0) {
		release(b, s, (ssize_t)res);
		return;
	}
	s->done += (size_t)res;
	if (res == 0 || (size_t)res >= want)
		release(b, s, (ssize_t)s->done);
	else
		queue_piece(b, s);
}

static int run(struct batch *b)
{
	unsigned tries = 0;

	for (;;) {
		refill(b);
		if (b->head < b->tail) {
			int rc = io_submit(b->ctx, (long)(b->tail - b->head),
					   b->pend + b->head);
			if (rc > 0) {
				b->head += (size_t)rc;
				b->inflight += (size_t)rc;
				tries = 0;
				if (b->head == b->tail)
					b->head = b->tail = 0;
				continue;
			}
			if (rc == -EINTR)
				continue;
			if (rc < 0 && rc != -EAGAIN) {
				struct slot *s = b->pend[b->head++]->data;
				release(b, s, rc);
				continue;
			}
			/* -EAGAIN (or nothing taken) */
			if (b->inflight == 0) {
				if (++tries > MAX_EAGAIN_IN_A_ROW)
					return -EAGAIN;
				struct timespec ts = { 0, 5 * 1000 * 1000 };
				struct io_event junk;
				int p = io_getevents(b->ctx, 1, 1, &junk, &ts);
				if (p < 0 && p != -EINTR)
					return p;
				if (p > 0)
					complete(b, &junk);
				continue;
			}
		} else if (b->inflight == 0) {
			return 0; /* nothing pending, nothing out, nothing left */
		}

		int got;
		for (;;) {
			got = io_getevents(b->ctx, 1, (long)b->inflight, b->ev, NULL);
			if (got > 0)
				break;
			if (got != 0 && got != -EINTR)
				return got;
		}
		b->inflight -= (size_t)got;
		for (int i = 0; i < got; i++)
			complete(b, &b->ev[i]);
	}
}

static int batch_on(io_context_t ctx, size_t w, struct batch_req *reqs,
		    size_t n)
{
	struct batch b = { .ctx = ctx, .reqs = reqs, .n = n, .w = w };
	size_t bytes = w * (sizeof(struct slot) + sizeof(struct iocb *) +
			    sizeof(size_t) + sizeof(struct io_event));
	char *mem = malloc(bytes);

	if (mem == NULL)
		return -ENOMEM;
	b.slots = (struct slot *)(void *)mem;
	b.ev = (struct io_event *)(void *)(mem + w * sizeof(struct slot));
	b.pend = (struct iocb **)(void *)((char *)b.ev + w * sizeof(struct io_event));
	b.freestk = (size_t *)(void *)((char *)b.pend + w * sizeof(struct iocb *));
	for (size_t i = 0; i < w; i++)
		b.freestk[i] = w - 1 - i;
	b.nfree = w;

	int rc = run(&b);
	free(mem);
	return rc;
}

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (n > 0 && reqs == NULL))
		return -EINVAL;
	if (n == 0)
		return 0;

	size_t w = min_sz(min_sz(qd, n), LAIO_MAX_QD);
	io_context_t ctx;

	memset(&ctx, 0, sizeof(ctx));
	int rc = io_setup((int)w, &ctx);
	if (rc != 0)
		return rc < 0 ? rc : -EIO;
	rc = batch_on(ctx, w, reqs, n);
	(void)io_destroy(ctx);
	return rc;
}

int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd)
{
	if (ctx == 0 || nr_events == 0 || qd == 0 || (n > 0 && reqs == NULL))
		return -EINVAL;
	if (n == 0)
		return 0;
	size_t w = min_sz(min_sz(min_sz(qd, n), nr_events), LAIO_MAX_QD);
	return batch_on(ctx, w, reqs, n);
}

void *laio_alloc_aligned(size_t len)
{
	const size_t a = LAIO_DIO_ALIGN;
	size_t rounded;
	void *p;

	if (len == 0)
		return NULL;
	rounded = len % a ? len + (a - len % a) : len;
	if (rounded < len)
		return NULL; /* wrapped */
	if (posix_memalign(&p, a, rounded) != 0)
		return NULL;
	return memset(p, 0, rounded);
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	struct statx st;
	size_t mem = LAIO_DIO_ALIGN, off = LAIO_DIO_ALIGN;

	if (fd < 0)
		return -EBADF;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_DIOALIGN, &st) < 0)
		return -errno;
	if (st.stx_mask & STATX_DIOALIGN) {
		if (st.stx_dio_offset_align == 0 || st.stx_dio_mem_align == 0)
			return -EOPNOTSUPP;
		mem = st.stx_dio_mem_align;
		off = st.stx_dio_offset_align;
	}
	if (mem_align != NULL)
		*mem_align = mem;
	if (offset_align != NULL)
		*offset_align = off;
	return 0;
}
