"""Several test runs on one machine at once (developers, CI, helpers): each keeps to its own.

Each run has an id (``TEST_RUN_ID``, its pytest process id: tests/settings.py) and with it
- its own test database, ``test_trading_<id>``, and its own Redis key prefix (tests/settings.py);
- its own temporary folder, ``<tmp>/pytest-of-<user>/run-<id>``. pytest's default keeps the three
  newest ``pytest-N`` folders and deletes older ones when a run starts: a fourth run starting beside
  three others deleted a running one's files (the worker's logs, a test's own Redis folder).

A run that is killed leaves its database and folder behind; the next run removes those of runs whose
process is gone. A database whose drop failed at the end of a run (a connection still open) is
dropped when the run ends, closing the connections left.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import tempfile
from pathlib import Path

DATABASE_PREFIX = "test_trading_"
FOLDER_PREFIX = "run-"


def run_id() -> str:
    return os.environ.setdefault("TEST_RUN_ID", str(os.getpid()))


def temp_root() -> Path:
    return Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"


def run_folder() -> Path:
    """This run's folder; its parent is made here, since pytest makes only the last part of a
    --basetemp (on a machine where no run has been yet, every test failed to get its tmp_path)."""
    root = temp_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root / f"{FOLDER_PREFIX}{run_id()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_run(suffix: str) -> bool:
    return suffix.isdigit() and suffix != run_id() and not _alive(int(suffix))


def stale_folders_remove() -> None:
    root = temp_root()
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.name.startswith(FOLDER_PREFIX) and _dead_run(folder.name[len(FOLDER_PREFIX) :]):
            shutil.rmtree(folder, ignore_errors=True)


def _server(settings_dict: dict):
    import psycopg

    return psycopg.connect(
        host=settings_dict.get("HOST") or "127.0.0.1",
        port=settings_dict.get("PORT") or 5432,
        user=settings_dict.get("USER") or "postgres",
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def stale_databases_drop(settings_dict: dict) -> list[str]:
    """Drop the test databases of runs whose process is gone. A database someone is connected to is
    left alone (plain DROP refuses it), whatever its name says."""
    import psycopg

    dropped = []
    with _server(settings_dict) as server:
        listed = server.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [DATABASE_PREFIX + "%"])
        names = [row[0] for row in listed]
        for name in names:
            suffix = name[len(DATABASE_PREFIX) :]
            if re.fullmatch(r"\d+", suffix) and _dead_run(suffix):
                try:
                    server.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    dropped.append(name)
                except psycopg.Error:
                    pass
    return dropped


def own_database_drop(settings_dict: dict) -> bool:
    """At the end of the run: if this run's database is still there (its drop failed), drop it, closing
    whatever connection was left open on it."""
    name = f"{DATABASE_PREFIX}{run_id()}"
    with _server(settings_dict) as server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            return False
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return True
