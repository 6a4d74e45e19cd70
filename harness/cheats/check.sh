#!/usr/bin/env bash
# harness/cheats/check.sh - grade the cheat submissions through the real make check.
#
#   harness/cheats/check.sh [NAME...]        (every harness/cheats/*/cheat.conf without NAMEs)
#
# A cheat is harness/cheats/NAME/ with:
#   cheat.conf  CH=NN, WHAT="...", EXPECT_SCORE=N, REFUSED=yes|no (what vet.sh is
#               expected to do; informative), and optionally FILE=blocking.c,
#               RENAME="read_full ...", FRESH_HARNESS=yes, SECONDS_MAX=N;
#   trick.c     appended to a fresh copy of FILE, taken from exercises/NN-topic/ at
#               check time. Each name of RENAME is renamed in that copy first
#               (`read_full(` -> `skeleton_read_full(`), so that the trick can
#               define the contract's function itself and still call the skeleton's.
#               A line `#include "lib/NAME.c"` of trick.c is replaced by the text
#               of harness/cheats/lib/NAME.c (helpers shared by the cheats);
#   tree/       files of the cheat's own (headers, ...) laid over the copy:
#               tree/NN-topic/<path>;
#   setup.sh    run with the copy's path as $1: FIFOs, symbolic links, sparse files.
# The student's tree is the whole of exercises/NN-topic/ with those changes.
#
# The cheats are graded JOBS at a time (default 4: the grace time and checks
# after a grading wait without taking a place; on the 2-core VM, 73
# gradings took 3.2 min three at a time and 2.9 four at a time, with both
# cores busy), each as an autograder does
# (`make check CH=NN IMPL=...`, into its own REPORTS directory), with
# CHEATS_RUN=<this run>-NAME in the environment of the grading. (grade.sh
# starts the tests with a cleared environment: CHEATS_RUN finds what is left
# of make, grade.sh and the sandbox; the tests' own processes end with the
# sandbox's pid namespace.) A cheat passes ("ok") only if:
#   - results.json (UTF-8 JSON) and junit.xml parse, and their text carries no
#     control or escape characters;
#   - score == EXPECT_SCORE, and max_score == the untouched skeleton's;
#   - the console output is valid UTF-8, without escapes, at most 1 MiB, and
#     carries no "cheat got through:" (what a cheat prints when it obtained
#     something it must not have, such as another process's memory);
#   - neither the console nor the reports quote /etc/shadow, root's shell
#     history or solutions/;
#   - the grading ended by itself within SECONDS_MAX (default 180 s; make check
#     is killed at CHEAT_TIMEOUT, 300 s) and no process of it used more than
#     1 GiB;
#   - CHEAT_GRACE (3 s) later no process carries its CHEATS_RUN (they are
#     killed then; nothing else is ever killed);
#   - the course's files are unchanged (git status, and a hash of every file of
#     chapters/ exercises/ solutions/ harness/ Makefile README.md), and so are
#     the grader's shared build products (build/tools, build/harness/plain/NN-* and shared/).
#     A changed build product is removed (make builds it again); a changed
#     course file is reported, and restored from the snapshot only with
#     CHEAT_RESTORE=1 (a developer may be editing the checkout while make test
#     runs: their work must not be undone by a test). When other cheats were
#     graded at the same time, the line names them.
# FRESH_HARNESS=yes grades the cheat in a private copy of the course without a
# build/ (the first grading after make clean), then the untouched skeleton in
# that copy, which must score 0 of the same max.
#
# After all the cheats, the untouched skeleton of every chapter used must
# score 0 of the same max, with a clean console, and the solutions full marks:
# no cheat may change the next grading. Last line: "N passed, N failed"; exit 0
# only if none failed.
#
# Environment: JOBS (4), CHEAT_TIMEOUT (300), CHEAT_SECONDS_MAX (180),
# CHEAT_MEM_MAX_MB (1024), CHEAT_VMEM_KB (4194304: virtual memory cap of every
# process of a grading, so that a compiler reading /dev/zero cannot take the
# machine; 0: none), CHEAT_CONSOLE_MAX (1048576 bytes), CHEAT_GRACE (3 s),
# CHEAT_RESTORE (empty; 1: put back a course file a cheat changed).
# Logs: build/cheats/run.XXXXXX/logs (kept until the next run).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
CHEATS=$ROOT/harness/cheats
JOBS=${JOBS:-4}
TIMEOUT=${CHEAT_TIMEOUT:-300}
SECONDS_MAX_DEFAULT=${CHEAT_SECONDS_MAX:-180}
MEM_MAX_MB=${CHEAT_MEM_MAX_MB:-1024}
VMEM_KB=${CHEAT_VMEM_KB:-4194304}
CONSOLE_MAX=${CHEAT_CONSOLE_MAX:-1048576}
GRACE=${CHEAT_GRACE:-3}
PROTECTED=(chapters exercises solutions harness Makefile README.md)
# The distribution's python3 first: a version manager's shim found earlier in
# PATH (pyenv) costs 0.4 s per start, and the checks start python dozens of
# times per cheat.
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
# Names this run's gradings in their environment (see procs).
RUN_ID=$$.$(date +%s%N)
unset CHEATS_RUN REPORTS
export GIT_OPTIONAL_LOCKS=0  # git status beside other gits, without index.lock

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok $*"; }
not_ok() { failed=$((failed + 1)); echo "not_ok $*"; }

