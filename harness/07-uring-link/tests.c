/*
 * Chapter 07 tests: io_uring linking, timeouts and cancellation
 * (chapters/07-uring-link/ulink.h) and the lcopy program, graded from
 * outside by the copy battery chapter 06 uses (harness/lib/copy_battery.h).
 *
 * The module is watched through the link seams (harness/lib/ring_watch.h):
 * every SQE it hands to the kernel is seen as it wrote it (a read linked to
 * a link timeout, read -> write pairs with IOSQE_IO_LINK, the deadline's
 * timespec), CQEs are looked at before the module sees them, and the
 * kernel's own ways of breaking a chain are made on demand: a linked read
 * cut short in the middle of a regular file (its write then answers
 * -ECANCELED, as the kernel does), a read that fails after earlier blocks
 * were copied, a read interrupted (-EINTR) before it read anything, -EINTR
 * and -EAGAIN from liburing calls. The rest is real: pipes that never
 * answer, pipes fed in pieces or only once the module sleeps in
 * io_uring_enter, SIGUSR1 without SA_RESTART during that sleep, /dev/full,
 * a file-size limit. Blocking reads and writes, polling, sleeping and
 * threads are refused in every module test.
 *
 * "The kernel has let go of a buffer" is checked from both sides: nothing
 * the module submitted is still in the kernel (SQEs taken minus CQEs
 * posted is 0) and no CQE is left unreaped; and, for reads on pipes, data
 * written into the pipe after the call returned stays in the pipe and the
 * caller's buffer stays as it was.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "faults.h"
#include "ulink.h"
#include "ring_watch.h"
#include "memlock_wait.h"
#include "batch_checks.h"
#include "tasks.h"
#include "confined.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* Several rings in a row are set up per test; a torn-down ring stays
 * charged to RLIMIT_MEMLOCK a moment (FACTS.md). */
#define RING_ROOM (64 * 1024)

/* Every module test: io_uring must work here; I/O only through the ring;
 * the deadline is the kernel's; the watchdog ends a call that never ends. */
static void module_setup(unsigned entries)
{
	static const enum seam_id waits[] = {
		SEAM_poll, SEAM_ppoll, SEAM_select, SEAM_pselect, SEAM_epoll_wait,
		SEAM_epoll_pwait, SEAM_nanosleep, SEAM_usleep, SEAM_clock_nanosleep,
		SEAM_pthread_create,
	};

	grade_require_io_uring(entries);
	grade_require_memlock(RING_ROOM, "this chapter's tests (several rings in a row)");
	seam_refuse_blocking_io("this module reads and writes only through the ring "
				"(io_uring_prep_read, io_uring_prep_write): lesson, \"The exercise\"");
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
		seam_refuse(waits[i], "the deadline is the kernel's (a linked timeout) and the "
			    "waiting is io_uring's: no polling, sleeping or threads of your own "
			    "(lesson, \"The exercise\")");
	watch_start(20000, NULL);
	/* An injected submit error leaves the SQEs published, as a real one
	 * does: what the kernel did not take is *khead .. sqe_tail. */
	watch.publish_on_inject = true;
}

/* A module test: module_setup(entries) runs first, so a machine without
 * io_uring skips it with the reason. */
#define URING_TEST_T(suite_, name_, points_, title_, hint_, entries_, timeout_) \
	static void uring_body_##suite_##_##name_(void);                        \
	GRADE_TEST_T(suite_, name_, points_, title_, hint_, timeout_)            \
	{                                                                        \
		module_setup(entries_);                                          \
		uring_body_##suite_##_##name_();                                 \
	}                                                                        \
	static void uring_body_##suite_##_##name_(void)
#define URING_TEST(suite_, name_, points_, title_, hint_, entries_) \
	URING_TEST_T(suite_, name_, points_, title_, hint_, entries_, GRADE_TIMEOUT)

static void init_or_fail(struct ulink *u, unsigned entries)
{
	int ret;

	memset(u, 0x5a, sizeof(*u));
	MEMLOCK_PATIENT(ret, SEAM_CALL(ulink_init(u, entries)));
	if (ret == -ENOMEM)
		memlock_skip_if_short(entries, NULL, 0, "ulink_init's ring");
	grade_check(ret == 0, "ulink_init(&u, %u) returned %s, expected 0 (TODO 1)", entries,
		    grade_errno_str(ret));
	grade_check(u->live == 1 && u->sq_entries >= entries && u->cq_entries >= u->sq_entries &&
		    u->inflight == 0, "after ulink_init(&u, %u): live %d, sq_entries %u, cq_entries "
		    "%u, inflight %u; expected live 1, the sizes the kernel gave and inflight 0 "
		    "(TODO 1)", entries, u->live, u->sq_entries, u->cq_entries, u->inflight);
}

/* SQEs queued and not yet submitted, but for NOPs with
 * IOSQE_CQE_SKIP_SUCCESS: SQEs an earlier failed call took back (ulink.h:
 * "turn them into NOPs, say") start nothing and post nothing when a later
 * submission takes them, and a call that submits nothing of its own (a
 * cancel through io_uring_register_sync_cancel) need not flush them. */
static unsigned sq_pending_requests(const struct io_uring *ring)
{
	unsigned n = 0;

	for (unsigned h = *ring->sq.khead; h != ring->sq.sqe_tail; h++) {
		const struct io_uring_sqe *sqe = &ring->sq.sqes[h & ring->sq.ring_mask];

		n += !(sqe->opcode == IORING_OP_NOP && (sqe->flags & IOSQE_CQE_SKIP_SUCCESS));
	}
	return n;
}

/* Nothing of this call is left: no CQE unreaped, no SQE unsubmitted (but
 * taken-back NOPs that post nothing), no request still in the kernel (each
 * SQE makes one CQE here). */
static void check_ring_clean(struct ulink *u, const char *when, const char *todo)
{
	unsigned cq = io_uring_cq_ready(&u->ring), sq = sq_pending_requests(&u->ring);
	unsigned kernel = watch_in_kernel(&u->ring);

	/* An SQE with IOSQE_CQE_SKIP_SUCCESS posts no CQE when it succeeds:
	 * those cannot be told from requests still running, so they are not
	 * held against the module. */
	grade_check(kernel <= watch.skip_success, "%s, the kernel still had %u request(s) of "
		    "yours: a buffer is the kernel's until its CQE arrives, so a call returns "
		    "only once every request it submitted (linked timeouts and cancel requests "
		    "too) has its CQE (%s; lesson, section 8)", when,
		    kernel, todo);
	grade_check(cq == 0 && sq == 0, "%s, the ring still holds %u unreaped CQE(s) and %u "
		    "unsubmitted SQE(s): the next call would see them. Reap every CQE, the "
		    "timeout's and the cancel's too (io_uring_cqe_seen) (%s)", when, cq, sq, todo);
}

/* A pipe with nothing in it; its read end non-blocking for the harness's
 * own checks (the kernel's io_uring reads on it are armed all the same). */
static void empty_pipe(int fds[2])
{
	fault_pipe(fds, 65536);
}

static void close_pipe(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

/* After the module returned: data written now must stay in the pipe, and
 * the buffer the module was given must keep its canary. */
static void check_pipe_let_go(int fds[2], const unsigned char *buf, size_t len, unsigned char canary,
			      const char *when, const char *todo)
{
	char back[16] = "";
	ssize_t n;
	int fl = fcntl(fds[0], F_GETFL);

	grade_check(SEAM_REAL(write)(fds[1], "LATE-DATA", 9) == 9, "harness: write: %s",
		    strerror(errno));
	fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
	n = SEAM_REAL(read)(fds[0], back, sizeof(back));
	fcntl(fds[0], F_SETFL, fl);
	grade_check(n == 9 && !memcmp(back, "LATE-DATA", 9), "%s, 9 bytes written into the pipe "
		    "were taken by a read the module had left in the kernel (the harness read "
		    "%s back): the read was still armed, and its buffer still the kernel's. "
		    "Cancel it and wait for its CQE before returning (%s)", when,
		    grade_errno_str(n < 0 ? -errno : n), todo);
	for (size_t i = 0; i < len; i++)
		grade_check(buf[i] == canary, "%s, byte %zu of a buffer the module was given changed "
			    "after the call returned: a request was still writing into it (%s)",
			    when, i, todo);
}

/* A buffer of 2^32 + 4096 bytes, reserved but not backed (only the bytes a
 * read writes get pages): len 2^32 does not fit the SQE's 32-bit length.
 * It is only read into from a pipe holding a few bytes, so where the
 * system refuses the reservation (overcommit off) a small buffer serves:
 * the kernel writes only what the pipe holds. */
#define BIG_LEN ((size_t)1 << 32)

static unsigned char big_fallback[4096];

static unsigned char *big_buffer(void)
{
	void *m = SEAM_REAL(mmap)(NULL, BIG_LEN + 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return m == MAP_FAILED ? big_fallback : m;
}

static void big_free(unsigned char *big)
{
	if (big != big_fallback)
		munmap(big, BIG_LEN + 4096);
}

/* ------------------------------------------------- what the SQEs carried */

/* The deadline: a read with IOSQE_IO_LINK followed, in the same submission,
 * by an IORING_OP_LINK_TIMEOUT; the timespec it carried. */
static struct {
	unsigned reads;         /* read SQEs                                    */
	unsigned linked;        /* ... followed by a link timeout, same call    */
	unsigned plain_timeouts;/* IORING_OP_TIMEOUT SQEs (not linked)          */
	bool prev_linked_read;
	long long last_ns;      /* the last link timeout's relative time, or -1 */
	bool abs;               /* ... it was absolute                          */
} dl;

static void deadline_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)queued;
	if (pos == 0)
		dl.prev_linked_read = false;
	if (watch_is_read(sqe)) {
		dl.reads++;
		dl.prev_linked_read = (sqe->flags & IOSQE_IO_LINK) != 0;
		return;
	}
	if (sqe->opcode == IORING_OP_TIMEOUT)
		dl.plain_timeouts++;
	if (sqe->opcode == IORING_OP_LINK_TIMEOUT && dl.prev_linked_read) {
		const struct __kernel_timespec *ts =
			(const struct __kernel_timespec *)(uintptr_t)sqe->addr;

		dl.linked++;
		dl.abs = sqe->timeout_flags & IORING_TIMEOUT_ABS;
		dl.last_ns = ts ? (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec : -1;
	}
	dl.prev_linked_read = false;
}

static void deadline_watch(void)
{
	memset(&dl, 0, sizeof(dl));
	dl.last_ns = -1;
	watch.on_sqe = deadline_sqe;
}

static ssize_t run_deadline(struct ulink *u, int fd, void *buf, size_t len, unsigned ms)
{
	return SEAM_CALL(ulink_read_timeout(u, fd, buf, len, ms));
}

/* The same with a fault script running beside it (what it saw in *rep). */
static ssize_t run_deadline_scripted(struct ulink *u, int fd, void *buf, size_t len, unsigned ms,
				     const struct fault_step *steps, struct fault_report *rep)
{
	struct fault *f = fault_start(steps);
	ssize_t ret = run_deadline(u, fd, buf, len, ms);

	*rep = fault_join(f);
	free(rep->sink);
	rep->sink = NULL;
	return ret;
}

/* The two CQEs of a deadline read in the other order. When the read's CQE
 * and its timeout's arrive in the same call (data already in the pipe: the
 * read completes at once and its timeout is cancelled), they are swapped in
 * the CQ before the module looks: the timeout's (-ECANCELED) comes first,
 * as it may (lesson, section 5: "two CQEs, in either order"). */
static struct {
	__u64 read_ud, timer_ud;
	bool have_read, have_timer;
	struct io_uring_cqe *read_cqe; /* the read's CQE, not yet seen by the module */
	long read_call;                /* the liburing call after which it came     */
	unsigned swapped;
} order;

static void order_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (watch_is_read(sqe)) {
		order.read_ud = sqe->user_data;
		order.have_read = true;
	} else if (sqe->opcode == IORING_OP_LINK_TIMEOUT) {
		order.timer_ud = sqe->user_data;
		order.have_timer = true;
	}
}

static void order_cqe(struct io_uring_cqe *cqe)
{
	if (!order.have_read || !order.have_timer || order.read_ud == order.timer_ud)
		return;
	if (cqe->user_data == order.read_ud) {
		order.read_cqe = cqe;
		order.read_call = watch.calls;
	} else if (cqe->user_data == order.timer_ud && order.read_cqe &&
		   order.read_call == watch.calls) {
		/* Both came after this one call: the module has seen neither. */
		struct io_uring_cqe first = *order.read_cqe;

		*order.read_cqe = *cqe;
		*cqe = first;
		order.read_cqe = NULL;
		order.swapped++;
	}
}

/* The copy: read -> write pairs. */
static struct {
	unsigned reads, writes;
	unsigned pairs;         /* linked read + write of the same bytes        */
	unsigned unlinked_reads;/* reads without IOSQE_IO_LINK                  */
	unsigned bad_pairs;     /* a linked read followed by something else     */
	unsigned hardlinks;
	unsigned split;         /* a linked read last in its submission         */
	unsigned chained;       /* a pair's write linked to the next SQE        */
	unsigned submissions;   /* submitting calls that handed over SQEs       */
	unsigned first_queued;  /* SQEs the first of them handed over           */
	char first_bad[200];
	struct io_uring_sqe prev_copy;
	bool have_prev;
} cp;

static bool is_write(const struct io_uring_sqe *sqe)
{
	return sqe->opcode == IORING_OP_WRITE || sqe->opcode == IORING_OP_WRITEV ||
	       sqe->opcode == IORING_OP_WRITE_FIXED;
}

static void copy_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	if (pos == 0) {
		cp.have_prev = false;
		if (cp.submissions++ == 0)
			cp.first_queued = queued;
	}
	if (sqe->flags & IOSQE_IO_HARDLINK)
		cp.hardlinks++;
	if (is_write(sqe)) {
		cp.writes++;
		if (cp.have_prev && watch_is_read(&cp.prev_copy) &&
		    (cp.prev_copy.flags & IOSQE_IO_LINK)) {
			const struct io_uring_sqe *r = &cp.prev_copy;

			if (r->addr == sqe->addr && r->len == sqe->len && r->off == sqe->off &&
			    sqe->opcode == IORING_OP_WRITE && r->opcode == IORING_OP_READ) {
				cp.pairs++;
				if ((sqe->flags & IOSQE_IO_LINK) && pos + 1 < queued)
					cp.chained++;
			} else if (r->opcode != IORING_OP_READ || sqe->opcode != IORING_OP_WRITE) {
				cp.pairs++;  /* vector or fixed forms: not compared */
			} else {
				cp.bad_pairs++;
				if (!cp.first_bad[0])
					snprintf(cp.first_bad, sizeof(cp.first_bad), "a read of %u "
						 "bytes at offset %llu into %#llx linked to a write of "
						 "%u bytes at offset %llu from %#llx", r->len,
						 (unsigned long long)r->off,
						 (unsigned long long)r->addr, sqe->len,
						 (unsigned long long)sqe->off,
						 (unsigned long long)sqe->addr);
			}
		}
	} else if (watch_is_read(sqe)) {
		cp.reads++;
		if (!(sqe->flags & IOSQE_IO_LINK))
			cp.unlinked_reads++;
		else if (pos + 1 == queued)
			cp.split++;
	}
	if (cp.have_prev && watch_is_read(&cp.prev_copy) && (cp.prev_copy.flags & IOSQE_IO_LINK) &&
	    !is_write(sqe)) {
		cp.bad_pairs++;
		if (!cp.first_bad[0])
			snprintf(cp.first_bad, sizeof(cp.first_bad), "a linked read followed by "
				 "an SQE of opcode %u", sqe->opcode);
	}
	cp.prev_copy = *sqe;
	cp.have_prev = true;
}

static void copy_watch(void)
{
	memset(&cp, 0, sizeof(cp));
	watch.on_sqe = copy_sqe;
}

/* Whether the file grade_path(name) holds exactly data's size bytes: -1 if
 * so, else the first byte where they part (its length if it is shorter and
 * the same so far; 0 if it cannot be read). *len: its length. */
static ssize_t dst_mismatch(const char *name, const unsigned char *data, size_t size,
			    size_t *len)
{
	size_t n = 0;
	unsigned char *back = grade_slurp(grade_path(name), &n);
	ssize_t at;

	*len = n;
	if (!back)
		return 0;
	at = grade_first_diff(back, data, n < size ? n : size);
	if (at < 0 && n != size)
		at = (ssize_t)(n < size ? n : size);
	free(back);
	return at;
}

/* The window at each wait: blocks started (a read at a block's offset),
 * requests in flight (SQEs taken minus CQEs reaped). */
static struct {
	size_t block;
	unsigned long long blocks, started, short_started;
	unsigned slots, short_inflight;
	bool short_seen;
} win;

static void win_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (watch_is_read(sqe) && sqe->off % win.block == 0)
		win.started++;
}

static void win_wait(struct io_uring *ring, unsigned nr)
{
	unsigned inflight;

	(void)nr;
	if (!ring)
		return;
	inflight = watch_inflight(ring);
	if (win.started < win.blocks && inflight < win.slots && !win.short_seen) {
		win.short_seen = true;
		win.short_inflight = inflight;
		win.short_started = win.started;
	}
}

static int run_copy_fds(struct ulink *u, int in, int out, off_t size, size_t block,
			unsigned pairs)
{
	return SEAM_CALL(ulink_copy(u, in, out, size, block, pairs));
}

/* Copy a fresh file of `size` random bytes; DST must equal it. */
static void copy_and_check(struct ulink *u, size_t size, size_t block, unsigned pairs,
			   const char *what)
{
	unsigned char *data, *back;
	int in = data_file("src", size, &data);
	int out = grade_open(grade_path("dst"), O_RDWR | O_CREAT | O_TRUNC);
	size_t backlen;
	int ret;

	ret = run_copy_fds(u, in, out, (off_t)size, block, pairs);
	grade_check(ret == 0, "ulink_copy of %zu bytes, block %zu, %u pairs%s returned %s, "
		    "expected 0", size, block, pairs, what, grade_errno_str(ret));
	check_ring_clean(u, "after ulink_copy returned", "TODOs 8-11");
	grade_check(lseek(in, 0, SEEK_CUR) == 0 && lseek(out, 0, SEEK_CUR) == 0, "ulink_copy "
		    "moved a file position: it reads and writes at offsets (io_uring_prep_read "
		    "and io_uring_prep_write with the block's offset, never -1)");
	back = grade_slurp(grade_path("dst"), &backlen);
	grade_check(back && backlen == size, "ulink_copy of %zu bytes (block %zu, %u pairs%s): "
		    "DST has %zu bytes", size, block, pairs, what, backlen);
	{
		ssize_t at = grade_first_diff(back, data, size);

		grade_check(at < 0, "ulink_copy of %zu bytes (block %zu, %u pairs%s): DST differs "
			    "from byte %zd on (the block there written from the wrong buffer or at "
			    "the wrong offset?) (seed %llu)", size, block, pairs, what, at,
			    (unsigned long long)grade_seed());
	}
	free(back);
	free(data);
	close(in);
	close(out);
}

/* ------------------------------------------------------------------- init */

/* io_uring blocked (a seccomp filter, kernel.io_uring_disabled): the
 * set-up says -EPERM, and errno holds whatever the caller had in it
 * (liburing returns -errno and leaves errno alone: FACTS.md). */
static int init_blocked(unsigned entries, struct io_uring *ring, unsigned flags)
{
	(void)entries, (void)ring, (void)flags;
	errno = ENOENT;
	return -EPERM;
}

static int init_params_blocked(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	(void)entries, (void)ring, (void)p;
	errno = ENOENT;
	return -EPERM;
}

URING_TEST(ring, init_and_exit, 1,
	   "ulink_init: bad arguments are -EINVAL; a ring is set up; ulink_exit twice is safe, nothing left open",
	   "TODOs 1 and 2: ulink.h says what ulink_init refuses and what u->live means after "
	   "a failure; liburing already returns -errno; ulink_exit must be safe twice and after "
	   "a failed init (man 3 io_uring_queue_init, man 3 io_uring_queue_exit)", 8)
{
	int fds = fault_count_fds(), ret;
	struct seam_heap heap;
	struct ulink u;

	seam_heap_usage(&heap);
	ret = SEAM_CALL(ulink_init(NULL, 8));
	grade_check(ret == -EINVAL, "ulink_init(NULL, 8) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	for (unsigned e = 0; e < 2; e++) {
		memset(&u, 0x5a, sizeof(u));
		ret = SEAM_CALL(ulink_init(&u, e));
		grade_check(ret == -EINVAL && u.live == 0, "ulink_init(&u, %u) returned %s with "
			    "live %d, expected -EINVAL and live 0 (a deadline read needs two slots)",
			    e, grade_errno_str(ret), u.live);
	}
	/* 4097, and sizes that a 16-bit count (or an 8-bit one) would take for
	 * 2, 8 or 4096: 65538, 65544, 69632, and UINT_MAX. */
	for (unsigned k = 0; k < 5; k++) {
		static const unsigned too_big[] = { 4097, 65538, 65544, 69632, UINT_MAX };
		int live;

		memset(&u, 0x5a, sizeof(u));
		ret = SEAM_CALL(ulink_init(&u, too_big[k]));
		live = u.live;
		if (ret == 0)
			SEAM_CALL_VOID(ulink_exit(&u));
		grade_check(ret == -EINVAL && live == 0, "ulink_init(&u, %u) returned %s with live "
			    "%d, expected -EINVAL and live 0: ulink.h allows 2..4096 entries, even "
			    "though the kernel itself would take more%s (TODO 1)", too_big[k],
			    grade_errno_str(ret), live, k > 0 ? ". Is entries kept in a type narrower "
			    "than unsigned (16 bits: 65538 becomes 2)?" : "");
	}
	{
		int live;

		/* 4096, the largest the contract allows (-ENOMEM only where the
		 * machine refuses the memory). */
		memset(&u, 0x5a, sizeof(u));
		ret = SEAM_CALL(ulink_init(&u, 4096));
		live = u.live;
		if (ret == 0)
			SEAM_CALL_VOID(ulink_exit(&u));
		grade_check((ret == 0 && live == 1) || ret == -ENOMEM, "ulink_init(&u, 4096) "
			    "returned %s with live %d, expected 0 and live 1: ulink.h allows 2..4096 "
			    "entries, 4096 included (TODO 1)", grade_errno_str(ret), live);
	}
	init_or_fail(&u, 2);  /* the smallest the contract allows */
	SEAM_CALL_VOID(ulink_exit(&u));
	/* 5 entries: the kernel rounds the SQ up to 8, the CQ gets 16. */
	init_or_fail(&u, 5);
	grade_check(u.sq_entries == u.ring.sq.ring_entries &&
		    u.cq_entries == u.ring.cq.ring_entries, "ulink_init(&u, 5) set sq_entries %u "
		    "and cq_entries %u, but the kernel gave an SQ of %u and a CQ of %u: the fields "
		    "hold the sizes the kernel gave (the struct io_uring_params it filled in), not "
		    "the number asked for (TODO 1; man 2 io_uring_setup)", u.sq_entries,
		    u.cq_entries, u.ring.sq.ring_entries, u.ring.cq.ring_entries);
	grade_check(u.cq_entries == 2 * u.sq_entries, "ulink_init(&u, 5) set up an SQ of %u "
		    "and a CQ of %u entries: ulink.h asks for a CQ twice the SQ, the kernel's "
		    "default (leave IORING_SETUP_CQSIZE alone): sq_entries reads in flight plus "
		    "the cancel's own CQE must fit in it (TODO 1; man 2 io_uring_setup; lesson, "
		    "pitfall 12)", u.sq_entries, u.cq_entries);
	SEAM_CALL_VOID(ulink_exit(&u));
	watch.exits = 0;
	init_or_fail(&u, 8);
	SEAM_CALL_VOID(ulink_exit(&u));
	grade_check(u.live == 0, "after ulink_exit, u.live is %d, expected 0", u.live);
	SEAM_CALL_VOID(ulink_exit(&u));
	grade_check(watch.exits == 1, "two ulink_exit calls tore the ring down %ld times, "
		    "expected once (TODO 2)", watch.exits);
	/* A ulink after its exit is not live: every call refuses it, as it
	 * refuses one never set up (its ring's memory is unmapped now). The
	 * other fields may still hold what the ring had: live is what says. */
	{
		unsigned char one[8];

		ret = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(ret == -EINVAL, "ulink_cancel_all on a ulink after ulink_exit returned "
			    "%s, expected -EINVAL: after the exit u->live is 0, and the functions "
			    "refuse a ulink that is not live (ulink.h). Judge by live, not by another "
			    "field that the exit may leave as it was (sq_entries, the ring's fd) "
			    "(TODOs 1, 2)", grade_errno_str(ret));
		ret = SEAM_CALL(ulink_start_read(&u, 0, one, sizeof(one), -1, 1));
		grade_check(ret == -EINVAL, "ulink_start_read on a ulink after ulink_exit returned "
			    "%s, expected -EINVAL (u not live: ulink.h; TODO 6)", grade_errno_str(ret));
		ret = (int)SEAM_CALL(ulink_read_timeout(&u, 0, one, sizeof(one), 100));
		grade_check(ret == -EINVAL, "ulink_read_timeout on a ulink after ulink_exit returned "
			    "%s, expected -EINVAL (u not live: ulink.h; TODO 4)", grade_errno_str(ret));
		ret = SEAM_CALL(ulink_copy(&u, 0, 1, 10, 4096, 2));
		grade_check(ret == -EINVAL, "ulink_copy on a ulink after ulink_exit returned %s, "
			    "expected -EINVAL (u not live: ulink.h; TODO 8)", grade_errno_str(ret));
	}
	grade_check(fault_count_fds() == fds, "after ulink_init + ulink_exit, %d descriptor(s) "
		    "more are open", fault_count_fds() - fds);
	grade_check_heap(&heap, "ulink_init + ulink_exit");

	/* The kernel refuses the ring (RLIMIT_MEMLOCK too small). */
	watch.init_enomem = true;
	watch.init_enomem_above = 0;
	memset(&u, 0x5a, sizeof(u));
	ret = SEAM_CALL(ulink_init(&u, 8));
	watch.init_enomem = false;
	grade_check(ret == -ENOMEM && u.live == 0, "when io_uring_queue_init fails with -ENOMEM, "
		    "ulink_init returned %s with live %d; expected -ENOMEM and live 0",
		    grade_errno_str(ret), u.live);
	SEAM_CALL_VOID(ulink_exit(&u));
	/* io_uring blocked: -EPERM, passed on as it came (not errno, which
	 * liburing leaves alone, and not "-ENOMEM" for every failure). */
	seam_hook_io_uring_queue_init = init_blocked;
	seam_hook_io_uring_queue_init_params = init_params_blocked;
	memset(&u, 0x5a, sizeof(u));
	ret = SEAM_CALL(ulink_init(&u, 8));
	seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
	seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
	grade_check(ret == -EPERM && u.live == 0, "when io_uring_queue_init fails with -EPERM "
		    "(io_uring blocked), ulink_init returned %s with live %d; expected -EPERM and "
		    "live 0: pass the set-up's own -errno on as it came (errno is not set by "
		    "liburing: here it held ENOENT) (ulink.h, ulink_init; TODO 1)",
		    grade_errno_str(ret), u.live);
	SEAM_CALL_VOID(ulink_exit(&u));
	/* Only rings above 8 entries are refused: 16 is still -ENOMEM, not a
	 * smaller ring than the caller asked for. */
	watch.init_enomem = true;
	watch.init_enomem_above = 8;
	memset(&u, 0x5a, sizeof(u));
	ret = SEAM_CALL(ulink_init(&u, 16));
	watch.init_enomem = false;
	{
		int live = u.live;
		unsigned sq = u.sq_entries;

		if (ret == 0)
			SEAM_CALL_VOID(ulink_exit(&u));
		grade_check(ret == -ENOMEM && live == 0, "when io_uring_queue_init fails with -ENOMEM "
			    "for more than 8 entries, ulink_init(&u, 16) returned %s with live %d%s; "
			    "expected -ENOMEM and live 0: the caller asked for 16 slots (its window "
			    "and its reads in flight are sized on them), so the error is the answer, "
			    "not a smaller ring (ulink.h, ulink_init: \"-ENOMEM when RLIMIT_MEMLOCK "
			    "is too small\"; TODO 1)", grade_errno_str(ret), live,
			    ret == 0 && sq < 16 ? " and a smaller ring" : "");
	}
	grade_check(fault_count_fds() == fds, "a failed ulink_init left %d descriptor(s) open",
		    fault_count_fds() - fds);
	grade_check_heap(&heap, "a ulink_init that failed");
}

/* --------------------------------------------------------------- deadline */

