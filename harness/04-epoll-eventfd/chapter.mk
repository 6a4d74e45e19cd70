# Chapter 04: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := eventfd + epoll
# Files of the implementation tree (exercises/04-epoll-eventfd/, solutions/04-epoll-eventfd/,
# or a student's copy) linked into the tests and the demo.
MODULE_SRCS := evsrv.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := evsrv_open evsrv_run_once evsrv_run evsrv_stop evsrv_close
# Programs of the implementation tree with a main() (name.c -> name), tested from outside.
PROGRAM_SRCS := server.c
# The demo, from chapters/04-epoll-eventfd/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/04-epoll-eventfd/ (make run PROG=name).
EXTRA_DEMO_SRCS :=
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
