"""The GSP rules Items.sol enforces on custody moves: qualified receivers only, no shipping of
expired lots or of products whose registration certificate expired, recalled units only go
back to their manufacturer, and a cold-chain excursion quarantines what is received.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import make_gtin, make_sscc
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ItemStatus, LicenceKind, Role, ShipmentStatus, class_mask

HOUR = 3600
YEAR = 365 * 24 * HOUR


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> None:
    """Run `call`, which must revert with custom error `name` carrying exactly `args`."""
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args


def advance_past(chain: DevChain, moment: int) -> None:
    """Mine a block timestamped after `moment`. DevChain.advance can land one second short of
    its target (eth-tester's time_travel), so aim two seconds past."""
    chain.advance(moment - chain.now() + 2)
    assert chain.now() > moment


def new_container(ledger: Ledger, prefix: str, reference: int) -> bytes:
    code = make_sscc(extension=1, company_prefix=prefix, serial_reference=reference)
    return ledger.create_container(code, company_prefix=prefix).value


def deliver(sender: Ledger, receiver: Ledger, ids: list[bytes]) -> int:
    """Ship `ids` and have the receiver accept them all, in range; the shipment id."""
    shipment = sender.ship(receiver.address, ids).value
    receiver.receive(shipment, temp_min=50, temp_max=80)
    return shipment


def status_of(ledger: Ledger, id_: bytes) -> tuple[str, ItemStatus]:
    state = ledger.item(id_)
    return state.holder, state.status


def admit_hospital(
    c: Consortium,
    account: LocalAccount,
    *,
    classes: tuple[int, ...] | None = None,
    valid_until: int | None = None,
) -> Ledger:
    """Admit `account` as a hospital; attest a practice licence when `classes` is given."""
    c.regulator.admit(account.address, Role.HOSPITAL, "Community Clinic")
    if classes is not None:
        assert valid_until is not None
        c.regulator.attest_licence(
            account.address,
            kind=LicenceKind.PRACTICE,
            number="医械经营许可 2026-0001",
            class_mask=class_mask(*classes),
            valid_until=valid_until,
        )
    return c.manufacturer.as_member(account)


def register_product(
    c: Consortium,
    *,
    item_reference: int,
    registration_expiry: int,
    device_class: int = 3,
    temp_min: int = 20,
    temp_max: int = 250,
) -> str:
    """Register another product of the demo manufacturer; its GTIN."""
    gtin = make_gtin(indicator=0, company_prefix=c.prefix, item_reference=item_reference)
    c.manufacturer.register_product(
        gtin,
        company_prefix=c.prefix,
        device_class=device_class,
        certificate_hash=keccak(text=f"registration {gtin}"),
        registration_expiry=registration_expiry,
        temp_min=temp_min,
        temp_max=temp_max,
    )
    return gtin


def register_lot(c: Consortium, gtin: str, lot: str, *, now: int, expiry: int) -> bytes:
    return c.manufacturer.register_lot(gtin, lot, production_date=now - HOUR, expiry=expiry).value


# ---------------------------------------------------------------- qualified receivers


def test_an_unlicensed_hospital_cannot_receive_class_iii(
    consortium: Consortium, chain: DevChain
) -> None:
    m = consortium.manufacturer
    clinic = admit_hospital(consortium, chain.accounts[7])
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    expect_revert(
        lambda: m.ship(clinic.address, [unit]),
        "ItemsReceiverNotQualified",
        {"receiver": clinic.address, "deviceClass": 3},
    )
    assert status_of(m, unit) == (m.address, ItemStatus.ACTIVE)


def test_a_hospital_whose_licence_expired_cannot_receive(
    consortium: Consortium, chain: DevChain
) -> None:
    m = consortium.manufacturer
    valid_until = chain.now() + HOUR
    clinic = admit_hospital(
        consortium, chain.accounts[7], classes=(1, 2, 3), valid_until=valid_until
    )
    before, after = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    deliver(m, clinic, [before])
    assert status_of(m, before) == (clinic.address, ItemStatus.ACTIVE)
    advance_past(chain, valid_until)
    assert not m.is_qualified(clinic.address, 3)
    expect_revert(
        lambda: m.ship(clinic.address, [after]),
        "ItemsReceiverNotQualified",
        {"receiver": clinic.address, "deviceClass": 3},
    )


def test_a_suspended_hospital_cannot_receive(consortium: Consortium) -> None:
    m, h, r = consortium.manufacturer, consortium.hospital, consortium.regulator
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    r.suspend(h.address)
    expect_revert(
        lambda: m.ship(h.address, [unit]),
        "ItemsNotActiveMember",
        {"account": h.address},
    )
    r.reinstate(h.address)
    deliver(m, h, [unit])
    assert status_of(m, unit) == (h.address, ItemStatus.ACTIVE)


def test_a_hospital_licensed_for_classes_i_and_ii_cannot_receive_class_iii(
    consortium: Consortium, chain: DevChain
) -> None:
    m = consortium.manufacturer
    now = chain.now()
    clinic = admit_hospital(consortium, chain.accounts[7], classes=(1, 2), valid_until=now + YEAR)
    class_ii = register_product(
        consortium, item_reference=55501, registration_expiry=now + YEAR, device_class=2
    )
    lot_ii = register_lot(consortium, class_ii, "L2", now=now, expiry=now + YEAR)
    (unit_ii,) = m.commission(lot_ii, ["B1"]).value
    unit_iii, packed_iii = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    not_qualified = {"receiver": clinic.address, "deviceClass": 3}

    expect_revert(
        lambda: m.ship(clinic.address, [unit_iii]), "ItemsReceiverNotQualified", not_qualified
    )
    expect_revert(
        lambda: m.ship(clinic.address, [unit_ii, unit_iii]),
        "ItemsReceiverNotQualified",
        not_qualified,
    )
    # A class III unit hidden in a pallet of class II units is found too.
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, [packed_iii])
    m.pack(pallet, [unit_ii, case])
    expect_revert(
        lambda: m.ship(clinic.address, [pallet]), "ItemsReceiverNotQualified", not_qualified
    )
    # Class II is covered.
    m.unpack(pallet)
    deliver(m, clinic, [unit_ii])
    assert status_of(m, unit_ii) == (clinic.address, ItemStatus.ACTIVE)


