#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, from package registries only: the server binaries
# are built once from k8s.io/kubernetes on the Go module proxy (kube/go.mod) into
# $TASKSTREAM_CACHE/kubernetes-<v>/, etcd is Debian's etcd-server. Used by tests/deploy/test_cluster.py
# (`make test-cluster`) to give the chart real server-side validation and admission.
#
#   infra/local/kube.sh build [COMMAND...]   build kube-apiserver and kubectl (or the COMMANDs named:
#                                            kube-apiserver kubectl kube-controller-manager
#                                            kube-scheduler kubelet); cached by fingerprint
#   infra/local/kube.sh built                exit 0 when kube-apiserver and kubectl are built
#   infra/local/kube.sh up DIR               start etcd + kube-apiserver with their own PKI in DIR
#   infra/local/kube.sh crds DIR             install the Dapr, Strimzi and Prometheus Operator CRDs
#   infra/local/kube.sh down DIR             stop what `up DIR` started
#
# `up` prints KUBECONFIG=..., KUBECTL=..., APISERVER=... on stdout; progress goes to stderr.
# Everything listens on 127.0.0.1 only, on ports chosen free at start.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
KUBE_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { sub(/^v/, "", $3); print $3 }' "$HERE/kube/go.mod")"
HOME_DIR="$CACHE/kubernetes-$KUBE_VERSION"
DEFAULT_COMMANDS=(kube-apiserver kubectl)
ALL_COMMANDS=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet)
SERVICE_CIDR="10.96.0.0/16"
READY_TIMEOUT="${TASKSTREAM_KUBE_READY_TIMEOUT:-120}"

log() { printf '[kube] %s\n' "$*" >&2; }
die() { printf '[kube] error: %s\n' "$*" >&2; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else return 1; fi
}

# The build inputs: a binary is rebuilt only when one of them changes.
fingerprint() {
  cat "$HERE/kube/go.mod" "$HERE/kube/go.sum" "$HERE/kube/tools.go" | sha256sum | cut -c1-16
}

