/*
 * evtest.h - chapter 04: what the tests need around the server under test.
 *
 *   - spies on libaio (io_setup, io_submit, io_getevents, io_destroy): every
 *     iocb is inspected (a read, tagged with io_set_eventfd, aligned for
 *     O_DIRECT on a file opened with O_DIRECT); reads in flight are counted;
 *     and io_submit can play the kernel's legal answers on demand: accept
 *     fewer iocbs than asked, -EAGAIN, an error for the first iocb, or
 *     "accepted" while the read is really held back by the harness until
 *     the test releases it (a disk that takes as long as the test wants).
 *     Held iocbs are copied, so an implementation may reuse its iocb after
 *     io_submit returns (the kernel copies it too); the events of released
 *     copies have ev.obj translated back to the caller's iocb;
 *   - io_getevents must never be able to block (min_nr 0, zero timeout),
 *     and can fail once on demand (spy.getevents_error);
 *     read(), readv() and mmap() are refused on regular files only (the
 *     server reads its eventfds and timerfds with read()); the pread
 *     family, sendfile and friends, poll/select, every sleep, and threads
 *     are refused outright;
 *   - epoll_wait/epoll_pwait calls are counted, the ones with a zero
 *     timeout apart (a loop that polls instead of sleeping);
 *   - accept4/accept can fail with EMFILE on demand;
 *   - a pool of clients that send requests and check every reply against
 *     the file, byte for byte, driving the server between their reads
 *     (evsrv_run_once from the test thread: no sleeps, no second thread);
 *   - the server program started from outside (harness/lib/prog.h), its
 *     ready line read from a pipe, stopped by PID with a signal, its exit
 *     status.
 */
#ifndef EVTEST_H
#define EVTEST_H

#include "grade.h"
#include "evsrv.h"
#include "prog.h"
#include "tasks.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IOCB_FLAG_RESFD
#define IOCB_FLAG_RESFD (1 << 0)
#endif

/* How long the harness waits, in milliseconds, for something a correct
 * server does within a few milliseconds, before it calls it missing:
 * PATIENCE_MS for the kernel (a read to complete), STALL_MS for the server
 * under test to make any progress at all, PROG_MS for a program to start,
 * print or end. Generous for a loaded machine and sanitizer builds; short
 * enough that a wrong server fails quickly. */
#define PATIENCE_MS 3000
#define STALL_MS 1500
#define PROG_MS 2000

/* A short pause of the harness itself (waiting for the kernel or another
 * process), never counted as the server's. */
static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	SEAM_REAL(nanosleep)(&ts, NULL);
}

/* ------------------------------------------------------------- the rules */

static bool is_regular(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* The counter of an eventfd, from /proc/self/fdinfo; -1 if fd is none. */
static long long efd_count(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *fp;

	if (fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "eventfd-count:", 14))
			v = strtoll(line + 14, NULL, 16);
	fclose(fp);
	return v;
}

/* ------------------------------------------------------- the libaio spy */

#define SLOTS_MAX 2048

struct aio_spy {
	/* what the test asks for */
	int hold;            /* iocbs still to hold back: -1 all, 0 none        */
	int accept_max;      /* > 0: io_submit accepts at most this many         */
	int eagain_next;     /* the next k io_submit calls return -EAGAIN        */
	int error_next;      /* < 0: the next io_submit returns it (first iocb)  */
	int getevents_error; /* < 0: the next io_getevents returns it           */
	int mods[8];         /* changes to the next completions, in order        */
	int nmods, mod_pos;
	bool race;           /* the next io_getevents releases the held reads    */
	                     /* after it looked, and waits for their completion  */
	bool direct;         /* O_DIRECT works here: require it, and alignment   */
	/* what the test sees */
	long setups, destroys;    /* successful io_setup; io_destroy calls  */
	long setup_nr;            /* nr_events of the last successful one   */
	long submits, accepted;   /* io_submit calls; iocbs accepted         */
	long getevents, events;   /* io_getevents calls; events handed back  */
	long inflight, max_inflight;
	long eagain_streak, max_eagain_streak; /* -EAGAIN answers in one turn */
	long eagain_answers;
	long mods_done;
	int resfd;           /* the eventfd the iocbs name (-1: none yet)        */
	int file_fd;         /* the descriptor they read                         */
	io_context_t ctx;
	/* reads held back: copies, never reused within a test */
	struct held_slot {
		struct iocb copy;
		struct iocb *orig;
	} slot[SLOTS_MAX];
	int nslots;
	int held[SLOTS_MAX];
	int nheld;
	/* the file offset of every iocb io_submit accepted, in order */
	long long sub_off[SLOTS_MAX];
	int nsub;
};

/* MOD_SHORT: a read of more than 8192 bytes comes back with 4096;
 * MOD_SHORT_4K: one of more than 4096 bytes (a window of two blocks) too. */
enum { MOD_SHORT = 1, MOD_EIO, MOD_EINTR, MOD_SHORT_ODD, MOD_ENXIO, MOD_SHORT_4K };

static struct aio_spy spy = { .resfd = -1, .file_fd = -1 };

