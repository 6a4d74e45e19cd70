/*
 * demo.c - chapter 03: drive paio_batch_read (POSIX aio) or the chapter's
 * own thread pool (tpool_*), and show what runs underneath.
 *
 *   demo [options] FILE              read FILE in order, print bytes and
 *                                    the same CRC that cksum(1) prints
 *   demo [options] --random N FILE   N reads at random B-aligned offsets,
 *                                    print IOPS
 *   demo [options] --pipes P         the thread-count lab: P reads, each on
 *                                    its own pipe (or all on one pipe with
 *                                    --one-pipe), answered by the demo
 *
 * Options: --pool T (use tpool with T threads instead of POSIX aio),
 * --qd Q, --bs B, --fds K, --direct, --cold, --threads, --aio-threads T,
 * --seed S, --verbose. `demo --help` explains each.
 *
 * It uses only the chapter API (paio.h), so it runs on whichever module it
 * is linked with: the reference or yours. To show which aio calls that
 * module makes, this file defines aio_read, aio_suspend, aio_error and
 * aio_return itself: a definition in the executable takes precedence over
 * the one in libc.so, so the module's calls come here first; we count
 * them and pass them on to glibc's real functions, found with
 * dlsym(RTLD_NEXT, ...). pread and read are watched the same way, to show
 * how many of the pool's workers are inside a read at once. That is a
 * measuring trick for a demo, not something to copy into a library.
 * (glibc's own helper threads call an internal pread that we cannot see:
 * use strace -f for those.)
 */
#define _GNU_SOURCE
#include "paio.h"

#include <aio.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIO_ALIGN 4096u
#define MAX_FDS 64u

/* ---- options ------------------------------------------------------------ */

struct options {
	unsigned pool;        /* 0: POSIX aio; else tpool with this many threads */
	unsigned qd;
	size_t bs;
	size_t random;        /* 0: whole file in order */
	unsigned pipes;       /* 0: FILE mode; else the pipe lab */
	bool one_pipe;
	unsigned fds;
	bool direct, cold, threads, verbose;
	unsigned aio_threads; /* 0: glibc's default (20) */
	uint64_t seed;
	const char *path;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: demo [options] FILE             read FILE in order; print bytes\n"
		"                                       and the CRC cksum(1) prints\n"
		"       demo [options] --random N FILE  N reads of B bytes at random\n"
		"                                       B-aligned offsets; print IOPS\n"
		"       demo [options] --pipes P        P reads on P pipes, fed by the\n"
		"                                       demo: count the threads\n"
		"options:\n"
		"  --pool T         use the chapter's thread pool (tpool) with T threads\n"
		"                   instead of POSIX aio (paio_batch_read)\n"
		"  --qd Q           at most Q reads in flight (default 32)\n"
		"  --bs B           bytes per read (default 4096; 65536 in FILE mode)\n"
		"  --fds K          open FILE K times and spread the reads over the K\n"
		"                   descriptors (glibc serialises requests per fd)\n"
		"  --direct         open FILE with O_DIRECT (B must be a multiple of 4096)\n"
		"  --cold           drop FILE's cached pages first (posix_fadvise\n"
		"                   DONTNEED), so reads go to the disk\n"
		"  --threads        print the number of threads while reads are in\n"
		"                   flight (and, for POSIX aio, after the batch)\n"
		"  --one-pipe       with --pipes: all P reads on ONE pipe\n"
		"  --aio-threads T  aio_init(): let glibc use at most T helper threads\n"
		"  --seed S         seed for --random (default 1)\n"
		"  --verbose        print every request's result\n");
}

