/*
 * A correct chapter 11 module shaped differently from the reference
 * (harness/NN-topic/variants/: make test requires full marks from it, so
 * that the tests ask for what ann.h says and not for the reference's
 * shape). The reference's, except that ann_search_uring hands the queued
 * reads over with io_uring_submit (a hop per submit that succeeded, -EINTR
 * called again) and then waits apart with io_uring_wait_cqe: two system
 * calls where the reference makes one (io_uring_submit_and_wait).
 */
/*
 * search.c - chapter 11, the reference: the beam search's I/O loop (ann.h).
 *
 * One query is a walk over the graph that lives on disk. What the search
 * knows of a node before reading it is an estimate (its compressed vector,
 * in memory); reading the node gives its exact vector and its neighbours.
 * So each hop reads the W most promising nodes not read yet, all in one
 * batch: the reads of a hop do not depend on each other, and one batch lets
 * the reader keep them all in flight at once instead of waiting for each in
 * turn. That is the whole difference between a search bound by W reads'
 * latency per hop and one bound by one read's.
 *
 * The state of a query:
 *   list     the candidates: at most L nodes, nearest estimate first, each
 *            marked read or not (a sorted array: L is small, and keeping it
 *            sorted makes "the W nearest not read yet" one scan);
 *   seen     one bit per node of the index: a node goes into the list at
 *            most once per query, so it is read at most once;
 *   best     the k nearest nodes read so far, by exact distance;
 *   sectors  W buffers of ANN_SECTOR bytes, aligned for O_DIRECT, and the W
 *            requests of a hop.
 * Everything is allocated per query and freed before returning, on every
 * path: ann_search keeps nothing, so threads may run queries side by side.
 */
#define _GNU_SOURCE
#include "ann.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct candidate {
	float est;      /* estimated distance (compressed vector) */
	uint32_t id;
	bool read;
};

struct hit {
	float dist;     /* exact squared distance */
	uint32_t id;
};

struct query {
	const struct ann_index *idx;
	const float *q;
	unsigned L, k;
	struct candidate *list;
	unsigned nlist;
	uint64_t *seen;
	struct hit *best;
	unsigned nbest;
	struct batch_req *reqs;
	unsigned char *sectors;
	uint32_t *frontier;     /* ann_search: the hop's nodes; ann_search_uring:
	                           the node each buffer (slot) is reading */
	bool *busy;             /* ann_search_uring: slot i has a read in flight */
};

/* Ordering of both lists: nearer first, and between equal distances the
 * smaller id, so that a query's answer does not depend on arrival order. */
static bool closer(float da, uint32_t a, float db, uint32_t b)
{
	return da < db || (da == db && a < b);
}

static bool seen_test_and_set(uint64_t *seen, uint32_t id)
{
	uint64_t bit = UINT64_C(1) << (id % 64);
	bool was = seen[id / 64] & bit;

	seen[id / 64] |= bit;
	return was;
}

/* Put a node into the candidate list at its place; when the list is full
 * the farthest candidate falls off (or the newcomer, if it is the farthest). */
static void list_insert(struct query *s, uint32_t id, float est)
{
	unsigned lo = 0, hi = s->nlist;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (closer(s->list[mid].est, s->list[mid].id, est, id))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->L)
		return;                 /* farther than all L kept */
	if (s->nlist == s->L)
		s->nlist--;             /* the farthest makes room */
	memmove(&s->list[lo + 1], &s->list[lo], (s->nlist - lo) * sizeof(s->list[0]));
	s->list[lo] = (struct candidate){ .est = est, .id = id, .read = false };
	s->nlist++;
}

/* Keep the k nearest nodes read so far (insertion into a sorted array). */
static void best_insert(struct query *s, uint32_t id, float dist)
{
	unsigned i = s->nbest < s->k ? s->nbest++ : s->k;

	if (i == s->k) {
		/* full: the newcomer must beat the farthest kept */
		if (!closer(dist, id, s->best[s->k - 1].dist, s->best[s->k - 1].id))
			return;
		i = s->k - 1;
	}
	while (i > 0 && closer(dist, id, s->best[i - 1].dist, s->best[i - 1].id)) {
		s->best[i] = s->best[i - 1];
		i--;
	}
	s->best[i] = (struct hit){ .dist = dist, .id = id };
}

/* The W nearest candidates not read yet, marked read now: each is read at
 * most once even if the hop fails half way. */
static unsigned pick_frontier(struct query *s, unsigned W)
{
	unsigned m = 0;

	for (unsigned i = 0; i < s->nlist && m < W; i++) {
		if (s->list[i].read)
			continue;
		s->list[i].read = true;
		s->frontier[m++] = s->list[i].id;
	}
	return m;
}

