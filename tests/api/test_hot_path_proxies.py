"""An approve's own code reads the request, ``g`` and the app directly: a read through
Flask's context proxies builds and discards an AttributeError first (api.contexts)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

from flask import Flask

from tests.support.app import Api, submitted_approval

API = Path(__file__).resolve().parents[2] / "api"


def test_an_approve_reads_nothing_through_a_context_proxy_in_the_api_s_code(
    app: Flask, api: Api
) -> None:
    case = submitted_approval(app, api)
    api.token("risk1")
    through_proxies: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or not frame.f_code.co_filename.endswith("werkzeug/local.py"):
            return
        if frame.f_code.co_name != "__get__":  # _ProxyLookup: an attribute of a proxy
            return
        caller = frame.f_back
        if caller is not None and Path(caller.f_code.co_filename).is_relative_to(API):
            through_proxies.append(f"{caller.f_code.co_filename}:{caller.f_lineno}")

    sys.setprofile(profile)
    try:
        r = api.act("risk1", case, "approve", amount=5000, expected_version=2)
    finally:
        sys.setprofile(None)
    assert r.status_code == 200, r.get_json()
    assert through_proxies == []
