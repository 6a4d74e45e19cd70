# harness/mk/chapter.mk - build one chapter against one implementation tree.
#
# Called by the top-level Makefile and harness/grade.sh, never by hand:
#   make -f harness/mk/chapter.mk ROOT=... CHAPTER=01-blocking IMPL_DIR=... OUT=... [SAN=1] [WERROR=1] TARGET
# Targets: tests (the graded test binary), list (the same tests without the
# implementation: the learner-free list of tests and points, and the report
# when the code does not build), demo, programs, harness (the
# implementation-independent objects only).
#
# The learner's files are compiled with the contract's include path only
# (chapters/common, chapters/NN-topic): never harness/lib, never the course's
# other trees. Each object's dependencies are checked, and the module objects
# are vetted before linking (harness/vet.sh): only the functions the chapter
# allows, no constructors or destructors, no raw system calls, and every
# global the contract does not name (EXPORTS) made local to its object.

ROOT ?= $(CURDIR)
include $(ROOT)/harness/mk/flags.mk
include $(ROOT)/harness/$(CHAPTER)/chapter.mk

NN := $(firstword $(subst -, ,$(CHAPTER)))
CH_DIR := $(ROOT)/chapters/$(CHAPTER)
TEST_DIR := $(ROOT)/harness/$(CHAPTER)
LIB_DIR := $(ROOT)/harness/lib

# The contract headers, for everything. The harness's own objects add
# harness/lib; nothing is ever compiled with the implementation's directory
# on its include path, so no file of a learner's tree can stand in for a
# header of the course or the system.
# A chapter built on earlier ones (BACKEND_SRCS) also sees their contracts.
CONTRACT_DIRS := $(ROOT)/chapters/common $(CH_DIR) $(addprefix $(ROOT)/chapters/,$(sort $(patsubst %/,%,$(dir $(BACKEND_SRCS)))))
CPPFLAGS += $(addprefix -I,$(CONTRACT_DIRS))
HARNESS_CPPFLAGS = $(CPPFLAGS) -I$(LIB_DIR)
VET := $(ROOT)/harness/vet.sh
ALLOWED := $(LIB_DIR)/allowed.txt $(wildcard $(TEST_DIR)/allowed.txt)

MODULE_OBJS := $(addprefix $(OUT)/impl/,$(MODULE_SRCS:.c=.o))
# Modules of earlier chapters this chapter's module drives (chapter 10's
# back-ends): always the reference's, never the learner's earlier work, so
# that a grade depends on this chapter's code alone. Compiled from
# solutions/ when it is there; the student edition (make dist) ships them
# compiled instead, as harness/NN-topic/backends/*.o, never as source.
BACKEND_OBJS = $(addprefix $(HARNESS_OUT)/backends/,$(notdir $(BACKEND_SRCS:.c=.o)))
BACKEND_TESTED_OBJS = $(BACKEND_OBJS:.o=.tested.o)
# The same objects as linked into the tests: their allocator calls renamed to
# the harness's heap accounting (harness/lib/heap.c).
TESTED_OBJS := $(addprefix $(OUT)/impl/,$(MODULE_SRCS:.c=.tested.o))
PROGRAMS := $(addprefix $(OUT)/,$(PROGRAM_SRCS:.c=))
# The harness's objects do not depend on the implementation: built once per
# chapter and flavour, shared by every tree graded (an instructor's class, the
# mutants of make test).
# (The same objects under SAN=1: they are compiled without the sanitizers,
# flags.mk's HARNESS_CFLAGS.)
HARNESS_OUT := $(ROOT)/build/harness/plain$(if $(filter 1,$(WERROR)),-werror)/$(CHAPTER)
# grade.o carries the chapter's number and title; the rest of harness/lib is
# the same for every chapter, built once per flavour and shared.
HARNESS_SHARED := $(dir $(HARNESS_OUT))shared
LIB_OBJS := $(HARNESS_OUT)/lib/grade.o $(addprefix $(HARNESS_SHARED)/lib/,seams.o faults.o heap.o prog.o tasks.o)
# The course's own code of a chapter (COURSE_SRCS, chapters/NN-topic/*.c:
# chapter 11's index format and builder): trusted like the harness, linked
# into the tests and the demo, called by the learner's module through the
# contract. Not heap-accounted: its blocks are not the learner's.
COURSE_OBJS := $(addprefix $(HARNESS_OUT)/course/,$(COURSE_SRCS:.c=.o))
TEST_OBJS := $(HARNESS_OUT)/tests.o $(LIB_OBJS) $(COURSE_OBJS)
DEMO_OBJS := $(addprefix $(OUT)/demo-obj/,$(DEMO_SRCS:.c=.o))
# Stand-alone programs of the lesson (chapters/NN-topic/name.c -> name), built
# beside the demo and run with make run CH=NN PROG=name.
EXTRA_DEMOS := $(addprefix $(OUT)/,$(EXTRA_DEMO_SRCS:.c=))

