/*
 * demo.c - chapter 01's tool, built on blocking.h (yours or the reference).
 *
 *   demo [-b BUFSIZE] FILE...            print the files, like cat
 *   demo -c [-b BUFSIZE] SRC DST         copy SRC to DST with copy_file
 *   demo -r N [-s BLOCK] FILE            N random BLOCK-byte reads with
 *                                        blk_batch_read; prints reads/s
 *
 * Run it with: make run CH=01 ARGS="-b 7 /etc/hostname"
 */
#define _GNU_SOURCE
#include "blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: demo [-b BUFSIZE] FILE...         print files (cat)\n"
		"       demo -c [-b BUFSIZE] SRC DST      copy SRC to DST\n"
		"       demo -r N [-s BLOCK] FILE         N random reads, report reads/s\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v == 0) {
		fprintf(stderr, "demo: not a positive number: %s\n", s);
		exit(2);
	}
	return (size_t)v;
}

static int cat_file(const char *path, char *buf, size_t bufsize)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((got = read_full(fd, buf, bufsize)) > 0) {
		ssize_t put = write_full(STDOUT_FILENO, buf, (size_t)got);

		if (put < 0) {
			fprintf(stderr, "demo: write: %s\n", strerror((int)-put));
			close(fd);
			return 1;
		}
	}
	close(fd);
	if (got < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror((int)-got));
		return 1;
	}
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* N reads of `block` bytes at random block-aligned offsets, one at a time. */
static int random_reads(const char *path, size_t n, size_t block)
{
	struct batch_req *reqs = calloc(n, sizeof(*reqs));
	char *buf = malloc(block);
	struct timespec t0;
	struct stat st;
	size_t failed = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	double secs;

	if (!reqs || !buf || fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size < block) {
		fprintf(stderr, "demo: %s: %s\n", path,
			fd < 0 ? strerror(errno) : "too small, or out of memory");
		free(reqs);
		free(buf);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* Every read goes into the same buffer, as fio's psync job reads into
	 * its one buffer: the demo only counts the results, and the reads run
	 * one at a time. A buffer per read (80 MiB for 20000 reads) cost about
	 * a twentieth of the IOPS on cold buffered reads: each copy from the
	 * page cache then lands in memory the CPU's caches and TLB have not
	 * seen. Touched before the clock starts: a fresh page costs a page
	 * fault the first time it is written. */
	memset(buf, 0, block);
	srand(1);
	for (size_t i = 0; i < n; i++) {
		size_t blocks = (size_t)st.st_size / block;

		reqs[i].fd = fd;
		reqs[i].offset = (off_t)((size_t)rand() % blocks * block);
		reqs[i].len = block;
		reqs[i].buf = buf;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = blk_batch_read(reqs, n, 1);
	secs = seconds_since(&t0);
	for (size_t i = 0; ret == 0 && i < n; i++)
		failed += reqs[i].res != (ssize_t)block;
	if (ret < 0)
		fprintf(stderr, "demo: blk_batch_read: %s\n", strerror(-ret));
	else
		printf("%zu reads of %zu bytes in %.3f s: %.0f reads/s (%zu failed or short)\n",
		       n, block, secs, (double)n / secs, failed);
	close(fd);
	free(reqs);
	free(buf);
	return ret < 0 || failed;
}

int main(int argc, char **argv)
{
	size_t bufsize = 65536, nreads = 0, block = 4096;
	bool copy = false;
	char *buf;
	int opt, status = 0;

	while ((opt = getopt(argc, argv, "b:cr:s:h")) != -1) {
		switch (opt) {
		case 'b': bufsize = parse_size(optarg); break;
		case 'c': copy = true; break;
		case 'r': nreads = parse_size(optarg); break;
		case 's': block = parse_size(optarg); break;
		default: usage();
		}
	}
	if (copy) {
		off_t n;

		if (argc - optind != 2)
			usage();
		n = copy_file(argv[optind], argv[optind + 1], bufsize);
		if (n < 0) {
			fprintf(stderr, "demo: copy %s -> %s: %s\n", argv[optind],
				argv[optind + 1], strerror((int)-n));
			return 1;
		}
		fprintf(stderr, "demo: copied %lld bytes\n", (long long)n);
		return 0;
	}
	if (nreads) {
		if (argc - optind != 1)
			usage();
		return random_reads(argv[optind], nreads, block);
	}
	if (optind == argc)
		usage();
	buf = malloc(bufsize);
	if (!buf) {
		fprintf(stderr, "demo: out of memory for a %zu-byte buffer\n", bufsize);
		return 1;
	}
	for (int i = optind; i < argc; i++)
		status |= cat_file(argv[i], buf, bufsize);
	free(buf);
	return status;
}