def test_a_hospital_whose_licence_was_revoked_cannot_receive(consortium: Consortium) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    consortium.regulator.revoke_licence(h.address, kind=LicenceKind.PRACTICE)
    expect_revert(
        lambda: m.ship(h.address, [unit]),
        "ItemsReceiverNotQualified",
        {"receiver": h.address, "deviceClass": 3},
    )


# ---------------------------------------------------------------- expiry


def test_a_unit_of_an_expired_lot_does_not_ship(consortium: Consortium, chain: DevChain) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    now = chain.now()
    expiry = now + HOUR
    lot = register_lot(consortium, consortium.gtin, "SHORT1", now=now, expiry=expiry)
    (unit,) = m.commission(lot, ["SN1"]).value
    advance_past(chain, expiry)
    expect_revert(
        lambda: m.ship(d.address, [unit]),
        "ItemsLotExpired",
        {"id": unit, "expiry": expiry},
    )


def test_an_expired_lot_packed_in_a_pallet_stops_the_pallet(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    now = chain.now()
    expiry = now + HOUR
    lot = register_lot(consortium, consortium.gtin, "SHORT1", now=now, expiry=expiry)
    (short,) = m.commission(lot, ["SN1"]).value
    (fresh,) = m.commission(consortium.lot_key, ["SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, [fresh, short])
    m.pack(pallet, [case])
    advance_past(chain, expiry)
    expect_revert(
        lambda: m.ship(d.address, [pallet]),
        "ItemsLotExpired",
        {"id": pallet, "expiry": expiry},
    )
    assert status_of(m, pallet) == (m.address, ItemStatus.ACTIVE)


def test_a_unit_of_an_expired_lot_cannot_be_dispensed(
    consortium: Consortium, chain: DevChain
) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    now = chain.now()
    expiry = now + HOUR
    lot = register_lot(consortium, consortium.gtin, "SHORT1", now=now, expiry=expiry)
    (unit,) = m.commission(lot, ["SN1"]).value
    deliver(m, h, [unit])
    advance_past(chain, expiry)
    expect_revert(lambda: h.dispense([unit]), "ItemsLotExpired", {"id": unit, "expiry": expiry})


def test_a_product_whose_registration_expired_does_not_ship(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    now = chain.now()
    registration_expiry = now + HOUR
    gtin = register_product(
        consortium, item_reference=55502, registration_expiry=registration_expiry
    )
    lot = register_lot(consortium, gtin, "L1", now=now, expiry=now + YEAR)
    unit, packed = m.commission(lot, ["SN1", "SN2"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [packed])
    advance_past(chain, registration_expiry)
    expired = {"expiry": registration_expiry}
    expect_revert(
        lambda: m.ship(d.address, [unit]), "ItemsRegistrationExpired", {"id": unit} | expired
    )
    expect_revert(
        lambda: m.ship(d.address, [case]), "ItemsRegistrationExpired", {"id": case} | expired
    )
    # A renewed registration lets the product move again.
    m.renew_registration(
        gtin, certificate_hash=keccak(text="renewed"), registration_expiry=chain.now() + YEAR
    )
    deliver(m, d, [unit, case])
    assert status_of(m, packed) == (d.address, ItemStatus.ACTIVE)


# ---------------------------------------------------------------- recalls


def test_a_recalled_unit_ships_only_back_to_its_manufacturer(consortium: Consortium) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, d, [unit])
    consortium.regulator.recall_lot(consortium.lot_key, level=1, reason_hash=keccak(text="r"))
    expect_revert(
        lambda: d.ship(h.address, [unit]),
        "ItemsRecalledReturnOnly",
        {"id": unit, "manufacturer": m.address},
    )
    deliver(d, m, [unit])
    assert status_of(m, unit) == (m.address, ItemStatus.ACTIVE)


def test_a_recalled_unit_may_be_destroyed_by_its_holder(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, d, [unit])
    m.recall_lot(consortium.lot_key, level=2, reason_hash=keccak(text="r"))
    d.destroy([unit])
    assert status_of(m, unit) == (d.address, ItemStatus.DESTROYED)


def test_a_recalled_unit_cannot_be_dispensed(consortium: Consortium) -> None:
    m, h = consortium.manufacturer, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, h, [unit])
    recall_id = m.recall_lot(consortium.lot_key, level=1, reason_hash=keccak(text="r")).value
    expect_revert(lambda: h.dispense([unit]), "ItemsRecalled", {"id": unit, "recallId": recall_id})


def test_a_unit_moves_again_once_its_recall_is_closed(consortium: Consortium) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    deliver(m, d, [unit])
    recall_id = m.recall_lot(consortium.lot_key, level=3, reason_hash=keccak(text="r")).value
    expect_revert(
        lambda: d.ship(h.address, [unit]),
        "ItemsRecalledReturnOnly",
        {"id": unit, "manufacturer": m.address},
    )
    m.close_recall(recall_id)
    deliver(d, h, [unit])
    h.dispense([unit])
    assert status_of(m, unit) == (h.address, ItemStatus.DISPENSED)


def test_a_recalled_unit_inside_a_pallet_keeps_the_pallet_from_shipping_elsewhere(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    now = chain.now()
    other_lot = register_lot(consortium, consortium.gtin, "LOT2026B", now=now, expiry=now + YEAR)
    (good,) = m.commission(other_lot, ["G1"]).value
    (recalled,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    pallet = new_container(m, consortium.prefix, 2)
    m.pack(case, [recalled])
    m.pack(pallet, [good, case])
    deliver(m, d, [pallet])
    m.recall_lot(consortium.lot_key, level=1, reason_hash=keccak(text="r"))
    expect_revert(
        lambda: d.ship(h.address, [pallet]),
        "ItemsRecalledReturnOnly",
        {"id": pallet, "manufacturer": m.address},
    )
    # Back to the manufacturer it goes, whole.
    deliver(d, m, [pallet])
    assert status_of(m, recalled) == (m.address, ItemStatus.ACTIVE)


def test_unpacking_a_pallet_forgets_the_lots_it_held(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    now = chain.now()
    other_lot = register_lot(consortium, consortium.gtin, "LOT2026C", now=now, expiry=now + YEAR)
    (good,) = m.commission(other_lot, ["G2"]).value
    (recalled,) = m.commission(consortium.lot_key, ["SN2"]).value
    case = new_container(m, consortium.prefix, 3)
    pallet = new_container(m, consortium.prefix, 4)
    m.pack(case, [recalled])
    m.pack(pallet, [good, case])
    deliver(m, d, [pallet])
    m.recall_lot(consortium.lot_key, level=1, reason_hash=keccak(text="r"))
    d.unpack(pallet)
    # The pallet now holds nothing from the recalled lot: repacked with the good unit only,
    # it ships to the hospital, while the case still carries its recalled lot.
    d.pack(pallet, [good])
    deliver(d, h, [pallet])
    assert status_of(h, good) == (h.address, ItemStatus.ACTIVE)
    expect_revert(
        lambda: d.ship(h.address, [case]),
        "ItemsRecalledReturnOnly",
        {"id": case, "manufacturer": m.address},
    )


def test_a_recall_return_ships_even_after_the_lot_expired(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    now = chain.now()
    expiry = now + HOUR
    lot = register_lot(consortium, consortium.gtin, "SHORT1", now=now, expiry=expiry)
    (unit,) = m.commission(lot, ["SN1"]).value
    deliver(m, d, [unit])
    advance_past(chain, expiry)
    expect_revert(
        lambda: d.ship(m.address, [unit]), "ItemsLotExpired", {"id": unit, "expiry": expiry}
    )
    m.recall_lot(lot, level=1, reason_hash=keccak(text="r"))
    deliver(d, m, [unit])
    assert status_of(m, unit) == (m.address, ItemStatus.ACTIVE)


# ---------------------------------------------------------------- cold chain


def test_a_receipt_within_the_storage_range_leaves_items_active(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    units = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, units).value
    assert (d.shipment(shipment).temp_min, d.shipment(shipment).temp_max) == (20, 250)
    # The product's own limits are inside the range.
    result = d.receive(shipment, temp_min=20, temp_max=250)
    assert result.event("ShipmentReceived")["quarantined"] is False
    for unit in units:
        assert status_of(d, unit) == (d.address, ItemStatus.ACTIVE)


@pytest.mark.parametrize(
    ("temp_min", "temp_max", "excursion_seconds"),
    [
        pytest.param(19, 100, 0, id="too-cold"),
        pytest.param(50, 251, 0, id="too-warm"),
        pytest.param(-300, 400, 0, id="both"),
        pytest.param(50, 80, 1, id="logged-excursion"),
    ],
)
def test_a_temperature_excursion_quarantines_the_accepted_items(
    consortium: Consortium, temp_min: int, temp_max: int, excursion_seconds: int
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    accepted, rejected = m.commission(consortium.lot_key, ["SN1", "SN2"]).value
    shipment = m.ship(d.address, [accepted, rejected]).value
    result = d.receive(
        shipment,
        rejected_ids=[rejected],
        temp_min=temp_min,
        temp_max=temp_max,
        excursion_seconds=excursion_seconds,
    )
    event = result.event("ShipmentReceived")
    assert event["quarantined"] is True
    assert (event["tempMin"], event["tempMax"], event["excursionSeconds"]) == (
        temp_min,
        temp_max,
        excursion_seconds,
    )
    assert d.shipment(shipment).status is ShipmentStatus.RECEIVED
    assert status_of(d, accepted) == (d.address, ItemStatus.QUARANTINED)
    # What was rejected goes back to the sender as it was.
    assert status_of(d, rejected) == (m.address, ItemStatus.ACTIVE)


def test_units_in_a_container_are_quarantined_with_it(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    case = new_container(m, consortium.prefix, 1)
    m.pack(case, [unit])
    shipment = m.ship(d.address, [case]).value
    d.receive(shipment, temp_min=50, temp_max=300)
    assert status_of(d, case) == (d.address, ItemStatus.QUARANTINED)
    assert status_of(d, unit) == (d.address, ItemStatus.QUARANTINED)
    expect_revert(
        lambda: d.unpack(case),
        "ItemsWrongStatus",
        {"id": case, "status": ItemStatus.QUARANTINED},
    )


def test_the_narrowest_storage_range_in_a_shipment_applies(
    consortium: Consortium, chain: DevChain
) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    now = chain.now()
    hardy = register_product(
        consortium,
        item_reference=55503,
        registration_expiry=now + YEAR,
        temp_min=-100,
        temp_max=400,
    )
    lot = register_lot(consortium, hardy, "H1", now=now, expiry=now + YEAR)
    tough_a, tough_b = m.commission(lot, ["H1", "H2"]).value
    (fragile,) = m.commission(consortium.lot_key, ["SN1"]).value

    alone = m.ship(d.address, [tough_a]).value
    assert (d.shipment(alone).temp_min, d.shipment(alone).temp_max) == (-100, 400)
    d.receive(alone, temp_min=0, temp_max=300)
    assert status_of(d, tough_a) == (d.address, ItemStatus.ACTIVE)

    mixed = m.ship(d.address, [tough_b, fragile]).value
    assert (d.shipment(mixed).temp_min, d.shipment(mixed).temp_max) == (20, 250)
    d.receive(mixed, temp_min=0, temp_max=300)
    assert status_of(d, tough_b) == (d.address, ItemStatus.QUARANTINED)
    assert status_of(d, fragile) == (d.address, ItemStatus.QUARANTINED)


def test_a_quarantined_item_cannot_ship_until_released(consortium: Consortium) -> None:
    m, d, h = consortium.manufacturer, consortium.distributor, consortium.hospital
    (unit,) = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, [unit]).value
    d.receive(shipment, temp_min=50, temp_max=80, excursion_seconds=900)
    expect_revert(
        lambda: d.ship(h.address, [unit]),
        "ItemsWrongStatus",
        {"id": unit, "status": ItemStatus.QUARANTINED},
    )
    d.release([unit])
    deliver(d, h, [unit])
    assert status_of(d, unit) == (h.address, ItemStatus.ACTIVE)


def test_a_receiver_whose_licence_lapsed_in_transit_cannot_accept(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["LAPSE1"]).value
    shipment = m.ship(d.address, ids).value
    consortium.regulator.revoke_licence(d.address, kind=LicenceKind.DISTRIBUTION)
    with pytest.raises(ContractError) as err:
        d.receive(shipment, temp_min=50, temp_max=80)
    assert err.value.name == "ItemsReceiverNotQualified"
    assert err.value.args_by_name == {"receiver": d.address, "deviceClass": 3}
    assert m.shipment(shipment).class_mask == class_mask(3)
    # The sender can still call the goods back.
    m.cancel(shipment)
    assert m.item(ids[0]).holder == m.address
