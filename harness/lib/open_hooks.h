/*
 * harness/lib/open_hooks.h - the open family's seams (open, open64, openat,
 * openat64) answered through one verdict, for a test that plays a
 * filesystem's refusals (EINVAL for O_DIRECT, EACCES) or swaps a path.
 *
 *   open_hooks_install(verdict)   every call of the family asks
 *                                 verdict(&path, flags) first: 0 lets it
 *                                 through (with *path, which the verdict
 *                                 may have changed), an errno fails it
 *   open_hooks_setfl(verdict)     fcntl(fd, F_SETFL, flags) asks
 *                                 verdict(flags) first: an errno fails it
 *                                 (O_DIRECT switched on after the open is
 *                                 refused where open(2) would refuse it)
 *   open_hooks_remove()           the real calls again
 *
 * open's mode argument exists only when its flags need one (open(2)): it is
 * read only then, as seams.c does (SEAM_OPEN_MODE). Header-only, included
 * once by a chapter's tests.
 */
#ifndef OPEN_HOOKS_H
#define OPEN_HOOKS_H

#include "seams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

static int (*open_hooks_verdict)(const char **path, int flags);

static mode_t open_hooks_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

#define OPEN_HOOK(name, params, call)                                  \
	static int open_hook_##name params                             \
	{                                                              \
		const char *p = path;                                  \
		int err = open_hooks_verdict ? open_hooks_verdict(&p, flags) : 0; \
		mode_t mode;                                           \
		va_list ap;                                            \
                                                                       \
		va_start(ap, flags);                                   \
		mode = open_hooks_mode(flags, ap);                     \
		va_end(ap);                                            \
		if (err) {                                             \
			errno = err;                                   \
			return -1;                                     \
		}                                                      \
		return call;                                           \
	}
OPEN_HOOK(open, (const char *path, int flags, ...), SEAM_REAL(open)(p, flags, mode))
OPEN_HOOK(open64, (const char *path, int flags, ...), SEAM_REAL(open64)(p, flags, mode))
OPEN_HOOK(openat, (int dirfd, const char *path, int flags, ...),
	  SEAM_REAL(openat)(dirfd, p, flags, mode))
OPEN_HOOK(openat64, (int dirfd, const char *path, int flags, ...),
	  SEAM_REAL(openat64)(dirfd, p, flags, mode))
#undef OPEN_HOOK

static int (*open_hooks_setfl_verdict)(int flags);

/* fcntl's third argument is one pointer-sized value, as glibc reads it. */
#define FCNTL_HOOK(name)                                                     \
	static int open_hook_##name(int fd, int cmd, ...)                    \
	{                                                                    \
		void *arg;                                                   \
		va_list ap;                                                  \
		int err = 0;                                                 \
                                                                             \
		va_start(ap, cmd);                                           \
		arg = va_arg(ap, void *);                                    \
		va_end(ap);                                                  \
		if (cmd == F_SETFL && open_hooks_setfl_verdict)              \
			err = open_hooks_setfl_verdict((int)(intptr_t)arg);  \
		if (err) {                                                   \
			errno = err;                                         \
			return -1;                                           \
		}                                                            \
		return SEAM_REAL(name)(fd, cmd, arg);                        \
	}
FCNTL_HOOK(fcntl)
FCNTL_HOOK(fcntl64)
#undef FCNTL_HOOK

static inline void open_hooks_install(int (*verdict)(const char **path, int flags))
{
	open_hooks_verdict = verdict;
	seam_hook_open = open_hook_open;
	seam_hook_open64 = open_hook_open64;
	seam_hook_openat = open_hook_openat;
	seam_hook_openat64 = open_hook_openat64;
	seam_hook_fcntl = open_hook_fcntl;
	seam_hook_fcntl64 = open_hook_fcntl64;
}

static inline void open_hooks_setfl(int (*verdict)(int flags))
{
	open_hooks_setfl_verdict = verdict;
}

static inline void open_hooks_remove(void)
{
	seam_hook_open = NULL;
	seam_hook_open64 = NULL;
	seam_hook_openat = NULL;
	seam_hook_openat64 = NULL;
	seam_hook_fcntl = NULL;
	seam_hook_fcntl64 = NULL;
	open_hooks_verdict = NULL;
	open_hooks_setfl_verdict = NULL;
}

#endif /* OPEN_HOOKS_H */
