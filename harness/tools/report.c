/*
 * report.c - check the chapters' result lines, and turn them into what people
 * and machines read.
 *
 *   report check --list LIST.tsv --facts FACTS --out OUT.tsv
 *                [--why-missing TEXT] [RESULTS.tsv]
 *       the judge of a chapter's results: RESULTS was written by a process
 *       that ran learner code, so it may be forged, damaged or missing. LIST
 *       (every test failed with 0 points, from a binary built without learner
 *       code) says which tests exist and what each is worth; FACTS (key=value
 *       lines of `probe facts`, run without learner code) says what this
 *       machine lacks. OUT gets one line per test of LIST: the result from
 *       RESULTS when it is well formed and alone, a skip only when FACTS
 *       confirms it, otherwise a failure worth 0 that says why (TEXT when no
 *       result came; by default "the runner stopped"). Unknown test numbers
 *       are ignored with a warning. OUT is written whole or not at all (a
 *       temporary file, then rename). Exit 0 when OUT was written, 2 on a
 *       usage error or when LIST cannot be read or OUT written;
 *   report lines [--only NN.MM] FILE.tsv...
 *       print one line per test (PASS / FAIL / SKIP, points, the reason and
 *       the hint under a failure);
 *   report summary [--only NN.MM] --json OUT --junit OUT FILE.tsv...
 *       print the per-chapter score table and the total, write Gradescope's
 *       results.json and a JUnit XML file (each whole, by rename: a symlink
 *       at OUT is replaced, never followed); exit 0 only at full marks of what
 *       was graded (skipped tests are not graded), 2 when a report cannot be
 *       written. --only NN.MM (make check T=NN.MM: grade.sh says which test
 *       it ran, the results do not) prints, instead of the table, that
 *       test's verdict and how many of the chapter's tests ran, and exits 0
 *       when it passed; `lines` shows only that test then. The reports are
 *       written as always: the tests not run count as failed there;
 *   report sanitize [--max BYTES] [--prefix TEXT] [--path-from DIR --path-to DIR]
 *       a filter for the console output of learner code while tests run:
 *       stdin to stdout, line by line, each cleaned as below and cut at 4000
 *       bytes, each starting with TEXT; after BYTES in total (65536 by
 *       default) one line says how much more was not shown. It reads stdin
 *       to its end whatever happens, so the writer never blocks. With
 *       --path-from, every occurrence of that string in a line (the
 *       grader's private copy of the learner's files, as the compiler and
 *       the sanitizers name them) is replaced by --path-to (the tree graded,
 *       as the learner knows it) before the line is cleaned: text
 *       substitution of one string the grader chose, after which the line
 *       is cleaned and bounded like any other.
 *
 * Lines (harness/lib/grade.c writes them), tab-separated:
 *   #chapter  NN  TITLE
 *   NN  NUMBER  TITLE  SCORE  MAX  pass|fail|skip  OUTPUT  SKIPKIND
 * OUTPUT has \\, \t and \n escaped; SKIPKIND is empty unless the test
 * skipped (io_uring, memlock:BYTES, aio, odirect, ptrace, strace, nop_inject).
 * Lines of 7 fields (older files, without SKIPKIND) are read too.
 *
 * Every text that learner code can influence goes through clean() before it
 * is printed or written anywhere: valid UTF-8, no control characters or
 * terminal escapes, bounded length. `lines` and `summary` clean again what
 * `check` already cleaned: they do not trust their input either.
 */
#define _GNU_SOURCE
#include "../lib/tsv.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CAP (16u << 20)  /* bytes read of a results file; the rest is ignored */
#define LINE_CAP (1u << 20)   /* a longer line is damage: no honest line is near it */
#define TEXT_CAP 4000         /* bytes of one output, title or console line */
#define ID_CAP 64             /* bytes of a chapter, test number or skip kind */
#define POINTS_CAP 1000000    /* more points than any test has: not a number we take */
#define CUT_MARK " \u2026 (cut)"

#define MSG_MALFORMED "the grader received a malformed result for this test; it counts 0"
#define MSG_DUPLICATE "the grader received more than one result for this test; it counts 0"
#define MSG_MISSING "no result reached the grader for this test: the test runner stopped " \
		    "or was killed before it reported (read the output above)"

struct result {
	char *chapter, *number, *name;
	int score, max;
	char status[8];  /* pass, fail or skip: anything else read is fail */
	char *output, *kind;
};

struct chapter {
	char *nn, *title;
	long score, max;
	int tests, failed, skipped;
};

static struct result *results;
static size_t nresults;
static struct chapter *chapters;
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

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* ---------------------------------------------------------------------
 * Clean text
 */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/*
 * One UTF-8 character at s: its length, and its code point in *cp, or -1 if
 * the bytes are not one. Overlong forms, surrogates and values past
 * U+10FFFF are refused by the ranges of the second byte; a bad sequence
 * consumes only its longest valid start (Unicode's "maximal subpart"), so
 * the byte that broke it is read again as the start of the next one.
 */
