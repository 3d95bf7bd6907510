"""Evidence for tests: a small PDF, uploads through the API to a due-diligence case collecting
evidence, and the files kept on disk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.app import Api
from tests.support.due_diligence import make_client, open_case

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def upload(
    api: Api,
    user: str,
    case_id: int,
    content: bytes = PDF,
    filename: str = "report.pdf",
    content_type: str = "application/pdf",
    **extra: Any,
):  # noqa: ANN201
    data = {"file": (io.BytesIO(content), filename, content_type), **extra}
    return api.post(
        user, f"/api/v1/workflows/{case_id}/evidence", data=data, content_type="multipart/form-data"
    )


def collecting_case(app: Flask, api: Api) -> int:
    case = open_case(api, make_client(app))
    api.act("risk1", case["id"], "start")
    return int(case["id"])


def stored_files(app: Flask) -> list[Path]:
    folder = Path(app.config["RISKLOOP_EVIDENCE_DIR"])
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
