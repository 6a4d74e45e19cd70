/*
 * uecho.c - chapter 09, clean-room module A: written from the lesson, the
 * header, the skeleton and the man pages alone (no look at the reference
 * or the tests), by a colleague, as a careful learner would.
 *
 * Shape: the skeleton's suggested two halves. Reaping only updates state
 * and puts the connection on a FIFO "dirty" list; a step afterwards (also
 * at the start of the next turn when an SQE was missing) prepares what each
 * state asks for. The skeleton's slot table with generations finds a
 * connection from user_data. Buffers go back with io_uring_buf_ring_add at
 * successive offsets and are published once per turn (one advance). Every
 * connection that ends with -ENOBUFS, or finds the ring empty, goes on a
 * doubly linked waiting list; the step wakes as many as there are free
 * buffers. The wait is io_uring_submit_and_wait_timeout (submit + peek for
 * a timeout of 0); the reap is io_uring_for_each_cqe + io_uring_cq_advance.
 * The ring asks for COOP_TASKRUN (falls back without it), CQ of
 * max(2 * nbufs, 4 * entries) clamped. uecho_close cancels everything with
 * one IORING_ASYNC_CANCEL_ANY cancel, reaps for at most a second, then
 * shuts sockets down and tries again; buffers are unmapped only if every
 * request ended.
 */
#define _GNU_SOURCE
#include "uecho.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
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

/* Marks a given helper or a TODO's stub that nothing calls yet; it only
 * keeps -Wunused-function quiet. Leave it or drop it once you call them. */
#define NOT_YET_CALLED __attribute__((unused))

/* ----------------------------------------------------- given: user_data */

/*
 * Every SQE carries a user_data, and every CQE of it brings that value back:
 * it is the only way to know what a CQE is about. Here: the kind of request
 * in the low 8 bits, the connection's slot in the next 24, the slot's
 * generation in the top 32. Why a generation: a connection's slot is reused
 * once it is freed, and a CQE (a cancel's, say) may still name the old one;
 * freeing a slot bumps its generation, so ud_conn() of a stale user_data
 * finds nothing instead of the wrong connection. Add kinds as you need them
 * (a back-off timeout for the accept, TODO 5, for instance).
 */
enum kind {
	K_TIMER = 6,  /* the accept's rest after -EMFILE and friends */
	K_ACCEPT = 1, /* the multishot accept (TODOs 3, 5)          */
	K_WAKE,       /* the request on the stop eventfd (TODO 3)   */
	K_RECV,       /* a connection's multishot receive (TODO 5)  */
	K_SEND,       /* a connection's one send (TODO 7)           */
	K_CANCEL,     /* a cancel (TODOs 8, 9, 11)                  */
};

#define KIND_BITS 8
#define SLOT_BITS 24
#define MAX_SLOTS (1u << SLOT_BITS)
#define NO_SLOT UINT32_MAX

static NOT_YET_CALLED uint64_t make_ud(enum kind k, uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << (KIND_BITS + SLOT_BITS) | (uint64_t)slot << KIND_BITS | (uint64_t)k;
}

static NOT_YET_CALLED enum kind ud_kind(uint64_t ud)
{
	return (enum kind)(ud & ((1u << KIND_BITS) - 1));
}

/* -------------------------------------------------- sketched: the state */

#define NO_BID 0xFFFFu

/* One client: a small record. Its held buffers form a FIFO threaded
 * through the per-buffer next[] array of the server (q_head .. q_tail). */
struct conn {
	int fd;
	uint32_t slot;
	uint32_t gen;
	unsigned held;       /* buffers received, not yet given back        */
	uint32_t send_off;   /* bytes of the head buffer already sent       */
	uint16_t q_head, q_tail;
	bool recv_live;
	bool recv_cancelled;
	bool send_live;
	bool send_cancelled;
	bool eof;
	bool failed;
	bool starved;        /* its receive ended with -ENOBUFS             */
	bool waiting;        /* on the waiting list                         */
	bool dirty;          /* on the to-look-at list                      */
	struct conn *next_dirty;
	struct conn *wprev, *wnext;
};

struct slot {
	struct conn *conn; /* NULL: free */
	uint32_t gen;
	uint32_t next_free;
};

