/*
 * blocking.c - chapter 01, clean-room variant "cleanroom-helpers".
 *
 * Written from the lesson (chapters/01-blocking/README.md), the contract
 * (blocking.h, batch.h) and the man pages alone, without reading the
 * reference or the tests. Shape: read_full and pread_full share one static
 * transfer helper (a flag picks read or pread), a for (;;) loop that saves
 * errno at once and switches on it; write_full walks a pointer and a
 * remaining count down instead of a count up. copy_file has no goto: it opens
 * src, only then allocates the buffer (a bufsize above SSIZE_MAX is left to
 * malloc, which answers -ENOMEM), then opens dst (no O_CLOEXEC), runs a
 * separate copy helper that always reads once more until read_full says 0,
 * and releases in nested blocks. blk_batch_read checks qd, returns early for
 * n == 0, then walks the array with a pointer.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Read len bytes at pos (positioned) or at the file position: count or -errno. */
static ssize_t fill(int fd, char *dst, size_t len, off_t pos, int positioned)
{
	size_t got = 0;

	for (;;) {
		ssize_t r;
		int err;

		if (got == len)
			return (ssize_t)got;
		if (positioned)
			r = pread(fd, dst + got, len - got, pos + (off_t)got);
		else
			r = read(fd, dst + got, len - got);
		err = errno;
		if (r == 0)
			return (ssize_t)got;
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		switch (err) {
		case EINTR:
			break;
		default:
			return -err;
		}
	}
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	return fill(fd, buf, len, 0, 0);
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	if (offset < 0)
		return -EINVAL;
	return fill(fd, buf, len, offset, 1);
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0) {
			if (errno != EINTR)
				return -errno;
		} else {
			p += w;
			left -= (size_t)w;
		}
	}
	return (ssize_t)len;
}

static int open_again(const char *path, int flags)
{
	for (;;) {
		int fd = open(path, flags, 0644);

		if (fd >= 0)
			return fd;
		if (errno != EINTR)
			return -errno;
	}
}

/* Copy in to out until end of file: the total, or the first -errno. */
static off_t pump(int in, int out, char *buf, size_t bufsize)
{
	off_t total = 0;
	ssize_t got;

	while ((got = read_full(in, buf, bufsize)) > 0) {
		ssize_t put = write_full(out, buf, (size_t)got);

		if (put < 0)
			return put;
		total += (off_t)got;
	}
	return got < 0 ? (off_t)got : total;
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	off_t result;
	char *buf;
	int in, out;

	if (bufsize == 0)
		return -EINVAL;
	in = open_again(src, O_RDONLY);
	if (in < 0)
		return in;
	buf = malloc(bufsize);
	if (buf == NULL) {
		result = -ENOMEM;
	} else {
		out = open_again(dst, O_WRONLY | O_CREAT | O_TRUNC);
		if (out < 0) {
			result = out;
		} else {
			result = pump(in, out, buf, bufsize);
			if (close(out) != 0 && result >= 0)
				result = -errno;
		}
		free(buf);
	}
	close(in);
	return result;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct batch_req *r, *end;

	if (qd == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (reqs == NULL)
		return -EINVAL;
	for (r = reqs, end = reqs + n; r != end; r++)
		r->res = pread_full(r->fd, r->buf, r->len, r->offset);
	return 0;
}
