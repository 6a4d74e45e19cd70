/*
 * uecho.h - chapter 09, multishot requests and provided buffers: the
 * contract.
 *
 * An echo server on one io_uring, in one thread. Every byte a client sends
 * comes back to it on the same connection, in the same order. Three of
 * io_uring's features for network servers carry it:
 *
 *   multishot accept   one SQE for the listening socket; the kernel posts a
 *                      CQE for every connection it accepts, each with
 *                      IORING_CQE_F_MORE while the request stays armed;
 *   multishot receive  one SQE per connection; a CQE for every piece of
 *                      data that arrives, each in a buffer the kernel picked;
 *   a buffer ring      the buffers the kernel picks from, shared by every
 *                      connection (a provided-buffer ring, one buffer group):
 *                      a thousand idle connections cost no buffer at all.
 *
 *       listen fd --[accept, multishot]--> conn fd --[recv, multishot,
 *       buffer select]--> CQE: res bytes in buffer (flags >> 16)
 *       --> send those bytes from that buffer --> send CQE --> give the
 *       buffer back to the ring
 *
 * Every int function returns 0 (or a count) on success and a negated errno
 * value on failure. liburing returns -errno itself: never read errno after a
 * liburing call, and never return -1.
 *
 * Rules of the exercise (the grader counts and refuses calls through link
 * seams and watches every SQE the module submits)
 * ------------------------------------------------------------------------
 *  - All socket I/O goes through the ring: accept(2), accept4(2), recv(2),
 *    recvfrom(2), recvmsg(2), read(2), send(2), sendto(2), sendmsg(2),
 *    write(2), poll(2), select(2), epoll_wait(2) are not allowed. (The one
 *    exception: uecho_stop's 8-byte write(2) to the module's own eventfd.)
 *  - Connections are accepted by one multishot accept
 *    (io_uring_prep_multishot_accept). It is submitted again only when a CQE
 *    of it comes without IORING_CQE_F_MORE (the kernel ended it).
 *  - Data is received by one multishot receive per connection
 *    (io_uring_prep_recv_multishot with IOSQE_BUFFER_SELECT and the ring's
 *    buffer group). It is submitted again only after the kernel ended it
 *    (a CQE without IORING_CQE_F_MORE, -ENOBUFS included), and not while the
 *    ring has no buffer to give it (re-arming into an empty ring gives
 *    -ENOBUFS at once: a busy loop).
 *  - The buffer of a receive CQE is the one named by
 *    cqe->flags >> IORING_CQE_BUFFER_SHIFT, and only when
 *    IORING_CQE_F_BUFFER is set (an error or end-of-file CQE carries none).
 *    It is sent from where it lies (no copy into memory of the connection's
 *    own) and given back to the buffer ring only after the send that
 *    carries its last byte has completed. A send may complete short: send
 *    the rest.
 *  - Sends carry MSG_NOSIGNAL: a client that has gone away gives -EPIPE in
 *    the CQE, never a SIGPIPE. The module changes no signal disposition.
 *  - Sends of one connection leave in the order their bytes arrived: at most
 *    one send of a connection is in flight at a time (two in flight may
 *    complete, and be retried, out of order).
 *  - One connection that stops reading must not take every buffer: a
 *    connection seen to hold UECHO_HOLD_MAX(nbufs) buffers or more (received,
 *    not yet echoed) has its receive cancelled (io_uring_prep_cancel64), and it is
 *    armed again once the connection holds fewer. The other clients keep
 *    being served with the buffers left. "Seen" is the limit: the kernel
 *    fills buffers as data arrives, before the module sees a CQE, so one
 *    burst can overshoot the mark by many buffers (with a ring of a few
 *    buffers, take all of them); the promise holds when nbufs leaves room
 *    for that (the tests use 64 buffers or more for it).
 *  - The ring is an ordinary one: no IORING_SETUP_SQPOLL (the grader sees
 *    each SQE at the liburing call that submits it; a kernel thread taking
 *    them would hide them) and no IORING_SETUP_IOPOLL (sockets cannot be
 *    polled that way). SINGLE_ISSUER, COOP_TASKRUN, DEFER_TASKRUN are fine.
 *  - Only liburing 2.3 API (Debian 12); nothing newer. In particular
 *    io_uring_setup_buf_ring does not exist there: mmap the ring's memory,
 *    io_uring_buf_ring_init, then io_uring_register_buf_ring.
 *  - No threads of your own, no sleeping; the one place the module waits is
 *    the ring (io_uring_wait_cqe_timeout, io_uring_submit_and_wait_timeout,
 *    or their relatives).
 *  - Memory: no buffer of the module's own per connection. A connection's
 *    state is a small record (the grader measures the heap: under
 *    UECHO_CONN_BYTES_MAX bytes per idle connection).
 *  - Every descriptor the module opens (accepted sockets included:
 *    SOCK_CLOEXEC) is close-on-exec.
 */