struct uecho {
	struct io_uring ring;
	int listen_fd;
	int wake_fd;

	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned char *bufs;
	size_t bufs_bytes;
	unsigned nbufs, buf_size;
	uint16_t *bnext;     /* per buffer: the next in its holder's queue  */
	uint32_t *blen;      /* per buffer: bytes the receive put there     */
	unsigned br_pending; /* entries added, not yet published            */
	bool br_registered;

	struct slot *slots;
	uint32_t nslots, free_slot;

	unsigned long inflight;
	bool accept_live;
	bool accept_rest;    /* rest before re-arming the accept            */
	bool timer_live;
	bool wake_live;
	bool sq_stuck;       /* work left for the next turn (no SQE)        */
	int fatal;
	struct __kernel_timespec rest_ts;
	struct uecho_stats st;
	atomic_int stopping;

	struct conn *dirty_head, *dirty_tail;
	struct conn *wait_head, *wait_tail;
};

/* ------------------------------------------------ given: the slot table */

/* A free slot for c (the table doubles when full); sets c->slot, c->gen.
 * 0, or -ENOMEM / -ENOSPC: then c has no slot and must not be served. */
static NOT_YET_CALLED int slot_get(struct uecho *s, struct conn *c)
{
	uint32_t i;

	if (s->free_slot == NO_SLOT) {
		uint32_t n = s->nslots ? s->nslots * 2 : 64;
		struct slot *t;

		if (s->nslots >= MAX_SLOTS)
			return -ENOSPC;
		if (n > MAX_SLOTS)
			n = MAX_SLOTS;
		t = realloc(s->slots, n * sizeof *t);
		if (!t)
			return -ENOMEM;
		/* New slots go on the free list, lowest first. */
		for (i = n; i-- > s->nslots;) {
			t[i].conn = NULL;
			t[i].gen = 0;
			t[i].next_free = s->free_slot;
			s->free_slot = i;
		}
		s->slots = t;
		s->nslots = n;
	}
	i = s->free_slot;
	s->free_slot = s->slots[i].next_free;
	s->slots[i].conn = c;
	c->slot = i;
	c->gen = s->slots[i].gen;
	return 0;
}

/* Free slot i; whatever still names its old generation misses from now on. */
static NOT_YET_CALLED void slot_put(struct uecho *s, uint32_t i)
{
	s->slots[i].conn = NULL;
	s->slots[i].gen++;
	s->slots[i].next_free = s->free_slot;
	s->free_slot = i;
}

/* The user_data of c's request of kind k. */
static NOT_YET_CALLED uint64_t conn_ud(const struct conn *c, enum kind k)
{
	return make_ud(k, c->slot, c->gen);
}

/* The connection a CQE's user_data names, or NULL if it is gone. */
static NOT_YET_CALLED struct conn *ud_conn(const struct uecho *s, uint64_t ud)
{
	uint32_t slot = (uint32_t)(ud >> KIND_BITS) & (MAX_SLOTS - 1);
	uint32_t gen = (uint32_t)(ud >> (KIND_BITS + SLOT_BITS));

	if (slot >= s->nslots || !s->slots[slot].conn || s->slots[slot].gen != gen)
		return NULL;
	return s->slots[slot].conn;
}

/* ------------------------------------------------------- given: helpers */

/*
 * An SQE, or NULL. When the SQ is full, hand what is queued to the kernel
 * (which empties the SQ) and try again. NULL only if that submit failed
 * (-EAGAIN/-EBUSY: the kernel is short of memory); keep the work for the
 * next turn instead of dropping it (chapter 06).
 */
static NOT_YET_CALLED struct io_uring_sqe *get_sqe(struct uecho *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (sqe)
		return sqe;
	if (io_uring_submit(&s->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&s->ring);
}

static NOT_YET_CALLED struct __kernel_timespec ms_to_ts(int ms)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (long long)(ms % 1000) * 1000000 };
	return ts;
}

/* ------------------------------------------------------------- the module */

static void mark(struct uecho *s, struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = NULL;
	if (s->dirty_tail)
		s->dirty_tail->next_dirty = c;
	else
		s->dirty_head = c;
	s->dirty_tail = c;
}

