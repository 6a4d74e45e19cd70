/*
 * demo.c - chapter 11, the capstone: a nearest-neighbour search on an index
 * that lives on disk, its reads served by the interface of your choice.
 *
 *   demo build    [--n N] [--dim D] [--degree R] [--seed S] [--out FILE] [--force]
 *   demo truth    [--index FILE] [--queries N] [--k K]
 *   demo search   [--index FILE] [--backend NAME] [--qd N] [--direct|--buffered]
 *                 [--cold|--warm] [--k 10] [--L 64] [--W 8] [--queries N] [--cache C]
 *   demo sweep    [--index FILE] [--backend NAME] [--qd N] [--direct|--buffered]
 *                 [--cold|--warm] [--k 10] [--W 8] [--Ls 16,32,64,128,256] [--queries N]
 *   demo showdown [--index FILE] [--queries N] [--k 10] [--L 64] [--W 8] [--qd N]
 *                 [--rounds R] [--csv FILE]
 *
 * Instead of --index, every command but build also takes --n, --dim,
 * --degree and --seed: they name the default index (see build).
 *
 * build     makes the data set from the seed and its index (ann_build, the
 *           course's code: chapters/11-capstone/annindex.c) in
 *           build/ann/index-N-DIM-SEED.ann (-rR added for a degree other than
 *           32), or --out FILE. Says how big the file will be first (the
 *           default, 100000 vectors of 64 floats, takes about 400 MiB: --n
 *           20000 makes one a fifth of that), how long the build took and
 *           what it wrote. An index that exists is kept (--force builds it
 *           again). Written under a temporary name and renamed when
 *           complete: an interrupted build never leaves half an index.
 * truth     the queries (ann_queries, seed 2; 200 unless --queries) and
 *           their exact 10 nearest nodes (ann_truth: every node of the file
 *           read once), cached beside the index as INDEX.truth-NQ-2 and
 *           reused while the index is the same file. search, sweep and
 *           showdown make it (and the default index) when it is missing.
 * search    runs the queries through ann_search, the search you wrote (or
 *           the reference, IMPL=solutions), its reads served by one
 *           interface (--backend, below) set up once for all the queries
 *           (or through ann_search_uring, for io_uring-pipelined);
 *           prints recall@k against the exact answers, queries/s, the p50
 *           and p99 of one query's time, hops and reads per query, and
 *           what setting the interface up cost. --cache C keeps the C nodes
 *           nearest the entry in hops (the entry, its neighbours, theirs
 *           ...) in memory, read once before the queries: a reader in front
 *           of the interface serves those from memory and hands it the rest,
 *           and the run says how many reads the cache served. The cache
 *           sits in front of a batch read: io_uring-pipelined, which reads
 *           on its ring directly, refuses --cache (a usage error).
 * sweep     the same for each candidate list size L of --Ls, one interface:
 *           how recall rises with L, and what it costs in reads.
 * showdown  every interface in turn (blocking, threads, libaio, io_uring,
 *           io_uring-qd1, io_uring-pipelined), first on a cold O_DIRECT
 *           file, then on a warm page cache, R rounds (default 2) each
 *           starting one interface further along; one table of the medians,
 *           each interface's queries/s as a ratio to blocking's in the same
 *           round, and the pipelined search's as a ratio to the batched
 *           one's. --csv FILE writes the table's rows there too (make bench
 *           CH=11).
 *
 * The interfaces (--backend), each set up once per run; the first five
 * wrapped in the struct ann_io that ann_search reads through:
 *   blocking      chapter 01's blk_batch_read: one pread after another
 *   threads       chapter 03's pool: tpool_create(min(qd, 64)) once, then
 *                 tpool_batch_read
 *   libaio        one kernel AIO context for the run (this file's adapter:
 *                 see aio_reader below for why not chapter 02's
 *                 laio_batch_read); asynchronous only on O_DIRECT, which
 *                 the demo says when run --buffered
 *   io_uring      chapter 06: ubatch_init(qd) once, then ubatch_read
 *   io_uring-qd1  the same ring with one read in flight: a hop's reads one
 *                 after another, without blocking calls
 *   io_uring-pipelined  this chapter's second part: one ring of
 *                 max(qd, W) entries (io_uring_queue_init), handed to
 *                 ann_search_uring, which keeps W reads in flight on it and
 *                 refills a slot as soon as its read completes. No hops:
 *                 its "hops" are the submits that carried reads.
 * One interface per process, so that
 *     strace -f -c build/solutions/11-capstone/demo search --backend NAME
 * counts that interface's system calls alone (plus a few reads of the
 * index's header, its compressed vectors and the cached answers, and with
 * --warm the warm-up's reads of 1 MiB).
 *
 * --qd       the most reads in flight (default: W, as a hop never has more
 *            than W reads; 1 to 256, which keeps a ring inside an ordinary
 *            user's RLIMIT_MEMLOCK). For io_uring-pipelined the ring's size
 *            (at least W): the search keeps W in flight, whatever --qd says
 * --direct   (the default) read the nodes with O_DIRECT: every hop goes to
 *            the disk. Where the filesystem refuses O_DIRECT, the demo says
 *            so and reads through the page cache.
 * --buffered read them through the page cache
 * --cold     (the default) on a buffered file, first drop the index's pages
 *            from the page cache (posix_fadvise POSIX_FADV_DONTNEED: any user
 *            may, on this file alone)
 * --warm     read the whole index once first, so that every node is in the
 *            page cache (implies --buffered)
 *
 * Exit status: 0; 1 when something failed (said on stderr, the search's
 * errors with the query's number); 2 for bad arguments (with the usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <limits.h>
#include <liburing.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ann.h"       /* this chapter: the index and ann_search */
#include "blocking.h"  /* chapter 01 */
#include "paio.h"      /* chapter 03: the thread pool */
#include "ubatch.h"    /* chapter 06 */

#define ANN_DIR "build/ann"
#define DEFAULT_N 100000u
#define DEFAULT_DIM 64u
#define DEFAULT_DEGREE 32u
#define DEFAULT_SEED 1u
#define MAX_N 4000000u          /* ann_build's limit */
#define QUERY_SEED 2u           /* the queries: never the data's own seed */
#define TRUTH_K 10u
#define DEFAULT_QUERIES 200u
#define MAX_QUERIES 100000u
#define QD_MAX 256u             /* rings are charged to RLIMIT_MEMLOCK */
#define POOL_MAX 64u
#define MAX_ROUNDS 20u
#define MAX_LS 16u
#define MAX_CACHE 65536u        /* nodes: 256 MiB of sectors */
#define WARM_CHUNK (1u << 20)
#define PIPELINED "io_uring-pipelined"  /* the back-end of ann_search_uring */

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr,
	        "usage: demo build    [--n N] [--dim D] [--degree R] [--seed S] [--out FILE] [--force]\n"
	        "       demo truth    [--index FILE] [--queries N] [--k K]\n"
	        "       demo search   [--index FILE] [--backend NAME] [--qd N] [--direct|--buffered]\n"
	        "                     [--cold|--warm] [--k 10] [--L 64] [--W 8] [--queries N] [--cache C]\n"
	        "       demo sweep    [--index FILE] [--backend NAME] [--qd N] [--direct|--buffered]\n"
	        "                     [--cold|--warm] [--k 10] [--W 8] [--Ls 16,32,64,128,256] [--queries N]\n"
	        "       demo showdown [--index FILE] [--queries N] [--k 10] [--L 64] [--W 8] [--qd N]\n"
	        "                     [--rounds R] [--csv FILE]\n"
	        "instead of --index: --n N --dim D --degree R --seed S name the default index,\n"
	        "  build/ann/index-N-DIM-SEED.ann (100000 x 64 by default: about 400 MiB)\n"
	        "NAME: blocking threads libaio io_uring io_uring-qd1 io_uring-pipelined\n");
	exit(2);
}

/* A bad command line: what is wrong, the usage, exit status 2. */
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "demo: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage();
}

/* ------------------------------------------------------------ options */

enum cmd { C_BUILD = 1, C_TRUTH = 2, C_SEARCH = 4, C_SWEEP = 8, C_SHOWDOWN = 16 };
#define C_QUERYING (C_SEARCH | C_SWEEP | C_SHOWDOWN)
#define C_ALL (C_BUILD | C_TRUTH | C_QUERYING)

struct opts {
	enum cmd cmd;
	const char *index;      /* --index, or build's --out */
	const char *backend;    /* search, sweep */
	const char *csv;        /* showdown */
	unsigned n, dim, degree, queries, k, L, W, qd, rounds, cache;
	unsigned Ls[MAX_LS], nLs;
	uint64_t seed;
	bool force, direct, warm;
	bool n_given, shape_given, qd_given;
	bool direct_given, buffered_given, cold_given, warm_given, L_given;
};

/* Which command takes which option, and whether it has a value. */
static const struct option_rule {
	const char *name;
	unsigned cmds;
	bool value;
} OPTIONS[] = {
	{ "--n", C_ALL, true },          { "--dim", C_ALL, true },
	{ "--degree", C_ALL, true },     { "--seed", C_ALL, true },
	{ "--out", C_BUILD, true },      { "--force", C_BUILD, false },
	{ "--index", C_TRUTH | C_QUERYING, true },
	{ "--queries", C_TRUTH | C_QUERYING, true },
	{ "--k", C_TRUTH | C_QUERYING, true },
	{ "--backend", C_SEARCH | C_SWEEP, true },
	{ "--qd", C_QUERYING, true },
	{ "--direct", C_SEARCH | C_SWEEP, false },
	{ "--buffered", C_SEARCH | C_SWEEP, false },
	{ "--cold", C_SEARCH | C_SWEEP, false },
	{ "--warm", C_SEARCH | C_SWEEP, false },
	{ "--L", C_SEARCH | C_SHOWDOWN, true },
	{ "--W", C_QUERYING, true },
	{ "--Ls", C_SWEEP, true },
	{ "--rounds", C_SHOWDOWN, true },
	{ "--csv", C_SHOWDOWN, true },
	{ "--cache", C_SEARCH, true },
};

