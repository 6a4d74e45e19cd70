/*
 * uring_basics.c - chapter 05, clean-room variant "cleanroom-shared-xfer".
 *
 * Written from the lesson (chapters/05-uring-basics/README.md), the contract
 * (uring_basics.h), the skeleton and the man pages alone, without reading
 * the reference or the tests.
 *
 * Shape: one transfer engine (xfer) serves reads and writes; each request
 * goes through run_one(), which submits with io_uring_submit_and_wait(ring, 1)
 * and reaps with io_uring_wait_cqe(), tagging the request with the address
 * of a local variable. Ring failures are reported to the callers through a
 * separate flag, so the copy can leave its buffer allocated after a wait
 * error. The copy allocates its buffer before opening the files, reads until
 * a read returns 0, and the batch sets up a 4-entry ring with uring_open().
 * The probe is asked for every opcode 0..255 through
 * io_uring_opcode_supported(); the report prints with fprintf.
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

#define MAX_CHUNK ((size_t)1 << 30)	/* 1 GiB per request */
#define SUBMIT_EAGAIN_TRIES 8

int uring_open(struct io_uring *ring, unsigned entries)
{
	struct io_uring_probe *probe;
	int ret, ok;

	if (!ring || entries == 0 || entries > 4096)
		return -EINVAL;
	ret = io_uring_queue_init(entries, ring, 0);
	if (ret < 0)
		return ret;
	probe = io_uring_get_probe_ring(ring);
	ok = probe && io_uring_opcode_supported(probe, IORING_OP_READ) &&
	     io_uring_opcode_supported(probe, IORING_OP_WRITE);
	if (probe)
		io_uring_free_probe(probe);
	if (!ok) {
		io_uring_queue_exit(ring);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Run the one prepared SQE to completion. Returns 0 with *res set, or the
 * -errno of a ring failure; *in_flight says whether the request may still
 * be in the kernel after such a failure (a wait error after a submit).
 */
static int run_one(struct io_uring *ring, struct io_uring_sqe *sqe, int *res,
		   bool *in_flight)
{
	struct io_uring_cqe *cqe;
	int tag;		/* its address is the request's user_data */
	int ret, eagain = 0;

	*in_flight = false;
	io_uring_sqe_set_data(sqe, &tag);
	for (;;) {
		ret = io_uring_submit_and_wait(ring, 1);
		if (ret >= 0)
			break;
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN && ++eagain < SUBMIT_EAGAIN_TRIES)
			continue;
		return ret;
	}
	for (;;) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			*in_flight = true;
			return ret;
		}
		if (io_uring_cqe_get_data(cqe) != &tag) {
			/* not ours: a stale completion; drop it, keep waiting */
			io_uring_cqe_seen(ring, cqe);
			continue;
		}
		*res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		return 0;
	}
}

/* Wait until fd is ready for the direction; 0 or -errno (ring or poll). */
static int wait_ready(struct io_uring *ring, int fd, bool writing,
		      bool *ring_failed, bool *in_flight)
{
	for (;;) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		int res, ret;

		if (!sqe)
			return -EBUSY;
		io_uring_prep_poll_add(sqe, fd, writing ? POLLOUT : POLLIN);
		ret = run_one(ring, sqe, &res, in_flight);
		if (ret < 0) {
			*ring_failed = true;
			return ret;
		}
		if (res == -EINTR)
			continue;
		return res < 0 ? res : 0;
	}
}

