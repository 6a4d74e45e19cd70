/*
 * evsrv.h - chapter 04: one thread serving network and disk.
 *
 * A small file server built on one epoll loop. Clients connect to a
 * listening socket and ask for byte ranges of one file; the server reads
 * them with Linux kernel AIO (libaio), learns about finished reads through
 * an eventfd that sits in the same epoll set as the sockets, and sends the
 * replies on non-blocking sockets. Nothing ever blocks except epoll_wait.
 *
 * The contract for the chapter's module. The reference implementation is
 * solutions/04-epoll-eventfd/evsrv.c, the learner's is
 * exercises/04-epoll-eventfd/evsrv.c; the program server.c (same directory)
 * wraps it in a command line, and the demo (chapters/04-epoll-eventfd/demo.c)
 * and the tests are linked with either. Link with -laio (Debian 12's libaio
 * has no pkg-config file).
 *
 * The wire protocol
 * -----------------
 * A connection carries any number of requests; all integers are 64 bits,
 * big-endian ("network byte order"), with no padding:
 *
 *     request, 16 bytes     +----------------+----------------+
 *                           | offset  (u64)  | length  (u64)  |
 *                           +----------------+----------------+
 *     reply, 8 + N bytes    +----------------+----------------------+
 *                           | status  (i64)  | N bytes of file data |
 *                           +----------------+----------------------+
 *
 *  status >= 0  N = status bytes of the file follow, the ones at
 *               [offset, offset + N). N == length, or fewer only because
 *               the file ends first (N == 0 when offset >= file size).
 *  status <  0  a negated errno value; no data follows:
 *                 -EINVAL  length > EVSRV_MAX_LEN, or offset + length
 *                          does not fit in a signed 64-bit file offset
 *                          (offset > INT64_MAX - length);
 *                 -ENOMEM  the server had no memory for the reply;
 *                 -EIO, …  the read failed (whatever the kernel said).
 *               A read that fails part way gives the error, never a
 *               partial count (a short count would claim end of file).
 *               A completion of -EINTR (the read was interrupted before
 *               any byte moved) is no failure: that read is submitted
 *               again.
 *  length == 0 is valid: status 0, no data.
 *
 * A request may arrive in pieces (any split of the 16 bytes). A client may
 * send several requests without waiting (pipelining): they are answered
 * one after the other, in the order they were sent, on that connection.
 * After any reply, errors included, the connection stays open for the next
 * request. The server closes a connection when the client closes it (a
 * request cut short by the close is dropped), or when the socket fails
 * (ECONNRESET, EPIPE, …); other clients never notice.
 *
 * Conventions
 * -----------
 *  - Every int-returning function returns 0 (or a count) on success and a
 *    negated errno value on failure, never errno. libaio's functions
 *    (io_setup, io_submit, io_getevents, io_destroy) return -errno
 *    themselves and leave errno alone: read their return value.
 *  - One thread runs the server: evsrv_open, evsrv_run_once, evsrv_run
 *    and evsrv_close are called from the same thread. Only evsrv_stop may
 *    be called from another thread or from a signal handler. Servers are
 *    independent: two of them may be run by two threads at once.
 *  - Every descriptor the module opens is close-on-exec.
 *
 * What the exercise allows (the tests count and refuse calls)
 * -----------------------------------------------------------
 *  - File data moves only through io_submit + io_getevents, and every iocb
 *    is tagged with io_set_eventfd(). pread, read, readv, preadv*, mmap,
 *    sendfile, splice and copy_file_range on the file are NOT allowed.
 *  - The one place the thread waits is epoll_wait (or epoll_pwait) on one
 *    epoll set holding the listening socket, the clients, the completion
 *    eventfd and the module's other descriptors. poll, select, sleep,
 *    usleep and nanosleep are not allowed; neither are threads.
 *    io_getevents is called only in a way that cannot block: min_nr == 0
 *    (and a zero timeout), after the eventfd said completions are there.
 *  - Client sockets are non-blocking; replies are sent with MSG_NOSIGNAL
 *    (send/sendmsg), so a client that has gone away gives EPIPE, never a
 *    SIGPIPE. The module does not change any signal disposition.
 *  - The file is opened with O_DIRECT (falling back to plain O_RDONLY only
 *    when open() says EINVAL, i.e. the filesystem has no direct I/O), so
 *    every read is issued with buffer address, offset and length aligned to
 *    EVSRV_ALIGN, and the bytes the client did not ask for are trimmed.
 *  - At most qd reads are in flight (submitted and not yet reaped). Other
 *    requests wait inside the server, in arrival order.
 *  - Back-off (io_submit said -EAGAIN with nothing in flight, or accept()
 *    ran out of descriptors) is done with a timer in the epoll set
 *    (timerfd) or the epoll_wait timeout, never by sleeping or spinning.
 *  - malloc, posix_memalign and friends are fine. Every allocation is
 *    checked: a reply whose buffer cannot be allocated has the status
 *    -ENOMEM; a client whose connection cannot be allocated, or whose
 *    socket epoll_ctl cannot add (ENOMEM, ENOSPC), is closed (or
 *    left in the backlog until memory is back).
 *    Nothing stays allocated for a client that has gone (once its read, if
 *    any, is back), nor after evsrv_close.
 *  - A send may take any part of a reply, even part of its header; EINTR
 *    from a send or a receive means "try again", not a broken connection.
 */
