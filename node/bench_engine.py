"""Single-item custody transactions per second through each `BlockExecutor`:
`python -m node.bench_engine`.

Starts a node (py-evm) in this process, sets up the benchmark consortium over its RPC (as
`medledger bench chain` does), commissions items and pre-signs one ship transaction per
item, then stops the block loop. The chain made so far is replayed with revm into a store
of its own (the revm engine needs the slot preimages its own commits store; every header
root is checked on the way). Then each engine executes the ships in blocks of `--block`,
committing each block (into its write buffer, never to disk), as a sequencer would: revm,
py-evm with the node's opcode loop, and (with `--reference`) py-evm's own loop. Figures are
`time.process_time`; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import rlp
from eth.vm.forks.prague.blocks import PragueBlock
from eth_account import Account
from eth_utils import keccak
from medledger.node.bench import Harness, _free_port

from medledger.node import evm, evm_reads
from medledger.node.app import Node
from medledger.node.chain import Chain, genesis_spec
from medledger.node.config import demo_genesis
from medledger.node.engine import BlockEnv, BlockExecutor, Transaction, TrieState, write_preimages
from medledger.node.engine_pyevm import PyEvmExecutor
from medledger.node.engine_revm import RevmExecutor, genesis_preimages
from medledger.node.store import LmdbStore

__all__ = ["main"]


def _replay(chain: Chain, store: LmdbStore, engine: RevmExecutor) -> tuple[bytes, int]:
    """Execute the chain's blocks 1..head with `engine` into `store`; the head's state
    root. Raises if any header root differs."""
    buffer = store.write_buffer()
    spec = genesis_spec(chain.config)
    evm.init_genesis(buffer, spec)
    write_preimages(buffer, genesis_preimages(spec))
    with chain.snapshot() as snap:
        genesis = evm_reads.header_by_number(snap, 0)
        assert genesis is not None
        root = genesis.state_root
        for number in range(1, chain.head_number + 1):
            header = evm_reads.header_by_number(snap, number)
            assert header is not None
            block: Any = rlp.decode(evm_reads.raw_block(snap, header), sedes=PragueBlock)
            txs = [
                Transaction.of(evm.check_transaction(tx, tx.encode())) for tx in block.transactions
            ]
            result = engine.execute_block(
                TrieState(buffer, root), BlockEnv.of_header(header, chain_id=chain.chain_id), txs
            )
            root = engine.commit(buffer, root, result)
            if root != header.state_root:
                raise RuntimeError(f"revm replay: block {number} has another state root")
    buffer.commit()
    buffer.close()
    return root, chain.head_number


def _run(
    engine: BlockExecutor, db: Any, root: bytes, chain: Chain, blocks: Sequence[list[Transaction]]
) -> tuple[float, bytes]:
    """CPU seconds to execute and commit `blocks` in sequence on the head; the final root."""
    with chain.snapshot() as snap:
        head = evm_reads.header_by_hash(snap, chain.head_hash)
    assert head is not None
    env = replace(BlockEnv.of_header(head, chain_id=chain.chain_id), parent_hash=head.hash)
    started = time.process_time()
    for txs in blocks:
        env = replace(env, number=env.number + 1, timestamp=env.timestamp + 1)
        result = engine.execute_block(TrieState(db, root), env, txs)
        if len(result.receipts) != len(txs) or not all(r.success for r in result.receipts):
            raise RuntimeError(f"a benchmark transaction failed on {type(engine).__name__}")
        root = engine.commit(db, root, result)
        # py-evm finds the next block's parent by its hash; revm needs none
        if isinstance(engine, PyEvmExecutor):
            env = replace(env, parent_hash=bytes(engine.last_header.hash))
    return time.process_time() - started, root


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--block", type=int, default=250, help="transactions per block")
    parser.add_argument("--reference", action="store_true", help="also py-evm's own loop")
    args = parser.parse_args(argv)
    admin = Account.from_key(keccak(text="medledger bench admin"))
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-engine-"))
    config = replace(
        demo_genesis(bootstrap_admin=admin.address),
        data_dir=workdir / "node",
        rpc_port=_free_port(),
        block_interval_ms=20,
    )
    node = Node(config)
    node.start()
    try:
        harness = Harness(node.url, admin, fund=False)
        harness.admit_on_genesis_suite(config)
        harness.bootstrap()
        singles = harness.commission(args.singles, "S")
        raws = harness.sign_ships([[item] for item in singles])
        assert node.sequencer is not None
        node.sequencer.stop()
        chain = node.chain
        txs = [Transaction.of(evm.decode_transaction(bytes.fromhex(r[2:]))) for r in raws]
        blocks = [txs[i : i + args.block] for i in range(0, len(txs), args.block)]
        revm = RevmExecutor()
        replay_store = LmdbStore(workdir / "revm")
        started = time.process_time()
        root, replayed = _replay(chain, replay_store, revm)
        replay_seconds = time.process_time() - started
        engines: list[tuple[str, BlockExecutor, Any]] = [
            ("revm", revm, replay_store.write_buffer()),
            ("py-evm (node loop)", PyEvmExecutor(reference=False), chain._buffer),
        ]
        if args.reference:
            engines.append(("py-evm (own loop)", PyEvmExecutor(reference=True), chain._buffer))
        figures: dict[str, float] = {}
        roots: set[bytes] = set()
        for name, engine, buffer in engines:
            seconds, final = _run(engine, buffer, root, chain, blocks)
            buffer.discard()  # nothing reaches the disk
            figures[name] = len(txs) / seconds
            roots.add(final)
        if len(roots) != 1:
            raise RuntimeError("the engines ended on different state roots")
        for name, rate in figures.items():
            print(f"{name:>24}: {rate:8.0f} single-item custody tx/s (CPU)")
        print(
            json.dumps(
                {
                    "single_item_tx_per_s": {k: round(v) for k, v in figures.items()},
                    "transactions": len(txs),
                    "per_block": args.block,
                    "revm_replay": {"blocks": replayed, "cpu_s": round(replay_seconds, 2)},
                    "revm_reruns": revm.reruns,
                }
            )
        )
        replay_store.close()
    finally:
        node.stop()


if __name__ == "__main__":
    main()
