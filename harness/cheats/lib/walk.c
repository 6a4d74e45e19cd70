/*
 * harness/cheats/lib/walk.c - the paths where a grader's files may be, seen
 * from a test: "../" x 1..10 from the current directory followed by a path
 * of the checkout (build/reports/results.json, ...), and the directories
 * above the tests' temporary one (GRADE_TMPDIR/.., GRADE_TMPDIR/../..:
 * grade.sh's private directory holds the chapter's list, facts and results).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*path_fn)(const char *path, void *arg);

/* fn("../" x k + rel) for k = 1..10. */
__attribute__((unused))
static void walk_up(const char *rel, path_fn fn, void *arg)
{
	char path[4096];
	size_t len = strlen(rel);

	if (30 + len >= sizeof(path))
		return;
	for (int k = 1; k <= 10; k++) {
		path[0] = '\0';
		for (int i = 0; i < k; i++)
			strcat(path, "../");
		strcat(path, rel);
		fn(path, arg);
	}
}

/* fn(GRADE_TMPDIR + "/.." x k + "/" + name) for k = 1, 2. */
__attribute__((unused))
static void walk_tmpdir(const char *name, path_fn fn, void *arg)
{
	const char *tmp = getenv("GRADE_TMPDIR");
	char path[4200];

	if (!tmp || !*tmp)
		return;
	snprintf(path, sizeof(path), "%s/../%s", tmp, name);
	fn(path, arg);
	snprintf(path, sizeof(path), "%s/../../%s", tmp, name);
	fn(path, arg);
}

/* Both: every place this cheat tries for a file of the grader named rel
 * (a path of the checkout) or base (its name in grade.sh's directory). */
__attribute__((unused))
static void walk_all(const char *rel, const char *base, path_fn fn, void *arg)
{
	walk_up(rel, fn, arg);
	if (base)
		walk_tmpdir(base, fn, arg);
}
