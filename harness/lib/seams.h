/*
 * seams.h - link seams: count, refuse or fake calls from the code under test.
 *
 * Every function listed in seams.def is linked with -Wl,--wrap=NAME, so a call
 * to NAME from the learner's object files lands in __wrap_NAME (seams.c),
 * which counts it and then calls the real function (__real_NAME), refuses it,
 * or hands it to a hook the test installed. Calls made inside shared
 * libraries (liburing's own system calls, glibc's internals) are not seen:
 * that is why liburing's exported functions are the seams for io_uring, not
 * io_uring_enter the system call (LD_PRELOAD cannot see those either).
 *
 * Only calls made while the seams are armed, and not from a thread the
 * harness marked as its own, are counted: the harness itself reads and
 * writes pipes and files all the time.
 */
#ifndef SEAMS_H
#define SEAMS_H

#include <aio.h>
#include <libaio.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>

enum seam_id {
#define SEAM_LIBC(ret, name, params, args) SEAM_##name,
#define SEAM_NEG(ret, name, params, args) SEAM_##name,
#define SEAM_ERRNUM(ret, name, params, args) SEAM_##name,
#define SEAM_VOID(name, params, args) SEAM_##name,
#include "seams.def"
#undef SEAM_LIBC
#undef SEAM_NEG
#undef SEAM_ERRNUM
#undef SEAM_VOID
	SEAM_COUNT
};

/* The real functions and the per-seam hooks. A hook, when set, is called
 * instead of the real function for calls from the code under test; it may
 * call SEAM_REAL(name)(...) itself (to count bytes, shorten a transfer,
 * inject -EAGAIN, ...). */
#define SEAM_REAL(name) __real_##name
#define SEAM_LIBC(ret, name, params, args) \
	extern ret __real_##name params;   \
	extern ret(*seam_hook_##name) params;
#define SEAM_NEG SEAM_LIBC
#define SEAM_ERRNUM SEAM_LIBC
#define SEAM_VOID(name, params, args)       \
	extern void __real_##name params;   \
	extern void(*seam_hook_##name) params;
#include "seams.def"
#undef SEAM_LIBC
#undef SEAM_NEG
#undef SEAM_ERRNUM
#undef SEAM_VOID

/* Arm / disarm counting. Tests wrap each call into the code under test:
 *     got = SEAM_CALL(read_full(fd, buf, len));                          */
void seam_arm(void);
void seam_disarm(void);
#define SEAM_CALL(expr)                          \
	({                                       \
		seam_arm();                      \
		__auto_type seam_result_ = (expr); \
		seam_disarm();                   \
		seam_result_;                    \
	})
/* Same for a call returning void. */
#define SEAM_CALL_VOID(expr) \
	do {                 \
		seam_arm();  \
		(expr);      \
		seam_disarm(); \
	} while (0)

/* Mark the calling thread as the harness's: its calls are never counted. */
void seam_mark_harness_thread(void);

/* Calls to `id` made by the code under test since the test began (or since
 * seam_reset()). Thread-safe. */
long seam_calls(enum seam_id id);
/* Sum over several seams; the list ends with SEAM_COUNT. */
long seam_calls_sum(enum seam_id first, ...);
void seam_reset(void);
const char *seam_name(enum seam_id id);

/* Refuse every call to `id` from the code under test: the call fails (EPERM)
 * and the test fails at its end with "your code called NAME(), which this
 * exercise does not allow: WHY". */
void seam_refuse(enum seam_id id, const char *why);
/* Refuse all the blocking read and write calls, including syscall(SYS_read..),
 * mmap of files and the in-kernel copies (sendfile, splice, copy_file_range). */
void seam_refuse_blocking_io(const char *why);
/* Record a rule the code under test broke, found inside a hook (a wrong
 * argument, a forbidden flag). Like a refused call, the first one recorded
 * fails the test at its next check, with this message. Any thread. */
void seam_violate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The message of the first refused call or recorded violation, or NULL. */
const char *seam_violation(void);

/*
 * Heap accounting (heap.c). The module's calls to malloc, calloc, realloc,
 * reallocarray, free, posix_memalign, aligned_alloc, memalign, strdup and
 * strndup are renamed to seam_* when its objects are linked into the tests
 * (harness/lib/heap.redefine), so every block the module allocates, on any
 * thread, armed or not, is known until the module frees it.
 */
struct seam_heap {
	long blocks;       /* the module's blocks alive now      */
	long long bytes;   /* their sizes, as asked              */
	long allocs;       /* allocations asked for, in total    */
	long frees;        /* frees of the module's own blocks   */
	long failed;       /* allocations made to fail (below)   */
};
void seam_heap_usage(struct seam_heap *out);
/* Make the module's allocations fail (NULL or ENOMEM, errno ENOMEM): from
 * the nth one counted from now (1: the next), `count` of them (-1: every one
 * after). nth 0 turns failures off. */
void seam_heap_fail(long nth, long count);
/* A violation if the module wrote into a block it had freed and that is
 * still held back poisoned (heap.c's quarantine); grade_test_end asks. */
void seam_heap_quarantine_check(void);
/* From now on, put each block the module allocates (up to 64 KiB) on pages
 * of its own, and take them away when it frees the block (heap.c's fence):
 * a read of a freed block then crashes the test where it happens, instead
 * of finding 0xdb bytes and going on. For tests whose scenario frees
 * objects that later events may still name, and that never free a block of
 * the module's themselves (glibc's free cannot take back a mapping). Off:
 * blocks allocated from then on are the allocator's again. No effect under
 * SAN=1. */
void seam_heap_fence(bool on);

/*
 * Buffers the kernel owns (heap.c): the libaio seams record the buffer of
 * every request io_submit accepted, until io_getevents returns its event,
 * io_cancel its result, or io_destroy the context; the liburing seams the
 * buffer of every read or write SQE the kernel took from a ring, until a
 * CQE of its user_data is in the completion queue (seams.c; a ring torn
 * down first leaves them in flight for good: the kernel does not wait). The module freeing a block that holds one of them
 * is a violation (seam_violate). ctx: the AIO context or the ring; tag: the
 * iocb or the user_data.
 */
enum seam_inflight_kind { SEAM_INFLIGHT_AIO, SEAM_INFLIGHT_URING };
void seam_inflight_add(enum seam_inflight_kind kind, uintptr_t ctx, uintptr_t tag,
		       const void *addr, size_t len);
void seam_inflight_done(uintptr_t ctx, uintptr_t tag);
void seam_inflight_drop_ctx(uintptr_t ctx);
void seam_inflight_orphan_ctx(uintptr_t ctx);
/* Read the CQEs the kernel posted on the watched rings (heap.c, before it
 * checks a block the module gives up). */
void seam_uring_reap(void);

#endif /* SEAMS_H */
