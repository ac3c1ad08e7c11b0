#!/usr/bin/env bash
# Creates the Secrets the Taskstream chart references, for a development cluster (Minikube,
# kind, Tilt), with random values, once: existing Secrets are left alone so that tokens and the
# database keep working across runs. Production secrets are made from Terraform outputs
# (docs/deploy/cloud.md), never by this script.
#   infra/helm/dev-secrets.sh [NAMESPACE]        (default: taskstream)
set -euo pipefail
NS="${1:-taskstream}"
kubectl get namespace "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS"
# Pod Security "restricted" for everything in the namespace.
kubectl label --overwrite namespace "$NS" \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null

rand() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "${1:-40}"; }
exists() { kubectl -n "$NS" get secret "$1" >/dev/null 2>&1; }

if ! exists taskstream-postgres; then
  kubectl -n "$NS" create secret generic taskstream-postgres \
    --from-literal=POSTGRES_USER=taskstream --from-literal=POSTGRES_PASSWORD="$(rand 32)"
fi
PGUSER="$(kubectl -n "$NS" get secret taskstream-postgres -o jsonpath='{.data.POSTGRES_USER}' | base64 -d)"
PGPASS="$(kubectl -n "$NS" get secret taskstream-postgres -o jsonpath='{.data.POSTGRES_PASSWORD}' | base64 -d)"
# The release is called "taskstream" in the docs and the Tiltfile: its PostgreSQL Service is
# taskstream-postgresql.
PGHOST="taskstream-postgresql.$NS.svc"
if ! exists taskstream-secrets; then
  kubectl -n "$NS" create secret generic taskstream-secrets \
    --from-literal=database-url="postgresql://$PGUSER:$PGPASS@$PGHOST:5432/taskstream" \
    --from-literal=dapr-state-connection-string="host=$PGHOST port=5432 user=$PGUSER password=$PGPASS database=taskstream sslmode=disable" \
    --from-literal=jwt-secret="$(rand 64)"
fi
for name in taskstream-dapr-app-token taskstream-dapr-api-token; do
  exists "$name" || kubectl -n "$NS" create secret generic "$name" --from-literal=token="$(rand 40)"
done
echo "secrets ready in namespace $NS"
