"""Command-line tools of the client archive: watch lists, batch import, key rotation, the
retention scan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from workflow.errors import RiskloopError
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import User

from .extensions import db, runtime_of

CLI_ACTOR = Actor("system:cli", frozenset({"system"}))


def _fail(exc: RiskloopError) -> click.ClickException:
    errors = exc.extra.get("errors")
    lines = [exc.detail]
    if errors:
        lines += [
            f"  {key}: {'; '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
            for key, msgs in errors.items()
        ]
    return click.ClickException("\n".join(lines))


def _actor(username: str | None) -> Actor:
    if username is None:
        return CLI_ACTOR
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise click.ClickException(
            f"no active user {username!r}; create it with riskloop users create"
        )
    return Actor(user.username, frozenset(user.roles or []), user.id)


@click.group("watchlist")
def watchlist_group() -> None:
    """Local watch lists read by the built-in screening provider."""


@watchlist_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--background",
    is_flag=True,
    help="leave the re-screening of active clients to the workers instead of running it here",
)
@with_appcontext
def watchlist_import(file: Path, background: bool) -> None:
    """Import FILE (CSV: credit_code,name,list,reason[,aliases,id_number] or the Chinese
    headers; or JSON); replaces each list it holds, then re-screens active clients
    against what changed."""
    from workflow.risk.screening.names import Thresholds
    from workflow.risk.screening.rescreen import rescreen_chunk
    from workflow.risk.screening.watchlist import WatchlistImport, import_watchlist
    from workflow.risk.screening.watchlist_files import read_watchlist_file

    def progress(rows: int) -> None:
        if rows % 100_000 < 2_000:
            click.echo(f"  {rows:,} rows read", err=True)

    try:
        summary = import_watchlist(
            db.session, read_watchlist_file(file), CLI_ACTOR, source=file.name, progress=progress
        )
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    for name, c in summary.counts.items():
        click.echo(
            f"{name}: {c['rows']} entries ({c['added']} added, {c['changed']} changed, "
            f"{c['removed']} removed)"
        )
    if not summary.delta:
        click.echo("nothing changed; no client needs re-screening")
        return
    if background:
        click.echo(f"re-screening of active clients queued (import {summary.import_id})")
        return
    thresholds = Thresholds.from_settings(runtime_of(current_app).settings)
    while rescreen_chunk(db.session, summary.import_id, thresholds, clock.now()):
        db.session.commit()
        record = db.session.get(WatchlistImport, summary.import_id)
        click.echo(f"  {record.clients_rescreened:,} clients re-screened", err=True)
    db.session.commit()
    record = db.session.get(WatchlistImport, summary.import_id)
    click.echo(
        f"{record.clients_rescreened} active clients re-screened against "
        f"{summary.delta} new or changed entries: {record.hits} hit(s) recorded as risk events"
    )


@click.group("clients")
def clients_group() -> None:
    """The client archive."""


@clients_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
@click.option("--submit", is_flag=True, help="start an admission for every imported client")
@click.option("--owner", default=None, help="sales user owning rows without an owner column")
@click.option(
    "--as",
    "as_user",
    default=None,
    help="act as this user (needed with --submit: admissions are started by sales)",
)
@with_appcontext
def clients_import(
    file: Path, dry_run: bool, submit: bool, owner: str | None, as_user: str | None
) -> None:
    """Import clients from FILE (.csv or .xlsx), idempotent by credit_code."""
    from workflow.risk.clients.bulk_import import read_rows, run_import

    actor = _actor(as_user)
    content = file.read_bytes()
    try:
        total = sum(1 for _ in read_rows(content, file.name))
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            report = run_import(
                db.session,
                content,
                file.name,
                actor,
                dry_run=dry_run,
                submit=submit,
                default_owner=owner,
                progress=bar.update,
            )
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    summary = report.to_dict()
    click.echo(
        json.dumps(
            {k: v for k, v in summary.items() if k not in ("errors", "sensitive_differences")}
        )
    )
    for error in report.errors:
        click.echo(
            f"row {error['row']}: {error['field']}: {'; '.join(error['messages'])}", err=True
        )
    for diff in report.sensitive_differences:
        click.echo(f"row {diff['row']}: {diff['field']} {diff['message']}", err=True)
    if report.errors:
        raise SystemExit(1)


@clients_group.command("retention")
@with_appcontext
def clients_retention() -> None:
    """Propose now what the daily retention job would: an erasure request for every client
    offboarded more than RISKLOOP_RETENTION_YEARS ago (a manager still approves each)."""
    from workflow.risk.erasure import propose_erasures

    try:
        proposed = propose_erasures(db.session, clock.now())
        ids = [(case.id, case.subject_id) for case in proposed]
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    for case_id, client_id in ids:
        click.echo(f"erasure request #{case_id} for client {client_id}")
    click.echo(f"{len(ids)} erasure request(s) proposed")


@click.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every encrypted value with the newest key of RISKLOOP_ENCRYPTION_KEYS."""
    from workflow.risk.clients.encryption import count_encrypted, rotate_all

    try:
        total = count_encrypted(db.session)
        with click.progressbar(length=total, label="re-encrypting", file=sys.stderr) as bar:
            rewritten = rotate_all(db.session, progress=bar.update)
        audit.record_event(
            db.session, "system:keys", "keys.rotated", CLI_ACTOR, payload={"rewritten": rewritten}
        )
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        raise _fail(exc) from exc
    click.echo(f"re-encrypted {sum(rewritten.values())} of {total} values with the newest key")


def register(main: click.Group) -> None:
    main.add_command(watchlist_group)
    main.add_command(clients_group)
    keys = main.commands.get("keys")
    if isinstance(keys, click.Group):
        keys.add_command(keys_rotate)
