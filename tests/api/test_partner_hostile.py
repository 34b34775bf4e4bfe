"""Hostile input from members with valid keys: order signatures the contract would refuse
are refused by the API first, and reports cannot push another member's lot over the
regulator's adverse-event threshold."""

from __future__ import annotations

from typing import Any

import pytest

from medledger.domain.errors import contract_error_status
from medledger.domain.orders import SECP256K1_N
from medledger.sdk.deploy import CONTRACT_NAMES
from medledger.sdk.errors import ContractError
from tests.api import partner_env
from tests.api.adverse_reports import report_body
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_partner import commission, deliver, h, post

partner = partner_env.partner


def _signed_ship(partner: PartnerEnv, serial: str) -> tuple[dict[str, Any], bytes]:
    c = partner.api.consortium
    ids = commission(partner, serial)
    deadline = partner.api.chain.now() + 3600
    order, signature = c.manufacturer.sign_ship(
        c.distributor.address, [bytes.fromhex(i[2:]) for i in ids], deadline=deadline
    )
    body = {"receiver": c.distributor.address, "item_ids": ids, "nonce": order.nonce}
    return {**body, "deadline": deadline}, signature


def _malleable(signature: bytes) -> bytes:
    """The other valid-looking form of a signature: s -> N - s, v flipped."""
    s = int.from_bytes(signature[32:64], "big")
    return (
        signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    )  # 27 <-> 28


@pytest.mark.parametrize(
    ("reason", "tamper"),
    [
        ("high_s", _malleable),
        ("v", lambda sig: sig[:64] + bytes([sig[64] - 27])),  # v in {0, 1}
        ("length", lambda sig: sig[:64]),
        ("range", lambda sig: bytes(32) + sig[32:]),  # r = 0
    ],
)
def test_an_order_signature_the_contract_would_refuse_is_a_422(
    partner: PartnerEnv, reason: str, tamper: Any
) -> None:
    c = partner.api.consortium
    body, signature = _signed_ship(partner, f"SIG{reason[:4].upper()}")
    block = partner.api.chain.w3.eth.block_number
    refused = post(
        partner,
        "/v1/partner/shipments",
        c.manufacturer,
        {**body, "signature": h(tamper(signature))},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "signature_malformed"
    assert refused.json()["reason"] == reason
    assert partner.api.chain.w3.eth.block_number == block  # nothing was sent
    accepted = post(
        partner, "/v1/partner/shipments", c.manufacturer, {**body, "signature": h(signature)}
    )
    assert accepted.status_code == 201, accepted.text


def test_the_alert_threshold_counts_distinct_reporters_not_reports(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "AT01", "AT02", "AT03", "AT04")
    deliver(partner, c.manufacturer, c.hospital, ids)
    reg = regulator_client(partner.api, adverse_event_rate_threshold=0.3)

    def report(who: Any, subject: str, n: int) -> None:
        body = report_body(subject, narrative=f"report {n}")
        response = post(partner, "/v1/partner/adverse-events", who, body)
        assert response.status_code == 201, response.text

    def rate() -> float | None:
        partner.api.sync()
        alerts = reg.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]
        rates = [a["rate"] for a in alerts if a["kind"] == "adverse_event_rate"]
        return rates[0] if rates else None

    for n, unit in enumerate(ids * 3):  # one hospital, twelve reports about four units
        report(c.hospital, unit, n)
    assert rate() is None  # 1 reporter / 4 units = 0.25, under the threshold
    report(c.manufacturer, h(c.lot_key), 99)
    assert rate() == pytest.approx(2 / 4)


def test_every_contract_error_is_a_4xx(partner: PartnerEnv) -> None:
    """One place maps the ledger's refusals: each custom error of every contract (ours and
    the OpenZeppelin ones they inherit) is a 409 or a 422, none a 5xx."""
    artifacts = partner.api.services.artifacts
    names = {e["name"] for n in CONTRACT_NAMES for e in artifacts[n].abi if e["type"] == "error"}
    assert {"RecordsNotConcerned", "ItemsNotHolder", "InvalidAccountNonce"} <= names
    statuses = {name: contract_error_status(ContractError(name, {})) for name in names}
    assert set(statuses.values()) <= {409, 422}, statuses
    assert statuses["RecordsNotConcerned"] == statuses["ItemsWrongStatus"] == 409
    assert statuses["SafeCastOverflowedUintDowncast"] == statuses["StringTooLong"] == 422
