/*
 * Chapter 10 tests: the reader that works everywhere (chapters/10-showdown/
 * reader.h): the choice of interface, made by trying; what it says about
 * it; the errors it returns; what it leaves behind; and the batch read
 * through each back-end, graded by the battery every interface shares
 * (harness/lib/batch_battery.h).
 *
 * Each interface is made unavailable in turn through the link seams, as a
 * machine would refuse it: io_uring_queue_init_params (what ubatch_init
 * calls) answering -EPERM (seccomp, kernel.io_uring_disabled), -ENOSYS (no
 * io_uring) or -ENOMEM (RLIMIT_MEMLOCK); the ring's opcode probe failing or
 * lacking IORING_OP_READ (kernels before 5.6); open(2) refusing O_DIRECT
 * with EINVAL (a filesystem without direct I/O); io_setup answering
 * -EAGAIN (fs.aio-max-nr), -ENOSYS or -EPERM. One refusal is real: a child
 * process installs a seccomp filter that fails io_uring_setup with EPERM,
 * as Docker's default profile does, and opens a reader there. uname(2) and
 * the /proc files a version check would read are made to lie: the choice
 * must not depend on them.
 *
 * What the module leaves is counted: descriptors (/proc/self/fd), threads
 * (/proc/self/task), rings (io_uring_queue_init_params against
 * io_uring_queue_exit), AIO contexts (io_setup against io_destroy) and heap
 * blocks (harness/lib/heap.c: the reader's, and the back-ends' too, which
 * are linked with the same accounting; the probe liburing allocates is
 * handed over as a block of the module's, so a probe never freed is a leak).
 *
 * Expected bytes come from the harness's own random data, generated from
 * the printed seed.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "reader.h"
#include "ring_watch.h"
#include "batch_checks.h"
#include "batch_battery.h"
#include "open_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* heap.c's allocator as the module sees it: a probe handed to the module is
 * one of its blocks (see h_get_probe_ring). */
void *seam_malloc(size_t size);
void seam_free(void *ptr);

/* =============================================================== hooks */

enum probe_mode { PROBE_REAL, PROBE_NULL, PROBE_NO_READ };

static struct {
	/* io_uring: io_uring_queue_init_params refused with init_err */
	int init_err;
	long init_calls;
	unsigned last_entries;      /* the size the last set-up asked for */
	/* the probe */
	enum probe_mode probe_mode;
	long probe_calls, probes, probes_freed;
	struct io_uring_probe *accounted[16];
	/* libaio */
	int setup_err;              /* io_setup answers this (0: the kernel) */
	long setup_calls, setups_ok, destroys, submits;
	int last_nr;                /* the nr_events the last io_setup asked for */
	long destroys_failed;       /* io_destroy of a context that was not there */
	int getevents_err;          /* io_getevents answers this (0: the kernel) */
	int submit_err;             /* io_submit answers this (0: the kernel)    */
	long aio_inflight, aio_max_inflight;
	/* threads: the create_fail_at-th pthread_create fails with EAGAIN */
	long create_fail_at;
	/* rings set up when the next step began: at the first io_setup, at the
	 * first pthread_create (-1: not yet; armed by the test) */
	long rings_at_setup, rings_at_create;
	/* open(2) */
	bool odirect_einval;        /* O_DIRECT refused: EINVAL             */
	int odirect_err;            /* O_DIRECT open fails with this errno  */
	                            /* (not EINVAL: not "no direct I/O")    */
	const char *eacces_path;    /* this path refused: EACCES            */
	const char *vanish_path;    /* this path's O_DIRECT open refused    */
	                            /* (EINVAL), and the file removed then  */
	bool lie_about_version;     /* uname and /proc say 4.19, and        */
	                            /* io_uring_disabled says 1             */
	char fake_release[PATH_MAX], fake_version[PATH_MAX], fake_disabled[PATH_MAX];
	long opens;
	long direct_opens;          /* of them, with O_DIRECT               */
	/* twin: the first ring set-up waits there (bounded) while another
	 * thread opens a reader of its own (10.51) */
	bool twin_gate;
	/* a slow read: a pread on slow_fd waits until slow_want reads of the
	 * batch have started (or slow_ms have passed: then it was stalled) */
	int slow_fd;
	long slow_want, slow_ms;
	atomic_bool slow_stalled;
	atomic_long slow_started;   /* reads of the batch started when it went on */
} hk;

static long rings_alive(void);

/* Touched by the pool's workers too. */
static atomic_long creates;
static atomic_long reads, reads_by_caller, reads_inflight, reads_max_inflight;
static atomic_int caller_tid;

static void note_read_start(void)
{
	long now, most;

	atomic_fetch_add(&reads, 1);
	if (gettid() == atomic_load(&caller_tid))
		atomic_fetch_add(&reads_by_caller, 1);
	now = atomic_fetch_add(&reads_inflight, 1) + 1;
	most = atomic_load(&reads_max_inflight);
	while (now > most && !atomic_compare_exchange_weak(&reads_max_inflight, &most, now))
		;
}

/* A read on hk.slow_fd is slow: it goes on only once hk.slow_want reads
 * (itself included) have started, as a read of a busy disk would hold its
 * worker while the others are served; after hk.slow_ms it goes on anyway
 * and says the rest of the batch waited for it. */
static void slow_read(int fd)
{
	long deadline;

	if (!hk.slow_want || fd != hk.slow_fd)
		return;
	deadline = fault_now_ms() + hk.slow_ms;
	while (atomic_load(&reads) < hk.slow_want && fault_now_ms() < deadline)
		fault_nap();
	atomic_store(&hk.slow_started, atomic_load(&reads));
	if (atomic_load(&reads) < hk.slow_want)
		atomic_store(&hk.slow_stalled, true);
}

static ssize_t h_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r;

	note_read_start();
	slow_read(fd);
	r = SEAM_REAL(pread)(fd, buf, n, off);
	atomic_fetch_sub(&reads_inflight, 1);
	return r;
}

static ssize_t h_pread64(int fd, void *buf, size_t n, off64_t off)
{
	ssize_t r;

	note_read_start();
	slow_read(fd);
	r = SEAM_REAL(pread64)(fd, buf, n, off);
	atomic_fetch_sub(&reads_inflight, 1);
	return r;
}

static ssize_t h_read(int fd, void *buf, size_t n)
{
	ssize_t r;

	note_read_start();
	r = SEAM_REAL(read)(fd, buf, n);
	atomic_fetch_sub(&reads_inflight, 1);
	return r;
}

static int h_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	long k = atomic_fetch_add(&creates, 1) + 1;

	if (k == 1 && hk.rings_at_create < 0)
		hk.rings_at_create = rings_alive();
	if (hk.create_fail_at && k == hk.create_fail_at)
		return EAGAIN;  /* the kernel's answer when it has no thread to give */
	return SEAM_REAL(pthread_create)(t, a, fn, arg);
}

/* ubatch_init sets its ring up with io_uring_queue_init_params. */
static void twin_wait_here(void);

static int h_init_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
	if (hk.twin_gate) {
		hk.twin_gate = false;
		twin_wait_here();
	}
	hk.init_calls++;
	hk.last_entries = entries;
	if (hk.init_err)
		return hk.init_err;
	return watch_io_uring_queue_init_params(entries, ring, p);
}

/*
 * The probe. liburing allocates it; the module must free it
 * (io_uring_get_probe(3)). It is handed over as a heap block of the
 * module's, so that one never freed shows as a leak. PROBE_NULL: the
 * kernel has no probe (before 5.6); PROBE_NO_READ: IORING_OP_READ is not
 * among the supported opcodes.
 */
static struct io_uring_probe *h_get_probe_ring(struct io_uring *ring)
{
	size_t bytes = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *real, *copy;

	hk.probe_calls++;
	if (hk.probe_mode == PROBE_NULL) {
		/* as liburing's malloc would leave it when no memory is left for
		 * the probe: still "nothing says the ring can read", a fall-back,
		 * not rd_open's -ENOMEM (reader.h, step 1) */
		errno = ENOMEM;
		return NULL;
	}
	real = SEAM_REAL(io_uring_get_probe_ring)(ring);
	if (!real)
		return NULL;
	hk.probes++;
	if (hk.probe_mode == PROBE_NO_READ && real->last_op >= IORING_OP_READ)
		real->ops[IORING_OP_READ].flags &= (__u16)~IO_URING_OP_SUPPORTED;
	copy = seam_malloc(bytes);
	if (!copy)
		return real;  /* an allocation made to fail: the probe as it came */
	memset(copy, 0, bytes);
	memcpy(copy, real, sizeof(*real) + real->ops_len * sizeof(real->ops[0]));
	SEAM_REAL(io_uring_free_probe)(real);
	for (int i = 0; i < 16; i++)
		if (!hk.accounted[i]) {
			hk.accounted[i] = copy;
			break;
		}
	return copy;
}

static void h_free_probe(struct io_uring_probe *p)
{
	if (!p)
		return;
	hk.probes_freed++;
	for (int i = 0; i < 16; i++)
		if (hk.accounted[i] == p) {
			hk.accounted[i] = NULL;
			/* A freed probe says nothing: one read after
			 * io_uring_free_probe sees no opcode supported. */
			memset(p, 0, sizeof(*p) + 256 * sizeof(p->ops[0]));
			seam_free(p);
			return;
		}
	SEAM_REAL(io_uring_free_probe)(p);
}

static int h_io_setup(int nr, io_context_t *ctx)
{
	int rc;

	hk.setup_calls++;
	hk.last_nr = nr;
	if (hk.rings_at_setup < 0)
		hk.rings_at_setup = rings_alive();
	if (hk.setup_err)
		return hk.setup_err;
	rc = SEAM_REAL(io_setup)(nr, ctx);
	hk.setups_ok += rc == 0;
	return rc;
}

static int h_io_destroy(io_context_t ctx)
{
	int rc = SEAM_REAL(io_destroy)(ctx);

	hk.destroys += rc == 0;
	hk.destroys_failed += rc != 0;
	hk.aio_inflight = 0;
	return rc;
}

/*
 * libaio's slow read (window.slow_read): the event of the read on aslow.fd
 * is held back from the module until aslow.want reads of the batch were
 * handed to io_submit, as a read of a busy disk would hold its slot while
 * the others are served. When the held event is all the module still waits
 * for (nothing else in the kernel) before then, it is given back at once,
 * and the rest of the batch waited for it: no timing either way.
 */
static struct {
	bool on;
	int fd;
	long want, submitted, submitted_at_release;
	bool stalled;
	struct io_event held;
	bool holding;
} aslow;

static int h_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	int rc;

	hk.submits++;
	if (hk.submit_err)
		return hk.submit_err;  /* nothing submitted, as for real */
	rc = SEAM_REAL(io_submit)(ctx, nr, iocbs);
	if (rc > 0 && aslow.on)
		aslow.submitted += rc;
	if (rc > 0) {
		hk.aio_inflight += rc;
		if (hk.aio_inflight > hk.aio_max_inflight)
			hk.aio_max_inflight = hk.aio_inflight;
	}
	return rc;
}

static int h_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev,
			  struct timespec *ts)
{
	int rc;

	if (hk.getevents_err)
		return hk.getevents_err;
	for (;;) {
		int kept = 0;

		if (aslow.holding && nr > 0 &&
		    (aslow.submitted >= aslow.want || hk.aio_inflight == 0)) {
			aslow.stalled = aslow.submitted < aslow.want;
			aslow.submitted_at_release = aslow.submitted;
			aslow.holding = false;
			aslow.fd = -1;  /* one read held per batch */
			ev[0] = aslow.held;
			return 1;
		}
		rc = SEAM_REAL(io_getevents)(ctx, min_nr, nr, ev, ts);
		if (rc > 0)
			hk.aio_inflight -= rc;
		if (rc <= 0 || !aslow.on)
			return rc;
		for (int i = 0; i < rc; i++) {
			if (!aslow.holding && ev[i].obj && ev[i].obj->aio_fildes == aslow.fd) {
				aslow.held = ev[i];
				aslow.holding = true;
				continue;
			}
			ev[kept++] = ev[i];
		}
		if (kept > 0)
			return kept;
		/* only the held one came: wait again, or give it back */
	}
}

/* What open(2) answers the module: a refusal, or another file in place of
 * the /proc files that tell a kernel's version or io_uring_disabled. */
static int open_verdict(const char **path, int flags)
{
	hk.opens++;
	hk.direct_opens += !!(flags & O_DIRECT);
	if (hk.lie_about_version) {
		if (!strcmp(*path, "/proc/sys/kernel/osrelease"))
			*path = hk.fake_release;
		else if (!strcmp(*path, "/proc/version"))
			*path = hk.fake_version;
		else if (!strcmp(*path, "/proc/sys/kernel/io_uring_disabled"))
			*path = hk.fake_disabled;
	}
	if (hk.eacces_path && !strcmp(*path, hk.eacces_path))
		return EACCES;
	if (hk.vanish_path && (flags & O_DIRECT) && !strcmp(*path, hk.vanish_path)) {
		/* another program removes the file while this one is told that its
		 * filesystem has no direct I/O: the open without O_DIRECT that
		 * follows meets ENOENT, for real */
		unlink(hk.vanish_path);
		return EINVAL;
	}
	if (hk.odirect_einval && (flags & O_DIRECT))
		return EINVAL;  /* open(2): "The filesystem does not support the O_DIRECT flag" */
	if (hk.odirect_err && (flags & O_DIRECT))
		return hk.odirect_err;
	return 0;
}

/* fcntl(F_SETFL) with O_DIRECT after the open: refused where open(2) would
 * refuse it (fcntl(2), EINVAL), so that a module switching O_DIRECT on
 * later meets the same filesystem. */
static int setfl_verdict(int flags)
{
	if (hk.odirect_einval && (flags & O_DIRECT))
		return EINVAL;
	/* the O_DIRECT request failing otherwise (10.21), at the open or here */
	return hk.odirect_err && (flags & O_DIRECT) ? hk.odirect_err : 0;
}

static int h_uname(struct utsname *u)
{
	int r = SEAM_REAL(uname)(u);

	if (r == 0 && hk.lie_about_version) {
		snprintf(u->release, sizeof(u->release), "4.19.0-27-amd64");
		snprintf(u->version, sizeof(u->version), "#1 SMP Debian 4.19.316-1 (2024-06-25)");
	}
	return r;
}

/* close(2) of a descriptor that is not open: a descriptor closed twice,
 * typically once by the step that opened it and again by rd_close. Here the
 * second close meets EBADF; in a program with threads the number may by
 * then be another thread's file, which the second close takes from it.
 * close(-1) is no double close (nothing has a negative number). */
static int h_close(int fd)
{
	int saved = errno;

	if (fd >= 0 && SEAM_REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF)
		seam_violate("your code closed descriptor %d, which was not open: a descriptor "
			     "closed twice, typically by the step that gave it up and again by "
			     "rd_close (or rd_open's clean-up). In a program with threads that "
			     "number may already be another thread's file, and the second close "
			     "closes it. Close each descriptor once: a step that closes the file "
			     "also forgets it (fd -1 in the reader), and the clean-up closes only "
			     "what is still open (TODOs 1, 4 and 9; close(2), NOTES; lesson, Hints, "
			     "\"one clean-up path\")", fd);
	errno = saved;
	return SEAM_REAL(close)(fd);
}

/* Every test starts here: all hooks in place, nothing injected. */
static void ch10_setup(void)
{
	memset(&hk, 0, sizeof(hk));
	memset(&aslow, 0, sizeof(aslow));
	aslow.fd = -1;
	atomic_store(&creates, 0);
	atomic_store(&reads, 0);
	atomic_store(&reads_by_caller, 0);
	atomic_store(&reads_inflight, 0);
	atomic_store(&reads_max_inflight, 0);
	atomic_store(&caller_tid, 0);
	watch_start(200000, NULL);
	/* An injected submit error leaves the SQEs published, as a real one
	 * does: what the kernel did not take is *khead .. sqe_tail. */
	watch.publish_on_inject = true;
	seam_hook_io_uring_queue_init_params = h_init_params;
	seam_hook_io_uring_get_probe_ring = h_get_probe_ring;
	seam_hook_io_uring_free_probe = h_free_probe;
	seam_hook_io_setup = h_io_setup;
	seam_hook_io_destroy = h_io_destroy;
	seam_hook_io_submit = h_io_submit;
	seam_hook_io_getevents = h_io_getevents;
	seam_hook_pread = h_pread;
	seam_hook_pread64 = h_pread64;
	seam_hook_read = h_read;
	seam_hook_pthread_create = h_pthread_create;
	open_hooks_install(open_verdict);
	open_hooks_setfl(setfl_verdict);
	seam_hook_uname = h_uname;
	seam_hook_close = h_close;
}

/* ========================================================== the machine */

/* Skip unless kernel AIO works here (the probe's "aio"). */
static void require_aio(void)
{
	io_context_t ctx = 0;
	int rc = SEAM_REAL(io_setup)(1, &ctx);

	if (rc == 0) {
		SEAM_REAL(io_destroy)(ctx);
		return;
	}
	if (rc == -ENOSYS)
		grade_skip("aio", "this kernel has no kernel AIO: io_setup returned ENOSYS",
			   "use a kernel with CONFIG_AIO=y; run make doctor");
	if (rc == -EPERM)
		grade_skip("aio", "io_setup is refused (EPERM): a seccomp filter blocks kernel AIO",
			   "run the container with a seccomp profile that allows io_setup, or on "
			   "a VM; run make doctor");
	grade_skip("aio", "io_setup(1) fails here (fs.aio-max-nr used up?)",
		   "end the programs holding AIO contexts; run make doctor");
}

/* O_DIRECT works in the test directory, for real (no skip: a test with
 * cases that need it runs the others where it is missing). On false, errno
 * is open(2)'s. */
