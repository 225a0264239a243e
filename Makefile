# imgpipe — every entry point. A fresh clone needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The hash-locked files `make lock` compiles from the *.in files (requirements-dev.txt is the
# superset that .venv gets; the others are locked to the same versions).
LOCKS := requirements-dev.txt requirements.txt layer/requirements.txt policy/requirements.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) | cksum | cut -d' ' -f1)
STACK ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup browser lock layer layer-digests schema test test-unit test-function test-integration test-browser lint demo up down status verify bench soak redrive clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# --require-hashes: every package, transitive ones and pip itself included, must match a sha256
# in the lock, or nothing is installed. (airspeed-ext ships only an sdist: the sdist is
# hash-checked, the setuptools pip fetches to build it is not.)
$(STAMP): $(LOCKS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --require-hashes -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP) browser ## create .venv from the hash-locked requirements-dev.txt (+ Chromium, see browser)

# Debian's chromium + chromium-driver for tests/browser and the demo's screenshot: installed when
# missing and we can (root with apt-get); otherwise those steps skip and say why.
browser: ## install chromium + chromium-driver if missing (root with apt-get only)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium + chromium-driver (browser tests, gallery screenshot)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	    || echo "warning: apt-get could not install chromium: the browser tests will skip (reason in the test report)"; \
	else echo "note: no Chromium here and no root apt-get to install it: the browser tests will skip (make test says why)"; fi

# One resolution for every lock: the dev set first (universal: every Python from 3.11 and every
# platform, with markers), then each subset constrained to the dev lock's versions, the layer for
# the Lambda runtime (CPython 3.12, manylinux). Existing pins are kept unless an .in file asks for
# something else; LOCK_ARGS="--upgrade-package NAME" (or --upgrade) moves them on purpose.
UV_COMPILE = UV_CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/uv pip compile --quiet --generate-hashes $(LOCK_ARGS)
lock: ## recompile the hash-locked requirements*.txt after editing a requirements*.in
	@test -x $(BIN)/uv || $(MAKE) --no-print-directory setup
	$(UV_COMPILE) --universal --python-version 3.11 requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) --universal --python-version 3.11 -c requirements-dev.txt requirements.in -o requirements.txt
	$(UV_COMPILE) --universal --python-version 3.11 -c requirements-dev.txt policy/requirements.in \
	  -o policy/requirements.txt
	$(UV_COMPILE) --python-version 3.12 --python-platform aarch64-manylinux_2_28 -c requirements-dev.txt \
	  layer/requirements.in -o layer/requirements.txt

layer: $(STAMP) ## build the Pillow layer zip for the stack's architecture (reproducible, hash-checked wheels; fails if its sha256 is not the one in layer/digests.json)
	$(PY) -m layer.build

layer-digests: $(STAMP) ## after a deliberate layer change: rebuild both architectures, record their sha256 in layer/digests.json
	$(PY) -m layer.build --record-digests

# The package schema consumers' SDKs are generated from (docs/package.md): the provider is started
# as the engine starts it and asked over gRPC; tests/provider checks the committed file is current.
schema: setup ## regenerate provider/schema.json (the imgpipe package schema) after changing a component's Args
	$(PY) -m provider.schema

test: setup layer lint ## lint and types, then every offline test: unit, function, layer, integration
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup layer ## only tests/unit (mocks, policy, workflow)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-function: setup ## only tests/function (handler under moto)
	$(PY) -m pytest tests/function $(PYTEST_ARGS)

test-integration: setup layer ## only tests/integration (embedded local AWS)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-browser: setup layer ## only tests/browser (the gallery page in headless Chromium, local stack)
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

up: setup layer ## deploy the real program into the embedded local AWS (runs in the background)
	$(PY) -m localaws up

down: setup ## destroy the local stack and stop its server
	$(PY) -m localaws down

status: setup ## is a local stack running? where?
	$(PY) -m localaws status

redrive: setup ## reprocess the messages in the local stack's dead-letter queue
	$(PY) -m localaws redrive

soak: setup ## burst of uploads with injected faults against the local stack (N=200)
	$(PY) -m verify.soak $(if $(N),--count $(N)) $(if $(STACK),--stack $(STACK))

bench: setup ## benchmark naive vs imgpipe vs pyvips (.bench/results.json, bench.png); BENCH_ARGS=--strict fails on a missed target
	$(PY) -m bench $(BENCH_ARGS)

# mypy's scope and settings are in pyproject.toml; its incremental cache (.mypy_cache) makes a
# re-run take seconds (a cold run analyses pulumi_aws's types: about a minute of CPU).
lint: setup ## ruff (lint + format check) and mypy (types)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

verify: setup ## upload-and-verify the local stack (after `make up`), or a real one: make verify STACK=dev
	$(PY) -m verify $(if $(STACK),--stack $(STACK))

# demo: down runs whatever happens (verify failure, Ctrl-C) and the exit code is verify's.
# The gallery step exits 2 when no browser is installed (it says so): not a demo failure.
demo: setup layer ## local stack up, upload + verify + contact sheet + gallery screenshot, down
	@start=$$(date +%s); rc=0; sheet=.local/contact-sheet.png; shot=.local/gallery.png; rm -f $$sheet $$shot; \
	trap '$(MAKE) --no-print-directory down; exit 130' INT TERM; \
	if $(MAKE) --no-print-directory up; then \
	  $(PY) -m verify --contact-sheet $$sheet || rc=$$?; \
	  $(PY) -m verify.gallery --screenshot $$shot; g=$$?; \
	  if [ $$g -eq 1 ] && [ $$rc -eq 0 ]; then rc=1; fi; \
	else rc=$$?; echo "demo: make up failed (exit $$rc)"; fi; \
	$(MAKE) --no-print-directory down || echo "demo: make down failed: check with make up/down"; \
	trap - INT TERM; \
	echo; echo "demo: $$( [ $$rc -eq 0 ] && echo PASSED || echo FAILED ) in $$(( $$(date +%s) - start )) s"; \
	if [ -f $$sheet ]; then echo "contact sheet: $(CURDIR)/$$sheet"; fi; \
	if [ -f $$shot ]; then echo "gallery screenshot: $(CURDIR)/$$shot"; fi; \
	exit $$rc

clean: ## remove local state, benchmark output and the layer build (keeps .venv)
	rm -rf .local .bench layer/build
