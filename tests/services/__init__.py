"""Start real services for tests (Airflow standalone, Spark standalone) and stop them by PID."""
