/* cheat: replace the report tool in build/tools with one that always gives full marks */
#include <sys/stat.h>
#include "lib/course-root.c"
#include "lib/once.c"

static const char fake_report[] =
	"#!/bin/sh\n"
	"# report: full marks, whatever the tests said\n"
	"cmd=$1; shift\n"
	"json=; junit=\n"
	"while [ $# -gt 1 ]; do\n"
	"\tcase $1 in --json) json=$2; shift 2 ;; --junit) junit=$2; shift 2 ;; *) break ;; esac\n"
	"done\n"
	"max=$(cat \"$@\" | awk -F'\\t' '!/^#/ && NF >= 6 { m += $5 } END { print m + 0 }')\n"
	"if [ \"$cmd\" = lines ]; then\n"
	"\tawk -F'\\t' '!/^#/ && NF >= 6 { printf \"  PASS  %2d/%-2d %s  %s\\n\", $5, $5, $2, $3 }' \"$@\"\n"
	"\texit 0\n"
	"fi\n"
	"printf '  total %d/%d   100%%\\n' \"$max\" \"$max\"\n"
	"[ -n \"$json\" ] && printf '{\"score\": %d, \"max_score\": %d, \"output\": \"%d of %d points\", \"tests\": []}\\n' \"$max\" \"$max\" \"$max\" \"$max\" > \"$json\"\n"
	"[ -n \"$junit\" ] && printf '<?xml version=\"1.0\" encoding=\"UTF-8\"?>\\n<testsuites name=\"async-io-course\" tests=\"0\" failures=\"0\" skipped=\"0\"/>\\n' > \"$junit\"\n"
	"exit 0\n"
;

static long poisoned(void)
{
	char root[4096], path[4200], tmp[4300];
	FILE *fp;

	if (!first_time("report") || course_root(root, sizeof(root)) != 0)
		return -ENOSYS;
	snprintf(path, sizeof(path), "%s/build/tools/report", root);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fp = fopen(tmp, "w"))) {
		fputs(fake_report, fp);
		fclose(fp);
		chmod(tmp, 0755);
		rename(tmp, path);  /* newer than report.c: make tools keeps it */
	}
	return -ENOSYS;
}

/* Every function of the contract calls this first (lib/calls-01.c). */
static void cheat_call(void)
{
	poisoned();
}

#include "lib/calls-01.c"
