# pgolua: a Lua 5.4 host for Go PGO release engineering.
#   make deps     install Debian packages and pinned Go tools (scripts/deps.sh all; sudo when not root)
#   make          build ./pgolua (-O2 -Wall -Wextra -Werror)
#   make test     run the specs under ./pgolua (busted --lua=./pgolua)
#   make test-matrix  the Go version matrix (GO_VERSIONS) against live pprof/preprofile
#   make test-profilers  the #parca and #pyroscope specs against real servers
#   make asan     build ./pgolua-asan (ASan + UBSan) and run the specs under it
#   make valgrind build build-valgrind/ (-O1 -g) and run the specs under valgrind memcheck
#   make fuzz     every libFuzzer target for FUZZ_SECONDS (docs/fuzzing.md); fuzz-coverage
#   make faults   kill -9 and fault-matrix campaign on refresh.lua (docs/reliability.md)
#   make bench    benchmarks with ratios against the reference tools, same run
#   make install  PREFIX=/usr/local (binary, recipes, man page); make uninstall removes them
#   make dist     build/pgolua-VERSION.tar.gz (the source with its VERSION file)
#   make deb      build/pgolua_VERSION_ARCH.deb; make deb-check installs it in a clean root

# ---- knobs a user may override ------------------------------------------------------
CC        ?= cc
PREFIX    ?= /usr/local
OPT       ?= -O2 -g
PKGS      := lua5.4 libprotobuf-c zlib libcurl libedit libpcre2-8
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS    ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(CFLAGS) \
             -Iinclude -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LIBS      = $(PKG_LIBS) -lm $(EXTRA_LIBS)
BUSTED    ?= busted
GO        ?= $(firstword $(wildcard /usr/lib/go-1.23/bin/go) $(shell command -v go))

# Plain "=": a BIN or BUILD in the environment (a CI job's env block) must not rename the
# binary; the command line (make BIN=pgolua-asan) still can.
BUILD     = build
BIN       = pgolua

