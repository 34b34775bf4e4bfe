"""What a transaction run in pyrevm loaded and changed, read from its journaled state.

pyrevm 0.3.7 (revm 8.0.0) has no public write set: `EVM.journal_state` gives the loaded
accounts' balance, nonce and code but neither their storage nor whether they were created,
touched or self-destructed. `EVM.journal_str` is revm's `Debug` rendering of the whole
`JournaledState`, which has all of it; `loaded_state` reads the `state` map out of it:

    {0x<address>: Account { info: AccountInfo { balance: <dec>, nonce: <dec>,
        code_hash: 0x<hex>, code: None | Some(Bytecode { bytecode: 0x<hex>, state: Raw
        | Checked { len: <dec> } | Analysed { len: <dec>, jump_map: ... } }) },
        storage: {<slot dec>: StorageSlot { previous_or_original_value: <dec>,
        present_value: <dec> }, ...}, status: AccountStatus(<flags> | 0x0) }, ...}

The format is pinned by the pyrevm version (`>=0.3.7,<0.4`; 0.3.7 is the last release)
and checked by `tests/node/test_engine_revm.py`; a change makes `JournalFormatError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from medledger.node.engine import EngineError

__all__ = ["JournalFormatError", "LoadedAccount", "loaded_state"]

_ACCOUNT = ": Account { info: AccountInfo { balance: "
_INFO = re.compile(r"(\d+), nonce: (\d+), code_hash: 0x([0-9a-f]{64}), code: ")
_STORAGE = "}, storage: {"
_STATUS = "}, status: AccountStatus("
_SLOT = re.compile(
    r"(\d+): StorageSlot \{ previous_or_original_value: (\d+), present_value: (\d+) \}"
)
_RAW_CODE = "Some(Bytecode { bytecode: 0x"
_RAW_END = ", state: Raw }) "
_CODE = re.compile(r"Some\(Bytecode \{ bytecode: 0x([0-9a-f]*), state: (?:Raw|\w+ \{ len: (\d+))")


class JournalFormatError(EngineError):
    """pyrevm's journal is not in the form this module reads."""


@dataclass(frozen=True, slots=True)
class LoadedAccount:
    """An account as the transaction left it. `storage`: slot → (value when first
    loaded, value now), for every slot it loaded."""

    balance: int
    nonce: int
    code_hash: bytes
    storage: dict[int, tuple[int, int]]
    status: frozenset[str]
    _text: str
    _code_span: tuple[int, int]

    @property
    def touched(self) -> bool:
        return "Touched" in self.status

    @property
    def created(self) -> bool:
        return "Created" in self.status

    @property
    def destroyed(self) -> bool:
        return "SelfDestructed" in self.status

    def code(self) -> bytes | None:
        """The account's code as loaded (None if revm never loaded it)."""
        start, end = self._code_span
        match = _CODE.match(self._text, start, end)
        if match is None:
            return None
        code = bytes.fromhex(match.group(1))
        return code if match.group(2) is None else code[: int(match.group(2))]


def loaded_state(
    text: str, code_sizes: Mapping[bytes, int] | None = None
) -> dict[bytes, LoadedAccount]:
    """The accounts in a `journal_str`'s state map, by address. `code_sizes` (code hash →
    size) lets the reading jump over the code of accounts whose code it knows."""
    if not text.startswith("JournaledState { state: {"):
        raise JournalFormatError(f"pyrevm's journal starts {text[:40]!r}")
    sizes = code_sizes or {}
    accounts: dict[bytes, LoadedAccount] = {}
    at = 0
    while (found := text.find(_ACCOUNT, at)) >= 0:
        info = _INFO.match(text, found + len(_ACCOUNT))
        if info is None:
            raise JournalFormatError(f"pyrevm's journal: an account at {found} is unreadable")
        code_hash = bytes.fromhex(info.group(3))
        storage = _storage_at(text, info.end(), sizes.get(code_hash))
        status = text.find(_STATUS, storage)
        close = text.find(")", status + len(_STATUS))
        if min(storage, status, close) < 0:
            raise JournalFormatError(f"pyrevm's journal: an account at {found} is unreadable")
        slots = {
            int(slot): (int(original), int(present))
            for slot, original, present in _SLOT.findall(text, storage + len(_STORAGE), status)
        }
        flags = text[status + len(_STATUS) : close]
        accounts[bytes.fromhex(text[found - 40 : found])] = LoadedAccount(
            balance=int(info.group(1)),
            nonce=int(info.group(2)),
            code_hash=code_hash,
            storage=slots,
            status=frozenset(flag.strip() for flag in flags.split("|")),
            _text=text,
            _code_span=(info.end(), storage),
        )
        at = close
    return accounts


def _storage_at(text: str, code_at: int, code_size: int | None) -> int:
    """Where `}, storage: {` follows the code starting at `code_at`: past the code's hex
    without reading it when its size is known and it is shown as it was given (Raw)."""
    if code_size is not None and text.startswith(_RAW_CODE, code_at):
        after = code_at + len(_RAW_CODE) + 2 * code_size
        if text.startswith(_RAW_END, after):
            return after + len(_RAW_END)
    return text.find(_STORAGE, code_at)
