/*
 * evsrv.c - chapter 04, correct variant cleanroom-edge-deadline
 * (harness/04-epoll-eventfd/variants/cleanroom-edge-deadline/).
 *
 * Written by a colleague in a clean room, from the lesson, evsrv.h, the
 * skeleton and the man pages alone: neither the reference nor the tests
 * were read before it had full marks.
 *
 * Shape: edge-triggered client sockets registered once with EPOLLIN |
 * EPOLLOUT | EPOLLET and never modified (each connection remembers "may
 * read" / "may write" until a call says EAGAIN); one eventfd for both
 * completions and evsrv_stop; no timerfd: back-off is a deadline folded
 * into the epoll_wait timeout, and a paused listener is taken out of the
 * set (EPOLL_CTL_DEL) and added back; connections live in a growable array,
 * the waiting reads in a growable array used as a FIFO with tombstones for
 * clients that leave while queued; each window buffer has one aligned block
 * in front so the reply header sits right before the data and a reply goes
 * out with plain send(); gone connections go on a graveyard list freed at
 * the end of the turn; the file is opened with O_NONBLOCK too (it does
 * nothing for a regular file); evsrv_close gives the listener its flags
 * back.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum phase { P_REQ, P_WAIT, P_DISK, P_REPLY };

struct conn {
	int sock;
	enum phase ph;
	bool may_read, may_write;
	bool dead, in_disk;
	size_t slot;              /* index in s->conns, while alive       */
	size_t qidx;              /* absolute index in the queue, if P_WAIT */

	unsigned char rq[EVSRV_REQ_SIZE];
	unsigned rq_len;
	uint64_t off, len;

	struct iocb cb;
	unsigned char *mem;       /* EVSRV_ALIGN bytes of room, then the window */
	uint64_t wstart;
	size_t wlen, wgot;

	unsigned char hdr[EVSRV_HDR_SIZE]; /* replies without data */
	const unsigned char *out;
	size_t out_len, out_done;

	struct conn *grave;
	struct conn *gnext, *gprev; /* ghosts: gone, read on the disk */
};

struct evsrv {
	int ep, fd, lfd, efd;
	int lflags_before;
	bool odirect;
	bool listening;           /* the listener is in the epoll set   */
	bool backoff;
	struct timespec retry_at;
	io_context_t io;
	unsigned depth, busy;

	struct conn **conns;
	size_t nconns, capconns;

	struct conn **q;          /* q[qbeg .. qend) */
	size_t qbeg, qend, qcap;
	size_t qbase;             /* absolute index of q[0] */

	struct conn *graveyard;
	struct conn *ghosts;
	atomic_bool stop;
};

static char tag_listener, tag_event;

static int64_t ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(t->tv_sec - now.tv_sec) * 1000 +
		     (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms + 1;
}

static bool due(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void back_off(struct evsrv *s)
{
	if (s->backoff)
		return;
	clock_gettime(CLOCK_MONOTONIC, &s->retry_at);
	s->retry_at.tv_nsec += 10 * 1000000L;
	if (s->retry_at.tv_nsec >= 1000000000L) {
		s->retry_at.tv_nsec -= 1000000000L;
		s->retry_at.tv_sec++;
	}
	s->backoff = true;
}

/* ---- the FIFO ----------------------------------------------------------- */

static int q_push(struct evsrv *s, struct conn *c)
{
	if (s->qend == s->qcap) {
		if (s->qbeg > 0) {
			size_t n = s->qend - s->qbeg;

			memmove(s->q, s->q + s->qbeg, n * sizeof(*s->q));
			s->qbase += s->qbeg;
			s->qbeg = 0;
			s->qend = n;
		}
		if (s->qend == s->qcap) {
			size_t cap = s->qcap ? s->qcap * 2 : 16;
			struct conn **nq = realloc(s->q, cap * sizeof(*nq));

			if (!nq)
				return -ENOMEM;
			s->q = nq;
			s->qcap = cap;
		}
	}
	c->qidx = s->qbase + s->qend;
	s->q[s->qend++] = c;
	return 0;
}

/* the queue's front (tombstones skipped), or NULL */
static struct conn *q_front(struct evsrv *s)
{
	while (s->qbeg < s->qend && !s->q[s->qbeg])
		s->qbeg++;
	if (s->qbeg == s->qend) {
		s->qbeg = s->qend = 0;
		s->qbase = 0;
		return NULL;
	}
	return s->q[s->qbeg];
}

static void q_pop(struct evsrv *s)
{
	s->q[s->qbeg++] = NULL;
}

/* ---- connections -------------------------------------------------------- */

static void bury(struct evsrv *s, struct conn *c)
{
	c->grave = s->graveyard;
	s->graveyard = c;
}

static void kill_conn(struct evsrv *s, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->sock, NULL);
	close(c->sock);
	c->sock = -1;
	/* out of the table */
	struct conn *last = s->conns[--s->nconns];

	s->conns[c->slot] = last;
	last->slot = c->slot;
	if (c->ph == P_WAIT)
		s->q[c->qidx - s->qbase] = NULL; /* tombstone */
	if (!c->in_disk) {
		bury(s, c);
	} else {
		/* buried when its completion comes back, or by evsrv_close */
		c->gprev = NULL;
		c->gnext = s->ghosts;
		if (s->ghosts)
			s->ghosts->gprev = c;
		s->ghosts = c;
	}
}

