#define _GNU_SOURCE
#include "grade.h"
#include "reader.h"
#include "batch_checks.h"

GRADE_TEST(open, picks, 1, "rd_open picks an interface", "TODO 1")
{
	struct reader *r = NULL;
	const char *path = grade_make_file("f", "hello", 5);
	int ret = SEAM_CALL(rd_open(&r, path, 4, 0));

	grade_check(ret == 0, "rd_open returned %s", grade_errno_str(ret));
	if (ret == 0) {
		grade_check(rd_backend(r) == RD_IO_URING, "backend %d why %s", rd_backend(r), rd_why(r));
		rd_close(r);
	}
}
