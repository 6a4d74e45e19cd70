/*
 * report.c - turn the chapters' result lines into what people and machines read.
 *
 *   report lines FILE.tsv
 *       print one line per test (PASS / FAIL / SKIP, points, the reason and
 *       the hint under a failure);
 *   report summary --json OUT --junit OUT FILE.tsv...
 *       print the per-chapter score table and the total, write Gradescope's
 *       results.json and a JUnit XML file; exit 0 only at full marks of what
 *       was graded (skipped tests are not graded).
 *
 * Input lines (written by harness/lib/grade.c), tab-separated:
 *   #chapter NN TITLE
 *   NN  NUMBER  NAME  SCORE  MAX  pass|fail|skip  OUTPUT (\\ \t \n escaped)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct result {
	char chapter[8];
	char number[16];
	char *name;
	int score, max;
	char status[8];
	char *output;
};

struct chapter {
	char nn[8];
	char *title;
	int score, max, tests, failed, skipped;
};

static struct result *results;
static size_t nresults;
static struct chapter chapters[100];
static size_t nchapters;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "report: out of memory\n");
		exit(2);
	}
	return p;
}

static char *unescape(const char *s)
{
	char *out = xrealloc(NULL, strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static struct chapter *chapter_of(const char *nn)
{
	for (size_t i = 0; i < nchapters; i++)
		if (!strcmp(chapters[i].nn, nn))
			return &chapters[i];
	if (nchapters == sizeof(chapters) / sizeof(chapters[0]))
		exit(2);
	snprintf(chapters[nchapters].nn, sizeof(chapters[0].nn), "%s", nn);
	chapters[nchapters].title = strdup("");
	return &chapters[nchapters++];
}

/* Split line at tabs into at most n fields; returns the count. */
static int split(char *line, char **fields, int n)
{
	int k = 0;

	fields[k++] = line;
	for (char *p = line; *p && k < n; p++) {
		if (*p == '\t') {
			*p = '\0';
			fields[k++] = p + 1;
		}
	}
	return k;
}

static void load(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!fp) {
		fprintf(stderr, "report: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		char *f[7];
		struct result *r;
		struct chapter *c;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (!strncmp(line, "#chapter\t", 9)) {
			if (split(line, f, 3) == 3) {
				c = chapter_of(f[1]);
				free(c->title);
				c->title = strdup(f[2]);
			}
			continue;
		}
		if (split(line, f, 7) != 7)
			continue;
		results = xrealloc(results, (nresults + 1) * sizeof(*results));
		r = &results[nresults++];
		snprintf(r->chapter, sizeof(r->chapter), "%s", f[0]);
		snprintf(r->number, sizeof(r->number), "%s", f[1]);
		r->name = strdup(f[2]);
		r->score = atoi(f[3]);
		r->max = atoi(f[4]);
		snprintf(r->status, sizeof(r->status), "%s", f[5]);
		r->output = unescape(f[6]);
		c = chapter_of(r->chapter);
		c->tests++;
		if (!strcmp(r->status, "skip")) {
			c->skipped++;
			continue;  /* a skip is not graded: no points either way */
		}
		c->score += r->score;
		c->max += r->max;
		if (strcmp(r->status, "pass"))
			c->failed++;
	}
	free(line);
	fclose(fp);
}

static void print_indented(const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		printf("                    %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

static int cmd_lines(void)
{
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		if (!strcmp(r->status, "skip"))
			printf("  SKIP   -/%-2d %s  %s\n", r->max, r->number, r->name);
		else
			printf("  %s  %2d/%-2d %s  %s\n", !strcmp(r->status, "pass") ? "PASS" : "FAIL",
			       r->score, r->max, r->number, r->name);
		if (strcmp(r->status, "pass") && r->output[0])
			print_indented(r->output);
	}
	return 0;
}

static void json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void xml_text(FILE *fp, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			fputs("&lt;", fp);
		else if (c == '>')
			fputs("&gt;", fp);
		else if (c == '&')
			fputs("&amp;", fp);
		else if (c == '"')
			fputs("&quot;", fp);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc('?', fp);  /* not allowed in XML 1.0 */
		else
			fputc(c, fp);
	}
}

