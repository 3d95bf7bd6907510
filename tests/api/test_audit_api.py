"""Auditor views: search, verify, export, and the export re-verified offline."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from api.extensions import db
from tests.support.audit_history import AUDIT_KEY, HOUR, T0, checkpoint, export


@pytest.fixture
def app(loop_app: Flask) -> Flask:
    """This module's app also loads ``test_loop`` (the history is built on it)."""
    return loop_app


ROOT = Path(__file__).resolve().parents[2]


def search(api, user: str = "auditor1", **params):  # noqa: ANN201
    return api.get(user, "/api/v1/audit", query_string=params)


def test_search_filters_by_instance_trigger_actor_kind_and_time(api, history):
    red = search(api, instance_id=history["red"]).get_json()["items"]
    assert [r["seq"] for r in red] == [1, 2, 3, 4, 5, 6]
    assert [r["trigger"] for r in red[1:]] == ["respond", "rectify", "reopen", "rectify", "review"]
    reopen = search(api, trigger="reopen").get_json()["items"]
    assert [(r["stream"], r["actor"], r["comment"]) for r in reopen] == [
        (f"workflow:{history['red']}", "risk1", "整改不充分")
    ]
    by_sales2 = search(api, actor="sales2", stream=f"workflow:{history['yellow']}").get_json()[
        "items"
    ]
    assert [r["trigger"] for r in by_sales2] == [None, "respond", "rectify"]
    window = search(
        api,
        since=(T0 + 24 * HOUR).isoformat() + "Z",
        until=(T0 + 55 * HOUR).isoformat() + "Z",
        kind="transition",
    ).get_json()["items"]
    assert [r["trigger"] for r in window] == ["escalate", "respond"]


def test_search_pages_with_a_stable_cursor(api, history):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = search(api, kind="transition", **params).get_json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 10 and seen == sorted(set(seen))


def test_logins_are_audited_with_their_source_address(api, client, history):
    client.post("/api/v1/auth/token", json={"username": "risk2", "password": "wrong-password"})
    api.token("risk2")
    records = search(api, stream="user:risk2").get_json()["items"]
    assert [r["kind"] for r in records][-2:] == ["login.failed", "login.succeeded"]
    assert all(r["payload"]["source"] == "127.0.0.1" for r in records[-2:])


def test_search_refuses_malformed_filters_and_anyone_but_auditors(api, history):
    unknown = search(api, colour="red")
    assert unknown.status_code == 400 and unknown.get_json()["type"].endswith("bad-query")
    assert unknown.get_json()["errors"] == {"colour": ["Unknown query parameter."]}
    for params in (
        {"since": "not-a-time"},
        {"instance_id": "x"},
        {"cursor": "abc"},
        {"limit": "100000"},
    ):
        r = search(api, **params)
        assert r.status_code == 422, params
        assert r.get_json()["type"].endswith("validation") and set(r.get_json()["errors"]) == set(
            params
        )
    for user in ("risk1", "manager1", "admin"):
        assert search(api, user).status_code == 403
        assert api.get(user, "/api/v1/audit/verify").status_code == 403
        assert (
            api.get(user, f"/api/v1/audit/export?instance_id={history['red']}").status_code == 403
        )
    assert api.get(None, "/api/v1/audit").status_code == 401


def test_auditors_can_never_act_on_a_case(api, history):
    r = api.act("auditor1", history["open"], "rectify")
    assert r.status_code in (403, 404)
    assert search(api, instance_id=history["open"]).get_json()["items"][-1]["trigger"] == "respond"


def test_verify_reports_ok_with_checkpoints_then_names_a_tampered_record(app, api, history):
    checkpoint(app)
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is True and report["checkpoints"] == 1 and report["replayed"] == 3
    with app.app_context():
        from sqlalchemy import text

        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(
            text("UPDATE audit_records SET actor = 'mallory' WHERE stream = :s AND seq = 4"),
            {"s": f"workflow:{history['red']}"},
        )
        db.session.commit()
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is False
    assert report["first_break"]["stream"] == f"workflow:{history['red']}"
    assert report["first_break"]["seq"] == 4 and "altered" in report["first_break"]["reason"]


def test_verify_warns_without_a_checkpoint_and_compares_the_instances_anchor_file(
    app, api, history
):
    unsigned = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert unsigned["ok"] is True
    assert [w.split(":")[0] for w in unsigned["warnings"]] == ["NO CHECKPOINT", "NO ANCHOR"]
    checkpoint(app)
    checkpoint(app)
    assert api.get("auditor1", "/api/v1/audit/verify").get_json()["warnings"] == []
    with app.app_context():
        from sqlalchemy import text

        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text("DELETE FROM audit_checkpoint_heads WHERE checkpoint_seq = 2"))
        db.session.execute(text("DELETE FROM audit_checkpoints WHERE seq = 2"))
        db.session.commit()
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is False and report["first_break"]["stream"] == "checkpoint:2"
    assert "cut checkpoint chain" in report["first_break"]["reason"]


def offline_verify(
    tmp_path: Path,
    content: bytes,
    key: str | None = AUDIT_KEY,  # noqa: ANN201
    key_file_text: str | None = None,
):
    """Run the verifier as an auditor would: two stdlib-only modules (and their packages' docstrings), no site-packages, no database."""
    kit = tmp_path / "kit"
    for name in (
        "__init__.py",
        "records/__init__.py",
        "records/chain.py",
        "audit/__init__.py",
        "audit/offline_verifier.py",
    ):
        (kit / "workflow" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "workflow" / name, kit / "workflow" / name)
    target = tmp_path / "export.jsonl"
    target.write_bytes(content)
    args = [sys.executable, "-S", "-m", "workflow.audit.offline_verifier", str(target)]
    if key_file_text is not None:
        (tmp_path / "keys.json").write_text(key_file_text)
        args += ["--key-file", str(tmp_path / "keys.json")]
    elif key is not None:
        (tmp_path / "audit.key").write_text(key)
        args += ["--key-file", str(tmp_path / "audit.key")]
    return subprocess.run(
        args, cwd=kit, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
    )


