/*
 * laio.c - chapter 02 exercise: the batch of reads through kernel AIO.
 *
 * Read chapters/02-libaio/README.md first; the contract (what each function
 * must return, what the tests check) is in chapters/02-libaio/laio.h, and
 * the request type in chapters/common/batch.h.
 * Grade your work with:   make check CH=02
 * Try it in a real tool:  make run CH=02 ARGS="--verify --qd 8 chapters/02-libaio/README.md"
 *
 * Rules (the grader enforces them): data moves only through io_submit and
 * io_getevents (pread, read, preadv... are refused, even for the rest of a
 * short read); no threads; one io context per call, destroyed before you
 * return. libaio's functions return -errno and leave errno alone: use what
 * they return, never errno. Replace each "return -ENOSYS" as you solve its
 * TODO.
 */
#define _GNU_SOURCE
#include "laio.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * A suggested shape (the lesson's "The batch read with a queue-depth
 * window"): one slot per request that may be in flight. A slot owns the
 * iocb the kernel is given and remembers which request it carries and how
 * many bytes of it are already in. Point iocb.data at the slot: the kernel
 * hands it back in io_event.data, whatever order reads complete in.
 *
 *   not started --refill--> pending --io_submit--> in flight --io_getevents
 *        ^                     ^                                   |
 *        |                     +---- short read / -EINTR ----------+
 *        |                                                         v
 *        +------------------ slot free again <------------- finished (res)
 *
 * Use it, change it, or ignore it: only the behaviour is graded.
 */
struct slot {
	struct iocb cb;  /* what the kernel is told; cb.data = this slot */
	size_t req;      /* index into reqs[] of the request carried     */
	size_t done;     /* bytes of that request already read           */
};

int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	/*
	 * TODO 1: the arguments (chapters/common/batch.h).
	 *  - qd == 0, or reqs == NULL with n > 0: return -EINVAL;
	 *  - n == 0: return 0 and touch nothing.
	 *
	 * TODO 2: the window and the io context.
	 *  - window = min(qd, n, LAIO_MAX_QD): never more requests than that
	 *    submitted and not yet reaped. Count them yourself: the kernel
	 *    rounds io_setup's nr up and would accept more (pitfall 2). Use a
	 *    size_t (qd may be UINT_MAX) and fill the whole window before the
	 *    first wait; io_setup gets the window, not qd or n (pitfall 19);
	 *  - allocate the slots (and an array of struct iocb * for io_submit,
	 *    an array of struct io_event for io_getevents) with calloc, sized
	 *    by the window: -ENOMEM if one fails, after freeing the others
	 *    (and io_destroy if the context is already set up: pitfall 20);
	 *  - io_context_t ctx = 0; rc = io_setup(window, &ctx): the context
	 *    MUST be zeroed first. On failure free what you allocated and
	 *    return rc itself (-EAGAIN when fs.aio-max-nr is used up,
	 *    -ENOSYS, ...), never -errno.
	 *    man 2 io_setup.
	 *
	 * TODO 3: refill. Give every free slot the next request not started:
	 *    io_prep_pread(&slot->cb, fd, buf, len, offset); slot->cb.data =
	 *    slot; and add &slot->cb to the pending list. man 3 io_prep_pread.
	 *
	 * TODO 4: submit the pending iocbs: rc = io_submit(ctx, npending, list).
	 *  - rc > 0: the FIRST rc were accepted, the others were not: keep them
	 *    pending and submit them again (pitfall 5);
	 *  - rc == -EAGAIN: the kernel is short of resources. If something is
	 *    in flight (even one request), reap (TODO 5) before you call
	 *    io_submit again; if nothing is, pause a few milliseconds
	 *    (nanosleep) before each retry, a bounded number of times IN A ROW
	 *    (say 50; a success starts the count again), then give up: the
	 *    batch returns -EAGAIN (pitfalls 7 and 17);
	 *  - rc == -EINTR: nothing was submitted; submit again;
	 *  - any other rc < 0 (-EBADF, -EINVAL, ...) is the error of list[0]
	 *    alone: that request's res = rc; drop it and submit the rest
	 *    (pitfall 6).
	 *    man 2 io_submit ("RETURN VALUE", "ERRORS", "NOTES").
	 *
	 * TODO 5: reap: got = io_getevents(ctx, 1, in_flight, events, NULL).
	 *    min_nr 1 wakes you at the first completion, so the window can be
	 *    refilled while the others are still running (pitfall 3); do not
	 *    poll with min_nr 0. got == -EINTR: a signal handler ran; call it
	 *    again (pitfall 8). Any other got < 0 ends the batch with that
	 *    error (after TODO 7). man 2 io_getevents.
	 *
	 * TODO 6: one completion. The request is the one in ev.data (or the
	 *    iocb in ev.obj), never "the next one" (pitfall 4). First
	 *    long res = (long)ev.res;  (it is unsigned long in libaio.h), then:
	 *  - res == -EINTR: a blocking read was interrupted; submit the same
	 *    piece again (pitfall 11);
	 *  - res < 0: the request's res = res (e.g. -EINVAL for a misaligned
	 *    O_DIRECT read: pitfall 10), even if an earlier piece of it was
	 *    read (not the bytes so far: pitfall 16);
	 *  - res == 0: end of file: res = bytes done so far;
	 *  - done + res == len: res = len (finished: do not ask for 0 more);
	 *  - otherwise a short read: done += res, submit the rest at offset +
	 *    done into buf + done, len - done (pitfall 9); offsets are 64-bit
	 *    (pitfall 18). Never pread.
	 *    A slot is free again only when its request is finished.
	 *
	 * TODO 7: tear down on EVERY path after io_setup succeeded, errors
	 *    included: io_destroy(ctx) (it waits for reads still running, so
	 *    your caller's buffers are safe afterwards), free what you
	 *    allocated; return 0 once every request has its res (pitfall 12).
	 *    man 2 io_destroy.
	 */
	(void)reqs;
	(void)n;
	(void)qd;
	return -ENOSYS;
}

void *laio_alloc_aligned(size_t len)
{
	/*
	 * TODO 8: memory for O_DIRECT (pitfall 14).
	 *  - len == 0, or rounding len up to a multiple of LAIO_DIO_ALIGN
	 *    would overflow (len > SIZE_MAX - (LAIO_DIO_ALIGN - 1)): NULL;
	 *  - round len up to a multiple of LAIO_DIO_ALIGN; posix_memalign with
	 *    alignment LAIO_DIO_ALIGN (it returns an error number, not -1);
	 *  - zero the whole rounded length; return it (the caller frees it).
	 * man 3 posix_memalign.
	 */
	(void)len;
	return NULL;
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	/*
	 * TODO 9: ask the kernel what O_DIRECT needs for this fd.
	 *  - struct statx stx; statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN,
	 *    &stx); statx is a glibc function: on failure return -errno;
	 *  - if stx.stx_mask has STATX_DIOALIGN: stx_dio_mem_align and
	 *    stx_dio_offset_align are the answer (0 means no O_DIRECT on this
	 *    file: return -EOPNOTSUPP); if not, the kernel did not say: use
	 *    LAIO_DIO_ALIGN for both;
	 *  - store them through the pointers that are not NULL; return 0.
	 *  - STATX_DIOALIGN and the stx_dio_* fields came with Linux 6.1's
	 *    headers (Debian 12 has them); the lesson says what to do with
	 *    older ones.
	 * man 2 statx ("stx_dio_mem_align").
	 */
	(void)fd;
	(void)mem_align;
	(void)offset_align;
	return -ENOSYS;
}
