"""`medledger bench verify`: HTTP load on the real `/v1/verify` over an indexed national supply
chain, and end-to-end freshness from a submitted custody transfer to the verdict showing it.

- Load: the indexer's synthetic log stream (ops/bench/supply_chain.py) goes through its
  own decode-and-write path into SQLite (cached under the temp dir), the real API app runs in
  uvicorn with 1 and then 2 worker processes, and `wrk` (or, if it is not installed, an
  asyncio client in a separate process) sends GET /v1/verify for a mix of genuine, unknown,
  recalled and dispensed units in the four input forms (element string, GS-separated
  payload, DataMatrix payload with symbology identifier, Digital Link URI).
- Freshness: `medledger node` on a free port, the demo consortium bootstrapped on it, the
  indexer following it (50 ms poll) and the API over both; each sample dispenses one unit and
  polls /v1/verify until the verdict is `dispensed`.

The last printed line is `{"suite": "verify", "figures": {...}}`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["BenchSizes", "bench_verify", "indexer_main", "python_load"]

REPO = Path(__file__).resolve().parents[2]
DL_BASE = "https://id.medledger.example"
WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "non2xx": %d, '
    .. '"errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class BenchSizes:
    """How big and how long: `quick` finishes in under a minute."""

    quick: bool
    seconds: float = 10.0
    connections: int = 16
    codes: int = 4000
    freshness_samples: int = 40
    tiny: bool = False  # tests: GeneratorConfig.small(), no cache


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------ dataset


def _dataset(sizes: BenchSizes, workdir: Path, echo: Callable[[str], None]) -> tuple[Path, Path]:
    """The indexed SQLite database and its deployment file, built once and cached."""
    from medledger.indexer.config import Settings
    from medledger.indexer.decode import LogDecoder
    from medledger.indexer.follower import Indexer
    from medledger.ops.bench.indexer import dataset_config
    from medledger.ops.bench.supply_chain import GeneratorConfig, generate_synthetic

    if sizes.tiny:
        cfg, cache = GeneratorConfig.small(units=200, lots=4), workdir
    else:
        cfg = dataset_config(quick=sizes.quick)
        cache = Path(tempfile.gettempdir()) / "medledger-bench-verify"
    cache.mkdir(parents=True, exist_ok=True)
    # The suffix names the indexer schema the cache was built with (0003: recall references).
    name = ("tiny" if sizes.tiny else "quick" if sizes.quick else "full") + "-0003"
    db, deployment_file, done = (cache / f"{name}.db", cache / f"{name}.json", cache / name)
    if done.with_suffix(".done").exists() and db.exists():
        echo(f"reusing indexed database {db}")
        return db, deployment_file
    for stale in cache.glob(f"{name}.db*"):
        stale.unlink()
    started = time.perf_counter()
    chain, deployment, _plan = generate_synthetic(cfg, logs_per_block=50)
    echo(f"generated {cfg.units:,} units in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with Indexer(Settings(f"sqlite:///{db}", batch_blocks=200), chain, deployment,
                 decoder=LogDecoder()) as indexer:  # fmt: skip
        events = indexer.catch_up()
    echo(f"indexed {events:,} item-events in {time.perf_counter() - started:.1f} s into {db}")
    deployment.save(deployment_file)
    done.with_suffix(".done").touch()
    return db, deployment_file


def _yymmdd(ts: int) -> Any:
    from medledger.sdk.dates import day_of

    return day_of(ts)


def _code_paths(db: Path, count: int, seed: int = 5) -> tuple[int, list[str], dict[str, int]]:
    """Units in the database, and /v1/verify paths: a mix of kinds in the four forms."""
    from medledger.indexer.db import make_engine
    from medledger.indexer.queries.bench import UnitLabel, random_units, unit_count
    from medledger.sdk.gs1 import Udi
    from medledger.sdk.model import ItemStatus

    rng = random.Random(seed)
    per = max(count // 4, 1)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        units = unit_count(conn)
        picks = {
            "genuine": random_units(conn, per, recalled=False, status=ItemStatus.ACTIVE),
            "recalled": random_units(conn, per, recalled=True),
            # Recently dispensed: a scan long after dispensing is (rightly) suspect.
            "dispensed": random_units(
                conn, per, recalled=False, status=ItemStatus.DISPENSED, newest=per * 20
            ),
            "unknown": [
                replace(label, serial=f"FAKE{rng.randrange(10**9)}")
                for label in random_units(conn, per)
            ],
        }
    engine.dispose()
    rows: list[tuple[str, UnitLabel]] = [(kind, u) for kind, found in picks.items() for u in found]
    rng.shuffle(rows)
    paths, mix = [], dict.fromkeys(("genuine", "recalled", "dispensed", "unknown"), 0)
    for n, (kind, unit) in enumerate(rows):
        udi = Udi(
            gtin=unit.gtin, serial=unit.serial, lot=unit.lot_number, expiry=_yymmdd(unit.expiry)
        )
        form = n % 4
        code = (
            udi.element_string(),
            udi.gs1_payload(),
            "]d2" + udi.gs1_payload(),
            udi.digital_link_uri(base=DL_BASE),
        )[form]
        paths.append("/v1/verify?code=" + quote(code, safe=""))
        mix[kind] += 1
    return units, paths, mix


# ------------------------------------------------------------------------------ serving


@contextmanager
def _api(
    db_url: str, deployment_file: Path, workdir: Path, *, workers: int, rpc_url: str
) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = dict(
        os.environ,
        MEDLEDGER_API_DB_URL=db_url,
        MEDLEDGER_API_DEPLOYMENT_FILE=str(deployment_file),
        MEDLEDGER_API_DATA_DIR=str(workdir / "api"),
        MEDLEDGER_API_RPC_URL=rpc_url,
        MEDLEDGER_API_VERIFY_RATE_PER_MINUTE=str(10**9),
        MEDLEDGER_API_PUBLIC_BASE_URL=DL_BASE,
    )
    args = [sys.executable, "-m", "uvicorn", "medledger.serve:app_from_environment", "--factory"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    args += ["--log-level", "warning", "--no-access-log"]
    log = (workdir / f"api-{port}.log").open("ab")
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/healthz", proc)
        if workers > 1:  # let every worker import the app before the load starts
            for _ in range(20):
                httpx.get(url + "/healthz")
        yield url, proc.pid
    finally:
        _stop(proc)
        log.close()


# ------------------------------------------------------------------------------ load


def python_load(url: str, paths_file: str, connections: int, seconds: float) -> dict[str, Any]:
    """Keep-alive GET load from one asyncio loop (the fallback when `wrk` is missing)."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    paths = Path(paths_file).read_text().splitlines()
    latencies: list[float] = []
    non2xx = 0

    async def worker(offset: int, stop_at: float) -> None:
        nonlocal non2xx
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        i = offset
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += connections
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 2"):
                non2xx += 1
        writer.close()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, started + seconds) for c in range(connections)))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "non2xx": non2xx,
        "errors": 0,
    }


