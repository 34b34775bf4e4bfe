"""Recall acknowledgements: holders in a recall's scope acknowledge; the regulator sees
who did and who is past the level's deadline."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from medledger.domain.recalls import NOTICE_DAYS
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner


@pytest.fixture
def recall_id(partner: PartnerEnv) -> int:
    """Two units at the distributor, one at the hospital, then a level 2 recall."""
    api = partner.api
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["A1", "A2", "A3"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=50, temp_max=80
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[2:]).value, temp_min=50, temp_max=80
    )
    recall: int = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="r")).value
    api.sync()
    return recall


def _ack(partner: PartnerEnv, recall_id: int, who: str, note: str = "") -> dict[str, object]:
    ledger = partner.api.consortium.by_name(who)
    r = partner.api.client.post(
        f"/v1/partner/recalls/{recall_id}/acknowledgement",
        json={"note": note, "returned": 0, "destroyed": 0},
        headers=partner.login(ledger),
    )
    return {"status": r.status_code, **r.json()}


def test_a_holder_signs_its_acknowledgement_and_the_regulator_sees_it(
    partner: PartnerEnv, recall_id: int
) -> None:
    c = partner.api.consortium
    first = _ack(partner, recall_id, "distributor", "quarantined both units")
    assert first["status"] == 200, first
    receipt = c.distributor.w3.eth.get_transaction(first["tx_hash"])
    assert receipt["from"] == c.distributor.address  # signed by the holder's own key
    partner.api.sync()
    again = _ack(partner, recall_id, "distributor", "a second note")
    assert again["status"] == 200 and again["tx_hash"] != first["tx_hash"]
    partner.api.sync()

    reg = regulator_client(partner.api)
    body = reg.get(f"/v1/regulator/recalls/{recall_id}/acknowledgements", headers=AUTH).json()
    assert body["level"] == 2
    assert body["deadline"] - body["opened_at"] == NOTICE_DAYS[2] * 86_400
    by_holder = {h["holder"]: h for h in body["holders"]}
    mine = by_holder[c.distributor.address]
    assert mine["outstanding"] == 2
    # the first signed acknowledgement counts; its author is the transaction (hex, no 0x)
    assert mine["acknowledgement"]["acknowledged_by"] == str(first["tx_hash"])[2:]
    assert "quarantined" not in str(body)  # the note is sealed for the manufacturer
    assert by_holder[c.hospital.address]["acknowledgement"] is None
    assert by_holder[c.hospital.address]["overdue"] is False


def test_an_organisation_outside_the_scope_cannot_acknowledge(
    partner: PartnerEnv, recall_id: int
) -> None:
    outsider = _ack(partner, recall_id, "hospital2")
    assert outsider["status"] == 404 and outsider["code"] == "unknown_recall"
    maker = _ack(partner, recall_id, "manufacturer")  # the lot's origin holds nothing now
    assert maker["status"] == 403 and maker["code"] == "not_in_recall_scope"
    assert partner.api.consortium.manufacturer.recall(recall_id)["open"]
    unknown = _ack(partner, 999, "distributor")
    assert unknown["status"] == 404 and unknown["code"] == "unknown_recall"


def test_a_closed_recall_takes_no_new_acknowledgement(partner: PartnerEnv, recall_id: int) -> None:
    partner.api.consortium.regulator.close_recall(recall_id, outcome_hash=bytes(32))
    partner.api.sync()
    closed = _ack(partner, recall_id, "hospital")
    assert closed["status"] == 409 and closed["code"] == "recall_closed"


def test_acknowledgements_need_sign_in_and_the_regulator_view_needs_the_token(
    api: ApiEnv,
) -> None:
    r = api.client.post("/v1/partner/recalls/1/acknowledgement", json={})
    assert r.status_code == 401
    assert api.client.get("/v1/regulator/recalls/1/acknowledgements").status_code == 404
    reg = regulator_client(api)
    assert reg.get("/v1/regulator/recalls/1/acknowledgements").status_code == 401


def test_a_holder_is_overdue_only_past_the_deadline_or_acknowledging_after_it() -> None:
    from medledger.domain.recalls import Acknowledgement, HolderProgress
    from medledger.indexer.queries import OrgRef

    org = OrgRef("0x" + "1" * 40, "Holder")
    waiting = HolderProgress(org, 3, 0, None)
    assert not waiting.overdue(1_000, now=1_000) and waiting.overdue(1_000, now=1_001)
    on_time = HolderProgress(org, 3, 0, Acknowledgement(1, org.address, 999, "token", ""))
    late = HolderProgress(org, 3, 0, Acknowledgement(1, org.address, 1_001, "token", ""))
    assert not on_time.overdue(1_000, now=5_000) and late.overdue(1_000, now=5_000)
