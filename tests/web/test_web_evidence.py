"""Evidence files on the case page: uploads through the evidence service (CSRF, roles,
limits, types), cited by the action's payload, listed on the timeline with downloads
that are authorised like the API's."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

from flask import Flask

from api.extensions import db, runtime_of
from tests.support.app import Api
from tests.support.console import Console
from tests.support.due_diligence import make_client, open_case
from workflow.records.models import WorkflowInstance
from workflow.risk.due_diligence.evidence import Evidence

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
SHA = hashlib.sha256(PDF).hexdigest()


def pdf(
    name: str = "年报.pdf", content: bytes = PDF, content_type: str = "application/pdf"
) -> tuple[Any, str, str]:
    return (io.BytesIO(content), name, content_type)


def collecting_case(app: Flask, api: Api) -> int:
    case = open_case(api, make_client(app))
    assert api.act("risk1", case["id"], "start").status_code == 200
    return int(case["id"])


def stored(app: Flask, instance_id: int) -> list[Evidence]:
    with app.app_context():
        return list(db.session.query(Evidence).filter_by(instance_id=instance_id))


def files_on_disk(app: Flask) -> list[Path]:
    folder = Path(app.config["RISKLOOP_EVIDENCE_DIR"])
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def upload(console: Console, case_id: int, *files: tuple[Any, str, str], csrf: bool = True) -> Any:
    return console.post(
        f"/cases/{case_id}/evidence",
        {"files": list(files)},
        csrf=csrf,
        token_from=f"/cases/{case_id}",
        content_type="multipart/form-data",
    )


def test_an_upload_without_its_csrf_token_is_refused_and_nothing_is_stored(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    response = upload(console_factory("risk1"), case_id, pdf(), csrf=False)
    assert response.status_code == 400
    assert stored(app, case_id) == [] and files_on_disk(app) == []


def test_the_upload_form_shows_only_to_uploaders_and_others_are_refused(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    assert "data-upload" in console_factory("risk2").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "data-upload" not in console_factory("legal1").get(f"/cases/{case_id}").get_data(
        as_text=True
    )
    # legal sees the case but may not add to it; the client's sales owner neither; another
    # sales user does not even see the case.
    refused = upload(console_factory("legal1"), case_id, pdf())
    assert refused.status_code == 403
    assert "风控专员" in refused.get_data(as_text=True)  # who uploads, in the reader's language
    assert upload(console_factory("sales1"), case_id, pdf()).status_code == 403
    assert upload(console_factory("sales2"), case_id, pdf()).status_code == 404
    assert stored(app, case_id) == []


def test_a_file_over_the_limit_is_refused_with_the_limit_and_leaves_nothing(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    runtime_of(app).settings["RISKLOOP_EVIDENCE_MAX_BYTES"] = 4096
    try:
        risk = console_factory("risk1")
        # Under the request limit (limit + envelope) but over the file limit: the service refuses.
        response = upload(risk, case_id, pdf("big.pdf", b"%PDF" + b"x" * 5000))
        page = response.get_data(as_text=True)
        assert response.status_code == 413
        assert "big.pdf" in page and "4 KB" in page and "超过" in page
        # Over the request limit: refused before the form is read, with the same limit.
        response = upload(risk, case_id, pdf("huge.pdf", b"%PDF" + b"x" * 80_000))
        assert response.status_code == 413
        assert "4 KB" in response.get_data(as_text=True)
        assert "data-upload" in response.get_data(as_text=True)  # the case page, not a dead end
    finally:
        runtime_of(app).settings["RISKLOOP_EVIDENCE_MAX_BYTES"] = 20 * 1024 * 1024
    assert stored(app, case_id) == [] and files_on_disk(app) == []


def test_a_file_of_another_type_is_refused(console_factory, app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    response = upload(console_factory("risk1"), case_id, pdf("run.sh", b"#!/bin/sh\n", "text/x-sh"))
    assert response.status_code == 415
    assert "run.sh" in response.get_data(as_text=True)
    assert stored(app, case_id) == []


def test_an_uploaded_file_is_listed_in_the_timeline_and_downloads_for_readers_only(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    response = upload(console_factory("risk1"), case_id, pdf())
    assert response.status_code == 302, response.get_data(as_text=True)
    [row] = stored(app, case_id)
    assert row.sha256 == SHA and row.filename == "年报.pdf"
    link = f"/cases/{case_id}/evidence/{SHA}"
    page = console_factory("auditor1").get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = page[page.index('class="timeline"') :]
    assert f'href="{link}"' in timeline and "年报.pdf" in timeline
    for user in ("risk2", "auditor1", "legal1"):
        download = console_factory(user).get(link)
        assert download.status_code == 200 and download.data == PDF, user
        assert download.headers["Cache-Control"] == "private, no-store"
    # The client's sales owner sees the case but not its risk material, nor the file's name.
    owner = console_factory("sales1")
    assert owner.get(link).status_code == 403
    assert "年报.pdf" not in owner.get(f"/cases/{case_id}").get_data(as_text=True)
    assert console_factory("sales2").get(link).status_code == 404
    assert console_factory().get(link).status_code == 302  # signed out: to the login page


def alert_case(console_factory, app: Flask) -> int:  # noqa: ANN001
    client_id = make_client(app)
    response = console_factory("risk1").post(
        "/alerts",
        {"client_id": str(client_id), "level": "red", "category": "other", "title": "欠款"},
    )
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def fire(console: Console, case_id: int, trigger: str, data: dict[str, Any]) -> Any:
    page = console.get(f"/cases/{case_id}").get_data(as_text=True)
    version = re.search(r'data-version="(\d+)"', page).group(1)  # type: ignore[union-attr]
    return console.post(
        f"/cases/{case_id}/actions/{trigger}",
        {"expected_version": version, **data},
        token_from=f"/cases/{case_id}",
        content_type="multipart/form-data",
    )


def test_rectifying_an_alert_uploads_its_files_and_cites_their_hashes(
    console_factory, app: Flask
) -> None:
    case_id = alert_case(console_factory, app)
    sales = console_factory("sales1")
    assert (
        fire(sales, case_id, "respond", {"p_assessment": "核实", "p_plan": "结清"}).status_code
        == 302
    )
    page = sales.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'name="f_attachments"' in page and 'enctype="multipart/form-data"' in page
    response = fire(
        sales,
        case_id,
        "rectify",
        {"p_evidence": "已结清", "f_attachments": [pdf("回单.pdf"), pdf("空.pdf", b"%PDF-1")]},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        instance = db.session.get(WorkflowInstance, case_id)
        attachments = instance.data["rectification"]["attachments"]
    assert attachments == [SHA, hashlib.sha256(b"%PDF-1").hexdigest()]
    assert {e.filename for e in stored(app, case_id)} == {"回单.pdf", "空.pdf"}
    # The uploader and the reviewers download them; the timeline names them with links.
    assert sales.get(f"/cases/{case_id}/evidence/{SHA}").data == PDF
    page = console_factory("risk2").get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = page[page.index('class="timeline"') :]
    assert timeline.count(f'href="/cases/{case_id}/evidence/{SHA}"') == 2  # upload and rectify
    assert "回单.pdf" in timeline and "空.pdf" in timeline


def test_a_refused_action_keeps_the_uploaded_files_for_the_next_try(
    console_factory, app: Flask
) -> None:
    case_id = alert_case(console_factory, app)
    sales = console_factory("sales1")
    fire(sales, case_id, "respond", {"p_assessment": "核实", "p_plan": "结清"})
    response = fire(
        sales, case_id, "rectify", {"p_evidence": "", "f_attachments": [pdf("回单.pdf")]}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'name="p_attachments" value="{SHA}" checked', page)
    with app.app_context():
        assert db.session.get(WorkflowInstance, case_id).state == "responded"
    response = fire(sales, case_id, "rectify", {"p_evidence": "已结清", "p_attachments": SHA})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(WorkflowInstance, case_id).data["rectification"]["attachments"] == [
            SHA
        ]


def test_an_action_with_files_needs_csrf_and_the_right_person(console_factory, app: Flask) -> None:
    case_id = alert_case(console_factory, app)
    sales = console_factory("sales1")
    fire(sales, case_id, "respond", {"p_assessment": "核实", "p_plan": "结清"})
    data = {"p_evidence": "x", "f_attachments": [pdf()], "expected_version": "2"}
    response = sales.post(
        f"/cases/{case_id}/actions/rectify", data, csrf=False, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    # legal may not rectify: the files are not taken either.
    assert (
        fire(
            console_factory("legal1"),
            case_id,
            "rectify",
            {"p_evidence": "x", "f_attachments": [pdf()]},
        ).status_code
        == 403
    )
    assert stored(app, case_id) == [] and files_on_disk(app) == []


def checklist_form(**overrides: str) -> dict[str, Any]:
    items = ("basic_info", "financials", "reputation", "legal_records", "compliance")
    form: dict[str, Any] = {}
    for key in items:
        form[f"cl-{key}-finding"] = f"{key} 已核实"
        form[f"cl-{key}-risk"] = "low"
    form.update(overrides)
    return form


def test_the_checklist_is_a_form_of_the_definitions_items(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    risk = console_factory("risk1")
    page = risk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'name="p_checklist"' not in page  # no JSON to type any more
    for key, label in (
        ("basic_info", "基本信息"),
        ("financials", "财务状况"),
        ("compliance", "合规情况"),
    ):
        assert f'data-item="{key}"' in page and f"<legend>{label}</legend>" in page
        assert f'name="cl-{key}-risk" value="high"' in page and f'name="cl-{key}-files"' in page
    risk.post("/language", {"lang": "en", "next": f"/cases/{case_id}"})
    assert "<legend>Financial condition</legend>" in risk.get(f"/cases/{case_id}").get_data(
        as_text=True
    )


def test_an_incomplete_checklist_is_refused_by_the_engine_and_the_form_keeps_the_input(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    risk = console_factory("risk1")
    response = fire(
        risk,
        case_id,
        "submit_for_review",
        checklist_form(**{"cl-financials-finding": "  ", "cl-reputation-risk": "catastrophic"}),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    item = page[page.index('data-item="financials"') : page.index('data-item="reputation"')]
    assert "结论必填。" in item and 'class="err"' in item  # the engine's message, in Chinese
    item = page[page.index('data-item="reputation"') : page.index('data-item="legal_records"')]
    assert "请选择风险等级：低、中、高。" in item
    assert ">basic_info 已核实</textarea>" in page  # nothing typed is lost
    assert re.search(r'name="cl-basic_info-risk" value="low" required checked', page)
    with app.app_context():
        assert db.session.get(WorkflowInstance, case_id).state == "collecting"


def test_a_checklist_cites_files_uploaded_with_it_and_ones_already_on_the_case(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    risk = console_factory("risk1")
    assert upload(risk, case_id, pdf("营业执照.pdf", b"%PDF-licence")).status_code == 302
    licence = hashlib.sha256(b"%PDF-licence").hexdigest()
    page = risk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'name="cl-basic_info-evidence" value="{licence}"' in page
    response = fire(
        risk,
        case_id,
        "submit_for_review",
        checklist_form(
            **{
                "cl-basic_info-evidence": licence,
                "cl-financials-risk": "medium",
                "cl-financials-files": [pdf("年报.pdf")],
            }
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        instance = db.session.get(WorkflowInstance, case_id)
        checklist = instance.data["checklist"]
        assert instance.state == "under_review" and instance.data["overall_risk"] == "medium"
    assert checklist["basic_info"]["evidence"] == [licence]
    assert checklist["financials"] == {
        "finding": "financials 已核实",
        "risk": "medium",
        "evidence": [SHA],
    }
    page = console_factory("risk2").get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = page[page.index('class="timeline"') :]
    assert f'href="/cases/{case_id}/evidence/{licence}"' in timeline and "年报.pdf" in timeline
