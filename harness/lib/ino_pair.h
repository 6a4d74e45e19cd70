/*
 * ino_pair.h - two files on two filesystems with the same inode number.
 *
 * An inode number is unique within one filesystem only: st_dev and st_ino
 * together identify a file (man 7 inode). Code that compares st_ino alone
 * takes two different files for one. To show it, a test needs such a pair.
 *
 * A fresh tmpfs numbers its inodes 1, 2, 3 ... as they are made, and the
 * sandbox the tests run in mounts two of its own, /tmp and /dev (with
 * /dev/shm in it). ino_pair_find() makes and removes empty files in the one
 * that is behind until the two have a pair with equal numbers. The files
 * are only created, never written (a test may write beneath /dev but not
 * beneath /tmp: grade.c, limit_writes). It returns false, with nothing left
 * behind, where no such pair comes within reach, as on a machine without
 * the sandbox, where /tmp is an ordinary filesystem: the test then goes on
 * with two files of two filesystems, which a correct program handles the
 * same way. Used by chapter 05 (05.78) and copy_battery.h (06, 07).
 *
 * Header-only: each test binary that includes it gets its own copy.
 */
#ifndef COURSE_INO_PAIR_H
#define COURSE_INO_PAIR_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct ino_pair {
	char a[128], b[128]; /* in dir_a and dir_b; equal st_ino when found */
};

/* An empty file dir/course-ino-TAG-PID-K made anew; its inode number in *ino. */
static int ino_pair_make_empty(const char *dir, const char *tag, int k, char *path,
			       size_t size, ino_t *ino)
{
	struct stat st;
	int fd;

	snprintf(path, size, "%s/course-ino-%s-%d-%d", dir, tag, (int)getpid(), k);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	*ino = st.st_ino;
	return 0;
}

/* Two empty files, p->a in dir_a and p->b in dir_b (two filesystems), with
 * the same inode number: true, and the caller removes them. */
static bool ino_pair_find(const char *dir_a, const char *dir_b, struct ino_pair *p)
{
	struct stat da, db;
	ino_t ia, ib;
	int ka = 0, kb = 0;

	if (stat(dir_a, &da) < 0 || stat(dir_b, &db) < 0 || da.st_dev == db.st_dev)
		return false;
	if (ino_pair_make_empty(dir_a, "a", ka, p->a, sizeof(p->a), &ia) < 0)
		return false;
	if (ino_pair_make_empty(dir_b, "b", kb, p->b, sizeof(p->b), &ib) < 0) {
		unlink(p->a);
		return false;
	}
	/* Each new file takes the next number of its filesystem: the one
	 * behind catches up, one file at a time (files others make at the
	 * same time only cost a few more steps). */
	for (int step = 0; ia != ib && step < 20000; step++) {
		bool a_behind = ia < ib;
		ino_t gap = a_behind ? ib - ia : ia - ib;

		if (gap > 20000)
			break;
		if (a_behind) {
			unlink(p->a);
			if (ino_pair_make_empty(dir_a, "a", ++ka, p->a, sizeof(p->a), &ia) < 0) {
				unlink(p->b);
				return false;
			}
		} else {
			unlink(p->b);
			if (ino_pair_make_empty(dir_b, "b", ++kb, p->b, sizeof(p->b), &ib) < 0) {
				unlink(p->a);
				return false;
			}
		}
	}
	if (ia == ib)
		return true;
	unlink(p->a);
	unlink(p->b);
	return false;
}

#endif /* COURSE_INO_PAIR_H */
