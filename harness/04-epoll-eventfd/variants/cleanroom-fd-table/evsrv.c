/*
 * evsrv.c - chapter 04, correct variant cleanroom-fd-table
 * (harness/04-epoll-eventfd/variants/cleanroom-fd-table/).
 *
 * Written by a colleague in a clean room, from the lesson, evsrv.h, the
 * skeleton and the man pages alone: neither the reference nor the tests
 * were read before it had full marks.
 *
 * Shape: level-triggered, but every epoll event carries the descriptor
 * number (ev.data.fd), not a pointer: connections live in a table indexed
 * by socket number, the server's own descriptors are told apart by number,
 * and a connection accepted during a turn ignores the rest of that turn's
 * events (they were for an earlier owner of the number); epoll_pwait with
 * room for 8 events per turn; one read per io_submit call, each in its own
 * malloc'd request (iocb + owner) freed when reaped; io_getevents asked for
 * 4 at a time; a short read continued with an immediate io_submit of its
 * rest (queued at the front if that cannot be done now); a singly linked
 * FIFO from which a client that left is dropped when it reaches the head;
 * aligned_alloc for windows; the reply kept as an iovec pair advanced in
 * place.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum st { ST_IDLE, ST_QUEUED, ST_DISK, ST_OUT };

struct cl;

struct rd {                 /* one read on the disk */
	struct iocb cb;
	struct cl *who;
};

struct cl {
	int fd;                  /* -1 once closed */
	enum st st;
	uint32_t mask;
	unsigned born;           /* turn it was accepted in */

	unsigned char in[EVSRV_REQ_SIZE];
	size_t nin;
	uint64_t off, len;

	unsigned char *win;
	uint64_t wpos;           /* file offset of win[0] */
	size_t wsize, wfill;

	unsigned char head[EVSRV_HDR_SIZE];
	struct iovec iov[2];
	int iovcnt;

	struct rd *rd;           /* its read while on the disk */
	struct cl *qnext;
	struct cl *dnext;        /* to free at the end of the turn */
	bool left, doomed;
};

struct evsrv {
	int epfd, file, lfd, cqfd, stopfd, tfd;
	bool dio, lpaused, tarmed;
	io_context_t aio;
	unsigned qd, out;
	unsigned turn;

	struct cl **byfd;        /* connections by socket number */
	size_t nbyfd;

	struct cl *qh, *qt;
	struct cl *doomed;
	struct cl *limbo;        /* left with a read out or queued */
	atomic_int stopped;
};


static int ctl(struct evsrv *s, int op, int fd, uint32_t ev)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.fd = fd;
	return epoll_ctl(s->epfd, op, fd, &e) ? -errno : 0;
}

static void arm(struct evsrv *s)
{
	struct itimerspec t = { .it_value = { 0, 10000000 } };

	if (!s->tarmed && timerfd_settime(s->tfd, 0, &t, NULL) == 0)
		s->tarmed = true;
}

/* ---- lifetime ----------------------------------------------------------- */

/* Every connection not yet freed is on exactly one of: byfd (socket open),
 * limbo (socket closed, read out or queued), doomed (free at end of turn). */
static void limbo_add(struct evsrv *s, struct cl *c)
{
	c->dnext = s->limbo;
	s->limbo = c;
}

static void limbo_del(struct evsrv *s, struct cl *c)
{
	struct cl **pp = &s->limbo;

	while (*pp && *pp != c)
		pp = &(*pp)->dnext;
	if (*pp)
		*pp = c->dnext;
}

static void doom(struct evsrv *s, struct cl *c)
{
	c->doomed = true;
	c->dnext = s->doomed;
	s->doomed = c;
}

static void hang_up(struct evsrv *s, struct cl *c)
{
	if (c->left)
		return;
	c->left = true;
	ctl(s, EPOLL_CTL_DEL, c->fd, 0);
	s->byfd[c->fd] = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->st == ST_DISK || c->st == ST_QUEUED)
		limbo_add(s, c);
	else
		doom(s, c);
}

static void set_mask(struct evsrv *s, struct cl *c, uint32_t m)
{
	if (c->left || c->mask == m)
		return;
	if (ctl(s, EPOLL_CTL_MOD, c->fd, m) < 0) {
		hang_up(s, c);
		return;
	}
	c->mask = m;
}

/* ---- replies ------------------------------------------------------------ */

