/*
 * The restart baseline's socket holder (bench/conduwuit.ts), systemd/systemfd style: binds
 * and listens on HOST:PORT once, then starts the server with that socket as fd 3,
 * LISTEN_FDS=1 and LISTEN_PID=<the server's pid> (sd_listen_fds(3)), so a restart keeps
 * the socket: connections made while no server runs wait in the backlog.
 *
 * usage: sockhold HOST PORT BIN. Commands on stdin, one per line, each answered on stdout:
 *   start      -> "pid <pid>"         start BIN (stdout to /dev/null, stderr inherited)
 *   stop       -> "exited <status>"   SIGTERM to the server, wait for it
 *   bin PATH   -> "ok"                BIN for later starts
 * EOF stops the server and exits. The holder itself never accepts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;

static int stop_child(void) {
  int status = 0;
  if (child <= 0) return -1;
  kill(child, SIGTERM);
  while (waitpid(child, &status, 0) < 0) {
  }
  child = -1;
  return status;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: sockhold HOST PORT BIN\n");
    return 2;
  }
  char bin[4096];
  snprintf(bin, sizeof bin, "%s", argv[3]);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (s < 0 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1024) < 0) {
    perror("sockhold: listen");
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[4096 + 8];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (strcmp(line, "start") == 0) {
      pid_t pid = fork();
      if (pid == 0) {
        if (s == 3) fcntl(3, F_SETFD, 0);
        else if (dup2(s, 3) < 0) _exit(127);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        char p[32];
        snprintf(p, sizeof p, "%d", (int)getpid());
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", p, 1);
        execl(bin, bin, (char *)NULL);
        perror("sockhold: exec");
        _exit(127);
      }
      child = pid;
      printf("pid %d\n", (int)pid);
    } else if (strcmp(line, "stop") == 0) {
      printf("exited %d\n", stop_child());
    } else if (strncmp(line, "bin ", 4) == 0) {
      snprintf(bin, sizeof bin, "%.4095s", line + 4);
      printf("ok\n");
    } else {
      printf("error unknown command\n");
    }
  }
  stop_child();
  return 0;
}
