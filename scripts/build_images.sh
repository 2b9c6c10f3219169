#!/usr/bin/env bash
# Builds the stack's images on the local engine: the project image (Dockerfile, as
# $DLEXPLAIN_IMAGE, default dlexplain:latest) and dlexplain-postgres:15 for the offline override.
# Their base is the official python:3.11-slim-bookworm when the engine has it or can pull it,
# else the equivalent scripts/base_image.sh makes from Debian's packages. torch comes from a
# local CPU wheel when pip's find-links has one (copied into .dlexplain/wheels), else from
# PyTorch's CPU index; the host's CA bundle is trusted for the install. Builds use the host's network (engines here run without a bridge).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed
image=${DLEXPLAIN_IMAGE:-dlexplain:latest}
base=python:3.11-slim-bookworm
if ! docker image inspect "$base" >/dev/null 2>&1 \
   && ! timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
  echo "$base cannot be pulled here: building on an offline Debian base"
  base=$(scripts/base_image.sh)
fi
rm -rf .dlexplain/wheels && mkdir -p .dlexplain/wheels
source scripts/find_links.sh
torch_index=https://download.pytorch.org/whl/cpu
for ((i = 1; i < ${#FIND_LINKS_ARGS[@]}; i += 2)); do
  for wheel in "${FIND_LINKS_ARGS[$i]}"/torch-2.13.0+cpu-cp311-*.whl; do
    [ -f "$wheel" ] && ln -f "$wheel" .dlexplain/wheels/ 2>/dev/null || cp "$wheel" .dlexplain/wheels/
    [ -f "$wheel" ] && torch_index=
  done
done
# the host's CA bundle (PIP_CERT, else the system's): what pip trusts here, e.g. a proxy's CA
cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$cert" ]; then cp "$cert" .dlexplain/wheels/ca-bundle.crt; fi
build() {  # tag context [docker build options]
  local tag=$1 context=$2 started=$SECONDS
  shift 2
  echo "building $tag on $base"
  docker build --network host --build-arg BASE_IMAGE="$base" -t "$tag" "$@" "$context" \
    >".dlexplain/build-${tag//[:\/]/-}.log" 2>&1 \
    || { tail -n 40 ".dlexplain/build-${tag//[:\/]/-}.log" >&2; exit 1; }
  echo "built $tag in $((SECONDS - started)) s"
}
build "$image" . --build-arg TORCH_INDEX_URL="$torch_index"
build dlexplain-postgres:15 docker/postgres
