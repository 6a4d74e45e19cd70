/*
 * Chapter 06 tests: io_uring batching (chapters/06-uring-batching/ubatch.h)
 * and the copy program, graded from outside.
 *
 * The module is watched through the link seams (ring_watch.h): every
 * liburing call that may enter the kernel is counted (the budget), the
 * requests in flight are measured from the ring itself (the window, the CQ
 * bound), reads still queued in the SQ can be cut short (a short read in
 * the middle of a regular file), and -EINTR / -EAGAIN can be injected. The
 * faults the kernel makes on demand are made for real: pipes fed in pieces,
 * a pipe that gets its data only once the call sleeps in io_uring_enter (its
 * CQE comes last), SIGUSR1 without SA_RESTART during that sleep. Blocking
 * reads are refused in every module test. Expected bytes come from the
 * harness's own random data, generated from the printed seed.
 *
 * The copy program is run as a user would (harness/lib/prog.h): its path is $COPY if
 * set, else $GRADE_PROGRAMS/copy, so any program with the command line
 * `copy SRC DST` can be graded; strace shows whether its data went through
 * io_uring with several requests per system call.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "ubatch.h"
#include "ring_watch.h"
#include "memlock_wait.h"
#include "batch_checks.h"
#include "prog.h"
#include "confined.h"
#include "ino_pair.h"
#include "tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/landlock.h>

/* ------------------------------------------------------------------ helpers */

/*
 * Ring memory is charged to RLIMIT_MEMLOCK for ordinary users, and a ring
 * torn down is freed a little later, in the background: a test that sets up
 * several rings in a row needs room for more than one. With the usual 8 MiB
 * (or as root) there is plenty; below 64 KiB the tests skip with the reason.
 */
#define RING_ROOM (64 * 1024)

/* Every module test: io_uring must work here, blocking reads are refused,
 * and the watchdog ends a call that never finishes. */
static void module_setup(unsigned entries)
{
	grade_require_io_uring(entries);
	grade_require_memlock(RING_ROOM, "this chapter's tests (several rings in a row)");
	seam_refuse_blocking_io("this module reads only through the ring (io_uring_prep_read), "
				"the rest of a short read too, and never writes, maps or copies "
				"files (TODOs 4, 5 and 8)");
	/* ubatch.h's rules: no sleeping. A module that waits for the kernel
	 * waits in io_uring_enter, where a completion wakes it. */
	{
		static const enum seam_id sleeps[] = {
			SEAM_nanosleep, SEAM_usleep, SEAM_sleep, SEAM_clock_nanosleep,
		};
		for (size_t i = 0; i < sizeof(sleeps) / sizeof(sleeps[0]); i++)
			seam_refuse(sleeps[i], "ubatch.h's rules: no sleeping. To wait for "
				    "the kernel (after -EAGAIN or -EBUSY, or for the reads in "
				    "flight), wait for a completion in io_uring_enter "
				    "(io_uring_wait_cqe, io_uring_submit_and_wait): it wakes "
				    "as soon as one is there, a sleep does not (lesson, "
				    "section 7; TODO 6)");
	}
	watch_start(20000, NULL);
	/* An injected submit error leaves the SQEs published, as a real one
	 * does: what the kernel did not take is *khead .. sqe_tail. */
	watch.publish_on_inject = true;
}

/* A module test: module_setup(entries) runs before anything else of the
 * body, so a machine without io_uring skips it with the reason. */
#define URING_TEST(suite_, name_, points_, title_, hint_, entries_)        \
	static void uring_body_##suite_##_##name_(void);                  \
	GRADE_TEST(suite_, name_, points_, title_, hint_)                  \
	{                                                                  \
		module_setup(entries_);                                    \
		uring_body_##suite_##_##name_();                           \
	}                                                                  \
	static void uring_body_##suite_##_##name_(void)

static void init_or_fail(struct ubatch *b, unsigned entries)
{
	int ret;

	errno = 0;
	MEMLOCK_PATIENT(ret, SEAM_CALL(ubatch_init(b, entries)));
	if (ret == -ENOMEM)
		memlock_skip_if_short(entries, NULL, 0, "ubatch_init's ring");
	grade_check(ret == 0, "ubatch_init(&b, %u) returned %s, expected 0 (TODO 1)", entries,
		    grade_errno_str(ret));
	grade_check(b->live == 1 && b->sq_entries >= entries && b->cq_entries >= b->sq_entries,
		    "after ubatch_init(&b, %u): live %d, sq_entries %u, cq_entries %u; expected "
		    "live 1 and the sizes the kernel gave (TODO 1)", entries, b->live,
		    b->sq_entries, b->cq_entries);
}

static void check_ring_clean(struct ubatch *b, const char *when)
{
	unsigned cq = io_uring_cq_ready(&b->ring), sq = io_uring_sq_ready(&b->ring);

	grade_check(cq == 0 && sq == 0, "%s, the ring still holds %u unreaped CQE(s) and %u "
		    "unsubmitted SQE(s): the next call would see them. Reap every CQE and "
		    "advance the CQ past it (io_uring_cq_advance, TODO 7)", when, cq, sq);
}

/*
 * One ubatch_read call, and what the watch recorded during it is asserted in
 * every test: never more reads in flight than min(qd, cq_entries), no CQ
 * overflow, no ring set up or torn down inside ubatch_read.
 */
static int run_read(struct ubatch *b, struct batch_req *reqs, size_t n, unsigned qd)
{
	bool watched = b && b->live && qd > 0;
	unsigned window = watched ? (qd < b->cq_entries ? qd : b->cq_entries) : 0;
	long inits = watch.inits, exits = watch.exits;
	int ret;

	watch.max_inflight = 0;
	watch.overflow = false;
	ret = SEAM_CALL(ubatch_read(b, reqs, n, qd));
	if (!watched)
		return ret;
	grade_check(watch.max_inflight <= window, "ubatch_read(n %zu, qd %u) on a ring whose CQ "
		    "has %u slots: %u reads were in flight at once (from io_uring_get_sqe until the "
		    "CQ head moves past their CQE); the window is min(qd, cq_entries) = %u (TODOs 3 "
		    "and 4)", n, qd, b->cq_entries, watch.max_inflight, window);
	grade_check(!watch.overflow, "ubatch_read(n %zu, qd %u): the CQ overflowed "
		    "(IORING_SQ_CQ_OVERFLOW): more completions than its %u slots (TODO 3)", n, qd,
		    b->cq_entries);
	grade_check(watch.inits == inits && watch.exits == exits, "ubatch_read set up %ld and tore "
		    "down %ld ring(s): it must use b->ring as it is (lesson, section 8)",
		    watch.inits - inits, watch.exits - exits);
	return ret;
}

/* ------------------------------------------------------------------- ring */

URING_TEST(ring, init_and_exit, 1,
	   "ubatch_init sets up a ring and records its sizes; ubatch_exit closes it, twice is safe",
	   "TODO 1: the sizes to record are the ones the kernel gave back, not the ones asked "
	   "for, and live marks a ring that was set up; TODO 2: a ring is torn down once, a "
	   "second exit does nothing (man 3 io_uring_queue_init, man 2 io_uring_setup)", 8)
{
	struct ubatch b;
	int before, with_ring;

	before = fault_count_fds();
	init_or_fail(&b, 8);
	with_ring = fault_count_fds();
	grade_check(b.sq_entries == 8 && b.cq_entries == 16, "ubatch_init(&b, 8): sq_entries %u, "
		    "cq_entries %u; the kernel gives 8 and 16 (copy them from the params)",
		    b.sq_entries, b.cq_entries);
	grade_check(with_ring == before + 1, "ubatch_init opened %d descriptor(s); a ring is one",
		    with_ring - before);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(b.live == 0, "after ubatch_exit, b.live is %d, expected 0", b.live);
	grade_check(fault_count_fds() == before, "after ubatch_exit, %d descriptor(s) are still "
		    "open: io_uring_queue_exit closes the ring's fd (TODO 2)",
		    fault_count_fds() - before);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(watch.exits == 1, "ubatch_exit called io_uring_queue_exit %ld times for one "
		    "ring (ubatch_exit was called twice): tear it down once, then live = 0",
		    watch.exits);
	init_or_fail(&b, 5);
	grade_check(b.sq_entries == 8 && b.cq_entries == 16, "ubatch_init(&b, 5): sq_entries %u, "
		    "cq_entries %u; the kernel rounds 5 up to 8 (and 16): record what it gave",
		    b.sq_entries, b.cq_entries);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(fault_count_fds() == before, "a ring's descriptor is left open");
}

URING_TEST(ring, init_errors, 1,
	   "ubatch_init: -EINVAL for 0 and for 100000 entries (as -errno, never -1 or errno), a whole ring of 32768; "
	   "a ring all the same on a kernel without the newer set-up flags",
	   "TODO 1: io_uring_queue_init_params returns -errno itself and leaves errno alone: "
	   "return its value as it is, and let the kernel judge the size: 1 to 32768 entries "
	   "(lesson, section 7; man 3 io_uring_queue_init, man 2 io_uring_setup); set-up "
	   "flags a kernel may not know need a retry without them on -EINVAL (section 8)", 8)
{
	struct ubatch b;
	int before, ret;

	before = fault_count_fds();
	memset(&b, 0xff, sizeof(b));
	errno = ENOTTY;
	ret = SEAM_CALL(ubatch_init(&b, 0));
	grade_check(ret == -EINVAL, "ubatch_init(&b, 0) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	grade_check(b.live == 0, "ubatch_init(&b, 0) failed but left b.live at %d: clear *b "
		    "first, so that live is 0 on every failure", b.live);
	memset(&b, 0xff, sizeof(b));
	errno = ENOTTY;
	ret = SEAM_CALL(ubatch_init(&b, 100000));
	grade_check(ret != -ENOTTY, "ubatch_init(&b, 100000) returned -ENOTTY, which is what "
		    "errno held before the call: liburing does not set errno, it returns -errno");
	grade_check(ret == -EINVAL, "ubatch_init(&b, 100000) returned %s; the kernel refuses "
		    "more than 32768 entries: expected -EINVAL", grade_errno_str(ret));
	grade_check(b.live == 0, "ubatch_init(&b, 100000) failed but left b.live at %d", b.live);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(fault_count_fds() == before, "a failed ubatch_init left %d descriptor(s) open",
		    fault_count_fds() - before);

	/* The other end of the range: 32768 entries is the kernel's largest SQ
	 * (ubatch.h: entries 1..32768), and the ring must have all of it. Only
	 * -ENOMEM (a small RLIMIT_MEMLOCK) is an excuse. */
	memset(&b, 0xff, sizeof(b));
	ret = SEAM_CALL(ubatch_init(&b, 32768));
	grade_check(ret == 0 || ret == -ENOMEM, "ubatch_init(&b, 32768) returned %s; 32768 is the "
		    "largest SQ the kernel sets up (ubatch.h: entries 1..32768; kernels before 5.4 "
		    "stopped at 4096): expected 0 (or -ENOMEM when RLIMIT_MEMLOCK is too small). "
		    "Let the kernel judge the size, do not cap or refuse it yourself (TODO 1)",
		    grade_errno_str(ret));
	grade_check(ret != 0 || (b.live == 1 && b.sq_entries == 32768 && b.cq_entries == 65536),
		    "ubatch_init(&b, 32768) returned 0 with live %d, sq_entries %u, cq_entries %u; "
		    "expected a ring of 32768 SQ and 65536 CQ entries, the size asked for: do not "
		    "cap entries in ubatch_init (UBATCH_MAX_ENTRIES is ubatch_batch_read's cap, "
		    "TODO 9)", b.live, b.sq_entries, b.cq_entries);
	grade_check(ret == 0 || b.live == 0, "ubatch_init(&b, 32768) failed but left b.live at %d",
		    b.live);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(fault_count_fds() == before, "ubatch_init(&b, 32768), then ubatch_exit, left %d "
		    "descriptor(s) open", fault_count_fds() - before);

	/* The ring watch plays Linux 5.19, which answers -EINVAL for a set-up
	 * flag it does not know: a module that asks for SINGLE_ISSUER (6.0) or
	 * DEFER_TASKRUN (6.1) must still get a ring there. */
	watch.init_old_kernel = true;
	memset(&b, 0xff, sizeof(b));
	ret = SEAM_CALL(ubatch_init(&b, 8));
	watch.init_old_kernel = false;
	grade_check(ret == 0 && b.live == 1 && b.sq_entries == 8, "on a kernel without the newer "
		    "set-up flags (the test plays Linux 5.19, which answers -EINVAL for "
		    "IORING_SETUP_SINGLE_ISSUER and DEFER_TASKRUN, flags of 6.0 and 6.1; %ld set-up(s) "
		    "refused for their flags), ubatch_init(&b, 8) returned %s with live %d, sq_entries "
		    "%u: on -EINVAL, set the ring up again without those flags (lesson, section 8)",
		    watch.init_refused, grade_errno_str(ret), b.live, b.sq_entries);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(fault_count_fds() == before, "ubatch_init on an older kernel, then ubatch_exit, "
		    "left %d descriptor(s) open", fault_count_fds() - before);

	/* The same old kernel with RLIMIT_MEMLOCK too small: the set-up without
	 * the flags fails with -ENOMEM, and that is the answer (ubatch.h: -ENOMEM
	 * when RLIMIT_MEMLOCK is too small). The first -EINVAL was only about the
	 * flags; ubatch_batch_read tries smaller rings on -ENOMEM alone. */
	watch.init_old_kernel = true;
	watch.init_enomem = true;
	watch.init_enomem_above = 0;
	watch.inits = 0;
	memset(&b, 0xff, sizeof(b));
	ret = SEAM_CALL(ubatch_init(&b, 8));
	watch.init_old_kernel = false;
	watch.init_enomem = false;
	/* (A ring set up without io_uring_queue_init*, which the test cannot
	 * refuse, is left alone: watch.inits stays 0.) */
	grade_check(watch.inits == 0 || (ret == -ENOMEM && b.live == 0), "on a kernel without the newer set-up flags "
		    "(-EINVAL for them) where the ring without them is refused with -ENOMEM "
		    "(RLIMIT_MEMLOCK too small), ubatch_init(&b, 8) returned %s with live %d; expected "
		    "-ENOMEM and live 0: the error of the set-up made without the flags is the "
		    "answer, not the -EINVAL of the first try (TODO 1; lesson, section 8)",
		    grade_errno_str(ret), b.live);
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(fault_count_fds() == before, "a refused set-up on an older kernel, then "
		    "ubatch_exit, left %d descriptor(s) open", fault_count_fds() - before);
}

/* ------------------------------------------------------------------ batch */

URING_TEST(batch, random_batches, 2,
	   "ubatch_read: 6 batches of random reads through one ring, some past the end of the file",
	   "TODOs 3-8: fill the window, submit and wait, reap every CQE, and store bytes read "
	   "(or -errno) in each request's res (lesson, sections 5-7; chapters/common/batch.h)", 16)
{
	static const unsigned qds[] = { 1, 3, 8, 16, 5, 12 };
	size_t size = 200000 + grade_rand_below(300000);
	unsigned char *data;
	int fd = data_file("f", size, &data);
	struct ubatch b;

	grade_check(lseek(fd, 123, SEEK_SET) == 123, "harness: lseek: %s", strerror(errno));
	init_or_fail(&b, 16);
	for (size_t round = 0; round < sizeof(qds) / sizeof(qds[0]); round++) {
		size_t n = 1 + grade_rand_below(200);
		struct batch_req *reqs = random_reqs(fd, n, size, 70000);
		int ret = run_read(&b, reqs, n, qds[round]);
		char what[64];

		grade_check(ret == 0, "ubatch_read of %zu random reads at qd %u returned %s, "
			    "expected 0 (seed %llu)", n, qds[round], grade_errno_str(ret),
			    (unsigned long long)grade_seed());
		snprintf(what, sizeof(what), "batch %zu (n %zu, qd %u)", round + 1, n, qds[round]);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, what);
		check_ring_clean(&b, "after ubatch_read returned");
		free_reqs(reqs, n);
	}
	grade_check(lseek(fd, 0, SEEK_CUR) == 123, "the file position moved from 123 to %lld: "
		    "every read must name its offset (never -1, which means the file position)",
		    (long long)lseek(fd, 0, SEEK_CUR));
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(fd);
	free(data);
}

