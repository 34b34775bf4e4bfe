"""Custody by quantity (Items.sol with its ItemsLots module): lot-tracked devices carry only
DI + lot + expiry, so a holder owns a quantity of a lot, not ids. Every quantity rule with
its custom error and arguments; cases (package levels) packed from and unpacked into loose
quantities; a pallet mixing serialised units and cases; and the conservation invariant (a
lot's units over all holders, in transit and in cases equal what was commissioned, less
what was dispensed or destroyed) after each scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import DEMO_PREFIX, YEAR, Consortium
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import lot_key, make_gtin, make_sscc, parse_code
from medledger.sdk.ledger import Ledger, case_id
from medledger.sdk.messages import LotQuantity
from medledger.sdk.model import ItemStatus, LicenceKind, ShipmentStatus

GLOVES = make_gtin(indicator=0, company_prefix=DEMO_PREFIX, item_reference=55555)
CASE_OF_10 = make_gtin(indicator=1, company_prefix=DEMO_PREFIX, item_reference=55555)
LOT_1, LOT_2 = "G2026A", "G2026B"
DAY = 24 * 3600


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args


@dataclass
class Lots:
    """The lot-tracked product GLOVES (class II, 2.0-8.0 °C), two lots and a case of 10."""

    c: Consortium
    key1: bytes
    key2: bytes
    index1: int
    index2: int
    expiry: int

    @property
    def m(self) -> Ledger:
        return self.c.manufacturer

    def q(self, key: bytes, quantity: int) -> LotQuantity:
        return LotQuantity(key, quantity)

    def balance(self, ledger: Ledger, index: int | None = None) -> tuple[int, int, int]:
        return self.m.lot_balance(index or self.index1, ledger.address)

    def assert_conserved(self, cases: tuple[bytes, ...] = ()) -> None:
        """Loose balances + live cases = supply, for each lot."""
        members = [self.c.by_name(n) for n in MEMBERS]
        for index in (self.index1, self.index2):
            loose = sum(sum(self.m.lot_balance(index, x.address)) for x in members)
            packed = sum(
                self.m.case_quantity(i)
                for i in cases
                if self.m.item(i).lot_index == index
                and self.m.item(i).status
                not in (ItemStatus.UNPACKED, ItemStatus.DESTROYED, ItemStatus.DISPENSED)
            )
            assert loose + packed == self.m.lot_supply(index)


MEMBERS = ("manufacturer", "distributor", "logistics", "hospital", "hospital2", "regulator")


@pytest.fixture
def lots(consortium: Consortium, chain: DevChain) -> Lots:
    m = consortium.manufacturer
    now = chain.now()
    m.register_product(
        GLOVES,
        company_prefix=DEMO_PREFIX,
        device_class=2,
        certificate_hash=keccak(text="cert"),
        registration_expiry=now + 2 * YEAR,
        temp_min=20,
        temp_max=80,
        serialised=False,
    )
    expiry = now + YEAR
    key1 = m.register_lot(GLOVES, LOT_1, production_date=now - DAY, expiry=expiry).value
    key2 = m.register_lot(GLOVES, LOT_2, production_date=now - DAY, expiry=expiry).value
    m.register_package_level(CASE_OF_10, child_gtin=GLOVES, quantity=10)
    m.commission_lot(key1, 1000)
    m.commission_lot(key2, 50)
    index1, index2 = (m.lot(k).lot_index for k in (key1, key2))  # type: ignore[union-attr]
    return Lots(consortium, key1, key2, index1, index2, expiry)


def send(
    lots: Lots,
    sender: Ledger,
    receiver: Ledger,
    *quantities: LotQuantity,
    ids: list[bytes] | None = None,
) -> int:
    return sender.ship(receiver.address, ids or [], lots=quantities).value


# ---------------------------------------------------------------- commission


def test_commissioning_a_quantity_credits_the_manufacturers_loose_balance(lots: Lots) -> None:
    m = lots.m
    result = m.commission_lot(lots.key1, 25)
    assert result.event("LotCommissioned")["quantity"] == 25
    balance = result.event("LotBalance")
    assert (balance["lotIndex"], balance["holder"], balance["active"]) == (
        lots.index1,
        m.address,
        1025,
    )
    assert lots.balance(m) == (1025, 0, 0)
    assert m.lot_supply(lots.index1) == 1025
    assert lot_key(GLOVES, LOT_1) == lots.key1
    lots.assert_conserved()


def test_commission_quantity_rules(lots: Lots, consortium: Consortium, chain: DevChain) -> None:
    m, d = lots.m, consortium.distributor
    expect_revert(
        lambda: m.commission_lot(lots.key1, 0), "ItemsZeroQuantity", {"lotKey": lots.key1}
    )
    expect_revert(
        lambda: d.commission_lot(lots.key1, 5), "ItemsUnauthorized", {"caller": d.address}
    )
    # The demo product is serialised: its units are commissioned by serial, not by quantity.
    expect_revert(
        lambda: m.commission_lot(consortium.lot_key, 5),
        "ItemsSerialisedLot",
        {"lotKey": consortium.lot_key},
    )
    chain.advance(lots.expiry - chain.now() + 2)
    expect_revert(
        lambda: m.commission_lot(lots.key1, 5),
        "ItemsLotExpired",
        {"id": lots.key1, "expiry": lots.expiry},
    )


# ---------------------------------------------------------------- ship and receive


def test_shipping_quantities_moves_them_in_transit_then_to_the_receiver(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300))
    assert lots.balance(m) == (700, 0, 300)
    assert m.shipment_lots(shipment) == [(lots.key1, lots.index1, 300)]
    assert m.shipment(shipment).status == ShipmentStatus.IN_TRANSIT
    lots.assert_conserved()
    result = d.receive(shipment, temp_min=50, temp_max=80)
    event = result.event("ShipmentLotsReceived")
    assert [tuple(x) for x in event["accepted"]] == [(lots.key1, 300)]
    assert lots.balance(m) == (700, 0, 0)
    assert lots.balance(d) == (300, 0, 0)
    assert m.shipment(shipment).status == ShipmentStatus.RECEIVED
    lots.assert_conserved()


def test_over_shipping_zero_quantities_and_unknown_lots_are_refused(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    expect_revert(
        lambda: send(lots, m, d, lots.q(lots.key1, 1001)),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": m.address, "available": 1000, "requested": 1001},
    )
    expect_revert(
        lambda: send(lots, m, d, lots.q(lots.key1, 0)), "ItemsZeroQuantity", {"lotKey": lots.key1}
    )
    unknown = lot_key(GLOVES, "NOPE")
    expect_revert(
        lambda: send(lots, m, d, lots.q(unknown, 1)), "DevicesUnknownLot", {"lotKey": unknown}
    )
    # The distributor holds none of the lot.
    expect_revert(
        lambda: send(lots, d, m, lots.q(lots.key1, 1)),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": d.address, "available": 0, "requested": 1},
    )
    assert lots.balance(m) == (1000, 0, 0)


def test_a_lot_appears_once_per_order_and_in_ascending_key_order(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    low, high = sorted((lots.key1, lots.key2))
    order, signature = m.sign_ship(d.address, [], lots=[lots.q(low, 1)])
    # sign_ship sorts; build the unsorted and duplicated orders by hand.
    from dataclasses import replace

    from medledger.sdk.messages import sign_order

    for bad, culprit in (
        ((lots.q(high, 1), lots.q(low, 1)), low),
        ((lots.q(low, 1), lots.q(low, 2)), low),
    ):
        unsorted = replace(order, lots=bad)
        expect_revert(
            lambda o=unsorted: m.relay_ship(o, sign_order(m.account, o, m.domain)),
            "ItemsLotsNotAscending",
            {"lotKey": culprit},
        )
    assert m.relay_ship(order, signature).value > 0


def test_the_receiver_accepts_part_and_rejects_part_of_each_lot(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300), lots.q(lots.key2, 20))
    result = d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 40)])
    event = result.event("ShipmentLotsReceived")
    accepted = {bytes(k): q for k, q in event["accepted"]}
    assert accepted == {lots.key1: 260, lots.key2: 20}
    assert [tuple(x) for x in event["rejected"]] == [(lots.key1, 40)]
    assert lots.balance(m) == (740, 0, 0)
    assert lots.balance(d) == (260, 0, 0)
    assert lots.balance(m, lots.index2) == (30, 0, 0)
    assert lots.balance(d, lots.index2) == (20, 0, 0)
    lots.assert_conserved()


def test_rejecting_everything_returns_it_all_to_the_sender(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300))
    d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 300)])
    assert m.shipment(shipment).status == ShipmentStatus.REJECTED
    assert lots.balance(m) == (1000, 0, 0)
    assert lots.balance(d) == (0, 0, 0)


def test_rejecting_more_than_shipped_or_a_lot_not_shipped_is_refused(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300))
    expect_revert(
        lambda: d.receive(
            shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 301)]
        ),
        "ItemsRejectedQuantityExceeds",
        {"lotKey": lots.key1, "shipped": 300, "rejected": 301},
    )
    expect_revert(
        lambda: d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key2, 1)]),
        "ItemsRejectedLotNotInShipment",
        {"lotKey": lots.key2},
    )
    expect_revert(
        lambda: d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 0)]),
        "ItemsZeroQuantity",
        {"lotKey": lots.key1},
    )
    assert lots.balance(m) == (700, 0, 300)


def test_cancelling_returns_the_quantities_to_the_sender(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300), lots.q(lots.key2, 5))
    m.cancel(shipment)
    assert lots.balance(m) == (1000, 0, 0)
    assert lots.balance(m, lots.index2) == (50, 0, 0)
    assert m.shipment(shipment).status == ShipmentStatus.CANCELLED
    lots.assert_conserved()


# ---------------------------------------------------------------- GSP rules on quantities


def test_a_temperature_excursion_quarantines_the_accepted_quantity(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    shipment = send(lots, m, d, lots.q(lots.key1, 300))
    result = d.receive(shipment, temp_min=50, temp_max=95, rejected_lots=[lots.q(lots.key1, 100)])
    assert result.event("ShipmentLotsReceived")["quarantined"] is True
    assert lots.balance(d) == (0, 200, 0)
    assert lots.balance(m) == (800, 0, 0)  # the rejected part goes back Active
    expect_revert(
        lambda: send(lots, d, lots.c.hospital, lots.q(lots.key1, 1)),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": d.address, "available": 0, "requested": 1},
    )
    d.release_lots(d.address, [lots.q(lots.key1, 200)])
    assert lots.balance(d) == (200, 0, 0)
    lots.assert_conserved()


def test_quarantine_and_release_of_quantities(lots: Lots) -> None:
    m, r, d = lots.m, lots.c.regulator, lots.c.distributor
    r.quarantine_lots(m.address, [lots.q(lots.key1, 100)], reason_hash=keccak(text="suspect"))
    assert lots.balance(m) == (900, 100, 0)
    expect_revert(
        lambda: d.quarantine_lots(m.address, [lots.q(lots.key1, 1)]),
        "ItemsUnauthorized",
        {"caller": d.address},
    )
    expect_revert(
        lambda: m.release_lots(m.address, [lots.q(lots.key1, 101)]),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": m.address, "available": 100, "requested": 101},
    )
    m.release_lots(m.address, [lots.q(lots.key1, 60)])
    assert lots.balance(m) == (960, 40, 0)
    lots.assert_conserved()


def test_a_recalled_lots_quantities_return_only_to_the_manufacturer_and_are_not_dispensed(
    lots: Lots,
) -> None:
    m, d, h = lots.m, lots.c.distributor, lots.c.hospital
    shipment = send(lots, m, h, lots.q(lots.key1, 100))
    h.receive(shipment, temp_min=50, temp_max=80)
    recall_id = lots.c.regulator.recall_lot(lots.key1, level=1, reason_hash=keccak(text="r")).value
    expect_revert(
        lambda: send(lots, h, d, lots.q(lots.key1, 10)),
        "ItemsRecalledReturnOnly",
        {"id": lots.key1, "manufacturer": m.address},
    )
    expect_revert(
        lambda: h.dispense_lots([lots.q(lots.key1, 1)]),
        "ItemsRecalled",
        {"id": lots.key1, "recallId": recall_id},
    )
    back = send(lots, h, m, lots.q(lots.key1, 100))
    m.receive(back, temp_min=50, temp_max=80)
    m.destroy_lots([lots.q(lots.key1, 1000)], record_hash=keccak(text="destroyed"))
    assert lots.balance(m) == (0, 0, 0)
    assert m.lot_supply(lots.index1) == 0
    lots.assert_conserved()


def test_an_expired_lot_neither_ships_nor_is_dispensed(lots: Lots, chain: DevChain) -> None:
    m, h = lots.m, lots.c.hospital
    shipment = send(lots, m, h, lots.q(lots.key1, 10))
    h.receive(shipment, temp_min=50, temp_max=80)
    chain.advance(lots.expiry - chain.now() + 2)
    expect_revert(
        lambda: send(lots, m, h, lots.q(lots.key1, 1)),
        "ItemsLotExpired",
        {"id": lots.key1, "expiry": lots.expiry},
    )
    expect_revert(
        lambda: h.dispense_lots([lots.q(lots.key1, 1)]),
        "ItemsLotExpired",
        {"id": lots.key1, "expiry": lots.expiry},
    )


def test_an_unqualified_receiver_gets_no_quantities(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    lots.c.regulator.revoke_licence(d.address, kind=LicenceKind.DISTRIBUTION)
    expect_revert(
        lambda: send(lots, m, d, lots.q(lots.key1, 1)),
        "ItemsReceiverNotQualified",
        {"receiver": d.address, "deviceClass": 2},
    )


# ---------------------------------------------------------------- dispense and destroy


def test_a_hospital_dispenses_quantities(lots: Lots) -> None:
    m, h = lots.m, lots.c.hospital
    shipment = send(lots, m, h, lots.q(lots.key1, 10))
    h.receive(shipment, temp_min=50, temp_max=80)
    h.dispense_lots([lots.q(lots.key1, 4)], record_hash=keccak(text="procedure"))
    assert lots.balance(h) == (6, 0, 0)
    assert m.lot_supply(lots.index1) == 996
    expect_revert(
        lambda: h.dispense_lots([lots.q(lots.key1, 7)]),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": h.address, "available": 6, "requested": 7},
    )
    expect_revert(
        lambda: m.dispense_lots([lots.q(lots.key1, 1)]), "ItemsUnauthorized", {"caller": m.address}
    )
    expect_revert(lambda: h.dispense_lots([]), "ItemsBatchSize", {"count": 0, "max": 500})
    lots.assert_conserved()


def test_destroying_takes_quarantined_units_first(lots: Lots) -> None:
    m = lots.m
    m.quarantine_lots(m.address, [lots.q(lots.key1, 30)])
    m.destroy_lots([lots.q(lots.key1, 50)])
    assert lots.balance(m) == (950, 0, 0)
    expect_revert(
        lambda: m.destroy_lots([lots.q(lots.key1, 951)]),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key1, "holder": m.address, "available": 950, "requested": 951},
    )
    lots.assert_conserved()


# ---------------------------------------------------------------- cases


def test_packing_cases_takes_loose_units_and_unpacking_gives_them_back(lots: Lots) -> None:
    m, d = lots.m, lots.c.distributor
    result = m.pack_cases(CASE_OF_10, LOT_1, ["C1", "C2", "C3"])
    ids = result.value
    assert ids == [case_id(CASE_OF_10, s) for s in ("C1", "C2", "C3")]
    assert result.event("CasesPacked")["quantity"] == 10
    assert lots.balance(m) == (970, 0, 0)
    assert [m.case_quantity(i) for i in ids] == [10, 10, 10]
    state = m.item(ids[0])
    assert (state.holder, state.status, state.lot_index) == (
        m.address,
        ItemStatus.ACTIVE,
        lots.index1,
    )
    lots.assert_conserved(tuple(ids))
    shipment = send(lots, m, d, ids=ids[:2])
    d.receive(shipment, temp_min=50, temp_max=80, rejected_ids=[ids[1]])
    d.unpack_cases([ids[0]])
    assert lots.balance(d) == (10, 0, 0)
    assert d.item(ids[0]).status == ItemStatus.UNPACKED
    lots.assert_conserved(tuple(ids))
    expect_revert(
        lambda: d.unpack_cases([ids[0]]),
        "ItemsWrongStatus",
        {"id": ids[0], "status": ItemStatus.UNPACKED},
    )


def test_case_rules(lots: Lots, consortium: Consortium) -> None:
    m, h = lots.m, consortium.hospital
    expect_revert(
        lambda: m.pack_cases(CASE_OF_10, LOT_2, [f"S{i}" for i in range(6)]),
        "ItemsInsufficientQuantity",
        {"lotKey": lots.key2, "holder": m.address, "available": 50, "requested": 60},
    )
    ids = m.pack_cases(CASE_OF_10, LOT_2, ["S1"]).value
    expect_revert(
        lambda: m.pack_cases(CASE_OF_10, LOT_2, ["S1"]), "ItemsAlreadyExists", {"id": ids[0]}
    )
    unit = m.commission(consortium.lot_key, ["U1"]).value[0]
    expect_revert(lambda: m.unpack_cases([unit]), "ItemsNotPackage", {"id": unit})
    shipment = send(lots, m, h, ids=ids)
    h.receive(shipment, temp_min=50, temp_max=80)
    expect_revert(lambda: h.dispense([ids[0]]), "ItemsIsPackage", {"id": ids[0]})
    h.destroy([ids[0]])
    assert m.lot_supply(lots.index2) == 40
    lots.assert_conserved(tuple(ids))


def test_a_case_code_as_printed_resolves_to_the_case_id() -> None:
    # GTIN + serial identify the case; its lot is an attribute, and '/' in a serial is
    # percent-encoded in the path, so "A/21/B" cannot meet serial "A" of another path.
    printed = parse_code(f"(01){CASE_OF_10}(10){LOT_1}(21)C/1")
    assert printed.item_id == case_id(CASE_OF_10, "C/1")
    assert case_id(CASE_OF_10, "A/21/B") != case_id(CASE_OF_10, "A")


# ---------------------------------------------------------------- mixed pallet


def test_a_pallet_of_serialised_units_and_cases_ships_with_loose_quantities(
    lots: Lots, consortium: Consortium
) -> None:
    m, d = lots.m, consortium.distributor
    units = m.commission(consortium.lot_key, ["P1", "P2"]).value
    cases = m.pack_cases(CASE_OF_10, LOT_1, ["K1", "K2"]).value
    sscc = make_sscc(extension=1, company_prefix=DEMO_PREFIX, serial_reference=4242)
    pallet = m.create_container(sscc, company_prefix=DEMO_PREFIX).value
    m.pack(pallet, [*units, *cases])
    shipment = send(lots, m, d, lots.q(lots.key2, 5), ids=[pallet])
    # DEMO_GTIN (2.0-25.0 °C) and GLOVES (2.0-8.0 °C): the shipment keeps the narrower range.
    assert (m.shipment(shipment).temp_min, m.shipment(shipment).temp_max) == (20, 80)
    d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key2, 2)])
    for i in (pallet, *units, *cases):
        assert (d.item(i).holder, d.item(i).status) == (d.address, ItemStatus.ACTIVE)
    assert lots.balance(d, lots.index2) == (3, 0, 0)
    assert lots.balance(m, lots.index2) == (47, 0, 0)
    d.unpack(pallet)
    d.unpack_cases(cases)
    assert lots.balance(d) == (20, 0, 0)
    lots.assert_conserved(tuple(cases))


# ---------------------------------------------------------------- what a member may see


def test_a_lot_rule_refusing_a_quantity_is_shown_to_the_member_as_it_is(
    lots: Lots, consortium: Consortium
) -> None:
    """Partner API refusals hide whether someone else holds an item (ItemsNotHolder); a lot
    key is public, so a lot rule's refusal keeps its name and arguments."""
    from medledger.domain.tenancy import least_visible

    m, r = lots.m, consortium.regulator
    recall_id = r.recall_lot(lots.key1, level=1, reason_hash=keccak(text="r")).value
    with pytest.raises(ContractError) as e:
        send(lots, m, consortium.hospital, lots.q(lots.key1, 1))
    kept = least_visible(r, e.value, tenant=m.address)
    assert kept is e.value and e.value.name == "ItemsRecalledReturnOnly"
    unit = m.commission(consortium.lot_key, ["HIDDEN"]).value[0]
    hidden = ContractError("ItemsRecalled", {"id": unit, "recallId": recall_id})
    shown = least_visible(r, hidden, tenant=consortium.hospital.address)
    assert isinstance(shown, ContractError) and shown.name == "ItemsNotHolder"


def test_the_lot_module_changes_nothing_when_called_directly(lots: Lots, chain: DevChain) -> None:
    """Items deploys ItemsLots (its first CREATE) and runs it by delegatecall; called at its
    own address it would write its own, meaningless storage, so it refuses."""
    from eth_utils import to_checksum_address

    from medledger.node.config import create_address
    from medledger.sdk.compiler import load_artifacts

    items = bytes.fromhex(lots.m.deployment.items[2:])
    module = chain.w3.eth.contract(
        address=to_checksum_address(create_address(items, 1)),
        abi=load_artifacts()["ItemsLots"].abi,
    )
    assert chain.w3.eth.get_code(module.address)
    call = module.functions.commissionLot(lots.key1, 5)
    with pytest.raises(Exception) as e:
        call.call({"from": lots.m.address})
    assert lots.m.codec.decode_error(bytes.fromhex(str(e.value.data)[2:])).name == (  # type: ignore[attr-defined,union-attr]
        "ItemsNotDelegated"
    )
    abi_names = {entry.get("name") for entry in load_artifacts()["Items"].abi}
    assert {"commissionLot", "packCases", "LotBalance", "ItemsInsufficientQuantity"} <= abi_names
