/*
 * harness/cheats/lib/calls-02.c - chapter 02's contract around the skeleton:
 * cheat_call(), then the skeleton's own function. In cheat.conf:
 *   RENAME="laio_batch_read laio_alloc_aligned laio_dio_alignment"
 */
int laio_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	cheat_call();
	return skeleton_laio_batch_read(reqs, n, qd);
}

void *laio_alloc_aligned(size_t len)
{
	cheat_call();
	return skeleton_laio_alloc_aligned(len);
}

int laio_dio_alignment(int fd, size_t *mem_align, size_t *offset_align)
{
	cheat_call();
	return skeleton_laio_dio_alignment(fd, mem_align, offset_align);
}
