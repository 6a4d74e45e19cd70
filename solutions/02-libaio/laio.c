/*
 * laio.c - chapter 02 reference: the batch of reads through kernel AIO.
 *
 * Shape of laio_batch_read:
 *
 *     reqs[]  ->  free slot  ->  pending[]  --io_submit-->  kernel
 *                    ^                                        |
 *                    |        short read: remainder back      |
 *                    |        to pending[]                    v
 *                    +------ finished <---- io_getevents <----+
 *
 * A "slot" owns one struct iocb plus the bookkeeping of the request it is
 * carrying (which request, how many bytes are already in). There are
 * window = min(qd, n, LAIO_MAX_QD) slots, so at most window requests can
 * ever be outside the "not started" state: that is what bounds the queue
 * depth. iocb.data points back at the slot, so a completion finds its
 * request whatever order the kernel completes them in.
 *
 * laio_batch_read_ctx does all of that on a context its caller set up and
 * keeps; laio_batch_read is io_setup + laio_batch_read_ctx + io_destroy, a
 * context for one call. A program that reads many batches keeps one
 * context: io_destroy waits for an RCU grace period (milliseconds).
 *
 * See chapters/02-libaio/laio.h for the contract.
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

/* How often io_submit may say -EAGAIN while nothing of ours is in flight
 * (so reaping cannot free anything) before the batch gives up, and how long
 * to pause between those tries: about a quarter of a second in all. */
#define SUBMIT_EAGAIN_TRIES 50
#define SUBMIT_EAGAIN_PAUSE_NS (5 * 1000 * 1000L)

struct slot {
	struct iocb cb;     /* what the kernel is told; cb.data == this slot */
	size_t req;         /* index into reqs[] of the request carried      */
	size_t done;        /* bytes of that request already read            */
};

struct batch {
	struct batch_req *reqs;
	size_t n;
	size_t next;            /* first request not yet given a slot        */
	io_context_t ctx;

	struct slot *slots;
	size_t window;          /* number of slots == the queue depth used   */
	struct slot **free;     /* stack of idle slots                       */
	size_t nfree;
	struct iocb **pending;  /* prepared, not yet accepted by io_submit   */
	size_t npending;
	size_t inflight;        /* accepted by io_submit, not yet reaped     */
	struct io_event *events;
};

/* ---- slots and the pending list ---------------------------------------- */

/* Point the slot's iocb at the part of its request that is still missing. */
static void prepare_remainder(struct batch *b, struct slot *s)
{
	struct batch_req *r = &b->reqs[s->req];

	io_prep_pread(&s->cb, r->fd, (char *)r->buf + s->done, r->len - s->done,
		      (long long)r->offset + (long long)s->done);
	s->cb.data = s;
}

static void push_pending(struct batch *b, struct slot *s)
{
	/* pending can never hold more than window entries: one per slot. */
	b->pending[b->npending++] = &s->cb;
}

/* Drop the first k entries of pending (io_submit took them, or the first
 * one failed). pending is at most window pointers long, so moving the rest
 * down is cheap and keeps submission in request order. */
static void drop_pending(struct batch *b, size_t k)
{
	b->npending -= k;
	memmove(b->pending, b->pending + k, b->npending * sizeof(*b->pending));
}

/* The request in s has its final result: record it and free the slot. */
static void finish(struct batch *b, struct slot *s, ssize_t res)
{
	b->reqs[s->req].res = res;
	b->free[b->nfree++] = s;
}

/* Give every idle slot the next unstarted request. */
static void refill(struct batch *b)
{
	while (b->nfree > 0 && b->next < b->n) {
		struct slot *s = b->free[--b->nfree];

		s->req = b->next++;
		s->done = 0;
		prepare_remainder(b, s);
		push_pending(b, s);
	}
}

/* ---- completions ------------------------------------------------------- */

/* One io_event came back for slot s with result res (bytes or -errno). */
static void complete(struct batch *b, struct slot *s, long res)
{
	size_t want = b->reqs[s->req].len - s->done;

	if (res == -EINTR) {
		/* A blocking read (a pipe, say) was interrupted by a signal
		 * before any data arrived: nothing is wrong, ask again. */
		prepare_remainder(b, s);
		push_pending(b, s);
		return;
	}
	if (res < 0) {
		/* An error after a partial transfer is still an error: a short
		 * count would tell the caller "end of file" when it was not. */
		finish(b, s, (ssize_t)res);
		return;
	}
	if (res == 0) {
		/* End of file: what we have is the whole answer. */
		finish(b, s, (ssize_t)s->done);
		return;
	}
	if ((size_t)res >= want) {
		/* Complete. (More than asked cannot happen; never let a
		 * confused completion push done past len.) */
		s->done += want;
		finish(b, s, (ssize_t)s->done);
		return;
	}
	/* Short read before EOF: submit the rest, from where it stopped. */
	s->done += (size_t)res;
	prepare_remainder(b, s);
	push_pending(b, s);
}