static size_t utf8_next(const unsigned char *s, size_t len, long *cp)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;
	long v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1, v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, v = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;  /* overlong */
		hi = c == 0xed ? 0x9f : 0xbf;  /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, v = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;  /* overlong */
		hi = c == 0xf4 ? 0x8f : 0xbf;  /* past U+10FFFF */
	} else {
		*cp = -1;
		return 1;
	}
	for (size_t k = 1; k <= need; k++) {
		if (k >= len || s[k] < lo || s[k] > hi) {
			*cp = -1;
			return k;
		}
		v = v << 6 | (s[k] & 0x3f);
		lo = 0x80, hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/*
 * The end of the terminal escape sequence that starts with ESC at s[i], so
 * that it goes whole: a half-removed sequence still moves the cursor or
 * changes the title. CSI (ESC [ parameters final), the string sequences
 * (OSC ESC ], DCS ESC P, SOS, PM, APC: up to BEL or ST), and the short ones
 * (ESC, intermediates, final). As in a terminal, another ESC ends a string
 * sequence (and starts its own); a newline ends it too here, so the lines
 * after an unterminated one (the hint) stay visible.
 */
static size_t escape_end(const unsigned char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j >= len)
		return j;
	if (s[j] == '[') {
		for (j++; j < len && s[j] >= 0x20 && s[j] <= 0x3f; j++)
			;
		return j < len && s[j] >= 0x40 && s[j] <= 0x7e ? j + 1 : j;
	}
	if (s[j] && strchr("]PX^_", s[j])) {
		for (j++; j < len && s[j] != '\n'; j++) {
			if (s[j] == 0x07)
				return j + 1;
			if (s[j] == 0x1b)
				return j + 1 < len && s[j + 1] == '\\' ? j + 2 : j;
			if (s[j] == 0xc2 && j + 1 < len && s[j + 1] == 0x9c)  /* ST as UTF-8 */
				return j + 2;
		}
		return j;
	}
	for (; j < len && s[j] >= 0x20 && s[j] <= 0x2f; j++)
		;
	return j < len && s[j] >= 0x30 && s[j] <= 0x7e ? j + 1 : j;
}

enum {
	CLEAN_ONE_LINE = 1,  /* a newline becomes a space (titles, ids, console lines) */
	CLEAN_MORE = 2,      /* the text goes on past len: mark it cut */
};

/*
 * The one place where text that learner code may have influenced is made
 * fit to print and to put in the reports: valid UTF-8 (an invalid byte or
 * sequence becomes U+FFFD), no control characters but the newline (a tab
 * becomes a space, escape sequences go whole, other C0, DEL and C1 go), and
 * at most cap bytes, cut at a character boundary with a visible mark.
 * U+FFFE and U+FFFF become U+FFFD too: XML 1.0 does not allow them.
 * Returns a new string.
 */
static char *clean(const char *text, size_t len, size_t cap, int flags)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)text;
	struct buf b = { 0 };
	size_t i = 0;

	buf_put(&b, "", 0);
	while (i < len && b.n <= cap) {
		unsigned c = s[i];
		long cp;
		size_t n;

		if (c == 0x1b) {
			i = escape_end(s, len, i);
		} else if (c == '\n' || c == '\t') {
			buf_put(&b, c == '\n' && !(flags & CLEAN_ONE_LINE) ? "\n" : " ", 1);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			i++;
		} else {
			n = utf8_next(s + i, len - i, &cp);
			if (cp < 0 || cp == 0xfffe || cp == 0xffff)
				buf_put(&b, replacement, 3);
			else if (cp < 0x80 || cp > 0x9f)
				buf_put(&b, s + i, n);
			i += n;
		}
	}
	if (b.n > cap || (flags & CLEAN_MORE)) {
		size_t keep = cap - (sizeof(CUT_MARK) - 1);

		if (b.n < keep)
			keep = b.n;
		while (keep > 0 && ((unsigned char)b.p[keep] & 0xc0) == 0x80)
			keep--;  /* the start of the character, not its middle */
		b.n = keep;
		buf_put(&b, CUT_MARK, sizeof(CUT_MARK) - 1);
	}
	return b.p;
}

static char *clean_str(const char *s, size_t cap, int flags)
{
	return clean(s, strlen(s), cap, flags);
}

/* ---------------------------------------------------------------------
 * Reading files that may be damaged
 */

struct text {
	char *data;
	size_t len;
	int truncated;  /* there was more than FILE_CAP */
};

/*
 * Read at most FILE_CAP bytes of a regular file (a FIFO or a device would
 * block or never end). Returns NULL, or why the file cannot be read.
 */
static const char *slurp(const char *path, struct text *t)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	size_t cap = 0;
	struct stat st;
	char extra;

	memset(t, 0, sizeof(*t));
	if (fd < 0)
		return strerror(errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	for (;;) {
		ssize_t got;

		if (t->len == FILE_CAP) {
			t->truncated = read(fd, &extra, 1) > 0;
			break;
		}
		if (t->len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > FILE_CAP)
				cap = FILE_CAP;
			t->data = xrealloc(t->data, cap + 1);
		}
		got = read(fd, t->data + t->len, cap - t->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			const char *why = strerror(errno);

			close(fd);
			free(t->data);
			return why;
		}
		if (got == 0)
			break;
		t->len += (size_t)got;
	}
	close(fd);
	if (!t->data)
		t->data = xrealloc(NULL, 1);
	t->data[t->len] = '\0';
	return NULL;
}

