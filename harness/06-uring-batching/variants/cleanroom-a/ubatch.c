/*
 * ubatch.c - chapter 06 clean-room variant "cleanroom-a": written from the
 * lesson, ubatch.h and the skeleton alone (no look at the reference or the
 * tests first) by a colleague in a clean-room review.
 *
 * Shape: ring set up with SINGLE_ISSUER|DEFER_TASKRUN (fallback without);
 * one loop of trips, each: fill (submitting with io_uring_submit only when
 * io_uring_get_sqe says the SQ is full), then one io_uring_submit_and_wait(1)
 * (wait for ONE completion, no time bound), then one pass of
 * io_uring_for_each_cqe + a single io_uring_cq_advance. The rest of a short
 * read is queued from inside the reaping pass; if no SQE is free the pass
 * stops at that CQE and leaves it on the CQ. Progress of a running request is
 * kept in its res; queued/in-kernel counts come from submit's return values.
 * No allocation at all.
 */
#define _GNU_SOURCE
#include "ubatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CHUNK ((size_t)1 << 30) /* most bytes asked of one SQE */
#define STALL_LIMIT 4           /* -EAGAIN/-EBUSY rounds without progress */

int ubatch_init(struct ubatch *b, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	if (!b)
		return -EINVAL;
	b->live = 0;
	b->sq_entries = b->cq_entries = 0;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(entries, &b->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &b->ring, &p);
	}
	if (ret < 0) {
		b->live = 0;
		return ret;
	}
	b->sq_entries = p.sq_entries;
	b->cq_entries = p.cq_entries;
	b->live = 1;
	return 0;
}

void ubatch_exit(struct ubatch *b)
{
	if (!b || !b->live)
		return;
	io_uring_queue_exit(&b->ring);
	b->live = 0;
}

struct run {
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n;
	size_t next;       /* first request not started yet                  */
	unsigned inflight; /* started, final CQE not reaped yet              */
	unsigned window;   /* min(qd, cq_entries)                            */
	unsigned queued;   /* SQEs prepared, not yet taken by the kernel     */
	unsigned inkernel; /* SQEs taken by the kernel, CQE not reaped yet   */
};

/* Prepare the read of what request i still lacks (done bytes in res). */
static void prep(struct io_uring_sqe *sqe, struct batch_req *r, size_t i)
{
	size_t done = (size_t)r->res;
	size_t left = r->len - done;

	if (left > CHUNK)
		left = CHUNK;
	io_uring_prep_read(sqe, r->fd, (char *)r->buf + done, (unsigned)left,
	                   (uint64_t)r->offset + done);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
}

static void account_submit(struct run *s, int ret)
{
	if (ret > 0) {
		s->queued -= (unsigned)ret;
		s->inkernel += (unsigned)ret;
	}
}

/*
 * Fill: start requests while the window has room. Returns 0, or a ring
 * error from a submit made to free the SQ (-EAGAIN/-EBUSY: stop filling and
 * let the trip wait for progress; anything else: fatal).
 */
static int fill(struct run *s)
{
	while (s->next < s->n && s->inflight < s->window) {
		struct batch_req *r = &s->reqs[s->next];
		struct io_uring_sqe *sqe;

		if (r->offset < 0) {
			r->res = -EINVAL;
			s->next++;
			continue;
		}
		if (r->len == 0) {
			r->res = 0;
			s->next++;
			continue;
		}
		sqe = io_uring_get_sqe(s->ring);
		if (!sqe) {
			int ret;

			if (s->queued == 0)
				return 0; /* nothing of ours to hand over */
			ret = io_uring_submit(s->ring);
			if (ret == -EINTR)
				continue;
			if (ret < 0)
				return ret;
			account_submit(s, ret);
			if (ret == 0)
				return 0;
			continue;
		}
		r->res = 0;
		prep(sqe, r, s->next);
		s->queued++;
		s->inflight++;
		s->next++;
	}
	return 0;
}

/* Reap every ready CQE; returns how many were handled. */
static unsigned reap(struct run *s)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(s->ring, head, cqe) {
		size_t i = (size_t)io_uring_cqe_get_data64(cqe);
		struct batch_req *r = &s->reqs[i];
		int res = cqe->res;
		bool again = false;
		ssize_t done = r->res;

		if (res == -EINTR) {
			again = true;
		} else if (res < 0) {
			done = res;
		} else if (res > 0) {
			done += res;
			if ((size_t)done < r->len)
				again = true;
		}
		if (again) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(s->ring);

			if (!sqe)
				break; /* leave this CQE for the next round */
			r->res = done;
			prep(sqe, r, i);
			s->queued++;
		} else {
			r->res = done;
			s->inflight--;
		}
		s->inkernel--;
		seen++;
	}
	if (seen)
		io_uring_cq_advance(s->ring, seen);
	return seen;
}

/* After a batch-level error: wait for the reads the kernel holds. */
static void drain(struct run *s)
{
	int fails = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int ret;

		io_uring_for_each_cqe(s->ring, head, cqe)
			seen++;
		if (seen) {
			io_uring_cq_advance(s->ring, seen);
			s->inkernel -= seen < s->inkernel ? seen : s->inkernel;
			fails = 0;
		}
		if (s->inkernel == 0)
			return;
		ret = io_uring_wait_cqe(s->ring, &cqe);
		if (ret == -EINTR || ret == 0)
			continue;
		if (++fails > STALL_LIMIT)
			return;
	}
}

int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	struct run s;
	int stalls = 0, err = 0;

	if (!b || !b->live || qd == 0)
		return -EINVAL;
	if (!reqs && n > 0)
		return -EINVAL;
	if (n == 0)
		return 0;

	memset(&s, 0, sizeof(s));
	s.ring = &b->ring;
	s.reqs = reqs;
	s.n = n;
	s.window = qd < b->cq_entries ? qd : b->cq_entries;

	for (;;) {
		int ret;

		ret = fill(&s);
		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY) {
			err = ret;
			break;
		}
		if (s.inflight == 0 && s.next >= s.n)
			break; /* every request has its res */

		if (ret == 0) {
			ret = io_uring_submit_and_wait(s.ring, 1);
			if (ret >= 0)
				account_submit(&s, ret);
		}
		if (ret == -EAGAIN || ret == -EBUSY) {
			if (++stalls > STALL_LIMIT) {
				err = ret;
				break;
			}
			if (io_uring_cq_ready(s.ring) == 0 && s.inkernel > 0) {
				struct io_uring_cqe *cqe;
				int w = io_uring_wait_cqe(s.ring, &cqe);

				if (w < 0 && w != -EINTR && w != -EAGAIN &&
				    w != -EBUSY) {
					err = w;
					break;
				}
			}
		} else if (ret < 0 && ret != -EINTR) {
			err = ret;
			break;
		} else if (ret > 0) {
			stalls = 0;
		}
		if (reap(&s) > 0)
			stalls = 0;
	}
	if (err) {
		drain(&s);
		return err;
	}
	return 0;
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ubatch b;
	unsigned entries;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	entries = qd;
	if ((size_t)entries > n)
		entries = (unsigned)n;
	if (entries > UBATCH_MAX_ENTRIES)
		entries = UBATCH_MAX_ENTRIES;
	for (;;) {
		ret = ubatch_init(&b, entries);
		if (ret != -ENOMEM || entries == 1)
			break;
		entries /= 2;
	}
	if (ret < 0)
		return ret;
	ret = ubatch_read(&b, reqs, n, qd);
	ubatch_exit(&b);
	return ret;
}
