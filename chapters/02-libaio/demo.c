/*
 * demo.c - chapter 02: drive laio_batch_read and show where the time goes.
 *
 *   demo [--direct] [--qd Q] [--random N] [--bs B] [--seed S] [--verify]
 *        [--batch R] [--keep-ctx] [--verbose] FILE
 *
 * Without --random it reads the whole FILE in B-byte requests and prints
 * the byte count and a checksum (the same whatever Q is). With --random N
 * it makes N reads of B bytes at random B-aligned offsets and prints IOPS.
 * Either way it prints how long the program spent inside io_submit and
 * inside io_getevents, how many requests were in flight at most, and how
 * many io contexts were created and destroyed, and what O_DIRECT alignment
 * the kernel reports for FILE (laio_dio_alignment).
 *
 * The reads go in rounds (batches), one laio_batch_read call each, which
 * sets up and destroys an io context every time. --batch R makes rounds of
 * R requests (a server answering small requests), and --keep-ctx sets up
 * one context for the whole run and reads every round through it with
 * laio_batch_read_ctx: compare the two with --batch 32 (the lesson's "Keep
 * the context").
 *
 * It uses only the chapter API (laio.h), so it runs on whichever module it
 * is linked with: the reference or yours. To see the libaio calls that
 * module makes, this file defines io_setup, io_submit, io_getevents and
 * io_destroy itself. A definition in the executable takes precedence over
 * the one in libaio.so, so the module's calls come here first; we time
 * them and pass them on to libaio's real functions, found with
 * dlsym(RTLD_NEXT, ...). That is a measuring trick for a demo, not
 * something to copy into a library. `strace -c` shows the same from
 * outside the process.
 */
#define _GNU_SOURCE
#include "laio.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libaio.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------ */

struct options {
	int direct;
	unsigned qd;
	size_t random;     /* 0: read the whole file in order */
	size_t bs;
	uint64_t seed;
	int verify;
	int verbose;
	size_t batch;      /* requests per round; 0: as large as fits */
	int keep_ctx;      /* one io context for every round */
	const char *path;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--direct] [--qd Q] [--random N] [--bs B] [--seed S]\n"
		"          [--verify] [--batch R] [--keep-ctx] [--verbose] FILE\n"
		"  --direct     open FILE with O_DIRECT (B and offsets must be\n"
		"               multiples of 4096, or requests fail with EINVAL)\n"
		"  --qd Q       queue depth, at most Q reads in flight (default 32)\n"
		"  --random N   N reads at random B-aligned offsets; without it\n"
		"               the whole file is read in order\n"
		"  --bs B       bytes per read (default 4096)\n"
		"  --seed S     seed for --random (default 1)\n"
		"  --verify     check every byte read against pread(2)\n"
		"  --batch R    R requests per laio_batch_read call (default: as\n"
		"               many as fit, up to 1 Mi)\n"
		"  --keep-ctx   one io context for the whole run, every batch\n"
		"               through laio_batch_read_ctx\n"
		"  --verbose    print every io_submit and every completion\n",
		prog);
}

