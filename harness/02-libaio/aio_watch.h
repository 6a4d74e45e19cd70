/*
 * aio_watch.h - chapter 02's seam hooks on libaio (io_setup, io_submit,
 * io_getevents, io_destroy).
 *
 * libaio's functions are plain exported functions, so the link seams see
 * every call the code under test makes. The hooks below run in place of
 * them (for calls from the code under test only) and:
 *   - count the calls, the iocbs accepted and the events handed back (and
 *     the bytes those events say were read), and
 *     from those the requests in flight (accepted by io_submit, not yet
 *     handed back by io_getevents), their maximum, and whether io_submit
 *     was called while others were still in flight (a window that refills);
 *   - play the kernel's legal answers that a test cannot provoke on
 *     demand: io_submit accepting only the first 1-3 iocbs, -EAGAIN,
 *     -EBADF for one fd; io_getevents returning -EINTR (every m-th call, or
 *     k times in a row) or -EFAULT, 0 events to a wait with a timeout (the
 *     time ran out), handing back one ready event per call, the latest
 *     first, halving every positive res (a short read), or answering every
 *     m-th one -EINTR (a read interrupted before any byte); io_setup failing;
 *   - set errno to a marker (EXDEV) before every call they answer: libaio
 *     leaves errno alone, so code that reports -errno after a libaio call
 *     reports -EXDEV, which no real read produces here;
 *   - watch the pace of retries after an injected -EAGAIN: the next
 *     io_submit must follow an io_getevents (requests in flight) or a pause
 *     (none in flight: nanosleep, usleep, clock_nanosleep, sleep, poll,
 *     ppoll, select or pselect, or an io_getevents with a timeout, each of
 *     some length: a zero one spins, and so does an io_getevents whose
 *     timeout is below POLL_BELOW_NS or whose nr is below its min_nr, which
 *     the kernel refuses at once);
 *     only an event handed back pays for the reap a -EAGAIN asked for (a
 *     poll that finds nothing reaped nothing);
 *     the pauses are counted, with the time they ask for, and take none,
 *     an io_getevents with a timeout and nothing in flight included
 *     (a test may have some of them cut short by a signal: EINTR);
 *     and that after -EAGAIN with requests in flight one completion is
 *     enough: a wait for more before the next io_submit drains the window;
 *   - stop code that would wait forever (io_getevents with no timeout for
 *     more completions than are in flight) or loop forever (io_submit
 *     called without end), with a message instead of a time-out;
 *   - pretend, for one descriptor, to read lengths no test can afford:
 *     io_submit takes its iocbs without the kernel and io_getevents
 *     answers each with min(nbytes, 0x7ffff000) bytes, the kernel's cap
 *     on one transfer, so a request of 5 GiB is a chain of short reads
 *     whose bytes never move (pretend_aio_start); a pread, or a preadv of
 *     iovecs in a row; a test may lower the cap, and have one piece
 *     answered -EINTR (a signal before any byte), or that piece again
 *     and again (a run of signals);
 *   - turn a machine without kernel AIO into a skip, not a failure.
 *
 * Header-only, included once by tests.c.
 */
#ifndef AIO_WATCH_H
#define AIO_WATCH_H

#include "grade.h"

#include <errno.h>
#include <libaio.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* What errno holds whenever a libaio call returns to the code under test. */
#define ERRNO_MARKER EXDEV
/* The flag io_set_eventfd sets in an iocb (linux/aio_abi.h's IOCB_FLAG_RESFD;
 * libaio.h sets it as a bare 1 << 0). */
#define AW_IOCB_FLAG_RESFD (1u << 0)
/* io_submit calls one test may make before the hooks call it a loop. */
#define SUBMIT_LIMIT 20000L
/* io_getevents calls after a persistent -EFAULT before the hooks call it a loop. */
#define EFAULT_LIMIT 1000L
/* Completions the hooks can hold back (reordering, one at a time). */
#define HELD_MAX 16384

