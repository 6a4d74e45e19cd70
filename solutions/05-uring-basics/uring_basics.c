/*
 * uring_basics.c - chapter 05 reference: io_uring one request at a time.
 *
 * Every request goes through the same four steps:
 *
 *     get an SQE -> prepare it -> submit and wait -> reap our CQE
 *
 * run_request() does the last two; the public functions only decide what
 * to ask for next. Results are bytes or -errno, never errno: liburing
 * returns -errno itself and the kernel puts -errno in cqe->res.
 */
#define _GNU_SOURCE
#include "uring_basics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The largest single request we queue. sqe->len is 32 bits, cqe->res is a
 * signed int and the kernel caps one transfer at about 2 GiB anyway, so a
 * size_t length must be split; 1 GiB keeps every result positive.
 */
#define MAX_CHUNK ((size_t)1 << 30)

/* How often a submission refused with -EAGAIN (kernel out of memory for
 * requests) is tried again before we give up and report it. */
#define SUBMIT_EAGAIN_TRIES 64

/* Ring size for the functions that make their own ring: one request is in
 * flight at a time, so a couple of entries are plenty (and cheap in
 * RLIMIT_MEMLOCK terms). */
#define OWN_RING_ENTRIES 4

/* The -1 offset of the API, spelled the way the SQE field wants it. */
#define CURRENT_POSITION ((__u64)-1)

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

/* True if the kernel behind ring can do every opcode this module uses.
 * No probe at all means a kernel older than IORING_OP_READ itself. */
static bool ring_has_needed_ops(struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok;

	if (!probe)
		return false;
	ok = io_uring_opcode_supported(probe, IORING_OP_READ) &&
	     io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
	     io_uring_opcode_supported(probe, IORING_OP_POLL_ADD);
	io_uring_free_probe(probe);
	return ok;
}

int uring_open(struct io_uring *ring, unsigned entries)
{
	int ret;

	if (!ring || entries == 0 || entries > 4096)
		return -EINVAL;
	ret = io_uring_queue_init(entries, ring, 0);
	if (ret < 0)
		return ret; /* already -errno: -EPERM, -ENOMEM, -ENOSYS ... */
	if (!ring_has_needed_ops(ring)) {
		io_uring_queue_exit(ring);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* One request: submit, wait, reap                                    */
/* ------------------------------------------------------------------ */

/* Push the queued SQE to the kernel and wait for at least one CQE, in one
 * io_uring_enter(2). -EINTR: a signal arrived while we waited; the kernel
 * reports a submission that happened as a count, not as -EINTR, so trying
 * again never submits twice. -EAGAIN: the kernel had no memory for the
 * request and left it queued; try again a few times. */
static int submit_and_wait_one(struct io_uring *ring)
{
	int tries = 0;

	for (;;) {
		int ret = io_uring_submit_and_wait(ring, 1);

		if (ret >= 0)
			return 0;
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN && ++tries < SUBMIT_EAGAIN_TRIES)
			continue;
		return ret;
	}
}

/* Wait for the CQE whose user_data is tag, copy its res, mark it seen.
 * A CQE that is not ours breaks the "idle ring" rule of the contract; it
 * is still marked seen (never leave one behind) and skipped. Returns 0
 * with *res set, or -errno if waiting itself failed. */
static int reap_own(struct io_uring *ring, const void *tag, int *res)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		bool mine;
		int ret = io_uring_wait_cqe(ring, &cqe);

		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		mine = io_uring_cqe_get_data(cqe) == tag;
		if (mine)
			*res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (mine)
			return 0;
	}
}

/* Tag sqe, submit it, wait for its completion. Returns 0 with *res = the
 * kernel's result (bytes or -errno), or -errno if the ring failed us. The
 * tag is the address of a local: unique while the request is in flight. */
static int run_request(struct io_uring *ring, struct io_uring_sqe *sqe,
		       int *res)
{
	char tag;
	int ret;

	io_uring_sqe_set_data(sqe, &tag);
	ret = submit_and_wait_one(ring);
	if (ret < 0)
		return ret;
	return reap_own(ring, &tag, res);
}

/* Wait until fd is ready for events (POLLIN / POLLOUT), through the ring.
 * Used after -EAGAIN so that the retry does not spin. */
static int wait_ready(struct io_uring *ring, int fd, unsigned events,
		      int *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	return run_request(ring, sqe, res);
}

/* ------------------------------------------------------------------ */
/* Read fully, write fully                                            */
/* ------------------------------------------------------------------ */

enum direction { DIR_READ, DIR_WRITE };

static int check_args(struct io_uring *ring, off_t offset)
{
	if (!ring || offset < -1)
		return -EINVAL;
	if (offset == -1 && !(ring->features & IORING_FEAT_RW_CUR_POS))
		return -EOPNOTSUPP;
	return 0;
}

/* One read or write of at most MAX_CHUNK bytes. Returns 0 with *res set,
 * or a ring failure. */
