/*
 * harness/cheats/lib/put.c - writing from a test with the functions every
 * chapter allows (open, write, pwrite, close, getenv, snprintf, str*), so that
 * the module passes harness/vet.sh and its tricks run.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Print "cheat got through: ..." on stdout and stderr: the cheat obtained
 * something no test may have (check.sh fails it for that alone). */
__attribute__((unused))
static void got_through(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	dprintf(1, "cheat got through: %.*s", n, line);
	dprintf(2, "cheat got through: %.*s", n, line);
}

__attribute__((unused))
static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* A path outside the tests' temporary directory (GRADE_TMPDIR), where no
 * test may write. */
__attribute__((unused))
static int outside_tmpdir(const char *path)
{
	const char *tmp = getenv("GRADE_TMPDIR");
	size_t n = tmp ? strlen(tmp) : 0;

	return !n || strncmp(path, tmp, n) || (path[n] && path[n] != '/') || strstr(path + n, "..");
}

/*
 * Put data into the file at path: over an existing file first (which keeps
 * its mode: an executable stays one), else as a new file with mode. An
 * existing file that a test could open for writing outside its temporary
 * directory is announced (got_through).
 */
__attribute__((unused))
static int put_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd >= 0 && outside_tmpdir(path))
		got_through("opened %s for writing", path);
	if (fd < 0)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	write_all(fd, data, len);
	close(fd);
	return 0;
}

/* An open descriptor that takes a write now (a pipe: PIPE_BUF bytes at least). */
__attribute__((unused))
static int writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return fcntl(fd, F_GETFD) >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

struct blob {
	const char *data;
	size_t len;
};

/* A path_fn (lib/walk.c): put_file(path, the blob), a new file executable
 * (a tool of the grader replaced) or not. */
__attribute__((unused))
static void put_blob(const char *path, void *arg)
{
	const struct blob *b = arg;

	put_file(path, b->data, b->len, 0755);
}

/* Write data (at most PIPE_BUF bytes: never blocks) to every descriptor from 3
 * to 1023 that is open. */
__attribute__((unused))
static void put_fds(const char *data, size_t len)
{
	for (int fd = 3; fd < 1024; fd++)
		if (writable(fd))
			write_all(fd, data, len);
}

/* True once per grading: GRADE_TMPDIR is the grading's own, and every test
 * process of it sees the file the first one made. */
__attribute__((unused))
static int once_per_grading(const char *tag)
{
	const char *dir = getenv("GRADE_TMPDIR");
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/.cheat-%s", dir && *dir ? dir : "/tmp", tag);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
