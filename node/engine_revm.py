"""Block execution on revm, through pyrevm 0.3.7: `RevmExecutor`, a `BlockExecutor`.

What pyrevm gives, and how this module gets a write set out of it:

- Its only database is revm's in-memory `CacheDB` over an empty backend: an account or
  slot nobody inserted reads as empty or zero, and there is no callback to our store
  (besides `fork_url`, a remote JSON-RPC node). The executor keeps one `EVM` for as long
  as blocks follow each other and loads accounts into its cache whole (balance, nonce,
  code and every slot, listed with the slot preimages `commit` stores) the first time a
  transaction asks revm for them. Which accounts it asked for is known after it ran:
  `EVM.db_accounts` lists every address the cache was asked for, even inside a call that
  reverted (the journal forgets those). If one of them exists in our tries, it is loaded
  and the transaction runs again. Slots need no such check: a loaded account's absent
  slots are zero. The cache stays valid for the next block if the caller commits through
  `commit`.
- `EVM.message_call` and `EVM.deploy` never finalise revm's journal, so state, warm
  accounts and original slot values would carry over from one transaction to the next.
  Each transaction therefore runs inside `snapshot()`/`revert()`: its write set is read from
  the journal before the revert, and then written into the cache (`insert_account_info`,
  `insert_account_storage`) as the state the next transaction starts from.
- `message_call` skips buying gas, the nonce increment and paying the coinbase; they are
  done here, with py-evm's rules, including the EIP-7623 calldata floor revm 8 predates.

The chain's fork is Prague (py-evm's `PragueVM`). revm 8.0.0 knows forks up to Cancun (its
`SpecId` has no Prague; an unknown name means "LATEST", which is Cancun too), so it runs as
Cancun; Prague differs by the calldata floor (done here), EIP-7702 authorisations
(type-4 transactions), the BLS12-381 precompiles at 0x0b-0x11 and two system contracts the
genesis does not deploy. What revm would do otherwise than py-evm raises
`UnsupportedByEngine`: type-3 and type-4 transactions; access lists (revm loads the listed
accounts outside its journal, so they would stay warm for the next transaction); a call
that reached a BLS precompile (`db_accounts` shows it); BLOCKHASH executed (pyrevm cannot
be given block hashes and answers with a keccak of the number's digits; whether it ran is
read from the cache's block hashes, only when some code involved holds a 0x40 byte); and
GASPRICE in the code involved at a non-zero gas price (revm runs at price 0, the fees
being paid here). Initcode a contract hands to CREATE/CREATE2 is not looked at for
GASPRICE or a 0x40 byte.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyrevm
from eth_hash.auto import keccak

from medledger.node.engine import (
    EMPTY_CODE_HASH,
    AccountChange,
    BlockEnv,
    BlockResult,
    EngineError,
    Log,
    Receipt,
    StateChanges,
    StateReader,
    Transaction,
    UnsupportedByEngine,
    bloom_of,
    calldata_floor,
    commit_state,
    use_native_keccak,
    write_preimages,
)
from medledger.node.revm_journal import LoadedAccount, loaded_state

__all__ = ["REVM_SPEC", "RevmExecutor", "genesis_preimages"]

REVM_SPEC = "Cancun"  # revm 8's name for its newest fork; unknown names mean "LATEST"
MAX_CACHED_ACCOUNTS = 100_000
_BLS_PRECOMPILES = frozenset(i.to_bytes(20, "big") for i in range(0x0B, 0x12))
_BLOCKHASH, _GASPRICE = 0x40, 0x3A

# pyrevm's AccountInfo takes a balance, which its type stub leaves out.
_AccountInfo: Any = pyrevm.AccountInfo

_Info = tuple[int, int, bytes]  # nonce, balance, code hash; None stands for no account


class _Invalid(Exception):
    """A transaction that is not valid on the state reached (py-evm's ValidationError)."""


class _Restart(Exception):
    """Run the block again from the parent's state, dropping transaction `index`."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index, self.reason = index, reason


def opcodes_in(code: bytes) -> frozenset[int]:
    """The opcodes `code` contains, skipping PUSH data."""
    found: set[int] = set()
    i, end = 0, len(code)
    while i < end:
        op = code[i]
        found.add(op)
        i += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return frozenset(found)


def _hex(address: bytes) -> str:
    return "0x" + address.hex()


def _empty(info: _Info | None) -> bool:
    return info is None or (info[0] == 0 and info[1] == 0 and info[2] == EMPTY_CODE_HASH)


@dataclass(slots=True)
class _Block:
    """What the block changed: each account's info before its first change, each slot's
    value before its first change and now, and the code it created."""

    accounts: dict[bytes, _Info | None] = field(default_factory=dict)
    slots: dict[bytes, dict[int, list[int]]] = field(default_factory=dict)
    codes: dict[bytes, bytes] = field(default_factory=dict)


class RevmExecutor:
    """Executes blocks with revm; keeps the state of the last block it executed cached."""

    def __init__(self, *, max_cached_accounts: int = MAX_CACHED_ACCOUNTS) -> None:
        use_native_keccak()
        self._max_accounts = max_cached_accounts
        self._evm: Any = None
        self._setup: tuple[int, int, bytes] | None = None
        self._root: bytes | None = None  # the state root the cache holds
        self._pending: tuple[BlockResult, _Block] | None = None  # executed, not committed
        self._reader: StateReader | None = None
        self._accounts: dict[bytes, _Info | None] = {}  # loaded whole into the cache
        self._opcodes: dict[bytes, frozenset[int]] = {}  # code hash → opcodes
        self._codes: set[bytes] = set()  # code hashes the cache holds code for
        self._code_sizes: dict[bytes, int] = {}  # code hash → size, to read the journal
        self.reruns = 0  # transactions run again after loading accounts

    # -- the interface ----------------------------------------------------------------

    def execute_block(
        self,
        state: StateReader,
        env: BlockEnv,
        transactions: Sequence[Transaction],
        *,
        strict: bool = False,
        deadline: float | None = None,
    ) -> BlockResult:
        """Not `strict`, a transaction revm cannot run as py-evm does is dropped with the
        reason, and the block is run again from the parent's state without it (which undoes
        whatever the attempt left in the cache: its sender's pre-charge, accounts loaded
        half-way, a cache dropped after BLOCKHASH)."""
        setup = (env.chain_id, env.gas_limit, env.coinbase)
        if state.state_root != self._root or setup != self._setup:
            self._reset(setup)
        unsupported: dict[int, str] = {}  # index → why revm cannot run it
        while True:
            try:
                return self._execute(state, env, transactions, strict, deadline, unsupported)
            except _Restart as restart:
                unsupported[restart.index] = restart.reason
                self._reset(setup)

    def _execute(
        self,
        state: StateReader,
        env: BlockEnv,
        transactions: Sequence[Transaction],
        strict: bool,
        deadline: float | None,
        unsupported: dict[int, str],
    ) -> BlockResult:
        self._root = self._pending = None
        self._reader = state
        self._evm.set_block_env(
            pyrevm.BlockEnv(
                number=env.number,
                coinbase=_hex(env.coinbase),
                timestamp=env.timestamp,
                prevrandao=env.prevrandao,
                basefee=env.base_fee,
                gas_limit=env.gas_limit,
                excess_blob_gas=0,
            )
        )
        self._account(env.coinbase)
        block = _Block()
        included: list[Transaction] = []
        receipts: list[Receipt] = []
        dropped: list[tuple[Transaction, str]] = []
        deferred: list[Transaction] = []
        gas_used = 0
        for index, tx in enumerate(transactions):
            if deadline is not None and included and time.monotonic() > deadline:
                deferred.extend(transactions[index:])  # in order: nonces stay in sequence
                break
            if index in unsupported:
                dropped.append((tx, unsupported[index]))
                continue
            if gas_used + tx.gas > env.gas_limit:
                if strict:
                    raise EngineError(f"transaction {len(included)}: exceeds the block's gas")
                deferred.append(tx)
                continue
            try:
                receipt = self._transact(tx, env, block, gas_used)
            except _Invalid as exc:
                if strict:
                    raise EngineError(f"transaction {len(included)}: {exc}") from exc
                dropped.append((tx, str(exc)))
                continue
            except UnsupportedByEngine as exc:
                if strict:
                    raise
                raise _Restart(index, str(exc)) from exc
            gas_used = receipt.cumulative_gas_used
            included.append(tx)
            receipts.append(receipt)
        result = BlockResult(
            transactions=included,
            receipts=receipts,
            state_changes=self._changes(block),
            gas_used=gas_used,
            bloom=_or(r.bloom for r in receipts),
            dropped=dropped,
            deferred=deferred,
        )
        self._pending = (result, block)
        return result

    def commit(self, db: Any, parent_root: bytes, result: BlockResult) -> bytes:
        """`commit_state`, and the preimages of the slots written (for `storage_items`)."""
        root = commit_state(db, parent_root, result.state_changes)
        pending = self._pending
        if pending is not None and pending[0] is result:
            write_preimages(db, (slot for slots in pending[1].slots.values() for slot in slots))
            if len(self._accounts) <= self._max_accounts:
                self._root = root  # else: start again from an empty cache
        return root

    # -- one transaction --------------------------------------------------------------

    def _transact(self, tx: Transaction, env: BlockEnv, block: _Block, gas_before: int) -> Receipt:
        if tx.type_id > 2:
            raise UnsupportedByEngine(f"transaction type {tx.type_id} is not run on revm 8")
        if tx.access_list:
            # revm loads access-listed accounts outside its journal: they would stay warm.
            raise UnsupportedByEngine("a transaction with an access list")
        price = min(tx.max_fee, tx.priority_fee + env.base_fee)
        nonce, balance, code_hash = self._account(tx.sender) or (0, 0, EMPTY_CODE_HASH)
        _validate(tx, env, price=price, nonce=nonce, balance=balance)
        creating = not tx.to
        # Buy the gas and (for a call; a creation's nonce is revm's) increment the nonce.
        self._write_account(
            block, tx.sender, (nonce + (0 if creating else 1), balance - tx.gas * price, code_hash)
        )
        evm = self._evm
        while True:
            checkpoint = evm.snapshot()
            try:
                if creating:
                    evm.deploy(_hex(tx.sender), tx.data, value=tx.value, gas=tx.gas)
                else:
                    evm.message_call(
                        _hex(tx.sender), _hex(tx.to), calldata=tx.data, value=tx.value, gas=tx.gas
                    )
            except RuntimeError as exc:
                if evm.result is None:  # refused before running: not a revert or a halt
                    evm.revert(checkpoint)
                    raise UnsupportedByEngine(f"revm refused the transaction: {exc}") from exc
            outcome = evm.result
            loaded = loaded_state(evm.journal_str, self._code_sizes)
            asked = [bytes.fromhex(name[2:]) for name in evm.db_accounts]
            evm.revert(checkpoint)
            if not self._load_new(asked):
                break
            self.reruns += 1
        self._check_run(tx, loaded, asked, price)
        self._apply(block, loaded)
        gas_used = max(int(outcome.gas_used), calldata_floor(tx.data))  # EIP-7623
        self._settle(block, tx, env, price=price, gas_used=gas_used)
        logs = tuple(_log(log) for log in outcome.logs)
        return Receipt(
            type_id=tx.type_id,
            success=bool(outcome.is_success),
            cumulative_gas_used=gas_before + gas_used,
            gas_used=gas_used,
            logs=logs,
            bloom=bloom_of(logs),
            contract_address=_create_address(tx.sender, nonce) if creating else None,
        )

    def _settle(
        self, block: _Block, tx: Transaction, env: BlockEnv, *, price: int, gas_used: int
    ) -> None:
        """Refund the sender's unused gas and pay the coinbase its tip, as py-evm does."""
        refund = (tx.gas - gas_used) * price
        if refund:
            nonce, balance, code_hash = self._accounts[tx.sender] or (0, 0, EMPTY_CODE_HASH)
            self._write_account(block, tx.sender, (nonce, balance + refund, code_hash))
        fee = gas_used * min(tx.max_fee - env.base_fee, tx.priority_fee)
        if fee:
            nonce, balance, code_hash = self._accounts[env.coinbase] or (0, 0, EMPTY_CODE_HASH)
            self._write_account(block, env.coinbase, (nonce, balance + fee, code_hash))

    # -- the cache --------------------------------------------------------------------

    def _reset(self, setup: tuple[int, int, bytes]) -> None:
        chain_id, gas_limit, _ = setup
        self._evm = pyrevm.EVM(
            env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=chain_id)),
            gas_limit=gas_limit,
            spec_id=REVM_SPEC,
        )
        self._setup = setup
        self._accounts, self._codes = {}, set()

    def _account(self, address: bytes) -> _Info | None:
        """The account as the cache holds it, loaded whole from our tries the first time."""
        if address in self._accounts:
            return self._accounts[address]
        assert self._reader is not None
        found = self._reader.account(address)
        info = None if found is None else (found.nonce, found.balance, found.code_hash)
        self._accounts[address] = info
        if not _empty(info):
            self._insert_account(address, info)
            for slot, value in self._reader.storage_items(address).items():
                self._insert_slot(address, slot, value)
        return info

    def _load_new(self, asked: list[bytes]) -> bool:
        """Load the accounts revm asked the cache for that it had not been given; True if
        one of them exists, so the run saw a wrong (empty) account."""
        wrong = False
        for address in asked:
            if address not in self._accounts:
                wrong |= not _empty(self._account(address))
        return wrong

    def _insert_account(self, address: bytes, info: _Info | None) -> None:
        nonce, balance, code_hash = info or (0, 0, EMPTY_CODE_HASH)
        if code_hash == EMPTY_CODE_HASH or code_hash in self._codes:
            account = _AccountInfo(balance=balance, nonce=nonce, code_hash=code_hash)
        else:
            assert self._reader is not None
            code = self._reader.code(code_hash)
            if code_hash not in self._opcodes:
                self._opcodes[code_hash] = opcodes_in(code)
            self._codes.add(code_hash)
            self._code_sizes[code_hash] = len(code)
            account = _AccountInfo(balance=balance, nonce=nonce, code=code)
        self._evm.insert_account_info(_hex(address), account)

    def _insert_slot(self, address: bytes, slot: int, value: int) -> None:
        # A cold account's slot goes into the cache, which then loads the account into the
        # journal: the snapshot/revert around it keeps it cold for the next transaction.
        # The coinbase stays warm in revm's journal: its slots would go there, and be lost.
        assert self._setup is not None
        if address == self._setup[2]:
            raise UnsupportedByEngine("a coinbase with storage")
        evm = self._evm
        checkpoint = evm.snapshot()
        evm.insert_account_storage(_hex(address), slot, value)
        evm.revert(checkpoint)

    def _check_run(
        self,
        tx: Transaction,
        loaded: dict[bytes, LoadedAccount],
        asked: list[bytes],
        price: int,
    ) -> None:
        """Refuse a run that did what revm 8 does otherwise than py-evm's Prague: call a
        BLS precompile, execute BLOCKHASH, or read GASPRICE at a non-zero price."""
        reached = [address for address in asked if address in _BLS_PRECOMPILES]
        if reached:
            raise UnsupportedByEngine(f"a call reached the BLS precompile {_hex(reached[0])}")
        ops: set[int] = set(opcodes_in(tx.data)) if not tx.to else set()
        for address in asked:
            info = self._accounts.get(address)
            if info is not None:
                ops |= self._opcodes.get(info[2], frozenset())
        for account in loaded.values():
            if account.created and account.code_hash not in self._opcodes:
                code = account.code()
                if code is not None:
                    self._opcodes[account.code_hash] = opcodes_in(code)
            ops |= self._opcodes.get(account.code_hash, frozenset())
        if price and _GASPRICE in ops:
            raise UnsupportedByEngine("GASPRICE at a non-zero gas price (revm runs at 0)")
        # A 0x40 byte outside PUSH data may be data (contract metadata, the runtime inside
        # initcode): whether BLOCKHASH ran shows in the cache's block hashes (costly to
        # read, the whole cache is printed). It stays there: the cache is dropped.
        if _BLOCKHASH in ops and _asked_block_hashes(self._evm):
            self._evm, self._setup = None, None
            raise UnsupportedByEngine("BLOCKHASH: pyrevm cannot be given the chain's hashes")

    def _apply(self, block: _Block, loaded: dict[bytes, LoadedAccount]) -> None:
        """Write what the transaction changed into the cache (EIP-161: a touched account
        left empty is deleted; a self-destructed one is deleted with its storage)."""
        for address, account in loaded.items():
            info: _Info | None = (account.nonce, account.balance, account.code_hash)
            if account.destroyed:
                info = None
            elif _empty(info) and (account.touched or self._accounts[address] is None):
                info = None
            if info != self._accounts[address]:
                code = None
                if info is not None and account.created and info[2] != EMPTY_CODE_HASH:
                    code = block.codes.get(info[2]) or account.code()
                    if code is None or keccak(code) != info[2]:
                        raise EngineError(f"revm's code of {_hex(address)} is unreadable")
                    block.codes[info[2]] = code
                    self._opcodes.setdefault(info[2], opcodes_in(code))
                self._write_account(block, address, info, code=code)
            if info is None:
                continue
            for slot, (original, present) in account.storage.items():
                if present != original:
                    self._write_slot(block, address, slot, original, present)

    def _write_account(
        self, block: _Block, address: bytes, info: _Info | None, *, code: bytes | None = None
    ) -> None:
        block.accounts.setdefault(address, self._accounts[address])
        self._accounts[address] = info
        if code is None or info is None:
            self._insert_account(address, info)
        else:
            nonce, balance, code_hash = info
            self._codes.add(code_hash)
            self._code_sizes[code_hash] = len(code)
            self._evm.insert_account_info(
                _hex(address), _AccountInfo(balance=balance, nonce=nonce, code=code)
            )

    def _write_slot(
        self, block: _Block, address: bytes, slot: int, original: int, value: int
    ) -> None:
        block.slots.setdefault(address, {}).setdefault(slot, [original, value])[1] = value
        self._insert_slot(address, slot, value)

    def _changes(self, block: _Block) -> StateChanges:
        accounts: dict[bytes, AccountChange | None] = {}
        for address in block.accounts.keys() | block.slots.keys():
            info = self._accounts[address]
            before = block.accounts.get(address, info)
            slots = {
                keccak(slot.to_bytes(32, "big")): now
                for slot, (old, now) in block.slots.get(address, {}).items()
                if now != old
            }
            if info is None:
                if before is not None:
                    accounts[keccak(address)] = None
            elif info != before or slots:
                nonce, balance, code_hash = info
                accounts[keccak(address)] = AccountChange(nonce, balance, code_hash, slots)
        return StateChanges(accounts=accounts, codes=dict(block.codes))


