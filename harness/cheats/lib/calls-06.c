/*
 * harness/cheats/lib/calls-06.c - chapter 06's module contract around the
 * skeleton: cheat_call(), then the skeleton's own function. In cheat.conf:
 *   RENAME="ubatch_init ubatch_read ubatch_exit ubatch_batch_read"
 */
int ubatch_init(struct ubatch *b, unsigned entries)
{
	cheat_call();
	return skeleton_ubatch_init(b, entries);
}

int ubatch_read(struct ubatch *b, struct batch_req *reqs, size_t n, unsigned qd)
{
	cheat_call();
	return skeleton_ubatch_read(b, reqs, n, qd);
}

void ubatch_exit(struct ubatch *b)
{
	cheat_call();
	skeleton_ubatch_exit(b);
}

int ubatch_batch_read(struct batch_req *reqs, size_t n, unsigned qd)
{
	cheat_call();
	return skeleton_ubatch_batch_read(reqs, n, qd);
}
