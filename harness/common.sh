# harness/common.sh - sourced by grade.sh, run.sh, class.sh, hint.sh and progress.sh.

# chapters_matching ROOT CH: the chapters CH names (NN or NN-topic; every
# chapter when CH is empty), one per line, in order.
chapters_matching() {
	local d c
	for d in "$1"/harness/[0-9][0-9]-*/; do
		c=${d%/}
		c=${c##*/}
		if [ -z "$2" ] || [ "$2" = "${c%%-*}" ] || [ "$2" = "$c" ]; then
			echo "$c"
		fi
	done
}

# impl_build_dir ROOT IMPL_ABS: where builds of that implementation tree go.
# A tree inside the repository keeps its relative name (build/exercises,
# build/solutions); any other tree gets a name made from its path.
impl_build_dir() {
	local root=$1 impl=$2 tag
	case "$impl" in
	"$root"/*) tag=${impl#"$root"/} ;;
	*) tag=ext/$(printf '%s' "$impl" | tr -c 'A-Za-z0-9._-' '_') ;;
	esac
	[ "${SAN:-0}" = 1 ] && tag="$tag-san"
	printf '%s/build/%s\n' "$root" "$tag"
}

# no_such_impl ROOT IMPL WHO CH: say on stderr why IMPL (as the learner wrote
# it) names no tree. In the student edition (make dist: no solutions/),
# IMPL=solutions gets what to run instead: the learner's own exercises/.
no_such_impl() {
	local root=$1 impl=$2 who=$3 ch=${4:-NN} name
	name=${impl%/}
	name=${name#./}
	if { [ "$name" = solutions ] || [ "$name" = "$root/solutions" ]; } && [ ! -d "$root/solutions" ]; then
		echo "$who: IMPL=$impl: this student edition leaves the reference (solutions/) out." >&2
		case "$who" in
		run)
			echo "  Run your own code instead: the same command without IMPL=solutions" >&2
			echo "  (make run CH=$ch ARGS=\"...\"), and where a lesson names" >&2
			echo "  build/solutions/NN-topic/, use build/exercises/NN-topic/ (make run builds it)." >&2
			echo "  The lesson's results are the reference's: yours match once make check CH=$ch passes." >&2
			;;
		*)
			[ "$who" = grade ] && who=check
			echo "  make $who${4:+ CH=$4} (without IMPL=) grades your own exercises/; full marks" >&2
			echo "  is what the lesson shows for the reference." >&2
			;;
		esac
		return 0
	fi
	echo "$who: no such directory: $impl" >&2
}