URING_TEST(deadline, data_ready, 2,
	   "ulink_read_timeout: data already there comes back at once, through a read linked to a link timeout",
	   "TODOs 4-5: a deadline read is two linked requests that reach the kernel in one "
	   "submission, and two CQEs that come back in either order; the read's CQE decides "
	   "(io_uring_enter(2), IORING_OP_LINK_TIMEOUT; lesson, section 5)", 8)
{
	unsigned char buf[64];
	int p[2], ret;
	struct ulink u;

	init_or_fail(&u, 8);
	empty_pipe(p);
	deadline_watch();
	grade_check(SEAM_REAL(write)(p[1], "hello", 5) == 5, "harness: write");
	memset(buf, 0xa5, sizeof(buf));
	{
		long inits = watch.inits;

		ret = (int)run_deadline(&u, p[0], buf, sizeof(buf), 2000);
		grade_check(watch.inits == inits, "ulink_read_timeout set up %ld ring(s) of its own "
			    "(io_uring_queue_init*): a deadline read goes through u->ring, the one "
			    "ring kept between calls; a ring per call costs a set-up and a tear-down "
			    "each time (ulink.h, struct ulink; TODO 4)", watch.inits - inits);
	}
	grade_check(ret == 5 && !memcmp(buf, "hello", 5), "ulink_read_timeout on a pipe holding "
		    "\"hello\" returned %s, expected 5 with the bytes", grade_errno_str(ret));
	for (size_t i = 5; i < sizeof(buf); i++)
		grade_check(buf[i] == 0xa5, "ulink_read_timeout wrote byte %zu of the buffer, "
			    "past the 5 bytes it read", i);
	check_ring_clean(&u, "after ulink_read_timeout returned 5", "TODO 5");
	grade_check(dl.linked == 1 && dl.reads == 1 && dl.plain_timeouts == 0, "ulink_read_timeout "
		    "submitted %u read(s), %u of them followed in the same submission by a link "
		    "timeout, and %u plain timeout(s); expected one read with IOSQE_IO_LINK and its "
		    "IORING_OP_LINK_TIMEOUT right after it, submitted together (TODO 4)",
		    dl.reads, dl.linked, dl.plain_timeouts);
	grade_check(dl.abs || dl.last_ns == 2000LL * 1000000, "the link timeout for 2000 ms "
		    "carried %lld ns: convert milliseconds to tv_sec and tv_nsec (TODO 4)",
		    dl.last_ns);

	/* 999 ms is 0 s + 999000000 ns (ms / 1000 and ms % 1000 go together);
	 * 4295 and 5000 ms: nanoseconds that do not fit 32 bits; UINT_MAX ms
	 * (49 days): milliseconds that do not fit an int. */
	for (size_t i = 0; i < 4; i++) {
		static const unsigned odd_ms[] = { 999, 4295, 5000, UINT_MAX };
		unsigned ms = odd_ms[i];

		deadline_watch();
		grade_check(SEAM_REAL(write)(p[1], "x", 1) == 1, "harness: write");
		ret = (int)run_deadline(&u, p[0], buf, sizeof(buf), ms);
		grade_check(dl.abs || dl.last_ns == (long long)ms * 1000000, "the link timeout for "
			    "%u ms carried %lld ns, expected %lld: tv_sec = ms / 1000, tv_nsec = "
			    "ms %% 1000 * 1000000, in 64 bits (ms * 1000000 overflows 32), from "
			    "an unsigned ms (above INT_MAX an int goes negative) (TODO 4)",
			    ms, dl.last_ns, (long long)ms * 1000000);
		grade_check(ret == 1, "ulink_read_timeout(..., %u ms) on a pipe holding 1 byte "
			    "returned %s, expected 1", ms, grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	}

	/* len 2^32 on a pipe holding 5 bytes: the 5 bytes. */
	{
		unsigned char *big = big_buffer();

		grade_check(SEAM_REAL(write)(p[1], "hello", 5) == 5, "harness: write");
		ret = (int)run_deadline(&u, p[0], big, BIG_LEN, 2000);
		grade_check(ret == 5 && !memcmp(big, "hello", 5), "ulink_read_timeout with len 2^32 "
			    "(4 GiB) on a pipe holding 5 bytes returned %s, expected 5: an SQE's "
			    "length is 32 bits (io_uring_prep_read takes an unsigned), so 2^32 "
			    "became 0. Ask for at most what fits: like read(2), the call may read "
			    "less than len (TODO 4)", grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
		big_free(big);
	}

	/* The timeout's CQE first, then the read's with the bytes: CQEs carry
	 * no order, only user_data says whose each one is. (Where the two do
	 * not come after one call, they cannot be swapped: nothing is judged.) */
	for (int round = 0; round < 3 && !order.swapped; round++) {
		memset(&order, 0, sizeof(order));
		grade_check(SEAM_REAL(write)(p[1], "swap!", 5) == 5, "harness: write");
		memset(buf, 0xa5, sizeof(buf));
		watch.on_sqe = order_sqe;
		watch.on_cqe = order_cqe;
		ret = (int)run_deadline(&u, p[0], buf, sizeof(buf), 2000);
		watch.on_sqe = NULL;
		watch.on_cqe = NULL;
		grade_check(ret == 5 && !memcmp(buf, "swap!", 5), "ulink_read_timeout on a pipe "
			    "holding 5 bytes returned %s, expected 5%s: the two CQEs of a deadline read "
			    "come in either order, so tell them apart by user_data, never by which came "
			    "first; the read's CQE decides (TODO 5; lesson, section 5)",
			    grade_errno_str(ret), order.swapped ? ", with the link timeout's CQE "
			    "(-ECANCELED) before the read's (5)" : "");
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

URING_TEST(deadline, file_position, 1,
	   "ulink_read_timeout reads a file from its current position, like read(2): twice in a row, then EOF",
	   "TODO 4: like read(2), the read starts at the file's current position and moves it: "
	   "man 3 io_uring_prep_read says which offset asks for that; 0 at end of file is a "
	   "result (lesson, section 5)", 8)
{
	const size_t size = 6000;
	unsigned char *data, buf[4096];
	int fd = data_file("f", size, &data);
	ssize_t ret;
	struct ulink u;

	init_or_fail(&u, 8);
	ret = run_deadline(&u, fd, buf, 4096, 2000);
	grade_check(ret == 4096 && !memcmp(buf, data, 4096), "the first ulink_read_timeout of "
		    "4096 bytes on a fresh 6000-byte file returned %s (or other bytes than the "
		    "file's first 4096)", grade_errno_str(ret));
	ret = run_deadline(&u, fd, buf, 4096, 2000);
	grade_check(ret == 1904 && !memcmp(buf, data + 4096, 1904), "the second "
		    "ulink_read_timeout returned %s, expected 1904 bytes from offset 4096: read at "
		    "the file position (offset -1), as read(2) does", grade_errno_str(ret));
	ret = run_deadline(&u, fd, buf, 4096, 2000);
	grade_check(ret == 0, "at end of file ulink_read_timeout returned %s, expected 0",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned 0", "TODO 5");
	SEAM_CALL_VOID(ulink_exit(&u));
	close(fd);
	free(data);
}

URING_TEST(deadline, times_out, 3,
	   "ulink_read_timeout on a pipe that never answers: -ETIME after the deadline, both CQEs reaped, the read gone",
	   "TODOs 4 and 5: when the kernel's timer ends the read, what do its two CQEs say? "
	   "Turn that into -ETIME only once both are reaped (the read's buffer is the kernel's "
	   "until its CQE), and check your milliseconds (lesson, sections 4 and 5; pitfalls 5, 6)", 8)
{
	static const unsigned waits[] = { 150, 1200 };
	unsigned char buf[256];
	struct seam_heap heap;
	struct ulink u;
	int p[2];

	init_or_fail(&u, 8);
	empty_pipe(p);
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		long start, took;
		ssize_t ret;

		deadline_watch();
		memset(buf, 0xa5, sizeof(buf));
		seam_heap_usage(&heap);
		start = fault_now_ms();
		ret = run_deadline(&u, p[0], buf, sizeof(buf), waits[i]);
		took = fault_now_ms() - start;
		grade_check(ret == -ETIME, "ulink_read_timeout(..., %u ms) on an empty pipe returned "
			    "%s after %ld ms, expected -ETIME (the read's own CQE says -ECANCELED: "
			    "that is the deadline, not an error of the read)", waits[i],
			    grade_errno_str(ret), took);
		grade_check(took >= (long)waits[i] - 5, "ulink_read_timeout(..., %u ms) gave up "
			    "after %ld ms: the timeout must be %u ms (tv_sec = ms / 1000, tv_nsec = "
			    "ms %% 1000 * 1000000)", waits[i], took, waits[i]);
		grade_check(took < (long)waits[i] + 3000, "ulink_read_timeout(..., %u ms) took "
			    "%ld ms", waits[i], took);
		grade_check(dl.linked >= 1, "ulink_read_timeout did not link a link timeout to its "
			    "read (IOSQE_IO_LINK on the read, IORING_OP_LINK_TIMEOUT right after it, "
			    "one submission): the deadline is the kernel's (TODO 4)");
		check_ring_clean(&u, "after ulink_read_timeout returned -ETIME", "TODO 5");
		check_pipe_let_go(p, buf, sizeof(buf), 0xa5, "after ulink_read_timeout returned "
				  "-ETIME", "TODO 5");
		/* -ETIME is a path like any other: once both CQEs are reaped the
		 * kernel holds nothing of the call, so nothing may stay allocated. */
		grade_check_heap(&heap, "a ulink_read_timeout that returned -ETIME (both CQEs "
				 "reaped: the kernel holds nothing of it any more, the timespec "
				 "included; TODO 5)");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

URING_TEST(deadline, data_arrives_late, 2,
	   "ulink_read_timeout: data that arrives while it sleeps in io_uring_enter is returned; the cancelled timeout is reaped too",
	   "TODO 5: when the read wins, the timeout's CQE (-ECANCELED) still comes: reap it "
	   "before returning, or the next call finds it in the CQ (lesson, section 5; pitfall 1)", 8)
{
	unsigned char buf[64];
	struct ulink u;
	struct fault_report rep;
	ssize_t ret;
	int p[2];
	struct fault_step steps[] = {
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_WRITE, .data = "late!", .len = 5 },
		{ .op = FAULT_END },
	};

	init_or_fail(&u, 8);
	empty_pipe(p);
	steps[1].fd = p[1];
	for (int round = 0; round < 2; round++) {
		memset(buf, 0xa5, sizeof(buf));
		ret = run_deadline_scripted(&u, p[0], buf, sizeof(buf), 5000, steps, &rep);
		grade_check(rep.blocked_seen == 1, "ulink_read_timeout on an empty pipe never slept "
			    "in io_uring_enter (it returned %s): wait for the CQEs with "
			    "io_uring_wait_cqe or io_uring_submit_and_wait", grade_errno_str(ret));
		grade_check(ret == 5 && !memcmp(buf, "late!", 5), "ulink_read_timeout returned %s "
			    "when 5 bytes arrived while it waited, expected 5", grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_read_timeout returned the data", "TODO 5");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

URING_TEST(deadline, signals, 2,
	   "ulink_read_timeout: SIGUSR1 (no SA_RESTART) during its wait is not a result; data after it comes back, and so does -ETIME",
	   "TODO 5: -EINTR from io_uring_wait_cqe means a signal came, not that a request "
	   "ended: wait again (lesson, pitfall 7)", 8)
{
	unsigned char buf[64];
	struct ulink u;
	struct fault_report rep;
	ssize_t ret;
	int p[2];
	struct fault_step steps[] = {
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_WRITE, .data = "after", .len = 5 },
		{ .op = FAULT_END },
	};

	init_or_fail(&u, 8);
	empty_pipe(p);
	steps[5].fd = p[1];
	ret = run_deadline_scripted(&u, p[0], buf, sizeof(buf), 6000, steps, &rep);
	grade_check(rep.signals == 2, "harness: %d of 2 signals delivered (the call never slept "
		    "in io_uring_enter?); it returned %s", rep.signals, grade_errno_str(ret));
	grade_check(ret == 5 && !memcmp(buf, "after", 5), "two signals interrupted "
		    "ulink_read_timeout's wait, then 5 bytes came; it returned %s, expected 5",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");

	/* No data at all: the deadline still ends it, signals or not. */
	steps[4].op = FAULT_END;
	ret = run_deadline_scripted(&u, p[0], buf, sizeof(buf), 700, steps, &rep);
	grade_check(ret == -ETIME, "two signals interrupted ulink_read_timeout's wait on an empty "
		    "pipe; it returned %s, expected -ETIME at the deadline", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned -ETIME", "TODO 5");
	check_pipe_let_go(p, buf, 0, 0, "after ulink_read_timeout returned -ETIME", "TODO 5");
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

/* The race where the read wins: its CQE has the data, and the timeout's CQE
 * says -ETIME (it fired as the read completed). Made on demand by
 * rewriting the timeout's -ECANCELED. */
static __u64 race_timeout_id;
static bool race_armed;
static int race_res;  /* what the timeout's CQE says instead of -ECANCELED */

static void race_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	deadline_sqe(sqe, pos, queued);
	if (sqe->opcode == IORING_OP_LINK_TIMEOUT) {
		race_timeout_id = sqe->user_data;
		race_armed = true;
	}
}

static void race_cqe(struct io_uring_cqe *cqe)
{
	if (race_armed && cqe->user_data == race_timeout_id && cqe->res == -ECANCELED)
		cqe->res = race_res;
}

/* One ulink_read_timeout (3 s) whose read completes at once while its
 * timeout's CQE says timeout_res instead of -ECANCELED: both fired. */
static ssize_t race_round(struct ulink *u, int fd, unsigned char *buf, size_t len,
			  int timeout_res)
{
	ssize_t ret;

	race_armed = false;
	race_res = timeout_res;
	deadline_watch();
	watch.on_sqe = race_sqe;
	watch.on_cqe = race_cqe;
	ret = run_deadline(u, fd, buf, len, 3000);
	watch.on_cqe = NULL;
	grade_check(race_armed, "ulink_read_timeout submitted no link timeout (TODO 4)");
	return ret;
}

URING_TEST(deadline, request_wins_race, 1,
	   "ulink_read_timeout: when the read completes and the timeout fires at once (-ETIME, -ENOENT or -EALREADY), the read's result wins",
	   "TODO 5: decide by the read's CQE, not by the timeout's: the read can complete just "
	   "as its timeout fires, and then both CQEs say so (lesson, section 5, \"The race\")", 8)
{
	unsigned char buf[64];
	struct ulink u;
	ssize_t ret;
	int p[2];

	init_or_fail(&u, 8);
	empty_pipe(p);
	grade_check(SEAM_REAL(write)(p[1], "won", 3) == 3, "harness: write");
	ret = race_round(&u, p[0], buf, sizeof(buf), -ETIME);
	grade_check(ret == 3 && !memcmp(buf, "won", 3), "the read completed with 3 bytes and the "
		    "timeout's CQE said -ETIME; ulink_read_timeout returned %s, expected 3 (the "
		    "bytes were read: they are gone from the pipe)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	close_pipe(p);

	/* The same race at end of file: the pipe's writer has closed, the read
	 * completes with 0 and the timeout's CQE says -ETIME. 0 is a result. */
	empty_pipe(p);
	close(p[1]);
	ret = race_round(&u, p[0], buf, sizeof(buf), -ETIME);
	grade_check(ret == 0, "the read found end of file (0 bytes: the pipe's writer had "
		    "closed) and the timeout's CQE said -ETIME; ulink_read_timeout returned %s, "
		    "expected 0: the read completed, and 0 is its result (end of file), not a "
		    "timeout. Only a read whose CQE says -ECANCELED timed out (TODO 5; lesson, "
		    "section 5, \"The race\")", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	close(p[0]);

	/* The timer fired, went to cancel the read and found it finishing:
	 * the timeout's CQE says -ENOENT (the cancel's own answer), the read
	 * has its bytes (lesson, section 5: measured 50 times in 4 runs). */
	empty_pipe(p);
	grade_check(SEAM_REAL(write)(p[1], "hit", 3) == 3, "harness: write");
	ret = race_round(&u, p[0], buf, sizeof(buf), -ENOENT);
	grade_check(ret == 3 && !memcmp(buf, "hit", 3), "the read completed with 3 bytes and the "
		    "timeout's CQE said -ENOENT (it fired, and its cancel found the read already "
		    "finishing); ulink_read_timeout returned %s, expected 3: the timeout's CQE is "
		    "reaped, never passed on, whatever it says; only the read's CQE decides (TODO 5; "
		    "lesson, section 5, \"The race\")", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	close_pipe(p);

	/* The other answer of the timer's cancel: -EALREADY, the read found
	 * too far along to stop (lesson, section 6). The read still ends with
	 * its own CQE, here its bytes. */
	empty_pipe(p);
	grade_check(SEAM_REAL(write)(p[1], "run", 3) == 3, "harness: write");
	ret = race_round(&u, p[0], buf, sizeof(buf), -EALREADY);
	grade_check(ret == 3 && !memcmp(buf, "run", 3), "the read completed with 3 bytes and the "
		    "timeout's CQE said -EALREADY (it fired, and its cancel found the read too far "
		    "along to stop); ulink_read_timeout returned %s, expected 3: -EALREADY is the "
		    "timer's cancel answering, not the deadline; only a read whose CQE says "
		    "-ECANCELED timed out (TODO 5; lesson, section 5, \"The race\", and section 6)",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

/* Before a wait of ulink_read_timeout: every read it submitted went with a
 * link timeout right behind it; a read without one (a retry after -EINTR
 * made as a plain read) would wait for ever on a silent pipe. */
static void retry_has_deadline(struct io_uring *ring, unsigned nr)
{
	(void)ring;
	(void)nr;
	if (dl.reads <= dl.linked)
		return;
	seam_disarm();
	grade_fail("after a read CQE of -EINTR, ulink_read_timeout submitted a read without a "
		   "link timeout behind it (%u read(s), %u with their link timeout) and went to "
		   "wait for it: on a pipe that stays silent it would wait for ever. Each try is "
		   "the read and its link timeout again, a fresh deadline (ulink.h: \"the read is "
		   "tried again with a fresh deadline\"; TODO 5; lesson, pitfall 7)", dl.reads,
		   dl.linked);
}

/* A fresh deadline is a whole one. The first try's submission is held
 * 200 ms (a busy loop on the clock, in the harness, before the kernel takes
 * its SQEs); its read CQE says -EINTR; the link timeout of every later try
 * must then still give the read about timeout_ms from its submission, not
 * what was left of the first one. An absolute timeout (IORING_TIMEOUT_ABS)
 * is measured against its clock when the module submits it. */
static struct {
	bool held;               /* the first submission was held               */
	unsigned timers;         /* link timeouts seen                          */
	long long least_ns;      /* the least time a later try was given, or -1 */
} fresh;

static long long clock_ns(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fresh_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	const struct __kernel_timespec *ts;
	long long ns;

	deadline_sqe(sqe, pos, queued);
	if (sqe->opcode != IORING_OP_LINK_TIMEOUT)
		return;
	if (fresh.timers++ == 0) {
		long long until = clock_ns(CLOCK_MONOTONIC) + 200000000LL;

		while (clock_ns(CLOCK_MONOTONIC) < until)
			;
		fresh.held = true;
		return;
	}
	ts = (const struct __kernel_timespec *)(uintptr_t)sqe->addr;
	if (!ts)
		return;
	ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
	if (sqe->timeout_flags & IORING_TIMEOUT_ABS)
		ns -= clock_ns(sqe->timeout_flags & IORING_TIMEOUT_BOOTTIME ? CLOCK_BOOTTIME :
			       sqe->timeout_flags & IORING_TIMEOUT_REALTIME ? CLOCK_REALTIME :
			       CLOCK_MONOTONIC);
	if (fresh.least_ns < 0 || ns < fresh.least_ns)
		fresh.least_ns = ns;
}

URING_TEST(deadline, eintr_result_retried, 1,
	   "ulink_read_timeout: a read CQE of -EINTR (nothing read) is tried again with a fresh deadline, not returned, 50 times in a row too",
	   "TODO 5: -EINTR in the read's CQE means it was interrupted before it read anything: "
	   "the round is over only when both CQEs are reaped; then the read is tried again, with "
	   "a fresh deadline (lesson, pitfall 7)", 8)
{
	unsigned char buf[64];
	struct seam_heap heap;
	struct ulink u;
	ssize_t ret;
	int p[2];

	init_or_fail(&u, 8);
	empty_pipe(p);
	seam_heap_usage(&heap);
	grade_check(SEAM_REAL(write)(p[1], "again", 5) == 5, "harness: write");
	watch.eintr_reads = 1;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
	grade_check(watch.eintrs == 1, "harness: the read was not interrupted (no read SQE?)");
	grade_check(ret == 5 && !memcmp(buf, "again", 5), "the read's first CQE said -EINTR; "
		    "ulink_read_timeout returned %s, expected 5 after reading again",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");

	/* 50 times in a row: each round is tried again, however many (-EINTR
	 * is not -EAGAIN: no bound, it never comes out). */
	grade_check(SEAM_REAL(write)(p[1], "third", 5) == 5, "harness: write");
	watch.eintrs = 0;
	watch.eintr_reads = 50;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
	grade_check(ret == 5 && !memcmp(buf, "third", 5), "the read's CQE said -EINTR %u "
		    "time(s) in a row (50 planned); ulink_read_timeout returned %s, expected 5: read "
		    "again as long as the read's CQE says -EINTR, not once, not a few times "
		    "(ulink.h: -EINTR never comes out of this function)", watch.eintrs,
		    grade_errno_str(ret));
	grade_check(watch.eintrs == 50, "harness: %u of 50 reads interrupted", watch.eintrs);
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	/* Each try is over once both its CQEs are reaped: what was allocated
	 * for a try (a timespec, say) is freed before the next one. */
	grade_check_heap(&heap, "ulink_read_timeout calls whose read was interrupted (-EINTR) and "
			 "tried again, up to 50 times in a row: free what a try allocated "
			 "before the next try, not only after the last one (TODO 5)");

	/* Interrupted on a pipe that stays empty: the read tried again has a
	 * deadline of its own, so the call still ends, with -ETIME. */
	watch.eintrs = 0;
	watch.eintr_reads = 1;
	deadline_watch();
	watch.before_wait = retry_has_deadline;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 300);
	watch.before_wait = NULL;
	watch.on_sqe = NULL;
	grade_check(watch.eintrs == 1, "harness: the read was not interrupted (no read SQE?)");
	grade_check(ret == -ETIME, "the read's first CQE said -EINTR and the pipe stayed empty; "
		    "ulink_read_timeout(..., 300 ms) returned %s, expected -ETIME: the read tried "
		    "again is a read with a fresh deadline, linked to its own link timeout (TODO 5)",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned -ETIME", "TODO 5");
	check_pipe_let_go(p, buf, 0, 0, "after ulink_read_timeout returned -ETIME", "TODO 5");

	/* The try after -EINTR, 200 ms into a call of 1000 ms: its deadline is
	 * a fresh 1000 ms (at least 900 given), not the 800 left. */
	memset(&fresh, 0, sizeof(fresh));
	fresh.least_ns = -1;
	grade_check(SEAM_REAL(write)(p[1], "fresh", 5) == 5, "harness: write");
	watch.eintrs = 0;
	watch.eintr_reads = 1;
	deadline_watch();
	watch.on_sqe = fresh_sqe;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 1000);
	watch.on_sqe = NULL;
	grade_check(watch.eintrs == 1, "harness: the read was not interrupted (no read SQE?)");
	grade_check(ret == 5 && !memcmp(buf, "fresh", 5), "the read's first CQE said -EINTR; "
		    "ulink_read_timeout returned %s, expected 5 after reading again",
		    grade_errno_str(ret));
	grade_check(!fresh.held || fresh.timers < 2 || fresh.least_ns >= 900000000LL,
		    "the read's first CQE said -EINTR 200 ms into a ulink_read_timeout(..., 1000 ms) "
		    "(the harness held its submission); the link timeout of the read tried again gave it "
		    "%lld ms, expected a fresh deadline of 1000 ms: -EINTR is not the read's answer, "
		    "and each try has the whole timeout_ms (ulink.h: \"tried again with a fresh "
		    "deadline\"). An absolute deadline (IORING_TIMEOUT_ABS) computed once per call "
		    "gives the retry only what is left; compute it for each try (TODO 5; lesson, "
		    "pitfall 7)", fresh.least_ns / 1000000);
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

/* Reads of this fd carry RWF_NOWAIT (set in the SQ, before the kernel takes
 * them): on an empty pipe the kernel then answers -EAGAIN at once, for
 * real, instead of waiting for data. */
static int nowait_fd = -1;

/* Every read of the call being watched is of nowait_fd: a read through a
 * registered file (IOSQE_FIXED_FILE, sqe->fd an index into the module's
 * table) is of that fd too. */
static void nowait_edit(struct io_uring_sqe *sqe)
{
	if (nowait_fd >= 0 && (sqe->fd == nowait_fd || (sqe->flags & IOSQE_FIXED_FILE)))
		sqe->rw_flags |= RWF_NOWAIT;
}

URING_TEST(deadline, arguments_and_errors, 2,
	   "ulink_read_timeout: len 0 (bad fd or NULL buffer too) is 0; bad fd, a directory, NULL buffer, 0 ms, a dead ring, reads in flight",
	   "TODO 4: check the arguments first (contract in ulink.h); a read that fails gives "
	   "its own -errno (-EBADF, -EISDIR), and its timeout's CQE is reaped too", 8)
{
	unsigned char buf[64];
	struct seam_heap heap;
	struct ulink u, dead;
	int p[2], dir;
	ssize_t ret;

	init_or_fail(&u, 8);
	empty_pipe(p);
	ret = run_deadline(&u, -1, buf, 0, 100);
	grade_check(ret == 0, "ulink_read_timeout(u, -1, buf, 0, 100) returned %s, expected 0 "
		    "(len 0: no I/O at all)", grade_errno_str(ret));
	ret = run_deadline(&u, p[0], NULL, 0, 100);
	grade_check(ret == 0, "ulink_read_timeout(u, fd, NULL, 0, 100) returned %s, expected 0: "
		    "ulink.h refuses buf == NULL only with len > 0; len 0 is 0 without any I/O, "
		    "whatever buf and fd are (TODO 4: buf NULL is refused only with len > 0)",
		    grade_errno_str(ret));
	seam_heap_usage(&heap);
	ret = run_deadline(&u, 1000000, buf, sizeof(buf), 500);
	grade_check(ret == -EBADF, "ulink_read_timeout on fd 1000000 returned %s, expected -EBADF "
		    "(the read's CQE)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned -EBADF", "TODO 5");
	dir = open(grade_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = run_deadline(&u, dir, buf, sizeof(buf), 500);
	grade_check(ret == -EISDIR, "ulink_read_timeout on a directory returned %s, expected "
		    "-EISDIR", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned -EISDIR", "TODO 5");
	close(dir);
	/* A read whose CQE says -EAGAIN (a read that may not wait, on an empty
	 * pipe): that is the read's own result, not a -EINTR to try again;
	 * tried again, it says -EAGAIN again, for ever. */
	nowait_fd = p[0];
	watch_reset_counts();
	watch.edit_sqe = nowait_edit;
	watch.limit_why = "the read's CQE said -EAGAIN (it may not wait: RWF_NOWAIT, on an empty "
			  "pipe) and ulink_read_timeout read again and again: a read CQE of -EAGAIN "
			  "is the read's result, to return (only -EINTR is tried again; ulink.h; "
			  "TODO 5)";
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
	watch.edit_sqe = NULL;
	watch.limit_why = NULL;
	nowait_fd = -1;
	grade_check(ret == -EAGAIN, "the read's CQE said -EAGAIN (a read that may not wait, on an "
		    "empty pipe); ulink_read_timeout returned %s, expected -EAGAIN: it is the read's "
		    "own -errno (ulink.h; TODO 5)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned -EAGAIN", "TODO 5");
	/* A read that failed is a path like -ETIME: both CQEs reaped, the
	 * kernel holds nothing of the call, nothing of it stays allocated. */
	grade_check_heap(&heap, "ulink_read_timeout calls whose read failed (-EBADF, -EISDIR, "
			 "-EAGAIN): the read's own error is returned once both CQEs are reaped, "
			 "and what the call allocated (a timespec, say) is freed on that path too "
			 "(TODO 5)");
	ret = run_deadline(&u, p[0], NULL, 10, 100);
	grade_check(ret == -EINVAL, "ulink_read_timeout with buf NULL and len 10 returned %s, "
		    "expected -EINVAL", grade_errno_str(ret));
	ret = run_deadline(&u, p[0], NULL, 1, 100);
	grade_check(ret == -EINVAL, "ulink_read_timeout with buf NULL and len 1 returned %s, "
		    "expected -EINVAL (buf == NULL with len > 0)", grade_errno_str(ret));
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 0);
	grade_check(ret == -EINVAL, "ulink_read_timeout with timeout_ms 0 returned %s, expected "
		    "-EINVAL", grade_errno_str(ret));
	memset(&dead, 0, sizeof(dead));
	ret = run_deadline(&dead, p[0], buf, sizeof(buf), 100);
	grade_check(ret == -EINVAL, "ulink_read_timeout on a ulink that was never set up (live 0) "
		    "returned %s, expected -EINVAL", grade_errno_str(ret));
	/* Arguments first: len 0 is 0 only for a call that is otherwise valid
	 * (ulink.h: the -EINVAL checks come first). */
	ret = run_deadline(&dead, p[0], buf, 0, 100);
	grade_check(ret == -EINVAL, "ulink_read_timeout with len 0 on a ulink never set up "
		    "(live 0) returned %s, expected -EINVAL: check u before the early return for "
		    "len 0 (ulink.h: the -EINVAL checks come first; TODO 4)", grade_errno_str(ret));
	ret = run_deadline(&u, p[0], buf, 0, 0);
	grade_check(ret == -EINVAL, "ulink_read_timeout with len 0 and timeout_ms 0 returned %s, "
		    "expected -EINVAL: timeout_ms 0 is refused whatever len is (ulink.h: the "
		    "-EINVAL checks come first; TODO 4)", grade_errno_str(ret));

	/* The ring fails: every liburing call that may enter the kernel says
	 * -EBADR. The call returns an error, and nothing it queued may reach
	 * the kernel with the next call's submission. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 100);
	watch.inject_forever = false;
	watch.inject_at = 0;
	grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EBADR; "
		    "ulink_read_timeout returned %s, expected an error", grade_errno_str(ret));
	grade_check(SEAM_REAL(write)(p[1], "ok", 2) == 2, "harness: write");
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
	grade_check(ret == 2 && !memcmp(buf, "ok", 2), "after a call whose submission failed, "
		    "ulink_read_timeout on a pipe holding 2 bytes returned %s, expected 2: were "
		    "the failed call's SQEs left queued, to be submitted with this one? (TODO 5: "
		    "SQEs that never reached the kernel must not reach it later)",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after a call that followed a failed submission", "TODO 5");

	/* A read started with ulink_start_read is in flight: -EBUSY. */
	{
		unsigned char other[16];
		int q[2], n;

		empty_pipe(q);
		n = SEAM_CALL(ulink_start_read(&u, q[0], other, sizeof(other), -1, 7));
		grade_check(n == 0, "ulink_start_read on an empty pipe returned %s, expected 0 "
			    "(TODO 6)", grade_errno_str(n));
		ret = run_deadline(&u, p[0], buf, sizeof(buf), 100);
		grade_check(ret == -EBUSY, "ulink_read_timeout while a read of ulink_start_read is "
			    "in flight returned %s, expected -EBUSY", grade_errno_str(ret));
		ret = run_deadline(&u, p[0], buf, sizeof(buf), 0);
		grade_check(ret == -EINVAL, "ulink_read_timeout with timeout_ms 0 while a read of "
			    "ulink_start_read is in flight returned %s, expected -EINVAL: a refused "
			    "argument is -EINVAL before anything else is looked at (ulink.h: the "
			    "-EINVAL checks come first; TODO 4)", grade_errno_str(ret));
		ret = run_deadline(&u, p[0], NULL, sizeof(buf), 100);
		grade_check(ret == -EINVAL, "ulink_read_timeout with buf NULL and len %zu while a "
			    "read of ulink_start_read is in flight returned %s, expected -EINVAL: a "
			    "refused argument is -EINVAL before anything else is looked at (ulink.h: "
			    "the -EINVAL checks come first; TODO 4)", sizeof(buf), grade_errno_str(ret));
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == 1, "ulink_cancel_all with one read in flight returned %s, "
			    "expected 1 (TODO 7)", grade_errno_str(n));
		close_pipe(q);
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

/* ----------------------------------------------------------------- cancel */

#define NPIPES 6

/* A wait that nothing can end (no CQE in the CQ, no SQE queued, nothing in
 * the kernel, no time limit) would sleep for ever: fail at once, with why.
 * A wait with a time limit ends by itself: it is let through. */
static const char *hopeless_why;
static bool timed_wait;

static void no_hopeless_wait(struct io_uring *ring, unsigned nr)
{
	(void)nr;
	if (!ring || timed_wait || io_uring_cq_ready(ring) || io_uring_sq_ready(ring) ||
	    watch_in_kernel(ring))
		return;
	seam_disarm();
	grade_fail("%s", hopeless_why);
}

static int timed_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
			   struct __kernel_timespec *ts, sigset_t *sig)
{
	int ret;

	timed_wait = ts != NULL;
	ret = watch_io_uring_wait_cqes(ring, cqe, nr, ts, sig);
	timed_wait = false;
	return ret;
}

static int timed_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
				  struct __kernel_timespec *ts)
{
	int ret;

	timed_wait = ts != NULL;
	ret = watch_io_uring_wait_cqe_timeout(ring, cqe, ts);
	timed_wait = false;
	return ret;
}

static int timed_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
					 unsigned nr, struct __kernel_timespec *ts, sigset_t *sig)
{
	int ret;

	timed_wait = ts != NULL;
	ret = watch_io_uring_submit_and_wait_timeout(ring, cqe, nr, ts, sig);
	timed_wait = false;
	return ret;
}

/* Fail a wait that can never end, from now on (on) or no longer (off). */
static void watch_hopeless_waits(bool on, const char *why)
{
	hopeless_why = why;
	watch.before_wait = on ? no_hopeless_wait : NULL;
	seam_hook_io_uring_wait_cqes = on ? timed_wait_cqes : watch_io_uring_wait_cqes;
	seam_hook_io_uring_wait_cqe_timeout = on ? timed_wait_cqe_timeout
						 : watch_io_uring_wait_cqe_timeout;
	seam_hook_io_uring_submit_and_wait_timeout = on ? timed_submit_and_wait_timeout
							: watch_io_uring_submit_and_wait_timeout;
}

/* The user_data of the module's own SQEs (anything but a read) in one call. */
static struct {
	__u64 ud[NPIPES];
	unsigned n;
} own;

static void own_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (watch_is_read(sqe) || own.n == NPIPES)
		return;
	for (unsigned i = 0; i < own.n; i++)
		if (own.ud[i] == sqe->user_data)
			return;
	own.ud[own.n++] = sqe->user_data;
}

URING_TEST(cancel, pipes_never_answer, 3,
	   "ulink_cancel_all: six reads on silent pipes end -ECANCELED, each tag once, whatever the tags; afterwards the pipes and buffers are the caller's; two rings keep their own",
	   "TODO 7: a cancel request has a CQE of its own, often the first to come: reap until "
	   "EVERY read has its CQE too; the cancel's user_data must never look like a read's, "
	   "whatever the tags (TODO 3; lesson, sections 6 and 8; pitfalls 8, 9)", 16)
{
	static const __u64 tags[NPIPES] = { 0, 1, 42, 0x8000000000000000ull, UINT64_MAX - 1,
					    UINT64_MAX };
	unsigned char bufs[NPIPES][128];
	struct ulink_done done[NPIPES + 4];
	int pipes[NPIPES][2], n, seen[NPIPES] = { 0 };
	struct ulink u;

	init_or_fail(&u, 16);
	memset(bufs, 0xa5, sizeof(bufs));
	for (int i = 0; i < NPIPES; i++) {
		empty_pipe(pipes[i]);
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], sizeof(bufs[i]), -1, tags[i]));
		grade_check(n == 0, "ulink_start_read #%d returned %s, expected 0 (TODO 6)", i,
			    grade_errno_str(n));
	}
	grade_check(u.inflight == NPIPES, "after %d ulink_start_read calls u.inflight is %u "
		    "(TODO 6)", NPIPES, u.inflight);
	grade_check(io_uring_sq_ready(&u.ring) == 0, "ulink_start_read left its read queued in "
		    "the SQ: it must be submitted before the call returns (TODO 6)");
	memset(done, 0x5a, sizeof(done));
	memset(&own, 0, sizeof(own));
	watch.on_sqe = own_sqe;
	n = SEAM_CALL(ulink_cancel_all(&u, done, NPIPES + 4));
	watch.on_sqe = NULL;
	grade_check(n == NPIPES, "ulink_cancel_all with %d reads in flight returned %s, "
		    "expected %d", NPIPES, grade_errno_str(n), NPIPES);
	grade_check(u.inflight == 0, "after ulink_cancel_all u.inflight is %u, expected 0",
		    u.inflight);
	for (int k = 0; k < n; k++) {
		int i = 0;

		while (i < NPIPES && tags[i] != done[k].tag)
			i++;
		grade_check(i < NPIPES, "ulink_cancel_all reported tag %#llx, which no read had "
			    "(your own cancel request's user_data?)", (unsigned long long)done[k].tag);
		grade_check(!seen[i]++, "ulink_cancel_all reported tag %#llx twice",
			    (unsigned long long)tags[i]);
		grade_check(done[k].res == -ECANCELED, "the read tagged %#llx on a silent pipe "
			    "ended with %s, expected -ECANCELED", (unsigned long long)tags[i],
			    grade_errno_str(done[k].res));
	}
	grade_check(done[NPIPES].tag == 0x5a5a5a5a5a5a5a5aull, "ulink_cancel_all wrote "
		    "done[%d], past the %d reads that ended", NPIPES, NPIPES);
	check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	for (int i = 0; i < NPIPES; i++)
		check_pipe_let_go(pipes[i], bufs[i], sizeof(bufs[i]), 0xa5,
				  "after ulink_cancel_all returned", "TODO 7");

	/* Again, with tags equal to the user_data the module's own cancel
	 * request(s) carried in that first call: whatever value a module picks
	 * for its own requests, a caller may pick it as a tag. */
	{
		__u64 tags2[NPIPES];
		char list[NPIPES * 24] = "";
		unsigned k = 0;

		for (unsigned i = 0; i < own.n; i++) {
			tags2[k++] = own.ud[i];
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%#llx",
				 i ? ", " : "", (unsigned long long)own.ud[i]);
		}
		for (unsigned i = 0; k < NPIPES && i < NPIPES; i++) {
			bool dup = false;

			for (unsigned j = 0; j < own.n; j++)
				dup |= own.ud[j] == tags[i];
			if (!dup)
				tags2[k++] = tags[i];
		}
		memset(bufs, 0xa5, sizeof(bufs));
		memset(seen, 0, sizeof(seen));
		for (unsigned i = 0; i < k; i++) {
			n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], sizeof(bufs[i]), -1,
						       tags2[i]));
			grade_check(n == 0, "ulink_start_read #%u (second round) returned %s, "
				    "expected 0 (TODO 6)", i, grade_errno_str(n));
		}
		watch_hopeless_waits(true, "in a second round, with the tags set to the "
				     "user_data your own cancel request carried in the first "
				     "one, ulink_cancel_all waited for a CQE with nothing left "
				     "in the kernel and no CQE in the CQ: it would sleep for "
				     "ever. A read's CQE was taken for your cancel's (or the "
				     "other way round): a caller's tag can be any 64-bit value, "
				     "so a read's user_data must not be its tag where your own "
				     "requests' user_data could equal it (TODO 3; lesson, "
				     "section 6, \"Cancelling what you do not know\"; "
				     "pitfall 8)");
		memset(done, 0x5a, sizeof(done));
		n = SEAM_CALL(ulink_cancel_all(&u, done, NPIPES + 4));
		watch_hopeless_waits(false, NULL);
		grade_check(n == (int)k, "with the tags %s (the user_data of your own cancel "
			    "request in the first round) and others, ulink_cancel_all with %u reads "
			    "in flight returned %s, expected %u: a read's CQE was taken for your "
			    "cancel's, or the other way round (TODO 3; pitfall 8)", list, k,
			    grade_errno_str(n), k);
		for (int j = 0; j < n; j++) {
			unsigned i = 0;

			while (i < k && tags2[i] != done[j].tag)
				i++;
			grade_check(i < k, "with the tags %s (the user_data of your own cancel "
				    "request in the first round) and others, ulink_cancel_all reported "
				    "tag %#llx, which no read had (TODO 3; pitfall 8)", list,
				    (unsigned long long)done[j].tag);
			grade_check(!seen[i]++ && done[j].res == -ECANCELED, "with the tags %s (the "
				    "user_data of your own cancel request in the first round), "
				    "ulink_cancel_all reported tag %#llx twice or with %s, expected "
				    "once with -ECANCELED (TODO 3; pitfall 8)", list,
				    (unsigned long long)tags2[i], grade_errno_str(done[j].res));
		}
		check_ring_clean(&u, "after the second ulink_cancel_all returned", "TODO 7");
		for (unsigned i = 0; i < k; i++)
			check_pipe_let_go(pipes[i], bufs[i], sizeof(bufs[i]), 0xa5,
					  "after the second ulink_cancel_all returned", "TODO 7");
	}

	/* Two rings at once, three reads each: each ring reports its own tags.
	 * What a module keeps per read belongs to its ring (struct ulink), not
	 * to a table shared by every ring of the process. */
	{
		struct ulink v;
		struct ulink_done dv[NPIPES];

		init_or_fail(&v, 16);
		for (int i = 0; i < NPIPES; i++) {
			n = SEAM_CALL(ulink_start_read(i < NPIPES / 2 ? &u : &v, pipes[i][0], bufs[i],
						       sizeof(bufs[i]), -1, 1000 + i));
			grade_check(n == 0, "ulink_start_read #%d (two rings) returned %s, expected 0 "
				    "(TODO 6)", i, grade_errno_str(n));
		}
		for (int r = 0; r < 2; r++) {
			memset(dv, 0x5a, sizeof(dv));
			n = SEAM_CALL(ulink_cancel_all(r == 0 ? &u : &v, dv, NPIPES));
			grade_check(n == NPIPES / 2, "two rings with %d reads each: ulink_cancel_all "
				    "on ring %d returned %s, expected %d", NPIPES / 2, r + 1,
				    grade_errno_str(n), NPIPES / 2);
			for (int j = 0; j < n; j++)
				grade_check(dv[j].tag >= 1000 + (__u64)(r * NPIPES / 2) &&
					    dv[j].tag < 1000 + (__u64)((r + 1) * NPIPES / 2) &&
					    dv[j].res == -ECANCELED, "two rings at once: ring %d started "
					    "the reads tagged %d to %d, and ulink_cancel_all on it reported "
					    "tag %llu with %s: the other ring's calls overwrote what this "
					    "one keeps about its reads. Keep it per ring (a record per read, "
					    "named by its user_data), never in a table shared by every "
					    "ring (TODO 3)", r + 1, 1000 + r * NPIPES / 2,
					    1000 + (r + 1) * NPIPES / 2 - 1,
					    (unsigned long long)dv[j].tag, grade_errno_str(dv[j].res));
		}
		check_ring_clean(&v, "after ulink_cancel_all on a second ring returned", "TODO 7");
		SEAM_CALL_VOID(ulink_exit(&v));
	}

	/* Two reads on one silent pipe: both are cancelled. (A cancel by fd
	 * without IORING_ASYNC_CANCEL_ALL takes the first of them only; so that
	 * the call cannot wait for ever, 4 bytes go into the pipe if it sleeps
	 * in io_uring_enter: a read left armed takes them.) */
	{
		struct fault_step steps[] = {
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE, .fd = pipes[0][1], .data = "late", .len = 4 },
			{ .op = FAULT_END },
		};
		struct fault_report rep;
		struct fault *f;

		memset(bufs, 0xa5, sizeof(bufs));
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < 2; i++) {
			n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], bufs[i], sizeof(bufs[i]), -1,
						       500 + i));
			grade_check(n == 0, "ulink_start_read #%d on a pipe that already has a read "
				    "in flight returned %s, expected 0 (TODO 6)", i, grade_errno_str(n));
		}
		memset(done, 0x5a, sizeof(done));
		f = fault_start(steps);
		n = SEAM_CALL(ulink_cancel_all(&u, done, NPIPES + 4));
		rep = fault_join(f);
		free(rep.sink);
		{  /* the 4 bytes, if no read took them (the script writes them by its end) */
			char late[8];
			int fl = fcntl(pipes[0][0], F_GETFL);

			fcntl(pipes[0][0], F_SETFL, fl | O_NONBLOCK);
			(void)!SEAM_REAL(read)(pipes[0][0], late, sizeof(late));
			fcntl(pipes[0][0], F_SETFL, fl);
		}
		grade_check(n == 2, "ulink_cancel_all with two reads in flight on one silent pipe "
			    "returned %s, expected 2", grade_errno_str(n));
		for (int k = 0; k < n; k++) {
			int i = (int)(done[k].tag - 500);

			grade_check(done[k].tag >= 500 && done[k].tag < 502 && !seen[i]++,
				    "ulink_cancel_all with two reads on one pipe (tags 500, 501) "
				    "reported tag %#llx (twice, or a tag no read had)",
				    (unsigned long long)done[k].tag);
			grade_check(done[k].res == -ECANCELED, "two reads waited on one silent pipe; "
				    "ulink_cancel_all reported the one tagged %llu with %s, expected "
				    "-ECANCELED: the cancel did not catch it, and it was still armed when "
				    "the harness wrote into the pipe while the call waited. Cancel every "
				    "read: by its own user_data, or all at once (IORING_ASYNC_CANCEL_ANY "
				    "with _ALL); by fd, only with IORING_ASYNC_CANCEL_ALL, since several "
				    "reads may share one fd (TODO 7; lesson, section 6)",
				    (unsigned long long)done[k].tag, grade_errno_str(done[k].res));
		}
		check_ring_clean(&u, "after ulink_cancel_all of two reads on one pipe returned",
				 "TODO 7");
		check_pipe_let_go(pipes[0], bufs[0], 2 * sizeof(bufs[0]), 0xa5, "after "
				  "ulink_cancel_all of two reads on one pipe returned", "TODO 7");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	for (int i = 0; i < NPIPES; i++)
		close_pipe(pipes[i]);
}

URING_TEST(cancel, completed_keep_results, 2,
	   "ulink_cancel_all: reads that completed before the cancel report their bytes (offsets past 4 GiB too), their -errno or 0 at end of file; the silent ones -ECANCELED",
	   "TODO 7: a read that completed keeps its result (its cancel finds nothing: -ENOENT, "
	   "which is not the read's result); report every read once with what its own CQE said "
	   "(lesson, section 6; pitfalls 10, 11)", 16)
{
	const size_t size = 9000;
	unsigned char *data, fbufs[3][1000], pbufs[3][64];
	struct ulink_done done[6];
	int fd = data_file("f", size, &data), pipes[3][2], n, k;
	struct seam_heap heap;
	struct ulink u;

	init_or_fail(&u, 16);
	seam_heap_usage(&heap);
	for (int i = 0; i < 3; i++) {
		n = SEAM_CALL(ulink_start_read(&u, fd, fbufs[i], 1000, 1000 * i + 17, 100 + i));
		grade_check(n == 0, "ulink_start_read on a file returned %s", grade_errno_str(n));
		empty_pipe(pipes[i]);
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], pbufs[i], 64, -1, 200 + i));
		grade_check(n == 0, "ulink_start_read on a pipe returned %s", grade_errno_str(n));
	}
	n = SEAM_CALL(ulink_cancel_all(&u, done, 6));
	grade_check(n == 6, "ulink_cancel_all with 6 reads in flight (3 of them already "
		    "complete) returned %s, expected 6", grade_errno_str(n));
	for (k = 0; k < 6; k++) {
		__u64 t = done[k].tag;

		if (t >= 100 && t < 103) {
			int i = (int)(t - 100);

			grade_check(done[k].res == 1000 && !memcmp(fbufs[i], data + 1000 * i + 17, 1000),
				    "the file read tagged %llu completed before the cancel; it was "
				    "reported with %s (or other bytes), expected 1000",
				    (unsigned long long)t, grade_errno_str(done[k].res));
		} else {
			grade_check(t >= 200 && t < 203 && done[k].res == -ECANCELED, "reported tag "
				    "%llu with %s; expected the pipe reads 200-202 with -ECANCELED",
				    (unsigned long long)t, grade_errno_str(done[k].res));
		}
	}
	check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	/* Every read ended and was reported: what was kept for each of them
	 * (a record of its tag, say) is freed, the completed ones' too. */
	grade_check_heap(&heap, "six ulink_start_read calls and ulink_cancel_all (3 of the reads "
			 "had completed before the cancel, 3 were cancelled): a read reported in "
			 "done[] is over, whatever its result: free what you kept for it when you "
			 "reap its CQE (TODOs 6, 7)");

	/* Off -1 reads at the file position (moved to 5000 here); len 2^32 on
	 * a pipe holding 5 bytes reads the 5; an offset past 4 GiB reads there.
	 * All complete before the cancel. */
	{
		const off_t far_off = ((off_t)1 << 32) + 12305;
		unsigned char *big = big_buffer();
		int sparse;

		grade_check(lseek(fd, 5000, SEEK_SET) == 5000, "harness: lseek");
		memset(fbufs[0], 0, sizeof(fbufs[0]));
		n = SEAM_CALL(ulink_start_read(&u, fd, fbufs[0], 1000, -1, 300));
		grade_check(n == 0, "ulink_start_read on a file with off -1 returned %s",
			    grade_errno_str(n));
		grade_check(SEAM_REAL(write)(pipes[0][1], "hello", 5) == 5, "harness: write");
		n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], big, BIG_LEN, -1, 301));
		grade_check(n == 0, "ulink_start_read with len 2^32 returned %s", grade_errno_str(n));
		/* An offset past 4 GiB: a sparse file with 1000 bytes there. */
		sparse = grade_open(grade_path("sparse"), O_RDWR | O_CREAT | O_TRUNC);
		grade_check(SEAM_REAL(pwrite)(sparse, data + 3000, 1000, far_off) == 1000,
			    "harness: pwrite at 4 GiB + 12305: %s", strerror(errno));
		memset(fbufs[1], 0, sizeof(fbufs[1]));
		n = SEAM_CALL(ulink_start_read(&u, sparse, fbufs[1], 1000, far_off, 302));
		grade_check(n == 0, "ulink_start_read at offset 4 GiB + 12305 returned %s",
			    grade_errno_str(n));
		n = SEAM_CALL(ulink_cancel_all(&u, done, 6));
		grade_check(n == 3, "ulink_cancel_all with 3 reads in flight (all complete) "
			    "returned %s, expected 3", grade_errno_str(n));
		for (k = 0; k < 3; k++) {
			if (done[k].tag == 302)
				grade_check(done[k].res == 1000 && !memcmp(fbufs[1], data + 3000, 1000),
					    "a read of 1000 bytes at offset 4 GiB + 12305 (%lld) was "
					    "reported with %s%s, expected the 1000 bytes written there: an "
					    "offset past 4 GiB does not fit 32 bits; keep it in off_t and "
					    "pass it to io_uring_prep_read as it is (TODO 6)",
					    (long long)far_off, grade_errno_str(done[k].res),
					    done[k].res == 1000 ? " and other bytes (those at offset "
					    "12305, the offset cut to 32 bits?)" : "");
			else if (done[k].tag == 300)
				grade_check(done[k].res == 1000 && !memcmp(fbufs[0], data + 5000, 1000),
					    "a read of 1000 bytes started with off -1 on a file whose "
					    "position was 5000 was reported with %s%s, expected 1000 "
					    "bytes from offset 5000: off -1 means the file position "
					    "(man 3 io_uring_prep_read), pass it on as it is (TODO 6)",
					    grade_errno_str(done[k].res), done[k].res == 1000
					    ? " and other bytes (those at offset 0?)" : "");
			else
				grade_check(done[k].tag == 301 && done[k].res == 5 &&
					    !memcmp(big, "hello", 5), "a read with len 2^32 (4 GiB) on "
					    "a pipe holding 5 bytes was reported (tag %llu) with %s, "
					    "expected tag 301 and 5: an SQE's length is 32 bits "
					    "(io_uring_prep_read takes an unsigned), so 2^32 became 0; "
					    "ask for at most what fits (TODO 6)",
					    (unsigned long long)done[k].tag, grade_errno_str(done[k].res));
		}
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
		close(sparse);
		big_free(big);
	}

	/* Reads that ended before the cancel with no bytes: one failed (a
	 * descriptor that is not open: -EBADF, at once), one found end of file
	 * (its pipe's writer had closed: 0). Each keeps its own result; only
	 * the silent one was cancelled. */
	{
		int eof[2];
		unsigned char dbuf[64], ebuf[64];

		empty_pipe(eof);
		close(eof[1]);
		n = SEAM_CALL(ulink_start_read(&u, 1000000, dbuf, sizeof(dbuf), 0, 400));
		grade_check(n == 0, "ulink_start_read on fd 1000000 (not open) returned %s, expected "
			    "0: the read is submitted, and its CQE (-EBADF) is its result, reported "
			    "by ulink_cancel_all (TODO 6)", grade_errno_str(n));
		n = SEAM_CALL(ulink_start_read(&u, eof[0], ebuf, sizeof(ebuf), -1, 401));
		grade_check(n == 0, "ulink_start_read on a pipe at end of file returned %s",
			    grade_errno_str(n));
		n = SEAM_CALL(ulink_start_read(&u, pipes[1][0], pbufs[1], 64, -1, 402));
		grade_check(n == 0, "ulink_start_read on a silent pipe returned %s",
			    grade_errno_str(n));
		memset(done, 0x5a, sizeof(done));
		n = SEAM_CALL(ulink_cancel_all(&u, done, 6));
		grade_check(n == 3, "ulink_cancel_all with 3 reads in flight (a failed one, one at "
			    "end of file, a silent one) returned %s, expected 3", grade_errno_str(n));
		for (k = 0; k < 3; k++) {
			static const int want[] = { -EBADF, 0, -ECANCELED };
			static const char *const what[] = {
				"a read of fd 1000000, not open (its CQE: -EBADF)",
				"a read of a pipe whose writer had closed (its CQE: 0, end of file)",
				"a read of a silent pipe, caught by the cancel",
			};
			unsigned i = (unsigned)(done[k].tag - 400);

			grade_check(done[k].tag >= 400 && done[k].tag < 403, "ulink_cancel_all "
				    "reported tag %llu, expected the tags 400-402",
				    (unsigned long long)done[k].tag);
			grade_check(done[k].res == want[i], "%s was reported with %s, expected %s: "
				    "each read keeps what its own CQE said, its -errno or 0 too; only "
				    "a read the cancel caught says -ECANCELED (ulink.h, struct "
				    "ulink_done; TODO 7; lesson, pitfall 11)", what[i],
				    grade_errno_str(done[k].res), grade_errno_str(want[i]));
		}
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
		grade_check_heap(&heap, "ulink_start_read and ulink_cancel_all with reads that "
				 "ended before the cancel (bytes, -EBADF, 0 at end of file): a read "
				 "reported in done[] is over, whatever its result: free what you kept "
				 "for it when you reap its CQE (TODOs 6, 7)");
		close(eof[0]);
	}

	/* Only -1 means "the file position": any other negative offset is
	 * passed on as it is, and the kernel answers -EINVAL (or the module
	 * refuses it at once with -EINVAL, the read not started). */
	{
		memset(fbufs[2], 0x77, sizeof(fbufs[2]));
		n = SEAM_CALL(ulink_start_read(&u, fd, fbufs[2], 1000, -2, 500));
		grade_check(n == 0 || n == -EINVAL, "ulink_start_read on a file at offset -2 "
			    "returned %s, expected 0 (the read's CQE then says -EINVAL) or -EINVAL",
			    grade_errno_str(n));
		k = SEAM_CALL(ulink_cancel_all(&u, done, 6));
		grade_check(k == (n == 0 ? 1 : 0), "ulink_cancel_all after a read at offset -2 "
			    "returned %s", grade_errno_str(k));
		if (n == 0 && k == 1)
			grade_check(done[0].tag == 500 && done[0].res == -EINVAL, "a read started "
				    "at offset -2 was reported with %s, expected -EINVAL (the kernel's "
				    "answer to a negative offset): only off -1 means the file position "
				    "(man 3 io_uring_prep_read); every other offset is passed on as it "
				    "is, not turned into -1 (TODO 6)", grade_errno_str(done[0].res));
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	}

	/* Offset 0 is the file's first byte, not "the file position" (only -1
	 * is): with the position moved to 5000, a read at offset 0 reads the
	 * first bytes and leaves the position where it was. */
	{
		off_t pos;

		grade_check(lseek(fd, 5000, SEEK_SET) == 5000, "harness: lseek");
		memset(fbufs[2], 0, sizeof(fbufs[2]));
		n = SEAM_CALL(ulink_start_read(&u, fd, fbufs[2], 1000, 0, 600));
		grade_check(n == 0, "ulink_start_read on a file at offset 0 returned %s, expected 0 "
			    "(TODO 6)", grade_errno_str(n));
		memset(done, 0x5a, sizeof(done));
		k = SEAM_CALL(ulink_cancel_all(&u, done, 6));
		pos = lseek(fd, 0, SEEK_CUR);
		grade_check(k == 1 && done[0].tag == 600 && done[0].res == 1000 &&
			    !memcmp(fbufs[2], data, 1000) && pos == 5000, "a read of 1000 bytes at "
			    "offset 0 of a file whose position was 5000 was reported with %s%s, and "
			    "the position is now %lld; expected 1000 bytes from offset 0 and the "
			    "position still 5000: only off -1 means the file position (man 3 "
			    "io_uring_prep_read); 0 is an offset like any other, pass it on as it is "
			    "(TODO 6)", k == 1 ? grade_errno_str(done[0].res) : grade_errno_str(k),
			    k == 1 && done[0].res == 1000 && memcmp(fbufs[2], data, 1000) ?
			    " and other bytes (those at the file position, 5000?)" : "",
			    (long long)pos);
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	for (int i = 0; i < 3; i++)
		close_pipe(pipes[i]);
	close(fd);
	free(data);
}

