/*
 * Chapter 11 tests: the beam search's I/O loop (ann_search, chapters/
 * 11-capstone/ann.h), and the same search pipelined on io_uring
 * (ann_search_uring: its tests, 11.23 on, are at the end of this file).
 *
 * Most tests serve the search's reads themselves: the struct ann_io they
 * hand to ann_search reads sectors from a copy of the index file held in
 * memory (or made up on the spot, for the synthetic graphs). That reader
 * sees every request, so it can record what each hop read, check the
 * alignment O_DIRECT would demand, and fail a request, cut it short or
 * hand back the wrong node. While ann_search runs, every blocking read of
 * the process (pread, read, mmap ...) is refused through the link seams:
 * the nodes come through io->read or not at all.
 *
 * The mechanism is checked by replaying the contract: the harness keeps its
 * own candidate list, fed with the nodes the search actually read, and
 * checks at every hop that the search read, in one call, the W nearest
 * candidates not read yet, and that it stopped exactly when none was left.
 * Results are checked against the nodes the search read (the k nearest of
 * them by exact distance), and recall against the exact answers computed by
 * brute force.
 *
 * The index comes from ann_build (the course's code) with a fixed seed,
 * built afresh in each test's own directory: nothing is shared between
 * tests or between students.
 */
#define _GNU_SOURCE
#include "grade.h"
#include "ann.h"
#include "blocking.h"
#include "paio.h"
#include "ubatch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ============================================================ the index */

/* The test index: small enough to build in a fraction of a second, large
 * enough that a search of L = 64 reads well under a tenth of it. */
#define T_N 3000u
#define T_DIM 32u
#define T_DEGREE 16u
#define T_BUILD_LIST 32u
#define T_SEED 11u
#define T_NQ 40u
#define T_K 10u

/* Mean recall@10 of the reference at k 10, L 24, W 4 over the T_NQ queries
 * of the test index (measured: 0.872; at L 64 it is 1.000, too easy to tell
 * a wrong walk from a right one). ann_search's contract fixes the walk, so a
 * correct search gets the same up to ties. */
#define T_REC_L 24u
#define T_REF_RECALL 0.872
/* ... and the nodes it read per query to get there (43.9): a search that
 * reads more than half as many again is not the contract's walk (a scan of
 * the whole index finds everything and reads 3000). */
#define T_REF_READS 43.9
#define T_RECALL_SLACK 0.02

struct world {
	const char *path;
	struct ann_index *idx;
	unsigned char *image;   /* the whole file, as read back */
	size_t size;
	float *queries;         /* T_NQ x dim */
	uint32_t *truth;        /* T_NQ x T_K */
	/* a synthetic world (make_synthetic) serves sectors from these */
	uint32_t base;          /* ids base .. base + count - 1 exist */
	uint32_t count;
	const uint32_t *sparse; /* or, when not NULL, ids sparse[0 .. count - 1] */
	float *vecs;            /* count x dim */
	uint32_t (*nbrs)[ANN_MAX_DEGREE];
	unsigned *nnbrs;
};

static struct world W;

static void make_world(void)
{
	struct ann_build_params bp = {
		.n = T_N, .dim = T_DIM, .degree = T_DEGREE, .build_list = T_BUILD_LIST,
		.clusters = 16, .seed = T_SEED, .threads = 1,
	};
	int rc;

	W.path = grade_path("index.ann");
	rc = ann_build(W.path, &bp);
	grade_check(rc == 0, "harness: ann_build failed: %s (the course's code; is the disk full?)",
		    grade_errno_str(rc));
	rc = ann_load(&W.idx, W.path);
	grade_check(rc == 0, "harness: ann_load failed: %s", grade_errno_str(rc));
	W.image = grade_slurp(W.path, &W.size);
	grade_check(W.image != NULL, "harness: cannot read the index back");
	W.queries = grade_xmalloc(sizeof(float) * T_NQ * T_DIM);
	W.truth = grade_xmalloc(sizeof(uint32_t) * T_NQ * T_K);
	rc = ann_queries(W.idx, 5, T_NQ, W.queries);
	grade_check(rc == 0, "harness: ann_queries failed: %s", grade_errno_str(rc));
	rc = ann_truth(W.idx, W.path, W.queries, T_NQ, T_K, W.truth);
	grade_check(rc == 0, "harness: ann_truth failed: %s", grade_errno_str(rc));
}

static const float *query(unsigned q)
{
	return W.queries + (size_t)q * W.idx->h.dim;
}

/* ======================================================= the test reader */

#define MEM_FD 1000     /* the descriptor the requests must name */
#define MAX_LOG 8192

enum fault_kind { F_NONE, F_RES, F_SHORT, F_WRONG_NODE, F_CALL, F_BAD_NODE };

struct mem_io {
	struct ann_io io;
	long calls;
	long reqs;
	long largest;           /* most requests in one call */
	/* the log of one query: ids read, and where each call starts */
	uint32_t log[MAX_LOG];
	long nlog;
	long call_start[MAX_LOG];
	long ncalls_logged;
	/* a fault: at call `at_call` (1-based), request `at_req` (0-based) */
	enum fault_kind fault;
	long at_call, at_req;
	int err;
	bool faulted;
	bool call_after_reads;  /* F_CALL: every request served, then the error */
	/* the first rule broken, for the message */
	char broke[256];
};

/* Where node id is among the synthetic world's nodes, or -1. */
static long synth_index(uint32_t id)
{
	if (W.sparse) {
		for (uint32_t j = 0; j < W.count; j++)
			if (W.sparse[j] == id)
				return j;
		return -1;
	}
	return id >= W.base && id - W.base < W.count ? (long)(id - W.base) : -1;
}

/* The bytes of the file at [off, off + len): the image, or a synthetic
 * node. Returns how many (short only at the end of the file). */
static ssize_t serve(off_t off, void *buf, size_t len)
{
	if (W.image) {
		if ((size_t)off >= W.size)
			return 0;
		if (len > W.size - (size_t)off)
			len = W.size - (size_t)off;
		memcpy(buf, W.image + off, len);
		return (ssize_t)len;
	}
	/* synthetic: one sector per node of the made-up graph */
	uint32_t id = (uint32_t)(off / ANN_SECTOR) - 1;
	unsigned char *p = buf;
	long at = synth_index(id);

	memset(buf, 0, len);
	if (off % ANN_SECTOR || at < 0 || len < ANN_SECTOR)
		return (ssize_t)len;    /* zeros: not a node ann_node_parse accepts */
	uint32_t j = (uint32_t)at;
	struct ann_node_head head = { .id = id, .nnbrs = W.nnbrs[j] };

	memcpy(p, &head, sizeof(head));
	memcpy(p + sizeof(head), W.vecs + (size_t)j * W.idx->h.dim, sizeof(float) * W.idx->h.dim);
	memcpy(p + sizeof(head) + sizeof(float) * W.idx->h.dim, W.nbrs[j],
	       sizeof(uint32_t) * W.nnbrs[j]);
	return ANN_SECTOR;
}

static void broke(struct mem_io *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broke(struct mem_io *m, const char *fmt, ...)
{
	va_list ap;

	if (m->broke[0])
		return;
	va_start(ap, fmt);
	vsnprintf(m->broke, sizeof(m->broke), fmt, ap);
	va_end(ap);
}

static int mem_read(void *ctx, struct batch_req *reqs, size_t n)
{
	struct mem_io *m = ctx;

	m->calls++;
	if (n == 0)
		return 0;
	if (!reqs)
		return -EINVAL;
	if ((long)n > m->largest)
		m->largest = (long)n;
	if (m->ncalls_logged < MAX_LOG)
		m->call_start[m->ncalls_logged++] = m->nlog;
	if (m->fault == F_CALL && m->calls == m->at_call) {
		/* A failed call leaves res unspecified (batch.h): here each
		 * says -EIO, which the search must not take for the call's
		 * error; or each holds its whole sector (the reader failed
		 * after the reads: an error after partial progress), which
		 * the search must not take for a success */
		for (size_t i = 0; i < n; i++)
			reqs[i].res = m->call_after_reads && reqs[i].fd == m->io.fd ?
					      serve(reqs[i].offset, reqs[i].buf, reqs[i].len) : -EIO;
		m->faulted = true;
		return m->err;
	}
	for (size_t i = 0; i < n; i++) {
		struct batch_req *r = &reqs[i];

		m->reqs++;
		if (r->fd != m->io.fd) {
			broke(m, "a request named descriptor %d instead of io->fd (%d)", r->fd, m->io.fd);
			r->res = -EBADF;
			continue;
		}
		if (r->len != ANN_SECTOR && r->len % ANN_SECTOR == 0) {
			broke(m, "a request asked for %zu bytes at offset %lld: a node is one sector, "
			      "ANN_SECTOR (4096) bytes at ann_node_offset(id), never more: the sectors "
			      "after it are other nodes (or the compressed vectors), read for nothing "
			      "(ann.h, ann_search step 2; TODO 5)", r->len, (long long)r->offset);
			r->res = -EINVAL;
			continue;
		}
		if (r->offset < 0 || r->offset % ANN_SECTOR || r->len % ANN_SECTOR ||
		    (uintptr_t)r->buf % ANN_SECTOR) {
			broke(m, "a request had offset %lld, length %zu, buffer %p: with O_DIRECT all "
			      "three must be multiples of ANN_SECTOR (4096), and the read fails with "
			      "EINVAL", (long long)r->offset, r->len, r->buf);
			r->res = -EINVAL;
			continue;
		}
		if (m->nlog < MAX_LOG)
			m->log[m->nlog++] = (uint32_t)(r->offset / ANN_SECTOR - 1);
		r->res = serve(r->offset, r->buf, r->len);
		if (m->calls == m->at_call && (long)i == m->at_req) {
			m->faulted = true;
			if (m->fault == F_RES)
				r->res = m->err;
			else if (m->fault == F_SHORT)
				r->res = m->err;        /* the bytes it says it read */
			else if (m->fault == F_WRONG_NODE)
				r->res = serve(r->offset + ANN_SECTOR, r->buf, r->len);
			else if (m->fault == F_BAD_NODE)
				((struct ann_node_head *)r->buf)->nnbrs = W.idx->h.degree + 1;
		}
	}
	return 0;
}

/* MEM_FD open (on /dev/null), so that a search closing the caller's
 * descriptor is seen: true when it is. */
static bool mem_fd_opened;

static void mem_fd_open(void)
{
	int fd;

	if (mem_fd_opened || fcntl(MEM_FD, F_GETFD) != -1)
		return;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && dup2(fd, MEM_FD) == MEM_FD)
		mem_fd_opened = true;
	if (fd >= 0 && fd != MEM_FD)
		close(fd);
}

static void mem_init(struct mem_io *m)
{
	mem_fd_open();
	memset(m, 0, sizeof(*m));
	m->io.read = mem_read;
	m->io.ctx = m;
	m->io.fd = MEM_FD;
}

static void mem_new_query(struct mem_io *m)
{
	m->nlog = 0;
	m->ncalls_logged = 0;
	m->calls = 0;
	m->reqs = 0;
}

/* ann_search with every blocking read refused and the heap watched. */
static int search(struct mem_io *m, const float *q, unsigned k, unsigned L, unsigned Wd,
		  uint32_t *ids, float *dists, struct ann_stats *st)
{
	struct ann_params p = { .k = k, .L = L, .W = Wd };
	int ret;

	mem_new_query(m);
	seam_refuse_blocking_io("the nodes are read through io->read, the reader the search is "
				"given (ann.h: \"Reads go through io->read and nothing else\")");
	ret = SEAM_CALL(ann_search(W.idx, &m->io, q, &p, ids, dists, st));
	grade_check(m->broke[0] == 0, "ann_search: %s (TODO 5)", m->broke);
	grade_check(m->io.fd != MEM_FD || !mem_fd_opened || fcntl(MEM_FD, F_GETFD) != -1,
		    "ann_search returned %s and io->fd (%d) is closed: the descriptor is the "
		    "caller's, on success and on error alike (it searches the index again after a "
		    "failed query); the search opens nothing, so it has nothing to close (ann.h, "
		    "struct ann_io; TODO 8 frees what the query allocated, only that)",
		    grade_errno_str(ret), MEM_FD);
	return ret;
}

/* A search that returned an error without reading anything (the untouched
 * skeleton's -ENOSYS) says so, instead of failing a check about hops. */
static void check_searched(const struct mem_io *m, int ret, const char *what)
{
	grade_check(ret >= 0 || m->calls > 0, "%s: ann_search returned %s without reading "
		    "anything (TODOs 1 to 5 come first)", what, grade_errno_str(ret));
}

/* ============================================================== replay */

/* The harness's own candidate list, fed with what the search read. */
struct model {
	float est[ANN_MAX_L + 1];
	uint32_t id[ANN_MAX_L + 1];
	bool read[ANN_MAX_L + 1];
	unsigned n, L;
	uint8_t *seen;
	long *read_at;          /* per node: the hop that read it, 0: not read */
};

static bool m_closer(float a, uint32_t ia, float b, uint32_t ib)
{
	return a < b || (a == b && ia < ib);
}

static void model_offer(struct model *md, const float *q, uint32_t id)
{
	unsigned i;
	float e;

	if (md->seen[id])
		return;
	md->seen[id] = 1;
	e = ann_approx_dist(W.idx, q, id);
	for (i = md->n; i > 0 && m_closer(e, id, md->est[i - 1], md->id[i - 1]); i--) {
		md->est[i] = md->est[i - 1];
		md->id[i] = md->id[i - 1];
		md->read[i] = md->read[i - 1];
	}
	md->est[i] = e;
	md->id[i] = id;
	md->read[i] = false;
	if (md->n < md->L)
		md->n++;
}

static int model_find(const struct model *md, uint32_t id)
{
	for (unsigned i = 0; i < md->n; i++)
		if (md->id[i] == id)
			return (int)i;
	return -1;
}

/* The node's neighbours, from the bytes the harness serves. */
static unsigned node_nbrs(uint32_t id, uint32_t *out)
{
	unsigned char *sec = aligned_alloc(ANN_SECTOR, ANN_SECTOR);
	const float *vec;
	const uint32_t *nb;
	unsigned nn = 0;

	grade_check(sec != NULL, "harness: out of memory");
	if (serve(ann_node_offset(id), sec, ANN_SECTOR) == ANN_SECTOR &&
	    ann_node_parse(W.idx, id, sec, ANN_SECTOR, &vec, &nb, &nn) == 0)
		memcpy(out, nb, nn * sizeof(*nb));
	else
		nn = 0;
	free(sec);
	return nn;
}

static float node_dist(uint32_t id, const float *q)
{
	unsigned char *sec = aligned_alloc(ANN_SECTOR, ANN_SECTOR);
	const float *vec;
	const uint32_t *nb;
	unsigned nn;
	float d = INFINITY;

	grade_check(sec != NULL, "harness: out of memory");
	if (serve(ann_node_offset(id), sec, ANN_SECTOR) == ANN_SECTOR &&
	    ann_node_parse(W.idx, id, sec, ANN_SECTOR, &vec, &nb, &nn) == 0)
		d = ann_dist(q, vec, W.idx->h.dim);
	free(sec);
	return d;
}

/* Check the hops the search made for query q against the contract's walk. */
static void replay(const struct mem_io *m, const float *q, unsigned L, unsigned Wd,
		   const char *what)
{
	struct model *md = calloc(1, sizeof(*md));
	uint32_t nb[ANN_MAX_DEGREE];
	long calls = m->ncalls_logged;

	grade_check(md != NULL, "harness: out of memory");
	grade_check(m->calls == m->ncalls_logged, "%s: the search called io->read %ld time(s) "
		    "with no request (n == 0) besides its %ld hops: when no unread candidate is "
		    "left the search is over, without one more call (a do-while loop that reads "
		    "before it asks whether the frontier is empty?) (TODO 4)", what,
		    m->calls - m->ncalls_logged, m->ncalls_logged);
	md->seen = calloc(W.idx->h.n, 1);
	md->read_at = calloc(W.idx->h.n, sizeof(long));
	grade_check(md->seen != NULL && md->read_at != NULL, "harness: out of memory");
	md->L = L;
	model_offer(md, q, W.idx->h.entry);
	for (long c = 0; c < calls; c++) {
		long from = m->call_start[c], to = c + 1 < calls ? m->call_start[c + 1] : m->nlog;
		unsigned unread = 0, want;
		float limit = -INFINITY;

		for (unsigned i = 0; i < md->n; i++)
			if (!md->read[i] && unread++ < Wd)
				limit = md->est[i];
		want = unread < Wd ? unread : Wd;
		/* a node read again first: it says more than the counts below */
		for (long r = from; r < to; r++) {
			uint32_t id = m->log[r];

			for (long t = from; t < r; t++)
				if (m->log[t] == id)
					grade_fail("%s: hop %ld read node %u twice in the same call: it was in "
						   "your list twice, so your seen set let it in a second time "
						   "(TODO 6; a seen set that cannot hold some ids, id 0 as an "
						   "empty marker?), or the frontier took it twice (TODO 4)", what,
						   c + 1, id);
			if (md->read_at[id])
				grade_fail("%s: hop %ld read node %u, which hop %ld had read already: a node is "
					   "read at most once per query. It came back into your list, so your "
					   "seen set let it in again (TODO 6; for the entry node, TODO 3: it is "
					   "seen from the start). A seen set that cannot hold some ids (id 0 as "
					   "an empty marker?) does this", what, c + 1, id, md->read_at[id]);
		}
		grade_check(want > 0, "%s: the search read again (hop %ld) after every candidate of its "
			    "list had been read: it is over when no unread candidate is left (TODO 4)",
			    what, c + 1);
		grade_check(to - from == (long)want, "%s: hop %ld read %ld node(s) in its call of "
			    "io->read; the contract's hop reads min(W, unread candidates) = %u nodes, all in "
			    "one call (W = %u; TODOs 4 and 5; README, \"One hop, one batch\")", what, c + 1,
			    to - from, want, Wd);
		for (long r = from; r < to; r++) {
			uint32_t id = m->log[r];
			int at = model_find(md, id);

			grade_check(at >= 0, "%s: hop %ld read node %u, which is not among the L = %u "
				    "nearest candidates seen so far: the search reads only nodes of its "
				    "candidate list (an entry node first, then neighbours of nodes read; "
				    "TODOs 3, 4 and 6), and a node the full list dropped is not read", what,
				    c + 1, id, L);
			if (md->est[at] > limit) {
				unsigned left = 0;

				/* the nearest unread candidate this hop did not take */
				for (unsigned i = 0; i < md->n; i++) {
					bool taken = false;

					for (long t = from; t < to; t++)
						taken |= m->log[t] == md->id[i];
					if (!md->read[i] && !taken) {
						left = i;
						break;
					}
				}
				grade_fail("%s: hop %ld read node %u (estimate %g) but left node %u (estimate "
					   "%g) unread: the hop reads the W nearest unread by ann_approx_dist "
					   "(TODO 4), or your list lost node %u when it was full: the farthest "
					   "falls off, never another (TODO 6)", what, c + 1, id, md->est[at],
					   md->id[left], md->est[left], md->id[left]);
			}
			md->read[at] = true;
			md->read_at[id] = c + 1;
		}
		for (long r = from; r < to; r++) {
			unsigned nn = node_nbrs(m->log[r], nb);

			for (unsigned j = 0; j < nn; j++)
				model_offer(md, q, nb[j]);
		}
	}
	for (unsigned i = 0; i < md->n; i++)
		grade_check(md->read[i], "%s: the search stopped after %ld hop(s) with node %u (estimate "
			    "%g) in its best L = %u candidates and not read: it goes on until every "
			    "candidate of the list has been read (TODO 4; README, \"When the search "
			    "ends\")", what, calls, md->id[i], md->est[i], L);
	free(md->seen);
	free(md->read_at);
	free(md);
}

/* The answer must be the k nearest, by exact distance, of the nodes read. */
static void check_answer(const struct mem_io *m, const float *q, unsigned k, int ret,
			 const uint32_t *ids, const float *dists, const char *what)
{
	long nread = m->nlog;
	float *d = grade_xmalloc(sizeof(float) * (size_t)(nread ? nread : 1));
	unsigned want = (unsigned)(nread < (long)k ? nread : (long)k);

	grade_check(ret == (int)want, "%s: the search returned %s; it read %ld node(s), so it "
		    "returns min(k = %u, nodes read) = %u (TODO 7)", what, grade_errno_str(ret), nread, k,
		    want);
	for (long i = 0; i < nread; i++)
		d[i] = node_dist(m->log[i], q);
	/* sort the distances of the nodes read */
	for (long i = 1; i < nread; i++)
		for (long j = i; j > 0 && d[j] < d[j - 1]; j--) {
			float t = d[j];
			d[j] = d[j - 1];
			d[j - 1] = t;
		}
	for (unsigned i = 0; i < want; i++) {
		long at = -1;

		for (long j = 0; j < nread; j++)
			if (m->log[j] == ids[i])
				at = j;
		grade_check(at >= 0, "%s: result %u is node %u, which the search never read: the "
			    "answer is made of nodes read, scored by their exact distance (TODO 6)",
			    what, i, ids[i]);
		float got = node_dist(ids[i], q);

		grade_check(got <= d[i] * (1 + 1e-5f) + 1e-6f && got >= d[i] * (1 - 1e-5f) - 1e-6f,
			    "%s: result %u is node %u at exact distance %g, but the %u-th nearest node "
			    "read is at %g: the results are the k nearest of the nodes read by "
			    "ann_dist on the vector read from disk (not by the estimate), nearest first "
			    "(TODOs 6 and 7)", what, i, ids[i], got, i + 1, d[i]);
		for (unsigned j = 0; j < i; j++)
			grade_check(ids[j] != ids[i], "%s: node %u is in the results twice", what, ids[i]);
		if (dists)
			grade_check(fabsf(dists[i] - got) <= 1e-4f * (got + 1),
				    "%s: dists[%u] is %g but node %u is at squared distance %g "
				    "(ann_dist; TODO 7)", what, i, dists[i], ids[i], got);
	}
	free(d);
}

static double recall(const uint32_t *ids, int r, unsigned q)
{
	unsigned hit = 0;

	for (unsigned i = 0; i < T_K; i++)
		for (int j = 0; j < r; j++)
			if (ids[j] == W.truth[(size_t)q * T_K + i]) {
				hit++;
				break;
			}
	return (double)hit / T_K;
}

/* =========================================================== synthetic */

/* A made-up index: `count` nodes with ids base .. base + count - 1 (all
 * other ids exist only in the compressed vectors), vectors on a line at
 * 1, 2, 3 ... in the first dimension, and the neighbours given. */
static void make_synthetic(uint32_t base, uint32_t count, unsigned dim, unsigned degree)
{
	size_t n = (size_t)base + count;
	struct ann_index *idx = grade_xmalloc(sizeof(*idx));
	float *lo = calloc(dim, sizeof(float)), *step = calloc(dim, sizeof(float));
	uint8_t *codes = calloc(n, dim);

	grade_check(lo && step && codes, "harness: out of memory");
	memset(idx, 0, sizeof(*idx));
	memcpy(idx->h.magic, ANN_MAGIC, 8);
	idx->h.version = 1;
	idx->h.dim = dim;
	idx->h.n = (uint32_t)n;
	idx->h.degree = degree;
	idx->h.entry = base;
	idx->h.codes_offset = (uint64_t)(n + 1) * ANN_SECTOR;
	for (unsigned d = 0; d < dim; d++)
		step[d] = 1.0f;
	idx->lo = lo;
	idx->step = step;
	idx->codes = codes;
	W.idx = idx;
	W.image = NULL;
	W.base = base;
	W.count = count;
	W.sparse = NULL;
	W.vecs = calloc((size_t)count * dim, sizeof(float));
	W.nbrs = calloc(count, sizeof(*W.nbrs));
	W.nnbrs = calloc(count, sizeof(unsigned));
	grade_check(W.vecs && W.nbrs && W.nnbrs, "harness: out of memory");
	for (uint32_t j = 0; j < count; j++) {
		W.vecs[(size_t)j * dim] = (float)(j + 1);
		codes[(size_t)(base + j) * dim] = (uint8_t)(j + 1);
	}
}

