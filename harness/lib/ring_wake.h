/*
 * ring_wake.h - a wait that ends before any completion, as a graded test
 * shared by the chapters whose batch read runs its loop on one io_uring
 * (06's ubatch_read, 08's ufixed_read).
 *
 * io_uring_submit_and_wait(ring, 1) can return the number of SQEs the
 * kernel took while the CQ is still empty: a signal ended the wait after
 * the submit, and io_uring_enter(2) reports the submission, not -EINTR
 * (the kernel's rule; liburing passes the count on). Nothing failed: the
 * reads are in the kernel and their completions come later. The ring
 * watch makes it happen on demand (ring_watch.h, "early wakes"): the first
 * few io_uring_submit_and_wait calls return at once, and the reads they
 * carried complete only when the code calls liburing again.
 *
 * Included at the end of tests.c, so that its test comes last and the
 * numbers of the others stay, with ring_faults.h's RF_* macros defined and
 * RF_TITLE_EARLY_WAKE, RF_HINT_EARLY_WAKE.
 */
#ifndef RING_WAKE_H
#define RING_WAKE_H

RF_TEST(faults, early_wake, 1, RF_TITLE_EARLY_WAKE, RF_HINT_EARLY_WAKE, 16)
{
	const size_t n = 40, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	static const unsigned qds[] = { 1, 8 };

	for (size_t round = 0; round < sizeof(qds) / sizeof(qds[0]); round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		char when[128];
		unsigned wakes, held;
		RF_STATE b;
		int ret;

		snprintf(when, sizeof(when), "at qd %u, with io_uring_submit_and_wait returning "
			 "before any completion", qds[round]);
		RF_INIT(&b, 16);
		watch_reset_counts();
		watch.wake_early = 4;
		ret = RF_READ(&b, reqs, n, qds[round]);
		wakes = watch.early_wakes;
		held = watch.held_reads;
		watch.wake_early = 0;
		watch_release_held();
		grade_check(ret == 0, RF_FN " returned %s %s (%u call(s) returned the number of SQEs "
			    "the kernel took, with the CQ still empty and %u read(s) not done yet); "
			    "expected 0: that is what a signal during the wait does, not an error",
			    grade_errno_str(ret), when, wakes, held);
		for (size_t i = 0; i < n; i++)
			check_req(&reqs[i], i, data, size, when);
		RF_CLEAN(&b, when);
		RF_EXIT(&b);
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}

#endif /* RING_WAKE_H */