/* Parse a whole decimal number in [min, max]; 0 on success, -1 otherwise. */
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

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "direct", no_argument, NULL, 'd' },
		{ "qd", required_argument, NULL, 'q' },
		{ "random", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "verify", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "batch", required_argument, NULL, 'B' },
		{ "keep-ctx", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c, idx = 0;

	*o = (struct options){ .qd = 32, .bs = 4096, .seed = 1 };
	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		switch (c) {
		case 'd': o->direct = 1; break;
		case 'V': o->verify = 1; break;
		case 'v': o->verbose = 1; break;
		case 'k': o->keep_ctx = 1; break;
		case 'B':
			if (parse_number(optarg, 1, SIZE_MAX / 2, &v) < 0)
				goto bad;
			o->batch = (size_t)v;
			break;
		case 'q':
			if (parse_number(optarg, 1, UINT_MAX, &v) < 0)
				goto bad;
			o->qd = (unsigned)v;
			break;
		case 'r':
			if (parse_number(optarg, 1, SIZE_MAX / 2, &v) < 0)
				goto bad;
			o->random = (size_t)v;
			break;
		case 'b':
			if (parse_number(optarg, 1, 1u << 30, &v) < 0)
				goto bad;
			o->bs = (size_t)v;
			break;
		case 's':
			if (parse_number(optarg, 0, UINT64_MAX, &v) < 0)
				goto bad;
			o->seed = v;
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(0);
		default:
			usage(stderr, argv[0]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s: expected exactly one FILE\n", argv[0]);
		usage(stderr, argv[0]);
		return -1;
	}
	o->path = argv[optind];
	return 0;
bad:
	fprintf(stderr, "%s: bad value '%s' for --%s\n", argv[0], optarg,
		longopts[idx].name);
	usage(stderr, argv[0]);
	return -1;
}

/* ---- watching the module's libaio calls ---------------------------------- */

static struct {
	int verbose;
	unsigned long setups, destroys;
	uint64_t setup_ns, destroy_ns;
	unsigned long submits, getevents;
	unsigned long long submitted_iocbs;
	uint64_t submit_ns, getevents_ns;
	long inflight, max_inflight;
} watch;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* libaio's own function `name`, the one our definitions hide. */
static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (fn == NULL) {
		/* Linked with --as-needed and nothing else referring to
		 * libaio: load it ourselves. */
		void *lib = dlopen("libaio.so.1", RTLD_NOW);

		fn = lib ? dlsym(lib, name) : NULL;
	}
	if (fn == NULL) {
		fprintf(stderr, "demo: cannot find libaio's %s\n", name);
		exit(2);
	}
	return fn;
}

int io_setup(int maxevents, io_context_t *ctxp)
{
	static int (*real)(int, io_context_t *);
	int rc;

	if (!real)
		real = (int (*)(int, io_context_t *))real_fn("io_setup");
	uint64_t t0 = now_ns();
	rc = real(maxevents, ctxp);
	watch.setup_ns += now_ns() - t0;
	if (rc == 0)
		watch.setups++;
	if (watch.verbose)
		printf("io_setup(nr=%d) = %d\n", maxevents, rc);
	return rc;
}

int io_destroy(io_context_t ctx)
{
	static int (*real)(io_context_t);
	int rc;

	if (!real)
		real = (int (*)(io_context_t))real_fn("io_destroy");
	uint64_t t0 = now_ns();
	rc = real(ctx);
	watch.destroy_ns += now_ns() - t0;
	if (rc == 0)
		watch.destroys++;
	if (watch.verbose)
		printf("io_destroy() = %d\n", rc);
	return rc;
}

int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	static int (*real)(io_context_t, long, struct iocb **);
	uint64_t t0;
	int rc;

	if (!real)
		real = (int (*)(io_context_t, long, struct iocb **))
			real_fn("io_submit");
	t0 = now_ns();
	rc = real(ctx, nr, ios);
	watch.submit_ns += now_ns() - t0;
	watch.submits++;
	if (rc > 0) {
		watch.submitted_iocbs += (unsigned long long)rc;
		watch.inflight += rc;
		if (watch.inflight > watch.max_inflight)
			watch.max_inflight = watch.inflight;
	}
	if (watch.verbose) {
		printf("io_submit(nr=%ld) = %d", nr, rc);
		for (long i = 0; i < (rc > 0 ? rc : 0); i++)
			printf("%s%lld+%lu", i ? " " : "  offsets ",
			       ios[i]->u.c.offset, ios[i]->u.c.nbytes);
		printf("   in flight %ld\n", watch.inflight);
	}
	return rc;
}

int io_getevents(io_context_t ctx, long min_nr, long nr,
		 struct io_event *events, struct timespec *timeout)
{
	static int (*real)(io_context_t, long, long, struct io_event *,
			   struct timespec *);
	uint64_t t0;
	int rc;

