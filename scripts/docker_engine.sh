#!/usr/bin/env bash
# The Docker Engine the docker-backend tests use: reuse one that answers, else start dockerd
# (as root, the way these machines allow: vfs storage, no iptables, no bridge; containers use
# host networking). Installs Debian's docker.io and debootstrap when missing and apt is there.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: the docker tests need ${missing[*]} (apt-get install ${missing[*]}) and root" >&2
    exit 1
  fi
  echo "installing ${missing[*]} from Debian's packages"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
    >/tmp/dlexplain-apt.log 2>&1 || { tail -n 20 /tmp/dlexplain-apt.log; exit 1; }
fi
docker_cli() { command -v docker >/dev/null && docker "$@"; }
if docker_cli info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: no Docker Engine answers and only root can start dockerd here" >&2
  exit 1
fi
mkdir -p .dlexplain
log=$PWD/.dlexplain/dockerd.log
echo "starting dockerd (log: $log)"
setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >"$log" 2>&1 </dev/null &
for _ in $(seq 60); do
  if docker_cli info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "error: dockerd did not answer within 60 s:" >&2
tail -n 30 "$log" >&2
exit 1
