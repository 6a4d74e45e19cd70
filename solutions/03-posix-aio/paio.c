/*
 * paio.c - chapter 03, part A: the batch of reads through POSIX aio.
 *
 * The shape of the loop:
 *
 *     fill free slots with the next requests        (no I/O yet)
 *     submit every ready slot with aio_read         (glibc queues it)
 *     wait with aio_suspend on the slots in flight  (EINTR: wait again;
 *           or first, patiently, on one of them: see wait_for_some)
 *     reap: aio_error says which finished, aio_return once for each;
 *           a short read puts its slot back to "ready" for the rest
 *
 * A slot is one aiocb. glibc keeps a pointer to it from aio_read until the
 * read is reaped, so the slots live in one array that is allocated once
 * and freed only after every read has been collected.
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* aio_read failing with EAGAIN while nothing of ours is in flight: how many
 * times we pause and try again before giving the batch up. The pauses
 * double from 1 ms, so the last try comes about a quarter second later. */
#define EAGAIN_RETRIES 8

/* The patient wait (wait_for_some): while at least 2 * PATIENT_READS reads
 * are in flight, sleep until the PATIENT_READS-th oldest has finished, for
 * at most PATIENT_BOUND_NS, so that one wake-up collects several reads and
 * the reads behind it keep glibc's helper busy meanwhile. Measured on the
 * course machines at qd 32 (lesson section 9): waking for every read cost
 * 2.7 voluntary context switches per read, waiting for the 4th oldest 1.6,
 * the 8th 1.2, the 16th 1.1; fio's posixaio engine 1.4. 5 ms is far more
 * than 8 reads of 4 KiB take on an SSD (about 0.6 ms here), and short
 * enough that a read which does not come back holds the others up only
 * briefly. */
#define PATIENT_READS 8
#define PATIENT_BOUND_NS 5000000L

enum slot_state {
	SLOT_FREE,     /* no request                                         */
	SLOT_READY,    /* has a request (or its remainder) to submit         */
	SLOT_RUNNING,  /* aio_read accepted it; not reaped yet: hands off    */
};

struct slot {
	struct aiocb cb;
	struct batch_req *req;
	size_t done;           /* bytes of req already read */
	unsigned long seq;     /* submission order of the read in flight */
	enum slot_state state;
};

