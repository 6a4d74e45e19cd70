/*
 * copy.c - chapter 06 clean-room variant "cleanroom-b": written from the
 * lesson and the skeleton alone (no look at the reference or the tests
 * first) by a colleague in a clean-room review.
 *
 * Shape: SRC opened O_RDONLY (blocking open), fstat'ed; DST stat'ed by name
 * first and refused if it is SRC's inode, then opened with O_TRUNC. The
 * slots live in one calloc'd array with their buffers; user_data is the
 * slot's index. Each trip: io_uring_submit, then io_uring_wait_cqe only if
 * the CQ is empty, then io_uring_peek_batch_cqe in chunks. A failed read or
 * write sets the error; slots then finish what they have in flight and
 * take no new block.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (128u * 1024u) /* bytes per request                */
#define SLOTS 8u             /* blocks in flight at once          */

struct slot {
	bool busy, writing;
	off_t pos;      /* block start            */
	size_t size;    /* block length           */
	size_t moved;   /* read or written so far */
	unsigned char buf[BLOCK];
};

static struct io_uring ring;
static struct slot *slots;
static int in_fd = -1, out_fd = -1;
static off_t total, cursor;
static bool ended;
static int failure;
static const char *failed_name;
static const char *src_path, *dst_path;

static void note(int err, const char *name)
{
	if (!failure) {
		failure = err;
		failed_name = name;
	}
}

static void step(unsigned k)
{
	struct slot *s = &slots[k];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	unsigned len = (unsigned)(s->size - s->moved);
	off_t at = s->pos + (off_t)s->moved;

	if (s->writing)
		io_uring_prep_write(sqe, out_fd, s->buf + s->moved, len, at);
	else
		io_uring_prep_read(sqe, in_fd, s->buf + s->moved, len, at);
	io_uring_sqe_set_data64(sqe, k);
}

static unsigned next_block(unsigned k)
{
	struct slot *s = &slots[k];

	s->busy = false;
	if (failure || ended || cursor >= total)
		return 0;
	s->busy = true;
	s->writing = false;
	s->pos = cursor;
	s->size = total - cursor > (off_t)BLOCK ? BLOCK : (size_t)(total - cursor);
	s->moved = 0;
	cursor += (off_t)s->size;
	step(k);
	return 1;
}

/* One CQE for slot k; returns 1 while the slot stays busy. */
static unsigned done(unsigned k, int res)
{
	struct slot *s = &slots[k];

	if (res == -EINTR) {
		step(k);
		return 1;
	}
	if (res < 0) {
		note(-res, s->writing ? dst_path : src_path);
		s->busy = false;
		return 0;
	}
	if (!s->writing && res == 0) {
		ended = true;       /* SRC is shorter than it was */
		s->size = s->moved;
	} else if (s->writing && res == 0) {
		note(EIO, dst_path);
		s->busy = false;
		return 0;
	} else {
		s->moved += (size_t)res;
	}
	if (s->moved < s->size) {
		if (failure) {
			s->busy = false;
			return 0;
		}
		step(k);
		return 1;
	}
	if (!s->writing && s->size > 0 && !failure) {
		s->writing = true;
		s->moved = 0;
		step(k);
		return 1;
	}
	return next_block(k);
}

int main(int argc, char **argv)
{
	struct stat st, dt;
	unsigned k, busy = 0;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
		return 2;
	}
	src_path = argv[1];
	dst_path = argv[2];

	in_fd = open(src_path, O_RDONLY);
	if (in_fd < 0 || fstat(in_fd, &st) < 0) {
		fprintf(stderr, "copy: cannot open source %s: %s\n", src_path,
		        strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "copy: source %s is not a regular file\n", src_path);
		return 1;
	}
	if (stat(dst_path, &dt) == 0 && dt.st_dev == st.st_dev &&
	    dt.st_ino == st.st_ino) {
		fprintf(stderr, "copy: %s and %s are the same file\n", src_path,
		        dst_path);
		return 1;
	}
	out_fd = open(dst_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out_fd < 0) {
		fprintf(stderr, "copy: cannot open destination %s: %s\n", dst_path,
		        strerror(errno));
		return 1;
	}
	total = st.st_size;

	slots = calloc(SLOTS, sizeof(*slots));
	if (!slots) {
		fprintf(stderr, "copy: out of memory\n");
		return 1;
	}
	ret = io_uring_queue_init(SLOTS, &ring, 0);
	if (ret < 0) {
		fprintf(stderr, "copy: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	for (k = 0; k < SLOTS; k++)
		busy += next_block(k);

	while (busy > 0) {
		struct io_uring_cqe *cqes[SLOTS];
		unsigned got, i;

		ret = io_uring_submit(&ring);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "copy: io_uring_submit: %s\n", strerror(-ret));
			return 1;
		}
		if (io_uring_cq_ready(&ring) == 0) {
			struct io_uring_cqe *cqe;

			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret < 0 && ret != -EINTR) {
				fprintf(stderr, "copy: io_uring_wait_cqe: %s\n",
				        strerror(-ret));
				return 1;
			}
		}
		while ((got = io_uring_peek_batch_cqe(&ring, cqes, SLOTS)) > 0) {
			for (i = 0; i < got; i++) {
				k = (unsigned)io_uring_cqe_get_data64(cqes[i]);
				busy -= 1;
				busy += done(k, cqes[i]->res);
			}
			io_uring_cq_advance(&ring, got);
		}
	}
	io_uring_queue_exit(&ring);
	free(slots);
	close(in_fd);
	if (close(out_fd) < 0)
		note(errno, dst_path);
	if (failure) {
		fprintf(stderr, "copy: %s: %s\n", failed_name, strerror(failure));
		return 1;
	}
	return 0;
}
