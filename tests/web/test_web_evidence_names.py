"""The console's evidence downloads are named like the API's: the detected type's extension,
and nothing in a file name reaches the headers raw (issue #15)."""

from __future__ import annotations

from flask import Flask
from werkzeug.http import parse_options_header

from tests.support.app import Api
from tests.support.evidence import PDF, collecting_case, upload


def test_a_console_download_carries_the_detected_types_extension_and_a_safe_name(
    console_factory, app: Flask, api: Api
) -> None:  # noqa: ANN001
    case_id = collecting_case(app, api)
    body = upload(api, "risk1", case_id, PDF, "report\u202egpj.exe", "application/pdf").get_json()
    r = console_factory("risk2").get(f"/cases/{case_id}/evidence/{body['sha256']}")
    assert r.status_code == 200 and r.data == PDF
    kind, options = parse_options_header(r.headers["Content-Disposition"])
    assert kind == "attachment" and options["filename"] == "reportgpj.pdf"