static void inspect_iocb(const struct iocb *cb)
{
	int op = cb->aio_lio_opcode;
	int fl;

	if (op != IO_CMD_PREAD && op != IO_CMD_PREADV) {
		seam_violate("io_submit was given an iocb with opcode %d: the server only reads "
			    "the file (io_prep_pread, TODO 5)", op);
		return;
	}
	if (!(cb->u.c.flags & IOCB_FLAG_RESFD)) {
		seam_violate("io_submit was given an iocb not tagged with io_set_eventfd: its "
			    "completion would never reach epoll (TODO 5; lesson: \"io_set_eventfd: "
			    "the bridge from libaio to epoll\")");
		return;
	}
	if ((int)cb->u.c.resfd != spy.resfd) {
		if (efd_count((int)cb->u.c.resfd) < 0) {
			seam_violate("an iocb names descriptor %u in io_set_eventfd, which is not "
				    "an eventfd (TODO 1, TODO 5; man 2 eventfd)", cb->u.c.resfd);
			return;
		}
		spy.resfd = (int)cb->u.c.resfd;
	}
	spy.file_fd = cb->aio_fildes;
	if (!spy.direct)
		return;
	fl = fcntl(cb->aio_fildes, F_GETFL);
	if (fl >= 0 && !(fl & O_DIRECT)) {
		seam_violate("the file is read without O_DIRECT, so each io_submit does the read "
			    "itself and the loop stalls (TODO 1: open it with O_DIRECT; lesson: "
			    "\"Which reads libaio really does in the background\")");
		return;
	}
	if (op == IO_CMD_PREAD) {
		if ((uintptr_t)cb->u.c.buf % EVSRV_ALIGN || cb->u.c.offset % EVSRV_ALIGN ||
		    cb->u.c.nbytes % EVSRV_ALIGN)
			seam_violate("an O_DIRECT read with buffer %p, offset %lld, length %lu: "
				    "all three must be multiples of EVSRV_ALIGN (4096); read the "
				    "aligned window around the request and send the slice (TODO 4)",
				    cb->u.c.buf, cb->u.c.offset, (unsigned long)cb->u.c.nbytes);
		return;
	}
	if (cb->u.v.offset % EVSRV_ALIGN)
		seam_violate("an O_DIRECT readv at offset %lld: it must be a multiple of 4096 "
			    "(TODO 4)", cb->u.v.offset);
	for (long i = 0; i < (long)cb->u.v.nr && !seam_violation(); i++)
		if ((uintptr_t)cb->u.v.vec[i].iov_base % EVSRV_ALIGN ||
		    cb->u.v.vec[i].iov_len % EVSRV_ALIGN)
			seam_violate("an O_DIRECT readv with an iovec of %p, %zu bytes: both must "
				    "be multiples of 4096 (TODO 4)", cb->u.v.vec[i].iov_base,
				    cb->u.v.vec[i].iov_len);
}

/*
 * Two servers turned at once, one per thread, in a fixed order set at one
 * call (a gate): the first thread's call returns (epoll_wait,
 * io_getevents) or is entered (io_submit), then the second thread's one,
 * then the first thread handles what it got (and its turn ends), then the
 * second one handles its own. Events or iocbs kept anywhere but in the
 * call's own memory (a static array) are then the second server's when the
 * first one reads them. Every wait is bounded.
 */
struct turn_gate {
	atomic_int on;
	atomic_int first_tid;
	atomic_int first_back, second_back, first_done;
};

static struct turn_gate egate; /* at epoll_wait's return    */
static struct turn_gate ggate; /* at io_getevents' return   */
static struct turn_gate sgate; /* at io_submit's entry      */

static void egate_wait(atomic_int *flag)
{
	long deadline = fault_now_ms() + PATIENCE_MS;

	while (!atomic_load(flag) && fault_now_ms() < deadline)
		nap_us(200);
}

static void gate_pass(struct turn_gate *g, long r)
{
	int tid;

	if (!atomic_load(&g->on) || r <= 0)
		return;
	tid = (int)syscall(SYS_gettid);
	if (tid == atomic_load(&g->first_tid)) {
		if (!atomic_exchange(&g->first_back, 1))
			egate_wait(&g->second_back);
	} else if (!atomic_exchange(&g->second_back, 1)) {
		egate_wait(&g->first_done);
	}
}

static void egate_pass(int r)
{
	gate_pass(&egate, r);
}

static void hold_iocb(struct iocb *cb)
{
	if (spy.nslots == SLOTS_MAX) {
		seam_violate("harness: more than %d reads held in one test", SLOTS_MAX);
		return;
	}
	spy.slot[spy.nslots].copy = *cb;
	spy.slot[spy.nslots].orig = cb;
	spy.held[spy.nheld++] = spy.nslots++;
}

static int hook_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	long n = nr;
	int r;

	gate_pass(&sgate, nr);
	spy.submits++;
	spy.ctx = ctx;
	if (nr <= 0 || !iocbs)
		return SEAM_REAL(io_submit)(ctx, nr, iocbs);
	for (long i = 0; i < nr; i++)
		inspect_iocb(iocbs[i]);
	if (spy.error_next < 0) {
		r = spy.error_next;
		spy.error_next = 0;
		return r;
	}
	if (spy.eagain_next > 0) {
		spy.eagain_next--;
		spy.eagain_answers++;
		if (++spy.eagain_streak > spy.max_eagain_streak)
			spy.max_eagain_streak = spy.eagain_streak;
		return -EAGAIN;
	}
	if (spy.accept_max > 0 && n > spy.accept_max)
		n = spy.accept_max;
	/* Holding the last k of a batch: accept just those (a legal partial
	 * submission); the rest go to the kernel on the next call. */
	if (spy.hold > 0 && n > spy.hold)
		n = spy.hold;
	if (spy.hold != 0) {
		for (long i = 0; i < n; i++)
			hold_iocb(iocbs[i]);
		if (spy.hold > 0)
			spy.hold -= (int)n;
		r = (int)n;
	} else {
		r = SEAM_REAL(io_submit)(ctx, n, iocbs);
	}
	for (long i = 0; i < r && spy.nsub < SLOTS_MAX; i++)
		spy.sub_off[spy.nsub++] = iocbs[i]->aio_lio_opcode == IO_CMD_PREADV
						  ? iocbs[i]->u.v.offset : iocbs[i]->u.c.offset;
	if (r > 0) {
		spy.accepted += r;
		spy.inflight += r;
		if (spy.inflight > spy.max_inflight)
			spy.max_inflight = spy.inflight;
	}
	return r;
}

