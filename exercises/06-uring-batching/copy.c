/*
 * copy.c - chapter 06 exercise: copy SRC DST through io_uring with several
 * reads and writes in flight.
 *
 *     copy SRC DST
 *
 * Read chapters/06-uring-batching/README.md ("The program") first.
 * Grade your work with:   make check CH=06
 * Try it:                 make run CH=06 PROG=copy ARGS="/tmp/lab/f /tmp/lab/g"
 *
 * The grader runs this program from outside, like a user would (the lesson,
 * "The program", says exactly what it checks): exit status 0 on success with
 * nothing on stdout; otherwise a non-zero status and a message (on stderr by
 * convention) that names the file when one cannot be opened; a usage error
 * exits with status 2 by convention. DST gets mode 0644 less the umask
 * (open's mode argument; no chmod). Data moves only
 * through io_uring (no read, write, pread, pwrite, sendfile, mmap of the
 * files), with several requests in flight (strace shows it).
 *
 * A shape that works (lesson, "The program" and pitfalls 15-19): SLOTS
 * buffers of BLOCK bytes.
 * Each slot owns one block of the file at a time and goes
 *
 *     READING --(block full)--> WRITING --(block written)--> next block
 *        ^  |                      ^  |
 *        +--+ short read:          +--+ short write:
 *             read the rest             write the rest
 *
 * A block is written at the offset it was read from, so blocks may finish
 * in any order. user_data points at the slot. Every slot has at most one
 * request queued or in flight, and the SQ has SLOTS entries, so an SQE is
 * always free when a completion asks for the slot's next step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (128u * 1024u) /* bytes per request                */
#define SLOTS 8u             /* blocks in flight at once          */

/*
 * TODO 10 (open): open SRC (O_RDONLY), fstat it: it must be a regular file.
 *  Then open DST with O_WRONLY | O_CREAT, mode 0644, but WITHOUT O_TRUNC:
 *  if DST is SRC (same st_dev and st_ino after fstat of both), truncating
 *  it would destroy the data before you could notice. Refuse that case;
 *  otherwise ftruncate(DST, 0). Never create or truncate DST before SRC is
 *  known to be readable. Each failure: "copy: PATH: strerror(errno)" on
 *  stderr, status 1.  man 2 open, man 2 fstat, man 2 ftruncate.
 *
 * TODO 11 (set-up): SLOTS block buffers (posix_memalign to 4096 keeps them
 *  O_DIRECT-ready) and io_uring_queue_init(SLOTS, &ring, 0); it returns
 *  -errno (print strerror(-ret)).  man 3 io_uring_queue_init.
 *
 * TODO 12 (start): give every slot a block: its offset, its length (the
 *  last block is shorter), and queue its read (io_uring_prep_read at the
 *  block's offset, io_uring_sqe_set_data(sqe, slot)).
 *
 * TODO 13 (read done): res > 0 and the block not full yet: read the rest at
 *  offset + got into buf + got. Full: queue the write of the block AT THE
 *  OFFSET IT WAS READ FROM (io_uring_prep_write). res < 0: remember the
 *  first error. res == 0: SRC shrank; write what you have.
 *  man 3 io_uring_prep_write.
 *
 * TODO 14 (write done): a short write wrote the first res bytes: write the
 *  rest at offset + put from buf + put. All written: the slot takes the
 *  next block (TODO 12), if any is left and no error happened.
 *
 * TODO 15 (loop): while requests are in flight: io_uring_submit_and_wait
 *  (ring, 1) (-EINTR: just go on), then handle every ready CQE
 *  (io_uring_for_each_cqe) and io_uring_cq_advance once. On an error:
 *  print it ("copy: DST: No space left on device"), tear down, exit 1.
 *  Close DST and check close()'s result too. Exit 0 on success, silently.
 */
int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "copy: not implemented (TODO 10)\n");
	return 1;
}
