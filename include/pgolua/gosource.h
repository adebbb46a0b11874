/* gosource.h: Go source declaration scanner.
 *
 * Lists the functions and methods a Go module declares, spelled the way Go names them
 * in CPU profiles (shared/docs/pprof-pgo-reference.md e.9):
 *
 *     <pkgpath>.F            function          main.F for every package main
 *     <pkgpath>.(*T).M       pointer receiver  <pkgpath>.T.M for a value receiver
 *     <pkgpath>.F[...]       generic function  (Go 1.19 spelling; 1.21+ profiles write one
 *     <pkgpath>.(*T[...]).M  generic type       name per shape, which a matcher reduces)
 *     <pkgpath>.init.N       the N-th func init() of the package
 *
 * Two layers. pgo_gosource_scan_buffer() reads one file from memory: no file system, no
 * globals, every index checked against len (a fuzz target runs it on arbitrary bytes).
 * pgo_gosource_scan_tree() walks a module the way the go command does and fills a
 * pgo_gosource table. No Lua here.
 *
 * What the scanner understands: comments, interpreted/raw strings and runes (so `func`
 * inside them is never taken for a declaration), Go's semicolon insertion (only a `func`
 * that starts a top-level declaration counts; `var f func()` and `x = func() {...}` do
 * not), receivers with type parameters and parentheses (`func (l *List[T]) Push`,
 * `func (p (*T)) M`), type-parameter lists on functions, declarations without a body
 * (assembly), the package clause, and build constraints.
 *
 * Build constraints: `//go:build` (and, when a file has none, `// +build`) lines above
 * the package clause are evaluated with three-valued logic in which the tag `ignore` is
 * false and every other tag unknown. A file is skipped only when its constraint is false
 * whatever the other tags are (`//go:build ignore`, `ignore && linux`). GOOS, GOARCH,
 * cgo and release tags are NOT evaluated: files for every platform are included, which
 * gives a superset of declarations (right for stale-profile detection; a name declared
 * in several platform files is listed once, at its first file in lexical order). */
#ifndef PGOLUA_GOSOURCE_H
#define PGOLUA_GOSOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"

/* ---- one file in memory ---------------------------------------------------------------- */

/* One top-level func declaration. Pointers point into the scanned buffer. */
typedef struct pgo_godecl {
  const char *name;            /* function or method name (UTF-8 bytes as written) */
  size_t name_len;
  const char *recv;            /* receiver base type name; NULL for a function */
  size_t recv_len;
  bool recv_pointer;           /* func (x *T) */
  bool generic;                /* type parameters on the function or the receiver type */
  uint32_t line;               /* 1-based line of the `func` keyword */
  const char *linkname;        /* //go:linkname local target: the target ("pkg/path.name"),
                                  name is the local name; NULL for a func declaration */
  size_t linkname_len;
} pgo_godecl;

/* What the scanner learnt about the file as a whole. */
typedef struct pgo_gofile {
  const char *package;         /* package clause name (into the buffer); NULL if none */
  size_t package_len;
  uint32_t package_line;
  bool build_ignore;           /* a build constraint that no tag set can satisfy */
  bool has_constraint;         /* a //go:build or // +build line was seen */
  size_t lines;                /* newline count, plus one for an unterminated last line */
  size_t decls;                /* declarations reported */
} pgo_gofile;

/* Called for every declaration, in source order; return false (with err filled) to stop
 * the scan, which then fails with that error. */
typedef bool (*pgo_godecl_fn)(void *ctx, const pgo_godecl *d, pgo_error *err);

/* Scan one Go source file held in src[0..len) (need not be NUL-terminated; any bytes are
 * safe). on_decl and file may be NULL; the pointers in a pgo_godecl point into src. The
 * package clause is known (file->package) before the first declaration is reported.
 * Fails (false, err code "go_syntax", message "line N: ...") on an unterminated comment,
 * string, rune or raw string and on a file without a package clause; the declarations
 * before the error have been reported by then. When build_ignore is set the rest of the
 * file is not scanned (no declarations). Lines are physical lines: //line directives
 * are not applied. Linear in len; recursion is bounded (build expressions: depth 64). */