/* Send the held reads to the kernel for real. */
static void aio_release(void)
{
	struct iocb *list[SLOTS_MAX];
	int done = 0;

	for (int i = 0; i < spy.nheld; i++)
		list[i] = &spy.slot[spy.held[i]].copy;
	while (done < spy.nheld) {
		int r = SEAM_REAL(io_submit)(spy.ctx, spy.nheld - done, list + done);

		if (r <= 0) {
			seam_violate("harness: io_submit of %d held reads failed: %s (was the io "
				    "context destroyed?)", spy.nheld - done, grade_errno_str(r));
			break;
		}
		done += r;
	}
	spy.nheld = 0;
}

/* Send only the first held read to the kernel for real; the others stay
 * held (one read of several comes back). */
static void aio_release_first(void)
{
	struct iocb *one[1];
	int r;

	if (spy.nheld == 0)
		return;
	one[0] = &spy.slot[spy.held[0]].copy;
	r = SEAM_REAL(io_submit)(spy.ctx, 1, one);
	if (r != 1)
		seam_violate("harness: io_submit of one held read failed: %s (was the io context "
			    "destroyed?)", grade_errno_str(r));
	memmove(spy.held, spy.held + 1, (size_t)(spy.nheld - 1) * sizeof(spy.held[0]));
	spy.nheld--;
}

/* Wait (bounded) until the eventfd's counter differs from `before`. */
static bool efd_wait_change(int fd, long long before)
{
	long deadline = fault_now_ms() + PATIENCE_MS;

	while (efd_count(fd) == before) {
		if (fault_now_ms() > deadline)
			return false;
		nap_us(100);
	}
	return true;
}

/* Wait while work is left, with a limit on a stall rather than on the
 * whole: left(ctx) measures what is still to come (0 or less: done), and
 * pause(ctx) waits a little (a nap, or a turn of the server) between two
 * looks. The deadline moves on each time left() goes below its least value
 * so far, so a slow but steady run is never cut short; stall_ms with no
 * progress is. Returns the last value of left(): the caller says what a
 * value above 0 means, in its own words. */
static long wait_progress(long (*left)(void *ctx), void (*pause)(void *ctx), void *ctx,
			  long stall_ms)
{
	long now = left(ctx), least = now;
	long deadline = fault_now_ms() + stall_ms;

	while (now > 0 && fault_now_ms() < deadline) {
		pause(ctx);
		now = left(ctx);
		if (now < least) {
			least = now;
			deadline = fault_now_ms() + stall_ms;
		}
	}
	return now;
}

/* For aio_release_all_done: reads released and not yet counted by the
 * eventfd, and a nap of 100 us between two looks. */
static long released_not_done(void *ctx)
{
	return *(int *)ctx - (long)efd_count(spy.resfd);
}

static void nap_a_little(void *ctx)
{
	(void)ctx;
	nap_us(100);
}

/* Send the held reads to the kernel, and wait until every one has
 * completed: the eventfd's counter (0 before: the server has read it)
 * reaches their number. The server's next turn then finds them all done
 * at once, behind one wake-up. Only the disk is waited for here (the
 * server does not run), and a shared disk may take seconds for 300 reads:
 * the limit is on a stall (no read completing for PATIENCE_MS), not on
 * the whole. */
static void aio_release_all_done(void)
{
	int n = spy.nheld;
	long long cnt;

	aio_release();
	cnt = n - wait_progress(released_not_done, nap_a_little, &n, PATIENCE_MS);
	grade_check(cnt == n, "harness: %d released reads, eventfd counter %lld (no read "
		    "completed for %d ms)", n, cnt, PATIENCE_MS);
}

static int hook_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			     struct timespec *ts)
{
	int r;

	spy.getevents++;
	if (min_nr > 0 || !ts || ts->tv_sec || ts->tv_nsec) {
		seam_violate("io_getevents(ctx, %ld, %ld, events, %s) can wait for the disk, and "
			    "while it waits no client is served: call it only as "
			    "io_getevents(ctx, 0, nr, events, &zero) with a zero timespec, after "
			    "the eventfd said completions are there (TODO 6; lesson pitfall 4)",
			    min_nr, nr, !ts ? "NULL" : "a timeout");
		return -EPERM;
	}
	if (spy.getevents_error < 0) {
		r = spy.getevents_error;
		spy.getevents_error = 0;
		return r;
	}
	r = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, ts);
	if (spy.race) {
		/* A completion that lands just after this look at the ring: it
		 * bumps the eventfd again, after the server read its counter. */
		long long before = efd_count(spy.resfd);

		spy.race = false;
		aio_release();
		if (!efd_wait_change(spy.resfd, before))
			seam_violate("harness: a released read did not complete within %d ms",
				    PATIENCE_MS);
	}
	for (int i = 0; i < r; i++) {
		uintptr_t obj = (uintptr_t)ev[i].obj, first = (uintptr_t)&spy.slot[0];

		/* A released copy: hand back the caller's own iocb. */
		if (obj >= first && obj < first + sizeof(spy.slot))
			ev[i].obj = spy.slot[(obj - first) / sizeof(spy.slot[0])].orig;
		spy.inflight--;
		spy.events++;
		if (spy.mod_pos < spy.nmods) {
			long res = (long)ev[i].res;

			if (((spy.mods[spy.mod_pos] == MOD_SHORT ||
			      spy.mods[spy.mod_pos] == MOD_SHORT_ODD) && res > 8192) ||
			    (spy.mods[spy.mod_pos] == MOD_SHORT_4K && res > 4096)) {
				/* MOD_SHORT_ODD: short off a block boundary, as a
				 * buffered read may be anywhere (never O_DIRECT's) */
				ev[i].res = spy.mods[spy.mod_pos] == MOD_SHORT_ODD ? 1000 : 4096;
				spy.mod_pos++;
				spy.mods_done++;
			} else if (spy.mods[spy.mod_pos] == MOD_EIO ||
				   spy.mods[spy.mod_pos] == MOD_EINTR ||
				   spy.mods[spy.mod_pos] == MOD_ENXIO) {
				int m = spy.mods[spy.mod_pos];

				ev[i].res = (unsigned long)(long)(m == MOD_EIO ? -EIO
								  : m == MOD_EINTR ? -EINTR : -ENXIO);
				spy.mod_pos++;
				spy.mods_done++;
			}
		}
	}
	gate_pass(&ggate, r);
	return r;
}

