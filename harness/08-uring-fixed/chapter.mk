# Chapter 08: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := io_uring fixed buffers and files, SQPOLL, IOPOLL
# Files of the implementation tree (exercises/08-uring-fixed/,
# solutions/08-uring-fixed/, or a student's copy) linked into the tests and the demo.
MODULE_SRCS := ufixed.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := ufixed_init ufixed_add_buffer ufixed_remove_buffer ufixed_add_file ufixed_remove_file ufixed_read ufixed_exit ufixed_batch_read
# Programs of the implementation tree with a main() (none in this chapter).
PROGRAM_SRCS :=
# The demo, from chapters/08-uring-fixed/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson (none in this chapter).
EXTRA_DEMO_SRCS :=
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
