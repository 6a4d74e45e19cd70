/*
 * evsrv.c - chapter 04 reference: a file server on one epoll loop.
 *
 * One thread, one epoll set, five kinds of descriptors in it:
 *
 *     listen_fd  ----+
 *     clients   -----+
 *     done_efd  -----+--> epoll_wait --> handle each ready one --> submit
 *     wake_efd  -----+                                             reads
 *     timer_fd  -----+
 *
 * done_efd is the eventfd every iocb is tagged with (io_set_eventfd): the
 * kernel adds 1 to it per finished read, which makes it readable, which is
 * how disk completions reach epoll. wake_efd is written by evsrv_stop
 * (signal handler or other thread). timer_fd is the back-off timer.
 *
 * A client connection goes round this cycle, one request at a time:
 *
 *   READ_REQ --16 bytes--> QUEUED --io_submit--> READING --reaped--> SENDING
 *      ^                     ^                      |                   |
 *      |                     +--- short read -------+                   |
 *      +------------------------- reply fully sent ---------------------+
 *
 * and the epoll interest follows the state: EPOLLIN only in READ_REQ,
 * EPOLLOUT only while a reply is stuck in SENDING, nothing otherwise
 * (EPOLLHUP and EPOLLERR are reported regardless). Level-triggered epoll
 * then never reports a descriptor we have nothing to do with.
 *
 * Memory rules: a connection whose read is queued or in flight is not
 * freed when its client goes away (the kernel may still write into its
 * buffer and the completion points at it); it is marked gone and freed when
 * the read comes back. Nothing is freed in the middle of handling a batch
 * of epoll events (a later event of the same batch may point at it):
 * connections to free go to a list emptied at the end of evsrv_run_once.
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

/* How many epoll events, io_events and iocbs we handle per call. Only a
 * batch size: more work is simply picked up by the next call. */
#define EV_BATCH 64
/* Accepts per wake-up of the listener, so a flood of connections cannot
 * starve the clients already connected (level-triggered: the rest are
 * reported again on the next turn). */
#define ACCEPT_BATCH 64
/* Back-off when the kernel is out of something (aio slots, descriptors). */
#define BACKOFF_NS (10 * 1000 * 1000L)
/* Largest offset a window may end at: INT64_MAX rounded down to EVSRV_ALIGN. */
#define MAX_WINDOW_END ((uint64_t)INT64_MAX & ~(uint64_t)(EVSRV_ALIGN - 1))

enum conn_state {
	C_READ_REQ, /* assembling the next 16-byte request          */
	C_QUEUED,   /* read ready to go, waiting for a free slot    */
	C_READING,  /* iocb submitted, completion not yet reaped     */
	C_SENDING,  /* reply (header + data) going out               */
};

struct conn {
	struct conn *prev, *next; /* every allocated connection        */
	struct conn *qnext;       /* the submit queue (C_QUEUED)       */
	struct conn *dead_next;   /* the free-at-end-of-turn list      */
	int fd;                   /* -1 once closed                    */
	bool gone;                /* client gone; free when idle       */
	enum conn_state state;
	uint32_t interest;        /* what epoll watches for now        */

	unsigned char req[EVSRV_REQ_SIZE];
	size_t req_got;
	uint64_t offset, length;  /* the request being served          */

	struct iocb iocb;
	unsigned char *buf;       /* EVSRV_ALIGN-aligned window buffer */
	uint64_t win_start;       /* file offset of buf[0]             */
	size_t win_len;           /* bytes in the window               */
	size_t done;              /* window bytes read so far          */

	unsigned char hdr[EVSRV_HDR_SIZE];
	const unsigned char *body; /* reply data (inside buf) or NULL  */
	size_t body_len;
	size_t sent;              /* bytes of hdr + body sent          */
};