static int hook_io_setup(int nr, io_context_t *ctx)
{
	int r = SEAM_REAL(io_setup)(nr, ctx);

	if (r == 0) {
		spy.setups++;
		spy.setup_nr = nr;
	}
	return r;
}

static int hook_io_destroy(io_context_t ctx)
{
	spy.destroys++;
	return SEAM_REAL(io_destroy)(ctx);
}

/* ------------------------------------------ the file is not read otherwise */

static const char *const FILE_RULE =
	"the file's data moves only through io_submit + io_getevents (TODO 5; lesson: "
	"\"io_set_eventfd: the bridge from libaio to epoll\")";

static ssize_t hook_read(int fd, void *buf, size_t n)
{
	if (is_regular(fd)) {
		seam_violate("your code called read() on the file, which this exercise does not "
			    "allow: %s", FILE_RULE);
		errno = EPERM;
		return -1;
	}
	return SEAM_REAL(read)(fd, buf, n);
}

static ssize_t hook_readv(int fd, const struct iovec *iov, int cnt)
{
	if (is_regular(fd)) {
		seam_violate("your code called readv() on the file, which this exercise does not "
			    "allow: %s", FILE_RULE);
		errno = EPERM;
		return -1;
	}
	return SEAM_REAL(readv)(fd, iov, cnt);
}

static void *hook_mmap(void *a, size_t n, int prot, int fl, int fd, off_t off)
{
	if (is_regular(fd)) {
		seam_violate("your code called mmap() on the file, which this exercise does not "
			    "allow: %s", FILE_RULE);
		errno = EPERM;
		return MAP_FAILED;
	}
	return SEAM_REAL(mmap)(a, n, prot, fl, fd, off);
}

static void *hook_mmap64(void *a, size_t n, int prot, int fl, int fd, off64_t off)
{
	if (is_regular(fd)) {
		seam_violate("your code called mmap() on the file, which this exercise does not "
			    "allow: %s", FILE_RULE);
		errno = EPERM;
		return MAP_FAILED;
	}
	return SEAM_REAL(mmap64)(a, n, prot, fl, fd, off);
}

/* ------------------------------------------------------ epoll and accept */

struct loop_spy {
	long waits, zero_waits;  /* epoll_wait/epoll_pwait calls; with timeout 0 */
	int last_timeout;
	int emfile;              /* accept fails with EMFILE: -1 always, k times  */
	int fail_next;           /* the next k accepts fail with fail_errno       */
	int fail_errno;
	int wait_errno;          /* the next epoll_wait/epoll_pwait fails with it */
	int reverse_next;        /* the next k batches of 2 or more events come
				  * back in reverse order (epoll(7) promises none) */
	long accepts;
};

static struct loop_spy lspy;

static void note_wait(int timeout)
{
	lspy.waits++;
	if (timeout == 0)
		lspy.zero_waits++;
	lspy.last_timeout = timeout;
	spy.eagain_streak = 0;
}

/* The events of a batch in reverse order, when a test asks for it. */
static void maybe_reverse(void *ev, int r)
{
	struct epoll_event *e = ev, t;

	if (r < 2 || lspy.reverse_next <= 0)
		return;
	lspy.reverse_next--;
	for (int i = 0, j = r - 1; i < j; i++, j--) {
		t = e[i];
		e[i] = e[j];
		e[j] = t;
	}
}

static int hook_epoll_wait(int epfd, void *ev, int max, int timeout)
{
	int r;

	note_wait(timeout);
	if (lspy.wait_errno) {
		errno = lspy.wait_errno;
		lspy.wait_errno = 0;
		return -1;
	}
	r = SEAM_REAL(epoll_wait)(epfd, ev, max, timeout);
	maybe_reverse(ev, r);
	egate_pass(r);
	return r;
}

static int hook_epoll_pwait(int epfd, void *ev, int max, int timeout, const sigset_t *ss)
{
	int r;

	note_wait(timeout);
	if (lspy.wait_errno) {
		errno = lspy.wait_errno;
		lspy.wait_errno = 0;
		return -1;
	}
	r = SEAM_REAL(epoll_pwait)(epfd, ev, max, timeout, ss);
	maybe_reverse(ev, r);
	egate_pass(r);
	return r;
}

static bool emfile_now(void)
{
	lspy.accepts++;
	if (lspy.fail_next > 0) {
		lspy.fail_next--;
		errno = lspy.fail_errno;
		return true;
	}
	if (lspy.emfile == 0)
		return false;
	if (lspy.emfile > 0)
		lspy.emfile--;
	errno = EMFILE;
	return true;
}

