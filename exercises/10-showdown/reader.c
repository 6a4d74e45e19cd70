/*
 * reader.c - chapter 10 exercise: a batch read that works everywhere.
 *
 * Read chapters/10-showdown/README.md first; the contract (the order of the
 * choice, which errors mean "not here", what rd_why must name, what is left
 * on failure) is in chapters/10-showdown/reader.h. Read its rd_open
 * comment twice: most tests check one sentence of it.
 * Grade your work with:   make check CH=10          (one test: T=10.NN)
 * Stuck on a test:        make hint T=10.NN  (the man page passage, then,
 *                         asked again, the shape of the fix in words)
 * Try it in a real tool:  make run CH=10 ARGS="FILE"
 *
 * Every int function returns 0 (or a value) or -errno: open(2) sets errno
 * (turn it into -errno at once); ubatch_*, laio_batch_read_ctx, tpool_*
 * and io_setup return -errno themselves (never read errno after them). Replace
 * each "return -ENOSYS" as you solve its TODO.
 *
 * What you write here is the choosing and the driving, not the I/O: the
 * back-ends are the course's modules of chapters 06 (ubatch_*), 02
 * (laio_batch_read_ctx) and 03 (tpool_*), linked for you from the
 * reference.
 * Their contracts are in their headers, included by reader.h.
 *
 * Rules (the grader enforces them): the choice is made by trying each
 * interface, never from the kernel's version or a sysctl (the tests make
 * uname(2) and /proc lie); a ring, an AIO context, a thread or a descriptor
 * that rd_open made is released on every path, failures included (they are
 * counted); rd_batch_read goes through the interface rd_backend() names
 * and only it, with the reader's qd as the window; rd_fd is close-on-exec.
 *
 * A suggested shape (only the behaviour is graded):
 *
 *   rd_open    check, allocate (fd -1), then the steps in order; on any
 *              failure rd_close what exists and return the error
 *     step 1   io_uring: ubatch_init, then the probe        (TODOs 2, 3)
 *     step 2   libaio: the file with O_DIRECT, io_setup     (TODOs 4, 5)
 *     step 3   the pool: tpool_create                       (TODO 6)
 *              each step: 1 taken, 0 "not here" (said in the line, TODO 7),
 *              -errno an error
 *   rd_batch_read   dispatch on the back-end               (TODO 8)
 *   rd_close        ring, AIO context or pool, file, memory (TODO 9)
 *
 * What is given: the includes, the struct (fields for everything the
 * reference keeps; add what you need), and the stubs.
 */
#define _GNU_SOURCE /* O_DIRECT, strerrorname_np */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Marks a stub that nothing calls yet; it only keeps -Wunused-function
 * quiet. Drop it once you call them. */
#define NOT_YET_CALLED __attribute__((unused))

struct reader {
	enum rd_backend backend; /* 0 until a step succeeds                  */
	int fd;                  /* the file, -1 while it is not open        */
	int direct;              /* fd has O_DIRECT                          */
	unsigned qd;             /* the window of every batch, as given      */
	struct ubatch ring;      /* RD_IO_URING: ring.live == 1 while set up */
	io_context_t aio;        /* RD_LIBAIO: 0 until set up                */
	unsigned aio_events;     /* the nr_events aio was set up with        */
	struct tpool *pool;      /* RD_THREADS: NULL until made              */
	char why[256];           /* rd_why(): always NUL-terminated          */
	size_t why_len;
};

/* ------------------------------------------------------------- TODOs */

/*
 * TODO 7 (part 1): the line rd_why returns.
 *  - append one clause to r->why ("io_uring: io_uring_queue_init EPERM",
 *    "using threads"), with a separator between clauses;
 *  - never write past r->why (256 bytes, NUL included): a long line is
 *    cut, never overflowed (vsnprintf(3) says how much it would have
 *    written; the rest is not yours);
 *  - the tests look for names, not wording: each interface ruled out and
 *    what ruled it out (an errno's name, or the flag), and the interface
 *    taken (reader.h, rd_why); and no errno's name that nothing returned,
 *    no flag the caller did not pass: the line is written from what
 *    happened, never fixed in advance.
 * man 3 vsnprintf, man 3 stdarg.
 */