/* The value of option flag, a decimal number from min to max. */
static unsigned long long number(const char *s, const char *flag, unsigned long long min,
                                 unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		bad("%s wants a number from %llu to %llu, not '%s'", flag, min, max, s);
	return v;
}

/* --Ls 16,32,64: each from k to ANN_MAX_L. */
static void parse_Ls(const char *s, struct opts *o)
{
	char item[32];

	o->nLs = 0;
	for (const char *p = s; *p;) {
		size_t len = strcspn(p, ",");

		if (len == 0 || len >= sizeof(item))
			bad("--Ls wants sizes separated by commas, not '%s'", s);
		if (o->nLs == MAX_LS)
			bad("--Ls: at most %u sizes", MAX_LS);
		memcpy(item, p, len);
		item[len] = '\0';
		o->Ls[o->nLs++] = (unsigned)number(item, "--Ls", 1, ANN_MAX_L);
		p += len + (p[len] == ',');
	}
	if (o->nLs == 0)
		bad("--Ls names no size");
}

static enum cmd command(const char *s)
{
	static const struct { const char *name; enum cmd c; } cmds[] = {
		{ "build", C_BUILD }, { "truth", C_TRUTH }, { "search", C_SEARCH },
		{ "sweep", C_SWEEP }, { "showdown", C_SHOWDOWN },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(s, cmds[i].name))
			return cmds[i].c;
	bad("no command '%s' (build, truth, search, sweep or showdown)", s);
}

static void set_option(struct opts *o, const char *a, const char *v)
{
	if (!strcmp(a, "--n")) {
		o->n = (unsigned)number(v, a, 2 * TRUTH_K, MAX_N);
		o->n_given = true;
	} else if (!strcmp(a, "--dim")) {
		o->dim = (unsigned)number(v, a, 1, ANN_MAX_DIM);
	} else if (!strcmp(a, "--degree")) {
		o->degree = (unsigned)number(v, a, 1, ANN_MAX_DEGREE);
	} else if (!strcmp(a, "--seed")) {
		o->seed = number(v, a, 0, UINT64_MAX);
	} else if (!strcmp(a, "--out") || !strcmp(a, "--index")) {
		o->index = v;
	} else if (!strcmp(a, "--queries")) {
		o->queries = (unsigned)number(v, a, 1, MAX_QUERIES);
	} else if (!strcmp(a, "--k")) {
		o->k = (unsigned)number(v, a, 1, ANN_MAX_K);
	} else if (!strcmp(a, "--backend")) {
		o->backend = v;
	} else if (!strcmp(a, "--qd")) {
		o->qd = (unsigned)number(v, a, 1, QD_MAX);
		o->qd_given = true;
	} else if (!strcmp(a, "--L")) {
		o->L = (unsigned)number(v, a, 1, ANN_MAX_L);
		o->L_given = true;
	} else if (!strcmp(a, "--W")) {
		o->W = (unsigned)number(v, a, 1, ANN_MAX_L);
	} else if (!strcmp(a, "--Ls")) {
		parse_Ls(v, o);
	} else if (!strcmp(a, "--rounds")) {
		o->rounds = (unsigned)number(v, a, 1, MAX_ROUNDS);
	} else if (!strcmp(a, "--csv")) {
		o->csv = v;
	} else if (!strcmp(a, "--cache")) {
		o->cache = (unsigned)number(v, a, 0, MAX_CACHE);
	}
}

static void set_flag(struct opts *o, const char *a)
{
	if (!strcmp(a, "--force"))
		o->force = true;
	else if (!strcmp(a, "--direct"))
		o->direct_given = true;
	else if (!strcmp(a, "--buffered"))
		o->buffered_given = true;
	else if (!strcmp(a, "--cold"))
		o->cold_given = true;
	else if (!strcmp(a, "--warm"))
		o->warm_given = true;
}

/* The combinations that make no sense, refused before anything runs. */
static void check_opts(struct opts *o)
{
	if (o->shape_given && o->index && o->cmd != C_BUILD)
		bad("--index names the file; --n, --dim, --degree and --seed name the default one: not both");
	if (o->direct_given && o->buffered_given)
		bad("--direct or --buffered: choose one");
	if (o->cold_given && o->warm_given)
		bad("--cold or --warm: choose one");
	if (o->warm_given && o->direct_given)
		bad("--warm fills the page cache, which --direct bypasses: choose one");
	o->warm = o->warm_given;
	o->direct = !o->buffered_given && !o->warm;
	/* The cache is a batch read in front of another (backend_read);
	 * ann_search_uring reads on its ring and has no batch read to put it
	 * in front of. Ignoring it would print a run without a cache as if. */
	if (o->cache > 0 && o->backend && !strcmp(o->backend, PIPELINED))
		bad("--cache serves ann_search's batch reads; " PIPELINED " reads on its ring "
		    "directly: no cache in front of it (use --backend io_uring)");
	if (o->cmd == C_SWEEP) {
		for (unsigned i = 0; i < o->nLs; i++)
			if (o->Ls[i] < o->k)
				bad("--Ls: every L must be at least k (%u), not %u", o->k, o->Ls[i]);
	} else if (o->cmd & C_QUERYING) {
		if (o->L < o->k)
			bad("--L %u is less than --k %u: the list must hold the k results", o->L, o->k);
		if (o->W > o->L)
			bad("--W %u is more than --L %u: a hop reads at most the whole list", o->W, o->L);
	}
	if (!o->qd_given)
		o->qd = o->W < QD_MAX ? o->W : QD_MAX;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const unsigned default_Ls[] = { 16, 32, 64, 128, 256 };

	memset(o, 0, sizeof(*o));
	o->n = DEFAULT_N;
	o->dim = DEFAULT_DIM;
	o->degree = DEFAULT_DEGREE;
	o->seed = DEFAULT_SEED;
	o->queries = DEFAULT_QUERIES;
	o->k = TRUTH_K;
	o->L = 64;
	o->W = 8;
	o->rounds = 2;
	o->backend = "io_uring";
	o->nLs = sizeof(default_Ls) / sizeof(default_Ls[0]);
	memcpy(o->Ls, default_Ls, sizeof(default_Ls));
	if (argc < 2)
		usage();
	o->cmd = command(argv[1]);

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const struct option_rule *rule = NULL;

		for (size_t j = 0; j < sizeof(OPTIONS) / sizeof(OPTIONS[0]); j++)
			if (!strcmp(a, OPTIONS[j].name))
				rule = &OPTIONS[j];
		if (!rule || !(rule->cmds & o->cmd))
			bad("no option %s for %s", a, argv[1]);
		if (!rule->value) {
			set_flag(o, a);
			continue;
		}
		if (i + 1 >= argc)
			bad("%s needs a value", a);
		set_option(o, a, argv[++i]);
		if (!strcmp(a, "--n") || !strcmp(a, "--dim") || !strcmp(a, "--degree") || !strcmp(a, "--seed"))
			o->shape_given = true;
	}
	check_opts(o);
}

/* ------------------------------------------------------------ helpers */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mib(double bytes)
{
	return bytes / (1024.0 * 1024.0);
}

/* The bytes ann_build writes for these sizes (ann.h's layout): a header
 * sector, a sector per node, then the compressed vectors. */
static double index_bytes(unsigned n, unsigned dim)
{
	return (1.0 + n) * ANN_SECTOR + 2.0 * dim * sizeof(float) + (double)n * dim;
}

/* mkdir -p for the default directory, build/ann. */
static int make_ann_dir(void)
{
	if (mkdir("build", 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(ANN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Read exactly len bytes at off (the cache of answers, the warm-up).
 * Returns len, fewer only at end of file, or -errno. */
static ssize_t pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t got = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t put = write(fd, (const char *)buf + done, len - done);

		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		done += (size_t)put;
	}
	return 0;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile pct of sorted v[0..n-1]. */
static double percentile(const double *v, size_t n, double pct)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
	return v[rank == 0 ? 0 : rank > n ? n - 1 : rank - 1];
}

static double median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------ the index */

static void default_index(const struct opts *o, char *buf, size_t len)
{
	if (o->degree == DEFAULT_DEGREE)
		snprintf(buf, len, ANN_DIR "/index-%u-%u-%" PRIu64 ".ann", o->n, o->dim, o->seed);
	else
		snprintf(buf, len, ANN_DIR "/index-%u-%u-%" PRIu64 "-r%u.ann", o->n, o->dim, o->seed,
		         o->degree);
}

/* Is there room for `need` bytes where path goes? A build that fills the
 * disk fails after minutes; this fails at once and says why. */
static int check_room(const char *path, double need)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct statvfs sv;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if (statvfs(dir, &sv) < 0)
		return 0;       /* ann_build will say what is wrong with dir */
	if ((double)sv.f_bavail * (double)sv.f_frsize < need) {
		fprintf(stderr, "demo: %s has %.0f MiB free, the index needs %.0f MiB: make a smaller one "
		        "(--n) or free some space\n", dir, mib((double)sv.f_bavail * (double)sv.f_frsize),
		        mib(need));
		return -ENOSPC;
	}
	return 0;
}

/* The temporary file of a build in progress: removed if the build is
 * interrupted (Ctrl-C), so that no half index of 400 MiB stays behind. */
static char building[PATH_MAX + 32];

static void stop_building(int sig)
{
	unlink(building);                /* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);                      /* and die of it, as without us */
}

/* build: ann_build into path (kept when it exists, unless force). Returns
 * 0, or -1 after saying what failed. */
static int build_index(const char *path, const struct opts *o, bool force)
{
	struct ann_build_params bp = { .n = o->n, .dim = o->dim, .degree = o->degree, .seed = o->seed };
	double need = index_bytes(o->n, o->dim), t0, secs;
	char *tmp = building;
	struct stat st;
	int rc;

	if (!force && stat(path, &st) == 0) {
		printf("index: %s exists (%.1f MiB): kept (--force builds it again)\n", path,
		       mib((double)st.st_size));
		return 0;
	}
	if (check_room(path, need) < 0)
		return -1;
	printf("building %s: %u vectors of %u floats, degree %u, seed %" PRIu64 "\n"
	       "  about %.0f MiB on disk%s; the build uses every CPU\n", path, o->n, o->dim, o->degree,
	       o->seed, mib(need), o->n_given ? "" : " (--n 20000 makes a smaller index)");
	fflush(stdout);
	/* Under another name until complete: a build stopped half way must not
	 * leave a file that the next run takes for an index. */
	if ((size_t)snprintf(tmp, sizeof(building), "%s.part-%ld", path, (long)getpid()) >= sizeof(building)) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(ENAMETOOLONG));
		return -1;
	}
	signal(SIGINT, stop_building);
	signal(SIGTERM, stop_building);
	t0 = now_s();
	rc = ann_build(tmp, &bp);
	secs = now_s() - t0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		fprintf(stderr, "demo: building %s: %s\n", path, strerror(-rc));
		return -1;
	}
	if (stat(path, &st) < 0)
		st.st_size = 0;
	printf("built %s in %.1f s: %.1f MiB\n", path, secs, mib((double)st.st_size));
	return 0;
}

