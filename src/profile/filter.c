/* filter.c: pprof's sample filters, building a new profile (see filter.h).
 *
 * Order and semantics follow pprof's applyFocus (internal/driver/driver_focus.go) and
 * profile/filter.go, profile/prune.go as vendored in Go 1.23:
 *   1. focus/ignore/hide/show over locations (one pass), then over samples;
 *   2. show_from; 3. tagfocus/tagignore; 4. tagshow/taghide; 5. prune_from.
 * Location edits (hidden lines, show_from and prune_from cuts) are global, as in pprof.
 * Per-sample work is memoized per stack node and per label set, so a profile with a
 * million samples but few distinct stacks costs little. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/aggregate.h"
#include "pgolua/filter.h"
#include "pgolua/regex.h"

#define NONE UINT32_MAX
#define DROP (UINT32_MAX - 1)

/* ======================================================================================
 * regular expressions
 * ====================================================================================== */

typedef struct {
  bool set;
  pgo_regex *re;
} rx;

/* Compile an RE2 pattern (src/core/regex.c); "" or NULL leaves r unset. */
static bool rx_compile(rx *r, const char *option, const char *pattern, pgo_error *err) {
  r->set = false;
  if (!pattern || !*pattern) return true;
  pgo_error e;
  r->re = pgo_regex_compile(pattern, 0, &e);
  if (!r->re) {
    if (strcmp(e.code, "nomem") == 0) { *err = e; return false; }
    return pgo_fail(err, "bad_regex", "parsing %s regexp '%s': %s", option, pattern, e.message);
  }
  r->set = true;
  return true;
}

static void rx_free(rx *r) {
  if (r->set) pgo_regex_free(r->re);
  r->set = false;
}

/* A match that hits PCRE2's backtracking limit counts as no match here and marks the
 * regex; rx_check_limits turns that into an error at the end. */
static bool rx_match(const rx *r, const char *s) { return pgo_regex_match(r->re, s, strlen(s)) == 1; }

static bool rx_check_limits(const rx *r, const char *option, const char *pattern, pgo_error *err) {
  const char *subject;
  if (!r->set || !pgo_regex_failed(r->re, &subject)) return true;
  return pgo_fail(err, "bad_regex", "%s regexp '%s' needs too much backtracking to match '%s' "
                  "(PCRE2's match limit): simplify it (nested repetitions such as (a+)+ are the usual cause)",
                  option, pattern, subject);
}

/* ======================================================================================
 * tag filters (pprof's compileTagFilter)
 * ====================================================================================== */

enum { RANGE_EQ, RANGE_GE, RANGE_LE, RANGE_BETWEEN };

typedef struct {
  bool set;
  bool has_key;
  bool key_known;             /* the key is a string of the profile (else nothing matches) */
  uint32_t key;
  bool numeric;
  int op;
  double lo, hi;
  char unit[64];              /* the unit both bounds were scaled to */
  rx *res;
  size_t nres;
} tag_filter;

static void tag_filter_free(tag_filter *t) {
  for (size_t i = 0; i < t->nres; i++) rx_free(&t->res[i]);
  free(t->res);
  memset(t, 0, sizeof *t);
}

/* One match of ([+-]?[[:digit:]]+)([[:alpha:]]+)? at or after s[*pos]; the number and
 * unit word are copied out. */
static bool range_token(const char *s, size_t *pos, size_t *start, size_t *end, char *num,
                        size_t numcap, char *unit, size_t unitcap) {
  for (size_t i = *pos; s[i]; i++) {
    size_t j = i;
    if ((s[j] == '+' || s[j] == '-') && s[j + 1] >= '0' && s[j + 1] <= '9') j++;
    if (!(s[j] >= '0' && s[j] <= '9')) continue;
    while (s[j] >= '0' && s[j] <= '9') j++;
    size_t ue = j;
    while ((s[ue] >= 'a' && s[ue] <= 'z') || (s[ue] >= 'A' && s[ue] <= 'Z')) ue++;
    if (j - i >= numcap || ue - j >= unitcap) return false;
    memcpy(num, s + i, j - i);
    num[j - i] = 0;
    memcpy(unit, s + j, ue - j);
    unit[ue - j] = 0;
    *start = i;
    *end = ue;
    *pos = ue;
    return true;
  }
  return false;
}

