"""The client record (客户档案): the subject of onboarding, due diligence, edits and alerts.

Personal data (legal representative, identity number, contacts, bank account) is
sealed with the record's own data key (``sealing.py``), itself wrapped by
``RISKLOOP_ENCRYPTION_KEYS``; financial figures are encrypted with those keys;
responses mask them by role.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, Numeric, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.engine.registry import Registry
from workflow.errors import NotFound
from workflow.platform import clock
from workflow.platform.crypto import EncryptedDecimal
from workflow.platform.db import Base, BigId, JsonType
from workflow.platform.envelope import DataKey, WrappedKey
from workflow.risk.clients.sealing import Sealed

registry = Registry()

STATUSES = ("prospect", "pending_admission", "active", "suspended", "rejected", "offboarded")
OWNERSHIP_TYPES = (
    "central_soe",
    "local_soe",
    "private",
    "foreign",
    "individual",
    "collective",
    "other",
)
# Who the client is: a company identified by its credit code, a 个体工商户
# (registered, with a credit code, run by one person) or a natural person identified by a
# resident identity number instead.
CLIENT_TYPES = ("enterprise", "individual_business", "natural_person")
NATURAL_PERSON = "natural_person"
# The legal basis of processing a person's data (PIPL art. 13).
CONSENT_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_interest",
    "public_information",
)
RATINGS = ("S", "A", "B", "C", "D")
RISK_LEVELS = ("low", "medium", "high")
# Changed only through a dual approval; a direct PATCH is refused with 409.
SENSITIVE_FIELDS = (
    "credit_limit",
    "bank_account",
    "legal_representative",
    "blacklisted",
    "rating",
    "risk_level",
)
# The inputs of the risk rule set: set freely until the first screening, afterwards only
# by a dual approval (a change request) or by risk events — never by a direct PATCH, so
# nobody re-submits a rejected client with friendlier facts.
SCREENING_FIELDS = (
    "facts",
    "ownership_type",
    "state_ownership_pct",
    "established_on",
    "registered_capital",
)
# What a change request may change.
CHANGEABLE_FIELDS = SENSITIVE_FIELDS + SCREENING_FIELDS


class Client(Base):
    """A client (company or individual) in the archive."""

    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_owner", "owner"),
        Index("ix_clients_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    client_type: Mapped[str] = mapped_column(
        String(24), default="enterprise", server_default="enterprise"
    )
    # None for a natural person (identified by ``id_number``); unique among the others.
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    # Personal fields: stored sealed with the record's data key (see the block at the end).
    sealed_legal_representative: Mapped[str | None] = mapped_column("legal_representative", Text)
    legal_representative: Sealed[str] = Sealed("sealed_legal_representative")
    sealed_id_number: Mapped[str | None] = mapped_column("id_number", Text)
    id_number: Sealed[str] = Sealed("sealed_id_number")
    # PIPL: the legal basis and date of consent; required for natural persons.
    consent_basis: Mapped[str | None] = mapped_column(String(24))
    consent_at: Mapped[date | None] = mapped_column(Date)
    industry: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    registered_capital: Mapped[Decimal | None] = mapped_column(EncryptedDecimal)
    established_on: Mapped[date | None] = mapped_column(Date)
    ownership_type: Mapped[str | None] = mapped_column(String(24))
    state_ownership_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    sealed_contacts: Mapped[str | None] = mapped_column("contacts", Text)
    contacts: Sealed[list[dict[str, Any]]] = Sealed("sealed_contacts")
    sealed_bank_account: Mapped[str | None] = mapped_column("bank_account", Text)
    bank_account: Sealed[str] = Sealed("sealed_bank_account")
    credit_limit: Mapped[Decimal | None] = mapped_column(EncryptedDecimal)
    rating: Mapped[str | None] = mapped_column(String(1))
    risk_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    risk_level: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24), default="prospect")
    status_before_suspension: Mapped[str | None] = mapped_column(String(24))
    owner: Mapped[str] = mapped_column(String(64))
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    contracts: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # Facts for the scorecard not on the form (litigation, news, payment history).
    facts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    screening: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    # PIPL erasure and retention: the record's own data key (wrapped by the master keys;
    # NULL once destroyed), when the record was erased, when it was offboarded.
    data_key: Mapped[DataKey | None] = mapped_column(WrappedKey)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)
    offboarded_at: Mapped[datetime | None] = mapped_column(DateTime)


@event.listens_for(Client.status, "set")
def _stamp_offboarding(client: Client, value: str, old: Any, _initiator: Any) -> None:
    # Retention counts from here, whichever door offboarded the client.
    if value == "offboarded" and old != "offboarded":
        client.offboarded_at = clock.now()


def client_stream(client_id: int) -> str:
    return f"client:{client_id}"


def get_client(session: Session, client_id: int, *, lock: bool = False) -> Client:
    """Raises:
    NotFound: no such client."""
    if lock:
        client = session.execute(
            select(Client)
            .where(Client.id == client_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
    else:
        client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} does not exist")
    return client


@registry.subject_owner("client")
def client_owner(session: Session, client_id: int) -> str | None:
    client = session.get(Client, client_id)
    return client.owner if client is not None else None


@registry.subject_owner_batch("client")
def client_owners(session: Session, client_ids: list[int]) -> dict[int, str | None]:
    return dict(
        session.execute(select(Client.id, Client.owner).where(Client.id.in_(client_ids))).all()
    )
