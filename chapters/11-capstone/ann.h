/*
 * ann.h - chapter 11, the capstone: nearest-neighbour search on an index
 * that lives on disk.
 *
 * The index is a proximity graph over a set of vectors (one node per
 * vector, each with at most `degree` neighbours), laid out one node per
 * 4 KiB sector so that reading a node is one aligned read. Only a small
 * compressed copy of every vector (one byte per dimension) is kept in
 * memory; the full vectors and the neighbour lists stay on disk. A query
 * walks the graph from the entry node towards the query vector: every step
 * (a "hop") reads the nodes it chose to visit, and every read is a small
 * random read. That is why the search is bound by the latency of the
 * reads, and why batching the reads of a hop, and keeping more of them in
 * flight, pays.
 *
 * Two parts:
 *
 *  - the course's code (chapters/11-capstone/annindex.c, not the exercise):
 *    the file format, building an index from a seed, loading its header and
 *    compressed vectors (ann_load), parsing a node read from disk, the
 *    distances, and the exact answers by brute force;
 *  - the exercise (exercises/11-capstone/search.c): ann_search, the search's
 *    I/O loop, which reads nodes only through the batch read it is given
 *    (struct ann_io: any chapter's module, chosen at run time).
 *
 * Every function returns a count or 0 on success and a negated errno value
 * on failure; nothing here sets errno for its caller, prints, or exits.
 */
#ifndef COURSE_ANN_H
#define COURSE_ANN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batch.h"

/* ================================================================ the file
 *
 *   byte 0              sector 0: struct ann_header (the rest is zeros)
 *   byte (1 + i) * 4096 node i, for i = 0 .. n-1: struct ann_node_head,
 *                       then float vec[dim], then uint32_t nbrs[nnbrs]
 *                       (the rest of the sector is zeros)
 *   codes_offset        the compressed vectors: float lo[dim], float
 *                       step[dim], then uint8_t code[n][dim]
 *
 * All numbers are little-endian, as the machine writes them. A node's
 * sector can be read with O_DIRECT: its offset and length are multiples of
 * ANN_SECTOR.
 */
#define ANN_SECTOR 4096u
#define ANN_MAGIC "AIO-ANN1"       /* 8 bytes, no terminating zero in the file */
#define ANN_MAX_N 4000000u         /* nodes of an index (ann_build)             */
#define ANN_MAX_DIM 256u           /* dimensions of a vector                    */
#define ANN_MAX_DEGREE 64u         /* neighbours of a node                      */
#define ANN_MAX_K 100u             /* results of one query                      */
#define ANN_MAX_L 1024u            /* the candidate list of one query           */

struct ann_header {
	char magic[8];          /* ANN_MAGIC                                 */
	uint32_t version;       /* 1                                         */
	uint32_t dim;           /* 1 .. ANN_MAX_DIM                          */
	uint32_t n;             /* nodes, >= 1                               */
	uint32_t degree;        /* most neighbours of a node, 1 .. ANN_MAX_DEGREE */
	uint32_t entry;         /* where every search starts: a node id < n  */
	uint32_t clusters;      /* how the data was made (ann_build)         */
	uint64_t seed;
	uint64_t codes_offset;  /* where the compressed vectors start        */
};

struct ann_node_head {
	uint32_t id;            /* the node's own id: a check that the right
	                           sector was read                            */
	uint32_t nnbrs;         /* 0 .. degree                                */
};

/* Where node `id` starts in the file (its sector). */
static inline off_t ann_node_offset(uint32_t id)
{
	return (off_t)(id + 1u) * ANN_SECTOR;
}

/* ======================================================= the course's code */

/* An index loaded for searching: the header and the compressed vectors,
 * read once by ann_load; the nodes stay on disk. Read-only after ann_load:
 * any number of threads may search it at once. */
struct ann_index {
	struct ann_header h;
	const float *lo;        /* dim values: the smallest of each dimension */
	const float *step;      /* dim values: one code step of each dimension */
	const uint8_t *codes;   /* n * dim bytes: vector i is codes[i * dim ..] */
};

/* How an index is made (ann_build). Zeros give the defaults. */
struct ann_build_params {
	uint32_t n;             /* vectors (default 100000)                  */
	uint32_t dim;           /* dimensions (default 64)                   */
	uint32_t degree;        /* graph degree R (default 32)               */
	uint32_t build_list;    /* candidate list while building (default 64) */
	uint32_t clusters;      /* Gaussian clusters the vectors come from
	                           (default 64)                               */
	uint64_t seed;          /* the same seed gives the same file          */
	unsigned threads;       /* threads to build with (default: the CPUs)  */
};

