#!/usr/bin/env bash
# First start of the postgres service: one database and one owner each for Airflow and MLflow.
# Names and passwords come from the environment (.env); nothing is hard-coded.
set -euo pipefail
create() {  # user password database
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v user="$1" -v password="$2" -v db="$3" <<'SQL'
CREATE USER :"user" WITH PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
}
create "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD" "$AIRFLOW_DB_NAME"
create "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD" "$MLFLOW_DB_NAME"
