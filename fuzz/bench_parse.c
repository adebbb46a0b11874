/* bench_parse.c: libFuzzer target for the benchmark reader, which is Lua (lua/pgo/bench.lua):
 * bench.parse on the input as "old" (and, when the input holds a NUL byte, on what follows
 * the first one as "new"), bench.compare, bench.report in text, csv, markdown and json, and
 * bench.gate.
 *
 * Oracles: no Lua error escapes (a raised error is printed with its traceback and aborts);
 * bench.parse gives a set or nil, message, code; every measurement of the parsed sets lands
 * in exactly one cell of the comparison; every report is a string, the JSON one UTF-8.
 *
 * Coverage: libFuzzer instruments C, and the Lua VM here is the system's uninstrumented
 * liblua, so the Lua code would be invisible to it. A line hook turns each pair of
 * consecutive Lua lines (chunk, line) into an 8-bit counter in libFuzzer's extra-counters
 * section, as edge coverage does for C. A count hook bounds each input's work: an input
 * that needs far more VM instructions than its size explains is reported as slow (a
 * super-linear path), not left to libFuzzer's wall-clock timeout.
 *
 * PGOLUA_FUZZ_LUA_LINES=FILE writes every Lua line run (chunk name TAB line) to FILE at exit,
 * for fuzz/coverage.sh; PGOLUA_FUZZ_LUA_STATS=1 prints each input's instruction count. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include "lua/lua_modules.h"

enum {
  COUNTERS = 1 << 16,                  /* Lua line-pair counters */
  COUNT_STEP = 1000,                   /* instructions between count hooks */
  MAX_CHUNKS = 64,                     /* chunks tracked for the line listing */
};
/* The work budget: BASE plus PER_BYTE for each input byte. Linear paths need up to ~550
 * instructions per byte (measured with PGOLUA_FUZZ_LUA_STATS=1 on the seeds and on 64 KiB
 * files of 4000 rows, 6000 values, 4000 units, 4000 config changes); only a super-linear
 * path goes past this. */
#define BUDGET_BASE 5000000ull
#define BUDGET_PER_BYTE 1000ull
/* One cost is quadratic by design, as in benchstat: every result carries the file's whole
 * configuration and every table lists every key, so K config keys and R results cost K*R
 * (a 64 KiB file of 4000 keys each followed by a result needs over a GiB and a minute).
 * Inputs with more (config lines) x (result lines) than this are skipped, so the budget
 * only ever catches a path that is super-linear by mistake. */
#define MAX_CONFIG_RESULT_PAIRS 250000ull

/* libFuzzer reads this section after every run (__start/__stop symbols on Linux, clang 14's
 * FuzzerExtraCounters.cpp). It has to be a global array: the section is the interface. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t lua_line_counters[COUNTERS];

/* One Lua chunk's lines that ran, for PGOLUA_FUZZ_LUA_LINES. */
struct chunk_lines {
  const char *source;                  /* owned by the chunk's prototype, which stays alive */
  uint8_t *hit;                        /* hit[line] */
  size_t nlines;
};

/* The harness keeps one lua_State for the whole process: opening the libraries and loading
 * pgo.bench costs far more than one input, and libFuzzer calls the target from one thread.
 * libFuzzer's C interface gives no place to keep it but a static. */
static struct {
  lua_State *L;
  int driver_ref;                      /* registry reference of the per-input function */
  uint64_t instructions, budget;
  uintptr_t previous_line;
  bool stats;
  const char *lines_path;
  struct chunk_lines chunks[MAX_CHUNKS];
  size_t nchunks;
} harness;

