/*
 * uecho.c - chapter 09, clean-room module B: written from the lesson, the
 * header, the skeleton and the man pages alone (no look at the reference or
 * the tests), by a colleague, as a careful learner would.
 *
 * Shape: handlers act at once (no reap/step split): each CQE is copied,
 * marked seen, then its handler prepares the SQEs it calls for right away.
 * A connection that finds no SQE free goes on a retry list (which holds a
 * reference) and is looked at again next turn. user_data is the record's
 * pointer with the kind in its low 3 bits; a record is freed only when no
 * request names it any more (a reference count of requests in flight,
 * cancels included), so no slot table is needed. The buffer ring's entries
 * and the buffers share one mapping; buffers go back one at a time, each
 * published at once, and each wakes one waiting connection. The ring asks
 * for SINGLE_ISSUER | DEFER_TASKRUN (falls back without them). A turn:
 * retries, io_uring_submit, then io_uring_wait_cqe_timeout only when the CQ
 * is empty (io_uring_get_events for a timeout of 0), then io_uring_peek_cqe
 * + io_uring_cqe_seen one CQE at a time. uecho_close cancels each request
 * by its own user_data (cancel64, timeout_remove, poll_remove).
 * The accept rests 20 ms after -EMFILE and friends; open() makes the
 * eventfd first and checks SO_TYPE before SO_ACCEPTCONN.
 */
#define _GNU_SOURCE
#include "uecho.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { K_ACCEPT = 1, K_WAKE, K_RECV, K_SEND, K_CANCEL, K_REST, K_NONE };

#define KIND_MASK 7u
#define NIL 0xFFFFu

struct conn {
	int fd;
	uint16_t qh, qt; /* FIFO of held buffers, linked through s->meta[].next */
	uint16_t held;
	uint16_t refs;   /* requests naming this record, + retry list */
	uint8_t recv_live : 1, recv_cxl : 1, send_live : 1, send_cxl : 1, eof : 1,
		failed : 1, starved : 1, waiting : 1, closing : 1, in_retry : 1, gone : 1;
	struct conn *prev, *next;   /* every connection */
	struct conn *wprev, *wnext; /* waiting for a buffer */
	struct conn *rnext;         /* retry list */
};

struct bufmeta {
	uint32_t len, off;
	uint16_t next;
};

struct uecho {
	struct io_uring ring;
	int listen_fd, wake_fd;
	unsigned nbufs, buf_size, mask;
	void *map;
	size_t map_bytes, ring_bytes;
	struct io_uring_buf_ring *br;
	unsigned char *bufs;
	struct bufmeta *meta;
	bool registered;

	unsigned long inflight;
	bool accept_live, rest_live, wake_live, accept_retry;
	int fatal;
	struct __kernel_timespec rest_ts;
	struct uecho_stats st;
	atomic_int stopping;

	struct conn *all;
	struct conn *whead, *wtail;
	struct conn *retry;
	bool refused; /* the last submit was refused */
	unsigned woken; /* waiters woken this turn */
};

static uint64_t ud_of(struct conn *c, enum kind k)
{
	return (uint64_t)(uintptr_t)c | k;
}

