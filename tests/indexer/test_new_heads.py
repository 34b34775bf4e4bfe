"""The indexer woken by the node's newHeads subscription (`indexer.source.NewHeads`): with
a poll interval of a minute it still indexes a new block at once; without the socket it
polls, and it reconnects when the node comes (back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from medledger.indexer.config import Settings
from medledger.indexer.follower import Indexer
from medledger.indexer.source import NewHeads, Web3LogSource
from medledger.node.app import Node
from medledger.node.config import NodeConfig, demo_genesis
from tests.node.conftest import deployment_of, free_port, spawn_node
from tests.node.test_ws import admit


@pytest.fixture
def follow(tmp_path: Path) -> Iterator[Callable[..., Indexer]]:
    """Run an indexer of `url` in a thread until the test ends."""
    stops: list[Callable[[], None]] = []

    def _follow(url: str, config: NodeConfig, *, poll: float, heads: NewHeads | None) -> Indexer:
        settings = Settings(f"sqlite:///{tmp_path / 'index.db'}", poll_interval=poll)
        indexer = Indexer(settings, Web3LogSource.from_url(url), deployment_of(config))
        indexer.__enter__()
        stopping = threading.Event()
        thread = threading.Thread(
            target=indexer.run, kwargs={"stop": stopping.is_set, "heads": heads}, daemon=True
        )
        thread.start()

        def stop() -> None:
            stopping.set()
            if heads is not None:
                heads.stop()
            thread.join(timeout=120)
            indexer.__exit__()

        stops.append(stop)
        return indexer

    yield _follow
    for stop in stops:
        stop()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def indexed_to(indexer: Indexer) -> int:
    cursor = indexer.cursor()
    return -1 if cursor is None else cursor[0]


def test_a_new_block_is_indexed_on_its_announcement_not_the_next_poll(tmp_path, follow):
    config = demo_genesis()
    genesis = tmp_path / "genesis.json"
    config.save(genesis)
    ws_port = free_port()
    node = spawn_node(tmp_path / "node", genesis, extra=("--ws-port", str(ws_port)))
    try:
        heads = NewHeads(f"ws://127.0.0.1:{ws_port}").start()
        indexer = follow(node.url, config, poll=60.0, heads=heads)
        assert heads.connected.wait(30)
        assert wait_for(lambda: indexed_to(indexer) == 0, 30)  # caught up: now it waits
        number = int(admit(node.url, config)["blockNumber"], 16)
        # a poll would come after 60 s; the announcement wakes it at once
        assert wait_for(lambda: indexed_to(indexer) >= number, 30)
    finally:
        node.stop()


def test_without_the_socket_it_polls_and_it_reconnects_when_the_node_is_back(tmp_path, follow):
    ws_port = free_port()
    heads = NewHeads(f"ws://127.0.0.1:{ws_port}", min_backoff=0.05, max_backoff=0.2).start()
    config = replace(demo_genesis(), data_dir=tmp_path / "node", rpc_port=free_port())

    def start() -> Node:
        node = Node(replace(config, ws_port=ws_port))
        node.start()
        return node

    node = Node(config)  # no WebSocket yet: the indexer polls
    node.start()
    try:
        indexer = follow(node.url, config, poll=0.2, heads=heads)
        number = int(admit(node.url, config)["blockNumber"], 16)
        assert wait_for(lambda: indexed_to(indexer) >= number, 30)
        assert not heads.connected.is_set()
        node.stop()
        node = start()
        assert heads.connected.wait(30)
        node.stop()
        assert wait_for(lambda: not heads.connected.is_set(), 30)
        node = start()
        assert heads.connected.wait(30)
        number = int(admit(node.url, config)["blockNumber"], 16)
        assert wait_for(lambda: indexed_to(indexer) >= number, 30)
    finally:
        node.stop()


def test_the_endpoints_are_checked_before_anything_runs(tmp_path):
    from medledger.indexer.errors import ConfigError
    from medledger.indexer.runner import run_indexer

    settings = Settings(f"sqlite:///{tmp_path / 'index.db'}")
    deployment = deployment_of(demo_genesis())
    with pytest.raises(ConfigError, match="give ws://127.0.0.1:8546 as --ws next to it"):
        run_indexer(
            settings, rpc_url="ws://127.0.0.1:8546", deployment=deployment, once=True, echo=print
        )
    with pytest.raises(ConfigError, match="--ws must be a ws:// or wss:// URL"):
        run_indexer(
            settings,
            rpc_url="http://127.0.0.1:8545",
            deployment=deployment,
            once=True,
            echo=print,
            ws_url="http://127.0.0.1:8546",
        )
    assert not (tmp_path / "index.db").exists()


def test_medledger_indexer_with_ws_is_woken_by_the_node(tmp_path):
    import subprocess
    import sys

    from tests.node.conftest import REPO

    config = demo_genesis()
    genesis = tmp_path / "genesis.json"
    config.save(genesis)
    deployment = tmp_path / "deployment.json"
    deployment_of(config).save(deployment)
    ws_port = free_port()
    node = spawn_node(tmp_path / "node", genesis, extra=("--ws-port", str(ws_port)))
    args = [
        sys.executable, "-m", "medledger.cli", "indexer", "--rpc", node.url,
        "--ws", f"ws://127.0.0.1:{ws_port}", "--deployment", str(deployment),
        "--db", f"sqlite:///{tmp_path / 'index.db'}", "--poll-interval", "60",
    ]  # fmt: skip
    indexer = subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(indexer.stdout or []), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: any("indexed blocks 0-0" in line for line in lines), 60), lines
        assert any("woken by new heads" in line for line in lines)
        number = int(admit(node.url, config)["blockNumber"], 16)
        indexed = f"indexed blocks {number}-{number}"
        assert wait_for(lambda: any(indexed in line for line in lines), 30), lines
    finally:
        indexer.terminate()
        indexer.wait(30)
        reader.join(10)
        if indexer.stdout is not None:
            indexer.stdout.close()
        node.stop()
    assert indexer.returncode == 0, lines
