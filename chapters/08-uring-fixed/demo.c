/*
 * demo.c - chapter 08: registered buffers and files, SQPOLL and IOPOLL at work.
 *
 *   demo read FILE [--qd N] [--n N] [--bs B] [--fixed] [--files] [--sqpoll]
 *                  [--iopoll] [--direct] [--ringfd] [--seed S]
 *   demo compare FILE [--qd N] [--n N] [--bs B] [--rounds R] [--buffered]
 *   demo memlock [MIB...]
 *   demo iopoll FILE
 *   demo mistakes
 *
 * read      reads N (default 20000) random blocks of B bytes (default 4096)
 *           of FILE through ufixed_read(), QD (default 32) in flight, in
 *           calls of many windows each, whose reads share one arena of 4
 *           windows of buffers (at most 4 MiB). --fixed
 *           registers the arena once (ufixed_add_buffer: READ_FIXED),
 *           --files registers FILE's fd once (ufixed_add_file:
 *           IOSQE_FIXED_FILE), --sqpoll and --iopoll set the ring up with
 *           UFIXED_SQPOLL / UFIXED_IOPOLL, --direct opens FILE with O_DIRECT,
 *           --ringfd registers the ring's own fd (io_uring_register_ring_fd).
 *           Prints the ring's setup, the SQ thread if there is one, reads per
 *           second, and the CPU time the process (SQ thread included) spent.
 * compare   runs the same reads as plain, fixed (buffers + file), sqpoll,
 *           and sqpoll+fixed, one after the other, R rounds (default 5), and
 *           prints the median reads per second and CPU per read of each, and
 *           each one's ratio to plain (medians of the per-round ratios).
 *           O_DIRECT unless --buffered.
 * memlock   registers anonymous buffers of 4 and 16 MiB (or the sizes given,
 *           in MiB) one after the other, and prints RLIMIT_MEMLOCK, VmPin
 *           (/proc/self/status) and what each registration returned.
 * iopoll    shows which block device holds FILE and whether it has poll
 *           queues, then reads FILE on a UFIXED_IOPOLL ring with and
 *           without O_DIRECT and prints each request's result and how long
 *           the call took.
 * mistakes  does not use the module: on a ring of its own it makes the
 *           lesson's pitfalls happen (a wrong buf_index, a buffer outside
 *           the registered range, an fd where a slot was wanted, a slot read
 *           after its fd was closed, a wait on an IOPOLL ring) and prints
 *           each CQE.
 *
 * read, compare, memlock and iopoll are built only on ufixed.h, so they run on
 * your implementation as well as on the reference. To count system calls:
 *   strace -f -c -e trace=io_uring_enter,io_uring_register <this command>
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "ufixed.h"

/* The buffers of one run: at most this much memory, registered or not. */
#define ARENA_MAX (4u << 20)

static void usage(void)
{
	fprintf(stderr,
	        "usage: demo read FILE [--qd N] [--n N] [--bs B] [--fixed] [--files] [--sqpoll]\n"
	        "                      [--iopoll] [--direct] [--ringfd] [--seed S]\n"
	        "       demo compare FILE [--qd N] [--n N] [--bs B] [--rounds R] [--buffered]\n"
	        "       demo memlock [MIB...]\n"
	        "       demo iopoll FILE\n"
	        "       demo mistakes\n");
	exit(2);
}

static unsigned long number(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX) {
		fprintf(stderr, "demo: %s wants a number, not '%s'\n", what, s);
		usage();
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of the whole process: every thread, the
 * kernel's SQ thread of a SQPOLL ring included (it is one of ours). */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* What -ret means, with a word about the usual causes. */
static const char *why(int ret)
{
	return ret == -ENOSYS ? " (not written yet? see the TODOs)"
	     : ret == -EPERM ? " (io_uring or SQPOLL refused: make doctor)"
	     : ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small? demo memlock, make doctor)"
	     : ret == -EOPNOTSUPP ? " (IOPOLL without poll queues: demo iopoll FILE)"
	     : ret == -EINVAL ? " (O_DIRECT alignment? bad argument?)" : "";
}

/* ------------------------------------------------------ the SQ thread */

