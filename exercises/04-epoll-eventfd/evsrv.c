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
 * Rules (the grader enforces them; the full list is the lesson's "The
 * exercise"): the file is read only through libaio, every request tagged
 * so that its completion bumps an eventfd; the one place the thread waits
 * is epoll_wait (collecting completions must never wait); no poll/select,
 * no sleeping, no threads; no send may raise SIGPIPE; at most qd reads in
 * flight. libaio's functions return -errno and leave errno alone. Every
 * function here returns 0 (or a count) or -errno. Replace each
 * "return -ENOSYS" as you solve its TODO; the lesson's "Steps" section
 * says which TODOs to do first and which tests grade each step.
 * A failing test names the TODO and a lesson section; deeper hints for
 * each test (the man page passage, then the shape of the fix in words)
 * come with `make hint T=04.NN`, one level per call.
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
 * TODO 2 (accepting): when the listener is readable, take on every client
 *  that is waiting, not just one (a readiness report can stand for many).
 *  Each accepted socket must be non-blocking and close-on-exec from the
 *  moment it exists (04.32), and gets its own connection state, watched
 *  for its first request. Decide for each failure of accept whose problem
 *  it is: nothing left to accept; a connection that died in the backlog
 *  (try the next); the process out of descriptors or memory (the
 *  connection stays in the backlog, the listener stays readable: a
 *  level-triggered loop would spin, so pause the listener and resume it
 *  on the back-off timer, pitfall 16); a broken listener (a failure of the
 *  loop, pitfall 31). A client you cannot allocate or cannot add to the
 *  epoll set can never be served: close it (pitfall 32).
 *  man 2 accept ("ERRORS", "NOTES"), man 2 timerfd_create.
 *
 * TODO 3 (a request, in pieces): goal: a connection's 16-byte request,
 *  gathered from as many receives as it takes, handed to TODO 4 once it is
 *  whole. Contract: evsrv.h, "The wire protocol" and "What the exercise
 *  allows" (EINTR is never the client's fault; any other failure of a
 *  receive, and the peer's orderly shutdown, end the connection). man 2 recv.
 *
 * TODO 4 (starting a request): decode the request (evsrv.h has helpers)
 *  and decide what it needs: an invalid request (too long, or a range whose
 *  end does not fit a signed 64-bit offset: write that test so that it
 *  cannot overflow itself) and length 0 are answered at once, without the
 *  disk. Anything else is read as the block-aligned window that covers it,
 *  because O_DIRECT refuses unaligned offsets, lengths and buffers
 *  (pitfall 12), into a buffer aligned the same way. posix_memalign reports
 *  failure differently from malloc (pitfall 28). 64-bit offsets all the way
 *  (pitfall 26). While the request is served the socket must not be
 *  watched (pitfall 8); then the read waits for a slot (TODO 5).
 *  man 3 posix_memalign, man 2 open ("O_DIRECT").
 *
 * TODO 5 (submitting): move reads from the waiting queue to the disk, in
 *  arrival order, never more than qd in flight (pitfall 15). Each iocb
 *  reads the part of the window not read yet, says whose it is (so its
 *  completion can find the connection) and is tagged with the completion
 *  eventfd (libaio.h, io_set_eventfd; otherwise nothing wakes the loop).
 *  Read io_submit(2)'s "RETURN VALUE" and "ERRORS" closely: it may take
 *  fewer than offered, from the front; -EAGAIN means "later" (back off on
 *  a timer or wait for a completion: never sleep, never spin, never the
 *  client's status); any other error belongs to the first iocb alone
 *  (pitfalls 14, 24). A client that left while queued is dropped here
 *  (pitfall 33). man 2 io_submit.
 *
 * TODO 6 (the completion eventfd is readable): clear its counter, then
 *  collect every finished read from the io context without ever waiting,
 *  until the context has nothing more to give. The order of those two
 *  steps matters (pitfall 3), and so does not stopping after one batch
 *  (pitfalls 1, 2). A failure to collect is a failure of the loop
 *  (pitfall 31). man 2 eventfd, man 2 io_getevents (min_nr, timeout).
 *
 * TODO 7 (one completion): the event says whose read it was and its result
 *  (a byte count or a negated errno; mind the type of res in libaio.h).
 *  The read is done either way: its slot is free. A gone client is freed
 *  now (TODO 9). -EINTR: nothing was read, read the same piece again. Any
 *  other error is the reply's status, even after earlier bytes. A byte
 *  count either completes the window, reveals the end of the file (how does
 *  a direct read tell you that? pitfall 13, "Which reads libaio really
 *  does in the background"), or leaves the rest of the window to read.
 *
 * TODO 8 (sending): the reply is an 8-byte header and the client's slice of
 *  the window, sent together, from wherever the previous send stopped
 *  (even inside the header). A non-blocking socket takes what fits:
 *  remember how far you got, and when it takes nothing, let epoll tell you
 *  when it can take more; once the reply is out, stop asking (pitfalls
 *  5-7). No send may raise SIGPIPE (pitfall 9). EINTR is not the client's
 *  fault; any other failure ends the connection (TODO 9).
 *  man 2 send, man 2 sendmsg.
 *
 * TODO 9 (a client that leaves): it leaves by an orderly shutdown, a failed
 *  receive or send, or EPOLLHUP/EPOLLERR, which epoll reports in every
 *  state, even with a mask of 0 (pitfall 21). Its socket goes at once; its
 *  memory only when nothing of it is still queued or in flight, since the
 *  kernel may still write into its buffer and the completion points at it
 *  (pitfalls 10, 22, 33). Freeing in the middle of a batch of epoll events
 *  is unsafe: a later event of the batch may point at it.
 *  man 7 epoll (Q6), man 2 epoll_ctl ("EPOLLHUP").
 */

int evsrv_open(struct evsrv **out, const char *path, int listen_fd, unsigned qd)
{
	/*
	 * TODO 1: set up everything the loop will need, or nothing at all.
	 *  - Refuse what evsrv.h refuses before making anything (its order of
	 *    checks, its error numbers); qd above EVSRV_MAX_QD is capped, not
	 *    refused (04.39). Is listen_fd really a listening socket? socket(7)
	 *    has a read-only option that says so. Look at what path is before
	 *    opening it: opening a FIFO would wait for a writer (fifo(7));
	 *    and at what you opened after (the path may have been replaced).
	 *  - The file: direct I/O, so that io_submit does not do the read
	 *    itself (lesson: "Which reads libaio really does in the
	 *    background"); plain only when open(2) says the filesystem cannot.
	 *  - The descriptors the loop waits on (lesson: "Everything the loop
	 *    waits for is a file descriptor"): the epoll set, an eventfd for
	 *    completions, one for evsrv_stop, a timerfd for back-off; each
	 *    non-blocking where it is read, each close-on-exec (04.32). The
	 *    io context sized for qd. The listener made non-blocking: accept
	 *    must never wait. Everything in the set, tagged so that an event
	 *    says whose descriptor it is.
	 *  - Any step may fail (descriptors run out, memory, epoll_ctl,
	 *    io_setup, which returns -errno itself): undo exactly what was made,
	 *    never close listen_fd (the caller's), return the -errno; *out is
	 *    written only on success (pitfalls 18, 30).
	 *  man 7 socket, man 2 open, epoll_create, eventfd, timerfd_create,
	 *  io_setup, fcntl, epoll_ctl.
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
	 * TODO 10 (the loop): one turn: wait once (at most timeout_ms), handle
	 *  what is ready, start what can be started, free what left, and say
	 *  how it went.
	 *  - Return values are the contract's (evsrv.h, evsrv_run_once): a stop
	 *    requested before or during the turn, a wait interrupted by a signal
	 *    (never restarted, signal(7)), a failure of the loop itself
	 *    (pitfall 31), or the number of events handled (0: the time ran out).
	 *  - Every ready descriptor is dispatched by the tag you gave it: the
	 *    listener (TODO 2), the completion eventfd (TODO 6), the stop
	 *    eventfd and the timer (both must be read, or they stay ready:
	 *    pitfall 23), a client (TODOs 3, 8, 9).
	 *  - The idle test: with every client idle or waiting for the disk,
	 *    evsrv_run_once(s, 0) must return 0 (04.20, 04.21). Check your masks
	 *    against the lesson's state diagram. man 2 epoll_wait.
	 */
	(void)s;
	(void)timeout_ms;
	return -ENOSYS;
}

int evsrv_run(struct evsrv *s)
{
	/*
	 * TODO 10: serve until stopped, sleeping in epoll_wait whenever nothing
	 * happens (pitfall 19): the thread must never go round without a reason.
	 * Which results of evsrv_run_once mean "go on", "stopped" (return 0)
	 * and "failed" (return it)? evsrv.h says.
	 */
	(void)s;
	return -ENOSYS;
}

void evsrv_stop(struct evsrv *s)
{
	/*
	 * TODO 10: ask the loop to stop, and wake it if it is asleep in
	 * epoll_wait with no time limit: a flag alone is not seen until
	 * something else happens (pitfall 17). It may run in a signal handler or
	 * another thread, so it may only use async-signal-safe calls and must
	 * leave errno as it found it. s == NULL: nothing.
	 * man 7 signal-safety, man 2 eventfd.
	 */
	(void)s;
}

void evsrv_close(struct evsrv *s)
{
	/*
	 * TODO 11: goal: nothing of the server left: no descriptor it made, no
	 * io context, no heap block, even with clients connected and reads in
	 * flight; clients see their connection close. Contract: evsrv.h,
	 * evsrv_close (s == NULL is allowed; listen_fd is the caller's and stays
	 * open). Think about what the kernel may still be writing when you are
	 * called. man 2 io_destroy.
	 */
	(void)s;
}