static void synth_edge(uint32_t from, uint32_t to)
{
	long at = synth_index(from);
	uint32_t j = (uint32_t)at;

	grade_check(at >= 0, "harness: no synthetic node %u", from);

	W.nbrs[j][W.nnbrs[j]++] = to;
}

/* A made-up index of n nodes of which only ids[0 .. count - 1] are served
 * (ids[0] the entry), node ids[j] on the line at j + 1 like make_synthetic's
 * node j: ids far apart in a large index. */
static void make_sparse(const uint32_t *ids, uint32_t count, uint32_t n, unsigned dim,
			unsigned degree)
{
	uint8_t *codes = calloc(n, dim);

	grade_check(codes != NULL, "harness: out of memory");
	make_synthetic(0, count, dim, degree);
	W.idx->h.n = n;
	W.idx->h.entry = ids[0];
	W.idx->h.codes_offset = ((uint64_t)n + 1) * ANN_SECTOR;
	for (uint32_t j = 0; j < count; j++)
		codes[(size_t)ids[j] * dim] = (uint8_t)(j + 1);
	W.idx->codes = codes;
	W.sparse = ids;
}

/* The synthetic index (nodes 0 .. count - 1, base 0) as a file on disk,
 * for the tests that search it through a real ring: every node served
 * into one image, written to grade_path(name), and W pointed at it. */
static void synth_write_index(const char *name, uint32_t count)
{
	size_t size = (size_t)(count + 1) * ANN_SECTOR;
	unsigned char *img = grade_xmalloc(size);
	const char *path = grade_path(name);
	int fd;

	memset(img, 0, size);
	for (uint32_t j = 0; j < count; j++)
		grade_check(serve(ann_node_offset(j), img + ann_node_offset(j), ANN_SECTOR) ==
				    ANN_SECTOR, "harness: no synthetic node %u", j);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	grade_check(fd >= 0 && write(fd, img, size) == (ssize_t)size && close(fd) == 0,
		    "harness: cannot write %s: %s", path, strerror(errno));
	W.path = path;
	W.image = img;
	W.size = size;
}

/* ============================================================== tests */

GRADE_TEST(search, null_arguments, 1,
	   "ann_search: -EINVAL for a NULL idx, io, io->read, query, p or ids; nothing read",
	   "TODO 1: check every pointer the contract names before using or allocating anything "
	   "(ann.h, ann_search, \"Returns\")")
{
	struct mem_io m;
	struct ann_io noread;
	struct ann_params p = { .k = 10, .L = 32, .W = 4 };
	uint32_t ids[10];
	struct seam_heap before;
	int ret;

	make_world();
	mem_init(&m);
	noread = m.io;
	noread.read = NULL;
	seam_heap_usage(&before);
	seam_refuse_blocking_io("ann_search reads through io->read only");
	ret = SEAM_CALL(ann_search(NULL, &m.io, query(0), &p, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with idx NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ann_search(W.idx, NULL, query(0), &p, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with io NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ann_search(W.idx, &noread, query(0), &p, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with io->read NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ann_search(W.idx, &m.io, NULL, &p, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with query NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ann_search(W.idx, &m.io, query(0), NULL, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with p NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	ret = SEAM_CALL(ann_search(W.idx, &m.io, query(0), &p, NULL, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search with ids NULL returned %s, expected -EINVAL",
		    grade_errno_str(ret));
	grade_check(m.calls == 0, "ann_search called io->read %ld time(s) although it was going to "
		    "refuse its arguments: check them first (TODO 1)", m.calls);
	grade_check_heap(&before, "ann_search refusing its arguments");
}

GRADE_TEST(search, param_ranges, 2,
	   "ann_search: -EINVAL for k, L or W out of range (k 0 or > ANN_MAX_K, L < k or > "
	   "ANN_MAX_L, W 0 or > L); the edges themselves accepted, and walked as ann.h says (W 200: "
	   "200 requests per call)",
	   "TODO 1: 1 <= k <= ANN_MAX_K, k <= L <= ANN_MAX_L, 1 <= W <= L (ann.h, struct "
	   "ann_params); refuse before allocating. TODOs 2 and 5: W may be anything up to L: the "
	   "requests and buffers of a hop are allocated for p->W, not a fixed number of them")
{
	static const struct { unsigned k, L, Wd; bool ok; } cases[] = {
		{ 0, 32, 4, false }, { ANN_MAX_K + 1, ANN_MAX_L, 4, false }, { 10, 9, 4, false },
		{ 10, ANN_MAX_L + 1, 4, false }, { 10, 32, 0, false }, { 10, 32, 33, false },
		{ 1, 1, 1, true }, { 10, 10, 10, true }, { 10, 32, 32, true },
		{ ANN_MAX_K, ANN_MAX_K, 1, true }, { 10, ANN_MAX_L, 64, true },
		{ 10, 256, 200, true }, { 5, 5, 5, true },
		/* W == L == ANN_MAX_L: a hop of more than 255 requests (a count
		 * kept in 8 bits wraps) */
		{ 10, ANN_MAX_L, ANN_MAX_L, true },
	};
	struct mem_io m;
	uint32_t ids[ANN_MAX_K];
	struct seam_heap before;

	make_world();
	mem_init(&m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		seam_heap_usage(&before);
		ret = search(&m, query(1), cases[i].k, cases[i].L, cases[i].Wd, ids, NULL, NULL);
		if (cases[i].ok) {
			char what[96];

			grade_check(ret == (int)cases[i].k, "ann_search with k %u, L %u, W %u (all in range) "
				    "returned %s, expected %u results", cases[i].k, cases[i].L, cases[i].Wd,
				    grade_errno_str(ret), cases[i].k);
			/* at the edges too, each hop is the contract's: W nodes per
			 * call whatever W is (no cap on the requests of a call) */
			snprintf(what, sizeof(what), "query 1 (k %u, L %u, W %u)", cases[i].k, cases[i].L,
				 cases[i].Wd);
			replay(&m, query(1), cases[i].L, cases[i].Wd, what);
		} else
			grade_check(ret == -EINVAL && m.calls == 0, "ann_search with k %u, L %u, W %u "
				    "returned %s after %ld call(s) of io->read, expected -EINVAL before "
				    "reading anything (TODO 1)", cases[i].k, cases[i].L, cases[i].Wd,
				    grade_errno_str(ret), m.calls);
		grade_check_heap(&before, "ann_search");
	}
}

GRADE_TEST(search, one_query, 3,
	   "one query: the answer is the k nearest of the nodes read, by exact distance, nearest "
	   "first, with their distances (a node the list dropped after it was read included)",
	   "TODOs 6 and 7: score every node read with ann_dist on the vector the sector holds, keep "
	   "the k nearest, return them nearest first (README, \"Estimate, then read\")")
{
	struct mem_io m;
	uint32_t ids[T_K];
	float dists[T_K];
	int ret;

	make_world();
	mem_init(&m);
	ret = search(&m, query(0), T_K, 64, 4, ids, dists, NULL);
	grade_check(ret >= 0, "ann_search returned %s on a good index and a good reader",
		    grade_errno_str(ret));
	check_answer(&m, query(0), T_K, ret, ids, dists, "query 0 (k 10, L 64, W 4)");

	/* A node read, then dropped from the list, is still among the nodes
	 * read: entry 0 (exact distance 1) has neighbours 1 and 2 whose
	 * estimates (0.0625, 0.25) beat its own (1), so at L 2 they push it
	 * out of the list; read, they turn out far (100, 121). */
	const char *what = "a graph of 3 nodes, entry 0 (exact distance 1) dropped from the list "
			   "of L 2 by neighbours 1 and 2 that look nearer and are far (k 2, L 2, W 1)";
	float q[4] = { 0 };

	make_synthetic(0, 3, 4, 4);
	synth_edge(0, 1);
	synth_edge(0, 2);
	((float *)W.idx->step)[0] = 0.25f;
	((uint8_t *)W.idx->codes)[0 * 4] = 4;   /* estimates: x = 1, 0.25, 0.5 */
	((uint8_t *)W.idx->codes)[1 * 4] = 1;
	((uint8_t *)W.idx->codes)[2 * 4] = 2;
	W.vecs[1 * 4] = 10.0f;                  /* exact: x = 1, 10, 11 */
	W.vecs[2 * 4] = 11.0f;
	mem_init(&m);
	ret = search(&m, q, 2, 2, 1, ids, dists, NULL);
	check_searched(&m, ret, what);
	check_answer(&m, q, 2, ret, ids, dists, what);
	grade_check(ret == 2 && ids[0] == 0 && ids[1] == 1, "%s: the search answered %s (%u, %u), "
		    "expected nodes 0 and 1: node 0 was read first, at exact distance 1, and is the "
		    "nearest node read even though the candidate list dropped it. The results are the "
		    "k best of ALL the nodes read, kept apart from the list of candidates (which holds "
		    "estimates, and drops read nodes too) (ann.h, \"among all the nodes read\"; "
		    "TODOs 6 and 7)", what, grade_errno_str(ret), ret > 0 ? ids[0] : 0,
		    ret > 1 ? ids[1] : 0);
}

GRADE_TEST(search, many_queries, 3,
	   "40 queries at several k, L and W: every answer is the k nearest of the nodes read",
	   "TODOs 6 and 7; each query starts afresh: a list, a seen set and a best-k of its own "
	   "(TODO 2)")
{
	static const struct { unsigned k, L, Wd; } p[] = {
		{ 10, 64, 4 }, { 1, 16, 1 }, { 5, 32, 8 }, { 20, 40, 40 }, { 10, 128, 16 },
		{ 10, 10, 2 }, { 5, 5, 1 }, { 12, 12, 12 },
	};
	struct mem_io m;
	uint32_t ids[ANN_MAX_K];
	float dists[ANN_MAX_K];
	char what[96];

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < T_NQ; q++) {
		unsigned c = q % (sizeof(p) / sizeof(p[0]));
		int ret = search(&m, query(q), p[c].k, p[c].L, p[c].Wd, ids, dists, NULL);

		snprintf(what, sizeof(what), "query %u (k %u, L %u, W %u)", q, p[c].k, p[c].L, p[c].Wd);
		grade_check(ret >= 0, "%s: ann_search returned %s", what, grade_errno_str(ret));
		check_answer(&m, query(q), p[c].k, ret, ids, dists, what);
	}
}

GRADE_TEST(search, recall, 3,
	   "recall@10 over 40 queries (k 10, L 24, W 4) as good as the reference's, for as many reads",
	   "Recall is what the walk finds: TODOs 3, 4 and 6 (README, \"Recall, and what it costs\"); "
	   "the mechanism tests (hops) say which step differs")
{
	struct mem_io m;
	uint32_t ids[T_K];
	double sum = 0;
	long reads = 0;

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < T_NQ; q++) {
		int ret = search(&m, query(q), T_K, T_REC_L, 4, ids, NULL, NULL);

		grade_check(ret >= 0, "query %u: ann_search returned %s", q, grade_errno_str(ret));
		sum += recall(ids, ret, q);
		reads += m.reqs;
	}
	grade_check((double)reads / T_NQ <= 1.5 * T_REF_READS, "the queries read %.1f nodes each on "
		    "average; the contract's walk reads %.1f at L %u: recall is what the search finds "
		    "reading only the candidates its list keeps, not what reading more of the index "
		    "finds (TODOs 4 and 6)", (double)reads / T_NQ, T_REF_READS, T_REC_L);
	grade_check(sum / T_NQ >= T_REF_RECALL - T_RECALL_SLACK, "mean recall@10 is %.3f over %u "
		    "queries; the reference's is %.3f on the same index (seed %u), and a correct search "
		    "gets it too: compare your walk with ann.h's three steps", sum / T_NQ, T_NQ,
		    T_REF_RECALL, T_SEED);
}

GRADE_TEST(search, optional_outputs, 1,
	   "dists and stats may be NULL; the same answer with and without them",
	   "TODO 7: write dists[] and *stats only when they are not NULL")
{
	struct mem_io m;
	uint32_t a[T_K], b[T_K];
	float d[T_K];
	struct ann_stats st;
	int ra, rb;

	make_world();
	mem_init(&m);
	ra = search(&m, query(2), T_K, 48, 4, a, d, &st);
	rb = search(&m, query(2), T_K, 48, 4, b, NULL, NULL);
	grade_check(ra == rb && ra > 0 && !memcmp(a, b, sizeof(uint32_t) * (size_t)ra),
		    "ann_search answered differently (%s, %s) with dists and stats given and without "
		    "them", grade_errno_str(ra), grade_errno_str(rb));
}

GRADE_TEST(search, stats, 2,
	   "stats: hops is the calls of io->read and reads the nodes read, as the reader counted "
	   "(the same query asked twice: read and counted twice)",
	   "TODO 7: count every call of io->read and every request, whatever happens after")
{
	struct mem_io m;
	uint32_t ids[T_K];
	struct ann_stats st;

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < 6; q++) {
		int ret;

		memset(&st, 0xa5, sizeof(st));
		ret = search(&m, query(q), T_K, 32 + 16 * q, 1 + q, ids, NULL, &st);
		grade_check(ret > 0, "query %u: ann_search returned %s", q, grade_errno_str(ret));
		grade_check(st.hops == (unsigned)m.calls && st.reads == (unsigned)m.reqs,
			    "query %u: stats say %u hops and %u reads; the reader was called %ld times "
			    "for %ld requests", q, st.hops, st.reads, m.calls, m.reqs);
	}
	/* the last query asked again, the same vector, index and knobs: it is
	 * read again, through this call's reader (which might serve another
	 * file, or fail), and counted again */
	long calls = m.calls, reqs = m.reqs;
	int ret;

	memset(&st, 0xa5, sizeof(st));
	ret = search(&m, query(5), T_K, 32 + 16 * 5, 6, ids, NULL, &st);
	grade_check(ret > 0 && m.calls > 0, "query 5 asked a second time: "
		    "ann_search returned %s after %ld call(s) of io->read for %ld request(s); the "
		    "first time it made %ld for %ld. Each call searches afresh through the reader it "
		    "is given: an answer remembered from an earlier call (in a static) is not the "
		    "search's, and ann.h keeps nothing between calls (TODO 2; ann.h, ann_search: "
		    "\"nothing is kept between calls\")", grade_errno_str(ret), m.calls, m.reqs, calls,
		    reqs);
	replay(&m, query(5), 32 + 16 * 5, 6, "query 5 asked a second time");
	grade_check(st.hops == (unsigned)m.calls && st.reads == (unsigned)m.reqs,
		    "query 5 asked a second time: stats say %u hops and %u reads; the reader was "
		    "called %ld times for %ld requests", st.hops, st.reads, m.calls, m.reqs);
}

GRADE_TEST(hops, walk, 5,
	   "every hop reads, in one call, the W nearest unread candidates; the search ends when none "
	   "is left (the contract's walk, replayed over 40 queries)",
	   "TODOs 3-6: the entry first; each hop min(W, unread) nodes in ONE io->read; neighbours "
	   "not seen before join the list, kept to the L nearest (README, \"One hop, one batch\")")
{
	static const struct { unsigned L, Wd; } p[] = { { 64, 4 }, { 32, 1 }, { 48, 8 }, { 100, 16 } };
	struct mem_io m;
	uint32_t ids[T_K];
	char what[96];

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < T_NQ; q++) {
		unsigned c = q % 4;
		int ret = search(&m, query(q), T_K, p[c].L, p[c].Wd, ids, NULL, NULL);

		snprintf(what, sizeof(what), "query %u (L %u, W %u)", q, p[c].L, p[c].Wd);
		grade_check(ret > 0, "%s: ann_search returned %s", what, grade_errno_str(ret));
		grade_check(m.nlog > 0 && m.log[0] == W.idx->h.entry, "%s: the first node read was %u, "
			    "not the entry node %u: every query starts at idx->h.entry (TODO 3)", what,
			    m.nlog ? m.log[0] : 0, W.idx->h.entry);
		replay(&m, query(q), p[c].L, p[c].Wd, what);
	}
	/* A long walk: a path of 250 nodes, the entry at one end and the query
	 * beyond the other. Every hop finds the next node, nearer, so the walk
	 * reads all 250 (hops and reads far above L): L is the only budget */
	const char *what2 = "a path of 250 nodes, entry 0 at one end, the query beyond the other "
			    "(k 2, L 2, W 1)";
	float qp[4] = { 260.0f, 0, 0, 0 };
	int ret;

	make_synthetic(0, 250, 4, 2);
	for (uint32_t j = 0; j + 1 < 250; j++) {
		synth_edge(j, j + 1);
		synth_edge(j + 1, j);
	}
	mem_init(&m);
	ret = search(&m, qp, 2, 2, 1, ids, NULL, NULL);
	check_searched(&m, ret, what2);
	replay(&m, qp, 2, 1, what2);
	grade_check(ret == 2 && m.reqs == 250 && ids[0] == 249 && ids[1] == 248, "%s: the search "
		    "returned %s after %ld read(s) in %ld hop(s), expected 2 results, nodes 249 and "
		    "248, after reading all 250: each hop finds one unread candidate nearer than "
		    "everything read, and the walk goes on while the list holds one, whatever the "
		    "number of hops or reads so far: L is the only budget, no cap on hops or reads "
		    "(README, \"When the search ends\"; TODO 4)", what2, grade_errno_str(ret), m.reqs,
		    m.calls);
}

GRADE_TEST(hops, batched, 3,
	   "at W 8 a query makes about one call of io->read per 8 nodes, not one per node",
	   "TODO 5: one call of io->read per hop with the whole frontier; a call per node gives the "
	   "same answer and keeps one read in flight (README, \"What one hop costs\")")
{
	struct mem_io m;
	uint32_t ids[T_K];
	long calls = 0, reqs = 0;

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < 10; q++) {
		int ret = search(&m, query(q), T_K, 64, 8, ids, NULL, NULL);

		grade_check(ret > 0, "query %u: ann_search returned %s", q, grade_errno_str(ret));
		calls += m.calls;
		reqs += m.reqs;
	}
	grade_check(reqs >= 4 * calls, "10 queries at W 8 read %ld nodes in %ld calls of io->read "
		    "(%.1f per call): a hop's frontier goes to the reader in one call", reqs, calls,
		    calls ? (double)reqs / calls : 0.0);
}

GRADE_TEST(hops, list_bounded, 2,
	   "the candidate list keeps only the L nearest: reads grow with L, and a query at L 16 reads "
	   "far fewer nodes than the index holds",
	   "TODO 6: when the list is full, a newcomer takes the place of the farthest or is dropped "
	   "(ann.h, step 3: \"keeping only the L best\")")
{
	struct mem_io m;
	uint32_t ids[T_K];
	long r16 = 0, r128 = 0;

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < 10; q++) {
		int ret = search(&m, query(q), T_K, 16, 4, ids, NULL, NULL);

		grade_check(ret > 0, "query %u (L 16) returned %s", q, grade_errno_str(ret));
		r16 += m.reqs;
		ret = search(&m, query(q), T_K, 128, 4, ids, NULL, NULL);
		grade_check(ret > 0, "query %u (L 128) returned %s", q, grade_errno_str(ret));
		r128 += m.reqs;
	}
	grade_check(r16 < r128 && r16 <= 10 * 16 * 4, "10 queries read %ld nodes at L 16 and %ld at "
		    "L 128: a list kept to L nodes reads a few times L per query, and more with a longer "
		    "list", r16, r128);
}

GRADE_TEST(hops, aligned, 2,
	   "every request: io->fd (descriptor 0 too), offset ann_node_offset(id), ANN_SECTOR bytes, a "
	   "buffer aligned to ANN_SECTOR",
	   "TODO 2 (posix_memalign) and TODO 5; man 2 open, \"O_DIRECT\": buffer, offset and length "
	   "aligned")
{
	struct mem_io m;
	uint32_t ids[T_K];

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < 4; q++) {
		int ret = search(&m, query(q), T_K, 32, 4 + q, ids, NULL, NULL);

		grade_check(ret > 0, "query %u: ann_search returned %s", q, grade_errno_str(ret));
	}
	/* descriptor 0 is a descriptor like any other (a program started with
	 * its standard input closed gets 0 from its first open) */
	m.io.fd = 0;
	int ret = search(&m, query(4), T_K, 32, 4, ids, NULL, NULL);

	grade_check(ret == T_K, "ann_search with io->fd 0 returned %s, expected %u results: 0 is a "
		    "valid descriptor (the first open of a process whose standard input is closed "
		    "returns it), and ann.h refuses only NULL pointers and k, L, W out of range; the "
		    "descriptor goes into every request as it is (TODOs 1 and 5)",
		    grade_errno_str(ret), T_K);
	/* nor is a negative one ann_search's to refuse: the descriptor is the
	 * reader's business (this reader serves the index from memory; a real
	 * one would put -EBADF in each request's res, the search's error) */
	m.io.fd = -1;
	ret = search(&m, query(5), T_K, 32, 4, ids, NULL, NULL);
	grade_check(ret == T_K, "ann_search with io->fd -1 returned %s, expected %u results from "
		    "this reader, which serves the index from memory: ann.h's -EINVAL is for NULL "
		    "pointers and k, L, W out of range only; a bad descriptor fails in the reader "
		    "(its -EBADF in a request's res, then the search's error), not in ann_search's "
		    "argument checks (TODOs 1 and 5)", grade_errno_str(ret), T_K);
}

GRADE_TEST(faults, request_error, 3,
	   "a request that fails (-EIO, -EINTR, -ENOMEM, -EBADF, -EAGAIN, -ECANCELED, -ENOBUFS in its "
	   "res) at any hop: its "
	   "error is returned, nothing leaks",
	   "TODO 6: a negative res is the search's error, returned as it is, -EAGAIN and -EINTR too "
	   "(ann.h: \"the -errno a request's res carried\"); TODO 8: free on that path too")
{
	static const int errs[] = { -EIO, -EINTR, -ENOMEM, -EBADF, -EAGAIN, -ECANCELED, -ENOBUFS };
	const unsigned nerrs = sizeof(errs) / sizeof(errs[0]);
	struct mem_io m;
	uint32_t ids[T_K];
	struct seam_heap before;
	unsigned faulted = 0;

	make_world();
	for (unsigned t = 0; t < 10; t++) {
		int ret;

		mem_init(&m);
		m.fault = F_RES;
		m.err = errs[t % nerrs];
		m.at_call = 1 + t;
		m.at_req = t % 3 == 0 ? 0 : (long)(t % 4);
		seam_heap_usage(&before);
		ret = search(&m, query(t), T_K, 64, 4, ids, NULL, NULL);
		check_searched(&m, ret, "a query with a request made to fail");
		if (!m.faulted)
			continue;       /* the query ended before that hop */
		faulted++;
		grade_check(ret == m.err, "request %ld of hop %ld came back with res %s; ann_search "
			    "returned %s instead of that error%s", m.at_req, m.at_call,
			    grade_errno_str(m.err), grade_errno_str(ret),
			    m.err == -EAGAIN || m.err == -EINTR || m.err == -ECANCELED ||
			    m.err == -ENOBUFS ? ": a request's res is its outcome "
			    "(batch.h): ann_search does not read the node again, it returns the error "
			    "(ann.h, ann_search, \"Returns\"; the -EAGAIN read submitted again is "
			    "ann_search_uring's rule, on its own ring)" : "");
		grade_check_heap(&before, "ann_search after a failed request");
	}
	grade_check(faulted >= 8, "only %u of 10 queries reached the hop whose request was made to "
		    "fail: queries of L 64 and W 4 make more than 10 hops (TODO 4)", faulted);
}

