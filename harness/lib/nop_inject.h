/*
 * nop_inject.h - can this kernel's IORING_OP_NOP complete with a result it
 * is given (IORING_NOP_INJECT_RESULT)? The watch (ring_watch.h) makes its
 * stand-in NOPs carry the result they stand for when it can, and chapter
 * 05's tests skip those that need it when it cannot.
 *
 * Asked on a 2-entry ring of its own through the real liburing calls
 * (SEAM_REAL: the code under test's counts and hooks never see it), before
 * the code under test runs; the wait for the NOP is bounded (2 s). A
 * program built without the seams (tools/probe.c) defines
 * NOP_INJECT_CALL(name) as name before it includes this. Header-only.
 */
#ifndef NOP_INJECT_H
#define NOP_INJECT_H

#ifndef NOP_INJECT_CALL
#include "seams.h"
#define NOP_INJECT_CALL(name) SEAM_REAL(name)
#endif

#include <errno.h>
#include <liburing.h>

/* liburing 2.3's headers predate it; the kernel's value (io_uring.h). */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif

/* 1: a NOP given -EAGAIN completes with -EAGAIN; 0: it does not (an older
 * kernel ignores the flag and says 0); -1: no ring could be set up. */
static inline int nop_inject_probe(void)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int works = 0;

	if (NOP_INJECT_CALL(io_uring_queue_init)(2, &ring, 0) != 0)
		return -1;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->rw_flags = IORING_NOP_INJECT_RESULT;
	sqe->len = (__u32)-EAGAIN;
	if (NOP_INJECT_CALL(io_uring_submit)(&ring) == 1 &&
	    NOP_INJECT_CALL(io_uring_wait_cqe_timeout)(&ring, &cqe, &ts) == 0) {
		works = cqe->res == -EAGAIN;
		io_uring_cqe_seen(&ring, cqe);
	}
	NOP_INJECT_CALL(io_uring_queue_exit)(&ring);
	return works;
}

#endif /* NOP_INJECT_H */
