/*
 * ring_watch.h - watch a learner's io_uring through the seams (chapters 06-09).
 *
 * Hooks on every exported liburing function that may enter the kernel
 * (io_uring_submit*, __io_uring_get_cqe behind io_uring_wait_cqe*,
 * io_uring_wait_cqes, io_uring_get_events, io_uring_enter*). On each call
 * from the code under test, before the real function runs:
 *
 *   - count it, and fail the test at once past a limit (a watchdog: code
 *     that resubmits a read at end of file forever fails in milliseconds,
 *     with a message, instead of hanging until the time limit);
 *   - measure the requests in flight: SQEs taken from the ring so far minus
 *     CQEs consumed so far (sq.sqe_tail - *cq.khead, both counted from 0 on
 *     a fresh ring, each read making exactly one CQE), i.e. a read counts
 *     from io_uring_get_sqe until its CQE is reaped; keep the maximum;
 *   - notice a CQ overflow (IORING_SQ_CQ_OVERFLOW, or CQEs dropped);
 *   - cut the reads queued in the SQ (not yet seen by the kernel) to half
 *     their length, once per user_data: a short read in the middle of a
 *     regular file, which the kernel will not make on demand;
 *   - return an injected error (-EINTR, -EAGAIN, -EBUSY, -EBADR) once or
 *     from then on, instead of calling the real function (the kernel took
 *     nothing, as for real), at a given call or at the first call where a
 *     condition holds (a read in the kernel; the SQ full with a CQE waiting);
 *     with publish_on_inject, a submitting call's queued SQEs are first
 *     published (the SQ tail stored, liburing's sqe_head moved to its
 *     sqe_tail), as liburing does before io_uring_enter fails for real: the
 *     SQEs the kernel did not take are then *khead .. sqe_tail, and code
 *     that takes them back from sqe_head finds none;
 *   - after such an injection, feed pipes the test names, one per completion
 *     a real call waits for: the reads the code must drain complete only
 *     when it waits for them;
 *   - pacing: return -EAGAIN from every submit while SQEs are queued and a
 *     read is in the kernel, until the code waits for a completion; record
 *     how many submits in a row it tried without waiting or reaping;
 *   - -EAGAIN with completions waiting (eagain_while_ready): every submit
 *     made with SQEs queued and a CQE in the CQ answers -EAGAIN (make_ready()
 *     is called first, so that a test can make a completion arrive); the
 *     same count of submits in a row without reaping;
 *   - poison the continuation of a read cut short (its fd becomes -1, so it
 *     fails with -EBADF): an error after partial progress;
 *   - after each call, rewrite CQEs the code has not seen yet: one -EINTR per
 *     request (the nth CQE of its user_data), and the results of "virtual"
 *     reads (see below);
 *   - virtual reads: a read SQE on watch.virt_fd becomes a NOP, and its CQE
 *     says the whole length was read (at most 0x7ffff000 bytes, the kernel's
 *     cap per read): lengths and totals beyond 2 and 4 GiB, no data moved.
 *   - broken chains (break_links): a queued read with IOSQE_IO_LINK is cut
 *     to half its length, once per user_data, and the rest of its chain
 *     becomes NOPs whose CQEs say -ECANCELED: exactly what the kernel does
 *     when a linked read comes back short, which it will not do on demand in
 *     the middle of a regular file;
 *   - interrupted reads (eintr_reads): the next N queued reads become NOPs
 *     whose CQEs say -EINTR, the rest of their chains -ECANCELED: nothing
 *     was read, so reading again is right (rewriting the CQE of a read that
 *     did read would lose pipe data, which no kernel does);
 *   - what each submission carries: on_sqe() sees every SQE handed to the
 *     kernel, in order, before any of the above changes it; the most SQEs
 *     one call handed over is kept; on_cqe() sees (and may change) every
 *     CQE before the code does;
 *   - edit_sqe(): the test's own rewrite of each queued read, before the
 *     faults above (e.g. a read redirected to a pipe the test feeds later:
 *     a read held back, completing only when the test says);
 *   - before_wait(): called before every real call that waits for nr > 0
 *     completions (nr is what the call waits for), so that a test holding
 *     reads back can release enough of them for the wait to end;
 *   - after_wait(): sees what each call that may wait returns (the
 *     submit-and-wait, get-cqe and wait-cqe(s) calls; every return, the
 *     watch's own answers included) and gives the code its own value
 *     instead: an error a real wait can return, after the real call ran;
 *   - early wakes (wake_early): io_uring_submit_and_wait(ring, nr > 0) hands
 *     the queued SQEs to the kernel and returns their count at once, with
 *     no completion in the CQ: what the kernel does when a signal ends the
 *     wait after the submit (it reports the submission, not -EINTR). So
 *     that no completion can be there, the plain reads of that submission
 *     (regular file, at most 64 KiB, not a registered file) are held: each
 *     is redirected to a pipe, which gets the file's bytes at that offset
 *     at the code's next liburing call (or io_uring_queue_exit, or
 *     watch_release_held());
 *   - at io_uring_queue_exit: how many requests the kernel still had and how
 *     many CQEs were left unreaped (a buffer still the kernel's); a ring
 *     torn down already is refused (ring_exit.h).
 *   - ring set-up: count it, record the largest size asked for, and refuse
 *     sizes above a bound with -ENOMEM (a small RLIMIT_MEMLOCK, on demand).
 *
 * Only liburing's exported functions are visible (its system calls are
 * inline): that is what the lesson's budget counts.
 *
 * Header-only: a test file includes it once and reaches the state through
 * `watch`. A chapter that needs only some of it leaves the rest unused,
 * which is not worth a warning here.
 */
#ifndef RING_WATCH_H
#define RING_WATCH_H

#include "faults.h"
#include "grade.h"
#include "nop_inject.h"
#include "ring_exit.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define WATCH_MAX_SHRUNK 4096
#define WATCH_IOV_SLOTS 512
#define WATCH_IOV_MAX 8
#define WATCH_HELD_MAX 16
#define WATCH_PUBLISHED_MAX 4

