/*
 * faults.h - make faults real instead of simulating them.
 *
 * A fault script runs in a harness thread beside the test thread (the one that
 * calls the code under test) and does, in order, what a real peer or a real
 * kernel would: write a pipe in pieces and wait for each piece to be consumed,
 * wait until the test thread is blocked inside a given system call and then
 * interrupt it with a signal installed without SA_RESTART, drain the other end
 * of a pipe, close it. Every wait gives up after a bound (FAULT_PATIENCE_MS),
 * so a wrong implementation makes the test fail, never hang the harness.
 */
#ifndef FAULTS_H
#define FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FAULT_PATIENCE_MS 3000

enum fault_op {
	FAULT_END = 0,
	FAULT_WRITE,        /* write data[0..len) to fd (all of it)                   */
	FAULT_WRITE_PIECES, /* write data[0..len) to fd in pieces of `piece` bytes,     */
	                    /* each one only once the pipe is empty again: every read   */
	                    /* the test thread makes returns at most one piece          */
	FAULT_WAIT_DRAINED, /* wait until the pipe behind fd has no unread bytes       */
	FAULT_WAIT_FULL,    /* wait until the pipe behind fd holds at least len bytes  */
	FAULT_WAIT_BLOCKED, /* wait until the test thread sleeps in system call sysno  */
	FAULT_SIGNAL,       /* SIGUSR1 to the test thread (handler without SA_RESTART) */
	FAULT_READ,         /* read len bytes from fd into the sink                     */
	FAULT_READ_ALL,     /* read fd until EOF into the sink                          */
	FAULT_CLOSE,        /* close fd                                                 */
};

struct fault_step {
	enum fault_op op;
	int fd;
	const void *data;
	size_t len;
	size_t piece;
	long sysno;
};

struct fault_report {
	unsigned char *sink;   /* bytes read by FAULT_READ*, malloc'd (free it) */
	size_t sunk;
	int signals;           /* signals delivered to the test thread          */
	int blocked_seen;      /* FAULT_WAIT_BLOCKED steps that saw the block   */
	int gave_up;           /* waits that ran out of patience                */
};

struct fault;

/* Start the script (copied; steps end with FAULT_END) against the calling
 * thread. Installs the SIGUSR1 handler; fault_join restores the old one. */
struct fault *fault_start(const struct fault_step *steps);
/* Call once the call under test has returned: waits still pending give up
 * at once; then wait for the script to finish and collect what it saw. */
struct fault_report fault_join(struct fault *f);

/* A pipe whose capacity is `capacity` bytes (rounded up to a page by the
 * kernel). Fails the test if the pipe cannot be made. */
void fault_pipe(int fds[2], size_t capacity);

/* Milliseconds on the monotonic clock, for the harness's bounded waits. */
long fault_now_ms(void);
/* A 0.2 ms pause of the harness itself; never counted as the code's sleep. */
void fault_nap(void);

/* A buffer of `len` bytes (beyond 4 GiB, for the 64-bit tests) of which
 * only the first page and the last `tail` bytes are memory: the address
 * range between is left unmapped, so the buffer costs no address space
 * (graders often cap RLIMIT_AS at a few GiB) and the code under test may
 * compute any pointer into it; the hooks of the test complete the requests
 * that would touch the gap without touching it. Fails the test if no such
 * range can be found. Free with fault_sparse_buffer_free(buf, len, tail). */
unsigned char *fault_sparse_buffer(size_t len, size_t tail);
void fault_sparse_buffer_free(unsigned char *buf, size_t len, size_t tail);

/* The lowest descriptor of this process open on the file at `path` (the
 * same device and inode), or -1: which descriptor the code under test is
 * writing a file through, to pull it away behind its back. */
int fault_fd_on_file(const char *path);

/* Open descriptors and threads in this process right now. */
int fault_count_fds(void);
int fault_count_threads(void);

/* An fd number that is not open (and will not be reused by a ring or a
 * file opened later in the test: those take the lowest free numbers). */
int fault_closed_fd(void);

/* Is fd an open socket? (In a seam's hook: which calls are socket I/O.) */
bool fault_is_socket(int fd);

#endif /* FAULTS_H */
