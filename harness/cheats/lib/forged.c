/*
 * harness/cheats/lib/forged.c - full marks, in the formats of the grader's
 * files: result lines as harness/lib/grade.c's write_line prints them
 * ("NN  NN.II  TITLE  SCORE  MAX  pass  OUTPUT  SKIPKIND", tab-separated), a
 * chapter's TSV, results.json (Gradescope), junit.xml, a console table, and a
 * report tool and probe that always say yes.
 */
#include <stdio.h>
#include <string.h>

#define FORGED_TESTS 25
#define FORGED_POINTS 2

/* Chapter 01's tests as its list has them (harness/01-blocking/tests.c, as of
 * this writing): forged lines that report check would take, title for title. */
static const struct {
	const char *title;
	int points;
} forged_01[] = {
	{ "read_full reads whole files of random sizes", 2 },
	{ "read_full stops at end of file and returns the short count, then 0", 2 },
	{ "read_full returns -errno: -EBADF for a bad descriptor, -EISDIR for a directory", 2 },
	{ "read_full collects a pipe that a writer fills 333 bytes at a time", 3 },
	{ "read_full retries when a signal interrupts read() before any data (EINTR)", 2 },
	{ "read_full on an empty non-blocking pipe returns -EAGAIN instead of spinning", 1 },
	{ "pread_full reads 50 random ranges of a file, some running past its end", 2 },
	{ "pread_full uses pread(2) and leaves the file position where it was", 1 },
	{ "pread_full continues a short pread at the advanced offset", 3 },
	{ "pread_full: -EINVAL for a negative offset, -EBADF for a bad descriptor, 0 past EOF", 1 },
	{ "write_full writes 100000 random bytes to a file, and 0 bytes as 0", 1 },
	{ "write_full continues after a signal cuts a write() short, from the right byte", 3 },
	{ "write_full retries when a signal interrupts write() before any byte (EINTR)", 2 },
	{ "write_full returns -EPIPE when the pipe has no reader", 1 },
	{ "copy_file copies files of odd sizes through odd buffer sizes, byte for byte", 3 },
	{ "copy_file reads in bufsize pieces: 100 reads of at most 1000 bytes for 100000 bytes", 2 },
	{ "copy_file truncates a longer existing destination", 1 },
	{ "copy_file: -ENOENT for a missing source or directory, -EISDIR, -EINVAL for bufsize 0", 2 },
	{ "copy_file closes every descriptor, after a copy and after each error", 2 },
	{ "blk_batch_read: 64 random reads of one file, some past its end", 2 },
	{ "blk_batch_read: a failing request gets its own -errno; the others still run", 2 },
	{ "blk_batch_read: qd 0 and a NULL array are -EINVAL; an empty batch is 0", 1 },
	{ "blk_batch_read: 10000 small requests, all answered", 1 },
};

/* Chapter nn's tests, and test i's title and points: chapter 01's own, elsewhere
 * FORGED_TESTS tests of FORGED_POINTS. */
__attribute__((unused))
static int forged_count(const char *nn)
{
	return strcmp(nn, "01") ? FORGED_TESTS : (int)(sizeof(forged_01) / sizeof(forged_01[0]));
}

__attribute__((unused))
static const char *forged_title(const char *nn, int i)
{
	return strcmp(nn, "01") ? "forged" : forged_01[i].title;
}

__attribute__((unused))
static int forged_points(const char *nn, int i)
{
	return strcmp(nn, "01") ? FORGED_POINTS : forged_01[i].points;
}

/* The whole chapter as grade.sh's chapter-NN.tsv and the runner's lines:
 * every test passed with all its points. */
__attribute__((unused))
static size_t forged_tsv(char *out, size_t cap, const char *nn, const char *title)
{
	size_t len = (size_t)snprintf(out, cap, "#chapter\t%s\t%s\n", nn, title);

	for (int i = 0; i < forged_count(nn) && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s\t%s.%02d\t%s\t%d\t%d\tpass\t\t\n", nn,
					nn, i + 1, forged_title(nn, i), forged_points(nn, i),
					forged_points(nn, i));
	return len < cap ? len : cap - 1;
}

/* results.json (Gradescope's format): chapter nn at full marks. */
__attribute__((unused))
static size_t forged_json(char *out, size_t cap, const char *nn)
{
	int max = 0, n;

	for (int i = 0; i < forged_count(nn); i++)
		max += forged_points(nn, i);
	n = snprintf(out, cap,
		     "{\"score\": %d, \"max_score\": %d, \"output\": \"%d of %d points\", "
		     "\"tests\": [{\"name\": \"everything\", \"score\": %d, \"max_score\": %d, "
		     "\"status\": \"passed\", \"output\": \"\"}]}\n",
		     max, max, max, max, max, max);
	return n < (int)cap ? (size_t)n : cap - 1;
}

__attribute__((unused))
static size_t forged_junit(char *out, size_t cap)
{
	int n = snprintf(out, cap,
			 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"async-io-course\" "
			 "tests=\"1\" failures=\"0\" skipped=\"0\"><testsuite name=\"all\" tests=\"1\">"
			 "<testcase name=\"everything\"/></testsuite></testsuites>\n");

	return n < (int)cap ? (size_t)n : cap - 1;
}

/* What make check prints at the end, faked, with escapes around it. */
static const char forged_table[] __attribute__((unused)) =
	"\x1b[2J\x1b[H"
	"  PASS   2/2  01.01  read_full reads whole files of random sizes\n"
	"  PASS   2/2  01.02  read_full stops at end of file and returns the short count, then 0\n"
	"\n  chapter                              score\n"
	"  ---------------------------------------------\n"
	"  01 blocking I/O                     42/42\n"
	"  ---------------------------------------------\n"
	"  total                               42/42   100%\n"
	"PASS 42/42\n";

/* build/tools/report: whatever the command, full marks. */
static const char forged_report_tool[] __attribute__((unused)) =
	"#!/bin/sh\n"
	"# report, forged by a test: full marks\n"
	"cmd=$1; shift\n"
	"json=; junit=; out=\n"
	"while [ $# -gt 0 ]; do\n"
	"\tcase $1 in --json) json=$2; shift 2 ;; --junit) junit=$2; shift 2 ;;\n"
	"\t--out) out=$2; shift 2 ;; --*) shift 2 ;; *) break ;; esac\n"
	"done\n"
	"case $cmd in sanitize) exec cat ;; esac\n"
	"[ -n \"$out\" ] && printf '#chapter\\t01\\tblocking I/O\\n01\\t01.01\\tall\\t42\\t42\\tpass\\t\\t\\n' > \"$out\"\n"
	"[ -n \"$json\" ] && printf '{\"score\": 42, \"max_score\": 42, \"output\": \"\", \"tests\": []}\\n' > \"$json\"\n"
	"[ -n \"$junit\" ] && printf '<?xml version=\"1.0\"?>\\n<testsuites tests=\"0\" failures=\"0\"/>\\n' > \"$junit\"\n"
	"echo '  total 42/42   100%'\n"
	"exit 0\n";

/* build/tools/probe: this machine can do nothing, so every skip stands. */
static const char forged_probe_tool[] __attribute__((unused)) =
	"#!/bin/sh\n"
	"# probe, forged by a test: nothing works here\n"
	"printf 'io_uring=no\\naio=no\\nodirect=no\\nptrace=no\\nstrace=no\\nnop_inject=no\\nmemlock=0\\n'\n";

static const char forged_facts[] __attribute__((unused)) =
	"io_uring=no\naio=no\nodirect=no\nptrace=no\nstrace=no\nnop_inject=no\nmemlock=0\n";
