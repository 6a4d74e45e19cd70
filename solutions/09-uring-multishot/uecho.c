/*
 * uecho.c - chapter 09 reference: an echo server on one io_uring, built on
 * a multishot accept, one multishot receive per connection and a ring of
 * provided buffers shared by every connection.
 *
 * The loop has two halves, and they never mix:
 *
 *   reap   take each CQE off the CQ and update the state it speaks about
 *          (a connection's queue, its "receive in the kernel" flag, the
 *          counters). A handler prepares no SQE; it marks the connection
 *          dirty.
 *   step   for each dirty connection, compare what it needs with what is in
 *          the kernel and prepare the SQEs that close the gap: the next
 *          send, a receive to re-arm, a cancel, or the final close.
 *          Then the same for the listener (re-arm the accept).
 *
 * Because every request is derived from state, "no SQE free right now" is
 * never a lost request: the connection simply stays dirty and is stepped
 * again on the next turn.
 *
 * A connection's life:
 *
 *   accepted --> recv armed --data--> queue of held buffers --send--> ...
 *        ^           |                  |                        |
 *        |           | -ENOBUFS / end   | holds >= HOLD_MAX:     | send done:
 *        |           v                  | cancel the receive     | give the
 *        +---- waiting for buffers      v  (paused)              | buffer back
 *                                                                v
 *   EOF (recv res 0): send what is queued, then close.
 *   error: give back what is not being sent, cancel what is in the kernel,
 *          close once nothing of it is in flight.
 *
 * user_data: kind (8 bits) | slot (24 bits) | generation (32 bits). A
 * connection lives in a slot of s->slots; freeing it bumps the slot's
 * generation, so a request that names an old generation (a cancel still on
 * its way, say) can never reach the connection that reuses the slot. On top
 * of that a connection is only freed once no receive or send of it is in
 * the kernel, so its own CQEs always find it.
 *
 * The queue of a connection costs it nothing: it is threaded through
 * s->chunks, one entry per buffer id (a buffer is held by one connection at
 * a time), so an idle connection is just its small record and its slot.
 */
#define _GNU_SOURCE
#include "uecho.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Kinds of request, in the low 8 bits of user_data. */
enum kind {
	K_ACCEPT = 1, /* the multishot accept                       */
	K_WAKE,       /* the poll on the stop eventfd               */
	K_BACKOFF,    /* a timeout before the accept is re-armed    */
	K_RECV,       /* a connection's multishot receive           */
	K_SEND,       /* a connection's one send                    */
	K_CANCEL,     /* a cancel (its own CQE carries no news)     */
};

#define KIND_BITS 8
#define SLOT_BITS 24
#define MAX_SLOTS (1u << SLOT_BITS)
#define NO_SLOT UINT32_MAX
#define NO_BUF (-1)

/* How long the accept rests after the process or the kernel ran out of
 * descriptors or memory (chapter 04 waits as long). Retrying at once would
 * fail at once, again and again: the connection stays in the backlog. */
#define BACKOFF_NS (10 * 1000 * 1000L)

/* How often a turn that could not get an SQE (the kernel refused a submit
 * for lack of memory) tries again. A wait, not a spin. */
#define RETRY_MS 10

/* uecho_close waits at most this long for the kernel to give back every
 * request; after half of it, it shuts the client sockets down, which ends
 * any receive or send that a cancel could not. */
#define CLOSE_WAIT_MS 2000
#define CLOSE_POLL_MS 50

/* One held buffer in a connection's queue: bytes [off, off + len) of
 * buffer <its id> are still to be sent. */
struct chunk {
	uint32_t off;
	uint32_t len;
	int32_t next; /* next buffer id of the same queue, or NO_BUF */
};

struct conn {
	int fd;
	uint32_t slot;
	uint32_t gen;          /* the slot's generation when we got it     */
	unsigned held;         /* buffers received and not yet given back  */
	int32_t q_head, q_tail; /* FIFO of held buffers (ids), or NO_BUF    */
	bool recv_live;        /* a receive is in the kernel               */
	bool recv_cancelled;   /* ... and a cancel for it has been sent    */
	bool send_live;        /* a send is in the kernel                  */
	bool send_cancelled;
	bool eof;              /* the client will send nothing more        */
	bool failed;           /* the socket failed: close as soon as idle */
	bool dirty;            /* on s->dirty, to be stepped               */
	bool starved;          /* its receive ended with -ENOBUFS          */
	bool waiting;          /* on a waiting list, for buffers           */
	struct conn *dirty_next;
	struct conn *wait_prev, *wait_next;
};

struct wait_list {
	struct conn *head, *tail;
};

