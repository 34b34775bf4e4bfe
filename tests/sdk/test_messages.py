"""sdk.messages agrees with contracts/Items.sol: the same type strings, the same domain, the
same struct encoding; signatures round-trip; typed_data is what a wallet would be shown."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.messages import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    MESSAGE_TYPES,
    CancelOrder,
    Domain,
    LotQuantity,
    ReceiveOrder,
    ShipOrder,
    recover_signer,
    sign_order,
    typed_data,
)

Order = ShipOrder | ReceiveOrder | CancelOrder

SENDER = to_checksum_address("0x" + "a1" * 20)
RECEIVER = to_checksum_address("0x" + "b2" * 20)
CONTRACT = to_checksum_address("0x" + "c3" * 20)
DOMAIN = Domain(1337, CONTRACT)
ID1, ID2 = keccak(text="/01/09506000134352/21/SN1"), keccak(text="/01/09506000134352/21/SN2")
LOT_A, LOT_B = keccak(text="/01/09506000134352/10/A1"), keccak(text="/01/09506000134352/10/B2")
PRIMARY_TYPES = ("Cancel", "Receive", "Ship")
TYPEHASH_NAMES = {"LotQuantity": "LOT_QUANTITY_TYPEHASH"}

ORDERS: dict[str, Order] = {
    "Ship": ShipOrder(
        sender=SENDER,
        receiver=RECEIVER,
        itemIds=(ID1, ID2),
        lots=(LotQuantity(LOT_A, 100), LotQuantity(LOT_B, 7)),
        documentHash=keccak(text="delivery note"),
        nonce=7,
        deadline=1_900_000_000,
    ),
    "Receive": ReceiveOrder(
        receiver=RECEIVER,
        shipmentId=42,
        rejectedIds=(ID2,),
        rejectedLots=(LotQuantity(LOT_B, 2),),
        tempMin=-180,
        tempMax=25,
        excursionSeconds=600,
        inspectionHash=keccak(text="inspection"),
        nonce=3,
        deadline=1_900_000_000,
    ),
    "Cancel": CancelOrder(
        sender=SENDER,
        shipmentId=42,
        reasonHash=keccak(text="wrong address"),
        nonce=8,
        deadline=1_900_000_000,
    ),
}


@pytest.fixture(scope="module")
def signer() -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text="medledger test signer"))
    return account


@pytest.fixture
def items(
    chain: DevChain, consortium: Consortium, artifacts: dict[str, ContractArtifact]
) -> Contract:
    return chain.w3.eth.contract(
        address=to_checksum_address(consortium.deployment.items), abi=artifacts["Items"].abi
    )


def _encode_type(primary: str) -> str:
    def one(name: str) -> str:
        fields = ",".join(f"{f['type']} {f['name']}" for f in MESSAGE_TYPES[name])
        return f"{name}({fields})"

    nested = ("LotQuantity",) if primary in ("Ship", "Receive") else ()
    return one(primary) + "".join(one(n) for n in nested)


def _lots_hash(lots: tuple[LotQuantity, ...]) -> bytes:
    typehash = keccak(text=_encode_type("LotQuantity"))
    return keccak(
        b"".join(
            keccak(abi_encode(["bytes32", "bytes32", "uint32"], [typehash, q.lotKey, q.quantity]))
            for q in lots
        )
    )


def _contract_struct_hash(order: Order, typehash: bytes) -> bytes:
    """hashStruct as Items.sol's _hashShip/_hashReceive/_hashCancel compute it."""
    if isinstance(order, ShipOrder):
        return keccak(
            abi_encode(
                [
                    "bytes32",
                    "address",
                    "address",
                    "bytes32",
                    "bytes32",
                    "bytes32",
                    "uint256",
                    "uint256",
                ],
                [
                    typehash,
                    order.sender,
                    order.receiver,
                    keccak(b"".join(order.itemIds)),
                    _lots_hash(order.lots),
                    order.documentHash,
                    order.nonce,
                    order.deadline,
                ],
            )
        )
    if isinstance(order, ReceiveOrder):
        return keccak(
            abi_encode(
                [
                    "bytes32",
                    "address",
                    "uint64",
                    "bytes32",
                    "bytes32",
                    "int16",
                    "int16",
                    "uint32",
                    "bytes32",
                    "uint256",
                    "uint256",
                ],
                [
                    typehash,
                    order.receiver,
                    order.shipmentId,
                    keccak(b"".join(order.rejectedIds)),
                    _lots_hash(order.rejectedLots),
                    order.tempMin,
                    order.tempMax,
                    order.excursionSeconds,
                    order.inspectionHash,
                    order.nonce,
                    order.deadline,
                ],
            )
        )
    return keccak(
        abi_encode(
            ["bytes32", "address", "uint64", "bytes32", "uint256", "uint256"],
            [
                typehash,
                order.sender,
                order.shipmentId,
                order.reasonHash,
                order.nonce,
                order.deadline,
            ],
        )
    )