struct ring_watch {
	long calls;            /* liburing calls that may enter the kernel       */
	long limit;            /* watchdog: fail the test past this many calls   */
	const char *limit_why; /* ... with this explanation                      */
	unsigned max_inflight; /* the most requests in flight seen at a call     */
	bool overflow;         /* a CQ overflow was seen                         */
	long inits, init_ok;   /* io_uring_queue_init* calls, successful ones    */
	long exits;            /* io_uring_queue_exit calls                      */
	unsigned most_entries; /* the largest ring size asked for               */
	/* fault injection */
	long inject_at;        /* the call (1, 2, ...) that fails instead; 0: no  */
	int inject_err;        /* what it returns (-EINTR, -EAGAIN, ...)         */
	bool injected;
	bool inject_forever;   /* every call from inject_at on (a broken ring)   */
	long inject_calls;     /* this many calls from inject_at (0: one)        */
	int inject_when;       /* WATCH_WHEN_*: inject_at becomes the first call */
	                       /* at which this holds (0: inject_at as set)      */
	bool publish_on_inject; /* an injected error of a submitting call on a   */
	                       /* ring without SQPOLL publishes the queued SQEs  */
	                       /* first, as liburing does before it enters: the  */
	                       /* kernel took none, yet sqe_head == sqe_tail     */
	/* rings whose failed submit left SQEs published (watch_publish_failed) */
	struct io_uring *published[WATCH_PUBLISHED_MAX];
	/* pipes fed by the watch: after the injection, each real call that
	 * waits for nr completions first writes 8 bytes into the next nr */
	int feed_fds[4];
	unsigned nfeed, fed;
	/* ring set-up refused: -ENOMEM for more than init_enomem_above entries */
	bool init_enomem;
	unsigned init_enomem_above;
	/* Linux 5.19 played: io_uring_setup(2) answers -EINVAL for a set-up
	 * flag it does not know (SINGLE_ISSUER came with 6.0, DEFER_TASKRUN
	 * with 6.1); sparse registered tables, which 5.19 has, still work */
	bool init_old_kernel;
	long init_refused;     /* set-ups refused for their flags                */
	/* short reads */
	bool shrink;           /* cut queued reads in half, once per user_data   */
	unsigned shrunk;       /* reads cut so far                               */
	unsigned reads_seen;   /* read SQEs seen queued at a call                */
	__u64 shrunk_ids[WATCH_MAX_SHRUNK];
	__u64 shrunk_off[WATCH_MAX_SHRUNK]; /* the offset each cut read had     */
	struct iovec iov[WATCH_IOV_SLOTS][WATCH_IOV_MAX];
	unsigned iov_used;
	/* an error after partial progress: the continuation of a cut read whose
	 * buffer address poison_pick() chooses gets fd -1 (-EBADF) */
	bool (*poison_pick)(__u64 addr);
	unsigned poisoned;
	/* a read fails for real (fd -1: -EBADF) when poison_sqe() says so,
	 * whatever its user_data (the test picks by offset or buffer) */
	bool (*poison_sqe)(const struct io_uring_sqe *sqe);
	/* pacing: -EAGAIN from submits while reads wait in the kernel */
	bool eagain_until_wait;
	bool waited;           /* the code called a liburing wait (nr > 0)       */
	unsigned eagains;      /* -EAGAIN injected so far                        */
	unsigned eagain_streak, eagain_streak_max; /* in a row, CQ head not moved */
	unsigned last_khead;
	/* -EAGAIN from submits while CQEs wait to be reaped (at most 64, with
	 * pacing's); make_ready, if set, runs first at each such submit */
	bool eagain_while_ready;
	void (*make_ready)(struct io_uring *ring);
	/* CQE rewriting: -EINTR in the cqe_eintr_at-th CQE of each user_data */
	unsigned cqe_eintr_at; /* 0: off                                         */
	unsigned cqe_eintrs;   /* CQEs rewritten to -EINTR                        */
	const struct io_uring *cq_ring;
	unsigned cq_scanned;   /* CQ index up to which CQEs were looked at       */
	unsigned nids;
	struct { __u64 id; unsigned cqes; } ids[WATCH_MAX_SHRUNK];
	/* virtual reads */
	int virt_fd;           /* -1: off                                        */
	unsigned virt_sqes;    /* read SQEs turned into NOPs                      */
	unsigned nvirt;
	struct { __u64 id; __s32 res; bool pending; } virt[WATCH_MAX_SHRUNK];
	/* broken chains */
	bool break_links;      /* cut linked reads, cancel the rest of the chain */
	unsigned links_broken; /* chains broken so far                            */
	unsigned cancelled;    /* SQEs turned into NOPs that answer -ECANCELED    */
	/* interrupted reads */
	unsigned eintr_reads;  /* reads still to turn into -EINTR NOPs           */
	unsigned eintrs;       /* turned so far                                  */
	/* early wakes */
	unsigned wake_early;   /* submitting waits still to cut short            */
	unsigned early_wakes;  /* cut short so far                               */
	unsigned held_reads;   /* reads held in pipes so far                     */
	unsigned nheld;        /* held now, their bytes not yet in the pipe      */
	struct { int wfd; size_t len; unsigned char *bytes; } held[WATCH_HELD_MAX];
	/* at io_uring_queue_exit */
	unsigned exit_in_kernel, exit_cq_ready;
	/* submissions and completions */
	void (*on_sqe)(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued);
	void (*on_cqe)(struct io_uring_cqe *cqe);
	void (*edit_sqe)(struct io_uring_sqe *sqe);
	void (*before_wait)(struct io_uring *ring, unsigned nr); /* ring NULL: raw enter */
	int (*after_wait)(struct io_uring *ring, int ret);
	unsigned cur_nr;       /* the completions the current call waits for     */
	unsigned most_queued;  /* the most SQEs one submitting call handed over   */
	long sqes_submitted;   /* SQEs handed over by submitting calls            */
	long skip_success;     /* ... with IOSQE_CQE_SKIP_SUCCESS, ever: no CQE   */
	                       /* when they succeed, so "taken minus posted" may  */
	                       /* count them as still in the kernel               */
};

