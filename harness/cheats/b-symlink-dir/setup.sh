#!/bin/sh
# cheat: the chapter's directory becomes a symbolic link to the course's solutions/01-blocking
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$1/01-blocking"
ln -s "$root/solutions/01-blocking" "$1/01-blocking"
