/*
 * annindex.c - chapter 11, the course's code: the index file, building it,
 * loading it, and the exact answers. See chapters/11-capstone/ann.h; the
 * exercise (ann_search) lives in exercises/11-capstone/search.c.
 *
 * The layout. Every node gets a whole 4 KiB sector of its own: its id, its
 * neighbour count, its full vector and its neighbour list, then zeros. A
 * sector wastes most of its bytes (64 floats and 32 neighbours fill 392 of
 * 4096), but it buys the search what it needs most: one node is one read,
 * at an offset computed from its id alone, aligned for O_DIRECT, and a node
 * never straddles two pages of the device. The id repeated inside the
 * sector lets a reader check that the read it got back is the read it
 * asked for. The compressed vectors (one byte per dimension, 16 times
 * smaller than the floats) come last, packed, because they are read once,
 * sequentially, by ann_load, and then live in memory: they are what lets the
 * search rank a neighbour before paying a read for it.
 *
 * The build. The graph is Vamana, from the DiskANN paper (Subramanya et
 * al., NeurIPS 2019). It starts empty, with the medoid (the point nearest
 * the mean) as the entry of every search. Each node in turn is searched for
 * in the graph built so far, greedily from the entry; the nodes that search
 * visited are exactly the ones a later query for something near this node
 * will pass through, so they are its candidate neighbours. RobustPrune keeps
 * the nearest candidate, drops every candidate that is nearer to that kept
 * one than to the node (alpha times nearer, in the second pass: it keeps
 * some long edges, the ones that let a search cross the data in few hops),
 * and repeats until `degree` are kept. Each kept edge is also added
 * backwards, so that the node can be found; a neighbour whose list
 * overflows is pruned in its turn. Pass 1 uses alpha = 1.0, pass 2 alpha =
 * 1.2 over the graph pass 1 made. To use several threads and still write
 * the same bytes whatever their number, the nodes go in batches in a fixed
 * order: the searches of one batch run in parallel against the graph as it
 * was before the batch, then the new lists are installed, then the
 * backward edges are merged, each neighbour's list by one thread. Nothing
 * a thread computes depends on which thread computes it or when.
 */
#define _GNU_SOURCE
#include "ann.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* ============================================================ the limits */

/* ANN_MAX_N (ann.h): 4 million nodes keep a build's memory (the full
 * vectors: n * dim * 4 bytes, up to 4 GiB at 256 dimensions, plus the graph)
 * within reach of an ordinary machine, and the file at about 17 GB. */
/* A bound for par_run's arrays; asking for more threads is not an error
 * (the output does not depend on their number). */
#define ANN_MAX_THREADS 64u

#define DEFAULT_N 100000u
#define DEFAULT_DIM 64u
#define DEFAULT_DEGREE 32u
#define DEFAULT_BUILD_LIST 64u
#define DEFAULT_CLUSTERS 64u

/* The noise around a centre shrinks along the dimensions: its spread in
 * dimension d is NOISE_SIGMA * NOISE_KNEE / (NOISE_KNEE + d), from 0.5 in
 * the first to 0.06 in the 64th. Real embeddings look like that (most of
 * their variance lies along a few directions), and it matters: with the
 * same noise in every dimension, the points of a cluster are all about as
 * far from one another, no edge is much shorter than another, and a greedy
 * search is lost (we measured recall@10 = 0.05 at L = 64 on the default
 * index with a spread of 0.4 in every dimension). Centres are uniform in
 * [-1, 1), so in the leading dimensions the clusters overlap their
 * neighbours: a search has to work its way through a crowd, it does not
 * jump to an isolated blob. */
#define NOISE_SIGMA 0.5f
#define NOISE_KNEE 8.0f

#define WRITE_CHUNK (256u * ANN_SECTOR) /* 1 MiB: few system calls */
#define TRUTH_CHUNK 256u                /* sectors per read in ann_truth */

/* Pass 1 starts from an empty graph, so its first batches are tiny
 * (1, 2, 4 ... nodes) or the first nodes would all be linked to nothing
 * but the entry. Batches stop growing at n / 50: larger batches search an
 * ever staler graph. */
#define BATCH_DIVISOR 50u

/* Streams of the random generator: one per purpose, so that changing one
 * (more queries, another order) never shifts the numbers of another. */
enum stream { STREAM_CENTRES = 1, STREAM_POINTS, STREAM_ORDER, STREAM_QUERIES };

/* ==================================================== the random numbers */

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct rng {
	uint64_t state;
};

/* An independent stream per (seed, purpose, item): point i's numbers do not
 * depend on how many numbers point i-1 used, nor on who computes them. */
static struct rng rng_stream(uint64_t seed, enum stream purpose, uint64_t item)
{
	struct rng r = { mix64(mix64(seed ^ mix64((uint64_t)purpose)) ^ item) };

	return r;
}

/* splitmix64: small, fast, and good enough for data and shuffles. */
static uint64_t rng_next(struct rng *r)
{
	r->state += 0x9e3779b97f4a7c15ull;
	return mix64(r->state);
}

