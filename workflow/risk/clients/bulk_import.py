"""Batch import of clients from spreadsheets (CSV or XLSX), idempotent by credit code.

Every row is checked first; one bad row stops the whole import (a dry run lists
them all with row number and field), so a file is imported entirely or not at
all. A row whose credit code is already in the archive updates that client's
non-sensitive fields; a different value for a sensitive field is never written
but reported, to be changed through a change request.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import runtime
from workflow.errors import Forbidden, Message, RiskloopError, ValidationFailed
from workflow.platform.archives import Limits, check_zip
from workflow.platform.spreadsheet import read_csv
from workflow.records.identity import Actor
from workflow.risk import labels
from workflow.risk.clients.model import NATURAL_PERSON, SCREENING_FIELDS, SENSITIVE_FIELDS, Client
from workflow.risk.clients.service import (
    check_new_client,
    create_client,
    find_person,
    plain,
    require_editor,
    update_client,
)
from workflow.risk.clients.validation import validate_client_fields
from workflow.risk.onboarding import NOT_ADMISSIBLE, running_admission, start_admission

PLAIN_COLUMNS = (
    "client_type",
    "name",
    "credit_code",
    "legal_representative",
    "id_number",
    "consent_basis",
    "consent_at",
    "industry",
    "region",
    "registered_capital",
    "established_on",
    "ownership_type",
    "state_ownership_pct",
    "bank_account",
    "owner",
    "tags",
)
CONTACT_COLUMNS = {"contact_name": "name", "contact_phone": "phone", "contact_email": "email"}
FACT_COLUMNS = ("litigation_count", "negative_news_count", "payment_history")
COLUMNS = PLAIN_COLUMNS + tuple(CONTACT_COLUMNS) + FACT_COLUMNS
MAX_ROWS = 20_000
# Column headers as a Chinese spreadsheet exported from another system names them: each
# field's words in labels.py, and the usual variants.
HEADER_ALIASES: dict[str, str] = {
    **{
        words["zh-CN"]: column
        for column, words in labels.FIELDS.items()
        if column in PLAIN_COLUMNS and "zh-CN" in words
    },
    "客户名称": "name",
    "企业名称": "name",
    "公司名称": "name",
    "信用代码": "credit_code",
    "身份证号": "id_number",
    "所属行业": "industry",
    "所在地区": "region",
    "注册资本（元）": "registered_capital",
    "注册资本(元)": "registered_capital",
    "企业性质": "ownership_type",
    "国有持股比例（%）": "state_ownership_pct",
    "开户账号": "bank_account",
    "联系人": "contact_name",
    "联系人电话": "contact_phone",
    "联系电话": "contact_phone",
    "联系人邮箱": "contact_email",
    "电子邮箱": "contact_email",
    "涉诉次数": "litigation_count",
    "负面舆情次数": "negative_news_count",
    "付款记录": "payment_history",
}


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    submitted: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    sensitive_differences: list[dict[str, Any]] = field(default_factory=list)
    client_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "dry_run",
                "rows",
                "created",
                "updated",
                "unchanged",
                "submitted",
                "errors",
                "sensitive_differences",
            )
        }


def read_rows(
    content: bytes, filename: str, settings: Mapping[str, Any] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(spreadsheet row number, {column: cell}) for every non-empty data row.

    Raises:
        PayloadTooLarge: an .xlsx that would unpack beyond the limits of ``workflow.platform.archives``
            (checked before the workbook is opened).
        ValidationFailed: not CSV or XLSX; unreadable (not UTF-8, a field over 128 KiB, a
            damaged workbook: the row is named); or unknown columns in the header.
    """
    if filename.lower().endswith(".xlsx"):
        table = _xlsx_rows(content, filename, settings)
    elif filename.lower().endswith(".csv"):
        table = read_csv(content, filename)
    else:
        raise ValidationFailed(
            f"{filename}: import CSV (.csv) or Excel (.xlsx) files",
            errors={"file": ["Unsupported file type."]},
        )
    header = [str(h or "").strip() for h in next(table, [])]
    header = [HEADER_ALIASES.get(h, h) for h in header]
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown or not {"credit_code", "id_number"} & set(header):
        raise ValidationFailed(
            f"{filename}: unknown column(s) {', '.join(unknown) or '-'}; the header needs credit_code "
            f"(or id_number, for natural persons) and may use {', '.join(COLUMNS)}",
            errors={"header": [f"Unknown: {', '.join(unknown)}"]},
        )
    for number, cells in enumerate(table, start=2):
        row = {h: c for h, c in zip(header, cells, strict=False) if h and c not in (None, "")}
        if row:
            yield number, row


def _unreadable_row(filename: str, number: int, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"{filename}: row {number} cannot be read: {problem}; nothing was imported",
        errors={f"row {number}": [problem]},
    )


