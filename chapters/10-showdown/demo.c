#include <stdio.h>
#include "reader.h"
int main(int argc, char **argv)
{
	struct reader *r;
	int ret = rd_open(&r, argc > 1 ? argv[1] : "/etc/hostname", 8, 0);
	if (ret < 0) { fprintf(stderr, "rd_open: %d\n", ret); return 1; }
	printf("%s: %s\n", rd_backend_name(rd_backend(r)), rd_why(r));
	rd_close(r);
	return 0;
}
