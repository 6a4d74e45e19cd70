/*
 * memlock_wait.h - a module's ring or buffer refused with -ENOMEM because
 * other processes of the same user hold the locked memory.
 *
 * Ring memory and registered buffers are charged to RLIMIT_MEMLOCK per
 * user, not per process, wherever CAP_IPC_LOCK is missing (man 2
 * io_uring_register, ENOMEM; chapter 08's lesson, the memlock charge). The
 * grader's sandbox drops that capability even for root, so every grading
 * of the same user counts: the other test the runner runs beside this one,
 * the other chapters make test grades at the same time, and rings torn
 * down a moment ago, which the kernel frees in the background. A set-up
 * that fits on its own is then refused for a moment. Measured on the 2-core
 * VM with four gradings at once: about one grading in thirty lost a test to
 * it (a ring of 8 refused in chapter 06, a buffer of 1 MiB in chapter 08).
 *
 * MEMLOCK_PATIENT tries a set-up again while it says -ENOMEM, for up to
 * MEMLOCK_PATIENCE_MS. If it is still refused, memlock_skip_if_short()
 * decides whose shortage it is before the test's own check fails:
 *   - this process holds a good part of the limit itself (its pinned
 *     buffers, VmPin in /proc/self/status, and its rings, from
 *     /proc/self/fdinfo): the module's; the test fails;
 *   - the harness can make the same set-up itself (a ring of that size, the
 *     same buffer registered): the module's; the test fails;
 *   - otherwise the machine is short of locked memory now: the test skips
 *     with the reason (kind memlock:16777216, which report.c confirms only
 *     where the course's probe finds less than 16 MiB).
 *
 * Header-only: each test binary that includes it gets its own copy.
 */
#ifndef COURSE_MEMLOCK_WAIT_H
#define COURSE_MEMLOCK_WAIT_H

#include <dirent.h>
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "grade.h"

/* Long enough to outlast the heavy tests beside this one (a ring of 32768
 * entries holds about 3.5 MiB for a second or two), short enough to leave
 * most of a 5 s test limit to the test. */
#define MEMLOCK_PATIENCE_MS 2500
#define MEMLOCK_STEP_US 50000

/* ret_ = call_, made again every 50 ms while it returns -ENOMEM, for up to
 * MEMLOCK_PATIENCE_MS. */
#define MEMLOCK_PATIENT(ret_, call_)                                            \
	do {                                                                    \
		long memlock_start_ = fault_now_ms();                           \
		while (((ret_) = (call_)) == -ENOMEM &&                         \
		       fault_now_ms() - memlock_start_ < MEMLOCK_PATIENCE_MS)   \
			usleep(MEMLOCK_STEP_US);                                \
	} while (0)

/* "Key:\t<number>" of a /proc file, or 0. */
static unsigned long long memlock_proc_field(const char *path, const char *key, int base)
{
	char line[256];
	size_t klen = strlen(key);
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen)) {
			v = strtoull(line + klen, NULL, base);
			break;
		}
	fclose(f);
	return v;
}

/* The locked memory this process holds: its pinned buffers and, for each
 * io_uring descriptor it has open, that ring's SQEs, CQEs and SQ array. */
static unsigned long long memlock_own_bytes(void)
{
	unsigned long long bytes = memlock_proc_field("/proc/self/status", "VmPin:", 10) * 1024;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return bytes;
	while ((e = readdir(d)) != NULL) {
		char path[64], target[64], *end;
		long fd = strtol(e->d_name, &end, 10);
		ssize_t n;

		if (*end != '\0' || end == e->d_name || fd < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[io_uring]"))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%ld", fd);
		bytes += (memlock_proc_field(path, "SqMask:", 16) + 1) * (64 + 4) +
			 (memlock_proc_field(path, "CqMask:", 16) + 1) * 16 + 8192;
	}
	closedir(d);
	return bytes;
}

/*
 * After a module's set-up refused with -ENOMEM for the whole patience: skip
 * the test if the machine is short of locked memory (see above). entries:
 * the ring's size; base and len: the buffer to register on it (NULL, 0 for
 * none). Returns when the shortage is the module's; the caller's check then
 * fails.
 */
static void memlock_skip_if_short(unsigned entries, void *base, size_t len, const char *what)
{
	unsigned long long own = memlock_own_bytes();
	struct io_uring ring;
	struct rlimit rl;
	char reason[320];
	int ret;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    own > rl.rlim_cur / 4)
		return;
	ret = SEAM_REAL(io_uring_queue_init)(entries, &ring, 0);
	if (ret == 0) {
		if (base && len > 0) {
			struct iovec iov = { base, len };

			ret = SEAM_REAL(io_uring_register_buffers)(&ring, &iov, 1);
		}
		SEAM_REAL(io_uring_queue_exit)(&ring);
	}
	if (ret != -ENOMEM)
		return;
	snprintf(reason, sizeof(reason), "%s was refused with -ENOMEM for %d ms, and so was the "
		 "harness's own, while this test holds only %llu KiB of the %llu KiB RLIMIT_MEMLOCK: "
		 "other processes of this user hold the rest (the charge is per user)", what,
		 MEMLOCK_PATIENCE_MS, own / 1024, (unsigned long long)rl.rlim_cur / 1024);
	grade_skip("memlock:16777216", reason, "grade again when fewer gradings run at once, or "
		   "raise the limit to 16 MiB or more (ulimit -l 16384); run make doctor");
}

#endif
