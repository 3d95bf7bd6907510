"""``riskloop definitions migrate`` and ``migrate-revert``: moving open instances to another
definition version, with a dry run, a summary and progress."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from workflow.engine import migration
from workflow.errors import RiskloopError
from workflow.records.identity import Actor

from .extensions import db

CLI_ACTOR = Actor("system:cli", frozenset({"system"}))


def _state_map(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"{pair!r}: write old=new, e.g. under_review=collecting")
        found[old] = new
    return found


def _summary(report: migration.Report, verb: str) -> None:
    counts = report.counts()
    reasons = ", ".join(
        f"{reason} {counts[reason]}"
        for reason in migration.REASONS + migration.REVERT_REASONS
        if counts.get(reason)
    )
    done = counts.get("reverted", 0) if verb == "reverted" else counts["migratable"]
    click.echo(
        f"{report.definition} → v{report.to_version}: {done} {verb}, "
        f"{counts['blocked']} blocked" + (f" ({reasons})" if reasons else "")
    )
    for item in report.instances:
        if item.status == "blocked":
            click.echo(f"  blocked  #{item.instance_id} {item.state}: {item.reason}")
    if report.remaining:
        click.echo(f"{report.remaining} instances were busy; run the command again to move them")
    if report.migration_id is not None:
        click.echo(f"migration {report.migration_id} {report.status}")


def _progress(label: str) -> Callable[[int, int], None]:
    def say(done: int, total: int) -> None:
        click.echo(f"{label} {done}/{total}", err=True)

    return say


@click.command("migrate")
@click.argument("name")
@click.option("--to", "to_version", type=int, required=True, help="the target version")
@click.option("--dry-run", is_flag=True, help="classify the open instances, change nothing")
@click.option(
    "--state-map", "pairs", multiple=True, metavar="OLD=NEW", help="move state OLD to NEW"
)
@click.option("--batch", type=click.IntRange(1, 10000), default=migration.BATCH, show_default=True)
@with_appcontext
def definitions_migrate(
    name: str, to_version: int, dry_run: bool, pairs: tuple[str, ...], batch: int
) -> None:
    """Move the open instances of definition NAME to version --to (one transaction per
    batch; run again to continue an interrupted migration)."""
    state_map = _state_map(pairs)
    try:
        if dry_run:
            report = migration.plan(db.session, name, to_version, state_map)
            _summary(report, "migratable")
            return
        report = migration.apply(
            db.session,
            name,
            to_version,
            CLI_ACTOR,
            state_map,
            batch_size=batch,
            progress=_progress("moved"),
        )
    except RiskloopError as exc:
        raise click.ClickException(_detail(exc)) from exc
    _summary(report, "migrated")


@click.command("migrate-revert")
@click.argument("migration_id", type=int)
@with_appcontext
def definitions_migrate_revert(migration_id: int) -> None:
    """Put back the instances migration MIGRATION_ID moved (those not moved since)."""
    try:
        report = migration.revert(
            db.session, migration_id, CLI_ACTOR, progress=_progress("reverted")
        )
    except RiskloopError as exc:
        raise click.ClickException(_detail(exc)) from exc
    _summary(report, "reverted")


def _detail(exc: RiskloopError) -> str:
    errors = exc.extra.get("errors")
    return f"{exc.detail}: {errors}" if errors else exc.detail
