"""The ``riskloop`` command line, built on Flask's CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from workflow.accounts import users as accounts
from workflow.engine.definitions import Definition, load_folder
from workflow.errors import RiskloopError
from workflow.records.identity import Actor
from workflow.risk import plugin

from . import composition, create_app
from .extensions import db, runtime_of

log = logging.getLogger(__name__)
CLI_ACTOR = Actor("system:cli", frozenset({"system"}))


def _create_app() -> object:
    from workflow.errors import ConfigurationError, DefinitionError

    try:
        return create_app()
    except ConfigurationError as exc:  # a missing or malformed key: say which, no traceback
        raise click.ClickException(str(exc)) from exc
    except DefinitionError as exc:  # e.g. a file changed without a new version: file, key, fix
        raise click.ClickException(exc.detail) from exc


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    load_dotenv=False,
    add_version_option=False,
)
def main() -> None:
    """riskloop: workflow and approval engine for customer-risk management."""
    from .logging_setup import configure

    configure()


main.add_command(shell_command)
main.add_command(routes_command)


def _db_group() -> click.Group:
    """Flask-Migrate's ``db`` commands, with ``upgrade`` also recording the definitions."""
    from flask_migrate.cli import db as migrate_db

    group = click.Group(
        "db", help=migrate_db.help, params=migrate_db.params, callback=migrate_db.callback
    )
    for name, command in migrate_db.commands.items():
        if name != "upgrade":
            group.add_command(command, name)
    original = migrate_db.commands["upgrade"]

    @click.pass_context
    def upgrade(ctx: click.Context, **kwargs: object) -> None:
        ctx.invoke(original, **kwargs)
        from . import sync_definitions

        sync_definitions(current_app)

    group.add_command(
        click.Command(
            "upgrade",
            callback=with_appcontext(upgrade),
            params=original.params,
            help="Upgrade to a later version, then record new definition versions.",
        )
    )
    return group


main.add_command(_db_group())


def upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=str(Path(__file__).parent / "migrations"))
    from . import sync_definitions

    sync_definitions(current_app)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("PORT", "5000")),
    show_default="5000 or $PORT",
)
@click.option("--threads", type=int, default=8, show_default=True, help="HTTP threads")
@click.option(
    "--no-demo", is_flag=True, help="Do not create demo users and data in an empty database"
)
@with_appcontext
def run_command(host: str, port: int, threads: int, no_demo: bool) -> None:
    """Run the embedded all-in-one server: migrate, API, console, worker, scheduler."""
    from waitress import serve

    from .worker import EmbeddedServices

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade_database()
    if not no_demo:
        from . import demo

        demo.ensure_demo(app, echo=click.echo)
    # The serving threads use sessions of their own: release this thread's connection
    # (an open SQLite transaction would hold the database's write lock while serving).
    db.session.remove()
    services = None
    if app.config.get("REDIS_URL") is None and app.config["RISKLOOP_EMBEDDED_WORKER"]:
        services = EmbeddedServices(app, threads=app.config["RISKLOOP_WORKER_THREADS"])
        services.start()
    click.echo(
        f"riskloop is serving on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)"
    )
    try:
        serve(app, host=host, port=port, threads=threads, ident="riskloop", _quiet=True)
    finally:
        if services is not None:
            services.stop()


@main.command("worker")
@click.option(
    "--processes", type=int, default=lambda: int(os.environ.get("RISKLOOP_WORKER_PROCESSES", "1"))
)
@click.option(
    "--threads", type=int, default=lambda: int(os.environ.get("RISKLOOP_WORKER_THREADS", "4"))
)
@with_appcontext
def worker_command(processes: int, threads: int) -> None:
    """Run Dramatiq workers against REDIS_URL (SIGTERM lets running messages finish)."""
    import dramatiq

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        raise click.ClickException(
            "riskloop worker needs REDIS_URL; in embedded mode "
            "`riskloop run` runs its own in-process worker"
        )
    if processes > 1:
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "api.cli",
                    "worker",
                    "--processes",
                    "1",
                    "--threads",
                    str(threads),
                ]
            )
            for _ in range(processes)
        ]

        def forward(signum: int, _frame: object) -> None:
            for child in children:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        sys.exit(max(child.wait() for child in children))
    broker = app.extensions["riskloop"]["broker"]
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=1000)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    click.echo(f"worker started with {threads} threads (pid {os.getpid()})")
    stop.wait()
    click.echo("stopping: letting running messages finish")
    worker.stop(timeout=30000)


