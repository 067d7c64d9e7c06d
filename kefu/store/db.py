"""Engines, transactions and migrations.

``make_engine`` is the only place that knows about database URLs; the
timeouts make a slow or unreachable database fail fast, so that an action
can answer "the system is busy" instead of hanging the conversation.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 5000


def make_engine(url: str, future: bool = True) -> Engine:
    """An engine for ``url`` with fail-fast timeouts; creates the directory
    of a SQLite file. ``future=False`` is for Rasa's SQL tracker store,
    which still speaks SQLAlchemy's 1.x API."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:":
            engine = create_engine(url, future=future, connect_args={"timeout": 5})
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # SQLAlchemy 1.4 opens a new connection to a SQLite file for every
            # transaction (NullPool): with the pragmas, that was most of an
            # action's time. A pool keeps them, each used by one thread at a time.
            engine = create_engine(url, future=future, poolclass=QueuePool, pool_size=4, max_overflow=8,
                                   connect_args={"timeout": 5, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        future=future,
        pool_pre_ping=True,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # the action server and seeding may overlap
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back (nothing
    half-written) when it raises."""
    # a Session itself, not sessionmaker(...)(): a sessionmaker makes a new
    # class each time, and stores open several transactions per action
    session = Session(bind=engine, future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def create_database_if_missing(url: str) -> None:
    """Create the server database ``url`` names if it does not exist yet, so
    that a fresh PostgreSQL server (``make run-prod``, the tests) needs no
    manual ``createdb``. An existing database is left alone even where the
    user may not create databases; SQLite files are created on connect."""
    if url.startswith("sqlite"):
        return
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    try:
        engine.connect().close()
        return
    except OperationalError as error:
        if "does not exist" not in str(error):
            raise
    finally:
        engine.dispose()
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    try:
        with server.connect() as db:
            exists = db.execute(text("select 1 from pg_database where datname = :n"), {"n": target.database}).first()
            if not exists:
                db.execute(text(f"create database {server.dialect.identifier_preparer.quote(target.database)}"))
    finally:
        server.dispose()


#: alembic's command API keeps its context in module globals: two threads
#: migrating at once (two embedded stacks started side by side) would clash
_MIGRATING = threading.Lock()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (creating the
    database first if the server does not have it yet)."""
    from alembic import command

    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the file's directory
    else:
        create_database_if_missing(url)
    with _MIGRATING:
        command.upgrade(alembic_config(url), "head")
