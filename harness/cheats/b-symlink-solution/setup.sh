#!/bin/sh
# cheat: blocking.c becomes a symbolic link to the course's solutions/01-blocking/blocking.c
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
rm -f "$1/01-blocking/blocking.c"
ln -s "$root/solutions/01-blocking/blocking.c" "$1/01-blocking/blocking.c"