bool pgo_gosource_scan_buffer(const char *src, size_t len, pgo_godecl_fn on_decl, void *ctx,
                              pgo_gofile *file, pgo_error *err);

/* Spell d the profile way without the package: "F", "F[...]", "T.M", "(*T).M",
 * "(*T[...]).M"; "init" for func init() (numbering is the caller's job). Writes at most
 * cap bytes including the NUL; returns the full length (like snprintf). */
size_t pgo_godecl_spell(const pgo_godecl *d, char *out, size_t cap);

/* Escape an import path as the linker does in symbol names (objabi.PathToPrefix): '.'
 * in the last path element, and bytes <= ' ', '%', '"', >= 0x7F anywhere, become %xx.
 * Same return convention as pgo_godecl_spell. */
size_t pgo_go_path_to_prefix(const char *path, size_t len, char *out, size_t cap);

/* The module path from the text of a go.mod file ("module example.com/x", quoted or not,
 * comments allowed). False with code "bad_go_mod" when there is no module line. The
 * result is copied into out (NUL-terminated, truncated to cap). */
bool pgo_gomod_module(const char *src, size_t len, char *out, size_t cap, pgo_error *err);

/* ---- a module tree ----------------------------------------------------------------------- */

typedef struct pgo_gosource_options {
  bool include_tests;          /* _test.go files (package p and p_test); default false */
  bool include_vendor;         /* vendor/ directories; default false */
  bool skip_nested;            /* directories with their own go.mod are skipped (by default
                                  each is scanned as its own module) */
  bool lenient;                /* a file with a syntax error is skipped, not fatal */
  const char *module;          /* module path to use instead of go.mod's (NULL = read it) */
  uint64_t max_file_bytes;     /* larger .go files are skipped; default 256 MiB */
} pgo_gosource_options;

void pgo_gosource_options_default(pgo_gosource_options *o);

typedef struct pgo_gosrc_func {
  uint32_t name;               /* string id: full profile name, "example.com/m/p.(*T).M" */
  uint32_t file;               /* string id: path relative to the root, '/' separated */
  uint32_t line;
  uint32_t package;            /* index into packages */
  uint32_t next_same;          /* index + 1 of the next declaration of the same name, 0 = none */
  bool test;                   /* declared in a _test.go file */
} pgo_gosrc_func;

typedef struct pgo_gosrc_package {
  uint32_t path;               /* string id: import path, escaped as in symbol names */
  uint32_t prefix;             /* string id: what names start with: path, or "main" */
  uint32_t name;               /* string id: the package clause */
  uint32_t dir;                /* string id: directory relative to the root ("." = root) */
  uint32_t module;             /* string id: module path of the package */
  uint32_t files, functions, inits;
  bool main;                   /* package main */
} pgo_gosrc_package;

/* Why something was skipped. The first three leave the scan unable to tell what the
 * skipped file declares (an audit is then inconclusive about its package). */
typedef enum pgo_gosrc_skip_kind {
  PGO_SKIP_UNREADABLE, PGO_SKIP_TOO_LARGE, PGO_SKIP_SYNTAX,
  PGO_SKIP_EXCLUDED,           /* by rule: testdata, hidden, vendor, build ignore, links */
  PGO_SKIP_NESTED,             /* a nested module left out (skip_nested, unreadable go.mod) */
} pgo_gosrc_skip_kind;

typedef struct pgo_gosrc_skip {
  uint32_t path;               /* string id: relative path of the directory or file */
  uint32_t reason;             /* string id: "vendor", "testdata", "nested module ...", ... */
  uint32_t package;            /* string id: import path (escaped) of the directory's package,
                                  or of the module of a PGO_SKIP_NESTED directory */
  pgo_gosrc_skip_kind kind;
} pgo_gosrc_skip;

