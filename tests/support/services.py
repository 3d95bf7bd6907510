"""Real processes for the end-to-end proofs, all on 127.0.0.1 and all stopped by the tests.

gunicorn, ``riskloop worker`` and ``riskloop scheduler`` run as child processes
with the production settings (PostgreSQL, Redis, keys from the environment);
private redis-server and PostgreSQL clusters are started on free ports for the
outage proofs, so the shared services on 5432/6379 are never stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest
import requests

from tests.support.app import PASSWORD, TEST_KEYS, USERS
from tests.support.databases import IN_CI, require

ROOT = Path(__file__).resolve().parents[2]
E2E_DEFINITIONS = ROOT / "tests" / "fixtures" / "e2e_definitions"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def environment(
    database_url: str, redis_url: str | None, tmp: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKLOOP_", "GUNICORN_"))}
    env.update(TEST_KEYS)
    env.update(
        {
            "DATABASE_URL": database_url,
            "RISKLOOP_INSTANCE_PATH": str(tmp / "instance"),
            # Only the e2e workflow: the proofs do not depend on the feature workflows.
            "RISKLOOP_DEFINITIONS": str(E2E_DEFINITIONS),
            "RISKLOOP_EMBEDDED_WORKER": "0",
            "RISKLOOP_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def riskloop(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"riskloop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    )
    return done


def create_users(database_url: str) -> None:
    """The standard test users (cheap argon2 parameters travel inside each hash)."""
    from sqlalchemy import create_engine

    from api import composition
    from workflow.accounts import users as accounts
    from workflow.records.identity import Actor

    engine = create_engine(database_url)
    with composition.build_runtime(engine, {}).session() as session:
        for name, roles in USERS.items():
            accounts.create_user(session, name, PASSWORD, roles, by=Actor.system("e2e"))
        session.commit()
    engine.dispose()


class Process:
    """A child process whose output goes to a log file (shown when a proof fails)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            self.proc.send_signal(signum)

    def stop(self, timeout: float = 20) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def gunicorn(
    env: dict[str, str],
    log_dir: Path,
    *,
    workers: int = 2,
    threads: int = 4,
    boot_timeout: float = 60,
) -> tuple[Process, str]:
    port = free_port()
    proc = Process(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "api:create_app()",
        ],
        env,
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.alive(), f"gunicorn exited:\n{proc.tail()}"
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, boot_timeout, "gunicorn to answer /healthz")
    return proc, base


def worker(
    env: dict[str, str], log_dir: Path, name: str = "worker", threads: int = 4, processes: int = 1
) -> Process:
    return Process(
        name,
        [
            sys.executable,
            "-m",
            "api.cli",
            "worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
        env,
        log_dir,
    )


def scheduler(
    env: dict[str, str], log_dir: Path, name: str = "scheduler", interval: float = 0.2
) -> Process:
    return Process(
        name,
        [sys.executable, "-m", "api.cli", "scheduler", "--interval", str(interval)],
        env,
        log_dir,
    )


def token(base: str, username: str) -> str:
    r = requests.post(
        base + "/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@contextmanager
def private_redis(tmp: Path) -> Iterator[tuple[str, int, Process]]:
    """A redis-server of our own on a free port (stoppable without touching the shared one)."""
    require("redis-server", shutil.which("redis-server") is not None)
    port = free_port()
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
    ]
    proc = Process(f"redis-{port}", argv, dict(os.environ), tmp)
    wait_for(lambda: port_open(port), 10, "redis-server to listen")
    try:
        yield f"redis://127.0.0.1:{port}/0", port, proc
    finally:
        proc.stop()


def start_redis_again(tmp: Path, port: int) -> Process:
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
    ]
    proc = Process(f"redis-{port}-again", argv, dict(os.environ), tmp)
    wait_for(lambda: port_open(port), 10, "redis-server to listen again")
    return proc


def _pg_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb) in a temporary folder on a free port."""

    def __init__(self) -> None:
        bindir = _pg_bin()
        if bindir is None:
            if IN_CI:
                pytest.fail("initdb (postgresql server binaries) is required under CI=true")
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="riskloop-pg-"))
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.dir / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def report(title: str, **figures: object) -> None:
    """What a proof did and what held, printed for the CI log (pytest -s or -rA shows it)."""
    line = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[e2e] {title}: {line}")
