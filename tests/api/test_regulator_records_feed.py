"""Sealed records cross between the partner API and the regulator's own deployment (its own
index database, API store and master key): the regulator's pull reads every record opened,
checks it against its commitment and stores it re-sealed under the same id, so its exports,
record checks and recall centre read what was written on the partner side; a record that
does not match is refused and never stored. The other way, the notice of a recall the
regulator orders on its own deployment is delivered to the partner API, where the holders
in scope read it.

Two real apps over one real chain (`tests.api.test_regulator_feed`); the pull talks to the
partner app through its TestClient, the seam it talks HTTP through in production."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from medledger.domain import records
from medledger.domain.errors import NotFound
from medledger.domain.oversight_feed import RecordCursor, RecordPage, load_cursor, store_records
from medledger.domain.oversight_pull import OversightPull
from medledger.domain.recalls import notice_text
from medledger.domain.records import RecordKind
from medledger.domain.store import api_store
from medledger.indexer.store.tables import records as records_table
from tests.api import partner_env
from tests.api.adverse_reports import report_body
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_exports import _period, _sheet
from tests.api.test_partner import commission, deliver, post
from tests.api.test_recall_execution import NOTICE, _get, _issue, _stock
from tests.api.test_regulator_feed import RegulatorSide, regulator

partner = partner_env.partner

__all__ = ["partner", "regulator"]

ACCEPTANCE = {"conclusion": "合格 accepted", "inspector": "王芳", "note": "外箱完好 carton intact"}


def _accepted(partner: PartnerEnv) -> records.SealedRecord:
    """Units shipped to the distributor, who accepts them with its sealed acceptance record
    (only the record's commitment goes on chain, as the inspection hash)."""
    c = partner.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["AC1", "AC2"]).value
    shipment = int(c.manufacturer.ship(c.distributor.address, units).value)
    record = records.seal(
        partner.api.services,
        kind=RecordKind.ACCEPTANCE,
        author=c.distributor.address,
        readers=[c.manufacturer.address],
        subject_id=shipment.to_bytes(32, "big"),
        body={"shipment_id": shipment, **ACCEPTANCE},
    )
    c.distributor.receive(shipment, temp_min=50, temp_max=80, inspection_hash=record.commitment)
    return record


def _reported(partner: PartnerEnv) -> str:
    c = partner.api.consortium
    (unit,) = commission(partner, "AE9")
    deliver(partner, c.manufacturer, c.hospital, [unit])
    body = report_body(unit, narrative="lead fracture two days after implant")
    response = post(partner, "/v1/partner/adverse-events", c.hospital, body)
    assert response.status_code == 201, response.text
    return str(response.json()["record_id"])


def _held(side_services: Any) -> dict[str, bytes]:
    """id -> ciphertext of every record a store holds."""
    with api_store(side_services).engine.connect() as conn:
        rows = conn.execute(select(records_table.c.id, records_table.c.ciphertext)).all()
    return {str(r.id): bytes(r.ciphertext) for r in rows}


def _page(partner: PartnerEnv) -> dict[str, Any]:
    c = partner.api.consortium
    r = partner.api.client.get("/v1/partner/oversight/records", headers=partner.login(c.regulator))
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


