/*
 * Chapter 08 tests: registered buffers and files, SQPOLL, IOPOLL
 * (chapters/08-uring-fixed/ufixed.h).
 *
 * What is checked, beyond the results of the reads:
 *   - the tables are really the kernel's: after ufixed_add_buffer() the
 *     harness issues a READ_FIXED of its own on the learner's ring with that
 *     slot's buf_index, after ufixed_add_file() a read with IOSQE_FIXED_FILE
 *     on that slot, and after the removes the same SQEs must fail
 *     (-EFAULT, -EBADF). A table kept in user space only does not pass;
 *   - every SQE the module hands the kernel is seen (ring_watch.h, on_sqe):
 *     a request whose buffer lies in a registered buffer must be a
 *     READ_FIXED with that buf_index, one on a registered fd must carry
 *     IOSQE_FIXED_FILE and the slot, the others must be plain reads;
 *   - no registration inside ufixed_read (seams on liburing's register
 *     functions), buffers registered once for many batches;
 *   - RLIMIT_MEMLOCK is lowered for real: a buffer above it is -ENOMEM, and a
 *     removed buffer gives its charge back;
 *   - SQPOLL: the ring has the flag and the kernel's iou-sqp thread exists;
 *     IOPOLL on a buffered file: every read -EOPNOTSUPP, no hang;
 *   - the faults of chapter 06 on fixed reads: short reads (the rest keeps
 *     its buf_index), pipes fed in pieces, -EINTR in CQEs, an error after
 *     partial progress, offsets beyond 4 GiB; fds, rings and heap on every
 *     path. Blocking reads are refused in every test.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "ufixed.h"
#include "ring_watch.h"
#include "memlock_wait.h"
#include "batch_checks.h"
#include "tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* Ring memory and registered buffers are charged to RLIMIT_MEMLOCK (see the
 * lesson): the tests keep rings small; the memlock test lowers the limit. */
#define RING_ROOM (64 * 1024)

/*
 * The registrations of whole tables, watched in every test. One that names
 * no memory and no file (every iovec { NULL, 0 }, every fd -1) registers
 * empty slots: another way to make ufixed_init's empty tables (the kernel
 * takes such slots as sparse ones), not a registration of the caller's
 * buffers or files, so caller_registrations() leaves it out. fail_err: the
 * table registration fail_id fails with it instead (08.19: a registration
 * failing inside ufixed_init, whichever way the module makes its tables).
 */
static struct {
	long empty;           /* whole-table registrations of empty slots only */
	enum seam_id fail_id; /* this table registration fails ...            */
	int fail_err;         /* ... with this; 0: none fails                  */
} table_regs;

static bool iovs_empty(const struct iovec *iov, unsigned nr)
{
	for (unsigned i = 0; iov && i < nr; i++)
		if (iov[i].iov_base || iov[i].iov_len)
			return false;
	return true;
}

static bool fds_empty(const int *fds, unsigned nr)
{
	for (unsigned i = 0; fds && i < nr; i++)
		if (fds[i] != -1)
			return false;
	return true;
}

#define TABLES_FAIL(id)                                                \
	do {                                                           \
		if (table_regs.fail_err && table_regs.fail_id == (id)) \
			return table_regs.fail_err;                    \
	} while (0)

static int tabhook_buffers(struct io_uring *ring, const struct iovec *iov, unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_buffers);
	table_regs.empty += iovs_empty(iov, nr);
	return SEAM_REAL(io_uring_register_buffers)(ring, iov, nr);
}

static int tabhook_buffers_tags(struct io_uring *ring, const struct iovec *iov, const __u64 *tags,
			       unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_buffers_tags);
	table_regs.empty += iovs_empty(iov, nr);
	return SEAM_REAL(io_uring_register_buffers_tags)(ring, iov, tags, nr);
}

static int tabhook_files(struct io_uring *ring, const int *fds, unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_files);
	table_regs.empty += fds_empty(fds, nr);
	return SEAM_REAL(io_uring_register_files)(ring, fds, nr);
}

static int tabhook_files_tags(struct io_uring *ring, const int *fds, const __u64 *tags, unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_files_tags);
	table_regs.empty += fds_empty(fds, nr);
	return SEAM_REAL(io_uring_register_files_tags)(ring, fds, tags, nr);
}

static int tabhook_buffers_sparse(struct io_uring *ring, unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_buffers_sparse);
	return SEAM_REAL(io_uring_register_buffers_sparse)(ring, nr);
}

static int tabhook_files_sparse(struct io_uring *ring, unsigned nr)
{
	TABLES_FAIL(SEAM_io_uring_register_files_sparse);
	return SEAM_REAL(io_uring_register_files_sparse)(ring, nr);
}

/*
 * A file table update the kernel refuses: the next update of one or more
 * file slots (io_uring_register_files_update or its _tag form) returns
 * files_update_err instead of reaching the kernel, once. Used by 08.04 for
 * the kernel errors ufixed.h does not name (-ENOMEM here): they come back
 * as they came, not turned into the one the module expects (-EBADF).
 */
static int files_update_err;

static int updhook_files(struct io_uring *ring, unsigned off, const int *fds, unsigned nr)
{
	int err = files_update_err;

	files_update_err = 0;
	return err ? err : SEAM_REAL(io_uring_register_files_update)(ring, off, fds, nr);
}

static int updhook_files_tag(struct io_uring *ring, unsigned off, const int *fds,
			     const __u64 *tags, unsigned nr)
{
	int err = files_update_err;

	files_update_err = 0;
	return err ? err : SEAM_REAL(io_uring_register_files_update_tag)(ring, off, fds, tags, nr);
}

/*
 * The same for the buffer table: the next io_uring_register_buffers_update_tag
 * returns bufs_update_err instead of reaching the kernel, once. Used by 08.03
 * for a removal the kernel refuses: its error comes back, the slot stays.
 */
static int bufs_update_err;

static int updhook_buffers_tag(struct io_uring *ring, unsigned off, const struct iovec *iov,
			       const __u64 *tags, unsigned nr)
{
	int err = bufs_update_err;

	bufs_update_err = 0;
	return err ? err : SEAM_REAL(io_uring_register_buffers_update_tag)(ring, off, iov, tags, nr);
}

static void module_setup(unsigned entries)
{
	grade_require_io_uring(entries);
	grade_require_memlock(RING_ROOM, "this chapter's tests (rings and registered buffers)");
	seam_refuse_blocking_io("this module reads only through the ring (READ_FIXED or READ), "
				"the rest of a short read too (TODO 8)");
	watch_start(20000, NULL);
	/* An injected submit error leaves the SQEs published, as a real one
	 * does: what the kernel did not take is *khead .. sqe_tail. */
	watch.publish_on_inject = true;
	memset(&table_regs, 0, sizeof(table_regs));
	seam_hook_io_uring_register_buffers = tabhook_buffers;
	seam_hook_io_uring_register_buffers_tags = tabhook_buffers_tags;
	seam_hook_io_uring_register_files = tabhook_files;
	seam_hook_io_uring_register_files_tags = tabhook_files_tags;
	seam_hook_io_uring_register_buffers_sparse = tabhook_buffers_sparse;
	seam_hook_io_uring_register_files_sparse = tabhook_files_sparse;
	files_update_err = 0;
	seam_hook_io_uring_register_files_update = updhook_files;
	seam_hook_io_uring_register_files_update_tag = updhook_files_tag;
	bufs_update_err = 0;
	seam_hook_io_uring_register_buffers_update_tag = updhook_buffers_tag;
}

#define URING_TEST_T(suite_, name_, points_, title_, hint_, entries_, seconds_) \
	static void uring_body_##suite_##_##name_(void);                  \
	GRADE_TEST_T(suite_, name_, points_, title_, hint_, seconds_)      \
	{                                                                  \
		module_setup(entries_);                                    \
		uring_body_##suite_##_##name_();                           \
	}                                                                  \
	static void uring_body_##suite_##_##name_(void)
#define URING_TEST(suite_, name_, points_, title_, hint_, entries_) \
	URING_TEST_T(suite_, name_, points_, title_, hint_, entries_, GRADE_TIMEOUT)

/* Page-aligned memory of len bytes (registered buffers are pinned pages). */
static unsigned char *arena_alloc(size_t len)
{
	void *p = NULL;

	grade_check(posix_memalign(&p, 4096, len) == 0, "harness: out of memory");
	memset(p, 0, len);
	return p;
}

static void init_or_fail(struct ufixed *u, unsigned entries, unsigned flags)
{
	int ret;

	MEMLOCK_PATIENT(ret, SEAM_CALL(ufixed_init(u, entries, flags)));
	if (ret == -ENOMEM)
		memlock_skip_if_short(entries, NULL, 0, "ufixed_init's ring");
	grade_check(ret == 0, "ufixed_init(&u, %u, %u) returned %s, expected 0 (TODO 1)", entries,
		    flags, grade_errno_str(ret));
	grade_check(u->live == 1 && u->sq_entries >= entries && u->cq_entries >= u->sq_entries &&
		    u->flags == flags, "after ufixed_init(&u, %u, %u): live %d, sq_entries %u, "
		    "cq_entries %u, flags %u; expected live 1, the sizes the kernel gave and the "
		    "flags asked for (TODO 1)", entries, flags, u->live, u->sq_entries,
		    u->cq_entries, u->flags);
}

static int add_buffer_or_fail(struct ufixed *u, void *base, size_t len)
{
	int s;

	MEMLOCK_PATIENT(s, SEAM_CALL(ufixed_add_buffer(u, base, len)));
	if (s == -ENOMEM)
		memlock_skip_if_short(4, base, len, "ufixed_add_buffer's buffer");
	grade_check(s >= 0 && (unsigned)s < UFIXED_MAX_BUFS, "ufixed_add_buffer(&u, %p, %zu) "
		    "returned %s, expected a free slot 0..%u (TODO 2)", base, len,
		    grade_errno_str(s), UFIXED_MAX_BUFS - 1);
	return s;
}

static int add_file_or_fail(struct ufixed *u, int fd)
{
	int s = SEAM_CALL(ufixed_add_file(u, fd));

	grade_check(s >= 0 && (unsigned)s < UFIXED_MAX_FILES, "ufixed_add_file(&u, %d) returned "
		    "%s, expected a free slot 0..%u (TODO 4)", fd, grade_errno_str(s),
		    UFIXED_MAX_FILES - 1);
	return s;
}

static void check_ring_clean(struct ufixed *u, const char *when)
{
	unsigned cq = io_uring_cq_ready(&u->ring), sq = io_uring_sq_ready(&u->ring);

	grade_check(cq == 0 && sq == 0, "%s, the ring still holds %u unreaped CQE(s) and %u "
		    "unsubmitted SQE(s): the next call would see them", when, cq, sq);
}

/* The calls that put a caller's buffer or file into a table (the empty
 * tables of ufixed_init, sparse or whole tables of empty slots, and the
 * unregistering of ufixed_exit are not). */
static long caller_registrations(void)
{
	return seam_calls_sum(SEAM_io_uring_register_buffers, SEAM_io_uring_register_buffers_tags,
			      SEAM_io_uring_register_buffers_update_tag, SEAM_io_uring_register_files,
			      SEAM_io_uring_register_files_tags, SEAM_io_uring_register_files_update,
			      SEAM_io_uring_register_files_update_tag, SEAM_COUNT) - table_regs.empty;
}

/* Every liburing function that registers or unregisters something: the
 * caller's buffers and files, the sparse tables, unregistering, an eventfd
 * (one registered per call is a registration inside the batch too), and the
 * raw system call's wrapper. */
static long register_calls(void)
{
	return caller_registrations() +
	       seam_calls_sum(SEAM_io_uring_register_buffers_sparse,
			      SEAM_io_uring_register_files_sparse, SEAM_io_uring_unregister_buffers,
			      SEAM_io_uring_unregister_files, SEAM_io_uring_register,
			      SEAM_io_uring_register_eventfd, SEAM_COUNT);
}

/*
 * One ufixed_read call, with what the watch saw asserted: never more reads
 * in flight than min(qd, cq_entries), no CQ overflow, no ring set up or torn
 * down, and nothing registered or unregistered inside the call.
 */
static int run_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd)
{
	bool watched = u && u->live && qd > 0;
	unsigned window = watched ? (qd < u->cq_entries ? qd : u->cq_entries) : 0;
	long inits = watch.inits, exits = watch.exits, regs = register_calls();
	int ret;

	watch.max_inflight = 0;
	watch.overflow = false;
	ret = SEAM_CALL(ufixed_read(u, reqs, n, qd));
	grade_check(register_calls() == regs, "ufixed_read made %ld call(s) to liburing's "
		    "register/unregister functions: the tables are filled by ufixed_add_* between "
		    "batches; registering inside every batch throws away what registering saves "
		    "(ufixed.h, rules; lesson, pitfalls)", register_calls() - regs);
	if (!watched)
		return ret;
	grade_check(watch.max_inflight <= window, "ufixed_read(n %zu, qd %u) on a ring whose CQ "
		    "has %u slots: %u reads were in flight at once; the window is "
		    "min(qd, cq_entries) = %u", n, qd, u->cq_entries, watch.max_inflight, window);
	grade_check(!watch.overflow, "ufixed_read(n %zu, qd %u): the CQ overflowed", n, qd);
	grade_check(watch.inits == inits && watch.exits == exits, "ufixed_read set up %ld and "
		    "tore down %ld ring(s): it must use u->ring as it is",
		    watch.inits - inits, watch.exits - exits);
	return ret;
}

/*
 * The harness's own probe of the learner's tables: one read on u's ring,
 * made and reaped here, outside the module. fixed_buf >= 0: a READ_FIXED
 * with that buf_index into buf; fixed_file: fd is a slot, IOSQE_FIXED_FILE.
 * Returns the CQE's res.
 */
static int probe_read(struct ufixed *u, int fd, bool fixed_file, void *buf, unsigned len,
		      int fixed_buf)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	grade_check(io_uring_sq_ready(&u->ring) == 0 && io_uring_cq_ready(&u->ring) == 0,
		    "the ring holds %u SQE(s) and %u CQE(s) between calls: every call must leave "
		    "it empty", io_uring_sq_ready(&u->ring), io_uring_cq_ready(&u->ring));
	sqe = io_uring_get_sqe(&u->ring);
	grade_check(sqe != NULL, "harness: no SQE free on the ring");
	if (fixed_buf >= 0)
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, fixed_buf);
	else
		io_uring_prep_read(sqe, fd, buf, len, 0);
	if (fixed_file)
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	io_uring_sqe_set_data64(sqe, 0xfeedULL);
	ret = SEAM_REAL(io_uring_submit_and_wait)(&u->ring, 1);
	grade_check(ret == 1, "harness: its probe read was not submitted: %s", grade_errno_str(ret));
	ret = io_uring_peek_cqe(&u->ring, &cqe);
	grade_check(ret == 0 && cqe->user_data == 0xfeedULL, "harness: no CQE for its probe read");
	ret = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	return ret;
}

/* ------------------------------------------------- what the SQEs carry */

/*
 * The requests of the batch under watch, and what each of its SQEs must
 * look like. A SQE is matched to its request by its data address (the
 * request's buffer, or inside it for the rest of a short read).
 */
static struct {
	const struct ufixed *u;
	const struct batch_req *reqs;
	size_t n;
	long fixed_reads, plain_reads, fixed_files, plain_files;
	char bad[600];
} sqe_rules;

static const struct batch_req *sqe_request(const struct io_uring_sqe *sqe)
{
	uintptr_t a = (uintptr_t)sqe->addr;

	for (size_t i = 0; i < sqe_rules.n; i++) {
		uintptr_t b = (uintptr_t)sqe_rules.reqs[i].buf;

		if (a >= b && a - b < sqe_rules.reqs[i].len)
			return &sqe_rules.reqs[i];
	}
	return NULL;
}

/* Whether buffer slot k holds all of q's buffer. */
static bool buffer_slot_holds(unsigned k, const struct batch_req *q)
{
	uintptr_t s = (uintptr_t)q->buf, b;

	if (k >= UFIXED_MAX_BUFS)
		return false;
	b = (uintptr_t)sqe_rules.u->bufs[k].iov_base;
	return b && s >= b && s - b <= sqe_rules.u->bufs[k].iov_len &&
	       q->len <= sqe_rules.u->bufs[k].iov_len - (s - b);
}

/* The lowest slot holding q's buffer, or -1. When several slots hold it
 * (the same memory registered twice), an SQE may name any of them. */
static int slot_of_buffer(const struct batch_req *q)
{
	for (unsigned k = 0; k < UFIXED_MAX_BUFS; k++)
		if (buffer_slot_holds(k, q))
			return (int)k;
	return -1;
}

/* The lowest slot holding fd, or -1 (any slot holding it is right). */
static int slot_of_file(int fd)
{
	for (unsigned k = 0; k < UFIXED_MAX_FILES; k++)
		if (fd >= 0 && sqe_rules.u->files[k] == fd)
			return (int)k;
	return -1;
}

static void rule_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rule_broken(const char *fmt, ...)
{
	va_list ap;

	if (sqe_rules.bad[0])
		return;  /* the first one says it */
	va_start(ap, fmt);
	vsnprintf(sqe_rules.bad, sizeof(sqe_rules.bad), fmt, ap);
	va_end(ap);
}

static void check_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	const struct batch_req *q;
	int bslot, fslot;
	bool fixed_file = sqe->flags & IOSQE_FIXED_FILE;

	(void)pos;
	(void)queued;
	if (!watch_is_read(sqe))
		return;
	q = sqe_request(sqe);
	if (!q) {
		rule_broken("a read SQE (opcode %u) reads into %p, which is no request's buffer",
			    sqe->opcode, (void *)(uintptr_t)sqe->addr);
		return;
	}
	bslot = slot_of_buffer(q);
	fslot = slot_of_file(q->fd);
	if (bslot >= 0) {
		sqe_rules.fixed_reads++;
		if (sqe->opcode != IORING_OP_READ_FIXED)
			rule_broken("request %zu: its buffer lies in registered buffer slot %d, but "
				    "its SQE has opcode %u, not IORING_OP_READ_FIXED (%u): use "
				    "io_uring_prep_read_fixed with buf_index %d (TODO 8; man 3 "
				    "io_uring_prep_read_fixed)", (size_t)(q - sqe_rules.reqs), bslot,
				    sqe->opcode, IORING_OP_READ_FIXED, bslot);
		else if (sqe->buf_index != bslot && !buffer_slot_holds(sqe->buf_index, q))
			rule_broken("request %zu: its buffer lies in registered buffer slot %d, but its "
				    "READ_FIXED names buf_index %u (TODO 6 and 8)",
				    (size_t)(q - sqe_rules.reqs), bslot, sqe->buf_index);
	} else {
		sqe_rules.plain_reads++;
		if (sqe->opcode != IORING_OP_READ)
			rule_broken("request %zu: its buffer is not wholly inside any registered "
				    "buffer, so it must be a plain IORING_OP_READ; its SQE has opcode "
				    "%u (a READ_FIXED outside the registered range fails with -EFAULT) "
				    "(TODO 6 and 8)", (size_t)(q - sqe_rules.reqs), sqe->opcode);
	}
	if (fslot >= 0) {
		sqe_rules.fixed_files++;
		if (!fixed_file)
			rule_broken("request %zu: fd %d is registered in file slot %d, but its SQE "
				    "names the fd without IOSQE_FIXED_FILE: set the flag and put the "
				    "slot in the SQE's fd field (TODO 7 and 8)",
				    (size_t)(q - sqe_rules.reqs), q->fd, fslot);
		else if (sqe->fd != fslot && (sqe->fd < 0 || (unsigned)sqe->fd >= UFIXED_MAX_FILES ||
					      sqe_rules.u->files[sqe->fd] != q->fd))
			rule_broken("request %zu: fd %d is registered in file slot %d, but its SQE has "
				    "IOSQE_FIXED_FILE with fd field %d: with the flag the fd field is "
				    "the slot, not the fd (TODO 8)", (size_t)(q - sqe_rules.reqs),
				    q->fd, fslot, sqe->fd);
	} else {
		sqe_rules.plain_files++;
		if (fixed_file)
			rule_broken("request %zu: fd %d is in no file slot, but its SQE has "
				    "IOSQE_FIXED_FILE (slot %d): only registered fds use the flag "
				    "(TODO 7 and 8)", (size_t)(q - sqe_rules.reqs), q->fd, sqe->fd);
		else if (sqe->fd != q->fd)
			rule_broken("request %zu: its SQE reads fd %d, the request's fd is %d",
				    (size_t)(q - sqe_rules.reqs), sqe->fd, q->fd);
	}
}

static void watch_sqes(const struct ufixed *u, const struct batch_req *reqs, size_t n)
{
	memset(&sqe_rules, 0, sizeof(sqe_rules));
	sqe_rules.u = u;
	sqe_rules.reqs = reqs;
	sqe_rules.n = n;
	watch.on_sqe = check_sqe;
}

static void check_sqes(const char *what)
{
	watch.on_sqe = NULL;
	grade_check(!sqe_rules.bad[0], "%s: %s", what, sqe_rules.bad);
}

/* ------------------------------------------------------------------- ring */

URING_TEST(ring, init_and_exit, 1,
	   "ufixed_init sets up a ring with empty tables; ufixed_exit closes it, twice is safe, "
	   "and ufixed_exit(NULL) does nothing",
	   "TODO 1: a ring plus two empty (sparse) tables, and *u describing what the kernel "
	   "gave (lesson, section 3; ufixed.h). TODO 9: release both tables and the ring, once; "
	   "u == NULL is nothing to do, not a crash (lesson, section 4; ufixed.h)", 8)
{
	struct ufixed u;
	int before = fault_count_fds(), with_ring;

	init_or_fail(&u, 8, 0);
	with_ring = fault_count_fds();
	/* The SQ is the size asked for; the CQ is what the kernel gave: twice the
	 * SQ by default, more if the module asked for a larger one
	 * (IORING_SETUP_CQSIZE, chapter 06's lesson), so it is compared with
	 * the ring itself. */
	grade_check(u.sq_entries == 8 && u.sq_entries == *u.ring.sq.kring_entries &&
		    u.cq_entries == *u.ring.cq.kring_entries, "ufixed_init(&u, 8, 0): sq_entries "
		    "%u, cq_entries %u; the kernel gave an SQ of %u and a CQ of %u: record the "
		    "sizes it gave", u.sq_entries, u.cq_entries, *u.ring.sq.kring_entries,
		    *u.ring.cq.kring_entries);
	grade_check(with_ring == before + 1, "ufixed_init opened %d descriptor(s); a ring is one",
		    with_ring - before);
	for (unsigned s = 0; s < UFIXED_MAX_BUFS; s++)
		grade_check(u.bufs[s].iov_base == NULL && u.bufs[s].iov_len == 0, "after "
			    "ufixed_init, buffer slot %u is not empty (iov_base %p, iov_len %zu)",
			    s, u.bufs[s].iov_base, u.bufs[s].iov_len);
	for (unsigned s = 0; s < UFIXED_MAX_FILES; s++)
		grade_check(u.files[s] == -1, "after ufixed_init, files[%u] is %d; an empty file "
			    "slot holds -1 (0 is a real fd: stdin)", s, u.files[s]);
	SEAM_CALL_VOID(ufixed_exit(&u));
	grade_check(u.live == 0, "after ufixed_exit, live is %d, expected 0", u.live);
	grade_check(fault_count_fds() == before, "after ufixed_exit, %d descriptor(s) are still "
		    "open (TODO 9)", fault_count_fds() - before);
	SEAM_CALL_VOID(ufixed_exit(&u));
	grade_check(watch.exits == 1, "ufixed_exit called io_uring_queue_exit %ld times for one "
		    "ring (ufixed_exit was called twice)", watch.exits);
	init_or_fail(&u, 5, 0);
	grade_check(u.sq_entries == 8 && u.sq_entries == *u.ring.sq.kring_entries &&
		    u.cq_entries == *u.ring.cq.kring_entries, "ufixed_init(&u, 5, 0): sq_entries "
		    "%u, cq_entries %u; the kernel rounded 5 up to an SQ of %u and gave a CQ of %u: "
		    "record what it gave (the sizes in the io_uring_params after the set-up), not a "
		    "size worked out from entries (TODO 1; man 2 io_uring_setup)", u.sq_entries,
		    u.cq_entries, *u.ring.sq.kring_entries, *u.ring.cq.kring_entries);
	SEAM_CALL_VOID(ufixed_exit(&u));
	grade_check(fault_count_fds() == before, "a ring's descriptor is left open");
	SEAM_CALL_VOID(ufixed_exit(NULL)); /* ufixed.h: nothing to do (a crash fails the test) */
}

/*
 * The kernel refuses every SQPOLL ring with -EPERM, as io_uring_setup(2) did
 * before 5.13 for a process without the privilege (and as a seccomp or LSM
 * policy may still do). The ring watch's own hooks run for every other ring.
 */
static long sqpoll_refused;

/* The set-up flag refused (IORING_SETUP_SQPOLL or _IOPOLL) and the error. */
static unsigned sqpoll_refuse_flag = IORING_SETUP_SQPOLL;
static int sqpoll_refuse_err = -EPERM;

static int refuse_sqpoll_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	if (p && (p->flags & sqpoll_refuse_flag)) {
		sqpoll_refused++;
		return sqpoll_refuse_err;
	}
	return watch_io_uring_queue_init_params(entries, ring, p);
}

static int refuse_sqpoll_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	if (flags & sqpoll_refuse_flag) {
		sqpoll_refused++;
		return sqpoll_refuse_err;
	}
	return watch_io_uring_queue_init(entries, ring, flags);
}

/* Every ring refused, whatever its flags (io_uring blocked: -EPERM). */
static int refuse_every_err = -EPERM;
static long refused_every;

static int refuse_every_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	(void)entries;
	(void)ring;
	(void)p;
	refused_every++;
	return refuse_every_err;
}

static int refuse_every_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	(void)entries;
	(void)ring;
	(void)flags;
	refused_every++;
	return refuse_every_err;
}

