/*
 * watch.h - chapter 03's own test helpers (included by tests.c only).
 *
 * Three things the library (harness/lib) does not do yet:
 *
 *  1. Watch the POSIX aio protocol through the seams (aw_*): every aiocb
 *     that aio_read accepted is "in flight" until aio_return collects it;
 *     aio_return for an aiocb that is not in flight, or while aio_error
 *     still says EINPROGRESS, is a violation; so is an aiocb submitted
 *     without SIGEV_NONE or with a non-zero aio_reqprio. The hooks also
 *     inject EAGAIN into aio_read, a failure into aio_suspend, and shorten
 *     reads (aio_nbytes capped, restored before aio_return) to force
 *     continuations in the middle of a file; reads of a pretend file
 *     (aw.pretend_fd) move no byte and aio_return answers for them, so a
 *     request can pass 4 GiB without the memory.
 *
 *  2. Watch threads (tw_*): pthread_create is hooked to wrap the start
 *     routine, so the harness learns every worker's thread id, its signal
 *     mask at birth, and when its start routine returned; pthread_join and
 *     pthread_detach are counted, and so are the condition waits of the
 *     workers and of the callers. Reads (read, pread, pread64) are counted
 *     with the number in progress at once, the reader of each fd, and
 *     optional EINTR injection or a cap on each transfer.
 *
 *  3. Answer pipes from a harness thread (feed_*), in a chosen order, each
 *     answer only once a condition holds: the test thread sleeps inside
 *     aio_suspend (W_IN_SUSPEND), or every thread of the pool and the test
 *     thread sleep (W_QUIET). Every wait is bounded (FEED_PATIENCE_MS);
 *     when one gives up, or the call under test has returned, every write
 *     end still open is closed: each read still waiting sees end of file
 *     and returns, so a wrong implementation fails at once, never on the
 *     test's time limit.
 *
 * "Sleeps" is read from /proc/self/task/TID/syscall: the number of the
 * system call a blocked thread sleeps in, or "running" for a thread that
 * runs or is ready to run (a thread that was just woken shows "running").
 */
#ifndef CH03_WATCH_H
#define CH03_WATCH_H

#include "grade.h"
#include "paio.h"

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long a feeder waits for what a correct implementation does in
 * microseconds (read a pipe, go to sleep). Generous for a loaded machine
 * and sanitizers; a wrong implementation pays it once per test. */
#define FEED_PATIENCE_MS 1000

static pid_t w_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* The system call thread `tid` sleeps in, or -1 if it runs (or is gone). */
static long w_sysno_of(pid_t tid)
{
	char path[64], buf[64] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	return strtol(buf, NULL, 10);
}

/* The message of the first violation a hook saw ("" if none). */
static char w_violation[768];
static pthread_mutex_t w_violation_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2)))
static void w_violate(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w_violation_lock);
	if (!w_violation[0]) {
		va_start(ap, fmt);
		vsnprintf(w_violation, sizeof(w_violation), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&w_violation_lock);
}

/* Fail the test with the first violation, if there was one. */
static void w_check_no_violation(void)
{
	grade_check(w_violation[0] == '\0', "%s", w_violation);
}

/* Wait (bounded, 1 s) until the process has `want` threads: a joined
 * thread's task can stay listed a moment after pthread_join returned. */
static int w_threads_settle(int want)
{
	long deadline = fault_now_ms() + 1000;
	int now;

	while ((now = fault_count_threads()) != want && fault_now_ms() < deadline)
		fault_nap();
	return now;
}

/* ====================================================================== */
/* 1. The POSIX aio protocol                                              */
/* ====================================================================== */

#define AW_MAX_CB 4096

/* AW_EAGAIN_IDLE: while none is in flight, the first eagain_first calls fail
 * (counted again after each accepted read). AW_EAGAIN_PAUSED: while none is
 * in flight, every call fails until the pauses the code asked for since the
 * last accepted read add up to eagain_pause_ns (no clock: the lengths asked). */
enum aw_eagain { AW_EAGAIN_NONE, AW_EAGAIN_FIRST, AW_EAGAIN_ALTERNATE, AW_EAGAIN_ALWAYS,
		 AW_EAGAIN_IDLE, AW_EAGAIN_PAUSED };

static struct {
	pthread_mutex_t lock;
	/* in flight: accepted by aio_read, not yet collected by aio_return */
	const struct aiocb *cb[AW_MAX_CB];
	size_t nbytes[AW_MAX_CB];   /* aio_nbytes as the code under test set it */
	struct aiocb snap[AW_MAX_CB]; /* each aiocb in flight as aio_read took it */
	int used;
	unsigned long seq[AW_MAX_CB]; /* the order aio_read accepted them in */
	unsigned long next_seq;
	long inflight, max_inflight;
	long read_calls, accepted, refused_eagain, returns, errors;
	long suspends, suspend_eintr, zero_len, neg_offset;
	atomic_int in_suspend;      /* the test thread is inside aio_suspend */
	atomic_long suspend_gen;    /* aio_suspend calls entered */
	atomic_long eintr_seen;     /* aio_suspend returns with EINTR */
	atomic_long suspend_timeouts; /* timed waits that ran out, or taken so */
	/* injections */
	enum aw_eagain eagain;
	long eagain_first;          /* AW_EAGAIN_FIRST: how many calls fail */
	int suspend_fail_errno;     /* fail the next aio_suspend with this  */
	long suspend_eintr_every;   /* >0: every such aio_suspend call fails */
	                            /* with EINTR, as if a signal came in    */
	size_t cap;                 /* shorten every read to at most cap    */
	int cont_fail_fd;           /* >0: a continuation (aio_offset not a multiple */
	                            /* of 4096) reads this fd instead: it fails      */
	int fds[AW_MAX_CB];         /* aio_fildes as the code under test set it      */
	ssize_t pretend_res[AW_MAX_CB]; /* what aio_return says for a pretend read,  */
	                            /* or -1: the real read's result                  */
	int pretend_fd;             /* >0: aio_read of this fd moves no byte: a file  */
	unsigned long long pretend_size; /* of pretend_size bytes, 0x7ffff000 a read; */
	int pretend_null;           /* the real read goes to /dev/null (opened here)  */
	long limit;                 /* >0: EAGAIN while this many are in flight      */
	bool eagain_busy;           /* an EAGAIN with reads in flight, and since it */
	                            /* no aio_suspend, aio_return, pause or accept  */
	long eagain_then_accept;    /* aio_read accepted while eagain_busy         */
	long eagain_run, max_eagain_run; /* EAGAINs since the last aio_suspend or    */
	                                 /* aio_return, and the most of them        */
	long read_budget;           /* aio_read calls allowed (0: no limit) */
	const char *budget_why;
	int refuse_fd;              /* >0: aio_read of this fd fails with refuse_errno */
	int refuse_errno;
	int cont_refuse_errno;      /* >0: aio_read of a continuation (aio_offset not */
	                            /* a multiple of 4096) fails with this errno      */
	long idle_refused;          /* AW_EAGAIN_IDLE: EAGAINs since the last accept */
	long idle_run, max_idle_run; /* EAGAINs with none in flight since the last   */
	                            /* pause (aw_pace_watch), and the most of them   */
	long long paused_ns;        /* the pauses' lengths as asked, added up        */
	long long paused_at_accept; /* paused_ns at the last accepted aio_read       */
	long long eagain_pause_ns;  /* AW_EAGAIN_PAUSED: pauses (ns) to ask for      */
	                            /* before an aio_read with none in flight works */
	long pause_eintr;           /* >0: this many pauses end at once with EINTR, */
	                            /* as if a signal handler had run (none slept)   */
	long pause_eintr_given;     /* how many did                                  */
	long pause_storm;           /* >0: this many pauses are each cut short by a */
	                            /* signal after AW_STORM_SLICE_NS of real sleep */
	long pause_storm_given;     /* how many were                                 */
	/* The window kept full (paio.h, qd), for a batch of fill_n requests
	 * that each take exactly one aio_read (set by aw_fill_expect). The
	 * window is short while fewer than fill_w reads are in flight, some
	 * of the fill_n are not submitted yet, and no aio_read of the batch
	 * failed with EAGAIN. Reads collected early are allowed (collect,
	 * then refill); waiting while the window is short is not, however
	 * the code waits (aw_fill_wait):
	 *  - aio_suspend entered, whatever its timeout;
	 *  - a pause: nanosleep, clock_nanosleep, usleep, sleep, sched_yield,
	 *    poll, ppoll, select, pselect, pthread_cond_timedwait (hooked by
	 *    aw_fill_expect);
	 *  - polling: aio_error says EINPROGRESS for the same read a third
	 *    time with the window short, and no aio_read was accepted and no
	 *    aio_return called in between (polled_at, polled). A pass over the
	 *    reads in flight to collect the finished ones, even a second pass
	 *    to be sure, then submitting, is not polling; asking again and
	 *    again until something finishes is. */
	long fill_n, fill_w;        /* 0: not watched                                 */
	long fill_base, fill_eagain_base; /* accepted, refused_eagain at the start   */
	long real_eagain, fill_real_eagain_base; /* EAGAINs of glibc's own aio_read,  */
	                            /* and how many at the start                     */
	long polled_at[AW_MAX_CB];  /* accepted + returns + 1 when aio_error last    */
	                            /* said EINPROGRESS for it with the window short */
	int polled[AW_MAX_CB];      /* how many times in a row at that polled_at     */
	long underfilled;           /* such waits, and the first one's numbers       */
	long underfilled_inflight, underfilled_left, underfilled_window;
	const char *underfilled_how; /* how the first one waited                     */
} aw = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int aw_find(const struct aiocb *cb)
{
	for (int i = 0; i < aw.used; i++)
		if (aw.cb[i] == cb)
			return i;
	return -1;
}

