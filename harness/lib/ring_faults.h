/*
 * ring_faults.h - the faults of a batch read's loop on one io_uring, as
 * graded tests shared by the chapters whose module runs that loop (06's
 * ubatch_read, 08's ufixed_read): -EAGAIN from a submit must lead to a
 * wait, not a spin; a fatal ring error must drain the reads the kernel has
 * before returning; -EAGAIN forever must end the batch, and -EAGAIN with
 * the SQ full and CQEs waiting must lose no request.
 *
 * Included once by a chapter's tests.c (which includes ring_watch.h,
 * batch_checks.h, faults.h and <sys/syscall.h> first), after defining:
 *   RF_TEST(suite, name, points, title, hint, entries)   its test macro
 *   RF_STATE                   the module's state type (struct ubatch)
 *   RF_INIT(b, entries)        set a ring up or fail the test
 *   RF_READ(b, reqs, n, qd)    one watched batch read, returning its result
 *   RF_EXIT(b)                 tear the ring down
 *   RF_CLEAN(b, when)          check the ring is left empty
 *   RF_FN                      the read function's name, a string literal
 *   RF_TITLE_* and RF_HINT_*   each test's title and hint (the TODOs differ)
 * The state must have its ring in a member named `ring`.
 */
#ifndef RING_FAULTS_H
#define RING_FAULTS_H

/*
 * eagain_waits injects -EAGAIN into the submits made while the pipe read is
 * in the kernel, until the code first waits: the file reads must be back by
 * then, so that the code has something new to submit before that wait. They
 * are cached, and a plain read of cached data completes inside the submit;
 * one marked IOSQE_ASYNC (allowed: it only says where the kernel runs it)
 * goes to a kernel worker instead, and under load may not be back within
 * the code's first bounded wait, which then ends the injection before it
 * began (a correct module failed 4 runs of 10). So that test takes
 * IOSQE_ASYNC off the reads: the scenario no longer depends on how fast a
 * worker thread is scheduled.
 */
static void rf_reads_inline(struct io_uring_sqe *sqe)
{
	sqe->flags &= (__u8)~IOSQE_ASYNC;
}