struct slot {
	struct conn *conn; /* NULL: free */
	uint32_t gen;
	uint32_t next_free;
};

struct uecho {
	struct io_uring ring;
	bool ring_live;
	int listen_fd;
	int wake_fd; /* eventfd written by uecho_stop */

	/* The buffer ring (entries the kernel picks from) and the buffers. */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned char *bufs;
	size_t bufs_bytes;
	bool br_registered;
	unsigned nbufs, buf_size;
	struct chunk *chunks; /* nbufs entries, by buffer id */

	struct slot *slots;
	uint32_t nslots, free_slot;

	struct conn *dirty; /* to step at the end of the turn */
	/* Connections whose receive is to be armed once the ring has
	 * buffers: those that found it empty (-ENOBUFS: data is waiting) and
	 * the others (no receive yet, or one that ended while it was empty). */
	struct wait_list starved, fresh;

	unsigned long inflight; /* requests in the kernel (SQEs made, final CQE not yet seen) */
	bool accept_live, backoff_live, wake_live;
	bool accept_backoff; /* the accept rests until the timeout fires */
	int fatal;           /* the loop cannot go on: returned by run_once */

	struct __kernel_timespec backoff_ts;
	struct uecho_stats st;
	atomic_int stopping;
};

/* ------------------------------------------------------------- requests */

static uint64_t make_ud(enum kind k, uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << (KIND_BITS + SLOT_BITS) | (uint64_t)slot << KIND_BITS | (uint64_t)k;
}

static enum kind ud_kind(uint64_t ud)
{
	return (enum kind)(ud & ((1u << KIND_BITS) - 1));
}

static uint64_t conn_ud(const struct conn *c, enum kind k)
{
	return make_ud(k, c->slot, c->gen);
}

/* The connection a CQE belongs to, or NULL if its generation is gone. */
static struct conn *ud_conn(const struct uecho *s, uint64_t ud)
{
	uint32_t slot = (uint32_t)(ud >> KIND_BITS) & (MAX_SLOTS - 1);
	uint32_t gen = (uint32_t)(ud >> (KIND_BITS + SLOT_BITS));

	if (slot >= s->nslots || !s->slots[slot].conn || s->slots[slot].gen != gen)
		return NULL;
	return s->slots[slot].conn;
}

/*
 * An SQE, or NULL. When the SQ is full, hand what is queued to the kernel
 * (which empties the SQ) and try again. NULL only if that submit failed
 * (-EAGAIN/-EBUSY: the kernel is short of memory); the caller keeps its
 * work for the next turn instead of dropping it.
 */
