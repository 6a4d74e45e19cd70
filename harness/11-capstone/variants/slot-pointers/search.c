/*
 * A correct chapter 11 module shaped differently from the reference
 * (harness/NN-topic/variants/: make test requires full marks from it, so
 * that the tests ask for what ann.h says and not for the reference's
 * shape). ann_search is the reference's; ann_search_uring was written by a
 * colleague from the lesson and ann.h alone: a pointer to the slot's struct
 * in user_data, a stack of free slots and a list of slots to submit again
 * after -EAGAIN, an unsorted candidate list (ties to the larger id), the
 * best k sorted at the end with qsort, io_uring_for_each_cqe with
 * io_uring_cq_advance, and io_uring_submit and io_uring_wait_cqe apart.
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

/* The hops, until every candidate of the list has been read. */
static void start_at_entry(struct query *s)
{
	seen_test_and_set(s->seen, s->idx->h.entry);
	list_insert(s, s->idx->h.entry, ann_approx_dist(s->idx, s->q, s->idx->h.entry));
}

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

/*
 * The second part: the same walk on io_uring, pipelined (ann.h,
 * ann_search_uring). Do it once ann_search passes: the list, the seen set,
 * the k best and TODO 6's handling of a node are the same, so share them.
 *
 * TODO 9 (arguments and state): -EINVAL as in TODO 1 (ring instead of
 * io), and when ring->sq.ring_entries < p->W. The state of TODO 2, with W
 * "slots": a buffer each (aligned to ANN_SECTOR), the node it reads, and
 * whether a read is in flight in it. The ring is the caller's: do not set
 * up one of your own, register anything on it, or exit it.
 *
 * TODO 10 (fill): while fewer than W reads are in flight and the list
 * holds a candidate not read and not in flight, take the nearest, mark it,
 * and queue a read of its sector into a free slot (io_uring_get_sqe,
 * io_uring_prep_read, the slot's number in the user_data). Then ONE
 * io_uring_submit for all that was queued (or io_uring_submit_and_wait(ring,
 * 1): the submit and TODO 11's wait in one system call); each submit that
 * carried reads is a hop in *stats. Nothing in flight after the fill: the search is over.
 * This is the step that pipelines: it runs after every completion, while
 * the other reads are still in flight (README, "The next step").
 *
 * TODO 11 (completions): io_uring_wait_cqe for one, then every CQE that is
 * ready (io_uring_peek_cqe until it says none), each marked seen
 * (io_uring_cqe_seen) once you have taken its user_data and res. res
 * -EAGAIN: nothing was read; queue the same read again in the same slot
 * (it is still in flight, and not a new read in *stats). Otherwise the slot
 * is free again and its node is handled as in TODO 6.
 *
 * TODO 12 (errors: drain): the search's first error (a res, a short read,
 * ann_node_parse) stops the filling, but the reads in flight still write
 * into your buffers: keep waiting and reaping (without handling) until none
 * is in flight, then free and return the error. The ring must be as you
 * found it: nothing queued, in flight or unreaped. If a submit or a wait
 * itself fails (other than -EINTR), return its error at once and do NOT
 * free the buffers of reads still in flight (the kernel may write there).
 *
 * TODO 13 (signals): io_uring_submit (and _and_wait) and io_uring_wait_cqe
 * return -EINTR when a signal arrives: that is not an error, call them again.
 */
/* ---------------------------------------------------------------------
 * Part 2, my own shape: a pipeline of W "slots".
 *
 *  - each slot is a struct; the SQE's user_data is the slot's address;
 *  - idle slots sit on a stack (free_top), slots whose read came back
 *    -EAGAIN on a retry list (again): the fill queues those first;
 *  - the candidate list is NOT sorted: an array of at most L entries with
 *    the index of its worst entry cached; "nearest not taken" is a scan;
 *  - the best k likewise, sorted once at the end;
 *  - submit, then wait, in two calls; completions reaped with
 *    io_uring_for_each_cqe + io_uring_cq_advance.
 * --------------------------------------------------------------------- */
enum { US_IDLE, US_OUT, US_AGAIN };

struct uslot {
	unsigned char *buf;
	uint32_t node;
	int state;
	struct uslot *link;
};

struct ucand {
	float est;
	uint32_t id;
	bool taken;     /* read, or in flight */
};