static void aw_forget(int i)
{
	aw.used--;
	aw.cb[i] = aw.cb[aw.used];
	aw.nbytes[i] = aw.nbytes[aw.used];
	aw.snap[i] = aw.snap[aw.used];
	aw.fds[i] = aw.fds[aw.used];
	aw.pretend_res[i] = aw.pretend_res[aw.used];
	aw.seq[i] = aw.seq[aw.used];
	aw.polled_at[i] = aw.polled_at[aw.used];
	aw.polled[i] = aw.polled[aw.used];
	aw.inflight--;
}

/* The watched batch's window is short (see aw.fill_n); aw.lock held. */
static bool aw_fill_short(void)
{
	if (aw.fill_n <= 0 || aw.refused_eagain != aw.fill_eagain_base ||
	    aw.real_eagain != aw.fill_real_eagain_base)
		return false;
	return aw.fill_n - (aw.accepted - aw.fill_base) > 0 && aw.inflight < aw.fill_w;
}

/* The code waits (how: what it called), aw.lock held: counted if the
 * window is short. */
static void aw_fill_wait(const char *how)
{
	if (!aw_fill_short() || aw.underfilled++ > 0)
		return;
	aw.underfilled_inflight = aw.inflight;
	aw.underfilled_left = aw.fill_n - (aw.accepted - aw.fill_base);
	aw.underfilled_window = aw.fill_w;
	aw.underfilled_how = how;
}

/* aio_error said EINPROGRESS for cb: polling, if it is the third time in a
 * row with the window short, and nothing was submitted or collected since
 * the first (aw.fill_n). */
static void aw_fill_polled(const struct aiocb *cb)
{
	long progress;
	int i;

	pthread_mutex_lock(&aw.lock);
	i = aw_find(cb);
	progress = aw.accepted + aw.returns + 1;
	if (i >= 0 && aw_fill_short()) {
		if (aw.polled_at[i] != progress) {
			aw.polled_at[i] = progress;
			aw.polled[i] = 0;
		}
		if (++aw.polled[i] >= 3)
			aw_fill_wait("polled aio_error (EINPROGRESS 3 times for one read, "
				     "nothing submitted or collected in between)");
	}
	pthread_mutex_unlock(&aw.lock);
}

/* A pause (nanosleep, sched_yield, poll, ...) of the code under test. */
static void aw_fill_paused(const char *how)
{
	pthread_mutex_lock(&aw.lock);
	aw_fill_wait(how);
	pthread_mutex_unlock(&aw.lock);
}

/* Everything aio_read and aio_read64 do under watch (the same struct on a
 * 64-bit system). */
static int aw_read_common(struct aiocb *cb, int (*real)(struct aiocb *))
{
	size_t asked;
	ssize_t pretend;
	long call;
	int rc, err, fd;

	pthread_mutex_lock(&aw.lock);
	call = aw.read_calls++;
	if (aw.read_budget && call >= aw.read_budget) {
		pthread_mutex_unlock(&aw.lock);
		w_violate("%s", aw.budget_why ? aw.budget_why : "too many aio_read calls");
		errno = EPERM;
		return -1;
	}
	if (cb->aio_sigevent.sigev_notify != SIGEV_NONE)
		w_violate("aio_read got an aiocb with aio_sigevent.sigev_notify = %d, not "
			  "SIGEV_NONE (%d): glibc then queues a signal (or starts a thread) for "
			  "every completion. memset the aiocb to 0, then set sigev_notify = "
			  "SIGEV_NONE (TODO 4, lesson section 1)", cb->aio_sigevent.sigev_notify,
			  SIGEV_NONE);
	if (cb->aio_reqprio != 0)
		w_violate("aio_read got an aiocb with aio_reqprio = %d: the aiocb was not zeroed "
			  "before it was filled (memset it; TODO 4, lesson section 1)",
			  cb->aio_reqprio);
	if (cb->aio_nbytes == 0)
		aw.zero_len++;
	if (cb->aio_offset < 0)
		aw.neg_offset++;
	if (aw_find(cb) >= 0)
		w_violate("aio_read was called with an aiocb that is still in flight (accepted "
			  "earlier and not yet collected with aio_return): glibc keeps a pointer to "
			  "it until then (TODO 5, lesson section 1)");
	if ((aw.eagain == AW_EAGAIN_FIRST && call < aw.eagain_first) ||
	    (aw.eagain == AW_EAGAIN_ALTERNATE && call % 2 == 1) ||
	    (aw.eagain == AW_EAGAIN_IDLE && aw.inflight == 0 &&
	     aw.idle_refused < aw.eagain_first) ||
	    (aw.eagain == AW_EAGAIN_PAUSED && aw.inflight == 0 &&
	     aw.paused_ns - aw.paused_at_accept < aw.eagain_pause_ns) ||
	    aw.eagain == AW_EAGAIN_ALWAYS || (aw.limit > 0 && aw.inflight >= aw.limit)) {
		aw.refused_eagain++;
		if (aw.inflight > 0)
			aw.eagain_busy = true;
		if (aw.inflight == 0) {
			aw.idle_refused++;
			if (++aw.idle_run > aw.max_idle_run)
				aw.max_idle_run = aw.idle_run;
		}
		if (++aw.eagain_run > aw.max_eagain_run)
			aw.max_eagain_run = aw.eagain_run;
		pthread_mutex_unlock(&aw.lock);
		errno = EAGAIN;
		return -1;
	}
	if (aw.refuse_fd > 0 && cb->aio_fildes == aw.refuse_fd) {
		pthread_mutex_unlock(&aw.lock);
		errno = aw.refuse_errno;
		return -1;
	}
	if (aw.cont_refuse_errno > 0 && cb->aio_offset % 4096 != 0) {
		pthread_mutex_unlock(&aw.lock);
		errno = aw.cont_refuse_errno;
		return -1;
	}
	asked = cb->aio_nbytes;
	fd = cb->aio_fildes;
	if (aw.cap && asked > aw.cap)
		cb->aio_nbytes = aw.cap;
	/* A read of the pretend file: glibc reads 0 bytes of /dev/null instead
	 * (the buffer untouched) and aio_return answers what a file of
	 * pretend_size bytes would, at most 0x7ffff000 bytes a read (read(2)). */
	pretend = -1;
	if (aw.pretend_fd > 0 && fd == aw.pretend_fd) {
		unsigned long long off = (unsigned long long)cb->aio_offset;

		pretend = 0;
		if (cb->aio_offset >= 0 && off < aw.pretend_size) {
			unsigned long long left = aw.pretend_size - off;

			pretend = (ssize_t)(cb->aio_nbytes < left ? cb->aio_nbytes : left);
			if (pretend > 0x7ffff000)
				pretend = 0x7ffff000;
		}
		cb->aio_fildes = aw.pretend_null;
		cb->aio_nbytes = 0;   /* no buffer to check; restored before aio_return */
	}
	if (aw.cont_fail_fd > 0 && cb->aio_offset % 4096 != 0)
		cb->aio_fildes = aw.cont_fail_fd;
	rc = real(cb);
	err = errno;
	if (rc == 0) {
		if (aw.used < AW_MAX_CB) {
			aw.snap[aw.used] = *cb;
			aw.cb[aw.used] = cb;
			aw.fds[aw.used] = fd;
			aw.pretend_res[aw.used] = pretend;
			aw.seq[aw.used] = aw.next_seq++;
			aw.polled_at[aw.used] = 0;
			aw.polled[aw.used] = 0;
			aw.nbytes[aw.used++] = asked;
		}
		aw.accepted++;
		if (aw.eagain_busy)
			aw.eagain_then_accept++;
		aw.eagain_busy = false;
		aw.idle_refused = 0;
		aw.idle_run = 0;
		aw.paused_at_accept = aw.paused_ns;
		if (++aw.inflight > aw.max_inflight)
			aw.max_inflight = aw.inflight;
	} else {
		cb->aio_nbytes = asked;
		cb->aio_fildes = fd;
		if (err == EAGAIN)   /* glibc's own: out of resources */
			aw.real_eagain++;
	}
	pthread_mutex_unlock(&aw.lock);
	errno = err;
	return rc;
}

static int aw_real_read(struct aiocb *cb) { return SEAM_REAL(aio_read)(cb); }
static int aw_real_read64(struct aiocb *cb) { return SEAM_REAL(aio_read64)((struct aiocb64 *)cb); }
static int aw_aio_read(struct aiocb *cb) { return aw_read_common(cb, aw_real_read); }
static int aw_aio_read64(struct aiocb64 *cb) { return aw_read_common((struct aiocb *)cb, aw_real_read64); }

/* Set in glibc's private error field of an aiocb once aio_return collected
 * its read (aio_read sets it again to EINPROGRESS): an aio_error after that
 * asks about a request that is gone. glibc would still answer; POSIX lets
 * aio_error fail then (aio_return(3p): "thereafter, if the same aiocb
 * structure is used in a call to aio_return() or aio_error(), an error may
 * be returned"), and the watch does. */
#define AW_COLLECTED_MARK (-4242)
static _Thread_local bool aw_collected;

