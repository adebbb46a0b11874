/* replay.c: a main() for the fuzz targets without libFuzzer, so they build with any
 * compiler (gcc -fsanitize=address,undefined for the regression spec, clang coverage for
 * fuzz/coverage.sh). Usage: replay FILE_OR_DIR...; each file is one input, a directory
 * gives every regular file under it (sorted by name, dot-files skipped). Each input is
 * passed in a malloc'd buffer of exactly its size, so reading past the end is caught.
 * Exit status 0 when every input ran; 1 when an input could not be read; a crash or a
 * sanitizer report ends the process as it would under libFuzzer, naming the input. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
/* Optional in a target; weak, so replay links whether the target defines it or not. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Provided by the sanitizer runtimes only; weak, so plain builds link too. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* The input being run, for the crash message. A signal handler can only reach it
 * through a static. */
static char current_input[4096];

static void say_current_input(void) {
  static const char prefix[] = "replay: the failing input is ";
  if (!current_input[0]) return;
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
  ignored = write(STDERR_FILENO, current_input, strlen(current_input));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
}

/* abort() from a target's oracle (sanitizers report on their own, through the callback). */
static void on_abort(int sig) {
  say_current_input();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int read_whole(const char *path, unsigned char **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    unsigned char *bigger = realloc(buf, cap * 2);
    if (!bigger) { free(buf); buf = NULL; break; }
    buf = bigger;
    cap *= 2;
  }
  int failed = ferror(f) || !buf;
  fclose(f);
  if (failed) { free(buf); return -1; }
  /* an exact-size copy: an overread of even one byte lands in the redzone */
  unsigned char *exact = malloc(n ? n : 1);
  if (!exact) { free(buf); return -1; }
  memcpy(exact, buf, n);
  free(buf);
  *data = exact;
  *size = n;
  return 0;
}

static int run_file(const char *path, size_t *count) {
  unsigned char *data;
  size_t size;
  if (read_whole(path, &data, &size) != 0) {
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }
  snprintf(current_input, sizeof current_input, "%s", path);
  if (getenv("REPLAY_VERBOSE")) fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
  LLVMFuzzerTestOneInput(data, size);
  current_input[0] = '\0';
  free(data);
  (*count)++;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, size_t *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) return run_file(path, count);
  DIR *dir = opendir(path);
  if (!dir) {
    fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int status = 0;
  for (struct dirent *ent; (ent = readdir(dir));) {
    if (ent->d_name[0] == '.') continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **bigger = realloc(names, ncap * sizeof *names);
      if (!bigger) { status = 1; break; }
      names = bigger;
      cap = ncap;
    }
    size_t len = strlen(path) + strlen(ent->d_name) + 2;
    names[n] = malloc(len);
    if (!names[n]) { status = 1; break; }
    snprintf(names[n], len, "%s/%s", path, ent->d_name);
    n++;
  }
  closedir(dir);
  if (status) fprintf(stderr, "replay: out of memory listing %s\n", path);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    status |= run_path(names[i], count);
    free(names[i]);
  }
  free(names);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n(runs the fuzz target once per file)\n",
            argv[0]);
    return 2;
  }
  signal(SIGABRT, on_abort);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_current_input);
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t count = 0;
  int status = 0;
  for (int i = 1; i < argc; i++) status |= run_path(argv[i], &count);
  fprintf(stderr, "replay: %zu inputs ran%s\n", count, status ? " (some could not be read)" : "");
  return status;
}
