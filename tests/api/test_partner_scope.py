from __future__ import annotations

from medledger.sdk import gs1
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.test_partner import commission, post, ship

partner = partner_env.partner


def _setup(partner: PartnerEnv) -> tuple[list[str], int]:
    """Two units: both shipped manufacturer → distributor → hospital and received."""
    c = partner.api.consortium
    ids = commission(partner, "SC01", "SC02")
    first = ship(partner, c.manufacturer, c.distributor, ids)
    post(
        partner,
        f"/v1/partner/shipments/{first}/receive",
        c.distributor,
        {"temp_min": 40, "temp_max": 60},
    )
    second = ship(partner, c.distributor, c.hospital, ids[:1])
    post(
        partner,
        f"/v1/partner/shipments/{second}/receive",
        c.hospital,
        {"temp_min": 40, "temp_max": 60},
    )
    partner.api.sync()
    return ids, second


def test_inventory_is_the_members_own_stock(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    _setup(partner)
    client = partner.api.client
    hospital = client.get("/v1/partner/inventory", headers=partner.login(c.hospital)).json()
    assert [(line["lot_number"], line["units"]) for line in hospital] == [(c.lot, 1)]
    distributor = client.get("/v1/partner/inventory", headers=partner.login(c.distributor)).json()
    assert [line["units"] for line in distributor] == [1]
    assert client.get("/v1/partner/inventory", headers=partner.login(c.hospital2)).json() == []


def test_item_history_is_shown_only_to_members_that_hold_or_held_the_item(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids, _ = _setup(partner)
    client = partner.api.client
    for holder in (c.manufacturer, c.distributor, c.hospital, c.regulator):
        response = client.get(f"/v1/partner/items/{ids[0]}/history", headers=partner.login(holder))
        assert response.status_code == 200, response.text
        assert [s["kind"] for s in response.json()][0] == "commissioned"
    never_held = client.get(
        f"/v1/partner/items/{ids[1]}/history", headers=partner.login(c.hospital)
    )
    assert never_held.status_code == 404
    stranger = client.get(f"/v1/partner/items/{ids[0]}/history", headers=partner.login(c.hospital2))
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "item_not_found"


def test_shipments_are_listed_and_shown_only_to_their_sender_and_receiver(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    _, second = _setup(partner)
    client = partner.api.client
    hospital = client.get("/v1/partner/shipments", headers=partner.login(c.hospital)).json()
    assert [s["shipment_id"] for s in hospital] == [second]
    distributor = client.get("/v1/partner/shipments", headers=partner.login(c.distributor)).json()
    assert len(distributor) == 2
    assert client.get("/v1/partner/shipments", headers=partner.login(c.hospital2)).json() == []
    denied = client.get(f"/v1/partner/shipments/{second}", headers=partner.login(c.hospital2))
    assert denied.status_code == 404
    shown = client.get(f"/v1/partner/shipments/{second}", headers=partner.login(c.hospital))
    assert shown.json()["receiver"] == c.hospital.address


def test_another_members_shipment_answers_as_one_that_does_not_exist(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "XT01")
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    unknown = shipment_id + 1000
    answers = []
    for sid in (shipment_id, unknown):
        for action in ("receive", "cancel"):
            body = {"temp_min": 40, "temp_max": 60} if action == "receive" else {}
            response = post(partner, f"/v1/partner/shipments/{sid}/{action}", c.hospital2, body)
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "shipment_not_found"
            answers.append(response.json()["detail"].replace(str(sid), "N"))
            # Neither its status nor its parties are disclosed.
            assert c.distributor.address not in response.text
            assert c.manufacturer.address not in response.text
            assert "in_transit" not in response.text.lower()
    assert answers[:2] == answers[2:]
    # The parties themselves still get the ledger's own refusal (the sender cannot receive).
    wrong_party = post(
        partner,
        f"/v1/partner/shipments/{shipment_id}/receive",
        c.manufacturer,
        {"temp_min": 40, "temp_max": 60},
    )
    assert wrong_party.status_code == 409
    assert wrong_party.json()["code"] == "ItemsWrongParty"


def test_a_settled_shipment_of_others_does_not_reveal_its_status(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    _, second = _setup(partner)
    for action in ("receive", "cancel"):
        body = {"temp_min": 40, "temp_max": 60} if action == "receive" else {}
        response = post(partner, f"/v1/partner/shipments/{second}/{action}", c.hospital2, body)
        assert response.status_code == 404
        assert response.json()["code"] == "shipment_not_found"
    # Its own party learns it is settled.
    again = post(partner, f"/v1/partner/shipments/{second}/cancel", c.distributor)
    assert again.status_code == 409
    assert again.json()["code"] == "ItemsShipmentNotInTransit"


def test_fields_outside_the_schema_are_rejected(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    body = {"item_ids": ["0x" + "11" * 32], "holder": c.hospital2.address}
    response = post(partner, "/v1/partner/items/dispense", c.hospital, body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_hospital2_cannot_act_on_items_another_member_holds(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids, _ = _setup(partner)
    never = "0x" + "ab" * 32
    for action in ("dispense", "quarantine", "destroy"):
        answers = []
        for item in (ids[0], never):
            response = post(
                partner, f"/v1/partner/items/{action}", c.hospital2, {"item_ids": [item]}
            )
            assert response.status_code == 409, (action, response.text)
            assert response.json()["code"] == "ItemsNotHolder"
            # The same answer for another member's unit as for one never commissioned.
            assert response.json()["arguments"] == {"id": item}
            assert c.hospital.address not in response.text
            answers.append(response.json()["detail"].replace(item[2:], "X"))
        assert answers[0] == answers[1]
    shipped = post(
        partner,
        "/v1/partner/shipments",
        c.hospital2,
        {"receiver": c.hospital2.address, "item_ids": ids[:1]},
    )
    assert shipped.status_code in (409, 422)
    assert c.hospital.address not in shipped.text
    assert c.hospital.item(bytes.fromhex(ids[0][2:])).holder == c.hospital.address


def test_a_unit_packed_in_another_members_case_does_not_name_the_case(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "PK01")
    prefix = c.prefix
    sscc = gs1.make_sscc(extension=0, company_prefix=prefix, serial_reference=901)
    created = post(
        partner, "/v1/partner/containers", c.manufacturer, {"sscc": sscc, "company_prefix": prefix}
    )
    assert created.status_code == 201, created.text
    case = created.json()["container_id"]
    packed = post(partner, f"/v1/partner/containers/{case}/pack", c.manufacturer, {"item_ids": ids})
    assert packed.status_code == 200, packed.text
    response = post(partner, "/v1/partner/items/quarantine", c.hospital2, {"item_ids": ids})
    assert response.status_code == 409
    assert response.json()["code"] == "ItemsNotHolder"
    assert case[2:] not in response.text
    # The holder itself is told the unit is in its case.
    own = post(partner, "/v1/partner/items/quarantine", c.manufacturer, {"item_ids": ids})
    assert own.json()["code"] == "ItemsInContainer"
    assert own.json()["arguments"]["containerId"] == case