URING_TEST(batch, arguments, 1,
	   "ubatch_read: -EINVAL for a NULL or dead ring, qd 0, a NULL array; n 0 does nothing",
	   "TODO 3: check the arguments first (ubatch.h); n == 0 returns 0 without entering "
	   "the kernel", 8)
{
	struct batch_req one = { -1, 0, 16, NULL, 7 };
	struct ubatch b, dead;
	int ret;

	memset(&dead, 0, sizeof(dead));
	init_or_fail(&b, 8);
	ret = run_read(NULL, &one, 1, 4);
	grade_check(ret == -EINVAL, "ubatch_read(NULL, ...) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = run_read(&dead, &one, 1, 4);
	grade_check(ret == -EINVAL, "ubatch_read on a ring that was never set up (live 0) "
		    "returned %s, expected -EINVAL", grade_errno_str(ret));
	ret = run_read(&b, &one, 1, 0);
	grade_check(ret == -EINVAL, "ubatch_read with qd 0 returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	for (size_t n = 1; n <= 3; n += 2) {
		ret = run_read(&b, NULL, n, 4);
		grade_check(ret == -EINVAL, "ubatch_read(&b, NULL, %zu, 4) returned %s, expected "
			    "-EINVAL", n, grade_errno_str(ret));
	}
	/* The argument checks come before the n == 0 shortcut (ubatch.h: -EINVAL
	 * for b NULL, b not live or qd 0, whatever n is; only reqs == NULL is
	 * tied to n > 0). */
	ret = run_read(NULL, &one, 0, 4);
	grade_check(ret == -EINVAL, "ubatch_read(NULL, reqs, 0, 4) returned %s, expected -EINVAL: "
		    "a NULL ring is refused whatever n is; check b, b->live and qd before the "
		    "n == 0 shortcut (TODO 3, ubatch.h)", grade_errno_str(ret));
	ret = run_read(&dead, &one, 0, 4);
	grade_check(ret == -EINVAL, "ubatch_read on a ring that was never set up with n 0 returned "
		    "%s, expected -EINVAL: check b->live before the n == 0 shortcut (TODO 3, "
		    "ubatch.h)", grade_errno_str(ret));
	ret = run_read(&b, &one, 0, 0);
	grade_check(ret == -EINVAL, "ubatch_read(&b, reqs, 0, 0) returned %s, expected -EINVAL: "
		    "qd 0 is refused whatever n is; check qd before the n == 0 shortcut (TODO 3, "
		    "ubatch.h)", grade_errno_str(ret));
	grade_check(one.res == 7, "ubatch_read with bad arguments and n 0 set res to %zd; it "
		    "must touch nothing", one.res);
	watch_reset_counts();
	ret = run_read(&b, &one, 0, 4);
	grade_check(ret == 0 && one.res == 7, "ubatch_read with n 0 returned %s and set res to "
		    "%zd; expected 0 and the request untouched", grade_errno_str(ret), one.res);
	grade_check(watch.calls == 0, "ubatch_read with n 0 called liburing %ld time(s); there "
		    "is nothing to submit", watch.calls);
	SEAM_CALL_VOID(ubatch_exit(&b));
}

/* A wait for a completion while nothing is in flight (nothing queued, nothing
 * in the kernel, the CQ empty) would sleep forever: fail at once instead. */
static void no_wait_with_nothing(struct io_uring *ring, unsigned nr)
{
	if (ring && watch_inflight(ring) == 0 && io_uring_cq_ready(ring) == 0)
		grade_fail("ubatch_read waits for %u completion(s) with no read in flight: every "
			   "request of this batch needs no I/O (length 0, or a negative offset), "
			   "so nothing will ever complete and the wait never ends. Finish such "
			   "requests where you fill the window, and return once every request has "
			   "its res, before any wait (TODOs 3 and 4; lesson, \"Hints\": never block "
			   "with nothing in flight)", nr);
}

URING_TEST(batch, end_of_file, 2,
	   "ubatch_read: reads at, across and past the end of a file, of length 0, of an empty file",
	   "TODO 8: res == 0 is end of file: the request is finished with what it has read; "
	   "resubmitting it never ends. len 0: res 0 without I/O (TODO 4); a batch in which no "
	   "request needs I/O returns without waiting: nothing would ever complete (TODO 3)", 8)
{
	const size_t size = 10000;
	unsigned char *data, buf[8][4096];
	int fd = data_file("f", size, &data);
	int empty = grade_open(grade_make_file("empty", "", 0), O_RDONLY);
	struct batch_req reqs[8] = {
		{ fd, 0, 4096, buf[0], 1 },
		{ fd, 9000, 4096, buf[1], 1 },    /* across the end: 1000 bytes */
		{ fd, 10000, 100, buf[2], 1 },    /* at the end: 0              */
		{ fd, 50000, 10, buf[3], 1 },     /* past the end: 0            */
		{ fd, 5000, 0, buf[4], 1 },       /* length 0: 0                */
		{ empty, 0, 4096, buf[5], 1 },    /* an empty file: 0           */
		{ fd, 9999, 4096, buf[6], 1 },    /* the last byte              */
		{ fd, 4096, 4096, buf[7], 1 },
	};
	struct ubatch b;
	int ret;

	init_or_fail(&b, 8);
	watch.limit = 1000;
	watch.limit_why = "a read that returns 0 is at end of file, resubmitting it never ends "
			  "(TODO 8); or the same CQEs are handled again and again because the CQ "
			  "head is not advanced (TODO 7)";
	ret = run_read(&b, reqs, 8, 4);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	for (size_t i = 0; i < 8; i++)
		check_req(&reqs[i], i, data, i == 5 ? 0 : size, "end of file");
	check_ring_clean(&b, "after ubatch_read returned");

	/* A batch in which no request needs I/O: lengths 0, negative offsets. */
	{
		struct batch_req none[4] = {
			{ fd, 0, 0, buf[0], 1 },
			{ fd, -8, 100, buf[1], 1 },
			{ empty, 50000, 0, buf[2], 1 },
			{ -1, 4096, 0, NULL, 1 },
		};

		watch.before_wait = no_wait_with_nothing;
		ret = run_read(&b, none, 4, 2);
		watch.before_wait = NULL;
		grade_check(ret == 0, "ubatch_read of 4 requests that need no I/O (lengths 0, a "
			    "negative offset) returned %s, expected 0", grade_errno_str(ret));
		for (size_t i = 0; i < 4; i++)
			check_req(&none[i], i, data, size, "a batch with no I/O at all");
		check_ring_clean(&b, "after a batch with no I/O at all");
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(empty);
	close(fd);
	free(data);
}

URING_TEST(batch, errors_per_request, 2,
	   "ubatch_read: -EBADF, -EISDIR, -EFAULT land in their own request; the others still run",
	   "TODO 8: a CQE with res < 0 is that request's result; the call still returns 0 "
	   "(lesson, section 7; man 2 io_uring_enter, \"CQE ERRORS\")", 8)
{
	const size_t size = 100000;
	unsigned char *data, bufs[8][1000];
	int fd = data_file("f", size, &data);
	int dir = grade_open(grade_tmpdir(), O_RDONLY | O_DIRECTORY);
	/* A number far above the lowest free ones: a module may open a
	 * descriptor of its own during the call (an eventfd, say), and would
	 * get a low number that was closed just before. */
	int opened = grade_open(grade_path("f"), O_RDONLY);
	int closed = fcntl(opened, F_DUPFD_CLOEXEC, 700);
	struct batch_req reqs[8];
	static const char *const why[8] = {
		"", "", "a closed descriptor", "", "a directory", "a NULL buffer",
		"length 0, a closed descriptor, a NULL buffer: 0 without any I/O", "",
	};
	struct ubatch b;
	int ret;

	for (int i = 0; i < 8; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 1000, 1000, bufs[i], 1 };
	reqs[2].fd = closed;
	reqs[4].fd = dir;
	reqs[5].buf = NULL;
	reqs[6].len = 0;
	reqs[6].buf = NULL;
	reqs[6].fd = closed;
	grade_check(closed >= 700, "harness: fcntl(F_DUPFD_CLOEXEC, 700): %s", strerror(errno));
	close(opened);
	init_or_fail(&b, 8);
	close(closed);  /* after the ring took its descriptor: no one has this number now */
	ret = run_read(&b, reqs, 8, 3);
	grade_check(ret == 0, "ubatch_read of 8 requests, 3 of them bad, returned %s; expected 0: "
		    "a failed read is that request's result, not the batch's", grade_errno_str(ret));
	for (int i = 0; i < 8; i++) {
		ssize_t want = i == 2 ? -EBADF : i == 4 ? -EISDIR : i == 5 ? -EFAULT : i == 6 ? 0 : 1000;

		grade_check(reqs[i].res == want, "request %d%s%s%s: res is %s, expected %s", i,
			    why[i][0] ? " (" : "", why[i], why[i][0] ? ")" : "",
			    grade_errno_str(reqs[i].res), grade_errno_str(want));
		if (want > 0)
			check_req(&reqs[i], (size_t)i, data, size, "errors in the middle of a batch");
	}
	check_ring_clean(&b, "after a batch with errors");
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(dir);
	close(fd);
	free(data);
}

URING_TEST(batch, negative_offset, 1,
	   "ubatch_read: a negative offset is -EINVAL for that request (length 0, fd -1 or a NULL "
	   "buffer too), and the file position stays",
	   "TODO 4: offset < 0 gets res = -EINVAL without any I/O, checked before length 0 and "
	   "before anything else of the request (its fd, its buffer): for "
	   "io_uring, offset -1 means \"read at the file position and move it\" (ubatch.h; "
	   "lesson, section 6)", 8)
{
	const size_t size = 20000;
	unsigned char *data, bufs[8][1000], extra[100];
	int fd = data_file("f", size, &data);
	/* "a negative offset is checked first": before length 0, and every
	 * negative offset, not only -1 (the one io_uring reads as "the file
	 * position"). The last three have a second fault (fd -1, a NULL
	 * buffer): the offset is checked first, so -EINVAL wins (ubatch.h). */
	struct batch_req reqs[11] = {
		{ fd, 0, 1000, bufs[0], 1 },
		{ fd, -1, 1000, bufs[1], 1 },
		{ fd, 3000, 1000, bufs[2], 1 },
		{ fd, -4096, 1000, bufs[3], 1 },
		{ fd, -1, 0, bufs[4], 1 },
		{ fd, -4096, 0, bufs[5], 1 },
		{ fd, LLONG_MIN, 0, bufs[6], 1 },
		{ fd, -2, 0, bufs[7], 1 },
		{ -1, -8, 100, extra, 1 },
		{ fd, -1, 100, NULL, 1 },
		{ -1, -1, 100, NULL, 1 },
	};
	struct ubatch b;
	int ret;

	grade_check(lseek(fd, 500, SEEK_SET) == 500, "harness: lseek: %s", strerror(errno));
	init_or_fail(&b, 8);
	ret = run_read(&b, reqs, 11, 4);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	for (size_t i = 0; i < 11; i++)
		check_req(&reqs[i], i, data, size, i >= 8 ?
			  "a negative offset with a second fault (fd -1, a NULL buffer): the offset "
			  "is checked first, whatever fd and buf are, so res is -EINVAL (not -EBADF "
			  "or -EFAULT)" : reqs[i].offset < 0 && reqs[i].offset != -1 ?
			  "negative offsets: every offset < 0 is -EINVAL, not only -1, also with "
			  "length 0" : "negative offsets");
	grade_check(lseek(fd, 0, SEEK_CUR) == 500, "the file position moved from 500 to %lld",
		    (long long)lseek(fd, 0, SEEK_CUR));
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(fd);
	free(data);
}

URING_TEST(batch, shared_shape, 1,
	   "ubatch_batch_read: qd 0 (n 0 too) and a NULL array are -EINVAL; rings refused with -ENOMEM: "
	   "a smaller ring or the error, no ring or memory left, and the next call's ring sized "
	   "min(qd, n) again; no descriptor free: -EMFILE",
	   "TODO 9: the arguments first; a set-up that fails returns its error "
	   "as it came (on -ENOMEM a smaller ring may serve; any other error, such as -EMFILE "
	   "when no descriptor is free for the ring, is not -ENOMEM), and a ring set up is torn down, "
	   "and memory allocated is freed, on every path, a failed set-up too (ubatch.h, "
	   "ubatch_batch_read; lesson, section 8). Its batches are "
	   "graded by 06.36-06.41", 32)
{
	size_t size = 100000 + grade_rand_below(100000);
	unsigned char *data;
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct batch_req one = { fd, 0, 10, NULL, 7 };
	struct seam_heap heap;

	ret = SEAM_CALL(ubatch_batch_read(&one, 1, 0));
	grade_check(ret == -EINVAL, "ubatch_batch_read with qd 0 returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ubatch_batch_read(NULL, 1, 4));
	grade_check(ret == -EINVAL, "ubatch_batch_read(NULL, 1, 4) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ubatch_batch_read(NULL, 2, 4));
	grade_check(ret == -EINVAL, "ubatch_batch_read(NULL, 2, 4) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	/* ubatch.h: "Same results and return values as ubatch_read()", which
	 * refuses qd 0 whatever n is: the check comes before the n == 0
	 * shortcut (reqs == NULL alone is tied to n > 0). */
	watch_reset_counts();
	ret = SEAM_CALL(ubatch_batch_read(&one, 0, 0));
	grade_check(ret == -EINVAL && one.res == 7 && watch.inits == 0, "ubatch_batch_read(reqs, "
		    "0, 0) returned %s (res %zd, %ld ring set-up(s)); expected -EINVAL, nothing "
		    "touched, no ring: ubatch_batch_read has ubatch_read's return values (ubatch.h), "
		    "and ubatch_read refuses qd 0 whatever n is. Check qd before the n == 0 shortcut "
		    "(TODO 9)", grade_errno_str(ret), one.res, watch.inits);
	ret = SEAM_CALL(ubatch_batch_read(NULL, 0, 0));
	grade_check(ret == -EINVAL, "ubatch_batch_read(NULL, 0, 0) returned %s; expected -EINVAL: "
		    "qd 0 is refused whatever n is, before the n == 0 shortcut (TODO 9, ubatch.h)",
		    grade_errno_str(ret));
	/* Ring set-up refused with -ENOMEM (RLIMIT_MEMLOCK too small): above 8
	 * entries, a smaller ring may serve; at every size, the error comes back. */
	for (int k = 0; k < 2; k++) {
		size_t n = 50;
		struct batch_req *reqs = random_reqs(fd, n, size, 20000);

		watch_reset_counts();
		watch.init_enomem = true;
		watch.init_enomem_above = k == 0 ? 8 : 0;
		/* After a first batch: a module may keep one cache for good. */
		seam_heap_usage(&heap);
		ret = SEAM_CALL(ubatch_batch_read(reqs, n, 64));
		watch.init_enomem = false;
		if (k == 0) {
			grade_check(ret == 0 || ret == -ENOMEM, "ubatch_batch_read at qd 64 where "
				    "rings above 8 entries are refused with -ENOMEM returned %s; "
				    "expected 0 (a smaller ring) or -ENOMEM", grade_errno_str(ret));
			for (size_t i = 0; ret == 0 && i < n; i++)
				check_req(&reqs[i], i, data, size, "ubatch_batch_read on a smaller ring");
		} else {
			grade_check(ret == -ENOMEM, "ubatch_batch_read where every ring is refused "
				    "with -ENOMEM (%ld attempt(s)) returned %s; expected -ENOMEM, the "
				    "error of ubatch_init, as it came", watch.inits, grade_errno_str(ret));
		}
		grade_check(watch.exits == watch.init_ok && fault_count_fds() == before,
			    "ubatch_batch_read with rings refused by -ENOMEM: set up %ld ring(s), "
			    "tore down %ld, %d descriptor(s) left open", watch.init_ok, watch.exits,
			    fault_count_fds() - before);
		if (k == 1)
			grade_check_heap(&heap, "ubatch_batch_read that could not set up any ring "
					 "(-ENOMEM; what you allocate before ubatch_init is freed on "
					 "that path too, TODO 9)");
		free_reqs(reqs, n);
	}
	/* RLIMIT_MEMLOCK has room again (rings closed a moment ago stop being
	 * charged): the next call sets up the ring it is sized for, min(qd, n),
	 * and has its whole window of 50 reads in flight. A size that failed
	 * before is not remembered (ubatch.h: no state in statics). */
	{
		const size_t n = 50, bs = 1000;
		unsigned char *bufs = grade_xmalloc(n * bs);
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);

		watch_reset_counts();
		ret = SEAM_CALL(ubatch_batch_read(reqs, n, 64));
		grade_check(ret == 0, "ubatch_batch_read of 50 reads at qd 64, no ring refused any "
			    "more, returned %s, expected 0", grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "ubatch_batch_read after refused rings");
		grade_check(watch.max_inflight == n, "ubatch_batch_read of 50 reads at qd 64, after "
			    "calls whose rings were refused with -ENOMEM but with none refused now, had "
			    "at most %u read(s) in flight (largest ring asked for: %u entries); expected "
			    "the whole window, min(qd, n) = 50: each call sizes its ring for min(qd, n) "
			    "afresh. Do not keep the size that fitted last time (in a static or "
			    "anywhere): RLIMIT_MEMLOCK's room comes back as rings are closed (TODO 9; "
			    "ubatch.h, ubatch_batch_read and \"never in a static\")", watch.max_inflight,
			    watch.most_entries);
		free(reqs);
		free(bufs);
	}
	/* No descriptor free (RLIMIT_NOFILE at the lowest free number): the
	 * ring's fd cannot be made and io_uring_setup says -EMFILE. */
	{
		unsigned char buf[100];
		struct batch_req req = { fd, 0, sizeof(buf), buf, 1 };
		struct rlimit old, lim;
		int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);

		grade_check(lowest >= 0, "harness: open /dev/null: %s", strerror(errno));
		close(lowest);
		grade_check(getrlimit(RLIMIT_NOFILE, &old) == 0, "harness: getrlimit: %s",
			    strerror(errno));
		lim = old;
		lim.rlim_cur = (rlim_t)lowest; /* every lower number is in use */
		grade_check(setrlimit(RLIMIT_NOFILE, &lim) == 0, "harness: setrlimit: %s",
			    strerror(errno));
		watch_reset_counts();
		seam_heap_usage(&heap);
		ret = SEAM_CALL(ubatch_batch_read(&req, 1, 4));
		setrlimit(RLIMIT_NOFILE, &old);
		grade_check(ret == -EMFILE, "ubatch_batch_read with no file descriptor free for the "
			    "ring (RLIMIT_NOFILE reached; %ld set-up(s) tried) returned %s; expected "
			    "-EMFILE, the error of ubatch_init as it came: only -ENOMEM is about the "
			    "ring's size", watch.inits, grade_errno_str(ret));
		grade_check_heap(&heap, "ubatch_batch_read that could not set up its ring (-EMFILE; "
				 "what you allocate before ubatch_init is freed on that path too, "
				 "TODO 9)");
	}
	grade_check(fault_count_fds() == before, "%d descriptor(s) left open",
		    fault_count_fds() - before);
	close(fd);
	free(data);
}

/* ----------------------------------------------------------------- faults */

#include "ring_byreq.h"

/* Reads of 0 bytes handed to the kernel (06.09): a request that has its len
 * bytes is done, and one of length 0 is done without I/O (ubatch.h). */
static unsigned zero_len_reads;

static void count_zero_len_reads(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	(void)pos;
	(void)queued;
	if (!watch_is_read(sqe))
		return;
	if (sqe->opcode == IORING_OP_READV) {
		const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;
		size_t total = 0;

		for (unsigned k = 0; iov && k < sqe->len; k++)
			total += iov[k].iov_len;
		zero_len_reads += total == 0;
	} else {
		zero_len_reads += sqe->len == 0;
	}
}

URING_TEST(faults, short_reads_continued, 3,
	   "ubatch_read: reads cut short in the middle of a file are continued at the right place",
	   "TODO 8 and 5: 0 < res < what you asked, before end of file, is a short read: "
	   "the request goes on with the part still missing, where the file and the buffer "
	   "have both moved on; only res == 0 ends a request early (lesson, section 6)", 16)
{
	const size_t size = 1 << 20, n = 64;
	unsigned char *data;
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	struct ubatch b;
	int ret;

	for (size_t i = 0; i < n; i++) {
		reqs[i].fd = fd;
		reqs[i].offset = (off_t)(i * 16000 + 17 + grade_rand_below(1000));
		reqs[i].len = 2000 + grade_rand_below(10000);
		reqs[i].buf = grade_xmalloc(reqs[i].len);
		reqs[i].res = 0x5a5a;
	}
	reqs[n - 1].offset = (off_t)size - 3000;  /* short at end of file, after a cut */
	reqs[n - 1].len = 8000;
	init_or_fail(&b, 16);
	byreq_start(reqs, n, true, false, false);
	watch.edit_sqe = byreq_edit;
	zero_len_reads = 0;
	watch.on_sqe = count_zero_len_reads;
	ret = run_read(&b, reqs, n, 8);
	watch.on_sqe = NULL;
	watch.edit_sqe = NULL;
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(zero_len_reads == 0, "%u read(s) of 0 bytes were submitted: a request "
		    "whose reads add up to len is done. Continue a short read while done + res "
		    "< len, the bytes of every earlier part counted, not while this CQE alone "
		    "is short of len (TODO 8; lesson, section 6)", zero_len_reads);
	grade_check(byreq.cut >= n / 2, "the test could cut only %u of %zu reads short: it "
		    "cuts IORING_OP_READ/READV SQEs still queued when you call io_uring_submit* "
		    "or io_uring_wait_cqe*, the first read of each request (into the start of its "
		    "buffer); prepare them with io_uring_prep_read (TODO 5)", byreq.cut, n);
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "every read cut to half its length once");
	check_ring_clean(&b, "after the short reads");
	SEAM_CALL_VOID(ubatch_exit(&b));
	free_reqs(reqs, n);
	close(fd);
	free(data);
}

URING_TEST(faults, pipe_in_pieces, 2,
	   "ubatch_read: a pipe fed 100 bytes at a time in the middle of a batch is read in full",
	   "TODO 8: a read from a pipe returns what is there (a short read, not end of file): "
	   "the request goes on until len bytes or res == 0, never overwriting what it has "
	   "(lesson, section 6)", 8)
{
	const size_t size = 65536, piece_len = 1000;
	unsigned char *data, *piece = grade_random_bytes(piece_len), bufs[5][4096];
	int fd = data_file("f", size, &data);
	int p[2];
	struct batch_req reqs[5];
	struct fault *f;
	struct fault_report r;
	struct ubatch b;
	int ret;

	fault_pipe(p, 0);
	for (int i = 0; i < 5; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 8192, 4096, bufs[i], 1 };
	reqs[2] = (struct batch_req){ p[0], 0, piece_len, bufs[2], 1 };
	init_or_fail(&b, 8);
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WRITE_PIECES, .fd = p[1], .data = piece, .len = piece_len, .piece = 100 },
		{ .op = FAULT_CLOSE, .fd = p[1] },
		{ .op = FAULT_END } });
	ret = run_read(&b, reqs, 5, 5);
	r = fault_join(f);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[2].res == (ssize_t)piece_len, "request 2, a pipe that delivered %zu bytes "
		    "100 at a time: res is %s, expected %zu", piece_len, grade_errno_str(reqs[2].res),
		    piece_len);
	grade_check(grade_first_diff(bufs[2], piece, piece_len) < 0, "request 2 (the pipe): the "
		    "bytes are not the ones written, in order: continue into buf + done");
	for (size_t i = 0; i < 5; i++)
		if (i != 2)
			check_req(&reqs[i], i, data, size, "beside the pipe");
	check_ring_clean(&b, "after the pipe");
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(p[0]);
	free(r.sink);
	free(piece);
	close(fd);
	free(data);
}

URING_TEST(faults, out_of_order, 3,
	   "ubatch_read: request 0 (a pipe) completes after requests 1-8; results go by user_data",
	   "TODO 5 and 8: the k-th CQE is not request k; put the request's index in user_data "
	   "(io_uring_sqe_set_data64) and read it back from the CQE (lesson, section 2)", 16)
{
	const size_t size = 65536;
	unsigned char *data, bufs[9][4096];
	int fd = data_file("f", size, &data);
	int p[2];
	struct batch_req reqs[9];
	struct fault *f;
	struct fault_report r;
	struct ubatch b;
	int ret;

	fault_pipe(p, 0);
	reqs[0] = (struct batch_req){ p[0], 0, 8, bufs[0], 1 };
	for (int i = 1; i < 9; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 4096 + 7, 4096, bufs[i], 1 };
	init_or_fail(&b, 16);
	/* The pipe gets its 8 bytes only once the call sleeps in io_uring_enter,
	 * i.e. after the file reads have completed: its CQE is the last one. */
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_WRITE, .fd = p[1], .data = "PIPEDATA", .len = 8 },
		{ .op = FAULT_CLOSE, .fd = p[1] },
		{ .op = FAULT_END } });
	ret = run_read(&b, reqs, 9, 9);
	r = fault_join(f);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(reqs[0].res == 8 && memcmp(bufs[0], "PIPEDATA", 8) == 0, "request 0 (a pipe "
		    "that got 8 bytes after the other reads had completed): res is %s, expected 8 "
		    "with the pipe's bytes: results matched by order, not by user_data?",
		    grade_errno_str(reqs[0].res));
	for (size_t i = 1; i < 9; i++)
		check_req(&reqs[i], i, data, size, "completions out of order");
	check_ring_clean(&b, "after completions out of order");
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(p[0]);
	free(r.sink);
	close(fd);
	free(data);
}

URING_TEST(faults, signal_during_wait, 2,
	   "ubatch_read: SIGUSR1 (no SA_RESTART) interrupts its wait twice; the batch still completes",
	   "TODO 6: io_uring_submit_and_wait returns -EINTR when a signal ends the wait: call "
	   "it again; never hand -EINTR to the caller (lesson, section 1, \"Submit and wait\")", 8)
{
	const size_t size = 65536;
	unsigned char *data, *piped = grade_random_bytes(4096), bufs[5][4096];
	int fd = data_file("f", size, &data);
	int p[2];
	struct batch_req reqs[5];
	struct fault *f;
	struct fault_report r;
	struct ubatch b;
	int ret;

	fault_pipe(p, 0);
	for (int i = 0; i < 5; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, bufs[i], 1 };
	reqs[1] = (struct batch_req){ p[0], 0, 4096, bufs[1], 1 };
	init_or_fail(&b, 8);
	/* Two signals: at least one lands in a wait with nothing submitted and
	 * no CQE ready, which the kernel reports as -EINTR. */
	f = fault_start((struct fault_step[]){
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
		{ .op = FAULT_SIGNAL },
		{ .op = FAULT_WRITE, .fd = p[1], .data = piped, .len = 4096 },
		{ .op = FAULT_CLOSE, .fd = p[1] },
		{ .op = FAULT_END } });
	ret = run_read(&b, reqs, 5, 8);
	r = fault_join(f);
	grade_check(ret == 0, "ubatch_read returned %s after %d signal(s) interrupted its wait in "
		    "io_uring_enter; expected 0: wait again after -EINTR", grade_errno_str(ret),
		    r.signals);
	grade_check(r.signals == 2, "ubatch_read was seen waiting in io_uring_enter %d time(s), "
		    "2 expected (a read from an empty pipe was in flight): does it wait for "
		    "completions with io_uring_submit_and_wait / io_uring_wait_cqe?",
		    r.blocked_seen);
	grade_check(reqs[1].res == 4096 && grade_first_diff(bufs[1], piped, 4096) < 0,
		    "request 1 (the pipe): res is %s, expected 4096 with the pipe's bytes",
		    grade_errno_str(reqs[1].res));
	for (size_t i = 0; i < 5; i++)
		if (i != 1)
			check_req(&reqs[i], i, data, size, "with signals");
	check_ring_clean(&b, "after the signals");
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(p[0]);
	free(r.sink);
	free(piped);
	close(fd);
	free(data);
}