static int parse_number(const char *s, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

enum { OPT_POOL = 256, OPT_QD, OPT_BS, OPT_RANDOM, OPT_PIPES, OPT_ONE_PIPE,
       OPT_FDS, OPT_DIRECT, OPT_COLD, OPT_THREADS, OPT_AIO_THREADS, OPT_SEED,
       OPT_VERBOSE, OPT_HELP };

static int set_number(int opt, const char *arg, struct options *o)
{
	unsigned long long v;

	switch (opt) {
	case OPT_POOL:
		if (parse_number(arg, 1, TPOOL_MAX_THREADS, &v) < 0)
			return -1;
		o->pool = (unsigned)v;
		return 0;
	case OPT_QD:
		if (parse_number(arg, 1, UINT_MAX, &v) < 0)
			return -1;
		o->qd = (unsigned)v;
		return 0;
	case OPT_BS:
		if (parse_number(arg, 1, 1u << 26, &v) < 0)
			return -1;
		o->bs = (size_t)v;
		return 0;
	case OPT_RANDOM:
		if (parse_number(arg, 1, 1u << 30, &v) < 0)
			return -1;
		o->random = (size_t)v;
		return 0;
	case OPT_PIPES:
		if (parse_number(arg, 1, 512, &v) < 0)
			return -1;
		o->pipes = (unsigned)v;
		return 0;
	case OPT_FDS:
		if (parse_number(arg, 1, MAX_FDS, &v) < 0)
			return -1;
		o->fds = (unsigned)v;
		return 0;
	case OPT_AIO_THREADS:
		if (parse_number(arg, 1, 1024, &v) < 0)
			return -1;
		o->aio_threads = (unsigned)v;
		return 0;
	case OPT_SEED:
		if (parse_number(arg, 0, UINT64_MAX, &v) < 0)
			return -1;
		o->seed = v;
		return 0;
	}
	return -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "qd", required_argument, NULL, OPT_QD },
		{ "bs", required_argument, NULL, OPT_BS },
		{ "random", required_argument, NULL, OPT_RANDOM },
		{ "pipes", required_argument, NULL, OPT_PIPES },
		{ "one-pipe", no_argument, NULL, OPT_ONE_PIPE },
		{ "fds", required_argument, NULL, OPT_FDS },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "cold", no_argument, NULL, OPT_COLD },
		{ "threads", no_argument, NULL, OPT_THREADS },
		{ "aio-threads", required_argument, NULL, OPT_AIO_THREADS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx = 0;

	*o = (struct options){ .qd = 32, .fds = 1, .seed = 1 };
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (c) {
		case OPT_ONE_PIPE: o->one_pipe = true; break;
		case OPT_DIRECT: o->direct = true; break;
		case OPT_COLD: o->cold = true; break;
		case OPT_THREADS: o->threads = true; break;
		case OPT_VERBOSE: o->verbose = true; break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case '?':
			usage(stderr);
			return -1;
		default:
			if (set_number(c, optarg, o) < 0) {
				fprintf(stderr, "demo: bad value '%s' for --%s\n",
					optarg, longopts[idx].name);
				usage(stderr);
				return -1;
			}
		}
	}
	if (o->bs == 0)
		o->bs = (o->random || o->pipes) ? 4096 : 65536;
	if (o->pipes) {
		if (optind != argc) {
			fprintf(stderr, "demo: --pipes takes no FILE\n");
			usage(stderr);
			return -1;
		}
		return 0;
	}
	if (o->one_pipe) {
		fprintf(stderr, "demo: --one-pipe needs --pipes P\n");
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "demo: expected exactly one FILE\n");
		usage(stderr);
		return -1;
	}
	if (o->direct && o->bs % DIO_ALIGN != 0)
		fprintf(stderr, "demo: note: --bs %zu is not a multiple of %u: "
			"O_DIRECT reads will fail with EINVAL\n", o->bs, DIO_ALIGN);
	o->path = argv[optind];
	return 0;
}

/* ---- watching the module's calls ---------------------------------------- */

static struct {
	atomic_long aio_reads, aio_refused, suspends, errors_polled, returns;
	atomic_long in_flight, max_in_flight;
	atomic_long io_calls, in_io, max_in_io;
} watch;

static void raise_max(atomic_long *max, long v)
{
	long m = atomic_load(max);

	while (v > m && !atomic_compare_exchange_weak(max, &m, v))
		;
}

/* glibc's own function `name`, the one our definitions hide. */
static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (fn == NULL) {
		fprintf(stderr, "demo: cannot find libc's %s: %s\n", name, dlerror());
		exit(2);
	}
	return fn;
}

int aio_read(struct aiocb *cb)
{
	static int (*real)(struct aiocb *);
	int rc;

	if (!real)
		real = (int (*)(struct aiocb *))real_fn("aio_read");
	rc = real(cb);
	if (rc == 0) {
		atomic_fetch_add(&watch.aio_reads, 1);
		raise_max(&watch.max_in_flight, atomic_fetch_add(&watch.in_flight, 1) + 1);
	} else {
		atomic_fetch_add(&watch.aio_refused, 1);
	}
	return rc;
}

int aio_suspend(const struct aiocb *const list[], int nent,
		const struct timespec *timeout)
{
	static int (*real)(const struct aiocb *const[], int, const struct timespec *);

	if (!real)
		real = (int (*)(const struct aiocb *const[], int,
				const struct timespec *))real_fn("aio_suspend");
	atomic_fetch_add(&watch.suspends, 1);
	return real(list, nent, timeout);
}

