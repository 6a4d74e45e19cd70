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
