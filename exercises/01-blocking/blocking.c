/*
 * blocking.c - chapter 01 exercise: blocking I/O done right.
 *
 * Read chapters/01-blocking/README.md first; the contract (what each function
 * must return) is in chapters/01-blocking/blocking.h.
 * Grade your work with:   make check CH=01
 * Try it in a real tool:  make run CH=01 ARGS="-b 7 /etc/hostname"
 *
 * Every function returns a count or -errno (e.g. return -errno; right after
 * the failing call, before anything else can change errno). Replace each
 * "return -ENOSYS" as you solve its TODO.
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t read_full(int fd, void *buf, size_t len)
{
	/*
	 * TODO 1: call read(2) until len bytes are in buf.
	 *  - read may return fewer bytes than asked (a pipe holds what the
	 *    writer has written so far): ask again for the rest, at buf + done;
	 *  - it returns 0 at end of file: stop and return what you have;
	 *  - -1 with errno EINTR means a signal interrupted it before any data:
	 *    just call it again (lesson: "EINTR and SA_RESTART");
	 *  - any other -1 (EBADF, EISDIR, EAGAIN, ...) is the answer: return -errno,
	 *    even if some bytes were read before it (not the count so far);
	 *  - len == 0 returns 0 without calling read; keep the count in a size_t
	 *    (lengths beyond 4 GiB happen).
	 * man 2 read, "RETURN VALUE" and "ERRORS".
	 */
	(void)fd;
	(void)buf;
	(void)len;
	return -ENOSYS;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	/*
	 * TODO 2: the same loop with pread(2) at offset + done.
	 *  - a negative offset is -EINVAL (check it before anything else);
	 *  - EINTR: call again; other errors: -errno, even after a short pread;
	 *  - advance the offset together with the buffer after a short read;
	 *  - pread never moves the file's position: do not use lseek + read.
	 * man 2 pread.
	 */
	(void)fd;
	(void)buf;
	(void)len;
	(void)offset;
	return -ENOSYS;
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	/*
	 * TODO 3: call write(2) until all len bytes are written.
	 *  - a short write (a signal arrived, a pipe filled up) wrote the FIRST
	 *    n bytes: continue from buf + done, not from buf;
	 *  - -1 with EINTR: try again; any other error: return -errno
	 *    (EPIPE when the reader has gone), even after a short write;
	 *    EAGAIN is an error too, never retried;
	 *  - len == 0 returns 0 without calling write.
	 * man 2 write, "RETURN VALUE".
	 */
	(void)fd;
	(void)buf;
	(void)len;
	return -ENOSYS;
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	/*
	 * TODO 4: copy src to dst through ONE buffer of bufsize bytes.
	 *  - bufsize == 0 is -EINVAL; malloc the buffer (-ENOMEM if it fails);
	 *  - open src with O_RDONLY, dst with O_WRONLY | O_CREAT | O_TRUNC and
	 *    mode 0644 (the kernel applies the umask; not 0666, not src's mode);
	 *    src first: a missing src must leave dst untouched; dst for
	 *    writing only (O_RDWR fails on a file of mode 0200);
	 *  - loop: read_full up to bufsize bytes, write_full what you got, stop
	 *    at end of file; return the total (an off_t: files exceed 2 GiB), or
	 *    the first -errno, also when it comes in the middle of the copy;
	 *  - open returns -1 on failure: 0 is a valid descriptor (test < 0);
	 *  - close every descriptor you opened and free the buffer on EVERY
	 *    path, errors included (goto-based cleanup keeps that simple);
	 *    a failing close(dst) after a good copy is the copy's -errno.
	 * man 2 open, man 2 close ("dealing with error returns").
	 */
	(void)src;
	(void)dst;
	(void)bufsize;
	return -ENOSYS;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 5: the shared workload (chapters/common/batch.h), blocking style.
	 *  - qd == 0, or reqs == NULL with n > 0: return -EINVAL (n == 0 with
	 *    NULL is 0; any qd above 0, even far above n, is fine);
	 *  - for each request: reqs[i].res = pread_full(...) of that request;
	 *    one failed request does not stop the others;
	 *  - return 0.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