#ifndef COURSE_UECHO_H
#define COURSE_UECHO_H

#include <stdint.h>

/* Defaults of struct uecho_config (a field left 0 takes its default). */
#define UECHO_DEFAULT_ENTRIES 256u   /* SQ entries of the ring */
#define UECHO_DEFAULT_NBUFS 256u     /* buffers in the buffer ring */
#define UECHO_DEFAULT_BUF_SIZE 4096u /* bytes per buffer */

/* Limits: nbufs is a power of two in [2, UECHO_MAX_NBUFS] (the kernel's ring
 * holds at most 32768 entries); buf_size is in [1, UECHO_MAX_BUF_SIZE];
 * entries in [1, UECHO_MAX_ENTRIES]. Anything else is -EINVAL. */
#define UECHO_MAX_NBUFS 32768u
#define UECHO_MAX_BUF_SIZE (1u << 20)
#define UECHO_MAX_ENTRIES 4096u

/* The buffers one connection may hold before its receive is paused: half
 * the ring. */
#define UECHO_HOLD_MAX(nbufs) ((nbufs) / 2u)

/* The heap an idle connection may cost the module, in bytes. */
#define UECHO_CONN_BYTES_MAX 512u

/* The buffer group id of the module's buffer ring. */
#define UECHO_BGID 0u

struct uecho_config {
	unsigned entries;  /* SQ entries (0: UECHO_DEFAULT_ENTRIES) */
	unsigned nbufs;    /* buffers in the ring (0: UECHO_DEFAULT_NBUFS) */
	unsigned buf_size; /* bytes per buffer (0: UECHO_DEFAULT_BUF_SIZE) */
};

/* What the server has done so far (uecho_stats). Counters only grow, except
 * conns_open and bufs_held, which say how things are now. */
struct uecho_stats {
	uint64_t accepted;       /* connections accepted (also those closed at
	                            once for lack of memory) */
	uint64_t closed;         /* connections closed (the client left, or failed;
	                            accepted - closed == conns_open) */
	uint64_t bytes_received; /* bytes the receive CQEs brought, all
	                            connections (also bytes of a client that
	                            failed before their echo; not bytes left in
	                            a socket whose receive was cancelled) */
	uint64_t bytes_sent;     /* bytes echoed back (completed sends) */
	uint64_t accept_armed;   /* multishot accepts submitted (1 + re-arms) */
	uint64_t recv_armed;     /* multishot receives submitted, all connections */
	uint64_t enobufs;        /* receive CQEs with -ENOBUFS (ring ran dry) */
	uint64_t paused;         /* receives cancelled because a connection held
	                            UECHO_HOLD_MAX buffers */
	uint64_t conns_open;     /* connections open now */
	uint64_t bufs_held;      /* buffers the module holds now: taken from the
	                            ring by a receive, not yet given back */
};

struct uecho;

/*
 * uecho_open - set up a server on a listening socket.
 *
 *  out        receives the server on success; untouched on failure.
 *  listen_fd  a SOCK_STREAM socket on which listen(2) has been called (TCP
 *             or unix). The caller keeps it: the module never closes it.
 *  cfg        sizes, or NULL for every default.
 *
 * Creates the ring (io_uring_queue_init with cfg->entries; no SQPOLL or
 * IOPOLL, see the rules above), the buffer ring (nbufs buffers of buf_size bytes,
 * every one given to the kernel, group UECHO_BGID) and whatever else the
 * implementation needs (the reference also has an eventfd for uecho_stop),
 * and submits the multishot accept. Accepts no connection itself: that
 * happens in uecho_run_once.
 *
 * Returns 0, or -errno with everything it made undone:
 *   -EINVAL    out NULL, listen_fd < 0, a size out of its range, listen_fd
 *              not listening or not SOCK_STREAM (a SOCK_SEQPACKET listener's
 *              messages would be cut to a buffer's size);
 *   -ENOTSOCK  not a socket;  -EBADF  not open;
 *   -ENOMEM    from the ring or the buffer ring (an ordinary user's
 *              RLIMIT_MEMLOCK: the lesson explains), or from malloc;
 *   -EPERM, -ENOSYS  io_uring refused on this machine (make doctor says why);
 *   -EOPNOTSUPP  the kernel lacks multishot receive (older than 6.0).
 */
