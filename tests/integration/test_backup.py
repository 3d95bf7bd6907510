"""`riskloop backup` while writes go on, `riskloop restore` into an empty database, and
`riskloop audit verify` on the copy; retention keeps the newest backups."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from api.cli import main
from tests.support.app import TEST_KEYS
from tests.support.databases import fresh_postgres
from tests.support.e2e_runtime import e2e_runtime
from tests.support.services import E2E_DEFINITIONS
from workflow.background import jobs
from workflow.engine import firing as engine
from workflow.platform import backup
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance

SALES = Actor("sales1", frozenset({"sales"}))
RISK = Actor("risk1", frozenset({"risk_officer"}))


def run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str):  # noqa: ANN201
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def _url(kind: str, stack: ExitStack, tmp_path: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"
    return stack.enter_context(fresh_postgres())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_while_writing_then_restore_and_verify(kind, tmp_path, monkeypatch):
    with ExitStack() as stack:
        source, target = (
            _url(kind, stack, tmp_path, "source"),
            _url(kind, stack, tmp_path, "target"),
        )
        env = {
            "DATABASE_URL": source,
            "RISKLOOP_INSTANCE_PATH": str(tmp_path / "instance"),
            "RISKLOOP_DEFINITIONS": str(E2E_DEFINITIONS),
            **TEST_KEYS,
        }
        monkeypatch.delenv("REDIS_URL", raising=False)
        assert run(env, monkeypatch, "db", "upgrade").exit_code == 0
        db = create_engine(source)
        rt = e2e_runtime(db)
        with rt.session_factory() as s:
            ids = [engine.start(s, "e2e_flow", SALES).id for _ in range(5)]
            s.commit()
        stop = threading.Event()
        fired = []

        def keep_writing() -> None:
            with rt.session_factory() as s:
                n = 0
                while not stop.is_set():
                    engine.fire(s, ids[n % len(ids)], "flag", RISK)
                    s.commit()
                    fired.append(n)
                    n += 1

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            folder = tmp_path / "backups"
            first = run(env, monkeypatch, "backup", "--dir", str(folder))
            second = run(env, monkeypatch, "backup", "--dir", str(folder), "--keep", "1")
        finally:
            stop.set()
            writer.join(30)
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        kept = backup.backups(folder)
        assert len(kept) == 1 and "1 older deleted" in second.output and fired

        restored = run({**env, "DATABASE_URL": target}, monkeypatch, "restore", str(kept[0]))
        assert restored.exit_code == 0, restored.output
        again = run({**env, "DATABASE_URL": target}, monkeypatch, "restore", str(kept[0]))
        assert again.exit_code != 0 and "not empty" in again.output
        verified = run({**env, "DATABASE_URL": target}, monkeypatch, "audit", "verify")
        assert verified.exit_code == 0, verified.output
        copy = create_engine(target)
        with copy.connect() as conn:
            instances = conn.scalar(select(func.count()).select_from(WorkflowInstance))
            records = conn.scalar(select(func.count()).select_from(AuditRecord))
        with db.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(AuditRecord))
        assert instances == 5 and 0 < records <= total
        copy.dispose()
        db.dispose()


def test_restore_refuses_a_backup_of_the_other_kind(tmp_path):
    fake = tmp_path / "riskloop-20260101T000000000000Z.pgdump"
    fake.write_bytes(b"not a dump")
    from workflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="restore a .sqlite backup into a SQLite"):
        backup.restore(fake, f"sqlite:///{tmp_path / 'x.sqlite'}")


def test_the_backup_job_is_registered_only_when_a_folder_is_configured():
    from workflow.engine.registry import Registry

    registry = Registry()
    jobs.enable_backups(registry)
    jobs.enable_backups(registry)  # idempotent: create_app may run more than once
    assert registry.jobs["backup"][1] == "RISKLOOP_BACKUP_CRON"