struct line {
	char *s;       /* a copy, NUL-terminated, at most LINE_CAP bytes */
	size_t len;
	int damaged;   /* a NUL byte, longer than LINE_CAP, or no newline at its end */
};

/* The next line of t from *pos into l (free l->s after); 0 at the end. */
static int next_line(const struct text *t, size_t *pos, struct line *l)
{
	const char *start = t->data + *pos, *nl;
	size_t n;

	if (*pos >= t->len)
		return 0;
	nl = memchr(start, '\n', t->len - *pos);
	n = nl ? (size_t)(nl - start) : t->len - *pos;
	*pos += n + (nl ? 1 : 0);
	/* A line without its newline is one the writer did not finish. */
	l->damaged = !nl || n > LINE_CAP || memchr(start, '\0', n);
	l->len = n > LINE_CAP ? LINE_CAP : n;
	l->s = memcpy(xrealloc(NULL, l->len + 1), start, l->len);
	l->s[l->len] = '\0';
	return 1;
}

/*
 * Split line at tabs into fields; returns their count, or n + 1 if there
 * are more than n (the line is not one of ours).
 */
static int split(char *line, char **fields, int n)
{
	int k = 0;

	fields[k++] = line;
	for (char *p = line; *p; p++) {
		if (*p != '\t')
			continue;
		if (k == n)
			return n + 1;
		*p = '\0';
		fields[k++] = p + 1;
	}
	return k;
}

static int is_header(const char *line)
{
	return !strncmp(line, "#chapter\t", 9);
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

/* OUTPUT as read from a line: unescaped, then cleaned. */
static char *read_output(const char *field)
{
	char *raw = unescape(field), *out = clean_str(raw, TEXT_CAP, 0);

	free(raw);
	return out;
}

/*
 * A number as the grader writes it (%d of a count): digits only, no sign, no
 * leading zero, no more than POINTS_CAP. 1 if s is one.
 */
static int parse_points(const char *s, int *v)
{
	long n = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		n = n * 10 + (*s - '0');
		if (n > POINTS_CAP)
			return 0;
	}
	*v = (int)n;
	return 1;
}

static int parse_bytes(const char *s, unsigned long long *v)
{
	unsigned long long n = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (ULLONG_MAX - 9) / 10)
			return 0;
		n = n * 10 + (unsigned)(*s - '0');
	}
	*v = n;
	return 1;
}

/* ---------------------------------------------------------------------
 * Writing files whole
 */

/*
 * A new temporary file beside path, for a report that appears whole (by
 * rename) or not at all. O_EXCL and O_NOFOLLOW: a file or symlink planted
 * at that name is never written through. NULL (errno set) if it cannot be.
 */
static FILE *create_temp(const char *path, char **tmp)
{
	FILE *fp;
	int fd;

	if (asprintf(tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		*tmp = NULL;
		return NULL;
	}
	unlink(*tmp);  /* left by a dead process that had our pid */
	fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || !(fp = fdopen(fd, "w"))) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
			unlink(*tmp);
		}
		free(*tmp);
		errno = e;
		return NULL;
	}
	return fp;
}

/* Close the temporary file and rename it to path: 0, or -1 (errno set). */
static int commit_temp(FILE *fp, char *tmp, const char *path)
{
	int bad = ferror(fp), e = EIO;

	if (fclose(fp) != 0)
		bad = 1, e = errno;
	if (!bad && rename(tmp, path) == 0) {
		free(tmp);
		return 0;
	}
	if (!bad)
		e = errno;
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}

/* ---------------------------------------------------------------------
 * check
 */

struct test {
	char *nn, *number, *title, *max_text;  /* as LIST has them */
	int max;
	int seen, malformed;  /* result lines with this number; the first was bad */
	char status[8];
	char *output, *kind;  /* of the first result line, cleaned */
};

static struct test *tests;
static size_t ntests;
static char *list_nn, *list_title;

static struct test *test_of(const char *number)
{
	for (size_t i = 0; i < ntests; i++)
		if (!strcmp(tests[i].number, number))
			return &tests[i];
	return NULL;
}

