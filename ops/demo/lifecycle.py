"""`medledger demo lifecycle`: one device's whole life on an in-process chain.

Registers the consortium, licenses the partners, registers the product and lot, then
commissions a unit, packs it in a case, ships the case to a distributor (who inspects and
accepts it), unpacks, ships the unit on to a hospital and dispenses it, and prints the
unit's trace as read back from the chain's logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.ops.demo.notes import unkept_commitment
from medledger.ops.demo.unit_trace import member_names, unit_trace
from medledger.sdk.gs1 import Udi, make_sscc
from medledger.sdk.ledger import TxResult

__all__ = ["run_lifecycle"]

SERIAL = "SN000001"
T = TypeVar("T")


def run_lifecycle(console: Console | None = None) -> Consortium:
    out = console or Console()
    chain = DevChain.start(accounts=8)
    out.print(f"[bold]MedLedger demo[/] · in-process py-evm chain {chain.w3.eth.chain_id}")
    c = bootstrap_consortium(chain.w3, chain.accounts[:7], now=chain.now())
    names = member_names(c.admin)
    out.print(
        f"Consortium: {len(names)} members admitted and licensed by "
        f"{names[c.regulator.address]}; Items contract {c.deployment.items}"
    )
    product = c.manufacturer.product(c.gtin)
    assert product is not None
    out.print(
        f"Product GTIN {c.gtin}: class {product.device_class}, storage "
        f"{product.temp_min / 10:.1f}-{product.temp_max / 10:.1f} °C; lot {c.lot}"
    )

    def step(label: str, action: Callable[[], TxResult[T]]) -> TxResult[T]:
        result = action()
        out.print(f"  ✓ {label:<58} gas {result.gas_used:>7,}")
        return result

    unit = Udi(gtin=c.gtin, serial=SERIAL, lot=c.lot)
    commissioned = step(
        f"commission {unit.element_string()}",
        lambda: c.manufacturer.commission(c.lot_key, [SERIAL]),
    )
    (unit_id,) = commissioned.value
    sscc = make_sscc(extension=0, company_prefix=c.prefix, serial_reference=1)
    case_id = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    step(f"pack into case SSCC {sscc}", lambda: c.manufacturer.pack(case_id, [unit_id]))
    delivery_note = unkept_commitment({"note": "delivery note DN-0001"})
    first = step(
        "ship case: manufacturer → distributor",
        lambda: c.manufacturer.ship(c.distributor.address, [case_id], document_hash=delivery_note),
    )
    step(
        "receive: inspected at 5.2-7.9 °C, accepted",
        lambda: c.distributor.receive(
            first.value,
            temp_min=52,
            temp_max=79,
            inspection_hash=unkept_commitment({"note": "inbound inspection IR-0001"}),
        ),
    )
    step("unpack case", lambda: c.distributor.unpack(case_id))
    second = step(
        "ship unit: distributor → hospital",
        lambda: c.distributor.ship(c.hospital.address, [unit_id]),
    )
    step(
        "receive: inspected at 4.0-8.0 °C, accepted",
        lambda: c.hospital.receive(second.value, temp_min=40, temp_max=80),
    )
    step(
        "dispense (implanted)",
        lambda: c.hospital.dispense(
            [unit_id], record_hash=unkept_commitment({"use": "implant", "reference": "P-77"})
        ),
    )

    state = c.hospital.item(unit_id)
    table = Table(title=f"Trace of {unit.digital_link_path} (item id 0x{unit_id.hex()[:16]}…)")
    for column in ("#", "step", "custody after the step", "via", "block", "tx · log"):
        table.add_column(column, no_wrap=True)
    containers = {case_id: f"SSCC {sscc}"}
    for i, s in enumerate(unit_trace(c.admin, unit_id), start=1):
        table.add_row(
            str(i),
            s.step,
            names.get(s.holder, s.holder),
            containers.get(s.via, "") if s.via else "",
            str(s.block),
            f"{s.tx_hash[:10]} · {s.log_index}",
        )
    out.print(table)
    out.print(f"Final state: {state.status.name} at {names.get(state.holder, state.holder)}")
    return c