static struct io_uring_sqe *get_sqe(struct uecho *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (sqe)
		return sqe;
	if (io_uring_submit(&s->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&s->ring);
}

/* Every prepared SQE is one more request in flight until its final CQE
 * (the one without IORING_CQE_F_MORE); uecho_close waits for all of them. */
static void tag(struct uecho *s, struct io_uring_sqe *sqe, uint64_t ud)
{
	io_uring_sqe_set_data64(sqe, ud);
	s->inflight++;
}

/* ------------------------------------------------------------- buffers */

static unsigned char *buf_addr(const struct uecho *s, int32_t bid)
{
	return s->bufs + (size_t)bid * s->buf_size;
}

/* Hand buffer bid back to the kernel. Its whole length again: what the
 * last receive put there is not our business any more. */
static void give_back(struct uecho *s, int32_t bid)
{
	io_uring_buf_ring_add(s->br, buf_addr(s, bid), s->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(s->nbufs), 0);
	/* A release store of the tail: the kernel sees the entry complete. */
	io_uring_buf_ring_advance(s->br, 1);
	s->st.bufs_held--;
}

/* Buffers the ring has for the kernel, as far as the CQEs we have seen
 * tell. (The kernel may have taken more whose CQEs are still coming: then
 * one receive gets -ENOBUFS, and the CQE that told us is handled next turn.) */
static unsigned bufs_free(const struct uecho *s)
{
	return s->nbufs - (unsigned)s->st.bufs_held;
}

/* ------------------------------------------------------------- lists */

static void mark_dirty(struct uecho *s, struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = s->dirty;
	s->dirty = c;
}

static struct wait_list *wait_list_of(struct uecho *s, const struct conn *c)
{
	return c->starved ? &s->starved : &s->fresh;
}

static void wait_add(struct uecho *s, struct conn *c)
{
	struct wait_list *l = wait_list_of(s, c);

	if (c->waiting)
		return;
	c->waiting = true;
	c->wait_next = NULL;
	c->wait_prev = l->tail;
	if (l->tail)
		l->tail->wait_next = c;
	else
		l->head = c;
	l->tail = c;
}

static void wait_remove(struct uecho *s, struct conn *c)
{
	struct wait_list *l = wait_list_of(s, c);

	if (!c->waiting)
		return;
	if (c->wait_prev)
		c->wait_prev->wait_next = c->wait_next;
	else
		l->head = c->wait_next;
	if (c->wait_next)
		c->wait_next->wait_prev = c->wait_prev;
	else
		l->tail = c->wait_prev;
	c->waiting = false;
	c->wait_prev = c->wait_next = NULL;
}

/* ------------------------------------------------------------- queue */

static void queue_push(struct uecho *s, struct conn *c, int32_t bid, uint32_t len)
{
	struct chunk *ch = &s->chunks[bid];

	ch->off = 0;
	ch->len = len;
	ch->next = NO_BUF;
	if (c->q_tail != NO_BUF)
		s->chunks[c->q_tail].next = bid;
	else
		c->q_head = bid;
	c->q_tail = bid;
}

/* Take the head buffer off the queue and give it back to the ring. */
static void queue_pop(struct uecho *s, struct conn *c)
{
	int32_t bid = c->q_head;

	c->q_head = s->chunks[bid].next;
	if (c->q_head == NO_BUF)
		c->q_tail = NO_BUF;
	c->held--;
	give_back(s, bid);
}

/* Give back every held buffer no send is reading from. The head stays
 * while its send is in the kernel: the kernel may still be reading it. */
static void queue_drop(struct uecho *s, struct conn *c)
{
	int32_t keep = c->send_live ? c->q_head : NO_BUF;

	while (c->q_head != NO_BUF && c->q_head != keep)
		queue_pop(s, c);
	if (keep != NO_BUF) {
		int32_t bid = s->chunks[keep].next;

		while (bid != NO_BUF) {
			int32_t next = s->chunks[bid].next;

			c->held--;
			give_back(s, bid);
			bid = next;
		}
		s->chunks[keep].next = NO_BUF;
		c->q_tail = keep;
	}
}

/* ------------------------------------------------------------- connections */

static void conn_fail(struct uecho *s, struct conn *c)
{
	c->failed = true;
	queue_drop(s, c);
	wait_remove(s, c);
}

static int slot_get(struct uecho *s, struct conn *c)
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

static void slot_put(struct uecho *s, uint32_t i)
{
	s->slots[i].conn = NULL;
	s->slots[i].gen++; /* whatever still names the old generation misses */
	s->slots[i].next_free = s->free_slot;
	s->free_slot = i;
}

/* Nothing of c is in the kernel any more: close and forget it. */
static void conn_free(struct uecho *s, struct conn *c)
{
	while (c->q_head != NO_BUF)
		queue_pop(s, c);
	wait_remove(s, c);
	close(c->fd);
	slot_put(s, c->slot);
	free(c);
	s->st.conns_open--;
	s->st.closed++;
}

static void conn_new(struct uecho *s, int fd)
{
	struct conn *c = calloc(1, sizeof *c);

	s->st.accepted++;
	if (!c || slot_get(s, c) < 0) {
		/* No memory to serve it: the client sees the close at once. */
		free(c);
		close(fd);
		s->st.closed++;
		return;
	}
	c->fd = fd;
	c->q_head = c->q_tail = NO_BUF;
	s->st.conns_open++;
	mark_dirty(s, c); /* the step arms its receive */
}

/* ------------------------------------------------------------- steps */

static int prep_cancel(struct uecho *s, uint64_t target)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return -EAGAIN;
	io_uring_prep_cancel64(sqe, target, 0);
	tag(s, sqe, make_ud(K_CANCEL, 0, 0));
	return 0;
}

static int prep_send(struct uecho *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	const struct chunk *ch = &s->chunks[c->q_head];

	if (!sqe)
		return -EAGAIN;
	/* From the ring buffer itself: no copy. MSG_NOSIGNAL: a client that
	 * is gone gives -EPIPE in the CQE, not a SIGPIPE for the process. */
	io_uring_prep_send(sqe, c->fd, buf_addr(s, c->q_head) + ch->off, ch->len, MSG_NOSIGNAL);
	tag(s, sqe, conn_ud(c, K_SEND));
	c->send_live = true;
	return 0;
}

static int prep_recv(struct uecho *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return -EAGAIN;
	/* No buffer of ours: the kernel picks one from group UECHO_BGID for
	 * each piece of data, when the data is there (len 0: the whole
	 * buffer). */
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UECHO_BGID;
	tag(s, sqe, conn_ud(c, K_RECV));
	c->recv_live = true;
	c->recv_cancelled = false;
	s->st.recv_armed++;
	return 0;
}

