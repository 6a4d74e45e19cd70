/* placeholder skeleton: replaced by the chapter's skeleton */
#include <errno.h>
#include "reader.h"
int rd_open(struct reader **out, const char *path, unsigned qd, unsigned flags)
{ (void)out; (void)path; (void)qd; (void)flags; return -ENOSYS; }
enum rd_backend rd_backend(const struct reader *r) { (void)r; return 0; }
const char *rd_backend_name(enum rd_backend b) { (void)b; return "?"; }
const char *rd_why(const struct reader *r) { (void)r; return ""; }
int rd_fd(const struct reader *r) { (void)r; return -1; }
int rd_direct(const struct reader *r) { (void)r; return 0; }
int rd_batch_read(struct reader *r, struct batch_req *reqs, size_t n) { (void)r; (void)reqs; (void)n; return -ENOSYS; }
void rd_close(struct reader *r) { (void)r; }
