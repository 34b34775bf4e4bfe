"""What an inspection export is, before it becomes a file: a titled table with Chinese and
English column names, whose it is (the member), the period it covers, when it was made and
who signs it; its canonical content and the sha256 of that content (what is signed); the
period rule (a month `2026-12` or a range `2026-12-01..2027-01-15`, in the consortium's time
zone, at most 12 months); the limits and problem codes of the exports.

The signature is EIP-191 `personal_sign` over the 32-byte content hash by the exporting
deployment's key (the member's custodial key, or the regulator's key), so anyone can
recover the signer's address from the file alone (`domain.exports.verify`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from medledger.domain.errors import Unprocessable
from medledger.sdk.dates import day_of, day_start

__all__ = [
    "FORMAT",
    "MAX_MONTHS",
    "MAX_ROWS",
    "Cell",
    "Column",
    "Export",
    "ExportProblem",
    "Period",
    "SignedExport",
    "canonical_bytes",
    "parse_period",
    "recover_signer",
    "sign_digest",
    "sign_export",
]

FORMAT = "medledger-export/1"
MAX_ROWS = 5_000  # rows of one export; a longer period is refused, not cut
MAX_MONTHS = 12
MAX_PERIOD_TEXT = 40

Cell = str | int | None


class ExportProblem(StrEnum):
    UNKNOWN_KIND = "unknown_export_kind"
    BAD_PERIOD = "invalid_export_period"
    TOO_MANY_ROWS = "export_too_large"
    KEY_MISSING = "export_key_missing"
    UNKNOWN_MEMBER = "unknown_member"
    BAD_FILE = "invalid_export_file"


@dataclass(frozen=True, slots=True)
class Column:
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Period:
    first: dt.date
    last: dt.date  # inclusive

    @property
    def start(self) -> int:
        return day_start(self.first)

    @property
    def end(self) -> int:
        """Exclusive: the start of the day after `last`."""
        return day_start(self.last + dt.timedelta(days=1))

    @property
    def label(self) -> str:
        month_end = (self.first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        if self.first.day == 1 and self.last == month_end - dt.timedelta(days=1):
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def parse_period(text: str) -> Period:
    """`YYYY-MM` (a calendar month) or `YYYY-MM-DD..YYYY-MM-DD` (inclusive), at most 12
    months long; 422 `invalid_export_period` otherwise."""
    text = text.strip()
    try:
        if len(text) > MAX_PERIOD_TEXT:
            raise ValueError("too long")
        if month := _MONTH.match(text):
            first = dt.date(int(month[1]), int(month[2]), 1)
            following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            return Period(first, following - dt.timedelta(days=1))
        if span := _RANGE.match(text):
            first, last = dt.date.fromisoformat(span[1]), dt.date.fromisoformat(span[2])
        else:
            raise ValueError("not a month or a range")
    except ValueError as exc:
        raise Unprocessable(
            ExportProblem.BAD_PERIOD,
            f"period {text[:MAX_PERIOD_TEXT]!r}: give a month (2026-12) or a date range "
            f"(2026-12-01..2026-12-31): {exc}",
        ) from exc
    months = (last.year - first.year) * 12 + last.month - first.month
    if last < first or months > MAX_MONTHS or (months == MAX_MONTHS and last.day >= first.day):
        raise Unprocessable(
            ExportProblem.BAD_PERIOD,
            f"period {text}: the last day must follow the first, within {MAX_MONTHS} months",
        )
    return Period(first, last)


@dataclass(frozen=True, slots=True)
class Export:
    """One export's content. `rows` hold text, whole numbers or nothing (None)."""

    kind: str
    title_zh: str
    title_en: str
    member: str  # the address whose records these are ("" for a regulator-wide report)
    member_name: str
    period: str
    generated_at: int  # unix seconds
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "title": [self.title_zh, self.title_en],
            "member": self.member,
            "member_name": self.member_name,
            "period": self.period,
            "generated_at": self.generated_at,
            "columns": [[c.zh, c.en] for c in self.columns],
            "rows": [list(r) for r in self.rows],
        }

    def canonical(self) -> bytes:
        """Sorted keys, no spaces, UTF-8: the bytes whose sha256 is signed."""
        return canonical_bytes(self.content())

    def content_hash(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    @property
    def generated_day(self) -> str:
        return day_of(self.generated_at).isoformat()

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> Export:
        """The export a file's recovered content describes (ValueError if malformed)."""
        if content.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} export")
        title_zh, title_en = content["title"]
        return cls(
            kind=str(content["kind"]),
            title_zh=str(title_zh),
            title_en=str(title_en),
            member=str(content["member"]),
            member_name=str(content["member_name"]),
            period=str(content["period"]),
            generated_at=int(content["generated_at"]),
            columns=tuple(Column(str(zh), str(en)) for zh, en in content["columns"]),
            rows=tuple(tuple(_cell(v) for v in row) for row in content["rows"]),
        )


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return int(value) if float(value).is_integer() else str(value)


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class SignedExport:
    export: Export
    content_hash: bytes
    signer: str  # checksummed address
    signature: bytes  # 65 bytes, r ‖ s ‖ v


def sign_digest(account: LocalAccount, digest: bytes) -> bytes:
    """EIP-191 personal_sign of a 32-byte hash."""
    return bytes(account.sign_message(encode_defunct(primitive=digest)).signature)


def sign_export(export: Export, account: LocalAccount) -> SignedExport:
    digest = export.content_hash()
    return SignedExport(
        export, digest, to_checksum_address(account.address), sign_digest(account, digest)
    )


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The address that signed `digest` (EIP-191), ValueError if the signature is malformed."""
    try:
        address = Account.recover_message(encode_defunct(primitive=digest), signature=signature)
    except Exception as exc:  # eth-account raises several types for a bad signature
        raise ValueError(f"bad signature: {exc}") from exc
    return to_checksum_address(address)
