# Braid — build, test, run.  `make help` lists the targets.
#
# Layout (DESIGN.md §4): src/ is the engine (libbraid.a), sandbox/ the
# Python sandbox (libbraid_sandbox.a), runtime/ the `braid` binary.  Every
# src/*.c, sandbox/*.c and runtime/*.c is picked up automatically; tests are
# discovered by name (tests/unit/test_*.c, tests/conformance/*.c,
# tests/fuzz/fuzz_*.c, tests/integration/test_*.py).

SHELL      := /bin/bash
# make's built-in default is `cc`; `CC ?= gcc` would never take effect.
ifeq ($(origin CC),default)
CC         := gcc
endif
SHARED     ?= ../shared
BUILD      := build
PYTHON     := /usr/bin/python3
FUZZ_SECONDS ?= 30

# ---- library flags, asked of pkg-config when a recipe first needs them ------
#
# Never at parse time: `make run` / `make test` install the -dev packages
# (make deps) and then re-invoke make, whose parse happens after the install.
# A recipe that needs a flag and finds pkg-config silent stops with an error
# naming `make deps`, never with a wall of compile or link errors.
# `VAR = $(eval VAR := ...)$(VAR)` asks once per make process, then remembers.
PKGS       := json-c libpcre2-8 libcurl sqlite3 libpq libmariadb libmicrohttpd
pkgconf     = $(or $(shell pkg-config $(1) 2>/dev/null),$(error pkg-config $(1) printed nothing: \
                the -dev packages are missing. Run `make deps` (make run and make test do it for you)))
PKG_CFLAGS  = $(eval PKG_CFLAGS := $(call pkgconf,--cflags $(PKGS)))$(PKG_CFLAGS)
# The sandbox alone compiles against CPython; everything links it and seccomp.
SBX_CFLAGS  = $(eval SBX_CFLAGS := $(call pkgconf,--cflags python3-embed))$(SBX_CFLAGS)
# libfcgi has no pkg-config entry on Debian: named directly, its header checked.
LDLIBS_ALL  = $(eval LDLIBS_ALL := $(call pkgconf,--libs $(PKGS) python3-embed libseccomp) \
                $(if $(wildcard /usr/include/fcgiapp.h),-lfcgi,$(error /usr/include/fcgiapp.h is missing \
                (libfcgi-dev). Run `make deps`)) -lm)$(LDLIBS_ALL)

WARN       := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
              -Wno-missing-field-initializers -Wno-format-truncation
CFLAGS     ?= -O2 -g

# ---- layers, enforced by include paths (DESIGN.md section 5b) ---------------
#
#   src/base/   errors, JSON helpers, strings, files, names, diagnostics, clock
#               sees only itself
#   src/        the engine: itself and base (as "base/x.h"); never CPython,
#               FastCGI or processes
#   sandbox/    itself and base; never the engine
#   runtime/    everything
# A wrong include does not compile (make test-layers proves it).
INC_base    = -Isrc/base
INC_src     = -Isrc
INC_sandbox = -Isrc/base -Isandbox
INC_runtime = -Isrc -Isrc/base -Isandbox -Iruntime
INC_all     = $(INC_runtime)
# The layer of a source path: src/base/x.c -> base, src/x.c -> src, ...
layer       = $(if $(filter src/base/%,$(1)),base,$(firstword $(subst /, ,$(1))))
layer_flags = $(INC_$(call layer,$(1))) $(PKG_CFLAGS) $(if $(filter sandbox,$(call layer,$(1))),$(SBX_CFLAGS))
CFLAGS_BASE = $(WARN) $(INC_all) $(PKG_CFLAGS)

# Debian packages the build and the tests need (make deps installs the missing ones).
DEB_PACKAGES := gcc make pkg-config clang libclang-rt-14-dev \
                libjson-c-dev libpcre2-dev libcmocka-dev libcurl4-openssl-dev \
                libpython3.11-dev libpython3-dev libseccomp-dev \
                python3 python3-pytest nginx libfcgi-dev spawn-fcgi \
                apache2 lighttpd wrk curl libsqlite3-dev sqlite3 \
                libpq-dev libmariadb-dev libmicrohttpd-dev

# The database servers the SQL integration tests start in temporary
# directories (tests/integration/dbservers.py); `make test` installs them
# (make deps-db), `make run` does not need them.
DB_PACKAGES := postgresql mariadb-server