URING_TEST(faults, eintr_eagain_ebusy, 2,
	   "ubatch_read: -EINTR (once, and 20 times in a row), -EAGAIN and -EBUSY from a liburing call are retried, not returned",
	   "TODO 6: -EINTR: call again, however many times it comes (it is not a round without "
	   "progress); -EAGAIN / -EBUSY: reap what is there (or wait for a "
	   "read the kernel has), then submit again; give up only after several rounds without "
	   "progress (lesson, section 7; man 2 io_uring_enter, ERRORS)", 16)
{
	/* The last one: -EINTR from 20 calls in a row (signals at a high rate,
	 * a profiler's timer): however many come, -EINTR is never the batch's
	 * result (ubatch.h), and no progress count gives up on it. */
	static const struct { int err; long at, times; } faults[] = {
		{ -EINTR, 1, 1 }, { -EAGAIN, 2, 1 }, { -EBUSY, 3, 1 }, { -EINTR, 4, 1 },
		{ -EINTR, 1, 20 },
	};
	const size_t size = 64 * 4096, n = 64;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ubatch b;

	init_or_fail(&b, 16);
	for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		int ret;

		reqs = block_reqs(fd, n, 4096, bufs);
		watch_reset_counts();
		watch.inject_at = faults[k].at;
		watch.inject_err = faults[k].err;
		watch.inject_calls = faults[k].times;
		ret = run_read(&b, reqs, n, 8);
		watch.inject_calls = 0;
		grade_check(watch.injected, "harness: ubatch_read made %ld liburing call(s), the "
			    "fault was planned for call %ld", watch.calls, faults[k].at);
		if (faults[k].times > 1)
			grade_check(ret == 0, "liburing calls number %ld to %ld, %ld in a row, returned "
				    "%s (injected, nothing submitted: a signal at each wait); "
				    "ubatch_read then returned %s, expected 0: -EINTR never ends the "
				    "batch, however many times it comes, and it is not a round without "
				    "progress to count towards giving up (ubatch.h: \"-EINTR never "
				    "comes out of this function\")", faults[k].at,
				    faults[k].at + faults[k].times - 1, faults[k].times,
				    grade_errno_str(faults[k].err), grade_errno_str(ret));
		grade_check(ret == 0, "liburing call number %ld returned %s (injected, nothing "
			    "submitted); ubatch_read then returned %s, expected 0", faults[k].at,
			    grade_errno_str(faults[k].err), grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "after an injected error");
		check_ring_clean(&b, "after an injected error");
		free(reqs);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

/* -------------------------------------------------------------- mechanism */

URING_TEST(mechanism, submit_budget, 3,
	   "ubatch_read: 256 cached reads at qd 1/4/16/32/64 enter the kernel at most 2*ceil(n/qd)+2 times",
	   "TODO 6: one system call per trip: prepare SQEs for the whole window first, submit "
	   "and wait in the same call, and handle every ready CQE before the next one. The "
	   "budget counts io_uring_submit*, "
	   "io_uring_wait_cqe* (when it must wait), io_uring_get_events, io_uring_enter: "
	   "2 * ceil(n / qd) + 2, e.g. 18 for n 256 at qd 32 (lesson, \"Hints\")", 64)
{
	static const unsigned qds[] = { 1, 4, 16, 32, 64 };
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct ubatch b;

	init_or_fail(&b, 64);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		long budget = 2 * (long)((n + qds[k] - 1) / qds[k]) + 2, fewest = LONG_MAX;

		/* The fewest calls of up to three runs: cached reads mostly
		 * complete inside the submit, but reads the module hands to
		 * io-wq (IOSQE_ASYNC), or a loaded machine, can make completions
		 * come late now and then, and a module that then waits for one
		 * at a time pays a call more. Submitting or reaping one at a
		 * time costs n calls in every run. */
		for (int run = 0; run < 3 && fewest > budget; run++) {
			struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
			int ret;

			watch_reset_counts();
			ret = run_read(&b, reqs, n, qds[k]);
			grade_check(ret == 0, "ubatch_read of %zu reads at qd %u returned %s", n,
				    qds[k], grade_errno_str(ret));
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, data, size, "budget");
			if (watch.calls < fewest)
				fewest = watch.calls;
			free(reqs);
		}
		grade_check(fewest <= budget, "a batch of %zu cached reads at qd %u made %ld "
			    "liburing calls that may enter the kernel (the fewest of three runs); "
			    "the budget is 2 * ceil(%zu / %u) + 2 = %ld. Submitting after every SQE "
			    "(or reaping one CQE per call) costs n calls: queue the window, then "
			    "submit once", n, qds[k], fewest, n, qds[k], budget);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

URING_TEST(mechanism, window_is_qd, 2,
	   "ubatch_read: exactly qd reads in flight at most (qd 1, 3, 8), the window kept full",
	   "TODO 3 and 4: the window is the smaller of qd and the CQ size; a request is in "
	   "flight from its first SQE until its final CQE is reaped; refill the window as "
	   "requests complete (lesson, section 5)", 16)
{
	static const unsigned qds[] = { 1, 3, 8 };
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct ubatch b;

	init_or_fail(&b, 16);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int ret;

		watch_reset_counts();
		ret = run_read(&b, reqs, n, qds[k]);
		grade_check(ret == 0, "ubatch_read at qd %u returned %s", qds[k], grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "window");
		grade_check(watch.max_inflight <= qds[k], "at qd %u, %u reads were in flight at "
			    "once (counted from io_uring_get_sqe to the CQ advance past their CQE): "
			    "the window must not exceed qd", qds[k], watch.max_inflight);
		grade_check(watch.max_inflight == qds[k], "at qd %u with %zu reads to do, at most "
			    "%u were ever in flight: fill the window up to qd before you submit",
			    qds[k], n, watch.max_inflight);
		free(reqs);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

URING_TEST(mechanism, sq_full_and_cq_bound, 2,
	   "ubatch_read on a ring of 4 (CQ 8) at qd 64 and 5: SQ full handled, CQ never overflows",
	   "TODO 4: with qd above the SQ size, io_uring_get_sqe returns NULL when the SQ is "
	   "full: the queued SQEs must reach the kernel before there is room, and a NULL SQE is "
	   "never used (man 3 io_uring_get_sqe, RETURN VALUE); TODO 3: the window never exceeds "
	   "the CQ size, so the CQ cannot overflow (lesson, sections 3 and 4)", 4)
{
	static const unsigned qds[] = { 64, 5 };
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct ubatch b;

	init_or_fail(&b, 4);
	grade_check(b.cq_entries == 8, "ubatch_init(&b, 4) recorded cq_entries %u, the kernel "
		    "gives 8", b.cq_entries);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int ret;

		watch_reset_counts();
		ret = run_read(&b, reqs, n, qds[k]);
		grade_check(ret == 0, "ubatch_read of %zu reads at qd %u on a ring of 4 SQ entries "
			    "returned %s, expected 0", n, qds[k], grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "SQ full");
		grade_check(!watch.overflow, "the CQ overflowed (IORING_SQ_CQ_OVERFLOW) at qd %u: "
			    "more reads in flight than its 8 slots", qds[k]);
		grade_check(watch.max_inflight <= b.cq_entries, "at qd %u, %u reads were in flight "
			    "on a ring whose CQ has %u slots: the window is min(qd, cq_entries)",
			    qds[k], watch.max_inflight, b.cq_entries);
		check_ring_clean(&b, "after a batch larger than the SQ");
		free(reqs);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

URING_TEST(mechanism, one_ring_reused, 2,
	   "ubatch_read: 3 batches through one ring, none set up or torn down, the CQ left empty",
	   "TODO 3: ubatch_read uses b->ring as it is (it sets no ring up and tears none down) "
	   "and returns with every CQE it handled marked as consumed, none left over "
	   "(TODO 7, man 3 io_uring_cq_advance; lesson, sections 2 and 8)", 8)
{
	const size_t n = 40, bs = 4096, size = 3 * n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct ubatch b;

	init_or_fail(&b, 8);
	for (size_t k = 0; k < 3; k++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int ret;

		for (size_t i = 0; i < n; i++)
			reqs[i].offset += (off_t)(k * n * bs);
		watch_reset_counts();
		ret = run_read(&b, reqs, n, 8);
		grade_check(ret == 0, "call %zu of ubatch_read on the same ring returned %s",
			    k + 1, grade_errno_str(ret));
		grade_check(watch.inits == 0 && watch.exits == 0, "call %zu of ubatch_read set up "
			    "%ld and tore down %ld ring(s): reuse b->ring", k + 1, watch.inits,
			    watch.exits);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "reused ring");
		check_ring_clean(&b, "after ubatch_read returned");
		free(reqs);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

/* -------------------------------------------------------------------- copy */

/* The copy program, graded from outside by the battery chapter 07's linked
 * copy shares (harness/lib/copy_battery.h). */
#define COPY_NAME "copy"
#define COPY_TODO_ARGS "main, before TODO 10"
#define COPY_TODO_OPEN "TODO 10"
#define COPY_TODO_BLOCKS "TODOs 12-15"
#define COPY_TODO_OFFSET "TODO 13"
#define COPY_TODO_SHORT_WRITE "TODO 14"
#define COPY_TODO_ERRORS "TODOs 10 and 15"
#define COPY_HINT_BATCH                                                              \
	"several requests per system call: every slot's next step is queued before the " \
	"one call that submits them and waits (lesson, try it 5)"
#define COPY_MEMLOCK_ROOM RING_ROOM
#include "copy_battery.h"

/* ------------------------------------------ more module tests (06.27 on) */

/* The error-after-progress test: the rest of every third request fails. */
static bool poison_every_third(size_t i)
{
	return i % 3 == 1;
}

URING_TEST(batch, error_after_progress, 2,
	   "ubatch_read: a read that fails after a short first part gets -errno, not the bytes so far",
	   "TODO 8: a request's result is bytes (short only at end of file) or -errno: when the "
	   "rest of a short read fails, store the CQE's -errno, not what the first part read "
	   "(ubatch.h; lesson, section 7)", 16)
{
	const size_t size = 1 << 20, n = 24, stride = 8192;
	unsigned char *data, *poison_bufs;
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ubatch b;
	int ret;

	poison_bufs = grade_xmalloc(n * stride);
	reqs = block_reqs(fd, n, stride, poison_bufs);
	for (size_t i = 0; i < n; i++) {
		reqs[i].offset = (off_t)(i * 40000 + grade_rand_below(1000));
		reqs[i].len = 3000 + grade_rand_below(5000);
	}
	init_or_fail(&b, 16);
	/* Every request's first read is cut to half its length; the read of the
	 * rest of every third request fails with -EBADF (the test gives it fd -1). */
	byreq_start(reqs, n, true, false, false);
	byreq.poison_rest = poison_every_third;
	watch.edit_sqe = byreq_edit;
	ret = run_read(&b, reqs, n, 6);
	watch.edit_sqe = NULL;
	grade_check(ret == 0, "ubatch_read returned %s, expected 0: a failed read is its "
		    "request's result", grade_errno_str(ret));
	grade_check(byreq.poisoned > 0, "the test cuts reads short and makes the rest of some of "
		    "them fail, but it saw no rest queued (%u reads cut): is a short read continued "
		    "(TODO 8)?", byreq.cut);
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 1) {
			grade_check(reqs[i].res == -EBADF, "request %zu: its first read came back "
				    "short, the read of the rest failed with -EBADF; res is %s, "
				    "expected -EBADF (not the bytes of the first part)", i,
				    grade_errno_str(reqs[i].res));
			continue;
		}
		check_req(&reqs[i], i, data, size, "beside reads that failed half way");
	}
	check_ring_clean(&b, "after reads that failed half way");
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(reqs);
	free(poison_bufs);
	close(fd);
	free(data);
}

/* The pipe of eintr_in_cqe's last round: its second read (the rest of a
 * short first one) becomes a -EINTR NOP (watch.eintr_reads). */
static int eintr_pipe_fd = -1;
static unsigned eintr_pipe_reads;

static void eintr_pipe_rest(struct io_uring_sqe *sqe)
{
	if (sqe->fd != eintr_pipe_fd || (sqe->flags & IOSQE_FIXED_FILE))
		return;
	if (++eintr_pipe_reads == 2)
		watch.eintr_reads = 1;
}

URING_TEST(faults, eintr_in_cqe, 2,
	   "ubatch_read: a CQE with res -EINTR is read again, also when it ends a short read",
	   "TODO 8: res == -EINTR means the read was interrupted before it moved anything: the "
	   "same read is due again, the progress unchanged; it is not the request's result "
	   "(lesson, section 7, the table)", 16)
{
	const size_t n = 48, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct ubatch b;

	init_or_fail(&b, 16);
	for (unsigned round = 0; round < 2; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int ret;

		memset(bufs, 0, size);
		watch_reset_counts();
		/* Round 1: every request's first read says -EINTR; round 2: every
		 * first read is cut short, then the read of its rest says -EINTR. */
		byreq_start(reqs, n, round == 1, round == 0, round == 1);
		watch.edit_sqe = byreq_edit;
		ret = run_read(&b, reqs, n, 8);
		watch.edit_sqe = NULL;
		grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
		grade_check(byreq.eintrs >= n / 2, "harness: only %u reads could be given -EINTR "
			    "(%u cut short)", byreq.eintrs, byreq.cut);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, round == 0 ?
				  "every read's first CQE said -EINTR" :
				  "every read cut short, then the rest said -EINTR");
		check_ring_clean(&b, "after CQEs with -EINTR");
		free(reqs);
	}

	/* Round 3: a pipe gives 100 of 1000 bytes; the read of the rest says
	 * -EINTR (nothing read); the other 900 bytes come once the call waits.
	 * The 100 bytes already in the buffer are the request's: a pipe cannot
	 * give them twice, so starting the request over loses them. */
	{
		unsigned char *piped = grade_random_bytes(1000), pbuf[1000];
		struct batch_req *reqs = block_reqs(fd, 8, bs, bufs);
		struct fault *f;
		struct fault_report fr;
		int p[2], ret;

		fault_pipe(p, 0);
		grade_check(SEAM_REAL(write)(p[1], piped, 100) == 100, "harness: write to a pipe: %s",
			    strerror(errno));
		reqs[3] = (struct batch_req){ p[0], 0, 1000, pbuf, 1 };
		eintr_pipe_fd = p[0];
		eintr_pipe_reads = 0;
		watch_reset_counts();
		watch.eintr_reads = 0;
		watch.eintrs = 0;
		watch.edit_sqe = eintr_pipe_rest;
		f = fault_start((struct fault_step[]){
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE, .fd = p[1], .data = piped + 100, .len = 900 },
			{ .op = FAULT_CLOSE, .fd = p[1] },
			{ .op = FAULT_END } });
		ret = run_read(&b, reqs, 8, 8);
		fr = fault_join(f);
		watch.edit_sqe = NULL;
		watch.eintr_reads = 0;
		eintr_pipe_fd = -1;
		grade_check(ret == 0, "ubatch_read with a pipe whose second read said -EINTR returned "
			    "%s, expected 0", grade_errno_str(ret));
		grade_check(reqs[3].res == 1000 && grade_first_diff(pbuf, piped, 1000) < 0,
			    "request 3, a pipe that gave 100 bytes, then -EINTR for the read of the "
			    "rest, then the other 900 bytes: res %s (first wrong byte %zd), expected "
			    "1000 with the pipe's bytes in order. -EINTR read nothing: keep the 100 "
			    "bytes already read and read the same rest again (buf + 100); starting "
			    "the request over loses them, a pipe gives its bytes only once",
			    grade_errno_str(reqs[3].res), grade_first_diff(pbuf, piped, 1000));
		for (size_t i = 0; i < 8; i++)
			if (i != 3)
				check_req(&reqs[i], i, data, size, "beside a pipe interrupted half way");
		check_ring_clean(&b, "after a pipe interrupted half way");
		close(p[0]);
		free(fr.sink);
		free(reqs);
		free(piped);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

/* 06.29's reads all start at offset 0 of /dev/zero into one buffer: every
 * read SQE (the rest of a request too) must put its data at buf + done and
 * read at offset + done, so its address minus the buffer is its offset. */
static uintptr_t virt_base;
static int virt_zero_fd = -1;
static unsigned long long virt_bad_off, virt_bad_at;
static bool virt_bad;

static void virt_same_advance(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	unsigned long long at;

	(void)pos;
	(void)queued;
	if (sqe->fd != virt_zero_fd || (sqe->flags & IOSQE_FIXED_FILE) || !watch_is_read(sqe) ||
	    virt_bad)
		return;
	at = (unsigned long long)(watch_sqe_data(sqe) - virt_base);
	if (at != (unsigned long long)sqe->off) {
		virt_bad = true;
		virt_bad_off = (unsigned long long)sqe->off;
		virt_bad_at = at;
	}
}

URING_TEST(batch, lengths_beyond_2gib, 1,
	   "ubatch_read: single reads of 2, 4 and 5 GiB (virtual), totals beyond an int",
	   "TODO 5: lengths are 64-bit (size_t, ssize_t): never through an int or an unsigned; "
	   "an SQE's len is 32 bits and the kernel moves at most 0x7ffff000 bytes per read, so "
	   "ask for a chunk at a time and continue (lesson, section 6). Offsets beyond 4 GiB: "
	   "06.40", 8)
{
	int zero = grade_open("/dev/zero", O_RDONLY);
	/* The last one exactly 4 GiB: its length cut to 32 bits is 0, which
	 * must not pass for a read of length 0. */
	size_t vlen[4] = { ((size_t)2 << 30) + 4096, ((size_t)4 << 30) + 4096,
			   ((size_t)5 << 30) + 123, (size_t)4 << 30 };
	size_t span = ((size_t)6 << 30);
	void *far = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct batch_req reqs[4];
	struct ubatch b;
	int ret;

	/* Virtual reads (the watch turns them into NOPs and reports every byte
	 * read): the buffer is address space only, never touched. */
	for (int i = 0; i < 4; i++)
		reqs[i] = (struct batch_req){ zero, 0, vlen[i],
					      far == MAP_FAILED ? (void *)(uintptr_t)0x10000 : far, 1 };
	init_or_fail(&b, 8);
	watch.virt_fd = zero;
	virt_zero_fd = zero;
	virt_base = (uintptr_t)reqs[0].buf;
	virt_bad = false;
	watch.on_sqe = virt_same_advance;
	ret = run_read(&b, reqs, 4, 4);
	watch.on_sqe = NULL;
	watch.virt_fd = -1;
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check(watch.virt_sqes > 0, "harness: no read of the virtual file was seen");
	for (int i = 0; i < 4; i++)
		grade_check(reqs[i].res == (ssize_t)vlen[i], "request %d: a read of %zu bytes "
			    "(%.2f GiB) from a file that always has data: res %s, expected %zu. "
			    "Lengths and totals are size_t/ssize_t, also where you test for length 0 "
			    "(4 GiB in 32 bits is 0); an SQE takes at most 32 bits and "
			    "the kernel moves at most 0x7ffff000 bytes per read: continue", i,
			    vlen[i], vlen[i] / (double)(1 << 30), grade_errno_str(reqs[i].res),
			    vlen[i]);
	grade_check(!virt_bad, "a read of these requests (each from offset 0 into the start of its "
		    "buffer) was prepared at file offset %llu (%.2f GiB) into buf + %llu (%.2f GiB): "
		    "the rest of a request goes at offset + done into buf + done, the same 64-bit "
		    "count for both; past 4 GiB, a count through 32 bits puts the data over the "
		    "first bytes of the buffer", virt_bad_off, virt_bad_off / (double)(1 << 30),
		    virt_bad_at, virt_bad_at / (double)(1 << 30));
	check_ring_clean(&b, "after reads of 2 GiB and more");
	SEAM_CALL_VOID(ubatch_exit(&b));
	if (far != MAP_FAILED)
		munmap(far, span);
	close(zero);
}

URING_TEST(batch, argument_edges, 1,
	   "ubatch_read and ubatch_batch_read: n 0 with NULL; ubatch_read at qd 1<<20 and UINT_MAX on a ring of 8; n not a multiple of qd; ubatch_batch_read at qd 65536, 1<<20 and UINT_MAX",
	   "TODO 3: n == 0 returns 0 at once, whatever reqs is; qd may be far larger than the "
	   "ring or n, and the window never exceeds the CQ (ubatch.h). The ring "
	   "ubatch_batch_read sizes from qd and n: 06.36-06.41", 8)
{
	static const unsigned qds[] = { 1u << 20, UINT_MAX, 7 };
	const size_t size = 300 * 512;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct batch_req *reqs;
	struct ubatch b;

	init_or_fail(&b, 8);
	watch_reset_counts();
	ret = run_read(&b, NULL, 0, 4);
	grade_check(ret == 0 && watch.calls == 0, "ubatch_read(&b, NULL, 0, 4) returned %s after "
		    "%ld liburing call(s); n 0 returns 0 at once, reqs is not looked at",
		    grade_errno_str(ret), watch.calls);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		size_t n = k == 2 ? 300 : 10;

		reqs = block_reqs(fd, n, 512, bufs);
		ret = run_read(&b, reqs, n, qds[k]);
		grade_check(ret == 0, "ubatch_read of %zu reads at qd %u on a ring of %u: returned "
			    "%s, expected 0", n, qds[k], b.sq_entries, grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "qd far above n or not dividing it");
		check_ring_clean(&b, "after a qd far above the ring");
		free(reqs);
	}
	SEAM_CALL_VOID(ubatch_exit(&b));

	watch_reset_counts();
	ret = SEAM_CALL(ubatch_batch_read(NULL, 0, 4));
	grade_check(ret == 0 && watch.inits == 0, "ubatch_batch_read(NULL, 0, 4) returned %s after "
		    "%ld ring set-up(s); expected 0 and no ring", grade_errno_str(ret), watch.inits);

	/* ubatch_batch_read at a qd beyond 16 bits: its ring is sized
	 * min(qd, n) = 10, whatever qd's high bits are (65536 in 16 bits is 0,
	 * and a ring of 0 entries cannot be set up). */
	for (size_t k = 0; k < 3; k++) {
		static const unsigned bqds[] = { 65536, (1u << 20) + 3, UINT_MAX };
		const size_t n = 10;

		reqs = block_reqs(fd, n, 512, bufs);
		memset(bufs, 0, n * 512);
		ret = SEAM_CALL(ubatch_batch_read(reqs, n, bqds[k]));
		grade_check(ret == 0, "ubatch_batch_read of %zu reads at qd %u returned %s, expected 0: "
			    "its ring is sized min(qd, n) = %zu; qd is an unsigned, keep it in one "
			    "(a qd of 65536 in 16 bits is 0: a ring of 0 entries is -EINVAL; TODO 9)",
			    n, bqds[k], grade_errno_str(ret), n);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "ubatch_batch_read at a qd beyond 16 bits");
		free(reqs);
	}
	grade_check(fault_count_fds() == before, "%d descriptor(s) left open",
		    fault_count_fds() - before);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------ the loop's tests shared with 08 */

/*
 * The tests of the loop shared with chapter 08 (harness/lib/ring_loop.h:
 * here 06.31, 06.42, 06.44, 06.50-06.54, 06.56, 06.57; 08.30-08.40 there).
 * Each test's number, points, title and hint stay here; its body is
 * ring_loop.h's.
 */
#define RL_STATE struct ubatch
#define RL_RAW_INIT(b, entries) ubatch_init(b, entries)
#define RL_RAW_TABLES(b, bufs, len, fd) ((void)(b), (void)(bufs), (void)(len), (void)(fd), 0)
#define RL_RAW_READ(b, reqs, n, qd) ubatch_read(b, reqs, n, qd)
#define RL_RAW_EXIT(b) ubatch_exit(b)
#define RL_RAW_BATCH(reqs, n, qd) ubatch_batch_read(reqs, n, qd)
#define RL_INIT(b, entries) init_or_fail(b, entries)
#define RL_TABLES(b, bufs, len, fd) ((void)(b), (void)(bufs), (void)(len), (void)(fd))
#define RL_READ(b, reqs, n, qd) run_read(b, reqs, n, qd)
#define RL_EXIT(b) SEAM_CALL_VOID(ubatch_exit(b))
#define RL_CLEAN(b, when) check_ring_clean(b, when)
#define RL_ALLOC(len) grade_xmalloc(len)
#define RL_FN "ubatch_read"
#define RL_BATCH_FN "ubatch_batch_read"
#define RL_BATCH_TODO "TODO 9"
#define RL_INIT_FN "ubatch_init"
#define RL_INIT_WHAT "ubatch_init"
#define RL_OTHER_CALLS "ubatch_init, ubatch_read and ubatch_exit"
#define RL_VAR "b"
#define RL_H "ubatch.h"
#define RL_LOOP ""
#define RL_LESSON "lesson"
#define RL_CUT_SQES "IORING_OP_READ/READV SQEs (TODO 5)"
#define RL_CUT_READV
#include "ring_loop.h"

URING_TEST(mechanism, slow_read_no_stall, 2,
	   "ubatch_read: one slow read (a pipe) does not stall the window: the others finish "
	   "meanwhile (n 33-47, qd 4 and 8: every shape of a batch's tail)",
	   "TODOs 4-7: refill the window as soon as reads complete, one slot at a time; do not "
	   "wait for the whole window (or the oldest read) before starting the next ones; if you "
	   "wait for several completions at once, bound the wait in time (lesson, section 5)", 16)
{
	rl_slow_read_no_stall();
}

URING_TEST(resources, heap_rings_fds, 2,
	   "ubatch_read and ubatch_batch_read free their memory and rings on every path: success, "
	   "bad arguments, a ring error (returned as it came), malloc failing",
	   "TODOs 3, 6 and 9: whatever you allocate is freed before returning, errors included; "
	   "a NULL from malloc is -ENOMEM (or do without memory: res can hold the progress); "
	   "ubatch_batch_read calls ubatch_exit on every path, also when ubatch_read fails "
	   "(lesson, section 8; man 3 malloc)", 16)
{
	const size_t n = 40, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct seam_heap heap;
	struct batch_req *reqs;
	struct ubatch b;

	init_or_fail(&b, 16);
	/* A first call: a module may keep one cache for good. */
	reqs = block_reqs(fd, n, bs, bufs);
	ret = run_read(&b, reqs, n, 8);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	seam_heap_usage(&heap);
	ret = run_read(&b, reqs, n, 8);
	grade_check(ret == 0, "ubatch_read returned %s, expected 0", grade_errno_str(ret));
	grade_check_heap(&heap, "ubatch_read of 40 reads");
	ret = run_read(&b, NULL, 3, 8);
	grade_check(ret == -EINVAL, "ubatch_read(&b, NULL, 3, 8) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	grade_check_heap(&heap, "ubatch_read with a NULL array");

	/* The ring fails: every liburing call that may enter the kernel returns
	 * -EBADR (the kernel lost a CQE): the batch cannot finish. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = run_read(&b, reqs, n, 8);
	watch_reset_counts();
	grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EBADR (the ring "
		    "cannot go on); ubatch_read returned %s, expected a negative error (lesson, "
		    "section 7: anything else than -EINTR, -EAGAIN, -EBUSY ends the batch)",
		    grade_errno_str(ret));
	grade_check_heap(&heap, "ubatch_read that failed with -EBADR");
	SEAM_CALL_VOID(ubatch_exit(&b));

	/* ubatch_batch_read: the same error must not leak its ring. */
	watch_reset_counts();
	watch.inject_at = 1;
	watch.inject_err = -EBADR;
	watch.inject_forever = true;
	ret = SEAM_CALL(ubatch_batch_read(reqs, n, 8));
	watch.inject_forever = false;
	grade_check(ret < 0 && ret != -EINTR, "ubatch_batch_read on a ring whose every call "
		    "returned -EBADR returned %s, expected a negative error", grade_errno_str(ret));
	grade_check(ret == -EBADR, "ubatch_batch_read on a ring whose every call returned -EBADR "
		    "returned %s; expected -EBADR, ubatch_read's error as it came: ubatch_batch_read "
		    "has ubatch_read's return values (ubatch.h), so pass its error on, do not turn "
		    "it into another one such as -EIO (TODO 9)", grade_errno_str(ret));
	grade_check(watch.exits == watch.init_ok && fault_count_fds() == before, "ubatch_batch_read "
		    "failed with %s after setting up %ld ring(s), tore down %ld and left %d "
		    "descriptor(s) open: ubatch_exit on the error path too", grade_errno_str(ret),
		    watch.init_ok, watch.exits, fault_count_fds() - before);
	/* ubatch.h: it "sets up a ring ..., runs ubatch_read(), tears the ring
	 * down": one ubatch_read, whose error is the answer. Run again on a new
	 * ring, the batch's reads would be made twice (a pipe's bytes lost), and
	 * an error that is not temporary (-EBADR) comes back all the same. */
	grade_check(watch.init_ok == 1, "ubatch_batch_read, whose ubatch_read failed with -EBADR "
		    "(every liburing call of the ring returned it), set up %ld rings: it ran the "
		    "batch again on a new ring. One ring, one ubatch_read call, and its error is "
		    "returned as it came: running the batch again reads every request twice (a "
		    "pipe's bytes are gone after the first time) and a broken ring fails again "
		    "(TODO 9; ubatch.h)", watch.init_ok);
	grade_check_heap(&heap, "ubatch_batch_read that failed with -EBADR");
	free(reqs);

	/* Every allocation of the module fails. */
	for (int k = 0; k < 2; k++) {
		reqs = block_reqs(fd, n, bs, bufs);
		watch_reset_counts();
		if (k == 0)
			init_or_fail(&b, 16);
		seam_heap_fail(1, -1);
		ret = k == 0 ? run_read(&b, reqs, n, 8) : SEAM_CALL(ubatch_batch_read(reqs, n, 8));
		seam_heap_fail(0, 0);
		grade_check(ret == 0 || ret == -ENOMEM, "%s returned %s while malloc returned NULL; "
			    "expected 0 (no memory needed) or -ENOMEM", k == 0 ? "ubatch_read" :
			    "ubatch_batch_read", grade_errno_str(ret));
		if (ret == 0)
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, data, size, "with malloc failing");
		if (k == 0)
			SEAM_CALL_VOID(ubatch_exit(&b));
		grade_check_heap(&heap, "calls while malloc failed");
		grade_check(fault_count_fds() == before, "%d descriptor(s) left open when malloc "
			    "failed", fault_count_fds() - before);
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}

/* The faults of the loop on the ring, shared with chapter 08 (ring_faults.h):
 * -EAGAIN that must lead to a wait, a fatal error that must drain, -EAGAIN
 * forever. */
#define RF_TEST URING_TEST
#define RF_STATE struct ubatch
#define RF_INIT(b, entries) init_or_fail(b, entries)
#define RF_READ(b, reqs, n, qd) run_read(b, reqs, n, qd)
#define RF_EXIT(b) SEAM_CALL_VOID(ubatch_exit(b))
#define RF_CLEAN(b, when) check_ring_clean(b, when)
#define RF_FN "ubatch_read"
#define RF_TITLE_EAGAIN_WAITS "ubatch_read: after -EAGAIN from a submit, it waits for a read in the kernel instead of retrying at once, also when the submit was made to free a full SQ"
#define RF_HINT_EAGAIN_WAITS "TODO 6: -EAGAIN from io_uring_submit* means \"wait for some completions and try " \
	   "again\" (io_uring_enter(2)): reap what is there, or wait for one of the reads the " \
	   "kernel has (io_uring_wait_cqe; -EINTR from it: wait again), then submit; calling " \
	   "submit again at once spins, also when you submitted because the SQ was full: stop " \
	   "filling and wait (lesson, section 7)"
#define RF_TITLE_DRAIN "ubatch_read: after a fatal ring error it waits for the reads the kernel has, then returns; it never hangs"
#define RF_HINT_DRAIN "TODO 6: an error other than -EINTR, -EAGAIN, -EBUSY ends the batch, but the reads " \
	   "the kernel already has would still write into the caller's buffers: wait for each " \
	   "of their completions (io_uring_wait_cqe, io_uring_cqe_seen) before returning the " \
	   "error; -EINTR from that wait: wait again; if it fails otherwise, return. The reads " \
	   "it has are those submitted less io_uring_sq_ready() (counted from the kernel's " \
	   "head), not less sqe_tail - sqe_head: liburing moves sqe_head when it publishes the " \
	   "SQ, before the io_uring_enter that failed (lesson, section 7)"
#define RF_TITLE_EAGAIN_FOREVER "ubatch_read: -EAGAIN from every liburing call ends the batch with an error; -EAGAIN with the SQ full and CQEs waiting loses no request"
#define RF_HINT_EAGAIN_FOREVER "TODO 6: retry -EAGAIN / -EBUSY only while something moves; after a few rounds " \
	   "without progress (nothing submitted, nothing reaped) return the error. TODO 8: " \
	   "when the rest of a short read finds no free SQE (io_uring_get_sqe NULL), leave " \
	   "its CQE in the CQ for the next round: never prepare through NULL, never drop " \
	   "it, and do not submit from inside the reaping pass (lesson, section 7 and " \
	   "\"Hints\", Window)"
#include "ring_faults.h"

/* --------------------------------------- the batch battery (06.36 on) */

/*
 * The tests every chapter's batch read shares (harness/lib/batch_battery.h),
 * on ubatch_batch_read: random reads with the file position watched,
 * per-request errors, shapes up to qd UINT_MAX, 1500 requests, a 6 GiB
 * sparse file, the window. Around every batch the ring watch proves the
 * mechanism (uring_battery.h): one ring per call, sized min(qd, n) and at
 * most UBATCH_MAX_ENTRIES, torn down with nothing in flight; every read an
 * SQE of a submit, the first window submitted at once; no blocking read.
 * One point each: what they check of ubatch_read was partly checked by
 * 06.03, 06.08 and 06.29, which now weigh less (lesson, the points table).
 */
#define URB_FN "ubatch_batch_read"
#define URB_MAX_ENTRIES UBATCH_MAX_ENTRIES
#define URB_TODO "TODO 9, and ubatch_read's TODOs 3-8 behind it"
#include "uring_battery.h"

static void ubatch_battery_setup(void)
{
	module_setup(UBATCH_MAX_ENTRIES);
	battery_fn_use(ubatch_batch_read, 0);
}

static const struct battery_target ubatch_target = {
	.name = "ubatch_batch_read",
	.setup = ubatch_battery_setup,
	.open = battery_fn_open, .read = battery_fn_read, .close = battery_fn_close,
	.before = urb_before, .after = urb_after,
	.max_inflight = urb_max_inflight, .fills_to = urb_fills_to,
};

BATCH_BATTERY(ubatch_battery, ubatch_target, "ubatch_batch_read",
	      "TODO 9 (ubatch_batch_read: one ring per call, sized min(qd, n), then ubatch_read, "
	      "TODOs 3-8; lesson, sections 5-8)")

/* ------------------------------------------------------------ pacing */

URING_TEST(mechanism, held_reads_sleep, 1,
	   "ubatch_read: while every read in flight waits (4 pipes, half a second, after 4 file "
	   "reads), the call sleeps in the kernel; it does not wake on a timer again and again",
	   "TODOs 6 and 7: a wait bounded in time that ran out means the reads are slow: wait "
	   "for one completion, without a timeout, from then on; a wait that ran out with "
	   "nothing submitted is -ETIME, not an error (lesson, section 5)", 8)
{
	rl_held_reads_sleep();
}

/* ------------------------------------------- a ring smaller than the window */

URING_TEST(mechanism, small_ring_full_window, 2,
	   "ubatch_read on a ring of 4 (CQ 8) at qd 8 and 64: 8 reads in flight, the whole CQ; "
	   "with a ring of 64 set up after it, each ring's calls in turn get their own ring's window",
	   "TODOs 3 and 4: the window is min(qd, cq_entries), all of it: with cq_entries reads in "
	   "flight the CQ cannot overflow, no slot needs keeping free; and a full SQ does not end "
	   "the fill: submit what is queued, then go on filling (lesson, sections 3 and 4). The "
	   "sizes and the ring are b's own (b->cq_entries, b->ring), not copies kept in a static by "
	   "the last ubatch_init", 4)
{
	static const unsigned qds[] = { 8, 64, 64, 64 };
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ubatch small, big;
	int ret;

	init_or_fail(&small, 4);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		/* Rounds 2 and 3: a second ring of 64 (CQ 128), set up after the
		 * small one and live beside it; the two are used in turn. */
		struct ubatch *b = k == 2 ? &big : &small;
		const char *also = k == 2 ? " (set up after a ring of 4, which is still live)"
				   : k == 3 ? " (a ring of 64 was set up after it)" : "";
		struct ubatch *other = k == 2 ? &small : k == 3 ? &big : NULL;
		unsigned window, own_tail, other_tail;

		if (k == 2)
			init_or_fail(&big, 64);
		window = qds[k] < b->cq_entries ? qds[k] : b->cq_entries;
		reqs = block_reqs(fd, n, bs, bufs);
		watch_reset_counts();
		/* The SQ tails the kernel sees: the reads must go through b's
		 * ring, not through the other ring that is live beside it. */
		own_tail = io_uring_smp_load_acquire(b->ring.sq.ktail);
		other_tail = other ? io_uring_smp_load_acquire(other->ring.sq.ktail) : 0;
		ret = run_read(b, reqs, n, qds[k]);
		grade_check(io_uring_smp_load_acquire(b->ring.sq.ktail) != own_tail &&
			    (!other || io_uring_smp_load_acquire(other->ring.sq.ktail) == other_tail),
			    "ubatch_read(&%s, ...) of %zu reads: its own ring's SQ took %u SQE(s), "
			    "the other live ring's (set up %s) took %u: the reads must go through "
			    "b->ring, the ring of the b the call is given, never through a ring "
			    "pointer that ubatch_init kept in a static or a global (ubatch.h; TODO 3)",
			    k == 2 ? "big" : "small", n,
			    io_uring_smp_load_acquire(b->ring.sq.ktail) - own_tail,
			    k == 3 ? "after it" : "before it",
			    other ? io_uring_smp_load_acquire(other->ring.sq.ktail) - other_tail : 0);
		grade_check(ret == 0, "ubatch_read of %zu reads at qd %u on a ring of %u SQ entries%s "
			    "returned %s, expected 0", n, qds[k], b->sq_entries, also,
			    grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, "a ring smaller than qd");
		grade_check(watch.max_inflight == window, "ubatch_read of %zu reads at qd %u on a "
			    "ring of %u SQ and %u CQ entries%s: at most %u reads were ever in flight; "
			    "the window is min(qd, cq_entries) = %u. A full SQ is not a full window "
			    "(submit what is queued and go on filling before you reap: cached reads "
			    "are done when that submit returns, and reaping them before the fill "
			    "goes on keeps the window at the SQ's size), and the CQ holds cq_entries "
			    "completions: no slot needs keeping free. Each ring's window comes from "
			    "its own b->cq_entries, never from a copy in a static", n, qds[k],
			    b->sq_entries, b->cq_entries, also, watch.max_inflight, window);
		check_ring_clean(b, "after a batch larger than the SQ");
		free(reqs);
	}

	SEAM_CALL_VOID(ubatch_exit(&big));
	SEAM_CALL_VOID(ubatch_exit(&small));
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------------------ progress and the drain */

URING_TEST(faults, progress_and_drain, 2,
	   "ubatch_read: -EAGAIN at every other call, with reads completing between, still "
	   "finishes 256 reads; a signal during the drain after a fatal error does not end the "
	   "drain, nor does a second's wait for the reads; that error is returned as it came",
	   "TODO 6: give up on -EAGAIN / -EBUSY only after several rounds in a row without "
	   "progress: a round that submitted or reaped something starts the count again. The "
	   "drain after a fatal error waits for every read the kernel has, as long as they take "
	   "(no time limit of its own); a wait interrupted by a signal (-EINTR) is waited again "
	   "there too, only another error ends the drain; then return the error the liburing "
	   "call gave, not one of your own (lesson, section 7)", 16)
{
	rl_eagain_every_other_call();
	rl_drain_through_signal();
}

/* ------------------------------------------------------- copy into a FIFO */

GRADE_TEST(copy, into_fifo, 2,
	   "copy into a FIFO whose reader waits until the pipe is full: the short write is "
	   "continued from the right byte; stopped and continued (SIGSTOP, SIGCONT) while it waits, "
	   "the copy goes on",
	   COPY_TODO_SHORT_WRITE ": a pipe takes what fits and the write comes back short; the "
	   "rest starts at buf + written, offset + written (man 2 write). " COPY_TODO_BLOCKS ": "
	   "a wait in io_uring_enter ended by a stop and a continue returns -EINTR, which is not "
	   "an error: submit and wait again (io_uring_enter(2), ERRORS; lesson, section 7)")
{
	copy_setup();
	copy_into_fifo(false);
	copy_into_fifo(true);
}

/* A wait cut short after the submit (ring_wake.h): last, so that the tests
 * above keep their numbers. */
#define RF_TITLE_EARLY_WAKE "ubatch_read: io_uring_submit_and_wait returning with the CQ still empty (a signal after the submit) is not an error; the batch goes on (qd 1 and 8)"
#define RF_HINT_EARLY_WAKE "TODO 6 and TODO 7: io_uring_submit_and_wait returns the number of SQEs the " \
	   "kernel took, and a signal can end its wait before any completion (io_uring_enter(2): " \
	   "the submission is reported, not -EINTR). Reap what is in the CQ (maybe nothing: " \
	   "io_uring_peek_cqe answers -EAGAIN, never dereference its cqe then) and go round the " \
	   "loop again: wait again while reads are in flight (lesson, section 1, \"Submit and " \
	   "wait in one call\")"
#include "ring_wake.h"

/* -------------------------------------------------- copy: DST as it was */

/* An existing DST is emptied in place (copy_battery.h). */
GRADE_TEST(copy, existing_dst_in_place, 1,
	   "copy: an existing DST is emptied in place: the same inode, its mode kept, a hard link "
	   "to it sees the copy; emptied when opened, longer or shorter than SRC: a copy that "
	   "fails half way leaves none of DST's old bytes",
	   COPY_TODO_OPEN ": \"truncated if it exists\" means the same file emptied (O_TRUNC or "
	   "ftruncate once it is known not to be SRC), not removed and made again: that is a new "
	   "inode with a new mode, and a hard link to DST would keep the old data; and emptied "
	   "when it is opened, before the copy, whatever its size (also when it is shorter than "
	   "SRC), not cut to SRC's size once the copy is done "
	   "(man 2 open, O_TRUNC; man 2 unlink; lesson, \"The program\")")
{
	copy_existing_dst_in_place();
	copy_fails_over_existing_dst(500000, 300001, 300000);
	copy_fails_over_existing_dst(200000, 300001, 100000);
}

/* ------------------------------------- a read refused at submission */

/* Requests of the refused-read test: their buffers lie in one array, so a
 * read's data address says which request it belongs to. */
static unsigned char *refuse_bufs;
static size_t refuse_stride, refuse_n;
static unsigned refused;

static bool refuse_this(size_t i)
{
	return i == 2 || i == 21;
}

/* The SQE of requests 2 and 21 becomes one the kernel refuses when it is
 * submitted (an opcode it does not know: -EINVAL from io_uring_setup(2)'s
 * "stops at the first request that fails while being submitted"): that
 * io_uring_enter takes the SQEs up to it, posts its CQE with -EINVAL, and
 * leaves the SQEs after it in the SQ for the next submit. */
static void refuse_edit(struct io_uring_sqe *sqe)
{
	uintptr_t a = (uintptr_t)watch_sqe_data(sqe), lo = (uintptr_t)refuse_bufs;

	if (a < lo || a >= lo + refuse_n * refuse_stride || !refuse_this((a - lo) / refuse_stride))
		return;
	sqe->opcode = 0xff;
	refused++;
}

URING_TEST(batch, refused_at_submit, 1,
	   "ubatch_read: a read the kernel refuses while submitting it (io_uring_submit* takes "
	   "fewer SQEs than were queued) gets -EINVAL; the SQEs after it go out with the next submit",
	   "TODO 6: io_uring_submit* returns how many SQEs the kernel took, which can be fewer "
	   "than you queued: it stops at a request that fails while being submitted, posts that "
	   "request's CQE with the error, and leaves the SQEs after it in the SQ, where your next "
	   "submit hands them over. A short count is not an error of the batch, and nothing is "
	   "lost: go on with the loop (TODO 8 stores the CQE's -EINVAL in its request; lesson, "
	   "section 1, \"What io_uring_submit returns\"; man 2 io_uring_setup, "
	   "IORING_SETUP_SUBMIT_ALL)", 16)
{
	const size_t n = 40, bs = 4096, size = n * bs;
	unsigned char *data;
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ubatch b;
	int ret;

	refuse_bufs = grade_xmalloc(size);
	refuse_stride = bs;
	refuse_n = n;
	refused = 0;
	reqs = block_reqs(fd, n, bs, refuse_bufs);
	init_or_fail(&b, 16);
	watch_reset_counts();
	watch.edit_sqe = refuse_edit;
	ret = run_read(&b, reqs, n, 8);
	watch.edit_sqe = NULL;
	grade_check(refused > 0, "harness: none of the reads to refuse was seen queued");
	grade_check(ret == 0, "ubatch_read of %zu reads at qd 8, where the kernel refused the SQEs "
		    "of requests 2 and 21 while submitting them (so io_uring_submit* took fewer SQEs "
		    "than were queued, and the rest stayed in the SQ), returned %s; expected 0: a "
		    "short submit count is not an error, the SQEs left in the SQ go out with the "
		    "next submit, and the refused read's CQE (-EINVAL) is that request's result",
		    n, grade_errno_str(ret));
	for (size_t i = 0; i < n; i++) {
		if (refuse_this(i)) {
			grade_check(reqs[i].res == -EINVAL, "request %zu, whose SQE the kernel "
				    "refused at submission (its CQE said -EINVAL): res is %s, "
				    "expected -EINVAL", i, grade_errno_str(reqs[i].res));
			continue;
		}
		check_req(&reqs[i], i, data, size, "beside reads refused at submission");
	}
	check_ring_clean(&b, "after reads refused at submission");
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(reqs);
	free(refuse_bufs);
	close(fd);
	free(data);
}

/* ------------------------------ copy: DST's mode and a failed write */

/* copy_battery.h's copy_mode_not_from_source: SRC of mode 0600 and 0755,
 * an empty SRC over a longer DST. Here also SRC named through a symlink,
 * and a failed write, which is about DST: its message must say so. */
GRADE_TEST(copy, mode_not_from_source, 2,
	   "copy: a new DST gets mode 0644 less the umask whatever SRC's mode (0600, 0755, SRC "
	   "named through a symlink); an empty SRC empties a longer DST; a failed write (DST "
	   "/dev/full) is reported naming DST",
	   COPY_TODO_OPEN ": DST is created with mode 0644 (less the umask), the mode the lesson "
	   "gives, not with SRC's mode (that is cp -p, which copies permissions): pass 0644 to "
	   "open; SRC is the file its name leads to: a symlink to a regular file is that file "
	   "(open follows it; ask fstat on the descriptor, not lstat on the name); an existing DST is emptied once it is known not to be SRC, whatever SRC's "
	   "size, also 0. " COPY_TODO_ERRORS ": a write that fails is about DST: name DST in its "
	   "message, not SRC (man 2 open, \"mode\", O_TRUNC; lesson, \"The program\")")
{
	unsigned char *data;
	struct prog_result r;
	struct stat st;

	copy_setup();
	copy_must_work();
	data = copy_mode_not_from_source();
	{
		/* SRC named through a symlink (mode 0777 itself) to the SRC of
		 * mode 0600: copied like that file (lesson, "The program"). */
		const char *link = grade_path("src-link"), *dst = grade_path("new-link");
		unsigned char *back;
		size_t backlen;

		grade_check(symlink(grade_path("src-600"), link) == 0, "harness: symlink: %s",
			    strerror(errno));
		run_copy(link, dst, &r, NULL);
		grade_check(r.exited && r.status == 0, "copy of a SRC named through a symlink to a "
			    "regular file: %s; stderr: %s. The symlink leads to a regular file, which "
			    "is what SRC must be: open follows it, and fstat on the descriptor you read "
			    "from sees the file (lstat on the name sees the link)", prog_ending(&r),
			    prog_stderr_line(&r));
		back = grade_slurp(dst, &backlen);
		grade_check(back != NULL && backlen == 20000 && grade_first_diff(back, data, 20000) < 0,
			    "copy of a SRC named through a symlink exited 0, but DST does not hold "
			    "the 20000 bytes of the file the symlink leads to (%zu bytes)",
			    back ? backlen : 0);
		grade_check(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0644, "copy of a SRC "
			    "named through a symlink (mode 0777) to a file of mode 0600 made a new DST "
			    "of mode %03o, expected 0644", (unsigned)(st.st_mode & 07777));
		free(back);
	}
	run_copy(grade_make_file("src", data, 20000), "/dev/full", &r, NULL);
	check_failed(&r, "SRC /dev/full (every write fails with ENOSPC)", "/dev/full", dst_roles);
	free(data);
}

/* ----------------------------------------------------- -EBUSY for good */

/* 06.35 gives -EAGAIN for good (ring_faults.h); -EBUSY, the other "reap and
 * try again" of io_uring_enter(2), must end the batch the same way. */
URING_TEST(faults, ebusy_forever, 1,
	   "ubatch_read: -EBUSY from every liburing call ends the batch with an error, as -EAGAIN "
	   "does: it never retries without end; the next call, on the ring set up again, "
	   "retries a single -EBUSY or -EAGAIN",
	   "TODO 6: -EBUSY (completions the kernel could not flush) and -EAGAIN both mean \"reap, "
	   "then try again\"; count the rounds without progress for both, and after a few "
	   "return the error; the count belongs to one call: start it at 0 in each (lesson, "
	   "section 7, the table: \"give up after a few rounds with no progress\")", 16)
{
	rl_ebusy_forever();
}

/* ------------------------------------------- two rings in two threads */

URING_TEST(mechanism, two_threads_two_rings, 1,
	   "ubatch_read and ubatch_batch_read: while a call sleeps for its last read, another "
	   "thread runs whole calls on a ring of its own; both get their results",
	   "TODOs 3 and 9: all the state of a call (the next request, the reads in flight, the "
	   "counts, the ring) lives in b and in the call's own variables, never in a static or a "
	   "global: another thread may run its own ring at the same time (ubatch.h, struct "
	   "ubatch; lesson, section 8). A crash here is often a static struct ubatch or struct "
	   "of the loop's state that the other thread's call overwrote", 16)
{
	rl_two_threads_two_rings();
}

/* -------------------------------------------- the window at every wait */

URING_TEST(mechanism, window_full_at_every_wait, 1,
	   "ubatch_read: 12 pipes at qd 4, completing one at a time: at every wait, the window "
	   "holds min(qd, requests not finished) reads",
	   "TODOs 3 and 4: a read that completes frees its slot at once, and the next request "
	   "takes it before the call waits again: refill after every reaping pass, not once "
	   "half the window (or all of it) is free (ubatch.h: \"Keep the window full: refill it "
	   "as reads complete\"; lesson, section 5)", 16)
{
	rl_window_full_at_every_wait();
}

/* ------------------------------------ giving up drains the reads too */

URING_TEST(faults, give_up_drains, 1,
	   "ubatch_read: giving up on -EAGAIN or -EBUSY while reads are in the kernel, it first "
	   "waits for them, as after any other error",
	   "TODO 6: every path that returns an error of the batch goes through the drain (wait for "
	   "each read the kernel has, io_uring_wait_cqe, then io_uring_cqe_seen), the give-up "
	   "after rounds without progress too: a read left in the kernel writes into the "
	   "caller's buffer after the call has returned (ubatch.h, ubatch_read; lesson, "
	   "section 7)", 8)
{
	rl_give_up_drains();
}

/* ------------------------------------------- a window beyond 16 bits */

URING_TEST(mechanism, window_beyond_16_bits, 1,
	   "ubatch_read on a ring of 32768 (CQ 65536) at qd 65536 and UINT_MAX: 70000 reads, 65536 in flight at once",
	   "TODOs 3 and 4: qd, the window and the count of reads in flight need the full width of "
	   "an unsigned: the largest ring (32768 entries, ubatch.h) has a CQ of 65536 slots, "
	   "one more than 16 bits hold, so min(qd, cq_entries) is 65536 there (lesson, section 4)", 8)
{
	rl_window_beyond_16_bits();
}

/* ------------------------------- another call between peek and handling */

/*
 * ubatch.h: "Other threads may use rings of their own at the same time:
 * every function here keeps a call's state in b and in its own variables,
 * never in a static or a global one." 06.51 runs the other thread's calls
 * while this one sleeps in the kernel; a static array of CQE pointers
 * handed to io_uring_peek_batch_cqe is overwritten only if the other call
 * peeks between this call's peek and its handling of those CQEs. So the
 * test makes that happen, by a gate instead of by luck:
 * io_uring_peek_batch_cqe is a link seam (seams.def), and peek_gate_hook
 * below its hook: it passes each of the module's calls to liburing's own;
 * the first call on the test thread's ring that finds CQEs then lets the
 * other thread run a whole ubatch_read on a ring of its own, and waits for
 * it to return, before it hands the CQEs over. The other thread's ring
 * stays set up until the test thread's call is over. A module that reaps
 * with io_uring_for_each_cqe never calls it: the other call then runs
 * after this one.
 */
#define PEEK_WAIT_MS 4000

struct peek_other {
	int fd;
	struct batch_req *reqs;
	size_t n;
	int init_ret, read_ret;
	int step;               /* 1: run the call; 2: it returned; 3: tear down */
	bool done;              /* the thread is over                          */
};

static struct {
	const struct io_uring *ring;  /* the test thread's ring: gate armed    */
	struct peek_other *other;
	unsigned got;                 /* CQEs the gated call handed over        */
	bool fired;
	bool timed_out;               /* the other call did not return in time */
} peek_gate;

/* Wait (bounded) until *step reaches want; false if it did not. */
static bool peek_wait_step(int *step, int want)
{
	long start = fault_now_ms();

	while (__atomic_load_n(step, __ATOMIC_ACQUIRE) < want)
		if (fault_now_ms() - start > PEEK_WAIT_MS)
			return false;
		else
			fault_nap();
	return true;
}

/* Run the other thread's call now, and wait for it to return. */
static void peek_run_other(void)
{
	__atomic_store_n(&peek_gate.other->step, 1, __ATOMIC_RELEASE);
	if (!peek_wait_step(&peek_gate.other->step, 2))
		peek_gate.timed_out = true;
}

static unsigned peek_gate_hook(struct io_uring *ring, struct io_uring_cqe **cqes, unsigned count)
{
	unsigned got = SEAM_REAL(io_uring_peek_batch_cqe)(ring, cqes, count);

	if (got > 0 && peek_gate.ring && ring == peek_gate.ring && !peek_gate.fired) {
		peek_gate.fired = true;
		peek_gate.got = got;
		peek_run_other();
	}
	return got;
}

/* The other thread: not the harness's, its calls are the module's. */
static void *peek_other_thread(void *arg)
{
	struct peek_other *o = arg;
	struct ubatch b;

	/* Until the gate (or the test, afterwards) says go. */
	if (!peek_wait_step(&o->step, 1)) {
		o->done = true;
		return NULL;
	}
	o->init_ret = ubatch_init(&b, 8);
	o->read_ret = o->init_ret == 0 ? ubatch_read(&b, o->reqs, o->n, 8) : o->init_ret;
	__atomic_store_n(&o->step, 2, __ATOMIC_RELEASE);
	peek_wait_step(&o->step, 3);
	ubatch_exit(&b);
	__atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
	return NULL;
}

URING_TEST(mechanism, other_call_between_peek_and_reap, 1,
	   "ubatch_read: another thread's whole call on a ring of its own, run while this call holds "
	   "the CQEs io_uring_peek_batch_cqe gave it, changes neither call's results",
	   "TODOs 3 and 7: the array io_uring_peek_batch_cqe fills is part of one call's state: "
	   "a local array (or one in b), never a static or a global one, which another thread's "
	   "call on its own ring fills with pointers to its own CQEs (ubatch.h: rings of other "
	   "threads at once, no state in statics; lesson, sections 2 and 8)", 16)
{
	const size_t n = 16, n_other = 8, bs = 4096, size = 64 * bs;
	unsigned char *data, *bufs = grade_xmalloc(n * bs), *bufs_other = grade_xmalloc(n_other * bs);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	struct peek_other o = { 0 };
	struct ubatch b;
	pthread_t t;
	int ret;

	/* The other call's 8 reads are on fd -1: each gets -EBADF. Its CQEs
	 * (user_data 0-7, if it keeps indices there) handled as this call's
	 * would give this call's first requests -EBADF: a read that really
	 * went wrong, not one that the rest of a short read could repair. */
	o.fd = -1;
	o.n = n_other;
	o.reqs = block_reqs(-1, n_other, bs, bufs_other);
	init_or_fail(&b, 16);
	grade_check(pthread_create(&t, NULL, peek_other_thread, &o) == 0, "harness: pthread_create");
	memset(&peek_gate, 0, sizeof(peek_gate));
	peek_gate.other = &o;
	peek_gate.ring = &b.ring;
	seam_hook_io_uring_peek_batch_cqe = peek_gate_hook;
	ret = SEAM_CALL(ubatch_read(&b, reqs, n, 8));
	seam_hook_io_uring_peek_batch_cqe = NULL;
	peek_gate.ring = NULL;
	/* A module that never peeked: the other call runs now, after it. */
	if (!peek_gate.fired)
		peek_run_other();
	__atomic_store_n(&o.step, 3, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	grade_check(!peek_gate.timed_out, "the other thread's ubatch_read (8 reads on fd -1 at qd 8 "
		    "on a ring of its own%s) did not return within %d ms", peek_gate.fired ?
		    ", run while the test thread's call held CQEs from io_uring_peek_batch_cqe" : "",
		    PEEK_WAIT_MS);
	grade_check(ret == 0, "ubatch_read (16 cached reads at qd 8) returned %s%s; expected 0",
		    grade_errno_str(ret), peek_gate.fired ? ", with another thread's whole "
		    "ubatch_read run between its io_uring_peek_batch_cqe and its handling of those "
		    "CQEs" : "");
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, peek_gate.fired ?
			  "the test thread's call, whose io_uring_peek_batch_cqe gave it CQEs "
			  "just before another thread's call ran on its own ring (a static array "
			  "of CQE pointers, which the other call filled with its own?)" :
			  "the test thread's call");
	check_ring_clean(&b, "after a call beside another thread's");
	SEAM_CALL_VOID(ubatch_exit(&b));
	grade_check(o.init_ret == 0 && o.read_ret == 0, "in another thread%s: ubatch_init returned "
		    "%s, ubatch_read %s; expected 0 each", peek_gate.fired ? ", while the test "
		    "thread's call held CQEs from io_uring_peek_batch_cqe" : "",
		    grade_errno_str(o.init_ret), grade_errno_str(o.read_ret));
	for (size_t i = 0; i < n_other; i++)
		grade_check(o.reqs[i].res == -EBADF, "ubatch_read in another thread%s: request %zu "
			    "(fd -1) has res %s, expected -EBADF", peek_gate.fired ? ", run while "
			    "the test thread's call held CQEs from io_uring_peek_batch_cqe" : "", i,
			    grade_errno_str(o.reqs[i].res));
	free(o.reqs);
	free(reqs);
	free(bufs_other);
	free(bufs);
	close(fd);
	free(data);
}

/* ----------------------------------- a rest with no SQE, CQEs behind it */

URING_TEST(mechanism, rest_without_sqe_keeps_its_turn, 1,
	   "ubatch_read on a ring of 4 (CQ 8) at qd 8: a short read whose rest finds the SQ full "
	   "stays on the CQ in its turn; the CQEs behind it are not handled first",
	   "TODOs 7 and 8: io_uring_cq_advance(ring, k) consumes the first k CQEs of the CQ, "
	   "whichever you handled: when one CQE cannot be handled yet (its rest has no SQE), "
	   "stop the pass there and advance by the CQEs before it; the next round, after a "
	   "submit, takes it up again (man 3 io_uring_cq_advance; lesson, section 2 and the "
	   "window hint)", 4)
{
	rl_rest_without_sqe_keeps_its_turn();
}

/* ------------------------------ never wait for more than can complete */

URING_TEST(mechanism, wait_within_inflight, 1,
	   "ubatch_read: batches of 1 to 40 cached reads at qd 32 and 64 never wait for more "
	   "completions than they have reads in flight",
	   "TODO 6: the number of completions a wait asks for (wait_nr) must never exceed the "
	   "reads in flight (prepared and not yet reaped): such a wait can only end when its "
	   "time runs out, so a small batch, or any batch's tail, sits idle for nothing. Cap "
	   "wait_nr by the reads in flight (lesson, section 5, \"How long to wait\")", 64)
{
	rl_wait_within_inflight();
}

/* ------------------------------------------- SRC cut short while copying */

/* copy_battery.h's copy_source_shrinks: SRC cut from 2 MiB to 300000 bytes
 * at the program's first io_uring_enter that submits reads. Lesson, "The
 * program": a read that returns 0 is end of file, in the copy as in the
 * module (pitfall 6, "Retrying on res == 0 ... never ends"). */
GRADE_TEST_T(copy, source_shrinks, 1,
	     "copy: SRC cut from 2 MiB to 300000 bytes once its first reads are submitted: "
	     "copy ends (what is left, exit 0, or an error), never rereads at end of file",
	     COPY_TODO_OFFSET " (read done): a read that returns 0 is end of file, even before the size "
	     "fstat gave (another process may truncate SRC): that block ends there, and no "
	     "later block is read; reading the same place again returns 0 for ever (lesson, "
	     "\"The program\" and pitfall 6)", 20)
{
	copy_source_shrinks("a read that returns 0 is end of file; reading the same place again "
			    "returns 0 again, for ever",
			    "the bytes before the new end of file, nothing past it");
}

/* ------------------------------------- a short read of SRC, then its rest */

/*
 * Lesson, "The program": a short read is continued at the advanced offset,
 * into the buffer where the bytes stopped. A regular file gives a short read
 * only at its end, so the test moves the end: while the program is stopped
 * at its first io_uring_enter that submits reads, SRC (200000 bytes) is cut
 * 1 byte past the start of the last of those reads (the highest offset
 * below SRC's size), and at the next io_uring_enter that submits a read it
 * gets its bytes back. That last read comes back short (1 byte); every read
 * before it ends at or before the cut and is whole, and none starts past it,
 * so no read meets end of file; the read of the rest, submitted later, finds
 * the bytes again. At its end SRC holds its 200000 bytes: exit 0 means DST
 * holds them (a non-zero status with a message, SRC having changed, is
 * allowed too). Whatever the program's block size, no correct program is
 * shown an end of file.
 */
#define REGROW_SIZE 200000

struct regrow_ctx {
	const char *src;
	unsigned char *data;    /* REGROW_SIZE + grow bytes, the caller's to free */
	unsigned long long cut;
	int cut_done, restored; /* 1 done, -errno failed */
	size_t grow;            /* 06.71: bytes added past the end at the restore */
};

static int regrow_restore(struct regrow_ctx *g)
{
	size_t len = REGROW_SIZE + g->grow - (size_t)g->cut;
	int fd = open(g->src, O_WRONLY), ret = 1;

	if (fd < 0 || pwrite(fd, g->data + g->cut, len, (off_t)g->cut) != (ssize_t)len)
		ret = -(errno ? errno : EIO);
	if (fd >= 0)
		close(fd);
	return ret;
}

static void regrow_on_submit(const struct prog_sqe *sqes, unsigned n, void *ctx)
{
	struct regrow_ctx *g = ctx;
	bool reads = false, below = false;
	unsigned long long last = 0;

	for (unsigned i = 0; i < n; i++)
		if (strncmp(sqes[i].opcode, "READ", 4) == 0) {
			reads = true;
			if (sqes[i].off < REGROW_SIZE && (!below || sqes[i].off > last)) {
				last = sqes[i].off;
				below = true;
			}
		}
	if (!reads || g->restored)
		return;
	if (!g->cut_done) {
		if (!below)
			return;
		g->cut = last + 1;
		g->cut_done = truncate(g->src, (off_t)g->cut) < 0 ? -errno : 1;
		return;
	}
	g->restored = regrow_restore(g);
}

/*
 * One run of copy for 06.59 and 06.71: SRC (REGROW_SIZE bytes of g->data,
 * which holds `grow` bytes more) is cut at copy's first io_uring_enter that
 * submits reads and given its bytes back, and `grow` more, at the next.
 * Fails the test when the harness could not do that or copy did not end;
 * returns false when copy failed with a message (allowed: SRC changed), true
 * when it exited 0 and DST is to be judged. The caller frees g->data.
 */
static bool regrow_run(struct regrow_ctx *g, size_t grow, const char *dst)
{
	struct prog_opts o = { .on_submit = regrow_on_submit, .ctx = g, .time_limit_ms = 10000 };
	struct prog_result r;
	unsigned char *data;
	const char *src;

	copy_setup();
	copy_must_work();
	data = grade_random_bytes(REGROW_SIZE + grow);
	src = grade_make_file(grow ? "regrow-more-src" : "regrow-src", data, REGROW_SIZE);
	g->src = src;
	g->data = data;
	g->grow = grow;
	{
		const char *argv[] = { copy_program(), src, dst, NULL };

		prog_run_traced(argv, &o, &r, "cuts SRC short while copy waits at its first "
				"io_uring_enter");
	}
	grade_check(g->cut_done == 1, "harness: SRC could not be cut short at copy's first "
		    "io_uring_enter with reads (%s)", g->cut_done ? strerror(-g->cut_done) :
		    "no such call");
	if (!g->restored)
		g->restored = regrow_restore(g); /* no read after the cut: give it back now */
	grade_check(g->restored >= 0, "harness: SRC's last bytes could not be written back: %s",
		    strerror(-g->restored));
	grade_check(!r.timed_out, "copy of a SRC cut short at its first submit and given its bytes "
		    "back%s at the next did not end within %d ms", grow ? " (and more)" : "",
		    r.time_limit_ms);
	grade_check(r.exited, "copy of a SRC cut short, then given its bytes back%s: %s",
		    grow ? " and more" : "", prog_ending(&r));
	if (r.status != 0) {
		check_failed(&r, "of a SRC cut short while copying", NULL, NULL);
		free(data);
		g->data = NULL;
		return false;
	}
	return true;
}

GRADE_TEST_T(copy, short_read_continued, 1,
	     "copy: SRC cut 1 byte into its last block read at the first submit of reads, given its "
	     "bytes back at the next: the short read's rest is read at its offset into its place",
	     COPY_TODO_OFFSET " (read done): a read that comes back short (fewer bytes than asked, "
	     "more than 0) is not the block's end: read the rest at offset + got into buf + got, "
	     "then write the whole block (lesson, \"The program\"; man 2 read: \"It is not an error "
	     "if this number is smaller than the number of bytes requested\")", 20)
{
	const char *dst = grade_path("regrow-dst");
	struct regrow_ctx g = { 0 };
	char how[64];
	unsigned char *back;
	size_t backlen;
	ssize_t at;

	if (!regrow_run(&g, 0, dst))
		return;
	back = grade_slurp(dst, &backlen);
	at = back ? grade_first_diff(back, g.data, backlen < REGROW_SIZE ? backlen : REGROW_SIZE) : 0;
	snprintf(how, sizeof(how), "differs from SRC from byte %zd on", at);
	grade_check(back && backlen == REGROW_SIZE && at < 0,
		    "copy exited 0 but DST %s (%zu bytes): SRC was cut to %llu bytes while its "
		    "first reads were submitted (the last of them, at offset %llu, came back "
		    "short: 1 byte) and had its %d bytes again before the next submit, which is "
		    "where a read of the rest belongs. %s",
		    !back ? "does not exist" : backlen != REGROW_SIZE ? "has the wrong size" :
		    how, back ? backlen : 0, g.cut, g.cut - 1, REGROW_SIZE,
		    back && backlen < REGROW_SIZE ? "DST stops short: a short read was taken for "
		    "the whole block (only a read of 0 is end of file)" :
		    "The rest of a short read goes to buf + got and is read at offset + got");
	free(back);
	free(g.data);
}

/* ------------------------------------------ a SRC the program may only read */

/*
 * Lesson, "The program": copy reads SRC; it never needs to write it, so it
 * opens it for reading only, and copies a file it may not write (a read-only
 * file, someone else's file, a file on a read-only mount). Graded as root,
 * a file of mode 0444 would still open for writing, so the test takes the
 * right away with a Landlock layer of its own: in the child that runs copy,
 * opening a file for writing (or truncating one) is allowed only beneath
 * DST's directory and /dev. SRC lies outside: open(SRC, O_RDWR) is refused
 * with EACCES, open(SRC, O_RDONLY) works.
 */
GRADE_TEST_T(copy, source_read_only, 1,
	     "copy: a SRC it may read but not write (open for writing refused: EACCES, also as root) "
	     "is copied byte for byte",
	     COPY_TODO_OPEN ": SRC is only read: open it O_RDONLY. O_RDWR (or O_WRONLY) asks for a "
	     "right copy does not need, and a read-only file, another user's file or a file on a "
	     "read-only mount refuses it (man 2 open, EACCES and EROFS)", 20)
{
	copy_setup();
	copy_must_work();
	confined_src_read_only_test(copy_program(), "copy", false,
				    "Open SRC with O_RDONLY: it is only read, and a file you may not "
				    "write (read-only, another user's, on a read-only mount) refuses "
				    "O_RDWR with EACCES or EROFS (" COPY_TODO_OPEN ")");
}

/* ----------------------------------- a set-up inside another one's set-up */

/*
 * ubatch.h: every function keeps a call's state in b and in its own
 * variables, never in a static. A hook in io_uring_queue_init_params sets
 * up a second ring (of 64) from inside the set-up of the first (of 8),
 * right after the kernel gave the first its ring and before ubatch_init
 * reads the sizes back: what another thread's ubatch_init could do at that
 * moment, made certain. Each ring must keep the sizes its kernel call gave.
 */
static int (*nested_next_init_params)(unsigned, struct io_uring *, struct io_uring_params *);
static int (*nested_next_init)(unsigned, struct io_uring *, unsigned);
static struct ubatch nested_inner;
static int nested_inner_ret = 1;
static bool nested_armed;

static void nested_run(int ret)
{
	if (nested_armed && ret == 0) {
		nested_armed = false;
		nested_inner_ret = ubatch_init(&nested_inner, 64);
	}
}

static int nested_init_params_hook(unsigned entries, struct io_uring *ring,
				   struct io_uring_params *p)
{
	int ret = nested_next_init_params(entries, ring, p);

	nested_run(ret);
	return ret;
}

static int nested_init_hook(unsigned entries, struct io_uring *ring, unsigned flags)
{
	int ret = nested_next_init(entries, ring, flags);

	nested_run(ret);
	return ret;
}

URING_TEST(ring, init_inside_init, 1,
	   "ubatch_init: a ring of 64 set up from inside the set-up of a ring of 8 (a hook in "
	   "io_uring_queue_init_params) leaves each ring its own sizes",
	   "TODO 1: the io_uring_params of a set-up are that call's own: a local variable (or "
	   "b's), never a static one, which another ubatch_init (another thread's, or one run "
	   "while this one is inside liburing) fills with its ring's sizes (ubatch.h: no statics)",
	   64)
{
	struct ubatch b;
	int ret;

	nested_next_init_params = seam_hook_io_uring_queue_init_params;
	nested_next_init = seam_hook_io_uring_queue_init;
	seam_hook_io_uring_queue_init_params = nested_init_params_hook;
	seam_hook_io_uring_queue_init = nested_init_hook;
	nested_armed = true;
	ret = SEAM_CALL(ubatch_init(&b, 8));
	seam_hook_io_uring_queue_init_params = nested_next_init_params;
	seam_hook_io_uring_queue_init = nested_next_init;
	grade_check(ret == 0, "ubatch_init(&b, 8) returned %s, expected 0 (TODO 1)",
		    grade_errno_str(ret));
	if (nested_inner_ret == 1) {
		/* A ring set up without io_uring_queue_init*: nothing to hook. */
		SEAM_CALL_VOID(ubatch_exit(&b));
		return;
	}
	grade_check(nested_inner_ret == 0, "harness: the ring of 64 set up from inside the "
		    "set-up of the ring of 8 failed: %s", grade_errno_str(nested_inner_ret));
	grade_check(b.live == 1 && b.sq_entries == 8 && b.cq_entries == 16,
		    "ubatch_init(&b, 8), while another ubatch_init set up a ring of 64 from inside "
		    "it (after the kernel gave b its ring), recorded live %d, sq_entries %u, "
		    "cq_entries %u; expected 1, 8 and 16: its params were overwritten by the other "
		    "call's (64 and 128?). Keep struct io_uring_params in a local variable, not a "
		    "static (TODO 1; ubatch.h: no statics)", b.live, b.sq_entries, b.cq_entries);
	grade_check(nested_inner.sq_entries == 64 && nested_inner.cq_entries == 128,
		    "the ring of 64 set up inside another set-up recorded sq_entries %u, "
		    "cq_entries %u; expected 64 and 128", nested_inner.sq_entries,
		    nested_inner.cq_entries);
	SEAM_CALL_VOID(ubatch_exit(&nested_inner));
	SEAM_CALL_VOID(ubatch_exit(&b));
}

/* ------------------------------------------- -EAGAIN in a CQE is a result */

/*
 * ubatch.h: a failed read is stored as it came; only -EINTR in a CQE means
 * "read the same rest again". -EAGAIN in a CQE (what a read of an
 * O_NONBLOCK or RWF_NOWAIT file with nothing ready gives) is the request's
 * result: read again, such a file fails again at once, for ever. The first
 * read of request 2 is turned into a NOP that completes with -EAGAIN; read
 * again, it would find the file's bytes.
 */
static unsigned char *eagain_buf;
static unsigned eagain_given;

static void eagain_edit(struct io_uring_sqe *sqe)
{
	if (eagain_given == 0 && (uintptr_t)watch_sqe_data(sqe) == (uintptr_t)eagain_buf) {
		watch_nop_sqe(sqe, -EAGAIN);
		eagain_given++;
	}
}

URING_TEST(faults, eagain_in_cqe_is_a_result, 1,
	   "ubatch_read: a CQE with res -EAGAIN is the request's result, stored as it came, "
	   "not read again; the reads beside it are done",
	   "TODO 8: only -EINTR in a CQE means 'read the same rest again'. Any other negative "
	   "res, -EAGAIN included, is the request's result (ubatch.h: stored as it came): a "
	   "read of an O_NONBLOCK file with nothing ready fails again every time you retry it",
	   8)
{
	const size_t n = 8, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	struct ubatch b;
	int ret;

	init_or_fail(&b, 8);
	eagain_buf = reqs[2].buf;
	eagain_given = 0;
	watch_reset_counts();
	watch.edit_sqe = eagain_edit;
	ret = run_read(&b, reqs, n, 4);
	watch.edit_sqe = NULL;
	grade_check(eagain_given == 1, "harness: the first read of request 2 could not be given "
		    "-EAGAIN (no read SQE into its buffer was seen)");
	grade_check(ret == 0, "ubatch_read with one CQE of res -EAGAIN returned %s, expected 0: "
		    "a request's error is its own (TODO 8)", grade_errno_str(ret));
	grade_check(reqs[2].res == -EAGAIN, "request 2, whose read completed with res -EAGAIN: "
		    "res is %s, expected -EAGAIN. Only -EINTR in a CQE is read again; any other "
		    "error is the request's result, stored as it came: -EAGAIN from an O_NONBLOCK "
		    "file would come back at every retry (TODO 8; ubatch.h)",
		    grade_errno_str(reqs[2].res));
	for (size_t i = 0; i < n; i++)
		if (i != 2)
			check_req(&reqs[i], i, data, size, "beside a read that said -EAGAIN");
	check_ring_clean(&b, "after a CQE with -EAGAIN");
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------- one batch, handed over as it is */

/* ubatch.h: ubatch_batch_read "runs ubatch_read()" on the batch, whose window
 * is kept full (ring_loop.h, rl_whole_batch_one_window). */
URING_TEST(batch, whole_batch_one_window, 1,
	   "ubatch_batch_read: 1500 requests at qd 8 with request 1000 a pipe that gets its data "
	   "only after request 1499 is done: the batch goes to ubatch_read as it is, not in pieces",
	   "TODO 9: ubatch_batch_read sets up one ring and hands the whole array to one "
	   "ubatch_read call; the window then moves past a slow read. Cut into pieces, each "
	   "piece's end waits for every read of it, the slow one too (ubatch.h)", 16)
{
	rl_whole_batch_one_window();
}

/* --------------------------- a set-up refused for good: -EPERM, -ENOSYS */

/*
 * ubatch.h: ubatch_init returns io_uring_queue_init_params's -errno, "-EPERM
 * when io_uring is blocked (seccomp, kernel.io_uring_disabled), -ENOSYS
 * without io_uring at all"; ubatch_batch_read gives "ubatch_init()'s error"
 * and may try smaller rings "if RLIMIT_MEMLOCK refuses it, -ENOMEM". A hook
 * refuses every set-up with the error: neither is temporary, and no smaller
 * ring is allowed either. One set-up, or two (the second without the newer
 * flags, which a module may retry on any error), is all it takes to know.
 */
static int refuse_setup_err;
static long refuse_setup_calls;

static int refuse_init_params_hook(unsigned entries, struct io_uring *ring,
				   struct io_uring_params *p)
{
	(void)entries, (void)ring, (void)p;
	refuse_setup_calls++;
	return refuse_setup_err;
}

static int refuse_init_hook(unsigned entries, struct io_uring *ring, unsigned flags)
{
	(void)entries, (void)ring, (void)flags;
	refuse_setup_calls++;
	return refuse_setup_err;
}

URING_TEST(ring, setup_refused_for_good, 1,
	   "ubatch_init and ubatch_batch_read: a set-up refused with -EPERM (io_uring blocked) or "
	   "-ENOSYS gives that error as it came, at once: no smaller ring is tried, nothing left",
	   "TODO 1: io_uring_queue_init_params's -errno is ubatch_init's answer as it is, never "
	   "renamed. TODO 9: a smaller ring is worth trying after -ENOMEM alone (RLIMIT_MEMLOCK); "
	   "-EPERM and -ENOSYS say io_uring is not there for this process, whatever the size "
	   "(ubatch.h; lesson, section 8; man 2 io_uring_setup, ERRORS)", 8)
{
	static const int errs[] = { -EPERM, -ENOSYS };
	int before = fault_count_fds();
	unsigned char buf[4][16];
	struct batch_req reqs[4];
	struct ubatch b;
	int (*next_params)(unsigned, struct io_uring *, struct io_uring_params *) =
		seam_hook_io_uring_queue_init_params;
	int (*next_init)(unsigned, struct io_uring *, unsigned) = seam_hook_io_uring_queue_init;

	for (int i = 0; i < 4; i++)
		reqs[i] = (struct batch_req){ 0, (off_t)i * 16, 16, buf[i], 1 };
	/* First a ring the kernel does not refuse: the test is about the
	 * refusal, not about a module that sets up nothing. */
	init_or_fail(&b, 8);
	SEAM_CALL_VOID(ubatch_exit(&b));
	for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
		int err = errs[k], ret, rb;
		long init_calls, batch_calls;

		refuse_setup_err = err;
		seam_hook_io_uring_queue_init_params = refuse_init_params_hook;
		seam_hook_io_uring_queue_init = refuse_init_hook;
		refuse_setup_calls = 0;
		memset(&b, 0xff, sizeof(b));
		ret = SEAM_CALL(ubatch_init(&b, 8));
		init_calls = refuse_setup_calls;
		refuse_setup_calls = 0;
		rb = SEAM_CALL(ubatch_batch_read(reqs, 4, 4));
		batch_calls = refuse_setup_calls;
		seam_hook_io_uring_queue_init_params = next_params;
		seam_hook_io_uring_queue_init = next_init;

		if (init_calls == 0)
			return; /* a ring set up without io_uring_queue_init*: nothing to refuse */
		grade_check(ret == err && b.live == 0, "every ring set-up refused with %s: "
			    "ubatch_init(&b, 8) returned %s with live %d; expected %s and live 0: "
			    "io_uring_queue_init_params's -errno is the answer as it came, never "
			    "renamed (%s means %s; TODO 1)", grade_errno_str(err),
			    grade_errno_str(ret), b.live, grade_errno_str(err),
			    grade_errno_str(err), err == -EPERM ? "io_uring is blocked here "
			    "(seccomp, kernel.io_uring_disabled)" : "no io_uring in this kernel");
		grade_check(rb == err, "every ring set-up refused with %s: ubatch_batch_read "
			    "returned %s, expected %s (ubatch.h: a ring that cannot be set up at all "
			    "gives ubatch_init()'s error; TODO 9)", grade_errno_str(err),
			    grade_errno_str(rb), grade_errno_str(err));
		grade_check(batch_calls <= 2, "every ring set-up refused with %s: one "
			    "ubatch_batch_read tried %ld set-ups. A smaller ring is worth a try after "
			    "-ENOMEM alone (RLIMIT_MEMLOCK too small for this size); %s says io_uring "
			    "is not there for this process, whatever the size: return it after the "
			    "first refusal (TODO 9; ubatch.h)", grade_errno_str(err), batch_calls,
			    grade_errno_str(err));
		grade_check(fault_count_fds() == before, "after set-ups refused with %s, %d "
			    "descriptor(s) are left open", grade_errno_str(err),
			    fault_count_fds() - before);
	}
}

/* ------------------------------- giving up: the error as liburing gave it */

/*
 * ubatch.h: "a liburing call's error that ends it is returned as it came,
 * never turned into another one such as -EIO". 06.35 and 06.50 end a batch
 * with -EAGAIN and -EBUSY for good, and 06.32 with -EBADR; here the value
 * that comes back is checked too: the give-up after rounds without
 * progress, like any other end of the batch, returns the error it gave up
 * on.
 */
URING_TEST(faults, give_up_error_as_it_came, 1,
	   "ubatch_read: a batch ended by -EAGAIN, -EBUSY or -EBADR from every liburing call "
	   "returns that error as it came, not another one (-EIO, -ETIMEDOUT)",
	   "TODO 6: when the rounds without progress run out, return the error of the last "
	   "round (-EAGAIN or -EBUSY) as liburing gave it, as you return a fatal one "
	   "(-EBADR): the caller tells a ring short of resources from a broken one by it "
	   "(ubatch.h; lesson, section 7)", 16)
{
	static const int errs[] = { -EAGAIN, -EBUSY, -EBADR };
	const size_t n = 24, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);

	for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		struct ubatch b;
		int ret;

		init_or_fail(&b, 16);
		watch_reset_counts();
		watch.inject_at = 1;
		watch.inject_err = errs[k];
		watch.inject_forever = true;
		ret = run_read(&b, reqs, n, 8);
		watch.inject_forever = false;
		watch_reset_counts();
		grade_check(ret == errs[k], "every liburing call that may enter the kernel returned "
			    "%s; ubatch_read returned %s, expected %s: the error that ends the batch "
			    "is returned as it came, never turned into another one (ubatch.h; TODO 6)",
			    grade_errno_str(errs[k]), grade_errno_str(ret), grade_errno_str(errs[k]));
		SEAM_CALL_VOID(ubatch_exit(&b));
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------ memory liburing allocates for you */

/*
 * 06.32 counts the module's own heap blocks (its calls to malloc are
 * renamed into the harness). Some liburing calls allocate inside liburing,
 * where no seam sees them: io_uring_get_probe_ring() returns a probe the
 * caller must give back with io_uring_free_probe(). malloc's own count
 * (mallinfo2) sees those blocks: after 100 set-ups and tear-downs, and 100
 * ubatch_batch_read calls, the heap in use must be where it was, give or
 * take what the harness itself keeps (far below 64 KiB; a probe is 2 KiB).
 * Under AddressSanitizer (make test's second pass) mallinfo2 counts
 * nothing and the check passes by itself.
 */
URING_TEST(resources, liburing_heap_returned, 1,
	   "ubatch_init and ubatch_exit 100 times, ubatch_batch_read 100 times: the process's heap "
	   "does not grow (what liburing allocates for the module, such as a probe, is given back)",
	   "TODOs 1, 2 and 9: a liburing call that returns memory (io_uring_get_probe_ring, "
	   "io_uring_get_probe) hands you a heap block: give it back (io_uring_free_probe) on "
	   "every path, or do without it: io_uring_queue_init_params says what the kernel "
	   "refuses (man 3 io_uring_get_probe, man 3 io_uring_free_probe)", 8)
{
	const size_t n = 4, bs = 512, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	struct mallinfo2 before, after;
	long long grown;
	struct ubatch b;
	int ret;

	/* Warm up: whatever the first calls of each kind keep for good. */
	init_or_fail(&b, 8);
	SEAM_CALL_VOID(ubatch_exit(&b));
	ret = SEAM_CALL(ubatch_batch_read(reqs, n, 4));
	grade_check(ret == 0, "ubatch_batch_read of 4 reads returned %s, expected 0",
		    grade_errno_str(ret));
	before = mallinfo2();
	for (int i = 0; i < 100; i++) {
		/* 100 rings in a row, each freed by the kernel in the
		 * background: their charge, and other gradings', may run out
		 * of RLIMIT_MEMLOCK for a moment (memlock_wait.h). */
		MEMLOCK_PATIENT(ret, SEAM_CALL(ubatch_init(&b, 8)));
		if (ret == -ENOMEM)
			memlock_skip_if_short(8, NULL, 0, "ubatch_init's ring");
		grade_check(ret == 0, "ubatch_init(&b, 8) returned %s (set-up %d of 100), expected "
			    "0", grade_errno_str(ret), i + 1);
		SEAM_CALL_VOID(ubatch_exit(&b));
	}
	for (int i = 0; i < 100; i++) {
		MEMLOCK_PATIENT(ret, SEAM_CALL(ubatch_batch_read(reqs, n, 4)));
		if (ret == -ENOMEM)
			memlock_skip_if_short(4, NULL, 0, "ubatch_batch_read's ring");
		grade_check(ret == 0, "ubatch_batch_read of 4 reads returned %s (call %d of 100), "
			    "expected 0", grade_errno_str(ret), i + 1);
	}
	after = mallinfo2();
	grown = (long long)after.uordblks - (long long)before.uordblks;
	grade_check(grown < 64 * 1024, "after 100 ubatch_init/ubatch_exit pairs and 100 "
		    "ubatch_batch_read calls, the process's heap in use grew by %lld bytes (%lld a "
		    "call): memory liburing allocated for the module is never given back. A probe "
		    "(io_uring_get_probe_ring) is a heap block of about 2 KiB: free it with "
		    "io_uring_free_probe once you have looked at it (TODOs 1 and 9)", grown,
		    grown / 200);
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "after 100 calls");
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------ more requests than 16 bits count */

/*
 * ubatch.h: n is a size_t and each CQE leads back to its request through
 * user_data. 06.54 sends 70000 reads through the largest ring, but skips
 * where RLIMIT_MEMLOCK is small; this test needs only a ring of 64: 70000
 * one-byte reads at qd 64, through ubatch_read and through
 * ubatch_batch_read. An index kept in 16 bits (a uint16_t in user_data, a
 * short counter of requests started) sends request 65536's CQE to
 * request 0.
 */
static void check_many_one_byte(const struct batch_req *reqs, size_t n,
				const unsigned char *data, const char *what)
{
	size_t first = n, wrong = 0;

	for (size_t i = 0; i < n; i++)
		if (reqs[i].res != 1 || ((unsigned char *)reqs[i].buf)[0] != data[i]) {
			if (first == n)
				first = i;
			wrong++;
		}
	grade_check(wrong == 0, "%s: %zu of %zu requests have the wrong result or byte, the "
		    "first one request %zu (res %s, expected 1)%s", what, wrong, n, first,
		    grade_errno_str(reqs[first < n ? first : 0].res),
		    first == 0 || first >= 65536 ? ": requests from 65536 on are mixed up with "
		    "the first ones. An index that wraps at 65536 (user_data or a counter kept "
		    "in 16 bits) sends request 65536's CQE to request 0: keep the request's index "
		    "whole in user_data (io_uring_sqe_set_data64) and count in size_t" : "");
}

/* GRADE_TEST_T: 140000 reads, with every liburing call watched (and
 * sanitized in make test), take longer than the default limit allows. */
GRADE_TEST_T(batch, requests_beyond_16_bits, 1,
	     "ubatch_read and ubatch_batch_read: 70000 one-byte reads at qd 64 on a ring of 64: "
	     "every request gets its own byte, also past request 65535",
	     "TODOs 5 and 8: user_data must lead a CQE back to its request for any n: put the "
	     "whole index there (io_uring_sqe_set_data64, io_uring_cqe_get_data64) and keep "
	     "counts of requests in size_t, like n (lesson, section 2)", 20)
{
	module_setup(64);
	const size_t n = 70000;
	unsigned char *data, *bufs = grade_xmalloc(n);
	int fd = data_file("many", n, &data);
	struct batch_req *reqs = block_reqs(fd, n, 1, bufs);
	struct ubatch b;
	int ret;

	init_or_fail(&b, 64);
	ret = SEAM_CALL(ubatch_read(&b, reqs, n, 64));
	grade_check(ret == 0, "ubatch_read of 70000 one-byte reads at qd 64 returned %s, "
		    "expected 0", grade_errno_str(ret));
	SEAM_CALL_VOID(ubatch_exit(&b));
	check_many_one_byte(reqs, n, data, "ubatch_read of 70000 one-byte reads at qd 64");

	memset(bufs, 0, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].res = 0x5a5a;
	ret = SEAM_CALL(ubatch_batch_read(reqs, n, 64));
	grade_check(ret == 0, "ubatch_batch_read of 70000 one-byte reads at qd 64 returned %s, "
		    "expected 0", grade_errno_str(ret));
	check_many_one_byte(reqs, n, data, "ubatch_batch_read of 70000 one-byte reads at qd 64");
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------- a fatal error with CQEs on the CQ */

/*
 * ubatch.h: after an error that ends the batch, "no read is left writing
 * into the caller's buffers if draining was possible". 06.34 and 06.44 end
 * the batch while the CQ is empty; here the error comes with a CQE on the
 * CQ, as -EBADR does (io_uring_enter(2): completions were dropped, others
 * are there). Two pipe reads (A, B) and four cached file reads at qd 8 on a
 * ring of 8. At the first call that only waits (nothing queued) while just
 * A and B are in the kernel, the harness gives A its data just before the
 * wait; the wait returns with A's CQE, and the harness turns its return into
 * -EBADR. B gets its data only once the call sleeps in io_uring_enter again
 * (the drain's wait), or returns. A drain that stops because CQEs are
 * there (or counts them as the reads it waits for) returns with B in the
 * kernel. No timing decides the verdict: B is fed when the harness sees the
 * call asleep, or when it has returned.
 */
static struct {
	struct io_uring *ring;
	int wa, wb;            /* the write ends of pipes A and B          */
	pid_t tid;             /* the test thread, which calls the module  */
	bool fed_a, injected;  /* atomics: A's data given; -EBADR returned */
	bool stop;             /* atomic: the call returned                */
} cqf;

static void cqf_before_wait(struct io_uring *ring, unsigned nr)
{
	(void)nr;
	if (!ring || ring != cqf.ring || __atomic_load_n(&cqf.fed_a, __ATOMIC_ACQUIRE) ||
	    io_uring_sq_ready(ring) != 0 || watch_in_kernel(ring) != 2)
		return;
	if (SEAM_REAL(write)(cqf.wa, "CQ-READY", 8) == 8)
		__atomic_store_n(&cqf.fed_a, true, __ATOMIC_RELEASE);
}

/* After a call that may wait (the watch's after_wait): -EBADR instead of its
 * value, once, if A's CQE is on the CQ while B is still in the kernel. */
static int cqf_after(struct io_uring *ring, int ret)
{
	if (ring != cqf.ring || !__atomic_load_n(&cqf.fed_a, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&cqf.injected, __ATOMIC_ACQUIRE) ||
	    (ret < 0 && ret != -ETIME && ret != -EINTR) ||
	    io_uring_cq_ready(ring) == 0 || watch_in_kernel(ring) == 0)
		return ret;
	__atomic_store_n(&cqf.injected, true, __ATOMIC_RELEASE);
	return -EBADR;
}

static void *cqf_thread(void *arg)
{
	long start = fault_now_ms();

	(void)arg;
	seam_mark_harness_thread();
	while (!__atomic_load_n(&cqf.stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&cqf.injected, __ATOMIC_ACQUIRE) &&
		    task_in_syscall(getpid(), cqf.tid, SYS_io_uring_enter))
			break; /* the drain waits: B may come now */
		/* A module that never came to the state (it waited for A and
		 * B at once, say) must not wait for ever: give both. */
		if (!__atomic_load_n(&cqf.injected, __ATOMIC_ACQUIRE) &&
		    fault_now_ms() - start > 1500)
			break;
		fault_nap();
	}
	if (!__atomic_load_n(&cqf.fed_a, __ATOMIC_ACQUIRE))
		(void)!SEAM_REAL(write)(cqf.wa, "CQ-READY", 8);
	(void)!SEAM_REAL(write)(cqf.wb, "DRAINED!", 8);
	return NULL;
}

/* One round: pipe A's read succeeds, or (a_fails) it fails when its data
 * comes. Either way its CQE is on the CQ when -EBADR ends the batch. */
static void cqf_round(bool a_fails)
{
	const size_t nf = 4, n = nf + 2, bs = 4096, size = nf * bs;
	unsigned char *data, *bufs = grade_xmalloc(size), slow[2][8];
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	int pa[2], pb[2], ret;
	ssize_t want_a = a_fails ? -EFAULT : 8;
	unsigned left;
	struct ubatch b;
	pthread_t t;

	fault_pipe(pa, 0);
	fault_pipe(pb, 0);
	/* With a_fails, A's buffer is NULL: the pipe read waits for data like
	 * any other, then fails with -EFAULT when its bytes come. */
	reqs[0] = (struct batch_req){ pa[0], 0, 8, a_fails ? NULL : slow[0], 0x5a5a };
	reqs[1] = (struct batch_req){ pb[0], 0, 8, slow[1], 0x5a5a };
	for (size_t i = 0; i < nf; i++)
		reqs[2 + i] = (struct batch_req){ fd, (off_t)(i * bs), bs, bufs + i * bs, 0x5a5a };
	init_or_fail(&b, 8);
	memset(&cqf, 0, sizeof(cqf));
	cqf.ring = &b.ring;
	cqf.wa = pa[1];
	cqf.wb = pb[1];
	cqf.tid = (pid_t)syscall(SYS_gettid);
	watch.before_wait = cqf_before_wait;
	watch.after_wait = cqf_after;
	grade_check(pthread_create(&t, NULL, cqf_thread, NULL) == 0, "harness: pthread_create");
	ret = SEAM_CALL(ubatch_read(&b, reqs, n, 8));
	left = watch_in_kernel(&b.ring);
	__atomic_store_n(&cqf.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	watch.before_wait = NULL;
	watch.after_wait = NULL;
	if (cqf.injected) {
		grade_check(left == 0, "ubatch_read returned %s with %u read(s) still in the "
			    "kernel: a liburing call returned -EBADR while a CQE (pipe A's read, %s) "
			    "was on the CQ and pipe B's read was in the kernel. A read the kernel has "
			    "writes into the caller's buffer whenever it completes: after the error, "
			    "wait for every read the kernel still has, the CQEs already on the CQ "
			    "do not end that wait, whatever their res (TODO 6; lesson, section 7)",
			    grade_errno_str(ret), left, a_fails ? "a read that failed: -EFAULT" :
			    "8 bytes read");
		grade_check(ret == -EBADR || (ret == 0 && reqs[0].res == want_a && reqs[1].res == 8),
			    "ubatch_read returned %s after -EBADR (the pipe reads: res %s and %s); "
			    "expected -EBADR, the error of the liburing call that ended the batch, "
			    "as liburing returned it", grade_errno_str(ret),
			    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));
	} else {
		/* Never in that state (no wait with only A and B in the kernel):
		 * nothing to judge but the results. */
		grade_check(ret == 0 && reqs[0].res == want_a && reqs[1].res == 8, "ubatch_read "
			    "of 2 pipe reads and 4 file reads returned %s (pipe reads: res %s and %s), "
			    "expected 0 (and %s, 8)", grade_errno_str(ret),
			    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res),
			    grade_errno_str(want_a));
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

URING_TEST(faults, fatal_error_with_cqes_waiting, 1,
	   "ubatch_read: a fatal error (-EBADR) returned while a CQE waits on the CQ and another "
	   "read is in the kernel: the call waits for that read before it returns the error "
	   "(the CQE waiting there a read that succeeded, then one that failed: -EFAULT)",
	   "TODO 6: after an error that ends the batch, wait for every read the kernel still "
	   "has, whether or not CQEs are already on the CQ: handle or skip those, whatever their "
	   "res (a failed read is one read over, not a sign that the others failed), and go on "
	   "waiting until no read is left in the kernel (reads queued in the SQ and never "
	   "submitted do not count); only then return the error as it came (ubatch.h; lesson, "
	   "section 7)", 8)
{
	cqf_round(false);
	cqf_round(true);
}

/*
 * A kernel before 5.11 (no IORING_FEAT_EXT_ARG), played by clearing the bit
 * in b->ring.features after the set-up: liburing reads the same bit, and a
 * wait with a time bound (io_uring_submit_and_wait_timeout,
 * io_uring_wait_cqe_timeout, ...) then queues a timeout request of its own,
 * whose CQE the window does not count. With the window as large as the CQ,
 * that is one CQE more than the CQ has slots for.
 */
URING_TEST(mechanism, no_ext_arg_cq_bound, 1,
	   "ubatch_read on a kernel without IORING_FEAT_EXT_ARG (before 5.11) on a ring of 4 "
	   "(CQ 8) at qd 64: never more than 8 requests owed a CQE, liburing's own timeout "
	   "requests counted",
	   "TODO 6: a wait with a time bound is one io_uring_enter only where "
	   "b->ring.features has IORING_FEAT_EXT_ARG; without it liburing queues an "
	   "IORING_OP_TIMEOUT of its own, which takes an SQE and gives a CQE the window does "
	   "not count: check the bit before using a bounded wait, else wait for one "
	   "completion with no time bound (lesson, section 5; man 3 "
	   "io_uring_submit_and_wait_timeout)", 4)
{
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct ubatch b;
	int ret;

	init_or_fail(&b, 4);
	grade_check(b.cq_entries == 8, "ubatch_init(&b, 4) recorded cq_entries %u, the kernel "
		    "gives 8", b.cq_entries);
	b.ring.features &= ~(unsigned)IORING_FEAT_EXT_ARG;
	reqs = block_reqs(fd, n, bs, bufs);
	watch_reset_counts();
	watch.max_inflight = 0;
	watch.overflow = false;
	ret = SEAM_CALL(ubatch_read(&b, reqs, n, 64));
	grade_check(ret == 0, "ubatch_read of %zu reads at qd 64 on a ring of 4 (kernel without "
		    "IORING_FEAT_EXT_ARG) returned %s, expected 0", n, grade_errno_str(ret));
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "no IORING_FEAT_EXT_ARG");
	grade_check(watch.max_inflight <= b.cq_entries && !watch.overflow, "on a kernel without "
		    "IORING_FEAT_EXT_ARG, %u requests were owed a CQE at once on a CQ of %u slots%s: "
		    "with the window full (qd 64, min(qd, cq_entries) = 8 reads), a wait with a "
		    "time bound added liburing's own timeout request (an SQE and a CQE of its "
		    "own). Use the bounded wait only where b->ring.features has "
		    "IORING_FEAT_EXT_ARG", watch.max_inflight, b.cq_entries,
		    watch.overflow ? " and the CQ overflowed" : "");
	free(reqs);
	SEAM_CALL_VOID(ubatch_exit(&b));
	free(bufs);
	close(fd);
	free(data);
}

/*
 * 06.70: the SQ smaller than the window, and the first reads slow. Requests
 * 0-3 are pipes that get their data only once every file read is reaped (or
 * after two seconds in io_uring_enter without that: a stall); on a ring of 4
 * they fill the SQ by themselves, and the file reads behind them must still
 * start. A full SQ is submitted to make room, not waited on. The harness
 * thread is ring_loop.h's stall_thread, with four pipes.
 */
URING_TEST(mechanism, slow_reads_fill_the_sq, 1,
	   "ubatch_read on a ring of 4 (CQ 8) at qd 8: 4 slow reads (pipes) fill the SQ; the 28 "
	   "file reads behind them still start and finish while the pipes wait",
	   "TODO 4: when io_uring_get_sqe finds the SQ full, hand the queued SQEs to the kernel "
	   "(io_uring_submit) and go on queueing: the window is min(qd, cq_entries), which may "
	   "be larger than the SQ. Waiting for a completion there (io_uring_submit_and_wait, "
	   "io_uring_wait_cqe) holds up the reads behind a slow one (lesson, sections 3 and 5)",
	   4)
{
	const size_t np = 4, nf = 28, n = np + nf, bs = 4096, size = nf * bs;
	unsigned char *data, *bufs = grade_xmalloc(size), slow[4][8];
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));
	struct stall_watch s = { .npipes = 4 };
	int p[4][2], ret;
	struct ubatch b;
	pthread_t t;

	for (size_t i = 0; i < np; i++) {
		fault_pipe(p[i], 0);
		reqs[i] = (struct batch_req){ p[i][0], 0, 8, slow[i], 0x5a5a };
		s.pipe_w[i] = p[i][1];
	}
	for (size_t i = 0; i < nf; i++)
		reqs[np + i] = (struct batch_req){ fd, (off_t)(i * bs), bs, bufs + i * bs, 0x5a5a };
	init_or_fail(&b, 4);
	grade_check(b.sq_entries == 4 && b.cq_entries == 8, "ubatch_init(&b, 4) recorded "
		    "sq_entries %u and cq_entries %u; the kernel gives 4 and 8", b.sq_entries,
		    b.cq_entries);
	s.tid = (pid_t)syscall(SYS_gettid);
	s.ring = &b.ring;
	s.others = (unsigned)nf;
	grade_check(pthread_create(&t, NULL, stall_thread, &s) == 0, "harness: pthread_create");
	ret = run_read(&b, reqs, n, 8);
	s.stop = true;
	pthread_join(t, NULL);
	grade_check(ret == 0, "ubatch_read (4 pipes, then 28 file reads, qd 8, ring of 4) "
		    "returned %s, expected 0", grade_errno_str(ret));
	grade_check(!s.stalled, "ubatch_read waited in io_uring_enter for over 2 seconds with "
		    "only %u of the 28 file reads reaped, while requests 0-3 (pipes with no data "
		    "yet) filled the SQ of 4: at qd 8 the window has room for 4 more reads. When "
		    "the SQ is full, submit what is queued and keep queueing; wait only once the "
		    "window is full or every request is started", s.khead_at_write);
	for (size_t i = 0; i < np; i++)
		grade_check(reqs[i].res == 8 && memcmp(slow[i], "SLOWDATA", 8) == 0, "request %zu "
			    "(a pipe): res %s, expected 8", i, grade_errno_str(reqs[i].res));
	for (size_t i = 0; i < nf; i++)
		check_req(&reqs[np + i], np + i, data, size, "behind 4 slow reads");
	check_ring_clean(&b, "after 4 slow reads and 28 file reads");
	SEAM_CALL_VOID(ubatch_exit(&b));
	for (size_t i = 0; i < np; i++)
		close(p[i][0]);
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/*
 * 06.71: 06.59 again, but SRC grows by REGROW_MORE bytes when its bytes come
 * back. A rest read asks for what the block still lacks (want - got); one
 * that asks the whole block again (want, at offset + got into buf + got)
 * reads got bytes past the block's end, into memory past the part of the
 * buffer that is left, and writes them: DST ends 1 byte past SRC's size. A
 * correct copy stops at the size fstat gave (200,000 bytes) or, reading until
 * end of file, copies the grown file whole (300,000): both pass.
 */
#define REGROW_MORE 100000

GRADE_TEST_T(copy, short_read_rest_only, 1,
	     "copy: SRC cut 1 byte into its last block read at the first submit of reads, given its "
	     "bytes back and 100,000 more at the next: the short read's rest asks only for what the "
	     "block lacks (DST is SRC as it was, or as it grew; never 1 byte more)",
	     COPY_TODO_OFFSET " (read done): the rest of a short read is want - got bytes, read at "
	     "offset + got into buf + got: asking for the whole block again from there reads past "
	     "the block's end into memory past what is left of its buffer (lesson, \"The "
	     "program\")", 20)
{
	const char *dst = grade_path("regrow-more-dst");
	struct regrow_ctx g = { 0 };
	unsigned char *back;
	size_t backlen;
	bool as_was, as_grew;

	if (!regrow_run(&g, REGROW_MORE, dst))
		return;
	back = grade_slurp(dst, &backlen);
	as_was = back && backlen == REGROW_SIZE && grade_first_diff(back, g.data, backlen) < 0;
	as_grew = back && backlen == REGROW_SIZE + REGROW_MORE &&
		  grade_first_diff(back, g.data, backlen) < 0;
	grade_check(as_was || as_grew, "copy exited 0 but DST %s (%zu bytes): SRC of %d bytes "
		    "was cut to %llu while its first reads were submitted (the last of them, at "
		    "offset %llu, came back short: 1 byte), then had its bytes again and %d more "
		    "before the next submit. Expected DST to be SRC's first %d bytes (its size "
		    "when the copy began) or the grown SRC whole. %s",
		    !back ? "does not exist" : "is neither", back ? backlen : 0, REGROW_SIZE,
		    g.cut, g.cut - 1, REGROW_MORE, REGROW_SIZE,
		    back && backlen > REGROW_SIZE && backlen < REGROW_SIZE + REGROW_MORE ?
		    "DST runs past the block's end: the rest of the short read asked for the "
		    "whole block again (want bytes) at offset + got, instead of want - got" :
		    "The rest of a short read goes to buf + got and is read at offset + got");
	free(back);
	free(g.data);
}

/* ------------------------------------------------ a SRC past 4 GiB (64-bit offsets) */

/*
 * Lesson, "The program": sizes and offsets stay in off_t. A SRC over 4 GiB
 * on disk would cost the test gigabytes of writes, so SRC is a memfd (a
 * regular file in memory: fstat says S_ISREG, and its holes read as zeros
 * without being stored), 4 GiB + 64 MiB + 1 bytes of zeros but its last
 * 4096 bytes, none of them 0, handed to copy as /proc/self/fd/N (copy
 * inherits the descriptor), and DST is a FIFO that the test reads to its
 * end, so nothing is stored either. A FIFO keeps the order in which writes
 * complete, not their offsets, so the test counts: every byte must come
 * through, and the 4096 non-zero ones among them. A block's offset kept in
 * 32 bits wraps at 4 GiB: the last blocks are read from the start of SRC
 * again (zeros), and the non-zero bytes never arrive.
 */
#define BIG_MARK 4096u
#define BIG_SIZE ((4ull << 30) + (64ull << 20) + 1)
/* copy's memory for that SRC: at most 1 GiB (the reference: a few MiB). */
#define BIG_RSS_MAX_KIB (1024 * 1024)

/* How many of n bytes are not 0. */
static unsigned long long big_nonzero(const unsigned char *p, size_t n)
{
	unsigned long long count = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w)
			for (int k = 0; k < 8; k++)
				count += p[i + k] != 0;
	}
	for (; i < n; i++)
		count += p[i] != 0;
	return count;
}

