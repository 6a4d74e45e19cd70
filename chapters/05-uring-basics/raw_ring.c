/*
 * raw_ring.c - io_uring with no liburing at all: the three system calls,
 * the three mmaps and the memory ordering, in one small cat.
 *
 *     raw_ring [-v] [-b BYTES] FILE
 *
 * Reads FILE through a 4-entry ring, one IORING_OP_READ SQE at a time
 * (BYTES per read, default 4096), and prints it on stdout. -v shows the
 * ring indices on stderr at every step, so you can watch head and tail
 * move and the index wrap around the mask.
 *
 * Build it alone (no -luring):
 *     gcc -std=gnu11 -Wall -Wextra -O2 -o raw_ring raw_ring.c
 *
 * The system calls here are made through glibc's syscall(2), which, like
 * every libc system call wrapper, returns -1 and sets errno. (liburing's
 * wrappers return -errno instead; that is why the rest of the chapter never
 * looks at errno after a liburing call.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_ENTRIES 4

/* --- the three system calls (io_uring_setup(2), io_uring_enter(2),
 *     io_uring_register(2)); glibc has no wrappers for them ----------- */

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int ring_fd, unsigned to_submit, unsigned min_complete,
		     unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, ring_fd, to_submit,
			    min_complete, flags, NULL, 0);
}

static int sys_register(int ring_fd, unsigned opcode, void *arg,
			unsigned nr_args)
{
	return (int)syscall(__NR_io_uring_register, ring_fd, opcode, arg,
			    nr_args);
}

/* --- the ring as user space sees it ---------------------------------- */

struct raw_ring {
	int fd;
	/* the mappings, for munmap */
	void *sq_map, *cq_map;
	size_t sq_map_size, cq_map_size;
	struct io_uring_sqe *sqes;
	size_t sqes_size;
	/* SQ ring fields: we write tail, the kernel writes head */
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned sq_entries;
	/* CQ ring fields: the kernel writes tail, we write head */
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static bool verbose;

static void die(const char *what)
{
	fprintf(stderr, "raw_ring: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *map_region(int ring_fd, size_t size, off_t which)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, ring_fd, which);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* io_uring_setup(2), then map the SQ ring, the CQ ring and the SQE array.
 * The kernel tells us, in params.sq_off / cq_off, where each field lives
 * inside the mappings. */
static void ring_setup(struct raw_ring *r)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = sys_setup(RING_ENTRIES, &p);
	if (r->fd < 0)
		die("io_uring_setup (EPERM: seccomp or kernel.io_uring_disabled;"
		    " ENOMEM: RLIMIT_MEMLOCK)");

	r->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_map_size = p.cq_off.cqes +
			 p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		/* both rings live in one mapping: map the larger size once */
		if (r->cq_map_size > r->sq_map_size)
			r->sq_map_size = r->cq_map_size;
		r->sq_map = map_region(r->fd, r->sq_map_size, IORING_OFF_SQ_RING);
		r->cq_map = r->sq_map;
	} else {
		r->sq_map = map_region(r->fd, r->sq_map_size, IORING_OFF_SQ_RING);
		r->cq_map = map_region(r->fd, r->cq_map_size, IORING_OFF_CQ_RING);
	}
	r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = map_region(r->fd, r->sqes_size, IORING_OFF_SQES);

	sq = r->sq_map;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->sq_entries = p.sq_entries;
	cq = r->cq_map;
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

	if (verbose)
		fprintf(stderr, "setup: fd %d, sq %u entries, cq %u entries, "
			"features 0x%x, %s\n", r->fd, p.sq_entries,
			p.cq_entries, p.features,
			r->cq_map == r->sq_map ? "2 mmaps" : "3 mmaps");
}

static void ring_teardown(struct raw_ring *r)
{
	munmap(r->sqes, r->sqes_size);
	if (r->cq_map != r->sq_map)
		munmap(r->cq_map, r->cq_map_size);
	munmap(r->sq_map, r->sq_map_size);
	close(r->fd); /* frees the ring in the kernel */
}

/* io_uring_register(2) with IORING_REGISTER_PROBE: ask the kernel, not
 * uname, whether it knows IORING_OP_READ. */
static bool kernel_can_read(struct raw_ring *r)
{
	size_t size = sizeof(struct io_uring_probe) +
		      256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, size);
	bool ok;

	if (!probe)
		die("calloc");
	if (sys_register(r->fd, IORING_REGISTER_PROBE, probe, 256) < 0) {
		free(probe);
		return false; /* no probe: older than IORING_OP_READ too */
	}
	ok = IORING_OP_READ <= probe->last_op &&
	     (probe->ops[IORING_OP_READ].flags & IO_URING_OP_SUPPORTED);
	free(probe);
	return ok;
}