static bool odirect_works_here(void)
{
	const char *path = grade_make_file("odirect-probe", "x", 1);
	int fd = SEAM_REAL(open)(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Skip unless the test directory's filesystem takes O_DIRECT (the probe's
 * "odirect"). */
static void require_odirect(void)
{
	char why[600];

	if (odirect_works_here())
		return;
	snprintf(why, sizeof(why), "O_DIRECT is refused on %s (%s): its filesystem has no "
		 "direct I/O", grade_tmpdir(), strerror(errno));
	grade_skip("odirect", why, "keep the course on a disk filesystem such as ext4 or xfs; "
			"run make doctor");
}

/* libaio is chosen only on O_DIRECT: both must work. */
static void require_libaio(void)
{
	require_aio();
	require_odirect();
}

/* ============================================================== helpers */

static const char *backend_str(int b)
{
	return b == RD_IO_URING ? "io_uring" : b == RD_LIBAIO ? "libaio" : b == RD_THREADS ? "threads"
										       : "no interface";
}

static const char *flags_str(unsigned flags)
{
	static char buf[4][80];
	static int slot;
	char *s = buf[slot++ % 4];

	if (flags == 0)
		return "0";
	snprintf(s, 80, "%s%s%s%s", flags & RD_DIRECT ? "|RD_DIRECT" : "",
		 flags & RD_NO_URING ? "|RD_NO_URING" : "", flags & RD_NO_LIBAIO ? "|RD_NO_LIBAIO" : "",
		 flags & ~(RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO) ? "|other bits" : "");
	return s + 1;
}

/* rd_why, copied (bounded) so that messages can quote it. */
static const char *why_of(const struct reader *r)
{
	static char buf[4][320];
	static int slot;
	char *s = buf[slot++ % 4];
	const char *w = SEAM_CALL(rd_why(r));

	if (!w)
		return "(NULL)";
	snprintf(s, 320, "%.300s", w);
	return s;
}

/* rd_why's shape (reader.h): a line of at most 255 bytes, no newline. */
static void check_why_shape(const struct reader *r, const char *what)
{
	const char *w = SEAM_CALL(rd_why(r));
	size_t len;

	grade_check(w != NULL, "%s: rd_why returned NULL; it returns the reader's line (TODO 7)", what);
	len = strnlen(w, 1024);
	grade_check(len <= 255, "%s: rd_why is %zu bytes long; reader.h allows 255 (TODO 7)", what,
		    len);
	grade_check(!strchr(w, '\n'), "%s: rd_why holds a newline: it is one line (TODO 7): \"%s\"",
		    what, why_of(r));
}

/* rd_why names `word` (an errno's name, an interface, a flag). */
static void check_why_has(const struct reader *r, const char *word, const char *what)
{
	grade_check(strstr(why_of(r), word) != NULL, "%s: rd_why says \"%s\", which does not name "
		    "%s; reader.h asks for the name of each interface ruled out and of what ruled "
		    "it out (an errno's name from strerrorname_np(3), a flag), and the interface "
		    "taken (TODO 7)", what, why_of(r), word);
}

/* rd_why names `word` or `other`: two spellings reader.h allows for one
 * clause (an interface's name, or what ruled it out as its own example
 * line spells it). */
static void check_why_has_either(const struct reader *r, const char *word, const char *other,
				 const char *what)
{
	grade_check(strstr(why_of(r), word) || strstr(why_of(r), other), "%s: rd_why says \"%s\", "
		    "which names neither %s nor %s; reader.h asks for the name of each interface "
		    "ruled out and of what ruled it out (an errno's name from strerrorname_np(3), a "
		    "flag), and the interface taken (TODO 7)", what, why_of(r), word, other);
}

/* rd_why names no errno that nothing returned here: of the names a refusal
 * can give (io_uring's, libaio's, O_DIRECT's), only those in `happened`
 * (space-separated, "" for none); and no RD_NO_* flag missing from `flags`,
 * the ones given to rd_open. A line that lists every error that could
 * happen, whatever happened, says nothing. */
static void check_why_only(const struct reader *r, unsigned flags, const char *happened,
			   const char *what)
{
	static const char *const names[] = { "EPERM", "ENOSYS", "ENOMEM", "EINVAL", "EAGAIN" };
	static const struct { unsigned flag; const char *name; } flag_names[] = {
		{ RD_NO_URING, "RD_NO_URING" }, { RD_NO_LIBAIO, "RD_NO_LIBAIO" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strstr(happened, names[i]))
			continue;
		grade_check(!strstr(why_of(r), names[i]), "%s: rd_why says \"%s\", which names %s, "
			    "yet nothing returned %s here (what did: %s): the line says what happened "
			    "on this machine, each interface ruled out with the error that ruled it "
			    "out, not every error that could (reader.h, rd_why; TODO 7)", what,
			    why_of(r), names[i], names[i], *happened ? happened : "nothing");
	}
	/* A flag's name says the caller asked to skip that interface: only
	 * when it did (not for an interface ruled out by an error). */
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		grade_check((flags & flag_names[i].flag) || !strstr(why_of(r), flag_names[i].name),
			    "%s: rd_why says \"%s\", which names %s, yet the caller did not pass it "
			    "(flags %s): name a flag only for an interface the caller ruled out, and "
			    "an interface that failed by the error it gave (reader.h, rd_why; TODO 7)",
			    what, why_of(r), flag_names[i].name, flags_str(flags));
}

/* errno as the last open_ok's rd_open left it (read at once, before any
 * check): 10.51 looks at it. */
static int open_ok_errno;

/* rd_open that must succeed and take `want` (0: any). */
static struct reader *open_ok(const char *path, unsigned qd, unsigned flags, enum rd_backend want,
			      const char *what)
{
	struct reader *r = NULL;
	enum rd_backend got;
	int ret = SEAM_CALL(rd_open(&r, path, qd, flags));

	open_ok_errno = errno;

	grade_check(ret == 0, "%s: rd_open(&r, path, %u, %s) returned %s, expected 0", what, qd,
		    flags_str(flags), grade_errno_str(ret));
	grade_check(r != NULL, "%s: rd_open returned 0 but left *out NULL", what);
	check_why_shape(r, what);
	got = SEAM_CALL(rd_backend(r));
	grade_check(!want || got == want, "%s: the reader took %s (rd_backend %d), expected %s; "
		    "rd_why: \"%s\"", what, backend_str(got), (int)got, backend_str(want), why_of(r));
	return r;
}

static void close_reader(struct reader *r)
{
	SEAM_CALL_VOID(rd_close(r));
}

/* rd_fd is read-only, close-on-exec, and O_DIRECT exactly when rd_direct
 * says so and reader.h wants it (want_direct). */
static void check_fd(const struct reader *r, int want_direct, const char *what)
{
	int fd = SEAM_CALL(rd_fd(r)), direct = SEAM_CALL(rd_direct(r));
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	grade_check(fl >= 0, "%s: rd_fd returned %d, which is not an open descriptor (TODO 4)", what,
		    fd);
	grade_check((fl & O_ACCMODE) == O_RDONLY, "%s: rd_fd is open for %s; the reader only "
		    "reads: O_RDONLY (TODO 4)", what,
		    (fl & O_ACCMODE) == O_RDWR ? "reading and writing" : "writing");
	grade_check(!(fl & (O_NOATIME | O_NONBLOCK | O_APPEND | O_DSYNC | O_SYNC | O_ASYNC)),
		    "%s: rd_fd is open with%s%s%s%s%s, which reader.h does not ask for: the file is "
		    "opened O_RDONLY | O_CLOEXEC, plus O_DIRECT where reader.h says so, and nothing "
		    "else. O_NOATIME in particular makes open(2) fail with EPERM for a file the "
		    "caller does not own (open(2), ERRORS), which a test run as root never sees "
		    "(TODO 4)", what, fl & O_NOATIME ? " O_NOATIME" : "",
		    fl & O_NONBLOCK ? " O_NONBLOCK" : "", fl & O_APPEND ? " O_APPEND" : "",
		    fl & O_SYNC ? " O_SYNC" : fl & O_DSYNC ? " O_DSYNC" : "",
		    fl & O_ASYNC ? " O_ASYNC" : "");
	grade_check(fdfl >= 0 && (fdfl & FD_CLOEXEC), "%s: rd_fd is not close-on-exec: every "
		    "program the caller starts would inherit it. Open it with O_CLOEXEC (TODO 4; "
		    "open(2))", what);
	grade_check(!!(fl & O_DIRECT) == !!direct, "%s: rd_direct says %d but the descriptor is "
		    "%s O_DIRECT (fcntl F_GETFL): rd_direct tells the caller how to align its "
		    "requests, it must be the truth (TODO 4)", what, direct,
		    fl & O_DIRECT ? "open with" : "open without");
	grade_check(!!direct == !!want_direct, "%s: the descriptor is %s O_DIRECT; reader.h wants "
		    "it %s here: O_DIRECT when RD_DIRECT is asked and allowed, or for libaio, and a "
		    "descriptor opened O_DIRECT only to try libaio is not kept for the pool (TODOs "
		    "4-6)", what, direct ? "open with" : "open without",
		    want_direct ? "with O_DIRECT" : "without it");
}

/* ----------------------------------------------- what is left behind */

struct res {
	int fds, threads;
	long rings, contexts;
	struct seam_heap heap;
};

static long rings_alive(void) { return watch.init_ok - watch.exits; }
static long contexts_alive(void) { return hk.setups_ok - hk.destroys; }

static void res_take(struct res *s)
{
	s->fds = fault_count_fds();
	s->threads = fault_count_threads();
	s->rings = rings_alive();
	s->contexts = contexts_alive();
	seam_heap_usage(&s->heap);
}

/* A joined thread can stay listed in /proc/self/task a moment after
 * pthread_join returned: wait (bounded) for the count. */
static int threads_settle(int want)
{
	long deadline = fault_now_ms() + 2000;
	int now;

	while ((now = fault_count_threads()) > want && fault_now_ms() < deadline)
		fault_nap();
	return now;
}

static void res_check(const struct res *b, const char *what)
{
	int threads = threads_settle(b->threads), fds = fault_count_fds();

	grade_check(rings_alive() == b->rings, "%s: %ld io_uring ring(s) set up and never torn "
		    "down: ubatch_exit every ring ubatch_init gave, on every path (TODOs 1, 3, 9)",
		    what, rings_alive() - b->rings);
	grade_check(contexts_alive() == b->contexts, "%s: %ld AIO context(s) left: io_destroy "
		    "every context io_setup gave (TODO 5)", what, contexts_alive() - b->contexts);
	grade_check(fds == b->fds, "%s: %d descriptor(s) more are open than before: the file "
		    "(and a ring) must be closed on every path (TODOs 1 and 9)", what, fds - b->fds);
	grade_check(threads == b->threads, "%s: %d thread(s) more are running than before: the "
		    "pool must be destroyed (tpool_destroy) on every path (TODOs 1, 6 and 9)", what,
		    threads - b->threads);
	grade_check_heap(&b->heap, what);
}

/* --------------------------------------------------------- the data */

struct datafile {
	const char *path;
	unsigned char *data;
	size_t size;
};

static struct datafile make_data(const char *name, size_t size)
{
	struct datafile f = { NULL, grade_random_bytes(size), size };

	f.path = grade_make_file(name, f.data, size);
	return f;
}

/* A few reads through the reader, aligned for O_DIRECT if rd_direct says
 * so, each checked against the data. */
static void read_some(struct reader *r, const struct datafile *f, const char *what)
{
	enum { N = 6 };
	int fd = SEAM_CALL(rd_fd(r)), direct = SEAM_CALL(rd_direct(r));
	size_t a = direct ? LAIO_DIO_ALIGN : 1, len = direct ? 2 * LAIO_DIO_ALIGN : 5000;
	struct batch_req reqs[N];
	char label[200];
	int ret;

	for (int i = 0; i < N; i++) {
		size_t span = (f->size + len) / a;

		reqs[i] = (struct batch_req){ fd, (off_t)(grade_rand_below(span) * a), len,
					      battery_buf(len), 0x5a5a };
	}
	ret = SEAM_CALL(rd_batch_read(r, reqs, N));
	grade_check(ret == 0, "%s: rd_batch_read of %d reads returned %s, expected 0 (TODO 8)",
		    what, N, grade_errno_str(ret));
	snprintf(label, sizeof(label), "%s, rd_batch_read", what);
	for (int i = 0; i < N; i++) {
		check_req(&reqs[i], (size_t)i, f->data, f->size, label);
		free(reqs[i].buf);
	}
}

/* The end of most tests: the reader still reads, then rd_close leaves
 * nothing of what was not there before it was opened. */
static void read_and_close(struct reader *r, const struct datafile *f, const struct res *before,
			   const char *what)
{
	read_some(r, f, what);
	close_reader(r);
	res_check(before, what);
}

/* ======================================================== 1. arguments */

GRADE_TEST(open, arguments, 1,
	   "rd_open: -EINVAL for a NULL out or path, qd 0, unknown flag bits; *out and errno "
	   "untouched, nothing opened",
	   "TODO 1: check every argument before making anything, so that a refusal has nothing "
	   "to undo; *out is written on success only (reader.h, rd_open; lesson, section 7)")
{
	static const struct { bool null_out, null_path; unsigned qd, flags; const char *what; } bad[] = {
		{ true, false, 4, 0, "out NULL" },
		{ false, true, 4, 0, "path NULL" },
		{ false, false, 0, 0, "qd 0" },
		{ false, false, 0, RD_NO_URING | RD_NO_LIBAIO, "qd 0 and RD_NO_URING|RD_NO_LIBAIO" },
		{ false, false, 4, 0x8, "flags 0x8 (not a flag of reader.h)" },
		{ false, false, 4, RD_DIRECT | 0x80000000u, "flags RD_DIRECT|0x80000000" },
	};
	struct datafile f;
	struct res before;
	char sentinel;

	ch10_setup();
	f = make_data("f", 10000);
	res_take(&before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reader *r = (struct reader *)&sentinel;
		int ret, err;

		errno = EXDEV;  /* the caller's errno, which a refusal leaves alone */
		ret = SEAM_CALL(rd_open(bad[i].null_out ? NULL : &r, bad[i].null_path ? NULL : f.path,
					bad[i].qd, bad[i].flags));
		err = errno;
		grade_check(ret == -EINVAL, "rd_open with %s returned %s, expected -EINVAL", bad[i].what,
			    grade_errno_str(ret));
		grade_check(err == EXDEV, "rd_open with %s returned -EINVAL but changed errno from "
			    "EXDEV to %s: reader.h, \"nothing here reads or sets errno for its "
			    "caller\"; the result is the error (TODO 1)", bad[i].what,
			    strerrorname_np(err) ? strerrorname_np(err) : "another value");
		grade_check(r == (struct reader *)&sentinel, "rd_open with %s failed but wrote *out: "
			    "the caller's pointer is left as it was on failure", bad[i].what);
		grade_check(hk.init_calls == 0 && hk.opens == 0 && hk.setup_calls == 0 &&
				    atomic_load(&creates) == 0,
			    "rd_open with %s set up a ring (%ld), opened a file (%ld), asked for an AIO "
			    "context (%ld) or started a thread (%ld) before refusing: check the "
			    "arguments first", bad[i].what, hk.init_calls, hk.opens, hk.setup_calls,
			    atomic_load(&creates));
		res_check(&before, bad[i].what);
	}
	free(f.data);
}

GRADE_TEST(names, backend_name, 1,
	   "rd_backend_name: \"io_uring\", \"libaio\", \"threads\", and \"?\" for anything else, "
	   "each a string literal that the next call leaves as it was (nothing allocated)",
	   "TODO 7: a switch on the enum of reader.h; every other value, 0 included, is \"?\"")
{
	static const struct { int b; const char *want; } names[] = {
		{ RD_IO_URING, "io_uring" }, { RD_LIBAIO, "libaio" }, { RD_THREADS, "threads" },
		{ 0, "?" }, { 4, "?" }, { -1, "?" }, { 99, "?" },
	};

	enum { NN = sizeof(names) / sizeof(names[0]) };
	const char *kept[NN];
	struct seam_heap heap;

	ch10_setup();
	seam_heap_usage(&heap);
	for (size_t i = 0; i < NN; i++) {
		const char *got = SEAM_CALL(rd_backend_name((enum rd_backend)names[i].b));

		grade_check(got && !strcmp(got, names[i].want), "rd_backend_name(%d) returned %s%s%s, "
			    "expected \"%s\"", names[i].b, got ? "\"" : "", got ? got : "NULL",
			    got ? "\"" : "", names[i].want);
		kept[i] = got;
	}
	/* Each name is a string literal (reader.h): one kept by the caller still
	 * says the same after the next call, as in printf("%s vs %s",
	 * rd_backend_name(a), rd_backend_name(b)). */
	for (size_t i = 0; i < NN; i++)
		grade_check(!strcmp(kept[i], names[i].want), "rd_backend_name(%d) returned \"%s\", "
			    "but after the calls for the other values the string it returned says "
			    "\"%s\": the names live in one buffer that each call rewrites. reader.h "
			    "promises a string literal, which no later call changes (TODO 7)",
			    names[i].b, names[i].want, kept[i]);
	/* A literal costs the caller nothing: a name copied to the heap (strdup)
	 * is a block the caller cannot know to free, one per call. */
	grade_check_heap(&heap, "rd_backend_name (a string literal: nothing allocated, nothing "
			 "for the caller to free; TODO 7)");
}

GRADE_TEST(batch, arguments, 1,
	   "rd_batch_read: -EINVAL for a NULL reader or a NULL array with n > 0; n == 0 does "
	   "nothing; reads of length 0 are still checked; a pool reader reads on after a failed "
	   "batch; rd_close(NULL) is harmless",
	   "TODO 8: check r and reqs first; only an io_uring error or a fatal libaio one ends a "
	   "reader's batches (reader.h, rd_batch_read); TODO 9: rd_close(NULL) returns at once")
{
	struct datafile f;
	struct reader *r;
	struct batch_req one;
	int ret, err;

	ch10_setup();
	f = make_data("f", 10000);
	r = open_ok(f.path, 4, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, "a pool reader");
	one = (struct batch_req){ SEAM_CALL(rd_fd(r)), 0, 100, battery_buf(100), 7 };
	errno = EXDEV;
	ret = SEAM_CALL(rd_batch_read(NULL, &one, 1));
	err = errno;
	grade_check(ret == -EINVAL, "rd_batch_read(NULL, reqs, 1) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	grade_check(err == EXDEV, "rd_batch_read(NULL, reqs, 1) changed errno from EXDEV to %s: "
		    "reader.h, \"nothing here reads or sets errno for its caller\" (TODO 8)",
		    strerrorname_np(err) ? strerrorname_np(err) : "another value");
	ret = SEAM_CALL(rd_batch_read(NULL, NULL, 0));
	grade_check(ret == -EINVAL, "rd_batch_read(NULL, NULL, 0) returned %s, expected -EINVAL: "
		    "without a reader the call is wrong whatever n is; n == 0 returns 0 only with "
		    "a reader (reader.h, rd_batch_read; check r before n, TODO 8)",
		    grade_errno_str(ret));
	ret = SEAM_CALL(rd_batch_read(r, NULL, 2));
	grade_check(ret == -EINVAL, "rd_batch_read(r, NULL, 2) returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(rd_batch_read(r, NULL, 0));
	grade_check(ret == 0, "rd_batch_read(r, NULL, 0) returned %s, expected 0", grade_errno_str(ret));
	ret = SEAM_CALL(rd_batch_read(r, &one, 0));
	grade_check(ret == 0 && one.res == 7, "rd_batch_read(r, reqs, 0) returned %s and set res to "
		    "%zd; expected 0 and the request untouched", grade_errno_str(ret), one.res);
	ret = SEAM_CALL(rd_batch_read(r, &one, 1));
	grade_check(ret == 0 && one.res == 100, "after those, rd_batch_read of one read returned %s "
		    "with res %s, expected 0 and 100: the reader must still work",
		    grade_errno_str(ret), grade_errno_str(one.res));
	/* A batch of reads of 0 bytes is still a batch of reads: the back-end
	 * checks each one's offset as it does for any other length (batch.h:
	 * "offset >= 0"; tpool and ubatch answer -EINVAL for a negative one).
	 * A buffer of "at least len bytes" (batch.h) may be NULL when len is 0:
	 * nothing is written through it, and the read is 0 like any other. */
	{
		struct batch_req empty[3] = {
			{ SEAM_CALL(rd_fd(r)), 0, 0, one.buf, 7 },
			{ SEAM_CALL(rd_fd(r)), -1, 0, one.buf, 7 },
			{ SEAM_CALL(rd_fd(r)), 10, 0, NULL, 7 },
		};

		ret = SEAM_CALL(rd_batch_read(r, empty, 3));
		grade_check(ret == 0 && empty[0].res == 0 && empty[1].res == -EINVAL,
			    "a batch of two reads of length 0 (at offset 0; at offset -1) returned "
			    "%s with res %s and %s; expected 0 with res 0 and -EINVAL: a read of 0 "
			    "bytes still has its offset checked, as batch.h asks of every request. "
			    "Hand every batch to the back-end; answering length 0 in user space "
			    "skips that check (reader.h, rd_batch_read; TODO 8)", grade_errno_str(ret),
			    grade_errno_str(empty[0].res), grade_errno_str(empty[1].res));
		grade_check(empty[2].res == 0, "a read of length 0 at offset 10 into a NULL buffer "
			    "got res %s, expected 0: batch.h asks for a buffer of at least len bytes, "
			    "and 0 bytes need no memory; the back-end reads nothing and answers 0 "
			    "(pread(2) of 0 bytes touches no buffer). A check of your own for a NULL "
			    "buffer answers what the kernel would not: hand every request to the "
			    "back-end as it came (reader.h, rd_batch_read; TODO 8)",
			    grade_errno_str(empty[2].res));
	}
	/* The pool's batch fails as a whole (no memory for its bookkeeping):
	 * a pool reader is still usable after it (reader.h, rd_batch_read). */
	seam_heap_fail(1, 1000000);
	ret = SEAM_CALL(rd_batch_read(r, &one, 1));
	seam_heap_fail(0, 0);
	grade_check(ret == -ENOMEM, "a pool reader's batch whose every allocation fails returned %s, "
		    "expected -ENOMEM (tpool_batch_read's, as it came)", grade_errno_str(ret));
	one.res = 7;
	ret = SEAM_CALL(rd_batch_read(r, &one, 1));
	grade_check(ret == 0 && one.res == 100, "after a batch that failed with -ENOMEM, "
		    "rd_batch_read of one read on the pool reader returned %s with res %s, expected 0 "
		    "and 100: reader.h allows the reader to be used again after an error, except "
		    "after one from the io_uring back-end or a fatal one from libaio: a pool reader "
		    "is never out of use (TODO 8)", grade_errno_str(ret), grade_errno_str(one.res));
	close_reader(r);
	close_reader(NULL);
	free(one.buf);
	free(f.data);
}

/* ==================================================== 2. the choice */

GRADE_TEST(choice, io_uring_first, 2,
	   "where everything works: io_uring, after the ring was asked for IORING_OP_READ; the "
	   "file read-only, close-on-exec, through the page cache; rd_why names io_uring",
	   "TODOs 2, 3, 4 and 7: io_uring first, through ubatch_init; then ask that ring which "
	   "operations it supports (io_uring_get_probe(3), io_uring_opcode_supported(3)) and free "
	   "the probe (io_uring_free_probe(3)); open O_RDONLY | O_CLOEXEC (open(2); lesson, "
	   "sections 6 and 7)")
{
	struct datafile f;
	struct reader *r;
	struct res before;
	const char *what = "rd_open(&r, path, 8, 0) where io_uring works";

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 100000);
	res_take(&before);
	r = open_ok(f.path, 8, 0, RD_IO_URING, what);
	grade_check(hk.init_calls == 1 && hk.last_entries == 8, "%s: ubatch_init was asked for %u "
		    "entries (%ld set-up(s)); reader.h wants one ring of min(qd, RD_MAX_RING) = 8 "
		    "(TODO 2)", what, hk.last_entries, hk.init_calls);
	grade_check(hk.probe_calls >= 1, "%s: the reader took io_uring without asking the ring "
		    "whether it can read (io_uring_get_probe_ring): a kernel before 5.6 sets a ring "
		    "up and then fails every IORING_OP_READ with -EINVAL (TODO 3)", what);
	check_why_has(r, "io_uring", what);
	check_why_only(r, 0, "", what);
	check_fd(r, 0, what);
	grade_check(fault_count_fds() == before.fds + 2, "%s: %d descriptor(s) are open for the "
		    "reader; an io_uring reader holds two: its ring and its file", what,
		    fault_count_fds() - before.fds);
	grade_check(fault_count_threads() == before.threads, "%s: the reader started %d thread(s); "
		    "an io_uring reader needs none", what, fault_count_threads() - before.threads);
	grade_check(contexts_alive() == 0 && hk.setup_calls == 0, "%s: the reader asked for an AIO "
		    "context (%ld time(s)) although io_uring was there: the first interface that "
		    "works is taken, the others are not tried (TODO 2)", what, hk.setup_calls);
	read_some(r, &f, what);
	close_reader(r);
	/* By rd_close: freeing it at once or keeping it with the ring until
	 * then are both the contract's (reader.h says when, nowhere). */
	grade_check(hk.probes_freed == hk.probes, "%s: io_uring_get_probe_ring gave %ld probe(s), "
		    "io_uring_free_probe freed %ld by the end of rd_close: the probe is allocated "
		    "for the caller, who frees it (io_uring_get_probe(3); TODO 3)", what, hk.probes,
		    hk.probes_freed);
	res_check(&before, "rd_close of an io_uring reader");
	free(f.data);
}

GRADE_TEST(choice, ring_size, 1,
	   "the ring has min(qd, RD_MAX_RING) entries: qd 1, 5, 100, 1000, 65536 and UINT_MAX; a second "
	   "reader open beside the first sets up a ring of its own, of its own size, and the "
	   "first keeps its own qd as its window",
	   "TODO 2: ubatch_init(&ring, min(qd, RD_MAX_RING)); a larger qd is still the window "
	   "(reader.h, step 1 and RD_MAX_RING; ubatch.h, ubatch_init; lesson, section 7, \"the "
	   "window is qd, the ring is at most RD_MAX_RING\"); the reader keeps qd as it came, "
	   "an unsigned: any value up to UINT_MAX; the ring and the qd live in the reader, one "
	   "per reader (reader.h, top; lesson, pitfall 23; TODO 8)")
{
	static const struct { unsigned qd, entries; } sizes[] = {
		{ 1, 1 }, { 5, 5 }, { 100, 100 }, { 1000, RD_MAX_RING }, { 65536, RD_MAX_RING },
		{ UINT_MAX, RD_MAX_RING },
	};
	struct datafile f;

	ch10_setup();
	grade_require_io_uring(RD_MAX_RING);
	f = make_data("f", 50000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char what[80];
		struct reader *r;

		snprintf(what, sizeof(what), "rd_open(&r, path, %u, 0)", sizes[i].qd);
		hk.init_calls = 0;
		r = open_ok(f.path, sizes[i].qd, 0, RD_IO_URING, what);
		grade_check(hk.init_calls == 1 && hk.last_entries == sizes[i].entries, "%s: "
			    "ubatch_init was asked for %u entries (%ld set-up(s)), expected one ring "
			    "of min(qd, RD_MAX_RING) = %u, asked for as it is: the kernel rounds "
			    "the SQ up to a power of two itself, and one rounded down is smaller "
			    "than the window the caller asked for (TODO 2)", what, hk.last_entries,
			    hk.init_calls, sizes[i].entries);
		read_some(r, &f, what);
		close_reader(r);
	}
	/* Two io_uring readers open at once: each sets up a ring of its own, of
	 * its own size ("one ring kept for the reader's life", reader.h), not one
	 * ring of the process shared by both and sized by the first (as 10.16
	 * and 10.17 ask of the AIO context and the pool). */
	{
		const char *wa = "rd_open(&a, path, 8, 0)";
		const char *wb = "rd_open(&b, path, 1000, 0) while reader a (qd 8, io_uring too) "
				 "is open";
		struct res before;
		struct reader *a, *b;

		res_take(&before);
		a = open_ok(f.path, 8, 0, RD_IO_URING, wa);
		hk.init_calls = 0;
		hk.last_entries = 0;
		b = open_ok(f.path, 1000, 0, RD_IO_URING, wb);
		grade_check(hk.init_calls == 1 && hk.last_entries == RD_MAX_RING &&
				    rings_alive() == before.rings + 2,
			    "%s: rd_open made %ld ring set-up(s) (the last for %u entries) and %ld "
			    "ring(s) are set up for the two readers: each reader sets up its own ring of "
			    "min(qd, RD_MAX_RING) = %u entries and tears it down in its rd_close, "
			    "whatever other readers are open. One ring kept in a static for every "
			    "reader has the first one's size, and two threads' batches would meet in "
			    "it (reader.h, RD_IO_URING and the top: \"keep no state in static "
			    "variables\"; TODO 2)", wb, hk.init_calls, hk.last_entries,
			    rings_alive() - before.rings, RD_MAX_RING);
		read_some(b, &f, wb);
		read_some(a, &f, wa);
		/* a's window is still its own qd, 8, with b open at qd 1000 */
		{
			struct batch_req *reqs;
			size_t n = 64;
			int ret;

			reqs = battery_reqs(SEAM_CALL(rd_fd(a)), n, f.size, 8000, 1);
			watch.max_inflight = 0;
			ret = SEAM_CALL(rd_batch_read(a, reqs, n));
			grade_check(ret == 0, "%s: a batch of %zu reads returned %s, expected 0 (TODO 8)",
				    wa, n, grade_errno_str(ret));
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, f.data, f.size, wa);
			grade_check(watch.max_inflight <= 8, "%s: a batch of %zu reads through reader a "
				    "(qd 8), once reader b was opened at qd 1000, had %u reads in flight at "
				    "once: a's window is a's qd, kept in a, not in a static the next "
				    "rd_open rewrites (reader.h, rd_batch_read, and the top: \"keep no "
				    "state in static variables\"; TODO 8)", wa, n,
				    (unsigned)watch.max_inflight);
			free_reqs(reqs, n);
		}
		close_reader(b);
		read_some(a, &f, "reader a, after reader b's rd_close");
		close_reader(a);
		res_check(&before, "the two io_uring readers, both closed");
	}
	free(f.data);
}

