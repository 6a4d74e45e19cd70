/*
 * demo.c - chapter 10, the showdown: one workload through every interface.
 *
 *   demo probe [FILE] [--qd N] [--seccomp]
 *   demo read FILE [--backend NAME] [--qd N] [--reads N] [--bs B] [--batch N]
 *                  [--direct] [--warm] [--seed S] [--seccomp]
 *   demo showdown FILE [--backends A,B,...] [--qd N] [--reads N] [--bs B]
 *                  [--batch N] [--direct] [--warm] [--rounds R] [--seed S] [--seccomp]
 *
 * probe     opens FILE with your reader (rd_open) under each of the eight
 *           combinations of RD_DIRECT, RD_NO_URING and RD_NO_LIBAIO, and
 *           prints what it picked, whether the fd is O_DIRECT, rd_why(), and
 *           whether a few reads through it (rd_batch_read) match pread.
 *           Without FILE it makes a 1 MiB file in the current directory (in
 *           $TMPDIR or /tmp if it cannot) and removes it afterwards.
 * read      N (default 20000) reads of B bytes (default 4096) at random
 *           B-aligned offsets of FILE through ONE interface (--backend, below),
 *           at most --qd (default 32) in flight, in batch calls of --batch
 *           requests (default: as many as 4 MiB of buffers hold, at least
 *           qd) that reuse one arena of buffers. Prints the set-up time, IOPS,
 *           CPU time, voluntary and involuntary context switches per read
 *           (getrusage(2): every thread of the process, the kernel's io_uring
 *           workers and SQ thread included), and the threads the process had
 *           when the reads ended. One interface per process, so that
 *             strace -f -c DEMO read FILE --backend NAME ...
 *           counts that interface's system calls alone. --reads 0 sets the
 *           interface up and tears it down without reading: strace then shows
 *           what the set-up costs.
 * showdown  the same reads through every interface in turn (or those of
 *           --backends), R rounds (default 3), each round starting one
 *           interface further along, and one table of the medians, with each
 *           interface's IOPS as a ratio to the first one's in the same round.
 *
 * The interfaces (--backend):
 *   reader           your reader (rd_open with RD_DIRECT if --direct): its
 *                    own choice
 *   io_uring         your reader, which must pick io_uring   (chapter 06's module)
 *   libaio           your reader with RD_NO_URING, which must pick libaio
 *                    (chapter 02's module; always on O_DIRECT)
 *   threads          your reader with RD_NO_URING | RD_NO_LIBAIO: the pool
 *                    (chapter 03's module)
 *   blocking         chapter 01: pread, one read at a time
 *   posix-aio        chapter 03: glibc's POSIX aio
 *   libaio-buffered  chapter 02 on a page-cache fd (io_submit reads
 *                    synchronously: see it with strace -T)
 *   uring-serial     chapter 05: io_uring, one read per submit
 *   uring-fixed      chapter 08: io_uring on registered buffers and file
 *   sqpoll           chapter 08: the same on a SQPOLL ring
 *
 * --direct   open FILE with O_DIRECT (B must be a multiple of 4096)
 * --warm     read FILE once first, so that every read finds the page cache
 *            full; without it, a run on a page-cache fd first drops FILE's
 *            pages (posix_fadvise(2) POSIX_FADV_DONTNEED), so every run
 *            starts cold
 * --seccomp  first install a seccomp filter that fails io_uring_setup,
 *            io_uring_enter and io_uring_register with EPERM, as Docker's
 *            default profile does (25.0 and later): what a container sees
 *
 * Exit status: 0; 1 when something failed (said on stderr); 2 for bad
 * arguments (with the usage).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"      /* chapter 01 */
#include "reader.h"        /* this chapter; laio.h, paio.h, ubatch.h */
#include "ufixed.h"        /* chapter 08 */
#include "uring_basics.h"  /* chapter 05 */

/* The buffers of one run: at most this much memory (registered for
 * uring-fixed and sqpoll: an ordinary user's RLIMIT_MEMLOCK must hold it). */
#define ARENA_MAX (4u << 20)
#define QD_MAX 4096u
#define BATCH_MAX 65536u
#define BATCH_MEM_MAX (256u << 20)
#define MAX_ROUNDS 100u
#define PROBE_FILE_BYTES (1u << 20)

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr,
	        "usage: demo probe [FILE] [--qd N] [--seccomp]\n"
	        "       demo read FILE [--backend NAME] [--qd N] [--reads N] [--bs B] [--batch N]\n"
	        "                      [--direct] [--warm] [--seed S] [--seccomp]\n"
	        "       demo showdown FILE [--backends A,B,...] [--qd N] [--reads N] [--bs B]\n"
	        "                      [--batch N] [--direct] [--warm] [--rounds R] [--seed S] [--seccomp]\n"
	        "NAME: reader io_uring libaio threads (your reader), blocking posix-aio\n"
	        "      libaio-buffered uring-serial uring-fixed sqpoll (the course's modules)\n");
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

