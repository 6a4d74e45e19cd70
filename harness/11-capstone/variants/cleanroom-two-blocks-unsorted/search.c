/*
 * search.c - chapter 11, variant cleanroom-two-blocks-unsorted.
 *
 * A correct chapter 11 module written from the lesson (chapters/11-capstone/
 * README.md), ann.h, batch.h, the skeleton and the man pages alone, without
 * reading the reference or the tests (clean room, December 2026). It scored
 * full marks as first written; make test requires full marks from it, so
 * that the tests ask for what ann.h says and not for the reference's shape.
 * (As first written it kept all its state in one block, which it left
 * allocated when the ring failed with reads in flight: ann.h frees "the rest
 * of the query's state", and 11.34, which counts blocks, could not tell.
 * The buffers now have a block of their own.)
 *
 * Shape: two allocations per query: the W sector buffers in one
 * posix_memalign'd block, and everything else in one malloc'd block (the
 * list, the best k, the requests, slot bookkeeping, a seen byte per
 * node); the candidate list
 * is an unsorted array (nearest unread found by a scan, the farthest
 * replaced when full); the k best an unsorted array sorted with qsort at
 * the end. ann_search checks every request's res before it parses any
 * node. ann_search_uring keeps a stack of free slots, submits with
 * io_uring_submit and then waits apart with io_uring_wait_cqe, and reaps
 * with io_uring_peek_batch_cqe + io_uring_cq_advance.
 */
#define _GNU_SOURCE
#include "ann.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ent {
	float d;
	uint32_t id;
	uint32_t read; /* taken: read or in flight */
};

struct q {
	const struct ann_index *idx;
	const float *query;
	unsigned k, L, W;
	void *block;         /* everything but the sector buffers */
	unsigned char *bufs; /* W * ANN_SECTOR, a block of their own */
	struct ent *list;
	unsigned nl;
	struct ent *top;     /* the best k, unsorted */
	unsigned nt;
	struct batch_req *reqs;
	uint32_t *slot_node;
	unsigned *free_slots;
	unsigned nfree;
	unsigned char *seen;
};

static size_t up8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

static int q_init(struct q *q, const struct ann_index *idx, const float *query,
		  const struct ann_params *p)
{
	size_t o_list = 0;
	size_t o_top = o_list + up8((size_t)p->L * sizeof(struct ent));
	size_t o_reqs = o_top + up8((size_t)p->k * sizeof(struct ent));
	size_t o_sn = o_reqs + up8((size_t)p->W * sizeof(struct batch_req));
	size_t o_fs = o_sn + up8((size_t)p->W * sizeof(uint32_t));
	size_t o_seen = o_fs + up8((size_t)p->W * sizeof(unsigned));
	size_t total = o_seen + idx->h.n;
	void *b = malloc(total), *bufs;
	if (b == NULL)
		return -ENOMEM;
	if (posix_memalign(&bufs, ANN_SECTOR, (size_t)p->W * ANN_SECTOR) != 0) {
		free(b);
		return -ENOMEM;
	}
	memset(q, 0, sizeof(*q));
	q->idx = idx;
	q->query = query;
	q->k = p->k;
	q->L = p->L;
	q->W = p->W;
	q->block = b;
	q->bufs = bufs;
	q->list = (struct ent *)((char *)b + o_list);
	q->top = (struct ent *)((char *)b + o_top);
	q->reqs = (struct batch_req *)((char *)b + o_reqs);
	q->slot_node = (uint32_t *)((char *)b + o_sn);
	q->free_slots = (unsigned *)((char *)b + o_fs);
	q->seen = (unsigned char *)b + o_seen;
	memset(q->seen, 0, idx->h.n);
	for (unsigned i = 0; i < p->W; i++)
		q->free_slots[i] = p->W - 1 - i;
	q->nfree = p->W;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->d < y->d)
		return -1;
	if (x->d > y->d)
		return 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* x nearer than y: by distance, then smaller id. */
static bool nearer(const struct ent *x, const struct ent *y)
{
	return cmp_ent(x, y) < 0;
}