/* pprof's parseTagFilterRange: "32kb", "32kb:", ":64kb", "1kb:10kb". */
static bool parse_range(const char *v, tag_filter *t) {
  char n1[32], u1[48], n2[32], u2[48];
  size_t pos = 0, s1, e1, s2, e2;
  if (!range_token(v, &pos, &s1, &e1, n1, sizeof n1, u1, sizeof u1)) return false;
  char *endp;
  long long x = strtoll(n1, &endp, 10);
  if (*endp) return false;
  double sv;
  const char *su;
  pgo_unit_scale(x, u1, u1, &sv, &su);
  snprintf(t->unit, sizeof t->unit, "%s", su);
  size_t len = strlen(v);
  bool two = range_token(v, &pos, &s2, &e2, n2, sizeof n2, u2, sizeof u2);
  if (!two) {
    if (s1 == 0 && e1 == len) t->op = RANGE_EQ;
    else if (s1 == 0 && e1 + 1 == len && v[e1] == ':') t->op = RANGE_GE;
    else if (s1 == 1 && v[0] == ':' && e1 == len) t->op = RANGE_LE;
    else return false;
    t->lo = t->hi = sv;
    return true;
  }
  if (!(s1 == 0 && s2 == e1 + 1 && v[e1] == ':' && e2 == len)) return false;
  long long y = strtoll(n2, &endp, 10);
  if (*endp) return false;
  double sv2;
  const char *su2;
  pgo_unit_scale(y, u2, t->unit, &sv2, &su2);
  if (strcmp(su2, t->unit) != 0) return false;
  t->op = RANGE_BETWEEN;
  t->lo = sv;
  t->hi = sv2;
  return true;
}

static bool notes_add(pgo_filter_notes *n, const char *fmt, const char *a) {
  char **t = realloc(n->text, (n->count + 1) * sizeof *t);
  if (!t) return false;
  n->text = t;
  size_t len = strlen(fmt) + (a ? strlen(a) : 0) + 1;
  char *s = malloc(len);
  if (!s) return false;
  snprintf(s, len, fmt, a ? a : "");
  n->text[n->count++] = s;
  return true;
}

void pgo_filter_notes_free(pgo_filter_notes *n) {
  for (size_t i = 0; i < n->count; i++) free(n->text[i]);
  free(n->text);
  memset(n, 0, sizeof *n);
}

static bool tag_filter_compile(tag_filter *t, const char *option, const char *value,
                               const pgo_profile *p, pgo_filter_notes *notes, pgo_error *err) {
  memset(t, 0, sizeof *t);
  if (!value || !*value) return true;
  t->set = true;
  const char *eq = strchr(value, '=');
  const char *v = value;
  if (eq) {
    t->has_key = true;
    t->key_known = pgo_strtab_find(&p->strings, value, (size_t)(eq - value), &t->key);
    v = eq + 1;
  }
  if (parse_range(v, t)) {
    t->numeric = true;
    char fmt[96];
    snprintf(fmt, sizeof fmt, "%s:Interpreted '%%s' as range, not regexp", option);
    if (!notes_add(notes, fmt, v)) return pgo_fail(err, "nomem", "out of memory");
    return true;
  }
  size_t n = 1;
  for (const char *c = v; *c; c++) n += *c == ',';
  t->res = calloc(n, sizeof *t->res);
  if (!t->res) return pgo_fail(err, "nomem", "out of memory");
  const char *start = v;
  for (;;) {
    const char *comma = strchr(start, ',');
    size_t len = comma ? (size_t)(comma - start) : strlen(start);
    char *pat = malloc(len + 1);
    if (!pat) return pgo_fail(err, "nomem", "out of memory");
    memcpy(pat, start, len);
    pat[len] = 0;
    bool ok;
    if (len == 0) {                         /* an empty regexp matches everything */
      ok = rx_compile(&t->res[t->nres], option, "()", err);
    } else {
      ok = rx_compile(&t->res[t->nres], option, pat, err);
    }
    free(pat);
    if (!ok) return false;
    t->nres++;
    if (!comma) break;
    start = comma + 1;
  }
  return true;
}

