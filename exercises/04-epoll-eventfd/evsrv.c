/*
 * evsrv.c - chapter 04 exercise: a file server on one epoll loop.
 *
 * Read chapters/04-epoll-eventfd/README.md first; the contract (the wire
 * protocol, what each function returns, what the tests count and refuse)
 * is in chapters/04-epoll-eventfd/evsrv.h.
 * Grade your work with:   make check CH=04
 * Try it in a real tool:  make run CH=04 ARGS="--clients 4 /var/tmp/ch04.dat"
 *                         (head -c 64M /dev/urandom > /var/tmp/ch04.dat first)
 *
 * Rules (the grader enforces them): the file is read only with io_submit +
 * io_getevents, every iocb tagged with io_set_eventfd; the one place the
 * thread waits is epoll_wait; io_getevents only as
 * io_getevents(ctx, 0, nr, events, &zero); no poll/select, no sleeping, no
 * threads; replies sent with MSG_NOSIGNAL; at most qd reads in flight.
 * libaio's functions return -errno and leave errno alone. Every function
 * here returns 0 (or a count) or -errno. Replace each "return -ENOSYS" as
 * you solve its TODO.
 *
 * A suggested shape (the lesson's "One thread, many states"; use it, change
 * it, or ignore it: only the behaviour is graded). One struct conn per
 * client; its epoll mask follows its state:
 *
 *   READ_REQ --16 bytes--> QUEUED --io_submit--> READING --reaped--> SENDING
 *   (EPOLLIN)              (mask 0)  ^           (mask 0)  |         (EPOLLOUT only
 *      ^                             +--- short read ------+          while stuck)
 *      +------------------------- reply fully sent ---------------------+
 *
 * and five kinds of descriptors in the epoll set, each with a pointer in
 * ev.data.ptr saying whose it is: the listener, the clients, the completion
 * eventfd, a "stop" eventfd, a back-off timerfd.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum conn_state { C_READ_REQ, C_QUEUED, C_READING, C_SENDING };

struct conn {
	int fd;                   /* the client's socket; -1 once closed  */
	bool gone;                /* client left: free when no read is out */
	enum conn_state state;
	uint32_t interest;        /* the epoll mask it has now             */

	unsigned char req[EVSRV_REQ_SIZE];
	size_t req_got;           /* request bytes received so far         */
	uint64_t offset, length;  /* the request being served              */

	struct iocb iocb;         /* iocb.data = this conn                 */
	unsigned char *buf;       /* EVSRV_ALIGN-aligned window buffer     */
	uint64_t win_start;       /* file offset of buf[0]                 */
	size_t win_len, done;     /* window size; bytes of it read so far  */

	unsigned char hdr[EVSRV_HDR_SIZE];
	size_t sent;              /* bytes of header + data sent so far    */

	struct conn *next;        /* whatever lists you need (all, queue)  */
};

struct evsrv {
	int epfd, file_fd, listen_fd;
	int done_efd;             /* every iocb's io_set_eventfd           */
	int wake_efd;             /* written by evsrv_stop                 */
	int timer_fd;             /* back-off                              */
	io_context_t ctx;
	unsigned qd, in_flight;
	struct conn *conns;       /* every connection                      */
	struct conn *queue;       /* reads waiting for a free slot         */
	atomic_int stopping;
};