GRADE_TEST_T(copy, source_past_4gib, 1,
	     "copy: a SRC of 4 GiB + 64 MiB (in memory) into a FIFO: every byte comes through, the "
	     "last ones (past 4 GiB, not zeros) too, exit 0, in bounded memory (under 1 GiB)",
	     COPY_TODO_BLOCKS ": a block's offset, the next block's offset and SRC's size are "
	     "off_t (64 bits), never int or unsigned: in 32 bits the offset wraps at 4 GiB and the "
	     "blocks past it are read (and written) at the start of the file again (lesson, "
	     "\"The program\", pitfall 31). And the buffers are a fixed set, allocated once and "
	     "reused block after block: memory that grows with SRC is pitfall 34", 60)
{
	const char *fifo = grade_path("big-dst");
	unsigned long long got = 0, nonzero = 0;
	const size_t cap = 1u << 20;
	unsigned char mark[BIG_MARK], *buf = grade_xmalloc(cap);
	char src[64];
	struct prog_proc p;
	bool ended = false;
	long start;
	int fd, rfd, ws = 0;

	copy_setup();
	copy_must_work();
	for (unsigned i = 0; i < BIG_MARK; i++)
		mark[i] = (unsigned char)(1 + i % 255);
	fd = memfd_create("copy-src-past-4gib", 0); /* no CLOEXEC: copy inherits it */
	grade_check(fd >= 0, "harness: memfd_create: %s", strerror(errno));
	grade_check(ftruncate(fd, (off_t)BIG_SIZE) == 0 &&
		    pwrite(fd, mark, BIG_MARK, (off_t)(BIG_SIZE - BIG_MARK)) == (ssize_t)BIG_MARK,
		    "harness: a memfd of %llu bytes: %s", BIG_SIZE, strerror(errno));
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));
	/* Opened first, without waiting for a writer: copy's open of DST finds
	 * a reader. A bigger pipe: fewer trips for both sides. */
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	grade_check(rfd >= 0, "harness: open the FIFO: %s", strerror(errno));
	(void)fcntl(rfd, F_SETPIPE_SZ, (int)cap);
	{
		const char *argv[] = { copy_program(), src, fifo, NULL };

		prog_start(&p, argv, false);
	}
	close(fd);
	/* Read until copy has ended and the FIFO is empty; 50 s at most (the
	 * reference takes 5 s on an idle machine, 16 s on a busy one). Before
	 * copy opens DST, and after it closes it, a read finds no writer and
	 * returns 0. */
	start = fault_now_ms();
	while (fault_now_ms() - start < 50000L * GRADE_SAN_TIME_SCALE) {
		ssize_t k = SEAM_REAL(read)(rfd, buf, cap);

		if (k > 0) {
			got += (unsigned long long)k;
			nonzero += big_nonzero(buf, (size_t)k);
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (ended)
			break; /* copy is gone and the FIFO is empty */
		ended = prog_wait(p.pid, 0, &ws);
		if (!ended) {
			struct pollfd pf = { .fd = rfd, .events = POLLIN };

			SEAM_REAL(poll)(&pf, 1, 10);
		}
	}
	close(rfd);
	free(buf);
	if (!ended && !prog_wait(p.pid, 1000, &ws)) {
		prog_kill_all();
		grade_fail("copy of a %llu-byte SRC (4 GiB + 64 MiB + 1, a memfd named /proc/self/fd/%d) "
			   "into a FIFO had not ended after %d s; the FIFO had given %llu bytes",
			   BIG_SIZE, fd, 50 * GRADE_SAN_TIME_SCALE, got);
	}
	grade_check(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "copy of a %llu-byte SRC (4 GiB + 64 MiB "
		    "+ 1, a memfd named /proc/self/fd/%d) into a FIFO: %s, expected exit status 0; "
		    "stderr: %s. Sizes and offsets beyond 2 and 4 GiB need off_t", BIG_SIZE, fd,
		    prog_status_text(ws), prog_proc_stderr(&p));
	grade_check(got == BIG_SIZE, "copy of a %llu-byte SRC into a FIFO exited 0, but the FIFO "
		    "gave %llu bytes: %s", BIG_SIZE, got, got < BIG_SIZE ? "the copy stopped short "
		    "(a size or an offset in 32 bits?)" : "more than SRC has");
	grade_check(nonzero == BIG_MARK, "copy of a %llu-byte SRC into a FIFO exited 0 and the FIFO "
		    "gave every byte, but %llu of the %u non-zero bytes SRC has at its end (past 4 GiB): "
		    "the blocks past 4 GiB were read from somewhere else. A block's offset kept in 32 "
		    "bits (unsigned, int) wraps at 4 GiB: keep offsets and sizes in off_t",
		    BIG_SIZE, nonzero, BIG_MARK);
	/* The largest resident set of any child this test reaped: copy's
	 * (copy_must_work's run is a few MiB). A fixed set of buffers costs the
	 * same for 4 GiB as for 4 KiB; buffers sized by SRC, or one allocated
	 * per block and never freed, take SRC's size. */
	{
		struct rusage ru;

		grade_check(getrusage(RUSAGE_CHILDREN, &ru) == 0, "harness: getrusage: %s",
			    strerror(errno));
		grade_check(ru.ru_maxrss < BIG_RSS_MAX_KIB, "copy of a %llu-byte SRC (4 GiB + 64 MiB "
			    "+ 1) into a FIFO was right, but its memory grew to %ld MiB (its largest "
			    "resident set, getrusage ru_maxrss; at most %d MiB allowed): it holds SRC "
			    "in memory, buffers sized by SRC's size or a buffer allocated for each "
			    "block and never freed. Allocate a fixed set of buffers once (the lesson: "
			    "8 blocks of 128 KiB) and reuse each one block after block, whatever SRC's "
			    "size (" COPY_TODO_BLOCKS "; lesson, \"The program\", pitfall 34)",
			    BIG_SIZE, ru.ru_maxrss / 1024, BIG_RSS_MAX_KIB / 1024);
	}
}

