"""Items.sol: commissioning, containers and aggregation, the custody handshake, end of life
and holds; the success path of each operation and each custom error it raises.

The GSP rules a shipment must satisfy (receiver licences, expiry, recalls, cold chain) are
in test_gsp_rules.py.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed
from web3 import Web3

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.errors import ContractError, MedLedgerError
from medledger.sdk.gs1 import container_path, item_id, make_sscc, unit_path
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ItemStatus, ShipmentStatus

MAX_BATCH = 500


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> ContractError:
    """Run `call`, which must revert with custom error `name` carrying exactly `args`."""
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args
    return e.value


@dataclass
class RawCaller:
    """Calls a contract straight on eth-tester and decodes the raw revert data.

    web3's EthereumTesterProvider reads any revert data that abi-decodes as a string as an
    Error(string) reason and drops the selector, so a custom error whose arguments start with
    a string (ItemsInvalidSerial, ItemsInvalidSscc, ItemsPrefixNotOwned) reaches the SDK as
    bare text. eth-tester itself keeps the raw data.
    """

    chain: DevChain
    artifacts: dict[str, ContractArtifact]

    def expect_revert(
        self, ledger: Ledger, call: tuple[str, str, list[Any]], name: str, args: dict[str, Any]
    ) -> None:
        contract, fn, fn_args = call
        address = Web3.to_checksum_address(ledger.deployment.address_of(contract))
        abi = self.artifacts[contract].abi
        data = self.chain.w3.eth.contract(address=address, abi=abi).encode_abi(fn, args=fn_args)
        with pytest.raises(TransactionFailed) as e:
            self.chain.tester.call({"from": ledger.address, "to": address, "data": data})
        raw = ast.literal_eval(str(e.value.args[0]))
        assert isinstance(raw, bytes)
        error = ledger.codec.decode_error(raw)
        assert error is not None, raw
        assert error.name == name
        assert error.args_by_name == args


@pytest.fixture
def raw(chain: DevChain, artifacts: dict[str, ContractArtifact]) -> RawCaller:
    return RawCaller(chain, artifacts)


def advance_past(chain: DevChain, moment: int) -> None:
    """Mine a block timestamped after `moment`. DevChain.advance can land one second short of
    its target (eth-tester's time_travel), so aim two seconds past."""
    chain.advance(moment - chain.now() + 2)
    assert chain.now() > moment


def sscc(prefix: str, reference: int) -> str:
    return make_sscc(extension=1, company_prefix=prefix, serial_reference=reference)


def new_container(ledger: Ledger, prefix: str, reference: int) -> bytes:
    return ledger.create_container(sscc(prefix, reference), company_prefix=prefix).value


def deliver(sender: Ledger, receiver: Ledger, ids: list[bytes]) -> int:
    """Ship `ids` and have the receiver accept them all, in range; the shipment id."""
    shipment = sender.ship(receiver.address, ids).value
    receiver.receive(shipment, temp_min=50, temp_max=80)
    return shipment


def holder_and_status(ledger: Ledger, id_: bytes) -> tuple[str, ItemStatus]:
    state = ledger.item(id_)
    return state.holder, state.status


# ---------------------------------------------------------------- commission


def test_manufacturer_commissions_units_into_its_lot(consortium: Consortium) -> None:
    m = consortium.manufacturer
    serials = ["SN0001", "a-b.c_D9", "X" * 20]
    result = m.commission(consortium.lot_key, serials)
    assert result.value == [item_id(unit_path(consortium.gtin, s)) for s in serials]
    event = result.event("ItemsCommissioned")
    assert event["lotKey"] == consortium.lot_key
    assert event["manufacturer"] == m.address
    assert list(event["serials"]) == serials
    for id_ in result.value:
        state = m.item(id_)
        assert (state.holder, state.status) == (m.address, ItemStatus.ACTIVE)
        assert (state.is_container, state.lot_index, state.parent_id) == (False, 1, None)


def test_only_the_lots_manufacturer_may_commission(consortium: Consortium) -> None:
    d = consortium.distributor
    expect_revert(
        lambda: d.commission(consortium.lot_key, ["SN1"]),
        "ItemsUnauthorized",
        {"caller": d.address},
    )


def test_suspended_manufacturer_cannot_commission(consortium: Consortium) -> None:
    m = consortium.manufacturer
    consortium.regulator.suspend(m.address)
    expect_revert(
        lambda: m.commission(consortium.lot_key, ["SN1"]),
        "ItemsUnauthorized",
        {"caller": m.address},
    )


def test_units_cannot_be_commissioned_into_an_expired_lot(
    consortium: Consortium, chain: DevChain
) -> None:
    m = consortium.manufacturer
    lot = m.lot(consortium.lot_key)
    assert lot is not None
    advance_past(chain, lot.expiry)
    expect_revert(
        lambda: m.commission(consortium.lot_key, ["SN1"]),
        "ItemsLotExpired",
        {"id": consortium.lot_key, "expiry": lot.expiry},
    )


@pytest.mark.parametrize("count", [0, MAX_BATCH + 1])
def test_commission_takes_one_to_max_batch_serials(consortium: Consortium, count: int) -> None:
    serials = [f"S{i}" for i in range(count)]
    expect_revert(
        lambda: consortium.manufacturer.commission(consortium.lot_key, serials),
        "ItemsBatchSize",
        {"count": count, "max": MAX_BATCH},
    )


@pytest.mark.parametrize("bad", ["", "X" * 21, "SN 1", "SN#1", "SN~1", "SN@1", "SNé"])
def test_serials_outside_cset82_or_length_are_refused(
    consortium: Consortium, raw: RawCaller, bad: str
) -> None:
    raw.expect_revert(
        consortium.manufacturer,
        ("Items", "commission", [consortium.lot_key, ["GOOD1", bad]]),
        "ItemsInvalidSerial",
        {"serial": bad},
    )


def test_every_cset82_punctuation_mark_commissions_under_its_digital_link_id(
    consortium: Consortium,
) -> None:
    serials = ["SN/1", "SN%1", "SN+1", "!\"%&'()*+,-", "./:;<=>?_"]
    ids = consortium.manufacturer.commission(consortium.lot_key, serials).value
    assert ids == [item_id(unit_path(consortium.gtin, s)) for s in serials]


def test_a_serial_cannot_be_commissioned_twice(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (first,) = m.commission(consortium.lot_key, ["SN1"]).value
    expect_revert(
        lambda: m.commission(consortium.lot_key, ["SN2", "SN1"]),
        "ItemsAlreadyExists",
        {"id": first},
    )
    # A duplicate inside one batch is caught too, and nothing of the batch is kept.
    dup = item_id(unit_path(consortium.gtin, "SN3"))
    expect_revert(
        lambda: m.commission(consortium.lot_key, ["SN3", "SN3"]),
        "ItemsAlreadyExists",
        {"id": dup},
    )
    assert m.item(dup).status is ItemStatus.NONE


def test_commission_into_an_unknown_lot_reverts_with_devices_unknown_lot(
    consortium: Consortium,
) -> None:
    unknown = b"\x42" * 32
    error = expect_revert(
        lambda: consortium.manufacturer.commission(unknown, ["SN1"]),
        "DevicesUnknownLot",
        {"lotKey": unknown},
    )
    assert error.contract == "Devices"


# ---------------------------------------------------------------- createContainer


def test_members_create_containers_under_their_own_prefix(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    for ledger, prefix in ((m, consortium.prefix), (d, consortium.distributor_prefix)):
        code = sscc(prefix, 7)
        result = ledger.create_container(code, company_prefix=prefix)
        assert result.value == item_id(container_path(code))
        assert result.event("ContainerCreated") == {
            "containerId": result.value,
            "owner": ledger.address,
            "sscc": code,
        }
        state = ledger.item(result.value)
        assert (state.holder, state.status) == (ledger.address, ItemStatus.ACTIVE)
        assert (state.is_container, state.lot_index, state.parent_id) == (True, 0, None)
        assert ledger.children(result.value) == []


def test_a_non_member_cannot_create_a_container(consortium: Consortium, chain: DevChain) -> None:
    outsider = consortium.manufacturer.as_member(chain.accounts[7])
    expect_revert(
        lambda: outsider.create_container(sscc("9506000", 1), company_prefix="9506000"),
        "ItemsNotActiveMember",
        {"account": outsider.address},
    )


def test_a_suspended_member_cannot_create_a_container(consortium: Consortium) -> None:
    d = consortium.distributor
    consortium.regulator.suspend(d.address)
    prefix = consortium.distributor_prefix
    expect_revert(
        lambda: d.create_container(sscc(prefix, 1), company_prefix=prefix),
        "ItemsNotActiveMember",
        {"account": d.address},
    )


def _bad_ssccs() -> list[str]:
    good = sscc("9506000", 1)
    wrong_check = good[:-1] + str((int(good[-1]) + 1) % 10)
    return [good[:-1], good + "0", wrong_check, good[:5] + "A" + good[6:], ""]


@pytest.mark.parametrize("bad", _bad_ssccs())
def test_an_sscc_needs_18_digits_and_a_valid_check_digit(
    consortium: Consortium, raw: RawCaller, bad: str
) -> None:
    raw.expect_revert(
        consortium.manufacturer,
        ("Items", "createContainer", [bad, consortium.prefix]),
        "ItemsInvalidSscc",
        {"sscc": bad},
    )


def test_a_container_needs_a_prefix_the_caller_owns(consortium: Consortium, raw: RawCaller) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    own, foreign = consortium.prefix, consortium.distributor_prefix
    # The distributor claims the manufacturer's prefix.
    raw.expect_revert(
        d,
        ("Items", "createContainer", [sscc(own, 1), own]),
        "ItemsPrefixNotOwned",
        {"prefix": own, "caller": d.address},
    )
    # The manufacturer names its own prefix but the SSCC carries the distributor's.
    raw.expect_revert(
        m,
        ("Items", "createContainer", [sscc(foreign, 1), own]),
        "ItemsPrefixNotOwned",
        {"prefix": own, "caller": m.address},
    )
    # The manufacturer names the distributor's prefix, which the SSCC carries.
    raw.expect_revert(
        m,
        ("Items", "createContainer", [sscc(foreign, 1), foreign]),
        "ItemsPrefixNotOwned",
        {"prefix": foreign, "caller": m.address},
    )
    # A prefix nobody owns.
    raw.expect_revert(
        m,
        ("Items", "createContainer", [sscc("1234567", 1), "1234567"]),
        "ItemsPrefixNotOwned",
        {"prefix": "1234567", "caller": m.address},
    )
    # The SDK path reverts too (though web3's eth-tester provider hides the error's name).
    with pytest.raises(MedLedgerError):
        d.create_container(sscc(own, 1), company_prefix=own)


def test_a_container_cannot_be_created_twice(consortium: Consortium) -> None:
    m = consortium.manufacturer
    case = new_container(m, consortium.prefix, 1)
    expect_revert(
        lambda: m.create_container(sscc(consortium.prefix, 1), company_prefix=consortium.prefix),
        "ItemsAlreadyExists",
        {"id": case},
    )


# ---------------------------------------------------------------- pack


def test_units_packed_into_a_case_report_it_as_their_parent(consortium: Consortium) -> None:
    m = consortium.manufacturer
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    result = m.pack(case, units)
    assert result.event("ItemsPacked") == {
        "containerId": case,
        "holder": m.address,
        "itemIds": tuple(units),
    }
    assert m.children(case) == units
    for unit in units:
        state = m.item(unit)
        assert (state.parent_id, state.holder, state.status) == (case, m.address, ItemStatus.ACTIVE)


def test_a_case_packs_into_a_pallet(consortium: Consortium) -> None:
    m = consortium.manufacturer
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, units[:1])
    m.pack(pallet, [case, units[1]])
    assert m.children(pallet) == [case, units[1]]
    assert m.children(case) == units[:1]
    assert m.item(case).parent_id == pallet
    assert m.item(units[0]).parent_id == case
    assert m.item(units[1]).parent_id == pallet
    # Only roots take part in aggregation: nothing packs into the inner case any more.
    (loose,) = m.commission(consortium.lot_key, ["SN3"]).value
    expect_revert(
        lambda: m.pack(case, [loose]), "ItemsInContainer", {"id": case, "containerId": pallet}
    )


def test_only_a_container_can_be_packed_into(consortium: Consortium) -> None:
    m = consortium.manufacturer
    a, b = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    expect_revert(lambda: m.pack(a, [b]), "ItemsNotContainer", {"id": a})


def test_packing_needs_the_container_to_be_held(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    case = new_container(m, consortium.prefix, 1)
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, d, [unit])
    expect_revert(lambda: d.pack(case, [unit]), "ItemsNotHolder", {"id": case, "holder": m.address})


def test_packing_needs_each_child_to_be_held(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    case = new_container(m, consortium.prefix, 1)
    mine, theirs = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    deliver(m, d, [theirs])
    expect_revert(
        lambda: m.pack(case, [mine, theirs]),
        "ItemsNotHolder",
        {"id": theirs, "holder": d.address},
    )
    assert m.item(mine).parent_id is None


def test_packing_needs_each_child_to_be_active(consortium: Consortium) -> None:
    m = consortium.manufacturer
    case = new_container(m, consortium.prefix, 1)
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    m.quarantine([unit])
    expect_revert(
        lambda: m.pack(case, [unit]),
        "ItemsWrongStatus",
        {"id": unit, "status": ItemStatus.QUARANTINED},
    )


def test_an_item_already_in_a_container_cannot_be_packed_again(consortium: Consortium) -> None:
    m = consortium.manufacturer
    case = new_container(m, consortium.prefix, 1)
    other = new_container(m, consortium.prefix, 2)
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    m.pack(case, [unit])
    expect_revert(
        lambda: m.pack(other, [unit]), "ItemsInContainer", {"id": unit, "containerId": case}
    )
    expect_revert(
        lambda: m.pack(case, [unit]), "ItemsInContainer", {"id": unit, "containerId": case}
    )


def test_a_container_cannot_be_packed_into_itself(consortium: Consortium) -> None:
    m = consortium.manufacturer
    case = new_container(m, consortium.prefix, 1)
    expect_revert(lambda: m.pack(case, [case]), "ItemsSelfPack", {"id": case})


def test_packing_an_unknown_item_or_an_empty_list_is_refused(consortium: Consortium) -> None:
    m = consortium.manufacturer
    case = new_container(m, consortium.prefix, 1)
    ghost = item_id(unit_path(consortium.gtin, "NEVER"))
    expect_revert(lambda: m.pack(case, [ghost]), "ItemsUnknownItem", {"id": ghost})
    expect_revert(lambda: m.pack(case, []), "ItemsBatchSize", {"count": 0, "max": MAX_BATCH})


# ---------------------------------------------------------------- unpack


def test_unpacked_units_become_roots_held_by_the_unpacker(consortium: Consortium) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, units)
    deliver(m, d, [case])
    result = d.unpack(case)
    assert result.value == units
    assert result.event("ItemsUnpacked")["holder"] == d.address
    assert d.children(case) == []
    for unit in units:
        state = d.item(unit)
        assert (state.holder, state.status, state.parent_id) == (d.address, ItemStatus.ACTIVE, None)
    # The loose units now move on their own, and the empty case stays with the distributor.
    deliver(d, h, units[:1])
    assert holder_and_status(d, units[0]) == (h.address, ItemStatus.ACTIVE)
    assert holder_and_status(d, case) == (d.address, ItemStatus.ACTIVE)


def test_unpacking_a_pallet_keeps_the_cases_packed(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    inner, loose = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, [inner])
    m.pack(pallet, [case, loose])
    deliver(m, d, [pallet])
    assert d.unpack(pallet).value == [case, loose]
    assert d.children(case) == [inner]
    case_state, inner_state = d.item(case), d.item(inner)
    assert (case_state.parent_id, case_state.holder) == (None, d.address)
    assert (inner_state.parent_id, inner_state.holder) == (case, d.address)
    d.unpack(case)
    assert d.item(inner).parent_id is None
    assert holder_and_status(d, inner) == (d.address, ItemStatus.ACTIVE)


def test_only_the_holder_unpacks_a_container(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    expect_revert(lambda: d.unpack(case), "ItemsNotHolder", {"id": case, "holder": m.address})
    expect_revert(lambda: m.unpack(unit), "ItemsInContainer", {"id": unit, "containerId": case})
    (other,) = m.commission(consortium.lot_key, ["SN2"]).value
    expect_revert(lambda: m.unpack(other), "ItemsNotContainer", {"id": other})


# ---------------------------------------------------------------- packed items follow the container


def test_packed_units_follow_their_pallet_through_ship_and_receive(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    units = m.commission(consortium.lot_key, ["SN1", "SN2", "SN3"]).value
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, units[:2])
    m.pack(pallet, [case, units[2]])

    shipment = m.ship(d.address, [pallet]).value
    for id_ in (*units, case, pallet):
        assert holder_and_status(d, id_) == (m.address, ItemStatus.IN_TRANSIT)

    d.receive(shipment, temp_min=50, temp_max=80)
    for id_ in (*units, case, pallet):
        assert holder_and_status(d, id_) == (d.address, ItemStatus.ACTIVE)
    assert d.children(pallet) == [case, units[2]]
    assert d.children(case) == units[:2]
    assert d.item(units[0]).parent_id == case
    assert d.children(units[0]) == []


def test_a_packed_unit_cannot_ship_alone(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    expect_revert(
        lambda: m.ship(d.address, [unit]),
        "ItemsInContainer",
        {"id": unit, "containerId": case},
    )


# ---------------------------------------------------------------- dispense


def test_a_hospital_dispenses_units_it_holds(consortium: Consortium) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    deliver(m, h, units)
    result = h.dispense(units, record_hash=b"\x07" * 32)
    assert result.event("ItemsDispensed") == {
        "holder": h.address,
        "itemIds": tuple(units),
        "recordHash": b"\x07" * 32,
    }
    for unit in units:
        assert holder_and_status(h, unit) == (h.address, ItemStatus.DISPENSED)
    expect_revert(
        lambda: h.dispense(units[:1]),
        "ItemsWrongStatus",
        {"id": units[0], "status": ItemStatus.DISPENSED},
    )


@pytest.mark.parametrize("name", ["manufacturer", "distributor", "logistics", "regulator"])
def test_only_hospitals_dispense(consortium: Consortium, name: str) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    ledger = consortium.by_name(name)
    if name in ("distributor", "logistics"):
        deliver(m, ledger, [unit])
    expect_revert(lambda: ledger.dispense([unit]), "ItemsUnauthorized", {"caller": ledger.address})


def test_a_suspended_hospital_cannot_dispense(consortium: Consortium) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, h, [unit])
    consortium.regulator.suspend(h.address)
    expect_revert(lambda: h.dispense([unit]), "ItemsUnauthorized", {"caller": h.address})


def test_containers_and_packed_units_are_not_dispensed(consortium: Consortium) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    deliver(m, h, [case])
    expect_revert(lambda: h.dispense([case]), "ItemsIsContainer", {"id": case})
    expect_revert(lambda: h.dispense([unit]), "ItemsInContainer", {"id": unit, "containerId": case})
    h.unpack(case)
    h.dispense([unit])
    assert h.item(unit).status is ItemStatus.DISPENSED


def test_a_hospital_dispenses_only_active_units_it_holds(consortium: Consortium) -> None:
    m, h, h2 = consortium.manufacturer, consortium.hospital, consortium.hospital2
    quarantined, elsewhere = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    deliver(m, h, [quarantined])
    deliver(m, h2, [elsewhere])
    h.quarantine([quarantined])
    expect_revert(
        lambda: h.dispense([quarantined]),
        "ItemsWrongStatus",
        {"id": quarantined, "status": ItemStatus.QUARANTINED},
    )
    expect_revert(
        lambda: h.dispense([elsewhere]),
        "ItemsNotHolder",
        {"id": elsewhere, "holder": h2.address},
    )


# ---------------------------------------------------------------- quarantine and release


def test_the_holder_quarantines_and_releases_its_items(consortium: Consortium) -> None:
    m = consortium.manufacturer
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    result = m.quarantine(units, reason_hash=b"\x01" * 32)
    assert result.event("ItemsQuarantined") == {
        "by": m.address,
        "itemIds": tuple(units),
        "reasonHash": b"\x01" * 32,
    }
    assert [m.item(u).status for u in units] == [ItemStatus.QUARANTINED] * 2
    released = m.release(units)
    assert released.event("ItemsReleased") == {"by": m.address, "itemIds": tuple(units)}
    assert [m.item(u).status for u in units] == [ItemStatus.ACTIVE] * 2


def test_a_regulator_quarantines_and_releases_items_it_does_not_hold(
    consortium: Consortium,
) -> None:
    m, r = consortium.manufacturer, consortium.regulator
    case = new_container(m, consortium.prefix, 1)
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    m.pack(case, [unit])
    r.quarantine([case])
    assert holder_and_status(r, unit) == (m.address, ItemStatus.QUARANTINED)
    expect_revert(
        lambda: m.ship(consortium.distributor.address, [case]),
        "ItemsWrongStatus",
        {"id": case, "status": ItemStatus.QUARANTINED},
    )
    r.release([case])
    assert holder_and_status(r, unit) == (m.address, ItemStatus.ACTIVE)


def test_others_cannot_quarantine_or_release_an_item(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    expect_revert(lambda: d.quarantine([unit]), "ItemsNotHolder", {"id": unit, "holder": m.address})
    m.quarantine([unit])
    expect_revert(lambda: d.release([unit]), "ItemsNotHolder", {"id": unit, "holder": m.address})
    outsider = m.as_member(chain.accounts[7])
    expect_revert(
        lambda: outsider.release([unit]),
        "ItemsNotActiveMember",
        {"account": outsider.address},
    )


def test_quarantine_and_release_need_the_opposite_status(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    expect_revert(
        lambda: m.release([unit]),
        "ItemsWrongStatus",
        {"id": unit, "status": ItemStatus.ACTIVE},
    )
    m.quarantine([unit])
    expect_revert(
        lambda: m.quarantine([unit]),
        "ItemsWrongStatus",
        {"id": unit, "status": ItemStatus.QUARANTINED},
    )


def test_a_packed_unit_is_held_through_its_container(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    expect_revert(
        lambda: m.quarantine([unit]), "ItemsInContainer", {"id": unit, "containerId": case}
    )


# ---------------------------------------------------------------- destroy


def test_the_holder_destroys_active_and_quarantined_items(consortium: Consortium) -> None:
    m = consortium.manufacturer
    active, held = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    m.quarantine([held])
    result = m.destroy([active, held], record_hash=b"\x02" * 32)
    assert result.event("ItemsDestroyed") == {
        "holder": m.address,
        "itemIds": (active, held),
        "recordHash": b"\x02" * 32,
    }
    assert [m.item(u).status for u in (active, held)] == [ItemStatus.DESTROYED] * 2
    expect_revert(
        lambda: m.destroy([active]),
        "ItemsWrongStatus",
        {"id": active, "status": ItemStatus.DESTROYED},
    )


def test_only_the_holder_destroys_an_item(consortium: Consortium) -> None:
    m, r = consortium.manufacturer, consortium.regulator
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    expect_revert(lambda: r.destroy([unit]), "ItemsNotHolder", {"id": unit, "holder": m.address})


def test_items_in_transit_are_not_destroyed(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    m.ship(consortium.distributor.address, [unit])
    expect_revert(
        lambda: m.destroy([unit]),
        "ItemsWrongStatus",
        {"id": unit, "status": ItemStatus.IN_TRANSIT},
    )


def test_a_container_is_destroyed_only_when_empty(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    expect_revert(lambda: m.destroy([case]), "ItemsContainerNotEmpty", {"id": case})
    expect_revert(lambda: m.destroy([unit]), "ItemsInContainer", {"id": unit, "containerId": case})
    m.unpack(case)
    m.destroy([case])
    assert holder_and_status(m, case) == (m.address, ItemStatus.DESTROYED)
    assert holder_and_status(m, unit) == (m.address, ItemStatus.ACTIVE)


# ---------------------------------------------------------------- cancelShipment


def test_the_sender_cancels_a_shipment_in_transit(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, units).value
    result = m.cancel(shipment, reason_hash=b"\x03" * 32)
    assert result.event("ShipmentCancelled") == {
        "shipmentId": shipment,
        "sender": m.address,
        "itemIds": tuple(units),
        "reasonHash": b"\x03" * 32,
    }
    assert m.shipment(shipment).status is ShipmentStatus.CANCELLED
    for unit in units:
        assert holder_and_status(m, unit) == (m.address, ItemStatus.ACTIVE)
    expect_revert(
        lambda: d.receive(shipment, temp_min=50, temp_max=80),
        "ItemsShipmentNotInTransit",
        {"shipmentId": shipment, "status": ShipmentStatus.CANCELLED},
    )
    expect_revert(
        lambda: m.cancel(shipment),
        "ItemsShipmentNotInTransit",
        {"shipmentId": shipment, "status": ShipmentStatus.CANCELLED},
    )


def test_only_the_sender_cancels_a_shipment(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, [unit]).value
    expect_revert(
        lambda: d.cancel(shipment),
        "ItemsWrongParty",
        {"shipmentId": shipment, "expected": m.address},
    )
    assert d.shipment(shipment).status is ShipmentStatus.IN_TRANSIT


def test_a_received_shipment_cannot_be_cancelled(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = deliver(m, d, [unit])
    expect_revert(
        lambda: m.cancel(shipment),
        "ItemsShipmentNotInTransit",
        {"shipmentId": shipment, "status": ShipmentStatus.RECEIVED},
    )
    order, signature = m.sign_cancel(99)
    expect_revert(
        lambda: m.relay_cancel(order, signature, item_ids=[unit]),
        "ItemsUnknownShipment",
        {"shipmentId": 99},
    )


def test_a_cancel_must_name_exactly_the_shipped_items(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    a, b = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, [a, b]).value
    for wrong in ([a], [b, a], [a, b, a]):
        order, signature = m.sign_cancel(shipment)
        expect_revert(
            partial(m.relay_cancel, order, signature, item_ids=wrong),
            "ItemsShipmentContentMismatch",
            {"shipmentId": shipment},
        )


# ---------------------------------------------------------------- receiveShipment


def test_a_receiver_accepts_a_shipment(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, units).value
    state = d.shipment(shipment)
    assert (state.sender, state.receiver, state.status, state.item_count) == (
        m.address,
        d.address,
        ShipmentStatus.IN_TRANSIT,
        2,
    )
    assert (state.temp_min, state.temp_max) == (20, 250)
    result = d.receive(shipment, temp_min=30, temp_max=60, inspection_hash=b"\x04" * 32)
    assert result.value == units
    assert result.event("ShipmentReceived") == {
        "shipmentId": shipment,
        "receiver": d.address,
        "sender": m.address,
        "acceptedIds": tuple(units),
        "rejectedIds": (),
        "tempMin": 30,
        "tempMax": 60,
        "excursionSeconds": 0,
        "inspectionHash": b"\x04" * 32,
        "quarantined": False,
    }
    assert d.shipment(shipment).status is ShipmentStatus.RECEIVED


def test_rejected_items_return_active_to_the_sender(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    a, b, c = m.commission(consortium.lot_key, ["SN1", "SN2", "SN3"]).value
    shipment = m.ship(d.address, [a, b, c]).value
    result = d.receive(shipment, rejected_ids=[a, c], temp_min=50, temp_max=80)
    assert result.value == [b]
    event = result.event("ShipmentReceived")
    assert (event["acceptedIds"], event["rejectedIds"]) == ((b,), (a, c))
    assert d.shipment(shipment).status is ShipmentStatus.RECEIVED
    assert holder_and_status(d, a) == (m.address, ItemStatus.ACTIVE)
    assert holder_and_status(d, c) == (m.address, ItemStatus.ACTIVE)
    assert holder_and_status(d, b) == (d.address, ItemStatus.ACTIVE)
    # The rejected units can be shipped again by the sender.
    deliver(m, consortium.hospital, [a])
    assert holder_and_status(d, a) == (consortium.hospital.address, ItemStatus.ACTIVE)


def test_a_fully_rejected_shipment_is_marked_rejected(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, units).value
    # An excursion does not quarantine anything when nothing is accepted.
    result = d.receive(shipment, rejected_ids=units, temp_min=0, temp_max=400, excursion_seconds=60)
    assert result.value == []
    assert result.event("ShipmentReceived")["quarantined"] is False
    assert d.shipment(shipment).status is ShipmentStatus.REJECTED
    for unit in units:
        assert holder_and_status(d, unit) == (m.address, ItemStatus.ACTIVE)


@pytest.mark.parametrize(
    ("rejected", "reported"),
    [
        pytest.param("ca", "c", id="out-of-order"),
        pytest.param("x", "x", id="not-shipped"),
        pytest.param("aa", "a", id="duplicate"),
        pytest.param("abca", "a", id="more-than-shipped"),
    ],
)
def test_rejected_ids_must_be_an_ordered_subsequence_of_the_shipment(
    consortium: Consortium, rejected: str, reported: str
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    a, b, c, x = m.commission(consortium.lot_key, ["SN1", "SN2", "SN3", "SN4"]).value
    ids = {"a": a, "b": b, "c": c, "x": x}
    shipment = m.ship(d.address, [a, b, c]).value
    order, signature = d.sign_receive(
        shipment, rejected_ids=[ids[k] for k in rejected], temp_min=50, temp_max=80
    )
    expect_revert(
        partial(d.relay_receive, order, signature),
        "ItemsRejectedNotInShipment",
        {"id": ids[reported]},
    )
    assert d.shipment(shipment).status is ShipmentStatus.IN_TRANSIT


def test_the_sdk_signs_rejected_ids_in_shipped_order(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    a, b, c = m.commission(consortium.lot_key, ["SN1", "SN2", "SN3"]).value
    shipment = m.ship(d.address, [a, b, c]).value
    result = d.receive(shipment, rejected_ids=[c, a], temp_min=50, temp_max=80)
    assert result.value == [b]
    assert list(result.event("ShipmentReceived")["rejectedIds"]) == [a, c]
    assert holder_and_status(d, a) == (m.address, ItemStatus.ACTIVE)


def test_a_receipt_must_name_exactly_the_shipped_items(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    a, b, c = m.commission(consortium.lot_key, ["SN1", "SN2", "SN3"]).value
    shipment = m.ship(d.address, [a, b]).value
    for wrong in ([a], [b, a], [a, b, c]):
        order, signature = d.sign_receive(shipment, temp_min=50, temp_max=80)
        expect_revert(
            partial(d.relay_receive, order, signature, item_ids=wrong),
            "ItemsShipmentContentMismatch",
            {"shipmentId": shipment},
        )


def test_only_the_addressed_receiver_receives(consortium: Consortium) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, [unit]).value
    expect_revert(
        lambda: h.receive(shipment, temp_min=50, temp_max=80),
        "ItemsWrongParty",
        {"shipmentId": shipment, "expected": d.address},
    )
    expect_revert(
        lambda: m.receive(shipment, temp_min=50, temp_max=80),
        "ItemsWrongParty",
        {"shipmentId": shipment, "expected": d.address},
    )


def test_a_shipment_is_received_once(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = deliver(m, d, [unit])
    expect_revert(
        lambda: d.receive(shipment, temp_min=50, temp_max=80),
        "ItemsShipmentNotInTransit",
        {"shipmentId": shipment, "status": ShipmentStatus.RECEIVED},
    )
    order, signature = d.sign_receive(12345, temp_min=50, temp_max=80)
    expect_revert(
        lambda: d.relay_receive(order, signature, item_ids=[unit]),
        "ItemsUnknownShipment",
        {"shipmentId": 12345},
    )


def test_a_receipt_with_inverted_temperatures_is_refused(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, [unit]).value
    expect_revert(
        lambda: d.receive(shipment, temp_min=80, temp_max=50),
        "ItemsInvalidTemperature",
        {"tempMin": 80, "tempMax": 50},
    )


def test_a_suspended_receiver_cannot_receive(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, [unit]).value
    consortium.regulator.suspend(d.address)
    order, signature = d.sign_receive(shipment, temp_min=50, temp_max=80)
    expect_revert(
        lambda: m.relay_receive(order, signature),
        "ItemsNotActiveMember",
        {"account": d.address},
    )
    # The sender can still call the shipment back.
    m.cancel(shipment)
    assert holder_and_status(m, unit) == (m.address, ItemStatus.ACTIVE)


# ---------------------------------------------------------------- nothing moves unless Active


def _in_transit(c: Consortium, unit: bytes) -> None:
    c.hospital.ship(c.hospital2.address, [unit])


def _quarantined(c: Consortium, unit: bytes) -> None:
    c.hospital.quarantine([unit])


def _dispensed(c: Consortium, unit: bytes) -> None:
    c.hospital.dispense([unit])


def _destroyed(c: Consortium, unit: bytes) -> None:
    c.hospital.destroy([unit])


@pytest.mark.parametrize(
    ("status", "put"),
    [
        (ItemStatus.IN_TRANSIT, _in_transit),
        (ItemStatus.QUARANTINED, _quarantined),
        (ItemStatus.DISPENSED, _dispensed),
        (ItemStatus.DESTROYED, _destroyed),
    ],
    ids=lambda v: v.name.lower() if isinstance(v, ItemStatus) else "",
)
def test_nothing_moves_unless_active(
    consortium: Consortium, status: ItemStatus, put: Callable[[Consortium, bytes], None]
) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    deliver(m, h, [unit, case])
    put(consortium, unit)
    assert holder_and_status(h, unit) == (h.address, status)
    wrong = {"id": unit, "status": status}
    expect_revert(lambda: h.ship(consortium.distributor.address, [unit]), "ItemsWrongStatus", wrong)
    expect_revert(lambda: h.pack(case, [unit]), "ItemsWrongStatus", wrong)


def test_a_container_that_is_not_active_takes_no_items(consortium: Consortium) -> None:
    m = consortium.manufacturer
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.quarantine([case])
    expect_revert(
        lambda: m.pack(case, [unit]),
        "ItemsWrongStatus",
        {"id": case, "status": ItemStatus.QUARANTINED},
    )