/* A module met by the walk: the root's, and every nested one. */
typedef struct pgo_gosrc_module {
  uint32_t path;               /* string id: module path ("std", "cmd", "example.com/m") */
  uint32_t dir;                /* string id: directory relative to the root ("." = root) */
  bool scanned;                /* false for a nested module that was skipped */
} pgo_gosrc_module;

typedef struct pgo_gosource {
  pgo_strtab strings;
  uint32_t module;             /* string id: the root module's path */
  pgo_gosrc_func *funcs;       /* every declaration, in walk order (dirs, then files) */
  size_t nfuncs, cap_funcs;
  uint32_t *first;             /* per distinct name: index of its first declaration */
  uint32_t *last;              /* ... and of its last one (to append to the chain) */
  size_t nfirst, cap_first, cap_last;
  pgo_u64map by_name;          /* name string id -> its slot in first[] and last[] */
  pgo_gosrc_package *packages;
  size_t npackages, cap_packages;
  pgo_gosrc_skip *skipped;
  size_t nskipped, cap_skipped;
  pgo_gosrc_module *modules;
  size_t nmodules, cap_modules;
  uint64_t asm_files;          /* .s files read for TEXT symbols */
  uint64_t files, lines, bytes, test_files_excluded;
} pgo_gosource;

/* Walk the module rooted at root (the directory holding go.mod, or a go.work workspace
 * without one: then only the modules below it are read) and collect every declaration.
 * A subdirectory with its own go.mod is scanned as its own module (its packages under its
 * module path) unless skip_nested. Assembly files (.s) add the functions they define
 * (`TEXT ·name(SB)` in the directory's package, `TEXT pkg·name(SB)` in pkg, '∕' for '/'),
 * //go:linkname directives add their target names. Directories named testdata, or
 * starting with '.' or '_', are skipped (as the go command does), vendor/ unless the
 * options say otherwise (the standard library's vendor/ is part of std and is read);
 * files starting with '.' or '_' are ignored; symbolic links to directories are not
 * followed. Files are read in byte order of their names within a directory, which is
 * the order init.N numbers follow (non-test files first, then _test.go files). Fails
 * with code not_found, no_go_mod, bad_go_mod, io, go_syntax (with file:line) or nomem;
 * out is then empty. Free with pgo_gosource_free in any case. */
bool pgo_gosource_scan_tree(const char *root, const pgo_gosource_options *o,
                            pgo_gosource *out, pgo_error *err);
void pgo_gosource_free(pgo_gosource *g);

/* The distinct names in byte order: fills order[0..g->nfirst) with indices into
 * g->funcs (the first declaration of each name). False when out of memory. */
bool pgo_gosource_sorted(const pgo_gosource *g, uint32_t *order);

/* ---- finding files (for repository audits) ------------------------------------------------ */

/* Which files pgo_find_files reports: basename equal to one of names, or ending with one
 * of suffixes, or starting with one of prefixes (NULL-terminated lists, each may be
 * NULL). Directories named .git, node_modules, testdata and vendor and other hidden
 * directories are not entered, except the hidden ones listed in hidden_dirs (".github"). */
typedef struct pgo_find_spec {
  const char *const *names;
  const char *const *suffixes;
  const char *const *prefixes;
  const char *const *hidden_dirs;
  bool include_vendor;
  uint32_t max_depth;          /* 0 = unlimited */
} pgo_find_spec;

/* Called with each matching path relative to root ('/' separated), in byte order within
 * each directory. Return false (err filled) to stop. */
typedef bool (*pgo_found_fn)(void *ctx, const char *rel, pgo_error *err);

bool pgo_find_files(const char *root, const pgo_find_spec *spec, pgo_found_fn fn, void *ctx,
                    pgo_error *err);

#endif
