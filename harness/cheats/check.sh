#!/usr/bin/env bash
# harness/cheats/check.sh - grade the cheat submissions through the real make check.
#
#   harness/cheats/check.sh [NAME...]        (every harness/cheats/*/ without NAMEs)
#
# Each harness/cheats/NAME/ is a student's tree (NN-topic/<files>, the skeleton
# with a trick added), a cheat.conf (CH=NN, WHAT="...", EXPECT_SCORE=N,
# REFUSED=yes|no, optional FRESH_HARNESS=yes, SECONDS_MAX=N) and optionally
# an executable setup.sh, run with the copy's path as $1 (FIFOs, sparse files:
# what git cannot store). The copy in build/cheats/NAME is graded as an
# autograder does: `make check CH=NN IMPL=... || true`, then
# build/reports/results.json is read. A cheat passes ("ok") only if:
#   - results.json (UTF-8 JSON) and junit.xml parse, and their text carries no
#     control or escape characters;
#   - score == EXPECT_SCORE, and max_score == the untouched skeleton's;
#   - the console output is valid UTF-8, without escapes, at most 1 MiB;
#   - neither the console nor the reports quote /etc/shadow or solutions/;
#   - the grading ended by itself within SECONDS_MAX (default 90 s; make
#     check is killed at CHEAT_TIMEOUT, 300 s) and no process of it used more
#     than 1 GiB;
#   - 3 s later no process is left whose argv contains "cheat-" or that runs
#     a program built from the cheat (they are killed after the report);
#   - the course's files are unchanged (git status, and a hash of every file
#     of chapters/ exercises/ solutions/ harness/ Makefile README.md);
#   - the next grading in the same checkout, the untouched skeleton of the
#     chapter, still scores 0 of the same max.
# A course file a cheat changed is reported (and restored from the snapshot
# only with CHEAT_RESTORE=1: a developer may be editing the checkout while
# make test runs); build/tools and build/harness are removed (rebuilt by the
# next make check) after a poisoning, so that one cheat's success does not
# decide the next one's verdict.
#
# Then the untouched skeleton of every chapter used must score 0 of the same
# max, and the solutions full marks. Last line: "N passed, N failed"; exit 0
# only if none failed.
#
# Environment: REPORTS (where grade.sh writes; default build/reports),
# CHEAT_TIMEOUT (300), CHEAT_SECONDS_MAX (90), CHEAT_MEM_MAX_MB (1024),
# CHEAT_VMEM_KB (4194304: virtual memory cap of every process of a grading,
# so that a compiler reading /dev/zero cannot take the machine; 0: none),
# CHEAT_CONSOLE_MAX (1048576 bytes), CHEAT_GRACE (3 s).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
CHEATS=$ROOT/harness/cheats
WORK=$ROOT/build/cheats
REPORTS=${REPORTS:-$ROOT/build/reports}
TIMEOUT=${CHEAT_TIMEOUT:-300}
SECONDS_MAX_DEFAULT=${CHEAT_SECONDS_MAX:-90}
MEM_MAX_MB=${CHEAT_MEM_MAX_MB:-1024}
VMEM_KB=${CHEAT_VMEM_KB:-4194304}
CONSOLE_MAX=${CHEAT_CONSOLE_MAX:-1048576}
GRACE=${CHEAT_GRACE:-3}
PROTECTED=(chapters exercises solutions harness Makefile README.md)
PY=${PYTHON:-python3}
# Names this run's gradings in their environment (see procs).
RUN_ID=$$.$(date +%s%N)
unset CHEATS_RUN

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok $*"; }
not_ok() { failed=$((failed + 1)); echo "not_ok $*"; }

command -v "$PY" >/dev/null 2>&1 || { echo "check.sh: python3 is needed"; echo "0 passed, 1 failed"; exit 1; }
TIME=$(command -v time 2>/dev/null | grep / || true)
[ -x /usr/bin/time ] && TIME=/usr/bin/time
mkdir -p "$WORK/logs" "$WORK/.pristine"

