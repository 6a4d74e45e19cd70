/*
 * heap.c - heap accounting for the code under test (seams.h, "heap").
 *
 * The module's objects are linked into the tests with their calls to the
 * allocator renamed (objcopy --redefine-syms=heap.redefine, chapter.mk): a
 * call to malloc from the learner's code lands in seam_malloc here, and
 * nowhere else does. That is what -Wl,--wrap cannot do: the harness and
 * Criterion allocate too, and only the module's blocks are its to free.
 * Every thread is counted, armed or not (a pool's workers allocate between
 * the calls of a test). strdup and strndup are renamed too: glibc's own
 * copies allocate where no seam sees them.
 *
 * Live blocks are kept in a hash table of their addresses and sizes, so a
 * block allocated by the module and freed by it is accounted exactly; a
 * pointer the module frees that it did not allocate (one glibc made) is
 * passed on untouched.
 *
 * A guard after every block: each allocation is made CANARY_BYTES longer
 * than asked, and those bytes are filled with a pattern of the block's
 * address. When the module frees or reallocates the block, a changed byte
 * there means its code wrote past the end of what it asked for (an
 * off-by-one, a count of elements where bytes were meant, a '\0' with no
 * room), which the plain grading would not see otherwise: it is a violation.
 * In a SAN=1 build AddressSanitizer, whose run-time is linked then, sees
 * such a write as it happens, so no guard is added there.
 *
 * Buffers the kernel owns: the seams of io_submit, io_getevents, io_cancel
 * and io_destroy (seams.c) tell which buffers libaio requests in flight
 * read into or write from, until their event comes back (or io_destroy,
 * which waits for them); liburing's seams do the same for the read and
 * write SQEs the kernel took from the module's rings, until their CQEs.
 * A module block freed while such a buffer starts inside it is a use after
 * free by the kernel, which no sanitizer sees: it is recorded as a
 * violation (seam_violate), which fails the test.
 *
 * Freed blocks are poisoned and held back a while (the quarantine below), so
 * that the module's own use of a block after freeing it shows. Where a test
 * asks (seam_heap_fence), small blocks get pages of their own, taken away
 * when freed (the fence below), so that any read of one afterwards faults.
 */
#define _GNU_SOURCE
#include "seams.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HEAP_BUCKETS 65536

struct block {
	void *ptr;
	size_t size;
	bool fenced;   /* on pages of its own (the fence below) */
	struct block *next;
};

/* A mutex, not a spin lock: the module's threads may be descheduled while
 * holding it. Its own calls go to the real pthread functions: this file is
 * part of the harness, its calls are never counted as the module's. */
static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block *buckets[HEAP_BUCKETS];
static struct seam_heap usage;
/* Allocation failures to inject: from the fail_at-th allocation counted by
 * `allocs`, fail_count of them (-1: all). */
static long fail_at;
static long fail_count;

/* --- the guard after each block ---------------------------------------- */

#define CANARY_BYTES 16
/* Present only where AddressSanitizer's run-time is linked (SAN=1). */
extern void __asan_init(void) __attribute__((weak));

static size_t canary_len(void)
{
	return __asan_init ? 0 : CANARY_BYTES;
}

/* Byte i of the guard of the block at p: a pattern of its address, so that
 * a block copied whole onto another does not carry a valid guard along. */
static unsigned char canary_byte(const void *p, size_t i)
{
	uint64_t v = (uintptr_t)p * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;

	return (unsigned char)((v >> 40) ^ 0xa5);
}

/* The size to ask the allocator for, or 0 if size plus the guard does not
 * fit a size_t (the allocation then fails as an impossible one would). */
static size_t with_canary(size_t size)
{
	return size > SIZE_MAX - canary_len() ? 0 : size + canary_len();
}

static void canary_set(void *p, size_t size)
{
	unsigned char *g = (unsigned char *)p + size;

	for (size_t i = 0; i < canary_len(); i++)
		g[i] = canary_byte(p, i);
}

/* The module gives up (how: "freed", "reallocated") the block of `size`
 * bytes at p, which it allocated: a violation if its guard changed. */