static void wait_push(struct uecho *s, struct conn *c)
{
	if (c->waiting)
		return;
	c->waiting = true;
	c->wnext = NULL;
	c->wprev = s->wait_tail;
	if (s->wait_tail)
		s->wait_tail->wnext = c;
	else
		s->wait_head = c;
	s->wait_tail = c;
}

static void wait_remove(struct uecho *s, struct conn *c)
{
	if (!c->waiting)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		s->wait_head = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		s->wait_tail = c->wprev;
	c->wprev = c->wnext = NULL;
	c->waiting = false;
}

static unsigned free_bufs(const struct uecho *s)
{
	return s->nbufs - (unsigned)s->st.bufs_held;
}

static unsigned char *buf_addr(const struct uecho *s, unsigned bid)
{
	return s->bufs + (size_t)bid * s->buf_size;
}

/* Give buffer bid back to the ring, whole; published at the end of the turn. */
static void buf_give_back(struct uecho *s, unsigned bid)
{
	io_uring_buf_ring_add(s->br, buf_addr(s, bid), s->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(s->nbufs), (int)s->br_pending);
	s->br_pending++;
	s->st.bufs_held--;
}

static void buf_publish(struct uecho *s)
{
	if (s->br_pending) {
		io_uring_buf_ring_advance(s->br, (int)s->br_pending);
		s->br_pending = 0;
	}
}

static void q_push(struct uecho *s, struct conn *c, unsigned bid, uint32_t len)
{
	s->blen[bid] = len;
	s->bnext[bid] = NO_BID;
	if (c->q_tail != NO_BID)
		s->bnext[c->q_tail] = (uint16_t)bid;
	else
		c->q_head = (uint16_t)bid;
	c->q_tail = (uint16_t)bid;
}

static unsigned q_pop(struct uecho *s, struct conn *c)
{
	unsigned bid = c->q_head;

	c->q_head = s->bnext[bid];
	if (c->q_head == NO_BID)
		c->q_tail = NO_BID;
	c->held--;
	return bid;
}

/* TODO 2 */
static int setup_buf_ring(struct uecho *s)
{
	struct io_uring_buf_reg reg;
	long page = sysconf(_SC_PAGESIZE);
	unsigned i, mask;
	int r;

	if (page <= 0)
		page = 4096;
	s->br_bytes = ((size_t)s->nbufs * sizeof(struct io_uring_buf) + (size_t)page - 1) &
		      ~((size_t)page - 1);
	s->br = mmap(NULL, s->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->br == MAP_FAILED) {
		s->br = NULL;
		return -ENOMEM;
	}
	if ((size_t)s->nbufs > SIZE_MAX / s->buf_size)
		return -EINVAL;
	s->bufs_bytes = (size_t)s->nbufs * s->buf_size;
	s->bufs = mmap(NULL, s->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->bufs == MAP_FAILED) {
		s->bufs = NULL;
		return -ENOMEM;
	}
	s->bnext = malloc(s->nbufs * sizeof *s->bnext);
	s->blen = malloc(s->nbufs * sizeof *s->blen);
	if (!s->bnext || !s->blen)
		return -ENOMEM;

	io_uring_buf_ring_init(s->br);
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)s->br;
	reg.ring_entries = s->nbufs;
	reg.bgid = UECHO_BGID;
	r = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (r < 0)
		return r;
	s->br_registered = true;
	mask = io_uring_buf_ring_mask(s->nbufs);
	for (i = 0; i < s->nbufs; i++)
		io_uring_buf_ring_add(s->br, buf_addr(s, i), s->buf_size, (unsigned short)i, mask,
				      (int)i);
	io_uring_buf_ring_advance(s->br, (int)s->nbufs);
	return 0;
}

static bool arm_wake(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_poll_add(sqe, s->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, make_ud(K_WAKE, 0, 0));
	s->wake_live = true;
	s->inflight++;
	return true;
}

static bool arm_accept(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, make_ud(K_ACCEPT, 0, 0));
	s->accept_live = true;
	s->inflight++;
	s->st.accept_armed++;
	return true;
}

