"""Returns, explants and service records through the partner API, and the authorisation
sweep over every record kind this API writes: each record is tried by every role and by
another member of the same role; only its parties read it (404 for everyone else, as for
a record that does not exist), and only a regulator checks it against the chain."""

from __future__ import annotations

from typing import Any

from medledger.sdk.ledger import Ledger
from tests.api import partner_env
from tests.api.adverse_reports import report_body
from tests.api.partner_env import PartnerEnv
from tests.api.test_partner import commission, deliver, h, post

partner = partner_env.partner


def _created(response: Any) -> str:
    assert response.status_code == 201, response.text
    record_id: str = response.json()["record_id"]
    assert record_id
    return record_id


def _units_at_the_hospital(partner: PartnerEnv, *serials: str) -> list[str]:
    c = partner.api.consortium
    ids = commission(partner, *serials)
    deliver(partner, c.manufacturer, c.distributor, ids)
    deliver(partner, c.distributor, c.hospital, ids)
    partner.api.sync()  # a return order checks the supplier in the read model
    return ids


def _records(partner: PartnerEnv) -> tuple[dict[str, str], dict[str, set[str]], list[str]]:
    """One record of each kind, who may read each, and the units."""
    c = partner.api.consortium
    implant, equipment, returned = _units_at_the_hospital(partner, "UR1", "UR2", "UR3")
    used = post(partner, "/v1/partner/items/dispense", c.hospital, {"item_ids": [implant]})
    assert used.status_code == 200, used.text
    made = {
        "explant": _created(
            post(
                partner,
                "/v1/partner/explants",
                c.hospital,
                {
                    "item_id": implant,
                    "explant_date": "2026-04-01",
                    "reason": "infection around the device",
                    "condition": "intact",
                    "returned_to_manufacturer": True,
                },
            )
        ),
        "service": _created(
            post(
                partner,
                "/v1/partner/service-records",
                c.hospital,
                {
                    "item_id": equipment,
                    "service_date": "2026-04-02",
                    "service_type": "calibration",
                    "technician_org": c.logistics.address,
                    "result": "adjusted",
                    "notes": "pressure sensor offset corrected",
                    "next_due": "2026-10-02",
                },
            )
        ),
        "return": _created(
            post(
                partner,
                "/v1/partner/returns",
                c.hospital,
                {
                    "supplier": c.distributor.address,
                    "item_ids": [returned],
                    "reason": "damaged",
                    "note": "carton crushed",
                },
            )
        ),
        "adverse_event": _created(
            post(partner, "/v1/partner/adverse-events", c.hospital, report_body(equipment))
        ),
    }
    base = {c.hospital.address, c.regulator.address}
    readers = {
        "explant": base | {c.manufacturer.address},
        "service": base | {c.manufacturer.address, c.logistics.address},
        "return": base | {c.distributor.address},
        "adverse_event": base | {c.manufacturer.address},
    }
    return made, readers, [implant, equipment, returned]


def _everyone(partner: PartnerEnv) -> list[Ledger]:
    c = partner.api.consortium
    return [c.regulator, c.manufacturer, c.distributor, c.logistics, c.hospital, c.hospital2]


def test_every_record_kind_is_read_by_exactly_its_parties(partner: PartnerEnv) -> None:
    made, readers, units = _records(partner)
    client = partner.api.client
    for kind, record_id in made.items():
        for who in _everyone(partner):
            headers = partner.login(who)
            one = client.get(f"/v1/partner/records/{record_id}", headers=headers)
            if who.address in readers[kind]:
                assert one.status_code == 200, (kind, who.address, one.text)
                assert one.json()["kind"] == kind
            else:
                assert one.status_code == 404, (kind, who.address, one.text)
                assert one.json()["code"] == "record_not_found"
                assert "carton" not in one.text and "infection" not in one.text
    # A record id nobody has answers the same as one the caller may not read.
    stranger = partner.login(partner.api.consortium.hospital2)
    missing = client.get("/v1/partner/records/ffffffff", headers=stranger)
    assert missing.status_code == 404 and missing.json()["code"] == "record_not_found"


