"""Lots: a manufacturer's lots (lot number, production date, expiry) and, for a
lot-tracked product, the quantity to commission, written with the use cases of
`POST /v1/partner/lots` and `/v1/partner/lots/commission`, one lot per chunk. Resumed,
a chunk registers the lot only if the chain lacks it and commissions the quantity only
if the lot's supply has not grown by it since just before the first send."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from medledger.domain import devices, lot_custody
from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.plan import Chunk, Payload, Plan, duplicate_check
from medledger.domain.bulk_import.problems import Cells
from medledger.domain.chain import reader
from medledger.domain.lot_schemas import CommissionLotIn
from medledger.domain.partner_schemas import LotIn
from medledger.domain.services import Services
from medledger.indexer.queries.devices import lots_of, products_of
from medledger.sdk.gs1 import lot_key

__all__ = ["Lots"]


class Lots:
    name = "lots"
    columns = {
        "gtin": "gtin",
        "GTIN": "gtin",
        "产品标识": "gtin",
        "最小销售单元产品标识": "gtin",
        "lot": "lot",
        "批号": "lot",
        "production_date": "production_date",
        "生产日期": "production_date",
        "expiry": "expiry",
        "失效日期": "expiry",
        "有效期至": "expiry",
        "quantity": "quantity",
        "数量": "quantity",
    }

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan:
        plan = Plan()
        products = {p.gtin for p in products_of(conn, member.address)}
        existing = {(lot.gtin, lot.lot_number) for lot in lots_of(conn, member.address)}
        serialised: dict[str, bool] = {}
        seen: dict[tuple[str, str], int] = {}
        for row in rows:
            cells = Cells(row)
            gtin, lot = cells.gtin(), cells.ledger_value("lot")
            made, expiry = cells.day("production_date"), cells.day("expiry")
            quantity = cells.quantity(required=False)
            if gtin and gtin not in products:
                cells.refuse("gtin", "product_unknown", gtin)
            if made and expiry and expiry < made:
                cells.refuse("expiry", "expiry_before_production", expiry.isoformat())
            if gtin in products and lot:
                if (gtin, lot) in existing:
                    cells.refuse("lot", "lot_exists", lot)
                first = duplicate_check(seen, (gtin, lot), row.number)
                if first is not None:
                    cells.refuse("lot", "duplicate_in_file", lot, other=first)
            if gtin in products and quantity is not None:
                if gtin not in serialised:
                    product = reader(services).product(gtin)
                    serialised[gtin] = product is None or product.serialised
                if serialised[gtin]:
                    cells.refuse("quantity", "needs_serial", str(quantity))
            plan.problems.extend(cells.problems)
            if not cells.problems and made and expiry:
                payload = {
                    "gtin": gtin,
                    "lot": lot,
                    "production_date": made.isoformat(),
                    "expiry": expiry.isoformat(),
                    "quantity": quantity,
                }
                plan.chunks.append(Chunk(1, payload))
        if plan.problems:
            plan.chunks = []
        return plan

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        ledger = reader(services)
        lot = ledger.lot(lot_key(payload["gtin"], payload["lot"]))
        return {"supply": 0 if lot is None else ledger.lot_supply(lot.lot_index)}

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        key = lot_key(payload["gtin"], payload["lot"])
        ledger = reader(services)
        tx: str | None = None
        lot = ledger.lot(key) if resumed else None
        if lot is None:
            body = LotIn.model_validate(
                {k: payload[k] for k in ("gtin", "lot", "production_date", "expiry")}
            )
            tx = devices.register_lot(services, member=member, lot=body).tx_hash
        quantity = payload.get("quantity")
        if quantity:
            if resumed and lot is not None:
                if ledger.lot_supply(lot.lot_index) >= before["supply"] + quantity:
                    return tx
            body_q = CommissionLotIn.model_validate({"lot_key": key.hex(), "quantity": quantity})
            tx = lot_custody.commission_lot(services, member=member, body=body_q).tx_hash
        return tx
