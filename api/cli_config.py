"""Command-line tools of governed configuration: list, show and draft."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from workflow.errors import RiskloopError
from workflow.platform.transaction import transact
from workflow.records import config_versions as versions
from workflow.risk.governance.changes import all_kinds, current, draft_change, kind_named

from .cli_clients import _actor, _fail
from .extensions import db, runtime_of


@click.group("config")
def config_group() -> None:
    """Governed configuration: rule sets, monitoring rules, alert routing, checklist,
    workflow definitions."""


@config_group.command("list")
@with_appcontext
def config_list() -> None:
    """Every kind with its active version and content hash."""
    try:
        kinds = all_kinds(runtime_of(current_app).catalog)
        rows = transact(db.session, lambda: [current(db.session, k) for k in kinds])
    except RiskloopError as exc:
        raise _fail(exc) from exc
    for row in rows:
        click.echo(f"{row.kind}\tversion {row.version}\t{row.content_hash}")


@config_group.command("show")
@click.argument("kind")
@with_appcontext
def config_show(kind: str) -> None:
    """The content (YAML) of the active version of KIND."""
    try:
        catalog = runtime_of(current_app).catalog
        row = transact(db.session, lambda: current(db.session, kind_named(kind, catalog)))
    except RiskloopError as exc:
        raise _fail(exc) from exc
    older = [v.version for v in versions.history(db.session, kind) if v.version != row.version]
    click.echo(f"# {row.kind} version {row.version} ({row.content_hash}); older: {older}", err=True)
    click.echo(row.content, nl=False)


@config_group.command("draft")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", required=True, help="why the configuration changes")
@click.option(
    "--as",
    "as_user",
    required=True,
    help="the maker: a risk officer (an administrator for definition:NAME)",
)
@with_appcontext
def config_draft(kind: str, file: Path, reason: str, as_user: str) -> None:
    """Draft FILE as the next version of KIND (``definition:NAME``: a whole workflow
    definition): backtested, then approved by a manager."""
    actor = _actor(as_user)
    content = file.read_text(encoding="utf-8")
    try:
        instance = transact(
            db.session, lambda: draft_change(db.session, kind, content, reason, actor)
        )
    except RiskloopError as exc:
        errors = (exc.extra.get("errors") or {}).get("content")
        if errors:
            for problem in errors:
                click.echo(f"{problem['file']}: {problem['key']}: {problem['message']}", err=True)
            raise click.ClickException(f"the draft has {len(errors)} problem(s)") from exc
        raise _fail(exc) from exc
    data = instance.data
    click.echo(
        json.dumps(
            {
                "change_id": instance.id,
                "kind": kind,
                "version": data["version"],
                "content_hash": data["content_hash"],
                "state": instance.state,
            }
        )
    )
    click.echo(data["diff"], err=True, nl=False)


def register(main: click.Group) -> None:
    main.add_command(config_group)