static struct io_uring_sqe *sqe_get(struct uecho *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		int r = io_uring_submit(&s->ring);

		if (r < 0) {
			s->refused = true;
			return NULL;
		}
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

static unsigned char *baddr(struct uecho *s, unsigned bid)
{
	return s->bufs + (size_t)bid * s->buf_size;
}

static void kick(struct uecho *s, struct conn *c);
static bool arm_recv(struct uecho *s, struct conn *c);

static void defer(struct uecho *s, struct conn *c)
{
	if (c->in_retry)
		return;
	c->in_retry = 1;
	c->refs++;
	c->rnext = s->retry;
	s->retry = c;
}

static void wait_add(struct uecho *s, struct conn *c)
{
	if (c->waiting)
		return;
	c->waiting = 1;
	c->wnext = NULL;
	c->wprev = s->wtail;
	if (s->wtail)
		s->wtail->wnext = c;
	else
		s->whead = c;
	s->wtail = c;
}

static void wait_del(struct uecho *s, struct conn *c)
{
	if (!c->waiting)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		s->whead = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		s->wtail = c->wprev;
	c->waiting = 0;
	c->wprev = c->wnext = NULL;
}

/* One buffer back to the kernel, published at once; it wakes one waiter. */
static void give_back(struct uecho *s, unsigned bid)
{
	struct conn *w;

	io_uring_buf_ring_add(s->br, baddr(s, bid), s->buf_size, (unsigned short)bid, s->mask, 0);
	io_uring_buf_ring_advance(s->br, 1);
	s->st.bufs_held--;
	w = s->whead;
	if (w) {
		s->woken++;
		wait_del(s, w);
		w->starved = 0;
		if (!arm_recv(s, w))
			defer(s, w);
	}
}

static bool arm_recv(struct uecho *s, struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get(s);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UECHO_BGID;
	io_uring_sqe_set_data64(sqe, ud_of(c, K_RECV));
	c->recv_live = 1;
	c->refs++;
	s->inflight++;
	s->st.recv_armed++;
	return true;
}

static bool cancel(struct uecho *s, struct conn *c, enum kind k)
{
	struct io_uring_sqe *sqe = sqe_get(s);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, ud_of(c, k), 0);
	io_uring_sqe_set_data64(sqe, ud_of(c, K_CANCEL));
	if (c)
		c->refs++;
	s->inflight++;
	return true;
}

static void conn_free(struct uecho *s, struct conn *c)
{
	wait_del(s, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->fd);
	s->st.closed++;
	s->st.conns_open--;
	free(c);
}

static void close_step(struct uecho *s, struct conn *c)
{
	c->closing = 1;
	wait_del(s, c);
	/* every held buffer no send reads from */
	if (c->send_live) {
		while (c->qh != NIL && s->meta[c->qh].next != NIL) {
			unsigned nb = s->meta[c->qh].next;

			s->meta[c->qh].next = s->meta[nb].next;
			if (c->qt == nb)
				c->qt = c->qh;
			c->held--;
			give_back(s, nb);
		}
	} else {
		while (c->qh != NIL) {
			unsigned bid = c->qh;

			c->qh = s->meta[bid].next;
			c->held--;
			give_back(s, bid);
		}
		c->qt = NIL;
	}
	if (c->recv_live && !c->recv_cxl) {
		if (!cancel(s, c, K_RECV)) {
			defer(s, c);
			return;
		}
		c->recv_cxl = 1;
	}
	if (c->send_live && !c->send_cxl) {
		if (!cancel(s, c, K_SEND)) {
			defer(s, c);
			return;
		}
		c->send_cxl = 1;
	}
	if (c->refs == 0)
		conn_free(s, c);
}

/* Everything c's state calls for. c may be freed on return. */
static void kick(struct uecho *s, struct conn *c)
{
	if (c->closing || c->failed || (c->eof && c->qh == NIL && !c->send_live)) {
		close_step(s, c);
		return;
	}
	if (!c->send_live && c->qh != NIL) {
		struct bufmeta *m = &s->meta[c->qh];
		struct io_uring_sqe *sqe = sqe_get(s);

		if (!sqe) {
			defer(s, c);
			return;
		}
		io_uring_prep_send(sqe, c->fd, baddr(s, c->qh) + m->off, m->len - m->off,
				   MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, ud_of(c, K_SEND));
		c->send_live = 1;
		c->refs++;
		s->inflight++;
	}
	if (c->recv_live && !c->recv_cxl && c->held >= UECHO_HOLD_MAX(s->nbufs)) {
		if (!cancel(s, c, K_RECV)) {
			defer(s, c);
			return;
		}
		c->recv_cxl = 1;
		s->st.paused++;
	}
	if (!c->recv_live && !c->eof && !c->waiting && c->held < UECHO_HOLD_MAX(s->nbufs)) {
		if (s->st.bufs_held >= s->nbufs || s->whead) {
			wait_add(s, c);
		} else if (!arm_recv(s, c)) {
			defer(s, c);
			return;
		}
	}
}

