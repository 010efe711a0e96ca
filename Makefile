# The two set-up commands: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install chromium demo web test lint typecheck unit features integration browser screenshots bench bench-kafka bench-rules kafka-up kafka-down topics clean eval-manipulation
KAFKA_PORT ?= 9092

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) chromium ## Create .venv and install the package with its dev tools (and Chromium)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads one).
# Installed when missing and we are root (CI is); otherwise a note, and the browser tests
# skip locally (in CI, CI=true, a missing browser fails them).
chromium: ## Install Debian's chromium for the browser tests, if missing (needs root)
	@[ -n "$$PROACTIVE_CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (Debian) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: no chromium; browser tests will be skipped here. Install it: sudo apt-get install chromium"; \
	  fi; }

demo: $(STAMP) ## Generate a realistic event stream and run it (no Kafka): summary + out/demo/
	$(BIN)/proactive demo --customers 500 --events 20000 --seed 7 --out out/demo

web: $(STAMP) ## Serve the compliance UI over out/demo on 127.0.0.1:8000 (see docs/web.md)
	$(BIN)/proactive web --out out/demo

test: $(STAMP) chromium lint typecheck ## Lint, type-check and run every test: unit, Gherkin, browser, Kafka + PostgreSQL integration
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check proactive tests benchmarks scripts
	$(BIN)/ruff format --check proactive tests benchmarks scripts

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy

features: $(STAMP) ## Only the Gherkin scenarios of rules/ and ethics/
	$(BIN)/pytest -q tests/features

unit: $(STAMP) ## Everything but the integration tests (no Kafka, no PostgreSQL)
	$(BIN)/pytest -q --ignore=tests/integration

browser: $(STAMP) chromium ## Only the browser tests of the compliance UI (headless Chromium)
	$(BIN)/pytest -q tests/browser

screenshots: $(STAMP) chromium ## Screenshots of the compliance UI into docs/screenshots/ (real UI, Chromium)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

integration: $(STAMP) ## Only the tests against a real Kafka broker and PostgreSQL
	$(BIN)/pytest -q tests/integration

kafka-up: $(STAMP) ## Start a local Kafka broker (KRaft, jars from Maven Central) on localhost:$(KAFKA_PORT)
	$(BIN)/python tests/broker/broker.py up --port $(KAFKA_PORT)

kafka-down: ## Stop the local Kafka broker
	$(BIN)/python tests/broker/broker.py down

topics: $(STAMP) ## Create the four topics on the local broker
	$(BIN)/proactive topics create --bootstrap-servers localhost:$(KAFKA_PORT) --partitions 3

eval-manipulation: $(STAMP) ## Precision and recall of the manipulation check on the labelled corpus and held-out texts
	$(BIN)/python tests/ethics_corpus/evaluate.py
	$(BIN)/python tests/ethics_corpus/evaluate.py --holdout || true
	$(BIN)/python tests/ethics_corpus/evaluate.py --holdout2 || true

bench: $(STAMP) ## Throughput, latency and memory of the embedded pipeline (200k events)
	$(BIN)/python benchmarks/pipeline.py --events 200000 --customers 10000

bench-kafka: $(STAMP) ## The Kafka service against a transactional passthrough, on a real broker
	$(BIN)/python benchmarks/service.py --events 40000 --customers 4000 --batch 2000

bench-rules: $(STAMP) ## Lint time, throughput and memory with 10, 100 and 1,000 generated rules
	$(BIN)/python benchmarks/rules_scale.py

clean: ## Remove the virtual environment and outputs
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
