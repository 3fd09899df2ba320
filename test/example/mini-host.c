/*
 * A minimal stand-in for the hotgen host, used only by test/example to check the
 * example's side of the entry ABI (README, "Entry ABI"; HOTGEN_ABI_VERSION, set by hot.ts) without the
 * real loader: it binds 127.0.0.1:0, then obeys one command per stdin line and
 * answers one line on stdout:
 *   load <path> global|local  -> "ok"                  dlopen RTLD_NOW|RTLD_GLOBAL/LOCAL
 *   run <generation>          -> "ok"                  hotgen_main of the last local module, on a new thread
 *   stop                      -> "stopped <rc>"        stop fd made readable, thread joined
 *   unload <path>             -> "unloaded" | "mapped" dlclose, then a RTLD_NOLOAD probe
 *   quit                      -> exits 0
 * The first stdout line is "listening on 127.0.0.1:<port>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct raw_context {
  uint32_t abi_version;
  uint64_t generation;
  int32_t stop_fd;
  const int32_t *listen_fds;
  size_t listen_fds_len;
  void **state;
};

typedef int32_t (*main_fn)(const struct raw_context *);
typedef uint32_t (*abi_fn)(void);

#define MAX_MODULES 64
static struct { char path[4096]; void *handle; } modules[MAX_MODULES];
static int nmodules;
static void *state_slot;
static int32_t listen_fd;
static struct raw_context ctx;
static main_fn entry;
static int stop_pipe[2] = {-1, -1};
static pthread_t generation_thread;
static int32_t generation_rc;

static void *run_generation(void *arg) {
  (void)arg;
  generation_rc = entry(&ctx);
  return NULL;
}

static void die(const char *what) {
  printf("error %s: %s\n", what, dlerror());
  fflush(stdout);
  exit(1);
}

int main(void) {
  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) || listen(listen_fd, 128) ||
      getsockname(listen_fd, (struct sockaddr *)&addr, &len)) {
    perror("listen");
    return 1;
  }
  printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  char line[8192], arg[4096], mode[16];
  unsigned long long gen;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "load %4095s %15s", arg, mode) == 2) {
      void *h = dlopen(arg, RTLD_NOW | (strcmp(mode, "global") == 0 ? RTLD_GLOBAL : RTLD_LOCAL));
      if (!h || nmodules == MAX_MODULES) die("load");
      snprintf(modules[nmodules].path, sizeof modules[nmodules].path, "%s", arg);
      modules[nmodules++].handle = h;
      if (strcmp(mode, "local") == 0) {
        abi_fn abi = (abi_fn)dlsym(h, "hotgen_abi_version");
        entry = (main_fn)dlsym(h, "hotgen_main");
        if (!abi || !entry) die("dlsym");
        if (abi() != HOTGEN_ABI_VERSION) die("abi");
      }
      printf("ok\n");
    } else if (sscanf(line, "run %llu", &gen) == 1) {
      if (pipe(stop_pipe)) die("pipe");
      ctx = (struct raw_context){HOTGEN_ABI_VERSION, gen, stop_pipe[0], &listen_fd, 1, &state_slot};
      if (pthread_create(&generation_thread, NULL, run_generation, NULL)) die("thread");
      printf("ok\n");
    } else if (strncmp(line, "stop", 4) == 0) {
      if (write(stop_pipe[1], "x", 1) != 1) die("write");
      pthread_join(generation_thread, NULL);
      close(stop_pipe[0]);
      close(stop_pipe[1]);
      entry = NULL;
      printf("stopped %d\n", generation_rc);
    } else if (sscanf(line, "unload %4095s", arg) == 1) {
      int i = nmodules - 1;
      while (i >= 0 && strcmp(modules[i].path, arg) != 0) i--;
      if (i < 0) die("unknown module");
      dlclose(modules[i].handle);
      modules[i] = modules[--nmodules];
      void *probe = dlopen(arg, RTLD_LAZY | RTLD_NOLOAD);
      if (probe) dlclose(probe);
      printf(probe ? "mapped\n" : "unloaded\n");
    } else if (strncmp(line, "quit", 4) == 0) {
      return 0;
    } else {
      printf("error unknown command\n");
    }
    fflush(stdout);
  }
  return 0;
}