struct upipe {
	const struct ann_index *idx;
	const float *q;
	struct io_uring *ring;
	int fd;
	unsigned k, L, W;
	struct ucand *cand;
	unsigned ncand, worst;
	uint64_t *seen;
	struct hit *hit;
	unsigned nhit, hworst;
	struct uslot *slots;
	struct uslot *free_top;
	struct uslot *again;
	unsigned busy;          /* slots in state US_OUT */
	int err;
	struct ann_stats st;
};

/* candidate order: nearer estimate first; on a tie the LARGER id first
 * (ann.h: "may be ordered either way") */
static bool u_ahead(float da, uint32_t a, float db, uint32_t b)
{
	return da < db || (da == db && a > b);
}

static void u_rescan_worst(struct upipe *u)
{
	unsigned w = 0;

	for (unsigned i = 1; i < u->ncand; i++)
		if (u_ahead(u->cand[w].est, u->cand[w].id, u->cand[i].est, u->cand[i].id))
			w = i;
	u->worst = w;
}

static void u_offer(struct upipe *u, uint32_t id)
{
	float est = ann_approx_dist(u->idx, u->q, id);

	if (u->ncand < u->L) {
		u->cand[u->ncand] = (struct ucand){ .est = est, .id = id, .taken = false };
		if (u->ncand == 0 ||
		    u_ahead(u->cand[u->worst].est, u->cand[u->worst].id, est, id))
			u->worst = u->ncand;
		u->ncand++;
		return;
	}
	if (!u_ahead(est, id, u->cand[u->worst].est, u->cand[u->worst].id))
		return;         /* farther than all L kept: it falls off */
	u->cand[u->worst] = (struct ucand){ .est = est, .id = id, .taken = false };
	u_rescan_worst(u);
}

static int u_nearest_untaken(const struct upipe *u)
{
	int b = -1;

	for (unsigned i = 0; i < u->ncand; i++) {
		if (u->cand[i].taken)
			continue;
		if (b < 0 || u_ahead(u->cand[i].est, u->cand[i].id, u->cand[b].est, u->cand[b].id))
			b = (int)i;
	}
	return b;
}

static void u_hit(struct upipe *u, uint32_t id, float d)
{
	if (u->nhit < u->k) {
		u->hit[u->nhit] = (struct hit){ .dist = d, .id = id };
		if (u->nhit == 0 || closer(u->hit[u->hworst].dist, u->hit[u->hworst].id, d, id))
			u->hworst = u->nhit;
		u->nhit++;
		return;
	}
	if (!closer(d, id, u->hit[u->hworst].dist, u->hit[u->hworst].id))
		return;
	u->hit[u->hworst] = (struct hit){ .dist = d, .id = id };
	for (unsigned i = 0; i < u->nhit; i++)
		if (closer(u->hit[u->hworst].dist, u->hit[u->hworst].id, u->hit[i].dist, u->hit[i].id))
			u->hworst = i;
}

static int u_hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (closer(x->dist, x->id, y->dist, y->id))
		return -1;
	return closer(y->dist, y->id, x->dist, x->id) ? 1 : 0;
}

/* One node back from the ring: res first, then the sector. */
static int u_expand(struct upipe *u, const struct uslot *sl, int res)
{
	const float *vec;
	const uint32_t *nbrs;
	unsigned nn;
	int rc;

	if (res < 0)
		return res;
	if ((unsigned)res < ANN_SECTOR)
		return -EIO;
	rc = ann_node_parse(u->idx, sl->node, sl->buf, (size_t)res, &vec, &nbrs, &nn);
	if (rc < 0)
		return rc;
	u_hit(u, sl->node, ann_dist(u->q, vec, u->idx->h.dim));
	for (unsigned j = 0; j < nn; j++)
		if (!seen_test_and_set(u->seen, nbrs[j]))
			u_offer(u, nbrs[j]);
	return 0;
}

static void u_queue(struct upipe *u, struct io_uring_sqe *sqe, struct uslot *sl)
{
	io_uring_prep_read(sqe, u->fd, sl->buf, ANN_SECTOR, (uint64_t)ann_node_offset(sl->node));
	io_uring_sqe_set_data(sqe, sl);
	sl->state = US_OUT;
	u->busy++;
}

