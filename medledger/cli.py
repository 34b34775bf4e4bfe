"""The `medledger` command line: one entry point for every piece."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sdk.errors import MedLedgerError

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

# Wide enough for the trace table even when output is piped (make run).
console = Console(width=max(Console().width, 120))


def _fail(exc: MedLedgerError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=2)


@demo_app.command("lifecycle")
def demo_lifecycle() -> None:
    """Play one device's whole life, from commissioning to dispensing, and print its trace."""
    from scripts.demo_lifecycle import run_lifecycle

    try:
        run_lifecycle(console)
    except MedLedgerError as exc:
        raise _fail(exc) from exc


@app.command("compile")
def compile_cmd(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if the cache is fresh.")
    ] = False,
) -> None:
    """Compile contracts/ with the pinned npm solc and print each contract's size."""
    from sdk.compiler import compile_contracts

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
    from sdk.gs1 import parse_code

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
    from scripts.gas_report import main as gas_main

    gas_main(output)


if __name__ == "__main__":
    app()