static bool label_is_numeric(const pgo_label *l) { return l->str == 0 && (l->num || l->num_unit); }

static bool range_holds(const tag_filter *t, int64_t v, const char *unit) {
  double sv;
  const char *su;
  pgo_unit_scale(v, unit ? unit : "", t->unit, &sv, &su);
  if (strcmp(su, t->unit) != 0) return false;
  switch (t->op) {
  case RANGE_EQ: return sv == t->lo;
  case RANGE_GE: return sv >= t->lo;
  case RANGE_LE: return sv <= t->lo;
  default: return sv >= t->lo && sv <= t->hi;
  }
}

/* Does the label set match the tag filter? buf: scratch for "key:value" strings. */
static bool tag_filter_match(const tag_filter *t, const pgo_profile *p, const pgo_num_units *u,
                             const pgo_labelset *ls, char **buf, size_t *cap) {
  /* p->labels is NULL in a profile without labels, and NULL + 0 is undefined */
  const pgo_label *labels = ls->count ? p->labels + ls->start : NULL;
  if (t->has_key && !t->key_known) return false;
  if (t->numeric) {
    for (uint32_t i = 0; i < ls->count; i++) {
      const pgo_label *l = &labels[i];
      if (!label_is_numeric(l) || (t->has_key && l->key != t->key)) continue;
      if (range_holds(t, l->num, pgo_num_units_get(u, l->key))) return true;
    }
    return false;
  }
  if (t->has_key) {                         /* any regexp matches any value of the key */
    for (size_t r = 0; r < t->nres; r++)
      for (uint32_t i = 0; i < ls->count; i++) {
        const pgo_label *l = &labels[i];
        if (l->key == t->key && l->str && rx_match(&t->res[r], pgo_str(&p->strings, l->str)))
          return true;
      }
    return false;
  }
  for (size_t r = 0; r < t->nres; r++) {    /* every regexp matches some "key:value" */
    bool hit = false;
    for (uint32_t i = 0; i < ls->count && !hit; i++) {
      const pgo_label *l = &labels[i];
      if (!l->str) continue;
      size_t kl = pgo_strlen(&p->strings, l->key), vl = pgo_strlen(&p->strings, l->str);
      if (kl + vl + 2 > *cap) {
        char *nb = realloc(*buf, kl + vl + 2);
        if (!nb) return false;
        *buf = nb;
        *cap = kl + vl + 2;
      }
      memcpy(*buf, pgo_str(&p->strings, l->key), kl);
      (*buf)[kl] = ':';
      memcpy(*buf + kl + 1, pgo_str(&p->strings, l->str), vl);
      (*buf)[kl + 1 + vl] = 0;
      hit = rx_match(&t->res[r], *buf);
    }
    if (!hit) return false;
  }
  return true;
}

/* ======================================================================================
 * the filter
 * ====================================================================================== */

enum { RX_FOCUS, RX_IGNORE, RX_HIDE, RX_SHOW, RX_SHOWFROM, RX_PRUNE, RX_TAGSHOW, RX_TAGHIDE, RX_N };

typedef struct {
  const pgo_profile *p;
  pgo_profile *q;
  rx rx[RX_N];
  tag_filter tagfocus, tagignore;
  uint8_t *fmatch[RX_N];      /* per function: name or file matches (0/1), prune: name */
  uint8_t *mmatch[RX_N];      /* per mapping: file matches */
  uint8_t *keep;              /* per line of p: still part of its location */
  uint8_t *focus;             /* per location: 0, 1 focused, 2 ignored */
  uint8_t *hidden, *showfrom, *prune;
  uint32_t *new_stack;        /* per stack of p: stack of q, DROP, or NONE = not yet known */
  uint32_t *locbuf;
  size_t locbuf_cap;
  char *scratch;
  size_t scratch_cap;
} filter_state;

