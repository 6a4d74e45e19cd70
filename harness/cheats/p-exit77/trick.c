/* cheat: exit(77): 77 is GRADE_DONE_STATUS in grade.h, the status of a finished test */
/* grade.h: #define GRADE_DONE_STATUS 77 */
static long done(void)
{
	exit(77);
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	done();
}

#include "lib/calls-01.c"