/* Wait for at least one completion and handle all that are ready.
 * Returns 0, or -errno when io_getevents itself fails (not -EINTR). */
static int reap(struct batch *b)
{
	int got;

	do {
		/* min_nr 1: wake as soon as one slot frees up, so the window
		 * is refilled while the rest are still in flight. */
		got = io_getevents(b->ctx, 1, (long)b->inflight, b->events, NULL);
	} while (got == -EINTR);   /* a signal handler ran: wait again */
	if (got < 0)
		return got;

	for (int i = 0; i < got; i++) {
		struct io_event *ev = &b->events[i];

		b->inflight--;
		complete(b, ev->data, (long)ev->res);
	}
	return 0;
}

/* ---- submission -------------------------------------------------------- */

static void pause_briefly(void)
{
	struct timespec ts = { 0, SUBMIT_EAGAIN_PAUSE_NS };

	/* An early wake-up by a signal only shortens one pause. */
	nanosleep(&ts, NULL);
}

/*
 * Hand pending iocbs to the kernel until pending is empty or the kernel
 * says "not now". Returns 0 (pending is empty), 1 after -EAGAIN with
 * requests of ours in flight (pending is not: the caller reaps, then comes
 * back; laio.h: no io_submit before that io_getevents), or -EAGAIN when
 * the kernel kept refusing while nothing of ours was in flight.
 */
static int submit_pending(struct batch *b)
{
	int refusals = 0;

	while (b->npending > 0) {
		int rc = io_submit(b->ctx, (long)b->npending, b->pending);

		if (rc > 0) {
			/* The first rc went in; the rest are still ours. */
			b->inflight += (size_t)rc;
			drop_pending(b, (size_t)rc);
			refusals = 0;
		} else if (rc == -EINTR) {
			continue;        /* nothing was submitted: try again */
		} else if (rc == -EAGAIN || rc == 0) {
			/* Out of kernel resources (or a library that accepted
			 * nothing). Completions we reap free them... */
			if (b->inflight > 0)
				return 1;
			/* ...but with nothing in flight, only time helps. */
			if (++refusals >= SUBMIT_EAGAIN_TRIES)
				return -EAGAIN;
			pause_briefly();
		} else {
			/* Any other error is about pending[0] alone: a bad fd,
			 * a negative offset, an fd not open for reading. That
			 * request fails; the ones behind it still go out. */
			struct slot *s = b->pending[0]->data;

			drop_pending(b, 1);
			finish(b, s, rc);
		}
	}
	return 0;
}

/* ---- setup and teardown ------------------------------------------------ */

/* min(qd, n, cap): the most requests this batch puts in flight at once.
 * qd can be UINT_MAX, so the comparisons are done in size_t. */
static size_t window_for(size_t n, unsigned qd, size_t cap)
{
	size_t w = qd;

	if (w > cap)
		w = cap;
	if (w > n)
		w = n;
	return w;
}

static void batch_free(struct batch *b)
{
	free(b->slots);
	free(b->free);
	free(b->pending);
	free(b->events);
}

/* The bookkeeping of one batch on a context that is already set up. Nothing
 * here talks to the kernel, so a failure leaves the context as it was. */
static int batch_init(struct batch *b, io_context_t ctx, struct batch_req *reqs,
		      size_t n, size_t window)
{
	memset(b, 0, sizeof(*b));
	b->reqs = reqs;
	b->n = n;
	b->ctx = ctx;
	b->window = window;

	b->slots = calloc(b->window, sizeof(*b->slots));
	b->free = calloc(b->window, sizeof(*b->free));
	b->pending = calloc(b->window, sizeof(*b->pending));
	b->events = calloc(b->window, sizeof(*b->events));
	if (!b->slots || !b->free || !b->pending || !b->events) {
		batch_free(b);
		return -ENOMEM;
	}
	/* Push in reverse so the first request gets slot 0 (tidier traces). */
	for (size_t i = b->window; i > 0; i--)
		b->free[b->nfree++] = &b->slots[i - 1];
	return 0;
}

/* Refill, submit, reap, until every request has its res. Returns 0 with
 * nothing of ours in flight; -EAGAIN from submit_pending also leaves
 * nothing in flight (it gives up only then); an io_getevents error may
 * leave reads in flight, which only io_destroy can wait for. */
static int run(struct batch *b)
{
	int rc = 0;

	for (;;) {
		refill(b);
		if (b->npending == 0 && b->inflight == 0)
			break;                  /* every request has its res */
		rc = submit_pending(b);
		if (rc < 0)
			break;
		/* A request io_submit refused gave its slot back: fill it
		 * before waiting, so the window is whole while we wait (not
		 * after "not now": that io_getevents comes first). */
		if (rc == 0 && b->nfree > 0 && b->next < b->n)
			continue;
		if (b->inflight > 0) {
			rc = reap(b);
			if (rc < 0)
				break;
		}
	}
	return rc;
}

