"""The manufacturer runs a recall on the partner API (`domain.recall_actions`): a readable
notice sealed for the holders in scope with only a salted commitment on chain, a new
notice version, signed acknowledgements, a close that needs a reason and a confirmation
while units are out, and units left out by a closed recall that no longer verify as
genuine."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from medledger.domain import records
from medledger.domain.recalls import notice_text, recall_summary
from medledger.sdk.gs1 import Udi
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner

NOTICE = {
    "reason": "Seal of the sterile barrier may fail",
    "action": "Quarantine the units at once and return them to the manufacturer",
    "scope": "the whole lot",
    "contact": "QA hotline 400-000-0000",
}


def _post(partner: PartnerEnv, path: str, who: str, body: dict[str, Any]) -> Any:
    ledger = partner.api.consortium.by_name(who)
    return partner.api.client.post(path, json=body, headers=partner.login(ledger))


def _get(partner: PartnerEnv, path: str, who: str) -> Any:
    ledger = partner.api.consortium.by_name(who)
    return partner.api.client.get(path, headers=partner.login(ledger))


def _stock(partner: PartnerEnv) -> list[bytes]:
    """Five units made; two at the distributor, one of them on at the hospital."""
    c = partner.api.consortium
    units: list[bytes] = c.manufacturer.commission(c.lot_key, ["E1", "E2", "E3", "E4", "E5"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units[:2]).value, temp_min=50, temp_max=80
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[1:2]).value, temp_min=50, temp_max=80
    )
    partner.api.sync()
    return units


def _issue(partner: PartnerEnv) -> int:
    c = partner.api.consortium
    body = {"gtin": c.gtin, "lot": c.lot, "level": 1, **NOTICE}
    r = _post(partner, "/v1/partner/recalls/notice", "manufacturer", body)
    assert r.status_code == 201, r.text
    partner.api.sync()
    return int(r.json()["recall_id"])


def test_holders_in_scope_read_the_notice_and_no_guessable_hash_is_on_chain(
    partner: PartnerEnv,
) -> None:
    _stock(partner)
    c = partner.api.consortium
    refused = _post(
        partner,
        "/v1/partner/recalls/notice",
        "distributor",
        {"gtin": c.gtin, "lot": c.lot, "level": 1, **NOTICE},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "manufacturer_only"
    recall_id = _issue(partner)

    with partner.api.services.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT reason_hash FROM recalls WHERE id = ?", (recall_id,)
        ).one()
    on_chain = bytes(row[0])
    assert on_chain != keccak(text=NOTICE["reason"])  # salted, not keccak(reason)
    # ... and it is the commitment of the sealed notice, which the regulator can open.
    view = records.by_commitment(partner.api.services, on_chain, reader="", regulator=True)
    assert view is not None and view.body["reason"] == NOTICE["reason"]
    salt, plaintext = records.opening(partner.api.services, view.record.id)
    assert records.matches(on_chain, salt, plaintext)

    for holder in ("distributor", "hospital"):
        mine = _get(partner, "/v1/partner/recalls", holder).json()
        assert [m["recall_id"] for m in mine] == [recall_id]
        assert mine[0]["notice"]["reason"] == NOTICE["reason"]
        assert mine[0]["notice"]["action"] == NOTICE["action"]
        assert mine[0]["notice"]["contact"] == NOTICE["contact"]
    # An organisation the lot never reached learns nothing, not even that it exists.
    outsider = _get(partner, f"/v1/partner/recalls/{recall_id}/notice", "hospital2")
    assert outsider.status_code == 404 and outsider.json()["code"] == "unknown_recall"
    assert _get(partner, "/v1/partner/recalls", "hospital2").json() == []
    maker = _get(partner, f"/v1/partner/recalls/{recall_id}/notice", "manufacturer").json()
    assert maker["version"] == 1 and maker["reason"] == NOTICE["reason"]


def test_an_updated_notice_reaches_holders_as_a_new_version(partner: PartnerEnv) -> None:
    _stock(partner)
    recall_id = _issue(partner)
    update = {**NOTICE, "action": "Destroy the units on site and report the serials"}
    r = _post(partner, f"/v1/partner/recalls/{recall_id}/notice", "manufacturer", update)
    assert r.status_code == 200, r.text
    partner.api.sync()
    seen = _get(partner, f"/v1/partner/recalls/{recall_id}/notice", "hospital").json()
    assert seen["version"] == 2 and seen["action"] == update["action"]
    other = _post(partner, f"/v1/partner/recalls/{recall_id}/notice", "distributor", update)
    assert other.status_code == 403
    with partner.api.services.engine.connect() as conn:
        summary = recall_summary(partner.api.services, conn, recall_id)
        assert summary.notice is not None and summary.notice.version == 2
        assert summary.notice.action == update["action"]
        # the hospital2 (never reached) cannot read it through the records store either
        assert notice_text(
            partner.api.services, conn, recall_id, reader=partner.api.consortium.hospital2.address,
            regulator=False,
        ) is None  # fmt: skip


def test_closing_with_units_out_needs_a_reason_and_confirmation_and_they_stay_recalled(
    partner: PartnerEnv,
) -> None:
    units = _stock(partner)
    c = partner.api.consortium
    recall_id = _issue(partner)
    ack = _post(
        partner,
        f"/v1/partner/recalls/{recall_id}/acknowledgement",
        "hospital",
        {"returned": 0, "destroyed": 0, "note": "clinic informed"},
    )
    assert ack.status_code == 200, ack.text
    partner.api.sync()

    close = f"/v1/partner/recalls/{recall_id}/close"
    bare = _post(partner, close, "manufacturer", {})
    assert bare.status_code == 409 and bare.json()["code"] == "recall_outstanding_unconfirmed"
    unconfirmed = _post(partner, close, "manufacturer", {"reason": "units written off"})
    assert unconfirmed.status_code == 409
    no_reason = _post(partner, close, "manufacturer", {"confirm_outstanding": True})
    assert no_reason.status_code == 409
    assert c.manufacturer.recall(recall_id)["open"] is True
    done = _post(
        partner, close, "manufacturer", {"reason": "units written off", "confirm_outstanding": True}
    )
    assert done.status_code == 200, done.text
    assert c.manufacturer.recall(recall_id)["open"] is False
    partner.api.sync()

    def verdict(unit_serial: str) -> dict[str, Any]:
        lot = c.manufacturer.lot(c.lot_key)
        assert lot is not None
        udi = Udi(gtin=c.gtin, serial=unit_serial, lot=c.lot)
        r = partner.api.client.post("/v1/verify", json={"code": udi.gs1_payload()})
        assert r.status_code == 200, r.text
        return dict(r.json())

    out = verdict("E1")  # at the distributor when the recall closed, never returned
    assert out["verdict"] == "recalled", out
    assert "recall_closed_outstanding" in {r["code"] for r in out["reasons"]}
    home = verdict("E5")  # never left the manufacturer
    assert home["verdict"] != "recalled", home
    assert len(units) == 5


def test_recalled_and_quarantined_stock_is_flagged_in_the_inventory(partner: PartnerEnv) -> None:
    units = _stock(partner)
    c = partner.api.consortium
    c.distributor.quarantine(units[:1])
    partner.api.sync()
    before = _get(partner, "/v1/partner/inventory", "distributor").json()
    assert {line["status"]: line["holds"] for line in before} == {
        "quarantined": [{"kind": "quarantined", "recall_id": None, "level": None}],
    }
    assert [
        line["holds"] for line in _get(partner, "/v1/partner/inventory", "hospital").json()
    ] == [[]]
    recall_id = _issue(partner)
    recalled = {"kind": "recalled", "recall_id": recall_id, "level": 1}
    after = _get(partner, "/v1/partner/inventory", "distributor").json()
    assert [line["holds"] for line in after] == [
        [recalled, {"kind": "quarantined", "recall_id": None, "level": None}]
    ]
    at_hospital = _get(partner, "/v1/partner/inventory", "hospital").json()
    assert [(line["status"], line["holds"]) for line in at_hospital] == [("active", [recalled])]
    assert [(line["recalled"], line["recall_id"]) for line in at_hospital] == [(True, recall_id)]
    assert [(line["recalled"], line["recall_id"]) for line in before] == [(False, None)]
    # another member's stock is untouched by this lot's recall
    assert _get(partner, "/v1/partner/inventory", "hospital2").json() == []


def test_the_summary_is_for_the_manufacturer_and_the_regulator_only(partner: PartnerEnv) -> None:
    _stock(partner)
    c = partner.api.consortium
    recall_id = _issue(partner)
    path = f"/v1/partner/recalls/{recall_id}/summary"
    mine = _get(partner, path, "manufacturer")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["notice"]["reason"] == NOTICE["reason"]
    assert (body["outstanding"], body["returned"], body["done"]) == (2, 0, 0.0)
    assert {h["holder"] for h in body["holders"]} == {c.distributor.address, c.hospital.address}
    for other in ("distributor", "hospital", "hospital2"):
        assert _get(partner, path, other).status_code == 404
    reg = regulator_client(partner.api)
    seen = reg.get(f"/v1/regulator/recalls/{recall_id}/summary", headers=AUTH)
    assert seen.status_code == 200 and seen.json()["level"] == 1
    assert reg.get(f"/v1/regulator/recalls/{recall_id}/summary").status_code == 401
