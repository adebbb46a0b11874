/* timeit.c: run a command, report its wall time, peak RSS and CPU time (for `make bench`).
 *
 *   timeit OUTFILE CMD [ARGS...]
 *
 * Runs CMD with stdin/stdout/stderr inherited, waits for it with wait4, and writes one
 * line "WALL_SECONDS PEAK_RSS_KB CPU_SECONDS" to OUTFILE (wall from CLOCK_MONOTONIC,
 * nanosecond resolution; peak RSS is ru_maxrss, which includes the children CMD waited
 * for; CPU is user + system time of CMD and those children: on a shared machine it moves
 * less with the neighbours' load than wall time, but counts every thread). Exits
 * with CMD's status (128 + signal when killed), like /usr/bin/time -f '%e %M' -o. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: timeit OUTFILE CMD [ARGS...]\n"); return 2; }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) { perror("timeit: fork"); return 2; }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) { perror("timeit: wait4"); return 2; }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  FILE *f = fopen(argv[1], "w");
  if (!f) { perror(argv[1]); return 2; }
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  fprintf(f, "%.4f %ld %.4f\n", wall, ru.ru_maxrss, cpu);
  fclose(f);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
