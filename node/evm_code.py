"""Contract code by its hash, shared by every block the process builds.

py-evm loads a contract's code through the account's journal and the key-value store on
every call frame, in every block (a single-item custody transfer loads three contracts).
Code is stored under its keccak hash and never changes under it, so a hash → code map is
valid for every state; `CodeCachingAccountDB` consults it first.
"""

from __future__ import annotations

from eth.db.account import AccountDB
from eth_typing import Address

__all__ = ["CodeCachingAccountDB"]

_MAX_CODES = 1024
_code_by_hash: dict[bytes, bytes] = {}


class CodeCachingAccountDB(AccountDB):
    def get_code(self, address: Address) -> bytes:
        code_hash = self.get_code_hash(address)
        code = _code_by_hash.get(code_hash)
        if code is None:
            code = super().get_code(address)
            if code and len(_code_by_hash) < _MAX_CODES:
                _code_by_hash[code_hash] = code
        return code
