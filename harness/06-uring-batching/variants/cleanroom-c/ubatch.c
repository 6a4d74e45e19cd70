/*
 * ubatch.c - chapter 06 clean-room variant "cleanroom-c": written from the
 * lesson, ubatch.h and the skeleton alone (no look at the reference or the
 * tests first) by a colleague in a clean-room review.
 *
 * Shape: ring asked for IORING_SETUP_SINGLE_ISSUER alone (retried plain on
 * -EINVAL). user_data is a pointer to the request. Fill checks
 * io_uring_sq_space_left() before io_uring_get_sqe and, when the SQ has no
 * room, ends the fill; the trip's single call is then
 * io_uring_submit_and_wait(ring, 0) (the window still has
 * room: hand the SQ over and come straight back to fill, reaping nothing
 * in that trip, so that the window grows past the SQ). With the window
 * full (or nothing left to start) the trip's call waits: for all the reads
 * prepared and not reaped, bounded by 1 ms (io_uring_submit_and_wait_timeout),
 * until a bound first runs out, then for one without a bound
 * (io_uring_submit_and_wait(ring, 1)). How many SQEs the kernel took is read from the ring
 * (io_uring_sq_ready), not from the return value. Reaping is one
 * io_uring_for_each_cqe walk and one io_uring_cq_advance; the rest of a
 * short read is queued during the walk, which stops at a CQE whose rest
 * finds no SQE. No allocation; copy.c is the reference's.
 */
#define _GNU_SOURCE
#include "ubatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int ubatch_init(struct ubatch *b, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	if (!b)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER;
	ret = io_uring_queue_init_params(entries, &b->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &b->ring, &p);
	}
	b->live = ret == 0;
	if (ret)
		return ret;
	b->sq_entries = p.sq_entries;
	b->cq_entries = p.cq_entries;
	return 0;
}

void ubatch_exit(struct ubatch *b)
{
	if (b == NULL || !b->live)
		return;
	b->live = 0;
	io_uring_queue_exit(&b->ring);
}

struct state {
	struct io_uring *ring;
	struct batch_req *next, *end;
	unsigned busy;    /* requests started, not finished */
	unsigned sqes;    /* SQEs prepared, CQE not reaped  */
	unsigned window;
	bool patient;     /* the 1 ms bound has not run out yet */
};

static void prep(struct io_uring_sqe *sqe, struct batch_req *r)
{
	size_t have = (size_t)r->res;
	size_t want = r->len - have;

	if (want > (1u << 30))
		want = 1u << 30;
	io_uring_prep_read(sqe, r->fd, (char *)r->buf + have, (unsigned)want,
	                   (uint64_t)r->offset + have);
	io_uring_sqe_set_data(sqe, r);
}

static void fill(struct state *st)
{
	while (st->next < st->end && st->busy < st->window) {
		struct batch_req *r = st->next;

		if (r->offset >= 0 && r->len > 0) {
			if (io_uring_sq_space_left(st->ring) == 0)
				return;
			r->res = 0;
			prep(io_uring_get_sqe(st->ring), r);
			st->sqes++;
			st->busy++;
		} else {
			r->res = r->offset < 0 ? -EINVAL : 0;
		}
		st->next++;
	}
}

static unsigned reap(struct state *st)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(st->ring, head, cqe) {
		struct batch_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		ssize_t have = r->res;
		bool more;

		if (res == -EINTR) {
			more = true;
		} else if (res <= 0) {
			if (res < 0)
				have = res;
			more = false;
		} else {
			have += res;
			more = (size_t)have < r->len;
		}
		if (more) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(st->ring);

			if (sqe == NULL)
				break;
			r->res = have;
			prep(sqe, r);
			st->sqes++;
		} else {
			r->res = have;
			st->busy--;
		}
		st->sqes--;
		n++;
	}
	io_uring_cq_advance(st->ring, n);
	return n;
}

static unsigned kernel_has(struct state *st)
{
	return st->sqes - io_uring_sq_ready(st->ring);
}

static void drain(struct state *st)
{
	unsigned tries = 0;

	while (tries < 4) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int ret;

		io_uring_for_each_cqe(st->ring, head, cqe)
			n++;
		io_uring_cq_advance(st->ring, n);
		st->sqes -= n;
		if (kernel_has(st) == 0)
			return;
		ret = io_uring_wait_cqe(st->ring, &cqe);
		if (ret < 0 && ret != -EINTR)
			tries++;
	}
}

int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n,
                unsigned qd)
{
	struct state st;
	unsigned idle = 0;
	int err = 0;

	if (!b || !b->live || !qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;

	memset(&st, 0, sizeof(st));
	st.ring = &b->ring;
	st.next = reqs;
	st.end = reqs + n;
	st.window = qd > b->cq_entries ? b->cq_entries : qd;
	st.patient = true;

	while (fill(&st), st.busy > 0) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
		bool room = st.next < st.end && st.busy < st.window;
		unsigned queued = io_uring_sq_ready(st.ring);
		unsigned want = 0;
		int ret;

		if (!room && io_uring_cq_ready(st.ring) == 0)
			want = st.patient ? st.sqes : 1;
		if (want == 0 && queued == 0) {
			/* CQEs are waiting already: nothing to hand over */
			ret = 0;
		} else if (want > 1) {
			ret = io_uring_submit_and_wait_timeout(st.ring, &cqe, want,
			                                       &ts, NULL);
			if (ret == -ETIME) {
				st.patient = false;
				ret = 0;
			}
		} else {
			ret = io_uring_submit_and_wait(st.ring, want);
		}
		if (ret == -EAGAIN || ret == -EBUSY) {
			if (++idle > 4) {
				err = ret;
				break;
			}
			if (io_uring_cq_ready(st.ring) == 0 && kernel_has(&st) > 0) {
				ret = io_uring_wait_cqe(st.ring, &cqe);
				if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
				    ret != -EBUSY) {
					err = ret;
					break;
				}
			}
		} else if (ret < 0 && ret != -EINTR) {
			err = ret;
			break;
		}
		if (io_uring_sq_ready(st.ring) < queued)
			idle = 0;
		if (room && ret >= 0)
			continue; /* only handed a full SQ over: go on filling */
		if (reap(&st))
			idle = 0;
	}
	if (err)
		drain(&st);
	return err;
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ubatch b;
	unsigned size = UBATCH_MAX_ENTRIES;
	int ret;

	if (!qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;
	if (size > qd)
		size = qd;
	if (size > n)
		size = (unsigned)n;
	while ((ret = ubatch_init(&b, size)) == -ENOMEM && size > 1)
		size = (size + 1) / 2;
	if (ret)
		return ret;
	ret = ubatch_read(&b, reqs, n, qd);
	ubatch_exit(&b);
	return ret;
}
