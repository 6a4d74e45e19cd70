# harness/mk/flags.mk - compiler flags and libraries, shared by every build.
CC ?= cc
# -U_FORTIFY_SOURCE: Ubuntu's compiler fortifies by default, which turns
# read() into __read_chk() and would slip past the link seams.
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -U_FORTIFY_SOURCE -pthread
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
# The grader's own objects (the tests, harness/lib, the course's code and
# chapter 10's back-ends) are built with these alone, also under SAN=1: the
# sanitizers watch the learner's code, which is compiled with them, while
# the run-time (linked in, its malloc and its checks of what libc's
# functions write) sees every block, whoever allocated it. One build of the
# harness serves both flavours.
HARNESS_CFLAGS := $(CFLAGS)
# DEBUG_INFO=0: the implementation without -g (make test's mutants, built by
# the hundred and never debugged): GCC's code is the same with or without
# debug information (-fcompare-debug checks exactly that), and a third of
# the compile's time goes. The harness's objects keep theirs.
ifeq ($(DEBUG_INFO),0)
CFLAGS := $(filter-out -g,$(CFLAGS))
endif
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1
endif
LDFLAGS :=
# Each asked of pkg-config the first time it is used, then kept
# ($(eval ...) turns the variable into a simple one): a make that only
# prints a file list or finds everything up to date starts no shell.
CRITERION_CFLAGS = $(eval CRITERION_CFLAGS := $$(shell pkg-config --cflags criterion 2>/dev/null))$(CRITERION_CFLAGS)
CRITERION_LIBS = $(eval CRITERION_LIBS := $$(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion))$(CRITERION_LIBS)
URING_LIBS = $(eval URING_LIBS := $$(shell pkg-config --libs liburing 2>/dev/null || echo -luring))$(URING_LIBS)
# Debian 12 ships libaio without a pkg-config file; Ubuntu 24.04 has none either.
AIO_LIBS = $(eval AIO_LIBS := $$(shell pkg-config --libs libaio 2>/dev/null || echo -laio))$(AIO_LIBS)
# The variables above, for make pkg-vars (a library added here is handed on
# to make test's builds with the others).
PKG_VARS := CRITERION_CFLAGS CRITERION_LIBS URING_LIBS AIO_LIBS
Q := $(if $(V),,@)