static void free_conn(struct conn *c)
{
	free(c->mem);
	free(c);
}

static void free_graveyard(struct evsrv *s)
{
	while (s->graveyard) {
		struct conn *c = s->graveyard;

		s->graveyard = c->grave;
		free_conn(c);
	}
}

/* ---- replies ------------------------------------------------------------ */

static void answer_status(struct conn *c, int64_t status)
{
	free(c->mem);
	c->mem = NULL;
	evsrv_put_be64(c->hdr, (uint64_t)status);
	c->out = c->hdr;
	c->out_len = EVSRV_HDR_SIZE;
	c->out_done = 0;
	c->ph = P_REPLY;
}

static void answer_data(struct conn *c, size_t n)
{
	/* the header goes right before the slice: the window has a whole
	 * block of room in front of it, and bytes before offset are not sent */
	unsigned char *data = c->mem + EVSRV_ALIGN + (c->off - c->wstart);

	evsrv_put_be64(data - EVSRV_HDR_SIZE, (uint64_t)n);
	c->out = data - EVSRV_HDR_SIZE;
	c->out_len = EVSRV_HDR_SIZE + n;
	c->out_done = 0;
	c->ph = P_REPLY;
}

static void got_request(struct evsrv *s, struct conn *c)
{
	uint64_t off = evsrv_get_be64(c->rq), len = evsrv_get_be64(c->rq + 8);

	c->rq_len = 0;
	c->off = off;
	c->len = len;
	if (len > EVSRV_MAX_LEN || off > (uint64_t)INT64_MAX - len) {
		answer_status(c, -EINVAL);
		return;
	}
	if (len == 0) {
		answer_status(c, 0);
		return;
	}
	uint64_t a = EVSRV_ALIGN;
	uint64_t first = off / a * a;
	uint64_t last = (off + len - 1) / a * a + a; /* never past 2^63 */

	if (last > (uint64_t)INT64_MAX)
		last = (uint64_t)INT64_MAX / a * a;
	if (last <= first) {
		answer_status(c, 0);
		return;
	}
	void *p;

	if (posix_memalign(&p, EVSRV_ALIGN, EVSRV_ALIGN + (size_t)(last - first))) {
		answer_status(c, -ENOMEM);
		return;
	}
	c->mem = p;
	c->wstart = first;
	c->wlen = (size_t)(last - first);
	c->wgot = 0;
	if (q_push(s, c) < 0) {
		answer_status(c, -ENOMEM);
		return;
	}
	c->ph = P_WAIT;
}

/* Move the connection as far as the socket lets it: send, then read. */
static void pump(struct evsrv *s, struct conn *c)
{
	for (;;) {
		if (c->dead)
			return;
		if (c->ph == P_REPLY) {
			if (!c->may_write)
				return;
			ssize_t r = send(c->sock, c->out + c->out_done,
					 c->out_len - c->out_done, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->may_write = false;
					return;
				}
				kill_conn(s, c);
				return;
			}
			c->out_done += (size_t)r;
			if (c->out_done == c->out_len) {
				free(c->mem);
				c->mem = NULL;
				c->out = NULL;
				c->ph = P_REQ;
			}
			continue;
		}
		if (c->ph != P_REQ || !c->may_read)
			return;
		ssize_t r = recv(c->sock, c->rq + c->rq_len,
				 EVSRV_REQ_SIZE - c->rq_len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->may_read = false;
				return;
			}
			kill_conn(s, c);
			return;
		}
		if (r == 0) {
			kill_conn(s, c);
			return;
		}
		c->rq_len += (unsigned)r;
		if (c->rq_len == EVSRV_REQ_SIZE)
			got_request(s, c);
	}
}

/* ---- accepting ---------------------------------------------------------- */

