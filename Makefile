# Pathwise build. `make demo` and `make test` work on a fresh Debian 12 machine as root:
# both depend on `deps`, which installs whatever is missing.

SHELL := /bin/bash
.DEFAULT_GOAL := build

CLANG ?= clang
BPFTOOL ?= bpftool
NODE ?= node
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD := build
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I$(BUILD) -Ibpf/include
NODEDIR ?= $(shell test -f /usr/include/node/node_api.h && echo /usr)

DEBIAN_PACKAGES := clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 pkg-config \
	make g++ python3 tcpdump libpcap-dev libmnl-dev nfdump ethtool iputils-ping netcat-openbsd tcpreplay curl openssl bird2 nftables apache2-utils nginx-light tshark prometheus
# Node may come from elsewhere than Debian (as on our machines); Debian's nodejs and npm are
# installed only when there is no node at all.
NODE_PACKAGES := $(if $(shell command -v node),,nodejs npm)

BPF_SOURCES := $(wildcard bpf/*.bpf.c)
BPF_OBJECTS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SOURCES))
BENCH_BPF_SOURCES := $(wildcard bench/progs/*.bpf.c)
BENCH_BPF_OBJECTS := $(patsubst bench/progs/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(BENCH_BPF_SOURCES))
TEST_BPF_SOURCES := $(wildcard test/progs/*.bpf.c)
TEST_BPF_OBJECTS := $(patsubst test/progs/%.bpf.c,$(BUILD)/test/%.bpf.o,$(TEST_BPF_SOURCES))
BPF_HEADERS := $(wildcard bpf/include/pathwise/*.h bpf/include/pathwise/maps/*.h) $(wildcard test/progs/*.h)
NATIVE_SOURCES := $(wildcard native/src/*.cc native/src/*.h) native/binding.gyp
NATIVE_ADDON := native/build/Release/pathwise.node
# The link emulator the path tests put between namespaces (tools/linkem/linkem.c).
LINKEM := $(BUILD)/linkem $(BUILD)/linkem-pass.bpf.o
# better-sqlite3 (the audit history) is built here from the sources it ships: npm runs no install
# scripts (--ignore-scripts), so nothing is downloaded. About 2 minutes, once.
SQLITE_ADDON := node_modules/better-sqlite3/build/Release/better_sqlite3.node
TS_SOURCES := $(shell find src test scripts bench -name '*.ts' 2>/dev/null)
TS_STAMP := dist/.stamp

# Generated modules, one per BPF object: OBJECT OUTPUT and the generator's options (scripts/
# gen-types.ts). The bench object shares the pipeline's map definitions, so its pw_ types come
# from the pipeline's module.
GEN_pathwise := $(BUILD)/pathwise.bpf.o src/generated/pathwise.ts --prefix pw_
GEN_bench := $(BUILD)/bench/bench.bpf.o bench/generated/bench.ts --prefix pw_,bench_ \
	--kernel-import ../../src/kernel/index.js --extern pw_=../../src/generated/pathwise.js
GEN_fixtures := $(BUILD)/test/binding-fixtures.bpf.o test/generated/binding-fixtures.ts --prefix fx_ \
	--kernel-import ../../src/kernel/index.js
GENERATED_MODULES := pathwise bench fixtures
# $(call gen_cmd,MODULE,OUTPUT): the generator run for MODULE, writing OUTPUT.
gen_cmd = $(NODE) dist/scripts/gen-types.js $(word 1,$(GEN_$(1))) $(2) $(wordlist 3,99,$(GEN_$(1)))

.PHONY: soak fuzz install all build deps deps-debian deps-npm gen check-generated lint lint-layers format test test-unit test-bpf test-e2e \
	demo bench bench-paths bench-balance bench-gateway bench-flows bench-verifier bench-without-paths doctor clean distclean

all: build

build: $(BPF_OBJECTS) $(TEST_BPF_OBJECTS) $(BENCH_BPF_OBJECTS) $(NATIVE_ADDON) $(SQLITE_ADDON) $(TS_STAMP) $(LINKEM)

## ---- dependencies -------------------------------------------------------------------------

deps: deps-debian deps-npm

deps-debian:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(NODE_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: run as root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# npm ci only when package-lock.json changed since the last install.
deps-npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

## ---- BPF ----------------------------------------------------------------------------------

# vmlinux.h comes from the running kernel's BTF at build time; it is never committed.
$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HEADERS) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/test/%.bpf.o: test/progs/%.bpf.c $(BPF_HEADERS) $(BUILD)/vmlinux.h
	@mkdir -p $(BUILD)/test
	$(CLANG) $(BPF_CFLAGS) -Itest/progs -c $< -o $@

$(BUILD)/bench/%.bpf.o: bench/progs/%.bpf.c $(BPF_HEADERS) $(BUILD)/vmlinux.h
	@mkdir -p $(BUILD)/bench
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

## ---- test tools -----------------------------------------------------------------------------

$(BUILD)/linkem: tools/linkem/linkem.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<
$(BUILD)/linkem-pass.bpf.o: tools/linkem/xdp-pass.bpf.c
	@mkdir -p $(BUILD)
	$(CLANG) -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell uname -m)-linux-gnu -c $< -o $@

## ---- native addon and TypeScript ----------------------------------------------------------

$(NATIVE_ADDON): $(NATIVE_SOURCES) node_modules/.package-lock.json
	node_modules/.bin/node-gyp rebuild -C native -j 2 $(if $(NODEDIR),--nodedir=$(NODEDIR)) > $(BUILD)/node-gyp.log 2>&1 \
	  || { cat $(BUILD)/node-gyp.log; exit 1; }

$(SQLITE_ADDON): node_modules/.package-lock.json
	@mkdir -p $(BUILD)
	cd node_modules/better-sqlite3 && ../.bin/node-gyp rebuild --release -j 2 $(if $(NODEDIR),--nodedir=$(NODEDIR)) > $(CURDIR)/$(BUILD)/better-sqlite3.log 2>&1 \
	  || { cat $(CURDIR)/$(BUILD)/better-sqlite3.log; exit 1; }
	@touch $@

$(TS_STAMP): $(TS_SOURCES) tsconfig.json node_modules/.package-lock.json
	node_modules/.bin/tsc -p tsconfig.json
	@touch $@

## ---- generated codecs ---------------------------------------------------------------------

# The generator compiles on its own, so it runs even when the generated code it replaces is stale.
GEN_TOOL := dist/scripts/gen-types.js
$(GEN_TOOL): $(wildcard scripts/*.ts) scripts/tsconfig.json node_modules/.package-lock.json
	node_modules/.bin/tsc -p scripts/tsconfig.json

gen: $(BPF_OBJECTS) $(TEST_BPF_OBJECTS) $(BENCH_BPF_OBJECTS) $(GEN_TOOL)
	@mkdir -p bench/generated
	$(foreach m,$(GENERATED_MODULES),$(call gen_cmd,$(m),$(word 2,$(GEN_$(m)))) && ) true
	node_modules/.bin/tsc -p tsconfig.json && touch $(TS_STAMP)
	$(NODE) dist/scripts/gen-config-docs.js docs

# Regenerate into a scratch folder and fail on any difference from what is committed.
check-generated: $(BPF_OBJECTS) $(TEST_BPF_OBJECTS) $(BENCH_BPF_OBJECTS) $(GEN_TOOL) $(TS_STAMP)
	@rm -rf $(BUILD)/gen-check && mkdir -p $(BUILD)/gen-check
	@$(foreach m,$(GENERATED_MODULES),$(call gen_cmd,$(m),$(BUILD)/gen-check/$(m).ts) && ) true
	@$(NODE) dist/scripts/gen-config-docs.js $(BUILD)/gen-check
	@stale=""; \
	$(foreach m,$(GENERATED_MODULES),diff -u $(word 2,$(GEN_$(m))) $(BUILD)/gen-check/$(m).ts || stale="$$stale $(word 2,$(GEN_$(m)))"; ) \
	for f in config.schema.json config.md; do diff -u docs/$$f $(BUILD)/gen-check/$$f || stale="$$stale docs/$$f"; done; \
	if [ -n "$$stale" ]; then echo "check-generated: stale:$$stale; run 'make gen' and commit" >&2; exit 1; fi
	@echo "check-generated: the generated modules match the BPF objects' BTF; config docs match the schema"

## ---- lint ---------------------------------------------------------------------------------

# The layering of src/ (.dependency-cruiser.cjs: the allowed arrows), ESLint, and Prettier's
# format (.prettierrc.json: 140 columns). `make format` rewrites what Prettier would change.
FORMATTED := 'src/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'scripts/**/*.ts' eslint.config.js .dependency-cruiser.cjs

lint-layers: node_modules/.package-lock.json
	node_modules/.bin/depcruise src --config .dependency-cruiser.cjs

lint: lint-layers
	node_modules/.bin/eslint src test bench scripts
	node_modules/.bin/prettier --check --log-level warn $(FORMATTED)

format: node_modules/.package-lock.json
	node_modules/.bin/prettier --write --log-level warn $(FORMATTED)

## ---- test, demo, bench --------------------------------------------------------------------

TEST_FILES = $(shell find dist/test/$(1) -name '*.test.js' 2>/dev/null | sort)

test: deps build check-generated lint
	$(NODE) --test --test-concurrency=1 $(call TEST_FILES,unit) $(call TEST_FILES,bpf) $(call TEST_FILES,e2e)

test-unit: build
	$(NODE) --test $(call TEST_FILES,unit)
test-bpf: build
	$(NODE) --test --test-concurrency=1 $(call TEST_FILES,bpf)
test-e2e: build
	$(NODE) --test --test-concurrency=1 $(call TEST_FILES,e2e)

# The long runs (PATHWISE_SOAK_SECONDS=N runs each for N seconds): the anomaly detectors'
# false-positive guard, ten minutes of steady mixed traffic that must trigger nothing; and ten
# minutes of load-balancer churn that must reset no held connection (PATHWISE_SOAK_SEED=N).
soak: deps build
	$(NODE) --test --test-concurrency=1 $(call TEST_FILES,soak)

# Longer than `make test` runs them: the fuzzer with a new seed (FUZZ_SEED=N repeats one;
# FUZZ_ITERATIONS=N, default 1,000,000), findings written to build/fuzz/.
fuzz: deps build
	$(NODE) dist/test/fuzz/run.js

# The demo: namespaces, the daemon with examples/demo.yaml, traffic and a live view (Ctrl-C
# ends it); DEMO_SECONDS=N runs unattended and exits 0 only if traffic crossed the XDP path.
DEMO_SECONDS ?=
demo: deps build
	DEMO_SECONDS=$(DEMO_SECONDS) $(NODE) dist/src/demo/demo.js

doctor: build
	bin/pathwise doctor

bench: deps build
	$(NODE) dist/bench/run.js

# Only the path-selection figures (failover, jitter, probing cost; ~10 minutes), stored on
# their own and rendered into BENCHMARKS.md beside the newest full run.
bench-paths: deps build
	$(NODE) dist/bench/run.js --paths

# Only the load-balancing figures (per packet, Maglev rebuild, against nftables DNAT; ~3 minutes).
bench-balance: deps build
	$(NODE) dist/bench/run.js --balance

# Only the API insight and gateway-loop figures (the HTTP stage per packet, decision to first
# drop, nginx observed; ~2 minutes).
bench-gateway: deps build
	$(NODE) dist/bench/run.js --gateway

# Only the daemon over a full flow table (API latency with IPFIX and the detectors walking a
# million flows, beside the same daemon with neither; ~2 minutes).
bench-flows: deps build
	$(NODE) dist/bench/run.js --flows

# Only the verifier's budget (instructions and stack of every pipeline program under every
# combination of the load-time settings; ~1 minute).
bench-verifier: deps build
	$(NODE) dist/bench/run.js --verifier

# Everything but the path-selection figures; BENCHMARKS.md shows the newest bench-paths run.
bench-without-paths: deps build
	$(NODE) dist/bench/run.js --without-paths

# Puts `pathwise` on PATH (a link to this checkout's bin/pathwise) and its bash completion in place.
PREFIX ?= /usr/local
BASH_COMPLETION_DIR ?= /etc/bash_completion.d
install: build
	ln -sf $(CURDIR)/bin/pathwise $(PREFIX)/bin/pathwise
	@echo "installed $(PREFIX)/bin/pathwise -> $(CURDIR)/bin/pathwise"
	mkdir -p $(BASH_COMPLETION_DIR)
	bin/pathwise completion bash > $(BASH_COMPLETION_DIR)/pathwise
	@echo "installed $(BASH_COMPLETION_DIR)/pathwise (bash completion; zsh: pathwise completion zsh)"

clean:
	rm -rf $(BUILD) dist native/build

distclean: clean
	rm -rf node_modules
