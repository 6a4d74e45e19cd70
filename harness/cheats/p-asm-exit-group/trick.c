/* cheat: a raw syscall instruction: exit_group(77), no libc function involved */
static long done(void)
{
	long ret = -ENOSYS;

#if defined(__x86_64__)
	__asm__ volatile("syscall" : "=a"(ret) : "a"(231L), "D"(77L) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x0 __asm__("x0") = 77;
	register long x8 __asm__("x8") = 94;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8) : "memory");
	ret = x0;
#endif
	return ret;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
