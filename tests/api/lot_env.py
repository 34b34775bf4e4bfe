"""A lot-tracked product in the API's world, for the read side of custody by quantity: the
manufacturer anchors the master data of a syringe (tracked by lot, a box of 100) through the
API, then plays a supply chain with the SDK: 1,500 commissioned, 5 boxes packed, 300 loose and
2 boxes shipped to the distributor (20 rejected), 100 on to the hospital, which dispenses 40
and quarantines 10; 30 more are on their way to the hospital."""

from __future__ import annotations

from dataclasses import dataclass

from medledger.sdk.gs1 import lot_key
from medledger.sdk.messages import LotQuantity
from tests.api.partner_env import PartnerEnv
from tests.api.test_master_data import record

LOT = "S2026-07"
DAY = 24 * 3600


@dataclass(frozen=True)
class LotWorld:
    gtin: str
    box_gtin: str
    lot: str
    key: bytes
    index: int
    boxes: tuple[bytes, ...]


def lot_world(partner: PartnerEnv) -> LotWorld:
    c = partner.api.consortium
    m, d, h = c.manufacturer, c.distributor, c.hospital
    body = record(c.prefix)
    gtin, box = body["gtin"], body["packages"][0]["gtin"]
    put = partner.api.client.put(
        f"/v1/partner/products/{gtin}/master", json=body, headers=partner.login(m)
    )
    assert put.status_code == 200, put.text
    now = partner.api.chain.now()
    key = m.register_lot(gtin, LOT, production_date=now - DAY, expiry=now + 300 * DAY).value
    m.commission_lot(key, 1500)
    boxes = tuple(m.pack_cases(box, LOT, ["B1", "B2", "B3", "B4", "B5"]).value)
    first = m.ship(d.address, list(boxes[:2]), lots=[LotQuantity(key, 300)]).value
    d.receive(first, temp_min=50, temp_max=80, rejected_lots=[LotQuantity(key, 20)])
    second = d.ship(h.address, [], lots=[LotQuantity(key, 100)]).value
    h.receive(second, temp_min=50, temp_max=80)
    h.dispense_lots([LotQuantity(key, 40)])
    h.quarantine_lots(h.address, [LotQuantity(key, 10)])
    d.ship(h.address, [], lots=[LotQuantity(key, 30)])
    lot = m.lot(key)
    assert lot is not None and lot_key(gtin, LOT) == key
    partner.api.sync()
    return LotWorld(gtin, box, LOT, key, lot.lot_index, boxes)


# Who holds what afterwards (loose active, quarantined, in transit, boxes, units in boxes):
# manufacturer 1500 - 500 packed - 300 shipped + 20 rejected = 720 loose, 3 boxes (300);
# distributor 300 - 20 - 100 - 30 = 150 loose, 30 in transit, 2 boxes (200);
# hospital 50 active, 10 quarantined. In the supply chain: 1500 - 40 = 1460.
IN_SUPPLY = 1460
