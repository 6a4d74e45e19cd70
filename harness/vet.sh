#!/usr/bin/env bash
# harness/vet.sh - check a learner's object before the grader links it.
#
#   vet.sh deps DEPFILE DIR...
#       every file the compiler read (gcc -MD) is a system header or lies in
#       one of the DIRs (the contract's headers, the file's own directory)
#   vet.sh object IN.o OUT.o "EXPORTS" [--sanitized] ALLOWED...
#       IN.o calls only functions on the ALLOWED lists (one name or shell
#       pattern per line, # comments), has no constructors or destructors and
#       no raw system-call instructions; OUT.o is IN.o with every global
#       that EXPORTS does not name made local, so that the learner's code
#       cannot stand in for a function of libc, Criterion or the harness.
#
# A refusal prints why, in the learner's terms, on stderr and in
# $(dirname OUT)/../refused.txt (grade.sh puts it under every test), and
# exits 1. The learner's code is never run here: these are binutils reading
# an object file.
set -u
case $0 in */*) HERE=${0%/*} ;; *) HERE=. ;; esac
ROOT=$(cd "$HERE/.." && pwd)
export LC_ALL=C

refuse() {
	local file=$1 why=$2 note
	note="$(basename "$file" | sed 's/\.unvetted.o$/.c/; s/\.unvetted\.d$/.c/') is refused: $why"
	echo "grade: $note" >&2
	# One reason per file is enough; the first one found is kept.
	if [ -n "${REFUSED_FILE:-}" ] && [ ! -s "$REFUSED_FILE" ]; then
		printf '%s\n' "$note" > "$REFUSED_FILE"
	fi
	exit 1
}

# --- deps -------------------------------------------------------------------

system_header() {
	case "$1" in
	"$ROOT"/*) return 1 ;;  # the course is never a system directory
	/usr/include/* | /usr/lib/gcc/* | /usr/local/include/* | /usr/lib/*/include/*) return 0 ;;
	esac
	return 1
}

vet_deps() {
	local depfile=$1 real ok dir line first=1 n i words=() all=() deps=() dirs=()
	shift
	n=$#
	# Make syntax: "target: dep dep \" on several lines, split here without
	# globbing (read -a). One realpath for the DIRs and every file (a
	# header-heavy file has a hundred): its first n lines are the DIRs.
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%\\}
		if [ "$first" = 1 ]; then
			line=${line#*:}
			first=0
		fi
		read -r -a words <<< "$line"
		deps+=("${words[@]}")
	done < "$depfile"
	[ ${#deps[@]} -gt 0 ] || return 0
	mapfile -t all < <(realpath -m -- "$@" "${deps[@]}")
	dirs=("${all[@]:0:n}")
	for ((i = 0; i < ${#deps[@]}; i++)); do
		real=${all[n + i]}
		ok=0
		for dir in "${dirs[@]}"; do
			case "$real" in "$dir"/*) ok=1 ;; esac
		done
		system_header "$real" && ok=1
		[ "$ok" = 1 ] || refuse "$depfile" "it includes ${deps[$i]}, which is not part of the chapter's contract. A file of the exercise may include the system's headers, the chapter's headers (chapters/common, chapters/NN-topic) and nothing else of the course."
	done
}

# --- object -----------------------------------------------------------------

# Why a function is not allowed, for the functions a learner is likely to
# reach for; anything else not on the lists gets the general reason. Sets
# WHY (no subshell per symbol: a grading vets every object it builds).
why_not() {
	case "$1" in
	exit | _exit | _Exit | quick_exit | exit_group | abort_group)
		WHY="it calls $1(): a module returns its result (bytes or -errno) and never ends the process; the grader counts a test only if it runs to its end" ;;
	atexit | on_exit | at_quick_exit | __cxa_atexit | __cxa_thread_atexit* | pthread_atfork)
		WHY="it calls $1(): code registered to run at exit or fork would run outside the call being graded" ;;
	exec* | fexecve | posix_spawn* | system | popen | fork | vfork | clone*)
		WHY="it calls $1(): a module of this chapter does its I/O itself and starts no other program or process" ;;
	syscall)
		WHY="it calls syscall(): use the functions of the C library and of the chapter's library, which the grader can see" ;;
	dlopen | dlmopen | dlsym | dlvsym | dladdr* | dlinfo)
		WHY="it calls $1(): looking functions up at run time is not allowed in graded code" ;;
	prctl | seccomp | ptrace | setrlimit* | prlimit* | mprotect | pkey_* | process_vm_* | personality | unshare | setns | kill | killpg | tgkill | tkill | raise | pthread_kill | pthread_sigqueue | pidfd_send_signal | sigaction | signal | sigset | bsd_signal | sysv_signal | sigqueue | setuid | setgid | seteuid | setegid | setreuid | setregid | setresuid | setresgid | chroot | chmod | fchmod*)
		WHY="it calls $1(), which changes the process or the machine rather than doing the chapter's I/O; the grader does not allow it in a module" ;;
	io_queue_init | io_queue_release | io_queue_run | io_queue_wait)
		WHY="it calls $1(): libaio's io_queue_* helpers make their system calls inside libaio, where the grader cannot see them; use io_setup, io_submit, io_getevents and io_destroy (laio.h)" ;;
	grade_* | seam_* | fault_* | cr_* | criterion_* | bxf_* | bxfi_*)
		WHY="it uses $1, which belongs to the grader" ;;
	__wrap_* | __real_*)
		WHY="it uses $1: the grader's link seams are not for graded code" ;;
	__*)
		WHY="it calls $1, an internal name of the C library that slips past what the chapter allows; call the documented function instead" ;;
	*)
		WHY="it calls $1(), which is not on the list of functions this chapter allows (harness/lib/allowed.txt and the chapter's allowed.txt). If the lesson teaches it, tell your instructor" ;;
	esac
}

# only_sanitizer_entries OBJ SECTION: every entry of SECTION points at a
# function that calls AddressSanitizer's runtime and nothing else (the
# module constructor and destructor it adds under SAN=1). Relocations name a
# section and an offset (".text + 8fe"); the function there is looked up.
only_sanitizer_entries() {
	local obj=$1 sec=$2 target off fn calls n=0
	while read -r target off; do
		[ "$target" = .text ] || return 1
		fn=$(nm "$obj" | awk -v off="$off" '$2 ~ /^[tT]$/ {
			v = $1; sub(/^0+/, "", v); if (v == "") v = "0"
			if (v == off) { print $3; exit } }')
		[ -n "$fn" ] || return 1
		calls=$(objdump -dr --no-show-raw-insn "$obj" | awk -v fn="<$fn>:" '
			$2 == fn { on = 1; next }
			on && /^$/ { exit }
			on && /R_X86_64_/ { print $3 }' | sed 's/[-+].*//' | sort -u)
		# Data it passes (".data.rel.local + 87c") is fine; any function
		# other than the sanitizer's is not.
		calls=$(printf '%s\n' "$calls" | grep -v '^\.')
		[ -n "$calls" ] || return 1
		printf '%s\n' "$calls" | grep -qv '^__asan_' && return 1
		n=$((n + 1))
	done < <(readelf -rW "$obj" | awk -v want=".rela$sec" '
		/^Relocation section/ { on = ($3 == "\x27" want "\x27"); next }
		on && NF >= 5 && $1 ~ /^[0-9a-f]+$/ { print $5, ($7 == "" ? "0" : $7) }')
	[ "$n" -gt 0 ]
}

