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
	 * TODO 1: set up a ring, then make sure the kernel behind it can do what
	 * this module needs, before anyone uses it.
	 *  - the contract (uring_basics.h) bounds entries to 1..4096, tighter than
	 *    the kernel's own limit: the kernel will not refuse 4097 for you. In
	 *    the range, the size goes to the kernel as it is (it rounds it up);
	 *  - setup failures come back from liburing already as -errno (-EPERM
	 *    when io_uring is blocked, -ENOMEM when RLIMIT_MEMLOCK is too small):
	 *    they are the answer. liburing does not set errno;
	 *  - ask the kernel whether it can read and write (the probe), never its
	 *    version number: distribution kernels backport and disable. A kernel
	 *    without a probe is too old to read through io_uring at all;
	 *  - when the answer is no, the caller gets -EOPNOTSUPP and nothing to
	 *    clean up: the grader counts open descriptors, and a ring is one.
	 *    Whatever the probe call hands you is yours to give back.
	 * man 3 io_uring_queue_init, man 3 io_uring_get_probe,
	 * man 3 io_uring_opcode_supported; lesson sections 9 and 10.
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
	 * TODO 2: submit it and wait, in one system call.
	 *  - (the caller took sqe from the SQ, which can be full: that is the
	 *    caller's -EBUSY, before anything is submitted; man 3 io_uring_get_sqe);
	 *  - give the request a tag that you will recognise in its CQE and that no
	 *    other request in flight can share (lesson section 5);
	 *  - the submit-and-wait call fails in three ways that are handled apart:
	 *    interrupted by a signal (nothing is wrong, call again), the kernel
	 *    short of memory (worth a few more tries, never an endless loop), and
	 *    everything else (the ring failed you: report it). Lesson section 8;
	 *    man 3 io_uring_submit_and_wait, man 2 io_uring_enter (ERRORS).
	 *
	 * TODO 3: reap the completion.
	 *  - waiting for the CQE can be interrupted too; any other failure means
	 *    you have no CQE to look at;
	 *  - the CQE should carry your tag; what you need from it is its res;
	 *  - a CQE left unmarked stays at the head of the CQ and answers the next
	 *    request instead of its own. Arrange the code so that no path, error
	 *    paths included, can leave the function between taking a CQE and
	 *    marking it seen (lesson section 6, pitfall 9).
	 * man 3 io_uring_wait_cqe, man 3 io_uring_cqe_get_data,
	 * man 3 io_uring_cqe_seen.
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
	 * TODO 4: read len bytes, or up to end of file, one IORING_OP_READ in
	 * flight at a time, through run_request.
	 *  - arguments first (see uring_basics.h): what is -EINVAL (a NULL ring
	 *    among them, checked before anything else), what returns 0 without
	 *    any I/O, and what offset -1 needs from the ring's features
	 *    (-EOPNOTSUPP, checked before any request);
	 *  - a completion may bring fewer bytes than asked without being at end of
	 *    file (pipes, signals, the grader). Each request asks for the rest: the
	 *    buffer AND the file offset move with the bytes done, except that -1
	 *    means "the kernel moves the position", so it is never added to
	 *    (lesson section 7, pitfalls 1-4);
	 *  - one request carries at most 32 bits of length and its res is a
	 *    signed int, while len, the bytes done and offsets are 64-bit: keep
	 *    them in size_t / off_t and cap each request (pitfalls 15, 23);
	 *  - what res can be: bytes, 0 (end of file), -EINTR (interrupted, ask
	 *    again), -EAGAIN (not ready: wait for readiness through the ring
	 *    before asking again, or you spin; that wait's own result counts), or
	 *    an error, which is the answer even after some bytes arrived
	 *    (lesson sections 6 and 8);
	 *  - a ring failure from TODO 2/3 is returned as it is.
	 * man 3 io_uring_prep_read, man 3 io_uring_prep_poll_add, man 2 read.
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
	 * TODO 5: write all len bytes: TODO 4's rules, for writes. Sharing one
	 * loop between both directions is allowed and saves writing it twice.
	 *  - a short write sent the FIRST res bytes; the rest follows them;
	 *  - res == 0 has no "end of file" meaning for a write: it is no progress,
	 *    and asking again would never end (the contract says what to return);
	 *  - the interruptions and "not ready" results are retried exactly as for
	 *    reads (readiness for writing, this time); other errors (-EBADF,
	 *    -EPIPE, -ENOSPC ...) are returned even after some bytes went out,
	 *    unlike write(2)'s partial count.
	 * man 3 io_uring_prep_write, man 2 write.
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
	 * TODO 6: copy src to dst through one buffer of bufsize bytes, on a ring of
	 * your own, with TODOs 4 and 5 doing the I/O.
	 *  - "cp f f" must not destroy f: dst may be the same file as src under
	 *    another name (a hard link). Find out before anything is truncated
	 *    (-EINVAL); the path names cannot tell you, the open files can;
	 *  - dst's old contents beyond the copy must go, and if that fails the
	 *    copy must not go ahead; a missing dst is created with mode 0666 and
	 *    the user's umask, applied by the kernel;
	 *  - regular files have positions you know (the total so far, an off_t);
	 *    a FIFO or a device does not;
	 *  - a negative read result is an error, never the end of the file;
	 *  - every path out, errors included, gives back what was taken so far:
	 *    buffer, ring, both files. close(dst) can report a write that failed
	 *    late (NFS, quotas): it is an error too;
	 *  - open(2) reports failure as -1 with errno: your result is -errno.
	 * man 2 open, man 2 fstat, man 7 inode, man 2 ftruncate, man 2 close;
	 * uring_basics.h, uring_copy_file.
	 */
	(void)src;
	(void)dst;
	(void)bufsize;
	return -ENOSYS;
}

int uring_probe_features(struct uring_features *out)
{
	/*
	 * TODO 7: ask the kernel what its io_uring can do, on a ring of
	 * URING_PROBE_ENTRIES entries made for the purpose and gone before you
	 * return.
	 *  - out == NULL: -EINVAL; otherwise *out starts all zero;
	 *  - the feature bits and the SQ/CQ sizes are what setup reports back
	 *    (there is a variant of the setup call that hands its parameters
	 *    back); a setup failure is returned as it is;
	 *  - the opcodes come from the probe, for every slot of op_supported, not
	 *    only those your headers name; no probe is an answer, not an error
	 *    (uring_basics.h says what the fields hold then);
	 *  - never uname(2): the kernel version says nothing about what a
	 *    distribution kernel backported or disabled.
	 * man 3 io_uring_queue_init_params, man 2 io_uring_setup (the
	 * IORING_FEAT_* bits), man 3 io_uring_get_probe; lesson section 9.
	 */
	(void)out;
	return -ENOSYS;
}

int uring_feature_report(FILE *out)
{
	/*
	 * TODO 8: print what uring_probe_features found, one line per name of
	 * URING_REPORT_FEATURES and URING_REPORT_OPCODES, in the format
	 * uring_basics.h gives (uring_feature_report). The header also shows how
	 * an X-list becomes a table of names and values.
	 *  - every yes/no comes from this call's uring_probe_features, never from
	 *    what some kernel supports;
	 *  - a line that is not a NAME line must not begin with "IORING_";
	 *  - a write error on out is -EIO, also one that happened before the last
	 *    flush and left that flush nothing to fail on (man 3 ferror).
	 */
	(void)out;
	return -ENOSYS;
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 9: the course's batch of reads (chapters/common/batch.h), the
	 * chapter-05 way: one request in flight at a time. The contract is
	 * uring_basics.h, uring_serial_batch_read; this one is yours to plan.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
