/*
 * blocking.c - chapter 01, clean-room variant "cleanroom-chunks".
 *
 * Written from the lesson (chapters/01-blocking/README.md), the contract
 * (blocking.h, batch.h) and the man pages alone, without reading the
 * reference or the tests. Shape: read_full and write_full never ask one call
 * for more than 0x7ffff000 bytes (the kernel's cap, read(2) NOTES), so a
 * 5 GiB request is split by the code itself; pread_full keeps two pieces of
 * state, a cursor into the buffer and a file position, each advanced on its
 * own; write_full retries through a label. copy_file opens with
 * openat(AT_FDCWD, ...), opens src and dst before it allocates the buffer,
 * keeps -1 in every descriptor not open and has one exit that releases what
 * is set. blk_batch_read walks the array in windows of qd requests and
 * serves each window from its last request to its first.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_IO ((size_t)0x7ffff000)

static size_t cap(size_t n)
{
	return n < MAX_IO ? n : MAX_IO;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t done;

	if (len == 0)
		return 0;
	done = 0;
	do {
		ssize_t n = read(fd, p + done, cap(len - done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	} while (done < len);
	return (ssize_t)done;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	unsigned char *cur, *end;
	off_t pos;

	if (offset < 0)
		return -EINVAL;
	cur = buf;
	end = cur + len;
	pos = offset;
	while (cur < end) {
		ssize_t n = pread(fd, cur, (size_t)(end - cur), pos);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno != EINTR)
				return -errno;
		} else {
			cur += n;
			pos += n;
		}
	}
	return (ssize_t)len - (end - cur);
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
again:
		n = write(fd, p + done, cap(len - done));
		if (n < 0) {
			if (errno == EINTR)
				goto again;
			return -errno;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int open_path(const char *path, int flags)
{
	int fd;

	while ((fd = openat(AT_FDCWD, path, flags, 0644)) < 0)
		if (errno != EINTR)
			return -errno;
	return fd;
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	int in = -1, out = -1;
	unsigned char *buf = NULL;
	off_t total = 0, ret = 0;

	if (bufsize == 0)
		return -EINVAL;

	in = open_path(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = in;
		in = -1;
		goto out;
	}
	out = open_path(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (out < 0) {
		ret = out;
		out = -1;
		goto out;
	}
	buf = malloc(bufsize);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t got = read_full(in, buf, bufsize), put;

		if (got <= 0) {
			if (got < 0)
				ret = got;
			break;
		}
		put = write_full(out, buf, (size_t)got);
		if (put < 0) {
			ret = put;
			break;
		}
		total += got;
		if ((size_t)got != bufsize)
			break;
	}
out:
	if (out >= 0) {
		int rc = close(out);

		if (rc < 0 && ret == 0)
			ret = -errno;
	}
	if (in >= 0)
		close(in);
	free(buf);
	return ret < 0 ? ret : total;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	size_t start, w, i;

	if (qd == 0 || (n != 0 && reqs == NULL))
		return -EINVAL;
	for (start = 0; start < n; start += w) {
		w = n - start < qd ? n - start : qd;
		for (i = start + w; i-- > start;)
			reqs[i].res = pread_full(reqs[i].fd, reqs[i].buf,
						 reqs[i].len, reqs[i].offset);
	}
	return 0;
}
