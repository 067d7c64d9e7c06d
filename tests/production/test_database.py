"""The production profile's shop database on a fresh PostgreSQL server:
`make run-prod` defaults to a database `kefu` that the server does not have
yet, so migrating creates it (and leaves an existing one alone)."""
from __future__ import annotations

import uuid

from sqlalchemy import create_engine, inspect, text

from kefu.store.db import create_database_if_missing, migrate


def _exists(server_url: str, name: str) -> bool:
    engine = create_engine(server_url)
    try:
        with engine.connect() as db:
            return bool(db.execute(text("select 1 from pg_database where datname = :n"), {"n": name}).first())
    finally:
        engine.dispose()


def test_migrate_creates_a_missing_database_and_its_tables(postgres_server_url):
    name = f"kefu_new_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_server_url.rsplit('/', 1)[0]}/{name}"
    assert not _exists(postgres_server_url, name)
    try:
        migrate(url)
        assert _exists(postgres_server_url, name)
        engine = create_engine(url)
        assert {"orders", "products", "customers"} <= set(inspect(engine).get_table_names())
        engine.dispose()
        create_database_if_missing(url)  # a second call changes nothing
        migrate(url)
    finally:
        admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as db:
            db.execute(text(f'drop database if exists "{name}"'))
        admin.dispose()