/* Uniform in [0, 1): the top 24 bits, exactly what a float can hold. */
static float rng_unit(struct rng *r)
{
	return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Close to a standard normal without libm: the sum of four uniforms has mean
 * 2 and variance 4/12 (central limit theorem); centre it and scale it to
 * variance 1. Its tails stop at +-3.46, which data for a course can afford. */
static float rng_normalish(struct rng *r)
{
	float sum = 0.0f;

	/* A loop, not u() + u() + u() + u(): C leaves the order of those calls
	 * to the compiler, and with it the rounding of the sum. */
	for (int i = 0; i < 4; i++)
		sum += rng_unit(r);
	return (sum - 2.0f) * 1.7320508f;
}

/* ============================================================= the data */

/* The centres depend on (seed, clusters, dim) alone, so that ann_queries
 * can make them again from an index's header. */
static float *make_centres(uint64_t seed, uint32_t clusters, uint32_t dim)
{
	float *c = malloc((size_t)clusters * dim * sizeof(*c));
	struct rng r = rng_stream(seed, STREAM_CENTRES, 0);

	if (!c)
		return NULL;
	for (size_t i = 0; i < (size_t)clusters * dim; i++)
		c[i] = 2.0f * rng_unit(&r) - 1.0f;
	return c;
}

/* The spread of the noise in dimension d (see NOISE_SIGMA). */
static float noise_sigma(uint32_t d)
{
	return NOISE_SIGMA * NOISE_KNEE / (NOISE_KNEE + (float)d);
}

/* One vector: a centre chosen at random, plus noise. */
static void make_point(const float *centres, uint32_t clusters, uint32_t dim, struct rng *r,
		       float *out)
{
	const float *c = centres + (size_t)(rng_next(r) % clusters) * dim;

	for (uint32_t d = 0; d < dim; d++)
		out[d] = c[d] + noise_sigma(d) * rng_normalish(r);
}

static float *make_data(uint64_t seed, uint32_t n, uint32_t dim, uint32_t clusters)
{
	float *centres = make_centres(seed, clusters, dim);
	float *vecs = malloc((size_t)n * dim * sizeof(*vecs));

	if (centres && vecs) {
		for (uint32_t i = 0; i < n; i++) {
			struct rng r = rng_stream(seed, STREAM_POINTS, i);

			make_point(centres, clusters, dim, &r, vecs + (size_t)i * dim);
		}
	} else {
		free(vecs);
		vecs = NULL;
	}
	free(centres);
	return vecs;
}

/* ======================================================== the distances */

float ann_dist(const float *a, const float *b, unsigned dim)
{
	float sum = 0.0f;

	for (unsigned d = 0; d < dim; d++) {
		float t = a[d] - b[d];

		sum += t * t;
	}
	return sum;
}

float ann_approx_dist(const struct ann_index *idx, const float *query, uint32_t id)
{
	unsigned dim = idx->h.dim;
	const uint8_t *code = idx->codes + (size_t)id * dim;
	float sum = 0.0f;

	for (unsigned d = 0; d < dim; d++) {
		float t = query[d] - (idx->lo[d] + (float)code[d] * idx->step[d]);

		sum += t * t;
	}
	return sum;
}

/* ================================================= reading and writing */

/* pread until len bytes are in: the bytes read (fewer only at end of
 * file), or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t got = pread(fd, p + done, len - done, off + (off_t)done);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Every reader here knows how long the file must be: ending early is -EIO,
 * the file was cut. */
static int pread_exact(int fd, void *buf, size_t len, off_t off)
{
	ssize_t got = pread_full(fd, buf, len, off);

	if (got < 0)
		return (int)got;
	return (size_t)got == len ? 0 : -EIO;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t put = pwrite(fd, p, len, off);

		if (put < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += put;
		off += put;
		len -= (size_t)put;
	}
	return 0;
}

/* The file is written front to back through one buffer: a megabyte per
 * system call instead of a sector. */
struct writer {
	int fd;
	unsigned char *buf;
	size_t used;
	off_t off;
};

static int writer_flush(struct writer *w)
{
	int rc = pwrite_all(w->fd, w->buf, w->used, w->off);

	w->off += (off_t)w->used;
	w->used = 0;
	return rc;
}

static int writer_put(struct writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t room = WRITE_CHUNK - w->used;
		size_t part = len < room ? len : room;
		int rc;

		memcpy(w->buf + w->used, p, part);
		w->used += part;
		p += part;
		len -= part;
		if (w->used == WRITE_CHUNK && (rc = writer_flush(w)) < 0)
			return rc;
	}
	return 0;
}

/* A zeroed sector in the buffer for the caller to fill: WRITE_CHUNK is a
 * multiple of the sector, so a sector is never split between two writes. */
static int writer_sector(struct writer *w, unsigned char **sector)
{
	int rc;

	if (w->used == WRITE_CHUNK && (rc = writer_flush(w)) < 0)
		return rc;
	*sector = w->buf + w->used;
	memset(*sector, 0, ANN_SECTOR);
	w->used += ANN_SECTOR;
	return 0;
}

/* ==================================================== a parallel loop */

/* fn(ctx, worker, item) for every item in [0, items), spread over threads
 * that take the next item as they finish one. Which thread runs an item is
 * left to chance, so fn must give the same result whoever runs it: worker
 * only picks the caller's scratch space. The first error stops the loop. */
typedef int (*item_fn)(void *ctx, unsigned worker, size_t item);

struct par {
	item_fn fn;
	void *ctx;
	size_t items;
	atomic_size_t next;
	atomic_int err;
};

struct par_worker {
	struct par *job;
	unsigned worker;
};

static void *par_main(void *arg)
{
	struct par_worker *pw = arg;
	struct par *job = pw->job;

	while (atomic_load(&job->err) == 0) {
		size_t item = atomic_fetch_add(&job->next, 1);
		int rc;

		if (item >= job->items)
			break;
		rc = job->fn(job->ctx, pw->worker, item);
		if (rc < 0) {
			int none = 0;

			atomic_compare_exchange_strong(&job->err, &none, rc);
		}
	}
	return NULL;
}

