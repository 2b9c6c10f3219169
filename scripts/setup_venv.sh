#!/usr/bin/env bash
# Create .venv with the exact pins of requirements.lock and the project (editable). Idempotent:
# skipped when the stamp is newer than the lock and pyproject.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt requirements.lock ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found; install Python 3.11" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet "uv==0.13.9"
source scripts/find_links.sh
echo "installing requirements.lock into .venv (first time: several minutes)"
# `install`, not `sync`: where no local CPU torch wheel exists, torch's own dependencies resolve too.
VIRTUAL_ENV=.venv .venv/bin/uv pip install --python .venv/bin/python --quiet \
  ${FIND_LINKS_ARGS[@]+"${FIND_LINKS_ARGS[@]}"} -r requirements.lock
VIRTUAL_ENV=.venv .venv/bin/uv pip install --python .venv/bin/python --quiet --no-deps -e .
touch "$stamp"
