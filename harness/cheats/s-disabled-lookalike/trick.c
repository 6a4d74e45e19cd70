/* cheat: io_uring looks switched off: io_uring_queue_init says EPERM and kernel.io_uring_disabled reads 2 */
#include <dlfcn.h>
#include <stdio.h>

int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	(void)entries;
	(void)ring;
	(void)flags;
	return -EPERM;
}

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);

	if (!strcmp(path, "/proc/sys/kernel/io_uring_disabled"))
		return fmemopen((void *)"2\n", 2, "r");
	if (!real)
		real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
	return real(path, mode);
}
