/*
 * tour.c - chapter 03: the parts of POSIX aio the exercise does not use,
 * each shown on its own. A standalone program (it does not use the
 * chapter's module), built beside the demo and run with:
 *
 *   make run CH=03 PROG=tour ARGS="notify | listio | cancel | zeroed | eintr | helper | write | all"
 *
 * (one part, or all; the binary is then build/exercises/03-posix-aio/tour,
 * for strace). Without the course's build:
 *   cc -std=gnu11 -Wall -pthread -o tour chapters/03-posix-aio/tour.c
 *
 * Every part prints what happened and checks it against what the lesson
 * says; the program exits 0 only if everything matched.
 *
 * Where a part needs a helper thread to be *inside* a read before it goes
 * on (cancel), it does not sleep and hope: it reads /proc/self/task/TID/
 * syscall, which shows the system call each thread is blocked in.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int mismatches;

static void expect(bool ok, const char *what)
{
	printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		mismatches++;
}

static void die(const char *what)
{
	fprintf(stderr, "tour: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A zeroed aiocb for `len` bytes of fd at off, no notification. */
static void prep(struct aiocb *cb, int fd, void *buf, size_t len, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Wait for one request with aio_suspend (EINTR: again); then its result. */
static ssize_t wait_one(struct aiocb *cb, int *err)
{
	const struct aiocb *list[1] = { cb };

	while (aio_error(cb) == EINPROGRESS)
		if (aio_suspend(list, 1, NULL) < 0 && errno != EINTR)
			die("aio_suspend");
	*err = aio_error(cb);
	return aio_return(cb);   /* exactly once, after aio_error */
}

/* A temporary file holding `text`; unlinked at once (the fd keeps it). */
static int temp_file(const char *text)
{
	char path[] = "/tmp/tour-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
		die("pwrite");
	return fd;
}

/* ---- notify: SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD -------------------- */

static sem_t thread_done;
static pid_t notify_tid;
static void *notify_value;

static void on_complete(union sigval v)
{
	notify_tid = (pid_t)syscall(SYS_gettid);
	notify_value = v.sival_ptr;
	sem_post(&thread_done);
}

static void notify_none(int fd)
{
	struct aiocb cb;
	char buf[8];
	int err;
	ssize_t got;

	printf("SIGEV_NONE: nobody is told; ask with aio_error, wait with aio_suspend\n");
	prep(&cb, fd, buf, 5, 0);
	if (aio_read(&cb) < 0)
		die("aio_read");
	got = wait_one(&cb, &err);
	expect(err == 0 && got == 5, "aio_error 0, aio_return 5");
}

static void notify_signal(int fd)
{
	struct aiocb cb;
	char buf[8];
	sigset_t set;
	siginfo_t si;
	int err;

	printf("SIGEV_SIGNAL: a signal carrying sival_ptr (si_code SI_ASYNCIO)\n");
	/* Block the signal and take it with sigwaitinfo: no handler, no race. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	prep(&cb, fd, buf, 5, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = SIGRTMIN;
	cb.aio_sigevent.sigev_value.sival_ptr = &cb;
	if (aio_read(&cb) < 0)
		die("aio_read");
	while (sigwaitinfo(&set, &si) < 0)
		if (errno != EINTR)
			die("sigwaitinfo");
	expect(si.si_signo == SIGRTMIN, "got SIGRTMIN");
	expect(si.si_code == SI_ASYNCIO, "si_code is SI_ASYNCIO");
	expect(si.si_value.sival_ptr == &cb, "si_value points at our aiocb");
	expect(wait_one(&cb, &err) == 5 && err == 0, "aio_return 5");
}

static void notify_thread(int fd)
{
	struct aiocb cb;
	char buf[8];
	int err;
	pid_t me = (pid_t)syscall(SYS_gettid);

	printf("SIGEV_THREAD: glibc calls our function in a new thread\n");
	sem_init(&thread_done, 0, 0);
	prep(&cb, fd, buf, 5, 0);
	cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
	cb.aio_sigevent.sigev_notify_function = on_complete;
	cb.aio_sigevent.sigev_value.sival_ptr = &cb;
	if (aio_read(&cb) < 0)
		die("aio_read");
	while (sem_wait(&thread_done) < 0)
		if (errno != EINTR)
			die("sem_wait");
	printf("  main thread %d, callback ran in thread %d\n", (int)me, (int)notify_tid);
	expect(notify_tid != me, "the callback ran in another thread");
	expect(notify_value == &cb, "it got sival_ptr");
	/* The request is complete once the callback runs; still collect it. */
	expect(wait_one(&cb, &err) == 5 && err == 0, "aio_return 5");
	sem_destroy(&thread_done);
}

static void part_notify(void)
{
	int fd = temp_file("hello, aio");

	notify_none(fd);
	notify_signal(fd);
	notify_thread(fd);
	close(fd);
}

/* ---- listio: LIO_WAIT and LIO_NOWAIT ------------------------------------ */

static sem_t list_done;

static void on_list_complete(union sigval v)
{
	(void)v;
	sem_post(&list_done);
}

static void part_listio(void)
{
	int fd = temp_file("0123456789abcdef");
	struct aiocb cbs[4];
	struct aiocb *list[5];
	char bufs[4][4];
	struct sigevent sev;
	int err;

	printf("lio_listio(LIO_WAIT): submit 4 reads, return when all are done\n");
	for (int i = 0; i < 4; i++) {
		prep(&cbs[i], fd, bufs[i], 4, (off_t)i * 4);
		cbs[i].aio_lio_opcode = LIO_READ;
		list[i] = &cbs[i];
	}
	list[4] = NULL;   /* NULL entries are ignored */
	if (lio_listio(LIO_WAIT, list, 5, NULL) < 0)
		die("lio_listio(LIO_WAIT)");
	for (int i = 0; i < 4; i++)
		expect(aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == 4,
		       "done on return, aio_return 4");
	expect(memcmp(bufs[3], "cdef", 4) == 0, "the last one read \"cdef\"");

	printf("lio_listio(LIO_NOWAIT) + SIGEV_THREAD: returns at once, one "
	       "notification for the whole list\n");
	sem_init(&list_done, 0, 0);
	for (int i = 0; i < 4; i++) {
		prep(&cbs[i], fd, bufs[i], 4, (off_t)i * 4);
		cbs[i].aio_lio_opcode = i == 2 ? LIO_NOP : LIO_READ;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = on_list_complete;
	if (lio_listio(LIO_NOWAIT, list, 4, &sev) < 0)
		die("lio_listio(LIO_NOWAIT)");
	while (sem_wait(&list_done) < 0)
		if (errno != EINTR)
			die("sem_wait");
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			continue;   /* LIO_NOP: nothing was started, nothing to collect */
		expect(wait_one(&cbs[i], &err) == 4 && err == 0,
		       "each read still collected with aio_error + aio_return");
	}
	sem_destroy(&list_done);
	close(fd);
}

/* ---- cancel: the three answers ------------------------------------------ */

/* The thread of ours (not the caller) blocked in read(2) on fd, or 0.
 * The first field of /proc/self/task/TID/syscall is the system call
 * number, the second its first argument; *sp gets the stack pointer (the
 * next-to-last field). */
static pid_t thread_reading(int fd, unsigned long *sp)
{
	pid_t me = (pid_t)syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	pid_t found = 0;

	if (d == NULL)
		die("opendir /proc/self/task");
	while (found == 0 && (e = readdir(d)) != NULL) {
		char path[300];
		unsigned long a[8];
		long nr = -1;
		FILE *f;

		if (e->d_name[0] == '.' || atoi(e->d_name) == me)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0],
			   &a[1], &a[2], &a[3], &a[4], &a[5], &a[6], &a[7]) == 9 &&
		    nr == SYS_read && a[0] == (unsigned long)fd) {
			found = (pid_t)atoi(e->d_name);
			if (sp)
				*sp = a[6];
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static pid_t wait_until_reading(int fd, unsigned long *sp)
{
	pid_t tid;

	for (int waited = 0; (tid = thread_reading(fd, sp)) == 0; waited++) {
		if (waited == 5000) {
			fprintf(stderr, "tour: no helper thread ever blocked in "
				"read(2) on fd %d\n", fd);
			exit(2);
		}
		sleep_ms(1);
	}
	return tid;
}

static const char *cancel_name(int rc)
{
	switch (rc) {
	case AIO_CANCELED: return "AIO_CANCELED";
	case AIO_NOTCANCELED: return "AIO_NOTCANCELED";
	case AIO_ALLDONE: return "AIO_ALLDONE";
	}
	return "-1 (error)";
}

static void part_cancel(void)
{
	struct aiocb running, queued;
	char a[4], b[4];
	int p[2], rc, err;
	ssize_t got;

	if (pipe(p) < 0)
		die("pipe");
	printf("aio_cancel: two reads on one empty pipe. glibc serialises "
	       "requests per fd:\nthe first is running (a helper blocked in "
	       "read), the second waits in glibc's queue\n");
	prep(&running, p[0], a, 1, 0);
	prep(&queued, p[0], b, 1, 0);
	if (aio_read(&running) < 0 || aio_read(&queued) < 0)
		die("aio_read");
	wait_until_reading(p[0], NULL);

	rc = aio_cancel(p[0], &queued);
	printf("  cancel the queued one:  %s\n", cancel_name(rc));
	expect(rc == AIO_CANCELED, "queued -> AIO_CANCELED");
	got = wait_one(&queued, &err);
	expect(err == ECANCELED && got == -1, "its aio_error is ECANCELED, aio_return -1");

	rc = aio_cancel(p[0], &running);
	printf("  cancel the running one: %s\n", cancel_name(rc));
	expect(rc == AIO_NOTCANCELED, "running -> AIO_NOTCANCELED");
	expect(aio_error(&running) == EINPROGRESS, "it is still in progress");

	if (write(p[1], "z", 1) != 1)
		die("write");
	got = wait_one(&running, &err);
	expect(got == 1 && err == 0, "it completes normally once data arrives");
	rc = aio_cancel(p[0], &running);
	printf("  cancel it again:        %s\n", cancel_name(rc));
	expect(rc == AIO_ALLDONE, "finished -> AIO_ALLDONE");
	close(p[0]);
	close(p[1]);
}

/* ---- zeroed: what sigev_notify == 0 means --------------------------------- */

static void part_zeroed(void)
{
	int fd = temp_file("zeroed");
	struct aiocb cb;
	char buf[8];
	int err;

	printf("zeroed: an aiocb zeroed but not given SIGEV_NONE\n");
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = 6;
	printf("  sigev_notify is %d, and SIGEV_SIGNAL is %d, SIGEV_NONE %d\n",
	       cb.aio_sigevent.sigev_notify, SIGEV_SIGNAL, SIGEV_NONE);
	expect(cb.aio_sigevent.sigev_notify == SIGEV_SIGNAL,
	       "a zeroed aiocb asks for a signal (number 0)");
	if (aio_read(&cb) < 0)
		die("aio_read");
	expect(wait_one(&cb, &err) == 6 && err == 0, "the read works");
	printf("  under `strace -f -e trace=rt_sigqueueinfo` you see the helper "
	       "queue signal 0:\n  a system call per completion that delivers "
	       "nothing. Set SIGEV_NONE.\n");
	cb.aio_reqprio = 99;
	errno = 0;
	expect(aio_read(&cb) < 0 && errno == EINVAL,
	       "aio_reqprio 99 (garbage) is refused with EINVAL");
	close(fd);
}

/* ---- eintr: a signal while aio_suspend waits ----------------------------- */

static atomic_int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handled, 1);
}

