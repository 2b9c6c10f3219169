"""A throwaway PostgreSQL cluster for a test: initdb in a temp folder, a free port, stopped after.

initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` user (the
Debian package's) and the commands run through ``runuser``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dlexplain.base.processes import free_port


@dataclass(frozen=True)
class PostgresCluster:
    port: int
    superuser_password: str
    host: str = "127.0.0.1"

    def connect(self, database: str = "postgres", user: str = "postgres",
                password: str | None = None):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, dbname=database, user=user,
                                password=self.superuser_password if password is None else password)

    def create_database(self, name: str) -> str:
        """A database and an owner of the same name with a fresh password; its SQLAlchemy URL."""
        password = secrets.token_hex(12)
        connection = self.connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE USER "{name}" WITH PASSWORD %s', (password,))
            cursor.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        connection.close()
        return f"postgresql+psycopg2://{name}:{password}@{self.host}:{self.port}/{name}"

    def query(self, url: str, sql: str) -> list[tuple]:
        """Rows of ``sql`` run on the database of SQLAlchemy ``url``."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        connection = self.connect(parsed.database, parsed.username, parsed.password)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()


def pg_bin(name: str) -> str:
    """``initdb``/``pg_ctl`` from PATH, else from Debian's ``/usr/lib/postgresql/<N>/bin``."""
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return str(found)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a PostgreSQL cluster on a free loopback port; stop and delete it afterwards."""
    work = Path(tempfile.mkdtemp(prefix="dlexplain-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port, password = work / "data", free_port(), secrets.token_hex(12)
    pwfile = work / "superuser-password"
    pwfile.write_text(password)
    if as_owner:
        shutil.chown(pwfile, "postgres")
    # passwords are checked on TCP (scram-sha-256), as on a real server
    _run([*as_owner, pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
          "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"])
    _run([*as_owner, pg_bin("pg_ctl"), "-D", str(data), "-l", str(work / "postgres.log"), "-w", "-o",
          f"-p {port} -k {work} -c listen_addresses=127.0.0.1", "start"])
    try:
        yield PostgresCluster(port, password)
    finally:
        _run([*as_owner, pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(work, ignore_errors=True)