struct evsrv {
	int epfd;
	int file_fd;
	int listen_fd;
	int done_efd;  /* aio completions: one count per finished iocb */
	int wake_efd;  /* evsrv_stop                                   */
	int timer_fd;  /* back-off                                     */
	bool direct;   /* file_fd has O_DIRECT                         */
	bool listen_paused;
	bool timer_armed;
	io_context_t ctx;
	unsigned qd;
	unsigned in_flight;
	struct conn *conns;
	struct conn *q_head, *q_tail;
	struct conn *dead;
	atomic_int stopping;
};

/* ---------------------------------------------------------------- helpers */

static int epoll_set(struct evsrv *s, int op, int fd, void *tag, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	if (epoll_ctl(s->epfd, op, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Read an eventfd or timerfd counter; 0 if there was nothing (EAGAIN). */
static uint64_t read_counter(int fd)
{
	uint64_t v;
	ssize_t n;

	do
		n = read(fd, &v, sizeof v);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof v ? v : 0;
}

static void arm_backoff(struct evsrv *s)
{
	struct itimerspec its = { .it_value = { 0, BACKOFF_NS } };

	if (s->timer_armed)
		return;
	/* A one-shot timer; it cannot fail with valid arguments. */
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) == 0)
		s->timer_armed = true;
}

/* ------------------------------------------------------------ connections */

static int conn_watch(struct evsrv *s, struct conn *c, uint32_t events)
{
	int r;

	if (c->interest == events)
		return 0;
	r = epoll_set(s, EPOLL_CTL_MOD, c->fd, c, events);
	if (r == 0)
		c->interest = events;
	return r;
}

static void conn_free(struct evsrv *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

/* Free it at the end of this turn, when no event of the batch can still
 * refer to it. */
static void conn_bury(struct evsrv *s, struct conn *c)
{
	c->dead_next = s->dead;
	s->dead = c;
}

/*
 * The client is gone (or its socket failed). Close the socket now, so it
 * leaves the epoll set and the peer sees the close; the memory goes when
 * no read of ours refers to it any more.
 */
static void conn_drop(struct evsrv *s, struct conn *c)
{
	if (c->gone)
		return;
	c->gone = true;
	/* Closing removes it from the epoll set only if no other descriptor
	 * (a dup, a forked child) shares the open file: say it explicitly. */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->state != C_QUEUED && c->state != C_READING)
		conn_bury(s, c);
	/* else: the submit queue or the completion will bury it. */
}

static void enqueue_read(struct evsrv *s, struct conn *c)
{
	c->state = C_QUEUED;
	c->qnext = NULL;
	if (s->q_tail)
		s->q_tail->qnext = c;
	else
		s->q_head = c;
	s->q_tail = c;
}

static struct conn *dequeue_read(struct evsrv *s)
{
	struct conn *c = s->q_head;

	if (c) {
		s->q_head = c->qnext;
		if (!s->q_head)
			s->q_tail = NULL;
		c->qnext = NULL;
	}
	return c;
}

/* ----------------------------------------------------------------- replies */

static void finish_reply(struct evsrv *s, struct conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->body = NULL;
	c->body_len = 0;
	c->req_got = 0;
	c->state = C_READ_REQ;
	/* Back to listening for the next request. If the client pipelined one,
	 * level-triggered epoll reports it on the next turn. */
	if (conn_watch(s, c, EPOLLIN) < 0)
		conn_drop(s, c);
}

/*
 * Send as much of header + body as the socket takes. A short count is
 * normal on a non-blocking socket: remember how far we got and ask epoll
 * for EPOLLOUT. MSG_NOSIGNAL turns "client gone" into EPIPE instead of a
 * SIGPIPE that would kill the whole server.
 */
static void send_some(struct evsrv *s, struct conn *c)
{
	size_t total = EVSRV_HDR_SIZE + c->body_len;

	while (c->sent < total) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov };
		ssize_t n;

		if (c->sent < EVSRV_HDR_SIZE) {
			iov[0].iov_base = c->hdr + c->sent;
			iov[0].iov_len = EVSRV_HDR_SIZE - c->sent;
			iov[1].iov_base = (void *)c->body;
			iov[1].iov_len = c->body_len;
			msg.msg_iovlen = c->body_len ? 2 : 1;
		} else {
			size_t off = c->sent - EVSRV_HDR_SIZE;

			iov[0].iov_base = (void *)(c->body + off);
			iov[0].iov_len = c->body_len - off;
			msg.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (conn_watch(s, c, EPOLLOUT) < 0)
					conn_drop(s, c);
				return;
			}
			conn_drop(s, c); /* EPIPE, ECONNRESET, ... */
			return;
		}
		c->sent += (size_t)n;
	}
	finish_reply(s, c);
}