/* -1, or what aio_return answers for a read of the pretend file. */
static ssize_t aw_before_return(struct aiocb *cb)
{
	ssize_t pretend = -1;
	int i;

	pthread_mutex_lock(&aw.lock);
	aw.returns++;
	aw.eagain_run = 0;
	aw.eagain_busy = false;
	i = aw_find(cb);
	if (i < 0) {
		w_violate("aio_return was called for an aiocb that is not in flight: a second "
			  "aio_return for the same read, or one for a read that aio_read refused. "
			  "Call it exactly once per accepted aio_read (TODO 7, aio_return(3))");
	} else if (SEAM_REAL(aio_error)(cb) == EINPROGRESS) {
		w_violate("aio_return was called while aio_error still said EINPROGRESS: the "
			  "read had not finished. Call aio_return only once aio_error returned "
			  "something else (TODO 7, aio_return(3))");
	} else {
		/* The fields glibc only reads must be as aio_read took them: a
		 * difference means the aiocb was cleared, reused or freed (free
		 * writes its list pointers into the block) while glibc still
		 * used it. */
		const struct aiocb *was = &aw.snap[i];

		if (cb->aio_fildes != was->aio_fildes || cb->aio_reqprio != was->aio_reqprio ||
		    cb->aio_buf != was->aio_buf || cb->aio_offset != was->aio_offset ||
		    cb->aio_lio_opcode != was->aio_lio_opcode)
			w_violate("the aiocb of a read in flight changed before aio_return "
				  "collected it (aio_fildes %d -> %d, aio_reqprio %d -> %d): was it "
				  "freed, cleared or reused while glibc still used it? Free the "
				  "aiocbs only once every read in flight was collected, on every path "
				  "(TODO 9, paio.h rules)", was->aio_fildes, cb->aio_fildes,
				  was->aio_reqprio, cb->aio_reqprio);
		cb->aio_nbytes = aw.nbytes[i];   /* undo the cap: the aiocb is theirs again */
		cb->aio_fildes = aw.fds[i];
		pretend = aw.pretend_res[i];
		aw_forget(i);
		aw_collected = true;
	}
	pthread_mutex_unlock(&aw.lock);
	return pretend;
}

/* After the real aio_return of a read that was in flight: mark it collected. */
static void aw_after_return(struct aiocb *cb)
{
	if (aw_collected)
		cb->__error_code = AW_COLLECTED_MARK;
	aw_collected = false;
}

/* aio_error of an aiocb whose read aio_return already collected: a
 * violation, answered as POSIX allows (-1, EINVAL). */
static bool aw_error_after_return(const struct aiocb *cb)
{
	if (cb == NULL || cb->__error_code != AW_COLLECTED_MARK)
		return false;
	w_violate("aio_error was called for an aiocb whose read aio_return had already "
		  "collected: after aio_return the request is gone, and aio_error may fail "
		  "(aio_return(3p); other systems do). Ask aio_error once, before aio_return, "
		  "and keep its answer: it is the read's error (TODO 7, lesson section 2)");
	errno = EINVAL;
	return true;
}

static ssize_t aw_aio_return(struct aiocb *cb)
{
	ssize_t pretend = aw_before_return(cb), got = SEAM_REAL(aio_return)(cb);

	aw_after_return(cb);
	return pretend >= 0 && got == 0 ? pretend : got;
}

static ssize_t aw_aio_return64(struct aiocb64 *cb)
{
	ssize_t pretend = aw_before_return((struct aiocb *)cb), got = SEAM_REAL(aio_return64)(cb);

	aw_after_return((struct aiocb *)cb);
	return pretend >= 0 && got == 0 ? pretend : got;
}

static int aw_aio_error(const struct aiocb *cb)
{
	int rc;

	pthread_mutex_lock(&aw.lock);
	aw.errors++;
	pthread_mutex_unlock(&aw.lock);
	if (aw_error_after_return(cb))
		return -1;
	rc = SEAM_REAL(aio_error)(cb);
	if (rc == EINPROGRESS)
		aw_fill_polled(cb);
	return rc;
}

static int aw_aio_error64(const struct aiocb64 *cb)
{
	int rc;

	pthread_mutex_lock(&aw.lock);
	aw.errors++;
	pthread_mutex_unlock(&aw.lock);
	if (aw_error_after_return((const struct aiocb *)cb))
		return -1;
	rc = SEAM_REAL(aio_error64)(cb);
	if (rc == EINPROGRESS)
		aw_fill_polled((const struct aiocb *)cb);
	return rc;
}

/* Every non-NULL entry of an aio_suspend list is still in progress. */
static bool aw_none_done(const void *list, int n, bool is64)
{
	for (int i = 0; i < n; i++) {
		const struct aiocb *cb = ((const struct aiocb *const *)list)[i];
		int e;

		if (!cb)
			continue;
		e = is64 ? SEAM_REAL(aio_error64)((const struct aiocb64 *)cb) : SEAM_REAL(aio_error)(cb);
		if (e != EINPROGRESS)
			return false;
	}
	return true;
}

/* Some entry of the list is a read on a pipe or FIFO: a read the harness
 * answers when the test says, which may be never before every other read. */
static bool aw_holds_pipe_read(const void *list, int n)
{
	for (int i = 0; i < n; i++) {
		const struct aiocb *cb = ((const struct aiocb *const *)list)[i];
		struct stat st;

		if (cb && fstat(cb->aio_fildes, &st) == 0 && S_ISFIFO(st.st_mode))
			return true;
	}
	return false;
}

static int aw_suspend_common(const void *list, int n, const struct timespec *ts, bool is64)
{
	int rc, err, fail;

	pthread_mutex_lock(&aw.lock);
	aw.suspends++;
	aw_fill_wait("waited in aio_suspend");
	aw.eagain_run = 0;
	aw.eagain_busy = false;
	/* Only reads in flight belong in the list (checked for short lists). */
	for (int i = 0; n <= 64 && i < n; i++) {
		const struct aiocb *cb = ((const struct aiocb *const *)list)[i];

		if (cb && aw.used < AW_MAX_CB && aw_find(cb) < 0)
			w_violate("aio_suspend got an entry (%d of %d) that is not a read in flight: "
				  "never accepted by aio_read, or already collected by aio_return. "
				  "Pass only the aiocbs of reads in flight, NULL elsewhere, and the "
				  "length of your list (TODO 6, aio_suspend(3))", i, n);
	}
	/* A timed wait on some of the reads (paio.h) is on older ones only.
	 * One whose list holds the newest read in flight waits, on one file
	 * (glibc runs a descriptor's reads in order), for the whole window to
	 * drain. A timed wait on every read in flight is not that wait (paio.h
	 * allows it), and with one read in flight there is nothing older. */
	if (ts && aw.used > 1 && aw.used < AW_MAX_CB) {
		const struct aiocb *const *l = list;
		int newest = 0, listed = 0, has_newest = 0;

		for (int i = 1; i < aw.used; i++)
			if (aw.seq[i] > aw.seq[newest])
				newest = i;
		for (int i = 0; i < aw.used; i++)
			for (int j = 0; j < n; j++)
				if (l[j] == aw.cb[i]) {
					listed++;
					has_newest |= i == newest;
					break;
				}
		if (has_newest && listed < aw.used) {
			w_violate("a timed aio_suspend (a wait on some of the reads) had the "
				  "newest read in flight in its list (%ld in flight): on one "
				  "file glibc finishes a descriptor's reads in order, so that "
				  "wait lasts until the whole window has drained, and nothing "
				  "is submitted meanwhile. Wait patiently on an older read, "
				  "with reads in flight behind it (the reference: the 8th "
				  "oldest, with 16 or more in flight), or on all of them with "
				  "NULL (TODO 6, lesson section 3 \"Waking less often\", "
				  "paio.h)", aw.inflight);
		}
		/* aio_suspend's timeout is an interval, not a deadline
		 * (aio_suspend(3)): a "bound" of more than a second on some of
		 * the reads (an absolute time passed as the interval is decades)
		 * is no bound, and a read that does not come back holds up every
		 * other read for that long. A timed wait on all of them may be
		 * as long as it likes: it wakes for any completion. */
		if (listed < aw.used &&
		    (ts->tv_sec > 1 || (ts->tv_sec == 1 && ts->tv_nsec > 0))) {
			w_violate("a timed aio_suspend on some of the reads in flight (%d of "
				  "%d) had a timeout of %lld.%03ld s: the timeout is an "
				  "interval from now (aio_suspend(3)), not a deadline from "
				  "clock_gettime, and the bound of a wait on some of the "
				  "reads must be short (the reference: 5 ms; the tests "
				  "refuse more than a second): a read that does not come "
				  "back holds up every other read for that long (TODO 6, "
				  "lesson section 3 \"Waking less often\", paio.h)", listed,
				  aw.used, (long long)ts->tv_sec, ts->tv_nsec / 1000000);
		}
	}
	fail = aw.suspend_fail_errno;
	aw.suspend_fail_errno = 0;
	if (!fail && aw.suspend_eintr_every > 0 && aw.suspends % aw.suspend_eintr_every == 0)
		fail = EINTR;
	pthread_mutex_unlock(&aw.lock);
	if (fail == EINTR)
		atomic_fetch_add(&aw.eintr_seen, 1);
	if (fail) {
		errno = fail;
		return -1;
	}
	/* A timeout, whatever its length, is taken as run out at once when
	 * nothing in the list has finished and a read on a pipe is among it: a
	 * loop of timed waits is polling, counted as such whatever the
	 * machine's speed, and a bounded wait (lesson section 3) must cope with
	 * running out. A timed wait on file reads alone is a real one, so that
	 * a bounded wait that keeps succeeding runs for the whole batch. */
	if (ts && aw_none_done(list, n, is64) && aw_holds_pipe_read(list, n)) {
		atomic_fetch_add(&aw.suspend_timeouts, 1);
		errno = EAGAIN;
		return -1;
	}
	atomic_fetch_add(&aw.suspend_gen, 1);
	atomic_store(&aw.in_suspend, 1);
	rc = is64 ? SEAM_REAL(aio_suspend64)(list, n, ts) : SEAM_REAL(aio_suspend)(list, n, ts);
	err = errno;
	atomic_store(&aw.in_suspend, 0);
	if (rc < 0 && err == EINTR)
		atomic_fetch_add(&aw.eintr_seen, 1);
	if (rc < 0 && err == EAGAIN)
		atomic_fetch_add(&aw.suspend_timeouts, 1);
	/* errno means nothing after a success (errno(3)): code that reads it
	 * anyway finds an error that did not happen. */
	errno = rc == 0 ? EIO : err;
	return rc;
}

static int aw_aio_suspend(const struct aiocb *const list[], int n, const struct timespec *ts)
{
	return aw_suspend_common(list, n, ts, false);
}

