# imgpipe — every entry point. A fresh clone needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt layer/requirements.txt | cksum | cut -d' ' -f1)
STACK ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup layer test test-unit test-function test-integration lint demo up down status verify bench soak redrive clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt layer/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP) ## create .venv with the pinned dependencies

layer: $(STAMP) ## build the Pillow layer zip for the stack's architecture (reproducible, no Docker)
	$(PY) -m layer.build

test: setup layer ## every offline test: unit, function, layer, integration
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup layer ## only tests/unit (mocks, policy, workflow)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-function: setup ## only tests/function (handler under moto)
	$(PY) -m pytest tests/function $(PYTEST_ARGS)

test-integration: setup layer ## only tests/integration (embedded local AWS)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

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

lint: setup ## ruff
	$(BIN)/ruff check .

verify: setup ## upload-and-verify the local stack (after `make up`), or a real one: make verify STACK=dev
	$(PY) -m verify $(if $(STACK),--stack $(STACK))

# demo: down runs whatever happens (verify failure, Ctrl-C) and the exit code is verify's.
demo: setup layer ## local stack up, upload + verify + contact sheet, down: all in one command
	@start=$$(date +%s); rc=0; sheet=.local/contact-sheet.png; rm -f $$sheet; \
	trap '$(MAKE) --no-print-directory down; exit 130' INT TERM; \
	if $(MAKE) --no-print-directory up; then \
	  $(PY) -m verify --contact-sheet $$sheet || rc=$$?; \
	else rc=$$?; echo "demo: make up failed (exit $$rc)"; fi; \
	$(MAKE) --no-print-directory down || echo "demo: make down failed: check with make up/down"; \
	trap - INT TERM; \
	echo; echo "demo: $$( [ $$rc -eq 0 ] && echo PASSED || echo FAILED ) in $$(( $$(date +%s) - start )) s"; \
	if [ -f $$sheet ]; then echo "contact sheet: $(CURDIR)/$$sheet"; fi; \
	exit $$rc

clean: ## remove local state, benchmark output and the layer build (keeps .venv)
	rm -rf .local .bench layer/build
