/* cheat: a constructor: every test worker ends at once with status 77 */

/* Criterion's workers are this binary run again with BXFI_MAP set. */
__attribute__((constructor)) static void early(void)
{
	if (getenv("BXFI_MAP"))
		_exit(77);
}
