"""The instance folder and the embedded SQLite database are the owner's alone.

The folder holds the generated keys, the database and evidence files; SQLite
would create the database with the process umask (usually 0644, readable by
every local user), and its journal and WAL files copy the database's mode.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def prepare(instance_path: str) -> None:
    """Create the instance folder owner-only; an existing folder is left as it is
    (it may be one the operator shares on purpose)."""
    path = Path(instance_path)
    if not path.exists():
        path.mkdir(parents=True, mode=FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)  # mkdir's mode is filtered by the umask


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if (
        database in ("", ":memory:")
        or database.startswith("file:")
        or parsed.query.get("mode") == "memory"
    ):
        return None
    return Path(database)


def secure_database(url: str) -> None:
    """Create the SQLite file owner-only before SQLite does, and take group and other
    access away from one an earlier version created (0644)."""
    path = sqlite_file(url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path)
        for suffix in ("-wal", "-shm", "-journal"):
            _tighten(path.with_name(path.name + suffix))
    except FileNotFoundError:
        return  # no such folder: SQLite's own error names it on first use
    else:
        os.close(fd)
        os.chmod(path, FILE_MODE)


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            log.warning(
                "%s was readable by other users (mode %o); now %o", path, mode, mode & 0o700
            )
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("%s is readable by other users and not ours to change; chmod 600 it", path)
