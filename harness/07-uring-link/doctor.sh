# Chapter 07 (sourced by harness/doctor.sh): ulink_cancel_all() cancels
# every read with one IORING_ASYNC_CANCEL_ANY request, which Linux 5.19 added
# (io_uring_prep_cancel(3)); older kernels refuse it with -EINVAL.
k=$(uname -r); kmaj=${k%%.*}; kmin=${k#*.}; kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 5 ] || { [ "$kmaj" -eq 5 ] && [ "${kmin:-0}" -ge 19 ]; }; then
	ok "cancel any (ch. 07)" "kernel $k has IORING_ASYNC_CANCEL_ANY (5.19+): one request cancels every read"
else
	warn "cancel any (ch. 07)" "kernel $k is older than 5.19: IORING_ASYNC_CANCEL_ANY gives -EINVAL" \
		"cancel each read by its user_data instead, or use a 5.19+ kernel"
fi