static void start_reply(struct evsrv *s, struct conn *c, int64_t status,
			const unsigned char *body, size_t body_len)
{
	evsrv_put_be64(c->hdr, (uint64_t)status);
	c->body = body;
	c->body_len = body_len;
	c->sent = 0;
	c->state = C_SENDING;
	/* Try at once: usually the socket has room and no epoll round trip is
	 * needed. send_some asks for EPOLLOUT if it does not. */
	send_some(s, c);
}

static void reply_error(struct evsrv *s, struct conn *c, int err)
{
	start_reply(s, c, err, NULL, 0);
}

/* The window has been read (done bytes of it): send the part asked for. */
static void reply_data(struct evsrv *s, struct conn *c)
{
	size_t skip = (size_t)(c->offset - c->win_start);
	size_t n = 0;

	if (c->done > skip) {
		n = c->done - skip;
		if (n > c->length)
			n = (size_t)c->length;
	}
	start_reply(s, c, (int64_t)n, c->buf + skip, n);
}

/* ---------------------------------------------------------------- requests */

/* 16 bytes are in: check them, then queue the read (or answer at once). */
static void start_request(struct evsrv *s, struct conn *c)
{
	uint64_t end, start, stop;
	void *buf;
	int r;

	c->offset = evsrv_get_be64(c->req);
	c->length = evsrv_get_be64(c->req + 8);
	if (c->length > EVSRV_MAX_LEN || c->offset > (uint64_t)INT64_MAX - c->length) {
		reply_error(s, c, -EINVAL);
		return;
	}
	if (c->length == 0) {
		start_reply(s, c, 0, NULL, 0);
		return;
	}
	/* The aligned window around [offset, end). Near the very top of the
	 * offset range the window is cut at MAX_WINDOW_END: nothing is stored
	 * that far out (the read would say 0 bytes anyway). */
	end = c->offset + c->length;
	start = c->offset & ~(uint64_t)(EVSRV_ALIGN - 1);
	stop = end > MAX_WINDOW_END ? MAX_WINDOW_END
				    : (end + EVSRV_ALIGN - 1) & ~(uint64_t)(EVSRV_ALIGN - 1);
	if (stop <= start) {
		start_reply(s, c, 0, NULL, 0);
		return;
	}
	r = posix_memalign(&buf, EVSRV_ALIGN, (size_t)(stop - start));
	if (r != 0) {
		reply_error(s, c, -r);
		return;
	}
	c->buf = buf;
	c->win_start = start;
	c->win_len = (size_t)(stop - start);
	c->done = 0;
	/* Stop reading this socket while the request is served: pipelined
	 * requests wait in the kernel's buffer (back-pressure), and
	 * level-triggered epoll does not keep reporting them. */
	if (conn_watch(s, c, 0) < 0) {
		conn_drop(s, c);
		return;
	}
	enqueue_read(s, c);
}

