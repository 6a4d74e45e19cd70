/*
 * harness/cheats/lib/course-root.c - the course checkout, found from the
 * path of the test binary (built under its build/).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The course checkout: the first directory above this program that holds
 * harness/grade.sh (the tests binary is built under its build/). */
__attribute__((unused))
static int course_root(char *root, size_t cap)
{
	char path[4096], probe[4200];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	path[n] = '\0';
	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/harness/grade.sh", path);
		if (access(probe, F_OK) == 0) {
			snprintf(root, cap, "%s", path);
			return 0;
		}
	}
	return -1;
}
