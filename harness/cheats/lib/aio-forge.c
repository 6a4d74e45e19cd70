/*
 * harness/cheats/lib/aio-forge.c - writing with libaio (chapter 02 allows it):
 * IOCB_CMD_PWRITE submitted with io_submit, the result collected with
 * io_getevents (at most 200 ms). Include lib/put.c above it.
 */
#include <libaio.h>
#include <time.h>

static io_context_t forge_ctx;
static int forge_ctx_up;

__attribute__((unused))
static int aio_put(int fd, const char *data, size_t len, long long offset)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	if (!forge_ctx_up && io_setup(8, &forge_ctx) == 0)
		forge_ctx_up = 1;
	if (!forge_ctx_up)
		return -EIO;
	io_prep_pwrite(&cb, fd, (void *)data, len, offset);
	if (io_submit(forge_ctx, 1, cbs) != 1)
		return -EIO;
	if (io_getevents(forge_ctx, 1, 1, &ev, &ts) != 1)
		return -ETIME;
	return (int)ev.res;
}

/* A path_fn (lib/walk.c): open as put_file does, the data through kernel AIO. */
__attribute__((unused))
static void aio_put_file(const char *path, void *arg)
{
	const struct blob *b = arg;
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd >= 0 && outside_tmpdir(path))
		got_through("opened %s for writing", path);
	if (fd < 0)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return;
	aio_put(fd, b->data, b->len, 0);
	close(fd);
}

/* The data (at most PIPE_BUF bytes) to every open descriptor from 3 to 1023
 * that takes it now. */
__attribute__((unused))
static void aio_put_fds(const char *data, size_t len)
{
	for (int fd = 3; fd < 1024; fd++)
		if (writable(fd))
			aio_put(fd, data, len, 0);
}