struct aio_watch {
	/* settings, by the test */
	int accept_cycle;     /* > 0: io_submit accepts at most 1, 2, .. this many, in turn */
	int eagain_first;     /* the first k io_submit calls return -EAGAIN ...            */
	int eagain_every;     /* ... and then every m-th one                               */
	int eagain_run;       /* > 0: -EAGAIN this many times in a row, then one accepted, */
	                      /* over and over                                             */
	int submit_eintr_every; /* every m-th io_submit returns -EINTR (nothing submitted)  */
	int submit_eintr_run; /* > 0: io_submit returns -EINTR this many times in a row,    */
	                      /* then answers once, over and over                           */
	bool eagain_always;   /* every io_submit returns -EAGAIN                             */
	bool eintr_first_in_turn; /* submit_eintr_every wins over the -EAGAIN settings       */
	int ebadf_fd;         /* an iocb reading this fd is refused with -EBADF (-1: off)    */
	int eintr_every;      /* every m-th io_getevents returns -EINTR                      */
	int eintr_first;      /* the first k io_getevents calls return -EINTR (in a row)     */
	long timeout_zeros;   /* this many waits with a timeout answer 0 events (time ran out) */
	const char *loop_why; /* what an endless io_submit loop means in this test (NULL: EOF) */
	int efault_at;        /* the k-th io_getevents returns -EFAULT                       */
	int efault_errno;     /*   ... or -this errno instead (0: EFAULT), e.g. EINVAL    */
	int efault_from;      /* every io_getevents from the k-th on returns -EFAULT (an    */
	                      /* events array or context the kernel cannot use: the same    */
	                      /* error each time)                                           */
	int setup_error;      /* io_setup returns this (0: the real answer)                 */
	long setup_error_above; /* > 0: ... only when asked for more events than this       */
	bool one_at_a_time;   /* a waiting io_getevents gets one event (min_nr if more)     */
	bool reverse;         /* events come back latest first                              */
	bool halve;           /* every res > 1 is halved: a short read                      */
	int eintr_res_every;  /* every m-th event with a positive res is handed back with  */
	                      /* res -EINTR instead (a read interrupted before any byte:   */
	                      /* the same piece must go out again)                          */
	long pause_eintrs;    /* this many pauses (nanosleep, usleep, ..., io_getevents    */
	                      /* with a timeout and nothing in flight) are cut short by a  */
	                      /* signal: they fail with EINTR (the time still counted)     */
	long poll_delay;      /* polls (min_nr 0 or a zero timeout) answer 0 this many      */
	                      /* times after each io_submit                                  */
	long submit_limit;
	/* observations */
	long setups, destroys;         /* successful io_setup / io_destroy        */
	long setup_calls;              /* io_setup calls, failed ones included    */
	long destroys_refused;         /* io_destroy the kernel refused (EINVAL): */
	                               /* a context already destroyed, or never   */
	                               /* set up                                  */
	long setup_nr;                 /* nr of the last io_setup                 */
	long submit_calls, accepted;   /* io_submit calls; iocbs accepted         */
	long getevents_calls, events;  /* io_getevents calls; events handed back  */
	long long event_bytes;         /* the positive res of those events, added */
	long polls;                    /* io_getevents calls that did not wait    */
	long efaults;                  /* -EFAULT answers (efault_at, efault_from) */
	long submits_back_to_back;     /* io_submit right after one that took all */
	                               /* it was asked, with no io_getevents      */
	                               /* between: that one did not carry every   */
	                               /* iocb ready (counted in clean runs)      */
	bool submit_took_all;          /*   (the last call was such a one)        */
	long inflight, max_inflight;
	long submits_while_inflight;   /* io_submit accepting while others ran    */
	long eagains, eintrs;          /* injected                                */
	long waits_below;              /* waits with fewer than `window` in flight */
	long waits_below_inflight;     /*   (the first one: in flight, accepted)  */
	long waits_below_accepted;
	long waits_min_nr_above_one;   /* waits for 2+ while requests wait to go out */
	long wait_min_nr;              /*   (the min_nr of the first one)            */
	long timeouts_played;          /* timed waits answered 0 (timeout_zeros)     */
	long window;                   /* for waits_below (0: not watched)        */
	long batch_n;                  /* requests in the batch (for waits_below) */
	long last_submit_nr;
	int last_submit_rc;
	long polls_left;
	long resfd_iocbs;              /* iocbs offered with IOCB_FLAG_RESFD: an  */
	                               /* eventfd opened to be signalled (laio.h: */
	                               /* no fd is opened)                        */
	/* pacing after -EAGAIN from io_submit (the contract: reap with requests
	 * in flight, pause with none; never call io_submit again at once) */
	bool owe_reap, owe_pause;
	long resubmits_unreaped;       /* io_submit again, no event reaped since  */
	long resubmits_after_empty_poll; /*   (of them: after an io_getevents of 0) */
	bool owe_reap_polled;
	long unpaused_retries;         /* io_submit again, no pause or wait since */
	long pauses;                   /* nanosleep, usleep, ..., poll with no fds  */
	long pauses_cut;               /* of them, answered EINTR (pause_eintrs)    */
	long pauses_inflight;          /* of them, with reads of ours in flight (a  */
	                               /* timed io_getevents for them is no pause)  */
	long pauses_unasked;           /* of them, before io_submit first answered  */
	                               /* -EAGAIN (or 0) in this call, real or      */
	                               /* injected (waits for reads in flight are   */
	                               /* no pauses)                                */
	long submit_refusals;          /* io_submit answers -EAGAIN or 0 (any)      */
	long long paused_ns;           /* the time those asked for, and io_getevents */
	                               /* timeouts, in all                           */
	long zero_len_iocbs;           /* iocbs submitted asking for 0 bytes         */
	long submit_eintrs;            /* injected                                   */
	/* after -EAGAIN with requests in flight, until the next io_submit: one
	 * completion reaped is the room asked for; waiting for more (min_nr
	 * above 1, or a second wait once one came back) drains the window */
	bool after_eagain, after_eagain_reaped;
	long eagain_rewaits;           /* such waits                                 */
	long eagain_rewait_min_nr;     /*   (the min_nr of the first one)            */
	long eagain_rewait_inflight;   /*   (the requests in flight then)            */
	/* halve: a short event handed back leaves a remainder to submit; a wait
	 * before the next io_submit leaves its slot idle meanwhile */
	bool owe_remainder;
	long waits_owing_remainder;    /* such waits                                 */
	long waits_owing_inflight;     /*   (the requests in flight at the first)    */
	long waits_min_nr_halved;      /* halve: waits for 2+ events: the rest of the */
	long wait_min_nr_halved;       /*   first short one waits for the others     */
	long eintr_res_injected;       /* eintr_res_every: events answered -EINTR    */
	long eintr_res_seen;           /*   (events with a positive res, counted)    */
	/* io_submit failed for the first iocb of an array of several: the rest
	 * were not submitted, and go out before the next wait */
	bool owe_rest;
	long waits_owing_rest;         /* such waits                                 */
	long waits_owing_rest_nr;      /*   (how many iocbs were left at the first)  */
	long owe_rest_nr;
};