static bool arm_accept(struct uecho *s)
{
	struct io_uring_sqe *sqe = sqe_get(s);

	if (!sqe)
		return false;
	io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_of(NULL, K_ACCEPT));
	s->accept_live = true;
	s->inflight++;
	s->st.accept_armed++;
	return true;
}

static bool arm_rest(struct uecho *s)
{
	struct io_uring_sqe *sqe = sqe_get(s);

	if (!sqe)
		return false;
	s->rest_ts.tv_sec = 0;
	s->rest_ts.tv_nsec = 20 * 1000 * 1000;
	io_uring_prep_timeout(sqe, &s->rest_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, ud_of(NULL, K_REST));
	s->rest_live = true;
	s->inflight++;
	return true;
}

static void on_accept(struct uecho *s, int res, unsigned flags)
{
	bool rest = false;

	if (!(flags & IORING_CQE_F_MORE)) {
		s->accept_live = false;
		s->inflight--;
	}
	if (res >= 0) {
		struct conn *c = malloc(sizeof *c);

		s->st.accepted++;
		if (!c) {
			close(res);
			s->st.closed++;
		} else {
			memset(c, 0, sizeof *c);
			c->fd = res;
			c->qh = c->qt = NIL;
			c->next = s->all;
			if (s->all)
				s->all->prev = c;
			s->all = c;
			s->st.conns_open++;
			kick(s, c);
		}
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
		rest = true;
	} else if (res == -EINVAL || res == -EBADF || res == -ENOTSOCK) {
		s->fatal = res;
	}
	if (!s->accept_live && !s->fatal) {
		if (rest) {
			if (!arm_rest(s))
				s->accept_retry = true; /* will rest later */
		} else if (!arm_accept(s)) {
			s->accept_retry = true;
		}
	}
}

static void on_recv(struct uecho *s, struct conn *c, int res, unsigned flags)
{
	if (flags & IORING_CQE_F_BUFFER) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		s->st.bufs_held++;
		if (res > 0) {
			s->meta[bid].len = (uint32_t)res;
			s->meta[bid].off = 0;
			s->meta[bid].next = NIL;
			if (c->qt != NIL)
				s->meta[c->qt].next = (uint16_t)bid;
			else
				c->qh = (uint16_t)bid;
			c->qt = (uint16_t)bid;
			c->held++;
		} else {
			give_back(s, bid);
		}
	}
	if (res > 0)
		s->st.bytes_received += (uint64_t)res;
	else if (res == 0)
		c->eof = 1;
	else if (res == -ENOBUFS) {
		s->st.enobufs++;
		c->starved = 1;
	} else if (res != -ECANCELED)
		c->failed = 1;
	if (!(flags & IORING_CQE_F_MORE)) {
		c->recv_live = 0;
		c->recv_cxl = 0;
		c->refs--;
		s->inflight--;
	}
	kick(s, c);
}

static void on_send(struct uecho *s, struct conn *c, int res)
{
	c->send_live = 0;
	c->send_cxl = 0;
	c->refs--;
	s->inflight--;
	if (res > 0 && c->qh != NIL) {
		struct bufmeta *m = &s->meta[c->qh];

		s->st.bytes_sent += (uint64_t)res;
		m->off += (uint32_t)res;
		if (m->off >= m->len) {
			unsigned bid = c->qh;

			c->qh = m->next;
			if (c->qh == NIL)
				c->qt = NIL;
			c->held--;
			give_back(s, bid);
		}
	} else if (res < 0) {
		c->failed = 1;
	}
	kick(s, c);
}

static void on_cqe(struct uecho *s, uint64_t ud, int res, unsigned flags)
{
	struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)KIND_MASK);

	switch ((enum kind)(ud & KIND_MASK)) {
	case K_ACCEPT:
		on_accept(s, res, flags);
		break;
	case K_WAKE:
		s->wake_live = false;
		s->inflight--;
		break;
	case K_REST:
		s->rest_live = false;
		s->inflight--;
		if (!s->accept_live && !s->fatal && !arm_accept(s))
			s->accept_retry = true;
		break;
	case K_CANCEL:
		s->inflight--;
		if (c) {
			c->refs--;
			if (c->closing && c->refs == 0 && !c->recv_live && !c->send_live)
				conn_free(s, c);
		}
		break;
	case K_RECV:
		on_recv(s, c, res, flags);
		break;
	case K_SEND:
		on_send(s, c, res);
		break;
	default:
		s->inflight--;
		break;
	}
}

