# relatoria — the commands people type.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or as a module once `make install` has pip-installed it.
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
ENV_FILE ?= .env.dev
RUN := $(UV) run --env-file $(ENV_FILE)
S3_PORT ?= 9000
SUB ?= dev-user
ROWS ?= 200000
DEMO_ROWS ?= 20000
# Extra `make worker` processes serve no metrics unless given a port of their own (the
# one `make run` starts uses 9100).
METRICS_PORT ?= 0

.PHONY: help install lint format migrate demo-data run bff worker s3 token test test-unit test-integration test-e2e bench lambda-package clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## Install uv if missing, then the locked workspace into .venv
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --break-system-packages uv
	$(UV) sync --locked

lint: install ## ruff, mypy --strict, hadolint and the Compose file's schema (+ docker-compose)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run hadolint services/bff/Dockerfile services/worker/Dockerfile
	$(UV) run check-jsonschema --builtin-schema vendor.compose-spec infra/compose.yaml
	@# docker-compose resolves the file (anchors, env files, depends_on); CI may not have it.
	@if command -v docker-compose >/dev/null 2>&1; then \
		echo "docker-compose -f infra/compose.yaml config -q"; \
		docker-compose -f infra/compose.yaml config -q; \
	else \
		echo "docker-compose is not on PATH: skipped its check of infra/compose.yaml"; \
	fi

format: install ## Apply ruff's formatting and safe fixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

migrate: install ## Create the database if needed and apply migrations
	$(RUN) relatoria-migrate --create-database

bff: install ## Run one BFF process (127.0.0.1:8000)
	$(RUN) relatoria-bff

worker: install ## Run one more worker (start several to scale out; METRICS_PORT=9101 for metrics)
	RELATORIA_METRICS_PORT=$(METRICS_PORT) $(RUN) relatoria-worker

s3: install ## Run a local S3 endpoint (moto server) on S3_PORT
	$(RUN) moto_server -H 127.0.0.1 -p $(S3_PORT)

token: install ## Print a development bearer token (make token SUB=alice)
	@$(RUN) relatoria-token --sub $(SUB)

demo-data: install ## Create the demo reporting database (make demo-data ROWS=2000000)
	$(RUN) relatoria-demo-data --create-database --rows $(ROWS)

run: migrate ## Start the whole system: local S3, BFF and a worker (Ctrl-C stops all)
	@$(RUN) relatoria-demo-data --create-database --if-smaller --rows $(DEMO_ROWS)
	@$(RUN) python infra/local/run.py

test: lint ## Lint, then every test against the real services
	$(UV) run pytest tests

test-unit: install ## Unit tests only
	$(UV) run pytest tests/unit

test-integration: install ## Integration tests only
	$(UV) run pytest tests/integration

test-e2e: install ## End-to-end tests only
	$(UV) run pytest tests/e2e

bench: install ## Benchmark figures (make bench QUICK=1 for a short run)
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null 2>&1; } || echo "wrk not installed (no apt-get, or not root): the HTTP loads use the Python client"
	$(UV) run python -m tests.bench.bench_exports $(if $(QUICK),--quick,)
	$(UV) run python -m tests.bench.bench_pipeline $(if $(QUICK),--quick,)
	$(UV) run python -m tests.bench.bench_recovery $(if $(QUICK),--quick,)
	$(UV) run python -m tests.bench.bench_hot_path $(if $(QUICK),--quick,)
	$(UV) run python -m tests.bench.bench_listing_memory
	$(UV) run python -m tests.bench.bench_large_bodies
	$(UV) run python -m tests.bench.bench_waiters

LAMBDA_BUILD := .build/lambda
LAMBDA_PYTHON ?= 3.12

lambda-package: install ## Build dist/relatoria-bff-lambda.zip (the BFF for AWS Lambda, x86_64)
	rm -rf $(LAMBDA_BUILD) && mkdir -p $(LAMBDA_BUILD) dist
	$(UV) build --quiet --wheel --package relatoria-shared -o $(LAMBDA_BUILD)/wheels
	$(UV) build --quiet --wheel --package relatoria-bff -o $(LAMBDA_BUILD)/wheels
	$(UV) export --quiet --locked --no-dev --package relatoria-bff --extra lambda \
		--no-emit-workspace --no-hashes -o $(LAMBDA_BUILD)/requirements.txt
	@# Lambda's python$(LAMBDA_PYTHON) runtime: Amazon Linux 2023, glibc 2.34.
	$(UV) pip install --quiet --target $(LAMBDA_BUILD)/package --only-binary :all: \
		--python-platform x86_64-manylinux_2_28 --python-version $(LAMBDA_PYTHON) \
		-r $(LAMBDA_BUILD)/requirements.txt $(LAMBDA_BUILD)/wheels/*.whl
	rm -f dist/relatoria-bff-lambda.zip $(LAMBDA_BUILD)/package/.lock
	cd $(LAMBDA_BUILD)/package && python3 -m zipfile -c ../../../dist/relatoria-bff-lambda.zip .
	@echo "dist/relatoria-bff-lambda.zip: handler relatoria_bff.lambda_handler.handler"

clean: ## Remove caches, build output and the virtual environment
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .run .build dist