static int aw_aio_suspend64(const struct aiocb64 *const list[], int n, const struct timespec *ts)
{
	return aw_suspend_common(list, n, ts, true);
}

/* Install the aio hooks; part A's rules: no blocking reads, no lio_listio,
 * no threads of one's own. */
static void aw_watch(void)
{
	static const char why_read[] =
		"part A reads through POSIX aio only: submit every read with aio_read(3) "
		"(TODO 5); glibc's helper threads make the real pread calls";
	static const char why_lio[] =
		"part A submits with aio_read(3), one aiocb per read (TODO 5); lio_listio is "
		"shown in the lesson (section 4), not used in the exercise";
	static const char why_thread[] =
		"part A creates no threads: glibc's POSIX aio makes its own helpers";

	seam_refuse_blocking_io(why_read);
	seam_refuse(SEAM_lio_listio, why_lio);
	seam_refuse(SEAM_lio_listio64, why_lio);
	seam_refuse(SEAM_pthread_create, why_thread);
	seam_hook_aio_read = aw_aio_read;
	seam_hook_aio_read64 = aw_aio_read64;
	seam_hook_aio_return = aw_aio_return;
	seam_hook_aio_return64 = aw_aio_return64;
	seam_hook_aio_error = aw_aio_error;
	seam_hook_aio_error64 = aw_aio_error64;
	seam_hook_aio_suspend = aw_aio_suspend;
	seam_hook_aio_suspend64 = aw_aio_suspend64;
	/* A request submitted again and again (end of file taken for a short
	 * read) ends in a failure, not on the time limit. */
	aw.read_budget = 20000;
	aw.budget_why = "paio_batch_read made more than 20000 aio_read calls: is a request "
			"submitted again after aio_return said 0 (end of file)? (TODO 7)";
}

/* Reads still in flight (accepted, never collected). */
static long aw_in_flight(void)
{
	long n;

	pthread_mutex_lock(&aw.lock);
	n = aw.inflight;
	pthread_mutex_unlock(&aw.lock);
	return n;
}

/* Pauses of the code under test: a sleeping call of non-zero length ends a
 * run of EAGAINs with nothing in flight (aw.idle_run). The lengths asked for
 * are added up (aw.paused_ns; a pause without an end adds nothing): a
 * measure of how long the code chose to wait that no machine's speed
 * changes. */
static void aw_paused(bool nonzero, long long ns)
{
	if (!nonzero)
		return;
	pthread_mutex_lock(&aw.lock);
	aw.idle_run = 0;
	aw.eagain_busy = false;
	if (ns > 0)
		aw.paused_ns += ns;
	pthread_mutex_unlock(&aw.lock);
}

static long long aw_ts_ns(const struct timespec *ts)
{
	return ts ? (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec : 0;
}

/* One from a budget of faults (*budget > 0), counted in *given; false when
 * the budget is spent. */
static bool aw_take_fault(long *budget, long *given)
{
	bool yes = false;

	pthread_mutex_lock(&aw.lock);
	if (*budget > 0) {
		(*budget)--;
		(*given)++;
		yes = true;
	}
	pthread_mutex_unlock(&aw.lock);
	return yes;
}

/* A pause of non-zero length that is to end at once with EINTR, as if a
 * signal handler installed without SA_RESTART ran before any time passed
 * (aw.pause_eintr): what is left of it is then all of it. */
static bool aw_pause_interrupted(bool nonzero)
{
	return nonzero && aw_take_fault(&aw.pause_eintr, &aw.pause_eintr_given);
}

/* A steady stream of signals (aw.pause_storm), as a profiler's timer sends
 * them: a pause of ns > 0 sleeps AW_STORM_SLICE_NS for real (or all of it,
 * if shorter), then ends with EINTR; *left is what is left of it. A pause
 * started again from its full length after EINTR never ends; one that
 * sleeps what is left, goes on to its next try, or measures on a clock
 * does. */
#define AW_STORM_SLICE_NS 500000LL
static bool aw_pause_stormed(long long ns, long long *left)
{
	struct timespec slice;

	if (ns <= 0 || !aw_take_fault(&aw.pause_storm, &aw.pause_storm_given))
		return false;
	if (ns > AW_STORM_SLICE_NS) {
		slice = (struct timespec){ 0, AW_STORM_SLICE_NS };
		ns -= AW_STORM_SLICE_NS;
	} else {
		slice = (struct timespec){ 0, ns };
		ns = 0;
	}
	while (SEAM_REAL(nanosleep)(&slice, &slice) < 0 && errno == EINTR)
		;
	*left = ns;
	return true;
}

static struct timespec aw_ns_ts(long long ns)
{
	return (struct timespec){ ns / 1000000000LL, ns % 1000000000LL };
}

static int aw_nanosleep(const struct timespec *req, struct timespec *rem)
{
	bool nonzero = req && (req->tv_sec > 0 || req->tv_nsec > 0);

	long long left;

	aw_fill_paused("paused in nanosleep");
	aw_paused(nonzero, aw_ts_ns(req));
	if (req && aw_pause_stormed(aw_ts_ns(req), &left)) {
		if (rem)
			*rem = aw_ns_ts(left);
		errno = EINTR;
		return -1;
	}
	if (aw_pause_interrupted(nonzero)) {
		if (rem)
			*rem = *req;
		errno = EINTR;
		return -1;
	}
	return SEAM_REAL(nanosleep)(req, rem);
}

static int aw_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req,
			      struct timespec *rem)
{
	long long ns = aw_ts_ns(req);
	struct timespec now;
	bool nonzero = req && (fl != 0 || req->tv_sec > 0 || req->tv_nsec > 0);

	aw_fill_paused("paused in clock_nanosleep");
	if (req && fl != 0 && clock_gettime(clk, &now) == 0)   /* TIMER_ABSTIME */
		ns -= aw_ts_ns(&now);
	aw_paused(nonzero, ns);
	if (req && aw_pause_stormed(ns, &ns)) {
		if (rem && fl == 0)
			*rem = aw_ns_ts(ns);
		return EINTR;
	}
	if (aw_pause_interrupted(nonzero)) {
		if (rem && fl == 0)
			*rem = *req;
		return EINTR;   /* clock_nanosleep returns the error number */
	}
	return SEAM_REAL(clock_nanosleep)(clk, fl, req, rem);
}

static int aw_usleep(useconds_t us)
{
	aw_fill_paused("paused in usleep");
	long long left;

	aw_paused(us > 0, (long long)us * 1000);
	if (aw_pause_stormed((long long)us * 1000, &left)) {
		errno = EINTR;
		return -1;
	}
	if (aw_pause_interrupted(us > 0)) {
		errno = EINTR;
		return -1;
	}
	return SEAM_REAL(usleep)(us);
}

static unsigned int aw_sleep(unsigned int s)
{
	aw_fill_paused("paused in sleep");
	long long left;

	aw_paused(s > 0, (long long)s * 1000000000LL);
	if (aw_pause_stormed((long long)s * 1000000000LL, &left))
		return (unsigned int)((left + 999999999LL) / 1000000000LL);
	if (aw_pause_interrupted(s > 0))
		return s;       /* sleep(3): the seconds left, all of them */
	return SEAM_REAL(sleep)(s);
}

static int aw_poll(void *fds, unsigned long n, int timeout)
{
	aw_fill_paused("paused in poll");
	long long left;

	aw_paused(timeout != 0, (long long)timeout * 1000000);
	if (aw_pause_stormed((long long)timeout * 1000000, &left)) {
		errno = EINTR;
		return -1;
	}
	if (aw_pause_interrupted(timeout != 0)) {
		errno = EINTR;
		return -1;
	}
	return SEAM_REAL(poll)(fds, n, timeout);
}

static int aw_ppoll(void *fds, unsigned long n, const struct timespec *ts, const sigset_t *ss)
{
	bool nonzero = !ts || ts->tv_sec > 0 || ts->tv_nsec > 0;

	long long left;

	aw_fill_paused("paused in ppoll");
	aw_paused(nonzero, aw_ts_ns(ts));
	if (ts && aw_pause_stormed(aw_ts_ns(ts), &left)) {
		errno = EINTR;
		return -1;
	}
	if (aw_pause_interrupted(nonzero)) {
		errno = EINTR;
		return -1;
	}
	return SEAM_REAL(ppoll)(fds, n, ts, ss);
}

static int aw_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	bool nonzero = !tv || tv->tv_sec > 0 || tv->tv_usec > 0;

	aw_fill_paused("paused in select");
	aw_paused(nonzero,
		  tv ? (long long)tv->tv_sec * 1000000000LL + (long long)tv->tv_usec * 1000 : 0);
	if (tv) {
		long long left;

		if (aw_pause_stormed((long long)tv->tv_sec * 1000000000LL +
				     (long long)tv->tv_usec * 1000, &left)) {
			tv->tv_sec = left / 1000000000LL;   /* Linux: what is left */
			tv->tv_usec = (left % 1000000000LL) / 1000;
			errno = EINTR;
			return -1;
		}
	}
	if (aw_pause_interrupted(nonzero)) {
		errno = EINTR;   /* Linux: tv keeps what is left, here all of it */
		return -1;
	}
	return SEAM_REAL(select)(n, r, w, e, tv);
}

static int aw_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		      const sigset_t *ss)
{
	bool nonzero = !ts || ts->tv_sec > 0 || ts->tv_nsec > 0;

	long long left;

	aw_fill_paused("paused in pselect");
	aw_paused(nonzero, aw_ts_ns(ts));
	if (ts && aw_pause_stormed(aw_ts_ns(ts), &left)) {
		errno = EINTR;
		return -1;
	}
	if (aw_pause_interrupted(nonzero)) {
		errno = EINTR;
		return -1;
	}
	return SEAM_REAL(pselect)(n, r, w, e, ts, ss);
}

static int aw_sched_yield(void)
{
	aw_fill_paused("called sched_yield");
	return SEAM_REAL(sched_yield)();
}

