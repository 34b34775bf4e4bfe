"""The contracts' GS1 library (`contracts/lib/Gs1.sol`) agrees with the SDK (`sdk.gs1`)
character for character: which serials and lots are GS1 CSET 82, how a value is
percent-encoded into a Digital Link path, and the unit ids and lot keys hashed from those
paths. Exercised through a small harness contract compiled next to a copy of the library."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.engines.devchain import DevChain
from medledger.sdk.compiler import CONTRACTS_DIR, compile_contracts
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import item_id, lot_key, unit_path

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
GTIN = "09506000134352"

HARNESS = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;
import {Gs1} from "./lib/Gs1.sol";
contract Gs1Harness {
    function isCset82(string calldata v) external pure returns (bool) {
        return Gs1.isCset82(bytes(v));
    }
    function isLedgerSafe(string calldata v) external pure returns (bool) {
        return Gs1.isLedgerSafe(bytes(v));
    }
    function pathValue(string calldata v) external pure returns (string memory) {
        return string(Gs1.pathValue(bytes(v)));
    }
    function unitId(bytes14 gtin, string calldata s) external pure returns (bytes32) {
        return Gs1.unitId(gtin, s);
    }
    function lotKey(bytes14 gtin, string calldata s) external pure returns (bytes32) {
        return Gs1.lotKey(gtin, s);
    }
}
"""


@pytest.fixture(scope="module")
def gs1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("gs1lib")
    sources = root / "contracts"
    (sources / "lib").mkdir(parents=True)
    shutil.copy(CONTRACTS_DIR / "lib" / "Gs1.sol", sources / "lib" / "Gs1.sol")
    (sources / "Gs1Harness.sol").write_text(HARNESS)
    artifact = compile_contracts(contracts_dir=sources, build_dir=Path(root / "build"))[
        "Gs1Harness"
    ]
    chain = DevChain.start(accounts=1)
    w3 = chain.w3
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": w3.eth.accounts[0]})
    )
    yield w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def _sdk_cset82(value: str) -> bool:
    try:
        unit_path(GTIN, value)
    except Gs1Error:
        return False
    return True


values = st.text(alphabet=CSET82, min_size=1, max_size=20)
near_values = st.text(alphabet=CSET82 + " ~#$@[]\\^`{|}\x1d\x7fé中", min_size=0, max_size=22)


def test_every_cset82_character_is_accepted_and_encoded_as_the_sdk_does(gs1: Any) -> None:
    for char in CSET82:
        value = f"A{char}B"
        assert gs1.functions.isCset82(value).call(), char
        assert gs1.functions.pathValue(value).call() == quote(value, safe=""), char
        ledger_safe = char.isalnum() or char in "-._"
        assert gs1.functions.isLedgerSafe(value).call() is ledger_safe, char


@settings(max_examples=150, deadline=None)
@given(value=values)
def test_unit_ids_and_lot_keys_are_the_sdk_ones_for_any_cset82_value(gs1: Any, value: str) -> None:
    gtin = bytes(GTIN, "ascii")
    assert gs1.functions.unitId(gtin, value).call() == item_id(unit_path(GTIN, value))
    assert gs1.functions.lotKey(gtin, value).call() == lot_key(GTIN, value)


@settings(max_examples=150, deadline=None)
@given(value=near_values)
def test_the_library_and_the_sdk_accept_the_same_values(gs1: Any, value: str) -> None:
    assert gs1.functions.isCset82(value).call() is _sdk_cset82(value)


def test_ledger_safe_values_keep_the_ids_the_ledger_already_holds(gs1: Any) -> None:
    from eth_utils import keccak

    gtin = bytes(GTIN, "ascii")
    for value in ("SN000001", "LOT-2026.a_B", "x" * 20):
        old_unit = keccak(b"/01/" + gtin + b"/21/" + value.encode())
        old_lot = keccak(b"/01/" + gtin + b"/10/" + value.encode())
        assert gs1.functions.unitId(gtin, value).call() == old_unit
        assert gs1.functions.lotKey(gtin, value).call() == old_lot


def test_a_slash_in_a_lot_cannot_make_two_splits_share_an_id(gs1: Any) -> None:
    gtin = bytes(GTIN, "ascii")
    assert gs1.functions.lotKey(gtin, "A/21/B").call() != gs1.functions.unitId(gtin, "B").call()
    assert gs1.functions.pathValue("A/21/B").call() == "A%2F21%2FB"