URING_TEST(ring, init_errors, 1,
	   "ufixed_init: -EINVAL for 0 or 100000 entries and for unknown flags; nothing left "
	   "behind; a plain ring all the same on a kernel without the newer set-up flags; a "
	   "ring the kernel refuses with -ENOMEM is -ENOMEM with live 0, an SQPOLL or IOPOLL "
	   "ring it refuses (-EPERM, -EINVAL) is that error, not a ring without the flag",
	   "TODO 1: the contract's argument checks come before the kernel sees anything, and a "
	   "refused call leaves *u cleared (ufixed.h, ufixed_init; man 2 io_uring_setup, "
	   "ERRORS); optional set-up flags need a retry without them on -EINVAL; the kernel's "
	   "-ENOMEM or -EPERM is returned as it came (no smaller ring, no ring without the "
	   "flags asked for), live set only once everything worked", 8)
{
	static const struct { unsigned entries, flags; } bad[] = {
		{ 0, 0 }, { 100000, 0 }, { 8, 4 }, { 8, 0x80000000u }, { 8, UFIXED_SQPOLL | 8 },
	};
	struct ufixed u;
	int before = fault_count_fds();

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int ret;

		memset(&u, 0x5a, sizeof(u));
		errno = ENOTTY;
		ret = SEAM_CALL(ufixed_init(&u, bad[k].entries, bad[k].flags));
		grade_check(ret == -EINVAL, "ufixed_init(&u, %u, %#x) returned %s, expected -EINVAL",
			    bad[k].entries, bad[k].flags, grade_errno_str(ret));
		grade_check(u.live == 0, "ufixed_init(&u, %u, %#x) failed but left live at %d",
			    bad[k].entries, bad[k].flags, u.live);
		SEAM_CALL_VOID(ufixed_exit(&u));
		grade_check(fault_count_fds() == before, "a failed ufixed_init(&u, %u, %#x) left %d "
			    "descriptor(s) open", bad[k].entries, bad[k].flags,
			    fault_count_fds() - before);
	}
	grade_check(watch.init_ok == 0, "ufixed_init set up %ld ring(s) for arguments it must "
		    "refuse: check them before io_uring_queue_init_params", watch.init_ok);
	{
		int ret = SEAM_CALL(ufixed_init(NULL, 8, 0));

		grade_check(ret == -EINVAL, "ufixed_init(NULL, 8, 0) returned %s, expected -EINVAL",
			    grade_errno_str(ret));
		/* The largest ring the kernel takes: 32768 is allowed (memory
		 * may still refuse it as an ordinary user: -ENOMEM). */
		ret = SEAM_CALL(ufixed_init(&u, 32768, 0));
		grade_check(ret == 0 || ret == -ENOMEM, "ufixed_init(&u, 32768, 0) returned %s; "
			    "32768 entries are allowed (expected 0, or -ENOMEM from RLIMIT_MEMLOCK)",
			    grade_errno_str(ret));
		if (ret == 0)
			SEAM_CALL_VOID(ufixed_exit(&u));
	}
	{
		/* The ring watch plays Linux 5.19 (sparse tables, but not
		 * SINGLE_ISSUER or DEFER_TASKRUN: -EINVAL for a set-up flag it
		 * does not know): a plain ring must still be set up there. */
		int ret;

		watch.init_old_kernel = true;
		memset(&u, 0x5a, sizeof(u));
		ret = SEAM_CALL(ufixed_init(&u, 8, 0));
		watch.init_old_kernel = false;
		grade_check(ret == 0 && u.live == 1 && u.sq_entries == 8, "on a kernel without the "
			    "newer set-up flags (the test plays Linux 5.19, which answers -EINVAL for "
			    "IORING_SETUP_SINGLE_ISSUER and DEFER_TASKRUN, flags of 6.0 and 6.1; %ld "
			    "set-up(s) refused for their flags), ufixed_init(&u, 8, 0) returned %s with "
			    "live %d, sq_entries %u: on -EINVAL, set the ring up again without those flags "
			    "(chapter 06's lesson, section 8)", watch.init_refused, grade_errno_str(ret),
			    u.live, u.sq_entries);
		if (ret == 0)
			SEAM_CALL_VOID(ufixed_exit(&u));
		grade_check(fault_count_fds() == before, "ufixed_init on an older kernel, then "
			    "ufixed_exit, left %d descriptor(s) open", fault_count_fds() - before);
	}
	{
		/* The kernel refuses the ring with -ENOMEM, as RLIMIT_MEMLOCK does
		 * for an ordinary user (the ring's memory is charged too): here
		 * every ring above 4 entries. ufixed_init returns that -ENOMEM (not
		 * errno, which liburing does not set), leaves live 0 and sets up no
		 * smaller ring than asked; ufixed_exit then has nothing to do. */
		long exits;
		int ret, live;
		unsigned sq;

		watch_reset_counts();
		watch.init_enomem = true;
		watch.init_enomem_above = 4;
		memset(&u, 0x5a, sizeof(u));
		errno = ENOTTY;
		ret = SEAM_CALL(ufixed_init(&u, 8, 0));
		watch.init_enomem = false;
		live = u.live;
		sq = u.sq_entries;
		if (ret == 0 && watch.init_ok > 0)
			SEAM_CALL_VOID(ufixed_exit(&u));
		grade_check(ret == -ENOMEM && live == 0, "ufixed_init(&u, 8, 0), where the kernel "
			    "refused every ring above 4 entries with -ENOMEM (RLIMIT_MEMLOCK), returned "
			    "%s with live %d and sq_entries %u after %ld set-up(s), %ld of them set up; "
			    "expected -ENOMEM and live 0. %s (TODO 1; ufixed.h, ufixed_init)",
			    grade_errno_str(ret), live, sq, watch.inits, watch.init_ok,
			    ret == 0 ? "It set up a smaller ring than asked for: ufixed_init sets up "
			    "the ring of `entries` or fails; only ufixed_batch_read may try smaller "
			    "rings" : ret != -ENOMEM ? "Return liburing's result itself: it is -errno "
			    "already, and errno is not set by it" : "A failed ufixed_init leaves live "
			    "0: set it only once the ring and both tables are there");
		exits = watch.exits;
		SEAM_CALL_VOID(ufixed_exit(&u));
		grade_check(watch.exits == exits && fault_count_fds() == before, "ufixed_exit after "
			    "a ufixed_init whose ring the kernel refused called io_uring_queue_exit %ld "
			    "time(s) and left %d descriptor(s) more or fewer: it tears down a ring that "
			    "was never set up (live must be 0; TODO 1 and 9)", watch.exits - exits,
			    fault_count_fds() - before);
	}
	{
		/* The kernel refuses the SQ thread (-EPERM): ufixed_init fails
		 * with that error. A ring without the thread in its place would
		 * say live 1 and flags UFIXED_SQPOLL while no thread takes the
		 * SQEs: the caller asked for SQPOLL and must hear that it has
		 * none (only the optional flags of a plain ring are retried
		 * without). The same for -EINVAL (a kernel that does not take
		 * SQPOLL or IOPOLL with these parameters): that retry is for a
		 * plain ring only. */
		static const struct { unsigned flags, setup; int err; const char *name; } no[] = {
			{ UFIXED_SQPOLL, IORING_SETUP_SQPOLL, -EPERM, "UFIXED_SQPOLL" },
			{ UFIXED_SQPOLL, IORING_SETUP_SQPOLL, -EINVAL, "UFIXED_SQPOLL" },
			{ UFIXED_IOPOLL, IORING_SETUP_IOPOLL, -EINVAL, "UFIXED_IOPOLL" },
		};

		for (size_t k = 0; k < sizeof(no) / sizeof(no[0]); k++) {
			int ret, live;

			watch_reset_counts();
			sqpoll_refused = 0;
			sqpoll_refuse_flag = no[k].setup;
			sqpoll_refuse_err = no[k].err;
			seam_hook_io_uring_queue_init_params = refuse_sqpoll_params;
			seam_hook_io_uring_queue_init = refuse_sqpoll_init;
			memset(&u, 0x5a, sizeof(u));
			ret = SEAM_CALL(ufixed_init(&u, 8, no[k].flags));
			seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
			seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
			live = u.live;
			if (ret == 0 && watch.init_ok > 0)
				SEAM_CALL_VOID(ufixed_exit(&u));
			grade_check(sqpoll_refused > 0 && ret == no[k].err && live == 0 &&
				    watch.init_ok == 0,
				    "ufixed_init(&u, 8, %s), where the kernel refused that ring with "
				    "%s (%ld time(s)), returned %s with live %d after setting up %ld "
				    "ring(s); expected %s, live 0 and no ring: %s (TODO 1; ufixed.h, "
				    "ufixed_init: errors from the kernel)", no[k].name,
				    grade_errno_str(no[k].err), sqpoll_refused, grade_errno_str(ret),
				    live, watch.init_ok, grade_errno_str(no[k].err), ret == 0 ? "a "
				    "ring without the flag asked for in its place is not what the "
				    "caller asked for (its flags would say so, and the ring would not "
				    "do it); only a plain ring's optional set-up flags "
				    "(SINGLE_ISSUER, DEFER_TASKRUN) are dropped on a retry after "
				    "-EINVAL" : "return the kernel's error as it came");
			grade_check(fault_count_fds() == before, "a ufixed_init whose %s ring the "
				    "kernel refused left %d descriptor(s) open", no[k].name,
				    fault_count_fds() - before);
		}
		sqpoll_refuse_flag = IORING_SETUP_SQPOLL;
		sqpoll_refuse_err = -EPERM;
	}
}

/* --------------------------------------------------------------- tables */

/* Slots past a table (its size, 1 << 20, UINT_MAX) are refused by the
 * module itself, before it reads the table's entry (past the array) or asks
 * the kernel: -EINVAL and no registration call. */
static void check_slots_past(struct ufixed *u, int (*remove)(struct ufixed *, unsigned),
			     const char *name, const char *max_name, unsigned max,
			     const char *entry, int todo)
{
	const unsigned past[] = { max, 1u << 20, UINT_MAX };
	long regs = caller_registrations();

	for (size_t k = 0; k < sizeof(past) / sizeof(past[0]); k++) {
		int ret = SEAM_CALL(remove(u, past[k]));

		grade_check(ret == -EINVAL && caller_registrations() == regs,
			    "%s(&u, %u) (past the table) returned %s after %ld call(s) updating "
			    "the kernel's table, expected -EINVAL and none: check slot < %s first, "
			    "before %s is read (an index past the array) or the kernel is asked "
			    "(TODO %d; ufixed.h)", name, past[k], grade_errno_str(ret),
			    caller_registrations() - regs, max_name, entry, todo);
	}
}

URING_TEST(tables, buffers, 2,
	   "ufixed_add_buffer / ufixed_remove_buffer: lowest free slot, the kernel's table really "
	   "updated (a READ_FIXED of the harness works, then -EFAULT), errors leave it unchanged",
	   "TODOs 2 and 3: one slot of the sparse table updated in the kernel, the mirror "
	   "u->bufs changed only after the kernel agreed (lesson, section 3: updating one "
	   "slot; man 2 io_uring_register, IORING_REGISTER_BUFFERS_UPDATE)", 8)
{
	const size_t alen = 64 * 1024;
	unsigned char *a = arena_alloc(alen), *b = arena_alloc(alen), *c = arena_alloc(alen);
	unsigned char *data;
	int fd = data_file("f", 8192, &data), ret, s;
	struct ufixed u, dead;

	memset(&dead, 0, sizeof(dead));
	init_or_fail(&u, 8, 0);
	grade_check(add_buffer_or_fail(&u, a, alen) == 0, "the first buffer must get slot 0");
	grade_check(add_buffer_or_fail(&u, b, alen) == 1, "the second buffer must get slot 1");
	grade_check(u.bufs[0].iov_base == a && u.bufs[0].iov_len == alen && u.bufs[1].iov_base == b,
		    "u.bufs[] does not record the registered buffers (slot 0: %p/%zu, expected "
		    "%p/%zu) (TODO 2)", u.bufs[0].iov_base, u.bufs[0].iov_len, (void *)a, alen);
	ret = probe_read(&u, fd, false, b + 100, 4096, 1);
	grade_check(ret == 4096 && grade_first_diff(b + 100, data, 4096) < 0, "a READ_FIXED of "
		    "the harness into slot 1 (the second buffer) got %s: the kernel's table does not "
		    "hold it; register it in the slot you record (TODO 2)", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_buffer(&u, 0));
	grade_check(ret == 0, "ufixed_remove_buffer(&u, 0) returned %s, expected 0 (TODO 3)",
		    grade_errno_str(ret));
	grade_check(u.bufs[0].iov_base == NULL && u.bufs[0].iov_len == 0, "after removing slot 0, "
		    "u.bufs[0] still says %p/%zu: an empty buffer slot holds NULL and 0 (ufixed.h, "
		    "struct ufixed), set both after the kernel emptied the slot (TODO 3)",
		    u.bufs[0].iov_base, u.bufs[0].iov_len);
	ret = probe_read(&u, fd, false, a, 4096, 0);
	grade_check(ret == -EFAULT, "after ufixed_remove_buffer(&u, 0), a READ_FIXED into slot 0 "
		    "got %s; an empty slot gives -EFAULT: the kernel's slot was not emptied "
		    "(TODO 3)", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_buffer(&u, 0));
	grade_check(ret == -EINVAL, "removing the empty slot 0 again returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	{
		/* A slot past the table is refused by the module, before it looks
		 * into u->bufs[slot] (past the array) or asks the kernel. */
		check_slots_past(&u, ufixed_remove_buffer, "ufixed_remove_buffer",
				 "UFIXED_MAX_BUFS", UFIXED_MAX_BUFS, "u->bufs[slot]", 3);
		ret = SEAM_CALL(ufixed_remove_buffer(NULL, 0));
		grade_check(ret == -EINVAL, "ufixed_remove_buffer(NULL, 0) returned %s, expected "
			    "-EINVAL: no ring is not a live ring (TODO 3; ufixed.h)",
			    grade_errno_str(ret));
		ret = SEAM_CALL(ufixed_add_buffer(NULL, a, alen));
		grade_check(ret == -EINVAL, "ufixed_add_buffer(NULL, buf, len) returned %s, expected "
			    "-EINVAL: no ring is not a live ring (TODO 2; ufixed.h)",
			    grade_errno_str(ret));
	}
	grade_check(add_buffer_or_fail(&u, c, alen) == 0, "after slot 0 was emptied, the next "
		    "buffer must get the lowest free slot, 0");
	ret = probe_read(&u, fd, false, c, 4096, 0);
	grade_check(ret == 4096 && grade_first_diff(c, data, 4096) < 0, "a READ_FIXED into slot "
		    "0 after it was filled again got %s", grade_errno_str(ret));
	/* A removal the kernel refuses (-ENOMEM, made here by the harness):
	 * its error, the slot still filled, in u->bufs and in the kernel. Only
	 * when the slot is emptied with an update: a table registered again
	 * whole (allowed between batches) never meets the refusal, and that
	 * removal is undone below. */
	bufs_update_err = -ENOMEM;
	ret = SEAM_CALL(ufixed_remove_buffer(&u, 0));
	if (bufs_update_err != 0) {
		bufs_update_err = 0;
		if (ret == 0)
			grade_check(add_buffer_or_fail(&u, c, alen) == 0, "after slot 0 was "
				    "emptied, the next buffer must get the lowest free slot, 0");
		ret = -ENOMEM;
	}
	grade_check(ret == -ENOMEM && u.bufs[0].iov_base == c && u.bufs[0].iov_len == alen,
		    "the kernel refused to empty buffer slot 0 (-ENOMEM, made by the harness), and "
		    "ufixed_remove_buffer returned %s with u.bufs[0] = %p/%zu; expected -ENOMEM and "
		    "the slot as it was (%p/%zu): the kernel still holds the buffer, so the record "
		    "must too. Check what the update returned before you empty u->bufs[slot] "
		    "(TODO 3; ufixed.h, ufixed_remove_buffer)", grade_errno_str(ret),
		    u.bufs[0].iov_base, u.bufs[0].iov_len, (void *)c, alen);
	ret = probe_read(&u, fd, false, c, 4096, 0);
	grade_check(ret == 4096, "after a refused ufixed_remove_buffer, a READ_FIXED into slot 0 "
		    "got %s", grade_errno_str(ret));
	/* An add the kernel refuses with an error ufixed.h names but this test
	 * cannot make for real (-EOPNOTSUPP: file-backed memory on kernels that
	 * refuse it; made here by the harness): that error as it came, the
	 * slot still free. A table registered again whole never meets it. */
	bufs_update_err = -EOPNOTSUPP;
	ret = SEAM_CALL(ufixed_add_buffer(&u, b, alen));
	if (bufs_update_err != 0) {
		bufs_update_err = 0;
		if (ret >= 0)
			grade_check(SEAM_CALL(ufixed_remove_buffer(&u, (unsigned)ret)) == 0,
				    "ufixed_remove_buffer(&u, %d) failed (TODO 3)", ret);
		ret = -EOPNOTSUPP;
	}
	grade_check(ret == -EOPNOTSUPP && u.bufs[2].iov_base == NULL, "the kernel refused a "
		    "buffer with -EOPNOTSUPP (file-backed memory on some kernels; made by the "
		    "harness), and ufixed_add_buffer returned %s with u.bufs[2] = %p; expected "
		    "-EOPNOTSUPP as it came and the slot still empty: return the kernel's error "
		    "itself, do not turn it into one of your own (TODO 2; ufixed.h, "
		    "ufixed_add_buffer)", grade_errno_str(ret), u.bufs[2].iov_base);

	/* Memory registered twice gets two slots, each its own registration
	 * (the caller removes each slot it got); and a buffer need not be
	 * page-aligned nor whole pages: malloc's memory registers as it is. */
	ret = SEAM_CALL(ufixed_add_buffer(&u, b, alen));
	grade_check(ret == 2, "ufixed_add_buffer of the buffer already in slot 1, once more, "
		    "returned %s, expected slot 2: every add registers the range in a free slot of "
		    "its own and returns it, even for memory registered already (the caller removes "
		    "each slot it got) (TODO 2; ufixed.h)", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_buffer(&u, 1));
	grade_check(ret == 0, "ufixed_remove_buffer(&u, 1) returned %s, expected 0 (TODO 3)",
		    grade_errno_str(ret));
	memset(b, 0, alen);
	ret = probe_read(&u, fd, false, b + 8, 4096, 2);
	grade_check(ret == 4096 && grade_first_diff(b + 8, data, 4096) < 0, "the same buffer in "
		    "slots 1 and 2, slot 1 then emptied: a READ_FIXED of the harness into slot 2 got "
		    "%s; slot 2 must hold a registration of its own in the kernel (TODO 2)",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_add_buffer(&u, a + 100, 5000));
	grade_check(ret == 1, "ufixed_add_buffer(&u, base + 100, 5000), memory neither "
		    "page-aligned nor a whole number of pages, returned %s, expected slot 1: the "
		    "kernel registers any range of the caller's memory (it pins every page the range "
		    "touches); refuse only what ufixed.h lists (TODO 2; man 2 "
		    "io_uring_register, IORING_REGISTER_BUFFERS: anonymous memory \"such as that "
		    "returned by malloc(3)\")", grade_errno_str(ret));
	grade_check(u.bufs[1].iov_base == a + 100 && u.bufs[1].iov_len == 5000, "after "
		    "ufixed_add_buffer(&u, base + 100, 5000), u.bufs[1] says %p/%zu, expected "
		    "%p/5000: register and record the caller's range as given, not the whole pages "
		    "around it (the bytes before and after it may belong to other objects; the "
		    "kernel checks every READ_FIXED against the range registered) (TODO 2; "
		    "ufixed.h, ufixed_add_buffer)", u.bufs[1].iov_base, u.bufs[1].iov_len,
		    (void *)(a + 100));
	memset(a, 0, alen);
	ret = probe_read(&u, fd, false, a + 1004, 4096, 1);
	grade_check(ret == 4096 && grade_first_diff(a + 1004, data, 4096) < 0, "a READ_FIXED of "
		    "the harness into slot 1 (5000 bytes at base + 100, its last 4096 bytes) got %s "
		    "(TODO 2)", grade_errno_str(ret));
	grade_check(SEAM_CALL(ufixed_remove_buffer(&u, 1)) == 0 &&
		    SEAM_CALL(ufixed_remove_buffer(&u, 2)) == 0, "ufixed_remove_buffer of slots 1 "
		    "and 2 failed (TODO 3)");
	grade_check(add_buffer_or_fail(&u, b, alen) == 1, "with slots 1 and 2 emptied, the next "
		    "buffer must get the lowest free slot, 1");

	/* Arguments the contract refuses, each leaving the table as it was. */
	{
		struct iovec keep[UFIXED_MAX_BUFS];
		struct { void *base; size_t len; const char *what; } bad[] = {
			{ NULL, alen, "base NULL" },
			{ a, 0, "len 0" },
			{ a, (size_t)UFIXED_MAX_BUF_LEN + 1, "len UFIXED_MAX_BUF_LEN + 1" },
			/* Past 4 GiB: through 32 bits these would look like 4096 and 0. */
			{ a, ((size_t)4 << 30) + 4096, "len 4 GiB + 4096 (a size_t: 4096 if cut to "
			  "32 bits)" },
			{ a, (size_t)4 << 30, "len 4 GiB (a size_t: 0 if cut to 32 bits)" },
		};

		memcpy(keep, u.bufs, sizeof(keep));
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			ret = SEAM_CALL(ufixed_add_buffer(&u, bad[k].base, bad[k].len));
			grade_check(ret == -EINVAL, "ufixed_add_buffer with %s returned %s, expected "
				    "-EINVAL: the module refuses it before the kernel sees it, "
				    "comparing the size_t len itself (TODO 2; ufixed.h)", bad[k].what,
				    grade_errno_str(ret));
		}
		ret = SEAM_CALL(ufixed_add_buffer(&dead, a, alen));
		grade_check(ret == -EINVAL, "ufixed_add_buffer on a ring never set up (live 0) "
			    "returned %s, expected -EINVAL", grade_errno_str(ret));
		ret = SEAM_CALL(ufixed_remove_buffer(&dead, 0));
		grade_check(ret == -EINVAL, "ufixed_remove_buffer on a ring never set up returned "
			    "%s, expected -EINVAL", grade_errno_str(ret));
		{
			/* live 0 decides, whatever the rest of the struct holds
			 * (here 0x5a bytes: a slot that looks filled, a ring fd
			 * that is no ring): -EINVAL, nothing asked of the kernel,
			 * nothing torn down. */
			struct ufixed junk;
			long regs = caller_registrations(), exits = watch.exits;

			memset(&junk, 0x5a, sizeof(junk));
			junk.live = 0;
			ret = SEAM_CALL(ufixed_remove_buffer(&junk, 0));
			grade_check(ret == -EINVAL && caller_registrations() == regs,
				    "ufixed_remove_buffer on a struct ufixed with live 0 (its other "
				    "fields left over: buffer slot 0 looks filled) returned %s after "
				    "%ld registration call(s), expected -EINVAL and none: check live "
				    "before anything else, the table of a dead ring means nothing "
				    "(TODO 3; ufixed.h: -EINVAL for u not live)", grade_errno_str(ret),
				    caller_registrations() - regs);
			ret = SEAM_CALL(ufixed_add_buffer(&junk, a, alen));
			grade_check(ret == -EINVAL && caller_registrations() == regs,
				    "ufixed_add_buffer on a struct ufixed with live 0 (other fields "
				    "left over) returned %s, expected -EINVAL (TODO 2; ufixed.h)",
				    grade_errno_str(ret));
			SEAM_CALL_VOID(ufixed_exit(&junk));
			grade_check(watch.exits == exits, "ufixed_exit on a struct ufixed with live 0 "
				    "(other fields left over) called io_uring_queue_exit: live 0 means "
				    "nothing to release (TODO 9; ufixed.h)");
		}
		grade_check(!memcmp(keep, u.bufs, sizeof(keep)), "a refused ufixed_add_buffer "
			    "changed u.bufs[]");
	}
	/* Memory the kernel cannot pin (PROT_NONE): its -EFAULT, as it came, the
	 * table unchanged; a buffer of exactly UFIXED_MAX_BUF_LEN is allowed, so
	 * the kernel is asked (and says -EFAULT here, not the module -EINVAL). */
	{
		struct iovec keep[UFIXED_MAX_BUFS];
		size_t lens[2] = { 4096, UFIXED_MAX_BUF_LEN };
		void *none = mmap(NULL, UFIXED_MAX_BUF_LEN, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		grade_check(none != MAP_FAILED, "harness: mmap: %s", strerror(errno));
		memcpy(keep, u.bufs, sizeof(keep));
		for (int k = 0; k < 2; k++) {
			ret = SEAM_CALL(ufixed_add_buffer(&u, none, lens[k]));
			if (ret >= 0)
				SEAM_CALL(ufixed_remove_buffer(&u, (unsigned)ret));
			grade_check(ret == -EFAULT, "ufixed_add_buffer of %zu bytes of memory the "
				    "kernel cannot pin (PROT_NONE) returned %s, expected -EFAULT: %s",
				    lens[k], grade_errno_str(ret), ret == -EINVAL ? "len "
				    "UFIXED_MAX_BUF_LEN itself is allowed, only above it is -EINVAL "
				    "(TODO 2; ufixed.h)" : "return the kernel's error as it came, "
				    "not one of your own (TODO 2; ufixed.h; man 2 io_uring_register, "
				    "ERRORS)");
		}
		grade_check(!memcmp(keep, u.bufs, sizeof(keep)), "a refused ufixed_add_buffer "
			    "(-EFAULT) changed u.bufs[]");
		munmap(none, UFIXED_MAX_BUF_LEN);
		/* Nor the kernel's table: the slots filled before still read. */
		for (unsigned k = 0; k < 2; k++) {
			unsigned char *base = k == 0 ? c : b;

			memset(base, 0, 4096);
			ret = probe_read(&u, fd, false, base, 4096, (int)k);
			grade_check(ret == 4096 && grade_first_diff(base, data, 4096) < 0, "after "
				    "ufixed_add_buffer was refused (-EFAULT), a READ_FIXED of the "
				    "harness into slot %u, filled before, got %s: a refused add must "
				    "leave the kernel's table as it was, not only u->bufs. Update the "
				    "one free slot (io_uring_register_buffers_update_tag); a table "
				    "unregistered and registered again whole is lost when the new "
				    "registration fails (TODO 2; ufixed.h: \"-errno without changing "
				    "the table\"; lesson, section 3)", k, grade_errno_str(ret));
		}
	}
	/* Two rings used in turn: each table is its own. A slot number (or a
	 * "lowest free" hint) kept in a static belongs to every struct ufixed
	 * at once. Slots 0 and 1 of u are filled, 2 is free; u2 is empty. */
	{
		struct ufixed u2;
		int s2;

		init_or_fail(&u2, 8, 0);
		s = SEAM_CALL(ufixed_add_buffer(&u, a, 4096));
		s2 = SEAM_CALL(ufixed_add_buffer(&u2, a, 4096));
		grade_check(s == 2 && s2 == 0, "two rings set up, then a buffer added to the first "
			    "(slots 0 and 1 filled) and one to the second (empty): they got %s and "
			    "%s, expected 2 and 0. Each struct ufixed has its own table: look for "
			    "the lowest free slot in u->bufs of the ring you are given, not from a "
			    "slot number kept in a static or global shared by every ring (TODO 2; "
			    "ufixed.h: \"the lowest free one\")", grade_errno_str(s),
			    grade_errno_str(s2));
		SEAM_CALL_VOID(ufixed_exit(&u2));
		grade_check(SEAM_CALL(ufixed_remove_buffer(&u, 2)) == 0, "ufixed_remove_buffer(&u, "
			    "2) failed (TODO 3)");
	}
	/* Fill every slot, then one more. */
	for (s = 2; s < (int)UFIXED_MAX_BUFS; s++) {
		ret = SEAM_CALL(ufixed_add_buffer(&u, a + (size_t)s * 4096, 4096));
		grade_check(ret == s, "filling the table: ufixed_add_buffer returned %s, expected "
			    "slot %d", grade_errno_str(ret), s);
	}
	ret = SEAM_CALL(ufixed_add_buffer(&u, b, 4096));
	grade_check(ret == -ENOSPC, "with all %u slots taken, ufixed_add_buffer returned %s, "
		    "expected -ENOSPC", UFIXED_MAX_BUFS, grade_errno_str(ret));
	ret = probe_read(&u, fd, false, a + 5 * 4096, 4096, 5);
	grade_check(ret == 4096, "a READ_FIXED into slot 5 of the full table got %s",
		    grade_errno_str(ret));
	/* The last slot is a slot like the others: it can be emptied, and
	 * then it is the lowest free one. */
	ret = SEAM_CALL(ufixed_remove_buffer(&u, UFIXED_MAX_BUFS - 1));
	grade_check(ret == 0 && u.bufs[UFIXED_MAX_BUFS - 1].iov_base == NULL,
		    "ufixed_remove_buffer(&u, %u), the last slot of a full table, returned %s "
		    "(bufs[%u] is %p), expected 0 and the slot emptied: slots 0 to "
		    "UFIXED_MAX_BUFS - 1 are all valid, check slot >= UFIXED_MAX_BUFS only (TODO 3)",
		    UFIXED_MAX_BUFS - 1, grade_errno_str(ret), UFIXED_MAX_BUFS - 1,
		    u.bufs[UFIXED_MAX_BUFS - 1].iov_base);
	ret = probe_read(&u, fd, false, a + (size_t)(UFIXED_MAX_BUFS - 1) * 4096, 4096,
			 UFIXED_MAX_BUFS - 1);
	grade_check(ret == -EFAULT, "a READ_FIXED of the harness into slot %u after "
		    "ufixed_remove_buffer emptied it got %s, expected -EFAULT: the kernel's slot "
		    "is still filled (TODO 3)", UFIXED_MAX_BUFS - 1, grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_add_buffer(&u, b, 4096));
	grade_check(ret == (int)UFIXED_MAX_BUFS - 1, "the last slot emptied in a full table: "
		    "ufixed_add_buffer returned %s, expected slot %u, the only free one (TODO 2)",
		    grade_errno_str(ret), UFIXED_MAX_BUFS - 1);
	SEAM_CALL_VOID(ufixed_exit(&u));
	for (unsigned k = 0; k < UFIXED_MAX_BUFS; k++)
		grade_check(u.bufs[k].iov_base == NULL && u.bufs[k].iov_len == 0, "after "
			    "ufixed_exit, bufs[%u] still holds %p/%zu: the exit empties the tables "
			    "(an empty buffer slot holds NULL and 0) (TODO 9)", k, u.bufs[k].iov_base,
			    u.bufs[k].iov_len);
	close(fd);
	free(data);
	free(a);
	free(b);
	free(c);
}