struct poker {
	pid_t waiter;   /* the thread inside aio_suspend */
	int wfd;        /* the pipe it waits on          */
};

/* Is thread tid blocked in the futex call aio_suspend sleeps in? */
static bool in_futex(pid_t tid)
{
	char path[300];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr == SYS_futex;
}

/* Wait until the waiter sleeps, signal it, wait until the handler ran,
 * then give the read its byte. */
static void *poker_main(void *arg)
{
	struct poker *p = arg;

	/* Ten sightings in a row: a futex wait of aio_suspend's, not a
	 * moment's wait for glibc's internal lock on the way in. */
	for (int waited = 0, seen = 0; seen < 10; waited++) {
		seen = in_futex(p->waiter) ? seen + 1 : 0;
		if (waited == 5000) {
			fprintf(stderr, "tour: the main thread never slept in aio_suspend\n");
			exit(2);
		}
		sleep_ms(1);
	}
	syscall(SYS_tgkill, getpid(), p->waiter, SIGUSR1);
	while (!atomic_load(&handled))
		sleep_ms(1);
	if (write(p->wfd, "!", 1) != 1)
		die("write");
	return NULL;
}

static void eintr_once(int flags)
{
	struct sigaction sa;
	struct aiocb cb;
	struct poker pk;
	pthread_t t;
	char buf[1];
	int p[2], rc, saved, err;
	const struct aiocb *list[1] = { &cb };

	if (pipe(p) < 0)
		die("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = flags;
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&handled, 0);
	prep(&cb, p[0], buf, 1, 0);
	if (aio_read(&cb) < 0)
		die("aio_read");
	pk = (struct poker){ (pid_t)syscall(SYS_gettid), p[1] };
	if (pthread_create(&t, NULL, poker_main, &pk) != 0)
		die("pthread_create");
	rc = aio_suspend(list, 1, NULL);
	saved = errno;
	printf("  handler %s SA_RESTART: aio_suspend returned %d%s%s\n",
	       flags ? "with" : "without", rc, rc < 0 ? ", errno " : "",
	       rc < 0 ? strerror(saved) : "");
	if (flags == 0)
		expect(rc < 0 && saved == EINTR, "without SA_RESTART it fails with EINTR: wait again");
	else
		expect(rc == 0 && atomic_load(&handled),
		       "with SA_RESTART it kept waiting after the handler ran");
	pthread_join(t, NULL);
	expect(wait_one(&cb, &err) == 1 && err == 0, "the read itself was not disturbed");
	signal(SIGUSR1, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

static void part_eintr(void)
{
	printf("eintr: SIGUSR1 arrives while aio_suspend sleeps\n");
	eintr_once(0);
	eintr_once(SA_RESTART);
}

/* ---- helper: what one of glibc's helper threads looks like ------------- */

/* The SigBlk line of /proc/self/task/TID/status, as a mask. */
static unsigned long long blocked_signals(pid_t tid)
{
	char path[300], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		die("open /proc/self/task/TID/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask;
}

/* Size of the mapping of /proc/self/maps that contains addr, or 0. */
static unsigned long mapping_size(unsigned long addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long size = 0;

	if (f == NULL)
		die("open /proc/self/maps");
	while (size == 0 && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= addr && addr < hi)
			size = hi - lo;
	}
	fclose(f);
	return size;
}

static void part_helper(void)
{
	struct aiocb cb;
	char buf[1];
	unsigned long sp = 0;
	unsigned long long mask;
	pid_t tid;
	int p[2], err;

	if (pipe(p) < 0)
		die("pipe");
	printf("helper: one read on an empty pipe; look at the thread that runs it\n");
	prep(&cb, p[0], buf, 1, 0);
	if (aio_read(&cb) < 0)
		die("aio_read");
	tid = wait_until_reading(p[0], &sp);
	mask = blocked_signals(tid);
	printf("  helper thread %d is blocked in read(2) on fd %d (glibc tried "
	       "pread first: ESPIPE)\n", (int)tid, p[0]);
	printf("  its blocked-signal mask (SigBlk): %016llx\n", mask);
	expect((mask & (1ull << (SIGINT - 1))) && (mask & (1ull << (SIGUSR1 - 1))) &&
	       (mask & (1ull << (SIGTERM - 1))),
	       "it blocks ordinary signals (SIGINT, SIGUSR1, SIGTERM, ...)");
	printf("  its stack mapping: %lu KiB (a default thread stack is "
	       "`ulimit -s` KiB)\n", mapping_size(sp) / 1024);
	if (write(p[1], "!", 1) != 1)
		die("write");
	expect(wait_one(&cb, &err) == 1 && err == 0, "the read completes once data arrives");
	close(p[0]);
	close(p[1]);
}

/* ---- write: aio_write, aio_fsync, read back ----------------------------- */

static void part_write(void)
{
	int fd = temp_file("");
	struct aiocb w, s, r;
	char back[16] = { 0 };
	int err;

	printf("aio_write at offset 4, aio_fsync(O_DSYNC), then aio_read it back\n");
	prep(&w, fd, "WXYZ", 4, 4);
	if (aio_write(&w) < 0)
		die("aio_write");
	expect(wait_one(&w, &err) == 4 && err == 0, "aio_write wrote 4 bytes");
	prep(&s, fd, NULL, 0, 0);
	if (aio_fsync(O_DSYNC, &s) < 0)
		die("aio_fsync");
	expect(wait_one(&s, &err) == 0 && err == 0, "aio_fsync completed");
	prep(&r, fd, back, sizeof(back), 0);
	if (aio_read(&r) < 0)
		die("aio_read");
	expect(wait_one(&r, &err) == 8 && err == 0, "read back 8 bytes (a hole, then WXYZ)");
	expect(memcmp(back, "\0\0\0\0WXYZ", 8) == 0, "the first 4 are zeros");
	close(fd);
}

int main(int argc, char **argv)
{
	const char *what = argc == 2 ? argv[1] : "";
	bool all = strcmp(what, "all") == 0;
	bool any = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (all || strcmp(what, "notify") == 0) {
		part_notify();
		any = true;
	}
	if (all || strcmp(what, "listio") == 0) {
		part_listio();
		any = true;
	}
	if (all || strcmp(what, "cancel") == 0) {
		part_cancel();
		any = true;
	}
	if (all || strcmp(what, "zeroed") == 0) {
		part_zeroed();
		any = true;
	}
	if (all || strcmp(what, "eintr") == 0) {
		part_eintr();
		any = true;
	}
	if (all || strcmp(what, "helper") == 0) {
		part_helper();
		any = true;
	}
	if (all || strcmp(what, "write") == 0) {
		part_write();
		any = true;
	}
	if (!any) {
		fprintf(stderr, "usage: %s notify|listio|cancel|zeroed|eintr|helper|write|all\n", argv[0]);
		return 2;
	}
	printf("%s\n", mismatches ? "some behaviour differed from the lesson"
				 : "everything as the lesson says");
	return mismatches ? 1 : 0;
}
