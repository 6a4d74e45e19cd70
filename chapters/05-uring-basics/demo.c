/*
 * demo.c - chapter 05's working example: a cat built on uring_basics.h.
 *
 *     demo [-v] [-b BUFSIZE] [FILE...]     copy each FILE ("-" = stdin;
 *                                          none = stdin) to stdout
 *     demo --features                      print the io_uring feature report
 *
 * Every byte of file data moves through io_uring: uring_read_full() into
 * one buffer, uring_write_full() to stdout. It is linked with whichever
 * implementation is being graded, so your module powers it.
 * -v prints each call and its result on stderr.
 * BUFSIZE takes a k or m suffix (64k, 1m); the default is 64k.
 */
#define _GNU_SOURCE
#include "uring_basics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BUFSIZE (64 * 1024)
#define MAX_BUFSIZE ((size_t)1 << 30)

struct options {
	size_t bufsize;
	bool verbose;
	bool features;
	int first_file; /* index in argv of the first FILE */
};

static void usage(void)
{
	fprintf(stderr,
		"usage: demo [-v] [-b BUFSIZE] [FILE...]   (cat through io_uring)\n"
		"       demo --features                  (what this kernel's io_uring can do)\n"
		"  -b BUFSIZE  bytes per request, e.g. 4096, 64k, 1m (default 64k)\n"
		"  -v          print every read/write call and its result on stderr\n"
		"  FILE '-' or no FILE means standard input\n");
}

/* "64k" -> 65536. Returns 0 on a bad or out-of-range value. */
static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return 0;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v > MAX_BUFSIZE)
		return 0;
	return (size_t)v;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int i;

	o->bufsize = DEFAULT_BUFSIZE;
	o->verbose = false;
	o->features = false;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--features") == 0) {
			o->features = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			o->verbose = true;
		} else if (strcmp(a, "-b") == 0) {
			if (++i == argc || !(o->bufsize = parse_size(argv[i])))
				return -1;
		} else if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (a[0] == '-' && a[1] != '\0') {
			return -1;
		} else {
			break;
		}
	}
	o->first_file = i;
	if (o->features && i < argc)
		return -1; /* --features takes no files */
	return 0;
}

