/*
 * uring_basics.c - chapter 05 exercise: io_uring, one request at a time.
 *
 * Read chapters/05-uring-basics/README.md first; the contract (arguments,
 * return values, the rules) is in chapters/05-uring-basics/uring_basics.h.
 * Grade your work with:   make check CH=05
 * Try it in a real tool:  make run CH=05 ARGS="/etc/hostname"   (a cat)
 *                         make run CH=05 ARGS="--features"
 *
 * The rules the grader enforces:
 *  - data moves through io_uring only: read, pread, write, pwrite, readv,
 *    sendfile, splice, mmap of a file, syscall() ... are refused;
 *  - results are bytes or -errno, never -1 and never errno (liburing
 *    returns -errno itself, and cqe->res carries -errno);
 *  - one request in flight at a time, submitted with io_uring_submit(3) or
 *    io_uring_submit_and_wait(3);
 *  - every CQE you take is marked seen before you return, on every path.
 *
 * Replace each "return -ENOSYS" as you solve its TODO.
 */
#define _GNU_SOURCE
#include "uring_basics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int uring_open(struct io_uring *ring, unsigned entries)
{
	/*
	 * TODO 1: set up a ring and make sure it can do what this module needs.
	 *  - ring == NULL, entries == 0 or entries > 4096: -EINVAL;
	 *  - io_uring_queue_init(entries, ring, 0) returns 0 or -errno
	 *    (-EPERM, -ENOMEM, -ENOSYS): return that value as it is;
	 *  - ask the kernel, not its version number: io_uring_get_probe_ring(ring),
	 *    then io_uring_opcode_supported(probe, IORING_OP_READ) and
	 *    IORING_OP_WRITE; io_uring_free_probe(probe). A NULL probe means a
	 *    kernel too old for IORING_OP_READ;
	 *  - if anything is missing: io_uring_queue_exit(ring) (no fd left open)
	 *    and return -EOPNOTSUPP.
	 * man 3 io_uring_queue_init, man 3 io_uring_get_probe; lesson section 9.
	 */
	(void)ring;
	(void)entries;
	return -ENOSYS;
}

/*
 * Your helper for TODOs 2 and 3: run ONE prepared SQE to completion and hand
 * back its cqe->res. Keep two answers apart: the return value says whether
 * the RING failed you (-errno from submit or wait), *res is the REQUEST's
 * result (bytes or -errno). The attribute keeps the compiler quiet until
 * something calls this function; delete it then.
 */
__attribute__((unused))
static int run_request(struct io_uring *ring, struct io_uring_sqe *sqe, int *res)
{
	/*
	 * TODO 2: submit it and wait.
	 *  - (the caller got sqe from io_uring_get_sqe(ring), which returns NULL
	 *    when the SQ is full: the caller returns -EBUSY then; man 3
	 *    io_uring_get_sqe);
	 *  - tag it: io_uring_sqe_set_data(sqe, <something unique while it is in
	 *    flight>) (lesson section 5);
	 *  - io_uring_submit_and_wait(ring, 1): submit and wait in one system
	 *    call. It returns -errno on failure: -EINTR means a signal arrived
	 *    while waiting; call it again (lesson section 8). -EAGAIN (the
	 *    kernel is short of memory) may be tried a few times, never without
	 *    end. Other errors (-EBUSY ...): return them.
	 *    man 3 io_uring_submit_and_wait, man 2 io_uring_enter (ERRORS).
	 *
	 * TODO 3: reap the completion.
	 *  - io_uring_wait_cqe(ring, &cqe): 0, or -errno (-EINTR: call it again);
	 *  - check io_uring_cqe_get_data(cqe) is your tag; copy cqe->res;
	 *  - io_uring_cqe_seen(ring, cqe) right after copying, before any if or
	 *    return, so that no path leaves the CQE behind (lesson section 6).
	 * man 3 io_uring_wait_cqe, man 3 io_uring_cqe_seen.
	 */
	(void)ring;
	(void)sqe;
	(void)res;
	return -ENOSYS;
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset)
{
	/*
	 * TODO 4: read len bytes, or up to end of file, one IORING_OP_READ at a
	 * time (io_uring_prep_read(sqe, fd, buf + done, ask, at)).
	 *  - ring == NULL or offset < -1: -EINVAL; len == 0: return 0, no I/O;
	 *  - offset -1 needs IORING_FEAT_RW_CUR_POS in ring->features, else
	 *    -EOPNOTSUPP before any request;
	 *  - the next request is always "the rest": buf + done, len - done, and
	 *    offset + done, except that -1 stays -1 (the kernel moves the file
	 *    position itself); lesson section 7;
	 *  - sqe->len is 32 bits: ask for at most 1 GiB per request; keep done
	 *    in a size_t and offsets in an off_t (files and lengths go beyond
	 *    4 GiB);
	 *  - cqe->res > 0: add to done (short or not, go round again);
	 *    res == 0: end of file, return done;
	 *    res == -EINTR: ask again; res == -EAGAIN: wait with
	 *    io_uring_prep_poll_add(sqe, fd, POLLIN) through the ring, then ask
	 *    again (never at once: that spins); the poll's own res < 0: -EINTR
	 *    ask again, anything else return it; any other res < 0: return it
	 *    (it is already -errno), even when some bytes were read before;
	 *  - a ring failure from TODO 2/3: return it.
	 * man 3 io_uring_prep_read, man 3 io_uring_prep_poll_add.
	 */
	(void)ring;
	(void)fd;
	(void)buf;
	(void)len;
	(void)offset;
	return -ENOSYS;
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset)
{
	/*
	 * TODO 5: the same loop with io_uring_prep_write(3), until all len bytes
	 * are written.
	 *  - a short write wrote the FIRST res bytes: continue at buf + done and
	 *    offset + done (-1 stays -1);
	 *  - res == 0 for a non-empty request is no progress: return -EIO instead
	 *    of asking again forever;
	 *  - -EINTR / -EAGAIN (poll for POLLOUT) as in TODO 4; other errors
	 *    (-EBADF, -EPIPE, -ENOSPC ...) are returned, even after some bytes
	 *    went out (not the bytes so far, as write(2) would say).
	 * man 3 io_uring_prep_write.
	 */
	(void)ring;
	(void)fd;
	(void)buf;
	(void)len;
	(void)offset;
	return -ENOSYS;
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	/*
	 * TODO 6: copy src to dst through one buffer of bufsize bytes.
	 *  - bufsize == 0: -EINVAL; malloc the buffer (-ENOMEM);
	 *  - open src O_RDONLY; open dst O_WRONLY | O_CREAT, mode 0666 (the
	 *    kernel applies the umask), WITHOUT
	 *    O_TRUNC; fstat both: the same st_dev and st_ino means the same file:
	 *    -EINVAL, and nothing truncated; then ftruncate(dst, 0) if it is a
	 *    regular file (S_ISREG), and check it (-errno);
	 *  - a ring of your own: uring_open(&ring, 4);
	 *  - loop: uring_read_full up to bufsize bytes, uring_write_full what you
	 *    got, until end of file (0; a negative result is an error, not the
	 *    end). Regular files: explicit offsets (the total so far, an off_t);
	 *    anything else (FIFO, /dev/null): -1;
	 *  - on EVERY path, errors included: io_uring_queue_exit, close both
	 *    files, free the buffer. A failed close(dst) is an error too.
	 * Returns the bytes copied or -errno (open failed: -errno right away).
	 * man 2 open, man 2 fstat, man 2 ftruncate; lesson, "The exercise".
	 */
	(void)src;
	(void)dst;
	(void)bufsize;
	return -ENOSYS;
}

