/*
 * copy_battery.h - the black-box tests of a copy program (`copy SRC DST`)
 * built on io_uring: chapter 06's batched copy, chapter 07's linked copy,
 * and any program with the same command line (COPY=/path/to/program).
 *
 * A chapter's tests.c includes it once, where the copy tests belong in its
 * numbering, after defining what its hints point at:
 *
 *   COPY_NAME              the program's name in the implementation tree
 *                          ("copy": built from copy.c)
 *   COPY_TODO_ARGS         where the skeleton checks the command line
 *   COPY_TODO_OPEN         opening SRC and DST (modes, same file, order)
 *   COPY_TODO_BLOCKS       the read/write loop as a whole
 *   COPY_TODO_OFFSET       where a block's write gets its offset
 *   COPY_TODO_SHORT_WRITE  where a short write is continued
 *   COPY_TODO_ERRORS       where failures become a message and a status
 *   COPY_HINT_BATCH        how the chapter puts several requests in one
 *                          io_uring_enter (the end of a sentence)
 *   COPY_MEMLOCK_ROOM      RLIMIT_MEMLOCK the program needs (optional)
 *
 * The program is judged on behaviour and on what the lessons require of it:
 * the bytes, exit status 0 or not, a message that names the file it is
 * about (by path, last component or role), a new file's mode under several
 * umasks (checked with stat: root ignores permission bits), a short write
 * continued (a file-size limit makes one), SRC and DST the same file
 * refused, and, under strace, that the files are only touched through
 * io_uring with several requests per io_uring_enter, on a plain ring (no
 * SQPOLL: the lessons say so, and nothing could be watched). Not the
 * wording, not the stream of a message.
 */
#ifndef COPY_BATTERY_H
#define COPY_BATTERY_H

#include "grade.h"
#include "faults.h"
#include "prog.h"
#include "tasks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(COPY_NAME) || !defined(COPY_TODO_ARGS) || !defined(COPY_TODO_OPEN) ||      \
	!defined(COPY_TODO_BLOCKS) || !defined(COPY_TODO_OFFSET) ||                      \
	!defined(COPY_TODO_SHORT_WRITE) || !defined(COPY_TODO_ERRORS) || !defined(COPY_HINT_BATCH)
#error "define COPY_NAME, COPY_TODO_* and COPY_HINT_BATCH before including copy_battery.h"
#endif
#ifndef COPY_MEMLOCK_ROOM
#define COPY_MEMLOCK_ROOM (64 * 1024)
#endif


static const char *copy_program(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("COPY"), *dir = getenv("GRADE_PROGRAMS");

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else
		snprintf(path, sizeof(path), "%s/" COPY_NAME, dir && *dir ? dir : ".");
	grade_check(access(path, X_OK) == 0, "the copy program %s cannot be run (%s): it is built "
		    "from " COPY_NAME ".c by make check, or set COPY=/path/to/your/copy",
		    path, strerror(errno));
	return path;
}

static void copy_setup(void)
{
	grade_require_io_uring(8);
	grade_require_memlock(COPY_MEMLOCK_ROOM, "this chapter's tests (several rings in a row)");
}

static void run_copy(const char *src, const char *dst, struct prog_result *r,
		     const struct prog_opts *o)
{
	const char *argv[] = { copy_program(), src, dst, NULL };

	prog_run(argv, o, r);
}

/* SRC of `size` random bytes copied to DST: exit 0, silent, same bytes. */
static void copy_and_compare(size_t size, const char *dst_name, const char *what)
{
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src = grade_make_file("src", data, size), *dst = grade_path(dst_name);
	struct prog_result r;
	size_t backlen;
	ssize_t at;

	run_copy(src, dst, &r, NULL);
	grade_check(r.exited && r.status == 0, "copy SRC DST with a %zu-byte SRC%s: %s, expected "
		    "exit status 0; stderr: %s", size, what, prog_ending(&r), prog_stderr_line(&r));
	grade_check(r.outlen == 0, "copy printed %zu byte(s) on stdout (\"%.60s\"); it must be "
		    "silent on success", r.outlen, r.out);
	back = grade_slurp(dst, &backlen);
	grade_check(back != NULL, "copy exited 0 but DST does not exist");
	grade_check(backlen == size, "copy of a %zu-byte SRC%s: DST has %zu bytes", size, what,
		    backlen);
	at = grade_first_diff(back, data, size);
	grade_check(at < 0, "copy of a %zu-byte SRC%s: DST differs from byte %zd on (block "
		    "written at the wrong offset, or a short read or write not continued?)",
		    size, what, at);
	free(back);
	free(data);
}

/* The program must first work at all, so a program that fails every time
 * (the skeleton) earns nothing from the error cases. */
static void copy_must_work(void)
{
	copy_and_compare(70001, "first-dst", " (the plain copy this test starts with)");
}

/*
 * What the lesson requires of a failing program, and no more: a non-zero
 * exit status and a message (on stderr, or on stdout: the stream is not
 * graded). Where a file could not be opened, the message must say which one:
 * its path (or its last component), or the role the command line gives it
 * (`role` lists the accepted words: "source", "input", "infile", ...).
 */
static const char *const src_roles[] = { "src", "source", "input", "infile", "from", NULL };
static const char *const dst_roles[] = { "dst", "dest", "output", "outfile", "target", NULL };

/* The test directory's path taken out of a message: the harness names that
 * directory after the test (".../copy.missing_source.XXXXXX"), so a role
 * word such as "source" would be found in any path under it, whatever file
 * the message names. */
static void strip_test_dir(char *msg)
{
	const char *dir = grade_tmpdir();
	size_t dlen = strlen(dir);
	char *at;

	while (dlen > 0 && (at = strstr(msg, dir)) != NULL)
		memmove(at, at + dlen, strlen(at + dlen) + 1);
}

/* msg must have been through strip_test_dir: path is matched by its last
 * component there. */
