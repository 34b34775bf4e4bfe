"""`import node` leaves rlp, py-trie, eth-hash and py-evm alone; the node installs its speed-ups
when it starts a chain (in a fresh interpreter, since this one has started chains)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from dataclasses import replace
from pathlib import Path

import rlp.codec
import trie.hexary
from eth_hash.auto import keccak

import eth.vm.base

import medledger.node, medledger.node.app, medledger.node.chain
from medledger.node import evm_tries, speedups

def patched():
    return {
        "rlp": rlp.codec.encode_raw is speedups.encode_raw,
        "trie": trie.hexary.decode_node is speedups.decode_node,
        "keccak": "pysha3" in getattr(keccak.hasher, "__module__", ""),
        "py-evm tries": eth.vm.base.make_trie_root_and_nodes is evm_tries.make_trie_root_and_nodes,
    }

print(sorted(k for k, v in patched().items() if v))
from medledger.node.config import demo_genesis
medledger.node.chain.Chain(replace(demo_genesis(), data_dir=Path(sys.argv[1]))).close()
print(sorted(k for k, v in patched().items() if v))
"""


def test_importing_the_node_patches_nothing_and_starting_a_chain_installs_all(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "chain")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['keccak', 'py-evm tries', 'rlp', 'trie']"]