URING_TEST(tables, files, 2,
	   "ufixed_add_file / ufixed_remove_file: lowest free slot, the kernel's table really "
	   "updated, the caller may close its fd (its slot reads on while others change), "
	   "-EBADF for -1, -2 and a closed fd",
	   "TODOs 4 and 5: one slot of the file table updated in the kernel; negative fds are "
	   "commands in a files update, not files (lesson, section 3: careful with the file "
	   "update; man 2 io_uring_register, IORING_REGISTER_FILES_UPDATE)", 8)
{
	unsigned char *data, buf[4096];
	int fd = data_file("f", 8192, &data), fd2, ret, s0, s1;
	int closed = fault_closed_fd();
	struct ufixed u;

	init_or_fail(&u, 8, 0);
	fd2 = grade_open(grade_path("f"), O_RDONLY);
	s0 = add_file_or_fail(&u, fd);
	s1 = add_file_or_fail(&u, fd2);
	grade_check(s0 == 0 && s1 == 1, "the first two files got slots %d and %d, expected 0 "
		    "and 1 (the lowest free slot)", s0, s1);
	grade_check(u.files[0] == fd && u.files[1] == fd2, "u.files[] does not record the "
		    "registered fds (%d and %d; expected %d and %d)", u.files[0], u.files[1], fd, fd2);
	/* The kernel holds its own reference: the caller's fd may go. */
	close(fd2);
	memset(buf, 0, sizeof(buf));
	ret = probe_read(&u, 1, true, buf, 4096, -1);
	grade_check(ret == 4096 && grade_first_diff(buf, data, 4096) < 0, "a read of the harness "
		    "through file slot 1 (IOSQE_FIXED_FILE), after the caller closed its fd, got "
		    "%s: the kernel's table does not hold the file (TODO 4)", grade_errno_str(ret));
	/* Other slots change while fd2 is closed: slot 1 still reads its file
	 * until slot 1 itself is emptied. */
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(ret == 2, "with file slot 1 holding a file whose fd the caller closed, "
		    "ufixed_add_file(&u, %d) returned %s, expected slot 2: the caller may close a "
		    "registered fd (ufixed.h: the kernel holds its own reference), and that must "
		    "not stop the table from changing. Update the one slot "
		    "(io_uring_register_files_update); registering the whole table again from "
		    "u->files hands the kernel an fd number that is closed now, or reused by "
		    "another file (TODO 4; lesson, sections 3 and 5)", fd, grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_file(&u, 2));
	grade_check(ret == 0, "with file slot 1 holding a file whose fd the caller closed, "
		    "ufixed_remove_file(&u, 2) returned %s, expected 0: update the one slot with "
		    "-1 (io_uring_register_files_update); registering the whole table again from "
		    "u->files hands the kernel an fd number that is closed now (TODO 5; lesson, "
		    "section 3)", grade_errno_str(ret));
	memset(buf, 0, sizeof(buf));
	ret = probe_read(&u, 1, true, buf, 4096, -1);
	grade_check(ret == 4096 && grade_first_diff(buf, data, 4096) < 0, "file slot 1 (its fd "
		    "closed by the caller) was read by the harness after slot 2 was filled and "
		    "emptied again: %s, expected 4096 bytes of its file. Adding and removing "
		    "another slot must leave slot 1 as it is (TODOs 4 and 5)", grade_errno_str(ret));
	for (int bad = -2; bad <= -1; bad++) {
		ret = SEAM_CALL(ufixed_add_file(&u, bad));
		grade_check(ret == -EBADF, "ufixed_add_file(&u, %d) returned %s, expected -EBADF: "
			    "in a files update %d means \"%s\", so it would succeed without "
			    "registering a file (TODO 4)", bad, grade_errno_str(ret), bad,
			    bad == -1 ? "empty this slot" : "skip this slot");
	}
	ret = SEAM_CALL(ufixed_add_file(&u, closed));
	grade_check(ret == -EBADF, "ufixed_add_file of a closed fd (%d) returned %s, expected "
		    "-EBADF (from the kernel)", closed, grade_errno_str(ret));
	/* Another refusal of the kernel (an allocation failing: -ENOMEM, made
	 * here by the harness): returned as it came, the table unchanged. */
	files_update_err = -ENOMEM;
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(files_update_err == 0, "ufixed_add_file did not update the kernel's file "
		    "table with io_uring_register_files_update (or its _tag form) (TODO 4)");
	grade_check(ret == -ENOMEM, "the kernel refused the file table update of "
		    "ufixed_add_file(&u, %d) with -ENOMEM, and ufixed_add_file returned %s: return "
		    "the kernel's error as it came (-EBADF is what a closed fd gives, not what every "
		    "refusal means) (TODO 4; ufixed.h: every function returns -errno; man 2 "
		    "io_uring_register, ERRORS)", fd, grade_errno_str(ret));
	{
		struct ufixed dead;

		memset(&dead, 0, sizeof(dead));
		ret = SEAM_CALL(ufixed_add_file(&dead, fd));
		grade_check(ret == -EINVAL, "ufixed_add_file on a ring never set up (live 0) "
			    "returned %s, expected -EINVAL", grade_errno_str(ret));
		ret = SEAM_CALL(ufixed_add_file(NULL, fd));
		grade_check(ret == -EINVAL, "ufixed_add_file(NULL, fd) returned %s, expected -EINVAL",
			    grade_errno_str(ret));
		ret = SEAM_CALL(ufixed_remove_file(&dead, 0));
		grade_check(ret == -EINVAL, "ufixed_remove_file on a ring never set up returned %s, "
			    "expected -EINVAL", grade_errno_str(ret));
	}
	grade_check(u.files[2] == -1, "a refused ufixed_add_file filled slot 2 (files[2] = %d)",
		    u.files[2]);
	/* A removal the kernel refuses: its error, the slot still filled. */
	files_update_err = -ENOMEM;
	ret = SEAM_CALL(ufixed_remove_file(&u, 0));
	grade_check(files_update_err == 0, "ufixed_remove_file did not empty the kernel's slot "
		    "with io_uring_register_files_update (or its _tag form) (TODO 5)");
	files_update_err = 0;
	grade_check(ret == -ENOMEM && u.files[0] == fd, "the kernel refused to empty file slot 0 "
		    "(-ENOMEM, made by the harness), and ufixed_remove_file returned %s with "
		    "files[0] = %d; expected -ENOMEM and files[0] still %d: the kernel still holds "
		    "the file, so the record must too (ufixed_read would read the fd without the "
		    "slot). Check what the update returned before you set files[slot] to -1 "
		    "(TODO 5; ufixed.h, ufixed_remove_file)", grade_errno_str(ret), u.files[0], fd);
	memset(buf, 0, sizeof(buf));
	ret = probe_read(&u, 0, true, buf, 4096, -1);
	grade_check(ret == 4096 && grade_first_diff(buf, data, 4096) < 0, "after a refused "
		    "ufixed_remove_file, a read through file slot 0 got %s", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_file(&u, 1));
	grade_check(ret == 0 && u.files[1] == -1, "ufixed_remove_file(&u, 1) returned %s and left "
		    "files[1] = %d; expected 0 and -1 (TODO 5)", grade_errno_str(ret), u.files[1]);
	ret = probe_read(&u, 1, true, buf, 4096, -1);
	grade_check(ret == -EBADF, "a read through file slot 1 after ufixed_remove_file got %s; "
		    "an empty slot gives -EBADF: the kernel's slot was not emptied (TODO 5)",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_remove_file(&u, 1));
	grade_check(ret == -EINVAL, "removing the empty file slot 1 again returned %s, expected "
		    "-EINVAL", grade_errno_str(ret));
	/* fd 0 is an fd like any other: here it is the data file. */
	grade_check(dup2(fd, 0) == 0, "harness: dup2: %s", strerror(errno));
	ret = SEAM_CALL(ufixed_add_file(&u, 0));
	grade_check(ret == 1, "ufixed_add_file(&u, 0) returned %s, expected slot 1: fd 0 is "
		    "open (only a negative fd is refused)", grade_errno_str(ret));
	/* Slot 1 now holds fd 0: it is taken, not free (an empty slot is -1). */
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(ret == 2 && u.files[1] == 0, "with fd 0 in file slot 1, the next "
		    "ufixed_add_file returned %s and files[1] is %d; expected slot 2 and files[1] "
		    "still 0: a slot holding fd 0 is taken, only -1 marks an empty slot (TODO 4; "
		    "ufixed.h, struct ufixed)", grade_errno_str(ret), u.files[1]);
	grade_check(SEAM_CALL(ufixed_remove_file(&u, 2)) == 0, "ufixed_remove_file(&u, 2) failed");
	{
		unsigned char *arena = arena_alloc(4096);
		struct batch_req zero = { 0, 0, 4096, arena, 1 };

		watch_sqes(&u, &zero, 1);
		ret = run_read(&u, &zero, 1, 1);
		check_sqes("a read of fd 0, registered in file slot 1");
		grade_check(ret == 0 && zero.res == 4096 && grade_first_diff(arena, data, 4096) < 0,
			    "a read of fd 0 (registered in slot 1): ufixed_read returned %s, res %s",
			    grade_errno_str(ret), grade_errno_str(zero.res));
		free(arena);
	}
	grade_check(SEAM_CALL(ufixed_remove_file(&u, 1)) == 0, "ufixed_remove_file(&u, 1) failed");
	{
		/* A high fd number is an fd like any other: the kernel takes
		 * any open fd (RLIMIT_NOFILE bounds them, not FD_SETSIZE's
		 * 1024). The soft limit is raised if the hard one allows. */
		struct rlimit nofile;
		const int target = 1100;
		int high;

		if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur <= (rlim_t)target &&
		    nofile.rlim_max > (rlim_t)target) {
			nofile.rlim_cur = (rlim_t)target + 1;
			setrlimit(RLIMIT_NOFILE, &nofile);
		}
		/* A machine whose hard limit is lower has no such fd: no check. */
		high = fcntl(fd, F_DUPFD, target);
		ret = high < 0 ? 1 : SEAM_CALL(ufixed_add_file(&u, high));
		grade_check(high < 0 || (ret == 1 && u.files[1] == high), "ufixed_add_file(&u, "
			    "%d), an open fd, returned %s (files[1] %d), expected slot 1: any open "
			    "fd can be registered, however high its number (only a negative or "
			    "closed fd is -EBADF, and the kernel says which is closed; TODO 4; "
			    "ufixed.h)", high, grade_errno_str(ret), u.files[1]);
		if (high >= 0 && ret == 1) {
			memset(buf, 0, sizeof(buf));
			ret = probe_read(&u, 1, true, buf, 4096, -1);
			grade_check(ret == 4096 && grade_first_diff(buf, data, 4096) < 0,
				    "a read through file slot 1 (fd %d) got %s, expected 4096 bytes "
				    "of its file", high, grade_errno_str(ret));
			grade_check(SEAM_CALL(ufixed_remove_file(&u, 1)) == 0,
				    "ufixed_remove_file(&u, 1) failed");
		}
		if (high >= 0)
			close(high);
	}
	{
		/* A ring whose struct is followed by open fd numbers: files[16],
		 * one past the table, would read one of them and hand slot 16 to
		 * the kernel. The contract refuses the slot itself. */
		struct { struct ufixed u; int after[16]; } box;

		memset(&box, 0, sizeof(box));  /* any padding after files[]: fd 0 */
		for (size_t k = 0; k < 16; k++)
			box.after[k] = fd;
		init_or_fail(&box.u, 8, 0);
		add_file_or_fail(&box.u, fd);
		check_slots_past(&box.u, ufixed_remove_file, "ufixed_remove_file",
				 "UFIXED_MAX_FILES", UFIXED_MAX_FILES, "u->files[slot]", 5);
		SEAM_CALL_VOID(ufixed_exit(&box.u));
		check_slots_past(&u, ufixed_remove_file, "ufixed_remove_file", "UFIXED_MAX_FILES",
				 UFIXED_MAX_FILES, "u->files[slot]", 5);
		ret = SEAM_CALL(ufixed_remove_file(NULL, 0));
		grade_check(ret == -EINVAL, "ufixed_remove_file(NULL, 0) returned %s, expected "
			    "-EINVAL: no ring is not a live ring (TODO 5; ufixed.h)",
			    grade_errno_str(ret));
	}
	/* Slot 0 holds fd, the rest are free. A hole below filled slots is the
	 * lowest free slot; and two rings used in turn each have their own
	 * table (a slot number or hint kept in a static is shared by both). */
	{
		struct ufixed u2;
		int s2;

		init_or_fail(&u2, 8, 0);
		s0 = SEAM_CALL(ufixed_add_file(&u, fd));
		s2 = SEAM_CALL(ufixed_add_file(&u2, fd));
		grade_check(s0 == 1 && s2 == 0, "two rings set up, then a file added to the first "
			    "(slot 0 filled) and one to the second (empty): they got %s and %s, "
			    "expected 1 and 0. Each struct ufixed has its own table: look for the "
			    "lowest free slot in u->files of the ring you are given, not from a slot "
			    "number kept in a static or global shared by every ring (TODO 4; "
			    "ufixed.h: \"the lowest free one\")", grade_errno_str(s0),
			    grade_errno_str(s2));
		SEAM_CALL_VOID(ufixed_exit(&u2));
		s1 = SEAM_CALL(ufixed_add_file(&u, fd));
		grade_check(s1 == 2, "with file slots 0 and 1 filled, ufixed_add_file returned %s, "
			    "expected slot 2", grade_errno_str(s1));
		grade_check(SEAM_CALL(ufixed_remove_file(&u, 1)) == 0, "ufixed_remove_file(&u, 1) "
			    "failed (TODO 5)");
		ret = SEAM_CALL(ufixed_add_file(&u, fd));
		grade_check(ret == 1 && u.files[2] == fd, "file slots 0 and 2 filled, 1 emptied: "
			    "ufixed_add_file returned %s (files[2] is %d), expected slot 1, the "
			    "lowest free one: the table may have holes, so the number of files "
			    "registered is not the free slot (a filled slot would be overwritten); "
			    "look for the first -1 in u->files (TODO 4; ufixed.h)",
			    grade_errno_str(ret), u.files[2]);
		grade_check(SEAM_CALL(ufixed_remove_file(&u, 1)) == 0 &&
			    SEAM_CALL(ufixed_remove_file(&u, 2)) == 0, "ufixed_remove_file of slots 1 "
			    "and 2 failed (TODO 5)");
	}
	for (unsigned k = 1; k < UFIXED_MAX_FILES; k++) {
		ret = SEAM_CALL(ufixed_add_file(&u, fd));
		grade_check(ret == (int)k, "filling the file table: ufixed_add_file returned %s, "
			    "expected slot %u", grade_errno_str(ret), k);
	}
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(ret == -ENOSPC, "with all %u file slots taken, ufixed_add_file returned %s, "
		    "expected -ENOSPC", UFIXED_MAX_FILES, grade_errno_str(ret));
	/* The last slot is a slot like the others: it can be emptied, and
	 * then it is the lowest free one. */
	ret = SEAM_CALL(ufixed_remove_file(&u, UFIXED_MAX_FILES - 1));
	grade_check(ret == 0 && u.files[UFIXED_MAX_FILES - 1] == -1,
		    "ufixed_remove_file(&u, %u), the last slot of a full table, returned %s "
		    "(files[%u] is %d), expected 0 and the slot emptied (-1): slots 0 to "
		    "UFIXED_MAX_FILES - 1 are all valid, check slot >= UFIXED_MAX_FILES only "
		    "(TODO 5)", UFIXED_MAX_FILES - 1, grade_errno_str(ret), UFIXED_MAX_FILES - 1,
		    u.files[UFIXED_MAX_FILES - 1]);
	ret = probe_read(&u, UFIXED_MAX_FILES - 1, true, buf, 4096, -1);
	grade_check(ret == -EBADF, "a read of the harness through file slot %u after "
		    "ufixed_remove_file emptied it got %s, expected -EBADF: the kernel's slot "
		    "still holds the file (TODO 5)", UFIXED_MAX_FILES - 1, grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(ret == (int)UFIXED_MAX_FILES - 1, "the last file slot emptied in a full "
		    "table: ufixed_add_file returned %s, expected slot %u, the only free one "
		    "(TODO 4)", grade_errno_str(ret), UFIXED_MAX_FILES - 1);
	SEAM_CALL_VOID(ufixed_exit(&u));
	for (unsigned k = 0; k < UFIXED_MAX_FILES; k++)
		grade_check(u.files[k] == -1, "after ufixed_exit, files[%u] is still %d: the exit "
			    "empties the tables (an empty file slot holds -1) (TODO 9)", k, u.files[k]);
	/* The kernel's reference on a registered file goes when ufixed_exit
	 * returns, not later: a pipe's write end registered (the caller's fd
	 * closed) must be gone, so the read end sees end of file at once. */
	{
		int p[2];
		ssize_t got;
		char c;

		grade_check(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s",
			    strerror(errno));
		init_or_fail(&u, 8, 0);
		/* In slot 1, slot 0 emptied before: the exit releases whatever
		 * the table holds, not only when slot 0 is filled. */
		add_file_or_fail(&u, fd);
		add_file_or_fail(&u, p[1]);
		grade_check(SEAM_CALL(ufixed_remove_file(&u, 0)) == 0, "ufixed_remove_file(&u, 0) "
			    "failed (TODO 5)");
		close(p[1]);
		SEAM_CALL_VOID(ufixed_exit(&u));
		got = read(p[0], &c, 1);
		grade_check(got == 0, "a pipe's write end was registered in file slot 1 (slot 0 "
			    "emptied; the caller's fd then closed) and ufixed_exit returned, yet the pipe still has a writer (read "
			    "of its other end: %s): the file table was not unregistered, so the "
			    "kernel drops its reference only later, when it frees the ring in the "
			    "background; unregister the files before io_uring_queue_exit (TODO 9; "
			    "man 3 io_uring_unregister_files)", got < 0 ? strerror(errno) : "data");
		close(p[0]);
	}
	close(fd);
	free(data);
}

/* How often the memlock test starts its rounds again after an -ENOMEM, and
 * the pause before each new attempt (see the test). */
#define MEMLOCK_ATTEMPTS 5
#define MEMLOCK_PAUSE_US 300000
#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * One attempt at the memlock test's rounds on a fresh ring: a buffer of big
 * bytes (more than half the limit) registered and removed three times, then
 * registered and the ring torn down with it, then registered again on a new
 * ring. Returns 0, or the refusal of an add (why says which step and what it
 * means); u is torn down on every path.
 */
static int memlock_attempt(struct ufixed *u, unsigned char *mem, size_t big, size_t limit,
			   char *why, size_t whylen)
{
	int ret;

	init_or_fail(u, 8, 0);
	for (int round = 0; round < 3; round++) {
		int s = SEAM_CALL(ufixed_add_buffer(u, mem, big));

		if (s < 0) {
			snprintf(why, whylen, "round %d: ufixed_add_buffer of %zu bytes under "
				 "RLIMIT_MEMLOCK %zu returned %s. %s", round + 1, big, limit,
				 grade_errno_str(s), round == 0 ? "It fits on its own" :
				 "The same buffer was registered and removed in the round before: "
				 "its charge was not given back. Empty the kernel's slot in "
				 "ufixed_remove_buffer (TODO 3)");
			SEAM_CALL_VOID(ufixed_exit(u));
			return s;
		}
		ret = SEAM_CALL(ufixed_remove_buffer(u, (unsigned)s));
		grade_check(ret == 0, "ufixed_remove_buffer returned %s", grade_errno_str(ret));
	}
	/* A ring torn down with a buffer still registered: ufixed_exit must
	 * unregister it, or the charge stays until the ring is freed later.
	 * The buffer is in slot 1 with slot 0 emptied before (a page of its
	 * own, after the big one): the exit releases whatever the table holds,
	 * not only when slot 0 is filled. */
	{
		int small = SEAM_CALL(ufixed_add_buffer(u, mem + big, 4096));

		ret = small < 0 ? small : SEAM_CALL(ufixed_add_buffer(u, mem, big));
		if (ret < 0) {
			snprintf(why, whylen, "ufixed_add_buffer of %zu bytes returned %s",
				 small < 0 ? (size_t)4096 : big, grade_errno_str(ret));
			SEAM_CALL_VOID(ufixed_exit(u));
			return ret;
		}
		grade_check(SEAM_CALL(ufixed_remove_buffer(u, (unsigned)small)) == 0,
			    "ufixed_remove_buffer of slot %d failed (TODO 3)", small);
	}
	SEAM_CALL_VOID(ufixed_exit(u));
	init_or_fail(u, 8, 0);
	ret = SEAM_CALL(ufixed_add_buffer(u, mem, big));
	if (ret < 0)
		snprintf(why, whylen, "after ufixed_exit of a ring holding a buffer of %zu bytes, "
			 "a new ring could not register it again (%s): ufixed_exit must unregister "
			 "the buffers (io_uring_unregister_buffers) before io_uring_queue_exit, "
			 "which frees the ring (and its pins) only later, in the background "
			 "(TODO 9; whatever slots are filled: slot 0 was empty here, the buffer was in "
			 "slot 1)", big, grade_errno_str(ret));
	SEAM_CALL_VOID(ufixed_exit(u));
	return ret < 0 ? ret : 0;
}