/* Queue retries, then new reads while a slot is idle; returns SQEs queued. */
static unsigned u_fill(struct upipe *u)
{
	unsigned queued = 0;
	struct io_uring_sqe *sqe;

	while (u->again) {
		struct uslot *sl = u->again;

		if (!(sqe = io_uring_get_sqe(u->ring)))
			return queued;
		u->again = sl->link;
		u_queue(u, sqe, sl);
		queued++;
	}
	while (u->free_top) {
		int c = u_nearest_untaken(u);
		struct uslot *sl = u->free_top;

		if (c < 0)
			break;
		if (!(sqe = io_uring_get_sqe(u->ring)))
			break;
		u->free_top = sl->link;
		u->cand[c].taken = true;
		sl->node = u->cand[c].id;
		u_queue(u, sqe, sl);
		u->st.reads++;
		queued++;
	}
	return queued;
}

static void u_reap_one(struct upipe *u, struct io_uring_cqe *cqe)
{
	struct uslot *sl = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	sl->state = US_IDLE;
	u->busy--;
	if (res == -EAGAIN && !u->err) {
		sl->state = US_AGAIN;
		sl->link = u->again;
		u->again = sl;
		return;
	}
	if (!u->err) {
		int rc = u_expand(u, sl, res);

		if (rc < 0)
			u->err = rc;
	}
	sl->link = u->free_top;
	u->free_top = sl;
}

/* Free it all; with `keep_busy`, the buffers the kernel may still write
 * (slots in flight) stay allocated. */
static void u_free(struct upipe *u, bool keep_busy)
{
	if (u->slots)
		for (unsigned i = 0; i < u->W; i++)
			if (!(keep_busy && u->slots[i].state == US_OUT))
				free(u->slots[i].buf);
	free(u->slots);
	free(u->cand);
	free(u->seen);
	free(u->hit);
}

static int u_alloc(struct upipe *u)
{
	u->cand = malloc((size_t)u->L * sizeof(*u->cand));
	u->seen = calloc(((size_t)u->idx->h.n + 63) / 64, sizeof(*u->seen));
	u->hit = malloc((size_t)u->k * sizeof(*u->hit));
	u->slots = calloc(u->W, sizeof(*u->slots));
	if (!u->cand || !u->seen || !u->hit || !u->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < u->W; i++) {
		void *b = NULL;

		if (posix_memalign(&b, ANN_SECTOR, ANN_SECTOR) != 0)
			return -ENOMEM;
		u->slots[i].buf = b;
		u->slots[i].link = u->free_top;
		u->free_top = &u->slots[i];
	}
	return 0;
}

int ann_search_uring(const struct ann_index *idx, struct io_uring *ring, int fd,
		     const float *query, const struct ann_params *p, uint32_t *ids, float *dists,
		     struct ann_stats *stats)
{
	struct upipe u = { 0 };
	int rc;

	if (!idx || !ring || !query || !p || !ids || !params_ok(p) ||
	    ring->sq.ring_entries < p->W)
		return -EINVAL;
	u.idx = idx;
	u.q = query;
	u.ring = ring;
	u.fd = fd;
	u.k = p->k;
	u.L = p->L;
	u.W = p->W;
	rc = u_alloc(&u);
	if (rc < 0) {
		u_free(&u, false);
		return rc;
	}

	seen_test_and_set(u.seen, idx->h.entry);
	u_offer(&u, idx->h.entry);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		if (!u.err && u_fill(&u) > 0) {
			do
				rc = io_uring_submit(ring);
			while (rc == -EINTR);
			if (rc < 0) {
				u_free(&u, true);
				return rc;
			}
			u.st.hops++;
		}
		if (u.busy == 0)
			break;
		do
			rc = io_uring_wait_cqe(ring, &cqe);
		while (rc == -EINTR);
		if (rc < 0) {
			u_free(&u, true);
			return rc;
		}
		io_uring_for_each_cqe(ring, head, cqe) {
			u_reap_one(&u, cqe);
			n++;
		}
		io_uring_cq_advance(ring, n);
	}

	rc = u.err;
	if (rc == 0) {
		qsort(u.hit, u.nhit, sizeof(*u.hit), u_hit_cmp);
		for (unsigned i = 0; i < u.nhit; i++) {
			ids[i] = u.hit[i].id;
			if (dists)
				dists[i] = u.hit[i].dist;
		}
		rc = (int)u.nhit;
	}
	if (stats)
		*stats = u.st;
	u_free(&u, false);
	return rc;
}