GRADE_TEST(faults, call_error, 2,
	   "io->read itself fails (the batch could not run: -EAGAIN, -ENOMEM, -EINTR, -EBUSY, "
	   "-ENOBUFS): its error is "
	   "returned, nothing leaks",
	   "TODO 5: a negative return of io->read is the search's error, -EINTR and -EAGAIN too "
	   "(not called again); TODO 8")
{
	struct mem_io m;
	uint32_t ids[T_K];
	struct seam_heap before;

	make_world();
	static const int errs[] = { -EAGAIN, -ENOMEM, -EINTR, -EBUSY, -ENOBUFS };

	for (unsigned t = 1; t <= 10; t++) {
		int ret;

		mem_init(&m);
		m.fault = F_CALL;
		m.err = errs[(t - 1) % (sizeof(errs) / sizeof(errs[0]))];
		m.at_call = t;
		m.call_after_reads = t % 2 == 0;
		seam_heap_usage(&before);
		ret = search(&m, query(t), T_K, 64, 4, ids, NULL, NULL);
		grade_check(m.faulted && ret == m.err, "io->read returned %s at call %ld; ann_search "
			    "returned %s (expected that error%s)", grade_errno_str(m.err), m.at_call,
			    grade_errno_str(ret), m.call_after_reads && ret >= 0 ? ": this reader "
			    "failed after it had filled every res with a whole sector (an error after "
			    "partial progress); the res fields of a failed call are unspecified "
			    "(batch.h), so whatever they say, the call's error is the search's (ann.h, "
			    "\"the error io->read returned\")" :
			    ret == -EIO ? ": when io->read fails, the res "
			    "fields are unspecified (batch.h; this reader left -EIO in each): the "
			    "error is what io->read returned, not a request's res" :
			    m.err == -EINTR || m.err == -EAGAIN || m.err == -EBUSY ||
			    m.err == -ENOBUFS ? ": the reader's error is the "
			    "search's, whatever it is; ann_search does not call io->read again (ann.h, "
			    "\"the error io->read returned\")" : "");
		grade_check_heap(&before, "ann_search after io->read failed");
	}
}

GRADE_TEST(faults, short_read, 2,
	   "a node read short or not at all (the index file cut): -EIO, nothing leaks",
	   "TODO 6: res from 0 to ANN_SECTOR - 1 means the file ends before the node's end: -EIO "
	   "(0 too: it is not an error code, and not a node)")
{
	struct mem_io m;
	uint32_t ids[T_K];
	struct seam_heap before;
	int ret;

	make_world();
	for (unsigned t = 1; t <= 4; t++) {
		mem_init(&m);
		m.fault = F_SHORT;
		m.err = t % 2 ? 512 : 0;        /* 0: the file ends before the node */
		m.at_call = t;
		m.at_req = 0;
		seam_heap_usage(&before);
		ret = search(&m, query(t), T_K, 64, 4, ids, NULL, NULL);
		check_searched(&m, ret, "a query with a node read short");
		grade_check(m.faulted && ret == -EIO, "a node came back with %d bytes of %u at hop %u; "
			    "ann_search returned %s, expected -EIO", m.err, ANN_SECTOR, t,
			    grade_errno_str(ret));
		grade_check_heap(&before, "ann_search after a short read");
	}
}

GRADE_TEST(faults, wrong_node, 2,
	   "a sector that is not the node asked for (another node, or more neighbours than the "
	   "degree): -EIO",
	   "TODO 6: ann_node_parse checks the sector; its error is the search's (ann.h)")
{
	struct mem_io m;
	uint32_t ids[T_K];
	int ret;

	make_world();
	for (unsigned t = 0; t < 4; t++) {
		mem_init(&m);
		m.fault = t % 2 ? F_BAD_NODE : F_WRONG_NODE;
		m.at_call = 2 + t;
		m.at_req = 0;
		ret = search(&m, query(t), T_K, 64, 4, ids, NULL, NULL);
		check_searched(&m, ret, "a query served a wrong node");
		grade_check(m.faulted && ret == -EIO, "hop %ld was served %s; ann_search returned %s, "
			    "expected -EIO", m.at_call, t % 2 ? "a node claiming more neighbours than "
			    "the index's degree" : "the sector of the next node", grade_errno_str(ret));
	}
}

GRADE_TEST(resources, heap, 2,
	   "no heap block left after queries, successful or not",
	   "TODO 8: every allocation of TODO 2 freed on every path out")
{
	struct mem_io m;
	uint32_t ids[T_K];
	struct seam_heap before;

	make_world();
	mem_init(&m);
	seam_heap_usage(&before);
	for (unsigned q = 0; q < 8; q++) {
		int ret = search(&m, query(q), T_K, 16 + 8 * q, 1 + q % 4, ids, NULL, NULL);

		grade_check(ret > 0, "query %u (k 10, L %u, W %u) returned %s", q, 16 + 8 * q,
			    1 + q % 4, grade_errno_str(ret));
	}
	grade_check_heap(&before, "8 queries");
}

GRADE_TEST(resources, enomem, 2,
	   "each allocation failing in turn: -ENOMEM, nothing leaks",
	   "TODO 2 (and any allocation made during the walk): an allocation that fails gives -ENOMEM "
	   "after freeing the ones made; TODO 8")
{
	struct mem_io m;
	uint32_t ids[T_K];
	struct seam_heap before, after;
	long allocs;

	make_world();
	mem_init(&m);
	seam_heap_usage(&before);
	int ret0 = search(&m, query(3), T_K, 64, 4, ids, NULL, NULL);

	grade_check(ret0 > 0, "query 3 (k 10, L 64, W 4) returned %s", grade_errno_str(ret0));
	seam_heap_usage(&after);
	allocs = after.allocs - before.allocs;
	for (long nth = 1; nth <= allocs; nth++) {
		struct seam_heap b2, a2;
		int ret;

		seam_heap_usage(&b2);
		seam_heap_fail(nth, 1);
		ret = search(&m, query(3), T_K, 64, 4, ids, NULL, NULL);
		seam_heap_fail(0, 0);
		seam_heap_usage(&a2);
		if (a2.failed > b2.failed)
			grade_check(ret == -ENOMEM, "allocation %ld of the %ld a query makes failed (the "
				    "%ld-th malloc, calloc, realloc or posix_memalign, before or during the "
				    "walk); ann_search returned %s, expected -ENOMEM", nth, allocs, nth,
				    grade_errno_str(ret));
		grade_check_heap(&b2, "ann_search with an allocation failing");
	}
}

struct par_arg {
	unsigned first;
	uint32_t ids[T_NQ][T_K];
	int ret[T_NQ];
	struct mem_io m;
};

static void *par_worker(void *p)
{
	struct par_arg *a = p;
	struct ann_params prm = { .k = T_K, .L = 64, .W = 4 };

	for (unsigned i = 0; i < T_NQ; i++) {
		unsigned q = (a->first + i) % T_NQ;

		mem_new_query(&a->m);
		a->ret[q] = ann_search(W.idx, &a->m.io, query(q), &prm, a->ids[q], NULL, NULL);
	}
	return NULL;
}

/* 11.18's second half: query A stops inside its third call of io->read,
 * after the reader has filled its buffers, until query B has run from
 * start to end in another thread: A's state (buffers included) must be
 * A's alone. */
struct pause_io {
	struct mem_io m;        /* first: mem_read takes the context as a mem_io */
	long calls;
};

static struct {
	sem_t go_b, b_done;
	bool paused;
	unsigned qa, qb;
	uint32_t ids[2][T_K];
	int ret[2];
	struct pause_io io[2];
} PZ;

