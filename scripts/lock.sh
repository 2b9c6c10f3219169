#!/usr/bin/env bash
# Re-resolve requirements.in into requirements.lock (exact pins).
# torch is resolved against the local CPU wheel (pip's find-links) so the lock carries no CUDA
# packages; its local tag is dropped so `torch==2.13.0` also installs from the index elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find_links.sh
# the lock's own torch pin is a preference for uv: point it back at the local CPU wheel first
sed -i -E 's/^(torch==[0-9.]+)$/\1+cpu/' requirements.lock 2>/dev/null || true
uv pip compile requirements.in --python-version 3.11 --quiet ${FIND_LINKS_ARGS[@]+"${FIND_LINKS_ARGS[@]}"} \
  --custom-compile-command "make lock" -o requirements.lock
sed -i -E 's/^(torch==[0-9.]+)\+cpu$/\1/' requirements.lock
scripts/write_conda_env.sh
