#!/usr/bin/env bash
# Provision the local infrastructure binaries that Taskstream runs for real (no Docker):
#   kafka  - Apache Kafka broker jars (KRaft mode) resolved from Maven Central by kafka/pom.xml
#   daprd  - the Dapr sidecar, built from the Go module github.com/dapr/dapr by daprd/go.mod
#   jaeger - Jaeger v2 (trace backend of `stack up --tracing`), built from the Go module
#            github.com/jaegertracing/jaeger (cmd/jaeger) at JAEGER_VERSION; not part of `all`
#   all    - kafka and daprd
#
# Everything goes to ${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}, never into the repo:
#   kafka-<version>/libs/*.jar, kafka-<version>/config/log4j2.properties
#   dapr-<version>/daprd
#   jaeger-<version>/jaeger
#   m2/  (the Maven local repository used for the Kafka jars)
# Go downloads use the normal Go module and build caches (go env GOMODCACHE / GOCACHE).
#
# Idempotent: a step whose output is already there (and was made from the same input files) is
# skipped. An existing daprd in ~/.dapr/bin or on PATH is used instead of building one, unless
# TASKSTREAM_DAPRD_BUILD=1. The last lines printed are KEY=path, e.g. KAFKA_HOME=..., DAPRD=...
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
GO_MIN="1.24.11" # the go directive of daprd/go.mod (dapr 1.16 needs it)

log() { printf '[provision] %s\n' "$*" >&2; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  echo "usage: $0 kafka|daprd|jaeger|all" >&2
  exit 2
}

# Input fingerprint, so that editing pom.xml / go.mod re-provisions.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Serialise concurrent provisioning of the same thing (e.g. parallel test workers).
with_lock() {
  local name="$1"
  shift
  mkdir -p "$CACHE"
  if command -v flock >/dev/null 2>&1; then
    (
      flock 9
      "$@"
    ) 9>"$CACHE/.$name.lock"
  else
    "$@"
  fi
}

kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml" | head -n1
}

dapr_version() {
  awk '$1 == "github.com/dapr/dapr" { sub(/^v/, "", $2); print $2; exit }' "$HERE/daprd/go.mod"
}

provision_kafka() {
  local version home fp
  version="$(kafka_version)"
  [[ -n "$version" ]] || die "cannot read <kafka.version> from $HERE/kafka/pom.xml"
  home="$CACHE/kafka-$version"
  fp="$(fingerprint "$HERE/kafka/pom.xml" "$HERE/kafka/log4j2.properties")"
  if [[ -f "$home/.complete" && "$(cat "$home/.complete")" == "$fp" ]]; then
    log "kafka $version: cached in $home"
  else
    command -v java >/dev/null 2>&1 ||
      die "java not found: Kafka $version needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
    command -v mvn >/dev/null 2>&1 ||
      die "mvn not found: Maven resolves the Kafka jars (Debian: apt-get install maven)"
    local java_major
    java_major="$(java -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
    if [[ -n "$java_major" && "$java_major" -lt 17 ]]; then
      die "java $java_major found, Kafka $version needs Java 17+"
    fi
    log "kafka $version: resolving jars from Maven Central (mvn, local repo $CACHE/m2)"
    rm -rf "$home/libs.tmp"
    mkdir -p "$home/config"
    mvn -q -B -f "$HERE/kafka/pom.xml" \
      -Dmaven.repo.local="$CACHE/m2" \
      dependency:copy-dependencies \
      -DincludeScope=runtime \
      -DoutputDirectory="$home/libs.tmp" 2>&1 |
      sed -e $'s/\x1b\\[[0-9;]*m//g' -e '/^$/d' >&2 ||
      die "mvn failed to resolve the Kafka jars (is Maven Central reachable?)"
    [[ -f "$home/libs.tmp/kafka_2.13-$version.jar" ]] ||
      die "kafka_2.13-$version.jar missing after mvn dependency:copy-dependencies"
    rm -rf "$home/libs"
    mv "$home/libs.tmp" "$home/libs"
    cp "$HERE/kafka/log4j2.properties" "$home/config/log4j2.properties"
    echo "$fp" >"$home/.complete"
    log "kafka $version: $(find "$home/libs" -name '*.jar' | wc -l) jars in $home/libs"
  fi
  echo "KAFKA_HOME=$home"
}

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

existing_daprd() {
  [[ "${TASKSTREAM_DAPRD_BUILD:-0}" == "1" ]] && return 1
  if [[ -x "$HOME/.dapr/bin/daprd" ]]; then
    echo "$HOME/.dapr/bin/daprd"
  elif command -v daprd >/dev/null 2>&1; then
    command -v daprd
  else
    return 1
  fi
}