/*
 * The kernel's SQ thread of a SQPOLL ring is a thread of this process named
 * "iou-sqp-PID" (/proc/self/task/TID/comm). Returns how many there are; the
 * first one's TID goes to *tid (0 if none).
 */
static int sq_threads(pid_t *tid)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int found = 0;

	*tid = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-sqp-", 8)) {
			if (!found)
				*tid = (pid_t)atoi(e->d_name);
			found++;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* CPU seconds of one thread of ours (/proc/self/task/TID/stat, fields 14
 * and 15 in clock ticks), or -1. */
static double thread_cpu_s(pid_t tid)
{
	char path[64], line[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	p = ok ? strrchr(line, ')') : NULL; /* comm may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	                 &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------ one run */

struct opts {
	unsigned qd;
	unsigned long n;
	size_t bs;
	unsigned flags;     /* UFIXED_SQPOLL, UFIXED_IOPOLL */
	bool fixed, files, direct, ringfd, quiet;
	unsigned long seed;
};

struct result {
	double secs, cpu, sq_cpu; /* sq_cpu: the SQ thread alone, -1 if none */
	pid_t sq_tid;             /* the SQ thread, 0 if none                  */
	unsigned long ok, shorter, failed;
	int first_err;
};

static uint64_t next_random(uint64_t *s)
{
	/* xorshift64*: good enough to scatter offsets, and reproducible. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void print_setup(const struct ufixed *u, const struct opts *o, int bslot, int fslot)
{
	const unsigned known = IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL |
			       IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

	printf("ring: %u SQ entries, %u CQ entries, setup flags 0x%x (%s%s%s%s%s)\n", u->sq_entries,
	       u->cq_entries, u->ring.flags,
	       u->ring.flags & IORING_SETUP_SQPOLL ? "SQPOLL " : "",
	       u->ring.flags & IORING_SETUP_IOPOLL ? "IOPOLL " : "",
	       u->ring.flags & IORING_SETUP_SINGLE_ISSUER ? "SINGLE_ISSUER " : "",
	       u->ring.flags & IORING_SETUP_DEFER_TASKRUN ? "DEFER_TASKRUN " : "",
	       u->ring.flags & known ? "" : "none");
	printf("tables: buffer %s, file %s, ring fd %s\n",
	       bslot >= 0 ? "registered in slot" : "not registered (plain IORING_OP_READ)",
	       fslot >= 0 ? "registered (IOSQE_FIXED_FILE)" : "not registered (the fd itself)",
	       o->ringfd ? "registered (io_uring_register_ring_fd)" : "not registered");
	if (bslot >= 0)
		printf("        buffer slot %d: %zu bytes at %p\n", bslot, u->bufs[bslot].iov_len,
		       u->bufs[bslot].iov_base);
	if (fslot >= 0)
		printf("        file slot %d: fd %d\n", fslot, u->files[fslot]);
}

/*
 * N random reads of o->bs bytes of FILE through ufixed_read(), batch after
 * batch on one ring, into one arena. Returns 0 or 1 (a message was printed).
 */
static int run_reads(const char *path, const struct opts *o, struct result *r)
{
	struct ufixed u;
	struct batch_req *reqs = NULL;
	struct stat st;
	void *arena = MAP_FAILED;
	size_t batch, pool, arena_len;
	unsigned long blocks, done = 0;
	uint64_t rnd = o->seed ? o->seed : 1;
	int fd, ret, bslot = -1, fslot = -1, status = 1;
	double t0, c0;

	memset(r, 0, sizeof(*r));
	r->sq_cpu = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
	if (fd < 0) {
		fprintf(stderr, "demo: %s: %s%s\n", path, strerror(errno),
		        o->direct && errno == EINVAL ? " (no O_DIRECT on this filesystem: tmpfs?)" : "");
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < o->bs) {
		fprintf(stderr, "demo: %s: not a regular file of at least %zu bytes\n", path, o->bs);
		goto close_fd;
	}
	blocks = (unsigned long)((size_t)st.st_size / o->bs);

	/* Requests per ufixed_read call: many windows' worth, because the
	 * window drains at the end of every call (with 8 windows a call, that
	 * tail cost about a tenth of the IOPS at qd 32 and 128 against fio,
	 * which never drains). The reads take turns with a pool of 4 windows'
	 * worth of buffers (request i reads into buffer i % pool), as fio reads
	 * into iodepth buffers: the demo throws the bytes away, so two reads
	 * that share a buffer do no harm here; anything that looks at the data
	 * gives each read a buffer of its own. At most ARENA_MAX of buffers. */
	batch = (size_t)o->qd * 64;
	if (batch < 1024)
		batch = 1024;
	if (batch > o->n)
		batch = o->n;
	pool = (size_t)o->qd * 4;
	if (pool * o->bs > ARENA_MAX)
		pool = ARENA_MAX / o->bs;
	if (pool > batch)
		pool = batch;
	if (pool == 0)
		pool = 1;
	arena_len = pool * o->bs;
	/* mmap: page-aligned (O_DIRECT) and anonymous (what registration wants). */
	arena = mmap(NULL, arena_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reqs = calloc(batch, sizeof(*reqs));
	if (arena == MAP_FAILED || !reqs) {
		fprintf(stderr, "demo: out of memory for %zu buffers of %zu bytes\n", pool, o->bs);
		goto free_mem;
	}

	ret = ufixed_init(&u, o->qd, o->flags);
	if (ret < 0) {
		fprintf(stderr, "demo: ufixed_init(%u, flags %u): %s%s\n", o->qd, o->flags,
		        strerror(-ret), why(ret));
		goto free_mem;
	}
	if (o->fixed) {
		bslot = ufixed_add_buffer(&u, arena, arena_len);
		if (bslot < 0) {
			fprintf(stderr, "demo: ufixed_add_buffer(%zu bytes): %s%s\n", arena_len,
			        strerror(-bslot), why(bslot));
			goto exit_ring;
		}
	}
	if (o->files) {
		fslot = ufixed_add_file(&u, fd);
		if (fslot < 0) {
			fprintf(stderr, "demo: ufixed_add_file(%d): %s%s\n", fd, strerror(-fslot),
			        why(fslot));
			goto exit_ring;
		}
	}
	if (o->ringfd) {
		ret = io_uring_register_ring_fd(&u.ring);
		if (ret < 0) {
			fprintf(stderr, "demo: io_uring_register_ring_fd: %s\n", strerror(-ret));
			goto exit_ring;
		}
	}
	if (!o->quiet) {
		print_setup(&u, o, bslot, fslot);
		printf("reads: %lu of %zu bytes at random offsets of %s (%lu blocks, %s), "
		       "qd %u, batches of %zu sharing %zu buffers, seed %lu\n", o->n, o->bs, path,
		       blocks, o->direct ? "O_DIRECT" : "buffered", o->qd, batch, pool, o->seed);
	}

	r->first_err = 0;
	t0 = now_s();
	c0 = cpu_s();
	while (done < o->n) {
		size_t k = o->n - done < batch ? o->n - done : batch;

		for (size_t i = 0; i < k; i++) {
			reqs[i].fd = fd;
			reqs[i].offset = (off_t)((next_random(&rnd) % blocks) * o->bs);
			reqs[i].len = o->bs;
			reqs[i].buf = (char *)arena + i % pool * o->bs;
			reqs[i].res = 0;
		}
		ret = ufixed_read(&u, reqs, k, o->qd);
		if (ret < 0) {
			fprintf(stderr, "demo: ufixed_read: %s%s\n", strerror(-ret), why(ret));
			goto exit_ring;
		}
		for (size_t i = 0; i < k; i++) {
			if (reqs[i].res == (ssize_t)o->bs) {
				r->ok++;
			} else if (reqs[i].res >= 0) {
				r->shorter++;
			} else {
				if (!r->failed)
					r->first_err = (int)reqs[i].res;
				r->failed++;
			}
		}
		done += k;
	}
	r->secs = now_s() - t0;
	r->cpu = cpu_s() - c0;
	/* Looked for now, not right after ufixed_init(): the kernel thread
	 * names itself iou-sqp-PID once it runs, a moment after the set-up.
	 * It was born with the ring, so its CPU time is all this run's. */
	if (sq_threads(&r->sq_tid))
		r->sq_cpu = thread_cpu_s(r->sq_tid);
	status = 0;
exit_ring:
	ufixed_exit(&u);
free_mem:
	free(reqs);
	if (arena != MAP_FAILED)
		munmap(arena, arena_len);
close_fd:
	close(fd);
	return status;
}

static void print_result(const struct opts *o, const struct result *r)
{
	printf("done: %lu reads in %.3f s: %.0f reads/s, %.1f MB/s\n", o->n, r->secs,
	       r->secs > 0 ? (double)o->n / r->secs : 0.0,
	       r->secs > 0 ? (double)r->ok * (double)o->bs / r->secs / 1e6 : 0.0);
	printf("results: %lu full, %lu short (end of file), %lu failed", r->ok, r->shorter,
	       r->failed);
	if (r->failed)
		printf(" (the first: %d %s%s)", r->first_err, strerror(-r->first_err),
		       why(r->first_err));
	printf("\n");
	printf("CPU: %.3f s for %.3f s of wall time (%.0f%% of one core), %.2f us per read\n",
	       r->cpu, r->secs, r->secs > 0 ? 100 * r->cpu / r->secs : 0.0,
	       o->n ? r->cpu * 1e6 / (double)o->n : 0.0);
	if (r->sq_tid)
		printf("SQ thread: iou-sqp-%d, thread %d of this process (/proc/%d/task/%d): "
		       "%.3f s of CPU (%.0f%% of one core); it sleeps after %u ms idle\n",
		       (int)getpid(), (int)r->sq_tid, (int)getpid(), (int)r->sq_tid, r->sq_cpu,
		       r->secs > 0 ? 100 * r->sq_cpu / r->secs : 0.0, UFIXED_SQ_IDLE_MS);
	else
		printf("SQ thread: none (the process submits with io_uring_enter itself)\n");
}

static int do_read(const char *path, const struct opts *o)
{
	struct result r;

	if (run_reads(path, o, &r))
		return 1;
	print_result(o, &r);
	if (r.failed == o->n) {
		printf("every read failed: %s\n", r.first_err == -EOPNOTSUPP
		       ? "IOPOLL needs O_DIRECT on a device with poll queues (demo iopoll FILE)"
		       : "see the error above");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ compare */

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ROUNDS_MAX 21
#define CONFIGS 4

static int compare(const char *path, struct opts o, unsigned rounds)
{
	static const struct {
		const char *name;
		unsigned flags;
		bool fixed;
	} cfg[CONFIGS] = {
		{ "plain", 0, false },
		{ "fixed", 0, true },
		{ "sqpoll", UFIXED_SQPOLL, false },
		{ "sqpoll+fixed", UFIXED_SQPOLL, true },
	};
	double iops[CONFIGS][ROUNDS_MAX], cpu[CONFIGS][ROUNDS_MAX], ratio[CONFIGS][ROUNDS_MAX];
	unsigned long seed0 = (unsigned long)time(NULL) % 100000 * 100 + 1;

	printf("compare: %lu random reads of %zu bytes, qd %u, %s, %u rounds; "
	       "the four set-ups take turns, a new order each round (seeds from %lu)\n",
	       o.n, o.bs, o.qd, o.direct ? "O_DIRECT" : "buffered", rounds, seed0);
	printf("round  %14s %14s %14s %14s   (reads/s)\n", cfg[0].name, cfg[1].name, cfg[2].name,
	       cfg[3].name);
	o.quiet = true;
	for (unsigned k = 0; k < rounds; k++) {
		/* Each round starts with another set-up: none always runs first. */
		for (unsigned j = 0; j < CONFIGS; j++) {
			unsigned c = (j + k) % CONFIGS;
			struct result r;

			o.flags = cfg[c].flags;
			o.fixed = o.files = cfg[c].fixed;
			/* Offsets no other run read: the host caches what one run
			 * read, and the next run of those offsets would look fast. */
			o.seed = seed0 + k * CONFIGS + c;
			if (run_reads(path, &o, &r))
				return 1;
			if (r.failed) {
				fprintf(stderr, "demo: %s: %lu reads failed (the first: %s)\n",
				        cfg[c].name, r.failed, strerror(-r.first_err));
				return 1;
			}
			iops[c][k] = (double)o.n / r.secs;
			cpu[c][k] = r.cpu * 1e6 / (double)o.n;
		}
		printf("%5u ", k + 1);
		for (unsigned c = 0; c < CONFIGS; c++) {
			ratio[c][k] = iops[c][k] / iops[0][k];
			printf(" %14.0f", iops[c][k]);
		}
		printf("\n");
	}
	printf("medians:\n");
	for (unsigned c = 0; c < CONFIGS; c++) {
		double i = median(iops[c], rounds), u = median(cpu[c], rounds);
		double x = median(ratio[c], rounds);

		printf("  %-13s %8.0f reads/s  x%.2f of plain  CPU %.2f us per read\n", cfg[c].name,
		       i, x, u);
	}
	printf("Ratios within about 10%% of 1.00 are noise on a shared VM: run it again.\n");
	return 0;
}

/* ------------------------------------------------------------ memlock */

/* VmPin of /proc/self/status in KiB: pages pinned by this process (registered
 * io_uring buffers, and on recent kernels the rings themselves), or -1. */
static long vm_pin_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void print_limit(const char *what, rlim_t v)
{
	if (v == RLIM_INFINITY)
		printf("%s unlimited", what);
	else
		printf("%s %llu KiB", what, (unsigned long long)v / 1024);
}

#define MEMLOCK_SIZES_MAX 8

static int memlock(int argc, char **argv)
{
	unsigned long mib[MEMLOCK_SIZES_MAX] = { 4, 16 };
	struct rlimit rl;
	struct ufixed u;
	int ret, count = argc > 0 ? argc : 2;

	if (count > MEMLOCK_SIZES_MAX)
		usage();
	for (int i = 0; i < argc; i++) {
		mib[i] = number(argv[i], "MIB");
		if (mib[i] == 0 || mib[i] > UFIXED_MAX_BUF_LEN >> 20) {
			fprintf(stderr, "demo: sizes from 1 to %u MiB\n", UFIXED_MAX_BUF_LEN >> 20);
			return 2;
		}
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		fprintf(stderr, "demo: getrlimit: %s\n", strerror(errno));
		return 1;
	}
	print_limit("RLIMIT_MEMLOCK: soft", rl.rlim_cur);
	print_limit(", hard", rl.rlim_max);
	printf(" (ulimit -l)\nuser: uid %d%s\n", (int)geteuid(),
	       geteuid() == 0 ? " (root: CAP_IPC_LOCK, nothing is charged to the limit)"
	                      : " (an ordinary user: pinned pages are charged to the limit)");
	printf("io_uring_mlock_size(64, 0) says %zd bytes (liburing 2.3 says 0: do not trust it)\n",
	       io_uring_mlock_size(64, 0));
	printf("VmPin before the ring: %ld KiB\n", vm_pin_kib());
	ret = ufixed_init(&u, 64, 0);
	if (ret < 0) {
		fprintf(stderr, "demo: ufixed_init(64): %s%s\n", strerror(-ret), why(ret));
		return 1;
	}
	printf("VmPin with a ring of 64 entries and empty tables: %ld KiB\n", vm_pin_kib());
	for (int i = 0; i < count; i++) {
		size_t len = (size_t)mib[i] << 20;
		void *mem;
		int slot;

		mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			fprintf(stderr, "demo: mmap %lu MiB: %s\n", mib[i], strerror(errno));
			ufixed_exit(&u);
			return 1;
		}
		slot = ufixed_add_buffer(&u, mem, len);
		if (slot >= 0) {
			printf("ufixed_add_buffer(%3lu MiB): slot %d; VmPin now %ld KiB\n", mib[i], slot,
			       vm_pin_kib());
			ret = ufixed_remove_buffer(&u, (unsigned)slot);
			if (ret < 0)
				printf("  ufixed_remove_buffer(%d): %s\n", slot, strerror(-ret));
			printf("  removed again; VmPin now %ld KiB\n", vm_pin_kib());
		} else {
			printf("ufixed_add_buffer(%3lu MiB): %d %s\n", mib[i], slot, strerror(-slot));
			if (slot == -ENOMEM)
				printf("  the pages to pin would pass RLIMIT_MEMLOCK (the ring counts too):"
				       " register less,\n  or raise the limit (ulimit -l up to the hard"
				       " limit; limits.conf or the service's LimitMEMLOCK= beyond it)\n");
		}
		munmap(mem, len);
	}
	ufixed_exit(&u);
	printf("VmPin after ufixed_exit: %ld KiB\n", vm_pin_kib());
	return 0;
}

/* ------------------------------------------------------------- iopoll */

/* The block device holding path (a partition's parent disk), as "vda", or
 * "" when there is none (tmpfs, overlay without a disk ...). */
static void disk_of(const char *path, char *name, size_t size)
{
	char link[256], target[512], *base;
	struct stat st;
	ssize_t len;

	name[0] = '\0';
	if (stat(path, &st) < 0)
		return;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return;
	target[len] = '\0';
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u/partition", major(st.st_dev),
	         minor(st.st_dev));
	if (access(link, F_OK) == 0) { /* a partition: its parent is the disk */
		base = strrchr(target, '/');
		if (base)
			*base = '\0';
	}
	base = strrchr(target, '/');
	snprintf(name, size, "%s", base ? base + 1 : target);
}

static int sys_value(const char *dev, const char *file, char *out, size_t size)
{
	char path[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/block/%s/%s", dev, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static void list_poll_queues(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	char v[64];

	printf("devices (/sys/block/*/queue/io_poll):");
	if (!d) {
		printf(" /sys/block unreadable\n");
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && sys_value(e->d_name, "queue/io_poll", v, sizeof(v)) == 0)
			printf(" %s=%s", e->d_name, v);
	closedir(d);
	printf("\n");
}

/* Four reads of FILE on the IOPOLL ring, with or without O_DIRECT. */
static int iopoll_reads(struct ufixed *u, const char *path, bool direct, void *arena)
{
	struct batch_req reqs[4];
	double t0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		printf("  %s: open: %s\n", direct ? "O_DIRECT" : "buffered", strerror(errno));
		return 0;
	}
	for (int i = 0; i < 4; i++)
		reqs[i] = (struct batch_req){ .fd = fd, .offset = (off_t)i * 4096, .len = 4096,
		                              .buf = (char *)arena + i * 4096 };
	t0 = now_s();
	ret = ufixed_read(u, reqs, 4, 4);
	printf("  %-8s 4 reads: ufixed_read returned %d after %.1f ms; res:",
	       direct ? "O_DIRECT" : "buffered", ret, (now_s() - t0) * 1e3);
	for (int i = 0; i < 4; i++)
		printf(" %zd", reqs[i].res);
	if (reqs[0].res < 0)
		printf(" (%s)", strerror((int)-reqs[0].res));
	printf("\n");
	close(fd);
	return ret;
}

static int iopoll(const char *path)
{
	char dev[512], v[64] = "?", pq[64] = "";
	struct ufixed u;
	void *arena;
	int ret;

	if (access(path, R_OK) < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
		return 1;
	}
	list_poll_queues();
	disk_of(path, dev, sizeof(dev));
	if (!dev[0]) {
		printf("%s: on no block device (tmpfs?): IOPOLL cannot work for it\n", path);
	} else {
		sys_value(dev, "queue/io_poll", v, sizeof(v));
		printf("%s is on /dev/%s: io_poll=%s (%s)\n", path, dev, v,
		       !strcmp(v, "1") ? "poll queues: IOPOLL can work with O_DIRECT"
		                       : "no poll queues: every IOPOLL read fails with EOPNOTSUPP");
	}
	if (access("/sys/module/nvme/parameters/poll_queues", R_OK) == 0) {
		FILE *f = fopen("/sys/module/nvme/parameters/poll_queues", "re");

		if (f && fgets(pq, sizeof(pq), f))
			printf("nvme.poll_queues=%s", pq);
		if (f)
			fclose(f);
	}
	arena = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED) {
		fprintf(stderr, "demo: mmap: %s\n", strerror(errno));
		return 1;
	}
	ret = ufixed_init(&u, 8, UFIXED_IOPOLL);
	if (ret < 0) {
		fprintf(stderr, "demo: ufixed_init(8, UFIXED_IOPOLL): %s%s\n", strerror(-ret), why(ret));
		munmap(arena, 4 * 4096);
		return 1;
	}
	printf("ring: %u SQ entries, setup flags 0x%x (IOPOLL)\n", u.sq_entries, u.ring.flags);
	ret = iopoll_reads(&u, path, true, arena);
	if (ret == 0)
		ret = iopoll_reads(&u, path, false, arena);
	ufixed_exit(&u);
	munmap(arena, 4 * 4096);
	printf("IOPOLL completes reads by polling the device's poll queues instead of waiting\n"
	       "for an interrupt: only O_DIRECT reads of a block device with poll queues\n"
	       "(NVMe booted with nvme.poll_queues=N) can be polled; everything else is\n"
	       "refused per request with EOPNOTSUPP (-95).\n");
	return ret < 0 ? 1 : 0;
}

/* ----------------------------------------------------------- mistakes */

/* One read on the raw ring; prints its CQE. */
static int one(struct io_uring *ring, const char *what, int fd, void *buf, unsigned len,
               int buf_index, bool fixed_file)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	if (buf_index >= 0)
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, buf_index);
	else
		io_uring_prep_read(sqe, fd, buf, len, 0);
	if (fixed_file)
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	printf("  %-58s res %4d %s\n", what, cqe->res,
	       cqe->res < 0 ? strerror(-cqe->res) : "bytes");
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

static int mistakes(void)
{
	char path[] = "/tmp/ufixed-demo-XXXXXX";
	struct io_uring ring, pring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 500000000 };
	struct iovec iov;
	char *arena = MAP_FAILED, other[4096];
	int fd, slot_fd, ret, step = 0;
	double t0;

	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "demo: mkstemp: %s\n", strerror(errno));
		return 1;
	}
	unlink(path);
	memset(other, 'x', sizeof(other));
	if (write(fd, other, sizeof(other)) != (ssize_t)sizeof(other)) {
		fprintf(stderr, "demo: write: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	arena = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED) {
		close(fd);
		return 1;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		fprintf(stderr, "demo: io_uring_queue_init: %s%s\n", strerror(-ret), why(ret));
		goto out;
	}
	/* Sparse tables of 4 slots; slot 0 of each filled, the others empty. */
	iov = (struct iovec){ .iov_base = arena, .iov_len = 65536 };
	ret = io_uring_register_buffers_sparse(&ring, 4);
	if (ret == 0)
		ret = io_uring_register_buffers_update_tag(&ring, 0, &iov, NULL, 1);
	if (ret >= 0)
		ret = io_uring_register_files_sparse(&ring, 4);
	slot_fd = fd;
	if (ret >= 0)
		ret = io_uring_register_files_update(&ring, 0, &slot_fd, 1);
	if (ret < 0) {
		fprintf(stderr, "demo: registering: %s%s\n", strerror(-ret), why(ret));
		goto exit_ring;
	}
	printf("a 4096-byte file (fd %d, file slot 0); a 64 KiB arena in buffer slot 0;"
	       " slots 1-3 empty\n", fd);
	printf("registered buffers:\n");
	ret = one(&ring, "read_fixed into the arena, buf_index 0", fd, arena, 4096, 0, false);
	if (!ret)
		ret = one(&ring, "read_fixed into the arena + 60 KiB, buf_index 0", fd,
		          arena + 61440, 4096, 0, false);
	if (!ret)
		ret = one(&ring, "read_fixed into the arena, buf_index 1 (an empty slot)", fd, arena,
		          4096, 1, false);
	if (!ret)
		ret = one(&ring, "read_fixed into the arena, buf_index 7 (no such slot)", fd, arena,
		          4096, 7, false);
	if (!ret)
		ret = one(&ring, "read_fixed into a stack buffer, buf_index 0", fd, other, 4096, 0,
		          false);
	if (!ret)
		ret = one(&ring, "read_fixed of 4096 at arena + 62 KiB (runs 2 KiB past)", fd,
		          arena + 63488, 4096, 0, false);
	printf("registered files (IOSQE_FIXED_FILE: the fd field is a slot):\n");
	if (!ret)
		ret = one(&ring, "fixed file, slot 0", 0, arena, 4096, -1, true);
	if (!ret) {
		char what[80];

		snprintf(what, sizeof(what), "fixed file, the fd number %d instead of slot 0", fd);
		ret = one(&ring, what, fd, arena, 4096, -1, true);
	}
	if (!ret)
		ret = one(&ring, "fixed file, slot 1 (empty)", 1, arena, 4096, -1, true);
	if (!ret) {
		close(fd);
		fd = -1;
		ret = one(&ring, "fixed file, slot 0, after close(fd)", 0, arena, 4096, -1, true);
	}
	step = 1;
exit_ring:
	io_uring_queue_exit(&ring);
	if (!step || ret < 0)
		goto out;

	printf("an IOPOLL ring with nothing in flight:\n");
	ret = io_uring_queue_init(4, &pring, IORING_SETUP_IOPOLL);
	if (ret < 0) {
		printf("  io_uring_queue_init(IOPOLL): %s\n", strerror(-ret));
		goto out;
	}
	t0 = now_s();
	ret = io_uring_wait_cqe_timeout(&pring, &cqe, &ts);
	printf("  io_uring_wait_cqe_timeout(500 ms): %d %s after %.1f ms\n", ret,
	       ret < 0 ? strerror(-ret) : "", (now_s() - t0) * 1e3);
	io_uring_queue_exit(&pring);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	munmap(arena, 65536);
	if (ret < 0)
		fprintf(stderr, "demo: mistakes: %s%s\n", strerror(-ret), why(ret));
	return ret < 0 ? 1 : 0;
}

