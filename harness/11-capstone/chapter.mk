# Chapter 11: what the build takes from the implementation tree and chapters/.
CHAPTER_TITLE := capstone: nearest-neighbour search on an index on disk
# Files of the implementation tree (exercises/11-capstone/,
# solutions/11-capstone/, or a student's copy) linked into the tests and the demo.
MODULE_SRCS := search.c
# The contract's function (ann.h's exercise half): the only global of the
# module's object left global when it is vetted (harness/vet.sh).
EXPORTS := ann_search ann_search_uring
# The course's code of the chapter (chapters/11-capstone/): the index format,
# building, loading, parsing a node, the distances. Compiled like the
# harness's own objects and linked into the tests and the demo; the learner's
# search.c calls it through ann.h.
COURSE_SRCS := annindex.c
# The batch reads of earlier chapters the tests and the demo serve the
# search's reads with: always the reference's (harness/mk/chapter.mk says why).
BACKEND_SRCS := 01-blocking/blocking.c 03-posix-aio/tpool.c 06-uring-batching/ubatch.c
PROGRAM_SRCS :=
DEMO_SRCS := demo.c
EXTRA_DEMO_SRCS :=
CHAPTER_PKGS :=
