#!/usr/bin/env bash
# Debian packages the tests use beyond Python and Java: the Docker Engine (docker.io) and
# debootstrap for the docker-backend test, docker-compose to validate docker-compose.yaml, and
# PostgreSQL's initdb/pg_ctl for the Postgres-backed stack test, and headless Chromium with its
# driver for the browser checks (the drift report, the stack's UIs). Installed with apt-get
# when missing (needs root).
set -euo pipefail
declare -A needs=([dockerd]=docker.io [debootstrap]=debootstrap [docker-compose]=docker-compose
                 [chromium]=chromium [chromedriver]=chromium-driver)
missing=()
for command in "${!needs[@]}"; do
  command -v "$command" >/dev/null || missing+=("${needs[$command]}")
done
if ! command -v pg_ctl >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "error: the tests need Debian packages ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
  >/tmp/dlexplain-apt.log 2>&1 || { tail -n 20 /tmp/dlexplain-apt.log; exit 1; }
