/*
 * ufixed.c - chapter 08 reference: the batch read of chapter 06 on a ring
 * with a registered buffer table and a registered file table, optionally
 * with an SQ polling thread (SQPOLL) or polled completions (IOPOLL).
 *
 * The tables are sparse: ufixed_init() registers UFIXED_MAX_BUFS empty
 * buffer slots and UFIXED_MAX_FILES empty file slots, and the add/remove
 * functions update one slot at a time (io_uring_register_buffers_update_tag,
 * io_uring_register_files_update). Registering once, at set-up, and then
 * updating slots is cheaper than unregistering and registering whole tables,
 * which waits for the ring to go idle.
 *
 * A read decides per request how it is issued (prep_rest): READ_FIXED with a
 * buf_index when a registered buffer holds its whole range, IOSQE_FIXED_FILE
 * with a slot when the file table holds its fd. The rest of the machinery
 * (window, one submit per round, reap in one pass, short reads, -EINTR,
 * -EAGAIN) is chapter 06's; ../06-uring-batching/ubatch.c explains it.
 */
#define _GNU_SOURCE
#include "ufixed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Largest single read we ask for. The SQE's length field is 32 bits and the
 * kernel caps one read at MAX_RW_COUNT (2 GiB - 4 KiB) anyway; asking for
 * less keeps us clear of both, and the remainder is just the next chunk.
 */
#define CHUNK_MAX (1u << 30)

/* Rounds in a row ending in -EAGAIN/-EBUSY with no progress before we give up. */
#define STUCK_MAX 8

/*
 * The wait policy (wait_some), chapter 06's: wait for half the window's
 * completions, at most WAIT_MAX, per io_uring_enter, instead of one. At
 * depth 32 waiting for one cost about three enters per 32 reads and a fifth
 * of fio's IOPS (make bench, alternating runs; lesson, section 10). The
 * wait is bounded by WAIT_PATIENCE_NS, since a read may never complete by
 * itself (a pipe): once time runs out, the call waits for one at a time.
 */
#define WAIT_SHARE 2
#define WAIT_MAX 16
#define WAIT_PATIENCE_NS 1000000

/* The largest SQ the kernel accepts (IORING_MAX_ENTRIES). */
#define MAX_ENTRIES 32768u

/* The state of one ufixed_read() call. */
struct run {
	const struct ufixed *u;
	struct io_uring *ring;
	struct batch_req *reqs;
	size_t n;
	size_t next;       /* first request not yet started                    */
	unsigned inflight; /* started, not finished: queued, in kernel or CQE  */
	unsigned window;   /* most requests in flight: min(qd, CQ size)        */
	unsigned stuck;    /* rounds in a row without progress (see STUCK_MAX) */
	bool patient;      /* wait for window / WAIT_SHARE completions, bounded */
};

int ufixed_init(struct ufixed *u, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	bool plain;
	int ret;

	if (!u)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		u->files[s] = -1;
	if (entries == 0 || entries > MAX_ENTRIES || (flags & ~(UFIXED_SQPOLL | UFIXED_IOPOLL)))
		return -EINVAL;

	memset(&p, 0, sizeof(p));
	if (flags & UFIXED_SQPOLL) {
		p.flags |= IORING_SETUP_SQPOLL;
		/* The thread spins this long on an empty SQ before it sleeps
		 * and sets IORING_SQ_NEED_WAKEUP (io_uring_setup(2)). */
		p.sq_thread_idle = UFIXED_SQ_IDLE_MS;
	}
	if (flags & UFIXED_IOPOLL)
		p.flags |= IORING_SETUP_IOPOLL;
	/*
	 * A plain ring: completions posted only when this thread asks for them
	 * (chapter 06's lesson, section 8, "Two set-up flags"). Not with
	 * SQPOLL, whose kernel thread is the one that submits. A kernel that
	 * does not know the flags says -EINVAL: then without them.
	 */
	plain = !(flags & (UFIXED_SQPOLL | UFIXED_IOPOLL));
	if (plain)
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret == -EINVAL && plain) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (ret < 0)
		return ret; /* already -errno: do not look at errno */

	/* Empty tables, filled one slot at a time later. Sparse tables pin
	 * nothing yet: the RLIMIT_MEMLOCK charge comes with each buffer. */
	ret = io_uring_register_buffers_sparse(&u->ring, UFIXED_MAX_BUFS);
	if (ret == 0)
		ret = io_uring_register_files_sparse(&u->ring, UFIXED_MAX_FILES);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring); /* drops whatever was registered */
		return ret;
	}
	u->sq_entries = p.sq_entries;
	u->cq_entries = p.cq_entries;
	u->flags = flags;
	u->live = 1;
	return 0;
}

