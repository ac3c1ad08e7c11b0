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
#   infra/local/kube.sh crds DIR             install the Dapr, Strimzi, Prometheus Operator and
#                                            External Secrets CRDs
#   infra/local/kube.sh down DIR             stop what `up DIR` (and `node DIR`) started
#
# A node, to run pods (needs the three further commands built, and containerd, runc, buildah,
# podman and containernetworking-plugins from Debian):
#   infra/local/kube.sh images               the project's images with podman on Debian-made bases
#   infra/local/kube.sh node DIR             containerd + runc, a bridge CNI, kube-controller-manager,
#                                            kube-scheduler and a kubelet, beside `up DIR`
#   infra/local/kube.sh load DIR             import the project's images into the node's containerd
#   infra/local/kube.sh postgres DIR         PostgreSQL for the pods on the bridge (the chart's
#                                            postgres image cannot be pulled) and its Secret
#   infra/local/kube.sh install DIR          CRDs, `postgres`, dev-secrets.sh, then helm install
#                                            --wait with the Minikube values (Kafka: `kafka`)
#
# Cluster networking, Kafka and Dapr (needs kube-proxy built, and build-coredns, build-dapr):
#   infra/local/kube.sh build-coredns        CoreDNS from the Go module proxy (kube/coredns)
#   infra/local/kube.sh build-dapr           daprd and the Dapr control plane from the dapr module
#   infra/local/kube.sh network DIR          CoreDNS and kube-proxy on the host, for the pods
#   infra/local/kube.sh dapr-images DIR      the Dapr images (buildah, from scratch), imported
#   infra/local/kube.sh kafka-image DIR      the Kafka image (buildah: Maven Central jars, jlinked
#                                            Java, the Debian base), imported
#   infra/local/kube.sh kafka DIR            kafka-image, then a KRaft Kafka StatefulSet in the
#                                            cluster (no Strimzi here), ready
#   infra/local/kube.sh dapr DIR             the dapr module's Helm chart with those images
#
# `up` prints KUBECONFIG=..., KUBECTL=..., APISERVER=... on stdout; progress goes to stderr.
# etcd and the other daemons listen on 127.0.0.1, on ports chosen free at start; kube-apiserver
# (which the pods reach through the `kubernetes` Service) and the kubelet on the node's address,
# for client certificates of this cluster's CA only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
KUBE_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { sub(/^v/, "", $3); print $3 }' "$HERE/kube/go.mod")"
HOME_DIR="$CACHE/kubernetes-$KUBE_VERSION"
DEFAULT_COMMANDS=(kube-apiserver kubectl)
ALL_COMMANDS=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy)
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
make_pki() { # dir node-ip
  local pki="$1/pki" node="$2"
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
      "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1,IP:$node
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
  local dir="$1" etcd_port peer_port api_port ip
  built >&2 || die "not built: run infra/local/kube.sh build"
  [[ ! -f "$dir/kube-apiserver.pid" ]] || die "$dir already has a cluster (infra/local/kube.sh down $dir)"
  ip="$(node_ip)"
  [[ -n "$ip" ]] || die "no IPv4 address with a default route for the node"
  mkdir -p "$dir/logs" "$dir/etcd"
  dir="$(cd "$dir" && pwd)"
  make_pki "$dir" "$ip"
  etcd_port="$(free_port)" peer_port="$(free_port)" api_port="$(free_port)"
  # etcd listens on loopback without TLS: only this machine's processes can reach it.
  start_daemon "$dir" etcd etcd --name taskstream --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "taskstream=http://127.0.0.1:$peer_port" --initial-cluster-state new
  wait_ready "etcd on 127.0.0.1:$etcd_port" 30 curl -fsS "http://127.0.0.1:$etcd_port/health" \
    || { tail -20 "$dir/logs/etcd.log" >&2; down "$dir"; die "etcd did not become healthy (log: $dir/logs/etcd.log)"; }
  local pki="$dir/pki"
  # The pods reach the API server (the Dapr control plane watches it) through the `kubernetes`
  # Service, whose endpoint is the advertised address: a loopback one is refused, so the server
  # listens on every address, the node's advertised, and serves client certificates only.
  start_daemon "$dir" kube-apiserver "$HOME_DIR/bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --anonymous-auth=false \
    --bind-address 0.0.0.0 --secure-port "$api_port" --advertise-address "$ip" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --enable-admission-plugins NodeRestriction --enable-aggregator-routing=true
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

stop_daemon() { # dir name
  local pid
  [[ -f "$1/$2.pid" ]] || return 0
  pid="$(cat "$1/$2.pid")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1/$2.pid"
}

# The bridge plugin's masquerade rules, one chain per pod: the pods were killed without the
# kubelet's CNI teardown. Only rules of the network this script names ("taskstream") are touched.
remove_pod_nat() {
  local rule chain
  iptables -t nat -S POSTROUTING 2>/dev/null | grep -F 'name: \"taskstream\"' | while read -r rule; do
    chain="${rule##* -j }"
    eval "iptables -t nat -D ${rule#-A }" || true # eval: the rule's comment is quoted as iptables printed it
    iptables -t nat -F "$chain" 2>/dev/null || true
    iptables -t nat -X "$chain" 2>/dev/null || true
  done
}

down() { # dir
  local dir="$1" name task ctr mount
  for name in kubelet kube-scheduler kube-controller-manager coredns kube-proxy kafka; do  # kafka: a host broker of clusters made before the StatefulSet
    stop_daemon "$dir" "$name"
  done
  if [[ -f "$dir/coredns/Corefile" && -x "$HOME_DIR/bin/kube-proxy" ]]; then
    "$HOME_DIR/bin/kube-proxy" --cleanup >/dev/null 2>&1 || true # its iptables chains
  fi
  if [[ -f "$dir/containerd.pid" ]]; then
    # The pods' processes live on under their shims unless their tasks are killed first.
    ctr=(ctr --address "$dir/containerd/containerd.sock" --namespace k8s.io)
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks kill --signal SIGKILL "$task" >/dev/null 2>&1 || true
    done
    sleep 1
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks delete --force "$task" >/dev/null 2>&1 || true
    done
  fi
  stop_daemon "$dir" containerd
  if [[ -f "$(pg_dir "$dir")/data/postmaster.pid" ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$(pg_dir "$dir")/data" -w -m fast stop >/dev/null || true
  fi
  for name in kube-apiserver etcd; do stop_daemon "$dir" "$name"; done
  if [[ -f "$dir/cni/10-taskstream.conflist" ]]; then
    ip link del "$BRIDGE" 2>/dev/null || true
    remove_pod_nat
  fi
  # What the kubelet and containerd mounted (volumes, rootfs, netns) below the directory; the
  # kubelet's root is a bind mount over itself that can stay behind after one pass.
  for _ in 1 2 3; do
    while read -r mount; do
      umount -l "$mount" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts || break
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
  local dir="$1" dapr prom strimzi eso kubectl=("$HOME_DIR/bin/kubectl" --kubeconfig "$1/kubeconfig")
  [[ -f "$dir/kubeconfig" ]] || die "no cluster in $dir (infra/local/kube.sh up $dir)"
  # The Strimzi CRDs are generated by install-tools.sh (Strimzi publishes no CRD YAML to a registry).
  bash "$REPO/infra/k8s-validate/install-tools.sh" >/dev/null
  dapr="$(go_module_dir github.com/dapr/dapr "$(tools_version DAPR_VERSION)")/charts/dapr/crds"
  prom="$(go_module_dir github.com/prometheus-operator/prometheus-operator "$(tools_version PROMETHEUS_OPERATOR_VERSION)")/example/prometheus-operator-crd"
  strimzi="$CACHE/tools/crd-sources/strimzi-$(tools_version STRIMZI_API_VERSION)"
  eso="$(go_module_dir github.com/external-secrets/external-secrets "$(tools_version EXTERNAL_SECRETS_VERSION)")/config/crds/bases"
  local files=("$dapr"/*.yaml "$prom"/monitoring.coreos.com_servicemonitors.yaml
    "$prom"/monitoring.coreos.com_podmonitors.yaml "$prom"/monitoring.coreos.com_prometheusrules.yaml
    "$strimzi"/kafka.yaml "$strimzi"/kafkanodepool.yaml "$strimzi"/kafkatopic.yaml "$strimzi"/kafkauser.yaml
    "$eso"/external-secrets.io_externalsecrets.yaml "$eso"/external-secrets.io_clustersecretstores.yaml)
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

# The project's images, as docs/deploy/minikube.md builds them without a registry: podman
# (buildah underneath) on bases made from Debian packages, tagged as values-minikube.yaml names
# them, then imported into containerd's k8s.io namespace for the kubelet (pullPolicy: Never).
IMAGE_REGISTRY="docker.io/taskstream"
IMAGE_TAG="dev"
PODMAN_LIMITS=(--runtime runc --ulimit nofile=16384:16384 --ulimit nproc=8192:8192)

images() {
  local name target args
  command -v podman >/dev/null || die "podman is not installed (Debian: apt-get install podman buildah runc debootstrap uidmap)"
  "$REPO/docker/base/make-bases.sh" >&2
  for name in gateway recurrence notifications audit; do
    if [[ "$name" == gateway ]]; then target=(--target gateway); args=()
    else target=(--target worker); args=(--build-arg "WORKER=$name"); fi
    log "image $IMAGE_REGISTRY/taskstream-$name:$IMAGE_TAG: building"
    nice -n 10 podman build --network=host "${PODMAN_LIMITS[@]}" \
      --build-arg PYTHON_IMAGE=localhost/taskstream-base-python:bookworm \
      --build-arg NODE_IMAGE=localhost/taskstream-base-node:bookworm \
      "${target[@]}" "${args[@]}" --tag "$IMAGE_REGISTRY/taskstream-$name:$IMAGE_TAG" \
      --file "$REPO/docker/Dockerfile" "$REPO" >&2
  done
}

# ------------------------------------------------------------------ the node (stage 2) ----------
POD_CIDR="10.244.0.0/24"
BRIDGE="tskube0"  # one node per machine: the bridge and runc's state (/run/containerd/runc) are shared
BRIDGE_IP="10.244.0.1"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
NODE_NAME="taskstream-node"
PAUSE_IMAGE="registry.k8s.io/pause:3.10"

node_ip() { ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

import_image() { # dir image: from podman's store into the node's containerd
  local start=$SECONDS
  podman save --format docker-archive "$2" |
    ctr --address "$1/containerd/containerd.sock" --namespace k8s.io images import - >/dev/null
  log "imported $2 into the node's containerd in $((SECONDS - start))s"
}

# The sandbox image, which cannot be pulled here: kube/pause (a static Go program) in an image
# made by buildah from scratch.
pause_image() { # dir
  local dir="$1" c
  if ctr --address "$dir/containerd/containerd.sock" --namespace k8s.io images ls -q | grep -qx "$PAUSE_IMAGE"; then
    return
  fi
  (cd "$HOME_DIR/src" && rm -rf pause && cp -r "$HERE/kube/pause" . &&
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" \
      "$(find_go)" build -trimpath -ldflags "-s -w" -o "$HOME_DIR/bin/pause" ./pause)
  c="$(buildah from scratch)"
  buildah copy "$c" "$HOME_DIR/bin/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit --quiet "$c" "$PAUSE_IMAGE" >/dev/null
  buildah rm "$c" >/dev/null
  import_image "$dir" "$PAUSE_IMAGE"
}

write_node_config() { # dir node-ip kubelet-port
  local dir="$1" ip="$2" kport="$3" pki="$1/pki"
  cat >"$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd/containerd.sock"
[ttrpc]
  address = "$dir/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks the right to lower oom_score_adj (the sandbox asks for -998 and runc's init
  # dies: "can't get final child's PID from pipe"): clamp to containerd's own score.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
  cat >"$dir/cni/10-taskstream.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "taskstream", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$dir/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  # The kubelet serves on the node's address (the API server reaches it for logs and exec) and
  # accepts only client certificates of this cluster's CA.
  cat >"$dir/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: $kport
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
podLogsDir: $dir/pod-logs
podCIDR: $POD_CIDR
clusterDNS: [$CLUSTER_DNS]
clusterDomain: $CLUSTER_DOMAIN
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
}

node() { # dir: containerd (Debian's, with runc), the bridge CNI, controller-manager, scheduler, kubelet
  local dir cmd ip pki
  dir="$(cd "$1" && pwd)"
  pki="$dir/pki"
  [[ -f "$dir/kubeconfig" ]] || die "no cluster in $dir (infra/local/kube.sh up $dir)"
  for cmd in kube-controller-manager kube-scheduler kubelet; do
    is_built "$cmd" || die "$cmd is not built (infra/local/kube.sh build $cmd)"
  done
  for cmd in containerd runc buildah podman ctr; do
    command -v "$cmd" >/dev/null \
      || die "$cmd is not installed (Debian: apt-get install containerd runc buildah podman containernetworking-plugins)"
  done
  ip="$(node_ip)"
  [[ -n "$ip" ]] || die "no IPv4 address with a default route for the node"
  mkdir -p "$dir/containerd" "$dir/cni" "$dir/kubelet" "$dir/pod-logs"
  # The pods' bridge, made before the first pod so that `postgres` can listen on its address.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  write_node_config "$dir" "$ip" "$(free_port)"
  start_daemon "$dir" containerd containerd --config "$dir/containerd/config.toml"
  wait_ready "containerd" 30 ctr --address "$dir/containerd/containerd.sock" version \
    || { tail -20 "$dir/logs/containerd.log" >&2; die "containerd did not start (log: $dir/logs/containerd.log)"; }
  pause_image "$dir"
  start_daemon "$dir" kube-controller-manager "$HOME_DIR/bin/kube-controller-manager" \
    --kubeconfig "$dir/kubeconfig" --authentication-kubeconfig "$dir/kubeconfig" \
    --authorization-kubeconfig "$dir/kubeconfig" --leader-elect=false --bind-address 127.0.0.1 \
    --secure-port "$(free_port)" --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
    --cluster-signing-key-file "$pki/ca.key" --service-cluster-ip-range "$SERVICE_CIDR" \
    --use-service-account-credentials=true
  start_daemon "$dir" kube-scheduler "$HOME_DIR/bin/kube-scheduler" \
    --kubeconfig "$dir/kubeconfig" --authentication-kubeconfig "$dir/kubeconfig" \
    --authorization-kubeconfig "$dir/kubeconfig" --leader-elect=false --bind-address 127.0.0.1 \
    --secure-port "$(free_port)"
  start_daemon "$dir" kubelet "$HOME_DIR/bin/kubelet" --config "$dir/kubelet/config.yaml" \
    --kubeconfig "$dir/kubeconfig" --root-dir "$dir/kubelet/root" --cert-dir "$dir/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$ip"
  wait_ready "node $NODE_NAME" "$READY_TIMEOUT" "$HOME_DIR/bin/kubectl" --kubeconfig "$dir/kubeconfig" \
    wait --for condition=Ready --timeout=5s "node/$NODE_NAME" \
    || { tail -30 "$dir/logs/kubelet.log" >&2; die "the node did not become Ready (log: $dir/logs/kubelet.log)"; }
}

# PostgreSQL for the pods, in place of the chart's in-cluster one (its postgres:18 image cannot be
# pulled here): Debian's server on the bridge's address, and the Secret whose database-url
# names it (dev-secrets.sh then adds the rest and leaves this one alone).
# PostgreSQL's files of the cluster in dir: below it, unless the postgres user cannot enter it (a
# CLUSTER_DIR in root's 0700 home), then in a directory of its own named after dir.
pg_dir() { # dir
  if runuser -u postgres -- test -x "$1"; then echo "$1/pg"
  else echo "/var/lib/postgresql/taskstream-cluster-$(printf '%s' "$1" | sha256sum | cut -c1-12)"; fi
}

postgres() { # dir
  local dir password data pg
  dir="$(cd "$1" && pwd)"
  pg="$(pg_dir "$dir")"
  data="$pg/data"
  [[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL is not installed in $PG_BIN (Debian: apt-get install postgresql)"
  ip -4 addr show "$BRIDGE" 2>/dev/null | grep -q "$BRIDGE_IP/" || die "no bridge $BRIDGE: start the node first"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    mkdir -p "$pg" && chown postgres:postgres "$pg" && chmod 0700 "$pg"
    head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$pg/password"
    chown postgres "$pg/password" && chmod 0600 "$pg/password"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -U taskstream --pwfile "$pg/password" \
      --auth scram-sha-256 >"$dir/logs/initdb.log" 2>&1 || die "initdb failed (log: $dir/logs/initdb.log)"
    echo "host all all $POD_CIDR scram-sha-256" >>"$data/pg_hba.conf"
  fi
  password="$(cat "$pg/password")"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1 || # `install` again
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$pg/server.log" -w \
      -o "-h $BRIDGE_IP -p 5432 -k $pg" start >/dev/null || die "PostgreSQL did not start (log: $pg/server.log)"
  PGPASSWORD="$password" "$PG_BIN/psql" -h "$BRIDGE_IP" -U taskstream -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'taskstream'" | grep -q 1 ||
    PGPASSWORD="$password" "$PG_BIN/psql" -h "$BRIDGE_IP" -U taskstream -d postgres -qc "CREATE DATABASE taskstream"
  local kubectl=("$HOME_DIR/bin/kubectl" --kubeconfig "$dir/kubeconfig")
  "${kubectl[@]}" get namespace taskstream >/dev/null 2>&1 || "${kubectl[@]}" create namespace taskstream >&2
  "${kubectl[@]}" -n taskstream get secret taskstream-secrets >/dev/null 2>&1 ||
    "${kubectl[@]}" -n taskstream create secret generic taskstream-secrets >&2 \
      --from-literal=database-url="postgresql://taskstream:$password@$BRIDGE_IP:5432/taskstream" \
      --from-literal=dapr-state-connection-string="host=$BRIDGE_IP port=5432 user=taskstream password=$password database=taskstream sslmode=disable" \
      --from-literal=jwt-secret="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  log "PostgreSQL on $BRIDGE_IP:5432 (data: $data), Secret taskstream/taskstream-secrets names it"
}

# The chart with the Minikube values, as docs/deploy/minikube.md installs it, except: PostgreSQL
# from `postgres` and Kafka from `kafka` (the StatefulSet's broker, its users' Secrets made there),
# as Strimzi's operator and the chart's postgres image cannot be pulled here. With `dapr` run
# first, the pods get daprd sidecars. `kafka` renders the chart's KafkaUsers with the same arguments.
CHART_ARGS=(taskstream "$REPO/infra/helm/taskstream" --namespace taskstream
  --values "$REPO/infra/helm/taskstream/values-minikube.yaml" --set postgresql.enabled=false
  --set dapr.pubsub.brokers="kafka-0.kafka.kafka.svc.cluster.local:9092")
install() { # dir
  local dir env
  dir="$(cd "$1" && pwd)"
  env=(env KUBECONFIG="$dir/kubeconfig" PATH="$HOME_DIR/bin:$PATH")
  crds "$dir"
  "${env[@]}" kubectl get namespace kafka >/dev/null 2>&1 || "${env[@]}" kubectl create namespace kafka >&2
  postgres "$dir"
  "${env[@]}" bash "$REPO/infra/helm/dev-secrets.sh" taskstream >&2
  bash "$REPO/infra/k8s-validate/install-tools.sh" >/dev/null
  "${env[@]}" "$CACHE/tools/bin/helm" upgrade --install "${CHART_ARGS[@]}" --wait --timeout 10m >&2
  "${env[@]}" kubectl -n taskstream get pods -o wide >&2
}

load() { # dir: the project's images from podman's store into the node's containerd
  local dir name
  dir="$(cd "$1" && pwd)"
  for name in gateway recurrence notifications audit; do
    import_image "$dir" "$IMAGE_REGISTRY/taskstream-$name:$IMAGE_TAG"
  done
}

# ------------------------------------------------------- networking and Dapr (stage 3) --------
# Cluster DNS and Service routing, run beside the control plane as host processes like the rest of
# it: CoreDNS (kube/coredns, from the Go module proxy) answers cluster.local from the API server on
# the bridge's address, which the kubelet gives pods as their nameserver; kube-proxy (built from
# k8s.io/kubernetes) programs iptables so that ClusterIPs reach the pods. Then Kafka (a KRaft
# StatefulSet from the Maven Central jars) in the cluster, and the Dapr control plane from the
# chart in the github.com/dapr/dapr module with images of its own Go commands.
CLUSTER_DNS="$BRIDGE_IP"
CLUSTER_DOMAIN="cluster.local"
DAPR_VERSION="$(awk '$1 == "github.com/dapr/dapr" { sub(/^v/, "", $2); print $2; exit }' "$HERE/daprd/go.mod")"
DAPR_HOME="$CACHE/dapr-$DAPR_VERSION"
DAPR_REGISTRY="localhost/dapr"
DAPR_CONTROL=(operator sentry injector placement)

coredns_fingerprint() { cat "$HERE/kube/coredns/go.mod" "$HERE/kube/coredns/go.sum" "$HERE/kube/coredns/main.go" | sha256sum | cut -c1-16; }
dapr_fingerprint() { cat "$HERE/daprd/go.mod" "$HERE/daprd/go.sum" | sha256sum | cut -c1-16; }

# A static Go build, cached by the fingerprint of its inputs: name, stamp file, fingerprint, module
# directory to copy, output, packages.
go_build_cached() {
  local name="$1" stamp="$2" fp="$3" src="$4" out="$5" start go
  shift 5
  if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$fp" ]]; then
    log "$name: cached in $out"
    return
  fi
  go="$(find_go)" || die "go not found: building $name needs Go >= 1.24 (on PATH or in /usr/local/go)"
  log "$name: building with $("$go" env GOVERSION) (niced; cold: several minutes on 2 busy cores)"
  start=$SECONDS
  mkdir -p "$(dirname "$out")" "$(dirname "$stamp")" "$stamp.src"
  # The build runs in a copy, so the repository's go.mod/go.sum are never rewritten.
  cp "$src"/go.mod "$src"/go.sum "$stamp.src/"
  [[ ! -f "$src/main.go" ]] || cp "$src/main.go" "$stamp.src/"
  (
    cd "$stamp.src"
    export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
    if (($# > 1)); then # several commands: go build writes each into the directory $out
      mkdir -p "$out"
      nice -n 10 "$go" build -trimpath -ldflags "-s -w $LDFLAGS_EXTRA" -o "$out/" "$@"
    else
      nice -n 10 "$go" build -trimpath -ldflags "-s -w $LDFLAGS_EXTRA" -o "$out.tmp" "$@" && mv "$out.tmp" "$out"
    fi
  ) || die "go build of $name failed (see the output above)"
  printf '%s' "$fp" >"$stamp"
  log "$name: built in $((SECONDS - start))s"
}

build_coredns() {
  mkdir -p "$HOME_DIR/bin" "$HOME_DIR/stamps"
  exec 9>"$HOME_DIR/.lock"
  flock 9
  LDFLAGS_EXTRA="" go_build_cached "coredns ($(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$HERE/kube/coredns/go.mod"))" \
    "$HOME_DIR/stamps/coredns" "$(coredns_fingerprint)" "$HERE/kube/coredns" "$HOME_DIR/bin/coredns" .
}

# The control plane's commands from the same module graph as daprd (infra/local/daprd/go.mod and
# its replaces), so sidecar and control plane are one version. The scheduler is not built: its
# dependency github.com/diagridio/go-etcd-cron v0.9.2 is refused by the Go module proxy (403).
build_dapr() {
  local cmd pkgs=()
  "$REPO/infra/local/provision.sh" daprd >&2
  mkdir -p "$DAPR_HOME/control"
  exec 8>"$DAPR_HOME/control/.lock"
  flock 8
  for cmd in "${DAPR_CONTROL[@]}"; do pkgs+=("github.com/dapr/dapr/cmd/$cmd"); done
  LDFLAGS_EXTRA="-X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION" \
    go_build_cached "dapr control plane $DAPR_VERSION (${DAPR_CONTROL[*]})" "$DAPR_HOME/control/stamp" \
    "$(dapr_fingerprint)" "$HERE/daprd" "$DAPR_HOME/control/bin" "${pkgs[@]}"
}

daprd_binary() { "$REPO/infra/local/provision.sh" daprd 2>/dev/null | sed -n 's/^DAPRD=//p' | tail -1; }

# One image per Dapr command, as upstream ships them (the binary at /<command>, user nonroot
# 65532:65532), made by buildah from scratch: the binaries are static. The passwd and group files
# matter: the pods set runAsUser only, the group comes from the image's /etc/passwd (else 0), and
# Dapr refuses to run as anything but 65532:65532.
dapr_images() { # dir
  local dir cmd bin c image daprd
  dir="$(cd "$1" && pwd)"
  build_dapr
  daprd="$(daprd_binary)"
  [[ -x "$daprd" ]] || die "no daprd binary (infra/local/provision.sh daprd)"
  for cmd in "${DAPR_CONTROL[@]}" daprd; do
    image="$DAPR_REGISTRY/$cmd:$DAPR_VERSION"
    if [[ "$cmd" == daprd ]]; then bin="$daprd"; else bin="$DAPR_HOME/control/bin/$cmd"; fi
    # Rebuilt only when the binary or this recipe changed: the image's label records both.
    local sum
    sum="$( (sha256sum "$bin"; declare -f dapr_images) | sha256sum | cut -c1-16)"
    if [[ "$(podman image inspect --format '{{ index .Labels "taskstream.binary" }}' "$image" 2>/dev/null)" != "$sum" ]]; then
      c="$(buildah from scratch)"
      buildah copy --chmod 0755 "$c" "$bin" "/$cmd" >/dev/null
      buildah copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
      printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/passwd"
      printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/group"
      buildah copy "$c" "$dir/passwd" /etc/passwd >/dev/null
      buildah copy "$c" "$dir/group" /etc/group >/dev/null
      buildah config --entrypoint "[\"/$cmd\"]" --user 65532:65532 --label "taskstream.binary=$sum" "$c"
      buildah commit --quiet "$c" "$image" >/dev/null
      buildah rm "$c" >/dev/null
      log "image $image: built from $bin"
    fi
    import_image "$dir" "$image"
  done
}

# CoreDNS and kube-proxy on the host. The API server reaches webhooks (Dapr's injector and its
# CRD conversion) by endpoint (--enable-aggregator-routing), so it does not depend on either.
network() { # dir
  local dir health ready
  dir="$(cd "$1" && pwd)"
  is_built kube-proxy || die "kube-proxy is not built (infra/local/kube.sh build kube-proxy)"
  [[ -x "$HOME_DIR/bin/coredns" ]] || die "coredns is not built (infra/local/kube.sh build-coredns)"
  ip -4 addr show "$BRIDGE" 2>/dev/null | grep -q "$BRIDGE_IP/" || die "no bridge $BRIDGE: start the node first"
  # A pod's packet to a Service's pod on the same bridge must pass iptables to be un-NATed.
  [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" == 1 ]] \
    || echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables \
    || die "net.bridge.bridge-nf-call-iptables is not 1 and cannot be set (br_netfilter)"
  health="$(free_port)" ready="$(free_port)"
  mkdir -p "$dir/coredns"
  cat >"$dir/coredns/Corefile" <<EOF
.:53 {
    bind $CLUSTER_DNS
    errors
    health 127.0.0.1:$health
    ready 127.0.0.1:$ready
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $dir/kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
EOF
  start_daemon "$dir" coredns "$HOME_DIR/bin/coredns" -conf "$dir/coredns/Corefile"
  wait_ready "CoreDNS on $CLUSTER_DNS:53" 60 curl -fsS "http://127.0.0.1:$ready/ready" \
    || { tail -20 "$dir/logs/coredns.log" >&2; die "CoreDNS not ready (log: $dir/logs/coredns.log)"; }
  # The conntrack and route_localnet settings are the machine's: kube-proxy leaves them alone (0),
  # and NodePorts listen on the node's address only.
  start_daemon "$dir" kube-proxy "$HOME_DIR/bin/kube-proxy" --kubeconfig "$dir/kubeconfig" \
    --hostname-override "$NODE_NAME" --cluster-cidr "$POD_CIDR" --proxy-mode iptables \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
    --conntrack-tcp-timeout-close-wait 0 --nodeport-addresses primary \
    --iptables-localhost-nodeports=false --healthz-bind-address "127.0.0.1:$(free_port)" \
    --metrics-bind-address "127.0.0.1:$(free_port)"
  wait_ready "kube-proxy (kubernetes Service routed)" 60 sh -c \
    "iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q 'default/kubernetes:https'" \
    || { tail -20 "$dir/logs/kube-proxy.log" >&2; die "kube-proxy did not program the Services (log: $dir/logs/kube-proxy.log)"; }
}

# Kafka in the cluster, in place of Strimzi's (its operator image cannot be pulled and is not on
# Maven Central): one KRaft node as a plain StatefulSet (kafka/statefulset.yaml), from an image
# made by buildah of the jars the stack uses (Maven Central, provision.sh kafka), a Java runtime
# jlinked from the host's Debian JDK, and kafka/start.sh, on the project's Debian base.
KAFKA_IMAGE="localhost/taskstream-kafka:4.1.1"
# The Java modules Kafka 4.1 and its jars use (jdeps); the runtime is about a third of the JDK.
KAFKA_JAVA_MODULES="java.se,jdk.unsupported,jdk.management,jdk.crypto.ec,jdk.naming.dns,jdk.security.auth,jdk.security.jgss,jdk.zipfs"

kafka_runtime() { # prints the jlinked runtime's directory, made once
  local jdk runtime
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  [[ -x "$jdk/bin/jlink" && -d "$jdk/jmods" ]] || die "no jlink/jmods in $jdk: apt-get install openjdk-17-jdk-headless"
  runtime="$CACHE/kafka-java-$("$jdk/bin/java" -version 2>&1 | sed -n '1s/.*"\(.*\)".*/\1/p')"
  if [[ ! -x "$runtime/bin/java" ]]; then
    rm -rf "$runtime"
    nice -n 10 "$jdk/bin/jlink" --add-modules "$KAFKA_JAVA_MODULES" --strip-debug --no-man-pages \
      --no-header-files --output "$runtime" >&2
  fi
  echo "$runtime"
}

# kafka-tools (TopicCommand, AclCommand for grant.sh), for the image only: the stack's brokers
# (provision.sh kafka, shared by every checkout) need none of it. Without its dependencies: the
# ones the commands use are in the broker's libs, and connect-runtime (Jetty and more) is not used.
kafka_tools_jar() { # kafka home: prints the jar, resolved once from Maven Central
  local version="${1##*/kafka-}" out
  out="$CACHE/kafka-tools-$version/kafka-tools-$version.jar"
  if [[ ! -s "$out" ]]; then
    mvn -q -B -Dmaven.repo.local="$CACHE/m2" dependency:copy \
      -Dartifact="org.apache.kafka:kafka-tools:$version" -DoutputDirectory="$(dirname "$out")" >&2 \
      || die "mvn could not resolve org.apache.kafka:kafka-tools:$version (is Maven Central reachable?)"
  fi
  echo "$out"
}

kafka_image() { # dir: build (when an input changed) and import the Kafka image
  local dir home runtime tools sum c
  dir="$(cd "$1" && pwd)"
  home="$("$REPO/infra/local/provision.sh" kafka | sed -n 's/^KAFKA_HOME=//p' | tail -1)"
  [[ -d "$home/libs" ]] || die "no Kafka in $home (infra/local/provision.sh kafka)"
  runtime="$(kafka_runtime)"
  tools="$(kafka_tools_jar "$home")"
  sum="$( (ls "$home/libs" "$runtime" "$tools"; cat "$HERE/kafka/start.sh" "$HERE/kafka/grant.sh" "$home/config/log4j2.properties"; declare -f kafka_image) | sha256sum | cut -c1-16)"
  if [[ "$(podman image inspect --format '{{ index .Labels "taskstream.inputs" }}' "$KAFKA_IMAGE" 2>/dev/null)" != "$sum" ]]; then
    "$REPO/docker/base/make-bases.sh" >&2
    c="$(buildah from localhost/taskstream-base-python:bookworm)"
    buildah copy "$c" "$runtime" /opt/java >/dev/null
    buildah copy "$c" "$home/libs" /opt/kafka/libs >/dev/null
    buildah copy "$c" "$tools" /opt/kafka/libs/ >/dev/null
    buildah copy --chmod 0755 "$c" "$HERE/kafka/grant.sh" /opt/kafka/grant.sh >/dev/null
    buildah copy "$c" "$home/config/log4j2.properties" /opt/kafka/config/log4j2.properties >/dev/null
    buildah copy --chmod 0755 "$c" "$HERE/kafka/start.sh" /opt/kafka/start.sh >/dev/null
    buildah config --entrypoint '["/opt/kafka/start.sh"]' --cmd '' --user 10002:10002 \
      --label "taskstream.inputs=$sum" "$c"
    buildah commit --quiet "$c" "$KAFKA_IMAGE" >/dev/null
    buildah rm "$c" >/dev/null
    log "image $KAFKA_IMAGE: built"
  fi
  import_image "$dir" "$KAFKA_IMAGE"
}

# In place of Strimzi's User and Topic Operators: the plan (kafka/users.py) of the KafkaUsers the
# chart renders with the install's values and of infra/strimzi/minikube/topics.yaml.
kafka_plan() {
  local rendered
  bash "$REPO/infra/k8s-validate/install-tools.sh" >/dev/null
  rendered="$("$CACHE/tools/bin/helm" template "${CHART_ARGS[@]}" --show-only templates/kafkausers.yaml 2>&1)" \
    || die "the chart renders no KafkaUser (values-minikube.yaml must keep dapr.pubsub.authType: scram; the local Kafka refuses unauthenticated clients): $rendered"
  "$CACHE/tools/bin/tools-python" "$HERE/kafka/users.py" "$REPO/infra/strimzi/minikube/topics.yaml" <<<"$rendered"
}

secret_value() { # dir namespace secret key: the decoded value, or nothing (no such Secret)
  local encoded
  encoded="$("$HOME_DIR/bin/kubectl" --kubeconfig "$1/kubeconfig" -n "$2" get secret "$3" -o "jsonpath={.data.$4}" 2>/dev/null)" || return 0
  base64 -d <<<"$encoded"
}

random_password() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

# What Strimzi's User Operator writes: per KafkaUser a Secret of its name in the release's
# namespace, key `password` (its pub/sub component's secretKeyRef), kept across runs; and for the
# broker, the Secret kafka-users (file name = user, content = password; `admin` its own).
kafka_users() { # dir plan
  local dir="$1" plan="$2" users kind name password kubectl=("$HOME_DIR/bin/kubectl" --kubeconfig "$1/kubeconfig")
  users="$(mktemp -d "$dir/kafka-users.XXXXXX")"
  password="$(secret_value "$dir" kafka kafka-users admin)"
  printf '%s' "${password:-$(random_password)}" >"$users/admin"
  while read -r kind name _; do
    [[ "$kind" == user ]] || continue
    password="$(secret_value "$dir" taskstream "$name" password)"
    if [[ -z "$password" ]]; then
      password="$(random_password)"
      "${kubectl[@]}" -n taskstream create secret generic "$name" --from-literal=password="$password" >&2
      "${kubectl[@]}" -n taskstream label secret "$name" strimzi.io/kind=KafkaUser strimzi.io/cluster=taskstream >&2
    fi
    printf '%s' "$password" >"$users/$name"
  done <<<"$plan"
  "${kubectl[@]}" -n kafka create secret generic kafka-users --from-file="$users" --dry-run=client -o yaml |
    "${kubectl[@]}" apply -f - >&2
  log "Kafka users: admin $(awk '$1 == "user" { printf "%s ", $2 }' <<<"$plan")(Secret kafka/kafka-users; each service's in taskstream/<user>)"
  rm -rf "$users"
}

kafka() { # dir: the users' Secrets, the StatefulSet and its volume below DIR, ready; topics, ACLs
  local dir env data plan ns
  dir="$(cd "$1" && pwd)"
  env=(env KUBECONFIG="$dir/kubeconfig" PATH="$HOME_DIR/bin:$PATH")
  kafka_image "$dir"
  plan="$(kafka_plan)"
  data="$dir/kafka-data"
  mkdir -p "$data" && chown 10002:10002 "$data" && chmod 0700 "$data"
  for ns in kafka taskstream; do
    "${env[@]}" kubectl get namespace "$ns" >/dev/null 2>&1 || "${env[@]}" kubectl create namespace "$ns" >&2
  done
  kafka_users "$dir" "$plan"
  sed "s|KAFKA_DATA|$data|" "$HERE/kafka/statefulset.yaml" | "${env[@]}" kubectl apply -f - >&2
  "${env[@]}" kubectl -n kafka rollout status statefulset/kafka --timeout=180s >&2 || {
    "${env[@]}" kubectl -n kafka logs kafka-0 --tail=20 >&2 || true
    die "the Kafka StatefulSet is not ready"
  }
  "${env[@]}" kubectl -n kafka exec -i kafka-0 -- /opt/kafka/grant.sh <<<"$plan" >&2 \
    || die "grant.sh could not create the topics and ACLs (kubectl -n kafka logs kafka-0)"
}

# The Dapr chart of the github.com/dapr/dapr module, with the images of dapr_images. Departures
# from upstream defaults, each for a reason of this machine: no scheduler (not buildable here,
# see build_dapr; only the Jobs API and actor reminders need it), placement's Raft log in memory
# (no volume provisioner), and sidecars that drop every capability (the taskstream namespace
# enforces Pod Security restricted, which refuses the default sidecar).
dapr() { # dir
  local dir env chart
  dir="$(cd "$1" && pwd)"
  env=(env KUBECONFIG="$dir/kubeconfig" PATH="$HOME_DIR/bin:$PATH")
  bash "$REPO/infra/k8s-validate/install-tools.sh" >/dev/null
  chart="$(go_module_dir github.com/dapr/dapr "v$DAPR_VERSION")/charts/dapr"
  [[ -f "$chart/Chart.yaml" ]] || die "no Dapr chart in $chart"
  "${env[@]}" "$CACHE/tools/bin/helm" upgrade --install dapr "$chart" --namespace dapr-system \
    --create-namespace --set global.registry="$DAPR_REGISTRY" --set global.tag="$DAPR_VERSION" \
    --set global.imagePullPolicy=Never --set dapr_sidecar_injector.sidecarImagePullPolicy=Never \
    --set global.mtls.enabled=true --set global.scheduler.enabled=false \
    --set dapr_placement.cluster.forceInMemoryLog=true \
    --set dapr_sidecar_injector.sidecarDropALLCapabilities=true --wait --timeout 5m >&2
  "${env[@]}" kubectl -n dapr-system get pods -o wide >&2
}

main() {
  case "${1:-}" in
    build) shift; build "$@" ;;
    built) built ;;
    images) images ;;
    node) (($# == 2)) || die "usage: $0 node DIR"; node "$2" ;;
    load) (($# == 2)) || die "usage: $0 load DIR"; load "$2" ;;
    postgres) (($# == 2)) || die "usage: $0 postgres DIR"; postgres "$2" ;;
    install) (($# == 2)) || die "usage: $0 install DIR"; install "$2" ;;
    up) (($# == 2)) || die "usage: $0 up DIR"; up "$2" ;;
    crds) (($# == 2)) || die "usage: $0 crds DIR"; crds "$2" ;;
    down) (($# == 2)) || die "usage: $0 down DIR"; down "$2" ;;
    build-coredns) build_coredns ;;
    build-dapr) build_dapr ;;
    dapr-images) (($# == 2)) || die "usage: $0 dapr-images DIR"; dapr_images "$2" ;;
    network) (($# == 2)) || die "usage: $0 network DIR"; network "$2" ;;
    kafka) (($# == 2)) || die "usage: $0 kafka DIR"; kafka "$2" ;;
    kafka-image) (($# == 2)) || die "usage: $0 kafka-image DIR"; kafka_image "$2" ;;
    dapr) (($# == 2)) || die "usage: $0 dapr DIR"; dapr "$2" ;;
    *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
}

# One compound command, read whole before it runs: editing this file mid-run cannot change it.
# Each step's time is printed (stderr), so `make cluster-up` shows where its minutes go.
report_step() { [[ "$1" == built ]] || log "step $1: $((SECONDS - STARTED))s"; }
{
  STARTED=$SECONDS
  trap 'report_step "${1:-help}"' EXIT
  main "$@"
  exit
}
