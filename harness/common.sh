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

# reuse_objects SRC OUT REF OBJ: for each file of SRC byte for byte the same
# as REF/<file>, put the objects OBJ's build made of it (OBJ/impl, a build of
# REF by chapter.mk) in OUT/impl, newer than the copy, so that make takes
# them as they are and compiles only the files that differ (grade.sh's
# GRADE_REUSE, make test's mutants).
reuse_objects() {
	local src=$1 out=$2 ref=$3 obj=$4 f base
	[ -d "$out/impl" ] || mkdir -p "$out/impl"
	for f in "$src"/*.c; do
		base=${f##*/}
		base=${base%.c}
		[ -f "$obj/impl/$base.unvetted.o" ] && cmp -s "$f" "$ref/$base.c" || continue
		cp "$obj/impl/$base".* "$out/impl/" || return 1
		# In the order make builds them: none older than what it is made of.
		touch "$out/impl/$base".{unvetted.d,unvetted.o,o} &&
			{ [ ! -f "$out/impl/$base.tested.o" ] || touch "$out/impl/$base.tested.o"; } || return 1
	done
	return 0
}