static void run_retries(struct uecho *s)
{
	struct conn *list = s->retry, *c;

	s->retry = NULL;
	while ((c = list)) {
		list = c->rnext;
		c->in_retry = 0;
		c->refs--;
		kick(s, c);
	}
	/* waiters: as many as there are free buffers (minus those woken) */
	for (;;) {
		unsigned freeb = s->nbufs - (unsigned)s->st.bufs_held;

		if (!s->whead || freeb <= s->woken)
			break;
		c = s->whead;
		wait_del(s, c);
		s->woken++;
		c->starved = 0;
		if (!arm_recv(s, c)) {
			defer(s, c);
			break;
		}
	}
	if (s->accept_retry && !s->accept_live && !s->rest_live && !s->fatal) {
		s->accept_retry = false;
		if (!arm_accept(s))
			s->accept_retry = true;
	}
}

int uecho_open(struct uecho **out, int listen_fd, const struct uecho_config *cfg)
{
	struct uecho_config c = { UECHO_DEFAULT_ENTRIES, UECHO_DEFAULT_NBUFS,
				  UECHO_DEFAULT_BUF_SIZE };
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	struct io_uring_probe *probe;
	struct io_uring_sqe *sqe;
	struct uecho *s;
	int type = 0, acc = 0, r;
	socklen_t l = sizeof type;
	long page;
	unsigned i;

	if (cfg) {
		if (cfg->entries)
			c.entries = cfg->entries;
		if (cfg->nbufs)
			c.nbufs = cfg->nbufs;
		if (cfg->buf_size)
			c.buf_size = cfg->buf_size;
	}
	if (!out || listen_fd < 0 || c.entries > UECHO_MAX_ENTRIES ||
	    c.nbufs < 2 || c.nbufs > UECHO_MAX_NBUFS || (c.nbufs & (c.nbufs - 1)) ||
	    c.buf_size > UECHO_MAX_BUF_SIZE)
		return -EINVAL;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &l))
		return -errno;
	l = sizeof acc;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l))
		return -errno;
	if (type != SOCK_STREAM || !acc)
		return -EINVAL;

	s = malloc(sizeof *s);
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof *s);
	s->listen_fd = listen_fd;
	s->nbufs = c.nbufs;
	s->buf_size = c.buf_size;
	s->mask = io_uring_buf_ring_mask(c.nbufs);
	s->map = MAP_FAILED;

	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		r = -errno;
		free(s);
		return r;
	}

	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = c.nbufs * 2 + c.entries * 2;
	if (p.cq_entries > 65536)
		p.cq_entries = 65536;
	r = io_uring_queue_init_params(c.entries, &s->ring, &p);
	if (r == -EINVAL) {
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = c.nbufs * 2 + c.entries * 2;
		if (p.cq_entries > 65536)
			p.cq_entries = 65536;
		r = io_uring_queue_init_params(c.entries, &s->ring, &p);
	}
	if (r < 0) {
		close(s->wake_fd);
		free(s);
		return r;
	}

	probe = io_uring_get_probe_ring(&s->ring);
	if (!probe) {
		r = -ENOMEM;
		goto fail;
	}
	i = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
	io_uring_free_probe(probe);
	if (!i) {
		r = -EOPNOTSUPP;
		goto fail;
	}

	/* one mapping: the ring's entries (page-aligned), then the buffers */
	page = sysconf(_SC_PAGESIZE);
	s->ring_bytes = ((size_t)c.nbufs * sizeof(struct io_uring_buf) + (size_t)page - 1) /
			(size_t)page * (size_t)page;
	s->map_bytes = s->ring_bytes + (size_t)c.nbufs * c.buf_size;
	s->map = mmap(NULL, s->map_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->map == MAP_FAILED) {
		r = -ENOMEM;
		goto fail;
	}
	s->br = s->map;
	s->bufs = (unsigned char *)s->map + s->ring_bytes;
	s->meta = calloc(c.nbufs, sizeof *s->meta);
	if (!s->meta) {
		r = -ENOMEM;
		goto fail;
	}
	io_uring_buf_ring_init(s->br);
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)s->br;
	reg.ring_entries = c.nbufs;
	reg.bgid = UECHO_BGID;
	r = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (r < 0)
		goto fail;
	s->registered = true;
	for (i = 0; i < c.nbufs; i++)
		io_uring_buf_ring_add(s->br, baddr(s, i), c.buf_size, (unsigned short)i, s->mask,
				      (int)i);
	io_uring_buf_ring_advance(s->br, (int)c.nbufs);

	if (!arm_accept(s)) {
		r = -EBUSY;
		goto fail;
	}
	sqe = sqe_get(s);
	if (!sqe) {
		r = -EBUSY;
		goto fail;
	}
	io_uring_prep_poll_add(sqe, s->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud_of(NULL, K_WAKE));
	s->wake_live = true;
	s->inflight++;
	r = io_uring_submit(&s->ring);
	if (r < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	if (s->registered)
		io_uring_unregister_buf_ring(&s->ring, UECHO_BGID);
	io_uring_queue_exit(&s->ring);
	if (s->map != MAP_FAILED)
		munmap(s->map, s->map_bytes);
	free(s->meta);
	close(s->wake_fd);
	free(s);
	return r;
}