CH_PKG_CFLAGS = $(eval CH_PKG_CFLAGS := $$(if $$(strip $$(CHAPTER_PKGS)),$$(shell pkg-config --cflags $$(CHAPTER_PKGS))))$(CH_PKG_CFLAGS)
CH_PKG_LIBS = $(eval CH_PKG_LIBS := $$(if $$(strip $$(CHAPTER_PKGS)),$$(shell pkg-config --libs $$(CHAPTER_PKGS))))$(CH_PKG_LIBS)
CPPFLAGS += $(CH_PKG_CFLAGS)
TEST_LIBS = $(CH_PKG_LIBS) $(CRITERION_LIBS) $(URING_LIBS) $(AIO_LIBS) -lpthread
MODULE_LIBS = $(CH_PKG_LIBS) $(URING_LIBS) $(AIO_LIBS) -lpthread

.PHONY: tests list demo programs harness
tests: $(OUT)/tests
harness: $(TEST_OBJS) $(HARNESS_OUT)/wrap-flags $(BACKEND_TESTED_OBJS)
list: $(HARNESS_OUT)/list.tsv
demo: $(if $(DEMO_SRCS),$(OUT)/demo) $(EXTRA_DEMOS)
programs: $(PROGRAMS)

$(HARNESS_OUT)/wrap-flags: $(LIB_DIR)/wrap-flags.in $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) -E -P -x c -I$(LIB_DIR) $< | tr -s ' \n' '  ' > $@.$$$$.tmp && mv $@.$$$$.tmp $@

$(OUT)/tests: $(TEST_OBJS) $(TESTED_OBJS) $(BACKEND_TESTED_OBJS) $(HARNESS_OUT)/wrap-flags
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $$(cat $(HARNESS_OUT)/wrap-flags) -o $@ $(TEST_OBJS) $(TESTED_OBJS) $(BACKEND_TESTED_OBJS) $(TEST_LIBS)

# The test list without the implementation: its symbols stay unresolved and
# are never called (only --grade-list-failed runs). Not position-independent:
# in a PIE the loader refuses the unresolved entries ("unexpected PLT reloc").
# Built once per chapter and flavour beside the harness's objects, with the
# list it prints: no learner code is ever linked into it.
$(HARNESS_OUT)/list: $(TEST_OBJS) $(HARNESS_OUT)/wrap-flags
	$(Q)$(CC) $(HARNESS_CFLAGS) $(LDFLAGS) -no-pie $$(cat $(HARNESS_OUT)/wrap-flags) -Wl,--unresolved-symbols=ignore-all -o $@.$$$$.tmp $(TEST_OBJS) $(TEST_LIBS) && mv $@.$$$$.tmp $@

$(HARNESS_OUT)/list.tsv: $(HARNESS_OUT)/list
	$(Q)$< --grade-list-failed "not graded" > $@.$$$$.tmp && mv $@.$$$$.tmp $@

# Where the list is, for grade.sh.
.PHONY: list-path
list-path:
	@echo $(HARNESS_OUT)/list.tsv

$(OUT)/demo: $(DEMO_OBJS) $(MODULE_OBJS) $(BACKEND_OBJS) $(COURSE_OBJS)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MODULE_LIBS)

