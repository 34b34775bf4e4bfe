"""Bulk import of shipments and receipts on the real dev chain: every row checked before
anything is written (the exact per-row report), the fixed file written through the same
use cases as the API, and a resumed job that neither ships nor receives twice."""

from __future__ import annotations

from typing import Any

import pytest

from medledger.domain.auth import Member, resolve_member
from medledger.domain.bulk_import import jobs
from medledger.domain.bulk_import.templates import template_csv
from medledger.indexer.queries.shipments import shipment as shipment_row
from medledger.sdk import gs1
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity
from medledger.sdk.model import ItemStatus, ShipmentStatus
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.lot_products import Gauze, register_gauze

partner = partner_env.partner


@pytest.fixture
def gauze(partner: PartnerEnv) -> Gauze:
    gauze = register_gauze(partner.api.consortium, partner.api.chain.now())
    partner.api.consortium.manufacturer.commission_lot(gauze.lot_key, 50)
    return gauze


def member_of(partner: PartnerEnv, who: Ledger) -> Member:
    return resolve_member(partner.api.services, who.address, method="token")


def csv_file(lines: list[list[Any]]) -> bytes:
    return "\n".join(",".join(str(v) for v in line) for line in lines).encode("utf-8")


def create(partner: PartnerEnv, who: Ledger, kind: str, lines: list[list[Any]]) -> jobs.ImportJob:
    return jobs.create_job(
        partner.api.services,
        member=member_of(partner, who),
        kind=kind,
        filename=f"{kind}.csv",
        data=csv_file(lines),
    )


def problems(partner: PartnerEnv, who: Ledger, job: jobs.ImportJob) -> list[tuple[int, str, str]]:
    rows = jobs.job_errors(
        partner.api.services, member=member_of(partner, who), job_id=job.id, limit=None
    )
    return [(e.row, e.column, e.code) for e in rows]


def measured(partner: PartnerEnv, shipment_id: int) -> tuple[int | None, int | None]:
    """The temperatures its receipt recorded (read model)."""
    partner.api.sync()
    with partner.api.services.engine.connect() as conn:
        row = shipment_row(conn, shipment_id)
    assert row is not None
    return row.temp_min, row.temp_max


def code(gtin: str, serial: str) -> str:
    return f"(01){gtin}(21){serial}"


def unit(gtin: str, serial: str) -> bytes:
    return gs1.item_id(gs1.unit_path(gtin, serial))


def shipments_sent(ledger: Ledger) -> int:
    logs = ledger.w3.eth.get_logs(
        {
            "address": ledger.deployment.items,
            "topics": [ledger.codec.event_topic("ShipmentSent")],  # type: ignore[list-item]
            "fromBlock": ledger.deployment.deployed_at_block,
            "toBlock": "latest",
        }
    )
    return len(logs)


