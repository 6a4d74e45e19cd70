/*
 * ring_loop.h - the tests of a batch read's loop on one io_uring that go
 * beyond its faults (ring_faults.h), written once for the chapters whose
 * module runs that loop (06's ubatch_read, written by the learner; 08's
 * ufixed_read, given in the skeleton or pasted from chapter 06):
 *   rl_slow_read_no_stall          one slow read (a pipe) does not stall the
 *                                  window (n 33-47, qd 4 and 8)
 *   rl_held_reads_sleep            reads that all wait: the call sleeps in
 *                                  the kernel, -ETIME is no error
 *   rl_eagain_every_other_call     -EAGAIN at every other call, with
 *                                  progress between: the batch finishes
 *   rl_drain_through_signal        a signal and a second's wait during the
 *                                  drain after -EBADR: the drain goes on,
 *                                  -EBADR is returned as it came
 *   rl_ebusy_forever               -EBUSY for good ends the batch; the next
 *                                  call starts its count from 0
 *   rl_two_threads_two_rings       another thread's ring and calls beside a
 *                                  call asleep: no state shared
 *   rl_window_full_at_every_wait   12 pipes at qd 4: the window refilled
 *                                  before every wait
 *   rl_give_up_drains              giving up on -EAGAIN / -EBUSY drains first
 *   rl_window_beyond_16_bits       qd 65536 and UINT_MAX on a ring of 32768
 *   rl_rest_without_sqe_keeps_its_turn  a rest with no SQE keeps its CQE
 *   rl_wait_within_inflight        never a wait for more than is in flight
 *   rl_whole_batch_one_window      the one-call batch read hands its array
 *                                  over whole: 1500 requests, one slow
 *
 * Each is a static function: the chapter keeps its own graded test (number,
 * points, title, hint, time limit, all its own) where it stands in tests.c,
 * and calls the function from its body, so that the tests' numbers do not
 * move when this file changes. The failure messages name the chapter's
 * functions and TODOs through the macros below.
 *
 * Included once by a chapter's tests.c (which includes ring_watch.h,
 * batch_checks.h, faults.h and tasks.h first), after defining:
 *   RL_STATE                    the module's state type (struct ubatch);
 *                               its members ring, live, sq_entries and
 *                               cq_entries are read
 *   RL_RAW_INIT(b, entries)     set a ring up, as the module's own call
 *                               (returns 0 or -errno)
 *   RL_RAW_TABLES(b, bufs, len, fd)  fill the chapter's tables for reads of
 *                               fd into bufs (0 or -errno; 0 where there
 *                               are none); called from another thread
 *   RL_RAW_READ(b, reqs, n, qd) the loop's batch read on b
 *   RL_RAW_EXIT(b)              tear the ring down
 *   RL_RAW_BATCH(reqs, n, qd)   the one-call batch read
 *   RL_BATCH_TODO               the TODO of the one-call batch read ("TODO 9")
 *   RL_INIT(b, entries)         set a ring up or fail the test
 *   RL_TABLES(b, bufs, len, fd) fill the tables or fail the test
 *   RL_READ(b, reqs, n, qd)     one watched RL_RAW_READ, returning its result
 *   RL_EXIT(b)                  tear the ring down, through the seams
 *   RL_CLEAN(b, when)           check the ring is left empty
 *   RL_ALLOC(len)               the buffers of reads through the tables
 *                               (freed with free)
 *   RL_FN, RL_BATCH_FN, RL_INIT_FN  the functions' names, string literals
 *   RL_INIT_WHAT                what the other thread's set-up was ("ubatch_init")
 *   RL_OTHER_CALLS              the calls the other thread makes on its ring
 *                               ("ubatch_init, ubatch_read and ubatch_exit")
 *   RL_VAR                      the state's name in the contract ("b")
 *   RL_H                        the contract ("ubatch.h")
 *   RL_LOOP                     what comes before "TODO n" in a message
 *                               ("" where the learner writes the loop)
 *   RL_LESSON                   the lesson that explains the loop ("lesson")
 *   RL_CUT_SQES                 the read SQEs the rest test cuts, in words
 *   RL_CUT_READV                defined: a READV is cut too
 */
#ifndef RING_LOOP_H
#define RING_LOOP_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ pacing */

/* The reads held back: four pipes that get their data only after HELD_MS,
 * from a harness thread. The reference waits as long as it takes: the time
 * is only how long the reads stay slow, never a limit on the module. */
#define HELD_MS 500
#define HELD_MAX_CALLS 50

struct held {
	int w[4];
};

static void *feed_after_hold(void *arg)
{
	struct held *h = arg;
	struct timespec ts = { .tv_sec = HELD_MS / 1000, .tv_nsec = (HELD_MS % 1000) * 1000000L };

	seam_mark_harness_thread();
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	for (int i = 0; i < 4; i++) {
		if (SEAM_REAL(write)(h->w[i], "HELDDATA", 8) != 8)
			grade_fail("harness: writing to a pipe failed");
		close(h->w[i]);
	}
	return NULL;
}

static void rl_held_reads_sleep(void)
{
	const size_t size = 4 * 4096;
	unsigned char *data, pipe_bufs[4][8], *arena = RL_ALLOC(size);
	int fd = data_file("f", size, &data);
	struct batch_req reqs[8];
	struct held h;
	pthread_t t;
	RL_STATE u;
	long calls;
	int p[4][2], ret;

	/* The file reads first: cached (through the chapter's tables, if it
	 * has any: RL_TABLES), they complete at once, so a loop that waits for several
	 * completions at a time gets them, and then waits for the pipes with
	 * nothing left to submit. */
	for (int i = 0; i < 4; i++) {
		fault_pipe(p[i], 0);
		h.w[i] = p[i][1];
		reqs[i] = (struct batch_req){ fd, (off_t)i * 4096, 4096, arena + i * 4096, 1 };
		reqs[4 + i] = (struct batch_req){ p[i][0], 0, 8, pipe_bufs[i], 1 };
	}
	RL_INIT(&u, 8);
	RL_TABLES(&u, arena, size, fd);
	grade_check(pthread_create(&t, NULL, feed_after_hold, &h) == 0, "harness: pthread_create");
	calls = watch.calls;
	ret = RL_READ(&u, reqs, 8, 8);
	calls = watch.calls - calls;
	pthread_join(t, NULL);
	grade_check(ret == 0, RL_FN " of 4 file blocks and 4 pipes held for %d ms returned %s, "
		    "expected 0 (a bounded wait that ran out with nothing submitted returns -ETIME: "
		    "not an error, reap what is there)", HELD_MS, grade_errno_str(ret));
	for (int i = 0; i < 4; i++) {
		check_req(&reqs[i], (size_t)i, data, size, "beside reads held for half a second");
		grade_check(reqs[4 + i].res == 8 && memcmp(pipe_bufs[i], "HELDDATA", 8) == 0,
			    "request %d (a pipe that got 8 bytes after %d ms): res %s, expected 8",
			    4 + i, HELD_MS, grade_errno_str(reqs[4 + i].res));
	}
	grade_check(calls <= HELD_MAX_CALLS, RL_FN " made %ld liburing calls that enter the "
		    "kernel while its last 4 reads waited %d ms for data (at most %d expected): it "
		    "wakes on a timer and waits again instead of sleeping until a read completes; "
		    "after a bounded wait runs out, wait for one completion without a timeout",
		    calls, HELD_MS, HELD_MAX_CALLS);
	RL_CLEAN(&u, "after reads held for half a second");
	RL_EXIT(&u);
	for (int i = 0; i < 4; i++)
		close(p[i][0]);
	close(fd);
	free(arena);
	free(data);
}

