/*
 * uring_basics.c - chapter 05, clean-room variant "cleanroom-job-states".
 *
 * Written from the lesson (chapters/05-uring-basics/README.md), the contract
 * (uring_basics.h), the skeleton and the man pages alone, without reading
 * the reference or the tests.
 *
 * Shape: one per-call job struct drives a two-state machine (I/O request,
 * readiness poll) for both directions; the job's address is the user_data.
 * The job keeps its own cursor: buffer pointer, bytes left and a file
 * position that moves by itself (never offset + done). Each request is
 * submitted with io_uring_submit_and_wait(ring, 1) and reaped by walking the
 * CQ with io_uring_for_each_cqe + io_uring_cq_advance, and only when the CQE
 * is not there yet with io_uring_wait_cqe. Chunks are at most 512 MiB.
 * uring_open checks the size bound with one unsigned comparison
 * (entries - 1 < 4096). The copy sets up its 2-entry ring and its buffer
 * (calloc) before opening anything, and keeps separate read and write
 * positions; the batch uses io_uring_queue_init directly (2 entries). The
 * probe is read by scanning probe->ops[] for their op numbers; the report is
 * built with snprintf in one heap buffer and written with one fwrite.
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

#define PIECE_MAX ((size_t)512 << 20)

int uring_open(struct io_uring *ring, unsigned entries)
{
	struct io_uring_probe *pr;
	bool can_read, can_write;
	int err;

	if (!ring || entries - 1u >= 4096u)
		return -EINVAL;
	err = io_uring_queue_init(entries, ring, 0);
	if (err < 0)
		return err;
	pr = io_uring_get_probe_ring(ring);
	if (!pr) {
		io_uring_queue_exit(ring);
		return -EOPNOTSUPP;
	}
	can_read = io_uring_opcode_supported(pr, IORING_OP_READ);
	can_write = io_uring_opcode_supported(pr, IORING_OP_WRITE);
	io_uring_free_probe(pr);
	if (can_read && can_write)
		return 0;
	io_uring_queue_exit(ring);
	return -EOPNOTSUPP;
}

enum { IO_REQ, POLL_REQ };

struct job {
	struct io_uring *ring;
	int fd;
	bool write;
	char *p;		/* where the next piece goes / comes from */
	size_t left;		/* bytes still to move */
	off_t pos;		/* file position of the next piece, or -1 */
	int ring_err;		/* submit / wait failure, 0 if none */
	bool in_kernel;		/* the failed request may still be running */
};

/* Take our CQE if it is in the CQ; true when found. */
static bool reap(struct job *j, int *res)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	bool found = false;

	io_uring_for_each_cqe(j->ring, head, cqe) {
		seen++;
		if (io_uring_cqe_get_data(cqe) == j) {
			*res = cqe->res;
			found = true;
			break;
		}
	}
	io_uring_cq_advance(j->ring, seen);
	return found;
}

/* Run the SQE already prepared; its res, or the ring error (j->ring_err). */
static int execute(struct job *j, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int ret, again = 0, res;

	io_uring_sqe_set_data(sqe, j);
	do {
		ret = io_uring_submit_and_wait(j->ring, 1);
	} while (ret == -EINTR || (ret == -EAGAIN && ++again < 5));
	if (ret < 0)
		return j->ring_err = ret;

	while (!reap(j, &res)) {
		ret = io_uring_wait_cqe(j->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			j->in_kernel = true;
			return j->ring_err = ret;
		}
	}
	return res;
}

static ssize_t run_job(struct job *j)
{
	size_t total = j->left;
	int state = IO_REQ;

	while (j->left) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(j->ring);
		size_t piece = j->left < PIECE_MAX ? j->left : PIECE_MAX;
		int res;

		if (!sqe)
			return -EBUSY;
		if (state == POLL_REQ)
			io_uring_prep_poll_add(sqe, j->fd, j->write ? POLLOUT : POLLIN);
		else if (j->write)
			io_uring_prep_write(sqe, j->fd, j->p, (unsigned)piece,
					    (__u64)j->pos);
		else
			io_uring_prep_read(sqe, j->fd, j->p, (unsigned)piece,
					   (__u64)j->pos);
		res = execute(j, sqe);
		if (j->ring_err)
			return j->ring_err;

		if (state == POLL_REQ) {
			if (res == -EINTR)
				continue;	/* poll again */
			if (res < 0)
				return res;
			state = IO_REQ;
			continue;
		}
		switch (res) {
		case -EINTR:
			continue;
		case -EAGAIN:
			state = POLL_REQ;
			continue;
		case 0:
			if (j->write)
				return -EIO;
			return (ssize_t)(total - j->left);	/* EOF */
		}
		if (res < 0)
			return res;
		j->p += res;
		j->left -= (size_t)res;
		if (j->pos != -1)
			j->pos += res;
	}
	return (ssize_t)total;
}