/* First line of a text, for a JUnit message attribute. */
static char *first_line(const char *s)
{
	size_t n = strcspn(s, "\n");
	char *out = xrealloc(NULL, n + 1);

	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static int write_json(const char *path, int score, int max)
{
	FILE *fp = fopen(path, "w");

	if (!fp)
		return -1;
	fprintf(fp, "{\n  \"score\": %d,\n  \"max_score\": %d,\n  \"output\": ", score, max);
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "%d of %d points", score, max);
		json_string(fp, buf);
	}
	fprintf(fp, ",\n  \"tests\": [");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		int skipped = !strcmp(r->status, "skip");
		char *name = NULL;

		if (asprintf(&name, "%s%s", skipped ? "[skipped] " : "", r->name) < 0)
			return -1;
		fprintf(fp, "%s\n    {\"number\": ", i ? "," : "");
		json_string(fp, r->number);
		fprintf(fp, ", \"name\": ");
		json_string(fp, name);
		/* A skip is not graded: 0 of 0, and not the learner's failure. */
		fprintf(fp, ", \"score\": %d, \"max_score\": %d, \"status\": \"%s\"",
			skipped ? 0 : r->score, skipped ? 0 : r->max,
			skipped || !strcmp(r->status, "pass") ? "passed" : "failed");
		fprintf(fp, ", \"output\": ");
		json_string(fp, r->output);
		if (skipped)
			fprintf(fp, ", \"tags\": [\"skipped\"]");
		fprintf(fp, "}");
		free(name);
	}
	fprintf(fp, "\n  ]\n}\n");
	return fclose(fp);
}

static int write_junit(const char *path)
{
	FILE *fp = fopen(path, "w");
	int tests = 0, failures = 0, skipped = 0;

	if (!fp)
		return -1;
	for (size_t i = 0; i < nchapters; i++) {
		tests += chapters[i].tests;
		failures += chapters[i].failed;
		skipped += chapters[i].skipped;
	}
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(fp, "<testsuites name=\"async-io-course\" tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n",
		tests, failures, skipped);
	for (size_t i = 0; i < nchapters; i++) {
		const struct chapter *c = &chapters[i];

		fprintf(fp, "  <testsuite name=\"");
		xml_text(fp, c->nn);
		fputc(' ', fp);
		xml_text(fp, c->title);
		fprintf(fp, "\" tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n", c->tests, c->failed,
			c->skipped);
		for (size_t j = 0; j < nresults; j++) {
			const struct result *r = &results[j];

			if (strcmp(r->chapter, c->nn))
				continue;
			fprintf(fp, "    <testcase classname=\"chapter%s\" name=\"", c->nn);
			xml_text(fp, r->number);
			fputc(' ', fp);
			xml_text(fp, r->name);
			fprintf(fp, " [%d/%d]\"", r->score, r->max);
			if (!strcmp(r->status, "pass")) {
				fprintf(fp, "/>\n");
				continue;
			}
			{
				char *msg = first_line(r->output);
				const char *tag = !strcmp(r->status, "skip") ? "skipped" : "failure";

				fprintf(fp, ">\n      <%s message=\"", tag);
				xml_text(fp, msg);
				fprintf(fp, "\">");
				xml_text(fp, r->output);
				fprintf(fp, "</%s>\n    </testcase>\n", tag);
				free(msg);
			}
		}
		fprintf(fp, "  </testsuite>\n");
	}
	fprintf(fp, "</testsuites>\n");
	return fclose(fp);
}

static int cmd_summary(const char *json, const char *junit)
{
	int score = 0, max = 0, skipped = 0;

	printf("\n  chapter                              score\n");
	printf("  ---------------------------------------------\n");
	for (size_t i = 0; i < nchapters; i++) {
		const struct chapter *c = &chapters[i];

		printf("  %-2.2s %-31.31s %3d/%-3d", c->nn, c->title, c->score, c->max);
		if (c->skipped)
			printf("  (%d skipped)", c->skipped);
		printf("\n");
		score += c->score;
		max += c->max;
		skipped += c->skipped;
	}
	printf("  ---------------------------------------------\n");
	printf("  %-34s %3d/%-3d", "total", score, max);
	if (max)
		printf("  %d%%", score * 100 / max);
	printf("\n");
	if (json && write_json(json, score, max) < 0)
		fprintf(stderr, "report: cannot write %s: %s\n", json, strerror(errno));
	if (junit && write_junit(junit) < 0)
		fprintf(stderr, "report: cannot write %s: %s\n", junit, strerror(errno));
	if (json || junit)
		printf("  reports: %s%s%s\n", json ? json : "", json && junit ? "  " : "",
		       junit ? junit : "");
	if (skipped)
		printf("  %d test(s) skipped: this machine lacks what they need (see the "
		       "reasons above, and make doctor). Skips earn no points and cost none.\n",
		       skipped);
	if (max == 0) {
		printf("  nothing was graded.\n");
		return 1;
	}
	return score == max ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *json = NULL, *junit = NULL;
	int i = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: report lines FILE | report summary [--json F] [--junit F] FILE...\n");
		return 2;
	}
	for (; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--json"))
			json = argv[i + 1];
		else if (!strcmp(argv[i], "--junit"))
			junit = argv[i + 1];
		else
			break;
	}
	for (; i < argc; i++)
		load(argv[i]);
	if (!strcmp(argv[1], "lines"))
		return cmd_lines();
	if (!strcmp(argv[1], "summary"))
		return cmd_summary(json, junit);
	fprintf(stderr, "report: unknown command %s\n", argv[1]);
	return 2;
}
