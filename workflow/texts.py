"""Texts the system writes for a person, as codes with parameters.

A notification, a system comment on an audit record or a digest is stored as a stable
``code`` (``alert.raised``) and its ``params`` (JSON) beside the English text the API has
always shown. :func:`say` words a code in that English; the console words the same code
and params in the reader's language (``web/texts.py``), so nothing is ever parsed back
out of a sentence. Rows written before codes existed keep their stored text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflow.errors import Message


def _digest_body(p: dict[str, Any]) -> str:
    def lines(items: list[dict[str, Any]]) -> list[str]:
        return [
            f"- [{a['level']}] #{a['id']} {a['title']} "
            f"(client {a.get('client_name') or a['client']}, {a['state']}, case {a['case']})"
            for a in items
        ] or ["- none"]

    return "\n".join(
        [
            "New alerts:",
            *lines(p.get("new") or []),
            "",
            "SLA breached:",
            *lines(p.get("breached") or []),
        ]
    )


def _alert_action_body(p: dict[str, Any]) -> str:
    text = f"{p['actor']} did {p['trigger']} on alert case #{p['case']}."
    return f"{text} {p['comment']}" if p.get("comment") else text


# code → English as stored (and sent by the API): a ``str.format`` template or a function
# of the params. A notification's code words its title; ``<code>.body`` its body.
ENGLISH: dict[str, str | Callable[[dict[str, Any]], str]] = {
    # comments on audit records
    "comment.rated": "rated {rating} ({decided_by})",
    "comment.admission_withdrawn": "the admission was withdrawn",
    "comment.due_diligence_outcome": "due diligence #{case} {outcome}",
    "comment.timer_due": "timer {timer} due {due}",
    "comment.periodic_review_due": "periodic review due {date}",
    "comment.batch_import": "batch import of {file}",
    "comment.retention_due": "retention period ({years} years after offboarding on {date}) "
    "has passed",
    # notifications
    "alert.raised": "[{level}] {title}",
    "alert.raised.body": "{client}: {category}. {details}",
    "alert.action": "[{level}] {trigger}: {title}",
    "alert.action.body": _alert_action_body,
    "alert.breached": "[{level}] SLA to {stage} breached: {title}",
    "alert.breached.body": "Alert #{alert} missed its {stage} deadline (breach {breaches}); "
    "managers were told.",
    "case.sla_breached": "SLA breached on case #{case} ({state})",
    "review.due": "Periodic due-diligence review of {client} is due (case #{case})",
    "contract.expiring": "Contract {number} of {client} ends on {end}",
    "digest.sent": "Alert digest {day}: {new_count} new, {breached_count} breached",
    "digest.sent.body": _digest_body,
    "client.rerated": "{client} re-rated {before} -> {after}",
    "client.rerated.body": "Risk level {level}, credit limit {limit} ({trigger}).",
}

# The longest text each stored column takes.
LIMITS = {"title": 255, "body": 4000}


def english(code: str, params: dict[str, Any]) -> str:
    """``code`` with ``params`` in the English the API shows.

    Raises:
        KeyError: ``code`` is not in the catalogue (a programming error).
    """
    template = ENGLISH[code]
    return template(params) if callable(template) else template.format(**params)


def say(code: str, **params: Any) -> Message:
    """The English text of ``code`` that also carries the code and its params (a ``str``)."""
    return Message(code, english(code, params), **params)


def notification(code: str, **params: Any) -> dict[str, Any]:
    """The ``notify`` task's arguments for a notification worded by ``code``: its English
    title (and body, when the catalogue has one) and the code and params themselves."""
    args: dict[str, Any] = {
        "code": code,
        "params": params,
        "title": english(code, params)[: LIMITS["title"]],
    }
    if f"{code}.body" in ENGLISH:
        args["body"] = english(f"{code}.body", params)[: LIMITS["body"]]
    return args


def worded(
    args: dict[str, Any],
    language: str,
    word: Callable[[str, dict[str, Any], str], str | None],
    title: str = "",
) -> tuple[str, str]:
    """A notification's title and body (the ``notify`` task's ``args``) in ``language`` by
    ``word`` (the engine object's wording); the stored English (or ``title``) where there
    is no code or the wording does not know it."""
    code, params = args.get("code"), dict(args.get("params") or {})
    worded_title = word(code, params, language) if code else None
    worded_body = word(f"{code}.body", params, language) if code else None
    return (
        worded_title or title or str(args.get("title") or ""),
        worded_body or str(args.get("body") or ""),
    )


def comment_text(payload: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """The code and params of a system comment stored in an audit record's payload."""
    code = (payload or {}).get(COMMENT_CODE)
    if not isinstance(code, str):
        return None
    params = (payload or {}).get(COMMENT_PARAMS)
    return code, params if isinstance(params, dict) else {}


# Payload keys beside a system comment (part of the hashed payload of new records only).
COMMENT_CODE = "comment_code"
COMMENT_PARAMS = "comment_params"