/* The index the command names: --index FILE (which must exist), or the
 * default one, built first when it is missing. */
static int index_path(const struct opts *o, char *path, size_t len)
{
	struct stat st;
	int rc;

	if (o->index) {
		if ((size_t)snprintf(path, len, "%s", o->index) >= len)
			errno = ENAMETOOLONG;
		else if (stat(path, &st) == 0)
			return 0;
		fprintf(stderr, "demo: --index %s: %s\n", o->index, strerror(errno));
		return -1;
	}
	default_index(o, path, len);
	if (stat(path, &st) == 0)
		return 0;
	rc = make_ann_dir();
	if (rc < 0) {
		fprintf(stderr, "demo: cannot create " ANN_DIR ": %s\n", strerror(-rc));
		return -1;
	}
	printf("no index at %s yet: building it first (the build command does this alone)\n", path);
	return build_index(path, o, false);
}

static int load_index(const char *path, struct ann_index **idx)
{
	int rc = ann_load(idx, path);

	if (rc < 0) {
		fprintf(stderr, "demo: ann_load %s: %s%s\n", path, strerror(-rc),
		        rc == -EINVAL ? " (not an index: build one with the build command)" : "");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the truth */

/* The cache of exact answers: this header, then nq rows of k ids. It is
 * valid for the index whose header and file it names: an index built
 * again (build --force) gets its answers computed again. */
#define TRUTH_MAGIC "AIO-ANNT"
struct truth_head {
	char magic[8];
	uint32_t version, nq, k, pad;
	uint64_t qseed;
	struct ann_header index;
	int64_t index_size, index_mtime_ns;
};

struct truth {
	unsigned nq, dim, k;
	float *queries;         /* nq x dim */
	uint32_t *ids;          /* nq x k, nearest first */
};

static void truth_free(struct truth *t)
{
	free(t->queries);
	free(t->ids);
	memset(t, 0, sizeof(*t));
}

static void truth_head_for(struct truth_head *h, const struct ann_index *idx, const struct stat *st,
                           unsigned nq, unsigned k)
{
	memset(h, 0, sizeof(*h));      /* the padding too: the file is compared whole */
	memcpy(h->magic, TRUTH_MAGIC, sizeof(h->magic));
	h->version = 1;
	h->nq = nq;
	h->k = k;
	h->qseed = QUERY_SEED;
	h->index = idx->h;
	h->index_size = st->st_size;
	h->index_mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The cached answers into t->ids (the first k of each row of the file, which
 * may hold more). 0, or -1 when there is no valid cache (nothing said). */
static int truth_read(const char *file, const struct truth_head *want, struct truth *t)
{
	struct truth_head h;
	uint32_t *all = NULL;
	size_t bytes;
	int fd = open(file, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		return -1;
	if (pread_all(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h.magic, want->magic, 8) ||
	    h.version != want->version || h.nq != want->nq || h.k < t->k || h.k > ANN_MAX_K ||
	    h.qseed != want->qseed || memcmp(&h.index, &want->index, sizeof(h.index)) ||
	    h.index_size != want->index_size || h.index_mtime_ns != want->index_mtime_ns)
		goto out;
	/* One read for the whole table (strace then counts the search's reads,
	 * not ours), then each row cut to the k wanted. */
	bytes = (size_t)h.nq * h.k * sizeof(*all);
	all = malloc(bytes);
	if (!all || pread_all(fd, all, bytes, (off_t)sizeof(h)) != (ssize_t)bytes)
		goto out;
	for (unsigned q = 0; q < t->nq; q++)
		memcpy(t->ids + (size_t)q * t->k, all + (size_t)q * h.k, t->k * sizeof(*all));
	rc = 0;
out:
	free(all);
	close(fd);
	return rc;
}

/* Write the answers under a temporary name, then rename: a reader never
 * sees half a cache. Returns 0 or -errno. */
static int truth_write(const char *file, const struct truth_head *h, const struct truth *t)
{
	char tmp[PATH_MAX + 32];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part-%ld", file, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, h, sizeof(*h));
	if (rc == 0)
		rc = write_all(fd, t->ids, (size_t)t->nq * t->k * sizeof(*t->ids));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* The queries and their exact k nearest: from the cache beside the index,
 * or computed (and cached). Returns 0, or -1 after saying what failed. */
static int get_truth(const char *path, const struct ann_index *idx, unsigned nq, unsigned k,
                     struct truth *t)
{
	char file[PATH_MAX + 64];
	struct truth_head h;
	struct stat st;
	double t0;
	int rc;

	memset(t, 0, sizeof(*t));
	t->nq = nq;
	t->dim = idx->h.dim;
	t->k = k < TRUTH_K ? TRUTH_K : k;
	if (t->k > idx->h.n) {
		fprintf(stderr, "demo: the index has %u nodes, fewer than the %u answers wanted\n",
		        idx->h.n, t->k);
		return -1;
	}
	t->queries = malloc((size_t)nq * t->dim * sizeof(float));
	t->ids = malloc((size_t)nq * t->k * sizeof(uint32_t));
	if (!t->queries || !t->ids) {
		fprintf(stderr, "demo: no memory for %u queries\n", nq);
		truth_free(t);
		return -1;
	}
	rc = ann_queries(idx, QUERY_SEED, nq, t->queries);
	if (rc == 0 && stat(path, &st) < 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "demo: the queries of %s: %s\n", path, strerror(-rc));
		truth_free(t);
		return -1;
	}
	if ((size_t)snprintf(file, sizeof(file), "%s.truth-%u-%u", path, nq, QUERY_SEED) >= sizeof(file))
		file[0] = '\0';        /* no cache: computed every time */
	truth_head_for(&h, idx, &st, nq, t->k);
	if (file[0] && truth_read(file, &h, t) == 0) {
		printf("truth: %s: the exact %u nearest of %u queries (seed %u), reused\n", file, t->k, nq,
		       QUERY_SEED);
		return 0;
	}
	printf("truth: computing the exact %u nearest of %u queries (seed %u) by reading every node "
	       "of %s ...\n", t->k, nq, QUERY_SEED, path);
	fflush(stdout);
	t0 = now_s();
	rc = ann_truth(idx, path, t->queries, nq, t->k, t->ids);
	if (rc < 0) {
		fprintf(stderr, "demo: ann_truth %s: %s\n", path, strerror(-rc));
		truth_free(t);
		return -1;
	}
	rc = file[0] ? truth_write(file, &h, t) : -ENAMETOOLONG;
	if (rc < 0)
		printf("truth: computed in %.1f s, not cached (%s: %s)\n", now_s() - t0, file, strerror(-rc));
	else
		printf("truth: computed in %.1f s, cached in %s\n", now_s() - t0, file);
	return 0;
}

/* ------------------------------------------------------------ libaio */

/*
 * The kernel's AIO, set up once for the whole run.
 *
 * Why not chapter 02's laio_batch_read: it is the batch.h shape, so it sets
 * up an AIO context (io_setup) and tears it down (io_destroy) on every call,
 * and io_destroy waits for the kernel to be done with the context: about
 * 30 ms on our VM (chapter 02's lesson measures it). A query calls the
 * reader once per hop, a dozen hops or more: 30 ms each would be all the
 * demo measured. Chapter 10's reader keeps its context; this is the same
 * idea in a few lines: one context, a window of qd control blocks, and the
 * batch.h rules (short reads continued, results per request).
 *
 * libaio returns -errno itself and never sets errno (io_submit(2), NOTES).
 * On a buffered fd io_submit does the whole read before it returns: the
 * interface is asynchronous only with O_DIRECT.
 */
struct aio_slot {
	struct batch_req *req;  /* the request this control block serves */
	size_t done;            /* bytes of it read so far */
};

struct aio_reader {
	io_context_t ctx;
	bool live;
	unsigned qd;
	struct iocb *cbs;       /* qd control blocks. A completion names its
	                           block by address (io_event.obj): that is how
	                           it finds its slot, so they never move */
	struct aio_slot *slots; /* cbs[i] serves slots[i] */
	struct iocb **queue;    /* prepared, not yet taken by io_submit */
	struct io_event *events;
	unsigned *free;         /* indexes of idle control blocks */
	unsigned nfree;
};

static void aio_reader_close(struct aio_reader *a)
{
	/* io_destroy waits for every read in flight: after it, no read can
	 * land in a buffer. */
	if (a->live)
		io_destroy(a->ctx);
	a->live = false;
	free(a->cbs);
	free(a->slots);
	free(a->queue);
	free(a->events);
	free(a->free);
	a->cbs = NULL;
	a->slots = NULL;
	a->queue = NULL;
	a->events = NULL;
	a->free = NULL;
}

static int aio_reader_open(struct aio_reader *a, unsigned qd)
{
	int rc;

	memset(a, 0, sizeof(*a));
	a->qd = qd;
	a->cbs = calloc(qd, sizeof(*a->cbs));
	a->slots = calloc(qd, sizeof(*a->slots));
	a->queue = calloc(qd, sizeof(*a->queue));
	a->events = calloc(qd, sizeof(*a->events));
	a->free = calloc(qd, sizeof(*a->free));
	if (!a->cbs || !a->slots || !a->queue || !a->events || !a->free) {
		aio_reader_close(a);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < qd; i++)
		a->free[i] = qd - 1 - i;
	a->nfree = qd;
	rc = io_setup((int)qd, &a->ctx);    /* ctx must be zero before: memset above */
	if (rc < 0) {
		aio_reader_close(a);
		return rc;
	}
	a->live = true;
	return 0;
}

/* Queue control block s for the rest of its request: after a short read,
 * the rest starts done bytes further, in the file and in the buffer. */
static void aio_queue_rest(struct aio_reader *a, unsigned s, unsigned *queued)
{
	struct aio_slot *sl = &a->slots[s];
	struct batch_req *r = sl->req;

	io_prep_pread(&a->cbs[s], r->fd, (char *)r->buf + sl->done, r->len - sl->done,
	              (long long)r->offset + (long long)sl->done);
	a->queue[(*queued)++] = &a->cbs[s];
}

/* A request is finished: its result, and its control block is idle again. */
static void aio_finish(struct aio_reader *a, unsigned s, ssize_t res)
{
	a->slots[s].req->res = res;
	a->slots[s].req = NULL;
	a->free[a->nfree++] = s;
}

/* Take requests from reqs[*next..n-1] into idle control blocks. Requests
 * that need no read (length 0, or a negative offset) get their result here. */
static void aio_start(struct aio_reader *a, struct batch_req *reqs, size_t n, size_t *next,
                      unsigned *queued)
{
	while (a->nfree > 0 && *next < n) {
		struct batch_req *r = &reqs[(*next)++];
		unsigned s;

		if (r->offset < 0) {
			r->res = -EINVAL;
			continue;
		}
		if (r->len == 0) {
			r->res = 0;
			continue;
		}
		s = a->free[--a->nfree];
		a->slots[s] = (struct aio_slot){ .req = r, .done = 0 };
		aio_queue_rest(a, s, queued);
	}
}

/* One completion: the request is done, failed, at end of file, or goes on. */
static void aio_complete(struct aio_reader *a, const struct io_event *ev, unsigned *queued)
{
	unsigned s = (unsigned)(ev->obj - a->cbs);
	struct aio_slot *sl = &a->slots[s];
	long res = (long)ev->res;    /* res is unsigned long in libaio.h: -errno cast */

	if (res == -EINTR) {
		aio_queue_rest(a, s, queued);         /* interrupted: the same rest again */
	} else if (res < 0) {
		aio_finish(a, s, res);                /* an error, even after some bytes */
	} else if (res == 0) {
		aio_finish(a, s, (ssize_t)sl->done);  /* end of file came first */
	} else {
		sl->done += (size_t)res;
		if (sl->done < sl->req->len)
			aio_queue_rest(a, s, queued);
		else
			aio_finish(a, s, (ssize_t)sl->done);
	}
}

/* A pause before trying io_submit again when nothing of ours is in flight
 * to wait for: 1, 2, 4 ... ms. */
static void aio_pause(int tries)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000L << (tries < 8 ? tries : 8) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Submit what is queued, as far as the kernel takes it. Returns 0, or
 * -EAGAIN when the kernel kept refusing with nothing in flight. */
static int aio_submit_queued(struct aio_reader *a, unsigned *queued, unsigned *inflight)
{
	int tries = 0;

	while (*queued > 0) {
		int rc = io_submit(a->ctx, (long)*queued, a->queue);

		if (rc > 0) {
			*inflight += (unsigned)rc;
			*queued -= (unsigned)rc;
			memmove(a->queue, a->queue + rc, *queued * sizeof(*a->queue));
			tries = 0;
		} else if (rc == 0 || rc == -EAGAIN || rc == -EINTR) {
			if (*inflight > 0)
				return 0;      /* a completion will make room: wait for it */
			if (++tries > 8)
				return -EAGAIN;
			aio_pause(tries);
		} else {
			/* Refused before any was taken: the error is the first
			 * one's (io_submit(2)); the others are tried again. */
			unsigned s = (unsigned)(a->queue[0] - a->cbs);

			aio_finish(a, s, rc);
			(*queued)--;
			memmove(a->queue, a->queue + 1, *queued * sizeof(*a->queue));
		}
	}
	return 0;
}

static int aio_batch_read(struct aio_reader *a, struct batch_req *reqs, size_t n)
{
	size_t next = 0;
	unsigned queued = 0, inflight = 0;

	if (!a->live)
		return -EIO;
	for (;;) {
		int rc, got;

		aio_start(a, reqs, n, &next, &queued);
		if (queued == 0 && inflight == 0)
			return 0;      /* every request has its result */
		rc = aio_submit_queued(a, &queued, &inflight);
		if (rc < 0) {
			/* Nothing is in flight: the queued blocks are idle again. */
			while (queued > 0)
				aio_finish(a, (unsigned)(a->queue[--queued] - a->cbs), rc);
			return rc;
		}
		if (inflight == 0)
			continue;
		do
			got = io_getevents(a->ctx, 1, (long)inflight, a->events, NULL);
		while (got == -EINTR);
		if (got < 0) {
			/* Reads we cannot collect may still land in the buffers:
			 * io_destroy waits for them, and the reader is spent. */
			io_destroy(a->ctx);
			a->live = false;
			return got;
		}
		inflight -= (unsigned)got;
		for (int i = 0; i < got; i++)
			aio_complete(a, &a->events[i], &queued);
	}
}

/* ------------------------------------------------------------ interfaces */

enum bkind { BK_BLOCKING, BK_THREADS, BK_LIBAIO, BK_URING, BK_URING_QD1, BK_URING_PIPELINED };

static const struct bdesc {
	const char *name;
	const char *chapter;
	enum bkind kind;
} BACKENDS[] = {
	{ "blocking", "01", BK_BLOCKING },
	{ "threads", "03", BK_THREADS },
	{ "libaio", "02", BK_LIBAIO },
	{ "io_uring", "06", BK_URING },
	{ "io_uring-qd1", "06", BK_URING_QD1 },
	{ PIPELINED, "11", BK_URING_PIPELINED },
};
#define NBACKENDS (sizeof(BACKENDS) / sizeof(BACKENDS[0]))

static const struct bdesc *find_backend(const char *name)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (!strcmp(BACKENDS[i].name, name))
			return &BACKENDS[i];
	return NULL;
}

/*
 * A cache of hot nodes, in front of the interface. Every query starts at
 * the entry node and its first hops read among the entry's neighbourhood,
 * so the nodes nearest the entry in hops are read by nearly every query.
 * Kept in memory, they cost no read at all. The cache lives in the reader,
 * not in ann_search (which keeps nothing between calls): the search cannot
 * tell a sector copied from memory from one read from the disk.
 */
struct cached {
	uint32_t id;
	unsigned slot;          /* its sector: sectors + slot * ANN_SECTOR */
};

struct node_cache {
	unsigned count;
	struct cached *ids;     /* sorted by id, for bsearch               */
	unsigned char *sectors; /* count * ANN_SECTOR, aligned             */
	struct batch_req *miss; /* the requests the cache cannot serve ... */
	size_t *where;          /* ... and where each came from            */
	unsigned long hits, misses;
};

static int by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct cached *)a)->id, y = ((const struct cached *)b)->id;

	return (x > y) - (x < y);
}

