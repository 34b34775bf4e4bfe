"""The `medledger` command line: one entry point for every piece."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medledger.broker_cli import broker_app
from medledger.devices_cli import devices_app
from medledger.exports_cli import exports_app
from medledger.import_cli import import_command
from medledger.portal.cli import audit_app, portal_app
from medledger.sdk.errors import MedLedgerError
from medledger.sites_cli import sites_app

app = typer.Typer(
    help="MedLedger: a shared custody ledger for medical-device supply chains.",
    no_args_is_help=True,
)
demo_app = typer.Typer(help="Demonstrations on an in-process chain.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
gs1_app = typer.Typer(help="GS1 barcodes and Digital Link URIs.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(bench_app, name="bench")
app.add_typer(gs1_app, name="gs1")
app.add_typer(portal_app, name="portal")
app.add_typer(devices_app, name="devices")
app.command("import")(import_command)
app.add_typer(audit_app, name="audit")
app.add_typer(exports_app, name="exports")
app.add_typer(sites_app, name="sites")
app.add_typer(broker_app, name="broker")

# Wide enough for the trace table even when output is piped (make run).
console = Console(width=max(Console().width, 120))


def _fail(exc: MedLedgerError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=2)


@demo_app.command("lifecycle")
def demo_lifecycle() -> None:
    """Play one device's whole life, from commissioning to dispensing, and print its trace."""
    from medledger.ops.demo.lifecycle import run_lifecycle

    try:
        run_lifecycle(console)
    except MedLedgerError as exc:
        raise _fail(exc) from exc


@demo_app.command("erp")
def demo_erp(
    api: Annotated[str, typer.Option(help="Partner API URL.")],
    key_file: Annotated[Path, typer.Option(help="File holding the member's API key.")],
    listen: Annotated[str, typer.Option(help="HOST:PORT to receive webhooks on.")] = (
        "127.0.0.1:8700"
    ),
) -> None:
    """A small ERP stand-in: subscribes to inbound shipments by webhook with its own API
    key, verifies every signature, receives each shipment through the API, and prints one
    JSON line per event and receipt; Ctrl-C unsubscribes and stops."""
    import threading

    from medledger.ops.demo.erp import start_erp

    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        console.print(f"[red]error:[/] --listen must be HOST:PORT, not {listen!r}")
        raise typer.Exit(code=2)
    try:
        key = key_file.read_text().strip()
    except OSError as exc:
        console.print(f"[red]error:[/] cannot read --key-file {key_file}: {exc.strerror}")
        raise typer.Exit(code=2) from exc
    try:
        erp = start_erp(api, key, host, int(port_text), echo=lambda line: print(line, flush=True))
    except Exception as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        erp.close()


