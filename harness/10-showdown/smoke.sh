#!/usr/bin/env bash
# Chapter 10 demo on the reference: the probe (every flag combination opens,
# reads the same bytes as pread, and says why; a seccomp filter like
# Docker's and a filesystem without O_DIRECT make the reader fall back), one
# interface at a time (each of the ten reads everything, with the threads the
# lesson says), strace seeing only that interface's calls, the showdown's
# table, and usage errors. Adapts to a machine where io_uring or O_DIRECT is
# refused: what cannot run there must say why instead.
# Usage: smoke.sh BUILD_DIR (holding the demo built on the solutions)
set -eu
build=$(cd "$1" && pwd)
demo=$build/demo
# The data on the build's disk, where O_DIRECT works (tmpfs refused it before
# Linux 6.6); real data, since holes read without touching the disk.
tmp=$(mktemp -d -p "$build" smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
data=$tmp/data
dd if=/dev/urandom of="$data" bs=1M count=8 status=none
# set -e does not stop at a failing "! cmd": say it this way instead.
fails() {
	local want=$1 rc=0
	shift
	"$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then echo "smoke: should have exited $want (got $rc): $*" >&2; exit 1; fi
}
say() { echo "smoke: $*" >&2; exit 1; }
# row FILE FLAGS: the probe's line for those flags, as "picks fd reads why".
row() { awk -v f="$2" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }' "$1"; }

odirect=0
dd if="$data" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null && odirect=1

# --- probe -------------------------------------------------------------------
"$demo" probe "$data" > "$tmp/probe"
grep -q '^  the machine as the reader meets it: euid [0-9]*, RLIMIT_MEMLOCK ' "$tmp/probe"
[ "$(grep -c '^  RD_\|^  0 ' "$tmp/probe")" -eq 8 ] || say "the probe does not show 8 combinations"
[ "$(awk '$1 ~ /^(0|RD_)/ && $4 == "ok"' "$tmp/probe" | wc -l)" -eq 8 ] || say "a probe read did not match pread"
uring=0
case "$(row "$tmp/probe" 0)" in
"io_uring cache ok using io_uring (32 entries)") uring=1 ;;
*"io_uring: io_uring_queue_init E"*) ;;   # refused here: the reason is named
*) say "probe, flags 0: $(row "$tmp/probe" 0)" ;;
esac
[ "$(row "$tmp/probe" "RD_NO_URING|RD_NO_LIBAIO")" = \
	"threads cache ok io_uring: RD_NO_URING; libaio: RD_NO_LIBAIO; using threads (32)" ] ||
	say "probe, RD_NO_URING|RD_NO_LIBAIO: $(row "$tmp/probe" "RD_NO_URING|RD_NO_LIBAIO")"
if [ "$odirect" = 1 ]; then
	[ "$(row "$tmp/probe" RD_NO_URING)" = "libaio O_DIRECT ok io_uring: RD_NO_URING; using libaio on O_DIRECT" ] ||
		say "probe, RD_NO_URING: $(row "$tmp/probe" RD_NO_URING)"
	row "$tmp/probe" "RD_NO_URING|RD_NO_LIBAIO|RD_DIRECT" | grep -q '^threads O_DIRECT ok '
fi

# What a container with Docker's default seccomp profile sees.
"$demo" probe "$data" --seccomp > "$tmp/probe"
grep -q '^seccomp: io_uring_setup, io_uring_enter and io_uring_register now fail with EPERM' "$tmp/probe"
row "$tmp/probe" 0 | grep -q 'io_uring: io_uring_queue_init EPERM (seccomp or kernel.io_uring_disabled)'
if [ "$odirect" = 1 ]; then
	row "$tmp/probe" 0 | grep -q '^libaio O_DIRECT ok .*; using libaio on O_DIRECT$'
	row "$tmp/probe" RD_NO_LIBAIO | grep -q '^threads cache ok '
fi

