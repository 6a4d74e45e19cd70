# harness/mk/chapter.mk - build one chapter against one implementation tree.
#
# Called by the top-level Makefile and harness/grade.sh, never by hand:
#   make -f harness/mk/chapter.mk ROOT=... CHAPTER=01-blocking IMPL_DIR=... OUT=... [SAN=1] [WERROR=1] TARGET
# Targets: tests (the graded test binary), list (the same tests without the
# implementation, to report them when it does not build), demo, programs,
# harness (the implementation-independent objects only).

ROOT ?= $(CURDIR)
include $(ROOT)/harness/mk/flags.mk
include $(ROOT)/harness/$(CHAPTER)/chapter.mk

NN := $(firstword $(subst -, ,$(CHAPTER)))
CH_DIR := $(ROOT)/chapters/$(CHAPTER)
TEST_DIR := $(ROOT)/harness/$(CHAPTER)
LIB_DIR := $(ROOT)/harness/lib

# The contract headers come first, so a header left in the implementation
# tree cannot replace them.
CPPFLAGS += -I$(ROOT)/chapters/common -I$(CH_DIR) -I$(LIB_DIR) -I$(IMPL_DIR)

MODULE_OBJS := $(addprefix $(OUT)/impl/,$(MODULE_SRCS:.c=.o))
PROGRAMS := $(addprefix $(OUT)/,$(PROGRAM_SRCS:.c=))
# The harness's objects do not depend on the implementation: built once per
# chapter and flavour, shared by every tree graded (an instructor's class, the
# mutants of make test).
HARNESS_OUT := $(ROOT)/build/harness/$(if $(filter 1,$(SAN)),san,plain)$(if $(filter 1,$(WERROR)),-werror)/$(CHAPTER)
LIB_OBJS := $(addprefix $(HARNESS_OUT)/lib/,grade.o seams.o faults.o)
TEST_OBJS := $(HARNESS_OUT)/tests.o $(LIB_OBJS)
DEMO_OBJS := $(addprefix $(OUT)/demo-obj/,$(DEMO_SRCS:.c=.o))
# Stand-alone programs of the lesson (chapters/NN-topic/name.c -> name), built
# beside the demo and run with make run CH=NN PROG=name.
EXTRA_DEMOS := $(addprefix $(OUT)/,$(EXTRA_DEMO_SRCS:.c=))

CH_PKG_CFLAGS := $(if $(strip $(CHAPTER_PKGS)),$(shell pkg-config --cflags $(CHAPTER_PKGS)))
CH_PKG_LIBS := $(if $(strip $(CHAPTER_PKGS)),$(shell pkg-config --libs $(CHAPTER_PKGS)))
CPPFLAGS += $(CH_PKG_CFLAGS)
TEST_LIBS := $(CH_PKG_LIBS) $(CRITERION_LIBS) $(URING_LIBS) $(AIO_LIBS) -lpthread
MODULE_LIBS := $(CH_PKG_LIBS) $(URING_LIBS) $(AIO_LIBS) -lpthread

.PHONY: tests list demo programs harness
tests: $(OUT)/tests
harness: $(TEST_OBJS) $(HARNESS_OUT)/wrap-flags
list: $(OUT)/list
demo: $(if $(DEMO_SRCS),$(OUT)/demo) $(EXTRA_DEMOS)
programs: $(PROGRAMS)

$(HARNESS_OUT)/wrap-flags: $(LIB_DIR)/wrap-flags.in $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) -E -P -x c -I$(LIB_DIR) $< | tr -s ' \n' '  ' > $@.$$$$.tmp && mv $@.$$$$.tmp $@

$(OUT)/tests: $(TEST_OBJS) $(MODULE_OBJS) $(HARNESS_OUT)/wrap-flags
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $$(cat $(HARNESS_OUT)/wrap-flags) -o $@ $(TEST_OBJS) $(MODULE_OBJS) $(TEST_LIBS)

# The test list without the implementation: its symbols stay unresolved and
# are never called (only --grade-list-failed runs). Not position-independent:
# in a PIE the loader refuses the unresolved entries ("unexpected PLT reloc").
$(OUT)/list: $(TEST_OBJS) $(HARNESS_OUT)/wrap-flags
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -no-pie $$(cat $(HARNESS_OUT)/wrap-flags) -Wl,--unresolved-symbols=ignore-all -o $@ $(TEST_OBJS) $(TEST_LIBS)

$(OUT)/demo: $(DEMO_OBJS) $(MODULE_OBJS)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(MODULE_LIBS)

$(EXTRA_DEMOS): $(OUT)/%: $(CH_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(MODULE_LIBS)

# A program of the exercise: its own main plus the module, if it uses it.
$(OUT)/%: $(OUT)/impl/%.o $(MODULE_OBJS)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(MODULE_OBJS) $(MODULE_LIBS)

$(OUT)/impl/%.o: $(IMPL_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(OUT)/demo-obj/%.o: $(CH_DIR)/%.c $(wildcard $(CH_DIR)/*.h) $(ROOT)/chapters/common/batch.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Shared objects are written under a temporary name and renamed, so two
# gradings started at once never see half a file.
$(HARNESS_OUT)/tests.o: $(TEST_DIR)/tests.c $(wildcard $(CH_DIR)/*.h $(LIB_DIR)/*.h $(TEST_DIR)/*.h) $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CRITERION_CFLAGS) $(CFLAGS) -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@

$(HARNESS_OUT)/lib/%.o: $(LIB_DIR)/%.c $(wildcard $(LIB_DIR)/*.h) $(LIB_DIR)/seams.def
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CRITERION_CFLAGS) $(CFLAGS) \
		-DGRADE_CHAPTER='"$(NN)"' -DGRADE_CHAPTER_TITLE='"$(CHAPTER_TITLE)"' -c -o $@.$$$$.tmp $< && mv $@.$$$$.tmp $@