/* A thread that cannot be started is not an error: the others, the caller
 * included, take its share, and the result is the same. */
static int par_run(item_fn fn, void *ctx, size_t items, unsigned threads)
{
	struct par job = { .fn = fn, .ctx = ctx, .items = items };
	struct par_worker workers[ANN_MAX_THREADS];
	pthread_t tids[ANN_MAX_THREADS];
	unsigned started = 0;

	atomic_init(&job.next, 0);
	atomic_init(&job.err, 0);
	if (threads > items)
		threads = (unsigned)items;
	if (threads > ANN_MAX_THREADS)
		threads = ANN_MAX_THREADS;
	if (threads == 0)
		threads = 1; /* the caller's thread, even for no items */
	for (unsigned w = 0; w < threads; w++)
		workers[w] = (struct par_worker){ &job, w };
	for (unsigned w = 1; w < threads; w++) {
		if (pthread_create(&tids[started], NULL, par_main, &workers[w]) != 0)
			break;
		started++;
	}
	par_main(&workers[0]);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	return atomic_load(&job.err);
}

/* ===================================================== the graph build */

/* A candidate: a node and its distance to the node being linked. Ordered
 * by distance, then by id, so that equal distances never leave the order to
 * qsort's whims. */
struct cand {
	float dist;
	uint32_t id;
};

static bool cand_before(float da, uint32_t ia, float db, uint32_t ib)
{
	return da < db || (da == db && ia < ib);
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (cand_before(x->dist, x->id, y->dist, y->id))
		return -1;
	return cand_before(y->dist, y->id, x->dist, x->id);
}

/* A slot of the search's candidate list. */
struct slot {
	float dist;
	uint32_t id;
	bool expanded;
};

/* One thread's working memory, kept from one node to the next. */
struct scratch {
	uint32_t *seen;       /* seen[id] == epoch: met in this search     */
	uint32_t epoch;
	struct slot *list;    /* build_list slots, nearest first             */
	struct cand *pool;    /* visited nodes, then the prune's candidates  */
	bool *gone;           /* the prune's verdicts, pool's twin           */
	size_t len, cap;
	uint32_t *kept;       /* degree ids: a prune's result                */
};

/* A backward edge to add: `from` was given `to` as a neighbour. */
struct edge {
	uint32_t to, from;
};

struct builder {
	uint32_t n, dim, degree, build_list;
	unsigned threads;
	const float *vecs;
	uint32_t *nbrs;       /* n * degree                                  */
	uint32_t *nnbrs;      /* n                                           */
	uint32_t entry;
	struct scratch *scr;  /* one per thread                              */
	float alpha2;         /* alpha squared: distances here are squared   */

	/* The batch being linked. */
	uint32_t *order;      /* n: the order nodes are linked in            */
	size_t first;
	uint32_t *out;        /* max_batch * degree: the batch's new lists   */
	uint32_t *nout;       /* max_batch                                   */
	struct edge *edges;   /* max_batch * degree: the backward edges      */
	size_t *groups;       /* where each `to` starts in edges, + the end  */
	size_t max_batch;
};

static const float *vec_of(const struct builder *b, uint32_t id)
{
	return b->vecs + (size_t)id * b->dim;
}

static uint32_t *nbrs_of(const struct builder *b, uint32_t id)
{
	return b->nbrs + (size_t)id * b->degree;
}

static float dist_between(const struct builder *b, uint32_t x, uint32_t y)
{
	return ann_dist(vec_of(b, x), vec_of(b, y), b->dim);
}

static int pool_push(struct scratch *s, uint32_t id, float dist)
{
	if (s->len == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct cand *pool = realloc(s->pool, cap * sizeof(*pool));
		bool *gone;

		if (!pool)
			return -ENOMEM;
		s->pool = pool;
		gone = realloc(s->gone, cap * sizeof(*gone));
		if (!gone)
			return -ENOMEM;
		s->gone = gone;
		s->cap = cap;
	}
	s->pool[s->len++] = (struct cand){ dist, id };
	return 0;
}

/* A new search: everything marked before is forgotten by moving on to the
 * next epoch, instead of clearing n marks. */
static void forget_seen(struct scratch *s, uint32_t n)
{
	if (++s->epoch == 0) {
		memset(s->seen, 0, (size_t)n * sizeof(*s->seen));
		s->epoch = 1;
	}
}

/* Put (id, dist) into the sorted list of at most `cap` slots, unless it is
 * worse than all of a full list. */
static void list_insert(struct slot *list, unsigned *len, unsigned cap, uint32_t id, float dist)
{
	unsigned pos = *len;

	if (*len == cap && !cand_before(dist, id, list[cap - 1].dist, list[cap - 1].id))
		return;
	while (pos > 0 && cand_before(dist, id, list[pos - 1].dist, list[pos - 1].id))
		pos--;
	if (*len < cap)
		(*len)++;
	memmove(list + pos + 1, list + pos, (*len - 1 - pos) * sizeof(*list));
	list[pos] = (struct slot){ dist, id, false };
}

/* Greedy search for `query` from the entry over the current graph, with
 * exact distances. Leaves in s->pool every node it expanded: the candidates
 * RobustPrune chooses from. */