static struct aio_watch aw;

/* Pretend reads (pretend_aio_start): iocbs on `fd` never reach the kernel;
 * the file has bytes without end from `start`, and the caller's buffer
 * starts at `base`. A piece must ask for the bytes right after the ones
 * already answered, at the matching place in the buffer. */
#define PRETEND_CAP 0x7ffff000ull
#define PRETEND_MAX 64
static struct {
	int fd;                       /* -1: off */
	const char *base;
	long long start;
	unsigned long long done;      /* bytes answered so far */
	long pieces;                  /* iocbs taken */
	unsigned long long cap;       /* the most one piece answers (PRETEND_CAP) */
	long eintr_piece;             /* > 0: this piece (1-based) answers -EINTR, no bytes */
	long eintr_count;             /*   ... and the next ones, this many in all (0: 1)    */
	long eintrs;                  /* pieces answered -EINTR */
	bool after_eintr;             /* the last piece answered was -EINTR */
	struct io_event ev[PRETEND_MAX];
	long n;                       /* events not yet handed back */
} pa = { .fd = -1 };

static void pretend_aio_start(int fd, const void *base, long long start)
{
	pa.fd = fd;
	pa.base = base;
	pa.start = start;
	pa.done = 0;
	pa.pieces = 0;
	pa.n = 0;
	pa.cap = PRETEND_CAP;
	pa.eintr_piece = 0;
	pa.eintr_count = 0;
	pa.eintrs = 0;
	pa.after_eintr = false;
}

static bool is_pretend(const struct iocb *cb)
{
	return pa.fd >= 0 && cb && (int)cb->aio_fildes == pa.fd;
}

/* The bytes an iocb asks for: nbytes of a pread, the iovecs' lengths
 * added for a preadv (io_prep_preadv: buf is the iovec array, nbytes their
 * count). */
static unsigned long long iocb_len(const struct iocb *cb)
{
	unsigned long long len = 0;

	if (cb->aio_lio_opcode != IO_CMD_PREADV)
		return cb->u.c.nbytes;
	for (unsigned long i = 0; cb->u.c.buf && i < cb->u.c.nbytes; i++)
		len += ((const struct iovec *)cb->u.c.buf)[i].iov_len;
	return len;
}

/* Where an iocb's bytes land: buf of a pread, the first iovec's base of a
 * preadv (NULL if the iovecs are not one piece of memory in a row). */
static const char *iocb_buf(const struct iocb *cb)
{
	const struct iovec *iov = cb->u.c.buf;
	const char *next;

	if (cb->aio_lio_opcode != IO_CMD_PREADV)
		return cb->u.c.buf;
	if (!iov || cb->u.c.nbytes == 0)
		return NULL;
	next = (const char *)iov[0].iov_base + iov[0].iov_len;
	for (unsigned long i = 1; i < cb->u.c.nbytes; next += iov[i++].iov_len)
		if ((const char *)iov[i].iov_base != next)
			return NULL;
	return iov[0].iov_base;
}

/* io_submit of iocbs that all pretend: each is answered at once, never by
 * more than the kernel's cap (or the test's, pa.cap). */
