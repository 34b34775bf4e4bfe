"""The node's chain: the store, the genesis, the head, and committing one block at a time.

Both roles use it. The sequencer calls `produce` (execute once, seal, commit); the
follower calls `verify_and_import` (re-execute, compare, check the seal, commit). Either
way every key of a block goes into one durable LMDB transaction, and the in-memory head
moves only after that commit returns.

The engine (`NodeConfig.engine`): "revm", the default, executes through a `BlockExecutor`
(`node.engine_revm.RevmExecutor`, blocks assembled and stored by `node.engine_blocks`
exactly as py-evm stores them); "pyevm" with `node.evm` (py-evm as it ships, the
reference). revm loads accounts whole, listing their storage by the slot preimages each
commit stores, so it runs on a store that holds every slot's preimage, which
`PREIMAGES_KEY` marks; a block written by py-evm removes the mark. revm opening a store
without the mark (py-evm wrote it, or some of it) executes its blocks once more from the
genesis on, each checked against every header field, to store the preimages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from medledger.node import engine_blocks, evm, evm_reads, records
from medledger.node.config import NodeConfig
from medledger.node.engine import BlockExecutor, Receipt, use_native_keccak, write_preimages
from medledger.node.errors import ConfigError, DivergenceError
from medledger.node.seal import Sealer, verify_seal
from medledger.node.store import LmdbStore, Snapshot

__all__ = ["Chain", "ChainReader", "ChainView", "Committed", "genesis_spec"]

GENESIS_KEY = b"ml:genesis"
PREIMAGES_KEY = b"ml:preimages"  # every slot written has its preimage (`ml:pi` keys)


class ChainView(Protocol):
    """What the RPC and the intake read: the writer's `Chain` or another process's
    `ChainReader`."""

    chain_id: int
    genesis_hash: bytes
    contracts: dict[str, bytes]

    def snapshot(self) -> AbstractContextManager[Snapshot]: ...

    @property
    def head_hash(self) -> bytes: ...

    @property
    def head_number(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Committed:
    number: int
    hash: bytes
    tx_hashes: list[bytes]
    log_addresses: set[str]
    dropped: list[tuple[evm.DecodedTx, str]]
    deferred: list[evm.DecodedTx]


def genesis_spec(
    config: NodeConfig, *, alloc: tuple[tuple[bytes, int], ...] | None = None
) -> evm.GenesisSpec:
    """The genesis a node config describes; `alloc` replaces the config's prefunded accounts."""
    if alloc is None:
        alloc = tuple((bytes.fromhex(a[2:]), int(b, 0)) for a, b in config.alloc.items())
    return evm.GenesisSpec(
        chain_id=config.chain_id,
        gas_limit=config.block_gas_limit,
        timestamp=config.genesis_timestamp,
        deployer=bytes.fromhex(config.deployer[2:]),
        deployments=config.deployments(),
        alloc=alloc,
    )