static NOT_YET_CALLED void say(struct reader *r, const char *fmt, ...)
{
	(void)r;
	(void)fmt;
}

/*
 * TODO 7 (part 2): an errno's name, "EPERM" for -EPERM. Why a name: the
 * reader's line is read by people and by programs, in any locale;
 * strerror's text is neither stable nor short. strerrorname_np(3) knows
 * every name, and returns NULL for a number it does not know: never hand
 * NULL to printf's %s.
 * man 3 strerrorname_np.
 */
static NOT_YET_CALLED const char *ename(int neg_errno)
{
	(void)neg_errno;
	return "?";
}

/*
 * TODO 2: step 1, io_uring. Returns 1 when the reader's ring is up (and
 * TODO 3 says it reads), 0 when io_uring is not available here (said in
 * the line), -errno on an error.
 *  - the ring: ubatch_init(&r->ring, min(qd, RD_MAX_RING)). Why not qd:
 *    the kernel refuses more than 32768 entries, and the ring's memory is
 *    charged to RLIMIT_MEMLOCK; a larger qd is still the window (the CQ
 *    holds twice the SQ: ubatch.h);
 *  - its failure: only -ENOSYS (no io_uring in this kernel), -EPERM
 *    (seccomp, kernel.io_uring_disabled) and -ENOMEM (RLIMIT_MEMLOCK)
 *    mean "not here". Anything else (-EINVAL, -EFAULT, ...) is an error
 *    rd_open returns: falling back on it would hide a bug;
 *  - decide by trying: the kernel's version (uname, /proc) and the sysctl
 *    say nothing about seccomp, backports or group rules.
 * man 3 io_uring_queue_init (RETURN VALUE), man 2 io_uring_setup (ERRORS),
 * reader.h (rd_open, step 1), ubatch.h (ubatch_init).
 */
static NOT_YET_CALLED int try_uring(struct reader *r)
{
	(void)r;
	return -ENOSYS;
}

/*
 * TODO 3: a ring that cannot read is no ring. Only the goal and the
 * contract here.
 *  - the goal: after TODO 2's ring came up, find out from that ring
 *    whether the kernel can do IORING_OP_READ through it; if it cannot
 *    (or cannot even say), the ring is torn down and step 1 answers
 *    "not here", with IORING_OP_READ in the line;
 *  - the contract of the calls: a probe is allocated for you and is yours
 *    to free; it may be NULL.
 * man 3 io_uring_get_probe, man 3 io_uring_opcode_supported,
 * man 3 io_uring_free_probe, reader.h (rd_open, step 1).
 */
static NOT_YET_CALLED int ring_can_read(struct reader *r)
{
	(void)r;
	return -ENOSYS;
}

/*
 * TODO 4: the file, into r->fd and r->direct.
 *  - always O_RDONLY | O_CLOEXEC: the reader only reads, and a program
 *    the caller starts must not inherit the descriptor;
 *  - O_DIRECT when the caller asked for it (RD_DIRECT) or for libaio
 *    (step 2: libaio on a buffered file reads synchronously inside
 *    io_submit);
 *  - open(2) with O_DIRECT failing with EINVAL means this filesystem has
 *    no direct I/O: open again without it, say so in the line; every other
 *    error (ENOENT, EACCES, ...) is rd_open's, as -errno.
 * man 2 open (O_DIRECT, O_CLOEXEC; ERRORS, EINVAL; NOTES, O_DIRECT).
 */
static NOT_YET_CALLED int open_file(struct reader *r, const char *path, int want_direct)
{
	(void)r;
	(void)path;
	(void)want_direct;
	return -ENOSYS;
}

