/*
 * uring_basics.h - chapter 05: io_uring basics, one request at a time.
 *
 * The contract for the exercise. Your module (exercises/05-uring-basics/
 * uring_basics.c) implements every function below; the tests, the demo
 * (a cat built on this API) and the shared tests call nothing else.
 *
 * Conventions for every function here
 * -----------------------------------
 *  - Results are bytes (or 0) on success and a NEGATED errno value on
 *    failure: -EBADF, -EINVAL, -ENOMEM ... Never -1, never errno.
 *    liburing itself works this way: io_uring_queue_init(3),
 *    io_uring_submit(3) and io_uring_wait_cqe(3) return -errno, and a
 *    request's result arrives in cqe->res as bytes or -errno. Do not read
 *    errno after a liburing call: it is not set. (errno IS set by the plain
 *    libc calls the rules allow, such as open(2), fstat(2) and close(2):
 *    return -errno for those.)
 *  - One request at a time. Each function queues one SQE, submits it,
 *    waits for its CQE, marks that CQE seen, and only then queues the
 *    next one. Batching many requests is chapter 06.
 *  - Every CQE you take from the ring is marked seen (io_uring_cqe_seen(3)),
 *    on the error paths too, and before the function returns.
 *  - Interruptions are not errors: io_uring_wait_cqe(3) or
 *    io_uring_submit_and_wait(3) returning -EINTR (a signal arrived while
 *    waiting) is retried; a CQE whose res is -EINTR or -EAGAIN is retried,
 *    for reads and writes alike (for -EAGAIN: first wait until the fd is
 *    ready, POLLIN for a read, POLLOUT for a write, with an
 *    IORING_OP_POLL_ADD request, so that the retry does not spin). That
 *    poll's own res counts too: -EINTR is retried, any other negative res
 *    is returned (asking again would spin on a descriptor that never
 *    becomes ready).
 *  - A submit call returning -EAGAIN (the kernel is short of memory for
 *    the request) may be tried again a few times, never without end; then
 *    it is returned, like -EBUSY and every other submit or wait error.
 *  - An error after partial progress is still an error: when a later
 *    piece of a read or write fails, the result is its -errno, not the
 *    bytes moved so far.
 *  - 64 bits: offsets are off_t and lengths size_t. Files beyond 4 GiB
 *    (sparse ones, in the tests) and transfers beyond 4 GiB work.
 *  - Short transfers are continued: a read or write that moved fewer bytes
 *    than asked is resubmitted for the rest, with the buffer advanced AND
 *    the file offset advanced by the bytes already done.
 *
 * Rules of the exercise (the grader enforces them through link seams)
 * -------------------------------------------------------------------
 *  - Data moves through io_uring only. read, pread, readv, preadv, preadv2,
 *    write, pwrite, writev, pwritev, pwritev2, sendfile, splice,
 *    copy_file_range, mmap of a data file, fread/fwrite/fgets on data and
 *    syscall() are NOT allowed in your module: calling one fails the test
 *    with a message naming it. open, openat, fstat, ftruncate, close,
 *    malloc/free and the stdio calls that print the feature report on the
 *    caller's stream (fprintf, fputs, fputc, fwrite, fflush, ferror;
 *    snprintf into a buffer of your own) are allowed; streams of your own
 *    (open_memstream, fmemopen, fopen) are not.
 *  - Submit with io_uring_submit(3) or io_uring_submit_and_wait(3) (one
 *    call per request). The grader counts those calls, and some tests
 *    shorten your queued requests at that moment to force short reads and
 *    writes on ordinary files. io_uring_enter(2) called by your module
 *    itself (SQEs published by hand) is refused.
 *  - Check io_uring_get_sqe(3) for NULL.
 *  - Feature detection uses the probe (io_uring_get_probe_ring(3),
 *    io_uring_opcode_supported(3)) and io_uring_params.features, never the
 *    kernel version (uname).
 *
 * Build: #include <liburing.h>; link with -luring (pkg-config liburing).
 * Builds against liburing 2.3 and later.
 */
#ifndef COURSE_URING_BASICS_H
#define COURSE_URING_BASICS_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "batch.h"