/* --------------------------------------------------------------- main */

static void parse_read_opts(int argc, char **argv, int first, struct opts *o, unsigned *rounds)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (!strcmp(a, "--fixed") && !rounds)
			o->fixed = true;
		else if (!strcmp(a, "--files") && !rounds)
			o->files = true;
		else if (!strcmp(a, "--sqpoll") && !rounds)
			o->flags |= UFIXED_SQPOLL;
		else if (!strcmp(a, "--iopoll") && !rounds)
			o->flags |= UFIXED_IOPOLL;
		else if (!strcmp(a, "--direct") && !rounds)
			o->direct = true;
		else if (!strcmp(a, "--ringfd") && !rounds)
			o->ringfd = true;
		else if (!strcmp(a, "--buffered") && rounds)
			o->direct = false;
		else if (!strcmp(a, "--qd") && has_value)
			o->qd = (unsigned)number(argv[++i], "--qd");
		else if (!strcmp(a, "--n") && has_value)
			o->n = number(argv[++i], "--n");
		else if (!strcmp(a, "--bs") && has_value)
			o->bs = number(argv[++i], "--bs");
		else if (!strcmp(a, "--seed") && has_value && !rounds)
			o->seed = number(argv[++i], "--seed");
		else if (!strcmp(a, "--rounds") && has_value && rounds)
			*rounds = (unsigned)number(argv[++i], "--rounds");
		else
			usage();
	}
	if (o->qd == 0 || o->qd > 4096 || o->n == 0 || o->bs == 0 || o->bs > ARENA_MAX) {
		fprintf(stderr, "demo: 1 <= --qd <= 4096, --n >= 1, 1 <= --bs <= %u\n", ARENA_MAX);
		exit(2);
	}
	if (o->direct && o->bs % 512) {
		fprintf(stderr, "demo: O_DIRECT wants --bs a multiple of 512 (4096 is safe)\n");
		exit(2);
	}
	if (rounds && (*rounds == 0 || *rounds > ROUNDS_MAX)) {
		fprintf(stderr, "demo: 1 <= --rounds <= %d\n", ROUNDS_MAX);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct opts o = { .qd = 32, .n = 20000, .bs = 4096 };

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they happen, even in a pipe */
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "read") && argc >= 3) {
		o.seed = (unsigned long)time(NULL) % 100000 + 1;
		parse_read_opts(argc, argv, 3, &o, NULL);
		return do_read(argv[2], &o);
	}
	if (!strcmp(argv[1], "compare") && argc >= 3) {
		unsigned rounds = 5;

		o.direct = true;
		parse_read_opts(argc, argv, 3, &o, &rounds);
		return compare(argv[2], o, rounds);
	}
	if (!strcmp(argv[1], "memlock"))
		return memlock(argc - 2, argv + 2);
	if (!strcmp(argv[1], "iopoll") && argc == 3)
		return iopoll(argv[2]);
	if (!strcmp(argv[1], "mistakes") && argc == 2)
		return mistakes();
	usage();
}
