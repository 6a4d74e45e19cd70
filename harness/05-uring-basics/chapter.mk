# Chapter 05: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := io_uring basics
# Files of the implementation tree (exercises/05-uring-basics/, solutions/05-uring-basics/,
# or a student's copy) linked into the tests and the demo.
MODULE_SRCS := uring_basics.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := uring_open uring_read_full uring_write_full uring_copy_file uring_probe_features uring_feature_report uring_serial_batch_read
# Programs of the implementation tree with a main() (name.c -> name), tested from outside.
PROGRAM_SRCS :=
# The demo (a cat on uring_basics.h), from chapters/05-uring-basics/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/05-uring-basics/ (make run CH=05 PROG=raw_ring):
# the ring set up and driven with the raw system calls, no liburing.
EXTRA_DEMO_SRCS := raw_ring.c
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
