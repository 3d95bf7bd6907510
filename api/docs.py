"""Offline API docs: Swagger UI's files served from the installed wheel, no CDN."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
STATIC = Path(__file__).parent / "static"

blp = Blueprint("docs_assets", __name__)


@blp.get("/api/docs/static/<path:filename>")
def swagger_asset(filename: str) -> Response:
    if filename == "docs-init.js":
        return send_from_directory(STATIC, filename, max_age=3600)
    return send_from_directory(SWAGGER_DIST, filename, max_age=86400)