def test_an_instance_export_is_re_verified_offline_and_any_edit_is_caught(
    app, api, history, tmp_path
):
    checkpoint(app)
    content = export(api, instance_id=history["red"])
    rows = [json.loads(line) for line in content.decode("utf-8").splitlines()]
    assert [r["type"] for r in rows] == ["header", "proof"] + ["record"] * 6 + ["footer"]
    assert rows[1]["seq"] == 6 and rows[1]["checkpoint"] == 1
    ok = offline_verify(tmp_path, content)
    assert ok.returncode == 0, ok.stderr
    assert "verified 6 records in 1 streams; 6 proven" in ok.stdout

    edited = content.replace("整改不充分".encode(), "没问题".encode())
    broken = offline_verify(tmp_path, edited)
    assert broken.returncode == 1 and "seq 4" in broken.stderr and "altered" in broken.stderr

    lines = content.decode("utf-8").splitlines(keepends=True)
    cut = "".join(lines[:-2] + lines[-1:]).encode("utf-8")  # drop the last record
    broken = offline_verify(tmp_path, cut)
    assert broken.returncode == 1 and "cut tail" in broken.stderr

    assert offline_verify(tmp_path, content, key="another-key").returncode == 1
    unproven = offline_verify(tmp_path, content, key=None)
    assert unproven.returncode == 2 and "UNPROVEN" in unproven.stderr


def test_the_offline_verifier_reads_the_embedded_keys_json_and_refuses_a_bad_key_file(
    app, api, history, tmp_path
):
    """In embedded mode the audit key lives in instance/keys.json with the other generated keys."""
    checkpoint(app)
    content = export(api, instance_id=history["red"])
    keys = {"SECRET_KEY": "s", "RISKLOOP_ENCRYPTION_KEYS": "e", "RISKLOOP_AUDIT_KEY": AUDIT_KEY}
    ok = offline_verify(tmp_path, content, key_file_text=json.dumps(keys))
    assert ok.returncode == 0, ok.stderr
    assert "6 proven" in ok.stdout
    wrong = offline_verify(
        tmp_path, content, key_file_text=json.dumps({**keys, "RISKLOOP_AUDIT_KEY": "x"})
    )
    assert wrong.returncode == 1 and "HMAC" in wrong.stderr
    no_key = offline_verify(tmp_path, content, key_file_text=json.dumps({"SECRET_KEY": "s"}))
    assert no_key.returncode == 1 and "RISKLOOP_AUDIT_KEY" in no_key.stderr
    assert "Traceback" not in no_key.stderr
    target = tmp_path / "export.jsonl"
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "workflow.audit.offline_verifier",
            str(target),
            "--key-file",
            str(tmp_path / "nowhere.key"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "cannot use key file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_time_range_export_verifies_offline_and_notes_unsigned_records(
    app, api, history, tmp_path
):
    checkpoint(app)
    content = export(
        api, since=(T0 + 24 * HOUR).isoformat() + "Z", until=(T0 + 73 * HOUR).isoformat() + "Z"
    )
    rows = [json.loads(line) for line in content.decode("utf-8").splitlines()]
    assert rows[0]["complete_streams"] is False and rows[-1]["records"] == 6
    result = offline_verify(tmp_path, content)
    assert result.returncode == 0, result.stderr


def test_csv_export_has_a_bom_chinese_text_and_the_chain_proof(app, api, history):
    checkpoint(app)
    content = export(api, instance_id=history["red"], format="csv")
    text = content.decode("utf-8")
    assert text.startswith("\ufefftype,stream,seq,kind")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["type"] for r in rows] == ["proof"] + ["record"] * 6
    assert rows[4]["comment"] == "整改不充分" and rows[4]["prev_hash"] == rows[3]["hash"]
    assert rows[0]["hmac"] and rows[0]["hash"] == rows[6]["hash"]


def test_export_scopes_combine_and_an_unknown_instance_is_404(api, history):
    def records(**params) -> list[dict]:  # noqa: ANN003
        lines = export(api, **params).decode("utf-8").splitlines()
        return [json.loads(line) for line in lines if '"type": "record"' in line]

    late = (T0 + 5 * HOUR).isoformat() + "Z"
    assert [r["seq"] for r in records(instance_id=history["red"], since=late)] == [3, 4, 5, 6]
    everything = records()
    assert {r["stream"] for r in everything} >= {f"workflow:{i}" for i in history.values()}
    assert records(since=late, until=(T0 + HOUR).isoformat() + "Z") == []
    assert api.get("auditor1", "/api/v1/audit/export?instance_id=999999").status_code == 404
    assert api.get("auditor1", "/api/v1/audit/export?since=never").status_code == 422
    assert api.get("auditor1", "/api/v1/audit/export?scope=all").status_code == 400


def test_definition_and_rule_set_loads_are_audited_with_content_hashes(app, api):
    from api import sync_definitions

    with app.app_context():
        sync_definitions(app)  # a second start with the same content records nothing new
    loads = search(api, stream="system:definitions").get_json()["items"]
    assert {"test_approval", "test_loop"} <= {r["payload"]["name"] for r in loads}
    assert all(len(r["payload"]["content_hash"]) == 64 for r in loads)
    rules = search(api, stream="system:rule_sets").get_json()["items"]
    assert [r["kind"] for r in rules] == ["rule_set.loaded"]
    assert len(rules[0]["payload"]["content_hash"]) == 64