static int pretend_submit(long nr, struct iocb **list)
{
	long k = 0;

	while (k < nr && is_pretend(list[k]) && pa.n < PRETEND_MAX) {
		struct iocb *cb = list[k++];
		unsigned long long want = iocb_len(cb);
		unsigned long long got = want > pa.cap ? pa.cap : want;
		const char *buf = iocb_buf(cb);

		if (cb->aio_lio_opcode != IO_CMD_PREAD && cb->aio_lio_opcode != IO_CMD_PREADV)
			seam_violate("an iocb on the pretend descriptor is not a read (opcode %d; "
				     "io_prep_pread or io_prep_preadv make one)",
				     (int)cb->aio_lio_opcode);
		if (buf != pa.base + pa.done)
			seam_violate("after %llu bytes your code asked for the next ones at buf + "
				     "%lld, not at buf + %llu%s", pa.done,
				     (long long)(buf - pa.base), pa.done, pa.after_eintr ?
				     " (the piece before answered res -EINTR: it read nothing, "
				     "the bytes before it are in; submit that same piece again)" : "");
		if (cb->u.c.offset != pa.start + (long long)pa.done)
			seam_violate("after %llu bytes from offset %lld your code asked for the next "
				     "ones at offset %lld, not %lld", pa.done, pa.start,
				     cb->u.c.offset, pa.start + (long long)pa.done);
		if (want == 0)
			aw.zero_len_iocbs++;
		pa.after_eintr = false;
		if (++pa.pieces >= pa.eintr_piece && pa.eintr_piece > 0 &&
		    pa.pieces < pa.eintr_piece + (pa.eintr_count > 0 ? pa.eintr_count : 1)) {
			/* a signal before any byte of this piece: nothing read */
			pa.eintrs++;
			pa.after_eintr = true;
			pa.ev[pa.n++] = (struct io_event){ .data = cb->data, .obj = cb,
							   .res = (unsigned long)-EINTR };
			continue;
		}
		pa.done += got;
		pa.ev[pa.n++] = (struct io_event){ .data = cb->data, .obj = cb,
						   .res = (unsigned long)got, .res2 = 0 };
	}
	return (int)k;
}

/* Hand back up to nr pretend completions, in order. */
static int pretend_events(long nr, struct io_event *ev)
{
	long k = pa.n < nr ? pa.n : nr;

	memcpy(ev, pa.ev, (size_t)k * sizeof(*ev));
	pa.n -= k;
	memmove(pa.ev, pa.ev + k, (size_t)pa.n * sizeof(*ev));
	return (int)k;
}

static struct io_event held[HELD_MAX];
static long nheld;
static bool alternate_poll;  /* one_at_a_time: the next poll answers 0 */

/* ---- a machine without kernel AIO is a skip ----------------------------- */