/* Watch the pauses (after aw_watch). */
static void aw_pace_watch(void)
{
	seam_hook_sched_yield = aw_sched_yield;
	seam_hook_nanosleep = aw_nanosleep;
	seam_hook_clock_nanosleep = aw_clock_nanosleep;
	seam_hook_usleep = aw_usleep;
	seam_hook_sleep = aw_sleep;
	seam_hook_poll = aw_poll;
	seam_hook_ppoll = aw_ppoll;
	seam_hook_select = aw_select;
	seam_hook_pselect = aw_pselect;
}

/* Part A creates no thread: a timed wait on a condition variable of its
 * own is a pause. */
static int aw_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	aw_fill_paused("paused in pthread_cond_timedwait");
	return SEAM_REAL(pthread_cond_timedwait)(c, m, ts);
}

/* Watch the next batch's window (n requests of one aio_read each, window
 * w; n == 0: a batch not watched): see aw.fill_n. Installs the pause hooks
 * too: a pause is a wait. */
static void aw_fill_expect(long n, long w)
{
	aw_pace_watch();
	if (!seam_hook_pthread_cond_timedwait)
		seam_hook_pthread_cond_timedwait = aw_cond_timedwait;
	pthread_mutex_lock(&aw.lock);
	aw.fill_n = n;
	aw.fill_w = w;
	aw.fill_base = aw.accepted;
	aw.fill_eagain_base = aw.refused_eagain;
	aw.fill_real_eagain_base = aw.real_eagain;
	aw.underfilled = 0;
	pthread_mutex_unlock(&aw.lock);
}

/* The batch has returned: stop watching, keep what was seen. */
static void aw_fill_end(void)
{
	pthread_mutex_lock(&aw.lock);
	aw.fill_n = 0;
	pthread_mutex_unlock(&aw.lock);
}

/* ====================================================================== */
/* 2. Threads and reads                                                    */
/* ====================================================================== */

#define TW_MAX 512
#define TW_GONE ((pid_t)-1)

static struct {
	pthread_mutex_t lock;
	long create_calls, created, joins, detaches, joins_unknown;
	long fail_at;               /* pthread_create call (0-based) that fails; -1 none */
	int fail_errno;             /* ... with this error (0: EAGAIN) */
	pthread_t threads[TW_MAX];
	bool joined[TW_MAX];
	atomic_int ntids;
	pid_t tids[TW_MAX];         /* filled by each thread as it starts;
				     * TW_GONE once it has ended */
	atomic_int started, exited;
	atomic_int unmasked_threads;
	atomic_int unmasked_signal; /* one signal a worker left unblocked */
	atomic_int unmasked_reads;  /* reads a worker made with a signal unblocked */
	atomic_int unmasked_read_signal; /* one such signal */
	pthread_t selves[TW_MAX];   /* each started thread, by its start order k */
	pthread_cond_t *_Atomic last_cond[TW_MAX]; /* the condition variable it last */
	                            /* waited on                                    */
	pthread_mutex_t *_Atomic last_mutex[TW_MAX]; /* ... and the mutex it waited */
	                            /* with (its pool's lock)                        */
	bool check_join_sync;       /* pthread_join checks that cond is not destroyed */
	atomic_bool stop_race;      /* a worker's wait first lingers (lock held)     */
	atomic_int in_gap;          /* workers lingering so                          */
	atomic_bool woken_in_gap;   /* a wake-up came while one lingered             */
	atomic_long waits_worker;   /* pthread_cond_wait/timedwait calls by workers  */
	atomic_long waits_caller;   /* ... and by the other threads (the callers)    */
} tw = { .lock = PTHREAD_MUTEX_INITIALIZER, .fail_at = -1 };

static _Thread_local int tw_k = -1;   /* this thread's k, if a wrapped one */

/* The condition variables the callers of the pool (threads that are not
 * workers) waited on, each with its mutex. */
#define TW_WAITS 32
static struct { pthread_cond_t *c; pthread_mutex_t *m; int waiting; } tw_waits[TW_WAITS];
static int tw_nwaits;

/* A thread waits on c with m: a worker's last condition variable is kept
 * for tw.check_join_sync, a caller's for tw_check_signal. */
static void tw_note_cond(pthread_cond_t *c, pthread_mutex_t *m)
{
	int i;

	if (tw_k >= 0) {
		if (tw_k < TW_MAX) {
			atomic_store(&tw.last_mutex[tw_k], m);
			atomic_store(&tw.last_cond[tw_k], c);
		}
		return;
	}
	pthread_mutex_lock(&tw.lock);
	for (i = 0; i < tw_nwaits && tw_waits[i].c != c; i++)
		;
	if (i < TW_WAITS) {
		tw_waits[i].c = c;
		tw_waits[i].m = m;
		if (i == tw_nwaits)
			tw_nwaits++;
	}
	pthread_mutex_unlock(&tw.lock);
}

/* tw.stop_race: a worker about to wait (it holds the lock and has just
 * found nothing to do) lingers up to 300 ms first. Code that changes the
 * state with the lock held cannot wake it in that time; a wake-up that
 * comes anyway was sent without the lock, after a change made without it,
 * and would be lost: the worker then returns as if woken spuriously. */
static bool tw_linger(void)
{
	long deadline = fault_now_ms() + 300;
	bool woken;

	if (tw_k < 0 || !atomic_load(&tw.stop_race))
		return false;
	atomic_fetch_add(&tw.in_gap, 1);
	while (!atomic_load(&tw.woken_in_gap) && fault_now_ms() < deadline)
		fault_nap();
	woken = atomic_load(&tw.woken_in_gap);
	atomic_fetch_sub(&tw.in_gap, 1);
	return woken;
}

static void tw_count_wait(void)
{
	atomic_fetch_add(tw_k >= 0 ? &tw.waits_worker : &tw.waits_caller, 1);
}

/* A caller is inside a wait on c (delta 1) or back from it (-1): while it
 * is, its entry in tw_waits is this wait's, and its mutex alive. */
static void tw_caller_waiting(pthread_cond_t *c, int delta)
{
	if (tw_k >= 0)
		return;
	pthread_mutex_lock(&tw.lock);
	for (int i = 0; i < tw_nwaits; i++)
		if (tw_waits[i].c == c)
			tw_waits[i].waiting += delta;
	pthread_mutex_unlock(&tw.lock);
}

static int tw_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int ret;

	tw_count_wait();
	tw_note_cond(c, m);
	if (tw_linger())
		return 0;
	tw_caller_waiting(c, 1);
	ret = SEAM_REAL(pthread_cond_wait)(c, m);
	tw_caller_waiting(c, -1);
	return ret;
}

static int tw_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	int ret;

	tw_count_wait();
	tw_note_cond(c, m);
	tw_caller_waiting(c, 1);
	ret = SEAM_REAL(pthread_cond_timedwait)(c, m, ts);
	tw_caller_waiting(c, -1);
	return ret;
}

/* A worker signals a condition variable a caller waits on: it must hold
 * the mutex the caller waits with. Signalled after the lock is let go, the
 * caller may already have seen its count reach 0, returned, and destroyed
 * the condition variable (a batch's lives on the caller's stack).
 *
 * tw_waits remembers the last wait at each address, and a batch's condition
 * variable on the caller's stack comes back at the same address in later
 * batches, on other pools too. A caller that queues its window, lets go of
 * the lock and takes it again to wait may find its batch done and never
 * wait on it: the entry is then an older batch's, with an older pool's
 * mutex. So the check is made when the caller's mutex is the one the
 * signalling worker itself waits for work with (its pool's lock): then the
 * entry is this pool's, whichever batch made it; or, whatever its mutex (a
 * module with a lock of its own for a batch's end), when a caller is inside
 * that wait right now: then the entry is current. */
static void tw_check_signal(pthread_cond_t *c, const char *fn)
{
	pthread_mutex_t *mine;

	if (tw_k < 0 && atomic_load(&tw.stop_race) && atomic_load(&tw.in_gap) > 0) {
		w_violate("tpool_destroy called %s while a worker held the lock between its "
			  "check for work (or for the stop flag) and its pthread_cond_wait: the "
			  "stop flag was set without the lock, so that worker can check it just "
			  "before, wait just after, miss the wake-up and never end. Set the flag "
			  "with the lock held (TODO 15, paio.h \"Synchronisation\")", fn);
		atomic_store(&tw.woken_in_gap, true);
	}
	if (tw_k < 0 || tw_k >= TW_MAX)
		return;
	mine = atomic_load(&tw.last_mutex[tw_k]);  /* NULL: it never waited for work */
	pthread_mutex_lock(&tw.lock);
	for (int i = 0; i < tw_nwaits; i++) {
		if (tw_waits[i].c == c && (tw_waits[i].m == mine || tw_waits[i].waiting > 0) &&
		    tw_waits[i].m->__data.__owner != w_gettid()) {
			w_violate("a worker called %s on the condition variable a caller of "
				  "tpool_batch_read waits on without holding the lock: once the lock "
				  "is let go, the caller may see its count at 0, return and destroy "
				  "that condition variable first. Change the count and signal with "
				  "the lock held (TODO 12, paio.h \"Synchronisation\")", fn);
			break;
		}
	}
	pthread_mutex_unlock(&tw.lock);
}

static int tw_cond_signal(pthread_cond_t *c)
{
	tw_check_signal(c, "pthread_cond_signal");
	return SEAM_REAL(pthread_cond_signal)(c);
}

static int tw_cond_broadcast(pthread_cond_t *c)
{
	tw_check_signal(c, "pthread_cond_broadcast");
	return SEAM_REAL(pthread_cond_broadcast)(c);
}

struct tw_start {
	void *(*fn)(void *);
	void *arg;
};

/* Is every signal a thread can block blocked in this thread? The real-time
 * ones too (SIGRTMIN .. SIGRTMAX): "every signal" is what sigfillset(3)
 * gives, not the 31 classic ones. */
