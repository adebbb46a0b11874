/* edit.c: edits that policy scripts apply to profiles (see edit.h). Each works on a
 * clone; edits that change samples or stacks end with a compaction (merge.c), which drops
 * zero samples and unreferenced entities and joins samples that became equal. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgolua/edit.h"
#include "pgolua/merge.h"

static pgo_profile *fail_nomem(pgo_profile *q, pgo_error *err) {
  pgo_profile_free(q);
  pgo_fail(err, "nomem", "out of memory while editing the profile");
  return NULL;
}

/* Compact q into a new profile and free q. */
static pgo_profile *finish_compacted(pgo_profile *q, pgo_error *err) {
  q->sample_messages = q->nsamples;
  pgo_profile *r = pgo_profile_compact(q, err);
  pgo_profile_free(q);
  return r;
}

static bool set_name(pgo_profile *q, const pgo_strref *r, uint32_t *field) {
  if (!r || !r->s) return true;
  return pgo_profile_intern(q, r->s, r->len, field);
}

pgo_profile *pgo_profile_edit_names(const pgo_profile *p, const pgo_name_edits *e,
                                    pgo_error *err) {
  pgo_profile *q = pgo_profile_clone(p);
  if (!q) return fail_nomem(NULL, err);
  for (size_t i = 0; i < q->nfunctions; i++) {
    pgo_function *f = &q->functions[i];
    if (!set_name(q, e->fn_name ? &e->fn_name[i] : NULL, &f->name) ||
        !set_name(q, e->fn_system_name ? &e->fn_system_name[i] : NULL, &f->system_name) ||
        !set_name(q, e->fn_filename ? &e->fn_filename[i] : NULL, &f->filename))
      return fail_nomem(q, err);
  }
  for (size_t i = 0; i < q->nmappings && e->mapping_file; i++)
    if (!set_name(q, &e->mapping_file[i], &q->mappings[i].file)) return fail_nomem(q, err);
  q->sample_messages = q->nsamples;
  return q;
}

/* {=====================================================================================
 * Values */

pgo_profile *pgo_profile_scale(const pgo_profile *p, const double *factors, double factor,
                               pgo_error *err) {
  pgo_profile *q = pgo_profile_clone(p);
  if (!q) return fail_nomem(NULL, err);
  size_t nt = q->nsample_types;
  for (size_t i = 0; i < q->nsamples; i++) {
    double f = factors ? factors[i] : factor;
    if (f == 1.0) continue;
    int64_t *row = q->values + i * nt;
    for (size_t c = 0; c < nt; c++) {
      if (row[c] == 0) continue;
      double x = round((double)row[c] * f);       /* half away from zero, as pprof */
      if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) {
        pgo_profile_free(q);
        pgo_fail(err, "overflow", "scaling sample #%zu by %g gives %g, outside the 64-bit"
                 " integer range; use a smaller factor", i + 1, f, x);
        return NULL;
      }
      row[c] = (int64_t)x;
    }
  }
  return finish_compacted(q, err);
}

/* ===================================================================================}
 * {=====================================================================================
 * Frames and matching */

pgo_profile *pgo_profile_keep_functions(const pgo_profile *p, const bool *keep_fn,
                                        pgo_error *err) {
  pgo_profile *q = pgo_profile_clone(p);
  if (!q) return fail_nomem(NULL, err);
  pgo_line *lines = malloc((p->nlines ? p->nlines : 1) * sizeof *lines);
  bool *loc_kept = malloc((p->nlocations ? p->nlocations : 1) * sizeof *loc_kept);
  uint32_t *buf = NULL;
  size_t cap_buf = 0, n = 0;
  pgo_stack_index stacks;
  pgo_sample_index samples;
  pgo_stack_index_init(&stacks);
  pgo_sample_index_init(&samples);
  if (!lines || !loc_kept) goto nomem;
  for (size_t l = 0; l < p->nlocations; l++) {
    const pgo_location *src = &p->locations[l];
    size_t start = n;
    for (uint32_t k = 0; k < src->line_count; k++) {
      const pgo_line *ln = &p->lines[src->line_start + k];
      if (keep_fn[ln->function]) lines[n++] = *ln;
    }
    q->locations[l].line_start = (uint32_t)start;
    q->locations[l].line_count = (uint32_t)(n - start);
    loc_kept[l] = n > start;
  }
  free(q->lines);
  q->lines = lines;
  q->nlines = n;
  q->cap_lines = p->nlines ? p->nlines : 1;
  lines = NULL;
  /* rebuild the stacks without the removed locations */
  q->nframes = 1;
  q->nsamples = 0;
  size_t nt = p->nsample_types;
  for (size_t i = 0; i < p->nsamples; i++) {
    uint32_t leaf = p->samples[i].stack;
    if (!PGO_RESERVE(buf, cap_buf, (size_t)p->frames[leaf].depth + 1)) goto nomem;
    size_t d = 0;
    for (uint32_t f = leaf; f; f = p->frames[f].parent)
      if (loc_kept[p->frames[f].location]) buf[d++] = p->frames[f].location;
    if (d == 0) continue;
    uint32_t node;
    if (!pgo_profile_stack(q, &stacks, buf, d, &node) ||
        !pgo_profile_add_sample(q, &samples, node, p->samples[i].labels, p->values + i * nt))
      goto nomem;
  }
  free(loc_kept);
  free(buf);
  pgo_stack_index_free(&stacks);
  pgo_sample_index_free(&samples);
  return finish_compacted(q, err);
nomem:
  free(lines);
  free(loc_kept);
  free(buf);
  pgo_stack_index_free(&stacks);
  pgo_sample_index_free(&samples);
  return fail_nomem(q, err);
}