/* After each real wait (the reads are cached: it makes progress), the next
 * liburing call answers -EAGAIN again. */
static void eagain_after_each_wait(struct io_uring *ring, unsigned nr)
{
	(void)ring;
	(void)nr;
	watch.injected = false;
	watch.inject_at = watch.calls + 1;
}

static void rl_eagain_every_other_call(void)
{
	const size_t n = 256, bs = 4096, size = n * bs;
	unsigned char *data, *arena = RL_ALLOC(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, arena);
	RL_STATE u;
	long calls;
	int ret;

	RL_INIT(&u, 16);
	RL_TABLES(&u, arena, size, fd);
	watch_reset_counts();
	watch.inject_err = -EAGAIN;
	watch.inject_at = 1;
	watch.before_wait = eagain_after_each_wait;
	ret = RL_READ(&u, reqs, n, 8);
	watch.before_wait = NULL;
	calls = watch.calls;
	watch_reset_counts();
	grade_check(ret == 0, RL_FN " of %zu cached reads at qd 8, where every other "
		    "liburing call answered -EAGAIN and each call between completed reads (%ld "
		    "calls), returned %s; expected 0: reads completed between the errors, so the "
		    "count of rounds without progress must start again after each", n, calls,
		    grade_errno_str(ret));
	for (size_t i = 0; ret == 0 && i < n; i++)
		check_req(&reqs[i], i, data, size, "-EAGAIN at every other call");
	RL_CLEAN(&u, "after -EAGAIN at every other call");
	RL_EXIT(&u);
	free(reqs);
	free(arena);
	close(fd);
	free(data);
}

/*
 * The contract: a ring belongs to the thread that set it up; another thread
 * may set up a ring of its own and run batches through it at the same time,
 * so a call keeps its state in its struct and on its own stack, never in a
 * static or a global that two calls would share. The overlap is made
 * certain, not hoped for: the test thread's call sleeps in io_uring_enter
 * for its last read (a pipe), and only then does another thread run whole
 * calls of its own (set-up, the chapter's tables if any, a read, the
 * tear-down, then the one-call batch read); the pipe gets its data once that
 * thread ended.
 */
struct other_calls {
	int fd;
	unsigned char *bufs;   /* the buffers of reqs_read (RL_RAW_TABLES)   */
	size_t bufs_len;
	struct batch_req *reqs_read, *reqs_batch;
	size_t n;
	int init_ret, read_ret, batch_ret;
	bool done;
};

/* The other thread: not the harness's, its calls are the module's. */
static void *other_calls_thread(void *arg)
{
	struct other_calls *o = arg;
	RL_STATE u;

	o->init_ret = RL_RAW_INIT(&u, 8);
	if (o->init_ret == 0)
		o->init_ret = RL_RAW_TABLES(&u, o->bufs, o->bufs_len, o->fd);
	o->read_ret = o->init_ret == 0 ? RL_RAW_READ(&u, o->reqs_read, o->n, 8) : o->init_ret;
	RL_RAW_EXIT(&u);
	o->batch_ret = RL_RAW_BATCH(o->reqs_batch, o->n, 8);
	o->done = true;
	return NULL;
}

struct overlap_watch {
	pid_t tid;              /* the test thread                          */
	const struct batch_req *files; /* its file reads (res 4096 when done) */
	size_t nfiles;
	int pipe_w;
	struct other_calls *other;
	volatile bool stop;     /* the test thread's call returned          */
	bool asleep;            /* it was seen sleeping for its last read   */
};

static void *overlap_thread(void *arg)
{
	struct overlap_watch *s = arg;
	long start = fault_now_ms();
	pthread_t t;

	seam_mark_harness_thread();
	/* Wait until the test thread's call has nothing left but the pipe and
	 * sleeps in io_uring_enter; at most 1.5 s (a module that writes res
	 * only at its end: the other calls then run beside a call that can do
	 * nothing but wait for the pipe either way). */
	while (!s->stop && fault_now_ms() - start < 1500) {
		bool files_done = true;

		for (size_t i = 0; i < s->nfiles; i++)
			if (__atomic_load_n(&s->files[i].res, __ATOMIC_RELAXED) != 4096)
				files_done = false;
		if (files_done && task_in_syscall(getpid(), s->tid, SYS_io_uring_enter)) {
			s->asleep = true;
			break;
		}
		fault_nap();
	}
	if (!s->stop && pthread_create(&t, NULL, other_calls_thread, s->other) == 0)
		pthread_join(t, NULL);
	if (SEAM_REAL(write)(s->pipe_w, "BOTHDONE", 8) != 8)
		s->stop = true;
	close(s->pipe_w);
	return NULL;
}

