"""Consistent backups while the service runs, retention, and restore.

SQLite: the online backup API copies a consistent snapshot page by page while
writers carry on. PostgreSQL: ``pg_dump --format=custom`` reads one snapshot
(a repeatable-read transaction), so the copy is consistent without stopping
anything; ``pg_restore`` loads it into an empty database.

With ``RISKLOOP_BACKUP_DIR`` set, the ``backup`` job (``workflow.background.jobs``)
runs on the ``RISKLOOP_BACKUP_CRON`` schedule (a durable cron-like timer like every
job, so one scheduler fires it once) and keeps the newest ``RISKLOOP_BACKUP_KEEP``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from workflow.errors import ConfigurationError
from workflow.platform import clock

log = logging.getLogger(__name__)

PREFIX = "riskloop-"
SUFFIXES = (".sqlite", ".pgdump")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigurationError(
            "an in-memory SQLite database cannot be backed up; point DATABASE_URL at a file"
        )
    return Path(url.database)


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    args = [
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        "--dbname",
        url.database or "postgres",
    ]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(
            f"{name} is not on PATH; install the PostgreSQL client tools "
            "(the same major version as the server)"
        )
    return found


def backup(database_url: str, folder: Path, *, at: datetime | None = None) -> Path:
    """Write a consistent copy of the database into ``folder``; returns the file."""
    url = make_url(database_url)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (at or clock.now()).strftime("%Y%m%dT%H%M%S%fZ")
    if url.get_backend_name() == "sqlite":
        target = folder / f"{PREFIX}{stamp}.sqlite"
        partial = target.with_suffix(".partial")
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest, pages=256)
        finally:
            dest.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        target = folder / f"{PREFIX}{stamp}.pgdump"
        partial = target.with_suffix(".partial")
        args, env = _pg_args(url)
        subprocess.run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                str(partial),
                *args,
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=3600,
        )
    else:
        raise ConfigurationError(
            f"backups support SQLite and PostgreSQL, not {url.get_backend_name()}"
        )
    os.replace(partial, target)
    os.chmod(target, 0o600)
    log.info("backup written: %s (%d bytes)", target.name, target.stat().st_size)
    return target


def backups(folder: Path) -> list[Path]:
    """Backups in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.suffix in SUFFIXES)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups; returns what was deleted."""
    found = backups(folder)
    doomed = found[: max(0, len(found) - max(keep, 1))]
    for path in doomed:
        path.unlink()
    return doomed


def restore(backup_file: Path, database_url: str) -> None:
    """Load ``backup_file`` into the (empty) database at ``database_url``."""
    url = make_url(database_url)
    if not backup_file.is_file():
        raise ConfigurationError(f"no backup file at {backup_file}")
    if url.get_backend_name() == "sqlite":
        if backup_file.suffix != ".sqlite":
            raise ConfigurationError("restore a .sqlite backup into a SQLite DATABASE_URL")
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(backup_file)
        dest = sqlite3.connect(target, timeout=30)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        if backup_file.suffix != ".pgdump":
            raise ConfigurationError("restore a .pgdump backup into a PostgreSQL DATABASE_URL")
        args, env = _pg_args(url)
        subprocess.run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                *args,
                str(backup_file),
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=3600,
        )
    else:
        raise ConfigurationError(
            f"restore supports SQLite and PostgreSQL, not {url.get_backend_name()}"
        )
    log.info("restored %s", backup_file.name)
