/*
 * uring_basics.c - chapter 05, clean-room variant "cleanroom-split-loops".
 *
 * Written from the lesson (chapters/05-uring-basics/README.md), the contract
 * (uring_basics.h), the skeleton and the man pages alone, without reading
 * the reference or the tests.
 *
 * Shape: separate read and write loops that count down a cursor (pointer +
 * bytes left) instead of a shared engine; each request is submitted with
 * io_uring_submit(3) and reaped with io_uring_peek_cqe(3), falling back to
 * io_uring_wait_cqes(3) when nothing is there yet; requests are tagged with
 * a per-call sequence number (io_uring_sqe_set_data64). Chunks are capped
 * at 0x7ffff000 bytes (the kernel's MAX_RW_COUNT). A per-call context
 * carries the ring error apart from the request's result. uring_open also
 * requires IORING_OP_POLL_ADD and hands the probe to io_uring_free_probe
 * on every path, NULL included. The copy opens both files first, then sets up
 * a 1-entry ring, then allocates, and stops at the first short read. The
 * batch sets its 1-entry ring up lazily at the first request that needs
 * I/O and, when the ring fails, stores the error in every request not done
 * and returns 0. The probe loop stops at last_op; the report formats each
 * line with snprintf and writes it with fputs.
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

#define CHUNK_CAP ((size_t)0x7ffff000)

struct ctx {
	struct io_uring *ring;
	__u64 seq;		/* tag of the next request */
	int ring_err;		/* submit or wait error, 0 if none */
	bool buf_busy;		/* a wait failed with the request submitted */
};

int uring_open(struct io_uring *ring, unsigned entries)
{
	static const int need[] = { IORING_OP_READ, IORING_OP_WRITE,
				    IORING_OP_POLL_ADD };
	struct io_uring_probe *probe;
	int ret;

	if (ring == NULL)
		return -EINVAL;
	if (entries < 1 || entries > 4096)
		return -EINVAL;
	ret = io_uring_queue_init(entries, ring, 0);
	if (ret)
		return ret;
	probe = io_uring_get_probe_ring(ring);
	ret = probe ? 0 : -EOPNOTSUPP;
	for (size_t i = 0; ret == 0 && i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i]))
			ret = -EOPNOTSUPP;
	/* also when probe is NULL: liburing's io_uring_free_probe is free(3) */
	io_uring_free_probe(probe);
	if (ret)
		io_uring_queue_exit(ring);
	return ret;
}

/* Submit the SQE; returns its res, or sets c->ring_err and returns it. */
static int submit_reap(struct ctx *c, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe = NULL;
	__u64 tag = ++c->seq;
	int ret, tries = 0;

	io_uring_sqe_set_data64(sqe, tag);
	while ((ret = io_uring_submit(c->ring)) < 1) {
		if (ret == -EINTR)
			continue;
		if ((ret == -EAGAIN || ret == 0) && ++tries < 4)
			continue;
		c->ring_err = ret < 0 ? ret : -EAGAIN;
		return c->ring_err;
	}
	for (;;) {
		ret = io_uring_peek_cqe(c->ring, &cqe);
		if (ret == -EAGAIN)
			ret = io_uring_wait_cqes(c->ring, &cqe, 1, NULL, NULL);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			c->ring_err = ret;
			c->buf_busy = true;
			return ret;
		}
		if (io_uring_cqe_get_data64(cqe) == tag)
			break;
		io_uring_cqe_seen(c->ring, cqe);	/* stale: not ours */
	}
	ret = cqe->res;
	io_uring_cqe_seen(c->ring, cqe);
	return ret;
}

/* -EAGAIN came back: poll for readiness. 0 when ready, else -errno. */
static int poll_ready(struct ctx *c, int fd, short events)
{
	int res;

	do {
		struct io_uring_sqe *sqe = io_uring_get_sqe(c->ring);

		if (sqe == NULL)
			return -EBUSY;
		io_uring_prep_poll_add(sqe, fd, events);
		res = submit_reap(c, sqe);
		if (c->ring_err)
			return c->ring_err;
	} while (res == -EINTR);
	return res < 0 ? res : 0;
}