static int greedy_search(const struct builder *b, struct scratch *s, const float *query)
{
	unsigned len = 1;

	forget_seen(s, b->n);
	s->len = 0;
	s->seen[b->entry] = s->epoch;
	s->list[0] = (struct slot){ ann_dist(query, vec_of(b, b->entry), b->dim), b->entry, false };
	for (;;) {
		unsigned k = 0;
		uint32_t node;
		const uint32_t *nb;
		int rc;

		while (k < len && s->list[k].expanded)
			k++;
		if (k == len)
			return 0;
		s->list[k].expanded = true;
		node = s->list[k].id;
		if ((rc = pool_push(s, node, s->list[k].dist)) < 0)
			return rc;
		nb = nbrs_of(b, node);
		for (uint32_t j = 0; j < b->nnbrs[node]; j++) {
			uint32_t v = nb[j];

			if (s->seen[v] == s->epoch)
				continue;
			s->seen[v] = s->epoch;
			list_insert(s->list, &len, b->build_list, v,
				    ann_dist(query, vec_of(b, v), b->dim));
		}
	}
}

/*
 * RobustPrune: choose at most `degree` neighbours for p among s->pool
 * (candidates with their distance to p; duplicates and p itself allowed)
 * into s->kept. Take the nearest candidate left, then strike every
 * candidate c it "covers": alpha * d(kept, c) <= d(p, c), i.e. a search that
 * reaches the kept one gets closer to c from there. With squared distances
 * alpha becomes alpha squared.
 */
static unsigned robust_prune(const struct builder *b, struct scratch *s, uint32_t p)
{
	struct cand *c = s->pool;
	unsigned kept = 0;

	qsort(c, s->len, sizeof(*c), cand_cmp);
	memset(s->gone, 0, s->len * sizeof(*s->gone));
	for (size_t i = 0; i < s->len && kept < b->degree; i++) {
		/* A duplicate sorts next to its twin (same distance, same id). */
		if (s->gone[i] || c[i].id == p || (i > 0 && c[i].id == c[i - 1].id))
			continue;
		s->kept[kept++] = c[i].id;
		for (size_t j = i + 1; j < s->len; j++) {
			if (!s->gone[j] &&
			    b->alpha2 * dist_between(b, c[i].id, c[j].id) <= c[j].dist)
				s->gone[j] = true;
		}
	}
	return kept;
}

/* Parallel phase 1 of a batch: node p's new neighbour list, chosen among
 * the nodes its search visits and the neighbours it already has (pass 2). */
static int link_node(void *ctx, unsigned worker, size_t item)
{
	struct builder *b = ctx;
	struct scratch *s = &b->scr[worker];
	uint32_t p = b->order[b->first + item];
	const uint32_t *old = nbrs_of(b, p);
	unsigned kept;
	int rc;

	if ((rc = greedy_search(b, s, vec_of(b, p))) < 0)
		return rc;
	for (uint32_t j = 0; j < b->nnbrs[p]; j++)
		if ((rc = pool_push(s, old[j], dist_between(b, p, old[j]))) < 0)
			return rc;
	kept = robust_prune(b, s, p);
	memcpy(b->out + item * b->degree, s->kept, kept * sizeof(*s->kept));
	b->nout[item] = kept;
	return 0;
}

static bool has_nbr(const struct builder *b, uint32_t node, uint32_t id)
{
	const uint32_t *nb = nbrs_of(b, node);

	for (uint32_t j = 0; j < b->nnbrs[node]; j++)
		if (nb[j] == id)
			return true;
	return false;
}

/* Parallel phase 2 of a batch: node q gains the backward edges of group g.
 * They are appended while they fit; past `degree`, q's list is pruned anew
 * from its old neighbours and the newcomers together. Only q's own list is
 * written, so groups run in parallel without locks. */
static int add_backward_edges(void *ctx, unsigned worker, size_t g)
{
	struct builder *b = ctx;
	struct scratch *s = &b->scr[worker];
	const struct edge *e = b->edges + b->groups[g];
	size_t count = b->groups[g + 1] - b->groups[g];
	uint32_t q = e[0].to;
	uint32_t *nb = nbrs_of(b, q);
	unsigned kept;
	int rc;

	s->len = 0;
	for (size_t i = 0; i < count; i++) {
		if (e[i].from == q || has_nbr(b, q, e[i].from))
			continue;
		if ((rc = pool_push(s, e[i].from, 0.0f)) < 0)
			return rc;
	}
	if (b->nnbrs[q] + s->len <= b->degree) {
		for (size_t i = 0; i < s->len; i++)
			nb[b->nnbrs[q]++] = s->pool[i].id;
		return 0;
	}
	for (uint32_t j = 0; j < b->nnbrs[q]; j++)
		if ((rc = pool_push(s, nb[j], 0.0f)) < 0)
			return rc;
	for (size_t i = 0; i < s->len; i++)
		s->pool[i].dist = dist_between(b, q, s->pool[i].id);
	kept = robust_prune(b, s, q);
	memcpy(nb, s->kept, kept * sizeof(*nb));
	b->nnbrs[q] = kept;
	return 0;
}

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return (x->from > y->from) - (x->from < y->from);
}

/* Serial middle of a batch: install the new lists, then list their
 * backward edges grouped by the node that receives them. */
