/*
 * Variant cleanroom-window-slots (harness/README.md, "Correct variants"):
 * written from the lesson, ufixed.h, chapter 06's lesson and the man pages
 * alone, without reading solutions/ or the tests, by a colleague (clean
 * room for chapter 08, 2026-12-07). Shape: a read loop of its own. Each
 * call mallocs a table of window slots (min(qd, cq_entries, n)) with a free
 * list; the SQE's user_data is the window slot's index, reused by one
 * request after another (not the request's index); each slot keeps the
 * bytes done and the buffer and file slots, looked up once when the request
 * starts. Every trip is one io_uring_submit_and_wait(ring, 1) with no time
 * bound; CQEs are handled one at a time (io_uring_peek_cqe,
 * io_uring_cqe_seen). No extra set-up flags; the file table is registered
 * before the buffer table and unregistered first; sizes from the params.
 * It made 08.10 and 08.12 fail at first: the watch cut and interrupted
 * reads once per user_data, which the contract does not fix.
 */
/*
 * ufixed.c - chapter 08: chapter 06's batch read on a ring with a registered
 * buffer table and a registered file table, optionally SQPOLL or IOPOLL.
 *
 * A loop of its own instead of the skeleton's: the state of a call is a
 * table of window slots allocated per call (one per read in flight, the
 * slot's index is the SQE's user data), each holding the request, the
 * bytes done so far and the buffer and file slots decided once, when the
 * request is started. Every trip submits and waits for ONE completion
 * (io_uring_submit_and_wait(ring, 1), no time bound), then handles the CQEs
 * one at a time with io_uring_peek_cqe / io_uring_cqe_seen.
 */
#define _GNU_SOURCE
#include "ufixed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAX (1u << 30)   /* most bytes one SQE asks for */
#define GIVE_UP 8              /* trips in a row without progress */
#define RING_MAX 32768u

static void clear(struct ufixed *u)
{
	memset(u, 0, sizeof(*u));
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		u->files[s] = -1;
}

int ufixed_init(struct ufixed *u, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	int ret;

	if (!u)
		return -EINVAL;
	clear(u);
	if ((flags & ~(UFIXED_SQPOLL | UFIXED_IOPOLL)) || !entries || entries > RING_MAX)
		return -EINVAL;

	memset(&p, 0, sizeof(p));
	if (flags & UFIXED_IOPOLL)
		p.flags |= IORING_SETUP_IOPOLL;
	if (flags & UFIXED_SQPOLL) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = UFIXED_SQ_IDLE_MS;
	}
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret < 0) {
		clear(u);
		return ret;
	}
	/* Files first, then buffers: either failing undoes the ring. */
	ret = io_uring_register_files_sparse(&u->ring, UFIXED_MAX_FILES);
	if (ret >= 0)
		ret = io_uring_register_buffers_sparse(&u->ring, UFIXED_MAX_BUFS);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring);
		clear(u);
		return ret;
	}
	u->sq_entries = p.sq_entries;
	u->cq_entries = p.cq_entries;
	u->flags = flags;
	u->live = 1;
	return 0;
}

/* One slot of the kernel's buffer table set to iov; the mirror follows. */
static int set_buf(struct ufixed *u, unsigned slot, struct iovec iov)
{
	int ret = io_uring_register_buffers_update_tag(&u->ring, slot, &iov, NULL, 1);

	if (ret < 0)
		return ret;
	u->bufs[slot] = iov;
	return 0;
}

/* One slot of the kernel's file table set to fd (-1: empty). */
static int set_file(struct ufixed *u, unsigned slot, int fd)
{
	int ret = io_uring_register_files_update(&u->ring, slot, &fd, 1);

	if (ret < 0)
		return ret;
	u->files[slot] = fd;
	return 0;
}

int ufixed_add_buffer(struct ufixed *u, void *base, size_t len)
{
	int ret;

	if (!u || !u->live || !base || !len || len > UFIXED_MAX_BUF_LEN)
		return -EINVAL;
	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++) {
		if (u->bufs[s].iov_base)
			continue;
		ret = set_buf(u, s, (struct iovec){ .iov_base = base, .iov_len = len });
		return ret < 0 ? ret : (int)s;
	}
	return -ENOSPC;
}

int ufixed_remove_buffer(struct ufixed *u, unsigned slot)
{
	if (!u || !u->live || slot >= UFIXED_MAX_BUFS || !u->bufs[slot].iov_base)
		return -EINVAL;
	return set_buf(u, slot, (struct iovec){ .iov_base = NULL, .iov_len = 0 });
}