/*
 * uring_open - set up a ring for the functions below.
 *
 *   ring     caller-owned storage; on success it holds a live ring that the
 *            caller tears down with io_uring_queue_exit(3).
 *   entries  SQ size wanted, passed to io_uring_queue_init(3) as it is
 *            (the kernel rounds up to a power of two; the CQ gets twice as
 *            many). 1..4096, checked here: the kernel itself would accept
 *            more. Small is right here: ring memory is charged to
 *            RLIMIT_MEMLOCK for ordinary users.
 *
 * Sets the ring up with io_uring_queue_init(3) (no flags), then probes it:
 * if the kernel cannot do IORING_OP_READ and IORING_OP_WRITE (or has no
 * probe at all, which means a kernel too old for them), the ring is torn
 * down again and -EOPNOTSUPP returned. (The reference also requires
 * IORING_OP_POLL_ADD, which its -EAGAIN path uses; tests only take READ
 * or WRITE away.) The probe is freed (io_uring_free_probe(3)) on every
 * path, success included.
 *
 * Returns 0, or -errno with nothing left open:
 *   -EINVAL      ring == NULL, entries == 0 or too big
 *   -EPERM       io_uring blocked: seccomp (containers) or
 *                kernel.io_uring_disabled = 1 (unprivileged) / 2 (everyone)
 *   -ENOMEM      RLIMIT_MEMLOCK too small for the ring (ulimit -l)
 *   -ENOSYS      kernel without io_uring (before 5.1, or compiled out)
 *   -EOPNOTSUPP  the probe lacks IORING_OP_READ or IORING_OP_WRITE
 * (the lesson's "when io_uring is blocked" section tells these apart).
 */
int uring_open(struct io_uring *ring, unsigned entries);

/*
 * uring_read_full - read exactly len bytes, or up to end of file.
 *
 *   ring    an idle ring (no queued SQEs, nothing in flight, CQ empty),
 *           from uring_open() or io_uring_queue_init(3). Unchanged in
 *           shape on return: still idle, every CQE marked seen.
 *   fd      any readable fd: regular file, pipe, socket, tty.
 *   buf     at least len bytes, owned by the caller.
 *   offset  >= 0: read the file from there (like pread(2)); the file
 *           position is neither used nor changed. Only for seekable files.
 *           -1: read from the file's current position and move it (like
 *           read(2)). What callers pass for pipes, FIFOs, sockets and
 *           ttys: io_uring_prep_read(3) says "On files that are not
 *           capable of seeking, the offset must be 0 or -1" (the kernel
 *           does not check it: 6.18 ignores any offset on a pipe; the
 *           lesson shows it). Needs IORING_FEAT_RW_CUR_POS (else
 *           -EOPNOTSUPP).
 *           Anything below -1: -EINVAL.
 *
 * The arguments are checked before any request is made: ring == NULL is
 * -EINVAL, checked first (before anything else, len == 0 included); then
 * an offset below -1 (-EINVAL) and -1 without IORING_FEAT_RW_CUR_POS
 * (-EOPNOTSUPP); then len == 0 returns 0.
 *
 * One IORING_OP_READ at a time (io_uring_prep_read(3)); requests larger
 * than 1 GiB are split (sqe->len is 32 bits and cqe->res an int). A CQE
 * with 0 < res < asked is a short read: resubmit for the rest at
 * buf + done and offset + done. res == 0 is end of file.
 *
 * Returns the bytes read: len, or fewer only because end of file came
 * first (0 at EOF or when len == 0; len == 0 does no I/O). On an error
 * returns -errno (cqe->res, or the submit/wait error) even if some bytes
 * were already read into buf: -EBADF, -EISDIR, -EINVAL, -EIO, ...
 * -EINVAL also for the arguments: ring == NULL (checked first) or an
 * offset below -1.
 * -EBUSY if io_uring_get_sqe(3) returned NULL (the SQ is full: the caller
 * left SQEs queued, breaking the idle-ring rule; nothing is submitted).
 * After a submit or wait error (not a cqe->res error) the request may
 * still be in the kernel, reading into buf: reap its CQE before buf is used
 * or freed. Tearing the ring down is no shortcut: io_uring_queue_exit does
 * not wait for requests in flight.
 */
ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset);