struct opts {
	const char *mode;      /* probe, read, showdown */
	const char *path;      /* FILE, or NULL (probe only) */
	const char *backend;   /* read: one interface */
	const char *backends;  /* showdown: a comma list, NULL for the default */
	unsigned qd, rounds;
	unsigned long reads, batch;   /* batch 0: as many as ARENA_MAX holds */
	size_t bs;
	uint64_t seed;
	bool direct, warm, seccomp;
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

static void parse(int argc, char **argv, struct opts *o)
{
	bool probe, read1;

	memset(o, 0, sizeof(*o));
	o->qd = 32;
	o->rounds = 3;
	o->reads = 20000;
	o->bs = 4096;
	o->seed = 1;
	o->backend = "reader";
	if (argc < 2)
		usage();
	o->mode = argv[1];
	probe = !strcmp(o->mode, "probe");
	read1 = !strcmp(o->mode, "read");
	if (!probe && !read1 && strcmp(o->mode, "showdown"))
		bad("no mode '%s' (probe, read or showdown)", o->mode);

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--direct") && !probe) {
			o->direct = true;
		} else if (!strcmp(a, "--warm") && !probe) {
			o->warm = true;
		} else if (!strcmp(a, "--seccomp")) {
			o->seccomp = true;
		} else if (a[0] == '-' && a[1] == '-') {
			bool ours = !strcmp(a, "--qd") || (!probe && (!strcmp(a, "--reads") ||
			            !strcmp(a, "--bs") || !strcmp(a, "--seed") || !strcmp(a, "--batch"))) ||
			            (read1 && !strcmp(a, "--backend")) ||
			            (!probe && !read1 && (!strcmp(a, "--backends") || !strcmp(a, "--rounds")));

			if (!ours)
				bad("no option %s here", a);
			if (!v)
				bad("%s needs a value", a);
			i++;
			if (!strcmp(a, "--qd"))
				o->qd = (unsigned)number(v, a, 1, QD_MAX);
			else if (!strcmp(a, "--reads"))
				o->reads = (unsigned long)number(v, a, read1 ? 0 : 1, 1ul << 32);
			else if (!strcmp(a, "--bs"))
				o->bs = (size_t)number(v, a, 1, ARENA_MAX);
			else if (!strcmp(a, "--batch"))
				o->batch = (unsigned long)number(v, a, 1, BATCH_MAX);
			else if (!strcmp(a, "--seed"))
				o->seed = number(v, a, 0, UINT64_MAX);
			else if (!strcmp(a, "--rounds"))
				o->rounds = (unsigned)number(v, a, 1, MAX_ROUNDS);
			else if (!strcmp(a, "--backend"))
				o->backend = v;
			else
				o->backends = v;
		} else if (o->path) {
			bad("one FILE only ('%s' is a second one)", a);
		} else {
			o->path = a;
		}
	}
	if (!o->path && !probe)
		bad("%s needs a FILE", o->mode);
	if (o->batch * o->bs > BATCH_MEM_MAX)
		bad("--batch %lu of %zu bytes is more than %u MiB of buffers", o->batch, o->bs,
		    BATCH_MEM_MAX >> 20);
	if (o->direct && o->bs % LAIO_DIO_ALIGN)
		bad("with --direct, --bs must be a multiple of %u (not %zu)", LAIO_DIO_ALIGN, o->bs);
	if (o->direct && o->warm)
		bad("--warm fills the page cache, which --direct bypasses: choose one");
}

/* ------------------------------------------------------------ the machine */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: enough to scatter offsets, and the same on every machine. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* The threads of this process now, and how many of them are the kernel's
 * io_uring workers (iou-wrk-PID: a request that could not be issued without
 * blocking, run by io-wq) and SQ threads (iou-sqp-PID). They are threads of
 * ours, listed in /proc/self/task, their CPU time in getrusage's. */
struct census {
	int tasks, iou_wrk, iou_sqp;
};

static void take_census(struct census *c)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	memset(c, 0, sizeof(*c));
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		c->tasks++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			c->iou_wrk += !strncmp(comm, "iou-wrk-", 8);
			c->iou_sqp += !strncmp(comm, "iou-sqp-", 8);
		}
		fclose(f);
	}
	closedir(d);
}

/* The filesystem FILE lives on, by name where we know it. */
static const char *fs_name(const char *path, char *buf, size_t len)
{
	static const struct { unsigned long magic; const char *name; } known[] = {
		{ EXT4_SUPER_MAGIC, "ext4" }, { XFS_SUPER_MAGIC, "xfs" },
		{ BTRFS_SUPER_MAGIC, "btrfs" }, { TMPFS_MAGIC, "tmpfs" },
		{ RAMFS_MAGIC, "ramfs" }, { PROC_SUPER_MAGIC, "proc" },
		{ SYSFS_MAGIC, "sysfs" }, { OVERLAYFS_SUPER_MAGIC, "overlayfs" },
		{ NFS_SUPER_MAGIC, "nfs" }, { FUSE_SUPER_MAGIC, "fuse" },
		{ V9FS_MAGIC, "9p" }, { F2FS_SUPER_MAGIC, "f2fs" },
	};
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return "an unknown filesystem";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((unsigned long)sf.f_type == known[i].magic)
			return known[i].name;
	snprintf(buf, len, "filesystem 0x%lx", (unsigned long)sf.f_type);
	return buf;
}

