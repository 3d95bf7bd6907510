"""Operations commands: ``riskloop backup`` and ``riskloop restore``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect

from workflow.errors import RiskloopError
from workflow.platform import backup as backups

from .extensions import db


def _database_url() -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _folder(folder: Path | None) -> Path:
    configured = current_app.config.get("RISKLOOP_BACKUP_DIR")
    return folder or Path(configured or Path(current_app.instance_path) / "backups")


@click.command("backup")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where to write (default: $RISKLOOP_BACKUP_DIR or instance/backups)",
)
@click.option(
    "--keep",
    type=int,
    default=None,
    help="then keep only the newest N backups (default: $RISKLOOP_BACKUP_KEEP)",
)
@with_appcontext
def backup_command(folder: Path | None, keep: int | None) -> None:
    """A consistent copy of the database while the service keeps running."""
    target = _folder(folder)
    try:
        written = backups.backup(_database_url(), target)
    except RiskloopError as exc:
        raise click.ClickException(exc.detail) from exc
    except OSError as exc:
        raise click.ClickException(f"could not write the backup into {target}: {exc}") from exc
    deleted = backups.prune(
        target, keep if keep is not None else current_app.config["RISKLOOP_BACKUP_KEEP"]
    )
    click.echo(
        f"backup written: {written}" + (f" ({len(deleted)} older deleted)" if deleted else "")
    )


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(backup_file: Path) -> None:
    """Load BACKUP_FILE into the empty database at DATABASE_URL, then `riskloop audit verify`."""
    tables = inspect(db.engine).get_table_names()
    db.engine.dispose()
    if tables:
        raise click.ClickException(
            "the database at DATABASE_URL is not empty; restore into a new empty database "
            "(e.g. `createdb riskloop_restored`) and point DATABASE_URL at it"
        )
    try:
        backups.restore(backup_file, _database_url())
    except RiskloopError as exc:
        raise click.ClickException(exc.detail) from exc
    except Exception as exc:  # pg_restore's own message says what went wrong
        detail = getattr(exc, "stderr", b"") or b""
        raise click.ClickException(
            f"restore failed: {detail.decode(errors='replace')[-500:] or exc}"
        ) from exc
    click.echo(f"restored {backup_file.name}; check it with `riskloop audit verify`")