static bool names_file(const char *msg, const char *path, const char *const *roles)
{
	const char *base = strrchr(path, '/');

	if (strstr(msg, path) || (base && base[1] && strstr(msg, base + 1)))
		return true;
	for (size_t i = 0; roles && roles[i]; i++)
		if (strcasestr(msg, roles[i]))
			return true;
	return false;
}

static void check_failed(const struct prog_result *r, const char *what, const char *path,
			 const char *const *roles)
{
	char msg[sizeof(r->err) + sizeof(r->out) + 2];

	grade_check(r->exited && r->status != 0, "copy %s: %s; expected a non-zero exit status "
		    "and a message", what, prog_ending(r));
	grade_check(r->errlen + r->outlen > 0, "copy %s exited with status %d but printed "
		    "nothing: say what went wrong (\"copy: PATH: strerror(errno)\" on stderr)",
		    what, r->status);
	if (!path)
		return;
	snprintf(msg, sizeof(msg), "%s\n%s", r->err, r->out);
	strip_test_dir(msg);
	grade_check(names_file(msg, path, roles), "copy %s: the message %s does not say which "
		    "file it is about: name it by its path (%s) or as the %s", what,
		    r->errlen ? prog_stderr_line(r) : "on stdout", path,
		    roles == src_roles ? "source" : "destination");
}

GRADE_TEST_T(copy, byte_for_byte, 3,
	     "copy SRC DST: files of 0, 1, 4095-4097, 128 KiB +- 1, 1 MiB + 1, 10 MB, byte for byte",
	     COPY_TODO_BLOCKS ": every block read in full, written in full at the offset it was read "
	     "from, the last block shorter; exit 0 and print nothing (lesson, \"The program\")",
	     10)
{
	static const size_t sizes[] = {
		0, 1, 4095, 4096, 4097, 131071, 131072, 131073, 1048577, 10000019,
	};

	copy_setup();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		copy_and_compare(sizes[i], "dst", "");
}

GRADE_TEST(copy, out_of_order_blocks, 2,
	   "copy SRC DST with SRC's first 512 KiB out of the page cache: its first blocks finish last",
	   COPY_TODO_OFFSET ": a block belongs at the offset it was read from, not at the file "
	   "position or after the last block written: blocks finish in any order (chapter 06's "
	   "lesson, section 2)")
{
	const size_t size = 2 * 1048576 + 12345, evict = 512 * 1024;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src = grade_path("src"), *dst = grade_path("dst");
	struct prog_result r;
	size_t backlen;
	ssize_t at;
	int fd;

	copy_setup();
	/* Written 4 KiB at a time (one big write makes large folios, which a
	 * partial POSIX_FADV_DONTNEED cannot drop), written back, and its first
	 * 512 KiB dropped from the page cache: reading the first blocks needs
	 * the disk, the others come from memory at once. */
	fd = grade_open(src, O_WRONLY | O_CREAT | O_TRUNC);
	for (size_t off = 0; off < size; off += 4096) {
		size_t len = size - off < 4096 ? size - off : 4096;

		grade_check(SEAM_REAL(write)(fd, data + off, len) == (ssize_t)len,
			    "harness: cannot write %s: %s", src, strerror(errno));
	}
	grade_check(fdatasync(fd) == 0, "harness: fdatasync: %s", strerror(errno));
	(void)posix_fadvise(fd, 0, (off_t)evict, POSIX_FADV_DONTNEED);
	close(fd);
	run_copy(src, dst, &r, NULL);
	grade_check(r.exited && r.status == 0, "copy SRC DST: %s, expected exit status 0; "
		    "stderr: %s", prog_ending(&r), prog_stderr_line(&r));
	back = grade_slurp(dst, &backlen);
	grade_check(back != NULL && backlen == size, "DST has %zu bytes, SRC %zu", backlen, size);
	at = grade_first_diff(back, data, size);
	grade_check(at < 0, "DST differs from SRC from byte %zd on, when the first blocks of SRC "
		    "were read last: is each block written at the offset it was read from?", at);
	free(back);
	free(data);
}

GRADE_TEST(copy, mode_and_truncate, 1,
	   "copy: a new DST gets mode 0644 less the umask (022, 0, 077), seen by stat; a longer DST is truncated",
	   COPY_TODO_OPEN ": a new DST gets the mode the lesson gives, less the umask: let the "
	   "kernel apply the umask when it creates the file instead of setting the mode yourself, "
	   "and empty DST only once you know it is not SRC (man 2 open, \"mode\"; man 2 umask; "
	   "chapter 06's lesson, \"The program\")")
{
	static const struct { mode_t umask; mode_t want; } cases[] = {
		{ 022, 0644 }, { 0, 0644 }, { 077, 0600 },
	};
	unsigned char *old = grade_random_bytes(500000);
	unsigned char *data = grade_random_bytes(4097);
	const char *src;
	struct stat st;

	copy_setup();
	copy_and_compare(4097, "new", " (DST new)");
	src = grade_make_file("src-mode", data, 4097);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prog_opts o = { .set_umask = true, .umask = cases[i].umask };
		struct prog_result r;
		char name[32];

		snprintf(name, sizeof(name), "new-%03o", (unsigned)cases[i].umask);
		{
			const char *argv[] = { copy_program(), src, grade_path(name), NULL };

			prog_run(argv, &o, &r);
		}
		grade_check(r.exited && r.status == 0, "copy SRC DST under umask %03o: %s; stderr: %s",
			    (unsigned)cases[i].umask, prog_ending(&r), prog_stderr_line(&r));
		/* stat, not access(): root ignores permission bits */
		grade_check(stat(grade_path(name), &st) == 0 &&
			    (st.st_mode & 07777) == cases[i].want, "a new DST has mode %03o under "
			    "umask %03o, expected %03o (0644 less the umask)",
			    (unsigned)(st.st_mode & 07777), (unsigned)cases[i].umask,
			    (unsigned)cases[i].want);
	}
	grade_make_file("old", old, 500000);
	copy_and_compare(4097, "old", " over a 500000-byte DST");
	free(data);
	free(old);
}