/*
 * ann_build - make the data set from params->seed and write its index to
 * `path` (created or truncated, mode 0644 before the umask). The vectors are
 * drawn around `clusters` random centres; the graph is a Vamana graph (the
 * DiskANN paper's): two passes of a greedy search for every node, each
 * followed by a pruning that keeps the neighbours which are not already
 * reached through a closer one. Returns 0 or -errno: -EINVAL when path or
 * params is NULL, n > ANN_MAX_N, dim, degree or build_list above their
 * maxima, or clusters > n (clusters 0 means min(64, n); threads above 64
 * count as 64); -ENOMEM; the error of creating or writing the file. On an
 * error the file may be left partly written.
 */
int ann_build(const char *path, const struct ann_build_params *params);

/*
 * ann_load - read the header and the compressed vectors of the index at
 * `path` (ordinary buffered reads) into a new struct ann_index in *out.
 * Returns 0, or -errno: -ENOENT, -EACCES..., -EINVAL (not an index: shorter
 * than a header, bad magic, version or sizes), -EIO (the file is shorter
 * than its header says), -ENOMEM. ann_unload frees it (NULL is a no-op).
 */
int ann_load(struct ann_index **out, const char *path);
void ann_unload(struct ann_index *idx);

/*
 * ann_node_parse - check a node's sector as read from disk and point into
 * it: `sector` holds `len` bytes read from ann_node_offset(id). On success
 * *vec points at the node's dim floats and *nbrs at its *nnbrs neighbour
 * ids (inside `sector`; nothing is copied) and 0 is returned. -EIO when the
 * sector is not node `id` of this index: too short (len < ANN_SECTOR), a
 * different id, more neighbours than the degree, a neighbour id >= n.
 * -EINVAL when idx, sector, vec, nbrs or nnbrs is NULL, id >= idx->h.n, or
 * sector is not 4-byte aligned (the pointers returned point into it).
 */
int ann_node_parse(const struct ann_index *idx, uint32_t id, const void *sector, size_t len,
		   const float **vec, const uint32_t **nbrs, unsigned *nnbrs);

/* The squared Euclidean distance between two vectors of dim floats. */
float ann_dist(const float *a, const float *b, unsigned dim);

/* The squared distance from `query` to node id's compressed vector: what
 * the search knows of a node before reading it (an estimate). id must be
 * below idx->h.n (not checked: it is called for every neighbour). */
float ann_approx_dist(const struct ann_index *idx, const float *query, uint32_t id);

/*
 * ann_queries - `nq` query vectors of the index's dimension, made from
 * `seed` around the same centres as the data (not the data's own points),
 * written to out[nq * dim]. ann_truth - the exact `k` nearest nodes of each
 * query (ids[q * k ..], nearest first, ties by smaller id), by reading every
 * node of the file at `path`. Both return 0 or -errno: -EINVAL for a NULL
 * idx, path, or out/queries/ids with nq > 0, a header whose clusters is 0
 * (ann_queries), k == 0 or k > n (ann_truth); -EIO when the file is short
 * or a node fails ann_node_parse; nq == 0 returns 0 and reads nothing.
 */
int ann_queries(const struct ann_index *idx, uint64_t seed, unsigned nq, float *out);
int ann_truth(const struct ann_index *idx, const char *path, const float *queries, unsigned nq,
	      unsigned k, uint32_t *ids);

/* ========================================================= the exercise */

/*
 * How the search reads: a batch read (batch.h's contract) with its own
 * context, and the descriptor of the index file to put in every request.
 * The queue depth is the reader's own business (the caller chose it when it
 * set the reader up). Any chapter's module fits: the demo wraps chapter 10's
 * reader, the thread pool, libaio, io_uring and plain pread in this shape.
 * The descriptor may be open with O_DIRECT: every request's buffer, offset
 * and length must be multiples of ANN_SECTOR.
 */
struct ann_io {
	int (*read)(void *ctx, struct batch_req *reqs, size_t n);
	void *ctx;
	int fd;
};

/* One query's knobs. */
struct ann_params {
	unsigned k;     /* results wanted, 1 .. ANN_MAX_K                     */
	unsigned L;     /* the candidate list: the L best nodes seen so far,
	                   k .. ANN_MAX_L. Larger: better recall, more reads.  */
	unsigned W;     /* the beam width: nodes read per hop, 1 .. L         */
};

/* What one query did (filled when the caller passes a place for it). */
struct ann_stats {
	unsigned hops;  /* calls to io->read                                  */
	unsigned reads; /* nodes read (requests, all hops together)           */
};