def test_a_shipments_file_with_bad_rows_writes_nothing_until_fixed(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    m, d = c.manufacturer, c.distributor
    m.commission(c.lot_key, ["SH1", "SH2", "SH3"])
    partner.api.sync()
    header = ["发货单号", "收货方", "追溯码", "产品标识", "批号", "数量", "采购订单号"]
    bad = create(
        partner,
        m,
        "shipments",
        [
            header,
            ["REF1", d.address, code(c.gtin, "SH1"), "", "", "", "PO-1"],
            ["REF1", d.address, code(c.gtin, "SH1"), "", "", "", ""],
            ["REF1", "0x" + "00" * 20, code(c.gtin, "SH2"), "", "", "", ""],
            ["REF2", d.address, "", gauze.gtin, gauze.lot, 60, ""],
            ["REF2", d.address, "NOT-A-CODE", "", "", "", ""],
            ["REF3", d.address, code(c.gtin, "NEVER"), "", "", "", ""],
            ["REF4", d.address, code(c.gtin, "SH3"), gauze.gtin, "", "", ""],
            ["REF1", c.hospital.address, code(c.gtin, "SH3"), "", "", "", ""],
        ],
    )
    assert (bad.state, bad.error_count) == ("invalid", 7)
    assert problems(partner, m, bad) == [
        (3, "code", "duplicate_in_file"),
        (4, "receiver", "receiver_unknown"),
        (5, "quantity", "quantity_unavailable"),
        (6, "code", "malformed"),
        (7, "code", "item_not_held"),
        (8, "code", "code_or_lot"),
        (9, "receiver", "receiver_differs"),
    ]
    errors = jobs.job_errors(
        partner.api.services, member=member_of(partner, m), job_id=bad.id, limit=None
    )
    assert "2 行重复" in errors[0].message_zh and "row 2" in errors[0].message_en
    assert "(50 in all)" in errors[2].message_en
    before = shipments_sent(m)
    assert m.item(unit(c.gtin, "SH1")).status is ItemStatus.ACTIVE  # nothing written

    fixed = create(
        partner,
        m,
        "shipments",
        [
            ["reference", "receiver", "code", "gtin", "lot", "quantity", "po", "invoice"],
            ["REF1", d.address, code(c.gtin, "SH1"), "", "", "", "PO-1", "INV-9"],
            ["REF1", d.address, "0x" + unit(c.gtin, "SH2").hex(), "", "", "", "PO-1", ""],
            ["REF2", d.address, "", gauze.gtin, gauze.lot, 20, "", ""],
            ["REF2", d.address, code(c.gtin, "SH3"), "", "", "", "", ""],
        ],
    )
    assert fixed.state == "ready", problems(partner, m, fixed)
    done = jobs.run_job(partner.api.services, member=member_of(partner, m), job_id=fixed.id)
    assert (done.state, done.done_rows) == ("done", 4), done
    assert shipments_sent(m) == before + 2
    for serial in ("SH1", "SH2", "SH3"):
        assert m.item(unit(c.gtin, serial)).status is ItemStatus.IN_TRANSIT
    assert m.lot_balance(gauze.lot_index, m.address)[0] == 30


def test_a_shipment_landed_before_an_interruption_is_not_shipped_again(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    m, d = c.manufacturer, c.distributor
    m.commission(c.lot_key, ["RS1", "RS2"])
    partner.api.sync()
    job = create(
        partner,
        m,
        "shipments",
        [
            ["reference", "receiver", "code", "gtin", "lot", "quantity"],
            ["A", d.address, "", gauze.gtin, gauze.lot, 10],
            ["B", d.address, code(c.gtin, "RS1"), "", "", ""],
            ["C", d.address, code(c.gtin, "RS2"), "", "", ""],
        ],
    )
    assert job.state == "ready"
    before = shipments_sent(m)
    member = member_of(partner, m)

    crashes = {0, 1}  # each chunk's first send only

    def crash(seq: int) -> None:
        if seq in crashes:
            crashes.remove(seq)
            raise RuntimeError(f"process killed after sending chunk {seq}")

    stopped = jobs.run_job(partner.api.services, member=member, job_id=job.id, after_send=crash)
    assert (stopped.state, stopped.done_rows) == ("failed", 0)
    assert shipments_sent(m) == before + 1  # A landed, unrecorded
    again = jobs.run_job(partner.api.services, member=member, job_id=job.id, after_send=crash)
    assert (again.state, again.done_rows) == ("failed", 1)  # A skipped; B landed, unrecorded
    assert shipments_sent(m) == before + 2
    done = jobs.run_job(partner.api.services, member=member, job_id=job.id)
    assert (done.state, done.done_rows) == ("done", 3), done
    assert shipments_sent(m) == before + 3  # one shipment per reference
    assert m.lot_balance(gauze.lot_index, m.address)[0] == 40


def test_a_receipts_file_is_checked_then_received_and_a_settled_shipment_skipped(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    m, d = c.manufacturer, c.distributor
    units = m.commission(c.lot_key, ["RC1", "RC2", "RC3", "RC4"]).value
    sent = m.ship(d.address, units[:3], lots=[LotQuantity(gauze.lot_key, 20)]).value
    other = m.ship(d.address, units[3:]).value
    partner.api.sync()
    header = [
        "发货单编号",
        "追溯码",
        "产品标识",
        "批号",
        "数量",
        "验收结论",
        "最低温度",
        "最高温度",
    ]
    bad = create(
        partner,
        d,
        "receipts",
        [
            header,
            [sent, code(c.gtin, "RC1"), "", "", "", "合格", "4", "6.5"],
            [sent, code(c.gtin, "RC4"), "", "", "", "合格", "", ""],
            [99999, code(c.gtin, "RC2"), "", "", "", "合格", "", ""],
            [sent, code(c.gtin, "RC2"), "", "", "", "maybe", "", ""],
            [sent, "", gauze.gtin, gauze.lot, 30, "拒收", "", ""],
            [sent, code(c.gtin, "RC3"), "", "", "", "accepted", "abc", "5"],
            [sent, code(c.gtin, "RC3"), "", "", "", "accepted", "", ""],
        ],
    )
    assert problems(partner, d, bad) == [
        (3, "code", "not_in_shipment"),
        (4, "shipment", "shipment_not_inbound"),
        (5, "conclusion", "bad_conclusion"),
        (6, "quantity", "over_shipped"),
        (7, "temp_min", "bad_temperature"),
        (8, "code", "duplicate_in_file"),
    ]
    assert m.shipment(sent).status is ShipmentStatus.IN_TRANSIT  # nothing written
    refused = create(
        partner, m, "receipts", [header[:2] + header[5:6], [sent, code(c.gtin, "RC1"), "合格"]]
    )
    assert problems(partner, m, refused) == [(2, "shipment", "shipment_not_inbound")]

    fixed = create(
        partner,
        d,
        "receipts",
        [
            ["shipment", "code", "gtin", "lot", "quantity", "conclusion", "temp_min", "temp_max"],
            [sent, code(c.gtin, "RC1"), "", "", "", "accepted", "4", "6.5"],
            [sent, code(c.gtin, "RC2"), "", "", "", "rejected", "", ""],
            [sent, "", gauze.gtin, gauze.lot, 5, "rejected", "", ""],
            [other, code(c.gtin, "RC4"), "", "", "", "合格", "", ""],
        ],
    )
    assert fixed.state == "ready", problems(partner, d, fixed)
    d.receive(other, temp_min=30, temp_max=50)  # received by hand meanwhile
    done = jobs.run_job(partner.api.services, member=member_of(partner, d), job_id=fixed.id)
    assert (done.state, done.done_rows) == ("done", 4), done
    assert m.shipment(sent).status is ShipmentStatus.RECEIVED
    assert measured(partner, sent) == (40, 65)
    assert m.item(units[0]).holder == d.address
    assert m.item(units[1]).holder == m.address
    assert m.lot_balance(gauze.lot_index, d.address)[0] == 15
    assert measured(partner, other) == (30, 50)  # not received twice

    settled = create(
        partner, d, "receipts", [header[:2] + header[5:6], [sent, code(c.gtin, "RC1"), "合格"]]
    )
    assert problems(partner, d, settled) == [(2, "shipment", "shipment_settled")]


def test_every_template_heading_is_a_column_of_its_kind() -> None:
    for kind, handler in jobs.KINDS.items():
        for chinese in (True, False):
            data = template_csv(kind, chinese=chinese)
            assert data is not None
            headings = data.decode("utf-8-sig").strip().split(",")
            keys = [handler.columns.get(h) for h in headings]
            assert None not in keys and len(set(keys)) == len(keys), (kind, headings)
    assert template_csv("nothing", chinese=True) is None


def test_shipments_and_receipts_are_kinds_of_the_partner_api(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    h = c.hospital
    for kind, data, column, code_ in (
        (
            "receipts",
            "shipment,code,conclusion\n424242,0x" + "11" * 32 + ",合格\n",
            "shipment",
            "shipment_not_inbound",
        ),
        (
            "shipments",
            f"reference,receiver,code\nR,{h.address},0x{'22' * 32}\n",
            "receiver",
            "receiver_is_sender",
        ),
    ):
        answer = partner.api.client.post(
            "/v1/partner/imports",
            data={"kind": kind},
            files={"file": (f"{kind}.csv", data.encode())},
            headers=partner.login(h),
        )
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert (body["kind"], body["state"]) == (kind, "invalid")
        first = body["errors"][0]
        assert (first["row"], first["column"], first["code"]) == (2, column, code_), body
        assert first["message_zh"] and first["message_en"] != first["message_zh"]