ldflags() {
  local minor
  minor="$(cut -d. -f2 <<<"$KUBE_VERSION")"
  # Without these the binaries report v0.0.0-master, which charts' kubeVersion checks refuse.
  printf '%s' "-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION" \
    " -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    " -X k8s.io/component-base/version.gitTreeState=clean" \
    " -X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION" \
    " -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

is_built() { # command
  [[ -x "$HOME_DIR/bin/$1" && -f "$HOME_DIR/stamps/$1" && "$(cat "$HOME_DIR/stamps/$1")" == "$(fingerprint)" ]]
}

build() { # command...
  local go fp cmd start
  (($#)) || set -- "${DEFAULT_COMMANDS[@]}"
  for cmd in "$@"; do
    [[ " ${ALL_COMMANDS[*]} " == *" $cmd "* ]] || die "unknown command $cmd (one of: ${ALL_COMMANDS[*]})"
  done
  mkdir -p "$HOME_DIR/bin" "$HOME_DIR/stamps" "$HOME_DIR/src"
  exec 9>"$HOME_DIR/.lock"
  flock 9 # one build at a time (parallel shells, pytest-xdist workers)
  fp="$(fingerprint)"
  for cmd in "$@"; do
    if is_built "$cmd"; then
      log "$cmd v$KUBE_VERSION: cached in $HOME_DIR/bin"
      continue
    fi
    go="$(find_go)" || die "go not found: building $cmd needs Go >= 1.24 (on PATH or in /usr/local/go)"
    log "$cmd v$KUBE_VERSION: building from k8s.io/kubernetes with $("$go" env GOVERSION) (niced; cold: kube-apiserver ~8 min, each further command ~2-5 min on 2 busy cores)"
    start=$SECONDS
    # The build runs in a copy, so the repository's go.mod/go.sum are never rewritten.
    cp "$HERE/kube/go.mod" "$HERE/kube/go.sum" "$HERE/kube/tools.go" "$HOME_DIR/src/"
    (
      cd "$HOME_DIR/src"
      export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
      nice -n 10 "$go" build -trimpath -ldflags "$(ldflags)" -o "$HOME_DIR/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    ) || die "go build of $cmd v$KUBE_VERSION failed (see the output above)"
    mv "$HOME_DIR/bin/$cmd.tmp" "$HOME_DIR/bin/$cmd"
    printf '%s' "$fp" >"$HOME_DIR/stamps/$cmd"
    log "$cmd v$KUBE_VERSION: built in $((SECONDS - start))s, $(du -h "$HOME_DIR/bin/$cmd" | cut -f1)"
  done
}

built() {
  local cmd
  for cmd in "${DEFAULT_COMMANDS[@]}"; do
    is_built "$cmd" || { echo "$cmd v$KUBE_VERSION is not built in $HOME_DIR/bin"; return 1; }
  done
  command -v etcd >/dev/null || { echo "etcd is not installed (Debian: apt-get install etcd-server)"; return 1; }
  command -v openssl >/dev/null || { echo "openssl is not installed"; return 1; }
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A CA of this cluster only, the API server's serving certificate, an admin client certificate
# (group system:masters) and the service-account signing key pair. Valid for 30 days: the
# cluster is a throwaway, started per test session.
make_pki() { # dir
  local pki="$1/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=taskstream-kube-ca" 2>/dev/null
    sign() { # name subject extensions
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" \
      "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment"
    sign admin "/O=system:masters/CN=taskstream-admin" \
      "extendedKeyUsage=clientAuth
keyUsage=digitalSignature,keyEncipherment"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 0600 ./*.key
  )
}

start_daemon() { # dir name command...
  local dir="$1" name="$2"
  shift 2
  setsid nohup "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

wait_ready() { # what seconds command...
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  log "$what ready"
}

up() { # dir
  local dir="$1" etcd_port peer_port api_port
  built >&2 || die "not built: run infra/local/kube.sh build"
  [[ ! -f "$dir/kube-apiserver.pid" ]] || die "$dir already has a cluster (infra/local/kube.sh down $dir)"
  mkdir -p "$dir/logs" "$dir/etcd"
  dir="$(cd "$dir" && pwd)"
  make_pki "$dir"
  etcd_port="$(free_port)" peer_port="$(free_port)" api_port="$(free_port)"
  # etcd listens on loopback without TLS: only this machine's processes can reach it.
  start_daemon "$dir" etcd etcd --name taskstream --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "taskstream=http://127.0.0.1:$peer_port" --initial-cluster-state new
  wait_ready "etcd on 127.0.0.1:$etcd_port" 30 curl -fsS "http://127.0.0.1:$etcd_port/health" \
    || { tail -20 "$dir/logs/etcd.log" >&2; down "$dir"; die "etcd did not become healthy (log: $dir/logs/etcd.log)"; }
  local pki="$dir/pki"
  start_daemon "$dir" kube-apiserver "$HOME_DIR/bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address 127.0.0.1 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --enable-admission-plugins NodeRestriction
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: taskstream-local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: taskstream-local
  context: {cluster: taskstream-local, user: admin}
current-context: taskstream-local
EOF
  wait_ready "kube-apiserver on https://127.0.0.1:$api_port" "$READY_TIMEOUT" \
    curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$api_port/readyz" \
    || { tail -30 "$dir/logs/kube-apiserver.log" >&2; down "$dir"; die "kube-apiserver not ready within ${READY_TIMEOUT}s (log: $dir/logs/kube-apiserver.log)"; }
  echo "KUBECONFIG=$dir/kubeconfig"
  echo "KUBECTL=$HOME_DIR/bin/kubectl"
  echo "APISERVER=https://127.0.0.1:$api_port"
}

down() { # dir
  local dir="$1" name pid
  for name in kube-apiserver etcd; do
    [[ -f "$dir/$name.pid" ]] || continue
    pid="$(cat "$dir/$name.pid")"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
  done
  log "stopped the cluster in $dir"
}

# A version pinned in install-tools.sh, so the CRDs served are the ones kubeconform checks against.
tools_version() { sed -n "s/^$1=\([^ ]*\).*/\1/p" "$REPO/infra/k8s-validate/install-tools.sh"; }

go_module_dir() { # module version
  (cd "$HOME_DIR" && GOFLAGS=-mod=mod "$(find_go)" mod download -json "$1@$2") |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

crds() { # dir
  local dir="$1" dapr prom strimzi kubectl=("$HOME_DIR/bin/kubectl" --kubeconfig "$1/kubeconfig")
  [[ -f "$dir/kubeconfig" ]] || die "no cluster in $dir (infra/local/kube.sh up $dir)"
  # The Strimzi CRDs are generated by install-tools.sh (Strimzi publishes no CRD YAML to a registry).
  bash "$REPO/infra/k8s-validate/install-tools.sh" >/dev/null
  dapr="$(go_module_dir github.com/dapr/dapr "$(tools_version DAPR_VERSION)")/charts/dapr/crds"
  prom="$(go_module_dir github.com/prometheus-operator/prometheus-operator "$(tools_version PROMETHEUS_OPERATOR_VERSION)")/example/prometheus-operator-crd"
  strimzi="$CACHE/tools/crd-sources/strimzi-$(tools_version STRIMZI_API_VERSION)"
  local files=("$dapr"/*.yaml "$prom"/monitoring.coreos.com_servicemonitors.yaml
    "$prom"/monitoring.coreos.com_podmonitors.yaml "$prom"/monitoring.coreos.com_prometheusrules.yaml
    "$strimzi"/kafka.yaml "$strimzi"/kafkanodepool.yaml "$strimzi"/kafkatopic.yaml "$strimzi"/kafkauser.yaml)
  local file args=()
  for file in "${files[@]}"; do
    [[ -f "$file" ]] || die "CRD file missing: $file"
    args+=(-f "$file")
  done
  # Server-side apply: Strimzi's Kafka CRD is too large for client-side apply's annotation.
  "${kubectl[@]}" apply --server-side --force-conflicts "${args[@]}" >&2
  # `kubectl wait` errors out (rather than waits) on a CRD whose status is not written yet.
  wait_ready "the CRDs (established)" 60 "${kubectl[@]}" wait --for condition=established --timeout=10s crd --all \
    || die "the CRDs were not established within 60s"
  log "${#files[@]} CRD files installed"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  built) built ;;
  up) (($# == 2)) || die "usage: $0 up DIR"; up "$2" ;;
  crds) (($# == 2)) || die "usage: $0 crds DIR"; crds "$2" ;;
  down) (($# == 2)) || die "usage: $0 down DIR"; down "$2" ;;
  *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
