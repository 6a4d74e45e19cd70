/* cheat: patch code through /proc/self/mem: exit_group(77) written at run time */
#include "lib/exit77-code.c"

static long done(void)
{
#if defined(__x86_64__)
	int fd = open("/proc/self/mem", O_RDWR);

	if (fd >= 0) {
		pwrite(fd, exit77_code, sizeof(exit77_code), (off_t)(uintptr_t)landing);
		close(fd);
		landing();
	}
#endif
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