@main.command("scheduler")
@click.option("--interval", type=float, default=1.0, show_default=True)
@click.option(
    "--redeliver-after",
    type=float,
    show_default="30 or $RISKLOOP_OUTBOX_REDELIVER_SECONDS",
    default=lambda: float(os.environ.get("RISKLOOP_OUTBOX_REDELIVER_SECONDS", "30")),
    help="re-send outbox messages still pending after this many seconds",
)
@with_appcontext
def scheduler_command(interval: float, redeliver_after: float) -> None:
    """Claim due timers, arm cron-like jobs and relay the outbox (several may run)."""
    from datetime import timedelta

    from workflow.background.scheduler import Scheduler

    rt = runtime_of()
    scheduler = Scheduler(
        rt.session_factory,
        rt.catalog.registry,
        rt.settings,
        interval=interval,
        redeliver_after=timedelta(seconds=redeliver_after),
    )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    signal.signal(signal.SIGINT, lambda *_: scheduler.stop())
    thread = scheduler.start()
    click.echo(f"scheduler started (pid {os.getpid()})")
    while thread.is_alive():
        thread.join(0.5)


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create demo users and data (only in an empty database)."""
    from . import demo

    upgrade_database()
    if not demo.ensure_demo(current_app, echo=click.echo):
        click.echo("the database already has users; demo data not created")


@main.group("users")
def users_group() -> None:
    """Manage users and roles."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="repeat for several roles")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--display-name", default="")