static void state_free(filter_state *s) {
  for (int i = 0; i < RX_N; i++) {
    rx_free(&s->rx[i]);
    free(s->fmatch[i]);
    free(s->mmatch[i]);
  }
  tag_filter_free(&s->tagfocus);
  tag_filter_free(&s->tagignore);
  free(s->keep); free(s->focus); free(s->hidden); free(s->showfrom); free(s->prune);
  free(s->new_stack); free(s->locbuf); free(s->scratch);
}

/* Precompute, per function and mapping, whether regexp i matches it. prune_from tests the
 * function name only, simplified as pprof does (leading '.' dropped, cut at the first '('). */
static bool precompute_matches(filter_state *s, int i) {
  const pgo_profile *p = s->p;
  if (!s->rx[i].set) return true;
  s->fmatch[i] = calloc(p->nfunctions ? p->nfunctions : 1, 1);
  s->mmatch[i] = calloc(p->nmappings ? p->nmappings : 1, 1);
  if (!s->fmatch[i] || !s->mmatch[i]) return false;
  for (size_t f = 0; f < p->nfunctions; f++) {
    const pgo_function *fn = &p->functions[f];
    const char *name = pgo_str(&p->strings, fn->name);
    if (i == RX_PRUNE) {
      if (!*name) continue;
      if (*name == '.') name++;
      const char *paren = strchr(name, '(');
      if (paren && paren > name) {
        size_t n = (size_t)(paren - name);
        char *cut = malloc(n + 1);
        if (!cut) return false;
        memcpy(cut, name, n);
        cut[n] = 0;
        s->fmatch[i][f] = rx_match(&s->rx[i], cut);
        free(cut);
      } else {
        s->fmatch[i][f] = rx_match(&s->rx[i], name);
      }
      continue;
    }
    s->fmatch[i][f] = rx_match(&s->rx[i], name) ||
                      rx_match(&s->rx[i], pgo_str(&p->strings, fn->filename));
  }
  for (size_t m = 0; m < p->nmappings; m++)
    s->mmatch[i][m] = rx_match(&s->rx[i], pgo_str(&p->strings, p->mappings[m].file));
  return true;
}

static bool line_matches(const filter_state *s, int i, const pgo_line *ln) {
  return ln->function < s->p->nfunctions && s->fmatch[i][ln->function];
}

static bool mapping_matches(const filter_state *s, int i, const pgo_location *loc) {
  return loc->mapping < s->p->nmappings && s->mmatch[i][loc->mapping];
}

/* pprof's Location.matchesName over the location's current lines. */
static bool loc_matches(const filter_state *s, int i, size_t li) {
  const pgo_location *loc = &s->p->locations[li];
  for (uint32_t k = 0; k < loc->line_count; k++) {
    uint32_t g = loc->line_start + k;
    if (s->keep[g] && line_matches(s, i, &s->p->lines[g])) return true;
  }
  return mapping_matches(s, i, loc);
}

static size_t loc_kept_lines(const filter_state *s, size_t li) {
  const pgo_location *loc = &s->p->locations[li];
  size_t n = 0;
  for (uint32_t k = 0; k < loc->line_count; k++) n += s->keep[loc->line_start + k];
  return n;
}