/* Read a small /proc or /sys value; "" if absent. Diagnostics only. */
static void read_line(const char *path, const char *prefix, char *out,
		      size_t size)
{
	FILE *f = fopen(path, "r");
	char line[256];

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			const char *v = line + strlen(prefix);

			v += strspn(v, " \t");
			snprintf(out, size, "%s", v);
			out[strcspn(out, " \t\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

/* -ENOSYS is also what the exercise's skeleton returns for every function
 * not written yet: tell that apart from a kernel without io_uring by asking
 * the kernel directly. */
static bool io_uring_works_here(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

/* A function of the module returned -ENOSYS although io_uring works. */
static bool explain_not_written(int err, const char *function, int todo)
{
	if (err != -ENOSYS || !io_uring_works_here())
		return false;
	fprintf(stderr, "demo: %s returned -ENOSYS (not implemented): write TODO %d in "
		"your uring_basics.c (make check CH=05 grades it)\n", function, todo);
	return true;
}

/* uring_open() (or the probe) failed: say which of the usual suspects it is. */
static void explain_setup_failure(int err, const char *function, int todo)
{
	char disabled[32], seccomp[32];
	struct rlimit rl;

	if (explain_not_written(err, function, todo))
		return;
	fprintf(stderr, "demo: cannot set up io_uring: %s\n", strerror(-err));
	read_line("/proc/sys/kernel/io_uring_disabled", "", disabled,
		  sizeof(disabled));
	read_line("/proc/self/status", "Seccomp:", seccomp, sizeof(seccomp));
	if (err == -EPERM) {
		if (disabled[0] && strcmp(disabled, "0") != 0)
			fprintf(stderr, "  kernel.io_uring_disabled = %s: an "
				"administrator turned io_uring off (fix: sysctl "
				"-w kernel.io_uring_disabled=0, or add this user "
				"to kernel.io_uring_group when it is 1)\n",
				disabled);
		if (seccomp[0] && strcmp(seccomp, "0") != 0)
			fprintf(stderr, "  Seccomp: %s in /proc/self/status: a "
				"seccomp filter is active; container runtimes "
				"(Docker 25+) block io_uring_setup with EPERM "
				"(fix: run the container with a profile that "
				"allows io_uring_setup, io_uring_enter and "
				"io_uring_register)\n", seccomp);
		if (!(disabled[0] && strcmp(disabled, "0") != 0) &&
		    !(seccomp[0] && strcmp(seccomp, "0") != 0))
			fprintf(stderr, "  neither kernel.io_uring_disabled nor "
				"seccomp is set here; an LSM (SELinux, AppArmor) "
				"may refuse it: check the audit log\n");
	} else if (err == -ENOMEM && getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		fprintf(stderr, "  RLIMIT_MEMLOCK is %llu KiB; ring memory is "
			"charged to it (fix: ulimit -l 8192, or a smaller ring)\n",
			(unsigned long long)rl.rlim_cur / 1024);
	} else if (err == -ENOSYS) {
		fprintf(stderr, "  this kernel has no io_uring (or it is "
			"compiled out)\n");
	} else if (err == -EOPNOTSUPP) {
		fprintf(stderr, "  the probe says this kernel cannot do "
			"IORING_OP_READ/IORING_OP_WRITE; try: demo --features\n");
	}
}

/* Copy one open fd to stdout. Returns 0 or -errno. */
static int cat_fd(struct io_uring *ring, int fd, char *buf,
		  const struct options *o, const char *name)
{
	struct stat st;
	off_t offset = 0;
	bool seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);

	for (;;) {
		ssize_t got, put;
		off_t at = seekable ? offset : -1;

		got = uring_read_full(ring, fd, buf, o->bufsize, at);
		if (o->verbose)
			fprintf(stderr, "uring_read_full(%s, %zu bytes, offset "
				"%lld) = %zd\n", name, o->bufsize,
				(long long)at, got);
		if (got <= 0)
			return got < 0 ? (int)got : 0;
		put = uring_write_full(ring, STDOUT_FILENO, buf, (size_t)got, -1);
		if (o->verbose)
			fprintf(stderr, "uring_write_full(stdout, %zd bytes, "
				"offset -1) = %zd\n", got, put);
		if (put < 0)
			return (int)put;
		offset += got;
	}
}

/* cat each file named on the command line; like cat(1), go on after a
 * file fails and report it in the exit status. */
static int cat_files(int argc, char **argv, const struct options *o)
{
	struct io_uring ring;
	char *buf;
	int i, status = 0, ret;

	ret = uring_open(&ring, 4);
	if (ret < 0) {
		explain_setup_failure(ret, "uring_open", 1);
		return 1;
	}
	buf = malloc(o->bufsize);
	if (!buf) {
		fprintf(stderr, "demo: out of memory for a %zu-byte buffer\n",
			o->bufsize);
		io_uring_queue_exit(&ring);
		return 1;
	}
	for (i = o->first_file; i < argc || i == o->first_file; i++) {
		const char *name = i < argc ? argv[i] : "-";
		bool is_stdin = strcmp(name, "-") == 0;
		int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "demo: %s: %s\n", name, strerror(errno));
			status = 1;
			continue;
		}
		ret = cat_fd(&ring, fd, buf, o, name);
		if (ret < 0) {
			if (!explain_not_written(ret, "uring_read_full or "
						 "uring_write_full", 4))
				fprintf(stderr, "demo: %s: %s\n", name,
					strerror(-ret));
			status = 1;
		}
		if (!is_stdin)
			close(fd);
		if (ret == -EPIPE)
			break; /* nobody is reading our output any more */
	}
	free(buf);
	io_uring_queue_exit(&ring);
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	int ret;

	if (parse_args(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	if (o.features) {
		ret = uring_feature_report(stdout);
		if (ret == -EIO) {
			fprintf(stderr, "demo: writing the report failed\n");
			return 1;
		}
		if (ret < 0) {
			explain_setup_failure(ret, "uring_feature_report", 8);
			return 1;
		}
		return 0;
	}
	return cat_files(argc, argv, &o);
}