GRADE_TEST(choice, direct_flag, 2,
	   "RD_DIRECT (alone or beside another flag): the file open with O_DIRECT and rd_direct 1 "
	   "with each interface; aligned "
	   "reads through it, and in the same batch an unaligned read of another, buffered file",
	   "TODO 4: O_DIRECT when the caller asks for it (RD_DIRECT), whichever interface reads "
	   "(reader.h, rd_open: path; open(2), O_DIRECT; lesson, section 7, \"RD_DIRECT is a "
	   "request\"); TODO 8: alignment is the caller's duty on rd_fd() only, and requests on "
	   "other descriptors are read too (reader.h, rd_direct, rd_batch_read)")
{
	static const struct { unsigned flags; enum rd_backend want; } cases[] = {
		{ RD_DIRECT, RD_IO_URING },
		/* RD_DIRECT beside another flag is still RD_DIRECT: a bit of
		 * flags, tested with &, not flags compared with == */
		{ RD_DIRECT | RD_NO_LIBAIO, RD_IO_URING },
		{ RD_DIRECT | RD_NO_URING, RD_LIBAIO },
		{ RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO, RD_THREADS },
	};
	struct datafile f, g;
	int other;

	ch10_setup();
	grade_require_io_uring(8);
	require_libaio();
	f = make_data("f", 300000 + 123);
	g = make_data("g", 20000 + 7);
	other = grade_open(g.path, O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[96], label[256];
		struct res before;
		struct reader *r;
		struct batch_req reqs[3];
		int ret;

		snprintf(what, sizeof(what), "rd_open with %s", flags_str(cases[i].flags));
		res_take(&before);
		r = open_ok(f.path, 8, cases[i].flags, cases[i].want, what);
		check_fd(r, 1, what);
		/* One batch: two aligned reads of the reader's O_DIRECT file and an
		 * unaligned one of another file, open without O_DIRECT. */
		reqs[0] = (struct batch_req){ SEAM_CALL(rd_fd(r)), 4 * LAIO_DIO_ALIGN, 2 * LAIO_DIO_ALIGN,
					      battery_buf(2 * LAIO_DIO_ALIGN), 0x5a5a };
		reqs[1] = (struct batch_req){ other, 1001, 999, battery_buf(999), 0x5a5a };
		reqs[2] = (struct batch_req){ SEAM_CALL(rd_fd(r)), 0, LAIO_DIO_ALIGN,
					      battery_buf(LAIO_DIO_ALIGN), 0x5a5a };
		ret = SEAM_CALL(rd_batch_read(r, reqs, 3));
		snprintf(label, sizeof(label), "%s: a batch with a read of 999 bytes at offset 1001 of "
			 "another file, open without O_DIRECT", what);
		grade_check(ret == 0, "%s returned %s, expected 0: only requests on rd_fd() must be "
			    "aligned (reader.h, rd_direct); a request on another descriptor is read as "
			    "that descriptor allows (reader.h, rd_batch_read; TODO 8)", label,
			    grade_errno_str(ret));
		check_req(&reqs[0], 0, f.data, f.size, label);
		check_req(&reqs[1], 1, g.data, g.size, label);
		check_req(&reqs[2], 2, f.data, f.size, label);
		for (int k = 0; k < 3; k++)
			free(reqs[k].buf);
		read_and_close(r, &f, &before, what);
	}
	close(other);
	free(g.data);
	free(f.data);
}

GRADE_TEST(choice, not_by_version, 2,
	   "uname says 4.19 and kernel.io_uring_disabled says 1 (then 2), but io_uring works: the reader "
	   "takes io_uring",
	   "TODO 2: find out by trying, never from the kernel's version or a sysctl: backports, "
	   "seccomp and group rules make them wrong both ways (reader.h, the choice; lesson, "
	   "section 6)")
{
	static const char release[] = "4.19.0-27-amd64\n",
			  version[] = "Linux version 4.19.0-27-amd64 (gcc 8.3.0) #1 SMP Debian "
				      "4.19.316-1 (2024-06-25)\n",
			  disabled[] = "1\n";
	struct datafile f;
	struct reader *r;

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 50000);
	snprintf(hk.fake_release, sizeof(hk.fake_release), "%s",
		 grade_make_file("osrelease", release, strlen(release)));
	snprintf(hk.fake_version, sizeof(hk.fake_version), "%s",
		 grade_make_file("version", version, strlen(version)));
	snprintf(hk.fake_disabled, sizeof(hk.fake_disabled), "%s",
		 grade_make_file("io_uring_disabled", disabled, strlen(disabled)));
	hk.lie_about_version = true;
	r = open_ok(f.path, 8, 0, RD_IO_URING, "uname(2) says 4.19.0 and /proc/sys/kernel/"
		    "io_uring_disabled says 1 (only io_uring_group may use it), yet a ring comes up "
		    "and reads");
	read_some(r, &f, "an io_uring reader on a kernel that says 4.19");
	close_reader(r);
	/* 2 says "disabled for every process": still the kernel's answer
	 * decides, not the file (and where the switch is 2 for real, that answer
	 * is EPERM, the name rd_why must give). */
	snprintf(hk.fake_disabled, sizeof(hk.fake_disabled), "%s",
		 grade_make_file("io_uring_disabled_2", "2\n", 2));
	r = open_ok(f.path, 8, 0, RD_IO_URING, "/proc/sys/kernel/io_uring_disabled says 2 "
		    "(disabled for every process), yet a ring comes up and reads: the kernel's "
		    "answer to io_uring_setup decides, never the file, and where the switch is 2 "
		    "for real that answer is -EPERM, whose name rd_why gives (TODO 2)");
	read_some(r, &f, "an io_uring reader where io_uring_disabled says 2");
	close_reader(r);
	free(f.data);
}

/* ================================================= 3. fallbacks */

/* A ring of 8 entries can be set up here, for real (no skip: the tests that
 * refuse io_uring must run where it is missing too). */
static bool uring_works_here(void)
{
	struct io_uring ring;

	if (SEAM_REAL(io_uring_queue_init)(8, &ring, 0) != 0)
		return false;
	SEAM_REAL(io_uring_queue_exit)(&ring);
	return true;
}

/* io_uring refused with err at set-up: libaio on O_DIRECT, and it reads;
 * after -ENOMEM the next rd_open asks again. */
static void uring_refused(int err, const char *why_word)
{
	struct datafile f;
	struct reader *r;
	struct res before;
	char what[160];

	ch10_setup();
	require_libaio();
	f = make_data("f", 200000 + 77);
	hk.init_err = err;
	snprintf(what, sizeof(what), "io_uring_queue_init_params (ubatch_init) answering %s",
		 grade_errno_str(err));
	res_take(&before);
	r = open_ok(f.path, 8, 0, RD_LIBAIO, what);
	grade_check(hk.init_calls >= 1, "%s: io_uring was never tried (no ubatch_init): try it "
		    "first, it decides (TODO 2)", what);
	grade_check(hk.init_calls == 1 && hk.last_entries == 8, "%s: ubatch_init was called %ld "
		    "times, the last for %u entries: the reader asks once for its ring of min(qd, "
		    "RD_MAX_RING) = 8 entries, and %s means io_uring is not here: go on to libaio. A "
		    "smaller ring is not the reader's ring (a window of qd through it would be "
		    "another reader than the one asked for), and the same call again at once gets "
		    "the same answer (reader.h, step 1; TODO 2)", what, hk.init_calls,
		    hk.last_entries, why_word);
	check_why_has(r, "io_uring", what);
	check_why_has(r, why_word, what);
	check_why_has(r, "libaio", what);
	check_why_only(r, 0, why_word, what);
	check_fd(r, 1, what);
	grade_check(rings_alive() == 0, "%s: a ring is still set up", what);
	read_some(r, &f, what);
	grade_check(hk.submits > 0, "%s: the reader said libaio, yet its batch made no io_submit "
		    "(TODO 8)", what);
	close_reader(r);
	res_check(&before, what);
	/* -ENOMEM was that rd_open's answer, not the process's: locked memory is
	 * freed when other rings close, and the next reader asks again and takes
	 * io_uring. (-ENOSYS and a seccomp -EPERM last as long as the process,
	 * so this test does not ask again after those; reader.h still wants no
	 * state in statics, so each rd_open probes for itself.) */
	if (err == -ENOMEM && uring_works_here()) {
		hk.init_err = 0;
		hk.init_calls = 0;
		snprintf(what, sizeof(what), "a second rd_open, after one where ubatch_init answered "
			 "%s, now that a ring comes up", grade_errno_str(err));
		r = open_ok(f.path, 8, 0, RD_IO_URING, what);
		grade_check(hk.init_calls == 1, "%s: ubatch_init was called %ld time(s): -ENOMEM is "
			    "RLIMIT_MEMLOCK charged by the rings open at that moment, freed when they "
			    "close; each rd_open asks the kernel again (reader.h, the choice, \"made "
			    "by trying\"; TODO 2)", what, hk.init_calls);
		grade_check(hk.last_entries == 8, "%s: ubatch_init was asked for %u entries, expected "
			    "min(qd, RD_MAX_RING) = 8: the earlier refusal changed the size of the next "
			    "reader's ring, through a static. Each reader asks for the ring of its own "
			    "qd; what locked memory allows is the kernel's answer to that rd_open, not "
			    "a rule for the next (reader.h, step 1, and the top: \"keep no state in "
			    "static variables\"; TODO 2)", what, hk.last_entries);
		close_reader(r);
	}
	free(f.data);
}

GRADE_TEST(fallback, uring_eperm, 1,
	   "io_uring refused with -EPERM (seccomp, kernel.io_uring_disabled): libaio on O_DIRECT, "
	   "rd_why names io_uring and EPERM",
	   "TODOs 2, 4, 5 and 7: -EPERM from ubatch_init means \"not here\", not an error: go on to "
	   "libaio, which needs the file open with O_DIRECT (reader.h, step 1; lesson, sections "
	   "5 and 6)")
{
	uring_refused(-EPERM, "EPERM");
}

GRADE_TEST(fallback, uring_enosys, 1,
	   "io_uring refused with -ENOSYS (a kernel without it): libaio, rd_why names ENOSYS",
	   "TODOs 2 and 7: -ENOSYS from ubatch_init means \"not here\" (reader.h, step 1; "
	   "io_uring_setup(2), ERRORS; lesson, section 6)")
{
	uring_refused(-ENOSYS, "ENOSYS");
}

GRADE_TEST(fallback, uring_enomem, 1,
	   "io_uring refused with -ENOMEM (RLIMIT_MEMLOCK too small for the ring): libaio, rd_why "
	   "names ENOMEM; the next rd_open asks again, for a ring of its own qd",
	   "TODOs 2 and 7: -ENOMEM from ubatch_init is the ring's memory, charged to "
	   "RLIMIT_MEMLOCK: \"not here\", like EPERM and ENOSYS, for this rd_open only: the next "
	   "asks again for the ring of its own qd, with nothing remembered in a static (reader.h, "
	   "step 1; lesson, section 5, RLIMIT_MEMLOCK)")
{
	uring_refused(-ENOMEM, "ENOMEM");
}

/* A ring comes up but its probe fails or lacks IORING_OP_READ. */
static void probe_refused(enum probe_mode mode, const char *what)
{
	struct datafile f;
	struct reader *r;
	struct res before;

	ch10_setup();
	grade_require_io_uring(8);
	require_libaio();
	f = make_data("f", 100000 + 5);
	/* First a ring whose probe answers for real: io_uring. (The ring's
	 * answer is that reader's; one kept in a static for the process would
	 * answer the refusal below.) */
	r = open_ok(f.path, 8, 0, RD_IO_URING, "rd_open(&r, path, 8, 0) where a ring's probe says "
		    "IORING_OP_READ, before the one below");
	close_reader(r);
	hk.probe_calls = 0;
	watch.init_ok = watch.exits = 0;
	hk.probe_mode = mode;
	res_take(&before);
	hk.rings_at_setup = -1;
	r = open_ok(f.path, 8, 0, 0, what);
	grade_check(hk.probe_calls >= 1 || watch.init_ok == 0, "%s: this rd_open set up a ring "
		    "but never asked it for its opcodes (io_uring_get_probe_ring) and took %s: "
		    "without a probe of this ring nothing says it can read. Each rd_open asks its "
		    "own ring, never going by an earlier reader's answer kept in a static (an "
		    "earlier rd_open here had a ring that could read) (reader.h, step 1, and the "
		    "top: \"keep no state in static variables\"; TODO 3)", what, backend_str(SEAM_CALL(rd_backend(r))));
	grade_check(SEAM_CALL(rd_backend(r)) == RD_LIBAIO, "%s: the reader took %s (rd_backend "
		    "%d), expected libaio; rd_why: \"%s\"", what,
		    backend_str(SEAM_CALL(rd_backend(r))), (int)SEAM_CALL(rd_backend(r)), why_of(r));
	grade_check(watch.init_ok == 1 && hk.probe_calls >= 1, "%s: the reader set up %ld ring(s) "
		    "and asked %ld probe(s): the ring comes first, then the probe of that ring "
		    "(TODOs 2 and 3)", what, watch.init_ok, hk.probe_calls);
	grade_check(hk.rings_at_setup == before.rings, "%s: the ring that cannot read was still "
		    "set up when the libaio step asked for its AIO context (io_setup): reader.h, step "
		    "1, \"that ring is torn down before going on\". Tear it down (ubatch_exit) in the "
		    "io_uring step, as soon as the probe says no, not at the end of rd_open: a "
		    "fallback never holds two interfaces, and the ring's locked memory and "
		    "descriptor are not the next step's to pay for (TODO 3; lesson, section 7, "
		    "\"Nothing left behind, on any path\")", what);
	grade_check(rings_alive() == 0, "%s: the ring that cannot read is still set up (its "
		    "descriptor open): tear it down (ubatch_exit) before falling back (TODO 3)", what);
	grade_check(fault_count_fds() == before.fds + 1, "%s: %d descriptor(s) are open for a "
		    "libaio reader, which holds one: its file (TODO 3)", what,
		    fault_count_fds() - before.fds);
	check_why_has(r, "io_uring", what);
	check_why_has(r, "IORING_OP_READ", what);
	check_why_only(r, 0, "", what);
	check_fd(r, 1, what);
	read_some(r, &f, what);
	close_reader(r);
	/* By rd_close, at the latest (reader.h does not say when). */
	grade_check(hk.probes_freed == hk.probes, "%s: io_uring_get_probe_ring gave %ld probe(s), "
		    "io_uring_free_probe freed %ld by the end of rd_close (TODO 3)", what,
		    hk.probes, hk.probes_freed);
	res_check(&before, what);
	/* The same on the way to the pool (RD_NO_LIBAIO): the ring is gone
	 * before the pool's first thread starts. */
	{
		char what2[200];

		snprintf(what2, sizeof(what2), "%s, with RD_NO_LIBAIO", what);
		res_take(&before);
		hk.rings_at_create = -1;
		atomic_store(&creates, 0);
		r = open_ok(f.path, 8, RD_NO_LIBAIO, RD_THREADS, what2);
		grade_check(hk.rings_at_create == before.rings, "%s: the ring that cannot read was "
			    "still set up when the pool started its first thread: reader.h, step 1, "
			    "\"that ring is torn down before going on\". Tear it down (ubatch_exit) in "
			    "the io_uring step, as soon as the probe says no, not at the end of rd_open "
			    "(TODO 3; lesson, section 7, \"Nothing left behind, on any path\")", what2);
		check_why_has(r, "IORING_OP_READ", what2);
		check_why_has(r, "RD_NO_LIBAIO", what2);
		check_why_only(r, RD_NO_LIBAIO, "", what2);
		check_fd(r, 0, what2);
		read_and_close(r, &f, &before, what2);
	}
	/* The refusal was that ring's answer at that moment: a NULL probe also
	 * means that liburing had no memory for it, this once. The next rd_open
	 * asks its own ring again and, answered, takes io_uring. */
	{
		const char *what3 = "rd_open(&r, path, 8, 0) after those, now that the ring's probe "
				    "answers and says IORING_OP_READ";

		hk.probe_mode = PROBE_REAL;
		hk.probe_calls = 0;
		r = open_ok(f.path, 8, 0, 0, what3);
		grade_check(hk.probe_calls >= 1 && SEAM_CALL(rd_backend(r)) == RD_IO_URING, "%s: the "
			    "reader took %s after %ld probe(s) of its ring: the earlier refusal was kept "
			    "in a static and answered for this ring. A NULL probe also means no memory "
			    "for it this once (io_uring_get_probe(3)); each rd_open asks its own ring "
			    "(reader.h, step 1, and the top: \"keep no state in static variables\"; "
			    "TODO 3)", what3, backend_str(SEAM_CALL(rd_backend(r))), hk.probe_calls);
		close_reader(r);
	}
	free(f.data);
}

