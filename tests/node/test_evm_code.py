"""Contract code cached by hash answers exactly what py-evm's account database answers,
across states and for accounts without code."""

from __future__ import annotations

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth_typing import Address

from medledger.node.evm_code import CodeCachingAccountDB

A = Address(b"\x0a" * 20)
B = Address(b"\x0b" * 20)
EMPTY = Address(b"\x0c" * 20)


def test_cached_code_matches_py_evm_across_states() -> None:
    first = CodeCachingAccountDB(AtomicDB(), BLANK_ROOT_HASH)
    plain = AccountDB(AtomicDB(), BLANK_ROOT_HASH)
    for db in (first, plain):
        db.set_code(A, b"\x60\x01\x00")
        db.set_code(B, b"\x60\x02\x00")
    for address in (A, B, EMPTY):
        assert first.get_code(address) == plain.get_code(address)
        assert first.get_code(address) == plain.get_code(address)  # now from the cache

    # Another state, where A holds B's code and B has none: the cache is keyed by code
    # hash, not by address, so it cannot answer with a stale contract.
    second = CodeCachingAccountDB(AtomicDB(), BLANK_ROOT_HASH)
    second.set_code(A, b"\x60\x02\x00")
    assert second.get_code(A) == b"\x60\x02\x00"
    assert second.get_code(B) == b""
