"""The console's navigation: each area shown only when its page exists and the role fits."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext

from workflow.risk import labels

from .i18n import content_lang


@dataclass(frozen=True)
class Area:
    endpoint: str
    label: object
    key: str
    roles: frozenset[str]
    endpoints: tuple[str, ...] = ()


CHANGE_REQUESTS = "sensitive_edit"  # the definition the change-request list shows
ALL = frozenset({"sales", "risk_officer", "legal", "manager", "auditor", "admin"})
# An admin keeps accounts, not the client archive: no Clients area for them.
CLIENT_ROLES = ALL - {"admin"}
AREAS = (
    Area(
        "console.clients",
        lazy_gettext("Clients"),
        "c",
        CLIENT_ROLES,
        (
            "console.clients",
            "console.client",
            "console.new_client",
            "console.edit_client",
            "console.save_client",
            "console.import_clients",
            "console.run_client_import",
            "console.new_contract",
            "console.edit_contract",
        ),
    ),
    Area("console.cases", lazy_gettext("Cases"), "w", ALL, ("console.cases", "console.case")),
    Area("console.changes", lazy_gettext("Change requests"), "r", ALL, ()),
    Area("console.alerts", lazy_gettext("Alerts"), "a", ALL, ("console.alerts",)),
    Area(
        "console.dashboard",
        lazy_gettext("Dashboard"),
        "d",
        frozenset({"manager", "auditor", "risk_officer"}),
        ("console.dashboard",),
    ),
    Area(
        "console.audit",
        lazy_gettext("Audit"),
        "u",
        frozenset({"auditor", "manager"}),
        ("console.audit", "console.audit_loop", "console.audit_records", "console.audit_reads"),
    ),
    Area(
        "console.configuration",
        lazy_gettext("Configuration"),
        "g",
        frozenset({"risk_officer", "manager", "auditor", "admin"}),
        ("console.configuration", "console.config_kind"),
    ),
    Area(
        "console.watchlists",
        lazy_gettext("Watch lists"),
        "l",
        frozenset({"risk_officer", "manager", "auditor"}),
        ("console.watchlists", "console.watchlist_entries", "console.watchlist_imports"),
    ),
    Area("console.users", lazy_gettext("Users"), "m", frozenset({"admin"}), ("console.users",)),
    Area(
        "console.notifications", lazy_gettext("Notifications"), "n", ALL, ("console.notifications",)
    ),
)


def console_nav() -> list[dict[str, object]]:
    actor = getattr(g, "console_actor", None)
    if actor is None:
        return []
    return [
        {
            "url": url_for(a.endpoint),
            "label": a.label,
            "key": a.key,
            "endpoints": (a.endpoint, *a.endpoints),
            "on": _is_on(a),
        }
        for a in AREAS
        if a.endpoint in current_app.view_functions and actor.has_any(a.roles)
    ]


def _is_on(area: Area) -> bool:
    """The area the page belongs to; the change-request list is the case list filtered."""
    changes = (
        request.endpoint == "console.cases" and request.args.get("definition") == CHANGE_REQUESTS
    )
    if area.endpoint == "console.changes":
        return changes
    return request.endpoint in (area.endpoint, *area.endpoints) and not (
        changes and area.endpoint == "console.cases"
    )


def role_label(role: str) -> str:
    """A role in words (``workflow/risk/labels.py``)."""
    return labels.word(labels.ROLES, role, content_lang())