/* Cancel c's receive, once per receive. */
static int cancel_recv(struct uecho *s, struct conn *c)
{
	int r;

	if (!c->recv_live || c->recv_cancelled)
		return 0;
	r = prep_cancel(s, conn_ud(c, K_RECV));
	if (r == 0)
		c->recv_cancelled = true;
	return r;
}

/*
 * Bring c's requests in line with its state. Returns 0, 1 when c has been
 * freed, or -EAGAIN when no SQE could be had (c stays dirty for the next
 * turn).
 */
static int conn_step(struct uecho *s, struct conn *c)
{
	int r;

	if (c->failed) {
		/* Everything of it must come back before the fd is closed and
		 * the record freed; cancel is the way to hurry it. */
		r = cancel_recv(s, c);
		if (r == 0 && c->send_live && !c->send_cancelled) {
			r = prep_cancel(s, conn_ud(c, K_SEND));
			if (r == 0)
				c->send_cancelled = true;
		}
		if (r < 0)
			return r;
		if (c->recv_live || c->send_live)
			return 0;
		conn_free(s, c);
		return 1;
	}

	/* One send at a time keeps the bytes in order. */
	if (!c->send_live && c->q_head != NO_BUF) {
		r = prep_send(s, c);
		if (r < 0)
			return r;
	}

	if (c->eof) {
		/* Nothing more will come: no receive is needed (a live one
		 * after EOF cannot happen, but would keep the fd busy). */
		r = cancel_recv(s, c);
		if (r < 0)
			return r;
		if (c->recv_live || c->send_live || c->q_head != NO_BUF)
			return 0;
		conn_free(s, c); /* everything echoed: the client sees EOF */
		return 1;
	}

	if (c->recv_live) {
		/* Flow control: a client that does not read its echo must not
		 * take the whole ring. Data still in flight after the cancel
		 * is echoed like any other. */
		if (c->held >= UECHO_HOLD_MAX(s->nbufs) && !c->recv_cancelled) {
			r = cancel_recv(s, c);
			if (r < 0)
				return r;
			s->st.paused++;
		}
		return 0;
	}

	/* The receive has ended: arm it again, unless c holds too much (a
	 * finished send will make it dirty again) or the ring is empty (it
	 * would end at once with -ENOBUFS: a busy loop). A starved one waits
	 * for its turn (see wake_waiters). */
	if (c->held >= UECHO_HOLD_MAX(s->nbufs))
		return 0;
	if (bufs_free(s) == 0 || c->starved) {
		wait_add(s, c);
		return 0;
	}
	wait_remove(s, c); /* stepped for another reason while it waited */
	return prep_recv(s, c);
}

static int prep_accept(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return -EAGAIN;
	/* Accept flags go in the prep's flags argument (accept4 style):
	 * every accepted socket is close-on-exec from birth. */
	io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	tag(s, sqe, make_ud(K_ACCEPT, 0, 0));
	s->accept_live = true;
	s->st.accept_armed++;
	return 0;
}

static int prep_backoff(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return -EAGAIN;
	s->backoff_ts.tv_sec = 0;
	s->backoff_ts.tv_nsec = BACKOFF_NS;
	io_uring_prep_timeout(sqe, &s->backoff_ts, 0, 0);
	tag(s, sqe, make_ud(K_BACKOFF, 0, 0));
	s->backoff_live = true;
	return 0;
}

static int prep_wake(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return -EAGAIN;
	/* A poll, not a read: nothing to consume, and a poll does not care
	 * that the eventfd is non-blocking. */
	io_uring_prep_poll_add(sqe, s->wake_fd, POLLIN);
	tag(s, sqe, make_ud(K_WAKE, 0, 0));
	s->wake_live = true;
	return 0;
}

/* The listener's part of the step. */
static int server_step(struct uecho *s)
{
	if (!s->wake_live && !atomic_load(&s->stopping)) {
		int r = prep_wake(s);

		if (r < 0)
			return r;
	}
	if (s->accept_live || s->fatal)
		return 0;
	if (s->accept_backoff)
		return s->backoff_live ? 0 : prep_backoff(s);
	return prep_accept(s);
}

/*
 * Buffers are back: let waiting connections arm their receive again. Those
 * that found the ring empty have data waiting and will each take a buffer
 * at once, so only as many of them as there are free buffers get a turn,
 * oldest first (re-arming all of them for one buffer would make all but
 * one fail again at once: a storm of -ENOBUFS). One armed with data waiting
 * completes at once, so the next turn comes; one whose data is gone by now
 * posts nothing, so uecho_run_once keeps its wait short while some wait
 * with buffers free. The others cost nothing while they wait for data, so
 * they all go.
 */
