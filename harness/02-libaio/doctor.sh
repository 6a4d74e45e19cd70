# harness/02-libaio/doctor.sh - chapter 02's lines for make doctor (sourced by
# harness/doctor.sh, which provides ROOT, ok, info and warn).
#
# Whether io_setup works and what statx(STATX_DIOALIGN) says are asked of the
# kernel by the chapter's own demo, built on the reference module: it reads
# a small file in build/ through io_setup/io_submit/io_getevents and prints
# the alignment laio_dio_alignment reports for it.

aio_max=$(cat /proc/sys/fs/aio-max-nr 2>/dev/null)
aio_nr=$(cat /proc/sys/fs/aio-nr 2>/dev/null)
if [ -z "$aio_max" ]; then
	warn "kernel AIO (ch. 02)" "this kernel has no kernel AIO (no /proc/sys/fs/aio-max-nr): chapter 02's tests are skipped" \
		"use a kernel built with CONFIG_AIO=y (every distribution kernel is)"
else
	if [ $((aio_max - aio_nr)) -lt 16384 ]; then
		warn "aio-nr (ch. 02)" "fs.aio-nr $aio_nr of fs.aio-max-nr $aio_max: little room for new io contexts (io_setup fails with EAGAIN)" \
			"end the programs holding io contexts, or as root: sysctl -w fs.aio-max-nr=1048576"
	else
		ok "aio-nr (ch. 02)" "fs.aio-nr $aio_nr of fs.aio-max-nr $aio_max: room for the tests' io contexts"
	fi
	d02=$ROOT/build/doctor/02-libaio
	if demo02=$(reference_demo 02-libaio); then
		head -c 65536 /dev/urandom > "$d02/probe.dat" 2>/dev/null
		out=$("$demo02" --qd 4 "$d02/probe.dat" 2>&1)
		case "$out" in
		*"io contexts     1 created, 1 destroyed"*)
			ok "io_setup (ch. 02)" "kernel AIO works: the chapter 02 demo read a file through io_setup, io_submit and io_getevents" ;;
		*ENOSYS*|*"not implemented"*)
			warn "io_setup (ch. 02)" "io_setup returns ENOSYS: no kernel AIO here (a sandbox such as gVisor?); chapter 02's tests are skipped" \
				"run the course on a VM or a host with an ordinary Linux kernel" ;;
		*"not permitted"*)
			warn "io_setup (ch. 02)" "io_setup is refused (EPERM): a seccomp filter blocks kernel AIO; chapter 02's tests are skipped" \
				"run the container with a seccomp profile that allows io_setup, or on a VM" ;;
		*"temporarily unavailable"*)
			warn "io_setup (ch. 02)" "io_setup returns EAGAIN: fs.aio-max-nr is used up" \
				"end the programs holding io contexts, or as root: sysctl -w fs.aio-max-nr=1048576" ;;
		*)
			warn "io_setup (ch. 02)" "the chapter 02 demo failed: $(printf '%s' "$out" | head -n 1)" \
				"run make run CH=02 IMPL=solutions ARGS=\"--verbose FILE\" to see why" ;;
		esac
		align=$(printf '%s\n' "$out" | sed -n 's/^ *O_DIRECT align *//p')
		[ -n "$align" ] && info "DIO alignment (ch. 02)" "files in build/: $align"
		rm -f "$d02/probe.dat"
	else
		info "io_setup (ch. 02)" "not tried: the chapter 02 demo does not build (make check CH=02 IMPL=solutions shows why)"
	fi
fi
