/* freeport -- test helper for loopback ports.
 *
 *   freeport [N]             print N (default 1) free TCP ports on 127.0.0.1
 *   freeport --wait PORT S   wait up to S seconds until 127.0.0.1:PORT accepts
 *
 * Exit status 0 on success, 1 on failure or timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
try_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	if (fd < 0)
		return -1;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

int
main(int argc, char **argv)
{
	int n = 1, fds[64];

	if (argc == 4 && strcmp(argv[1], "--wait") == 0) {
		int port = atoi(argv[2]);
		double secs = atof(argv[3]);
		struct timespec d = {0, 50 * 1000 * 1000};
		for (double t = 0; t < secs; t += 0.05) {
			if (try_connect(port) == 0)
				return 0;
			nanosleep(&d, NULL);
		}
		fprintf(stderr, "freeport: nothing listens on 127.0.0.1:%d after %.0f s\n",
		    port, secs);
		return 1;
	}
	if (argc == 2)
		n = atoi(argv[1]);
	if (n < 1 || n > 64) {
		fprintf(stderr, "usage: freeport [N] | --wait PORT SECONDS\n");
		return 1;
	}
	/* hold all sockets open until every port is chosen, so they differ */
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t len = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) < 0) {
			fprintf(stderr, "freeport: %s\n", strerror(errno));
			return 1;
		}
		printf("%d\n", ntohs(sa.sin_port));
	}
	return 0;
}
