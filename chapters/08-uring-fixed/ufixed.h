/*
 * ufixed.h - chapter 08, registered buffers and files, SQPOLL, IOPOLL: the
 * contract.
 *
 * The chapter's exercise is the course's shared workload (a batch of reads,
 * batch.h) on a ring that keeps two tables the kernel knows about:
 *
 *     struct ufixed u;
 *     ufixed_init(&u, 64, 0);                  ring + empty (sparse) tables
 *     int b = ufixed_add_buffer(&u, arena, 4 << 20);   pinned once
 *     int f = ufixed_add_file(&u, fd);                 looked up once
 *     ufixed_read(&u, reqs, n, 32);            many batches: a request whose
 *     ufixed_read(&u, more, m, 32);            buffer lies in the arena is a
 *                                              READ_FIXED, one on fd uses the
 *                                              file slot (IOSQE_FIXED_FILE)
 *     ufixed_exit(&u);                         everything released once
 *
 * Registering moves work from every request to one call: the kernel pins and
 * maps a registered buffer's pages once (instead of per read), and takes a
 * reference on a registered file once (instead of looking the fd up per
 * read). It does not remove any copy of the data. The caller keeps owning the
 * memory and the fd; the ring only holds a registration of them.
 *
 * Every function returns 0 (or a slot number) on success and a negated errno
 * value on failure. liburing returns -errno itself: never read errno after a
 * liburing call, and never return -1.
 *
 * Rules of the exercise (the grader enforces them through link seams)
 * --------------------------------------------------------------------
 *  - Reads go through io_uring: read(2), pread(2), readv(2), preadv(2),
 *    preadv2(2), aio_read(3) and io_submit(2) are not allowed.
 *  - Registration happens in ufixed_init() and the add/remove functions, never
 *    in ufixed_read(): registering per batch throws away what it saves.
 *  - Batch the submissions as in chapter 06: many SQEs, then one submit.
 *  - Only liburing 2.3 API (Debian 12); nothing newer.
 *  - No threads of your own, no signal handlers, no sleeping.
 */
#ifndef COURSE_UFIXED_H
#define COURSE_UFIXED_H

#include <stddef.h>
#include <sys/uio.h>
#include <liburing.h>

#include "batch.h"

/* Slots in each table: registered buffers and registered files. */
#define UFIXED_MAX_BUFS 16u
#define UFIXED_MAX_FILES 16u

/* The largest buffer one slot may register (the kernel's limit is 1 GiB). */
#define UFIXED_MAX_BUF_LEN (1u << 30)

/* Flags of ufixed_init(). */
#define UFIXED_SQPOLL 1u  /* a kernel thread takes the SQEs (IORING_SETUP_SQPOLL) */
#define UFIXED_IOPOLL 2u  /* completions are polled (IORING_SETUP_IOPOLL); only   */
                          /* O_DIRECT reads of a device with poll queues work     */

/* How long the SQPOLL thread keeps polling an empty SQ before it sleeps
 * (io_uring_params.sq_thread_idle, in milliseconds). */
#define UFIXED_SQ_IDLE_MS 50u

/*
 * One ring and its two tables, kept between calls. Owned by the caller;
 * ufixed_init() fills it, ufixed_exit() empties it. The caller may read the
 * fields; only the implementation writes them.
 */
struct ufixed {
	struct io_uring ring;
	unsigned sq_entries;   /* SQ size the kernel gave                       */
	unsigned cq_entries;   /* CQ size the kernel gave: the most in flight   */
	unsigned flags;        /* the UFIXED_* flags the ring was set up with   */
	int live;              /* 1 between a successful init and the exit      */
	/* The registered buffer table: slot i holds bufs[i] (iov_base NULL and
	 * iov_len 0: the slot is empty). */
	struct iovec bufs[UFIXED_MAX_BUFS];
	/* The registered file table: slot i holds the caller's fd files[i]
	 * (-1: the slot is empty). */
	int files[UFIXED_MAX_FILES];
};

/*
 * ufixed_init - set up a ring of `entries` SQ slots with `flags` (0, or any
 * of UFIXED_SQPOLL and UFIXED_IOPOLL), and register an empty buffer table of
 * UFIXED_MAX_BUFS slots and an empty file table of UFIXED_MAX_FILES slots
 * (sparse tables: slots are filled later, one at a time).
 *
 * With UFIXED_SQPOLL the SQ thread idles after UFIXED_SQ_IDLE_MS.
 * Without SQPOLL or IOPOLL the ring may also get IORING_SETUP_SINGLE_ISSUER
 * | IORING_SETUP_DEFER_TASKRUN where the kernel has them (the reference
 * does; chapter 06's lesson, section 8): callers then use u from the thread
 * that set it up. A kernel without them (5.19: -EINVAL for a flag it does
 * not know) still gets a plain ring, set up again without them.
 *
 * Sparse tables need Linux 5.19 or newer (older kernels: -EINVAL).
 *
 * Returns 0, or -errno: -EINVAL for entries 0 or above 32768, or a flag not
 * listed; from the kernel -ENOMEM (RLIMIT_MEMLOCK too small for the ring,
 * ordinary users), -EPERM (io_uring blocked), -ENOSYS. On failure u->live is
 * 0 and nothing needs releasing (a ring set up before a failed registration
 * is torn down again).
 */
int ufixed_init(struct ufixed *u, unsigned entries, unsigned flags);

