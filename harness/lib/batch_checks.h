/*
 * batch_checks.h - inputs and expected results for the tests of a batch
 * read (chapters/common/batch.h): the helpers every chapter's batch tests
 * share (06, 08; chapter 10's battery will build on them).
 *
 * Expected bytes come from the harness's own random data, generated from
 * the printed seed: a failure names the seed to rerun with.
 *
 * Header-only, like ring_watch.h: a test file includes it once and leaves
 * unused what it does not need.
 */
#ifndef BATCH_CHECKS_H
#define BATCH_CHECKS_H

#include "grade.h"
#include "batch.h"

#include <fcntl.h>
#include <stdlib.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* A file of `size` random bytes, open for reading; its bytes in *data. */
static int data_file(const char *name, size_t size, unsigned char **data)
{
	*data = grade_random_bytes(size);
	return grade_open(grade_make_file(name, *data, size), O_RDONLY);
}

/* What a request should hold after the batch, from the file's data. */
static ssize_t expected_res(const struct batch_req *q, size_t size)
{
	size_t off;

	if (q->offset < 0)
		return -EINVAL;
	off = (size_t)q->offset;
	if (off >= size)
		return 0;
	return (ssize_t)(size - off < q->len ? size - off : q->len);
}

/* Request i of a batch on a file of `size` bytes whose bytes are `data`:
 * its res, then its buffer. `what` says which batch, for the message. */
static void check_req(const struct batch_req *q, size_t i, const unsigned char *data,
		      size_t size, const char *what)
{
	ssize_t want = expected_res(q, size), at;

	grade_check(q->res == want, "%s: request %zu (offset %lld, len %zu, file of %zu bytes): "
		    "res is %s, expected %s (seed %llu; rerun with make check CH=%s SEED=%llu)",
		    what, i, (long long)q->offset, q->len, size, grade_errno_str(q->res),
		    grade_errno_str(want), (unsigned long long)grade_seed(), GRADE_CHAPTER,
		    (unsigned long long)grade_seed());
	if (want <= 0)
		return;
	at = grade_first_diff(q->buf, data + q->offset, (size_t)want);
	grade_check(at < 0, "%s: request %zu (offset %lld, len %zu): res %zd is right but byte "
		    "%zd of its buffer is wrong: the data of another request, of another offset "
		    "or (registered buffers) of another slot (seed %llu)", what, i,
		    (long long)q->offset, q->len, q->res, at, (unsigned long long)grade_seed());
}

/* n requests of random ranges of a file of `size` bytes (some past its end,
 * one in ten of length 0), each with its own buffer (free_reqs). */
static struct batch_req *random_reqs(int fd, size_t n, size_t size, size_t maxlen)
{
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));

	for (size_t i = 0; i < n; i++) {
		reqs[i].fd = fd;
		reqs[i].offset = (off_t)grade_rand_below(size + size / 8);
		reqs[i].len = grade_rand_below(10) == 0 ? 0 : 1 + grade_rand_below(maxlen);
		reqs[i].buf = grade_xmalloc(reqs[i].len);
		reqs[i].res = 0x5a5a;
	}
	return reqs;
}

/* n blocks of bs bytes, block i at offset i * bs, buffers in one array. */
static struct batch_req *block_reqs(int fd, size_t n, size_t bs, unsigned char *bufs)
{
	struct batch_req *reqs = grade_xmalloc(n * sizeof(*reqs));

	for (size_t i = 0; i < n; i++)
		reqs[i] = (struct batch_req){ fd, (off_t)(i * bs), bs, bufs + i * bs, 0x5a5a };
	return reqs;
}

static void free_reqs(struct batch_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(reqs[i].buf);
	free(reqs);
}

#pragma GCC diagnostic pop

#endif /* BATCH_CHECKS_H */