int ufixed_add_buffer(struct ufixed *u, void *base, size_t len)
{
	struct iovec iov = { .iov_base = base, .iov_len = len };
	unsigned s;
	int ret;

	if (!u || !u->live || !base || len == 0 || len > UFIXED_MAX_BUF_LEN)
		return -EINVAL;
	for (s = 0; s < UFIXED_MAX_BUFS && u->bufs[s].iov_base; s++)
		;
	if (s == UFIXED_MAX_BUFS)
		return -ENOSPC;
	/* The kernel pins the pages here, once: -ENOMEM when they would pass
	 * RLIMIT_MEMLOCK, -EFAULT when the range is not our memory. */
	ret = io_uring_register_buffers_update_tag(&u->ring, s, &iov, NULL, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO; /* the kernel updated no slot: cannot happen */
	u->bufs[s] = iov;
	return (int)s;
}

int ufixed_remove_buffer(struct ufixed *u, unsigned slot)
{
	struct iovec empty = { .iov_base = NULL, .iov_len = 0 };
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_BUFS || !u->bufs[slot].iov_base)
		return -EINVAL;
	/* An empty iovec empties the slot; the pages are unpinned once no
	 * request uses them any more. */
	ret = io_uring_register_buffers_update_tag(&u->ring, slot, &empty, NULL, 1);
	if (ret < 0)
		return ret;
	u->bufs[slot] = empty;
	return 0;
}

int ufixed_add_file(struct ufixed *u, int fd)
{
	unsigned s;
	int ret;

	if (!u || !u->live)
		return -EINVAL;
	/* In a files update, -1 means "empty this slot" and -2 "skip it"
	 * (IORING_REGISTER_FILES_SKIP): a negative fd must never get there,
	 * or the call would "succeed" without registering anything. */
	if (fd < 0)
		return -EBADF;
	for (s = 0; s < UFIXED_MAX_FILES && u->files[s] >= 0; s++)
		;
	if (s == UFIXED_MAX_FILES)
		return -ENOSPC;
	ret = io_uring_register_files_update(&u->ring, s, &fd, 1);
	if (ret < 0)
		return ret; /* -EBADF for a closed fd */
	if (ret != 1)
		return -EIO;
	u->files[s] = fd;
	return (int)s;
}

int ufixed_remove_file(struct ufixed *u, unsigned slot)
{
	int empty = -1;
	int ret;

	if (!u || !u->live || slot >= UFIXED_MAX_FILES || u->files[slot] < 0)
		return -EINVAL;
	ret = io_uring_register_files_update(&u->ring, slot, &empty, 1);
	if (ret < 0)
		return ret;
	u->files[slot] = -1;
	return 0;
}

void ufixed_exit(struct ufixed *u)
{
	if (!u || !u->live)
		return;
	/* io_uring_queue_exit() would drop both tables too, but only when the
	 * ring is finally freed, in the background: unregistering first gives
	 * the pinned pages (and their RLIMIT_MEMLOCK charge) back now. */
	io_uring_unregister_buffers(&u->ring);
	io_uring_unregister_files(&u->ring);
	io_uring_queue_exit(&u->ring);
	memset(u->bufs, 0, sizeof(u->bufs));
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		u->files[s] = -1;
	u->live = 0;
}

