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
	uint32_t *frontier;
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
static int expand(struct query *s, uint32_t id, const struct batch_req *req)
{
	const float *vec;
	const uint32_t *nbrs;
	unsigned nnbrs;
	int rc;

	if (req->res < 0)
		return (int)req->res;
	if ((size_t)req->res < ANN_SECTOR)
		return -EIO;            /* the index file is cut short */
	rc = ann_node_parse(s->idx, id, req->buf, (size_t)req->res, &vec, &nbrs, &nnbrs);
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

/* The hops, until every candidate of the list has been read. */
static int walk(struct query *s, const struct ann_io *io, unsigned W, struct ann_stats *st)
{
	unsigned m;

	seen_test_and_set(s->seen, s->idx->h.entry);
	list_insert(s, s->idx->h.entry, ann_approx_dist(s->idx, s->q, s->idx->h.entry));

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
			rc = expand(s, s->frontier[i], &s->reqs[i]);
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
	/* O_DIRECT wants the buffer aligned as well as the offset and length */
	if (posix_memalign(&sectors, ANN_SECTOR, (size_t)W * ANN_SECTOR) == 0)
		s->sectors = sectors;
	if (!s->list || !s->seen || !s->best || !s->reqs || !s->frontier || !s->sectors)
		return -ENOMEM;
	return 0;
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
	if (rc == 0) {
		for (unsigned i = 0; i < s.nbest; i++) {
			ids[i] = s.best[i].id;
			if (dists)
				dists[i] = s.best[i].dist;
		}
		rc = (int)s.nbest;
	}
	if (stats)
		*stats = st;
	query_free(&s);
	return rc;
}
