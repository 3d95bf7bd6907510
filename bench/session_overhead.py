"""CPU a transaction's bookkeeping costs, by layer: ORM session, Core connection, driver.

Not a section of ``bench.run``: a tool for the hot path (issue #20), beside
``bench.hot_profile``. Each variant runs the same one-statement transaction
(``SELECT 1`` on the driver's cursor, as ``workflow.platform.driver`` runs the hot
path's statements, then COMMIT) on a PostgreSQL connection, one client, and reports
the thread's CPU per transaction in microseconds:

- ``session``: an ORM ``Session`` on the engine, as ``fire()`` and a request use it
  (``session.connection()`` checks a connection out of the pool and begins,
  ``commit()`` commits, ends the session's transaction and checks it back in);
- ``session_on_connection``: the session bound to a ``Connection`` held across
  transactions (no pool checkout and check-in per transaction);
- ``session_core_commit``: as ``session``, but a transaction in which the ORM was not
  used is committed on its Core ``Transaction`` directly (the session's ``after_commit``
  listeners called, then ``session.close()``) instead of by ``Session.commit()`` — the
  fourth pass's experiment, not kept (README, Performance);
- ``connection``: a Core ``Connection`` per transaction, no session;
- ``driver``: the psycopg connection alone (cursor, execute, commit): the floor.

The variants alternate round by round (the machine is shared), the median round of
each is kept. ``python -m bench.session_overhead [n] [rounds]``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from workflow.platform import driver

from .config import load

SQL = "SELECT 1"


def _per_transaction_us(step: Callable[[], None], n: int) -> float:
    t0 = time.thread_time()
    for _ in range(n):
        step()
    return (time.thread_time() - t0) * 1e6 / n


def _core_commit(session: Session) -> None:
    """Commit a root transaction the ORM did not use (nothing added, deleted or loaded) on
    its Core transaction; anything else by ``Session.commit()``."""
    transaction = session._transaction
    if (
        transaction is None
        or transaction._parent is not None
        or session._new
        or session._deleted
        or len(session.identity_map)
        or session.dispatch.before_commit
        or len(transaction._connections) != 1
    ):
        session.commit()
        return
    ((_connection, core, _should_commit, _autoclose),) = transaction._connections.values()
    core.commit()
    session.dispatch.after_commit(session)
    session.close()


def measure(n: int, rounds: int) -> dict[str, object]:
    settings = load()
    dbname = "postgres"
    engine = create_engine(settings.sqlalchemy_url(dbname), pool_size=2)
    held = engine.connect()
    raw = psycopg.connect(settings.dsn(dbname))
    session = Session(engine)
    bound = Session(bind=held)

    def with_session() -> None:
        driver.rows(session.connection(), SQL, {})
        session.commit()

    def with_session_on_connection() -> None:
        driver.rows(bound.connection(), SQL, {})
        bound.commit()

    core = Session(engine)

    def with_session_core_commit() -> None:
        driver.rows(core.connection(), SQL, {})
        _core_commit(core)

    def with_connection() -> None:
        with engine.connect() as connection:
            driver.rows(connection, SQL, {})
            connection.commit()

    def with_driver() -> None:
        cursor = raw.cursor()
        cursor.execute(SQL, {})
        cursor.fetchall()
        cursor.close()
        raw.commit()

    variants = {
        "session": with_session,
        "session_on_connection": with_session_on_connection,
        "session_core_commit": with_session_core_commit,
        "connection": with_connection,
        "driver": with_driver,
    }
    try:
        for step in variants.values():  # warm up: pool, caches
            _per_transaction_us(step, max(100, n // 10))
        runs: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, step in variants.items():
                runs[name].append(round(_per_transaction_us(step, n), 1))
    finally:
        session.close()
        bound.close()
        core.close()
        held.close()
        raw.close()
        engine.dispose()
    medians = {name: round(statistics.median(values), 1) for name, values in runs.items()}
    floor = medians["driver"]
    return {
        "cpu_us_per_transaction": medians,
        "over_driver_us": {name: round(v - floor, 1) for name, v in medians.items()},
        "runs": runs,
        "n": n,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    args = sys.argv[1:]
    n = int(args[0]) if args else 3000
    rounds = int(args[1]) if len(args) > 1 else 5
    print(json.dumps(measure(n, rounds), indent=2))


if __name__ == "__main__":
    main()