static void pz_wait(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

static int pause_read(void *ctx, struct batch_req *reqs, size_t n)
{
	struct pause_io *p = ctx;
	int rc = mem_read(ctx, reqs, n);

	if (++p->calls == 3) {
		PZ.paused = true;
		sem_post(&PZ.go_b);
		pz_wait(&PZ.b_done);
	}
	return rc;
}

static void *pz_a(void *arg)
{
	struct ann_params prm = { .k = T_K, .L = 64, .W = 4 };

	(void)arg;
	PZ.ret[0] = ann_search(W.idx, &PZ.io[0].m.io, query(PZ.qa), &prm, PZ.ids[0], NULL, NULL);
	if (!PZ.paused)
		sem_post(&PZ.go_b);     /* never paused: B runs after A */
	return NULL;
}

static void *pz_b(void *arg)
{
	struct ann_params prm = { .k = T_K, .L = 64, .W = 4 };

	(void)arg;
	pz_wait(&PZ.go_b);
	PZ.ret[1] = ann_search(W.idx, &PZ.io[1].m.io, query(PZ.qb), &prm, PZ.ids[1], NULL, NULL);
	sem_post(&PZ.b_done);
	return NULL;
}

/* 11.18's third part: one thread, two queries interleaved. The reader of
 * query A, inside its third call, runs query B from start to end in the same
 * thread, as a reader that switches between queries does (a scheduler of
 * coroutines, each query one of them, whose io->read yields to the others
 * until its reads are back). A's state must survive B: state kept in a
 * static does not, thread-local or not. */
static struct {
	struct pause_io a;
	struct mem_io b;
	unsigned qb;
	bool ran;
	int ret_b;
	uint32_t ids_b[T_K];
	struct ann_stats st_b;
} NZ;

static int nest_read(void *ctx, struct batch_req *reqs, size_t n)
{
	struct pause_io *p = ctx;
	int rc = mem_read(ctx, reqs, n);

	if (++p->calls == 3 && !NZ.ran) {
		struct ann_params prm = { .k = T_K, .L = 64, .W = 4 };

		NZ.ran = true;
		mem_new_query(&NZ.b);
		NZ.ret_b = ann_search(W.idx, &NZ.b.io, query(NZ.qb), &prm, NZ.ids_b, NULL, &NZ.st_b);
	}
	return rc;
}

GRADE_TEST(resources, threads, 2,
	   "two threads searching the same index at once get the answers one thread gets (also "
	   "when one query runs from start to end while the other is inside a call of io->read, "
	   "in another thread or in the same one)",
	   "TODO 2: every piece of a query's state belongs to that call (no static list, seen set "
	   "or buffer, thread-local ones included); ann_search keeps nothing between calls")
{
	struct par_arg *a = grade_xmalloc(sizeof(*a) * 3);
	pthread_t t[2];

	make_world();
	for (int i = 0; i < 3; i++) {
		mem_init(&a[i].m);
		a[i].first = i == 2 ? 0 : (unsigned)i * 7;
	}
	/* alone first, then two at once, starting at different queries */
	par_worker(&a[2]);
	/* a request the reader refused (a misaligned buffer fails it with
	 * -EINVAL) is named as such, not left to look like shared state */
	grade_check(a[2].m.broke[0] == 0, "ann_search, one thread alone: %s (TODO 5)", a[2].m.broke);
	seam_arm();
	for (int i = 0; i < 2; i++)
		grade_check(pthread_create(&t[i], NULL, par_worker, &a[i]) == 0, "harness: no thread");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	seam_disarm();
	for (unsigned q = 0; q < T_NQ; q++)
		grade_check(a[2].ret[q] == T_K, "query %u (k %u, L 64, W 4) returned %s", q, T_K,
			    grade_errno_str(a[2].ret[q]));
	for (int i = 0; i < 2; i++)
		for (unsigned q = 0; q < T_NQ; q++)
			grade_check(a[i].ret[q] == a[2].ret[q] &&
					    !memcmp(a[i].ids[q], a[2].ids[q], sizeof(a[2].ids[q])),
				    "query %u answered differently (%s) while another thread searched than "
				    "alone (%s): queries share state", q, grade_errno_str(a[i].ret[q]),
				    grade_errno_str(a[2].ret[q]));
	/* then B from start to end while A waits inside its third hop's call,
	 * its sectors read and not yet looked at */
	static const unsigned pairs[][2] = { { 0, 1 }, { 2, 3 }, { 4, 5 } };

	for (size_t c = 0; c < sizeof(pairs) / sizeof(pairs[0]); c++) {
		pthread_t th[2];

		PZ.qa = pairs[c][0];
		PZ.qb = pairs[c][1];
		PZ.paused = false;
		for (int i = 0; i < 2; i++) {
			mem_init(&PZ.io[i].m);
			PZ.io[i].calls = 0;
			PZ.io[i].m.io.read = i == 0 ? pause_read : mem_read;
			PZ.ret[i] = -ENOSYS;
		}
		grade_check(sem_init(&PZ.go_b, 0, 0) == 0 && sem_init(&PZ.b_done, 0, 0) == 0,
			    "harness: sem_init");
		seam_arm();
		grade_check(pthread_create(&th[0], NULL, pz_a, NULL) == 0 &&
				    pthread_create(&th[1], NULL, pz_b, NULL) == 0,
			    "harness: no thread");
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		seam_disarm();
		sem_destroy(&PZ.go_b);
		sem_destroy(&PZ.b_done);
		for (int i = 0; i < 2; i++) {
			unsigned q = i == 0 ? PZ.qa : PZ.qb;

			grade_check(PZ.ret[i] == a[2].ret[q] &&
					    !memcmp(PZ.ids[i], a[2].ids[q], sizeof(a[2].ids[q])),
				    "query %u answered differently (%s) %s than alone (%s): the two "
				    "calls share state. The reader had filled query %u's sectors when "
				    "query %u ran: keep the buffers, the seen set, the list and the "
				    "results in the call, allocated per query, nothing static (TODO 2)",
				    q, grade_errno_str(PZ.ret[i]),
				    i == 0 ? "when another query ran from start to end inside its third "
					     "call of io->read" : "while another query was inside a call "
					     "of io->read", grade_errno_str(a[2].ret[q]), PZ.qa,
				    PZ.qb);
		}
	}
	/* and the same in one thread: B runs inside A's third call of io->read */
	for (size_t c = 0; c < sizeof(pairs) / sizeof(pairs[0]); c++) {
		struct ann_params prm = { .k = T_K, .L = 64, .W = 4 };
		unsigned qa = pairs[c][1], qb = pairs[c][0];
		uint32_t ids_a[T_K];
		struct ann_stats st_a;
		int ret_a;

		memset(&st_a, 0xa5, sizeof(st_a));
		memset(&NZ.st_b, 0xa5, sizeof(NZ.st_b));
		mem_init(&NZ.a.m);
		NZ.a.m.io.read = nest_read;
		NZ.a.calls = 0;
		mem_init(&NZ.b);
		NZ.qb = qb;
		NZ.ran = false;
		NZ.ret_b = -ENOSYS;
		mem_new_query(&NZ.a.m);
		ret_a = SEAM_CALL(ann_search(W.idx, &NZ.a.m.io, query(qa), &prm, ids_a, NULL, &st_a));
		grade_check(NZ.ran, "query %u (k 10, L 64, W 4) returned %s after %ld call(s) of "
			    "io->read, fewer than 3", qa, grade_errno_str(ret_a), NZ.a.calls);
		grade_check(NZ.ret_b == a[2].ret[qb] &&
				    !memcmp(NZ.ids_b, a[2].ids[qb], sizeof(a[2].ids[qb])),
			    "query %u answered differently (%s) when it ran inside a call of io->read "
			    "of query %u, in the same thread, than alone (%s): the two calls share "
			    "state (TODO 2)", qb, grade_errno_str(NZ.ret_b), qa,
			    grade_errno_str(a[2].ret[qb]));
		grade_check(ret_a == a[2].ret[qa] && !memcmp(ids_a, a[2].ids[qa], sizeof(ids_a)),
			    "query %u answered differently (%s) than alone (%s) when its reader, inside "
			    "its third call of io->read, ran query %u from start to end in the same "
			    "thread (as a reader that switches between queries, coroutines each, "
			    "does): the two calls share state. A static shared by threads, or one per "
			    "thread (__thread, _Thread_local), is kept between calls: a second query in "
			    "the same thread overwrites it. Keep the buffers, the seen set, the list "
			    "and the results in the call, allocated per query (ann.h: \"nothing is kept "
			    "between calls\"; TODO 2)", qa, grade_errno_str(ret_a),
			    grade_errno_str(a[2].ret[qa]), qb);
		/* the counts too: each query's stats are its own reader's */
		grade_check(NZ.st_b.hops == (unsigned)NZ.b.calls &&
				    NZ.st_b.reads == (unsigned)NZ.b.reqs,
			    "query %u, run inside a call of io->read of query %u in the same thread: "
			    "its stats say %u hops and %u reads, its reader was called %ld times for "
			    "%ld requests (TODOs 2 and 7)", qb, qa, NZ.st_b.hops, NZ.st_b.reads,
			    NZ.b.calls, NZ.b.reqs);
		grade_check(st_a.hops == (unsigned)NZ.a.m.calls &&
				    st_a.reads == (unsigned)NZ.a.m.reqs,
			    "query %u's stats say %u hops and %u reads, but its reader was called %ld "
			    "times for %ld requests: query %u, run from start to end inside its third "
			    "call of io->read in the same thread, changed its counts. The counts are "
			    "the query's state like the rest: keep them in the call (a local struct "
			    "copied to *stats), never in a static, thread-local or not (ann.h: "
			    "\"nothing is kept between calls\"; TODOs 2 and 7)", qa, st_a.hops,
			    st_a.reads, NZ.a.m.calls, NZ.a.m.reqs, qb);
	}
	free(a);
}

GRADE_TEST(synthetic, lone_entry, 1,
	   "an index of one node with no neighbours: one read, one result",
	   "TODO 4: the search is over when no unread candidate is left; TODO 7: r = min(k, nodes "
	   "read)")
{
	struct mem_io m;
	uint32_t ids[T_K];
	float d[T_K];
	int ret;

	make_synthetic(0, 1, 4, 4);
	mem_init(&m);
	ret = search(&m, W.vecs, T_K, 16, 4, ids, d, NULL);
	grade_check(ret == 1 && ids[0] == 0 && m.reqs == 1 && m.calls == 1, "ann_search on a one-node "
		    "index returned %s with %ld read(s) in %ld call(s), expected 1 result (node 0) "
		    "after 1 read", grade_errno_str(ret), m.reqs, m.calls);
}

GRADE_TEST(synthetic, high_ids, 2,
	   "node ids above 1,048,575 (sectors past 4 GiB) are read at ann_node_offset(id)",
	   "TODO 5: offsets are off_t: (id + 1) * 4096 overflows 32 bits past id 1,048,574; use "
	   "ann_node_offset (ann.h, the file)")
{
	const uint32_t base = 1500000, count = 12;
	struct mem_io m;
	uint32_t ids[T_K];
	float q[8] = { 0 };
	int ret;

	make_synthetic(base, count, 8, 4);
	for (uint32_t j = 0; j + 1 < count; j++) {
		synth_edge(base + j, base + j + 1);
		synth_edge(base + j + 1, base + j);
	}
	q[0] = 9.2f;
	mem_init(&m);
	ret = search(&m, q, 3, 8, 2, ids, NULL, NULL);
	check_searched(&m, ret, "a search on nodes past 4 GiB");
	for (long i = 0; i < m.nlog; i++)
		grade_check(m.log[i] >= base && m.log[i] < base + count, "a request asked for the "
			    "sector at byte %llu, which is node %u's; the nodes of this graph are %u to %u "
			    "(bytes %llu and up): the offset wrapped at 32 bits? (ann_node_offset; TODO 5)",
			    (unsigned long long)(m.log[i] + 1) * ANN_SECTOR, m.log[i], base,
			    base + count - 1, (unsigned long long)(base + 1) * ANN_SECTOR);
	grade_check(ret == 3, "ann_search on a path of nodes %u.. returned %s, expected 3 results",
		    base, grade_errno_str(ret));
	grade_check(ids[0] == base + 8 && ids[1] == base + 9 && ids[2] == base + 7,
		    "the 3 nodes nearest the query are %u and then %u and %u (at distances 0.04, 0.64, "
		    "1.44); the search answered %u, %u, %u. Its offsets were right: the walk differs "
		    "(11.08 says at which hop)", base + 8, base + 9, base + 7, ids[0], ids[1], ids[2]);
}

GRADE_TEST(synthetic, seen_once, 2,
	   "a node that is the neighbour of several nodes read joins the list once and is read once "
	   "(also with ids spread over an index of 4 million nodes)",
	   "TODO 6: remember which nodes this query has seen (a bit per node); a node already seen is "
	   "not offered again")
{
	struct mem_io m;
	uint32_t ids[T_K];
	float q[4] = { 6.0f, 0, 0, 0 };
	int ret;

	/* a complete graph of 7 nodes: every node is everyone's neighbour */
	make_synthetic(0, 7, 4, 8);
	for (uint32_t a = 0; a < 7; a++)
		for (uint32_t b = 0; b < 7; b++)
			if (a != b)
				synth_edge(a, b);
	mem_init(&m);
	ret = search(&m, q, 7, 7, 2, ids, NULL, NULL);
	check_searched(&m, ret, "complete graph of 7 nodes");
	replay(&m, q, 7, 2, "complete graph of 7 nodes");
	grade_check(ret == 7 && m.reqs == 7, "on a complete graph of 7 nodes with L 7 the search "
		    "reads each node once: %ld reads, %s", m.reqs, grade_errno_str(ret));
	/* the query beside node 0, the entry: every node read offers it again */
	q[0] = 1.2f;
	ret = search(&m, q, 3, 4, 2, ids, NULL, NULL);
	replay(&m, q, 4, 2, "complete graph of 7 nodes, query beside node 0");
	grade_check(ret == 3 && ids[0] == 0, "on a complete graph of 7 nodes, a query beside node "
		    "0 (the entry) answered %s, first id %u, expected 3 results, node 0 first",
		    grade_errno_str(ret), ret > 0 ? ids[0] : 0);

	/* The same with ids spread over an index of ANN_MAX_N nodes, pairs of
	 * them 2^20, 3 x 2^20 or 10^6 apart: a seen set of a fixed size, ids
	 * folded onto it (id % size), takes one for the other and never
	 * offers the second. Each must be read, once. */
	static const uint32_t spread[] = { 0, 1, 1000000, 1000001, 1048576, 2000000, 2097152,
					   3000000, 3145728, 3999999 };
	const uint32_t ns = sizeof(spread) / sizeof(spread[0]);
	const char *what = "a complete graph of 10 nodes with ids 0, 1, 1000000, 1000001, 1048576, "
			   "2000000, 2097152, 3000000, 3145728, 3999999 in an index of 4,000,000 nodes "
			   "(k 10, L 10, W 2)";
	uint32_t got[10];

	make_sparse(spread, ns, ANN_MAX_N, 4, 16);
	for (uint32_t a = 0; a < ns; a++)
		for (uint32_t b = 0; b < ns; b++)
			if (a != b)
				synth_edge(spread[a], spread[b]);
	q[0] = 11.0f;
	mem_init(&m);
	ret = search(&m, q, ns, ns, 2, got, NULL, NULL);
	check_searched(&m, ret, what);
	for (uint32_t a = 0; a < ns; a++) {
		long times = 0;

		for (long i = 0; i < m.nlog; i++)
			times += m.log[i] == spread[a];
		grade_check(times == 1, "%s: node %u was read %ld time(s), expected once: the entry "
			    "offers the other nine, all fit in the list of L 10, so each is read, and only "
			    "once. A node never read was taken for seen: does your seen set hold a bit for "
			    "every id below idx->h.n, or does it fold ids onto a fixed size (id %% size), "
			    "where two ids share a bit? (TODO 2: the seen set is sized by the index's n; "
			    "TODO 6)", what, spread[a], times);
	}
	grade_check(ret == (int)ns && got[0] == spread[ns - 1], "%s: the search answered %s, first "
		    "id %u, expected 10 results, node 3999999 (the nearest) first", what,
		    grade_errno_str(ret), ret > 0 ? got[0] : 0);
}

/* The real back-ends: the answer does not depend on who serves the reads. */
struct real_io {
	int (*fn)(void *ctx, struct batch_req *reqs, size_t n);
	const char *name;
};

static int via_blocking(void *ctx, struct batch_req *reqs, size_t n)
{
	(void)ctx;
	return blk_batch_read(reqs, n, 8);
}

static int via_pool(void *ctx, struct batch_req *reqs, size_t n)
{
	return tpool_batch_read(ctx, reqs, n, 8);
}

static int via_ring(void *ctx, struct batch_req *reqs, size_t n)
{
	return ubatch_read(ctx, reqs, n, 8);
}

GRADE_TEST_T(backends, same_answer, 3,
	     "the same answers through pread, the thread pool and io_uring, on the index file "
	     "(O_DIRECT where the filesystem allows it)",
	     "ann_search reads through io->read and uses io->fd: nothing in it depends on which "
	     "module serves the reads (TODO 5; README, \"Any reader will do\")", 15)
{
	struct mem_io m;
	struct ann_io io;
	struct tpool *pool = NULL;
	struct ubatch ring;
	uint32_t ids[T_K], want[T_NQ][T_K];
	int wret[T_NQ], fd, rc;
	bool have_ring;

	make_world();
	mem_init(&m);
	for (unsigned q = 0; q < T_NQ; q++) {
		struct ann_params p = { .k = T_K, .L = 64, .W = 4 };

		mem_new_query(&m);
		wret[q] = SEAM_CALL(ann_search(W.idx, &m.io, query(q), &p, want[q], NULL, NULL));
		grade_check(wret[q] == T_K, "query %u (k %u, L 64, W 4) through the harness's reader "
			    "returned %s", q, T_K, grade_errno_str(wret[q]));
	}
	fd = open(W.path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (fd < 0)
		fd = grade_open(W.path, O_RDONLY);
	rc = tpool_create(&pool, 4);
	grade_check(rc == 0, "harness: tpool_create failed: %s", grade_errno_str(rc));
	have_ring = ubatch_init(&ring, 8) == 0;
	for (int b = 0; b < 3; b++) {
		if (b == 2 && !have_ring)
			break;
		io.read = b == 0 ? via_blocking : b == 1 ? via_pool : via_ring;
		io.ctx = b == 0 ? NULL : b == 1 ? (void *)pool : (void *)&ring;
		io.fd = fd;
		for (unsigned q = 0; q < T_NQ; q++) {
			struct ann_params p = { .k = T_K, .L = 64, .W = 4 };
			int ret = SEAM_CALL(ann_search(W.idx, &io, query(q), &p, ids, NULL, NULL));

			grade_check(ret == wret[q] && (ret < 0 || !memcmp(ids, want[q], sizeof(uint32_t) *
									   (size_t)ret)),
				    "query %u through %s answered %s, differently from the same query "
				    "through the harness's reader (%s)", q,
				    b == 0 ? "blk_batch_read" : b == 1 ? "the thread pool" : "io_uring",
				    grade_errno_str(ret), grade_errno_str(wret[q]));
		}
	}
	if (have_ring)
		ubatch_exit(&ring);
	tpool_destroy(pool);
	close(fd);
}

/* ===================================================== ann_search_uring
 *
 * The second part reads on a ring the test sets up, over the index file on
 * disk (buffered: the file was just written, so every read is served from
 * the page cache and completes during the submit, which makes a query's
 * walk the same from run to run). The ring is watched through the seams
 * (harness/lib/ring_watch.h): every SQE the search hands over is checked
 * and logged (on_sqe), and the test may rewrite one read before the kernel
 * sees it (edit_sqe):
 *
 *   - HOLD: the read is redirected to a pipe that the test feeds with the
 *     node's sector only when the search waits and nothing else could
 *     complete: a slow read. A pipelined search keeps reading around it;
 *     one that waits for the whole batch reads nothing while it is held;
 *   - EAGAIN: the read becomes a NOP whose CQE says -EAGAIN (nothing read);
 *   - FAIL: the read's fd becomes -1: a real -EBADF;
 *   - SHORT: the read asks for half the sector: a real short read;
 *   - WRONG: the read is moved one sector on: a whole sector, another node's;
 *   - HOLDX: one more read held as HOLD is (two at most, beside the HOLD), each
 *     released, one at a time, only when the search waits and nothing else
 *     could complete;
 *   - EINTR: the read becomes a NOP whose CQE says -EINTR (a read a signal
 *     interrupted: an error of that read, unlike -EAGAIN);
 *   - EOF: the read is moved past the end of the file: res 0 (an index cut
 *     short).
 *
 * After every call the ring must be as the test gave it: nothing queued,
 * in flight or left unreaped.
 */
#include "ring_watch.h"

#define U_MAX_READS 16384
#define U_WATCHDOG 200000

enum u_action { U_NONE, U_HOLD, U_EAGAIN, U_FAIL, U_SHORT, U_WRONG, U_HOLDX, U_EINTR, U_EOF,
		U_ERRNO };
#define U_PLANS 3
#define U_XHOLDS 2

struct uring_test {
	struct io_uring ring;
	bool ring_ok;
	unsigned ring_flags0;           /* the ring's set-up, as io_uring_queue_init left it */
	__u8 int_flags0;
	int fd;                         /* the descriptor the reads must name */
	/* the log of one query */
	uint32_t node[U_MAX_READS];     /* each read SQE's node, as written */
	long nreads;                    /* read SQEs (resubmits included) */
	long resubmits;                 /* ... of which reads again after -EAGAIN */
	long submits;                   /* submitting calls that carried SQEs */
	unsigned max_inflight;          /* most reads queued or in the kernel */
	uint8_t *times_read;            /* per node */
	uint8_t *found;                 /* per node: a neighbour of a node read */
	uint8_t *eagain_pending;        /* per node: its read said -EAGAIN */
	/* planned faults: the plan-th read SQE (0-based, in order) */
	long plan_at[U_PLANS];
	long plan_node[U_PLANS];        /* >= 0: the read of that node, not the at-th */
	enum u_action plan[U_PLANS];
	int plan_res[U_PLANS];          /* U_ERRNO: the completion's res */
	const struct io_uring_sqe *planned_sqe[U_PLANS];
	/* a held read */
	int hold_pipe[2];
	bool held, released;
	uint32_t held_node;
	long reads_while_held;
	/* more held reads (HOLDX) */
	int xpipe[U_XHOLDS][2];
	bool xheld[U_XHOLDS], xreleased[U_XHOLDS];
	uint32_t xnode[U_XHOLDS];
	long all_held_at;               /* the submit at which HOLD and both HOLDX were held */
	long reads_while_all_held;      /* reads submitted after it, all three outstanding */
	int fail_submit;                /* the first call handing SQEs over fails with it */
	long fail_submit_skip;          /* ... after this many calls that handed SQEs over */
	bool release_after_fail;        /* 11.41: once it failed, a wait frees every held read */
	long reads_while_one_x_held;    /* reads submitted while one HOLDX was out, not both */
	/* the search's last call that came back without a completion (an
	 * error, or a look at an empty CQ): the watch's call number and the
	 * CQ's tail when it was made (u_looked) */
	long empty_look_call;
	unsigned empty_look_tail;
	/* the first submits of a query (11.39): where each one's reads start
	 * in node[], and how many of the query's CQEs the search had surely
	 * been shown (in the CQ when its last call of liburing returned) */
	unsigned cq_base;               /* the CQ's tail when the query began */
	long submit_first[4];
	unsigned cqes_shown[4];
	bool settle;                    /* u_looked: wait for every read in the kernel */
	char broke[256];
};

static struct uring_test U;

static void u_broke(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void u_broke(const char *fmt, ...)
{
	va_list ap;

	if (U.broke[0])
		return;
	va_start(ap, fmt);
	vsnprintf(U.broke, sizeof(U.broke), fmt, ap);
	va_end(ap);
}

/* The neighbours of node id, straight from the file's image (no heap:
 * this runs inside the search's calls, where allocations are counted). */
static unsigned image_nbrs(uint32_t id, const uint32_t **nb)
{
	const float *vec;
	unsigned nn = 0;

	if (ann_node_parse(W.idx, id, W.image + ann_node_offset(id), ANN_SECTOR, &vec, nb, &nn))
		return 0;
	return nn;
}

static uint64_t u_sqe_len(const struct io_uring_sqe *sqe)
{
	uint64_t total = 0;

	if (sqe->opcode != IORING_OP_READV)
		return sqe->len;
	for (unsigned i = 0; i < sqe->len; i++)
		total += ((const struct iovec *)(uintptr_t)sqe->addr)[i].iov_len;
	return total;
}

/* Every SQE the search hands over, as it wrote it. */
static void u_on_sqe(const struct io_uring_sqe *sqe, unsigned pos, unsigned queued)
{
	const uint32_t *nb;
	uint32_t id;
	unsigned nn, inflight;

	if (pos == 0) {
		U.submits++;
		inflight = watch_in_kernel(&U.ring) + queued;
		if (inflight > U.max_inflight)
			U.max_inflight = inflight;
		/* watch.cq_scanned: the CQ's tail when the search's last call of
		 * liburing returned (the CQEs after it may have come since). If
		 * that call came back empty-handed, a completion may have landed
		 * after it looked and before it returned: only the CQEs already
		 * there when it was called were surely seen (u_looked). */
		unsigned head = __atomic_load_n(U.ring.cq.khead, __ATOMIC_ACQUIRE);
		unsigned scanned = watch.cq_scanned;

		if (U.empty_look_call && U.empty_look_call == watch.calls - 1 &&
		    (int)(U.empty_look_tail - scanned) < 0)
			scanned = U.empty_look_tail;
		unsigned left = scanned - head;

		if (U.submits <= 4) {
			U.submit_first[U.submits - 1] = U.nreads - U.resubmits;
			U.cqes_shown[U.submits - 1] = watch.cq_ring == &U.ring ?
							      scanned - U.cq_base : 0;
		}
		if (watch.cq_ring == &U.ring && (int)left > 0 && left <= U.ring.cq.ring_entries)
			u_broke("the search submitted reads while %u completion(s) were still "
				"unreaped that had been in the CQ since its last call of liburing "
				"returned: step 3 handles EVERY completion that is ready (peek until the "
				"CQ is empty) before it goes back to the fill; a fill made after one "
				"completion picks its reads before the neighbours the others offer are in "
				"the list; and a read queued again after -EAGAIN goes in with that fill's "
				"submit, not in one of its own (ann.h, ann_search_uring, step 3 and "
				"\"Completions and errors\"; TODO 11)", left);
	}
	if (sqe->opcode == IORING_OP_READ_FIXED || (sqe->flags & IOSQE_FIXED_FILE)) {
		u_broke("an SQE used a registered %s: the ring is the caller's, the search registers "
			"nothing on it (ann.h; TODO 9)",
			sqe->opcode == IORING_OP_READ_FIXED ? "buffer" : "file");
		return;
	}
	if (sqe->opcode != IORING_OP_READ && sqe->opcode != IORING_OP_READV) {
		u_broke("an SQE had opcode %u: the search queues reads of node sectors only "
			"(io_uring_prep_read; TODO 10)", sqe->opcode);
		return;
	}
	if (sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK | IOSQE_IO_DRAIN)) {
		u_broke("a read was queued with IOSQE_IO_%s: the reads in flight are independent, "
			"and a link or a drain makes the kernel start each only after the one before "
			"it ends, so W reads are never in flight together and one slow read holds up "
			"the others. Queue plain reads, no flags (io_uring_enter(2), IOSQE_IO_LINK; "
			"TODO 10)", sqe->flags & IOSQE_IO_DRAIN ? "DRAIN" :
			sqe->flags & IOSQE_IO_HARDLINK ? "HARDLINK" : "LINK");
		return;
	}
	if (sqe->fd != U.fd) {
		u_broke("a read named descriptor %d instead of the fd argument (%d) (TODO 10)", sqe->fd,
			U.fd);
		return;
	}
	if (sqe->off % ANN_SECTOR || sqe->off < ANN_SECTOR || sqe->off >= W.size ||
	    u_sqe_len(sqe) != ANN_SECTOR || watch_sqe_data(sqe) % ANN_SECTOR) {
		u_broke("a read had offset %llu, length %llu, buffer 0x%llx: one node's sector is "
			"ANN_SECTOR (4096) bytes at ann_node_offset(id), into a buffer aligned to "
			"ANN_SECTOR (O_DIRECT demands all three) (TODO 10)",
			(unsigned long long)sqe->off, (unsigned long long)u_sqe_len(sqe),
			(unsigned long long)watch_sqe_data(sqe));
		return;
	}
	id = (uint32_t)(sqe->off / ANN_SECTOR - 1);
	if (U.eagain_pending[id]) {
		U.eagain_pending[id] = 0;
		U.resubmits++;
	} else if (U.times_read[id]) {
		u_broke("node %u was read twice in one query: the seen set lets a node into the list "
			"once, and a node is marked when its read is queued, so that it is not taken "
			"again while in flight (TODO 10)", id);
		return;
	} else if (id != W.idx->h.entry && !U.found[id]) {
		u_broke("node %u was read, but it is not a neighbour of any node read before it "
			"(and not the entry): the search reads only candidates it found (TODO 10)", id);
		return;
	} else {
		U.times_read[id]++;
		if (U.nreads - U.resubmits < U_MAX_READS)
			U.node[U.nreads - U.resubmits] = id;
		nn = image_nbrs(id, &nb);
		for (unsigned j = 0; j < nn; j++)
			U.found[nb[j]] = 1;
		if (U.held && !U.released)
			U.reads_while_held++;
		if (U.all_held_at && U.submits > U.all_held_at && !U.released && !U.xreleased[0] &&
		    !U.xreleased[1])
			U.reads_while_all_held++;
		if (U.xheld[0] && U.xheld[1] && U.xreleased[0] != U.xreleased[1])
			U.reads_while_one_x_held++;
	}
	for (int i = 0; i < U_PLANS; i++)
		if (U.plan[i] && (U.plan_node[i] >= 0 ? U.plan_node[i] == (long)id && !U.planned_sqe[i]
						       : U.plan_at[i] == U.nreads))
			U.planned_sqe[i] = sqe;
	U.nreads++;
}

/* The planned fault, on the SQE it was planned for (before the kernel). */
static void u_edit_sqe(struct io_uring_sqe *sqe)
{
	/* IOSQE_ASYNC sends a read to the kernel's workers, where it completes
	 * in its own time; a cached read without it completes inline, in the
	 * order submitted. ann.h leaves the flag to the search (u_on_sqe has
	 * seen it as written), but the faults planned on the n-th read count
	 * on that order (11.31: which of two errors comes first, whether a
	 * failed read's CQE is reaped before its neighbours'), so every read
	 * runs inline here. */
	sqe->flags &= (__u8)~IOSQE_ASYNC;
	for (int i = 0; i < U_PLANS; i++) {
		if (U.planned_sqe[i] != sqe)
			continue;
		U.planned_sqe[i] = NULL;
		switch (U.plan[i]) {
		case U_HOLD:
			U.held = true;
			U.held_node = (uint32_t)(sqe->off / ANN_SECTOR - 1);
			sqe->fd = U.hold_pipe[0];
			sqe->off = (__u64)-1;   /* a pipe has no offset */
			break;
		case U_EAGAIN:
			U.eagain_pending[sqe->off / ANN_SECTOR - 1] = 1;
			watch_nop_sqe(sqe, -EAGAIN);
			break;
		case U_FAIL:
			sqe->fd = -1;           /* the kernel says -EBADF */
			break;
		case U_SHORT:
			if (sqe->opcode == IORING_OP_READV)
				watch_shrink_readv(sqe);
			else
				sqe->len /= 2;
			break;
		case U_WRONG:
			sqe->off += ANN_SECTOR; /* the next node (or the codes) */
			break;
		case U_EINTR:
			/* a read again is counted as one, not as a node read twice */
			U.eagain_pending[sqe->off / ANN_SECTOR - 1] = 1;
			watch_nop_sqe(sqe, -EINTR);
			break;
		case U_EOF:
			sqe->off = (W.size + ANN_SECTOR - 1) / ANN_SECTOR * ANN_SECTOR;
			break;
		case U_ERRNO:
			/* as U_EINTR: a read again is counted as one */
			U.eagain_pending[sqe->off / ANN_SECTOR - 1] = 1;
			watch_nop_sqe(sqe, U.plan_res[i]);
			break;
		case U_HOLDX: {
			int j = U.xheld[0] ? 1 : 0;

			U.xheld[j] = true;
			U.xnode[j] = (uint32_t)(sqe->off / ANN_SECTOR - 1);
			sqe->fd = U.xpipe[j][0];
			sqe->off = (__u64)-1;
			if (U.held && U.xheld[0] && U.xheld[1])
				U.all_held_at = U.submits;
			break;
		}
		case U_NONE:
			break;
		}
		U.plan[i] = U_NONE;
	}
}

/* Feed the held read its node's sector. */
static void u_release(void)
{
	if (!U.held || U.released)
		return;
	U.released = true;
	if (SEAM_REAL(write)(U.hold_pipe[1], W.image + ann_node_offset(U.held_node), ANN_SECTOR) !=
	    ANN_SECTOR)
		u_broke("harness: cannot feed the held read's pipe");
}

static void u_release_x(int j)
{
	if (!U.xheld[j] || U.xreleased[j])
		return;
	U.xreleased[j] = true;
	if (SEAM_REAL(write)(U.xpipe[j][1], W.image + ann_node_offset(U.xnode[j]), ANN_SECTOR) !=
	    ANN_SECTOR)
		u_broke("harness: cannot feed a held read's pipe");
}

/* Held reads not released yet. */
static unsigned u_unreleased(void)
{
	unsigned n = U.held && !U.released;

	for (int j = 0; j < U_XHOLDS; j++)
		n += U.xheld[j] && !U.xreleased[j];
	return n;
}

/* A wait for nr completions: if only held reads could make some of them,
 * release as many as it needs, the HOLD first (slow reads, not lost ones). */
static void u_before_wait(struct io_uring *ring, unsigned nr)
{
	unsigned could, held = u_unreleased();

	if (held == 0)
		return;
	/* 11.41: a wait after the failed submit (which the search should not
	 * make) gets the held read at once, so that the test can say what the
	 * search did instead of timing out in a wait for SQEs never submitted */
	if (U.release_after_fail && watch.injected)
		ring = NULL;
	if (!ring) {
		u_release();
		for (int j = 0; j < U_XHOLDS; j++)
			u_release_x(j);
		return;
	}
	could = io_uring_cq_ready(ring) + io_uring_sq_ready(ring) + watch_in_kernel(ring) - held;
	while (could < nr && u_unreleased() > 0) {
		if (U.held && !U.released)
			u_release();
		else
			for (int j = 0; j < U_XHOLDS; j++)
				if (U.xheld[j] && !U.xreleased[j]) {
					u_release_x(j);
					break;
				}
		could++;
	}
}

/* Seen by the watch: set, it keeps watch.cq_scanned (u_on_sqe's check). */
static void u_on_cqe(struct io_uring_cqe *cqe)
{
	(void)cqe;
}

/* 11.34: the first call that hands SQEs over fails with U.fail_submit
 * (11.41: the first after U.fail_submit_skip such calls went through),
 * whatever liburing calls the search made before it (a look at the empty
 * CQ is one too: io_uring_peek_cqe calls __io_uring_get_cqe when nothing
 * is ready, and a loop may reap before its first fill). */
static void u_arm_submit_fail(struct io_uring *ring)
{
	if (U.fail_submit && !watch.injected && !watch.inject_at && ring == &U.ring &&
	    io_uring_sq_ready(ring) > 0 && U.fail_submit_skip-- <= 0) {
		watch.inject_err = U.fail_submit;
		watch.inject_at = watch.calls + 1;      /* this call (watch_call counts it) */
	}
}

static unsigned u_cq_tail(struct io_uring *ring)
{
	return __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
}

/* After each call of the search's: whether it came back with nothing (an
 * error, or no completion found), and then the CQ's tail when it was made
 * (u_on_sqe's check of CQEs left unreaped: with O_DIRECT a completion can
 * land between the call's look at the CQ and its return, unseen). */
static int u_looked(struct io_uring *ring, unsigned tail0, int ret, bool found)
{
	/* 11.39 stages two reads that are both complete when the call that
	 * submitted them returns. Cached reads usually complete inside the
	 * submit; one the kernel finished a little later (io-wq, a page being
	 * read in) is waited for here, before the call returns, so the case is
	 * staged every time and never left unjudged. */
	if (ring == &U.ring && U.settle && ret >= 0 && found) {
		struct timespec pause = { 0, 200 * 1000 };

		for (int i = 0; i < 10000 && watch_in_kernel(ring) > 0; i++)
			SEAM_REAL(nanosleep)(&pause, NULL);
		watch_rewrite_cqes(ring);
		watch_observe(ring);
	}
	if (ring == &U.ring) {
		U.empty_look_call = ret < 0 || !found ? watch.calls : 0;
		U.empty_look_tail = tail0;
	}
	return ret;
}

static int u_submit(struct io_uring *ring)
{
	unsigned t0 = u_cq_tail(ring);

	u_arm_submit_fail(ring);
	return u_looked(ring, t0, watch_io_uring_submit(ring), true);
}

static int u_submit_and_wait(struct io_uring *ring, unsigned nr)
{
	unsigned t0 = u_cq_tail(ring);

	u_arm_submit_fail(ring);
	return u_looked(ring, t0, watch_io_uring_submit_and_wait(ring, nr), true);
}

static int u_submit_and_wait_timeout(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
				     struct __kernel_timespec *ts, sigset_t *sig)
{
	unsigned t0 = u_cq_tail(ring);
	int ret;

	u_arm_submit_fail(ring);
	ret = watch_io_uring_submit_and_wait_timeout(ring, cqe, nr, ts, sig);
	return u_looked(ring, t0, ret, ret == 0 && *cqe != NULL);
}

static int u_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe,
			      struct __kernel_timespec *ts)
{
	unsigned t0 = u_cq_tail(ring);
	int ret = watch_io_uring_wait_cqe_timeout(ring, cqe, ts);

	return u_looked(ring, t0, ret, ret == 0 && *cqe != NULL);
}

static int u_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned nr,
		       struct __kernel_timespec *ts, sigset_t *sig)
{
	unsigned t0 = u_cq_tail(ring);
	int ret = watch_io_uring_wait_cqes(ring, cqe, nr, ts, sig);

	return u_looked(ring, t0, ret, ret == 0 && *cqe != NULL);
}

static int u_submit_and_get_events(struct io_uring *ring)
{
	unsigned t0 = u_cq_tail(ring);

	u_arm_submit_fail(ring);
	return u_looked(ring, t0, watch_io_uring_submit_and_get_events(ring), true);
}

/* A wait of the search's (io_uring_wait_cqe) that could never end: SQEs
 * queued and not submitted (a pure wait submits nothing), nothing in the
 * kernel, no CQE ready. Said at once, instead of a test that times out. */
static int u_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe, unsigned submit,
		     unsigned nr, sigset_t *sig)
{
	if (ring == &U.ring && submit == 0 && nr > 0 && io_uring_sq_ready(ring) > 0 &&
	    watch_in_kernel(ring) == 0 && io_uring_cq_ready(ring) == 0 && u_unreleased() == 0) {
		seam_disarm();
		grade_fail("ann_search_uring waited (io_uring_wait_cqe) for a completion with %u "
			   "SQE(s) queued and never submitted, and nothing in flight: that wait "
			   "never ends. A read queued again after -EAGAIN (or by a fill) is still in "
			   "flight and must be submitted, also by the drain after an error: submit "
			   "what is queued and wait in one call (io_uring_submit_and_wait), or submit "
			   "before each wait (ann.h, \"Completions and errors\"; TODOs 11 and 12)",
			   io_uring_sq_ready(ring));
	}
	unsigned t0 = u_cq_tail(ring);
	int ret;

	if (submit > 0)
		u_arm_submit_fail(ring);
	ret = watch___io_uring_get_cqe(ring, cqe, submit, nr, sig);
	return u_looked(ring, t0, ret, ret == 0 && *cqe != NULL);
}