/*
 * An SQE if one is free, without submitting. With SQPOLL the kernel thread
 * frees SQ slots as it takes SQEs, and it may post the CQEs of fast reads
 * before it moves the SQ head: an SQ that looks full with every read reaped
 * is only the thread lagging. Wait for it (io_uring_sqring_wait(3)) instead
 * of taking "no SQE" for "nothing will ever free one".
 */
static struct io_uring_sqe *sqe_now(struct run *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r->ring);
	int ret;

	if (sqe || !(r->u->flags & UFIXED_SQPOLL))
		return sqe;
	do
		ret = io_uring_sqring_wait(r->ring);
	while (ret == -EINTR);
	return ret < 0 ? NULL : io_uring_get_sqe(r->ring);
}

/*
 * An SQE, submitting what is queued first if the SQ is full. NULL if there
 * is still no room (the submit failed with -EAGAIN/-EBUSY); the caller then
 * stops queueing and the wait step retries the submit.
 */
static struct io_uring_sqe *get_sqe(struct run *r)
{
	struct io_uring_sqe *sqe = sqe_now(r);
	int ret;

	if (sqe)
		return sqe;
	do
		ret = io_uring_submit(r->ring);
	while (ret == -EINTR);
	if (ret <= 0)
		return NULL;
	return io_uring_get_sqe(r->ring);
}

/*
 * The registered buffer that holds all of [buf, buf + len), or -1. The whole
 * range is checked, not only its start: READ_FIXED into memory past the end
 * of the slot fails the read with -EFAULT.
 */
static int buffer_slot(const struct ufixed *u, const void *buf, size_t len)
{
	uintptr_t start = (uintptr_t)buf;

	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++) {
		uintptr_t base = (uintptr_t)u->bufs[s].iov_base;

		/* Subtractions, not start + len: no overflow near the top. */
		if (base && start >= base && start - base <= u->bufs[s].iov_len &&
		    len <= u->bufs[s].iov_len - (start - base))
			return (int)s;
	}
	return -1;
}

/* The file table slot holding fd, or -1. */
static int file_slot(const struct ufixed *u, int fd)
{
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		if (fd >= 0 && u->files[s] == fd)
			return (int)s;
	return -1;
}

/*
 * Prepare the read of what request i still lacks: len - done bytes, through
 * the tables where they hold the request's file and buffer. The rest of a
 * short read lies inside the same registered buffer as the whole request,
 * so it keeps its buf_index.
 */
static void prep_rest(const struct ufixed *u, struct io_uring_sqe *sqe, struct batch_req *q,
		      size_t i)
{
	size_t done = (size_t)q->res;
	size_t left = q->len - done;
	unsigned chunk = left > CHUNK_MAX ? CHUNK_MAX : (unsigned)left;
	/* Pointer arithmetic on a NULL buf (done == 0) would be undefined. */
	void *dst = done ? (char *)q->buf + done : q->buf;
	/* Unsigned sum: offset >= 0 here, and offset + done <= file size. */
	__u64 off = (__u64)q->offset + done;
	int fslot = file_slot(u, q->fd);
	int bslot = buffer_slot(u, q->buf, q->len);
	int fd = fslot >= 0 ? fslot : q->fd;

	if (bslot >= 0)
		io_uring_prep_read_fixed(sqe, fd, dst, chunk, off, bslot);
	else
		io_uring_prep_read(sqe, fd, dst, chunk, off);
	if (fslot >= 0)
		/* The fd field now holds a slot of the file table. */
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	io_uring_sqe_set_data64(sqe, (__u64)i);
}

/*
 * Start requests until the window is full or all are started. Requests that
 * need no I/O are finished here. Only io_uring_get_sqe(): the SQEs pile up
 * in the SQ for the one submit of the wait step (unless the SQ fills up).
 */