static void cache_free(struct node_cache *c)
{
	free(c->ids);
	free(c->sectors);
	free(c->miss);
	free(c->where);
	memset(c, 0, sizeof(*c));
}

/* Read the `want` nodes nearest the entry in hops (breadth first), with
 * plain preads before any query runs. 0 or -errno. */
static int cache_fill(struct node_cache *c, const struct ann_index *idx, int fd, unsigned want)
{
	uint8_t *seen = NULL;
	void *mem = NULL;
	unsigned head = 0;
	uint32_t *order = NULL;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (want > idx->h.n)
		want = idx->h.n;
	seen = calloc(idx->h.n, 1);
	order = malloc(want * sizeof(*order));
	c->ids = malloc(want * sizeof(*c->ids));
	c->miss = malloc(ANN_MAX_L * sizeof(*c->miss));
	c->where = malloc(ANN_MAX_L * sizeof(*c->where));
	if (posix_memalign(&mem, ANN_SECTOR, (size_t)want * ANN_SECTOR) == 0)
		c->sectors = mem;
	if (!seen || !order || !c->ids || !c->miss || !c->where || !c->sectors) {
		rc = -ENOMEM;
		goto out;
	}
	/* order[] is the queue: nodes are appended as they are discovered */
	order[c->count++] = idx->h.entry;
	seen[idx->h.entry] = 1;
	for (head = 0; head < c->count; head++) {
		unsigned char *sec = c->sectors + (size_t)head * ANN_SECTOR;
		const float *vec;
		const uint32_t *nbrs;
		unsigned nn;
		ssize_t got = pread_all(fd, sec, ANN_SECTOR, ann_node_offset(order[head]));

		if (got < 0 || (rc = ann_node_parse(idx, order[head], sec, got < 0 ? 0 : (size_t)got,
		                                    &vec, &nbrs, &nn)) < 0) {
			rc = got < 0 ? (int)got : rc;
			goto out;
		}
		for (unsigned j = 0; j < nn && c->count < want; j++)
			if (!seen[nbrs[j]]) {
				seen[nbrs[j]] = 1;
				order[c->count++] = nbrs[j];
			}
	}
	/* sorted ids for the look-up, each remembering its sector */
	for (unsigned i = 0; i < c->count; i++)
		c->ids[i] = (struct cached){ .id = order[i], .slot = i };
	qsort(c->ids, c->count, sizeof(*c->ids), by_id);
out:
	free(seen);
	free(order);
	if (rc < 0)
		cache_free(c);
	return rc;
}

/* The cached sector of the node a request asks for, or NULL. */
static const unsigned char *cache_find(const struct node_cache *c, const struct batch_req *r)
{
	struct cached key;
	const struct cached *at;

	if (c->count == 0 || r->offset < (off_t)ANN_SECTOR || r->offset % ANN_SECTOR ||
	    r->len != ANN_SECTOR || r->offset / ANN_SECTOR - 1 > UINT32_MAX)
		return NULL;
	key.id = (uint32_t)(r->offset / ANN_SECTOR - 1);
	at = bsearch(&key, c->ids, c->count, sizeof(*c->ids), by_id);
	return at ? c->sectors + (size_t)at->slot * ANN_SECTOR : NULL;
}