int uecho_run_once(struct uecho *s, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	int r, n = 0;

	if (atomic_load(&s->stopping))
		return -ECANCELED;
	if (s->fatal)
		return s->fatal;

	s->woken = 0;
	run_retries(s);
	s->refused = false;
	r = io_uring_submit(&s->ring);
	if (r == -EAGAIN || r == -EBUSY)
		s->refused = true;
	else if (r < 0 && r != -EINTR)
		return r;
	/* Also while connections wait with buffers free: a woken one whose
	 * data is gone posts nothing, so no CQE may come to wake the rest. */
	if ((s->refused || s->retry || s->accept_retry ||
	     (s->whead && (unsigned)s->st.bufs_held < s->nbufs)) &&
	    (timeout_ms < 0 || timeout_ms > 5))
		timeout_ms = 5;

	if (timeout_ms == 0) {
		io_uring_get_events(&s->ring); /* DEFER_TASKRUN: post what is done */
	} else if (!io_uring_cq_ready(&s->ring)) {
		long long ms = timeout_ms;

		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000LL;
		r = io_uring_wait_cqe_timeout(&s->ring, &cqe, timeout_ms < 0 ? NULL : &ts);
		if (r == -EINTR)
			return -EINTR;
		if (r < 0 && r != -ETIME && r != -EAGAIN && r != -EBUSY)
			return r;
	}
	for (;;) {
		uint64_t ud;
		int res;
		unsigned flags;

		if (io_uring_peek_cqe(&s->ring, &cqe) != 0) {
			if (!io_uring_cq_has_overflow(&s->ring))
				break;
			io_uring_get_events(&s->ring);
			if (io_uring_peek_cqe(&s->ring, &cqe) != 0)
				break;
		}
		ud = cqe->user_data;
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&s->ring, cqe);
		on_cqe(s, ud, res, flags);
		n++;
	}
	run_retries(s);
	r = io_uring_submit(&s->ring);
	if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
		return r;
	if (s->fatal)
		return s->fatal;
	return n;
}

int uecho_run(struct uecho *s)
{
	int r;

	do
		r = uecho_run_once(s, -1);
	while (r >= 0 || r == -EINTR);
	return r == -ECANCELED ? 0 : r;
}

void uecho_stop(struct uecho *s)
{
	int e = errno;

	if (s) {
		atomic_store(&s->stopping, 1);
		if (eventfd_write(s->wake_fd, 1) < 0) {
			/* full counter: readable already */
		}
	}
	errno = e;
}

void uecho_stats(const struct uecho *s, struct uecho_stats *out)
{
	if (s && out)
		memcpy(out, &s->st, sizeof *out);
}

