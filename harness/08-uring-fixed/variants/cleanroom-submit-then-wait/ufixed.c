/*
 * Variant cleanroom-submit-then-wait (harness/README.md, "Correct variants"):
 * written from the lesson, ufixed.h, chapter 06's lesson and the man pages
 * alone, without reading solutions/ or the tests, by a colleague (clean
 * room for chapter 08, 2026-12-07). Shape: a loop of its own with no
 * allocation (progress in res, user_data the request's index): each trip
 * fills the window, calls io_uring_submit() alone, and only when the CQ is
 * still empty and the kernel holds a read (on SQPOLL: any read in flight)
 * sleeps in io_uring_wait_cqe() for one; one io_uring_for_each_cqe pass,
 * one advance. Plain rings get IORING_SETUP_SINGLE_ISSUER alone (retried
 * plain on -EINVAL); the free slot is the lowest bit of a mask built from
 * the mirror; add_file says -ENOSPC before it looks at the fd; len - 1 >=
 * UFIXED_MAX_BUF_LEN refuses 0 and too large at once; the drain advances
 * the CQ by what is ready instead of one CQE at a time.
 */
/*
 * ufixed.c - chapter 08: registered buffers and files, SQPOLL, IOPOLL.
 *
 * Shape: no allocation; a request's progress lives in its res while it runs
 * and the SQE's user_data is the request's index. Each trip fills the
 * window, hands the SQEs over with io_uring_submit(), and only when the CQ
 * is still empty sleeps in io_uring_wait_cqe() for one completion; then
 * every CQE there is handled in one io_uring_for_each_cqe pass and
 * advanced once. Free slots are found from a bit mask of the mirror.
 */
#define _GNU_SOURCE
#include "ufixed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PIECE (1ul << 30)     /* most bytes per SQE */
#define TRIES 8               /* trips in a row without progress */

static void reset(struct ufixed *u)
{
	memset(u, 0, sizeof(*u));
	memset(u->files, 0xff, sizeof(u->files)); /* every slot -1 */
}

static int setup(struct ufixed *u, unsigned entries, unsigned setup_flags, unsigned idle)
{
	struct io_uring_params p = { .flags = setup_flags, .sq_thread_idle = idle };
	int ret = io_uring_queue_init_params(entries, &u->ring, &p);

	if (ret == 0) {
		u->sq_entries = p.sq_entries;
		u->cq_entries = p.cq_entries;
	}
	return ret;
}

int ufixed_init(struct ufixed *u, unsigned entries, unsigned flags)
{
	int ret;

	if (!u)
		return -EINVAL;
	reset(u);
	if (entries < 1 || entries > 32768 || flags > (UFIXED_SQPOLL | UFIXED_IOPOLL))
		return -EINVAL;
	if (flags & UFIXED_SQPOLL)
		ret = setup(u, entries, IORING_SETUP_SQPOLL |
			    (flags & UFIXED_IOPOLL ? IORING_SETUP_IOPOLL : 0), UFIXED_SQ_IDLE_MS);
	else if (flags & UFIXED_IOPOLL)
		ret = setup(u, entries, IORING_SETUP_IOPOLL, 0);
	else if ((ret = setup(u, entries, IORING_SETUP_SINGLE_ISSUER, 0)) == -EINVAL)
		ret = setup(u, entries, 0, 0);
	if (ret < 0) {
		reset(u);
		return ret;
	}
	ret = io_uring_register_buffers_sparse(&u->ring, UFIXED_MAX_BUFS);
	if (ret < 0)
		goto undo;
	ret = io_uring_register_files_sparse(&u->ring, UFIXED_MAX_FILES);
	if (ret < 0)
		goto undo;
	u->flags = flags;
	u->live = 1;
	return 0;
undo:
	io_uring_queue_exit(&u->ring);
	reset(u);
	return ret;
}

/* Bit s set: buffer slot s is empty. */
static unsigned free_bufs(const struct ufixed *u)
{
	unsigned m = 0;

	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++)
		if (u->bufs[s].iov_base == NULL)
			m |= 1u << s;
	return m;
}

static unsigned free_files(const struct ufixed *u)
{
	unsigned m = 0;

	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		if (u->files[s] < 0)
			m |= 1u << s;
	return m;
}