static void flush_out(struct evsrv *s, struct cl *c)
{
	while (c->iovcnt > 0) {
		struct msghdr m = { 0 };

		m.msg_iov = c->iov + (2 - c->iovcnt);
		m.msg_iovlen = (size_t)c->iovcnt;
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_mask(s, c, EPOLLOUT);
				return;
			}
			hang_up(s, c);
			return;
		}
		size_t k = (size_t)n;

		while (c->iovcnt > 0 && k > 0) {
			struct iovec *v = &c->iov[2 - c->iovcnt];
			size_t take = k < v->iov_len ? k : v->iov_len;

			v->iov_base = (char *)v->iov_base + take;
			v->iov_len -= take;
			k -= take;
			if (v->iov_len == 0)
				c->iovcnt--;
		}
		while (c->iovcnt > 0 && c->iov[2 - c->iovcnt].iov_len == 0)
			c->iovcnt--;
	}
	free(c->win);
	c->win = NULL;
	c->st = ST_IDLE;
	set_mask(s, c, EPOLLIN);
}

static void respond(struct evsrv *s, struct cl *c, int64_t status)
{
	evsrv_put_be64(c->head, (uint64_t)status);
	c->iov[0].iov_base = c->head;
	c->iov[0].iov_len = EVSRV_HDR_SIZE;
	if (status > 0) {
		c->iov[1].iov_base = c->win + (c->off - c->wpos);
		c->iov[1].iov_len = (size_t)status;
		c->iovcnt = 2;
	} else {
		free(c->win);
		c->win = NULL;
		c->iov[1].iov_len = 0;
		c->iov[1].iov_base = NULL;
		/* iov[1] empty: count only the header */
		c->iov[1] = c->iov[0];
		c->iovcnt = 1;
	}
	c->st = ST_OUT;
	flush_out(s, c);
}

/* ---- the disk ----------------------------------------------------------- */

/* 1 submitted, 0 later (-EAGAIN), <0 that read's own error */
static int submit_one(struct evsrv *s, struct cl *c)
{
	struct rd *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	io_prep_pread(&r->cb, s->file, c->win + c->wfill, c->wsize - c->wfill,
		      (long long)(c->wpos + c->wfill));
	io_set_eventfd(&r->cb, s->cqfd);
	r->who = c;
	r->cb.data = r;

	struct iocb *one[1] = { &r->cb };
	int ret;

	do
		ret = io_submit(s->aio, 1, one);
	while (ret == -EINTR);
	if (ret == 1) {
		c->rd = r;
		c->st = ST_DISK;
		s->out++;
		return 1;
	}
	free(r);
	if (ret == 0 || ret == -EAGAIN)
		return 0;
	return ret;
}

static void pump_queue(struct evsrv *s)
{
	while (s->qh && s->out < s->qd) {
		struct cl *c = s->qh;

		if (c->left) {           /* left while it waited: drop it */
			s->qh = c->qnext;
			if (!s->qh)
				s->qt = NULL;
			limbo_del(s, c);
			doom(s, c);
			continue;
		}
		int r = submit_one(s, c);

		if (r == 0) {
			if (s->out == 0)
				arm(s);
			return;
		}
		s->qh = c->qnext;
		if (!s->qh)
			s->qt = NULL;
		if (r < 0)
			respond(s, c, r);
	}
}

static void enqueue(struct evsrv *s, struct cl *c, bool front)
{
	c->st = ST_QUEUED;
	if (front) {
		c->qnext = s->qh;
		s->qh = c;
		if (!s->qt)
			s->qt = c;
		return;
	}
	c->qnext = NULL;
	if (s->qt)
		s->qt->qnext = c;
	else
		s->qh = c;
	s->qt = c;
}

static void read_more(struct evsrv *s, struct cl *c)
{
	/* continue at once if a slot is free, else ahead of the others */
	if (s->out < s->qd && !s->qh) {
		int r = submit_one(s, c);

		if (r == 1)
			return;
		if (r < 0) {
			respond(s, c, r);
			return;
		}
		if (s->out == 0)
			arm(s);
	}
	enqueue(s, c, true);
}

static void reaped(struct evsrv *s, struct rd *r, long res)
{
	struct cl *c = r->who;

	free(r);
	c->rd = NULL;
	s->out--;
	if (c->left) {
		limbo_del(s, c);
		doom(s, c);
		return;
	}
	if (res == -EINTR) {
		read_more(s, c);
		return;
	}
	if (res < 0) {
		respond(s, c, res);
		return;
	}
	c->wfill += (size_t)res;
	if (res > 0 && c->wfill < c->wsize &&
	    (!s->dio || (c->wpos + c->wfill) % EVSRV_ALIGN == 0)) {
		read_more(s, c);
		return;
	}
	uint64_t end = c->wpos + c->wfill;
	uint64_t have = end > c->off ? end - c->off : 0;

	respond(s, c, (int64_t)(have < c->len ? have : c->len));
}