GRADE_TEST(fallback, probe_fails, 2,
	   "a ring comes up but its probe fails (kernel before 5.6): the ring torn down, libaio, "
	   "rd_why names IORING_OP_READ",
	   "TODO 3: io_uring_get_probe_ring returns NULL when the kernel has no probe "
	   "(io_uring_get_probe(3), NOTES) or it cannot be allocated: then nothing says the ring "
	   "can read; tear the ring down before going on (lesson, section 6)")
{
	probe_refused(PROBE_NULL, "a ring whose io_uring_get_probe_ring returns NULL");
}

GRADE_TEST(fallback, probe_without_read, 2,
	   "a ring comes up but IORING_OP_READ is not supported: the ring torn down, libaio, the "
	   "probe freed",
	   "TODO 3: io_uring_opcode_supported(probe, IORING_OP_READ) says 0: fall back, after "
	   "io_uring_free_probe and ubatch_exit (io_uring_opcode_supported(3); lesson, section 6)")
{
	probe_refused(PROBE_NO_READ, "a ring whose probe lacks IORING_OP_READ");
}

GRADE_TEST(fallback, odirect_refused, 2,
	   "O_DIRECT refused with EINVAL (no direct I/O on this filesystem): the pool, through the "
	   "page cache, rd_direct 0, O_DIRECT asked once per step that wants it, rd_why names "
	   "EINVAL and keeps io_uring's reason",
	   "TODOs 4 and 5: EINVAL from open(2) with O_DIRECT means this filesystem has no direct "
	   "I/O: open again without it; libaio is then not worth it (reader.h, step 2; open(2), "
	   "ERRORS, EINVAL; lesson, section 5, \"O_DIRECT refused\"); TODO 7: every step's "
	   "reason stays in the line, io_uring's too")
{
	static const struct { unsigned flags; const char *what, *errs; } cases[] = {
		{ 0, "io_uring refused (EPERM) and O_DIRECT refused (EINVAL)", "EPERM EINVAL" },
		{ RD_DIRECT | RD_NO_URING, "RD_DIRECT|RD_NO_URING and O_DIRECT refused (EINVAL)",
		  "EINVAL" },
		{ RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO,
		  "RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO and O_DIRECT refused (EINVAL)", "EINVAL" },
	};
	struct datafile f;

	ch10_setup();
	f = make_data("f", 100000 + 9);
	hk.init_err = -EPERM;
	hk.odirect_einval = true;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res before;
		struct reader *r;

		res_take(&before);
		hk.direct_opens = 0;
		r = open_ok(f.path, 8, cases[i].flags, RD_THREADS, cases[i].what);
		/* One O_DIRECT open per step that wants it (libaio's; the pool's or
		 * io_uring's under RD_DIRECT): the same open again at once gets the
		 * same EINVAL, a filesystem's answer, not a passing one. */
		{
			long want = !(cases[i].flags & RD_NO_LIBAIO) +
				    !!(cases[i].flags & RD_DIRECT);

			grade_check(hk.direct_opens <= want, "%s: open(2) was asked %ld time(s) "
				    "with O_DIRECT and refused (EINVAL) each time; at most %ld (one "
				    "per step that wants O_DIRECT) was expected: EINVAL is the "
				    "filesystem's answer, the same for the same file the next moment, "
				    "so asking again at once only spins. Take the first EINVAL as \"no "
				    "direct I/O here\" and open without it (reader.h, step 2; open(2), "
				    "ERRORS; TODO 4)", cases[i].what, hk.direct_opens, want);
		}
		check_why_has(r, "EINVAL", cases[i].what);
		/* libaio's clause: its flag, or the O_DIRECT refusal that ruled it
		 * out, which reader.h's own example line spells "O_DIRECT: EINVAL"
		 * without the interface's name */
		if (cases[i].flags & RD_NO_LIBAIO)
			check_why_has(r, "RD_NO_LIBAIO", cases[i].what);
		else
			check_why_has_either(r, "libaio", "O_DIRECT", cases[i].what);
		check_why_has(r, "threads", cases[i].what);
		/* every step's clause kept: io_uring's reason (its flag, as 10.16
		 * and 10.17 take it, or its name and EPERM) too */
		if (cases[i].flags & RD_NO_URING) {
			check_why_has(r, "RD_NO_URING", cases[i].what);
		} else {
			check_why_has(r, "io_uring", cases[i].what);
			check_why_has(r, "EPERM", cases[i].what);
		}
		check_why_only(r, cases[i].flags, cases[i].errs, cases[i].what);
		check_fd(r, 0, cases[i].what);
		grade_check(hk.setup_calls == 0 || contexts_alive() == 0, "%s: an AIO context is left",
			    cases[i].what);
		read_and_close(r, &f, &before, cases[i].what);
	}
	/* O_DIRECT's refusal is that file's filesystem's answer, not the
	 * process's: a file where it works gets it (asked again). */
	hk.odirect_einval = false;
	if (odirect_works_here()) {
		const char *what = "RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO after readers whose O_DIRECT "
				   "was refused, now that the filesystem takes it";
		struct res before;
		struct reader *r;

		res_take(&before);
		r = open_ok(f.path, 8, RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, what);
		grade_check(SEAM_CALL(rd_direct(r)) == 1, "%s: rd_direct says %d: EINVAL from open(2) "
			    "with O_DIRECT is the answer of that file's filesystem at that moment; "
			    "each rd_open asks open(2) again, never a refusal remembered in a static "
			    "(reader.h, rd_open; TODO 4)", what, SEAM_CALL(rd_direct(r)));
		check_fd(r, 1, what);
		check_why_only(r, RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO, "", what);
		read_and_close(r, &f, &before, what);
	}
	free(f.data);
}

GRADE_TEST(fallback, odirect_refused_uring, 1,
	   "RD_DIRECT with io_uring where O_DIRECT is refused: io_uring through the page cache, "
	   "rd_direct 0",
	   "TODO 4: RD_DIRECT asks for O_DIRECT \"if its filesystem allows it\": EINVAL means read "
	   "through the page cache and say so (reader.h, rd_open; lesson, section 7, \"RD_DIRECT "
	   "is a request\")")
{
	const char *what = "rd_open with RD_DIRECT, io_uring up, O_DIRECT refused (EINVAL)";
	struct datafile f;
	struct res before;
	struct reader *r;

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 60000);
	hk.odirect_einval = true;
	res_take(&before);
	r = open_ok(f.path, 8, RD_DIRECT, RD_IO_URING, what);
	check_why_has(r, "EINVAL", what);
	check_why_only(r, RD_DIRECT, "EINVAL", what);
	check_fd(r, 0, what);
	read_and_close(r, &f, &before, what);
	free(f.data);
}

GRADE_TEST(fallback, io_setup_refused, 2,
	   "io_setup refused (-EAGAIN, -ENOSYS, -EPERM): the pool, on a descriptor without "
	   "O_DIRECT unless RD_DIRECT, no AIO context left, rd_why names both refusals; the next "
	   "reader asks for a context of its own qd",
	   "TODOs 5 and 6: those three mean \"no libaio here\"; the descriptor opened O_DIRECT only "
	   "for libaio is not the pool's: reopen through the page cache unless the caller asked "
	   "for RD_DIRECT (reader.h, steps 2 and 3; io_setup(2), ERRORS; lesson, section 7, "
	   "\"libaio brings its own O_DIRECT\"); TODO 7: libaio's reason is added to the line "
	   "after io_uring's, which stays (lesson, Hints, \"append to the reason\"); a refusal "
	   "is that rd_open's answer: the next asks again for min(qd, RD_MAX_RING) events, with "
	   "nothing remembered in a static")
{
	static const struct { int err; const char *name; unsigned flags; } cases[] = {
		{ -EAGAIN, "EAGAIN", 0 },
		{ -ENOSYS, "ENOSYS", 0 },
		{ -EPERM, "EPERM", 0 },
		{ -EAGAIN, "EAGAIN", RD_DIRECT },
	};
	struct datafile f;

	ch10_setup();
	require_odirect();
	f = make_data("f", 100000 + 9);
	hk.init_err = -EPERM;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res before;
		struct reader *r;
		char what[128], errs[32];

		snprintf(what, sizeof(what), "io_uring refused, io_setup answering %s, flags %s",
			 grade_errno_str(cases[i].err), flags_str(cases[i].flags));
		hk.setup_err = cases[i].err;
		hk.setup_calls = 0;
		res_take(&before);
		r = open_ok(f.path, 8, cases[i].flags, RD_THREADS, what);
		grade_check(hk.setup_calls >= 1, "%s: libaio was never tried (no io_setup): with "
			    "O_DIRECT open, ask the kernel for a context (TODO 5)", what);
		grade_check(hk.setup_calls == 1, "%s: io_setup was called %ld times: %s from "
			    "io_setup means libaio is not here; ask once and go on to the pool. For "
			    "EAGAIN, \"try again\" is not the meaning: fs.aio-max-nr, the whole "
			    "machine's, is used up, and nothing frees a context between two calls a "
			    "microsecond apart, so asking again at once only spins (reader.h, step 2; "
			    "io_setup(2), ERRORS; TODO 5)", what, hk.setup_calls, cases[i].name);
		check_why_has(r, "libaio", what);
		check_why_has(r, cases[i].name, what);
		/* The line adds each step's reason to the earlier ones: io_uring's
		 * refusal is still there after libaio's. */
		check_why_has(r, "io_uring", what);
		check_why_has(r, "EPERM", what);
		snprintf(errs, sizeof(errs), "EPERM %s", cases[i].name);
		check_why_only(r, cases[i].flags, errs, what);
		check_fd(r, cases[i].flags & RD_DIRECT ? 1 : 0, what);
		grade_check(contexts_alive() == 0, "%s: an AIO context is left", what);
		hk.setup_err = 0;  /* the pool does not need it */
		read_and_close(r, &f, &before, what);
	}
	/* The refusals were those rd_opens' answers: the next reader, where
	 * io_setup answers, asks for the context of its own qd (no static
	 * says "ask for less" after an EAGAIN). */
	{
		const char *what = "rd_open(&r, path, 8, 0) after those, io_uring refused, now that "
				   "io_setup answers";
		io_context_t ctx = 0;
		struct res before;
		struct reader *r;

		if (SEAM_REAL(io_setup)(1, &ctx) == 0) {
			SEAM_REAL(io_destroy)(ctx);
			hk.setup_calls = 0;
			hk.last_nr = 0;
			res_take(&before);
			r = open_ok(f.path, 8, 0, RD_LIBAIO, what);
			grade_check(hk.setup_calls == 1 && hk.last_nr == 8, "%s: rd_open made %ld "
				    "io_setup call(s), the last for %d events, expected one of min(qd, "
				    "RD_MAX_RING) = 8: the earlier refusals changed what the next reader "
				    "asks for, through a static. fs.aio-max-nr is the machine's, and what "
				    "it allowed then says nothing now: each reader asks for its own "
				    "context (reader.h, step 2, and the top: \"keep no state in static "
				    "variables\"; TODO 5)", what, hk.setup_calls, hk.last_nr);
			read_and_close(r, &f, &before, what);
		}
	}
	free(f.data);
}

GRADE_TEST(fallback, no_uring_flag, 1,
	   "RD_NO_URING: no ring set up at all, libaio on O_DIRECT through one AIO context of "
	   "min(qd, RD_MAX_RING) events (qd 8 and 1000), a context of its own for a second reader "
	   "beside the first, whose batches keep its size when a third is opened; rd_why names "
	   "RD_NO_URING",
	   "TODOs 2, 5 and 7: a flag skips its step without trying it, and the line says which "
	   "flag; the context io_setup gives is the one the reader keeps, of min(qd, "
	   "RD_MAX_RING) events, no test context first (reader.h, rd_open: flags, step 2; "
	   "rd_why; io_setup(2); lesson, section 7)")
{
	static const unsigned qds[] = { 8, 1000 };
	struct datafile f;

	ch10_setup();
	require_libaio();
	f = make_data("f", 70000);
	for (size_t i = 0; i < sizeof(qds) / sizeof(qds[0]); i++) {
		unsigned qd = qds[i], nr = qd < RD_MAX_RING ? qd : RD_MAX_RING;
		struct reader *r;
		struct res before;
		char what[64];

		snprintf(what, sizeof(what), "rd_open(&r, path, %u, RD_NO_URING)", qd);
		hk.setup_calls = 0;
		hk.destroys = hk.setups_ok = 0;
		res_take(&before);
		r = open_ok(f.path, qd, RD_NO_URING, RD_LIBAIO, what);
		grade_check(hk.init_calls == 0 && hk.probe_calls == 0, "%s: the reader set up %ld "
			    "ring(s) and asked %ld probe(s): RD_NO_URING means io_uring is not tried "
			    "(TODO 2)", what, hk.init_calls, hk.probe_calls);
		grade_check(hk.setup_calls == 1 && hk.destroys == 0, "%s: rd_open made %ld io_setup "
			    "and %ld io_destroy call(s): the context that answers \"is libaio here?\" "
			    "is the one every batch reads through, set up once and kept until rd_close "
			    "(a context set up only to try costs an io_destroy, which waits tens of "
			    "milliseconds: io_destroy(2); TODO 5)", what, hk.setup_calls, hk.destroys);
		grade_check(hk.last_nr == (int)nr, "%s: io_setup was asked for %d events; reader.h "
			    "wants a context of min(qd, RD_MAX_RING) = %u: every event is charged to "
			    "fs.aio-max-nr, shared by the whole machine, and the window is qd anyway "
			    "(reader.h, step 2; TODO 5)", what, hk.last_nr, nr);
		check_why_has(r, "RD_NO_URING", what);
		check_why_has(r, "libaio", what);
		check_why_only(r, RD_NO_URING, "", what);
		check_fd(r, 1, what);
		read_and_close(r, &f, &before, what);
	}
	/* Two libaio readers open at once: each sets up a context of its own,
	 * of its own size, not one context of the process shared by both and
	 * sized by the first ("one AIO context ... kept for the reader's life"). */
	{
		const char *wa = "rd_open(&a, path, 8, RD_NO_URING)";
		const char *wb = "rd_open(&b, path, 1000, RD_NO_URING) while reader a (qd 8, libaio "
				 "too) is open";
		struct res before_a, before_b;
		struct reader *a, *b;

		res_take(&before_a);
		a = open_ok(f.path, 8, RD_NO_URING, RD_LIBAIO, wa);
		hk.setup_calls = 0;
		hk.last_nr = 0;
		res_take(&before_b);
		b = open_ok(f.path, 1000, RD_NO_URING, RD_LIBAIO, wb);
		grade_check(hk.setup_calls == 1 && hk.last_nr == (int)RD_MAX_RING, "%s: rd_open made "
			    "%ld io_setup call(s) (the last for %d events); each reader sets up its own "
			    "context of min(qd, RD_MAX_RING) = %u events and destroys it in its "
			    "rd_close, whatever other readers are open: a context kept in a static "
			    "for every reader has the first one's size, and one reader's failed batch "
			    "destroys it under the others (reader.h, step 2; TODO 5)", wb,
			    hk.setup_calls, hk.last_nr, RD_MAX_RING);
		/* A third reader, at qd 8, opened after b: b's batches still go
		 * through b's context of RD_MAX_RING events, as many in flight as
		 * it holds (laio.h: the window is min(qd, n, nr_events)). */
		{
			const char *wc = "rd_open(&c, path, 8, RD_NO_URING) after reader b (qd 1000)";
			char label[200];
			struct reader *c;
			struct batch_req *reqs;
			size_t n = 300;
			int ret;

			c = open_ok(f.path, 8, RD_NO_URING, RD_LIBAIO, wc);
			/* every read of a whole aligned block inside the file: each one
			 * goes to the kernel */
			reqs = grade_xmalloc(n * sizeof(*reqs));
			for (size_t i = 0; i < n; i++)
				reqs[i] = (struct batch_req){ SEAM_CALL(rd_fd(b)),
							      (off_t)(i % (f.size / LAIO_DIO_ALIGN)) *
								      LAIO_DIO_ALIGN,
							      LAIO_DIO_ALIGN, battery_buf(LAIO_DIO_ALIGN),
							      0x5a5a };
			hk.aio_max_inflight = 0;
			ret = SEAM_CALL(rd_batch_read(b, reqs, n));
			snprintf(label, sizeof(label), "a batch of %zu reads through reader b (qd 1000) "
				 "once reader c (qd 8) was opened", n);
			grade_check(ret == 0, "%s returned %s, expected 0 (TODO 8)", label,
				    grade_errno_str(ret));
			for (size_t i = 0; i < n; i++)
				check_req(&reqs[i], i, f.data, f.size, label);
			grade_check(hk.aio_max_inflight == (long)RD_MAX_RING, "%s: at most %ld reads were "
				    "in flight; reader b's context has min(qd, RD_MAX_RING) = %u events and "
				    "laio_batch_read_ctx fills min(qd, n, nr_events) before it waits. b's "
				    "batches were handed another reader's nr_events or qd: the size a "
				    "context was set up with and the window belong to their reader, kept "
				    "in it, not in a static the next rd_open rewrites (reader.h, top: "
				    "\"keep no state in static variables\"; laio.h, laio_batch_read_ctx: "
				    "nr_events; TODOs 5 and 8)", label, hk.aio_max_inflight, RD_MAX_RING);
			free_reqs(reqs, n);
			close_reader(c);
		}
		read_and_close(b, &f, &before_b, wb);
		read_and_close(a, &f, &before_a, wa);
	}
	free(f.data);
}

