"""What the test processes share, made private to each pytest-xdist worker.

scripts/test.sh runs the suite on two workers (`-n 2 --dist loadfile`: a file's tests, and its module
fixtures, stay on one worker). Everything a test writes is under its own tmp_path, servers take free
ports, but the PostgreSQL server of $NIANBAO_PG_URL is one: the sql engine loads its tables and views
under fixed names (nb_reports, one view per suite). Each worker gets a database of its own on that
server, and $NIANBAO_PG_URL names it, for the tests and the `nianbao` processes they start alike.
"""

from __future__ import annotations

import os

PG_URL = "NIANBAO_PG_URL"


def _worker_database(url: str, worker: str) -> str:
    """`url` with its database replaced by a new, empty one named after the worker (dropped first)."""
    import sqlalchemy as sa

    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(PG_URL):
        os.environ[PG_URL] = _worker_database(os.environ[PG_URL], worker)