static int on_completions(struct evsrv *s)
{
	uint64_t n;

	(void)!read(s->cqfd, &n, sizeof(n));
	for (;;) {
		struct io_event ev[4];
		struct timespec none = { 0, 0 };
		int got = io_getevents(s->aio, 0, 4, ev, &none);

		if (got == -EINTR)
			continue;
		if (got < 0)
			return got;
		for (int i = 0; i < got; i++)
			reaped(s, ev[i].data, (long)ev[i].res);
		if (got < 4)
			return 0;
	}
}

/* ---- requests ----------------------------------------------------------- */

static void begin(struct evsrv *s, struct cl *c)
{
	c->off = evsrv_get_be64(c->in);
	c->len = evsrv_get_be64(c->in + 8);
	c->nin = 0;
	if (c->len > EVSRV_MAX_LEN || c->off > (uint64_t)INT64_MAX - c->len) {
		respond(s, c, -EINVAL);
		return;
	}
	if (c->len == 0) {
		respond(s, c, 0);
		return;
	}
	const uint64_t A = EVSRV_ALIGN;
	uint64_t lo = c->off - c->off % A;
	uint64_t hi = c->off + c->len;

	if (hi % A)
		hi += A - hi % A;
	if (hi > (uint64_t)INT64_MAX)          /* past any file */
		hi = (uint64_t)INT64_MAX - (uint64_t)INT64_MAX % A;
	if (hi <= lo) {
		respond(s, c, 0);
		return;
	}
	c->win = aligned_alloc(EVSRV_ALIGN, (size_t)(hi - lo));
	if (!c->win) {
		respond(s, c, -ENOMEM);
		return;
	}
	c->wpos = lo;
	c->wsize = (size_t)(hi - lo);
	c->wfill = 0;
	set_mask(s, c, 0);
	if (c->left) {
		/* hang_up put it on the list to free now: its window goes too */
		return;
	}
	enqueue(s, c, false);
}

static void on_client(struct evsrv *s, struct cl *c, uint32_t ev)
{
	if (ev & (EPOLLERR | EPOLLHUP)) {
		hang_up(s, c);
		return;
	}
	if ((ev & EPOLLOUT) && c->st == ST_OUT)
		flush_out(s, c);
	while ((ev & EPOLLIN) && !c->left && c->st == ST_IDLE) {
		ssize_t n = recv(c->fd, c->in + c->nin, EVSRV_REQ_SIZE - c->nin, 0);

		if (n > 0) {
			c->nin += (size_t)n;
			if (c->nin == EVSRV_REQ_SIZE)
				begin(s, c);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		hang_up(s, c);
	}
}

static int grow(struct evsrv *s, int fd)
{
	if ((size_t)fd < s->nbyfd)
		return 0;
	size_t n = s->nbyfd ? s->nbyfd : 64;

	while (n <= (size_t)fd)
		n *= 2;
	struct cl **t = realloc(s->byfd, n * sizeof(*t));

	if (!t)
		return -ENOMEM;
	memset(t + s->nbyfd, 0, (n - s->nbyfd) * sizeof(*t));
	s->byfd = t;
	s->nbyfd = n;
	return 0;
}

static int on_listener(struct evsrv *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK)
				return 0;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				if (ctl(s, EPOLL_CTL_MOD, s->lfd, 0) == 0)
					s->lpaused = true;
				arm(s);
				return 0;
			}
			if (e == EBADF || e == EINVAL || e == ENOTSOCK ||
			    e == EFAULT || e == EOPNOTSUPP)
				return -e;
			continue;        /* EINTR, ECONNABORTED, EPROTO, EPERM, ... */
		}
		struct cl *c = NULL;

		if (grow(s, fd) == 0)
			c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->mask = EPOLLIN;
		c->born = s->turn;
		if (ctl(s, EPOLL_CTL_ADD, fd, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		s->byfd[fd] = c;
	}
}

/* ---- the API ------------------------------------------------------------ */

