/*
 * harness/cheats/lib/forge-reports.c - a results.json and junit.xml with full
 * marks; the maximum of a chapter's result lines.
 */
#include <stdio.h>
#include <stdlib.h>

/* A results.json (Gradescope) and junit.xml with full marks, in `dir`. */
__attribute__((unused))
static void forge_reports(const char *dir, int max)
{
	char path[4200], tmp[4300];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.forged", path);
	if ((fp = fopen(tmp, "w"))) {
		fprintf(fp, "{\n  \"score\": %d,\n  \"max_score\": %d,\n  \"output\": \"%d of %d points\",\n"
			    "  \"tests\": []\n}\n", max, max, max, max);
		fclose(fp);
		rename(tmp, path);
	}
	snprintf(path, sizeof(path), "%s/junit.xml", dir);
	snprintf(tmp, sizeof(tmp), "%s.forged", path);
	if ((fp = fopen(tmp, "w"))) {
		fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"async-io-course\" "
			    "tests=\"0\" failures=\"0\" skipped=\"0\"/>\n");
		fclose(fp);
		rename(tmp, path);
	}
}

/* The chapter's maximum: the MAX column of its result lines. */
__attribute__((unused))
static int tsv_max(const char *path)
{
	char line[8192];
	int max = 0;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		char *p = line;
		int field = 1;

		if (line[0] == '#')
			continue;
		for (; *p && field < 5; p++)
			if (*p == '\t')
				field++;
		if (field == 5)
			max += atoi(p);
	}
	fclose(fp);
	return max;
}