/* One node as read: check it, score it exactly, and offer its neighbours. */
static int expand(struct query *s, uint32_t id, const void *sector, ssize_t res)
{
	const float *vec;
	const uint32_t *nbrs;
	unsigned nnbrs;
	int rc;

	if (res < 0)
		return (int)res;
	if ((size_t)res < ANN_SECTOR)
		return -EIO;            /* the index file is cut short */
	rc = ann_node_parse(s->idx, id, sector, (size_t)res, &vec, &nbrs, &nnbrs);
	if (rc < 0)
		return rc;
	best_insert(s, id, ann_dist(s->q, vec, s->idx->h.dim));
	for (unsigned j = 0; j < nnbrs; j++) {
		if (seen_test_and_set(s->seen, nbrs[j]))
			continue;
		list_insert(s, nbrs[j], ann_approx_dist(s->idx, s->q, nbrs[j]));
	}
	return 0;
}

/* Every walk starts with the entry node, seen and in the list. */
static void start_at_entry(struct query *s)
{
	seen_test_and_set(s->seen, s->idx->h.entry);
	list_insert(s, s->idx->h.entry, ann_approx_dist(s->idx, s->q, s->idx->h.entry));
}

/* The hops, until every candidate of the list has been read. */
static int walk(struct query *s, const struct ann_io *io, unsigned W, struct ann_stats *st)
{
	unsigned m;

	start_at_entry(s);

	while ((m = pick_frontier(s, W)) > 0) {
		int rc;

		for (unsigned i = 0; i < m; i++)
			s->reqs[i] = (struct batch_req){
				.fd = io->fd,
				.offset = ann_node_offset(s->frontier[i]),
				.len = ANN_SECTOR,
				.buf = s->sectors + (size_t)i * ANN_SECTOR,
				.res = 0,
			};
		/* The whole frontier in one call: the reader decides how many
		 * are in flight, but it can only overlap what it is given. */
		rc = io->read(io->ctx, s->reqs, m);
		st->hops++;
		st->reads += m;
		if (rc < 0)
			return rc;
		for (unsigned i = 0; i < m; i++) {
			rc = expand(s, s->frontier[i], s->reqs[i].buf, s->reqs[i].res);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static bool params_ok(const struct ann_params *p)
{
	return p->k >= 1 && p->k <= ANN_MAX_K && p->L >= p->k && p->L <= ANN_MAX_L &&
	       p->W >= 1 && p->W <= p->L;
}

static void query_free(struct query *s)
{
	free(s->list);
	free(s->seen);
	free(s->best);
	free(s->reqs);
	free(s->frontier);
	free(s->busy);
	free(s->sectors);
}

static int query_alloc(struct query *s, unsigned W)
{
	void *sectors = NULL;

	s->list = calloc(s->L, sizeof(*s->list));
	s->seen = calloc(((size_t)s->idx->h.n + 63) / 64, sizeof(*s->seen));
	s->best = calloc(s->k, sizeof(*s->best));
	s->reqs = calloc(W, sizeof(*s->reqs));
	s->frontier = calloc(W, sizeof(*s->frontier));
	s->busy = calloc(W, sizeof(*s->busy));
	/* O_DIRECT wants the buffer aligned as well as the offset and length */
	if (posix_memalign(&sectors, ANN_SECTOR, (size_t)W * ANN_SECTOR) == 0)
		s->sectors = sectors;
	if (!s->list || !s->seen || !s->best || !s->reqs || !s->frontier || !s->busy ||
	    !s->sectors)
		return -ENOMEM;
	return 0;
}

/* The k nearest nodes read, nearest first; returns how many. */
static int results(const struct query *s, uint32_t *ids, float *dists)
{
	for (unsigned i = 0; i < s->nbest; i++) {
		ids[i] = s->best[i].id;
		if (dists)
			dists[i] = s->best[i].dist;
	}
	return (int)s->nbest;
}

int ann_search(const struct ann_index *idx, const struct ann_io *io, const float *query,
	       const struct ann_params *p, uint32_t *ids, float *dists, struct ann_stats *stats)
{
	struct query s = { 0 };
	struct ann_stats st = { 0 };
	int rc;

	if (!idx || !io || !io->read || !query || !p || !ids || !params_ok(p))
		return -EINVAL;
	s.idx = idx;
	s.q = query;
	s.L = p->L;
	s.k = p->k;
	rc = query_alloc(&s, p->W);
	if (rc == 0)
		rc = walk(&s, io, p->W, &st);
	if (rc == 0)
		rc = results(&s, ids, dists);
	if (stats)
		*stats = st;
	query_free(&s);
	return rc;
}

/* ======================================================= ann_search_uring
 *
 * The same walk with the reads pipelined on the caller's ring. Each of the
 * W buffers is a slot: a read in flight into slot i has user_data i, and
 * frontier[i] says which node it reads. As soon as a read completes, its
 * node's neighbours join the list and the slot takes the nearest candidate
 * not read yet: the other reads go on meanwhile, and no read waits for the
 * slowest of a hop.
 */

struct pipeline {
	struct query *s;
	struct io_uring *ring;
	int fd;
	unsigned W;
	unsigned inflight;      /* reads queued or in the kernel, CQE not reaped */
	int err;                /* the search's first error: stop, drain, return */
	struct ann_stats st;
};

static void prep_slot(struct pipeline *pl, struct io_uring_sqe *sqe, unsigned slot)
{
	io_uring_prep_read(sqe, pl->fd, pl->s->sectors + (size_t)slot * ANN_SECTOR, ANN_SECTOR,
			   (__u64)ann_node_offset(pl->s->frontier[slot]));
	io_uring_sqe_set_data64(sqe, slot);
}

/* Step 1: queue a read for each free slot, nearest candidates first. */
static int fill(struct pipeline *pl)
{
	struct query *s = pl->s;
	unsigned slot = 0;

	for (unsigned i = 0; i < s->nlist && pl->inflight < pl->W; i++) {
		struct io_uring_sqe *sqe;

		if (s->list[i].read)
			continue;
		while (s->busy[slot])
			slot++;         /* fewer than W busy: a free one exists */
		sqe = io_uring_get_sqe(pl->ring);
		if (!sqe)
			return -EBUSY;  /* the SQ is not ours alone (SQPOLL, or not
			                   empty on entry): the contract's ring is */
		s->list[i].read = true;
		s->busy[slot] = true;
		s->frontier[slot] = s->list[i].id;
		prep_slot(pl, sqe, slot);
		pl->inflight++;
		pl->st.reads++;
	}
	return 0;
}

/* Hand the kernel what step 1 queued and wait for a completion, in one
 * system call (io_uring_submit_and_wait), or only wait when nothing was
 * queued. -EINTR means a signal arrived: nothing is lost, call again. */
static int submit_and_wait_one(struct pipeline *pl)
{
	struct io_uring_cqe *cqe;
	int rc;

	while (io_uring_sq_ready(pl->ring) > 0) {
		rc = io_uring_submit(pl->ring);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			return rc;
		pl->st.hops++;
	}
	do
		rc = io_uring_wait_cqe(pl->ring, &cqe);
	while (rc == -EINTR);
	return rc < 0 ? rc : 0;
}

/* Step 3: every completion ready, each handled (or, once the search has
 * failed, only counted out: draining). */
static void reap(struct pipeline *pl)
{
	struct query *s = pl->s;
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(pl->ring, &cqe) == 0) {
		__u64 slot = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(pl->ring, cqe);
		if (slot >= pl->W || !s->busy[slot]) {
			/* not one of ours: the ring was not empty on entry */
			pl->err = pl->err ? pl->err : -EINVAL;
			continue;
		}
		if (res == -EAGAIN && !pl->err) {
			/* nothing was read: the same read again, in the same
			 * slot (still in flight, not a new read) */
			struct io_uring_sqe *sqe = io_uring_get_sqe(pl->ring);

			if (sqe) {
				prep_slot(pl, sqe, (unsigned)slot);
				continue;
			}
			res = -EBUSY;
		}
		s->busy[slot] = false;
		pl->inflight--;
		if (!pl->err)   /* draining after an error: counted out only */
			pl->err = expand(s, s->frontier[slot], s->sectors + slot * ANN_SECTOR, res);
	}
}

/* Returns 0 or the search's error; a ring that failed under us comes back
 * as *broken: reads may still be in flight. */
static int walk_uring(struct pipeline *pl, bool *broken)
{
	int rc;

	start_at_entry(pl->s);
	for (;;) {
		if (!pl->err)
			pl->err = fill(pl);
		if (pl->inflight == 0)
			return pl->err;         /* nothing queued either */
		rc = submit_and_wait_one(pl);
		if (rc < 0)
			break;
		reap(pl);
	}
	/* The ring failed: the kernel may still hold reads into our buffers. */
	*broken = pl->inflight > 0;
	return rc;
}

int ann_search_uring(const struct ann_index *idx, struct io_uring *ring, int fd,
		     const float *query, const struct ann_params *p, uint32_t *ids, float *dists,
		     struct ann_stats *stats)
{
	struct query s = { 0 };
	struct pipeline pl = { 0 };
	bool broken = false;
	int rc;

	if (!idx || !ring || !query || !p || !ids || !params_ok(p))
		return -EINVAL;
	if (ring->sq.ring_entries < p->W)
		return -EINVAL;         /* W reads could not be queued at once */
	s.idx = idx;
	s.q = query;
	s.L = p->L;
	s.k = p->k;
	rc = query_alloc(&s, p->W);
	if (rc == 0) {
		pl = (struct pipeline){ .s = &s, .ring = ring, .fd = fd, .W = p->W };
		rc = walk_uring(&pl, &broken);
	}
	if (rc == 0)
		rc = results(&s, ids, dists);
	if (stats)
		*stats = pl.st;
	if (broken) {
		/* Leaked on purpose: the kernel may still write into them.
		 * The rest of the query is ours to free. */
		s.sectors = NULL;
	}
	query_free(&s);
	return rc;
}