static int hook_accept4(int fd, struct sockaddr *sa, socklen_t *sl, int fl)
{
	if (emfile_now())
		return -1;
	return SEAM_REAL(accept4)(fd, sa, sl, fl);
}

static int hook_accept(int fd, struct sockaddr *sa, socklen_t *sl)
{
	if (emfile_now())
		return -1;
	return SEAM_REAL(accept)(fd, sa, sl);
}

/* Skip (with the reason) where the machine has no kernel AIO: then no
 * server of this chapter can work, whoever wrote it. */
static void require_kernel_aio(void)
{
	io_context_t ctx = 0;
	int r = SEAM_REAL(io_setup)(1, &ctx);
	char why[200];

	if (r == 0) {
		SEAM_REAL(io_destroy)(ctx);
		return;
	}
	if (r == -ENOSYS)
		grade_skip("aio", "this kernel has no kernel AIO: io_setup returned ENOSYS",
			   "use a kernel built with CONFIG_AIO=y (every distribution kernel); run "
			   "make doctor");
	if (r == -EPERM)
		grade_skip("aio", "io_setup is refused (EPERM): a seccomp filter blocks kernel AIO",
			   "run the container with a seccomp profile that allows io_setup, or on a "
			   "VM; run make doctor");
	snprintf(why, sizeof(why), "io_setup(1) fails here with %s (fs.aio-nr has reached "
		 "fs.aio-max-nr?)", grade_errno_str(r));
	grade_skip("aio", why, "sysctl -w fs.aio-max-nr=1048576, or end the programs holding io "
		   "contexts; run make doctor");
}

static void install_spies(void)
{
	require_kernel_aio();
	const char *wait_rule = "the one place the loop waits is epoll_wait (TODO 10; lesson: "
				"\"Everything the loop waits for is a file descriptor\")";
	const char *sleep_rule = "a server must never sleep: every client would wait with it. "
				 "Back off with the timerfd in the epoll set or the epoll_wait "
				 "timeout (TODO 2, TODO 5; lesson: \"timerfd\")";
	static const enum seam_id file_calls[] = {
		SEAM_pread, SEAM_pread64, SEAM_preadv, SEAM_preadv64, SEAM_preadv2,
		SEAM_preadv64v2, SEAM_fread, SEAM_sendfile, SEAM_sendfile64, SEAM_splice,
		SEAM_copy_file_range,
	};

	for (size_t i = 0; i < sizeof(file_calls) / sizeof(file_calls[0]); i++)
		seam_refuse(file_calls[i], FILE_RULE);
	seam_refuse(SEAM_poll, wait_rule);
	seam_refuse(SEAM_ppoll, wait_rule);
	seam_refuse(SEAM_select, wait_rule);
	seam_refuse(SEAM_pselect, wait_rule);
	seam_refuse(SEAM_nanosleep, sleep_rule);
	seam_refuse(SEAM_usleep, sleep_rule);
	seam_refuse(SEAM_sleep, sleep_rule);
	seam_refuse(SEAM_clock_nanosleep, sleep_rule);
	seam_refuse(SEAM_pthread_create, "one thread serves network and disk (lesson: \"One "
					 "thread, many states\")");
	seam_hook_io_submit = hook_io_submit;
	seam_hook_io_getevents = hook_io_getevents;
	seam_hook_io_setup = hook_io_setup;
	seam_hook_io_destroy = hook_io_destroy;
	seam_hook_read = hook_read;
	seam_hook_readv = hook_readv;
	seam_hook_mmap = hook_mmap;
	seam_hook_mmap64 = hook_mmap64;
	seam_hook_epoll_wait = hook_epoll_wait;
	seam_hook_epoll_pwait = hook_epoll_pwait;
	seam_hook_accept4 = hook_accept4;
	seam_hook_accept = hook_accept;
}

/* ------------------------------------------------------------ the fixture */

struct fixture {
	const char *path;          /* the file served              */
	unsigned char *data;       /* its content                  */
	size_t size;
	int lfd;                   /* the listening socket         */
	struct sockaddr_storage addr;
	socklen_t alen;
	struct evsrv *s;
	int fds_before_open;       /* descriptors before evsrv_open */
	unsigned qd;
};

static struct fixture F = { .lfd = -1 };

/* Can this directory do O_DIRECT? (Then the server must use it.) */
static bool direct_works(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void make_data(size_t size)
{
	F.size = size;
	F.data = grade_random_bytes(size);
	F.path = strdup(grade_make_file("data", F.data, size));
	spy.direct = direct_works(F.path);
}

static int tcp_listener(int sndbuf, struct sockaddr_storage *addr, socklen_t *alen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	grade_check(fd >= 0, "harness: socket: %s", strerror(errno));
	if (sndbuf)
		grade_check(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0,
		      "harness: SO_SNDBUF: %s", strerror(errno));
	grade_check(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 256) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &len) == 0,
	      "harness: cannot listen on 127.0.0.1: %s", strerror(errno));
	memcpy(addr, &a, sizeof(a));
	*alen = sizeof(a);
	return fd;
}

/*
 * A unix socket path that fits in sun_path (108 bytes), always in the test's
 * directory, which the grader removes: a deep build directory (a course
 * cloned under a long path) makes the absolute path too long, so the path is
 * then given relative to the working directory, which the tests and the
 * programs they start share (the grader starts them in GRADE_TMPDIR, where
 * the test directories are). Never /tmp: a socket or symlink left there
 * would outlive the grading.
 */