/*
 * mode_and_truncate (above) makes SRC with mode 0644, the very mode a new
 * DST gets, and its longer DST gets a SRC of 4097 bytes: a program that
 * gives DST SRC's mode (cp -p), or that empties DST only on the way to
 * copying something, passes it. The chapters' mode_not_from_source tests
 * call this: SRC of mode 0600 and 0755 (20000 bytes of data, left in the
 * test directory as src-600 and src-755), then an empty SRC over a longer
 * DST. Returns the data, for the caller to free.
 */
static unsigned char *copy_mode_not_from_source(void)
{
	static const mode_t src_modes[] = { 0600, 0755 };
	unsigned char *data = grade_random_bytes(20000);
	struct prog_opts o = { .set_umask = true, .umask = 022 };
	struct prog_result r;
	struct stat st;

	for (size_t i = 0; i < sizeof(src_modes) / sizeof(src_modes[0]); i++) {
		char sname[32], dname[32];
		const char *src;
		unsigned char *back;
		size_t backlen;

		snprintf(sname, sizeof(sname), "src-%03o", (unsigned)src_modes[i]);
		snprintf(dname, sizeof(dname), "new-%03o", (unsigned)src_modes[i]);
		src = grade_make_file(sname, data, 20000);
		grade_check(chmod(src, src_modes[i]) == 0, "harness: chmod: %s", strerror(errno));
		run_copy(src, grade_path(dname), &r, &o);
		grade_check(r.exited && r.status == 0, COPY_NAME " of a SRC of mode %03o: %s; "
			    "stderr: %s", (unsigned)src_modes[i], prog_ending(&r),
			    prog_stderr_line(&r));
		back = grade_slurp(grade_path(dname), &backlen);
		grade_check(back != NULL && backlen == 20000 && grade_first_diff(back, data, 20000) < 0,
			    COPY_NAME " of a SRC of mode %03o exited 0, but DST does not hold SRC's "
			    "20000 bytes (%zu bytes)", (unsigned)src_modes[i], back ? backlen : 0);
		free(back);
		/* stat, not access(): root ignores permission bits */
		grade_check(stat(grade_path(dname), &st) == 0 && (st.st_mode & 07777) == 0644,
			    COPY_NAME " of a SRC of mode %03o under umask 022 made a new DST of mode "
			    "%03o, expected 0644: a new DST gets 0644 less the umask, not SRC's mode",
			    (unsigned)src_modes[i], (unsigned)(st.st_mode & 07777));
	}
	{
		const char *empty = grade_make_file("empty-src", "", 0), *old;
		unsigned char *back;
		size_t oldlen;

		old = grade_make_file("longer", data, 20000);
		run_copy(empty, old, &r, &o);
		grade_check(r.exited && r.status == 0, COPY_NAME " of an empty SRC over a 20000-byte "
			    "DST: %s; stderr: %s", prog_ending(&r), prog_stderr_line(&r));
		back = grade_slurp(old, &oldlen);
		grade_check(back != NULL && oldlen == 0, COPY_NAME " of an empty SRC over a "
			    "20000-byte DST exited 0 and left DST with %zu bytes: DST must end up SRC, "
			    "here empty. Empty DST when you open it (once you know it is not SRC), "
			    "also when there is nothing to copy", oldlen);
		free(back);
	}
	return data;
}

/*
 * A FIFO as SRC: it opens and reads like a file, and fstat gives it a size
 * of 0, so a program that refuses only directories and devices copies it as
 * an empty file and exits 0. The harness holds the FIFO open for reading
 * and writing itself, so that opening it (O_RDONLY) never blocks, and puts
 * a few bytes in it; no writer ever closes it, so a program that reads it
 * to end of file waits until its time limit.
 */
static void copy_refuses_fifo(void)
{
	const char *fifo = grade_path("a-fifo"), *dst = grade_path("dst-for-fifo");
	struct prog_result r;
	struct stat st;
	int fd;

	grade_check(mkfifo(fifo, 0644) == 0, "harness: mkfifo: %s", strerror(errno));
	fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	grade_check(fd >= 0, "harness: open the FIFO: %s", strerror(errno));
	grade_check(write(fd, "abc", 3) == 3, "harness: write to the FIFO: %s", strerror(errno));
	run_copy(fifo, dst, &r, NULL);
	close(fd);
	grade_check(!r.timed_out, "copy with a FIFO as SRC was still running after %d ms: it "
		    "read the FIFO, waiting for an end of file no writer will give. SRC must be a "
		    "regular file: check S_ISREG after fstat and refuse the rest",
		    r.time_limit_ms);
	grade_check(r.exited && r.status != 0, "copy with a FIFO as SRC: %s; expected a non-zero "
		    "exit status: SRC must be a regular file, and a FIFO is not one (its size, for "
		    "fstat, is 0: what you copied is not what it holds). Check S_ISREG, not only "
		    "S_ISDIR and S_ISCHR (man 2 fstat, man 7 inode)", prog_ending(&r));
	check_failed(&r, "with a FIFO as SRC", NULL, NULL);
	grade_check(stat(dst, &st) < 0, "copy with a FIFO as SRC created DST: check that SRC is a "
		    "regular file (fstat) before you create or truncate DST");
}