static void canary_check(void *p, size_t size, const char *how)
{
	const unsigned char *g = (const unsigned char *)p + size;
	size_t i;

	for (i = 0; i < canary_len() && g[i] == canary_byte(p, i); i++)
		;
	if (i < canary_len())
		seam_violate("your code wrote past the end of a block of %zu bytes that it "
			     "allocated (at %p; byte %zu after its end changed, seen when the block "
			     "was %s): that memory is not yours, and the next allocation may be "
			     "there. Ask for every byte you write: count times sizeof the element, "
			     "not the count alone; one more for a string's '\\0'; the number of "
			     "words a bitmap of n bits needs rounds up, (n + 63) / 64. "
			     "make check SAN=1 shows the line that writes it",
			     size, p, i, how);
}

/* What malloc gives is not zeroed: fresh pages are, so code that reads a
 * field it never set usually finds 0 and works by luck. The module's new
 * bytes (from malloc, the aligned allocators, and realloc's growth; not
 * calloc's) are filled with PERTURB_BYTE instead, as glibc's M_PERTURB
 * does: a pointer read from them faults, a count is huge, a flag is set.
 * Only the first PERTURB_MAX bytes of a block: buffers for data can be
 * large, and what is read before it is set is mostly a struct's fields. */
#define PERTURB_BYTE 0xa5
#define PERTURB_MAX ((size_t)1 << 20)

static void perturb(void *p, size_t from, size_t to)
{
	if (!p || from >= to || from >= PERTURB_MAX)
		return;
	memset((unsigned char *)p + from, PERTURB_BYTE, (to < PERTURB_MAX ? to : PERTURB_MAX) - from);
}

/* --- the blocks the module holds --------------------------------------- */

static size_t bucket_of(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= 0x9e3779b97f4a7c15ull;
	return (size_t)(v >> 48) % HEAP_BUCKETS;
}

/* Called with heap_lock held: true if this allocation must fail. */
static bool fail_now(void)
{
	long n = ++usage.allocs;

	if (fail_at <= 0 || n < fail_at)
		return false;
	if (fail_count >= 0 && n >= fail_at + fail_count)
		return false;
	usage.failed++;
	return true;
}

/* Account for a new block (ptr may be NULL: a failed allocation); fenced
 * if it lies on pages of its own (fence_alloc). */
static void remember_block(void *ptr, size_t size, bool fenced)
{
	struct block *b;

	if (!ptr)
		return;
	b = malloc(sizeof(*b));  /* the harness's own block */
	__real_pthread_mutex_lock(&heap_lock);
	if (b) {
		b->ptr = ptr;
		b->size = size;
		b->fenced = fenced;
		b->next = buckets[bucket_of(ptr)];
		buckets[bucket_of(ptr)] = b;
		usage.blocks++;
		usage.bytes += (long long)size;
	}
	__real_pthread_mutex_unlock(&heap_lock);
}

static void remember(void *ptr, size_t size)
{
	remember_block(ptr, size, false);
}

/* Forget a block the module frees or reallocates: true, and its size in
 * *size if size is not NULL, if it was the module's; *fenced (if not NULL)
 * says whether it lies on pages of its own. */
static bool forget_block(void *ptr, size_t *size, bool *fenced)
{
	struct block **pp, *b = NULL;

	__real_pthread_mutex_lock(&heap_lock);
	for (pp = &buckets[bucket_of(ptr)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->ptr == ptr) {
			b = *pp;
			*pp = b->next;
			usage.blocks--;
			usage.bytes -= (long long)b->size;
			usage.frees++;
			if (size)
				*size = b->size;
			if (fenced)
				*fenced = b->fenced;
			break;
		}
	}
	__real_pthread_mutex_unlock(&heap_lock);
	free(b);
	return b != NULL;
}

static bool forget(void *ptr, size_t *size)
{
	return forget_block(ptr, size, NULL);
}

/* True if ptr is a block of the module's on pages of its own (its size in
 * *size); the block stays the module's. */
static bool is_fenced(void *ptr, size_t *size)
{
	bool fenced = false;

	__real_pthread_mutex_lock(&heap_lock);
	for (struct block *b = buckets[bucket_of(ptr)]; b; b = b->next) {
		if (b->ptr == ptr) {
			fenced = b->fenced;
			*size = b->size;
			break;
		}
	}
	__real_pthread_mutex_unlock(&heap_lock);
	return fenced;
}