# A filesystem that refuses O_DIRECT (procfs, on every Linux): the page cache.
"$demo" probe /proc/version > "$tmp/probe"
grep -q '^probe: /proc/version (proc), qd 32$' "$tmp/probe"
row "$tmp/probe" RD_DIRECT | grep -q '^[a-z_]* cache ok .*O_DIRECT: EINVAL'
row "$tmp/probe" RD_NO_URING | grep -q '^threads cache ok .*libaio: needs O_DIRECT'

# Without FILE: a file of its own in the current directory, removed after.
(cd "$tmp" && "$demo" probe > "$tmp/probe.own")
grep -q '^probe: \./demo-probe-[A-Za-z0-9]* (.*1 MiB made for the probe, removed after), qd 32$' "$tmp/probe.own"
[ -z "$(find "$tmp" -name 'demo-probe-*')" ] || say "the probe left its file behind"

# --- one interface at a time ------------------------------------------------
# NAME THREADS: each reads all 2000 blocks; the threads are the lesson's.
for b in blocking:1 posix-aio:2 threads:9 libaio:1 libaio-buffered:1 uring-serial:1 io_uring:1 uring-fixed:1 sqpoll:2; do
	name=${b%:*}
	case "$name" in
	libaio) [ "$odirect" = 1 ] || continue ;;
	uring-* | io_uring | sqpoll) [ "$uring" = 1 ] || continue ;;
	esac
	"$demo" read "$data" --backend "$name" --reads 2000 --qd 8 > "$tmp/out" || say "read --backend $name failed"
	grep -q "^interface: $name (chapter [0-9]*: " "$tmp/out"
	grep -q '^done: 2000 reads in [0-9.]* s: [0-9]* IOPS, ' "$tmp/out"
	grep -q '^results: 2000 full, 0 short, 0 failed$' "$tmp/out"
	grep -q '^CPU: [0-9.]* s, [0-9.]* us per read' "$tmp/out"
	grep -q '^context switches per read: [0-9.]* voluntary, [0-9.]* involuntary' "$tmp/out"
	# glibc's POSIX aio serves one fd with one helper thread.
	threads=$(sed -n 's/^threads when the reads ended: \([0-9]*\) .*/\1/p' "$tmp/out")
	[ "$threads" = "${b#*:}" ] || say "read --backend $name: $threads threads, not ${b#*:}"
done
if [ "$uring" = 1 ]; then
	grep -q '(0 iou-wrk, 1 iou-sqp)$' "$tmp/out"     # the last one: sqpoll
fi
# libaio through the reader is O_DIRECT whatever was asked.
if [ "$odirect" = 1 ]; then
	"$demo" read "$data" --backend libaio --reads 100 | grep -q '^interface: libaio (.*), fd O_DIRECT$'
fi
"$demo" read "$data" --backend threads --reads 0 > "$tmp/out"
grep -q '^set up in [0-9]* us: rd_open: io_uring: RD_NO_URING; libaio: RD_NO_LIBAIO; using threads (32)$' "$tmp/out"
grep -q '^no reads (--reads 0): set-up and tear-down only$' "$tmp/out"
"$demo" read "$data" --backend threads --warm --reads 500 | grep -q 'seed 1, page cache warm$'
# Asked for io_uring where it is refused: the reason, exit status 1.
fails 1 "$demo" read "$data" --backend io_uring --seccomp
"$demo" read "$data" --backend io_uring --seccomp 2>&1 | grep -q '^demo: io_uring (chapter 10) cannot run here: the reader took [a-z]*, not io_uring: io_uring: io_uring_queue_init EPERM'
fails 1 "$demo" read "$data" --backend uring-fixed --seccomp