/* ---------------------------------------- a DST the program may write but not read */

/*
 * Lesson, "The program": copy writes DST; it never reads it, so it opens it
 * for writing only (O_WRONLY), and copies into a file or a directory it may
 * write but not read (a file of mode 0200, a drop box). Graded as root,
 * modes would not refuse anything, so the test takes the right away with a
 * Landlock layer of its own: in the child that runs copy, opening a file for
 * reading is refused beneath DST's directory, and allowed everywhere else
 * (SRC, the program, its libraries). Landlock only grants rights, so the
 * layer grants reading beneath every entry of every directory on the way
 * from / to DST's directory except the next one on that way. O_RDWR (or
 * O_RDONLY) on DST is then refused with EACCES, O_WRONLY works; fstat,
 * ftruncate and writes need no right to read.
 */
extern long __real_syscall(long sysno, ...);

/* Grant reading beneath `path` (a directory or a file) in `ruleset`. */
static void wo_grant_read(int ruleset, const char *path, const struct stat *way)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE };
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return;
	/* an entry that leads back onto the way (a link to it) is left out */
	if (fstat(fd, &st) == 0 && !(way && st.st_dev == way->st_dev && st.st_ino == way->st_ino)) {
		rule.parent_fd = fd;
		(void)__real_syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
				     &rule, 0);
	}
	close(fd);
}