/* Step 1 over locations: focus/ignore marks, hide and show edit lines. */
static void pass_names(filter_state *s, bool *fm, bool *im, bool *hm, bool *hnm) {
  const pgo_profile *p = s->p;
  for (size_t li = 0; li < p->nlocations; li++) {
    const pgo_location *loc = &p->locations[li];
    if (s->rx[RX_IGNORE].set && loc_matches(s, RX_IGNORE, li)) {
      *im = true;
      s->focus[li] = 2;
    } else if (!s->rx[RX_FOCUS].set || loc_matches(s, RX_FOCUS, li)) {
      *fm = true;
      s->focus[li] = 1;
    }
    if (s->rx[RX_HIDE].set && loc_matches(s, RX_HIDE, li)) {
      *hm = true;
      bool all = mapping_matches(s, RX_HIDE, loc);
      for (uint32_t k = 0; k < loc->line_count; k++) {
        uint32_t g = loc->line_start + k;
        if (all || line_matches(s, RX_HIDE, &p->lines[g])) s->keep[g] = 0;
      }
      if (loc_kept_lines(s, li) == 0) s->hidden[li] = 1;
    }
    if (s->rx[RX_SHOW].set) {
      if (!mapping_matches(s, RX_SHOW, loc)) {
        for (uint32_t k = 0; k < loc->line_count; k++) {
          uint32_t g = loc->line_start + k;
          const pgo_line *ln = &p->lines[g];
          if (ln->function < p->nfunctions && !s->fmatch[RX_SHOW][ln->function]) s->keep[g] = 0;
        }
      }
      if (loc_kept_lines(s, li) == 0) s->hidden[li] = 1;
      else *hnm = true;
    }
  }
}

/* Step 2 over locations: show_from marks, cutting lines above the outermost match. */
static void pass_show_from(filter_state *s, bool *sfm) {
  const pgo_profile *p = s->p;
  for (size_t li = 0; li < p->nlocations; li++) {
    const pgo_location *loc = &p->locations[li];
    if (mapping_matches(s, RX_SHOWFROM, loc)) {
      s->showfrom[li] = 1;
      *sfm = true;
      continue;
    }
    for (uint32_t k = loc->line_count; k-- > 0;) {
      uint32_t g = loc->line_start + k;
      if (!s->keep[g] || !line_matches(s, RX_SHOWFROM, &p->lines[g])) continue;
      for (uint32_t j = k + 1; j < loc->line_count; j++) s->keep[loc->line_start + j] = 0;
      s->showfrom[li] = 1;
      *sfm = true;
      break;
    }
  }
}

/* Step 5 over locations: prune_from marks, cutting lines below the innermost match. */
static void pass_prune(filter_state *s) {
  const pgo_profile *p = s->p;
  for (size_t li = 0; li < p->nlocations; li++) {
    const pgo_location *loc = &p->locations[li];
    for (uint32_t k = 0; k < loc->line_count; k++) {
      uint32_t g = loc->line_start + k;
      if (!s->keep[g] || !line_matches(s, RX_PRUNE, &p->lines[g])) continue;
      for (uint32_t j = 0; j < k; j++) s->keep[loc->line_start + j] = 0;
      s->prune[li] = 1;
      break;
    }
  }
}

/* The (flat) stack of q for stack f of p (DROP when the name filters drop it). */
static bool map_stack(filter_state *s, pgo_flat_index *si, uint32_t f, bool names,
                      uint32_t *out) {
  const pgo_profile *p = s->p;
  if (s->new_stack[f] != NONE) { *out = s->new_stack[f]; return true; }
  size_t n;
  const uint32_t *src = pgo_stack_locations(p, f, &s->locbuf, &s->locbuf_cap, &n);
  bool in_buf = src == s->locbuf;            /* a tree stack: growing locbuf moves it along */
  if (!src || !PGO_RESERVE(s->locbuf, s->locbuf_cap, n + 1)) return false;
  if (!in_buf) memcpy(s->locbuf, src, n * sizeof *src);   /* edited in place */
  uint32_t *locs = s->locbuf;
  uint32_t result = DROP;
  if (names) {                               /* focusedAndNotIgnored, then hidden locations */
    bool focused = false, ignored = false;
    for (size_t i = 0; i < n; i++) {
      if (s->focus[locs[i]] == 2) ignored = true;
      else if (s->focus[locs[i]] == 1) focused = true;
    }
    if (!focused || ignored) goto done;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
      if (!s->hidden[locs[i]]) locs[w++] = locs[i];
    n = w;
    if (n == 0) goto done;
  }
  if (s->rx[RX_SHOWFROM].set) {              /* keep leaf .. the root-most match */
    size_t i = n;
    while (i > 0 && !s->showfrom[locs[i - 1]]) i--;
    if (i == 0) goto done;
    n = i;
  }
  if (s->rx[RX_PRUNE].set) {                 /* the leaf-most match becomes the leaf */
    for (size_t i = 0; i < n; i++)
      if (s->prune[locs[i]]) {
        locs += i;
        n -= i;
        break;
      }
  }
  uint32_t *dst = pgo_profile_flat_reserve(s->q, n);
  if (!dst) return false;
  memcpy(dst, locs, n * sizeof *locs);
  if (!pgo_profile_flat_stack(s->q, si, n, &result)) return false;
done:
  s->new_stack[f] = result;
  *out = result;
  return true;
}