int uring_probe_features(struct uring_features *out)
{
	/*
	 * TODO 7: ask the kernel what its io_uring can do.
	 *  - out == NULL: -EINVAL; otherwise zero *out first;
	 *  - io_uring_queue_init_params(URING_PROBE_ENTRIES, &ring, &params)
	 *    with params zeroed; copy params.features, params.sq_entries and
	 *    params.cq_entries;
	 *  - io_uring_get_probe_ring(&ring): NULL is not an error (have_probe
	 *    stays false); else have_probe = true, last_op = probe->last_op and
	 *    op_supported[op] = io_uring_opcode_supported(probe, op) for every
	 *    op 0..URING_MAX_OPCODES-1; io_uring_free_probe(probe);
	 *  - io_uring_queue_exit(&ring) before returning.
	 * Never look at uname(2): the kernel version says nothing about what a
	 * distribution kernel backported or disabled.
	 * man 3 io_uring_queue_init_params, man 2 io_uring_setup (the
	 * IORING_FEAT_* bits); lesson section 9.
	 */
	(void)out;
	return -ENOSYS;
}

int uring_feature_report(FILE *out)
{
	/*
	 * TODO 8: print what uring_probe_features found, one line per name of
	 * URING_REPORT_FEATURES and URING_REPORT_OPCODES (uring_basics.h shows
	 * how to turn those X-lists into a table of { "NAME", value }):
	 *     IORING_FEAT_NODROP               yes
	 *     IORING_OP_READ                   yes
	 *  - "yes" when (features & value) is set / op_supported[value];
	 *  - any other line (headings, the raw value) must not begin with
	 *    "IORING_";
	 *  - out == NULL: -EINVAL; errors of uring_probe_features: return them;
	 *    fflush(out) failing or ferror(out): -EIO (check ferror too: a
	 *    write that failed in the middle leaves fflush nothing to fail on).
	 */
	(void)out;
	return -ENOSYS;
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 9: the course's batch of reads (chapters/common/batch.h), one
	 * request at a time.
	 *  - qd == 0, or reqs == NULL with n > 0: -EINVAL; n == 0: return 0
	 *    before anything else (no ring);
	 *  - a ring of your own (uring_open, a few entries: qd is not a ring
	 *    size, it may be far above 4096), torn down before you return, on
	 *    every path;
	 *  - reqs[i].res = what TODO 4's loop gives for reqs[i] (an offset < 0
	 *    is -EINVAL for that request alone); a failing request does not
	 *    stop the others;
	 *  - return 0 once every res is set (or a ring failure as -errno).
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