GRADE_TEST(copy, missing_source, 1,
	   "copy: a missing SRC, a directory, a device (/dev/null) or a FIFO: a message, a "
	   "non-zero status, DST not created",
	   COPY_TODO_OPEN ": open SRC first and fstat it: SRC must be a regular file (S_ISREG), "
	   "anything else (a directory, a device, a FIFO) is refused; only then create DST; print "
	   "\"copy: SRC: strerror(errno)\" on stderr and exit 1")
{
	struct prog_result r;
	struct stat st;

	copy_setup();
	copy_must_work();
	run_copy(grade_path("no-such-source"), grade_path("dst-for-missing"), &r, NULL);
	check_failed(&r, "with a missing SRC", grade_path("no-such-source"), src_roles);
	grade_check(stat(grade_path("dst-for-missing"), &st) < 0, "copy with a missing SRC "
		    "created DST: open SRC before you create (or truncate) DST");
	grade_check(mkdir(grade_path("a-directory"), 0755) == 0, "harness: mkdir: %s",
		    strerror(errno));
	run_copy(grade_path("a-directory"), grade_path("dst-for-dir"), &r, NULL);
	grade_check(r.exited && r.status != 0, "copy with a directory as SRC: %s; expected a "
		    "non-zero exit status (SRC must be a regular file)", prog_ending(&r));
	/* A failure is never silent: the user must learn why nothing was copied. */
	check_failed(&r, "with a directory as SRC", NULL, NULL);
	grade_check(stat(grade_path("dst-for-dir"), &st) < 0, "copy with a directory as SRC "
		    "created DST: check that SRC is a regular file (fstat) before you create or "
		    "truncate DST");
	/* A device opens and reads like a file (end of file at once here): only
	 * fstat tells that it is not a regular file, which SRC must be. */
	run_copy("/dev/null", grade_path("dst-for-device"), &r, NULL);
	grade_check(r.exited && r.status != 0, "copy with /dev/null (a character device) as SRC: "
		    "%s; expected a non-zero exit status: SRC must be a regular file, and checking "
		    "only for a directory lets devices and FIFOs through (S_ISREG, man 2 fstat)",
		    prog_ending(&r));
	check_failed(&r, "with /dev/null as SRC", NULL, NULL);
	grade_check(stat(grade_path("dst-for-device"), &st) < 0, "copy with /dev/null as SRC "
		    "created DST: check that SRC is a regular file (fstat) before you create or "
		    "truncate DST");
	copy_refuses_fifo();
}

GRADE_TEST(copy, bad_destination, 2,
	   "copy: DST in a missing directory, DST a directory, DST /dev/full: a message, non-zero",
	   COPY_TODO_ERRORS ": report open(DST) failures; a write CQE with res < 0 (-ENOSPC) is "
	   "an error: print it and exit 1, never 0")
{
	unsigned char *data = grade_random_bytes(300000);
	const char *src;
	struct prog_result r;

	copy_setup();
	copy_must_work();
	src = grade_make_file("src", data, 300000);
	run_copy(src, grade_path("no-such-dir/out-file"), &r, NULL);
	check_failed(&r, "with DST in a missing directory", grade_path("no-such-dir/out-file"),
		     dst_roles);
	grade_check(mkdir(grade_path("a-directory"), 0755) == 0, "harness: mkdir: %s",
		    strerror(errno));
	run_copy(src, grade_path("a-directory"), &r, NULL);
	check_failed(&r, "with a directory as DST", grade_path("a-directory"), dst_roles);
	run_copy(src, "/dev/full", &r, NULL);
	check_failed(&r, "SRC /dev/full (every write fails with ENOSPC)", NULL, NULL);
	free(data);
}

GRADE_TEST(copy, short_write_continued, 2,
	   "copy: with a file-size limit 1 byte below SRC's size, the cut write is continued and fails",
	   COPY_TODO_SHORT_WRITE ": a short write wrote the start of its block: the rest still has "
	   "to go, and here that rest fails with -EFBIG, which must end in a message and a "
	   "non-zero status (man 2 write, RETURN VALUE; man 2 setrlimit, RLIMIT_FSIZE)")
{
	const size_t size = 300001;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src, *dst = grade_path("limited");
	struct prog_opts o = { .fsize_limit = size - 1 };
	struct prog_result r;
	size_t backlen;

	copy_setup();
	copy_must_work();
	src = grade_make_file("src", data, size);
	run_copy(src, dst, &r, &o);
	back = grade_slurp(dst, &backlen);
	grade_check(!(r.exited && r.status == 0), "copy exited 0 although DST holds %zu of SRC's "
		    "%zu bytes: under a file-size limit of %zu bytes the write of the last block "
		    "came back short and the rest was never written (or its -EFBIG ignored)",
		    backlen, size, size - 1);
	check_failed(&r, "under a file-size limit 1 byte below SRC's size", NULL, NULL);
	grade_check(back && backlen == size - 1 && grade_first_diff(back, data, size - 1) < 0,
		    "DST holds %zu bytes (the limit allows %zu), or not SRC's first bytes", backlen,
		    size - 1);
	free(back);
	/* The limit in the middle of a bigger file: some blocks are written, one
	 * is cut short, the ones after fail: still a failure, however many
	 * blocks went through before. */
	o.fsize_limit = 2 * 131072 + 777;
	free(data);
	data = grade_random_bytes(1048576 + 5);
	src = grade_make_file("src", data, 1048576 + 5);
	run_copy(src, grade_path("limited-mid"), &r, &o);
	check_failed(&r, "of 1 MiB + 5 bytes under a file-size limit of 262921 bytes", NULL, NULL);
	free(data);
}

GRADE_TEST(copy, same_file, 1,
	   "copy: SRC and DST the same file (same path, a symlink, a hard link) is refused, SRC intact",
	   COPY_TODO_OPEN ": the same file can hide behind another name (a symlink, a hard link): "
	   "find out whether SRC and DST are one file before anything is truncated, and refuse "
	   "(man 2 stat, \"st_dev\", \"st_ino\")")
{
	static const char *const how[] = { "the same path", "a symlink to SRC", "a hard link to SRC" };
	const size_t size = 5000;
	unsigned char *data = grade_random_bytes(size), *back;
	const char *src;
	char dst[3][PATH_MAX];
	struct prog_result r;
	size_t backlen;

	copy_setup();
	copy_must_work();
	src = grade_make_file("same", data, size);
	snprintf(dst[0], PATH_MAX, "%s", src);
	snprintf(dst[1], PATH_MAX, "%s", grade_path("symlink"));
	snprintf(dst[2], PATH_MAX, "%s", grade_path("hardlink"));
	grade_check(symlink(src, dst[1]) == 0 && link(src, dst[2]) == 0, "harness: links: %s",
		    strerror(errno));
	for (int i = 0; i < 3; i++) {
		char what[96];

		snprintf(what, sizeof(what), "SRC DST with DST %s", how[i]);
		run_copy(src, dst[i], &r, NULL);
		back = grade_slurp(src, &backlen);
		grade_check(backlen == size && grade_first_diff(back, data, size) < 0, "copy %s "
			    "destroyed SRC: it now has %zu bytes of its %zu", what, backlen, size);
		check_failed(&r, what, NULL, NULL);
		free(back);
	}
	free(data);
}

