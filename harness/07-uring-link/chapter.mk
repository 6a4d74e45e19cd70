# Chapter 07: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := io_uring linking, timeouts, cancellation
# Files of the implementation tree (exercises/07-uring-link/,
# solutions/07-uring-link/, or a student's copy) linked into the tests and the demo.
MODULE_SRCS := ulink.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := ulink_init ulink_read_timeout ulink_start_read ulink_cancel_all ulink_copy ulink_exit
# Programs of the implementation tree with a main() (name.c -> name), tested from
# outside: lcopy SRC DST, linked with the module (it calls ulink_copy()).
PROGRAM_SRCS := lcopy.c
# The demo, from chapters/07-uring-link/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson: the tour of links, timeouts and
# cancellation in plain liburing (make run CH=07 PROG=tour).
EXTRA_DEMO_SRCS := tour.c
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