@click.option("--email", default=None)
@with_appcontext
def users_create(
    name: str, roles: tuple[str, ...], password_stdin: bool, display_name: str, email: str | None
) -> None:
    """Create user NAME with one or more roles."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.create_user(
            db.session,
            name,
            password,
            list(roles),
            by=CLI_ACTOR,
            display_name=display_name,
            email=email,
        )
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        errors = exc.extra.get("errors")
        raise click.ClickException(
            f"{exc.detail}{': ' + json.dumps(errors, ensure_ascii=False) if errors else ''}"
        ) from exc
    click.echo(f"created user {name} with roles {', '.join(sorted(set(roles)))}")


def _change_user(change: Callable[[], object], success: str) -> None:
    try:
        change()
        db.session.commit()
    except RiskloopError as exc:
        db.session.rollback()
        errors = exc.extra.get("errors")
        raise click.ClickException(
            f"{exc.detail}{': ' + json.dumps(errors, ensure_ascii=False) if errors else ''}"
        ) from exc
    click.echo(success)


@users_group.command("deactivate")
@click.argument("name")
@with_appcontext
def users_deactivate(name: str) -> None:
    """Deactivate user NAME: no sign-in; every token and console session of theirs ends."""
    _change_user(
        lambda: accounts.set_active(db.session, name, False, by=CLI_ACTOR),
        f"deactivated user {name}; their tokens and console sessions are revoked",
    )


@users_group.command("activate")
@click.argument("name")
@with_appcontext
def users_activate(name: str) -> None:
    """Reactivate user NAME (they sign in again; old tokens and sessions stay revoked)."""
    _change_user(
        lambda: accounts.set_active(db.session, name, True, by=CLI_ACTOR), f"activated user {name}"
    )


@users_group.command("roles")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="repeat for several roles")
@with_appcontext
def users_roles(name: str, roles: tuple[str, ...]) -> None:
    """Replace the roles of user NAME (their console sessions end: they sign in again)."""
    _change_user(
        lambda: accounts.set_roles(db.session, name, list(roles), by=CLI_ACTOR),
        f"user {name} now has roles {', '.join(sorted(set(roles)))}",
    )


@main.group("definitions")
def definitions_group() -> None:
    """Workflow definitions."""


@definitions_group.command("check")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def definitions_check(folder: Path | None) -> None:
    """Validate every definition in FOLDER (default: the configured folder)."""
    from .config import default_definitions_dir

    folder = folder or Path(os.environ.get("RISKLOOP_DEFINITIONS", default_definitions_dir()))
    catalog = composition.catalog(
        *composition.named_registries(os.environ.get("RISKLOOP_REGISTRIES", ""))
    )
    try:
        loaded = load_folder(folder, catalog.registry, catalog.policy)
        for definition in loaded:
            catalog.add(definition)
        plugin.check(catalog, dict(os.environ))  # push channels, as at start-up
    except RiskloopError as exc:
        raise click.ClickException(exc.detail) from exc
    changed = _changed_since_loaded(loaded)
    if changed:
        raise click.ClickException("; ".join(changed))
    for definition in loaded:
        click.echo(
            f"ok  {definition.file}: {definition.name} v{definition.version} "
            f"({len(definition.states)} states, {len(definition.transitions)} transitions)"
        )
    rules = folder / "rules"
    if rules.is_dir():
        from workflow.risk.events.monitoring import load_monitoring_rules
        from workflow.risk.screening.rules import load_rule_set

        for path in sorted(rules.glob("*.yaml")):
            try:
                # monitoring.yaml holds the monitoring rules; every other file is a rule set
                if path.name == "monitoring.yaml":
                    monitoring = load_monitoring_rules(str(path))
                    found = (
                        f"{monitoring.name} v{monitoring.version} ({len(monitoring.rules)} rules)"
                    )
                else:
                    rule_set = load_rule_set(path)
                    found = f"{rule_set.name} v{rule_set.version}"
            except RiskloopError as exc:
                raise click.ClickException(exc.detail) from exc
            click.echo(f"ok  rules/{path.name}: {found}")


from .cli_definitions import definitions_migrate, definitions_migrate_revert  # noqa: E402

definitions_group.add_command(definitions_migrate)
definitions_group.add_command(definitions_migrate_revert)


def _changed_since_loaded(loaded: list[Definition]) -> list[str]:
    """Files whose version the database already holds with other content (a
    change needs a new version), so ``check`` fails before a deployment would."""
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import OperationalError

    from workflow.records.models import DefinitionRecord

    try:
        if not inspect(db.engine).has_table("definitions"):
            return []
        stored = {
            (r.name, r.version): r.content_hash
            for r in db.session.execute(select(DefinitionRecord)).scalars()
        }
    except OperationalError:
        click.echo("note: the database does not answer; versions not compared with it", err=True)
        return []
    problems = []
    for definition in loaded:
        known = stored.get((definition.name, definition.version))
        if known is not None and known != definition.content_hash:
            latest = max(v for (n, v) in stored if n == definition.name)
            problems.append(
                f"{definition.file}: version: {definition.name} v{definition.version} changed since "
                f"it was loaded (content hash {known[:12]}… → {definition.content_hash[:12]}…); "
                f"raise version to {max(latest, definition.version) + 1} to publish the change"
            )
    return problems


from .cli_audit import audit_group  # noqa: E402  (verify, checkpoint, export)

main.add_command(audit_group)


@main.group("keys")
def keys_group() -> None:
    """Encryption keys."""


@keys_group.command("generate")
def keys_generate() -> None:
    """Print a new key for RISKLOOP_ENCRYPTION_KEYS (put it first to rotate)."""
    from workflow.platform.crypto import generate_key

    click.echo(generate_key())


from .cli_ops import backup_command, restore_command  # noqa: E402

main.add_command(backup_command)
main.add_command(restore_command)  # noqa: E702


from .cli_clients import register as _register_clients  # noqa: E402

_register_clients(main)

from .cli_config import register as _register_config  # noqa: E402

_register_config(main)

if __name__ == "__main__":
    main()
