#!/usr/bin/env bash
# conda.yaml: the same exact pins as requirements.lock (pip section), for conda users.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Generated from requirements.lock by scripts/write_conda_env.sh (make lock). Do not edit."
  echo "name: dlexplain"
  echo "channels:"
  echo "  - conda-forge"
  echo "dependencies:"
  echo "  - python=3.11"
  echo "  - openjdk=17"
  echo "  - pip"
  echo "  - pip:"
  grep -E '^[A-Za-z0-9_.-]+==' requirements.lock | sed 's/^/      - /'
  echo "      - -e ."
} > conda.yaml
