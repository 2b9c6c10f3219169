# The one dlexplain image: Airflow api-server/scheduler/dag-processor/triggerer, the Spark master
# and worker, and the EaaS scoring server all run it (docker-compose.yaml). Python 3.11, Java 17,
# every pin of requirements.lock (torch from PyTorch's CPU index), the package, `spark-submit` on
# PATH. Build: docker build -t dlexplain:latest .
FROM python:3.11-slim-bookworm

ARG DLEXPLAIN_UID=50000
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/dlexplain/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/dlexplain/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DLEXPLAIN_HOME=/opt/dlexplain/state \
    DLEXPLAIN_CACHE_DIR=/opt/dlexplain/cache

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps curl tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dlexplain
COPY requirements.lock ./
# --no-deps: the lock is complete; the CPU index gives torch 2.13.0+cpu (no CUDA packages)
RUN pip install --no-deps --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock

COPY pyproject.toml README.md ./
COPY include ./include
RUN pip install --no-deps . && command -v spark-submit && java -version

COPY dags ./dags
COPY plugins ./plugins
RUN useradd --uid "${DLEXPLAIN_UID}" --gid 0 --home-dir /opt/airflow --create-home dlexplain \
 && mkdir -p /opt/airflow/logs state cache \
 && chown -R "${DLEXPLAIN_UID}:0" /opt/airflow state cache \
 && chmod -R g+rwX /opt/airflow state cache
USER ${DLEXPLAIN_UID}

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dlexplain", "--help"]
