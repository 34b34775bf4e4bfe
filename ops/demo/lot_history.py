"""The East China demo manufacturer's history in the seeded consortium: serialised implants
and lot-tracked consumables side by side, as a hospital supplier's week looks.

    华东示范 commissions hip prostheses and pacemakers by serial, syringes, masks and
    infusion sets by quantity, packs consumables into cases of their case level, and builds
    a mixed pallet (SSCC) of implant units and consumable cases; the pallet ships to
    Ruitong with loose quantities beside it, and Ruitong rejects part of the infusion sets
    (damaged cartons). Ruitong unpacks and supplies Jiahe (units, a case and loose
    quantities) and Xihu (a mask case); Jiahe implants a hip and uses syringes and infusion
    sets; infusion sets also go to Kangze and on to Chaoyang. Then the infusion-set lot is
    recalled with quantities outstanding at five holders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medledger.domain.records import RecordKind
from medledger.ops.demo.notes import DemoNotes
from medledger.sdk.gs1 import make_sscc
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity, sorted_lots

__all__ = ["LOTS", "LotPlan", "lot_history"]

MAKER = "huadong"
PREFIX = "9506000"
HIP, STENT, PACEMAKER = "09506000201016", "09506000201023", "09506000201030"
SYRINGE, MASK, INFUSION = "09506000301013", "09506000301020", "09506000301037"
SYRINGE_CASE, MASK_CASE, INFUSION_CASE = "29506000301017", "29506000301024", "29506000301031"


@dataclass(frozen=True, slots=True)
class LotPlan:
    gtin: str
    lot: str


# The lots the seed registers for the East China manufacturer (GTIN, lot).
LOTS = (
    LotPlan(HIP, "HP2609A"),
    LotPlan(STENT, "DS2610A"),
    LotPlan(PACEMAKER, "PM2611A"),
    LotPlan(SYRINGE, "SY2612A"),
    LotPlan(MASK, "SM2613A"),
    LotPlan(INFUSION, "IS2614A"),
)
RECALLED = "IS2614A"
# Inbound inspection within every product's storage range: 15.0-25.0 °C.
ROOM = (150, 250)


def lot_history(
    m: dict[str, Ledger],
    keys: dict[str, bytes],
    note: DemoNotes,
    *,
    notice: Callable[[str, str, int, str, str], bytes],
) -> dict[str, str]:
    """Record the history; `keys` maps each lot of `LOTS` to its lot key, `note` seals what
    the members type and `notice` a recall's notice (only their salted commitments go on
    chain). Returns Digital Link paths of a lot-tracked lot in use and of the recalled lot."""
    maker = m[MAKER]
    hip, stent, pacemaker = keys["HP2609A"], keys["DS2610A"], keys["PM2611A"]
    syringe, mask, infusion = keys["SY2612A"], keys["SM2613A"], keys["IS2614A"]

    def q(key: bytes, quantity: int) -> LotQuantity:
        return LotQuantity(key, quantity)

    def receive(who: str, shipment: int, rejected: list[LotQuantity] | None = None) -> None:
        m[who].receive(
            shipment,
            temp_min=ROOM[0],
            temp_max=ROOM[1],
            rejected_lots=sorted_lots(rejected or []),
            inspection_hash=note(
                who,
                RecordKind.ACCEPTANCE,
                shipment.to_bytes(32, "big"),
                {"shipment_id": shipment, "conclusion": "accepted", "note": "inbound inspection"},
            ),
        )

    def used(who: str, subject: bytes, use: str, reference: str) -> bytes:
        return note(who, RecordKind.DISPENSE, subject, {"use": use, "reference": reference})

    def ship(sender: str, receiver: str, ids: list[bytes], lots: list[LotQuantity]) -> int:
        result = m[sender].ship(m[receiver].address, ids, lots=sorted_lots(lots))
        return int(result.value)

    hips = maker.commission(hip, [f"HA26{i:04d}" for i in range(1, 5)]).value
    maker.commission(stent, [f"DS26{i:04d}" for i in range(1, 6)])
    pacers = maker.commission(pacemaker, [f"PM26{i:04d}" for i in range(1, 4)]).value
    maker.commission_lot(syringe, 10_000)
    maker.commission_lot(mask, 8_000)
    maker.commission_lot(infusion, 3_000)
    syringe_cases = maker.pack_cases(SYRINGE_CASE, "SY2612A", ["SYC0001", "SYC0002"]).value
    (mask_case,) = maker.pack_cases(MASK_CASE, "SM2613A", ["SMC0001"]).value
    infusion_cases = maker.pack_cases(INFUSION_CASE, "IS2614A", ["ISC0001", "ISC0002"]).value
    sscc = make_sscc(extension=3, company_prefix=PREFIX, serial_reference=1)
    pallet = maker.create_container(sscc, company_prefix=PREFIX).value
    maker.pack(pallet, [*hips[:2], *pacers[:2], *syringe_cases, mask_case])

    # The mixed pallet and loose quantities to Ruitong, who rejects 50 infusion sets.
    first = ship(MAKER, "ruitong", [pallet], [q(syringe, 1_000), q(infusion, 600)])
    receive("ruitong", first, [q(infusion, 50)])
    m["ruitong"].unpack(pallet)
    to_jiahe = ship(
        "ruitong",
        "jiahe",
        [hips[0], pacers[0], syringe_cases[0]],
        [q(syringe, 300), q(infusion, 150)],
    )
    receive("jiahe", to_jiahe)
    receive("xihu", ship("ruitong", "xihu", [mask_case], []))
    # Use at the hospitals: a hip implanted, a syringe case opened, quantities dispensed.
    m["jiahe"].dispense([hips[0]], record_hash=used("jiahe", hips[0], "implant", "JH-2026-0519"))
    m["jiahe"].unpack_cases([syringe_cases[0]])
    m["jiahe"].dispense_lots(
        sorted_lots([q(syringe, 240), q(infusion, 30)]),
        record_hash=used("jiahe", syringe, "dispense", "ward JH-5"),
    )
    m["xihu"].unpack_cases([mask_case])
    m["xihu"].dispense_lots([q(mask, 150)], record_hash=used("xihu", mask, "dispense", "ward XH-2"))
    # Infusion sets to Kangze (a case and loose), on to Chaoyang, who uses some.
    receive("kangze", ship(MAKER, "kangze", [infusion_cases[0]], [q(infusion, 200)]))
    receive("chaoyang", ship("kangze", "chaoyang", [], [q(infusion, 120)]))
    m["chaoyang"].dispense_lots(
        [q(infusion, 20)], record_hash=used("chaoyang", infusion, "dispense", "ward CY-11")
    )
    # The infusion-set lot is recalled: quantities remain at five holders.
    reason = notice(MAKER, RECALLED, 2, "particles in drip chamber", "quarantine and return")
    maker.recall_lot(infusion, level=2, reason_hash=reason)
    return {
        "lot": f"/01/{SYRINGE}/10/SY2612A",
        "recalled_lot": f"/01/{INFUSION}/10/{RECALLED}",
    }