static struct ring_watch watch;

enum {
	WATCH_WHEN_BUSY = 1,     /* a read is in the kernel (taken, no CQE yet)  */
	WATCH_WHEN_SQ_FULL_CQE,  /* the SQ is full and a CQE waits to be reaped  */
	WATCH_WHEN_WAITS_BUSY,   /* the call only waits for a completion (nr > */
	                         /* 0, nothing queued) while a read is in the  */
	                         /* kernel                                     */
};

static unsigned watch_inflight(const struct io_uring *ring)
{
	return ring->sq.sqe_tail - *ring->cq.khead;
}

static bool watch_was_shrunk(__u64 id)
{
	for (unsigned i = 0; i < watch.shrunk && i < WATCH_MAX_SHRUNK; i++)
		if (watch.shrunk_ids[i] == id)
			return true;
	return false;
}

/* The offset a cut read of this user_data had, or -1. */
static long long watch_shrunk_off(__u64 id)
{
	for (unsigned i = 0; i < watch.shrunk && i < WATCH_MAX_SHRUNK; i++)
		if (watch.shrunk_ids[i] == id)
			return (long long)watch.shrunk_off[i];
	return -1;
}

/* The data address of a read SQE (READV: its first iovec's base). */
static __u64 watch_sqe_data(const struct io_uring_sqe *sqe)
{
	if (sqe->opcode == IORING_OP_READV) {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;

		return iov && sqe->len ? (__u64)(uintptr_t)iov[0].iov_base : 0;
	}
	return sqe->addr;
}

/* Whether this kernel's NOP completes with a result it is given
 * (IORING_NOP_INJECT_RESULT): -1 not yet known. Asked once per test process,
 * in watch_start, before the code under test runs, on a ring of its own. */
static int watch_nop_injects = -1;

static void watch_probe_nop_inject(void)
{
	if (watch_nop_injects < 0)
		watch_nop_injects = nop_inject_probe() > 0;
}

/* The SQE becomes a NOP whose CQE says `res`. Where the kernel can, the NOP
 * carries its result (IORING_NOP_INJECT_RESULT), so its CQE is right however
 * late it comes (a chain begun by a write an io-wq worker does completes
 * after the hooked call has returned, and the code may peek it without
 * one). Elsewhere the CQE says 0 and watch_rewrite_cqes changes it, which
 * it can do only for CQEs there at a hooked call's return. Either way the
 * CQE is recorded (matched by user_data and the result the NOP will give,
 * so a code that gives both SQEs of a pair one user_data still gets the
 * other CQE as it was): it is not shown to on_cqe nor counted for -EINTR.
 * A negative injected result fails the NOP, which cancels the rest of its
 * chain: those are NOPs saying -ECANCELED here, the same result. Its link
 * flags stay: a chain goes on to its end. */