URING_TEST(cancel, limits_and_arguments, 2,
	   "ulink_start_read/ulink_cancel_all: -EBUSY past sq_entries reads, -EINVAL cases, fd -1 (refused or reported, nothing kept), done smaller than the reads (the first to end), nothing in flight",
	   "TODOs 6 and 7: at most u->sq_entries reads in flight (the CQ keeps room for the "
	   "cancels); done may be NULL (max 0) or shorter than the reads: all are still "
	   "reaped, only max are written", 4)
{
	unsigned char bufs[8][32], one[4];
	struct ulink_done done[3];
	int pipes[8][2], n;
	struct ulink u, dead;
	struct seam_heap heap;
	unsigned cap;

	init_or_fail(&u, 4);
	cap = u.sq_entries;
	grade_check(cap <= 8, "harness: a ring of 4 has %u SQ entries", cap);
	for (unsigned i = 0; i < cap; i++) {
		empty_pipe(pipes[i]);
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
		grade_check(n == 0, "ulink_start_read #%u of %u returned %s", i, cap,
			    grade_errno_str(n));
	}
	seam_heap_usage(&heap);
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], one, sizeof(one), -1, 99));
	grade_check(n == -EBUSY && u.inflight == cap, "ulink_start_read with %u reads in flight "
		    "on a ring of %u returned %s (inflight %u), expected -EBUSY", cap, cap,
		    grade_errno_str(n), u.inflight);
	/* The limit is per ring: with this one full, a second ring of 2 still
	 * takes its own 2 reads (and refuses a third). */
	{
		struct ulink w;
		unsigned char wbuf[3][8];
		int m;

		init_or_fail(&w, 2);
		for (unsigned i = 0; i < w.sq_entries; i++) {
			m = SEAM_CALL(ulink_start_read(&w, pipes[i][0], wbuf[i], 8, -1, 50 + i));
			grade_check(m == 0, "with a ring of %u full (%u reads in flight), "
				    "ulink_start_read #%u on a second ring of %u returned %s, "
				    "expected 0: the limit is each ring's own sq_entries, counted in "
				    "its struct ulink (u->inflight), not in a static shared by every "
				    "ring (ulink.h: no state outside struct ulink; TODO 6)", cap, cap,
				    i + 1, w.sq_entries, grade_errno_str(m));
		}
		m = SEAM_CALL(ulink_start_read(&w, pipes[0][0], wbuf[2], 8, -1, 59));
		grade_check(m == -EBUSY, "ulink_start_read with %u reads in flight on a second "
			    "ring of %u returned %s, expected -EBUSY (TODO 6)", w.sq_entries,
			    w.sq_entries, grade_errno_str(m));
		m = SEAM_CALL(ulink_cancel_all(&w, NULL, 0));
		grade_check(m == (int)w.sq_entries, "ulink_cancel_all on the second ring returned "
			    "%s, expected %u", grade_errno_str(m), w.sq_entries);
		SEAM_CALL_VOID(ulink_exit(&w));
	}
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], NULL, sizeof(one), -1, 98));
	grade_check(n == -EINVAL && u.inflight == cap, "ulink_start_read with buf NULL and %u "
		    "reads in flight on a ring of %u returned %s (inflight %u), expected -EINVAL: "
		    "a refused argument is -EINVAL before -EBUSY (ulink.h: the -EINVAL checks "
		    "come first; TODO 6)", cap, cap, grade_errno_str(n), u.inflight);
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], one, 0, -1, 97));
	grade_check(n == -EINVAL && u.inflight == cap, "ulink_start_read with len 0 and %u "
		    "reads in flight on a ring of %u returned %s (inflight %u), expected -EINVAL: "
		    "a refused argument is -EINVAL before -EBUSY (ulink.h: the -EINVAL checks "
		    "come first; TODO 6)", cap, cap, grade_errno_str(n), u.inflight);
	grade_check_heap(&heap, "a ulink_start_read refused with -EBUSY (TODO 6: refuse before "
			 "you allocate, or free what you allocated on every error path; pitfall 21)");
	n = SEAM_CALL(ulink_cancel_all(&u, NULL, 3));
	grade_check(n == -EINVAL && u.inflight == cap, "ulink_cancel_all(u, NULL, 3) returned %s "
		    "(inflight %u), expected -EINVAL and nothing cancelled", grade_errno_str(n),
		    u.inflight);
	memset(done, 0x5a, sizeof(done));
	n = SEAM_CALL(ulink_cancel_all(&u, done, 2));
	grade_check(n == (int)cap && u.inflight == 0, "ulink_cancel_all(u, done, 2) with %u reads "
		    "in flight returned %s (inflight %u), expected %u: every read is reaped, "
		    "only the first 2 reported", cap, grade_errno_str(n), u.inflight, cap);
	grade_check(done[2].tag == 0x5a5a5a5a5a5a5a5aull, "ulink_cancel_all(u, done, 2) wrote "
		    "done[2]: max is the size of the caller's array");
	for (int k = 0; k < 2; k++)
		grade_check(done[k].tag < cap && done[k].res == -ECANCELED &&
			    (k == 0 || done[1].tag != done[0].tag), "ulink_cancel_all(u, done, 2) "
			    "with %u reads in flight on silent pipes (tags 0 to %u) left done[%d] as "
			    "tag %#llx, res %s; expected two different tags of those reads, each with "
			    "-ECANCELED: with max smaller than the reads, the first max of them are "
			    "still reported, only the rest are not (ulink.h, ulink_cancel_all; TODO 7)",
			    cap, cap - 1, k, (unsigned long long)done[k].tag,
			    grade_errno_str(done[k].res));
	check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");

	/* done given with max 0: an array of no entries. Every read is still
	 * reaped and counted; nothing is written into done[]. */
	for (unsigned i = 0; i < 2; i++) {
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, 20 + i));
		grade_check(n == 0, "ulink_start_read #%u returned %s", i, grade_errno_str(n));
	}
	memset(done, 0x5a, sizeof(done));
	n = SEAM_CALL(ulink_cancel_all(&u, done, 0));
	grade_check(n == 2 && u.inflight == 0, "ulink_cancel_all(u, done, 0) with 2 reads in "
		    "flight returned %s (inflight %u), expected 2: max 0 reports none of them, "
		    "but every read is still reaped and counted (TODO 7)", grade_errno_str(n),
		    u.inflight);
	for (int k = 0; k < 3; k++)
		grade_check(done[k].tag == 0x5a5a5a5a5a5a5a5aull && done[k].res == 0x5a5a5a5a,
			    "ulink_cancel_all(u, done, 0) wrote done[%d] (tag %#llx, res %s): max is "
			    "the number of entries the caller's array has, and 0 means none, not "
			    "\"no limit\" (ulink.h: \"the first max of them are written to "
			    "done[0..max)\"; TODO 7)", k, (unsigned long long)done[k].tag,
			    grade_errno_str(done[k].res));
	check_ring_clean(&u, "after ulink_cancel_all(u, done, 0) returned", "TODO 7");

	/* fd -1: refused at once with -EBADF (nothing started, nothing kept),
	 * or started, its CQE -EBADF reported by ulink_cancel_all. Either way
	 * nothing stays allocated (ulink.h: either is right). */
	seam_heap_usage(&heap);
	n = SEAM_CALL(ulink_start_read(&u, -1, one, sizeof(one), -1, 42));
	if (n == 0) {
		struct ulink_done d[1];
		int m = SEAM_CALL(ulink_cancel_all(&u, d, 1));

		grade_check(m == 1 && d[0].tag == 42 && d[0].res == -EBADF, "ulink_start_read on "
			    "fd -1 returned 0; ulink_cancel_all then returned %s with done[0] tag "
			    "%llu, res %s, expected 1 read, tag 42, -EBADF (its CQE is its result; "
			    "TODO 7)", grade_errno_str(m), (unsigned long long)d[0].tag,
			    grade_errno_str(d[0].res));
	} else {
		grade_check(n == -EBADF && u.inflight == 0, "ulink_start_read on fd -1 returned %s "
			    "with u.inflight %u, expected 0 (the read's CQE says -EBADF) or -EBADF "
			    "with nothing started (ulink.h, ulink_start_read)", grade_errno_str(n),
			    u.inflight);
	}
	check_ring_clean(&u, "after a read of fd -1", "TODO 6");
	grade_check_heap(&heap, "a ulink_start_read on fd -1 (refused with -EBADF, or started "
			 "and reaped by ulink_cancel_all): what you allocate for a read is freed "
			 "on every path, the refusals too; TODO 6, pitfall 21");

	/* The first max: two reads complete before the cancel (their pipes
	 * hold data: their CQEs are in the CQ before ulink_cancel_all runs),
	 * two wait. With max 2, the two that ended first are the ones that
	 * completed; the two the cancel caught end after them. */
	for (unsigned i = 0; i < 4 && i < cap; i++) {
		if (i < 2)
			grade_check(SEAM_REAL(write)(pipes[i][1], "ab", 2) == 2, "harness: write");
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, 10 + i));
		grade_check(n == 0, "ulink_start_read #%u returned %s", i, grade_errno_str(n));
	}
	if (cap >= 4 && io_uring_cq_ready(&u.ring) == 2) {
		memset(done, 0x5a, sizeof(done));
		n = SEAM_CALL(ulink_cancel_all(&u, done, 2));
		grade_check(n == 4, "ulink_cancel_all(u, done, 2) with 4 reads in flight (2 of "
			    "them complete) returned %s, expected 4", grade_errno_str(n));
		for (int k = 0; k < 2; k++)
			grade_check((done[k].tag == 10 || done[k].tag == 11) && done[k].res == 2 &&
				    done[0].tag != done[1].tag, "two reads (tags 10 and 11) had "
				    "completed with 2 bytes before ulink_cancel_all(u, done, 2) was "
				    "called, and two more (12, 13) were caught by the cancel; done[%d] "
				    "holds tag %#llx with %s, expected the reads that ended first: 10 and "
				    "11, with 2 bytes each. done[0..max) are the first max reads to end, "
				    "in the order their CQEs came, not the last ones (ulink.h, "
				    "ulink_cancel_all; TODO 7)", k, (unsigned long long)done[k].tag,
				    grade_errno_str(done[k].res));
		grade_check(done[2].tag == 0x5a5a5a5a5a5a5a5aull, "ulink_cancel_all(u, done, 2) "
			    "wrote done[2]: max is the size of the caller's array");
	} else {
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == (int)(cap < 4 ? cap : 4), "ulink_cancel_all returned %s",
			    grade_errno_str(n));
	}
	check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	{
		long calls = watch.calls;

		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == 0, "ulink_cancel_all with nothing in flight returned %s, expected 0",
			    grade_errno_str(n));
		grade_check(watch.calls == calls, "ulink_cancel_all with nothing in flight "
			    "(u.inflight 0) made %ld liburing call(s) that enter the kernel: with no "
			    "read to cancel it returns 0 at once, no cancel request, no wait (ulink.h, "
			    "ulink_cancel_all: \"With nothing in flight it returns 0 at once\"; "
			    "TODO 7)", watch.calls - calls);
	}
	check_ring_clean(&u, "after ulink_cancel_all with nothing in flight", "TODO 7");
	n = SEAM_CALL(ulink_cancel_all(&u, NULL, 3));
	grade_check(n == -EINVAL, "ulink_cancel_all(u, NULL, 3) with nothing in flight returned "
		    "%s, expected -EINVAL: done NULL with max 3 is refused even when there is "
		    "nothing to cancel (ulink.h: the -EINVAL checks come first; TODO 7)",
		    grade_errno_str(n));

	/* Memory refused: a module that needs some for a read says -ENOMEM
	 * and starts nothing. */
	seam_heap_fail(1, 1);
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], one, sizeof(one), -1, 5));
	seam_heap_fail(0, 0);
	grade_check(n == 0 || n == -ENOMEM, "ulink_start_read whose allocation failed returned "
		    "%s, expected -ENOMEM (or 0 if it allocates nothing)", grade_errno_str(n));
	if (n == -ENOMEM)
		/* A read queued before the allocation and taken back (a NOP
		 * that posts nothing: ulink.h) is not a read queued. */
		grade_check(u.inflight == 0 && watch_in_kernel(&u.ring) <= watch.skip_success &&
			    sq_pending_requests(&u.ring) == 0, "ulink_start_read returned -ENOMEM "
			    "but started or queued a read anyway (inflight %u)", u.inflight);
	else
		grade_check(SEAM_CALL(ulink_cancel_all(&u, NULL, 0)) == 1, "ulink_cancel_all "
			    "after one read did not return 1");
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], NULL, 10, -1, 1));
	grade_check(n == -EINVAL, "ulink_start_read with buf NULL returned %s", grade_errno_str(n));
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], one, 0, -1, 1));
	grade_check(n == -EINVAL, "ulink_start_read with len 0 returned %s", grade_errno_str(n));
	memset(&dead, 0, sizeof(dead));
	n = SEAM_CALL(ulink_start_read(&dead, pipes[0][0], one, 4, -1, 1));
	grade_check(n == -EINVAL, "ulink_start_read on a ulink never set up returned %s",
		    grade_errno_str(n));
	n = SEAM_CALL(ulink_cancel_all(&dead, NULL, 0));
	grade_check(n == -EINVAL, "ulink_cancel_all on a ulink never set up returned %s",
		    grade_errno_str(n));
	grade_check(u.inflight == 0, "refused calls changed u.inflight to %u", u.inflight);
	SEAM_CALL_VOID(ulink_exit(&u));
	for (unsigned i = 0; i < cap; i++)
		close_pipe(pipes[i]);
}