URING_TEST(tables, memlock, 2,
	   "ufixed_add_buffer under a lowered RLIMIT_MEMLOCK: a buffer above it is -ENOMEM (the "
	   "table unchanged); a removed buffer and a ring torn down give their charge back",
	   "TODO 2: return the kernel's -ENOMEM as it is and record nothing; TODO 3 and 9: the "
	   "kernel unpins a buffer only when its slot is emptied or the table unregistered "
	   "(lesson: the memlock charge; man 2 io_uring_register)", 8)
{
	struct rlimit rl;
	size_t limit, big;
	unsigned char *mem;
	struct ufixed u;
	int ret, kept, got;
	unsigned char *page = arena_alloc(4096), *data;
	int fd = data_file("f", 4096, &data);
	bool enforced;

	grade_require_memlock(4u << 20, "the memlock test (a buffer under the limit, another above)");
	grade_check(getrlimit(RLIMIT_MEMLOCK, &rl) == 0, "harness: getrlimit: %s", strerror(errno));
	/* 16 MiB at most: lowered for this test (its own process). */
	limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (16u << 20) ? 16u << 20
									  : (size_t)rl.rlim_cur;
	rl.rlim_cur = limit;
	grade_check(setrlimit(RLIMIT_MEMLOCK, &rl) == 0, "harness: setrlimit: %s", strerror(errno));
	/* Big enough that two at once pass the limit, small enough that one fits
	 * beside the other rings of this user. */
	big = limit * 5 / 8 / 4096 * 4096;
	mem = arena_alloc(limit + 4096);
	/* Whether the kernel charges this process at all: with CAP_IPC_LOCK (root
	 * outside the grader's sandbox) it does not, and only the removes are
	 * checked. */
	{
		struct io_uring ring;
		struct iovec iov = { mem, limit + 4096 };

		grade_check(SEAM_REAL(io_uring_queue_init)(4, &ring, 0) == 0, "harness: no ring");
		enforced = SEAM_REAL(io_uring_register_buffers)(&ring, &iov, 1) == -ENOMEM;
		SEAM_REAL(io_uring_queue_exit)(&ring);
	}
	init_or_fail(&u, 8, 0);
	/* A page already registered (slot 0) when the big one is refused: the
	 * refusal must leave it in the kernel's table and in the record. */
	/* The charge is per user (see below): a page refused while other
	 * gradings hold theirs is tried again after a pause. */
	for (int attempt = 1;; attempt++) {
		kept = SEAM_CALL(ufixed_add_buffer(&u, page, 4096));
		if (kept != -ENOMEM || attempt == MEMLOCK_ATTEMPTS)
			break;
		usleep(MEMLOCK_PAUSE_US);
	}
	if (kept == -ENOMEM)
		memlock_skip_if_short(8, page, 4096, "ufixed_add_buffer of one page");
	grade_check(kept >= 0 && (unsigned)kept < UFIXED_MAX_BUFS - 1, "ufixed_add_buffer of one "
		    "page on a new ring returned %s, expected a free slot (TODO 2)",
		    grade_errno_str(kept));
	ret = SEAM_CALL(ufixed_add_buffer(&u, mem, limit + 4096));
	grade_check(!enforced || ret == -ENOMEM, "ufixed_add_buffer of %zu bytes under "
		    "RLIMIT_MEMLOCK %zu returned %s, expected -ENOMEM (from the kernel: pinned pages "
		    "are charged to the limit)", limit + 4096, limit, grade_errno_str(ret));
	if (ret >= 0)
		SEAM_CALL(ufixed_remove_buffer(&u, (unsigned)ret));
	grade_check(u.bufs[kept].iov_base == page && u.bufs[kept].iov_len == 4096,
		    "a refused ufixed_add_buffer (-ENOMEM) changed slot %d, which held another "
		    "buffer (u.bufs[%d] is now %p, %zu bytes): -ENOMEM leaves the table as it was, "
		    "the other buffers too; never unregister or rebuild the table to make room "
		    "(TODO 2; ufixed.h: -errno without changing the table)", kept, kept,
		    u.bufs[kept].iov_base, u.bufs[kept].iov_len);
	grade_check(ret >= 0 || u.bufs[kept + 1].iov_base == NULL, "a refused ufixed_add_buffer "
		    "(-ENOMEM) recorded the buffer in u.bufs[%d]: record a slot only once the "
		    "kernel took it", kept + 1);
	memset(page, 0, 4096);
	got = probe_read(&u, fd, false, page, 4096, kept);
	grade_check(got == 4096 && memcmp(page, data, 4096) == 0, "after a refused "
		    "ufixed_add_buffer (-ENOMEM), a READ_FIXED of the harness through slot %d, "
		    "which held another buffer, gave %s: the kernel's slot was emptied; -ENOMEM "
		    "must leave the kernel's table as it was (TODO 2)", kept, grade_errno_str(got));
	/* The charge belongs to the user, not to this process: every process of
	 * the same user without CAP_IPC_LOCK (other sandboxed gradings beside
	 * this one) counts against the limit, and a ring torn down a moment ago
	 * may hold its charge a little longer. A step refused with -ENOMEM is
	 * therefore tried again from the start, after a pause, a few times: a
	 * module that keeps a charge fails every attempt, a busy machine does
	 * not. */
	SEAM_CALL_VOID(ufixed_exit(&u));
	for (int attempt = 1;; attempt++) {
		char why[512];

		ret = memlock_attempt(&u, mem, big, limit, why, sizeof(why));
		if (ret == 0)
			break;
		if (ret == -ENOMEM && attempt == MEMLOCK_ATTEMPTS)
			memlock_skip_if_short(8, mem, big, "a buffer of 5/8 of the limit");
		grade_check(ret == -ENOMEM && attempt < MEMLOCK_ATTEMPTS, "%s%s", why,
			    ret == -ENOMEM ? " (the same in every one of " STR(MEMLOCK_ATTEMPTS)
			    " attempts, 0.3 s apart; the charge is per user, so a program of yours "
			    "holding pinned memory meanwhile counts too)" : "");
		usleep(MEMLOCK_PAUSE_US);
	}
	free(mem);
	free(page);
	free(data);
	close(fd);
}

/* ------------------------------------------------------------------ reads */

/*
 * A batch over two registered arenas and one plain buffer area, two files
 * (one registered, one not): requests inside an arena, crossing an arena's
 * end, starting just before it, in the plain area.
 */
struct mixed {
	unsigned char *arena[2], *plain, *data[2];
	size_t alen, size;
	int fd[2];
	struct batch_req *reqs;
	size_t n;
};

static void mixed_make(struct mixed *m, struct ufixed *u, size_t n)
{
	m->alen = 256 * 1024;
	m->size = 300000 + grade_rand_below(200000);
	m->arena[0] = arena_alloc(m->alen);
	m->arena[1] = arena_alloc(m->alen + 4096);  /* room past the registered end */
	m->plain = arena_alloc(m->alen);
	m->fd[0] = data_file("a", m->size, &m->data[0]);
	m->fd[1] = data_file("b", m->size, &m->data[1]);
	m->n = n;
	m->reqs = grade_xmalloc(n * sizeof(*m->reqs));
	grade_check(add_buffer_or_fail(u, m->arena[0], m->alen) == 0 &&
		    add_buffer_or_fail(u, m->arena[1], m->alen) == 1,
		    "the first two buffers must get slots 0 and 1");
	grade_check(add_file_or_fail(u, m->fd[0]) == 0, "the first file must get slot 0");
	for (size_t i = 0; i < n; i++) {
		struct batch_req *q = &m->reqs[i];
		size_t len = 1 + grade_rand_below(6000), where = grade_rand_below(4);
		unsigned char *base;

		/* Each request its own part of its area: i-th 1/n of it. */
		size_t part = m->alen / n, at = i * part;

		if (len > part)
			len = part;
		switch (where) {
		case 0: base = m->arena[0] + at; break;
		case 1: base = m->arena[1] + at; break;
		default: base = m->plain + at; break;
		}
		q->fd = m->fd[grade_rand_below(2)];
		q->offset = (off_t)grade_rand_below(m->size + m->size / 10);
		q->len = len;
		q->buf = base;
		q->res = 0x5a5a;
	}
	/* Edges of the registered ranges (n >= 8): the last bytes of arena 0
	 * (inside), a buffer nowhere registered, one that starts in the last byte
	 * of arena 1 and runs past its end (not inside: a plain read). */
	if (n >= 8) {
		m->reqs[n - 1].buf = m->arena[0] + m->alen - 100;
		m->reqs[n - 1].len = 100;
		m->reqs[n - 2].buf = m->plain + m->alen - 4096;  /* not registered at all */
		m->reqs[n - 2].len = 4096;
		m->reqs[n - 3].buf = m->arena[1] + m->alen - 1;  /* crosses arena 1's end */
		m->reqs[n - 3].len = 100;
	}
}

static void mixed_check(struct mixed *m, const char *what)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct batch_req *q = &m->reqs[i];

		check_req(q, i, q->fd == m->fd[0] ? m->data[0] : m->data[1], m->size, what);
	}
}

static void mixed_free(struct mixed *m)
{
	free(m->reqs);
	free(m->arena[0]);
	free(m->arena[1]);
	free(m->plain);
	close(m->fd[0]);
	close(m->fd[1]);
	free(m->data[0]);
	free(m->data[1]);
}

URING_TEST(read, random_batches, 2,
	   "ufixed_read: batches of random reads, in registered buffers and not, on registered "
	   "files and not, all right",
	   "TODOs 6-8: choose per request (the whole buffer inside a slot: READ_FIXED with its "
	   "buf_index; fd in the file table: its slot with IOSQE_FIXED_FILE), the rest as in "
	   "chapter 06 (ufixed.h; lesson, the exercise)", 16)
{
	static const unsigned qds[] = { 1, 4, 16, 7 };
	struct ufixed u;
	struct mixed m;

	init_or_fail(&u, 16, 0);
	mixed_make(&m, &u, 48);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		char what[64];
		int ret;

		for (size_t i = 0; i < m.n; i++)
			m.reqs[i].res = 0x5a5a;
		ret = run_read(&u, m.reqs, m.n, qds[k]);
		grade_check(ret == 0, "ufixed_read of %zu reads at qd %u returned %s, expected 0",
			    m.n, qds[k], grade_errno_str(ret));
		snprintf(what, sizeof(what), "batch %zu (qd %u)", k + 1, qds[k]);
		mixed_check(&m, what);
		check_ring_clean(&u, "after ufixed_read returned");
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	mixed_free(&m);
}

/* Two mappings of len bytes, *hi exactly 4 GiB above *lo (each PROT_READ |
 * PROT_WRITE, freed with munmap), or false. Fixed addresses in the empty
 * middle of the address space first (above ASan's shadow, below the heap
 * and the libraries; MAP_FIXED_NOREPLACE never takes a used one), then the
 * kernel's own choice with 4 GiB above it: mappings start at a random
 * distance under the stack, which may leave no room above them. */
static bool map_4gib_apart(size_t len, unsigned char **lo, unsigned char **hi)
{
	const int prot = PROT_READ | PROT_WRITE,
		  fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;

	for (int j = -1; j < 64; j++) {
		void *a, *b;

		a = j < 0 ? mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			  : mmap((void *)(0x200000000000ul + ((uintptr_t)j << 38)), len, prot,
				 fixed, -1, 0);
		if (a == MAP_FAILED)
			continue;
		b = mmap((unsigned char *)a + (1ul << 32), len, prot, fixed, -1, 0);
		if (b == (unsigned char *)a + (1ul << 32)) {
			*lo = a;
			*hi = b;
			return true;
		}
		if (b != MAP_FAILED)
			munmap(b, len); /* a kernel that took the address as a hint */
		munmap(a, len);
	}
	return false;
}

URING_TEST(mechanism, fixed_opcodes, 3,
	   "ufixed_read: READ_FIXED with the right buf_index exactly for buffers inside a slot, "
	   "IOSQE_FIXED_FILE with the slot exactly for registered fds, plain reads otherwise",
	   "TODO 6: the WHOLE range [buf, buf + len) inside one slot (else a plain READ: a "
	   "READ_FIXED past the slot's end fails with -EFAULT); TODO 7 and 8: with "
	   "IOSQE_FIXED_FILE the SQE's fd field is the slot (man 3 io_uring_prep_read_fixed, "
	   "man 2 io_uring_enter: IOSQE_FIXED_FILE)", 16)
{
	struct ufixed u;
	struct mixed m;
	unsigned char *spare;
	int ret;

	init_or_fail(&u, 16, 0);
	mixed_make(&m, &u, 64);
	/* One more file slot before the one in use: slot numbers and fds differ. */
	grade_check(SEAM_CALL(ufixed_remove_file(&u, 0)) == 0, "ufixed_remove_file(&u, 0) failed");
	grade_check(add_file_or_fail(&u, m.fd[1]) == 0 && add_file_or_fail(&u, m.fd[0]) == 1,
		    "files must get the lowest free slots");
	grade_check(SEAM_CALL(ufixed_remove_file(&u, 0)) == 0, "ufixed_remove_file(&u, 0) failed");
	/* The same for buffers: slot 0 empty, arena 1 in slot 1, arena 0 in 2. */
	spare = arena_alloc(4096);
	grade_check(SEAM_CALL(ufixed_remove_buffer(&u, 0)) == 0 &&
		    SEAM_CALL(ufixed_remove_buffer(&u, 1)) == 0, "ufixed_remove_buffer failed");
	grade_check(add_buffer_or_fail(&u, spare, 4096) == 0 &&
		    add_buffer_or_fail(&u, m.arena[1], m.alen) == 1 &&
		    add_buffer_or_fail(&u, m.arena[0], m.alen) == 2,
		    "buffers must get the lowest free slots");
	grade_check(SEAM_CALL(ufixed_remove_buffer(&u, 0)) == 0, "ufixed_remove_buffer(&u, 0) "
		    "failed");
	watch_sqes(&u, m.reqs, m.n);
	ret = run_read(&u, m.reqs, m.n, 8);
	check_sqes("the SQEs of a batch (buffer slot 0 and file slot 0 empty, the others filled: "
		   "a sparse table has holes, look at every slot)");
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	mixed_check(&m, "with registered buffers and files");
	grade_check(sqe_rules.fixed_reads > 0 && sqe_rules.plain_reads > 0 &&
		    sqe_rules.fixed_files > 0 && sqe_rules.plain_files > 0,
		    "harness: the batch did not mix fixed and plain reads (%ld/%ld, %ld/%ld)",
		    sqe_rules.fixed_reads, sqe_rules.plain_reads, sqe_rules.fixed_files,
		    sqe_rules.plain_files);

	/* Three slots side by side in memory (slots 0, 3 and 4), unregistered
	 * room after the last: a buffer ending exactly at a slot's end and one
	 * starting at a slot's start are inside; one that crosses from one slot
	 * into the next, or ends a byte past the last, is wholly in no slot. */
	{
		unsigned char *row = arena_alloc(4 * 4096);
		struct batch_req e[5];
		static const char *const what[5] = {
			"ends exactly at the end of slot 0", "starts at the start of slot 3",
			"crosses from slot 3 into slot 4, its neighbour in memory",
			"ends one byte past the end of slot 4",
			"starts 4096 bytes below the top of the address space and is 8192 bytes "
			"long (buf + len wraps around to 4096, which looks like an end inside "
			"every slot: compare how far into the slot it starts and the room left "
			"there, never buf + len; lesson, hints)" };

		grade_check(add_buffer_or_fail(&u, row, 4096) == 0 &&
			    add_buffer_or_fail(&u, row + 4096, 4096) == 3 &&
			    add_buffer_or_fail(&u, row + 8192, 4096) == 4,
			    "buffers must get the lowest free slots (0, then 3 and 4)");
		e[0] = (struct batch_req){ m.fd[0], 1000, 100, row + 4096 - 100, 1 };
		e[1] = (struct batch_req){ m.fd[0], 2000, 100, row + 4096, 1 };
		e[2] = (struct batch_req){ m.fd[0], 3000, 100, row + 8192 - 50, 1 };
		e[3] = (struct batch_req){ m.fd[0], 4000, 100, row + 12288 - 99, 1 };
		/* Not memory of this process at all: a plain read fails with
		 * -EFAULT; it is in no slot, whatever buf + len wraps to. */
		e[4] = (struct batch_req){ m.fd[0], 5000, 8192, (void *)(UINTPTR_MAX - 4095), 1 };
		watch_sqes(&u, e, 5);
		ret = run_read(&u, e, 5, 5);
		if (sqe_rules.bad[0]) {
			int k = -1;

			for (int i = 0; i < 5 && k < 0; i++) {
				char tag[32];

				snprintf(tag, sizeof(tag), "request %d:", i);
				if (!strncmp(sqe_rules.bad, tag, strlen(tag)))
					k = i;
			}
			watch.on_sqe = NULL;
			grade_check(k < 0, "a buffer that %s: %s", k < 0 ? "" : what[k],
				    sqe_rules.bad);
		}
		check_sqes("buffers at the edges of slots side by side");
		grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
		for (size_t i = 0; i < 4; i++)
			check_req(&e[i], i, m.data[0], m.size, what[i]);
		grade_check(e[4].res == -EFAULT, "request 4, a buffer that %s: res %s, expected "
			    "-EFAULT from its plain read", what[4], grade_errno_str(e[4].res));
		free(row);
	}
	/* The last slot of each table counts like any other: every slot up to
	 * 14 filled with other memory and other fds, the request's buffer in
	 * buffer slot 15 alone and its fd (a dup of its own) in file slot 15
	 * alone. A loop that stops one slot early reads it plain. */
	{
		unsigned char *fill = arena_alloc(UFIXED_MAX_BUFS * 4096), *last = arena_alloc(4096);
		int dupfd = dup(m.fd[0]), bs = -1, fs = -1;
		struct batch_req q;

		grade_check(dupfd >= 0, "harness: dup: %s", strerror(errno));
		/* Both tables emptied first: no slot holds memory or fds of before. */
		for (unsigned k = 0; k < UFIXED_MAX_BUFS; k++)
			if (u.bufs[k].iov_base)
				grade_check(SEAM_CALL(ufixed_remove_buffer(&u, k)) == 0,
					    "ufixed_remove_buffer(&u, %u) failed", k);
		for (unsigned k = 0; k < UFIXED_MAX_FILES; k++)
			if (u.files[k] >= 0)
				grade_check(SEAM_CALL(ufixed_remove_file(&u, k)) == 0,
					    "ufixed_remove_file(&u, %u) failed", k);
		for (int k = 0; k < (int)UFIXED_MAX_BUFS - 1; k++)
			grade_check(add_buffer_or_fail(&u, fill + (size_t)k * 4096, 4096) == k,
				    "buffers must get the lowest free slots");
		for (int k = 0; k < (int)UFIXED_MAX_FILES - 1; k++)
			grade_check(add_file_or_fail(&u, m.fd[1]) == k,
				    "files must get the lowest free slots");
		bs = add_buffer_or_fail(&u, last, 4096);
		fs = add_file_or_fail(&u, dupfd);
		grade_check(bs == (int)UFIXED_MAX_BUFS - 1 && fs == (int)UFIXED_MAX_FILES - 1,
			    "with every other slot filled, the last buffer and file got slots %d and "
			    "%d, expected %u and %u", bs, fs, UFIXED_MAX_BUFS - 1, UFIXED_MAX_FILES - 1);
		q = (struct batch_req){ dupfd, 4096, 4096, last, 1 };
		watch_sqes(&u, &q, 1);
		ret = run_read(&u, &q, 1, 1);
		check_sqes("a read whose buffer is in buffer slot 15 and whose fd is in file slot "
			   "15, the last of each table: look at every slot, 0 to UFIXED_MAX_BUFS - 1 "
			   "and 0 to UFIXED_MAX_FILES - 1, the last one included (TODO 6 and 7)");
		grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
		check_req(&q, 0, m.data[0], m.size, "buffer and file in the last slots");
		SEAM_CALL_VOID(ufixed_exit(&u));  /* before the memory and the fd go */
		close(dupfd);
		free(fill);
		free(last);
	}
	/* Nor past the last slot: a struct ufixed followed in memory by the
	 * very fd a request reads (the int right after files[], in the struct's
	 * padding or the next object), that fd in no slot. files[16] is not a
	 * slot: the read is a plain one of the fd. */
	{
		struct { struct ufixed u; int after[16]; } box;
		unsigned char *dst = arena_alloc(4096);
		int at = m.fd[0];
		struct batch_req q;

		memset(&box, 0, sizeof(box));
		init_or_fail(&box.u, 8, 0);
		add_file_or_fail(&box.u, m.fd[1]);
		for (size_t k = 0; k < 16; k++)
			box.after[k] = at;
		memcpy((char *)&box + offsetof(struct ufixed, files) + sizeof(box.u.files), &at,
		       sizeof(at));
		q = (struct batch_req){ at, 8192, 4096, dst, 1 };
		watch_sqes(&box.u, &q, 1);
		ret = run_read(&box.u, &q, 1, 1);
		check_sqes("a read of an fd in no file slot, with that fd number in the memory right "
			   "after u->files[] (past the table): look at slots 0 to "
			   "UFIXED_MAX_FILES - 1 only, never files[UFIXED_MAX_FILES] (TODO 7)");
		grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
		check_req(&q, 0, m.data[0], m.size, "an fd in no slot, its number past the table");
		SEAM_CALL_VOID(ufixed_exit(&box.u));
		free(dst);
	}
	/* Two rings in one thread, both live, each with tables of its own: a
	 * read looks its slots up in the tables of the u it runs on, not in
	 * those of the ring set up or filled last. Ring a holds buffer ba in
	 * slot 0 and fd[0] in slot 0; ring b, set up and filled after it,
	 * holds other memory in slot 0, buffer bb in slot 1, fd[1] in slot 0
	 * and fd[0] in slot 1. Each ring reads into its own buffer and the
	 * other's, from both files. */
	{
		struct ufixed a, b;
		unsigned char *ba = arena_alloc(2 * 4096), *bb = arena_alloc(2 * 4096),
			      *other = arena_alloc(4096);
		struct batch_req q[2];
		static const char *const names[2] = { "a", "b" };

		init_or_fail(&a, 8, 0);
		init_or_fail(&b, 8, 0);
		grade_check(add_buffer_or_fail(&a, ba, 2 * 4096) == 0 &&
			    add_file_or_fail(&a, m.fd[0]) == 0 &&
			    add_buffer_or_fail(&b, other, 4096) == 0 &&
			    add_buffer_or_fail(&b, bb, 2 * 4096) == 1 &&
			    add_file_or_fail(&b, m.fd[1]) == 0 &&
			    add_file_or_fail(&b, m.fd[0]) == 1,
			    "two rings of their own: each table's first free slots must be given "
			    "out (0 on ring a; 0, then 1 on ring b), whatever the other ring holds");
		for (int k = 0; k < 2; k++) {
			struct ufixed *on = k == 0 ? &a : &b;
			char what[300];

			q[0] = (struct batch_req){ m.fd[0], 4096 * (off_t)(k + 1), 4096, ba, 1 };
			q[1] = (struct batch_req){ m.fd[1], 4096 * (off_t)(k + 3), 4096, bb, 1 };
			watch_sqes(on, q, 2);
			ret = run_read(on, q, 2, 2);
			snprintf(what, sizeof(what), "two rings, both live, in one thread (ring a set "
				 "up first, ring b last), a batch on ring %s: its reads go by ring %s's "
				 "own tables. Look the slots up in the u the call was given, never in "
				 "a static or global that remembers another ring (TODO 6, 7 and 8; "
				 "ufixed.h, ufixed_read)", names[k], names[k]);
			check_sqes(what);
			grade_check(ret == 0, "ufixed_read on ring %s of two returned %s, expected 0",
				    names[k], grade_errno_str(ret));
			check_req(&q[0], 0, m.data[0], m.size, what);
			check_req(&q[1], 1, m.data[1], m.size, what);
		}
		SEAM_CALL_VOID(ufixed_exit(&b));
		SEAM_CALL_VOID(ufixed_exit(&a));
		free(ba);
		free(bb);
		free(other);
	}
	/* Memory 4 GiB above a registered buffer: how far it
	 * lies from the slot's base does not fit in 32 bits, and cut to an int
	 * or an unsigned it looks like an offset inside the slot. It is in no
	 * slot: a plain read. */
	{
		const size_t span = 2 * 4096;
		unsigned char *lo, *hi;
		struct ufixed c;
		struct batch_req q;

		grade_check(map_4gib_apart(span, &lo, &hi), "harness: no two free addresses 4 GiB "
			    "apart: %s", strerror(errno));
		init_or_fail(&c, 8, 0);
		grade_check(add_buffer_or_fail(&c, lo, span) == 0, "the first buffer must get slot 0");
		q = (struct batch_req){ m.fd[0], 4096, 4096, hi + 100, 1 };
		watch_sqes(&c, &q, 1);
		ret = run_read(&c, &q, 1, 1);
		check_sqes("a buffer 4 GiB + 100 bytes above the start of slot 0, which is 8 KiB "
			   "long: its distance from the slot's base needs 64 bits; kept in an int "
			   "or an unsigned it wraps to 100 and looks inside the slot. Keep addresses "
			   "and distances in uintptr_t or size_t (TODO 6)");
		grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
		check_req(&q, 0, m.data[0], m.size, "a buffer 4 GiB above a registered one");
		SEAM_CALL_VOID(ufixed_exit(&c));
		munmap(hi, span);
		munmap(lo, span);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	mixed_free(&m);
	free(spare);
}

URING_TEST(mechanism, registered_once, 2,
	   "ufixed_read: 5 batches on buffers registered once: no registration in any batch, "
	   "every read a READ_FIXED; the tables survive between batches, and slots emptied or "
	   "filled between batches count from the next one",
	   "TODO 8 and the rules of ufixed.h: registration belongs to ufixed_add_* (once), "
	   "never to ufixed_read; ufixed_read only names the slots, looked up in u->bufs and "
	   "u->files as they are at each call (lesson, what registering saves)", 16)
{
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data), slot;
	struct ufixed u;

	init_or_fail(&u, 16, 0);
	slot = add_buffer_or_fail(&u, arena, size);
	grade_check(add_file_or_fail(&u, fd) == 0, "the first file must get slot 0");
	for (int round = 0; round < 5; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);
		int ret;

		memset(arena, 0, size);
		watch_sqes(&u, reqs, n);
		ret = run_read(&u, reqs, n, 16);
		check_sqes("batches on one registered buffer");
		grade_check(ret == 0, "batch %d: ufixed_read returned %s", round + 1,
			    grade_errno_str(ret));
		grade_check(sqe_rules.fixed_reads == (long)n && sqe_rules.plain_reads == 0,
			    "batch %d: %ld of %zu reads were READ_FIXED", round + 1,
			    sqe_rules.fixed_reads, n);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "batches on one registered buffer");
		free(reqs);
	}
	grade_check(u.bufs[slot].iov_base == arena && u.files[0] == fd, "after 5 batches the "
		    "tables changed: ufixed_read must leave them alone");
	/* Between batches the caller empties both slots: the next batch reads
	 * the same memory and fd with plain SQEs. Then the first half of the
	 * arena goes into buffer slot 0 and all of it into slot 1, the fd into
	 * file slots 0 and 1: from the next batch on every read is fixed again
	 * (where two slots hold a request's buffer or fd, either is right). One
	 * request of that batch starts in the first half and ends in the
	 * second: slot 0 holds its start but not all of it, slot 1 holds it
	 * whole, so it is a READ_FIXED of slot 1. */
	grade_check(SEAM_CALL(ufixed_remove_buffer(&u, (unsigned)slot)) == 0 &&
		    SEAM_CALL(ufixed_remove_file(&u, 0)) == 0, "ufixed_remove_buffer(&u, %d) or "
		    "ufixed_remove_file(&u, 0) failed (TODOs 3 and 5)", slot);
	for (int round = 0; round < 2; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);
		int ret;

		if (round == 1) {
			/* Request n/2 - 1 gives up the last half of its block to
			 * request n/2, which then runs from 2048 bytes below the
			 * middle of the arena to the end of its own block. */
			reqs[n / 2 - 1].len = bs / 2;
			reqs[n / 2].buf = arena + size / 2 - bs / 2;
			reqs[n / 2].len = bs + bs / 2;
		}
		if (round == 1)
			grade_check(add_buffer_or_fail(&u, arena, size / 2) == 0 &&
				    add_buffer_or_fail(&u, arena, size) == 1 &&
				    add_file_or_fail(&u, fd) == 0 && add_file_or_fail(&u, fd) == 1,
				    "after the tables were emptied, the buffers and files added must get "
				    "slots 0 and 1 (the lowest free slots)");
		memset(arena, 0, size);
		watch_sqes(&u, reqs, n);
		ret = run_read(&u, reqs, n, 16);
		check_sqes(round == 0 ? "a batch after ufixed_remove_buffer and ufixed_remove_file "
			   "emptied the slots of its buffer and its fd (look the request up in "
			   "u->bufs and u->files as they are at each call: nothing found in an "
			   "earlier batch still holds; TODOs 6 to 8)" : "a batch after the arena was "
			   "registered again (its first half in slot 0, all of it in slot 1) and the "
			   "fd in file slots 0 and 1; a request that starts in slot 0 and runs past "
			   "its end lies wholly in slot 1: look at every slot that could hold the "
			   "whole range, not only the first one holding its start (TODOs 6 to 8)");
		grade_check(ret == 0, "batch after the slots changed: ufixed_read returned %s",
			    grade_errno_str(ret));
		grade_check(sqe_rules.fixed_reads == (round == 0 ? 0 : (long)n) &&
			    sqe_rules.fixed_files == sqe_rules.fixed_reads, "after the slots changed "
			    "between batches, %ld of %zu reads were READ_FIXED and %ld used a file slot; "
			    "expected %ld and %ld (TODOs 6 to 8)", sqe_rules.fixed_reads, n,
			    sqe_rules.fixed_files, round == 0 ? 0L : (long)n, round == 0 ? 0L : (long)n);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, round == 0 ? "a batch after the slots "
				  "were emptied" : "a batch after the arena was registered again");
		free(reqs);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	close(fd);
	free(data);
	free(arena);
}