/* ---- the exercise ------------------------------------------------------ */

int laio_batch_read_ctx(io_context_t ctx, unsigned nr_events,
			struct batch_req *reqs, size_t n, unsigned qd)
{
	struct batch b;
	size_t cap;
	int rc;

	/* A context of no events could never take a read: the caller's
	 * mistake, like qd 0, whether or not there is anything to read. */
	if (ctx == NULL || nr_events == 0 || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	/* The context was sized for nr_events: never more in flight. The
	 * kernel rounds its size up and might take more, but the caller did
	 * not ask for them, and an io_submit beyond them may answer -EAGAIN. */
	cap = nr_events < LAIO_MAX_QD ? nr_events : LAIO_MAX_QD;
	rc = batch_init(&b, ctx, reqs, n, window_for(n, qd, cap));
	if (rc < 0)
		return rc;       /* nothing submitted: the context is as it was */
	rc = run(&b);
	/* The kernel copied what it needed from our iocbs at io_submit and
	 * never writes them, so the bookkeeping can go even if io_getevents
	 * failed with reads in flight: their events name freed slots, which
	 * is why the caller must io_destroy the context then, never reap it. */
	batch_free(&b);
	return rc;
}

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	io_context_t ctx = 0;   /* io_setup wants *ctxp == 0 on entry */
	size_t window;
	int rc;

	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	/* Size the context by the window: every event asked for counts
	 * against the machine-wide /proc/sys/fs/aio-max-nr. */
	window = window_for(n, qd, LAIO_MAX_QD);
	rc = io_setup((int)window, &ctx);
	if (rc < 0)
		return rc;       /* -EAGAIN: aio-max-nr used up; -ENOSYS ... */

	rc = laio_batch_read_ctx(ctx, (unsigned)window, reqs, n, qd);

	/* io_destroy cancels what it can and waits for the rest, so no read
	 * can land in a caller's buffer after we return, even when
	 * io_getevents failed with reads in flight. Its result cannot change
	 * what the caller gets, so it is not reported. */
	(void)io_destroy(ctx);
	return rc;
}

/* ---- O_DIRECT helpers -------------------------------------------------- */

void *laio_alloc_aligned(size_t len)
{
	void *p = NULL;

	if (len == 0 || len > SIZE_MAX - (LAIO_DIO_ALIGN - 1))
		return NULL;
	len = (len + LAIO_DIO_ALIGN - 1) & ~((size_t)LAIO_DIO_ALIGN - 1);
	/* posix_memalign returns its error; it does not set errno. */
	if (posix_memalign(&p, LAIO_DIO_ALIGN, len) != 0)
		return NULL;
	memset(p, 0, len);
	return p;
}

/*
 * STATX_DIOALIGN arrived in Linux 6.1. glibc 2.36's <sys/stat.h> takes
 * struct statx from <linux/stat.h> when that header is there, so the
 * constant and the stx_dio_* fields come and go together. With older
 * kernel headers we define the constant and read the two fields from
 * their fixed place in the kernel's struct statx (bytes 0x98 and 0x9c,
 * inside what the old headers call padding: the layout is kernel ABI).
 */
#ifdef STATX_DIOALIGN
static void dio_fields(const struct statx *stx, uint32_t *mem, uint32_t *off)
{
	*mem = stx->stx_dio_mem_align;
	*off = stx->stx_dio_offset_align;
}
#else
#define STATX_DIOALIGN 0x00002000U
static void dio_fields(const struct statx *stx, uint32_t *mem, uint32_t *off)
{
	_Static_assert(sizeof(struct statx) >= 0xa0, "struct statx too small");
	memcpy(mem, (const char *)stx + 0x98, sizeof(*mem));
	memcpy(off, (const char *)stx + 0x9c, sizeof(*off));
}
#endif

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	struct statx stx;
	uint32_t mem = LAIO_DIO_ALIGN, off = LAIO_DIO_ALIGN;

	/* Checked here, not left to statx: with AT_EMPTY_PATH, the fd
	 * AT_FDCWD (-100) names the current directory, which statx would
	 * describe instead of refusing. */
	if (fd < 0)
		return -EBADF;
	memset(&stx, 0, sizeof(stx));
	/* statx is a glibc function: it returns -1 and sets errno. */
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) < 0)
		return -errno;

	if (stx.stx_mask & STATX_DIOALIGN) {
		dio_fields(&stx, &mem, &off);
		if (mem == 0 || off == 0)
			return -EOPNOTSUPP;  /* no direct I/O on this file */
	}
	/* else: kernel or filesystem too old to say; keep the safe 4096. */

	if (mem_align)
		*mem_align = mem;
	if (offset_align)
		*offset_align = off;
	return 0;
}
