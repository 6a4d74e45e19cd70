/*
 * ubatch.c - chapter 06 clean-room variant "cleanroom-b": written from the
 * lesson, ubatch.h and the skeleton alone (no look at the reference or the
 * tests first) by a colleague in a clean-room review.
 *
 * Shape: a plain ring (io_uring_queue_init, no set-up flags), sizes read
 * back from the ring struct. Each trip: fill (rests of short reads first,
 * from a malloc'd FIFO of request indices, then new requests; a full SQ is
 * handed over with io_uring_submit), then io_uring_submit, then, only when
 * the CQ is still empty, a separate wait: io_uring_wait_cqes for
 * min(in kernel, window/4, 8) with a 1 ms bound until a bound first runs
 * out, io_uring_wait_cqe (one, unbounded) after that. CQEs are reaped in
 * chunks of 16 with io_uring_peek_batch_cqe into a stack array, each chunk
 * advanced at once; a CQE is always consumed in its pass (the rest of a
 * short read goes to the FIFO, not into the SQ). SQEs in the kernel are
 * counted as (prepared, CQE not consumed) - io_uring_sq_ready().
 */
#define _GNU_SOURCE
#include "ubatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SQE_LEN 0x40000000u /* 1 GiB per SQE */
#define PEEK 16u
#define GIVE_UP 5

int ubatch_init(struct ubatch *b, unsigned entries)
{
	int ret;

	if (!b)
		return -EINVAL;
	b->live = 0;
	ret = io_uring_queue_init(entries, &b->ring, 0);
	if (ret < 0)
		return ret;
	b->sq_entries = b->ring.sq.ring_entries;
	b->cq_entries = b->ring.cq.ring_entries;
	b->live = 1;
	return 0;
}

void ubatch_exit(struct ubatch *b)
{
	if (b && b->live) {
		b->live = 0;
		io_uring_queue_exit(&b->ring);
	}
}

struct run {
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n, next;
	unsigned window;
	unsigned started;     /* requests started, not finished         */
	unsigned outstanding; /* SQEs prepared, CQE not consumed        */
	size_t *fifo;         /* requests whose rest awaits an SQE      */
	size_t cap, head, count;
	bool bounded;         /* still waiting for several, with a bound */
};

static unsigned in_kernel(struct run *s)
{
	return s->outstanding - io_uring_sq_ready(s->ring);
}

/* Queue the read of what request i still lacks; false if the SQ is full. */
static bool issue(struct run *s, size_t i)
{
	struct batch_req *r = &s->reqs[i];
	struct io_uring_sqe *sqe = io_uring_get_sqe(s->ring);
	size_t got, want;

	if (!sqe)
		return false;
	got = (size_t)r->res;
	want = r->len - got;
	if (want > MAX_SQE_LEN)
		want = MAX_SQE_LEN;
	io_uring_prep_read(sqe, r->fd, (unsigned char *)r->buf + got,
	                   (unsigned)want, (uint64_t)r->offset + got);
	io_uring_sqe_set_data64(sqe, i);
	s->outstanding++;
	return true;
}

/* Returns 0 or a ring error from a submit made to free the SQ. */
static int fill(struct run *s)
{
	for (;;) {
		size_t i;
		bool fresh = false;

		if (s->count > 0) {
			i = s->fifo[s->head];
		} else if (s->next < s->n && s->started < s->window) {
			struct batch_req *r = &s->reqs[s->next];

			if (r->offset < 0 || r->len == 0) {
				r->res = r->offset < 0 ? -EINVAL : 0;
				s->next++;
				continue;
			}
			i = s->next;
			fresh = true;
			r->res = 0;
		} else {
			return 0;
		}
		if (!issue(s, i)) {
			int ret;

			if (io_uring_sq_ready(s->ring) == 0)
				return 0;
			do
				ret = io_uring_submit(s->ring);
			while (ret == -EINTR);
			if (ret <= 0)
				return ret;
			continue;
		}
		if (fresh) {
			s->next++;
			s->started++;
		} else {
			s->head = (s->head + 1) % s->cap;
			s->count--;
		}
	}
}

static void rest_later(struct run *s, size_t i)
{
	s->fifo[(s->head + s->count) % s->cap] = i;
	s->count++;
}

