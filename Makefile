# The two commands of the README: `make up` runs Taskstream, `make test` runs every test.
# Both install what they need first; downloads and builds are cached outside the repository
# (in ${TASKSTREAM_CACHE:-~/.cache/taskstream}).

.PHONY: up test lint typecheck bootstrap schema web provision deploy-tools test-deploy bench \
	cluster-build test-cluster

WEB_SOURCES := $(shell find web/src web/index.html web/package-lock.json web/vite.config.ts -type f 2>/dev/null)

bootstrap:
	@scripts/bootstrap.sh

web/dist/index.html: $(WEB_SOURCES)
	web/scripts/build.sh

web: web/dist/index.html

up: bootstrap web
	.venv/bin/taskstream up $(ARGS)

provision:
	infra/local/provision.sh all

deploy-tools:
	infra/k8s-validate/install-tools.sh

test-deploy: bootstrap deploy-tools
	.venv/bin/pytest tests/deploy

# Kubernetes server binaries from the Go module proxy, once (10-20 min on 2 cores; cached).
# `make test` never builds them: tests/deploy/test_cluster.py is skipped until they exist.
cluster-build:
	infra/local/kube.sh build

# The chart against a real kube-apiserver (etcd + apiserver on loopback, server-side dry runs).
test-cluster: bootstrap deploy-tools cluster-build
	.venv/bin/pytest tests/deploy/test_cluster.py -v

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

typecheck: bootstrap
	.venv/bin/mypy

schema: bootstrap
	.venv/bin/taskstream schema
	.venv/bin/taskstream events-schema

# Every benchmark beside its peer, then bench/results/REPORT.md (ARGS="--quick" for a smoke run).
bench: bootstrap
	.venv/bin/python -m bench.run $(ARGS)

test: lint typecheck provision deploy-tools
	web/scripts/test.sh
	.venv/bin/pytest