/* TODO 3 */
static int arm_stop_and_accept(struct uecho *s)
{
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	if (!arm_wake(s) || !arm_accept(s))
		return -EBUSY;
	return 0;
}

static void conn_dead(struct uecho *s, struct conn *c)
{
	wait_remove(s, c);
	close(c->fd);
	slot_put(s, c->slot);
	free(c);
	s->st.closed++;
	s->st.conns_open--;
}

/* TODO 5 */
static void on_accept(struct uecho *s, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		s->accept_live = false;
		s->inflight--;
	}
	if (res >= 0) {
		struct conn *c = calloc(1, sizeof *c);

		s->st.accepted++;
		if (!c || slot_get(s, c) < 0) {
			free(c);
			close(res);
			s->st.closed++;
			return;
		}
		c->fd = res;
		c->q_head = c->q_tail = NO_BID;
		s->st.conns_open++;
		mark(s, c);
		return;
	}
	switch (-res) {
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		s->accept_rest = true;
		break;
	case EINVAL:
	case EBADF:
	case ENOTSOCK:
	case EOPNOTSUPP:
		s->fatal = res;
		break;
	default: /* ECONNABORTED and friends, ECANCELED: just re-arm */
		break;
	}
}

/* TODO 6 */
static void on_recv(struct uecho *s, struct conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		s->st.bufs_held++;
		if (res > 0) {
			c->held++;
			q_push(s, c, bid, (uint32_t)res);
		} else {
			buf_give_back(s, bid);
		}
	}
	if (res > 0)
		s->st.bytes_received += (uint64_t)res;
	else if (res == 0)
		c->eof = true;
	else if (res == -ENOBUFS) {
		s->st.enobufs++;
		c->starved = true;
	} else if (res != -ECANCELED)
		c->failed = true;
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		c->recv_live = false;
		c->recv_cancelled = false;
		s->inflight--;
	}
	mark(s, c);
}

/* TODO 7 */
static void on_send(struct uecho *s, struct conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	c->send_live = false;
	c->send_cancelled = false;
	s->inflight--;
	if (res > 0) {
		s->st.bytes_sent += (uint64_t)res;
		c->send_off += (uint32_t)res;
		if (c->q_head != NO_BID && c->send_off >= s->blen[c->q_head]) {
			buf_give_back(s, q_pop(s, c));
			c->send_off = 0;
		}
	} else if (res < 0 && res != -EAGAIN) {
		c->failed = true;
	}
	mark(s, c);
}

static bool prep_cancel(struct uecho *s, uint64_t target, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, target, 0);
	io_uring_sqe_set_data64(sqe, ud);
	s->inflight++;
	return true;
}

/* TODO 8 */
static int pause_if_full(struct uecho *s, struct conn *c)
{
	if (!c->recv_live || c->recv_cancelled || c->held < UECHO_HOLD_MAX(s->nbufs))
		return 0;
	if (!prep_cancel(s, conn_ud(c, K_RECV), conn_ud(c, K_CANCEL)))
		return -EAGAIN;
	c->recv_cancelled = true;
	s->st.paused++;
	return 0;
}

static bool arm_recv(struct uecho *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UECHO_BGID;
	io_uring_sqe_set_data64(sqe, conn_ud(c, K_RECV));
	c->recv_live = true;
	c->starved = false;
	s->inflight++;
	s->st.recv_armed++;
	return true;
}

/* TODO 9: returns 1 when the record is gone, 0 when it waits for CQEs,
 * -EAGAIN when no SQE was free. */
static int conn_close(struct uecho *s, struct conn *c)
{
	wait_remove(s, c);
	/* every held buffer no send reads from goes back */
	while (c->q_head != NO_BID) {
		if (c->send_live && c->held == 1)
			break;
		if (c->send_live) {
			/* keep the head (the send reads it); give back the next */
			unsigned nb = s->bnext[c->q_head];

			s->bnext[c->q_head] = s->bnext[nb];
			if (c->q_tail == nb)
				c->q_tail = c->q_head;
			c->held--;
			buf_give_back(s, nb);
		} else {
			buf_give_back(s, q_pop(s, c));
		}
	}
	if (!c->send_live)
		c->send_off = 0;
	if (c->recv_live && !c->recv_cancelled) {
		if (!prep_cancel(s, conn_ud(c, K_RECV), conn_ud(c, K_CANCEL)))
			return -EAGAIN;
		c->recv_cancelled = true;
	}
	if (c->send_live && !c->send_cancelled) {
		if (!prep_cancel(s, conn_ud(c, K_SEND), conn_ud(c, K_CANCEL)))
			return -EAGAIN;
		c->send_cancelled = true;
	}
	if (c->recv_live || c->send_live)
		return 0;
	conn_dead(s, c);
	return 1;
}

