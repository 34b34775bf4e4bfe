"""Adverse events through the partner API: a structured report sealed for the reporter, the
lot's manufacturer and the regulator, with only its salted commitment on chain; the
parties list and read it back, everyone else gets 404."""

from __future__ import annotations

import json

from eth_utils import keccak

from medledger.domain import records
from tests.api import partner_env
from tests.api.adverse_reports import report_body
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_partner import commission, deliver, h, post

partner = partner_env.partner

NARRATIVE = "Patient reported chest pain two days after implant; lead replaced."


def _reported(partner: PartnerEnv) -> tuple[str, dict[str, object], str]:
    """A hospital's report about a unit it holds: (record id, the body sent, unit id)."""
    c = partner.api.consortium
    (unit,) = commission(partner, "AER01")
    deliver(partner, c.manufacturer, c.hospital, [unit])
    body = report_body(unit, narrative=NARRATIVE)
    response = post(partner, "/v1/partner/adverse-events", c.hospital, body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["report_id"] >= 1 and out["record_id"]
    return out["record_id"], body, unit


def test_the_report_is_sealed_and_only_its_salted_commitment_is_on_chain(
    partner: PartnerEnv,
) -> None:
    record_id, body, unit = _reported(partner)
    c = partner.api.consortium
    (event,) = [
        e
        for e in c.admin.codec.decode_logs(
            partner.api.chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
        )
        if e.name == "AdverseEventReported"
    ]
    on_chain = bytes(event.args["reportHash"])
    assert on_chain not in {
        keccak(text=NARRATIVE),
        keccak(text=json.dumps(body, sort_keys=True)),
        keccak(records.canonical({k: v for k, v in body.items() if k != "subject_id"})),
    }
    salt, plaintext = records.opening(partner.api.services, record_id)
    assert records.matches(on_chain, salt, plaintext)
    assert json.loads(plaintext)["narrative"] == NARRATIVE
    assert not records.matches(on_chain, salt, plaintext.replace(b"chest", b"CHEST"))


def test_the_reporter_the_manufacturer_and_the_regulator_read_it_and_nobody_else(
    partner: PartnerEnv,
) -> None:
    record_id, body, unit = _reported(partner)
    c = partner.api.consortium
    client = partner.api.client
    for who in (c.hospital, c.manufacturer, c.regulator):
        headers = partner.login(who)
        one = client.get(f"/v1/partner/adverse-events/{record_id}", headers=headers)
        assert one.status_code == 200, (who.address, one.text)
        report = one.json()["report"]
        assert report["narrative"] == NARRATIVE
        assert report["outcome"] == "injury" and report["patient_age_band"] == "65-79"
        assert one.json()["subject_id"] == unit
        listed = client.get("/v1/partner/adverse-events", headers=headers).json()
        assert [r["id"] for r in listed["adverse_events"]] == [record_id]
    for who in (c.distributor, c.hospital2, c.logistics):
        headers = partner.login(who)
        hidden = client.get(f"/v1/partner/adverse-events/{record_id}", headers=headers)
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["code"] == "adverse_event_not_found"
        assert NARRATIVE not in hidden.text
        listed = client.get("/v1/partner/adverse-events", headers=headers).json()
        assert listed["adverse_events"] == []
    unknown = client.get(
        "/v1/partner/adverse-events/0123456789abcdef", headers=partner.login(c.hospital2)
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "adverse_event_not_found"


def test_a_report_the_ledger_refused_is_never_read_back(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    (held_by_maker,) = commission(partner, "AER02")
    refused = post(partner, "/v1/partner/adverse-events", c.hospital, report_body(held_by_maker))
    assert refused.status_code == 409 and refused.json()["code"] == "RecordsNotConcerned"
    for who in (c.hospital, c.manufacturer, c.regulator):
        listed = partner.api.client.get("/v1/partner/adverse-events", headers=partner.login(who))
        assert listed.json()["adverse_events"] == []


def test_a_report_with_patient_identifiers_or_bad_fields_is_refused(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    subject = h(c.lot_key)
    bad = [
        {**report_body(subject), "patient_name": "Zhang San"},  # no such field
        {**report_body(subject), "severity": 4},
        {**report_body(subject), "outcome": "fine"},
        {**report_body(subject), "event_date": "2999-01-01"},
        {**report_body(subject), "device_problem_code": "a05; drop"},
        {**report_body(subject), "narrative": "x" * 4001},
        {**report_body(subject), "narrative": "   "},
        {k: v for k, v in report_body(subject).items() if k != "device_problem"},
    ]
    for body in bad:
        response = post(partner, "/v1/partner/adverse-events", c.manufacturer, body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    listed = partner.api.client.get(
        "/v1/partner/adverse-events", headers=partner.login(c.manufacturer)
    )
    assert listed.json()["adverse_events"] == []


def test_a_member_without_a_custodial_key_must_sign_itself_and_nothing_is_kept(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    response = post(
        partner, "/v1/partner/adverse-events", c.logistics, report_body(h(b"\x01" * 32))
    )
    assert response.status_code == 400
    assert response.json()["code"] == "signature_required"
    assert records.list_for(partner.api.services, reader=c.logistics.address, regulator=True) == []


def test_the_regulators_deployment_lists_and_reads_the_reports(partner: PartnerEnv) -> None:
    record_id, _, unit = _reported(partner)
    reg = regulator_client(partner.api)
    listed = reg.get("/v1/regulator/adverse-events", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["adverse_events"]] == [record_id]
    one = reg.get(f"/v1/regulator/adverse-events/{record_id}", headers=AUTH)
    assert one.status_code == 200 and one.json()["report"]["narrative"] == NARRATIVE
    assert reg.get(f"/v1/regulator/adverse-events/{record_id}").status_code in (401, 403)
    # In partner mode the regulator's routes do not exist.
    absent = partner.api.client.get("/v1/regulator/adverse-events", headers=AUTH)
    assert absent.status_code == 404
