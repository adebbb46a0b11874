/* encode.c: pgo_profile -> gzip-compressed profile.proto.
 *
 * Ids are renumbered densely from 1 (index + 1) and the string table is rebuilt from the
 * strings actually used, in pprof's order of first use. Each submessage is packed by
 * protobuf-c; the top-level framing is written here and deflated in chunks, so the
 * uncompressed encoding is never held whole. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "pgolua/profile.h"
#include "profile.pb-c.h"

enum { SINK_CHUNK = 256 * 1024 };

typedef struct {
  z_stream z;
  unsigned char *raw;            /* pending uncompressed bytes */
  size_t nraw, cap_raw;
  unsigned char *out;            /* compressed result */
  size_t nout, cap_out;
  bool failed;
} sink;

static bool sink_deflate(sink *s, int flush) {
  s->z.next_in = s->raw;
  s->z.avail_in = (uInt)s->nraw;
  do {
    if (!PGO_RESERVE(s->out, s->cap_out, s->nout + SINK_CHUNK)) return false;
    s->z.next_out = s->out + s->nout;
    s->z.avail_out = SINK_CHUNK;
    int rc = deflate(&s->z, flush);
    if (rc == Z_STREAM_ERROR) return false;
    s->nout += SINK_CHUNK - s->z.avail_out;
  } while (s->z.avail_out == 0 || (flush == Z_FINISH && s->z.avail_in != 0));
  s->nraw = 0;
  return true;
}

/* Space for n more raw bytes; flushes through deflate when the chunk is full. */
static unsigned char *sink_reserve(sink *s, size_t n) {
  if (s->failed) return NULL;
  if (s->nraw + n > SINK_CHUNK && s->nraw > 0 && !sink_deflate(s, Z_NO_FLUSH)) {
    s->failed = true;
    return NULL;
  }
  if (!PGO_RESERVE(s->raw, s->cap_raw, s->nraw + n)) { s->failed = true; return NULL; }
  return s->raw + s->nraw;
}

static void put_varint(sink *s, uint64_t v) {
  unsigned char *p = sink_reserve(s, 10);
  if (!p) return;
  size_t n = 0;
  while (v >= 0x80) { p[n++] = (unsigned char)(v | 0x80); v >>= 7; }
  p[n++] = (unsigned char)v;
  s->nraw += n;
}

static void put_tag(sink *s, uint32_t field, uint32_t wt) { put_varint(s, (uint64_t)field << 3 | wt); }

static void put_int_field(sink *s, uint32_t field, int64_t v, bool always) {
  if (!v && !always) return;
  put_tag(s, field, 0);
  put_varint(s, (uint64_t)v);
}

static void put_message(sink *s, uint32_t field, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  put_tag(s, field, 2);
  put_varint(s, n);
  unsigned char *p = sink_reserve(s, n);
  if (!p) return;
  protobuf_c_message_pack(m, p);
  s->nraw += n;
}

static void put_bytes(sink *s, uint32_t field, const char *data, size_t n) {
  put_tag(s, field, 2);
  put_varint(s, n);
  unsigned char *p = sink_reserve(s, n);
  if (!p) return;
  if (n) memcpy(p, data, n);
  s->nraw += n;
}

/* ---- the output string table -------------------------------------------------------- */

typedef struct {
  uint32_t *remap;               /* interned id -> output index + 1 (0 = not yet used) */
  uint32_t *order;               /* output index -> interned id; order[0] = "" */
  size_t n;
} strout;

/* The output string index of an interned string, assigned on first use. */
static int64_t use(strout *o, uint32_t id) {
  if (id == 0) return 0;
  if (!o->remap[id]) { o->order[o->n] = id; o->remap[id] = (uint32_t)++o->n; }
  return (int64_t)o->remap[id] - 1;
}

typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

static void put_value_type(sink *s, uint32_t field, strout *o, pgo_value_type vt) {
  ValueType m = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
  m.type = use(o, vt.type);
  m.unit = use(o, vt.unit);
  put_message(s, field, &m.base);
}