static void rl_two_threads_two_rings(void)
{
	const size_t n_other = 40, bs = 4096, size = 64 * 4096;
	unsigned char *data, *bufs_read = RL_ALLOC(n_other * bs),
			     *bufs_batch = grade_xmalloc(n_other * bs), *mine = RL_ALLOC(8 * 4096),
			     slow[8];
	int fd = data_file("f", size, &data);

	for (int phase = 0; phase < 2; phase++) {
		const char *fn = phase == 0 ? RL_FN : RL_BATCH_FN;
		struct other_calls o = { 0 };
		struct overlap_watch s = { 0 };
		struct batch_req reqs[9];
		RL_STATE u;
		pthread_t t;
		int p[2], ret;

		fault_pipe(p, 0);
		reqs[0] = (struct batch_req){ p[0], 0, sizeof(slow), slow, 1 };
		for (int i = 1; i < 9; i++)
			reqs[i] = (struct batch_req){ fd, (off_t)(i * 3) * 4096, 4096,
						      mine + (i - 1) * 4096, 1 };
		o.fd = fd;
		o.n = n_other;
		o.bufs = bufs_read;
		o.bufs_len = n_other * bs;
		o.reqs_read = block_reqs(fd, n_other, bs, bufs_read);
		o.reqs_batch = block_reqs(fd, n_other, bs, bufs_batch);
		for (size_t i = 0; i < n_other; i++)
			o.reqs_batch[i].offset = (off_t)((n_other - 1 - i) * bs) + 100;
		s.tid = (pid_t)syscall(SYS_gettid);
		s.files = reqs + 1;
		s.nfiles = 8;
		s.pipe_w = p[1];
		s.other = &o;
		if (phase == 0) {
			RL_INIT(&u, 16);
			RL_TABLES(&u, mine, 8 * 4096, fd);
		}
		grade_check(pthread_create(&t, NULL, overlap_thread, &s) == 0,
			    "harness: pthread_create");
		ret = phase == 0 ? SEAM_CALL(RL_RAW_READ(&u, reqs, 9, 4))
				 : SEAM_CALL(RL_RAW_BATCH(reqs, 9, 4));
		s.stop = true;
		pthread_join(t, NULL);
		grade_check(o.done, "%s (a pipe and 8 file blocks at qd 4) returned %s before the "
			    "pipe had its data: the other thread's calls never ran. A call returns "
			    "once every request has its res, the pipe's too", fn,
			    grade_errno_str(ret));
		grade_check(ret == 0 && reqs[0].res == 8 && memcmp(slow, "BOTHDONE", 8) == 0,
			    "%s in the test thread (a pipe and 8 file blocks at qd 4), while %s "
			    "another thread ran " RL_OTHER_CALLS " on a ring of its own, then "
			    RL_BATCH_FN ": it returned %s, and the pipe's request has res %s "
			    "(expected 0, and 8 with the pipe's bytes). State shared between calls "
			    "(a static or global variable) was overwritten by the other thread's "
			    "calls: keep a call's state in " RL_VAR " and in its own variables", fn,
			    s.asleep ? "it slept for the pipe," : "it waited for the pipe,",
			    grade_errno_str(ret), grade_errno_str(reqs[0].res));
		for (int i = 1; i < 9; i++)
			check_req(&reqs[i], (size_t)(i * 3), data, size, "beside another thread's ring");
		grade_check(o.init_ret == 0 && o.read_ret == 0 && o.batch_ret == 0,
			    "the other thread's calls (beside %s sleeping for a pipe): " RL_INIT_WHAT " "
			    "gave %s, " RL_FN " %s, " RL_BATCH_FN " %s; expected 0 "
			    "each", fn, grade_errno_str(o.init_ret), grade_errno_str(o.read_ret),
			    grade_errno_str(o.batch_ret));
		for (size_t i = 0; o.done && i < n_other; i++) {
			check_req(&o.reqs_read[i], i, data, size, "the other thread's " RL_FN);
			check_req(&o.reqs_batch[i], i, data, size, "the other thread's " RL_BATCH_FN);
		}
		if (phase == 0) {
			RL_CLEAN(&u, "after another thread's ring");
			RL_EXIT(&u);
		}
		close(p[0]);
		free(o.reqs_read);
		free(o.reqs_batch);
	}
	free(bufs_read);
	free(bufs_batch);
	free(mine);
	close(fd);
	free(data);
}

/* The no-stall tests' harness thread: it feeds the
 * slow requests (pipes) only once the call sleeps in io_uring_enter with
 * every other read reaped, or once it has slept there for two whole seconds
 * with reads left undone (a margin for a loaded machine: a correct module
 * never waits there long). */
#define STALL_PIPES_MAX 4
struct stall_watch {
	pid_t tid;             /* the test thread                          */
	const struct io_uring *ring;
	unsigned others;       /* CQEs the other reads make                */
	int pipe_w[STALL_PIPES_MAX]; /* the slow requests' write ends      */
	unsigned npipes;
	unsigned khead_at_write; /* CQEs reaped when the pipes were fed    */
	bool stalled;
	volatile bool stop;
};

static void *stall_thread(void *arg)
{
	struct stall_watch *s = arg;
	long since = -1, start = fault_now_ms();

	seam_mark_harness_thread();
	/* Four seconds at most, in case the call never sleeps there at all. */
	while (!s->stop && fault_now_ms() - start < 4000) {
		unsigned head = __atomic_load_n(s->ring->cq.khead, __ATOMIC_ACQUIRE);

		if (task_in_syscall(getpid(), s->tid, SYS_io_uring_enter)) {
			if (since < 0)
				since = fault_now_ms();
			if (head >= s->others || fault_now_ms() - since >= 2000) {
				s->stalled = head < s->others;
				s->khead_at_write = head;
				break;
			}
		} else {
			since = -1;
		}
		fault_nap();
	}
	for (unsigned i = 0; i < s->npipes; i++) {
		if (SEAM_REAL(write)(s->pipe_w[i], "SLOWDATA", 8) != 8)
			s->stalled = true;
		close(s->pipe_w[i]);
	}
	return NULL;
}

/* One slow-read case: request 0 a pipe, n - 1 blocks of the file (through
 * the chapter's tables, if it has any: RL_TABLES); returns false (with the
 * test failed) when the call stalled or went wrong. */
static bool stall_case(int fd, const unsigned char *data, size_t n, unsigned qd,
		       unsigned char *arena, size_t arena_len)
{
	const size_t bs = 4096, size = n * bs;
	struct batch_req *reqs = block_reqs(fd, n, bs, arena);
	struct stall_watch s = { 0 };
	unsigned char slow[8];
	pthread_t t;
	RL_STATE u;
	int p[2], ret;
	bool ok;

	fault_pipe(p, 0);
	reqs[0] = (struct batch_req){ p[0], 0, sizeof(slow), slow, 1 };
	RL_INIT(&u, 16);
	RL_TABLES(&u, arena, arena_len, fd);
	s.tid = (pid_t)syscall(SYS_gettid);
	s.ring = &u.ring;
	s.others = (unsigned)n - 1;
	s.pipe_w[0] = p[1];
	s.npipes = 1;
	grade_check(pthread_create(&t, NULL, stall_thread, &s) == 0, "harness: pthread_create");
	ret = RL_READ(&u, reqs, n, qd);
	s.stop = true;
	pthread_join(t, NULL);
	ok = ret == 0 && !s.stalled;
	grade_check(ret == 0, RL_FN " (n %zu, qd %u) returned %s, expected 0", n, qd,
		    grade_errno_str(ret));
	grade_check(!s.stalled, RL_FN " (n %zu, qd %u) waited in io_uring_enter for over 2 "
		    "seconds with only %u of the other %zu reads reaped, while request 0 (a pipe "
		    "with no data yet) held one slot of the window: the free slots must keep "
		    "taking the next reads instead of waiting for the whole window, and a wait for "
		    "several completions needs a time bound (a pipe may never complete by itself)",
		    n, qd, s.khead_at_write, n - 1);
	grade_check(reqs[0].res == 8 && memcmp(slow, "SLOWDATA", 8) == 0, "request 0 (the pipe, "
		    "n %zu, qd %u): res %s, expected 8", n, qd, grade_errno_str(reqs[0].res));
	for (size_t i = 1; i < n; i++)
		check_req(&reqs[i], i, data, size, "beside a slow read");
	RL_CLEAN(&u, "after a slow read");
	RL_EXIT(&u);
	close(p[0]);
	free(reqs);
	return ok;
}

