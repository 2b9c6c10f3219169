# dlexplain: `make demo` and `make test` do all setup from nothing; re-runs skip finished steps.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONUNBUFFERED := 1
# two pytest workers, one test file each at a time: most slow tests wait on servers (Airflow's
# scheduler, MLflow, Spark start-up); `make test PARALLEL=` runs them one by one
PARALLEL ?= -n 2 --dist loadfile
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup java system model model-fast docker-engine demo stop test stack-test test-fast lint bench bench-eaas bench-fast lock clean

help:
	@echo "make demo   - set up everything and explain the demo reviews with the default model"
	@echo "make test   - set up everything and run all tests but the stack test"
	@echo "make stack-test - build the images, bring the compose stack up and test it end to end"
	@echo "make stop   - stop the MLflow server that make demo left running"
	@echo "make lint   - check the package's layer contracts (lint-imports, pyproject.toml)"
	@echo "make bench  - benchmark the engine against the seed-style per-row explainer"
	@echo "make bench-eaas - latency and throughput of the served explainer"
	@echo "make bench-fast - the fast explainer vs the exact one (builds it first: ~60 min once)"
	@echo "make lock   - re-resolve requirements.in into requirements.lock"

setup:
	@scripts/setup_venv.sh

java:
	@scripts/check_java.sh

model: setup
	@$(BIN)/dlexplain model build-default

model-fast: model
	@$(BIN)/dlexplain model build-default-fast

system:
	@scripts/system_packages.sh

docker-engine: system
	@scripts/docker_engine.sh

demo: setup java
	@scripts/demo.sh

stop: setup
	@$(BIN)/dlexplain mlflow stop

test: setup java model docker-engine lint
	$(BIN)/python -m pytest $(PARALLEL) -m "not stack" $(PYTEST_ARGS)

# the compose stack on this machine's engine (images built offline where no registry answers);
# logs of every service and the browser screenshots are kept in .dlexplain/stack-test. Not yet
# part of `make test`: it has not passed end to end (issue 17 is open)
stack-test: setup model docker-engine
	$(BIN)/python -m pytest -m stack tests/stack $(PYTEST_ARGS)

test-fast: setup system lint
	$(BIN)/python -m pytest -m "not slow and not stack" $(PARALLEL) $(PYTEST_ARGS)

lint: setup
	$(BIN)/lint-imports

bench: model
	$(BIN)/python bench/bench_explain.py $(BENCH_ARGS)

bench-eaas: model
	$(BIN)/python bench/bench_eaas.py $(BENCH_ARGS)

bench-fast: model-fast
	$(BIN)/python bench/bench_fast.py $(BENCH_ARGS)

lock:
	scripts/lock.sh

clean: stop
	rm -rf .dlexplain .pytest_cache