static long read_proc_long(const char *path)
{
	FILE *fp = fopen(path, "r");
	long v = -1;

	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

/* io_setup failed with rc for the code under test, asking for nr events:
 * skip when the machine, not the code, is the reason. */
static void skip_if_machine_lacks_aio(int rc, int nr)
{
	char why[300];

	if (rc == -ENOSYS)
		grade_skip("aio", "this kernel has no kernel AIO: io_setup returned ENOSYS "
			   "(built without CONFIG_AIO, or a sandbox such as gVisor)",
			   "use a kernel with CONFIG_AIO=y (every distribution kernel has "
			   "it); run make doctor");
	if (rc == -EPERM)
		grade_skip("aio", "io_setup is refused (EPERM): a seccomp filter blocks kernel AIO",
			   "run the container with a seccomp profile that allows io_setup, "
			   "or on a VM; run make doctor");
	if (rc == -EAGAIN && nr > 0 && nr <= (int)LAIO_MAX_QD) {
		io_context_t ctx = 0;
		int again = SEAM_REAL(io_setup)(1, &ctx);

		if (again == 0) {
			SEAM_REAL(io_destroy)(ctx);
			return;  /* the machine has room: the code asked for too much */
		}
		snprintf(why, sizeof(why), "io_setup returned EAGAIN: the machine-wide "
			 "budget of AIO events is used up (fs.aio-nr %ld of fs.aio-max-nr %ld)",
			 read_proc_long("/proc/sys/fs/aio-nr"),
			 read_proc_long("/proc/sys/fs/aio-max-nr"));
		grade_skip("aio", why, "end the programs holding io contexts, or as root: "
				"sysctl -w fs.aio-max-nr=1048576; run make doctor");
	}
}

/* ---- the hooks ---------------------------------------------------------- */

static int w_io_setup(int nr, io_context_t *ctx)
{
	int rc;

	aw.setup_nr = nr;
	aw.setup_calls++;
	if (aw.setup_error && (aw.setup_error_above <= 0 || nr > aw.setup_error_above)) {
		errno = ERRNO_MARKER;
		return aw.setup_error;
	}
	rc = SEAM_REAL(io_setup)(nr, ctx);
	if (rc == 0)
		aw.setups++;
	else
		skip_if_machine_lacks_aio(rc, nr);
	errno = ERRNO_MARKER;
	return rc;
}

static int w_io_destroy(io_context_t ctx)
{
	int rc = SEAM_REAL(io_destroy)(ctx);

	if (rc == 0) {
		aw.destroys++;
		/* Whatever was in flight or held back died with the context. */
		aw.inflight = 0;
		nheld = 0;
		pa.n = 0;
	} else {
		aw.destroys_refused++;
	}
	errno = ERRNO_MARKER;
	return rc;
}

/* The pauses: counted with the time they ask for, and over at once (the
 * tests need no real time). A pause of no time is no pause: it spins. */
static bool pause_is_wait;   /* paused() for a timed wait with reads in flight */

static void paused(long long ns)
{
	if (ns <= 0)
		return;
	aw.pauses++;
	if (aw.inflight > 0 && !pause_is_wait)
		aw.pauses_inflight++;
	if (aw.submit_refusals == 0 && !pause_is_wait)
		aw.pauses_unasked++;
	aw.paused_ns += ns;
	aw.owe_pause = false;
}

/* Is this pause cut short by a signal (pause_eintrs)? The pause was one all
 * the same: a handler ran during it, which a pause must survive. */
static bool pause_cut(void)
{
	if (aw.pause_eintrs <= 0)
		return false;
	aw.pause_eintrs--;
	aw.pauses_cut++;
	return true;
}

static long long timespec_ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static bool injected_eagain(long call)
{
	if (aw.eagain_always || call <= aw.eagain_first)
		return true;
	if (aw.eagain_run > 0 && call % (aw.eagain_run + 1) != 0)
		return true;
	return aw.eagain_every > 0 && (call - aw.eagain_first) % aw.eagain_every == 0;
}

static int w_io_submit(io_context_t ctx, long nr, struct iocb **list)
{
	long call = ++aw.submit_calls, before = aw.inflight, asked = nr;
	int rc;

	if (call > aw.submit_limit && aw.last_submit_rc == -EAGAIN)
		grade_fail("io_submit was called %ld times in this test and answered -EAGAIN "
			   "every time: retries of -EAGAIN must stop after a bounded number "
			   "of tries (then the batch returns -EAGAIN)%s%s", call - 1,
			   aw.loop_why ? ". Here " : "", aw.loop_why ? aw.loop_why : "");
	if (call > aw.submit_limit)
		grade_fail("io_submit was called %ld times in this test (last asked to take "
			   "%ld iocbs, answer %d): a loop that never ends? %s", call - 1,
			   aw.last_submit_nr, aw.last_submit_rc, aw.loop_why ? aw.loop_why :
			   "A read whose res is 0 is at end of file: finish the request "
			   "instead of submitting it again");
	aw.last_submit_nr = nr;
	for (long i = 0; list && i < nr && i < HELD_MAX; i++)
		if (list[i] && (list[i]->u.c.flags & AW_IOCB_FLAG_RESFD))
			aw.resfd_iocbs++;
	if (aw.submit_took_all)
		aw.submits_back_to_back++;
	aw.submit_took_all = false;
	if (aw.owe_reap)
		aw.resubmits_unreaped++;
	if (aw.owe_reap && aw.owe_reap_polled)
		aw.resubmits_after_empty_poll++;
	aw.owe_reap_polled = false;
	if (aw.owe_pause)
		aw.unpaused_retries++;
	aw.owe_reap = aw.owe_pause = false;
	aw.after_eagain = aw.after_eagain_reaped = false;
	aw.owe_remainder = false;
	aw.owe_rest = false;
	errno = ERRNO_MARKER;
	if (aw.ebadf_fd >= 0 && list) {
		/* As the kernel does with a bad fd: the iocbs before it are
		 * accepted; if it comes first, the call fails with its error. */
		for (long i = 0; i < nr; i++) {
			if (list[i] && (int)list[i]->aio_fildes == aw.ebadf_fd) {
				if (i == 0) {
					aw.owe_rest = asked > 1;
					aw.owe_rest_nr = asked - 1;
					return aw.last_submit_rc = -EBADF;
				}
				nr = i;
				break;
			}
		}
	}
	if (aw.eintr_first_in_turn && aw.submit_eintr_every > 0 &&
	    call % aw.submit_eintr_every == 0) {
		/* A signal before anything was submitted, between refusals. */
		aw.submit_eintrs++;
		return aw.last_submit_rc = -EINTR;
	}
	if (injected_eagain(call)) {
		aw.eagains++;
		aw.submit_refusals++;
		if (aw.inflight > 0)
			aw.owe_reap = aw.after_eagain = true;
		else
			aw.owe_pause = true;
		return aw.last_submit_rc = -EAGAIN;
	}
	if ((aw.submit_eintr_every > 0 && call % aw.submit_eintr_every == 0) ||
	    (aw.submit_eintr_run > 0 && call % (aw.submit_eintr_run + 1) != 0)) {
		/* A signal before anything was submitted. */
		aw.submit_eintrs++;
		return aw.last_submit_rc = -EINTR;
	}
	if (aw.accept_cycle > 0 && nr > 0) {
		long cap = 1 + call % aw.accept_cycle;

		if (nr > cap)
			nr = cap;
	}
	if (list && nr > 0 && is_pretend(list[0])) {
		/* Only the pretend iocbs at the front: a legal partial submit. */
		rc = pretend_submit(nr, list);
	} else {
		for (long i = 0; pa.fd >= 0 && list && i < nr; i++)
			if (is_pretend(list[i]))
				nr = i;   /* the real ones before it */
		rc = SEAM_REAL(io_submit)(ctx, nr, list);
		for (long i = 0; list && i < rc; i++)
			if (list[i] && iocb_len(list[i]) == 0)
				aw.zero_len_iocbs++;
	}
	errno = ERRNO_MARKER;
	if (rc > 0) {
		aw.accepted += rc;
		aw.inflight += rc;
		if (aw.inflight > aw.max_inflight)
			aw.max_inflight = aw.inflight;
		if (before > 0)
			aw.submits_while_inflight++;
		aw.polls_left = aw.poll_delay;
	}
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR && asked > 1) {
		aw.owe_rest = true;
		aw.owe_rest_nr = asked - 1;
	}
	if (rc == -EAGAIN || (rc == 0 && asked > 0))
		aw.submit_refusals++;
	aw.submit_took_all = rc > 0 && rc == asked;
	return aw.last_submit_rc = rc;
}