/* One interface, set up for one run: the ctx of the struct ann_io (or,
 * for io_uring-pipelined, the ring ann_search_uring is handed). */
struct backend {
	const struct bdesc *d;
	unsigned qd;            /* the window it keeps */
	struct tpool *pool;
	struct ubatch ring;
	struct aio_reader aio;
	struct io_uring uring;  /* io_uring-pipelined: the caller's ring */
	bool uring_live;
	bool broken;            /* a batch failed as a whole: torn down */
	struct node_cache *cache; /* hot nodes served from memory, or NULL */
	unsigned long calls;    /* io->read calls: 0 after a query means the
	                           search never read (the skeleton) */
	double setup_us;
	char how[200];          /* what was set up, or why it could not be */
};

static const char *uring_why(int rc)
{
	switch (rc) {
	case -EPERM:
		return " (io_uring refused: a seccomp filter such as Docker's, or "
		       "kernel.io_uring_disabled: make doctor)";
	case -ENOSYS:
		return " (this kernel has no io_uring)";
	case -ENOMEM:
		return " (RLIMIT_MEMLOCK too small for the ring: see ulimit -l, or a smaller --qd or --W)";
	default:
		return "";
	}
}

/* The ring of io_uring-pipelined: ann_search_uring wants at least W
 * submission queue entries (ann.h) and keeps W reads in flight; a larger
 * --qd makes the ring larger, not the window. No flags: the search uses
 * the ring as it is, and a plain ring is what the contract describes. */
static int pipelined_open(struct backend *b, unsigned qd, unsigned W)
{
	unsigned entries = qd > W ? qd : W;
	int rc = io_uring_queue_init(entries, &b->uring, 0);   /* -errno, not errno */

	b->qd = W;
	if (rc < 0) {
		snprintf(b->how, sizeof(b->how), "io_uring_queue_init(%u): %s%s", entries, strerror(-rc),
		         uring_why(rc));
		return rc;
	}
	b->uring_live = true;
	snprintf(b->how, sizeof(b->how), "ann_search_uring on one ring of %u entries, W = %u reads in "
	         "flight, a slot refilled as each completes", b->uring.sq.ring_entries, W);
	return 0;
}

/* Set up one interface (W: the search's, for io_uring-pipelined). 0, or
 * -errno with b->how saying why not. */
static int backend_open(struct backend *b, const struct bdesc *d, unsigned qd, unsigned W)
{
	double t0 = now_s();
	int rc = 0;

	memset(b, 0, sizeof(*b));
	b->d = d;
	b->qd = qd;
	switch (d->kind) {
	case BK_BLOCKING:
		b->qd = 1;      /* pread after pread, whatever qd says */
		snprintf(b->how, sizeof(b->how), "blk_batch_read: one pread after another");
		break;
	case BK_THREADS: {
		unsigned threads = qd < POOL_MAX ? qd : POOL_MAX;

		rc = tpool_create(&b->pool, threads);
		if (rc < 0)
			snprintf(b->how, sizeof(b->how), "tpool_create(%u): %s", threads, strerror(-rc));
		else
			snprintf(b->how, sizeof(b->how), "tpool_batch_read on a pool of %u threads", threads);
		break;
	}
	case BK_LIBAIO:
		rc = aio_reader_open(&b->aio, qd);
		if (rc < 0)
			snprintf(b->how, sizeof(b->how), "io_setup(%u): %s%s", qd, strerror(-rc),
			         rc == -EAGAIN ? " (fs.aio-max-nr reached: see /proc/sys/fs/aio-nr)" :
			         rc == -ENOSYS ? " (this kernel has no AIO)" : "");
		else
			snprintf(b->how, sizeof(b->how), "io_submit and io_getevents on one AIO context, "
			         "%u reads in flight", qd);
		break;
	case BK_URING:
	case BK_URING_QD1:
		if (d->kind == BK_URING_QD1)
			b->qd = 1;
		rc = ubatch_init(&b->ring, b->qd);
		if (rc < 0)
			snprintf(b->how, sizeof(b->how), "ubatch_init(%u): %s%s", b->qd, strerror(-rc),
			         uring_why(rc));
		else
			snprintf(b->how, sizeof(b->how), "ubatch_read on one ring of %u entr%s, %u in flight",
			         b->ring.sq_entries, b->ring.sq_entries == 1 ? "y" : "ies", b->qd);
		break;
	case BK_URING_PIPELINED:
		rc = pipelined_open(b, qd, W);
		break;
	}
	b->setup_us = (now_s() - t0) * 1e6;
	return rc;
}

static void backend_close(struct backend *b)
{
	tpool_destroy(b->pool);
	b->pool = NULL;
	if (b->ring.live)
		ubatch_exit(&b->ring);
	if (b->uring_live)
		io_uring_queue_exit(&b->uring);
	b->uring_live = false;
	aio_reader_close(&b->aio);
}

static int backend_read_uncached(struct backend *b, struct batch_req *reqs, size_t n);

/* The struct ann_io read: the search's hop, through the chosen interface,
 * the cached nodes (--cache) copied from memory instead. */
static int backend_read(void *ctx, struct batch_req *reqs, size_t n)
{
	struct backend *b = ctx;
	struct node_cache *c = b->cache;
	size_t m = 0;
	int rc;

	b->calls++;
	if (!c || n > ANN_MAX_L)
		return backend_read_uncached(b, reqs, n);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *sec = cache_find(c, &reqs[i]);

		if (sec) {
			memcpy(reqs[i].buf, sec, ANN_SECTOR);
			reqs[i].res = ANN_SECTOR;
			c->hits++;
		} else {
			c->miss[m] = reqs[i];
			c->where[m++] = i;
		}
	}
	c->misses += m;
	if (m == 0)
		return 0;
	/* the rest in one call, as the search handed them over */
	rc = backend_read_uncached(b, c->miss, m);
	if (rc < 0)
		return rc;
	for (size_t j = 0; j < m; j++)
		reqs[c->where[j]].res = c->miss[j].res;
	return 0;
}

static int backend_read_uncached(struct backend *b, struct batch_req *reqs, size_t n)
{
	int rc = -EIO;

	if (b->broken)
		return -EIO;
	switch (b->d->kind) {
	case BK_BLOCKING:
		rc = blk_batch_read(reqs, n, b->qd);
		break;
	case BK_THREADS:
		rc = tpool_batch_read(b->pool, reqs, n, b->qd);
		break;
	case BK_LIBAIO:
		rc = aio_batch_read(&b->aio, reqs, n);
		break;
	case BK_URING:
	case BK_URING_QD1:
		rc = ubatch_read(&b->ring, reqs, n, b->qd);
		/* ubatch.h: after a batch failed as a whole the ring must be
		 * released before anything else. */
		if (rc < 0) {
			ubatch_exit(&b->ring);
			b->broken = true;
		}
		break;
	case BK_URING_PIPELINED:
		rc = -EOPNOTSUPP;       /* never: ann_search_uring reads on the ring */
		break;
	}
	return rc;
}

/* ------------------------------------------------------------ the file */

struct ixfile {
	int fd;
	bool direct;
	off_t size;
	char note[160];         /* a fallback, said once */
};

/* Open the index for the search's reads, O_DIRECT when asked and allowed.
 * Some filesystems refuse O_DIRECT at open (EINVAL), others at the first
 * read: one aligned read of the header sector finds out. */