static bool should_fail(void)
{
	bool fail;

	__real_pthread_mutex_lock(&heap_lock);
	fail = fail_now();
	__real_pthread_mutex_unlock(&heap_lock);
	return fail;
}

void seam_heap_usage(struct seam_heap *out)
{
	__real_pthread_mutex_lock(&heap_lock);
	*out = usage;
	__real_pthread_mutex_unlock(&heap_lock);
}

void seam_heap_fail(long nth, long count)
{
	__real_pthread_mutex_lock(&heap_lock);
	fail_at = nth > 0 ? usage.allocs + nth : 0;
	fail_count = count;
	__real_pthread_mutex_unlock(&heap_lock);
}

/* --- buffers the kernel owns (libaio requests in flight) ------------- */

#define INFLIGHT_MAX 65536
#define INFLIGHT_BUCKETS 16384

/* One buffer of one request in flight (a PREADV has one per iovec). The
 * lists link indices + 1 (0 ends a list), so the zeroed arrays are empty. */
struct inflight {
	enum seam_inflight_kind kind;
	uintptr_t ctx;         /* the AIO context or ring it went to     */
	uintptr_t tag;         /* the request: its iocb or user_data     */
	uintptr_t addr;
	size_t len;
	unsigned next_page;    /* in by_page[], by the page of addr     */
	unsigned next_tag;     /* in by_tag[]                           */
	unsigned next_free;
	bool used;
	bool orphan;           /* its ring was torn down with it in flight */
};

static struct inflight inflight[INFLIGHT_MAX];
static unsigned by_page[INFLIGHT_BUCKETS], by_tag[INFLIGHT_BUCKETS];
static unsigned free_list, never_used, inflight_live;

static unsigned hash_of(uintptr_t v)
{
	v ^= v >> 17;
	v *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(v >> 50) % INFLIGHT_BUCKETS;
}

static unsigned page_bucket(uintptr_t addr)
{
	return hash_of(addr >> 12);
}

void seam_inflight_add(enum seam_inflight_kind kind, uintptr_t ctx, uintptr_t tag,
		       const void *addr, size_t len)
{
	unsigned i;
	struct inflight *e;

	if (!addr || len == 0)
		return;
	__real_pthread_mutex_lock(&heap_lock);
	if (free_list) {
		i = free_list;
		free_list = inflight[i - 1].next_free;
	} else if (never_used < INFLIGHT_MAX) {
		i = ++never_used;
	} else {
		i = 0;  /* full: this one goes unwatched */
	}
	if (i) {
		e = &inflight[i - 1];
		*e = (struct inflight){ .kind = kind, .ctx = ctx, .tag = tag,
					.addr = (uintptr_t)addr, .len = len, .used = true };
		e->next_page = by_page[page_bucket(e->addr)];
		by_page[page_bucket(e->addr)] = i;
		e->next_tag = by_tag[hash_of(tag)];
		by_tag[hash_of(tag)] = i;
		inflight_live++;
	}
	__real_pthread_mutex_unlock(&heap_lock);
}

/* Unlink entry i (1-based) from both lists and free it; heap_lock held. */
static void inflight_remove(unsigned i)
{
	struct inflight *e = &inflight[i - 1];
	unsigned *pp;

	for (pp = &by_page[page_bucket(e->addr)]; *pp; pp = &inflight[*pp - 1].next_page)
		if (*pp == i) {
			*pp = e->next_page;
			break;
		}
	for (pp = &by_tag[hash_of(e->tag)]; *pp; pp = &inflight[*pp - 1].next_tag)
		if (*pp == i) {
			*pp = e->next_tag;
			break;
		}
	e->used = false;
	e->next_free = free_list;
	free_list = i;
	inflight_live--;
}

void seam_inflight_done(uintptr_t ctx, uintptr_t tag)
{
	unsigned i, next;

	__real_pthread_mutex_lock(&heap_lock);
	for (i = by_tag[hash_of(tag)]; i; i = next) {
		next = inflight[i - 1].next_tag;
		if (inflight[i - 1].tag == tag && inflight[i - 1].ctx == ctx)
			inflight_remove(i);
	}
	__real_pthread_mutex_unlock(&heap_lock);
}

/* The ring went away (io_uring_queue_exit) with these still in flight:
 * the kernel may still be at them (it does not wait for them), and no CQE
 * can end them now. Kept, under a context no ring has. */