int ufixed_add_buffer(struct ufixed *u, void *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };
	unsigned m, s;
	int ret;

	if (!u || !u->live || !base || len - 1 >= UFIXED_MAX_BUF_LEN)
		return -EINVAL; /* len 0 wraps to SIZE_MAX */
	m = free_bufs(u);
	if (!m)
		return -ENOSPC;
	s = (unsigned)__builtin_ctz(m);
	ret = io_uring_register_buffers_update_tag(&u->ring, s, &iov, NULL, 1);
	if (ret < 0)
		return ret;
	u->bufs[s] = iov;
	return (int)s;
}

int ufixed_remove_buffer(struct ufixed *u, unsigned slot)
{
	struct iovec none = { 0 };
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_BUFS || (free_bufs(u) >> slot & 1))
		return -EINVAL;
	ret = io_uring_register_buffers_update_tag(&u->ring, slot, &none, NULL, 1);
	if (ret < 0)
		return ret;
	u->bufs[slot] = none;
	return 0;
}

int ufixed_add_file(struct ufixed *u, int fd)
{
	unsigned m, s;
	int ret;

	if (!u || !u->live)
		return -EINVAL;
	m = free_files(u);
	if (!m)
		return -ENOSPC;
	if (fd < 0)
		return -EBADF; /* -1 and -2 mean "empty" and "skip" to the kernel */
	s = (unsigned)__builtin_ctz(m);
	ret = io_uring_register_files_update(&u->ring, s, &fd, 1);
	if (ret < 0)
		return ret;
	u->files[s] = fd;
	return (int)s;
}

int ufixed_remove_file(struct ufixed *u, unsigned slot)
{
	int none = -1;
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_FILES || u->files[slot] < 0)
		return -EINVAL;
	ret = io_uring_register_files_update(&u->ring, slot, &none, 1);
	if (ret < 0)
		return ret;
	u->files[slot] = -1;
	return 0;
}

/* The lowest slot that holds all of the request. */
static int buf_slot_of(const struct ufixed *u, const struct batch_req *q)
{
	const char *b = q->buf;

	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++) {
		const char *lo = u->bufs[s].iov_base;

		if (!lo || b < lo)
			continue;
		if ((size_t)(b - lo) < u->bufs[s].iov_len &&
		    u->bufs[s].iov_len - (size_t)(b - lo) >= q->len)
			return (int)s;
	}
	return -1;
}

static int file_slot_of(const struct ufixed *u, int fd)
{
	if (fd < 0)
		return -1;
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		if (u->files[s] == fd)
			return (int)s;
	return -1;
}

/* ---------------- the loop ---------------- */

struct batch {
	struct ufixed *u;
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n, started;
	unsigned active, limit;
};

/* What request i still lacks; q->res holds the bytes done. */
static void queue_rest(struct batch *b, struct io_uring_sqe *sqe, size_t i)
{
	struct batch_req *q = &b->reqs[i];
	size_t done = (size_t)q->res, left = q->len - done;
	int bs = buf_slot_of(b->u, q), fs = file_slot_of(b->u, q->fd);
	char *dst = (char *)q->buf + done;
	unsigned nbytes = (unsigned)(left < PIECE ? left : PIECE);

	if (bs < 0)
		io_uring_prep_read(sqe, fs < 0 ? q->fd : fs, dst, nbytes, (__u64)q->offset + done);
	else
		io_uring_prep_read_fixed(sqe, fs < 0 ? q->fd : fs, dst, nbytes,
					 (__u64)q->offset + done, bs);
	if (fs >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = i;
}

static struct io_uring_sqe *free_sqe(struct batch *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(b->ring);
	int ret;

	if (sqe || !(b->u->flags & UFIXED_SQPOLL))
		return sqe;
	while ((ret = io_uring_sqring_wait(b->ring)) == -EINTR)
		;
	return ret < 0 ? NULL : io_uring_get_sqe(b->ring);
}

static void top_up(struct batch *b)
{
	for (; b->started < b->n && b->active < b->limit; b->started++) {
		struct batch_req *q = &b->reqs[b->started];
		struct io_uring_sqe *sqe;

		if (q->offset < 0 || q->len == 0) {
			q->res = q->offset < 0 ? -EINVAL : 0;
			continue;
		}
		sqe = free_sqe(b);
		if (!sqe) {
			int ret;

			while ((ret = io_uring_submit(b->ring)) == -EINTR)
				;
			/* On SQPOLL the SQEs just published are the thread's
			 * to take: free_sqe waits for that room (before the
			 * submit, io_uring_sqring_wait had nothing to wait for). */
			if (ret <= 0 || !(sqe = free_sqe(b)))
				return;
		}
		q->res = 0;
		queue_rest(b, sqe, b->started);
		b->active++;
	}
}

/* Handle the CQEs there; stop at one whose rest gets no SQE. */
static unsigned harvest(struct batch *b)
{
	struct io_uring_cqe *cqe;
	unsigned head, count = 0;

	io_uring_for_each_cqe(b->ring, head, cqe) {
		size_t i = (size_t)cqe->user_data;
		struct batch_req *q;
		int res = cqe->res;

		if (i < b->n) {
			q = &b->reqs[i];
			if (res == -EINTR || (res > 0 && (size_t)q->res + (size_t)res < q->len)) {
				struct io_uring_sqe *sqe = free_sqe(b);

				if (!sqe)
					break;
				q->res += res > 0 ? res : 0;
				queue_rest(b, sqe, i);
			} else {
				q->res = res < 0 ? res : q->res + res;
				b->active--;
			}
		}
		count++;
	}
	io_uring_cq_advance(b->ring, count);
	return count;
}

/* Whether the kernel holds a read of ours: with SQPOLL the thread takes the
 * queued SQEs by itself, otherwise only what was submitted. */
static bool kernel_has_reads(struct batch *b)
{
	if (b->u->flags & UFIXED_SQPOLL)
		return b->active > 0;
	return b->active > io_uring_sq_ready(b->ring);
}

static int wait_for_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	while ((ret = io_uring_wait_cqe(ring, &cqe)) == -EINTR)
		;
	return ret;
}