@demo_app.command("simulate")
def demo_simulate(
    rate: Annotated[float, typer.Option(help="Operations per second (writes and scans).")] = 5.0,
    api: Annotated[
        str | None, typer.Option(help="Partner API URL (default: the running `medledger up`).")
    ] = None,
    rpc: Annotated[
        str | None, typer.Option(help="Chain JSON-RPC URL (default: the running stack's).")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="The `medledger up` data directory.")] = Path(
        ".medledger/stack"
    ),
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this long (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Realistic signed traffic through the partner HTTP API of a running `medledger up`:
    commission, ship, receive, dispense, and verification scans, at RATE ops/s."""
    from medledger.ops.simulate import Traffic, stack_urls

    if rate <= 0:
        console.print(f"[red]error:[/] --rate must be > 0, not {rate}")
        raise typer.Exit(code=2)
    try:
        urls = stack_urls(data_dir) if api is None or rpc is None else {}
        traffic = Traffic(api_url=api or urls["api"], rpc_url=rpc or urls["rpc"], data_dir=data_dir)
    except MedLedgerError as exc:
        raise _fail(exc) from exc
    print(f"simulating {rate:g} ops/s on {traffic.api_url} (Ctrl-C stops)", flush=True)
    traffic.run(rate=rate, seconds=seconds, report=lambda line: print(line, flush=True))


@app.command("compile")
def compile_cmd(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if the cache is fresh.")
    ] = False,
) -> None:
    """Compile contracts/ with the pinned npm solc and print each contract's size."""
    from medledger.sdk.compiler import compile_contracts

    try:
        artifacts = compile_contracts(force=force)
    except MedLedgerError as exc:
        raise _fail(exc) from exc
    for name, artifact in sorted(artifacts.items()):
        size = len(artifact.deployed_bytecode)
        console.print(f"{name:<10} {size:>6} bytes runtime  ({artifact.source_hash})")


@gs1_app.command("parse")
def gs1_parse(
    code: Annotated[
        str, typer.Argument(help="Element string, DataMatrix payload or Digital Link URI.")
    ],
) -> None:
    """Parse a GS1 code and print its UDI fields and ledger ids as JSON."""
    from medledger.sdk.gs1 import parse_code

    try:
        udi = parse_code(code)
        result = {
            "gtin": udi.gtin,
            "serial": udi.serial,
            "lot": udi.lot,
            "expiry": udi.expiry.isoformat() if udi.expiry else None,
            "production_date": udi.production_date.isoformat() if udi.production_date else None,
            "sscc": udi.sscc,
            "element_string": udi.element_string(),
            "digital_link": udi.digital_link_uri(),
            "item_id": "0x" + udi.item_id.hex() if (udi.serial or udi.sscc) else None,
            "lot_key": "0x" + udi.lot_key.hex() if udi.lot_key else None,
        }
    except MedLedgerError as exc:
        raise _fail(exc) from exc
    console.print_json(json.dumps(result))


@bench_app.command("gas")
def bench_gas(
    output: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "docs/GAS.md"
    ),
) -> None:
    """Measure gas per custody operation at 1, 10 and 100 items and write docs/GAS.md."""
    from medledger.ops.bench.gas_report import main as gas_main

    gas_main(output)


# ---------------------------------------------------------------- node (issue 3)