static size_t install_batch(struct builder *b, size_t count)
{
	size_t nedges = 0, ngroups = 0;

	for (size_t i = 0; i < count; i++) {
		uint32_t p = b->order[b->first + i];
		const uint32_t *out = b->out + i * b->degree;

		memcpy(nbrs_of(b, p), out, b->nout[i] * sizeof(*out));
		b->nnbrs[p] = b->nout[i];
		for (uint32_t j = 0; j < b->nout[i]; j++)
			b->edges[nedges++] = (struct edge){ out[j], p };
	}
	qsort(b->edges, nedges, sizeof(*b->edges), edge_cmp);
	for (size_t i = 0; i < nedges; i++)
		if (i == 0 || b->edges[i].to != b->edges[i - 1].to)
			b->groups[ngroups++] = i;
	b->groups[ngroups] = nedges;
	return ngroups;
}

/* One Vamana pass over every node in b->order, batch after batch. */
static int build_pass(struct builder *b, float alpha, bool from_empty)
{
	size_t size = from_empty ? 1 : b->max_batch;
	int rc;

	b->alpha2 = alpha * alpha;
	b->first = 0;
	while (b->first < b->n) {
		size_t count = b->n - b->first < size ? b->n - b->first : size;

		if ((rc = par_run(link_node, b, count, b->threads)) < 0)
			return rc;
		if ((rc = par_run(add_backward_edges, b, install_batch(b, count), b->threads)) < 0)
			return rc;
		b->first += count;
		size = 2 * size < b->max_batch ? 2 * size : b->max_batch;
	}
	return 0;
}

/* The node nearest the mean: the entry of every search, because from the
 * middle of the data every region is a few hops away. Serial, in double, so
 * the sum never depends on how work was split. */
static int find_medoid(const float *vecs, uint32_t n, uint32_t dim, uint32_t *medoid)
{
	float *mean = malloc(dim * sizeof(*mean));
	uint32_t best = 0;
	float best_dist = 0.0f;

	if (!mean)
		return -ENOMEM;
	for (uint32_t d = 0; d < dim; d++) {
		double sum = 0.0;

		for (uint32_t i = 0; i < n; i++)
			sum += vecs[(size_t)i * dim + d];
		mean[d] = (float)(sum / n);
	}
	for (uint32_t i = 0; i < n; i++) {
		float dist = ann_dist(vecs + (size_t)i * dim, mean, dim);

		if (i == 0 || dist < best_dist) {
			best = i;
			best_dist = dist;
		}
	}
	free(mean);
	*medoid = best;
	return 0;
}

/* Fisher-Yates: the order nodes are linked in. A random order matters: in
 * the data's own order the clusters would arrive one after another. */