#ifndef COURSE_EVSRV_H
#define COURSE_EVSRV_H

#include <stdint.h>

/* Sizes of the two fixed parts of the protocol. */
#define EVSRV_REQ_SIZE 16u
#define EVSRV_HDR_SIZE 8u

/* Longest read one request may ask for: 1 MiB. Longer is -EINVAL. */
#define EVSRV_MAX_LEN (1u << 20)

/*
 * Alignment of every O_DIRECT read: buffer address, file offset and length
 * are multiples of 4096 (what chapter 02 uses; ext4 here accepts 512, 4096
 * works everywhere). A request for [offset, offset + length) is read as the
 * aligned window [offset rounded down, offset + length rounded up).
 */
#define EVSRV_ALIGN 4096u

/* A qd above this is treated as EVSRV_MAX_QD (io contexts are charged to
 * the machine-wide /proc/sys/fs/aio-max-nr). */
#define EVSRV_MAX_QD 4096u

struct evsrv;

/*
 * evsrv_open - set up a server for one file on one listening socket.
 *
 *  out        receives the server on success; untouched on failure.
 *  path       the file to serve: a regular file (or a block device),
 *             opened read-only with O_DIRECT as described above. Anything
 *             else (a directory, a FIFO, a socket) is -EINVAL.
 *  listen_fd  a SOCK_STREAM socket on which listen(2) has been called
 *             (TCP or unix). The caller keeps ownership: the module sets
 *             O_NONBLOCK on it (so accept can never block) and watches it,
 *             but never closes it; close it after evsrv_close.
 *  qd         how many reads may be in flight at once, >= 1 (see above).
 *
 * Creates the epoll set, the completion eventfd (counter mode,
 * non-blocking), the io context (io_setup(qd)) and whatever else the
 * implementation needs (the reference also has a stop eventfd and a
 * back-off timerfd). Accepts no connection yet: that happens in
 * evsrv_run_once.
 *
 * Returns 0, or -errno with everything it made undone, listen_fd's flags
 * included (if it set O_NONBLOCK on a blocking listen_fd before the failure,
 * it clears it again: the caller's socket is left as it came):
 *   -EINVAL    out or path NULL, listen_fd < 0, qd == 0, path not a
 *              regular file or block device, listen_fd not listening;
 *   -ENOTSOCK  listen_fd is not a socket;  -EBADF  it is not open;
 *   -ENOENT, -EACCES, …  from open(2);  -EAGAIN  from io_setup(2) when
 *   aio-max-nr is used up;  -ENOMEM, -EMFILE  resources.
 * With two things wrong, the first check in this order decides: out, path,
 * listen_fd < 0 and qd; then listen_fd itself; then the path; then what
 * is made (a missing file with a descriptor that is not open: -EBADF).
 */