/* LIST is the grader's own: anything odd in it is the grader's bug, so loud. */
static int load_list(const char *path)
{
	struct text t;
	struct line l;
	size_t pos = 0;
	const char *why = slurp(path, &t);
	int ok = 1;

	if (why) {
		fprintf(stderr, "report: cannot read the list of tests %s: %s\n", path, why);
		return -1;
	}
	while (ok && next_line(&t, &pos, &l)) {
		char *f[8];
		int nf = split(l.s, f, 8);
		struct test *x;

		if (l.damaged) {
			ok = 0;
		} else if (l.len == 0) {
			;
		} else if (!strcmp(f[0], "#chapter")) {
			ok = nf == 3 && !list_nn;
			if (ok) {
				list_nn = xstrdup(f[1]);
				list_title = xstrdup(f[2]);
			}
		} else if (nf == 7 || nf == 8) {
			tests = xrealloc(tests, (ntests + 1) * sizeof(*tests));
			x = memset(&tests[ntests], 0, sizeof(*x));
			ok = list_nn && !test_of(f[1]) && parse_points(f[4], &x->max);
			x->nn = xstrdup(f[0]);
			x->number = xstrdup(f[1]);
			x->title = xstrdup(f[2]);
			x->max_text = xstrdup(f[4]);
			ntests++;
		} else {
			ok = 0;
		}
		free(l.s);
	}
	free(t.data);
	if (!ok || !list_nn) {
		fprintf(stderr, "report: %s is not a list of tests (a header, then one "
			"line per test, each number once)\n", path);
		return -1;
	}
	return 0;
}

static int valid_status(const char *s)
{
	return !strcmp(s, "pass") || !strcmp(s, "fail") || !strcmp(s, "skip");
}

/*
 * One result line for test x, fields f: 1 if it is one the runner could
 * have written. Everything but the score, status, output and skip kind must
 * be LIST's, exactly; the score is all or nothing, and only a pass has it.
 */
static int result_fits(const struct test *x, char **f, int nf, int damaged)
{
	int score;

	if (damaged || (nf != 7 && nf != 8))
		return 0;
	if (strcmp(f[0], x->nn) || strcmp(f[2], x->title) || strcmp(f[4], x->max_text))
		return 0;
	if (!valid_status(f[5]) || !parse_points(f[3], &score))
		return 0;
	if (!strcmp(f[5], "pass"))
		return score == x->max && (nf == 7 || !*f[7]);
	if (score != 0)
		return 0;
	return !strcmp(f[5], "skip") || nf == 7 || !*f[7];
}

/* Read RESULTS into tests[]: returns how many lines named no test of LIST. */
static size_t load_results(const char *path)
{
	struct text t;
	struct line l;
	size_t pos = 0, unknown = 0;
	const char *why = path ? slurp(path, &t) : "not given";

	if (why) {
		/* Every test then has no result, which says it. */
		if (path)
			fprintf(stderr, "report: no results in %s: %s\n", path, why);
		return 0;
	}
	if (t.truncated)
		fprintf(stderr, "report: %s is larger than %u MiB: the rest is ignored\n", path,
			FILE_CAP >> 20);
	while (next_line(&t, &pos, &l)) {
		char *f[8];
		int nf;
		struct test *x;

		if (l.len == 0 || is_header(l.s)) {
			free(l.s);
			continue;  /* LIST's header is the one written */
		}
		nf = split(l.s, f, 8);
		x = nf >= 2 ? test_of(f[1]) : NULL;
		if (!x) {
			unknown++;
		} else if (x->seen++ == 0) {
			x->malformed = !result_fits(x, f, nf, l.damaged);
			if (!x->malformed) {
				snprintf(x->status, sizeof(x->status), "%s", f[5]);
				x->output = read_output(f[6]);
				x->kind = clean_str(nf == 8 ? f[7] : "", ID_CAP, CLEAN_ONE_LINE);
			}
		}
		free(l.s);
	}
	free(t.data);
	return unknown;
}

/* FACTS, as `probe facts` wrote it: key=value lines. */
static struct text facts;

static const char *fact(const char *key)
{
	size_t klen = strlen(key), pos = 0;
	const char *found = NULL;
	struct line l;
	static char *value;

	while (!found && next_line(&facts, &pos, &l)) {
		if (!strncmp(l.s, key, klen) && l.s[klen] == '=') {
			free(value);
			value = xstrdup(l.s + klen + 1);
			found = value;
		}
		free(l.s);
	}
	return found;
}

/*
 * The skip kinds that name a yes/no fact of the probe. A kind not here is
 * never confirmed: add a new kind here and to `probe facts` together.
 */
static const char *const yes_no_kinds[] = {
	"io_uring", "aio", "odirect", "ptrace", "strace", "nop_inject", "landlock",
};

static int yes_no_kind(const char *kind)
{
	for (size_t i = 0; i < sizeof(yes_no_kinds) / sizeof(yes_no_kinds[0]); i++)
		if (!strcmp(kind, yes_no_kinds[i]))
			return 1;
	return 0;
}

/*
 * Whether the probe, run without learner code, found missing what the
 * skip says is missing. If not, *found says what it found instead (a
 * phrase that follows "run without your code, "); free it.
 */