int ufixed_add_file(struct ufixed *u, int fd)
{
	int ret;

	if (!u || !u->live)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++) {
		if (u->files[s] != -1)
			continue;
		ret = set_file(u, s, fd);
		return ret < 0 ? ret : (int)s;
	}
	return -ENOSPC;
}

int ufixed_remove_file(struct ufixed *u, unsigned slot)
{
	if (!u || !u->live || slot >= UFIXED_MAX_FILES || u->files[slot] == -1)
		return -EINVAL;
	return set_file(u, slot, -1);
}

/* The buffer slot holding all of [buf, buf + len), or -1. Unsigned
 * arithmetic: a buf below the slot's base wraps to a huge offset. */
static int buffer_slot(const struct ufixed *u, const void *buf, size_t len)
{
	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++) {
		size_t size = u->bufs[s].iov_len;
		size_t at = (size_t)((uintptr_t)buf - (uintptr_t)u->bufs[s].iov_base);

		if (u->bufs[s].iov_base && at < size && len <= size - at)
			return (int)s;
	}
	return -1;
}

static int file_slot(const struct ufixed *u, int fd)
{
	for (unsigned s = 0; fd >= 0 && s < UFIXED_MAX_FILES; s++)
		if (u->files[s] == fd)
			return (int)s;
	return -1;
}

/* ---------------- the read loop ---------------- */

struct wslot {
	size_t req;      /* index into reqs */
	size_t done;     /* bytes read so far */
	int bslot;       /* buffer slot, or -1 */
	int fslot;       /* file slot, or -1 */
	unsigned next_free;
};

struct call {
	struct ufixed *u;
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n, next;
	struct wslot *w;
	unsigned nw, free_head, inflight;
	bool sqpoll;
};

static struct io_uring_sqe *sqe_or_wait(struct call *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(c->ring);
	int ret;

	if (sqe || !c->sqpoll)
		return sqe;
	/* SQPOLL: the kernel thread frees SQ room when it gets to it. */
	do
		ret = io_uring_sqring_wait(c->ring);
	while (ret == -EINTR);
	return ret < 0 ? NULL : io_uring_get_sqe(c->ring);
}

static void issue(struct call *c, struct io_uring_sqe *sqe, unsigned k)
{
	struct wslot *w = &c->w[k];
	struct batch_req *q = &c->reqs[w->req];
	size_t rest = q->len - w->done;
	unsigned len = rest > CHUNK_MAX ? CHUNK_MAX : (unsigned)rest;
	void *buf = (char *)q->buf + w->done;
	__u64 off = (__u64)q->offset + w->done;
	int fd = w->fslot >= 0 ? w->fslot : q->fd;

	if (w->bslot >= 0)
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, w->bslot);
	else
		io_uring_prep_read(sqe, fd, buf, len, off);
	io_uring_sqe_set_flags(sqe, w->fslot >= 0 ? IOSQE_FIXED_FILE : 0);
	io_uring_sqe_set_data64(sqe, k);
}

/* Start requests while the window has room. */
static void start_more(struct call *c)
{
	while (c->next < c->n && c->inflight < c->nw) {
		struct batch_req *q = &c->reqs[c->next];
		struct io_uring_sqe *sqe;
		unsigned k;
		int ret;

		if (q->offset < 0) {
			q->res = -EINVAL;
			c->next++;
			continue;
		}
		if (q->len == 0) {
			q->res = 0;
			c->next++;
			continue;
		}
		sqe = sqe_or_wait(c);
		if (!sqe) {
			/* SQ full: hand over what is queued, once. */
			do
				ret = io_uring_submit(c->ring);
			while (ret == -EINTR);
			if (ret <= 0)
				return;
			/* On SQPOLL the SQEs just published are the thread's
			 * to take: sqe_or_wait waits for that room (before
			 * the submit, io_uring_sqring_wait had nothing to wait
			 * for). */
			sqe = sqe_or_wait(c);
			if (!sqe)
				return;
		}
		k = c->free_head;
		c->free_head = c->w[k].next_free;
		c->w[k].req = c->next;
		c->w[k].done = 0;
		c->w[k].bslot = buffer_slot(c->u, q->buf, q->len);
		c->w[k].fslot = file_slot(c->u, q->fd);
		issue(c, sqe, k);
		c->next++;
		c->inflight++;
	}
}

