"""Regulator writes of issue #16 item 1 over HTTP: a licence is attested with its public
registration data in clear (number, authority, scope codes, warehouse address, province),
and a suspension reason is a sealed record whose salted commitment is all the chain gets.
"""

from __future__ import annotations

import os
import time

from eth_utils import keccak
from pydantic import SecretStr

from medledger.domain import records
from medledger.sdk.model import LicenceKind
from tests.api.conftest import ApiEnv
from tests.api.regulator_mode import AUTH, regulator_client


def test_a_licence_is_attested_with_its_terms_in_clear(api: ApiEnv) -> None:
    reg = regulator_client(api)
    hospital = api.consortium.hospital
    body = {
        "member": hospital.address,
        "kind": "practice",
        "number": "PDY00001231010112A1001",
        "device_classes": [1, 2, 3],
        "valid_until": int(time.time()) + 86400 * 365,
        "authority": "上海市卫生健康委员会",
        "scope": ["07-03", "07"],
        "warehouse_address": "上海市徐汇区宛平南路 600 号",
        "province": "上海市",
    }
    r = reg.post("/v1/regulator/licences", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    licence = hospital.licence(hospital.address, LicenceKind.PRACTICE)
    assert licence.number == "PDY00001231010112A1001"
    assert licence.authority == "上海市卫生健康委员会"
    assert licence.scope == ("07", "07-03")
    assert (licence.warehouse_address, licence.province) == (
        "上海市徐汇区宛平南路 600 号",
        "上海市",
    )
    bad = reg.post("/v1/regulator/licences", json={**body, "scope": ["7;3"]}, headers=AUTH)
    assert bad.status_code == 422, bad.text


def test_a_suspension_reason_is_sealed_not_hashed(api: ApiEnv) -> None:
    reg = regulator_client(api, master_key=SecretStr(os.urandom(32).hex()))
    hospital = api.consortium.hospital
    reason = "GSP inspection: cold room out of range"
    r = reg.post(
        f"/v1/regulator/members/{hospital.address}/suspend", json={"reason": reason}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    logs = hospital.w3.eth.get_transaction_receipt(r.json()["tx_hash"])["logs"]
    (event,) = [e for e in hospital.codec.decode_logs(logs) if e.name == "MemberSuspended"]
    commitment = bytes(event.args["reasonHash"])
    assert commitment not in (keccak(text=reason), bytes(32))
    services = reg.app.state.services  # type: ignore[attr-defined]
    view = records.by_commitment(services, commitment, reader=hospital.address, regulator=False)
    assert view is not None and view.body["reason"] == reason


def test_the_regulator_admits_a_member_and_assigns_a_prefix(api: ApiEnv) -> None:
    reg = regulator_client(api)
    newcomer = api.chain.accounts[9].address
    body = {"member": newcomer, "role": "hospital", "name": "Community Clinic 社区医院"}
    r = reg.post("/v1/regulator/members", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    again = reg.post("/v1/regulator/members", json=body, headers=AUTH)
    assert again.status_code == 409 and again.json()["code"] == "PartnersAlreadyMember"
    bad_role = reg.post("/v1/regulator/members", json={**body, "role": "regulator"}, headers=AUTH)
    assert bad_role.status_code == 422
    r = reg.post(
        f"/v1/regulator/members/{newcomer}/prefixes", json={"prefix": "6977002"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    assert api.consortium.regulator.prefix_owner("6977002") == newcomer
    taken = reg.post(
        f"/v1/regulator/members/{newcomer}/prefixes", json={"prefix": "6977002"}, headers=AUTH
    )
    assert taken.status_code == 409 and taken.json()["code"] == "PartnersPrefixTaken"
