/*
 * harness/cheats/lib/uring-forge.c - writing with io_uring alone: files
 * opened with IORING_OP_OPENAT, data written with IORING_OP_WRITE, closed
 * with IORING_OP_CLOSE. liburing's prep helpers are inline and its
 * io_uring_submit is allowed in chapters 05 and 06: no read, write or open of
 * the C library (nothing the link seams see). Include lib/put.c above it.
 */
#include <liburing.h>
#include <poll.h>

static struct io_uring forge_ring;
static int forge_ring_up;

/* Submit the prepared SQE and wait (at most 200 ms) for its result; a late
 * completion of an earlier request that timed out is passed over. */
__attribute__((unused))
static int uring_run(struct io_uring_sqe *sqe)
{
	static __u64 seq;
	struct __kernel_timespec ts = { 0, 200 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	__u64 mine = ++seq;
	int res;

	io_uring_sqe_set_data64(sqe, mine);
	if (io_uring_submit(&forge_ring) < 1)
		return -EIO;
	for (;;) {
		if (io_uring_wait_cqe_timeout(&forge_ring, &cqe, &ts) < 0)
			return -ETIME;
		res = cqe->res;
		if (io_uring_cqe_get_data64(cqe) == mine) {
			io_uring_cqe_seen(&forge_ring, cqe);
			return res;
		}
		io_uring_cqe_seen(&forge_ring, cqe);
	}
}

__attribute__((unused))
static int uring_up(void)
{
	if (!forge_ring_up && io_uring_queue_init(8, &forge_ring, 0) == 0)
		forge_ring_up = 1;
	return forge_ring_up;
}

__attribute__((unused))
static int uring_openat(const char *path, int flags, mode_t mode)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&forge_ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_openat(sqe, AT_FDCWD, path, flags, mode);
	return uring_run(sqe);
}

__attribute__((unused))
static int uring_write(int fd, const char *data, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&forge_ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, fd, data, (unsigned)len, (__u64)-1);  /* at the file position */
	return uring_run(sqe);
}

__attribute__((unused))
static void uring_close(int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&forge_ring);

	if (!sqe)
		return;
	io_uring_prep_close(sqe, fd);
	uring_run(sqe);
}

/* A path_fn (lib/walk.c): put the blob into the file at path, as put_file
 * does, but through the ring. */
__attribute__((unused))
static void uring_put_file(const char *path, void *arg)
{
	const struct blob *b = arg;
	int fd;

	if (!uring_up())
		return;
	fd = uring_openat(path, O_WRONLY | O_TRUNC, 0);
	if (fd >= 0 && outside_tmpdir(path))
		got_through("opened %s for writing with IORING_OP_OPENAT", path);
	if (fd < 0)
		fd = uring_openat(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return;
	uring_write(fd, b->data, b->len);
	uring_close(fd);
}

/* The blob (at most PIPE_BUF bytes) to every open descriptor from 3 to 1023
 * that takes it now, but the ring's own. */
__attribute__((unused))
static void uring_put_fds(const char *data, size_t len)
{
	if (!uring_up())
		return;
	for (int fd = 3; fd < 1024; fd++)
		if (fd != forge_ring.ring_fd && writable(fd))
			uring_write(fd, data, len);
}