static void shuffle_order(uint32_t *order, uint32_t n, uint64_t seed)
{
	struct rng r = rng_stream(seed, STREAM_ORDER, 0);

	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng_next(&r) % ((uint64_t)i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

static void free_builder(struct builder *b)
{
	if (b->scr) {
		for (unsigned t = 0; t < b->threads; t++) {
			free(b->scr[t].seen);
			free(b->scr[t].list);
			free(b->scr[t].pool);
			free(b->scr[t].gone);
			free(b->scr[t].kept);
		}
	}
	free(b->scr);
	free(b->nbrs);
	free(b->nnbrs);
	free(b->order);
	free(b->out);
	free(b->nout);
	free(b->edges);
	free(b->groups);
}

static int alloc_builder(struct builder *b)
{
	size_t n = b->n, slots = b->max_batch * b->degree;

	b->nbrs = malloc(n * b->degree * sizeof(*b->nbrs));
	b->nnbrs = calloc(n, sizeof(*b->nnbrs));
	b->order = malloc(n * sizeof(*b->order));
	b->out = malloc(slots * sizeof(*b->out));
	b->nout = malloc(b->max_batch * sizeof(*b->nout));
	b->edges = malloc(slots * sizeof(*b->edges));
	b->groups = malloc((slots + 1) * sizeof(*b->groups));
	b->scr = calloc(b->threads, sizeof(*b->scr));
	if (!b->nbrs || !b->nnbrs || !b->order || !b->out || !b->nout || !b->edges ||
	    !b->groups || !b->scr)
		return -ENOMEM;
	for (unsigned t = 0; t < b->threads; t++) {
		struct scratch *s = &b->scr[t];

		s->seen = calloc(n, sizeof(*s->seen));
		s->list = malloc(b->build_list * sizeof(*s->list));
		s->kept = malloc(b->degree * sizeof(*s->kept));
		if (!s->seen || !s->list || !s->kept)
			return -ENOMEM;
	}
	return 0;
}

/* The graph over vecs: b->nbrs, b->nnbrs and b->entry. */
static int build_graph(struct builder *b, uint64_t seed)
{
	int rc;

	b->max_batch = b->n / BATCH_DIVISOR > 0 ? b->n / BATCH_DIVISOR : 1;
	if ((rc = alloc_builder(b)) < 0 || (rc = find_medoid(b->vecs, b->n, b->dim, &b->entry)) < 0)
		return rc;
	shuffle_order(b->order, b->n, seed);
	if ((rc = build_pass(b, 1.0f, true)) < 0)
		return rc;
	return build_pass(b, 1.2f, false);
}

/* ==================================================== the scalar codes */

/* Per dimension: lo = the smallest value, step = (largest - lo) / 255, so
 * that 256 codes cover the range exactly. */
static void code_range(const float *vecs, uint32_t n, uint32_t dim, float *lo, float *step)
{
	for (uint32_t d = 0; d < dim; d++) {
		float min = vecs[d], max = vecs[d];

		for (uint32_t i = 1; i < n; i++) {
			float x = vecs[(size_t)i * dim + d];

			min = x < min ? x : min;
			max = x > max ? x : max;
		}
		lo[d] = min;
		step[d] = (max - min) / 255.0f;
	}
}

/* The nearest code, clamped: rounding can push the largest value to 255.5,
 * and a dimension where every value is equal has step 0 (code 0). */
static void encode(const float *vec, uint32_t dim, const float *lo, const float *step,
		   uint8_t *code)
{
	for (uint32_t d = 0; d < dim; d++) {
		float v = step[d] > 0.0f ? (vec[d] - lo[d]) / step[d] : 0.0f;

		if (!(v > 0.0f))
			v = 0.0f;
		if (v > 255.0f)
			v = 255.0f;
		code[d] = (uint8_t)(v + 0.5f);
	}
}

/* ===================================================== writing the file */

static int write_nodes(struct writer *w, const struct builder *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		struct ann_node_head head = { i, b->nnbrs[i] };
		unsigned char *sector;
		int rc;

		if ((rc = writer_sector(w, &sector)) < 0)
			return rc;
		memcpy(sector, &head, sizeof(head));
		memcpy(sector + sizeof(head), vec_of(b, i), b->dim * sizeof(float));
		memcpy(sector + sizeof(head) + b->dim * sizeof(float), nbrs_of(b, i),
		       b->nnbrs[i] * sizeof(uint32_t));
	}
	return 0;
}

/* lo, step, then one code row per node. `row` holds dim bytes. */
static int write_codes(struct writer *w, const struct builder *b, const float *lo,
		       const float *step, uint8_t *row)
{
	int rc;

	if ((rc = writer_put(w, lo, b->dim * sizeof(*lo))) < 0 ||
	    (rc = writer_put(w, step, b->dim * sizeof(*step))) < 0)
		return rc;
	for (uint32_t i = 0; i < b->n; i++) {
		encode(vec_of(b, i), b->dim, lo, step, row);
		if ((rc = writer_put(w, row, b->dim)) < 0)
			return rc;
	}
	return 0;
}

/* The file, front to back. On an error the file is left as far as it got:
 * the caller chose the path (a temporary name, renamed once complete). */
static int write_file(int fd, const struct ann_header *h, const struct builder *b, float *lo,
		      float *step, uint8_t *row, unsigned char *buf)
{
	struct writer w = { .fd = fd, .buf = buf };
	unsigned char *sector;
	int rc;

	if ((rc = writer_sector(&w, &sector)) < 0)
		return rc;
	memcpy(sector, h, sizeof(*h));
	if ((rc = write_nodes(&w, b)) < 0 || (rc = write_codes(&w, b, lo, step, row)) < 0)
		return rc;
	return writer_flush(&w);
}

static int write_index(const char *path, const struct ann_header *h, const struct builder *b)
{
	/* lo[dim], step[dim], then a row of dim codes. */
	float *lo = malloc(2 * b->dim * sizeof(float) + b->dim);
	unsigned char *buf = malloc(WRITE_CHUNK);
	int fd, rc = -ENOMEM;

	if (lo && buf) {
		code_range(b->vecs, b->n, b->dim, lo, lo + b->dim);
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = write_file(fd, h, b, lo, lo + b->dim, (uint8_t *)(lo + 2 * b->dim), buf);
			/* close reports a delayed write error on some file systems (NFS). */
			if (close(fd) < 0 && rc == 0)
				rc = -errno;
		}
	}
	free(lo);
	free(buf);
	return rc;
}

/* ======================================================== ann_build */

static unsigned or_default(unsigned v, unsigned dflt)
{
	return v ? v : dflt;
}

/* The sizes, defaults filled in. Clusters: 1 .. n (more centres than
 * points would leave some empty), by default 64 or n when n is smaller. */
static int check_build_params(const struct ann_build_params *p, struct builder *b,
			      uint32_t *clusters)
{
	b->n = or_default(p->n, DEFAULT_N);
	b->dim = or_default(p->dim, DEFAULT_DIM);
	b->degree = or_default(p->degree, DEFAULT_DEGREE);
	b->build_list = or_default(p->build_list, DEFAULT_BUILD_LIST);
	b->threads = or_default(p->threads, (unsigned)get_nprocs());
	if (b->threads > ANN_MAX_THREADS)
		b->threads = ANN_MAX_THREADS;
	*clusters = or_default(p->clusters, b->n < DEFAULT_CLUSTERS ? b->n : DEFAULT_CLUSTERS);
	if (b->n > ANN_MAX_N || b->dim > ANN_MAX_DIM || b->degree > ANN_MAX_DEGREE ||
	    b->build_list > ANN_MAX_L || *clusters > b->n)
		return -EINVAL;
	if (sizeof(struct ann_node_head) + b->dim * sizeof(float) + b->degree * sizeof(uint32_t) >
	    ANN_SECTOR)
		return -EINVAL;
	return 0;
}

int ann_build(const char *path, const struct ann_build_params *params)
{
	struct builder b = { 0 };
	struct ann_header h = { .version = 1 };
	float *vecs;
	int rc;

	if (!path || !params)
		return -EINVAL;
	if ((rc = check_build_params(params, &b, &h.clusters)) < 0)
		return rc;
	h.seed = params->seed;
	vecs = make_data(h.seed, b.n, b.dim, h.clusters);
	if (!vecs)
		return -ENOMEM;
	b.vecs = vecs;
	rc = build_graph(&b, h.seed);
	if (rc == 0) {
		/* Not an initialiser: "AIO-ANN1" has no room for its zero. */
		memcpy(h.magic, ANN_MAGIC, sizeof(h.magic));
		h.dim = b.dim;
		h.n = b.n;
		h.degree = b.degree;
		h.entry = b.entry;
		h.codes_offset = ((uint64_t)b.n + 1) * ANN_SECTOR;
		rc = write_index(path, &h, &b);
	}
	free_builder(&b);
	free(vecs);
	return rc;
}