static int tw_first_unblocked_signal(void)
{
	sigset_t now;

	if (pthread_sigmask(SIG_BLOCK, NULL, &now) != 0)
		return -1;
	for (int s = 1; s <= SIGRTMAX; s++) {
		if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33)
			continue;  /* cannot be blocked, or glibc's own (cancel, setxid) */
		if (!sigismember(&now, s))
			return s;
	}
	return 0;
}

static void *tw_trampoline(void *p)
{
	struct tw_start st = *(struct tw_start *)p;
	int k = atomic_fetch_add(&tw.ntids, 1);
	int unblocked = tw_first_unblocked_signal();
	void *ret;

	free(p);
	tw_k = k;
	if (k < TW_MAX) {
		tw.selves[k] = pthread_self();
		tw.tids[k] = w_gettid();
	}
	if (unblocked != 0) {
		atomic_fetch_add(&tw.unmasked_threads, 1);
		atomic_store(&tw.unmasked_signal, unblocked);
	}
	atomic_fetch_add(&tw.started, 1);
	ret = st.fn(st.arg);
	/* An ended thread neither sleeps nor runs: the checks below that wait
	 * for every thread to sleep must not wait for it (a test that makes a
	 * new pool per round would otherwise wait out every bound). */
	if (k < TW_MAX)
		tw.tids[k] = TW_GONE;
	atomic_fetch_add(&tw.exited, 1);
	return ret;
}

static int tw_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	struct tw_start *st;
	long call;
	int rc;

	pthread_mutex_lock(&tw.lock);
	call = tw.create_calls++;
	pthread_mutex_unlock(&tw.lock);
	if (call == tw.fail_at)   /* EAGAIN: as when RLIMIT_NPROC or memory runs out */
		return tw.fail_errno ? tw.fail_errno : EAGAIN;
	st = malloc(sizeof(*st));
	if (!st)
		return EAGAIN;
	st->fn = fn;
	st->arg = arg;
	rc = SEAM_REAL(pthread_create)(t, a, tw_trampoline, st);
	if (rc != 0) {
		free(st);
		return rc;
	}
	pthread_mutex_lock(&tw.lock);
	if (tw.created < TW_MAX)
		tw.threads[tw.created] = *t;
	tw.created++;
	pthread_mutex_unlock(&tw.lock);
	return 0;
}

static int tw_pthread_join(pthread_t t, void **ret)
{
	bool known = false;

	pthread_mutex_lock(&tw.lock);
	tw.joins++;
	for (long i = 0; i < tw.created && i < TW_MAX; i++) {
		if (pthread_equal(tw.threads[i], t) && !tw.joined[i]) {
			tw.joined[i] = true;
			known = true;
			break;
		}
	}
	if (!known)
		tw.joins_unknown++;
	/* The condition variable this worker waited on must still be alive
	 * while it is joined: pthread_cond_destroy (glibc marks a destroyed one
	 * in __wrefs, bit 2) before the join means the worker may still be
	 * inside pthread_cond_wait, and on the mutex, when it is destroyed. */
	for (int k = 0; tw.check_join_sync && k < atomic_load(&tw.ntids) && k < TW_MAX; k++) {
		pthread_cond_t *c = atomic_load(&tw.last_cond[k]);

		if (c && pthread_equal(tw.selves[k], t) && (c->__data.__wrefs & 4))
			w_violate("a worker's condition variable was destroyed "
				  "(pthread_cond_destroy) before the worker was joined: it may "
				  "still be inside pthread_cond_wait, or about to lock the mutex. "
				  "Join every worker first, then destroy the condition variables and "
				  "the mutex, then free (TODO 15, pthread_cond_destroy(3))");
	}
	pthread_mutex_unlock(&tw.lock);
	return SEAM_REAL(pthread_join)(t, ret);
}

static int tw_pthread_detach(pthread_t t)
{
	pthread_mutex_lock(&tw.lock);
	tw.detaches++;
	pthread_mutex_unlock(&tw.lock);
	return SEAM_REAL(pthread_detach)(t);
}

/* How many of the threads created so far were joined. */
static long tw_joined(void)
{
	long n = 0;

	pthread_mutex_lock(&tw.lock);
	for (long i = 0; i < tw.created && i < TW_MAX; i++)
		n += tw.joined[i];
	pthread_mutex_unlock(&tw.lock);
	return n;
}

/* Wait (bounded) until `want` wrapped threads have started; how many did. */
static int w_started(int want)
{
	long deadline = fault_now_ms() + 1000;

	while (atomic_load(&tw.started) < want && fault_now_ms() < deadline)
		fault_nap();
	return atomic_load(&tw.started);
}

#define RW_MAX_FD 1024

static struct {
	atomic_long calls, inprogress, max_inprogress, by_caller, eintr_injected;
	atomic_long by_workers;     /* reads made by the pool's threads (tw.tids) */
	pid_t caller_tid;           /* the test thread: part B reads belong to workers */
	bool eintr;                 /* fail every other call of each thread with EINTR,
	                             * counted for read and for pread apart */
	bool cont_fail;             /* a pread at an offset not a multiple of 4096: EIO */
	int pretend_fd;             /* >0: preads of this fd move no byte: a file of */
	unsigned long long pretend_size; /* pretend_size bytes, 0x7ffff000 a call   */
	size_t cap;                 /* shorten every transfer to at most cap bytes */
	long budget;                /* calls allowed (0: no limit) */
	const char *budget_why;
	atomic_int reading[RW_MAX_FD];   /* reads in progress on each fd */
	atomic_int reader[RW_MAX_FD];    /* tid of the last thread that read each fd */
} rw;

/* Calls of each thread, [0] read, [1] pread: "every other call" alternates
 * for each function apart. One count for both would fail every read(2) of
 * a worker that tries pread first for each piece of a pipe (ESPIPE, then
 * read: the read always lands on the count's EINTR turn), a correct way. */
static _Thread_local unsigned rw_thread_calls[2];

static void rw_raise_max(long v)
{
	long m = atomic_load(&rw.max_inprogress);

	while (v > m && !atomic_compare_exchange_weak(&rw.max_inprogress, &m, v))
		;
}

/* Who reads: the pool's workers, and only they (paio.h, "Rules"). The test
 * thread that called tpool_batch_read reading for itself is a violation. */
static void rw_who(int fd)
{
	pid_t self = w_gettid();
	int n = atomic_load(&tw.ntids);

	if (self == rw.caller_tid) {
		atomic_fetch_add(&rw.by_caller, 1);
		seam_violate("the thread that called tpool_batch_read read descriptor %d itself: "
			     "the pool's workers make the reads (paio.h, \"Rules\"; TODO 12)", fd);
	}
	for (int i = 0; i < n && i < TW_MAX; i++)
		if (tw.tids[i] == self) {
			int open_sig = tw_first_unblocked_signal();

			atomic_fetch_add(&rw.by_workers, 1);
			/* The mask that matters is the one during the read: a
			 * worker that changes its own mask after it started
			 * (SIG_SETMASK where SIG_BLOCK was meant) shows here. */
			if (open_sig > 0) {
				atomic_fetch_add(&tw.unmasked_reads, 1);
				atomic_store(&tw.unmasked_read_signal, open_sig);
			}
			break;
		}
}

/* Returns true (and sets *ret) if the call is answered without the kernel. */
static bool rw_enter(int fd, size_t *n, ssize_t *ret, bool positioned)
{
	long call = atomic_fetch_add(&rw.calls, 1);

	rw_who(fd);
	if (rw.budget && call >= rw.budget) {
		w_violate("%s", rw.budget_why ? rw.budget_why : "too many read calls");
		errno = EPERM;
		*ret = -1;
		return true;
	}
	if (rw.eintr && rw_thread_calls[positioned]++ % 2 == 0) {
		atomic_fetch_add(&rw.eintr_injected, 1);
		errno = EINTR;
		*ret = -1;
		return true;
	}
	if (rw.cap && *n > rw.cap)
		*n = rw.cap;
	rw_raise_max(atomic_fetch_add(&rw.inprogress, 1) + 1);
	if (fd >= 0 && fd < RW_MAX_FD) {
		atomic_store(&rw.reader[fd], w_gettid());
		atomic_fetch_add(&rw.reading[fd], 1);
	}
	return false;
}

static void rw_leave(int fd)
{
	if (fd >= 0 && fd < RW_MAX_FD)
		atomic_fetch_sub(&rw.reading[fd], 1);
	atomic_fetch_sub(&rw.inprogress, 1);
}

static ssize_t rw_read(int fd, void *buf, size_t n)
{
	ssize_t r;
	int err;

	if (rw_enter(fd, &n, &r, false))
		return r;
	r = SEAM_REAL(read)(fd, buf, n);
	err = errno;
	rw_leave(fd);
	errno = err;
	return r;
}

/* pread of the pretend file (no byte moves); true if it answered. */
static bool rw_fake(int fd, size_t n, off_t off, ssize_t *r)
{
	if (rw.cont_fail && off % 4096 != 0) {
		errno = EIO;
		*r = -1;
		return true;
	}
	if (rw.pretend_fd <= 0 || fd != rw.pretend_fd)
		return false;
	atomic_fetch_add(&rw.calls, 1);
	rw_who(fd);
	if (off < 0 || (unsigned long long)off >= rw.pretend_size) {
		*r = 0;
		return true;
	}
	if (n > 0x7ffff000u)
		n = 0x7ffff000u;
	if (n > rw.pretend_size - (unsigned long long)off)
		n = (size_t)(rw.pretend_size - (unsigned long long)off);
	*r = (ssize_t)n;
	return true;
}

static ssize_t rw_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r;
	int err;

	if (rw_fake(fd, n, off, &r))
		return r;
	if (rw_enter(fd, &n, &r, true))
		return r;
	r = SEAM_REAL(pread)(fd, buf, n, off);
	err = errno;
	rw_leave(fd);
	errno = err;
	return r;
}