/* The per-input work, in Lua so it calls the library exactly as a script does. */
static const char driver_source[] =
  "local bench = require 'pgo.bench'\n"
  "local formats = { 'text', 'csv', 'markdown', 'json' }\n"
  "local function parsed(label, set, msg, code)\n"
  "  if set == nil then\n"
  "    if type(msg) ~= 'string' or msg == '' or type(code) ~= 'string' or code == '' then\n"
  "      error(('oracle: bench.parse(%s) failed without a message and a code (%s, %s)')\n"
  "        :format(label, tostring(msg), tostring(code)), 0)\n"
  "    end\n"
  "    return nil\n"
  "  end\n"
  "  if type(set) ~= 'table' or type(set.series) ~= 'table' or type(set.errors) ~= 'table' then\n"
  "    error(('oracle: bench.parse(%s) returned %s, not a set'):format(label, tostring(set)), 0)\n"
  "  end\n"
  "  return set\n"
  "end\n"
  "local function measurements(set)\n"
  "  local n = 0\n"
  "  for _, sr in ipairs(set.series) do\n"
  "    for _, u in ipairs(sr.units) do n = n + #sr.values[u] end\n"
  "  end\n"
  "  return n\n"
  "end\n"
  "return function(old_text, new_text)\n"
  "  local old = parsed('old', bench.parse(old_text, 'old'))\n"
  "  if not old then return end\n"
  "  local new\n"
  "  if new_text then\n"
  "    new = parsed('new', bench.parse(new_text, 'new'))\n"
  "    if not new then return end\n"
  "  end\n"
  "  local cmp = new and bench.compare(old, new) or bench.compare(old)\n"
  "  local cells = 0\n"
  "  for _, t in ipairs(cmp.tables) do\n"
  "    for _, row in ipairs(t.rows) do\n"
  "      for _, cell in pairs(row.cells) do cells = cells + cell.n end\n"
  "    end\n"
  "  end\n"
  "  local want = measurements(old) + (new and measurements(new) or 0)\n"
  "  if cells ~= want then\n"
  "    error(('oracle: the comparison holds %d measurements, the sets %d'):format(cells, want), 0)\n"
  "  end\n"
  "  for _, format in ipairs(formats) do\n"
  "    local text, warnings = bench.report(cmp, { format = format })\n"
  "    if type(text) ~= 'string' or type(warnings) ~= 'string' then\n"
  "      error('oracle: bench.report(' .. format .. ') did not return two strings', 0)\n"
  "    end\n"
  "    if format == 'json' and not utf8.len(text) then\n"
  "      error('oracle: the json report is not UTF-8', 0)\n"
  "    end\n"
  "  end\n"
  "  bench.gate(cmp)\n"
  "end\n";

static struct chunk_lines *chunk_of(const char *source) {
  for (size_t i = 0; i < harness.nchunks; i++)
    if (harness.chunks[i].source == source) return &harness.chunks[i];
  if (harness.nchunks == MAX_CHUNKS) return NULL;
  struct chunk_lines *c = &harness.chunks[harness.nchunks++];
  c->source = source;
  return c;
}

static void note_line(const char *source, int line) {
  struct chunk_lines *c = chunk_of(source);
  if (!c || line < 0) return;
  if ((size_t)line >= c->nlines) {
    size_t n = (size_t)line * 2 + 64;
    uint8_t *bigger = realloc(c->hit, n);
    if (!bigger) return;
    memset(bigger + c->nlines, 0, n - c->nlines);
    c->hit = bigger;
    c->nlines = n;
  }
  c->hit[line] = 1;
}

static void write_lines(void) {
  FILE *f = fopen(harness.lines_path, "w");
  if (!f) {
    fprintf(stderr, "bench_parse: cannot write %s\n", harness.lines_path);
    return;
  }
  for (size_t i = 0; i < harness.nchunks; i++)
    for (size_t line = 0; line < harness.chunks[i].nlines; line++)
      if (harness.chunks[i].hit[line]) fprintf(f, "%s\t%zu\n", harness.chunks[i].source, line);
  fclose(f);
}

