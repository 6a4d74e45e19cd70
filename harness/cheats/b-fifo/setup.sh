#!/bin/sh
# cheat: blocking.c becomes a FIFO nobody writes to (git cannot store one)
set -e
rm -f "$1/01-blocking/blocking.c"
mkfifo "$1/01-blocking/blocking.c"