GRADE_TEST(fallback, no_uring_no_libaio, 1,
	   "RD_NO_URING|RD_NO_LIBAIO: the pool of min(qd, RD_MAX_THREADS) threads, nothing else "
	   "tried, rd_why names both flags; a second pool reader beside the first has a pool of its "
	   "own; RD_NO_LIBAIO alone, io_uring tried and ruled out: the pool too, no io_setup, "
	   "rd_why names io_uring's reason and RD_NO_LIBAIO",
	   "TODOs 5, 6 and 7: RD_NO_LIBAIO skips step 2 (no io_setup, no O_DIRECT) whichever way "
	   "step 1 ended, and the line says so; the pool has min(qd, RD_MAX_THREADS) threads "
	   "(reader.h, rd_open: flags, step 3; lesson, section 7)")
{
	static const struct { unsigned qd; int threads; } cases[] = { { 8, 8 }, { 100, RD_MAX_THREADS } };
	struct datafile f;

	ch10_setup();
	f = make_data("f", 70000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned flags = RD_NO_URING | RD_NO_LIBAIO;
		struct res before;
		struct reader *r;
		char what[80];

		snprintf(what, sizeof(what), "rd_open(&r, path, %u, RD_NO_URING|RD_NO_LIBAIO)",
			 cases[i].qd);
		res_take(&before);
		r = open_ok(f.path, cases[i].qd, flags, RD_THREADS, what);
		grade_check(hk.init_calls == 0 && hk.setup_calls == 0, "%s: the reader tried io_uring "
			    "(%ld) or libaio (%ld): both are ruled out by the flags", what,
			    hk.init_calls, hk.setup_calls);
		check_why_has(r, "RD_NO_URING", what);
		check_why_has(r, "RD_NO_LIBAIO", what);
		check_why_has(r, "threads", what);
		check_why_only(r, flags, "", what);
		check_fd(r, 0, what);
		grade_check(fault_count_threads() == before.threads + cases[i].threads, "%s: the reader "
			    "started %d thread(s); the pool has min(qd, RD_MAX_THREADS) = %d (TODO 6)",
			    what, fault_count_threads() - before.threads, cases[i].threads);
		read_and_close(r, &f, &before, what);
	}
	/* Two pool readers open at once: each has a pool of its own, of its own
	 * size ("one pool kept for the reader's life", reader.h), not one pool
	 * of the process shared by every reader and sized by the first. */
	{
		const unsigned flags = RD_NO_URING | RD_NO_LIBAIO;
		const char *wa = "rd_open(&a, path, 2, RD_NO_URING|RD_NO_LIBAIO)";
		const char *wb = "rd_open(&b, path, 8, RD_NO_URING|RD_NO_LIBAIO) while reader a "
				 "(qd 2, a pool too) is open";
		struct res before_a, before_b;
		struct reader *a, *b;

		res_take(&before_a);
		a = open_ok(f.path, 2, flags, RD_THREADS, wa);
		res_take(&before_b);
		b = open_ok(f.path, 8, flags, RD_THREADS, wb);
		grade_check(fault_count_threads() == before_b.threads + 8, "%s: the reader started "
			    "%d thread(s); its pool has min(qd, RD_MAX_THREADS) = 8 threads of its own, "
			    "whatever other readers are open: one pool per reader, made by its rd_open "
			    "and destroyed by its rd_close, not one kept in a static for the process "
			    "(reader.h, RD_THREADS; TODO 6)", wb,
			    fault_count_threads() - before_b.threads);
		read_and_close(b, &f, &before_b, wb);
		read_and_close(a, &f, &before_a, wa);
	}
	/* RD_NO_LIBAIO alone: io_uring is tried first and ruled out (refused at
	 * set-up, or a ring whose probe lacks IORING_OP_READ); the flag still
	 * skips step 2, and the line keeps io_uring's reason and names it. */
	for (int k = 0; k < 2; k++) {
		const char *what = k == 0 ? "rd_open(&r, path, 8, RD_NO_LIBAIO), io_uring refused "
					    "(ubatch_init answering -EPERM)"
					  : "rd_open(&r, path, 8, RD_NO_LIBAIO), a ring whose probe "
					    "lacks IORING_OP_READ";
		struct res before;
		struct reader *r;

		if (k == 1 && !uring_works_here())
			continue;
		hk.init_err = k == 0 ? -EPERM : 0;
		hk.probe_mode = k == 0 ? PROBE_REAL : PROBE_NO_READ;
		hk.init_calls = hk.setup_calls = hk.probe_calls = 0;
		res_take(&before);
		r = open_ok(f.path, 8, RD_NO_LIBAIO, RD_THREADS, what);
		grade_check(hk.init_calls == 1, "%s: ubatch_init was called %ld time(s): without "
			    "RD_NO_URING, io_uring is tried first, once (TODO 2)", what, hk.init_calls);
		grade_check(hk.setup_calls == 0, "%s: io_setup was called %ld time(s): RD_NO_LIBAIO "
			    "means libaio is not tried, whatever step 1 found; the flag is read on its "
			    "own, not only together with RD_NO_URING (reader.h, rd_open: flags; TODO 5)",
			    what, hk.setup_calls);
		check_why_has(r, "io_uring", what);
		check_why_has(r, k == 0 ? "EPERM" : "IORING_OP_READ", what);
		check_why_has(r, "RD_NO_LIBAIO", what);
		check_why_has(r, "threads", what);
		check_why_only(r, RD_NO_LIBAIO, k == 0 ? "EPERM" : "", what);
		check_fd(r, 0, what);
		grade_check(rings_alive() == before.rings, "%s: a ring is still set up", what);
		read_and_close(r, &f, &before, what);
	}
	free(f.data);
}

/* ------------------------------------------- a real refusal: seccomp */

/* What the child under the filter saw, for the parent to judge. */
struct seccomp_report {
	int installed;          /* 0, or the errno of installing the filter  */
	int ring_ret;           /* a ring of our own under the filter         */
	int ret;                /* rd_open                                    */
	int backend, direct, fd_delta;
	char why[320];
	int batch_ret;
	int bad;                /* first request with a wrong result, or -1   */
	ssize_t bad_res, bad_want;
	int closed_fd_delta;
	int done;
};

static void seccomp_child(int out, const struct datafile *f)
{
	static struct sock_filter no_uring[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(no_uring) / sizeof(no_uring[0]), no_uring };
	struct seccomp_report rep;
	struct reader *r = NULL;
	struct io_uring ring;
	enum { N = 8 };
	struct batch_req reqs[N];
	int fds;

	memset(&rep, 0, sizeof(rep));
	rep.bad = -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		rep.installed = errno;
	rep.ring_ret = SEAM_REAL(io_uring_queue_init)(4, &ring, 0);
	if (rep.ring_ret == 0)
		SEAM_REAL(io_uring_queue_exit)(&ring);
	fds = fault_count_fds();
	rep.ret = SEAM_CALL(rd_open(&r, f->path, 8, 0));
	if (rep.ret == 0) {
		int fd;

		rep.fd_delta = fault_count_fds() - fds;
		rep.backend = (int)SEAM_CALL(rd_backend(r));
		rep.direct = SEAM_CALL(rd_direct(r));
		snprintf(rep.why, sizeof(rep.why), "%.300s", SEAM_CALL(rd_why(r)));
		fd = SEAM_CALL(rd_fd(r));
		for (int i = 0; i < N; i++)
			reqs[i] = (struct batch_req){ fd, (off_t)(i * 3 * LAIO_DIO_ALIGN),
						      2 * LAIO_DIO_ALIGN, battery_buf(2 * LAIO_DIO_ALIGN),
						      0x5a5a };
		rep.batch_ret = SEAM_CALL(rd_batch_read(r, reqs, N));
		for (int i = 0; i < N && rep.batch_ret == 0; i++) {
			ssize_t want = expected_res(&reqs[i], f->size);

			if (reqs[i].res != want ||
			    (want > 0 && grade_first_diff(reqs[i].buf, f->data + reqs[i].offset,
							  (size_t)want) >= 0)) {
				rep.bad = i;
				rep.bad_res = reqs[i].res;
				rep.bad_want = want;
				break;
			}
		}
		SEAM_CALL_VOID(rd_close(r));
		rep.closed_fd_delta = fault_count_fds() - fds;
	}
	rep.done = 1;
	if (write(out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
	_exit(0);
}

GRADE_TEST_T(fallback, seccomp_for_real, 3,
	     "a real refusal: under a seccomp filter that fails io_uring_setup with EPERM (as "
	     "Docker's default profile does), rd_open takes libaio and reads right",
	     "TODOs 2 and 7: what a container does to io_uring, for real: the ring's set-up fails "
	     "with -EPERM, which means \"not here\" (reader.h, step 1; seccomp(2), "
	     "SECCOMP_RET_ERRNO; lesson, section 5, Docker's seccomp profile)", 15)
{
	struct datafile f;
	struct seccomp_report rep;
	struct pollfd pfd;
	int p[2], status = 0;
	ssize_t got = 0;
	pid_t pid;

	ch10_setup();
	require_libaio();
	f = make_data("f", 100000 + 3);
	grade_check(pipe2(p, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	grade_check(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		seccomp_child(p[1], &f);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, 10000) == 1)
		got = read(p[0], &rep, sizeof(rep));
	close(p[0]);
	if (got != (ssize_t)sizeof(rep))
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	grade_check(got == (ssize_t)sizeof(rep) && rep.done, "the child that opened a reader under "
		    "the seccomp filter %s", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
		    got == 0 ? "did not answer within 10 s (rd_open or rd_batch_read hangs?)" :
		    "ended without reporting");
	grade_check(rep.installed == 0, "harness: the seccomp filter could not be installed: %s",
		    strerror(rep.installed));
	grade_check(rep.ring_ret == -EPERM, "harness: under the filter, io_uring_queue_init "
		    "returned %s, not -EPERM", grade_errno_str(rep.ring_ret));
	grade_check(rep.ret == 0, "under a seccomp filter that refuses io_uring_setup, rd_open "
		    "returned %s, expected 0: -EPERM from the ring's set-up means io_uring is not "
		    "available here; go on to libaio (TODO 2)", grade_errno_str(rep.ret));
	grade_check(rep.backend == RD_LIBAIO, "under the seccomp filter the reader took %s, "
		    "expected libaio; rd_why: \"%s\"", backend_str(rep.backend), rep.why);
	grade_check(strstr(rep.why, "io_uring") && strstr(rep.why, "EPERM"), "under the seccomp "
		    "filter, rd_why says \"%s\": it must name io_uring and EPERM (TODO 7)", rep.why);
	grade_check(rep.direct == 1, "under the seccomp filter the libaio reader has rd_direct %d: "
		    "libaio reads O_DIRECT (TODO 4)", rep.direct);
	grade_check(rep.fd_delta == 1, "under the seccomp filter rd_open left %d descriptor(s) "
		    "open; a libaio reader holds one, its file", rep.fd_delta);
	grade_check(rep.batch_ret == 0, "under the seccomp filter rd_batch_read returned %s, "
		    "expected 0 (TODO 8)", grade_errno_str(rep.batch_ret));
	grade_check(rep.bad < 0, "under the seccomp filter, request %d of the batch has res %s, "
		    "expected %s, or wrong bytes (TODO 8)", rep.bad, grade_errno_str(rep.bad_res),
		    grade_errno_str(rep.bad_want));
	grade_check(rep.closed_fd_delta == 0, "under the seccomp filter, rd_close left %d "
		    "descriptor(s) open (TODO 9)", rep.closed_fd_delta);
	free(f.data);
}

/* ==================================================== 4. errors */

GRADE_TEST(errors, not_unavailable, 2,
	   "errors that do not mean \"unavailable\" are returned: -EINVAL, -EFAULT, -EMFILE, -ENFILE "
	   "or -EAGAIN from the ring's set-up, -EINVAL or -ENOMEM from io_setup; nothing left, *out "
	   "untouched",
	   "TODOs 2 and 5: only ENOSYS, EPERM, ENOMEM (io_uring) and ENOSYS, EAGAIN, EPERM "
	   "(libaio) mean \"not here\", each list for its own step (EAGAIN is libaio's, not "
	   "io_uring's); any other failure is rd_open's error, after releasing everything "
	   "(reader.h, rd_open; lesson, section 6, \"everything else is an error\")")
{
	static const struct { int init_err, setup_err; const char *what; } cases[] = {
		{ -EINVAL, 0, "io_uring_queue_init_params (ubatch_init) answering -EINVAL" },
		{ -EFAULT, 0, "io_uring_queue_init_params (ubatch_init) answering -EFAULT" },
		{ -EMFILE, 0, "io_uring_queue_init_params (ubatch_init) answering -EMFILE (no "
			      "descriptor left for the ring: the file's open would fail too)" },
		{ -ENFILE, 0, "io_uring_queue_init_params (ubatch_init) answering -ENFILE (the "
			      "system's file table is full: a shortage of the moment, not a machine "
			      "without io_uring)" },
		{ -EAGAIN, 0, "io_uring_queue_init_params (ubatch_init) answering -EAGAIN (EAGAIN "
			      "means \"not here\" for io_setup only, not for the ring)" },
		{ -EPERM, -EINVAL, "io_uring refused (EPERM), then io_setup answering -EINVAL" },
		{ -EPERM, -ENOMEM, "io_uring refused (EPERM), then io_setup answering -ENOMEM" },
	};
	struct datafile f;

	ch10_setup();
	f = make_data("f", 10000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reader *r = NULL, *was;
		struct res before;
		int want = cases[i].setup_err ? cases[i].setup_err : cases[i].init_err, ret;

		if (cases[i].setup_err)
			require_odirect();
		hk.init_err = cases[i].init_err;
		hk.setup_err = cases[i].setup_err;
		was = r = (struct reader *)&f;
		res_take(&before);
		ret = SEAM_CALL(rd_open(&r, f.path, 8, 0));
		grade_check(ret == want, "%s: rd_open returned %s, expected %s: that error does not "
			    "mean the interface is missing here, it is rd_open's own%s", cases[i].what,
			    grade_errno_str(ret), grade_errno_str(want),
			    ret == 0 ? " (the reader fell back as if it were missing)" : "");
		grade_check(r == was, "%s: rd_open failed but wrote *out", cases[i].what);
		res_check(&before, cases[i].what);
	}
	free(f.data);
}

static const unsigned every_path[] = { 0, RD_DIRECT, RD_NO_URING, RD_NO_URING | RD_NO_LIBAIO };
/* The flags with which rd_open asks for O_DIRECT first, wherever it goes:
 * io_uring with RD_DIRECT, the libaio step, the pool with RD_DIRECT. */
static const unsigned odirect_paths[] = { RD_DIRECT, RD_NO_URING,
					  RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO };

GRADE_TEST(errors, missing_file, 1,
	   "a path that does not exist, under a file, a symbolic link to itself, or empty: "
	   "open(2)'s error as it came (-ENOENT, -ENOTDIR, -ELOOP, -ENOENT) with every flag, "
	   "nothing left (not even a ring set up before the file was opened); a file removed "
	   "after its O_DIRECT open was refused: -ENOENT, not the EINVAL",
	   "TODOs 1 and 4: open(2)'s error is rd_open's (-errno), whichever it is: not one "
	   "errno for every failure; everything made before it is released (reader.h, rd_open; "
	   "lesson, section 7, \"nothing left behind\")")
{
	struct datafile f;
	struct { const char *path; int err; const char *what; } cases[4];
	char under[PATH_MAX];
	const char *loop = grade_path("loop");

	ch10_setup();
	f = make_data("f", 100);
	snprintf(under, sizeof(under), "%s/x", f.path);
	unlink(loop);
	if (symlink(loop, loop) != 0)
		grade_fail("symlink %s: %s", loop, strerror(errno));
	cases[0].path = grade_path("no-such-file");
	cases[0].err = -ENOENT;
	cases[0].what = "a missing file";
	cases[1].path = under;
	cases[1].err = -ENOTDIR;
	cases[1].what = "a path under a regular file (open(2) says ENOTDIR)";
	cases[2].path = loop;
	cases[2].err = -ELOOP;
	cases[2].what = "a symbolic link to itself (open(2) says ELOOP)";
	/* "" is a path like any other, not a bad argument: open(2) answers it
	 * (ENOENT); reader.h's -EINVAL is for path == NULL only. */
	cases[3].path = "";
	cases[3].err = -ENOENT;
	cases[3].what = "an empty path \"\" (open(2) says ENOENT; only a NULL path is -EINVAL)";
	for (size_t c = 0; c < 4; c++) {
		for (size_t i = 0; i < sizeof(every_path) / sizeof(every_path[0]); i++) {
			struct reader *r = NULL;
			struct res before;
			char what[160];
			int ret;

			snprintf(what, sizeof(what), "rd_open of %s with flags %s",
				 cases[c].what, flags_str(every_path[i]));
			res_take(&before);
			ret = SEAM_CALL(rd_open(&r, cases[c].path, 8, every_path[i]));
			grade_check(ret == cases[c].err, "%s returned %s, expected %s, open(2)'s "
				    "error as it came (reader.h, rd_open: \"any other failure of a "
				    "step is ... an error: rd_open returns it\")", what,
				    grade_errno_str(ret), grade_errno_str(cases[c].err));
			grade_check(r == NULL, "%s failed but wrote *out", what);
			res_check(&before, what);
		}
	}
	/* The error of the open that failed, also when it was the second: O_DIRECT
	 * refused (EINVAL), then the file gone before the open without it. */
	for (size_t i = 0; i < sizeof(odirect_paths) / sizeof(odirect_paths[0]); i++) {
		struct reader *r = NULL;
		struct res before;
		char what[256], vpath[PATH_MAX];
		int ret;

		snprintf(what, sizeof(what), "rd_open with flags %s of a file whose O_DIRECT open is "
			 "refused (EINVAL) and which is removed before the open without O_DIRECT",
			 flags_str(odirect_paths[i]));
		snprintf(vpath, sizeof(vpath), "%s", grade_make_file("vanishing", f.data, f.size));
		hk.vanish_path = vpath;
		res_take(&before);
		ret = SEAM_CALL(rd_open(&r, vpath, 8, odirect_paths[i]));
		hk.vanish_path = NULL;
		if (ret == 0) {
			/* It had the file open before it was removed (opened through
			 * the page cache first, say): that reader is as good as any. */
			read_and_close(r, &f, &before, what);
			continue;
		}
		grade_check(ret == -ENOENT, "%s returned %s, expected -ENOENT: the open through the "
			    "page cache that follows O_DIRECT's EINVAL failed with ENOENT, and that "
			    "is the error rd_open returns, as it came. The EINVAL only sent the reader "
			    "to the page cache; it is not what went wrong in the end (reader.h, "
			    "rd_open: \"Any other failure of a step is ... an error: rd_open returns "
			    "it\"; TODO 4)", what, grade_errno_str(ret));
		grade_check(r == NULL, "%s failed but wrote *out", what);
		res_check(&before, what);
	}
	free(f.data);
}

GRADE_TEST(errors, access_refused, 2,
	   "a file open(2) refuses with EACCES: -EACCES with every flag, nothing left; an O_DIRECT "
	   "open that fails with ENOMEM or EOPNOTSUPP (not EINVAL): that error, not a reader "
	   "through the page cache",
	   "TODO 4: only EINVAL with O_DIRECT means \"read through the page cache\"; EACCES, "
	   "ENOMEM, EOPNOTSUPP and every other error of the O_DIRECT open are the caller's to see "
	   "(open(2), "
	   "ERRORS; lesson, section 6, \"everything else is an error\")")
{
	struct datafile f;

	ch10_setup();
	f = make_data("f", 10000);
	hk.eacces_path = f.path;
	for (size_t i = 0; i < sizeof(every_path) / sizeof(every_path[0]); i++) {
		struct reader *r = NULL;
		struct res before;
		char what[96];
		int ret;

		snprintf(what, sizeof(what), "rd_open of a file refused with EACCES, flags %s",
			 flags_str(every_path[i]));
		res_take(&before);
		ret = SEAM_CALL(rd_open(&r, f.path, 8, every_path[i]));
		grade_check(ret == -EACCES, "%s returned %s, expected -EACCES", what,
			    grade_errno_str(ret));
		grade_check(r == NULL, "%s failed but wrote *out", what);
		res_check(&before, what);
	}
	hk.eacces_path = NULL;
	/* The O_DIRECT open fails, but not with EINVAL (the kernel out of memory
	 * for that open, say): that is not "this filesystem has no direct I/O"
	 * but an error, returned as it came, wherever O_DIRECT is asked first.
	 * EOPNOTSUPP too: "not supported" is not how a filesystem refuses
	 * O_DIRECT (open(2) says EINVAL for that), whatever the name suggests. */
	static const struct { int err; const char *name; } errs[] = {
		{ ENOMEM, "ENOMEM" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	};
	for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
	for (size_t i = 0; i < sizeof(odirect_paths) / sizeof(odirect_paths[0]); i++) {
		struct reader *r = NULL;
		struct res before;
		char what[160];
		int ret;

		snprintf(what, sizeof(what), "rd_open with flags %s, the open with O_DIRECT failing "
			 "with %s (not EINVAL)", flags_str(odirect_paths[i]), errs[k].name);
		hk.odirect_err = errs[k].err;
		res_take(&before);
		ret = SEAM_CALL(rd_open(&r, f.path, 8, odirect_paths[i]));
		hk.odirect_err = 0;
		grade_check(ret == -errs[k].err, "%s returned %s%s%s%s, expected -%s: only EINVAL from an "
			    "O_DIRECT open means \"no direct I/O on this filesystem, read through the "
			    "page cache\"; any other error of that open is rd_open's error, as it came, "
			    "and rd_why would otherwise name an EINVAL that never happened (reader.h, "
			    "rd_open: \"Any other failure of a step is ... an error\"; TODO 4)", what,
			    grade_errno_str(ret), ret == 0 && r ? " (a reader whose rd_why says \"" : "",
			    ret == 0 && r ? why_of(r) : "", ret == 0 && r ? "\")" : "",
			    errs[k].name);
		if (ret == 0 && r) {
			close_reader(r);
			r = NULL;
		}
		grade_check(r == NULL, "%s failed but wrote *out", what);
		res_check(&before, what);
	}
	free(f.data);
}

GRADE_TEST(errors, out_of_memory, 2,
	   "malloc failing at each allocation of rd_open in turn (the reader's, the pool's): "
	   "-ENOMEM, nothing left",
	   "TODO 1: allocate the reader (and let tpool_create allocate the pool); on any failure "
	   "release what exists and return -ENOMEM (malloc(3); reader.h, rd_open; lesson, "
	   "section 7, \"nothing left behind\")")
{
	static const unsigned flags[] = { 0, RD_NO_URING, RD_NO_URING | RD_NO_LIBAIO };
	struct datafile f;

	ch10_setup();
	f = make_data("f", 10000);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		long nth;

		for (nth = 1; nth <= 20; nth++) {
			struct reader *r = NULL;
			struct seam_heap h;
			struct res before;
			char what[128];
			int ret;

			snprintf(what, sizeof(what), "rd_open with flags %s, allocation %ld failing",
				 flags_str(flags[i]), nth);
			res_take(&before);
			seam_heap_fail(nth, 1);
			ret = SEAM_CALL(rd_open(&r, f.path, 8, flags[i]));
			seam_heap_usage(&h);
			seam_heap_fail(0, 0);
			if (ret == 0 && h.failed == before.heap.failed) {
				close_reader(r);  /* fewer allocations than nth: done */
				break;
			}
			if (ret == 0) {
				/* An allocation failed, yet rd_open gave a reader:
				 * one it could do without (io_uring's opcode probe,
				 * taken as "no probe", so the next interface). Which
				 * allocation is the reader's is the module's choice
				 * (built on the stack and moved, say); the reader it
				 * gave must be whole: it reads. */
				grade_check(r != NULL, "%s: rd_open returned 0 but left *out NULL: "
					    "when an allocation rd_open cannot do without fails, "
					    "return -ENOMEM (TODO 1)", what);
				read_and_close(r, &f, &before, what);
				continue;
			}
			grade_check(ret == -ENOMEM, "%s: rd_open returned %s, expected -ENOMEM", what,
				    grade_errno_str(ret));
			grade_check(r == NULL, "%s: rd_open failed but wrote *out", what);
			res_check(&before, what);
		}
		grade_check(nth > 1, "rd_open with flags %s allocated nothing: the reader is "
			    "allocated (TODO 1)", flags_str(flags[i]));
	}
	free(f.data);
}

GRADE_TEST(errors, pool_fails, 2,
	   "pthread_create refused (EAGAIN) for the 1st and then the 3rd worker, on every way to "
	   "the pool (both flags; io_uring and io_setup refused; O_DIRECT refused; RD_DIRECT kept "
	   "after io_setup refused): -EAGAIN, no thread, descriptor, AIO context or memory left",
	   "TODOs 1 and 6: tpool_create's failure is rd_open's failure, returned as it came, "
	   "after closing the file, whichever step opened it, and freeing the reader (reader.h, "
	   "rd_open: \"On every failure nothing is left behind\"; lesson, section 7, \"nothing "
	   "left behind\", and Hints, \"one clean-up path\")")
{
	static const long fail_at[] = { 1, 3 };
	static const struct { unsigned flags; int init_err, setup_err; bool odirect_einval, direct;
			      const char *what; } paths[] = {
		{ RD_NO_URING | RD_NO_LIBAIO, 0, 0, false, false, "RD_NO_URING|RD_NO_LIBAIO" },
		{ 0, -EPERM, -EAGAIN, false, false, "io_uring refused (EPERM), io_setup refused "
		  "(EAGAIN)" },
		{ RD_NO_URING, 0, 0, true, false, "RD_NO_URING, O_DIRECT refused (EINVAL): the "
		  "buffered descriptor of the libaio step kept for the pool" },
		{ RD_NO_URING | RD_DIRECT, 0, -EAGAIN, false, true, "RD_NO_URING|RD_DIRECT, io_setup "
		  "refused (EAGAIN): the O_DIRECT descriptor of the libaio step kept for the pool" },
	};
	struct datafile f;

	ch10_setup();
	f = make_data("f", 10000);
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		if (paths[p].direct && !odirect_works_here())
			continue;
		for (size_t i = 0; i < sizeof(fail_at) / sizeof(fail_at[0]); i++) {
			struct reader *r = NULL;
			struct res before;
			char what[256];
			int ret;

			snprintf(what, sizeof(what), "%s: rd_open of a 4-thread pool whose "
				 "pthread_create #%ld fails with EAGAIN", paths[p].what, fail_at[i]);
			atomic_store(&creates, 0);
			hk.create_fail_at = fail_at[i];
			hk.init_err = paths[p].init_err;
			hk.setup_err = paths[p].setup_err;
			hk.odirect_einval = paths[p].odirect_einval;
			res_take(&before);
			ret = SEAM_CALL(rd_open(&r, f.path, 4, paths[p].flags));
			grade_check(ret == -EAGAIN, "%s: rd_open returned %s, expected -EAGAIN", what,
				    grade_errno_str(ret));
			grade_check(r == NULL, "%s: rd_open failed but wrote *out", what);
			res_check(&before, what);
		}
	}
	hk.create_fail_at = 0;
	hk.init_err = hk.setup_err = 0;
	hk.odirect_einval = false;
	free(f.data);
}

GRADE_TEST(errors, descriptor_zero, 1,
	   "the file may get descriptor 0 (the caller closed stdin): it is opened, kept, read and "
	   "closed like any other",
	   "TODOs 4 and 9: open(2) returns -1 on failure and any descriptor from 0 up on success; "
	   "\"no file\" is -1 in the reader, never 0 (open(2), RETURN VALUE; lesson, Hints, "
	   "\"one clean-up path\")")
{
	static const struct { unsigned flags; int setup_err; bool odirect_einval; bool aio;
			      enum rd_backend want; const char *what; } cases[] = {
		{ RD_NO_URING | RD_NO_LIBAIO, 0, false, false, RD_THREADS, "a pool reader" },
		{ RD_NO_URING, 0, false, true, RD_LIBAIO, "a libaio reader" },
		{ RD_NO_URING, 0, true, false, RD_THREADS,
		  "RD_NO_URING with O_DIRECT refused (the buffered descriptor kept for the pool)" },
		{ RD_NO_URING | RD_DIRECT, -EAGAIN, false, false, RD_THREADS,
		  "RD_NO_URING|RD_DIRECT with io_setup refused (the O_DIRECT descriptor kept)" },
	};
	struct datafile f;
	int saved;

	ch10_setup();
	require_odirect();
	f = make_data("f", 60000);
	saved = fcntl(0, F_DUPFD_CLOEXEC, 10);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res before;
		struct reader *r;
		char what[160];

		if (cases[i].aio)
			require_aio();
		snprintf(what, sizeof(what), "%s, descriptor 0 free", cases[i].what);
		hk.setup_err = cases[i].setup_err;
		hk.odirect_einval = cases[i].odirect_einval;
		close(0);
		res_take(&before);
		errno = EXDEV;  /* what a test of errno instead of the result would return */
		r = open_ok(f.path, 4, cases[i].flags, cases[i].want, what);
		/* Descriptor 0 is the reader's, or free again: a module may open
		 * the file there and move on to another descriptor (an O_DIRECT
		 * one opened beside it, then the first closed), but 0 held beside
		 * rd_fd is a descriptor taken for nothing. */
		grade_check(SEAM_CALL(rd_fd(r)) == 0 || fcntl(0, F_GETFD) < 0, "%s: rd_fd is %d, "
			    "yet descriptor 0, free before rd_open, is open now: rd_open opened the "
			    "file there (open(2) gives the lowest free descriptor) and kept it beside "
			    "the reader's. 0 is a descriptor like any other: the reader keeps the one "
			    "that succeeded, and closes any it gives up", what, SEAM_CALL(rd_fd(r)));
		check_fd(r, cases[i].flags & RD_DIRECT || cases[i].want == RD_LIBAIO, what);
		hk.setup_err = 0;
		hk.odirect_einval = false;
		read_and_close(r, &f, &before, what);
	}
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	free(f.data);
}

/* =============================================== 5. what rd_close does */

GRADE_TEST(close, releases_everything, 2,
	   "rd_close after batches, with each interface: no descriptor, ring, AIO context, thread "
	   "or memory left; closing one reader leaves another of the same interface reading",
	   "TODO 9: ring (ubatch_exit) or pool (tpool_destroy), then the file, then the reader: "
	   "each reader's own, set up by its rd_open, never shared with another reader "
	   "(reader.h, rd_close; lesson, Hints, \"one clean-up path\")")
{
	static const unsigned flags[] = { 0, RD_NO_URING, RD_NO_URING | RD_NO_LIBAIO,
					  RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO };
	struct datafile f;

	ch10_setup();
	grade_require_io_uring(16);
	require_libaio();
	f = make_data("f", 150000);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct res before;
		struct reader *r;
		char what[96];

		struct reader *other;
		char what2[160];

		snprintf(what, sizeof(what), "rd_close of a reader opened with flags %s",
			 flags_str(flags[i]));
		snprintf(what2, sizeof(what2), "a second reader with flags %s, open while the first "
			 "was, read after the first's rd_close", flags_str(flags[i]));
		res_take(&before);
		r = open_ok(f.path, 16, flags[i], 0, what);
		other = open_ok(f.path, 16, flags[i], SEAM_CALL(rd_backend(r)), what2);
		read_some(r, &f, what);
		read_some(other, &f, what2);
		close_reader(r);
		read_and_close(other, &f, &before, what2);
	}
	free(f.data);
}