static bool wake_waiters(struct uecho *s)
{
	unsigned budget = bufs_free(s);
	bool woke = false;

	if (budget == 0)
		return false;
	while (s->fresh.head) {
		struct conn *c = s->fresh.head;

		wait_remove(s, c);
		mark_dirty(s, c);
		woke = true;
	}
	while (s->starved.head && budget-- > 0) {
		struct conn *c = s->starved.head;

		wait_remove(s, c);
		c->starved = false;
		mark_dirty(s, c);
		woke = true;
	}
	return woke;
}

/* Step every dirty connection. -EAGAIN: out of SQEs, the rest stays dirty. */
static int step_dirty(struct uecho *s)
{
	while (s->dirty) {
		struct conn *c = s->dirty;
		int r;

		s->dirty = c->dirty_next;
		c->dirty = false;
		r = conn_step(s, c);
		if (r == -EAGAIN) {
			mark_dirty(s, c);
			return r;
		}
	}
	return 0;
}

/* The end of a turn: turn state into requests. Returns -EAGAIN if some
 * work is left for the next turn. */
static int step(struct uecho *s)
{
	int r = step_dirty(s);

	/* After the dirty ones, which may have joined a waiting list just
	 * now: nothing else may come to wake them. Woken ones are armed (the
	 * ring has buffers), so this settles in one more pass. */
	if (r == 0 && wake_waiters(s))
		r = step_dirty(s);
	if (r < 0)
		return r;
	return server_step(s);
}

/* ------------------------------------------------------------- completions */

/* Which accept errors a retry cures, and how soon. */
static void on_accept(struct uecho *s, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		s->accept_live = false; /* the kernel ended it: re-armed by the step */
	if (cqe->res >= 0) {
		conn_new(s, cqe->res);
		return;
	}
	switch (-cqe->res) {
	case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
		/* Out of descriptors or memory. The connection stays in the
		 * backlog, so an accept now fails again at once: rest first
		 * (descriptors come back as clients leave). */
		s->accept_backoff = true;
		break;
	case EBADF: case ENOTSOCK: case EINVAL: case EFAULT:
		/* The listening socket itself is broken (closed behind our
		 * back, or not listening): nothing to serve any more. */
		s->fatal = cqe->res;
		break;
	case ECONNABORTED: case EINTR: case EAGAIN: case ECANCELED:
	case EPROTO: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
	case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case EOPNOTSUPP:
	case EPERM:
		/* That one connection is lost (accept(2), NOTES: treat like
		 * EAGAIN); the next one is fine. Each such error used up a
		 * backlog entry, so re-arming at once cannot spin. */
		break;
	default:
		/* Unknown: rest rather than risk failing again and again. */
		s->accept_backoff = true;
		break;
	}
}

static void on_recv(struct uecho *s, struct conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_live = false;
	/* A buffer only when the flag says so: an error or EOF carries none,
	 * and its upper 16 bits mean nothing. */
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		int32_t bid = (int32_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		s->st.bufs_held++;
		if (res > 0)
			s->st.bytes_received += (unsigned)res;
		if (res > 0 && !c->failed) {
			c->held++;
			queue_push(s, c, bid, (uint32_t)res);
		} else {
			give_back(s, bid); /* nothing to echo from it */
		}
	}
	if (res == 0) {
		c->eof = true;
	} else if (res < 0) {
		switch (-res) {
		case ENOBUFS:
			s->st.enobufs++; /* re-armed once buffers are back */
			c->starved = true;
			break;
		case ECANCELED: /* our cancel (flow control) */
		case EINTR:
		case EAGAIN:
			break;
		default: /* -ECONNRESET, -ETIMEDOUT, ...: the client is gone */
			conn_fail(s, c);
			break;
		}
	}
	mark_dirty(s, c);
}

static void on_send(struct uecho *s, struct conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	c->send_live = false;
	c->send_cancelled = false;
	if (res > 0) {
		struct chunk *ch = &s->chunks[c->q_head];

		s->st.bytes_sent += (unsigned)res;
		/* A short send: the rest of the buffer goes in the next one. */
		ch->off += (uint32_t)res;
		ch->len -= (uint32_t)res;
		if (ch->len == 0)
			queue_pop(s, c); /* its last byte is out: back to the ring */
	} else if (res != -EINTR && res != -EAGAIN) {
		/* -EPIPE, -ECONNRESET, -ECANCELED; 0 for a non-empty send
		 * cannot happen on a stream socket, and retrying it would
		 * loop. */
		conn_fail(s, c);
	}
	if (c->failed)
		queue_drop(s, c); /* the head is free to go now */
	mark_dirty(s, c);
}

