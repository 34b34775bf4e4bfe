"""Products: the manufacturer's master-data import (`domain.master_files` reads and
checks each row, `domain.master_import.import_one` writes it), run as a job: every row
checked first, then one product per chunk. Writing a product is idempotent (an unchanged
record changes nothing), so a resumed chunk is simply written again."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.plan import Chunk, Payload, Plan, duplicate_check
from medledger.domain.bulk_import.problems import RowProblem
from medledger.domain.errors import Unprocessable
from medledger.domain.master_files import COLUMNS, FileRow, parse_row
from medledger.domain.master_import import import_one
from medledger.domain.services import Services

__all__ = ["Products"]


class Products:
    name = "products"
    columns = {key: key for key, _ in COLUMNS} | {zh: key for key, zh in COLUMNS}

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan:
        plan = Plan()
        seen: dict[str, int] = {}
        for row in rows:
            parsed = parse_row(FileRow(row.number, row.cells))
            for p in parsed.problems:
                plan.problems.append(
                    RowProblem(
                        row.number,
                        p.column,
                        "invalid_master_data",
                        p.value,
                        p.reason_zh,
                        p.reason_en,
                    )
                )
            if parsed.record is None:
                continue
            first = duplicate_check(seen, parsed.record.gtin, row.number)
            if first is not None:
                plan.problems.append(
                    RowProblem.of(row.number, "gtin", "duplicate_in_file", parsed.gtin, other=first)
                )
            plan.chunks.append(Chunk(1, {"row": row.number, "fields": row.cells}))
        if plan.problems:
            plan.chunks = []
        return plan

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        return {}

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        row = FileRow(int(payload["row"]), dict(payload["fields"]))
        result = import_one(services, member=member, row=row, seen={})
        if result.outcome == "refused":
            reason = "; ".join(p.reason_en for p in result.problems)
            raise Unprocessable("import_row_refused", f"row {row.number}: {reason}"[:500])
        return None