GRADE_TEST(why, stays, 1,
	   "rd_why: one line of at most 255 bytes naming the interface taken, the same after "
	   "batches and while another reader is open; each reader's line its own, not a copy in "
	   "one buffer",
	   "TODO 7: the line is written while rd_open decides and kept in the reader until "
	   "rd_close (reader.h, rd_why; lesson, section 6 and Hints, \"append to the reason\")")
{
	static const unsigned flags[] = { 0, RD_NO_URING | RD_NO_LIBAIO };
	enum { NR = sizeof(flags) / sizeof(flags[0]) };
	char first[NR][320], what[NR][96];
	struct reader *r[NR];
	struct datafile f;

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 50000);
	/* Both readers open at once: each line is its own reader's. */
	for (size_t i = 0; i < NR; i++) {
		snprintf(what[i], sizeof(what[i]), "a reader opened with flags %s", flags_str(flags[i]));
		r[i] = open_ok(f.path, 8, flags[i], 0, what[i]);
		snprintf(first[i], sizeof(first[i]), "%s", why_of(r[i]));
		check_why_has(r[i], backend_str(SEAM_CALL(rd_backend(r[i]))), what[i]);
	}
	/* Both lines asked for, then read: each pointer is its own reader's line
	 * (kept inside the reader), not one buffer that every call refills. */
	{
		const char *w[NR];

		for (size_t i = 0; i < NR; i++)
			w[i] = SEAM_CALL(rd_why(r[i]));
		for (size_t i = 0; i < NR; i++)
			grade_check(w[i] && !strcmp(w[i], first[i]), "%s: rd_why returned a line that "
				    "said \"%s\", but once rd_why had been asked for the other reader's "
				    "line it says \"%.300s\": the line is kept inside its reader until "
				    "rd_close, and rd_why returns that (reader.h, rd_why), not a copy in "
				    "one buffer that every call rewrites (TODO 7)", what[i], first[i],
				    w[i] ? w[i] : "(NULL)");
	}
	for (size_t i = 0; i < NR; i++) {
		read_some(r[i], &f, what[i]);
		read_some(r[i], &f, what[i]);
		grade_check(!strcmp(first[i], why_of(r[i])), "%s: rd_why said \"%s\" after rd_open "
			    "and \"%s\" after two batches%s: it is why this reader took its "
			    "interface, kept as it was inside the reader until rd_close (not in a "
			    "buffer every reader shares)", what[i], first[i], why_of(r[i]),
			    i == 0 ? " and another reader's rd_open" : "");
	}
	for (size_t i = 0; i < NR; i++)
		close_reader(r[i]);
	free(f.data);
}

/* ============================================ 6. the batch, per back-end */

/*
 * One reader per session of the battery, opened with the instance's flags
 * and required to take its back-end. Around every batch: no ring set up,
 * no thread created, no read(2)/pread(2) on the caller's thread, and the
 * back-end's own calls seen (io_uring_submit*, io_submit, the workers'
 * preads).
 */
static struct {
	unsigned flags;
	enum rd_backend want;
	struct reader *r;
	unsigned qd;
	int threads_before;
	/* counters at the start of the batch */
	long inits, creates, reads, by_caller, submits, uring_submits;
	long aio_setups, aio_destroys;
} bt;

static long uring_submits(void)
{
	return seam_calls_sum(SEAM_io_uring_submit, SEAM_io_uring_submit_and_wait,
			      SEAM_io_uring_submit_and_wait_timeout, SEAM_io_uring_submit_and_get_events,
			      SEAM_io_uring_enter, SEAM_io_uring_enter2, SEAM_COUNT);
}

static int bt_open(const char *path, unsigned qd, size_t *align)
{
	char what[96];

	snprintf(what, sizeof(what), "rd_open(&r, path, %u, %s)",
		 qd, flags_str(bt.flags));
	bt.threads_before = fault_count_threads();
	bt.qd = qd;
	bt.r = open_ok(path, qd, bt.flags, bt.want, what);
	*align = SEAM_CALL(rd_direct(bt.r)) ? LAIO_DIO_ALIGN : 1;
	return SEAM_CALL(rd_fd(bt.r));
}

static int bt_read(struct batch_req *reqs, size_t n)
{
	return SEAM_CALL(rd_batch_read(bt.r, reqs, n));
}

static void bt_close(void)
{
	int left;

	close_reader(bt.r);
	bt.r = NULL;
	left = threads_settle(bt.threads_before) - bt.threads_before;
	grade_check(left == 0, "rd_close left %d thread(s) running: tpool_destroy the pool (TODO 9)",
		    left);
}

static void bt_before(void)
{
	watch.max_inflight = 0;
	hk.aio_max_inflight = 0;
	atomic_store(&reads_max_inflight, 0);
	atomic_store(&caller_tid, gettid());
	bt.inits = hk.init_calls;
	bt.creates = atomic_load(&creates);
	bt.reads = atomic_load(&reads);
	bt.by_caller = atomic_load(&reads_by_caller);
	bt.submits = hk.submits;
	bt.uring_submits = uring_submits();
	bt.aio_setups = hk.setup_calls;
	bt.aio_destroys = hk.destroys;
}

static void bt_after(const struct batch_req *reqs, size_t n, int ret, const char *what)
{
	long inits = hk.init_calls - bt.inits, made = atomic_load(&creates) - bt.creates;
	long rd = atomic_load(&reads) - bt.reads, by_caller = atomic_load(&reads_by_caller) - bt.by_caller;
	long aio = hk.submits - bt.submits, uring = uring_submits() - bt.uring_submits;
	bool moved = false;

	(void)ret;
	for (size_t i = 0; i < n; i++)
		moved |= reqs[i].res > 0;
	grade_check(inits == 0, "rd_batch_read (%s) set up %ld ring(s): the reader's ring is set "
		    "up once, by rd_open, and every batch goes through it (no ubatch_batch_read; "
		    "TODO 8)", what, inits);
	grade_check(made == 0, "rd_batch_read (%s) started %ld thread(s): the pool's threads are "
		    "started once, by rd_open (no tpool_batch_read_once; TODO 8)", what, made);
	grade_check(hk.setup_calls == bt.aio_setups && hk.destroys == bt.aio_destroys,
		    "rd_batch_read (%s) made %ld io_setup and %ld io_destroy call(s): the reader's AIO "
		    "context is set up once, by rd_open, and every batch reads through it "
		    "(laio_batch_read_ctx, not laio_batch_read, whose io_destroy costs tens of "
		    "milliseconds per batch; TODO 8)", what, hk.setup_calls - bt.aio_setups,
		    hk.destroys - bt.aio_destroys);
	grade_check(by_caller == 0, "rd_batch_read (%s) called read or pread %ld time(s) on the "
		    "caller's thread: the reads go through the back-end the reader took (TODO 8)",
		    what, by_caller);
	if (!moved)
		return;
	switch (bt.want) {
	case RD_IO_URING:
		grade_check(uring > 0 && rd == 0 && aio == 0, "rd_batch_read (%s) on an io_uring "
			    "reader: %ld io_uring submit(s), %ld read/pread call(s), %ld io_submit "
			    "call(s); the reads go through the reader's ring: ubatch_read (TODO 8)",
			    what, uring, rd, aio);
		break;
	case RD_LIBAIO:
		grade_check(hk.aio_max_inflight <= (long)(bt.qd < RD_MAX_RING ? bt.qd : RD_MAX_RING),
			    "rd_batch_read (%s) on a libaio reader opened at qd %u: %ld reads were in "
			    "flight at once in an AIO context set up for min(qd, RD_MAX_RING) = %u "
			    "events: laio_batch_read_ctx is handed the nr_events the context was set up "
			    "with, and qd as the window, each in its place (laio.h, "
			    "laio_batch_read_ctx: nr_events; TODO 8)", what, bt.qd, hk.aio_max_inflight,
			    bt.qd < RD_MAX_RING ? bt.qd : RD_MAX_RING);
		grade_check(aio > 0 && rd == 0 && uring == 0, "rd_batch_read (%s) on a libaio "
			    "reader: %ld io_submit call(s), %ld read/pread call(s), %ld io_uring "
			    "submit(s); the reads go through laio_batch_read_ctx on the reader's "
			    "context (TODO 8)", what, aio, rd,
			    uring);
		break;
	case RD_THREADS:
		grade_check(rd > 0 && aio == 0 && uring == 0, "rd_batch_read (%s) on a pool reader: "
			    "%ld pread(s) by the pool's workers, %ld io_submit call(s), %ld io_uring "
			    "submit(s); the reads go through the pool: tpool_batch_read (TODO 8)", what,
			    rd, aio, uring);
		break;
	}
}

static unsigned pow2_at_least(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static long uring_max_inflight(void) { return (long)watch.max_inflight; }
static long aio_max_inflight(void) { return hk.aio_max_inflight; }
static long pool_max_inflight(void) { return atomic_load(&reads_max_inflight); }

/* ubatch_read fills min(qd, its CQ) before it waits, and its CQ has twice
 * the SQ's slots: a ring of min(qd, RD_MAX_RING) entries, rounded up to a
 * power of two by the kernel. */
static unsigned uring_fills_to(unsigned qd, size_t n)
{
	unsigned ring = pow2_at_least(qd < RD_MAX_RING ? qd : RD_MAX_RING), fill = 2 * ring;

	if (qd < fill)
		fill = qd;
	return n < fill ? (unsigned)n : fill;
}

/* laio_batch_read_ctx submits min(qd, n, nr_events, LAIO_MAX_QD) before its
 * first wait, and the reader's context has min(qd, RD_MAX_RING) events. */
static unsigned aio_fills_to(unsigned qd, size_t n)
{
	unsigned fill = qd < RD_MAX_RING ? qd : RD_MAX_RING;

	return n < fill ? (unsigned)n : fill;
}

static void uring_setup(void)
{
	ch10_setup();
	grade_require_io_uring(RD_MAX_RING);
	bt.flags = 0;
	bt.want = RD_IO_URING;
}

static void aio_setup(void)
{
	ch10_setup();
	require_libaio();
	bt.flags = RD_NO_URING;
	bt.want = RD_LIBAIO;
}

static void pool_setup(void)
{
	ch10_setup();
	bt.flags = RD_NO_URING | RD_NO_LIBAIO;
	bt.want = RD_THREADS;
}

static const struct battery_target uring_target = {
	.name = "rd_batch_read through io_uring",
	.setup = uring_setup, .open = bt_open, .read = bt_read, .close = bt_close,
	.before = bt_before, .after = bt_after,
	.max_inflight = uring_max_inflight, .fills_to = uring_fills_to,
};
static const struct battery_target aio_target = {
	.name = "rd_batch_read through libaio",
	.setup = aio_setup, .open = bt_open, .read = bt_read, .close = bt_close,
	.before = bt_before, .after = bt_after,
	.max_inflight = aio_max_inflight, .fills_to = aio_fills_to,
};
static const struct battery_target pool_target = {
	.name = "rd_batch_read through the thread pool",
	.setup = pool_setup, .open = bt_open, .read = bt_read, .close = bt_close,
	.before = bt_before, .after = bt_after,
	.max_inflight = pool_max_inflight,
};

/* Three batches through one reader: the mechanism, said plainly. */
static void mechanism(const struct battery_target *t, unsigned qd, const char *what)
{
	struct datafile f = make_data("f", 400000);
	size_t align = 1;
	int fd = t->open(f.path, qd, &align);
	long inits_at_open = hk.init_calls;

	for (int round = 0; round < 3; round++) {
		size_t n = 40 + grade_rand_below(40);
		struct batch_req *reqs = battery_reqs(fd, n, f.size, 20000, align);
		char label[96];
		int ret;

		snprintf(label, sizeof(label), "%s, batch %d of %zu reads at qd %u", what, round + 1, n,
			 qd);
		ret = battery_run(t, reqs, n, label);
		grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0", label,
			    grade_errno_str(ret));
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, f.data, f.size, label);
		free_reqs(reqs, n);
	}
	grade_check(hk.init_calls == inits_at_open, "%s: %ld ring(s) were set up during the "
		    "batches: one ring for the reader's life (TODO 8)", what,
		    hk.init_calls - inits_at_open);
	t->close();
	free(f.data);
}