/* Hand back up to k held events, latest first if reverse. */
static int hand_out(struct io_event *ev, long k)
{
	if (k > nheld)
		k = nheld;
	for (long i = 0; i < k; i++) {
		if (aw.reverse) {
			ev[i] = held[--nheld];
		} else {
			ev[i] = held[i];
		}
	}
	if (!aw.reverse && k > 0) {
		nheld -= k;
		memmove(held, held + k, (size_t)nheld * sizeof(held[0]));
	}
	return (int)k;
}

/* io_getevents as a device that finishes one read at a time (or hands
 * completions back latest first): real completions are collected into
 * held[] and handed out from there. Honest about min_nr: a waiting call
 * gets at least min_nr events. */
static int held_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			  struct timespec *ts, bool poll)
{
	long want;

	if (poll && aw.one_at_a_time && alternate_poll) {
		/* "nothing else is ready yet": a poll right after a completion */
		alternate_poll = false;
		return 0;
	}
	while (nheld < (min_nr > 0 ? min_nr : 0) || (nheld == 0 && !poll)) {
		long need = min_nr - nheld;
		int got = SEAM_REAL(io_getevents)(ctx, need > 1 ? need : 1, HELD_MAX - nheld,
						  held + nheld, ts);

		if (got < 0)
			return got;
		if (got == 0)
			break;  /* a timeout ran out */
		nheld += got;
	}
	if (nheld == 0 && poll) {
		int got = SEAM_REAL(io_getevents)(ctx, 0, HELD_MAX, held, ts);

		if (got < 0)
			return got;
		nheld = got;
	}
	want = aw.one_at_a_time ? (min_nr > 1 ? min_nr : 1) : nr;
	if (want > nr)
		want = nr;
	alternate_poll = true;
	return hand_out(ev, want);
}

/* A timed io_getevents shorter than this does not wait: it polls (a pause of
 * microseconds gives the kernel no time; 02.10 asks for milliseconds). */
#define POLL_BELOW_NS 100000LL