static int skip_confirmed(const char *kind, char **found)
{
	unsigned long long need, have;
	const char *v;

	*found = NULL;
	if (!strncmp(kind, "memlock:", 8) && parse_bytes(kind + 8, &need)) {
		v = fact("memlock");
		if (v && parse_bytes(v, &have) && have < need)
			return 1;
		if (v && (!strcmp(v, "unlimited") || parse_bytes(v, &have))) {
			if (asprintf(found, "found enough locked memory available (RLIMIT_MEMLOCK: "
				     "%s%s; the test needs %llu bytes)", v,
				     strcmp(v, "unlimited") ? " bytes" : "", need) < 0)
				*found = NULL;
			return 0;
		}
	} else if (yes_no_kind(kind)) {
		v = fact(kind);
		if (v && !strcmp(v, "no"))
			return 1;
		if (v && !strcmp(v, "yes")) {
			if (asprintf(found, "found %s available", kind) < 0)
				*found = NULL;
			return 0;
		}
	}
	/* An unknown kind, or a fact the probe did not give: nothing is confirmed. */
	if (asprintf(found, "could not confirm that this machine lacks %s",
		     *kind ? kind : "what the test needs") < 0)
		*found = NULL;
	return 0;
}

/* The verdict on test x, from what load_results found. */
static void judge(struct test *x, const char *why_missing)
{
	char *found, *msg, *said;

	if (x->seen == 0 || x->seen > 1 || x->malformed) {
		free(x->output);
		free(x->kind);
		snprintf(x->status, sizeof(x->status), "fail");
		x->output = clean_str(x->seen == 0 ? why_missing :
				      x->seen > 1 ? MSG_DUPLICATE : MSG_MALFORMED, TEXT_CAP, 0);
		x->kind = xstrdup("");
		return;
	}
	if (strcmp(x->status, "skip") || skip_confirmed(x->kind, &found))
		return;
	/* Short enough that the explanation after it is never cut away. */
	said = clean_str(x->output, 1000, CLEAN_ONE_LINE);
	if (asprintf(&msg, "this test skipped (%s), but the course's own check of this "
		     "machine, run without your code, %s. A test may skip only when the "
		     "machine really lacks a feature: look for code that changes limits, "
		     "signals or the process's environment.", said,
		     found ? found : "did not confirm it") < 0)
		msg = NULL;
	free(x->output);
	free(x->kind);
	x->output = clean_str(msg ? msg : MSG_MALFORMED, TEXT_CAP, 0);
	x->kind = xstrdup("");
	snprintf(x->status, sizeof(x->status), "fail");
	free(said);
	free(found);
	free(msg);
}

static void write_test(FILE *fp, const struct test *x)
{
	char *nn = clean_str(x->nn, ID_CAP, CLEAN_ONE_LINE);
	char *number = clean_str(x->number, ID_CAP, CLEAN_ONE_LINE);
	char *title = clean_str(x->title, TEXT_CAP, CLEAN_ONE_LINE);
	int pass = !strcmp(x->status, "pass");

	fprintf(fp, "%s\t%s\t%s\t%d\t%d\t%s\t", nn, number, title, pass ? x->max : 0, x->max,
		x->status);
	tsv_put_escaped(fp, x->output);
	fputc('\t', fp);
	tsv_put_escaped(fp, !strcmp(x->status, "skip") ? x->kind : "");
	fputc('\n', fp);
	free(nn);
	free(number);
	free(title);
}

