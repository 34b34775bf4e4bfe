"""At least once, in order, across kill -9: the API as a real subprocess (`medledger api
--amqp-url-file`) publishes the event stream of a live chain (custody traffic in a thread,
the indexer writing the outbox) to the machine's RabbitMQ, and is SIGKILLed twice while
events flow, then started again. Consumers in the test (the regulator's keys and one
member's) then hold every event of their stream at least once, in seq order once repeats
are dropped, none lost; repeats are only what was sent between a confirm and the cursor
saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medledger.indexer.db import make_engine
from medledger.indexer.queries.event_feed import audience_addresses
from medledger.indexer.queries.events import last_seq
from medledger.runtime.supervisor import free_port
from tests.api.amqp_env import Inbox, Received, VHost, vhost
from tests.portal.live import LiveChain, live_chain

__all__ = ["vhost"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChain]:
    with live_chain(tmp_path_factory.mktemp("amqp-live")) as chain:
        yield chain


class Api:
    """`medledger api` in its own process, publishing to the broker."""

    def __init__(self, live: LiveChain, url_file: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.argv = [
            sys.executable, "-m", "medledger.cli", "api",
            "--rpc", "http://127.0.0.1:9",  # publishing reads only the read model
            "--db", live.db_url,
            "--deployment", str(live.directory / "deployment.json"),
            "--data-dir", str(data_dir),
            "--port", str(self.port),
            "--amqp-url-file", str(url_file),
            "--no-access-log",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    def start(self) -> None:
        env = {**os.environ, "MEDLEDGER_API_AMQP_POLL_SECONDS": "0.05"}
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=out, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the API did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def _traffic(live: LiveChain, stop: threading.Event, rounds: list[int]) -> None:
    """Ship two units to the distributor and receive them, over and over."""
    c = live.consortium
    while not stop.is_set():
        n = rounds[0]
        ids = c.manufacturer.commission(c.lot_key, [f"AK{n:04d}A", f"AK{n:04d}B"]).value
        shipment = c.manufacturer.ship(c.distributor.address, ids).value
        c.distributor.receive(shipment, temp_min=40, temp_max=60)
        rounds[0] += 1


def _first_seen(got: list[Received]) -> list[int]:
    seen: set[str] = set()
    order = []
    for message in got:
        if message.message_id not in seen:
            seen.add(message.message_id)
            order.append(int(message.message_id.split(":")[1]))
    return order


def test_every_event_arrives_at_least_once_in_order_across_kill_9(
    live: LiveChain, vhost: VHost, tmp_path: Path
) -> None:
    distributor = live.consortium.distributor.address.lower()
    regulator = Inbox(vhost, "regulator.kill-test", ("regulator.#",))
    member = Inbox(vhost, f"member.{distributor}.kill-test", (f"member.{distributor}.#",))
    url_file = tmp_path / "amqp-url"
    fd = os.open(url_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, vhost.url().encode())
    os.close(fd)
    api = Api(live, url_file, tmp_path / "api")
    stop, rounds = threading.Event(), [0]
    traffic = threading.Thread(target=_traffic, args=(live, stop, rounds), daemon=True)
    api.start()
    traffic.start()
    try:
        for _ in range(2):
            regulator.wait_for(len(regulator.got) + 6, timeout=60)
            api.kill()  # mid-stream: events keep coming while it is down
            time.sleep(0.5)
            api.start()
        regulator.wait_for(len(regulator.got) + 6, timeout=60)
    finally:
        stop.set()
        traffic.join(timeout=30)
    live.wait_indexed()
    engine = make_engine(live.db_url)
    with engine.connect() as conn:
        newest = last_seq(conn)
        audience = audience_addresses(conn, 1, newest)
    engine.dispose()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and newest not in _first_seen(regulator.drain()):
            time.sleep(0.1)
        member.drain()
    finally:
        api.stop()
    assert rounds[0] >= 3, "too little traffic to test anything"
    assert _first_seen(regulator.got) == list(range(1, newest + 1))  # all, in order
    theirs = [s for s in range(1, newest + 1) if distributor in map(str.lower, audience.get(s, []))]
    assert theirs and _first_seen(member.got) == theirs
    for message in member.got:
        assert message.routing_key.startswith(f"member.{distributor}.")
    repeats = len(regulator.got) - newest
    print(f"events {newest}, regulator copies {len(regulator.got)} ({repeats} repeated)")
    regulator.close()
    member.close()
