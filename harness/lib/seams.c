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

#define SEAM_WRAPPER(ret, name, params, args, refused_value)   \
	ret(*seam_hook_##name) params;                          \
	ret __wrap_##name params;                               \
	ret __wrap_##name params                                \
	{                                                       \
		if (seam_enter(SEAM_##name)) {                  \
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
static void aio_after_io_submit(int r, io_context_t ctx, long nr, struct iocb **iocbs)
{
	for (long i = 0; i < r && i < nr; i++) {
		const struct iocb *cb = iocbs[i];

		switch (cb->aio_lio_opcode) {
		case IO_CMD_PREAD:
		case IO_CMD_PWRITE:
			seam_inflight_add((uintptr_t)ctx, cb, cb->u.c.buf, cb->u.c.nbytes);
			break;
		case IO_CMD_PREADV:
		case IO_CMD_PWRITEV:
			for (unsigned long j = 0; cb->u.v.vec && j < cb->u.v.nr && j < 64; j++)
				seam_inflight_add((uintptr_t)ctx, cb, cb->u.v.vec[j].iov_base,
						  cb->u.v.vec[j].iov_len);
			break;
		default:
			break;
		}
	}
}

static void aio_after_io_getevents(int r, io_context_t ctx, long min_nr, long nr,
				   struct io_event *ev, struct timespec *ts)
{
	(void)min_nr;
	(void)ts;
	for (long i = 0; i < r && i < nr; i++)
		seam_inflight_done((uintptr_t)ctx, ev[i].obj);
}

static void aio_after_io_cancel(int r, io_context_t ctx, struct iocb *iocb, struct io_event *ev)
{
	(void)ev;
	if (r == 0)
		seam_inflight_done((uintptr_t)ctx, iocb);
}

static void aio_after_io_destroy(int r, io_context_t ctx)
{
	if (r == 0)
		seam_inflight_drop_ctx((uintptr_t)ctx);
}

#define SEAM_ARGS(...) __VA_ARGS__
#define SEAM_AIO(ret, name, params, args)                       \
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
		aio_after_##name(r_, SEAM_ARGS args);           \
		return r_;                                      \
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
#include "seams.def"
#undef SEAM_LIBC
#undef SEAM_NEG
#undef SEAM_ERRNUM
#undef SEAM_VOID
#undef SEAM_AIO

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