int aio_error(const struct aiocb *cb)
{
	static int (*real)(const struct aiocb *);

	if (!real)
		real = (int (*)(const struct aiocb *))real_fn("aio_error");
	atomic_fetch_add(&watch.errors_polled, 1);
	return real(cb);
}

ssize_t aio_return(struct aiocb *cb)
{
	static ssize_t (*real)(struct aiocb *);

	if (!real)
		real = (ssize_t (*)(struct aiocb *))real_fn("aio_return");
	atomic_fetch_add(&watch.returns, 1);
	atomic_fetch_sub(&watch.in_flight, 1);
	return real(cb);
}

/* The pool's workers read with pread (and read on pipes): count how many
 * are inside one at the same moment. The demo itself never calls them. */
ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);
	ssize_t got;
	int saved;

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))real_fn("pread");
	atomic_fetch_add(&watch.io_calls, 1);
	raise_max(&watch.max_in_io, atomic_fetch_add(&watch.in_io, 1) + 1);
	got = real(fd, buf, len, off);
	saved = errno;
	atomic_fetch_sub(&watch.in_io, 1);
	errno = saved;
	return got;
}

ssize_t read(int fd, void *buf, size_t len)
{
	static ssize_t (*real)(int, void *, size_t);
	ssize_t got;
	int saved;

	if (!real)
		real = (ssize_t (*)(int, void *, size_t))real_fn("read");
	atomic_fetch_add(&watch.io_calls, 1);
	raise_max(&watch.max_in_io, atomic_fetch_add(&watch.in_io, 1) + 1);
	got = real(fd, buf, len);
	saved = errno;
	atomic_fetch_sub(&watch.in_io, 1);
	errno = saved;
	return got;
}

static void print_calls(const struct options *o)
{
	if (o->pool == 0) {
		printf("calls: aio_read %ld (refused %ld), aio_suspend %ld, "
		       "aio_error %ld, aio_return %ld; most in flight %ld\n",
		       atomic_load(&watch.aio_reads), atomic_load(&watch.aio_refused),
		       atomic_load(&watch.suspends), atomic_load(&watch.errors_polled),
		       atomic_load(&watch.returns), atomic_load(&watch.max_in_flight));
	} else {
		printf("calls: pread/read %ld by the pool's workers; most inside "
		       "a read at once: %ld of %u threads\n",
		       atomic_load(&watch.io_calls), atomic_load(&watch.max_in_io),
		       o->pool);
	}
}

/* ---- counting threads ---------------------------------------------------- */

/* Entries of /proc/self/task: the threads of this process right now. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A thread that samples the thread count every millisecond and keeps the
 * highest value, while a batch runs in the main thread. */
struct sampler {
	pthread_t thread;
	atomic_bool stop;
	atomic_int peak;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;

	while (!atomic_load(&s->stop)) {
		int n = count_threads();

		if (n > atomic_load(&s->peak))
			atomic_store(&s->peak, n);
		sleep_ms(1);
	}
	return NULL;
}

static int sampler_start(struct sampler *s)
{
	atomic_init(&s->stop, false);
	atomic_init(&s->peak, 0);
	return pthread_create(&s->thread, NULL, sampler_main, s);
}

static int sampler_stop(struct sampler *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	return atomic_load(&s->peak);
}

/* ---- running a batch ----------------------------------------------------- */

struct engine {
	const struct options *o;
	struct tpool *pool;
};

static int engine_open(struct engine *e, const struct options *o)
{
	e->o = o;
	e->pool = NULL;
	if (o->pool == 0)
		return 0;
	return tpool_create(&e->pool, o->pool);
}

static void engine_close(struct engine *e)
{
	tpool_destroy(e->pool);
	e->pool = NULL;
}

static int engine_run(struct engine *e, struct batch_req *reqs, size_t n)
{
	if (e->pool)
		return tpool_batch_read(e->pool, reqs, n, e->o->qd);
	return paio_batch_read(reqs, n, e->o->qd);
}

static const char *engine_name(const struct options *o)
{
	return o->pool ? "tpool" : "POSIX aio";
}

static int report_failure(const struct options *o, const char *what, int rc)
{
	if (rc == -ENOSYS)
		fprintf(stderr, "demo: %s is not implemented yet (-ENOSYS): fill "
			"in the TODOs of exercises/03-posix-aio/%s\n", what,
			o->pool ? "tpool.c" : "paio.c");
	else
		fprintf(stderr, "demo: %s: %s\n", what, strerror(-rc));
	return 1;
}