provision_daprd() {
  local version home fp existing
  if existing="$(existing_daprd)"; then
    log "daprd: using the installed $existing"
    echo "DAPRD=$existing"
    return 0
  fi
  version="$(dapr_version)"
  [[ -n "$version" ]] || die "cannot read the github.com/dapr/dapr version from $HERE/daprd/go.mod"
  home="$CACHE/dapr-$version"
  local tags="stablecomponents"
  local ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$version"
  ldflags+=" -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$version"
  fp="$(fingerprint "$HERE/daprd/go.mod" "$HERE/daprd/go.sum" "$HERE/daprd/main.go" \
    <(echo "tags=$tags ldflags=$ldflags"))"
  if [[ -x "$home/daprd" && -f "$home/.complete" && "$(cat "$home/.complete")" == "$fp" ]]; then
    log "daprd $version: cached in $home"
  else
    local go gov
    go="$(find_go)" ||
      die "go not found: building daprd $version needs Go >= $GO_MIN (on PATH or in /usr/local/go)"
    gov="$("$go" env GOVERSION)"
    gov="${gov#go}"
    if ! printf '%s\n%s\n' "$GO_MIN" "$gov" | sort -V -C; then
      die "go $gov found, building daprd $version needs Go >= $GO_MIN"
    fi
    log "daprd $version: building from github.com/dapr/dapr with go $gov (-tags $tags; a cold build takes several minutes)"
    mkdir -p "$home/src"
    cp "$HERE/daprd/go.mod" "$HERE/daprd/go.sum" "$HERE/daprd/main.go" "$home/src/"
    local start=$SECONDS
    (
      cd "$home/src"
      export GOTOOLCHAIN=local GOFLAGS="-mod=mod" CGO_ENABLED=0
      local nice=()
      if command -v nice >/dev/null 2>&1; then nice=(nice -n "${TASKSTREAM_BUILD_NICE:-10}"); fi
      "${nice[@]}" "$go" build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$home/daprd.tmp" .
    ) || die "go build of daprd $version failed (see the output above)"
    mv "$home/daprd.tmp" "$home/daprd"
    echo "$fp" >"$home/.complete"
    log "daprd $version: built in $((SECONDS - start))s, $(du -h "$home/daprd" | cut -f1)"
  fi
  echo "DAPRD=$home/daprd"
}

# Keep in step with JAEGER_VERSION in devstack/jaeger.py.
JAEGER_VERSION="1.76.0"

provision_jaeger() {
  local home fp go dir
  home="$CACHE/jaeger-$JAEGER_VERSION"
  fp="jaeger $JAEGER_VERSION cmd/jaeger CGO_ENABLED=0"
  if [[ -x "$home/jaeger" && -f "$home/.complete" && "$(cat "$home/.complete")" == "$fp" ]]; then
    log "jaeger $JAEGER_VERSION: cached in $home"
  else
    go="$(find_go)" || die "go not found: building jaeger $JAEGER_VERSION needs Go (on PATH or in /usr/local/go)"
    log "jaeger $JAEGER_VERSION: building from github.com/jaegertracing/jaeger (a cold build takes many minutes)"
    # Built inside the module's own directory: its go.mod has a replace directive, which
    # `go install module@version` refuses.
    dir="$(GOFLAGS=-mod=mod "$go" mod download -json "github.com/jaegertracing/jaeger@v$JAEGER_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" ]] || die "go mod download of github.com/jaegertracing/jaeger@v$JAEGER_VERSION failed"
    mkdir -p "$home"
    local start=$SECONDS
    (
      cd "$dir"
      export GOTOOLCHAIN=local CGO_ENABLED=0
      local nice=()
      if command -v nice >/dev/null 2>&1; then nice=(nice -n "${TASKSTREAM_BUILD_NICE:-10}"); fi
      "${nice[@]}" "$go" build -trimpath -ldflags "-s -w" -o "$home/jaeger.tmp" ./cmd/jaeger
    ) || die "go build of jaeger $JAEGER_VERSION failed (see the output above)"
    mv "$home/jaeger.tmp" "$home/jaeger"
    echo "$fp" >"$home/.complete"
    log "jaeger $JAEGER_VERSION: built in $((SECONDS - start))s, $(du -h "$home/jaeger" | cut -f1)"
  fi
  echo "JAEGER=$home/jaeger"
}

[[ $# -eq 1 ]] || usage
case "$1" in
  kafka) with_lock kafka provision_kafka ;;
  daprd) with_lock daprd provision_daprd ;;
  jaeger) with_lock jaeger provision_jaeger ;;
  all)
    with_lock kafka provision_kafka
    with_lock daprd provision_daprd
    ;;
  *) usage ;;
esac
