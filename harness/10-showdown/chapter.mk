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
# Their chapters' headers are on the include path of every file.
BACKEND_SRCS := 02-libaio/laio.c 03-posix-aio/tpool.c 06-uring-batching/ubatch.c
PROGRAM_SRCS :=
DEMO_SRCS := demo.c
EXTRA_DEMO_SRCS :=
CHAPTER_PKGS :=