/* ---- the file workloads -------------------------------------------------- */

/* The CRC of POSIX cksum(1): CRC-32 (polynomial 0x04C11DB7, most
 * significant bit first) over the data, then over the length. */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint32_t)p[i] << 24;
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
	}
	return crc;
}

static uint32_t crc_finish(uint32_t crc, unsigned long long len)
{
	for (; len != 0; len >>= 8) {
		unsigned char byte = (unsigned char)(len & 0xff);

		crc = crc_update(crc, &byte, 1);
	}
	return ~crc;
}

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

struct file_set {
	int fd[MAX_FDS];
	unsigned count;
	off_t size;
};

static void close_files(struct file_set *f)
{
	for (unsigned i = 0; i < f->count; i++)
		close(f->fd[i]);
	f->count = 0;
}

static int open_files(const struct options *o, struct file_set *f)
{
	int flags = O_RDONLY | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	struct stat st;

	f->count = 0;
	for (unsigned i = 0; i < o->fds; i++) {
		int fd = open(o->path, flags);

		if (fd < 0) {
			fprintf(stderr, "demo: %s: %s\n", o->path, strerror(errno));
			close_files(f);
			return -1;
		}
		f->fd[f->count++] = fd;
		/* Random reads: tell the kernel not to read ahead, as fio does. */
		if (o->random)
			posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	}
	if (fstat(f->fd[0], &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "demo: %s: not a regular file\n", o->path);
		close_files(f);
		return -1;
	}
	f->size = st.st_size;
	if (o->cold) {
		/* Clean pages are dropped at once; run `sync` first if the
		 * file was just written. */
		int rc = posix_fadvise(f->fd[0], 0, 0, POSIX_FADV_DONTNEED);

		if (rc != 0)
			fprintf(stderr, "demo: posix_fadvise: %s\n", strerror(rc));
	}
	return 0;
}

struct round_buffers {
	struct batch_req *reqs;
	unsigned char *mem;
	size_t count;     /* requests per round, each with its own buffer */
};

static int buffers_alloc(struct round_buffers *b, size_t count, size_t bs)
{
	void *mem = NULL;

	b->reqs = calloc(count, sizeof(*b->reqs));
	if (b->reqs == NULL || posix_memalign(&mem, DIO_ALIGN, count * bs) != 0) {
		free(b->reqs);
		fprintf(stderr, "demo: no memory for %zu buffers of %zu bytes\n",
			count, bs);
		return -1;
	}
	/* Fault the pages in now, before any clock starts: the first write to
	 * a fresh page costs a page fault (found, zeroed, mapped), which the
	 * first round's reads would otherwise be charged with. */
	memset(mem, 0, count * bs);
	b->mem = mem;
	b->count = count;
	return 0;
}

static void buffers_free(struct round_buffers *b)
{
	free(b->reqs);
	free(b->mem);
}

/* Requests per round: enough to keep qd busy most of the time (a round
 * ends by draining its window), each with its own buffer, at most 64 MiB
 * of buffers. */
static size_t round_size(const struct options *o, size_t total)
{
	size_t cap = (64u << 20) / o->bs;
	size_t want = (size_t)o->qd * 32 > 4096 ? (size_t)o->qd * 32 : 4096;

	if (want > cap)
		want = cap;
	if (want < o->qd)
		want = o->qd;
	return want < total ? want : total;
}

struct totals {
	size_t reads, errors, short_reads;
	unsigned long long bytes;
	uint32_t crc;
};

static void tally(const struct options *o, const struct batch_req *r,
		  size_t n, size_t first, struct totals *t)
{
	for (size_t i = 0; i < n; i++) {
		t->reads++;
		if (o->verbose)
			printf("request %zu: fd %d offset %lld len %zu -> %zd%s%s\n",
			       first + i, r[i].fd, (long long)r[i].offset, r[i].len,
			       r[i].res, r[i].res < 0 ? " " : "",
			       r[i].res < 0 ? strerror((int)-r[i].res) : "");
		if (r[i].res < 0) {
			if (t->errors++ < 3)
				fprintf(stderr, "demo: read at offset %lld: %s\n",
					(long long)r[i].offset, strerror((int)-r[i].res));
			continue;
		}
		if ((size_t)r[i].res < r[i].len)
			t->short_reads++;
		t->bytes += (unsigned long long)r[i].res;
		if (!o->random)
			t->crc = crc_update(t->crc, r[i].buf, (size_t)r[i].res);
	}
}