# Debian packages `make image` / `make image-test` need (make image-deps
# installs the missing ones; docs/deploy.md).
IMAGE_PACKAGES := podman runc mmdebstrap slirp4netns catatonit

SEED_DB    := examples/seed/data/users.db

SRC_C      := $(sort $(wildcard src/base/*.c src/*.c))
SANDBOX_C  := $(sort $(wildcard sandbox/*.c))
RUNTIME_C  := $(sort $(wildcard runtime/*.c))
UNIT_C     := $(sort $(wildcard tests/unit/test_*.c))
CONF_C     := $(sort $(wildcard tests/conformance/*.c))
FUZZ_C     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_C    := $(sort $(wildcard bench/*.c))

LIB_OBJ    := $(SRC_C:%.c=$(BUILD)/obj/%.o)
SBX_OBJ    := $(SANDBOX_C:%.c=$(BUILD)/obj/%.o)
SBX_ASAN_OBJ := $(SANDBOX_C:%.c=$(BUILD)/asan/%.o)
RT_OBJ     := $(RUNTIME_C:%.c=$(BUILD)/obj/%.o)
ASAN_OBJ   := $(SRC_C:%.c=$(BUILD)/asan/%.o)
UNIT_BIN   := $(UNIT_C:tests/unit/%.c=$(BUILD)/unit/%)
# Sandboxed children of this test would run ASan's runtime under seccomp
# (it reads /proc/self/maps lazily): it runs in test-unit only (docs/sandbox.md).
ASAN_SKIP  := tests/unit/test_sandbox_pool.c
UNIT_ASAN  := $(patsubst tests/unit/%.c,$(BUILD)/unit-asan/%,$(filter-out $(ASAN_SKIP),$(UNIT_C)))
CONF_BIN   := $(CONF_C:tests/conformance/%.c=$(BUILD)/conformance/%)
FUZZ_BIN   := $(FUZZ_C:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BIN  := $(BENCH_C:bench/%.c=$(BUILD)/bench/%)

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: fanout-backend fanout-backend-stop image-deps image image-test
.PHONY: all build deps deps-db deps-studio deps-browser test-studio test-browser test test-unit test-asan test-conformance test-integration test-examples \
        test-security test-fuzz test-layers test-fresh fuzz bench bench-sql bench-http bench-leak bench-studio run clean help

all: build

build: braid $(SEED_DB)                        ## build the braid binary and the seed example's database (the default)

help:                                          ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/:.*## /\t/' | expand -t 22

deps:                                          ## install the Debian packages the build and tests need
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing $$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps-db:                                       ## install PostgreSQL and MariaDB (the SQL tests start their own)
	@missing=$$(for p in $(DB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "deps-db: installing $$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Node.js and npm for the Studio's page (studio/: TypeScript, bundled with
# esbuild from the committed package-lock.json).  Any node >= 18 on the
# PATH will do; when there is none, Debian's packages are installed.
deps-studio:                                   ## install Node.js and npm when missing (the Studio's build and tests)
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    echo "deps-studio: installing nodejs npm"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi

# Debian's chromium, which the Studio's browser tests drive (puppeteer-core
# from studio/'s lock file; no browser is downloaded).
deps-browser:                                  ## install chromium when missing (the Studio's browser tests)
	@if [ ! -x /usr/bin/chromium ]; then \
	    echo "deps-browser: installing chromium"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	fi

# ---- the binary -------------------------------------------------------------

# Each object compiles with its own layer's include path (see "layers" above).
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC   $<'; $(CC) $(WARN) $(call layer_flags,$<) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbraid.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo '  AR   $@'; rm -f $@ && ar rcs $@ $^

# The sandbox is its own library: the engine never links CPython.
$(BUILD)/libbraid_sandbox.a: $(SBX_OBJ)
	@mkdir -p $(dir $@)
	@echo '  AR   $@'; rm -f $@ && ar rcs $@ $^

LIBS       := $(BUILD)/libbraid_sandbox.a $(BUILD)/libbraid.a

# The Studio's page, embedded in the binary (see "the Studio's page" below);
# defined before `braid:`, whose prerequisites are expanded as it is read.
STUDIO_SRC   := $(sort $(wildcard studio/src/*)) studio/build.mjs studio/package.json studio/tsconfig.json
STUDIO_FILES := studio/index.html studio/dist/app.js studio/dist/app.css
STUDIO_GEN   := $(BUILD)/gen/studio_assets.c
STUDIO_OBJ   := $(BUILD)/obj/gen/studio_assets.o
LIBS_ASAN  := $(BUILD)/libbraid_sandbox-asan.a $(BUILD)/libbraid-asan.a

braid: $(RT_OBJ) $(STUDIO_OBJ) $(LIBS)
	@echo '  LD   $@'; $(CC) $(CFLAGS) -o $@ $(RT_OBJ) $(STUDIO_OBJ) $(LIBS) $(LDLIBS_ALL)

# ---- the Studio's page, embedded in the binary (SPEC section 11) -------------
#
# studio/ is bundled by esbuild (npm ci from the committed lock file, then
# node build.mjs) into studio/dist/app.js + app.css; studio/embed.sh turns
# those and studio/index.html into C arrays (build/gen/studio_assets.c), so
# `braid studio` serves its page offline from nothing but the binary.

studio/node_modules/.package-lock.json: studio/package-lock.json
	@+$(SUBMAKE) deps-studio
	@echo '  NPM  studio (npm ci)'; cd studio && npm ci --no-audit --no-fund --loglevel=error

# One run of build.mjs writes both files; app.css is made with app.js.
studio/dist/app.js: $(STUDIO_SRC) studio/node_modules/.package-lock.json
	@echo '  JS   $@'; cd studio && node build.mjs
studio/dist/app.css: studio/dist/app.js

$(STUDIO_GEN): $(STUDIO_FILES) studio/embed.sh
	@mkdir -p $(dir $@)
	@echo '  GEN  $@'; studio/embed.sh $(STUDIO_FILES) > $@.tmp && mv $@.tmp $@

$(STUDIO_OBJ): $(STUDIO_GEN) runtime/studio_assets.h
	@mkdir -p $(dir $@)
	@echo '  CC   $<'; $(CC) $(WARN) -Iruntime $(CFLAGS) -c $< -o $@

# The seed example's SQLite database, from its checked-in SQL (the .db is
# never in git).  Built into a temporary file first: an error leaves no
# half-made database behind for braid to open.
$(SEED_DB): $(SEED_DB:.db=.sql)
	@command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: run 'make deps'" >&2; exit 1; }
	@echo '  DB   $@'; rm -f $@.tmp && sqlite3 -bail $@.tmp < $< && mv $@.tmp $@

# ---- tests ------------------------------------------------------------------

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC   $<'; $(CC) $(WARN) $(call layer_flags,$<) $(ASAN_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbraid-asan.a: $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	@echo '  AR   $@'; rm -f $@ && ar rcs $@ $^

$(BUILD)/libbraid_sandbox-asan.a: $(SBX_ASAN_OBJ)
	@mkdir -p $(dir $@)
	@echo '  AR   $@'; rm -f $@ && ar rcs $@ $^

# A unit test links the libraries and any object named as an extra prerequisite.
$(BUILD)/unit/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	@echo '  LD   $@'; $(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests -o $@ $< $(filter %.o,$^) $(LIBS) $(LDLIBS_ALL) -lcmocka

$(BUILD)/unit-asan/%: tests/unit/%.c $(LIBS_ASAN)
	@mkdir -p $(dir $@)
	@echo '  LD   $@'; $(CC) $(CFLAGS_BASE) $(ASAN_FLAGS) -Itests -o $@ $< $(filter %.o,$^) $(LIBS_ASAN) $(LDLIBS_ALL) -lcmocka

# Unit tests of runtime/ code: the objects they test, plain and asan.
$(BUILD)/unit/test_form:             $(BUILD)/obj/runtime/form.o
$(BUILD)/unit-asan/test_form:        $(BUILD)/asan/runtime/form.o
$(BUILD)/unit/test_request_map:      $(BUILD)/obj/runtime/request.o $(BUILD)/obj/runtime/form.o
$(BUILD)/unit-asan/test_request_map: $(BUILD)/asan/runtime/request.o $(BUILD)/asan/runtime/form.o
$(BUILD)/unit/test_admin_http:       $(BUILD)/obj/runtime/admin_http.o
$(BUILD)/unit-asan/test_admin_http:  $(BUILD)/asan/runtime/admin_http.o
$(BUILD)/unit/test_studio:           $(BUILD)/obj/runtime/studio_api.o $(BUILD)/obj/runtime/studio_files.o
$(BUILD)/unit-asan/test_studio:      $(BUILD)/asan/runtime/studio_api.o $(BUILD)/asan/runtime/studio_files.o

$(BUILD)/conformance/%: tests/conformance/%.c $(LIBS)
	@mkdir -p $(dir $@)
	@echo '  LD   $@'; $(CC) $(CFLAGS_BASE) $(CFLAGS) -Itests -o $@ $< $(LIBS) $(LDLIBS_ALL)

# The entry targets (test, run, bench-http) install the packages first and
# then hand over to a sub-make, which reads this file anew: its pkg-config
# answers are those of the machine after the install.  Never `test: deps build`:
# that asks pkg-config before deps ran, and under -j races it.
SUBMAKE    := $(MAKE) --no-print-directory

test:                                          ## run every suite (installs deps first)
	@$(SUBMAKE) deps deps-db deps-studio deps-browser
	@$(SUBMAKE) build
	@$(SUBMAKE) test-layers test-unit test-asan test-conformance test-integration test-examples test-studio \
	    test-browser test-security test-fuzz image-test

# The layers hold: for each layer, a header it must not see does not compile
# with that layer's flags, and one it may see does (so the probe can fail).
LAYER_PROBES := sandbox:exec.h sandbox:service.h sandbox:worker.h src:sandbox.h src:worker.h \
                src:Python.h base:exec.h base:sandbox.h
test-layers:                                   ## prove the include paths keep the layers apart
	@fail=0; probe=$(BUILD)/layer-probe.c; mkdir -p $(BUILD); \
	for p in $(LAYER_PROBES); do l=$${p%%:*}; h=$${p#*:}; \
	  case $$l in base) inc='$(INC_base)';; src) inc='$(INC_src)';; sandbox) inc='$(INC_sandbox)';; esac; \
	  echo "#include \"$$h\"" > $$probe; \
	  if $(CC) $(WARN) $$inc $(PKG_CFLAGS) -fsyntax-only $$probe 2>/dev/null; then \
	    echo "layers: $$l/ can include $$h: the include path lets a layer reach up"; fail=1; fi; \
	done; \
	for p in sandbox:error.h sandbox:jsonutil.h src:base/error.h src:jsonpath.h base:strbuf.h; do l=$${p%%:*}; h=$${p#*:}; \
	  case $$l in base) inc='$(INC_base)';; src) inc='$(INC_src)';; sandbox) inc='$(INC_sandbox)';; esac; \
	  echo "#include \"$$h\"" > $$probe; \
	  $(CC) $(WARN) $$inc $(PKG_CFLAGS) -fsyntax-only $$probe || { echo "layers: $$l/ cannot include $$h"; fail=1; }; \
	done; \
	direct=$$(grep -rn 'json_object_\(object\|array\)_add(' src sandbox runtime tests bench | grep -v '^src/base/jsonutil.h:'); \
	[ -z "$$direct" ] || { echo "layers: json-c adds outside brd_json_add/brd_json_append (they free on failure):"; echo "$$direct"; fail=1; }; \
	[ $$fail = 0 ] && echo "layers: base < src, sandbox < runtime hold" || { echo "layers: FAILED"; exit 1; }

# Each unit binary prints cmocka's own summary; the loop adds one line per suite.
test-unit: $(UNIT_BIN)                         ## cmocka unit tests
	@fail=0; for t in $(UNIT_BIN); do echo "== unit: $$t"; $$t || fail=1; done; \
	[ $$fail = 0 ] && echo "unit: all suites passed" || { echo "unit: FAILED"; exit 1; }

test-asan: $(UNIT_ASAN)                        ## the unit tests under AddressSanitizer + UBSan
	@fail=0; for t in $(UNIT_ASAN); do echo "== unit (asan+ubsan): $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t || fail=1; done; \
	[ $$fail = 0 ] && echo "asan: all suites passed" || { echo "asan: FAILED"; exit 1; }

test-conformance: $(CONF_BIN)                  ## conformance runners (RFC 9535 CTS, case files)
	@fail=0; for t in $(CONF_BIN); do echo "== conformance: $$t"; $$t $(SHARED) tests/cases || fail=1; done; \
	[ $$fail = 0 ] && echo "conformance: all runners passed" || { echo "conformance: FAILED"; exit 1; }

test-integration: braid                        ## pytest suites that drive the built binary
	@if ls tests/integration/test_*.py >/dev/null 2>&1; then \
	  BRAID_BIN=$(CURDIR)/braid BRAID_SHARED=$(abspath $(SHARED)) $(PYTHON) -m pytest -q tests/integration; \
	else echo "integration: no suites yet"; fi

EXAMPLES := $(sort $(wildcard examples/*/workflows))
test-examples: build                           ## braid test over every example's recorded cases (offline)
	@fail=0; for w in $(EXAMPLES); do d=$${w%/workflows}; echo "== braid test $$d"; ./braid test $$d || fail=1; done; \
	[ $$fail = 0 ] && echo "examples: all recorded cases passed" || { echo "examples: FAILED"; exit 1; }

