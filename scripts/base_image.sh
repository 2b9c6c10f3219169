#!/usr/bin/env bash
# An equivalent of python:3.11-slim-bookworm made offline from Debian's packages, for engines that
# cannot pull from a registry: debootstrap bookworm (minbase) with Debian's python3.11, Java 17
# and what the Dockerfile installs, then `docker import`. The rootfs tarball is cached in
# ~/.cache/dlexplain/rootfs (about 2 min the first time); the import is skipped when the engine
# has the image. Prints the image name.
set -euo pipefail
IMAGE=${1:-dlexplain-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# debootstrap's own resolver configures these; Java and the venv module need apt's ordering
PACKAGES=python3.11,procps,curl,tini,ca-certificates,libgomp1
APT_PACKAGES="python3.11-venv openjdk-17-jre-headless"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/dlexplain/rootfs
tar=$cache/bookworm-$(printf %s "$PACKAGES $APT_PACKAGES" | sha256sum | cut -c1-12).tar
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"; exit 0
fi
if [ ! -f "$tar" ]; then
  command -v debootstrap >/dev/null || { echo "error: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  root=$(mktemp -d /tmp/dlexplain-rootfs.XXXX)
  trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT
  echo "debootstrap bookworm into $root (log: $root.log)" >&2
  {
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" &&
    cp /etc/resolv.conf "$root/etc/resolv.conf" && mount -t proc proc "$root/proc" &&
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $APT_PACKAGES && umount "$root/proc" && : > "$root/etc/resolv.conf"
  } >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tar.partial" . && mv "$tar.partial" "$tar"
fi
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' "$tar" "$IMAGE" >/dev/null
echo "$IMAGE"
