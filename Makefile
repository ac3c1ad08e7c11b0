# The two commands of the README: `make up` runs Taskstream, `make test` runs every test.
# Both install what they need first; downloads and builds are cached outside the repository
# (in ${TASKSTREAM_CACHE:-~/.cache/taskstream}).

.PHONY: up test lint typecheck bootstrap schema web provision deploy-tools test-deploy bench \
	cluster-build test-cluster cluster-up cluster-down test-cluster-node

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

# A single-node cluster on this machine running the chart's pods with Dapr sidecars: CoreDNS and
# kube-proxy, the Dapr control plane built from the dapr module, Kafka as a StatefulSet with the
# chart's KafkaUsers as SCRAM users and their ACLs (no Strimzi: its operator cannot be had here);
# docs/deploy/minikube.md, "A real Kubernetes on this machine".
CLUSTER_DIR ?= $(HOME)/.cache/taskstream/cluster
cluster-up: deploy-tools
	infra/local/kube.sh build kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy
	infra/local/kube.sh build-coredns
	infra/local/kube.sh build-dapr
	infra/local/kube.sh images
	mkdir -p $(CLUSTER_DIR)
	infra/local/kube.sh up $(CLUSTER_DIR)
	infra/local/kube.sh node $(CLUSTER_DIR)
	infra/local/kube.sh network $(CLUSTER_DIR)
	infra/local/kube.sh load $(CLUSTER_DIR)
	infra/local/kube.sh dapr-images $(CLUSTER_DIR)
	infra/local/kube.sh kafka $(CLUSTER_DIR)
	infra/local/kube.sh dapr $(CLUSTER_DIR)
	infra/local/kube.sh install $(CLUSTER_DIR)

cluster-down:
	infra/local/kube.sh down $(CLUSTER_DIR)

# The pods of `cluster-up` checked (tests/deploy/test_cluster_node.py); the cluster stays up.
test-cluster-node: bootstrap cluster-up
	TASKSTREAM_CLUSTER_DIR=$(CLUSTER_DIR) .venv/bin/pytest tests/deploy/test_cluster_node.py -v

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
