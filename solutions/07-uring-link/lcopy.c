/*
 * lcopy.c - chapter 07 reference program: copy SRC DST as linked
 * read -> write pairs (ulink_copy()).
 *
 *     lcopy SRC DST
 *
 * The same command line and behaviour as chapter 06's copy: SRC must be a
 * regular file; DST is created with mode 0644 (less the umask) or
 * truncated if it exists; SRC and DST may not be the same file. Exit
 * status 0 on success, silently; otherwise a message on stderr and status
 * 1 (2 for a usage error).
 *
 * Chapter 06's copy moved each block through a little state machine of its
 * own (read, then write). Here the kernel chains the two: each block is a
 * read SQE with IOSQE_IO_LINK and a write SQE, so the whole copy is one
 * call, and the program is only the opening and the messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ulink.h"

#define RING 16u             /* SQ entries: room for PAIRS pairs      */
#define BLOCK (128u * 1024u) /* bytes per read -> write pair          */
#define PAIRS 8u             /* pairs in flight at once               */

struct files {
	const char *src, *dst;
	int in, out;
	off_t size; /* SRC's size when we opened it */
};

static int complain(const char *path, int err)
{
	fprintf(stderr, "lcopy: %s: %s\n", path, strerror(err));
	return -1;
}

static int open_files(struct files *f)
{
	struct stat in_st, out_st;

	f->in = open(f->src, O_RDONLY | O_CLOEXEC);
	if (f->in < 0 || fstat(f->in, &in_st) < 0)
		return complain(f->src, errno);
	if (!S_ISREG(in_st.st_mode)) {
		fprintf(stderr, "lcopy: %s: not a regular file\n", f->src);
		return -1;
	}
	/* No O_TRUNC yet: if DST is SRC, truncating it would destroy the data
	 * before we could notice. */
	f->out = open(f->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f->out < 0 || fstat(f->out, &out_st) < 0)
		return complain(f->dst, errno);
	if (in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
		fprintf(stderr, "lcopy: %s and %s are the same file\n", f->src,
		        f->dst);
		return -1;
	}
	if (S_ISREG(out_st.st_mode) && ftruncate(f->out, 0) < 0)
		return complain(f->dst, errno);
	f->size = in_st.st_size;
	return 0;
}

/*
 * ulink_copy() returns an errno value, not which file it came from. The
 * errors only a write can give name DST; -EIO may be either (a shrinking
 * SRC, or a failing disk under DST), so it names both; the rest name SRC.
 */
static void copy_failed(const struct files *f, int err)
{
	switch (err) {
	case ENOSPC: case EFBIG: case EDQUOT: case EROFS: case EPIPE:
		complain(f->dst, err);
		break;
	case EIO:
		fprintf(stderr, "lcopy: %s -> %s: %s\n", f->src, f->dst,
		        strerror(err));
		break;
	default:
		complain(f->src, err);
	}
}

static int copy(const struct files *f)
{
	struct ulink u;
	int ret = ulink_init(&u, RING);

	if (ret < 0) { /* -errno, not errno */
		fprintf(stderr, "lcopy: io_uring: %s%s\n", strerror(-ret),
		        ret == -EPERM || ret == -ENOSYS
		                ? " (io_uring blocked or missing: see make doctor)"
		                : ret == -ENOMEM ? " (RLIMIT_MEMLOCK too small?)" : "");
		return -1;
	}
	ret = ulink_copy(&u, f->in, f->out, f->size, BLOCK, PAIRS);
	ulink_exit(&u);
	if (ret < 0) {
		copy_failed(f, -ret);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct files f = { .in = -1, .out = -1 };
	int status = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: lcopy SRC DST\n");
		return 2;
	}
	f.src = argv[1];
	f.dst = argv[2];

	/* Past RLIMIT_FSIZE a write raises SIGXFSZ, which would kill us with
	 * no message; ignored, the write fails with EFBIG instead. */
	signal(SIGXFSZ, SIG_IGN);

	if (open_files(&f) == 0 && copy(&f) == 0)
		status = 0;
	if (f.in >= 0)
		close(f.in);
	/* close() is where some filesystems report a failed write. */
	if (f.out >= 0 && close(f.out) < 0 && status == 0) {
		complain(f.dst, errno);
		status = 1;
	}
	return status;
}
