"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a temporary data folder, a Unix
socket only (no TCP port), trust authentication; stopped and removed afterwards.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user (`runuser`). Where
PostgreSQL is not installed the fixture skips with the reason, except on CI (`CI` set), where `make test` has
installed it and its absence is a failure.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_names = itertools.count()


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yields a SQLAlchemy URL of its `postgres` database."""
    bindir = _bindir()
    if bindir is None:
        reason = "PostgreSQL is not installed (`make test` installs Debian's postgresql package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="notecheck-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, log = root / "data", root / "server.log"
    run = lambda *a: subprocess.run(_as_postgres([str(a[0]), *map(str, a[1:])]), check=True, capture_output=True)  # noqa: E731
    try:
        run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {root} -c fsync=off"
        run(bindir / "pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "-t", "30", "start")
        yield f"postgresql://postgres@/postgres?host={root}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), check=False
            )
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server, for one test."""
    import psycopg

    name = f"t{os.getpid()}_{next(_names)}"
    host = server_url.split("host=")[1]
    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@/{name}?host={host}"