static void handle_cqe(struct uecho *s, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	struct conn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		s->inflight--;
	switch (ud_kind(ud)) {
	case K_ACCEPT:
		on_accept(s, cqe);
		return;
	case K_WAKE:
		s->wake_live = false; /* stopping is set; if not, re-armed */
		return;
	case K_BACKOFF:
		s->backoff_live = false;
		s->accept_backoff = false;
		return;
	case K_CANCEL:
		/* 0, -ENOENT (it had ended already) or -EALREADY: either way
		 * the target's own final CQE comes, and that is what counts. */
		return;
	case K_RECV:
	case K_SEND:
		c = ud_conn(s, ud);
		if (c) {
			if (ud_kind(ud) == K_RECV)
				on_recv(s, c, cqe);
			else
				on_send(s, c, cqe);
			return;
		}
		break;
	}
	/* A CQE nobody owns cannot happen; if it does, at least do not lose
	 * the buffer it carries. */
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		s->st.bufs_held++;
		give_back(s, (int32_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
	}
}

/*
 * Handle every CQE there is. Each is copied and marked seen before it is
 * handled, so the CQ slot is free again before any handler runs (none
 * submits today, but a submit with unseen CQEs could overflow the CQ).
 * io_uring_peek_cqe also flushes CQEs the kernel kept aside after a CQ
 * overflow (IORING_SQ_CQ_OVERFLOW), so none is left behind.
 */
static unsigned reap(struct uecho *s)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
		struct io_uring_cqe copy = *cqe;

		io_uring_cqe_seen(&s->ring, cqe);
		handle_cqe(s, &copy);
		n++;
	}
	return n;
}

/* ------------------------------------------------------------- the loop */

static struct __kernel_timespec ms_to_ts(int ms)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (long long)(ms % 1000) * 1000000 };
	return ts;
}

/*
 * Submit what is queued and wait up to timeout_ms for one CQE, in one
 * io_uring_enter. Returns 0 (there may be CQEs), -EINTR, or -errno.
 */
static int submit_and_wait(struct uecho *s, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	int r;

	if (timeout_ms == 0) {
		r = io_uring_submit(&s->ring);
	} else if (timeout_ms < 0) {
		r = io_uring_submit_and_wait(&s->ring, 1);
	} else {
		ts = ms_to_ts(timeout_ms);
		r = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
	}
	if (r == -EAGAIN || r == -EBUSY) {
		/* The kernel would not take the SQEs now (short of memory).
		 * Wait for a completion without submitting, but not for long:
		 * the SQEs are retried next turn. */
		int ms = timeout_ms < 0 || timeout_ms > RETRY_MS ? RETRY_MS : timeout_ms;

		ts = ms_to_ts(ms);
		r = ms ? io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts) : 0;
	}
	if (r == -ETIME)
		return 0;
	return r < 0 ? r : 0;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int uecho_run_once(struct uecho *s, int timeout_ms)
{
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;

	if (!s)
		return -EINVAL;
	for (;;) {
		int wait_ms = timeout_ms;
		unsigned n;
		int r;

		if (atomic_load(&s->stopping))
			return -ECANCELED;
		if (s->fatal)
			return s->fatal;
		if (timeout_ms > 0) {
			long long left = deadline - now_ms();

			wait_ms = left > 0 ? (int)left : 0;
		}
		/* Work left over for lack of SQEs: come back soon for it. So
		 * too while connections wait for buffers that are free now:
		 * wake_waiters gives them turns as buffers allow, and a woken
		 * one with no data waiting posts no CQE, so no CQE may come to
		 * give the rest theirs. */
		if ((s->dirty || (s->starved.head && bufs_free(s) > 0)) &&
		    (wait_ms < 0 || wait_ms > RETRY_MS))
			wait_ms = RETRY_MS;
		r = submit_and_wait(s, wait_ms);
		if (r < 0 && r != -EINTR)
			return r; /* the ring itself is failing */
		n = reap(s);
		step(s); /* -EAGAIN: left dirty, retried next turn */
		/* Submit what the step prepared. -EAGAIN/-EBUSY leave the SQEs
		 * queued; the next call submits them. */
		io_uring_submit(&s->ring);
		if (atomic_load(&s->stopping))
			return -ECANCELED;
		if (s->fatal)
			return s->fatal;
		if (n > 0)
			return (int)n;
		if (r == -EINTR)
			return -EINTR;
		if (timeout_ms == 0 || (timeout_ms > 0 && now_ms() >= deadline))
			return 0;
		/* No CQE, yet no timeout either: an infinite wait that a
		 * submit-then-signal or a retry wait cut short. Wait again. */
	}
}