static void watch_nop_sqe(struct io_uring_sqe *sqe, int res)
{
	bool inject = watch_nop_injects > 0;

	if (watch.nvirt < WATCH_MAX_SHRUNK) {
		watch.virt[watch.nvirt].id = sqe->user_data;
		watch.virt[watch.nvirt].res = res;
		watch.virt[watch.nvirt].pending = true;
		watch.nvirt++;
	}
	sqe->opcode = IORING_OP_NOP;
	sqe->fd = -1;
	sqe->rw_flags = inject ? IORING_NOP_INJECT_RESULT : 0;
	sqe->addr = 0;
	sqe->len = inject ? (__u32)res : 0;
	sqe->off = 0;
	sqe->flags &= (__u8)(IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
	watch.cancelled += res == -ECANCELED;
}

/* A read on the virtual fd becomes a NOP; its CQE is rewritten later. */
static void watch_virtualize(struct io_uring_sqe *sqe)
{
	__u32 len = sqe->len;

	if (sqe->opcode == IORING_OP_READV) {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;
		size_t total = 0;

		for (unsigned i = 0; iov && i < sqe->len; i++)
			total += iov[i].iov_len;
		len = total > 0x7ffff000u ? 0x7ffff000u : (__u32)total;
	} else if (len > 0x7ffff000u) {
		len = 0x7ffff000u;
	}
	watch_nop_sqe(sqe, (int)len);
	watch.virt_sqes++;
}

/* Halve a READV's total length through a copy of its iovec array (the
 * learner's array is left alone). false if it cannot be done. */
static bool watch_shrink_readv(struct io_uring_sqe *sqe)
{
	const struct iovec *src = (const struct iovec *)(uintptr_t)sqe->addr;
	struct iovec *dst;
	size_t total = 0, keep;
	unsigned n = sqe->len, i;

	if (n == 0 || n > WATCH_IOV_MAX || watch.iov_used == WATCH_IOV_SLOTS || !src)
		return false;
	for (i = 0; i < n; i++)
		total += src[i].iov_len;
	if (total < 2)
		return false;
	keep = total / 2;
	dst = watch.iov[watch.iov_used++];
	for (i = 0; i < n && keep > 0; i++) {
		dst[i] = src[i];
		if (dst[i].iov_len > keep)
			dst[i].iov_len = keep;
		keep -= dst[i].iov_len;
	}
	sqe->addr = (__u64)(uintptr_t)dst;
	sqe->len = i;
	return true;
}

static bool watch_is_read(const struct io_uring_sqe *sqe)
{
	return sqe->opcode == IORING_OP_READ || sqe->opcode == IORING_OP_READ_FIXED ||
	       sqe->opcode == IORING_OP_READV;
}

/* Cancel the chain after SQE h (its members linked to h): -ECANCELED. */
static unsigned watch_cancel_rest(struct io_uring *ring, unsigned h)
{
	bool more = ring->sq.sqes[h & ring->sq.ring_mask].flags & IOSQE_IO_LINK;

	for (h++; more && h != ring->sq.sqe_tail; h++) {
		struct io_uring_sqe *next = &ring->sq.sqes[h & ring->sq.ring_mask];

		more = next->flags & IOSQE_IO_LINK;
		watch_nop_sqe(next, -ECANCELED);
	}
	return h;
}

/* Break the chain that starts at the linked read h: cut the read, cancel
 * what it links to. Returns the index after the chain. */
static unsigned watch_break_chain(struct io_uring *ring, unsigned h)
{
	struct io_uring_sqe *read = &ring->sq.sqes[h & ring->sq.ring_mask];
	bool hard = read->flags & IOSQE_IO_HARDLINK, again = false;

	/* Once per user_data and offset: a module that reuses a slot's
	 * user_data for every block still has each block's chain broken, and
	 * the rest of a cut read (another offset) may be cut again. */
	for (unsigned i = 0; i < watch.shrunk && i < WATCH_MAX_SHRUNK; i++)
		if (watch.shrunk_ids[i] == read->user_data && watch.shrunk_off[i] == read->off)
			again = true;
	if (hard || again || watch.shrunk >= WATCH_MAX_SHRUNK)
		return h + 1;
	if (read->opcode == IORING_OP_READV) {
		/* A READV is cut through a copy of its iovec array, as the
		 * short reads of watch.shrink are: a copy made of READV and
		 * WRITEV pairs has its chains broken too. */
		if (!watch_shrink_readv(read))
			return h + 1;
	} else if (read->len < 2) {
		return h + 1;
	} else {
		read->len /= 2;
	}
	watch.shrunk_off[watch.shrunk] = read->off;
	watch.shrunk_ids[watch.shrunk++] = read->user_data;
	watch.links_broken++;
	return watch_cancel_rest(ring, h);
}

/* The SQEs queued but not yet handed to the kernel: sqe_head .. sqe_tail. */
static void watch_shrink_queued(struct io_uring *ring)
{
	for (unsigned h = ring->sq.sqe_head; h != ring->sq.sqe_tail; h++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[h & ring->sq.ring_mask];
		bool cut = false;

		if (!watch_is_read(sqe))
			continue;
		watch.reads_seen++;
		if (watch.edit_sqe)
			watch.edit_sqe(sqe);
		if (watch.poison_sqe && sqe->fd != -1 && watch.poison_sqe(sqe)) {
			sqe->fd = -1;
			sqe->flags &= (__u8)~IOSQE_FIXED_FILE;
			watch.poisoned++;
			continue;
		}
		if (watch.eintr_reads > 0) {
			bool linked = sqe->flags & IOSQE_IO_LINK;
			unsigned next;

			watch.eintr_reads--;
			watch.eintrs++;
			next = linked ? watch_cancel_rest(ring, h) : h + 1;
			watch_nop_sqe(sqe, -EINTR);
			if (linked)
				sqe->flags |= IOSQE_IO_LINK;
			h = next - 1;
			continue;
		}
		if (watch.virt_fd >= 0 && sqe->fd == watch.virt_fd && !(sqe->flags & IOSQE_FIXED_FILE)) {
			watch_virtualize(sqe);
			continue;
		}
		if (watch.poison_pick && sqe->fd != -1 && watch_was_shrunk(sqe->user_data) &&
		    (long long)sqe->off != watch_shrunk_off(sqe->user_data) &&
		    watch.poison_pick(watch_sqe_data(sqe))) {
			sqe->fd = -1;  /* the rest of a cut read fails: -EBADF */
			sqe->flags &= (__u8)~IOSQE_FIXED_FILE;
			watch.poisoned++;
			continue;
		}
		if (watch.break_links && (sqe->flags & IOSQE_IO_LINK) &&
		    h + 1 != ring->sq.sqe_tail) {
			h = watch_break_chain(ring, h) - 1;
			continue;
		}
		if (!watch.shrink || watch.shrunk >= WATCH_MAX_SHRUNK ||
		    watch_was_shrunk(sqe->user_data))
			continue;
		watch.shrunk_off[watch.shrunk] = sqe->off;
		if (sqe->opcode == IORING_OP_READV) {
			cut = watch_shrink_readv(sqe);
		} else if (sqe->len > 1) {
			sqe->len /= 2;
			cut = true;
		}
		if (cut)
			watch.shrunk_ids[watch.shrunk++] = sqe->user_data;
	}
}

static void watch_observe(const struct io_uring *ring)
{
	unsigned inflight = watch_inflight(ring);

	if (inflight > watch.max_inflight)
		watch.max_inflight = inflight;
	if (io_uring_cq_has_overflow(ring) || (ring->cq.koverflow && *ring->cq.koverflow))
		watch.overflow = true;
}

/* The CQEs of this user_data seen so far (a small table). */
static unsigned *watch_id_cqes(__u64 id)
{
	for (unsigned i = 0; i < watch.nids; i++)
		if (watch.ids[i].id == id)
			return &watch.ids[i].cqes;
	if (watch.nids == WATCH_MAX_SHRUNK)
		return NULL;
	watch.ids[watch.nids].id = id;
	watch.ids[watch.nids].cqes = 0;
	return &watch.ids[watch.nids++].cqes;
}

/* Rewrite the CQEs that arrived since the last look, before the code sees
 * them: the results of virtual reads, and the planned -EINTR. */
static void watch_rewrite_cqes(struct io_uring *ring)
{
	unsigned head = __atomic_load_n(ring->cq.khead, __ATOMIC_ACQUIRE);
	unsigned tail = __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);

	if (!watch.cqe_eintr_at && watch.nvirt == 0 && !watch.on_cqe)
		return;
	if (watch.cq_ring != ring || (int)(watch.cq_scanned - head) < 0 ||
	    watch.cq_scanned - head > tail - head) {
		watch.cq_ring = ring;
		watch.cq_scanned = head;
	}
	for (; watch.cq_scanned != tail; watch.cq_scanned++) {
		struct io_uring_cqe *cqe = &ring->cq.cqes[watch.cq_scanned & ring->cq.ring_mask];
		unsigned *seen;
		bool virt = false;

		for (unsigned i = 0; i < watch.nvirt; i++)
			if (watch.virt[i].pending && watch.virt[i].id == cqe->user_data &&
			    cqe->res == (watch_nop_injects > 0 ? watch.virt[i].res : 0)) {
				/* the NOP's result */
				watch.virt[i].pending = false;
				cqe->res = watch.virt[i].res;
				virt = true;
				break;
			}
		if (watch.on_cqe && !virt)
			watch.on_cqe(cqe);
		if (!watch.cqe_eintr_at || virt)
			continue;
		seen = watch_id_cqes(cqe->user_data);
		if (seen && ++*seen == watch.cqe_eintr_at && cqe->res >= 0) {
			cqe->res = -EINTR;
			watch.cqe_eintrs++;
		}
	}
}

