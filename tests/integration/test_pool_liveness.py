"""The pool's liveness check (workflow.platform.liveness) on PostgreSQL: no ping for a
connection just returned, a ping for an idle one, and a dead idle one replaced unseen."""

from __future__ import annotations

import time

import psycopg
from sqlalchemy import create_engine, text

from tests.support.statements import statements_sent
from workflow.platform import liveness


def _url_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_an_idle_connection_cut_by_the_server_is_replaced_at_checkout(pg_url):
    engine = create_engine(
        pg_url, pool_size=1, max_overflow=0, pool_events=liveness.pool_events(idle_s=0.05)
    )
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(_url_dsn(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(0.1)  # idle longer than idle_s: checked at checkout
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_just_returned_is_not_pinged(pg_url):
    engine = create_engine(
        pg_url, pool_size=1, max_overflow=0, pool_events=liveness.pool_events(idle_s=60)
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with statements_sent() as sent, engine.connect() as conn:
            conn.execute(text("SELECT 2"))
        assert sent == ["SELECT 2"]
    finally:
        engine.dispose()