@app.command("node")
def node_cmd(
    data_dir: Annotated[Path, typer.Option(help="Where the chain store lives.")] = Path(
        ".medledger/node"
    ),
    rpc_host: Annotated[str, typer.Option(help="JSON-RPC listen address.")] = "127.0.0.1",
    rpc_port: Annotated[int, typer.Option(help="JSON-RPC port (0: any free port).")] = 8545,
    ws_port: Annotated[
        int | None,
        typer.Option(help="Also serve JSON-RPC over WebSocket with eth_subscribe (0: any port)."),
    ] = None,
    follow: Annotated[
        str | None, typer.Option(help="Run as a verifying follower of this sequencer URL.")
    ] = None,
    genesis: Annotated[
        Path | None, typer.Option(help="Genesis file (default: DATA_DIR/genesis.json or demo).")
    ] = None,
    authority_key: Annotated[
        str | None,
        typer.Option(help="Authority key (hex); default MEDLEDGER_AUTHORITY_KEY or the demo key."),
    ] = None,
    authority_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the authority key (hex), mode 0600; preferred."),
    ] = None,
    exit_on_divergence: Annotated[
        bool, typer.Option("--exit-on-divergence", help="Exit non-zero when a block diverges.")
    ] = False,
    single_process: Annotated[
        bool,
        typer.Option(
            "--single-process",
            help="No helper process (the sequencer's RPC front, the follower's fetcher).",
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="The EVM executing blocks: revm (a store it wrote), or pyevm (reference)."
        ),
    ] = "revm",
) -> None:
    """Run the permissioned chain node (sequencer), or a verifying follower with --follow."""
    from medledger.node.app import Node, load_config
    from medledger.node.errors import NodeError
    from medledger.runtime.logs import json_logs_wanted, setup_logging

    setup_logging("node")
    try:
        config = load_config(
            data_dir=data_dir,
            genesis=genesis,
            rpc_host=rpc_host,
            rpc_port=rpc_port,
            ws_port=ws_port,
            follow_url=follow,
            authority_key=authority_key,
            authority_key_file=authority_key_file,
            exit_on_divergence=exit_on_divergence,
            helper_process=not single_process,
            engine=engine,
        )
        node = Node(config)
    except (NodeError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    say = _logger_echo("medledger.node") if json_logs_wanted() else _print_echo
    for line in node.banner():
        say(line)
    raise typer.Exit(code=node.run_forever())


# ---------------------------------------------------------------- indexer (issue 4)


@app.command("indexer")
def indexer_cmd(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain to follow.")],
    deployment: Annotated[
        Path, typer.Option("--deployment", help="Deployment JSON with the contract addresses.")
    ],
    db: Annotated[
        str, typer.Option("--db", help="sqlite:///FILE (default) or postgresql+psycopg://…")
    ] = "sqlite:///medledger-index.db",
    batch_blocks: Annotated[int, typer.Option(help="Widest block range per transaction.")] = 2000,
    confirmations: Annotated[int, typer.Option(help="Blocks to stay behind the head.")] = 0,
    once: Annotated[bool, typer.Option("--once", help="Exit when caught up.")] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between polls of the head when caught up.")
    ] = 0.5,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /healthz and Prometheus /metrics on this port.")
    ] = None,
    ws: Annotated[
        str | None,
        typer.Option("--ws", help="ws:// URL of the node: wake on new blocks instead of polling."),
    ] = None,
) -> None:
    """Follow a chain with eth_getLogs and project its events into SQL, exactly once."""
    from medledger.indexer.config import Settings
    from medledger.indexer.runner import load_deployment, run_indexer
    from medledger.runtime.logs import json_logs_wanted, setup_logging

    setup_logging("indexer")
    echo = _logger_echo("medledger.indexer") if json_logs_wanted() else _print_echo
    try:
        settings = Settings(
            db, batch_blocks=batch_blocks, confirmations=confirmations, poll_interval=poll_interval
        )
        run_indexer(
            settings,
            rpc_url=rpc,
            deployment=load_deployment(deployment),
            once=once,
            echo=echo,
            metrics_port=metrics_port,
            ws_url=ws,
        )
    except MedLedgerError as exc:
        raise _fail(exc) from exc


def _print_echo(line: str) -> None:
    print(line, flush=True)


def _logger_echo(name: str) -> Callable[[str], None]:
    import logging

    return logging.getLogger(name).info


@bench_app.command("chain")
def bench_chain(
    quick: Annotated[bool, typer.Option("--quick", help="Smaller workloads (< 1 minute).")] = False,
    engine: Annotated[
        list[str] | None,
        typer.Option(help="Our node's engine (pyevm, revm); repeat to measure each in one run."),
    ] = None,
) -> None:
    """Custody transfers on our node vs anvil: tx/s, item-moves/s, latency, follower."""
    from medledger.ops.bench.chain import run_chain_bench

    run_chain_bench(quick=quick, engines=tuple(engine or ("revm",)))


@bench_app.command("amqp")
def bench_amqp_cmd(
    events: Annotated[int, typer.Option(min=1, max=1_000_000, help="Events to publish.")] = 2000,
) -> None:
    """The AMQP publisher against the local RabbitMQ: confirmed events and messages per s."""
    from medledger.ops.bench.amqp import run_amqp_bench
    from medledger.ops.broker_provision import BrokerError

    try:
        run_amqp_bench(events=events)
    except BrokerError as exc:
        raise _fail(exc) from exc