static bool watch_is_submit(const char *name)
{
	return !strncmp(name, "io_uring_submit", 15);
}

/* A submitting call is about to hand the queued SQEs to the kernel: show
 * each to on_sqe (as the code wrote it), count them, then apply the faults
 * that rewrite queued SQEs. */
static void watch_submission(struct io_uring *ring, const char *name)
{
	unsigned queued = ring->sq.sqe_tail - ring->sq.sqe_head, pos = 0;

	if (watch_is_submit(name) && queued > 0) {
		for (unsigned h = ring->sq.sqe_head; h != ring->sq.sqe_tail; h++)
			if (ring->sq.sqes[h & ring->sq.ring_mask].flags & IOSQE_CQE_SKIP_SUCCESS)
				watch.skip_success++;
		if (watch.on_sqe)
			for (unsigned h = ring->sq.sqe_head; h != ring->sq.sqe_tail; h++)
				watch.on_sqe(&ring->sq.sqes[h & ring->sq.ring_mask], pos++, queued);
		if (queued > watch.most_queued)
			watch.most_queued = queued;
		watch.sqes_submitted += queued;
	}
	watch_shrink_queued(ring);
}

/* An injected -EAGAIN, counted: in all, and in a row with the CQ head
 * where it was (submits tried again without reaping anything). */
static void watch_eagain_counted(const struct io_uring *ring, int *err)
{
	unsigned khead = *ring->cq.khead;

	if (khead != watch.last_khead)
		watch.eagain_streak = 0;
	watch.last_khead = khead;
	watch.eagains++;
	if (++watch.eagain_streak > watch.eagain_streak_max)
		watch.eagain_streak_max = watch.eagain_streak;
	*err = -EAGAIN;
}

/* Pacing: -EAGAIN for a submit while SQEs are queued, some read is in the
 * kernel (not queued, no CQE waiting) and the code has not waited yet. */
static bool watch_pacing(struct io_uring *ring, const char *name, unsigned nr, int *err)
{
	unsigned queued, ready, inflight;

	if (!watch.eagain_until_wait || watch.waited || !ring)
		return false;
	queued = io_uring_sq_ready(ring);
	ready = io_uring_cq_ready(ring);
	inflight = watch_inflight(ring);
	if (!watch_is_submit(name) || queued == 0) {
		/* A real wait (one that must sleep: fewer CQEs ready than it
		 * asks for) ends the injection. A wait for CQEs that are there
		 * already returns at once, as io_uring_wait_cqe's inline peek
		 * does without a call: the code has waited for nothing yet. */
		if (nr > 0 && ready < nr)
			watch.waited = true;
		return false;
	}
	if (inflight <= queued + ready || watch.eagains >= 64)
		return false;
	watch_eagain_counted(ring, err);
	return true;
}

/* The kernel short of resources with completions to reap: -EAGAIN for a
 * submit that has SQEs queued while a CQE waits in the CQ. Reaping is what
 * frees the kernel's resources (io_uring_enter(2), EAGAIN), so submitting
 * again at once meets -EAGAIN again; the streak counts those submits. */
static bool watch_ready_eagain(struct io_uring *ring, const char *name, int *err)
{
	if (!watch.eagain_while_ready || !ring || !watch_is_submit(name) ||
	    io_uring_sq_ready(ring) == 0)
		return false;
	if (watch.make_ready)
		watch.make_ready(ring);
	if (io_uring_cq_ready(ring) == 0 || watch.eagains >= 64)
		return false;
	watch_eagain_counted(ring, err);
	return true;
}

static bool watch_when(const struct io_uring *ring)
{
	switch (watch.inject_when) {
	case WATCH_WHEN_BUSY:
		return __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
	case WATCH_WHEN_SQ_FULL_CQE:
		return io_uring_sq_space_left(ring) == 0 && io_uring_cq_ready(ring) > 0;
	case WATCH_WHEN_WAITS_BUSY:
		return watch.cur_nr > 0 && io_uring_sq_ready(ring) == 0 &&
		       __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE) !=
			       __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
	}
	return false;
}

/* Requests the kernel has taken and not completed yet (each read makes one
 * CQE): after a return, these could still write into the caller's buffers. */
static unsigned watch_in_kernel(const struct io_uring *ring)
{
	return __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
}

/* After the injection, a real wait for nr completions first feeds nr pipes. */
static void watch_feed(unsigned nr)
{
	if (!watch.injected)
		return;
	for (; nr > 0 && watch.fed < watch.nfeed; nr--)
		if (SEAM_REAL(write)(watch.feed_fds[watch.fed++], "DRAINED!", 8) != 8)
			grade_fail("harness: cannot feed a pipe");
}

/* Give the held reads their bytes: each pipe gets the file's bytes and is
 * closed (a read at end of file gets 0, as from the file). */
static void watch_release_held(void)
{
	for (unsigned i = 0; i < watch.nheld; i++) {
		if (watch.held[i].len > 0 &&
		    SEAM_REAL(write)(watch.held[i].wfd, watch.held[i].bytes, watch.held[i].len) !=
			    (ssize_t)watch.held[i].len)
			grade_fail("harness: cannot feed a held read's pipe");
		SEAM_REAL(close)(watch.held[i].wfd);
		free(watch.held[i].bytes);
	}
	watch.nheld = 0;
}

/* Hold the plain reads queued in the SQ (see "early wakes"): each becomes
 * a read of a pipe that has no bytes yet. Returns the read ends to close
 * once the kernel has taken the SQEs. */
