/*
 * harness/cheats/lib/calls-05.c - chapter 05's contract around the skeleton:
 * cheat_call(), then the skeleton's own function. In cheat.conf:
 *   RENAME="uring_open uring_read_full uring_write_full uring_copy_file uring_probe_features uring_feature_report uring_serial_batch_read"
 */
int uring_open(struct io_uring *ring, unsigned entries)
{
	cheat_call();
	return skeleton_uring_open(ring, entries);
}

ssize_t uring_read_full(struct io_uring *ring, int fd, void *buf, size_t len, off_t offset)
{
	cheat_call();
	return skeleton_uring_read_full(ring, fd, buf, len, offset);
}

ssize_t uring_write_full(struct io_uring *ring, int fd, const void *buf, size_t len, off_t offset)
{
	cheat_call();
	return skeleton_uring_write_full(ring, fd, buf, len, offset);
}

off_t uring_copy_file(const char *src, const char *dst, size_t bufsize)
{
	cheat_call();
	return skeleton_uring_copy_file(src, dst, bufsize);
}

int uring_probe_features(struct uring_features *out)
{
	cheat_call();
	return skeleton_uring_probe_features(out);
}

int uring_feature_report(FILE *out)
{
	cheat_call();
	return skeleton_uring_feature_report(out);
}

int uring_serial_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	cheat_call();
	return skeleton_uring_serial_batch_read(reqs, n, qd);
}