static bool copy_header(const pgo_profile *p, pgo_profile *q) {
  for (size_t id = 1; id < p->strings.count; id++) {
    uint32_t nid;
    if (!pgo_profile_intern(q, pgo_str(&p->strings, (uint32_t)id),
                            pgo_strlen(&p->strings, (uint32_t)id), &nid) || nid != id)
      return false;
  }
  if (!pgo_profile_set_sample_types(q, p->sample_types, p->nsample_types)) return false;
  q->default_sample_type = p->default_sample_type;
  q->period_type = p->period_type;
  q->period = p->period;
  q->time_nanos = p->time_nanos;
  q->duration_nanos = p->duration_nanos;
  q->drop_frames = p->drop_frames;
  q->keep_frames = p->keep_frames;
  q->doc_url = p->doc_url;
  for (size_t i = 0; i < p->ncomments; i++)
    if (!pgo_profile_add_comment(q, pgo_str(&p->strings, p->comments[i]),
                                 pgo_strlen(&p->strings, p->comments[i])))
      return false;
  uint32_t idx;
  for (size_t i = 0; i < p->nmappings; i++)
    if (!pgo_profile_add_mapping(q, &p->mappings[i], &idx)) return false;
  for (size_t i = 0; i < p->nfunctions; i++)
    if (!pgo_profile_add_function(q, &p->functions[i], &idx)) return false;
  return true;
}

static bool copy_locations(const filter_state *s) {
  const pgo_profile *p = s->p;
  pgo_line *tmp = NULL;
  size_t cap = 0;
  for (size_t li = 0; li < p->nlocations; li++) {
    const pgo_location *loc = &p->locations[li];
    uint32_t n = 0;
    if (!PGO_RESERVE(tmp, cap, loc->line_count + 1)) { free(tmp); return false; }
    for (uint32_t k = 0; k < loc->line_count; k++)
      if (s->keep[loc->line_start + k]) tmp[n++] = p->lines[loc->line_start + k];
    uint32_t idx;
    if (!pgo_profile_add_location(s->q, loc, tmp, n, &idx)) { free(tmp); return false; }
  }
  free(tmp);
  return true;
}

