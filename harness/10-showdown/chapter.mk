# Chapter 10: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := the showdown: a reader that works everywhere
# Files of the implementation tree (exercises/10-showdown/,
# solutions/10-showdown/, or a student's copy) linked into the tests and the demo.
MODULE_SRCS := reader.c
# The contract's functions (the chapter's header): the only globals of the
# module's objects left global when they are vetted (harness/vet.sh).
EXPORTS := rd_open rd_backend rd_backend_name rd_why rd_fd rd_direct rd_batch_read rd_close
# The modules of earlier chapters the reader drives, as paths under an
# implementation tree: always the reference's (harness/mk/chapter.mk says why).
# Their chapters' headers are on the include path of every file. The first
# line is what the reader uses; the second, the other interfaces the course
# built, which only the demo calls, so that its showdown lines up every one
# (allowed.txt does not name them: the learner's reader.c may not call them).
BACKEND_SRCS := 02-libaio/laio.c 03-posix-aio/tpool.c 06-uring-batching/ubatch.c \
	01-blocking/blocking.c 03-posix-aio/paio.c 05-uring-basics/uring_basics.c 08-uring-fixed/ufixed.c
PROGRAM_SRCS :=
DEMO_SRCS := demo.c
EXTRA_DEMO_SRCS :=
CHAPTER_PKGS :=