/* EPOLLIN on a client: collect request bytes, which may come in pieces. */
static void on_readable(struct evsrv *s, struct conn *c)
{
	while (c->req_got < EVSRV_REQ_SIZE) {
		ssize_t n = recv(c->fd, c->req + c->req_got,
				 EVSRV_REQ_SIZE - c->req_got, 0);

		if (n > 0) {
			c->req_got += (size_t)n;
			continue;
		}
		if (n == 0) { /* client closed; a partial request is dropped */
			conn_drop(s, c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_drop(s, c);
		return; /* EAGAIN: the rest comes later */
	}
	start_request(s, c);
}

static void on_client(struct evsrv *s, struct conn *c, uint32_t events)
{
	if (c->gone)
		return; /* dropped earlier in this batch */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_drop(s, c);
		return;
	}
	if ((events & EPOLLIN) && c->state == C_READ_REQ)
		on_readable(s, c);
	else if ((events & EPOLLOUT) && c->state == C_SENDING)
		send_some(s, c);
}

/* ---------------------------------------------------------------- accept */

static void add_client(struct evsrv *s, int fd)
{
	struct conn *c = calloc(1, sizeof *c);

	if (!c) {
		close(fd); /* cannot serve it: the client sees the close */
		return;
	}
	c->fd = fd;
	c->state = C_READ_REQ;
	if (epoll_set(s, EPOLL_CTL_ADD, fd, c, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->interest = EPOLLIN;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
}

static int on_listener(struct evsrv *s)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			add_client(s, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return 0;
		case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
			/* The connection stays in the backlog and the listener
			 * stays readable: with level-triggered epoll that is a
			 * busy loop. Stop watching it; the timer resumes it. */
			if (epoll_set(s, EPOLL_CTL_MOD, s->listen_fd,
				      &s->listen_fd, 0) == 0)
				s->listen_paused = true;
			arm_backoff(s);
			return 0;
		case EBADF: case EINVAL: case ENOTSOCK: case EFAULT:
			return -errno; /* the listener itself is broken */
		default:
			/* ECONNABORTED, EINTR, EPROTO, network errors (accept(2)
			 * NOTES): that connection is lost; try the next one. */
			continue;
		}
	}
	return 0;
}

static void on_timer(struct evsrv *s)
{
	read_counter(s->timer_fd);
	s->timer_armed = false;
	if (s->listen_paused &&
	    epoll_set(s, EPOLL_CTL_MOD, s->listen_fd, &s->listen_fd, EPOLLIN) == 0)
		s->listen_paused = false;
	/* Queued reads are retried by submit_reads at the end of the turn. */
}

/* ------------------------------------------------------------------- disk */

/* One finished iocb: continue it, or turn it into a reply. */
static void on_completion(struct evsrv *s, struct conn *c, long res)
{
	s->in_flight--;
	if (c->gone) {
		conn_bury(s, c);
		return;
	}
	if (res == -EINTR) { /* interrupted before any byte: same piece again */
		enqueue_read(s, c);
		return;
	}
	if (res < 0) {
		reply_error(s, c, (int)res);
		return;
	}
	c->done += (size_t)res;
	/* Done: end of file (0), the window full, or - with O_DIRECT - a short
	 * read that does not end on a block boundary, which direct I/O only
	 * does at end of file. Otherwise continue with the rest. */
	if (res == 0 || c->done >= c->win_len ||
	    (s->direct && c->done % EVSRV_ALIGN != 0)) {
		reply_data(s, c);
		return;
	}
	enqueue_read(s, c);
}

/*
 * The completion eventfd is readable. Order matters: reset the counter
 * FIRST, then reap. A read that finishes after our io_getevents saw the
 * ring empty bumps the counter again and wakes us next turn. (Reap first
 * and read the counter second, and a completion landing in between is
 * counted away without being reaped: it sits in the ring unnoticed.)
 */
static int on_done_efd(struct evsrv *s)
{
	struct io_event evs[EV_BATCH];
	struct timespec zero = { 0, 0 };
	int got;

	read_counter(s->done_efd);
	do {
		/* min_nr 0 and a zero timeout: never blocks. */
		got = io_getevents(s->ctx, 0, EV_BATCH, evs, &zero);
		if (got == -EINTR)
			continue;
		if (got < 0)
			return got;
		for (int i = 0; i < got; i++)
			on_completion(s, evs[i].data, (long)evs[i].res);
	} while (got == EV_BATCH || got == -EINTR);
	return 0;
}

static void prep_read(struct evsrv *s, struct conn *c)
{
	io_prep_pread(&c->iocb, s->file_fd, c->buf + c->done,
		      c->win_len - c->done, (long long)(c->win_start + c->done));
	io_set_eventfd(&c->iocb, s->done_efd);
	c->iocb.data = c;
}

/*
 * Submit queued reads while slots are free. io_submit may take only some
 * of the array (it returns how many); the rest stay at the head of the
 * queue. A negative return other than -EAGAIN is about the first iocb
 * alone: that request gets it as its status.
 */
static void submit_reads(struct evsrv *s)
{
	while (s->q_head && s->in_flight < s->qd) {
		struct iocb *list[EV_BATCH];
		struct conn *c = s->q_head;
		long n = 0;
		int r;

		/* Skip (and bury) clients that left while queued. */
		if (c->gone) {
			conn_bury(s, dequeue_read(s));
			continue;
		}
		for (; c && n < EV_BATCH && s->in_flight + n < s->qd; c = c->qnext) {
			if (c->gone)
				break; /* buried on the next round */
			prep_read(s, c);
			list[n++] = &c->iocb;
		}
		r = io_submit(s->ctx, n, list);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				dequeue_read(s)->state = C_READING;
			s->in_flight += (unsigned)r;
			continue;
		}
		if (r == 0 || r == -EAGAIN || r == -EINTR) {
			/* Out of kernel resources for now. A completion will
			 * call us again; the timer makes sure of it when
			 * nothing of ours is in flight. */
			arm_backoff(s);
			return;
		}
		c = dequeue_read(s);
		reply_error(s, c, r);
	}
}