URING_TEST(cancel, interrupted_waits, 2,
	   "ulink_start_read/ulink_cancel_all: -EINTR, -EAGAIN and -EBUSY from liburing calls are retried, a submission that fails once leaves nothing behind, -EAGAIN without end is an error; every read still reaped",
	   "TODOs 6 and 7: a submit or wait that returns -EINTR or -EAGAIN took or reaped "
	   "nothing: submit or wait again until every read and every cancel has its CQE; "
	   "-EAGAIN a few times, then return it (ulink.h: never loop for ever)", 16)
{
	unsigned char bufs[4][32];
	int pipes[4][2], n;
	bool injected;
	struct seam_heap heap;
	struct ulink u;

	init_or_fail(&u, 16);
	for (int err = 0; err < 2; err++) {
		for (int i = 0; i < 4; i++) {
			if (err == 0)
				empty_pipe(pipes[i]);
			n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
			grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
		}
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_calls = 3;
		watch.inject_err = err == 0 ? -EINTR : -EAGAIN;
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		watch.inject_at = 0;
		grade_check(n == 4, "the first three liburing calls of ulink_cancel_all returned "
			    "%s; it returned %s, expected 4", err == 0 ? "-EINTR" : "-EAGAIN",
			    grade_errno_str(n));
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	}

	/* ulink_start_read: its submission says -EINTR, then -EAGAIN, then
	 * -EBUSY, three times: the kernel took nothing, so submit again; the
	 * read starts. */
	for (int err = 0; err < 3; err++) {
		static const char *const names[] = { "-EINTR", "-EAGAIN", "-EBUSY" };
		static const int errs[] = { -EINTR, -EAGAIN, -EBUSY };

		seam_heap_usage(&heap);
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_calls = 3;
		watch.inject_err = errs[err];
		n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], bufs[0], 32, -1, 77));
		watch.inject_at = 0;
		grade_check(n == 0 && u.inflight == 1, "the first three liburing calls of "
			    "ulink_start_read returned %s (the kernel took nothing); it returned %s "
			    "with u.inflight %u, expected 0 and 1: submit again (-EINTR never comes "
			    "out of a function; -EAGAIN a few times before it does: ulink.h; TODO 6)",
			    names[err], grade_errno_str(n), u.inflight);
		grade_check(io_uring_sq_ready(&u.ring) == 0, "ulink_start_read returned with its "
			    "read still queued in the SQ after a submission said %s: it must be "
			    "submitted before the call returns (TODO 6)",
			    names[err]);
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == 1, "ulink_cancel_all with one read in flight returned %s, "
			    "expected 1", grade_errno_str(n));
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
		grade_check_heap(&heap, err == 0 ? "a ulink_start_read whose first three "
				 "submissions said -EINTR, then its read cancelled (what you "
				 "allocate for a read is allocated once, not once per try; TODO 6)"
				 : "a ulink_start_read whose first three submissions said -EAGAIN "
				 "or -EBUSY, then its read cancelled (what you allocate for a read "
				 "is allocated once, not once per try; TODO 6)");
	}

	/* The cancel's submission fails once (-EBADR): either it is tried
	 * again, or the error comes back with every read still the caller's;
	 * then a second call cancels them. The reads have their byte already,
	 * so their CQEs come before any cancel's: a second cancel request
	 * queued beside the first would leave its CQE behind. */
	for (int i = 0; i < 4; i++) {
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
		grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	}
	for (int i = 0; i < 4; i++)
		grade_check(SEAM_REAL(write)(pipes[i][1], "b", 1) == 1, "harness: write");
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
	watch.inject_at = 0;
	if (n < 0) {
		grade_check(u.inflight == 4, "ulink_cancel_all returned %s after its first liburing "
			    "call failed, with u.inflight %u: if it returns an error, the 4 reads are "
			    "still in flight and still counted", grade_errno_str(n), u.inflight);
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
	}
	grade_check(n == 4, "after a liburing call of ulink_cancel_all failed once with -EBADR, "
		    "cancelling 4 reads gave %s, expected 4", grade_errno_str(n));
	check_ring_clean(&u, "after ulink_cancel_all, whose first liburing call failed once",
			 "TODO 7: an SQE queued for a submission that failed is still in the SQ; "
			 "take it back or reuse it, but do not queue a second cancel beside it");

	/* -EAGAIN for good: the cancel never reaches the kernel. An error after
	 * a few tries, not a loop; the reads stay the caller's, in flight, and
	 * a later call cancels them. */
	for (int i = 0; i < 4; i++) {
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
		grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	}
	watch_reset_counts();
	watch.limit_why = "every liburing call returned -EAGAIN and ulink_cancel_all kept calling: "
			  "retry a few times, then return the error (ulink.h: never loop for ever)";
	watch.inject_at = 1;
	watch.inject_err = -EAGAIN;
	watch.inject_forever = true;
	n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
	injected = watch.injected;
	watch_reset_counts();
	watch.limit_why = NULL;
	if (!injected) {
		/* No call the harness can fail: the cancel went another way
		 * (io_uring_register_sync_cancel) and its CQEs were in the CQ. */
		grade_check(n == 4 && u.inflight == 0, "ulink_cancel_all made no liburing call the "
			    "harness could fail with -EAGAIN (its cancel reached the kernel another "
			    "way); it returned %s with u.inflight %u, expected 4 and 0 (TODO 7)",
			    grade_errno_str(n), u.inflight);
	} else {
		grade_check(n < 0 && n != -EINTR && u.inflight == 4, "every liburing call of "
			    "ulink_cancel_all returned -EAGAIN (its cancel never reached the kernel); it "
			    "returned %s with u.inflight %u, expected an error with the 4 reads still in "
			    "flight", grade_errno_str(n), u.inflight);
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == 4, "after a ulink_cancel_all that failed with -EAGAIN for good, the "
			    "next one (the ring working again) returned %s, expected 4",
			    grade_errno_str(n));
	}
	check_ring_clean(&u, "after ulink_cancel_all, once -EAGAIN had stopped", "TODO 7");

	/* -EBADR for good (the ring broken for this call): that error, as it
	 * came, not another; the reads are still the caller's. */
	for (int i = 0; i < 4; i++) {
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
		grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	}
	watch_reset_counts();
	watch.limit_why = "every liburing call returned -EBADR and ulink_cancel_all kept calling: "
			  "an error other than -EINTR, -EAGAIN, -EBUSY is returned (ulink.h)";
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
	injected = watch.injected;
	watch_reset_counts();
	watch.limit_why = NULL;
	if (!injected) {
		grade_check(n == 4 && u.inflight == 0, "ulink_cancel_all made no liburing call the "
			    "harness could fail with -EBADR (its cancel reached the kernel another "
			    "way); it returned %s with u.inflight %u, expected 4 and 0 (TODO 7)",
			    grade_errno_str(n), u.inflight);
	} else {
		grade_check(n == -EBADR && u.inflight == 4, "every liburing call of ulink_cancel_all "
			    "returned -EBADR (its cancel never reached the kernel); it returned %s with "
			    "u.inflight %u, expected -EBADR (the submission's own -errno, as it came: "
			    "ulink.h, \"anything else: ... return the error\") with the 4 reads still "
			    "in flight (TODO 7)", grade_errno_str(n), u.inflight);
		n = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		grade_check(n == 4, "after a ulink_cancel_all that failed with -EBADR, the next one "
			    "(the ring working again) returned %s, expected 4", grade_errno_str(n));
	}
	check_ring_clean(&u, "after ulink_cancel_all, once -EBADR had stopped", "TODO 7");
	SEAM_CALL_VOID(ulink_exit(&u));
	for (int i = 0; i < 4; i++)
		close_pipe(pipes[i]);
}

URING_TEST(cancel, exit_waits, 2,
	   "ulink_exit with reads in flight: cancels and reaps them before io_uring_queue_exit; the pipes and buffers are free",
	   "TODO 2: io_uring_queue_exit does not wait for requests in flight (their buffers "
	   "would be written after you freed them): cancel and reap first, as ulink_cancel_all "
	   "does (lesson, section 8, \"io_uring_queue_exit does not wait\")", 16)
{
	unsigned char bufs[4][32];
	int pipes[4][2], n, fds;
	struct seam_heap heap;
	struct ulink u;

	fds = fault_count_fds();
	seam_heap_usage(&heap);
	init_or_fail(&u, 16);
	memset(bufs, 0xa5, sizeof(bufs));
	for (int i = 0; i < 4; i++) {
		empty_pipe(pipes[i]);
		n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, i));
		grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	grade_check(watch.exits == 1, "ulink_exit did not tear the ring down "
		    "(io_uring_queue_exit)");
	grade_check(watch.exit_in_kernel <= watch.skip_success && watch.exit_cq_ready == 0,
		    "ulink_exit called "
		    "io_uring_queue_exit with %u read(s) still in the kernel and %u CQE(s) "
		    "unreaped: cancel and reap them first (TODO 2)", watch.exit_in_kernel,
		    watch.exit_cq_ready);
	grade_check(u.live == 0 && u.inflight == 0, "after ulink_exit u.live is %d and "
		    "u.inflight %u, expected 0 and 0: every read was reaped", u.live, u.inflight);
	for (int i = 0; i < 4; i++)
		check_pipe_let_go(pipes[i], bufs[i], sizeof(bufs[i]), 0xa5, "after ulink_exit "
				  "returned", "TODO 2");
	for (int i = 0; i < 4; i++)
		close_pipe(pipes[i]);
	grade_check(fault_count_fds() == fds, "after ulink_exit %d descriptor(s) more are open",
		    fault_count_fds() - fds);
	grade_check_heap(&heap, "ulink_init, four ulink_start_read and ulink_exit");

	/* One read in flight is as many as four: it is cancelled too. */
	watch_reset_counts();
	init_or_fail(&u, 16);
	empty_pipe(pipes[0]);
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], bufs[0], 32, -1, 9));
	grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	SEAM_CALL_VOID(ulink_exit(&u));
	grade_check(watch.exits == 1 && watch.exit_in_kernel <= watch.skip_success &&
		    watch.exit_cq_ready == 0, "ulink_exit with ONE read in flight called "
		    "io_uring_queue_exit %ld time(s), with %u read(s) still in the kernel and %u "
		    "CQE(s) unreaped: any read in flight (inflight > 0, not > 1) is cancelled and "
		    "reaped first (TODO 2)", (long)watch.exits, watch.exit_in_kernel,
		    watch.exit_cq_ready);
	grade_check(u.live == 0 && u.inflight == 0, "after ulink_exit with one read in flight "
		    "u.live is %d and u.inflight %u, expected 0 and 0", u.live, u.inflight);
	check_pipe_let_go(pipes[0], bufs[0], sizeof(bufs[0]), 0xa5, "after ulink_exit with one "
			  "read in flight returned", "TODO 2");
	close_pipe(pipes[0]);
	grade_check_heap(&heap, "ulink_init, one ulink_start_read and ulink_exit");

	/* A ring that is broken (every liburing call fails) cannot cancel:
	 * ulink_exit still releases it. It returns nothing, so nobody could
	 * ever release a ring it kept; the kernel cancels what the ring still
	 * holds when it goes (io_uring_queue_exit closes its descriptor). */
	watch_reset_counts();
	init_or_fail(&u, 16);
	empty_pipe(pipes[0]);
	n = SEAM_CALL(ulink_start_read(&u, pipes[0][0], bufs[0], 32, -1, 9));
	grade_check(n == 0, "ulink_start_read returned %s", grade_errno_str(n));
	watch.inject_err = -EBADR;
	watch.inject_at = watch.calls + 1;
	watch.inject_forever = true;
	SEAM_CALL_VOID(ulink_exit(&u));
	watch.inject_forever = false;
	watch.inject_at = 0;
	grade_check(watch.exits == 1 && u.live == 0, "ulink_exit on a ring whose every liburing "
		    "call fails (-EBADR), with one read in flight, called io_uring_queue_exit %ld "
		    "time(s) and left u.live %d: expected 1 and 0. The cancel cannot be submitted, "
		    "but the ring is released all the same: ulink_exit returns nothing, so a ring "
		    "it keeps can never be released (ulink.h: ulink_exit empties *u; TODO 2)",
		    (long)watch.exits, u.live);
	close_pipe(pipes[0]);
	grade_check(fault_count_fds() == fds, "after ulink_exit on a broken ring %d "
		    "descriptor(s) more are open: the ring's own descriptor is closed by "
		    "io_uring_queue_exit (TODO 2)", fault_count_fds() - fds);
}

/* ------------------------------------------------------------------- copy */

/* Where the copy's reads and writes end, in bytes from the start: the largest
 * offset + length of each kind, and whether one went past `size`. */
static struct {
	unsigned long long size, read_end, write_end, written;
	bool beyond;
} far;

static unsigned long long sqe_bytes(const struct io_uring_sqe *sqe)
{
	unsigned long long total = 0;

	if (sqe->opcode != IORING_OP_READV && sqe->opcode != IORING_OP_WRITEV)
		return sqe->len;
	for (unsigned i = 0; sqe->addr && i < sqe->len; i++)
		total += ((const struct iovec *)(uintptr_t)sqe->addr)[i].iov_len;
	return total;
}

static void far_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	unsigned long long end;

	(void)pos;
	(void)queued;
	if (!watch_is_read(sqe) && !is_write(sqe))
		return;
	end = sqe->off + sqe_bytes(sqe);
	if (end > far.size)
		far.beyond = true;
	if (watch_is_read(sqe) && end > far.read_end)
		far.read_end = end;
	if (is_write(sqe)) {
		far.written += sqe_bytes(sqe);
		if (end > far.write_end)
			far.write_end = end;
	}
}

/* Reads from offset 64 on fail (fd -1: -EBADF, for real). */
static bool reads_from_64(const struct io_uring_sqe *sqe)
{
	return sqe->off >= 64;
}

/* A copy on a second ring, made from inside the wait of a copy on the first
 * (07.15): each copy's state lives in its call (and its struct ulink), never
 * in a static that the other copy would overwrite. */
static struct {
	struct ulink *outer, inner;
	int done, ret;
	bool same;
} nest;

static void nested_copy(struct io_uring *ring, unsigned nr)
{
	const size_t size = 3 * 4096 + 5;
	unsigned char *data, *back;
	size_t backlen;
	int in, out;

	(void)nr;
	if (nest.done || !nest.outer || ring != &nest.outer->ring)
		return;
	nest.done = 1;
	seam_disarm();
	in = data_file("nested-src", size, &data);
	out = grade_open(grade_path("nested-dst"), O_RDWR | O_CREAT | O_TRUNC);
	nest.ret = SEAM_CALL(ulink_copy(&nest.inner, in, out, (off_t)size, 4096, 2));
	back = grade_slurp(grade_path("nested-dst"), &backlen);
	nest.same = back && backlen == size && grade_first_diff(back, data, size) < 0;
	free(back);
	free(data);
	close(in);
	close(out);
	seam_arm();
}

/* The first copy's block 0 is held back (watch_slow) until it waits for it
 * alone: whatever way it waits, it waits, and the second copy is made then
 * (at its first wait). */
static void nested_then_release(struct io_uring *ring, unsigned nr)
{
	nested_copy(ring, nr);
	watch_slow_release(ring, nr);
}

URING_TEST_T(copy, files, 3,
	     "ulink_copy: sizes 0 to 3 MB, blocks of 1 byte to 1 MiB, 1 to UINT_MAX pairs, rings of 16 and 2, byte for byte; 4 GiB + 12345 bytes, offsets past 4 GiB",
	     "TODOs 8-11: every block read into its own buffer and written from it at the same "
	     "offset; the last block shorter; a pair count above what the ring holds means as "
	     "many as fit (ulink.h, ulink_copy; lesson, section 1)", 16, 20)
{
	static const struct { size_t size, block; unsigned pairs; } cases[] = {
		{ 0, 4096, 4 },         { 1, 4096, 4 },          { 4095, 4096, 1 },
		{ 4096, 4096, 2 },      { 4097, 4096, 8 },       { 100003, 4096, 8 },
		{ 150001, 4096, 6 },
		{ 65536 * 5 + 7, 65536, 3 }, { 3000017, 131072, 8 }, { 3000017, 1u << 20, 2 },
		{ 1000, 1, 5 },         { 200001, 8192, 1000 },
		/* more pairs than sq_entries / 2, fewer than sq_entries */
		{ 200001, 8192, 12 },
		/* pairs at the top of its range: pairs * 2 does not fit */
		{ 200001, 8192, 1u << 31 }, { 200001, 8192, UINT_MAX },
	};
	struct ulink u;

	init_or_fail(&u, 16);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), " (case %zu)", i);
		watch_reset_counts();
		copy_and_check(&u, cases[i].size, cases[i].block, cases[i].pairs, what);
		{
			unsigned most = cases[i].pairs < u.sq_entries / 2 ? cases[i].pairs
									  : u.sq_entries / 2;

			grade_check(watch.max_inflight <= 2 * most, "ulink_copy had %u requests in "
				    "flight with %u pairs asked for on a ring of %u SQ entries: at "
				    "most min(pairs, sq_entries / 2) pairs, 2 requests each%s (TODO 8)",
				    watch.max_inflight, cases[i].pairs, u.sq_entries,
				    cases[i].pairs >= 1u << 31 ? " (from 2^31 pairs on, pairs * 2 "
				    "wraps: compare pairs with sq_entries / 2)" : "");
		}
		/* More pairs than the ring holds means as many as fit: the first
		 * window alone (queued before the first wait) is the whole SQ. */
		if (cases[i].pairs >= u.sq_entries / 2 &&
		    cases[i].size >= (size_t)u.sq_entries / 2 * cases[i].block)
			grade_check(watch.max_inflight >= u.sq_entries, "ulink_copy of %zu blocks with "
				    "%u pairs asked for on a ring of %u SQ entries never had more than "
				    "%u requests in flight: pairs above what the ring holds means as "
				    "many as fit, sq_entries / 2 = %u pairs (%u requests), not fewer "
				    "(ulink.h, ulink_copy: \"pairs\"; TODO 8)",
				    (cases[i].size + cases[i].block - 1) / cases[i].block,
				    cases[i].pairs, u.sq_entries, watch.max_inflight, u.sq_entries / 2,
				    u.sq_entries);
		grade_check(!watch.overflow && watch.max_inflight <= u.sq_entries, "ulink_copy had "
			    "%u requests in flight%s with %u pairs asked for on a ring of %u SQ "
			    "entries: at most sq_entries / 2 pairs (sq_entries requests) at once, "
			    "or the CQ can overflow (TODO 8)", watch.max_inflight,
			    watch.overflow ? " and overflowed the CQ" : "", cases[i].pairs,
			    u.sq_entries);
	}

	/* The smallest ring the contract allows: 2 SQ entries, one pair. */
	{
		struct ulink v;

		init_or_fail(&v, 2);
		watch_reset_counts();
		copy_and_check(&v, 100003, 4096, 4, " on a ring of 2 entries (sq_entries / 2 = 1 "
			       "pair at a time: the whole SQ, nothing kept back)");
		SEAM_CALL_VOID(ulink_exit(&v));
	}

	/* Offsets past 4 GiB: 4 GiB + 12345 bytes from /dev/zero to /dev/null,
	 * which take any offset and keep nothing (0.4 s of the kernel's time).
	 * What is checked is where the SQEs say the blocks go. */
	{
		const off_t big = ((off_t)1 << 32) + 12345;
		int in = grade_open("/dev/zero", O_RDONLY), out = grade_open("/dev/null", O_WRONLY);
		int ret;

		memset(&far, 0, sizeof(far));
		far.size = (unsigned long long)big;
		watch_reset_counts();
		watch.on_sqe = far_sqe;
		ret = run_copy_fds(&u, in, out, big, ULINK_MAX_BLOCK, 8);
		watch.on_sqe = NULL;
		grade_check(ret == 0, "ulink_copy of 4 GiB + 12345 bytes (/dev/zero to /dev/null, "
			    "block 1 MiB, 8 pairs) returned %s, expected 0", grade_errno_str(ret));
		grade_check(far.read_end == far.size && far.write_end == far.size && !far.beyond &&
			    far.written >= far.size, "ulink_copy of %llu bytes (4 GiB + 12345; block "
			    "1 MiB): its reads ended at byte %llu at most and its writes at byte %llu, "
			    "%llu bytes written in all%s; expected both to reach %llu exactly: a "
			    "block's offset past 4 GiB does not fit 32 bits (an unsigned or an int). "
			    "Keep offsets and byte counts in off_t or __u64 (TODO 9)", far.size,
			    far.read_end, far.write_end, far.written,
			    far.beyond ? ", some past the end" : "", far.size);
		check_ring_clean(&u, "after ulink_copy of 4 GiB + 12345 bytes returned", "TODOs 8-11");
		close(in);
		close(out);
	}

	/* More than 2^32 blocks: 4 GiB (+ 3) in blocks of 1 byte, /dev/zero to
	 * /dev/null, 8 pairs. The reads from offset 64 on fail (fd -1: -EBADF),
	 * so the copy ends there, after its first windows. The number of blocks
	 * does not fit 32 bits: cut to an unsigned it is 3 (or 0), and the
	 * window (at most pairs, at most the blocks) shrinks with it. Then 3 GiB,
	 * a size an int (or a check made through one) takes for negative. */
	for (int k = 0; k < 3; k++) {
		const off_t big = k == 2 ? (off_t)3 << 30 : ((off_t)1 << 32) + (k == 0 ? 3 : 0);
		int in = grade_open("/dev/zero", O_RDONLY), out = grade_open("/dev/null", O_WRONLY);
		int ret;

		watch_reset_counts();
		watch.poison_sqe = reads_from_64;
		ret = run_copy_fds(&u, in, out, big, 1, 8);
		watch.poison_sqe = NULL;
		grade_check(ret == -EBADF, "ulink_copy of %lld bytes (%s) in blocks of 1 byte, "
			    "whose reads from offset 64 on fail with -EBADF, returned %s after %ld "
			    "SQE(s), expected -EBADF%s: %s (TODO 8)", (long long)big,
			    k == 0 ? "4 GiB + 3" : k == 1 ? "4 GiB" : "3 GiB",
			    grade_errno_str(ret), watch.sqes_submitted, ret == 0 ? " (it copied "
			    "nothing and called it done: 2^32 blocks cut to 32 bits are 0)" : "",
			    k < 2 ? "the number of blocks does not fit 32 bits; count them in off_t"
			    : ret == -EINVAL ? "size is an off_t, and 3 GiB is a valid size; through "
			    "an int it looks negative. Check size < 0 on the off_t itself"
			    : "keep sizes and counts in off_t");
		grade_check(watch.max_inflight >= u.sq_entries, "ulink_copy of %lld bytes in blocks of "
			    "1 byte (%lld blocks), 8 pairs on a ring of %u SQ entries, never had more "
			    "than %u requests in flight, expected %u (8 pairs): the window is "
			    "min(pairs, sq_entries / 2, blocks), and the number of blocks does not fit "
			    "32 bits (cut to an unsigned, 2^32 + 3 blocks are 3). Count them in off_t "
			    "(TODO 8)", (long long)big, (long long)big, u.sq_entries, watch.max_inflight,
			    u.sq_entries);
		check_ring_clean(&u, "after ulink_copy of more than 2^32 blocks returned", "TODOs 8-11");
		close(in);
		close(out);
	}

	/* Two copies on two rings, the second made while the first waits
	 * (from a hook in its wait, as another part of a program might run
	 * between two of its steps): neither disturbs the other. */
	memset(&nest, 0, sizeof(nest));
	nest.outer = &u;
	init_or_fail(&nest.inner, 8);
	watch_reset_counts();
	{
		const size_t size3 = 40 * 4096 + 77;
		unsigned char *data, *back;
		int in = data_file("src-outer", size3, &data);
		int out = grade_open(grade_path("dst-outer"), O_RDWR | O_CREAT | O_TRUNC);
		size_t backlen;
		bool same;
		int ret;

		watch_slow_start(in, data, 2);
		watch.before_wait = nested_then_release;
		ret = run_copy_fds(&u, in, out, (off_t)size3, 4096, 4);
		watch_slow_stop();
		back = grade_slurp(grade_path("dst-outer"), &backlen);
		same = back && backlen == size3 && grade_first_diff(back, data, size3) < 0;
		/* A module whose reads cannot be held (through registered files,
		 * or READV) may find every CQE in the CQ when it looks, and
		 * never make a real wait: then there was no moment to make the
		 * second copy in, and only the first copy is checked here (two
		 * rings side by side are also checked by 07.10 and 07.12). */
		grade_check(nest.done || watch_slow.held == 0,
			    "harness: the copy on the first ring never waited");
		grade_check(nest.done || (ret == 0 && same), "ulink_copy of 40 blocks + 77 bytes "
			    "returned %s%s (TODOs 8-11)", grade_errno_str(ret), ret == 0 && !same ?
			    " and its DST differs from SRC" : "");
		grade_check(!nest.done || (nest.ret == 0 && nest.same && ret == 0 && same),
			    "two copies on two "
			    "rings: a ulink_copy of 3 blocks + 5 bytes on the second ring, made while "
			    "a copy of 40 blocks + 77 bytes on the first ring waited, returned %s%s; "
			    "then the first returned %s%s. Two rings are two independent objects: a "
			    "copy keeps its state (slots, counts, buffers) in its own call, not in a "
			    "static that the other copy overwrites (TODO 8)",
			    grade_errno_str(nest.ret), nest.ret == 0 && !nest.same ? " and its DST "
			    "differs from SRC" : "", grade_errno_str(ret), ret == 0 && !same ? " and "
			    "its DST differs from SRC" : "");
		check_ring_clean(&u, "after a ulink_copy during which a copy on a second ring was "
				 "made", "TODO 8: no state in statics");
		if (nest.done)
			check_ring_clean(&nest.inner, "after a ulink_copy on a second ring, made "
					 "while a copy on the first waited", "TODO 8: no state in "
					 "statics");
		watch_slow_close();
		free(back);
		free(data);
		close(in);
		close(out);
	}
	SEAM_CALL_VOID(ulink_exit(&nest.inner));
	nest.outer = NULL;
	SEAM_CALL_VOID(ulink_exit(&u));
}

