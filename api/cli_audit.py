"""``riskloop audit``: verify the trail, sign a checkpoint, export with its proof."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import with_appcontext

from workflow.audit import anchors
from workflow.audit.checkpoints import anchor_fields, create_checkpoint
from workflow.audit.export import ExportScope, export_csv, export_jsonl
from workflow.errors import RiskloopError
from workflow.records.identity import Actor

from .extensions import db, runtime_of

CLI_ACTOR = Actor("system:cli", frozenset({"system"}))


@click.group("audit")
def audit_group() -> None:
    """Verify, checkpoint and export the audit trail."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--no-progress", is_flag=True, help="no progress bar (e.g. in logs)")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file of checkpoint anchor lines (as `audit checkpoint` prints and the "
    "instance's anchor file holds); each must match a checkpoint in the database. "
    "Default: RISKLOOP_AUDIT_ANCHOR_FILE when it exists",
)
@with_appcontext
def audit_verify(as_json: bool, no_progress: bool, anchor_file: Path | None) -> None:
    """Compare checkpoints with the anchor file, verify checkpoints, every hash chain, every
    head, replay every instance and check evidence files; exit 1 on any break."""
    from workflow.audit.verification import count_records, verify_all

    anchor = anchor_file or anchors.default_file(runtime_of().settings)
    if anchor is not None and not as_json:
        whose = "the anchor file" if anchor_file is not None else "the instance's anchor file"
        click.echo(f"comparing checkpoints with {whose} {anchor}")
    quiet = as_json or no_progress
    try:
        if quiet:
            report = verify_all(db.session, anchor=anchor)
        elif not sys.stderr.isatty():  # logs and pipes get a line every 10,000 records
            report = verify_all(db.session, progress=click.echo, anchor=anchor)
        else:
            total = count_records(db.session)
            with click.progressbar(
                length=max(total, 1),
                label="verifying audit records",
                file=sys.stderr,
                show_pos=True,
            ) as bar:
                done = [0]

                def advance(count: int) -> None:
                    bar.update(max(0, min(count, total) - done[0]))
                    done[0] = max(done[0], min(count, total))

                report = verify_all(db.session, on_records=advance, anchor=anchor)
    except RiskloopError as exc:
        raise click.ClickException(exc.detail) from exc
    for warning in report.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.ok:
        anchored = (
            f" ({report.anchored} anchored checkpoints matched)"
            if report.anchor_file is not None
            else ""
        )
        click.echo(
            f"audit trail verified: {report.records} records in {report.streams} streams, "
            f"{report.checkpoints} checkpoints{anchored}, {report.replayed} instances "
            "replayed"
        )
    else:
        brk = report.first_break
        assert brk is not None
        click.echo(f"BROKEN: stream {brk.stream} seq {brk.seq}: {brk.reason}", err=True)
    sys.exit(0 if report.ok else 1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Sign every stream head that moved since the last checkpoint (RISKLOOP_AUDIT_KEY),
    append it to the anchor file and print its anchor line to keep elsewhere."""
    try:
        checkpoint = create_checkpoint(db.session, CLI_ACTOR)
        seq, streams, signature = checkpoint.seq, checkpoint.streams, checkpoint.hmac
        line = anchors.anchor_line(anchor_fields(checkpoint))
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        raise click.ClickException(exc.detail) from exc
    click.echo(f"checkpoint {seq} signed {streams} stream heads")
    where = anchors.appended(db.session, seq)
    if where is not None:
        click.echo(f"anchored in {where}")
    else:
        click.echo(
            f"WARNING: checkpoint {seq} is not in an anchor file (RISKLOOP_AUDIT_ANCHOR_FILE "
            "is not set or cannot be written; see the log)",
            err=True,
        )
    click.echo(f"checkpoint {seq} hmac {signature}")
    click.echo(
        "Keep the next line outside this machine (a ticket, a mail, another host); "
        "`riskloop audit verify --anchor FILE` checks a file of such lines:"
    )
    click.echo(line)


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter("use ISO 8601, e.g. 2026-01-31T00:00:00Z") from exc
    if parsed.tzinfo is not None:
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


@audit_group.command("export")
@click.option("--instance", "instance_id", type=int, help="one workflow instance")
@click.option(
    "--client", "client_id", type=int, help="one client: its stream and every case about it"
)
@click.option("--since", help="time range start (ISO 8601, UTC unless an offset is given)")
@click.option("--until", help="time range end (exclusive)")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="file to write (default: standard output)",
)
@with_appcontext
def audit_export(
    instance_id: int | None,
    client_id: int | None,
    since: str | None,
    until: str | None,
    fmt: str,
    output: IO[str],
) -> None:
    """Export records with their chain proof; re-check a JSON Lines export offline with
    `riskloop-verify-export FILE` (or `python -m workflow.audit.offline_verifier FILE`)."""
    scope = ExportScope(
        instance_id=instance_id, client_id=client_id, since=_when(since), until=_when(until)
    )
    if scope == ExportScope():
        raise click.UsageError("choose what to export: --instance, --client and/or --since/--until")
    lines: Any
    try:
        lines = (
            export_jsonl(db.session, scope, CLI_ACTOR)
            if fmt == "jsonl"
            else export_csv(db.session, scope, CLI_ACTOR)
        )
        for line in lines:
            output.write(line)
    except RiskloopError as exc:
        raise click.ClickException(exc.detail) from exc
    output.flush()
