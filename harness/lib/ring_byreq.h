/*
 * ring_byreq.h - faults made per request, not per user_data, on a batch
 * read's io_uring (chapters 06 and 08). Included by a chapter's tests.c
 * after ring_watch.h and batch_checks.h; the test sets
 * watch.edit_sqe = byreq_edit after byreq_start and clears it after.
 */
#ifndef RING_BYREQ_H
#define RING_BYREQ_H

/*
 * Faults made per request, not per user_data: the contract (ubatch.h,
 * ufixed.h) does not say what user_data holds, and a module may put there a window slot (or a pointer
 * to one) that the next request reuses, where the watch's own cuts and
 * -EINTR rewrites (once per user_data) would reach only the first request
 * of each slot. Here a read belongs to the request whose buffer its data
 * address falls in: its first read starts at buf, the rest at buf + done.
 *   cut_first   every request's first read is cut to half its length once
 *   eintr_first every request's first read becomes a NOP whose CQE says
 *               -EINTR (nothing read); the read made again is left alone
 *   eintr_rest  with cut_first: the read of the rest (the first read after
 *               the cut, at buf + done) says -EINTR; made again, it is not
 *   poison_rest with cut_first: the read of the rest of the requests it
 *               picks fails (fd -1: -EBADF), an error after partial progress
 */
static struct {
	const struct batch_req *reqs;
	size_t n;
	unsigned char state[64];  /* per request: 0 untouched, 1 cut, 2 done */
	bool cut_first, eintr_first, eintr_rest;
	bool (*poison_rest)(size_t i);
	unsigned cut, eintrs, poisoned;
} byreq;

static void byreq_start(const struct batch_req *reqs, size_t n, bool cut_first,
			bool eintr_first, bool eintr_rest)
{
	grade_check(n <= sizeof(byreq.state), "harness: %zu requests for byreq", n);
	memset(&byreq, 0, sizeof(byreq));
	byreq.reqs = reqs;
	byreq.n = n;
	byreq.cut_first = cut_first;
	byreq.eintr_first = eintr_first;
	byreq.eintr_rest = eintr_rest;
}

static void byreq_edit(struct io_uring_sqe *sqe)
{
	uintptr_t a = (uintptr_t)watch_sqe_data(sqe);

	for (size_t i = 0; i < byreq.n; i++) {
		uintptr_t lo = (uintptr_t)byreq.reqs[i].buf;

		if (!lo || a < lo || a >= lo + byreq.reqs[i].len)
			continue;
		if (byreq.state[i] == 0 && a == lo && byreq.eintr_first) {
			watch_nop_sqe(sqe, -EINTR);
			byreq.state[i] = 2;
			byreq.eintrs++;
		} else if (byreq.state[i] == 0 && a == lo && byreq.cut_first) {
			bool cut = sqe->opcode == IORING_OP_READV ? watch_shrink_readv(sqe)
								  : sqe->len > 1;

			if (cut && sqe->opcode != IORING_OP_READV)
				sqe->len /= 2;
			byreq.state[i] = cut ? 1 : 2;
			byreq.cut += cut;
		} else if (byreq.state[i] == 1 && a != lo && byreq.poison_rest &&
			   byreq.poison_rest(i)) {
			sqe->fd = -1;
			sqe->flags &= (__u8)~IOSQE_FIXED_FILE;
			byreq.state[i] = 2;
			byreq.poisoned++;
		} else if (byreq.state[i] == 1 && a != lo && byreq.eintr_rest) {
			watch_nop_sqe(sqe, -EINTR);
			byreq.state[i] = 2;
			byreq.eintrs++;
		}
		return;
	}
}

#endif /* RING_BYREQ_H */
