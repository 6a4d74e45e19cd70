# harness/10-showdown/doctor.sh - chapter 10's lines for make doctor
# (sourced by harness/doctor.sh, which provides ROOT, ok, info, warn and
# reference_demo).
#
# Asked of the machine the way chapter 10's reader asks it, by trying: the
# chapter's demo, built on the reference reader, probes a small file it makes
# under build/ (the disk the course works on) and says which interface
# rd_open picks, and which it falls back to without io_uring. A fallback is
# the reader working as designed, so it is INFO; the io_uring and O_DIRECT
# lines above carry the warnings and their fixes.

d10=$ROOT/build/doctor/10-showdown
if demo10=$(reference_demo 10-showdown) && mkdir -p "$d10"; then
	out=$(cd "$d10" && timeout 20 "$demo10" probe 2>&1)
	# probe_row FLAGS: "picks fd reads why" of the probe's line for FLAGS.
	probe_row() { printf '%s\n' "$out" | awk -v f="$1" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }'; }
	r0=$(probe_row 0)
	rn=$(probe_row RD_NO_URING)
	case "$r0" in
	"io_uring "*" ok "*)
		ok "reader (ch. 10)" "rd_open picks io_uring here (${r0#* * * })" ;;
	libaio*" ok "* | threads*" ok "*)
		info "reader (ch. 10)" "rd_open falls back to ${r0%% *} here: ${r0#* * * }" ;;
	*)
		warn "reader (ch. 10)" "the reference reader's probe failed: $(printf '%s' "${r0:-$out}" | head -n 1)" \
			"run make run CH=10 IMPL=solutions ARGS=probe to see why" ;;
	esac
	case "$rn" in
	"libaio O_DIRECT ok "*)
		ok "fallback (ch. 10)" "without io_uring it takes libaio on O_DIRECT under build/" ;;
	"threads "*" ok "*)
		info "fallback (ch. 10)" "without io_uring it takes the thread pool: ${rn#* * * }" ;;
	*)
		info "fallback (ch. 10)" "not known: ${rn:-the probe printed no RD_NO_URING line}" ;;
	esac
	unset -f probe_row
else
	info "reader (ch. 10)" "not tried: the chapter 10 demo does not build (make check CH=10 IMPL=solutions shows why)"
fi
unset d10 demo10 out r0 rn