static int check_args(struct io_uring *ring, off_t offset)
{
	if (ring == NULL)
		return -EINVAL;
	if (offset < -1)
		return -EINVAL;
	if (offset == -1 && (ring->features & IORING_FEAT_RW_CUR_POS) == 0)
		return -EOPNOTSUPP;
	return 0;
}

static ssize_t read_loop(struct ctx *c, int fd, char *p, size_t left,
			 off_t offset)
{
	size_t total = left;

	while (left > 0) {
		unsigned ask = left > CHUNK_CAP ? (unsigned)CHUNK_CAP
						 : (unsigned)left;
		off_t at = offset < 0 ? -1 : offset + (off_t)(total - left);
		struct io_uring_sqe *sqe = io_uring_get_sqe(c->ring);
		int res;

		if (sqe == NULL)
			return -EBUSY;
		io_uring_prep_read(sqe, fd, p, ask, (__u64)at);
		res = submit_reap(c, sqe);
		if (c->ring_err)
			return c->ring_err;
		if (res == 0)
			break;
		if (res == -EINTR)
			continue;
		if (res == -EAGAIN) {
			res = poll_ready(c, fd, POLLIN);
			if (res < 0)
				return res;
			continue;
		}
		if (res < 0)
			return res;
		p += res;
		left -= (size_t)res;
	}
	return (ssize_t)(total - left);
}

static ssize_t write_loop(struct ctx *c, int fd, const char *p, size_t left,
			  off_t offset)
{
	size_t total = left;

	while (left > 0) {
		unsigned ask = left > CHUNK_CAP ? (unsigned)CHUNK_CAP
						 : (unsigned)left;
		off_t at = offset < 0 ? -1 : offset + (off_t)(total - left);
		struct io_uring_sqe *sqe = io_uring_get_sqe(c->ring);
		int res;

		if (sqe == NULL)
			return -EBUSY;
		io_uring_prep_write(sqe, fd, p, ask, (__u64)at);
		res = submit_reap(c, sqe);
		if (c->ring_err)
			return c->ring_err;
		if (res == 0)
			return -EIO;
		if (res == -EINTR)
			continue;
		if (res == -EAGAIN) {
			res = poll_ready(c, fd, POLLOUT);
			if (res < 0)
				return res;
			continue;
		}
		if (res < 0)
			return res;
		p += res;
		left -= (size_t)res;
	}
	return (ssize_t)total;
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len,
			off_t offset)
{
	struct ctx c = { .ring = ring };
	int ret = check_args(ring, offset);

	if (ret)
		return ret;
	if (len == 0)
		return 0;
	return read_loop(&c, fd, buf, len, offset);
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf,
			 size_t len, off_t offset)
{
	struct ctx c = { .ring = ring };
	int ret = check_args(ring, offset);

	if (ret)
		return ret;
	if (len == 0)
		return 0;
	return write_loop(&c, fd, buf, len, offset);
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	struct io_uring ring;
	struct ctx c = { .ring = &ring };
	struct stat ss, ds;
	int in = -1, out = -1;
	char *buf = NULL;
	bool have_ring = false;
	off_t copied = 0, ret = 0;

	if (src == NULL || dst == NULL || bufsize == 0)
		return -EINVAL;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in == -1)
		return -errno;
	if (fstat(in, &ss) == -1) {
		ret = -errno;
		goto done;
	}
	if (S_ISDIR(ss.st_mode)) {
		ret = -EISDIR;
		goto done;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (out == -1) {
		ret = -errno;
		goto done;
	}
	if (fstat(out, &ds) == -1) {
		ret = -errno;
		goto done;
	}
	if (ds.st_ino == ss.st_ino && ds.st_dev == ss.st_dev) {
		ret = -EINVAL;
		goto done;
	}
	if (S_ISREG(ds.st_mode) && ftruncate(out, 0) == -1) {
		ret = -errno;
		goto done;
	}
	ret = uring_open(&ring, 1);
	if (ret < 0)
		goto done;
	have_ring = true;
	buf = malloc(bufsize);
	if (buf == NULL) {
		ret = -ENOMEM;
		goto done;
	}

	for (;;) {
		ssize_t got = read_loop(&c, in, buf, bufsize,
					S_ISREG(ss.st_mode) ? copied : -1);
		ssize_t put;

		if (got <= 0) {
			ret = got;
			break;
		}
		put = write_loop(&c, out, buf, (size_t)got,
				 S_ISREG(ds.st_mode) ? copied : -1);
		if (put < 0) {
			ret = put;
			break;
		}
		copied += (off_t)got;
		if ((size_t)got < bufsize)
			break;	/* read_loop stops short only at end of file */
	}

done:
	if (have_ring)
		io_uring_queue_exit(&ring);
	if (!c.buf_busy)
		free(buf);
	if (in != -1)
		close(in);
	if (out != -1 && close(out) == -1 && ret == 0)
		ret = -errno;
	return ret < 0 ? ret : copied;
}

