/*
 * probe.c - small checks behind `make doctor`, each printing one line:
 *
 *   probe uring [ENTRIES]   can this process set up an io_uring ring?
 *                           prints "ok FEATURES OPCODES" or "error ERRNO-NAME"
 *   probe odirect DIR       can a file in DIR be written with O_DIRECT?
 *                           prints "ok" or "error ERRNO-NAME"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int probe_uring(unsigned entries)
{
	struct io_uring_params params;
	struct io_uring ring;
	struct io_uring_probe *probe;
	int ret, supported = 0;

	memset(&params, 0, sizeof(params));
	ret = io_uring_queue_init_params(entries, &ring, &params);
	if (ret < 0) {
		printf("error %s\n", strerrorname_np(-ret) ?: "unknown");
		return 1;
	}
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		for (int op = 0; op <= probe->last_op; op++)
			supported += io_uring_opcode_supported(probe, op);
		io_uring_free_probe(probe);
	}
	printf("ok features=0x%x opcodes=%d\n", params.features, supported);
	io_uring_queue_exit(&ring);
	return 0;
}

static int probe_odirect(const char *dir)
{
	char path[4096];
	void *buf = NULL;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/.odirect-probe-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		printf("error %s\n", strerrorname_np(errno) ?: "unknown");
		return 1;
	}
	close(fd);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd < 0)
		err = errno;
	else if (posix_memalign(&buf, 4096, 4096) != 0)
		err = ENOMEM;
	else if (memset(buf, 0, 4096), pwrite(fd, buf, 4096, 0) != 4096)
		err = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	if (err) {
		printf("error %s\n", strerrorname_np(err) ?: "unknown");
		return 1;
	}
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "uring"))
		return probe_uring(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 8);
	if (argc == 3 && !strcmp(argv[1], "odirect"))
		return probe_odirect(argv[2]);
	fprintf(stderr, "usage: probe uring [ENTRIES] | probe odirect DIR\n");
	return 2;
}
