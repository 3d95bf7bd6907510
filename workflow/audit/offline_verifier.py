"""Re-verify an exported audit file offline: ``python -m workflow.audit.offline_verifier FILE``.

Needs only this module, :mod:`workflow.records.chain` (standard library only), the
JSON Lines file written by ``riskloop audit export`` or ``GET /api/v1/audit/export``
and, to check the checkpoint signatures, the audit key (``--key-file`` or the
``RISKLOOP_AUDIT_KEY`` environment variable). It streams the file in constant
memory and checks: every record's hash, every link, contiguous sequence numbers,
each stream's signed checkpoint head, and the file's own signature and counts.

Exit status: 0 verified; 1 broken (the first problem is printed); 2 the chains
hold but no key was given, so the signatures were not checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workflow.records import chain


class ExportBroken(Exception):
    """Raised when the exported file fails a check; the message names where and why."""


@dataclass
class ExportResult:
    records: int = 0
    streams: int = 0
    proven: int = 0
    signed: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class _Stream:
    name: str
    complete: bool
    proof: dict[str, Any] | None = None
    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = ""
    proof_matched: bool = False


def verify_lines(lines: Iterable[str], key: str | None) -> ExportResult:
    """Raises:
    ExportBroken: the first problem found."""
    result = ExportResult()
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    stream: _Stream | None = None
    pending_proof: dict[str, Any] | None = None
    seen: set[str] = set()  # stream names only: a few bytes per stream, for grouping
    footer: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if footer is not None:
            raise ExportBroken(f"line {number}: data after the footer")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportBroken(f"line {number}: not JSON ({exc.msg})") from exc
        kind = row.get("type")
        if kind == "footer":
            footer = row
            continue
        digest.update(
            line.encode("utf-8") if line.endswith("\n") else (line + "\n").encode("utf-8")
        )
        if header is None:
            if kind != "header" or row.get("format") != "riskloop-audit-export":
                raise ExportBroken("line 1: not a riskloop audit export (no header)")
            header = row
        elif kind == "proof":
            pending_proof = _check_proof(row, key, number, result)
        elif kind == "record":
            if stream is None or row.get("stream") != stream.name:
                if stream is not None:
                    _end_stream(stream, result)
                if row.get("stream") in seen:
                    raise ExportBroken(
                        f"line {number}: records of stream {row.get('stream')} are not together"
                    )
                stream = _Stream(str(row.get("stream")), bool(header.get("complete_streams")))
                seen.add(stream.name)
                result.streams += 1
                if pending_proof is not None and pending_proof.get("stream") == stream.name:
                    stream.proof = pending_proof
                pending_proof = None
            _check_record(stream, row, number)
            result.records += 1
        else:
            raise ExportBroken(f"line {number}: unknown row type {kind!r}")
    if stream is not None:
        _end_stream(stream, result)
    if header is None:
        raise ExportBroken("the file is empty")
    if footer is None:
        raise ExportBroken("the footer is missing: the file was cut short")
    if (footer.get("records"), footer.get("streams")) != (result.records, result.streams):
        raise ExportBroken(
            f"the footer counts {footer.get('records')} records in {footer.get('streams')} "
            f"streams but the file holds {result.records} in {result.streams}"
        )
    if footer.get("sha256") != digest.hexdigest():
        raise ExportBroken(
            "the file's lines do not match the digest in its footer (edited after export)"
        )
    if key is not None:
        if not chain.signature_matches(key, digest.hexdigest(), footer.get("hmac", "")):
            raise ExportBroken(
                "the footer's HMAC does not match: the file was not exported with this "
                "audit key, or it was edited"
            )
        result.signed = True
    return result


def _check_proof(
    row: dict[str, Any], key: str | None, number: int, result: ExportResult
) -> dict[str, Any]:
    if key is not None and not chain.signature_matches(
        key,
        chain.head_message(int(row["checkpoint"]), row["stream"], int(row["seq"]), row["hash"]),
        row.get("hmac", ""),
    ):
        raise ExportBroken(
            f"line {number}: forged checkpoint proof for stream {row['stream']} "
            f"(checkpoint {row['checkpoint']}): its HMAC does not match"
        )
    return row


def _check_record(stream: _Stream, row: dict[str, Any], number: int) -> None:
    seq = row.get("seq")
    where = f"line {number}: stream {stream.name} seq {seq}"
    if not isinstance(seq, int):
        raise ExportBroken(f"{where}: seq is not a number")
    if stream.first_seq == 0:
        stream.first_seq = seq
        if stream.complete and (seq != 1 or row.get("prev_hash") != chain.GENESIS):
            raise ExportBroken(
                f"{where}: the stream should start at record 1 from the genesis hash "
                f"(records before {seq} are missing)"
            )
    else:
        if seq != stream.last_seq + 1:
            what = "missing" if seq > stream.last_seq + 1 else "out of order"
            raise ExportBroken(f"{where}: record {stream.last_seq + 1} is {what}")
    if chain.record_hash(row) != row.get("hash"):
        raise ExportBroken(f"{where}: hash does not match the record's content (altered)")
    if stream.last_seq and row.get("prev_hash") != stream.last_hash:
        raise ExportBroken(
            f"{where}: does not link to record {stream.last_seq} (altered, replaced or reordered)"
        )
    if stream.proof is not None and stream.proof["seq"] == seq:
        if stream.proof["hash"] != row["hash"]:
            raise ExportBroken(
                f"{where}: differs from the record signed by checkpoint "
                f"{stream.proof['checkpoint']}"
            )
        stream.proof_matched = True
    stream.last_seq, stream.last_hash = seq, row["hash"]


def _end_stream(stream: _Stream, result: ExportResult) -> None:
    proof = stream.proof
    if proof is None:
        result.notes.append(
            f"stream {stream.name}: no checkpoint has signed it yet; its chain "
            "is checked but not proven"
        )
        return
    if stream.proof_matched:
        result.proven += proof["seq"] - stream.first_seq + 1
        if stream.last_seq > proof["seq"]:
            result.notes.append(
                f"stream {stream.name}: records after {proof['seq']} are newer "
                "than the last checkpoint"
            )
        return
    if proof["seq"] > stream.last_seq and stream.complete:
        raise ExportBroken(
            f"stream {stream.name}: cut tail: checkpoint {proof['checkpoint']} "
            f"signed records up to {proof['seq']} but the export ends at {stream.last_seq}"
        )
    result.notes.append(
        f"stream {stream.name}: the covering checkpoint signed record {proof['seq']}, "
        f"outside the exported records {stream.first_seq}-{stream.last_seq}"
    )


def read_key_file(path: str) -> str:
    """The audit key in ``path``: the key alone, or the embedded mode's ``keys.json``
    (a JSON object holding ``RISKLOOP_AUDIT_KEY`` among the other generated keys).

    Raises:
        OSError: the file cannot be read.
        ValueError: a JSON object without ``RISKLOOP_AUDIT_KEY``.
    """
    with open(path, encoding="utf-8") as fh:
        text = fh.read().strip()
    if text.startswith("{"):
        try:
            keys = json.loads(text)
        except json.JSONDecodeError:
            return text
        if not isinstance(keys, dict) or not isinstance(keys.get("RISKLOOP_AUDIT_KEY"), str):
            raise ValueError("a JSON key file must hold RISKLOOP_AUDIT_KEY")
        return str(keys["RISKLOOP_AUDIT_KEY"]).strip()
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="riskloop-verify-export",
        description="Re-verify a riskloop audit export (JSON Lines) without the database.",
    )
    parser.add_argument("file", help="the .jsonl file to verify")
    parser.add_argument(
        "--key-file",
        help="file holding the audit key, or an embedded instance's "
        "keys.json (default: $RISKLOOP_AUDIT_KEY)",
    )
    args = parser.parse_args(argv)
    key = os.environ.get("RISKLOOP_AUDIT_KEY") or None
    if args.key_file:
        try:
            key = read_key_file(args.key_file)
        except (OSError, ValueError) as exc:
            print(
                f"cannot use key file {args.key_file}: {getattr(exc, 'strerror', None) or exc}",
                file=sys.stderr,
            )
            return 1
    try:
        with open(args.file, encoding="utf-8-sig") as fh:
            result = verify_lines(fh, key)
    except ExportBroken as exc:
        print(f"BROKEN: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"note: {note}")
    print(
        f"verified {result.records} records in {result.streams} streams; "
        f"{result.proven} proven by signed checkpoints"
    )
    if not result.signed:
        print(
            "UNPROVEN: no audit key given (--key-file or RISKLOOP_AUDIT_KEY), so the "
            "signatures were not checked",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