GRADE_TEST(mechanism, io_uring, 2,
	   "an io_uring reader: every batch through its one ring (io_uring_submit seen, no new "
	   "ring, no read on the caller's thread)",
	   "TODO 8: ubatch_read on the ring rd_open set up, with the reader's qd (reader.h, "
	   "rd_batch_read; lesson, section 7, \"one ring, one pool, for the reader's life\")")
{
	uring_setup();
	mechanism(&uring_target, 16, "an io_uring reader");
}

GRADE_TEST(mechanism, libaio, 2,
	   "a libaio reader: every batch through io_submit on O_DIRECT on its one AIO context "
	   "(no io_setup or io_destroy per batch), no ring, no thread, no pread",
	   "TODO 8: laio_batch_read_ctx on the context rd_open set up, with the reader's qd "
	   "(reader.h, rd_batch_read; lesson, section 7, \"one ring, one context, one pool, "
	   "for the reader's life\")")
{
	aio_setup();
	mechanism(&aio_target, 16, "a libaio reader");
}

GRADE_TEST(mechanism, threads, 2,
	   "a pool reader: the preads made by the pool's workers, never by the caller; no new "
	   "thread per batch",
	   "TODO 8: tpool_batch_read on the pool rd_open made, with the reader's qd (reader.h, "
	   "rd_batch_read; lesson, section 7, \"one ring, one pool, for the reader's life\")")
{
	pool_setup();
	mechanism(&pool_target, 16, "a pool reader");
}

BATCH_BATTERY(uring_batch, uring_target, "rd_batch_read through io_uring",
	      "TODO 8 (ubatch_read on the reader's ring, with its qd; lesson, section 7)")
BATCH_BATTERY(libaio_batch, aio_target, "rd_batch_read through libaio",
	      "TODO 8 (laio_batch_read_ctx on the reader's context and O_DIRECT file, with "
	      "the reader's qd; lesson, section 7)")
BATCH_BATTERY(pool_batch, pool_target, "rd_batch_read through the thread pool",
	      "TODO 8 (tpool_batch_read on the reader's pool, with its qd; lesson, section 7)")

/* A libaio reader's batch fails with err (-ENOMEM: every allocation
 * fails; -EAGAIN: every io_submit is refused), which leaves the context
 * empty and usable: it is kept, and the next batch reads. */
static void batch_fails_then_reads(struct reader *r, struct batch_req *reqs, size_t n,
				   const struct datafile *f, const char *what, int err,
				   const char *how)
{
	const char *name = err == -ENOMEM ? "-ENOMEM" : "-EAGAIN";
	long destroys = hk.destroys;
	char after[64];
	int ret;

	if (err == -ENOMEM)
		seam_heap_fail(1, 1000000);
	else
		hk.submit_err = err;
	ret = SEAM_CALL(rd_batch_read(r, reqs, n));
	seam_heap_fail(0, 0);
	hk.submit_err = 0;
	grade_check(ret == err, "%s: a batch whose %s returned %s, expected %s "
		    "(laio_batch_read_ctx's, as it came)", what, how, grade_errno_str(ret), name);
	grade_check(hk.destroys == destroys && contexts_alive() == 1, "%s: after a batch that "
		    "failed with %s (%s) the reader destroyed its AIO context (%ld io_destroy): "
		    "-ENOMEM and -EAGAIN leave the context empty and usable, and the reader can be "
		    "used again; only the other errors (io_getevents failed) end it (reader.h, "
		    "rd_batch_read; laio.h, laio_batch_read_ctx; TODO 8)", what, name, how,
		    hk.destroys - destroys);
	ret = SEAM_CALL(rd_batch_read(r, reqs, n));
	grade_check(ret == 0, "%s: the batch after one that failed with %s returned %s, "
		    "expected 0: the reader can be used again after %s (reader.h, rd_batch_read; "
		    "TODO 8)", what, name, grade_errno_str(ret), name);
	snprintf(after, sizeof(after), "the batch after %s", name);
	if (ret == 0)
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, f->data, f->size, after);
}

GRADE_TEST(errors, libaio_batch_fails, 2,
	   "a libaio batch that fails: after -ENOMEM or -EAGAIN the reader reads on with its "
	   "context; after io_getevents fails (-EFAULT, -EINVAL, -EPERM), the context is destroyed "
	   "before rd_batch_read returns, errno untouched",
	   "TODO 8: laio_batch_read_ctx's -EAGAIN and -ENOMEM leave the context empty and usable: "
	   "keep it; any other error may leave reads in flight into the caller's buffers: "
	   "io_destroy the context (it waits for them) before returning (reader.h, rd_batch_read; "
	   "laio.h, laio_batch_read_ctx, Returns; lesson, section 7)")
{
	const char *what = "a libaio reader (RD_NO_URING, qd 8)";
	struct datafile f;
	struct reader *r;
	struct res before;
	struct batch_req *reqs;
	size_t n = 24;
	long destroys;
	int ret, err;

	ch10_setup();
	require_libaio();
	f = make_data("f", 400000);
	res_take(&before);
	r = open_ok(f.path, 8, RD_NO_URING, RD_LIBAIO, what);
	reqs = battery_reqs(SEAM_CALL(rd_fd(r)), n, f.size, 20000, LAIO_DIO_ALIGN);

	/* Every allocation fails; then the kernel refuses every io_submit
	 * (-EAGAIN: out of request slots for now), and laio_batch_read_ctx
	 * gives up after a few pauses. Nothing of the batch is in flight. */
	batch_fails_then_reads(r, reqs, n, &f, what, -ENOMEM, "every allocation fails");
	batch_fails_then_reads(r, reqs, n, &f, what, -EAGAIN, "every io_submit answers -EAGAIN");

	destroys = hk.destroys;
	hk.getevents_err = -EFAULT;
	errno = EXDEV;
	ret = SEAM_CALL(rd_batch_read(r, reqs, n));
	err = errno;
	hk.getevents_err = 0;
	grade_check(ret == -EFAULT, "%s: a batch whose io_getevents answers -EFAULT returned %s, "
		    "expected -EFAULT (laio_batch_read_ctx's, as it came)", what,
		    grade_errno_str(ret));
	grade_check(hk.destroys == destroys + 1 && contexts_alive() == 0, "%s: rd_batch_read "
		    "returned after io_getevents failed with its AIO context still set up: reads "
		    "of that batch may still be in flight into the caller's buffers; io_destroy "
		    "the context, which waits for them, before returning, and only rd_close is "
		    "allowed after (reader.h, rd_batch_read; laio.h, laio_batch_read_ctx, Returns; "
		    "TODO 8)", what);
	grade_check(err == EXDEV, "%s: the batch that failed with -EFAULT changed errno from "
		    "EXDEV to %s: reader.h, \"nothing here reads or sets errno for its caller\"; the "
		    "result is the error (TODO 8)", what,
		    strerrorname_np(err) ? strerrorname_np(err) : "another value");
	close_reader(r);
	grade_check(hk.destroys_failed == 0, "%s: rd_close called io_destroy on the AIO context "
		    "the failed batch had already destroyed (io_destroy answered EINVAL): forget a "
		    "context once it is destroyed (0 in the reader), or the next io_destroy of that "
		    "number may end another reader's context, which io_setup can give the same "
		    "number (TODOs 8 and 9)", what);
	/* Not only -EFAULT: every io_getevents error but -EINTR (which
	 * laio_batch_read_ctx waits through) ends the batch with reads maybe
	 * still in flight. -EINVAL, then -EPERM (what a seccomp filter on
	 * io_getevents answers: no errno of io_getevents(2)'s ERRORS, so a list
	 * of those is not the rule), each on a reader of its own. */
	for (int k = 0; k < 2; k++) {
		const int err2 = k == 0 ? -EINVAL : -EPERM;
		char what2[160];

		snprintf(what2, sizeof(what2), "a libaio reader (RD_NO_URING, qd 8) whose batch's "
			 "io_getevents answers %s%s", grade_errno_str(err2),
			 k == 0 ? "" : " (a seccomp filter's answer)");
		r = open_ok(f.path, 8, RD_NO_URING, RD_LIBAIO, what2);
		destroys = hk.destroys;
		hk.getevents_err = err2;
		ret = SEAM_CALL(rd_batch_read(r, reqs, n));
		hk.getevents_err = 0;
		grade_check(ret == err2, "%s: rd_batch_read returned %s, expected %s "
			    "(laio_batch_read_ctx's, as it came)", what2, grade_errno_str(ret),
			    grade_errno_str(err2));
		grade_check(hk.destroys == destroys + 1 && contexts_alive() == 0, "%s: rd_batch_read "
			    "returned with its AIO context still set up: every error of "
			    "laio_batch_read_ctx other than -EAGAIN and -ENOMEM (not only -EFAULT, "
			    "not only the errors io_getevents(2) lists: a seccomp filter answers "
			    "any errno it is given) may leave reads in flight into the caller's "
			    "buffers; io_destroy the context before returning. Test for the two "
			    "errors that keep the context, not for the ones that end it (reader.h, "
			    "rd_batch_read: \"from the libaio back-end other than -EAGAIN and "
			    "-ENOMEM\"; laio.h, laio_batch_read_ctx, Returns; TODO 8)", what2);
		close_reader(r);
		grade_check(hk.destroys_failed == 0, "%s: rd_close called io_destroy on the AIO "
			    "context the failed batch had already destroyed (TODOs 8 and 9)", what2);
	}
	free_reqs(reqs, n);
	res_check(&before, "rd_close of a libaio reader whose batch failed");
	free(f.data);
}

/* One io_uring reader (qd 8) whose batch's io_uring_enter answers err: once
 * (the kernel took nothing: -EFAULT), or from then on (forever: the kernel
 * short of requests for good, -EAGAIN, or of CQ room, -EBUSY). ubatch_read
 * retries a few rounds of -EAGAIN/-EBUSY itself and then gives up with the
 * error; the reader returns it as it came and calls it no more (ubatch.h:
 * after an error the ring is only to be released). */
static void uring_batch_fails_with(const struct datafile *f, int err, bool forever)
{
	char what[160];
	struct reader *r;
	struct res before;
	struct batch_req *reqs;
	size_t n = 24;
	long made, rd;
	int ret, errn;

	snprintf(what, sizeof(what), "an io_uring reader (qd 8) whose batch's io_uring_enter "
		 "answers %s%s", grade_errno_str(err), forever ? " every time" : "");
	res_take(&before);
	r = open_ok(f->path, 8, 0, RD_IO_URING, "an io_uring reader (qd 8)");
	reqs = battery_reqs(SEAM_CALL(rd_fd(r)), n, f->size, 20000, 1);
	made = atomic_load(&creates);
	rd = atomic_load(&reads);
	/* The first call of the batch that would enter the kernel fails: the
	 * kernel took nothing (io_uring_enter(2), EFAULT, EAGAIN, EBUSY). A
	 * reader that asks the ring again and again after its error meets the
	 * watchdog, with this message. */
	watch.inject_err = err;
	watch.inject_at = watch.calls + 1;
	watch.inject_forever = forever;
	watch.limit = watch.calls + 5000;
	watch.limit_why = "every io_uring_enter of the batch answered the same error, and "
			  "rd_batch_read called ubatch_read again and again: a spin against a "
			  "kernel short of requests, on a ring ubatch.h says is only to be "
			  "released after an error. ubatch_read already retries -EAGAIN/-EBUSY "
			  "a few rounds; its error is rd_batch_read's, returned once, and after "
			  "it only rd_close is allowed (reader.h, rd_batch_read; TODO 8)";
	errno = EXDEV;
	ret = SEAM_CALL(rd_batch_read(r, reqs, n));
	errn = errno;
	watch.inject_at = 0;
	watch.inject_forever = false;
	watch.limit = 200000;
	watch.limit_why = NULL;
	made = atomic_load(&creates) - made;
	rd = atomic_load(&reads) - rd;
	grade_check(ret == err, "%s: rd_batch_read returned %s, expected %s, "
		    "ubatch_read's error as it came%s: the batch as a whole could not run, and the "
		    "caller must know (reader.h, rd_batch_read: \"another -errno when the batch as a "
		    "whole could not run (the back-end's error)\"; TODO 8)", what,
		    grade_errno_str(ret), grade_errno_str(err),
		    made || rd ? ", after reading the batch again another way" :
		    ret == 0 ? ": the error was dropped, and the requests' res are not results" : "");
	grade_check(made == 0 && rd == 0, "%s: after the ring failed, rd_batch_read started %ld "
		    "thread(s) and made %ld pread(s): a reader reads only through the interface "
		    "rd_backend names, and after an io_uring error only rd_close is allowed: the "
		    "caller decides what a failure means (reader.h, rd_batch_read; TODO 8)", what,
		    made, rd);
	grade_check(errn == EXDEV, "%s: rd_batch_read changed errno from EXDEV to %s: reader.h, "
		    "\"nothing here reads or sets errno for its caller\"; the result is the error "
		    "(TODO 8)", what, strerrorname_np(errn) ? strerrorname_np(errn) : "another value");
	close_reader(r);
	free_reqs(reqs, n);
	res_check(&before, "rd_close of an io_uring reader whose batch failed");
}

GRADE_TEST(errors, uring_batch_fails, 1,
	   "an io_uring batch that fails as a whole (io_uring_enter answers -EFAULT once, or "
	   "-EAGAIN or -EBUSY every time): rd_batch_read returns the back-end's error as it came, "
	   "once, reads nothing another way, leaves errno alone; rd_close leaves nothing",
	   "TODO 8: ubatch_read's result is rd_batch_read's: an error for the batch as a whole is "
	   "the caller's to see, not 0, not a batch read again through another back-end, and not "
	   "a reason to call ubatch_read again (it retries -EAGAIN itself, a few rounds); after "
	   "it only rd_close is allowed (reader.h, rd_batch_read; ubatch.h, ubatch_read; "
	   "lesson, section 7, \"after a failed io_uring batch, only rd_close\")")
{
	struct datafile f;

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 400000);
	uring_batch_fails_with(&f, -EFAULT, false);
	uring_batch_fails_with(&f, -EAGAIN, true);
	uring_batch_fails_with(&f, -EBUSY, true);
	free(f.data);
}

enum { SLOW_N = 16, SLOW_QD = 4, SLOW_PATIENCE_MS = 3000 };

/* A batch of SLOW_N reads of 5000 bytes whose first, on `slow` (another
 * descriptor of f), is slow; the others on the reader's file. */
static void slow_batch(struct batch_req *reqs, int slow, int fd)
{
	for (int i = 0; i < SLOW_N; i++)
		reqs[i] = (struct batch_req){ i == 0 ? slow : fd, (off_t)(i * 17011), 5000,
					      battery_buf(5000), 0x5a5a };
}

/* The same batch aligned for O_DIRECT (a libaio reader's file). */
static void slow_batch_direct(struct batch_req *reqs, int slow, int fd)
{
	for (int i = 0; i < SLOW_N; i++)
		reqs[i] = (struct batch_req){ i == 0 ? slow : fd, (off_t)i * 4 * LAIO_DIO_ALIGN,
					      LAIO_DIO_ALIGN, battery_buf(LAIO_DIO_ALIGN), 0x5a5a };
}

/* Kernel AIO and O_DIRECT both work here, for real (no skip: the pool's
 * half of window.slow_read must run where they are missing). */
static bool libaio_works_here(void)
{
	io_context_t ctx = 0;

	if (SEAM_REAL(io_setup)(1, &ctx) != 0)
		return false;
	SEAM_REAL(io_destroy)(ctx);
	return odirect_works_here();
}

static void slow_done(struct batch_req *reqs, const struct datafile *f, const char *what)
{
	for (int i = 0; i < SLOW_N; i++) {
		check_req(&reqs[i], (size_t)i, f->data, f->size, what);
		free(reqs[i].buf);
	}
}

/* A pool reader's rd_batch_read of n requests whose read on `slow` goes on
 * only once all n have started (slow_read; after SLOW_PATIENCE_MS it goes
 * on anyway and sets hk.slow_stalled). Returns what rd_batch_read did. */
static int read_with_slow_first(struct reader *r, struct batch_req *reqs, size_t n, int slow)
{
	int ret;

	atomic_store(&reads, 0);
	hk.slow_fd = slow;
	hk.slow_ms = SLOW_PATIENCE_MS;
	hk.slow_want = (long)n;
	ret = SEAM_CALL(rd_batch_read(r, reqs, n));
	hk.slow_want = 0;
	return ret;
}

GRADE_TEST_T(window, slow_read, 2,
	     "one slow read does not hold up the rest of the batch: at qd 4, through the pool, "
	     "io_uring and libaio, the other 15 reads go on while the first is still reading",
	     "TODO 8: hand the back-end the whole batch and the qd, once: its window refills as "
	     "each read completes, so a slow read holds one slot of qd, never the batch; cutting "
	     "the batch into pieces (of qd, of the ring's size) makes every piece wait for its "
	     "slowest read (reader.h, rd_batch_read; paio.h, tpool_batch_read; ubatch.h, "
	     "ubatch_read; laio.h, laio_batch_read_ctx; lesson, pitfall 14)", 15)
{
	struct datafile f;
	struct reader *r;
	struct res before;
	struct batch_req reqs[SLOW_N];
	const char *what;
	int slow, ret;

	ch10_setup();
	f = make_data("f", 300000);
	slow = grade_open(f.path, O_RDONLY | O_CLOEXEC);

	/* The pool: the slow read's pread goes on only once all 16 reads have
	 * started (or after 3 s: then the others waited for it). */
	what = "a pool reader at qd 4, a batch of 16 whose first read is slow";
	res_take(&before);
	r = open_ok(f.path, SLOW_QD, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, what);
	slow_batch(reqs, slow, SEAM_CALL(rd_fd(r)));
	ret = read_with_slow_first(r, reqs, SLOW_N, slow);
	grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", what,
		    grade_errno_str(ret));
	slow_done(reqs, &f, what);
	grade_check(!atomic_load(&hk.slow_stalled), "%s: while the slow read was reading, only "
		    "%ld of the 16 reads had started after %d s: the others waited for it. At qd 4 "
		    "the slow read holds one slot and three workers go on with the other 15; a "
		    "batch cut into pieces (of qd, or any piece smaller than the batch) makes each "
		    "piece wait for its slowest read. Hand the back-end the whole batch with the "
		    "reader's qd (TODO 8)", what, atomic_load(&hk.slow_started),
		    SLOW_PATIENCE_MS / 1000);
	close_reader(r);
	res_check(&before, what);

	/* io_uring, where a ring comes up here (no skip: the pool's half
	 * must run where io_uring is missing too). */
	if (uring_works_here()) {
		what = "an io_uring reader at qd 4, a batch of 16 whose first read is held back "
		       "until the reader waits for it alone";
		res_take(&before);
		r = open_ok(f.path, SLOW_QD, 0, RD_IO_URING, what);
		slow_batch(reqs, slow, SEAM_CALL(rd_fd(r)));
		watch_slow_start(slow, f.data, 1);      /* the held read alone */
		ret = SEAM_CALL(rd_batch_read(r, reqs, SLOW_N));
		watch_slow_stop();
		grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", what,
			    grade_errno_str(ret));
		slow_done(reqs, &f, what);
		grade_check(!watch_slow.held || watch_slow.reads_while_held >= SLOW_N - 1, "%s: while the "
			    "first read was held back, the reader handed the kernel only %u of the "
			    "15 other reads: the rest waited for it. At qd 4 the held read takes one "
			    "slot and the other 15 go through the other three; a batch cut into "
			    "pieces (of qd, of the ring's entries) makes each piece wait for its "
			    "slowest read. Hand ubatch_read the whole batch with the reader's qd: it "
			    "keeps qd in flight through a ring of any size (TODO 8)", what,
			    watch_slow.reads_while_held);
		close_reader(r);
		watch_slow_close();
		res_check(&before, what);
	}

	/* libaio, where it works here: the slow read's event is held back until
	 * all 16 reads were handed to io_submit (or until it is all the reader
	 * still waits for: then the others waited for it). */
	if (libaio_works_here()) {
		what = "a libaio reader at qd 4, a batch of 16 whose first read's completion is "
		       "held back";
		res_take(&before);
		r = open_ok(f.path, SLOW_QD, RD_NO_URING, RD_LIBAIO, what);
		slow_batch_direct(reqs, slow, SEAM_CALL(rd_fd(r)));
		aslow.fd = slow;
		aslow.want = SLOW_N;
		aslow.submitted = 0;
		aslow.on = true;
		ret = SEAM_CALL(rd_batch_read(r, reqs, SLOW_N));
		aslow.on = false;
		grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", what,
			    grade_errno_str(ret));
		slow_done(reqs, &f, what);
		grade_check(!aslow.stalled, "%s: the held read was all the reader still waited for "
			    "when only %ld of the 16 reads had been handed to io_submit: the others "
			    "waited for it. At qd 4 the held read takes one slot of the context and "
			    "the other 15 go through the other three; a batch cut into pieces (of qd, "
			    "of the context's events) makes each piece wait for its slowest read. Hand "
			    "laio_batch_read_ctx the whole batch with the reader's qd: it refills the "
			    "window as each event comes (TODO 8)", what, aslow.submitted_at_release);
		close_reader(r);
		res_check(&before, what);
	}
	close(slow);
	free(f.data);
}

/* ================================== 8. two readers opened at one moment */