int uring_probe_features(struct uring_features *out)
{
	struct io_uring_params params;
	struct io_uring ring;
	struct io_uring_probe *probe;
	int ret;

	if (out == NULL)
		return -EINVAL;
	memset(&params, 0, sizeof(params));
	ret = io_uring_queue_init_params(URING_PROBE_ENTRIES, &ring, &params);
	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	out->features = params.features;
	out->sq_entries = params.sq_entries;
	out->cq_entries = params.cq_entries;
	probe = io_uring_get_probe_ring(&ring);
	io_uring_queue_exit(&ring);
	if (probe == NULL)
		return 0;
	out->have_probe = true;
	out->last_op = probe->last_op;
	for (unsigned op = 0; op <= probe->last_op && op < URING_MAX_OPCODES; op++)
		out->op_supported[op] = io_uring_opcode_supported(probe, (int)op);
	io_uring_free_probe(probe);
	return 0;
}

struct name_value {
	const char *name;
	unsigned value;
};
#define NV(name) { #name, name },

int uring_feature_report(FILE *out)
{
	static const struct name_value feats[] = { URING_REPORT_FEATURES(NV) };
	static const struct name_value ops[] = { URING_REPORT_OPCODES(NV) };
	struct uring_features *f;
	char line[128];
	int ret = 0;

	if (out == NULL)
		return -EINVAL;
	f = malloc(sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	ret = uring_probe_features(f);
	if (ret < 0)
		goto out_free;

	snprintf(line, sizeof(line), "# io_uring features 0x%x, last_op %u%s\n",
		 f->features, f->last_op, f->have_probe ? "" : " (no probe)");
	if (fputs(line, out) == EOF)
		ret = -EIO;
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		snprintf(line, sizeof(line), "%s\t%s\n", feats[i].name,
			 (f->features & feats[i].value) ? "yes" : "no");
		if (fputs(line, out) == EOF)
			ret = -EIO;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(line, sizeof(line), "%s\t%s (opcode %u)\n", ops[i].name,
			 f->op_supported[ops[i].value] ? "yes" : "no",
			 ops[i].value);
		if (fputs(line, out) == EOF)
			ret = -EIO;
	}
	if (fflush(out) == EOF || ferror(out))
		ret = -EIO;
out_free:
	free(f);
	return ret;
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	struct io_uring ring;
	struct ctx c = { .ring = &ring };
	bool up = false;
	size_t i;
	int ret;

	if (qd == 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (reqs == NULL)
		return -EINVAL;

	for (i = 0; i < n; i++) {
		struct batch_req *r = &reqs[i];

		if (r->offset < 0) {
			r->res = -EINVAL;
			continue;
		}
		if (r->len == 0) {
			r->res = 0;
			continue;
		}
		if (!up) {
			ret = uring_open(&ring, 1);
			if (ret < 0)
				return ret;
			up = true;
		}
		r->res = read_loop(&c, r->fd, r->buf, r->len, r->offset);
		if (c.ring_err)
			break;
	}
	if (c.ring_err)
		for (i++; i < n; i++)
			reqs[i].res = c.ring_err;
	if (up)
		io_uring_queue_exit(&ring);
	return 0;
}
