"""Where the review queue lives: a database URL, an engine, and the schema brought up to date by Alembic.

`NOTECHECK_DATABASE_URL` unset means `sqlite:///notecheck.db` (a file in the working directory, zero set-up);
`postgresql://user@host/db` works as written (the psycopg 3 driver is picked for it). SQLite runs in WAL mode
with `synchronous=FULL`, so a decision is on disk before the server answers: a `kill -9` loses nothing that
was acknowledged.

>>> safe_url("postgresql://mod:secret@db/notecheck")
'postgresql+psycopg://mod:***@db/notecheck'
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from notecheck.model.errors import ConfigError

log = logging.getLogger(__name__)

ENV = "NOTECHECK_DATABASE_URL"
DEFAULT_URL = "sqlite:///notecheck.db"
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_RETRY_S = 1.0
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    """`url`, else `NOTECHECK_DATABASE_URL`, else the SQLite default; `postgresql://` gets the psycopg 3 driver."""
    chosen = (url or os.environ.get(ENV) or DEFAULT_URL).strip()
    try:
        parsed = make_url(chosen)
    except ArgumentError as exc:
        raise ConfigError(f"{ENV}: not a database URL: {chosen!r} (e.g. sqlite:///notecheck.db)") from exc
    if parsed.drivername in ("postgresql", "postgres") and importlib.util.find_spec("psycopg2") is None:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{ENV}: {parsed.get_backend_name()!r} is not supported; use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    return make_url(database_url(url)).render_as_string(hide_password=True)


def label(engine: Engine) -> str:
    """Where an engine points, password masked, for messages."""
    return describe_url(engine.url.render_as_string(hide_password=False))


def describe_url(url: str | None) -> str:
    """A URL for people: the password masked, a relative SQLite file shown by its absolute path (so two
    commands run from different folders visibly use different queues)."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    return parsed.render_as_string(hide_password=True)


def connect(url: str | None = None) -> Engine:
    """An engine on an up-to-date schema (migrations run once per URL and process). Raises `ConfigError`
    naming the (password-masked) URL when the database cannot be reached or upgraded."""
    resolved = database_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _engine(resolved)
            try:
                try:
                    upgrade(engine)
                except SQLAlchemyError:  # another process migrating the same new database at this moment
                    time.sleep(MIGRATION_RETRY_S)
                    upgrade(engine)  # now it sees their tables and version, and has nothing left to do
            except SQLAlchemyError as exc:
                engine.dispose()
                raise ConfigError(f"review database {safe_url(resolved)}: {_first_line(exc)}") from exc
            _engines[resolved] = engine
        return engine


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"{ENV}: the folder {folder} of the SQLite file does not exist")
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates the tables on a new database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def forget_engines() -> None:
    """Dispose of every cached engine (tests, and a server shutting down)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