static bool has_prefix(const pgo_profile *p, uint32_t id, const pgo_strref *prefixes, size_t n) {
  const char *s = pgo_str(&p->strings, id);
  size_t len = pgo_strlen(&p->strings, id);
  for (size_t k = 0; k < n; k++)
    if (prefixes[k].len <= len && memcmp(s, prefixes[k].s, prefixes[k].len) == 0) return true;
  return false;
}

void pgo_functions_with_prefix(const pgo_profile *p, const pgo_strref *prefixes, size_t n,
                               bool *mask) {
  for (size_t i = 0; i < p->nfunctions; i++)
    mask[i] = has_prefix(p, p->functions[i].name, prefixes, n);
}

bool pgo_functions_matching(const pgo_profile *p, const char *regex, bool *mask,
                            pgo_error *err) {
  regex_t re;
  int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof msg);
    return pgo_fail(err, "bad_regex", "invalid regular expression '%s': %s (POSIX extended"
                    " syntax)", regex, msg);
  }
  for (size_t i = 0; i < p->nfunctions; i++)
    mask[i] = regexec(&re, pgo_str(&p->strings, p->functions[i].name), 0, NULL, 0) == 0;
  regfree(&re);
  return true;
}

bool pgo_samples_with_functions(const pgo_profile *p, const bool *fn_mask, bool *sample_mask) {
  /* a frame matches when its location or any caller's does; parents precede children */
  bool *loc = malloc((p->nlocations ? p->nlocations : 1) * sizeof *loc);
  bool *frame = malloc(p->nframes * sizeof *frame);
  if (!loc || !frame) { free(loc); free(frame); return false; }
  for (size_t l = 0; l < p->nlocations; l++) {
    const pgo_location *lp = &p->locations[l];
    loc[l] = false;
    for (uint32_t k = 0; k < lp->line_count && !loc[l]; k++)
      loc[l] = fn_mask[p->lines[lp->line_start + k].function];
  }
  frame[0] = false;
  for (size_t f = 1; f < p->nframes; f++)
    frame[f] = loc[p->frames[f].location] || frame[p->frames[f].parent];
  for (size_t i = 0; i < p->nsamples; i++) sample_mask[i] = frame[p->samples[i].stack];
  free(loc);
  free(frame);
  return true;
}

/* ===================================================================================}
 * {=====================================================================================
 * Pseudonyms and anonymization */

static const char *const adjectives[64] = {
  "amber", "ancient", "autumn", "bitter", "black", "bold", "brave", "brisk",
  "calm", "clever", "cold", "crimson", "curly", "damp", "dark", "dawn",
  "deep", "dry", "dusty", "eager", "early", "fading", "fancy", "fierce",
  "floral", "fresh", "gentle", "gold", "green", "hidden", "hollow", "icy",
  "jolly", "keen", "late", "lively", "lone", "loud", "lucky", "mellow",
  "misty", "noble", "odd", "old", "pale", "plain", "proud", "purple",
  "quiet", "rapid", "red", "rough", "royal", "rustic", "shy", "silent",
  "silver", "small", "snowy", "solar", "still", "swift", "tiny", "wild",
};

static const char *const nouns[64] = {
  "badger", "bay", "bird", "breeze", "brook", "bush", "butterfly", "cloud",
  "comet", "crane", "creek", "dew", "dream", "dune", "eagle", "falcon",
  "feather", "fern", "field", "fire", "firefly", "flower", "fog", "forest",
  "fox", "frog", "glade", "haze", "heron", "hill", "lake", "leaf",
  "meadow", "moon", "moss", "mountain", "night", "oak", "otter", "owl",
  "paper", "pine", "pond", "rain", "resonance", "river", "sea", "shadow",
  "shape", "sky", "smoke", "snow", "sound", "star", "stone", "sun",
  "surf", "thunder", "tree", "violet", "water", "wave", "wind", "wolf",
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *b = data;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}