/*
 * TODO 5: step 2, libaio, on r->fd. Returns 1, 0 ("not here", said) or
 * -errno.
 *  - only on an O_DIRECT descriptor (if O_DIRECT was refused, libaio is
 *    not worth it: say so);
 *  - ask the kernel for a context of min(qd, RD_MAX_RING) events
 *    (io_setup), and keep it: it is the one every batch reads through
 *    (TODO 8), for the reader's life, since each io_destroy waits tens of
 *    milliseconds (chapter 02, "Keep the context"). -ENOSYS, -EAGAIN
 *    (fs.aio-max-nr used up) and -EPERM (seccomp) mean "not here";
 *    anything else is an error.
 *  - libaio returns -errno itself and leaves errno alone.
 * man 2 io_setup (ERRORS, NOTES), man 2 io_destroy, laio.h
 * (laio_batch_read_ctx).
 */
static NOT_YET_CALLED int try_libaio(struct reader *r)
{
	(void)r;
	return -ENOSYS;
}

/*
 * TODO 6: step 3, the pool: tpool_create(&r->pool, min(qd,
 * RD_MAX_THREADS)). Its failure is rd_open's failure (as it came: -EAGAIN
 * when the system has no thread to give).
 *  - the descriptor: a file opened O_DIRECT only to try libaio is not
 *    kept for the pool (the pool reads through the page cache unless the
 *    caller asked for RD_DIRECT): close it and open it again (TODO 4);
 *  - say which interface was taken, in the line.
 * paio.h (tpool_create), reader.h (rd_open, step 3).
 */
static NOT_YET_CALLED int start_pool(struct reader *r, const char *path, unsigned flags)
{
	(void)r;
	(void)path;
	(void)flags;
	return -ENOSYS;
}

/*
 * TODO 1: rd_open.
 *  - the arguments first, so that a refusal has nothing to undo: out or
 *    path NULL, qd 0, a flag bit reader.h does not define: -EINVAL;
 *  - the reader, zeroed (calloc), with fd -1 and the qd as given: -ENOMEM
 *    when there is no memory;
 *  - the steps in order (TODOs 2-6), each skipped when its flag says so
 *    (and the flag said in the line). The first that works is taken;
 *  - on any failure, release everything made so far (rd_close can, if the
 *    struct always says what exists) and return the error; *out is
 *    written on success only.
 * reader.h (rd_open).
 */
int rd_open(struct reader **out, const char *path, unsigned qd, unsigned flags)
{
	(void)out;
	(void)path;
	(void)qd;
	(void)flags;
	return -ENOSYS;
}

/* TODO 1 (the accessors): what the reader holds. */
enum rd_backend rd_backend(const struct reader *r)
{
	(void)r;
	return 0;
}

int rd_fd(const struct reader *r)
{
	(void)r;
	return -1;
}

int rd_direct(const struct reader *r)
{
	(void)r;
	return 0;
}

/* TODO 7 (part 3): the names of reader.h, "?" for any other value. */
const char *rd_backend_name(enum rd_backend b)
{
	(void)b;
	return "?";
}

/* TODO 7: the line, kept in the reader. */
const char *rd_why(const struct reader *r)
{
	(void)r;
	return "";
}

/*
 * TODO 8: rd_batch_read. Only the goal and the contract here.
 *  - the goal: the caller's batch (batch.h) read through the interface
 *    the reader took, on what rd_open set up for it, with the reader's qd
 *    as the window, as it was given;
 *  - the contract: reader.h (rd_batch_read): what is -EINVAL, what n == 0
 *    does, what an error of the back-end means (for libaio, laio.h says
 *    what an io_getevents failure leaves in the context, and who must
 *    clean up); and the back-ends' own headers, for what each function
 *    wants (laio_batch_read_ctx, not laio_batch_read, which makes and
 *    destroys a context per call).
 */
int rd_batch_read(struct reader *r, struct batch_req *reqs, size_t n)
{
	(void)r;
	(void)reqs;
	(void)n;
	return -ENOSYS;
}

/*
 * TODO 9: rd_close. Release ring (ubatch_exit), AIO context (io_destroy)
 * or pool (tpool_destroy), the file, the reader. NULL does nothing. Written so that it also
 * releases a reader that rd_open left half made (TODO 1 calls it then):
 * what was never made is not released (ubatch.h and paio.h say which of
 * their functions are safe on what was never set up).
 * reader.h (rd_close).
 */
void rd_close(struct reader *r)
{
	(void)r;
}
