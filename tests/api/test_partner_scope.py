from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from medledger.sdk import gs1
from medledger.sdk.dates import day_end
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
    assert shown.json()["receiver"]["address"] == c.hospital.address


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


def test_shipments_filter_by_status_direction_and_since(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    ids = commission(partner, "FLT1", "FLT2")
    first = ship(partner, c.manufacturer, c.distributor, ids[:1])
    post(
        partner,
        f"/v1/partner/shipments/{first}/receive",
        c.distributor,
        {"temp_min": 20, "temp_max": 60},
    )
    second = ship(partner, c.manufacturer, c.distributor, ids[1:])
    partner.api.sync()
    me = partner.login(c.distributor)

    def listed(**params: str) -> list[int]:
        answer = client.get("/v1/partner/shipments", params=params, headers=me)
        assert answer.status_code == 200, answer.text
        return [s["shipment_id"] for s in answer.json()]

    assert listed(status="in_transit") == [second]
    assert listed(status="received") == [first]
    assert listed(direction="inbound") == [second, first]
    assert listed(direction="outbound") == []
    assert listed(since="2000-01-01T00:00:00+08:00") == [second, first]
    assert listed(since="2999-01-01T00:00:00") == []
    maker = client.get(
        "/v1/partner/shipments",
        params={"direction": "outbound"},
        headers=partner.login(c.manufacturer),
    ).json()
    assert [(s["shipment_id"], s["direction"]) for s in maker] == [
        (second, "outbound"),
        (first, "outbound"),
    ]
    for bad in ({"status": "lost"}, {"direction": "sideways"}, {"since": "yesterday"}):
        refused = client.get("/v1/partner/shipments", params=bad, headers=me)
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_request"


def test_item_history_accepts_every_code_form_and_answers_bad_codes_with_400(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids, _ = _setup(partner)
    client = partner.api.client
    me = partner.login(c.hospital)
    gtin = c.gtin
    forms = [
        ids[0],
        ids[0].removeprefix("0x"),
        f"(01){gtin}(21)SC01",
        f"01{gtin}21SC01",
        f"]d201{gtin}21SC01",
        quote(f"https://id.example.com/01/{gtin}/21/SC01", safe=""),
        f"https://id.example.com/01/{gtin}/21/SC01",
        f"/01/{gtin}/21/SC01",
    ]
    for form in forms:
        answer = client.get(f"/v1/partner/items/{form}/history", headers=me)
        assert answer.status_code == 200, (form, answer.text)
        steps = answer.json()
        assert steps[-1]["holder"]["address"] == c.hospital.address, form
        assert dt.datetime.fromisoformat(steps[0]["at"]).tzinfo is not None
    for bad, code in (
        ("", "empty"),
        ("%20", "empty"),
        ("nonsense", "invalid_code"),
        (f"(01){gtin}(10){c.lot}", "missing_serial"),
        ("(01)09506000134353(21)X", "bad_check_digit"),
        ("x" * 600, "invalid_request"),
    ):
        refused = client.get(f"/v1/partner/items/{bad}/history", headers=me)
        expected = 422 if code == "invalid_request" else 400
        assert refused.status_code == expected, (bad, refused.text)
        assert refused.json()["code"] == code, refused.text
    assert (
        client.get(f"/v1/partner/items/(01){gtin}(21)NEVER/history", headers=me).status_code == 404
    )


def test_inventory_gives_the_expiry_as_a_date_and_a_recall_flag(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    _setup(partner)
    lines = partner.api.client.get(
        "/v1/partner/inventory", headers=partner.login(c.hospital)
    ).json()
    assert [(line["recalled"], line["recall_id"]) for line in lines] == [(False, None)]
    expiry = dt.date.fromisoformat(lines[0]["expiry"])
    assert day_end(expiry) == c.manufacturer.lot(c.lot_key).expiry  # type: ignore[union-attr]
