"""Lot-tracked custody through the partner API (`api.routes.lots`, `lots` on shipments and
`rejected_lots` on receipts), on the real dev chain: each route accepts its member's
request and refuses the others with the ledger's or the API's problem code."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from medledger.domain.api_examples import LOT_CODE
from medledger.sdk.ledger import Ledger, case_id
from medledger.sdk.messages import LotQuantity
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.lot_products import Gauze, deliver, register_gauze

partner = partner_env.partner


def h(value: bytes) -> str:
    return "0x" + value.hex()


def post(partner: PartnerEnv, path: str, who: Ledger, body: dict[str, Any]) -> Any:
    return partner.api.client.post(path, json=body, headers=partner.login(who))


@pytest.fixture
def gauze(partner: PartnerEnv) -> Gauze:
    return register_gauze(partner.api.consortium, partner.api.chain.now())


def balance(partner: PartnerEnv, gauze: Gauze, who: Ledger) -> tuple[int, int, int]:
    return partner.api.consortium.admin.lot_balance(gauze.lot_index, who.address)


def commission(partner: PartnerEnv, gauze: Gauze, quantity: int) -> Any:
    c = partner.api.consortium
    body = {"lot_key": h(gauze.lot_key), "quantity": quantity}
    return post(partner, "/v1/partner/lots/commission", c.manufacturer, body)


def test_a_manufacturer_commissions_a_quantity_and_others_cannot(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    done = commission(partner, gauze, 120)
    assert done.status_code == 201, done.text
    assert done.json()["lot_key"] == h(gauze.lot_key)
    assert "LotCommissioned" in [e["name"] for e in done.json()["events"]]
    assert balance(partner, gauze, c.manufacturer) == (120, 0, 0)
    body = {"lot_key": h(gauze.lot_key), "quantity": 5}
    other = post(partner, "/v1/partner/lots/commission", c.distributor, body)
    assert other.status_code == 409 and other.json()["code"] == "ItemsUnauthorized"
    serialised = {"lot_key": h(c.lot_key), "quantity": 5}
    refused = post(partner, "/v1/partner/lots/commission", c.manufacturer, serialised)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "ItemsSerialisedLot"


@pytest.mark.parametrize("quantity", [0, -1, 2**32])
def test_a_quantity_outside_1_to_2_32_minus_1_is_unprocessable(
    partner: PartnerEnv, gauze: Gauze, quantity: int
) -> None:
    response = commission(partner, gauze, quantity)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_cases_are_packed_from_the_loose_balance_and_unpacked_only_by_their_holder(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    commission(partner, gauze, 35)
    body = {"package_gtin": gauze.case_gtin, "lot": gauze.lot, "serials": ["C1", "C2", "C3"]}
    packed = post(partner, "/v1/partner/cases/pack", c.manufacturer, body)
    assert packed.status_code == 201, packed.text
    ids = [h(case_id(gauze.case_gtin, s)) for s in ("C1", "C2", "C3")]
    assert packed.json()["item_ids"] == ids
    assert balance(partner, gauze, c.manufacturer) == (5, 0, 0)
    too_many = {**body, "serials": ["C4"]}
    short = post(partner, "/v1/partner/cases/pack", c.manufacturer, too_many)
    assert short.status_code == 409 and short.json()["code"] == "ItemsInsufficientQuantity"
    not_package = {**body, "package_gtin": gauze.gtin}
    unknown = post(partner, "/v1/partner/cases/pack", c.manufacturer, not_package)
    assert unknown.status_code == 422 and unknown.json()["code"] == "ItemsUnknownPackage"
    theirs = post(partner, "/v1/partner/cases/unpack", c.distributor, {"case_ids": ids[:1]})
    assert theirs.status_code == 409 and theirs.json()["code"] == "ItemsNotHolder"
    opened = post(partner, "/v1/partner/cases/unpack", c.manufacturer, {"case_ids": ids[:1]})
    assert opened.status_code == 200, opened.text
    assert balance(partner, gauze, c.manufacturer) == (15, 0, 0)


def test_a_mixed_shipment_of_units_cases_and_a_loose_quantity_is_received_with_part_rejected(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["MIX1", "MIX2"]).value
    commission(partner, gauze, 50)
    cases = c.manufacturer.pack_cases(gauze.case_gtin, gauze.lot, ["M1", "M2"]).value
    body = {
        "receiver": c.distributor.address,
        "item_ids": [h(i) for i in [*units, *cases]],
        "lots": [{"lot_key": h(gauze.lot_key), "quantity": 25}],
    }
    sent = post(partner, "/v1/partner/shipments", c.manufacturer, body)
    assert sent.status_code == 201, sent.text
    shipment = sent.json()["shipment_id"]
    assert balance(partner, gauze, c.manufacturer) == (5, 0, 25)
    receipt = {
        "temp_min": 40,
        "temp_max": 60,
        "rejected_ids": [h(units[1])],
        "rejected_lots": [{"lot_key": h(gauze.lot_key), "quantity": 4}],
    }
    path = f"/v1/partner/shipments/{shipment}/receive"
    too_many = {**receipt, "rejected_lots": [{"lot_key": h(gauze.lot_key), "quantity": 26}]}
    refused = post(partner, path, c.distributor, too_many)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "ItemsRejectedQuantityExceeds"
    received = post(partner, path, c.distributor, receipt)
    assert received.status_code == 200, received.text
    assert balance(partner, gauze, c.distributor) == (21, 0, 0)
    assert balance(partner, gauze, c.manufacturer) == (9, 0, 0)
    assert c.admin.item(cases[0]).holder == c.distributor.address


def test_over_shipping_is_refused_before_signing_naming_the_quantity_available(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    commission(partner, gauze, 12)
    nonce = c.manufacturer.nonce()
    body = {
        "receiver": c.distributor.address,
        "lots": [{"lot_key": h(gauze.lot_key), "quantity": 13}],
    }
    refused = post(partner, "/v1/partner/shipments", c.manufacturer, body)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "lot_quantity_unavailable"
    assert (problem["available"], problem["requested"]) == (12, 13)
    assert "12 units available" in problem["detail"]
    assert c.manufacturer.nonce() == nonce  # nothing was signed or sent
    unknown = {**body, "lots": [{"lot_key": h(keccak(text="no lot")), "quantity": 1}]}
    missing = post(partner, "/v1/partner/shipments", c.manufacturer, unknown)
    assert missing.status_code == 404 and missing.json()["code"] == "lot_not_found"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({}, "neither items nor lots"),
        ({"lots": [{"lot_key": "0x" + "11" * 32, "quantity": 1}] * 2}, "a lot twice"),
        (
            {
                "item_ids": ["0x" + "11" * 32] * 300,
                "lots": [{"lot_key": "0x" + "22" * 32, "quantity": 1}] * 201,
            },
            "over MAX_BATCH",
        ),
    ],
)
def test_a_shipment_body_outside_the_limits_is_unprocessable(
    partner: PartnerEnv, body: dict[str, Any], why: str
) -> None:
    c = partner.api.consortium
    response = post(
        partner,
        "/v1/partner/shipments",
        c.manufacturer,
        {"receiver": c.distributor.address, **body},
    )
    assert response.status_code == 422, why
    assert response.json()["code"] == "invalid_request"


def test_a_member_signed_ship_and_receive_order_with_lots_is_relayed(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    commission(partner, gauze, 30)
    deadline = partner.api.chain.now() + 3600
    lots = [LotQuantity(gauze.lot_key, 30)]
    order, signature = c.manufacturer.sign_ship(
        c.distributor.address, [], lots=lots, nonce=c.manufacturer.nonce(), deadline=deadline
    )
    body = {
        "receiver": c.distributor.address,
        "lots": [{"lot_key": h(gauze.lot_key), "quantity": 30}],
        "nonce": order.nonce,
        "deadline": deadline,
        "signature": h(signature),
    }
    sent = post(partner, "/v1/partner/shipments", c.manufacturer, body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["signed_by"] == "member (relayed)"
    shipment = sent.json()["shipment_id"]
    received, rsig = c.distributor.sign_receive(
        shipment,
        temp_min=40,
        temp_max=60,
        rejected_lots=[LotQuantity(gauze.lot_key, 10)],
        nonce=c.distributor.nonce(),
        deadline=deadline,
    )
    receipt = {
        "temp_min": 40,
        "temp_max": 60,
        "rejected_lots": [{"lot_key": h(gauze.lot_key), "quantity": 10}],
        "nonce": received.nonce,
        "deadline": deadline,
        "signature": h(rsig),
    }
    done = post(partner, f"/v1/partner/shipments/{shipment}/receive", c.distributor, receipt)
    assert done.status_code == 200, done.text
    assert done.json()["signed_by"] == "member (relayed)"
    assert balance(partner, gauze, c.distributor) == (20, 0, 0)


def _at_hospital(partner: PartnerEnv, gauze: Gauze, quantity: int) -> None:
    c = partner.api.consortium
    deliver(c, gauze, c.hospital, quantity)


def test_a_hospital_dispenses_quarantines_releases_and_destroys_loose_units(
    partner: PartnerEnv, gauze: Gauze
) -> None:
    c = partner.api.consortium
    _at_hospital(partner, gauze, 40)
    lots = [{"lot_key": h(gauze.lot_key), "quantity": 5}]
    record = h(keccak(text="ward 3"))
    for path, expected in [
        ("dispense", (35, 0, 0)),
        ("quarantine", (30, 5, 0)),
        ("release", (35, 0, 0)),
        ("destroy", (30, 0, 0)),
    ]:
        done = post(
            partner, f"/v1/partner/lots/{path}", c.hospital, {"lots": lots, "record_hash": record}
        )
        assert done.status_code == 200, (path, done.text)
        assert balance(partner, gauze, c.hospital) == expected, path
    # A distributor is no hospital; a hospital has no more than it holds.
    not_hospital = post(partner, "/v1/partner/lots/dispense", c.distributor, {"lots": lots})
    assert not_hospital.status_code == 409
    assert not_hospital.json()["code"] == "ItemsUnauthorized"
    much = [{"lot_key": h(gauze.lot_key), "quantity": 31}]
    short = post(partner, "/v1/partner/lots/dispense", c.hospital, {"lots": much})
    assert short.status_code == 409 and short.json()["code"] == "ItemsInsufficientQuantity"
    # Another member's balance is not touched: quarantine acts on the caller's own.
    none = post(partner, "/v1/partner/lots/quarantine", c.hospital2, {"lots": lots})
    assert none.status_code == 409 and none.json()["code"] == "ItemsInsufficientQuantity"
    assert balance(partner, gauze, c.hospital) == (30, 0, 0)


def test_a_recalled_lot_is_not_dispensed(partner: PartnerEnv, gauze: Gauze) -> None:
    c = partner.api.consortium
    _at_hospital(partner, gauze, 10)
    c.regulator.recall_lot(gauze.lot_key, level=1, reason_hash=keccak(text="recall"))
    lots = [{"lot_key": h(gauze.lot_key), "quantity": 1}]
    refused = post(partner, "/v1/partner/lots/dispense", c.hospital, {"lots": lots})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "ItemsRecalled"
    assert balance(partner, gauze, c.hospital) == (10, 0, 0)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/partner/lots/dispense", {"lots": []}),
        (
            "/v1/partner/lots/destroy",
            {"lots": [{"lot_key": "0x" + f"{n:064x}", "quantity": 1} for n in range(1, 502)]},
        ),
        (
            "/v1/partner/lots/quarantine",
            {"lots": [{"lot_key": "0x" + "11" * 32, "quantity": 1}] * 2},
        ),
        ("/v1/partner/cases/pack", {"package_gtin": "1234", "lot": "L", "serials": ["A"]}),
        ("/v1/partner/cases/unpack", {"case_ids": []}),
        ("/v1/partner/lots/commission", {"lot_key": LOT_CODE, "quantity": 0}),
    ],
)
def test_lot_bodies_outside_the_limits_are_unprocessable(
    partner: PartnerEnv, path: str, body: dict[str, Any]
) -> None:
    response = post(partner, path, partner.api.consortium.hospital, body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("lot_key", "code"),
    [("0x11", "invalid_code"), ("", "empty"), ("(01)09506000134352(21)SN1", "missing_lot")],
)
def test_a_lot_named_by_no_readable_code_is_a_400_saying_why(
    partner: PartnerEnv, lot_key: str, code: str
) -> None:
    body = {"lot_key": lot_key, "quantity": 1}
    response = post(
        partner, "/v1/partner/lots/commission", partner.api.consortium.manufacturer, body
    )
    assert (response.status_code, response.json()["code"]) == (400, code), response.text


def test_a_lot_is_named_by_its_gs1_code_in_a_body(partner: PartnerEnv, gauze: Gauze) -> None:
    c = partner.api.consortium
    _at_hospital(partner, gauze, 10)
    lots = [{"lot_key": f"(01){gauze.gtin}(10){gauze.lot}", "quantity": 2}]
    used = post(partner, "/v1/partner/lots/dispense", c.hospital, {"lots": lots})
    assert used.status_code == 200, used.text
    assert balance(partner, gauze, c.hospital) == (8, 0, 0)