@bench_app.command("lots")
def bench_lots_cmd(
    quick: Annotated[bool, typer.Option("--quick", help="One round instead of five.")] = False,
) -> None:
    """A 1,000-unit lot shipped and received on our node: as cases or a quantity of a
    lot-tracked lot vs as serialised units (loose or in SSCC cases): gas and node CPU."""
    from medledger.ops.bench.lots import run_lots_bench

    run_lots_bench(quick=quick)


@bench_app.command("import")
def bench_import_cmd(
    rows: Annotated[int, typer.Option(min=1, max=100_000, help="Commissioning rows.")] = 10_000,
) -> None:
    """An N-row commissioning XLSX imported on our node: rows/s to check every row, and
    rows/s for the whole import (500 serials per transaction)."""
    from medledger.ops.bench.imports import run_import_bench

    run_import_bench(rows=rows)


@bench_app.command("indexer")
def bench_indexer_cmd(
    quick: Annotated[
        bool, typer.Option("--quick", help="~0.3M item-events, under a minute.")
    ] = False,
    pg: Annotated[
        str | None, typer.Option(help="PostgreSQL admin URL for a throwaway benchmark database.")
    ] = None,
) -> None:
    """Indexer ingest: item-events/s into SQLite and PostgreSQL, and bytes per event."""
    from medledger.ops.bench.indexer import bench_indexer, default_pg_admin, print_result

    result = bench_indexer(quick=quick, pg_admin=pg or default_pg_admin(), echo=console.print)
    print_result(result)


@bench_app.command("trace")
def bench_trace_cmd(
    quick: Annotated[
        bool, typer.Option("--quick", help="~0.3M item-events, under a minute.")
    ] = False,
    db: Annotated[
        str | None, typer.Option(help="Reuse an indexed database (default: build a fresh one).")
    ] = None,
) -> None:
    """Trace query latency (p50/p99) at ~10M item-events (unit history, lot, recall, contents)."""
    from medledger.ops.bench.indexer import bench_trace, print_result

    print_result(bench_trace(quick=quick, db_url=db, echo=console.print))