static unsigned worst_of(const struct ent *a, unsigned n)
{
	unsigned w = 0;
	for (unsigned i = 1; i < n; i++)
		if (nearer(&a[w], &a[i]))
			w = i;
	return w;
}

static void offer(struct q *q, uint32_t id)
{
	struct ent e = { ann_approx_dist(q->idx, q->query, id), id, 0 };
	if (q->nl < q->L) {
		q->list[q->nl++] = e;
		return;
	}
	unsigned w = worst_of(q->list, q->nl);
	if (nearer(&e, &q->list[w]))
		q->list[w] = e;
}

static void keep_best(struct q *q, uint32_t id, float d)
{
	struct ent e = { d, id, 0 };
	if (q->nt < q->k) {
		q->top[q->nt++] = e;
		return;
	}
	unsigned w = worst_of(q->top, q->nt);
	if (nearer(&e, &q->top[w]))
		q->top[w] = e;
}

/* The nearest entry not yet taken, or -1. */
static int nearest_unread(const struct q *q)
{
	int b = -1;
	for (unsigned i = 0; i < q->nl; i++) {
		if (q->list[i].read)
			continue;
		if (b < 0 || nearer(&q->list[i], &q->list[b]))
			b = (int)i;
	}
	return b;
}

static void begin(struct q *q)
{
	uint32_t e = q->idx->h.entry;
	q->seen[e] = 1;
	offer(q, e);
}

static int check_res(ssize_t res)
{
	if (res < 0)
		return (int)res;
	if (res < (ssize_t)ANN_SECTOR)
		return -EIO;
	return 0;
}

/* A sector whose res was checked: parse, score, offer the neighbours. */
static int visit(struct q *q, uint32_t id, const void *sector)
{
	const float *vec;
	const uint32_t *nb;
	unsigned nn;
	int rc = ann_node_parse(q->idx, id, sector, ANN_SECTOR, &vec, &nb, &nn);
	if (rc)
		return rc;
	keep_best(q, id, ann_dist(q->query, vec, q->idx->h.dim));
	for (unsigned i = 0; i < nn; i++) {
		if (q->seen[nb[i]])
			continue;
		q->seen[nb[i]] = 1;
		offer(q, nb[i]);
	}
	return 0;
}

static int finish(struct q *q, uint32_t *ids, float *dists, struct ann_stats *stats,
		  unsigned hops, unsigned reads)
{
	qsort(q->top, q->nt, sizeof(*q->top), cmp_ent);
	for (unsigned i = 0; i < q->nt; i++) {
		ids[i] = q->top[i].id;
		if (dists)
			dists[i] = q->top[i].d;
	}
	if (stats) {
		stats->hops = hops;
		stats->reads = reads;
	}
	return (int)q->nt;
}

static int bad_args(const struct ann_params *p)
{
	if (p->k == 0 || p->k > ANN_MAX_K)
		return 1;
	if (p->L < p->k || p->L > ANN_MAX_L)
		return 1;
	if (p->W == 0 || p->W > p->L)
		return 1;
	return 0;
}

int ann_search(const struct ann_index *idx, const struct ann_io *io, const float *query,
	       const struct ann_params *p, uint32_t *ids, float *dists, struct ann_stats *stats)
{
	if (idx == NULL || io == NULL || io->read == NULL || query == NULL || p == NULL ||
	    ids == NULL || bad_args(p))
		return -EINVAL;
	struct q q;
	int rc = q_init(&q, idx, query, p);
	if (rc)
		return rc;
	begin(&q);
	unsigned hops = 0, reads = 0;
	unsigned m;
	do {
		m = 0;
		int i;
		while (m < q.W && (i = nearest_unread(&q)) >= 0) {
			q.list[i].read = 1;
			q.slot_node[m] = q.list[i].id;
			q.reqs[m].fd = io->fd;
			q.reqs[m].offset = ann_node_offset(q.list[i].id);
			q.reqs[m].len = ANN_SECTOR;
			q.reqs[m].buf = q.bufs + (size_t)m * ANN_SECTOR;
			q.reqs[m].res = -EIO;
			m++;
		}
		if (m == 0)
			break;
		rc = io->read(io->ctx, q.reqs, m);
		hops++;
		reads += m;
		if (rc < 0)
			goto done;
		for (unsigned j = 0; j < m; j++)
			if ((rc = check_res(q.reqs[j].res)) != 0)
				goto done;
		for (unsigned j = 0; j < m; j++)
			if ((rc = visit(&q, q.slot_node[j], q.reqs[j].buf)) != 0)
				goto done;
	} while (1);
	rc = finish(&q, ids, dists, stats, hops, reads);
done:
	free(q.bufs);
	free(q.block);
	return rc;
}