$(EXTRA_DEMOS): $(OUT)/%: $(CH_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(MODULE_LIBS)

# A program of the exercise: its own main plus the module, if it uses it.
$(OUT)/%: $(OUT)/impl/%.o $(MODULE_OBJS)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(MODULE_OBJS) $(MODULE_LIBS)

# A file of the implementation: compiled, its dependencies checked (nothing
# outside the system headers, the contract and its own directory), and, for
# a module linked into the tests, vetted and its non-contract globals made
# local. A program (with its own main) runs as a separate process: checked,
# not vetted.
$(OUT)/impl/%.unvetted.o: $(IMPL_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MD -MF $(@:.o=.d) -c -o $@ $<
	$(Q)$(VET) deps $(@:.o=.d) $(IMPL_DIR) $(CONTRACT_DIRS)

$(MODULE_OBJS): $(OUT)/impl/%.o: $(OUT)/impl/%.unvetted.o $(VET) $(ALLOWED)
	$(Q)$(VET) object $< $@ "$(EXPORTS)" $(if $(filter 1,$(SAN)),--sanitized) $(ALLOWED)

$(TESTED_OBJS): $(OUT)/impl/%.tested.o: $(OUT)/impl/%.o $(LIB_DIR)/heap.redefine
	$(Q)objcopy --redefine-syms=$(LIB_DIR)/heap.redefine $< $@

$(addprefix $(OUT)/impl/,$(PROGRAM_SRCS:.c=.o)): $(OUT)/impl/%.o: $(OUT)/impl/%.unvetted.o
	$(Q)cp $< $@

# The back-ends: trusted objects like the harness's, one set per flavour.
$(HARNESS_OUT)/backends/%.tested.o: $(HARNESS_OUT)/backends/%.o $(LIB_DIR)/heap.redefine
	$(Q)objcopy --redefine-syms=$(LIB_DIR)/heap.redefine $< $@.$$$$.tmp && mv $@.$$$$.tmp $@
# Three cases, per back-end: its source in solutions/ is there (the course:
# compile it), the edition's compiled copy is there (copy it), or neither is
# visible (the learner's sandboxed build: the object was made before it,
# outside, by the target harness).
define backend_rule
ifneq ($(wildcard $(ROOT)/solutions/$(1)),)
$(HARNESS_OUT)/backends/$(notdir $(1:.c=.o)): $(ROOT)/solutions/$(1) $(wildcard $(ROOT)/chapters/$(dir $(1))*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CPPFLAGS) $$(HARNESS_CFLAGS) -c -o $$@.$$$$$$$$.tmp $$< && mv $$@.$$$$$$$$.tmp $$@
else ifneq ($(wildcard $(TEST_DIR)/backends/$(notdir $(1:.c=.o))),)
$(HARNESS_OUT)/backends/$(notdir $(1:.c=.o)): $(TEST_DIR)/backends/$(notdir $(1:.c=.o))
	@mkdir -p $$(@D)
	$$(Q)cp $$< $$@
endif
endef
$(foreach b,$(BACKEND_SRCS),$(eval $(call backend_rule,$(b))))

# For make dist: the back-end objects, to ship in the student edition.
.PHONY: backends
backends: $(BACKEND_OBJS)
	@echo $(BACKEND_OBJS)

$(OUT)/demo-obj/%.o: $(CH_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(HARNESS_OUT)/course/%.o: $(CH_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(HARNESS_CFLAGS) -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@

# Shared objects are written under a temporary name and renamed, so two
# gradings started at once never see half a file.
$(HARNESS_OUT)/tests.o: $(TEST_DIR)/tests.c $(wildcard $(CH_DIR)/*.h $(LIB_DIR)/*.h $(TEST_DIR)/*.h) $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) $(HARNESS_CPPFLAGS) $(CRITERION_CFLAGS) $(HARNESS_CFLAGS) \
		-DGRADE_CHAPTER='"$(NN)"' -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@

$(HARNESS_OUT)/lib/%.o: $(LIB_DIR)/%.c $(wildcard $(LIB_DIR)/*.h) $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) $(HARNESS_CPPFLAGS) $(CRITERION_CFLAGS) $(HARNESS_CFLAGS) \
		-DGRADE_CHAPTER='"$(NN)"' -DGRADE_CHAPTER_TITLE='"$(CHAPTER_TITLE)"' -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@

# Without the chapter's include path or macros: nothing chapter-specific can
# reach an object that every chapter links.
$(HARNESS_SHARED)/lib/%.o: $(LIB_DIR)/%.c $(wildcard $(LIB_DIR)/*.h) $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) -I$(ROOT)/chapters/common -I$(LIB_DIR) $(CRITERION_CFLAGS) $(HARNESS_CFLAGS) -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@

# The files of the implementation tree that the chapter grades (grade.sh
# copies these, and nothing else, from the learner's tree).
.PHONY: sources
sources:
	@echo $(MODULE_SRCS) $(PROGRAM_SRCS)
