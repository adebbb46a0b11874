/* calladdr.h: the call instructions behind a profile's call edges.
 *
 * The compiler's call edges (pgograph.h) are named (caller, callee, line offset): two
 * calls on one line, one static and one through an interface, make one site. A sample's
 * second location, though, holds the address of the call instruction that made the
 * edge from its innermost line to the leaf location's function (runtime/pprof records the
 * return address - 1). This lists those edges with their addresses, so a reader of the
 * binary can tell which edges an indirect call made (callinsn.h). Edges inside one
 * location (a call the binary inlined) have no instruction: they are listed with
 * `inlined` set, so a reader can compare the inlined copies of one caller (a function
 * value parameter resolved to a different function in each copy was an indirect call in
 * the source, which the compiler's PGO pass sees before inlining). */
#ifndef PGOLUA_CALLADDR_H
#define PGOLUA_CALLADDR_H
#include <stddef.h>
#include <stdint.h>
#include "pgolua/core.h"
#include "pgolua/profile.h"

typedef struct pgo_call_address {
  uint32_t caller, callee;     /* string ids of the function names */
  int64_t offset;              /* caller's line - its start line, as the compiler names it */
  uint32_t file;               /* string id of the caller's source file */
  int64_t line;                /* the caller's line in it */
  uint64_t address;            /* the caller location's address (return address - 1) */
  int64_t weight;              /* sum of the samples' compiler column (pgo_pgo_value_index) */
  uint32_t outer;              /* string id of the function the caller's frame was inlined
                                  into (its next frame in the same location); 0 = none */
  int64_t outer_offset;        /* that frame's line - its start line */
  bool inlined;                /* the call itself was inlined: no call instruction */
} pgo_call_address;

/* One entry per distinct (caller, callee, offset, address, outer, outer_offset, inlined)
 * among the edges the compiler reads (consecutive frames of each sample's two leaf
 * locations), ordered by those fields. A call between the two locations needs the upper
 * location's address (else it adds nothing); locations without lines add nothing. Fails
 * with "not_cpu" (no samples/count or cpu/nanoseconds column) or "nomem"; *out is
 * malloc'd (free it). */
bool pgo_call_addresses(const pgo_profile *p, pgo_call_address **out, size_t *n,
                        pgo_error *err);

#endif