	if (!real)
		real = (int (*)(io_context_t, long, long, struct io_event *,
				struct timespec *))real_fn("io_getevents");
	t0 = now_ns();
	rc = real(ctx, min_nr, nr, events, timeout);
	watch.getevents_ns += now_ns() - t0;
	watch.getevents++;
	if (rc > 0)
		watch.inflight -= rc;
	if (watch.verbose) {
		printf("io_getevents(min_nr=%ld, nr=%ld) = %d\n", min_nr, nr, rc);
		/* The completions in the order the kernel delivered them.
		 * The iocb is the module's and still alive: the module needs
		 * it to see which request this was. */
		for (int i = 0; i < rc; i++)
			printf("    done  offset %lld: res %ld\n",
			       events[i].obj->u.c.offset, (long)events[i].res);
	}
	return rc;
}

/* ---- the workload ------------------------------------------------------- */

/* splitmix64: small, good enough to scatter offsets, same for a seed. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

struct totals {
	size_t reads, errors;
	unsigned long long bytes;
	uint64_t checksum;
	size_t mismatches;
	uint64_t batch_ns;   /* time inside laio_batch_read, all rounds */
};

/* Compare what the module read with what pread(2) reads. */
static size_t verify_batch(int vfd, const struct batch_req *reqs, size_t n,
			   size_t bs)
{
	unsigned char *want = malloc(bs);
	size_t bad = 0;

	if (!want) {
		fprintf(stderr, "demo: out of memory for --verify\n");
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		ssize_t got;

		if (reqs[i].res < 0)
			continue;
		got = pread(vfd, want, reqs[i].len, reqs[i].offset);
		if (got != reqs[i].res ||
		    memcmp(want, reqs[i].buf, (size_t)got) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "demo: --verify: request at "
					"offset %lld differs from pread\n",
					(long long)reqs[i].offset);
		}
	}
	free(want);
	return bad;
}

static void tally(const struct batch_req *reqs, size_t n, int sequential,
		  struct totals *t)
{
	for (size_t i = 0; i < n; i++) {
		t->reads++;
		if (reqs[i].res < 0) {
			if (t->errors++ < 5)
				fprintf(stderr, "demo: read at offset %lld: %s\n",
					(long long)reqs[i].offset,
					strerror((int)-reqs[i].res));
			continue;
		}
		t->bytes += (unsigned long long)reqs[i].res;
		if (sequential)
			t->checksum = fnv1a(t->checksum, reqs[i].buf,
					    (size_t)reqs[i].res);
	}
}

static int report_batch_error(const char *fn, int rc)
{
	if (rc == -ENOSYS)
		fprintf(stderr, "demo: %s is not implemented yet (-ENOSYS): fill "
			"in the TODOs of the chapter's laio.c\n", fn);
	else
		fprintf(stderr, "demo: %s: %s\n", fn, strerror(-rc));
	return 1;
}

/*
 * Run the workload in rounds (batches). Each laio_batch_read call creates
 * and destroys an io context, and io_destroy waits for the kernel (tens of
 * milliseconds: see the "io contexts" line), so rounds are made large
 * unless --batch says otherwise. With --keep-ctx one context, set up
 * before the first round and destroyed after the last, serves them all
 * (laio_batch_read_ctx). Its io_setup and io_destroy are then a cost of
 * the program, not of a batch, like opening the file: they are not in the
 * rounds' time (fio does not time its own either), and the "io contexts"
 * line shows what they took.
 *
 * Sequential mode and --verify give every request a buffer of its own, so
 * a round is at most 64 MiB of buffers. Plain --random only measures
 * speed: it runs up to 1 Mi requests per round and lets them take turns
 * with a pool of 4 x qd buffers (request i uses buffer i % pool), as fio
 * reads into iodepth buffers. Two reads may then land in the same buffer,
 * which is harmless when the data is thrown away and wrong for anything
 * else. The pool was 64 MiB once: in alternating runs against fio libaio
 * (qd 32 and 128) that read at 0.66-0.88 of fio's IOPS, the small pool at
 * 0.69-1.10. Every buffer a read touches is memory the kernel pins for the
 * read and the device writes: a small set stays in the caches.
 *
 * Returns 0, or 1 after printing why.
 */
