# Chapter 03: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := POSIX aio and a thread pool
# Files of the implementation tree (exercises/03-posix-aio/, solutions/03-posix-aio/,
# or a student's copy) linked into the tests and the demo: part A and part B.
MODULE_SRCS := paio.c tpool.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := paio_batch_read tpool_create tpool_batch_read tpool_destroy tpool_batch_read_once
# Programs of the implementation tree with a main() (name.c -> name), tested from outside.
PROGRAM_SRCS :=
# The demo, from chapters/03-posix-aio/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/03-posix-aio/ (make run CH=03 PROG=tour).
EXTRA_DEMO_SRCS := tour.c
# pkg-config packages the module needs beyond liburing, libaio and Criterion
# (none: POSIX aio is in libc since glibc 2.34).
CHAPTER_PKGS :=