static ssize_t xfer(struct io_uring *ring, int fd, char *buf, size_t len,
		    off_t offset, bool writing, bool *ring_failed,
		    bool *in_flight)
{
	size_t done = 0;

	*ring_failed = false;
	*in_flight = false;
	if (!ring)
		return -EINVAL;
	if (offset < -1)
		return -EINVAL;
	if (offset == -1 && !(ring->features & IORING_FEAT_RW_CUR_POS))
		return -EOPNOTSUPP;

	while (done < len) {
		size_t want = len - done;
		struct io_uring_sqe *sqe;
		__u64 off;
		int res, ret;

		if (want > MAX_CHUNK)
			want = MAX_CHUNK;
		off = offset == -1 ? (__u64)-1 : (__u64)(offset + (off_t)done);
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
		if (writing)
			io_uring_prep_write(sqe, fd, buf + done, (unsigned)want, off);
		else
			io_uring_prep_read(sqe, fd, buf + done, (unsigned)want, off);
		ret = run_one(ring, sqe, &res, in_flight);
		if (ret < 0) {
			*ring_failed = true;
			return ret;
		}
		if (res > 0) {
			done += (size_t)res;
			continue;
		}
		if (res == 0) {
			if (writing)
				return -EIO;
			break;	/* end of file */
		}
		if (res == -EINTR)
			continue;
		if (res == -EAGAIN) {
			ret = wait_ready(ring, fd, writing, ring_failed,
					 in_flight);
			if (ret < 0)
				return ret;
			continue;
		}
		return res;
	}
	return (ssize_t)done;
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset)
{
	bool rf, inf;

	return xfer(ring, fd, buf, len, offset, false, &rf, &inf);
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset)
{
	bool rf, inf;

	return xfer(ring, fd, (char *)buf, len, offset, true, &rf, &inf);
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	struct io_uring ring;
	struct stat sst, dstst;
	char *buf;
	int sfd, dfd, ret;
	off_t total = 0, err = 0;
	bool rf = false, inf = false;

	if (!src || !dst || bufsize == 0)
		return -EINVAL;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;

	sfd = open(src, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	if (fstat(sfd, &sst) < 0) {
		err = -errno;
		goto out_src;
	}
	if (S_ISDIR(sst.st_mode)) {
		err = -EISDIR;
		goto out_src;
	}
	dfd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (dfd < 0) {
		err = -errno;
		goto out_src;
	}
	if (fstat(dfd, &dstst) < 0) {
		err = -errno;
		goto out_dst;
	}
	if (sst.st_dev == dstst.st_dev && sst.st_ino == dstst.st_ino) {
		err = -EINVAL;
		goto out_dst;
	}
	if (S_ISREG(dstst.st_mode) && ftruncate(dfd, 0) < 0) {
		err = -errno;
		goto out_dst;
	}
	ret = uring_open(&ring, 4);
	if (ret < 0) {
		err = ret;
		goto out_dst;
	}

	for (;;) {
		ssize_t got, put;

		got = xfer(&ring, sfd, buf, bufsize,
			   S_ISREG(sst.st_mode) ? total : -1, false, &rf, &inf);
		if (got < 0) {
			err = got;
			break;
		}
		if (got == 0)
			break;
		put = xfer(&ring, dfd, buf, (size_t)got,
			   S_ISREG(dstst.st_mode) ? total : -1, true, &rf, &inf);
		if (put < 0) {
			err = put;
			break;
		}
		total += (off_t)got;
	}
	io_uring_queue_exit(&ring);

out_dst:
	if (close(dfd) < 0 && err == 0)
		err = -errno;
out_src:
	close(sfd);
	if (!(rf && inf))
		free(buf);	/* else the kernel may still write into it */
	return err < 0 ? err : total;
}

int uring_probe_features(struct uring_features *out)
{
	struct io_uring ring;
	struct io_uring_params p;
	struct io_uring_probe *probe;
	int ret;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(URING_PROBE_ENTRIES, &ring, &p);
	if (ret < 0)
		return ret;
	out->features = p.features;
	out->sq_entries = p.sq_entries;
	out->cq_entries = p.cq_entries;
	probe = io_uring_get_probe_ring(&ring);
	if (probe) {
		out->have_probe = true;
		out->last_op = probe->last_op;
		for (int op = 0; op < URING_MAX_OPCODES; op++)
			out->op_supported[op] =
				io_uring_opcode_supported(probe, op);
		io_uring_free_probe(probe);
	}
	io_uring_queue_exit(&ring);
	return 0;
}

#define ROW(name) { #name, name },
static const struct { const char *name; unsigned value; } feat_rows[] = {
	URING_REPORT_FEATURES(ROW)
};
static const struct { const char *name; unsigned value; } op_rows[] = {
	URING_REPORT_OPCODES(ROW)
};

int uring_feature_report(FILE *out)
{
	struct uring_features f;
	int ret, bad = 0;
	size_t i;

	if (!out)
		return -EINVAL;
	ret = uring_probe_features(&f);
	if (ret < 0)
		return ret;
	if (fprintf(out, "features = 0x%08x, sq %u, cq %u, probe %s, last_op %u\n",
		    f.features, f.sq_entries, f.cq_entries,
		    f.have_probe ? "yes" : "no", f.last_op) < 0)
		bad = 1;
	for (i = 0; i < sizeof(feat_rows) / sizeof(feat_rows[0]); i++)
		if (fprintf(out, "%-32s %s\n", feat_rows[i].name,
			    (f.features & feat_rows[i].value) ? "yes" : "no") < 0)
			bad = 1;
	for (i = 0; i < sizeof(op_rows) / sizeof(op_rows[0]); i++)
		if (fprintf(out, "%-32s %s\n", op_rows[i].name,
			    f.op_supported[op_rows[i].value] ? "yes" : "no") < 0)
			bad = 1;
	if (fflush(out) != 0)
		bad = 1;
	if (ferror(out))
		bad = 1;
	return bad ? -EIO : 0;
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct io_uring ring;
	int ret;

	if (qd == 0 || (!reqs && n > 0))
		return -EINVAL;
	if (n == 0)
		return 0;
	ret = uring_open(&ring, 4);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		bool rf, inf;
		ssize_t r;

		if (reqs[i].offset < 0) {
			reqs[i].res = -EINVAL;
			continue;
		}
		r = xfer(&ring, reqs[i].fd, reqs[i].buf, reqs[i].len,
			 reqs[i].offset, false, &rf, &inf);
		if (rf) {
			ret = (int)r;
			break;
		}
		reqs[i].res = r;
	}
	io_uring_queue_exit(&ring);
	return ret;
}
