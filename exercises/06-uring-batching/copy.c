/*
 * copy.c - chapter 06 exercise: copy SRC DST through io_uring with several
 * reads and writes in flight.
 *
 *     copy SRC DST
 *
 * Read chapters/06-uring-batching/README.md ("The program") first.
 * Grade your work with:   make check CH=06
 * Try it:                 make run CH=06 PROG=copy ARGS="/tmp/lab/f /tmp/lab/g"
 * A failing test names the TODO; `make hint T=06.NN` gives deeper hints.
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
 * A shape that works (lesson, "The program" and pitfalls 23-30): SLOTS
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
 * TODO 10 (open): open SRC for reading and DST for writing, refusing every
 *  case the lesson's table lists (SRC missing or not a regular file, DST
 *  unopenable, DST the same file as SRC under another name).
 *  Why the order matters: DST must not be created, and never emptied,
 *  until SRC is known to be a readable regular file and DST is known not
 *  to be SRC; opening with truncation would destroy SRC before you could
 *  compare (man 2 open, O_TRUNC; man 2 fstat; man 7 inode, "Inode number").
 *  A new DST's mode is open's job, with the umask applied by the kernel
 *  (man 2 open, O_CREAT; man 2 umask); a chmod afterwards is wrong. Each
 *  failure prints a message that names the file and the reason.
 *
 * TODO 11 (set-up): the slots' buffers and a plain ring (no SQPOLL) big
 *  enough that every slot can always have its one request queued.
 *  liburing returns -errno: man 3 io_uring_queue_init.
 *
 * TODO 12 (start): give a slot the next block of SRC and queue its read.
 *  Blocks are cut from the size fstat gave; the last one is shorter. A
 *  CQE must lead back to its slot (man 3 io_uring_sqe_set_data).
 *
 * TODO 13 (read done): a read CQE for a slot. Like ubatch_read, a short
 *  read is not the end of the block, 0 is end of file (SRC shrank) and a
 *  negative res is an error of SRC. A full block is written next, and
 *  blocks finish in any order: man 3 io_uring_prep_write says where a
 *  write with an explicit offset goes, and why -1 is a bad idea here.
 *
 * TODO 14 (write done): a write CQE for a slot. man 2 write, first
 *  paragraph of DESCRIPTION, says what a short write did write; the grader
 *  makes one happen (a file-size limit) and expects its rest to be written,
 *  and its failure reported. A block fully written frees its slot for the
 *  next block, unless the copy has already failed.
 *
 * TODO 15 (loop): submit and wait, reap, until no slot has a request in
 *  flight: the same trip as ubatch_read's, so that strace shows several
 *  requests per io_uring_enter (lesson, try it 5). Then tear down and
 *  report: exit 0 and silence on success; on any error a message naming
 *  the file and a non-zero status. close() of DST can fail too (man 2
 *  close, "Dealing with error returns from close()").
 */
int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "copy: not implemented (TODO 10)\n");
	return 1;
}
