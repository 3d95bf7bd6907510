"""The per-client risk report as a document: print-ready HTML (``report.html``) or a PDF
(reportlab, with its built-in CID font ``STSong-Light`` so Chinese prints without a
font file), both worded in the current language from the same portrait data
(``workflow.risk.events.portrait``). The console and the API serve it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from flask import Response, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from .i18n import (
    amount,
    choice_label,
    content_lang,
    event_type_label,
    field_label,
    industry_label,
    label,
    level_label,
    rating_outcome_label,
    status_label,
    when,
)

FORMATS = ("pdf", "html")
LANGS = {"zh-CN": "zh_CN", "en": "en"}
FONT = "STSong-Light"


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Word everything inside in ``lang`` (``zh-CN`` or ``en``), whatever the session says."""
    with force_locale(LANGS[lang]):
        yield


def filename(data: dict[str, Any], kind: str) -> str:
    return f"risk-report-{data['client']['id']}-{content_lang()}.{kind}"


def html(data: dict[str, Any]) -> str:
    return render_template(
        "report.html",
        report=data,
        sections=sections(data),
        is_code=lambda value: isinstance(value, Code),
    )


class Code(str):
    """A cell that is an identifier (a rule's id): set as code in the HTML."""

    __slots__ = ()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return "—" if value is None or value == "" else str(value)


def _registration(name: str, value: Any) -> str:
    if name == "registered_capital":
        return amount(value)
    if name == "ownership_type":
        return choice_label(value) or "—"
    if name == "industry":
        return industry_label(value)
    return _text(value)


def sections(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables as (title, header, rows) of words: the PDF and the HTML print
    the same cells."""
    c, r = data["client"], data["rating"]
    explanation = r.get("explanation") or {}
    registration = data["background"]["registration"]
    overview = [
        [_("Status"), status_label(c.get("status"))],
        [_("Rating"), _text(r.get("rating"))],
        [_("Risk level"), level_label(r["risk_level"]) if r.get("risk_level") else "—"],
        [_("Risk score"), _text(r.get("risk_score"))],
        [_("Credit limit"), amount(r.get("credit_limit"))],
        [_("Owner"), _text(c.get("owner"))],
        [_("Tags"), "、".join(data["tags"]["manual"]) or "—"],
        [_("System risk tags"), "、".join(t["tag"] for t in data["tags"]["system"]) or "—"],
    ]
    if c.get("erased_at"):
        overview.append([_("Personal data erased (PIPL)"), when(c["erased_at"], "short")])
    background = [
        [field_label(name), _registration(name, value)] for name, value in registration.items()
    ]
    why: list[list[str]] = [
        [Code(rule.get("id", "")), _text(rule.get("rating")), label(rule.get("reason"))]
        for rule in explanation.get("fired_rules") or []
    ]
    why += [["", "", note] for note in explanation.get("notes") or []]
    if explanation.get("change_request"):
        why.append(
            [
                "",
                _text(r.get("rating")),
                _(
                    "Set by the dual-approval change request #%(id)s.",
                    id=explanation["change_request"],
                ),
            ]
        )
    if (
        explanation
        and not explanation.get("change_request")
        and explanation.get("decided_by") != "rule"
        and r.get("risk_score") is not None
    ):
        why.append(
            [
                "",
                _text(r.get("rating")),
                _(
                    "Scorecard score %(score)s gives rating %(rating)s.",
                    score=r["risk_score"],
                    rating=r["rating"],
                ),
            ]
        )
    if not explanation and r.get("rating"):
        why.append(["", _text(r.get("rating")), stale_note()])

    def events(rows: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [when(e["occurred_at"], "short"), event_type_label(e["type"]), e["title"]] for e in rows
        ]

    event_header = [_("When"), _("Type"), _("Title")]
    return [
        (_("Overview"), [_("Item"), _("Value")], overview),
        (_("Why this rating"), [_("Rule"), _("Rating"), _("Reason")], why),
        (_("Business background"), [_("Item"), _("Value")], background),
        (_("Litigation and court records"), event_header, events(data["legal"]["events"])),
        (_("News and events"), event_header, events(data["events"])),
        (
            _("Alerts"),
            [_("Raised"), _("Level"), _("Title")],
            [
                [when(a["created_at"], "short"), level_label(a["level"]), a["title"]]
                for a in data["alerts"]
            ],
        ),
        (
            _("Rating history"),
            [
                _("When"),
                _("Rating"),
                _("Risk level"),
                _("Risk score"),
                _("Credit limit"),
                _("Outcome"),
            ],
            [
                [
                    when(x["rated_at"], "short"),
                    x["rating"],
                    level_label(x["risk_level"]),
                    _text(x["risk_score"]),
                    amount(x["credit_limit"]),
                    rating_outcome_label(x["outcome"]),
                ]
                for x in reversed(data["ratings"])
            ],
        ),
        (
            _("Contracts"),
            [_("Number"), _("Amount"), _("Starts"), _("Ends")],
            [
                [
                    _text(k.get("number")),
                    amount(k.get("amount")),
                    _text(k.get("start")),
                    _text(k.get("end")),
                ]
                for k in data["contracts"]
            ],
        ),
    ]


def stale_note() -> str:
    return _(
        "The rating or limit changed after the last evaluation on record (for example by an "
        "approved edit): its reasons no longer describe the current values and are not shown."
    )


def pdf(data: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = FONT  # type: ignore[attr-defined]
    cell = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    title = f"{data['client']['name']} · {_('Risk report')}"
    story: list[Any] = [
        Paragraph(_escape(title), styles["Title"]),
        Paragraph(_escape(_("Generated %(at)s", at=when(data["generated_at"], "short"))), cell),
    ]
    for heading, header, rows in sections(data):
        story += [Spacer(1, 4 * mm), Paragraph(_escape(heading), styles["Heading2"])]
        if not rows:
            story.append(Paragraph(_escape(_("None.")), cell))
            continue
        table = Table(
            [[Paragraph(_escape(str(v)), cell) for v in row] for row in [header, *rows]],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=A4, title=title, author="riskloop", leftMargin=15 * mm, rightMargin=15 * mm
    ).build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    # Paragraph reads a little markup: user text must not be taken for it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def response(data: dict[str, Any], kind: str) -> Response:
    """The report as a download (PDF) or a page to print (HTML)."""
    name = filename(data, kind)
    if kind == "pdf":
        body: bytes | str = pdf(data)
        mimetype, disposition = "application/pdf", "attachment"
    else:
        body, mimetype, disposition = html(data), "text/html", "inline"
    answer = Response(body, mimetype=mimetype)
    answer.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(name)}"
    answer.headers["Cache-Control"] = "no-store"
    return answer
