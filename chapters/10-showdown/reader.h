/*
 * reader.h - chapter 10, the showdown: a batch read that works everywhere.
 *
 * Chapters 01-08 each pushed the same workload (a batch of reads, batch.h)
 * through one interface. A real program cannot pick one and hope: io_uring
 * is refused inside many containers (Docker's default seccomp profile) and
 * where an administrator set kernel.io_uring_disabled; RLIMIT_MEMLOCK may be
 * too small for a ring; O_DIRECT is refused by some filesystems, and libaio
 * is only asynchronous on O_DIRECT files. The reader of this chapter opens a
 * file through the best interface the machine allows, finds out which by
 * trying (never from the kernel's version string), says which it took and
 * why, and gives every caller the same batch read whichever it took:
 *
 *     struct reader *r;
 *     rd_open(&r, "data.bin", 32, RD_DIRECT);   probe, choose, open
 *     printf("%s: %s\n", rd_backend_name(rd_backend(r)), rd_why(r));
 *     reqs[i].fd = rd_fd(r); ...                requests on the reader's file
 *     rd_batch_read(r, reqs, n);                as many batches as needed
 *     rd_close(r);
 *
 * The back-ends are the course's modules of the earlier chapters, declared
 * in their own headers (included below) and linked from the reference
 * implementations: your code chooses between them and drives them; it does
 * not reimplement them.
 *
 *   RD_IO_URING  chapter 06: ubatch_init / ubatch_read / ubatch_exit, one
 *                ring kept for the reader's life;
 *   RD_LIBAIO    chapter 02: laio_batch_read_ctx on an O_DIRECT descriptor
 *                only, one AIO context (io_setup / io_destroy) kept for
 *                the reader's life;
 *   RD_THREADS   chapter 03: tpool_create / tpool_batch_read / tpool_destroy,
 *                one pool kept for the reader's life.
 *
 * Every function returns 0 (or a value) on success and a negated errno value
 * on failure; nothing here reads or sets errno for its caller, prints, or
 * exits. Several threads may open, use and close readers of their own at
 * the same moment: keep no state in static variables.
 */
#ifndef COURSE_READER_H
#define COURSE_READER_H

#include <stddef.h>

#include "batch.h"
#include "laio.h"     /* chapter 02 */
#include "paio.h"     /* chapter 03 */
#include "ubatch.h"   /* chapter 06 */

/* The interfaces, best first. */
enum rd_backend {
	RD_IO_URING = 1,
	RD_LIBAIO = 2,
	RD_THREADS = 3,
};

/* rd_open's flags. */
#define RD_DIRECT     0x1u  /* open the file with O_DIRECT (bypass the page
                               cache) if its filesystem allows it          */
#define RD_NO_URING   0x2u  /* do not try io_uring (the showdown's demo and
                               make bench use these to compare back-ends)  */
#define RD_NO_LIBAIO  0x4u  /* do not try libaio                           */

/* The largest ring (SQ entries) and pool the reader sets up: a larger qd is
 * still honoured as the window, through a smaller ring or pool. */
#define RD_MAX_RING 256u
#define RD_MAX_THREADS 64u

/* Opaque: you define it in reader.c. */
struct reader;

/*
 * rd_open - open `path` for reading through the best interface available.
 *
 *   out    receives the reader (left unchanged on failure).
 *   path   the file to read; opened O_RDONLY | O_CLOEXEC, plus O_DIRECT
 *          when flags has RD_DIRECT or when libaio is chosen (below).
 *   qd     the window of every rd_batch_read: at most qd reads in flight.
 *          1 .. UINT_MAX.
 *   flags  RD_DIRECT, RD_NO_URING, RD_NO_LIBAIO, or 0. Any other bit: -EINVAL.
 *
 * The choice, made by trying each interface in this order:
 *
 *  1. io_uring (unless RD_NO_URING). Set up the reader's ring with
 *     ubatch_init() for min(qd, RD_MAX_RING) entries. It is unavailable
 *     when that fails with -ENOSYS (no io_uring in this kernel), -EPERM
 *     (seccomp, kernel.io_uring_disabled) or -ENOMEM (RLIMIT_MEMLOCK too
 *     small for the ring). A ring that comes up is still unusable when the
 *     kernel cannot read through it: ask the ring which opcodes it supports
 *     (io_uring_get_probe_ring(3), io_uring_opcode_supported(3)) and fall
 *     back when the probe fails or lacks IORING_OP_READ (kernels before
 *     5.6); that ring is torn down before going on. The probe is NULL
 *     where the kernel has none (before 5.6) and also when it cannot be
 *     allocated: either way nothing says the ring can read.
 *  2. libaio (unless RD_NO_LIBAIO), only on an O_DIRECT descriptor: on a
 *     buffered file io_submit(2) reads synchronously, and the pool below is
 *     then the better choice. Open the file with O_DIRECT; when the
 *     filesystem refuses it (-EINVAL), libaio is unavailable. Then set up
 *     the AIO context every batch will read through, of min(qd,
 *     RD_MAX_RING) events (io_setup(2)), kept until rd_close: -ENOSYS,
 *     -EAGAIN (aio-max-nr reached) and -EPERM make libaio unavailable.
 *  3. the thread pool: tpool_create() with min(qd, RD_MAX_THREADS)
 *     threads. Its failure is rd_open's failure.
 *
 * Any other failure of a step is not "unavailable" but an error: rd_open
 * returns it (-ENOENT or -EACCES from opening the file, -ENOMEM from
 * malloc, an unexpected -errno from ubatch_init or io_setup), after
 * releasing everything it had set up. When RD_DIRECT is asked and O_DIRECT
 * is refused with -EINVAL, the file is read through the page cache instead
 * (rd_direct() says 0, rd_why() says so). rd_direct() is 1 exactly when
 * RD_DIRECT was asked and allowed, or libaio was chosen: a descriptor
 * opened with O_DIRECT only to try libaio is not kept for the pool.
 *
 * Returns 0, or -EINVAL (out == NULL, path == NULL, qd == 0, unknown flag
 * bits), or the error above. On every failure nothing is left behind: no
 * fd, ring, AIO context, thread or memory.
 */