pgo_profile *pgo_profile_filter(const pgo_profile *p, const pgo_filter_options *o,
                                pgo_filter_notes *notes, pgo_error *err) {
  memset(notes, 0, sizeof *notes);
  filter_state s;
  memset(&s, 0, sizeof s);
  s.p = p;
  pgo_num_units units;
  memset(&units, 0, sizeof units);
  pgo_flat_index si;
  pgo_sample_index smp;
  pgo_labelset_index lsi;
  pgo_flat_index_init(&si);
  pgo_sample_index_init(&smp);
  pgo_labelset_index_init(&lsi);
  uint32_t *new_ls = NULL;
  int8_t *tag_ok = NULL;
  pgo_label *lbuf = NULL;
  size_t lbuf_cap = 0;
  size_t nls = p->nlabelsets ? p->nlabelsets : 1;

  /* compile, in pprof's order */
  if (!rx_compile(&s.rx[RX_FOCUS], "focus", o->focus, err) ||
      !rx_compile(&s.rx[RX_IGNORE], "ignore", o->ignore, err) ||
      !rx_compile(&s.rx[RX_HIDE], "hide", o->hide, err) ||
      !rx_compile(&s.rx[RX_SHOW], "show", o->show, err) ||
      !rx_compile(&s.rx[RX_SHOWFROM], "show_from", o->show_from, err) ||
      !tag_filter_compile(&s.tagfocus, "tagfocus", o->tagfocus, p, notes, err) ||
      !tag_filter_compile(&s.tagignore, "tagignore", o->tagignore, p, notes, err) ||
      !rx_compile(&s.rx[RX_PRUNE], "prune_from", o->prune_from, err) ||
      !rx_compile(&s.rx[RX_TAGSHOW], "tagshow", o->tagshow, err) ||
      !rx_compile(&s.rx[RX_TAGHIDE], "taghide", o->taghide, err))
    goto fail;

  s.q = pgo_profile_new();
  s.keep = malloc(p->nlines ? p->nlines : 1);
  size_t nl = p->nlocations ? p->nlocations : 1;
  s.focus = calloc(nl, 1);
  s.hidden = calloc(nl, 1);
  s.showfrom = calloc(nl, 1);
  s.prune = calloc(nl, 1);
  size_t nstacks = pgo_profile_nstacks(p);
  s.new_stack = malloc((nstacks ? nstacks : 1) * sizeof *s.new_stack);
  new_ls = malloc(nls * sizeof *new_ls);
  tag_ok = malloc(nls);
  if (!s.q || !pgo_profile_make_flat(s.q) || !s.keep || !s.focus || !s.hidden || !s.showfrom || !s.prune || !s.new_stack ||
      !new_ls || !tag_ok || !copy_header(p, s.q) || !pgo_num_label_units(p, &units))
    goto nomem;
  for (int i = 0; i < RX_N; i++)
    if (i != RX_TAGSHOW && i != RX_TAGHIDE && !precompute_matches(&s, i)) goto nomem;
  memset(s.keep, 1, p->nlines ? p->nlines : 1);
  for (size_t f = 0; f < nstacks; f++) s.new_stack[f] = NONE;
  for (size_t i = 0; i < nls; i++) { new_ls[i] = NONE; tag_ok[i] = -1; }

  /* location passes */
  bool names = s.rx[RX_FOCUS].set || s.rx[RX_IGNORE].set || s.rx[RX_HIDE].set || s.rx[RX_SHOW].set;
  bool fm = !names, im = false, hm = false, hnm = false, sfm = false;
  bool tfm = false, tim = false, tsm = false, thm = false;
  if (names) pass_names(&s, &fm, &im, &hm, &hnm);
  if (s.rx[RX_SHOWFROM].set) pass_show_from(&s, &sfm);
  if (s.rx[RX_PRUNE].set) pass_prune(&s);
  if (!copy_locations(&s)) goto nomem;

  /* samples */
  size_t kept = 0;
  for (size_t i = 0; i < p->nsamples; i++) {
    const pgo_sample *smpl = &p->samples[i];
    uint32_t stack;
    if (!map_stack(&s, &si, smpl->stack, names, &stack)) goto nomem;
    if (stack == DROP) continue;
    uint32_t ls = smpl->labels;
    if (tag_ok[ls] < 0) {                    /* focus and ignore of this label set, once */
      const pgo_labelset *set = &p->labelsets[ls];
      bool focused = !s.tagfocus.set ||
                     tag_filter_match(&s.tagfocus, p, &units, set, &s.scratch, &s.scratch_cap);
      bool ignored = s.tagignore.set &&
                     tag_filter_match(&s.tagignore, p, &units, set, &s.scratch, &s.scratch_cap);
      tag_ok[ls] = (int8_t)((focused ? 1 : 0) | (ignored ? 2 : 0));
    }
    tfm = tfm || (tag_ok[ls] & 1);
    tim = tim || (tag_ok[ls] & 2);
    if (tag_ok[ls] != 1) continue;
    if (new_ls[ls] == NONE) {                /* tagshow / taghide drop label keys */
      const pgo_labelset *set = &p->labelsets[ls];
      if (!PGO_RESERVE(lbuf, lbuf_cap, set->count + 1)) goto nomem;
      uint32_t n = 0;
      for (uint32_t k = 0; k < set->count; k++) {
        const pgo_label *l = &p->labels[set->start + k];
        const char *key = pgo_str(&p->strings, l->key);
        bool show = !s.rx[RX_TAGSHOW].set || rx_match(&s.rx[RX_TAGSHOW], key);
        bool hide = s.rx[RX_TAGHIDE].set && rx_match(&s.rx[RX_TAGHIDE], key);
        tsm = tsm || show;
        thm = thm || hide;
        if (show && !hide) lbuf[n++] = *l;
      }
      /* an unchanged set is passed in place; an empty one from lbuf, since p->labels is
       * NULL in a profile without labels and NULL + 0 is undefined */
      const pgo_label *kept_labels = n == set->count && n ? p->labels + set->start : lbuf;
      if (!pgo_profile_labelset(s.q, &lsi, kept_labels, n, &new_ls[ls])) goto nomem;
    }
    if (!pgo_profile_add_sample(s.q, &smp, stack, new_ls[ls], pgo_sample_values(p, i))) goto nomem;
    kept++;
  }
  s.q->sample_messages = kept == p->nsamples ? p->sample_messages : s.q->nsamples;

  /* a match that ran out of backtracking budget is an error, not a silent "no match" */
  const struct { const rx *r; const char *name, *pattern; } used[] = {
    { &s.rx[RX_FOCUS], "focus", o->focus }, { &s.rx[RX_IGNORE], "ignore", o->ignore },
    { &s.rx[RX_HIDE], "hide", o->hide }, { &s.rx[RX_SHOW], "show", o->show },
    { &s.rx[RX_SHOWFROM], "show_from", o->show_from }, { &s.rx[RX_PRUNE], "prune_from", o->prune_from },
    { &s.rx[RX_TAGSHOW], "tagshow", o->tagshow }, { &s.rx[RX_TAGHIDE], "taghide", o->taghide },
  };
  for (size_t i = 0; i < sizeof used / sizeof *used; i++)
    if (!rx_check_limits(used[i].r, used[i].name, used[i].pattern, err)) goto fail;
  for (size_t i = 0; i < s.tagfocus.nres; i++)
    if (!rx_check_limits(&s.tagfocus.res[i], "tagfocus", o->tagfocus, err)) goto fail;
  for (size_t i = 0; i < s.tagignore.nres; i++)
    if (!rx_check_limits(&s.tagignore.res[i], "tagignore", o->tagignore, err)) goto fail;

  /* pprof's "<Option> expression matched no samples", in its order */
  static const char *const warn = "%s expression matched no samples";
  struct { bool set, matched; const char *name; } checks[] = {
    { s.rx[RX_FOCUS].set, fm, "Focus" }, { s.rx[RX_IGNORE].set, im, "Ignore" },
    { s.rx[RX_HIDE].set, hm, "Hide" }, { s.rx[RX_SHOW].set, hnm, "Show" },
    { s.rx[RX_SHOWFROM].set, sfm, "ShowFrom" }, { s.tagfocus.set, tfm, "TagFocus" },
    { s.tagignore.set, tim, "TagIgnore" }, { s.rx[RX_TAGSHOW].set, tsm, "TagShow" },
    { s.rx[RX_TAGHIDE].set, thm, "TagHide" },
  };
  for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
    if (checks[i].set && !checks[i].matched && !notes_add(notes, warn, checks[i].name)) goto nomem;

  pgo_profile *q = s.q;
  s.q = NULL;
  state_free(&s);
  pgo_num_units_free(&units);
  pgo_flat_index_free(&si);
  pgo_sample_index_free(&smp);
  pgo_labelset_index_free(&lsi);
  free(new_ls);
  free(tag_ok);
  free(lbuf);
  return q;

nomem:
  pgo_fail(err, "nomem", "out of memory filtering the profile");
fail:
  pgo_profile_free(s.q);
  state_free(&s);
  pgo_num_units_free(&units);
  pgo_flat_index_free(&si);
  pgo_sample_index_free(&smp);
  pgo_labelset_index_free(&lsi);
  free(new_ls);
  free(tag_ok);
  free(lbuf);
  pgo_filter_notes_free(notes);
  return NULL;
}