static unsigned watch_hold_reads(struct io_uring *ring, int *rfds)
{
	const unsigned chain = IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
	bool in_chain = false;
	unsigned n = 0;

	for (unsigned h = ring->sq.sqe_head; h != ring->sq.sqe_tail; h++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[h & ring->sq.ring_mask];
		bool linked = in_chain;
		unsigned char *bytes;
		struct stat st;
		ssize_t got;
		int p[2];

		in_chain = (sqe->flags & chain) != 0;
		/* The kernel looks up the descriptor of a read sent to its
		 * workers (IOSQE_ASYNC) or behind another in a chain only when
		 * it issues it, which can be after watch_wake_early has closed
		 * our read end: such a read is left as it is. */
		if (linked || (sqe->flags & (IOSQE_ASYNC | chain)) ||
		    (sqe->opcode != IORING_OP_READ && sqe->opcode != IORING_OP_READ_FIXED) ||
		    (sqe->flags & IOSQE_FIXED_FILE) || sqe->fd < 0 || sqe->off == (__u64)-1 ||
		    sqe->len == 0 || sqe->len > 65536 || watch.nheld == WATCH_HELD_MAX ||
		    fstat(sqe->fd, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		bytes = malloc(sqe->len);
		if (!bytes || pipe2(p, O_CLOEXEC) != 0) {
			free(bytes);
			continue;
		}
		if (fcntl(p[1], F_GETPIPE_SZ) < (int)sqe->len ||
		    (got = SEAM_REAL(pread)(sqe->fd, bytes, sqe->len, (off_t)sqe->off)) < 0) {
			SEAM_REAL(close)(p[0]);
			SEAM_REAL(close)(p[1]);
			free(bytes);
			continue;
		}
		watch.held[watch.nheld].wfd = p[1];
		watch.held[watch.nheld].len = (size_t)got;
		watch.held[watch.nheld].bytes = bytes;
		watch.nheld++;
		watch.held_reads++;
		rfds[n++] = p[0];
		sqe->fd = p[0];
		sqe->off = (__u64)-1;  /* a pipe has no offset */
	}
	return n;
}

/* io_uring_submit_and_wait cut short (see "early wakes"): true, with what
 * the call returns in *ret, if this call is one. */
static bool watch_wake_early(struct io_uring *ring, const char *name, unsigned nr, int *ret)
{
	int rfds[WATCH_HELD_MAX];
	unsigned nr_rfds;

	if (!watch.wake_early || nr == 0 || strcmp(name, "io_uring_submit_and_wait") != 0 ||
	    io_uring_sq_ready(ring) == 0 || (ring->flags & IORING_SETUP_SQPOLL))
		return false;
	watch.wake_early--;
	watch.early_wakes++;
	nr_rfds = watch_hold_reads(ring, rfds);
	*ret = SEAM_REAL(io_uring_submit)(ring);
	/* The kernel took the reads with their files (no SQPOLL here, and
	 * no read held that it issues later): our read ends are not needed
	 * any more. */
	for (unsigned i = 0; i < nr_rfds; i++)
		SEAM_REAL(close)(rfds[i]);
	return true;
}

/* A submitting call fails (publish_on_inject): its queued SQEs are
 * published as liburing publishes them before it enters (the SQ tail
 * stored, sqe_head moved to sqe_tail), and the kernel takes none of them.
 * Not on an SQPOLL ring, whose thread would take them. The ring is
 * remembered: at its next call the watch counts the SQEs from *khead again
 * (watch_unpublish), as they are then (taken back as NOPs, or not). */
static void watch_publish_failed(struct io_uring *ring, const char *name)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned i;

	if (!watch.publish_on_inject || !watch_is_submit(name) ||
	    (ring->flags & IORING_SETUP_SQPOLL) || sq->sqe_head == sq->sqe_tail)
		return;
	for (i = 0; i < WATCH_PUBLISHED_MAX && watch.published[i] && watch.published[i] != ring; i++)
		;
	if (i == WATCH_PUBLISHED_MAX)
		return;  /* more rings than the watch follows: leave this one as it is */
	watch.published[i] = ring;
	sq->sqe_head = sq->sqe_tail;
	io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
}

/* The code calls liburing on a ring whose failed submit published SQEs the
 * kernel never took: they are queued again from the watch's point of view
 * (sqe_head back at *khead; liburing's next flush publishes the same tail
 * and submits tail - *khead, exactly as it would have). */
static void watch_unpublish(struct io_uring *ring)
{
	for (unsigned i = 0; ring && i < WATCH_PUBLISHED_MAX; i++) {
		if (watch.published[i] != ring)
			continue;
		ring->sq.sqe_head = *ring->sq.khead;
		watch.published[i] = NULL;
	}
}

/* A call that may enter the kernel; true (with *err) to fail it instead. */
static bool watch_call(struct io_uring *ring, int *err)
{
	watch_release_held();  /* the code came back: the held reads end */
	watch_unpublish(ring);
	watch.calls++;
	if (watch.limit && watch.calls > watch.limit) {
		seam_disarm();
		grade_fail("your code called liburing %ld times in one call without finishing "
			   "(the test allows %ld): %s", watch.calls, watch.limit,
			   watch.limit_why ? watch.limit_why
					   : "it never stops: a request resubmitted forever, or "
					     "CQEs handled again and again?");
	}
	if (ring) {
		watch_observe(ring);
		if (watch.inject_when && !watch.inject_at && watch_when(ring))
			watch.inject_at = watch.calls;
	}
	if (watch.inject_at && ((!watch.injected && watch.inject_at == watch.calls) ||
				(watch.inject_forever && watch.calls >= watch.inject_at) ||
				(watch.calls >= watch.inject_at &&
				 watch.calls < watch.inject_at + watch.inject_calls))) {
		watch.injected = true;
		*err = watch.inject_err;
		return true;
	}
	return false;
}

/* The hooks: observe, maybe inject, else the real call, then observe again. */
/* waits: the call may wait for completions (after_wait sees its returns). */
#define WATCH_RING_HOOK(name, params, args, nr, waits)           \
	static int watch_##name##_answer params                   \
	{                                                         \
		int err, ret;                                     \
		watch.cur_nr = (nr);                              \
		if (watch_call(ring, &err)) {                     \
			watch_publish_failed(ring, #name);        \
			return err;                               \
		}                                                 \
		if (watch_pacing(ring, #name, (nr), &err))        \
			return err;                               \
		if (watch_ready_eagain(ring, #name, &err))        \
			return err;                               \
		watch_submission(ring, #name);                    \
		if (watch_wake_early(ring, #name, (nr), &ret)) {  \
			watch_observe(ring);                      \
			watch_rewrite_cqes(ring);                 \
			return ret;                               \
		}                                                 \
		watch_feed((nr));                                 \
		if (watch.before_wait && (nr) > 0)                \
			watch.before_wait(ring, (nr));            \
		ret = SEAM_REAL(name) args;                       \
		watch_observe(ring);                              \
		watch_rewrite_cqes(ring);                         \
		return ret;                                       \
	}                                                         \
	static int watch_##name params                            \
	{                                                         \
		int ret = watch_##name##_answer args;             \
		if ((waits) && watch.after_wait)                  \
			ret = watch.after_wait(ring, ret);        \
		return ret;                                       \
	}
WATCH_RING_HOOK(io_uring_submit, (struct io_uring *ring), (ring), 0, false)
WATCH_RING_HOOK(io_uring_submit_and_wait, (struct io_uring *ring, unsigned nr), (ring, nr), nr,
		true)
WATCH_RING_HOOK(io_uring_submit_and_wait_timeout,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
		 struct __kernel_timespec *ts, sigset_t *sig), (ring, cqe, nr, ts, sig), nr, true)
WATCH_RING_HOOK(__io_uring_get_cqe,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned submit,
		 unsigned nr, sigset_t *sig), (ring, cqe, submit, nr, sig), nr, true)
WATCH_RING_HOOK(io_uring_wait_cqes,
		(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
		 struct __kernel_timespec *ts, sigset_t *sig), (ring, cqe, nr, ts, sig), nr, true)
WATCH_RING_HOOK(io_uring_wait_cqe_timeout,
		(struct io_uring *ring, struct io_uring_cqe **cqe, struct __kernel_timespec *ts),
		(ring, cqe, ts), 1, true)
WATCH_RING_HOOK(io_uring_get_events, (struct io_uring *ring), (ring), 0, false)
WATCH_RING_HOOK(io_uring_submit_and_get_events, (struct io_uring *ring), (ring), 0, false)
#undef WATCH_RING_HOOK

static int watch_io_uring_enter(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
				sigset_t *sig)
{
	int err;

	if (watch_call(NULL, &err))
		return err;
	watch_feed(complete);
	if (watch.before_wait && complete > 0)
		watch.before_wait(NULL, complete);
	return SEAM_REAL(io_uring_enter)(fd, submit, complete, fl, sig);
}

static int watch_io_uring_enter2(unsigned fd, unsigned submit, unsigned complete, unsigned fl,
				 sigset_t *sig, size_t sz)
{
	int err;

	if (watch_call(NULL, &err))
		return err;
	watch_feed(complete);
	if (watch.before_wait && complete > 0)
		watch.before_wait(NULL, complete);
	return SEAM_REAL(io_uring_enter2)(fd, submit, complete, fl, sig, sz);
}

/* The set-up flags Linux 5.19 knows (io_uring_setup(2)). */
#define WATCH_FLAGS_5_19 (IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF | \
			  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_ATTACH_WQ | \
			  IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL | \
			  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | \
			  IORING_SETUP_SQE128 | IORING_SETUP_CQE32)

/* -EINVAL when the watch plays an old kernel and flags has one it does not know. */
static int watch_old_kernel_refuses(unsigned flags)
{
	if (!watch.init_old_kernel || !(flags & ~(unsigned)WATCH_FLAGS_5_19))
		return 0;
	watch.init_refused++;
	return -EINVAL;
}

/* A ring set-up the watch answers itself, before the real call: -EINVAL
 * for a flag the old kernel it plays does not know, -ENOMEM above the
 * injected size limit; 0: make the real call. */
static int watch_init_refusal(unsigned entries, unsigned flags)
{
	int ret = watch_old_kernel_refuses(flags);

	if (ret == 0 && watch.init_enomem && entries > watch.init_enomem_above)
		ret = -ENOMEM;
	return ret;
}

/* Count a set-up and its result; returns ret. */
static int watch_init_counted(unsigned entries, int ret)
{
	if (entries > watch.most_entries)
		watch.most_entries = entries;
	watch.inits++;
	watch.init_ok += ret == 0;
	return ret;
}

static int watch_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned fl)
{
	int ret = watch_init_refusal(entries, fl);

	if (ret == 0)
		ret = SEAM_REAL(io_uring_queue_init)(entries, ring, fl);
	return watch_init_counted(entries, ret);
}

static int watch_io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
					    struct io_uring_params *p)
{
	int ret = watch_init_refusal(entries, p ? p->flags : 0);

	if (ret == 0)
		ret = SEAM_REAL(io_uring_queue_init_params)(entries, ring, p);
	return watch_init_counted(entries, ret);
}

static void watch_io_uring_queue_exit(struct io_uring *ring)
{
	if (ring_exit_refused(ring, "the chapter's header, the call that ends the ring"))
		return;
	watch_release_held();
	watch_unpublish(ring);  /* its address may be another ring's next */
	watch.exits++;
	watch.exit_in_kernel = watch_in_kernel(ring);
	watch.exit_cq_ready = io_uring_cq_ready(ring);
	SEAM_REAL(io_uring_queue_exit)(ring);
}

/* Install the hooks (the test process is the test's alone: they stay). */
static void watch_start(long limit, const char *why)
{
	watch_probe_nop_inject();
	memset(&watch, 0, sizeof(watch));
	watch.virt_fd = -1;
	watch.limit = limit;
	watch.limit_why = why;
	seam_hook_io_uring_submit = watch_io_uring_submit;
	seam_hook_io_uring_submit_and_wait = watch_io_uring_submit_and_wait;
	seam_hook_io_uring_submit_and_wait_timeout = watch_io_uring_submit_and_wait_timeout;
	seam_hook___io_uring_get_cqe = watch___io_uring_get_cqe;
	seam_hook_io_uring_wait_cqes = watch_io_uring_wait_cqes;
	seam_hook_io_uring_wait_cqe_timeout = watch_io_uring_wait_cqe_timeout;
	seam_hook_io_uring_get_events = watch_io_uring_get_events;
	seam_hook_io_uring_submit_and_get_events = watch_io_uring_submit_and_get_events;
	seam_hook_io_uring_enter = watch_io_uring_enter;
	seam_hook_io_uring_enter2 = watch_io_uring_enter2;
	seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
	seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
	seam_hook_io_uring_queue_exit = watch_io_uring_queue_exit;
}

/* Start counting afresh (between two calls of one test). */
static void watch_reset_counts(void)
{
	watch.calls = 0;
	watch.max_inflight = 0;
	watch.overflow = false;
	watch.inits = watch.init_ok = watch.exits = 0;
	watch.most_entries = 0;
	watch.inject_at = 0;
	watch.injected = false;
	watch.inject_forever = false;
	watch.inject_when = 0;
	watch.inject_calls = 0;
	watch.nfeed = watch.fed = 0;
	watch.most_queued = 0;
	watch.sqes_submitted = 0;
	watch_release_held();
	watch.wake_early = watch.early_wakes = watch.held_reads = 0;
}

/*
 * Slow reads (chapters 07 and 10): the first plain read of each of the
 * first `nblocks` blocks of `src` (offsets 0, block, 2 * block, ...) is
 * redirected to a pipe of its own that gets src's bytes only when the code
 * waits with nothing else left to wait for: no SQE queued, no CQE in the
 * CQ, and at most `in_kernel_each` requests in the kernel per held read
 * (the held read, plus what the kernel cannot start before it: the write
 * linked to it in 07). Meanwhile the other reads go through the rest of
 * the window, and reads_while_held counts how many were handed over once
 * every block was held. A read through a registered file or a READV is not
 * held: a test with fewer than `nblocks` held (watch_slow.held) then has
 * nothing to count.
 */
#define WATCH_SLOW_MAX 3
static struct {
	int src;                   /* whose reads are held                    */
	int pipe[WATCH_SLOW_MAX][2]; /* where each block's read is sent       */
	const unsigned char *data; /* src's bytes from offset 0               */
	size_t block;
	unsigned nblocks;
	unsigned len[WATCH_SLOW_MAX]; /* the lengths the held reads asked for */
	bool is_held[WATCH_SLOW_MAX];
	unsigned held;             /* how many of the blocks' reads are held */
	unsigned in_kernel_each;
	bool released;
	unsigned reads_while_held; /* read SQEs handed over while all were held */
} watch_slow;

static void watch_slow_edit(struct io_uring_sqe *sqe)
{
	__u64 b = sqe->off / watch_slow.block;

	if (sqe->fd == watch_slow.src && sqe->off % watch_slow.block == 0 &&
	    b < watch_slow.nblocks && !watch_slow.is_held[b] &&
	    !(sqe->flags & IOSQE_FIXED_FILE) && sqe->opcode != IORING_OP_READV) {
		sqe->fd = watch_slow.pipe[b][0];
		watch_slow.len[b] = sqe->len;
		watch_slow.is_held[b] = true;
		watch_slow.held++;
	} else if (watch_slow.held == watch_slow.nblocks && !watch_slow.released) {
		watch_slow.reads_while_held++;
	}
}

static void watch_slow_release(struct io_uring *ring, unsigned nr)
{
	(void)nr;
	if (!watch_slow.held || watch_slow.released || !ring || io_uring_sq_ready(ring) ||
	    io_uring_cq_ready(ring) ||
	    watch_in_kernel(ring) > watch_slow.in_kernel_each * watch_slow.held)
		return;
	watch_slow.released = true;
	for (unsigned b = 0; b < watch_slow.nblocks; b++)
		if (watch_slow.is_held[b] &&
		    SEAM_REAL(write)(watch_slow.pipe[b][1], watch_slow.data + b * watch_slow.block,
				     watch_slow.len[b]) != (ssize_t)watch_slow.len[b])
			grade_fail("harness: cannot feed a held read");
}

/* Hold the first reads of src's first nblocks blocks of block bytes (see
 * watch_slow) until the code waits for them alone. */
static void watch_slow_blocks_start(int src, const unsigned char *data, size_t block,
				    unsigned nblocks, unsigned in_kernel_each)
{
	memset(&watch_slow, 0, sizeof(watch_slow));
	grade_check(nblocks >= 1 && nblocks <= WATCH_SLOW_MAX && block > 0,
		    "harness: watch_slow holds 1 to %d blocks", WATCH_SLOW_MAX);
	for (unsigned b = 0; b < nblocks; b++)
		fault_pipe(watch_slow.pipe[b], 65536);
	watch_slow.src = src;
	watch_slow.data = data;
	watch_slow.block = block;
	watch_slow.nblocks = nblocks;
	watch_slow.in_kernel_each = in_kernel_each;
	watch.edit_sqe = watch_slow_edit;
	watch.before_wait = watch_slow_release;
}

/* Hold src's first read, at offset 0, until the code waits for it alone
 * (with at most in_kernel_max requests in the kernel). */
static void watch_slow_start(int src, const unsigned char *data, unsigned in_kernel_max)
{
	watch_slow_blocks_start(src, data, SIZE_MAX, 1, in_kernel_max);
}

/* Stop holding (once the call under test has returned). */
static void watch_slow_stop(void)
{
	watch.edit_sqe = NULL;
	watch.before_wait = NULL;
}

/* Close the pipes (after the checks that read watch_slow). */
static void watch_slow_close(void)
{
	for (unsigned b = 0; b < watch_slow.nblocks; b++) {
		close(watch_slow.pipe[b][0]);
		close(watch_slow.pipe[b][1]);
	}
}

#pragma GCC diagnostic pop

#endif /* RING_WATCH_H */