RF_TEST(faults, eagain_waits, 2, RF_TITLE_EAGAIN_WAITS, RF_HINT_EAGAIN_WAITS, 16)
{
	const size_t n = 17, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size), *piped = grade_random_bytes(64);
	int fd = data_file("f", size, &data);

	/* Request 0 is a pipe that gets its data only once the call sleeps in
	 * io_uring_enter, waiting for it after -EAGAIN. Round 1: a ring of 16 at
	 * qd 4, and a signal interrupts that wait first. Round 2: a ring of 4 at
	 * qd 8: the SQ fills, and the submit made to free it answers -EAGAIN
	 * too. */
	for (int round = 0; round < 2; round++) {
		struct fault_step with_signal[] = {
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_SIGNAL },
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE, .data = piped, .len = 64 },
			{ .op = FAULT_CLOSE },
			{ .op = FAULT_END } };
		struct fault_step plain[] = {
			{ .op = FAULT_WAIT_BLOCKED, .sysno = SYS_io_uring_enter },
			{ .op = FAULT_WRITE, .data = piped, .len = 64 },
			{ .op = FAULT_CLOSE },
			{ .op = FAULT_END } };
		struct fault_step *steps = round == 0 ? with_signal : plain;
		const char *when = round == 0 ? "after -EAGAIN" : "after -EAGAIN with the SQ full";
		unsigned entries = round == 0 ? 16 : 4, qd = round == 0 ? 4 : 8;
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		unsigned char slow[64];
		struct fault *f;
		struct fault_report r;
		RF_STATE b;
		int p[2], ret;

		fault_pipe(p, 0);
		for (struct fault_step *s = steps; s->op != FAULT_END; s++)
			if (s->op == FAULT_WRITE || s->op == FAULT_CLOSE)
				s->fd = p[1];
		reqs[0] = (struct batch_req){ p[0], 0, sizeof(slow), slow, 1 };
		RF_INIT(&b, entries);
		f = fault_start(steps);
		watch.eagains = watch.eagain_streak = watch.eagain_streak_max = 0;
		watch.last_khead = 0;
		watch.waited = false;
		watch.eagain_until_wait = true;
		watch.edit_sqe = rf_reads_inline;
		ret = RF_READ(&b, reqs, n, qd);
		watch.edit_sqe = NULL;
		watch.eagain_until_wait = false;
		r = fault_join(f);
		grade_check(watch.eagains > 0, RF_FN " never submitted new reads while request 0 "
			    "(a pipe with no data yet) was in the kernel (%ld liburing calls, window "
			    "%u of 17 reads on a ring of %u): refill the window as reads complete "
			    "(chapter 06's lesson, section 5)", watch.calls, qd, entries);
		/* Round 0 (the SQ never full): one refused submit, then a wait.
		 * Round 1: the submit made to free a full SQ may be refused
		 * too, before the wait. */
		grade_check(watch.eagain_streak_max <= (round == 0 ? 1u : 2u), RF_FN " on a ring "
			    "of %u at qd %u called io_uring_submit* %u times in a row, each answered "
			    "-EAGAIN, without waiting for the read the kernel had (a pipe) or reaping "
			    "anything%s: after -EAGAIN, "
			    "stop filling and wait for a completion first", entries, qd,
			    watch.eagain_streak_max, round == 0 ? "" : " (the submit made because the "
			    "SQ is full, io_uring_get_sqe NULL, answered -EAGAIN too)");
		grade_check(ret == 0, RF_FN " on a ring of %u at qd %u returned %s after -EAGAIN "
			    "from a submit%s; expected 0: wait for the read in the kernel (again after "
			    "-EINTR), then submit again", entries, qd, grade_errno_str(ret),
			    round == 0 ? " and a signal (SIGUSR1, no SA_RESTART) during the wait that "
			    "followed" : " with the SQ full");
		grade_check(reqs[0].res == 64 && memcmp(slow, piped, 64) == 0, "request 0 (the "
			    "pipe): res %s, expected 64 with the pipe's bytes",
			    grade_errno_str(reqs[0].res));
		for (size_t i = 1; i < n; i++)
			check_req(&reqs[i], i, data, size, when);
		RF_CLEAN(&b, when);
		RF_EXIT(&b);
		close(p[0]);
		free(r.sink);
		free(reqs);
	}
	free(piped);
	free(bufs);
	close(fd);
	free(data);
}


/* Two reads that wait on pipes, the rest of a file: the pipes get their data
 * only when the code waits for completions after the injected error. */
RF_TEST(batch, error_drains_reads, 2, RF_TITLE_DRAIN, RF_HINT_DRAIN, 8)
{
	const size_t n = 12, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size), slow[2][8];
	int fd = data_file("f", size, &data);
	RF_STATE b;

	watch.limit_why = "every liburing call failed with -EBADR (a broken ring) and the code "
			  "kept calling: return the error, also when waiting for the reads in "
			  "flight fails (chapter 06's lesson, section 7)";
	for (int round = 0; round < 2; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int pa[2], pb[2], ret;
		unsigned left;
		bool injected;

		fault_pipe(pa, 0);
		fault_pipe(pb, 0);
		reqs[0] = (struct batch_req){ pa[0], 0, 8, slow[0], 1 };
		reqs[1] = (struct batch_req){ pb[0], 0, 8, slow[1], 1 };
		RF_INIT(&b, 8);
		watch_reset_counts();
		/* -EBADR at the first call made while a read is in the kernel:
		 * round 1 once (waiting still works), round 2 from then on. */
		watch.inject_when = WATCH_WHEN_BUSY;
		watch.inject_err = -EBADR;
		watch.inject_forever = round == 1;
		if (round == 0) {
			watch.feed_fds[0] = pa[1];
			watch.feed_fds[1] = pb[1];
			watch.nfeed = 2;
		}
		ret = RF_READ(&b, reqs, n, 4);
		left = watch_in_kernel(&b.ring);
		injected = watch.injected;
		watch_reset_counts();
		grade_check(injected, "harness: no liburing call was made while the pipe reads were "
			    "in the kernel (" RF_FN " returned %s)", grade_errno_str(ret));
		if (round == 0) {
			grade_check(ret != -EINTR && (ret < 0 || (reqs[0].res == 8 && reqs[1].res == 8)),
				    "one liburing call returned -EBADR while two pipe reads were in "
				    "the kernel; " RF_FN " returned %s (requests 0 and 1: res %s, "
				    "%s); expected the error (or 0 with every request done)",
				    grade_errno_str(ret), grade_errno_str(reqs[0].res),
				    grade_errno_str(reqs[1].res));
			grade_check(left == 0, RF_FN " returned %s after a liburing call failed "
				    "with -EBADR, with %u read(s) still in the kernel, which may write "
				    "into the caller's buffers after it returned: wait for the "
				    "completion of every read the kernel has before returning (the "
				    "wait still worked here)", grade_errno_str(ret), left);
		} else {
			grade_check(ret < 0 && ret != -EINTR, "every liburing call failed with "
				    "-EBADR once two pipe reads were in the kernel; " RF_FN
				    " returned %s, expected a negative error", grade_errno_str(ret));
		}
		RF_EXIT(&b);
		close(pa[0]);
		close(pa[1]);
		close(pb[0]);
		close(pb[1]);
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}


