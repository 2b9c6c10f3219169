#!/usr/bin/env bash
# The Docker Engine the docker-backend tests use: reuse one that answers, else start dockerd
# (as root, the way these machines allow: overlay2 storage, no iptables, no bridge; containers use
# host networking). Missing Debian packages come from scripts/system_packages.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system_packages.sh
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
setsid nohup dockerd --storage-driver=overlay2 --iptables=false --bridge=none >"$log" 2>&1 </dev/null &
for _ in $(seq 60); do
  if docker_cli info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "error: dockerd did not answer within 60 s:" >&2
tail -n 30 "$log" >&2
exit 1
