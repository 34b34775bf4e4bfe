"""A recall of a lot tracked by quantity counts units per holder: loose, quarantined,
shipped and not yet settled, and inside cases; the regulator sees every holder, a member
only its own line, and a member the lot never reached is told nothing."""

from __future__ import annotations

from eth_utils import keccak

from medledger.domain.recalls import recall_summary
from medledger.sdk.messages import LotQuantity
from tests.api import partner_env
from tests.api.lot_env import IN_SUPPLY, lot_world
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner


def test_recall_scope_in_units_per_holder_seen_by_the_regulator_and_by_each_member(
    partner: PartnerEnv,
) -> None:
    world = lot_world(partner)
    api, c = partner.api, partner.api.consortium
    c.manufacturer.destroy_lots([LotQuantity(world.key, 20)])
    recall = c.regulator.recall_lot(world.key, level=1, reason_hash=keccak(text="seal")).value
    api.sync()

    reg = regulator_client(api)
    body = reg.get(f"/v1/trace/recalls/{recall}", headers=AUTH).json()
    assert body["by_quantity"] is True
    assert (body["outstanding"], body["returned"], body["destroyed"]) == (440, 1000, 20)
    assert body["outstanding"] + body["returned"] + body["destroyed"] == IN_SUPPLY
    lines = {h["holder"]["address"]: h for h in body["holders"]}
    assert set(lines) == {c.distributor.address, c.hospital.address}
    assert lines[c.distributor.address]["units"] == {
        "active": 150,
        "quarantined": 0,
        "in_transit": 30,
        "cases": 2,
        "case_units": 200,
        "total": 380,
    }
    assert lines[c.distributor.address]["outstanding"] == 380
    assert lines[c.hospital.address]["units"]["quarantined"] == 10
    assert lines[c.hospital.address]["outstanding"] == 60
    assert lines[c.hospital.address]["dispensed"] == 40
    assert lines[c.distributor.address]["dispensed"] == 0

    client = api.client
    mine = client.get(f"/v1/trace/recalls/{recall}", headers=partner.login(c.hospital)).json()
    assert [h["holder"]["address"] for h in mine["holders"]] == [c.hospital.address]
    assert mine["holders"][0]["units"]["active"] == 50
    made = client.get(f"/v1/trace/recalls/{recall}", headers=partner.login(c.manufacturer))
    assert len(made.json()["holders"]) == 2
    stranger = client.get(f"/v1/trace/recalls/{recall}", headers=partner.login(c.logistics))
    assert stranger.status_code == 404

    ack = client.post(
        f"/v1/partner/recalls/{recall}/acknowledgement",
        json={"note": "quarantined"},
        headers=partner.login(c.hospital),
    )
    assert ack.status_code == 200, ack.text
    api.sync()  # signed on chain: the indexer brings it to the recall centre
    acks = reg.get(f"/v1/regulator/recalls/{recall}/acknowledgements", headers=AUTH).json()
    by_holder = {h["holder"]: h for h in acks["holders"]}
    assert by_holder[c.hospital.address]["acknowledgement"] is not None
    assert by_holder[c.distributor.address]["units"]["case_units"] == 200


def test_a_lot_trace_shows_quantity_movements_and_each_member_only_its_part(
    partner: PartnerEnv,
) -> None:
    world = lot_world(partner)
    api, c = partner.api, partner.api.consortium
    url = f"/v1/trace/lots/{world.gtin}/{world.lot}"
    body = regulator_client(api).get(url, headers=AUTH).json()
    assert body["by_quantity"] is True
    moves = [(m["kind"], m["quantity"]) for m in body["movements"]]
    assert moves == [
        ("commissioned", 1500),
        ("shipped", 300),
        ("received", 280),
        ("rejected", 20),
        ("shipped", 100),
        ("received", 100),
        ("dispensed", 40),
        ("quarantined", 10),
        ("shipped", 30),
    ]
    assert body["movements"][2]["receiver"]["address"] == c.distributor.address
    units = {u["holder"]["address"]: u["units"]["total"] for u in body["units"]}
    assert units == {
        c.manufacturer.address: 1020,
        c.distributor.address: 380,
        c.hospital.address: 60,
    }

    reached = [r["organisation"]["address"] for r in body["reached"]]
    assert reached == [c.manufacturer.address, c.distributor.address, c.hospital.address]

    mine = api.client.get(url, headers=partner.login(c.hospital)).json()
    assert [r["organisation"]["address"] for r in mine["reached"]] == [c.hospital.address]
    assert [u["holder"]["address"] for u in mine["units"]] == [c.hospital.address]
    assert [(m["kind"], m["quantity"]) for m in mine["movements"]] == [
        ("shipped", 100),
        ("received", 100),
        ("dispensed", 40),
        ("quarantined", 10),
        ("shipped", 30),
    ]
    assert api.client.get(url, headers=partner.login(c.logistics)).status_code == 404


def test_a_fresh_recall_of_a_lot_tracked_lot_is_not_nearly_done_and_its_stock_is_flagged(
    partner: PartnerEnv,
) -> None:
    world = lot_world(partner)
    api, c = partner.api, partner.api.consortium
    recall = c.regulator.recall_lot(world.key, level=2, reason_hash=bytes(32)).value
    api.sync()
    with api.services.engine.connect() as conn:
        summary = recall_summary(api.services, conn, recall)
    # The 1000 units the manufacturer never shipped are not 'returned'.
    assert summary.returned == 0 and summary.destroyed == 0
    assert summary.outstanding == 440 and summary.done == 0.0

    lots = api.client.get("/v1/partner/inventory/lots", headers=partner.login(c.hospital)).json()
    (line,) = [x for x in lots if x["lot_number"] == world.lot]
    assert line["holds"] == [
        {"kind": "recalled", "recall_id": recall, "level": 2},
        {"kind": "quarantined", "recall_id": None, "level": None},
    ]