static void rl_slow_read_no_stall(void)
{
	const size_t n_max = 47, bs = 4096, size = n_max * bs;
	unsigned char *data, *arena = RL_ALLOC(size);
	int fd = data_file("f", size, &data);

	/* Every n and qd, so that the last round holds the pipe and any number
	 * of other reads: a wait for more completions than the others can give
	 * ends only when the pipe gets its data. Stops at the first stall: each
	 * costs two seconds. */
	for (unsigned qd = 4; qd <= 8; qd += 4)
		for (size_t n = 33; n <= n_max; n++)
			if (!stall_case(fd, data, n, qd, arena, n * bs))
				goto out;
out:
	free(arena);
	close(fd);
	free(data);
}

/* ------------------------------------------------------------ the drain */

/* The drain's harness thread: once the injected error has happened and the
 * test thread sleeps in io_uring_enter (the drain's wait), SIGUSR1 (no
 * SA_RESTART); once it sleeps there again, the pipes get their data, but
 * only DRAIN_HOLD_MS later: a drain that gives up after a time of its own
 * returns meanwhile with the reads still in the kernel. (The reference
 * sleeps until the data comes, however long that is: no timing there.) */
#define DRAIN_HOLD_MS 1000

struct drain_signal {
	pid_t tid;
	int w[2];              /* the two pipes' write ends              */
	volatile bool stop;
	bool signalled;        /* SIGUSR1 sent during the drain          */
	bool held;             /* the drain waited again: data held back */
	long held_ms;          /* ... until the call returned, or fed     */
};

static volatile sig_atomic_t drain_handled;

static void drain_on_sigusr1(int sig)
{
	(void)sig;
	drain_handled++;
}

static void *drain_signal_thread(void *arg)
{
	struct drain_signal *s = arg;
	long start = fault_now_ms();

	seam_mark_harness_thread();
	while (!s->stop && fault_now_ms() - start < 3000) {
		bool asleep = __atomic_load_n(&watch.injected, __ATOMIC_ACQUIRE) &&
			      task_in_syscall(getpid(), s->tid, SYS_io_uring_enter);

		if (asleep && !s->signalled) {
			s->signalled = true;
			syscall(SYS_tgkill, getpid(), s->tid, SIGUSR1);
		} else if (asleep && drain_handled > 0) {
			break; /* the drain waits again: let the reads complete */
		}
		fault_nap();
	}
	if (!s->stop && drain_handled > 0) {
		/* The drain waits again: hold the data back a while first
		 * (the call cannot return meanwhile, unless it gives up). */
		long held = fault_now_ms();

		s->held = true;
		while (!s->stop && fault_now_ms() - held < DRAIN_HOLD_MS)
			fault_nap();
		s->held_ms = fault_now_ms() - held;
	}
	for (int i = 0; i < 2; i++) {
		if (SEAM_REAL(write)(s->w[i], "DRAINED!", 8) != 8)
			s->stop = true;
		close(s->w[i]);
	}
	return NULL;
}

