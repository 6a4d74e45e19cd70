/*
 * grade.h - the grading rules on top of Criterion.
 *
 * Criterion runs every test in its own process, with a time limit, and tells
 * us about crashes. What it does not do, and what this file adds:
 *   - points and a hint for every test (GRADE_TEST);
 *   - the completion guard: a test earns its points only if its body ran to
 *     the end. The body ends by exiting with GRADE_DONE_STATUS; Criterion is
 *     told to expect that status (.exit_code), so learner code that calls
 *     exit(0), _exit(0) or exit_group half way fails the test instead of
 *     passing it (plain Criterion would report PASSED);
 *   - skips that explain (grade_skip): never points, never a failure;
 *   - the per-test report lines written for harness/tools/report.c.
 *
 * A test looks like this:
 *
 *   GRADE_TEST(read_full, short_pipe, 3,
 *              "read_full: a pipe fed in small pieces",
 *              "read(2) may return fewer bytes than asked: loop (TODO 1)")
 *   {
 *       ...
 *       grade_check(got == want, "read_full returned %zd, expected %zd", got, want);
 *   }
 */
#ifndef GRADE_H
#define GRADE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seams.h"
#include "faults.h"

/* Exit status that only the end of a test body produces. */
#define GRADE_DONE_STATUS 77
/* The exit status of a test whose thread the code under test ended
 * (pthread_exit on the caller's thread): grade.c says so in the report. */
#define GRADE_THREAD_ENDED_STATUS 78

/* Default time limit of a test, in seconds. Tests take milliseconds; the
 * margin is for a loaded machine and sanitizer builds. */
#ifndef GRADE_TIMEOUT
#define GRADE_TIMEOUT 5
#endif
/* The test's own timer (grade.c) ends it at its limit; Criterion's, this
 * much later, only if that timer could not fire. */
#define GRADE_TIMEOUT_BACKSTOP 5
/* Under SAN=1 (GRADE_SANITIZE in the environment) every limit is this many
 * times longer: the learner's code runs two to three times slower there,
 * and a limit a loaded machine comes near in a plain grading (make test
 * grades six at once on two cores) would be crossed by correct code.
 * Criterion's backstop is compiled once for both flavours: it allows for
 * the longer one. */
#define GRADE_SAN_TIME_SCALE 3

struct grade_entry {
	const char *suite;
	const char *name;
	int points;
	const char *title;  /* what the test checks, in the learner's words */
	const char *hint;   /* where to look when it fails                   */
	int line;           /* order in the test file (__COUNTER__: headers included count in place) */
	double timeout;
};

void grade_register(const struct grade_entry *entry);
void grade_test_begin(const char *suite, const char *name);
void grade_test_end(void) __attribute__((noreturn));

