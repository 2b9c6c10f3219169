"""SQLAlchemy connect args for Airflow on SQLite in tests: wait for locks instead of failing.

The scheduler, the api-server and CLI commands write to one SQLite file; the default 5 s busy
timeout makes a CLI write (``airflow backfill create``) fail with "database is locked".
"""

CONNECT_ARGS = {"timeout": 120}