static int listener_off(struct evsrv *s)
{
	if (s->listening &&
	    epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL) == 0)
		s->listening = false;
	back_off(s);
	return 0;
}

static int take_clients(struct evsrv *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
				return 0;
			case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
				return listener_off(s);
			case EBADF: case EINVAL: case ENOTSOCK: case EFAULT:
			case EOPNOTSUPP:
				return -errno;
			default: /* EINTR, and a connection that died waiting */
				continue;
			}
		}
		if (s->nconns == s->capconns) {
			size_t cap = s->capconns ? s->capconns * 2 : 32;
			struct conn **nc = realloc(s->conns, cap * sizeof(*nc));

			if (!nc) {
				close(fd);
				continue;
			}
			s->conns = nc;
			s->capconns = cap;
		}
		struct conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		c->sock = fd;
		c->ph = P_REQ;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
					  .data.ptr = c };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->slot = s->nconns;
		s->conns[s->nconns++] = c;
	}
}

/* ---- the disk ----------------------------------------------------------- */

static void submit_waiting(struct evsrv *s)
{
	enum { BATCH = 32 };

	while (s->busy < s->depth && q_front(s)) {
		struct iocb *v[BATCH];
		size_t n = 0, i = s->qbeg;
		unsigned room = s->depth - s->busy;

		while (n < BATCH && n < room && i < s->qend) {
			struct conn *c = s->q[i++];

			if (!c)
				continue;
			io_prep_pread(&c->cb, s->fd, c->mem + EVSRV_ALIGN + c->wgot,
				      c->wlen - c->wgot,
				      (long long)(c->wstart + c->wgot));
			c->cb.data = c;
			io_set_eventfd(&c->cb, s->efd);
			v[n++] = &c->cb;
		}
		int r = io_submit(s->io, (long)n, v);

		if (r == -EAGAIN || r == -EINTR || r == 0) {
			if (s->busy == 0)
				back_off(s);
			return;
		}
		if (r < 0) {
			struct conn *c = q_front(s);

			q_pop(s);
			answer_status(c, r);
			pump(s, c);
			continue;
		}
		for (int k = 0; k < r; k++) {
			struct conn *c = q_front(s);

			q_pop(s);
			c->ph = P_DISK;
			c->in_disk = true;
			s->busy++;
		}
	}
}

static void finished(struct evsrv *s, struct conn *c, int64_t res)
{
	s->busy--;
	c->in_disk = false;
	if (c->dead) {
		if (c->gprev)
			c->gprev->gnext = c->gnext;
		else
			s->ghosts = c->gnext;
		if (c->gnext)
			c->gnext->gprev = c->gprev;
		bury(s, c);
		return;
	}
	if (res == -EINTR)
		goto again;
	if (res < 0) {
		answer_status(c, res);
		pump(s, c);
		return;
	}
	c->wgot += (size_t)res;
	if (c->wgot < c->wlen && res > 0 &&
	    (!s->odirect || (c->wstart + c->wgot) % EVSRV_ALIGN == 0))
		goto again;

	uint64_t end = c->wstart + c->wgot;
	size_t n = 0;

	if (end > c->off)
		n = (size_t)(end - c->off < c->len ? end - c->off : c->len);
	answer_data(c, n);
	pump(s, c);
	return;
again:
	/* the rest of the window goes first: it was submitted before */
	if (q_push(s, c) < 0) {
		answer_status(c, -ENOMEM);
		pump(s, c);
		return;
	}
	c->ph = P_WAIT;
	/* move it to the front so that it keeps its place */
	if (s->qend - s->qbeg > 1) {
		size_t j = s->qend - 1;

		while (j > s->qbeg) {
			struct conn *x = s->q[j - 1];

			s->q[j] = x;
			if (x)
				x->qidx = s->qbase + j;
			j--;
		}
		s->q[j] = c;
		c->qidx = s->qbase + j;
	}
}

static int drain_completions(struct evsrv *s)
{
	uint64_t cnt;
	enum { NR = 16 };

	while (read(s->efd, &cnt, sizeof(cnt)) < 0 && errno == EINTR)
		;
	for (;;) {
		struct io_event e[NR];
		struct timespec ts = { 0, 0 };
		int r = io_getevents(s->io, 0, NR, e, &ts);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		for (int i = 0; i < r; i++)
			finished(s, e[i].data, (int64_t)(long)e[i].res);
		if (r < NR)
			return 0;
	}
}

/* ---- the API ------------------------------------------------------------ */