static int transfer_once(struct io_uring *ring, enum direction dir, int fd,
			 char *buf, size_t len, off_t offset, int *res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	unsigned chunk = (unsigned)(len < MAX_CHUNK ? len : MAX_CHUNK);
	__u64 off = offset < 0 ? CURRENT_POSITION : (__u64)offset;

	/* NULL means the SQ is full. On an idle ring (the contract) it never
	 * is; if the caller left SQEs queued, refuse rather than submit their
	 * requests behind their back. */
	if (!sqe)
		return -EBUSY;
	if (dir == DIR_READ)
		io_uring_prep_read(sqe, fd, buf, chunk, off);
	else
		io_uring_prep_write(sqe, fd, buf, chunk, off);
	return run_request(ring, sqe, res);
}

/*
 * The loop both directions share. Returns 0 and sets *result to the bytes
 * moved or to the request's -errno; returns -errno when the ring itself
 * failed (then *result is untouched and the ring should be torn down).
 */
static int transfer_full(struct io_uring *ring, enum direction dir, int fd,
			 char *buf, size_t len, off_t offset, ssize_t *result)
{
	size_t done = 0;

	while (done < len) {
		/* -1 stays -1: the kernel moves the file position itself. */
		off_t at = offset < 0 ? -1 : offset + (off_t)done;
		int res = 0, ret;

		ret = transfer_once(ring, dir, fd, buf + done, len - done, at,
				    &res);
		if (ret < 0)
			return ret;
		if (res == -EINTR)
			continue;
		if (res == -EAGAIN) {
			/* Non-blocking fd with nothing to give: wait for it
			 * through the ring, then ask again. */
			int poll_res;

			ret = wait_ready(ring, fd,
					 dir == DIR_READ ? POLLIN : POLLOUT,
					 &poll_res);
			if (ret < 0)
				return ret;
			if (poll_res < 0 && poll_res != -EINTR) {
				*result = poll_res;
				return 0;
			}
			continue;
		}
		if (res < 0) {
			*result = res;
			return 0;
		}
		if (res == 0) {
			/* Reading: end of file. Writing: no progress on a
			 * non-empty request; retrying would loop forever. */
			if (dir == DIR_WRITE) {
				*result = -EIO;
				return 0;
			}
			break;
		}
		done += (size_t)res; /* short or full: the next round asks
				      * for the rest, further along */
	}
	*result = (ssize_t)done;
	return 0;
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset)
{
	ssize_t result;
	int ret = check_args(ring, offset);

	if (ret < 0)
		return ret;
	ret = transfer_full(ring, DIR_READ, fd, buf, len, offset, &result);
	return ret < 0 ? ret : result;
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset)
{
	ssize_t result;
	int ret = check_args(ring, offset);

	if (ret < 0)
		return ret;
	/* The kernel only reads from buf for a write; the cast is only
	 * because prep helpers take one pointer type for both directions. */
	ret = transfer_full(ring, DIR_WRITE, fd, (char *)(uintptr_t)buf, len,
			    offset, &result);
	return ret < 0 ? ret : result;
}

/* ------------------------------------------------------------------ */
/* Copy                                                               */
/* ------------------------------------------------------------------ */

struct copy_files {
	int in, out;
	bool in_seekable, out_seekable;
};

/* Open both ends. The source is checked before dst is created (a
 * directory as source must not leave an empty dst behind), and dst is not
 * truncated until we know it is not src: "cp f f" must not destroy f. */
static int open_pair(const char *src, const char *dst, struct copy_files *f)
{
	struct stat si, so;
	int err;

	*f = (struct copy_files){ .in = -1, .out = -1 };
	f->in = open(src, O_RDONLY | O_CLOEXEC);
	if (f->in < 0)
		return -errno;
	if (fstat(f->in, &si) < 0) {
		err = -errno;
		goto close_in;
	}
	if (S_ISDIR(si.st_mode)) {
		err = -EISDIR;
		goto close_in;
	}
	f->out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (f->out < 0) {
		err = -errno;
		goto close_in;
	}
	if (fstat(f->out, &so) < 0) {
		err = -errno;
		goto close_both;
	}
	if (si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
		err = -EINVAL;
		goto close_both;
	}
	if (S_ISREG(so.st_mode) && ftruncate(f->out, 0) < 0) {
		err = -errno;
		goto close_both;
	}
	f->in_seekable = S_ISREG(si.st_mode);
	f->out_seekable = S_ISREG(so.st_mode);
	return 0;

close_both:
	close(f->out);
close_in:
	close(f->in);
	return err;
}

/* Requests the kernel has taken from the SQ and not yet completed (each
 * makes exactly one CQE): while there are any, their buffers are still
 * being written. After a ring failure there can be one; tearing the ring
 * down does not wait for it (io_uring_queue_exit(3)). */
static unsigned in_kernel(const struct io_uring *ring)
{
	return io_uring_smp_load_acquire(ring->sq.khead) -
	       io_uring_smp_load_acquire(ring->cq.ktail);
}

