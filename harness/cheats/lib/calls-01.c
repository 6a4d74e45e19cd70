/*
 * harness/cheats/lib/calls-01.c - chapter 01's contract around the skeleton.
 * Each function first runs the cheat's trick, cheat_call(), then returns
 * what the skeleton's own function returns. The cheat defines cheat_call()
 * above the line that includes this, and renames the skeleton's functions
 * away in its cheat.conf:
 *   RENAME="read_full pread_full write_full copy_file blk_batch_read"
 */
ssize_t read_full(int fd, void *buf, size_t len)
{
	cheat_call();
	return skeleton_read_full(fd, buf, len);
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset)
{
	cheat_call();
	return skeleton_pread_full(fd, buf, len, offset);
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	cheat_call();
	return skeleton_write_full(fd, buf, len);
}

off_t copy_file(const char *src, const char *dst, size_t bufsize)
{
	cheat_call();
	return skeleton_copy_file(src, dst, bufsize);
}

int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	cheat_call();
	return skeleton_blk_batch_read(reqs, n, qd);
}