/*
 * The pieces below are helpers you write yourself (static functions), called
 * from evsrv_run_once. Their TODO numbers are the lesson's.
 *
 * TODO 2 (accepting): when the listener is readable, accept4(listen_fd,
 *  NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) until it fails with EAGAIN (every
 *  descriptor of the module is close-on-exec); give each client a struct
 *  conn (no memory for it: close the socket, the client sees the close), add it to the epoll set with EPOLLIN
 *  (epoll_ctl failing, e.g. ENOSPC: close it and free the conn too) and
 *  ev.data.ptr = the conn. EMFILE/ENFILE/ENOBUFS/ENOMEM: the connection
 *  stays in the backlog and level-triggered epoll reports the listener again
 *  at once (a spin): stop watching it (EPOLL_CTL_MOD, events 0) and arm the
 *  back-off timer (timerfd_settime, ~10 ms, one-shot); watch it again when
 *  the timer fires. ECONNABORTED and friends: just try the next one.
 *  EBADF, EINVAL, ENOTSOCK: the listener itself is broken: a failure of
 *  the loop, evsrv_run_once returns -errno.
 *  man 2 accept, "ERRORS" and "NOTES".
 *
 * TODO 3 (a request, in pieces): on EPOLLIN, recv(fd, req + req_got,
 *  16 - req_got, 0) until you have 16 bytes (then TODO 4) or it fails with
 *  EAGAIN (the rest comes later: keep what you have). EINTR: try again.
 *  0 means the client closed: TODO 9; any other error (ECONNRESET, ...)
 *  means the connection is broken: TODO 9 too. man 2 recv.
 *
 * TODO 4 (starting a request): decode offset and length (evsrv_get_be64).
 *  length > EVSRV_MAX_LEN or offset > INT64_MAX - length: reply -EINVAL;
 *  length 0: reply status 0. Otherwise the aligned window: start = offset
 *  rounded down to EVSRV_ALIGN, end = offset + length rounded up, a buffer
 *  from posix_memalign(&buf, EVSRV_ALIGN, end - start) (it returns the
 *  error number itself, positive: -ENOMEM is the status if it fails).
 *  Offsets are 64-bit all the way (uint64_t; long long for io_prep_pread). Stop watching the socket (EPOLL_CTL_MOD, events 0)
 *  while the request is served, then queue the read. man 3 posix_memalign.
 *
 * TODO 5 (submitting): while reads are queued and in_flight < qd:
 *  io_prep_pread(&c->iocb, file_fd, buf + done, win_len - done,
 *  win_start + done); io_set_eventfd(&c->iocb, done_efd); c->iocb.data = c;
 *  then io_submit(ctx, n, list). It returns how many it took FROM THE
 *  FRONT: the others stay queued. -EAGAIN: later (arm the back-off timer,
 *  retry when it fires or a read completes; never sleep, never spin, never
 *  the client's status). Any other negative value is the error of list[0]
 *  alone: that request's status. man 2 io_submit.
 *
 * TODO 6 (the completion eventfd is readable): FIRST read its 8-byte
 *  counter (this resets it), THEN reap with
 *  io_getevents(ctx, 0, nr, events, &zero) (a zero struct timespec) until
 *  it returns fewer than nr. Reap-then-read loses a completion that lands
 *  in between. io_getevents failing (it returns -errno) is a failure of
 *  the loop itself: evsrv_run_once returns it. man 2 eventfd,
 *  man 2 io_getevents.
 *
 * TODO 7 (one completion): long res = (long)ev.res; the conn is ev.data.
 *  The client left: its read is done all the same (in flight - 1, its
 *  qd slot is free again), then free it now (TODO 9). res == -EINTR: queue the same
 *  piece again. res < 0: reply with res as the status. Otherwise done +=
 *  res; reply the slice [offset - win_start, + length) cut at done when res
 *  is 0 (end of file), the window is full, or (O_DIRECT) done is not a
 *  multiple of EVSRV_ALIGN (only end of file does that); else queue the
 *  rest of the window.
 *
 * TODO 8 (sending): header (evsrv_put_be64 of the status) and data in one
 *  sendmsg(fd, &msg, MSG_NOSIGNAL) with two iovecs, from where you got to.
 *  A short count is normal, even inside the 8-byte header: remember it
 *  and go on. EINTR: try again. EAGAIN: ask for
 *  EPOLLOUT (EPOLL_CTL_MOD) and continue when it comes. Done: free the
 *  buffer, back to READ_REQ with EPOLLIN. EPIPE/ECONNRESET or any other
 *  error: TODO 9 (close it; never leave it waiting).
 *  man 2 send, man 2 sendmsg.
 *
 * TODO 9 (a client that leaves): recv 0, EPIPE/ECONNRESET, or
 *  EPOLLHUP/EPOLLERR, which epoll reports in every state, even with a mask
 *  of 0 (ignored, level-triggered epoll reports them again and again):
 *  EPOLL_CTL_DEL and close its socket now;
 *  free the conn (and its buffer) only when no read of it is queued or in
 *  flight: otherwise when that read comes back (TODO 7), or, if it is
 *  still queued, when the queue reaches it (drop it there and submit the
 *  next: a gone client must not block the queue). Never free a conn
 *  in the middle of a batch of epoll events (a later event may point at it):
 *  collect them and free them at the end of evsrv_run_once.
 */

