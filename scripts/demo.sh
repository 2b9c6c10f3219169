#!/usr/bin/env bash
# make demo: the explain_reviews DAG on the embedded default model, tracked in a local MLflow server.
set -euo pipefail
cd "$(dirname "$0")/.."
export DLEXPLAIN_HOME=${DLEXPLAIN_HOME:-$PWD/.dlexplain}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$DLEXPLAIN_HOME/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=${AIRFLOW__CORE__DAGS_FOLDER:-$PWD/dags}
export AIRFLOW__CORE__PLUGINS_FOLDER=${AIRFLOW__CORE__PLUGINS_FOLDER:-$PWD/plugins}
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW_CONN_SPARK_DEFAULT=${AIRFLOW_CONN_SPARK_DEFAULT:-spark://local%5B2%5D}
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
DEMO_FROM=2026-01-01
DEMO_TO=2026-01-03

dlexplain model build-default
dlexplain data build-default --start "$DEMO_FROM" --end "$DEMO_TO" --rows-per-day "${DEMO_ROWS:-8}"
if [ -z "${MLFLOW_TRACKING_URI:-}" ]; then
  MLFLOW_TRACKING_URI=$(dlexplain mlflow start --print-uri)
  export MLFLOW_TRACKING_URI
fi
airflow db migrate >"$DLEXPLAIN_HOME/airflow-db-migrate.log" 2>&1 \
  || { tail -n 30 "$DLEXPLAIN_HOME/airflow-db-migrate.log"; exit 1; }
echo "running the explain_reviews DAG for $DEMO_TO (full log: $DLEXPLAIN_HOME/demo-dag.log)"
# each task's start and end state as it happens, and the engine's progress, from the full log
airflow dags test explain_reviews "$DEMO_TO" 2>&1 | tee "$DLEXPLAIN_HOME/demo-dag.log" \
  | awk -f scripts/dag_progress.awk \
  || { tail -n 60 "$DLEXPLAIN_HOME/demo-dag.log"; exit 1; }
dlexplain report --dag-id explain_reviews --logical-date "$DEMO_TO"