command -v "$PY" >/dev/null 2>&1 || { echo "check.sh: python3 is needed"; echo "0 passed, 1 failed"; exit 1; }
TIME=""
[ -x /usr/bin/time ] && TIME=/usr/bin/time

# This run's directory. Those of earlier runs go, unless their run is still
# going (another make test in this checkout).
mkdir -p "$ROOT/build/cheats" || exit 2
for d in "$ROOT"/build/cheats/run.*; do
	[ -d "$d" ] || continue
	pid=$(cat "$d/pid" 2>/dev/null)
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && continue
	rm -rf "$d"
done
WORK=$(mktemp -d "$ROOT/build/cheats/run.XXXXXX") || exit 2
echo $$ > "$WORK/pid"
mkdir -p "$WORK/logs" "$WORK/verdicts" "$WORK/reports" "$WORK/trees" "$WORK/pristine"

# conf FILE KEY: the value of KEY= in a cheat.conf, quotes removed (not sourced).
conf() {
	sed -n "s/^$2=//p" "$1" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

chapter_dir() { (cd "$ROOT/exercises" && ls -d "$1"-* 2>/dev/null | head -n 1); }

# ---------------------------------------------------------------- helpers in python

# inspect DIR LOG: three lines on one grading (reports in DIR, console in
# LOG), one python for the three (a start costs about 90 ms here, and a run
# inspects some 80 gradings):
#   1. "score max graded|refused:REASON" from DIR/results.json and
#      DIR/junit.xml, or "error: why";
#   2. the console's problems, or nothing;
#   3. what of /etc/shadow, root's history or solutions/ the console and the
#      reports quote, or nothing.
inspect() {
	"$PY" - "$1" "$2" "$CONSOLE_MAX" "$WORK/markers" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
d, log, console_max, markers_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def results():
    bad = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f]')
    try:
        with open(d + "/results.json", encoding="utf-8", errors="strict") as fp:
            r = json.load(fp)
    except FileNotFoundError:
        return "error: no results.json"
    except Exception as e:
        return "error: results.json does not parse (%s)" % str(e).splitlines()[0][:100]
    try:
        ET.parse(d + "/junit.xml")
    except FileNotFoundError:
        return "error: no junit.xml"
    except Exception as e:
        return "error: junit.xml does not parse (%s)" % str(e).splitlines()[0][:100]
    try:
        score, mx = int(r["score"]), int(r["max_score"])
    except Exception:
        return "error: results.json has no score/max_score"
    texts = [str(r.get("output", ""))]
    tests = r.get("tests", []) or []
    for t in tests:
        texts += [str(t.get(k, "")) for k in ("name", "output")]
    for t in texts:
        if bad.search(t):
            return "error: results.json quotes control characters (%r)" % bad.search(t).group(0)
    with open(d + "/junit.xml", "rb") as fp:
        if re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", fp.read()):
            return "error: junit.xml carries control characters"
    # refused: every test failed, all for one and the same reason (the build's,
    # or a runner that died before any test); its first line, shortened
    outs = {str(t.get("output", "")) for t in tests}
    refused = bool(tests) and all(t.get("status") == "failed" for t in tests) and len(outs) == 1
    if refused:
        return "%d %d refused:%s" % (score, mx, " ".join(outs.pop().split("\n")[0].split())[:70])
    return "%d %d graded" % (score, mx)

def console():
    try:
        data = open(log, "rb").read()
    except OSError:
        data = b""
    why = []
    if len(data) > console_max:
        why.append("console output of %.1f MB" % (len(data) / 1e6))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        why.append("invalid UTF-8 on the console (byte 0x%02x)" % data[e.start])
        text = data.decode("utf-8", "replace")
    m = re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    if m:
        why.append("control characters on the console (%r)" % m.group(0))
    m = re.search("cheat got through: ([^|\n]{0,80})", text)
    if m:
        why.append("the cheat says it got through: %s" % m.group(1).strip())
    return "; ".join(why)

def leaks(paths):
    markers = [l.rstrip("\n").split("\t", 1) for l in open(markers_file, encoding="utf-8") if "\t" in l]
    found = []
    for path in paths:
        try:
            data = open(path, "rb").read()
        except OSError:
            continue
        for what, text in markers:
            if text.encode() in data and what not in found:
                found.append(what)
    return ("quotes " + " and ".join(found)) if found else ""

print(results())
print(console())
print(leaks([log, d + "/results.json", d + "/junit.xml"]))
PY
}