/* The first CQE of 4096 bytes (request 0 of the errors test, the only read
 * of that length) says -EAGAIN instead: what a file that would block answers
 * a nonblocking read (RWF_NOWAIT). An error like any other, not -EINTR. And
 * the first CQE of 10 bytes (request 1, the last 10 bytes of the file, the
 * only read that gets 10) says -ECANCELED: what a read cancelled by
 * io_uring_prep_cancel or by a broken link chain gets (chapter 07). Also an
 * error like any other: chapter 07 re-issued cancelled links itself, but a
 * batch read leaves the decision to its caller. */
static unsigned eagain_cqes, canceled_cqes;

static void first_4096_eagain(struct io_uring_cqe *cqe)
{
	if (cqe->res == 4096 && eagain_cqes++ == 0)
		cqe->res = -EAGAIN;
	else if (cqe->res == 10 && canceled_cqes++ == 0)
		cqe->res = -ECANCELED;
}

URING_TEST(read, end_of_file_and_errors, 2,
	   "ufixed_read: end of file, length 0 with a bad fd, negative offsets, a closed fd, a "
	   "directory, in registered buffers and on registered files; the others go on",
	   "TODO 8 and chapter 06: res == 0 is end of file; len 0 gives 0 without I/O (a "
	   "negative offset -EINVAL first); a failed read's -errno is its res alone", 8)
{
	const size_t size = 10000;
	unsigned char *data, *arena = arena_alloc(64 * 1024);
	int fd = data_file("f", size, &data);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	int closed = fault_closed_fd();
	struct batch_req reqs[10];
	struct ufixed u;
	int ret;

	init_or_fail(&u, 8, 0);
	add_buffer_or_fail(&u, arena, 64 * 1024);
	add_file_or_fail(&u, fd);
	add_file_or_fail(&u, dir);
	reqs[0] = (struct batch_req){ fd, 0, 4096, arena, 1 };
	reqs[1] = (struct batch_req){ fd, (off_t)size - 10, 4096, arena + 4096, 1 };
	reqs[2] = (struct batch_req){ fd, (off_t)size, 4096, arena + 8192, 1 };
	reqs[3] = (struct batch_req){ fd, (off_t)size + 5000, 100, arena + 12288, 1 };
	reqs[4] = (struct batch_req){ -1, 0, 0, arena + 16384, 1 };
	reqs[5] = (struct batch_req){ fd, -1, 100, arena + 20480, 1 };
	reqs[6] = (struct batch_req){ fd, -4096, 0, arena + 24576, 1 };
	reqs[7] = (struct batch_req){ closed, 0, 100, arena + 28672, 1 };
	reqs[8] = (struct batch_req){ dir, 0, 100, arena + 32768, 1 };
	reqs[9] = (struct batch_req){ -1, 0, 100, arena + 36864, 1 };
	watch_sqes(&u, reqs, 10);
	eagain_cqes = 0;
	canceled_cqes = 0;
	watch.on_cqe = first_4096_eagain;
	ret = run_read(&u, reqs, 10, 4);
	watch.on_cqe = NULL;
	check_sqes("reads that fail");
	grade_check(reqs[9].res == -EBADF, "request 9 (fd -1, len 100): res %s, expected -EBADF",
		    grade_errno_str(reqs[9].res));
	grade_check(ret == 0, "ufixed_read returned %s, expected 0: failed reads are their "
		    "requests' results, not the call's", grade_errno_str(ret));
	grade_check(eagain_cqes == 1 && reqs[0].res == -EAGAIN, "request 0 (fd %d, 4096 bytes "
		    "at offset 0): its CQE said -EAGAIN; res %s after %u CQE(s) of 4096 bytes, "
		    "expected -EAGAIN and one CQE: only -EINTR is read again, any other -errno in "
		    "a CQE is the request's result (ufixed.h, ufixed_read; chapter 06's ubatch.h)",
		    fd, grade_errno_str(reqs[0].res), eagain_cqes);
	grade_check(canceled_cqes == 1 && reqs[1].res == -ECANCELED, "request 1 (fd %d, 4096 "
		    "bytes at offset %zu, 10 before end of file): its CQE said -ECANCELED; res %s "
		    "after %u CQE(s) of 10 bytes, expected -ECANCELED and one CQE: a cancelled "
		    "read is not an interrupted one; only -EINTR is read again (ufixed.h, "
		    "ufixed_read; chapter 06's ubatch.h)", fd, size - 10,
		    grade_errno_str(reqs[1].res), canceled_cqes);
	for (int i = 2; i < 4; i++)
		check_req(&reqs[i], (size_t)i, data, size, "around end of file");
	grade_check(reqs[4].res == 0, "request 4 (len 0, fd -1): res %s, expected 0 without I/O",
		    grade_errno_str(reqs[4].res));
	grade_check(reqs[5].res == -EINVAL && reqs[6].res == -EINVAL, "requests 5 and 6 (offset "
		    "-1 and -4096, the second with len 0): res %s and %s, expected -EINVAL for both",
		    grade_errno_str(reqs[5].res), grade_errno_str(reqs[6].res));
	grade_check(reqs[7].res == -EBADF, "request 7 (a closed fd): res %s, expected -EBADF",
		    grade_errno_str(reqs[7].res));
	grade_check(reqs[8].res == -EISDIR, "request 8 (a directory, registered in file slot 1): "
		    "res %s, expected -EISDIR", grade_errno_str(reqs[8].res));
	check_ring_clean(&u, "after reads that failed");
	SEAM_CALL_VOID(ufixed_exit(&u));
	close(dir);
	close(fd);
	free(data);
	free(arena);
}

/* ----------------------------------------------------------------- faults */

#include "ring_byreq.h"

URING_TEST(faults, short_reads_fixed, 3,
	   "ufixed_read: fixed reads cut short in the middle of a file are continued at the right "
	   "place, still READ_FIXED with the same buf_index, on the same file slot",
	   "TODO 8: the rest of a short read lies in the same registered buffer and reads the "
	   "same file: it keeps its buf_index and file slot; only end of file ends a request "
	   "early (chapter 06's lesson, section 6; this lesson, pitfall 6)", 16)
{
	const size_t size = 1 << 20, n = 48, alen = n * 16384;
	unsigned char *data, *arena = arena_alloc(alen), *other = arena_alloc(4096);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	struct ufixed u;
	int ret;

	for (size_t i = 0; i < n; i++) {
		reqs[i].fd = fd;
		reqs[i].offset = (off_t)(i * 16000 + 17 + grade_rand_below(1000));
		reqs[i].len = 2000 + grade_rand_below(10000);
		reqs[i].buf = arena + i * 16384;
		reqs[i].res = 0x5a5a;
	}
	reqs[n - 1].offset = (off_t)size - 3000;  /* short at end of file, after a cut */
	reqs[n - 1].len = 8000;
	reqs[n - 1].buf = arena + alen - reqs[n - 1].len;  /* ends at the slot's end */
	init_or_fail(&u, 16, 0);
	add_buffer_or_fail(&u, other, 4096);                  /* slot 0: not the arena */
	add_buffer_or_fail(&u, arena + 16384, alen - 16384);  /* all but request 0's buffer */
	add_file_or_fail(&u, fd);
	watch_sqes(&u, reqs, n);
	byreq_start(reqs, n, true, false, false);  /* per request, whatever user_data holds */
	watch.edit_sqe = byreq_edit;
	ret = run_read(&u, reqs, n, 8);
	watch.edit_sqe = NULL;
	check_sqes("reads cut short and continued");
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(byreq.cut >= n / 2, "the test could cut only %u of %zu reads short: it "
		    "cuts each request's first READ / READ_FIXED SQE while it is still queued "
		    "when io_uring_submit* is called", byreq.cut, n);
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "every read cut to half its length once");
	check_ring_clean(&u, "after the short reads");
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(reqs);
	free(other);
	free(arena);
	close(fd);
	free(data);
}

/* Five reads into one registered arena: request 2 a registered pipe that a
 * thread feeds 100 bytes at a time (PIPE_PIECES bytes, then end of file),
 * the others 4096 bytes of a file each. */
enum { PIPE_PIECES = 1000 };

struct pipe_beside {
	size_t size;
	unsigned char *data, *piece, *arena;
	int fd, p[2];
	struct batch_req reqs[5];
	struct ufixed u;
	struct fault *feeder;
	struct fault_report fed;
};

static void pipe_beside_start(struct pipe_beside *t)
{
	t->size = 65536;
	t->piece = grade_random_bytes(PIPE_PIECES);
	t->arena = arena_alloc(5 * 4096);
	t->fd = data_file("f", t->size, &t->data);
	fault_pipe(t->p, 0);
	for (int i = 0; i < 5; i++)
		t->reqs[i] = (struct batch_req){ t->fd, (off_t)i * 8192, 4096, t->arena + i * 4096, 1 };
	t->reqs[2].fd = t->p[0];
	t->reqs[2].offset = 0;
	t->reqs[2].len = PIPE_PIECES;
	init_or_fail(&t->u, 8, 0);
	add_buffer_or_fail(&t->u, t->arena, 5 * 4096);
	add_file_or_fail(&t->u, t->p[0]);
}

static void pipe_beside_feed(struct pipe_beside *t)
{
	t->feeder = fault_start((struct fault_step[]){
		{ .op = FAULT_WRITE_PIECES, .fd = t->p[1], .data = t->piece, .len = PIPE_PIECES,
		  .piece = 100 },
		{ .op = FAULT_CLOSE, .fd = t->p[1] },
		{ .op = FAULT_END } });
}

/* The call made, the feeder joined: request 2 holds the pipe's bytes in
 * order (else a failure saying WHAT happened), the others their blocks. */
static void pipe_beside_check(struct pipe_beside *t, int ret, const char *what)
{
	t->fed = fault_join(t->feeder);
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(t->reqs[2].res == (ssize_t)PIPE_PIECES &&
		    grade_first_diff(t->arena + 2 * 4096, t->piece, PIPE_PIECES) < 0,
		    "request 2, a registered pipe that delivered %d bytes 100 at a time%s: res "
		    "is %s, or not the pipe's bytes in order (first wrong byte at %zd), expected "
		    "%d", PIPE_PIECES, what, grade_errno_str(t->reqs[2].res),
		    grade_first_diff(t->arena + 2 * 4096, t->piece, PIPE_PIECES), PIPE_PIECES);
	for (size_t i = 0; i < 5; i++)
		if (i != 2)
			check_req(&t->reqs[i], i, t->data, t->size, "beside the pipe");
	check_ring_clean(&t->u, "after the pipe");
}

static void pipe_beside_end(struct pipe_beside *t)
{
	SEAM_CALL_VOID(ufixed_exit(&t->u));
	close(t->p[0]);
	free(t->fed.sink);
	free(t->piece);
	free(t->arena);
	close(t->fd);
	free(t->data);
}

URING_TEST(faults, pipe_in_pieces, 2,
	   "ufixed_read: a registered pipe fed 100 bytes at a time is read in full into a "
	   "registered buffer, beside file reads",
	   "TODO 8: a read from a pipe returns what is there: a short read, continued like any "
	   "other, through the same slots, until len bytes or end of file (chapter 06's lesson, "
	   "section 6)", 8)
{
	struct pipe_beside t;
	int ret;

	pipe_beside_start(&t);
	pipe_beside_feed(&t);
	watch_sqes(&t.u, t.reqs, 5);
	ret = run_read(&t.u, t.reqs, 5, 5);
	check_sqes("a pipe in pieces");
	pipe_beside_check(&t, ret, "");
	pipe_beside_end(&t);
}

URING_TEST(faults, eintr, 2,
	   "ufixed_read: -EINTR in CQEs (also after a short read) is read again; a signal "
	   "interrupting the wait and -EINTR/-EAGAIN/-EBUSY from liburing are not results",
	   "chapter 06's loop: res == -EINTR means nothing was read: queue the same rest again; "
	   "-EINTR from a liburing call: make the same call again (after io_uring_submit the "
	   "kernel took nothing: a wait instead sleeps for SQEs it never saw); -EAGAIN/-EBUSY: "
	   "reap, then submit again", 16)
{
	static const struct { int err; long at; } faults[] = {
		{ -EINTR, 1 }, { -EAGAIN, 2 }, { -EBUSY, 3 },
	};
	const size_t n = 48, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	struct ufixed u;

	init_or_fail(&u, 16, 0);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	for (unsigned round = 0; round < 2 + 3; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);
		int ret;

		memset(arena, 0, size);
		watch_reset_counts();
		if (round < 2) {
			/* per request, whatever the module puts in user_data: round
			 * 0 every first read says -EINTR, round 1 every read is cut
			 * and the read of its rest says -EINTR */
			byreq_start(reqs, n, round == 1, round == 0, round == 1);
			watch.edit_sqe = byreq_edit;
		} else {
			watch.inject_at = faults[round - 2].at;
			watch.inject_err = faults[round - 2].err;
		}
		ret = run_read(&u, reqs, n, 8);
		watch.edit_sqe = NULL;
		grade_check(ret == 0, "%s: ufixed_read returned %s, expected 0",
			    round == 0 ? "every read's first CQE said -EINTR" :
			    round == 1 ? "every read cut short, then the rest said -EINTR" :
			    "a liburing call failed with an injected error", grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, round < 2 ? "CQEs with -EINTR" :
				  "after an injected -EINTR/-EAGAIN/-EBUSY");
		if (round < 2)
			grade_check(byreq.eintrs >= n / 2, "harness: only %u of %zu requests' reads "
				    "could be given -EINTR", byreq.eintrs, n);
		check_ring_clean(&u, "after -EINTR");
		free(reqs);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(arena);
	close(fd);
	free(data);
}

/* The error-after-progress test: the rest of every third request fails. */
static bool poison_every_third(size_t i)
{
	return i % 3 == 1;
}

URING_TEST(faults, error_after_progress, 2,
	   "ufixed_read: a fixed read that fails after a short first part gets -errno, not the "
	   "bytes so far",
	   "chapter 06's loop (TODO 8 for the rest): when the rest of a short read fails, store "
	   "the CQE's -errno, not what the first part read (ufixed.h)", 16)
{
	const size_t size = 1 << 20, n = 24, stride = 8192;
	unsigned char *data, *poison_arena;
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ufixed u;
	int ret;

	poison_arena = arena_alloc(n * stride);
	reqs = block_reqs(fd, n, stride, poison_arena);
	for (size_t i = 0; i < n; i++) {
		reqs[i].offset = (off_t)(i * 40000 + grade_rand_below(1000));
		reqs[i].len = 3000 + grade_rand_below(5000);
	}
	init_or_fail(&u, 16, 0);
	add_buffer_or_fail(&u, poison_arena, n * stride);
	add_file_or_fail(&u, fd);
	/* Per request, whatever the module puts in user_data (a window slot
	 * reused by the next request gets the same faults): every first read is
	 * cut to half, and the read of the rest of every third request fails. */
	byreq_start(reqs, n, true, false, false);
	byreq.poison_rest = poison_every_third;
	watch.edit_sqe = byreq_edit;
	ret = run_read(&u, reqs, n, 6);
	watch.edit_sqe = NULL;
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(byreq.poisoned == n / 3, "the test cuts every first read short and makes "
		    "the rest of every third request fail, but saw %u such rests queued of %zu "
		    "(%u reads cut): is a short read continued, at buf + done?", byreq.poisoned,
		    n / 3, byreq.cut);
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 1) {
			grade_check(reqs[i].res == -EBADF, "request %zu: its first read came back "
				    "short, the read of the rest failed with -EBADF; res is %s, "
				    "expected -EBADF", i, grade_errno_str(reqs[i].res));
			continue;
		}
		check_req(&reqs[i], i, data, size, "beside reads that failed half way");
	}
	check_ring_clean(&u, "after reads that failed half way");
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(reqs);
	free(poison_arena);
	close(fd);
	free(data);
}

/* The long reads of 08.14 (requests 4..6, from the virtual file, all into
 * the same far area at offset 0): the rest of each goes to buf + done at
 * offset + done, so in every SQE of theirs the distance from buf equals the
 * distance from the offset, whichever request the SQE belongs to. */
static struct {
	struct batch_req *reqs;
	char bad[400];
} far_rest;

static void far_check_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	check_sqe(sqe, pos, queued);
	for (int i = 4; i < 7 && watch_is_read(sqe) && !far_rest.bad[0]; i++) {
		const struct batch_req *q = &far_rest.reqs[i];
		uintptr_t b = (uintptr_t)q->buf, a = (uintptr_t)sqe->addr;

		if (sqe->fd != q->fd || (sqe->flags & IOSQE_FIXED_FILE) || a < b || a - b >= q->len)
			continue;
		if ((__u64)(a - b) != sqe->off - (__u64)q->offset)
			snprintf(far_rest.bad, sizeof(far_rest.bad), "the long reads of the virtual "
				 "file (offset 0, lengths 2, 4 and 5 GiB): a read goes to buf + %zu "
				 "but at offset %llu; the rest of a read goes to buf + done AND comes "
				 "from offset + done, done a size_t (cut to 32 bits one of them starts "
				 "again after 4 GiB) (TODO 8)", (size_t)(a - b),
				 (unsigned long long)sqe->off);
		break;
	}
}

URING_TEST(read, beyond_4gib, 2,
	   "ufixed_read: offsets beyond 4 GiB of a registered sparse file into a registered "
	   "buffer; lengths of 2, 4 and 5 GiB; totals beyond an int",
	   "offsets and lengths are 64-bit (off_t, size_t): never through an int; an SQE's len "
	   "is 32 bits and the kernel moves at most 0x7ffff000 bytes per read, so ask for a "
	   "chunk at a time and continue (chapter 06, lesson section 6)", 8)
{
	const off_t gib = (off_t)1 << 30, where = 5 * gib + 1000, end = 6 * gib;
	const size_t dlen = 8192;
	unsigned char *data = grade_random_bytes(dlen), *arena = arena_alloc(4 * 8192), zeros[8192];
	int fd = grade_open(grade_make_file("sparse", "", 0), O_RDWR);
	int zero = grade_open("/dev/zero", O_RDONLY);
	size_t vlen[3] = { ((size_t)2 << 30) + 4096, ((size_t)4 << 30) + 4096,
			   ((size_t)5 << 30) + 123 };
	size_t span = ((size_t)6 << 30);
	void *far = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct batch_req reqs[7];
	struct ufixed u;
	int ret;

	memset(zeros, 0, sizeof(zeros));
	grade_check(ftruncate(fd, end) == 0 && pwrite(fd, data, dlen, where) == (ssize_t)dlen,
		    "harness: cannot make a 6 GiB sparse file: %s", strerror(errno));
	reqs[0] = (struct batch_req){ fd, where, dlen, arena, 1 };
	reqs[1] = (struct batch_req){ fd, ((off_t)4 << 30) + 5, 100, arena + 8192, 1 };
	reqs[2] = (struct batch_req){ fd, end - 50, 100, arena + 16384, 1 };
	reqs[3] = (struct batch_req){ fd, where + 4096, 8192, arena + 24576, 1 };
	for (int i = 0; i < 3; i++)
		reqs[4 + i] = (struct batch_req){ zero, 0, vlen[i],
						  far == MAP_FAILED ? (void *)(uintptr_t)0x10000 : far, 1 };
	init_or_fail(&u, 8, 0);
	add_buffer_or_fail(&u, arena, 4 * 8192);
	add_file_or_fail(&u, fd);
	/* The first page of the far area registered too (slot 1): the reads of
	 * 2, 4 and 5 GiB start in it but end far past it, so they are plain
	 * reads. A length cut to 32 bits (4 GiB + 4096 -> 4096) would fit. */
	if (far != MAP_FAILED) {
		grade_check(mprotect(far, 4096, PROT_READ | PROT_WRITE) == 0, "harness: mprotect: "
			    "%s", strerror(errno));
		add_buffer_or_fail(&u, far, 4096);
	}
	watch.virt_fd = zero;
	watch_sqes(&u, reqs, 7);
	memset(&far_rest, 0, sizeof(far_rest));
	far_rest.reqs = reqs;
	watch.on_sqe = far_check_sqe;
	ret = run_read(&u, reqs, 7, 4);
	watch.virt_fd = -1;
	grade_check(!far_rest.bad[0], "%s", far_rest.bad);
	check_sqes("reads of 2, 4 and 5 GiB starting in a registered page (slot 1) and running "
		   "far past it: the length that must fit in the slot is a size_t; cut to 32 bits, "
		   "4 GiB + 4096 looks like 4096 (TODO 6)");
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[0].res == (ssize_t)dlen && grade_first_diff(arena, data, dlen) < 0,
		    "request 0 (offset 5 GiB + 1000 of a sparse file, where data was written): res "
		    "%s, or not the bytes written there: an offset cut to 32 bits?",
		    grade_errno_str(reqs[0].res));
	grade_check(reqs[1].res == 100 && grade_first_diff(arena + 8192, zeros, 100) < 0,
		    "request 1 (offset 4 GiB + 5, a hole): res %s, expected 100 zero bytes",
		    grade_errno_str(reqs[1].res));
	grade_check(reqs[2].res == 50, "request 2 (100 bytes at 50 before the end of a 6 GiB "
		    "file): res %s, expected 50", grade_errno_str(reqs[2].res));
	grade_check(reqs[3].res == 8192 && grade_first_diff(arena + 24576, data + 4096, 4096) < 0 &&
		    grade_first_diff(arena + 24576 + 4096, zeros, 4096) < 0, "request 3 (offset 5 GiB "
		    "+ 5096): res %s, or not the file's bytes", grade_errno_str(reqs[3].res));
	grade_check(watch.virt_sqes > 0, "harness: no read of the virtual file was seen");
	for (int i = 0; i < 3; i++)
		grade_check(reqs[4 + i].res == (ssize_t)vlen[i], "request %d: a read of %zu bytes "
			    "(%.2f GiB) from a file that always has data: res %s, expected %zu. "
			    "Lengths and totals are size_t/ssize_t; an SQE takes at most 32 bits: "
			    "continue", 4 + i, vlen[i], vlen[i] / (double)(1 << 30),
			    grade_errno_str(reqs[4 + i].res), vlen[i]);
	check_ring_clean(&u, "after reads beyond 4 GiB");
	SEAM_CALL_VOID(ufixed_exit(&u));
	if (far != MAP_FAILED)
		munmap(far, span);
	free(arena);
	close(zero);
	close(fd);
	free(data);
}

/* -------------------------------------------------------------- mechanism */