def test_records_written_on_the_partner_side_are_read_on_the_regulator_side(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    acceptance = _accepted(partner)
    report_id = _reported(partner)
    _stock(partner)
    recall_id = _issue(partner)
    regulator.sync()
    reg = regulator.client
    before = reg.get(f"/v1/regulator/adverse-events/{report_id}", headers=AUTH)
    assert before.status_code == 404  # sealed on the partner side only

    partner_held = _held(partner.api.services)
    pulled = regulator.pull()
    assert (pulled.records, pulled.records_refused) == (len(partner_held), 0)
    assert regulator.pull().records == 0  # pulling twice stores once
    mine = _held(regulator.services)
    assert set(mine) == set(partner_held)
    # Re-sealed under the regulator's own master key, not copied.
    assert all(mine[i] != partner_held[i] for i in mine)
    assert load_cursor(regulator.services, "records")

    # The adverse-event report, through the regulator's own route.
    report = reg.get(f"/v1/regulator/adverse-events/{report_id}", headers=AUTH)
    assert report.status_code == 200, report.text
    assert "lead fracture two days after implant" in report.text
    # The same id and commitment, so the chain's value still matches ...
    salt, plaintext = records.opening(regulator.services, acceptance.id)
    assert records.matches(acceptance.commitment, salt, plaintext)
    # ... and readable by the same parties, nobody else.
    view = records.read(
        regulator.services, acceptance.id, reader=c.distributor.address, regulator=False
    )
    assert view.body["inspector"] == "王芳"
    with pytest.raises(NotFound):
        records.read(regulator.services, acceptance.id, reader=c.hospital2.address, regulator=False)
    # The recall centre reads the manufacturer's notice.
    with regulator.services.engine.connect() as conn:
        notice = notice_text(regulator.services, conn, recall_id)
    assert notice is not None and notice.reason == NOTICE["reason"]

    # The regulator's acceptance export shows the sealed record's columns.
    period = _period(partner)
    export = reg.get(
        "/v1/regulator/exports/acceptance",
        params={"member": c.distributor.address, "period": period},
        headers=AUTH,
    )
    assert export.status_code == 200, export.text
    cells = {str(v) for row in _sheet(export.content) for v in row if v is not None}
    assert {"合格 accepted", "王芳", "外箱完好 carton intact"} <= cells


def test_a_record_that_does_not_match_its_commitment_is_refused_and_never_stored(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    acceptance = _accepted(partner)
    page = RecordPage.model_validate(_page(partner))
    (item,) = [r for r in page.records if r.id == acceptance.id]
    changed_body = item.model_copy(update={"body": item.body.replace("王芳", "李雷")})
    changed_salt = item.model_copy(update={"salt": "0x" + "00" * 32})
    for bad in (changed_body, changed_salt):
        tampered = RecordPage(records=[bad], after=page.after, more=False)
        result = store_records(regulator.services, tampered, position=RecordCursor((0, "")))
        assert (result.stored, result.refused) == (0, [acceptance.id])
    assert acceptance.id not in _held(regulator.services)

    # The partner API serving a salt that is not the record's: the pull refuses it.
    with api_store(partner.api.services).engine.begin() as conn:
        conn.execute(
            update(records_table)
            .where(records_table.c.id == acceptance.id)
            .values(salt=b"\x01" * 32)
        )
    pulled = regulator.pull()
    assert pulled.records_refused == 1
    assert acceptance.id not in _held(regulator.services)
    with pytest.raises(NotFound):
        records.read(regulator.services, acceptance.id, reader="", regulator=True)

    # Delivered the other way, a changed body is refused by the partner API too.
    c = partner.api.consortium
    mine = item.model_copy(update={"author": c.regulator.address.lower()})
    answer = partner.api.client.post(
        "/v1/partner/oversight/records",
        json=mine.model_copy(update={"body": changed_body.body}).model_dump(mode="json"),
        headers=partner.login(c.regulator),
    )
    assert answer.status_code == 422 and answer.json()["code"] == "record_commitment_mismatch"


def test_only_the_regulator_member_reads_or_delivers_records(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    acceptance = _accepted(partner)
    client = partner.api.client
    path = "/v1/partner/oversight/records"
    assert client.get(path).status_code == 401
    member = client.get(path, headers=partner.login(c.distributor))
    assert member.status_code == 403 and member.json()["code"] == "regulator_only"
    assert "王芳" not in member.text
    assert regulator.client.get(path, headers=AUTH).status_code == 404
    (item,) = [r for r in _page(partner)["records"] if r["id"] == acceptance.id]
    assert client.post(path, json=item).status_code == 401
    forged = client.post(path, json=item, headers=partner.login(c.hospital))
    assert forged.status_code == 403
    # The regulator delivers only records it wrote, not one in a member's name.
    posed = client.post(path, json=item, headers=partner.login(c.regulator))
    assert posed.status_code == 403
    bad = client.get(path, params={"after": "1:x'); --"}, headers=partner.login(c.regulator))
    assert bad.status_code == 422
    too_many = client.get(path, params={"limit": 1000}, headers=partner.login(c.regulator))
    assert too_many.status_code == 422


def test_a_recall_the_regulator_orders_reaches_the_holders_on_the_partner_api(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    _stock(partner)
    regulator.sync()
    ordered = regulator.client.post(
        "/v1/regulator/recalls",
        json={"gtin": c.gtin, "lot": c.lot, "level": 1, **NOTICE},
        headers=AUTH,
    )
    assert ordered.status_code == 201, ordered.text
    recall_id = ordered.json()["recall_id"]
    partner.api.sync()
    path = f"/v1/partner/recalls/{recall_id}/notice"
    # Sealed on the regulator's deployment only: the partner API has no readable notice.
    assert _get(partner, path, "hospital").status_code == 404

    pulled = regulator.pull()
    assert pulled.records_delivered == 1
    assert regulator.pull().records_delivered == 0  # delivered once
    for holder in ("distributor", "hospital"):
        seen = _get(partner, path, holder)
        assert seen.status_code == 200, seen.text
        assert seen.json()["reason"] == NOTICE["reason"]
        assert seen.json()["action"] == NOTICE["action"]
    assert _get(partner, path, "hospital2").status_code == 404  # never reached by the lot


def test_one_store_shared_by_both_sides_pulls_and_delivers_nothing_twice(
    partner: PartnerEnv,
) -> None:
    """The live site runs the regulator deployment over the partner API's own databases:
    every record is held already, so nothing is stored, refused or delivered, and the
    regulator's notice is read by the holders as before."""
    api = partner.api
    c = api.consortium
    _accepted(partner)
    _stock(partner)
    same = regulator_client(api)
    ordered = same.post(
        "/v1/regulator/recalls",
        json={"gtin": c.gtin, "lot": c.lot, "level": 1, **NOTICE},
        headers=AUTH,
    )
    assert ordered.status_code == 201, ordered.text
    api.sync()
    services = same.app.state.services  # type: ignore[attr-defined]
    held = _held(services)
    pulled = OversightPull(services, api.client, c.regulator.account).pull()
    assert (pulled.records, pulled.records_refused, pulled.records_delivered) == (0, 0, 0)
    assert _held(services) == held
    seen = _get(partner, f"/v1/partner/recalls/{ordered.json()['recall_id']}/notice", "hospital")
    assert seen.status_code == 200 and seen.json()["reason"] == NOTICE["reason"]