def _hexify(value: Any) -> Any:
    """What JSON (and so a browser wallet) carries: bytes as 0x-hex strings."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    raise TypeError(f"not JSON: {type(value).__name__}")


# ------------------------------------------------------------------ agreement with Items.sol


@pytest.mark.parametrize("primary", sorted(MESSAGE_TYPES))
def test_each_message_type_string_hashes_to_the_contracts_typehash(
    items: Contract, primary: str
) -> None:
    name = TYPEHASH_NAMES.get(primary, f"{primary.upper()}_TYPEHASH")
    on_chain = bytes(items.functions[name]().call())
    assert keccak(text=_encode_type(primary)) == on_chain


def test_the_sdk_defines_the_three_custody_messages_and_their_lot_quantity() -> None:
    assert set(MESSAGE_TYPES) == {"Ship", "Receive", "Cancel", "LotQuantity"}
    assert {o.PRIMARY for o in ORDERS.values()} == set(PRIMARY_TYPES)


def test_the_contracts_domain_separator_is_the_one_eth_account_computes(
    chain: DevChain, consortium: Consortium, items: Contract
) -> None:
    domain = Domain(chain.w3.eth.chain_id, consortium.deployment.items)
    message = encode_typed_data(full_message=typed_data(ORDERS["Ship"], domain))
    assert bytes(items.functions.domainSeparator().call()) == bytes(message.header)
    assert consortium.manufacturer.domain == domain


def test_the_contract_advertises_the_sdks_domain_to_wallets(
    chain: DevChain, consortium: Consortium, items: Contract
) -> None:
    # EIP-5267, which wallets read to build the domain they show.
    _, name, version, chain_id, verifying_contract, _, _ = items.functions.eip712Domain().call()
    assert (name, version) == (DOMAIN_NAME, DOMAIN_VERSION)
    assert chain_id == chain.w3.eth.chain_id
    assert verifying_contract == to_checksum_address(consortium.deployment.items)


@pytest.mark.parametrize("primary", sorted(ORDERS))
def test_eth_account_hashes_each_order_as_the_contract_encodes_it(
    items: Contract, primary: str
) -> None:
    order = ORDERS[primary]
    typehash = bytes(items.functions[f"{primary.upper()}_TYPEHASH"]().call())
    message = encode_typed_data(full_message=typed_data(order, DOMAIN))
    assert bytes(message.body) == _contract_struct_hash(order, typehash)


def test_domains_differing_in_chain_or_contract_have_different_separators() -> None:
    def separator(domain: Domain) -> bytes:
        return bytes(encode_typed_data(full_message=typed_data(ORDERS["Ship"], domain)).header)

    other_contract = to_checksum_address("0x" + "d4" * 20)
    seps = {
        separator(DOMAIN),
        separator(replace(DOMAIN, chain_id=DOMAIN.chain_id + 1)),
        separator(replace(DOMAIN, verifying_contract=other_contract)),
    }
    assert len(seps) == 3


# ------------------------------------------------------------------ signing


@pytest.mark.parametrize("primary", sorted(ORDERS))
def test_recover_signer_returns_the_account_that_signed(signer: LocalAccount, primary: str) -> None:
    order = ORDERS[primary]
    signature = sign_order(signer, order, DOMAIN)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert recover_signer(order, DOMAIN, signature) == signer.address


@pytest.mark.parametrize("primary", sorted(ORDERS))
def test_signatures_are_low_s(signer: LocalAccount, primary: str) -> None:
    half_n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
    signature = sign_order(signer, ORDERS[primary], DOMAIN)
    assert int.from_bytes(signature[32:64], "big") <= half_n


@pytest.mark.parametrize(
    ("primary", "change"),
    [
        ("Ship", {"receiver": SENDER}),
        ("Ship", {"itemIds": (ID2, ID1)}),
        ("Ship", {"nonce": 8}),
        ("Ship", {"lots": (LotQuantity(LOT_A, 101), LotQuantity(LOT_B, 7))}),
        ("Ship", {"lots": ()}),
        ("Receive", {"rejectedLots": (LotQuantity(LOT_B, 3),)}),
        ("Receive", {"tempMin": 20}),
        ("Receive", {"rejectedIds": ()}),
        ("Receive", {"excursionSeconds": 0}),
        ("Cancel", {"shipmentId": 43}),
        ("Cancel", {"deadline": 1_900_000_001}),
    ],
)
def test_changing_any_signed_field_recovers_someone_else(
    signer: LocalAccount, primary: str, change: dict[str, Any]
) -> None:
    order = ORDERS[primary]
    signature = sign_order(signer, order, DOMAIN)
    assert recover_signer(replace(order, **change), DOMAIN, signature) != signer.address


def test_a_signature_under_another_domain_recovers_someone_else(signer: LocalAccount) -> None:
    order = ORDERS["Cancel"]
    signature = sign_order(signer, order, replace(DOMAIN, chain_id=DOMAIN.chain_id + 1))
    assert recover_signer(order, DOMAIN, signature) != signer.address


def test_colliding_cancel_and_receive_fields_hash_differently(signer: LocalAccount) -> None:
    cancel = CancelOrder(sender=SENDER, shipmentId=1, nonce=0, deadline=10)
    receive = ReceiveOrder(
        receiver=SENDER, shipmentId=1, nonce=0, deadline=10, tempMin=0, tempMax=0
    )
    signature = sign_order(signer, cancel, DOMAIN)
    assert recover_signer(receive, DOMAIN, signature) != signer.address


# ------------------------------------------------------------------ what a wallet shows


@pytest.mark.parametrize("primary", sorted(ORDERS))
def test_typed_data_is_a_complete_eip712_payload(primary: str) -> None:
    payload = typed_data(ORDERS[primary], DOMAIN)
    assert set(payload) == {"types", "primaryType", "domain", "message"}
    assert payload["primaryType"] == primary
    assert payload["types"]["EIP712Domain"] == [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ]
    assert payload["types"][primary] == MESSAGE_TYPES[primary]
    nested = {"LotQuantity"} if primary in ("Ship", "Receive") else set()
    assert set(payload["types"]) == {"EIP712Domain", primary, *nested}
    assert payload["domain"] == {
        "name": "MedLedger Items",
        "version": "1",
        "chainId": 1337,
        "verifyingContract": CONTRACT,
    }
    assert set(payload["message"]) == {f["name"] for f in MESSAGE_TYPES[primary]}


def test_typed_data_normalises_the_verifying_contract_to_a_checksum_address() -> None:
    payload = typed_data(ORDERS["Ship"], Domain(1, CONTRACT.lower()))
    assert payload["domain"]["verifyingContract"] == CONTRACT


def test_typed_data_shows_the_ship_orders_items_and_parties() -> None:
    message = typed_data(ORDERS["Ship"], DOMAIN)["message"]
    assert (message["sender"], message["receiver"]) == (SENDER, RECEIVER)
    assert message["itemIds"] == ["0x" + ID1.hex(), "0x" + ID2.hex()]
    assert (message["nonce"], message["deadline"]) == (7, 1_900_000_000)


@pytest.mark.parametrize("primary", sorted(ORDERS))
def test_a_wallet_signing_the_json_form_signs_the_same_digest(
    signer: LocalAccount, primary: str
) -> None:
    order = ORDERS[primary]
    wallet_payload = json.loads(json.dumps(typed_data(order, DOMAIN), default=_hexify))
    signed = signer.sign_message(encode_typed_data(full_message=wallet_payload))
    assert bytes(signed.signature) == sign_order(signer, order, DOMAIN)


def test_typed_data_is_json_serialisable_as_eth_sign_typed_data_v4_expects() -> None:
    payload = json.loads(json.dumps(typed_data(ORDERS["Ship"], DOMAIN)))
    assert list(payload["message"]) == [f["name"] for f in MESSAGE_TYPES["Ship"]]


def test_an_order_cannot_be_encoded_under_a_type_whose_fields_it_lacks() -> None:
    payload = typed_data(ORDERS["Ship"], DOMAIN, primary_type="Cancel")
    assert payload["primaryType"] == "Cancel"
    assert payload["types"]["Cancel"] == MESSAGE_TYPES["Cancel"]
    with pytest.raises(ValueError, match="shipmentId"):
        encode_typed_data(full_message=payload)
    with pytest.raises(KeyError):
        typed_data(ORDERS["Ship"], DOMAIN, primary_type="Transfer")
