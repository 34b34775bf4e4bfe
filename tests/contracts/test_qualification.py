"""Qualification both ways (issue #16 item 1): the sender of a shipment must hold a licence
covering each device class inside, as the receiver must, for units, containers and lot
quantities; and each receiver's approved-supplier and approved-product files
(首营企业/首营品种) with its policy: Off (default), Hold (receipt lands Quarantined) or
Refuse (the shipment reverts naming the supplier or the product).
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.gs1 import make_gtin
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity
from medledger.sdk.model import ApprovalPolicy, ItemStatus, LicenceKind, class_mask
from tests.contracts.test_gsp_rules import HOUR, YEAR, deliver, expect_revert, new_container

RECORD = keccak(b"salt" + b"qualification record")  # stands for a sealed record's commitment


def narrow_distributor(c: Consortium, chain: DevChain, *classes: int) -> None:
    """Re-attest the distributor's licence covering only `classes` (the demo product is III)."""
    c.regulator.attest_licence(
        c.distributor.address,
        kind=LicenceKind.DISTRIBUTION,
        number="沪食药监械经营许20260002号",
        class_mask=class_mask(*classes),
        valid_until=chain.now() + YEAR,
    )


# ---------------------------------------------------------------- sender licence


def test_an_out_of_scope_sender_cannot_ship_units(consortium: Consortium, chain: DevChain) -> None:
    c = consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    deliver(c.manufacturer, c.distributor, [unit])
    narrow_distributor(c, chain, 1, 2)
    expect_revert(
        lambda: c.distributor.ship(c.hospital.address, [unit]),
        "ItemsSenderNotQualified",
        {"sender": c.distributor.address, "deviceClass": 3},
    )
    assert c.distributor.item(unit).status == ItemStatus.ACTIVE
    narrow_distributor(c, chain, 1, 2, 3)
    deliver(c.distributor, c.hospital, [unit])
    assert c.hospital.item(unit).holder == c.hospital.address


def test_an_unlicensed_sender_cannot_ship_a_container(
    consortium: Consortium, chain: DevChain
) -> None:
    c = consortium
    units = c.manufacturer.commission(c.lot_key, ["SN1", "SN2"]).value
    deliver(c.manufacturer, c.distributor, units)
    pallet = new_container(c.distributor, c.distributor_prefix, 1)
    c.distributor.pack(pallet, units)
    c.regulator.revoke_licence(c.distributor.address, kind=LicenceKind.DISTRIBUTION)
    expect_revert(
        lambda: c.distributor.ship(c.hospital.address, [pallet]),
        "ItemsSenderNotQualified",
        {"sender": c.distributor.address, "deviceClass": 3},
    )


def lot_tracked(c: Consortium, chain: DevChain, quantity: int) -> tuple[str, bytes]:
    """A class II lot-tracked product with `quantity` units commissioned; (GTIN, lot key)."""
    now = chain.now()
    gtin = make_gtin(indicator=0, company_prefix=c.prefix, item_reference=4242)
    c.manufacturer.register_product(
        gtin,
        company_prefix=c.prefix,
        device_class=2,
        certificate_hash=keccak(text=f"registration {gtin}"),
        registration_expiry=now + YEAR,
        temp_min=20,
        temp_max=250,
        serialised=False,
    )
    key = c.manufacturer.register_lot(
        gtin, "L-7", production_date=now - HOUR, expiry=now + YEAR
    ).value
    c.manufacturer.commission_lot(key, quantity)
    return gtin, key


def test_an_out_of_scope_sender_cannot_ship_lot_quantities(
    consortium: Consortium, chain: DevChain
) -> None:
    c = consortium
    _, key = lot_tracked(c, chain, 50)
    shipment = c.manufacturer.ship(c.distributor.address, [], lots=[LotQuantity(key, 50)]).value
    c.distributor.receive(shipment, temp_min=50, temp_max=80)
    narrow_distributor(c, chain, 3)
    expect_revert(
        lambda: c.distributor.ship(c.hospital.address, [], lots=[LotQuantity(key, 10)]),
        "ItemsSenderNotQualified",
        {"sender": c.distributor.address, "deviceClass": 2},
    )