# markers: lines of the reference solutions that the skeletons do not have,
# and the first line of /etc/shadow (the longest of root's shell history) if
# this user can read it.
make_markers() {
	"$PY" - "$ROOT" > "$WORK/markers" <<'PY'
import glob, os, sys
root = sys.argv[1]
for sol in sorted(glob.glob(root + "/solutions/*/*.c")):
    rel = os.path.relpath(sol, root + "/solutions")
    try:
        skel = set(l.strip(" */\t\n") for l in open(root + "/exercises/" + rel))
    except OSError:
        skel = set()
    n = 0
    for line in open(sol):
        s = line.strip(" */\t\n")
        if len(s) >= 30 and s not in skel and "\t" not in s:
            print("solutions/%s\t%s" % (rel, s[:60]))
            n += 1
            if n == 3:
                break
try:
    first = open("/etc/shadow").readline().strip()
    if len(first) >= 8:
        print("/etc/shadow\t%s" % first)
except OSError:
    pass
try:
    lines = [l.strip() for l in open("/root/.bash_history", errors="replace") if "\t" not in l]
    longest = max(lines, key=len, default="")
    if len(longest) >= 12:
        print("/root/.bash_history\t%s" % longest[:60])
except OSError:
    pass
PY
}

# procs MARK [prefix]: the processes whose environment holds CHEATS_RUN=MARK
# (or CHEATS_RUN=MARK... with "prefix"), "pid argv" per line. Every grading runs
# with CHEATS_RUN=<this run>-<label>, which its processes inherit: a process
# that still has it is a leftover, whatever its name. Nothing else is ever
# listed (another run of this script, make test's own gradings).
procs() {
	"$PY" - "$1" "${2:-}" <<'PY'
import os, sys
mine = b"CHEATS_RUN=" + sys.argv[1].encode()
prefix = sys.argv[2] == "prefix"
me = {os.getpid(), os.getppid()}
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) in me:
        continue
    try:
        argv = open("/proc/%s/cmdline" % pid, "rb").read()
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
    except OSError:
        continue
    if any(e == mine or (prefix and e.startswith(mine)) for e in env):
        print(pid, argv.replace(b"\0", b" ").decode("utf-8", "replace").strip()[:80])
PY
}

# kill_left MARK [prefix]: SIGKILL the processes procs lists, by pid.
kill_left() {
	local pid _
	while read -r pid _; do
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	done < <(procs "$@")
}