URING_TEST(mechanism, window_and_budget, 2,
	   "ufixed_read: at most qd reads in flight and the window kept full (qd 1, 3, 8), "
	   "256 reads at qd 32 in at most 2*ceil(n/qd)+2 liburing calls, a ring of 4 at qd 64",
	   "chapter 06's loop (given): the window is bounded by qd and by the CQ; one submission "
	   "per round, every ready CQE reaped; a full SQ means submit, not give up (chapter 06's "
	   "lesson, sections 3 and 5)", 64)
{
	static const unsigned qds[] = { 1, 3, 8, 32 };
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	struct ufixed u;

	init_or_fail(&u, 64, 0);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		struct batch_req *reqs = block_reqs(fd, qds[k] == 32 ? n : 64, bs, arena);
		size_t m = qds[k] == 32 ? n : 64;
		long budget = 2 * (long)((m + qds[k] - 1) / qds[k]) + 2, fewest;
		int ret;

		watch_reset_counts();
		ret = run_read(&u, reqs, m, qds[k]);
		grade_check(ret == 0, "ufixed_read at qd %u returned %s", qds[k], grade_errno_str(ret));
		for (size_t i = 0; i < m; i++)
			check_req(&reqs[i], i, data, size, "window");
		grade_check(watch.max_inflight == qds[k], "at qd %u with %zu reads to do, at most %u "
			    "were ever in flight: fill the window up to qd (and never beyond) before "
			    "you submit", qds[k], m, watch.max_inflight);
		free(reqs);
		if (qds[k] != 32)
			continue;
		/* The fewest calls of up to three runs (as chapter 06's 06.14):
		 * reads handed to io-wq, or a loaded machine, can make completions
		 * come late now and then, and a wait for one at a time then costs
		 * a call more; submitting one SQE at a time costs n every run. */
		fewest = watch.calls;
		for (int run = 1; run < 3 && fewest > budget; run++) {
			reqs = block_reqs(fd, m, bs, arena);
			watch_reset_counts();
			ret = run_read(&u, reqs, m, qds[k]);
			grade_check(ret == 0, "ufixed_read at qd %u returned %s", qds[k],
				    grade_errno_str(ret));
			for (size_t i = 0; i < m; i++)
				check_req(&reqs[i], i, data, size, "window");
			if (watch.calls < fewest)
				fewest = watch.calls;
			free(reqs);
		}
		grade_check(fewest <= budget, "%zu cached reads at qd %u made %ld liburing calls "
			    "that may enter the kernel (the fewest of three runs); the budget is "
			    "2 * ceil(n / qd) + 2 = %ld: queue the window, then submit once", m,
			    qds[k], fewest, budget);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));

	init_or_fail(&u, 4, 0);
	add_buffer_or_fail(&u, arena, size);
	/* The SQ fills at once: the first liburing call is the submit that
	 * makes room. Round 2 and 3: that call says -EINTR, then -EAGAIN. */
	for (int round = 0; round < 3; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);
		int ret;

		watch_reset_counts();
		if (round > 0) {
			watch.inject_at = 1;
			watch.inject_err = round == 1 ? -EINTR : -EAGAIN;
		}
		ret = run_read(&u, reqs, n, 64);
		grade_check(ret == 0, "ufixed_read of %zu reads at qd 64 on a ring of 4 SQ entries "
			    "returned %s, expected 0%s", n, grade_errno_str(ret), round == 0 ? "" :
			    round == 1 ? " (the submit that makes room in the full SQ said -EINTR "
			    "once: submit again)" : " (the submit that makes room in the full SQ said "
			    "-EAGAIN once: go on, the next round submits)");
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "SQ full");
		if (round == 0)
			grade_check(watch.max_inflight == u.cq_entries, "ufixed_read of %zu reads at qd "
				    "64 on a ring of %u SQ and %u CQ entries: at most %u were ever in "
				    "flight, expected min(qd, cq_entries) = %u. The CQ bounds the window, "
				    "not the SQ: a full SQ is submitted to make room and the window goes "
				    "on filling (ufixed.h, ufixed_read; chapter 06's lesson, a ring "
				    "smaller than the window)", n, u.sq_entries, u.cq_entries,
				    watch.max_inflight, u.cq_entries);
		check_ring_clean(&u, "after a batch larger than the SQ");
		free(reqs);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(arena);
	close(fd);
	free(data);
}

URING_TEST(read, arguments, 1,
	   "ufixed_read: -EINVAL for a NULL or dead ring, qd 0, a NULL array (also with n 0); "
	   "otherwise n 0 does nothing; "
	   "qd far above n and every limit",
	   "ufixed.h (ufixed_read): the argument checks come first; an empty batch enters no "
	   "kernel; qd is only a bound, never a size to allocate or wait for", 8)
{
	unsigned char *data, *arena = arena_alloc(16 * 4096);
	int fd = data_file("f", 16 * 4096, &data);
	struct batch_req one = { -1, 0, 16, NULL, 7 }, *reqs;
	struct ufixed u, dead;
	int ret;

	memset(&dead, 0, sizeof(dead));
	init_or_fail(&u, 8, 0);
	ret = run_read(NULL, &one, 1, 4);
	grade_check(ret == -EINVAL, "ufixed_read(NULL, ...) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = run_read(&dead, &one, 1, 4);
	grade_check(ret == -EINVAL, "ufixed_read on a ring never set up returned %s, expected "
		    "-EINVAL", grade_errno_str(ret));
	ret = run_read(&u, &one, 1, 0);
	grade_check(ret == -EINVAL, "ufixed_read with qd 0 returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	for (size_t n = 1; n <= 3; n += 2) {
		ret = run_read(&u, NULL, n, 4);
		grade_check(ret == -EINVAL, "ufixed_read(&u, NULL, %zu, 4) returned %s, expected "
			    "-EINVAL", n, grade_errno_str(ret));
	}
	/* The ring and qd are checked whatever n is (ufixed.h; ubatch.h of
	 * chapter 06): an empty batch on a dead ring is still a caller's bug. */
	ret = run_read(NULL, NULL, 0, 4);
	grade_check(ret == -EINVAL, "ufixed_read(NULL, NULL, 0, 4) returned %s, expected -EINVAL: "
		    "u is checked before n == 0 returns (ufixed.h, ufixed_read)", grade_errno_str(ret));
	ret = run_read(&dead, NULL, 0, 4);
	grade_check(ret == -EINVAL, "ufixed_read on a ring never set up with n 0 returned %s, "
		    "expected -EINVAL: live is checked before n == 0 returns (ufixed.h, ufixed_read)",
		    grade_errno_str(ret));
	ret = run_read(&u, &one, 0, 0);
	grade_check(ret == -EINVAL, "ufixed_read(&u, reqs, 0, 0) returned %s, expected -EINVAL: "
		    "qd 0 is refused whatever n is (ufixed.h, ufixed_read)", grade_errno_str(ret));
	watch_reset_counts();
	ret = run_read(&u, NULL, 0, 4);
	grade_check(ret == 0 && watch.calls == 0, "ufixed_read(&u, NULL, 0, 4) returned %s after "
		    "%ld liburing call(s); expected 0 and none", grade_errno_str(ret), watch.calls);
	add_buffer_or_fail(&u, arena, 16 * 4096);
	for (int k = 0; k < 2; k++) {
		unsigned qd = k == 0 ? 1u << 20 : UINT_MAX;

		reqs = block_reqs(fd, 16, 4096, arena);
		ret = run_read(&u, reqs, 16, qd);
		grade_check(ret == 0, "ufixed_read of 16 reads at qd %u returned %s, expected 0",
			    qd, grade_errno_str(ret));
		for (size_t i = 0; i < 16; i++)
			check_req(&reqs[i], i, data, 16 * 4096, "qd far above n");
		free(reqs);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	/* After ufixed_exit the ring's memory is unmapped and its fd closed,
	 * while the other fields of u (sizes, flags) may still say what it was:
	 * only live tells, and every call refuses a ring that is not live. */
	ret = run_read(&u, &one, 1, 4);
	grade_check(ret == -EINVAL, "ufixed_read on a ring after ufixed_exit returned %s, "
		    "expected -EINVAL: live is 0 (ufixed.h, ufixed_read); test live itself, not "
		    "sizes or fds that ufixed_exit leaves behind", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_add_buffer(&u, arena, 4096));
	grade_check(ret == -EINVAL, "ufixed_add_buffer on a ring after ufixed_exit returned %s, "
		    "expected -EINVAL (u not live)", grade_errno_str(ret));
	ret = SEAM_CALL(ufixed_add_file(&u, fd));
	grade_check(ret == -EINVAL, "ufixed_add_file on a ring after ufixed_exit returned %s, "
		    "expected -EINVAL (u not live)", grade_errno_str(ret));
	free(arena);
	close(fd);
	free(data);
}

/* A thread of this process named iou-sqp-*: the kernel's SQ polling thread. */
static int sqpoll_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int found = 0;

	grade_check(d != NULL, "harness: /proc/self/task: %s", strerror(errno));
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		if (fgets(comm, sizeof(comm), fp) && !strncmp(comm, "iou-sqp-", 8))
			found++;
		fclose(fp);
	}
	closedir(d);
	return found;
}

/* 15 s: the SQ thread spins on a core of its own while it is awake, and the
 * test waits for it to start and to fall asleep; on a loaded machine under
 * SAN=1 that took longer than the default 5 s. */
URING_TEST_T(modes, sqpoll, 2,
	   "ufixed_init with UFIXED_SQPOLL: an SQPOLL ring (the kernel's iou-sqp thread runs), "
	   "fixed reads right through it, the thread gone after ufixed_exit",
	   "TODO 1: UFIXED_SQPOLL asks for an SQ thread with the contract's idle time, set up "
	   "with the ring; liburing's submit wakes the thread, never do it yourself (lesson, "
	   "section 7; man 2 io_uring_setup: IORING_SETUP_SQPOLL)", 16, 15)
{
	const size_t n = 128, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data), before = sqpoll_threads();
	struct ufixed u;

	init_or_fail(&u, 16, UFIXED_SQPOLL);
	grade_check(u.ring.flags & IORING_SETUP_SQPOLL, "ufixed_init(&u, 16, UFIXED_SQPOLL) set "
		    "up a ring without IORING_SETUP_SQPOLL (ring.flags %#x)", u.ring.flags);
	/* The thread shows in /proc a moment after io_uring_setup returns. */
	for (int k = 0; k < 200 && sqpoll_threads() == before; k++)
		usleep(10000);
	grade_check(sqpoll_threads() == before + 1, "2 s after ufixed_init with UFIXED_SQPOLL, "
		    "%d iou-sqp thread(s) run in this process (%d before): the ring has no SQ "
		    "thread", sqpoll_threads(), before);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	for (int round = 0; round < 3; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);
		int ret;

		long enters = seam_calls_sum(SEAM_io_uring_enter, SEAM_io_uring_enter2, SEAM_COUNT);

		long done_ms;

		memset(arena, 0, size);
		watch_sqes(&u, reqs, n);
		ret = run_read(&u, reqs, n, 16);
		/* The SQ thread took its last SQE before this: its idle time
		 * has begun by now. */
		done_ms = fault_now_ms();
		check_sqes("on an SQPOLL ring");
		grade_check(seam_calls_sum(SEAM_io_uring_enter, SEAM_io_uring_enter2, SEAM_COUNT) ==
			    enters, "on an SQPOLL ring ufixed_read called io_uring_enter itself %ld "
			    "time(s): that is a system call every time. io_uring_submit* enters the "
			    "kernel only when the SQ thread sleeps (IORING_SQ_NEED_WAKEUP) or when "
			    "you wait: let liburing decide (lesson: SQPOLL)",
			    seam_calls_sum(SEAM_io_uring_enter, SEAM_io_uring_enter2, SEAM_COUNT) - enters);
		grade_check(ret == 0, "ufixed_read on an SQPOLL ring returned %s, expected 0",
			    grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "on an SQPOLL ring");
		check_ring_clean(&u, "after a batch on an SQPOLL ring");
		free(reqs);
		if (round == 1) {
			/* Idle for UFIXED_SQ_IDLE_MS (50 ms), the thread sleeps and
			 * says so. Timed by the clock from the end of the batch, not
			 * by counting naps (on a loaded machine a 10 ms nap lasts
			 * longer, and the kernel's default idle of 1 s, used when
			 * sq_thread_idle is 0, would pass): asleep within 600 ms. */
			bool asleep = false;
			long asleep_ms = 0;

			while (!asleep && (asleep_ms = fault_now_ms() - done_ms) < 3000) {
				asleep = IO_URING_READ_ONCE(*u.ring.sq.kflags) & IORING_SQ_NEED_WAKEUP;
				if (!asleep)
					usleep(5000);
			}
			grade_check(asleep && asleep_ms < 600, "the SQ thread %s %ld ms after a batch "
				    "(IORING_SQ_NEED_WAKEUP in the SQ flags), expected within %u ms and "
				    "well under 600: sq_thread_idle must be UFIXED_SQ_IDLE_MS, in "
				    "milliseconds (TODO 1; man 2 io_uring_setup)",
				    asleep ? "went to sleep" : "still polled", asleep_ms,
				    UFIXED_SQ_IDLE_MS);
		}
	}
	/* A read that waits (an empty pipe, fed only once the call sleeps in
	 * io_uring_enter): the SQ thread polls for SQEs, but the module still
	 * waits for completions in the kernel. A module that spins on the CQ
	 * instead never sleeps there, and burns the other core. */
	{
		unsigned char *piped = grade_random_bytes(4096);
		struct batch_req reqs[4];
		struct fault *f;
		struct fault_report r;
		int p[2], ret;

		fault_pipe(p, 0);
		for (int i = 0; i < 4; i++)
			reqs[i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
		reqs[1].fd = p[0];
		f = fault_start((struct fault_step[]){
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE, .fd = p[1], .data = piped, .len = 4096 },
			{ .op = FAULT_CLOSE, .fd = p[1] },
			{ .op = FAULT_END } });
		ret = run_read(&u, reqs, 4, 4);
		r = fault_join(f);
		grade_check(ret == 0 && reqs[1].res == 4096 &&
			    grade_first_diff(arena + 4096, piped, 4096) < 0, "on an SQPOLL ring, a "
			    "read of a pipe that got its data late: ufixed_read returned %s, res %s, "
			    "expected 0 and 4096 with the pipe's bytes", grade_errno_str(ret),
			    grade_errno_str(reqs[1].res));
		grade_check(r.blocked_seen == 1, "on an SQPOLL ring, while a read of an empty pipe "
			    "was in flight, ufixed_read never slept in io_uring_enter: it spun on the "
			    "CQ, beside the SQ thread that spins already (two cores busy for one "
			    "read). Wait for completions with io_uring_submit_and_wait or "
			    "io_uring_wait_cqe (lesson: pitfalls, SQPOLL)");
		for (size_t i = 0; i < 4; i++)
			if (i != 1)
				check_req(&reqs[i], i, data, size, "beside a late pipe on SQPOLL");
		close(p[0]);
		free(r.sink);
		free(piped);
	}
	/* The exit unregisters the tables on an SQPOLL ring too: the thread
	 * does not own them, and io_uring_queue_exit would drop them only when
	 * the kernel frees the ring, in the background. A pipe's write end
	 * registered (the caller's fd closed) must be gone when it returns. */
	{
		int pw[2];
		ssize_t got;
		char c;

		grade_check(pipe2(pw, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s",
			    strerror(errno));
		add_file_or_fail(&u, pw[1]);
		close(pw[1]);
		SEAM_CALL_VOID(ufixed_exit(&u));
		got = read(pw[0], &c, 1);
		grade_check(got == 0, "on an SQPOLL ring, a pipe's write end was registered (the "
			    "caller's fd then closed) and ufixed_exit returned, yet the pipe still "
			    "has a writer (read of its other end: %s): the file table was not "
			    "unregistered. The SQ thread does not own the tables: unregister both "
			    "before io_uring_queue_exit on every ring, SQPOLL too (TODO 9; man 3 "
			    "io_uring_unregister_files)", got < 0 ? strerror(errno) : "data");
		close(pw[0]);
	}

	/* Batches of a full window, one call right after the other: the thread
	 * takes a pass of SQEs, completes them and only then moves the SQ head,
	 * so a call may find the SQ full with nothing in flight. */
	init_or_fail(&u, 32, UFIXED_SQPOLL);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	{
		struct batch_req *reqs = block_reqs(fd, n, bs, arena);

		for (int call = 0; call < 600; call++) {
			int ret;

			for (size_t i = 0; i < n; i++)
				reqs[i].offset = (off_t)(grade_rand_below(n) * bs);
			ret = run_read(&u, reqs, n, 32);
			grade_check(ret == 0, "call %d: ufixed_read of %zu cached reads at qd 32 on an "
				    "SQPOLL ring of 32 SQ entries, right after the call before, "
				    "returned %s, expected 0. The SQ thread frees SQ slots when it "
				    "has taken a pass of SQEs, after their CQEs may be out: an SQ "
				    "that looks full with nothing in flight is the thread lagging, "
				    "not an error; wait for room (io_uring_sqring_wait) (lesson: "
				    "SQPOLL)", call + 1, n, grade_errno_str(ret));
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, data, size, "batches back to back on SQPOLL");
		}
		free(reqs);
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	/* The thread exits in the background: give it a moment. */
	for (int k = 0; k < 200 && sqpoll_threads() > before; k++)
		usleep(10000);
	grade_check(sqpoll_threads() == before, "2 s after ufixed_exit, the SQ thread still "
		    "runs: the ring was not torn down (TODO 9)");
	free(arena);
	close(fd);
	free(data);
}

URING_TEST(modes, iopoll, 2,
	   "ufixed_init with UFIXED_IOPOLL: an IOPOLL ring; buffered reads each get -EOPNOTSUPP "
	   "in res (each read really submitted), the call returns 0 and does not hang; len 0 and "
	   "negative offsets as always",
	   "TODO 1: IORING_SETUP_IOPOLL; a read the device cannot poll completes with "
	   "-EOPNOTSUPP, a result like any other error (lesson: IOPOLL; man 2 io_uring_setup)", 8)
{
	const size_t n = 8, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ufixed u;
	int ret;

	/* Both flags at once: both modes (ufixed.h: any of them). */
	init_or_fail(&u, 8, UFIXED_SQPOLL | UFIXED_IOPOLL);
	grade_check((u.ring.flags & (IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL)) ==
		    (IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL), "ufixed_init(&u, 8, UFIXED_SQPOLL | "
		    "UFIXED_IOPOLL) set up a ring with ring.flags %#x, without %s: each flag adds "
		    "its set-up flag, whatever the other one does (TODO 1; ufixed.h, ufixed_init)",
		    u.ring.flags, u.ring.flags & IORING_SETUP_IOPOLL ? "IORING_SETUP_SQPOLL" :
		    "IORING_SETUP_IOPOLL");
	SEAM_CALL_VOID(ufixed_exit(&u));
	init_or_fail(&u, 8, UFIXED_IOPOLL);
	grade_check(u.ring.flags & IORING_SETUP_IOPOLL, "ufixed_init(&u, 8, UFIXED_IOPOLL) set up "
		    "a ring without IORING_SETUP_IOPOLL (ring.flags %#x)", u.ring.flags);
	add_buffer_or_fail(&u, arena, size);
	reqs = block_reqs(fd, n, bs, arena);
	reqs[6].len = 0;
	reqs[7].offset = -5;
	watch_sqes(&u, reqs, n);
	ret = run_read(&u, reqs, n, 4);
	check_sqes("reads on an IOPOLL ring");
	grade_check(ret == 0, "ufixed_read of buffered reads on an IOPOLL ring returned %s, "
		    "expected 0: -EOPNOTSUPP is each request's result", grade_errno_str(ret));
	/* Polling changes how completions are found, not how many reads may
	 * wait for them: the window is min(qd, cq_entries) here too. */
	grade_check(watch.max_inflight == 4, "ufixed_read of 6 reads at qd 4 on an IOPOLL ring "
		    "had at most %u read(s) in flight at once, expected 4: the window is min(qd, "
		    "cq_entries) on an IOPOLL ring too; polling finds the completions of many "
		    "reads in one pass, it does not want them one at a time (the given loop; "
		    "ufixed.h, ufixed_read; lesson, section 8)", watch.max_inflight);
	/* -EOPNOTSUPP is the kernel's answer, not one to guess: on a device
	 * with poll queues the same reads succeed. */
	grade_check(sqe_rules.fixed_reads == 6 && sqe_rules.plain_reads == 0, "ufixed_read on an "
		    "IOPOLL ring handed the kernel %ld READ_FIXED and %ld plain read SQE(s) for the 6 "
		    "requests that need I/O, expected 6 READ_FIXED: every read goes to the ring, and "
		    "-EOPNOTSUPP is what its CQE says, not a result to fill in without asking (a "
		    "device with poll queues reads them; ufixed.h, ufixed_read)",
		    sqe_rules.fixed_reads, sqe_rules.plain_reads);
	for (size_t i = 0; i < 6; i++)
		grade_check(reqs[i].res == -EOPNOTSUPP, "request %zu, a buffered read on an IOPOLL "
			    "ring: res %s, expected -EOPNOTSUPP (polled completions need O_DIRECT "
			    "on a device with poll queues)", i, grade_errno_str(reqs[i].res));
	grade_check(reqs[6].res == 0 && reqs[7].res == -EINVAL, "requests 6 (len 0) and 7 (offset "
		    "-5) on an IOPOLL ring: res %s and %s, expected 0 and -EINVAL without I/O",
		    grade_errno_str(reqs[6].res), grade_errno_str(reqs[7].res));
	check_ring_clean(&u, "after reads on an IOPOLL ring");
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(reqs);
	free(arena);
	close(fd);
	free(data);
}

/* -------------------------------------------------------------- resources */