int ann_search_uring(const struct ann_index *idx, struct io_uring *ring, int fd,
		     const float *query, const struct ann_params *p, uint32_t *ids, float *dists,
		     struct ann_stats *stats)
{
	if (idx == NULL || ring == NULL || query == NULL || p == NULL || ids == NULL ||
	    bad_args(p) || ring->sq.ring_entries < p->W)
		return -EINVAL;
	struct q q;
	int rc = q_init(&q, idx, query, p);
	if (rc)
		return rc;
	begin(&q);
	unsigned hops = 0, reads = 0, pending = 0; /* pending: SQEs not yet submitted */
	int first_err = 0;

	for (;;) {
		if (first_err == 0) {
			int i;
			while (q.nfree > 0 && (i = nearest_unread(&q)) >= 0) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
				if (sqe == NULL)
					break;
				unsigned slot = q.free_slots[--q.nfree];
				q.list[i].read = 1;
				q.slot_node[slot] = q.list[i].id;
				io_uring_prep_read(sqe, fd, q.bufs + (size_t)slot * ANN_SECTOR,
						   ANN_SECTOR, (uint64_t)ann_node_offset(q.list[i].id));
				io_uring_sqe_set_data64(sqe, slot);
				pending++;
				reads++;
			}
		}
		if (pending) {
			if (first_err == 0)
				hops++;
			int s;
			while ((s = io_uring_submit(ring)) == -EINTR)
				;
			if (s < 0) {
				rc = s;
				goto ring_failed;
			}
			pending = (unsigned)s >= pending ? 0 : pending - (unsigned)s;
		}
		if (q.nfree == q.W)
			break; /* nothing in flight */
		struct io_uring_cqe *cqe;
		int w;
		while ((w = io_uring_wait_cqe(ring, &cqe)) == -EINTR)
			;
		if (w < 0) {
			rc = w;
			goto ring_failed;
		}
		struct io_uring_cqe *batch[16];
		unsigned got;
		while ((got = io_uring_peek_batch_cqe(ring, batch, 16)) > 0) {
			for (unsigned c = 0; c < got; c++) {
				unsigned slot = (unsigned)io_uring_cqe_get_data64(batch[c]);
				int res = batch[c]->res;
				if (res == -EAGAIN && first_err == 0) {
					struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
					if (sqe != NULL) {
						io_uring_prep_read(sqe, fd,
								   q.bufs + (size_t)slot * ANN_SECTOR,
								   ANN_SECTOR,
								   (uint64_t)ann_node_offset(q.slot_node[slot]));
						io_uring_sqe_set_data64(sqe, slot);
						pending++;
						continue;
					}
					res = -EBUSY;
				}
				q.free_slots[q.nfree++] = slot;
				if (first_err)
					continue;
				int e = check_res(res);
				if (e == 0)
					e = visit(&q, q.slot_node[slot],
						  q.bufs + (size_t)slot * ANN_SECTOR);
				if (e)
					first_err = e;
			}
			io_uring_cq_advance(ring, got);
		}
	}
	if (first_err)
		rc = first_err;
	else
		rc = finish(&q, ids, dists, stats, hops, reads);
	free(q.bufs);
	free(q.block);
	return rc;
ring_failed:
	/* The kernel may still write into the slots' buffers: they stay
	 * allocated while any read is in flight; the rest is freed. */
	if (q.nfree == q.W)
		free(q.bufs);
	free(q.block);
	return rc;
}