/* A ring of `entries` and the index file (buffered unless `direct`). */
static void uring_setup(unsigned entries, bool direct)
{
	int rc;

	if (!W.idx)
		make_world();   /* once per test: building takes a while */
	memset(&U, 0, sizeof(U));
	U.fd = -1;
	if (direct)
		U.fd = open(W.path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (U.fd < 0)
		U.fd = grade_open(W.path, O_RDONLY);
	U.times_read = grade_xmalloc(W.idx->h.n);
	U.found = grade_xmalloc(W.idx->h.n);
	U.eagain_pending = grade_xmalloc(W.idx->h.n);
	grade_check(pipe2(U.hold_pipe, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	for (int j = 0; j < U_XHOLDS; j++)
		grade_check(pipe2(U.xpipe[j], O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	rc = io_uring_queue_init(entries, &U.ring, 0);
	if (rc == -ENOMEM)
		grade_fail("harness: io_uring_queue_init(%u) failed with -ENOMEM: the locked-memory "
			   "limit (ulimit -l) is too small for a ring; make doctor says more", entries);
	grade_check(rc == 0, "harness: io_uring_queue_init(%u) failed: %s (is io_uring allowed "
		    "here? make doctor)", entries, grade_errno_str(rc));
	U.ring_ok = true;
	U.ring_flags0 = U.ring.flags;
	U.int_flags0 = U.ring.int_flags;
	watch_start(U_WATCHDOG, "a read resubmitted forever, or a wait that never ends?");
	/* An injected submit error leaves the SQEs published, as a real one
	 * does: what the kernel did not take is *khead .. sqe_tail. */
	watch.publish_on_inject = true;
	watch.on_sqe = u_on_sqe;
	watch.edit_sqe = u_edit_sqe;
	watch.before_wait = u_before_wait;
	watch.on_cqe = u_on_cqe;
	seam_hook___io_uring_get_cqe = u_get_cqe;
	seam_hook_io_uring_submit = u_submit;
	seam_hook_io_uring_submit_and_wait = u_submit_and_wait;
	seam_hook_io_uring_submit_and_wait_timeout = u_submit_and_wait_timeout;
	seam_hook_io_uring_submit_and_get_events = u_submit_and_get_events;
	seam_hook_io_uring_wait_cqe_timeout = u_wait_cqe_timeout;
	seam_hook_io_uring_wait_cqes = u_wait_cqes;
}

/* Undo uring_setup (the world stays), to set up another ring. */
static void uring_teardown(void)
{
	io_uring_queue_exit(&U.ring);
	close(U.fd);
	close(U.hold_pipe[0]);
	close(U.hold_pipe[1]);
	for (int j = 0; j < U_XHOLDS; j++) {
		close(U.xpipe[j][0]);
		close(U.xpipe[j][1]);
	}
	free(U.times_read);
	free(U.found);
	free(U.eagain_pending);
}

/* Plan a fault on the at-th read SQE of the next query (0 is the entry's). */
static void uring_plan(int slot, enum u_action what, long at)
{
	U.plan[slot] = what;
	U.plan_at[slot] = at;
	U.plan_node[slot] = -1;
}

/* Plan a fault on the first read SQE of node `node`, wherever it comes:
 * the order of the SQEs of one submit is the search's own. */
static void uring_plan_node(int slot, enum u_action what, uint32_t node)
{
	U.plan[slot] = what;
	U.plan_at[slot] = -1;
	U.plan_node[slot] = node;
}

static void uring_new_query(void)
{
	memset(U.times_read, 0, W.idx->h.n);
	memset(U.found, 0, W.idx->h.n);
	memset(U.eagain_pending, 0, W.idx->h.n);
	U.nreads = U.resubmits = U.submits = 0;
	U.max_inflight = 0;
	U.held = U.released = false;
	U.reads_while_held = 0;
	for (int j = 0; j < U_XHOLDS; j++)
		U.xheld[j] = U.xreleased[j] = false;
	U.all_held_at = U.reads_while_all_held = 0;
	U.fail_submit = 0;
	U.fail_submit_skip = 0;
	U.release_after_fail = false;
	U.reads_while_one_x_held = 0;
	U.cq_base = u_cq_tail(&U.ring);
	memset(U.submit_first, 0, sizeof(U.submit_first));
	memset(U.cqes_shown, 0, sizeof(U.cqes_shown));
	U.broke[0] = 0;
	watch_reset_counts();
}

/* How many distinct nodes the last query read. */
static long uring_nodes(void)
{
	return U.nreads - U.resubmits;
}

/* After a query: what the search left in the ring, then the ring emptied
 * by the test (a held read released or ended), ready for the next one. */
static void uring_after(const char *what, bool ring_failed)
{
	unsigned queued = io_uring_sq_ready(&U.ring);
	unsigned inflight = watch_in_kernel(&U.ring);
	unsigned unreaped = io_uring_cq_ready(&U.ring);
	char msg[512];

	msg[0] = 0;
	/* After a submit or a wait failed (11.34), the contract leaves the
	 * ring as it is: SQEs may be queued, reads in flight, CQEs waiting. */
	if (queued && !ring_failed)
		snprintf(msg, sizeof(msg), "%s: the search returned with %u SQE(s) queued and not "
			 "submitted: the ring is left as it was found (TODOs 10 and 12)", what, queued);
	else if (inflight && !ring_failed)
		snprintf(msg, sizeof(msg), "%s: the search returned while %u read(s) were still in "
			 "flight: their buffers are the kernel's until each CQE is reaped; after an "
			 "error, keep waiting until nothing is in flight, then return (TODO 12; "
			 "README, \"The next step: pipelining\")", what, inflight);
	else if (unreaped && !ring_failed)
		snprintf(msg, sizeof(msg), "%s: the search returned with %u completion(s) not "
			 "reaped: mark each CQE seen (io_uring_cqe_seen) once handled, the ones of a "
			 "drain too (TODOs 11 and 12)", what, unreaped);
	/* Empty the ring for the next query: a held read still in flight ends
	 * at end of file (no data is written into a buffer that may be freed). */
	if (U.held && !U.released) {
		close(U.hold_pipe[1]);
		U.released = true;
		U.hold_pipe[1] = -1;
	}
	for (int j = 0; j < U_XHOLDS; j++)
		if (U.xheld[j] && !U.xreleased[j]) {
			close(U.xpipe[j][1]);
			U.xreleased[j] = true;
			U.xpipe[j][1] = -1;
		}
	if (queued) {
		/* made NOPs first: their buffers may be freed already. Counted
		 * from *khead, not sqe_head: a submit that failed published
		 * them (liburing moves sqe_head to the tail before it enters),
		 * and the kernel took none. */
		for (unsigned h = *U.ring.sq.khead; h != U.ring.sq.sqe_tail; h++)
			io_uring_prep_nop(&U.ring.sq.sqes[h & U.ring.sq.ring_mask]);
		io_uring_submit(&U.ring);
	}
	while (watch_in_kernel(&U.ring) > 0 || io_uring_cq_ready(&U.ring) > 0) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&U.ring, &cqe) == 0)
			io_uring_cqe_seen(&U.ring, cqe);
	}
	if (U.hold_pipe[1] < 0) {
		close(U.hold_pipe[0]);
		grade_check(pipe2(U.hold_pipe, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	}
	for (int j = 0; j < U_XHOLDS; j++)
		if (U.xpipe[j][1] < 0) {
			close(U.xpipe[j][0]);
			grade_check(pipe2(U.xpipe[j], O_CLOEXEC) == 0, "harness: pipe2: %s",
				    strerror(errno));
		}
	grade_check(msg[0] == 0, "%s", msg);
	grade_check(watch.inits == 0, "%s: the search set up a ring of its own "
		    "(io_uring_queue_init): it reads on the ring it is given (TODO 9)", what);
	grade_check(watch.exits == 0, "%s: the search called io_uring_queue_exit on the caller's "
		    "ring: the ring is the caller's (TODO 9)", what);
	/* the set-up is the caller's too: a ring fd registered by the search
	 * (io_uring_register_ring_fd) is this thread's alone, and every later
	 * io_uring_enter of the caller's, from any thread, would go through it */
	grade_check(U.ring.enter_ring_fd == U.ring.ring_fd && U.ring.int_flags == U.int_flags0 &&
			    U.ring.flags == U.ring_flags0, "%s: the search changed the caller's ring's "
		    "set-up (its ring fd registered with io_uring_register_ring_fd, or its flags): "
		    "the search uses the ring as it is given, \"no change to its set-up\", and "
		    "registers nothing on it (ann.h, ann_search_uring; TODO 9; "
		    "io_uring_register_ring_fd(3): the registration belongs to the thread that made "
		    "it)", what);
}

/* The ring's set-up is the caller's: nothing registered on it (buffers,
 * files, an eventfd), and nothing it registered changed. A registration
 * left behind pins memory the search then frees, and the caller's own
 * io_uring_register_buffers fails with -EBUSY. */
static void uring_refuse_registering(void)
{
	static const enum seam_id regs[] = {
		SEAM_io_uring_register_buffers, SEAM_io_uring_register_buffers_sparse,
		SEAM_io_uring_register_buffers_tags, SEAM_io_uring_register_buffers_update_tag,
		SEAM_io_uring_unregister_buffers, SEAM_io_uring_register_files,
		SEAM_io_uring_register_files_sparse, SEAM_io_uring_register_files_tags,
		SEAM_io_uring_register_files_update, SEAM_io_uring_register_files_update_tag,
		SEAM_io_uring_unregister_files, SEAM_io_uring_register_eventfd,
		SEAM_io_uring_register, SEAM_io_uring_register_buf_ring,
		SEAM_io_uring_unregister_buf_ring,
	};

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		seam_refuse(regs[i], "the ring is the caller's and the search uses it as it is: it "
			    "registers nothing on it, no buffers, files or eventfd (ann.h, "
			    "ann_search_uring: \"no registered buffers or files, no change to its "
			    "set-up\"; TODO 9; README, pitfall 21)");
}

/* ann_search_uring with the blocking reads refused, on the query state as
 * it is (a test may set up an injection after uring_new_query). */
static int urun(const float *q, unsigned k, unsigned L, unsigned Wd, uint32_t *ids,
		float *dists, struct ann_stats *st)
{
	struct ann_params p = { .k = k, .L = L, .W = Wd };
	bool fd_open;
	int ret;

	seam_refuse_blocking_io("the nodes are read on the ring the search is given (ann.h: "
				"\"Reads go through the ring and nothing else\")");
	uring_refuse_registering();
	fd_open = U.fd >= 0 && fcntl(U.fd, F_GETFD) != -1;
	ret = SEAM_CALL(ann_search_uring(W.idx, &U.ring, U.fd, q, &p, ids, dists, st));
	grade_check(U.broke[0] == 0, "ann_search_uring: %s", U.broke);
	grade_check(!fd_open || fcntl(U.fd, F_GETFD) != -1, "ann_search_uring returned %s and its fd (%d) is "
		    "closed: the descriptor is the caller's, on success and on error alike (it "
		    "searches the index again after a failed query); the search opens nothing, so it "
		    "has nothing to close (ann.h, ann_search_uring; TODO 12 frees the query's state, "
		    "only that)", grade_errno_str(ret), U.fd);
	return ret;
}

/* A new query, then urun. */
static int usearch(const float *q, unsigned k, unsigned L, unsigned Wd, uint32_t *ids,
		   float *dists, struct ann_stats *st)
{
	uring_new_query();
	return urun(q, k, L, Wd, ids, dists, st);
}

/* check_answer on the nodes the last query read. */
static void uring_check_answer(const float *q, unsigned k, int ret, const uint32_t *ids,
			       const float *dists, const char *what)
{
	static struct mem_io m;

	m.nlog = uring_nodes() < MAX_LOG ? uring_nodes() : MAX_LOG;
	memcpy(m.log, U.node, sizeof(uint32_t) * (size_t)m.nlog);
	check_answer(&m, q, k, ret, ids, dists, what);
}

struct u_cand {
	float est;
	uint32_t id;
};

static int u_cand_cmp(const void *a, const void *b)
{
	const struct u_cand *x = a, *y = b;

	if (x->est != y->est)
		return x->est < y->est ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A query that succeeded ended when nothing was in flight and the list held
 * no unread candidate: whatever the order of completions, its list was then
 * the L nearest (by estimate) of the nodes it found, the entry and the
 * neighbours of every node read, and each of them was read. */
static void uring_check_exhausted(const float *q, unsigned L, int ret, const char *what)
{
	struct u_cand *c;
	size_t nc = 0;

	if (ret < 0)
		return;
	c = grade_xmalloc(sizeof(*c) * W.idx->h.n);
	for (uint32_t id = 0; id < W.idx->h.n; id++)
		if (U.found[id] || id == W.idx->h.entry)
			c[nc++] = (struct u_cand){ ann_approx_dist(W.idx, q, id), id };
	qsort(c, nc, sizeof(*c), u_cand_cmp);
	for (size_t i = 0; i < nc && i < L; i++) {
		/* a tie at the L-th place may be broken either way (ann.h) */
		if (nc > L && c[i].est == c[L].est)
			break;
		if (U.times_read[c[i].id])
			continue;
		grade_check(0, "%s: the search returned while node %u (number %zu by estimate "
			    "of the nodes it had found) was never read: it was in the list of L %u. The "
			    "search is over only when no read is in flight AND no candidate of the list "
			    "is unread; a read still in flight can offer new candidates, so fill again "
			    "after every round of completions, until both are true (ann.h, "
			    "ann_search_uring, steps 1 and 2; TODO 10; README, \"When the search ends\")",
			    what, c[i].id, i + 1, L);
	}
	free(c);
}

static void uring_check_searched(int ret, const char *what)
{
	grade_check(ret >= 0 || U.nreads > 0, "%s: ann_search_uring returned %s without reading "
		    "anything (TODOs 9 to 11 come first)", what, grade_errno_str(ret));
}

/* The 40 queries at k 10, L T_REC_L, W 4, each answer checked: their
 * recall@10 and nodes read, summed. */
static void uring_recall_run(const char *how, double *sum, long *reads)
{
	uint32_t ids[T_K];

	for (unsigned q = 0; q < T_NQ; q++) {
		char what[64];
		int ret = usearch(query(q), T_K, T_REC_L, 4, ids, NULL, NULL);

		snprintf(what, sizeof(what), "query %u (k 10, L %u, W 4)%s", q, T_REC_L, how);
		uring_check_searched(ret, what);
		uring_check_answer(query(q), T_K, ret, ids, NULL, what);
		uring_check_exhausted(query(q), T_REC_L, ret, what);
		uring_after(what, false);
		*sum += recall(ids, ret, q);
		*reads += uring_nodes();
	}
}

GRADE_TEST(uring, arguments, 2,
	   "ann_search_uring: -EINVAL for a NULL idx, ring, query, p or ids, p out of range, or a ring "
	   "with fewer SQ entries than W; nothing submitted, nothing leaked; the edges (L == k, "
	   "L == ANN_MAX_L, W == L, W 1) accepted",
	   "TODO 9: check the arguments as TODO 1 does, and ring->sq.ring_entries against p->W, "
	   "before anything is allocated or queued")
{
	uint32_t ids[T_K];
	struct ann_params ok = { .k = T_K, .L = 24, .W = 4 }, bad[] = {
		{ 0, 24, 4 }, { ANN_MAX_K + 1, ANN_MAX_L, 4 }, { 10, 9, 4 }, { 10, ANN_MAX_L + 1, 4 },
		{ 10, 24, 0 }, { 10, 24, 25 },
		{ 4, 4, 8 },    /* W above L, on a ring with room for it */
	};
	struct seam_heap before;
	int ret;

	uring_setup(8, false);
	seam_heap_usage(&before);
	struct {
		const struct ann_index *idx;
		struct io_uring *ring;
		const float *q;
		const struct ann_params *p;
		uint32_t *ids;
		const char *what;
	} nulls[] = {
		{ NULL, &U.ring, query(0), &ok, ids, "idx" },
		{ W.idx, NULL, query(0), &ok, ids, "ring" },
		{ W.idx, &U.ring, NULL, &ok, ids, "query" },
		{ W.idx, &U.ring, query(0), NULL, ids, "p" },
		{ W.idx, &U.ring, query(0), &ok, NULL, "ids" },
	};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		uring_new_query();
		ret = SEAM_CALL(ann_search_uring(nulls[i].idx, nulls[i].ring, U.fd, nulls[i].q,
						 nulls[i].p, nulls[i].ids, NULL, NULL));
		grade_check(ret == -EINVAL, "ann_search_uring with a NULL %s returned %s, expected "
			    "-EINVAL (TODO 9)", nulls[i].what, grade_errno_str(ret));
		grade_check(watch.sqes_submitted == 0, "ann_search_uring with a NULL %s submitted "
			    "%ld SQE(s) before refusing it (TODO 9)", nulls[i].what,
			    watch.sqes_submitted);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uring_new_query();
		ret = SEAM_CALL(ann_search_uring(W.idx, &U.ring, U.fd, query(0), &bad[i], ids, NULL,
						 NULL));
		grade_check(ret == -EINVAL, "ann_search_uring with k %u, L %u, W %u returned %s, "
			    "expected -EINVAL (ann.h, struct ann_params%s; TODO 9)", bad[i].k, bad[i].L,
			    bad[i].W, grade_errno_str(ret), bad[i].W > bad[i].L && bad[i].W <= 8 ?
			    ": W is 1 .. L, the ring having room for W reads is a second condition, "
			    "not instead of that one" : "");
		grade_check(watch.sqes_submitted == 0, "ann_search_uring with k %u, L %u, W %u "
			    "submitted %ld SQE(s) before refusing it (TODO 9)", bad[i].k, bad[i].L,
			    bad[i].W, watch.sqes_submitted);
	}
	/* the ring has 8 SQ entries: W 16 cannot have 16 reads queued */
	struct ann_params wide = { .k = T_K, .L = 32, .W = 16 };

	uring_new_query();
	ret = SEAM_CALL(ann_search_uring(W.idx, &U.ring, U.fd, query(0), &wide, ids, NULL, NULL));
	grade_check(ret == -EINVAL, "ann_search_uring at W 16 on a ring of 8 SQ entries returned %s, "
		    "expected -EINVAL: compare ring->sq.ring_entries with W (TODO 9)",
		    grade_errno_str(ret));
	grade_check(watch.sqes_submitted == 0, "ann_search_uring at W 16 on a ring of 8 entries "
		    "submitted %ld SQE(s) before refusing it (TODO 9)", watch.sqes_submitted);
	grade_check_heap(&before, "ann_search_uring refusing its arguments");
	/* and W equal to the ring's size is fine */
	ret = usearch(query(0), T_K, 24, 8, ids, NULL, NULL);
	uring_check_searched(ret, "k 10, L 24, W 8 on a ring of 8 entries");
	grade_check(ret == T_K, "ann_search_uring at W 8 on a ring of 8 SQ entries returned %s: W "
		    "may be as large as the ring (TODO 9)", grade_errno_str(ret));
	uring_after("W 8 on a ring of 8 entries", false);
	/* the edges of ann.h's ranges are accepted: L == k, W == L, W 1 */
	static const struct ann_params edges[] = { { 10, 10, 8 }, { 1, 1, 1 }, { 8, 8, 8 },
						   { ANN_MAX_K, ANN_MAX_K, 1 },
						   { 10, ANN_MAX_L, 8 } };
	uint32_t eids[ANN_MAX_K];
	float ed[ANN_MAX_K];

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		char what[96];

		snprintf(what, sizeof(what), "query %zu (k %u, L %u, W %u) on a ring of 8 entries",
			 2 + i, edges[i].k, edges[i].L, edges[i].W);
		ret = usearch(query(2 + (unsigned)i), edges[i].k, edges[i].L, edges[i].W, eids, ed,
			      NULL);
		grade_check(ret == (int)edges[i].k, "ann_search_uring, %s, returned %s, expected %u "
			    "results: all three are in range (1 <= k <= L <= ANN_MAX_L, 1 <= W <= L, W "
			    "no more than the ring's entries): the same ranges as ann_search's, edges "
			    "included (ann.h, struct ann_params; TODO 9)", what, grade_errno_str(ret),
			    edges[i].k);
		uring_check_answer(query(2 + (unsigned)i), edges[i].k, ret, eids, ed, what);
		uring_check_exhausted(query(2 + (unsigned)i), edges[i].L, ret, what);
		uring_after(what, false);
	}
	/* W may be anything up to L (and the ring's size): 200 slots */
	uring_teardown();
	uring_setup(256, false);
	ret = usearch(query(0), T_K, 256, 200, ids, NULL, NULL);
	uring_check_searched(ret, "k 10, L 256, W 200 on a ring of 256 entries");
	grade_check(ret == T_K, "ann_search_uring at k 10, L 256, W 200 on a ring of 256 SQ entries "
		    "returned %s, expected 10 results: W may be anything from 1 to L when the ring "
		    "has W entries (ann.h, struct ann_params); the slots are allocated for p->W, not "
		    "a fixed number of them (TODO 9)", grade_errno_str(ret));
	uring_after("k 10, L 256, W 200 on a ring of 256 entries", false);
	/* Each call checks the ring it is given: after good searches on
	 * bigger rings, a new ring of 8 entries at W 16 is still refused (a
	 * check made once and remembered in a static would let it through) */
	uring_teardown();
	uring_setup(8, false);
	uring_new_query();
	ret = SEAM_CALL(ann_search_uring(W.idx, &U.ring, U.fd, query(0), &wide, ids, NULL, NULL));
	grade_check(ret == -EINVAL && watch.sqes_submitted == 0, "ann_search_uring at W 16 on a new "
		    "ring of 8 SQ entries, after good searches on other rings, returned %s after "
		    "submitting %ld SQE(s), expected -EINVAL before queueing anything: every call "
		    "compares the ring it is given (ring->sq.ring_entries) with its own p->W; nothing "
		    "about a ring is remembered between calls (ann.h: \"nothing is kept between "
		    "calls\"; TODO 9)", grade_errno_str(ret), watch.sqes_submitted);
	uring_after("W 16 on a new ring of 8 entries", false);
}

GRADE_TEST(uring, one_query, 3,
	   "ann_search_uring, one query on the index file: the k nearest of the nodes read; every "
	   "SQE a read of one node's sector into an aligned buffer; no node twice; a read whose node "
	   "the list dropped while in flight still scored; every completion ready handled before "
	   "the next fill; fd 0 works; the ring left empty; no ring of its own; no blocking reads",
	   "TODOs 10 and 11: io_uring_prep_read(sqe, fd, slot buffer, ANN_SECTOR, "
	   "ann_node_offset(id)); each CQE handled as in TODO 6, marked seen; io_uring_prep_read(3)")
{
	uint32_t ids[T_K];
	float dists[T_K];
	int ret;

	uring_setup(8, false);
	ret = usearch(query(0), T_K, 24, 4, ids, dists, NULL);
	uring_check_searched(ret, "query 0 (k 10, L 24, W 4)");
	uring_check_answer(query(0), T_K, ret, ids, dists, "query 0 (k 10, L 24, W 4)");
	uring_check_exhausted(query(0), 24, ret, "query 0 (k 10, L 24, W 4)");
	uring_after("query 0 (k 10, L 24, W 4)", false);
	/* a second query on the same ring: the first left it usable */
	ret = usearch(query(1), 5, 16, 2, ids, dists, NULL);
	uring_check_searched(ret, "query 1 (k 5, L 16, W 2), after query 0 on the same ring");
	uring_check_answer(query(1), 5, ret, ids, dists, "query 1 (k 5, L 16, W 2), after query 0");
	uring_after("query 1 (k 5, L 16, W 2)", false);
	/* a query equal to a stored vector (the entry's, read first): that node
	 * is at distance 0, the nearest of all, and is the first result */
	{
		const char *what0 = "a query equal to the entry node's own vector (k 10, L 24, W 4)";
		float q0[T_DIM];
		uint32_t entry = W.idx->h.entry;

		memcpy(q0, W.image + ann_node_offset(entry) + sizeof(struct ann_node_head),
		       sizeof(q0));
		ret = usearch(q0, T_K, 24, 4, ids, dists, NULL);
		uring_check_searched(ret, what0);
		uring_after(what0, false);
		grade_check(ret == T_K && ids[0] == entry && dists[0] == 0.0f, "%s: the search "
			    "answered %s, first node %u at distance %g; expected 10 results, the entry "
			    "node %u first at distance 0: a node whose vector equals the query is a "
			    "result like any other, the nearest one (it is not \"the query itself\" to "
			    "skip, and distance 0 is not an empty place in the results) (ann.h, \"the k "
			    "nodes nearest the query by exact distance among all the nodes read\"; "
			    "TODO 11, as TODOs 6 and 7)", what0, grade_errno_str(ret),
			    ret > 0 ? ids[0] : 0, ret > 0 ? (double)dists[0] : -1.0, entry);
		uring_check_answer(q0, T_K, ret, ids, dists, what0);
	}
	/* descriptor 0 is a descriptor like any other: the index file as 0 */
	int saved0 = dup(0), real_fd = U.fd;

	grade_check(dup2(real_fd, 0) == 0, "harness: dup2: %s", strerror(errno));
	U.fd = 0;
	ret = usearch(query(2), T_K, 24, 4, ids, dists, NULL);
	U.fd = real_fd;
	if (saved0 >= 0) {
		dup2(saved0, 0);
		close(saved0);
	} else {
		close(0);
	}
	grade_check(ret == T_K, "ann_search_uring on the index file open as descriptor 0 returned "
		    "%s, expected %u results: 0 is a valid descriptor (the first open of a process "
		    "whose standard input is closed returns it), and ann.h refuses only NULL pointers, "
		    "p out of range and a ring smaller than W; fd goes into every read as it is "
		    "(TODOs 9 and 10)", grade_errno_str(ret), T_K);
	uring_check_answer(query(2), T_K, ret, ids, dists, "query 2 (k 10, L 24, W 4) on fd 0");
	uring_after("query 2 (k 10, L 24, W 4) on fd 0", false);
	/* nor is a negative descriptor an argument to refuse: the read of it
	 * fails in its completion (-EBADF), and that is the search's error */
	U.fd = -1;
	ret = usearch(query(3), T_K, 24, 4, ids, dists, NULL);
	U.fd = real_fd;
	grade_check(ret == -EBADF, "ann_search_uring with fd -1 returned %s, expected -EBADF, the "
		    "error in the read's completion: ann.h's -EINVAL is for NULL pointers, p out of "
		    "range and a ring smaller than W only; fd goes into every read as it is, and a "
		    "completion's -errno is the search's error (ann.h, \"Completions and errors\"; "
		    "TODOs 9 and 12)", grade_errno_str(ret));
	uring_after("query 3 (k 10, L 24, W 4) on fd -1", false);

	/* The end: a graph of 6 nodes, entry 5 with neighbours 3 and 4; node
	 * 3, read slowly, alone leads on to node 0, the nearest. When 4 is
	 * back the list has no unread candidate, but 3 is still in flight:
	 * the search is not over, and once 3 is back it reads 0. */
	const char *what = "a graph of 6 nodes, entry 5 with neighbours 3 and 4, the read of 3 "
			   "slow and its neighbour 0 the nearest (k 3, L 4, W 2)";
	float q[8] = { 0 };

	uring_teardown();
	make_synthetic(0, 6, 8, 4);
	W.idx->h.entry = 5;
	synth_edge(5, 3);
	synth_edge(5, 4);
	synth_edge(3, 5);
	synth_edge(3, 0);
	synth_edge(4, 5);
	synth_edge(0, 3);
	synth_write_index("six.ann", 6);
	uring_setup(8, false);
	uring_plan(0, U_HOLD, 1);       /* read 0 is the entry's, read 1 node 3's */
	ret = usearch(q, 3, 4, 2, ids, dists, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	grade_check(U.held, "%s: the search made only %ld read(s)", what, U.nreads);
	uring_check_answer(q, 3, ret, ids, dists, what);
	uring_check_exhausted(q, 4, ret, what);
	grade_check(ret == 3 && ids[0] == 0 && ids[1] == 3 && ids[2] == 4,
		    "%s: the search answered %s (%u, %u, %u), expected 3 results, nodes 0, 3, 4 "
		    "(TODO 10)", what, grade_errno_str(ret), ret > 0 ? ids[0] : 0,
		    ret > 1 ? ids[1] : 0, ret > 2 ? ids[2] : 0);
	/* fewer nodes reachable than k: r = min(k, nodes read), here 4 */
	what = "the same graph of 6 nodes, of which 4 are reachable from the entry (k 10, L 10, "
	       "W 2)";
	ret = usearch(q, T_K, 10, 2, ids, dists, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	grade_check(ret == 4 && uring_nodes() == 4, "%s: the search returned %s after reading %ld "
		    "node(s), expected 4 results after reading nodes 5, 3, 4 and 0: r = min(k, nodes "
		    "read), as ann_search's (ann.h, \"Returns r as ann_search\"; TODO 11, as TODO 7)",
		    what, grade_errno_str(ret), uring_nodes());
	uring_check_answer(q, T_K, ret, ids, dists, what);

	/* A read in flight whose node the list drops meanwhile is still a
	 * node read: entry 0 offers 1 and 2 (estimates 4, 9); the read of 2
	 * is slow, and 1 offers 3 and 4 (estimates 1, 1), which push 1 and 2
	 * out of the list of L 2. Node 2, once back, is the nearest of all
	 * (exact 0.25): it is scored when its read completes. */
	what = "a graph of 5 nodes, the read of node 2 slow and node 2 dropped from the list of "
	       "L 2 while in flight, the nearest by exact distance (k 2, L 2, W 2)";
	static const uint8_t code5[5] = { 6, 2, 3, 1, 1 };
	static const float x5[5] = { 6, 2, 0.5f, 10, 11 };

	uring_teardown();
	make_synthetic(0, 5, 8, 4);
	synth_edge(0, 1);
	synth_edge(0, 2);
	synth_edge(1, 3);
	synth_edge(1, 4);
	for (uint32_t j = 0; j < 5; j++) {
		((uint8_t *)W.idx->codes)[(size_t)j * 8] = code5[j];
		W.vecs[(size_t)j * 8] = x5[j];
	}
	synth_write_index("five.ann", 5);
	uring_setup(8, false);
	/* reads: 0 the entry's, then 1 and 2 in one submit, in either order */
	uring_plan_node(0, U_HOLD, 2);
	memset(q, 0, sizeof(q));
	ret = usearch(q, 2, 2, 2, ids, dists, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	grade_check(U.held && U.held_node == 2 && U.nreads >= 3 && U.node[0] == 0 &&
			    ((U.node[1] == 1 && U.node[2] == 2) || (U.node[1] == 2 && U.node[2] == 1)),
		    "%s: the search's first reads were not the entry 0 and then nodes 1 and 2 "
		    "together (%ld read(s), the first %u): at W 2 the fill after the entry takes the "
		    "two nearest candidates by estimate (TODO 10)", what, U.nreads, U.node[0]);
	grade_check(ret == 2 && ids[0] == 2 && ids[1] == 1, "%s: the search answered %s (%u, %u), "
		    "expected nodes 2 and 1: node 2's read was in flight when the list dropped it, and "
		    "it is still a node read: its completion is handled as every other (checked, "
		    "scored by its exact distance, its neighbours offered) whether or not the list "
		    "still holds it (ann.h, ann_search_uring, step 3; TODO 11)", what,
		    grade_errno_str(ret), ret > 0 ? ids[0] : 0, ret > 1 ? ids[1] : 0);
	uring_check_answer(q, 2, ret, ids, dists, what);

	/* A long walk (11.08's path of 250 nodes): the query beyond the far
	 * end, every read finds the next node, nearer: all 250 are read, far
	 * more than L; L is the only budget */
	what = "a path of 250 nodes, entry 0 at one end, the query beyond the other (k 2, L 2, "
	       "W 2)";
	uring_teardown();
	make_synthetic(0, 250, 8, 2);
	for (uint32_t j = 0; j + 1 < 250; j++) {
		synth_edge(j, j + 1);
		synth_edge(j + 1, j);
	}
	synth_write_index("path.ann", 250);
	uring_setup(8, false);
	memset(q, 0, sizeof(q));
	q[0] = 260.0f;
	ret = usearch(q, 2, 2, 2, ids, dists, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	uring_check_exhausted(q, 2, ret, what);
	grade_check(ret == 2 && uring_nodes() == 250 && ids[0] == 249 && ids[1] == 248, "%s: the "
		    "search returned %s after reading %ld node(s), expected 2 results, nodes 249 and "
		    "248, after reading all 250: the search goes on while the list holds an unread "
		    "candidate or a read is in flight, whatever the number of reads so far: L is "
		    "the only budget, no cap on reads or submits (README, \"When the search "
		    "ends\"; TODO 10)", what, grade_errno_str(ret), uring_nodes());
	uring_check_answer(q, 2, ret, ids, dists, what);
}

GRADE_TEST(uring, recall, 3,
	   "ann_search_uring: recall@10 over 40 queries (k 10, L 24, W 4) as good as the "
	   "reference's, for as many reads",
	   "TODO 10: the nearest candidates not read and not in flight first; TODO 11: every "
	   "neighbour not seen into the list by its estimate, the list kept to L")
{
	double sum = 0;
	long reads = 0;

	uring_setup(8, false);
	uring_recall_run("", &sum, &reads);
	/* Twice the slack, as on O_DIRECT (11.35): which node a freed slot
	 * takes depends on the order the reads complete in, and that is the
	 * kernel's. Reads of cached pages complete inline, in the order
	 * submitted (the reference's 0.872 every time); the same search with
	 * its reads completing in the kernel's workers (IOSQE_ASYNC, which
	 * u_edit_sqe now takes away; a cold cache does the same) found 0.847,
	 * 0.872 or 0.897 over 2000 runs: one hit of the 400 either way. A walk
	 * that takes the farthest candidates first reads three times as many
	 * nodes: the second check. */
	grade_check(sum / T_NQ >= T_REF_RECALL - 2 * T_RECALL_SLACK,
		    "recall@10 over %u queries is %.3f; the reference finds about %.3f at the same "
		    "k, L and W: the next read is the nearest candidate by estimate that is neither "
		    "read nor in flight, with W reads in flight (fewer change the walk: see 11.26) "
		    "(TODO 10)",
		    T_NQ, sum / T_NQ, T_REF_RECALL);
	grade_check((double)reads / T_NQ <= 1.5 * T_REF_READS,
		    "the queries read %.1f nodes each on average; the reference reads %.1f: a node "
		    "joins the list once (the seen set) and the list keeps only the L nearest "
		    "(TODO 11)", (double)reads / T_NQ, T_REF_READS);
}

GRADE_TEST(uring, in_flight, 3,
	   "ann_search_uring: W reads in flight and never more (W 4 and 8, also on a ring larger "
	   "than W); every node read was found (the entry, or a neighbour of a node read before)",
	   "TODO 10: fill every free slot, up to W reads queued or in the kernel, and no more: the "
	   "ring may be larger than W. Count a read in flight from its SQE until its CQE is reaped")
{
	static const unsigned ws[] = { 4, 8, 4 }, rings[] = { 4, 8, 64 };
	uint32_t ids[T_K];

	for (int c = 0; c < 3; c++) {
		unsigned most = 0;

		if (c > 0)
			uring_teardown();
		uring_setup(rings[c], false);
		for (unsigned q = 0; q < 10; q++) {
			char what[96];
			int ret = usearch(query(q), T_K, 32, ws[c], ids, NULL, NULL);

			snprintf(what, sizeof(what), "query %u (k 10, L 32, W %u) on a ring of %u entries",
				 q, ws[c], rings[c]);
			uring_check_searched(ret, what);
			uring_check_answer(query(q), T_K, ret, ids, NULL, what);
			uring_after(what, false);
			grade_check(U.max_inflight <= ws[c], "%s: %u reads were in flight at once (queued "
				    "or in the kernel), more than W = %u (TODO 10)", what,
				    U.max_inflight, ws[c]);
			if (U.max_inflight > most)
				most = U.max_inflight;
		}
		grade_check(most == ws[c], "10 queries at W %u on a ring of %u entries never had more "
			    "than %u read(s) in flight at once: fill every free slot before you submit, "
			    "up to W (TODO 10)", ws[c], rings[c], most);
	}
}

GRADE_TEST(uring, pipelined, 8,
	   "ann_search_uring is pipelined: one read held back by the test, the search keeps reading "
	   "around it (at least W more reads submitted while it is outstanding); three held back, "
	   "the fourth slot keeps reading",
	   "TODO 10 runs after every round of completions, while other reads are in flight: do not "
	   "wait for all W reads before you refill (io_uring_wait_cqe waits for one). README, \"The "
	   "next step: pipelining\"")
{
	uint32_t ids[T_K];

	uring_setup(8, false);
	for (unsigned q = 0; q < 4; q++) {
		char what[128];
		int ret;

		/* read 0 is the entry's, alone; read 2 is in the first full fill */
		uring_plan(0, U_HOLD, 2);
		ret = usearch(query(q), T_K, T_REC_L, 4, ids, NULL, NULL);
		snprintf(what, sizeof(what), "query %u (k 10, L %u, W 4) with its third read held back",
			 q, T_REC_L);
		uring_check_searched(ret, what);
		grade_check(U.held, "%s: the search made only %ld read(s)", what, U.nreads);
		uring_after(what, false);
		uring_check_answer(query(q), T_K, ret, ids, NULL, what);
		uring_check_exhausted(query(q), T_REC_L, ret, what);
		grade_check(U.reads_while_held >= 4,
			    "%s: while that read was outstanding the search submitted %ld other "
			    "read(s), though other reads had completed and the list held unread "
			    "candidates: a read that completes frees its slot at once, and the slot "
			    "takes the next candidate while the slow read goes on. Waiting for every "
			    "read of a batch before the next is ann_search's hop, not a pipeline; and "
			    "fewer than W reads in flight leave no slot to refill (11.26) (TODO 10)",
			    what, U.reads_while_held);
	}
	/* three of the first fill's four reads slow: the fourth slot alone goes
	 * on reading while the three are outstanding (a refill that waits for
	 * several free slots does not) */
	{
		const char *what = "query 5 (k 10, L 24, W 4) with reads 1, 2 and 3 (three of its "
				   "first four) held back";
		int ret;

		uring_plan(0, U_HOLD, 1);
		uring_plan(1, U_HOLDX, 2);
		uring_plan(2, U_HOLDX, 3);
		ret = usearch(query(5), T_K, T_REC_L, 4, ids, NULL, NULL);
		uring_check_searched(ret, what);
		grade_check(U.held && U.xheld[1], "%s: the search made only %ld read(s)", what,
			    U.nreads);
		uring_after(what, false);
		uring_check_answer(query(5), T_K, ret, ids, NULL, what);
		uring_check_exhausted(query(5), T_REC_L, ret, what);
		grade_check(U.reads_while_all_held >= 1,
			    "%s: while those three were outstanding the search submitted no other read, "
			    "though read 4 had completed, its slot was free and the list held unread "
			    "candidates: every slot freed by a completion is filled again at once, even "
			    "one alone (ann.h, step 1: \"while fewer than W reads are in flight\"). "
			    "Waiting for several free slots, or for half of the window, before a refill "
			    "leaves a slot empty behind slow reads (TODO 10)", what);
	}
}

GRADE_TEST(uring, stats, 1,
	   "ann_search_uring: stats, hops = submits that carried reads (not a wait alone), reads = "
	   "nodes read",
	   "TODO 10: count a hop for each io_uring_submit that handed reads over, a read for each "
	   "node read (not a read submitted again after -EAGAIN)")
{
	uint32_t ids[T_K];
	struct ann_stats st;

	uring_setup(8, false);
	for (unsigned q = 0; q < 5; q++) {
		char what[96];
		int ret;

		memset(&st, 0xa5, sizeof(st));
		ret = usearch(query(q), T_K, 32, 1 + q, ids, NULL, &st);
		snprintf(what, sizeof(what), "query %u (k 10, L 32, W %u)", q, 1 + q);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(st.reads == uring_nodes() && st.hops == U.submits,
			    "%s: stats say %u hops and %u reads; the ring saw %ld submits carrying "
			    "reads and %ld nodes read (TODO 10)", what, st.hops, st.reads, U.submits,
			    uring_nodes());
	}
	/* the last query again, as it was: read and counted again, nothing
	 * remembered between calls */
	{
		const char *what = "query 4 (k 10, L 32, W 5) asked a second time";
		int ret;

		memset(&st, 0xa5, sizeof(st));
		ret = usearch(query(4), T_K, 32, 5, ids, NULL, &st);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(uring_nodes() > 0 && st.reads == uring_nodes() && st.hops == U.submits,
			    "%s: the ring saw %ld submits carrying reads and %ld nodes read, and the "
			    "stats say %u hops and %u reads. A search reads the index each time it is "
			    "asked, also a query it has just answered, and its stats count that "
			    "call's reads: nothing is remembered between calls, neither answers nor "
			    "counts (ann.h; TODO 10)", what, U.submits, uring_nodes(), st.hops,
			    st.reads);
	}
	/* a read held back: the search also waits with nothing to submit */
	uring_plan(0, U_HOLD, 2);
	memset(&st, 0xa5, sizeof(st));
	int ret = usearch(query(6), T_K, 32, 4, ids, NULL, &st);

	uring_check_searched(ret, "query 6 (k 10, L 32, W 4), read 2 slow");
	uring_after("query 6 (k 10, L 32, W 4), read 2 slow", false);
	grade_check(st.reads == uring_nodes() && st.hops == U.submits,
		    "query 6 (k 10, L 32, W 4), read 2 slow: stats say %u hops and %u reads; the "
		    "ring saw %ld submits carrying reads and %ld nodes read: a wait with nothing "
		    "to submit is not a hop (TODO 10)", st.hops, st.reads, U.submits, uring_nodes());
}

/* 11.29: a read submitted again after -EAGAIN costs no memory that stays:
 * its slot's buffer is the one it had (or one freed in its place). */
static void check_heap_after_retry(const struct seam_heap *before, const char *what)
{
	struct seam_heap now;

	seam_heap_usage(&now);
	grade_check(now.blocks <= before->blocks, "%s: the query succeeded and left %ld block(s) "
		    "(%lld bytes) of heap memory that it never freed. A read submitted again after "
		    "-EAGAIN read nothing: it goes into the same slot and the same buffer; a buffer "
		    "(or anything else) taken for it instead must be freed like the one it replaces "
		    "(TODO 11; every allocation freed on every path, as in TODO 8)",
		    what, now.blocks - before->blocks, now.bytes - before->bytes);
}

GRADE_TEST(uring, eagain, 2,
	   "ann_search_uring: -EAGAIN in a completion, the same read submitted again (not a new "
	   "read, nothing allocated for it that is not freed); the query succeeds",
	   "TODO 11: a CQE whose res is -EAGAIN read nothing: queue the same read again in the same "
	   "slot, into the same buffer; it is still in flight, and not counted as a new read")
{
	uint32_t ids[T_K];
	struct ann_stats st;
	struct seam_heap before;

	uring_setup(8, false);
	for (long at = 0; at < 6; at += 2) {
		char what[128];
		int ret;

		uring_plan(0, U_EAGAIN, at);
		seam_heap_usage(&before);
		ret = usearch(query(at), T_K, T_REC_L, 4, ids, NULL, &st);
		snprintf(what, sizeof(what), "query %ld (k 10, L %u, W 4), read %ld answered -EAGAIN",
			 at, T_REC_L, at);
		uring_check_searched(ret, what);
		grade_check(ret != -EAGAIN, "%s: the search returned -EAGAIN: a completion's -EAGAIN "
			    "means \"try again\", not failure (TODO 11)", what);
		grade_check(ret >= 0, "%s: the search returned %s (TODO 11)", what,
			    grade_errno_str(ret));
		grade_check(U.resubmits == 1, "%s: the read was never submitted again: a node that "
			    "said -EAGAIN was not read, and its neighbours are lost (TODO 11)", what);
		uring_after(what, false);
		uring_check_answer(query(at), T_K, ret, ids, NULL, what);
		grade_check(st.reads == uring_nodes(), "%s: stats say %u reads, but %ld nodes were "
			    "read: a read submitted again is not a new read (TODO 11)", what, st.reads,
			    uring_nodes());
		check_heap_after_retry(&before, what);
	}
	/* at W 1 the read submitted again goes alone: that submit is a hop */
	{
		const char *what = "query 3 (k 10, L 24, W 1), read 3 answered -EAGAIN";
		int ret;

		uring_plan(0, U_EAGAIN, 3);
		memset(&st, 0xa5, sizeof(st));
		ret = usearch(query(3), T_K, T_REC_L, 1, ids, NULL, &st);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret >= 0 && U.resubmits == 1, "%s: the search returned %s after %ld "
			    "read(s) submitted again, expected the query to succeed with the read "
			    "submitted again once (TODO 11)", what, grade_errno_str(ret), U.resubmits);
		grade_check(st.hops == U.submits, "%s: stats say %u hops; the ring saw %ld submits "
			    "carrying reads: at W 1 the read submitted again after -EAGAIN goes alone, "
			    "and a submit of it alone is a hop (ann.h, ann_search_uring's stats; count "
			    "the hop where the submit is made, TODO 10)", what, st.hops, U.submits);
	}
	/* the read submitted again says -EAGAIN again: submitted a third time.
	 * At W 1 the read after read 3's -EAGAIN is read 3 again (read 4). */
	{
		const char *what = "query 4 (k 10, L 24, W 1), read 3 answering -EAGAIN twice";
		int ret;

		uring_plan(0, U_EAGAIN, 3);
		uring_plan(1, U_EAGAIN, 4);
		memset(&st, 0xa5, sizeof(st));
		seam_heap_usage(&before);
		ret = usearch(query(4), T_K, T_REC_L, 1, ids, NULL, &st);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret >= 0 && U.resubmits == 2, "%s: the search returned %s after %ld "
			    "read(s) submitted again, expected the query to succeed with the read "
			    "submitted again twice: every completion with -EAGAIN read nothing, the "
			    "second as much as the first, so the same read goes in again each time, "
			    "however often (ann.h, \"a completion with -EAGAIN: the same read is "
			    "submitted again\"; TODO 11: no count of tries per slot)", what,
			    grade_errno_str(ret), U.resubmits);
		uring_check_answer(query(4), T_K, ret, ids, NULL, what);
		grade_check(st.reads == uring_nodes(), "%s: stats say %u reads, but %ld nodes were "
			    "read: a read submitted again is not a new read (TODO 11)", what, st.reads,
			    uring_nodes());
		check_heap_after_retry(&before, what);
	}
}

GRADE_TEST(uring, eintr, 2,
	   "ann_search_uring: -EINTR from a submit and from a wait, called again; a submit and "
	   "wait that returns with the CQ empty; the query succeeds with the same answer",
	   "TODO 13: io_uring_submit and io_uring_wait_cqe return -EINTR when a signal arrives; it "
	   "is not an error, call them again (io_uring_enter(2), ERRORS). A signal after the "
	   "submit makes io_uring_submit_and_wait return the SQEs taken, with no completion yet: "
	   "reap what is there (maybe nothing) and wait again")
{
	uint32_t want[T_K], ids[T_K];
	struct ann_stats st;
	int wret, ret;

	uring_setup(8, false);
	/* the answer without signals, a read held so that the search waits */
	uring_plan(0, U_HOLD, 2);
	wret = usearch(query(7), T_K, T_REC_L, 4, want, NULL, NULL);
	uring_check_searched(wret, "query 7 (k 10, L 24, W 4)");
	uring_after("query 7 (k 10, L 24, W 4)", false);
	grade_check(wret == T_K, "query 7 (k 10, L 24, W 4) returned %s", grade_errno_str(wret));

	for (int c = 0; c < 3; c++) {
		const char *what = c == 0 ? "query 7, the first submit failing with -EINTR"
				 : c == 1 ? "query 7, the first wait for a read in flight failing with "
					    "-EINTR"
					  : "query 7, the first two io_uring_submit_and_wait calls "
					    "returning with the CQ still empty (a signal after the submit)";

		uring_plan(0, U_HOLD, 2);
		uring_new_query();
		watch.inject_err = -EINTR;
		if (c == 0)
			U.fail_submit = -EINTR; /* the first call that hands SQEs over */
		else if (c == 1)
			watch.inject_when = WATCH_WHEN_WAITS_BUSY;
		else
			watch.wake_early = 2;
		memset(&st, 0xa5, sizeof(st));
		ret = urun(query(7), T_K, T_REC_L, 4, ids, NULL, &st);
		watch.wake_early = 0;
		watch_release_held();
		/* c == 2 applies only to a search that waits with
		 * io_uring_submit_and_wait: the others cannot meet it */
		grade_check(watch.injected || c == 2, "%s: the search never %s", what,
			    c == 0 ? "submitted a read" : "waited while a read was in flight");
		grade_check(ret != -EINTR, "%s: the search returned -EINTR: a signal interrupted the "
			    "call, nothing failed; call it again (TODO 13)", what);
		grade_check(c != 2 || ret >= 0, "%s: the search returned %s. io_uring_submit_and_wait "
			    "returned the number of SQEs the kernel took, and the CQ was empty: the "
			    "reads are in flight, nothing failed; reap what is there (maybe nothing) and "
			    "wait again (TODO 13; io_uring_enter(2), RETURN VALUE)", what,
			    grade_errno_str(ret));
		uring_after(what, false);
		grade_check(ret == wret && !memcmp(ids, want, sizeof(ids)),
			    "%s: the search answered %s, differently from the same query without the "
			    "signal (%s): the interrupted call is made again, nothing else changes "
			    "(TODO 13)", what, grade_errno_str(ret), grade_errno_str(wret));
		grade_check(ret < 0 || (st.hops == U.submits && st.reads == uring_nodes()),
			    "%s: stats say %u hops and %u reads; the ring saw %ld submits carrying "
			    "reads and %ld nodes read: a call that failed with -EINTR handed nothing "
			    "over, so it is not a hop; count the hop once the call made again "
			    "succeeds (TODO 10, TODO 13)", what, st.hops, st.reads, U.submits,
			    uring_nodes());
	}
}

GRADE_TEST(uring, error_drains, 3,
	   "ann_search_uring: a read failing (-EBADF, or -EINTR, -ENOMEM, -ENOBUFS, -ECANCELED, -EIO "
	   "in its completion) while others are "
	   "in flight, its error returned only after every read in flight (one queued again after "
	   "-EAGAIN too) completed; the ring empty; nothing leaked",
	   "TODO 12: after the first error, queue nothing more, but keep waiting and reaping until "
	   "no read is in flight: their buffers are the kernel's until each CQE. Then free and "
	   "return the error")
{
	uint32_t ids[T_K];
	struct seam_heap before;

	uring_setup(8, false);
	for (long at = 1; at <= 4; at++) {
		char what[128];
		int ret;

		if (at == 2)
			continue;
		/* read 2 is slow; read `at` (1, 3 or 4, beside it) fails */
		uring_plan(0, U_HOLD, 2);
		uring_plan(1, U_FAIL, at);
		seam_heap_usage(&before);
		ret = usearch(query(at), T_K, T_REC_L, 4, ids, NULL, NULL);
		snprintf(what, sizeof(what), "query %ld (k 10, L %u, W 4), read %ld failing with "
			 "-EBADF while read 2 is slow", at, T_REC_L, at);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == -EBADF, "%s: the search returned %s, expected the read's -EBADF "
			    "(TODO 12)", what, grade_errno_str(ret));
		grade_check_heap(&before, what);
	}
	/* a signal while draining: the wait for the slow read 2, after read 1
	 * failed, returns -EINTR once; it is called again, as any wait */
	{
		const char *what = "query 1 (k 10, L 24, W 4), read 1 failing with -EBADF while "
				   "read 2 is slow, and the wait for read 2 interrupted by a signal "
				   "(-EINTR)";
		int ret;

		uring_plan(0, U_HOLD, 2);
		uring_plan(1, U_FAIL, 1);
		uring_new_query();
		watch.inject_err = -EINTR;
		watch.inject_when = WATCH_WHEN_WAITS_BUSY;
		seam_heap_usage(&before);
		ret = urun(query(1), T_K, T_REC_L, 4, ids, NULL, NULL);
		uring_check_searched(ret, what);
		grade_check(watch.injected, "%s: the search never waited while read 2 was in flight",
			    what);
		grade_check(ret == -EBADF, "%s: the search returned %s, expected the read's -EBADF: "
			    "-EINTR from a wait is a signal, not an error, while draining too; call "
			    "the wait again until no read is in flight, then return the first error "
			    "(ann.h, \"-EINTR from a submit or a wait (a signal): call it again\"; "
			    "TODOs 12 and 13: the drain's wait is a wait like any other)", what,
			    grade_errno_str(ret));
		uring_after(what, false);
		grade_check_heap(&before, what);
	}
	/* an error late in the query, after more than k nodes were scored: the
	 * search's result is the error, not the k best found so far */
	{
		const char *what = "query 9 (k 10, L 64, W 4), read 30 failing with -EBADF after "
				   "at least 26 nodes had been read and scored";
		int ret;

		uring_plan(0, U_FAIL, 30);
		seam_heap_usage(&before);
		ret = usearch(query(9), T_K, 64, 4, ids, NULL, NULL);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == -EBADF, "%s: the search returned %s, expected the read's -EBADF: "
			    "an error is the search's result however many results it has already "
			    "(the results so far are not the contract's walk, which reads every "
			    "candidate of the list): drain, free, return the first error (ann.h, "
			    "\"Completions and errors\"; TODO 12)", what, grade_errno_str(ret));
		grade_check(U.nreads > 30, "harness: %s: the query made only %ld reads", what,
			    U.nreads);
		grade_check_heap(&before, what);
	}
	/* two errors in one query: the first is the one returned */
	uring_plan(0, U_FAIL, 1);
	uring_plan(1, U_SHORT, 3);
	int ret = usearch(query(5), T_K, T_REC_L, 4, ids, NULL, NULL);

	uring_after("query 5, read 1 failing with -EBADF and read 3 cut short", false);
	grade_check(ret == -EBADF, "query 5 (k 10, L %u, W 4), read 1 failing with -EBADF, then "
		    "read 3 cut short: the search returned %s, expected the first error, -EBADF: "
		    "while draining, the later completions are reaped, not handled (TODO 12)",
		    T_REC_L, grade_errno_str(ret));
	/* a read saying -EAGAIN after the error: drained, not submitted again */
	uring_plan(0, U_FAIL, 1);
	uring_plan(1, U_EAGAIN, 3);
	ret = usearch(query(6), T_K, T_REC_L, 4, ids, NULL, NULL);
	uring_after("query 6, read 1 failing with -EBADF and read 3 answering -EAGAIN", false);
	grade_check(ret == -EBADF, "query 6 (k 10, L %u, W 4), read 1 failing with -EBADF, then "
		    "read 3 answering -EAGAIN: the search returned %s, expected -EBADF (TODO 12)",
		    T_REC_L, grade_errno_str(ret));
	grade_check(U.resubmits == 0, "query 6 (k 10, L %u, W 4), read 1 failing with -EBADF, "
		    "then read 3 (in the same submit) answering -EAGAIN: the search submitted read 3 "
		    "again after the error. Once the search has failed it queues nothing more, not "
		    "even a read again after -EAGAIN: that completion is only counted out (ann.h, "
		    "\"Completions and errors\"; TODO 12 before TODO 11's -EAGAIN)", T_REC_L);
	/* read 1 is the first of the second submit (the first is the entry
	 * alone): its CQE is the first one reaped after it, so nothing more may
	 * be submitted after that submit */
	grade_check(U.submits <= 2, "query 6 (k 10, L %u, W 4), read 1 failing with -EBADF: the "
		    "search went on submitting (%ld submits, %ld reads) after the submit that carried "
		    "the failing read: once a completion has failed, the fill stops, and the search "
		    "only waits for the reads already in flight (ann.h, \"It queues nothing more\"; "
		    "TODO 12)", T_REC_L, U.submits, U.nreads);
	/* a completion with -EINTR: an error of that read, not -EAGAIN */
	uring_plan(0, U_EINTR, 2);
	ret = usearch(query(7), T_K, T_REC_L, 4, ids, NULL, NULL);
	uring_after("query 7, read 2 answering -EINTR", false);
	grade_check(ret == -EINTR && U.resubmits == 0, "query 7 (k 10, L %u, W 4), read 2's "
		    "completion saying -EINTR: the search returned %s after submitting that read again "
		    "%ld time(s), expected -EINTR and no read again. Only a completion's -EAGAIN is "
		    "submitted again; -EINTR is retried when a submit or a wait returns it (the call "
		    "was interrupted), but in a completion's res it is that read's error, like any "
		    "other -errno (ann.h, \"Completions and errors\"; TODOs 11 and 12, not 13)",
		    T_REC_L, grade_errno_str(ret), U.resubmits);
	/* other errors a completion can carry, some of which sound passing:
	 * each is that read's error, never a reason to read again */
	{
		static const int errs[] = { -ENOMEM, -ENOBUFS, -ECANCELED, -EIO };

		for (unsigned e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			char what[128];

			uring_plan(0, U_ERRNO, 2);
			U.plan_res[0] = errs[e];
			ret = usearch(query(7), T_K, T_REC_L, 4, ids, NULL, NULL);
			snprintf(what, sizeof(what), "query 7 (k 10, L %u, W 4), read 2's completion "
				 "saying %s", T_REC_L, grade_errno_str(errs[e]));
			uring_after(what, false);
			grade_check(ret == errs[e] && U.resubmits == 0, "%s: the search returned %s "
				    "after submitting that read again %ld time(s), expected %s and no "
				    "read again. Only a completion's -EAGAIN means \"nothing was read, "
				    "try again\"; any other -errno in a completion's res, however "
				    "passing it sounds, is that read's error and the search's: drain "
				    "and return it (ann.h, \"Completions and errors\"; TODOs 11 and 12)",
				    what, grade_errno_str(ret), U.resubmits, grade_errno_str(errs[e]));
		}
	}
	/* -EAGAIN, then an error, in the same round of completions: the read
	 * queued again before the error is still in flight, and the drain
	 * submits it and waits for it */
	uring_plan(0, U_EAGAIN, 1);
	uring_plan(1, U_FAIL, 2);
	ret = usearch(query(8), T_K, T_REC_L, 4, ids, NULL, NULL);
	uring_after("query 8, read 1 answering -EAGAIN and then read 2 failing with -EBADF", false);
	grade_check(ret == -EBADF, "query 8 (k 10, L %u, W 4), read 1 answering -EAGAIN (queued "
		    "again) and then read 2 failing with -EBADF: the search returned %s, expected "
		    "-EBADF once every read in flight, the one queued again included, had completed "
		    "(TODO 12)", T_REC_L, grade_errno_str(ret));
}

GRADE_TEST(uring, short_read, 2,
	   "ann_search_uring: a read cut short, a read at the end of the file (res 0), or a whole "
	   "sector that is another node's, -EIO, after draining the reads in flight; nothing "
	   "leaked",
	   "TODO 11 (as TODO 6): a CQE with fewer than ANN_SECTOR bytes is -EIO, and so is a sector "
	   "ann_node_parse refuses for the node that slot asked for; TODO 12: drain before "
	   "returning")
{
	uint32_t ids[T_K];
	struct seam_heap before;

	uring_setup(8, false);
	for (long at = 0; at <= 3; at += 3) {
		char what[128];
		int ret;

		if (at > 0)
			uring_plan(0, U_HOLD, 2);
		uring_plan(1, U_SHORT, at);
		seam_heap_usage(&before);
		ret = usearch(query(at), T_K, T_REC_L, 4, ids, NULL, NULL);
		snprintf(what, sizeof(what), "query %ld (k 10, L %u, W 4), read %ld cut to 2048 bytes%s",
			 at, T_REC_L, at, at > 0 ? " while read 2 is slow" : "");
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == -EIO, "%s: the search returned %s, expected -EIO: a node read short "
			    "is not a node (TODO 11, as TODO 6)", what, grade_errno_str(ret));
		grade_check_heap(&before, what);
	}
	/* a full sector, but the next node's: the slot knows which node it
	 * asked for, and ann_node_parse is asked about that one */
	for (long at = 1; at <= 3; at += 2) {
		char what[160];
		int ret;

		uring_plan(0, U_WRONG, at);
		seam_heap_usage(&before);
		ret = usearch(query(at + 1), T_K, T_REC_L, 4, ids, NULL, NULL);
		snprintf(what, sizeof(what), "query %ld (k 10, L %u, W 4), read %ld served the sector "
			 "after the node's (a whole sector, another node's)", at + 1, T_REC_L, at);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == -EIO, "%s: the search returned %s, expected -EIO: the sector is "
			    "checked against the node its slot asked for (the id you kept for that "
			    "slot, from user_data), not against the id the sector itself carries: "
			    "ann_node_parse(idx, that id, ...) refuses another node's sector (ann.h, "
			    "ann_node_parse; TODO 11, as TODO 6)", what, grade_errno_str(ret));
		grade_check_heap(&before, what);
	}
	/* nothing at all: the read starts at the end of the file (res 0) */
	{
		const char *what = "query 6 (k 10, L 24, W 4), read 2 at the end of the file "
				   "(res 0: the index cut short)";
		int ret;

		uring_plan(0, U_EOF, 2);
		seam_heap_usage(&before);
		ret = usearch(query(6), T_K, T_REC_L, 4, ids, NULL, NULL);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == -EIO, "%s: the search returned %s, expected -EIO: res 0 is no "
			    "error code (nothing to return as the search's error) and no node either: "
			    "0 bytes is a read shorter than ANN_SECTOR (ann.h, \"a read shorter than "
			    "ANN_SECTOR (-EIO)\"; TODO 11, as TODO 6)", what, grade_errno_str(ret));
		grade_check_heap(&before, what);
	}
}