def _xlsx_rows(
    content: bytes, filename: str, settings: Mapping[str, Any] | None = None
) -> Iterator[list[Any]]:
    check_zip(
        io.BytesIO(content), filename, Limits.configured(settings) if settings is not None else None
    )
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        # The dimension a sheet declares (A1:XFD1048576, say) would pad every row to it:
        # read the cells there are, and data rows only as wide as the header.
        sheet.reset_dimensions()
        header = list(next(sheet.iter_rows(max_row=1, values_only=True), ()))
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(
            f"{filename} is not a readable .xlsx workbook ({type(exc).__name__}); "
            "save it again from Excel",
            errors={"file": [type(exc).__name__]},
        ) from exc
    while header and header[-1] is None:
        header.pop()
    yield header
    rows = sheet.iter_rows(min_row=2, max_col=max(len(header), 1), values_only=True)
    number = 1
    while True:
        number += 1
        try:
            values = next(rows, None)
        except Exception as exc:  # a damaged cell: a number that is not one, a missing string
            raise _unreadable_row(
                filename,
                number,
                f"a damaged cell ({type(exc).__name__}); save the workbook again from Excel",
            ) from exc
        if values is None:
            return
        yield list(values)


def row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A spreadsheet row as client fields (contacts and facts gathered, cells as text)."""
    data: dict[str, Any] = {}
    for column in PLAIN_COLUMNS:
        if column in row:
            value = row[column]
            if hasattr(value, "date") and column in ("established_on", "consent_at"):
                value = value.date()
            data[column] = value.isoformat() if hasattr(value, "isoformat") else str(value).strip()
    if "tags" in data:
        data["tags"] = [t.strip() for t in data["tags"].replace(";", ",").split(",") if t.strip()]
    contact = {
        key: str(row[column]).strip() for column, key in CONTACT_COLUMNS.items() if column in row
    }
    if contact:
        data["contacts"] = [contact]
    facts: dict[str, Any] = {}
    for column in FACT_COLUMNS:
        if column in row:
            text = str(row[column]).strip()
            facts[column] = _count(text) if column.endswith("_count") else text
    if facts:
        data["facts"] = facts
    return data


def _count(text: str) -> int | str:
    """A count cell as a whole number (a workbook stores 3 as 3.0); anything else stays text
    for the schema to refuse by name (``1e400``, ``nan``, ``1.5``)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if number.is_finite() and number.adjusted() < 18 and number == number.to_integral_value():
        return int(number)
    return text


def _prefixed(key: str, text: str) -> str:
    """``key: text``, still carrying the code of a coded message (the console words it)."""
    if isinstance(text, Message):
        return Message(text.code, f"{key}: {text}", **text.params)
    return f"{key}: {text}"


def _messages(messages: Any) -> list[str]:
    """Field messages as lines; a nested field's are prefixed with its name (``litigation_count: …``)."""
    if isinstance(messages, dict):
        return [
            _prefixed(key, text) if isinstance(key, str) else text
            for key, value in messages.items()
            for text in _messages(value)
        ]
    if isinstance(messages, list):
        return [text for message in messages for text in _messages(message)]
    # A coded message (workflow.errors.Message, a str) is kept: the console words it.
    return [messages if isinstance(messages, str) else str(messages)]


def _row_errors(number: int, exc: RiskloopError) -> list[dict[str, Any]]:
    errors = exc.extra.get("errors") or {"_row": [exc.detail]}
    return [
        {"row": number, "field": str(name), "messages": _messages(messages)}
        for name, messages in errors.items()
    ]