static int run(const struct options *o, int fd, int vfd, off_t size,
	       struct totals *t)
{
	size_t blocks = (size_t)((size + (off_t)o->bs - 1) / (off_t)o->bs);
	size_t total = o->random ? o->random : blocks;
	size_t pool = 64u * 1024 * 1024 / o->bs;   /* 64 MiB of buffers */
	int shared = o->random && !o->verify;
	size_t round;
	uint64_t rng = o->seed;
	struct batch_req *reqs;
	unsigned char *bufs;
	int status = 0;

	if (shared && 4u * (size_t)o->qd < pool)
		pool = 4u * (size_t)o->qd;
	if (pool < o->qd)
		pool = o->qd;       /* every request in flight needs a buffer */
	if (pool > total)
		pool = total;
	if (pool == 0)
		return 0;           /* empty file, nothing to read */
	round = shared ? (total < (1u << 20) ? total : (1u << 20)) : pool;
	if (o->batch && o->batch < round)
		round = o->batch;

	reqs = calloc(round, sizeof(*reqs));
	bufs = laio_alloc_aligned(pool * o->bs);
	if (!reqs || !bufs) {
		if (reqs && !bufs)
			fprintf(stderr, "demo: laio_alloc_aligned(%zu) returned "
				"NULL: out of memory, or not written yet (TODO 8 "
				"of laio.c)\n", pool * o->bs);
		else
			fprintf(stderr, "demo: out of memory for %zu requests\n",
				round);
		free(reqs);
		free(bufs);
		return 1;
	}

	io_context_t ctx = 0;   /* --keep-ctx: io_setup wants it 0 */
	unsigned nr_events = o->qd < round ? o->qd : (unsigned)round;

	if (nr_events > LAIO_MAX_QD)
		nr_events = LAIO_MAX_QD;
	if (o->keep_ctx) {
		int rc = io_setup((int)nr_events, &ctx);

		if (rc < 0) {
			fprintf(stderr, "demo: io_setup(%u): %s\n", nr_events,
				strerror(-rc));
			free(reqs);
			free(bufs);
			return 1;
		}
	}

	for (size_t start = 0; start < total && status == 0; start += round) {
		size_t n = total - start < round ? total - start : round;
		/* random mode only picks blocks wholly inside the file */
		size_t whole = (size_t)(size / (off_t)o->bs);

		for (size_t i = 0; i < n; i++) {
			size_t block = o->random
				? (size_t)(next_random(&rng) % whole)
				: start + i;

			reqs[i] = (struct batch_req){
				.fd = fd,
				.offset = (off_t)block * (off_t)o->bs,
				.len = o->bs,
				.buf = bufs + (i % pool) * o->bs,
				.res = -EINPROGRESS,
			};
		}
		uint64_t t0 = now_ns();
		int rc = o->keep_ctx
			? laio_batch_read_ctx(ctx, nr_events, reqs, n, o->qd)
			: laio_batch_read(reqs, n, o->qd);
		t->batch_ns += now_ns() - t0;
		if (rc < 0) {
			status = report_batch_error(o->keep_ctx ?
				"laio_batch_read_ctx" : "laio_batch_read", rc);
			break;
		}
		tally(reqs, n, !o->random, t);
		if (o->verify)
			t->mismatches += verify_batch(vfd, reqs, n, o->bs);
	}
	if (o->keep_ctx) {
		/* Also after a failed round: io_destroy waits for reads still
		 * in flight (laio.h), so the buffers can go after it. */
		(void)io_destroy(ctx);
	}
	free(reqs);
	free(bufs);
	return status;
}

/* What laio_dio_alignment says about the file (the chapter API again). */
struct dio_info {
	int rc;
	size_t mem, off;
};

static void print_dio_alignment(const struct dio_info *d)
{
	if (d->rc == 0)
		printf("  O_DIRECT align  buffer %zu, offset and length %zu bytes "
		       "(laio_dio_alignment; this chapter uses %u)\n", d->mem,
		       d->off, LAIO_DIO_ALIGN);
	else if (d->rc == -EOPNOTSUPP)
		printf("  O_DIRECT align  this file cannot do direct I/O\n");
	else
		printf("  O_DIRECT align  laio_dio_alignment: %s%s\n",
		       strerror(-d->rc),
		       d->rc == -ENOSYS ? " (TODO 9 of laio.c)" : "");
}

