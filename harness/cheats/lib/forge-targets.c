/*
 * harness/cheats/lib/forge-targets.c - every file of the grader a cheat would
 * like to forge, in every place lib/walk.c looks for it, each handed to put
 * (a path_fn taking a struct blob: put_blob, uring_put_file, aio_put_file).
 * Include lib/put.c, lib/walk.c and lib/forged.c above it.
 */

/* The verdicts: the chapter's TSV (report's input and output), its list of
 * tests, results.json, junit.xml, and the probe's facts (the judge of skips). */
__attribute__((unused))
static void forge_reports_everywhere(path_fn put, const char *nn, const char *title)
{
	static char tsv[4096], json[1024], junit[1024];
	char rel[128], name[64];
	struct blob b;

	b = (struct blob){ tsv, forged_tsv(tsv, sizeof(tsv), nn, title) };
	snprintf(name, sizeof(name), "chapter-%s.tsv", nn);
	snprintf(rel, sizeof(rel), "build/reports/%s", name);
	walk_all(rel, name, put, &b);
	snprintf(rel, sizeof(rel), "reports/%s", name);
	walk_up(rel, put, &b);
	snprintf(name, sizeof(name), "raw-%s.tsv", nn);
	walk_tmpdir(name, put, &b);
	snprintf(name, sizeof(name), "list-%s.tsv", nn);
	walk_tmpdir(name, put, &b);

	b = (struct blob){ json, forged_json(json, sizeof(json), nn) };
	walk_all("build/reports/results.json", "results.json", put, &b);
	walk_up("reports/results.json", put, &b);
	b = (struct blob){ junit, forged_junit(junit, sizeof(junit)) };
	walk_all("build/reports/junit.xml", "junit.xml", put, &b);
	walk_up("reports/junit.xml", put, &b);

	b = (struct blob){ forged_facts, sizeof(forged_facts) - 1 };
	walk_tmpdir("facts", put, &b);
}

/* The grader's own tools and build products, which every later grading in
 * the checkout uses, and the chapter's tests, which it builds from. */
__attribute__((unused))
static void forge_build_everywhere(path_fn put, const char *nn, const char *title,
				   const char *chapter)
{
	static const char garbage[] = "forged by a test\n";
	static char tsv[4096], list[4600];
	static const char *objects[] = { "tests.o", "lib/grade.o", "lib/seams.o", "lib/faults.o" };
	char rel[256];
	struct blob b;

	b = (struct blob){ forged_report_tool, sizeof(forged_report_tool) - 1 };
	walk_up("build/tools/report", put, &b);
	b = (struct blob){ forged_probe_tool, sizeof(forged_probe_tool) - 1 };
	walk_up("build/tools/probe", put, &b);

	/* The learner-free list of tests and points, and the program that prints it. */
	b = (struct blob){ tsv, forged_tsv(tsv, sizeof(tsv), nn, title) };
	snprintf(rel, sizeof(rel), "build/harness/plain/%s/list.tsv", chapter);
	walk_up(rel, put, &b);
	snprintf(list, sizeof(list), "#!/bin/sh\ncat <<'EOF'\n%sEOF\n", tsv);
	b = (struct blob){ list, strlen(list) };
	snprintf(rel, sizeof(rel), "build/harness/plain/%s/list", chapter);
	walk_up(rel, put, &b);
	/* No link seams for the next student. */
	b = (struct blob){ "\n", 1 };
	snprintf(rel, sizeof(rel), "build/harness/plain/%s/wrap-flags", chapter);
	walk_up(rel, put, &b);
	b = (struct blob){ garbage, sizeof(garbage) - 1 };
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		snprintf(rel, sizeof(rel), "build/harness/plain/%s/%s", chapter, objects[i]);
		walk_up(rel, put, &b);
	}
	snprintf(rel, sizeof(rel), "harness/%s/tests.c", chapter);
	walk_up(rel, put, &b);
}

/* All of it: the verdicts and the build, then the forged lines to every
 * descriptor (last: garbage on Criterion's channel may end the runner, and
 * this test with it). */
__attribute__((unused))
static void forge_all(path_fn put, void (*put_fds_fn)(const char *, size_t), const char *nn,
		      const char *title, const char *chapter)
{
	static char tsv[4096];

	forge_reports_everywhere(put, nn, title);
	forge_build_everywhere(put, nn, title, chapter);
	put_fds_fn(tsv, forged_tsv(tsv, sizeof(tsv), nn, title));
}
