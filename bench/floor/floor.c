/*
 * The swap floor: the physical limit of the unload/load step of a reload.
 *
 *   floor ITERATIONS [KEEP.so ... --] RELOAD.so ...
 *
 * Maps every KEEP object once (RTLD_LAZY|RTLD_GLOBAL, the modules a reload leaves
 * alone), then ITERATIONS times: dlopen the RELOAD objects in the given (bottom-up)
 * order with RTLD_LAZY|RTLD_GLOBAL, dlclose them in reverse order, and check with
 * RTLD_NOLOAD that each is gone. Prints one JSON object on stdout:
 *   {"iterations":N,"modules":M,"open_us":[...],"close_us":[...],"total_us":[...],"still_mapped":K}
 * Times are per iteration in microseconds (CLOCK_MONOTONIC); the RTLD_NOLOAD check is
 * not timed. Exit 1 (message on stderr) when a dlopen fails.
 * Build: cc -O2 -o floor floor.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void print_array(const char *name, const double *v, int n) {
  printf("\"%s\":[", name);
  for (int i = 0; i < n; i++) printf(i ? ",%.3f" : "%.3f", v[i]);
  printf("],");
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s ITERATIONS [KEEP.so ... --] RELOAD.so ...\n", argv[0]);
    return 2;
  }
  int iterations = atoi(argv[1]);
  int first = 2, sep = -1;
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) sep = i;
  if (sep > 0) {
    for (int i = 2; i < sep; i++) {
      if (!dlopen(argv[i], RTLD_LAZY | RTLD_GLOBAL)) {
        fprintf(stderr, "floor: dlopen %s: %s\n", argv[i], dlerror());
        return 1;
      }
    }
    first = sep + 1;
  }
  int m = argc - first;
  if (iterations < 1 || m < 1) {
    fprintf(stderr, "floor: need ITERATIONS >= 1 and at least one RELOAD object\n");
    return 2;
  }
  void **h = calloc(m, sizeof *h);
  double *open_us = calloc(iterations, sizeof(double));
  double *close_us = calloc(iterations, sizeof(double));
  double *total_us = calloc(iterations, sizeof(double));
  int still_mapped = 0;
  for (int it = 0; it < iterations; it++) {
    double t0 = now_us();
    for (int i = 0; i < m; i++) {
      h[i] = dlopen(argv[first + i], RTLD_LAZY | RTLD_GLOBAL);
      if (!h[i]) {
        fprintf(stderr, "floor: dlopen %s: %s\n", argv[first + i], dlerror());
        return 1;
      }
    }
    double t1 = now_us();
    for (int i = m - 1; i >= 0; i--) dlclose(h[i]);
    double t2 = now_us();
    for (int i = 0; i < m; i++) {
      void *p = dlopen(argv[first + i], RTLD_LAZY | RTLD_NOLOAD);
      if (p) {
        still_mapped++;
        dlclose(p);
      }
    }
    open_us[it] = t1 - t0;
    close_us[it] = t2 - t1;
    total_us[it] = t2 - t0;
  }
  printf("{\"iterations\":%d,\"modules\":%d,", iterations, m);
  print_array("open_us", open_us, iterations);
  print_array("close_us", close_us, iterations);
  print_array("total_us", total_us, iterations);
  printf("\"still_mapped\":%d}\n", still_mapped);
  return 0;
}