/* Look at one connection: prepare what its state asks for. false: no SQE. */
static bool conn_step(struct uecho *s, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->failed || (c->eof && c->q_head == NO_BID && !c->send_live)) {
		int r = conn_close(s, c);

		return r != -EAGAIN;
	}
	if (!c->send_live && c->q_head != NO_BID) {
		uint32_t len = s->blen[c->q_head] - c->send_off;

		sqe = get_sqe(s);
		if (!sqe)
			return false;
		io_uring_prep_send(sqe, c->fd, buf_addr(s, c->q_head) + c->send_off, len,
				   MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, conn_ud(c, K_SEND));
		c->send_live = true;
		s->inflight++;
	}
	if (pause_if_full(s, c) < 0)
		return false;
	if (!c->recv_live && !c->eof && !c->waiting && c->held < UECHO_HOLD_MAX(s->nbufs)) {
		if (c->starved || free_bufs(s) == 0)
			wait_push(s, c);
		else if (!arm_recv(s, c))
			return false;
	}
	return true;
}

/* The second half of a turn: everything the CQEs called for. */
static void step(struct uecho *s)
{
	struct conn *c;
	unsigned budget;

	s->sq_stuck = false;
	while ((c = s->dirty_head)) {
		s->dirty_head = c->next_dirty;
		if (!s->dirty_head)
			s->dirty_tail = NULL;
		c->dirty = false;
		if (!conn_step(s, c)) {
			/* no SQE: back at the head, looked at next turn */
			c->dirty = true;
			c->next_dirty = s->dirty_head;
			s->dirty_head = c;
			if (!s->dirty_tail)
				s->dirty_tail = c;
			s->sq_stuck = true;
			break;
		}
	}
	/* waiting connections: as many as there are free buffers */
	budget = free_bufs(s);
	while (!s->sq_stuck && budget && (c = s->wait_head)) {
		if (c->held >= UECHO_HOLD_MAX(s->nbufs)) {
			/* it waits for its own sends, not for buffers */
			wait_remove(s, c);
			c->starved = false;
			continue;
		}
		if (!arm_recv(s, c)) {
			s->sq_stuck = true;
			break;
		}
		wait_remove(s, c);
		budget--;
	}
	if (!s->sq_stuck && !s->accept_live && !s->timer_live && !s->fatal) {
		if (s->accept_rest) {
			struct io_uring_sqe *sqe = get_sqe(s);

			if (!sqe) {
				s->sq_stuck = true;
			} else {
				s->rest_ts.tv_sec = 0;
				s->rest_ts.tv_nsec = 10 * 1000000;
				io_uring_prep_timeout(sqe, &s->rest_ts, 0, 0);
				io_uring_sqe_set_data64(sqe, make_ud(K_TIMER, 0, 0));
				s->timer_live = true;
				s->accept_rest = false;
				s->inflight++;
			}
		} else if (!arm_accept(s)) {
			s->sq_stuck = true;
		}
	}
	buf_publish(s);
}

static void on_cqe(struct uecho *s, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct conn *c;

	switch (ud_kind(ud)) {
	case K_ACCEPT:
		on_accept(s, cqe);
		break;
	case K_WAKE:
		s->wake_live = false;
		s->inflight--;
		break;
	case K_TIMER:
		s->timer_live = false;
		s->inflight--;
		break;
	case K_CANCEL:
		s->inflight--;
		break;
	case K_RECV:
		c = ud_conn(s, ud);
		if (c)
			on_recv(s, c, cqe);
		else if (!(cqe->flags & IORING_CQE_F_MORE))
			s->inflight--;
		break;
	case K_SEND:
		c = ud_conn(s, ud);
		if (c)
			on_send(s, c, cqe);
		else
			s->inflight--;
		break;
	}
}