static const char *sock_path(const char *name)
{
	static char buf[108];
	char cwd[4096];
	const char *p = grade_path(name);
	size_t n;

	if (strlen(p) < sizeof(buf) - 1)
		return p;
	grade_check(getcwd(cwd, sizeof(cwd)) != NULL, "harness: getcwd: %s", strerror(errno));
	n = strlen(cwd);
	grade_check(strncmp(p, cwd, n) == 0 && p[n] == '/' && strlen(p + n + 1) < sizeof(buf) - 1,
		    "harness: the socket path %s is too long for sun_path and does not lie in the "
		    "working directory %s: run the tests from the grader (make check)", p, cwd);
	snprintf(buf, sizeof(buf), "%s", p + n + 1);
	return buf;
}

static int unix_listener(const char *path, struct sockaddr_storage *addr, socklen_t *alen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	grade_check(fd >= 0, "harness: socket: %s", strerror(errno));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	grade_check(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 256) == 0,
	      "harness: cannot listen on %s: %s", path, strerror(errno));
	memcpy(addr, &a, sizeof(a));
	*alen = sizeof(a);
	return fd;
}

static void srv_open(unsigned qd)
{
	int r;

	F.qd = qd;
	F.fds_before_open = fault_count_fds();
	r = SEAM_CALL(evsrv_open(&F.s, F.path, F.lfd, qd));
	grade_check(r == 0, "evsrv_open(&s, PATH, listen_fd, %u) on a %zu-byte file and a listening "
	      "%s socket returned %s, expected 0: the server does not start (TODO 1)", qd,
	      F.size, F.addr.ss_family == AF_UNIX ? "unix" : "TCP", grade_errno_str(r));
	grade_check(F.s != NULL, "evsrv_open returned 0 but left *out NULL");
}

/* A second server in the same process (its own listener lfd at addr, the
 * same file, qd), made the one the usual driver turns (F.s) and connects to
 * (F.addr). The caller keeps the first one's F.s and F.addr to switch back. */
static struct evsrv *second_server_open(int lfd, const struct sockaddr_storage *addr,
					socklen_t alen, unsigned qd)
{
	struct evsrv *other = NULL;
	int r = SEAM_CALL(evsrv_open(&other, F.path, lfd, qd));

	grade_check(r == 0 && other, "a second server in the same process (another listening "
		    "socket, the same file, qd %u): evsrv_open returned %s, expected 0 (TODO 1)",
		    qd, grade_errno_str(r));
	F.s = other;
	F.addr = *addr;
	F.alen = alen;
	return other;
}

/* The usual start: a file of `size` random bytes, a TCP listener on
 * 127.0.0.1 (sndbuf: its SO_SNDBUF, inherited by accepted sockets; 0 for
 * the default), the server open on them. SIGPIPE at its default action, as
 * in a real program that forgot about it: it kills. The server's blocks get
 * pages of their own, taken away when freed (seam_heap_fence): a
 * connection or request read after it was freed crashes the test there. */
static void srv_setup(size_t size, unsigned qd, int sndbuf)
{
	seam_heap_fence(true);
	signal(SIGPIPE, SIG_DFL);
	install_spies();
	make_data(size);
	F.lfd = tcp_listener(sndbuf, &F.addr, &F.alen);
	srv_open(qd);
}

/* One turn of the loop under test. */
static int turn(int timeout_ms)
{
	int r = SEAM_CALL(evsrv_run_once(F.s, timeout_ms));

	grade_check(r >= 0 || r == -EINTR, "evsrv_run_once(s, %d) returned %s: the loop itself "
	      "failed, although only clients misbehaved (TODO 10: errors of one client close "
	      "that client or become its reply's status)", timeout_ms, grade_errno_str(r));
	return r;
}

/* Turn until cond holds; fail with `what` after STALL_MS. */
#define turn_until(cond, ...)                                             \
	do {                                                              \
		long deadline_ = fault_now_ms() + STALL_MS;                     \
		while (!(cond)) {                                         \
			grade_check(fault_now_ms() < deadline_, __VA_ARGS__);         \
			turn(20);                                         \
		}                                                         \
	} while (0)

#define BUSY_HINT                                                                        \
	"something is reported ready again and again while nothing is happening: a busy " \
	"loop. Look for the completion eventfd not read (TODO 6), EPOLLOUT left on after a " \
	"reply (TODO 8), EPOLLIN left on while a request is being served (TODO 4)"

/* Nothing is happening: the loop must have nothing to do. */
static void quiet(const char *when)
{
	int r = 1;

	for (int i = 0; i < 100 && r > 0; i++)
		r = turn(10);
	for (int i = 0; i < 3; i++) {
		long long c = efd_count(spy.resfd);

		r = turn(0);
		grade_check(c <= 0, "%s, the completion eventfd's counter is still %lld: read it "
		      "(8 bytes) before you reap, or level-triggered epoll reports it on every turn "
		      "(TODO 6; lesson pitfall 1)", when, c);
		grade_check(r == 0, "%s, evsrv_run_once(s, 0) returned %d, expected 0: %s", when, r,
		      BUSY_HINT);
	}
}

/* ----------------------------------------------------------------- clients */

#define CL_QMAX 64

struct client {
	int fd;
	int id;
	uint64_t off[CL_QMAX], len[CL_QMAX];
	unsigned nsent, ndone;       /* requests sent; replies checked         */
	unsigned char hdr[EVSRV_HDR_SIZE];
	size_t hgot;
	int64_t status;
	size_t bgot;
	unsigned char *body;
	size_t chunk;                /* > 0: at most this many bytes per recv  */
	bool paused;                 /* not reading for now                    */
};

static int connect_to(const struct sockaddr_storage *addr, socklen_t alen, int rcvbuf)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	grade_check(fd >= 0, "harness: socket: %s", strerror(errno));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	grade_check(connect(fd, (const struct sockaddr *)addr, alen) == 0,
	      "harness: connect: %s", strerror(errno));
	return fd;
}