def import_clients(
    session: Session,
    rows: Iterator[tuple[int, dict[str, Any]]],
    actor: Actor,
    *,
    dry_run: bool,
    default_owner: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row, then (unless ``dry_run`` or a row is bad) create or update the clients
    inside the caller's transaction; ``progress(1)`` is called per row."""
    report = ImportReport(dry_run=dry_run)
    checked: list[tuple[int, dict[str, Any], Client | None]] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ValidationFailed(
                f"import at most {MAX_ROWS} rows per file; split the file",
                errors={"file": ["Too many rows."]},
            )
        try:
            data = validate_client_fields(row_fields(row), partial=False)
        except ValidationFailed as exc:
            report.errors.extend(_row_errors(number, exc))
            continue
        # A company is the same client by its credit code, a natural person by the number.
        key = "id_number" if data["client_type"] == NATURAL_PERSON else "credit_code"
        code = data[key]
        if code in seen:
            report.errors.append(
                {
                    "row": number,
                    "field": key,
                    "messages": [f"Also in row {seen[code]}; keep one row per client."],
                }
            )
            continue
        seen[code] = number
        existing = (
            find_person(session, code)
            if key == "id_number"
            else session.execute(
                select(Client).where(Client.credit_code == code)
            ).scalar_one_or_none()
        )
        if existing is not None and not _may_edit(existing, actor):
            # Refused before any comparison: a dry run must not tell a sales user whether
            # a guessed value (a bank account) matches another owner's client.
            report.errors.append(
                {
                    "row": number,
                    "field": key,
                    "messages": [
                        "This client is owned by another sales user; only its owner, a risk officer "
                        "or a manager may update it."
                    ],
                }
            )
            continue
        if existing is None:
            if "owner" not in data and default_owner:
                data = {**data, "owner": default_owner}
            try:
                # What creating the client checks (owner, roles), for a dry run as for the
                # import itself, so that a dry run never counts a row the import refuses.
                check_new_client(session, data, actor)
            except RiskloopError as exc:
                report.errors.extend(_row_errors(number, exc))
                continue
        checked.append((number, data, existing))
    if report.errors or dry_run:
        for number, data, existing in checked:
            _classify(report, number, data, existing)
        return report
    for number, data, existing in checked:
        try:
            _write(session, report, number, data, existing, actor)
        except RiskloopError as exc:
            report.errors.extend(_row_errors(number, exc))
        if progress is not None:
            progress(1)
    return report


def _may_edit(client: Client, actor: Actor) -> bool:
    try:
        require_editor(client, actor, "importing clients")
    except Forbidden:
        return False
    return True


def _split(data: dict[str, Any], existing: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    changes: dict[str, Any] = {}
    sensitive: dict[str, Any] = {}
    for name, value in data.items():
        if name == "owner" or plain(getattr(existing, name)) == plain(value):
            continue
        # screened inputs change only through a change request, like sensitive fields
        fixed = name in SENSITIVE_FIELDS or (
            name in SCREENING_FIELDS and existing.screening is not None
        )
        (sensitive if fixed else changes)[name] = value
    return changes, sensitive


def _classify(
    report: ImportReport, number: int, data: dict[str, Any], existing: Client | None
) -> None:
    if existing is None:
        report.created += 1
        return
    changes, sensitive = _split(data, existing)
    _report_sensitive(report, number, existing, sensitive)
    if changes:
        report.updated += 1
    else:
        report.unchanged += 1


def _report_sensitive(
    report: ImportReport, number: int, client: Client, sensitive: dict[str, Any]
) -> None:
    for name in sorted(sensitive):
        report.sensitive_differences.append(
            {
                "row": number,
                "client_id": client.id,
                "field": name,
                "message": f"not changed: file a change request at POST /api/v1/clients/{client.id}/change-requests",
            }
        )


def _write(
    session: Session,
    report: ImportReport,
    number: int,
    data: dict[str, Any],
    existing: Client | None,
    actor: Actor,
) -> None:
    if existing is None:
        client = create_client(session, data, actor)
        report.created += 1
        report.client_ids.append(client.id)
        return
    changes, sensitive = _split(data, existing)
    _report_sensitive(report, number, existing, sensitive)
    report.client_ids.append(existing.id)
    if not changes:
        report.unchanged += 1
        return
    update_client(session, existing.id, changes, actor)
    report.updated += 1


def authorize_import(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor may not write clients (checked before the file is read)."""
    require_editor(None, actor, "importing clients")


def run_import(
    session: Session,
    content: bytes,
    filename: str,
    actor: Actor,
    *,
    dry_run: bool,
    submit: bool = False,
    default_owner: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a file inside the caller's transaction and optionally submit every imported
    client for admission (those not already admitted or under way).

    Raises:
        Forbidden: the actor may not write clients (checked before the file is read).
        ValidationFailed: a bad file or any bad row (nothing is imported; ``extra['report']``).
    """
    authorize_import(actor)
    report = import_clients(
        session,
        read_rows(content, filename, runtime.of(session).settings),
        actor,
        dry_run=dry_run,
        default_owner=default_owner,
        progress=progress,
    )
    if report.errors and not dry_run:
        raise ValidationFailed(
            f"{filename}: {len({e['row'] for e in report.errors})} bad row(s); nothing was "
            "imported (run a dry run to see them all)",
            errors={f"row {e['row']}: {e['field']}": e["messages"] for e in report.errors},
            report=report.to_dict(),
        )
    if submit and not dry_run:
        for client_id in report.client_ids:
            client = session.get(Client, client_id)
            if (
                client is None
                or client.status in NOT_ADMISSIBLE
                or running_admission(session, client_id)
            ):
                continue
            start_admission(
                session, client_id, actor, comment=texts.say("comment.batch_import", file=filename)
            )
            report.submitted += 1
    return report