int uecho_run(struct uecho *s)
{
	for (;;) {
		int r = uecho_run_once(s, -1);

		if (r == -ECANCELED)
			return 0;
		if (r < 0 && r != -EINTR)
			return r;
	}
}

void uecho_stop(struct uecho *s)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t n;

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	/* Wakes a thread waiting in io_uring_enter: the poll on this eventfd
	 * completes. Counter full (EAGAIN) means it is readable already. */
	n = write(s->wake_fd, &one, sizeof one);
	(void)n;
	errno = saved;
}

void uecho_stats(const struct uecho *s, struct uecho_stats *out)
{
	if (!s || !out)
		return;
	*out = s->st;
}

/* ------------------------------------------------------------- open/close */

/* listen_fd must be a listening stream socket. */
static int check_listener(int fd)
{
	int yes = 0, type = 0;
	socklen_t len = sizeof yes;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) < 0)
		return -errno; /* -EBADF, -ENOTSOCK */
	len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	return yes && type == SOCK_STREAM ? 0 : -EINVAL;
}

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

/*
 * Multishot receive came with Linux 6.0 (multishot accept and buffer rings
 * with 5.19). The probe lists opcodes, not flags: IORING_OP_SEND_ZC came in
 * the same release, so it stands for "multishot receive works". Without
 * this check an old kernel would fail every receive with a bare -EINVAL.
 */
static int check_kernel(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok;

	if (!p)
		return -ENOMEM;
	ok = io_uring_opcode_supported(p, IORING_OP_SEND_ZC) &&
	     io_uring_opcode_supported(p, IORING_OP_POLL_ADD) &&
	     io_uring_opcode_supported(p, IORING_OP_TIMEOUT);
	io_uring_free_probe(p);
	return ok ? 0 : -EOPNOTSUPP;
}

static int setup_ring(struct uecho *s, unsigned entries)
{
	struct io_uring_params p;
	unsigned cq;
	int r;

	/* A generous CQ: a burst can post a CQE per buffer, plus the
	 * accepts, sends and ends of many connections. Overflow loses
	 * nothing on kernels with IORING_FEAT_NODROP (reap flushes it), but
	 * it ends multishot requests and costs time. */
	cq = entries * 4;
	if (cq < s->nbufs * 2)
		cq = s->nbufs * 2;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = cq;
	r = io_uring_queue_init_params(entries, &s->ring, &p);
	if (r < 0)
		return r; /* -ENOMEM (RLIMIT_MEMLOCK), -EPERM, -ENOSYS */
	s->ring_live = true;
	if (!(p.features & IORING_FEAT_NODROP))
		return -EOPNOTSUPP; /* older than 5.5: CQEs could be lost */
	return check_kernel(&s->ring);
}

/* The buffer ring: mmap its entries (page-aligned, as the kernel wants),
 * init, register as group UECHO_BGID, then give the kernel every buffer. */
static int setup_bufs(struct uecho *s)
{
	struct io_uring_buf_reg reg;
	int r;

	s->chunks = calloc(s->nbufs, sizeof *s->chunks);
	if (!s->chunks)
		return -ENOMEM;
	s->br_bytes = (size_t)s->nbufs * sizeof(struct io_uring_buf);
	s->br = mmap(NULL, s->br_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->br == MAP_FAILED) {
		s->br = NULL;
		return -ENOMEM;
	}
	if ((size_t)s->nbufs > SIZE_MAX / s->buf_size)
		return -ENOMEM;
	s->bufs_bytes = (size_t)s->nbufs * s->buf_size;
	s->bufs = mmap(NULL, s->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->bufs == MAP_FAILED) {
		s->bufs = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(s->br);
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (unsigned long)(uintptr_t)s->br;
	reg.ring_entries = s->nbufs;
	reg.bgid = UECHO_BGID;
	r = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (r < 0)
		return r; /* -ENOMEM: the ring's pages count against RLIMIT_MEMLOCK */
	s->br_registered = true;
	/* Fill every entry, then publish them with one tail store. From here
	 * on, buffers go back one by one (give_back); never init again: that
	 * would reset the tail and the ring would look empty for good. */
	for (unsigned i = 0; i < s->nbufs; i++)
		io_uring_buf_ring_add(s->br, buf_addr(s, (int32_t)i), s->buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(s->nbufs), (int)i);
	io_uring_buf_ring_advance(s->br, (int)s->nbufs);
	return 0;
}

/* Frees what uecho_open or the server made; safe on a half-built one.
 * The caller has made sure nothing is in the kernel (or gave up: then
 * the memory the kernel may still touch is left mapped on purpose). */
static void destroy(struct uecho *s, bool kernel_idle)
{
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct conn *c = s->slots[i].conn;

		if (c) {
			close(c->fd);
			free(c);
		}
	}
	free(s->slots);
	if (s->br_registered && kernel_idle)
		io_uring_unregister_buf_ring(&s->ring, UECHO_BGID);
	if (s->ring_live)
		io_uring_queue_exit(&s->ring);
	if (kernel_idle) {
		if (s->bufs)
			munmap(s->bufs, s->bufs_bytes);
		if (s->br)
			munmap(s->br, s->br_bytes);
	}
	free(s->chunks);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s);
}

