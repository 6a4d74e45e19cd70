# harness/03-posix-aio/doctor.sh - chapter 03's lines for make doctor (sourced
# by harness/doctor.sh, which provides ROOT, ok, info and warn).
#
# POSIX aio is glibc's (user-space threads), so what matters is the glibc
# version (aio in libc itself since 2.34) and that the tests can see where a
# thread sleeps (/proc/self/task/TID/syscall): they answer pipes only while
# the code under test sleeps in aio_suspend, or while the pool's threads do.

glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
case "$glibc" in
"") warn "POSIX aio (ch. 03)" "not glibc (getconf GNU_LIBC_VERSION says nothing): the lesson's facts are glibc's" \
	"use a glibc-based distribution (Debian, Ubuntu, Fedora); musl's aio behaves differently" ;;
2.[0-9]|2.[12][0-9]|2.3[0-3])
	warn "POSIX aio (ch. 03)" "glibc $glibc keeps aio_* in librt: chapter 03 does not link without -lrt" \
		"use a distribution with glibc >= 2.34 (Debian 12, Ubuntu 22.04 or newer)" ;;
*) ok "POSIX aio (ch. 03)" "glibc $glibc: aio_* in libc itself, helper threads in user space (at most 20 by default, aio_init(3))" ;;
esac
if head -c 16 /proc/self/syscall 2>/dev/null | grep -q '^[0-9]'; then
	ok "thread states (ch. 03)" "/proc/self/task/TID/syscall is readable: the tests can see which system call a thread sleeps in"
else
	warn "thread states (ch. 03)" "/proc/self/syscall is not readable here: the chapter 01 and 03 tests that wait until a thread sleeps give up and fail" \
		"run on a kernel with CONFIG_HAVE_ARCH_TRACEHOOK (every x86-64 and arm64 distribution kernel) and an ordinary /proc mount"
fi