int evsrv_open(struct evsrv **out, const char *path, int listen_fd, unsigned qd)
{
	/*
	 * TODO 1: set up the server.
	 *  - out or path NULL, listen_fd < 0, qd 0: -EINVAL; a qd above
	 *    EVSRV_MAX_QD is capped at EVSRV_MAX_QD (io_setup would refuse it);
	 *  - listen_fd must be a listening socket: getsockopt(listen_fd,
	 *    SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) fails with EBADF or
	 *    ENOTSOCK (return -errno), and yes == 0 means -EINVAL (socket(7));
	 *  - stat(path) first: a regular file or a block device, else -EINVAL
	 *    (open(2) of a FIFO would wait for a writer); then
	 *    open(path, O_RDONLY | O_DIRECT | O_CLOEXEC), and only if that says
	 *    EINVAL (no direct I/O here) again without O_DIRECT (open(2));
	 *  - epoll_create1(EPOLL_CLOEXEC); eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
	 *    twice (completions, stop); timerfd_create(CLOCK_MONOTONIC,
	 *    TFD_NONBLOCK | TFD_CLOEXEC): check each one (-1: return -errno,
	 *    e.g. -EMFILE when descriptors run out); io_setup(qd, &ctx) with ctx = 0 first
	 *    (it returns -errno itself: -EAGAIN when fs.aio-max-nr is used up);
	 *  - fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK); epoll_ctl(ADD) the
	 *    listener, the two eventfds and the timer, EPOLLIN each, ev.data.ptr
	 *    telling them apart (e.g. &s->done_efd);
	 *  - any failure (any epoll_ctl, any allocation): undo everything made
	 *    so far (io_destroy, close, free;
	 *    never close listen_fd) and return the -errno; *out is set only on
	 *    success.
	 *  man 2 epoll_create, eventfd, timerfd_create, io_setup, fcntl, epoll_ctl.
	 */
	(void)out;
	(void)path;
	(void)listen_fd;
	(void)qd;
	return -ENOSYS;
}

int evsrv_run_once(struct evsrv *s, int timeout_ms)
{
	/*
	 * TODO 10 (the loop): one turn.
	 *  - the stop flag already set: return -ECANCELED without waiting;
	 *  - n = epoll_wait(epfd, events, max, timeout_ms); -1 with EINTR:
	 *    return -EINTR (a signal; nothing lost); other errors: -errno;
	 *  - handle each event by its ev.data.ptr: the listener (TODO 2), the
	 *    completion eventfd (TODO 6), the stop eventfd (read its counter),
	 *    the timer (read it; resume the listener, retry queued reads), a
	 *    client (EPOLLHUP/EPOLLERR: TODO 9; EPOLLIN: TODO 3; EPOLLOUT:
	 *    TODO 8);
	 *  - then submit queued reads (TODO 5), free the conns that left
	 *    (TODO 9);
	 *  - return -ECANCELED if the flag is set now, else n (0: the timeout
	 *    passed with nothing ready). With every client idle or waiting for
	 *    the disk, nothing may be ready: evsrv_run_once(s, 0) must return
	 *    0 (read the eventfd; EPOLLOUT only while a reply is stuck; mask 0
	 *    while a request is served). man 2 epoll_wait.
	 */
	(void)s;
	(void)timeout_ms;
	return -ENOSYS;
}

int evsrv_run(struct evsrv *s)
{
	/*
	 * TODO 10: evsrv_run_once(s, -1) again and again; -EINTR: go on;
	 * -ECANCELED: return 0; any other negative value: return it.
	 */
	(void)s;
	return -ENOSYS;
}

void evsrv_stop(struct evsrv *s)
{
	/*
	 * TODO 10: may run in a signal handler or another thread. s == NULL:
	 * nothing. Save errno; set the atomic stop flag; write(wake_efd, &one,
	 * 8) so that a thread asleep in epoll_wait wakes up (a flag alone is
	 * not seen until something else happens); restore errno.
	 * man 7 signal-safety.
	 */
	(void)s;
}

void evsrv_close(struct evsrv *s)
{
	/*
	 * TODO 11: s == NULL: nothing. io_destroy(ctx) FIRST: it waits for
	 * reads still in flight, so their buffers may be freed afterwards.
	 * Then close every client socket and free every conn and buffer, close
	 * the timer, both eventfds, the epoll set and the file; free s. Never
	 * close listen_fd: it belongs to the caller. man 2 io_destroy.
	 */
	(void)s;
}