GRADE_TEST(copy, usage, 1,
	   "copy: with no argument or one: a usage message, a non-zero status, no file touched",
	   COPY_TODO_ARGS ": argc must be 3; otherwise print \"usage: " COPY_NAME " SRC DST\" on "
	   "stderr and exit 2 (the usual status of a usage error), before touching any file")
{
	const char *prog;
	struct prog_result r;
	struct stat st;

	copy_setup();
	copy_must_work();
	prog = copy_program();
	{
		const char *argv[] = { prog, NULL };

		prog_run(argv, NULL, &r);
		check_failed(&r, "(no arguments)", NULL, NULL);
	}
	{
		const char *argv[] = { prog, grade_path("only-arg"), NULL };

		prog_run(argv, NULL, &r);
		check_failed(&r, "SRC (one argument)", NULL, NULL);
		grade_check(stat(grade_path("only-arg"), &st) < 0, "copy with one argument created "
			    "it: check the arguments before opening anything");
	}
}

/* What strace saw of the copy program. */
struct trace_summary {
	long enters;        /* io_uring_enter calls                      */
	long submitted;     /* SQEs they took (sum of their results)     */
	long most;          /* the most SQEs one call took               */
	int sqpoll;         /* the ring was set up with SQPOLL           */
	char bad[512];      /* the first data call on SRC or DST, if any */
};

