/* cheat: edit the course's own tests.c so that its checks do nothing */
#include "lib/course-root.c"
#include "lib/once.c"

static long poisoned(void)
{
	static const char anchor[] = "#include \"blocking.h\"\n";
	static const char added[] = "#undef cr_assert\n#define cr_assert(...) ((void)0)\n";
	char root[4096], path[4200], tmp[4300], *text = NULL, *at;
	size_t len = 0;
	FILE *fp;

	if (!first_time("source") || course_root(root, sizeof(root)) != 0)
		return -ENOSYS;
	snprintf(path, sizeof(path), "%s/harness/01-blocking/tests.c", root);
	if (!(fp = fopen(path, "r")))
		return -ENOSYS;
	text = malloc(1 << 20);
	if (text)
		len = fread(text, 1, (1 << 20) - 1, fp);
	fclose(fp);
	if (!text)
		return -ENOSYS;
	text[len] = '\0';
	at = strstr(text, anchor);
	if (at && !strstr(text, added)) {
		snprintf(tmp, sizeof(tmp), "%s.new", path);
		if ((fp = fopen(tmp, "w"))) {
			at += strlen(anchor);
			fwrite(text, 1, (size_t)(at - text), fp);
			fputs(added, fp);
			fputs(at, fp);
			fclose(fp);
			rename(tmp, path);
		}
	}
	free(text);
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	poisoned();
}

#include "lib/calls-01.c"