/* Every CQE in the CQ, each once; returns how many. */
static int reap(struct uecho *s)
{
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int total = 0;

	do {
		n = 0;
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			on_cqe(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);
		total += (int)n;
	} while (n && io_uring_cq_ready(&s->ring));
	if (io_uring_cq_has_overflow(&s->ring)) {
		/* let the kernel flush what it kept aside, and take it too */
		io_uring_get_events(&s->ring);
		total += reap(s);
	}
	return total;
}

int uecho_open(struct uecho **out, int listen_fd, const struct uecho_config *cfg)
{
	struct io_uring_params p;
	struct io_uring_probe *probe;
	struct uecho *s;
	unsigned entries = cfg && cfg->entries ? cfg->entries : UECHO_DEFAULT_ENTRIES;
	unsigned nbufs = cfg && cfg->nbufs ? cfg->nbufs : UECHO_DEFAULT_NBUFS;
	unsigned buf_size = cfg && cfg->buf_size ? cfg->buf_size : UECHO_DEFAULT_BUF_SIZE;
	int val = 0;
	socklen_t len = sizeof val;
	unsigned cq;
	bool ok;
	int r;

	if (!out || listen_fd < 0)
		return -EINVAL;
	if (entries > UECHO_MAX_ENTRIES || nbufs < 2 || nbufs > UECHO_MAX_NBUFS ||
	    (nbufs & (nbufs - 1)) || buf_size > UECHO_MAX_BUF_SIZE)
		return -EINVAL;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0)
		return -errno;
	if (!val)
		return -EINVAL;
	len = sizeof val;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0)
		return -errno;
	if (val != SOCK_STREAM)
		return -EINVAL;

	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->wake_fd = -1;
	s->nbufs = nbufs;
	s->buf_size = buf_size;
	s->free_slot = NO_SLOT;
	atomic_init(&s->stopping, 0);

	cq = 2 * nbufs;
	if (cq < 4 * entries)
		cq = 4 * entries;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = cq;
	r = io_uring_queue_init_params(entries, &s->ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof p);
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = cq;
		r = io_uring_queue_init_params(entries, &s->ring, &p);
	}
	if (r < 0) {
		free(s);
		return r;
	}
	probe = io_uring_get_probe_ring(&s->ring);
	if (!probe) {
		r = -ENOMEM;
		goto fail;
	}
	ok = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
	io_uring_free_probe(probe);
	if (!ok) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	r = setup_buf_ring(s);
	if (r < 0)
		goto fail;
	r = arm_stop_and_accept(s);
	if (r < 0)
		goto fail;
	r = io_uring_submit(&s->ring);
	if (r < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	if (s->br_registered)
		io_uring_unregister_buf_ring(&s->ring, UECHO_BGID);
	io_uring_queue_exit(&s->ring);
	if (s->bufs)
		munmap(s->bufs, s->bufs_bytes);
	if (s->br)
		munmap(s->br, s->br_bytes);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->bnext);
	free(s->blen);
	free(s);
	return r;
}

int uecho_run_once(struct uecho *s, int timeout_ms)
{
	struct io_uring_cqe *cqe = NULL;
	struct __kernel_timespec ts;
	int r, n;

	if (atomic_load(&s->stopping))
		return -ECANCELED;
	if (s->fatal)
		return s->fatal;
	if (s->dirty_head)
		step(s);
	/* Work left for lack of an SQE, or connections waiting with buffers
	 * free (a woken one whose data is gone posts nothing, so no CQE may
	 * come to wake the rest): look again soon. */
	if ((s->sq_stuck || (s->wait_head && free_bufs(s) > 0)) &&
	    (timeout_ms < 0 || timeout_ms > 10))
		timeout_ms = 10;

	if (timeout_ms == 0) {
		r = io_uring_submit(&s->ring);
		if (r == -EAGAIN || r == -EBUSY)
			r = 0;
	} else {
		ts = ms_to_ts(timeout_ms);
		r = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1,
						     timeout_ms < 0 ? NULL : &ts, NULL);
		if (r == -EAGAIN || r == -EBUSY) {
			/* the kernel refused the submit: wait for a completion
			 * instead of trying again at once */
			ts = ms_to_ts(timeout_ms < 0 || timeout_ms > 10 ? 10 : timeout_ms);
			r = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
		}
		if (r == -ETIME)
			r = 0;
	}
	if (r == -EINTR)
		return -EINTR;
	if (r < 0 && r != -EAGAIN && r != -EBUSY)
		return r;

	n = reap(s);
	step(s);
	r = io_uring_submit(&s->ring);
	if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
		return r;
	if (s->fatal)
		return s->fatal;
	return n;
}

