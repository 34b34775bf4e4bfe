"""The query layer against the contract's own view, and its plans under EXPLAIN."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import event

from medledger.indexer.db import Sql, make_engine
from medledger.indexer.items import EventKind
from medledger.indexer.queries import (
    container_contents,
    containers_holding,
    expiring_stock,
    inspection,
    inventory,
    item_facts,
    lot_trace,
    member_scan_pairs,
    recall_scope,
    record_scan,
    unit_history,
    used_unit_scans,
)
from medledger.indexer.queries.epcis import (
    event_items,
    event_keys,
    event_reference,
    first_event_at,
    item_ids,
    lots_recalled_at,
    open_shipment_holding,
    storage_range,
)
from medledger.indexer.queries.lot_quantities import (
    base_product,
    lot_holdings,
    lot_moves,
    lot_quantity_reach,
    lot_stock,
    lot_tracked,
    units_gone,
    units_in_supply_chain,
)
from medledger.indexer.queries.progress import indexed_block
from medledger.indexer.queries.shipments import shipment, shipment_lines
from medledger.indexer.queries.trace import held_by, item_exists, lot_reached
from medledger.indexer.source import Web3LogSource
from medledger.sdk.model import ItemStatus
from tests.indexer.conftest import DevRun, connect, index_all

HOT_TABLES = ("items", "item_events", "processed_logs", "verification_scans", "lot_reach")
DERIVED = {"tree", "t", "up", "u", "s", "x", "y"}  # recursive CTEs and subqueries (aliases)


@pytest.fixture
def indexed(devchain_run: DevRun, db_url: str) -> str:
    index_all(db_url, Web3LogSource(devchain_run.chain.w3), devchain_run.run.deployment)
    return db_url


def _view(devchain_run: DevRun, keys):
    ledger = devchain_run.run.backend.admin
    return {k: ledger.item(k) for k in keys}


def test_unit_history_lists_every_custody_step_with_its_chain_reference(devchain_run, indexed):
    run = devchain_run.run
    w3 = devchain_run.chain.w3
    lot_key = run.plan.lot_keys[0]
    unit = run.plan.units[lot_key][0]
    with connect(indexed) as conn:
        history = unit_history(conn, unit)
    kinds = [s.kind for s in history]
    assert kinds[:4] == [
        EventKind.COMMISSIONED,
        EventKind.PACKED,
        EventKind.PACKED,
        EventKind.SHIPPED,
    ]
    assert kinds[-1] in (EventKind.DISPENSED, EventKind.DESTROYED, EventKind.UNPACKED)
    assert history[-1].status == devchain_run.run.backend.admin.item(unit).status
    for step in history:
        receipt = w3.eth.get_transaction_receipt(step.tx_hash)
        assert receipt["blockNumber"] == step.block_number
        assert step.log_index in [log["logIndex"] for log in receipt["logs"]]
        assert step.timestamp == w3.eth.get_block(step.block_number)["timestamp"]
    with connect(indexed) as conn:
        assert unit_history(conn, b"\x01" * 32) == []


def test_item_facts_give_state_lot_product_and_last_chain_reference(devchain_run, indexed):
    run = devchain_run.run
    ledger = run.backend.admin
    lot_key = run.plan.lot_keys[0]
    unit = run.plan.units[lot_key][-1]
    with connect(indexed) as conn:
        facts = item_facts(conn, unit)
        history = unit_history(conn, unit)
        assert item_facts(conn, b"\x03" * 32) is None
    state = ledger.item(unit)
    lot = ledger.lot(lot_key)
    assert facts is not None and lot is not None
    assert (facts.holder.address, facts.status, facts.parent) == (
        state.holder,
        state.status,
        state.parent_id,
    )
    assert (facts.gtin, facts.expiry, facts.active_recall) == (
        lot.gtin,
        lot.expiry,
        lot.active_recall,
    )
    assert facts.manufacturer is not None
    assert facts.manufacturer.address == run.backend.ledgers[run.plan.manufacturers[0]].address
    last = history[-1]
    assert (facts.last_block, facts.last_tx_hash, facts.last_log_index) == (
        last.block_number,
        last.tx_hash,
        last.log_index,
    )


def test_lot_trace_counts_current_holders_like_the_contract(devchain_run, indexed):
    run = devchain_run.run
    for lot_key in run.plan.lot_keys:
        with connect(indexed) as conn:
            trace = lot_trace(conn, lot_key)
        assert trace is not None
        view = _view(devchain_run, run.plan.units[lot_key])
        expected = Counter(state.holder for state in view.values())
        assert {h.holder.address: h.total for h in trace.holders} == dict(expected)
        reached = {org.address for org, _block in trace.reached}
        assert set(expected) <= reached
    with connect(indexed) as conn:
        assert lot_trace(conn, b"\x02" * 32) is None


def test_container_contents_and_holding_containers_follow_the_packing(devchain_run, indexed):
    run = devchain_run.run
    ledger = run.backend.admin

    def expected_contents(cid, depth=1):
        out = []
        for child in ledger.children(cid):
            out.append((child, depth, cid))
            out += expected_contents(child, depth + 1)
        return out

    nested = 0
    for cid in run.plan.containers:
        with connect(indexed) as conn:
            contents = container_contents(conn, cid)
        got = sorted((p.item_key, p.depth, p.parent) for p in contents)
        assert got == sorted(expected_contents(cid))
        nested += any(p.depth == 2 for p in contents)
    assert nested >= 1
    for key in [k for ids in run.plan.units.values() for k in ids]:
        chain_parents = []
        parent = ledger.item(key).parent_id
        while parent is not None:
            chain_parents.append(parent)
            parent = ledger.item(parent).parent_id
        with connect(indexed) as conn:
            assert containers_holding(conn, key) == chain_parents


def test_recall_scope_reports_outstanding_returned_and_destroyed_units(devchain_run, indexed):
    run = devchain_run.run
    assert run.plan.recalled, "the small plan recalls at least one lot"
    with connect(indexed) as conn:
        scope = recall_scope(conn, 1)
        assert recall_scope(conn, 999) is None
    assert scope is not None and scope.open and scope.level == 2
    view = _view(devchain_run, run.plan.units[run.plan.recalled[0]])
    maker = scope.manufacturer.address
    in_field = (ItemStatus.ACTIVE, ItemStatus.IN_TRANSIT, ItemStatus.QUARANTINED)
    assert scope.destroyed == sum(s.status == ItemStatus.DESTROYED for s in view.values())
    assert scope.destroyed > 0
    assert scope.outstanding == sum(
        s.holder != maker and s.status in in_field for s in view.values()
    )
    assert scope.returned == sum(
        s.holder == maker and s.status != ItemStatus.DESTROYED for s in view.values()
    )


def test_inventory_and_expiring_stock_match_the_contract_view(devchain_run, indexed):
    run = devchain_run.run
    units = [k for ids in run.plan.units.values() for k in ids]
    view = _view(devchain_run, units)
    in_stock = (ItemStatus.ACTIVE, ItemStatus.IN_TRANSIT, ItemStatus.QUARANTINED)
    holders = {s.holder for s in view.values()}
    for holder in holders:
        with connect(indexed) as conn:
            lines = inventory(conn, holder)
        assert sum(line.units for line in lines) == sum(
            s.holder == holder and s.status in in_stock for s in view.values()
        )
    now = run.backend.now()
    soon = run.plan.units[run.plan.lot_keys[1]]  # lot 1 expires 20 days after setup
    with connect(indexed) as conn:
        lines = expiring_stock(conn, now=now, within_days=30)
        assert expiring_stock(conn, now=now, within_days=5) == []
    assert {line.lot_number for line in lines} == {"L000001"}
    assert sum(line.units for line in lines) == sum(view[k].status in in_stock for k in soon)


def test_storage_range_is_the_narrowest_range_of_the_products_a_shipment_shipped(
    devchain_run, indexed
):
    run = devchain_run.run
    ledger = run.backend.admin
    lots_shipped: dict[int, set[bytes]] = {}
    with connect(indexed) as conn:
        for lot_key in run.plan.lot_keys:
            for unit in run.plan.units[lot_key]:
                for step in unit_history(conn, unit):
                    if step.kind is EventKind.SHIPPED and step.shipment_id is not None:
                        lots_shipped.setdefault(step.shipment_id, set()).add(lot_key)
        ranges = {sid: storage_range(conn, sid) for sid in lots_shipped}
        assert storage_range(conn, 10**6) is None
    assert lots_shipped
    for sid, lots in lots_shipped.items():
        products = [ledger.product(ledger.lot(k).gtin) for k in lots]
        expected = (max(p.temp_min for p in products), min(p.temp_max for p in products))
        assert ranges[sid] == expected, sid


def test_scan_reads_pair_member_scans_in_other_places_and_find_scans_of_used_units(
    devchain_run, indexed
):
    """Only the rows: which are anomalies is domain.scan_rules's (tests/api/
    test_verify_alerts_agree.py)."""
    run = devchain_run.run
    ledger = run.backend.admin
    units = [k for ids in run.plan.units.values() for k in ids]
    dispensed = next(k for k in units if ledger.item(k).status == ItemStatus.DISPENSED)
    active = next(k for k in units if ledger.item(k).status == ItemStatus.ACTIVE)
    later = run.backend.now() + 3600
    with connect(indexed) as conn:
        record_scan(conn, active, scanned_at=later, location="Shanghai", scanner="s1")
        record_scan(conn, active, scanned_at=later + 60, location="Urumqi", scanner="s2")
        record_scan(conn, active, scanned_at=later + 7200, location="Lhasa", scanner="s3")
        record_scan(conn, dispensed, scanned_at=later, location="Shanghai", scanner="s1")
        conn.commit()
        record_scan(conn, active, scanned_at=later + 7260, location="Lhasa", scanner=None)
        record_scan(conn, active, scanned_at=later + 7320, location="Xian", scanner=None)
        conn.commit()
        pairs = member_scan_pairs(conn, since=later - 10, window_seconds=600)
        used = used_unit_scans(conn, since=later - 10)
    assert [(p.scan.scan.location, p.earlier.location, p.earlier.scanner) for p in pairs] == [
        ("Urumqi", "Shanghai", "s1"),
        ("Xian", "Lhasa", "s3"),  # the anonymous scan in Lhasa is no member's
    ]
    ((scan, status, used_at),) = [(u.scan.scan, u.status, u.used_at) for u in used]
    assert (scan.item_key, scan.location, status) == (dispensed, "Shanghai", ItemStatus.DISPENSED)
    assert used_at <= later


def _captured_statements(db_url: str, devchain_run: DevRun):
    """Run every query once and capture the SQL and parameters it sent."""
    run = devchain_run.run
    engine = make_engine(db_url)
    captured: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    unit = run.plan.units[run.plan.lot_keys[0]][0]
    maker = run.backend.ledgers[run.plan.manufacturers[0]].address
    try:
        with engine.connect() as conn:
            unit_history(conn, unit)
            item_facts(conn, unit)
            lot_trace(conn, run.plan.lot_keys[0])
            container_contents(conn, run.plan.containers[-1])
            containers_holding(conn, unit)
            recall_scope(conn, 1)
            inventory(conn, maker)
            lot_stock(Sql(conn), maker)
            lot_holdings(Sql(conn), 1)
            lot_moves(Sql(conn), 1)
            lot_quantity_reach(Sql(conn), 1)
            units_gone(Sql(conn), 1)
            units_in_supply_chain(Sql(conn), 1)
            lot_tracked(Sql(conn), 1)
            base_product(Sql(conn), "09506000134352")
            expiring_stock(conn, now=0, within_days=30)
            member_scan_pairs(conn, since=0, window_seconds=600)
            used_unit_scans(conn, since=0)
            item_exists(conn, unit)
            held_by(conn, unit, maker)
            lot_reached(conn, 1, maker)
            shipment_lines(conn, [unit, run.plan.containers[-1]])
            shipment(conn, 1)
            indexed_block(conn)
            (row,) = item_ids(conn, [unit])
            first = event_keys(conn, kinds=list(EventKind), after=0, limit=10)[0]
            event_keys(conn, kinds=[EventKind.SHIPPED], after=0, limit=10, items=[row])
            event_keys(conn, kinds=[first.kind], after=0, limit=10, from_row=1, before_row=99)
            event_items(conn, first.block_number, first.log_index, first.kind)
            event_reference(conn, first.block_number, first.log_index)
            lots_recalled_at(conn, [1, 2], first.block_number)
            open_shipment_holding(conn, [unit])
            first_event_at(conn, 0)
            storage_range(conn, 1)
            for side in ("inbound", "outbound", "settled"):
                inspection.shipments_in(conn, maker, side=side, start=0, end=2**40, limit=10)
            inspection.shipment_lots(conn, [1, 2])
    finally:
        engine.dispose()
    return captured


def test_every_query_runs_on_an_index_without_full_scans_of_hot_tables(devchain_run, indexed):
    statements = _captured_statements(indexed, devchain_run)
    assert len(statements) >= 10
    with connect(indexed) as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            # Tiny test tables make any plan cheap; forbid seq scans so a missing index shows.
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in statements:
            prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, params).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            if pg:
                for table in HOT_TABLES:
                    bad = re.search(rf"Seq Scan on {table}\b", plan)
                    assert not bad, f"full scan of {table} in:\n{statement}\n{plan}"
            else:
                # SQLite names tables by alias: any SCAN (full table or full index) of a
                # real table fails; scanning a CTE queue or a derived table is fine.
                for scanned in re.findall(r"^SCAN (\w+)", plan, re.M):
                    assert scanned in DERIVED, f"full scan of {scanned} in:\n{statement}\n{plan}"
