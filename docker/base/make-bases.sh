#!/usr/bin/env bash
# Base images made here from Debian packages, for machines that reach no container registry:
#   taskstream-base-python:bookworm   Debian 12 (debootstrap, minbase) + python3, venv, pip
#   taskstream-base-node:bookworm     the same + the host's Node.js (Debian 12's is too old for
#                                     web/: vite needs >= 20.19)
# docker/Dockerfile takes them as --build-arg PYTHON_IMAGE=... NODE_IMAGE=...; where Docker Hub
# is reachable the default python/node images are used instead.
# Made once and cached in podman's store (`--force` remakes them). Needs root, podman, and
# debootstrap (Debian packages). The host's CA bundle goes into the images so that pip and npm
# reach their registries through the same TLS setup the host uses.
#   docker/base/make-bases.sh [--force]
set -euo pipefail
PY=localhost/taskstream-base-python:bookworm
NODE=localhost/taskstream-base-node:bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ "${1:-}" != "--force" ] && podman image exists "$PY" && podman image exists "$NODE"; then
  echo "bases cached: $PY $NODE"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "==> debootstrap bookworm (minbase) into $rootfs"
debootstrap --variant=minbase \
  --include=python3,python3-venv,python-is-python3,ca-certificates,libstdc++6 \
  bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log"; exit 1; }
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$PY" >/dev/null
echo "==> $PY"
# Node.js: the host's binary and its npm, on top of the Python base.
node_root="$work/node"
mkdir -p "$node_root/usr/bin" "$node_root/usr/lib/node_modules"
cp -a "$(command -v node)" "$node_root/usr/bin/node"
cp -a /usr/lib/node_modules/npm "$node_root/usr/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$node_root/usr/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$node_root/usr/bin/npx"
cat >"$work/Containerfile" <<DF
FROM $PY
COPY node/ /
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
DF
podman build --quiet --network=host -t "$NODE" -f "$work/Containerfile" "$work" >/dev/null
# runc refuses podman's default rlimits here ("error setting rlimits"): explicit ones.
echo "==> $NODE ($(podman run --rm --network=none --runtime runc \
  --ulimit nofile=16384:16384 --ulimit nproc=8192:8192 "$NODE" node --version))"