static void handle(struct run *s, struct io_uring_cqe *cqe)
{
	size_t i = (size_t)io_uring_cqe_get_data64(cqe);
	struct batch_req *r = &s->reqs[i];
	int res = cqe->res;

	s->outstanding--;
	if (res == -EINTR) {
		rest_later(s, i);
	} else if (res < 0) {
		r->res = res;
		s->started--;
	} else if (res == 0) {
		s->started--; /* end of file: res holds what was read */
	} else {
		r->res += res;
		if ((size_t)r->res < r->len)
			rest_later(s, i);
		else
			s->started--;
	}
}

static unsigned reap(struct run *s, bool handle_them)
{
	struct io_uring_cqe *cqes[PEEK];
	unsigned total = 0, got, k;

	while ((got = io_uring_peek_batch_cqe(s->ring, cqes, PEEK)) > 0) {
		for (k = 0; k < got; k++) {
			if (handle_them)
				handle(s, cqes[k]);
			else
				s->outstanding--;
		}
		io_uring_cq_advance(s->ring, got);
		total += got;
	}
	return total;
}

static void drain(struct run *s)
{
	int errors = 0;

	while (errors < GIVE_UP) {
		struct io_uring_cqe *cqe;
		int ret;

		if (reap(s, false))
			errors = 0;
		if (in_kernel(s) == 0)
			return;
		ret = io_uring_wait_cqe(s->ring, &cqe);
		if (ret < 0 && ret != -EINTR)
			errors++;
	}
}

static bool retryable(int ret)
{
	return ret == -EAGAIN || ret == -EBUSY;
}

static int run(struct run *s)
{
	int stalls = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		int ret = fill(s);

		if (ret == 0) {
			if (s->started == 0 && s->next >= s->n)
				return 0;
			ret = io_uring_sq_ready(s->ring) ? io_uring_submit(s->ring) : 0;
		}
		if (ret == -EINTR)
			continue;
		if (retryable(ret)) {
			if (++stalls >= GIVE_UP)
				return ret;
			if (io_uring_cq_ready(s->ring) == 0 && in_kernel(s) > 0) {
				ret = io_uring_wait_cqe(s->ring, &cqe);
				if (ret < 0 && ret != -EINTR && !retryable(ret))
					return ret;
			}
		} else if (ret < 0) {
			return ret;
		} else if (io_uring_cq_ready(s->ring) == 0 && in_kernel(s) > 0) {
			unsigned nr = s->window / 4;

			if (nr > 8)
				nr = 8;
			if (nr > in_kernel(s))
				nr = in_kernel(s);
			if (nr < 1)
				nr = 1;
			if (s->bounded && nr > 1) {
				struct __kernel_timespec ts = { 0, 1000000 };

				ret = io_uring_wait_cqes(s->ring, &cqe, nr, &ts, NULL);
				if (ret == -ETIME) {
					s->bounded = false;
					ret = 0;
				}
			} else {
				ret = io_uring_wait_cqe(s->ring, &cqe);
			}
			if (ret < 0 && ret != -EINTR) {
				if (!retryable(ret))
					return ret;
				if (++stalls >= GIVE_UP)
					return ret;
			}
		}
		if (reap(s, true) > 0)
			stalls = 0;
	}
}

int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	struct run s;
	int ret;

	if (b == NULL || b->live != 1 || qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	memset(&s, 0, sizeof(s));
	s.ring = &b->ring;
	s.reqs = reqs;
	s.n = n;
	s.window = b->cq_entries < qd ? b->cq_entries : qd;
	s.cap = s.window < n ? s.window : n;
	s.bounded = true;
	s.fifo = malloc(s.cap * sizeof(*s.fifo));
	if (!s.fifo)
		return -ENOMEM;

	ret = run(&s);
	if (ret < 0)
		drain(&s);
	free(s.fifo);
	return ret;
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ubatch b;
	size_t want;
	int ret;

	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	want = n < qd ? n : qd;
	if (want > UBATCH_MAX_ENTRIES)
		want = UBATCH_MAX_ENTRIES;
	do {
		ret = ubatch_init(&b, (unsigned)want);
		want /= 2;
	} while (ret == -ENOMEM && want > 0);
	if (ret < 0)
		return ret;
	ret = ubatch_read(&b, reqs, n, qd);
	ubatch_exit(&b);
	return ret;
}
