# Chapter 09: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := io_uring multishot and buffer rings
# Files of the implementation tree linked into the tests and the demo.
MODULE_SRCS := uecho.c
# The contract's functions: the only globals left global when vetted (harness/vet.sh).
EXPORTS := uecho_open uecho_run_once uecho_run uecho_stop uecho_stats uecho_close
# Programs of the implementation tree with a main(), tested from outside.
PROGRAM_SRCS := echo-server.c
# The demo, from chapters/09-uring-multishot/, linked with the module.
DEMO_SRCS := demo.c
# Stand-alone programs of the lesson in chapters/09-uring-multishot/.
EXTRA_DEMO_SRCS := epoll-echo.c loadgen.c
# pkg-config packages the module needs beyond liburing, libaio and Criterion.
CHAPTER_PKGS :=