static void rl_drain_through_signal(void)
{
	const size_t n_drain = 12, bs = 4096, size = n_drain * bs;
	unsigned char *data, *bufs = RL_ALLOC(size), slow[2][8];
	int fd = data_file("f", size, &data);
	struct batch_req *reqs;
	struct drain_signal s = { 0 };
	struct sigaction sa, old_sa;
	RL_STATE b;
	pthread_t t;
	int pa[2], pb[2], ret;
	unsigned left;

	/* As error_drains_reads (ring_faults.h): -EBADR once, while two pipe
	 * reads are in the kernel; then SIGUSR1 interrupts the wait of the
	 * drain. */
	fault_pipe(pa, 0);
	fault_pipe(pb, 0);
	reqs = block_reqs(fd, n_drain, bs, bufs);
	reqs[0] = (struct batch_req){ pa[0], 0, 8, slow[0], 1 };
	reqs[1] = (struct batch_req){ pb[0], 0, 8, slow[1], 1 };
	RL_INIT(&b, 8);
	RL_TABLES(&b, bufs, size, fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = drain_on_sigusr1;
	sigemptyset(&sa.sa_mask);
	grade_check(sigaction(SIGUSR1, &sa, &old_sa) == 0, "harness: sigaction: %s",
		    strerror(errno));
	drain_handled = 0;
	s.tid = (pid_t)syscall(SYS_gettid);
	s.w[0] = pa[1];
	s.w[1] = pb[1];
	watch_reset_counts();
	watch.limit_why = "a liburing call failed with -EBADR and the code kept calling";
	watch.inject_when = WATCH_WHEN_BUSY;
	watch.inject_err = -EBADR;
	grade_check(pthread_create(&t, NULL, drain_signal_thread, &s) == 0,
		    "harness: pthread_create");
	ret = RL_READ(&b, reqs, n_drain, 4);
	left = watch_in_kernel(&b.ring);
	s.stop = true;
	pthread_join(t, NULL);
	sigaction(SIGUSR1, &old_sa, NULL);
	grade_check(watch.injected, "harness: no liburing call was made while the pipe reads were "
		    "in the kernel (" RL_FN " returned %s)", grade_errno_str(ret));
	watch_reset_counts();
	grade_check(left == 0 || !s.held || s.held_ms >= DRAIN_HOLD_MS, RL_FN " returned %s "
		    "with %u read(s) still in the kernel, %ld ms after its drain began to wait again "
		    "(after the signal) for the two pipe reads, whose data the harness held back "
		    "for %d ms: the drain gave up on its "
		    "own. A read the kernel has writes into the caller's buffer whenever it "
		    "completes, so the drain waits as long as the reads take: no time limit, only "
		    "another error of the wait ends it (" RL_LOOP "TODO 6; " RL_LESSON ", section 7)",
		    grade_errno_str(ret), left, s.held_ms, DRAIN_HOLD_MS);
	grade_check(left == 0, RL_FN " returned %s "
		    "with %u read(s) still in the kernel: a liburing call failed with -EBADR, the "
		    "drain began to wait for the two pipe reads, and a signal (SIGUSR1, no "
		    "SA_RESTART%s) interrupted that wait: -EINTR there means \"wait again\", not "
		    "\"stop draining\"", grade_errno_str(ret), left,
		    s.signalled ? "" : "; the harness saw no wait to interrupt");
	grade_check(ret == -EBADR || (ret == 0 && reqs[0].res == 8 && reqs[1].res == 8),
		    RL_FN " returned %s after -EBADR and a signal during the drain (the pipe "
		    "reads: res %s and %s); expected -EBADR, the error of the liburing call that "
		    "ended the batch, as liburing returned it (or 0 with every request done). "
		    "Do not turn the ring's error into another one (-EIO, -EINTR): the caller "
		    "tells a broken ring from memory trouble by it (" RL_H "; " RL_LESSON ", section 7: "
		    "\"then return the error\")", grade_errno_str(ret),
		    grade_errno_str(reqs[0].res), grade_errno_str(reqs[1].res));
	RL_EXIT(&b);
	close(pa[0]);
	close(pb[0]);
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/* ----------------------------------------------------- -EBUSY for good */

/* ring_faults.h gives -EAGAIN for good; -EBUSY, the other "reap and try
 * again" of io_uring_enter(2), must end the batch the same way. */
static void rl_ebusy_forever(void)
{
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	int before = fault_count_fds(), ret;
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	RL_STATE b;

	RL_INIT(&b, 16);
	watch_reset_counts();
	watch.limit_why = "every liburing call returned -EBUSY and the code kept retrying without "
			  "any progress: count -EBUSY among the rounds without progress, as -EAGAIN, "
			  "and give up after a few (" RL_LESSON ", section 7)";
	watch.inject_err = -EBUSY;
	watch.inject_forever = true;
	watch.inject_at = 1;
	ret = RL_READ(&b, reqs, n, 8);
	watch_reset_counts();
	grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EBUSY (nothing was ever "
		    "submitted); " RL_FN " returned %s, expected a negative error (-EBUSY)",
		    grade_errno_str(ret));
	RL_EXIT(&b);
	grade_check(fault_count_fds() == before, "%d descriptor(s) left open",
		    fault_count_fds() - before);
	free(reqs);

	/* After the failed call, the ring set up again (the contract: "it may
	 * be set up again"): a new call starts from nothing. One
	 * -EBUSY, then one -EAGAIN, are again worth a retry: a count of rounds
	 * without progress kept from the failed call (a static, a global) would
	 * give up at once. */
	RL_INIT(&b, 16);
	for (int k = 0; k < 2; k++) {
		reqs = block_reqs(fd, n, bs, bufs);
		watch_reset_counts();
		watch.inject_err = k == 0 ? -EBUSY : -EAGAIN;
		watch.inject_at = 1;
		ret = RL_READ(&b, reqs, n, 8);
		watch_reset_counts();
		grade_check(ret == 0, "after a call that failed with -EBUSY for good, the ring torn "
			    "down and set up again: a new " RL_FN " whose first liburing call "
			    "returned %s (once) returned %s; expected 0. Each call starts its count "
			    "of rounds without progress from 0: keep that count (and all of a call's "
			    "state) in the call, not in a static or global variable that outlives it "
			    "(" RL_LOOP "TODO 6)", grade_errno_str(k == 0 ? -EBUSY : -EAGAIN),
			    grade_errno_str(ret));
		for (size_t i = 0; ret == 0 && i < n; i++)
			check_req(&reqs[i], i, data, size, "a call after a failed one");
		RL_CLEAN(&b, "after a call after a failed one");
		free(reqs);
	}
	RL_EXIT(&b);
	free(bufs);
	close(fd);
	free(data);
}

/* -------------------------------------------- the window at every wait */

/*
 * The contract: "Keep the window full: refill it as reads complete." 12
 * pipes at qd 4, fed one at a time, in order, each only once the call sleeps in
 * io_uring_enter with every completion so far reaped: each read completes
 * alone, and before every wait the call has had the chance to refill. At
 * each liburing call that waits, the reads in flight (prepared, not yet
 * reaped) must be min(qd, requests not finished): a call that refills only
 * once half the window (or all of it) is free waits with slots idle.
 */
#define FULL_N 12
#define FULL_QD 4

static struct {
	const struct io_uring *ring;
	bool bad;
	unsigned inflight, want, reaped;
	long waits;
} full;

static void full_before_wait(struct io_uring *ring, unsigned nr)
{
	unsigned reaped, inflight, want;

	(void)nr;
	if (!ring || ring != full.ring)
		return;
	reaped = __atomic_load_n(ring->cq.khead, __ATOMIC_ACQUIRE);
	inflight = watch_inflight(ring);
	want = FULL_N - reaped < FULL_QD ? FULL_N - reaped : FULL_QD;
	full.waits++;
	if (inflight < want && !full.bad) {
		full.bad = true;
		full.inflight = inflight;
		full.want = want;
		full.reaped = reaped;
	}
}

struct full_feed {
	pid_t tid;
	const struct io_uring *ring;
	int w[FULL_N];
	volatile bool stop;
};

static void *full_feed_thread(void *arg)
{
	struct full_feed *s = arg;

	seam_mark_harness_thread();
	for (unsigned k = 0; k < FULL_N; k++) {
		long start = fault_now_ms();

		/* Once the call sleeps with the k completions so far reaped (at
		 * most a second: a module that never sleeps still gets its data). */
		while (!s->stop && fault_now_ms() - start < 1000 &&
		       !(__atomic_load_n(s->ring->cq.khead, __ATOMIC_ACQUIRE) >= k &&
			 task_in_syscall(getpid(), s->tid, SYS_io_uring_enter)))
			fault_nap();
		if (SEAM_REAL(write)(s->w[k], "FULLDATA", 8) != 8)
			s->stop = true;
		close(s->w[k]);
	}
	return NULL;
}

static void rl_window_full_at_every_wait(void)
{
	unsigned char bufs[FULL_N][8];
	struct batch_req reqs[FULL_N];
	struct full_feed s = { 0 };
	RL_STATE b;
	pthread_t t;
	int p[FULL_N][2], ret;

	for (int i = 0; i < FULL_N; i++) {
		fault_pipe(p[i], 0);
		s.w[i] = p[i][1];
		reqs[i] = (struct batch_req){ p[i][0], 0, 8, bufs[i], 1 };
	}
	RL_INIT(&b, 16);
	memset(&full, 0, sizeof(full));
	full.ring = &b.ring;
	s.tid = (pid_t)syscall(SYS_gettid);
	s.ring = &b.ring;
	grade_check(pthread_create(&t, NULL, full_feed_thread, &s) == 0, "harness: pthread_create");
	watch_reset_counts();
	watch.before_wait = full_before_wait;
	ret = RL_READ(&b, reqs, FULL_N, FULL_QD);
	watch.before_wait = NULL;
	s.stop = true;
	pthread_join(t, NULL);
	grade_check(ret == 0, RL_FN " of %d pipes at qd %d returned %s, expected 0", FULL_N,
		    FULL_QD, grade_errno_str(ret));
	for (int i = 0; i < FULL_N; i++)
		grade_check(reqs[i].res == 8 && memcmp(bufs[i], "FULLDATA", 8) == 0, "request %d (a "
			    "pipe that got 8 bytes): res %s, expected 8", i,
			    grade_errno_str(reqs[i].res));
	grade_check(!full.bad, RL_FN " of %d pipes at qd %d, each completing alone: it waited "
		    "for a completion with %u read(s) in flight, %u reaped and %d requests not "
		    "finished, so %u should have been in flight: %u slot(s) of the window stood "
		    "idle. Refill the window after every reaping pass (one slot at a time), before "
		    "the next wait", FULL_N, FULL_QD, full.inflight, full.reaped,
		    FULL_N - (int)full.reaped, full.want, full.want - full.inflight);
	grade_check(full.waits > 0, "harness: " RL_FN " never waited in liburing for %d pipes",
		    FULL_N);
	RL_CLEAN(&b, "after 12 pipes");
	RL_EXIT(&b);
	for (int i = 0; i < FULL_N; i++)
		close(p[i][0]);
}

/* ------------------------------------ giving up drains the reads too */

/*
 * The contract: a batch that cannot finish returns an error with "no read
 * left writing into the caller's buffers if draining was possible"; lesson,
 * section 7: "Before returning a batch-level error, wait for the reads the
 * kernel already has". That holds for the give-up after -EAGAIN / -EBUSY as
 * for any other error. Two pipe reads wait in the kernel, and the first two
 * liburing calls made from then on answer -EAGAIN (then -EBUSY): a module
 * may retry and finish (the calls after those two work), or give up; if it
 * gives up, the pipes get their data only when it waits for them, and none
 * may be left in the kernel when it returns.
 */
static void rl_give_up_drains(void)
{
	const size_t n = 12, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size), slow[2][8];
	int fd = data_file("f", size, &data);
	RL_STATE b;

	watch.limit_why = "two liburing calls answered -EAGAIN or -EBUSY and the code kept calling";
	for (int round = 0; round < 2; round++) {
		int err = round == 0 ? -EAGAIN : -EBUSY;
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int pa[2], pb[2], ret;
		unsigned left;
		bool injected;

		fault_pipe(pa, 0);
		fault_pipe(pb, 0);
		reqs[0] = (struct batch_req){ pa[0], 0, 8, slow[0], 1 };
		reqs[1] = (struct batch_req){ pb[0], 0, 8, slow[1], 1 };
		RL_INIT(&b, 8);
		watch_reset_counts();
		watch.inject_when = WATCH_WHEN_BUSY;
		watch.inject_err = err;
		watch.inject_calls = 2;
		watch.feed_fds[0] = pa[1];
		watch.feed_fds[1] = pb[1];
		watch.nfeed = 2;
		ret = RL_READ(&b, reqs, n, 4);
		left = watch_in_kernel(&b.ring);
		injected = watch.injected;
		watch_reset_counts();
		grade_check(injected, "harness: no liburing call was made while the pipe reads were "
			    "in the kernel (" RL_FN " returned %s)", grade_errno_str(ret));
		grade_check(ret != -EINTR && (ret < 0 || (reqs[0].res == 8 && reqs[1].res == 8)),
			    "two liburing calls returned %s while two pipe reads were in the kernel; "
			    RL_FN " returned %s (requests 0 and 1: res %s, %s); expected 0 with "
			    "every request done (or an error)", grade_errno_str(err),
			    grade_errno_str(ret), grade_errno_str(reqs[0].res),
			    grade_errno_str(reqs[1].res));
		grade_check(left == 0, "two liburing calls returned %s while two pipe reads were in "
			    "the kernel, and " RL_FN " gave up: it returned %s with %u read(s) still "
			    "in the kernel, which may write into the caller's buffers after it "
			    "returned. Waiting for them still worked: giving up after rounds without "
			    "progress is an error of the batch like any other, so drain first",
			    grade_errno_str(err), grade_errno_str(ret), left);
		for (size_t i = 2; ret == 0 && i < n; i++)
			check_req(&reqs[i], i, data, size, "after -EAGAIN / -EBUSY with reads in "
				  "the kernel");
		if (ret == 0)
			RL_CLEAN(&b, "after -EAGAIN / -EBUSY with reads in the kernel");
		RL_EXIT(&b);
		close(pa[0]);
		close(pa[1]);
		close(pb[0]);
		close(pb[1]);
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------------- a window beyond 16 bits */

/*
 * The contract: entries 1..32768, and the CQ gets twice as many: the largest
 * ring's CQ has 65536 slots, one more than 16 bits count. At qd 65536 (and
 * UINT_MAX) on that ring the window is 65536: a window, or a count of reads
 * in flight, kept in 16 bits becomes 0 there (nothing starts, or the fill
 * never stops and the CQ overflows). 70000 small cached reads, so that the
 * whole window is in flight at once and more requests wait behind it.
 */
#define WIDE_ENTRIES 32768u
#define WIDE_N 70000u
#define WIDE_BS 64u
#define WIDE_MEMLOCK (8u << 20)

/*
 * RL_RAW_INIT(&b, 32768), tried again for up to two seconds while it says
 * -ENOMEM: locked memory held a moment by other processes of the same user
 * comes back. If it still says -ENOMEM, the test's own set-up of the same
 * ring decides: refused too, the machine is short of locked memory now and
 * the test skips with the reason (twice the usual limit is always enough);
 * set up, the -ENOMEM was the module's own. On success the ring is the
 * test's (not set up a second time: a ring torn down stays charged a
 * while).
 */
static void wide_init(RL_STATE *b)
{
	long start = fault_now_ms();
	struct io_uring probe;
	int ret;

	for (;;) {
		ret = SEAM_CALL(RL_RAW_INIT(b, WIDE_ENTRIES));
		if (ret != -ENOMEM || fault_now_ms() - start > 2000)
			break;
		for (long t0 = fault_now_ms(); fault_now_ms() - t0 < 100;)
			fault_nap();
	}
	if (ret == -ENOMEM) {
		ret = SEAM_REAL(io_uring_queue_init)(WIDE_ENTRIES, &probe, 0);
		if (ret == 0)
			SEAM_REAL(io_uring_queue_exit)(&probe);
		grade_check(ret != 0, RL_INIT_FN "(&b, %u) returned -ENOMEM for two seconds, but "
			    "the test could set up a ring of %u entries itself: return what "
			    "io_uring_queue_init_params returns (TODO 1)", WIDE_ENTRIES, WIDE_ENTRIES);
		grade_skip("memlock:16777216", "a ring of 32768 entries needs about 4 MiB of locked "
			   "memory, and other processes of this user held too much of RLIMIT_MEMLOCK "
			   "for two seconds", "raise it to 16 MiB or more (ulimit -l 16384), or run "
			   "fewer gradings at once; run make doctor");
	}
	grade_check(ret == 0, RL_INIT_FN "(&b, %u) returned %s, expected 0 (TODO 1)",
		    WIDE_ENTRIES, grade_errno_str(ret));
	grade_check(b->live == 1 && b->sq_entries == WIDE_ENTRIES, "after " RL_INIT_FN "(&b, %u): "
		    "live %d, sq_entries %u; expected live 1 and the sizes the kernel gave (TODO 1)",
		    WIDE_ENTRIES, b->live, b->sq_entries);
}

static void rl_window_beyond_16_bits(void)
{
	static const unsigned qds[] = { 65536u, UINT_MAX };
	const size_t size = (size_t)WIDE_N * WIDE_BS;
	unsigned char *data, *bufs;
	struct batch_req *reqs;
	RL_STATE b;
	int fd, ret;

	/* The ring takes about 4 MiB of locked memory, charged to the user
	 * (not the process) where CAP_IPC_LOCK is missing: with the usual
	 * 8 MiB it fits, unless other processes of the same user (another
	 * test's ring of 32768) hold some at that moment. */
	grade_require_memlock(WIDE_MEMLOCK, "a ring of 32768 entries (CQ 65536)");
	wide_init(&b);
	bufs = grade_xmalloc(size);
	fd = data_file("f", size, &data);
	grade_check(b.cq_entries == 2 * WIDE_ENTRIES, RL_INIT_FN "(&b, %u): cq_entries %u, the "
		    "kernel gives %u", WIDE_ENTRIES, b.cq_entries, 2 * WIDE_ENTRIES);
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		reqs = block_reqs(fd, WIDE_N, WIDE_BS, bufs);
		watch_reset_counts();
		ret = RL_READ(&b, reqs, WIDE_N, qds[k]);
		grade_check(ret == 0, RL_FN " of %u reads at qd %u on a ring of %u SQ and %u "
			    "CQ entries returned %s, expected 0: the window is min(qd, cq_entries) "
			    "= %u, which does not fit in 16 bits (a window of 0 starts nothing)",
			    WIDE_N, qds[k], b.sq_entries, b.cq_entries, grade_errno_str(ret),
			    b.cq_entries);
		for (size_t i = 0; i < WIDE_N; i++)
			if (reqs[i].res != (ssize_t)WIDE_BS ||
			    memcmp(reqs[i].buf, data + i * WIDE_BS, WIDE_BS) != 0)
				check_req(&reqs[i], i, data, size, "a window of 65536");
		grade_check(watch.max_inflight == b.cq_entries, RL_FN " of %u reads at qd %u on "
			    "a ring of %u CQ entries: at most %u reads were in flight at once; the "
			    "window is min(qd, cq_entries) = %u: count it, and the reads in flight, "
			    "in an unsigned (not 16 bits)%s", WIDE_N, qds[k], b.cq_entries,
			    watch.max_inflight, b.cq_entries,
			    watch.max_inflight == b.sq_entries ?
			    ". Here the window stopped at the SQ's size: when io_uring_get_sqe "
			    "finds the SQ full, submit what is queued and go on filling before "
			    "you reap (cached reads are done when that submit returns; the CQ "
			    "holds twice as many)" : "");
		RL_CLEAN(&b, "after a window of 65536");
		free(reqs);
	}
	RL_EXIT(&b);
	free(bufs);
	close(fd);
	free(data);
}

/* ----------------------------------- a rest with no SQE, CQEs behind it */

/*
 * On a ring of 4 (SQ 4, CQ 8) at qd 8, the test cuts the first read of
 * five requests in every eight (i % 8 < 5) to half its length. The second
 * submit of the first window hands over requests 4-7 (4 cut, 5-7 whole),
 * and the CQ then holds 0-3 and 4 short, 5-7 finished: the rests of 0-3
 * take the SQ's four slots, and request 4's rest finds no SQE. Its CQE
 * must stay on the CQ, in its place, for the next round (lesson, the
 * window hint): a pass that skips it and goes on handling 5-7, then
 * advances the CQ by the count it handled, consumes 4's CQE unhandled and
 * leaves 7's to be handled a second time.
 */
static struct {
	const struct batch_req *reqs;
	size_t n;
	unsigned char state[64];  /* per request: 0 untouched, 1 seen */
	unsigned cut;
} cut58;

/* The first read of requests i % 8 < 5 (its SQE starts at reqs[i].buf) is
 * cut to half its length (a READV's only where RL_CUT_READV is defined);
 * every other read goes out as it is. */
static void cut58_edit(struct io_uring_sqe *sqe)
{
	uintptr_t a = (uintptr_t)watch_sqe_data(sqe);

	for (size_t i = 0; i < cut58.n; i++) {
		if (a != (uintptr_t)cut58.reqs[i].buf || cut58.state[i])
			continue;
		cut58.state[i] = 1;
		if (i % 8 >= 5)
			return;
		if (sqe->opcode == IORING_OP_READV) {
#ifdef RL_CUT_READV
			cut58.cut += watch_shrink_readv(sqe);
#endif
		} else if (sqe->len > 1) {
			sqe->len /= 2;
			cut58.cut++;
		}
		return;
	}
}

static void rl_rest_without_sqe_keeps_its_turn(void)
{
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = RL_ALLOC(size);
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	RL_STATE b;
	int ret;

	RL_INIT(&b, 4);
	RL_TABLES(&b, bufs, size, fd);
	memset(&cut58, 0, sizeof(cut58));
	cut58.reqs = reqs;
	cut58.n = n;
	watch.edit_sqe = cut58_edit;
	ret = RL_READ(&b, reqs, n, 8);
	watch.edit_sqe = NULL;
	grade_check(ret == 0, RL_FN " of %zu reads at qd 8 on a ring of 4 SQ entries, five "
		    "reads in eight cut short, returned %s, expected 0", n, grade_errno_str(ret));
	grade_check(cut58.cut >= n / 2, "the test could cut only %u of the %zu reads it cuts "
		    "short: it cuts " RL_CUT_SQES ", the first read of each request, still "
		    "queued when you call io_uring_submit* or io_uring_wait_cqe*",
		    cut58.cut, n * 5 / 8);
	for (size_t i = 0; i < n; i++)
		check_req(&reqs[i], i, data, size, "a ring of 4 at qd 8, five reads in eight cut "
			  "short, so that a rest finds the SQ full with finished reads' CQEs behind "
			  "it (a CQE skipped, then consumed by the CQ advance unhandled, while a later "
			  "one is handled twice?)");
	RL_CLEAN(&b, "after rests that found the SQ full");
	RL_EXIT(&b);
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------ never wait for more than can complete */

/*
 * Lesson, section 5 ("How long to wait"): a wait for more completions than
 * the call has reads in flight (prepared and not yet reaped: queued, in the
 * kernel, or a CQE on the CQ) can end only when its time runs out (or never,
 * unbounded): at the tail of every batch, and in every batch smaller than
 * the wait, the call sits idle with nothing left to come. Small batches of
 * cached reads, n = 1..40 at qd 32 and 64: before every liburing call that
 * waits for nr completions, nr must not exceed the reads in flight.
 */
static struct {
	const struct io_uring *ring;
	bool bad;
	unsigned nr, inflight;
	size_t n;
	long waits;
} overwait;

static void overwait_before_wait(struct io_uring *ring, unsigned nr)
{
	unsigned inflight;

	if (!ring || ring != overwait.ring)
		return;
	overwait.waits++;
	inflight = watch_inflight(ring);
	if (nr > inflight && !overwait.bad) {
		overwait.bad = true;
		overwait.nr = nr;
		overwait.inflight = inflight;
	}
}

static void rl_wait_within_inflight(void)
{
	static const unsigned qds[] = { 32, 64 };
	const size_t most = 40, bs = 4096, size = most * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	RL_STATE b;

	RL_INIT(&b, 32);
	memset(&overwait, 0, sizeof(overwait));
	overwait.ring = &b.ring;
	watch.before_wait = overwait_before_wait;
	for (size_t k = 0; k < sizeof(qds) / sizeof(qds[0]); k++) {
		for (size_t n = 1; n <= most; n++) {
			struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
			bool was_bad = overwait.bad;
			int ret;

			ret = RL_READ(&b, reqs, n, qds[k]);
			grade_check(ret == 0, RL_FN " of %zu cached reads at qd %u returned %s, "
				    "expected 0", n, qds[k], grade_errno_str(ret));
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, data, size, "small batches");
			free(reqs);
			if (overwait.bad && !was_bad)
				overwait.n = n;
		}
		grade_check(!overwait.bad, RL_FN " of %zu cached read(s) at qd %u waited for %u "
			    "completions with only %u read(s) in flight (prepared, not yet reaped): "
			    "that wait can only end when its time runs out. Never ask a wait for "
			    "more completions than the reads in flight (" RL_LOOP "TODO 6)", overwait.n,
			    qds[k], overwait.nr, overwait.inflight);
	}
	/* (A module may never wait in liburing here: cached reads can all be
	 * complete when its submit returns. Nothing to check then.) */
	watch.before_wait = NULL;
	RL_CLEAN(&b, "after small batches");
	RL_EXIT(&b);
	free(bufs);
	close(fd);
	free(data);
}

/* ------------------------------------- one batch, handed over as it is */

/*
 * The one-call batch read runs the loop on the whole array, whose window is
 * kept full: refilled as reads complete, in the order of the array. A batch
 * handed to the loop in pieces (1024 requests at a time, say) empties the
 * window at each piece's end: one slow read holds back every request of the
 * next piece. Request 1000 of 1500 is a pipe that gets its data only once
 * the harness thread has seen the last request done (or after four seconds,
 * a wide margin: 1499 cached reads take milliseconds).
 */
struct piece_watch {
	struct batch_req *last;  /* the batch's last request           */
	size_t want;             /* its length: res once it is done     */
	int pipe_w;
	bool seen;               /* the last request done, pipe unfed   */
	volatile bool stop;
};

static void *piece_thread(void *arg)
{
	struct piece_watch *s = arg;
	long start = fault_now_ms();

	seam_mark_harness_thread();
	while (!s->stop && fault_now_ms() - start < 4000) {
		if (__atomic_load_n(&s->last->res, __ATOMIC_ACQUIRE) == (ssize_t)s->want) {
			s->seen = true;
			break;
		}
		fault_nap();
	}
	if (SEAM_REAL(write)(s->pipe_w, "SLOWDATA", 8) != 8)
		s->seen = false;
	close(s->pipe_w);
	return NULL;
}

static void rl_whole_batch_one_window(void)
{
	const size_t n = 1500, bs = 4096, size = n * bs, slow_at = 1000;
	unsigned char *data, *bufs = grade_xmalloc(size), slow[8];
	int fd = data_file("f", size, &data);
	struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
	struct piece_watch s = { 0 };
	pthread_t t;
	int p[2], ret;

	fault_pipe(p, 0);
	reqs[slow_at] = (struct batch_req){ p[0], 0, sizeof(slow), slow, 1 };
	reqs[n - 1].res = -1;
	s.last = &reqs[n - 1];
	s.want = reqs[n - 1].len;
	s.pipe_w = p[1];
	grade_check(pthread_create(&t, NULL, piece_thread, &s) == 0, "harness: pthread_create");
	ret = SEAM_CALL(RL_RAW_BATCH(reqs, n, 8));
	s.stop = true;
	pthread_join(t, NULL);
	grade_check(ret == 0, RL_BATCH_FN " of %zu requests at qd 8 (request %zu a pipe) "
		    "returned %s, expected 0 (" RL_BATCH_TODO ")", n, slow_at, grade_errno_str(ret));
	grade_check(s.seen, RL_BATCH_FN " of %zu requests at qd 8: request %zu (a pipe, no "
		    "data yet) held one slot of the window, and in 4 seconds request %zu, the last, "
		    "was not done: the requests after a slow one waited for it. Hand the whole "
		    "array to one " RL_FN " call; a batch cut into pieces (1024 requests at a "
		    "time, say) waits at each piece's end for all of it (" RL_BATCH_TODO "; " RL_H
		    ": keep the window full)", n, slow_at, n - 1);
	grade_check(reqs[slow_at].res == 8 && memcmp(slow, "SLOWDATA", 8) == 0, "request %zu (the "
		    "pipe): res %s, expected 8", slow_at, grade_errno_str(reqs[slow_at].res));
	for (size_t i = 0; i < n; i++)
		if (i != slow_at)
			check_req(&reqs[i], i, data, size, "in a batch of 1500 with a slow read");
	close(p[0]);
	free(reqs);
	free(bufs);
	close(fd);
	free(data);
}

#endif /* RING_LOOP_H */
