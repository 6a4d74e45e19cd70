/*
 * harness/cheats/lib/watch.c - wait for the grader to write a file, then
 * forge it (include lib/forge-tsv.c above it).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>

/* Wait (at most `seconds`) for the runner to finish writing `path`, then forge it. */
__attribute__((unused))
static void forge_when_written(const char *path, int seconds)
{
	char dir[4096], buf[4096];
	const char *base = strrchr(path, '/');
	int in = inotify_init1(IN_CLOEXEC);
	struct pollfd p = { .fd = in, .events = POLLIN };

	if (!base || in < 0)
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	base++;
	if (inotify_add_watch(in, dir, IN_CLOSE_WRITE) < 0)
		return;
	for (int waited = 0; waited < seconds * 10;) {
		if (poll(&p, 1, 100) <= 0) {
			waited++;
			continue;
		}
		ssize_t n = read(in, buf, sizeof(buf));
		for (char *q = buf; n > 0 && q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;

			if (e->len && !strcmp(e->name, base)) {
				forge_tsv(path);
				return;
			}
			q += sizeof(*e) + e->len;
		}
	}
}