def test_the_receiver_is_checked_before_the_sender(consortium: Consortium, chain: DevChain) -> None:
    c = consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    deliver(c.manufacturer, c.distributor, [unit])
    narrow_distributor(c, chain, 1)
    c.regulator.revoke_licence(c.hospital.address, kind=LicenceKind.PRACTICE)
    expect_revert(
        lambda: c.distributor.ship(c.hospital.address, [unit]),
        "ItemsReceiverNotQualified",
        {"receiver": c.hospital.address, "deviceClass": 3},
    )


# ---------------------------------------------------------------- approved files


def test_policy_is_off_by_default(consortium: Consortium) -> None:
    c = consortium
    assert c.distributor.approval_policy(c.distributor.address) == ApprovalPolicy.OFF
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    shipment = deliver(c.manufacturer, c.distributor, [unit])
    assert not c.distributor.shipment(shipment).held
    assert c.distributor.item(unit).status == ItemStatus.ACTIVE


def test_refuse_names_the_unapproved_supplier_then_the_product(consortium: Consortium) -> None:
    c = consortium
    d = c.distributor
    result = d.set_approval_policy(ApprovalPolicy.REFUSE)
    assert result.event("ApprovalPolicySet") == {"member": d.address, "policy": 2}
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    expect_revert(
        lambda: c.manufacturer.ship(d.address, [unit]),
        "ItemsSupplierNotApproved",
        {"receiver": d.address, "supplier": c.manufacturer.address},
    )
    approved = d.approve_supplier(c.manufacturer.address, record=RECORD)
    assert approved.event("SupplierApproved") == {
        "member": d.address,
        "supplier": c.manufacturer.address,
        "recordCommitment": RECORD,
    }
    assert d.supplier_approval(d.address, c.manufacturer.address) == RECORD
    expect_revert(
        lambda: c.manufacturer.ship(d.address, [unit]),
        "ItemsProductNotApproved",
        {"receiver": d.address, "gtin": c.gtin.encode("ascii")},
    )
    d.approve_product(c.gtin, record=RECORD)
    assert d.product_approval(d.address, c.gtin) == RECORD
    shipment = deliver(c.manufacturer, d, [unit])
    assert not d.shipment(shipment).held
    assert d.item(unit).status == ItemStatus.ACTIVE


def test_a_withdrawn_supplier_is_refused_again(consortium: Consortium) -> None:
    c = consortium
    d = c.distributor
    d.set_approval_policy(ApprovalPolicy.REFUSE)
    d.approve_supplier(c.manufacturer.address, record=RECORD)
    d.approve_product(c.gtin, record=RECORD)
    withdrawal = keccak(b"salt" + b"withdrawal record")
    result = d.withdraw_supplier(c.manufacturer.address, record=withdrawal)
    assert result.event("SupplierWithdrawn")["recordCommitment"] == withdrawal
    assert d.supplier_approval(d.address, c.manufacturer.address) is None
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    expect_revert(
        lambda: c.manufacturer.ship(d.address, [unit]),
        "ItemsSupplierNotApproved",
        {"receiver": d.address, "supplier": c.manufacturer.address},
    )


def test_hold_receives_unapproved_goods_into_quarantine(consortium: Consortium) -> None:
    c = consortium
    d = c.distributor
    d.set_approval_policy(ApprovalPolicy.HOLD)
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    sent = c.manufacturer.ship(d.address, [unit])
    assert sent.event("ShipmentHeldForReview") == {
        "shipmentId": sent.value,
        "receiver": d.address,
        "sender": c.manufacturer.address,
    }
    assert d.shipment(sent.value).held
    received = d.receive(sent.value, temp_min=50, temp_max=80)
    assert received.event("ShipmentReceived")["quarantined"] is True
    assert d.item(unit).status == ItemStatus.QUARANTINED
    # QA reviews, approves both files and releases; the next shipment is not held.
    d.release([unit])
    d.approve_supplier(c.manufacturer.address, record=RECORD)
    d.approve_product(c.gtin, record=RECORD)
    (second,) = c.manufacturer.commission(c.lot_key, ["SN2"]).value
    shipment = deliver(c.manufacturer, d, [second])
    assert not d.shipment(shipment).held
    assert d.item(second).status == ItemStatus.ACTIVE