/* --- submission side -------------------------------------------------- */

/* Put one read in the next free SQE and make it visible to the kernel. */
static void queue_read(struct raw_ring *r, int fd, void *buf, unsigned len,
		       __u64 offset, __u64 tag)
{
	/* Only we write the SQ tail, so a plain load of our own value is
	 * fine. The head is the kernel's: acquire, so that we do not reuse
	 * an SQE the kernel is still reading. */
	unsigned tail = *r->sq_tail;
	unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
	unsigned index = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[index];

	if (tail - head == r->sq_entries) {
		fprintf(stderr, "raw_ring: SQ full\n"); /* cannot happen here: */
		exit(1);	/* one request at a time */
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	sqe->off = offset;
	sqe->user_data = tag;
	r->sq_array[index] = index; /* the SQ ring holds indexes into sqes[] */

	/* Release: every store above (the SQE, the array slot) becomes
	 * visible before the new tail does. Without it a CPU (or the
	 * compiler) may publish the tail first, and the kernel may read a
	 * half-written SQE. */
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (verbose)
		fprintf(stderr, "sq:  wrote sqes[%u], tail %u -> %u "
			"(kernel head %u)\n", index, tail, tail + 1, head);
}

/* io_uring_enter(2): submit what is queued and wait for one completion. */
static void submit_and_wait(struct raw_ring *r, unsigned to_submit)
{
	int ret;

	do
		ret = sys_enter(r->fd, to_submit, 1, IORING_ENTER_GETEVENTS);
	while (ret < 0 && errno == EINTR); /* a signal; the kernel never
					    * submits the same SQE twice */
	if (ret < 0)
		die("io_uring_enter");
	if (verbose)
		fprintf(stderr, "enter(to_submit=%u, min_complete=1) = %d\n",
			to_submit, ret);
}

/* --- completion side --------------------------------------------------- */

/* Take the CQE at the head. Returns false if the CQ is empty. */
static bool reap_one(struct raw_ring *r, __u64 *tag, int *res)
{
	unsigned head = *r->cq_head; /* ours */
	/* Acquire: the kernel wrote the CQE, then released the tail; this
	 * load pairs with that, so the CQE we read below is complete. */
	unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
	struct io_uring_cqe *cqe;

	if (head == tail)
		return false;
	cqe = &r->cqes[head & *r->cq_mask];
	*tag = cqe->user_data;
	*res = cqe->res;
	/* Release: we are done reading this CQE before the kernel learns
	 * that the slot is free and may overwrite it. */
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	if (verbose)
		fprintf(stderr, "cq:  read cqes[%u] (user_data %llu, res %d), "
			"head %u -> %u\n", head & *r->cq_mask,
			(unsigned long long)*tag, *res, head, head + 1);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: raw_ring [-v] [-b BYTES] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct raw_ring ring;
	unsigned chunk = 4096;
	__u64 offset = 0, tag = 0;
	char *buf;
	int opt, fd;

	while ((opt = getopt(argc, argv, "vb:")) != -1) {
		if (opt == 'v')
			verbose = true;
		else if (opt == 'b' && atoi(optarg) > 0)
			chunk = (unsigned)atoi(optarg);
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(argv[optind]);
	buf = malloc(chunk);
	if (!buf)
		die("malloc");

	ring_setup(&ring);
	if (!kernel_can_read(&ring)) {
		fprintf(stderr, "raw_ring: the probe says no IORING_OP_READ\n");
		return 1;
	}
	for (;;) {
		__u64 got_tag;
		int res;

		queue_read(&ring, fd, buf, chunk, offset, ++tag);
		submit_and_wait(&ring, 1);
		while (!reap_one(&ring, &got_tag, &res))
			submit_and_wait(&ring, 0); /* woken early: wait on */
		if (got_tag != tag) {
			fprintf(stderr, "raw_ring: CQE for %llu, expected %llu\n",
				(unsigned long long)got_tag,
				(unsigned long long)tag);
			return 1;
		}
		if (res < 0) { /* res is -errno: errno is not involved */
			fprintf(stderr, "raw_ring: read: %s\n", strerror(-res));
			return 1;
		}
		if (res == 0)
			break; /* end of file */
		fwrite(buf, 1, (size_t)res, stdout);
		offset += (__u64)res; /* a short read simply continues here */
	}
	ring_teardown(&ring);
	free(buf);
	close(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}