static bool is_data_call(const char *name)
{
	static const char *const names[] = {
		"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev",
		"preadv2", "pwritev2", "sendfile", "splice", "copy_file_range", "mmap",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* ioctl(FICLONE), ioctl(FICLONERANGE) and ioctl(FIDEDUPERANGE) share a file's
 * blocks with another: on a filesystem that has them (btrfs, XFS) the copy is
 * then made without a byte through io_uring. ext4 refuses them, so a program
 * that tries one first still passes every other test here; the attempt is
 * what counts (strace decodes them by name; -y names the files). */
static bool is_clone_call(const char *name, const char *line)
{
	return !strcmp(name, "ioctl") && (strstr(line, "FICLONE") || strstr(line, "FIDEDUPERANGE"));
}

static void parse_trace(const char *path, const char *src, const char *dst,
			struct trace_summary *t)
{
	char src_tag[2 * PATH_MAX], dst_tag[2 * PATH_MAX], line[8192];
	FILE *fp = fopen(path, "r");

	memset(t, 0, sizeof(*t));
	grade_check(fp != NULL, "harness: cannot read strace's output %s", path);
	snprintf(src_tag, sizeof(src_tag), "<%s>", src);
	snprintf(dst_tag, sizeof(dst_tag), "<%s>", dst);
	while (fgets(line, sizeof(line), fp)) {
		char name[64] = "", *p = line, *eq;

		while (*p >= '0' && *p <= '9')  /* the pid, with -f */
			p++;
		while (*p == ' ')
			p++;
		if (!strncmp(p, "<... ", 5)) {  /* "<... io_uring_enter resumed>" */
			sscanf(p + 5, "%63[a-z0-9_]", name);
		} else {
			sscanf(p, "%63[a-z0-9_]", name);
			if (p[strlen(name)] != '(')
				continue;
		}
		if ((is_data_call(name) || is_clone_call(name, p)) &&
		    (strstr(p, src_tag) || strstr(p, dst_tag))) {
			if (!t->bad[0])
				snprintf(t->bad, sizeof(t->bad), "%.*s", (int)strcspn(p, "\n"), p);
			continue;
		}
		if (!strcmp(name, "io_uring_setup") && strstr(p, "IORING_SETUP_SQPOLL"))
			t->sqpoll = 1;
		if (strcmp(name, "io_uring_enter"))
			continue;
		if (strncmp(p, "<... ", 5))
			t->enters++;  /* counted at its start */
		if (strstr(p, "<unfinished"))
			continue;
		eq = strstr(p, ") = ");
		if (eq) {
			long took = strtol(eq + 4, NULL, 10);

			if (took > 0) {
				t->submitted += took;
				if (took > t->most)
					t->most = took;
			}
		}
	}
	fclose(fp);
}

/* Skip, with the reason, where strace is missing or cannot trace. */
static void require_strace(char *strace, size_t cap)
{
	struct prog_result r;

	if (!prog_in_path("strace", strace, cap))
		grade_skip("strace", "strace is not installed: this test watches the copy program's system "
			   "calls with it", "sudo apt-get install strace (or make deps)");
	{
		const char *argv[] = { strace, "-f", "-o", "/dev/null", "/bin/true", NULL };

		prog_run(argv, NULL, &r);
	}
	if (!r.exited || r.status != 0) {
		static char why[512];

		snprintf(why, sizeof(why), "strace cannot trace programs here (%s; %.200s)",
			 prog_ending(&r), r.errlen ? r.err : "no message");
		grade_skip("strace", why, "allow ptrace: in a container run it with --cap-add SYS_PTRACE; "
			   "or sysctl kernel.yama.ptrace_scope=1");
	}
}

GRADE_TEST_T(copy, through_io_uring, 2,
	     "copy: under strace, SRC and DST are only touched by io_uring, several requests per call",
	     COPY_TODO_BLOCKS ": no read/write/pread/pwrite/sendfile/mmap on the files, no "
	     "ioctl(FICLONE) clone; "
	     COPY_HINT_BATCH,
	     10)
{
	const size_t size = 4 * 1048576 + 333;
	unsigned char *data = grade_random_bytes(size), *back;
	char strace[PATH_MAX], real_dir[PATH_MAX], src[PATH_MAX + 16], dst[PATH_MAX + 16];
	char asan_env[1024];
	const char *trace = grade_path("strace.out");
	struct trace_summary t;
	struct prog_result r;
	size_t backlen;

	copy_setup();
	require_strace(strace, sizeof(strace));
	grade_check(realpath(grade_tmpdir(), real_dir) != NULL, "harness: realpath: %s",
		    strerror(errno));
	snprintf(src, sizeof(src), "%s/src", real_dir);
	snprintf(dst, sizeof(dst), "%s/dst", real_dir);
	grade_make_file("src", data, size);
	/* LeakSanitizer's check at exit stops the program with ptrace, which a
	 * program under strace cannot do: in a SAN=1 build it would now and then
	 * fail the run with "LeakSanitizer has encountered a fatal error". Leaks
	 * are not what this run looks at: the check is off for it. */
	{
		const char *asan = getenv("ASAN_OPTIONS");

		snprintf(asan_env, sizeof(asan_env), "ASAN_OPTIONS=%s%sdetect_leaks=0",
			 asan ? asan : "", asan && *asan ? ":" : "");
	}
	{
		const char *argv[] = {
			strace, "-f", "-qq", "-y", "-E", asan_env, "-o", trace, "-e",
			"trace=read,write,pread64,pwrite64,readv,writev,preadv,pwritev,preadv2,"
			"pwritev2,sendfile,splice,copy_file_range,mmap,ioctl,io_uring_setup,io_uring_enter",
			copy_program(), src, dst, NULL,
		};

		prog_run(argv, NULL, &r);
	}
	grade_check(r.exited && r.status == 0, "copy SRC DST under strace: %s; stderr: %s",
		    prog_ending(&r), prog_stderr_line(&r));
	back = grade_slurp(dst, &backlen);
	grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0,
		    "copy under strace: DST is not a copy of SRC");
	parse_trace(trace, src, dst, &t);
	grade_check(!t.bad[0], "copy moved data without io_uring: strace shows %s%s", t.bad,
		    strncmp(t.bad, "ioctl(", 6) ? "" :
		    " (a clone ioctl counts even where the filesystem refuses it, as ext4 does: "
		    "on btrfs or XFS it copies without a byte through io_uring)");
	/* With SQPOLL a kernel thread takes the SQEs without any system call:
	 * nothing here could see one request at a time. The lessons ask for a
	 * plain ring (SQPOLL is chapter 08). */
	grade_check(!t.sqpoll, "copy set its ring up with IORING_SETUP_SQPOLL: its submissions "
		    "cannot be watched, and the program is to batch them itself on a plain ring "
		    "(io_uring_queue_init with no flags; SQPOLL is chapter 08)");
	grade_check(t.submitted > 0, "copy made %ld io_uring_enter calls that submitted "
		    "nothing: the reads and writes must go through io_uring", t.enters);
	grade_check(t.most >= 2, "copy never handed the kernel more than one request per "
		    "io_uring_enter (%ld calls for %ld requests): one request at a time is "
		    "chapter 05 again; keep several blocks in flight", t.enters, t.submitted);
	grade_check(t.enters < t.submitted, "copy made %ld io_uring_enter calls for %ld "
		    "requests: batch them, queue every ready step before one submit",
		    t.enters, t.submitted);
	free(back);
	free(data);
}

/* ---------------------------------------- DST a FIFO; an existing DST */

/* Two cases for a chapter's own tests (chapters 06 and 07 number them
 * where they came, after the battery's tests). */

/* Has pid ended? Not reaped: prog_wait collects it. */
static bool copy_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/*
 * The program copies SRC into a FIFO whose reader, the harness, reads
 * nothing until the pipe is full: the write of the block (100000 bytes,
 * more than the pipe holds) comes back short, a pipe takes what fits, and
 * its rest waits in the kernel, the program asleep in io_uring_enter. With stop, the program
 * is then stopped (SIGSTOP) and continued (SIGCONT) right there, which ends
 * that wait with -EINTR. Then the harness reads everything.
 */
static void copy_into_fifo(bool stop)
{
	const size_t size = 100000;
	unsigned char *data = grade_random_bytes(size), *back = grade_xmalloc(size + 1);
	const char *src = grade_make_file(stop ? "src-stopped" : "src", data, size);
	const char *fifo = grade_path(stop ? "fifo-stopped" : "fifo");
	const char *argv[] = { copy_program(), src, fifo, NULL };
	const char *what = stop ? COPY_NAME " SRC FIFO, stopped (SIGSTOP) and continued (SIGCONT) while "
				  "it waited in io_uring_enter for the FIFO's reader" :
				  COPY_NAME " SRC FIFO, the FIFO's reader waiting until the pipe is full";
	struct prog_proc p;
	size_t got = 0, full;
	long start;
	int rfd, cap, ws = 0, queued = 0;
	bool asleep = false, stopped = false, ended;
	ssize_t at;

	grade_check(mkfifo(fifo, 0600) == 0, "harness: mkfifo: %s", strerror(errno));
	/* Opened first, without waiting for a writer: the program's open of
	 * DST finds a reader and does not block. */
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	grade_check(rfd >= 0, "harness: open the FIFO: %s", strerror(errno));
	cap = fcntl(rfd, F_GETPIPE_SZ);
	full = cap > 0 && (size_t)cap < size ? (size_t)cap : size;
	prog_start(&p, argv, false);

	/* Wait until the pipe is full: a short write was made. */
	start = fault_now_ms();
	while (!(ended = copy_ended(p.pid)) && fault_now_ms() - start < 3000) {
		if (ioctl(rfd, FIONREAD, &queued) == 0 && (size_t)queued >= full)
			break;
		fault_nap();
	}
	/*
	 * A wait in io_uring_enter that a stop and a continue interrupt
	 * returns -EINTR only if that call submitted nothing (else it returns
	 * what it submitted): stop the program each time it sleeps there,
	 * until it slept in a call with nothing to submit (to_submit, the
	 * second argument, 0). The program can do nothing else meanwhile: the
	 * pipe is full and its rest of a write waits for room.
	 */
	for (int round = 0; stop && !ended && !stopped && round < 4; round++) {
		struct task_call c;
		siginfo_t si;

		asleep = false;
		start = fault_now_ms();
		while (!(ended = copy_ended(p.pid)) && fault_now_ms() - start < 3000) {
			asleep = task_call_read(p.pid, p.pid, &c) == 0 && !c.running &&
				 c.nr == SYS_io_uring_enter;
			if (asleep)
				break;
			fault_nap();
		}
		if (!asleep)
			break;
		memset(&si, 0, sizeof(si));
		kill(p.pid, SIGSTOP);
		/* Until it has stopped (or ended), not reaped. */
		stopped = waitid(P_PID, p.pid, &si, WSTOPPED | WEXITED | WNOWAIT) == 0 &&
			  si.si_code == CLD_STOPPED && c.args[1] == 0;
		kill(p.pid, SIGCONT);
	}

	/* Read it all: until end of file (the program closed DST or ended). */
	start = fault_now_ms();
	while (got <= size && fault_now_ms() - start < 3000) {
		ssize_t k = SEAM_REAL(read)(rfd, back + got, size + 1 - got);

		if (k > 0) {
			got += (size_t)k;
		} else if (k == 0) {
			break;
		} else if (errno == EAGAIN) {
			struct pollfd pf = { .fd = rfd, .events = POLLIN };

			SEAM_REAL(poll)(&pf, 1, 100);
		} else if (errno != EINTR) {
			break;
		}
	}
	close(rfd);
	if (!prog_wait(p.pid, 3000, &ws)) {
		prog_kill_all();
		grade_fail("%s: the program had not ended 3 s after the harness read %zu bytes of "
			   "the %zu SRC has: it waits for a write that cannot complete, or for "
			   "nothing", what, got, size);
	}
	grade_check(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: %s, expected exit status 0; "
		    "stderr: %s%s", what, prog_status_text(ws), prog_proc_stderr(&p),
		    !stop ? " (DST is not a regular file: it is not truncated, ftruncate would "
		    "fail on it; " COPY_TODO_OPEN ")" : stopped && asleep ?
		    ". A stop and a continue end the wait in io_uring_enter with -EINTR "
		    "(io_uring_enter(2), ERRORS): nothing failed, submit and wait again ("
		    COPY_TODO_BLOCKS ")" : "");
	at = got == size ? grade_first_diff(back, data, size) : -1;
	grade_check(got == size && at < 0, "%s: the reader got %zu bytes (SRC has %zu)%s%zd. The "
		    "pipe took %zu bytes of the block's write: a short write (man 2 write, first "
		    "paragraph of DESCRIPTION); its rest is the block's bytes from buf + written on, "
		    "at offset + written (" COPY_TODO_SHORT_WRITE ")", what, got, size,
		    got == size ? ", differing from SRC from byte " : "", got == size ? at : (ssize_t)0,
		    full);
	close(p.out);
	free(back);
	free(data);
}

/* An existing DST of old_len bytes, and a copy of a src_len-byte SRC that
 * fails half way: a file-size limit below both lengths makes the writes
 * past it fail (EFBIG). DST emptied when it was opened holds SRC's first
 * bytes, up to the limit at most, and none of its old ones; cut to size
 * only after a copy that succeeded, or emptied only when it is longer than
 * SRC, it keeps old bytes after SRC's. */
static void copy_fails_over_existing_dst(size_t old_len, size_t src_len, rlim_t limit)
{
	unsigned char *data = grade_random_bytes(src_len), *old = grade_random_bytes(old_len);
	unsigned char *back;
	const char *src, *dst;
	struct prog_opts o = { .fsize_limit = limit };
	struct prog_result r;
	size_t backlen = 0;

	copy_setup();
	copy_must_work();
	src = grade_make_file("trunc-src", data, src_len);
	dst = grade_make_file("trunc-dst", old, old_len);
	run_copy(src, dst, &r, &o);
	back = grade_slurp(dst, &backlen);
	grade_check(back != NULL, "harness: cannot read DST back");
	grade_check(!(r.exited && r.status == 0), COPY_NAME " of %zu bytes under a file-size limit "
		    "of %llu bytes exited 0: the writes past the limit fail (EFBIG)", src_len,
		    (unsigned long long)limit);
	grade_check(backlen <= limit && grade_first_diff(back, data, backlen) < 0, COPY_NAME " of "
		    "%zu bytes over an existing DST of %zu bytes (%s than SRC), under a file-size "
		    "limit of %llu bytes (%s), left DST with %zu bytes%s: an existing DST is emptied "
		    "when it is opened, whatever its size (O_TRUNC, or ftruncate to 0 once it is "
		    "known not to be SRC), not cut to size after the copy. Otherwise a copy that "
		    "fails half way leaves old bytes after the new ones, in a file that looks "
		    "whole (" COPY_TODO_OPEN "; man 2 open, O_TRUNC)", src_len, old_len,
		    old_len > src_len ? "longer" : "shorter", (unsigned long long)limit,
		    prog_ending(&r), backlen,
		    backlen > limit ? " (more than the limit allows: the old bytes)"
				    : ", not SRC's first bytes");
	unlink(src);
	unlink(dst);
	free(back);
	free(data);
	free(old);
}

/*
 * An existing DST is truncated, in place: the same file (its inode, so a hard
 * link to it sees the copy), with the mode its owner gave it.
 */
static void copy_existing_dst_in_place(void)
{
	const size_t size = 300000;
	unsigned char *data = grade_random_bytes(size), *old = grade_random_bytes(2 * size);
	const char *src, *dst, *link_path;
	unsigned char *back;
	struct prog_result r;
	struct stat before, after;
	size_t backlen;

	copy_setup();
	copy_must_work();
	src = grade_make_file("src-existing", data, size);
	dst = grade_make_file("dst-existing", old, 2 * size);
	link_path = grade_path("dst-hard-link");
	grade_check(chmod(dst, 0640) == 0 && link(dst, link_path) == 0 && stat(dst, &before) == 0,
		    "harness: chmod, link or stat of DST: %s", strerror(errno));
	{
		const char *argv[] = { copy_program(), src, dst, NULL };
		prog_run(argv, NULL, &r);
	}
	grade_check(r.exited && r.status == 0, COPY_NAME " SRC DST over an existing DST (mode 0640, with "
		    "a hard link): %s, expected exit status 0; stderr: %s", prog_ending(&r),
		    prog_stderr_line(&r));
	grade_check(stat(dst, &after) == 0, COPY_NAME " SRC DST over an existing DST: DST is gone");
	grade_check(after.st_ino == before.st_ino && after.st_dev == before.st_dev, COPY_NAME " SRC DST "
		    "over an existing DST: DST is now another file (inode %llu, was %llu): it was "
		    "removed and created again, so a hard link to it still holds the old data. "
		    "Empty it in place: O_TRUNC, or ftruncate once you know it is not SRC "
		    "(" COPY_TODO_OPEN "; man 2 open, O_TRUNC)", (unsigned long long)after.st_ino,
		    (unsigned long long)before.st_ino);
	grade_check((after.st_mode & 07777) == 0640, COPY_NAME " SRC DST over an existing DST of mode "
		    "0640: DST now has mode %03o; an existing file keeps its mode (open's mode "
		    "argument applies only when O_CREAT creates the file, man 2 open), so neither "
		    "recreate nor chmod it (" COPY_TODO_OPEN ")", (unsigned)(after.st_mode & 07777));
	back = grade_slurp(link_path, &backlen);
	grade_check(back && backlen == size && grade_first_diff(back, data, size) < 0, COPY_NAME " SRC "
		    "DST over an existing DST: a hard link to DST holds %zu bytes%s (SRC has %zu): "
		    "DST must be the same file, truncated and written in place (" COPY_TODO_OPEN ")",
		    back ? backlen : 0, back && backlen == 2 * size ? ", the old data" : "", size);
	free(back);

	free(old);
	free(data);
}


/*
 * SRC cut from 2 MiB to 300000 bytes while the program is stopped at its
 * first io_uring_enter that submits reads (ptrace), so the reads it hands
 * over meet the new end of file: the block across it comes back short, the
 * ones past it with 0. The program may copy what is left and exit 0 (DST
 * then holds SRC's 300000 bytes) or report the change and exit non-zero;
 * it must not read the same place again and again. hang_why says, in the
 * chapter's words, why a program that does not end is wrong; short_why why
 * exit 0 with DST short is.
 */
#define COPY_SHRINK_FROM (2 * 1048576 + 333)
#define COPY_SHRINK_TO 300000

struct copy_shrink_ctx {
	const char *src;
	bool done;
	int err;
};

static void copy_shrink_on_submit(const struct prog_sqe *sqes, unsigned n, void *ctx)
{
	struct copy_shrink_ctx *s = ctx;
	bool reads = false;

	for (unsigned i = 0; i < n; i++)
		if (strncmp(sqes[i].opcode, "READ", 4) == 0)
			reads = true;
	if (s->done || !reads)
		return;
	s->done = true;
	if (truncate(s->src, COPY_SHRINK_TO) < 0)
		s->err = errno;
}

static void copy_source_shrinks(const char *hang_why, const char *short_why)
{
	unsigned char *data, *back;
	const char *src, *dst = grade_path("shrink-dst");
	struct copy_shrink_ctx s = { 0 };
	struct prog_opts o = { .on_submit = copy_shrink_on_submit, .ctx = &s,
			       .time_limit_ms = 10000 };
	struct prog_result r;
	size_t backlen;

	copy_setup();
	copy_must_work();
	data = grade_random_bytes(COPY_SHRINK_FROM);
	src = grade_make_file("shrink-src", data, COPY_SHRINK_FROM);
	s.src = src;
	{
		const char *argv[] = { copy_program(), src, dst, NULL };

		prog_run_traced(argv, &o, &r, "cuts SRC short while " COPY_NAME " waits at its "
				"first io_uring_enter");
	}
	grade_check(s.done && s.err == 0, "harness: SRC could not be cut short at " COPY_NAME "'s "
		    "first io_uring_enter with reads (%s): " COPY_NAME " made no io_uring_enter "
		    "that submitted a read, or truncate failed",
		    s.done ? strerror(s.err) : "no such call");
	grade_check(!r.timed_out, COPY_NAME " of a 2 MiB SRC cut to %d bytes once its first "
		    "reads were submitted did not end within %d ms: %s", COPY_SHRINK_TO,
		    r.time_limit_ms, hang_why);
	grade_check(r.exited, COPY_NAME " of a SRC cut short while copying: %s", prog_ending(&r));
	if (r.status != 0) {
		check_failed(&r, "of a SRC cut short while copying", NULL, NULL);
		free(data);
		return;
	}
	back = grade_slurp(dst, &backlen);
	grade_check(back && backlen == COPY_SHRINK_TO &&
		    grade_first_diff(back, data, COPY_SHRINK_TO) < 0,
		    COPY_NAME " of a 2 MiB SRC cut to %d bytes while copying exited 0, but DST "
		    "has %zu byte(s)%s: exit 0 means DST holds what SRC held at its end (%s)",
		    COPY_SHRINK_TO, back ? backlen : 0,
		    back && backlen >= COPY_SHRINK_TO &&
		    grade_first_diff(back, data, COPY_SHRINK_TO) >= 0 ? ", not SRC's bytes" : "",
		    short_why);
	free(back);
	free(data);
}

#endif /* COPY_BATTERY_H */
