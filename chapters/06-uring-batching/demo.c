/*
 * demo.c - chapter 06: see batching and queue depth at work.
 *
 *   demo [--qd Q] [--entries E] [--bs B] [--direct]
 *        [--random N] [--time S] [--seed X] [--signals US] FILE
 *
 * Reads FILE in B-byte requests through the chapter API (ubatch_init /
 * ubatch_read / ubatch_exit), keeping up to Q reads in flight, and prints
 * reads per second (IOPS) and MiB/s.
 *
 *   without --random   the whole file, block after block
 *   --random N         N reads at random B-aligned offsets
 *   --time S           random reads for S seconds (like fio --time_based)
 *   --direct           open with O_DIRECT (B must be a multiple of 4096)
 *   --entries E        ring size (default: Q, at most 256); the window is
 *                      min(Q, CQ entries), the CQ having 2 x E entries
 *   --signals US       a SIGALRM every US microseconds, handler installed
 *                      without SA_RESTART: waits get interrupted (see them
 *                      with strace), and every read must still complete
 *
 * It is built only on ubatch.h, so it runs on your implementation as well
 * as on the reference. It does not count system calls itself: run it under
 *   strace -c -f -e trace=io_uring_enter
 * to see how many times it entered the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ubatch.h"

/* Requests per ubatch_read call: many windows' worth, so the pipeline
 * stays full most of the time (it drains at the end of each call). */
#define WINDOWS_PER_CALL 64u
#define CALL_MIN 1024u
/* At most this much buffer memory per call. Reading the file in order, every
 * read gets a buffer of its own, which the kernel pins for the read: a
 * small set stays in the caches (random reads share a smaller pool, see
 * run()). */
#define CALL_MEM (8u << 20)

struct opts {
	unsigned qd, entries;
	size_t bs;
	int direct;
	uint64_t random;  /* 0: sequential */
	double seconds;   /* 0: no time limit */
	uint64_t seed;
	unsigned long signal_us; /* 0: no signals */
	const char *path;
};

struct stats {
	uint64_t reads, bytes, errors, shorts, calls;
	int first_error;
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: demo [--qd Q] [--entries E] [--bs B] [--direct]\n"
	        "            [--random N] [--time S] [--seed X] [--signals US] FILE\n"
	        "  --qd Q       reads in flight at most (default 32)\n"
	        "  --entries E  ring size (default min(Q, %u))\n"
	        "  --bs B       bytes per read (default 4096)\n"
	        "  --direct     O_DIRECT (B a multiple of 4096)\n"
	        "  --random N   N reads at random offsets instead of the whole file\n"
	        "  --time S     random reads for S seconds\n"
	        "  --seed X     seed for the random offsets (default 1)\n"
	        "  --signals US a SIGALRM every US microseconds (no SA_RESTART)\n",
	        UBATCH_MAX_ENTRIES);
	exit(2);
}

static unsigned long long number(const char *s, const char *flag)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "demo: %s wants a number, not '%s'\n", flag, s);
		usage();
	}
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->qd = 32;
	o->bs = 4096;
	o->seed = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--direct")) {
			o->direct = 1;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		if (a[0] == '-' && a[1] == '-') {
			if (!v) {
				fprintf(stderr, "demo: %s needs a value\n", a);
				usage();
			}
			i++;
			if (!strcmp(a, "--qd"))
				o->qd = (unsigned)number(v, a);
			else if (!strcmp(a, "--entries"))
				o->entries = (unsigned)number(v, a);
			else if (!strcmp(a, "--bs"))
				o->bs = (size_t)number(v, a);
			else if (!strcmp(a, "--random"))
				o->random = number(v, a);
			else if (!strcmp(a, "--time"))
				o->seconds = (double)number(v, a);
			else if (!strcmp(a, "--seed"))
				o->seed = number(v, a);
			else if (!strcmp(a, "--signals"))
				o->signal_us = (unsigned long)number(v, a);
			else {
				fprintf(stderr, "demo: unknown option %s\n", a);
				usage();
			}
			continue;
		}
		if (o->path) {
			fprintf(stderr, "demo: one FILE only\n");
			usage();
		}
		o->path = a;
	}
	if (!o->path)
		usage();
	if (o->qd == 0 || o->bs == 0 || o->bs > (1u << 30)) {
		fprintf(stderr, "demo: --qd and --bs must be > 0 (bs <= 1 GiB)\n");
		usage();
	}
	if (o->direct && o->bs % 4096) {
		fprintf(stderr, "demo: with --direct, --bs must be a multiple of 4096\n");
		usage();
	}
	if (o->entries == 0)
		o->entries = o->qd < UBATCH_MAX_ENTRIES ? o->qd : UBATCH_MAX_ENTRIES;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A SIGALRM every us microseconds (0: stop). The handler is installed
 * without SA_RESTART, so a signal that lands while the process waits in
 * io_uring_enter makes the wait return early (-EINTR, or 0). */