# conf FILE KEY: the value of KEY= in a cheat.conf, quotes removed (not sourced).
conf() {
	sed -n "s/^$2=//p" "$1" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

chapter_dir() { (cd "$ROOT/exercises" && ls -d "$1"-* 2>/dev/null | head -n 1); }

# ---------------------------------------------------------------- helpers in python

# results DIR: "score max graded|refused:REASON" from DIR/results.json and DIR/junit.xml, or
# "error: why" (on stdout, one line).
results() {
	"$PY" - "$1" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
bad = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f]')
try:
    with open(d + "/results.json", encoding="utf-8", errors="strict") as fp:
        r = json.load(fp)
except FileNotFoundError:
    print("error: no results.json"); sys.exit()
except Exception as e:
    print("error: results.json does not parse (%s)" % str(e).splitlines()[0][:100]); sys.exit()
try:
    ET.parse(d + "/junit.xml")
except FileNotFoundError:
    print("error: no junit.xml"); sys.exit()
except Exception as e:
    print("error: junit.xml does not parse (%s)" % str(e).splitlines()[0][:100]); sys.exit()
try:
    score, mx = int(r["score"]), int(r["max_score"])
except Exception:
    print("error: results.json has no score/max_score"); sys.exit()
texts = [str(r.get("output", ""))]
tests = r.get("tests", []) or []
for t in tests:
    texts += [str(t.get(k, "")) for k in ("name", "output")]
for t in texts:
    if bad.search(t):
        print("error: results.json quotes control characters (%r)" % bad.search(t).group(0)); sys.exit()
with open(d + "/junit.xml", "rb") as fp:
    if re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", fp.read()):
        print("error: junit.xml carries control characters"); sys.exit()
# refused: every test failed, all for one and the same reason (the build's,
# or a runner that died before any test); its first line, shortened
outs = {str(t.get("output", "")) for t in tests}
refused = bool(tests) and all(t.get("status") == "failed" for t in tests) and len(outs) == 1
if refused:
    print(score, mx, "refused:" + " ".join(outs.pop().split("\n")[0].split())[:70])
else:
    print(score, mx, "graded")
PY
}

# console LOG: problems of the console output, one line, or nothing.
console() {
	"$PY" - "$1" "$CONSOLE_MAX" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
why = []
if len(data) > int(sys.argv[2]):
    why.append("console output of %.1f MB" % (len(data) / 1e6))
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    why.append("invalid UTF-8 on the console (byte 0x%02x)" % data[e.start])
    text = data.decode("utf-8", "replace")
m = re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
if m:
    why.append("control characters on the console (%r)" % m.group(0))
print("; ".join(why))
PY
}

# leaks FILE...: what of /etc/shadow or solutions/ the files quote, or nothing.
leaks() {
	"$PY" - "$WORK/.markers" "$@" <<'PY'
import sys
markers = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1], encoding="utf-8") if "\t" in l]
found = []
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    for what, text in markers:
        if text.encode() in data and what not in found:
            found.append(what)
print(("quotes " + " and ".join(found)) if found else "")
PY
}

# markers: lines of the reference solutions that the skeletons do not have,
# and the first line of /etc/shadow if this user can read it.
make_markers() {
	"$PY" - "$ROOT" > "$WORK/.markers" <<'PY'
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
PY
}

# procs LABEL: what is left of the grading LABEL, "pid argv" per line. Every
# grading runs with CHEATS_RUN=<this run>-<label> in its environment, which
# its processes inherit: a process that still has it is a leftover, whatever
# its name. So is a process named like the cheats' own ("cheat-..." as argv[0])
# that has no CHEATS_RUN at all (its environment scrubbed). Processes of other
# gradings (make test's mutants named cheat-*, another run of this script)
# are never listed, so never killed.
procs() {
	"$PY" - "$RUN_ID-$1" <<'PY'
import os, sys
mine = b"CHEATS_RUN=" + sys.argv[1].encode()
me = {os.getpid(), os.getppid()}
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) in me:
        continue
    try:
        argv = open("/proc/%s/cmdline" % pid, "rb").read()
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
    except OSError:
        continue
    ours = mine in env
    marked = argv.startswith(b"cheat-") and not any(e.startswith(b"CHEATS_RUN=") for e in env)
    if ours or marked:
        print(pid, argv.replace(b"\0", b" ").decode("utf-8", "replace").strip()[:80])