URING_TEST(copy, linked_pairs, 3,
	   "ulink_copy: every read carries IOSQE_IO_LINK to the write of the same buffer, offset and length; several pairs per submit; window <= pairs, refilled as pairs end",
	   "TODO 9: each block is one soft-linked chain, a read then the write of the same bytes, "
	   "and one submission carries several chains; a hard link writes stale bytes after a "
	   "short read (lesson, sections 1 and 2; pitfalls 17, 18)", 16)
{
	const size_t block = 8192, size = 64 * block + 100;
	struct ulink u;

	init_or_fail(&u, 16);
	copy_watch();
	watch_reset_counts();
	copy_and_check(&u, size, block, 4, "");
	grade_check(cp.reads >= 65 && cp.writes >= 65, "ulink_copy of 65 blocks submitted %u "
		    "reads and %u writes", cp.reads, cp.writes);
	grade_check(cp.hardlinks == 0, "ulink_copy used IOSQE_IO_HARDLINK: after a short read "
		    "the write would still run, with the whole length and a stale buffer "
		    "(FACTS: measured); use IOSQE_IO_LINK");
	grade_check(cp.unlinked_reads == 0, "%u of ulink_copy's %u reads had no IOSQE_IO_LINK: "
		    "each read is linked to its write (TODO 9)", cp.unlinked_reads, cp.reads);
	grade_check(cp.bad_pairs == 0, "ulink_copy linked %s: the write must write the bytes the "
		    "read reads (same buffer, offset and length) (TODO 9)", cp.first_bad);
	grade_check(cp.split == 0, "%u linked read(s) were the last SQE of their submission: a "
		    "link does not reach into the next submission, so queue the write before you "
		    "submit (TODO 9)", cp.split);
	grade_check(cp.chained == 0, "%u of ulink_copy's pairs had IOSQE_IO_LINK on the write "
		    "too, linking the pair to the SQE after it: the pairs of a submission then make "
		    "one long chain, run one after another (a slow read stalls all those behind "
		    "it) and one short read cancels them all. Only the read carries the flag; each "
		    "pair is a chain of its own (TODO 9; lesson, section 1)", cp.chained);
	grade_check(cp.pairs >= 65, "only %u of %u reads were linked to the write of the same "
		    "bytes (TODO 9)", cp.pairs, cp.reads);
	grade_check(watch.most_queued >= 4, "ulink_copy never handed the kernel more than %u "
		    "SQE(s) in one submission with 4 pairs allowed: queue several pairs, then "
		    "submit once (TODO 9)", watch.most_queued);
	grade_check(cp.first_queued >= 8, "ulink_copy's first submission handed the kernel %u "
		    "SQE(s), with 4 pairs allowed, 65 blocks to copy and room for 8 SQEs: the "
		    "window starts full (4 pairs = 8 SQEs, one submission), then is kept full. "
		    "Does the loop that fills it skip a slot (TODO 9)?", cp.first_queued);
	grade_check(watch.max_inflight <= 8, "with pairs 4, ulink_copy had %u requests in flight "
		    "(at most 4 pairs = 8 SQEs)", watch.max_inflight);
	grade_check(watch.max_inflight >= 8, "with pairs 4 and 65 blocks, ulink_copy never had "
		    "more than %u requests in flight: keep the window full (4 pairs = 8 SQEs) "
		    "(TODO 9)", watch.max_inflight);

	/* The shorter last block is a block too: 3 blocks + 100 bytes is 4
	 * blocks, and with 8 pairs allowed on a ring of 16 (8 pairs fit) the
	 * first submission carries all 4 pairs. */
	copy_watch();
	watch_reset_counts();
	copy_and_check(&u, 3 * block + 100, block, 8, " (3 blocks + 100 bytes, 8 pairs)");
	grade_check(cp.first_queued >= 8, "ulink_copy of 3 blocks + 100 bytes (4 blocks, the last "
		    "one 100 bytes) with 8 pairs allowed handed the kernel %u SQE(s) in its first "
		    "submission, not 8 (4 pairs): the window is as many pairs as there are blocks "
		    "when that is fewer than pairs, and the last, shorter block counts: count the "
		    "blocks rounding up, (size + block - 1) / block (TODO 9)", cp.first_queued);
	watch.on_sqe = NULL;

	/* The window is refilled as pairs end, not once the whole window is
	 * done: block 0's read is held back until the module waits for it
	 * alone, and the other 40 blocks go through the 3 other pairs meanwhile. */
	{
		const size_t size2 = 41 * block;
		unsigned char *data;
		int in = data_file("src2", size2, &data);
		int out = grade_open(grade_path("dst2"), O_RDWR | O_CREAT | O_TRUNC);
		size_t backlen;
		ssize_t at;
		int ret;

		watch_reset_counts();
		/* block 0's read and the write linked to it may be in the kernel */
		watch_slow_start(in, data, 2);
		ret = run_copy_fds(&u, in, out, (off_t)size2, block, 4);
		watch_slow_stop();
		grade_check(ret == 0, "ulink_copy of 41 blocks (4 pairs) whose first read was held "
			    "back until the module waited for it alone returned %s, expected 0",
			    grade_errno_str(ret));
		at = dst_mismatch("dst2", data, size2, &backlen);
		grade_check(at < 0, "ulink_copy of 41 blocks whose first read completed last: DST "
			    "(%zu bytes) differs from SRC from byte %zd on: match each CQE to its "
			    "block by user_data, not by the order of submission (TODO 9; lesson, "
			    "section 1, \"Completion order\")", backlen, at);
		/* (A read of block 0 through a registered file or a READV is
		 * not held back: then there is nothing to count.) */
		grade_check(!watch_slow.held || watch_slow.reads_while_held >= 30, "while the read of block 0 "
			    "was held back, ulink_copy handed the kernel only %u other read(s) of "
			    "the 40 other blocks, with 4 pairs allowed: it waited for the whole "
			    "window before starting new pairs. Keep the window full: as soon as a "
			    "pair has both its CQEs, queue that slot's next block (ulink.h: \"as "
			    "pairs end, new ones are queued\"; TODO 9)", watch_slow.reads_while_held);
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 8-11");
		free(data);
		close(in);
		close(out);
		watch_slow_close();
	}

	/* Three pairs of four held (the reads of blocks 0, 1 and 2 wait until
	 * the module waits for them alone): the fourth slot alone goes on
	 * through the other blocks meanwhile, one pair after another. A
	 * window refilled only once several of its pairs are over (half of
	 * them, say) waits for the held ones first. */
	{
		const size_t size3 = 41 * block;
		unsigned char *data;
		int in = data_file("src3", size3, &data);
		int out = grade_open(grade_path("dst3"), O_RDWR | O_CREAT | O_TRUNC);
		size_t backlen;
		ssize_t at;
		int ret;

		watch_reset_counts();
		/* each held read and the write linked to it may be in the kernel */
		watch_slow_blocks_start(in, data, block, 3, 2);
		ret = run_copy_fds(&u, in, out, (off_t)size3, block, 4);
		watch_slow_stop();
		grade_check(ret == 0, "ulink_copy of 41 blocks (4 pairs) whose first three reads "
			    "were held back until the module waited for them alone returned %s, "
			    "expected 0", grade_errno_str(ret));
		at = dst_mismatch("dst3", data, size3, &backlen);
		grade_check(at < 0, "ulink_copy of 41 blocks whose first three reads completed last: "
			    "DST (%zu bytes) differs from SRC from byte %zd on (TODO 9)", backlen, at);
		/* (Reads through a registered file or READV are not held.) The
		 * free slot goes on through the blocks left: all 38 if it takes
		 * the next free block, its own 10 if each slot owns every 4th
		 * block; a slot that waits for others to end gets 1. */
		grade_check(watch_slow.held < 3 || watch_slow.reads_while_held >= 8, "while the reads "
			    "of blocks 0, 1 and 2 were held back, ulink_copy (4 pairs) handed the "
			    "kernel only %u read(s) of the 38 other blocks: the one slot whose pair "
			    "was over waited for other slots to end before it took its next block. "
			    "Refill each slot as soon as its own pair is over, not in batches of "
			    "slots (ulink.h: \"the window is kept full\"; lesson, pitfall 18; "
			    "TODO 9)", watch_slow.reads_while_held);
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 8-11");
		free(data);
		close(in);
		close(out);
		watch_slow_close();
	}

	/* The window stays full: /dev/zero to /dev/null (every request
	 * completes at once), 64 blocks, 4 pairs. Whenever the copy waits with
	 * blocks not started yet, each of its 4 slots has a request in flight
	 * (queued, in the kernel, or with a CQE not reaped yet). */
	{
		int in = grade_open("/dev/zero", O_RDONLY), out = grade_open("/dev/null", O_WRONLY);
		int ret;

		memset(&win, 0, sizeof(win));
		win.block = block;
		win.blocks = 64;
		win.slots = 4;
		watch_reset_counts();
		watch.on_sqe = win_sqe;
		watch.before_wait = win_wait;
		ret = run_copy_fds(&u, in, out, (off_t)(64 * block), block, 4);
		watch.on_sqe = NULL;
		watch.before_wait = NULL;
		grade_check(ret == 0, "ulink_copy of 64 blocks from /dev/zero to /dev/null returned %s, "
			    "expected 0", grade_errno_str(ret));
		grade_check(!win.short_seen, "ulink_copy (64 blocks, 4 pairs, every request "
			    "completing at once) waited for a completion with only %u request(s) in "
			    "flight while %llu of the 64 blocks were not started yet: some of its 4 "
			    "slots sat idle. As pairs end, every slot whose pair is over takes the next "
			    "block before the next submission, not one slot per round (ulink.h: \"the "
			    "window is kept full\"; TODO 9)", win.short_inflight,
			    win.blocks - win.short_started);
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 8-11");
		close(in);
		close(out);
	}
	SEAM_CALL_VOID(ulink_exit(&u));
}

/* Short writes for real: a write SQE at the start of a block (its offset a
 * multiple of sw.block) is made to ask for half its length while it is still
 * in the SQ, before the kernel takes it; the kernel then writes that half and
 * says so, as it does for a write cut by a file-size limit or a full disk.
 * The module knows the length it asked for: its CQE is a short write. */
static struct {
	size_t block;
	unsigned cut, writev; /* writes cut; vector writes (not cut)  */
	unsigned linked;      /* writes with IOSQE_IO_LINK to another block's SQE */
	bool held;            /* the last SQE was such a write: judge the next  */
	__u64 held_end;       /* where that write ends in DST                   */
} sw;

static void cut_write_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	struct io_uring_sqe *w = (struct io_uring_sqe *)sqe; /* the module's SQE, in the SQ */

	/* A write linked to the next SQE: only the read of the rest of its own
	 * block (at the offset where the write ends, inside the block) may
	 * follow it: one chain for one block (write what was read, then read
	 * and write the rest). Anything else waits on another block's write. */
	if (sw.held) {
		sw.held = false;
		if (pos == 0 || !watch_is_read(w) || w->off != sw.held_end ||
		    sw.held_end % sw.block == 0)
			sw.linked++;
	}
	if (is_write(w) && (w->flags & IOSQE_IO_LINK) && pos + 1 < queued) {
		sw.held = true;
		sw.held_end = w->off + w->len;
	}
	sw.writev += w->opcode == IORING_OP_WRITEV;
	if ((w->opcode != IORING_OP_WRITE && w->opcode != IORING_OP_WRITE_FIXED) || w->len < 2 ||
	    w->off % sw.block != 0)
		return;
	w->len /= 2;
	sw.cut++;
}

URING_TEST_T(copy, broken_chains, 3,
	     "ulink_copy: every linked read cut short (its write -ECANCELED, as the kernel does), then every block's write: the copy is still exact",
	     "TODO 10: a short read broke its chain: the write was cancelled and wrote nothing, "
	     "but the bytes read are in the buffer; the copy repairs the chain and goes on. A "
	     "short write wrote the first res bytes: the rest is written from buffer + res at "
	     "offset + res (ulink.h, ulink_copy; lesson, section 1, \"What it does not "
	     "promise\"; pitfalls 14-16)", 16, 20)
{
	const size_t block = 4096;
	struct ulink u;

	init_or_fail(&u, 16);
	for (unsigned pairs = 1; pairs <= 8; pairs += 7) {
		watch_reset_counts();
		watch.break_links = true;
		copy_and_check(&u, 40 * block + 1234, block, pairs, " with every chain broken once");
		watch.break_links = false;
		grade_check(watch.links_broken >= 40, "harness: only %u chains were broken (are "
			    "the reads linked?)", watch.links_broken);
	}
	/* The smallest ring the contract allows (2 SQ entries: one pair at a
	 * time), every chain broken: the repair of a block has to fit in the
	 * SQ too. A repair that needs 3 SQEs at once (the write of the bytes
	 * read, linked to the pair of the rest) never fits: it must be split
	 * (the write alone, then the pair), not waited for. */
	{
		struct ulink v;

		init_or_fail(&v, 2);
		watch_reset_counts();
		/* A chain is broken once per user_data and offset: forget the
		 * runs above, whose user_data a module may use again here, and
		 * the iovec copies of their cut READVs (none is in flight now). */
		watch.shrunk = 0;
		watch.links_broken = 0;
		watch.iov_used = 0;
		watch.break_links = true;
		copy_and_check(&v, 40 * block + 1234, block, 4, " on a ring of 2 entries (one pair "
			       "at a time) with every chain broken once: the repair of a block must "
			       "fit in the SQ as its pair did (2 SQEs at a time at most; TODO 10)");
		watch.break_links = false;
		grade_check(watch.links_broken >= 40, "harness: only %u chains were broken on a "
			    "ring of 2 (are the reads linked?)", watch.links_broken);
		SEAM_CALL_VOID(ulink_exit(&v));
	}
	for (unsigned pairs = 1; pairs <= 8; pairs += 7) {
		watch_reset_counts();
		memset(&sw, 0, sizeof(sw));
		sw.block = block;
		watch.on_sqe = cut_write_sqe;
		copy_and_check(&u, 40 * block + 1234, block, pairs, " with every block's first "
			       "write cut short (its CQE says half the length: the rest goes from "
			       "buffer + res to offset + res, TODO 10)");
		watch.on_sqe = NULL;
		grade_check(sw.cut >= 41 || sw.writev > 0, "harness: only %u writes were cut "
			    "short (are the writes at the blocks' offsets?)", sw.cut);
	}
	/* Both at once: every linked read cut short, and then the write of
	 * the bytes it did read (at the block's offset, the first write there
	 * that runs) cut short too: its rest is still owed. */
	for (unsigned pairs = 1; pairs <= 8; pairs += 7) {
		watch_reset_counts();
		memset(&sw, 0, sizeof(sw));
		sw.block = block;
		watch.break_links = true;
		watch.on_sqe = cut_write_sqe;
		copy_and_check(&u, 40 * block + 1234, block, pairs, " with every chain broken once "
			       "and then the write of each short read's bytes cut short too (the "
			       "rest of that write is still owed, from buffer + res at offset + res, "
			       "whichever write it was: TODO 10)");
		watch.on_sqe = NULL;
		watch.break_links = false;
		grade_check(watch.links_broken >= 40, "harness: only %u chains were broken (are "
			    "the reads linked?)", watch.links_broken);
		grade_check(sw.linked == 0, "with every chain broken once, %u of ulink_copy's writes "
			    "carried IOSQE_IO_LINK to an SQE that was not the read of the rest of their "
			    "own block: a write alone (the bytes of a short read, the rest of a short "
			    "write) linked to whatever comes next makes another block's request wait "
			    "for it, and be cancelled (-ECANCELED) if it comes back short. A pair's "
			    "read carries the flag; a write only to chain the rest of its own block "
			    "(TODO 10; lesson, section 1)", sw.linked);
	}
	SEAM_CALL_VOID(ulink_exit(&u));
}

/* Interrupt (-EINTR CQE, nothing read) the next rest_eintrs_left reads of
 * the rest of a 4096-byte block: those whose offset is not a block's. */
static unsigned rest_eintrs_left;

static void eintr_rest_reads(struct io_uring_sqe *sqe)
{
	if (sqe->off % 4096 != 0 && rest_eintrs_left > 0) {
		rest_eintrs_left--;
		watch.eintr_reads = 1; /* this SQE: ring_watch.h turns it right after */
	}
}

/* Writes cut to half their length as they are handed to the kernel: a real
 * short write (the kernel writes the first half and says so). WRITEV
 * through a copy of its iovec array, as reads are cut. */
static unsigned short_writes_left, short_writes;

static void short_write_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	struct io_uring_sqe *w = (struct io_uring_sqe *)sqe;

	(void)pos;
	(void)queued;
	if (short_writes_left == 0 || !is_write(sqe))
		return;
	if (sqe->opcode == IORING_OP_WRITEV) {
		if (!watch_shrink_readv(w))
			return;
	} else if (sqe->len > 1) {
		w->len = sqe->len / 2;
	} else {
		return;
	}
	short_writes_left--;
	short_writes++;
}

/* ulink_copy (one pair, blocks of 4096) from a pipe that script feeds
 * (every step's fd is set to the pipe's write end) into the new file
 * grade_path(dst): what it returned. Everything is closed after it. */
static int copy_from_fed_pipe(struct ulink *u, struct fault_step *script, const char *dst,
			      size_t size)
{
	int p[2], out, ret;
	bool script_closes = false;
	struct fault *f;
	struct fault_report rep;

	fault_pipe(p, 4096);
	for (struct fault_step *s = script; s->op != FAULT_END; s++) {
		s->fd = p[1];
		script_closes |= s->op == FAULT_CLOSE;
	}
	out = grade_open(grade_path(dst), O_RDWR | O_CREAT | O_TRUNC);
	f = fault_start(script);
	ret = run_copy_fds(u, p[0], out, (off_t)size, 4096, 1);
	rep = fault_join(f);
	free(rep.sink);
	close(out);
	close(p[0]);
	if (!script_closes)
		close(p[1]);
	return ret;
}

URING_TEST(copy, pipe_in_pieces, 2,
	   "ulink_copy from a pipe fed 1000 bytes at a time, one pair: real short reads break the chain, the copy is exact; so do writes cut short",
	   "TODO 10: a short read is not the end: what came must be written and the rest of the "
	   "block read; a short write's rest is written from the buffer, never read again "
	   "(lesson, section 1, \"What it does not promise\")", 8)
{
	const size_t size = 20000;
	unsigned char *data = grade_random_bytes(size);
	struct fault_step steps[] = {
		{ .op = FAULT_WRITE_PIECES, .data = data, .len = size, .piece = 1000 },
		{ .op = FAULT_END },
	};
	/* fed a block at a time, then end of file: nothing waits for ever */
	struct fault_step whole[] = {
		{ .op = FAULT_WRITE_PIECES, .data = data, .len = size, .piece = 4096 },
		{ .op = FAULT_CLOSE },
		{ .op = FAULT_END },
	};
	int ret;
	size_t len;
	ssize_t at;
	struct ulink u;

	init_or_fail(&u, 8);
	ret = copy_from_fed_pipe(&u, steps, "dst", size);
	grade_check(ret == 0, "ulink_copy of 20000 bytes from a pipe fed 1000 bytes at a time "
		    "returned %s, expected 0", grade_errno_str(ret));
	at = dst_mismatch("dst", data, size, &len);
	grade_check(at < 0, "ulink_copy from a pipe fed in pieces: DST has %zu bytes, first "
		    "difference at %zd", len, at);
	check_ring_clean(&u, "after ulink_copy returned", "TODO 11");

	/* Again, with the first reads of the rest of a block (after a short
	 * read: their offset is not a block's) interrupted, -EINTR and nothing
	 * read: the block goes on from where it stood. The bytes already read
	 * are out of the pipe for good: a block started again from its first
	 * byte reads later bytes into its place. */
	rest_eintrs_left = 3;
	watch.edit_sqe = eintr_rest_reads;
	ret = copy_from_fed_pipe(&u, steps, "dst2", size);
	watch.edit_sqe = NULL;
	watch.eintr_reads = 0;
	grade_check(rest_eintrs_left == 0, "harness: only %u reads of the rest of a block were "
		    "seen, expected 3 or more", 3 - rest_eintrs_left);
	grade_check(ret == 0, "ulink_copy of 20000 bytes from a pipe fed 1000 bytes at a time, "
		    "with reads of the rest of a block interrupted (-EINTR CQE), returned %s, "
		    "expected 0", grade_errno_str(ret));
	at = dst_mismatch("dst2", data, size, &len);
	grade_check(at < 0, "ulink_copy from a pipe fed in pieces, the reads of the rest of a "
		    "block interrupted (-EINTR, nothing read): DST has %zu bytes, first difference "
		    "at %zd. A read's -EINTR is that read only: read the same bytes again, from "
		    "where the block stood (offset + what was read), not the block from its "
		    "start: from a pipe the bytes already read are gone (TODO 10; lesson, "
		    "pitfall 7)", len, at);
	check_ring_clean(&u, "after ulink_copy returned", "TODO 11");

	/* Again, fed a block (4096 bytes, one atomic pipe write) at a time, so
	 * that reads come back whole and their linked writes run, with the
	 * first writes cut short (half their bytes written): the rest of a
	 * short write is in the buffer, and only there, since the pipe's bytes
	 * are gone once read. Reading "the rest" again would read later bytes
	 * into its place. */
	short_writes_left = 4;
	short_writes = 0;
	watch_reset_counts();
	watch.on_sqe = short_write_sqe;
	ret = copy_from_fed_pipe(&u, whole, "dst3", size);
	watch.on_sqe = NULL;
	short_writes_left = 0;
	grade_check(short_writes > 0, "harness: no write was cut short");
	grade_check(ret == 0, "ulink_copy of 20000 bytes from a pipe fed 4096 bytes at a time, "
		    "with %u writes cut short (half their bytes written), returned %s, expected 0%s",
		    short_writes, grade_errno_str(ret), ret == -EIO ? " (the rest of a short write "
		    "read again from SRC? From a pipe those bytes are gone: write the rest from "
		    "the buffer, ulink.h: \"a short write ... write the rest, at offset + res\"; "
		    "TODO 10)" : "");
	at = dst_mismatch("dst3", data, size, &len);
	grade_check(at < 0, "ulink_copy from a pipe fed 4096 bytes at a time, %u writes cut "
		    "short (half their bytes written): DST has %zu bytes, first difference at %zd. "
		    "The rest of a short write is still in the buffer: write it from there, at "
		    "offset + what was written; reading it again from SRC works on a file, not on "
		    "a pipe, whose bytes are gone once read (ulink.h, ulink_copy: \"a short write "
		    "... write the rest\"; TODO 10)", short_writes, len, at);
	check_ring_clean(&u, "after ulink_copy returned", "TODO 11");
	free(data);
	SEAM_CALL_VOID(ulink_exit(&u));
}

/* Reads from this offset on fail (fd -1: -EBADF, for real). */
static __u64 poison_from;

static bool poison_late_reads(const struct io_uring_sqe *sqe)
{
	return sqe->off >= poison_from;
}

/* Only the reads of block 0. */
static bool poison_first_block(const struct io_uring_sqe *sqe)
{
	return sqe->off < 4096;
}

/* Only the second half of a cut read (its offset is not a block's). */
static bool poison_rest_of_block(const struct io_uring_sqe *sqe)
{
	return sqe->off % 4096 != 0;
}