/*
 * ufixed_add_buffer - register the caller's memory [base, base + len) in a
 * free slot of the buffer table (the lowest free one).
 *
 * Returns the slot (0..UFIXED_MAX_BUFS-1), or -errno without changing the
 * table: -EINVAL for u not live, base NULL, len 0 or len above
 * UFIXED_MAX_BUF_LEN; -ENOSPC when every slot is taken; from the kernel
 * -ENOMEM (the pinned pages would pass RLIMIT_MEMLOCK: 8 MiB for ordinary
 * users by default), -EFAULT (memory that is not the caller's, or that the
 * kernel will not pin: on Linux 6.18 a MAP_SHARED mapping of a file on
 * ext4 says -EFAULT, a MAP_PRIVATE one registers) or -EOPNOTSUPP (what
 * io_uring_register(2) documents, and older kernels said, for file-backed
 * memory). Use anonymous memory: malloc, or mmap(MAP_ANONYMOUS). Whatever
 * the kernel says goes back as it came.
 * The memory must stay valid until the slot is removed or the ring exits.
 */
int ufixed_add_buffer(struct ufixed *u, void *base, size_t len);

/*
 * ufixed_remove_buffer - empty a slot of the buffer table; the kernel unpins
 * its pages (and gives back their RLIMIT_MEMLOCK charge). Returns 0, or
 * -EINVAL for u not live, slot out of range or already empty, or the
 * kernel's -errno with the slot left as it was.
 * Only between batches: no read may be in flight.
 */
int ufixed_remove_buffer(struct ufixed *u, unsigned slot);

/*
 * ufixed_add_file - register the caller's open fd in a free slot of the file
 * table (the lowest free one). Returns the slot, or -errno without changing
 * the table: -EINVAL for u not live, -EBADF for a negative or closed fd
 * (from the kernel), -ENOSPC when every slot is taken. The kernel takes its
 * own reference on the file: the slot reads it until it is removed, even if
 * fd is closed. But ufixed_read() finds the slot by the fd's number, so keep
 * fd open while it is registered: a number reused by a later open() would
 * read the old file through the slot.
 */
int ufixed_add_file(struct ufixed *u, int fd);

/*
 * ufixed_remove_file - empty a slot of the file table (the kernel drops its
 * reference). Returns 0, or -EINVAL for u not live, slot out of range or
 * already empty, or the kernel's -errno with the slot left as it was. Only
 * between batches.
 */
int ufixed_remove_file(struct ufixed *u, unsigned slot);

/*
 * ufixed_read - run a batch of reads through u's ring, at most qd in flight.
 * Results, arguments, return values and faults exactly as ubatch_read() of
 * chapter 06 (batch.h): res is bytes read (== len unless end of file came
 * first) or -errno for that request alone; a negative offset gives -EINVAL
 * and len 0 gives 0, without any I/O; a short read is continued; a CQE of
 * -EINTR is read again; at most min(qd, u->cq_entries) reads in flight;
 * -EINVAL for u NULL or not live or qd 0 (whatever n is, as in chapter 06),
 * and for reqs NULL with n > 0; otherwise n 0 returns 0.
 *
 * How each read is issued:
 *   - reqs[i].fd equal to files[s] of a filled slot s: the read names slot s
 *     with IOSQE_FIXED_FILE, not the fd (whatever fd the caller passes, the
 *     table decides); any other fd is used as it is;
 *   - [buf, buf + len) lying wholly inside a registered buffer: the read is
 *     IORING_OP_READ_FIXED with that slot's buf_index (the rest of a short
 *     read too); otherwise a plain IORING_OP_READ.
 *
 * With UFIXED_SQPOLL, a submission needs no system call while the SQ thread
 * is awake (io_uring_submit() enters the kernel only to wake it); the call
 * still waits in the kernel when no completion is ready. With UFIXED_IOPOLL,
 * reads the device cannot poll complete with -EOPNOTSUPP (stored in res, like
 * any other error), and the call must not hang.
 */
int ufixed_read(struct ufixed *u, struct batch_req *reqs, size_t n, unsigned qd);

/*
 * ufixed_exit - unregister both tables and tear the ring down. Safe to call
 * twice, after a failed ufixed_init(), and with u == NULL (nothing to do).
 * The caller's buffers and fds are left alone (they are the caller's to
 * free and close).
 */
void ufixed_exit(struct ufixed *u);

/*
 * ufixed_batch_read - the shared-shape batch read (batch_read_fn, batch.h):
 * ufixed_init() with no flags for a ring of min(qd, n) entries (at most
 * UFIXED_MAX_ENTRIES; if RLIMIT_MEMLOCK refuses it with -ENOMEM, it may try
 * smaller sizes; any other error of the set-up, -EPERM when io_uring is
 * blocked say, is the batch's answer at once: no size changes it),
 * ufixed_read(), ufixed_exit(). It registers nothing:
 * for one batch, registering costs what it saves. qd == 0 is -EINVAL
 * whatever n is (checked first, as in chapters 01-06); otherwise n == 0
 * returns 0 without a ring; no ring, fd or pinned page is left behind on
 * any path.
 */
int ufixed_batch_read(struct batch_req *reqs, size_t n, unsigned qd);

/* The largest SQ ufixed_batch_read() asks for. */
#define UFIXED_MAX_ENTRIES 256u

#endif /* COURSE_UFIXED_H */
