/*
 * ring_exit.h - io_uring_queue_exit only of a ring that is still set up.
 *
 * io_uring_queue_exit unmaps the ring and closes its descriptor. A second
 * exit of the same struct io_uring closes that number again, and by then it
 * may be another file's (the next open reuses the lowest free number), and
 * unmaps addresses a later mmap may have been given. A ring whose
 * descriptor is closed, or is not an io_uring, was torn down already or
 * never set up (a zeroed struct says descriptor 0, stdin): the call is
 * refused (seam_violate: the test fails with the reason) and must not be
 * made. Used by chapter 05's tests and by ring_watch.h (06-11). Header-only.
 */
#ifndef RING_EXIT_H
#define RING_EXIT_H

#include "seams.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Is fd an open io_uring descriptor? (/proc/self/fd names it
 * "anon_inode:[io_uring]"; without /proc, open is taken for enough.) */
static inline bool ring_exit_fd_is_ring(int fd)
{
	char path[64], target[64];
	ssize_t len;

	if (SEAM_REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, target, sizeof(target) - 1);
	if (len < 0)
		return true;
	target[len] = '\0';
	return strcmp(target, "anon_inode:[io_uring]") == 0;
}

/*
 * True (and the test's violation recorded) if the ring is not set up (torn
 * down already, or never): the caller must then neither touch it (its rings
 * may be unmapped) nor call io_uring_queue_exit. where: what the chapter's
 * contract says, for the message.
 */
static inline bool ring_exit_refused(const struct io_uring *ring, const char *where)
{
	if (!ring || ring->ring_fd < 0 || ring_exit_fd_is_ring(ring->ring_fd))
		return false;
	seam_violate("your code called io_uring_queue_exit on a ring that is not set up: its "
		     "descriptor %d is closed, or is not an io_uring. Either the ring was torn "
		     "down already (a second exit closes a number that may be another file's by "
		     "then, and unmaps memory that may be someone else's), or it was never set "
		     "up (its io_uring_queue_init failed, and the struct holds no ring). Tear "
		     "each ring down once, and only a ring whose set-up worked (%s; man 3 "
		     "io_uring_queue_exit)", ring->ring_fd, where);
	return true;
}

#endif /* RING_EXIT_H */