static int w_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			  struct timespec *ts)
{
	long call = ++aw.getevents_calls;
	/* No wait: min_nr 0 (satisfied at once), a timeout of (nearly) nothing,
	 * or nr below min_nr, which the kernel refuses at once with -EINVAL. */
	bool poll = min_nr <= 0 || nr < min_nr || (ts && timespec_ns(ts) < POLL_BELOW_NS);
	int got;

	errno = ERRNO_MARKER;
	aw.submit_took_all = false;
	if (aw.efault_from > 0 && call >= aw.efault_from) {
		if (aw.efaults++ >= EFAULT_LIMIT)
			grade_fail("your code called io_getevents %ld times after it answered "
				   "-EFAULT, which it answers every time here (as for an events "
				   "array the kernel cannot write, or a context that is not one): "
				   "waiting again for the reads still in flight never ends. An "
				   "io_getevents error other than -EINTR ends the batch at once "
				   "with that error; laio_batch_read's io_destroy is what waits for "
				   "the reads still in flight (TODOs 5 and 7; laio.h, \"other\")",
				   aw.efaults - 1);
		return -EFAULT;
	}
	/* owe_reap is paid only by a completion handed back (below): a poll
	 * that finds nothing has reaped nothing. */
	aw.owe_reap_polled = aw.owe_reap;
	if (!poll)
		aw.owe_pause = false;  /* a wait paused */
	if (!poll && aw.owe_remainder && aw.waits_owing_remainder++ == 0)
		aw.waits_owing_inflight = aw.inflight;
	if (!poll && aw.halve && min_nr > 1 && aw.waits_min_nr_halved++ == 0)
		aw.wait_min_nr_halved = min_nr;
	if (!poll && aw.owe_rest && aw.waits_owing_rest++ == 0)
		aw.waits_owing_rest_nr = aw.owe_rest_nr;
	if (ts && !poll) {
		pause_is_wait = aw.inflight > 0;
		paused(timespec_ns(ts));  /* so did a timeout of some length; a zero one polls, */
					  /* and so does min_nr 0: the kernel returns at once */
		pause_is_wait = false;
	}
	if (aw.efault_at > 0 && call == aw.efault_at) {
		aw.efaults++;
		return aw.efault_errno > 0 ? -aw.efault_errno : -EFAULT;
	}
	if (min_nr > 0 && nr < min_nr) {
		/* refused at once: no wait, no event (io_getevents(2), EINVAL) */
		aw.polls++;
		got = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, ts);
		errno = ERRNO_MARKER;
		return got;
	}
	if (!poll && ts && aw.inflight == 0 && timespec_ns(ts) > 0 && pause_cut()) {
		/* A wait with a timeout and nothing in flight is a pause (after
		 * -EAGAIN): a signal handler ran during it, as pause_eintrs asks. */
		return -EINTR;
	}
	if (call <= aw.eintr_first || (aw.eintr_every > 0 && call % aw.eintr_every == 0)) {
		aw.eintrs++;
		return -EINTR;
	}
	if (!poll && aw.after_eagain && (min_nr > 1 || aw.after_eagain_reaped) &&
	    aw.eagain_rewaits++ == 0) {
		aw.eagain_rewait_min_nr = min_nr;
		aw.eagain_rewait_inflight = aw.inflight;
	}
	if (poll) {
		aw.polls++;
		if (aw.polls_left > 0) {
			aw.polls_left--;
			return 0;
		}
	} else {
		if (!ts && min_nr > aw.inflight)
			grade_fail("your code waits in io_getevents(min_nr %ld, timeout NULL) with "
				   "only %ld request(s) in flight: that wait never ends. io_submit "
				   "accepts iocbs from the front of the array and returns how many "
				   "(it last returned %d when asked to take %ld): only those are "
				   "in flight", min_nr, aw.inflight, aw.last_submit_rc,
				   aw.last_submit_nr);
		/* (The wait that answers an -EAGAIN with requests in flight is
		 * below the window by nature: the kernel refused the rest.) */
		if (aw.window > 0 && aw.accepted < aw.batch_n && aw.inflight < aw.window &&
		    aw.last_submit_rc != -EAGAIN && aw.waits_below++ == 0) {
			aw.waits_below_inflight = aw.inflight;
			aw.waits_below_accepted = aw.accepted;
		}
		if (aw.window > 0 && aw.accepted < aw.batch_n && min_nr > 1 &&
		    aw.waits_min_nr_above_one++ == 0)
			aw.wait_min_nr = min_nr;
		if (ts && aw.timeout_zeros > 0) {
			/* the time ran out before anything completed */
			aw.timeout_zeros--;
			aw.timeouts_played++;
			return 0;
		}
	}
	if (!poll && ts && aw.inflight == 0) {
		/* A timed wait with nothing of ours in flight is a pause (after
		 * -EAGAIN), counted above with the time it asks for: over at
		 * once, as nanosleep and the others are here. The real call,
		 * without its wait, still answers what the kernel would. */
		struct timespec none = { 0, 0 };

		got = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, &none);
	} else if (pa.n > 0) {
		/* Pretend completions first; the kernel's only if more are due. */
		got = pretend_events(nr, ev);
		if (got < min_nr && aw.inflight > got) {
			int more = SEAM_REAL(io_getevents)(ctx, min_nr - got, nr - got, ev + got, ts);

			if (more > 0)
				got += more;
		}
	} else if (aw.one_at_a_time || aw.reverse) {
		got = held_getevents(ctx, min_nr, nr, ev, ts, poll);
	} else {
		got = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, ts);
	}
	errno = ERRNO_MARKER;
	if (got > 0) {
		aw.owe_reap = false;
		aw.after_eagain_reaped = aw.after_eagain;
		aw.events += got;
		aw.inflight -= got;
		for (int i = 0; aw.eintr_res_every > 0 && i < got; i++)
			if ((long)ev[i].res > 0 && ++aw.eintr_res_seen % aw.eintr_res_every == 0) {
				/* a signal before any byte of this piece */
				ev[i].res = (unsigned long)-EINTR;
				aw.eintr_res_injected++;
			}
		if (aw.halve)
			for (int i = 0; i < got; i++)
				if ((long)ev[i].res > 1) {
					ev[i].res = (unsigned long)((long)ev[i].res / 2);
					aw.owe_remainder = true;
				}
		for (int i = 0; i < got; i++)
			if ((long)ev[i].res > 0)
				aw.event_bytes += (long)ev[i].res;
	}
	return got;
}

static int w_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)rem;
	if (!req || req->tv_nsec < 0 || req->tv_nsec > 999999999 || req->tv_sec < 0) {
		errno = req ? EINVAL : EFAULT;   /* as the real one answers */
		return -1;
	}
	paused(timespec_ns(req));
	if (timespec_ns(req) > 0 && pause_cut()) {
		if (rem)
			*rem = *req;
		errno = EINTR;
		return -1;
	}
	return 0;
}