static void fill(struct run *r)
{
	while (r->next < r->n && r->inflight < r->window) {
		struct batch_req *q = &r->reqs[r->next];
		struct io_uring_sqe *sqe;

		if (q->offset < 0) {
			/* io_uring takes offset -1 as "the file position" and
			 * moves it; the batch contract wants neither. */
			q->res = -EINVAL;
			r->next++;
			continue;
		}
		if (q->len == 0) {
			q->res = 0;
			r->next++;
			continue;
		}
		sqe = get_sqe(r);
		if (!sqe)
			return;
		q->res = 0;
		prep_rest(r->u, sqe, q, r->next);
		r->next++;
		r->inflight++;
	}
}

/* Wait for one completion without submitting (the SQ may hold SQEs the
 * kernel would not take just now). */
static int wait_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	return ret; /* the CQE stays in the ring for reap() */
}

/*
 * One io_uring_enter: submit what is queued and wait for `want` completions,
 * for at most WAIT_PATIENCE_NS when want > 1. Returns what
 * io_uring_submit_and_wait* returns; a bounded wait that ran out of time is
 * not an error: 0.
 */
static int enter(struct run *r, unsigned want)
{
	struct __kernel_timespec patience = { .tv_sec = 0, .tv_nsec = WAIT_PATIENCE_NS };
	struct io_uring_cqe *cqe;
	int ret;

	if (want <= 1)
		return io_uring_submit_and_wait(r->ring, 1);
	ret = io_uring_submit_and_wait_timeout(r->ring, &cqe, want, &patience, NULL);
	if (ret == -ETIME)
		ret = 0; /* nothing submitted, time ran out: reap what is there */
	/* Fewer than `want` came (time ran out, or a signal): the reads are
	 * slow, wait for one at a time from now on. */
	if (ret >= 0 && io_uring_cq_ready(r->ring) < want)
		r->patient = false;
	return ret;
}

/*
 * Submit everything queued and wait for completions, in one io_uring_enter:
 * half the window's worth if the reads keep up (see WAIT_SHARE), else one.
 * Returns 0 (there may be CQEs to reap) or -errno when the batch cannot go
 * on.
 */
static int wait_some(struct run *r)
{
	for (;;) {
		unsigned want = r->patient ? r->window / WAIT_SHARE : 1;
		int ret;

		if (want > WAIT_MAX)
			want = WAIT_MAX;
		/* Never more than the reads in flight: waiting for a completion
		 * that cannot come would only end by the timeout. */
		if (want > r->inflight)
			want = r->inflight;
		ret = enter(r, want);
		if (ret >= 0) {
			/* ret = SQEs the kernel took. The wait may have been
			 * cut short by a signal after the submit: reap() then
			 * finds nothing and we come back here. */
			if (ret > 0)
				r->stuck = 0;
			return 0;
		}
		if (ret == -EINTR)
			continue; /* a signal came while waiting: wait again */
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;

		/* The kernel is short of resources (or of CQ room): it asks
		 * us to reap completions, then try again (io_uring_enter(2)). */
		if (++r->stuck > STUCK_MAX)
			return ret;
		if (io_uring_cq_ready(r->ring))
			return 0;
		/* Requests the kernel already has will complete: wait. */
		if (r->inflight > io_uring_sq_ready(r->ring))
			return wait_one(r->ring);
		/* Nothing in the kernel to wait for: just try again. */
	}
}

/*
 * Handle one CQE. Returns false if the request needs another read and no
 * SQE is free: the CQE is then left in the CQ for the next round, whose
 * submit makes room. (Submitting from here would be worse: the CQEs handled
 * in this pass are not yet off the CQ, so the CQ could overflow.)
 */