def _load(url: str, paths_file: Path, sizes: BenchSizes, workdir: Path) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    secs = max(int(sizes.seconds), 1)
    if wrk is not None:
        script = workdir / "verify.lua"
        script.write_text(WRK_SCRIPT)
        args = [wrk, "-t1", f"-c{sizes.connections}", f"-d{secs}s", "-s", str(script), url]
        env = dict(os.environ, BENCH_PATHS=str(paths_file))
        out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
        result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
        result["generator"] = "wrk"
        return result
    code = (
        "import json, sys; from ops.bench.verify import python_load; "
        "print(json.dumps(python_load(sys.argv[1], sys.argv[2], int(sys.argv[3]), "
        "float(sys.argv[4]))))"
    )
    args = [sys.executable, "-c", code, url, str(paths_file), str(sizes.connections), str(secs)]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["generator"] = "python-asyncio"
    return result


def _check_verdicts(url: str, paths: Sequence[str], echo: Callable[[str], None]) -> None:
    seen: dict[str, int] = {}
    with httpx.Client(base_url=url) as client:
        for path in paths[:40]:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
            verdict = response.json()["verdict"]
            seen[verdict] = seen.get(verdict, 0) + 1
    echo(f"verdicts of the first 40 codes: {seen}")


# ------------------------------------------------------------------------------ freshness


