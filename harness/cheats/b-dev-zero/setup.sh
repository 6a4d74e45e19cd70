#!/bin/sh
# cheat: blocking.c becomes a symbolic link to /dev/zero
set -e
rm -f "$1/01-blocking/blocking.c"
ln -s /dev/zero "$1/01-blocking/blocking.c"
