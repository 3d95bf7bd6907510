"""The pure arithmetic of the audit chain: canonical JSON, record hashes, checkpoint HMACs.

Standard library only, so that the stand-alone export verifier can re-check an
exported file with nothing but this module, the file and the audit key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64

HASHED_FIELDS = (
    "stream",
    "seq",
    "kind",
    "instance_id",
    "subject",
    "definition",
    "definition_version",
    "trigger",
    "from_state",
    "to_state",
    "actor",
    "roles",
    "at",
    "comment",
    "payload",
    "request_id",
    "idempotency_key",
    "prev_hash",
)


def isoformat(at: datetime | None) -> str | None:
    """Canonical UTC text of a stored (naive UTC) datetime, as hashed into the chain."""
    if at is None:
        return None
    if at.year < 1000:  # strftime's %Y does not pad: kept as it always was
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), in half the time
    return at.isoformat(timespec="microseconds") + "Z"


# One encoder, built once: json.dumps with these options builds a new one per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode


def canonical(value: Any) -> str:
    return _CANONICAL(value)


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the hashed fields (``at`` as ISO text)."""
    material = {k: fields.get(k) for k in HASHED_FIELDS}
    at = material["at"]
    if isinstance(at, datetime):
        material["at"] = isoformat(at)
    material["payload"] = material["payload"] or {}
    material["roles"] = sorted(material["roles"] or [])
    return hashlib.sha256(canonical(material).encode("utf-8")).hexdigest()


def sign(key: str, message: str) -> str:
    """HMAC-SHA256 of ``message`` under the audit key, as hex."""
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_matches(key: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(key, message), signature or "")


def head_message(checkpoint_seq: int, stream: str, seq: int, head_hash: str) -> str:
    """What a checkpoint signs for one stream's head."""
    return canonical(
        {"checkpoint": checkpoint_seq, "stream": stream, "seq": seq, "hash": head_hash}
    )


def checkpoint_message(
    seq: int, created_at: str | None, streams: int, heads_digest: str, prev_hmac: str
) -> str:
    """What a checkpoint signs as a whole (chained to the previous checkpoint)."""
    return canonical(
        {
            "seq": seq,
            "created_at": created_at,
            "streams": streams,
            "heads_digest": heads_digest,
            "prev_hmac": prev_hmac,
        }
    )