/* Handle the CQEs there, one by one. Returns how many were handled; stops
 * at a CQE whose rest finds no SQE (it stays on the CQ for the next trip). */
static unsigned handle_cqes(struct call *c)
{
	unsigned handled = 0;
	struct io_uring_cqe *cqe;

	while (io_uring_cq_ready(c->ring) && io_uring_peek_cqe(c->ring, &cqe) == 0) {
		__u64 k = io_uring_cqe_get_data64(cqe);
		struct wslot *w;
		struct batch_req *q;
		int res = cqe->res;

		if (k >= c->nw) { /* not ours */
			io_uring_cqe_seen(c->ring, cqe);
			continue;
		}
		w = &c->w[k];
		q = &c->reqs[w->req];
		if (res == -EINTR || (res > 0 && w->done + (size_t)res < q->len)) {
			struct io_uring_sqe *sqe = sqe_or_wait(c);

			if (!sqe)
				break;
			if (res > 0)
				w->done += (size_t)res;
			issue(c, sqe, (unsigned)k);
		} else {
			q->res = res < 0 ? (ssize_t)res : (ssize_t)(w->done + (size_t)res);
			w->next_free = c->free_head;
			c->free_head = (unsigned)k;
			c->inflight--;
		}
		io_uring_cqe_seen(c->ring, cqe);
		handled++;
	}
	return handled;
}

static int wait_cqe_eintr(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	return ret;
}

/* After an error that ends the batch: let the kernel's reads finish. */
static void finish_kernel_reads(struct call *c)
{
	unsigned queued = c->sqpoll ? 0 : io_uring_sq_ready(c->ring);
	unsigned left = c->inflight > queued ? c->inflight - queued : 0;
	struct io_uring_cqe *cqe;

	while (left) {
		if (wait_cqe_eintr(c->ring) < 0)
			return;
		while (left && io_uring_cq_ready(c->ring) && io_uring_peek_cqe(c->ring, &cqe) == 0) {
			io_uring_cqe_seen(c->ring, cqe);
			left--;
		}
	}
}

int ufixed_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd)
{
	struct call c;
	unsigned stuck = 0;
	int ret = 0;

	if (!u || !u->live || !qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;

	memset(&c, 0, sizeof(c));
	c.u = u;
	c.ring = &u->ring;
	c.reqs = reqs;
	c.n = n;
	c.sqpoll = (u->flags & UFIXED_SQPOLL) != 0;
	c.nw = qd < u->cq_entries ? qd : u->cq_entries;
	if (c.nw > n)
		c.nw = (unsigned)n;
	c.w = malloc((size_t)c.nw * sizeof(*c.w));
	if (!c.w)
		return -ENOMEM;
	for (unsigned k = 0; k < c.nw; k++)
		c.w[k].next_free = k + 1;

	for (;;) {
		start_more(&c);
		if (!c.inflight) {
			ret = c.next == c.n ? 0 : -EBUSY;
			break;
		}
		ret = io_uring_submit_and_wait(c.ring, 1);
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN || ret == -EBUSY) {
			if (++stuck > GIVE_UP)
				break;
			if (!io_uring_cq_ready(c.ring) && c.inflight > io_uring_sq_ready(c.ring)) {
				ret = wait_cqe_eintr(c.ring);
				if (ret < 0)
					break;
			}
		} else if (ret < 0) {
			break;
		} else if (ret > 0) {
			stuck = 0;
		}
		if (handle_cqes(&c))
			stuck = 0;
		else if (io_uring_cq_ready(c.ring) && ++stuck > GIVE_UP) {
			ret = -EAGAIN;
			break;
		}
	}
	if (ret < 0)
		finish_kernel_reads(&c);
	free(c.w);
	return ret;
}

void ufixed_exit(struct ufixed *u)
{
	if (!u)
		return;
	if (u->live) {
		io_uring_unregister_files(&u->ring);
		io_uring_unregister_buffers(&u->ring);
		io_uring_queue_exit(&u->ring);
	}
	clear(u);
}

int ufixed_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ufixed u;
	size_t want;
	int ret;

	if (!qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;
	want = n < qd ? n : qd;
	if (want > UFIXED_MAX_ENTRIES)
		want = UFIXED_MAX_ENTRIES;
	while ((ret = ufixed_init(&u, (unsigned)want, 0)) == -ENOMEM && want > 1)
		want = (want + 1) / 2;
	if (ret < 0)
		return ret;
	ret = ufixed_read(&u, reqs, n, qd);
	ufixed_exit(&u);
	return ret;
}
