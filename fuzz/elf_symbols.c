/* elf_symbols.c: libFuzzer target for the ELF reader, the pclntab walker and the build
 * info reader: any bytes must give functions, build info, or an error with a message. */
#include <stdlib.h>
#include <string.h>
#include "pgolua/buildinfo.h"
#include "pgolua/elf.h"
#include "pgolua/pclntab.h"

static void check_error(const pgo_error *err) {
  if (!err->code[0] || !err->message[0]) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  pgo_error err;
  pgo_elf elf;
  if (pgo_elf_open(&elf, data, size, &err)) {
    for (int prefer = 0; prefer <= 1; prefer++) {
      pgo_funclist list;
      memset(&list, 0, sizeof list);
      pgo_funcs_source source;
      bool stripped;
      if (!pgo_elf_go_functions(&elf, prefer, &list, &source, &stripped, NULL, &err))
        check_error(&err);
      pgo_funclist_free(&list);
    }
    pgo_buildinfo bi;
    pgo_buildinfo_init(&bi);
    if (!pgo_buildinfo_from_elf(&elf, &bi, &err)) check_error(&err);
    pgo_buildinfo_free(&bi);
    pgo_elf_close(&elf);
  } else {
    check_error(&err);
  }
  /* the raw table walker and the module-info parser on the bytes as they are */
  pgo_funclist list;
  memset(&list, 0, sizeof list);
  pgo_pclntab_header hdr;
  if (!pgo_pclntab_functions(data, size, 0, &hdr, &list, &err)) check_error(&err);
  pgo_funclist_free(&list);
  pgo_buildinfo bi;
  pgo_buildinfo_init(&bi);
  if (!pgo_buildinfo_parse_modinfo((const char *)data, size, &bi, &err)) check_error(&err);
  pgo_buildinfo_free(&bi);
  return 0;
}
