"""Commissioning lists: serials per lot (a serialised product) or quantities per lot (a
lot-tracked one), written with the same use cases as `POST /v1/partner/commission` and
`/v1/partner/lots/commission`, up to `CHUNK` serials of one lot per transaction.

A chunk that may have landed before an interruption is checked on the chain: its serials
are written in one transaction, so its first serial tells whether it did; a quantity did
when the lot's supply grew past what it was just before sending."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from medledger.domain import items, lot_custody
from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.plan import Chunk, Payload, Plan, duplicate_check
from medledger.domain.bulk_import.problems import Cells, RowProblem
from medledger.domain.chain import reader
from medledger.domain.lot_schemas import CommissionLotIn
from medledger.domain.partner_schemas import CommissionIn
from medledger.domain.services import Services
from medledger.indexer.queries.devices import lots_of
from medledger.indexer.queries.imports import existing_items
from medledger.sdk.gs1 import item_id, unit_path
from medledger.sdk.model import ItemStatus

__all__ = ["CHUNK", "Commissioning"]

# `Items.MAX_BATCH` allows 500 serials per transaction; 200 keeps a node's eth_estimateGas
# of one chunk within its time budget (3 s by default) on a busy machine.
CHUNK = 200


class Commissioning:
    name = "commissioning"
    columns = {
        "gtin": "gtin",
        "GTIN": "gtin",
        "产品标识": "gtin",
        "最小销售单元产品标识": "gtin",
        "lot": "lot",
        "批号": "lot",
        "serial": "serial",
        "序列号": "serial",
        "quantity": "quantity",
        "数量": "quantity",
    }

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan:
        plan = Plan()
        lots = {(lot.gtin, lot.lot_number): lot.lot_key for lot in lots_of(conn, member.address)}
        serialised: dict[str, bool] = {}
        seen: dict[bytes, int] = {}
        wanted: list[tuple[int, bytes, str]] = []  # (row, item id, serial)
        good: list[tuple[Row, bytes, str, str, int | None]] = []
        for row in rows:
            cells = Cells(row)
            gtin, lot = cells.gtin(), cells.ledger_value("lot")
            serial = cells.ledger_value("serial", required=False)
            quantity = cells.quantity(required=False)
            raw_serial, raw_qty = row.cells.get("serial", ""), row.cells.get("quantity", "")
            if raw_serial and raw_qty:
                cells.refuse("serial", "serial_and_quantity", raw_serial)
            elif not raw_serial and not raw_qty:
                cells.refuse("serial", "serial_or_quantity")
            key = lots.get((gtin, lot)) if gtin and lot else None
            if gtin and lot and key is None:
                cells.refuse("lot", "lot_unknown", lot)
            if key is not None and gtin not in serialised:
                product = reader(services).product(gtin)
                serialised[gtin] = product is None or product.serialised
            if key is not None and serialised[gtin] and raw_qty and not raw_serial:
                cells.refuse("quantity", "needs_serial", raw_qty)
            if key is not None and not serialised[gtin] and raw_serial and not raw_qty:
                cells.refuse("serial", "needs_quantity", raw_serial)
            if serial and gtin:
                # Both checked already: a ledger-safe serial is its own percent-encoding, so
                # this is `unit_path(gtin, serial)` without parsing both again.
                unit = item_id(f"/01/{gtin}/21/{serial}")
                first = duplicate_check(seen, unit, row.number)
                if first is not None:
                    cells.refuse("serial", "duplicate_in_file", serial, other=first)
                wanted.append((row.number, unit, serial))
            plan.problems.extend(cells.problems)
            if not cells.problems and key is not None:
                good.append((row, key, gtin, serial, quantity))
        on_ledger = existing_items(conn, [unit for _, unit, _ in wanted])
        for number, unit, serial in wanted:
            if unit in on_ledger:
                plan.problems.append(RowProblem.of(number, "serial", "already_on_ledger", serial))
        plan.problems.sort(key=lambda p: p.row)
        if not plan.problems:
            plan.chunks = _chunks(good)
        return plan

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        if "quantity" not in payload:
            return {}
        return {"supply": _supply(services, bytes.fromhex(payload["lot_key"]))}

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        key = payload["lot_key"]
        if "quantity" in payload:
            quantity = int(payload["quantity"])
            if resumed and _supply(services, bytes.fromhex(key)) >= before["supply"] + quantity:
                return None
            body = CommissionLotIn.model_validate({"lot_key": key, "quantity": quantity})
            return lot_custody.commission_lot(services, member=member, body=body).tx_hash
        serials: list[str] = payload["serials"]
        if resumed:
            first = item_id(unit_path(payload["gtin"], serials[0]))
            if reader(services).item(first).status is not ItemStatus.NONE:
                return None  # the whole transaction landed: its serials went in together
        units = CommissionIn.model_validate({"lot_key": key, "serials": serials})
        return items.commission(services, member=member, units=units).tx_hash


def _supply(services: Services, lot_key: bytes) -> int:
    ledger = reader(services)
    lot = ledger.lot(lot_key)
    return 0 if lot is None else ledger.lot_supply(lot.lot_index)


def _chunks(good: list[tuple[Row, bytes, str, str, int | None]]) -> list[Chunk]:
    """File order kept; consecutive serials of one lot share a transaction."""
    chunks: list[Chunk] = []
    serials: list[str] = []
    current: tuple[bytes, str] | None = None

    def flush() -> None:
        if serials and current is not None:
            payload = {"lot_key": current[0].hex(), "gtin": current[1], "serials": list(serials)}
            chunks.append(Chunk(len(serials), payload))
            serials.clear()

    for _row, key, gtin, serial, quantity in good:
        if quantity is not None:
            flush()
            chunks.append(Chunk(1, {"lot_key": key.hex(), "gtin": gtin, "quantity": quantity}))
            continue
        if current != (key, gtin) or len(serials) == CHUNK:
            flush()
            current = (key, gtin)
        serials.append(serial)
    flush()
    return chunks