int evsrv_open(struct evsrv **out, const char *path, int listen_fd, unsigned qd)
{
	struct stat st;
	int acc = 0, err;
	socklen_t l = sizeof(acc);

	if (out == NULL || path == NULL || listen_fd < 0 || qd == 0)
		return -EINVAL;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) != 0)
		return -errno;
	if (acc == 0)
		return -EINVAL;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;

	struct evsrv *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ep = s->fd = s->efd = -1;
	s->lfd = listen_fd;
	s->depth = qd < EVSRV_MAX_QD ? qd : EVSRV_MAX_QD;
	s->lflags_before = fcntl(listen_fd, F_GETFL);
	if (s->lflags_before < 0) {
		err = -errno;
		free(s);
		return err;
	}

	err = io_setup((int)s->depth, &s->io);
	if (err < 0) {
		free(s);
		return err;
	}
	s->odirect = true;
	s->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0 && errno == EINVAL) {
		s->odirect = false;
		s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (s->fd < 0)
		goto sys_fail;
	if (fstat(s->fd, &st) != 0)
		goto sys_fail;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err = -EINVAL;
		goto fail;
	}
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto sys_fail;
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto sys_fail;

	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = &tag_event };

	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &ev) != 0)
		goto sys_fail;
	if (fcntl(listen_fd, F_SETFL, s->lflags_before | O_NONBLOCK) != 0)
		goto sys_fail;
	ev.events = EPOLLIN;
	ev.data.ptr = &tag_listener;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0)
		goto sys_fail;
	s->listening = true;
	atomic_init(&s->stop, false);
	*out = s;
	return 0;

sys_fail:
	err = -errno;
fail:
	fcntl(listen_fd, F_SETFL, s->lflags_before);
	if (s->ep >= 0)
		close(s->ep);
	if (s->efd >= 0)
		close(s->efd);
	if (s->fd >= 0)
		close(s->fd);
	io_destroy(s->io);
	free(s);
	return err;
}

int evsrv_run_once(struct evsrv *s, int timeout_ms)
{
	struct epoll_event evs[128];
	int wait = timeout_ms, n, handled, err = 0;

	if (atomic_load(&s->stop))
		return -ECANCELED;
	if (s->backoff) {
		int64_t left = ms_until(&s->retry_at);

		if (wait < 0 || left < wait)
			wait = (int)left;
	}
	n = epoll_wait(s->ep, evs, 128, wait);
	if (atomic_load(&s->stop))
		return -ECANCELED;
	if (n < 0)
		return -errno;
	handled = n;

	for (int i = 0; i < n && !err; i++) {
		void *p = evs[i].data.ptr;
		uint32_t e = evs[i].events;

		if (p == &tag_listener) {
			err = take_clients(s);
		} else if (p == &tag_event) {
			err = drain_completions(s);
		} else {
			struct conn *c = p;

			if (c->dead)
				continue;
			if (e & (EPOLLERR | EPOLLHUP)) {
				kill_conn(s, c);
				continue;
			}
			if (e & EPOLLIN)
				c->may_read = true;
			if (e & EPOLLOUT)
				c->may_write = true;
			pump(s, c);
		}
	}
	if (!err && s->backoff && due(&s->retry_at)) {
		s->backoff = false;
		handled++;
		if (!s->listening) {
			struct epoll_event ev = { .events = EPOLLIN,
						  .data.ptr = &tag_listener };

			if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) == 0)
				s->listening = true;
			else
				back_off(s);
		}
	}
	if (!err)
		submit_waiting(s);
	free_graveyard(s);
	if (err)
		return err;
	if (atomic_load(&s->stop))
		return -ECANCELED;
	return handled;
}

int evsrv_run(struct evsrv *s)
{
	int r;

	do
		r = evsrv_run_once(s, -1);
	while (r >= 0 || r == -EINTR);
	return r == -ECANCELED ? 0 : r;
}

void evsrv_stop(struct evsrv *s)
{
	if (s) {
		int e = errno;

		atomic_store(&s->stop, true);
		eventfd_write(s->efd, 1);
		errno = e;
	}
}

void evsrv_close(struct evsrv *s)
{
	if (!s)
		return;
	io_destroy(s->io);
	for (size_t i = 0; i < s->nconns; i++) {
		close(s->conns[i]->sock);
		free_conn(s->conns[i]);
	}
	/* gone while on the disk: no completion will bury them now */
	while (s->ghosts) {
		struct conn *c = s->ghosts;

		s->ghosts = c->gnext;
		free_conn(c);
	}
	free(s->conns);
	free(s->q);
	free_graveyard(s);
	close(s->ep);
	close(s->efd);
	close(s->fd);
	fcntl(s->lfd, F_SETFL, s->lflags_before);
	free(s);
}
