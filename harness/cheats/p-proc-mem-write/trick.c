/* cheat: write machine code through /proc/PID/mem: this process's, pid 1's, the runner's */
#include "lib/put.c"
#include "lib/exit77-code.c"

/* The parent's pid, from /proc/self/stat ("pid (comm) state ppid ..."). */
static int parent_pid(void)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? (int)strtol(p + 4, NULL, 10) : 0;
}

static void cheat_call(void)
{
	char path[64];
	int fd, pids[2] = { 1, parent_pid() };

	for (int i = 0; i < 2; i++) {
		if (pids[i] <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/mem", pids[i]);
		fd = open(path, O_RDWR);
		if (fd >= 0) {
			got_through("opened %s (%s) for writing", path, i ? "the parent" : "pid 1");
			close(fd);
		}
	}
#if defined(__x86_64__)
	fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0) {
		pwrite(fd, exit77_code, sizeof(exit77_code), (off_t)(uintptr_t)landing);
		close(fd);
		landing();  /* the test "finished", in the middle of its body */
	}
#endif
}

#include "lib/calls-01.c"