# state DIR: a fingerprint of every course file of the checkout DIR (type,
# mode, content, link target).
state() {
	"$PY" - "$1" "${PROTECTED[@]}" <<'PY'
import hashlib, os, stat, sys
os.chdir(sys.argv[1])
def walk(p):
    try:
        st = os.lstat(p)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        for n in sorted(os.listdir(p)):
            walk(os.path.join(p, n))
        return
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha1(open(p, "rb").read()).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        h = "-> " + os.readlink(p)
    else:
        h = "special %o" % stat.S_IFMT(st.st_mode)
    print("%s %o %s" % (p, stat.S_IMODE(st.st_mode), h))
for p in sys.argv[2:]:
    walk(p)
PY
}

git_state() {
	git -c safe.directory="$1" -C "$1" status --porcelain --untracked-files=all -- "${PROTECTED[@]}" 2>/dev/null
}

# builds: a fingerprint of the grader's build products that every grading of
# the main checkout shares.
builds() {
	local c
	(
		cd "$ROOT" || exit
		for c in "${chapter_dirs[@]}"; do
			find "build/harness/plain/$c" -type f 2>/dev/null
		done
		find build/harness/plain/shared -type f 2>/dev/null
		find build/tools -type f 2>/dev/null
	) | sort | (cd "$ROOT" && xargs -r sha1sum 2>/dev/null)
}

# snapshot SNAP DIR: the course files of DIR as they are now, to compare and restore.
snapshot() {
	rm -rf "$1" && mkdir -p "$1"
	tar -C "$2" -cf "$1/files.tar" "${PROTECTED[@]}" 2>/dev/null
	state "$2" > "$1/state"
	git_state "$2" > "$1/git"
}

# changed SNAP DIR: the paths of DIR that differ from the snapshot, one per line.
changed() {
	state "$2" > "$1/state.after"
	diff "$1/state" "$1/state.after" | sed -n 's/^[<>] //p' | awk '{ print $1 }' | sort -u
}

# restore SNAP DIR PATH...: put back those course files as the snapshot had them.
restore() {
	local snap=$1 dir=$2 p
	shift 2
	for p in "$@"; do
		rm -rf "${dir:?}/$p"
		tar -C "$dir" -xmf "$snap/files.tar" "$p" 2>/dev/null || true
	done
}