/* In the child: from now on, files beneath `dir` cannot be opened for
 * reading; everything else can. 0, or -1 without Landlock. */
static int wo_reads_refused_beneath(const char *dir)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE };
	char real[PATH_MAX], cur[PATH_MAX] = "", entry[PATH_MAX + 256];
	const char *p;
	int ruleset, ret = -1;

	if (!realpath(dir, real) || real[0] != '/')
		return -1;
	ruleset = (int)__real_syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return -1;
	for (p = real + 1; *p;) {
		size_t len = strcspn(p, "/");
		char next[PATH_MAX];
		struct stat way;
		struct dirent *e;
		DIR *d = opendir(cur[0] ? cur : "/");

		snprintf(next, sizeof(next), "%s/%.*s", cur, (int)len, p);
		if (stat(next, &way) != 0) {
			if (d)
				closedir(d);
			close(ruleset);
			return -1;
		}
		/* a directory we may cross but not list: nothing granted beside the way */
		while (d && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    (strlen(e->d_name) == len && strncmp(e->d_name, p, len) == 0))
				continue;
			snprintf(entry, sizeof(entry), "%s/%s", cur, e->d_name);
			wo_grant_read(ruleset, entry, &way);
		}
		if (d)
			closedir(d);
		snprintf(cur, sizeof(cur), "%s", next);
		p += len;
		while (*p == '/')
			p++;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    __real_syscall(SYS_landlock_restrict_self, ruleset, 0) == 0)
		ret = 0;
	close(ruleset);
	return ret;
}