@app.command("api")
def api_cmd(
    rpc: Annotated[
        str, typer.Option(help="JSON-RPC URL of the chain node.")
    ] = "http://127.0.0.1:8545",
    db: Annotated[
        str, typer.Option(help="Indexer database URL.")
    ] = "sqlite:///.medledger/indexer.db",
    deployment: Annotated[Path, typer.Option(help="Deployment JSON of the contract suite.")] = Path(
        ".medledger/deployment.json"
    ),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    regulator: Annotated[bool, typer.Option(help="Serve the regulator's read-only API.")] = False,
    data_dir: Annotated[Path, typer.Option(help="Where the API keeps its keys.")] = Path(
        ".medledger/api"
    ),
    workers: Annotated[
        int, typer.Option(help="Worker processes (they share the verification rate limit).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    amqp_url: Annotated[
        str | None,
        typer.Option(help="Publish the event stream to this AMQP broker (see --amqp-url-file)."),
    ] = None,
    amqp_url_file: Annotated[
        Path | None,
        typer.Option(help="0600 file holding the AMQP broker URL (keeps its password off ps)."),
    ] = None,
) -> None:
    """Serve the partner, verification, trace, regulator and EPCIS API (FastAPI)."""
    from pydantic import ValidationError

    from medledger.domain.settings import ApiSettings
    from medledger.runtime.logs import setup_logging
    from medledger.serve import serve

    setup_logging("regulator-api" if regulator else "api")
    if not deployment.exists():
        console.print(
            f"[red]error:[/] deployment file {deployment} not found (start the node first)"
        )
        raise typer.Exit(code=2)
    if workers < 1:
        console.print(f"[red]error:[/] --workers {workers}: at least one worker is needed")
        raise typer.Exit(code=2)
    amqp: dict[str, object] = {}
    if amqp_url is not None:
        amqp["amqp_url"] = amqp_url
    if amqp_url_file is not None:
        amqp["amqp_url_file"] = amqp_url_file
    try:
        settings = ApiSettings(
            rpc_url=rpc,
            db_url=db,
            deployment_file=deployment,
            regulator=regulator,
            data_dir=data_dir,
            **amqp,  # type: ignore[arg-type]
        )
    except ValidationError as exc:  # e.g. an --amqp-url-file others may read
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        console.print(f"[red]error:[/] {reasons}", soft_wrap=True)
        raise typer.Exit(code=2) from exc
    # log_config=None keeps setup_logging's handler (JSON lines under `medledger up`).
    serve(settings, host=host, port=port, workers=workers, access_log=access_log, log_config=None)


# ---------------------------------------------------------------- up (issue 7)


@app.command("up")
def up_cmd(
    data_dir: Annotated[Path, typer.Option(help="Where the whole stack keeps its data.")] = Path(
        ".medledger/stack"
    ),
    reset: Annotated[bool, typer.Option("--reset", help="Delete DATA_DIR, start fresh.")] = False,
    chain_rpc: Annotated[
        str | None, typer.Option(help="Use this JSON-RPC chain instead of starting our node.")
    ] = None,
    deployment: Annotated[
        Path | None, typer.Option(help="Deployment JSON on --chain-rpc (`medledger deploy`).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface every process listens on.")] = "127.0.0.1",
    sequencer_port: Annotated[int, typer.Option(help="Sequencer RPC port (0: any).")] = 8545,
    follower_port: Annotated[int, typer.Option(help="Follower RPC port (0: any).")] = 8546,
    api_port: Annotated[int, typer.Option(help="Partner API and portal port (0: any).")] = 8000,
    regulator_api_port: Annotated[
        int, typer.Option(help="Regulator API and portal port (0: any).")
    ] = 8001,
    block_interval_ms: Annotated[
        int, typer.Option(min=10, help="Longest wait before sealing a block (new chains only).")
    ] = 150,
    webhooks_to_private_hosts: Annotated[
        bool,
        typer.Option(
            "--webhooks-to-private-hosts",
            help="Let webhook subscriptions deliver over plain http to this machine or the "
            "local network (an ERP on your own machine); off: https to public hosts only.",
        ),
    ] = False,
) -> None:
    """Start the consortium (sequencer, follower, indexers, partner and regulator APIs),
    seed the demo once, print the URLs, sign-ins and a code to verify; Ctrl-C stops it."""
    from medledger.ops.stack import StackConfig
    from medledger.ops.up import run_up
    from medledger.runtime.supervisor import SupervisorError

    config = StackConfig(
        data_dir=data_dir,
        host=host,
        sequencer_port=sequencer_port,
        follower_port=follower_port,
        partner_api_port=api_port,
        regulator_api_port=regulator_api_port,
        chain_rpc_url=chain_rpc,
        deployment_file=deployment,
        block_interval_ms=block_interval_ms,
        api_env=(
            {"MEDLEDGER_API_WEBHOOK_ALLOW_PRIVATE_HTTP": "true"}
            if webhooks_to_private_hosts
            else {}
        ),
    )
    try:
        run_up(config, reset=reset, echo=lambda line: print(line, flush=True))
    except (SupervisorError, MedLedgerError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc


# ---------------------------------------------------------------- bench verify (issue 5)


@bench_app.command("verify")
def bench_verify_cmd(
    quick: Annotated[
        bool, typer.Option("--quick", help="30k units and short runs, under a minute.")
    ] = False,
    seconds: Annotated[float, typer.Option(help="Length of each HTTP load run.")] = 15.0,
    connections: Annotated[int, typer.Option(help="Concurrent HTTP connections.")] = 16,
) -> None:
    """/v1/verify over HTTP at >= 1M units (req/s, p50/p99) and submit-to-visible freshness."""
    from medledger.ops.bench.verify import BenchSizes, bench_verify

    if seconds <= 0 or connections < 1:
        console.print(f"[red]error:[/] bad --seconds {seconds} or --connections {connections}")
        raise typer.Exit(code=2)
    sizes = BenchSizes(
        quick=quick,
        seconds=5.0 if quick else seconds,
        connections=connections,
        codes=2000 if quick else 8000,
        freshness_samples=10 if quick else 50,
    )
    bench_verify(sizes, echo=lambda line: print(line, flush=True))


# ---------------------------------------------------------------- external engines (issue 7)


@app.command("deploy")
def deploy_cmd(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain (anvil, Besu…).")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="MEDLEDGER_DEPLOY_KEY",
            help="Deployer private key (hex).",
            show_default=False,
        ),
    ] = None,
    keystore: Annotated[
        Path | None, typer.Option("--keystore", help="Deployer key as an encrypted V3 keystore.")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help="Keystore password file (default: MEDLEDGER_KEYSTORE_PASSWORD, or a prompt)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write the deployment JSON (default: deployment.json)."
        ),
    ] = None,
    stack_dir: Annotated[
        Path | None,
        typer.Option(
            help="A `medledger up --chain-rpc` data directory: admit its regulator, grant its "
            "relayer, and write DIR/deployment.json."
        ),
    ] = None,
    regulator: Annotated[
        str | None, typer.Option(help="Address to admit as the consortium's regulator.")
    ] = None,
    regulator_name: Annotated[str, typer.Option(help="The regulator's registered name.")] = (
        "Regulator"
    ),
    relayer: Annotated[
        str | None, typer.Option(help="Address of the platform relayer to grant RELAYER_ROLE.")
    ] = None,
    fund_wei: Annotated[
        int,
        typer.Option(
            min=0, help="On a chain that charges gas, top the regulator and relayer up to this."
        ),
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file.")
    ] = False,
) -> None:
    """Deploy the contract suite to any Ethereum JSON-RPC endpoint and write the deployment
    file; the deployer becomes the bootstrap admin. Optionally admit the regulator and grant
    the platform relayer its role."""
    from medledger.engines.deploy import (
        BootstrapPlan,
        bootstrap,
        connect,
        deploy_to_rpc,
        deployer_from_hex,
        deployer_from_keystore,
    )

    if stack_dir is not None:
        from medledger.ops.secrets import load_or_create_secrets

        secrets = load_or_create_secrets(stack_dir / "secrets")
        regulator = regulator or secrets.account("regulator").address
        relayer = relayer or secrets.account("relayer").address
    out = out or (stack_dir / "deployment.json" if stack_dir else Path("deployment.json"))
    try:
        if (key is None) == (keystore is None):
            raise MedLedgerError(
                "give exactly one of --key (or MEDLEDGER_DEPLOY_KEY) and --keystore"
            )
        if out.exists() and not force:
            raise MedLedgerError(f"{out} already exists; pass --force to overwrite it")
        if keystore is not None:
            if password_file is not None:
                password = password_file.read_text().rstrip("\n")
            else:
                password = os.environ.get("MEDLEDGER_KEYSTORE_PASSWORD") or typer.prompt(
                    f"password for {keystore}", hide_input=True
                )
            deployer = deployer_from_keystore(keystore, password)
        else:
            assert key is not None
            deployer = deployer_from_hex(key)
        w3 = connect(rpc)
        console.print(f"deploying from {deployer.address} to chain {w3.eth.chain_id} at {rpc}")
        deployment = deploy_to_rpc(w3, deployer)
        plan = BootstrapPlan(
            regulator=regulator, regulator_name=regulator_name, relayer=relayer, fund_wei=fund_wei
        )
        bootstrap(w3, deployment, deployer, plan, echo=console.print)
    except (MedLedgerError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    deployment.save(out)
    for name in ("partners", "devices", "items", "records"):
        console.print(f"{name:<9} {deployment.address_of(name)}")
    console.print(f"admin     {deployer.address}\nwrote {out}")


@bench_app.command("webhooks")
def bench_webhooks_cmd(
    rate: Annotated[float, typer.Option(min=1, max=10000, help="Events per second.")] = 500.0,
    seconds: Annotated[float, typer.Option(min=1, max=600, help="How long to write.")] = 10.0,
    subscriptions: Annotated[int, typer.Option(min=1, max=20, help="Subscriptions.")] = 1,
) -> None:
    """Event committed → webhook received: p50/p99 latency and deliveries/s at RATE
    events/s, through the real outbox, delivery worker and an HTTP receiver."""
    from medledger.ops.bench.webhooks import bench_webhooks

    bench_webhooks(
        rate=rate,
        seconds=seconds,
        subscriptions=subscriptions,
        echo=lambda line: print(line, flush=True),
    )


@bench_app.command("e2e")
def bench_e2e_cmd(
    quick: Annotated[
        bool, typer.Option("--quick", help="6 pallets of 200 units, under a minute.")
    ] = False,
    chain: Annotated[
        str, typer.Option(help="`node` (our sequencer and follower) or `anvil` (from npm).")
    ] = "node",
    pallets: Annotated[int | None, typer.Option(min=1, help="Pallets to run.")] = None,
    units: Annotated[
        int | None, typer.Option(min=1, max=500, help="Units per pallet (at most 500).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Pallets in flight at once.")
    ] = None,
    block_interval_ms: Annotated[
        int, typer.Option(min=10, help="Our node's block interval.")
    ] = 100,
) -> None:
    """Whole unit lifecycles through the HTTP API, the chain and the indexer: units/s,
    submit-to-visible freshness, CPU and memory of every process."""
    from dataclasses import replace

    from medledger.ops.bench.e2e import FULL, QUICK, bench_e2e

    if chain not in ("node", "anvil"):
        console.print(f"[red]error:[/] --chain must be node or anvil, not {chain!r}")
        raise typer.Exit(code=2)
    sizes = QUICK if quick else FULL
    sizes = replace(
        sizes,
        pallets=pallets or sizes.pallets,
        units_per_pallet=units or sizes.units_per_pallet,
        concurrency=concurrency or sizes.concurrency,
    )
    bench_e2e(
        sizes,
        chain=chain,
        block_interval_ms=block_interval_ms,
        echo=lambda line: print(line, flush=True),
    )


# ---------------------------------------------------------------- bench soak (issue 7)


@bench_app.command("soak")
def bench_soak_cmd(
    minutes: Annotated[
        float, typer.Option(help="How long the traffic and the faults last.")
    ] = 10.0,
    rate: Annotated[float, typer.Option(help="Simulated traffic, operations per second.")] = 8.0,
    seed: Annotated[int | None, typer.Option(help="Random seed of the fault schedule.")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the data and logs.")] = False,
    hostile: Annotated[
        bool, typer.Option(help="Send issue 13's hostile payloads alongside (ops.hostile).")
    ] = True,
) -> None:
    """Chaos soak: SIGKILL and restart the sequencer, follower, indexers and API at random
    under traffic and hostile traffic, then check acknowledged writes, reindexes, follower
    roots, invariants."""
    from medledger.ops.soak import SoakPlan, run_soak

    if minutes <= 0 or rate <= 0:
        console.print(f"[red]error:[/] --minutes {minutes} and --rate {rate} must be > 0")
        raise typer.Exit(code=2)
    result = run_soak(
        SoakPlan(minutes=minutes, rate=rate, seed=seed, hostile=hostile),
        echo=lambda line: print(line, flush=True),
        keep=keep,
    )
    figures = result["figures"]
    if figures["faults_survived"] < figures["faults_injected"] or any(
        figures[k] for k in ("lost_transfers", "index_mismatches", "root_mismatches",
                             "invariant_violations")
    ):  # fmt: skip
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