void seam_inflight_orphan_ctx(uintptr_t ctx)
{
	__real_pthread_mutex_lock(&heap_lock);
	for (unsigned i = 1; inflight_live > 0 && i <= never_used; i++)
		if (inflight[i - 1].used && inflight[i - 1].ctx == ctx) {
			inflight[i - 1].ctx = 0;
			inflight[i - 1].orphan = true;
		}
	__real_pthread_mutex_unlock(&heap_lock);
}

void seam_inflight_drop_ctx(uintptr_t ctx)
{
	__real_pthread_mutex_lock(&heap_lock);
	for (unsigned i = 1; inflight_live > 0 && i <= never_used; i++)
		if (inflight[i - 1].used && inflight[i - 1].ctx == ctx)
			inflight_remove(i);
	__real_pthread_mutex_unlock(&heap_lock);
}

/* The module gives up a block of `size` bytes at ptr: a violation if a
 * request in flight has its buffer starting inside it. */
static bool check_not_in_flight(uintptr_t lo, size_t size, const char *how)
{
	uintptr_t hi = lo + size;
	const struct inflight *hit = NULL;

	__real_pthread_mutex_lock(&heap_lock);
	if (inflight_live > 0 && size > 0) {
		if (size / 4096 >= INFLIGHT_BUCKETS) {
			for (unsigned i = 1; !hit && i <= never_used; i++)
				if (inflight[i - 1].used && inflight[i - 1].addr >= lo &&
				    inflight[i - 1].addr < hi)
					hit = &inflight[i - 1];
		} else {
			for (uintptr_t pg = lo >> 12; !hit && pg <= (hi - 1) >> 12; pg++)
				for (unsigned i = by_page[hash_of(pg)]; !hit && i;
				     i = inflight[i - 1].next_page)
					if (inflight[i - 1].addr >= lo && inflight[i - 1].addr < hi)
						hit = &inflight[i - 1];
		}
	}
	if (hit && hit->kind == SEAM_INFLIGHT_AIO)
		seam_violate("your code %s a block of %zu bytes at %p while the kernel still had a "
			     "request in flight on a buffer inside it (iocb %p, %zu bytes at %p: "
			     "submitted with io_submit, its event not yet returned by io_getevents): "
			     "the kernel may still write into that memory after it is reused. A "
			     "request's buffer stays yours to keep until its event comes back, or "
			     "until io_destroy returns (it waits for every request in flight): free "
			     "buffers after that, on error paths too (man 2 io_destroy)",
			     how, size, (void *)lo, (void *)hit->tag, hit->len, (void *)hit->addr);
	else if (hit)
		seam_violate("your code %s a block of %zu bytes at %p while the kernel still had an "
			     "io_uring request on a buffer inside it (user_data 0x%llx, %zu bytes at "
			     "%p: the kernel took its SQE, and no CQE of that user_data had come "
			     "back%s): the kernel may still read or write that memory after it is "
			     "reused. A request's buffer stays yours to keep until its CQE is in the "
			     "completion queue: on an error path, cancel what you submitted and wait "
			     "for its CQEs before you free the buffers, or keep the buffers if the "
			     "ring itself failed (io_uring(7): a request is over when its CQE is posted)",
			     how, size, (void *)lo, (unsigned long long)hit->tag, hit->len,
			     (void *)hit->addr,
			     hit->orphan ? "; the ring was torn down with it still in flight, and "
					   "io_uring_queue_exit does not wait for requests" : "");
	__real_pthread_mutex_unlock(&heap_lock);
	return hit != NULL;
}

/* --- freed blocks held back (a quarantine) ---------------------------- */

/*
 * A block the module frees is not given back to the allocator at once: it
 * is filled with POISON_BYTE and held here, the oldest given back when
 * QUARANTINE_BLOCKS or QUARANTINE_BYTES are exceeded. Without it, a block
 * freed and then read (a connection freed but left on a list, a request
 * read after the struct that held it is gone) is handed to the next malloc
 * and read back intact, so the mistake passes: now a pointer read from it
 * is 0xdbdb... and faults, a count is huge. A byte of the poison changed
 * when the block is given back (or at the end of the test) means the code
 * wrote into memory it had freed: a violation. Small blocks only (structs,
 * lists; not data buffers), and not under AddressSanitizer (SAN=1), whose
 * own quarantine sees every such access as it happens.
 */