/* The first line of a file of /proc or /sys, without its newline, or "?". */
static const char *first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f || !fgets(buf, (int)len, f)) {
		if (f)
			fclose(f);
		return "?";
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* The Seccomp: field of /proc/self/status (0 none, 2 a filter), or "?". */
static const char *seccomp_mode(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256], val[32];

	snprintf(buf, len, "?");
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %31s", val) == 1) {
			snprintf(buf, len, "%s", val);
			break;
		}
	fclose(f);
	return buf;
}

static const char *errname(int neg_errno)
{
	const char *name = strerrorname_np(-neg_errno);

	return name ? name : "?";
}

/* ------------------------------------------------------------ --seccomp */

#if defined(__x86_64__)
#define DEMO_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define DEMO_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define DEMO_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif

/*
 * What Docker's default profile does to io_uring since 25.0: the three
 * system calls fail with EPERM, everything else goes on. A filter is
 * inherited by every thread made afterwards and cannot be removed, which is
 * why it is set up first, before any thread exists. seccomp(2) needs
 * no_new_privs from an unprivileged process.
 */
static int deny_io_uring(void)
{
#ifdef DEMO_AUDIT_ARCH
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DEMO_AUDIT_ARCH, 1, 0),
		/* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		/* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
#else
	return -ENOSYS;
#endif
}

/* ------------------------------------------------------------ interfaces */

enum kind { K_READER, K_BLOCKING, K_PAIO, K_LAIO_BUFFERED, K_SERIAL, K_FIXED, K_SQPOLL };

struct iface {
	const char *name;       /* --backend NAME */
	const char *chapter;
	const char *how;
	enum kind kind;
	unsigned rd_flags;      /* K_READER: rd_open's flags (RD_DIRECT aside) */
	enum rd_backend want;   /* K_READER: what it must pick (0: anything) */
};

static const struct iface IFACES[] = {
	{ "reader", "10", "your reader, its own choice", K_READER, 0, 0 },
	{ "blocking", "01", "pread, one read at a time", K_BLOCKING, 0, 0 },
	{ "posix-aio", "03", "glibc POSIX aio (helper threads)", K_PAIO, 0, 0 },
	{ "threads", "10", "your reader: the thread pool", K_READER, RD_NO_URING | RD_NO_LIBAIO, RD_THREADS },
	{ "libaio-buffered", "02", "libaio on the page cache", K_LAIO_BUFFERED, 0, 0 },
	{ "libaio", "10", "your reader: libaio", K_READER, RD_NO_URING, RD_LIBAIO },
	{ "uring-serial", "05", "io_uring, one read per submit", K_SERIAL, 0, 0 },
	{ "io_uring", "10", "your reader: io_uring, batched", K_READER, 0, RD_IO_URING },
	{ "uring-fixed", "08", "io_uring, registered buffers+file", K_FIXED, 0, 0 },
	{ "sqpoll", "08", "io_uring, SQPOLL + registered", K_SQPOLL, 0, 0 },
};
#define NIFACES (sizeof(IFACES) / sizeof(IFACES[0]))

static const struct iface *find_iface(const char *name, size_t len)
{
	for (size_t i = 0; i < NIFACES; i++)
		if (strlen(IFACES[i].name) == len && !strncmp(IFACES[i].name, name, len))
			return &IFACES[i];
	return NULL;
}

/* One interface, set up on FILE for one run. */
struct session {
	const struct iface *ifc;
	struct reader *r;       /* K_READER */
	struct ufixed u;        /* K_FIXED, K_SQPOLL: u.live once set up */
	int fd;                 /* what every request names */
	bool own_fd;            /* opened here, not by the reader */
	bool direct;
	char how[320];          /* what was set up, or why it could not be */
};

/* Open FILE for a module that takes any fd. */
static int open_file(struct session *s, const char *path, bool direct)
{
	s->fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (s->fd < 0) {
		int e = errno;

		snprintf(s->how, sizeof(s->how), "%s: %s%s", path, strerror(e),
		         direct && e == EINVAL ? " (this filesystem refuses O_DIRECT)" : "");
		return -e;
	}
	s->own_fd = true;
	s->direct = direct;
	return 0;
}

static void close_session(struct session *s)
{
	if (s->r)
		rd_close(s->r);
	s->r = NULL;
	if (s->u.live)
		ufixed_exit(&s->u);
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->own_fd = false;
}

static int open_reader(struct session *s, const char *path, const struct opts *o)
{
	unsigned flags = s->ifc->rd_flags | (o->direct ? RD_DIRECT : 0);
	int ret = rd_open(&s->r, path, o->qd, flags);

	if (ret < 0) {
		s->r = NULL;
		snprintf(s->how, sizeof(s->how), "rd_open: %s%s", strerror(-ret),
		         ret == -ENOSYS ? " (not written yet? the TODOs of reader.c)" : "");
		return ret;
	}
	s->fd = rd_fd(s->r);
	s->direct = rd_direct(s->r) != 0;
	if (s->ifc->want && rd_backend(s->r) != s->ifc->want) {
		snprintf(s->how, sizeof(s->how), "the reader took %s, not %s: %s",
		         rd_backend_name(rd_backend(s->r)), rd_backend_name(s->ifc->want), rd_why(s->r));
		return -EOPNOTSUPP;
	}
	if (s->direct && o->bs % LAIO_DIO_ALIGN) {
		snprintf(s->how, sizeof(s->how), "the reader's fd is O_DIRECT: --bs must be a multiple of %u",
		         LAIO_DIO_ALIGN);
		return -EINVAL;
	}
	snprintf(s->how, sizeof(s->how), "rd_open: %s", rd_why(s->r));
	return 0;
}

