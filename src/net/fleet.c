/* fleet.c: capture from many instances at once, handing each capture on as it arrives.
 *
 * Every URL is one transfer of the driver in transport.c (bounded concurrency, retries,
 * Ctrl-C). A transfer's body streams to its own temporary file; when it completes, the
 * caller's arrived() gets the file (pgo.fetch.fleet's binding decodes and merges it
 * there, so memory holds the merged result plus one capture). This layer moves bytes
 * only: it knows nothing of profiles. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pgolua/fileio.h"
#include "pgolua/net.h"

typedef struct fleet_state {
  const pgo_fleet_opts *o;
} fleet_state;

/* The caller's progress callback, with the caller's ud. */
static bool fleet_progress(void *ud, const pgo_http_progress *pr) {
  fleet_state *s = ud;
  return s->o->run.progress(s->o->run.ud, pr);
}

/* Before a transfer's first attempt: check its URL and create its temporary file. */
static bool fleet_start(void *ud, pgo_http_xfer *x, pgo_error *err) {
  fleet_state *s = ud;
  pgo_fleet_result *r = x->user;
  if (!pgo_http_check_url(x->url, s->o->http.allow_file, err)) return false;
  char path[PATH_MAX + 64];
  int fd = pgo_tempfile(s->o->dir ? s->o->dir : ".", "pgolua-fleet", path, sizeof path, err);
  if (fd < 0) return false;
  r->temp_path = strdup(path);
  if (!r->temp_path) {
    close(fd);
    unlink(path);
    return pgo_fail(err, "nomem", "out of memory starting a capture");
  }
  x->fd = fd;
  return true;
}

/* After a transfer ended for good: hand a success on, drop its file, record the result. */
static void fleet_done(void *ud, pgo_http_xfer *x) {
  fleet_state *s = ud;
  pgo_fleet_result *r = x->user;
  if (x->fd >= 0) {
    if (close(x->fd) != 0 && x->ok)
      x->ok = pgo_fail(&x->err, "io", "cannot close the temporary file: %s", strerror(errno));
    x->fd = -1;
  }
  if (x->ok && s->o->arrived) {
    pgo_error e;
    if (!s->o->arrived(s->o->arrived_ud, x->url, r->temp_path, &e)) {
      x->ok = false;
      x->err = e;
    }
  }
  if (r->temp_path && !(x->ok && s->o->keep_temp)) {
    unlink(r->temp_path);
    free(r->temp_path);
    r->temp_path = NULL;
  }
  r->ok = x->ok;
  if (!x->ok) r->err = x->err;
  r->status = x->status;
  r->go_pprof = x->go_pprof;
  r->bytes = x->bytes;
  r->elapsed = x->elapsed;
  r->window_start = x->window_start;
  r->window_end = x->window_end;
  r->attempts = x->attempts;
  if (!x->ok) {
    r->head_len = x->head_len < sizeof r->head ? x->head_len : sizeof r->head;
    memcpy(r->head, x->head, r->head_len);
  }
  pgo_http_xfer_free(x);               /* header buffer; the easy handle is gone already */
}

bool pgo_fleet_capture(const char *const *urls, size_t n, const pgo_fleet_opts *o,
                       pgo_fleet_result *results, pgo_error *err) {
  if (n == 0) return pgo_fail(err, "empty", "no URLs to capture from");
  pgo_http_xfer *xs = calloc(n, sizeof *xs);
  if (!xs) return pgo_fail(err, "nomem", "out of memory starting %zu captures", n);
  fleet_state s = { .o = o };
  for (size_t i = 0; i < n; i++) {
    memset(&results[i], 0, sizeof results[i]);
    pgo_http_xfer_init(&xs[i], urls[i]);
    xs[i].user = &results[i];
  }
  pgo_http_run_opts run = o->run;
  run.start = fleet_start;
  run.done = fleet_done;
  run.progress = o->run.progress ? fleet_progress : NULL;
  run.ud = &s;                         /* fleet_progress passes the caller's ud on */
  pgo_error e;
  bool ran = pgo_http_run(xs, n, &o->http, &run, &e);
  for (size_t i = 0; i < n; i++) pgo_http_xfer_free(&xs[i]);
  free(xs);
  if (!ran) {
    for (size_t i = 0; i < n; i++)
      if (results[i].temp_path) unlink(results[i].temp_path);
    pgo_fleet_results_free(results, n);
    if (err) *err = e;
    return false;
  }
  return true;
}

void pgo_fleet_results_free(pgo_fleet_result *results, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(results[i].temp_path);
    results[i].temp_path = NULL;
  }
}
