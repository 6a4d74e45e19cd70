/*
 * search.c - chapter 11 exercise: the beam search's I/O loop.
 *
 * Read chapters/11-capstone/README.md first; the contract (what a hop
 * reads, in how many calls, what the results are, which errors come back)
 * is the ann_search comment in chapters/11-capstone/ann.h.
 * Grade your work with:   make check CH=11          (one test: T=11.NN)
 * Stuck on a test:        make hint T=11.NN  (the man page passage, then,
 *                         asked again, the shape of the fix in words)
 * Try it on a real index: make run CH=11 ARGS="search --n 20000"
 *
 * What is given (the course's code, annindex.c): the index in memory
 * (idx->h, the compressed vectors behind ann_approx_dist), ann_node_offset,
 * ann_node_parse and ann_dist. What you write is the walk: which nodes to
 * read next, reading them through io->read, and what to do with them.
 *
 * Rules (the grader enforces them): nodes are read through io->read only
 * (no pread, read or mmap: the reads are counted and the others refused);
 * one call of io->read per hop, with the hop's whole frontier; no node read
 * twice in a query; buffers, offsets and lengths multiples of ANN_SECTOR
 * (the file may be open with O_DIRECT); every allocation freed on every
 * path, errors included (they are counted); nothing kept between calls.
 *
 * A suggested shape (only the behaviour is graded):
 *
 *   ann_search   check the arguments                          (TODO 1)
 *                allocate the query's state                   (TODO 2)
 *                seed the list with the entry node            (TODO 3)
 *                hops until no unread candidate:
 *                  the frontier: W nearest not read yet       (TODO 4)
 *                  one io->read for all of it                 (TODO 5)
 *                  each node: check, score, offer neighbours  (TODO 6)
 *                the results, the stats                       (TODO 7)
 *                free everything, on every path               (TODO 8)
 *
 * The second part (README, "The next step: pipelining"):
 *
 *   ann_search_uring  arguments, the ring's size, the same state (TODO 9)
 *                     until nothing is in flight:
 *                       fill the free slots, one submit        (TODO 10)
 *                       wait; every completion ready:          (TODO 11)
 *                         -EAGAIN: the same read again,
 *                         else each node as in TODO 6
 *                     an error: stop filling, drain, return it (TODO 12)
 *                     -EINTR from a submit or a wait: again    (TODO 13)
 *
 * Replace each "return -ENOSYS" as you solve its TODO. Every int function
 * returns a count or 0, or -errno; never read or set errno for the caller.
 */
#define _GNU_SOURCE
#include "ann.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * TODO 1 (arguments): -EINVAL for a NULL idx, io, io->read, query, p or
 * ids, and for p out of range: 1 <= k <= ANN_MAX_K, k <= L <= ANN_MAX_L,
 * 1 <= W <= L. dists and stats may be NULL (then they are not written).
 * Check before allocating anything.
 *
 * TODO 2 (the query's state): everything one query needs, allocated per
 * call (ann_search keeps nothing between calls, so that threads can search
 * the same index at once):
 *  - the candidate list: at most L entries of (estimated distance, id,
 *    read yet?), kept nearest first;
 *  - which nodes this query has already seen: one bit per node
 *    (idx->h.n of them) is small and never wrong;
 *  - the k best nodes read so far, by exact distance;
 *  - W requests (struct batch_req, chapters/common/batch.h) and W sector
 *    buffers aligned to ANN_SECTOR: man 3 posix_memalign; man 2 open,
 *    "O_DIRECT", says why the alignment matters.
 * Any allocation failing: free what was made, return -ENOMEM.
 *
 * TODO 3 (start): the entry node idx->h.entry is the first candidate, with
 * its estimate ann_approx_dist(idx, query, entry), and it is seen.
 *
 * TODO 4 (the frontier): the (at most) W candidates nearest the query that
 * are not read yet. Mark them read as you take them. None left: the search
 * is over (every candidate of the list has been read).
 *
 * TODO 5 (one batch per hop): one request per frontier node (fd io->fd,
 * offset ann_node_offset(id), length ANN_SECTOR, its own aligned buffer)
 * and ONE call io->read(io->ctx, reqs, m) for the whole frontier. Reading
 * the nodes one call at a time gives the same answer and throws away what
 * this chapter is about: the reader can only keep in flight what it is
 * given at once (README, "What one hop costs"). A negative return is the
 * search's error.
 *
 * TODO 6 (each node read): its request's res first: -errno is the
 * search's error; fewer than ANN_SECTOR bytes is -EIO (the index file is
 * cut short). Then ann_node_parse (its error is the search's), the exact
 * distance ann_dist(query, vec, dim) into the k best, and each neighbour
 * not seen before into the candidate list by its estimate, the list kept
 * to the L nearest (the farthest falls off).
 *
 * TODO 7 (the answer): the k best by exact distance, nearest first, into
 * ids[] (and dists[] when not NULL); return how many (fewer than k only
 * when fewer nodes were read). *stats, when not NULL: hops = calls of
 * io->read, reads = nodes read.
 *
 * TODO 8 (free): every allocation of TODO 2, on every path out, the error
 * paths of TODOs 5 and 6 included.
 */
int ann_search(const struct ann_index *idx, const struct ann_io *io, const float *query,
	       const struct ann_params *p, uint32_t *ids, float *dists, struct ann_stats *stats)
{
	(void)idx;
	(void)io;
	(void)query;
	(void)p;
	(void)ids;
	(void)dists;
	(void)stats;
	return -ENOSYS;
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
int ann_search_uring(const struct ann_index *idx, struct io_uring *ring, int fd,
		     const float *query, const struct ann_params *p, uint32_t *ids, float *dists,
		     struct ann_stats *stats)
{
	(void)idx;
	(void)ring;
	(void)fd;
	(void)query;
	(void)p;
	(void)ids;
	(void)dists;
	(void)stats;
	return -ENOSYS;
}
