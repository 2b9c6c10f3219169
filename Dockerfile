# The one dlexplain image: Airflow api-server/scheduler/dag-processor/triggerer, the Spark master
# and worker, MLflow, the EaaS front and scoring servers all run it (docker-compose.yaml).
# Python 3.11 in a venv (/opt/venv, first on PATH), Java 17, every pin of requirements.lock, the
# package, `spark-submit` on PATH.
#   docker build -t dlexplain:latest .
# BASE_IMAGE: any Debian bookworm with Python 3.11 — the official image by default, or the one
# scripts/base_image.sh makes offline from Debian's packages (scripts/build_images.sh picks).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG DLEXPLAIN_UID=50000
# where pip finds torch's CPU build; wheels placed in .dlexplain/wheels/ are used first
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/dlexplain/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/dlexplain/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DLEXPLAIN_HOME=/opt/dlexplain/state \
    DLEXPLAIN_CACHE_DIR=/opt/dlexplain/cache

# Debian's packages, only those the base lacks (the offline base has them all: no network needed);
# Debian's python3.11 where the base has no Python of its own
RUN set -eu; \
    packages="openjdk-17-jre-headless procps curl tini ca-certificates libgomp1"; \
    command -v python3.11 >/dev/null || packages="$packages python3.11 python3.11-venv"; \
    if ! dpkg -s $packages >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends $packages \
      && rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3.11 -m venv /opt/venv && java -version

WORKDIR /opt/dlexplain
# the lock, and the local wheels when there are any (the lock is named so the COPY never is empty)
COPY requirements.lock .dlexplain/wheels* ./wheels/
# --no-deps: the lock is complete; torch 2.13.0 comes from ./wheels or the CPU index (no CUDA);
# TORCH_INDEX_URL empty: PyPI and ./wheels only
# (a ca-bundle.crt there is trusted for this step only: a proxy with its own CA in front of PyPI)
RUN if [ -f wheels/ca-bundle.crt ]; then \
      export PIP_CERT=$PWD/wheels/ca-bundle.crt SSL_CERT_FILE=$PWD/wheels/ca-bundle.crt; fi \
 && pip install --quiet "uv==0.13.9" \
 && uv pip install --no-deps --index-strategy unsafe-best-match --find-links ./wheels \
      ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r wheels/requirements.lock \
 && rm -rf ./wheels /root/.cache

COPY pyproject.toml README.md ./
COPY include ./include
# setuptools comes from the lock: no download (no build isolation)
RUN uv pip install --no-deps --no-build-isolation . && command -v spark-submit && python -c "import dlexplain, torch"

COPY dags ./dags
COPY plugins ./plugins
RUN useradd --uid "${DLEXPLAIN_UID}" --gid 0 --home-dir /opt/airflow --create-home dlexplain \
 && mkdir -p /opt/airflow/logs /opt/airflow/auth /opt/mlflow-auth state cache eaas \
 && chown -R "${DLEXPLAIN_UID}:0" /opt/airflow /opt/mlflow-auth state cache eaas \
 && chmod -R g+rwX /opt/airflow /opt/mlflow-auth state cache eaas
USER ${DLEXPLAIN_UID}

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dlexplain", "--help"]
