"""The gas report measures the properties that matter for the custody path, at 1 and 10 items
(docs/GAS.md is generated at 1, 10 and 100)."""

from __future__ import annotations

import pytest

from medledger.ops.bench.gas_report import (
    OPERATIONS,
    RECEIVE_ALL,
    RECEIVE_CONTAINER,
    SHIP_CONTAINER,
    SHIP_UNITS,
    GasRow,
    measure,
    render,
)

# One ship per loose unit costs one cold write to an existing slot (2,100 + 2,900 gas), the
# per-item checks (a warm external call to Devices.lotFacts, the licence check, keccak of
# the id list) and 32 bytes of calldata and event data: about 7,700 gas. A per-item cost
# above 15,000 means the custody path started creating a storage slot per moved item
# (22,100 gas each) or making extra cold calls per item.
MAX_SHIP_GAS_PER_EXTRA_ITEM = 15_000


@pytest.fixture(scope="module")
def rows() -> list[GasRow]:
    return measure((1, 10))


def gas(rows: list[GasRow], operation: str, items: int) -> int:
    (row,) = [r for r in rows if r.operation == operation and r.items == items]
    return row.gas


def test_shipping_one_container_of_ten_units_costs_less_than_ten_loose_units(rows):
    assert gas(rows, SHIP_CONTAINER, 10) < gas(rows, SHIP_UNITS, 10)


def test_receiving_a_container_costs_the_same_whatever_it_holds(rows):
    # Only calldata differs (a zero byte costs 4 gas, others 16, and signatures vary).
    assert abs(gas(rows, RECEIVE_CONTAINER, 10) - gas(rows, RECEIVE_CONTAINER, 1)) < 1_000
    assert gas(rows, RECEIVE_CONTAINER, 10) < gas(rows, RECEIVE_ALL, 10)


def test_loose_ship_gas_grows_by_a_bounded_amount_per_extra_item(rows):
    per_extra_item = (gas(rows, SHIP_UNITS, 10) - gas(rows, SHIP_UNITS, 1)) / 9
    assert 0 < per_extra_item < MAX_SHIP_GAS_PER_EXTRA_ITEM


def test_shipping_a_single_lot_pallet_costs_the_same_whatever_it_holds(rows):
    # The pallet's checks read its distinct lots (one here), not every unit inside.
    assert abs(gas(rows, SHIP_CONTAINER, 10) - gas(rows, SHIP_CONTAINER, 1)) < 1_000


def test_every_operation_is_measured_and_one_offs_only_once(rows):
    assert {r.operation for r in rows} == set(OPERATIONS)
    assert all(r.gas > 21_000 for r in rows)
    assert [r.items for r in rows if r.operation == "recallLot"] == [1]


def test_render_writes_a_table_row_for_every_operation(rows):
    text = render(rows)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| operation | 1 item | 10 items |")
    assert [line.split(" | ")[0].removeprefix("| ") for line in table[1:]] == list(OPERATIONS)


def test_render_shows_gas_per_item_and_marginal_cost():
    rows = [GasRow(SHIP_UNITS, 1, 100_000), GasRow(SHIP_UNITS, 10, 145_000)]
    (line,) = [x for x in render(rows).splitlines() if x.startswith(f"| {SHIP_UNITS}")]
    assert line == f"| {SHIP_UNITS} | 100,000 | 145,000 | 14,500 | 5,000 |"
