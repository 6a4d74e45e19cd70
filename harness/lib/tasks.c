/*
 * tasks.c - what the threads of a process are doing, from /proc (tasks.h).
 */
#define _GNU_SOURCE
#include "tasks.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int task_call_read(pid_t pid, pid_t tid, struct task_call *c)
{
	char path[96], buf[256] = "";
	FILE *fp;
	int n;

	memset(c, 0, sizeof(*c));
	c->nr = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	if (!fgets(buf, sizeof(buf), fp)) {
		int err = ferror(fp) ? -(errno ? errno : EIO) : 0;

		fclose(fp);
		return err;
	}
	fclose(fp);
	if (!strncmp(buf, "running", 7)) {
		c->running = true;
		return 0;
	}
	/* "NR ARG1 ... ARG6 SP PC" while asleep in a call; "-1 SP PC" while
	 * blocked outside one. */
	n = sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &c->nr, &c->args[0], &c->args[1],
		   &c->args[2], &c->args[3], &c->args[4], &c->args[5]);
	if (n != 7)
		c->nr = -1;
	return 0;
}

bool task_in_syscall(pid_t pid, pid_t tid, long nr)
{
	struct task_call c;

	return task_call_read(pid, tid, &c) == 0 && !c.running && c.nr == nr;
}

int task_find(pid_t pid, task_match_fn *match, void *ctx)
{
	char dir[64];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while (!found && (e = readdir(d))) {
		struct task_call c;
		int err;

		if (e->d_name[0] == '.')
			continue;
		err = task_call_read(pid, (pid_t)atoi(e->d_name), &c);
		if (err == -ENOENT || err == -ESRCH)
			continue; /* the thread ended meanwhile */
		if (err) {
			found = err;
			break;
		}
		if (match(&c, ctx))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

int task_count(pid_t pid)
{
	char dir[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}