test-studio: deps-studio                       ## the Studio's type check, lint and unit tests (npm ci from the lock file)
	@cd studio && npm ci --no-audit --no-fund --loglevel=error && npm run --silent typecheck && npm run --silent lint && npm test --silent

test-browser: braid deps-browser               ## the Studio in a real chromium: the seed built by drag and drop, errors, conflicts, escaping
	@cd studio && fail=0; for t in test-browser/*.test.mjs; do \
	    BRAID_BIN=$(CURDIR)/braid node --test $$t || fail=1; done; exit $$fail

test-security: braid                           ## sandbox escape tests (pytest, real CPython in the real sandbox)
	@if ls tests/security/test_*.py >/dev/null 2>&1; then \
	  BRAID_BIN=$(CURDIR)/braid $(PYTHON) -m pytest -q tests/security; \
	else echo "security: no suites yet"; fi

# ---- fuzzing ----------------------------------------------------------------

# A fuzzer links the engine's sources; one that fuzzes a runtime/ or sandbox/
# parser names those files as extra prerequisites, e.g.
#   $(BUILD)/fuzz/fuzz_form: runtime/form.c
$(BUILD)/fuzz/%: tests/fuzz/%.c $(SRC_C)
	@mkdir -p $(dir $@)
	@echo '  CC   $<'; clang $(filter-out -Werror -Wno-format-truncation,$(CFLAGS_BASE)) $(SBX_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
	  -o $@ $< $(SRC_C) $(filter runtime/%.c sandbox/%.c,$^) $(LDLIBS_ALL)

$(BUILD)/fuzz/fuzz_form:        runtime/form.c
$(BUILD)/fuzz/fuzz_request_map: runtime/request.c runtime/form.c
$(BUILD)/fuzz/fuzz_admin_http:  runtime/admin_http.c

test-fuzz: $(FUZZ_BIN)                         ## a short smoke run of every fuzzer (FUZZ_SECONDS each)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

fuzz: $(FUZZ_BIN)                              ## run every fuzzer for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=600)
	@fail=0; for f in $(FUZZ_BIN); do n=$$(basename $$f); corpus=$(BUILD)/fuzz-corpus/$$n; \
	  mkdir -p $$corpus; seeds=tests/fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  echo "== fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$n- \
	      $$corpus $$seeds > $(BUILD)/fuzz/$$n.log 2>&1 || { fail=1; tail -40 $(BUILD)/fuzz/$$n.log; }; \
	  grep -E 'stat::number_of_executed_units' $(BUILD)/fuzz/$$n.log | sed "s/^/$$n: /"; done; \
	[ $$fail = 0 ] && echo "fuzz: no crash" || { echo "fuzz: CRASH (see $(BUILD)/fuzz/)"; exit 1; }

# ---- benchmarks, the example --------------------------------------------------

# Benchmarks may use the sandbox-as-function-runner glue and the worker's
# seccomp filter from runtime/ (bench_sandbox's served path).
BENCH_RT_OBJ := $(BUILD)/obj/runtime/fnrunner.o $(BUILD)/obj/runtime/worker_seccomp.o
$(BUILD)/bench/%: bench/%.c $(LIBS) $(BENCH_RT_OBJ)
	@mkdir -p $(dir $@)
	@echo '  LD   $@'; $(CC) $(CFLAGS_BASE) $(SBX_CFLAGS) -O2 -g -o $@ $< $(BENCH_RT_OBJ) $(LIBS) $(LDLIBS_ALL)

bench: $(BENCH_BIN)                            ## print benchmark figures (not a test)
	@for b in $(BENCH_BIN); do echo "== bench: $$b"; $$b; done

bench-sql:                                     ## µs per SQL node: SQLite, PostgreSQL, MariaDB beside the client libraries by hand
	@$(SUBMAKE) deps deps-db
	@$(SUBMAKE) build $(BUILD)/bench/bench_sql
	@bench/sql.sh

bench-studio: braid deps-browser               ## the Studio page: start-up, a 200-node workflow, bundle size
	@cd studio && BRAID_BIN=$(CURDIR)/braid node ../bench/studio_page.mjs

bench-http:                                    ## hello / C floor / braid warm / braid call through nginx, wrk c=16/64, 2 rounds (BENCH_SECONDS=8)
	@$(SUBMAKE) deps
	@$(SUBMAKE) build $(BUILD)/bench/hello_fcgi $(BUILD)/bench/floor_fcgi
	@bench/run.sh

bench-leak:                                    ## braid serve's PSS/RSS per process over 100k requests (BENCH_LEAK_REQUESTS)
	@$(SUBMAKE) deps
	@$(SUBMAKE) build
	@bench/leak.sh

# ---- the container image (docs/deploy.md) --------------------------------------

# podman's host settings for this project: a file of ours, never /etc.
PODMAN := CONTAINERS_CONF=$(CURDIR)/docker/containers.conf

image-deps:                                    ## install podman, runc, mmdebstrap (what image and image-test need)
	@missing=$$(for p in $(IMAGE_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "image-deps: installing" $$missing; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

image: image-deps                              ## build localhost/braid:latest with podman (no daemon, nothing pulled)
	@$(PODMAN) docker/build-image.sh

image-test: image                              ## run the image and docker/k8s/ with podman (kube play)
	@$(PODMAN) docker/image-test.sh

# The README's commands on a never-touched Debian 12 (docker/fresh-machine.sh):
# make run in one invocation, a request through it, Ctrl-C, make test-unit.
test-fresh: image-deps                         ## make run + make test-unit in a fresh Debian 12 container (tests HEAD)
	@$(PODMAN) docker/fresh-machine.sh

FANOUT_RUN := $(CURDIR)/$(BUILD)/fanout-backend

fanout-backend: deps                           ## start the fanout example's backend (nginx, 127.0.0.1:8081) in the background
	@mkdir -p $(FANOUT_RUN)/tmp
	@sed -e "s|BRAID_BACKEND_ROOT|$(CURDIR)/examples/fanout/backend|" -e "s|BRAID_BACKEND_TMP|$(FANOUT_RUN)/tmp|" \
	    examples/fanout/backend/nginx.conf > $(FANOUT_RUN)/nginx.conf
	@if [ -f $(FANOUT_RUN)/nginx.pid ] && kill -0 $$(cat $(FANOUT_RUN)/nginx.pid) 2>/dev/null; then \
	  echo "fanout backend: already running on http://127.0.0.1:8081"; \
	else \
	  nginx -p $(FANOUT_RUN) -c $(FANOUT_RUN)/nginx.conf -g "pid $(FANOUT_RUN)/nginx.pid;" \
	      </dev/null >/dev/null 2>$(FANOUT_RUN)/error.log && \
	  echo "fanout backend: http://127.0.0.1:8081/orders/1001 (stop it with: make fanout-backend-stop)" || \
	  { cat $(FANOUT_RUN)/error.log >&2; exit 1; }; \
	fi

fanout-backend-stop:                           ## stop the fanout example's backend
	@if [ -f $(FANOUT_RUN)/nginx.pid ]; then kill $$(cat $(FANOUT_RUN)/nginx.pid) 2>/dev/null; rm -f $(FANOUT_RUN)/nginx.pid; fi; echo "fanout backend: stopped"

# The README's first command: `braid serve examples/seed` (its users in
# SQLite, nothing else to start) and nginx in front, in the foreground until Ctrl-C (docker/run-local.sh).
RUN_PORT ?=
RUN_ADMIN_PORT ?=
run:                                           ## serve the seed example through nginx on 127.0.0.1:8080 (Ctrl-C stops)
	@$(SUBMAKE) deps
	@$(SUBMAKE) build
	@RUN_PORT='$(RUN_PORT)' RUN_ADMIN_PORT='$(RUN_ADMIN_PORT)' docker/run-local.sh

clean:                                         ## remove everything the build made
	rm -rf $(BUILD) braid $(SEED_DB) studio/dist

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
