"""`medledger bench import`: rows per second of a commissioning import on our node (a real
node process): checking every row of an N-row XLSX (`create_job`), and the whole write
(`run_job`, 500 serials per transaction), with the partner API's store and a real indexer.

`node_world` (the demo consortium on a fresh node, the API's services with custodial keys
and an indexer) is also what the import tests run on: eth-tester estimates gas by
re-running a 500-serial transaction a dozen times in py-evm, minutes per chunk.
Prints the figures; the last line is `{"suite": "import", "figures": {...}}`.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from pydantic import SecretStr
from web3 import HTTPProvider, Web3

from medledger.domain.auth import Member, resolve_member
from medledger.domain.bulk_import import jobs
from medledger.domain.chain import vault
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.node.config import NodeConfig, demo_genesis
from medledger.ops.bench.chain import REPO, Harness, _free_port
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import load_artifacts

__all__ = ["NodeWorld", "commissioning_xlsx", "node_world", "run_import_bench"]

CUSTODIAL = ("manufacturer", "distributor", "hospital")


@dataclass
class NodeWorld:
    services: Services
    consortium: Consortium
    url: str
    db_url: str

    def sync(self) -> int:
        """Index every block so far."""
        source = Web3LogSource.from_url(self.url)
        settings = IndexerSettings(self.db_url, batch_blocks=500)
        with Indexer(settings, source, self.consortium.deployment) as indexer:
            return indexer.catch_up()

    def member(self, name: str) -> Member:
        address = self.consortium.by_name(name).address
        return resolve_member(self.services, address, method="token")


@contextmanager
def node_world(workdir: Path) -> Iterator[NodeWorld]:
    """The demo consortium on a fresh node process, and the API's services over it."""
    admin = Account.from_key(keccak(text="medledger bench admin"))
    # The machine is shared: estimating a 200-serial commission may take longer than the
    # default 3 s budget of eth_estimateGas when other processes hog both cores.
    config = replace(demo_genesis(bootstrap_admin=admin.address), block_interval_ms=50)
    proc, url = _start_node(workdir / "node", config, budgets_ms=60_000)
    try:
        harness = Harness(url, admin, fund=False)
        harness.admit_on_genesis_suite(config)
        harness.bootstrap()
        consortium: Consortium = harness.consortium
        relayer = Account.from_key(keccak(text="medledger import relayer"))
        consortium.admin.grant_relayer(relayer.address)
        settings = ApiSettings(
            rpc_url=url,
            db_url=f"sqlite:///{workdir / 'medledger.indexer.db'}",
            data_dir=workdir / "api",
            deployment_file=workdir / "deployment.json",
            master_key=SecretStr(os.urandom(32).hex()),
            relayer_key=SecretStr("0x" + bytes(relayer.key).hex()),
            read_model_wait_seconds=0,
        )
        consortium.deployment.save(settings.deployment_file)
        services = Services(
            settings=settings,
            engine=make_engine(settings.db_url),
            w3=Web3(HTTPProvider(url)),
            deployment=consortium.deployment,
            artifacts=load_artifacts(),
            platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
        )
        for name in CUSTODIAL:
            vault(services).put(consortium.by_name(name).account)
        world = NodeWorld(services, consortium, url, settings.db_url)
        world.sync()
        try:
            yield world
        finally:
            services.engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _start_node(
    workdir: Path, config: NodeConfig, *, budgets_ms: int
) -> tuple[subprocess.Popen[bytes], str]:
    """`medledger node` on a genesis whose call and block time budgets are `budgets_ms`."""
    workdir.mkdir(parents=True, exist_ok=True)
    genesis = workdir / "genesis.json"
    values = config.to_json() | {
        "call_time_budget_ms": budgets_ms,
        "block_time_budget_ms": budgets_ms,
    }
    genesis.write_text(json.dumps(values))
    port = _free_port()
    args = [sys.executable, "-m", "medledger.cli", "node", "--data-dir", str(workdir / "seq")]
    args += ["--genesis", str(genesis), "--rpc-port", str(port)]
    with (workdir / "node.log").open("ab") as log:
        proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"the node at {url} did not come up (see {workdir / 'node.log'})")


def commissioning_xlsx(gtin: str, lot: str, serials: list[str]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("commissioning")
    sheet.append(["产品标识", "批号", "序列号"])
    for serial in serials:
        sheet.append([gtin, lot, serial])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run_import_bench(*, rows: int, say: Callable[[str], None] = print) -> dict[str, Any]:
    figures: dict[str, Any] = {"rows": rows, "load_average_at_start": round(os.getloadavg()[0], 1)}
    with node_world(Path(tempfile.mkdtemp(prefix="medledger-bench-import-"))) as world:
        c = world.consortium
        member = world.member("manufacturer")
        data = commissioning_xlsx(c.gtin, c.lot, [f"B{n:07d}" for n in range(rows)])
        started = time.perf_counter()
        job = jobs.create_job(
            world.services, member=member, kind="commissioning", filename="b.xlsx", data=data
        )
        checked = time.perf_counter() - started
        say(f"  checked {rows} rows in {checked:.2f} s ({job.state})")
        started = time.perf_counter()
        done = jobs.run_job(world.services, member=member, job_id=job.id)
        written = time.perf_counter() - started
        say(f"  wrote {done.done_rows} rows in {written:.2f} s ({done.state})")
        if done.state != "done":
            raise RuntimeError(f"the import did not finish: {done.problem}")
        figures["validation_rows_per_s"] = round(rows / checked)
        figures["import_rows_per_s"] = round(rows / (checked + written))
        figures["write_seconds"] = round(written, 2)
    print(json.dumps({"suite": "import", "figures": figures}))
    return figures