/*
 * uring_write_full - write all len bytes.
 *
 * Same ring, offset and ownership rules as uring_read_full(), with
 * IORING_OP_WRITE (io_uring_prep_write(3)). A short write is resubmitted
 * for the rest at buf + done and offset + done. A write that reports 0
 * bytes for a non-empty request is -EIO (it would otherwise loop forever).
 *
 * Returns len (0 when len == 0, with no I/O), or -errno: -EINVAL for
 * ring == NULL (checked first, as in uring_read_full) or an offset below
 * -1, -EOPNOTSUPP for -1 without IORING_FEAT_RW_CUR_POS, -EBADF, -ENOSPC,
 * -EPIPE (write to a pipe with no reader; the process also gets SIGPIPE
 * unless it ignores it), -EFBIG, -EIO, ... also when some bytes were
 * already written: unlike write(2), it never reports a partial count.
 */
ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset);

/*
 * uring_copy_file - copy src to dst through io_uring.
 *
 *   src      path of the file to read (regular file, FIFO, device ...).
 *   dst      path to write; created with mode 0666 & ~umask if missing,
 *            truncated if it is a regular file. dst naming the same file
 *            as src is -EINVAL (nothing truncated).
 *   bufsize  bytes per request, >= 1 (0 is -EINVAL). The buffer is
 *            allocated here and freed before return.
 * src or dst NULL is -EINVAL, like bufsize 0, before anything is opened.
 * src is opened and checked first: when it cannot be opened or is a
 * directory (-EISDIR), dst is neither created nor truncated.
 *
 * Uses its own ring (uring_open(), a few entries) and tears it down before
 * returning, on every path, and closes both files: no fd, ring or memory
 * outlives the call, with one exception, which wins over "freed before
 * return": when the ring fails (a wait error) while a request on the buffer
 * is still in the kernel, the buffer is left allocated, since the kernel may
 * still write into it (lesson section 6; io_uring_queue_exit does not wait
 * for it). Reads with uring_read_full() and writes what it got
 * with uring_write_full(), one buffer at a time, until end of file.
 * Regular files use explicit offsets; other files use -1.
 * Keeps no state between calls (no static ring, buffer or counter): a
 * second copy made while one is in progress (another thread) works.
 *
 * Returns the number of bytes copied (an off_t: files beyond 4 GiB work),
 * or -errno: -ENOMEM if the buffer cannot be allocated, -ENOENT, -EACCES,
 * -EISDIR from opening, -EPERM (or any error) from truncating dst, any error
 * from setup, reading, writing, or from closing dst (a failed close can
 * report a lost write), also when some bytes were already copied. On
 * failure dst may be left partly written.
 */
off_t uring_copy_file(const char *src, const char *dst, size_t bufsize);

/*
 * Feature detection: what this kernel's io_uring can do, asked of the
 * kernel itself.
 */
#define URING_MAX_OPCODES 256	/* probe opcodes are one byte */

struct uring_features {
	unsigned features;	/* io_uring_params.features (IORING_FEAT_*) */
	unsigned sq_entries;	/* what the kernel gave a ring asked for */
	unsigned cq_entries;	/* URING_PROBE_ENTRIES entries            */
	bool have_probe;	/* IORING_REGISTER_PROBE worked           */
	unsigned last_op;	/* probe->last_op: highest opcode known   */
				/* (0 when !have_probe)                   */
	bool op_supported[URING_MAX_OPCODES];
				/* [op] = io_uring_opcode_supported(p, op) */
};

#define URING_PROBE_ENTRIES 4

/*
 * uring_probe_features - fill *out from a ring of its own.
 *
 * Sets up a ring of URING_PROBE_ENTRIES entries with
 * io_uring_queue_init_params(3) (params zeroed), records params.features
 * and the sq/cq entries the kernel gave, asks io_uring_get_probe_ring(3)
 * and copies io_uring_opcode_supported() for every opcode 0..255 (false
 * beyond last_op), frees the probe (io_uring_free_probe(3)) and tears the
 * ring down. A kernel without the probe is not an error: have_probe =
 * false, last_op = 0, every op_supported false.
 *
 * Returns 0, or -errno from setup (-EPERM, -ENOMEM, -ENOSYS; out == NULL
 * is -EINVAL). No fd or memory outlives the call. Keeps no state between
 * calls (no static ring): a second probe made while one is in progress works.
 */
int uring_probe_features(struct uring_features *out);

