# Chapter 02: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := libaio (kernel AIO)
# Files of the implementation tree (exercises/02-libaio/, solutions/02-libaio/,
# or a student's copy) linked into the tests and the demo.
MODULE_SRCS := laio.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := laio_batch_read laio_batch_read_ctx laio_alloc_aligned laio_dio_alignment
# Programs of the implementation tree with a main() (name.c -> name), tested from outside.
PROGRAM_SRCS :=
# The demo, from chapters/02-libaio/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/02-libaio/ (make run PROG=name).
EXTRA_DEMO_SRCS :=
# pkg-config packages the module needs beyond liburing, libaio and Criterion
# (libaio has no .pc file on Debian 12: flags.mk links -laio for every chapter).
CHAPTER_PKGS :=