static ssize_t rw_pread64(int fd, void *buf, size_t n, off64_t off)
{
	ssize_t r;
	int err;

	if (rw_fake(fd, n, off, &r))
		return r;
	if (rw_enter(fd, &n, &r, true))
		return r;
	r = SEAM_REAL(pread64)(fd, buf, n, off);
	err = errno;
	rw_leave(fd);
	errno = err;
	return r;
}

/* Install the thread and read hooks; part B's rules: no POSIX aio. */
static void tw_watch(void)
{
	static const char why[] =
		"part B replaces POSIX aio: the pool's workers call pread(2) themselves "
		"(TODO 12-13)";

	seam_refuse(SEAM_aio_read, why);
	seam_refuse(SEAM_aio_read64, why);
	seam_refuse(SEAM_aio_suspend, why);
	seam_refuse(SEAM_aio_suspend64, why);
	seam_refuse(SEAM_lio_listio, why);
	seam_refuse(SEAM_lio_listio64, why);
	seam_hook_pthread_create = tw_pthread_create;
	seam_hook_pthread_join = tw_pthread_join;
	seam_hook_pthread_detach = tw_pthread_detach;
	seam_hook_pthread_cond_wait = tw_cond_wait;
	seam_hook_pthread_cond_timedwait = tw_cond_timedwait;
	seam_hook_pthread_cond_signal = tw_cond_signal;
	seam_hook_pthread_cond_broadcast = tw_cond_broadcast;
	seam_hook_read = rw_read;
	seam_hook_pread = rw_pread;
	seam_hook_pread64 = rw_pread64;
	rw.caller_tid = w_gettid();
}

/* ====================================================================== */
/* 3. Answering pipes                                                      */
/* ====================================================================== */

#define FEED_MAX 160

enum feed_wait {
	W_NONE,        /* answer at once                                         */
	W_IN_SUSPEND,  /* the test thread sleeps (futex) inside aio_suspend      */
	W_QUIET,       /* every pool worker and the test thread sleep, and every */
	               /* request answered so far has its res                    */
};

struct feed_cfg {
	int n;                     /* pipes */
	int (*pipes)[2];
	const int *order;          /* answer order (n entries); NULL: 0, 1, ... */
	const int *request;        /* request[i]: pipe i's index in the batch,  */
	                           /* for messages; NULL: i                     */
	unsigned char *const *data;/* data[i]: what pipe i delivers, len bytes  */
	size_t len;
	size_t piece;              /* write in pieces of this size, each once   */
	                           /* the pipe is empty again; 0: all at once   */
	enum feed_wait wait;       /* before each answer                         */
	int workers;               /* W_QUIET: threads of the pool to wait for   */
	struct batch_req *reqs;    /* W_QUIET: res of answered requests ...      */
	ssize_t unset;             /* ... must differ from this                  */
	bool interrupt;            /* first: SIGUSR1 the test thread inside      */
	                           /* aio_suspend until it returned EINTR        */
	bool after_return;         /* answer order[n-1] only once feed_returned() */
	long after_returns;        /* answer nothing before aio_return was called */
	                           /* this many times (patience: 3 s)           */
	long patience_ms;          /* each wait's bound; 0: FEED_PATIENCE_MS     */
};

struct feed {
	struct feed_cfg c;
	pthread_t thread;
	pid_t test_tid;
	pthread_t test_thread;
	atomic_bool stop;
	atomic_bool returned;
	bool closed[FEED_MAX];
	int answered;              /* pipes answered completely */
	long returns_seen;         /* aio_return calls, as feed_enough_returns last saw them */
	int quiet_reads[FEED_MAX]; /* W_QUIET: reads in progress at each answer */
	int signals;               /* SIGUSR1 delivered (handler ran)           */
	bool interrupted;          /* aio_suspend returned EINTR                */
	char why[512];             /* why the feeder gave up ("" if it did not) */
	struct sigaction old_usr1;
};

static atomic_int feed_handled;

static void feed_on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&feed_handled, 1);
}

static bool feed_should_stop(struct feed *f)
{
	return atomic_load(&f->stop);
}

/* Conditions, each checked repeatedly until true or patience runs out. */
static bool feed_in_suspend(struct feed *f)
{
	return atomic_load(&aw.in_suspend) && w_sysno_of(f->test_tid) == SYS_futex &&
	       atomic_load(&aw.in_suspend);
}

static bool feed_all_asleep(struct feed *f)
{
	int n = atomic_load(&tw.ntids);

	if (n < f->c.workers)
		return false;
	if (n > TW_MAX)
		n = TW_MAX;
	/* The workers first, the test thread last: a worker that sleeps again
	 * has already woken whoever it had to wake. */
	for (int i = 0; i < n; i++)
		if (tw.tids[i] != TW_GONE && w_sysno_of(tw.tids[i]) < 0)
			return false;
	return w_sysno_of(f->test_tid) >= 0;
}

static bool feed_quiet(struct feed *f)
{
	if (f->c.reqs) {
		for (int k = 0; k < f->answered; k++) {
			int i = f->c.order ? f->c.order[k] : k;

			if (*(volatile ssize_t *)&f->c.reqs[i].res == f->c.unset)
				return false;
		}
	}
	/* Twice: a thread woken between two looks shows "running" in the second. */
	return feed_all_asleep(f) && feed_all_asleep(f);
}

/* Wait until cond holds; false if the test is stopping or after patience_ms
 * (then with why in f->why). */
static bool feed_wait_for(struct feed *f, bool (*cond)(struct feed *), long patience_ms,
			  const char *why)
{
	long deadline = fault_now_ms() + patience_ms;

	while (!cond(f)) {
		if (feed_should_stop(f))
			return false;
		if (fault_now_ms() > deadline) {
			snprintf(f->why, sizeof(f->why), "%s", why);
			return false;
		}
		fault_nap();
	}
	return true;
}

static bool feed_wait_until(struct feed *f, bool (*cond)(struct feed *), const char *why)
{
	return feed_wait_for(f, cond, f->c.patience_ms ? f->c.patience_ms : FEED_PATIENCE_MS,
			     why);
}

static int feed_pipe_unread(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

static int feed_current;  /* pipe being answered, for the drained condition */

static bool feed_drained(struct feed *f)
{
	return feed_pipe_unread(f->c.pipes[feed_current][0]) <= 0;
}

static bool feed_returned_cond(struct feed *f)
{
	return atomic_load(&f->returned);
}

static bool feed_enough_returns(struct feed *f)
{
	pthread_mutex_lock(&aw.lock);
	f->returns_seen = aw.returns;
	pthread_mutex_unlock(&aw.lock);
	return f->returns_seen >= f->c.after_returns;
}

static void feed_close_rest(struct feed *f)
{
	for (int i = 0; i < f->c.n; i++) {
		if (!f->closed[i]) {
			close(f->c.pipes[i][1]);
			f->closed[i] = true;
		}
	}
}

/* SIGUSR1 the test thread while it sleeps in aio_suspend until aio_suspend
 * returns EINTR (a signal that lands while the thread waits for glibc's
 * lock is absorbed without an EINTR: then try again). */
static bool feed_interrupt(struct feed *f)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		long eintr0 = atomic_load(&aw.eintr_seen), gen0 = atomic_load(&aw.suspend_gen);
		int handled0 = atomic_load(&feed_handled);
		long deadline;

		if (!feed_wait_until(f, feed_in_suspend, "the code never went to sleep in "
				     "aio_suspend, so the signal could not interrupt it"))
			return false;
		if (pthread_kill(f->test_thread, SIGUSR1) != 0)
			return false;
		deadline = fault_now_ms() + FEED_PATIENCE_MS;
		while (atomic_load(&feed_handled) == handled0 && fault_now_ms() < deadline)
			fault_nap();
		if (atomic_load(&feed_handled) == handled0)
			return false;
		f->signals++;
		/* Did that aio_suspend return EINTR, or did it sleep on? */
		deadline = fault_now_ms() + FEED_PATIENCE_MS;
		for (;;) {
			if (atomic_load(&aw.eintr_seen) > eintr0) {
				f->interrupted = true;
				return true;
			}
			if (atomic_load(&aw.suspend_gen) == gen0 && feed_in_suspend(f))
				break;   /* absorbed: the same call sleeps again */
			if (atomic_load(&aw.suspend_gen) != gen0)
				break;   /* a new call: interrupted but not by us? try again */
			if (feed_should_stop(f) || fault_now_ms() > deadline)
				return false;
			fault_nap();
		}
	}
	return false;
}

