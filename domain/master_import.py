"""Importing and exporting a manufacturer's product master data (`domain.master_files`
reads and writes the files).

Import is idempotent: each row goes through `master_data.anchor_master_record`, so a row
equal to the current version changes nothing, a changed row becomes the next version
(history kept), and a new GTIN is registered on the ledger with its package levels. Every
refused row is reported with its row number, column, value and reason in Chinese and
English; the other rows still go in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from medledger.domain.auth import Member
from medledger.domain.errors import ApiError
from medledger.domain.master_data import (
    MasterRecord,
    anchor_master_record,
    current_record_uncached,
)
from medledger.domain.master_files import (
    FileRow,
    Format,
    Problem,
    parse_row,
    read_rows,
    write_records,
)
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries import devices as queries
from medledger.indexer.store.master_records import job_report, put_job_report
from medledger.sdk.errors import ContractError, MedLedgerError

__all__ = [
    "ImportReport",
    "RowResult",
    "export_file",
    "import_file",
    "import_one",
    "import_rows",
    "load_report",
    "read_file",
    "save_report",
]

Progress = Callable[[int, int], None]

# The ledger's refusals an import meets most, in both languages.
_LEDGER_REASONS: dict[str, tuple[str, str]] = {
    "prefix_not_owned": (
        "该 GTIN 不在贵单位的厂商识别代码之下",
        "the GTIN is under none of your company prefixes",
    ),
    "DevicesPrefixNotOwned": (
        "该 GTIN 不在贵单位的厂商识别代码之下",
        "the GTIN is under none of your company prefixes",
    ),
    "DevicesPackagePrefixNotOwned": (
        "包装标识不在贵单位的厂商识别代码之下",
        "the package GTIN is under none of your company prefixes",
    ),
    "DevicesNotLicensed": (
        "贵单位没有该管理类别的生产许可",
        "you hold no production licence for this class",
    ),
    "DevicesRegistrationExpired": ("注册证已过期", "the registration certificate has expired"),
    "DevicesUnauthorized": (
        "贵单位无权修改该产品",
        "your organisation may not change this product",
    ),
    "DevicesPackageExists": (
        "该包装标识已注册为其他产品或包装",
        "the package GTIN is already registered as another product or package",
    ),
    "master_data_conflict": ("账本上已有的事实不能更改", "the ledger's facts cannot change"),
}
_COLUMN_OF = {
    "DevicesPackagePrefixNotOwned": "package1_gtin",
    "DevicesPackageExists": "package1_gtin",
    "DevicesNotLicensed": "device_class",
    "DevicesRegistrationExpired": "registration_expiry",
}


@dataclass(slots=True)
class RowResult:
    row: int
    gtin: str
    outcome: str  # created, updated, unchanged, refused
    version: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def refused(self) -> list[RowResult]:
        return [r for r in self.rows if r.outcome == "refused"]


def read_file(filename: str, data: bytes) -> list[FileRow]:
    """The rows of a file; raises `master_files.FileError` when it cannot be read."""
    return read_rows(filename, data)


def import_rows(
    services: Services, *, member: Member, rows: list[FileRow], progress: Progress | None = None
) -> ImportReport:
    """Import each row as the member (who must be the manufacturer owning the GTINs)."""
    report = ImportReport()
    seen: dict[str, int] = {}
    for done, row in enumerate(rows, start=1):
        report.rows.append(import_one(services, member=member, row=row, seen=seen))
        if progress is not None:
            progress(done, len(rows))
    return report


def import_file(
    services: Services,
    *,
    member: Member,
    filename: str,
    data: bytes,
    progress: Progress | None = None,
) -> ImportReport:
    return import_rows(services, member=member, rows=read_file(filename, data), progress=progress)


def import_one(
    services: Services, *, member: Member, row: FileRow, seen: dict[str, int]
) -> RowResult:
    """Import one row; `seen` maps the GTINs of earlier rows of the file to their row."""
    parsed = parse_row(row)
    if parsed.record is None:
        return RowResult(parsed.row, parsed.gtin, "refused", problems=parsed.problems)
    gtin = parsed.record.gtin
    if gtin in seen:
        problem = Problem(
            "gtin",
            gtin,
            f"与第 {seen[gtin]} 行的产品标识重复",
            f"the same GTIN as row {seen[gtin]}",
        )
        return RowResult(parsed.row, gtin, "refused", problems=[problem])
    seen[gtin] = parsed.row
    try:
        outcome = anchor_master_record(services, member=member, record=parsed.record)
    except (ApiError, ContractError) as exc:
        code = exc.code if isinstance(exc, ApiError) else exc.name
        zh, en = _LEDGER_REASONS.get(code, ("账本拒绝了该行", "the ledger refused the row"))
        detail = exc.detail if isinstance(exc, ApiError) else str(exc)
        problem = Problem(
            _COLUMN_OF.get(code, "gtin"), gtin, f"{zh}（{code}）", f"{en} ({code}: {detail})"
        )
        return RowResult(parsed.row, gtin, "refused", problems=[problem])
    except MedLedgerError as exc:
        problem = Problem("gtin", gtin, "账本拒绝了该行", f"the ledger refused the row: {exc}")
        return RowResult(parsed.row, gtin, "refused", problems=[problem])
    return RowResult(parsed.row, gtin, outcome.outcome, outcome.version)


def export_file(services: Services, *, member: Member, fmt: Format) -> bytes:
    """The current master records of the member's products, as a file of format `fmt`."""
    with services.engine.connect() as conn:
        gtins = [p.gtin for p in queries.products_of(conn, member.address)]
    records: list[MasterRecord] = []
    for gtin in gtins:
        record = current_record_uncached(services, gtin)
        if record is not None:
            records.append(record)
    return write_records(records, fmt)


def save_report(services: Services, job_id: str, *, owner: str, report: ImportReport) -> None:
    """Keep a job's report for its owner (any API worker may then show it)."""
    put_job_report(
        api_store(services).engine, job_id, owner=owner, report=json.dumps(asdict(report))
    )


def load_report(services: Services, job_id: str, *, owner: str) -> ImportReport | None:
    found = job_report(api_store(services).engine, job_id, owner=owner)
    if found is None:
        return None
    rows = json.loads(found)["rows"]
    return ImportReport(
        [
            RowResult(
                r["row"],
                r["gtin"],
                r["outcome"],
                r["version"],
                [Problem(**p) for p in r["problems"]],
            )
            for r in rows
        ]
    )
