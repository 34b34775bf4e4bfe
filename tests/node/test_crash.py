"""Crash safety: SIGKILL the sequencer at random moments under load, restart it, and check
that every receipted transaction survived, that a replay of the chain reaches the same head
state root, and that the node serves again without repair. 20 kills under CI=true."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from pathlib import Path

from eth_account import Account
from web3 import Web3

from medledger.node.chain import Chain
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.follower import Follower
from medledger.sdk.compiler import load_artifacts
from tests.node.conftest import CI, admin_account, free_port, sign, spawn_node, wait_receipt

KILLS = 20 if CI else 4


class Load(threading.Thread):
    """Sends Partners.admit transactions from the bootstrap admin until stopped or the node
    dies; records every receipt it saw (tx hash -> block hash)."""

    def __init__(self, url: str, config: NodeConfig, receipted: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.client = RpcClient(url, timeout=5)
        self.config = config
        self.receipted = receipted
        self.stop = threading.Event()
        self.admin = admin_account(config)
        abi = load_artifacts()["Partners"].abi
        self.partners = Web3().eth.contract(address=config.contract_address("Partners"), abi=abi)

    def run(self) -> None:
        try:
            nonce = int(
                self.client.call("eth_getTransactionCount", self.admin.address, "pending"), 16
            )
            outstanding: list[str] = []
            while not self.stop.is_set():
                raws = []
                for i in range(10):
                    data = self.partners.encode_abi(
                        "admit", [Account.create().address, 1, f"crash-{nonce + i}"]
                    )
                    raws.append(
                        sign(
                            self.admin, self.config, nonce=nonce + i, to=self.partners.address,
                            data=data, gas=300_000,
                        )
                    )  # fmt: skip
                outstanding += self.client.batch([("eth_sendRawTransaction", [r]) for r in raws])
                nonce += len(raws)
                answers = self.client.batch(
                    [("eth_getTransactionReceipt", [h]) for h in outstanding]
                )
                for h, receipt in zip(outstanding, answers, strict=True):
                    if isinstance(receipt, dict):
                        assert receipt["status"] == "0x1"
                        self.receipted[h] = receipt["blockHash"]
                outstanding = [h for h in outstanding if h not in self.receipted]
                time.sleep(0.02)
        except OSError:
            return  # the node was killed
        finally:
            self.client.close()


def test_the_sequencer_survives_sigkill_under_load(
    tmp_path: Path, genesis_file: Path, node_config: NodeConfig
) -> None:
    port = free_port()
    data_dir = tmp_path / "seq"
    rng = random.Random(7)
    receipted: dict[str, str] = {}
    node = spawn_node(data_dir, genesis_file, port=port)
    try:
        for _ in range(KILLS):
            load = Load(node.url, node_config, receipted)
            load.start()
            time.sleep(rng.uniform(0.3, 1.2))
            node.kill()
            load.stop.set()
            load.join(timeout=30)
            node = spawn_node(data_dir, genesis_file, port=port)
            client = RpcClient(node.url)
            missing = []
            hashes = list(receipted)
            for i in range(0, len(hashes), 200):
                chunk = hashes[i : i + 200]
                answers = client.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
                for h, receipt in zip(chunk, answers, strict=True):
                    if not isinstance(receipt, dict) or receipt["blockHash"] != receipted[h]:
                        missing.append(h)
            assert missing == [], f"{len(missing)} receipted transactions were lost"
            client.close()
        assert len(receipted) > KILLS * 10, "the load generator barely ran"

        # the node serves again: a new transaction gets a receipt
        client = RpcClient(node.url)
        admin = admin_account(node_config)
        nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
        tx_hash = client.call("eth_sendRawTransaction", sign(admin, node_config, nonce=nonce))
        assert wait_receipt(client, tx_hash)["status"] == "0x1"
        head = client.call("eth_getBlockByNumber", "latest", False)

        # a replay of the whole chain from genesis reaches the same head state root
        replay = Chain(replace(node_config, data_dir=tmp_path / "replay"))
        follower = Follower(replay, node.url)
        while replay.head_number < int(head["number"], 16):
            assert follower.step() or follower.divergence is None
            assert follower.divergence is None, follower.divergence
        with replay.snapshot() as snap:
            from medledger.node import evm_reads

            ours = evm_reads.header_by_number(snap, int(head["number"], 16))
        assert "0x" + ours.state_root.hex() == head["stateRoot"]
        assert "0x" + ours.hash.hex() == head["hash"]
        follower.close()
        replay.close()
        client.close()
    finally:
        node.stop()