static int open_index(const char *path, bool direct, struct ixfile *f)
{
	struct stat st;
	void *sector = NULL;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (f->fd >= 0 && direct && posix_memalign(&sector, ANN_SECTOR, ANN_SECTOR) == 0) {
		if (pread_all(f->fd, sector, ANN_SECTOR, 0) == -EINVAL) {
			close(f->fd);
			f->fd = -1;
			errno = EINVAL;
		}
		free(sector);
	}
	if (f->fd < 0 && direct && errno == EINVAL) {
		snprintf(f->note, sizeof(f->note), "this filesystem refuses O_DIRECT (EINVAL): "
		         "reading through the page cache instead");
		direct = false;
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (f->fd < 0 || fstat(f->fd, &st) < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->direct = direct;
	f->size = st.st_size;
	return 0;
}

static void close_index(struct ixfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* --cold on the page cache: the index's pages out. Dirty pages (a file just
 * built) cannot be dropped: written out first. POSIX_FADV_DONTNEED works for
 * any user, on this file alone; posix_fadvise returns the error number. */
static int evict(int fd)
{
	int rc;

	if (fdatasync(fd) < 0 && errno != EINVAL)
		return -errno;
	rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return -rc;
}

/* --warm: every byte of the index read once through the page cache. */
static int warm_up(const char *path, off_t size)
{
	char *buf = malloc(WARM_CHUNK);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (!buf || fd < 0)
		rc = buf ? -errno : -ENOMEM;
	for (off_t at = 0; rc == 0 && at < size; at += WARM_CHUNK) {
		ssize_t got = pread_all(fd, buf, WARM_CHUNK, at);

		if (got < 0)
			rc = (int)got;
		else if (got == 0)
			break;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* How much of the file the page cache holds (mincore(2)), in percent, or -1
 * when it cannot be told: for a file the caller may not write, Linux 5.0+
 * reports every page as resident. */
static double resident_pct(const char *path, int fd, off_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages, in = 0;
	unsigned char *vec;
	void *map;

	if (size <= 0 || page <= 0 || access(path, W_OK) < 0)
		return -1;
	pages = ((size_t)size + (size_t)page - 1) / (size_t)page;
	vec = malloc(pages);
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (vec && map != MAP_FAILED && mincore(map, (size_t)size, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	else
		in = SIZE_MAX;
	if (map != MAP_FAILED)
		munmap(map, (size_t)size);
	free(vec);
	return in == SIZE_MAX ? -1 : 100.0 * (double)in / (double)pages;
}

/* Cold or warm, as asked, just before the queries. Returns 0 or -1 (said). */
static int prepare_cache(const char *path, const struct ixfile *f, bool warm)
{
	int rc = 0;

	if (warm)
		rc = warm_up(path, f->size);
	else if (!f->direct)
		rc = evict(f->fd);
	if (rc < 0) {
		fprintf(stderr, "demo: %s %s: %s\n", warm ? "warming" : "evicting", path, strerror(-rc));
		return -1;
	}
	return 0;
}

static const char *cache_words(const struct ixfile *f, bool warm)
{
	if (f->direct)
		return "O_DIRECT: every node read from the disk";
	return warm ? "page cache, warm: the whole index read once first"
	            : "page cache, cold: the index's pages dropped first (POSIX_FADV_DONTNEED)";
}

/* ------------------------------------------------------------ one run */

struct run {
	unsigned nq;            /* queries answered */
	double secs, qps, p50_us, p99_us, recall, hops, reads;
	int err;                /* ann_search's -errno, 0 */
	unsigned err_query;
	bool skeleton;          /* -ENOSYS without a single read */
};

/* How many of the k true nearest the search found. Each true one counts
 * once: a search that returned the same node twice does not score twice. */
static unsigned hits(const uint32_t *got, int ngot, const uint32_t *want, unsigned k)
{
	bool used[ANN_MAX_K] = { false };
	unsigned h = 0;

	for (int i = 0; i < ngot; i++)
		for (unsigned j = 0; j < k; j++)
			if (!used[j] && got[i] == want[j]) {
				used[j] = true;
				h++;
				break;
			}
	return h;
}

/* One query through the back-end: ann_search on its batch read, or
 * ann_search_uring on its ring. *queued: did the search queue or read
 * anything (a skeleton's -ENOSYS does neither)? */
static int search_one(const struct ann_index *idx, struct backend *b, const struct ann_io *io,
                      const float *query, const struct ann_params *p, uint32_t *ids,
                      struct ann_stats *st, bool *queued)
{
	unsigned long calls = b->calls;
	unsigned tail;
	int got;

	if (b->d->kind != BK_URING_PIPELINED) {
		got = ann_search(idx, io, query, p, ids, NULL, st);
		*queued = b->calls != calls;
		return got;
	}
	if (!b->uring_live)
		return -EIO;            /* exited after an earlier error */
	tail = b->uring.sq.sqe_tail;
	got = ann_search_uring(idx, &b->uring, io->fd, query, p, ids, NULL, st);
	*queued = b->uring.sq.sqe_tail != tail;
	if (got < 0) {
		/* ann.h: after a failed submit or wait the ring is in an unknown
		 * state, and the return value does not say which error it was.
		 * The run stops at this error anyway: exit the ring now, so that
		 * nothing uses it again. */
		io_uring_queue_exit(&b->uring);
		b->uring_live = false;
	}
	return got;
}

/* Every query through the back-end's search, timed one by one. Returns 0,
 * -ENOMEM, or the search's error (r->err, r->err_query). */
static int run_queries(const struct ann_index *idx, struct backend *b, int fd, const struct truth *t,
                       const struct ann_params *p, struct run *r)
{
	struct ann_io io = { .read = backend_read, .ctx = b, .fd = fd };
	double *lat = malloc((size_t)t->nq * sizeof(*lat)), t0, found = 0;
	uint32_t *ids = malloc(p->k * sizeof(*ids));
	unsigned long hops = 0, reads = 0;

	memset(r, 0, sizeof(*r));
	if (!lat || !ids) {
		free(lat);
		free(ids);
		r->err_query = UINT_MAX;        /* before any query */
		return r->err = -ENOMEM;
	}
	t0 = now_s();
	for (unsigned q = 0; q < t->nq; q++) {
		struct ann_stats st = { 0 };
		bool queued;
		double q0 = now_s();
		int got = search_one(idx, b, &io, t->queries + (size_t)q * t->dim, p, ids, &st, &queued);

		lat[q] = (now_s() - q0) * 1e6;
		if (got < 0) {
			r->err = got;
			r->err_query = q;
			r->skeleton = got == -ENOSYS && !queued;
			break;
		}
		hops += st.hops;
		reads += st.reads;
		found += hits(ids, got, t->ids + (size_t)q * t->k, p->k);
		r->nq++;
	}
	r->secs = now_s() - t0;
	if (r->nq > 0) {
		qsort(lat, r->nq, sizeof(*lat), by_double);
		r->p50_us = percentile(lat, r->nq, 50);
		r->p99_us = percentile(lat, r->nq, 99);
		r->qps = r->secs > 0 ? r->nq / r->secs : 0;
		r->recall = found / ((double)r->nq * p->k);
		r->hops = (double)hops / r->nq;
		r->reads = (double)reads / r->nq;
	}
	free(lat);
	free(ids);
	return r->err;
}

/* The search function a back-end runs. */
static const char *search_name(const struct bdesc *d)
{
	return d->kind == BK_URING_PIPELINED ? "ann_search_uring" : "ann_search";
}

/* What a failed run prints: the skeleton gets the way forward. */
static void say_search_error(const struct run *r, const struct bdesc *d)
{
	if (r->skeleton)
		fprintf(stderr, "demo: %s is not written yet: make check CH=11\n", search_name(d));
	else if (r->err_query == UINT_MAX)
		fprintf(stderr, "demo: no memory for the run\n");
	else
		fprintf(stderr, "demo: query %u (%s): %s: %s\n", r->err_query, d->name, search_name(d),
		        strerror(-r->err));
}

/* ------------------------------------------------------------ the commands */

/* Is ann_search written at all? Asked of a one-node index made in memory,
 * before minutes spent building a real one: the skeleton answers -ENOSYS
 * without reading anything. Whatever else it answers, the real index
 * will tell. */
struct probe_io {
	const void *sector;     /* node 0 as the file would hold it */
	unsigned calls;
};

static int probe_read(void *ctx, struct batch_req *reqs, size_t n)
{
	struct probe_io *p = ctx;

	p->calls++;
	for (size_t i = 0; i < n; i++) {
		bool node0 = reqs[i].offset == ann_node_offset(0) && reqs[i].len == ANN_SECTOR;

		if (node0)
			memcpy(reqs[i].buf, p->sector, ANN_SECTOR);
		reqs[i].res = node0 ? (ssize_t)ANN_SECTOR : -EIO;
	}
	return 0;
}

/* The one-node index both probes search: node 0 alone, the entry. */
static const float probe_lo[1] = { 0 }, probe_step[1] = { 1 };
static const uint8_t probe_codes[1] = { 0 };
static const struct ann_index PROBE_INDEX = {
	.h = { .magic = { 'A', 'I', 'O', '-', 'A', 'N', 'N', '1' }, .version = 1, .dim = 1, .n = 1,
	       .degree = 1, .entry = 0, .clusters = 1, .codes_offset = 2 * ANN_SECTOR },
	.lo = probe_lo, .step = probe_step, .codes = probe_codes,
};
static const struct ann_params PROBE_PARAMS = { .k = 1, .L = 1, .W = 1 };

static bool search_written(void)
{
	struct ann_node_head head = { .id = 0, .nnbrs = 0 };
	struct probe_io pio = { 0 };
	struct ann_io io = { .read = probe_read, .ctx = &pio, .fd = -1 };
	float query[1] = { 0 };
	uint32_t id;
	void *sector;
	int rc;

	if (posix_memalign(&sector, ANN_SECTOR, ANN_SECTOR) != 0)
		return true;    /* cannot ask: the real run will tell */
	memset(sector, 0, ANN_SECTOR);
	memcpy(sector, &head, sizeof(head));    /* then vec[0] = 0.0f: zeros */
	pio.sector = sector;
	rc = ann_search(&PROBE_INDEX, &io, query, &PROBE_PARAMS, &id, NULL, NULL);
	free(sector);
	return !(rc == -ENOSYS && pio.calls == 0);
}

/* The same question of ann_search_uring, on a ring of one entry and fd -1:
 * a written search queues the entry's read, which completes with -EBADF,
 * and returns that; the skeleton returns -ENOSYS with nothing queued. */
static bool uring_search_written(void)
{
	struct io_uring ring;
	float query[1] = { 0 };
	uint32_t id;
	unsigned tail;
	bool skeleton;

	if (io_uring_queue_init(1, &ring, 0) < 0)
		return true;    /* cannot ask: the run's own ring set-up will say why */
	tail = ring.sq.sqe_tail;
	skeleton = ann_search_uring(&PROBE_INDEX, &ring, -1, query, &PROBE_PARAMS, &id, NULL, NULL) ==
	           -ENOSYS && ring.sq.sqe_tail == tail;
	io_uring_queue_exit(&ring);
	return !skeleton;
}

/* What search, sweep and showdown share: the index, loaded, and the
 * queries with their answers. */
struct setup {
	char path[PATH_MAX];
	struct ann_index *idx;
	struct truth truth;
};

static int setup_get(const struct opts *o, struct setup *s)
{
	memset(s, 0, sizeof(*s));
	if (index_path(o, s->path, sizeof(s->path)) < 0 || load_index(s->path, &s->idx) < 0)
		return -1;
	printf("index: %s: %u nodes of %u floats, degree %u, entry node %u\n", s->path, s->idx->h.n,
	       s->idx->h.dim, s->idx->h.degree, s->idx->h.entry);
	if (get_truth(s->path, s->idx, o->queries, o->k, &s->truth) < 0) {
		ann_unload(s->idx);
		s->idx = NULL;
		return -1;
	}
	return 0;
}

static void setup_put(struct setup *s)
{
	truth_free(&s->truth);
	ann_unload(s->idx);
	s->idx = NULL;
}

static int do_build(const struct opts *o)
{
	char path[PATH_MAX];
	int rc;

	if (o->index) {
		if ((size_t)snprintf(path, sizeof(path), "%s", o->index) >= sizeof(path)) {
			fprintf(stderr, "demo: --out %s: %s\n", o->index, strerror(ENAMETOOLONG));
			return 1;
		}
	} else {
		default_index(o, path, sizeof(path));
		rc = make_ann_dir();
		if (rc < 0) {
			fprintf(stderr, "demo: cannot create " ANN_DIR ": %s\n", strerror(-rc));
			return 1;
		}
	}
	return build_index(path, o, o->force) < 0;
}

static int do_truth(const struct opts *o)
{
	struct setup s;

	if (setup_get(o, &s) < 0)
		return 1;
	setup_put(&s);
	return 0;
}

/* One interface set up for search or sweep; says what and how, or why not. */
static int open_backend(const struct opts *o, struct backend *b, const struct ixfile *f)
{
	const struct bdesc *d = find_backend(o->backend);

	if (!d)
		bad("no back-end '%s' (blocking, threads, libaio, io_uring, io_uring-qd1, " PIPELINED ")",
		    o->backend);
	if (backend_open(b, d, o->qd, o->W) < 0) {
		fprintf(stderr, "demo: %s (chapter %s) cannot run here: %s\n", d->name, d->chapter, b->how);
		backend_close(b);
		return -1;
	}
	printf("back-end: %s (chapter %s): %s; set up in %.0f us\n", d->name, d->chapter, b->how, b->setup_us);
	if (d->kind == BK_LIBAIO && !f->direct)
		printf("  note: libaio reads asynchronously only with O_DIRECT: on this page-cache fd "
		       "io_submit makes each read itself before it returns\n");
	return 0;
}

/* Open the file, say how it is read, and make it cold or warm. */
static int open_for_queries(const struct opts *o, const struct setup *s, struct ixfile *f)
{
	double pct;

	if (open_index(s->path, o->direct, f) < 0)
		return -1;
	if (f->note[0])
		printf("note: %s\n", f->note);
	if (prepare_cache(s->path, f, o->warm) < 0) {
		close_index(f);
		return -1;
	}
	printf("file: %s\n", cache_words(f, o->warm));
	if (!f->direct) {
		pct = resident_pct(s->path, f->fd, f->size);
		if (pct >= 0)
			printf("  page cache: %.1f%% of the index resident before the queries\n", pct);
	}
	return 0;
}

/* What search and sweep stand on: the index and its answers, the file,
 * one interface. -1 (said why, everything undone) or 0; end_run undoes it. */
static int start_run(const struct opts *o, struct setup *s, struct ixfile *f, struct backend *b)
{
	if (setup_get(o, s) < 0)
		return -1;
	if (open_for_queries(o, s, f) < 0) {
		setup_put(s);
		return -1;
	}
	if (open_backend(o, b, f) < 0) {
		close_index(f);
		setup_put(s);
		return -1;
	}
	return 0;
}

static void end_run(struct setup *s, struct ixfile *f, struct backend *b)
{
	backend_close(b);
	close_index(f);
	setup_put(s);
}

static int do_search(const struct opts *o)
{
	struct ann_params p = { .k = o->k, .L = o->L, .W = o->W };
	struct node_cache cache = { 0 };
	struct backend b;
	struct ixfile f;
	struct setup s;
	struct run r;
	int rc;

	if (start_run(o, &s, &f, &b) < 0)
		return 1;
	if (o->cache > 0) {
		double t0 = now_s();

		rc = cache_fill(&cache, s.idx, f.fd, o->cache);
		if (rc < 0) {
			fprintf(stderr, "demo: --cache %u: %s\n", o->cache, strerror(-rc));
			end_run(&s, &f, &b);
			return 1;
		}
		b.cache = &cache;
		printf("cache: the %u nodes nearest the entry in hops, %.1f MiB, read in %.0f ms before "
		       "the queries\n", cache.count, mib((double)cache.count * ANN_SECTOR),
		       (now_s() - t0) * 1e3);
	}
	printf("queries: %u, k %u, L %u, W %u, qd %u\n", s.truth.nq, p.k, p.L, p.W, b.qd);
	fflush(stdout);
	rc = run_queries(s.idx, &b, f.fd, &s.truth, &p, &r);
	if (rc < 0) {
		say_search_error(&r, b.d);
	} else {
		printf("recall@%u: %.3f (the share of the exact %u nearest the search found)\n", p.k, r.recall, p.k);
		printf("queries/s: %.0f (%u queries in %.2f s, one after another)\n", r.qps, r.nq, r.secs);
		printf("latency per query: p50 %.0f us, p99 %.0f us\n", r.p50_us, r.p99_us);
		printf("per query: %.1f hops, %.1f reads (%.1f reads per hop)\n", r.hops, r.reads,
		       r.hops > 0 ? r.reads / r.hops : 0);
		if (b.d->kind == BK_URING_PIPELINED)
			printf("  (pipelined: a hop is a submit that carried reads, one after each batch "
			       "of completions; up to %u reads stay in flight)\n", p.W);
		printf("back-end set-up: %.0f us, once for all the queries\n", b.setup_us);
		if (b.cache)
			printf("cache: served %.1f of the %.1f reads per query from memory (%.1f%%), "
			       "%.1f went to %s\n", (double)cache.hits / r.nq, r.reads,
			       100.0 * (double)cache.hits / (double)(cache.hits + cache.misses),
			       (double)cache.misses / r.nq, b.d->name);
	}
	cache_free(&cache);
	end_run(&s, &f, &b);
	return rc < 0;
}

static int do_sweep(const struct opts *o)
{
	struct backend b;
	struct ixfile f;
	struct setup s;
	int failed = 0;

	if (start_run(o, &s, &f, &b) < 0)
		return 1;
	printf("sweep: %u queries, k %u, W %u, qd %u; each L %s\n", s.truth.nq, o->k, o->W, b.qd,
	       f.direct ? "on O_DIRECT" : o->warm ? "on the warm page cache" : "after dropping the index's pages");
	printf("\n  %5s %9s %8s %7s %10s %8s %8s\n", "L", "recall@k", "reads/q", "hops/q", "queries/s",
	       "p50 us", "p99 us");
	for (unsigned i = 0; i < o->nLs && !failed; i++) {
		struct ann_params p = { .k = o->k, .L = o->Ls[i], .W = o->W < o->Ls[i] ? o->W : o->Ls[i] };
		struct run r;

		if (i > 0 && !o->warm && !f.direct && prepare_cache(s.path, &f, false) < 0) {
			failed = 1;
			break;
		}
		if (run_queries(s.idx, &b, f.fd, &s.truth, &p, &r) < 0) {
			say_search_error(&r, b.d);
			failed = 1;
			break;
		}
		printf("  %5u %9.3f %8.1f %7.1f %10.0f %8.0f %8.0f%s\n", p.L, r.recall, r.reads, r.hops, r.qps,
		       r.p50_us, r.p99_us, p.W < o->W ? "  (W = L)" : "");
		fflush(stdout);
	}
	if (!failed)
		printf("\n  recall@k: the share of the exact k nearest found; a larger L reads more nodes\n"
		       "  per query and finds more of them\n");
	end_run(&s, &f, &b);
	return failed;
}

/* ------------------------------------------------------------ showdown */

enum { M_COLD, M_WARM, NMODES };

/* One (mode, interface) pair's figures, round by round. */
struct cell {
	const struct bdesc *d;
	unsigned good;          /* rounds that ran */
	double qps[MAX_ROUNDS], ratio[MAX_ROUNDS], p50[MAX_ROUNDS], p99[MAX_ROUNDS];
	double reads[MAX_ROUNDS], hops[MAX_ROUNDS], recall[MAX_ROUNDS], setup[MAX_ROUNDS];
	double vs_uring[MAX_ROUNDS];    /* queries/s over batched io_uring's */
	unsigned nratio, nvs_uring;
	unsigned qd;
	bool failed;            /* the search failed: not a capability */
	bool unwritten;         /* ann_search_uring is the skeleton's: not run */
	char why[200];          /* not run: why */
};

struct mode {
	const char *name;       /* "cold O_DIRECT", "warm buffered" */
	const char *csv_name;
	struct ixfile f;
	bool warm, open;
	char note[256];
	struct cell cells[NBACKENDS];
};

static double cell_median(const double *v, unsigned n)
{
	double tmp[MAX_ROUNDS];

	memcpy(tmp, v, n * sizeof(*v));
	return median(tmp, n);
}

/* One run of one interface in one mode. Returns 0; 1 when the search
 * failed (said); 2 when it is the skeleton (said): stop everything. */
static int showdown_run(struct setup *s, struct mode *m, struct cell *c, const struct opts *o,
                        const struct ann_params *p, double *qps)
{
	struct backend b;
	struct run r = { 0 };
	int rc;

	*qps = 0;
	if (backend_open(&b, c->d, o->qd, p->W) < 0) {
		snprintf(c->why, sizeof(c->why), "%s", b.how);
		backend_close(&b);
		return 0;
	}
	c->qd = b.qd;
	rc = m->warm || m->f.direct ? 0 : prepare_cache(s->path, &m->f, false);
	if (rc == 0)
		rc = run_queries(s->idx, &b, m->f.fd, &s->truth, p, &r);
	backend_close(&b);
	if (rc < 0 && r.skeleton && c->d->kind == BK_URING_PIPELINED) {
		/* part 2 not written yet: the other back-ends still run */
		c->unwritten = true;
		snprintf(c->why, sizeof(c->why), "ann_search_uring is not written yet (make check CH=11)");
		return 0;
	}
	if (rc < 0) {
		if (r.err)
			say_search_error(&r, c->d);
		c->failed = true;
		if (r.skeleton)
			snprintf(c->why, sizeof(c->why), "ann_search is not written yet");
		else if (r.err && r.err_query != UINT_MAX)
			snprintf(c->why, sizeof(c->why), "query %u: %s", r.err_query, strerror(-r.err));
		else
			snprintf(c->why, sizeof(c->why), "%s", r.err ? strerror(-r.err) : "could not drop the index's pages");
		return r.skeleton ? 2 : 1;
	}
	c->qps[c->good] = r.qps;
	c->p50[c->good] = r.p50_us;
	c->p99[c->good] = r.p99_us;
	c->reads[c->good] = r.reads;
	c->hops[c->good] = r.hops;
	c->recall[c->good] = r.recall;
	c->setup[c->good] = b.setup_us;
	c->good++;
	*qps = r.qps;
	return 0;
}

/* Where kind sits in BACKENDS. */
static size_t backend_at(enum bkind kind)
{
	size_t i = 0;

	while (i < NBACKENDS - 1 && BACKENDS[i].kind != kind)
		i++;
	return i;
}

/* One round of a mode: every interface once, starting `round` further
 * along, so that none always runs first (or right after the same one);
 * each one's queries/s as a ratio to blocking's, and to batched
 * io_uring's, in this round. */
static int showdown_round(struct setup *s, struct mode *m, const struct opts *o,
                          const struct ann_params *p, unsigned round)
{
	double qps[NBACKENDS] = { 0 };
	int worst = 0;

	if (m->warm && prepare_cache(s->path, &m->f, true) < 0)
		return 1;
	for (size_t j = 0; j < NBACKENDS; j++) {
		size_t i = (j + round) % NBACKENDS;
		struct cell *c = &m->cells[i];
		int rc;

		if (c->failed || c->unwritten)
			continue;
		rc = showdown_run(s, m, c, o, p, &qps[i]);
		if (rc > worst)
			worst = rc;
		if (rc == 2)
			return 2;
	}
	size_t blk = backend_at(BK_BLOCKING), ub = backend_at(BK_URING);

	for (size_t i = 0; i < NBACKENDS; i++) {
		struct cell *c = &m->cells[i];

		if (qps[i] > 0 && qps[blk] > 0)
			c->ratio[c->nratio++] = qps[i] / qps[blk];
		if (qps[i] > 0 && qps[ub] > 0)
			c->vs_uring[c->nvs_uring++] = qps[i] / qps[ub];
	}
	return worst;
}

static void print_cell(const struct mode *m, const struct cell *c, const struct opts *o, FILE *csv)
{
	char label[40];

	snprintf(label, sizeof(label), "%s (%s)", c->d->name, c->d->chapter);
	if (c->good == 0) {
		printf("  %-14s %-23s %s: %s\n", m->name, label, c->failed ? "FAILED" : "not run",
		       c->why[0] ? c->why : "?");
		if (csv)
			fprintf(csv, "%s,%s,%s,%s,%u,%u,%u,%u,%u,%u,%s,,,,,,,,,,,\"%s\"\n", m->csv_name, c->d->name,
			        c->d->chapter, m->f.direct ? "direct" : "buffered", c->qd, o->queries, o->k, o->L,
			        o->W, o->rounds, c->failed ? "failed" : "skipped", c->why);
		return;
	}
	double qps = cell_median(c->qps, c->good), ratio = cell_median(c->ratio, c->nratio);
	double p50 = cell_median(c->p50, c->good), p99 = cell_median(c->p99, c->good);
	double reads = cell_median(c->reads, c->good), hops = cell_median(c->hops, c->good);
	double recall = cell_median(c->recall, c->good), setup = cell_median(c->setup, c->good);
	char ratio_s[16], vs_uring_s[16] = "";

	if (c->nratio)
		snprintf(ratio_s, sizeof(ratio_s), "%.2f", ratio);
	else
		snprintf(ratio_s, sizeof(ratio_s), "-");
	if (c->nvs_uring)
		snprintf(vs_uring_s, sizeof(vs_uring_s), "%.2f", cell_median(c->vs_uring, c->nvs_uring));
	printf("  %-14s %-23s %3u %9.0f %10s %8.0f %8.0f %7.1f %6.1f %6.3f %8.0f", m->name, label, c->qd, qps,
	       ratio_s, p50, p99, reads, hops, recall, setup);
	if (c->good < o->rounds)
		printf("  (%u of %u rounds)", c->good, o->rounds);
	if (c->d->kind == BK_LIBAIO && !m->f.direct)
		printf("  *");
	printf("\n");
	if (csv)
		fprintf(csv, "%s,%s,%s,%s,%u,%u,%u,%u,%u,%u,ok,%.1f,%s,%s,%.0f,%.0f,%.2f,%.2f,%.4f,%.0f,%u,\"\"\n",
		        m->csv_name, c->d->name, c->d->chapter, m->f.direct ? "direct" : "buffered", c->qd,
		        o->queries, o->k, o->L, o->W, o->rounds, qps, c->nratio ? ratio_s : "", vs_uring_s,
		        p50, p99, reads, hops, recall, setup, c->good);
}

/* The pipelined search against the batched one, mode by mode: the median
 * of the rounds' ratios, and the two p50s; after a blank line, if any. */
static void print_vs_batched(const struct mode *modes)
{
	size_t pi = backend_at(BK_URING_PIPELINED), ub = backend_at(BK_URING);
	int said = 0;

	for (int mi = 0; mi < NMODES; mi++) {
		const struct cell *pc = &modes[mi].cells[pi], *bc = &modes[mi].cells[ub];

		if (!modes[mi].open || pc->nvs_uring == 0)
			continue;
		printf("%s  %s: " PIPELINED " at %.2fx the queries/s of io_uring (batched) in the same "
		       "round%s, p50 %.0f us against %.0f us\n", said++ ? "" : "\n", modes[mi].name,
		       cell_median(pc->vs_uring, pc->nvs_uring), pc->nvs_uring == 1 ? "" : "s",
		       cell_median(pc->p50, pc->good), cell_median(bc->p50, bc->good));
	}
}

static int open_mode(struct setup *s, struct mode *m, int which)
{
	memset(m, 0, sizeof(*m));
	m->warm = which == M_WARM;
	for (size_t i = 0; i < NBACKENDS; i++)
		m->cells[i].d = &BACKENDS[i];
	if (open_index(s->path, !m->warm, &m->f) < 0)
		return -1;
	m->open = true;
	if (m->warm) {
		m->name = "warm buffered";
		m->csv_name = "warm-buffered";
		snprintf(m->note, sizeof(m->note), "the page cache, the whole index read once at the "
		         "start of each round");
	} else if (m->f.direct) {
		m->name = "cold O_DIRECT";
		m->csv_name = "cold-direct";
		snprintf(m->note, sizeof(m->note), "every node read from the disk");
	} else {
		m->name = "cold buffered";
		m->csv_name = "cold-buffered";
		snprintf(m->note, sizeof(m->note), "%s; the index's pages dropped before each run",
		         m->f.note);
	}
	return 0;
}

static FILE *open_csv(const char *path)
{
	FILE *csv = fopen(path, "we");

	if (!csv) {
		fprintf(stderr, "demo: --csv %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fprintf(csv, "mode,backend,chapter,fd,qd,queries,k,L,W,rounds,status,queries_per_s,"
	        "ratio_to_blocking,ratio_to_io_uring,p50_us,p99_us,reads_per_query,hops_per_query,"
	        "recall,setup_us,rounds_ok,note\n");
	return csv;
}

static int do_showdown(const struct opts *o)
{
	struct ann_params p = { .k = o->k, .L = o->L, .W = o->W };
	struct mode *modes = calloc(NMODES, sizeof(*modes));
	FILE *csv = NULL;
	struct setup s;
	int failed = 0;

	if (!modes) {
		fprintf(stderr, "demo: out of memory\n");
		return 1;
	}
	if (o->csv && !(csv = open_csv(o->csv))) {
		free(modes);
		return 1;
	}
	if (setup_get(o, &s) < 0) {
		if (csv)
			fclose(csv);
		free(modes);
		return 1;
	}
	printf("showdown: %u queries a run, k %u, L %u, W %u, qd %u (blocking: 1, io_uring-qd1: 1, "
	       PIPELINED ": W), %u round%s\n"
	       "each round runs every back-end once, starting one further along each time; figures are\n"
	       "medians of the rounds; x blocking: queries/s over blocking's in the same round\n",
	       s.truth.nq, p.k, p.L, p.W, o->qd, o->rounds, o->rounds == 1 ? "" : "s");
	fflush(stdout);
	for (int mi = 0; mi < NMODES && failed < 2; mi++) {
		struct mode *m = &modes[mi];

		if (open_mode(&s, m, mi) < 0) {
			failed = 1;
			break;
		}
		printf("%s: %s\n", m->name, m->note);
		fflush(stdout);
		for (unsigned round = 0; round < o->rounds && failed < 2; round++) {
			int rc = showdown_round(&s, m, o, &p, round);

			if (rc > failed)
				failed = rc;
		}
	}
	if (failed < 2) {
		printf("\n  %-14s %-23s %3s %9s %10s %8s %8s %7s %6s %6s %8s\n", "mode", "back-end (ch)", "qd",
		       "queries/s", "x blocking", "p50 us", "p99 us", "reads/q", "hops/q", "recall", "setup us");
		for (int mi = 0; mi < NMODES; mi++)
			for (size_t i = 0; modes[mi].open && i < NBACKENDS; i++)
				print_cell(&modes[mi], &modes[mi].cells[i], o, csv);
		print_vs_batched(modes);
		printf("\n  p50, p99: one query's time; reads/q, hops/q: ann_stats per query (for "
		       PIPELINED ",\n  hops are the submits that carried reads); setup: the back-end's, "
		       "once per run.\n  * libaio on a page-cache fd: io_submit reads synchronously.\n"
		       "  Absolute figures are this machine's at this moment: read the ratios.\n");
	}
	if (csv) {
		if (fclose(csv) != 0) {
			fprintf(stderr, "demo: --csv %s: %s\n", o->csv, strerror(errno));
			failed = failed ? failed : 1;
		} else if (failed < 2) {
			printf("  csv: %s\n", o->csv);
		}
	}
	for (int mi = 0; mi < NMODES; mi++)
		if (modes[mi].open)
			close_index(&modes[mi].f);
	free(modes);
	setup_put(&s);
	return failed != 0;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct opts o;
	bool pipelined;

	/* A line at a time, also into a pipe (make bench): the progress lines
	 * and the errors on stderr then come out in the order they happened. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv, &o);
	/* The search this command runs, asked before an index is built. The
	 * showdown runs both: it needs ann_search, and finds out about
	 * ann_search_uring in its run of io_uring-pipelined (and goes on). */
	pipelined = (o.cmd & (C_SEARCH | C_SWEEP)) && !strcmp(o.backend, PIPELINED);
	if ((o.cmd & C_QUERYING) && !(pipelined ? uring_search_written() : search_written())) {
		fprintf(stderr, "demo: %s is not written yet: make check CH=11\n",
		        pipelined ? "ann_search_uring" : "ann_search");
		return 1;
	}
	switch (o.cmd) {
	case C_BUILD:
		return do_build(&o);
	case C_TRUTH:
		return do_truth(&o);
	case C_SEARCH:
		return do_search(&o);
	case C_SWEEP:
		return do_sweep(&o);
	case C_SHOWDOWN:
		return do_showdown(&o);
	}
	return 2;
}
