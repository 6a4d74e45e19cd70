/* cheat: threads that go on forging after the call returns, until the test process ends */
#include <pthread.h>
#include <time.h>
#include "lib/put.c"
#include "lib/walk.c"
#include "lib/forged.c"

static char tsv[4096];
static size_t tsv_len;

static void *forger(void *arg)
{
	struct timespec ms = { 0, 1000 * 1000 };
	char json[1024];
	struct blob b = { json, forged_json(json, sizeof(json), "01") };

	(void)arg;
	for (;;) {
		write_all(1, tsv, tsv_len);
		write_all(2, tsv, tsv_len);
		walk_all("build/reports/results.json", "results.json", put_blob, &b);
		nanosleep(&ms, NULL);
	}
	return NULL;
}

static void cheat_call(void)
{
	static int started;
	pthread_t t;

	if (started++)
		return;
	tsv_len = forged_tsv(tsv, sizeof(tsv), "01", "blocking I/O");
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t, NULL, forger, NULL) == 0)
			pthread_detach(t);
}

#include "lib/calls-01.c"
