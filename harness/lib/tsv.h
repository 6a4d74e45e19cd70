/*
 * tsv.h - the escaping of the per-test result lines, shared by their writers:
 * the test runner (grade.c) and `report check` (tools/report.c), which
 * rewrites them. Fields are tab-separated; in text, \\, \t and \n are
 * escaped (report.c's unescape reads them back).
 */
#ifndef GRADE_TSV_H
#define GRADE_TSV_H

#include <stdio.h>

static inline void tsv_put_escaped(FILE *fp, const char *text)
{
	for (; *text; text++) {
		if (*text == '\\')
			fputs("\\\\", fp);
		else if (*text == '\t')
			fputs("\\t", fp);
		else if (*text == '\n')
			fputs("\\n", fp);
		else
			fputc(*text, fp);
	}
}

#endif /* GRADE_TSV_H */
