#!/usr/bin/env bash
# Spark 4 needs Java 17 or newer on PATH (or JAVA_HOME).
set -euo pipefail
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
if ! version=$("$java_bin" -version 2>&1 | head -n 1); then
  echo "error: Java 17+ is required for Spark (apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
major=$(sed -E 's/.*version "([0-9]+).*/\1/' <<<"$version")
if [ "$major" -lt 17 ]; then
  echo "error: Java 17+ is required for Spark, found: $version" >&2
  exit 1
fi