/* The copy loop proper. Returns bytes copied or -errno. */
static off_t copy_loop(struct io_uring *ring, const struct copy_files *f,
		       char *buf, size_t bufsize)
{
	off_t total = 0;

	for (;;) {
		ssize_t got, put;

		got = uring_read_full(ring, f->in, buf, bufsize,
				      f->in_seekable ? total : -1);
		if (got <= 0)
			return got < 0 ? got : total;
		put = uring_write_full(ring, f->out, buf, (size_t)got,
				       f->out_seekable ? total : -1);
		if (put < 0)
			return put;
		total += got;
	}
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	struct copy_files f;
	struct io_uring ring;
	bool kernel_has_buf = false;
	char *buf;
	off_t result;
	int ret;

	if (!src || !dst || bufsize == 0)
		return -EINVAL;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	ret = open_pair(src, dst, &f);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	ret = uring_open(&ring, OWN_RING_ENTRIES);
	if (ret < 0) {
		result = ret;
	} else {
		result = copy_loop(&ring, &f, buf, bufsize);
		kernel_has_buf = in_kernel(&ring) > 0;
		io_uring_queue_exit(&ring);
	}
	close(f.in);
	/* close() of the destination can be the first report of a failed
	 * write-back (NFS, quotas): do not drop it. */
	if (close(f.out) < 0 && result >= 0)
		result = -errno;
	/* Only when the ring failed with a read still in the kernel (waiting
	 * for its CQE itself failed): that read may write into buf after we
	 * return, so buf is left allocated, on purpose, rather than handed
	 * back to malloc for someone else to use. */
	if (!kernel_has_buf)
		free(buf);
	return result;
}

/* ------------------------------------------------------------------ */
/* Feature detection                                                  */
/* ------------------------------------------------------------------ */

static void copy_probe(struct uring_features *out, struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	int op;

	if (!probe)
		return; /* old kernel: have_probe stays false */
	out->have_probe = true;
	out->last_op = probe->last_op;
	for (op = 0; op < URING_MAX_OPCODES; op++)
		out->op_supported[op] = io_uring_opcode_supported(probe, op);
	io_uring_free_probe(probe);
}

int uring_probe_features(struct uring_features *out)
{
	struct io_uring_params params;
	struct io_uring ring;
	int ret;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&params, 0, sizeof(params));
	ret = io_uring_queue_init_params(URING_PROBE_ENTRIES, &ring, &params);
	if (ret < 0)
		return ret;
	out->features = params.features;
	out->sq_entries = params.sq_entries;
	out->cq_entries = params.cq_entries;
	copy_probe(out, &ring);
	io_uring_queue_exit(&ring);
	return 0;
}

struct name_value {
	const char *name;
	unsigned value;
};

#define NAME_VALUE_ROW(name) { #name, name },

static const struct name_value feature_rows[] = {
	URING_REPORT_FEATURES(NAME_VALUE_ROW)
};

static const struct name_value opcode_rows[] = {
	URING_REPORT_OPCODES(NAME_VALUE_ROW)
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

/* Feature bits the kernel set that these headers have no name for. */
static unsigned unnamed_feature_bits(unsigned features)
{
	size_t i;

	for (i = 0; i < COUNT(feature_rows); i++)
		features &= ~feature_rows[i].value;
	return features;
}

static void print_report(FILE *out, const struct uring_features *f)
{
	size_t i;

	fprintf(out, "# io_uring features (io_uring_params.features = 0x%08x)\n",
		f->features);
	fprintf(out, "# a ring asked for %d entries got sq %u, cq %u\n",
		URING_PROBE_ENTRIES, f->sq_entries, f->cq_entries);
	for (i = 0; i < COUNT(feature_rows); i++)
		fprintf(out, "%-32s %s\n", feature_rows[i].name,
			yes_no(f->features & feature_rows[i].value));
	fprintf(out, "# feature bits newer than these headers: 0x%08x\n",
		unnamed_feature_bits(f->features));
	if (f->have_probe)
		fprintf(out, "# probe: kernel knows opcodes 0..%u; these "
			"headers name 0..%d (IORING_OP_LAST = %d)\n",
			f->last_op, IORING_OP_LAST - 1, IORING_OP_LAST);
	else
		fprintf(out, "# probe: not available (IORING_REGISTER_PROBE "
			"failed): this kernel predates IORING_OP_READ\n");
	for (i = 0; i < COUNT(opcode_rows); i++)
		fprintf(out, "%-32s %s\n", opcode_rows[i].name,
			yes_no(f->op_supported[opcode_rows[i].value]));
}

int uring_feature_report(FILE *out)
{
	struct uring_features f;
	int ret;

	if (!out)
		return -EINVAL;
	ret = uring_probe_features(&f);
	if (ret < 0)
		return ret;
	print_report(out, &f);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The shared batch of reads, one request at a time                   */
/* ------------------------------------------------------------------ */

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct io_uring ring;
	size_t i;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	ret = uring_open(&ring, OWN_RING_ENTRIES);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		struct batch_req *r = &reqs[i];

		if (r->offset < 0) {
			r->res = -EINVAL; /* batch.h: a position, not -1 */
			continue;
		}
		ret = transfer_full(&ring, DIR_READ, r->fd, r->buf, r->len,
				    r->offset, &r->res);
		if (ret < 0)
			break; /* the ring failed, not the request */
	}
	io_uring_queue_exit(&ring);
	return ret < 0 ? ret : 0;
}