URING_TEST(resources, every_path, 2,
	   "ufixed_*: fds, rings and heap freed on every path: success, errors, a ring that "
	   "fails, a registration that fails inside ufixed_init, malloc failing",
	   "TODO 1: a failed registration after the ring is set up tears the ring down; TODO 9 "
	   "and 10: ufixed_exit on every path; whatever you allocate is freed, errors included",
	   16)
{
	const size_t n = 40, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct seam_heap heap;
	struct batch_req *reqs;
	struct ufixed u;

	seam_heap_usage(&heap);
	int pw[2];

	grade_check(pipe2(pw, O_NONBLOCK | O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	before += 2;
	init_or_fail(&u, 16, 0);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	/* A pipe's write end registered, the caller's fd closed: after the
	 * failed batch below, ufixed_exit must still drop the file at once. */
	add_file_or_fail(&u, pw[1]);
	close(pw[1]);
	before--;
	reqs = block_reqs(fd, n, bs, arena);
	ret = run_read(&u, reqs, n, 8);
	grade_check(ret == 0, "ufixed_read returned %s, expected 0", grade_errno_str(ret));
	/* The ring fails: every liburing call that may enter the kernel says
	 * -EBADR. The batch cannot finish; nothing may leak. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = run_read(&u, reqs, n, 8);
	watch_reset_counts();
	grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EBADR; ufixed_read "
		    "returned %s, expected a negative error", grade_errno_str(ret));
	SEAM_CALL_VOID(ufixed_exit(&u));
	{
		char c;
		ssize_t got = read(pw[0], &c, 1);

		grade_check(got == 0, "after a batch that failed (-EBADR, its SQEs left in the SQ), "
			    "ufixed_exit returned, yet the pipe whose write end is registered in "
			    "file slot 1 still has a writer (read of its other end: %s): the exit "
			    "unregisters both tables on every path, also when a failed batch left "
			    "the ring unsubmitted SQEs (TODO 9; man 3 io_uring_unregister_files)",
			    got < 0 ? strerror(errno) : "data");
		close(pw[0]);
		before--;
	}
	grade_check(fault_count_fds() == before, "%d descriptor(s) left open after ufixed_exit",
		    fault_count_fds() - before);
	grade_check_heap(&heap, "a ring set up, used, failed and torn down");

	/* A registration of a table inside ufixed_init fails: -ENOMEM from the
	 * kernel, or -EINVAL from a kernel before 5.19, which has no sparse
	 * tables (ufixed.h: ufixed_init then fails with -EINVAL). Whichever call
	 * makes the empty tables (the sparse ones, or whole tables of empty
	 * slots), its error comes back as it came and the ring is gone. */
	for (int e = 0; e < 2; e++) {
		static const enum seam_id ids[] = {
			SEAM_io_uring_register_files_sparse, SEAM_io_uring_register_buffers_sparse,
			SEAM_io_uring_register_files, SEAM_io_uring_register_buffers,
			SEAM_io_uring_register_files_tags, SEAM_io_uring_register_buffers_tags,
		};
		int err = e == 0 ? -ENOMEM : -EINVAL;

		for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
			long calls = seam_calls(ids[k]);

			watch_reset_counts();
			table_regs.fail_id = ids[k];
			table_regs.fail_err = err;
			memset(&u, 0x5a, sizeof(u));
			ret = SEAM_CALL(ufixed_init(&u, 8, 0));
			table_regs.fail_err = 0;
			if (seam_calls(ids[k]) == calls) {
				if (ret == 0)
					SEAM_CALL_VOID(ufixed_exit(&u));
				continue;  /* this implementation makes its tables another way */
			}
			if (ret == 0 && u.live == 1)
				SEAM_CALL_VOID(ufixed_exit(&u));
			grade_check(ret == err && u.live == 0, "%s returned %s inside ufixed_init%s; "
				    "ufixed_init returned %s with live %d, expected %s and live 0: an "
				    "error of a table's registration is ufixed_init's error, as it came "
				    "(TODO 1; ufixed.h, ufixed_init)", seam_name(ids[k]),
				    grade_errno_str(err), err == -EINVAL ? " (a kernel before 5.19: "
				    "no sparse tables; ufixed.h says ufixed_init then fails with "
				    "-EINVAL, it does not go on without tables)" : "",
				    grade_errno_str(ret), u.live, grade_errno_str(err));
			grade_check(watch.exits == watch.init_ok && fault_count_fds() == before,
				    "ufixed_init failed after setting up its ring (%s refused with %s) "
				    "and left %d descriptor(s) open: tear the ring down on that path "
				    "(TODO 1)", seam_name(ids[k]), grade_errno_str(err),
				    fault_count_fds() - before);
		}
	}
	grade_check_heap(&heap, "ufixed_init that failed");

	/* Every allocation of the module fails. */
	watch_reset_counts();
	seam_heap_fail(1, -1);
	ret = SEAM_CALL(ufixed_init(&u, 8, 0));
	if (ret == 0) {
		add_buffer_or_fail(&u, arena, size);
		ret = run_read(&u, reqs, n, 8);
		grade_check(ret == 0 || ret == -ENOMEM, "ufixed_read returned %s while malloc "
			    "returned NULL; expected 0 or -ENOMEM", grade_errno_str(ret));
		SEAM_CALL_VOID(ufixed_exit(&u));
	}
	ret = SEAM_CALL(ufixed_batch_read(reqs, n, 8));
	seam_heap_fail(0, 0);
	grade_check(ret == 0 || ret == -ENOMEM, "ufixed_batch_read returned %s while malloc "
		    "returned NULL; expected 0 or -ENOMEM", grade_errno_str(ret));
	grade_check_heap(&heap, "calls while malloc failed");
	grade_check(fault_count_fds() == before, "%d descriptor(s) left open when malloc failed",
		    fault_count_fds() - before);
	/* liburing allocates a probe itself, out of sight of the heap check
	 * above: each one got must be given back (one kept for the whole
	 * process, in a static, is allowed). */
	{
		long got = seam_calls_sum(SEAM_io_uring_get_probe_ring, SEAM_io_uring_get_probe,
					  SEAM_COUNT);
		long freed = seam_calls(SEAM_io_uring_free_probe);

		grade_check(got - freed <= 1, "the module got %ld probe(s) from liburing "
			    "(io_uring_get_probe_ring / io_uring_get_probe) in this test and gave back "
			    "%ld with io_uring_free_probe: liburing mallocs every probe, and one per "
			    "ring or per batch never freed is a leak the heap check cannot see. Free "
			    "it as soon as you have asked it (man 3 io_uring_get_probe), or keep none: "
			    "the sparse tables of ufixed_init already need Linux 5.19, which reads "
			    "with READ_FIXED (ufixed.h, ufixed_init)",
			    got, freed);
	}
	free(reqs);
	free(arena);
	close(fd);
	free(data);
}

URING_TEST(read, shared_shape, 1,
	   "ufixed_batch_read: a ring that fails inside the batch is still torn down and its "
	   "error returned; qd 0 and NULL -EINVAL, NULL with n 0 is 0; every ring refused with "
	   "-ENOMEM gives -ENOMEM, with -EPERM -EPERM, nothing left (fds, heap)",
	   "TODO 10: validate first; a set-up that fails returns its error as it came (a ring "
	   "refused for RLIMIT_MEMLOCK may be retried smaller); once a ring is set up, "
	   "ufixed_exit on every path, the error path too (ufixed.h, ufixed_batch_read; lesson, "
	   "section 4). Its batches are graded by 08.24-08.29", 32)
{
	size_t size = 100000 + grade_rand_below(100000);
	unsigned char *data, buf[100];
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct batch_req one = { fd, 0, 10, NULL, 7 }, r = { fd, 0, 100, buf, 1 };
	struct seam_heap heap;
	const char *limit_why;
	long limit;

	seam_heap_usage(&heap);
	/* The ring fails inside the batch: still torn down. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = SEAM_CALL(ufixed_batch_read(&r, 1, 4));
	watch_reset_counts();
	grade_check(ret < 0 && fault_count_fds() == before, "ufixed_batch_read whose ring "
		    "failed (-EBADR) returned %s and left %d descriptor(s) open: ufixed_exit "
		    "on every path (TODO 10)", grade_errno_str(ret), fault_count_fds() - before);
	grade_check(ret == -EBADR, "ufixed_batch_read whose ring failed with -EBADR (every "
		    "liburing call) returned %s: return ufixed_read's error as it came, not one of "
		    "your own (TODO 10; ufixed.h: -errno)", grade_errno_str(ret));
	/* -EAGAIN from every liburing call: ufixed_read gives up after its
	 * rounds without progress, and the batch returns that -EAGAIN (batch.h:
	 * the batch as a whole could not run). Running the batch again is a
	 * retry without end where the ring never makes progress: the watchdog
	 * stops it after 1000 calls (the reference makes about ten). */
	watch_reset_counts();
	limit = watch.limit;
	limit_why = watch.limit_why;
	watch.inject_at = 1;
	watch.inject_err = -EAGAIN;
	watch.inject_forever = true;
	watch.limit = 1000;
	watch.limit_why = "ufixed_batch_read, where every liburing call said -EAGAIN, never "
			  "returned: ufixed_read already retried while anything moved and then "
			  "gave up with -EAGAIN; return that error (batch.h: the batch as a "
			  "whole could not run), do not run the batch again (TODO 10)";
	ret = SEAM_CALL(ufixed_batch_read(&r, 1, 4));
	watch.limit = limit;
	watch.limit_why = limit_why;
	watch_reset_counts();
	grade_check(ret == -EAGAIN && fault_count_fds() == before, "ufixed_batch_read where "
		    "every liburing call said -EAGAIN returned %s and left %d descriptor(s) open; "
		    "expected -EAGAIN as ufixed_read gave it, and the ring torn down (TODO 10; "
		    "batch.h)", grade_errno_str(ret), fault_count_fds() - before);
	/* The kernel refuses every ring (io_uring blocked: -EPERM): that error
	 * as it came, not -ENOMEM (only -ENOMEM may be retried smaller). */
	refused_every = 0;
	seam_hook_io_uring_queue_init_params = refuse_every_params;
	seam_hook_io_uring_queue_init = refuse_every_init;
	ret = SEAM_CALL(ufixed_batch_read(&r, 1, 4));
	seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
	seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
	grade_check(refused_every > 0 && ret == -EPERM && fault_count_fds() == before,
		    "ufixed_batch_read where the kernel refused every ring with -EPERM (io_uring "
		    "blocked; %ld set-up(s) refused) returned %s, %d descriptor(s) left; expected "
		    "-EPERM as it came (TODO 10; ufixed.h, ufixed_init: -EPERM, -ENOSYS from the "
		    "kernel)", refused_every, grade_errno_str(ret), fault_count_fds() - before);
	/* A batch of one request is a batch like any other: its short read
	 * (cut in half by the harness) is continued. */
	watch_reset_counts();
	memset(buf, 0, sizeof(buf));
	r.res = 1;
	watch.shrink = true;
	ret = SEAM_CALL(ufixed_batch_read(&r, 1, 4));
	watch.shrink = false;
	grade_check(ret == 0 && r.res == 100 && grade_first_diff(buf, data, 100) < 0,
		    "ufixed_batch_read of one request of 100 bytes, whose read the kernel cut "
		    "short (%u read(s) cut by the harness), returned %s with res %s, or not the "
		    "file's bytes; expected 0, res 100: one request runs through ufixed_read like "
		    "any batch, the rest of a short read continued (TODO 10; batch.h)",
		    watch.shrunk, grade_errno_str(ret), grade_errno_str(r.res));
	/* -EPERM does not change with the ring's size: only -ENOMEM may be
	 * retried smaller (ufixed.h, ufixed_batch_read). */
	{
		struct batch_req eight[8] = { r, r, r, r, r, r, r, r };

		refused_every = 0;
		seam_hook_io_uring_queue_init_params = refuse_every_params;
		seam_hook_io_uring_queue_init = refuse_every_init;
		ret = SEAM_CALL(ufixed_batch_read(eight, 8, 64));
		seam_hook_io_uring_queue_init_params = watch_io_uring_queue_init_params;
		seam_hook_io_uring_queue_init = watch_io_uring_queue_init;
		grade_check(ret == -EPERM && refused_every <= 2, "ufixed_batch_read of 8 reads at qd "
			    "64, the kernel refusing every ring with -EPERM: returned %s after %ld "
			    "set-up(s); expected -EPERM after one (a set-up may be tried once more "
			    "without optional flags): only RLIMIT_MEMLOCK's -ENOMEM may be retried with "
			    "a smaller ring; io_uring blocked stays blocked at any size (TODO 10; "
			    "ufixed.h, ufixed_batch_read)", grade_errno_str(ret), refused_every);
	}
	ret = SEAM_CALL(ufixed_batch_read(&one, 1, 0));
	grade_check(ret == -EINVAL, "ufixed_batch_read with qd 0 returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	/* qd 0 is the caller's bug whatever n is (batch.h: qd == 0 is -EINVAL;
	 * ufixed_read and chapter 06's batch read say the same). */
	for (int k = 0; k < 2; k++) {
		watch_reset_counts();
		ret = SEAM_CALL(ufixed_batch_read(k ? NULL : &one, 0, 0));
		grade_check(ret == -EINVAL && watch.inits == 0, "ufixed_batch_read(%s, 0, 0) "
			    "returned %s after %ld ring set-up(s), expected -EINVAL and none: qd 0 is "
			    "-EINVAL whatever n is, an empty batch too; check qd before n == 0 "
			    "(TODO 10; batch.h: qd == 0 is -EINVAL; ufixed.h, ufixed_read: as in "
			    "chapter 06)", k ? "NULL" : "reqs", grade_errno_str(ret), watch.inits);
	}
	ret = SEAM_CALL(ufixed_batch_read(NULL, 2, 4));
	grade_check(ret == -EINVAL, "ufixed_batch_read(NULL, 2, 4) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	/* n == 0 returns 0 and does nothing (batch.h), reqs NULL or not: only
	 * NULL with n > 0 is the caller's bug. */
	watch_reset_counts();
	ret = SEAM_CALL(ufixed_batch_read(NULL, 0, 4));
	grade_check(ret == 0 && watch.inits == 0, "ufixed_batch_read(NULL, 0, 4) returned %s "
		    "after %ld ring set-up(s), expected 0 and none: an empty batch may come with no "
		    "array at all; -EINVAL is for reqs NULL with n > 0 (TODO 10; batch.h, "
		    "ufixed.h: n == 0 returns 0)", grade_errno_str(ret), watch.inits);
	watch_reset_counts();
	watch.init_enomem = true;
	watch.init_enomem_above = 0;
	ret = SEAM_CALL(ufixed_batch_read(&r, 1, 64));
	watch.init_enomem = false;
	grade_check(ret == -ENOMEM && fault_count_fds() == before, "ufixed_batch_read where every "
		    "ring is refused with -ENOMEM returned %s (%d descriptor(s) left); expected "
		    "-ENOMEM, as it came", grade_errno_str(ret), fault_count_fds() - before);
	/* The ladder of smaller rings (ufixed.h: it may try smaller sizes) on 8
	 * reads at qd 64: every ring refused (8, 4, 2 and 1 entries), then every
	 * ring above 2 entries. Whatever each refused try allocated is freed
	 * (the heap check below). */
	for (int k = 0; k < 2; k++) {
		unsigned char eight_bufs[8][100];
		struct batch_req eight[8];

		for (int i = 0; i < 8; i++)
			eight[i] = (struct batch_req){ fd, (off_t)i * 1000, 100, eight_bufs[i], 1 };
		watch_reset_counts();
		watch.init_enomem = true;
		watch.init_enomem_above = k ? 2 : 0;
		ret = SEAM_CALL(ufixed_batch_read(eight, 8, 64));
		watch.init_enomem = false;
		grade_check(k ? ret == 0 || ret == -ENOMEM : ret == -ENOMEM, "ufixed_batch_read of 8 "
			    "reads at qd 64, the kernel refusing every ring %s with -ENOMEM, "
			    "returned %s after %ld set-up(s); expected %s", k ? "above 2 entries" :
			    "(any size)", grade_errno_str(ret), watch.inits,
			    k ? "0 (a smaller ring) or -ENOMEM as it came" : "-ENOMEM as it came");
		for (int i = 0; k && ret == 0 && i < 8; i++)
			grade_check(eight[i].res == 100 &&
				    grade_first_diff(eight_bufs[i], data + (size_t)i * 1000, 100) < 0,
				    "ufixed_batch_read on a smaller ring (every ring above 2 entries "
				    "refused with -ENOMEM): request %d has res %s or not the file's "
				    "bytes, expected 100", i, grade_errno_str(eight[i].res));
		grade_check(fault_count_fds() == before, "ufixed_batch_read with rings refused "
			    "for -ENOMEM left %d descriptor(s) open", fault_count_fds() - before);
	}
	/* Whatever the batch read allocated is freed on these paths too: a ring
	 * failing inside the batch, a ring refused (-EPERM, -ENOMEM), each
	 * smaller ring tried after -ENOMEM. */
	grade_check_heap(&heap, "ufixed_batch_read calls whose ring failed or was refused, "
			 "also on the way down to smaller rings after -ENOMEM (TODO 10: free what "
			 "you allocate on every path, the early returns and each refused try too)");
	close(fd);
	free(data);
}

/* -------------------------------------------------- the loop's faults */

/* Chapter 06's tests of the loop on the ring (ring_faults.h): the loop is
 * the same here, given in the skeleton or pasted from chapter 06. */
#define RF_TEST URING_TEST
#define RF_STATE struct ufixed
#define RF_INIT(b, entries) init_or_fail(b, entries, 0)
#define RF_READ(b, reqs, n, qd) run_read(b, reqs, n, qd)
#define RF_EXIT(b) SEAM_CALL_VOID(ufixed_exit(b))
#define RF_CLEAN(b, when) check_ring_clean(b, when)
#define RF_FN "ufixed_read"
#define RF_TITLE_EAGAIN_WAITS \
	"ufixed_read: after -EAGAIN from a submit, it waits for a read in the kernel instead of " \
	"retrying at once, also when the submit was made to free a full SQ"
#define RF_HINT_EAGAIN_WAITS \
	"the loop (wait_some, given; chapter 06's TODO 6): -EAGAIN from io_uring_submit* means " \
	"\"reap, or wait for a read the kernel has, then submit again\"; at once again spins"
#define RF_TITLE_DRAIN \
	"ufixed_read: after a fatal ring error it waits for the reads the kernel has, then " \
	"returns; it never hangs"
#define RF_HINT_DRAIN \
	"the loop (drain, given): an error other than -EINTR, -EAGAIN, -EBUSY ends the batch, " \
	"but reads the kernel has still write into the caller's buffers: wait for their CQEs " \
	"first; if waiting fails too, return. With SQPOLL the queued SQEs count too; without, " \
	"the kernel took all but io_uring_sq_ready() of them (counted from its head, not from " \
	"liburing's sqe_head, which moved when the SQ was published before the failed enter)"
#define RF_TITLE_EAGAIN_FOREVER \
	"ufixed_read: -EAGAIN from every liburing call ends the batch; -EAGAIN with the SQ full " \
	"and CQEs waiting loses no request"
#define RF_HINT_EAGAIN_FOREVER \
	"the loop (wait_some, reap, complete; given): retry -EAGAIN only while something " \
	"moves, then return it; a CQE whose rest finds no SQE stays in the CQ for the next " \
	"round (never prepared through NULL, never dropped)"
#include "ring_faults.h"

/* --------------------------------------- the batch battery (08.24 on) */

/*
 * The tests every chapter's batch read shares (harness/lib/batch_battery.h),
 * on ufixed_batch_read: random reads with the file position watched,
 * per-request errors, shapes up to qd UINT_MAX, 1500 requests, a 6 GiB
 * sparse file, the window. Around every batch the ring watch proves the
 * mechanism (uring_battery.h: one ring per call, sized min(qd, n) and at
 * most UFIXED_MAX_ENTRIES, torn down with nothing in flight; every read an
 * SQE of a submit, the first window submitted at once; no blocking read),
 * and here also: nothing of the caller's registered, so every read is a
 * plain IORING_OP_READ on the fd itself. One point each: 08.06 and 08.20,
 * which checked part of it, now weigh less (lesson, the points table).
 */
#define URB_FN "ufixed_batch_read"
#define URB_MAX_ENTRIES UFIXED_MAX_ENTRIES
#define URB_TODO "TODO 10, and the loop of ufixed_read behind it"
#include "uring_battery.h"

static struct {
	long registrations;
	unsigned setup_flags;  /* IORING_SETUP_* of every set-up in the call */
	char bad[300];
} ufb;

/* The set-up flags of the batch's ring, then the ring watch's own hook. */
static int ufb_init_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	ufb.setup_flags |= p ? p->flags : 0;
	return watch_io_uring_queue_init_params(entries, ring, p);
}

static int ufb_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	ufb.setup_flags |= flags;
	return watch_io_uring_queue_init(entries, ring, flags);
}

/* Nothing is registered for one batch: every read SQE is a plain READ
 * naming the request's fd. */
static void ufb_check_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (ufb.bad[0] || !watch_is_read(sqe))
		return;
	if (sqe->opcode != IORING_OP_READ || (sqe->flags & IOSQE_FIXED_FILE))
		snprintf(ufb.bad, sizeof(ufb.bad), "a read SQE has opcode %u%s, where nothing is "
			 "registered: a plain IORING_OP_READ (%u) on the fd itself", sqe->opcode,
			 sqe->flags & IOSQE_FIXED_FILE ? " and IOSQE_FIXED_FILE" : "",
			 IORING_OP_READ);
}

static void ufb_setup(void)
{
	module_setup(UFIXED_MAX_ENTRIES);
	seam_hook_io_uring_queue_init_params = ufb_init_params;
	seam_hook_io_uring_queue_init = ufb_init;
	battery_fn_use(ufixed_batch_read, 0);
}

static void ufb_before(void)
{
	urb_before();
	ufb.registrations = caller_registrations();
	ufb.setup_flags = 0;
	ufb.bad[0] = '\0';
	watch.on_sqe = ufb_check_sqe;
}

static void ufb_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	watch.on_sqe = NULL;
	urb_after(reqs, n, ret, what);
	grade_check(caller_registrations() == ufb.registrations, "ufixed_batch_read (%s) made "
		    "%ld call(s) registering the caller's buffers or files: for one batch "
		    "registering costs what it saves; it registers nothing (ufixed.h; TODO 10)",
		    what, caller_registrations() - ufb.registrations);
	grade_check(!ufb.bad[0], "ufixed_batch_read (%s): %s (ufixed.h; TODO 10)", what, ufb.bad);
	grade_check(!(ufb.setup_flags & (IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL)), "ufixed_batch_read "
		    "(%s) set up its ring with %s%s: the contract says ufixed_init with no flags. "
		    "An SQ thread started for one batch burns a core while it spins and is gone "
		    "when the batch returns; IOPOLL fails every buffered read (ufixed.h, "
		    "ufixed_batch_read; TODO 10)", what,
		    ufb.setup_flags & IORING_SETUP_SQPOLL ? "IORING_SETUP_SQPOLL" : "",
		    ufb.setup_flags & IORING_SETUP_IOPOLL ? " IORING_SETUP_IOPOLL" : "");
}

static const struct battery_target ufixed_target = {
	.name = "ufixed_batch_read",
	.setup = ufb_setup,
	.open = battery_fn_open, .read = battery_fn_read, .close = battery_fn_close,
	.before = ufb_before, .after = ufb_after,
	.max_inflight = urb_max_inflight, .fills_to = urb_fills_to,
};

BATCH_BATTERY(ufixed_battery, ufixed_target, "ufixed_batch_read",
	      "TODO 10 (ufixed_batch_read: one plain ring per call, sized min(qd, n), nothing "
	      "registered, then ufixed_read; lesson, \"The exercise\")")

/* ------------------------------------------- the given loop, as in 06 */

/*
 * Chapter 06's tests of the loop (harness/lib/ring_loop.h: 06.31, 06.42,
 * 06.44, 06.50-06.54, 06.56, 06.57), on ufixed_read, through the chapter's
 * tables where a test reads a file (RL_TABLES): the loop is given in the
 * skeleton, but a learner who pastes chapter 06's own, or rewrites it, must
 * keep what these check. Each test's number, points, title and hint stay
 * here; its body is ring_loop.h's.
 */
#define RL_STATE struct ufixed
#define RL_RAW_INIT(b, entries) ufixed_init(b, entries, 0)
#define RL_RAW_TABLES(b, bufs, len, fd) add_tables(b, bufs, len, fd)
#define RL_RAW_READ(b, reqs, n, qd) ufixed_read(b, reqs, n, qd)
#define RL_RAW_EXIT(b) ufixed_exit(b)
#define RL_RAW_BATCH(reqs, n, qd) ufixed_batch_read(reqs, n, qd)
#define RL_INIT(b, entries) init_or_fail(b, entries, 0)
#define RL_TABLES(b, bufs, len, fd)                    \
	do {                                            \
		add_buffer_or_fail(b, bufs, len);       \
		add_file_or_fail(b, fd);                \
	} while (0)
#define RL_READ(b, reqs, n, qd) run_read(b, reqs, n, qd)
#define RL_EXIT(b) SEAM_CALL_VOID(ufixed_exit(b))
#define RL_CLEAN(b, when) check_ring_clean(b, when)
#define RL_ALLOC(len) arena_alloc(len)
#define RL_FN "ufixed_read"
#define RL_BATCH_FN "ufixed_batch_read"
#define RL_BATCH_TODO "TODO 10"
#define RL_INIT_FN "ufixed_init"
#define RL_INIT_WHAT "ufixed_init and the adds"
#define RL_OTHER_CALLS "ufixed_init, ufixed_add_buffer, ufixed_add_file, ufixed_read and ufixed_exit"
#define RL_VAR "u"
#define RL_H "ufixed.h, as chapter 06"
#define RL_LOOP "the given loop, chapter 06's "
#define RL_LESSON "chapter 06's lesson"
#define RL_CUT_SQES "READ / READ_FIXED SQEs"

/* The tables of another thread's ring (its calls are the module's own, not
 * the harness's): a buffer and a file, 0 or the first error. */
static int add_tables(struct ufixed *u, void *bufs, size_t len, int fd)
{
	int b = ufixed_add_buffer(u, bufs, len);
	int f = ufixed_add_file(u, fd);

	return b < 0 ? b : f < 0 ? f : 0;
}

#include "ring_loop.h"

URING_TEST_T(mechanism, held_reads_sleep, 1,
	     "ufixed_read: while every read in flight waits (4 pipes, half a second, after 4 "
	     "fixed file reads), the call sleeps in the kernel and returns 0; it neither fails "
	     "when a bounded wait runs out nor wakes on a timer again and again",
	     "the loop (enter, wait_some; given, chapter 06's TODOs 6 and 7): a wait bounded in "
	     "time that ran out with nothing submitted returns -ETIME, which is not an error "
	     "(reap what is there); the reads are slow, so wait for one completion, without a "
	     "timeout, from then on (chapter 06's lesson, section 5)", 8, 8)
{
	rl_held_reads_sleep();
}

URING_TEST_T(faults, eagain_every_other_call, 1,
	     "ufixed_read: -EAGAIN at every other liburing call, with fixed reads completing "
	     "between, still finishes 256 reads",
	     "the loop (wait_some and the round in ufixed_read; given, chapter 06's TODO 6): give "
	     "up on -EAGAIN / -EBUSY only after several rounds in a row without progress; a "
	     "round that submitted or reaped something starts the count again (chapter 06's "
	     "lesson, section 7)", 16, 10)
{
	rl_eagain_every_other_call();
}

URING_TEST_T(mechanism, two_threads_two_rings, 1,
	     "ufixed_read and ufixed_batch_read: while a call sleeps for its last read, another "
	     "thread sets up a ring of its own with its own tables and runs whole calls on it; "
	     "both get their results",
	     "the loop (struct run; given) and TODOs 6-8: all the state of a call (the next "
	     "request, the reads in flight, the counts, the ring, a slot found) lives in u and in "
	     "the call's own variables, never in a static or a global: another thread may run "
	     "its own ring at the same time (ufixed.h, struct ufixed). A crash here is often a "
	     "static struct run, or a slot cached in a static, that the other thread's call "
	     "overwrote", 16, 10)
{
	rl_two_threads_two_rings();
}

URING_TEST_T(mechanism, slow_read_no_stall, 1,
	     "ufixed_read: one slow read (a pipe) does not stall the window: the fixed reads "
	     "beside it finish meanwhile (n 33-47, qd 4 and 8: every shape of a batch's tail)",
	     "the loop (enter, wait_some; given, chapter 06's TODOs 4-7): refill the window as "
	     "soon as reads complete; do not wait for the whole window (or the oldest read) "
	     "before starting the next ones; a wait for several completions at once is bounded "
	     "in time (chapter 06's lesson, section 5)", 16, 16)
{
	rl_slow_read_no_stall();
}

URING_TEST(faults, drain_through_signal, 1,
	   "ufixed_read: a signal during the drain after a fatal error does not end the drain, "
	   "nor does a second's wait for the reads; that error is returned as it came",
	   "the loop (drain, given; chapter 06's TODO 6): the drain after a fatal error waits "
	   "for every read the kernel has, as long as they take (no time limit of its own); a "
	   "wait interrupted by a signal (-EINTR) is waited again there too, only another error "
	   "ends the drain; then return the error the liburing call gave, not one of your own "
	   "(chapter 06's lesson, section 7)", 16)
{
	rl_drain_through_signal();
}

URING_TEST(faults, ebusy_forever, 1,
	   "ufixed_read: -EBUSY from every liburing call ends the batch with an error, as -EAGAIN "
	   "does: it never retries without end; the next call, on the ring set up again, "
	   "retries a single -EBUSY or -EAGAIN",
	   "the given loop, chapter 06's TODO 6: -EBUSY (completions the kernel could not flush) and -EAGAIN both mean \"reap, "
	   "then try again\"; count the rounds without progress for both, and after a few "
	   "return the error; the count belongs to one call: start it at 0 in each (lesson, "
	   "section 7, the table: \"give up after a few rounds with no progress\")", 16)
{
	rl_ebusy_forever();
}

URING_TEST(mechanism, window_full_at_every_wait, 1,
	   "ufixed_read: 12 pipes at qd 4, completing one at a time: at every wait, the window "
	   "holds min(qd, requests not finished) reads",
	   "the given loop, chapter 06's TODOs 3 and 4: a read that completes frees its slot at once, and the next request "
	   "takes it before the call waits again: refill after every reaping pass, not once "
	   "half the window (or all of it) is free (ufixed.h, as chapter 06: \"Keep the window full: refill it "
	   "as reads complete\"; lesson, section 5)", 16)
{
	rl_window_full_at_every_wait();
}

URING_TEST(faults, give_up_drains, 1,
	   "ufixed_read: giving up on -EAGAIN or -EBUSY while reads are in the kernel, it first "
	   "waits for them, as after any other error",
	   "the given loop, chapter 06's TODO 6: every path that returns an error of the batch goes through the drain (wait for "
	   "each read the kernel has, io_uring_wait_cqe, then io_uring_cqe_seen), the give-up "
	   "after rounds without progress too: a read left in the kernel writes into the "
	   "caller's buffer after the call has returned (ufixed.h, as chapter 06, ufixed_read; lesson, "
	   "section 7)", 8)
{
	rl_give_up_drains();
}

URING_TEST(mechanism, window_beyond_16_bits, 1,
	   "ufixed_read on a ring of 32768 (CQ 65536) at qd 65536 and UINT_MAX: 70000 reads, 65536 in flight at once",
	   "the given loop, chapter 06's TODOs 3 and 4: qd, the window and the count of reads in flight need the full width of "
	   "an unsigned: the largest ring (32768 entries, ufixed.h, as chapter 06) has a CQ of 65536 slots, "
	   "one more than 16 bits hold, so min(qd, cq_entries) is 65536 there (chapter 06's lesson, section 4)", 8)
{
	rl_window_beyond_16_bits();
}

URING_TEST(mechanism, rest_without_sqe_keeps_its_turn, 1,
	   "ufixed_read on a ring of 4 (CQ 8) at qd 8: a short read whose rest finds the SQ full "
	   "stays on the CQ in its turn; the CQEs behind it are not handled first",
	   "the given loop, chapter 06's TODOs 7 and 8: io_uring_cq_advance(ring, k) consumes the first k CQEs of the CQ, "
	   "whichever you handled: when one CQE cannot be handled yet (its rest has no SQE), "
	   "stop the pass there and advance by the CQEs before it; the next round, after a "
	   "submit, takes it up again (man 3 io_uring_cq_advance; lesson, section 2 and the "
	   "window hint)", 4)
{
	rl_rest_without_sqe_keeps_its_turn();
}

URING_TEST(mechanism, wait_within_inflight, 1,
	   "ufixed_read: batches of 1 to 40 cached reads at qd 32 and 64 never wait for more "
	   "completions than they have reads in flight",
	   "the given loop, chapter 06's TODO 6: the number of completions a wait asks for (wait_nr) must never exceed the "
	   "reads in flight (prepared and not yet reaped): such a wait can only end when its "
	   "time runs out, so a small batch, or any batch's tail, sits idle for nothing. Cap "
	   "wait_nr by the reads in flight (chapter 06's lesson, section 5, \"How long to wait\")", 64)
{
	rl_wait_within_inflight();
}