GRADE_TEST(uring, heap, 2,
	   "ann_search_uring: no heap block left after queries; each allocation failing in turn, "
	   "-ENOMEM, the ring empty, nothing leaked",
	   "TODO 9: everything one query allocates is freed on every path; a failed allocation is "
	   "-ENOMEM after draining what is in flight (TODO 12) and freeing the rest")
{
	uint32_t ids[T_K];
	struct seam_heap before, after;
	long allocs;
	int ret;

	uring_setup(8, false);
	seam_heap_usage(&before);
	for (unsigned q = 0; q < 6; q++) {
		char what[64];

		ret = usearch(query(q), T_K, 16 + 8 * q, 1 + q % 4, ids, NULL, NULL);
		snprintf(what, sizeof(what), "query %u (k 10, L %u, W %u)", q, 16 + 8 * q, 1 + q % 4);
		uring_check_searched(ret, what);
		uring_after(what, false);
		grade_check(ret == T_K, "%s returned %s", what, grade_errno_str(ret));
	}
	grade_check_heap(&before, "6 queries of ann_search_uring");
	seam_heap_usage(&before);
	ret = usearch(query(3), T_K, 64, 4, ids, NULL, NULL);
	uring_after("query 3 (k 10, L 64, W 4)", false);
	seam_heap_usage(&after);
	allocs = after.allocs - before.allocs;
	for (long nth = 1; nth <= allocs; nth++) {
		struct seam_heap b2, a2;

		seam_heap_usage(&b2);
		seam_heap_fail(nth, 1);
		ret = usearch(query(3), T_K, 64, 4, ids, NULL, NULL);
		seam_heap_fail(0, 0);
		seam_heap_usage(&a2);
		uring_after("ann_search_uring with an allocation failing", false);
		if (a2.failed > b2.failed)
			grade_check(ret == -ENOMEM, "allocation %ld of the %ld a query makes failed; "
				    "ann_search_uring returned %s, expected -ENOMEM (TODO 9)", nth, allocs,
				    grade_errno_str(ret));
		grade_check_heap(&b2, "ann_search_uring with an allocation failing");
	}
}