int rd_open(struct reader **out, const char *path, unsigned qd, unsigned flags);

/* Which interface the reader took. */
enum rd_backend rd_backend(const struct reader *r);

/* "io_uring", "libaio", "threads" (a string literal; "?" for any other value). */
const char *rd_backend_name(enum rd_backend b);

/*
 * rd_why - why the reader took its interface, in one line of at most 255
 * bytes (no newline), kept inside the reader until rd_close: for every
 * interface tried and found unavailable, its name and the error that ruled
 * it out, spelled as the errno's name (EPERM, ENOSYS, ENOMEM, EINVAL,
 * EAGAIN: strerrorname_np(3)) or as a flag ("RD_NO_URING"); for an
 * io_uring whose probe failed or lacks IORING_OP_READ, "IORING_OP_READ";
 * and the name of the interface taken (rd_backend_name). For example:
 *
 *   "io_uring: io_uring_queue_init EPERM (seccomp or kernel.io_uring_disabled); O_DIRECT: EINVAL; using threads"
 *
 * The wording is yours; the names are what the tests look for, and the
 * line names only the errors that really happened (a list of every errno
 * that could apply says nothing about this machine).
 */
const char *rd_why(const struct reader *r);

/* The reader's file descriptor: what every request's fd must be. */
int rd_fd(const struct reader *r);

/* 1 when rd_fd() is open with O_DIRECT: buffers, offsets and lengths of
 * every request must then be multiples of LAIO_DIO_ALIGN (4096). */
int rd_direct(const struct reader *r);

/*
 * rd_batch_read - the batch of reads (batch.h) through the reader's
 * interface, with the qd given to rd_open as the window: the back-end is
 * handed that qd as it is (not n, not a constant, not the ring's size),
 * so at most qd reads are in flight, and as many as the
 * back-end can keep, up to qd (a ring of RD_MAX_RING entries has twice as
 * many CQ slots: it keeps 300 in flight at qd 300; the AIO context of
 * min(qd, RD_MAX_RING) events keeps that many).
 *
 * Same results as every chapter's batch read (batch.h): res is bytes read
 * (short only at end of file) or -errno for that request alone; requests on
 * other descriptors than rd_fd() are read too. Returns 0 when every request
 * has its res; -EINVAL for r == NULL (whatever n) or reqs == NULL with
 * n > 0 (with a reader, n == 0 returns 0 and does nothing); another -errno
 * when the batch as a whole
 * could not run (the back-end's error). The reader can be used again after
 * an error, except after an error from the io_uring back-end, or from the
 * libaio back-end other than -EAGAIN and -ENOMEM (io_getevents failed:
 * laio.h), when only rd_close is allowed. In that libaio case the reader
 * has already destroyed its context (io_destroy waits for the reads still
 * in flight), so the caller's buffers are its own again when
 * rd_batch_read returns, as after any batch.
 *
 * The reads go through the interface rd_backend() names, and only it: the
 * ring set up at rd_open (no new ring per batch), the AIO context set up
 * at rd_open through laio_batch_read_ctx (no io_setup or io_destroy per
 * batch: each io_destroy waits tens of milliseconds, chapter 02's "Keep
 * the context"), or the pool made at rd_open (no new thread per batch).
 */
int rd_batch_read(struct reader *r, struct batch_req *reqs, size_t n);

/* rd_close - release everything: ring or pool, fd, memory. NULL is a no-op. */
void rd_close(struct reader *r);

#endif /* COURSE_READER_H */
