#!/usr/bin/env bash
# Chapter 08 demo on the reference: random reads plain, with registered
# buffers and files, with SQPOLL (its iou-sqp thread seen) and a registered
# ring fd; the registrations made once for many batches (strace); the
# memlock charge; IOPOLL refused per request without hanging; the raw-ring
# mistakes (-EFAULT, -EBADF, a slot that outlives its fd); a short compare.
# Usage: smoke.sh BUILD_DIR (holding the demo built on the solutions)
set -eu
demo=$1/demo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# set -e does not stop at a failing "! cmd": say it this way instead.
fails() { if "$@" >/dev/null 2>&1; then echo "smoke: should have failed: $*" >&2; exit 1; fi; }
head -c 16777216 /dev/urandom > "$tmp/f"

# Plain reads, then through the tables: every read full, the tables as asked.
"$demo" read "$tmp/f" --n 2000 --seed 1 > "$tmp/out"
grep -q '^done: 2000 reads in ' "$tmp/out"
grep -q '^results: 2000 full, 0 short (end of file), 0 failed$' "$tmp/out"
# No SQPOLL or IOPOLL; SINGLE_ISSUER | DEFER_TASKRUN are the module's choice.
grep -Eq 'setup flags 0x(0 \(none\)|3000 \(SINGLE_ISSUER DEFER_TASKRUN \))' "$tmp/out"
grep -q '^SQ thread: none' "$tmp/out"
"$demo" read "$tmp/f" --n 2000 --qd 8 --fixed --files > "$tmp/out"
grep -q '^tables: buffer registered in slot, file registered (IOSQE_FIXED_FILE)' "$tmp/out"
grep -q '^        buffer slot 0: 131072 bytes' "$tmp/out"   # 4 x qd 8 buffers of 4 KiB
grep -q '^results: 2000 full, 0 short (end of file), 0 failed$' "$tmp/out"

# SQPOLL: the kernel's SQ thread is a thread of the process, and it worked.
"$demo" read "$tmp/f" --n 2000 --sqpoll --fixed --files --ringfd > "$tmp/out"
grep -q 'setup flags 0x2 (SQPOLL )' "$tmp/out"
grep -q '^SQ thread: iou-sqp-[0-9]*, thread [0-9]* of this process' "$tmp/out"
grep -q 'ring fd registered (io_uring_register_ring_fd)' "$tmp/out"
grep -q '^results: 2000 full, 0 short (end of file), 0 failed$' "$tmp/out"

# O_DIRECT where the filesystem of $tmp has it (not on tmpfs).
if dd if="$tmp/f" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null; then
	"$demo" read "$tmp/f" --n 1000 --direct --fixed --files > "$tmp/out"
	grep -q '^results: 1000 full, 0 short (end of file), 0 failed$' "$tmp/out"
fi

# Registered once, used by many batches: 5000 reads in 5 calls of 1024 take
# as many io_uring_register calls as 20 reads do (tables, one buffer, one file).
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
	for n in 20 5000; do
		strace -f -c -o "$tmp/strace.$n" -e trace=io_uring_register \
			"$demo" read "$tmp/f" --n "$n" --qd 8 --fixed --files > /dev/null
	done
	few=$(awk '$NF == "io_uring_register" { print $4 }' "$tmp/strace.20")
	many=$(awk '$NF == "io_uring_register" { print $4 }' "$tmp/strace.5000")
	[ -n "$few" ] && [ "$few" = "$many" ] && [ "$many" -le 8 ]
fi

# The memlock charge: 4 MiB registers (RLIMIT_MEMLOCK 8 MiB by default);
# 16 MiB only with a limit that allows it, or as root.
"$demo" memlock 4 > "$tmp/out"
grep -q '^ufixed_add_buffer(  4 MiB): slot 0; VmPin now 4096 KiB$' "$tmp/out"
grep -q '^VmPin after ufixed_exit: 0 KiB$' "$tmp/out"
limit=$(ulimit -l)
if [ "$(id -u)" != 0 ] && [ "$limit" != unlimited ] && [ "$limit" -lt 16384 ]; then
	"$demo" memlock 16 > "$tmp/out"
	grep -q '^ufixed_add_buffer( 16 MiB): -12 Cannot allocate memory$' "$tmp/out"
fi

# IOPOLL: the call returns (no hang); without poll queues every read is -95.
timeout 10 "$demo" iopoll "$tmp/f" > "$tmp/out"
grep -q '^  O_DIRECT 4 reads: ufixed_read returned 0\|^  O_DIRECT: open: ' "$tmp/out"
grep -q '^  buffered 4 reads: ufixed_read returned 0 after .* res: -95 -95 -95 -95 ' "$tmp/out"

# The mistakes, on a raw ring: as the lesson says them.
"$demo" mistakes > "$tmp/out"
[ "$(grep -c 'res  -14 Bad address' "$tmp/out")" -eq 4 ]
[ "$(grep -c 'res   -9 Bad file descriptor' "$tmp/out")" -eq 2 ]
grep -q 'slot 0, after close(fd) *res 4096 bytes' "$tmp/out"
grep -q 'io_uring_wait_cqe_timeout(500 ms): -62 ' "$tmp/out"

# compare, one short buffered round: four set-ups, medians, ratios.
"$demo" compare "$tmp/f" --n 500 --rounds 1 --buffered > "$tmp/out"
grep -q '^  plain  *[0-9]* reads/s  x1.00 of plain' "$tmp/out"
[ "$(grep -c 'reads/s  x[0-9.]* of plain  CPU' "$tmp/out")" -eq 4 ]

# Usage errors.
fails "$demo"
fails "$demo" read "$tmp/missing"
fails "$demo" read "$tmp/f" --qd 0
fails "$demo" read "$tmp/f" --bogus
fails "$demo" compare "$tmp/f" --rounds 0
fails "$demo" memlock 0
fails "$demo" iopoll "$tmp/missing"
echo "smoke: chapter 08 demo as the lesson says"