static bool complete(struct run *r, const struct io_uring_cqe *cqe)
{
	__u64 i = io_uring_cqe_get_data64(cqe);
	struct batch_req *q;
	struct io_uring_sqe *sqe;
	int res = cqe->res;
	bool again;

	if (i >= r->n)
		return true; /* not one of ours: cannot happen, but never index with it */
	q = &r->reqs[i];

	/* Go on after a short read (res > 0, still bytes to read) and after an
	 * interrupted one. res == 0 is end of file; other errors are final. */
	again = res == -EINTR || (res > 0 && (size_t)q->res + (size_t)res < q->len);
	if (again) {
		sqe = sqe_now(r);
		if (!sqe)
			return false;
		if (res > 0)
			q->res += res;
		prep_rest(r->u, sqe, q, (size_t)i);
		return true; /* still in flight: the window does not move */
	}

	if (res < 0)
		q->res = res;
	else
		q->res += res;
	r->inflight--;
	return true;
}

/*
 * Reap every CQE that is there in one pass, then tell the kernel once how
 * far we got (one store to the CQ head instead of one per CQE).
 */
static unsigned reap(struct run *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(r->ring, head, cqe) {
		if (!complete(r, cqe))
			break;
		seen++;
	}
	io_uring_cq_advance(r->ring, seen);
	return seen;
}

/*
 * After a fatal error: wait for the reads the kernel already has, so none
 * of them writes into the caller's buffers after we return. SQEs still in
 * the SQ were never seen by the kernel; ufixed_exit() discards them.
 */
static void drain(struct run *r)
{
	/* With SQPOLL the kernel thread takes queued SQEs on its own: every
	 * read in flight will complete. Otherwise the kernel never saw the
	 * ones still queued. */
	unsigned queued = r->u->flags & UFIXED_SQPOLL ? 0 : io_uring_sq_ready(r->ring);
	unsigned left = r->inflight > queued ? r->inflight - queued : 0;

	while (left > 0) {
		struct io_uring_cqe *cqe;

		if (wait_one(r->ring) < 0)
			return; /* cannot wait any more; ufixed_exit() cancels */
		while (left > 0 && io_uring_peek_cqe(r->ring, &cqe) == 0) {
			io_uring_cqe_seen(r->ring, cqe);
			left--;
		}
	}
}

int ufixed_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd)
{
	struct run r;
	int ret;

	if (!u || !u->live || qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	memset(&r, 0, sizeof(r));
	r.u = u;
	r.ring = &u->ring;
	r.reqs = reqs;
	r.n = n;
	/* Never more in flight than the CQ can hold: no overflow, ever. */
	r.window = qd < u->cq_entries ? qd : u->cq_entries;
	/* A bounded wait needs IORING_ENTER_EXT_ARG (Linux 5.11). */
	r.patient = (u->ring.features & IORING_FEAT_EXT_ARG) != 0;

	for (;;) {
		fill(&r);
		if (r.inflight == 0) {
			if (r.next == r.n)
				return 0;
			ret = -EBUSY; /* no SQE with nothing queued: a ring
			                 left dirty by an earlier failure */
			break;
		}
		ret = wait_some(&r);
		if (ret < 0)
			break;
		if (reap(&r) > 0)
			r.stuck = 0;
		else if (io_uring_cq_ready(r.ring) && ++r.stuck > STUCK_MAX) {
			ret = -EAGAIN; /* CQEs we cannot act on: no SQE ever */
			break;
		}
	}
	drain(&r);
	return ret;
}

int ufixed_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct ufixed u;
	size_t want = qd < n ? qd : n;
	unsigned entries;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;

	/* Ring memory is charged to RLIMIT_MEMLOCK: if the wanted size does
	 * not fit, a smaller ring still works (the window shrinks with it). */
	entries = want > UFIXED_MAX_ENTRIES ? UFIXED_MAX_ENTRIES : (unsigned)want;
	for (;;) {
		ret = ufixed_init(&u, entries, 0);
		if (ret != -ENOMEM || entries == 1)
			break;
		entries /= 2;
	}
	if (ret < 0)
		return ret;

	ret = ufixed_read(&u, reqs, n, qd);
	ufixed_exit(&u);
	return ret;
}
