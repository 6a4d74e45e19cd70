/*
 * seams.c - the __wrap_ functions behind seams.h (see seams.def for the list).
 */
#define _GNU_SOURCE
#include "seams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const seam_names[SEAM_COUNT] = {
#define SEAM_LIBC(ret, name, params, args) [SEAM_##name] = #name,
#define SEAM_NEG SEAM_LIBC
#define SEAM_ERRNUM SEAM_LIBC
#define SEAM_VOID(name, params, args) [SEAM_##name] = #name,
#include "seams.def"
#undef SEAM_LIBC
#undef SEAM_NEG
#undef SEAM_ERRNUM
#undef SEAM_VOID
};

static atomic_long calls[SEAM_COUNT];
static const char *refusal[SEAM_COUNT];  /* why, or NULL when allowed */
static atomic_bool armed;
static _Thread_local bool harness_thread;

/* The first violation, kept for the end of the test. */
static char violation[512];
static atomic_flag violation_taken = ATOMIC_FLAG_INIT;

void seam_arm(void) { atomic_store(&armed, true); }
void seam_disarm(void) { atomic_store(&armed, false); }
void seam_mark_harness_thread(void) { harness_thread = true; }
const char *seam_name(enum seam_id id) { return seam_names[id]; }
long seam_calls(enum seam_id id) { return atomic_load(&calls[id]); }

long seam_calls_sum(enum seam_id first, ...)
{
	va_list ap;
	long sum = 0;

	va_start(ap, first);
	for (enum seam_id id = first; id != SEAM_COUNT; id = va_arg(ap, enum seam_id))
		sum += seam_calls(id);
	va_end(ap);
	return sum;
}

void seam_reset(void)
{
	for (int i = 0; i < SEAM_COUNT; i++)
		atomic_store(&calls[i], 0);
}

void seam_refuse(enum seam_id id, const char *why) { refusal[id] = why; }

void seam_refuse_blocking_io(const char *why)
{
	static const enum seam_id blocking[] = {
		SEAM_read, SEAM_pread, SEAM_pread64, SEAM_readv, SEAM_preadv,
		SEAM_preadv64, SEAM_preadv2, SEAM_preadv64v2, SEAM_fread,
		SEAM_mmap, SEAM_mmap64, SEAM_write, SEAM_pwrite, SEAM_pwrite64,
		SEAM_writev, SEAM_pwritev, SEAM_pwritev64, SEAM_pwritev2,
		SEAM_pwritev64v2, SEAM_fwrite, SEAM_sendfile, SEAM_sendfile64,
		SEAM_copy_file_range, SEAM_splice,
	};
	for (size_t i = 0; i < sizeof(blocking) / sizeof(blocking[0]); i++)
		seam_refuse(blocking[i], why);
}

const char *seam_violation(void)
{
	return violation[0] ? violation : NULL;
}

void seam_violate(const char *fmt, ...)
{
	va_list ap;

	if (atomic_flag_test_and_set(&violation_taken))
		return;  /* the first one is the reason; keep it */
	va_start(ap, fmt);
	vsnprintf(violation, sizeof(violation), fmt, ap);
	va_end(ap);
}

/* Count a call; true if it must be refused. */
static bool seam_enter(enum seam_id id)
{
	if (harness_thread || !atomic_load(&armed))
		return false;
	atomic_fetch_add(&calls[id], 1);
	if (!refusal[id])
		return false;
	if (!atomic_flag_test_and_set(&violation_taken))
		snprintf(violation, sizeof(violation),
			 "your code called %s(), which this exercise does not allow: %s",
			 seam_names[id], refusal[id]);
	return true;
}

/* Is the call counted (armed, code under test)? Hooks only apply then. */
static bool seam_active(void)
{
	return !harness_thread && atomic_load(&armed);
}

/*
 * The test's standard output and error are not the code's to close: with
 * one of them closed, the next descriptor the code opens or dups takes its
 * number, and printf (which writes with write(2) inside libc, where no seam
 * sees it) would move data into that file unseen. A close(1) or close(2) by
 * the code under test is refused (EPERM) and fails the test. dup2 and dup3,
 * the other ways to put a file at those numbers, are not on the allowed
 * list. Called by every wrapper with its id and arguments; only close's are
 * read.
 */