int evsrv_open(struct evsrv **out, const char *path, int listen_fd, unsigned qd)
{
	if (!out || !path || listen_fd < 0 || !qd)
		return -EINVAL;

	int yes = 0;
	socklen_t sl = sizeof(yes);

	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &sl))
		return -errno;
	if (!yes)
		return -EINVAL;

	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;

	struct evsrv *s = calloc(1, sizeof(*s));
	int err = 0, fl = -1;

	if (!s)
		return -ENOMEM;
	s->lfd = listen_fd;
	s->qd = qd > EVSRV_MAX_QD ? EVSRV_MAX_QD : qd;
	s->epfd = s->file = s->cqfd = s->stopfd = s->tfd = -1;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		goto bad;
	s->dio = true;
	s->file = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (s->file < 0 && errno == EINVAL) {
		s->dio = false;
		s->file = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (s->file < 0 || fstat(s->file, &st))
		goto bad;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		errno = EINVAL;
		goto bad;
	}
	s->cqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->cqfd < 0)
		goto bad;
	s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stopfd < 0)
		goto bad;
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->tfd < 0)
		goto bad;
	if ((err = ctl(s, EPOLL_CTL_ADD, s->cqfd, EPOLLIN)) ||
	    (err = ctl(s, EPOLL_CTL_ADD, s->stopfd, EPOLLIN)) ||
	    (err = ctl(s, EPOLL_CTL_ADD, s->tfd, EPOLLIN)))
		goto undo;
	fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fl = -1;
		goto bad;
	}
	if ((err = ctl(s, EPOLL_CTL_ADD, listen_fd, EPOLLIN)))
		goto undo;
	err = io_setup((int)s->qd, &s->aio);
	if (err < 0) {
		s->aio = 0;
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, listen_fd, NULL);
		goto undo;
	}
	*out = s;
	return 0;

bad:
	err = -errno;
undo:
	if (fl >= 0)
		fcntl(listen_fd, F_SETFL, fl);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	if (s->cqfd >= 0)
		close(s->cqfd);
	if (s->file >= 0)
		close(s->file);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
	return err;
}

int evsrv_run_once(struct evsrv *s, int timeout_ms)
{
	struct epoll_event ev[8];
	int n, err = 0;

	if (atomic_load(&s->stopped))
		return -ECANCELED;
	n = epoll_pwait(s->epfd, ev, 8, timeout_ms, NULL);
	if (atomic_load(&s->stopped))
		return -ECANCELED;
	if (n < 0)
		return -errno;
	s->turn++;

	for (int i = 0; i < n && !err; i++) {
		int fd = ev[i].data.fd;
		uint64_t junk;

		if (fd == s->lfd) {
			err = on_listener(s);
		} else if (fd == s->cqfd) {
			err = on_completions(s);
		} else if (fd == s->stopfd) {
			(void)!read(s->stopfd, &junk, sizeof(junk));
		} else if (fd == s->tfd) {
			(void)!read(s->tfd, &junk, sizeof(junk));
			s->tarmed = false;
			if (s->lpaused) {
				if (ctl(s, EPOLL_CTL_MOD, s->lfd, EPOLLIN) == 0)
					s->lpaused = false;
				else
					arm(s);
			}
		} else if (fd >= 0 && (size_t)fd < s->nbyfd && s->byfd[fd]) {
			struct cl *c = s->byfd[fd];

			if (c->born == s->turn)
				continue;        /* the event was for an earlier owner */
			on_client(s, c, ev[i].events);
		}
	}
	if (!err)
		pump_queue(s);
	while (s->doomed) {
		struct cl *c = s->doomed;

		s->doomed = c->dnext;
		free(c->win);
		free(c);
	}
	if (err)
		return err;
	return atomic_load(&s->stopped) ? -ECANCELED : n;
}

int evsrv_run(struct evsrv *s)
{
	for (;;) {
		int r = evsrv_run_once(s, -1);

		if (r >= 0 || r == -EINTR)
			continue;
		return r == -ECANCELED ? 0 : r;
	}
}

void evsrv_stop(struct evsrv *s)
{
	if (!s)
		return;

	int keep = errno;
	uint64_t one = 1;

	atomic_store(&s->stopped, 1);
	(void)!write(s->stopfd, &one, sizeof(one));
	errno = keep;
}

void evsrv_close(struct evsrv *s)
{
	if (!s)
		return;
	if (s->aio)
		io_destroy(s->aio);  /* reads out: waited for, never reaped */
	/* a read that was out keeps its struct rd: its connection has it */
	for (size_t i = 0; i < s->nbyfd; i++) {
		struct cl *c = s->byfd[i];

		if (!c)
			continue;
		close(c->fd);
		free(c->rd);
		free(c->win);
		free(c);
	}
	while (s->limbo) {
		struct cl *c = s->limbo;

		s->limbo = c->dnext;
		free(c->rd);
		free(c->win);
		free(c);
	}
	free(s->byfd);
	close(s->tfd);
	close(s->stopfd);
	close(s->cqfd);
	close(s->file);
	close(s->epfd);
	free(s);
}