# strace -f -c sees that interface's calls alone.
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
	calls() { awk -v s="$2" '$NF == s { print $4 }' "$1"; }
	if [ "$uring" = 1 ]; then
		strace -f -c -o "$tmp/st" -e trace=io_uring_enter,pread64,io_submit \
			"$demo" read "$data" --backend io_uring --reads 4096 --qd 32 > /dev/null
		n=$(calls "$tmp/st" io_uring_enter)
		[ -n "$n" ] && [ "$n" -le 300 ] || say "io_uring: $n io_uring_enter for 4096 reads at qd 32"
		[ -z "$(calls "$tmp/st" io_submit)" ] || say "io_uring: io_submit called"
		[ "$(calls "$tmp/st" pread64 || true)" = "" ] || [ "$(calls "$tmp/st" pread64)" -le 4 ] ||
			say "io_uring: pread64 called"
	fi
	strace -f -c -o "$tmp/st" -e trace=pread64,futex "$demo" read "$data" --backend threads --reads 4096 > /dev/null
	[ "$(calls "$tmp/st" pread64)" -ge 4096 ] && [ "$(calls "$tmp/st" futex)" -gt 0 ]
	strace -f -c -o "$tmp/st" -e trace=pread64 "$demo" read "$data" --backend blocking --reads 4096 > /dev/null
	n=$(calls "$tmp/st" pread64)
	[ "$n" -ge 4096 ] && [ "$n" -le 4100 ] || say "blocking: $n pread64 for 4096 reads"
fi

# --- the showdown ------------------------------------------------------------
"$demo" showdown "$data" --reads 500 --rounds 2 --qd 8 > "$tmp/out" || [ "$uring" = 0 ]
grep -q '^showdown: .* 500 random reads of 4096 bytes a run in batches of 1024,$' "$tmp/out" ||
	grep -q '^showdown: .* 500 random reads of 4096 bytes a run in batches of 500,$' "$tmp/out"
grep -q '^qd 8, page cache dropped before each run, 2 rounds$' "$tmp/out"
grep -q '^  interface  *ch  *fd  *IOPS  *ratio  *CPU us/rd  *vcs/rd  *ics/rd  *threads  *setup us$' "$tmp/out"
for name in blocking posix-aio threads libaio-buffered libaio uring-serial io_uring uring-fixed sqpoll; do
	grep -q "^  $name  *[0-9][0-9]  *\(cache\|O_DIRECT\|not run: \)" "$tmp/out" || say "showdown: no row for $name"
done
grep -q '^  kernel io_uring workers (iou-wrk) when the reads ended: ' "$tmp/out"
# The first row is the ratios' reference.
awk '/^  blocking / { exit !($5 == "1.00") }' "$tmp/out"
[ "$(grep -c '^  [a-z_-]* *[0-9][0-9]  *\(cache\|O_DIRECT\)  *[0-9]' "$tmp/out")" -ge 4 ]
"$demo" showdown "$data" --reads 200 --rounds 1 --direct --backends threads,blocking > "$tmp/out"
[ "$(grep -c '^  \(threads\|blocking\) ' "$tmp/out")" -eq 2 ]
awk '/^  threads / { exit !($5 == "1.00") }' "$tmp/out"

# --- usage errors: status 2 and the usage ------------------------------------
fails 2 "$demo"
fails 2 "$demo" bogus
fails 2 "$demo" read
fails 2 "$demo" read "$data" "$data"
fails 2 "$demo" read "$data" --qd 0
fails 2 "$demo" read "$data" --qd
fails 2 "$demo" read "$data" --backend bogus
fails 2 "$demo" read "$data" --direct --bs 100
fails 2 "$demo" read "$data" --direct --warm
fails 2 "$demo" read "$data" --batch 0
fails 2 "$demo" read "$data" --rounds 2
fails 2 "$demo" read "$data" --nope
fails 2 "$demo" showdown
fails 2 "$demo" showdown "$data" --rounds 0
fails 2 "$demo" showdown "$data" --reads 0
fails 2 "$demo" showdown "$data" --rounds 101
fails 2 "$demo" showdown "$data" --backends io_uring,bogus
fails 2 "$demo" showdown "$data" --backend io_uring
fails 2 "$demo" probe "$data" "$data"
fails 2 "$demo" probe --reads 5
fails 2 "$demo" probe --direct
"$demo" read "$data" --qd 0 2>&1 | grep -q '^usage: demo probe'
# Files that cannot be read: status 1 and the reason.
fails 1 "$demo" read "$tmp/missing"
head -c 100 "$data" > "$tmp/small"
fails 1 "$demo" read "$tmp/small"
"$demo" read "$tmp/small" 2>&1 | grep -q 'not a regular file of at least 4096 bytes'
echo "smoke: chapter 10 demo as the lesson says"
