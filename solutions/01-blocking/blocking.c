/*
 * blocking.c - chapter 01 reference: blocking I/O that survives short
 * transfers, signals and end of file. See chapters/01-blocking/blocking.h.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;       /* a signal arrived before any data */
			return -errno;          /* EAGAIN included: never spin */
		}
		if (n == 0)
			break;                  /* end of file: done, short */
		done += (size_t)n;              /* short read: ask for the rest */
	}
	return (ssize_t)done;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	char *p = buf;
	size_t done = 0;

	if (offset < 0)
		return -EINVAL;
	while (done < len) {
		/* Advance the offset with the buffer, or a short read re-reads
		 * the same bytes into the next part of buf. */
		ssize_t n = pread(fd, p + done, len - done, offset + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* write never returns 0 for len > 0 on files, pipes or sockets;
		 * if it did, retrying is the only sensible thing to do. */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Both descriptors are open; copy until end of file. */
static off_t copy_fds(int in, int out, char *buf, size_t bufsize)
{
	off_t total = 0;

	for (;;) {
		ssize_t got = read_full(in, buf, bufsize);
		ssize_t put;

		if (got < 0)
			return got;
		if (got == 0)
			return total;
		put = write_full(out, buf, (size_t)got);
		if (put < 0)
			return put;
		total += got;
		if ((size_t)got < bufsize)
			return total;  /* read_full stops short only at end of file */
	}
}

/*
 * open(2), and again after EINTR. Opening a FIFO waits for its other end
 * (fifo(7)); a signal whose handler was installed without SA_RESTART ends
 * that wait with EINTR (signal(7)), and nothing was opened: the caller
 * still wants the file, so open it again, as read_full reads again.
 */
static int open_retrying(const char *path, int flags, mode_t mode)
{
	int fd;

	do
		fd = open(path, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	off_t ret;
	char *buf;
	int in, out;

	if (bufsize == 0)
		return -EINVAL;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;

	in = open_retrying(src, O_RDONLY | O_CLOEXEC, 0);
	if (in < 0) {
		ret = -errno;
		goto out_free;
	}
	out = open_retrying(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		ret = -errno;
		goto out_close_in;
	}

	ret = copy_fds(in, out, buf, bufsize);

	/* close() can report a delayed write error (NFS, quotas): keep it. */
	if (close(out) < 0 && ret >= 0)
		ret = -errno;
out_close_in:
	close(in);
out_free:
	free(buf);
	return ret;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	if (qd == 0 || (reqs == NULL && n > 0))
		return -EINVAL;
	/* One blocking call at a time: the queue depth is 1, whatever qd is. */
	for (size_t i = 0; i < n; i++)
		reqs[i].res = pread_full(reqs[i].fd, reqs[i].buf, reqs[i].len,
					 reqs[i].offset);
	return 0;
}