#define GRADE_TEST_T(suite_, name_, points_, title_, hint_, timeout_)            \
	static void grade_body_##suite_##_##name_(void);                        \
	__attribute__((constructor)) static void grade_reg_##suite_##_##name_(void) \
	{                                                                        \
		static const struct grade_entry e = {                            \
			#suite_, #name_, points_, title_, hint_, __COUNTER__, timeout_ \
		};                                                               \
		grade_register(&e);                                              \
	}                                                                        \
	Test(suite_, name_, .timeout = (timeout_) * GRADE_SAN_TIME_SCALE +      \
			    GRADE_TIMEOUT_BACKSTOP,                              \
	     .exit_code = GRADE_DONE_STATUS)                                     \
	{                                                                        \
		grade_test_begin(#suite_, #name_);                               \
		grade_body_##suite_##_##name_();                                 \
		grade_test_end();                                                \
	}                                                                        \
	static void grade_body_##suite_##_##name_(void)

#define GRADE_TEST(suite_, name_, points_, title_, hint_) \
	GRADE_TEST_T(suite_, name_, points_, title_, hint_, GRADE_TIMEOUT)

/* A failed check ends the test with the message, in the learner's terms. */
void grade_check_violation(void);
#define grade_check(cond, ...)                  \
	do {                                    \
		grade_check_violation();        \
		cr_assert((cond), __VA_ARGS__); \
	} while (0)
#define grade_fail(...) cr_assert_fail(__VA_ARGS__)

/* Report the test as skipped: the machine lacks what it needs. `kind` names
 * the missing feature in the words of the course's probe (tools/probe.c,
 * `probe facts`): io_uring, memlock:BYTES, aio, odirect, ptrace, strace,
 * nop_inject. `reason` says what is missing, `fix` what to do about it. Ends
 * the test.
 *
 * The skip is honoured only if the probe, run on this machine without any
 * learner code, found the feature missing too (harness/tools/report.c,
 * `report check`); otherwise the test fails, so learner code cannot make a
 * chapter look unrunnable and drop its tests out of the maximum score. */
void grade_skip(const char *kind, const char *reason, const char *fix)
	__attribute__((noreturn));

/* Skip unless io_uring can be used here (seccomp, io_uring_disabled,
 * RLIMIT_MEMLOCK), with the reason. entries: ring size the test needs. */
void grade_require_io_uring(unsigned entries);

/* Skip unless `bytes` of locked memory are available to this process: ring
 * memory and registered buffers are charged to RLIMIT_MEMLOCK for users
 * without CAP_IPC_LOCK, and a torn-down ring stays charged a little while,
 * so tests that set up many rings need more than one ring's worth. `what`
 * says what needs it, for the message. */
void grade_require_memlock(size_t bytes, const char *what);

/* --- inputs ---------------------------------------------------------- */

/* The run's seed (SEED in the environment, else a fixed default so that a
 * tree always gets the same score) mixed with the test's name. */
uint64_t grade_seed(void);
uint64_t grade_rand(void);                 /* xorshift64*, from grade_seed() */
size_t grade_rand_below(size_t bound);     /* 0 .. bound-1 */
void grade_fill_random(void *buf, size_t len);

/* A fresh directory for this test, removed when the test ends. */
const char *grade_tmpdir(void);
/* A path inside it: grade_path("x") -> "<tmpdir>/x" (static storage per call
 * slot; keep at most 8 alive). */
const char *grade_path(const char *name);
/* Write len bytes of data to a new file in the test directory; returns its path. */
const char *grade_make_file(const char *name, const void *data, size_t len);
/* Allocate len random bytes (never NULL: fails the test on ENOMEM). */
unsigned char *grade_random_bytes(size_t len);
void *grade_xmalloc(size_t len);
/* Read a whole file back; *len_out gets its size. NULL if it can't be read. */
unsigned char *grade_slurp(const char *path, size_t *len_out);

/* First differing offset of two buffers, or -1 if equal. */
ssize_t grade_first_diff(const void *a, const void *b, size_t len);
/* Fail the test unless got equals want, naming the first wrong byte and the
 * seed to rerun with. `what` says whose data it is ("read_full"). */
void grade_check_same(const void *got, const void *want, size_t len, const char *what);

/* open(2) for the harness's own use (O_CLOEXEC, mode 0644); fails the test
 * with the reason if it cannot. */
int grade_open(const char *path, int flags);

/* In a child the harness forked to run a learner's program (a copy
 * program, a server), just before execv: confine it so that it cannot
 * ptrace, or write the memory of, the test process that judges it, nor any
 * other process outside its own descendants (a Landlock domain; the kernel
 * enforces it across exec). Async-signal-safe. Returns 0, or -errno where
 * the kernel has no Landlock (then only the sandbox of grade.sh holds). */
int grade_confine_child(void);

/* A Landlock layer on the calling process and what it execs: from here on,
 * files may be opened for writing (or truncated) only beneath dir and
 * /dev, even by root. Every test process has one already (the tests'
 * temporary directory); a test may add a narrower one in a child it forks.
 * Raw system calls, async-signal-safe. Returns 0, or -1 where the kernel
 * has no Landlock or refuses the layer (skip with kind "landlock"). */
int grade_writes_only_beneath(const char *dir);

/* A result in words: "4096", "-EBADF". Eight results can be alive at once
 * (enough for one message). */
const char *grade_errno_str(ssize_t v);

/* Heap leaks. Take `before` with seam_heap_usage() before the calls under
 * test (after a first call, if the module may keep one cache for good), and
 * call this after them: it fails the test, in the learner's words, if the
 * module holds more heap blocks than it did. `what` names the calls
 * ("tpool_create that failed half way"). A block freed twice is not its
 * business: glibc aborts on that, and the crash fails the test. */
void grade_check_heap(const struct seam_heap *before, const char *what);

#endif /* GRADE_H */