int evsrv_open(struct evsrv **out, const char *path, int listen_fd,
	       unsigned qd);

/*
 * evsrv_run_once - one turn of the event loop.
 *
 * Waits at most timeout_ms milliseconds (-1: no limit, 0: do not wait) in
 * epoll_wait for something to be ready, then handles everything that was
 * reported: accepts new clients, reads request bytes, reaps finished reads
 * (read the eventfd's 8-byte counter, then io_getevents with min_nr == 0
 * until it returns fewer events than asked for), continues short reads,
 * sends replies as far as the sockets take them, and submits waiting reads
 * up to qd.
 *
 * Returns
 *   > 0         something was ready and has been handled;
 *   0           the timeout passed with nothing ready. In particular, when
 *               every client is idle or waiting for the disk, nothing is
 *               ready, so evsrv_run_once(s, 0) returns 0: a descriptor
 *               reported ready again and again with nothing to do (an
 *               eventfd not read, EPOLLOUT left on with nothing to send,
 *               EPOLLIN left on while a request is being served) is a
 *               busy loop, and the tests look for exactly that;
 *   -EINTR      a signal interrupted the wait; nothing was lost, call
 *               again;
 *   -ECANCELED  evsrv_stop has been called (returned at once, without
 *               waiting, by this and every later call);
 *   other -errno  the loop itself cannot go on (epoll_wait or io_getevents
 *               failing on the module's own descriptors, the listening
 *               socket closed behind the module's back: -EBADF, -EINVAL…).
 *               Whether a later call returns the same failure again is
 *               up to the module (only -ECANCELED is repeated by contract);
 *               the caller stops at the first.
 * Errors of one client (it hung up, reset the connection, asked for a bad
 * range) never come back from here: they close that client or become its
 * reply's status.
 */
int evsrv_run_once(struct evsrv *s, int timeout_ms);

/*
 * evsrv_run - serve until evsrv_stop is called.
 *
 * Calls evsrv_run_once(s, -1) again and again, going on after -EINTR.
 * Returns 0 once evsrv_stop has been called (-ECANCELED from
 * evsrv_run_once), or the -errno of a failure of the loop itself.
 */
int evsrv_run(struct evsrv *s);

/*
 * evsrv_stop - ask the loop to stop, from anywhere.
 *
 * Safe to call from a signal handler (async-signal-safe: it only stores a
 * flag and writes to an eventfd in the epoll set, which wakes a thread
 * blocked in epoll_wait) and from another thread; leaves errno as it found
 * it. Calling it more than once is harmless. It does not free anything:
 * the owner calls evsrv_close afterwards. s == NULL does nothing.
 */
void evsrv_stop(struct evsrv *s);

/*
 * evsrv_close - tear the server down.
 *
 * Waits for reads still in flight (io_destroy(2) does that, so no buffer is
 * freed while the kernel may still write into it), closes every client
 * connection and every descriptor the module opened, frees all memory.
 * Does not close listen_fd. s == NULL does nothing. Replies not yet sent
 * are lost; clients see the connection close.
 */
void evsrv_close(struct evsrv *s);

/*
 * Helpers for the protocol, for clients, tests and the server alike.
 * (Given, not part of the exercise.)
 */
static inline void evsrv_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t evsrv_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Fill the 16 bytes of a request. */
static inline void evsrv_encode_request(unsigned char out[EVSRV_REQ_SIZE],
					uint64_t offset, uint64_t length)
{
	evsrv_put_be64(out, offset);
	evsrv_put_be64(out + 8, length);
}

/* The status of a reply header: bytes that follow (>= 0) or -errno. */
static inline int64_t evsrv_decode_status(const unsigned char in[EVSRV_HDR_SIZE])
{
	return (int64_t)evsrv_get_be64(in);
}

#endif /* COURSE_EVSRV_H */