GRADE_TEST(uring, ring_fails, 1,
	   "ann_search_uring: a wait failing with another error (-EBADR, -EBUSY, -EAGAIN, -ENOMEM), "
	   "returned at once, not retried forever; the buffers of the reads in flight not freed; a "
	   "submit failing with -EAGAIN, -EBUSY or -ENOMEM returned too",
	   "TODO 12: only -EINTR is called again; any other error of a submit or a wait is the "
	   "search's, returned at once (the buffers still in flight are then not freed)")
{
	/* a wait's -EBUSY is io_uring_enter(2)'s "wait for some completions
	 * and try again", about a CQ the program let overflow: this search's
	 * ring, W reads at most in a CQ of twice the SQ, never does. A wait's
	 * -EAGAIN is not io_uring_peek_cqe's "no CQE yet". Neither is a signal */
	static const struct { int err; const char *why; } waits[] = {
		{ -EBADR, "a wait that fails with -EBADR is called again and again: only -EINTR is "
			  "retried (TODO 12)" },
		{ -EBUSY, "a wait that fails with -EBUSY is called again and again: only -EINTR is "
			  "retried; io_uring_enter(2)'s \"wait for some completions and try again\" is "
			  "about a CQ a program let overflow, which W reads on a ring of W entries or "
			  "more never do: here the ring has failed (ann.h; TODO 12)" },
		{ -EAGAIN, "a wait that fails with -EAGAIN is called again and again: only -EINTR is "
			   "retried; a wait's -EAGAIN is not io_uring_peek_cqe's \"no completion yet\" "
			   "(ann.h; TODO 12)" },
		{ -ENOMEM, "a wait that fails with -ENOMEM is called again and again: only -EINTR is "
			   "retried; the kernel short of memory is no signal, and waiting again does "
			   "not make memory (ann.h; TODO 12)" },
	};
	static const int submits[] = { -EAGAIN, -EBUSY, -ENOMEM };
	uint32_t ids[T_K];
	struct seam_heap before, after;
	long calls;
	int ret;

	uring_setup(8, false);
	for (size_t e = 0; e < sizeof(waits) / sizeof(waits[0]); e++) {
		char what[96];

		snprintf(what, sizeof(what), "every wait for a read in flight failing with %s",
			 grade_errno_str(waits[e].err));
		uring_plan(0, U_HOLD, 2);
		uring_new_query();
		watch.inject_err = waits[e].err;
		watch.inject_when = WATCH_WHEN_WAITS_BUSY;
		watch.inject_forever = true;
		watch.limit = 1000;
		watch.limit_why = waits[e].why;
		seam_heap_usage(&before);
		ret = urun(query(2), T_K, T_REC_L, 4, ids, NULL, NULL);
		seam_heap_usage(&after);
		calls = watch.calls - watch.inject_at;
		uring_check_searched(ret, "query 2 (k 10, L 24, W 4), every wait failing");
		grade_check(watch.injected, "the search never waited for a completion while a read "
			    "was in flight");
		uring_after(what, true);
		grade_check(ret == waits[e].err, "%s: the search returned %s, expected %s: a wait "
			    "that fails with anything but -EINTR is the search's error, returned at "
			    "once (ann.h, \"a submit or a wait failing with anything else\"; TODO 12)",
			    what, grade_errno_str(ret), grade_errno_str(waits[e].err));
		grade_check(calls < 100, "%s: the search made %ld more liburing calls after the first "
			    "failure before it returned (TODO 12)", what, calls);
		grade_check(after.bytes - before.bytes >= (long long)ANN_SECTOR,
			    "%s, with a read still in flight: the search returned with %lld bytes of "
			    "its own still allocated, less than that read's buffer: the kernel may "
			    "still write into the buffers of reads in flight, so they are not freed "
			    "when the ring fails (ann.h; TODO 12)", what, after.bytes - before.bytes);
		/* at most the W read buffers stay (one block each, or one for all):
		 * the list, the seen set, the results... are the query's own */
		grade_check(after.blocks - before.blocks <= 4,
			    "%s, W 4: the search returned with %ld blocks of its own still "
			    "allocated, more than the 4 read buffers: only the buffers of the reads "
			    "in flight must stay (the kernel may write into them); the rest of the "
			    "query's state (list, seen set, results...) is freed as on any other "
			    "return (ann.h; TODO 12)", what, after.blocks - before.blocks);
	}
	/* a submit failing with -EAGAIN (the kernel short of resources) or
	 * -EBUSY is no signal either: returned at once, not submitted again */
	for (size_t e = 0; e < sizeof(submits) / sizeof(submits[0]); e++) {
		char what[96];

		snprintf(what, sizeof(what), "the first submit (the entry's read) failing with %s",
			 grade_errno_str(submits[e]));
		uring_new_query();
		U.fail_submit = submits[e];     /* the first call that hands SQEs over */
		ret = urun(query(3), T_K, T_REC_L, 4, ids, NULL, NULL);
		grade_check(ret != -ENOSYS, "ann_search_uring returned -ENOSYS: TODOs 9 to 11 come "
			    "first");
		grade_check(watch.injected, "the search never submitted a read");
		uring_after(what, true);
		grade_check(ret == submits[e], "query 3 (k 10, L 24, W 4), %s: the search returned "
			    "%s, expected %s. A submit or a wait that fails with anything but -EINTR is "
			    "the search's error, returned at once; an -EAGAIN, -EBUSY or -ENOMEM from the "
			    "submit itself is not a completion's -EAGAIN, and submitting again is not the "
			    "contract's (ann.h, \"a submit or a wait failing with anything else\"; "
			    "TODO 12)", what, grade_errno_str(ret), grade_errno_str(submits[e]));
	}
}

GRADE_TEST_T(uring, odirect, 2,
	     "ann_search_uring on an O_DIRECT descriptor (reads complete in any order): the answers "
	     "valid, recall as good",
	     "TODO 10: buffers, offsets and lengths multiples of ANN_SECTOR; TODO 11: a completion "
	     "is matched to its node by its user_data, not by its place in the CQ", 15)
{
	double sum = 0;
	long reads = 0;

	uring_setup(8, true);
	uring_recall_run(", O_DIRECT", &sum, &reads);
	grade_check(sum / T_NQ >= T_REF_RECALL - 2 * T_RECALL_SLACK,
		    "recall@10 over %u queries on O_DIRECT is %.3f; the reference finds about %.3f "
		    "(TODOs 10 and 11)", T_NQ, sum / T_NQ, T_REF_RECALL);
	grade_check((double)reads / T_NQ <= 1.5 * T_REF_READS,
		    "the queries read %.1f nodes each on average on O_DIRECT; the reference reads "
		    "about %.1f (TODOs 10 and 11)", (double)reads / T_NQ, T_REF_READS);
}

GRADE_TEST(uring, high_ids, 2,
	   "ann_search_uring: node ids above 1,048,575 (sectors past 4 GiB) are read at "
	   "ann_node_offset(id)",
	   "TODO 10: the offset given to io_uring_prep_read is ann_node_offset(id), an off_t: "
	   "(id + 1) * ANN_SECTOR in unsigned arithmetic wraps at 32 bits past id 1,048,574 "
	   "(ann.h, the file)")
{
	const uint32_t base = 1500000, count = 12;
	struct io_uring ring;
	struct ann_params p = { .k = 3, .L = 8, .W = 2 };
	unsigned char *sec = aligned_alloc(ANN_SECTOR, ANN_SECTOR);
	uint32_t ids[T_K];
	float q[8] = { 0 };
	const char *path;
	int fd, rc, ret;

	grade_check(sec != NULL, "harness: out of memory");
	/* the path graph of 11.20, written to a sparse file of about 6 GiB */
	make_synthetic(base, count, 8, 4);
	for (uint32_t j = 0; j + 1 < count; j++) {
		synth_edge(base + j, base + j + 1);
		synth_edge(base + j + 1, base + j);
	}
	path = grade_path("high.ann");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	grade_check(fd >= 0, "harness: cannot create %s: %s", path, strerror(errno));
	for (uint32_t j = 0; j < count; j++) {
		off_t off = ann_node_offset(base + j);

		grade_check(serve(off, sec, ANN_SECTOR) == ANN_SECTOR &&
				    pwrite(fd, sec, ANN_SECTOR, off) == ANN_SECTOR,
			    "harness: cannot write a node at byte %lld of %s: %s (a file past 4 GiB "
			    "is needed)", (long long)off, path, strerror(errno));
	}
	free(sec);
	rc = io_uring_queue_init(8, &ring, 0);
	grade_check(rc == 0, "harness: io_uring_queue_init(8) failed: %s (is io_uring allowed "
		    "here? make doctor)", grade_errno_str(rc));
	q[0] = 9.2f;
	seam_refuse_blocking_io("the nodes are read on the ring the search is given (ann.h: "
				"\"Reads go through the ring and nothing else\")");
	ret = SEAM_CALL(ann_search_uring(W.idx, &ring, fd, q, &p, ids, NULL, NULL));
	io_uring_queue_exit(&ring);
	close(fd);
	unlink(path);
	grade_check(ret != -ENOSYS, "ann_search_uring returned -ENOSYS: TODOs 9 to 11 come first");
	grade_check(ret != -EIO, "ann_search_uring on a path of nodes %u.. (sectors from byte %llu "
		    "on) returned -EIO: a sector read was not the node asked for, so the read was at "
		    "the wrong offset. Did the offset wrap at 32 bits? (id + 1) * ANN_SECTOR is "
		    "computed in unsigned int; use ann_node_offset(id) (TODO 10)", base,
		    (unsigned long long)(base + 1) * ANN_SECTOR);
	grade_check(ret == 3, "ann_search_uring on a path of nodes %u.. returned %s, expected 3 "
		    "results", base, grade_errno_str(ret));
	grade_check(ids[0] == base + 8 && ids[1] == base + 9 && ids[2] == base + 7,
		    "the 3 nodes nearest the query are %u and then %u and %u (at distances 0.04, 0.64, "
		    "1.44); ann_search_uring answered %u, %u, %u (11.20 checks the same walk for "
		    "ann_search)", base + 8, base + 9, base + 7, ids[0], ids[1], ids[2]);
}

