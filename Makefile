# pgolua: a Lua 5.4 host for Go PGO release engineering.
#   make deps     install Debian packages and pinned Go tools (scripts/deps.sh all; sudo when not root)
#   make          build ./pgolua (-O2 -Wall -Wextra -Werror)
#   make test     run the specs under ./pgolua (busted --lua=./pgolua)
#   make test-matrix  the Go version matrix (GO_VERSIONS) against live pprof/preprofile
#   make asan     build ./pgolua-asan (ASan + UBSan) and run the specs under it
#   make valgrind build build-valgrind/ (-O1 -g) and run the specs under valgrind memcheck
#   make fuzz     every libFuzzer target for FUZZ_SECONDS (docs/fuzzing.md); fuzz-coverage
#   make faults   kill -9 and fault-matrix campaign on refresh.lua (docs/reliability.md)
#   make bench    benchmarks with ratios against the reference tools, same run
#   make install  PREFIX=/usr/local (binary, recipes, man page)

# ---- knobs a user may override ------------------------------------------------------
CC        ?= cc
PREFIX    ?= /usr/local
OPT       ?= -O2 -g
PKGS      := lua5.4 libprotobuf-c zlib libcurl libedit
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS    ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(CFLAGS) \
             -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LIBS      = $(PKG_LIBS) -lm $(EXTRA_LIBS)
BUSTED    ?= busted
GO        ?= $(firstword $(wildcard /usr/lib/go-1.23/bin/go) $(shell command -v go))

BUILD     ?= build
BIN       ?= pgolua

# ---- sources: every .c under src/, plus generated code ------------------------------
SRCS      := $(wildcard src/*/*.c)
LUA_SRCS  := $(shell find lua -name '*.lua' | LC_ALL=C sort)
GEN_SRCS  := $(BUILD)/gen/profile.pb-c.c $(BUILD)/gen/embedded_lua.c $(BUILD)/gen/version.c
OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(SRCS)) $(patsubst %.c,%.o,$(GEN_SRCS))
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)

Q = @
ifeq ($(V),1)
Q =
endif

.PHONY: all deps test test-integration test-matrix asan bench fuzz fuzz-coverage faults demo top-demo install clean lint

all: $(BIN)

$(BIN): $(OBJS)
	@echo "LINK $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(OBJS) $(LIBS)

$(BUILD)/%.o: %.c Makefile $(BUILD)/gen/profile.pb-c.h
	@mkdir -p $(dir $@)
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c Makefile
	@echo "CC $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(BUILD)/gen/profile.pb-c.c $(BUILD)/gen/profile.pb-c.h: proto/profile.proto
	@mkdir -p $(BUILD)/gen
	@echo "PROTOC $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/embedded_lua.c: $(LUA_SRCS) scripts/embed-lua.sh
	@mkdir -p $(BUILD)/gen
	@echo "EMBED lua/"
	$(Q)scripts/embed-lua.sh lua $(LUA_SRCS) > $@.tmp && mv $@.tmp $@

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

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgolua/recipes $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pgolua
	if ls recipes/*.lua >/dev/null 2>&1; then install -m 644 recipes/*.lua $(DESTDIR)$(PREFIX)/share/pgolua/recipes/; fi
	if [ -f docs/pgolua.1 ]; then install -m 644 docs/pgolua.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

clean:
	rm -rf build build-asan build-valgrind pgolua pgolua-asan