/* DST's directory, and a file in it that must refuse reading. */
struct wo_place {
	const char *dir, *probe;
};

/* In the child: reading refused beneath the directory (proved on its probe),
 * SRC still readable. */
static int wo_confine(const char *src, const void *arg)
{
	const struct wo_place *at = arg;
	int fd;

	if (wo_reads_refused_beneath(at->dir) != 0)
		return CONFINED_NONE;
	if (!confined_open_refused(at->probe, O_RDWR))
		return CONFINED_NOT_REFUSED;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return CONFINED_NOT_REFUSED;
	close(fd);
	return 0;
}

static const struct confinement wo_unreadable_dir = {
	.confine = wo_confine,
	.landlock_takes = "read DST",
	.not_refused = "harness: under the test's Landlock layer a file in DST's directory could "
		       "still be opened for reading, or SRC could not",
};

GRADE_TEST_T(copy, destination_write_only, 1,
	     "copy: into a directory it may write but not read (open for reading refused there: "
	     "EACCES, also as root), a new DST and an existing one are written byte for byte",
	     COPY_TODO_OPEN ": DST is only written: open it O_WRONLY. O_RDWR asks for a right copy "
	     "does not need, and a file or a directory you may write but not read (mode 0200, a "
	     "drop box) refuses it (man 2 open, EACCES; lesson, \"The program\", pitfall 32)", 20)
{
	const size_t size = 300001;
	unsigned char *data, *back;
	const char *prog, *src, *dir, *errpath;
	struct wo_place at;
	char dst[4200], probe[4200], errline[200] = "";
	size_t backlen;

	copy_setup();
	copy_must_work();
	prog = copy_program();
	data = grade_random_bytes(size);
	src = grade_make_file("wo-src", data, size);
	dir = grade_path("wo-out");
	errpath = grade_path("wo-stderr");
	grade_check(mkdir(dir, 0755) == 0, "harness: mkdir %s: %s", dir, strerror(errno));
	snprintf(probe, sizeof(probe), "%s/old-dst", dir);
	at = (struct wo_place){ .dir = dir, .probe = probe };
	{
		unsigned char *old = malloc(size + 100000);

		grade_check(old != NULL, "harness: out of memory");
		memset(old, 'x', size + 100000);
		grade_make_file("wo-out/old-dst", old, size + 100000);
		free(old);
	}
	for (int round = 0; round < 2; round++) {
		const char *which = round == 0 ? "a new DST" : "an existing DST (longer, other bytes)";
		int status;

		snprintf(dst, sizeof(dst), "%s/%s", dir, round == 0 ? "new-dst" : "old-dst");
		status = confined_run(prog, src, dst, errpath, false, &wo_unreadable_dir, &at,
				      "copy into a directory it may write but not read");
		confined_first_line(errpath, errline, sizeof(errline));
		grade_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "copy of a %zu-byte SRC to %s in a directory it may write but not read: "
			    "%s %d (stderr: \"%s\"), expected exit status 0. Open DST with O_WRONLY: it "
			    "is only written, and a file you may write but not read refuses O_RDWR "
			    "with EACCES (" COPY_TODO_OPEN ")", size, which,
			    WIFEXITED(status) ? "exit status" : "killed by signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), errline);
		back = grade_slurp(dst, &backlen);
		grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
			    "copy of a SRC to %s it may only write exited 0, but DST %s", which,
			    !back ? "does not exist" : backlen != size ? "has the wrong size" :
			    "differs from SRC");
		free(back);
	}
	free(data);
}