/* 11.37: two queries on two rings, one thread each. Thread A stops in its
 * third submit, its read made and not yet reaped, until thread B has run
 * its whole query: at W 1 the walk does not depend on the order of
 * completions, so each answer must be the one its query gets alone. */
struct uthr {
	struct io_uring ring;
	unsigned q;
	uint32_t ids[T_K];
	struct ann_stats st;
	int ret;
};

static struct {
	struct io_uring *pause_ring;    /* thread A's */
	int submits;
	bool paused;
	sem_t go_b, b_done;
	int fd;
} TH;

static void th_sem_wait(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

static void th_maybe_pause(struct io_uring *ring)
{
	if (ring != TH.pause_ring || ++TH.submits != 3)
		return;
	TH.paused = true;
	sem_post(&TH.go_b);
	th_sem_wait(&TH.b_done);
}

/* The pause comes after the real call: thread A's read is then back in its
 * buffer (the file is read through the page cache), its CQE not reaped yet,
 * while thread B runs. */
static int th_submit(struct io_uring *ring)
{
	int rc = SEAM_REAL(io_uring_submit)(ring);

	th_maybe_pause(ring);
	return rc;
}

static int th_submit_and_wait(struct io_uring *ring, unsigned nr)
{
	int rc = SEAM_REAL(io_uring_submit_and_wait)(ring, nr);

	th_maybe_pause(ring);
	return rc;
}

static int th_search(struct uthr *t)
{
	struct ann_params p = { .k = T_K, .L = T_REC_L, .W = 1 };

	return ann_search_uring(W.idx, &t->ring, TH.fd, query(t->q), &p, t->ids, NULL, &t->st);
}

static void *th_a(void *arg)
{
	struct uthr *t = arg;

	t->ret = th_search(t);
	if (!TH.paused)
		sem_post(&TH.go_b);     /* never paused: B runs after A */
	return NULL;
}

static void *th_b(void *arg)
{
	struct uthr *t = arg;

	th_sem_wait(&TH.go_b);
	t->ret = th_search(t);
	sem_post(&TH.b_done);
	return NULL;
}

GRADE_TEST(uring, threads, 2,
	   "ann_search_uring: two threads, each on its own ring, searching the same index at once "
	   "(one query starting and finishing while the other waits) get the answers each gets alone",
	   "TODO 9: every piece of a query's state belongs to that call: no static seen set, list, "
	   "slot or buffer (ann.h: nothing is kept between calls; README, \"The rules\")")
{
	static const unsigned pairs[][2] = { { 0, 1 }, { 2, 3 }, { 4, 5 } };
	struct uthr *t = grade_xmalloc(sizeof(*t) * 2);
	uint32_t alone[2][T_K];
	struct ann_stats alone_st[2];
	int aret[2];

	if (!W.idx)
		make_world();
	TH.fd = grade_open(W.path, O_RDONLY);
	for (int i = 0; i < 2; i++) {
		int rc = io_uring_queue_init(4, &t[i].ring, 0);

		grade_check(rc == 0, "harness: io_uring_queue_init(4) failed: %s (is io_uring allowed "
			    "here? make doctor)", grade_errno_str(rc));
	}
	for (size_t c = 0; c < sizeof(pairs) / sizeof(pairs[0]); c++) {
		pthread_t th[2];

		/* each query alone first */
		for (int i = 0; i < 2; i++) {
			t[i].q = pairs[c][i];
			seam_refuse_blocking_io("the nodes are read on the ring the search is given");
			aret[i] = SEAM_CALL(th_search(&t[i]));
			grade_check(aret[i] == T_K, "query %u (k 10, L %u, W 1) alone returned %s",
				    t[i].q, T_REC_L, grade_errno_str(aret[i]));
			memcpy(alone[i], t[i].ids, sizeof(alone[i]));
			alone_st[i] = t[i].st;
			memset(t[i].ids, 0, sizeof(t[i].ids));
			memset(&t[i].st, 0xa5, sizeof(t[i].st));
		}
		/* then side by side: B runs while A waits in its third submit */
		grade_check(sem_init(&TH.go_b, 0, 0) == 0 && sem_init(&TH.b_done, 0, 0) == 0,
			    "harness: sem_init");
		TH.pause_ring = &t[0].ring;
		TH.submits = 0;
		TH.paused = false;
		seam_hook_io_uring_submit = th_submit;
		seam_hook_io_uring_submit_and_wait = th_submit_and_wait;
		seam_arm();
		grade_check(pthread_create(&th[0], NULL, th_a, &t[0]) == 0 &&
				    pthread_create(&th[1], NULL, th_b, &t[1]) == 0,
			    "harness: no thread");
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		seam_disarm();
		seam_hook_io_uring_submit = NULL;
		seam_hook_io_uring_submit_and_wait = NULL;
		sem_destroy(&TH.go_b);
		sem_destroy(&TH.b_done);
		for (int i = 0; i < 2; i++)
			grade_check(t[i].ret == aret[i] && !memcmp(t[i].ids, alone[i], sizeof(alone[i])),
				    "query %u (k 10, L %u, W 1) answered differently (%s) while query %u "
				    "ran on another ring in another thread%s than alone (%s): the two "
				    "calls share state. At W 1 the pipelined walk does not depend on the "
				    "order of completions, so only shared state can change it: keep the "
				    "seen set, the list, the slots and their buffers in the call, "
				    "allocated per query (a static buffer is shared by every thread) "
				    "(TODO 9)",
				    t[i].q, T_REC_L, grade_errno_str(t[i].ret), t[1 - i].q,
				    i == 0 ? " (from start to end, while this one waited)" : "",
				    grade_errno_str(aret[i]));
		/* at W 1 the counts of a query are its own too */
		for (int i = 0; i < 2; i++)
			grade_check(t[i].st.hops == alone_st[i].hops &&
					    t[i].st.reads == alone_st[i].reads,
				    "query %u (k 10, L %u, W 1): its stats said %u hops and %u reads "
				    "alone, and %u hops and %u reads while query %u ran on another ring "
				    "in another thread%s. At W 1 the walk is the same, so the counts "
				    "are: they are the query's state like the rest, kept in the call "
				    "(a local struct copied to *stats), never in a static (TODOs 9 and "
				    "10)", t[i].q, T_REC_L, alone_st[i].hops, alone_st[i].reads,
				    t[i].st.hops, t[i].st.reads, t[1 - i].q,
				    i == 0 ? " (from start to end, while this one waited)" : "");
	}
	for (int i = 0; i < 2; i++)
		io_uring_queue_exit(&t[i].ring);
	close(TH.fd);
	free(t);
}

/* Last, so that the numbers of the tests before it stay as they were. */
GRADE_TEST(uring, wide, 1,
	   "ann_search_uring at W 300 on a ring of 512 entries: slots numbered past 255, the answer "
	   "right",
	   "TODOs 9 and 10: W may be anything up to L: slot numbers, and the user_data that carries "
	   "them, run from 0 to W - 1: keep them in an unsigned int, not in 8 bits")
{
	uint32_t ids[T_K];
	float dists[T_K];
	int ret;

	/* a ring of 512 entries (CQ 1024), after the rings of the tests before
	 * it, which stay charged a moment after they are torn down */
	grade_require_memlock(256 * 1024, "a ring of 512 entries");
	uring_setup(512, false);
	ret = usearch(query(1), T_K, 512, 300, ids, dists, NULL);
	uring_check_searched(ret, "k 10, L 512, W 300 on a ring of 512 entries");
	grade_check(ret == T_K, "ann_search_uring at k 10, L 512, W 300 on a ring of 512 SQ entries "
		    "returned %s, expected 10 results: W may be anything up to L (ann.h, struct "
		    "ann_params) (TODO 9)", grade_errno_str(ret));
	uring_check_answer(query(1), T_K, ret, ids, dists, "k 10, L 512, W 300");
	uring_after("k 10, L 512, W 300 on a ring of 512 entries", false);
}

/* After the numbers before it. Entry 0 offers 1 and 2 (estimates 16, 25),
 * read together at W 2; node 1 offers 3 and 5 (64, 81), node 2 offers 4
 * and 6 (4, 9). Both reads are cached and complete inside the submit, in
 * the order submitted: when the search's call comes back, both CQEs are in
 * the CQ. Step 3 handles every completion that is ready before step 1
 * fills again, so the next submit reads 4 and 6, the two nearest; a fill
 * made after 1's completion alone takes 3 before 2's neighbours are in the
 * list. */
GRADE_TEST(uring, every_ready_first, 1,
	   "ann_search_uring: every completion that is ready is handled before the fill picks the "
	   "next reads (two reads back at once: the next two read are the nearest of both nodes' "
	   "neighbours)",
	   "TODO 11: peek until the CQ is empty, handling each completion (its neighbours into the "
	   "list); only then TODO 10's fill, which picks the nearest candidates of the whole list "
	   "(ann.h, ann_search_uring, step 3: \"then go back to 1\")")
{
	static const uint8_t code7[7] = { 12, 4, 5, 8, 2, 9, 3 };
	const char *what = "a graph of 7 nodes, entry 0 offering 1 and 2 (estimates 16, 25), node 1 "
			   "offering 3 and 5 (64, 81), node 2 offering 4 and 6 (4, 9) (k 2, L 6, W 2)";
	uint32_t ids[2];
	float dists[2], q[8] = { 0 };

	make_synthetic(0, 7, 8, 4);
	synth_edge(0, 1);
	synth_edge(0, 2);
	synth_edge(1, 3);
	synth_edge(1, 5);
	synth_edge(2, 4);
	synth_edge(2, 6);
	for (uint32_t j = 0; j < 7; j++) {
		((uint8_t *)W.idx->codes)[(size_t)j * 8] = code7[j];
		W.vecs[(size_t)j * 8] = code7[j];
	}
	synth_write_index("seven.ann", 7);
	uring_setup(8, false);
	/* both reads are complete when the call that submitted them returns
	 * (u_looked waits for the kernel before it returns to the search) */
	U.settle = true;
	{
		int ret = usearch(q, 2, 6, 2, ids, dists, NULL);
		long at = U.submit_first[2];

		uring_check_searched(ret, what);
		uring_after(what, false);
		uring_check_answer(q, 2, ret, ids, dists, what);
		grade_check(ret == 2 && ids[0] == 4 && ids[1] == 6, "%s: the search answered %s "
			    "(%u, %u), expected nodes 4 and 6 (TODOs 10 and 11)", what,
			    grade_errno_str(ret), ret > 0 ? ids[0] : 0, ret > 1 ? ids[1] : 0);
		grade_check(U.submits >= 3 && U.submit_first[1] == 1 && U.submit_first[2] == 3 &&
				    U.node[0] == 0 &&
				    ((U.node[1] == 1 && U.node[2] == 2) ||
				     (U.node[1] == 2 && U.node[2] == 1)),
			    "%s: the search's first submits read %ld node(s) (first %u), expected the "
			    "entry alone, then nodes 1 and 2 together: at W 2 the fill takes the two "
			    "nearest candidates (TODO 10)", what, uring_nodes(), U.node[0]);
		grade_check(U.cqes_shown[2] >= 3, "%s: the harness saw %u of the 3 completions in the CQ when the "
			    "search submitted its third batch of reads, though it waits for every read "
			    "before the submitting call returns: did the search reach the ring other "
			    "than through liburing's calls (io_uring_submit, io_uring_wait_cqe, "
			    "io_uring_peek_cqe...)? (TODO 11)", what, U.cqes_shown[2]);
		grade_check(uring_nodes() >= at + 2 && (U.submits == 3 || U.submit_first[3] >= at + 2) &&
				    ((U.node[at] == 4 && U.node[at + 1] == 6) ||
				     (U.node[at] == 6 && U.node[at + 1] == 4)),
			    "%s: the completions of nodes 1 and 2 were both in the CQ when your last "
			    "call of liburing returned, and the next reads were nodes %u and %u%s; they "
			    "should be 4 and 6, the two nearest candidates once BOTH completions are "
			    "handled (2's neighbours, estimates 4 and 9, before 1's, 64 and 81). The "
			    "fill ran after one completion, before the other's neighbours were in the "
			    "list: step 3 handles every completion that is ready (peek until the CQ is "
			    "empty), then step 1 fills the free slots from the whole list (ann.h, "
			    "ann_search_uring, step 3; TODO 11)", what, U.node[at],
			    uring_nodes() > at + 1 ? U.node[at + 1] : 0,
			    U.submits > 3 && U.submit_first[3] == at + 1 ? " (the second in a submit of "
			    "its own)" : "");
	}
}

GRADE_TEST(synthetic, wide_node, 1,
	   "a node with ANN_MAX_DEGREE (64) neighbours: every one of them offered to the list, by "
	   "ann_search and by ann_search_uring",
	   "TODO 6: offer ALL nnbrs neighbours that ann_node_parse returned, however many (up to "
	   "the index's degree, at most ANN_MAX_DEGREE): not a fixed count (ann.h, ann_search, "
	   "step 3)")
{
	const uint32_t count = 1 + ANN_MAX_DEGREE;
	const char *what = "a star of 65 nodes on a line, the entry 0 with all 64 others as its "
			   "neighbours, the query on node 64, the last neighbour of the list (k 3, L 8, "
			   "W 2)";
	struct mem_io m;
	uint32_t ids[3];
	float q[4] = { (float)count, 0, 0, 0 };
	int ret;

	make_synthetic(0, count, 4, ANN_MAX_DEGREE);
	for (uint32_t j = 1; j < count; j++)
		synth_edge(0, j);
	mem_init(&m);
	ret = search(&m, q, 3, 8, 2, ids, NULL, NULL);
	check_searched(&m, ret, what);
	replay(&m, q, 8, 2, what);
	grade_check(ret == 3 && ids[0] == 64 && ids[1] == 63 && ids[2] == 62,
		    "%s: ann_search answered %s (%u, %u, %u), expected nodes 64, 63, 62: the entry "
		    "offers 64 neighbours and the 8 nearest must join the list; were only the first "
		    "few of its neighbours offered? (TODO 6: loop over every one of the nnbrs "
		    "ann_node_parse gives)", what, grade_errno_str(ret), ret > 0 ? ids[0] : 0,
		    ret > 1 ? ids[1] : 0, ret > 2 ? ids[2] : 0);

	synth_write_index("star.ann", count);
	uring_setup(8, false);
	ret = usearch(q, 3, 8, 2, ids, NULL, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	uring_check_exhausted(q, 8, ret, what);
	grade_check(ret == 3 && ids[0] == 64 && ids[1] == 63 && ids[2] == 62,
		    "%s: ann_search_uring answered %s (%u, %u, %u), expected nodes 64, 63, 62: the "
		    "entry offers 64 neighbours and the 8 nearest must join the list; were only the "
		    "first few of its neighbours offered? (TODO 11: each read as ann_search's step "
		    "3, every one of the nnbrs neighbours)", what, grade_errno_str(ret),
		    ret > 0 ? ids[0] : 0, ret > 1 ? ids[1] : 0, ret > 2 ? ids[2] : 0);
}

/* After the numbers before it. A submit is refused (-EAGAIN, -EBUSY,
 * -ENOMEM) after two went through: the first carried the entry's read, the
 * second the first fill's four, of which read 2 is held back by the test,
 * so that the third submit fails while that read is still the kernel's.
 * The failed submit handed nothing over, but read 2's buffer may still be
 * written at any moment: it must not be freed. And the error is the
 * search's, returned at once: io_uring_enter(2)'s "reap some completions
 * and try again" is about a CQ the program let overflow. */
GRADE_TEST(uring, submit_fails_in_flight, 1,
	   "ann_search_uring: a later submit failing (-EAGAIN, -EBUSY, -ENOMEM) while a read of an "
	   "earlier submit is still in flight: that error returned at once, not a wait and a second "
	   "try; the buffer of the read in flight not freed",
	   "TODO 12: a submit that fails handed nothing over, but the reads of the submits before it "
	   "are still the kernel's: return the error at once, keep the buffers of every read in "
	   "flight, free the rest (README, \"Errors: drain, then return\")")
{
	static const int errs[] = { -EAGAIN, -EBUSY, -ENOMEM };
	uint32_t ids[T_K];
	struct seam_heap before, after;

	uring_setup(8, false);
	for (unsigned e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
		char what[160];
		long calls;
		bool in_flight;
		int ret;

		snprintf(what, sizeof(what), "query %u (k 10, L %u, W 4), read 2 slow and the third "
			 "submit (the first after read 2's) failing with %s", 3 + e, T_REC_L,
			 grade_errno_str(errs[e]));
		uring_plan(0, U_HOLD, 2);
		uring_new_query();
		U.fail_submit = errs[e];
		U.fail_submit_skip = 2;
		U.release_after_fail = true;
		seam_heap_usage(&before);
		ret = urun(query(3 + e), T_K, T_REC_L, 4, ids, NULL, NULL);
		seam_heap_usage(&after);
		calls = watch.inject_at ? watch.calls - watch.inject_at : 0;
		in_flight = U.held && !U.released;
		uring_check_searched(ret, what);
		grade_check(watch.injected, "%s: the search made only %ld submit(s) carrying reads, "
			    "and the third was to fail: the walk goes on while the list holds unread "
			    "candidates (TODO 10)", what, U.submits);
		uring_after(what, true);
		grade_check(ret == errs[e], "%s: the search returned %s, expected %s: a submit that "
			    "fails with anything but -EINTR is the search's error, returned at once, "
			    "also when reads of earlier submits are in flight. Waiting for one of them "
			    "and submitting again is io_uring_enter(2)'s advice for a CQ the program "
			    "let overflow, which W reads on a ring of at least W entries never do (ann.h, "
			    "\"a submit or a wait failing with anything else\"; TODO 12; README, "
			    "pitfall 27)", what, grade_errno_str(ret), grade_errno_str(errs[e]));
		grade_check(calls < 100, "%s: the search made %ld more liburing calls after the "
			    "failed submit before it returned (TODO 12)", what, calls);
		grade_check(!U.held || in_flight, "%s: after the submit failed, the search waited for "
			    "read 2 (the test lets a slow read through only when the search waits for "
			    "it) before it returned: on a ring that has failed, a wait may never end. "
			    "A submit or a wait that fails with anything but -EINTR is returned at once, "
			    "without draining: the buffers of the reads in flight stay allocated, the "
			    "caller exits the ring (ann.h, \"that error is returned at once\"; TODO 12; "
			    "README, \"Errors: drain, then return\")", what);
		grade_check(!in_flight || after.bytes - before.bytes >= (long long)ANN_SECTOR,
			    "%s: the search returned with %lld bytes of its own still allocated, less "
			    "than the buffer of read 2, which was still in flight: the failed submit "
			    "handed nothing over, but the reads of the submits before it are the "
			    "kernel's until their CQEs, and the kernel may write into their buffers "
			    "at any moment. When a submit or a wait fails, keep the buffers of every "
			    "read in flight, whichever call failed (ann.h; TODO 12; README, \"Errors: "
			    "drain, then return\")", what, after.bytes - before.bytes);
		grade_check(after.blocks - before.blocks <= 4, "%s, W 4: the search returned with %ld "
			    "blocks of its own still allocated, more than the 4 read buffers: only the "
			    "buffers of the reads in flight stay; the list, the seen set, the "
			    "results... are freed as on any other return (ann.h; TODO 12)", what,
			    after.blocks - before.blocks);
	}
}

/* After the numbers before it. Entry 0 offers 1, 2 and 3 (on a line, the
 * query at 0: estimates 4, 9, 16) and nothing else is in the list: at W 4
 * the fill queues those three, and the test holds all of them back. It
 * lets node 1 through first (it offers nothing new), so that the list is
 * dry with two reads out, then one of 2 and 3, whichever the search's
 * first wait needs. Each of them offers a node of its own (2: node 4,
 * 3: node 5): a search that waits for one completion reads that node while
 * the other slow read is still out. One that waits for every read in
 * flight when it has nothing to fill reads it only after both. */
GRADE_TEST(uring, dry_wait_one, 1,
	   "ann_search_uring: with nothing left to fill and two reads slow, the search waits for "
	   "one completion, not all: the node the first one offers is read while the other is "
	   "still out",
	   "TODO 11: step 3 waits for ONE completion (io_uring_wait_cqe), also when the fill found "
	   "nothing to queue: the read that comes back first may offer candidates for the free "
	   "slots (ann.h, ann_search_uring, step 3)")
{
	const char *what = "a graph of 6 nodes on a line, entry 0 offering 1, 2 and 3, node 2 "
			   "offering 4 and node 3 offering 5, reads 1, 2 and 3 slow (k 2, L 6, W 4)";
	uint32_t ids[2];
	float dists[2], q[8] = { 0 };
	int ret;

	make_synthetic(0, 6, 8, 4);
	synth_edge(0, 1);
	synth_edge(0, 2);
	synth_edge(0, 3);
	synth_edge(1, 0);
	synth_edge(2, 4);
	synth_edge(3, 5);
	synth_write_index("dry.ann", 6);
	uring_setup(8, false);
	uring_plan_node(0, U_HOLD, 1);
	uring_plan_node(1, U_HOLDX, 2);
	uring_plan_node(2, U_HOLDX, 3);
	ret = usearch(q, 2, 6, 4, ids, dists, NULL);
	uring_check_searched(ret, what);
	uring_after(what, false);
	uring_check_answer(q, 2, ret, ids, dists, what);
	uring_check_exhausted(q, 6, ret, what);
	grade_check(ret == 2 && ids[0] == 0 && ids[1] == 1, "%s: the search answered %s (%u, %u), "
		    "expected nodes 0 and 1 (TODOs 10 and 11)", what, grade_errno_str(ret),
		    ret > 0 ? ids[0] : 0, ret > 1 ? ids[1] : 0);
	grade_check(U.held && U.xheld[0] && U.xheld[1] && uring_nodes() == 6, "%s: the search "
		    "read %ld node(s); expected the entry, then nodes 1, 2 and 3 in flight together, "
		    "then 4 and 5: at W 4 the fill queues every unread candidate while fewer than "
		    "W reads are in flight (TODO 10)", what, uring_nodes());
	grade_check(U.reads_while_one_x_held >= 1, "%s: the search read the node that the first "
		    "of the slow reads 2 and 3 offered only after both had come back. With nothing "
		    "to fill, it waited for every read in flight (io_uring_wait_cqe_nr, or a "
		    "submit and wait for more than one), so the fast one's neighbour waited for "
		    "the slow one. Step 3 waits for one completion, whatever the fill found: the "
		    "first read back may offer candidates for the free slots (ann.h, "
		    "ann_search_uring, step 3; TODO 11; README, \"The loop\")", what);
}
