/*
 * blocking.c - chapter 01, clean-room variant "cleanroom-countdown".
 *
 * Written in the hunt round of stop 54 from the contract (blocking.h,
 * batch.h), the lesson and the man pages, without copying the reference.
 * Shape: each system call's result is sorted into one of four outcomes
 * (bytes moved, end of file, call again, failed) by one small classifier;
 * the loops count the bytes still wanted down, with a cursor into the
 * caller's buffer, and no call asks for more than SSIZE_MAX; pread_full
 * keeps a position of its own beside the cursor. copy_file checks bufsize,
 * opens the source, allocates, then opens the destination, keeps -1 for a
 * descriptor not open and NULL for no buffer, and leaves through one block
 * that releases whatever is held; its loop runs until read_full answers 0
 * (one read more than needed at the end) or fails. blk_batch_read serves
 * the even-numbered requests first, then the odd ones (batch.h allows any
 * order), one pread_full at a time in the caller's thread.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

enum outcome { MOVED, AT_END, AGAIN, FAILED };

/* What one read, pread or write result means for the loop around it. */
static enum outcome classify(ssize_t r)
{
	if (r > 0)
		return MOVED;
	if (r == 0)
		return AT_END;
	return errno == EINTR ? AGAIN : FAILED;
}

static size_t one_call(size_t left)
{
	return left > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : left;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	unsigned char *cur = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t r = read(fd, cur, one_call(left));

		switch (classify(r)) {
		case MOVED:
			cur += r;
			left -= (size_t)r;
			break;
		case AT_END:
			return (ssize_t)(len - left);
		case AGAIN:
			break;
		case FAILED:
			return -errno;
		}
	}
	return (ssize_t)len;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	unsigned char *cur = buf;
	size_t left = len;
	off_t pos = offset;

	if (offset < 0)
		return -EINVAL;
	while (left > 0) {
		ssize_t r = pread(fd, cur, one_call(left), pos);

		switch (classify(r)) {
		case MOVED:
			cur += r;
			pos += (off_t)r;
			left -= (size_t)r;
			break;
		case AT_END:
			return (ssize_t)(len - left);
		case AGAIN:
			break;
		case FAILED:
			return -errno;
		}
	}
	return (ssize_t)len;
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	const unsigned char *cur = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t r = write(fd, cur, one_call(left));

		switch (classify(r)) {
		case MOVED:
			cur += r;
			left -= (size_t)r;
			break;
		case AT_END:    /* took nothing: no error, so offer the rest again */
		case AGAIN:
			break;
		case FAILED:
			return -errno;
		}
	}
	return (ssize_t)len;
}

/* open(2), again for as long as a signal interrupts it (a FIFO's wait). */
static int open_again(const char *path, int flags, mode_t mode)
{
	for (;;) {
		int fd = open(path, flags, mode);

		if (fd != -1 || errno != EINTR)
			return fd;
	}
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	int in = -1, out = -1;
	char *buf = NULL;
	off_t total = 0, result;

	if (bufsize == 0)
		return -EINVAL;
	in = open_again(src, O_RDONLY, 0);
	if (in == -1)
		return -errno;
	buf = malloc(bufsize);
	if (buf == NULL) {
		result = -ENOMEM;
		goto release;
	}
	out = open_again(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out == -1) {
		result = -errno;
		goto release;
	}
	for (;;) {
		ssize_t got = read_full(in, buf, bufsize), put;

		if (got <= 0) {
			result = got < 0 ? got : total;
			break;
		}
		put = write_full(out, buf, (size_t)got);
		if (put < 0) {
			result = put;
			break;
		}
		total += got;
	}
	/* The destination's close may report a delayed write error: it counts
	 * when the copy itself went well. */
	if (close(out) == -1 && result >= 0)
		result = -errno;
	out = -1;
release:
	if (out != -1)
		close(out);
	free(buf);
	close(in);
	return result;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (n > 0 && reqs == NULL))
		return -EINVAL;
	for (size_t first = 0; first < 2; first++)
		for (size_t i = first; i < n; i += 2)
			reqs[i].res = pread_full(reqs[i].fd, reqs[i].buf, reqs[i].len,
						 reqs[i].offset);
	return 0;
}