#define POISON_BYTE 0xdb
#define QUARANTINE_BLOCKS 256
#define QUARANTINE_BYTES ((size_t)4 << 20)
#define QUARANTINE_MAX_BLOCK ((size_t)256 << 10)

struct held {
	void *ptr;
	size_t size;   /* as the module asked for it */
	size_t len;    /* the bytes poisoned: size and its guard */
	bool watch;    /* false: the kernel may still write there (reported) */
};

static struct held quarantine[QUARANTINE_BLOCKS];
static unsigned quarantine_head, quarantine_len;
static size_t quarantine_bytes;
static bool quarantine_reported;

/* The block h, out of the quarantine: a violation if its poison changed. */
static void held_check(const struct held *h)
{
	const unsigned char *b = h->ptr;
	size_t i;

	if (!h->watch)
		return;
	for (i = 0; i < h->len && b[i] == POISON_BYTE; i++)
		;
	if (i == h->len)
		return;
	__real_pthread_mutex_lock(&heap_lock);
	if (quarantine_reported) {
		__real_pthread_mutex_unlock(&heap_lock);
		return;
	}
	quarantine_reported = true;
	__real_pthread_mutex_unlock(&heap_lock);
	seam_violate("your code wrote into a block of %zu bytes after it freed it (at %p; byte "
		     "%zu changed after free()): that memory may already be another object's. "
		     "Take an object off every list, table and request that points at it "
		     "before you free it, and free it last; make check SAN=1 shows the line "
		     "that writes it",
		     h->size, h->ptr, i);
}

/* Hold the module's block p (size bytes asked for) instead of freeing it;
 * give back the oldest ones the quarantine has no room for. */
static void quarantine_put(void *p, size_t size, bool watch)
{
	struct held h = { .ptr = p, .size = size, .len = size + canary_len(), .watch = watch };
	struct held out[8];
	unsigned nout;

	if (__asan_init || h.len > QUARANTINE_MAX_BLOCK) {
		free(p);
		return;
	}
	memset(p, POISON_BYTE, h.len);
	for (;;) {
		nout = 0;
		__real_pthread_mutex_lock(&heap_lock);
		while (quarantine_len > 0 && nout < 8 &&
		       (quarantine_len == QUARANTINE_BLOCKS ||
			quarantine_bytes + h.len > QUARANTINE_BYTES)) {
			out[nout++] = quarantine[quarantine_head];
			quarantine_bytes -= quarantine[quarantine_head].len;
			quarantine_head = (quarantine_head + 1) % QUARANTINE_BLOCKS;
			quarantine_len--;
		}
		bool room = quarantine_len < QUARANTINE_BLOCKS &&
			    quarantine_bytes + h.len <= QUARANTINE_BYTES;
		if (room) {
			quarantine[(quarantine_head + quarantine_len) % QUARANTINE_BLOCKS] = h;
			quarantine_len++;
			quarantine_bytes += h.len;
		}
		__real_pthread_mutex_unlock(&heap_lock);
		for (unsigned i = 0; i < nout; i++) {
			held_check(&out[i]);
			free(out[i].ptr);
		}
		if (room)
			return;
	}
}

void seam_heap_quarantine_check(void)
{
	__real_pthread_mutex_lock(&heap_lock);
	for (unsigned i = 0; i < quarantine_len && !quarantine_reported; i++) {
		struct held h = quarantine[(quarantine_head + i) % QUARANTINE_BLOCKS];

		__real_pthread_mutex_unlock(&heap_lock);
		held_check(&h);
		__real_pthread_mutex_lock(&heap_lock);
	}
	__real_pthread_mutex_unlock(&heap_lock);
}

/* --- freed blocks taken away (a fence), where a test asks ------------ */

/*
 * The quarantine shows a write into a freed block, and a pointer read from
 * one; an int read from one goes unseen: a descriptor number of 0xdbdbdbdb
 * fails its close quietly, a state no switch names does nothing, and the
 * mistake passes. Where a test turns the fence on (seam_heap_fence), each
 * block the module allocates from then on, up to FENCE_MAX_BLOCK bytes, is
 * put on pages of its own (mmap), and freeing it takes them away (mprotect
 * PROT_NONE): any access afterwards faults at once, and the test crashes
 * where the code reads. FENCE_HELD freed blocks are held so; the oldest is
 * unmapped when more come (its pages may then be mapped again for a new
 * block). Not under AddressSanitizer (SAN=1), which sees every such access.
 * Blocks allocated before the fence went on stay in the quarantine's care.
 */