/* Tear-down bookkeeping for one CQE. */
static void down_cqe(struct uecho *s, uint64_t ud, int res, unsigned flags)
{
	struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)KIND_MASK);

	switch ((enum kind)(ud & KIND_MASK)) {
	case K_ACCEPT:
		if (res >= 0) {
			close(res);
			s->st.accepted++;
			s->st.closed++;
		}
		if (!(flags & IORING_CQE_F_MORE)) {
			s->accept_live = false;
			s->inflight--;
		}
		break;
	case K_RECV:
		if (res > 0)
			s->st.bytes_received += (uint64_t)res;
		if (flags & IORING_CQE_F_BUFFER)
			s->st.bufs_held++;
		if (!(flags & IORING_CQE_F_MORE)) {
			c->recv_live = 0;
			s->inflight--;
		}
		break;
	case K_SEND:
		if (res > 0)
			s->st.bytes_sent += (uint64_t)res;
		c->send_live = 0;
		s->inflight--;
		break;
	case K_WAKE:
		s->wake_live = false;
		s->inflight--;
		break;
	case K_REST:
		s->rest_live = false;
		s->inflight--;
		break;
	default:
		s->inflight--;
		break;
	}
}

static void cancel_everything(struct uecho *s)
{
	struct conn *c;
	struct io_uring_sqe *sqe;

	if (s->accept_live && (sqe = sqe_get(s))) {
		io_uring_prep_cancel64(sqe, ud_of(NULL, K_ACCEPT), 0);
		io_uring_sqe_set_data64(sqe, ud_of(NULL, K_NONE));
		s->inflight++;
	}
	if (s->rest_live && (sqe = sqe_get(s))) {
		io_uring_prep_timeout_remove(sqe, ud_of(NULL, K_REST), 0);
		io_uring_sqe_set_data64(sqe, ud_of(NULL, K_NONE));
		s->inflight++;
	}
	if (s->wake_live && (sqe = sqe_get(s))) {
		io_uring_prep_poll_remove(sqe, ud_of(NULL, K_WAKE));
		io_uring_sqe_set_data64(sqe, ud_of(NULL, K_NONE));
		s->inflight++;
	}
	for (c = s->all; c; c = c->next) {
		if (c->recv_live && (sqe = sqe_get(s))) {
			io_uring_prep_cancel64(sqe, ud_of(c, K_RECV), 0);
			io_uring_sqe_set_data64(sqe, ud_of(NULL, K_NONE));
			s->inflight++;
		}
		if (c->send_live && (sqe = sqe_get(s))) {
			io_uring_prep_cancel64(sqe, ud_of(c, K_SEND), 0);
			io_uring_sqe_set_data64(sqe, ud_of(NULL, K_NONE));
			s->inflight++;
		}
	}
	io_uring_submit(&s->ring);
}

static void drain(struct uecho *s, int ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	while (s->inflight) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { 0, 20 * 1000000 };

		if (io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts) == 0) {
			while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
				uint64_t ud = cqe->user_data;
				int res = cqe->res;
				unsigned flags = cqe->flags;

				io_uring_cqe_seen(&s->ring, cqe);
				down_cqe(s, ud, res, flags);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		if ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 > ms)
			break;
	}
}

void uecho_close(struct uecho *s)
{
	struct conn *c;
	bool clean;

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	cancel_everything(s);
	drain(s, 1000);
	if (s->inflight) {
		for (c = s->all; c; c = c->next)
			shutdown(c->fd, SHUT_RDWR);
		cancel_everything(s);
		drain(s, 1000);
	}
	clean = s->inflight == 0;
	while ((c = s->all)) {
		s->all = c->next;
		close(c->fd);
		s->st.closed++;
		s->st.conns_open--;
		free(c);
	}
	if (s->registered)
		io_uring_unregister_buf_ring(&s->ring, UECHO_BGID);
	io_uring_queue_exit(&s->ring);
	if (clean)
		munmap(s->map, s->map_bytes);
	free(s->meta);
	close(s->wake_fd);
	free(s);
}