size_t pgo_pseudonym(const char *s, size_t n, const char *salt, size_t saltlen, char *out,
                     size_t cap) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a(h, salt, saltlen);
  h = fnv1a(h, "\0", 1);
  h = fnv1a(h, s, n);
  h ^= h >> 33;                      /* spread the high bits into the low ones */
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  int w = snprintf(out, cap, "%s_%s_%08x", adjectives[h & 63], nouns[(h >> 6) & 63],
                   (unsigned)((h >> 12) & 0xffffffffu));
  return w < 0 ? 0 : ((size_t)w < cap ? (size_t)w : cap - 1);
}

/* Intern "<before><pseudonym of id><after>" into q. Empty strings stay empty. */
static bool intern_pseudonym(pgo_profile *q, const pgo_profile *p, uint32_t id,
                             const pgo_anon_opts *o, const char *before, bool keep_ext,
                             uint32_t *out) {
  if (id == 0) { *out = 0; return true; }
  const char *s = pgo_str(&p->strings, id);
  size_t len = pgo_strlen(&p->strings, id);
  char buf[160];
  size_t n = (size_t)snprintf(buf, sizeof buf, "%s", before);
  n += pgo_pseudonym(s, len, o->salt ? o->salt : "", o->saltlen, buf + n, sizeof buf - n);
  if (keep_ext) {                    /* keep a short extension: "x.go" -> "....go" */
    size_t dot = len;
    while (dot > 0 && s[dot - 1] != '.' && s[dot - 1] != '/') dot--;
    size_t ext = len - dot + 1;
    if (dot > 1 && s[dot - 1] == '.' && s[dot - 2] != '/' && ext <= 8 && n + ext < sizeof buf) {
      memcpy(buf + n, s + dot - 1, ext);
      n += ext;
    }
  }
  return pgo_profile_intern(q, buf, n, out);
}

pgo_profile *pgo_profile_anonymize(const pgo_profile *p, const pgo_anon_opts *o,
                                   pgo_error *err) {
  pgo_profile *q = pgo_profile_clone(p);
  if (!q) return fail_nomem(NULL, err);
  size_t ns = p->strings.count;
  bool *file_secret = calloc(ns, sizeof *file_secret);   /* used by a hidden function */
  uint32_t *label_map = NULL;
  if (!file_secret) goto nomem;
  for (size_t i = 0; i < p->nfunctions; i++) {
    const pgo_function *f = &p->functions[i];
    if (has_prefix(p, f->name, o->allow, o->nallow)) continue;
    file_secret[f->filename] = true;
    pgo_function *g = &q->functions[i];
    if (!intern_pseudonym(q, p, f->name, o, "anon.", false, &g->name)) goto nomem;
    if (f->system_name == f->name) g->system_name = g->name;
    else if (!intern_pseudonym(q, p, f->system_name, o, "anon.", false, &g->system_name))
      goto nomem;
  }
  for (size_t i = 0; i < p->nfunctions; i++) {
    uint32_t file = p->functions[i].filename;
    if (!file_secret[file] || has_prefix(p, file, o->allow_files, o->nallow_files)) continue;
    if (!intern_pseudonym(q, p, file, o, "anon/", true, &q->functions[i].filename)) goto nomem;
  }
  for (size_t i = 0; i < p->nmappings; i++) {
    uint32_t file = p->mappings[i].file;
    if (has_prefix(p, file, o->allow_files, o->nallow_files)) continue;
    if (!intern_pseudonym(q, p, file, o, "/anon/", false, &q->mappings[i].file)) goto nomem;
  }
  if (o->drop_comments) q->ncomments = 0;
  q->drop_frames = q->keep_frames = 0;   /* regexps over the real names */
  if (o->labels == PGO_ANON_LABELS_HASH) {
    label_map = malloc(ns * sizeof *label_map);
    if (!label_map) goto nomem;
    memset(label_map, 0xff, ns * sizeof *label_map);
    for (size_t i = 0; i < q->nlabels; i++) {
      uint32_t v = p->labels[i].str;
      if (v == 0) continue;
      if (label_map[v] == PGO_NONE && !intern_pseudonym(q, p, v, o, "", false, &label_map[v]))
        goto nomem;
      q->labels[i].str = label_map[v];
    }
  }
  free(file_secret);
  free(label_map);
  if (o->labels == PGO_ANON_LABELS_DROP) {
    for (size_t i = 0; i < q->nsamples; i++) q->samples[i].labels = 0;
    return finish_compacted(q, err);   /* samples that differed only by labels join */
  }
  q->sample_messages = q->nsamples;
  return q;
nomem:
  free(file_secret);
  free(label_map);
  return fail_nomem(q, err);
}