URING_TEST(copy, read_errors, 2,
	   "ulink_copy: a read that fails after earlier blocks were copied, or after half its block: its -errno, everything reaped",
	   "TODO 11: a failed read (its write -ECANCELED) ends the copy with the read's "
	   "-errno, not 0 and not the bytes so far; start nothing new, reap every pair in "
	   "flight, free the buffers, then return", 16)
{
	const size_t block = 4096, size = 40 * block;
	unsigned char *data;
	struct seam_heap heap;
	struct ulink u;
	int in, out, ret;

	init_or_fail(&u, 16);
	in = data_file("src", size, &data);
	out = grade_open(grade_path("dst"), O_RDWR | O_CREAT | O_TRUNC);
	seam_heap_usage(&heap);
	poison_from = 20 * block;
	watch.poison_sqe = poison_late_reads;
	ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
	watch.poison_sqe = NULL;
	grade_check(ret == -EBADF, "reads from offset %llu on failed with -EBADF; ulink_copy "
		    "returned %s, expected -EBADF", (unsigned long long)poison_from,
		    grade_errno_str(ret));
	grade_check(watch.poisoned <= 8, "after the first read failed, ulink_copy went on "
		    "starting reads (%u failed, with 4 pairs in flight at most): after the first "
		    "error no new pair is started (contract in ulink.h)", watch.poisoned);
	check_ring_clean(&u, "after ulink_copy returned an error", "TODO 11");
	grade_check_heap(&heap, "a ulink_copy whose reads failed");

	/* The rest of a cut read fails: an error after partial progress. */
	watch_reset_counts();
	watch.break_links = true;
	watch.poison_sqe = poison_rest_of_block;
	ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
	watch.break_links = false;
	watch.poison_sqe = NULL;
	grade_check(watch.links_broken > 0, "harness: no chain was broken (are the reads linked?)");
	grade_check(ret == -EBADF, "each linked read came back half done and the read of its "
		    "rest failed with -EBADF; ulink_copy returned %s, expected -EBADF (not 0: "
		    "the copy is incomplete)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_copy returned an error", "TODO 11");
	grade_check_heap(&heap, "a ulink_copy whose reads failed half way");

	/* SRC an empty pipe whose reads may not wait (RWF_NOWAIT): every read
	 * CQE says -EAGAIN, for real. A read that fails: its -errno, not a
	 * read tried again for ever. */
	{
		int q[2];

		empty_pipe(q);
		nowait_fd = q[0];
		watch_reset_counts();
		watch.edit_sqe = nowait_edit;
		watch.limit_why = "every read CQE said -EAGAIN (SRC an empty pipe, reads that may "
				  "not wait) and ulink_copy read again and again: a read CQE of -EAGAIN "
				  "is a failed read, whose -errno ends the copy (only -EINTR is done "
				  "again; ulink.h, ulink_copy; TODO 10)";
		ret = run_copy_fds(&u, q[0], out, (off_t)size, block, 4);
		watch.edit_sqe = NULL;
		watch.limit_why = NULL;
		nowait_fd = -1;
		grade_check(ret == -EAGAIN, "every read CQE said -EAGAIN (SRC an empty pipe, reads "
			    "that may not wait); ulink_copy returned %s, expected -EAGAIN: a read "
			    "that fails ends the copy with its -errno (ulink.h, ulink_copy; TODO 10)",
			    grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy returned -EAGAIN", "TODO 11");
		grade_check_heap(&heap, "a ulink_copy whose reads said -EAGAIN");
		close_pipe(q);
	}

	/* Two errors, one after the other: the read of block 0 fails (-EBADF)
	 * at once; the pair of block 1 beside it reads, then its write to
	 * /dev/full fails (-ENOSPC). The first error is the result. */
	{
		int full = grade_open("/dev/full", O_WRONLY);

		watch_reset_counts();
		watch.poison_sqe = poison_first_block;
		ret = run_copy_fds(&u, in, full, (off_t)size, block, 2);
		watch.poison_sqe = NULL;
		grade_check(watch.poisoned >= 1, "harness: the read of block 0 was not made to fail");
		grade_check(ret == -EBADF, "the read of block 0 failed with -EBADF, then the write of "
			    "block 1 (DST /dev/full) failed with -ENOSPC; ulink_copy returned %s, "
			    "expected -EBADF: the first error is the result, and a later one must "
			    "not replace it (ulink.h, ulink_copy; TODO 11)", grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy returned an error", "TODO 11");
		close(full);
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close(in);
	close(out);
	free(data);
}

/* Writes to this fd carry RWF_NOWAIT, set in the SQ as it is handed to the
 * kernel (on_sqe sees the ring's own SQEs, before io_uring_enter): into a
 * full pipe the kernel then answers -EAGAIN at once, for real, instead of
 * waiting for room. The pipe is O_NONBLOCK as well: a write linked after a
 * read that ran in a kernel worker (a module that gives its reads
 * IOSQE_ASYNC) is issued by that worker, which drops RWF_NOWAIT and would
 * wait for room for ever (kernel 6.18), while the pipe's O_NONBLOCK still
 * makes it -EAGAIN. Either alone leaves one correct shape hanging: a write
 * issued inline with only O_NONBLOCK waits for room too. */
static int nowait_write_fd = -1;

static void nowait_write_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	/* Every write of that copy goes to nowait_write_fd, also one through a
	 * registered file (sqe->fd an index into the module's table). */
	if (is_write(sqe) && nowait_write_fd >= 0 &&
	    (sqe->fd == nowait_write_fd || (sqe->flags & IOSQE_FIXED_FILE)))
		((struct io_uring_sqe *)sqe)->rw_flags |= RWF_NOWAIT;
}

URING_TEST(copy, write_errors, 2,
	   "ulink_copy: DST /dev/full is -ENOSPC, a read-only DST -EBADF, a full pipe whose writes may not wait -EAGAIN, a file-size limit cuts a write short and its rest is -EFBIG",
	   "TODOs 10-11: a failed write ends the copy with its -errno (-EAGAIN too: only -EINTR "
	   "is done again); a short write is not an error, the rest of its block still has to be "
	   "written, and here that rest fails (ulink.h, ulink_copy; man 2 setrlimit, RLIMIT_FSIZE)",
	   16)
{
	const size_t block = 4096, size = 30 * block + 500, limit = 17 * block + 123;
	unsigned char *data, *back;
	struct rlimit rl;
	struct seam_heap heap;
	size_t backlen;
	struct ulink u;
	int in, out, ret;

	init_or_fail(&u, 16);
	in = data_file("src", size, &data);
	seam_heap_usage(&heap);
	out = grade_open("/dev/full", O_WRONLY);
	ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
	grade_check(ret == -ENOSPC, "ulink_copy to /dev/full returned %s, expected -ENOSPC",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_copy returned -ENOSPC", "TODO 11");
	close(out);
	out = grade_open(grade_make_file("ro", "", 0), O_RDONLY);
	ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
	grade_check(ret == -EBADF, "ulink_copy to a descriptor open read-only returned %s, "
		    "expected -EBADF", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_copy returned -EBADF", "TODO 11");
	close(out);

	/* DST a full pipe whose writes may not wait (RWF_NOWAIT): every write
	 * CQE says -EAGAIN, for real, as every read did on an empty pipe in
	 * 07.19. A write that fails: its -errno, not a write tried again for
	 * ever. */
	{
		static const unsigned char fill[4096];
		int q[2], fl;

		empty_pipe(q);
		fl = fcntl(q[1], F_GETFL);
		fcntl(q[1], F_SETFL, fl | O_NONBLOCK);
		while (SEAM_REAL(write)(q[1], fill, sizeof(fill)) > 0)
			;
		/* O_NONBLOCK stays on for the copy (see nowait_write_sqe) */
		nowait_write_fd = q[1];
		watch_reset_counts();
		watch.on_sqe = nowait_write_sqe;
		watch.limit_why = "every write CQE said -EAGAIN (DST a full pipe, writes that may "
				  "not wait) and ulink_copy wrote again and again: a write CQE of "
				  "-EAGAIN is a failed write, whose -errno ends the copy (only -EINTR "
				  "is done again; ulink.h, ulink_copy; TODO 10)";
		ret = run_copy_fds(&u, in, q[1], (off_t)size, block, 4);
		watch.on_sqe = NULL;
		watch.limit_why = NULL;
		nowait_write_fd = -1;
		fcntl(q[1], F_SETFL, fl);
		grade_check(ret == -EAGAIN, "every write CQE said -EAGAIN (DST a full pipe, writes "
			    "that may not wait); ulink_copy returned %s, expected -EAGAIN: a write "
			    "that fails ends the copy with its -errno, like a read that fails; only "
			    "-EINTR means \"do that step again\" (ulink.h, ulink_copy; TODO 10)",
			    grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy returned -EAGAIN", "TODO 11");
		close_pipe(q);
	}

	/* A file-size limit in the middle (blocks past it fail at once), then
	 * 100 bytes before the end: only the last write crosses it, comes back
	 * short, and only its continuation fails. */
	signal(SIGXFSZ, SIG_IGN);  /* the write fails with EFBIG instead */
	for (int k = 1; k >= 0; k--) {
		out = grade_open(grade_path("limited"), O_RDWR | O_CREAT | O_TRUNC);
		rl.rlim_cur = rl.rlim_max = k == 0 ? limit : size - 100;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			grade_fail("harness: setrlimit: %s", strerror(errno));
		ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
		/* Lowered, the hard limit cannot be raised again (without
		 * CAP_SYS_RESOURCE): keep it, lift the soft one to it. */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_FSIZE, &rl);
		grade_check(ret == -EFBIG, "under a file-size limit of %llu bytes, ulink_copy of %zu "
			    "bytes returned %s, expected -EFBIG (the write across the limit comes "
			    "back short, and the write of its rest fails with -EFBIG)",
			    (unsigned long long)(k == 0 ? limit : size - 100), size,
			    grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy returned -EFBIG", "TODO 11");
		back = grade_slurp(grade_path("limited"), &backlen);
		grade_check(back && backlen <= size - 100, "under a file-size limit DST grew to %zu "
			    "bytes", backlen);
		free(back);
		close(out);
	}
	grade_check_heap(&heap, "ulink_copy calls that failed on writes");
	close(in);
	free(data);
	SEAM_CALL_VOID(ulink_exit(&u));
}

URING_TEST(copy, arguments, 1,
	   "ulink_copy: -EINVAL cases, size 0, a source shorter than size (-EIO; size the largest off_t too), reads in flight (-EBUSY)",
	   "TODO 8: check the arguments before any I/O (contract in ulink.h); a read of 0 "
	   "bytes before size means the file is shorter than promised: -EIO, not a loop", 8)
{
	unsigned char *data, one[8];
	struct seam_heap heap;
	struct ulink u, dead;
	int in, out, ret, p[2];

	init_or_fail(&u, 8);
	in = data_file("src", 10000, &data);
	out = grade_open(grade_path("dst"), O_RDWR | O_CREAT | O_TRUNC);
	memset(&dead, 0, sizeof(dead));
	ret = run_copy_fds(&dead, in, out, 10000, 4096, 2);
	grade_check(ret == -EINVAL, "ulink_copy on a ulink never set up returned %s",
		    grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, -1, 4096, 2);
	grade_check(ret == -EINVAL, "ulink_copy with size -1 returned %s", grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, 10000, 0, 2);
	grade_check(ret == -EINVAL, "ulink_copy with block 0 returned %s", grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, 10000, ULINK_MAX_BLOCK + 1, 2);
	grade_check(ret == -EINVAL, "ulink_copy with block ULINK_MAX_BLOCK + 1 returned %s",
		    grade_errno_str(ret));
	/* block is a size_t: 4 GiB + 4096 cut to 32 bits would be 4096. */
	ret = run_copy_fds(&u, in, out, 10000, ((size_t)1 << 32) + 4096, 2);
	grade_check(ret == -EINVAL, "ulink_copy with block 4 GiB + 4096 returned %s, expected "
		    "-EINVAL: block is a size_t; kept in an unsigned (32 bits) it becomes 4096 and "
		    "passes the check. Compare the size_t itself with ULINK_MAX_BLOCK (TODO 8)",
		    grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, 10000, 4096, 0);
	grade_check(ret == -EINVAL, "ulink_copy with pairs 0 returned %s", grade_errno_str(ret));
	grade_check(watch.sqes_submitted == 0, "ulink_copy submitted %ld SQE(s) for calls it "
		    "had to refuse", watch.sqes_submitted);
	ret = run_copy_fds(&u, -1, -1, 0, 4096, 2);
	grade_check(ret == 0 && watch.sqes_submitted == 0, "ulink_copy of size 0 returned %s "
		    "after %ld SQE(s), expected 0 with no I/O", grade_errno_str(ret),
		    watch.sqes_submitted);
	/* Arguments first: size 0 is "nothing to do" only for a call that is
	 * otherwise valid (ulink.h: the -EINVAL checks come first). */
	ret = run_copy_fds(&dead, -1, -1, 0, 4096, 2);
	grade_check(ret == -EINVAL, "ulink_copy of size 0 on a ulink never set up (live 0) "
		    "returned %s, expected -EINVAL: check the arguments before the early return "
		    "for size 0 (ulink.h: the -EINVAL checks come first; TODO 8)",
		    grade_errno_str(ret));
	ret = run_copy_fds(&u, -1, -1, 0, 0, 2);
	grade_check(ret == -EINVAL, "ulink_copy of size 0 with block 0 returned %s, expected "
		    "-EINVAL: a refused argument is -EINVAL even with nothing to copy (ulink.h: "
		    "the -EINVAL checks come first; TODO 8)", grade_errno_str(ret));
	ret = run_copy_fds(&u, -1, -1, 0, 4096, 0);
	grade_check(ret == -EINVAL, "ulink_copy of size 0 with pairs 0 returned %s, expected "
		    "-EINVAL (ulink.h: the -EINVAL checks come first; TODO 8)", grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, 10000 + 5000, 4096, 2);
	grade_check(ret == -EIO, "ulink_copy of 15000 bytes from a 10000-byte file returned %s, "
		    "expected -EIO (a read of 0 before size)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_copy returned -EIO", "TODO 10");
	/* The end of the file inside the last block: its read comes back short
	 * (1808 of 3808 bytes), the chain breaks, and the read of the block's
	 * rest finds end of file. Still -EIO: the file is shorter than size. */
	ret = run_copy_fds(&u, in, out, 12000, 4096, 2);
	grade_check(ret == -EIO, "ulink_copy of 12000 bytes (block 4096) from a 10000-byte file "
		    "returned %s, expected -EIO: the last block's read came back short (1808 of "
		    "3808 bytes) and the read of its rest found end of file. A read of 0 before "
		    "size is -EIO wherever it comes, also after a short read of the same block: "
		    "it is not the end of a shorter last block (ulink.h, ulink_copy: \"a read of 0 "
		    "before `size` bytes (the file shrank): -EIO\"; TODO 10; lesson, pitfall 20)",
		    grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_copy returned -EIO", "TODO 10");
	/* size the largest off_t: still a source shorter than size, -EIO. The
	 * window is min(pairs, blocks); blocks rounded up as
	 * (size + block - 1) / block overflow there, and the window comes out
	 * 0 (block 2: nothing copied) or billions of slots (block 1000). */
	for (int k = 0; k < 2; k++) {
		static const size_t huge_blocks[] = { 2, 1000 };
		const off_t most = (off_t)INT64_MAX;

		ret = run_copy_fds(&u, in, out, most, huge_blocks[k], 2);
		grade_check(ret == -EIO, "ulink_copy of %lld bytes (the largest off_t), block %zu, "
			    "from a 10000-byte file returned %s, expected -EIO (a read of 0 before "
			    "size). Any size >= 0 is allowed: count its blocks without overflow, "
			    "(size - 1) / block + 1; size + block - 1 overflows an off_t there, and "
			    "the window made from it is 0 or billions of pairs (TODO 8; lesson, "
			    "pitfall 16)", (long long)most, huge_blocks[k], grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy of the largest off_t returned", "TODO 8");
	}
	empty_pipe(p);
	ret = SEAM_CALL(ulink_start_read(&u, p[0], one, sizeof(one), -1, 1));
	grade_check(ret == 0, "ulink_start_read returned %s", grade_errno_str(ret));
	seam_heap_usage(&heap);
	ret = run_copy_fds(&u, in, out, 10000, 4096, 2);
	grade_check(ret == -EBUSY, "ulink_copy while a read of ulink_start_read is in flight "
		    "returned %s, expected -EBUSY", grade_errno_str(ret));
	ret = run_copy_fds(&u, in, out, 10000, 0, 2);
	grade_check(ret == -EINVAL, "ulink_copy with block 0 while a read of ulink_start_read is "
		    "in flight returned %s, expected -EINVAL: a refused argument is -EINVAL before "
		    "anything else is looked at (ulink.h: the -EINVAL checks come first; TODO 8)",
		    grade_errno_str(ret));
	grade_check_heap(&heap, "a ulink_copy refused with -EBUSY (TODO 8: refuse before you "
			 "allocate the window, or free it on that path too; pitfall 21)");
	ret = SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
	grade_check(ret == 1, "ulink_cancel_all returned %s, expected 1", grade_errno_str(ret));
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
	close(in);
	close(out);
	free(data);
}

/* Write CQEs turned into -EINTR (the write is done again, at the same
 * offset: the same bytes). Only where user_data tells writes from reads. */
static struct {
	__u64 reads[64], writes[64];
	unsigned nreads, nwrites, left, seen, rewritten;
	bool ambiguous;
} we;

static bool ud_in(const __u64 *a, unsigned n, __u64 ud)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] == ud)
			return true;
	return false;
}

/* Note ud in one list; seen in the other list too, or no room: ambiguous. */
static void we_note(__u64 *mine, unsigned *n, const __u64 *other, unsigned nother, __u64 ud)
{
	if (ud_in(other, nother, ud) || (*n == 64 && !ud_in(mine, *n, ud)))
		we.ambiguous = true;
	else if (!ud_in(mine, *n, ud))
		mine[(*n)++] = ud;
}

static void we_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (is_write(sqe))
		we_note(we.writes, &we.nwrites, we.reads, we.nreads, sqe->user_data);
	else if (watch_is_read(sqe))
		we_note(we.reads, &we.nreads, we.writes, we.nwrites, sqe->user_data);
}

static void we_cqe(struct io_uring_cqe *cqe)
{
	if (we.ambiguous || we.left == 0 || cqe->res <= 0 ||
	    !ud_in(we.writes, we.nwrites, cqe->user_data))
		return;
	if (we.seen++ % 7 == 3) {
		cqe->res = -EINTR;
		we.left--;
		we.rewritten++;
	}
}

/* Writes interrupted for real: the write SQE becomes a NOP whose CQE says
 * -EINTR, so nothing was written (we_cqe above rewrites the CQE of a write
 * that did write). What a write is linked to, if anything, is cancelled
 * (-ECANCELED), as the kernel does after a failed request. */
static unsigned nop_writes_left, nop_writes, nop_writes_seen;

static void nop_write_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (nop_writes_left == 0 || !is_write(sqe) || nop_writes_seen++ % 5 != 2)
		return;
	watch_nop_sqe((struct io_uring_sqe *)sqe, -EINTR);
	nop_writes_left--;
	nop_writes++;
}

/* -EAGAIN and -EBUSY that come back, one call at a time, as the copy goes
 * on (07.22): at each write CQE with bytes, while some are left, the next
 * liburing call answers -EAGAIN or -EBUSY (in turn; one call refused at
 * most for the CQEs one call brought) and the one after works.
 * Each refusal stops: a copy that counts them all, not those in a row, and
 * gives up after a few, fails a long copy on a kernel that is only
 * sometimes short of memory. */
static unsigned recurring_left, recurring_done;

static void recurring_refusal(struct io_uring_cqe *cqe)
{
	if (recurring_left == 0 || cqe->res <= 0 || !ud_in(we.writes, we.nwrites, cqe->user_data))
		return;
	if (watch.inject_at == watch.calls + 1 && !watch.injected)
		return; /* the next call is refused already: one per call */
	recurring_left--;
	recurring_done++;
	watch.inject_at = watch.calls + 1;
	watch.inject_calls = 0;
	watch.injected = false;
	watch.inject_err = recurring_done % 2 ? -EAGAIN : -EBUSY;
}

/* Start n such refusals over the next copy (we_sqe tells the write SQEs);
 * recurring_stop ends them. */
static void recurring_start(unsigned n)
{
	memset(&we, 0, sizeof(we));
	recurring_left = n;
	recurring_done = 0;
	watch_reset_counts();
	watch.on_sqe = we_sqe;
	watch.on_cqe = recurring_refusal;
}

static void recurring_stop(void)
{
	watch.on_sqe = NULL;
	watch.on_cqe = NULL;
	recurring_left = 0;
}

/* -EAGAIN paced (07.22): block 0's read is held (watch_slow) and every
 * submit made while it is in the kernel answers -EAGAIN until the module
 * waits (ring_watch.h, "pacing"). A wait before the first -EAGAIN (for the
 * other pairs of the first window) does not end the pacing: it starts at
 * the first refill, whatever order the kernel completed the first window
 * in. The held read gets its bytes at the first real wait with the CQ
 * empty once the pacing is over (a wait that leaves SQEs queued: the ones
 * the refused submit left), or as watch_slow does. */
static void paced_release(struct io_uring *ring, unsigned nr)
{
	if (watch.eagains == 0)
		watch.waited = false;
	if (watch.waited && !watch_slow.released && watch_slow.held && ring &&
	    io_uring_cq_ready(ring) == 0) {
		watch_slow.released = true;
		if (SEAM_REAL(write)(watch_slow.pipe[0][1], watch_slow.data, watch_slow.len[0]) !=
		    (ssize_t)watch_slow.len[0])
			grade_fail("harness: cannot feed the held read");
		return;
	}
	watch_slow_release(ring, nr);
}

/* -EAGAIN with a completion waiting (watch.make_ready): the held read of
 * block 0 gets its bytes, and the watch waits (at most 5 s) until its CQE
 * is in the CQ, flushing deferred completions as a real enter would. */
static void ready_release(struct io_uring *ring)
{
	if (!watch_slow.held || watch_slow.released)
		return;
	watch_slow.released = true;
	if (SEAM_REAL(write)(watch_slow.pipe[0][1], watch_slow.data, watch_slow.len[0]) !=
	    (ssize_t)watch_slow.len[0])
		grade_fail("harness: cannot feed the held read");
	for (int i = 0; i < 5000 && io_uring_cq_ready(ring) == 0; i++) {
		SEAM_REAL(io_uring_get_events)(ring);
		if (io_uring_cq_ready(ring) == 0)
			SEAM_REAL(usleep)(1000);
	}
}

/*
 * -EAGAIN from submits, two ways, on 12 blocks copied 4 pairs at a time with
 * block 0's read held (a pipe). Paced (ready false): every submit made while
 * that read waits in the kernel answers -EAGAIN until the module waits for a
 * completion (the kernel short of resources until a request ends:
 * io_uring_enter(2), EAGAIN); the copy waits for that pair, then submits
 * again. With a completion waiting (ready true): at the first submit made
 * with new pairs queued while it waits, block 0's bytes arrive and the watch
 * waits for its CQE; from then on every submit made with SQEs queued and a
 * CQE unreaped answers -EAGAIN: reaping is what gives the kernel its
 * resources back. Either way, submitting again at once gets -EAGAIN every
 * time.
 */
static void paced_copy(struct ulink *u, bool ready)
{
	const size_t block = 4096, size = 12 * block;
	const char *src = ready ? "src-ready" : "src-paced";
	const char *dst = ready ? "dst-ready" : "dst-paced";
	unsigned char *data, *back;
	int in = data_file(src, size, &data);
	int out = grade_open(grade_path(dst), O_RDWR | O_CREAT | O_TRUNC);
	size_t backlen;
	int ret;

	watch_reset_counts();
	watch_slow_start(in, data, 2);
	watch.eagains = watch.eagain_streak = watch.eagain_streak_max = 0;
	watch.last_khead = *u->ring.cq.khead;
	if (ready) {
		watch.make_ready = ready_release;
		watch.eagain_while_ready = true;
	} else {
		watch.before_wait = paced_release;
		watch.waited = false;
		watch.eagain_until_wait = true;
	}
	ret = run_copy_fds(u, in, out, (off_t)size, block, 4);
	watch.eagain_until_wait = watch.eagain_while_ready = false;
	watch.make_ready = NULL;
	watch_slow_stop();
	if (ready) {
		grade_check(watch.eagain_streak_max <= 2, "ulink_copy called io_uring_submit* %u "
			    "times in a row, each answered -EAGAIN, with a completion waiting in "
			    "the CQ that it did not reap: -EAGAIN means the kernel is short of "
			    "resources until requests end, and reaping the CQEs that are there is "
			    "what gives them back. After -EAGAIN with CQEs ready "
			    "(io_uring_cq_ready), reap them, then submit again (io_uring_enter(2), "
			    "EAGAIN; ulink.h, ulink_copy; TODO 10)", watch.eagain_streak_max);
	} else {
		grade_check(!watch_slow.held || watch.eagains > 0, "ulink_copy never submitted "
			    "new pairs while the read of block 0 (held back in the kernel) waited, "
			    "4 pairs allowed: refill the window as pairs end (TODO 9)");
		grade_check(watch.eagain_streak_max <= 2, "ulink_copy called io_uring_submit* %u "
			    "times in a row, each answered -EAGAIN, without waiting for the pair "
			    "the kernel had (block 0's read) or reaping anything: -EAGAIN means "
			    "the kernel is short of resources until a request ends. With requests "
			    "of yours in the kernel, wait for a completion (io_uring_wait_cqe), "
			    "then submit again (io_uring_enter(2), EAGAIN: \"wait for some "
			    "completions and try again\"; ulink.h, ulink_copy; TODO 10)",
			    watch.eagain_streak_max);
	}
	grade_check(ret == 0, "ulink_copy of 12 blocks (4 pairs) returned %s: %s; expected 0 "
		    "(ulink.h, ulink_copy; TODO 10)", grade_errno_str(ret),
		    ready ? "submits made while a completion waited unreaped answered -EAGAIN: "
			    "reap it, then submit again"
			  : "every submit made while block 0's read waited in the kernel "
			    "answered -EAGAIN, until the module waited for a completion. Waiting "
			    "for that pair ends the -EAGAIN; giving up without waiting does not");
	back = grade_slurp(grade_path(dst), &backlen);
	grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
		    "ulink_copy with -EAGAIN from submits while %s: DST has %zu of %zu bytes (or "
		    "other bytes)", ready ? "a completion waited" : "a pair waited",
		    back ? backlen : 0, size);
	check_ring_clean(u, "after ulink_copy returned", "TODOs 10, 11");
	free(back);
	free(data);
	close(in);
	close(out);
	watch_slow_close();
}

URING_TEST_T(copy, interruptions, 2,
	     "ulink_copy: reads and writes interrupted (-EINTR CQE, nothing done), -EINTR/-EAGAIN/-EBUSY from liburing calls, in a row or one at a time all through a long copy: retried, the copy exact",
	     "TODO 10: a read CQE of -EINTR (its write -ECANCELED) means do that pair again; "
	     "-EINTR or -EAGAIN from a submit or a wait took nothing: call again (after -EAGAIN, "
	     "reap a completion first; ulink.h, what a failed liburing call means)", 16, 20)
{
	struct ulink u;

	init_or_fail(&u, 16);
	watch_reset_counts();
	/* 40 reads of 51 blocks: each slot's block several times in a row, and
	 * more than any "a few tries" bound: -EINTR is never a result. */
	watch.eintr_reads = 40;
	copy_and_check(&u, 50 * 4096 + 3, 4096, 4, " with 40 reads interrupted (the same block "
		       "several times in a row: a read CQE of -EINTR is done again as often as it "
		       "comes, ulink.h: \"-EINTR never comes out of this function\")");
	grade_check(watch.eintrs == 40, "harness: %u reads interrupted", watch.eintrs);
	/* Writes interrupted: their CQE says -EINTR (nothing written). */
	memset(&we, 0, sizeof(we));
	we.left = 5;
	watch_reset_counts();
	watch.on_sqe = we_sqe;
	watch.on_cqe = we_cqe;
	copy_and_check(&u, 50 * 4096 + 3, 4096, 4, " with 5 write CQEs of -EINTR (a write "
		       "interrupted is done again, like a read: ulink.h)");
	watch.on_sqe = NULL;
	watch.on_cqe = NULL;
	grade_check(we.ambiguous || we.rewritten == 5, "harness: %u writes interrupted",
		    we.rewritten);
	/* Writes interrupted before they wrote anything (their CQE -EINTR,
	 * DST untouched): taken for done, the block is a hole in DST. */
	nop_writes_left = 5;
	nop_writes = nop_writes_seen = 0;
	watch_reset_counts();
	watch.on_sqe = nop_write_sqe;
	copy_and_check(&u, 50 * 4096 + 3, 4096, 4, " with 5 writes interrupted before they "
		       "wrote anything (their CQE -EINTR): an interrupted write wrote nothing; its "
		       "bytes are still in the buffer, write them again (ulink.h: \"a CQE with "
		       "-EINTR: that step is done again\"; TODO 10)");
	watch.on_sqe = NULL;
	nop_writes_left = 0;
	grade_check(nop_writes == 5, "harness: %u writes interrupted, expected 5", nop_writes);
	for (int k = 0; k < 2; k++) {
		watch_reset_counts();
		watch.inject_at = 2;
		watch.inject_calls = 3;
		watch.inject_err = k == 0 ? -EINTR : -EAGAIN;
		copy_and_check(&u, 50 * 4096 + 3, 4096, 4, k == 0 ? " with -EINTR from three calls"
								: " with -EAGAIN from three calls");
		grade_check(watch.injected, "harness: nothing injected");
	}
	/* -EBUSY (the CQ full) from three calls in a row: like -EAGAIN. */
	watch_reset_counts();
	watch.inject_at = 2;
	watch.inject_calls = 3;
	watch.inject_err = -EBUSY;
	copy_and_check(&u, 50 * 4096 + 3, 4096, 4, " with -EBUSY from three calls (-EBUSY is "
		       "-EAGAIN's twin: the CQ is full, reap and call again; ulink.h)");
	grade_check(watch.injected, "harness: nothing injected");
	/* 24 refusals, -EAGAIN and -EBUSY in turn, each one call only, with
	 * blocks written between them: each stops, so none is the result. */
	recurring_start(24);
	copy_and_check(&u, 200 * 4096 + 3, 4096, 4, " with 24 single -EAGAIN/-EBUSY answers "
		       "spread over the copy, a block written between any two (each refusal "
		       "stopped at once: retry bounds count refusals in a row, not in the whole "
		       "copy; ulink.h: \"if it never stops, return it\"; TODO 10)");
	recurring_stop();
	grade_check(we.ambiguous || recurring_done >= 20, "harness: %u refusals injected",
		    recurring_done);
	/* The same into /dev/null, whose writes end inside the submit: the
	 * refusals then come with nothing of the copy's in the kernel. */
	{
		unsigned char *data;
		int in = data_file("src-null", 200 * 4096 + 3, &data);
		int out = grade_open("/dev/null", O_WRONLY);
		int ret;

		recurring_start(24);
		ret = run_copy_fds(&u, in, out, 200 * 4096 + 3, 4096, 4);
		recurring_stop();
		grade_check(ret == 0, "ulink_copy of 200 blocks into /dev/null, with %u single "
			    "-EAGAIN/-EBUSY answers spread over the copy (a block written between "
			    "any two, each refusal stopped at once), returned %s, expected 0: "
			    "count refusals in a row, from 0 at each new submit, not over the "
			    "whole copy (ulink.h: \"if it never stops, return it\"; TODO 10)",
			    recurring_done, grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 10, 11");
		free(data);
		close(in);
		close(out);
	}
	watch_reset_counts();

	/* A real signal (SIGUSR1, no SA_RESTART) while the copy sleeps in the
	 * io_uring_enter that submitted its pair (SRC an empty pipe): the call
	 * returns the SQEs it submitted, with no CQE in the CQ. Then the pipe
	 * gets its data, once the copy waits again. */
	{
		const size_t size = 2 * 4096;
		unsigned char *data = grade_random_bytes(size), *back;
		struct fault_step steps[] = {
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_SIGNAL },
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE_PIECES, .data = data, .len = size, .piece = 4096 },
			{ .op = FAULT_END },
		};
		struct fault_report rep;
		struct fault *f;
		size_t backlen;
		int p[2], out, ret;

		fault_pipe(p, 4096);
		steps[3].fd = p[1];
		out = grade_open(grade_path("dst-signal"), O_RDWR | O_CREAT | O_TRUNC);
		watch_reset_counts();
		f = fault_start(steps);
		ret = run_copy_fds(&u, p[0], out, (off_t)size, 4096, 1);
		rep = fault_join(f);
		free(rep.sink);
		grade_check(rep.signals == 1, "harness: the signal was not delivered (ulink_copy from "
			    "an empty pipe never slept in io_uring_enter?); it returned %s",
			    grade_errno_str(ret));
		grade_check(ret == 0, "a signal (SIGUSR1, no SA_RESTART) ended ulink_copy's wait in "
			    "the io_uring_enter that had just submitted its pair (SRC an empty pipe); "
			    "ulink_copy returned %s, expected 0. That call returns the number of SQEs it "
			    "submitted, and the CQ may still be empty: a return >= 0 from "
			    "io_uring_submit_and_wait does not promise a CQE. Nothing has completed: "
			    "reap what is there (maybe nothing) and wait again (io_uring_enter(2), "
			    "RETURN VALUE and EINTR; TODO 10; lesson, pitfall 7)",
			    grade_errno_str(ret));
		back = grade_slurp(grade_path("dst-signal"), &backlen);
		grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
			    "ulink_copy from a pipe, interrupted by a signal once: DST has %zu of %zu "
			    "bytes (or other bytes)", back ? backlen : 0, size);
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 10, 11");
		free(back);
		free(data);
		close(out);
		close_pipe(p);
	}

	/* Write CQEs of -EINTR with SRC a pipe fed 1000 bytes at a time (one
	 * pair): what was read cannot be read again, so the write is what is
	 * done again, from the same buffer. */
	{
		const size_t size = 20000;
		unsigned char *data = grade_random_bytes(size);
		struct fault_step steps[] = {
			{ .op = FAULT_WRITE_PIECES, .data = data, .len = size, .piece = 1000 },
			{ .op = FAULT_CLOSE },  /* then end of file: nothing waits for ever */
			{ .op = FAULT_END },
		};
		size_t backlen;
		ssize_t at;
		int ret;

		memset(&we, 0, sizeof(we));
		we.left = 3;
		watch_reset_counts();
		watch.on_sqe = we_sqe;
		watch.on_cqe = we_cqe;
		ret = copy_from_fed_pipe(&u, steps, "dst-pipe-eintr", size);
		watch.on_sqe = NULL;
		watch.on_cqe = NULL;
		grade_check(we.ambiguous || we.rewritten >= 1, "harness: no write was interrupted");
		at = dst_mismatch("dst-pipe-eintr", data, size, &backlen);
		grade_check(ret == 0 && at < 0,
			    "ulink_copy of 20000 bytes from a pipe fed 1000 bytes at a time, %u of its "
			    "write CQEs saying -EINTR, returned %s with DST of %zu bytes, first "
			    "difference at %zd: an interrupted write wrote nothing, but its bytes were "
			    "read and are still in the buffer; write them again. Reading them again "
			    "works on a file, not on a pipe, whose bytes are gone once read (ulink.h: "
			    "\"a CQE with -EINTR: that step is done again\"; TODO 10)",
			    we.rewritten, grade_errno_str(ret), backlen, at);
		check_ring_clean(&u, "after ulink_copy returned", "TODOs 10, 11");
		free(data);
	}

	paced_copy(&u, false);
	paced_copy(&u, true);
	SEAM_CALL_VOID(ulink_exit(&u));
}

