# Chapter 01: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := blocking I/O
# Files of the implementation tree (exercises/01-blocking/, solutions/01-blocking/,
# or a student's copy) linked into the tests and the demo.
MODULE_SRCS := blocking.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := read_full pread_full write_full copy_file blk_batch_read
# Programs of the implementation tree with a main() (name.c -> name), tested from outside.
PROGRAM_SRCS :=
# The demo, from chapters/01-blocking/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/01-blocking/ (make run PROG=name).
EXTRA_DEMO_SRCS :=
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