#define FENCE_HELD 8192
#define FENCE_MAX_BLOCK ((size_t)64 << 10)

static atomic_bool fence_on;
static void *fence_held[FENCE_HELD];
static size_t fence_held_len[FENCE_HELD];
static unsigned fence_head, fence_count;

void seam_heap_fence(bool on)
{
	atomic_store(&fence_on, on);
}

/* The bytes mapped for a fenced block of size bytes and its guard. */
static size_t fence_len(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + canary_len() + page - 1) / page * page;
}

/* Pages of its own for a block of size bytes aligned to align, or NULL if
 * the fence is off, the block too large or too aligned for it, or mmap
 * failed (the caller then allocates as usual). */
static void *fence_alloc(size_t size, size_t align)
{
	void *p;

	if (!atomic_load(&fence_on) || __asan_init || size > FENCE_MAX_BLOCK ||
	    align > (size_t)sysconf(_SC_PAGESIZE))
		return NULL;
	/* the real mmap: the module's own calls to it are counted, not this one */
	p = SEAM_REAL(mmap)(NULL, fence_len(size), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Take away the pages of the freed fenced block p (size bytes asked for);
 * unmap the oldest one held if there is no room. A block the kernel may
 * still write into (in_flight, already reported) is left mapped: its
 * write must not fault the kernel's side. */
static void fence_put(void *p, size_t size, bool in_flight)
{
	void *out = NULL;
	size_t out_len = 0;

	if (in_flight)
		return;   /* a violation already; the pages stay (a leak, once) */
	if (mprotect(p, fence_len(size), PROT_NONE) != 0) {
		munmap(p, fence_len(size));
		return;
	}
	__real_pthread_mutex_lock(&heap_lock);
	if (fence_count == FENCE_HELD) {
		out = fence_held[fence_head];
		out_len = fence_held_len[fence_head];
		fence_head = (fence_head + 1) % FENCE_HELD;
		fence_count--;
	}
	fence_held[(fence_head + fence_count) % FENCE_HELD] = p;
	fence_held_len[(fence_head + fence_count) % FENCE_HELD] = fence_len(size);
	fence_count++;
	__real_pthread_mutex_unlock(&heap_lock);
	if (out)
		munmap(out, out_len);
}

/* --- the allocator as the module sees it ------------------------------ */

void *seam_malloc(size_t size);
void *seam_calloc(size_t n, size_t size);
void *seam_realloc(void *ptr, size_t size);
void *seam_reallocarray(void *ptr, size_t n, size_t size);
void seam_free(void *ptr);
int seam_posix_memalign(void **out, size_t align, size_t size);
void *seam_aligned_alloc(size_t align, size_t size);
void *seam_memalign(size_t align, size_t size);
char *seam_strdup(const char *s);
char *seam_strndup(const char *s, size_t n);

/* A fenced block of size bytes aligned to align (0: as malloc aligns), its
 * new bytes perturbed (unless zeroed: fresh pages are), its guard set and
 * accounted; NULL if it cannot be fenced (fence_alloc). */
static void *fenced_new(size_t size, size_t align, bool zeroed)
{
	void *p = fence_alloc(size, align);

	if (!p)
		return NULL;
	if (!zeroed)
		perturb(p, 0, size);
	canary_set(p, size);
	remember_block(p, size, true);
	return p;
}

void *seam_malloc(size_t size)
{
	void *p;

	if (should_fail() || !with_canary(size)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = fenced_new(size, 0, false)))
		return p;
	p = malloc(with_canary(size));
	perturb(p, 0, size);
	if (p)
		canary_set(p, size);
	remember(p, size);
	return p;
}

void *seam_calloc(size_t n, size_t size)
{
	void *p;

	if (should_fail() || (size && n > SIZE_MAX / size) || !with_canary(n * size)) {
		errno = ENOMEM;  /* as calloc refuses a product that overflows */
		return NULL;
	}
	if ((p = fenced_new(n * size, 0, true)))
		return p;
	p = calloc(1, with_canary(n * size));
	if (p)
		canary_set(p, n * size);
	remember(p, n * size);
	return p;
}

void *seam_realloc(void *ptr, size_t size)
{
	size_t old_size = 0;
	uintptr_t old;
	bool ours;
	void *p;

	if (!ptr)
		return seam_malloc(size);
	if (size == 0) {  /* glibc frees and returns NULL */
		seam_free(ptr);
		return NULL;
	}
	if (should_fail() || !with_canary(size)) {
		errno = ENOMEM;
		return NULL;  /* the old block stays the module's */
	}
	/* A fenced block moves, always: its old pages are then taken away,
	 * so code that goes on using the old pointer faults. */
	if (is_fenced(ptr, &old_size)) {
		p = fenced_new(size, 0, false);
		if (!p) {
			p = malloc(with_canary(size));
			if (!p) {
				errno = ENOMEM;
				return NULL;
			}
			perturb(p, 0, size);
			canary_set(p, size);
			remember(p, size);
		}
		memcpy(p, ptr, old_size < size ? old_size : size);
		seam_free(ptr);
		return p;
	}
	/* Forgotten first: after a successful realloc the old pointer may not
	 * be used at all. If realloc fails, the block is still the module's. */
	ours = forget(ptr, &old_size);
	if (ours) {
		canary_check(ptr, old_size, "reallocated");
		seam_uring_reap();
	}
	old = (uintptr_t)ptr;   /* an address only: compared, never used */
	/* A block glibc made (not ours) gets a guard too: it is the module's now. */
	p = realloc(ptr, with_canary(size));
	if (p && (uintptr_t)p != old && ours)
		check_not_in_flight(old, old_size, "reallocated (moved)");
	if (p) {
		if (ours)  /* the bytes past the old end are new */
			perturb(p, old_size, size);
		canary_set(p, size);
		remember(p, size);
	}
	else if (ours)
		remember(ptr, old_size);
	return p;
}

void *seam_reallocarray(void *ptr, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return seam_realloc(ptr, n * size);
}

void seam_free(void *ptr)
{
	bool fenced, in_flight;
	size_t size;

	if (!ptr)
		return;
	if (forget_block(ptr, &size, &fenced)) {
		canary_check(ptr, size, "freed");
		seam_uring_reap();
		in_flight = check_not_in_flight((uintptr_t)ptr, size, "freed");
		if (fenced)
			fence_put(ptr, size, in_flight);
		else
			quarantine_put(ptr, size, !in_flight);
		return;
	}
	free(ptr);
}

int seam_posix_memalign(void **out, size_t align, size_t size)
{
	void *p;
	int err;

	if (should_fail() || !with_canary(size))
		return ENOMEM;
	/* posix_memalign's own refusal of a bad alignment comes first */
	if (align && !(align & (align - 1)) && align % sizeof(void *) == 0 &&
	    (p = fenced_new(size, align, false))) {
		*out = p;
		return 0;
	}
	err = posix_memalign(out, align, with_canary(size));
	if (err == 0) {
		perturb(*out, 0, size);
		canary_set(*out, size);
		remember(*out, size);
	}
	return err;
}

void *seam_aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (should_fail() || !with_canary(size)) {
		errno = ENOMEM;
		return NULL;
	}
	if (align && !(align & (align - 1)) && (p = fenced_new(size, align, false)))
		return p;
	p = aligned_alloc(align, with_canary(size));
	perturb(p, 0, size);
	if (p)
		canary_set(p, size);
	remember(p, size);
	return p;
}

void *seam_memalign(size_t align, size_t size)
{
	void *p;

	if (should_fail() || !with_canary(size)) {
		errno = ENOMEM;
		return NULL;
	}
	if (align && !(align & (align - 1)) && (p = fenced_new(size, align, false)))
		return p;
	p = memalign(align, with_canary(size));
	perturb(p, 0, size);
	if (p)
		canary_set(p, size);
	remember(p, size);
	return p;
}

char *seam_strdup(const char *s)
{
	size_t len = strlen(s);
	char *p = seam_malloc(len + 1);

	if (p)
		memcpy(p, s, len + 1);
	return p;
}

char *seam_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = seam_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}