/*
 * Another thread opens a reader of its own while the first rd_open is
 * inside its ring's set-up: the first waits in the ubatch_init hook until
 * the other rd_open has returned (or 5 s have passed: an rd_open that
 * holds a lock of its own through the set-up makes the other wait for it,
 * which is allowed). No timing decides anything: the order is the gate's.
 */
enum { TWIN_IDLE, TWIN_GO, TWIN_DONE, TWIN_QUIT };
static struct {
	atomic_int state;
	const char *path;
	unsigned flags;
	struct reader *r;
	int ret;
	int errno_before, errno_after;  /* the other thread's errno around its rd_open */
} twin;

static void twin_wait_here(void)
{
	long deadline = fault_now_ms() + 5000;

	atomic_store(&twin.state, TWIN_GO);
	while (atomic_load(&twin.state) != TWIN_DONE && fault_now_ms() < deadline)
		fault_nap();
}

static void *twin_main(void *arg)
{
	int st;

	(void)arg;
	while ((st = atomic_load(&twin.state)) != TWIN_GO && st != TWIN_QUIT)
		fault_nap();
	if (st == TWIN_GO) {
		/* The first rd_open is inside SEAM_CALL: this one is counted
		 * and hooked like it. */
		errno = twin.errno_before;
		twin.ret = rd_open(&twin.r, twin.path, 4, twin.flags);
		twin.errno_after = errno;
		atomic_store(&twin.state, TWIN_DONE);
	}
	return NULL;
}

/* rd_fd is open on `path` (the same inode), not on another file. */
static void check_same_file(const struct reader *r, const char *path, const char *other,
			    const char *what)
{
	struct stat want, got;

	grade_check(stat(path, &want) == 0, "harness: stat %s: %s", path, strerror(errno));
	grade_check(fstat(SEAM_CALL(rd_fd(r)), &got) == 0 && got.st_dev == want.st_dev &&
			    got.st_ino == want.st_ino,
		    "%s: rd_fd is not open on the file this rd_open was given%s: the path came from "
		    "a static (most likely) that the other thread's rd_open (of %s) rewrote "
		    "while this one was setting up its ring. Hand the path from rd_open to each "
		    "step as an argument "
		    "(reader.h, top: \"keep no state in static variables\"; TODOs 1 and 4)", what,
		    stat(other, &want) == 0 && got.st_dev == want.st_dev && got.st_ino == want.st_ino
			    ? " but on the other reader's" : "", other);
}

/* One meeting: rd_open(&a, f, 8, a_flags) on this thread (its ring's set-up
 * answering a_init_err), and, while it waits in that set-up, another thread's
 * rd_open(&b, g, 4, RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO) on another file.
 * Each reader must be what its own call asked for. */
static void twin_round(const struct datafile *f, const struct datafile *g, unsigned a_flags,
		       int a_init_err, const char *wa, const char *wb)
{
	const unsigned fb = RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO;
	bool direct_ok = odirect_works_here();
	enum rd_backend a_want = a_init_err ? RD_THREADS : RD_IO_URING;
	struct res before;
	struct reader *a;
	pthread_t t;
	int st, a_errno;

	twin.path = g->path;
	twin.flags = fb;
	twin.r = NULL;
	twin.ret = -ENOSYS;
	/* Each thread's errno has a value of its own when it calls rd_open, one
	 * no step of an rd_open can give (EXDEV here, ECHRNG there): each must
	 * come back with its own thread's, or whatever its own steps left. */
	twin.errno_before = ECHRNG;
	twin.errno_after = 0;
	atomic_store(&twin.state, TWIN_IDLE);
	hk.init_err = a_init_err;
	res_take(&before);
	if (pthread_create(&t, NULL, twin_main, NULL) != 0)
		grade_fail("pthread_create: cannot start the second thread");
	hk.twin_gate = true;
	errno = EXDEV;
	a = open_ok(f->path, 8, a_flags, a_want, wa);
	a_errno = open_ok_errno;
	hk.twin_gate = false;
	hk.init_err = 0;
	st = atomic_load(&twin.state);
	if (st == TWIN_IDLE || st == TWIN_GO) {
		/* The gate was never reached (no ring set up), or the other
		 * rd_open waited for this one: let it end, then join. */
		long deadline = fault_now_ms() + 10000;

		if (st == TWIN_IDLE)
			(void)atomic_compare_exchange_strong(&twin.state, &st, TWIN_QUIT);
		while (atomic_load(&twin.state) == TWIN_GO && fault_now_ms() < deadline)
			fault_nap();
	}
	pthread_join(t, NULL);
	grade_check(atomic_load(&twin.state) == TWIN_DONE, "%s: the first rd_open never set up "
		    "a ring (ubatch_init), so the two could not meet (TODO 2)", wa);
	check_fd(a, 0, wa);
	check_same_file(a, f->path, g->path, wa);
	check_why_has(a, "io_uring", wa);
	if (a_init_err) {
		check_why_has(a, "EPERM", wa);
		check_why_has(a, "RD_NO_LIBAIO", wa);
		check_why_has(a, "threads", wa);
		check_why_only(a, a_flags, "EPERM", wa);
	} else {
		check_why_only(a, a_flags, "", wa);
	}
	grade_check(twin.ret == 0 && twin.r, "%s: returned %s, expected 0 (TODO 1)", wb,
		    grade_errno_str(twin.ret));
	/* errno is each thread's own (errno(3)): a module that keeps the
	 * caller's errno in a static, to give it back at the end, gives one
	 * thread the other's. */
	grade_check(a_errno != ECHRNG && twin.errno_after != EXDEV, "%s: rd_open "
		    "left errno %s in its thread, the value the other thread's errno held when it "
		    "called rd_open: errno was saved in a static variable (to give the caller's back "
		    "at the end, most likely) that the other thread's rd_open rewrote in between. "
		    "errno is each thread's own (errno(3)): if you keep it, keep it in a local of "
		    "the call; better, leave it alone, since nothing here reads it or sets it for "
		    "the caller (reader.h, top: \"keep no state in static variables\"; TODO 1)",
		    a_errno == ECHRNG ? wa : wb, a_errno == ECHRNG ? "ECHRNG" : "EXDEV");
	if (twin.ret == 0 && twin.r) {
		enum rd_backend got = SEAM_CALL(rd_backend(twin.r));

		check_why_shape(twin.r, wb);
		grade_check(got == RD_THREADS, "%s: the reader took %s, expected threads; rd_why: "
			    "\"%s\"", wb, backend_str(got), why_of(twin.r));
		check_fd(twin.r, direct_ok, wb);
		check_same_file(twin.r, g->path, f->path, wb);
		check_why_has(twin.r, "RD_NO_URING", wb);
		check_why_has(twin.r, "RD_NO_LIBAIO", wb);
		check_why_has(twin.r, "threads", wb);
		check_why_only(twin.r, fb, direct_ok ? "" : "EINVAL", wb);
		if (a_init_err) {
			/* a's pool of min(8, RD_MAX_THREADS) threads, made after b's
			 * rd_open ran, beside b's own of 4 */
			int now = threads_settle(before.threads + 8 + 4) - before.threads;

			grade_check(now == 8 + 4, "%s: the two pool readers run %d thread(s) between "
				    "them; the first, opened at qd 8, has a pool of min(qd, "
				    "RD_MAX_THREADS) = 8 and the second, at qd 4, one of 4: the first "
				    "sized its pool by the other call's qd, kept in a static while its "
				    "ring was being set up (reader.h, top: \"keep no state in static "
				    "variables\"; TODO 6)", wa, now);
		}
		read_some(twin.r, g, wb);
	}
	read_some(a, f, wa);
	check_why_has(a, "io_uring", wa);
	close_reader(a);
	if (twin.r)
		close_reader(twin.r);
	res_check(&before, "the two readers, both closed");
}

GRADE_TEST_T(open, two_at_once, 1,
	   "two readers of two files opened at the same moment by two threads (the second while "
	   "the first sets up its ring, or is refused one), with other flags and qd: each has its "
	   "own file, flags, pool, descriptor and rd_why",
	   "TODOs 1, 4, 6 and 7: reader.h lets several threads open readers of their own at the "
	   "same moment: everything rd_open decides (the path, the qd, the flags, the reader "
	   "whose line it writes) lives in its arguments and in the reader, never in a static "
	   "variable (reader.h, top; lesson, Pitfall 23)", 20)
{
	struct datafile f, g;

	ch10_setup();
	grade_require_io_uring(8);
	f = make_data("f", 50000);
	g = make_data("g", 70000 + 11);
	twin_round(&f, &g, 0, 0, "rd_open(&a, f, 8, 0), while another thread's "
		   "rd_open(&b, g, 4, RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO) ran",
		   "rd_open(&b, g, 4, RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO), run by another thread "
		   "while rd_open(&a, f, 8, 0) set up its ring");
	twin_round(&f, &g, RD_NO_LIBAIO, -EPERM, "rd_open(&a, f, 8, RD_NO_LIBAIO) whose ring is "
		   "refused (EPERM), while another thread's rd_open(&b, g, 4, "
		   "RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO) ran",
		   "rd_open(&b, g, 4, RD_DIRECT|RD_NO_URING|RD_NO_LIBAIO), run by another thread "
		   "while rd_open(&a, f, 8, RD_NO_LIBAIO) asked for its ring");
	free(g.data);
	free(f.data);
}

/* ====================================== 9. a path longer than a name */

GRADE_TEST(open, long_path, 1,
	   "a path of over 1000 bytes (directories of 200-byte names, as PATH_MAX allows), and a "
	   "symbolic link to that file: opened and read with every flag, every interface refused "
	   "in turn; rd_why still one line of at most 255 bytes",
	   "TODOs 1, 4 and 7: the path is the caller's string, any length open(2) takes (PATH_MAX, "
	   "4096), a symbolic link as well as the file itself: hand it to open(2) as it came, with "
	   "the flags reader.h names and no others (no O_NOFOLLOW), never through a buffer of your "
	   "own of a guessed size; and if rd_why quotes it, cut the line at its 255 bytes "
	   "(reader.h, rd_open: path; rd_why; lesson, pitfall 16)")
{
	static const struct { unsigned flags; int init_err; bool odirect_einval; } cases[] = {
		{ 0, 0, false },
		{ RD_DIRECT, 0, false },
		{ RD_DIRECT, 0, true },
		{ RD_NO_URING, 0, false },
		{ 0, -EPERM, true },
		{ RD_NO_URING | RD_NO_LIBAIO, 0, false },
		{ RD_DIRECT | RD_NO_URING | RD_NO_LIBAIO, -EPERM, true },
	};
	char path[PATH_MAX], name[201], link[PATH_MAX];
	struct datafile f;
	struct stat want;
	size_t len;
	int fd;

	ch10_setup();
	snprintf(link, sizeof(link), "%s", grade_path("link-to-the-data"));
	f = make_data("f", 60000 + 21);
	memset(name, 'd', 200);
	name[200] = '\0';
	len = (size_t)snprintf(path, sizeof(path), "%s", grade_tmpdir());
	for (int depth = 0; depth < 5; depth++) {
		name[0] = (char)('a' + depth);
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", name);
		grade_check(mkdir(path, 0700) == 0, "harness: mkdir %s: %s", path, strerror(errno));
	}
	snprintf(path + len, sizeof(path) - len, "/%s", "the-data-file");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	grade_check(fd >= 0 && write(fd, f.data, f.size) == (ssize_t)f.size && close(fd) == 0,
		    "harness: writing %zu bytes to the long path: %s", f.size, strerror(errno));
	grade_check(stat(path, &want) == 0, "harness: stat: %s", strerror(errno));
	/* The same file through a symbolic link: the caller's path is whatever
	 * open(2) follows (reader.h: "path: the file to read"). */
	unlink(link);
	grade_check(symlink(path, link) == 0, "harness: symlink %s: %s", link, strerror(errno));
	for (size_t k = 0; k < 2 * sizeof(cases) / sizeof(cases[0]); k++) {
		size_t i = k % (sizeof(cases) / sizeof(cases[0]));
		bool via_link = k >= sizeof(cases) / sizeof(cases[0]);
		const char *use = via_link ? link : path;
		struct res before;
		struct stat got;
		struct reader *r;
		char what[300];
		int ret;

		if (via_link)
			snprintf(what, sizeof(what), "rd_open of a symbolic link to that file (a "
				 "path whose last name is a link), flags %s%s%s",
				 flags_str(cases[i].flags),
				 cases[i].init_err ? ", io_uring refused (EPERM)" : "",
				 cases[i].odirect_einval ? ", O_DIRECT refused (EINVAL)" : "");
		else
			snprintf(what, sizeof(what), "rd_open of a path of %zu bytes, flags %s%s%s",
				 strlen(path), flags_str(cases[i].flags),
				 cases[i].init_err ? ", io_uring refused (EPERM)" : "",
				 cases[i].odirect_einval ? ", O_DIRECT refused (EINVAL)" : "");
		hk.init_err = cases[i].init_err;
		hk.odirect_einval = cases[i].odirect_einval;
		res_take(&before);
		r = NULL;
		ret = SEAM_CALL(rd_open(&r, use, 8, cases[i].flags));
		grade_check(ret != -ELOOP || !via_link, "%s returned -ELOOP: the file was opened "
			    "with O_NOFOLLOW, which refuses a path whose last name is a symbolic "
			    "link. reader.h opens the file O_RDONLY | O_CLOEXEC (plus O_DIRECT where "
			    "it says so) and nothing else: the caller's path may be a link, as any "
			    "path given to cat(1) may (open(2), O_NOFOLLOW; TODO 4)", what);
		if (ret == 0)
			close_reader(r);
		res_check(&before, what);
		r = open_ok(use, 8, cases[i].flags, 0, what);
		hk.init_err = 0;
		hk.odirect_einval = false;
		grade_check(fstat(SEAM_CALL(rd_fd(r)), &got) == 0 && got.st_dev == want.st_dev &&
				    got.st_ino == want.st_ino,
			    "%s: rd_fd is not open on the file of that path: the path was cut or changed "
			    "on its way to open(2), in a buffer shorter than the path (the longest a "
			    "name between two slashes may be is 255 bytes, NAME_MAX; a whole path, "
			    "PATH_MAX, 4096). Hand the caller's string to open(2) as it came (TODO 4)",
			    what);
		read_and_close(r, &f, &before, what);
	}
	free(f.data);
}

/* ================================ 10. a batch longer than any piece */

enum { LONG_N = 1100, LONG_QD = 4 };

GRADE_TEST_T(window, long_batch, 1,
	     "a batch of 1100 reads at qd 4 through the pool, its first read slow: the other 1099, "
	     "past any piece of 1024 (UIO_MAXIOV) or fewer, go on while it reads",
	     "TODO 8: hand the back-end the whole batch, however long, with the reader's qd, in "
	     "one call: a loop of your own that cuts it into pieces of any size (qd, the ring's "
	     "entries, 1024) makes each piece wait for its slowest read (reader.h, rd_batch_read; "
	     "paio.h, tpool_batch_read; lesson, pitfall 14)", 15)
{
	const char *what = "a pool reader at qd 4, a batch of 1100 reads of 512 bytes whose first "
			   "read is slow";
	struct datafile f;
	struct reader *r;
	struct res before;
	struct batch_req *reqs;
	int slow, fd, ret;

	ch10_setup();
	f = make_data("f", 600000);
	slow = grade_open(f.path, O_RDONLY | O_CLOEXEC);
	res_take(&before);
	r = open_ok(f.path, LONG_QD, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, what);
	fd = SEAM_CALL(rd_fd(r));
	reqs = grade_xmalloc(LONG_N * sizeof(*reqs));
	for (size_t i = 0; i < LONG_N; i++)
		reqs[i] = (struct batch_req){ i == 0 ? slow : fd, (off_t)(i * 541), 512,
					      battery_buf(512), 0x5a5a };
	/* The slow read's pread goes on once all 1100 reads have started (or
	 * after 3 s: then the reads after some piece waited for it). */
	ret = read_with_slow_first(r, reqs, LONG_N, slow);
	grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", what,
		    grade_errno_str(ret));
	for (size_t i = 0; i < LONG_N; i++)
		check_req(&reqs[i], i, f.data, f.size, what);
	grade_check(!atomic_load(&hk.slow_stalled), "%s: while the slow read was reading, only "
		    "%ld of the %d reads had started after %d s: the rest waited for it. The batch "
		    "was cut into pieces (of 1024, say, as if a batch had a size limit) and each "
		    "piece was handed to the back-end in turn: a piece ends only when its slowest "
		    "read does. The back-ends take a batch of any length and keep qd in flight "
		    "across it: hand them the whole batch, once, with the reader's qd (TODO 8; "
		    "lesson, pitfall 14)", what, atomic_load(&hk.slow_started), LONG_N,
		    SLOW_PATIENCE_MS / 1000);
	free_reqs(reqs, LONG_N);
	close_reader(r);
	res_check(&before, what);
	close(slow);
	free(f.data);
}

/* ============================ 11. two readers reading at one moment */

/* The other thread's batch (10.54): one read of its own reader's, on the
 * slow descriptor. */
static struct {
	struct reader *r;
	struct batch_req req;
	int ret;
} side;

static void *side_main(void *arg)
{
	(void)arg;
	/* The seams are armed by the test: this call is counted and hooked
	 * like the test's own. */
	side.ret = rd_batch_read(side.r, &side.req, 1);
	return NULL;
}

enum { SIDE_N = 12, SIDE_QD = 4 };

GRADE_TEST_T(window, two_readers_at_once, 1,
	     "two pool readers, each read by a thread of its own at the same moment: while the "
	     "first thread's batch waits for a slow read, the second thread's batch on its own "
	     "reader reads",
	     "TODO 8: reader.h lets several threads use readers of their own at the same moment; "
	     "each reader drives its own back-end (its ring, context or pool), so nothing is "
	     "shared between two readers' batches and nothing needs a lock across them. A static "
	     "mutex around rd_batch_read makes every reader of the process wait for the slowest "
	     "batch of any other (reader.h, top; lesson, Pitfall 23)", 15)
{
	const char *wa = "reader A (qd 4, the pool), read by the test's thread";
	const char *wb = "reader B (qd 4, the pool), read by another thread, its one read slow";
	struct datafile f, g;
	struct reader *a, *b;
	struct res before;
	struct batch_req reqs[SIDE_N];
	long deadline;
	pthread_t t;
	int slow, fd, ret;

	ch10_setup();
	f = make_data("f", 200000);
	g = make_data("g", 90000 + 7);
	slow = grade_open(g.path, O_RDONLY | O_CLOEXEC);
	res_take(&before);
	a = open_ok(f.path, SIDE_QD, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, wa);
	b = open_ok(g.path, SIDE_QD, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS, wb);
	fd = SEAM_CALL(rd_fd(a));
	for (int i = 0; i < SIDE_N; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)(i * 15013), 4000, battery_buf(4000),
					      0x5a5a };
	side.r = b;
	side.req = (struct batch_req){ slow, 777, 5000, battery_buf(5000), 0x5a5a };
	side.ret = -ENOSYS;
	/* B's slow read goes on only once A's SIDE_N reads have started too
	 * (or after SLOW_PATIENCE_MS: then A's batch waited for B's). */
	atomic_store(&reads, 0);
	hk.slow_fd = slow;
	hk.slow_ms = SLOW_PATIENCE_MS;
	hk.slow_want = 1 + SIDE_N;
	seam_arm();
	if (pthread_create(&t, NULL, side_main, NULL) != 0)
		grade_fail("pthread_create: cannot start the second thread");
	/* A's batch starts once B's slow read is reading. */
	deadline = fault_now_ms() + 10000;
	while (atomic_load(&reads) < 1 && fault_now_ms() < deadline)
		fault_nap();
	ret = SEAM_CALL(rd_batch_read(a, reqs, SIDE_N));
	pthread_join(t, NULL);
	hk.slow_want = 0;
	grade_check(side.ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", wb,
		    grade_errno_str(side.ret));
	check_req(&side.req, 0, g.data, g.size, wb);
	grade_check(ret == 0, "%s: rd_batch_read returned %s, expected 0 (TODO 8)", wa,
		    grade_errno_str(ret));
	for (int i = 0; i < SIDE_N; i++)
		check_req(&reqs[i], (size_t)i, f.data, f.size, wa);
	grade_check(!atomic_load(&hk.slow_stalled), "%s: while B's slow read was reading, only "
		    "%ld read(s) had started after %d s: A's batch, on another reader with a pool "
		    "of its own, waited for B's to end. Two readers share nothing: a lock (or any "
		    "state) of the module's own taken around every batch makes each thread's "
		    "reader wait for the other's slowest read (reader.h, top: several threads may "
		    "use readers of their own at the same moment; TODO 8)", wa,
		    atomic_load(&hk.slow_started), SLOW_PATIENCE_MS / 1000);
	free(side.req.buf);
	for (int i = 0; i < SIDE_N; i++)
		free(reqs[i].buf);
	close_reader(b);
	close_reader(a);
	res_check(&before, "the two readers, both closed");
	close(slow);
	free(g.data);
	free(f.data);
}