URING_TEST(copy, memory, 2,
	   "ulink_copy frees its buffers on every path; an allocation that fails is -ENOMEM with nothing in flight",
	   "TODO 8: allocate the window's buffers once per call, free them before every "
	   "return; a NULL from malloc, or an error from posix_memalign (which leaves errno "
	   "alone), is -ENOMEM (man 3 malloc, man 3 posix_memalign)", 16)
{
	const size_t size = 30 * 4096 + 9;
	unsigned char *data;
	struct seam_heap heap;
	struct ulink u;
	int in, out, ret;

	init_or_fail(&u, 16);
	in = data_file("src", size, &data);
	out = grade_open(grade_path("dst"), O_RDWR | O_CREAT | O_TRUNC);
	seam_heap_usage(&heap);
	ret = run_copy_fds(&u, in, out, (off_t)size, 4096, 4);
	grade_check(ret == 0, "ulink_copy returned %s", grade_errno_str(ret));
	grade_check_heap(&heap, "ulink_copy that succeeded");
	for (long nth = 1; nth <= 3; nth++) {
		unsigned char *back;
		size_t backlen;

		grade_check(ftruncate(out, 0) == 0, "harness: ftruncate: %s", strerror(errno));
		seam_heap_fail(nth, 1);
		/* errno as a caller may have left it: posix_memalign (and
		 * aligned_alloc's callers) must not read it back as the cause. */
		errno = EXDEV;
		ret = run_copy_fds(&u, in, out, (off_t)size, 4096, 4);
		seam_heap_fail(0, 0);
		grade_check(ret == 0 || ret == -ENOMEM, "when allocation %ld failed, ulink_copy "
			    "returned %s, expected -ENOMEM (or 0 if it did not need it)%s", nth,
			    grade_errno_str(ret), ret == -EXDEV ? ": -EXDEV is the errno the "
			    "caller had left before the call. posix_memalign returns its error and "
			    "does not set errno (man 3 posix_memalign, RETURN VALUE): a failed "
			    "allocation is -ENOMEM, never -errno (TODO 8)" : "");
		back = ret == 0 ? grade_slurp(grade_path("dst"), &backlen) : NULL;
		grade_check(ret != 0 || (back && backlen == size &&
					 grade_first_diff(back, data, size) < 0), "when allocation "
			    "%ld failed, ulink_copy returned 0 but DST holds %zu of the %zu bytes (or "
			    "other bytes): it did need that allocation. A failed allocation is "
			    "-ENOMEM; posix_memalign returns its error and leaves errno alone, so "
			    "-errno after it is whatever errno was before (man 3 posix_memalign, "
			    "RETURN VALUE; TODO 8)", nth, back ? backlen : 0, size);
		free(back);
		check_ring_clean(&u, "after ulink_copy whose allocation failed", "TODO 8");
		grade_check_heap(&heap, "ulink_copy whose allocation failed");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close(in);
	close(out);
	free(data);
}

/* ------------------------------------------------------------------ lcopy */

/* The program, graded from outside by the battery chapter 06's copy shares
 * (harness/lib/copy_battery.h). */
#define COPY_NAME "lcopy"
#define COPY_TODO_ARGS "main (given in lcopy.c)"
#define COPY_TODO_OPEN "open_files (given in lcopy.c)"
#define COPY_TODO_BLOCKS "TODOs 8-11 of ulink.c"
#define COPY_TODO_OFFSET "TODO 9"
#define COPY_TODO_SHORT_WRITE "TODO 10"
#define COPY_TODO_ERRORS "TODOs 11 and 12"
#define COPY_HINT_BATCH                                                               \
	"several linked read -> write pairs per submission, the window refilled as pairs " \
	"end (lesson, section 1 and \"The exercise\")"
#define COPY_MEMLOCK_ROOM RING_ROOM
#include "copy_battery.h"

/* What lcopy's ring held at each io_uring_enter that submitted. */
struct link_trace {
	unsigned submits;     /* io_uring_enter calls that submitted          */
	unsigned reads;       /* read SQEs                                     */
	unsigned pairs;       /* ... with IOSQE_IO_LINK, followed by a write   */
	                      /*     of the same buffer at the same offset     */
	unsigned hardlinks;   /* SQEs with IOSQE_IO_HARDLINK                   */
	unsigned most_pairs;  /* the most pairs one submission carried         */
};

static bool opcode_is(const struct prog_sqe *q, const char *a, const char *b, const char *c)
{
	return !strcmp(q->opcode, a) || !strcmp(q->opcode, b) || !strcmp(q->opcode, c);
}

static void trace_submit(const struct prog_sqe *q, unsigned n, void *ctx)
{
	struct link_trace *t = ctx;
	unsigned pairs = 0;

	t->submits++;
	for (unsigned i = 0; i < n; i++) {
		if (q[i].flags & IOSQE_IO_HARDLINK)
			t->hardlinks++;
		if (!opcode_is(&q[i], "READ", "READV", "READ_FIXED"))
			continue;
		t->reads++;
		/* READV/WRITEV: addr is each one's iovec array, which may be two
		 * arrays naming one buffer; only the offsets are compared. */
		if ((q[i].flags & IOSQE_IO_LINK) && i + 1 < n &&
		    opcode_is(&q[i + 1], "WRITE", "WRITEV", "WRITE_FIXED") &&
		    (q[i + 1].addr == q[i].addr || !strcmp(q[i].opcode, "READV") ||
		     !strcmp(q[i + 1].opcode, "WRITEV")) &&
		    q[i + 1].off == q[i].off)
			pairs++;
	}
	t->pairs += pairs;
	if (pairs > t->most_pairs)
		t->most_pairs = pairs;
}

GRADE_TEST_T(copy, linked_from_outside, 2,
	     "lcopy, watched at each io_uring_enter: its reads are linked to writes of the same buffer and offset, several pairs at once",
	     "TODO 12 and TODO 9: lcopy copies through ulink_copy (or links its own pairs), so "
	     "what 07.16 checks inside must also be seen from outside (lesson, \"The program: "
	     "lcopy SRC DST\"; pitfall 18)", 20)
{
	const size_t size = 4 * 1048576 + 333;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src = grade_make_file("src", data, size), *dst = grade_path("dst");
	struct link_trace t;
	struct prog_opts o = { .on_submit = trace_submit, .ctx = &t };
	struct prog_result r;
	size_t backlen;

	copy_setup();
	memset(&t, 0, sizeof(t));
	{
		const char *argv[] = { copy_program(), src, dst, NULL };

		prog_run_traced(argv, &o, &r, "looks into lcopy's ring at each io_uring_enter");
	}
	grade_check(r.exited && r.status == 0, "lcopy SRC DST (traced): %s; stderr: %s",
		    prog_ending(&r), prog_stderr_line(&r));
	back = grade_slurp(dst, &backlen);
	grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
		    "lcopy (traced): DST is not a copy of SRC");
	grade_check(t.submits > 0, "lcopy made no io_uring_enter call that submitted anything "
		    "(a ring with SQPOLL cannot be watched here: use a plain ring, as "
		    "ulink_init does)");
	grade_check(t.hardlinks == 0, "lcopy submitted %u SQE(s) with IOSQE_IO_HARDLINK: after a "
		    "short read the write would still run with stale bytes; use IOSQE_IO_LINK",
		    t.hardlinks);
	grade_check(t.reads >= 2 && t.pairs * 10 >= t.reads * 9, "of lcopy's %u read SQEs, %u "
		    "were linked (IOSQE_IO_LINK) to a write of the same buffer at the same offset "
		    "right after them: the copy is made of linked read -> write pairs", t.reads,
		    t.pairs);
	grade_check(t.most_pairs >= 2, "lcopy never submitted more than %u linked pair(s) in one "
		    "io_uring_enter: queue several pairs, then submit", t.most_pairs);
	free(back);
	free(data);
}

/* ------------------------------------------------ liburing calls that fail */

/* Read SQEs handed to the kernel once an injected error was returned: after
 * its first error ulink_copy starts no new pair (ulink.h). */
static unsigned reads_after_error;

static void count_late_reads(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (watch.injected && watch_is_read(sqe))
		reads_after_error++;
}

/* After a call whose submission failed: no CQE left, nothing in the kernel,
 * and no read or write queued (SQEs that never reached the kernel may stay
 * queued only as NOPs, harmless when the next call submits them). */
static void check_failed_call_clean(struct ulink *u, const char *when, const char *todo)
{
	struct io_uring *ring = &u->ring;
	unsigned cq = io_uring_cq_ready(ring), kernel = watch_in_kernel(ring), io = 0;

	for (unsigned h = *ring->sq.khead; h != ring->sq.sqe_tail; h++) {
		const struct io_uring_sqe *sqe = &ring->sq.sqes[h & ring->sq.ring_mask];

		io += watch_is_read(sqe) || is_write(sqe);
	}
	grade_check(kernel <= watch.skip_success && cq == 0, "%s, the kernel still had %u "
		    "request(s) of yours and %u CQE(s) were left unreaped: wait for what the kernel "
		    "has before returning, as long as waiting works (%s)", when, kernel, cq, todo);
	grade_check(io == 0, "%s, %u read or write SQE(s) were left queued in the SQ: the next "
		    "call's io_uring_submit would start them behind the caller's back. Take back "
		    "what never reached the kernel (%s)", when, io, todo);
}

URING_TEST(copy, ring_errors, 2,
	   "ulink_copy: a liburing call fails (-EBADR) with pairs in the kernel: that error once they are reaped; failing for good: an error, not a loop, their buffers kept; -EAGAIN at the first submit",
	   "TODO 11: ulink.h says what each failure of a liburing call means. SQEs never "
	   "submitted will never complete and must never start later; what the kernel took "
	   "must still be reaped; a wait with nothing in the kernel sleeps for ever (lesson, "
	   "pitfall 22)", 16)
{
	const size_t block = 4096, size = 16 * block;
	unsigned char *data = grade_random_bytes(block);
	struct seam_heap heap;
	struct fault_report rep;
	struct fault *f;
	struct ulink u;
	int src[2], dst[2], in, ret;

	/* Once: SRC a pipe holding one block, so one pair completes and three
	 * reads wait in the kernel; the next liburing call fails with -EBADR.
	 * The pipe is closed once the module sleeps in io_uring_enter: the
	 * waiting reads end (0 bytes) and nothing can wait for ever. DST is a
	 * pipe too, with room: its writes complete at once. */
	init_or_fail(&u, 16);
	fault_pipe(src, 65536);
	fault_pipe(dst, 65536);
	grade_check(SEAM_REAL(write)(src[1], data, block) == (ssize_t)block, "harness: write");
	seam_heap_usage(&heap);
	watch_reset_counts();
	reads_after_error = 0;
	watch.on_sqe = count_late_reads;
	watch.inject_when = WATCH_WHEN_BUSY;
	watch.inject_err = -EBADR;
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_CLOSE, .fd = src[1] },
		{ .op = FAULT_END } });
	ret = run_copy_fds(&u, src[0], dst[1], (off_t)size, block, 4);
	rep = fault_join(f);
	free(rep.sink);
	watch.on_sqe = NULL;
	grade_check(ret < 0 && ret != -EINTR, "SRC a pipe holding one block of 16, one liburing "
		    "call failed with -EBADR while reads waited in the kernel, then SRC was closed; "
		    "ulink_copy returned %s, expected an error", grade_errno_str(ret));
	grade_check(ret != -EBADR || reads_after_error == 0, "ulink_copy returned the -EBADR of a "
		    "failed liburing call, but handed the kernel %u read(s) after it: after the "
		    "first error no new pair is started, and SQEs queued but never submitted must "
		    "not reach the kernel later (ulink.h)", reads_after_error);
	check_failed_call_clean(&u, "after ulink_copy returned the error of a failed liburing call",
				"TODO 11");
	grade_check_heap(&heap, "a ulink_copy whose liburing call failed once");
	SEAM_CALL_VOID(ulink_exit(&u));
	close(src[0]);
	close_pipe(dst);

	/* For good: SRC a file, DST a full pipe, one pair: the read completes,
	 * its write waits in the kernel, and from then on every liburing call
	 * fails. The module cannot reap that write: it returns an error (its
	 * buffer stays the kernel's, so it may not free it). */
	free(data);
	init_or_fail(&u, 16);
	in = data_file("src", size, &data);
	fault_pipe(dst, 4096);
	{
		unsigned char fill[4096];
		int fl = fcntl(dst[1], F_GETFL);

		memset(fill, 'f', sizeof(fill));
		fcntl(dst[1], F_SETFL, fl | O_NONBLOCK);
		while (SEAM_REAL(write)(dst[1], fill, sizeof(fill)) > 0)
			;
		fcntl(dst[1], F_SETFL, fl);
	}
	watch_reset_counts();
	watch.limit_why = "every liburing call failed with -EBADR (a broken ring) and ulink_copy "
			  "kept calling: return the error, also when the wait for what is in the "
			  "kernel fails";
	watch.inject_when = WATCH_WHEN_BUSY;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	seam_heap_usage(&heap);
	ret = run_copy_fds(&u, in, dst[1], (off_t)size, block, 1);
	grade_check(watch.injected, "harness: no liburing call was made while the write waited "
		    "on the full pipe (ulink_copy returned %s)", grade_errno_str(ret));
	watch_reset_counts();
	watch.limit_why = NULL;
	grade_check(ret < 0 && ret != -EINTR, "every liburing call failed with -EBADR once a "
		    "write waited in the kernel; ulink_copy returned %s, expected an error",
		    grade_errno_str(ret));
	if (watch_in_kernel(&u.ring) > watch.skip_success) {
		struct seam_heap kept;

		seam_heap_usage(&kept);
		grade_check(kept.bytes - heap.bytes >= (long long)block, "ulink_copy returned %s "
			    "with its write still in the kernel (DST a full pipe, every liburing call "
			    "failing), and %lld byte(s) of what it allocated still allocated: it freed "
			    "the buffer of that write, which the kernel will still read (a read's, it "
			    "would write into). On that one path the buffers of the requests still in "
			    "the kernel stay allocated (ulink.h, ulink_copy: \"left allocated on "
			    "purpose\"; TODO 11; lesson, section 8)", grade_errno_str(ret),
			    kept.bytes - heap.bytes);
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(dst);

	/* -EAGAIN from the first three calls, before anything is in the kernel:
	 * the copy goes on and is exact. */
	init_or_fail(&u, 16);
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_calls = 3;
	watch.inject_err = -EAGAIN;
	copy_and_check(&u, size + 5, block, 4, " with -EAGAIN from its first three liburing calls");

	/* -EAGAIN for good from the first call on, nothing in the kernel: an
	 * error, not a loop. The next copy's count of tries starts at 0: its
	 * one -EAGAIN is its first try, not the tenth. */
	{
		int out = grade_open(grade_path("dst-eagain"), O_RDWR | O_CREAT | O_TRUNC);

		watch_reset_counts();
		watch.limit_why = "every liburing call returned -EAGAIN with nothing in the kernel "
				  "and ulink_copy kept calling: give up after a few tries and return "
				  "the error";
		watch.inject_at = 1;
		watch.inject_err = -EAGAIN;
		watch.inject_forever = true;
		ret = run_copy_fds(&u, in, out, (off_t)size, block, 4);
		watch_reset_counts();
		watch.limit_why = NULL;
		grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EAGAIN from "
			    "the first submit on; ulink_copy returned %s, expected an error",
			    grade_errno_str(ret));
		close(out);
	}
	watch.inject_at = 1;
	watch.inject_calls = 1;
	watch.inject_err = -EAGAIN;
	copy_and_check(&u, size + 7, block, 4, " with -EAGAIN from its first liburing call only, "
		       "right after a ulink_copy that gave up on -EAGAIN from every call (is your "
		       "count of tries kept from one call to the next, in a static or a global? "
		       "Start it at 0 in each call; TODO 11),");
	SEAM_CALL_VOID(ulink_exit(&u));
	close(in);
	free(data);
}

/* 07.35's waits with faults: the first `calls` liburing calls made while
 * the read is in the kernel return err; the script then writes the data. */
static ssize_t deadline_busy_faults(struct ulink *u, int fd, void *buf, size_t len,
				    const struct fault_step *steps, struct fault_report *rep,
				    int err, unsigned calls)
{
	ssize_t ret;

	watch_reset_counts();
	watch.inject_when = WATCH_WHEN_BUSY;
	watch.inject_calls = calls;
	watch.inject_err = err;
	ret = run_deadline_scripted(u, fd, buf, len, 5000, steps, rep);
	watch_reset_counts();
	return ret;
}

URING_TEST(deadline, ring_call_faults, 2,
	   "ulink_read_timeout: -EINTR, -EAGAIN and -EBUSY from its submit and its wait are retried; -EAGAIN without end is an error, not a loop; a broken ring's error comes back as it came",
	   "TODO 5: a liburing call that returns -EINTR or -EAGAIN took nothing and reaped "
	   "nothing: call it again (a few times for -EAGAIN: io_uring_enter(2), EAGAIN); if it "
	   "never stops, return that error. The CQE pointer of a wait is set only when the "
	   "wait returned 0 (lesson, pitfall 7)", 8)
{
	unsigned char buf[64];
	struct fault_report rep;
	struct ulink u;
	ssize_t ret;
	int p[2];
	struct fault_step steps[] = {
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_WRITE, .data = "slept", .len = 5 },
		{ .op = FAULT_END },
	};

	init_or_fail(&u, 8);
	empty_pipe(p);
	steps[1].fd = p[1];
	/* The submission: the data is in the pipe already. */
	/* Three -EINTR, three -EAGAIN, then twenty -EINTR: a signal is not
	 * one of the few tries -EAGAIN gets, it is tried again however often
	 * it comes (ulink.h: -EINTR never comes out of a function). */
	for (int k = 0; k < 3; k++) {
		const char *err = k == 1 ? "-EAGAIN" : "-EINTR";
		const unsigned calls = k == 2 ? 20 : 3;

		grade_check(SEAM_REAL(write)(p[1], "ready", 5) == 5, "harness: write");
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_calls = calls;
		watch.inject_err = k == 1 ? -EAGAIN : -EINTR;
		ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
		watch_reset_counts();
		grade_check(ret == 5 && !memcmp(buf, "ready", 5), "the first %u liburing calls of "
			    "ulink_read_timeout returned %s (the kernel took nothing); on a pipe holding "
			    "5 bytes it returned %s, expected 5: submit again%s", calls, err,
			    grade_errno_str(ret), k == 2 ? ". -EINTR (a signal) is not one of the "
			    "few tries -EAGAIN gets: do not count it, call again as often as it "
			    "comes (ulink.h: \"-EINTR never comes out of a function\")" : "");
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	}
	/* The wait: the data comes only once the module sleeps in
	 * io_uring_enter, and the first three calls made while the read is in
	 * the kernel say -EAGAIN. Four calls in a row, each with its three:
	 * "a few times" counts per call, not for the life of the process. */
	for (int call = 1; call <= 4; call++) {
		ret = deadline_busy_faults(&u, p[0], buf, sizeof(buf), steps, &rep, -EAGAIN, 3);
		grade_check(ret == 5 && !memcmp(buf, "slept", 5), "ulink_read_timeout call %d of 4: "
			    "three liburing calls made while the read was in the kernel returned "
			    "-EAGAIN, then the data came; it returned %s, expected 5: a wait that says "
			    "-EAGAIN reaped nothing, wait again%s", call, grade_errno_str(ret),
			    call > 1 ? ". The calls before it got their three -EAGAIN too and "
			    "worked: is your count of tries kept from one call to the next (a static "
			    "or a global)? Start it at 0 in each call" : "");
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	}
	/* -EBUSY (the CQ full) is -EAGAIN's twin: three from the calls made
	 * while the read is in the kernel, then the data. */
	ret = deadline_busy_faults(&u, p[0], buf, sizeof(buf), steps, &rep, -EBUSY, 3);
	grade_check(ret == 5 && !memcmp(buf, "slept", 5), "three liburing calls made while the "
		    "read was in the kernel returned -EBUSY, then the data came; "
		    "ulink_read_timeout returned %s, expected 5: -EBUSY from a wait (or a submit) "
		    "is treated like -EAGAIN, reap and call again a few times (ulink.h: \"-EAGAIN "
		    "or -EBUSY\"; io_uring_enter(2), EBUSY)", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	/* Twenty -EINTR in a row from the calls made while the read is in the
	 * kernel (a signal at each wait): each is waited again, not counted. */
	ret = deadline_busy_faults(&u, p[0], buf, sizeof(buf), steps, &rep, -EINTR, 20);
	grade_check(ret == 5 && !memcmp(buf, "slept", 5), "twenty liburing calls in a row "
		    "made while the read was in the kernel returned -EINTR (a signal each "
		    "time), then the data came; ulink_read_timeout returned %s, expected 5: "
		    "-EINTR is not one of the few tries -EAGAIN gets; do not count it, wait "
		    "again as often as it comes (ulink.h: \"-EINTR never comes out of a "
		    "function\")", grade_errno_str(ret));
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	SEAM_CALL_VOID(ulink_exit(&u));

	/* -EAGAIN for good: from the submission on, then from the wait on;
	 * then -EBADR (the ring broken) from the wait on: that error, as it
	 * came, not -ETIME (which would say both CQEs were reaped). A module
	 * that submits and waits for both CQEs in one call
	 * (io_uring_submit_and_wait with 2) makes no call while the read is in
	 * the kernel: no error reaches it, the silent pipe's deadline passes,
	 * and -ETIME with both CQEs reaped is then the right answer. */
	for (int k = 0; k < 3; k++) {
		const int err = k < 2 ? -EAGAIN : -EBADR;
		const unsigned ms = k == 0 ? 3000 : 1000;
		bool injected;

		init_or_fail(&u, 8);
		watch_reset_counts();
		watch.limit_why = "every liburing call returned an error and ulink_read_timeout kept "
				  "calling: give up after a few tries and return the error";
		if (k == 0)
			watch.inject_at = 1;
		else
			watch.inject_when = WATCH_WHEN_BUSY;
		watch.inject_err = err;
		watch.inject_forever = true;
		ret = run_deadline(&u, p[0], buf, sizeof(buf), ms);
		injected = watch.injected;
		watch_reset_counts();
		watch.limit_why = NULL;
		if (k > 0 && !injected) {
			grade_check(ret == -ETIME, "ulink_read_timeout made no liburing call while its "
				    "read was in the kernel (it submitted and waited in one call), so "
				    "no error reached it; on a silent pipe with a deadline of %u ms it "
				    "returned %s, expected -ETIME (TODO 5)", ms, grade_errno_str(ret));
			check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
			SEAM_CALL_VOID(ulink_exit(&u));
			continue;
		}
		grade_check(ret == err, "every liburing call %s returned %s; ulink_read_timeout "
			    "returned %s, expected %s: the call's own error, as it came (ulink.h: "
			    "\"if it never stops, return it\"; \"anything else: ... return the "
			    "error\"). Not -ETIME: that would tell the caller the deadline passed and "
			    "both CQEs were reaped, with the read still in the kernel (TODO 5)",
			    k == 0 ? "from the submission on" : "made while the read was in the kernel",
			    grade_errno_str(err), grade_errno_str(ret), grade_errno_str(err));
		if (k == 0) {
			/* The call that gave up is over: the next one starts its
			 * count of tries at 0, and one -EAGAIN is one try. */
			grade_check(SEAM_REAL(write)(p[1], "again", 5) == 5, "harness: write");
			watch_reset_counts();
			watch.inject_at = 1;
			watch.inject_calls = 1;
			watch.inject_err = -EAGAIN;
			ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
			watch_reset_counts();
			grade_check(ret == 5 && !memcmp(buf, "again", 5), "after a call that gave up on "
				    "-EAGAIN from every submit, the next ulink_read_timeout got one -EAGAIN "
				    "from its first submit, then none; on a pipe holding 5 bytes it returned "
				    "%s, expected 5: is your count of tries kept from one call to the next "
				    "(a static or a global)? Start it at 0 in each call", grade_errno_str(ret));
			check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
		}
		SEAM_CALL_VOID(ulink_exit(&u));
	}

	/* -EBADR once, from the first call made while the read is in the
	 * kernel: not -EINTR, -EAGAIN or -EBUSY, so the ring is broken for this
	 * call and that error is the answer, even though a second wait would
	 * have worked. (No call while the read is in the kernel: -ETIME.) */
	{
		bool injected;

		init_or_fail(&u, 8);
		watch_reset_counts();
		watch.inject_when = WATCH_WHEN_BUSY;
		watch.inject_err = -EBADR;
		ret = run_deadline(&u, p[0], buf, sizeof(buf), 400);
		injected = watch.injected;
		watch_reset_counts();
		grade_check(injected ? ret == -EBADR : ret == -ETIME, "the first liburing call "
			    "ulink_read_timeout made while its read was in the kernel returned -EBADR "
			    "once (a second call would have worked); it returned %s, expected -EBADR: "
			    "only -EINTR, -EAGAIN and -EBUSY are tried again; any other error is the "
			    "call's answer, as it came (ulink.h: \"anything else: the ring is broken "
			    "for this call: return the error\"; TODO 5)", grade_errno_str(ret));
		SEAM_CALL_VOID(ulink_exit(&u));
	}
	close_pipe(p);
}

