/*
 * echo-server.c - chapter 09 exercise: the io_uring echo server as a program.
 *
 *   echo-server (--port N | --unix SOCKPATH) [--bufs N] [--buf-size N]
 *               [--entries N]
 *
 * Read chapters/09-uring-multishot/README.md ("The exercise") first.
 * Grade your work with:   make check CH=09
 * Stuck on a test:        make hint T=09.NN (deeper hints, one level a call)
 * Try it:                 make run CH=09 PROG=echo-server ARGS="--port 0"
 *
 * The grader runs this program from outside, like a user would:
 *   --port N         listen on 127.0.0.1:N (TCP); 0 picks a free port;
 *   --unix SOCKPATH  listen on a unix stream socket at SOCKPATH, which must
 *                    not exist yet, removed again on exit;
 *   --bufs N         buffers in the buffer ring, a power of two (default 256);
 *   --buf-size N     bytes per buffer (default 4096);
 *   --entries N      SQ entries of the ring (default 256).
 * Exactly one of --port and --unix. When ready to accept connections, print
 * ONE line on stdout and flush it (stdout may be a pipe, fully buffered):
 *   listening on 127.0.0.1:PORT        (the real port, also for --port 0)
 *   listening on unix:SOCKPATH
 * Echo every byte back until SIGTERM or SIGINT, then print the counters on
 * one line to stderr and exit 0. Bad arguments: a usage message on stderr,
 * exit 2. Anything that stops it from serving (port taken, path exists,
 * io_uring refused, RLIMIT_MEMLOCK too small, ...): a message naming the
 * cause on stderr, exit 1.
 */
#define _GNU_SOURCE
#include "uecho.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/*
	 * TODO 12: the program.
	 *  - parse the arguments strictly: every number whole, in its range
	 *    (uecho.h, "Limits"; --bufs a power of two), exactly one of --port
	 *    and --unix; anything else is a usage message and status 2. Why
	 *    strict: a typo that quietly becomes a default is a server that is
	 *    not what you asked for. man 3 strtol (the end pointer, ERANGE);
	 *  - the listener. TCP: bound to 127.0.0.1 only (an echo server is for
	 *    tests: anyone who reaches it can make it work), SO_REUSEADDR so a
	 *    restart right after a stop does not fail on TIME_WAIT, then ask
	 *    the socket which port it got. Unix: a path that does not fit in
	 *    sun_path, or that exists, is status 1 (never copy it unchecked).
	 *    Both close-on-exec. man 7 ip, man 7 unix, man 2 bind,
	 *    man 2 getsockname, man 7 socket (SO_REUSEADDR);
	 *  - uecho_open with the sizes given (0: the default). On failure name
	 *    the cause: strerror(-r), and for -ENOMEM, -EPERM/-ENOSYS and
	 *    -EOPNOTSUPP say what to do (uecho.h lists what each means);
	 *  - SIGTERM and SIGINT: a handler that calls uecho_stop on the server
	 *    (keep it in a global the handler can reach; uecho_stop is safe in a
	 *    handler by contract). Install them BEFORE the ready line: a test
	 *    may signal as soon as it reads it. SIGPIPE ignored as a second line
	 *    of defence. man 2 sigaction, man 7 signal-safety;
	 *  - print the ready line and flush stdout; then uecho_run;
	 *  - on the way out: ignore SIGTERM/SIGINT first (a second signal must
	 *    not reach a server being freed), the counters on one line to
	 *    stderr (uecho_stats), uecho_close, close the listener, unlink
	 *    SOCKPATH; status 0, or 1 if uecho_run failed.
	 */
	(void)argc;
	(void)argv;
	fprintf(stderr, "echo-server: not implemented (TODO 12)\n");
	return 1;
}
