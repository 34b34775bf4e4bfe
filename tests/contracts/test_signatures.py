"""The EIP-712 custody messages (Ship, Receive, Cancel) are safe to hand to any relayer.

Every forged, replayed, expired, foreign-domain, cross-type, malleated or truncated signature
is refused on-chain with a specific error, a refused order never burns its signer's nonce,
and nonces are shared by all three message types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.deploy import deploy_suite
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.messages import (
    CancelOrder,
    Domain,
    ReceiveOrder,
    ShipOrder,
    recover_signer,
    sign_order,
    typed_data,
)
from medledger.sdk.model import ItemStatus, ShipmentStatus

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KINDS = ("Ship", "Receive", "Cancel")

Order = ShipOrder | ReceiveOrder | CancelOrder


@dataclass
class Pending:
    """A custody message about to be signed: who must sign it, how to sign one (with optional
    nonce/deadline overrides), and how a relayer submits it."""

    kind: str
    signer: Ledger
    forger: Ledger
    sign: Callable[..., tuple[Any, bytes]]
    relay_as: Callable[[Ledger], Callable[[Any, bytes], TxResult[Any]]]

    def relay(self, by: Ledger, order: Order, signature: bytes) -> TxResult[Any]:
        return self.relay_as(by)(order, signature)


def _pending(c: Consortium, kind: str) -> Pending:
    """A fresh message of `kind`: a Ship of one new unit from the manufacturer to the
    distributor, or a Receive/Cancel of such a shipment already in transit. The forger is a
    plausible wrong key: a hospital for Ship and Receive, the receiver for a Cancel."""
    m, d = c.manufacturer, c.distributor
    ids = m.commission(c.lot_key, ["SIG1"]).value
    if kind == "Ship":
        return Pending(
            kind,
            m,
            c.hospital,
            lambda **kw: m.sign_ship(d.address, ids, **kw),
            lambda r: r.relay_ship,
        )
    shipment = m.ship(d.address, ids).value
    if kind == "Receive":
        return Pending(
            kind,
            d,
            c.hospital,
            lambda **kw: d.sign_receive(shipment, temp_min=50, temp_max=80, **kw),
            lambda r: r.relay_receive,
        )
    return Pending(kind, m, d, lambda **kw: m.sign_cancel(shipment, **kw), lambda r: r.relay_cancel)


def _digest(order: Order, domain: Domain) -> bytes:
    message = encode_typed_data(full_message=typed_data(order, domain))
    return keccak(b"\x19\x01" + message.header + message.body)


def _split(signature: bytes) -> tuple[int, int, int]:
    assert len(signature) == 65
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    return r, s, signature[64]


# ------------------------------------------------------------------ parametrised over kinds


@pytest.fixture(params=KINDS)
def pending(request: pytest.FixtureRequest, consortium: Consortium) -> Pending:
    return _pending(consortium, request.param)


def test_a_third_member_relays_a_genuine_order_and_it_consumes_the_signers_nonce(
    consortium: Consortium, pending: Pending
) -> None:
    relayer = consortium.logistics
    nonce = pending.signer.nonce()
    order, signature = pending.sign()
    pending.relay(relayer, order, signature)
    assert pending.signer.nonce() == nonce + 1
    assert relayer.nonce() == 0


def test_an_order_signed_by_another_key_is_refused_naming_both(
    consortium: Consortium, pending: Pending
) -> None:
    order, _ = pending.sign()
    forged = sign_order(pending.forger.account, order, pending.signer.domain)
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, forged)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {
        "signer": pending.forger.address,
        "expected": pending.signer.address,
    }


def test_a_relayed_order_cannot_be_replayed(consortium: Consortium, pending: Pending) -> None:
    order, signature = pending.sign()
    pending.relay(consortium.logistics, order, signature)
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.hospital, order, signature)
    assert e.value.name == "InvalidAccountNonce"
    assert e.value.args_by_name == {
        "account": pending.signer.address,
        "currentNonce": order.nonce + 1,
    }


def test_an_order_with_a_future_nonce_is_refused(consortium: Consortium, pending: Pending) -> None:
    current = pending.signer.nonce()
    order, signature = pending.sign(nonce=current + 1)
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, signature)
    assert e.value.name == "InvalidAccountNonce"
    assert e.value.args_by_name == {"account": pending.signer.address, "currentNonce": current}


def test_an_order_past_its_deadline_is_refused(
    chain: DevChain, consortium: Consortium, pending: Pending
) -> None:
    deadline = chain.now() + 600
    order, signature = pending.sign(deadline=deadline)
    chain.advance(601)
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, signature)
    assert e.value.name == "ItemsExpiredSignature"
    assert e.value.args_by_name == {"deadline": deadline}


def test_an_order_still_within_its_deadline_after_time_passes_is_accepted(
    chain: DevChain, consortium: Consortium, pending: Pending
) -> None:
    order, signature = pending.sign(deadline=chain.now() + 600)
    chain.advance(300)
    pending.relay(consortium.logistics, order, signature)
    assert pending.signer.nonce() == order.nonce + 1


@pytest.mark.parametrize("foreign", ["chain_id", "verifying_contract"])
def test_an_order_signed_for_another_domain_recovers_a_stranger(
    consortium: Consortium, pending: Pending, foreign: str
) -> None:
    home = pending.signer.domain
    other = (
        replace(home, chain_id=home.chain_id + 1)
        if foreign == "chain_id"
        else replace(home, verifying_contract=consortium.deployment.records)
    )
    order, _ = pending.sign()
    signature = sign_order(pending.signer.account, order, other)
    stranger = recover_signer(order, home, signature)
    assert stranger != pending.signer.address
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {"signer": stranger, "expected": pending.signer.address}


def test_a_high_s_twin_of_a_valid_signature_is_refused(
    consortium: Consortium, pending: Pending
) -> None:
    order, signature = pending.sign()
    r, s, v = _split(signature)
    high_s = SECP256K1_N - s
    twin = r.to_bytes(32, "big") + high_s.to_bytes(32, "big") + bytes([55 - v])
    # The twin is a mathematically valid signature by the same key: only the low-s rule stops it.
    recovered = Signature(vrs=(28 - v, r, high_s)).recover_public_key_from_msg_hash(
        _digest(order, pending.signer.domain)
    )
    assert recovered.to_checksum_address() == pending.signer.address
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, twin)
    assert e.value.name == "ECDSAInvalidSignatureS"
    assert e.value.args_by_name == {"s": high_s.to_bytes(32, "big")}


def test_a_compact_eip2098_signature_is_refused(consortium: Consortium, pending: Pending) -> None:
    order, signature = pending.sign()
    r, s, v = _split(signature)
    vs = s | ((v - 27) << 255)
    compact = r.to_bytes(32, "big") + vs.to_bytes(32, "big")
    with pytest.raises(ContractError) as e:
        pending.relay(consortium.logistics, order, compact)
    assert e.value.name == "ECDSAInvalidSignatureLength"
    assert e.value.args_by_name == {"length": 64}


def test_a_non_member_cannot_relay_even_a_genuine_order(
    chain: DevChain, consortium: Consortium, pending: Pending
) -> None:
    outsider = consortium.logistics.as_member(chain.accounts[7])
    order, signature = pending.sign()
    with pytest.raises(ContractError) as e:
        pending.relay(outsider, order, signature)
    assert e.value.name == "ItemsNotActiveMember"
    assert e.value.args_by_name == {"account": outsider.address}


def test_a_refused_forgery_does_not_burn_the_nonce_of_the_genuine_order(
    consortium: Consortium, pending: Pending
) -> None:
    order, signature = pending.sign()
    forged = sign_order(pending.forger.account, order, pending.signer.domain)
    with pytest.raises(ContractError, match="ItemsInvalidSigner"):
        pending.relay(consortium.logistics, order, forged)
    assert pending.signer.nonce() == order.nonce
    pending.relay(consortium.logistics, order, signature)
    assert pending.signer.nonce() == order.nonce + 1


# ------------------------------------------------------------------ relaying


def test_logistics_relays_the_manufacturers_ship_and_the_distributors_receive(
    consortium: Consortium,
) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    sent = lg.relay_ship(*m.sign_ship(d.address, ids))
    shipment = sent.value
    assert sent.event("ShipmentSent")["sender"] == m.address
    assert sent.event("ShipmentSent")["relayer"] == lg.address
    assert d.shipment(shipment).sender == m.address
    received = lg.relay_receive(*d.sign_receive(shipment, temp_min=50, temp_max=80))
    assert received.value == ids
    assert received.event("ShipmentReceived")["receiver"] == d.address
    assert [d.item(i).holder for i in ids] == [d.address, d.address]
    assert d.shipment(shipment).status is ShipmentStatus.RECEIVED
    assert (m.nonce(), d.nonce(), lg.nonce()) == (1, 1, 0)


def test_a_suspended_member_cannot_relay(consortium: Consortium) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, signature = m.sign_ship(d.address, ids)
    consortium.regulator.suspend(lg.address)
    with pytest.raises(ContractError) as e:
        lg.relay_ship(order, signature)
    assert e.value.name == "ItemsNotActiveMember"
    assert e.value.args_by_name == {"account": lg.address}


def test_a_signed_order_dies_with_its_signers_membership(consortium: Consortium) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, signature = m.sign_ship(d.address, ids)
    consortium.regulator.suspend(m.address)
    with pytest.raises(ContractError) as e:
        lg.relay_ship(order, signature)
    assert e.value.name == "ItemsNotActiveMember"
    assert e.value.args_by_name == {"account": m.address}


# ------------------------------------------------------------------ tampering and cross-type


def test_a_relayer_cannot_redirect_a_signed_shipment(consortium: Consortium) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, signature = m.sign_ship(d.address, ids)
    redirected = replace(order, receiver=lg.address)
    with pytest.raises(ContractError) as e:
        lg.relay_ship(redirected, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {
        "signer": recover_signer(redirected, m.domain, signature),
        "expected": m.address,
    }
    assert e.value.args_by_name["signer"] != m.address


def test_a_relayer_cannot_hide_a_temperature_excursion(consortium: Consortium) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    order, signature = d.sign_receive(shipment, temp_min=50, temp_max=300, excursion_seconds=900)
    cleaned = replace(order, tempMax=80, excursionSeconds=0)
    with pytest.raises(ContractError) as e:
        lg.relay_receive(cleaned, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name["expected"] == d.address
    assert e.value.args_by_name["signer"] != d.address
    assert lg.relay_receive(order, signature).event("ShipmentReceived")["quarantined"] is True
    assert d.item(ids[0]).status is ItemStatus.QUARANTINED


def test_a_receive_reporting_sub_zero_temperatures_verifies(consortium: Consortium) -> None:
    # int16 fields are sign-extended the same way by eth-account and by the contract.
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    result = consortium.logistics.relay_receive(
        *d.sign_receive(shipment, temp_min=-180, temp_max=-5)
    )
    assert (
        result.event("ShipmentReceived")["tempMin"],
        result.event("ShipmentReceived")["tempMax"],
    ) == (-180, -5)
    assert result.event("ShipmentReceived")["quarantined"] is True


def test_ship_fields_signed_under_another_type_name_are_refused(consortium: Consortium) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, _ = m.sign_ship(d.address, ids)
    payload = typed_data(order, m.domain)
    # The Solidity struct's name instead of the type the contract hashes: same fields, same
    # domain, different typehash.
    payload["types"]["ShipOrder"] = payload["types"].pop("Ship")
    payload["primaryType"] = "ShipOrder"
    signature = bytes(m.account.sign_message(encode_typed_data(full_message=payload)).signature)
    stranger = recover_signer(order, m.domain, signature)
    assert stranger != m.address
    with pytest.raises(ContractError) as e:
        lg.relay_ship(order, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {"signer": stranger, "expected": m.address}


@pytest.mark.parametrize("signed_as", ["Cancel", "Receive"])
def test_a_signature_over_colliding_fields_of_another_type_is_refused(
    chain: DevChain, consortium: Consortium, signed_as: str
) -> None:
    """Cancel(sender, shipmentId, ...) and Receive(receiver, shipmentId, ...) both start with
    an address and a shipment id and share nonce and deadline: a signature over one, with the
    same party, shipment, nonce and deadline, must not pass as the other."""
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    party = d if signed_as == "Cancel" else m
    nonce, deadline = party.nonce(), chain.now() + 3600
    cancel = CancelOrder(sender=party.address, shipmentId=shipment, nonce=nonce, deadline=deadline)
    receive = ReceiveOrder(
        receiver=party.address,
        shipmentId=shipment,
        nonce=nonce,
        deadline=deadline,
        tempMin=0,
        tempMax=0,
    )
    signed, submitted = (cancel, receive) if signed_as == "Cancel" else (receive, cancel)
    signature = sign_order(party.account, signed, m.domain)
    stranger = recover_signer(submitted, m.domain, signature)
    assert stranger != party.address
    with pytest.raises(ContractError) as e:
        if isinstance(submitted, ReceiveOrder):
            lg.relay_receive(submitted, signature)
        else:
            lg.relay_cancel(submitted, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {"signer": stranger, "expected": party.address}


def test_an_order_signed_for_a_second_deployment_on_the_same_chain_is_refused(
    chain: DevChain, consortium: Consortium, artifacts: dict[str, ContractArtifact]
) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    second = deploy_suite(chain.w3, consortium.admin.account, artifacts=artifacts)
    assert second.items != consortium.deployment.items
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, _ = m.sign_ship(d.address, ids)
    signature = sign_order(m.account, order, Domain(chain.w3.eth.chain_id, second.items))
    stranger = recover_signer(order, m.domain, signature)
    assert stranger != m.address
    with pytest.raises(ContractError) as e:
        lg.relay_ship(order, signature)
    assert e.value.name == "ItemsInvalidSigner"
    assert e.value.args_by_name == {"signer": stranger, "expected": m.address}


def test_a_zeroed_signature_is_refused_as_invalid(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    order, _ = m.sign_ship(d.address, ids)
    with pytest.raises(ContractError) as e:
        consortium.logistics.relay_ship(order, bytes(65))
    assert e.value.name == "ECDSAInvalidSignature"
    assert e.value.args_by_name == {}


# ------------------------------------------------------------------ parties


def test_a_receive_signed_by_someone_other_than_the_receiver_is_refused(
    consortium: Consortium,
) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    # Signing in its own name is a valid signature, but not the shipment's receiver.
    for party in (h, m):
        with pytest.raises(ContractError) as e:
            consortium.logistics.relay_receive(
                *party.sign_receive(shipment, temp_min=50, temp_max=80)
            )
        assert e.value.name == "ItemsWrongParty"
        assert e.value.args_by_name == {"shipmentId": shipment, "expected": d.address}
    assert m.shipment(shipment).status is ShipmentStatus.IN_TRANSIT
    assert (h.nonce(), m.nonce()) == (0, 1)


def test_a_cancel_signed_by_the_receiver_is_refused(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    with pytest.raises(ContractError) as e:
        consortium.logistics.relay_cancel(*d.sign_cancel(shipment))
    assert e.value.name == "ItemsWrongParty"
    assert e.value.args_by_name == {"shipmentId": shipment, "expected": m.address}
    assert d.item(ids[0]).status is ItemStatus.IN_TRANSIT
    assert d.nonce() == 0


# ------------------------------------------------------------------ nonces across types


def test_ship_then_receive_by_one_member_consume_consecutive_nonces(
    consortium: Consortium,
) -> None:
    m, d, lg = consortium.manufacturer, consortium.distributor, consortium.logistics
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    ship_order, ship_sig = m.sign_ship(d.address, ids)
    outbound = lg.relay_ship(ship_order, ship_sig).value
    d.receive(outbound, temp_min=50, temp_max=80)
    returned = d.ship(m.address, ids).value
    receive_order, receive_sig = m.sign_receive(returned, temp_min=50, temp_max=80)
    assert (ship_order.nonce, receive_order.nonce) == (0, 1)
    lg.relay_receive(receive_order, receive_sig)
    assert m.nonce() == 2
    assert m.item(ids[0]).holder == m.address


def test_a_nonce_used_by_one_type_cannot_be_reused_by_another(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value  # nonce 0
    with pytest.raises(ContractError) as e:
        consortium.logistics.relay_cancel(*m.sign_cancel(shipment, nonce=0))
    assert e.value.name == "InvalidAccountNonce"
    assert e.value.args_by_name == {"account": m.address, "currentNonce": 1}
    consortium.logistics.relay_cancel(*m.sign_cancel(shipment, nonce=1))
    assert m.item(ids[0]).status is ItemStatus.ACTIVE


def test_a_platform_relayer_granted_by_the_admin_relays_but_loses_the_right_when_revoked(
    chain: DevChain, consortium: Consortium
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    relayer = m.as_member(chain.accounts[10])
    assert not relayer.may_relay(relayer.address)
    assert not relayer.may_transact(relayer.address)
    consortium.admin.grant_relayer(relayer.address)
    assert relayer.may_relay(relayer.address)
    assert relayer.may_transact(relayer.address)
    assert not relayer.is_active(relayer.address)  # a relayer is not a member

    ids = m.commission(consortium.lot_key, ["RELAY1", "RELAY2"]).value
    shipment = relayer.relay_ship(*m.sign_ship(d.address, ids[:1])).value
    assert relayer.shipment(shipment).receiver == d.address

    consortium.admin.revoke_relayer(relayer.address)
    with pytest.raises(ContractError) as err:
        relayer.relay_ship(*m.sign_ship(d.address, ids[1:]))
    assert err.value.name == "ItemsNotActiveMember"
    assert err.value.args_by_name == {"account": relayer.address}