/* ========================================================= ann_load */

static int check_header(const struct ann_header *h)
{
	if (memcmp(h->magic, ANN_MAGIC, sizeof(h->magic)) != 0 || h->version != 1)
		return -EINVAL;
	if (h->dim < 1 || h->dim > ANN_MAX_DIM || h->n < 1 || h->degree < 1 ||
	    h->degree > ANN_MAX_DEGREE || h->entry >= h->n)
		return -EINVAL;
	if (sizeof(struct ann_node_head) + h->dim * sizeof(float) + h->degree * sizeof(uint32_t) >
	    ANN_SECTOR)
		return -EINVAL;
	/* The codes may not start inside the nodes. */
	if (h->codes_offset < ((uint64_t)h->n + 1) * ANN_SECTOR)
		return -EINVAL;
	return 0;
}

/* Bytes of the compressed part: lo and step, then n rows of dim codes. */
static uint64_t codes_bytes(const struct ann_header *h)
{
	return 2ull * h->dim * sizeof(float) + (uint64_t)h->n * h->dim;
}

/* Header, lo, step and codes in one allocation: ann_unload is one free. */
static int read_index(int fd, const struct ann_header *h, struct ann_index **out)
{
	uint64_t bytes = codes_bytes(h);
	struct ann_index *idx;
	float *floats;
	int rc;

	if (bytes > SIZE_MAX - sizeof(*idx))
		return -ENOMEM;
	idx = malloc(sizeof(*idx) + (size_t)bytes);
	if (!idx)
		return -ENOMEM;
	floats = (float *)(idx + 1);
	if ((rc = pread_exact(fd, floats, (size_t)bytes, (off_t)h->codes_offset)) < 0) {
		free(idx);
		return rc;
	}
	idx->h = *h;
	idx->lo = floats;
	idx->step = floats + h->dim;
	idx->codes = (const uint8_t *)(floats + 2 * h->dim);
	*out = idx;
	return 0;
}

static int load_fd(int fd, struct ann_index **out)
{
	struct ann_header h;
	struct stat st;
	ssize_t got = pread_full(fd, &h, sizeof(h), 0);
	int rc;

	if (got < 0)
		return (int)got;
	if ((size_t)got < sizeof(h))
		return -EINVAL; /* shorter than a header: not an index at all */
	if ((rc = check_header(&h)) < 0)
		return rc;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < h.codes_offset ||
	    (uint64_t)st.st_size - h.codes_offset < codes_bytes(&h))
		return -EIO;
	return read_index(fd, &h, out);
}

int ann_load(struct ann_index **out, const char *path)
{
	int fd, rc;

	if (!out || !path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = load_fd(fd, out);
	close(fd);
	return rc;
}

void ann_unload(struct ann_index *idx)
{
	free(idx);
}

/* =================================================== ann_node_parse */

int ann_node_parse(const struct ann_index *idx, uint32_t id, const void *sector, size_t len,
		   const float **vec, const uint32_t **nbrs, unsigned *nnbrs)
{
	const unsigned char *bytes = sector;
	struct ann_node_head head;
	const uint32_t *list;

	if (!idx || !sector || !vec || !nbrs || !nnbrs || id >= idx->h.n)
		return -EINVAL;
	/* The floats and ids are used in place: they must be aligned. */
	if ((uintptr_t)sector % _Alignof(float) != 0)
		return -EINVAL;
	if (len < ANN_SECTOR)
		return -EIO;
	memcpy(&head, bytes, sizeof(head));
	if (head.id != id || head.nnbrs > idx->h.degree)
		return -EIO;
	list = (const uint32_t *)(bytes + sizeof(head) + idx->h.dim * sizeof(float));
	for (uint32_t j = 0; j < head.nnbrs; j++)
		if (list[j] >= idx->h.n)
			return -EIO;
	*vec = (const float *)(bytes + sizeof(head));
	*nbrs = list;
	*nnbrs = head.nnbrs;
	return 0;
}

/* ====================================================== ann_queries */

int ann_queries(const struct ann_index *idx, uint64_t seed, unsigned nq, float *out)
{
	float *centres;

	if (!idx || (nq > 0 && !out) || idx->h.clusters == 0)
		return -EINVAL;
	if (nq == 0)
		return 0;
	centres = make_centres(idx->h.seed, idx->h.clusters, idx->h.dim);
	if (!centres)
		return -ENOMEM;
	for (unsigned q = 0; q < nq; q++) {
		struct rng r = rng_stream(seed, STREAM_QUERIES, q);

		make_point(centres, idx->h.clusters, idx->h.dim, &r, out + (size_t)q * idx->h.dim);
	}
	free(centres);
	return 0;
}

/* ======================================================== ann_truth */

/* The k best so far of one query, as a max-heap on (dist, id): the root is
 * the one to throw out when a better node comes. */
struct best {
	struct cand *heap; /* k entries */
	unsigned len;
};

static void heap_sift_down(struct cand *h, unsigned len, unsigned i)
{
	for (;;) {
		unsigned big = i, l = 2 * i + 1, r = 2 * i + 2;
		struct cand t;

		if (l < len && cand_before(h[big].dist, h[big].id, h[l].dist, h[l].id))
			big = l;
		if (r < len && cand_before(h[big].dist, h[big].id, h[r].dist, h[r].id))
			big = r;
		if (big == i)
			return;
		t = h[i];
		h[i] = h[big];
		h[big] = t;
		i = big;
	}
}

static void best_offer(struct best *b, unsigned k, uint32_t id, float dist)
{
	struct cand *h = b->heap;

	if (b->len < k) {
		unsigned i = b->len++;

		h[i] = (struct cand){ dist, id };
		while (i > 0 && cand_before(h[(i - 1) / 2].dist, h[(i - 1) / 2].id, dist, id)) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = (struct cand){ dist, id };
	} else if (cand_before(dist, id, h[0].dist, h[0].id)) {
		h[0] = (struct cand){ dist, id };
		heap_sift_down(h, k, 0);
	}
}

/* The threads of ann_truth each scan runs of nodes into their own heaps
 * (one per query); the heaps are merged at the end. The k best of a set do
 * not depend on how the set was split, so neither does the answer. */
struct truth {
	const struct ann_index *idx;
	int fd;
	const float *queries;
	unsigned nq, k;
	struct cand *heaps;     /* threads * nq * k                */
	unsigned *lens;         /* threads * nq                    */
	unsigned char **bufs;   /* threads buffers of TRUTH_CHUNK sectors */
};

static int scan_chunk(void *ctx, unsigned worker, size_t chunk)
{
	struct truth *t = ctx;
	const struct ann_index *idx = t->idx;
	uint32_t first = (uint32_t)(chunk * TRUTH_CHUNK);
	uint32_t count = idx->h.n - first < TRUTH_CHUNK ? idx->h.n - first : TRUTH_CHUNK;
	unsigned char *buf = t->bufs[worker];
	size_t base = (size_t)worker * t->nq;
	int rc = pread_exact(t->fd, buf, (size_t)count * ANN_SECTOR, ann_node_offset(first));

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		const float *vec;
		const uint32_t *nbrs;
		unsigned nnbrs;

		rc = ann_node_parse(idx, first + i, buf + (size_t)i * ANN_SECTOR, ANN_SECTOR, &vec,
				    &nbrs, &nnbrs);
		if (rc < 0)
			return rc;
		for (unsigned q = 0; q < t->nq; q++) {
			struct best top = { t->heaps + (base + q) * t->k, t->lens[base + q] };

			best_offer(&top, t->k, first + i,
				   ann_dist(t->queries + (size_t)q * idx->h.dim, vec, idx->h.dim));
			t->lens[base + q] = top.len;
		}
	}
	return 0;
}