# expand_libs FILE: FILE with each line `#include "lib/NAME.c"` replaced by
# the text of harness/cheats/lib/NAME.c.
expand_libs() {
	awk -v lib="$CHEATS/lib" '
		/^#include "lib\/[A-Za-z0-9_.-]+\.c"[ \t]*$/ {
			name = $0
			sub(/^#include "lib\//, "", name)
			sub(/".*$/, "", name)
			print "/* ---- harness/cheats/lib/" name " ---- */"
			while ((got = (getline line < (lib "/" name))) > 0)
				print line
			if (got < 0) {
				print "no such file: harness/cheats/lib/" name > "/dev/stderr"
				exit 1
			}
			close(lib "/" name)
			print "/* ---- end of harness/cheats/lib/" name " ---- */"
			next
		}
		{ print }' "$1"
}

# assemble NAME DEST: the student's tree of the cheat NAME, made in DEST.
assemble() {
	local n=$1 dest=$2 cf=$CHEATS/$1/cheat.conf c file r
	c=$(chapter_dir "$(conf "$cf" CH)")
	[ -n "$c" ] || { echo "CH=$(conf "$cf" CH) is no chapter of exercises/"; return 1; }
	rm -rf "$dest" && mkdir -p "$dest" && cp -a "$WORK/pristine/exercises/$c" "$dest/$c" || return 1
	file=$(conf "$cf" FILE)
	if [ -n "$file" ]; then
		[ -f "$dest/$c/$file" ] || { echo "FILE=$file is not a file of exercises/$c"; return 1; }
		for r in $(conf "$cf" RENAME); do
			grep -q "\\<$r(" "$dest/$c/$file" || { echo "RENAME: $file has no $r("; return 1; }
			sed -i "s/\\<$r(/skeleton_$r(/g" "$dest/$c/$file" || return 1
		done
		if [ -f "$CHEATS/$n/trick.c" ]; then
			{
				printf '\n/* ---- harness/cheats/%s/trick.c ---- */\n' "$n"
				expand_libs "$CHEATS/$n/trick.c"
			} >> "$dest/$c/$file" || return 1
		fi
	elif [ -f "$CHEATS/$n/trick.c" ]; then
		echo "trick.c without FILE= in cheat.conf"
		return 1
	fi
	if [ -d "$CHEATS/$n/tree" ]; then
		cp -a "$CHEATS/$n/tree/." "$dest/" || return 1
	fi
	if [ -x "$CHEATS/$n/setup.sh" ]; then
		"$CHEATS/$n/setup.sh" "$dest" || { echo "its setup.sh failed"; return 1; }
	fi
	return 0
}

# grade LABEL TREE CH REPORTS [CHECKOUT]: make check of TREE, chapter CH, as an
# autograder runs it, reports to REPORTS. Sets g_rc, g_secs, g_mem (KB), g_log.
grade() {
	local label=$1 tree=$2 ch=$3 reports=$4 checkout=${5:-$ROOT} start memf
	g_log=$WORK/logs/$label.log
	memf=$WORK/logs/$label.mem
	mkdir -p "$reports"
	rm -f "$reports/results.json" "$reports/junit.xml" "$memf"
	start=$(date +%s)
	(
		exec 7>&-
		export CHEATS_RUN="$RUN_ID-$label" REPORTS="$reports"
		[ "$VMEM_KB" != 0 ] && ulimit -v "$VMEM_KB"
		if [ -n "$TIME" ]; then
			exec "$TIME" -f '%M' -o "$memf" timeout -k 10 "$TIMEOUT" \
				make --no-print-directory -C "$checkout" check CH="$ch" IMPL="$tree"
		else
			exec timeout -k 10 "$TIMEOUT" make --no-print-directory -C "$checkout" check CH="$ch" IMPL="$tree"
		fi
	) < /dev/null > "$g_log" 2>&1
	g_rc=$?
	g_secs=$(($(date +%s) - start))
	g_mem=$(grep -E '^[0-9]+$' "$memf" 2>/dev/null | tail -n 1)
	g_mem=${g_mem:-0}
	# Keep the logs small (a flood is 50 MB).
	[ "$(stat -c %s "$g_log")" -gt 1048576 ] && truncate -s 1048576 "$g_log"
	return 0
}

# pristine_tree KIND CH DEST: a fresh copy of exercises/ or solutions/ of
# chapter CH (as they were at the start) in DEST; prints DEST.
pristine_tree() {
	local c
	c=$(chapter_dir "$2")
	rm -rf "${3:?}" && mkdir -p "$3" && cp -a "$WORK/pristine/$1/$c" "$3/$c"
	echo "$3"
}

# JOBS gradings at a time: a grading takes a token of the pool on descriptor
# 7 (a FIFO) and puts it back when make check has ended. What follows a
# grading (the grace time, the checks) waits without a token. The gradings
# never hold descriptor 7 (see grade).
mkfifo "$WORK/slots" && exec 7<> "$WORK/slots" || exit 2
for ((i = 0; i < JOBS; i++)); do printf x >&7; done
take_slot() { read -r -N 1 -t "$((TIMEOUT + 60))" -u 7 _; }
give_slot() { printf x >&7; }

# ---------------------------------------------------------------- one cheat

# run_cheat NAME: grade the cheat and leave what was found in
# $WORK/verdicts/NAME.* (the verdict is given once the skeletons are graded):
#   .res  "seconds score max how" (score "?" when the reports did not parse)
#   .why  one reason per line it fails for
#   .next "score max" of the untouched skeleton graded after it (FRESH_HARNESS)
#   .span start and end of its grading (seconds), to name the cheats beside it
run_cheat() {
	local n=$1 cf=$CHEATS/$1/cheat.conf ch expect secs_max tree reports checkout snap
	local v=$WORK/verdicts/$1 s m how cons quotes secs rc mem log c left count files git_after before after
	ch=$(conf "$cf" CH)
	expect=$(conf "$cf" EXPECT_SCORE)
	expect=${expect:-0}
	secs_max=$(conf "$cf" SECONDS_MAX)
	secs_max=${secs_max:-$SECONDS_MAX_DEFAULT}
	tree=$WORK/trees/$n
	reports=$WORK/reports/$n
	: > "$v.why"
	why() { printf '%s\n' "$*" >> "$v.why"; }

	if ! c=$(assemble "$n" "$tree" 2>&1); then
		why "its tree could not be made: $(printf '%s' "$c" | tr '\n' ' ' | cut -c1-200)"
		echo "0 ? ? none" > "$v.res"
		rm -rf "${tree:?}"
		return
	fi
	take_slot
	checkout=$ROOT
	if [ "$(conf "$cf" FRESH_HARNESS)" = yes ]; then
		# As the first grading after make clean, in a checkout of its own:
		# build/ of the main checkout stays as the other gradings use it.
		checkout=$WORK/checkouts/$n
		rm -rf "$checkout" && mkdir -p "$checkout"
		tar -C "$ROOT" -cf - "${PROTECTED[@]}" | tar -C "$checkout" -xf - || why "cannot copy the course"
		snapshot "$WORK/snap-$n-own" "$checkout"
	fi
	snap=$WORK/snap-$n
	snapshot "$snap" "$ROOT"
	before=$(builds)

	echo "$(date +%s)" > "$v.span"
	grade "$n" "$tree" "$ch" "$reports" "$checkout"
	give_slot
	secs=$g_secs rc=$g_rc mem=$g_mem log=$g_log
	sleep "$GRACE"

	{ read -r s m how; read -r cons; read -r quotes; } < <(inspect "$reports" "$log")
	if [ "$s" = "error:" ]; then
		why "$s $m $how"
		s="?" m="?" how=none
	else
		[ "$s" = "$expect" ] || why "scored $s/$m, expected $expect"
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$secs" -ge "$TIMEOUT" ]; then
		why "hung: make check killed after ${TIMEOUT}s"
	elif [ "$secs" -gt "$secs_max" ]; then
		why "the grading took ${secs}s (limit ${secs_max}s)"
	fi
	[ "$mem" -gt $((MEM_MAX_MB * 1024)) ] && why "a process of the grading used $((mem / 1024)) MB"
	[ -n "$cons" ] && why "$cons"
	[ -n "$quotes" ] && why "$quotes"
	left=$(procs "$RUN_ID-$n")
	if [ -n "$left" ]; then
		count=$(printf '%s\n' "$left" | wc -l)
		why "left $count process(es) behind ($(printf '%s\n' "$left" | head -n 1 | cut -d' ' -f2- | cut -c1-40))"
		# (Listed again: they may have started others since.)
		kill_left "$RUN_ID-$n"
	fi

	git_after=$(git_state "$ROOT")
	files=$(changed "$snap" "$ROOT")
	if [ "$git_after" != "$(cat "$snap/git")" ] || [ -n "$files" ]; then
		why "changed the course's files: $(printf '%s ' $files | cut -c1-120)BESIDE"
		# Put back only when asked (see the top).
		# shellcheck disable=SC2086
		[ -n "$files" ] && [ -n "${CHEAT_RESTORE:-}" ] && restore "$snap" "$ROOT" $files
	fi
	after=$(builds)
	if [ "$before" != "$after" ]; then
		files=$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed -n 's/^[<>] [0-9a-f]*  //p' | sort -u)
		why "changed the grader's build products: $(printf '%s ' $files | cut -c1-120)BESIDE"
		# shellcheck disable=SC2086
		(cd "$ROOT" && rm -f -- $files)  # make builds them again from the course
	fi
	echo "$(date +%s)" >> "$v.span"

	if [ "$checkout" != "$ROOT" ]; then
		files=$(changed "$WORK/snap-$n-own" "$checkout")
		[ -n "$files" ] && why "changed the files of its checkout: $(printf '%s ' $files | cut -c1-120)"
		# The next student in that checkout, with what the cheat's grading built.
		take_slot
		grade "$n.next" "$(pristine_tree exercises "$ch" "$WORK/trees/$n.next")" "$ch" "$reports.next" "$checkout"
		give_slot
		{ read -r s2 m2 _; read -r _; read -r _; } < <(inspect "$reports.next" "$g_log")
		echo "$s2 $m2" > "$v.next"
		kill_left "$RUN_ID-$n.next"
		rm -rf "${checkout:?}" "$WORK/snap-$n-own" "$WORK/trees/$n.next"
	fi
	echo "$secs $s $m $how" > "$v.res"
	rm -rf "${tree:?}" "$snap"  # sparse files and FIFOs go with the tree
	echo "#      $n: graded in ${secs}s"
}