PY
}

# state: a fingerprint of every course file (type, mode, content, link target).
state() {
	"$PY" - "$ROOT" "${PROTECTED[@]}" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
os.chdir(root)
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
	git -c safe.directory="$ROOT" -C "$ROOT" status --porcelain --untracked-files=all -- "${PROTECTED[@]}" 2>/dev/null
}

# snapshot DIR: the course files as they are now, to compare and restore.
snapshot() {
	rm -rf "$1" && mkdir -p "$1"
	tar -C "$ROOT" -cf "$1/files.tar" "${PROTECTED[@]}" 2>/dev/null
	state > "$1/state"
	git_state > "$1/git"
}

# changed SNAP: the paths that differ from the snapshot, one per line.
changed() {
	state > "$1/state.after"
	diff "$1/state" "$1/state.after" | sed -n 's/^[<>] //p' | awk '{ print $1 }' | sort -u
}

# restore SNAP PATH...: put back those course files as the snapshot had them.
restore() {
	local snap=$1 p
	shift
	for p in "$@"; do
		rm -rf "${ROOT:?}/$p"
		tar -C "$ROOT" -xmf "$snap/files.tar" "$p" 2>/dev/null || true
	done
}

# clean_shared: drop the build products shared between gradings.
clean_shared() { rm -rf "$ROOT/build/tools" "$ROOT/build/harness"; }

# kill_left LABEL: SIGKILL the leftovers of the grading LABEL, by pid.
kill_left() {
	local pid _
	while read -r pid _; do
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	done < <(procs "$1")
}

# grade LABEL TREE CH: make check of TREE, chapter CH, as an autograder runs it.
# Sets g_rc, g_secs, g_mem (KB), g_log.
grade() {
	local label=$1 tree=$2 ch=$3 start memf
	g_log=$WORK/logs/$label.log
	memf=$WORK/logs/$label.mem
	rm -f "$REPORTS/results.json" "$REPORTS/junit.xml" "$memf"
	start=$(date +%s)
	(
		export CHEATS_RUN="$RUN_ID-$label"
		[ "$VMEM_KB" != 0 ] && ulimit -v "$VMEM_KB"
		if [ -n "$TIME" ]; then
			exec "$TIME" -f '%M' -o "$memf" timeout -k 10 "$TIMEOUT" \
				make --no-print-directory -C "$ROOT" check CH="$ch" IMPL="$tree"
		else
			exec timeout -k 10 "$TIMEOUT" make --no-print-directory -C "$ROOT" check CH="$ch" IMPL="$tree"
		fi
	) < /dev/null > "$g_log" 2>&1
	g_rc=$?
	g_secs=$(($(date +%s) - start))
	g_mem=$(grep -E '^[0-9]+$' "$memf" 2>/dev/null | tail -n 1)
	g_mem=${g_mem:-0}
}

# pristine_tree KIND CH: a fresh copy of exercises/ or solutions/ for chapter CH
# (from the copy taken at the start), graded as an untouched tree.
pristine_tree() {
	local kind=$1 ch=$2 c
	c=$(chapter_dir "$ch")
	rm -rf "${WORK:?}/_$kind-$ch" && mkdir -p "$WORK/_$kind-$ch"
	cp -a "$WORK/.pristine/$kind/$c" "$WORK/_$kind-$ch/$c"
	echo "$WORK/_$kind-$ch"
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
for n in "${names[@]}"; do
	if [ ! -f "$CHEATS/$n/cheat.conf" ]; then
		not_ok "cheat $n: no harness/cheats/$n/cheat.conf"
		continue
	fi
	ch=$(conf "$CHEATS/$n/cheat.conf" CH)
	case " ${chapters[*]-} " in *" $ch "*) ;; *) chapters+=("$ch") ;; esac