def test_hold_with_only_the_supplier_approved_still_holds(consortium: Consortium) -> None:
    c = consortium
    d = c.distributor
    d.set_approval_policy(ApprovalPolicy.HOLD)
    d.approve_supplier(c.manufacturer.address, record=RECORD)
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    shipment = deliver(c.manufacturer, d, [unit])
    assert d.shipment(shipment).held
    assert d.item(unit).status == ItemStatus.QUARANTINED


def test_returns_to_the_manufacturer_skip_its_files(consortium: Consortium) -> None:
    """A manufacturer needs no approval of its own products coming back."""
    c = consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["SN1"]).value
    deliver(c.manufacturer, c.distributor, [unit])
    c.manufacturer.set_approval_policy(ApprovalPolicy.REFUSE)
    shipment = deliver(c.distributor, c.manufacturer, [unit])
    assert not c.manufacturer.shipment(shipment).held


@pytest.mark.parametrize("name", ["regulator", "admin"])
def test_only_trading_members_keep_files(consortium: Consortium, name: str) -> None:
    caller: Ledger = consortium.by_name(name)
    expect_revert(
        lambda: caller.set_approval_policy(ApprovalPolicy.HOLD),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )
    expect_revert(
        lambda: caller.approve_supplier(consortium.manufacturer.address, record=RECORD),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )


def test_approval_inputs_are_checked(consortium: Consortium) -> None:
    c = consortium
    d = c.distributor
    expect_revert(
        lambda: d.approve_supplier(d.address, record=RECORD),
        "PartnersInvalidSupplier",
        {"supplier": d.address},
    )
    stranger = "0x000000000000000000000000000000000000dEaD"
    expect_revert(
        lambda: d.approve_supplier(stranger, record=RECORD),
        "PartnersInvalidSupplier",
        {"supplier": stranger},
    )
    expect_revert(
        lambda: d.approve_supplier(c.manufacturer.address, record=bytes(32)),
        "PartnersMissingRecord",
        {},
    )
    bad_gtin = c.gtin[:-1] + str((int(c.gtin[-1]) + 1) % 10)
    expect_revert(
        lambda: d.approve_product(bad_gtin, record=RECORD),
        "PartnersInvalidGtin",
        {"gtin": bad_gtin},
    )
    expect_revert(
        lambda: d.withdraw_product(c.gtin),
        "PartnersProductNotApproved",
        {"member": d.address, "gtin": c.gtin},
    )
    expect_revert(
        lambda: d.withdraw_supplier(c.manufacturer.address),
        "PartnersSupplierNotApproved",
        {"member": d.address, "supplier": c.manufacturer.address},
    )


def test_licence_texts_are_bounded(consortium: Consortium, chain: DevChain) -> None:
    c = consortium
    attest = c.regulator.attest_licence
    until = chain.now() + YEAR
    expect_revert(
        lambda: attest(
            c.distributor.address,
            kind=LicenceKind.DISTRIBUTION,
            number="",
            class_mask=2,
            valid_until=until,
        ),
        "PartnersInvalidLicenceText",
        {"value": ""},
    )
    expect_revert(
        lambda: attest(
            c.distributor.address,
            kind=LicenceKind.DISTRIBUTION,
            number="N-1",
            class_mask=2,
            valid_until=until,
            scope=["07", "07;03"],
        ),
        "PartnersInvalidScopeCode",
        {"code": "07;03"},
    )


def test_hold_quarantines_lot_quantities_and_refuse_names_their_product(
    consortium: Consortium, chain: DevChain
) -> None:
    c = consortium
    d = c.distributor
    gtin, key = lot_tracked(c, chain, 30)
    lot_index = c.manufacturer.lot(key).lot_index  # type: ignore[union-attr]
    d.set_approval_policy(ApprovalPolicy.HOLD)
    d.approve_supplier(c.manufacturer.address, record=RECORD)
    sent = c.manufacturer.ship(d.address, [], lots=[LotQuantity(key, 10)])
    assert d.shipment(sent.value).held
    d.receive(sent.value, temp_min=50, temp_max=80)
    assert d.lot_balance(lot_index, d.address) == (0, 10, 0)
    d.set_approval_policy(ApprovalPolicy.REFUSE)
    expect_revert(
        lambda: c.manufacturer.ship(d.address, [], lots=[LotQuantity(key, 10)]),
        "ItemsProductNotApproved",
        {"receiver": d.address, "gtin": gtin.encode("ascii")},
    )