/* uring-fixed and sqpoll: a ring, the arena registered as one buffer and
 * FILE's fd as one file, kept for the whole run. */
static int open_fixed(struct session *s, const char *path, const struct opts *o,
                      void *arena, size_t arena_len)
{
	unsigned entries = o->qd < UFIXED_MAX_ENTRIES ? o->qd : UFIXED_MAX_ENTRIES;
	unsigned flags = s->ifc->kind == K_SQPOLL ? UFIXED_SQPOLL : 0;
	const char *what = "ufixed_init";
	int ret = open_file(s, path, o->direct);

	if (ret < 0)
		return ret;
	ret = ufixed_init(&s->u, entries, flags);
	if (ret == 0) {
		what = "ufixed_add_buffer";
		ret = ufixed_add_buffer(&s->u, arena, arena_len);
	}
	if (ret >= 0) {
		what = "ufixed_add_file";
		ret = ufixed_add_file(&s->u, s->fd);
	}
	if (ret < 0) {
		snprintf(s->how, sizeof(s->how), "%s: %s%s", what, strerror(-ret),
		         ret == -ENOMEM ? " (RLIMIT_MEMLOCK: ulimit -l)" :
		         ret == -EPERM ? " (io_uring refused: seccomp or kernel.io_uring_disabled)" : "");
		return ret;
	}
	snprintf(s->how, sizeof(s->how), "ring of %u entries%s, %zu KiB of buffers and the fd registered",
	         s->u.sq_entries, flags ? " with SQPOLL" : "", arena_len >> 10);
	return 0;
}

/* Set up one interface. 0, or -errno with s->how saying what failed. */
static int open_session(struct session *s, const struct iface *ifc, const char *path,
                        const struct opts *o, void *arena, size_t arena_len)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->ifc = ifc;
	s->fd = -1;
	switch (ifc->kind) {
	case K_READER:
		return open_reader(s, path, o);
	case K_FIXED:
	case K_SQPOLL:
		return open_fixed(s, path, o, arena, arena_len);
	case K_LAIO_BUFFERED:
		if (o->direct) {
			snprintf(s->how, sizeof(s->how), "reads the page cache: not with --direct");
			return -EINVAL;
		}
		break;
	case K_BLOCKING:
	case K_PAIO:
	case K_SERIAL:
		break;
	}
	ret = open_file(s, path, o->direct);
	if (ret < 0)
		return ret;
	snprintf(s->how, sizeof(s->how), "%s; nothing set up before the first batch",
	         ifc->kind == K_SERIAL ? "a small ring per batch" :
	         ifc->kind == K_LAIO_BUFFERED ? "an AIO context per batch" :
	         ifc->kind == K_PAIO ? "glibc starts helper threads on demand" : "the fd alone");
	return 0;
}