allowed() {
	local sym=$1 pat
	for pat in "${patterns[@]}"; do
		# shellcheck disable=SC2053  # the list holds shell patterns
		[[ $sym == $pat ]] && return 0
	done
	return 1
}

vet_object() {
	local in=$1 out=$2 exports=$3 sym sec type name sanitized=0
	shift 3
	patterns=()
	if [ "${1:-}" = --sanitized ]; then
		patterns+=("__asan_*" "__ubsan_*" "__sanitizer_*" "__lsan_*")
		sanitized=1
		shift
	fi
	local list line
	for list in "$@"; do
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%%#*}
			read -r name _ <<< "$line"
			[ -n "$name" ] && patterns+=("$name")
		done < "$list"
	done

	# The section headers and the symbol table, read once, by one readelf
	# (nm is ten times slower to start, and a grading vets every object it
	# builds), as lines "SEC name type" for each section, "UND name" for what
	# the object calls or uses from outside, "COM name" for common symbols.
	# A symbol line of another layout is refused rather than skipped; so is
	# an object readelf cannot read (the last line says its status).
	local lines=() sections=() table=()
	mapfile -t lines < <(readelf -SsW "$in" | awk '
		/^ *\[ *[0-9]+\] / {
			# "[Nr] Name Type Address ...": the type is the field before
			# the 16-digit address, the name all before it (a name may
			# hold spaces, [0] has none), its spaces made "_" here.
			line = $0
			sub(/^ *\[ *[0-9]+\] /, "", line)
			n = split(line, f, " ")
			name = ""
			type = ""
			for (i = 2; i <= n; i++)
				if (length(f[i]) == 16 && f[i] ~ /^[0-9a-f]+$/) {
					type = f[i - 1]
					for (k = 1; k < i - 1; k++)
						name = name (k > 1 ? "_" : "") f[k]
					break
				}
			print "SEC", name, type
			next
		}
		/^ *[0-9]+:/ {
			line = $0
			if (!sub(/^ *[0-9]+: +[0-9a-f]+ +(0x)?[0-9a-f]+ +[A-Z_0-9]+ +[A-Z_0-9]+ +[A-Z_0-9]+ +/, "", line)) {
				print "BAD " $0; next
			}
			ndx = line; sub(/ .*/, "", ndx)
			name = line; sub(/^[^ ]+ ?/, "", name)
			if ((ndx == "UND" || ndx == "COM") && name != "") {
				sub(/@.*/, "", name)
				print ndx, name
			}
		}'; echo "END ${PIPESTATUS[0]}")
	[ "${lines[-1]:-}" = "END 0" ] || refuse "$in" "readelf could not read its symbol table"
	unset 'lines[-1]'
	for line in "${lines[@]}"; do
		case "$line" in
		"SEC "*) sections+=("${line#SEC }") ;;
		*) table+=("$line") ;;
		esac
	done

	# Constructors, destructors and init sections run outside any test: in
	# the runner that decides the verdicts, before and after every test.
	# AddressSanitizer adds its own pair (asan.module_ctor, module_dtor)
	# under SAN=1: those, and only those, are let through then.
	for line in "${sections[@]}"; do
		sec=${line% *} type=${line##* }
		case "$sec:$type" in
		.init_array* | .fini_array* | .preinit_array* | .ctors* | .dtors* | .init:* | .fini:* | *:INIT_ARRAY | *:FINI_ARRAY | *:PREINIT_ARRAY)
			[ "$sanitized" = 1 ] && only_sanitizer_entries "$in" "$sec" && continue
			refuse "$in" "it has a constructor or destructor (section $sec): code that runs before or after the tests is not allowed. Remove __attribute__((constructor)) / ((destructor))." ;;
		esac
	done

	for line in "${table[@]}"; do
		type=${line%% *} sym=${line#* }
		case "$type" in
		BAD) refuse "$in" "its symbol table has an entry the grader cannot read: $sym" ;;
		# COMMON symbols cannot be made local: ask for an ordinary definition.
		COM) refuse "$in" "it has a 'common' global variable ($sym: __attribute__((common)) or -fcommon): define it as static" ;;
		esac
		# Some names are never allowed, whatever a list's pattern says.
		why_not "$sym"
		case "$WHY" in
		*"not on the list"* | *"internal name"*) ;;
		*) refuse "$in" "$WHY." ;;
		esac
		allowed "$sym" || refuse "$in" "$WHY."
	done

	# Raw system calls bypass every function the grader watches.
	if objdump -d --no-show-raw-insn "$in" | grep -qE $'\t(syscall|sysenter|int +\\$0x80)( |$)'; then
		refuse "$in" "it makes a raw system call (a syscall instruction, e.g. inline assembly): use the C library and the chapter's library, which the grader can see"
	fi

	# Everything global that the contract does not name becomes local.
	local keep=$out.keep
	printf '%s\n' $exports > "$keep" || exit 2
	if ! objcopy --keep-global-symbols="$keep" "$in" "$out.tmp"; then
		rm -f "$keep" "$out.tmp"
		refuse "$in" "objcopy could not process the object"
	fi
	rm -f "$keep"
	mv "$out.tmp" "$out"
}

case "${1:-}" in
deps)
	shift
	REFUSED_FILE=${1%/*}/../refused.txt
	vet_deps "$@"
	;;
object)
	shift
	REFUSED_FILE=${2%/*}/../refused.txt
	vet_object "$@"
	;;
*)
	echo "usage: vet.sh deps DEPFILE DIR... | vet.sh object IN OUT EXPORTS [--sanitized] ALLOWED..." >&2
	exit 2
	;;
esac