# ---------------------------------------------------------------- the cheats to grade

names=()
if [ $# -gt 0 ]; then
	names=("$@")
else
	for d in "$CHEATS"/*/; do
		[ -f "$d/cheat.conf" ] && names+=("$(basename "$d")")
	done
fi
chapters=()
chapter_dirs=()
for n in "${names[@]}"; do
	[ -f "$CHEATS/$n/cheat.conf" ] || continue
	ch=$(conf "$CHEATS/$n/cheat.conf" CH)
	case " ${chapters[*]-} " in
	*" $ch "*) ;;
	*)
		chapters+=("$ch")
		c=$(chapter_dir "$ch")
		[ -n "$c" ] && chapter_dirs+=("$c")
		;;
	esac
done

make_markers
for kind in exercises solutions; do
	mkdir -p "$WORK/pristine/$kind"
	for c in "${chapter_dirs[@]}"; do
		cp -a "$ROOT/$kind/$c" "$WORK/pristine/$kind/$c"
	done
done

# Whatever grade.sh would build first, built once before the gradings run
# side by side: the tools and each chapter's harness objects and list.
if ! make -s --no-print-directory -C "$ROOT" tools > "$WORK/logs/build.log" 2>&1; then
	not_ok "build: make tools failed (see $WORK/logs/build.log)"
fi
for c in "${chapter_dirs[@]}"; do
	make -s --no-print-directory -f "$ROOT/harness/mk/chapter.mk" ROOT="$ROOT" CHAPTER="$c" \
		IMPL_DIR="$WORK/pristine/exercises/$c" OUT="$WORK/unused/$c" harness list \
		>> "$WORK/logs/build.log" 2>&1 || not_ok "build: the harness of $c does not build (see $WORK/logs/build.log)"
done

trap 'kill_left "$RUN_ID-" prefix' EXIT
trap 'exit 130' INT TERM

for n in "${names[@]}"; do
	[ -f "$CHEATS/$n/cheat.conf" ] && run_cheat "$n" &
done
wait

# ---------------------------------------------------------------- the next gradings

# After every cheat: the untouched skeleton and the solutions of each chapter,
# JOBS at a time. The skeleton's max_score is what every cheat of the chapter
# must be graded out of.
grade_untouched() {
	local kind=$1 ch=$2
	take_slot
	grade "$kind-$ch" "$(pristine_tree "$kind" "$ch" "$WORK/trees/$kind-$ch")" "$ch" "$WORK/reports/$kind-$ch"
	give_slot
	inspect "$WORK/reports/$kind-$ch" "$g_log" > "$WORK/verdicts/$kind-$ch"
	kill_left "$RUN_ID-$kind-$ch"
}
for ch in "${chapters[@]}"; do
	grade_untouched exercises "$ch" &
	grade_untouched solutions "$ch" &
done
wait

declare -A base_max
for ch in "${chapters[@]}"; do
	read -r s m _ < "$WORK/verdicts/exercises-$ch"
	base_max[$ch]=$m
	[ "$s" = "error:" ] && base_max[$ch]=none
done

# ---------------------------------------------------------------- the verdicts

# beside NAME: the cheats whose gradings overlapped NAME's.
beside() {
	local n=$1 a b o oa ob list=""
	{ read -r a; read -r b; } < "$WORK/verdicts/$n.span"
	for o in "${names[@]}"; do
		[ "$o" != "$n" ] && [ -f "$WORK/verdicts/$o.span" ] || continue
		{ read -r oa; read -r ob; } < "$WORK/verdicts/$o.span"
		[ "$oa" -le "$b" ] && [ "$ob" -ge "$a" ] && list="$list $o"
	done
	[ -n "$list" ] && echo " (graded at the same time as:$list)"
}

for n in "${names[@]}"; do
	cf=$CHEATS/$n/cheat.conf
	if [ ! -f "$cf" ]; then
		not_ok "cheat $n: no harness/cheats/$n/cheat.conf"
		continue
	fi
	ch=$(conf "$cf" CH)
	what=$(conf "$cf" WHAT)
	expect=$(conf "$cf" EXPECT_SCORE)
	expect=${expect:-0}
	read -r secs s m how < "$WORK/verdicts/$n.res"
	mapfile -t why < "$WORK/verdicts/$n.why"
	if [ "$s" != "?" ] && [ "$m" != "${base_max[$ch]:-}" ]; then
		why+=("max_score $m instead of ${base_max[$ch]:-?} (tests dropped or skipped)")
	fi
	if [ -f "$WORK/verdicts/$n.next" ]; then
		read -r ns nm < "$WORK/verdicts/$n.next"
		if [ "$ns" != 0 ] || [ "$nm" != "${base_max[$ch]:-}" ]; then
			why+=("poisons the next grading: the untouched skeleton then scored ${ns}/${nm:-?} in the same checkout")
		fi
	fi
	for i in "${!why[@]}"; do
		case "${why[$i]}" in *BESIDE) why[$i]="${why[$i]%BESIDE}$(beside "$n")" ;; esac
	done
	info="in ${secs}s"
	case "$how" in
	refused:*) info="$info, every test failed for one reason: \"${how#refused:}\"" ;;
	graded) [ "$(conf "$cf" REFUSED)" = yes ] && info="$info, graded (not refused)" ;;
	esac
	if [ ${#why[@]} -eq 0 ]; then
		ok "cheat $n: scored $s/$m (expected $expect) $info - $what"
	else
		reason=$(printf '%s; ' "${why[@]}")
		[ -f "$WORK/logs/$n.log" ] && info="$info; see $WORK/logs/$n.log"
		not_ok "cheat $n: ${reason%; } ($info) - $what"
	fi
done

for ch in "${chapters[@]}"; do
	{ read -r s m how; read -r c; } < "$WORK/verdicts/exercises-$ch"
	if [ "$s" = 0 ] && [ "${m:-0}" -gt 0 ] 2>/dev/null && [ -z "$c" ]; then
		ok "skeleton $ch: scored 0/$m after the cheats"
	else
		not_ok "skeleton $ch: scored ${s:-?}/${m:-?} ${how:-} after the cheats, expected 0/max${c:+; $c} (see $WORK/logs/exercises-$ch.log)"
	fi
	{ read -r s m how; read -r c; } < "$WORK/verdicts/solutions-$ch"
	if [ "$s" != "error:" ] && [ "${m:-0}" -gt 0 ] 2>/dev/null && [ "$s" = "$m" ] && [ "$m" = "${base_max[$ch]:-}" ] && [ -z "$c" ]; then
		ok "solutions $ch: scored full marks, $s/$m, after the cheats"
	else
		not_ok "solutions $ch: scored ${s:-?}/${m:-?} ${how:-} after the cheats, expected ${base_max[$ch]:-?}/${base_max[$ch]:-?}${c:+; $c} (see $WORK/logs/solutions-$ch.log)"
	fi
done

left=$(procs "$RUN_ID-" prefix)
if [ -n "$left" ]; then
	not_ok "leftovers: $(printf '%s\n' "$left" | wc -l) process(es) of this run still there at the end ($(printf '%s\n' "$left" | head -n 1 | cut -d' ' -f2- | cut -c1-40)); killed"
fi
rm -rf "$WORK/trees" "$WORK/pristine" "$WORK/unused" "$WORK/checkouts"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