RF_TEST(faults, eagain_forever, 2, RF_TITLE_EAGAIN_FOREVER, RF_HINT_EAGAIN_FOREVER, 16)
{
	const size_t n = 64, bs = 4096, size = n * bs;
	unsigned char *data, *bufs = grade_xmalloc(size);
	int fd = data_file("f", size, &data);
	int before = fault_count_fds();
	RF_STATE b;

	watch.limit_why = "every liburing call returned -EAGAIN and the code kept retrying "
			  "without any progress: give up after a few rounds (chapter 06's lesson, section 7)";
	for (int round = 0; round < 3; round++) {
		struct batch_req *reqs = block_reqs(fd, n, bs, bufs);
		int ret;

		/* Round 1: from the first call on. Round 2: on a ring of 4 at qd 8,
		 * every read cut short, from the first call made while the SQ is
		 * full and a CQE waits (its rest needs an SQE there is no room for).
		 * Round 3: the same, for three calls only: then the ring works. */
		RF_INIT(&b, round == 0 ? 16 : 4);
		watch_reset_counts();
		watch.inject_err = -EAGAIN;
		watch.inject_forever = round < 2;
		watch.inject_calls = round == 2 ? 3 : 0;
		if (round == 0)
			watch.inject_at = 1;
		else
			watch.inject_when = WATCH_WHEN_SQ_FULL_CQE;
		watch.shrink = round > 0;
		watch.shrunk = 0;
		ret = RF_READ(&b, reqs, n, 8);
		watch.shrink = false;
		watch_reset_counts();
		if (round == 0) {
			grade_check(ret < 0 && ret != -EINTR, "every liburing call returned -EAGAIN; "
				    RF_FN " returned %s, expected a negative error (-EAGAIN)",
				    grade_errno_str(ret));
		} else if (round == 1) {
			grade_check(ret < 0 ? ret != -EINTR : ret == 0, RF_FN " on a ring of 4 "
				    "at qd 8, every call answered -EAGAIN once the SQ was full with "
				    "CQEs waiting: returned %s, expected a negative error",
				    grade_errno_str(ret));
			for (size_t i = 0; ret == 0 && i < n; i++)
				check_req(&reqs[i], i, data, size, "returned 0 after -EAGAIN forever");
		} else {
			grade_check(ret == 0 || ret == -EAGAIN, RF_FN " on a ring of 4 at qd 8, "
				    "every read cut short, three calls answered -EAGAIN while the SQ was "
				    "full with CQEs waiting: returned %s, expected 0 (or -EAGAIN)",
				    grade_errno_str(ret));
			for (size_t i = 0; ret == 0 && i < n; i++)
				check_req(&reqs[i], i, data, size, "after three -EAGAIN with the SQ full: "
					  "a CQE whose rest found no SQE must stay for a later round");
			if (ret == 0)
				RF_CLEAN(&b, "after -EAGAIN with the SQ full");
		}
		RF_EXIT(&b);
		grade_check(fault_count_fds() == before, "%d descriptor(s) left open",
			    fault_count_fds() - before);
		free(reqs);
	}
	free(bufs);
	close(fd);
	free(data);
}

#endif /* RING_FAULTS_H */