static void cl_connect(struct client *c, int id, int rcvbuf)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->fd = connect_to(&F.addr, F.alen, rcvbuf);
	c->body = grade_xmalloc(EVSRV_MAX_LEN);
}

static void cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->body);
	c->body = NULL;
}

static void send_bytes(int fd, const void *p, size_t n)
{
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

	grade_check(w == (ssize_t)n, "harness: send of %zu request bytes returned %zd (%s): did the "
	      "server close the connection?", n, w, w < 0 ? strerror(errno) : "short");
}

/* Queue the request in the client's book and send it (all 16 bytes). */
static void cl_send(struct client *c, uint64_t off, uint64_t len)
{
	unsigned char r[EVSRV_REQ_SIZE];

	grade_check(c->nsent < CL_QMAX, "harness: too many requests in flight on one client");
	c->off[c->nsent] = off;
	c->len[c->nsent] = len;
	c->nsent++;
	evsrv_encode_request(r, off, len);
	send_bytes(c->fd, r, sizeof(r));
}

/* Book a request whose bytes the test sends itself (in pieces). */
static void cl_book(struct client *c, uint64_t off, uint64_t len)
{
	c->off[c->nsent] = off;
	c->len[c->nsent] = len;
	c->nsent++;
}

/* What a correct server answers. */
static int64_t expected_status(uint64_t off, uint64_t len)
{
	if (len > EVSRV_MAX_LEN || off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (off >= F.size)
		return 0;
	return (int64_t)(len < F.size - off ? len : F.size - off);
}

static const char *status_name(int64_t st)
{
	return grade_errno_str((long)st);
}

/* Read what has arrived for client c (without waiting); check each reply
 * as it completes. Returns the number of bytes read. */
static size_t cl_progress(struct client *c)
{
	size_t total = 0;

	while (c->ndone < c->nsent && !c->paused) {
		unsigned n = c->ndone;
		int64_t want = expected_status(c->off[n], c->len[n]);
		void *dst;
		size_t room;
		ssize_t got;

		if (c->hgot < EVSRV_HDR_SIZE) {
			dst = c->hdr + c->hgot;
			room = EVSRV_HDR_SIZE - c->hgot;
		} else {
			dst = c->body + c->bgot;
			room = (size_t)c->status - c->bgot;
		}
		if (c->chunk && room > c->chunk)
			room = c->chunk;
		got = recv(c->fd, dst, room, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return total;
		grade_check(got > 0, "client %d: the server closed the connection (%s) while the client "
		      "waited for the reply to request %u (offset %llu, length %llu)%s", c->id,
		      got == 0 ? "end of stream" : strerror(errno), n,
		      (unsigned long long)c->off[n], (unsigned long long)c->len[n],
		      c->hgot ? ", part way through the reply" : "");
		total += (size_t)got;
		if (c->hgot < EVSRV_HDR_SIZE) {
			c->hgot += (size_t)got;
			if (c->hgot < EVSRV_HDR_SIZE)
				continue;
			c->status = evsrv_decode_status(c->hdr);
			grade_check(c->status == want, "client %d, request %u (offset %llu, length %llu): "
			      "reply status %s, expected %s (file of %zu bytes; seed %llu, rerun with "
			      "make check CH=04 SEED=%llu)", c->id, n, (unsigned long long)c->off[n],
			      (unsigned long long)c->len[n], status_name(c->status),
			      status_name(want), F.size, (unsigned long long)grade_seed(),
			      (unsigned long long)grade_seed());
			c->bgot = 0;
		} else {
			c->bgot += (size_t)got;
		}
		if (c->status > 0 && c->bgot < (size_t)c->status)
			continue;
		if (c->status > 0) {
			ssize_t at = grade_first_diff(c->body, F.data + c->off[n], (size_t)c->status);

			grade_check(at < 0, "client %d, request %u (offset %llu, length %llu): byte %zd of "
			      "the %lld-byte reply differs from the file (a short send taken as "
			      "complete, or the wrong slice of the window? seed %llu)", c->id, n,
			      (unsigned long long)c->off[n], (unsigned long long)c->len[n], at,
			      (long long)c->status, (unsigned long long)grade_seed());
		}
		c->ndone++;
		c->hgot = 0;
		c->bgot = 0;
	}
	return total;
}

static bool cl_done(const struct client *c)
{
	return c->ndone == c->nsent;
}

/* Wait for more reply bytes: the in-process server takes a turn; for a
 * server in another process, poll the clients' sockets. */
static void wait_step(struct client *const *cls, int n)
{
	if (F.s) {
		turn(20);
		return;
	}
	struct pollfd p[256];
	int k = 0;

	for (int i = 0; i < n && k < 256; i++)
		if (!cl_done(cls[i]) && !cls[i]->paused)
			p[k++] = (struct pollfd){ .fd = cls[i]->fd, .events = POLLIN };
	SEAM_REAL(poll)(p, (unsigned long)k, 50);
}

/* Serve until every (not paused) client has every reply; fail with `what`
 * when no reply byte arrives for STALL_MS (PROG_MS for a program). */
static void drive(struct client *const *cls, int n, const char *what)
{
	const int stall = F.s ? STALL_MS : PROG_MS;
	long deadline = fault_now_ms() + stall;

	for (;;) {
		size_t moved = 0;
		int waiting = -1;

		for (int i = 0; i < n; i++) {
			moved += cl_progress(cls[i]);
			if (!cl_done(cls[i]) && !cls[i]->paused && waiting < 0)
				waiting = i;
		}
		if (waiting < 0)
			return;
		if (fault_now_ms() > deadline) {
			const struct client *c = cls[waiting];
			unsigned k = c->ndone;

			grade_check(0, "%s: client %d never got the %s of its reply to request %u "
			      "(offset %llu, length %llu): %zu of %zu header bytes and %zu data "
			      "bytes arrived, then nothing for %d ms", what, c->id,
			      c->hgot < EVSRV_HDR_SIZE ? "header" : "rest", k,
			      (unsigned long long)c->off[k], (unsigned long long)c->len[k], c->hgot,
			      (size_t)EVSRV_HDR_SIZE, c->bgot, stall);
		}
		if (moved)
			deadline = fault_now_ms() + stall;
		else
			wait_step(cls, n);
	}
}

static void drive_one(struct client *c, const char *what)
{
	struct client *one[1] = { c };

	drive(one, 1, what);
}

/* Close the server, check it gave back every descriptor it made. */
static void srv_close(void)
{
	SEAM_CALL_VOID(evsrv_close(F.s));
	F.s = NULL;
}

/* ------------------------------------------------ a thread beside the loop */

/* The test thread's kernel id, for /proc/self/task/TID/syscall. */
static pid_t test_tid;

static bool in_epoll_wait_nr(long nr)
{
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait
#ifdef SYS_epoll_pwait2
	       || nr == SYS_epoll_pwait2
#endif
		;
}

/* The timeout argument of a task asleep in an epoll wait (epoll_wait,
 * epoll_pwait), or -2 where it cannot be read (epoll_pwait2: a timespec). */
static long epoll_timeout_arg(const struct task_call *c)
{
	return c->nr == SYS_epoll_wait || c->nr == SYS_epoll_pwait ? (long)(int)c->args[3] : -2;
}

/* Is task `tid` of process `pid` asleep in an epoll wait? *timeout gets the
 * timeout argument (epoll_wait, epoll_pwait), or -2 if unknown. */
static int task_in_epoll(pid_t pid, pid_t tid, long *timeout)
{
	struct task_call c;
	int err = task_call_read(pid, tid, &c);

	if (err)
		return err;
	if (c.running || !in_epoll_wait_nr(c.nr))
		return 0;
	if (timeout)
		*timeout = epoll_timeout_arg(&c);
	return 1;
}

/* Wait (bounded) until the test thread sleeps in epoll_wait; give up at
 * once when *gone becomes true (the call being watched has returned). */
static bool wait_test_thread_in_epoll(long *timeout, atomic_int *gone)
{
	long deadline = fault_now_ms() + STALL_MS;

	while (task_in_epoll(getpid(), test_tid, timeout) != 1) {
		if (fault_now_ms() > deadline || (gone && atomic_load(gone)))
			return false;
		nap_us(200);
	}
	return true;
}

/* ----------------------------------------------- the program, from outside */

/* Programs are started with harness/lib/prog.h; these wrappers add what
 * chapter 04 says when its server misbehaves. */

/* Start the next server with its stdout pipe already full, so that its
 * ready line blocks in write() until the test reads: the test can look at
 * the process exactly when it prints (check_handlers_at_ready_line). */
static bool prog_fill_stdout;

static const char *server_path(void)
{
	static char path[4200];
	const char *env = getenv("SERVER"), *dir = getenv("GRADE_PROGRAMS");

	if (env && *env)
		return env;
	snprintf(path, sizeof(path), "%s/server", dir && *dir ? dir : ".");
	grade_check(access(path, X_OK) == 0, "there is no server program at %s (build it from "
	      "server.c: TODO 12); or set SERVER=/path/to/a/server", path);
	return path;
}

/* Start the server with argv[1..] (argv[0] is replaced by its path). */
static void server_start(struct prog_proc *p, const char **argv)
{
	argv[0] = server_path();
	prog_start(p, argv, prog_fill_stdout);
}

/* Stop the server with `sig`; returns its wait status (fails if it does not
 * end within PROG_MS: then it is killed). */
static int server_stop(struct prog_proc *p, int sig)
{
	int ws = 0;

	grade_check(kill(p->pid, sig) == 0, "harness: kill(%d): %s", (int)p->pid, strerror(errno));
	if (!prog_wait(p->pid, PROG_MS, &ws)) {
		kill(p->pid, SIGKILL);
		prog_wait(p->pid, PROG_MS, &ws);
		grade_check(0, "the server did not end within %d ms of SIG%s (it was killed): the "
		      "handler must call evsrv_stop, which wakes epoll_wait (TODO 10, TODO 12)",
		      PROG_MS, sigabbrev_np(sig));
	}
	return ws;
}

/* Run the server to its end (it should not start serving): wait status. */
static int server_run(const char **argv, struct prog_proc *p)
{
	int ws = 0;

	server_start(p, argv);
	if (!prog_wait(p->pid, PROG_MS, &ws)) {
		char args[600] = "";
		size_t used = 0;

		for (int i = 1; argv[i] && used < sizeof(args); i++)
			used += (size_t)snprintf(args + used, sizeof(args) - used, " %s", argv[i]);
		kill(p->pid, SIGKILL);
		prog_wait(p->pid, PROG_MS, &ws);
		grade_check(0, "server%s: still running %d ms after it was started with arguments "
		      "it must refuse (it was killed); it must print a message on stderr and exit "
		      "with status 2 (bad arguments) or 1 (cannot serve) (TODO 12)", args, PROG_MS);
	}
	p->linelen = 0;
	prog_rest_of_stdout(p, p->line, sizeof(p->line));
	p->linelen = strlen(p->line);
	close(p->out);
	return ws;
}

#endif /* EVTEST_H */