static int cmd_check(const char *list, const char *facts_path, const char *out,
		     const char *why_missing, const char *results_path)
{
	char *tmp, *nn, *title;
	size_t unknown;
	FILE *fp;

	if (load_list(list) < 0)
		return 2;
	if (slurp(facts_path, &facts)) {
		/* No facts confirm no skip. */
		facts.data = xstrdup("");
		facts.len = 0;
	}
	unknown = load_results(results_path);
	if (unknown)
		fprintf(stderr, "report: %zu result line(s) in %s named no test of the chapter "
			"and were ignored\n", unknown, results_path);
	for (size_t i = 0; i < ntests; i++)
		judge(&tests[i], why_missing ? why_missing : MSG_MISSING);
	fp = create_temp(out, &tmp);
	if (!fp) {
		fprintf(stderr, "report: cannot write %s: %s\n", out, strerror(errno));
		return 2;
	}
	nn = clean_str(list_nn, ID_CAP, CLEAN_ONE_LINE);
	title = clean_str(list_title, TEXT_CAP, CLEAN_ONE_LINE);
	fprintf(fp, "#chapter\t%s\t%s\n", nn, title);
	for (size_t i = 0; i < ntests; i++)
		write_test(fp, &tests[i]);
	free(nn);
	free(title);
	if (commit_temp(fp, tmp, out) < 0) {
		fprintf(stderr, "report: cannot write %s: %s\n", out, strerror(errno));
		return 2;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * lines and summary
 */

static struct chapter *chapter_of(const char *nn)
{
	struct chapter *c;

	for (size_t i = 0; i < nchapters; i++)
		if (!strcmp(chapters[i].nn, nn))
			return &chapters[i];
	chapters = xrealloc(chapters, (nchapters + 1) * sizeof(*chapters));
	c = memset(&chapters[nchapters++], 0, sizeof(*c));
	c->nn = xstrdup(nn);
	c->title = xstrdup("");
	return c;
}

static void load(const char *path)
{
	struct text t;
	struct line l;
	size_t pos = 0;
	const char *why = slurp(path, &t);

	if (why) {
		fprintf(stderr, "report: cannot read %s: %s\n", path, why);
		exit(2);
	}
	while (next_line(&t, &pos, &l)) {
		char *f[8];
		int nf = split(l.s, f, 8);
		struct result *r;
		struct chapter *c;
		char *nn;

		if (!strcmp(f[0], "#chapter")) {
			if (nf == 3) {
				nn = clean_str(f[1], ID_CAP, CLEAN_ONE_LINE);
				c = chapter_of(nn);
				free(c->title);
				c->title = clean_str(f[2], TEXT_CAP, CLEAN_ONE_LINE);
				free(nn);
			}
			free(l.s);
			continue;
		}
		if (nf != 7 && nf != 8) {
			free(l.s);
			continue;
		}
		results = xrealloc(results, (nresults + 1) * sizeof(*results));
		r = &results[nresults++];
		r->chapter = clean_str(f[0], ID_CAP, CLEAN_ONE_LINE);
		r->number = clean_str(f[1], ID_CAP, CLEAN_ONE_LINE);
		r->name = clean_str(f[2], TEXT_CAP, CLEAN_ONE_LINE);
		if (!parse_points(f[3], &r->score))
			r->score = 0;
		if (!parse_points(f[4], &r->max))
			r->max = 0;
		snprintf(r->status, sizeof(r->status), "%s", valid_status(f[5]) ? f[5] : "fail");
		r->output = read_output(f[6]);
		r->kind = clean_str(nf == 8 ? f[7] : "", ID_CAP, CLEAN_ONE_LINE);
		free(l.s);
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
	free(t.data);
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

/* What the runner says of the tests it left out under T=NN.MM (grade.c). */
#define ONE_TEST_ALONE "not run: this grading ran one test alone"

/*
 * r was left out of a grading of one test alone: not the test --only names
 * (grade.sh's word, which learner code cannot change), or, without --only,
 * a result that says so itself.
 */
static int left_out(const struct result *r, const char *only)
{
	if (only)
		return strcmp(r->number, only) != 0;
	return !strncmp(r->output, ONE_TEST_ALONE, strlen(ONE_TEST_ALONE));
}

static int cmd_lines(const char *only)
{
	size_t not_run = 0;

	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		if (left_out(r, only)) {
			not_run++;
			continue;
		}
		if (!strcmp(r->status, "skip"))
			printf("  SKIP   -/%-2d %s  %s\n", r->max, r->number, r->name);
		else
			printf("  %s  %2d/%-2d %s  %s\n", !strcmp(r->status, "pass") ? "PASS" : "FAIL",
			       r->score, r->max, r->number, r->name);
		if (strcmp(r->status, "pass") && r->output[0])
			print_indented(r->output);
	}
	if (not_run)
		printf("  (%zu other test%s not run: T= asked for one test. Without T= every test "
		       "runs.)\n", not_run, not_run == 1 ? "" : "s");
	return 0;
}

/*
 * s in a column of width characters, cut or padded: printf's %-31.31s counts
 * bytes, and would cut a character of clean UTF-8 in two.
 */
static void print_column(const char *s, int width)
{
	int used = 0;

	for (; *s && used < width; used++) {
		int n = 1;

		while (((unsigned char)s[n] & 0xc0) == 0x80)
			n++;
		fwrite(s, 1, (size_t)n, stdout);
		s += n;
	}
	printf("%*s", width - used, "");
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
		else if (c < 0x20 || c == 0x7f)
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

static int write_json(const char *path, long score, long max)
{
	char *tmp;
	FILE *fp = create_temp(path, &tmp);

	if (!fp)
		return -1;
	fprintf(fp, "{\n  \"score\": %ld,\n  \"max_score\": %ld,\n  \"output\": ", score, max);
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "%ld of %ld points", score, max);
		json_string(fp, buf);
	}
	fprintf(fp, ",\n  \"tests\": [");
	for (size_t i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		int skipped = !strcmp(r->status, "skip");
		char *name = NULL;

		if (asprintf(&name, "%s%s", skipped ? "[skipped] " : "", r->name) < 0) {
			fclose(fp);
			unlink(tmp);
			free(tmp);
			errno = ENOMEM;
			return -1;
		}
		fprintf(fp, "%s\n    {\"number\": ", i ? "," : "");
		json_string(fp, r->number);
		fprintf(fp, ", \"name\": ");
		json_string(fp, name);
		free(name);
		/* A skip is not graded: 0 of 0, and not the learner's failure. */
		fprintf(fp, ", \"score\": %d, \"max_score\": %d, \"status\": \"%s\"",
			skipped ? 0 : r->score, skipped ? 0 : r->max,
			skipped || !strcmp(r->status, "pass") ? "passed" : "failed");
		fprintf(fp, ", \"output\": ");
		json_string(fp, r->output);
		if (skipped)
			fprintf(fp, ", \"tags\": [\"skipped\"]");
		fprintf(fp, "}");
	}
	fprintf(fp, "\n  ]\n}\n");
	return commit_temp(fp, tmp, path);
}

static int write_junit(const char *path)
{
	int tests = 0, failures = 0, skipped = 0;
	char *tmp;
	FILE *fp = create_temp(path, &tmp);

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
			fprintf(fp, "    <testcase classname=\"chapter");
			xml_text(fp, c->nn);
			fprintf(fp, "\" name=\"");
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
	return commit_temp(fp, tmp, path);
}

/*
 * make check T=NN.MM: the verdict of the one test run, and how many of its
 * chapter's tests ran, instead of a score that counts the others as failed.
 * Returns the exit status: 0 only when the test ran and passed.
 */
static int summary_of_one(const char *only)
{
	const struct result *r = NULL;
	size_t in_chapter = 0;

	for (size_t i = 0; i < nresults; i++)
		if (!strcmp(results[i].number, only))
			r = &results[i];
	if (!r) {
		printf("\n  %s was not graded: no result for it.\n", only);
		return 1;
	}
	for (size_t i = 0; i < nresults; i++)
		if (!strcmp(results[i].chapter, r->chapter))
			in_chapter++;
	printf("\n  %s %s (1 of %zu tests run; make check CH=%s runs them all)\n", r->number,
	       !strcmp(r->status, "pass") ? "PASS" : !strcmp(r->status, "skip") ? "SKIP" : "FAIL",
	       in_chapter, r->chapter);
	if (!strcmp(r->status, "skip"))
		printf("  it was skipped: this machine lacks what it needs (see the reason above, and "
		       "make doctor)\n");
	return !strcmp(r->status, "pass") ? 0 : 1;
}

static int cmd_summary(const char *json, const char *junit, const char *only)
{
	long score = 0, max = 0;
	int skipped = 0, failed = 0, one = 0;

	for (size_t i = 0; i < nchapters; i++) {
		score += chapters[i].score;
		max += chapters[i].max;
		skipped += chapters[i].skipped;
	}
	if (only) {
		/* The table would count the tests not run as failed (2/67 for a
		 * test that passed): one line instead. The reports below still
		 * count them, as always. */
		one = summary_of_one(only);
	} else {
		printf("\n  chapter                              score\n");
		printf("  ---------------------------------------------\n");
		for (size_t i = 0; i < nchapters; i++) {
			const struct chapter *c = &chapters[i];

			printf("  ");
			print_column(c->nn, 2);
			printf(" ");
			print_column(c->title, 31);
			printf(" %3ld/%-3ld", c->score, c->max);
			if (c->skipped)
				printf("  (%d skipped)", c->skipped);
			printf("\n");
		}
		printf("  ---------------------------------------------\n");
		printf("  %-34s %3ld/%-3ld", "total", score, max);
		if (max)
			printf("  %ld%%", score * 100 / max);
		printf("\n");
	}
	fflush(stdout);
	if (json && write_json(json, score, max) < 0) {
		fprintf(stderr, "report: cannot write %s: %s\n", json, strerror(errno));
		failed = 1;
	}
	if (junit && write_junit(junit) < 0) {
		fprintf(stderr, "report: cannot write %s: %s\n", junit, strerror(errno));
		failed = 1;
	}
	if ((json || junit) && !failed)
		printf("  reports: %s%s%s%s\n", json ? json : "", json && junit ? "  " : "",
		       junit ? junit : "", only ? " (the tests not run count as failed there)" : "");
	if (skipped && !only)
		printf("  %d test(s) skipped: this machine lacks what they need (see the "
		       "reasons above, and make doctor). Skips earn no points and cost none.\n",
		       skipped);
	if (failed)
		return 2;  /* a report that was not written must not look like a grade */
	if (only)
		return one;
	if (max == 0) {
		printf("  nothing was graded.\n");
		return 1;
	}
	return score == max ? 0 : 1;
}

/* ---------------------------------------------------------------------
 * sanitize
 */

#define SANITIZE_RAW_CAP (4 * TEXT_CAP)  /* bytes of a line kept to clean; the rest is cut */

struct filter {
	const char *prefix;
	const char *from, *to;  /* --path-from, --path-to: from is never empty */
	unsigned long long max, shown, hidden;
	int stopped, broken;  /* the budget is spent; stdout is gone */
	char line[SANITIZE_RAW_CAP];
	size_t len;
	int cut;
};

/*
 * line with every occurrence of from replaced by to (a new string, len in
 * *out_len). The bytes around are the learner's, copied as they are: the
 * caller cleans the result.
 */
static char *replace_all(const char *line, size_t len, const char *from, const char *to,
			 size_t *out_len)
{
	size_t from_len = strlen(from), to_len = strlen(to), i = 0;
	struct buf b = { 0 };

	buf_put(&b, "", 0);
	while (i < len) {
		const char *hit = memmem(line + i, len - i, from, from_len);
		size_t upto = hit ? (size_t)(hit - line) : len;

		buf_put(&b, line + i, upto - i);
		if (!hit)
			break;
		buf_put(&b, to, to_len);
		i = upto + from_len;
	}
	*out_len = b.n;
	return b.p;
}

/* A whole line read (or the last, without newline): print it or count it. */
static void filter_line(struct filter *f, size_t raw_len)
{
	char *text;
	size_t need;

	if (f->stopped) {
		f->hidden += raw_len;
		return;
	}
	if (f->from) {
		size_t n;
		char *mapped = replace_all(f->line, f->len, f->from, f->to, &n);

		text = clean(mapped, n, TEXT_CAP, CLEAN_ONE_LINE | (f->cut ? CLEAN_MORE : 0));
		free(mapped);
	} else {
		text = clean(f->line, f->len, TEXT_CAP, CLEAN_ONE_LINE | (f->cut ? CLEAN_MORE : 0));
	}
	need = strlen(f->prefix) + strlen(text) + 1;
	if (f->shown + need > f->max) {
		f->stopped = 1;
		f->hidden += raw_len;
	} else if (!f->broken) {
		f->shown += need;
		if (printf("%s%s\n", f->prefix, text) < 0 || fflush(stdout) == EOF)
			f->broken = 1;  /* nobody reads: go on draining stdin */
	}
	free(text);
}

static int cmd_sanitize(const char *prefix, unsigned long long max, const char *from,
			const char *to)
{
	static struct filter f;
	char in[65536];
	size_t raw = 0;  /* bytes of the current line, including those not kept */
	ssize_t got;

	/* A reader that went away must not stop us reading: the writer would block. */
	signal(SIGPIPE, SIG_IGN);
	f.prefix = prefix;
	f.max = max;
	if (from && *from) {
		f.from = from;
		f.to = to ? to : "";
	}
	while ((got = read(STDIN_FILENO, in, sizeof(in))) != 0) {
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		for (ssize_t i = 0; i < got; i++) {
			raw++;
			if (in[i] == '\n') {
				filter_line(&f, raw);
				f.len = 0, f.cut = 0, raw = 0;
			} else if (f.len < sizeof(f.line)) {
				f.line[f.len++] = in[i];
			} else {
				f.cut = 1;
			}
		}
	}
	if (raw)
		filter_line(&f, raw);
	if (f.hidden && !f.broken) {
		printf("%s[grader: %llu more bytes of output from your code not shown]\n", prefix,
		       f.hidden);
		fflush(stdout);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * main
 */

static int usage(void)
{
	fprintf(stderr,
		"usage: report check --list LIST --facts FACTS --out OUT [--why-missing TEXT] [RESULTS]\n"
		"       report lines [--only NN.MM] FILE...\n"
		"       report summary [--only NN.MM] [--json OUT] [--junit OUT] FILE...\n"
		"       report sanitize [--max BYTES] [--prefix TEXT] [--path-from DIR --path-to DIR]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const char *const options[] = {
		"--json", "--junit", "--list", "--facts", "--out", "--why-missing", "--max", "--prefix",
		"--path-from", "--path-to", "--only",
	};
	enum { JSON, JUNIT, LIST, FACTS, OUT, WHY, MAX, PREFIX, FROM, TO, ONLY, NOPTIONS };
	const char *opt[NOPTIONS] = { 0 };
	char **files = xrealloc(NULL, (size_t)argc * sizeof(*files));
	int nfiles = 0;
	unsigned long long max = 65536;

	if (argc < 2)
		return usage();
	for (int i = 2; i < argc; i++) {
		int k = 0;

		while (k < NOPTIONS && strcmp(argv[i], options[k]))
			k++;
		if (k < NOPTIONS && i + 1 < argc)
			opt[k] = argv[++i];
		else if (k < NOPTIONS || !strncmp(argv[i], "--", 2))
			return usage();
		else
			files[nfiles++] = argv[i];
	}
	if (!strcmp(argv[1], "check")) {
		if (!opt[LIST] || !opt[FACTS] || !opt[OUT] || nfiles > 1)
			return usage();
		return cmd_check(opt[LIST], opt[FACTS], opt[OUT], opt[WHY],
				 nfiles ? files[0] : NULL);
	}
	if (!strcmp(argv[1], "sanitize")) {
		if (nfiles || (opt[MAX] && !parse_bytes(opt[MAX], &max)) || !opt[FROM] != !opt[TO])
			return usage();
		return cmd_sanitize(opt[PREFIX] ? opt[PREFIX] : "", max, opt[FROM], opt[TO]);
	}
	if (strcmp(argv[1], "lines") && strcmp(argv[1], "summary")) {
		fprintf(stderr, "report: unknown command %s\n", argv[1]);
		return usage();
	}
	if (nfiles == 0 && strcmp(argv[1], "summary"))
		return usage();  /* a summary of nothing says "nothing was graded" */
	for (int i = 0; i < nfiles; i++)
		load(files[i]);
	if (!strcmp(argv[1], "lines"))
		return cmd_lines(opt[ONLY]);
	return cmd_summary(opt[JSON], opt[JUNIT], opt[ONLY]);
}