struct window {
	struct slot *slots;
	/* What aio_suspend waits on: &slots[i].cb while slot i is RUNNING,
	 * NULL otherwise (aio_suspend ignores NULL entries). */
	const struct aiocb **list;
	size_t size;
	size_t running;
	size_t ready;
	unsigned long submitted;  /* aio_read calls accepted so far: the next seq */
	bool patient;             /* try the patient wait (until one runs out) */
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int window_open(struct window *w, size_t size)
{
	w->slots = calloc(size, sizeof(*w->slots));
	w->list = calloc(size, sizeof(*w->list));
	if (w->slots == NULL || w->list == NULL) {
		free(w->slots);
		free(w->list);
		return -ENOMEM;
	}
	w->size = size;
	w->running = 0;
	w->ready = 0;
	w->submitted = 0;
	w->patient = true;
	return 0;
}

static void window_close(struct window *w)
{
	free(w->slots);
	free(w->list);
}

/* The result of a request that needs no I/O, or 1 if it needs I/O. */
static ssize_t result_without_io(const struct batch_req *r)
{
	if (r->offset < 0 || r->len > SSIZE_MAX)
		return -EINVAL;
	if (r->len == 0)
		return 0;
	return 1;
}

/* Give free slots the next requests; requests that need no I/O are
 * answered here and take no slot. */
static void fill_free_slots(struct window *w, struct batch_req *reqs,
			    size_t n, size_t *next)
{
	for (size_t i = 0; i < w->size && *next < n; i++) {
		if (w->slots[i].state != SLOT_FREE)
			continue;
		while (*next < n) {
			struct batch_req *r = &reqs[(*next)++];
			ssize_t res = result_without_io(r);

			if (res <= 0) {
				r->res = res;
				continue;
			}
			w->slots[i] = (struct slot){ .req = r, .state = SLOT_READY };
			w->ready++;
			break;
		}
	}
}

static void finish(struct slot *s, ssize_t res)
{
	s->req->res = res;
	s->req = NULL;
	s->state = SLOT_FREE;
}

/* Describe the part of the request not read yet: a fresh, zeroed aiocb
 * (glibc rejects a garbage aio_reqprio), no notification. */
static void prepare_aiocb(struct slot *s)
{
	memset(&s->cb, 0, sizeof(s->cb));
	s->cb.aio_fildes = s->req->fd;
	s->cb.aio_buf = (char *)s->req->buf + s->done;
	s->cb.aio_nbytes = s->req->len - s->done;
	s->cb.aio_offset = s->req->offset + (off_t)s->done;
	s->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* aio_read the slot; 0 when glibc took it, -errno when it refused. */
static int submit_slot(struct window *w, size_t i)
{
	struct slot *s = &w->slots[i];

	prepare_aiocb(s);
	if (aio_read(&s->cb) < 0)
		return -errno;
	s->state = SLOT_RUNNING;
	s->seq = w->submitted++;
	w->list[i] = &s->cb;
	w->ready--;
	w->running++;
	return 0;
}

/* Submit every ready slot. Stops at the first EAGAIN and returns -EAGAIN
 * (the slot stays ready); any other refusal is that request's result and
 * frees its slot. Returns how many requests were refused that way. */
static int submit_ready(struct window *w)
{
	int refused = 0;

	for (size_t i = 0; i < w->size && w->ready > 0; i++) {
		struct slot *s = &w->slots[i];
		int rc;

		if (s->state != SLOT_READY)
			continue;
		rc = submit_slot(w, i);
		if (rc == -EAGAIN)
			return -EAGAIN;
		if (rc < 0) {
			w->ready--;
			finish(s, rc);
			refused++;
		}
	}
	return refused;
}

/* Sleep until at least one read in flight has finished. */
static int wait_for_any(struct window *w)
{
	for (;;) {
		if (aio_suspend(w->list, (int)w->size, NULL) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* The k-th oldest read in flight (k from 1), or NULL if fewer are in
 * flight. k passes over the window: at most 8 x 1024 slots, cheaper than
 * the scan with aio_error (one lock each) that follows every wait. */
static struct slot *kth_oldest_running(struct window *w, size_t k)
{
	struct slot *pick = NULL;
	unsigned long floor = 0;

	for (size_t j = 0; j < k; j++) {
		pick = NULL;
		for (size_t i = 0; i < w->size; i++) {
			struct slot *s = &w->slots[i];

			if (s->state == SLOT_RUNNING && s->seq >= floor &&
			    (pick == NULL || s->seq < pick->seq))
				pick = s;
		}
		if (pick == NULL)
			return NULL;
		floor = pick->seq + 1;
	}
	return pick;
}

/*
 * Sleep until some reads in flight have finished.
 *
 * Waking up costs: glibc's helper thread must wake us with a futex call
 * before it starts its next pread, and on one file descriptor glibc runs
 * the reads one after another in one helper, so every wake-up sits on the
 * path of the reads themselves. Waking for each completion made the
 * reference 0.8-0.9 of fio's posixaio engine at qd 32 and 128 (lesson
 * section 9).
 *
 * So first try to be patient: with enough reads in flight, sleep on the
 * PATIENT_READS-th oldest read alone. On one file the reads before it
 * usually finish first (glibc queues them in order; POSIX does not promise
 * it), and one wake-up then collects PATIENT_READS reads. The wait is
 * bounded: reads on several files or pipes finish in any order, and the one
 * we chose may be slow while the others are done. Once a patient wait runs
 * out, this batch is not the in-order case: wait on all the reads in flight
 * from then on, which wakes as soon as any one of them finishes.
 */
static int wait_for_some(struct window *w)
{
	struct slot *target = NULL;

	if (w->patient && w->running >= 2 * PATIENT_READS)
		target = kth_oldest_running(w, PATIENT_READS);

	if (target != NULL) {
		const struct aiocb *one[1] = { &target->cb };
		const struct timespec bound = { .tv_sec = 0, .tv_nsec = PATIENT_BOUND_NS };

		if (aio_suspend(one, 1, &bound) == 0)
			return 0;
		if (errno == EAGAIN)
			w->patient = false;         /* ran out: wait on all from now on */
		else if (errno != EINTR)
			return -errno;
	}
	return wait_for_any(w);
}

/* A read came back: err from aio_error, got from aio_return. Finish the
 * request, or put it back to "ready" for the part still missing. */
static void account(struct window *w, struct slot *s, int err, ssize_t got)
{
	if (err != 0) {
		finish(s, -err);
	} else if (got == 0) {
		finish(s, (ssize_t)s->done);          /* end of file */
	} else {
		s->done += (size_t)got;
		if (s->done == s->req->len) {
			finish(s, (ssize_t)s->done);
		} else {
			s->state = SLOT_READY;            /* short read: continue */
			w->ready++;
		}
	}
}

/* Collect one finished read: aio_return exactly once, then the slot and
 * its aiocb are ours again. */
static void reap_slot(struct window *w, size_t i, int err)
{
	struct slot *s = &w->slots[i];
	ssize_t got = aio_return(&s->cb);

	w->list[i] = NULL;
	w->running--;
	if (err == 0 && got < 0)   /* cannot happen; never trust it blindly */
		err = EIO;
	account(w, s, err, got);
}

static void reap_finished(struct window *w)
{
	for (size_t i = 0; i < w->size; i++) {
		int err;

		if (w->slots[i].state != SLOT_RUNNING)
			continue;
		err = aio_error(&w->slots[i].cb);
		if (err == EINPROGRESS)
			continue;
		if (err < 0)                /* aio_error itself failed */
			err = errno;
		reap_slot(w, i, err);
	}
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Before an error return: wait for every read still in flight and collect
 * it, so that no helper thread writes into our slots after we free them. */
static void drain(struct window *w)
{
	for (size_t i = 0; i < w->size; i++) {
		const struct aiocb *one[1] = { &w->slots[i].cb };

		if (w->slots[i].state != SLOT_RUNNING)
			continue;
		while (aio_error(one[0]) == EINPROGRESS) {
			if (aio_suspend(one, 1, NULL) < 0 && errno != EINTR)
				pause_ms(1);  /* aio_suspend broken: poll slowly */
		}
		(void)aio_return(&w->slots[i].cb);
		w->slots[i].state = SLOT_FREE;
		w->list[i] = NULL;
		w->running--;
	}
}

static int run_batch(struct window *w, struct batch_req *reqs, size_t n)
{
	size_t next = 0;
	int eagain_streak = 0;

	for (;;) {
		int rc;

		fill_free_slots(w, reqs, n, &next);
		rc = submit_ready(w);
		if (rc == -EAGAIN && w->running == 0) {
			/* Nothing of ours will finish and free resources:
			 * pause, then try again, a bounded number of times. */
			if (eagain_streak == EAGAIN_RETRIES)
				return -EAGAIN;
			pause_ms(1L << eagain_streak++);
			continue;
		}
		eagain_streak = 0;
		if (rc > 0 && next < n)
			continue;  /* refused requests freed slots: refill before sleeping */
		/* Nothing in flight is nothing left: the fill above took a
		 * request for every free slot, and the continue above refilled
		 * the slots of refused ones. */
		if (w->running == 0)
			return 0;
		rc = wait_for_some(w);
		if (rc < 0)
			return rc;
		reap_finished(w);
	}
}

int paio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct window w;
	int rc;

	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	rc = window_open(&w, min_size(min_size(n, qd), PAIO_MAX_INFLIGHT));
	if (rc < 0)
		return rc;
	rc = run_batch(&w, reqs, n);
	drain(&w);
	window_close(&w);
	return rc;
}