bool pgo_profile_encode(const pgo_profile *p, int level, unsigned char **out, size_t *outlen,
                        pgo_error *err) {
  sink s;
  memset(&s, 0, sizeof s);
  strout o = {0};
  size_t maxdepth = 1, maxlines = 1, maxlabels = 1;
  if (p->flat) {
    for (size_t k = 0; k < p->nflat; k++)          /* flat_start has nflat + 1 entries */
      if (p->flat_start[k + 1] - p->flat_start[k] > maxdepth)
        maxdepth = p->flat_start[k + 1] - p->flat_start[k];
  } else {
    for (size_t i = 0; i < p->nframes; i++)
      if (p->frames[i].depth > maxdepth) maxdepth = p->frames[i].depth;
  }
  for (size_t i = 0; i < p->nlocations; i++)
    if (p->locations[i].line_count > maxlines) maxlines = p->locations[i].line_count;
  for (size_t i = 0; i < p->nlabelsets; i++)
    if (p->labelsets[i].count > maxlabels) maxlabels = p->labelsets[i].count;
  uint64_t *locids = malloc(maxdepth * sizeof *locids);
  Line *lines = malloc(maxlines * sizeof *lines);
  Line **linep = malloc(maxlines * sizeof *linep);
  Label *labels = malloc(maxlabels * sizeof *labels);
  Label **labelp = malloc(maxlabels * sizeof *labelp);
  o.remap = calloc(p->strings.count, sizeof *o.remap);
  o.order = malloc(p->strings.count * sizeof *o.order);
  bool ok = false;
  if (!locids || !lines || !linep || !labels || !labelp || !o.remap || !o.order) goto out;
  o.order[0] = 0;
  o.n = 1;
  if (deflateInit2(&s.z, level > 0 && level <= 9 ? level : 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    goto out;

  for (size_t i = 0; i < p->nsample_types; i++) put_value_type(&s, 1, &o, p->sample_types[i]);

  for (size_t i = 0; i < p->nsamples; i++) {
    Sample m = PERFTOOLS__PROFILES__SAMPLE__INIT;
    size_t n = 0;
    if (p->flat) {
      uint32_t k = p->samples[i].stack, start = p->flat_start[k];
      for (n = 0; n < p->flat_start[k + 1] - start; n++)
        locids[n] = (uint64_t)p->flat_locs[start + n] + 1;
    } else {
      for (uint32_t f = p->samples[i].stack; f != 0; f = p->frames[f].parent)
        locids[n++] = (uint64_t)p->frames[f].location + 1;
    }
    m.n_location_id = n;
    m.location_id = locids;
    m.n_value = p->nsample_types;
    m.value = (int64_t *)pgo_sample_values(p, i);
    const pgo_labelset *ls = &p->labelsets[p->samples[i].labels];
    for (uint32_t k = 0; k < ls->count; k++) {
      const pgo_label *l = &p->labels[ls->start + k];
      Label lm = PERFTOOLS__PROFILES__LABEL__INIT;
      lm.key = use(&o, l->key);
      lm.str = use(&o, l->str);
      lm.num = l->num;
      lm.num_unit = use(&o, l->num_unit);
      labels[k] = lm;
      labelp[k] = &labels[k];
    }
    m.n_label = ls->count;
    m.label = labelp;
    put_message(&s, 2, &m.base);
  }
  for (size_t i = 0; i < p->nmappings; i++) {
    const pgo_mapping *mp = &p->mappings[i];
    Mapping m = PERFTOOLS__PROFILES__MAPPING__INIT;
    m.id = i + 1;
    m.memory_start = mp->start;
    m.memory_limit = mp->limit;
    m.file_offset = mp->offset;
    m.filename = use(&o, mp->file);
    m.build_id = use(&o, mp->build_id);
    m.has_functions = mp->has_functions;
    m.has_filenames = mp->has_filenames;
    m.has_line_numbers = mp->has_line_numbers;
    m.has_inline_frames = mp->has_inline_frames;
    put_message(&s, 3, &m.base);
  }
  for (size_t i = 0; i < p->nlocations; i++) {
    const pgo_location *lp = &p->locations[i];
    Location m = PERFTOOLS__PROFILES__LOCATION__INIT;
    m.id = i + 1;
    m.mapping_id = lp->mapping == PGO_NONE ? 0 : (uint64_t)lp->mapping + 1;
    m.address = lp->address;
    m.is_folded = lp->is_folded;
    for (uint32_t k = 0; k < lp->line_count; k++) {
      const pgo_line *ln = &p->lines[lp->line_start + k];
      Line lm = PERFTOOLS__PROFILES__LINE__INIT;
      lm.function_id = (uint64_t)ln->function + 1;
      lm.line = ln->line;
      lm.column = ln->column;
      lines[k] = lm;
      linep[k] = &lines[k];
    }
    m.n_line = lp->line_count;
    m.line = linep;
    put_message(&s, 4, &m.base);
  }
  for (size_t i = 0; i < p->nfunctions; i++) {
    const pgo_function *fp = &p->functions[i];
    Function m = PERFTOOLS__PROFILES__FUNCTION__INIT;
    m.id = i + 1;
    m.name = use(&o, fp->name);
    m.system_name = use(&o, fp->system_name);
    m.filename = use(&o, fp->filename);
    m.start_line = fp->start_line;
    put_message(&s, 5, &m.base);
  }
  /* header strings take their indexes before the table is written */
  int64_t drop = use(&o, p->drop_frames), keep = use(&o, p->keep_frames);
  int64_t ptype = use(&o, p->period_type.type), punit = use(&o, p->period_type.unit);
  for (size_t i = 0; i < p->ncomments; i++) use(&o, p->comments[i]);
  int64_t deftype = use(&o, p->default_sample_type), doc = use(&o, p->doc_url);

  for (size_t i = 0; i < o.n; i++)
    put_bytes(&s, 6, pgo_str(&p->strings, o.order[i]), pgo_strlen(&p->strings, o.order[i]));
  put_int_field(&s, 7, drop, false);
  put_int_field(&s, 8, keep, false);
  put_int_field(&s, 9, p->time_nanos, false);
  put_int_field(&s, 10, p->duration_nanos, false);
  if (ptype || punit) {
    ValueType m = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    m.type = ptype;
    m.unit = punit;
    put_message(&s, 11, &m.base);
  }
  put_int_field(&s, 12, p->period, false);
  for (size_t i = 0; i < p->ncomments; i++) put_int_field(&s, 13, use(&o, p->comments[i]), true);
  put_int_field(&s, 14, deftype, true);
  put_int_field(&s, 15, doc, false);
  if (s.failed || !sink_deflate(&s, Z_FINISH)) goto out;
  ok = true;
out:
  if (s.z.state) deflateEnd(&s.z);
  free(locids);
  free(lines);
  free(linep);
  free(labels);
  free(labelp);
  free(o.remap);
  free(o.order);
  free(s.raw);
  if (!ok) {
    free(s.out);
    return pgo_fail(err, "nomem", "out of memory while encoding the profile");
  }
  *out = s.out;
  *outlen = s.nout;
  return true;
}