class Chain:
    def __init__(self, config: NodeConfig) -> None:
        use_native_keccak()
        self.config = config
        self.chain_id = config.chain_id
        self.store = LmdbStore(config.data_dir / "chain")
        self._buffer = self.store.write_buffer()
        self._lock = threading.Lock()
        try:
            self._open(config)
        except BaseException:
            self._buffer.close()  # the store can be opened again in this process
            self.store.close()
            raise

    def _open(self, config: NodeConfig) -> None:
        spec = genesis_spec(config)
        scratch = self.store.snapshot()
        expected, self.contracts = evm.init_genesis(scratch, spec)
        scratch.close()
        self.executor = _executor(config.engine)
        stored = self._buffer.get(GENESIS_KEY)
        if stored is None:
            evm.init_genesis(self._buffer, spec)
            self._buffer[GENESIS_KEY] = expected
            if self.executor is not None:
                from medledger.node.engine_revm import genesis_preimages

                write_preimages(self._buffer, genesis_preimages(spec))
                self._buffer[PREIMAGES_KEY] = b"\x01"
            self._buffer.commit()
        elif stored != expected:
            raise ConfigError(
                f"the store at {config.data_dir} holds a chain with genesis 0x{stored.hex()}, "
                f"but the genesis file gives 0x{expected.hex()}"
            )
        self._check_preimages(spec)
        self.genesis_hash = expected
        with self.snapshot() as snap:
            self.head_hash = evm_reads.head_hash(snap)
            header = evm_reads.header_by_hash(snap, self.head_hash)
            assert header is not None
            self.head_number = int(header.block_number)
            self.head_timestamp = int(header.timestamp)

    def _check_preimages(self, spec: evm.GenesisSpec) -> None:
        marked = self._buffer.get(PREIMAGES_KEY) is not None
        if self.executor is not None and not marked:
            self._replay_for_preimages(self.executor, spec)
        if self.executor is None and marked:
            del self._buffer[PREIMAGES_KEY]  # the blocks py-evm writes store no preimages
            self._buffer.commit()

    def _replay_for_preimages(self, executor: BlockExecutor, spec: evm.GenesisSpec) -> None:
        """Store the slot preimages revm needs in a store py-evm wrote, by executing its
        blocks again from the genesis on with revm; each must match its header in every
        field (nothing else is written: the state nodes are the ones stored already)."""
        from medledger.node.engine_revm import genesis_preimages

        buffer = self._buffer
        write_preimages(buffer, genesis_preimages(spec))
        head = evm_reads.head_number(buffer)
        for number in range(1, head + 1):
            header = evm_reads.header_by_number(buffer, number)
            try:
                engine_blocks.replay(
                    buffer,
                    executor,
                    evm_reads.raw_block(buffer, header),
                    chain_id=self.chain_id,
                    persist=False,
                )
            except DivergenceError as exc:
                buffer.discard()
                raise ConfigError(
                    f"the store at {self.config.data_dir} was written by py-evm, and engine "
                    f"{self.config.engine} does not execute it alike ({exc}); keep "
                    "--engine pyevm, or resync: move the data directory away and start this "
                    "node as a follower (--follow URL) of a node that has the chain"
                ) from exc
            if number % 256 == 0:
                buffer.commit()  # the preimages so far (the mark comes last)
        buffer[PREIMAGES_KEY] = b"\x01"
        buffer.commit()

    def snapshot(self) -> Snapshot:
        """A consistent read view; use it as a context manager, which closes it."""
        return self.store.snapshot()

    def produce(
        self,
        txs: Sequence[evm.DecodedTx],
        *,
        timestamp: int,
        sealer: Sealer,
    ) -> Committed:
        """Execute `txs` in a new block on the head, seal it and commit it durably. The
        intake's lock is not held meanwhile: admission goes on while a block is built and
        written, and the intake settles the batch only after this returns. Transactions
        left once the block's time budget is spent are deferred to the next block."""
        options: dict[str, Any] = {
            "chain_id": self.chain_id,
            "coinbase": bytes.fromhex(sealer.address[2:]),
            "timestamp": timestamp,
            "gas_limit": self.config.block_gas_limit,
            "time_budget": self.config.block_time_budget_ms / 1000,
        }
        with self._lock:
            try:
                if self.executor is not None:
                    block = engine_blocks.build(
                        self._buffer, self.executor, self.head_hash, txs, **options
                    )
                    return self._commit_block(block, sealer.seal(block.hash))
                built = evm.build_block(self._buffer, self.head_hash, txs, **options)
                return self._commit(built, sealer.seal(built.hash))
            except BaseException:
                self._buffer.discard()
                raise

    def verify_and_import(
        self, raw_block: bytes, seal: bytes, *, senders: Sequence[bytes] | None = None
    ) -> Committed:
        """Check the seal of a published block against the authority set, re-execute it,
        and commit it only if every header field matches. Raises `SealError` or
        `DivergenceError` otherwise. `senders`, recovered by the follower's fetcher, saves
        recovering them again."""

        def check_hash(block_hash: bytes) -> None:
            verify_seal(
                seal, block_hash, chain_id=self.chain_id, authorities=self.config.authorities
            )

        options: dict[str, Any] = {
            "chain_id": self.chain_id,
            "check_hash": check_hash,
            "senders": senders,
        }
        with self._lock:
            try:
                if self.executor is not None:
                    block = engine_blocks.replay(self._buffer, self.executor, raw_block, **options)
                    return self._commit_block(block, seal)
                built = evm.import_block(self._buffer, raw_block, **options)
                return self._commit(built, seal)
            except BaseException:
                self._buffer.discard()
                raise

    def _commit(self, built: evm.BuiltBlock, seal: bytes) -> Committed:
        """Records and head of a block py-evm executed (`node.evm`)."""
        return self._write(
            built.header,
            transactions=built.transactions,
            senders=built.senders,
            receipts=evm_reads.engine_receipts(built),
            dropped=built.dropped,
            deferred=built.deferred,
            seal=seal,
        )

    def _commit_block(self, block: engine_blocks.Block, seal: bytes) -> Committed:
        """Records and head of a block a `BlockExecutor` executed."""
        result = block.result
        return self._write(
            block.header,
            transactions=[tx.source.obj for tx in result.transactions],
            senders=[tx.sender for tx in result.transactions],
            receipts=result.receipts,
            dropped=[(tx.source, reason) for tx, reason in result.dropped],
            deferred=[tx.source for tx in result.deferred],
            seal=seal,
        )

    def _write(
        self,
        header: Any,
        *,
        transactions: Sequence[Any],
        senders: Sequence[bytes],
        receipts: Sequence[Receipt],
        dropped: list[tuple[evm.DecodedTx, str]],
        deferred: list[evm.DecodedTx],
        seal: bytes,
    ) -> Committed:
        number, block_hash = int(header.block_number), bytes(header.hash)
        tx_records = evm_reads.transaction_records(
            number=number, block_hash=block_hash, transactions=transactions, senders=senders
        )
        receipt_records = evm_reads.receipt_records(
            number=number,
            block_hash=block_hash,
            transactions=transactions,
            senders=senders,
            receipts=receipts,
        )
        records.write_block(
            self._buffer,
            number=number,
            block_hash=block_hash,
            transactions=tx_records,
            receipts=receipt_records,
            seal=seal,
        )
        committed = Committed(
            number=number,
            hash=block_hash,
            tx_hashes=[bytes(tx.hash) for tx in transactions],
            log_addresses={log["address"] for r in receipt_records for log in r["logs"]},
            dropped=dropped,
            deferred=deferred,
        )
        self._buffer.commit()  # readers, in any process, see the block only from here on
        self.head_hash, self.head_number = block_hash, number
        self.head_timestamp = int(header.timestamp)
        return committed

    def close(self) -> None:
        with self._lock:
            self._buffer.close()
            self.store.close()


def _executor(engine: str) -> BlockExecutor | None:
    """The `BlockExecutor` of `engine`; None for py-evm, which `node.evm` drives itself."""
    if engine == "pyevm":
        return None
    from medledger.node.engine_revm import RevmExecutor

    return RevmExecutor()


class ChainReader:
    """A read-only view of a chain store that another process writes (the RPC front of a
    sequencer). The head is read from the store at each use, never cached."""

    def __init__(
        self, config: NodeConfig, *, genesis_hash: bytes, contracts: dict[str, bytes]
    ) -> None:
        use_native_keccak()
        self.config = config
        self.chain_id = config.chain_id
        self.genesis_hash = genesis_hash
        self.contracts = contracts
        self.store = LmdbStore(config.data_dir / "chain")

    def snapshot(self) -> Snapshot:
        """A consistent read view; use it as a context manager, which closes it."""
        return self.store.snapshot()

    @property
    def head_hash(self) -> bytes:
        with self.snapshot() as snap:
            return evm_reads.head_hash(snap)

    @property
    def head_number(self) -> int:
        with self.snapshot() as snap:
            return evm_reads.head_number(snap)

    def close(self) -> None:
        self.store.close()