# ---- sources: every .c under src/, plus generated code ------------------------------
SRCS      := $(wildcard src/*/*.c)
LUA_SRCS  := $(shell find lua -name '*.lua' | LC_ALL=C sort)
RECIPES   := $(sort $(wildcard recipes/*.lua))
GEN_SRCS  := $(BUILD)/gen/profile.pb-c.c $(BUILD)/gen/embedded_lua.c \
             $(BUILD)/gen/embedded_recipes.c $(BUILD)/gen/embedded_docs.c $(BUILD)/gen/version.c
OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(SRCS)) $(patsubst %.c,%.o,$(GEN_SRCS))
# The VERSION file of a release tarball (make dist), else git's description. Under root
# (sudo make install) git refuses a tree another user owns ("dubious ownership") unless
# told it is safe; GIT_OPTIONAL_LOCKS=0 keeps --dirty from rewriting the index as root.
VERSION   := $(shell cat VERSION 2>/dev/null || GIT_OPTIONAL_LOCKS=0 git -c safe.directory='$(CURDIR)' \
               describe --tags --always --dirty 2>/dev/null || echo unknown)
# Where `make install` puts the recipes; compiled in, so a binary built for one PREFIX
# finds the on-disk recipes there (they override the copies compiled into the binary).
RECIPE_DIR = $(PREFIX)/share/pgolua/recipes
BINDIR     = $(PREFIX)/bin
MAN1DIR    = $(PREFIX)/share/man/man1

Q = @
ifeq ($(V),1)
Q =
endif

.PHONY: all deps test test-integration test-matrix test-profilers asan bench fuzz fuzz-coverage faults demo top-demo \
        install uninstall dist deb deb-check clean lint

all: $(BIN)

$(BIN): $(OBJS)
	@echo "LINK $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(OBJS) $(LIBS)

$(BUILD)/%.o: %.c Makefile $(BUILD)/gen/profile.pb-c.h
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The recipe directory follows PREFIX: a change of PREFIX rebuilds recipes.o.
$(BUILD)/src/host/recipes.o: EXTRA_CFLAGS += -DPGOLUA_RECIPE_DIR='"$(RECIPE_DIR)"'
$(BUILD)/src/host/recipes.o: $(BUILD)/gen/prefix
$(BUILD)/gen/prefix: FORCE
	@mkdir -p $(BUILD)/gen
	@echo '$(RECIPE_DIR)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c Makefile
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(BUILD)/gen/profile.pb-c.c $(BUILD)/gen/profile.pb-c.h: proto/profile.proto
	@mkdir -p $(BUILD)/gen
	@echo "PROTOC $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/embedded_lua.c: $(LUA_SRCS) scripts/embed-lua.sh scripts/c-bytes.sh
	@mkdir -p $(BUILD)/gen
	@echo "EMBED lua/"
	$(Q)scripts/embed-lua.sh lua $(LUA_SRCS) > $@.tmp && mv $@.tmp $@

# docs/api.md in the binary, for pgo.help and the REPL's help().
$(BUILD)/gen/embedded_docs.c: docs/api.md scripts/embed-docs.sh scripts/c-bytes.sh
	@mkdir -p $(BUILD)/gen
	@echo "EMBED docs/"
	$(Q)scripts/embed-docs.sh api=docs/api.md > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/embedded_recipes.c: $(RECIPES) scripts/embed-lua.sh scripts/c-bytes.sh
	@mkdir -p $(BUILD)/gen
	@echo "EMBED recipes/"
	$(Q)scripts/embed-lua.sh --array pgolua_embedded_recipes recipes $(RECIPES) > $@.tmp && mv $@.tmp $@

# Rebuilt when the version string changes, so --version never lies.
$(BUILD)/gen/version.c: FORCE
	@mkdir -p $(BUILD)/gen
	@printf 'const char pgolua_version[] = "%s";\n' "$(VERSION)" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

-include $(patsubst %.c,$(BUILD)/%.d,$(SRCS))

# ---- developer targets ---------------------------------------------------------------
# Every set (run build test dev): all that .ci/run needs; `scripts/deps.sh SET` for one.
deps:
	scripts/deps.sh all

# `make test` does its own setup (packages, then a build in a fresh make so pkg-config
# sees what was just installed), then runs every spec under ./pgolua.
test:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	PATH="$(dir $(GO)):$$PATH" $(BUSTED) --lua=./$(BIN) $(BUSTED_ARGS)

test-integration: $(BIN)
	PATH="$(dir $(GO)):$$PATH" $(BUSTED) --lua=./$(BIN) --run=integration $(BUSTED_ARGS)

# The Go version matrix (spec/matrix, busted task `matrix`): the real pprof and preprofile
# of each Go below (a go command's path, or a release fetched by GOTOOLCHAIN) and pprof HEAD,
# beside pgolua. Their outputs are cached by version and input (~/.cache/pgolua/oracles).
GO_VERSIONS ?= /usr/lib/go-1.23/bin/go /usr/local/go/bin/go go1.27.3
test-matrix:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	PGOLUA_GO_VERSIONS="$(GO_VERSIONS)" PATH="$(dir $(GO)):$$PATH" \
	  $(BUSTED) --lua=./$(BIN) --run=matrix $(BUSTED_ARGS)

# Real profiler servers (spec/integration/{parca,pyroscope}_spec.lua, busted task
# `profilers`): Parca and a Pyroscope Connect server built once into ~/.cache/pgolua (a fresh
# Parca build takes tens of minutes; cached, seconds), on 127.0.0.1.
test-profilers:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	PATH="$(dir $(GO)):$$PATH" $(BUSTED) --lua=./$(BIN) --run=profilers $(BUSTED_ARGS)

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=pgolua-asan CFLAGS="$(ASAN_FLAGS)" pgolua-asan
	@$(MAKE) --no-print-directory $(BIN)
	PGOLUA_BIN=pgolua-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PATH="$(dir $(GO)):$$PATH" \
	  $(BUSTED) --lua=./pgolua-asan $(BUSTED_ARGS)

# Every pgolua process of the suite (busted's own and each spec's child) runs under
# memcheck through the wrapper build-valgrind/pgolua-vg; Go programs run natively. The
# script prints the summary from the logs and fails on any error or definite leak.
.PHONY: valgrind
VALGRIND_FLAGS = -O1 -g -fno-omit-frame-pointer
valgrind:
	@scripts/deps.sh run build test dev
	@$(MAKE) --no-print-directory BUILD=build-valgrind BIN=build-valgrind/pgolua-vg-bin \
	  CFLAGS="$(VALGRIND_FLAGS)" build-valgrind/pgolua-vg-bin
	PATH="$(dir $(GO)):$$PATH" BUSTED="$(BUSTED)" scripts/valgrind-suite.sh $(BUSTED_ARGS)

bench: $(BIN)
	bench/run.sh

# The main job: the whole PGO loop on the example service (scripts/demo.sh), on this
# machine only; `make top-demo` just prints the top of the profile that ships with pgolua.
demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	scripts/demo.sh

top-demo: $(BIN)
	./$(BIN) -e 'print(require("pgo").load("examples/profiles/demo.pgo"))'
	./$(BIN) recipes/top.lua -n 15 examples/profiles/demo.pgo

# Corpora stay in build-fuzz/ between runs (make clean keeps them); a finding fails the run.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh run build dev
	fuzz/run.sh $(FUZZ_SECONDS)

# Line coverage of each target's kept corpus (llvm-cov), the figures of docs/fuzzing.md.
fuzz-coverage:
	fuzz/coverage.sh

# Fault injection on recipes/refresh.lua; the report goes to $(BUILD)/faults.md.
FAULT_RUNS ?= 200
faults: $(BIN)
	@mkdir -p $(BUILD)
	PATH="$(dir $(GO)):$$PATH" nice -n 10 ./$(BIN) scripts/fault-campaign.lua --runs $(FAULT_RUNS) \
	  --out $(BUILD)/faults.md

# After `make`, `sudo make install` (same PREFIX) finds everything up to date and writes
# nothing inside the tree: the version string is the same under root (see VERSION).
# Everything installed is listed once, in INSTALLED, for uninstall.
INSTALLED = $(BINDIR)/pgolua $(MAN1DIR)/pgolua.1 $(addprefix $(RECIPE_DIR)/,$(notdir $(RECIPES)))
install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(RECIPE_DIR) $(DESTDIR)$(MAN1DIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/pgolua
	install -m 644 $(RECIPES) $(DESTDIR)$(RECIPE_DIR)/
	sed -e 's|@RECIPE_DIR@|$(RECIPE_DIR)|g' -e 's|@VERSION@|$(VERSION)|g' docs/pgolua.1 \
	  > $(DESTDIR)$(MAN1DIR)/pgolua.1
	chmod 644 $(DESTDIR)$(MAN1DIR)/pgolua.1

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(RECIPE_DIR) $(DESTDIR)$(PREFIX)/share/pgolua 2>/dev/null

# A tarball of the committed tree plus a VERSION file, so its builds know their version.
dist:
	@mkdir -p $(BUILD)
	@git diff --quiet HEAD || echo "dist: uncommitted changes are not in the tarball" >&2
	git archive --prefix=pgolua-$(VERSION)/ -o $(BUILD)/pgolua-$(VERSION).tar HEAD
	mkdir -p $(BUILD)/dist/pgolua-$(VERSION) && echo '$(VERSION)' > $(BUILD)/dist/pgolua-$(VERSION)/VERSION
	tar -rf $(BUILD)/pgolua-$(VERSION).tar -C $(BUILD)/dist pgolua-$(VERSION)/VERSION
	gzip -f $(BUILD)/pgolua-$(VERSION).tar
	rm -rf $(BUILD)/dist
	@echo "dist: $(BUILD)/pgolua-$(VERSION).tar.gz"

# A Debian package of this build for PREFIX=/usr (scripts/mkdeb.sh); deb-check installs it
# with apt in a clean Debian root and runs `pgolua top` there (scripts/clean-root.sh).
deb:
	$(MAKE) --no-print-directory PREFIX=/usr BUILD=build-deb BIN=build-deb/pgolua build-deb/pgolua
	scripts/mkdeb.sh build-deb/pgolua '$(VERSION)' $(BUILD) BUILD=build-deb

deb-check: deb
	scripts/clean-root.sh $(BUILD)/pgolua_*.deb

clean:
	rm -rf build build-asan build-valgrind build-deb pgolua pgolua-asan