URING_TEST(cancel, failed_submissions, 2,
	   "ulink_start_read/ulink_read_timeout on a ring of 2 whose submissions fail (-EBADR): an error, nothing started or leaked; leftovers in the SQ neither stop the next calls nor split a read from its timeout or its write",
	   "TODOs 4, 6, 7 and 9: a read whose submission failed was not started and must never "
	   "start later; what you allocated for it goes. The SQ may be left full, or with one "
	   "free slot: the next call (a cancel too) must still find room for all the SQEs of a "
	   "link (a read and its timeout, a read and its write) before it takes the first "
	   "(lesson, pitfalls 4 and 22; man 3 io_uring_sq_space_left)", 2)
{
	unsigned char buf[32], other[16];
	struct ulink_done done[2];
	struct seam_heap heap;
	struct ulink u;
	ssize_t ret;
	int p[2], n;

	init_or_fail(&u, 2);
	empty_pipe(p);
	memset(other, 0xa5, sizeof(other));
	seam_heap_usage(&heap);
	for (int round = 0; round < 2; round++) {
		/* Every liburing call fails: round 1 after a deadline read that
		 * failed the same way (what it queued may fill the SQ), round 2
		 * on an empty SQ. */
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_err = -EBADR;
		watch.inject_forever = true;
		if (round == 0) {
			ret = run_deadline(&u, p[0], buf, sizeof(buf), 500);
			grade_check(ret == -EBADR, "every liburing call returned -EBADR; "
				    "ulink_read_timeout on a ring of 2 returned %s, expected -EBADR: "
				    "a failed submission's -errno is the answer, as it came (ulink.h: "
				    "\"anything else: ... return the error\"; TODO 4)",
				    grade_errno_str(ret));
		}
		n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 7));
		watch_reset_counts();
		grade_check(n == -EBADR && u.inflight == 0, "every liburing call returned -EBADR%s; "
			    "ulink_start_read returned %s with u.inflight %u, expected -EBADR (the "
			    "-errno of the submission, as it came) and nothing started (ulink.h, "
			    "ulink_start_read; TODO 6)", round == 0 ? " (after a deadline read that "
			    "failed the same way)" : "", grade_errno_str(n), u.inflight);
		check_failed_call_clean(&u, "after ulink_start_read returned an error", "TODO 6");
		grade_check_heap(&heap, "ulink_start_read calls whose submission failed");
		if (round == 1)
			break;
		/* The ring works again: a deadline read on a ring of 2 needs both
		 * slots, whatever the failed calls left queued. */
		grade_check(SEAM_REAL(write)(p[1], "fine", 4) == 4, "harness: write");
		ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
		grade_check(ret == 4 && !memcmp(buf, "fine", 4), "after calls whose submission "
			    "failed, ulink_read_timeout on a ring of 2 (a pipe holding 4 bytes) "
			    "returned %s, expected 4: submit what the failed calls left queued, then "
			    "the SQ has room for the read and its timeout (TODO 4)",
			    grade_errno_str(ret));
		check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");
	}
	/* One SQE left queued (the failed ulink_start_read's, taken back): one
	 * free slot in the SQ of 2. The read and its link timeout must still
	 * reach the kernel in one submission: submitted apart, the read runs
	 * without a deadline (the timeout, alone, guards nothing). (A module
	 * that takes its SQEs back out of the SQ leaves it empty: then these
	 * checks hold at once.) */
	grade_check(SEAM_REAL(write)(p[1], "again", 5) == 5, "harness: write");
	deadline_watch();
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 3000);
	watch.on_sqe = NULL;
	grade_check(ret == 5 && !memcmp(buf, "again", 5), "after a ulink_start_read whose "
		    "submission failed, ulink_read_timeout on a ring of 2 (a pipe holding 5 bytes) "
		    "returned %s, expected 5", grade_errno_str(ret));
	grade_check(dl.reads >= 1 && dl.linked == dl.reads, "with one SQE left queued by a failed "
		    "call (one free slot in the SQ of 2), ulink_read_timeout handed the kernel %u "
		    "read(s), only %u of them with its link timeout in the same submission: the "
		    "read went alone, with no deadline (on a silent pipe it would wait for ever). "
		    "Make room for both SQEs before you take the first: if io_uring_sq_space_left "
		    "is below 2, submit what is queued first (TODO 4; lesson, pitfall 4)", dl.reads,
		    dl.linked);
	check_ring_clean(&u, "after ulink_read_timeout returned", "TODO 5");

	/* The same for a copy's pair: one SQE left queued, a ring of 2 (one pair
	 * at a time). The read and its write go in one submission. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 8));
	watch_reset_counts();
	grade_check(n < 0 && u.inflight == 0, "every liburing call returned -EBADR; "
		    "ulink_start_read returned %s with u.inflight %u, expected an error and "
		    "nothing started (ulink.h)", grade_errno_str(n), u.inflight);
	copy_watch();
	copy_and_check(&u, 5 * 4096 + 321, 4096, 1, " on a ring of 2, one SQE left queued by a "
		       "failed call");
	watch.on_sqe = NULL;
	grade_check(cp.split == 0 && cp.unlinked_reads == 0, "with one SQE left queued by a failed "
		    "call (one free slot in the SQ of 2), ulink_copy handed the kernel %u linked "
		    "read(s) as the last SQE of their submission, their write in the next one (and "
		    "%u read(s) without IOSQE_IO_LINK): a link does not cross submissions, so that "
		    "write ran unchained, whatever its read did. Make room for the pair's two SQEs "
		    "before you take the read's: submit what is queued first when "
		    "io_uring_sq_space_left is below 2 (TODO 9; lesson, pitfalls 4 and 18)",
		    cp.split, cp.unlinked_reads);

	n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 9));
	grade_check(n == 0, "after a ulink_start_read whose submission failed, the next one "
		    "returned %s, expected 0", grade_errno_str(n));
	/* Two more reads whose submissions fail, with that one in flight: what
	 * they leave queued may fill the SQ. The cancel still needs its slot. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	for (int k = 0; k < 2; k++) {
		n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 20 + k));
		grade_check(n < 0 && u.inflight == 1, "every liburing call returned -EBADR; "
			    "ulink_start_read with one read in flight returned %s with u.inflight "
			    "%u, expected an error and still 1", grade_errno_str(n), u.inflight);
	}
	watch_reset_counts();
	n = SEAM_CALL(ulink_cancel_all(&u, done, 2));
	grade_check(n == 1 && done[0].tag == 9 && done[0].res == -ECANCELED, "ulink_cancel_all "
		    "with one read started (tag 9), after two calls whose submission failed (what "
		    "they left queued may fill the SQ of 2), returned %s (first tag %llu, %s): the "
		    "reads whose submission failed must not have been started, and the cancel "
		    "needs a free slot: when io_uring_get_sqe has none, submit what is queued "
		    "first (TODO 7; io_uring_sq_space_left)", grade_errno_str(n),
		    n > 0 ? (unsigned long long)done[0].tag : 0ull,
		    n > 0 ? grade_errno_str(done[0].res) : "-");
	check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
	check_pipe_let_go(p, other, sizeof(other), 0xa5, "after ulink_cancel_all returned",
			  "TODO 7");

	/* A deadline read whose submission failed may leave the SQ of 2 full
	 * (its read and its timeout, taken back as NOPs). The ring works again:
	 * the next ulink_start_read submits what is queued to find its slot;
	 * nothing is in flight, so -EBUSY ("full") is not the answer. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = run_deadline(&u, p[0], buf, sizeof(buf), 500);
	watch_reset_counts();
	grade_check(ret == -EBADR, "every liburing call returned -EBADR; "
		    "ulink_read_timeout on a ring of 2 returned %s, expected -EBADR (the "
		    "submission's own -errno; TODO 4)", grade_errno_str(ret));
	{
		unsigned queued = io_uring_sq_ready(&u.ring);

		memset(other, 0xa5, sizeof(other));
		n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 30));
		grade_check(n == 0 && u.inflight == 1, "after a ulink_read_timeout whose submission "
			    "failed (it left %u SQE(s) in the SQ of 2), ulink_start_read with nothing "
			    "in flight returned %s (u.inflight %u), expected 0 and 1: -EBUSY means %u "
			    "reads in flight, not an SQ full of what a failed call left. When "
			    "io_uring_get_sqe has no slot, submit what is queued first (TODO 6; "
			    "io_uring_sq_space_left; lesson, pitfall 22)", queued, grade_errno_str(n),
			    u.inflight, u.sq_entries);
		grade_check(io_uring_cq_ready(&u.ring) == 0, "after a ulink_read_timeout whose "
			    "submission failed (it left %u SQE(s) in the SQ of 2), ulink_start_read "
			    "of an empty pipe, with nothing else in flight, left %u CQE(s) in the CQ: "
			    "the SQEs the failed call took back reached the kernel with this "
			    "submission and each posted a CQE that nobody reaps (ulink_start_read "
			    "reaps nothing, and cannot reap behind a read's CQE). Take SQEs back so "
			    "that they post nothing (a NOP with IOSQE_CQE_SKIP_SUCCESS) or out of the "
			    "SQ (ulink.h: the CQ is left as the call found it; TODO 6; lesson, "
			    "pitfall 22)", queued, io_uring_cq_ready(&u.ring));
		n = SEAM_CALL(ulink_cancel_all(&u, done, 2));
		grade_check(n == 1 && done[0].tag == 30 && done[0].res == -ECANCELED,
			    "ulink_cancel_all with the read tagged 30 in flight returned %s (first "
			    "tag %llu, %s), expected 1 with -ECANCELED (TODO 7)", grade_errno_str(n),
			    n > 0 ? (unsigned long long)done[0].tag : 0ull,
			    n > 0 ? grade_errno_str(done[0].res) : "-");
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
		check_pipe_let_go(p, other, sizeof(other), 0xa5, "after ulink_cancel_all returned",
				  "TODO 7");
	}

	/* -EBADR once, not for good: the next call would work. It is not
	 * -EINTR, -EAGAIN or -EBUSY, so it is the answer (ulink.h: "anything
	 * else: ... return the error"); a submit tried again would start a
	 * read the caller is told failed. */
	for (int fn = 0; fn < 2; fn++) {
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_err = -EBADR;
		if (fn == 0) {
			memset(other, 0xa5, sizeof(other));
			n = SEAM_CALL(ulink_start_read(&u, p[0], other, sizeof(other), -1, 40));
		} else {
			n = (int)run_deadline(&u, p[0], buf, sizeof(buf), 300);
		}
		watch_reset_counts();
		grade_check(n == -EBADR && u.inflight == 0, "the first liburing call of %s "
			    "returned -EBADR once (the next one would have worked); it returned %s "
			    "with u.inflight %u, expected -EBADR and nothing started: only -EINTR, "
			    "-EAGAIN and -EBUSY are tried again; any other error of a submission is "
			    "the answer, as it came, and the read it carried must never start "
			    "(ulink.h: \"anything else: the ring is broken for this call: return the "
			    "error\"; TODO %d; lesson, pitfall 22)", fn == 0 ? "ulink_start_read" :
			    "ulink_read_timeout (on a silent pipe, 300 ms)", grade_errno_str(n),
			    u.inflight, fn == 0 ? 6 : 4);
		if (n == 0 && fn == 0)
			(void)SEAM_CALL(ulink_cancel_all(&u, NULL, 0));
		check_failed_call_clean(&u, fn == 0 ? "after ulink_start_read returned an error" :
					"after ulink_read_timeout returned an error",
					fn == 0 ? "TODO 6" : "TODO 4");
		if (fn == 0)
			check_pipe_let_go(p, other, sizeof(other), 0xa5, "after ulink_start_read "
					  "returned -EBADR", "TODO 6");
	}
	SEAM_CALL_VOID(ulink_exit(&u));
	close_pipe(p);
}

/* ------------------------------------------- lcopy: DST a FIFO, DST kept */

/* Chapter 06's copy is graded on these two cases too (its lesson's table,
 * "The program"); lcopy has the same command line and behaviour. */

GRADE_TEST(copy, into_fifo, 2,
	   "lcopy into a FIFO whose reader waits until the pipe is full: the short write is "
	   "continued from the right byte; stopped and continued (SIGSTOP, SIGCONT) while it "
	   "waits, the copy goes on",
	   COPY_TODO_SHORT_WRITE ": a pipe takes what fits and the write comes back short; the "
	   "rest starts at buf + written, offset + written (man 2 write). DST is not a regular "
	   "file here: only a regular DST is truncated (" COPY_TODO_OPEN "). A wait in "
	   "io_uring_enter ended by a stop and a continue returns -EINTR, which is not an "
	   "error: submit and wait again (io_uring_enter(2), ERRORS; lesson, pitfall 7)")
{
	copy_setup();
	copy_into_fifo(false);
	copy_into_fifo(true);
}

/* An existing DST is emptied in place (copy_battery.h). */
GRADE_TEST(copy, existing_dst_in_place, 1,
	   "lcopy: an existing DST is emptied in place: the same inode, its mode kept, a hard "
	   "link to it sees the copy; emptied before the copy, not cut after it",
	   COPY_TODO_OPEN ": \"truncated if it exists\" means the same file emptied (O_TRUNC or "
	   "ftruncate once it is known not to be SRC), not removed and made again: that is a new "
	   "inode with a new mode, and a hard link to DST would keep the old data (man 2 open, "
	   "O_TRUNC; man 2 unlink; chapter 06's lesson, \"The program\")")
{
	copy_existing_dst_in_place();
	copy_fails_over_existing_dst(600000, 300000, 100000 + 777);
	copy_fails_over_existing_dst(200000, 300000, 100000 + 777);
}

/* TODO 12's one requirement beyond the copy itself: a message naming the
 * file the error concerns. The battery (07.28) asks only for some message
 * when the writes fail; lcopy.c's copy_failed() knows that ENOSPC is DST's. */
GRADE_TEST(copy, error_names_file, 1,
	   "lcopy: a copy whose writes fail (DST /dev/full, ENOSPC) says so naming DST, a missing SRC naming SRC, non-zero",
	   "TODO 12 (lcopy.c): on failure, a message that names the file the error concerns: "
	   "ulink_copy returns -errno without saying whose, copy_failed() knows (ENOSPC is "
	   "DST's); pass it -ret")
{
	unsigned char *data = grade_random_bytes(300000);
	const char *src;
	struct prog_result r;

	copy_setup();
	src = grade_make_file("src", data, 300000);
	run_copy(src, "/dev/full", &r, NULL);
	grade_check(!strstr(r.err, strerror(0)) && !strstr(r.out, strerror(0)), "lcopy with DST "
		    "/dev/full printed %s: \"%s\" is strerror(0). errno was read after "
		    "ulink_copy, which returns -errno and leaves errno alone; the error is -ret "
		    "(TODO 12)", prog_stderr_line(&r), strerror(0));
	check_failed(&r, "with DST /dev/full (every write fails with ENOSPC)", "/dev/full",
		     dst_roles);

	/* A missing SRC is SRC's error: naming DST sends the user to the wrong
	 * file. The test directory is taken out of the message first: its path
	 * may hold a word such as "src" whatever file the message names. */
	run_copy(grade_path("missing-source"), grade_path("plain-dst"), &r, NULL);
	check_failed(&r, "with a missing SRC (open fails with ENOENT)", NULL, NULL);
	{
		char msg[sizeof(r.err) + sizeof(r.out) + 2];

		snprintf(msg, sizeof(msg), "%s\n%s", r.err, r.out);
		strip_test_dir(msg);
		grade_check(names_file(msg, "missing-source", src_roles), "lcopy with a missing SRC "
			    "(%s) printed %s: the message does not name SRC, the file that could "
			    "not be opened: name it by its path or as the source (a message naming "
			    "DST sends the user to the wrong file; lcopy.c's open_files(), given "
			    "complete in the skeleton, does it right)",
			    grade_path("missing-source"), prog_stderr_line(&r));
	}
	free(data);
}

/* SRC's size is an off_t: a SRC past 4 GiB must not be copied as its size
 * modulo 2^32. The file is sparse (4096 bytes of data, then a hole), and a
 * file-size limit of 1 MiB + 777 bytes stops the copy there, so nothing
 * near 4 GiB is ever read or written: the copy must fail at the limit. Cut
 * to 32 bits, the size is 4097 bytes, which copy quietly and exit 0. */
GRADE_TEST(copy, src_past_4gib, 1,
	   "lcopy: a sparse SRC of 4 GiB + 4097 bytes under a file-size limit of 1 MiB + 777: the copy goes past 4097 bytes and fails at the limit: non-zero, with a message naming DST (the write that failed is DST's)",
	   "TODO 12 (lcopy.c): SRC's size is an off_t (f->size): through an int or an unsigned, "
	   "4 GiB + 4097 becomes 4097 and the copy stops there with status 0. Pass it to "
	   "ulink_copy as it is (man 2 stat, st_size; lesson, pitfall 16: past 4 GiB a size "
	   "does not fit 32 bits). The EFBIG at the limit is DST's: copy_failed() names DST")
{
	const off_t big = ((off_t)1 << 32) + 4097;
	const rlim_t limit = 1048576 + 777;
	unsigned char *data = grade_random_bytes(4096);
	const char *src, *dst = grade_path("big-dst");
	struct prog_opts o = { .fsize_limit = limit };
	struct prog_result r;
	struct stat st;

	copy_setup();
	copy_must_work();
	src = grade_make_file("big-src", data, 4096);
	grade_check(truncate(src, big) == 0, "harness: truncate to 4 GiB + 4097: %s",
		    strerror(errno));
	run_copy(src, dst, &r, &o);
	grade_check(stat(dst, &st) == 0, "lcopy of a sparse SRC of 4 GiB + 4097 bytes did not "
		    "create DST (%s): %s; stderr: %s", strerror(errno), prog_ending(&r),
		    prog_stderr_line(&r));
	grade_check(!(r.exited && r.status == 0), "lcopy of a sparse SRC of 4 GiB + 4097 bytes "
		    "(%lld) under a file-size limit of %llu bytes exited 0 with DST of %lld bytes: "
		    "SRC's size was cut to 32 bits (an int or an unsigned holds 4 GiB + 4097 as "
		    "4097). Expected the copy to reach the limit and fail there (-EFBIG). Keep the "
		    "size in an off_t and pass f->size to ulink_copy as it is (TODO 12)",
		    (long long)big, (unsigned long long)limit, (long long)st.st_size);
	grade_check(st.st_size > 4097, "lcopy of a sparse SRC of 4 GiB + 4097 bytes under a "
		    "file-size limit of %llu bytes (%s) left DST with %lld bytes: the blocks below "
		    "the limit (128 KiB each) are written before any write can fail, so the copy "
		    "stopped early; was SRC's size cut to 32 bits (4097)? (TODO 12)",
		    (unsigned long long)limit, prog_ending(&r), (long long)st.st_size);
	/* The write past the limit fails with EFBIG: DST's error, so the
	 * message names DST (lesson, chapter 06's pitfalls: a message naming
	 * the file). */
	check_failed(&r, "of a sparse SRC of 4 GiB + 4097 bytes under a file-size limit of "
		     "1 MiB + 777 bytes (a write of DST fails with EFBIG)", dst, dst_roles);
	unlink(src);
	unlink(dst);
	free(data);
}

/* copy_battery.h's copy_mode_not_from_source: SRC of mode 0600 and 0755,
 * an empty SRC over a longer DST (chapter 06's lesson, "The program": the
 * table of what is graded). */
GRADE_TEST(copy, mode_not_from_source, 1,
	   "lcopy: a new DST gets mode 0644 less the umask whatever SRC's mode (0600, 0755); an empty SRC empties a longer DST",
	   "open_files (given in lcopy.c): DST is created with mode 0644 (less the umask), not "
	   "with SRC's mode (that is cp -p): pass 0644 to open; an existing DST is emptied once "
	   "it is known not to be SRC, whatever SRC's size, also 0 (man 2 open, \"mode\", "
	   "O_TRUNC; chapter 06's lesson, \"The program\")")
{
	copy_setup();
	copy_must_work();
	free(copy_mode_not_from_source());
}

/* ------------------------------------------- SRC cut short while copying */

/* copy_battery.h's copy_source_shrinks: SRC cut from 2 MiB to 300000 bytes
 * at lcopy's first io_uring_enter that submits reads. The block across the
 * new end comes back short and the ones past it with 0, so ulink_copy
 * answers -EIO, having stopped before it wrote the short block's bytes.
 * Taking -EIO for "the file ended, done" exits 0 with DST short. */
GRADE_TEST_T(copy, source_shrinks, 1,
	     "lcopy: SRC cut from 2 MiB to 300000 bytes once its first reads are submitted: exit "
	     "0 only with DST holding those 300000 bytes, else a message and non-zero",
	     "TODO 12 (copy_failed): ulink_copy's -EIO after a read of 0 is an error, not the end "
	     "of the copy: it stopped at the first error, and bytes before the new end may not "
	     "be written (ulink.h, ulink_copy: \"After the first error no new pair is "
	     "started\"). Report it and exit non-zero (chapter 06's lesson, \"The program\": "
	     "SRC cut short)", 20)
{
	copy_source_shrinks("a read of 0 is -EIO, not a read to try again",
			    "ulink_copy returned -EIO there and stopped at that first error: "
			    "report it, non-zero");
}

/* ------------------------------- a cancel that finds the reads completing */

/* The cancel found nothing (-ENOENT): the reads were completing as it
 * looked, and their CQEs come later (ulink.h: "-ENOENT from a cancel means
 * the read had already completed: its CQE is (or will be) in the CQ").
 * Made on demand: the first cancel request the module submits becomes a NOP
 * that answers -ENOENT, and each wait it makes from then on first gives one
 * of the reads (nr of them, for a wait for nr) 8 bytes, so every read ends
 * while the module waits. A later cancel request is left as it is. */
static struct {
	int wfd[4];
	unsigned n, fed;
	unsigned turned; /* cancel requests turned into -ENOENT NOPs */
} late;

static void late_cancel_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	/* The SQE is still in the SQ, not yet the kernel's: rewriting it here
	 * is what the watch does to the reads it cuts short. */
	if (sqe->opcode == IORING_OP_ASYNC_CANCEL && late.turned == 0) {
		late.turned++;
		watch_nop_sqe((struct io_uring_sqe *)sqe, -ENOENT);
	}
}

static void late_feed(struct io_uring *ring, unsigned nr)
{
	(void)ring;
	if (!late.turned)
		return;
	for (; nr > 0 && late.fed < late.n; nr--)
		if (SEAM_REAL(write)(late.wfd[late.fed++], "DRAINED!", 8) != 8)
			grade_fail("harness: cannot feed a pipe");
}

/* Arm the scenario for the 4 reads of pipes[][0] (the writing ends fed by
 * late_feed), the watch's counts from zero; the caller picks the faults of
 * the waits. */
static void late_arm(int pipes[4][2])
{
	memset(&late, 0, sizeof(late));
	for (int i = 0; i < 4; i++)
		late.wfd[i] = pipes[i][1];
	late.n = 4;
	watch_reset_counts();
	watch.on_sqe = late_cancel_sqe;
	watch.before_wait = late_feed;
}

/* What the child of late_broken_wait_round saw. */
struct broken_wait_report {
	int setup;         /* 0, or what failed before the cancel (-errno)   */
	int n;             /* ulink_cancel_all's result                      */
	unsigned inflight; /* u.inflight after it                            */
	bool injected;     /* a wait was failed                              */
};

static void late_broken_wait_child(int out)
{
	struct broken_wait_report rep = { 0 };
	unsigned char bufs[4][32];
	int pipes[4][2];
	struct ulink u2;

	rep.setup = SEAM_CALL(ulink_init(&u2, 16));
	for (int i = 0; i < 4 && rep.setup == 0; i++) {
		if (pipe2(pipes[i], O_CLOEXEC) != 0)
			rep.setup = -errno;
		else
			rep.setup = SEAM_CALL(ulink_start_read(&u2, pipes[i][0], bufs[i], 32, -1, 80 + i));
	}
	if (rep.setup == 0) {
		late_arm(pipes);
		watch.inject_when = WATCH_WHEN_WAITS_BUSY;
		watch.inject_err = -EBADR;
		watch.inject_forever = true;
		watch.limit_why = "every wait of ulink_cancel_all returned -EBADR and it kept "
				  "calling: an error other than -EINTR, -EAGAIN, -EBUSY is returned "
				  "(ulink.h; TODO 7)";
		rep.n = SEAM_CALL(ulink_cancel_all(&u2, NULL, 0));
		rep.injected = watch.injected;
		rep.inflight = u2.inflight;
	}
	if (SEAM_REAL(write)(out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(2);
	_exit(0);
}

static void late_broken_wait_round(void)
{
	struct broken_wait_report rep;
	int p[2], status = 0;
	ssize_t got;
	pid_t pid;

	grade_check(pipe2(p, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	grade_check(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		late_broken_wait_child(p[1]);
	}
	close(p[1]);
	for (int waited = 0;; waited += 10) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 || waited >= 4000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(p[0]);
			grade_check(false, "ulink_cancel_all with 4 reads in flight, whose cancel said "
				    "-ENOENT and whose every wait then said -EBADR (the ring broken), did "
				    "not return within 4 s: an error other than -EINTR, -EAGAIN, -EBUSY "
				    "from a wait is returned (ulink.h; TODO 7)");
		}
		SEAM_REAL(usleep)(10000);
	}
	got = SEAM_REAL(read)(p[0], &rep, sizeof(rep));
	close(p[0]);
	grade_check(got == (ssize_t)sizeof(rep), "ulink_cancel_all in the test's child process "
		    "ended it (%s %d) before it could report: a module that calls exit() or "
		    "crashes when a wait fails", WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	grade_check(rep.setup == 0, "in a fresh ring of 16, ulink_init or ulink_start_read "
		    "returned %s (TODOs 1, 6)", grade_errno_str(rep.setup));
	if (rep.injected)
		grade_check(rep.n == -EBADR && rep.inflight == 4, "ulink_cancel_all with 4 reads in "
			    "flight, whose cancel said -ENOENT (the reads were completing) and whose "
			    "every wait then said -EBADR (the ring broken), returned %s with "
			    "u.inflight %u; expected -EBADR with u.inflight 4. No read's CQE was "
			    "reaped, so all 4 are still in flight: u->inflight counts the reads whose "
			    "CQE has not been reaped (ulink.h, struct ulink), and ulink_exit relies on "
			    "it to cancel them before the ring goes. Lower it per read CQE reaped, not "
			    "when the cancel starts (TODO 7)", grade_errno_str(rep.n), rep.inflight);
	else
		grade_check(rep.n == 4 && rep.inflight == 0, "ulink_cancel_all with 4 reads in "
			    "flight, whose cancel said -ENOENT, returned %s with u.inflight %u, "
			    "expected 4 and 0 (TODO 7)", grade_errno_str(rep.n), rep.inflight);
}

URING_TEST(cancel, waits_for_late_reads, 2,
	   "ulink_cancel_all: a cancel that finds the reads completing (-ENOENT), their CQEs later: waits interrupted by -EINTR or -EAGAIN are resumed until every read is reaped, with its bytes; a wait that fails for good leaves them counted in flight",
	   "TODO 7: -ENOENT from the cancel does not end the reads, their CQEs are still to "
	   "come; -EINTR from a wait means a signal came, not that a read ended, and -EAGAIN "
	   "means try again: wait again until every read has its CQE (ulink.h: \"A wait "
	   "interrupted by a signal is resumed\"; lesson, section 6; pitfall 7); a wait that "
	   "fails for good is returned with u->inflight still counting the reads not reaped "
	   "(pitfall 10)", 16)
{
	static const int errs[] = { -EINTR, -EAGAIN };
	static const char *const names[] = { "-EINTR", "-EAGAIN" };
	unsigned char bufs[4][32];
	struct ulink_done done[4];
	struct seam_heap heap;
	int pipes[4][2], n;
	struct ulink u;

	init_or_fail(&u, 16);
	for (int i = 0; i < 4; i++)
		empty_pipe(pipes[i]);
	for (int round = 0; round < 2; round++) {
		bool injected, seen[4] = { false };

		seam_heap_usage(&heap);
		memset(bufs, 0xa5, sizeof(bufs));
		for (int i = 0; i < 4; i++) {
			n = SEAM_CALL(ulink_start_read(&u, pipes[i][0], bufs[i], 32, -1, 70 + i));
			grade_check(n == 0, "ulink_start_read on an empty pipe returned %s (TODO 6)",
				    grade_errno_str(n));
		}
		late_arm(pipes);
		/* Three waits in a row fail, from the first that must sleep for
		 * a read in the kernel. */
		watch.inject_when = WATCH_WHEN_WAITS_BUSY;
		watch.inject_err = errs[round];
		watch.inject_calls = 3;
		watch.limit_why = "ulink_cancel_all kept calling liburing after its cancel said "
				  "-ENOENT and its waits said -EINTR or -EAGAIN: wait for the reads' "
				  "CQEs (TODO 7)";
		memset(done, 0x5a, sizeof(done));
		n = SEAM_CALL(ulink_cancel_all(&u, done, 4));
		injected = watch.injected;
		watch.on_sqe = NULL;
		watch.before_wait = NULL;
		watch_reset_counts();
		watch.limit_why = NULL;
		grade_check(n == 4 && u.inflight == 0, "ulink_cancel_all with 4 reads in flight, "
			    "whose cancel said -ENOENT (the reads were completing) and whose next %s "
			    "returned %s, returned %s with u.inflight %u; expected 4 and 0. A wait that "
			    "says %s reaped nothing: wait again, the reads' CQEs are still to come "
			    "(ulink.h, ulink_cancel_all: \"A wait interrupted by a signal is "
			    "resumed\"; -EAGAIN: \"call again, a few times\"; TODO 7)",
			    injected ? "three waits" : "waits (none was made)", names[round],
			    grade_errno_str(n), u.inflight, names[round]);
		for (int k = 0; k < 4; k++) {
			unsigned i = (unsigned)(done[k].tag - 70);

			grade_check(done[k].tag >= 70 && done[k].tag < 74 && !seen[i], "ulink_cancel_all "
				    "reported tag %llu in done[%d], expected each of the tags 70-73 once",
				    (unsigned long long)done[k].tag, k);
			seen[i] = true;
			grade_check((done[k].res == 8 && !memcmp(bufs[i], "DRAINED!", 8)) ||
				    done[k].res == -ECANCELED, "the read tagged %llu was reported with "
				    "%s, expected the 8 bytes it read once its data came (or -ECANCELED "
				    "from a later cancel): each read is reported with its own CQE's "
				    "result (TODO 7)", (unsigned long long)done[k].tag,
				    grade_errno_str(done[k].res));
		}
		check_ring_clean(&u, "after ulink_cancel_all returned", "TODO 7");
		grade_check_heap(&heap, "four ulink_start_read calls and a ulink_cancel_all whose "
				 "waits were interrupted: every read reported is over, free what you "
				 "kept for it (TODOs 6, 7)");
		/* What the pipes still hold (reads a later cancel caught) goes. */
		for (int i = 0; i < 4; i++) {
			char drain[64];
			int fl = fcntl(pipes[i][0], F_GETFL);

			fcntl(pipes[i][0], F_SETFL, fl | O_NONBLOCK);
			while (SEAM_REAL(read)(pipes[i][0], drain, sizeof(drain)) > 0)
				;
			fcntl(pipes[i][0], F_SETFL, fl);
		}
	}

	/* The same cancel (-ENOENT, the reads still to come), then every wait
	 * that must sleep fails for good (-EBADR: the ring broken): that error,
	 * with the 4 reads still counted in inflight, since no CQE of theirs was
	 * reaped (ulink.h, struct ulink). A ring whose waits failed is not asked
	 * for anything more: this round runs in a child process, on a ring and
	 * pipes of its own, which reports and exits. */
	late_broken_wait_round();
	SEAM_CALL_VOID(ulink_exit(&u));
	for (int i = 0; i < 4; i++)
		close_pipe(pipes[i]);
}

/* ------------------------------ lcopy run by hand, confined in the child */

/*
 * Two tests run lcopy in a child of their own instead of through prog_run,
 * because the child must first take something away from itself: the right
 * to write SRC (07.44, a Landlock layer), or io_uring (07.45, a seccomp
 * filter). Both stay across execve. The child proves its confinement before
 * it runs lcopy, so a harness that failed to confine it is said so, never
 * graded (lib/confined.h, confined_run). 07.44 is chapter 06's test of a
 * SRC copy may only read, in lcopy's words.
 */
GRADE_TEST_T(copy, source_read_only, 1,
	     "lcopy: a SRC it may read but not write (open for writing refused: EACCES, also as root) is copied byte for byte",
	     "open_files (given in lcopy.c): SRC is only read, so it is opened O_RDONLY. O_RDWR "
	     "asks for a right lcopy does not need, and a read-only file, another user's file or a "
	     "file on a read-only mount refuses it (man 2 open, EACCES and EROFS; chapter 06's "
	     "lesson, \"The program\")", 20)
{
	copy_setup();
	copy_must_work();
	confined_src_read_only_test(copy_program(), "lcopy", true,
				    "SRC is only read: open it O_RDONLY; a file you may not write "
				    "(read-only, another user's, on a read-only mount) refuses O_RDWR "
				    "with EACCES or EROFS (open_files, given in lcopy.c)");
}

extern long __real_syscall(long sysno, ...); /* the seam's way past itself (seams.c) */

#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_RISCV64
#endif

/* io_uring blocked, as Docker's default seccomp profile does (FACTS.md):
 * io_uring_setup fails with EPERM. Every other call is allowed. */
static int block_io_uring_setup(void)
{
	struct sock_filter filter[] = {
#ifdef AUDIT_ARCH_NATIVE
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* In the child: io_uring blocked, proved by an io_uring_setup of its own
 * failing with EPERM. */
static int blocked_confine(const char *src, const void *arg)
{
	struct io_uring_params p;
	long fd;

	(void)src;
	(void)arg;
	if (block_io_uring_setup() != 0)
		return CONFINED_NONE;
	memset(&p, 0, sizeof(p));
	fd = __real_syscall(__NR_io_uring_setup, 2, &p);
	if (fd >= 0 || errno != EPERM)
		return CONFINED_NOT_REFUSED;
	return 0;
}

/* Where the filter cannot be installed, the harness failed: the probe
 * (tools/probe.c) knows no seccomp feature a skip could name. */
static const struct confinement io_uring_blocked = {
	.confine = blocked_confine,
	.none = "harness: the test could not install its seccomp filter (prctl: "
		"PR_SET_SECCOMP refused)",
	.not_refused = "harness: io_uring_setup still worked under the test's seccomp filter",
};

GRADE_TEST_T(copy, io_uring_blocked, 1,
	     "lcopy where io_uring is blocked (a seccomp filter refuses io_uring_setup with EPERM, as Docker's default profile does): a message, a non-zero status",
	     "TODO 12 (lcopy.c): ulink_init's error is a failure of the copy like any other: a "
	     "message that says why, and -1 from copy() so that main exits non-zero; nothing was "
	     "copied (man 2 io_uring_setup, EPERM; lesson, \"The program\"; make doctor)", 20)
{
	const size_t size = 70001;
	unsigned char *data;
	const char *prog, *src, *dst, *outpath;
	char line[200] = "";
	struct stat st;
	int status;

	copy_setup();
	copy_must_work();
	prog = copy_program();
	data = grade_random_bytes(size);
	src = grade_make_file("blocked-src", data, size);
	dst = grade_path("blocked-dst");
	outpath = grade_path("blocked-output");
	status = confined_run(prog, src, dst, outpath, true, &io_uring_blocked, NULL,
			      "lcopy with io_uring blocked");
	confined_first_line(outpath, line, sizeof(line));
	grade_check(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		    "lcopy with io_uring blocked (io_uring_setup: EPERM) %s %d (output: \"%s\"), "
		    "expected a non-zero exit status: nothing was copied (DST %s). ulink_init "
		    "returned -EPERM; copy() must report it and return -1 (TODO 12)",
		    WIFEXITED(status) ? "exited with status" : "was killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line,
		    stat(dst, &st) == 0 ? (st.st_size == (off_t)size ? "has SRC's size: "
		    "copied another way than io_uring?" : "is not SRC") : "does not exist");
	grade_check(line[0] != 0, "lcopy with io_uring blocked exited with status %d but printed "
		    "nothing: say why the copy failed (ulink_init's error, strerror(-ret); TODO 12)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	free(data);
}