static int batch_read(struct session *s, struct batch_req *reqs, size_t n, unsigned qd)
{
	switch (s->ifc->kind) {
	case K_READER:
		return rd_batch_read(s->r, reqs, n);
	case K_BLOCKING:
		return blk_batch_read(reqs, n, qd);
	case K_PAIO:
		return paio_batch_read(reqs, n, qd);
	case K_LAIO_BUFFERED:
		return laio_batch_read(reqs, n, qd);
	case K_SERIAL:
		return uring_serial_batch_read(reqs, n, qd);
	case K_FIXED:
	case K_SQPOLL:
		return ufixed_read(&s->u, reqs, n, qd);
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ one run */

struct result {
	bool ran;               /* false: s.how says why not */
	bool direct;
	double setup_us, secs, cpu_s;
	long nvcsw, nivcsw;
	unsigned long full, shorter, failed;
	int first_err;          /* the first failed read's -errno, or the batch's */
	struct census census;   /* when the reads ended */
	char how[320];
};

static double cpu_of(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* The arena and the requests of one run: batch x bs bytes, page-aligned
 * (O_DIRECT) and anonymous (what registration wants). */
struct arena {
	void *mem;
	size_t len, batch;
	struct batch_req *reqs;
};

/* Requests per batch call: --batch, or as many as ARENA_MAX holds and at
 * least one window (every call drains its window at the end, so a larger
 * batch keeps qd reads in flight longer; and whatever an interface sets up
 * per call, chapter 02's AIO context or chapter 05's ring, is paid once per
 * batch). */
static size_t batch_size(const struct opts *o)
{
	size_t batch = o->batch ? o->batch : ARENA_MAX / o->bs;

	if (!o->batch && batch < o->qd)
		batch = o->qd;
	if (o->reads && batch > o->reads)
		batch = o->reads;
	return batch ? batch : 1;
}

static int arena_get(struct arena *a, const struct opts *o)
{
	size_t batch = batch_size(o);

	a->batch = batch;
	a->len = batch * o->bs;
	a->mem = mmap(NULL, a->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a->reqs = calloc(batch, sizeof(*a->reqs));
	if (a->mem == MAP_FAILED || !a->reqs) {
		if (a->mem != MAP_FAILED)
			munmap(a->mem, a->len);
		free(a->reqs);
		return -ENOMEM;
	}
	return 0;
}

static void arena_put(struct arena *a)
{
	munmap(a->mem, a->len);
	free(a->reqs);
}

/* The reads of one run, already set up. Returns 0 or the batch's -errno. */
static int do_reads(struct session *s, const struct opts *o, struct arena *a, off_t size,
                    uint64_t seed, struct result *r)
{
	uint64_t blocks = (uint64_t)size / o->bs, rng = seed ? seed : 1;
	unsigned long done = 0;
	struct rusage ru0, ru1;
	double t0;
	int ret = 0;

	/* A cold start on the page cache, unless --warm asked for a full one
	 * (O_DIRECT does not look at the cache). */
	if (!s->direct && !o->warm)
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_DONTNEED);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_s();
	while (done < o->reads) {
		size_t n = o->reads - done < a->batch ? o->reads - done : a->batch;

		for (size_t i = 0; i < n; i++) {
			a->reqs[i].fd = s->fd;
			a->reqs[i].offset = (off_t)((next_random(&rng) % blocks) * o->bs);
			a->reqs[i].len = o->bs;
			a->reqs[i].buf = (char *)a->mem + i * o->bs;
			a->reqs[i].res = 0;
		}
		ret = batch_read(s, a->reqs, n, o->qd);
		if (ret < 0)
			break;
		for (size_t i = 0; i < n; i++) {
			if (a->reqs[i].res == (ssize_t)o->bs) {
				r->full++;
			} else if (a->reqs[i].res >= 0) {
				r->shorter++;
			} else {
				if (!r->failed++)
					r->first_err = (int)a->reqs[i].res;
			}
		}
		done += n;
	}
	r->secs = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	take_census(&r->census);
	r->cpu_s = cpu_of(&ru1) - cpu_of(&ru0);
	r->nvcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	r->nivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	return ret;
}

/* One run of one interface on FILE: set up, read, tear down. Returns 0,
 * or -errno with r->how saying what went wrong (r->ran says whether reads
 * were made). */
static int run_one(const struct iface *ifc, const char *path, const struct opts *o, off_t size,
                   uint64_t seed, struct result *r)
{
	struct session s;
	struct arena a;
	double t0;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = arena_get(&a, o);
	if (ret < 0) {
		snprintf(r->how, sizeof(r->how), "no memory for %u x %zu bytes of buffers", o->qd, o->bs);
		return ret;
	}
	t0 = now_s();
	ret = open_session(&s, ifc, path, o, a.mem, a.len);
	r->setup_us = (now_s() - t0) * 1e6;
	memcpy(r->how, s.how, sizeof(r->how));
	if (ret == 0) {
		r->ran = true;
		r->direct = s.direct;
		ret = do_reads(&s, o, &a, size, seed, r);
		if (ret < 0) {
			r->first_err = ret;
			snprintf(r->how, sizeof(r->how), "the batch failed: %s", strerror(-ret));
		}
	}
	close_session(&s);
	arena_put(&a);
	return ret;
}

/* FILE's size, checked: a regular file of at least one block. */
static int file_size(const char *path, size_t bs, off_t *size)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < bs) {
		fprintf(stderr, "demo: %s: not a regular file of at least %zu bytes (make one: "
		        "dd if=/dev/urandom of=%s bs=1M count=256)\n", path, bs, path);
		return -1;
	}
	*size = st.st_size;
	return 0;
}

/* --warm: read FILE once, so that the page cache holds it. */
static int warm_up(const char *path)
{
	char *buf = malloc(1u << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0;

	if (fd >= 0 && buf)
		while ((got = read(fd, buf, 1u << 20)) > 0 || (got < 0 && errno == EINTR))
			;
	if (fd < 0 || !buf || got < 0)
		fprintf(stderr, "demo: --warm: %s: %s\n", path, strerror(buf ? errno : ENOMEM));
	free(buf);
	if (fd >= 0)
		close(fd);
	return fd < 0 || got < 0 ? -1 : 0;
}

static const char *fd_kind(bool direct)
{
	return direct ? "O_DIRECT" : "cache";
}

/* ------------------------------------------------------------ read */

static int do_read(const struct opts *o)
{
	const struct iface *ifc = find_iface(o->backend, strlen(o->backend));
	struct result r;
	off_t size;
	char fsb[64];
	int ret;

	if (!ifc)
		bad("no interface '%s'", o->backend);
	if (file_size(o->path, o->bs, &size) < 0)
		return 1;
	if (o->warm && warm_up(o->path) < 0)
		return 1;
	ret = run_one(ifc, o->path, o, size, o->seed, &r);
	if (!r.ran) {
		fprintf(stderr, "demo: %s (chapter %s) cannot run here: %s\n", ifc->name, ifc->chapter, r.how);
		return 1;
	}
	printf("interface: %s (chapter %s: %s), fd %s\n", ifc->name, ifc->chapter, ifc->how,
	       fd_kind(r.direct));
	printf("set up in %.0f us: %s\n", r.setup_us, r.how);
	if (o->reads == 0) {
		printf("no reads (--reads 0): set-up and tear-down only\n");
		return ret < 0;
	}
	printf("reads: %lu of %zu bytes at random offsets of %s (%s, %lld blocks), qd %u,\n"
	       "  batches of %zu, seed %" PRIu64 "%s\n", o->reads, o->bs, o->path,
	       fs_name(o->path, fsb, sizeof(fsb)), (long long)(size / (off_t)o->bs), o->qd, batch_size(o),
	       o->seed, r.direct ? "" : o->warm ? ", page cache warm" : ", page cache dropped first");
	if (ret < 0) {
		fprintf(stderr, "demo: %s: the batch failed: %s\n", ifc->name, strerror(-ret));
		return 1;
	}
	printf("done: %lu reads in %.3f s: %.0f IOPS, %.1f MiB/s\n", o->reads, r.secs,
	       r.secs > 0 ? (double)o->reads / r.secs : 0.0,
	       r.secs > 0 ? (double)r.full * (double)o->bs / r.secs / (1 << 20) : 0.0);
	printf("results: %lu full, %lu short, %lu failed", r.full, r.shorter, r.failed);
	if (r.failed)
		printf(" (the first: %s, %s)", errname(r.first_err), strerror(-r.first_err));
	printf("\n");
	printf("CPU: %.3f s, %.2f us per read (user + system, every thread of the process)\n", r.cpu_s,
	       r.cpu_s * 1e6 / (double)o->reads);
	printf("context switches per read: %.3f voluntary, %.3f involuntary (%ld and %ld)\n",
	       (double)r.nvcsw / (double)o->reads, (double)r.nivcsw / (double)o->reads, r.nvcsw, r.nivcsw);
	printf("threads when the reads ended: %d (%d iou-wrk, %d iou-sqp)\n", r.census.tasks,
	       r.census.iou_wrk, r.census.iou_sqp);
	printf("system calls: strace -f -c -o FILE.strace <this command>, then divide by %lu\n", o->reads);
	return r.failed ? 1 : 0;
}

/* ------------------------------------------------------------ showdown */

/* One interface's figures, round by round. */
struct row {
	const struct iface *ifc;
	bool ok[MAX_ROUNDS];    /* the round's run read everything */
	double iops[MAX_ROUNDS], ratio[MAX_ROUNDS], cpu_us[MAX_ROUNDS];
	double vcs[MAX_ROUNDS], ics[MAX_ROUNDS], setup_us[MAX_ROUNDS];
	unsigned good;          /* rounds ok */
	int most_wrk;           /* the most iou-wrk threads a run ended with */
	struct result last;     /* the last run, for what is not a median */
};

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[i] over the rounds that were ok. */
static double median(const double *v, const bool *ok, unsigned rounds)
{
	double tmp[MAX_ROUNDS];
	unsigned n = 0;

	for (unsigned i = 0; i < rounds; i++)
		if (ok[i])
			tmp[n++] = v[i];
	if (n == 0)
		return 0;
	qsort(tmp, n, sizeof(tmp[0]), by_value);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* The interfaces of a showdown: --backends, or every one that fits. */
static size_t pick_ifaces(const struct opts *o, struct row *rows)
{
	size_t k = 0;

	if (!o->backends) {
		for (size_t i = 0; i < NIFACES; i++) {
			if (IFACES[i].kind == K_READER && !IFACES[i].want)
				continue;   /* the reader's own choice is one of the others */
			if (IFACES[i].kind == K_LAIO_BUFFERED && o->direct)
				continue;
			rows[k++].ifc = &IFACES[i];
		}
		return k;
	}
	for (const char *p = o->backends; *p;) {
		size_t len = strcspn(p, ",");
		const struct iface *ifc = find_iface(p, len);

		if (!ifc)
			bad("no interface '%.*s'", (int)(len < 40 ? len : 40), p);
		if (k == NIFACES)
			bad("--backends names more than %zu interfaces", NIFACES);
		rows[k++].ifc = ifc;
		p += len + (p[len] == ',');
	}
	if (k == 0)
		bad("--backends names no interface");
	return k;
}

static void record(struct row *w, unsigned round, const struct result *r, const struct opts *o)
{
	w->last = *r;
	if (r->census.iou_wrk > w->most_wrk)
		w->most_wrk = r->census.iou_wrk;
	if (!r->ran || r->first_err || r->failed || r->secs <= 0)
		return;
	w->ok[round] = true;
	w->good++;
	w->iops[round] = (double)o->reads / r->secs;
	w->cpu_us[round] = r->cpu_s * 1e6 / (double)o->reads;
	w->vcs[round] = (double)r->nvcsw / (double)o->reads;
	w->ics[round] = (double)r->nivcsw / (double)o->reads;
	w->setup_us[round] = r->setup_us;
}

static void print_row(const struct row *w, const struct opts *o)
{
	const struct result *r = &w->last;

	if (w->good == 0) {
		printf("  %-16s %-3s not run: %s\n", w->ifc->name, w->ifc->chapter,
		       r->ran && r->failed ? "some reads failed" : r->how);
		return;
	}
	printf("  %-16s %-3s %-9s %8.0f %6.2f %9.2f %8.3f %8.3f %8d %8.0f", w->ifc->name,
	       w->ifc->chapter, fd_kind(r->direct), median(w->iops, w->ok, o->rounds),
	       median(w->ratio, w->ok, o->rounds), median(w->cpu_us, w->ok, o->rounds),
	       median(w->vcs, w->ok, o->rounds), median(w->ics, w->ok, o->rounds), r->census.tasks,
	       median(w->setup_us, w->ok, o->rounds));
	if (w->good < o->rounds)
		printf("  (%u of %u rounds)", w->good, o->rounds);
	printf("\n");
}

static int do_showdown(const struct opts *o)
{
	struct row *rows = calloc(NIFACES, sizeof(*rows));
	unsigned long run = 0;
	int failed = 0;
	off_t size;
	char fsb[64];
	size_t k;

	if (!rows) {
		fprintf(stderr, "demo: out of memory\n");
		return 1;
	}
	k = pick_ifaces(o, rows);
	if (file_size(o->path, o->bs, &size) < 0 || (o->warm && warm_up(o->path) < 0)) {
		free(rows);
		return 1;
	}
	printf("showdown: %s (%s, %lld MiB), %lu random reads of %zu bytes a run in batches of %zu,\n"
	       "qd %u, %s, %u round%s\n", o->path, fs_name(o->path, fsb, sizeof(fsb)),
	       (long long)(size >> 20), o->reads, o->bs, batch_size(o), o->qd,
	       o->direct ? "O_DIRECT" : o->warm ? "page cache warm" : "page cache dropped before each run",
	       o->rounds, o->rounds == 1 ? "" : "s");
	printf("each round runs every interface once, starting one further along each time; every run\n"
	       "reads other blocks (seed %" PRIu64 " + run number); figures are medians of the rounds; ratio:\n"
	       "IOPS over the IOPS of the first interface in the same round\n", o->seed);

	for (unsigned round = 0; round < o->rounds; round++) {
		double first = 0;

		for (size_t j = 0; j < k; j++) {
			size_t i = (j + round) % k;
			struct result r;

			run_one(rows[i].ifc, o->path, o, size, o->seed + run++, &r);
			record(&rows[i], round, &r, o);
		}
		for (size_t i = 0; i < k && first == 0; i++)
			if (rows[i].ok[round])
				first = rows[i].iops[round];
		for (size_t i = 0; i < k; i++)
			if (rows[i].ok[round])
				rows[i].ratio[round] = rows[i].iops[round] / first;
	}

	printf("\n  %-16s %-3s %-9s %8s %6s %9s %8s %8s %8s %8s\n", "interface", "ch", "fd", "IOPS",
	       "ratio", "CPU us/rd", "vcs/rd", "ics/rd", "threads", "setup us");
	for (size_t i = 0; i < k; i++) {
		print_row(&rows[i], o);
		failed |= rows[i].good < o->rounds;
	}
	printf("\n  kernel io_uring workers (iou-wrk) when the reads ended:");
	for (size_t i = 0, any = 0; i < k; i++) {
		if (rows[i].most_wrk)
			printf("%s %s %d", any++ ? "," : "", rows[i].ifc->name, rows[i].most_wrk);
		if (i == k - 1 && !any)
			printf(" none");
	}
	printf("\n  vcs/rd, ics/rd: voluntary and involuntary context switches per read (getrusage);\n"
	       "  threads: the process's threads when the last run's reads ended (glibc's POSIX aio\n"
	       "  helpers stay 1 s after their last read: the run after posix-aio may count one);\n"
	       "  setup: before the first read. System calls per read: one interface at a time\n"
	       "  under strace -f -c (demo read FILE --backend NAME ...)\n");
	free(rows);
	return failed;
}

/* ------------------------------------------------------------ probe */

/* "RD_NO_URING|RD_DIRECT", or "0". */
static const char *flags_name(unsigned f, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ RD_NO_URING, "RD_NO_URING" }, { RD_NO_LIBAIO, "RD_NO_LIBAIO" }, { RD_DIRECT, "RD_DIRECT" },
	};
	size_t at = 0;

	snprintf(buf, len, "0");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((f & names[i].bit) && at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "|" : "", names[i].name);
	return buf;
}

/* RLIMIT_MEMLOCK's soft limit in KiB, or "unlimited". */
static const char *memlock_kib(char *buf, size_t len)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur >> 10);
	return buf;
}

