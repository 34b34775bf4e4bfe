"""kill -9 while events flow: the API (`medledger api`, a real process whose lifespan runs
the delivery worker) and the receiver (a real process) are killed at random and restarted,
while events are committed to the read model. Every event arrives at least once, first
arrivals are in seq order, and an event is sent again only when a kill fell between its
2xx and the record of it (so repeats are at most one per kill)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.domain.subscriptions import SubscriptionIn, create
from medledger.indexer.db import make_engine, migrate
from medledger.indexer.outbox import LedgerEventKind, NewEvent, write_event
from medledger.indexer.queries.bench import add_bench_member
from medledger.sdk.deploy import Deployment

ROOT = Path(__file__).resolve().parents[2]
MEMBER = "0x" + "cd" * 20
EVENTS = 240


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _services(tmp: Path, key: str) -> Services:
    db_url = f"sqlite:///{tmp / 'index.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        add_bench_member(conn, MEMBER, "Kill Test Distributor")
    settings = ApiSettings(
        db_url=db_url,
        data_dir=tmp / "api",
        master_key=SecretStr(key),
        webhook_allow_private_http=True,
    )
    return Services(
        settings=settings,
        engine=engine,
        w3=None,  # type: ignore[arg-type]
        deployment=Deployment(1, *(4 * ("0x" + "00" * 20,))),
        artifacts={},
        platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
    )


def _write(services: Services, stop: threading.Event) -> None:
    for _ in range(EVENTS):
        with services.engine.begin() as conn:
            event = NewEvent(LedgerEventKind.ALERT_SCAN_ANOMALY, int(time.time()), {})
            write_event(conn, event, audience=[MEMBER])
        time.sleep(0.03)
    stop.set()


def test_every_event_arrives_in_order_across_kill_9_of_api_and_receiver(tmp_path: Path) -> None:
    key = os.urandom(32).hex()
    services = _services(tmp_path, key)
    key_file = tmp_path / "api" / "master-key.hex"
    key_file.write_text(key)
    key_file.chmod(0o600)
    services.deployment.save(tmp_path / "deployment.json")
    sink_port, api_port = _port(), _port()
    body = SubscriptionIn(
        url=f"http://127.0.0.1:{sink_port}/hook", kinds=(LedgerEventKind.ALERT_SCAN_ANOMALY,)
    )
    create(services, owner=MEMBER, created_by="test", body=body, cursor=0)

    log = tmp_path / "sink.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MEDLEDGER_API_WEBHOOK_ALLOW_PRIVATE_HTTP": "true",
        "MEDLEDGER_API_WEBHOOK_BASE_DELAY": "0.05",
        "MEDLEDGER_API_WEBHOOK_MAX_DELAY": "0.2",
        "MEDLEDGER_API_WEBHOOK_MAX_ATTEMPTS": "100",
        "MEDLEDGER_API_WEBHOOK_POLL_SECONDS": "0.05",
        "MEDLEDGER_API_WEBHOOK_LEASE_SECONDS": "1",
    }
    api_cmd = [
        str(ROOT / ".venv/bin/medledger"),
        "api",
        "--db",
        services.settings.db_url,
        "--deployment",
        str(tmp_path / "deployment.json"),
        "--data-dir",
        str(tmp_path / "api"),
        "--port",
        str(api_port),
        "--rpc",
        "http://127.0.0.1:9",
        "--no-access-log",
    ]
    sink_cmd = [sys.executable, str(Path(__file__).with_name("webhook_sink.py")), str(sink_port)]

    def start_api() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            api_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start_sink() -> subprocess.Popen[bytes]:
        return subprocess.Popen([*sink_cmd, str(log)], env=env)

    api, sink = start_api(), start_sink()
    stop = threading.Event()
    writer = threading.Thread(target=_write, args=(services, stop), daemon=True)
    writer.start()
    rng = random.Random(17)
    kills = {"api": 0, "sink": 0}
    try:
        while not stop.is_set():
            time.sleep(rng.uniform(1.0, 2.5))
            if rng.random() < 0.5:
                api.send_signal(signal.SIGKILL)
                api.wait()
                kills["api"] += 1
                api = start_api()
            else:
                sink.send_signal(signal.SIGKILL)
                sink.wait()
                kills["sink"] += 1
                time.sleep(rng.uniform(0.0, 0.5))
                sink = start_sink()
        writer.join()
        deadline = time.monotonic() + 120
        seqs: list[int] = []
        while time.monotonic() < deadline:
            seqs = [int(line.split()[0]) for line in log.read_text().splitlines() if line]
            if len(set(seqs)) >= EVENTS:
                break
            time.sleep(0.2)
    finally:
        for process in (api, sink):
            process.send_signal(signal.SIGKILL)
            process.wait()
        services.engine.dispose()

    assert kills["api"] >= 1 and kills["sink"] >= 1, kills
    assert set(seqs) == set(range(1, EVENTS + 1)), (
        f"missing {set(range(1, EVENTS + 1)) - set(seqs)}"
    )
    first: list[int] = []
    for seq in seqs:
        if seq not in first:
            first.append(seq)
    assert first == sorted(first)  # in order
    repeats = len(seqs) - len(set(seqs))
    assert repeats <= kills["api"] + kills["sink"], (repeats, kills)
    assert seqs == sorted(seqs)  # a repeat is only ever of the event just sent