/* ------------------------------------ no state kept between calls (static) */

/* The completions the first wait of a call asks for, whatever liburing
 * call makes it: decided by the module before any completion can matter. */
static unsigned first_wait_nr;

static void record_first_wait(struct io_uring *ring, unsigned nr)
{
	(void)ring;
	if (first_wait_nr == 0)
		first_wait_nr = nr;
}

struct late_feed {
	int w[2];
	int ms;
};

static void *feed_late(void *arg)
{
	struct late_feed *f = arg;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = f->ms * 1000000L };

	seam_mark_harness_thread();
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	for (int i = 0; i < 2; i++) {
		if (SEAM_REAL(write)(f->w[i], "LATEDATA", 8) != 8)
			grade_fail("harness: writing to a pipe failed");
		close(f->w[i]);
	}
	return NULL;
}

/* The same batch on a fresh ring of the same size, before and after a call
 * on another ring that met a slow read: a module that keeps no state
 * between calls outside b (ubatch.h) asks the same of its first wait both
 * times. */
static unsigned first_wait_of(const unsigned char *data, int fd, unsigned char *arena)
{
	struct batch_req reqs[8];
	struct ubatch a;
	int ret;

	for (int i = 0; i < 8; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
	init_or_fail(&a, 16);
	first_wait_nr = 0;
	watch.before_wait = record_first_wait;
	ret = run_read(&a, reqs, 8, 8);
	watch.before_wait = NULL;
	grade_check(ret == 0, "ubatch_read of 8 cached blocks (qd 8, a fresh ring of 16) returned "
		    "%s, expected 0", grade_errno_str(ret));
	for (size_t i = 0; i < 8; i++)
		check_req(&reqs[i], i, data, 8 * 4096, "8 cached blocks on a fresh ring");
	check_ring_clean(&a, "after 8 cached blocks");
	SEAM_CALL_VOID(ubatch_exit(&a));
	return first_wait_nr;
}

URING_TEST(mechanism, no_state_between_rings, 1,
	   "ubatch_read keeps no state outside b: the same batch on a fresh ring waits the same "
	   "way before and after another ring's call met slow reads (pipes fed after 200 ms)",
	   "ubatch.h: every function keeps a call's state in b and in its own variables, never "
	   "in a static or a global one. Whether the reads are slow (the bounded wait ran out, "
	   "TODO 6) belongs to one call: keep it in the call's state, not in a static that "
	   "makes every later call, on every ring and in every thread, wait one completion at a "
	   "time (lesson, section 5 and pitfall 22)", 16)
{
	const size_t size = 8 * 4096;
	unsigned char *data, *arena = grade_xmalloc(size), slow[2][8];
	int fd = data_file("f", size, &data);
	struct batch_req reqs[6];
	struct late_feed feed;
	struct ubatch other;
	unsigned before, after;
	pthread_t t;
	int p[2][2], ret;

	before = first_wait_of(data, fd, arena);

	/* Another ring: 4 cached blocks and two pipes that get their bytes
	 * only after 200 ms, long after any wait bounded in time ran out. */
	for (int i = 0; i < 2; i++)
		fault_pipe(p[i], 0);
	for (int i = 0; i < 4; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
	for (int i = 0; i < 2; i++)
		reqs[4 + i] = (struct batch_req){ p[i][0], 0, 8, slow[i], 1 };
	init_or_fail(&other, 16);
	feed = (struct late_feed){ { p[0][1], p[1][1] }, 200 };
	grade_check(pthread_create(&t, NULL, feed_late, &feed) == 0, "harness: pthread_create");
	ret = run_read(&other, reqs, 6, 8);
	pthread_join(t, NULL);
	grade_check(ret == 0 && reqs[4].res == 8 && reqs[5].res == 8 &&
		    memcmp(slow[0], "LATEDATA", 8) == 0 && memcmp(slow[1], "LATEDATA", 8) == 0,
		    "ubatch_read of 4 cached blocks and 2 pipes fed after 200 ms returned %s, the "
		    "pipes' res %s and %s; expected 0, 8 and 8", grade_errno_str(ret),
		    grade_errno_str(reqs[4].res), grade_errno_str(reqs[5].res));
	SEAM_CALL_VOID(ubatch_exit(&other));
	for (int i = 0; i < 2; i++)
		close(p[i][0]);

	after = first_wait_of(data, fd, arena);
	grade_check(before == after, "the same batch (8 cached blocks, qd 8) on a fresh ring of 16 "
		    "first waited for %u completion(s); after a call on another ring met slow "
		    "reads it first waited for %u: something of that call was kept outside b (a "
		    "static or a global: whether the reads are slow, the wait policy). ubatch.h: a "
		    "call's state lives in b and in the call's own variables (TODO 6; lesson, "
		    "pitfall 22)", before, after);
	close(fd);
	free(arena);
	free(data);
}

/* ------------------------------- -EAGAIN while a slow read is in the kernel */

/* The harness thread of 06.75: pipe F gets its bytes after F_MS; pipe S
 * only once every other request's CQE has been consumed (the CQ head has
 * moved past them), or, if that never happens, STALL_MS after F's: then
 * the call waited for S along with the others. */
#define EAGAIN_SLOW_F_MS 100
#define EAGAIN_SLOW_STALL_MS 2000

struct eagain_slow {
	const struct io_uring *ring;
	unsigned others;       /* CQEs to consume before S is fed            */
	int f_w, s_w;
	bool stalled;
	volatile bool stop;
};

static void *eagain_slow_thread(void *arg)
{
	struct eagain_slow *e = arg;
	long start = fault_now_ms();
	bool f_fed = false;

	seam_mark_harness_thread();
	while (!e->stop) {
		long now = fault_now_ms();

		if (!f_fed && now - start >= EAGAIN_SLOW_F_MS) {
			if (SEAM_REAL(write)(e->f_w, "FASTDATA", 8) != 8)
				e->stalled = true;
			close(e->f_w);
			f_fed = true;
		}
		if (f_fed && __atomic_load_n(e->ring->cq.khead, __ATOMIC_ACQUIRE) >= e->others)
			break;
		if (now - start >= EAGAIN_SLOW_F_MS + EAGAIN_SLOW_STALL_MS) {
			e->stalled = true;
			break;
		}
		fault_nap();
	}
	if (!f_fed)
		close(e->f_w);
	if (SEAM_REAL(write)(e->s_w, "SLOWDATA", 8) != 8)
		e->stalled = true;
	close(e->s_w);
	return NULL;
}

/* A wait that ran out of time (-ETIME) has not waited for a completion:
 * the kernel is still short of resources for the next submit. */
static int eagain_slow_after_wait(struct io_uring *ring, int ret)
{
	(void)ring;
	if (ret == -ETIME)
		watch.waited = false;
	return ret;
}

URING_TEST(faults, eagain_while_reads_are_slow, 1,
	   "ubatch_read: -EAGAIN from submits while two pipes are in the kernel (one fed after "
	   "100 ms, one only once every other read is back): the call waits for a completion, "
	   "however long it takes, one at a time, and finishes the batch",
	   "TODO 6: after -EAGAIN or -EBUSY with reads in the kernel, wait for one completion "
	   "(io_uring_wait_cqe), without a time limit: a read may take long, and a wait that ran "
	   "out freed nothing, so counting it towards giving up ends a batch that was only slow. "
	   "And wait for one, not for every read in the kernel: one of them may be the slowest "
	   "of all (lesson, section 7)", 16)
{
	const size_t size = 8 * 4096;
	unsigned char *data, *arena = grade_xmalloc(size), fbuf[8], sbuf[8];
	int fd = data_file("f", size, &data);
	struct batch_req reqs[10];
	struct eagain_slow e = { 0 };
	struct ubatch b;
	pthread_t t;
	int pf[2], ps[2], ret;

	fault_pipe(pf, 0);
	fault_pipe(ps, 0);
	reqs[0] = (struct batch_req){ ps[0], 0, sizeof(sbuf), sbuf, 1 };
	reqs[1] = (struct batch_req){ pf[0], 0, sizeof(fbuf), fbuf, 1 };
	for (int i = 0; i < 8; i++)
		reqs[2 + i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
	init_or_fail(&b, 16);
	e.ring = &b.ring;
	e.others = 9;
	e.f_w = pf[1];
	e.s_w = ps[1];
	/* -EAGAIN from every submit with SQEs queued while a read is in the
	 * kernel, until the code really waits (harness/lib/ring_watch.h). */
	watch.eagain_until_wait = true;
	watch.after_wait = eagain_slow_after_wait;
	grade_check(pthread_create(&t, NULL, eagain_slow_thread, &e) == 0,
		    "harness: pthread_create");
	ret = run_read(&b, reqs, 10, 8);
	e.stop = true;
	pthread_join(t, NULL);
	watch.eagain_until_wait = false;
	watch.after_wait = NULL;
	grade_check(watch.eagains > 0, "harness: no -EAGAIN was injected (the call never "
		    "submitted with a read in the kernel)");
	grade_check(ret == 0, "ubatch_read returned %s after %u -EAGAIN(s) from submits while "
		    "pipes were in the kernel, expected 0: the reads were only slow (one came after "
		    "%d ms). After -EAGAIN with reads in the kernel, wait for a completion without a "
		    "time limit; a wait that ran out is not progress (TODO 6; lesson, section 7)",
		    grade_errno_str(ret), watch.eagains, EAGAIN_SLOW_F_MS);
	grade_check(ret != 0 || !e.stalled, "after -EAGAIN from a submit, ubatch_read waited for over %d ms "
		    "without consuming the CQEs of the reads that were done or could be: it waited "
		    "for every read in the kernel at once (io_uring_wait_cqe_nr), and one of them "
		    "(a pipe) gets its data only once the others are back. Wait for one "
		    "completion, reap it, go on (TODO 6; lesson, section 7)", EAGAIN_SLOW_STALL_MS);
	if (ret == 0) {
		grade_check(reqs[0].res == 8 && memcmp(sbuf, "SLOWDATA", 8) == 0 &&
			    reqs[1].res == 8 && memcmp(fbuf, "FASTDATA", 8) == 0,
			    "the pipes' results: res %s and %s, expected 8 and 8",
			    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));
		for (size_t i = 2; i < 10; i++)
			check_req(&reqs[i], i, data, size, "beside -EAGAIN and slow pipes");
		check_ring_clean(&b, "after -EAGAIN and slow pipes");
	}
	SEAM_CALL_VOID(ubatch_exit(&b));
	close(pf[0]);
	close(ps[0]);
	close(fd);
	free(arena);
	free(data);
}

/*
 * SRC and DST on two filesystems with the same inode number: two files, so
 * copied (ino_pair.h makes the pair where the sandbox gives /tmp and /dev
 * tmpfs mounts of their own; elsewhere the copy still goes from one
 * filesystem onto another, which a correct program handles the same way).
 * SRC is empty: the harness may create files beneath /tmp but not write
 * them (grade.c, limit_writes); DST gets old contents, so a copy that did
 * nothing is seen too. After the battery (06.24's same file), so earlier
 * numbers stay.
 */
GRADE_TEST(copy, same_inode_number_elsewhere, 1,
	   "copy: an empty SRC onto a longer DST of another filesystem whose inode number is the "
	   "same (same st_ino, other st_dev): not the same file, so exit 0 and DST emptied",
	   COPY_TODO_OPEN ": SRC and DST are the same file only when BOTH st_dev and st_ino of "
	   "the two open files are equal; an inode number is unique within one filesystem only, "
	   "and another filesystem can have a file with the same number (man 7 inode, \"st_dev\" "
	   "and \"st_ino\"; pitfall 26)")
{
	struct ino_pair p;
	struct prog_result r;
	struct stat st;
	bool paired;
	int fd;

	copy_setup();
	copy_must_work();
	paired = ino_pair_find("/tmp", "/dev/shm", &p);
	if (!paired) {
		snprintf(p.a, sizeof(p.a), "%s", grade_make_file("empty", "", 0));
		snprintf(p.b, sizeof(p.b), "/dev/shm/course-ino-b-%d", (int)getpid());
	}
	fd = grade_open(p.b, O_WRONLY | O_CREAT | O_TRUNC);
	grade_check(SEAM_REAL(write)(fd, "old contents", 12) == 12, "harness: cannot write %s: %s",
		    p.b, strerror(errno));
	close(fd);
	run_copy(p.a, p.b, &r, NULL);
	grade_check(stat(p.b, &st) == 0, "harness: stat %s: %s", p.b, strerror(errno));
	unlink(p.a);
	unlink(p.b);
	grade_check(r.exited && r.status == 0, "copy %s %s of an empty SRC: %s, expected exit "
		    "status 0; stderr: %s. The two are different files on two filesystems%s", p.a,
		    p.b, prog_ending(&r), prog_stderr_line(&r), paired ? " that happen to have the "
		    "same inode number. Equal st_ino alone does not make the same file: compare "
		    "st_dev too (man 7 inode; pitfall 26, " COPY_TODO_OPEN ")" : "");
	grade_check(st.st_size == 0, "after copying an empty SRC onto a 12-byte DST of another "
		    "filesystem, DST has %lld bytes, expected 0 (truncated when opened)",
		    (long long)st.st_size);
}

/* --------------------------------------- copy waits in the kernel, it does not spin */

/*
 * 06.77: while nothing can move (DST a FIFO whose reader takes nothing, the
 * pipe full, SRC read long ago), a program that waits for a completion
 * sleeps in io_uring_enter. One that polls the CQ (io_uring_peek_cqe in a
 * loop, io_uring_submit with no wait) is on a CPU the whole time.
 * The harness looks at the program's threads 40 times over about 400 ms
 * (/proc/PID/task/TID/syscall says "running" for a thread on a CPU or
 * waiting for one): a sleeping thread reads the same on an idle machine and
 * on a busy one, so the margin is wide (a waiting program is running in
 * none of the samples; more than half fails). The kernel's io_uring worker
 * threads (named iou-*) are not the program's: they are left out.
 */
#define SPIN_SAMPLES 40

/* How many of pid's own threads are on a CPU (or runnable) now; -1 if
 * /proc/PID/task cannot be read (the program ended). */
static int copy_threads_running(pid_t pid)
{
	char dir[64];
	struct dirent *e;
	int running = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[400], comm[32] = "";
		struct task_call c;
		ssize_t k;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			k = SEAM_REAL(read)(fd, comm, sizeof(comm) - 1);
			comm[k > 0 ? k : 0] = '\0';
			close(fd);
		}
		if (strncmp(comm, "iou-", 4) == 0)
			continue; /* the kernel's io_uring worker (iou-wrk-*) */
		if (task_call_read(pid, (pid_t)atoi(e->d_name), &c) == 0 && c.running)
			running++;
	}
	closedir(d);
	return running;
}

GRADE_TEST_T(copy, waits_without_spinning, 1,
	     "copy into a FIFO whose reader takes nothing for a while: with the pipe full, the "
	     "program sleeps in the kernel until the reader comes back (it does not poll the CQ "
	     "in a loop), then finishes",
	     COPY_TODO_BLOCKS ": when nothing is ready, wait for a completion inside "
	     "io_uring_enter (io_uring_submit_and_wait, io_uring_wait_cqe): the kernel wakes you "
	     "when a request completes. A loop around io_uring_peek_cqe (or io_uring_submit "
	     "with no wait, then a look at the CQ) keeps a CPU busy for as long as the slowest "
	     "request takes (lesson, \"The program\", pitfall 33)", 30)
{
	const size_t size = 300000;
	unsigned char *data = grade_random_bytes(size), *back = grade_xmalloc(size + 1);
	const char *src, *fifo = grade_path("spin-fifo");
	struct prog_proc p;
	size_t got = 0, full;
	int rfd, cap, ws = 0, queued = 0, samples = 0, busy = 0;
	bool ended = false;
	long start;

	copy_setup();
	copy_must_work();
	src = grade_make_file("spin-src", data, size); /* after copy_must_work's files */
	grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));
	/* Opened first, without waiting for a writer: copy's open of DST finds
	 * a reader and does not block. */
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	grade_check(rfd >= 0, "harness: open the FIFO: %s", strerror(errno));
	cap = fcntl(rfd, F_GETPIPE_SZ);
	full = cap > 0 && (size_t)cap < size ? (size_t)cap : size;
	{
		const char *argv[] = { copy_program(), src, fifo, NULL };

		prog_start(&p, argv, false);
	}

	/* Until the pipe is full: from then on, only the reader can free
	 * anything. */
	start = fault_now_ms();
	while (!(ended = copy_ended(p.pid)) && fault_now_ms() - start < 5000L * GRADE_SAN_TIME_SCALE) {
		if (ioctl(rfd, FIONREAD, &queued) == 0 && (size_t)queued >= full)
			break;
		fault_nap();
	}
	/* A moment to settle (its last reads complete, it queues the writes
	 * it can), then the samples, 10 ms apart. */
	if (!ended) {
		struct pollfd none = { .fd = -1 };

		SEAM_REAL(poll)(&none, 1, 50);
	}
	for (int i = 0; i < SPIN_SAMPLES && !ended; i++) {
		struct pollfd none = { .fd = -1 };
		int r = copy_threads_running(p.pid);

		if (r < 0 || (ended = copy_ended(p.pid)))
			break;
		samples++;
		busy += r > 0;
		SEAM_REAL(poll)(&none, 1, 10);
	}

	/* Read it all: until end of file (copy closed DST or ended). */
	start = fault_now_ms();
	while (got <= size && fault_now_ms() - start < 5000L * GRADE_SAN_TIME_SCALE) {
		ssize_t k = SEAM_REAL(read)(rfd, back + got, size + 1 - got);

		if (k > 0) {
			got += (size_t)k;
		} else if (k == 0) {
			if (copy_ended(p.pid) || got == size)
				break;
			fault_nap(); /* no writer yet, or between two writes */
		} else if (errno == EAGAIN) {
			struct pollfd pf = { .fd = rfd, .events = POLLIN };

			SEAM_REAL(poll)(&pf, 1, 100);
		} else if (errno != EINTR) {
			break;
		}
	}
	close(rfd);
	if (!prog_wait(p.pid, 5000 * GRADE_SAN_TIME_SCALE, &ws)) {
		prog_kill_all();
		grade_fail("copy SRC FIFO (%zu bytes): the program had not ended 5 s after the "
			   "harness read %zu bytes", size, got);
	}
	grade_check(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "copy SRC FIFO: %s, expected exit "
		    "status 0; stderr: %s", prog_status_text(ws), prog_proc_stderr(&p));
	/* Several blocks' writes may wait on the pipe at once, and a FIFO
	 * keeps the order in which they complete: compare what came, not
	 * where (how many of each byte value). */
	{
		size_t count[256] = { 0 };
		bool same = got == size;

		for (size_t i = 0; same && i < size; i++) {
			count[data[i]]++;
			count[back[i]]--;
		}
		for (int v = 0; same && v < 256; v++)
			same = count[v] == 0;
		grade_check(same, "copy SRC FIFO: the reader got %zu bytes (SRC has %zu)%s", got,
			    size, got == size ? ", not SRC's bytes (counted by value)" : "");
	}
	grade_check(busy * 2 <= samples, "copy SRC FIFO: while the pipe was full and the reader "
		    "took nothing (about %d ms), one of the program's threads was on a CPU in %d "
		    "of %d looks (/proc/PID/task/TID/syscall said \"running\"); a program that "
		    "waits for a completion sleeps in io_uring_enter meanwhile (0 of %d). It spins: "
		    "it polls the CQ (io_uring_peek_cqe in a loop, io_uring_submit without a wait) "
		    "instead of waiting in io_uring_enter (io_uring_submit_and_wait)",
		    samples * 10, busy, samples, samples);
	close(p.out);
	free(back);
	free(data);
}
