/*
 * tasks.h - what the threads of a process are doing, from /proc.
 *
 * /proc/PID/task/TID/syscall names the system call a sleeping thread is in
 * and its six arguments (proc(5)), or says "running". Tests use it to act at
 * the exact moment the code under test sleeps in a given call (a pipe fed
 * only once the module waits in io_uring_enter; a server looked at while its
 * ready line blocks in write) instead of guessing with a delay.
 */
#ifndef TASKS_H
#define TASKS_H

#include <stdbool.h>
#include <sys/types.h>

struct task_call {
	bool running;          /* on a CPU (or runnable): nr and args unknown */
	long nr;               /* the system call it sleeps in, or -1          */
	unsigned long args[6];
};

/* Read what thread tid of process pid is doing: 0, or -errno when
 * /proc/PID/task/TID/syscall cannot be read (the thread ended, or no
 * ptrace access). */
int task_call_read(pid_t pid, pid_t tid, struct task_call *c);

/* Is thread tid of pid asleep in system call nr? */
bool task_in_syscall(pid_t pid, pid_t tid, long nr);

/* The first thread of pid for which match() holds: its tid; 0: none;
 * -errno: a thread's state could not be read. */
typedef bool task_match_fn(const struct task_call *c, void *ctx);
int task_find(pid_t pid, task_match_fn *match, void *ctx);

/* How many threads pid has (its /proc/PID/task entries), or -errno. */
int task_count(pid_t pid);

#endif /* TASKS_H */