def test_a_units_history_shows_its_records_to_the_parties_only(partner: PartnerEnv) -> None:
    made, readers, (implant, equipment, _) = _records(partner)
    c = partner.api.consortium
    client = partner.api.client

    def kinds(who: Ledger, unit: str) -> set[str] | None:
        answer = client.get(f"/v1/partner/items/{unit}/records", headers=partner.login(who))
        if answer.status_code == 404:
            assert answer.json()["code"] == "item_not_found"
            return None
        assert answer.status_code == 200, answer.text
        return {r["kind"] for r in answer.json()["records"]}

    assert kinds(c.hospital, implant) == {"explant"}
    assert kinds(c.manufacturer, implant) == {"explant"}
    assert kinds(c.hospital, equipment) == {"service", "adverse_event"}
    assert kinds(c.logistics, equipment) == {"service"}  # the service organisation
    assert kinds(c.distributor, equipment) is None  # passed through it: not its records
    assert kinds(c.hospital2, implant) is None
    service = client.get(
        f"/v1/partner/records/{made['service']}", headers=partner.login(c.logistics)
    )
    assert service.json()["body"]["next_due"] == "2026-10-02"
    assert service.json()["body"]["service_type"] == "calibration"


def test_the_regulator_checks_each_record_against_the_chain_and_no_one_else_may(
    partner: PartnerEnv,
) -> None:
    made, _, _ = _records(partner)
    c = partner.api.consortium
    client = partner.api.client
    expected = {
        "explant": ("DocumentAnchored", "documentHash"),
        "service": ("DocumentAnchored", "documentHash"),
        "return": ("ShipmentSent", "documentHash"),
        "adverse_event": ("AdverseEventReported", "reportHash"),
    }
    for kind, record_id in made.items():
        check = client.get(
            f"/v1/partner/records/{record_id}/verification", headers=partner.login(c.regulator)
        )
        assert check.status_code == 200, check.text
        out = check.json()
        assert out["matches"] is True, out
        assert (out["event"], out["argument"]) == expected[kind]
        for who in (c.hospital, c.manufacturer, c.distributor):
            refused = client.get(
                f"/v1/partner/records/{record_id}/verification", headers=partner.login(who)
            )
            assert refused.status_code == 404


def test_a_return_goes_only_to_a_supplier_and_rides_on_a_shipment(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    (unit,) = _units_at_the_hospital(partner, "UR9")
    body = {"supplier": c.manufacturer.address, "item_ids": [unit], "reason": "surplus"}
    refused = post(partner, "/v1/partner/returns", c.hospital, body)
    assert refused.status_code == 409 and refused.json()["code"] == "return_to_non_supplier"
    body = {**body, "supplier": c.distributor.address}
    sent = post(partner, "/v1/partner/returns", c.hospital, body)
    assert sent.status_code == 201, sent.text
    shipment = c.admin.shipment(sent.json()["shipment_id"])
    assert (shipment.sender, shipment.receiver) == (c.hospital.address, c.distributor.address)


def test_an_explant_needs_an_implanted_unit_of_ones_own(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    (unit,) = _units_at_the_hospital(partner, "UR8")
    body = {"item_id": unit, "explant_date": "2026-04-01", "reason": "pain"}
    not_used = post(partner, "/v1/partner/explants", c.hospital, body)
    assert not_used.status_code == 409 and not_used.json()["code"] == "unit_not_implanted"
    other = post(partner, "/v1/partner/explants", c.hospital2, body)
    assert other.status_code == 404 and other.json()["code"] == "item_not_found"
    bad = post(partner, "/v1/partner/explants", c.hospital, {**body, "reason": "x" * 501})
    assert bad.status_code == 422
    future = {
        "item_id": unit,
        "service_date": "2999-01-01",
        "service_type": "repair",
        "result": "repaired",
    }
    assert post(partner, "/v1/partner/service-records", c.hospital, future).status_code == 422
    due_before = {**future, "service_date": "2026-04-02", "next_due": "2026-04-01"}
    assert post(partner, "/v1/partner/service-records", c.hospital, due_before).status_code == 422
    h(b"")  # the shared helpers stay in use