/*
 * The names the report prints, as X-lists. Use them to build a table:
 *     #define ROW(name) { #name, name },
 *     static const struct { const char *name; unsigned value; } rows[] = {
 *             URING_REPORT_FEATURES(ROW)
 *     };
 */
#define URING_REPORT_FEATURES(X)                                             \
	X(IORING_FEAT_SINGLE_MMAP) X(IORING_FEAT_NODROP)                     \
	X(IORING_FEAT_SUBMIT_STABLE) X(IORING_FEAT_RW_CUR_POS)               \
	X(IORING_FEAT_CUR_PERSONALITY) X(IORING_FEAT_FAST_POLL)              \
	X(IORING_FEAT_POLL_32BITS) X(IORING_FEAT_SQPOLL_NONFIXED)            \
	X(IORING_FEAT_EXT_ARG) X(IORING_FEAT_NATIVE_WORKERS)                 \
	X(IORING_FEAT_RSRC_TAGS) X(IORING_FEAT_CQE_SKIP)                     \
	X(IORING_FEAT_LINKED_FILE)

/* The opcodes this course uses, chapters 05 to 09. */
#define URING_REPORT_OPCODES(X)                                              \
	X(IORING_OP_NOP) X(IORING_OP_READ) X(IORING_OP_WRITE)                \
	X(IORING_OP_READV) X(IORING_OP_WRITEV) X(IORING_OP_READ_FIXED)       \
	X(IORING_OP_WRITE_FIXED) X(IORING_OP_FSYNC) X(IORING_OP_POLL_ADD)    \
	X(IORING_OP_TIMEOUT) X(IORING_OP_LINK_TIMEOUT)                       \
	X(IORING_OP_ASYNC_CANCEL) X(IORING_OP_OPENAT) X(IORING_OP_CLOSE)     \
	X(IORING_OP_ACCEPT) X(IORING_OP_RECV) X(IORING_OP_SEND)              \
	X(IORING_OP_PROVIDE_BUFFERS)

/*
 * uring_feature_report - print what uring_probe_features() found.
 *
 * Writes to out (owned by the caller, not closed) one line per name in
 * URING_REPORT_FEATURES and URING_REPORT_OPCODES, in that order:
 *
 *     <NAME><one or more spaces or tabs><yes|no>[<space><any comment>]
 *
 * where NAME is spelled exactly as in the lists (IORING_FEAT_NODROP,
 * IORING_OP_READ ...), "yes" when the kernel reports the feature bit or
 * the opcode as supported. Other lines (headings, the raw features value,
 * the probe's last_op, bits newer than these headers) may come before,
 * between or after, as long as they do not begin with "IORING_".
 *
 * Returns 0, or -errno from uring_probe_features(); out == NULL is
 * -EINVAL, checked first (before any ring is set up, so also where setup
 * would fail); a write error on out is -EIO.
 */
int uring_feature_report(FILE *out);

/*
 * uring_serial_batch_read - the course's batch of reads (batch.h), done
 * the chapter-05 way: one request at a time, whatever qd says.
 *
 * Follows batch.h exactly: for each i, reqs[i].res = uring_read_full() of
 * reqs[i].len bytes at reqs[i].offset (offset < 0 gives that request
 * -EINVAL; a bad fd gives it -EBADF; the others still run). Never more
 * than one request in flight, which satisfies any qd >= 1, however large
 * (qd is not a ring size: 1 << 20 and UINT_MAX are fine). Uses its own
 * small ring, torn down before return on every path; no fd or memory it
 * takes outlives the call.
 * Keeps no state between calls, like uring_copy_file(): a second batch
 * made while one is in progress works.
 *
 * Returns 0 when every res is set; -EINVAL for qd == 0 or reqs == NULL
 * with n > 0; -errno from ring setup. n == 0 returns 0 and does nothing,
 * not even set up a ring (qd still checked). Only reqs[0..n-1] are touched.
 * If the ring itself fails half way (a submit or wait error, not a
 * request's res), the batch stops and returns that -errno (or stores it in
 * the res of every request not done and returns 0); the ring is torn down
 * either way.
 * Chapter 06 does the same batch with a window of qd requests in flight.
 */
int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd);

#endif /* COURSE_URING_BASICS_H */