/* Query q's answer: every thread's k best together, sorted, cut to k. */
static void merge_truth(const struct truth *t, unsigned threads, unsigned q, struct cand *all,
			uint32_t *ids)
{
	size_t len = 0;

	for (unsigned w = 0; w < threads; w++) {
		size_t slot = (size_t)w * t->nq + q;

		memcpy(all + len, t->heaps + slot * t->k, t->lens[slot] * sizeof(*all));
		len += t->lens[slot];
	}
	qsort(all, len, sizeof(*all), cand_cmp);
	for (unsigned i = 0; i < t->k; i++)
		ids[i] = all[i].id;
}

static void free_truth(struct truth *t, unsigned threads)
{
	if (t->bufs)
		for (unsigned w = 0; w < threads; w++)
			free(t->bufs[w]);
	free(t->bufs);
	free(t->heaps);
	free(t->lens);
}

static int alloc_truth(struct truth *t, unsigned threads)
{
	t->heaps = malloc((size_t)threads * t->nq * t->k * sizeof(*t->heaps));
	t->lens = calloc((size_t)threads * t->nq, sizeof(*t->lens));
	t->bufs = calloc(threads, sizeof(*t->bufs));
	if (!t->heaps || !t->lens || !t->bufs)
		return -ENOMEM;
	for (unsigned w = 0; w < threads; w++) {
		/* Sector-aligned as a reader with O_DIRECT would need. */
		t->bufs[w] = aligned_alloc(ANN_SECTOR, (size_t)TRUTH_CHUNK * ANN_SECTOR);
		if (!t->bufs[w])
			return -ENOMEM;
	}
	return 0;
}

int ann_truth(const struct ann_index *idx, const char *path, const float *queries, unsigned nq,
	      unsigned k, uint32_t *ids)
{
	struct truth t = { .idx = idx, .fd = -1, .queries = queries, .nq = nq, .k = k };
	size_t chunks;
	unsigned threads = (unsigned)get_nprocs();
	struct cand *all = NULL;
	int rc;

	if (!idx || !path || (nq > 0 && (!queries || !ids)) || k == 0 || k > idx->h.n)
		return -EINVAL;
	if (nq == 0)
		return 0;
	chunks = (idx->h.n + TRUTH_CHUNK - 1) / TRUTH_CHUNK;
	if (threads > ANN_MAX_THREADS)
		threads = ANN_MAX_THREADS;
	if (threads > chunks)
		threads = (unsigned)chunks;
	t.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t.fd < 0)
		return -errno;
	rc = alloc_truth(&t, threads);
	if (rc == 0) {
		all = malloc((size_t)threads * k * sizeof(*all));
		rc = all ? par_run(scan_chunk, &t, chunks, threads) : -ENOMEM;
	}
	for (unsigned q = 0; rc == 0 && q < nq; q++)
		merge_truth(&t, threads, q, all, ids + (size_t)q * k);
	free(all);
	free_truth(&t, threads);
	close(t.fd);
	return rc;
}
