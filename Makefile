# Linux asynchronous I/O, chapter by chapter, with graded exercises.
#
#   make deps                    install the Debian/Ubuntu packages (root or sudo)
#   make check [CH=NN] [IMPL=…]  grade exercises/ (or IMPL=solutions, or any tree
#                                laid out like exercises/); exit 0 only at full marks
#   make hint T=NN.MM            a deeper hint for a test that fails: each call one level
#                                more (the man page passage, then the shape of the fix)
#   make compdb                  build/compile_commands.json for clangd (make check writes it too)
#   make progress                your last score in each chapter, and what is next
#   make watch CH=NN             grade chapter NN again each time you save one of its files
#   make grade-class SUBMISSIONS=dir [CH=NN]
#                                (instructors) grade every student's tree in dir (one
#                                directory each): build/class.csv, build/class/<student>/
#   make run CH=NN ARGS="…"      run chapter NN's demo on the graded implementation
#                                (PROG=name runs another program of the chapter)
#   make doctor                  what this machine allows (io_uring, memlock, O_DIRECT…)
#   make test                    the repository's own test (solutions, skeletons, mutants)
#   make test-mutants [ONLY_CHANGED=1]
#                                (developers) every mutant, variant and cheat graded; with
#                                ONLY_CHANGED=1 (CI), not the chapters whose inputs are the
#                                ones their mutants/last-full-run.tsv recorded
#   make bench [FULL=1]          each chapter's batch read beside fio, as ratios, with CPU time
#                                per read (needs fio): quick by default (queue depth 32, 1 s
#                                runs), FULL=1 for queue depths 1, 32 and 128 (QD="…" to choose)
#   make bench IMPL=exercises    your own modules beside the reference's and fio's
#   make bench CH=09             chapter 09's io_uring echo server beside an epoll one
#                                (ECHO_SERVER=path: measure that program instead of IMPL's)
#   make bench CH=11             the capstone's search through every interface, cold (O_DIRECT)
#                                and warm (page cache): queries/s, p50/p99, recall (FULL=1: 100k)
#   make dist                    (instructors) the student edition: build/dist/aio-course.tar.gz,
#                                without solutions, mutants or cheats (checked for leaks)
#   make mutate CH=NN            (developers) operator mutants of chapter NN's reference,
#                                graded; lists the ones no test catches (needs python3)
#   make clean
#
# Options: SAN=1 (AddressSanitizer + UBSan), SEED=N (random inputs), V=1 (show commands),
#          T=NN.MM (make check, make watch: run that one test alone, e.g. T=05.10;
#          exit 0 when it passes).

IMPL ?= exercises
CH ?=
ARGS ?=
SAN ?= 0
export SAN SEED PROG

ROOT := $(CURDIR)
include harness/mk/flags.mk

.PHONY: help deps check test test-mutants run doctor clean tools pkg-vars bench mutate grade-class progress watch hint dist compdb
help:
	@awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' Makefile

deps:
	@harness/deps.sh

tools: build/tools/report build/tools/probe

# The libraries' flags as flags.mk finds them, one VAR=value per line: make
# test hands them to its builds (grade.sh, GRADE_PKG_VARS), which would
# otherwise start pkg-config some 2,000 times.
pkg-vars:
	@printf '%s\n' $(foreach v,$(PKG_VARS),'$(v)=$($(v))')

build/tools/%: harness/tools/%.c harness/lib/tsv.h harness/lib/nop_inject.h
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $< $(if $(filter probe,$*),$(URING_LIBS))

# A grading of exercises/ (all its tests, no COPY= or SERVER=) is also kept
# in build/progress/ for make progress; the exit status is the grading's.
check: build/compile_commands.json
	@ONLY_TEST="$(T)" harness/progress.sh --grade "$(IMPL)" "$(CH)"

# For clangd and other editors (they find it in build/ by themselves):
# written again when a C file of the course is added or changed. Never stops
# a grading.
compdb: build/compile_commands.json
build/compile_commands.json: harness/compdb.sh harness/mk/flags.mk $(wildcard chapters/*/*.c exercises/*/*.c harness/*/*.c)
	@CFLAGS="$(CFLAGS)" harness/compdb.sh || true

progress:
	@harness/progress.sh

hint:
	@harness/hint.sh "$(T)" "$(LEVEL)"

watch:
	@ONLY_TEST="$(T)" exec harness/watch.sh "$(IMPL)" "$(CH)"

grade-class:
	@harness/class.sh "$(SUBMISSIONS)" "$(CH)"

run: build/compile_commands.json
	@harness/run.sh "$(IMPL)" "$(CH)" $(ARGS)

doctor:
	@harness/doctor.sh

# make test: the course builds, grades its reference full and its skeletons
# zero, holds against the cheats; make test-mutants: every mutant loses
# points and every variant has full marks (the long part). CI runs both, the
# second with ONLY_CHANGED=1 (harness/README.md, "The record of a full run").
test test-mutants:
	@if [ -d solutions ]; then PART=$(if $(filter test,$@),quick,mutants) harness/selftest.sh; else \
		echo "make $@ checks the course itself and needs solutions/, which this student edition leaves out: make check grades your work"; exit 2; fi

# The reference unless IMPL is given (a fresh skeleton has nothing to
# measure); in the student edition, the learner's own exercises/.
bench:
	@IMPL="$(if $(filter file,$(origin IMPL)),,$(IMPL))" QD="$(QD)" CH="$(CH)" FULL="$(FULL)" \
		ECHO_SERVER="$(ECHO_SERVER)" harness/bench.sh

dist:
	@if [ -d solutions ]; then harness/dist.sh; else \
		echo "make dist makes the student edition from the full course; this is the student edition already"; exit 2; fi

mutate:
	@test -d solutions || { echo "make mutate changes the course's solutions/, which this student edition leaves out" >&2; exit 2; }
	@test -n "$(CH)" || { echo "make mutate: say which chapter, e.g. make mutate CH=01" >&2; exit 2; }
	@python3 harness/tools/mutate.py "$(CH)" $(if $(JOBS),--jobs $(JOBS)) $(if $(LIMIT),--limit $(LIMIT)) $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf build