int uecho_open(struct uecho **out, int listen_fd, const struct uecho_config *cfg);

/*
 * uecho_run_once - one turn of the event loop.
 *
 * Waits at most timeout_ms milliseconds (-1: no limit, 0: do not wait) for a
 * CQE, then handles every CQE there is (each seen exactly once, none left in
 * the CQ on return, -EINTR aside: see below): new connections get their receive, received bytes their
 * send, finished sends give their buffers back and send what is next, ended
 * multishots are re-armed as the rules above say, closed connections are
 * cleaned up. Submits what it prepared before it returns.
 *
 * Returns
 *   > 0         the number of CQEs handled;
 *   0           the timeout passed with no CQE. When every client is idle,
 *               nothing completes, so uecho_run_once(s, 0) returns 0: a
 *               request that completes again and again with nothing to do
 *               (a receive re-armed into an empty buffer ring) is a busy
 *               loop, and the tests look for exactly that;
 *   -EINTR      a signal interrupted the wait; nothing was lost, call again.
 *               This return alone may leave CQEs in the CQ (those that
 *               came while the signal was handled): the next call handles
 *               them. Every other return leaves none;
 *   -ECANCELED  uecho_stop has been called (returned at once, without
 *               waiting, by this and every later call); when uecho_stop
 *               runs in the handler of the signal that interrupts a
 *               turn's wait, that turn may return -EINTR or its count,
 *               and the next call says -ECANCELED;
 *   other -errno  the loop itself cannot go on (the ring failing, the
 *               listening socket failing: its accept ended with an error
 *               other than those a retry cures).
 * Errors of one client (it reset the connection, left mid-message) never
 * come back from here: they close that client.
 */
int uecho_run_once(struct uecho *s, int timeout_ms);

/*
 * uecho_run - serve until uecho_stop is called.
 *
 * Calls uecho_run_once(s, -1) again and again, going on after -EINTR.
 * Returns 0 once uecho_stop has been called, or the -errno of a failure of
 * the loop itself. A submit the kernel refuses for now (-EAGAIN, -EBUSY:
 * short of memory) is not one: its SQEs stay queued and a later turn
 * submits them.
 */
int uecho_run(struct uecho *s);

/*
 * uecho_stop - ask the loop to stop, from anywhere.
 *
 * Safe to call from a signal handler (it only stores a flag and writes to
 * an eventfd the ring watches, which wakes a thread waiting for CQEs) and
 * from another thread; leaves errno as it found it; harmless more than
 * once. Frees nothing: the owner calls uecho_close afterwards. NULL does
 * nothing.
 */
void uecho_stop(struct uecho *s);

/*
 * uecho_stats - copy the server's counters into *out. Either NULL: nothing.
 */
void uecho_stats(const struct uecho *s, struct uecho_stats *out);

/*
 * uecho_close - tear the server down.
 *
 * Cancels every request in flight and reaps every CQE until the kernel has
 * let go of every buffer (io_uring_queue_exit does not wait for requests in
 * flight), closes every client connection and every descriptor the module
 * opened, unregisters and frees the buffer ring, frees all memory. Does not
 * close listen_fd. NULL does nothing. Bytes not yet echoed are lost; the
 * clients see the connection close.
 *
 * A submit the kernel refuses (-EAGAIN, -EBUSY: short of memory) leaves
 * its SQEs queued: uecho_close submits them again while it waits, so a
 * refusal for a while (the tests: 300 ms) changes nothing of the above.
 * Only a kernel that never lets go within uecho_close's own bound (a few
 * seconds) may leave the memory it could still write mapped, rather than
 * freed under it.
 */
void uecho_close(struct uecho *s);

#endif