URING_TEST(batch, whole_batch_one_window, 1,
	   "ufixed_batch_read: 1500 requests at qd 8 with request 1000 a pipe that gets its data "
	   "only after request 1499 is done: the batch goes to ufixed_read as it is, not in pieces",
	   "TODO 10: ufixed_batch_read sets up one ring and hands the whole array to one "
	   "ufixed_read call; the window then moves past a slow read. Cut into pieces, each "
	   "piece's end waits for every read of it, the slow one too (ufixed.h, ufixed_batch_read)", 16)
{
	rl_whole_batch_one_window();
}

/* An SQPOLL ring needs its own drain test: the kernel thread, not the call,
 * takes the SQEs, and a loop that skips the drain on such a ring (nothing to
 * wait for, since "the thread submits on its own") returns while reads are
 * still in the kernel. Two pipe reads and two fixed file reads at qd 4, all
 * submitted by the first call; the next liburing call, made while the pipes
 * are in the kernel, fails with -EBADR once, and the pipes get their bytes
 * only when the code waits after that. */
URING_TEST_T(faults, sqpoll_error_drains, 1,
	     "ufixed_read on an SQPOLL ring: after a fatal ring error it waits for the reads the "
	     "kernel has (two pipes) before it returns the error, as on any ring",
	     "the loop (drain, given; chapter 06's TODO 6): with SQPOLL the kernel thread takes "
	     "the SQEs, but a read it has taken still writes into the caller's buffer after the "
	     "call returns: wait for its CQE first, on every kind of ring (lesson: SQPOLL, and "
	     "chapter 06's lesson, section 7)", 16, 15)
{
	const size_t n = 4, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, arena);
	int pa[2], pb[2], ret;
	unsigned left;
	bool injected;
	struct ufixed u;

	init_or_fail(&u, 8, UFIXED_SQPOLL);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	fault_pipe(pa, 0);
	fault_pipe(pb, 0);
	reqs[0] = (struct batch_req){ pa[0], 0, 8, arena, 1 };
	reqs[1] = (struct batch_req){ pb[0], 0, 8, arena + bs, 1 };
	watch_reset_counts();
	watch.limit_why = "a liburing call failed with -EBADR (a broken ring) and the code kept "
			  "calling: return the error once the reads in the kernel are back";
	watch.inject_when = WATCH_WHEN_BUSY;
	watch.inject_err = -EBADR;
	watch.feed_fds[0] = pa[1];
	watch.feed_fds[1] = pb[1];
	watch.nfeed = 2;
	ret = run_read(&u, reqs, n, 4);
	left = watch_in_kernel(&u.ring);
	injected = watch.injected;
	watch_reset_counts();
	watch.limit_why = NULL;
	/* Whatever happened, the pipes get their bytes now: the exit below
	 * must not wait on them. */
	if (SEAM_REAL(write)(pa[1], "LATEDATA", 8) < 0 || SEAM_REAL(write)(pb[1], "LATEDATA", 8) < 0)
		grade_fail("harness: cannot feed a pipe");
	grade_check(injected, "harness: no liburing call was made while the pipe reads were in "
		    "the kernel of the SQPOLL ring (ufixed_read returned %s)", grade_errno_str(ret));
	grade_check(ret != -EINTR && (ret < 0 || (reqs[0].res == 8 && reqs[1].res == 8)),
		    "one liburing call returned -EBADR while two pipe reads were in the kernel of "
		    "an SQPOLL ring; ufixed_read returned %s (requests 0 and 1: res %s, %s); "
		    "expected the error (or 0 with every request done)", grade_errno_str(ret),
		    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));
	grade_check(left == 0, "on an SQPOLL ring, ufixed_read returned %s after a liburing call "
		    "failed with -EBADR, with %u read(s) still in the kernel, which may write into "
		    "the caller's buffers after it returned: the SQ thread submits, but the drain "
		    "still waits for the completion of every read the kernel has (the wait still "
		    "worked here)", grade_errno_str(ret), left);
	SEAM_CALL_VOID(ufixed_exit(&u));
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	free(reqs);
	free(arena);
	close(fd);
	free(data);
}

/* ufixed_remove_file takes a slot. A module that looks its argument up in
 * u->files first (taking it for an fd) empties the wrong slot exactly when
 * a registered fd's number is also the number of another filled slot: slot
 * 0 holds fd `low` (3..15), and slot `low` holds another fd of the file. */
URING_TEST(tables, remove_file_takes_a_slot, 1,
	   "ufixed_remove_file(&u, s) empties slot s, also when slot 0 holds an fd whose number "
	   "is s",
	   "TODO 5: the argument of ufixed_remove_file is a slot of the file table, as "
	   "ufixed_add_file returned it, not an fd: index u->files with it, never search "
	   "u->files for it (ufixed.h, ufixed_remove_file)", 8)
{
	unsigned char *data, buf[4096];
	int fd = data_file("f", 8192, &data), low = -1, dups[UFIXED_MAX_FILES], ndups = 0, ret;
	struct ufixed u;

	/* A free fd number below UFIXED_MAX_FILES (above the standard three). */
	for (int k = 3; k < (int)UFIXED_MAX_FILES && low < 0; k++)
		if (fcntl(k, F_GETFD) < 0 && errno == EBADF)
			low = k;
	grade_check(low >= 0, "harness: no free fd number below %u", UFIXED_MAX_FILES);
	grade_check(dup2(fd, low) == low, "harness: dup2 onto fd %d failed", low);
	init_or_fail(&u, 8, 0);
	ret = add_file_or_fail(&u, low);
	grade_check(ret == 0, "ufixed_add_file(&u, %d) on an empty table returned %s, expected "
		    "slot 0", low, grade_errno_str(ret));
	for (int s = 1; s <= low; s++) {
		dups[ndups] = grade_open(grade_path("f"), O_RDONLY);
		ret = add_file_or_fail(&u, dups[ndups++]);
		grade_check(ret == s, "ufixed_add_file returned %s, expected slot %d (the lowest "
			    "free)", grade_errno_str(ret), s);
	}
	ret = SEAM_CALL(ufixed_remove_file(&u, (unsigned)low));
	grade_check(ret == 0 && u.files[low] == -1 && u.files[0] == low, "with slot 0 holding fd "
		    "%d and slot %d holding fd %d, ufixed_remove_file(&u, %d) returned %s and left "
		    "u.files[0] %d, u.files[%d] %d; expected 0, slot %d emptied (-1) and slot 0 "
		    "still fd %d: the argument is a slot, not an fd", low, low, dups[ndups - 1], low,
		    grade_errno_str(ret), u.files[0], low, u.files[low], low, low);
	memset(buf, 0, sizeof(buf));
	ret = probe_read(&u, 0, true, buf, 4096, -1);
	grade_check(ret == 4096 && grade_first_diff(buf, data, 4096) < 0, "after "
		    "ufixed_remove_file(&u, %d), a read of the harness through file slot 0 (fd %d) "
		    "got %s, expected 4096 bytes of its file: slot 0 was emptied instead of slot %d",
		    low, low, grade_errno_str(ret), low);
	ret = probe_read(&u, low, true, buf, 4096, -1);
	grade_check(ret == -EBADF, "after ufixed_remove_file(&u, %d), a read through file slot "
		    "%d got %s, expected -EBADF (an empty slot): the kernel's slot %d was not "
		    "emptied", low, low, grade_errno_str(ret), low);
	SEAM_CALL_VOID(ufixed_exit(&u));
	for (int i = 0; i < ndups; i++)
		close(dups[i]);
	close(low);
	close(fd);
	free(data);
}

/* A bounded wait's bound, seen from outside: one fixed file read (cached:
 * its CQE is on the CQ at once) beside one pipe read that gets its bytes
 * only after 900 ms. A loop that waits for both with a short bound (the
 * reference: 1 ms) then reaps the file read and sleeps for the pipe alone:
 * the CQ is empty while it sleeps. A bound of a second leaves the finished
 * read's CQE on the CQ, unreaped, for that second. Another thread samples
 * the CQ from 300 to 800 ms: only a CQE there at every sample fails (a
 * reference descheduled for half a second on end, under any load, does not
 * happen). */
struct held_cqe {
	struct io_uring *ring;
	int wfd;
	unsigned samples, with_cqe;
	long first_ms, last_ms; /* when the first and the last sample were taken */
};

static void *held_cqe_sampler(void *arg)
{
	struct held_cqe *h = arg;
	long t0 = fault_now_ms();

	for (long at = 300; at <= 800; at += 100) {
		while (fault_now_ms() - t0 < at)
			usleep(5000);
		/* A sampler held off the CPU takes its late samples in a
		 * burst: their span says so, and the verdict needs 300 ms. */
		if (h->samples++ == 0)
			h->first_ms = fault_now_ms() - t0;
		h->last_ms = fault_now_ms() - t0;
		if (io_uring_cq_ready(h->ring) > 0)
			h->with_cqe++;
	}
	while (fault_now_ms() - t0 < 900)
		usleep(5000);
	if (SEAM_REAL(write)(h->wfd, "LATEDATA", 8) != 8)
		grade_fail("harness: cannot feed the pipe");
	return NULL;
}

URING_TEST_T(mechanism, finished_read_not_held, 1,
	     "ufixed_read: a finished fixed read beside a pipe that waits 0.9 s is reaped at "
	     "once: its CQE does not sit on the CQ while the call sleeps for the pipe",
	     "the loop (enter, wait_some; given, chapter 06's TODO 6): a wait for several "
	     "completions is bounded by a short time (the reference: 1 ms), then the code reaps "
	     "what came and waits for one at a time; a bound of a second holds a finished read's "
	     "result back behind a slow one for that second (chapter 06's lesson, section 5, "
	     "\"How long to wait\")", 8, 10)
{
	const size_t bs = 4096;
	unsigned char *data, *arena = arena_alloc(2 * bs);
	int fd = data_file("f", bs, &data), p[2], ret;
	struct batch_req reqs[2];
	struct held_cqe h;
	pthread_t t;
	struct ufixed u;

	init_or_fail(&u, 8, 0);
	add_buffer_or_fail(&u, arena, 2 * bs);
	add_file_or_fail(&u, fd);
	fault_pipe(p, 0);
	reqs[0] = (struct batch_req){ p[0], 0, 8, arena, 1 };
	reqs[1] = (struct batch_req){ fd, 0, bs, arena + bs, 1 };
	memset(&h, 0, sizeof(h));
	h.ring = &u.ring;
	h.wfd = p[1];
	grade_check(pthread_create(&t, NULL, held_cqe_sampler, &h) == 0, "harness: pthread_create");
	ret = run_read(&u, reqs, 2, 4);
	pthread_join(t, NULL);
	grade_check(ret == 0 && reqs[0].res == 8 && reqs[1].res == (ssize_t)bs &&
		    grade_first_diff(arena + bs, data, bs) < 0, "ufixed_read of a pipe (fed after "
		    "0.9 s) and a file read returned %s (res %s and %s), expected 0, 8 and %zu",
		    grade_errno_str(ret), grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res),
		    bs);
	grade_check(h.with_cqe < h.samples || h.last_ms - h.first_ms < 300, "while ufixed_read slept for a pipe (fed after 0.9 s), "
		    "the CQE of the finished file read beside it was still on the CQ, unreaped, at "
		    "every sample from 0.3 to 0.8 s: the wait for both was bounded by a second or "
		    "more, or not at all. Bound a wait for several completions by a short time "
		    "(1 ms), then reap and wait for one at a time");
	SEAM_CALL_VOID(ufixed_exit(&u));
	close(p[0]);
	close(p[1]);
	free(arena);
	close(fd);
	free(data);
}

URING_TEST(faults, pipe_rest_eintr, 1,
	   "ufixed_read: a registered pipe fed 100 bytes at a time, the read of its rest "
	   "answered -EINTR: the read made again goes on where the pipe left off",
	   "chapter 06's loop (TODO 8 for the rest): a CQE of -EINTR means this read took "
	   "nothing; queue the same rest again (buf + done, len - done), keeping the bytes done "
	   "so far. Starting the request over reads the file's bytes again, but a pipe's are "
	   "gone once read (chapter 06's lesson, section 6)", 8)
{
	struct pipe_beside t;
	int ret;

	pipe_beside_start(&t);
	/* Per request, whatever the module puts in user_data: every first read
	 * is cut to half, and the read of its rest says -EINTR once. */
	byreq_start(t.reqs, 5, true, false, true);
	watch.edit_sqe = byreq_edit;
	pipe_beside_feed(&t);
	ret = run_read(&t.u, t.reqs, 5, 5);
	watch.edit_sqe = NULL;
	grade_check(byreq.state[2] == 2 && byreq.eintrs >= 1, "harness: the pipe's rest was never "
		    "given -EINTR (%u -EINTR in all): is a short read continued?", byreq.eintrs);
	pipe_beside_check(&t, ret, ", its first read short and the read of its rest answered "
			  "-EINTR (which read nothing: the read made again is the same rest, at "
			  "buf + done, with the bytes done kept)");
	pipe_beside_end(&t);
}

/* 10 s: the SQ thread spins on a core of its own while it is awake. */
URING_TEST_T(modes, sqpoll_window_above_sq, 1,
	     "ufixed_read on an SQPOLL ring of 8 SQ entries at qd 16 (the window, 16, above "
	     "the SQ's size): the reads are right and the call returns",
	     "the loop (sqe_now and get_sqe; given): on an SQPOLL ring an SQ full of SQEs not "
	     "yet submitted stays full until io_uring_submit hands them over; the thread cannot "
	     "see them. Waiting for room by spinning on io_uring_sq_space_left never ends: when "
	     "no SQE is free, submit what is queued, and let io_uring_sqring_wait sleep for room "
	     "(lesson, section 7; man 3 io_uring_sqring_wait)", 8, 10)
{
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, arena);
	struct ufixed u;

	init_or_fail(&u, 8, UFIXED_SQPOLL);
	add_buffer_or_fail(&u, arena, size);
	add_file_or_fail(&u, fd);
	grade_check(u.sq_entries == 8 && u.cq_entries >= 16, "harness: an SQPOLL ring of 8 "
		    "entries has an SQ of %u and a CQ of %u", u.sq_entries, u.cq_entries);
	for (int call = 0; call < 40; call++) {
		int ret;

		memset(arena, 0, size);
		for (size_t i = 0; i < n; i++)
			reqs[i].offset = (off_t)(grade_rand_below(n) * bs);
		/* Every other call, every first read cut short: each CQE then
		 * needs an SQE for its rest while the SQ may be full. */
		if (call % 2) {
			byreq_start(reqs, n, true, false, false);
			watch.edit_sqe = byreq_edit;
		}
		ret = run_read(&u, reqs, n, 16);
		watch.edit_sqe = NULL;
		grade_check(ret == 0, "call %d: ufixed_read of %zu cached reads at qd 16 on an "
			    "SQPOLL ring of 8 SQ entries%s returned %s, expected 0. An SQ that "
			    "looks full on an SQPOLL ring is the thread not done with its pass "
			    "yet: wait for room (io_uring_sqring_wait) instead of giving up or "
			    "spinning", call + 1, n, call % 2 ? ", every first read cut short," : "",
			    grade_errno_str(ret));
		grade_check(call % 2 == 0 || byreq.cut >= n / 2, "harness: only %u of %zu first "
			    "reads could be cut short on the SQPOLL ring", byreq.cut, n);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, call % 2 ? "an SQPOLL ring smaller "
				  "than the window, first reads cut short" : "an SQPOLL ring smaller "
				  "than the window");
	}
	SEAM_CALL_VOID(ufixed_exit(&u));
	free(reqs);
	free(arena);
	close(fd);
	free(data);
}

/*
 * The window on an SQPOLL ring whose SQ is smaller than it: a ring of 8 SQ
 * entries has a CQ of 16, so at qd 16 the window is 16, as on any ring
 * (ufixed.h: at most min(qd, cq_entries) in flight; the battery's 08.29: the
 * window is qd itself). The SQ only limits how many SQEs wait to be taken at
 * once: once the thread has taken the first 8, the next 8 go in. 16 pipe
 * reads, fed only when a wait finds all 16 in flight, so no read completes
 * before the window is full. A module that holds the window to the SQ's size
 * on an SQPOLL ring waits with 8 in flight for reads that cannot come; after
 * 3 s a harness thread feeds the pipes anyway, so that it fails with a
 * message instead of hanging (the reference fills the window within
 * milliseconds: its first wait, bounded to 1 ms, lets the thread take the
 * first 8, and the SQ wait then gives room for the rest).
 */
#define SQW_N 16

static struct {
	const struct io_uring *ring;
	int w[SQW_N];
	bool fed;            /* atomic: the pipes got their bytes            */
	unsigned most;       /* the most reads in flight at a wait            */
	unsigned waits;      /* the waits for completions seen                */
	bool by_watchdog;    /* fed by the harness thread after 3 s           */
} sqw;

/* Feed every pipe once; true for the caller that did it. */
static bool sqw_feed(void)
{
	if (__atomic_exchange_n(&sqw.fed, true, __ATOMIC_ACQ_REL))
		return false;
	for (int i = 0; i < SQW_N; i++)
		(void)SEAM_REAL(write)(sqw.w[i], "SQPWINDO", 8);
	return true;
}

static void sqw_before_wait(struct io_uring *ring, unsigned nr)
{
	unsigned inflight;

	(void)nr;
	if (!ring || ring != sqw.ring)
		return;
	inflight = watch_inflight(ring);
	sqw.waits++;
	if (inflight > sqw.most)
		sqw.most = inflight;
	if (inflight >= SQW_N)
		sqw_feed();
}

static void *sqw_watchdog(void *arg)
{
	long start = fault_now_ms();

	(void)arg;
	seam_mark_harness_thread();
	while (!__atomic_load_n(&sqw.fed, __ATOMIC_ACQUIRE) && fault_now_ms() - start < 3000)
		usleep(5000);
	if (sqw_feed())
		sqw.by_watchdog = true;
	return NULL;
}

URING_TEST_T(modes, sqpoll_window_full, 1,
	     "ufixed_read on an SQPOLL ring of 8 SQ entries (CQ 16) at qd 16: 16 pipe reads in "
	     "flight at once, the window not held to the SQ's size",
	     "the loop (fill, sqe_now; given) and TODO 1: on an SQPOLL ring too the window is "
	     "min(qd, cq_entries), and cq_entries is the CQ the kernel gave, not the SQ; an SQ "
	     "smaller than the window only means the next SQEs go in once the thread has taken "
	     "the first ones (io_uring_sqring_wait sleeps for that room): never cap the window "
	     "at sq_entries (ufixed.h, ufixed_read; lesson, section 7; man 3 "
	     "io_uring_sqring_wait)", 8, 10)
{
	unsigned char *arena = arena_alloc(SQW_N * 4096);
	struct batch_req reqs[SQW_N];
	int p[SQW_N][2], ret;
	pthread_t t;
	struct ufixed u;

	init_or_fail(&u, 8, UFIXED_SQPOLL);
	grade_check(u.sq_entries < SQW_N && u.cq_entries >= SQW_N, "harness: an SQPOLL ring of "
		    "8 entries has an SQ of %u and a CQ of %u", u.sq_entries, u.cq_entries);
	add_buffer_or_fail(&u, arena, SQW_N * 4096);
	memset(&sqw, 0, sizeof(sqw));
	for (int i = 0; i < SQW_N; i++) {
		fault_pipe(p[i], 0);
		sqw.w[i] = p[i][1];
		reqs[i] = (struct batch_req){ p[i][0], 0, 8, arena + (size_t)i * 4096, 1 };
	}
	sqw.ring = &u.ring;
	grade_check(pthread_create(&t, NULL, sqw_watchdog, NULL) == 0, "harness: pthread_create");
	watch_reset_counts();
	watch.before_wait = sqw_before_wait;
	ret = run_read(&u, reqs, SQW_N, SQW_N);
	watch.before_wait = NULL;
	sqw_feed();
	pthread_join(t, NULL);
	grade_check(ret == 0, "ufixed_read of %d pipe reads at qd %d on an SQPOLL ring of 8 SQ "
		    "entries returned %s, expected 0", SQW_N, SQW_N, grade_errno_str(ret));
	for (int i = 0; i < SQW_N; i++)
		grade_check(reqs[i].res == 8 && memcmp(arena + (size_t)i * 4096, "SQPWINDO", 8) == 0,
			    "request %d (a pipe that got 8 bytes) on an SQPOLL ring: res %s, "
			    "expected 8 with the pipe's bytes", i, grade_errno_str(reqs[i].res));
	grade_check(sqw.waits > 0, "harness: ufixed_read never waited in liburing for %d pipes",
		    SQW_N);
	grade_check(!sqw.by_watchdog && sqw.most == SQW_N, "ufixed_read of %d pipe reads at qd "
		    "%d on an SQPOLL ring of %u SQ entries and %u CQ entries waited with at most %u "
		    "read(s) in flight%s: the window is min(qd, cq_entries) = %d on an SQPOLL ring "
		    "too. The SQ's size limits only the SQEs not yet taken: when no SQE is free, "
		    "submit, let io_uring_sqring_wait sleep until the thread took some, and go on "
		    "filling", SQW_N, SQW_N, u.sq_entries, u.cq_entries, sqw.most,
		    sqw.by_watchdog ? " (its pipes were fed after 3 s, since the window never "
		    "filled)" : "", SQW_N);
	check_ring_clean(&u, "after 16 pipes on an SQPOLL ring");
	SEAM_CALL_VOID(ufixed_exit(&u));
	for (int i = 0; i < SQW_N; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	free(arena);
}

/*
 * The waits that are not a round's bounded one sleep until a completion
 * too, as 08.30 asks of the round's wait: the wait for a read the kernel
 * has after -EAGAIN from a submit, and the drain after a fatal error. Four
 * pipe reads held for half a second (feed_after_hold, ring_loop.h) beside
 * four fixed file reads; -EAGAIN once (the call goes on), then -EBADR once
 * (the call drains and fails), at the first call made with a read in the
 * kernel. A wait in 1 ms steps makes hundreds of calls in that half second;
 * the reference makes a handful.
 */
URING_TEST_T(faults, waits_sleep_after_errors, 1,
	     "ufixed_read: after -EAGAIN from a submit, and in the drain after a fatal error, "
	     "the wait for 4 pipe reads held half a second sleeps in the kernel instead of "
	     "waking on a timer again and again",
	     "the loop (wait_one and drain; given, chapter 06's TODO 6): a read the kernel has "
	     "completes when it completes; wait for it with io_uring_wait_cqe, which sleeps "
	     "until a CQE is there, not with a short timeout in a loop, which wakes the call "
	     "hundreds of times a second for nothing (chapter 06's lesson, section 7; man 3 "
	     "io_uring_wait_cqe)", 8, 10)
{
	static const struct { int err; const char *what; } rounds[] = {
		{ -EAGAIN, "-EAGAIN from a submit" },
		{ -EBADR, "-EBADR from a liburing call (the drain)" },
	};
	const size_t size = 4 * 4096;
	unsigned char *data, *arena = arena_alloc(size);
	int fd = data_file("f", size, &data);

	for (size_t k = 0; k < 2; k++) {
		unsigned char pipe_bufs[4][8];
		struct batch_req reqs[8];
		struct held h;
		struct ufixed u;
		pthread_t t;
		int p[4][2], ret;
		long calls;
		unsigned left;
		bool injected;

		/* The pipes first: they are in the kernel, waiting, when the
		 * file reads have completed. */
		for (int i = 0; i < 4; i++) {
			fault_pipe(p[i], 0);
			h.w[i] = p[i][1];
			reqs[i] = (struct batch_req){ p[i][0], 0, 8, pipe_bufs[i], 1 };
			reqs[4 + i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
		}
		init_or_fail(&u, 8, 0);
		RL_TABLES(&u, arena, size, fd);
		watch_reset_counts();
		watch.inject_when = WATCH_WHEN_BUSY;
		watch.inject_err = rounds[k].err;
		watch.limit = 5000;
		watch.limit_why = "the pipes' data came after half a second and the call kept "
				  "calling liburing: wait for a read the kernel has with "
				  "io_uring_wait_cqe, which sleeps until it completes";
		grade_check(pthread_create(&t, NULL, feed_after_hold, &h) == 0,
			    "harness: pthread_create");
		calls = watch.calls;
		ret = run_read(&u, reqs, 8, 8);
		calls = watch.calls - calls;
		left = watch_in_kernel(&u.ring);
		injected = watch.injected;
		pthread_join(t, NULL);
		watch_reset_counts();
		grade_check(injected, "harness: no liburing call was made while the pipe reads were "
			    "in the kernel (ufixed_read returned %s)", grade_errno_str(ret));
		grade_check(left == 0, "ufixed_read returned %s after %s with %u read(s) still in "
			    "the kernel: wait for every read the kernel has before returning",
			    grade_errno_str(ret), rounds[k].what, left);
		if (k == 0) {
			grade_check(ret == 0, "ufixed_read after one %s returned %s, expected 0 (wait "
				    "for a read the kernel has, then submit again)", rounds[k].what,
				    grade_errno_str(ret));
			for (int i = 0; i < 4; i++) {
				check_req(&reqs[4 + i], (size_t)(4 + i), data, size, "beside reads held "
					  "for half a second");
				grade_check(reqs[i].res == 8 && memcmp(pipe_bufs[i], "HELDDATA", 8) == 0,
					    "request %d (a pipe that got 8 bytes after %d ms): res %s, "
					    "expected 8", i, HELD_MS, grade_errno_str(reqs[i].res));
			}
		} else {
			grade_check(ret == -EBADR || (ret == 0 && reqs[0].res == 8 && reqs[3].res == 8),
				    "ufixed_read after %s returned %s, expected -EBADR as it came",
				    rounds[k].what, grade_errno_str(ret));
		}
		grade_check(calls <= HELD_MAX_CALLS, "ufixed_read made %ld liburing calls that enter "
			    "the kernel while 4 pipe reads waited %d ms for data after %s (at most %d "
			    "expected): it waits for them on a timer, waking and waiting again, "
			    "instead of sleeping until a read completes (io_uring_wait_cqe)", calls,
			    HELD_MS, rounds[k].what, HELD_MAX_CALLS);
		SEAM_CALL_VOID(ufixed_exit(&u));
		for (int i = 0; i < 4; i++)
			close(p[i][0]);
	}
	close(fd);
	free(arena);
	free(data);
}