static int run_file(const struct options *o, struct engine *e,
		    const struct file_set *f, struct totals *t, int *peak)
{
	size_t blocks = (size_t)((f->size + (off_t)o->bs - 1) / (off_t)o->bs);
	size_t whole = (size_t)(f->size / (off_t)o->bs);
	size_t total = o->random ? o->random : blocks;
	uint64_t rng = o->seed;
	struct round_buffers b;
	struct sampler s;
	bool sampling;
	int rc = 0;

	*peak = -1;
	if (total == 0)
		return 0;
	if (o->random && whole == 0) {
		fprintf(stderr, "demo: %s is smaller than one block of %zu bytes\n",
			o->path, o->bs);
		return 1;
	}
	if (buffers_alloc(&b, round_size(o, total), o->bs) < 0)
		return 1;
	sampling = o->threads && sampler_start(&s) == 0;
	for (size_t start = 0; start < total && rc == 0; start += b.count) {
		size_t n = total - start < b.count ? total - start : b.count;

		for (size_t i = 0; i < n; i++) {
			size_t block = o->random ? (size_t)(next_random(&rng) % whole)
						 : start + i;

			b.reqs[i] = (struct batch_req){
				.fd = f->fd[(start + i) % f->count],
				.offset = (off_t)block * (off_t)o->bs,
				.len = o->bs,
				.buf = b.mem + i * o->bs,
			};
		}
		rc = engine_run(e, b.reqs, n);
		if (rc == 0)
			tally(o, b.reqs, n, start, t);
	}
	if (sampling)
		*peak = sampler_stop(&s);
	buffers_free(&b);
	if (rc != 0)
		return report_failure(o, o->pool ? "tpool_batch_read"
						 : "paio_batch_read", rc);
	return 0;
}

static void print_threads_after(const struct options *o, int base, int peak)
{
	if (peak < 0)
		return;
	printf("threads: %d before, at most %d while reads were in flight "
	       "(the demo's sampler is one of them)\n", base, peak);
	if (o->pool)
		return;
	printf("threads right after the batch: %d; ", count_threads());
	fflush(stdout);
	sleep_ms(1500);
	printf("1.5 s later: %d (glibc retires a helper after 1 s idle)\n",
	       count_threads());
}

static int file_mode(const struct options *o)
{
	struct file_set f;
	struct engine e;
	struct totals t = { 0 };
	struct timespec t0;
	int base, peak, rc;
	double secs;

	if (open_files(o, &f) < 0)
		return 1;
	base = count_threads();
	rc = engine_open(&e, o);
	if (rc < 0) {
		close_files(&f);
		return report_failure(o, "tpool_create", rc);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_file(o, &e, &f, &t, &peak);
	secs = seconds_since(&t0);
	engine_close(&e);
	close_files(&f);
	if (rc != 0)
		return rc;

	if (o->random)
		printf("%s, qd %u, %u fd%s: %zu reads of %zu bytes in %.3f s: "
		       "%.0f IOPS, %.1f MiB/s\n", engine_name(o), o->qd, o->fds,
		       o->fds > 1 ? "s" : "", t.reads, o->bs, secs,
		       secs > 0 ? (double)t.reads / secs : 0.0,
		       secs > 0 ? (double)t.bytes / secs / 1048576.0 : 0.0);
	else
		printf("%s, qd %u: %llu bytes in %.3f s, cksum %u %llu\n",
		       engine_name(o), o->qd, t.bytes, secs,
		       crc_finish(t.crc, t.bytes), t.bytes);
	if (t.errors)
		printf("%zu of the reads failed\n", t.errors);
	if (t.short_reads)
		printf("%zu of the reads came back short (end of file)\n",
		       t.short_reads);
	print_calls(o);
	print_threads_after(o, base, peak);
	return t.errors ? 1 : 0;
}

/* ---- the pipe lab -------------------------------------------------------- */

struct feeder {
	pthread_t thread;
	int (*pipes)[2];
	unsigned count;       /* pipes */
	size_t per_pipe;      /* bytes to write into each */
	int settled;          /* thread count once it stopped growing */
};

/* Wait until the thread count has not changed for 200 ms - the helpers
 * are up and blocked in read(2) - then write every pipe and close it.
 * (Timing is fine for a demo that only displays a number; a test must
 * never order threads with sleeps.) */
static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	char chunk[4096];
	int last = count_threads(), stable = 0;

	memset(chunk, 'x', sizeof(chunk));
	for (int waited = 0; stable < 200 && waited < 10000; waited += 5) {
		int now;

		sleep_ms(5);
		now = count_threads();
		stable = now == last ? stable + 5 : 0;
		last = now;
	}
	f->settled = last;
	for (unsigned i = 0; i < f->count; i++) {
		for (size_t left = f->per_pipe; left > 0;) {
			size_t piece = left < sizeof(chunk) ? left : sizeof(chunk);
			/* the real write: the demo's own read/pread wrappers
			 * are for the module only */
			ssize_t put = write(f->pipes[i][1], chunk, piece);

			if (put < 0 && errno == EINTR)
				continue;
			if (put < 0)
				break;
			left -= (size_t)put;
		}
		close(f->pipes[i][1]);
		f->pipes[i][1] = -1;
	}
	return NULL;
}