def indexer_main(rpc_url: str, deployment_file: str, db_url: str) -> None:
    """Entry point of the freshness indexer subprocess (50 ms poll)."""
    from medledger.indexer.config import Settings
    from medledger.indexer.runner import load_deployment, run_indexer

    run_indexer(
        Settings(db_url, poll_interval=0.05),
        rpc_url=rpc_url,
        deployment=load_deployment(Path(deployment_file)),
        once=False,
        echo=lambda _line: None,
    )


def _freshness(
    sizes: BenchSizes, workdir: Path, db_url: str, echo: Callable[[str], None]
) -> list[float]:
    from eth_account import Account
    from eth_utils import keccak

    from medledger.node.config import demo_genesis
    from medledger.ops.bench.chain import Harness
    from medledger.sdk.gs1 import Udi

    admin = Account.from_key(keccak(text="medledger bench admin"))
    config = replace(demo_genesis(bootstrap_admin=admin.address), block_interval_ms=50)
    genesis = workdir / "genesis.json"
    config.save(genesis)
    port = _free_port()
    rpc = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    log = (workdir / "node.log").open("ab")
    try:
        args = [sys.executable, "-m", "medledger.cli", "node", "--data-dir", str(workdir / "seq")]
        args += ["--genesis", str(genesis), "--rpc-port", str(port)]
        procs.append(subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        _wait_http(rpc, procs[-1])
        started = time.perf_counter()
        harness = Harness(rpc, admin, fund=False)
        harness.admit_on_genesis_suite(config)
        harness.bootstrap()
        c = harness.consortium
        n = sizes.freshness_samples
        serials = [f"FRESH{i}" for i in range(n)]
        units = c.manufacturer.commission(c.lot_key, serials).value
        shipped = c.manufacturer.ship(c.hospital.address, units).value
        c.hospital.receive(shipped, temp_min=40, temp_max=80)
        echo(f"node at {rpc}: consortium and {n} units at the hospital in "
             f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        deployment_file = workdir / "fresh-deployment.json"
        c.deployment.save(deployment_file)
        code = "import sys; import ops.bench.verify as b; b.indexer_main(*sys.argv[1:])"
        args = [sys.executable, "-c", code, rpc, str(deployment_file), db_url]
        procs.append(subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        lot = c.lot
        samples: list[float] = []
        with (
            _api(db_url, deployment_file, workdir, workers=1, rpc_url=rpc) as (url, _pid),
            httpx.Client(base_url=url) as client,
        ):
            for serial, unit in zip(serials, units, strict=True):
                path = "/v1/verify?code=" + quote(
                    Udi(gtin=c.gtin, serial=serial, lot=lot).element_string(), safe=""
                )
                deadline = time.monotonic() + 60
                while client.get(path).json()["verdict"] != "genuine":  # indexer caught up
                    if time.monotonic() > deadline or procs[-1].poll() is not None:
                        raise RuntimeError(
                            f"the indexer did not catch up with the node (see {workdir})"
                        )
                    time.sleep(0.05)
                submitted = time.perf_counter()
                failures: list[BaseException] = []

                def dispense(unit: bytes = unit, failures: list[BaseException] = failures) -> None:
                    try:
                        c.hospital.dispense([unit])
                    except Exception as exc:  # reported below, with the last verdict seen
                        failures.append(exc)

                sender = threading.Thread(target=dispense)
                sender.start()
                while (answer := client.get(path).json())["status"] != "dispensed":
                    late = time.perf_counter() - submitted > 30
                    if failures or late or procs[-1].poll() is not None:
                        raise RuntimeError(
                            f"dispensing {serial} never became visible: {failures}, {answer}"
                        )
                    time.sleep(0.005)
                samples.append(time.perf_counter() - submitted)
                sender.join()
        return samples
    finally:
        for proc in reversed(procs):
            _stop(proc)
        log.close()


# ------------------------------------------------------------------------------ suite


def _pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_verify(sizes: BenchSizes, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the suite and print its JSON line last; return the result."""
    from medledger.indexer.queries.bench import throwaway_database
    from medledger.ops.bench.indexer import default_pg_admin
    from medledger.ops.bench.process_usage import UsageMonitor

    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-verify-"))
    try:
        db, deployment_file = _dataset(sizes, workdir, echo)
        units, paths, mix = _code_paths(db, sizes.codes)
        paths_file = workdir / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        echo(f"{units:,} units indexed; {len(paths):,} codes to verify: {mix}")
        best: dict[str, Any] | None = None
        for workers in (1, 2):
            with _api(f"sqlite:///{db}", deployment_file, workdir, workers=workers,
                      rpc_url="http://127.0.0.1:9") as (url, pid):  # fmt: skip
                _check_verdicts(url, paths, echo)
                load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
                started = time.monotonic()
                with UsageMonitor({"api": pid}) as monitor:
                    run = _load(url, paths_file, sizes, workdir)
                (usage,) = monitor.usage()
                cpu_seconds = usage.cpu_percent / 100 * (time.monotonic() - started)
                cpu_ms = cpu_seconds * 1000 / max(run["requests"], 1)
            rate = run["requests"] / run["seconds"]
            echo(
                f"{workers} worker(s), {run['generator']}, {sizes.connections} connections: "
                f"{rate:,.0f} req/s, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
                f"non-2xx {run['non2xx']}, socket errors {run['errors']} "
                f"(load average {load:.1f} on {os.cpu_count()} CPUs before the run); "
                f"API CPU {cpu_ms:.3f} ms per request"
            )
            if run["non2xx"] or run["errors"]:
                raise RuntimeError(f"the load run had failures: {run}")
            run.update(workers=workers, rate=rate, load=load, cpu_ms=cpu_ms)
            if best is None or rate > best["rate"]:
                best = run
        assert best is not None
        # PostgreSQL: on SQLite the indexer's write transactions (read, then write) fail with
        # "database is locked" when the API logs a scan in between (see docs/BENCHMARKS.md).
        with throwaway_database(default_pg_admin()) as pg_url:
            fresh_db = pg_url or f"sqlite:///{workdir / 'fresh.db'}"
            fresh = _freshness(sizes, workdir, fresh_db, echo)
        echo(
            f"freshness over {len(fresh)} dispenses: p50 {_pct(fresh, 0.5) * 1000:.0f} ms, "
            f"p99 {_pct(fresh, 0.99) * 1000:.0f} ms"
        )
        figures = {
            "units": units,
            "verify_req_per_s": round(best["rate"], 1),
            "verify_p50_ms": round(best["p50_ms"], 2),
            "verify_p99_ms": round(best["p99_ms"], 2),
            "freshness_p50_ms": round(_pct(fresh, 0.5) * 1000, 1),
            "freshness_p99_ms": round(_pct(fresh, 0.99) * 1000, 1),
            "workers": best["workers"],
            "connections": sizes.connections,
            "load_generator": best["generator"],
            "load_average_before": round(best["load"], 2),
            # CPU the API processes spent per verification: what a busy machine does not
            # change much, unlike req/s.
            "verify_api_cpu_ms_per_request": round(best["cpu_ms"], 3),
            "freshness_db": fresh_db.split(":", 1)[0].split("+", 1)[0],
        }
    finally:
        if not os.environ.get("MEDLEDGER_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"suite": "verify", "figures": figures}
    echo(json.dumps(result))
    return result
