"""Product master records reach the regulator's own deployment through the oversight feed
(issue 15): the regulator's pull asks the partner API for the records of the versions its
own indexer saw anchored, stores only those whose keccak256 is the anchored hash, and its
product page and verification then show the names.

The same two real apps over one chain as `test_regulator_feed`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from medledger.domain.oversight_feed import load_cursor
from medledger.domain.store import api_store
from medledger.indexer.store.tables import master_records
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.test_master_data import demo_hip
from tests.api.test_regulator_feed import RegulatorSide, regulator

partner = partner_env.partner
__all__ = ["partner", "regulator"]


def _anchor(partner: PartnerEnv, **changes: Any) -> str:
    """Anchor the demo product's master record as its manufacturer; its hash."""
    c = partner.api.consortium
    body = demo_hip(c.prefix, c.gtin) | changes
    put = partner.api.client.put(
        f"/v1/partner/products/{c.gtin}/master", json=body, headers=partner.login(c.manufacturer)
    )
    assert put.status_code == 200, put.text
    partner.api.sync()
    return str(put.json()["master_hash"])


def _verify_names(regulator: RegulatorSide, serial: str) -> dict[str, Any]:
    c = regulator.partner.api.consortium
    code = f"(01){c.gtin}(10){c.lot}(21){serial}"
    answer = regulator.client.post("/v1/verify", json={"code": code})
    assert answer.status_code == 200, answer.text
    product: dict[str, Any] = answer.json()["product"]
    return product


def test_master_records_reach_the_regulator_and_its_pages_show_the_names(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    c.manufacturer.commission(c.lot_key, ["N1"])
    _anchor(partner)
    regulator.sync()
    before = regulator.client.get(f"/v1/devices/{c.gtin}").json()
    assert before["version"] == 1 and before["master"] is None  # anchored, record not here
    assert _verify_names(regulator, "N1")["name_zh"] is None

    pulled = regulator.pull()
    assert (pulled.master_records, pulled.master_refused) == (1, 0)
    assert regulator.pull().master_records == 0
    view = regulator.client.get(f"/v1/devices/{c.gtin}").json()
    assert view["master"]["name_zh"] == "髋关节假体"
    assert view["master"]["name_en"] == "Hip joint prosthesis"
    product = _verify_names(regulator, "N1")  # at once: the cached "no record" is dropped
    assert product["name_zh"] == "髋关节假体"
    assert product["registration_number"] == "国械注准20263130001"

    # A new version follows; the history keeps both records.
    _anchor(partner, model="THA-54")
    regulator.sync()
    assert regulator.pull().master_records == 1
    history = regulator.client.get(f"/v1/devices/{c.gtin}").json()["history"]
    assert [h["record"]["model"] for h in history] == ["THA-52", "THA-54"]


def test_a_record_that_does_not_match_its_anchor_is_refused_until_it_does(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    anchored = _anchor(partner)
    regulator.sync()
    key = bytes.fromhex(anchored[2:])
    partner_store = api_store(partner.api.services).engine
    with partner_store.begin() as conn:
        genuine = conn.execute(
            master_records.select().where(master_records.c.master_hash == key)
        ).one()
        forged = genuine.record.replace("髋关节假体", "膝关节假体")
        conn.execute(
            update(master_records).where(master_records.c.master_hash == key).values(record=forged)
        )

    # Two later versions, beyond the first page of two: a refused record does not hold
    # them back, only the cursor.
    _anchor(partner, model="THA-54")
    _anchor(partner, model="THA-56")
    regulator.sync()

    pulled = regulator.pull()
    assert (pulled.master_records, pulled.master_refused) == (2, 1)
    history = regulator.client.get(f"/v1/devices/{c.gtin}").json()["history"]
    assert [h["record"] and h["record"]["model"] for h in history] == [None, "THA-54", "THA-56"]
    assert load_cursor(regulator.services, "master_records") is None  # version 1 still to do

    with partner_store.begin() as conn:
        conn.execute(
            update(master_records)
            .where(master_records.c.master_hash == key)
            .values(record=genuine.record)
        )
    assert regulator.pull().master_records == 1
    view = regulator.client.get(f"/v1/devices/{c.gtin}").json()
    assert [h["record"]["model"] for h in view["history"]] == ["THA-52", "THA-54", "THA-56"]
    assert str(load_cursor(regulator.services, "master_records")).endswith(f":{c.gtin}:3")


def test_only_the_regulator_member_reads_master_records(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    anchored = _anchor(partner)
    path = "/v1/partner/oversight/master-records"
    client = partner.api.client
    assert client.get(path, params={"hash": anchored}).status_code == 401
    member = client.get(path, params={"hash": anchored}, headers=partner.login(c.hospital))
    assert member.status_code == 403 and member.json()["code"] == "regulator_only"
    mine = client.get(path, params={"hash": anchored}, headers=partner.login(c.regulator))
    assert mine.status_code == 200, mine.text
    (record,) = mine.json()["records"]
    assert record["master_hash"] == anchored and "髋关节假体" in record["record"]
    bad = client.get(path, params={"hash": "0x12'; DROP"}, headers=partner.login(c.regulator))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    too_many = client.get(
        path, params={"hash": [anchored] * 101}, headers=partner.login(c.regulator)
    )
    assert too_many.status_code == 422
