# Chapter 05 (sourced by harness/doctor.sh): tests 05.10 and 05.18 put -EAGAIN,
# -EINTR, -EIO or 0 into cqe->res by turning the learner's read or write into
# an IORING_OP_NOP with IORING_NOP_INJECT_RESULT, which only recent kernels
# have. Ask the kernel (a NOP with the flag) instead of reading its version.
ch05_nop_probe() {
	local dir rc
	dir=$(mktemp -d) || return 2
	cat > "$dir/nop.c" <<'C'
#include <liburing.h>
int main(void)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int res = 0;

	if (io_uring_queue_init(2, &ring, 0) < 0)
		return 2;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->rw_flags = 1; /* IORING_NOP_INJECT_RESULT */
	sqe->len = (unsigned)-11;
	if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0)
		res = cqe->res;
	io_uring_queue_exit(&ring);
	return res == -11 ? 0 : 1;
}
C
	if cc -o "$dir/nop" "$dir/nop.c" $(pkg-config --libs liburing 2>/dev/null || echo -luring) >/dev/null 2>&1; then
		"$dir/nop"
		rc=$?
	else
		rc=2
	fi
	rm -rf "$dir"
	return "$rc"
}
ch05_nop_probe
case $? in
0) ok "NOP inject (ch. 05)" "IORING_NOP_INJECT_RESULT works: tests 05.10 and 05.18 inject results into cqe->res" ;;
1) info "NOP inject (ch. 05)" "this kernel's NOP cannot inject a result: tests 05.10 and 05.18 are skipped (a newer kernel runs them; nothing to fix)" ;;
*) info "NOP inject (ch. 05)" "could not be checked (no compiler, liburing or io_uring): see the lines above" ;;
esac
unset -f ch05_nop_probe