/* The batch failed: the reads the kernel holds must finish first. */
static void settle(struct batch *b)
{
	unsigned queued = (b->u->flags & UFIXED_SQPOLL) ? 0 : io_uring_sq_ready(b->ring);
	unsigned owed = b->active > queued ? b->active - queued : 0;

	while (owed) {
		unsigned ready;

		if (wait_for_one(b->ring) < 0)
			return;
		ready = io_uring_cq_ready(b->ring);
		if (ready > owed)
			ready = owed;
		io_uring_cq_advance(b->ring, ready);
		owed -= ready;
	}
}

int ufixed_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd)
{
	struct batch b = { .u = u, .reqs = reqs, .n = n };
	unsigned idle = 0;
	int ret;

	if (!u || !u->live || !qd || (!reqs && n))
		return -EINVAL;
	if (!n)
		return 0;
	b.ring = &u->ring;
	b.limit = qd > u->cq_entries ? u->cq_entries : qd;

	for (;;) {
		top_up(&b);
		if (!b.active)
			return b.started == n ? 0 : -EBUSY;
		ret = io_uring_submit(b.ring);
		if (ret == -EINTR)
			continue; /* nothing taken: submit again */
		if (ret == -EAGAIN || ret == -EBUSY) {
			if (++idle > TRIES)
				break;
			if (!io_uring_cq_ready(b.ring) && kernel_has_reads(&b)) {
				ret = wait_for_one(b.ring);
				if (ret < 0)
					break;
			}
		} else if (ret < 0) {
			break;
		} else {
			if (ret > 0)
				idle = 0;
			/* sleep only for a read the kernel has */
			if (!io_uring_cq_ready(b.ring) && kernel_has_reads(&b)) {
				ret = wait_for_one(b.ring);
				if (ret < 0 && ret != -EAGAIN && ret != -EBUSY)
					break;
			}
		}
		if (harvest(&b))
			idle = 0;
		else if (io_uring_cq_ready(b.ring) && ++idle > TRIES) {
			ret = -EAGAIN;
			break;
		}
	}
	settle(&b);
	return ret;
}

void ufixed_exit(struct ufixed *u)
{
	if (!u)
		return;
	if (u->live) {
		io_uring_unregister_buffers(&u->ring);
		io_uring_unregister_files(&u->ring);
		io_uring_queue_exit(&u->ring);
	}
	reset(u);
}

int ufixed_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ufixed u;
	unsigned size;
	int ret;

	if (qd == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (!reqs)
		return -EINVAL;
	size = (unsigned)(n < UFIXED_MAX_ENTRIES ? n : UFIXED_MAX_ENTRIES);
	if (qd < size)
		size = qd;
	for (;;) {
		ret = ufixed_init(&u, size, 0);
		if (ret != -ENOMEM || size == 1)
			break;
		size >>= 1;
	}
	if (ret < 0)
		return ret;
	ret = ufixed_read(&u, reqs, n, qd);
	ufixed_exit(&u);
	return ret;
}
