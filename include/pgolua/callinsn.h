/* callinsn.h: what kind of call instruction returns to an address of a Go binary.
 *
 * A CPU profile's non-leaf location holds a return address - 1 (runtime/pprof subtracts
 * one so the address symbolizes to the call's line). The call instruction is the one
 * ending at that address + 1. Whether it is direct (a static call) or indirect (through
 * a register: an interface or function-value call; on amd64 the kind is read off the load
 * of the register just before: 0(DX) is a closure's code pointer, 0x18+8k(R) an itab
 * method slot) is what a profile alone cannot say
 * when several calls share one line. Decoded for amd64 and arm64; other machines give
 * PGO_CALL_UNKNOWN. No global state; every read is bounds-checked. */
#ifndef PGOLUA_CALLINSN_H
#define PGOLUA_CALLINSN_H
#include <stdint.h>
#include "pgolua/elf.h"
#include "pgolua/pclntab.h"

typedef enum {
  PGO_CALL_UNKNOWN = 0,        /* unmapped, another machine, or no call instruction ends there */
  PGO_CALL_DIRECT,             /* CALL rel32 / BL to a function entry */
  PGO_CALL_INDIRECT,           /* CALL reg, CALL [mem] / BLR; which kind unknown */
  PGO_CALL_INTERFACE,          /* amd64: CALL reg, reg loaded from an itab's method slot */
  PGO_CALL_FUNC_VALUE          /* amd64: CALL reg, reg loaded from 0(DX), the closure */
} pgo_call_insn;

/* The call instruction ending at ret (a return address). funcs: the binary's functions
 * sorted by entry (pgo_elf_go_functions), used to confirm that a direct call's target is
 * a function entry rather than bytes that happen to look like one. */
pgo_call_insn pgo_call_insn_before(const pgo_elf *elf, const pgo_funclist *funcs, uint64_t ret);

/* The functions the pclntab marks as written in assembly (FuncFlagAsm), appended to out
 * (name and entry; size 0): a Go declaration without a body, which the compiler never
 * devirtualizes to. Go 1.20+ tables only (older layouts add nothing). Fails like
 * pgo_pclntab_functions; a binary without a pclntab adds nothing. */
bool pgo_pclntab_asm_funcs(const pgo_elf *elf, pgo_funclist *out, pgo_error *err);

/* "direct", "indirect", "interface", "func_value" or "unknown". */
const char *pgo_call_insn_name(pgo_call_insn k);

#endif
