/*
 * blocking.c - chapter 01, clean-room variant "cleanroom-sorted".
 *
 * Written from the lesson (chapters/01-blocking/README.md), the contract
 * (blocking.h, batch.h) and the man pages alone, without reading the
 * reference or the tests. Shape: the three transfer functions are one loop
 * driven through a table of operations (a function pointer to a static
 * wrapper of read, pread or write) whose result says "more", "end of file" or
 * "failed"; copy_file creates dst with creat(2) (O_WRONLY|O_CREAT|O_TRUNC),
 * takes its buffer from posix_memalign (4096-aligned, as the O_DIRECT section
 * suggests), and on the way out frees the buffer first, closes the source
 * next and the destination last; blk_batch_read sorts a malloc'd table of
 * pointers by (fd, offset) with qsort, hints the next request's range with
 * posix_fadvise(WILLNEED), and answers -ENOMEM when the table cannot be had.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

struct xfer {
	int fd;
	char *p;        /* the caller's buffer (const dropped for writes)  */
	off_t base;     /* pread's offset of byte 0; unused otherwise      */
	ssize_t (*op)(const struct xfer *x, size_t done, size_t want);
	int eof_ends;   /* a 0 result ends the transfer (reads only)       */
};

static ssize_t op_read(const struct xfer *x, size_t done, size_t want)
{
	return read(x->fd, x->p + done, want);
}

static ssize_t op_pread(const struct xfer *x, size_t done, size_t want)
{
	return pread(x->fd, x->p + done, want, x->base + (off_t)done);
}

static ssize_t op_write(const struct xfer *x, size_t done, size_t want)
{
	return write(x->fd, x->p + done, want);
}

static ssize_t run(const struct xfer *x, size_t len)
{
	size_t done = 0;

	while (done != len) {
		ssize_t r = x->op(x, done, len - done);

		if (r == -1) {
			int e = errno;

			if (e == EINTR)
				continue;
			return -e;
		}
		if (r == 0 && x->eof_ends)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	struct xfer x = { fd, buf, 0, op_read, 1 };

	return run(&x, len);
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	struct xfer x = { fd, buf, offset, op_pread, 1 };

	if (offset < 0)
		return -EINVAL;
	return run(&x, len);
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	struct xfer x = { fd, (char *)buf, 0, op_write, 0 };

	return run(&x, len);
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	void *buf = NULL;
	int in, out, err;
	off_t total = 0, res;
	ssize_t got;

	if (bufsize == 0)
		return -EINVAL;
	err = posix_memalign(&buf, 4096, bufsize);
	if (err != 0)
		return -err;            /* ENOMEM */

	while ((in = open(src, O_RDONLY)) == -1 && errno == EINTR)
		;
	if (in == -1) {
		res = -errno;
		free(buf);
		return res;
	}
	while ((out = creat(dst, 0644)) == -1 && errno == EINTR)
		;
	if (out == -1) {
		res = -errno;
		close(in);
		free(buf);
		return res;
	}

	res = 0;
	do {
		got = read_full(in, buf, bufsize);
		if (got > 0) {
			ssize_t put = write_full(out, buf, (size_t)got);

			if (put < 0)
				res = put;
			else
				total += got;
		} else if (got < 0) {
			res = got;
		}
	} while (res == 0 && got > 0);

	free(buf);
	close(in);
	if (close(out) == -1 && res == 0)
		res = -errno;
	return res < 0 ? res : total;
}

static int by_place(const void *a, const void *b)
{
	const struct batch_req *x = *(const struct batch_req *const *)a;
	const struct batch_req *y = *(const struct batch_req *const *)b;

	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x < y ? -1 : x > y;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct batch_req **order;
	size_t i;

	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*order))
		return -ENOMEM;
	order = malloc(n * sizeof(*order));
	if (order == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		order[i] = &reqs[i];
	qsort(order, n, sizeof(*order), by_place);
	for (i = 0; i < n; i++) {
		struct batch_req *r = order[i];

		if (i + 1 < n) {
			struct batch_req *next = order[i + 1];

			if (next->fd >= 0 && next->offset >= 0 && next->len > 0 &&
			    next->len <= (size_t)INT64_MAX)
				(void)posix_fadvise(next->fd, next->offset,
						    (off_t)next->len,
						    POSIX_FADV_WILLNEED);
		}
		r->res = pread_full(r->fd, r->buf, r->len, r->offset);
	}
	free(order);
	return 0;
}