/* A few reads through the reader, compared with pread on a page-cache fd:
 * "ok", or what differed. */
static const char *check_reads(struct reader *r, const char *path, char *msg, size_t len)
{
	enum { N = 4, BS = 4096 };
	struct batch_req reqs[N];
	char *mem = mmap(NULL, 2 * N * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	snprintf(msg, len, "ok");
	if (mem == MAP_FAILED || fd < 0) {
		snprintf(msg, len, "not checked: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < N; i++)
		reqs[i] = (struct batch_req){ .fd = rd_fd(r), .offset = (off_t)i * BS, .len = BS,
		                              .buf = mem + i * BS, .res = -1 };
	ret = rd_batch_read(r, reqs, N);
	for (int i = 0; ret == 0 && i < N; i++) {
		ssize_t want = pread(fd, mem + (N + i) * BS, BS, (off_t)i * BS);

		if (reqs[i].res != want || (want > 0 && memcmp(mem + i * BS, mem + (N + i) * BS, (size_t)want))) {
			snprintf(msg, len, "WRONG: read %d gave %zd, pread %zd", i, reqs[i].res, want);
			break;
		}
	}
	if (ret < 0)
		snprintf(msg, len, "FAILED: rd_batch_read %s", errname(ret));
out:
	if (mem != MAP_FAILED)
		munmap(mem, 2 * N * BS);
	if (fd >= 0)
		close(fd);
	return msg;
}

/* probe without FILE: a file of our own, where the learner works. */
static int make_probe_file(char *path, size_t len)
{
	const char *dirs[] = { ".", getenv("TMPDIR"), "/tmp" };
	char *data = malloc(PROBE_FILE_BYTES);
	uint64_t rng = 1;
	int fd = -1;

	if (!data)
		return -1;
	for (size_t i = 0; i < PROBE_FILE_BYTES / 8; i++) {
		uint64_t v = next_random(&rng);

		memcpy(data + i * 8, &v, 8);
	}
	for (size_t i = 0; i < 3 && fd < 0; i++) {
		if (!dirs[i])
			continue;
		snprintf(path, len, "%s/demo-probe-XXXXXX", dirs[i]);
		fd = mkostemp(path, O_CLOEXEC);
	}
	if (fd >= 0 && write(fd, data, PROBE_FILE_BYTES) != (ssize_t)PROBE_FILE_BYTES) {
		close(fd);
		unlink(path);
		fd = -1;
	}
	free(data);
	if (fd < 0) {
		fprintf(stderr, "demo: cannot make a file to probe (give one: demo probe FILE)\n");
		return -1;
	}
	close(fd);
	return 0;
}

static int do_probe(const struct opts *o)
{
	/* Every combination, the reader's own choice first. */
	static const unsigned combos[] = {
		0, RD_DIRECT, RD_NO_URING, RD_NO_URING | RD_DIRECT, RD_NO_LIBAIO, RD_NO_LIBAIO | RD_DIRECT,
		RD_NO_URING | RD_NO_LIBAIO, RD_NO_URING | RD_NO_LIBAIO | RD_DIRECT,
	};
	char made[4096] = "", fsb[64], lim[32], dis[32], sec[32], nr[32], max[32], uts[64], fl[64];
	const char *path = o->path;
	int failed = 0;

	if (!path) {
		if (make_probe_file(made, sizeof(made)) < 0)
			return 1;
		path = made;
	}
	printf("probe: %s (%s%s), qd %u\n", path, fs_name(path, fsb, sizeof(fsb)),
	       made[0] ? ", 1 MiB made for the probe, removed after" : "", o->qd);
	printf("  the machine as the reader meets it: euid %d, RLIMIT_MEMLOCK %s KiB,\n"
	       "  kernel.io_uring_disabled %s, Seccomp %s, fs.aio-nr %s of %s; uname says %s,\n"
	       "  which the reader never reads\n", (int)geteuid(), memlock_kib(lim, sizeof(lim)),
	       first_line("/proc/sys/kernel/io_uring_disabled", dis, sizeof(dis)), seccomp_mode(sec, sizeof(sec)),
	       first_line("/proc/sys/fs/aio-nr", nr, sizeof(nr)), first_line("/proc/sys/fs/aio-max-nr", max, sizeof(max)),
	       first_line("/proc/sys/kernel/osrelease", uts, sizeof(uts)));
	printf("\n  %-35s %-9s %-9s %-6s %s\n", "rd_open flags", "picks", "fd", "reads", "rd_why");
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct reader *r = NULL;
		char msg[128];
		int ret = rd_open(&r, path, o->qd, combos[i]);

		if (ret < 0) {
			failed = 1;
			printf("  %-35s rd_open: %s (%s)\n", flags_name(combos[i], fl, sizeof(fl)), strerror(-ret),
			       errname(ret));
			continue;
		}
		check_reads(r, path, msg, sizeof(msg));
		failed |= strcmp(msg, "ok") != 0;
		printf("  %-35s %-9s %-9s %-6s %s\n", flags_name(combos[i], fl, sizeof(fl)),
		       rd_backend_name(rd_backend(r)), fd_kind(rd_direct(r)), msg, rd_why(r));
		rd_close(r);
	}
	if (made[0])
		unlink(made);
	return failed;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct opts o;
	int ret;

	parse(argc, argv, &o);
	/* Before anything else, so that every thread inherits the filter. */
	if (o.seccomp) {
		ret = deny_io_uring();
		if (ret < 0) {
			fprintf(stderr, "demo: --seccomp: %s\n", ret == -ENOSYS
			        ? "not built for this architecture" : strerror(-ret));
			return 1;
		}
		printf("seccomp: io_uring_setup, io_uring_enter and io_uring_register now fail with EPERM in "
		       "this process, as in a container with Docker's default profile\n");
	}
	if (!strcmp(o.mode, "probe"))
		return do_probe(&o);
	if (!strcmp(o.mode, "read"))
		return do_read(&o);
	return do_showdown(&o);
}
