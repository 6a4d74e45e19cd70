/*
 * batch.h - the one workload every I/O chapter implements: a batch of reads.
 *
 * Chapters 01 (blocking), 02 (libaio), 03 (POSIX aio), 05/06 (io_uring) and
 * 08 (fixed buffers) each provide a function with this shape:
 *
 *     int <prefix>_batch_read(struct batch_req *reqs, size_t n, unsigned qd);
 *
 * so that the same differential tests run against every chapter, and chapter
 * 10 can push one workload through every interface and compare them.
 *
 * Contract shared by every implementation
 * ---------------------------------------
 *  - reqs[0..n-1] are independent reads. For each one the implementation
 *    reads up to reqs[i].len bytes from reqs[i].fd at reqs[i].offset into
 *    reqs[i].buf, and stores the outcome in reqs[i].res:
 *        res >= 0   bytes read. Equal to len unless end of file came first:
 *                   a short transfer in the middle of a file must be
 *                   continued, exactly as pread_full() does in chapter 01.
 *        res <  0   a negated errno value (-EBADF, -EINVAL, -EIO, ...) for
 *                   this request alone; the other requests still run.
 *  - offset >= 0 is a position in the file; the file offset (lseek) is not
 *    used and not changed.
 *  - At most qd requests are in flight at any moment. qd == 0 is -EINVAL.
 *  - The function returns 0 once every request has its res, or a negated
 *    errno if the batch as a whole could not run (reqs == NULL with n > 0 or
 *    qd == 0: -EINVAL; resources: -ENOMEM, -EAGAIN ...). In that case the
 *    res fields are unspecified. n == 0 returns 0 and does nothing.
 *  - The caller owns reqs and every buffer; the implementation keeps no
 *    pointer to them after it returns, and writes only res: fd, offset,
 *    len and buf are as the caller left them (no sorting in place). Requests may be completed in any
 *    order; res always lands in the request it belongs to.
 *  - Never errno: results and return values carry -errno themselves.
 */
#ifndef COURSE_BATCH_H
#define COURSE_BATCH_H

#include <stddef.h>
#include <sys/types.h>

struct batch_req {
	int fd;        /* file to read from                              */
	off_t offset;  /* where in the file, >= 0                        */
	size_t len;    /* how many bytes to read                         */
	void *buf;     /* where to put them; at least len bytes, owned by */
	               /* the caller (aligned as the chapter requires)   */
	ssize_t res;   /* out: bytes read (short only at EOF) or -errno  */
};

/* The shape every chapter's batch read has (the shared tests keep a table). */
typedef int (*batch_read_fn)(struct batch_req *reqs, size_t n, unsigned qd);

#endif /* COURSE_BATCH_H */
