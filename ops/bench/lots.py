"""`medledger bench lots`: one 1,000-unit lot moved from manufacturer to distributor, as
lot-tracked quantities and as serialised units, on our node (a real node process).

Four ways to move the same 1,000 units (ship, then receive with everything accepted):

- `cases`: 10 cases (package-level items, `packCases`) of 100 units of a lot-tracked lot;
- `loose_quantity`: one `LotQuantity` of 1,000 units;
- `serialised_loose`: 1,000 unit ids (two shipments of 500: MAX_BATCH);
- `serialised_cases`: the 1,000 units packed in 10 SSCC containers of 100.

For each: gas of the ship and receive transactions, transactions needed, and the node's CPU
time (block maker and RPC front, psutil) over the window, less its idle CPU rate measured
just before. Each variant runs `rounds` times on fresh stock; figures are per round.
Prints the figures; the last line is `{"suite": "lots", "figures": {...}}`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak

from medledger.node.config import demo_genesis
from medledger.ops.bench.chain import Harness, _cpu_seconds, _start_node
from medledger.sdk.gs1 import make_gtin, make_sscc
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity

__all__ = ["LotsSizes", "run_lots_bench"]

UNITS = 1_000
PER_CASE = 100
GLOVES_REFERENCE = 55555
IDLE_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class LotsSizes:
    rounds: int


FULL = LotsSizes(rounds=5)
QUICK = LotsSizes(rounds=1)


@dataclass
class _Stock:
    """What one round of each variant ships."""

    cases: list[bytes]
    units: list[bytes]
    pallets: list[bytes]


def _setup(
    m: Ledger, prefix: str, lot_gtin: str, case_gtin: str, rounds: int, unit_lot: bytes
) -> tuple[bytes, list[_Stock]]:
    now = int(m.w3.eth.get_block("latest")["timestamp"])
    m.register_product(
        lot_gtin,
        company_prefix=prefix,
        device_class=2,
        certificate_hash=keccak(text="bench gloves"),
        registration_expiry=now + 10**8,
        temp_min=20,
        temp_max=250,
        serialised=False,
    )
    lot = "BENCH-LOT"
    key = m.register_lot(lot_gtin, lot, production_date=now - 86_400, expiry=now + 10**8).value
    m.register_package_level(case_gtin, child_gtin=lot_gtin, quantity=PER_CASE)
    m.commission_lot(key, 2 * UNITS * rounds)
    stock = []
    cases_per_round = UNITS // PER_CASE
    for r in range(rounds):
        serials = [f"R{r}C{i}" for i in range(cases_per_round)]
        cases = m.pack_cases(case_gtin, lot, serials).value
        units: list[bytes] = []
        for half in range(2):
            names = [f"R{r}U{half}-{i}" for i in range(UNITS // 2)]
            units += m.commission(unit_lot, names).value
        boxed: list[bytes] = []
        for half in range(2):
            names = [f"R{r}B{half}-{i}" for i in range(UNITS // 2)]
            boxed += m.commission(unit_lot, names).value
        pallets = []
        for i in range(cases_per_round):
            sscc = make_sscc(extension=2, company_prefix=prefix, serial_reference=r * 100 + i)
            pallet = m.create_container(sscc, company_prefix=prefix).value
            m.pack(pallet, boxed[i * PER_CASE : (i + 1) * PER_CASE])
            pallets.append(pallet)
        stock.append(_Stock(cases, units, pallets))
    return key, stock


def _move(
    m: Ledger, d: Ledger, shipments: list[tuple[list[bytes], list[LotQuantity]]]
) -> tuple[int, int]:
    """Ship each (ids, lots) and receive it all; (gas used, transactions)."""
    gas = txs = 0
    for ids, lots in shipments:
        sent = m.ship(d.address, ids, lots=lots)
        received = d.receive(sent.value, temp_min=50, temp_max=80)
        gas += sent.gas_used + received.gas_used
        txs += 2
    return gas, txs


def _measure(
    name: str,
    run: Callable[[int], tuple[int, int]],
    rounds: int,
    cpu: Callable[[], tuple[float, float]],
    idle_rate: float,
    say: Callable[[str], None],
) -> dict[str, float]:
    gas = txs = 0
    before = sum(cpu())
    started = time.monotonic()
    for r in range(rounds):
        g, t = run(r)
        gas, txs = gas + g, txs + t
    wall = time.monotonic() - started
    busy = max(sum(cpu()) - before - idle_rate * wall, 0.0)
    figures = {
        f"{name}_gas": gas // rounds,
        f"{name}_txs": txs // rounds,
        f"{name}_node_cpu_ms": round(busy * 1000 / rounds, 1),
        f"{name}_wall_ms": round(wall * 1000 / rounds, 1),
    }
    say(
        f"  {name}: {gas // rounds:,} gas in {txs // rounds} txs, node CPU "
        f"{figures[f'{name}_node_cpu_ms']:,.1f} ms, wall {figures[f'{name}_wall_ms']:,.0f} ms"
    )
    return figures


def run_lots_bench(*, quick: bool, say: Callable[[str], None] = print) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-lots-"))
    admin = Account.from_key(keccak(text="medledger bench admin"))
    config = replace(demo_genesis(bootstrap_admin=admin.address), block_interval_ms=50)
    figures: dict[str, Any] = {"load_average_at_start": round(os.getloadavg()[0], 1)}
    proc, url = _start_node(workdir, config)
    try:
        harness = Harness(url, admin, fund=False)
        harness.admit_on_genesis_suite(config)
        harness.bootstrap()
        c = harness.consortium
        m, d = c.manufacturer, c.distributor
        lot_gtin = make_gtin(indicator=0, company_prefix=c.prefix, item_reference=GLOVES_REFERENCE)
        case_gtin = make_gtin(indicator=1, company_prefix=c.prefix, item_reference=GLOVES_REFERENCE)
        started = time.monotonic()
        key, stock = _setup(m, c.prefix, lot_gtin, case_gtin, sizes.rounds, c.lot_key)
        say(f"  setup: {time.monotonic() - started:.1f} s for {sizes.rounds} round(s)")
        cpu = _cpu_seconds(proc)
        idle_before = sum(cpu())
        time.sleep(IDLE_WINDOW_S)
        idle_rate = (sum(cpu()) - idle_before) / IDLE_WINDOW_S
        figures["node_idle_cpu_percent"] = round(idle_rate * 100, 1)
        half = UNITS // 2
        variants: dict[str, Callable[[int], tuple[int, int]]] = {
            "cases": lambda r: _move(m, d, [(stock[r].cases, [])]),
            "loose_quantity": lambda r: _move(m, d, [([], [LotQuantity(key, UNITS)])]),
            "serialised_loose": lambda r: _move(
                m, d, [(stock[r].units[:half], []), (stock[r].units[half:], [])]
            ),
            "serialised_cases": lambda r: _move(m, d, [(stock[r].pallets, [])]),
        }
        for name, run in variants.items():
            figures.update(_measure(name, run, sizes.rounds, cpu, idle_rate, say))
        figures["serialised_loose_gas_per_cases_gas"] = round(
            figures["serialised_loose_gas"] / max(figures["cases_gas"], 1), 1
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(json.dumps({"suite": "lots", "figures": figures}))
    return figures