static void print_report(const struct options *o, off_t size,
			 const struct totals *t, const struct dio_info *d)
{
	double secs = (double)t->batch_ns / 1e9;
	double busy = secs > 0 ? secs : 1e-9;

	printf("%s: %lld bytes, %s, %zu-byte reads, qd %u, %s\n", o->path,
	       (long long)size, o->direct ? "O_DIRECT" : "buffered", o->bs,
	       o->qd, o->keep_ctx ? "one io context for every batch"
				  : "an io context per batch");
	if (o->random)
		printf("  %zu random reads (seed %" PRIu64 "), %llu bytes, "
		       "%zu errors\n", t->reads, o->seed, t->bytes, t->errors);
	else
		printf("  %zu reads, %llu bytes, %zu errors, checksum "
		       "%016" PRIx64 "\n", t->reads, t->bytes, t->errors,
		       t->checksum);
	printf("  batches         %9.3f s   %10.0f IOPS   %8.1f MiB/s\n", secs,
	       (double)t->reads / busy, (double)t->bytes / busy / 1048576.0);
	printf("  io_submit       %9.3f s  (%5.1f%%)  %lu calls, %.1f iocbs "
	       "per call\n", (double)watch.submit_ns / 1e9,
	       100.0 * ((double)watch.submit_ns / 1e9) / busy, watch.submits,
	       watch.submits ? (double)watch.submitted_iocbs /
			       (double)watch.submits : 0.0);
	printf("  io_getevents    %9.3f s  (%5.1f%%)  %lu calls\n",
	       (double)watch.getevents_ns / 1e9,
	       100.0 * ((double)watch.getevents_ns / 1e9) / busy,
	       watch.getevents);
	printf("  in flight       at most %ld (qd %u)\n", watch.max_inflight,
	       o->qd);
	printf("  io contexts     %lu created, %lu destroyed; io_setup %.3f s, "
	       "io_destroy %.3f s\n", watch.setups, watch.destroys,
	       (double)watch.setup_ns / 1e9, (double)watch.destroy_ns / 1e9);
	if (o->verify)
		printf("  verify          %zu requests differ from pread\n",
		       t->mismatches);
	print_dio_alignment(d);
}

int main(int argc, char **argv)
{
	struct options o;
	struct totals t = { .checksum = 0xcbf29ce484222325u };
	struct stat st;
	struct dio_info dio;
	int fd, vfd = -1, status;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	watch.verbose = o.verbose;

	fd = open(o.path, O_RDONLY | (o.direct ? O_DIRECT : 0));
	if (fd < 0) {
		fprintf(stderr, "demo: %s: %s%s\n", o.path, strerror(errno),
			errno == EINVAL && o.direct ?
			" (this filesystem does not support O_DIRECT)" : "");
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "demo: %s: not a regular file\n", o.path);
		close(fd);
		return 1;
	}
	if (o.random && st.st_size < (off_t)o.bs) {
		fprintf(stderr, "demo: %s: smaller than one %zu-byte block\n",
			o.path, o.bs);
		close(fd);
		return 1;
	}
	if (o.verify && (vfd = open(o.path, O_RDONLY)) < 0) {
		fprintf(stderr, "demo: %s: %s\n", o.path, strerror(errno));
		close(fd);
		return 1;
	}

	dio.rc = laio_dio_alignment(fd, &dio.mem, &dio.off);
	status = run(&o, fd, vfd, st.st_size, &t);
	close(fd);
	if (vfd >= 0)
		close(vfd);
	if (status != 0)
		return status;

	print_report(&o, st.st_size, &t, &dio);
	if (t.errors > 0 || t.mismatches > 0) {
		fprintf(stderr, "demo: %zu reads failed, %zu differ from "
			"pread\n", t.errors, t.mismatches);
		return 1;
	}
	if (watch.setups != watch.destroys) {
		fprintf(stderr, "demo: the module leaked %lu io context(s)\n",
			watch.setups - watch.destroys);
		return 1;
	}
	return 0;
}
