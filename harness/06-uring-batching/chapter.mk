# Chapter 06: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := io_uring batching
# Files of the implementation tree (exercises/06-uring-batching/,
# solutions/06-uring-batching/, or a student's copy) linked into the tests and the demo.
MODULE_SRCS := ubatch.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := ubatch_init ubatch_read ubatch_exit ubatch_batch_read
# Programs of the implementation tree with a main() (name.c -> name), tested from
# outside: copy SRC DST. COPY=/path/to/any/copy in the environment (or on the make
# command line) grades another program with the same command line instead.
PROGRAM_SRCS := copy.c
# The demo, from chapters/06-uring-batching/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson (none in this chapter).
EXTRA_DEMO_SRCS :=
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
