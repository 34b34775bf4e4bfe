from __future__ import annotations

from rich.console import Console

from medledger.ops.demo.lifecycle import SERIAL, run_lifecycle
from medledger.ops.demo.unit_trace import member_names, unit_trace
from medledger.sdk.gs1 import item_id, unit_path
from medledger.sdk.model import ItemStatus


def test_the_demo_unit_ends_dispensed_at_the_hospital_with_a_full_trace() -> None:
    console = Console(record=True, width=200)
    c = run_lifecycle(console)
    unit = item_id(unit_path(c.gtin, SERIAL))
    state = c.hospital.item(unit)
    assert (state.holder, state.status) == (c.hospital.address, ItemStatus.DISPENSED)

    trace = unit_trace(c.admin, unit)
    assert [s.step for s in trace] == [
        "commissioned",
        "packed",
        "shipped (#1)",
        "received (#1)",
        "unpacked",
        "shipped (#2)",
        "received (#2)",
        "dispensed",
    ]
    names = member_names(c.admin)
    assert [names[s.holder] for s in trace][-1] == "Ruijin Hospital"
    assert trace[3].holder == c.distributor.address
    blocks = [s.block for s in trace]
    assert blocks == sorted(blocks)
    text = console.export_text()
    assert "DISPENSED at Ruijin Hospital" in text
    assert "SSCC 095060000000000015" in text
