"""The demo's GSP records written through the same domain use cases the portal and the
partner API call (`domain.returns`, `domain.return_inspection`, `domain.service_records`,
`domain.adverse_events`), signed with the members' keys taken into the partner API's
custody as their portal users' are: qualification files (首营企业) of every trade
relationship the demo's shipments use, each approved with a licence copy in the encrypted
document store, Kangze on policy Hold with Chengrui approved and East China Demo not, so
East China Demo's next delivery lands in quarantine at Kangze; a return order from Jiahe to
Ruitong, received and inspected by Ruitong (return inspection, restock); the return
inspection by East China Demo of the infusion sets Ruitong rejected (quarantine); an
explant of an implanted stent at Jiahe; a service record of the pacemaker at Jiahe; an
adverse-event report with the structured fields from Chaoyang.

These use cases read the partner read model (suppliers, rejected goods), so the step waits
for the partner indexer to reach the chain head first (`await_indexed`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping

from eth_account.signers.local import LocalAccount

from medledger.domain import (
    adverse_events,
    items,
    qualification,
    return_inspection,
    returns,
    service_records,
)
from medledger.domain.auth import Member, resolve_member
from medledger.domain.chain import vault
from medledger.domain.document_upload import upload_document
from medledger.domain.errors import ApiError
from medledger.domain.partner_schemas import ReceiveIn, ShipIn, hexs
from medledger.domain.read_your_writes import reached
from medledger.domain.services import Services
from medledger.ops.demo.lot_history import MAKER, PACEMAKER, SYRINGE
from medledger.portal.routes.qualification import QUALIFICATION_DOCUMENT
from medledger.sdk import gs1
from medledger.sdk.dates import day_of

__all__ = ["SLUGS", "await_indexed", "gsp_records"]

# Who approved whom (receiver: its suppliers in the demo's history); Kangze keeps Hold.
SUPPLIERS = {
    "ruitong": ("chengrui", MAKER),
    "kangze": ("chengrui",),
    "coldlink": ("maikang",),
    "nanyue": ("maikang", "coldlink"),
    "jiahe": ("ruitong",),
    "xihu": ("ruitong",),
    "chaoyang": ("kangze",),
    "baiyun": ("nanyue",),
}
HOLD = "kangze"
SLUGS = tuple(sorted({*SUPPLIERS, *(s for v in SUPPLIERS.values() for s in v), MAKER}))
SYRINGE_LOT = (SYRINGE, "SY2612A")
STENT_GTIN, CATHETER_GTIN = "06970012100019", "06970012100026"


class GspSeedError(RuntimeError):
    """The partner indexer never reached the chain head."""


def await_indexed(services: Services, block: int, *, timeout: float = 120.0) -> None:
    """Until the partner read model has indexed `block`."""
    if not reached(services, block, timeout=timeout):
        raise GspSeedError(f"the partner indexer never reached block {block}")


def _unit(gtin: str, serial: str) -> str:
    return hexs(gs1.item_id(gs1.unit_path(gtin, serial)))


def gsp_records(
    services: Services,
    keys: Mapping[str, LocalAccount],
    head: Callable[[], int],
    echo: Callable[[str], None] = print,
) -> None:
    """Write the records; `head` gives the chain's latest block number."""
    members: dict[str, Member] = {}
    for slug in SLUGS:
        try:
            vault(services).put(keys[slug])
        except ApiError as exc:
            if exc.code != "custodial_key_exists":
                raise
        members[slug] = resolve_member(services, keys[slug].address, method="cli")
    today = day_of(int(time.time()))

    def ago(days: int) -> str:
        return (today - dt.timedelta(days=days)).isoformat()

    await_indexed(services, head())
    _qualification(services, members, keys)
    await_indexed(services, head())
    # A delivery from a supplier Kangze has not approved: it lands in quarantine there.
    syringes = ShipIn.model_validate(
        {
            "receiver": members[HOLD].address,
            "lots": [{"lot_key": hexs(gs1.lot_key(*SYRINGE_LOT)), "quantity": 100}],
        }
    )
    held = items.ship(services, member=members[MAKER], order=syringes)
    assert held.shipment_id is not None
    receipt = ReceiveIn.model_validate({"temp_min": 180, "temp_max": 240})
    items.receive(services, member=members[HOLD], shipment_id=held.shipment_id, order=receipt)
    await_indexed(services, head())
    # A return order: Jiahe returns a stent it never implanted to Ruitong, its supplier.
    order = returns.ReturnIn.model_validate(
        {
            "supplier": members["ruitong"].address,
            "item_ids": [_unit(STENT_GTIN, "S00004")],
            "reason": "damaged",
            "note": "外包装破损 / outer packaging torn",
        }
    )
    sent = returns.return_order(services, member=members["jiahe"], order=order)
    assert sent.shipment_id is not None
    receipt = ReceiveIn.model_validate({"temp_min": 180, "temp_max": 240})
    items.receive(services, member=members["ruitong"], shipment_id=sent.shipment_id, order=receipt)
    await_indexed(services, head())
    inspections = {
        # Ruitong inspects the returned stent and restocks it.
        "ruitong": ("restock", "外观完好，灭菌包装完整 / sterile pack intact"),
        # East China Demo inspects the 50 infusion sets Ruitong rejected: quarantined.
        MAKER: ("quarantine", "滴壶内有颗粒 / particles in drip chamber, held for QA"),
    }
    for slug, (disposition, condition) in inspections.items():
        for goods in return_inspection.awaiting(services, member=members[slug], limit=5):
            inspection = return_inspection.ReturnInspectionIn.model_validate(
                {
                    "inspector": "质量部 王敏 / QA Wang Min",
                    "lines": [
                        {
                            "gtin": line.gtin,
                            "lot_number": line.lot_number,
                            "received_back": True,
                            "condition": condition,
                            "disposition": disposition,
                        }
                        for line in goods.lines
                    ],
                }
            )
            return_inspection.record_inspection(
                services,
                member=members[slug],
                shipment_id=goods.shipment_id,
                inspection=inspection,
            )
    # An explant of a stent Jiahe implanted; a service record of its pacemaker.
    explant = returns.ExplantIn.model_validate(
        {
            "item_id": _unit(STENT_GTIN, "S00001"),
            "explant_date": ago(3),
            "reason": "支架内再狭窄 / in-stent restenosis",
            "condition": "intact",
            "returned_to_manufacturer": True,
        }
    )
    returns.explant(services, member=members["jiahe"], record=explant)
    service = service_records.ServiceIn.model_validate(
        {
            "item_id": _unit(PACEMAKER, "PM260001"),
            "service_date": ago(2),
            "service_type": "calibration",
            "result": "passed",
            "notes": "程控仪参数核对 / programmer parameters checked",
            "next_due": ago(-180),
        }
    )
    service_records.record_service(services, member=members["jiahe"], record=service)
    # An adverse event at Chaoyang about a catheter of the recalled lot.
    event = adverse_events.AdverseEventIn.model_validate(
        {
            "subject_id": _unit(CATHETER_GTIN, "B00001"),
            "severity": 2,
            "event_date": ago(5),
            "outcome": "injury",
            "device_problem_code": "A0501",
            "device_problem": "球囊破裂 / balloon burst",
            "patient_age_band": "65-79",
            "patient_sex": "male",
            "narrative": "球囊在额定压力下破裂，已更换器械 / balloon burst at rated pressure",
        }
    )
    adverse_events.report_event(services, member=members["chaoyang"], event=event)
    echo(
        "seed: a return order, two return inspections, an explant, a service record "
        "and an adverse event recorded"
    )


def _qualification(
    services: Services, members: Mapping[str, Member], keys: Mapping[str, LocalAccount]
) -> None:
    """Every receiver approves its suppliers with a licence copy; Kangze sets Hold."""
    with services.engine.connect() as conn:
        for slug, suppliers in SUPPLIERS.items():
            member = members[slug]
            for supplier in suppliers:
                address = members[supplier].address
                subject = bytes.fromhex(address[2:]).rjust(32, b"\0")
                copy = upload_document(
                    services,
                    uploader=member.address,
                    counterparty=address,
                    subject_id=subject,
                    kind=QUALIFICATION_DOCUMENT,
                    filename=f"licence-{supplier}.txt",
                    content_type="text/plain",
                    content=f"经营许可证复印件（演示）/ licence copy (demo): {supplier}".encode(),
                )
                body = qualification.ApprovalIn.model_validate(
                    {
                        "documents": [{"document_id": copy.id, "kind": "licence"}],
                        "note": "首营企业审核通过 / first-time supplier approved",
                        "decided_by": "质量负责人 / head of quality",
                    }
                )
                qualification.approve_supplier(
                    services, conn, member=member, supplier=address, body=body
                )
    qualification.set_policy(services, member=members[HOLD], policy="hold")