def genesis_preimages(spec: Any) -> list[int]:
    """The slots the genesis constructors write (`node.evm.GenesisSpec`), found by running
    them in revm, for `write_preimages` beside a genesis py-evm wrote."""
    evm = pyrevm.EVM(
        env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=spec.chain_id)),
        gas_limit=spec.gas_limit,
        spec_id=REVM_SPEC,
    )
    for name, initcode in spec.deployments:
        try:
            evm.deploy(_hex(spec.deployer), initcode, gas=spec.gas_limit)
        except RuntimeError as exc:
            raise EngineError(f"genesis: constructor of {name} failed on revm: {exc}") from exc
    return [slot for account in loaded_state(evm.journal_str).values() for slot in account.storage]


def _asked_block_hashes(evm: Any) -> bool:
    """Whether revm asked its cache for a block hash (its `Debug` shows `block_hashes`)."""
    text = str(evm)
    at = text.rfind("block_hashes: {")
    if at < 0:
        raise EngineError("pyrevm's EVM does not show its cache's block hashes")
    return text[at + len("block_hashes: {")] != "}"


def _validate(tx: Transaction, env: BlockEnv, *, price: int, nonce: int, balance: int) -> None:
    """py-evm's checks of a transaction against the state, in its order and words."""
    if tx.max_fee < env.base_fee:
        raise _Invalid(
            f"Sender's max fee per gas ({tx.max_fee}) is lower than block's base fee per gas "
            f"({env.base_fee})"
        )
    gas_cost = tx.gas * price
    if balance < gas_cost:
        raise _Invalid(
            f"Sender {tx.sender!r} cannot afford txn gas {gas_cost} with account balance {balance}"
        )
    if balance < tx.value + gas_cost:
        raise _Invalid(
            "Sender does not have enough balance to cover transaction value and gas "
            f" (has {balance}, needs {tx.value + gas_cost})"
        )
    if nonce != tx.nonce:
        raise _Invalid(f"Invalid transaction nonce: Expected {nonce}, but got {tx.nonce}")
    if balance < tx.gas * tx.max_fee:
        raise _Invalid("Sender has insufficient funds for blob fee.")


def _create_address(sender: bytes, nonce: int) -> bytes:
    from medledger.node.config import create_address

    return create_address(sender, nonce)


def _log(log: Any) -> Log:
    topics, data = log.data
    return Log(bytes.fromhex(log.address[2:]), tuple(bytes(t) for t in topics), bytes(data))


def _or(blooms: Any) -> int:
    total = 0
    for bloom in blooms:
        total |= bloom
    return total