/* -------------------------------------------------------------- the loop */

static void free_dead(struct evsrv *s)
{
	while (s->dead) {
		struct conn *c = s->dead;

		s->dead = c->dead_next;
		conn_free(s, c);
	}
}

static int dispatch(struct evsrv *s, const struct epoll_event *ev)
{
	void *tag = ev->data.ptr;

	if (tag == &s->listen_fd)
		return on_listener(s);
	if (tag == &s->done_efd)
		return on_done_efd(s);
	if (tag == &s->wake_efd) {
		read_counter(s->wake_efd);
		return 0;
	}
	if (tag == &s->timer_fd) {
		on_timer(s);
		return 0;
	}
	on_client(s, tag, ev->events);
	return 0;
}

int evsrv_run_once(struct evsrv *s, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n, r = 0;

	if (!s)
		return -EINVAL;
	if (atomic_load(&s->stopping))
		return -ECANCELED;
	n = epoll_wait(s->epfd, evs, EV_BATCH, timeout_ms);
	if (n < 0)
		return -errno; /* -EINTR: a signal; the caller calls again */
	for (int i = 0; i < n && r == 0; i++)
		r = dispatch(s, &evs[i]);
	if (r == 0)
		submit_reads(s);
	free_dead(s);
	if (r < 0)
		return r;
	if (atomic_load(&s->stopping))
		return -ECANCELED;
	return n;
}

int evsrv_run(struct evsrv *s)
{
	for (;;) {
		int r = evsrv_run_once(s, -1);

		if (r == -ECANCELED)
			return 0;
		if (r < 0 && r != -EINTR)
			return r;
	}
}

void evsrv_stop(struct evsrv *s)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t n;

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	/* Wake epoll_wait. If the counter is somehow full (EAGAIN) it is
	 * readable already, which is all we need. */
	n = write(s->wake_efd, &one, sizeof one);
	(void)n;
	errno = saved;
}

