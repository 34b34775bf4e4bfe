"""A live portal for browser tests: the real app (API + portal) served by uvicorn on a
free port in a background thread, over its own eth-tester chain with the demo consortium,
and a real indexer following that chain into SQLite in another background thread (the
browser cannot call `ApiEnv.sync()`).

    with live_chain() as chain:                      # chain + consortium + indexer thread
        with chain.serve(portal_users=True) as site: # partner app with demo portal users
            page.goto(site.url("/portal/sign-in"))

`chain.serve(**settings)` takes ApiSettings overrides, e.g. `regulator=True` for a
regulator-mode app over the same chain and database (put the signing account in
`regulator_account=chain.consortium.regulator.account`). eth-tester is not
thread-safe, so every JSON-RPC call goes through one lock (`LockedTesterProvider`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3 import EthereumTesterProvider, Web3

from medledger.app import create_app
from medledger.domain.chain import vault
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.portal.users import create_user
from medledger.sdk.compiler import load_artifacts

__all__ = ["CHROMIUM", "LiveChain", "LiveSite", "live_chain", "password_of"]

CHROMIUM = "/usr/bin/chromium"
PORTAL_USERS = ("manufacturer", "distributor", "logistics", "hospital", "hospital2", "regulator")


def password_of(name: str) -> str:
    return f"{name}-password"


class LockedTesterProvider(EthereumTesterProvider):
    """eth-tester behind one lock: the web server's threads, portal jobs and the indexer
    thread all talk to the same in-process chain."""

    lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self.lock:
            return super().make_request(method, params)


@dataclasses.dataclass
class LiveSite:
    base_url: str
    services: Services

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclasses.dataclass
class LiveChain:
    chain: DevChain
    consortium: Consortium
    directory: Path
    db_url: str
    relayer_key: str
    master_key: str

    indexed: list[int]  # the newest block the indexer thread caught up to ([-1]: none)

    def wait_indexed(self, timeout: float = 20.0) -> None:
        """Until the indexer has reached the chain's head."""
        head = self.chain.w3.eth.block_number
        deadline = time.monotonic() + timeout
        while self.indexed[0] < head:
            if time.monotonic() > deadline:
                raise TimeoutError(f"indexer stuck below block {head}")
            time.sleep(0.05)

    @contextlib.contextmanager
    def serve(
        self,
        *,
        portal_users: bool = True,
        regulator_account: LocalAccount | None = None,
        **settings: Any,
    ) -> Iterator[LiveSite]:
        """The app on a free port (public_base_url points at it, so labels resolve here)."""
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        data_dir = Path(tempfile.mkdtemp(dir=self.directory, prefix="api-"))
        api_settings = ApiSettings(
            db_url=self.db_url,
            data_dir=data_dir,
            deployment_file=self.directory / "deployment.json",
            public_base_url=base,
            master_key=SecretStr(self.master_key),
            relayer_key=SecretStr(self.relayer_key),
            verify_rate_per_minute=10_000,
            **settings,
        )
        services = Services(
            settings=api_settings,
            engine=make_engine(self.db_url),
            w3=self.chain.w3,
            deployment=self.consortium.deployment,
            artifacts=load_artifacts(),
            platform_key=load_platform_key(data_dir / "platform-ed25519.pem"),
            regulator_account=regulator_account,
        )
        if portal_users:
            _portal_users(services, self.consortium)
        config = uvicorn.Config(
            create_app(services), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        try:
            yield LiveSite(base, services)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            services.engine.dispose()


def _portal_users(services: Services, consortium: Consortium) -> None:
    keys = vault(services)
    for name in PORTAL_USERS:
        ledger = consortium.by_name(name)
        if keys.get(ledger.address) is None:
            keys.put(ledger.account)
        create_user(services, username=name, password=password_of(name), address=ledger.address)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_chain(directory: Path) -> Iterator[LiveChain]:
    """A fresh eth-tester chain with the demo consortium and a platform relayer, and an
    indexer thread keeping `directory/indexer.db` at the head."""
    chain = DevChain.start(accounts=12)
    chain.w3 = Web3(LockedTesterProvider(chain.tester))
    consortium = bootstrap_consortium(chain.w3, chain.accounts[:7], now=chain.now())
    relayer = chain.accounts[7]
    consortium.admin.grant_relayer(relayer.address)
    consortium.deployment.save(directory / "deployment.json")
    db_url = f"sqlite:///{directory / 'medledger.indexer.db'}"
    stop = threading.Event()
    failures: list[BaseException] = []
    indexed = [-1]

    def follow() -> None:
        settings = IndexerSettings(db_url, batch_blocks=500)
        try:
            with Indexer(settings, Web3LogSource(chain.w3), consortium.deployment) as indexer:
                while not stop.is_set():
                    head = chain.w3.eth.block_number
                    indexer.catch_up()
                    indexed[0] = head
                    stop.wait(0.1)
        except BaseException as exc:  # surfaced by wait_indexed's timeout and at exit
            failures.append(exc)

    thread = threading.Thread(target=follow, name="live-indexer", daemon=True)
    thread.start()
    live = LiveChain(
        chain,
        consortium,
        directory,
        db_url,
        "0x" + bytes(relayer.key).hex(),
        os.urandom(32).hex(),
        indexed,
    )
    try:
        live.wait_indexed()
        yield live
    finally:
        stop.set()
        thread.join(timeout=10)
    if failures:
        raise failures[0]
