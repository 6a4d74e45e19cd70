/*
 * harness/cheats/lib/no-uring-filter.c - a seccomp filter: io_uring_setup
 * fails with EPERM, everything else runs. Installing it is the cheat's part.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

__attribute__((unused))
static struct sock_filter no_uring[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static struct sock_fprog no_uring_prog = { sizeof(no_uring) / sizeof(no_uring[0]), no_uring };