/*
 * ann_search - the k nodes nearest to `query` (idx->h.dim floats) that a
 * beam search over the graph finds.
 *
 * The search keeps a candidate list of at most L nodes ordered by their
 * estimated distance to the query (ann_approx_dist), each marked read or
 * not yet read; it starts with the entry node (idx->h.entry) alone. Each
 * hop:
 *
 *   1. takes the (at most) W nodes of the list nearest the query that are
 *      not read yet; when there are none, the search is over;
 *   2. reads them ALL IN ONE CALL of io->read, one request per node: fd
 *      io->fd, offset ann_node_offset(id), length ANN_SECTOR, a buffer
 *      aligned to ANN_SECTOR;
 *   3. for each node read: checks it (ann_node_parse), computes its exact
 *      distance to the query (ann_dist on the vector it holds), and puts
 *      each of its neighbours not seen before in this query into the list
 *      (by estimated distance), keeping only the L best.
 *
 * Ties (two nodes at the same distance, rare with float distances) may be
 * ordered either way; the reference puts the smaller id first.
 *
 * A node is read at most once per query. The results are the k nodes
 * nearest the query by exact distance among all the nodes read, nearest
 * first: ids[0..r-1], and their squared distances in dists[0..r-1] when
 * dists is not NULL, where r = min(k, nodes read). *stats is filled when
 * stats is not NULL.
 *
 * Returns r, or a negated errno: -EINVAL when idx, io, io->read, query, p or
 * ids is NULL or p is out of range (k, L, W above); the error io->read
 * returned; the -errno a request's res carried; -EIO when a read came back
 * short or ann_node_parse refused the sector; -ENOMEM. On an error the
 * outputs are unspecified. Every path frees what the query allocated;
 * nothing is kept between calls.
 *
 * Reads go through io->read and nothing else: no pread, no read, no mmap.
 */
int ann_search(const struct ann_index *idx, const struct ann_io *io, const float *query,
	       const struct ann_params *p, uint32_t *ids, float *dists, struct ann_stats *stats);

/* ============================================ the exercise, second part */

struct io_uring;

/*
 * ann_search_uring - the same search (the same list, seen set, results,
 * stats and errors as ann_search), reading the nodes on io_uring directly,
 * with the reads pipelined instead of taken hop by hop.
 *
 * ann_search waits for a whole hop before it picks the next: the hop's
 * slowest read holds up the rest, and a freshly read node's neighbours wait
 * for all of its hop's reads. ann_search_uring keeps up to W reads in
 * flight all the time and picks a new node as soon as any read completes:
 *
 *   1. fill: while fewer than W reads are in flight and the list holds a
 *      candidate neither read nor in flight, take the nearest such and
 *      queue a read of its sector (IORING_OP_READ or READV of ANN_SECTOR
 *      bytes at ann_node_offset(id) on `fd`, into a buffer of its own,
 *      aligned to ANN_SECTOR); then submit what was queued, in one submit;
 *   2. when no read is in flight, the search is over;
 *   3. wait for a completion, and handle every completion that is ready:
 *      each read as ann_search's step 3 (check, score, offer the
 *      neighbours); then go back to 1.
 *
 * A node is still read at most once per query. stats->hops counts the
 * submits of step 1 that carried reads (a read submitted again after
 * -EAGAIN counts as one: a submit of it alone is a hop), stats->reads the
 * nodes read (a read submitted again is not a new read).
 *
 * The ring is the caller's: set up with at least W submission queue
 * entries, nothing queued, in flight or waiting to be reaped on entry. The
 * search uses it as it is: no io_uring_queue_init, no registered buffers or
 * files, no change to its set-up. On every return, success or error (but
 * see the last case below), the ring is as it was: nothing queued, nothing
 * in flight, no completion left unreaped.
 *
 * Completions and errors:
 *   - a completion with -EAGAIN: the same read is submitted again: queued
 *     again in its slot during step 3, and handed over by the next submit
 *     of step 1, with the reads that fill queues (the only submit of a
 *     round: none in step 3, while other completions wait to be handled);
 *   - -EINTR from a submit or a wait (a signal): call it again;
 *   - any other -errno in a completion, a read shorter than ANN_SECTOR
 *     (-EIO), a sector ann_node_parse refuses, -ENOMEM while the reads are
 *     in flight: the search's error. It queues nothing more, waits for
 *     every read still in flight (their buffers are the kernel's until
 *     then), and returns the first error;
 *   - a submit or a wait failing with anything else: that error is
 *     returned at once. The ring is then in an unknown state (the caller
 *     should exit it) and the buffers of the reads still in flight are not
 *     freed, since the kernel may still write into them (the rest of the
 *     query's state is).
 *
 * Returns r as ann_search, or a negated errno: -EINVAL as ann_search (ring
 * for io), or when the ring has fewer than p->W submission queue entries.
 * Reads go through the ring and nothing else.
 */
int ann_search_uring(const struct ann_index *idx, struct io_uring *ring, int fd,
		     const float *query, const struct ann_params *p, uint32_t *ids, float *dists,
		     struct ann_stats *stats);

#endif /* COURSE_ANN_H */