/* TODO 10 */
int uecho_run(struct uecho *s)
{
	for (;;) {
		int r = uecho_run_once(s, -1);

		if (r == -ECANCELED)
			return 0;
		if (r == -EINTR || r >= 0)
			continue;
		return r;
	}
}

void uecho_stop(struct uecho *s)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t w;

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	w = write(s->wake_fd, &one, sizeof one);
	(void)w;
	errno = saved;
}

void uecho_stats(const struct uecho *s, struct uecho_stats *out)
{
	if (!s || !out)
		return;
	*out = s->st;
}

/* During the tear-down: only the bookkeeping of what is in flight. */
static void close_cqe(struct uecho *s, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum kind k = ud_kind(ud);
	struct conn *c;

	if (k == K_ACCEPT) {
		if (cqe->res >= 0) {
			close(cqe->res);
			s->st.accepted++;
			s->st.closed++;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			s->accept_live = false;
			s->inflight--;
		}
		return;
	}
	if (k == K_RECV) {
		c = ud_conn(s, ud);
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			if (cqe->res > 0)
				s->st.bytes_received += (uint64_t)cqe->res;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			if (c)
				c->recv_live = false;
			s->inflight--;
		}
		return;
	}
	if (k == K_SEND) {
		c = ud_conn(s, ud);
		if (c)
			c->send_live = false;
		if (cqe->res > 0)
			s->st.bytes_sent += (uint64_t)cqe->res;
	}
	if (k == K_WAKE)
		s->wake_live = false;
	if (k == K_TIMER)
		s->timer_live = false;
	s->inflight--;
}

static void close_reap_for(struct uecho *s, int ms)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (s->inflight) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = ms_to_ts(50);
		unsigned head, n = 0;
		long el;

		io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			close_cqe(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (el > ms)
			break;
	}
}

/* TODO 11 */
void uecho_close(struct uecho *s)
{
	struct io_uring_sqe *sqe;
	uint32_t i;
	bool clean;

	if (!s)
		return;
	/* publish nothing more; cancel every request in one go */
	s->stopping = 1;
	if (s->inflight) {
		sqe = get_sqe(s);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data64(sqe, make_ud(K_CANCEL, 0, 0));
			s->inflight++;
		}
		io_uring_submit(&s->ring);
		close_reap_for(s, 1000);
	}
	if (s->inflight) {
		/* a request the cancel could not end: shut its socket down */
		for (i = 0; i < s->nslots; i++)
			if (s->slots[i].conn)
				shutdown(s->slots[i].conn->fd, SHUT_RDWR);
		sqe = get_sqe(s);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data64(sqe, make_ud(K_CANCEL, 0, 0));
			s->inflight++;
		}
		io_uring_submit(&s->ring);
		close_reap_for(s, 1000);
	}
	clean = s->inflight == 0;
	for (i = 0; i < s->nslots; i++) {
		struct conn *c = s->slots[i].conn;

		if (!c)
			continue;
		close(c->fd);
		s->st.closed++;
		s->st.conns_open--;
		free(c);
		s->slots[i].conn = NULL;
	}
	free(s->slots);
	if (s->br_registered)
		io_uring_unregister_buf_ring(&s->ring, UECHO_BGID);
	io_uring_queue_exit(&s->ring);
	if (clean) {
		munmap(s->bufs, s->bufs_bytes);
		munmap(s->br, s->br_bytes);
	}
	close(s->wake_fd);
	free(s->bnext);
	free(s->blen);
	free(s);
}