static int make_pipes(int (*p)[2], unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			fprintf(stderr, "demo: pipe: %s\n", strerror(errno));
			while (i-- > 0) {
				close(p[i][0]);
				close(p[i][1]);
			}
			return -1;
		}
	}
	return 0;
}

static void close_read_ends(int (*p)[2], unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (p[i][0] >= 0)
			close(p[i][0]);
		p[i][0] = -1;
	}
}

static int pipes_mode(const struct options *o)
{
	unsigned npipes = o->one_pipe ? 1 : o->pipes;
	int (*p)[2] = calloc(npipes, sizeof(*p));
	struct batch_req *reqs = calloc(o->pipes, sizeof(*reqs));
	unsigned char *mem = malloc((size_t)o->pipes * o->bs);
	struct feeder f = { .pipes = p, .count = npipes,
			    .per_pipe = o->one_pipe ? (size_t)o->pipes * o->bs : o->bs };
	struct engine e;
	int base, rc, status = 1;

	if (!p || !reqs || !mem || make_pipes(p, npipes) < 0) {
		free(p);
		free(reqs);
		free(mem);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < o->pipes; i++)
		reqs[i] = (struct batch_req){ .fd = p[o->one_pipe ? 0 : i][0],
					      .len = o->bs, .buf = mem + (size_t)i * o->bs };
	base = count_threads();
	rc = engine_open(&e, o);
	if (rc < 0) {
		report_failure(o, "tpool_create", rc);
		goto out;
	}
	if (pthread_create(&f.thread, NULL, feeder_main, &f) != 0) {
		fprintf(stderr, "demo: cannot start the feeder thread\n");
		engine_close(&e);
		goto out;
	}
	rc = engine_run(&e, reqs, o->pipes);
	/* Close the read ends before waiting for the feeder: if the module
	 * failed or stopped early, the feeder's writes then fail with EPIPE
	 * (SIGPIPE is ignored) instead of blocking on a full pipe forever. */
	close_read_ends(p, npipes);
	pthread_join(f.thread, NULL);
	engine_close(&e);
	if (rc < 0) {
		report_failure(o, o->pool ? "tpool_batch_read" : "paio_batch_read", rc);
		goto out;
	}
	status = 0;
	for (unsigned i = 0; i < o->pipes; i++) {
		if (o->verbose)
			printf("request %u: fd %d -> %zd\n", i, reqs[i].fd, reqs[i].res);
		if (reqs[i].res != (ssize_t)o->bs)
			status = 1;
	}
	printf("%s, qd %u: %u reads on %u pipe%s\n"
	       "threads: %d before, %d while the reads waited "
	       "(main + feeder + %d helper%s)\n",
	       engine_name(o), o->qd, o->pipes, npipes, npipes > 1 ? "s" : "",
	       base, f.settled, f.settled - base - 1,
	       f.settled - base - 1 == 1 ? "" : "s");
	if (status)
		printf("some reads did not get their %zu bytes\n", o->bs);
	print_calls(o);
out:
	close_read_ends(p, npipes);
	for (unsigned i = 0; i < npipes; i++)
		if (p[i][1] >= 0)
			close(p[i][1]);
	free(p);
	free(reqs);
	free(mem);
	return status;
}

int main(int argc, char **argv)
{
	struct options o;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.aio_threads) {
		/* Must come before the first aio call to take effect. */
		struct aioinit init = { .aio_threads = (int)o.aio_threads,
					.aio_num = 64 };

		aio_init(&init);
	}
	return o.pipes ? pipes_mode(&o) : file_mode(&o);
}
