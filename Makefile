# dlexplain: `make demo` and `make test` do all setup from nothing; re-runs skip finished steps.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONUNBUFFERED := 1
# two pytest workers, one test file each at a time, the longest files first (the seconds each file
# took in the last run, tests/durations.json, which the suite writes; xdist would otherwise start
# the files with the most tests first): most slow tests wait on servers (Airflow's scheduler,
# MLflow, Spark start-up); `make test PARALLEL=` runs them one by one
PARALLEL ?= -n 2 --dist loadfile --no-loadscope-reorder
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help docs setup java system model model-fast docker-engine images demo stop test stack-test test-fast lint bench bench-eaas bench-fast bench-label-budget bench-spark bench-drift lock clean

help:
	@echo "make demo   - set up everything and explain the demo reviews with the default model"
	@echo "make test   - set up everything and run every test, the compose stack's included"
	@echo "make stack-test - only the stack test: build the images, bring the stack up, test it"
	@echo "make stop   - stop the MLflow server that make demo left running"
	@echo "make lint   - layer contracts (lint-imports), ruff (lint, format) and mypy on include/dags/plugins"
	@echo "make bench  - benchmark the engine against the seed-style per-row explainer"
	@echo "make bench-eaas - latency and throughput of the served explainer"
	@echo "make bench-fast - the fast explainer vs the exact one (builds it first: ~60 min once)"
	@echo "make bench-label-budget - one label budget split between texts and evaluations (~35 min)"
	@echo "make bench-spark - the fast explainer through the Spark job on 20,000 reviews (~15 min)"
	@echo "make bench-drift - drift's false alarms and detections by night size, old rule vs new"
	@echo "make docs   - build the documentation site (mkdocs build --strict) into .dlexplain/site"
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

images: docker-engine
	@scripts/build_images.sh

demo: setup java
	@scripts/demo.sh

stop: setup
	@$(BIN)/dlexplain mlflow stop

# the default model (CPU) and the stack's images (mostly downloads) are built side by side; the
# stack test runs after the rest of the suite, alone: beside it, on 2 cores, its nights took 10-17
# min instead of 5 and a redeploy's first explanation ran past the server's time limit. Both parts
# run; make test fails if either does
test: setup java docker-engine lint
	@$(MAKE) --no-print-directory -j2 model images
	@$(BIN)/python -m pytest $(PARALLEL) -m "not stack" $(PYTEST_ARGS); suite=$$?; \
	$(BIN)/python -m pytest -m stack tests/stack $(PYTEST_ARGS); stack=$$?; \
	echo "make test: suite exit $$suite, stack test exit $$stack"; exit $$((suite || stack))

# the compose stack on this machine's engine (images built offline where no registry answers);
# logs of every service and the browser screenshots are kept in .dlexplain/stack-test
stack-test: setup model images
	$(BIN)/python -m pytest -m stack tests/stack $(PYTEST_ARGS)

test-fast: setup system lint
	$(BIN)/python -m pytest -m "not slow and not stack" $(PARALLEL) $(PYTEST_ARGS)

# layer contracts (dags/ and plugins/ are namespace packages of the repository root here), ruff's
# lint and format, mypy
lint: setup
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports
	$(BIN)/ruff check include dags plugins
	$(BIN)/ruff format --check include dags plugins
	$(BIN)/mypy include/dlexplain dags plugins

bench: model
	$(BIN)/python bench/bench_explain.py $(BENCH_ARGS)

bench-eaas: model
	$(BIN)/python bench/bench_eaas.py $(BENCH_ARGS)

bench-fast: model-fast
	$(BIN)/python bench/bench_fast.py $(BENCH_ARGS)

bench-label-budget: model
	$(BIN)/python bench/bench_label_budget.py $(BENCH_ARGS)

bench-spark: model-fast java
	$(BIN)/python bench/bench_spark.py --method fast --texts 20000 $(BENCH_ARGS)

bench-drift: model
	$(BIN)/python bench/bench_drift.py $(BENCH_ARGS)

# the documentation site; broken links and anchors fail it (tests/test_docs.py builds it in make test)
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lock:
	scripts/lock.sh

clean: stop
	rm -rf .dlexplain .pytest_cache