static bool feed_answer(struct feed *f, int i)
{
	const unsigned char *data = f->c.data[i];
	size_t left = f->c.len, piece = f->c.piece ? f->c.piece : f->c.len;
	char why[256];

	feed_current = i;
	snprintf(why, sizeof(why), "the harness wrote to pipe %d (request %d) and nobody "
		 "read it", i, f->c.request ? f->c.request[i] : i);
	while (left > 0) {
		size_t now = left < piece ? left : piece;

		if (SEAM_REAL(write)(f->c.pipes[i][1], data, now) != (ssize_t)now) {
			snprintf(f->why, sizeof(f->why), "harness: cannot write to pipe %d: %s", i,
				 strerror(errno));
			return false;
		}
		if (!feed_wait_until(f, feed_drained, why))
			return false;
		data += now;
		left -= now;
	}
	close(f->c.pipes[i][1]);   /* and hang up: a request asking for more sees EOF */
	f->closed[i] = true;
	f->answered++;
	return true;
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;

	seam_mark_harness_thread();
	if (f->c.interrupt && !feed_interrupt(f))
		goto out;
	/* Three times the usual patience: the other reads are real reads (72 of
	 * them take milliseconds). Less than the test's time limit (5 s), so that
	 * the learner reads how far the reads got, not a time-out. */
	if (f->c.after_returns > 0 &&
	    !feed_wait_for(f, feed_enough_returns, 3 * FEED_PATIENCE_MS, "the other reads "
			   "were not collected (aio_return) while the pipes' reads waited")) {
		if (f->why[0])   /* out of patience, not stopped: say how far it got */
			snprintf(f->why, sizeof(f->why), "only %ld of the %ld other reads were "
				 "collected (aio_return) in %d s while the pipes' reads waited",
				 f->returns_seen, f->c.after_returns, 3 * FEED_PATIENCE_MS / 1000);
		goto out;
	}
	for (int k = 0; k < f->c.n; k++) {
		int i = f->c.order ? f->c.order[k] : k;

		if (f->c.after_return && k == f->c.n - 1 &&
		    !feed_wait_until(f, feed_returned_cond, "the call under test did not "
				     "return while the last request was unanswered"))
			goto out;
		if (f->c.wait == W_IN_SUSPEND &&
		    !feed_wait_until(f, feed_in_suspend, "the code never went to sleep in "
				     "aio_suspend while reads were pending"))
			goto out;
		if (f->c.wait == W_QUIET) {
			if (!feed_wait_until(f, feed_quiet, "the pool's threads and the caller "
					     "never all went to sleep"))
				goto out;
			f->quiet_reads[k] = (int)atomic_load(&rw.inprogress);
		}
		if (!feed_answer(f, i))
			goto out;
	}
out:
	feed_close_rest(f);
	return NULL;
}

/* Start answering (call before the call under test). */
static struct feed *feed_start(const struct feed_cfg *cfg)
{
	struct feed *f = calloc(1, sizeof(*f));
	struct sigaction sa;

	grade_check(f != NULL, "harness: out of memory");
	grade_check(cfg->n <= FEED_MAX, "harness: too many pipes");
	f->c = *cfg;
	f->test_tid = w_gettid();
	f->test_thread = pthread_self();
	if (cfg->interrupt) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = feed_on_usr1;   /* no SA_RESTART: EINTR */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, &f->old_usr1);
	}
	grade_check(SEAM_REAL(pthread_create)(&f->thread, NULL, feed_main, f) == 0,
		    "harness: cannot start the feeder thread");
	return f;
}

/* The call under test returned (for after_return). */
static void feed_returned(struct feed *f)
{
	atomic_store(&f->returned, true);
}

/* Stop (the call under test has returned), close what is still open, join.
 * The caller frees f. */
static void feed_join(struct feed *f)
{
	atomic_store(&f->stop, true);
	SEAM_REAL(pthread_join)(f->thread, NULL);
	if (f->c.interrupt)
		sigaction(SIGUSR1, &f->old_usr1, NULL);
}

/* n pipes with their read ends in reqs[0..n-1] (len bytes each, asking for
 * len + extra), data random. */
static void feed_pipes(int n, int (*p)[2], struct batch_req *reqs, unsigned char **data,
		       size_t len, size_t extra, ssize_t unset)
{
	for (int i = 0; i < n; i++) {
		fault_pipe(p[i], 0);
		data[i] = grade_random_bytes(len);
		reqs[i] = (struct batch_req){ .fd = p[i][0], .offset = 0, .len = len + extra,
					      .buf = grade_xmalloc(len + extra), .res = unset };
	}
}

static void feed_free_pipes(int n, int (*p)[2], struct batch_req *reqs, unsigned char **data)
{
	for (int i = 0; i < n; i++) {
		close(p[i][0]);
		free(reqs[i].buf);
		free(data[i]);
	}
}


/* ====================================================================== */
/* 4. Locks and condition variables under stress (part B)                  */
/* ====================================================================== */

/*
 * The pool's synchronisation is watched through the seams on
 * pthread_mutex_lock/unlock and pthread_cond_wait/timedwait, and pushed
 * into the orders that expose the usual mistakes, every time:
 *
 *  CX_SPURIOUS  the first pthread_cond_wait of each thread in each round
 *               (cx_round()) returns 0 at once, the mutex still held, as if
 *               woken and first to take the lock back: a spurious wake-up,
 *               which POSIX allows (pthread_cond_wait(3)). Nothing has
 *               changed, so a wait that is not in a loop on its condition
 *               goes on as if the condition held, every time.
 *  CX_SETTLE    before a thread of the pool (a worker or the caller) takes
 *               a lock, it waits (bounded) until every other thread of the
 *               pool sleeps; when the caller and a worker both want a lock,
 *               the worker goes first. A worker that signals and only then
 *               changes the state, or a caller that checks its count, lets
 *               go of the lock and then waits (the worker's last wake-up
 *               comes in between), misses the wake-up every time.
 *
 * Threads of the pool: the workers (tw.tids) and cx.caller.
 */
enum { CX_SPURIOUS = 1, CX_SETTLE = 2 };

#define CX_SETTLE_MS 200

static struct {
	atomic_int mode;
	atomic_int round;
	atomic_int caller;          /* tid of the thread calling tpool_batch_read */
	atomic_long spurious;       /* spurious wake-ups given */
	atomic_long settled;        /* locks delayed until the others slept */
	atomic_int settling;        /* workers waiting in cx_settle for a lock */
} cx;

static _Thread_local int cx_seen_round;

static bool cx_harness_mutex(const pthread_mutex_t *m)
{
	return m == &aw.lock || m == &tw.lock || m == &w_violation_lock;
}

/* Every thread of the pool other than the calling one sleeps. */
static bool cx_others_asleep(void)
{
	pid_t self = w_gettid(), caller = atomic_load(&cx.caller);
	int n = atomic_load(&tw.ntids);

	if (n > TW_MAX)
		n = TW_MAX;
	for (int i = 0; i < n; i++)
		if (tw.tids[i] != self && tw.tids[i] != TW_GONE && w_sysno_of(tw.tids[i]) < 0)
			return false;
	return caller == 0 || caller == self || w_sysno_of(caller) >= 0;
}

static void cx_settle(void)
{
	long deadline = fault_now_ms() + CX_SETTLE_MS;
	bool caller = w_gettid() == atomic_load(&cx.caller);

	/* A worker napping here looks asleep to the caller, and the caller
	 * napping here looks asleep to the worker: without an order between
	 * them, which one takes the lock first would be luck. The caller lets
	 * every worker that waits here go first. */
	if (!caller)
		atomic_fetch_add(&cx.settling, 1);
	/* Twice: a thread woken between two looks shows "running" in the second. */
	while (!(cx_others_asleep() && cx_others_asleep() &&
		 (!caller || atomic_load(&cx.settling) == 0)) && fault_now_ms() < deadline)
		fault_nap();
	if (!caller)
		atomic_fetch_sub(&cx.settling, 1);
	atomic_fetch_add(&cx.settled, 1);
}

static int cx_mutex_lock(pthread_mutex_t *m)
{
	if (!cx_harness_mutex(m) && (atomic_load(&cx.mode) & CX_SETTLE))
		cx_settle();
	return SEAM_REAL(pthread_mutex_lock)(m);
}

/* true if this wait is to return spuriously. */
static bool cx_spurious(pthread_mutex_t *m)
{
	int round = atomic_load(&cx.round);

	if (!(atomic_load(&cx.mode) & CX_SPURIOUS) || cx_seen_round == round)
		return false;
	cx_seen_round = round;
	atomic_fetch_add(&cx.spurious, 1);
	/* As if woken and the lock taken back before any other thread got it:
	 * nothing the waiter looks at has changed. */
	(void)m;
	return true;
}

static int cx_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	tw_note_cond(c, m);
	if (cx_spurious(m))
		return 0;
	return SEAM_REAL(pthread_cond_wait)(c, m);
}

static int cx_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	tw_note_cond(c, m);
	if (cx_spurious(m))
		return 0;
	return SEAM_REAL(pthread_cond_timedwait)(c, m, ts);
}

/* Install the hooks (with tw_watch); the mode is chosen per round. */
static void cx_watch(void)
{
	seam_hook_pthread_mutex_lock = cx_mutex_lock;
	seam_hook_pthread_cond_wait = cx_cond_wait;
	seam_hook_pthread_cond_timedwait = cx_cond_timedwait;
}

/* A new round: every thread's next wait is spurious again (CX_SPURIOUS). */
static void cx_round(int mode)
{
	atomic_store(&cx.mode, mode);
	atomic_fetch_add(&cx.round, 1);
}

/* One tpool_batch_read on a thread of its own, so that a call that never
 * returns (a lost wake-up) fails the test with a reason instead of hanging
 * it. The thread is the harness's, but not marked: its calls are the code's. */
struct cx_call {
	struct tpool *pool;
	struct batch_req *reqs;
	size_t n;
	unsigned qd;
	const struct feed_cfg *feed;   /* started from the calling thread, or NULL */
	struct feed *f;
	int rc;
	atomic_bool done;
	pthread_t thread;
};

static void *cx_call_main(void *arg)
{
	struct cx_call *c = arg;

	atomic_store(&cx.caller, w_gettid());
	if (c->feed)
		c->f = feed_start(c->feed);
	c->rc = tpool_batch_read(c->pool, c->reqs, c->n, c->qd);
	atomic_store(&c->done, true);
	return NULL;
}

/* Start the call (seams armed); true once it returned, false if it did not
 * within `patience_ms`. */
static bool cx_run(struct cx_call *c, long patience_ms)
{
	long deadline;

	atomic_store(&c->done, false);
	c->f = NULL;
	grade_check(SEAM_REAL(pthread_create)(&c->thread, NULL, cx_call_main, c) == 0,
		    "harness: cannot start the calling thread");
	deadline = fault_now_ms() + patience_ms;
	while (!atomic_load(&c->done) && fault_now_ms() < deadline)
		fault_nap();
	if (!atomic_load(&c->done))
		return false;
	SEAM_REAL(pthread_join)(c->thread, NULL);
	atomic_store(&cx.caller, 0);
	return true;
}

#endif /* CH03_WATCH_H */