static int w_usleep(useconds_t us)
{
	paused((long long)us * 1000);
	if (us > 0 && pause_cut()) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

static unsigned int w_sleep(unsigned int s)
{
	paused((long long)s * 1000000000LL);
	if (s > 0 && pause_cut())
		return s;
	return 0;
}

static int w_clock_nanosleep(clockid_t clk, int fl, const struct timespec *req,
			     struct timespec *rem)
{
	struct timespec now;

	(void)rem;
	if (!req || req->tv_nsec < 0 || req->tv_nsec > 999999999 || req->tv_sec < 0)
		return req ? EINVAL : EFAULT;
	if (fl & TIMER_ABSTIME) {
		if (clock_gettime(clk, &now) != 0)
			return EINVAL;
		paused(timespec_ns(req) - timespec_ns(&now));
		if (timespec_ns(req) > timespec_ns(&now) && pause_cut())
			return EINTR;
	} else {
		paused(timespec_ns(req));
		if (timespec_ns(req) > 0 && pause_cut()) {
			if (rem)
				*rem = *req;
			return EINTR;
		}
	}
	return 0;
}

/* poll, ppoll, select and pselect with no descriptors are sleeps: pauses,
 * over at once like the others. With descriptors (none of this chapter's)
 * they are the real calls, a pause if they may wait. */
static int w_poll(void *fds, unsigned long n, int timeout)
{
	if (n == 0 && timeout > 0) {
		paused((long long)timeout * 1000000);
		if (pause_cut()) {
			errno = EINTR;
			return -1;
		}
		return 0;
	}
	if (timeout != 0)
		paused(timeout > 0 ? (long long)timeout * 1000000 : 1);
	return SEAM_REAL(poll)(fds, n, timeout);
}

static int w_ppoll(void *fds, unsigned long n, const struct timespec *ts, const sigset_t *ss)
{
	if (n == 0 && ts && timespec_ns(ts) > 0) {
		paused(timespec_ns(ts));
		if (pause_cut()) {
			errno = EINTR;
			return -1;
		}
		return 0;
	}
	if (!ts || timespec_ns(ts) > 0)
		paused(ts ? timespec_ns(ts) : 1);
	return SEAM_REAL(ppoll)(fds, n, ts, ss);
}

static long long timeval_ns(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000000LL + (long long)tv->tv_usec * 1000;
}

static int w_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (n == 0 && tv && timeval_ns(tv) > 0) {
		paused(timeval_ns(tv));
		if (pause_cut()) {
			errno = EINTR;
			return -1;
		}
		return 0;
	}
	if (!tv || timeval_ns(tv) > 0)
		paused(tv ? timeval_ns(tv) : 1);
	return SEAM_REAL(select)(n, r, w, e, tv);
}

static int w_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		     const sigset_t *ss)
{
	if (n == 0 && ts && timespec_ns(ts) > 0) {
		paused(timespec_ns(ts));
		if (pause_cut()) {
			errno = EINTR;
			return -1;
		}
		return 0;
	}
	if (!ts || timespec_ns(ts) > 0)
		paused(ts ? timespec_ns(ts) : 1);
	return SEAM_REAL(pselect)(n, r, w, e, ts, ss);
}

/* Start watching, with everything off; tests then set what they inject. */
static void watch_start(void)
{
	aw = (struct aio_watch){ .ebadf_fd = -1, .submit_limit = SUBMIT_LIMIT };
	pa.fd = -1;
	pa.n = 0;
	nheld = 0;
	alternate_poll = false;
	seam_hook_io_setup = w_io_setup;
	seam_hook_io_destroy = w_io_destroy;
	seam_hook_io_submit = w_io_submit;
	seam_hook_io_getevents = w_io_getevents;
	seam_hook_nanosleep = w_nanosleep;
	seam_hook_usleep = w_usleep;
	seam_hook_sleep = w_sleep;
	seam_hook_clock_nanosleep = w_clock_nanosleep;
	seam_hook_poll = w_poll;
	seam_hook_ppoll = w_ppoll;
	seam_hook_select = w_select;
	seam_hook_pselect = w_pselect;
}

/* Between two calls in one test: forget the per-call observations. */
static void watch_next_call(void)
{
	aw.max_inflight = 0;
	aw.submits_while_inflight = 0;
	aw.waits_below = 0;
	aw.waits_min_nr_above_one = 0;
	aw.accepted = 0;
	aw.submit_calls = 0;
	aw.getevents_calls = 0;
	aw.eagains = 0;
	aw.eintrs = 0;
	aw.polls = 0;
	aw.efaults = 0;
	aw.submits_back_to_back = 0;
	aw.submit_took_all = false;
	aw.owe_reap = aw.owe_pause = false;
	aw.resubmits_unreaped = 0;
	aw.resubmits_after_empty_poll = 0;
	aw.unpaused_retries = 0;
	aw.pauses = 0;
	aw.pauses_cut = 0;
	aw.pauses_unasked = 0;
	aw.pauses_inflight = 0;
	aw.submit_refusals = 0;
	aw.paused_ns = 0;
	aw.zero_len_iocbs = 0;
	aw.submit_eintrs = 0;
	aw.after_eagain = aw.after_eagain_reaped = false;
	aw.eagain_rewaits = 0;
	aw.owe_remainder = false;
	aw.waits_owing_remainder = 0;
	aw.waits_min_nr_halved = 0;
	aw.owe_rest = false;
	aw.waits_owing_rest = 0;
}

#endif /* AIO_WATCH_H */
