"""Fixtures for node tests: a genesis file, nodes as subprocesses or in-process, and
helpers to sign and send raw transactions over real HTTP.

`MEDLEDGER_NODE_ENGINE` (revm, the default, or pyevm) is the engine of every node these
fixtures start (`node_config`, `spawn_node`, `inprocess`): the suite runs on either."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from medledger.node import engine_blocks, evm
from medledger.node.app import Node
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig, demo_genesis
from medledger.node.engine import write_preimages
from medledger.node.engine_revm import RevmExecutor, genesis_preimages
from medledger.node.store import LmdbStore
from medledger.node.ws import WsLimits
from medledger.sdk.deploy import Deployment

REPO = Path(__file__).resolve().parents[2]
ENGINE = os.environ.get("MEDLEDGER_NODE_ENGINE", "revm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProcess:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


def spawn_node(
    data_dir: Path,
    genesis: Path,
    *,
    follow: str | None = None,
    extra: tuple[str, ...] = (),
    port: int | None = None,
    wait: bool = True,
) -> NodeProcess:
    port = port or free_port()
    args = [
        sys.executable, "-m", "medledger.cli", "node",
        "--data-dir", str(data_dir), "--genesis", str(genesis), "--rpc-port", str(port),
        *extra,
    ]  # fmt: skip
    if "--engine" not in extra:
        args += ["--engine", ENGINE]
    if follow:
        args += ["--follow", follow]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    node = NodeProcess(proc, f"http://127.0.0.1:{port}", data_dir, log)
    if wait:
        wait_ready(node)
    return node


def wait_ready(node: NodeProcess, timeout: float = 60.0) -> None:
    client = RpcClient(node.url, timeout=2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise RuntimeError(f"node exited with {node.proc.returncode}: {node.log.read_text()}")
        try:
            client.call("eth_chainId")
            client.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"node at {node.url} did not come up: {node.log.read_text()}")


@dataclass(frozen=True)
class BuiltOn:
    """A block as the differential tests compare it: its hash (every header field, so the
    state, transactions and receipts roots too), its receipts as the receipt trie holds
    them, and how many transactions were dropped."""

    hash: bytes
    receipts: list[bytes]
    dropped: int


def build_on(engine: str, path: Path, spec: evm.GenesisSpec, raws: list[str]) -> BuiltOn:
    """One block of the signed transactions `raws` on a fresh genesis `spec`, in a store at
    `path`, executed by `engine`: "revm" as the chain runs it (`node.engine_blocks` over a
    `RevmExecutor`, the genesis' slot preimages stored), "pyevm" by `node.evm`."""
    store = LmdbStore(path)
    buffer = store.write_buffer()
    try:
        genesis, _ = evm.init_genesis(buffer, spec)
        txs = [evm.decode_transaction(bytes.fromhex(raw.removeprefix("0x"))) for raw in raws]
        options: dict[str, Any] = {
            "chain_id": spec.chain_id,
            "coinbase": bytes(20),
            "timestamp": spec.timestamp + 10,
            "gas_limit": spec.gas_limit,
        }
        if engine == "revm":
            write_preimages(buffer, genesis_preimages(spec))
            block = engine_blocks.build(buffer, RevmExecutor(), genesis, txs, **options)
            receipts = [receipt.encode() for receipt in block.result.receipts]
            return BuiltOn(block.hash, receipts, len(block.result.dropped))
        built = evm.build_block(buffer, genesis, txs, **options)
        return BuiltOn(built.hash, [r.encode() for r in built.receipts], len(built.dropped))
    finally:
        buffer.close()
        store.close()


@pytest.fixture(scope="session")
def node_config() -> NodeConfig:
    return replace(demo_genesis(), engine=ENGINE)


@pytest.fixture(scope="session")
def genesis_file(tmp_path_factory: pytest.TempPathFactory, node_config: NodeConfig) -> Path:
    path = tmp_path_factory.mktemp("genesis") / "genesis.json"
    node_config.save(path)
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    started: list[NodeProcess] = []

    def _spawn(name: str, genesis: Path, **kwargs: Any) -> NodeProcess:
        node = spawn_node(tmp_path / name, genesis, **kwargs)
        started.append(node)
        return node

    yield _spawn
    for node in started:
        node.stop()


@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Start nodes inside the test process (real store, real HTTP on a free port)."""
    started: list[Node] = []

    def _start(
        config: NodeConfig, name: str = "node", *, ws_limits: WsLimits | None = None, **runtime: Any
    ) -> Node:
        config = replace(config, data_dir=tmp_path / name, rpc_port=0, **runtime)
        node = Node(config, ws_limits=ws_limits)
        node.start()
        started.append(node)
        return node

    yield _start
    for node in reversed(started):
        node.stop()


def deployment_of(config: NodeConfig) -> Deployment:
    return Deployment(
        chain_id=config.chain_id,
        partners=config.contract_address("Partners"),
        devices=config.contract_address("Devices"),
        items=config.contract_address("Items"),
        records=config.contract_address("Records"),
    )


def admin_account(config: NodeConfig) -> LocalAccount:
    assert config.demo_admin_key
    account: LocalAccount = Account.from_key(config.demo_admin_key)
    return account


def sign(account: LocalAccount, config: NodeConfig, **fields: Any) -> str:
    tx = {
        "chainId": config.chain_id,
        "gas": 200_000,
        "gasPrice": 0,
        "to": account.address,
        "value": 0,
        "data": b"",
        **fields,
    }
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def wait_receipt(client: RpcClient, tx_hash: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = client.call("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return dict(receipt)
        time.sleep(0.02)
    raise TimeoutError(f"no receipt for {tx_hash}")


CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_lifecycle(url: str, config: NodeConfig) -> None:
    """The whole custody lifecycle through the SDK (members, commission, pallets, ship,
    receive, dispense, recall, an adverse event, lots: `_lots`) and two failing
    transactions (a custom error's revert, an out-of-gas). The HTTP session is closed at
    the end (a socket left to the garbage collector is a ResourceWarning in whichever test
    runs then)."""
    import requests

    session = requests.Session()
    try:
        _lifecycle(Web3(Web3.HTTPProvider(url, session=session)), url, config)
    finally:
        session.close()


def _lots(c: Any) -> None:
    """A lot-tracked consumable (ops.demo's lot history in small): a product, its lot and
    a case level registered, quantities commissioned and packed into cases, a case packed
    on a pallet, a case, the pallet and loose quantities shipped, part of them rejected on
    receipt, the pallet and the cases opened, quantities used, the lot recalled and the
    recall closed."""
    from medledger.sdk.gs1 import make_sscc
    from medledger.sdk.messages import LotQuantity, sorted_lots
    from tests.lot_products import register_gauze

    m, h = c.manufacturer, c.hospital
    gauze = register_gauze(c, int(time.time()))
    m.commission_lot(gauze.lot_key, 100)
    cases = m.pack_cases(gauze.case_gtin, gauze.lot, ["GC0001", "GC0002"]).value
    sscc = make_sscc(extension=2, company_prefix=c.prefix, serial_reference=43)
    pallet = m.create_container(sscc, company_prefix=c.prefix).value
    m.pack(pallet, [cases[1]])  # a pallet holding a case
    loose = sorted_lots([LotQuantity(gauze.lot_key, 30)])
    shipment = m.ship(h.address, [cases[0], pallet], lots=loose).value
    rejected = sorted_lots([LotQuantity(gauze.lot_key, 5)])
    inspection = keccak(text="inbound inspection")
    h.receive(
        shipment, temp_min=40, temp_max=60, rejected_lots=rejected, inspection_hash=inspection
    )
    h.unpack(pallet)
    h.unpack_cases([cases[0], cases[1]])
    used = sorted_lots([LotQuantity(gauze.lot_key, 12)])
    h.dispense_lots(used, record_hash=keccak(text="ward 5"))
    recall = m.recall_lot(gauze.lot_key, level=1, reason_hash=keccak(text="lint")).value
    m.close_recall(recall, outcome_hash=keccak(text="closed"))


def _lifecycle(w3: Web3, url: str, config: NodeConfig) -> None:
    from medledger.ops.demo.consortium import bootstrap_consortium
    from medledger.sdk.gs1 import make_sscc
    from medledger.sdk.ledger import Ledger
    from medledger.sdk.model import Role

    admin = Ledger(w3, deployment_of(config), admin_account(config))
    accounts = [admin.account] + [Account.create() for _ in range(6)]
    admin.admit(accounts[1].address, Role.REGULATOR, "NMPA")
    for account in accounts[2:]:
        admin.as_member(accounts[1]).admit(account.address, Role.DISTRIBUTOR, "member")
    c = bootstrap_consortium(w3, accounts, now=int(time.time()))
    m, d, h = c.manufacturer, c.distributor, c.hospital
    ids = m.commission(c.lot_key, [f"SN-ENGINE-{i}" for i in range(6)]).value
    sscc = make_sscc(extension=1, company_prefix=c.prefix, serial_reference=42)
    pallet = m.create_container(sscc, company_prefix=c.prefix).value
    m.pack(pallet, ids[:4])
    shipment = m.ship(d.address, [pallet, ids[4]]).value
    d.receive(shipment, temp_min=52, temp_max=79)
    d.unpack(pallet)
    onward = d.ship(h.address, ids[:2]).value
    h.receive(onward, temp_min=52, temp_max=79)
    h.dispense([ids[0]])
    m.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="sterility"))
    h.report_adverse_event(ids[0], severity=2, report_hash=keccak(text="report"))
    _lots(c)
    # on-chain failures: a custom-error revert and an out-of-gas, by raw transactions
    client = RpcClient(url)
    items = m._c["Items"]
    data = items.encode_abi("dispense", [[ids[5]], b"\x00" * 32])  # hospital does not hold it
    nonce = int(client.call("eth_getTransactionCount", h.address, "pending"), 16)
    last = ""
    for offset, gas in enumerate((300_000, 25_000)):
        raw = sign(h.account, config, nonce=nonce + offset, to=items.address, data=data, gas=gas)
        last = client.call("eth_sendRawTransaction", raw)
    assert wait_receipt(client, last)["status"] == "0x0"
    client.close()