static int alarm_every(unsigned long us)
{
	struct itimerval it;
	struct sigaction sa;

	if (us) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) < 0)
			return -errno;
	}
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_sec = (time_t)(us / 1000000);
	it.it_interval.tv_usec = (suseconds_t)(us % 1000000);
	it.it_value = it.it_interval;
	return setitimer(ITIMER_REAL, &it, NULL) < 0 ? -errno : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: small and good enough to scatter offsets. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ull;
}

static int is_random(const struct opts *o)
{
	return o->random > 0 || o->seconds > 0;
}

/*
 * Requests per ubatch_read call. The memory cap is for reading the file in
 * order, where every read has a buffer of its own; random reads share a pool
 * of 4 windows' worth (run()), so they keep WINDOWS_PER_CALL: capped at
 * 8 MiB / 4 KiB = 2048 requests, a call at queue depth 128 was only 16
 * windows long, and each call's drain left the device short for a larger
 * share of the run than at depth 32 (64 windows a call, as chapter 08's
 * demo has at every depth).
 */
static size_t per_call(const struct opts *o, unsigned window)
{
	size_t n = (size_t)window * WINDOWS_PER_CALL;
	size_t mem_cap = CALL_MEM / o->bs;

	if (n < CALL_MIN)
		n = CALL_MIN;
	if (!is_random(o) && n > mem_cap)
		n = mem_cap;
	return n > window ? n : window;
}

static void account(struct stats *st, const struct batch_req *reqs, size_t n,
                    int sequential)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (reqs[i].res < 0) {
			if (!st->errors++)
				st->first_error = (int)-reqs[i].res;
			continue;
		}
		st->reads++;
		st->bytes += (uint64_t)reqs[i].res;
		/* Sequentially only the last block may be short (end of file). */
		if ((size_t)reqs[i].res != reqs[i].len && !sequential)
			st->shorts++;
	}
}

/* Requests left to issue; UINT64_MAX when only the clock stops us. */
static uint64_t planned(const struct opts *o, off_t size)
{
	if (o->random)
		return o->random;
	if (o->seconds > 0)
		return UINT64_MAX;
	return ((uint64_t)size + o->bs - 1) / o->bs;
}

