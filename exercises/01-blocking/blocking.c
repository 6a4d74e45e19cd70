/*
 * blocking.c - chapter 01 exercise: blocking I/O done right.
 *
 * Read chapters/01-blocking/README.md first; the contract (what each function
 * must return) is in chapters/01-blocking/blocking.h.
 * Grade your work with:   make check CH=01
 * Try it in a real tool:  make run CH=01 ARGS="-b 7 /etc/hostname"
 *
 * Every function returns a count or a negated errno value, never -1 and never
 * errno itself; errno is only valid until the next library call, so take it
 * right after the call that failed. Replace each "return -ENOSYS" as you
 * solve its TODO. A failing test names the TODO and a lesson section;
 * deeper hints for each test (the man page passage, then the shape of the
 * fix in words) come with `make hint T=01.NN`, one level per call.
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
	 * TODO 1: fill buf with len bytes from fd using read(2), fewer only if
	 * the file ends first.
	 * Why it is not one call: read(2) promises *some* bytes, not all of
	 * them (a pipe gives what the writer has written so far, a signal or
	 * the 2 GiB cap cuts a transfer short), and 0 means end of file. Work
	 * out, from man 2 read ("RETURN VALUE", "ERRORS", "NOTES"), what each
	 * kind of result means and which of them the contract in blocking.h
	 * retries, stops on, or reports.
	 * Pitfalls the tests check: the second call must not overwrite the
	 * first call's bytes, nor ask for more room than is left; EINTR is not
	 * EAGAIN (lesson: "EINTR and SA_RESTART", "EAGAIN"); an error after
	 * some bytes is still an error ("An error after partial progress");
	 * len == 0 makes no call at all; counts pass 4 GiB ("64-bit sizes and
	 * offsets").
	 */
	(void)fd;
	(void)buf;
	(void)len;
	return -ENOSYS;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	/*
	 * TODO 2: read_full's job at a given offset, with pread(2), leaving the
	 * descriptor's file position alone (another thread may be using it).
	 * Why pread: it takes the position as an argument and never moves the
	 * shared one (man 2 pread, DESCRIPTION); lseek + read is refused here.
	 * What changes from TODO 1: nobody advances the file position for you,
	 * so after a short pread you decide where the next one reads (lesson:
	 * "Short reads", the 15000-bytes diagram). The contract's order of
	 * checks for a negative offset and len == 0 is in blocking.h; offsets
	 * go beyond 4 GiB, so mind the types.
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
	 * TODO 3: deliver all len bytes of buf to fd with write(2); return len,
	 * or the -errno of the failure that stopped it.
	 * The contract is in blocking.h (write_full) and the behaviour of a
	 * partial write in man 2 write, "RETURN VALUE" and "ERRORS"; the
	 * lesson's "Short writes" shows one happening. Work out the rest from
	 * what you learned in TODO 1, minus its end of file: a write has none.
	 */
	(void)fd;
	(void)buf;
	(void)len;
	return -ENOSYS;
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	/*
	 * TODO 4: copy the file src to dst through one heap buffer of bufsize
	 * bytes, moving the data with your read_full and write_full; return
	 * the bytes copied or an -errno.
	 * Why so many rules: a copy that looks right on a good day can destroy
	 * the destination when the source is missing, leave the old tail of a
	 * longer file, create a file anyone may write, leak a descriptor or the
	 * buffer on an error path, or report success while close() says the
	 * data never reached the disk. blocking.h lists what copy_file must do
	 * in each case; read it as a checklist. open(2) of a FIFO waits for
	 * its other end (a writer for src, a reader for dst), and a signal can
	 * end that wait with EINTR: as with read, nothing happened, so open
	 * again, src and dst alike.
	 * Read: man 2 open (O_CREAT and its mode argument, O_TRUNC, the access
	 * modes, RETURN VALUE), man 2 umask, man 2 close ("Dealing with error
	 * returns from close()"). Lesson: "Cleaning up" (why one cleanup path
	 * at the end of the function, and the order of the opens).
	 */
	(void)src;
	(void)dst;
	(void)bufsize;
	return -ENOSYS;
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 5: the course's shared workload, a batch of independent reads
	 * (chapters/common/batch.h), done the blocking way with pread_full:
	 * one request at a time, so the queue depth is 1 whatever qd says.
	 * The contract (which arguments are -EINVAL, what lands in each res,
	 * what the function returns when some requests fail) is in batch.h
	 * and blocking.h. Later chapters implement the same function with a
	 * real queue depth; lesson: "One blocking thread is queue depth 1".
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}