/* ------------------------------------------------------------ open/close */

static bool servable(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISBLK(st->st_mode);
}

/* O_DIRECT first; fall back to buffered only where the filesystem has no
 * direct I/O (open says EINVAL), e.g. tmpfs on older kernels. */
static int open_file(struct evsrv *s, const char *path)
{
	struct stat st;
	int fd;

	/* Look before opening: open() of a FIFO would wait for a writer. */
	if (stat(path, &st) < 0)
		return -errno;
	if (!servable(&st))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	s->direct = true;
	if (fd < 0 && errno == EINVAL) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		s->direct = false;
	}
	if (fd < 0)
		return -errno;
	s->file_fd = fd; /* closed by destroy() on any later failure */
	/* And check again what we actually opened (it may have been
	 * replaced in between). */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!servable(&st))
		return -EINVAL;
	return 0;
}

/* listen_fd must be a listening stream socket. */
static int check_listener(int fd)
{
	int yes = 0;
	socklen_t len = sizeof yes;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) < 0)
		return -errno; /* -EBADF, -ENOTSOCK */
	return yes ? 0 : -EINVAL;
}

static int make_fds(struct evsrv *s)
{
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	/* Counter mode (not EFD_SEMAPHORE): one read collects the number of
	 * completions since the last read. Non-blocking: a spurious wake-up
	 * must not block the loop in read(). */
	s->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->done_efd < 0)
		return -errno;
	s->wake_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_efd < 0)
		return -errno;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0)
		return -errno;
	return 0;
}

static int watch_fds(struct evsrv *s)
{
	int r;

	r = epoll_set(s, EPOLL_CTL_ADD, s->listen_fd, &s->listen_fd, EPOLLIN);
	if (r == 0)
		r = epoll_set(s, EPOLL_CTL_ADD, s->done_efd, &s->done_efd, EPOLLIN);
	if (r == 0)
		r = epoll_set(s, EPOLL_CTL_ADD, s->wake_efd, &s->wake_efd, EPOLLIN);
	if (r == 0)
		r = epoll_set(s, EPOLL_CTL_ADD, s->timer_fd, &s->timer_fd, EPOLLIN);
	return r;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Frees what evsrv_open managed to make; safe on a half-built server. */
static void destroy(struct evsrv *s)
{
	/* io_destroy waits for every read still in flight: only after it
	 * may their buffers be freed. */
	if (s->ctx)
		io_destroy(s->ctx);
	while (s->conns)
		conn_free(s, s->conns);
	close_fd(s->timer_fd);
	close_fd(s->wake_efd);
	close_fd(s->done_efd);
	close_fd(s->epfd);
	close_fd(s->file_fd);
	free(s);
}

int evsrv_open(struct evsrv **out, const char *path, int listen_fd, unsigned qd)
{
	struct evsrv *s;
	int r;

	if (!out || !path || listen_fd < 0 || qd == 0)
		return -EINVAL;
	r = check_listener(listen_fd);
	if (r < 0)
		return r;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->epfd = s->file_fd = s->done_efd = s->wake_efd = s->timer_fd = -1;
	s->listen_fd = listen_fd;
	s->qd = qd > EVSRV_MAX_QD ? EVSRV_MAX_QD : qd;
	atomic_init(&s->stopping, 0);

	r = open_file(s, path);
	if (r == 0)
		r = make_fds(s);
	if (r == 0)
		r = io_setup((int)s->qd, &s->ctx); /* -errno itself */
	if (r == 0)
		r = watch_fds(s);
	/* last: the listener is the caller's, and nothing after this can fail
	 * and leave it changed (evsrv.h: a failed open undoes what it made) */
	if (r == 0)
		r = set_nonblocking(listen_fd);
	if (r < 0) {
		destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

void evsrv_close(struct evsrv *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	destroy(s);
}