static int run(const struct opts *o, int fd, off_t size, struct ubatch *b,
               unsigned window, struct stats *st, double *elapsed)
{
	size_t cap = per_call(o, window), i;
	/* Random reads only measure speed: their bytes are thrown away, and
	 * they take turns with a pool of 4 windows' worth of buffers (request
	 * i uses buffer i % pool), as fio reads into iodepth buffers. Two reads
	 * may then land in the same buffer: harmless here, wrong for anything
	 * that looks at the data. Every buffer a read touches is memory the
	 * kernel pins and the device writes; a small set stays in the caches
	 * (chapter 02's demo measured 0.7-0.9 of fio's IOPS with 64 MiB of
	 * buffers, 0.9-1.1 with the pool). The whole file in order gives every
	 * read a buffer of its own. */
	size_t pool = is_random(o) && 4 * (size_t)window < cap ? 4 * (size_t)window : cap;
	uint64_t blocks = (uint64_t)size / o->bs, done = 0;
	uint64_t total = planned(o, size);
	uint64_t rng = o->seed ? o->seed : 1;
	struct batch_req *reqs = calloc(cap, sizeof(*reqs));
	char *bufs = NULL;
	double start;
	int ret = 0;

	if (!reqs || posix_memalign((void **)&bufs, 4096, pool * o->bs)) {
		free(reqs);
		return -ENOMEM;
	}
	/* Fault the pages in before the clock starts: the first write to a
	 * fresh page (here by the kernel, for the read) costs a page fault,
	 * which the first call's reads would otherwise be charged with. */
	memset(bufs, 0, pool * o->bs);
	start = now();
	while (done < total) {
		size_t n = total - done < cap ? (size_t)(total - done) : cap;

		for (i = 0; i < n; i++) {
			uint64_t blk = is_random(o) ? next_random(&rng) % blocks
			                            : done + i;
			reqs[i].fd = fd;
			reqs[i].offset = (off_t)(blk * o->bs);
			reqs[i].len = o->bs;
			reqs[i].buf = bufs + i % pool * o->bs;
			reqs[i].res = 0;
		}
		ret = ubatch_read(b, reqs, n, o->qd);
		st->calls++;
		if (ret < 0)
			break;
		account(st, reqs, n, !is_random(o));
		done += n;
		if (o->seconds > 0 && now() - start >= o->seconds)
			break;
	}
	*elapsed = now() - start;
	free(bufs);
	free(reqs);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct ubatch b;
	struct stats st;
	struct stat sb;
	unsigned window;
	double secs = 0;
	int fd, ret;

	parse(argc, argv, &o);

	fd = open(o.path, O_RDONLY | O_CLOEXEC | (o.direct ? O_DIRECT : 0));
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "demo: %s: %s%s\n", o.path, strerror(e),
		        o.direct && e == EINVAL ? " (no O_DIRECT on this filesystem?)" : "");
		return 1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "demo: %s: not a regular file\n", o.path);
		close(fd);
		return 1;
	}
	if (is_random(&o) && (uint64_t)sb.st_size < o.bs) {
		fprintf(stderr, "demo: %s is smaller than one block (%zu bytes)\n",
		        o.path, o.bs);
		close(fd);
		return 1;
	}

	ret = ubatch_init(&b, o.entries);
	if (ret < 0) {
		fprintf(stderr, "demo: ubatch_init(%u): %s%s\n", o.entries, strerror(-ret),
		        ret == -ENOMEM ? " (RLIMIT_MEMLOCK? try a smaller --entries)"
		        : ret == -EPERM ? " (io_uring blocked: make doctor)"
		        : ret == -ENOSYS ? " (ubatch_init not written yet (TODO 1), or no io_uring"
		                           " in this kernel: make doctor)"
		        : "");
		close(fd);
		return 1;
	}
	window = o.qd < b.cq_entries ? o.qd : b.cq_entries;
	printf("ring: %u SQ entries, %u CQ entries; qd %u -> window %u\n",
	       b.sq_entries, b.cq_entries, o.qd, window);

	memset(&st, 0, sizeof(st));
	if (o.signal_us && (ret = alarm_every(o.signal_us)) < 0) {
		fprintf(stderr, "demo: setitimer: %s\n", strerror(-ret));
		ubatch_exit(&b);
		close(fd);
		return 1;
	}
	ret = run(&o, fd, sb.st_size, &b, window, &st, &secs);
	if (o.signal_us)
		alarm_every(0);
	ubatch_exit(&b);
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "demo: ubatch_read: %s\n", strerror(-ret));
		return 1;
	}

	printf("%s%s reads of %zu bytes: %" PRIu64 " in %" PRIu64
	       " ubatch_read calls, %.3f s\n",
	       is_random(&o) ? "random" : "sequential",
	       o.direct ? " O_DIRECT" : "", o.bs, st.reads, st.calls, secs);
	printf("%.0f IOPS, %.1f MiB/s\n", secs > 0 ? (double)st.reads / secs : 0.0,
	       secs > 0 ? (double)st.bytes / secs / (1 << 20) : 0.0);
	if (o.signal_us)
		printf("%ld SIGALRM delivered during the run\n", (long)alarms);
	if (st.shorts)
		printf("%" PRIu64 " short reads (should be 0 inside the file)\n", st.shorts);
	if (st.errors) {
		printf("%" PRIu64 " failed reads, first: %s\n", st.errors,
		       strerror(st.first_error));
		return 1;
	}
	printf("system calls: strace -c -f -e trace=io_uring_enter <this command>\n");
	return 0;
}
