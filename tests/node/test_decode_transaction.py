"""Admission decodes a transaction with one public-key recovery instead of py-evm's three;
it must accept and refuse exactly what py-evm's full `validate()` does."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_keys.constants import SECPK1_N
from eth_utils import int_to_big_endian
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.node.errors import NodeError
from medledger.node.evm import MedLedgerVM, decode_admitted, decode_transaction

ACCOUNT = Account.from_key("0x" + "42" * 32)
TO = "0x" + "11" * 20


def _signed(kind: str, gas: int = 60_000) -> bytes:
    fields: dict[str, Any] = {"chainId": 7, "nonce": 3, "to": TO, "data": b"\x01\x00",
                              "gas": gas, "value": 0}  # fmt: skip
    if kind == "legacy":
        fields["gasPrice"] = 0
    else:
        fields |= {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    return bytes(ACCOUNT.sign_transaction(fields).raw_transaction)


def _with_signature(raw: bytes, v: int | None, r: int, s: int) -> bytes:
    """The same transaction with its signature fields replaced."""
    if raw[0] < 0x80:  # typed: type byte, then [..., y_parity, r, s]
        items = rlp.decode(raw[1:])
        items[-3:] = [int_to_big_endian(x) if x else b"" for x in (v or 0, r, s)]
        return bytes(raw[:1] + rlp.encode(items))
    items = rlp.decode(raw)
    old_v = int.from_bytes(items[-3], "big")
    items[-3:] = [int_to_big_endian(x) if x else b"" for x in (v or old_v, r, s)]
    return bytes(rlp.encode(items))


def _py_evm_sender(raw: bytes) -> bytes | None:
    """The sender if py-evm's full validation (recover, recover again and verify) passes."""
    try:
        tx = MedLedgerVM.get_transaction_builder().decode(raw)
        tx.validate()
        return bytes(tx.sender)
    except Exception:
        return None


def _our_sender(raw: bytes) -> bytes | None:
    try:
        return decode_transaction(raw).sender
    except NodeError:
        return None


@pytest.mark.parametrize("kind", ["legacy", "dynamic"])
def test_a_good_transaction_decodes_with_its_sender(kind: str) -> None:
    decoded = decode_transaction(_signed(kind))
    assert decoded.sender == bytes.fromhex(ACCOUNT.address[2:])
    tx = decoded.obj
    # The shortcut is undone: the object in the mempool and the block validates in full.
    assert "check_signature_validity" not in vars(getattr(tx, "_inner", tx))
    tx.validate()


@pytest.mark.parametrize("kind", ["legacy", "dynamic"])
def test_high_s_is_treated_as_py_evm_treats_it(kind: str) -> None:
    raw = _signed(kind)
    tx = MedLedgerVM.get_transaction_builder().decode(raw)
    inner: Any = getattr(tx, "_inner", tx)
    v = getattr(inner, "y_parity", None)
    flipped_v = None if v is None else 1 - v
    if v is None:  # legacy: v = chain_id * 2 + 35 + parity
        flipped_v = inner.v ^ 1
    high = _with_signature(raw, flipped_v, inner.r, SECPK1_N - inner.s)
    assert _our_sender(high) == _py_evm_sender(high)
    if kind == "legacy":
        assert _our_sender(high) is None  # Homestead's low-s rule


@pytest.mark.parametrize("kind", ["legacy", "dynamic"])
def test_too_little_gas_is_judged_as_py_evm_judges_it(kind: str) -> None:
    raw = _signed(kind, gas=21_000)  # below the intrinsic gas of its calldata
    assert _our_sender(raw) == _py_evm_sender(raw)
    if kind == "legacy":  # typed transactions meet the intrinsic gas check at execution
        with pytest.raises(NodeError, match="invalid transaction: Insufficient gas"):
            decode_transaction(raw)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["legacy", "dynamic"]),
    v=st.one_of(st.none(), st.integers(0, 60)),
    r=st.one_of(
        st.integers(0, 3), st.integers(SECPK1_N - 2, SECPK1_N + 2), st.integers(1, 2**256 - 1)
    ),
    s=st.one_of(
        st.integers(0, 3),
        st.integers(SECPK1_N // 2 - 1, SECPK1_N // 2 + 1),
        st.integers(SECPK1_N - 2, SECPK1_N + 2),
        st.integers(1, 2**256 - 1),
    ),
)
def test_mutated_signatures_are_judged_as_py_evm_judges_them(
    kind: str, v: int | None, r: int, s: int
) -> None:
    raw = _with_signature(_signed(kind), v, r, s)
    assert _our_sender(raw) == _py_evm_sender(raw)


@pytest.mark.parametrize("kind", ["legacy", "dynamic"])
def test_the_block_maker_decodes_an_admitted_transaction_without_recovering_its_signer(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _signed(kind)
    admitted = decode_transaction(raw)

    def no_recovery(*_: object) -> None:
        raise AssertionError("the signer was recovered again")

    for fork in ("frontier", "berlin", "london", "cancun", "prague"):
        module = f"eth.vm.forks.{fork}.transactions"
        monkeypatch.setattr(f"{module}.extract_transaction_sender", no_recovery)
    again = decode_admitted(raw, admitted.sender)
    assert bytes(again.obj.sender) == admitted.sender == bytes.fromhex(ACCOUNT.address[2:])
    assert again.obj.sender == admitted.obj.sender
    assert (again.hash, again.nonce, again.gas, again.to, again.chain_id, again.max_cost) == (
        admitted.hash, admitted.nonce, admitted.gas, admitted.to, admitted.chain_id,
        admitted.max_cost,
    )  # fmt: skip
    with pytest.raises(NodeError, match="recovered again"):
        decode_transaction(raw)  # the patch does stand in the way of any recovery