done

make_markers
for kind in exercises solutions; do
	rm -rf "${WORK:?}/.pristine/$kind" && mkdir -p "$WORK/.pristine/$kind"
	for ch in "${chapters[@]}"; do
		c=$(chapter_dir "$ch")
		[ -n "$c" ] && cp -a "$ROOT/$kind/$c" "$WORK/.pristine/$kind/$c"
	done
done

# The untouched skeleton of each chapter, once: its max_score is what every
# cheat of the chapter must be graded out of.
declare -A base_max
for ch in "${chapters[@]}"; do
	grade "baseline-$ch" "$(pristine_tree exercises "$ch")" "$ch"
	read -r s m how <<< "$(results "$REPORTS")"
	if [ "$s" = "error:" ]; then
		not_ok "baseline $ch: the untouched skeleton's reports: $s $m $how (see $g_log)"
		base_max[$ch]=none
	elif [ "$s" != 0 ] || [ "$m" -le 0 ]; then
		not_ok "baseline $ch: the untouched skeleton scored $s/$m (see $g_log)"
		base_max[$ch]=$m
	else
		base_max[$ch]=$m
		echo "#      baseline $ch: the untouched skeleton scores 0/$m (${g_secs}s)"
	fi
done

for n in "${names[@]}"; do
	cf=$CHEATS/$n/cheat.conf
	[ -f "$cf" ] || continue
	ch=$(conf "$cf" CH)
	what=$(conf "$cf" WHAT)
	expect=$(conf "$cf" EXPECT_SCORE)
	expect=${expect:-0}
	refused_expected=$(conf "$cf" REFUSED)
	secs_max=$(conf "$cf" SECONDS_MAX)
	secs_max=${secs_max:-$SECONDS_MAX_DEFAULT}
	why=()

	tree=$WORK/$n
	rm -rf "${tree:?}" && mkdir -p "$tree"
	for d in "$CHEATS/$n"/[0-9][0-9]-*; do
		[ -e "$d" ] || [ -L "$d" ] || continue
		cp -a "$d" "$tree/"
	done
	if [ -x "$CHEATS/$n/setup.sh" ] && ! "$CHEATS/$n/setup.sh" "$tree" > "$WORK/logs/$n.setup" 2>&1; then
		not_ok "cheat $n: its setup.sh failed (see $WORK/logs/$n.setup) - $what"
		continue
	fi
	[ "$(conf "$cf" FRESH_HARNESS)" = yes ] && clean_shared  # as a first grading after make clean

	snapshot "$WORK/.snap"
	grade "$n" "$tree" "$ch"
	secs=$g_secs rc=$g_rc mem=$g_mem log=$g_log
	sleep "$GRACE"

	read -r s m how <<< "$(results "$REPORTS")"
	if [ "$s" = "error:" ]; then
		why+=("${s} ${m} ${how}")
		s="?"; m="?"
	else
		[ "$s" = "$expect" ] || why+=("scored $s/$m, expected $expect")
		[ "$m" = "${base_max[$ch]:-}" ] || why+=("max_score $m instead of ${base_max[$ch]:-?} (tests dropped or skipped)")
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$secs" -ge "$TIMEOUT" ]; then
		why+=("hung: make check killed after ${TIMEOUT}s")
	elif [ "$secs" -gt "$secs_max" ]; then
		why+=("the grading took ${secs}s (limit ${secs_max}s)")
	fi
	[ "$mem" -gt $((MEM_MAX_MB * 1024)) ] && why+=("a process of the grading used $((mem / 1024)) MB")
	c=$(console "$log")
	[ -n "$c" ] && why+=("$c")
	c=$(leaks "$log" "$REPORTS/results.json" "$REPORTS/junit.xml")
	[ -n "$c" ] && why+=("$c")
	left=$(procs "$n")
	if [ -n "$left" ]; then
		count=$(printf '%s\n' "$left" | wc -l)
		why+=("left $count process(es) behind ($(printf '%s\n' "$left" | head -n 1 | cut -d' ' -f2- | cut -c1-40))")
	fi
	git_after=$(git_state)
	files=$(changed "$WORK/.snap")
	if [ "$git_after" != "$(cat "$WORK/.snap/git")" ] || [ -n "$files" ]; then
		why+=("changed the course's files: $(printf '%s ' $files | cut -c1-120)")
	fi

	# The next student: the untouched skeleton, graded in the same checkout.
	kill_left "$n"
	grade "$n.next" "$(pristine_tree exercises "$ch")" "$ch"
	read -r ns nm _ <<< "$(results "$REPORTS")"
	if [ "$ns" != 0 ] || [ "$nm" != "${base_max[$ch]:-}" ]; then
		why+=("poisons the next grading: the untouched skeleton then scored ${ns}/${nm:-?}")
		clean_shared
	fi
	# A changed course file is reported (above), and put back only when
	# asked: someone may be editing the checkout while make test runs, and
	# their work must not be undone by a test.
	if [ -n "$files" ] && [ -n "${CHEAT_RESTORE:-}" ]; then
		# shellcheck disable=SC2086
		restore "$WORK/.snap" $files
		clean_shared
	elif [ -n "$files" ]; then
		snapshot "$WORK/.snap"
	fi
	kill_left "$n"

	info="in ${secs}s"
	case "$how" in
	refused:*) info="$info, every test failed for one reason: \"${how#refused:}\"" ;;
	graded) [ "$refused_expected" = yes ] && info="$info, graded (not refused)" ;;
	esac
	if [ ${#why[@]} -eq 0 ]; then
		ok "cheat $n: scored $s/$m (expected $expect) $info - $what"
	else
		reason=$(printf '%s; ' "${why[@]}")
		not_ok "cheat $n: ${reason%; } ($info) - $what"
	fi
	# Keep the logs small (a flood is 50 MB).
	for f in "$log" "$WORK/logs/$n.next.log"; do
		[ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 1048576 ] && truncate -s 1048576 "$f"
	done
	rm -rf "${tree:?}"  # sparse files and FIFOs go with it
done

# ---------------------------------------------------------------- the next gradings

for ch in "${chapters[@]}"; do
	grade "skeleton-$ch" "$(pristine_tree exercises "$ch")" "$ch"
	read -r s m how <<< "$(results "$REPORTS")"
	c=$(console "$g_log")
	if [ "$s" = 0 ] && [ "$m" = "${base_max[$ch]:-}" ] && [ -z "$c" ]; then
		ok "skeleton $ch: scored 0/$m after the cheats, as before them"
	else
		not_ok "skeleton $ch: scored ${s:-?}/${m:-?} ${how:-} after the cheats, expected 0/${base_max[$ch]:-?}${c:+; $c} (see $g_log)"
	fi
	grade "solutions-$ch" "$(pristine_tree solutions "$ch")" "$ch"
	read -r s m how <<< "$(results "$REPORTS")"
	c=$(console "$g_log")
	if [ "$s" != "error:" ] && [ "${m:-0}" -gt 0 ] && [ "$s" = "$m" ] && [ "$m" = "${base_max[$ch]:-}" ] && [ -z "$c" ]; then
		ok "solutions $ch: scored full marks, $s/$m, after the cheats"
	else
		not_ok "solutions $ch: scored ${s:-?}/${m:-?} ${how:-} after the cheats, expected ${base_max[$ch]:-?}/${base_max[$ch]:-?}${c:+; $c} (see $g_log)"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