static bool seam_closes_std(enum seam_id id, ...)
{
	va_list ap;
	int fd;

	if (id != SEAM_close || !seam_active())
		return false;
	va_start(ap, id);
	fd = va_arg(ap, int);
	va_end(ap);
	if (fd != STDOUT_FILENO && fd != STDERR_FILENO)
		return false;
	seam_violate("your code closed descriptor %d, the test's standard %s, which is not its "
		     "own: close only the descriptors your code opened (a number it never set, or "
		     "one closed twice, can land on 0, 1 or 2)", fd,
		     fd == STDOUT_FILENO ? "output" : "error");
	return true;
}

/* ", a, b" from the arguments (a, b); nothing from () (GNU's ## drops the comma). */
#define SEAM_COMMA(...) , ##__VA_ARGS__
#define SEAM_WRAPPER(ret, name, params, args, refused_value)   \
	ret(*seam_hook_##name) params;                          \
	ret __wrap_##name params;                               \
	ret __wrap_##name params                                \
	{                                                       \
		if (seam_enter(SEAM_##name) ||                  \
		    seam_closes_std(SEAM_##name SEAM_COMMA args)) { \
			refused_value;                          \
		}                                               \
		if (seam_hook_##name && seam_active())          \
			return seam_hook_##name args;           \
		return __real_##name args;                      \
	}
/* open's third argument, read only when the flags say it was passed
 * (O_CREAT, O_TMPFILE: open(2)); used in the wrappers' argument lists. */
#define SEAM_OPEN_MODE(flags)                                              \
	({                                                                 \
		mode_t mode_ = 0;                                          \
		if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap_;                                       \
			va_start(ap_, flags);                              \
			mode_ = va_arg(ap_, mode_t);                       \
			va_end(ap_);                                       \
		}                                                          \
		mode_;                                                     \
	})
/*
 * What a libaio call did to the requests in flight, told to heap.c (which
 * watches their buffers), after the call, with the result the module saw:
 * a request io_submit accepted is the kernel's until io_getevents returns
 * its event, io_cancel its result, or io_destroy (which waits for every
 * request in flight) the context. The kernel copied the iocbs and iovec
 * arrays during io_submit; the buffers they point to it keeps using.
 */
static void after_io_submit(int r, io_context_t ctx, long nr, struct iocb **iocbs)
{
	for (long i = 0; i < r && i < nr; i++) {
		const struct iocb *cb = iocbs[i];

		switch (cb->aio_lio_opcode) {
		case IO_CMD_PREAD:
		case IO_CMD_PWRITE:
			seam_inflight_add(SEAM_INFLIGHT_AIO, (uintptr_t)ctx, (uintptr_t)cb, cb->u.c.buf,
					  cb->u.c.nbytes);
			break;
		case IO_CMD_PREADV:
		case IO_CMD_PWRITEV:
			for (unsigned long j = 0; cb->u.v.vec && j < cb->u.v.nr && j < 64; j++)
				seam_inflight_add(SEAM_INFLIGHT_AIO, (uintptr_t)ctx, (uintptr_t)cb,
						  cb->u.v.vec[j].iov_base, cb->u.v.vec[j].iov_len);
			break;
		default:
			break;
		}
	}
}

static void after_io_getevents(int r, io_context_t ctx, long min_nr, long nr,
			       struct io_event *ev, struct timespec *ts)
{
	(void)min_nr;
	(void)ts;
	for (long i = 0; i < r && i < nr; i++)
		seam_inflight_done((uintptr_t)ctx, (uintptr_t)ev[i].obj);
}

static void after_io_cancel(int r, io_context_t ctx, struct iocb *iocb, struct io_event *ev)
{
	(void)ev;
	if (r == 0)
		seam_inflight_done((uintptr_t)ctx, (uintptr_t)iocb);
}

static void after_io_destroy(int r, io_context_t ctx)
{
	if (r == 0)
		seam_inflight_drop_ctx((uintptr_t)ctx);
}

/*
 * The same for io_uring rings (the calls above, hooked or not; the test's
 * rings too, which a module may be given): a read or write SQE the kernel
 * took is in flight until a CQE with its user_data shows up in the
 * completion queue. io_uring_queue_exit does not end it: unlike io_destroy
 * it does not wait, and the kernel may finish the request after it returns
 * (its requests are kept, for good, as the ring's orphans). Taken means the
 * SQ head passed it: the kernel moves it in io_uring_enter, which only the
 * exported calls above make; a SQPOLL ring's thread moves it any time, so
 * those rings are not watched. CQEs are read where the kernel writes them,
 * as the module reads them, before the module's blocks are checked
 * (seam_uring_reap, from heap.c) and after each call. A request whose CQE
 * cannot be told apart (user_data shared) ends with the first such CQE,
 * and if the completion queue went round unread (more CQEs than it holds
 * since the last look) every request of that ring is taken as ended:
 * watching may miss a mistake, never invent one.
 * Only what the ring maps is kept (copied at io_uring_queue_init), and a
 * ring is known by its descriptor, not by where its struct io_uring lies:
 * the struct may be copied elsewhere after the set-up (its pointers point
 * into the mapping, so the copy works), and two rings set up in turn in the
 * same place are two rings. Of the module's struct io_uring only ring_fd
 * is read, by the calls that are given it (liburing reads it then too).
 */
#define URING_WATCHED 64

struct uring_seen {
	bool used;
	uintptr_t key;               /* this ring's requests in seam_inflight_* */
	int fd;                      /* the ring's descriptor: what finds it */
	const unsigned *sq_khead;
	const unsigned *sq_array;
	const struct io_uring_sqe *sqes;
	unsigned sq_mask, sqe_shift;
	unsigned sq_taken;           /* SQ position up to which SQEs are recorded */
	const unsigned *cq_ktail;
	const struct io_uring_cqe *cqes;
	unsigned cq_mask, cq_entries, cqe_shift;
	unsigned cq_read;            /* CQ position up to which CQEs are read */
};

static pthread_mutex_t uring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uring_seen uring_seen[URING_WATCHED];
static atomic_int uring_watched;
static uintptr_t uring_keys;         /* the last key given; uring_lock held */

/* The request of one SQE the kernel took: its buffers are the kernel's. */
static void uring_record(struct uring_seen *w, const struct io_uring_sqe *sqe)
{
	const struct iovec *iov;

	if (sqe->flags & (IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS))
		return;  /* no buffer of the module's, or no CQE to end it */
	switch (sqe->opcode) {
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_READ_FIXED:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_RECV:
	case IORING_OP_SEND:
		seam_inflight_add(SEAM_INFLIGHT_URING, w->key, (uintptr_t)sqe->user_data,
				  (const void *)(uintptr_t)sqe->addr, sqe->len);
		break;
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
		iov = (const struct iovec *)(uintptr_t)sqe->addr;
		for (unsigned j = 0; iov && j < sqe->len && j < 64; j++)
			seam_inflight_add(SEAM_INFLIGHT_URING, w->key,
					  (uintptr_t)sqe->user_data, iov[j].iov_base, iov[j].iov_len);
		break;
	default:
		break;
	}
}

/* Bring one watched ring up to date; uring_lock held. */
static void uring_sync(struct uring_seen *w)
{
	unsigned head = __atomic_load_n(w->sq_khead, __ATOMIC_ACQUIRE);
	unsigned tail;

	/* The SQEs taken since the last look (still as the kernel read them:
	 * the module refills a slot only after its next call, not during it). */
	for (; w->sq_taken != head; w->sq_taken++) {
		unsigned idx = w->sq_array[w->sq_taken & w->sq_mask];

		if (idx <= w->sq_mask)
			uring_record(w, &w->sqes[idx << w->sqe_shift]);
	}
	tail = __atomic_load_n(w->cq_ktail, __ATOMIC_ACQUIRE);
	if (tail - w->cq_read > w->cq_entries) {
		/* gone round since the last look: which ended is unknown */
		seam_inflight_drop_ctx(w->key);
		w->cq_read = tail;
		return;
	}
	for (; w->cq_read != tail; w->cq_read++) {
		const struct io_uring_cqe *cqe = &w->cqes[(w->cq_read & w->cq_mask) << w->cqe_shift];

		if (!(cqe->flags & IORING_CQE_F_MORE))
			seam_inflight_done(w->key, (uintptr_t)cqe->user_data);
	}
}

void seam_uring_reap(void)
{
	if (atomic_load(&uring_watched) == 0)
		return;
	__real_pthread_mutex_lock(&uring_lock);
	for (int i = 0; i < URING_WATCHED; i++)
		if (uring_seen[i].used)
			uring_sync(&uring_seen[i]);
	__real_pthread_mutex_unlock(&uring_lock);
}

/* Bring the ring up to date whose descriptor is fd. */
static void uring_sync_one(int fd)
{
	if (atomic_load(&uring_watched) == 0)
		return;
	__real_pthread_mutex_lock(&uring_lock);
	for (int i = 0; i < URING_WATCHED; i++)
		if (uring_seen[i].used && uring_seen[i].fd == fd)
			uring_sync(&uring_seen[i]);
	__real_pthread_mutex_unlock(&uring_lock);
}

/* A ring made (by the module or the test: the module may be given it) is
 * watched, unless a SQPOLL thread takes its SQEs. */
static void uring_watch(int r, struct io_uring *ring)
{
	struct uring_seen *w = NULL;

	if (r < 0 || (ring->flags & IORING_SETUP_SQPOLL))
		return;
	__real_pthread_mutex_lock(&uring_lock);
	for (int i = 0; i < URING_WATCHED && !w; i++)
		if (uring_seen[i].used && uring_seen[i].fd == ring->ring_fd)
			w = &uring_seen[i];  /* its descriptor closed without io_uring_queue_exit */
	for (int i = 0; i < URING_WATCHED && !w; i++)
		if (!uring_seen[i].used) {
			w = &uring_seen[i];
			atomic_fetch_add(&uring_watched, 1);
		}
	if (w) {
		*w = (struct uring_seen){
			.used = true,
			.key = ++uring_keys,
			.fd = ring->ring_fd,
			.sq_khead = ring->sq.khead,
			.sq_array = ring->sq.array,
			.sqes = ring->sq.sqes,
			.sq_mask = ring->sq.ring_mask,
			.sqe_shift = ring->flags & IORING_SETUP_SQE128 ? 1 : 0,
			.sq_taken = __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE),
			.cq_ktail = ring->cq.ktail,
			.cqes = ring->cq.cqes,
			.cq_mask = ring->cq.ring_mask,
			.cq_entries = ring->cq.ring_entries,
			.cqe_shift = ring->flags & IORING_SETUP_CQE32 ? 1 : 0,
			.cq_read = __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE),
		};
	}
	__real_pthread_mutex_unlock(&uring_lock);
}

static void after_io_uring_queue_init(int r, unsigned entries, struct io_uring *ring, unsigned fl)
{
	(void)entries;
	(void)fl;
	uring_watch(r, ring);
}

static void after_io_uring_queue_init_params(int r, unsigned entries, struct io_uring *ring,
					     struct io_uring_params *p)
{
	(void)entries;
	(void)p;
	uring_watch(r, ring);
}

/* The ring goes: what came back until now ended; the rest stays in
 * flight, orphaned (the kernel does not wait for it). */
static void before_io_uring_queue_exit(struct io_uring *ring)
{
	if (atomic_load(&uring_watched) == 0)
		return;
	__real_pthread_mutex_lock(&uring_lock);
	for (int i = 0; i < URING_WATCHED; i++)
		if (uring_seen[i].used && uring_seen[i].fd == ring->ring_fd) {
			uring_sync(&uring_seen[i]);
			seam_inflight_orphan_ctx(uring_seen[i].key);
			uring_seen[i].used = false;
			atomic_fetch_sub(&uring_watched, 1);
		}
	__real_pthread_mutex_unlock(&uring_lock);
}

/* Every other call that may enter the kernel: what it took and what came
 * back (variadic: each of them passes the ring, or its fd, first). */
static void uring_after(int r, struct io_uring *ring, ...)
{
	(void)r;
	uring_sync_one(ring->ring_fd);
}

static void uring_after_fd(int r, unsigned fd, ...)
{
	(void)r;
	uring_sync_one((int)fd);
}

#define after_io_uring_submit uring_after
#define after_io_uring_submit_and_wait uring_after
#define after_io_uring_submit_and_wait_timeout uring_after
#define after___io_uring_get_cqe uring_after
#define after_io_uring_wait_cqes uring_after
#define after_io_uring_wait_cqe_timeout uring_after
#define after_io_uring_get_events uring_after
#define after_io_uring_submit_and_get_events uring_after
#define after_io_uring_enter uring_after_fd
#define after_io_uring_enter2 uring_after_fd

#define SEAM_ARGS(...) __VA_ARGS__
#define SEAM_AFTER(ret, name, params, args)                     \
	ret(*seam_hook_##name) params;                          \
	ret __wrap_##name params;                               \
	ret __wrap_##name params                                \
	{                                                       \
		ret r_;                                         \
		if (seam_enter(SEAM_##name))                    \
			return (ret)-EPERM;                     \
		if (seam_hook_##name && seam_active())          \
			r_ = seam_hook_##name args;             \
		else                                            \
			r_ = __real_##name args;                \
		after_##name(r_, SEAM_ARGS args);               \
		return r_;                                      \
	}
#define SEAM_VOID_BEFORE(name, params, args)                     \
	void(*seam_hook_##name) params;                          \
	void __wrap_##name params;                               \
	void __wrap_##name params                                \
	{                                                        \
		(void)seam_enter(SEAM_##name);                   \
		before_##name args;                              \
		if (seam_hook_##name && seam_active())           \
			seam_hook_##name args;                   \
		else                                             \
			__real_##name args;                      \
	}
/* fcntl's third argument, read as glibc's fcntl reads it (one
 * pointer-sized value, whatever the command; unused when it has none). */
#define SEAM_FCNTL_ARG(cmd)                      \
	({                                       \
		void *arg_;                      \
		va_list ap_;                     \
		va_start(ap_, cmd);              \
		arg_ = va_arg(ap_, void *);      \
		va_end(ap_);                     \
		arg_;                            \
	})
#define SEAM_LIBC(ret, name, params, args) \
	SEAM_WRAPPER(ret, name, params, args, errno = EPERM; return (ret)-1)
#define SEAM_NEG(ret, name, params, args) \
	SEAM_WRAPPER(ret, name, params, args, return (ret)-EPERM)
#define SEAM_ERRNUM(ret, name, params, args) \
	SEAM_WRAPPER(ret, name, params, args, return (ret)EPERM)
#define SEAM_VOID(name, params, args)                            \
	void(*seam_hook_##name) params;                          \
	void __wrap_##name params;                               \
	void __wrap_##name params                                \
	{                                                        \
		(void)seam_enter(SEAM_##name);                   \
		if (seam_hook_##name && seam_active())           \
			seam_hook_##name args;                   \
		else                                             \
			__real_##name args;                      \
	}
/* As SEAM_VOID, for a function whose every value is a result (a count): a
 * refusal is recorded, but the call is made, as no value could say no. */
#define SEAM_NOFAIL(ret, name, params, args)                     \
	ret(*seam_hook_##name) params;                           \
	ret __wrap_##name params;                                \
	ret __wrap_##name params                                 \
	{                                                        \
		(void)seam_enter(SEAM_##name);                   \
		if (seam_hook_##name && seam_active())           \
			return seam_hook_##name args;            \
		return __real_##name args;                       \
	}
#include "seams.def"
#undef SEAM_LIBC
#undef SEAM_NEG
#undef SEAM_ERRNUM
#undef SEAM_VOID
#undef SEAM_AFTER
#undef SEAM_VOID_BEFORE
#undef SEAM_NOFAIL

/*
 * syscall(2) is a seam too, so that syscall(SYS_pread64, ...) does not slip
 * past a refused pread. The system call numbers that stand for a seam are
 * counted as that seam.
 */
static const struct {
	long sysno;
	enum seam_id id;
} syscall_seams[] = {
	{ SYS_read, SEAM_read },       { SYS_pread64, SEAM_pread },
	{ SYS_readv, SEAM_readv },     { SYS_preadv, SEAM_preadv },
	{ SYS_preadv2, SEAM_preadv2 }, { SYS_write, SEAM_write },
	{ SYS_pwrite64, SEAM_pwrite }, { SYS_writev, SEAM_writev },
	{ SYS_pwritev, SEAM_pwritev }, { SYS_pwritev2, SEAM_pwritev2 },
	{ SYS_sendfile, SEAM_sendfile }, { SYS_splice, SEAM_splice },
	{ SYS_copy_file_range, SEAM_copy_file_range },
	{ SYS_io_submit, SEAM_io_submit }, { SYS_io_getevents, SEAM_io_getevents },
	{ SYS_io_setup, SEAM_io_setup }, { SYS_io_destroy, SEAM_io_destroy },
	{ SYS_io_uring_enter, SEAM_io_uring_enter },
};

extern long __real_syscall(long sysno, ...);
long __wrap_syscall(long sysno, ...);
long __wrap_syscall(long sysno, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, sysno);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	for (size_t i = 0; i < sizeof(syscall_seams) / sizeof(syscall_seams[0]); i++) {
		if (syscall_seams[i].sysno == sysno && seam_enter(syscall_seams[i].id)) {
			errno = EPERM;
			return -1;
		}
	}
	return __real_syscall(sysno, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/*
 * creat(2) is open(2) with O_CREAT | O_WRONLY | O_TRUNC (open(2): "A call to
 * creat() is equivalent to calling open() with flags equal to
 * O_CREAT|O_WRONLY|O_TRUNC"), and allowed.txt lets a module call it. As a
 * seam of its own it would be one more name every open hook and every count
 * of opens must know, and a copy creating its destination with creat would
 * pass by those that forgot it (a 0444 DST played for root, EINTR storms,
 * the opens counted). So the harness defines creat itself: a module's call
 * binds to this definition when the test binary is linked and becomes the
 * open it stands for, through the open seams, with their refusals, hooks
 * and counts.
 */
int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
	return open64(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
