/*
 * server.c - chapter 04 exercise: the file server as a program.
 *
 *   server --file PATH (--port N | --unix SOCKPATH) [--qd N]
 *
 * Read chapters/04-epoll-eventfd/README.md ("The exercise") first.
 * Grade your work with:   make check CH=04
 * Try it:                 make run CH=04 PROG=server ARGS="--file /var/tmp/ch04.dat --port 0"
 *
 * The grader runs this program from outside, like a user would:
 *   --file PATH      the file to serve;
 *   --port N         listen on 127.0.0.1:N (0: any free port); or
 *   --unix SOCKPATH  listen on a unix stream socket at SOCKPATH, which must
 *                    not exist yet, removed again on the way out;
 *   --qd N           reads in flight at most (default 32), N >= 1.
 * Exactly one of --port and --unix. When ready, print ONE line on stdout and
 * flush it (stdout may be a pipe, which is fully buffered):
 *   listening on 127.0.0.1:PORT        (the real port, also for --port 0)
 *   listening on unix:SOCKPATH
 * Serve until SIGTERM or SIGINT, then exit 0. Bad arguments: usage on
 * stderr, exit 2. Cannot serve (file missing, address in use, path exists):
 * a message on stderr, exit 1. Nothing else on stdout.
 */
#define _GNU_SOURCE
#include "evsrv.h"

#include <arpa/inet.h>
#include <errno.h>
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
	 *  - parse the arguments (strtol with an end pointer, ranges checked);
	 *    anything wrong: usage on stderr, return 2;
	 *  - the listener: socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	 *    SO_REUSEADDR, bind to 127.0.0.1:N (INADDR_LOOPBACK), listen,
	 *    getsockname for the real port; or socket(AF_UNIX, ...), bind to
	 *    SOCKPATH (EADDRINUSE if it exists: that is exit status 1; a path
	 *    that does not fit in sun_path: status 1 too, never copy it
	 *    unchecked), listen.
	 *    man 7 ip, man 7 unix, man 2 bind, man 2 getsockname;
	 *  - evsrv_open(&s, file, listen_fd, qd): on failure print
	 *    strerror(-r) and return 1;
	 *  - sigaction for SIGTERM and SIGINT with a handler that calls
	 *    evsrv_stop(the server) (keep it in a global); SIGPIPE ignored as a
	 *    second line of defence. Install them BEFORE printing the line;
	 *  - printf the ready line, fflush(stdout);
	 *  - evsrv_run(s); then ignore SIGTERM/SIGINT, evsrv_close(s),
	 *    close(listen_fd), unlink SOCKPATH; return 0 (1 if evsrv_run failed).
	 */
	(void)argc;
	(void)argv;
	fprintf(stderr, "server: not implemented (TODO 12)\n");
	return 1;
}
