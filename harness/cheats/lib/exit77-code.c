/*
 * harness/cheats/lib/exit77-code.c - room for machine code in this module,
 * and the code of exit_group(77) (77: GRADE_DONE_STATUS, the status of a
 * finished test) to write there through /proc/PID/mem.
 */
#include <stdint.h>

/* 32 bytes of room, overwritten at run time. */
__attribute__((noinline, aligned(64))) static void landing(void)
{
	__asm__ volatile(".rept 32\n\tnop\n\t.endr");
}

#if defined(__x86_64__)
static const unsigned char exit77_code[] __attribute__((unused)) = {
	0xbf, 77, 0, 0, 0,   /* mov $77, %edi  */
	0xb8, 231, 0, 0, 0,  /* mov $231, %eax (exit_group) */
	0x0f, 0x05,          /* syscall */
};
#endif