int uecho_open(struct uecho **out, int listen_fd, const struct uecho_config *cfg)
{
	struct uecho_config c = { 0 };
	struct uecho *s;
	int r;

	if (!out || listen_fd < 0)
		return -EINVAL;
	if (cfg)
		c = *cfg;
	if (!c.entries)
		c.entries = UECHO_DEFAULT_ENTRIES;
	if (!c.nbufs)
		c.nbufs = UECHO_DEFAULT_NBUFS;
	if (!c.buf_size)
		c.buf_size = UECHO_DEFAULT_BUF_SIZE;
	if (c.entries > UECHO_MAX_ENTRIES || !is_pow2(c.nbufs) || c.nbufs < 2 ||
	    c.nbufs > UECHO_MAX_NBUFS || c.buf_size > UECHO_MAX_BUF_SIZE)
		return -EINVAL;
	r = check_listener(listen_fd);
	if (r < 0)
		return r;

	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_fd;
	s->nbufs = c.nbufs;
	s->buf_size = c.buf_size;
	s->free_slot = NO_SLOT;
	atomic_init(&s->stopping, 0);
	/* Non-blocking, so uecho_stop's write can never block a signal
	 * handler (a full counter is readable anyway). */
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r = s->wake_fd < 0 ? -errno : 0;
	if (r == 0)
		r = setup_ring(s, c.entries);
	if (r == 0)
		r = setup_bufs(s);
	if (r == 0)
		r = server_step(s); /* the accept and the wake-up poll */
	if (r == 0) {
		r = io_uring_submit(&s->ring);
		r = r < 0 ? r : 0;
	}
	if (r < 0) {
		/* If the submit failed, nothing reached the kernel. */
		destroy(s, true);
		return r;
	}
	*out = s;
	return 0;
}

/* Ask the kernel to cancel every request of this ring. */
static void cancel_all(struct uecho *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return; /* the wait below is bounded; shutdown() is the next lever */
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	tag(s, sqe, make_ud(K_CANCEL, 0, 0));
	io_uring_submit(&s->ring);
}

/* Sockets shut down end any receive or send the kernel still holds. */
static void shutdown_clients(struct uecho *s)
{
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i].conn)
			shutdown(s->slots[i].conn->fd, SHUT_RDWR);
}

/* During uecho_close: count final CQEs; close sockets accepted meanwhile. */
static void reap_for_close(struct uecho *s)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
		if (ud_kind(cqe->user_data) == K_ACCEPT && cqe->res >= 0)
			close(cqe->res);
		if (!(cqe->flags & IORING_CQE_F_MORE))
			s->inflight--;
		io_uring_cqe_seen(&s->ring, cqe);
	}
}

void uecho_close(struct uecho *s)
{
	long long start;
	bool shut = false;

	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	/* SQEs still queued become requests too: submit them, then cancel
	 * everything at once (Linux 5.19+, which we require anyway). */
	io_uring_submit(&s->ring);
	cancel_all(s);
	start = now_ms();
	/* io_uring_queue_exit does not wait for requests in flight: until
	 * each has its final CQE, the kernel may write into our buffers. */
	while (s->inflight > 0) {
		struct __kernel_timespec ts = ms_to_ts(CLOSE_POLL_MS);
		struct io_uring_cqe *cqe;
		long long waited = now_ms() - start;
		int r;

		reap_for_close(s);
		if (s->inflight == 0)
			break;
		if (waited >= CLOSE_WAIT_MS)
			break;
		if (!shut && waited >= CLOSE_WAIT_MS / 2) {
			shutdown_clients(s);
			cancel_all(s);
			shut = true;
		}
		r = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
		if (r < 0 && r != -ETIME && r != -EINTR)
			break;
	}
	destroy(s, s->inflight == 0);
}