static void on_lua_event(lua_State *L, lua_Debug *ar) {
  if (ar->event == LUA_HOOKCOUNT) {
    harness.instructions += COUNT_STEP;
    if (harness.instructions > harness.budget)
      luaL_error(L, "slow input: more than %I Lua VM instructions (the budget for this input's"
                 " size); look for a super-linear path", (lua_Integer)harness.budget);
    return;
  }
  if (!lua_getinfo(L, "S", ar)) return;
  /* the chunk is identified by its source string, which lives as long as the chunk */
  uintptr_t here = ((uintptr_t)ar->source * 0x9e3779b97f4a7c15u) ^ (uintptr_t)ar->currentline;
  here ^= here >> 29;
  size_t slot = (here ^ (harness.previous_line >> 1)) % COUNTERS;
  if (lua_line_counters[slot] < 255) lua_line_counters[slot]++;
  harness.previous_line = here;
  if (harness.lines_path) note_line(ar->source, ar->currentline);
}

static void die_with_lua_error(lua_State *L, const char *what) {
  fprintf(stderr, "bench_parse: FINDING: %s: %s\n", what, lua_tostring(L, -1));
  abort();
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "bench_parse: cannot create a Lua state\n");
    abort();
  }
  pgolua_openlibs(L);
  /* Only the modules compiled into the harness: a lua/ tree on package.path (the working
   * directory, LUA_PATH) must not change what is fuzzed. */
  lua_getglobal(L, "package");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  lua_pushcfunction(L, traceback);
  if (luaL_loadbufferx(L, driver_source, sizeof driver_source - 1, "=bench_parse driver", "t") != LUA_OK)
    die_with_lua_error(L, "the driver does not compile");
  if (lua_pcall(L, 0, 1, -2) != LUA_OK) die_with_lua_error(L, "loading pgo.bench failed");
  harness.driver_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);                       /* traceback */
  harness.L = L;
  harness.stats = getenv("PGOLUA_FUZZ_LUA_STATS") != NULL;
  harness.lines_path = getenv("PGOLUA_FUZZ_LUA_LINES");
  if (harness.lines_path && *harness.lines_path) atexit(write_lines);
  else harness.lines_path = NULL;
  lua_sethook(L, on_lua_event, LUA_MASKLINE | LUA_MASKCOUNT, COUNT_STEP);
  return 0;
}

/* (lines that may set a configuration key) x (lines that may be results), over the input. */
static uint64_t config_result_pairs(const unsigned char *data, size_t size) {
  uint64_t configs = 0, results = 0;
  for (size_t pos = 0; pos < size;) {
    const unsigned char *nl = memchr(data + pos, '\n', size - pos);
    size_t end = nl ? (size_t)(nl - data) : size;
    unsigned char first = data[pos];
    if (end - pos >= 9 && memcmp(data + pos, "Benchmark", 9) == 0) results++;
    else if (((first >= 'a' && first <= 'z') || first >= 0xc0) && memchr(data + pos, ':', end - pos))
      configs++;
    pos = end + 1;
  }
  return configs * results;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (!harness.L) LLVMFuzzerInitialize(NULL, NULL);
  if (config_result_pairs(data, size) > MAX_CONFIG_RESULT_PAIRS) return -1;   /* see above */
  lua_State *L = harness.L;
  harness.instructions = 0;
  harness.budget = BUDGET_BASE + BUDGET_PER_BYTE * (uint64_t)size;
  harness.previous_line = 0;
  const char *text = (const char *)data;
  const char *split = memchr(text, '\0', size);
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, harness.driver_ref);
  lua_pushlstring(L, text, split ? (size_t)(split - text) : size);
  if (split) lua_pushlstring(L, split + 1, size - (size_t)(split - text) - 1);
  else lua_pushnil(L);
  if (lua_pcall(L, 2, 0, -4) != LUA_OK) die_with_lua_error(L, "a Lua error escaped");
  lua_pop(L, 1);                       /* traceback */
  if (harness.stats)
    fprintf(stderr, "bench_parse: %zu bytes, about %" PRIu64 " VM instructions\n", size,
            harness.instructions);
  return 0;
}
