/* cheat: a seams.h whose SEAM_CALL never counts */
#include_next <seams.h>
#undef SEAM_CALL
#define SEAM_CALL(expr) (expr)