static ssize_t transfer(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset, bool write, bool *in_kernel)
{
	struct job j;
	ssize_t r;

	if (!ring)
		return -EINVAL;
	if (offset < -1)
		return -EINVAL;
	if (offset == -1 && !(ring->features & IORING_FEAT_RW_CUR_POS))
		return -EOPNOTSUPP;
	j = (struct job){ .ring = ring, .fd = fd, .write = write, .p = buf,
			  .left = len, .pos = offset };
	r = run_job(&j);
	if (in_kernel)
		*in_kernel = j.in_kernel;
	return r;
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset)
{
	return transfer(ring, fd, buf, len, offset, false, NULL);
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset)
{
	return transfer(ring, fd, (void *)buf, len, offset, true, NULL);
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	struct io_uring ring;
	struct stat s_st, d_st;
	off_t rpos = 0, wpos = 0, result;
	bool stuck = false;
	char *buf;
	int sfd, dfd, err;

	if (!src || !dst || !bufsize)
		return -EINVAL;
	err = uring_open(&ring, 2);
	if (err)
		return err;
	buf = calloc(1, bufsize);
	if (!buf) {
		io_uring_queue_exit(&ring);
		return -ENOMEM;
	}
	result = 0;
	sfd = open(src, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		result = -errno;
		goto no_files;
	}
	if (fstat(sfd, &s_st) != 0) {
		result = -errno;
		goto src_only;
	}
	if (S_ISDIR(s_st.st_mode)) {
		result = -EISDIR;
		goto src_only;
	}
	dfd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (dfd < 0) {
		result = -errno;
		goto src_only;
	}
	if (fstat(dfd, &d_st) != 0)
		result = -errno;
	else if (d_st.st_dev == s_st.st_dev && d_st.st_ino == s_st.st_ino)
		result = -EINVAL;
	else if (S_ISREG(d_st.st_mode) && ftruncate(dfd, 0) != 0)
		result = -errno;

	while (result == 0) {
		ssize_t got, put;

		got = transfer(&ring, sfd, buf, bufsize,
			       S_ISREG(s_st.st_mode) ? rpos : -1, false, &stuck);
		if (got <= 0) {
			result = got;
			break;
		}
		rpos += got;
		put = transfer(&ring, dfd, buf, (size_t)got,
			       S_ISREG(d_st.st_mode) ? wpos : -1, true, &stuck);
		if (put < 0) {
			result = put;
			break;
		}
		wpos += put;
	}
	if (close(dfd) != 0 && result == 0)
		result = -errno;
src_only:
	close(sfd);
no_files:
	io_uring_queue_exit(&ring);
	if (!stuck)
		free(buf);
	return result < 0 ? result : wpos;
}

int uring_probe_features(struct uring_features *out)
{
	struct io_uring_params par = { 0 };
	struct io_uring ring;
	struct io_uring_probe *pr;
	int err;

	if (!out)
		return -EINVAL;
	err = io_uring_queue_init_params(URING_PROBE_ENTRIES, &ring, &par);
	if (err < 0)
		return err;
	*out = (struct uring_features){
		.features = par.features,
		.sq_entries = par.sq_entries,
		.cq_entries = par.cq_entries,
	};
	pr = io_uring_get_probe_ring(&ring);
	if (pr) {
		out->have_probe = true;
		out->last_op = pr->last_op;
		for (unsigned i = 0; i < pr->ops_len && i < 256; i++) {
			unsigned op = pr->ops[i].op;

			if (op <= pr->last_op && op < URING_MAX_OPCODES &&
			    (pr->ops[i].flags & IO_URING_OP_SUPPORTED))
				out->op_supported[op] = true;
		}
		io_uring_free_probe(pr);
	}
	io_uring_queue_exit(&ring);
	return 0;
}

/* Append a line to the report text; false when it does not fit. */
static bool add_line(char *text, size_t cap, size_t *used, const char *name,
		     bool yes)
{
	int n = snprintf(text + *used, cap - *used, "%-30s %s\n", name,
			 yes ? "yes" : "no");

	if (n < 0 || (size_t)n >= cap - *used)
		return false;
	*used += (size_t)n;
	return true;
}

int uring_feature_report(FILE *out)
{
#define LINE_F(name) ok = ok && add_line(text, cap, &used, #name, \
					 (f.features & (name)) != 0);
#define LINE_O(name) ok = ok && add_line(text, cap, &used, #name, \
					 f.op_supported[name]);
	const size_t cap = 8192;
	struct uring_features f;
	size_t used = 0;
	bool ok = true;
	char *text;
	int err, n;

	if (!out)
		return -EINVAL;
	err = uring_probe_features(&f);
	if (err)
		return err;
	text = malloc(cap);
	if (!text)
		return -ENOMEM;
	n = snprintf(text, cap, "io_uring: features 0x%08x, sq %u / cq %u entries, "
		     "probe %s, last_op %u\n", f.features, f.sq_entries,
		     f.cq_entries, f.have_probe ? "yes" : "no", f.last_op);
	used = n > 0 ? (size_t)n : 0;
	URING_REPORT_FEATURES(LINE_F)
	URING_REPORT_OPCODES(LINE_O)
	/* the whole report in one write */
	err = 0;
	if (!ok || fwrite(text, 1, used, out) != used)
		err = -EIO;
	if (fflush(out) != 0 || ferror(out))
		err = -EIO;
	free(text);
	return err;
#undef LINE_F
#undef LINE_O
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct io_uring ring;
	int err;

	if (!qd || (n && !reqs))
		return -EINVAL;
	if (!n)
		return 0;
	err = io_uring_queue_init(2, &ring, 0);
	if (err < 0)
		return err;
	for (struct batch_req *r = reqs; r < reqs + n; r++) {
		struct job j = { .ring = &ring, .fd = r->fd, .p = r->buf,
				 .left = r->len, .pos = r->offset };

		if (r->offset < 0) {
			r->res = -EINVAL;
			continue;
		}
		r->res = run_job(&j);
		if (j.ring_err) {
			err = j.ring_err;
			break;
		}
	}
	io_uring_queue_exit(&ring);
	return err;
}
