"""CPU time of block execution alone, in-process: `python -m node.bench_exec`.

Starts a node in this process, sets up the benchmark consortium over its RPC (as
`medledger bench chain` does), pre-signs ship transactions, stops the block loop and then
builds blocks of them directly with `node.evm.build_block` on the chain's write buffer,
discarding each (nothing is committed), so the same transactions can be executed again and
again. Figures are `time.process_time` per transaction, which other processes' load
disturbs far less than wall-clock time. `--reference` A/B-alternates our VM with py-evm's
own loop; `--profile` prints a cProfile of the single-item blocks.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from eth_account import Account
from eth_utils import keccak
from medledger.node.bench import Harness, _free_port

from medledger.node import evm
from medledger.node.app import Node
from medledger.node.config import demo_genesis

__all__ = ["main"]


def _decode(raws: Sequence[str]) -> list[evm.DecodedTx]:
    return [evm.decode_transaction(bytes.fromhex(r[2:])) for r in raws]


def _cpu_per_tx(
    node: Node, txs: Sequence[evm.DecodedTx], *, reference: bool
) -> tuple[float, bytes]:
    """CPU seconds per transaction to build one block of `txs` on the head, and its hash."""
    chain = node.chain
    buffer = chain._buffer
    started = time.process_time()
    built = evm.build_block(
        buffer,
        chain.head_hash,
        txs,
        chain_id=chain.chain_id,
        coinbase=bytes(20),
        timestamp=chain.head_timestamp + 1,
        gas_limit=chain.config.block_gas_limit,
        reference=reference,
    )
    seconds = time.process_time() - started
    buffer.discard()
    failed = sum(1 for r in built.receipts if not r.state_root == b"\x01")
    if failed or len(built.receipts) != len(txs):
        raise RuntimeError(f"{failed} of {len(txs)} benchmark transactions failed")
    return seconds / len(txs), built.hash


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="A/B against py-evm's loop")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    admin = Account.from_key(keccak(text="medledger bench admin"))
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-exec-"))
    config = replace(
        demo_genesis(bootstrap_admin=admin.address),
        data_dir=workdir,
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
        multi = harness.commission(500, "M")
        pallets = harness.pallets(5, 100)
        case_pallets = harness.case_pallets(5, 8, 50)
        workloads = {
            "single-item": (_decode(harness.sign_ships([[i] for i in singles])), 1),
            "100-item": (_decode(harness.sign_ships([multi[i::5] for i in range(5)])), 100),
            "pallet of 100": (_decode(harness.sign_ships([[p] for p in pallets])), 100),
            "pallet of 8x50": (_decode(harness.sign_ships([[p] for p in case_pallets])), 400),
        }
        assert node.sequencer is not None
        node.sequencer.stop()
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            _cpu_per_tx(node, workloads["single-item"][0], reference=False)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(
                __import__("os").environ.get("SORT", "tottime")
            ).print_stats(60)
        variants = [False, True] if args.reference else [False]
        for name, (txs, moves) in workloads.items():
            hashes: set[bytes] = set()
            for reference in variants:
                runs = [_cpu_per_tx(node, txs, reference=reference) for _ in range(args.rounds)]
                hashes.update(block_hash for _, block_hash in runs)
                best = min(seconds for seconds, _ in runs)
                label = "py-evm loop" if reference else "our VM"
                print(
                    f"{name:>14} {label:>11}: {best * 1000:7.2f} ms CPU per tx, "
                    f"{1 / best:8.1f} tx/s, {moves / best:9.0f} item-moves/s"
                )
            if len(hashes) != 1:
                raise RuntimeError(f"{name}: the variants built different blocks: {hashes}")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
