"""Devices.sol: product registration and renewal, lots, recalls and the read views.

Errors whose first argument is a string (DevicesInvalidGtin, DevicesPrefixNotOwned,
DevicesProductExists, DevicesUnknownProduct, DevicesRegistrationExpired,
DevicesInvalidLotNumber) are checked through eth_call (`simulate`): web3's
EthereumTesterProvider decodes such revert data as if it were Error(string) while estimating
gas, so the Ledger cannot name them on eth-tester (see the note in `simulate`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX, Consortium
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import lot_key, make_gtin
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.model import LicenceKind, LotRecord, ProductRecord, Role, class_mask

ZERO_ADDRESS = "0x" + "00" * 20
YEAR = 365 * 24 * 3600
DAY = 24 * 3600
RIVAL_PREFIX = "6942000"
NEW_GTIN = make_gtin(indicator=0, company_prefix=DEMO_PREFIX, item_reference=77777)
DISTRIBUTOR_GTIN = make_gtin(indicator=0, company_prefix=DISTRIBUTOR_PREFIX, item_reference=1)
RIVAL_GTIN = make_gtin(indicator=0, company_prefix=RIVAL_PREFIX, item_reference=42)
CERT = keccak(text="NMPA registration 20263130999")


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args


def simulate(ledger: Ledger, contract: str, fn: str, *args: Any) -> Any:
    """eth_call `contract.fn(*args)` from `ledger`'s account, decoding a revert like the Ledger.

    For views the Ledger does not bind, and for string-first errors, which web3's
    EthereumTesterProvider mangles during gas estimation (it runs abi.decode(["string"]) on
    any revert payload) but passes through intact on eth_call."""
    try:
        return ledger._c[contract].functions[fn](*args).call({"from": ledger.address})
    except Exception as exc:  # decoded exactly as the Ledger decodes its own calls
        raise ledger._decode(exc) from exc


def event_names(result: TxResult[Any]) -> list[str]:
    return [e.name for e in result.events]


def active_recall(ledger: Ledger, key: bytes) -> int:
    lot = ledger.lot(key)
    assert lot is not None
    return lot.active_recall


def bad_check_digit(gtin: str) -> str:
    return gtin[:-1] + str((int(gtin[-1]) + 1) % 10)


@pytest.fixture
def rival(chain: DevChain, consortium: Consortium) -> Ledger:
    """A second manufacturer (chain.accounts[7]) owning RIVAL_PREFIX and product RIVAL_GTIN."""
    account: LocalAccount = chain.accounts[7]
    consortium.regulator.admit(account.address, Role.MANUFACTURER, "Rival Devices Co.")
    consortium.regulator.assign_company_prefix(account.address, RIVAL_PREFIX)
    consortium.regulator.attest_licence(
        account.address,
        kind=LicenceKind.PRODUCTION,
        number="rival production licence",
        class_mask=class_mask(1, 2, 3),
        valid_until=chain.now() + YEAR,
    )
    ledger = consortium.manufacturer.as_member(account)
    _register(ledger, RIVAL_GTIN, prefix=RIVAL_PREFIX, expiry=chain.now() + YEAR)
    return ledger


def _register(
    ledger: Ledger,
    gtin: str,
    *,
    expiry: int,
    prefix: str = DEMO_PREFIX,
    device_class: int = 2,
    temp_min: int = 20,
    temp_max: int = 80,
) -> TxResult[None]:
    return ledger.register_product(
        gtin,
        company_prefix=prefix,
        device_class=device_class,
        certificate_hash=CERT,
        registration_expiry=expiry,
        temp_min=temp_min,
        temp_max=temp_max,
    )


def _register_args(
    gtin: str,
    *,
    expiry: int,
    prefix: str = DEMO_PREFIX,
    device_class: int = 2,
    temp_min: int = 20,
    temp_max: int = 80,
) -> tuple[Any, ...]:
    """The registerProduct arguments in ABI order, for `simulate`."""
    return (gtin, prefix, device_class, CERT, expiry, temp_min, temp_max)


def _lot_args(gtin: str, lot: str, now: int) -> tuple[Any, ...]:
    return (gtin, lot, now - DAY, now + YEAR, bytes(32))


# ------------------------------------------------------------------ registerProduct


@pytest.mark.parametrize(
    ("device_class", "temp_min", "temp_max"),
    [(1, 20, 80), (2, -250, -150), (3, 40, 40)],
    ids=["class-i", "frozen-class-ii", "fixed-point-class-iii"],
)
def test_manufacturer_registers_a_product_under_its_prefix(
    chain: DevChain, consortium: Consortium, device_class: int, temp_min: int, temp_max: int
) -> None:
    m = consortium.manufacturer
    expiry = chain.now() + YEAR
    result = _register(
        m,
        NEW_GTIN,
        expiry=expiry,
        device_class=device_class,
        temp_min=temp_min,
        temp_max=temp_max,
    )
    assert event_names(result) == ["ProductRegistered"]
    assert result.event("ProductRegistered") == {
        "gtin": NEW_GTIN.encode(),
        "manufacturer": m.address,
        "deviceClass": device_class,
        "tempMin": temp_min,
        "tempMax": temp_max,
        "certificateHash": CERT,
        "registrationExpiry": expiry,
    }
    assert m.product(NEW_GTIN) == ProductRecord(
        m.address, device_class, temp_min, temp_max, expiry, CERT
    )


def test_second_manufacturer_registers_under_its_own_prefix(rival: Ledger) -> None:
    product = rival.product(RIVAL_GTIN)
    assert product is not None
    assert product.manufacturer == rival.address


@pytest.mark.parametrize("name", ["distributor", "hospital", "regulator"])
def test_only_a_manufacturer_registers_products(
    chain: DevChain, consortium: Consortium, name: str
) -> None:
    caller = consortium.by_name(name)
    # The distributor owns DISTRIBUTOR_PREFIX, yet its role does not allow registering.
    consortium.regulator.assign_company_prefix(consortium.hospital.address, "6999999")
    prefix = {"distributor": DISTRIBUTOR_PREFIX, "hospital": "6999999"}.get(name, DEMO_PREFIX)
    gtin = make_gtin(indicator=0, company_prefix=prefix, item_reference=5)
    expect_revert(
        lambda: _register(caller, gtin, prefix=prefix, expiry=chain.now() + YEAR),
        "DevicesUnauthorized",
        {"caller": caller.address},
    )
    assert caller.product(gtin) is None


def test_suspended_manufacturer_cannot_register(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    consortium.regulator.suspend(m.address)
    expect_revert(
        lambda: _register(m, NEW_GTIN, expiry=chain.now() + YEAR),
        "DevicesUnauthorized",
        {"caller": m.address},
    )


def test_non_member_cannot_register(chain: DevChain, consortium: Consortium) -> None:
    outsider = consortium.manufacturer.as_member(chain.accounts[8])
    expect_revert(
        lambda: _register(outsider, NEW_GTIN, expiry=chain.now() + YEAR),
        "DevicesUnauthorized",
        {"caller": outsider.address},
    )


@pytest.mark.parametrize(
    "gtin",
    [
        NEW_GTIN[1:],  # a valid GTIN-13, not in 14-digit form
        NEW_GTIN + "0",
        "",
        bad_check_digit(NEW_GTIN),
        NEW_GTIN[:-1] + "X",
        "0950600077777A",
    ],
    ids=["13-digits", "15-digits", "empty", "check-digit", "letter-check", "letter-body"],
)
def test_malformed_gtin_is_refused(chain: DevChain, consortium: Consortium, gtin: str) -> None:
    m = consortium.manufacturer
    expect_revert(
        lambda: simulate(
            m, "Devices", "registerProduct", *_register_args(gtin, expiry=chain.now() + YEAR)
        ),
        "DevicesInvalidGtin",
        {"gtin": gtin},
    )


@pytest.mark.parametrize(
    ("gtin", "prefix"),
    [
        (DISTRIBUTOR_GTIN, DISTRIBUTOR_PREFIX),  # someone else's prefix
        (make_gtin(indicator=0, company_prefix="6911111", item_reference=1), "6911111"),  # nobody's
        (DISTRIBUTOR_GTIN, DEMO_PREFIX),  # own prefix, but the GTIN is not under it
        (NEW_GTIN, "950600"),  # a shorter, unassigned prefix of the GTIN
        (NEW_GTIN, "95060007"),  # a longer, unassigned one
    ],
    ids=["other-owner", "unassigned", "gtin-not-under-prefix", "shorter", "longer"],
)
def test_gtin_must_carry_a_prefix_the_manufacturer_owns(
    chain: DevChain, consortium: Consortium, gtin: str, prefix: str
) -> None:
    m = consortium.manufacturer
    expect_revert(
        lambda: simulate(
            m,
            "Devices",
            "registerProduct",
            *_register_args(gtin, prefix=prefix, expiry=chain.now() + YEAR),
        ),
        "DevicesPrefixNotOwned",
        {"prefix": prefix, "caller": m.address},
    )


def test_rival_cannot_register_a_gtin_under_another_manufacturers_prefix(
    chain: DevChain, rival: Ledger
) -> None:
    expect_revert(
        lambda: simulate(
            rival,
            "Devices",
            "registerProduct",
            *_register_args(NEW_GTIN, expiry=chain.now() + YEAR),
        ),
        "DevicesPrefixNotOwned",
        {"prefix": DEMO_PREFIX, "caller": rival.address},
    )


def test_product_cannot_be_registered_twice(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    expect_revert(
        lambda: simulate(
            m,
            "Devices",
            "registerProduct",
            *_register_args(consortium.gtin, device_class=1, expiry=chain.now() + YEAR),
        ),
        "DevicesProductExists",
        {"gtin": consortium.gtin},
    )
    product = m.product(consortium.gtin)
    assert product is not None and product.device_class == 3


@pytest.mark.parametrize("device_class", [0, 4, 255])
def test_device_class_must_be_one_to_three(
    chain: DevChain, consortium: Consortium, device_class: int
) -> None:
    expect_revert(
        lambda: _register(
            consortium.manufacturer,
            NEW_GTIN,
            device_class=device_class,
            expiry=chain.now() + YEAR,
        ),
        "DevicesInvalidDeviceClass",
        {"deviceClass": device_class},
    )


@pytest.mark.parametrize(("temp_min", "temp_max"), [(81, 80), (-150, -250), (32767, -32768)])
def test_inverted_temperature_range_is_refused(
    chain: DevChain, consortium: Consortium, temp_min: int, temp_max: int
) -> None:
    expect_revert(
        lambda: _register(
            consortium.manufacturer,
            NEW_GTIN,
            temp_min=temp_min,
            temp_max=temp_max,
            expiry=chain.now() + YEAR,
        ),
        "DevicesInvalidTemperatureRange",
        {"tempMin": temp_min, "tempMax": temp_max},
    )


@pytest.mark.parametrize("offset", [-YEAR, 0])
def test_registration_already_expired_is_refused(
    chain: DevChain, consortium: Consortium, offset: int
) -> None:
    expiry = chain.now() + offset
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "registerProduct",
            *_register_args(NEW_GTIN, expiry=expiry),
        ),
        "DevicesRegistrationExpired",
        {"gtin": NEW_GTIN, "registrationExpiry": expiry},
    )


# ------------------------------------------------------------------ renewRegistration


def test_manufacturer_renews_a_registration(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    before = m.product(consortium.gtin)
    assert before is not None
    # Renewal also works once the old certificate has lapsed.
    chain.advance(before.registration_expiry - chain.now() + 10)
    new_cert, new_expiry = keccak(text="renewed"), chain.now() + 5 * YEAR
    result = m.renew_registration(
        consortium.gtin, certificate_hash=new_cert, registration_expiry=new_expiry
    )
    assert event_names(result) == ["RegistrationRenewed"]
    assert result.event("RegistrationRenewed") == {
        "gtin": consortium.gtin.encode(),
        "certificateHash": new_cert,
        "registrationExpiry": new_expiry,
    }
    assert m.product(consortium.gtin) == ProductRecord(
        m.address, before.device_class, before.temp_min, before.temp_max, new_expiry, new_cert
    )


def test_renewing_a_malformed_gtin_fails(chain: DevChain, consortium: Consortium) -> None:
    gtin = consortium.gtin[1:]
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "renewRegistration",
            gtin,
            CERT,
            chain.now() + YEAR,
        ),
        "DevicesInvalidGtin",
        {"gtin": gtin},
    )


def test_renewing_an_unknown_product_fails(chain: DevChain, consortium: Consortium) -> None:
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "renewRegistration",
            NEW_GTIN,
            CERT,
            chain.now() + YEAR,
        ),
        "DevicesUnknownProduct",
        {"gtin": NEW_GTIN},
    )


@pytest.mark.parametrize("who", ["rival", "regulator", "suspended-manufacturer"])
def test_only_the_products_active_manufacturer_renews(
    chain: DevChain, consortium: Consortium, rival: Ledger, who: str
) -> None:
    if who == "suspended-manufacturer":
        caller = consortium.manufacturer
        consortium.regulator.suspend(caller.address)
    else:
        caller = rival if who == "rival" else consortium.regulator
    expect_revert(
        lambda: caller.renew_registration(
            consortium.gtin, certificate_hash=CERT, registration_expiry=chain.now() + YEAR
        ),
        "DevicesUnauthorized",
        {"caller": caller.address},
    )


@pytest.mark.parametrize("offset", [-1, 0])
def test_renewal_must_expire_in_the_future(
    chain: DevChain, consortium: Consortium, offset: int
) -> None:
    expiry = chain.now() + offset
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "renewRegistration",
            consortium.gtin,
            CERT,
            expiry,
        ),
        "DevicesRegistrationExpired",
        {"gtin": consortium.gtin, "registrationExpiry": expiry},
    )


# ------------------------------------------------------------------ registerLot


@pytest.mark.parametrize("lot", ["LOT2026B", "A", "Ab-._09Zz-._Qq012345"], ids=len)
def test_manufacturer_registers_a_lot(chain: DevChain, consortium: Consortium, lot: str) -> None:
    m = consortium.manufacturer
    now = chain.now()
    qc = keccak(text=f"QC {lot}")
    result = m.register_lot(
        consortium.gtin, lot, production_date=now - DAY, expiry=now + YEAR, qc_release_hash=qc
    )
    key = lot_key(consortium.gtin, lot)
    assert result.value == key
    assert event_names(result) == ["LotRegistered"]
    assert result.event("LotRegistered") == {
        "lotKey": key,
        "gtin": consortium.gtin.encode(),
        "lotIndex": 2,  # the demo lot is 1
        "lot": lot,
        "productionDate": now - DAY,
        "expiry": now + YEAR,
        "qcReleaseHash": qc,
    }
    assert m.lot(key) == LotRecord(2, consortium.gtin, now - DAY, now + YEAR, 0)


def test_lot_indexes_increase_across_products(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    now = chain.now()
    _register(m, NEW_GTIN, expiry=now + YEAR)
    # The same lot number under another product is another lot.
    a = m.register_lot(NEW_GTIN, consortium.lot, production_date=now, expiry=now + YEAR).value
    b = m.register_lot(consortium.gtin, "LOT2", production_date=now, expiry=now + YEAR).value
    assert a == lot_key(NEW_GTIN, consortium.lot) != consortium.lot_key
    lots = [m.lot(k) for k in (consortium.lot_key, a, b)]
    assert [lot.lot_index if lot else None for lot in lots] == [1, 2, 3]


def test_lot_of_an_unknown_product_is_refused(chain: DevChain, consortium: Consortium) -> None:
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "registerLot",
            *_lot_args(NEW_GTIN, "L1", chain.now()),
        ),
        "DevicesUnknownProduct",
        {"gtin": NEW_GTIN},
    )


def test_lot_with_a_malformed_gtin_is_refused(chain: DevChain, consortium: Consortium) -> None:
    gtin = consortium.gtin + "1"
    expect_revert(
        lambda: simulate(
            consortium.manufacturer, "Devices", "registerLot", *_lot_args(gtin, "L1", chain.now())
        ),
        "DevicesInvalidGtin",
        {"gtin": gtin},
    )


def test_lot_of_another_manufacturers_product_is_refused(
    chain: DevChain, consortium: Consortium, rival: Ledger
) -> None:
    now = chain.now()
    expect_revert(
        lambda: rival.register_lot(consortium.gtin, "FAKE1", production_date=now, expiry=now + 1),
        "DevicesUnauthorized",
        {"caller": rival.address},
    )
    m = consortium.manufacturer
    expect_revert(
        lambda: m.register_lot(RIVAL_GTIN, "FAKE1", production_date=now, expiry=now + 1),
        "DevicesUnauthorized",
        {"caller": m.address},
    )


def test_suspended_manufacturer_cannot_register_lots(
    chain: DevChain, consortium: Consortium
) -> None:
    m, now = consortium.manufacturer, chain.now()
    consortium.regulator.suspend(m.address)
    expect_revert(
        lambda: m.register_lot(consortium.gtin, "L1", production_date=now, expiry=now + 1),
        "DevicesUnauthorized",
        {"caller": m.address},
    )


def test_a_lot_number_with_cset82_punctuation_gets_its_digital_link_key(
    chain: DevChain, consortium: Consortium
) -> None:
    now = chain.now()
    for lot in ("LOT/1", "LOT%201", "LOT+1", "A/21/B"):
        key = consortium.manufacturer.register_lot(
            consortium.gtin, lot, production_date=now, expiry=now + 86_400
        ).value
        assert key == lot_key(consortium.gtin, lot), lot
    assert lot_key(consortium.gtin, "A/21/B") != lot_key(consortium.gtin, "A")


@pytest.mark.parametrize(
    "lot",
    ["", "LOT 1", "LOT#1", "LOT@1", "LOT~1", "LÖT1", "A" * 21],
    ids=["empty", "space", "hash", "at", "tilde", "non-ascii", "21-chars"],
)
def test_lot_number_must_be_cset82(chain: DevChain, consortium: Consortium, lot: str) -> None:
    expect_revert(
        lambda: simulate(
            consortium.manufacturer,
            "Devices",
            "registerLot",
            *_lot_args(consortium.gtin, lot, chain.now()),
        ),
        "DevicesInvalidLotNumber",
        {"lot": lot},
    )


@pytest.mark.parametrize("gap", [0, -1, -YEAR])
def test_lot_expiry_must_follow_production(
    chain: DevChain, consortium: Consortium, gap: int
) -> None:
    production = chain.now()
    expect_revert(
        lambda: consortium.manufacturer.register_lot(
            consortium.gtin, "L1", production_date=production, expiry=production + gap
        ),
        "DevicesInvalidLotDates",
        {"productionDate": production, "expiry": production + gap},
    )


def test_lot_cannot_be_registered_twice(chain: DevChain, consortium: Consortium) -> None:
    now = chain.now()
    expect_revert(
        lambda: consortium.manufacturer.register_lot(
            consortium.gtin, consortium.lot, production_date=now, expiry=now + YEAR
        ),
        "DevicesLotExists",
        {"lotKey": consortium.lot_key},
    )


# ------------------------------------------------------------------ recallLot


@pytest.mark.parametrize("who", ["manufacturer", "regulator"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_manufacturer_or_regulator_recalls_a_lot(
    consortium: Consortium, who: str, level: int
) -> None:
    caller = consortium.by_name(who)
    reason = keccak(text="sterility breach")
    result = caller.recall_lot(consortium.lot_key, level=level, reason_hash=reason)
    assert result.value == 1
    assert event_names(result) == ["RecallOpened"]
    assert result.event("RecallOpened") == {
        "recallId": 1,
        "lotKey": consortium.lot_key,
        "initiator": caller.address,
        "level": level,
        "reasonHash": reason,
    }
    assert caller.recall(1) == {
        "lot_key": consortium.lot_key,
        "lot_index": 1,
        "level": level,
        "open": True,
        "initiator": caller.address,
    }
    lot = caller.lot(consortium.lot_key)
    assert lot is not None and lot.active_recall == 1


def test_recall_of_an_unknown_lot_fails(consortium: Consortium) -> None:
    key = lot_key(consortium.gtin, "NOSUCHLOT")
    expect_revert(
        lambda: consortium.regulator.recall_lot(key, level=1, reason_hash=bytes(32)),
        "DevicesUnknownLot",
        {"lotKey": key},
    )


@pytest.mark.parametrize("who", ["rival", "distributor", "hospital", "suspended-manufacturer"])
def test_only_the_lots_manufacturer_or_a_regulator_recalls(
    consortium: Consortium, rival: Ledger, who: str
) -> None:
    if who == "suspended-manufacturer":
        caller = consortium.manufacturer
        consortium.regulator.suspend(caller.address)
    else:
        caller = rival if who == "rival" else consortium.by_name(who)
    expect_revert(
        lambda: caller.recall_lot(consortium.lot_key, level=2, reason_hash=bytes(32)),
        "DevicesUnauthorized",
        {"caller": caller.address},
    )
    assert active_recall(consortium.regulator, consortium.lot_key) == 0


def test_suspended_regulator_cannot_recall(consortium: Consortium) -> None:
    regulator = consortium.regulator
    consortium.admin.suspend(regulator.address)
    expect_revert(
        lambda: regulator.recall_lot(consortium.lot_key, level=1, reason_hash=bytes(32)),
        "DevicesUnauthorized",
        {"caller": regulator.address},
    )


@pytest.mark.parametrize("level", [0, 4, 255])
def test_recall_level_must_be_one_to_three(consortium: Consortium, level: int) -> None:
    expect_revert(
        lambda: consortium.manufacturer.recall_lot(
            consortium.lot_key, level=level, reason_hash=bytes(32)
        ),
        "DevicesInvalidRecallLevel",
        {"level": level},
    )


def test_lot_with_an_open_recall_cannot_be_recalled_again(consortium: Consortium) -> None:
    consortium.manufacturer.recall_lot(consortium.lot_key, level=2, reason_hash=bytes(32))
    expect_revert(
        lambda: consortium.regulator.recall_lot(consortium.lot_key, level=1, reason_hash=bytes(32)),
        "DevicesLotAlreadyRecalled",
        {"lotKey": consortium.lot_key, "recallId": 1},
    )


def test_a_lot_can_be_recalled_again_after_closing(consortium: Consortium) -> None:
    m = consortium.manufacturer
    first = m.recall_lot(consortium.lot_key, level=3, reason_hash=bytes(32)).value
    m.close_recall(first)
    second = consortium.regulator.recall_lot(
        consortium.lot_key, level=1, reason_hash=bytes(32)
    ).value
    assert (first, second) == (1, 2)
    assert active_recall(m, consortium.lot_key) == 2
    assert m.recall(1)["open"] is False
    assert m.recall(2)["open"] is True


# ------------------------------------------------------------------ closeRecall


def test_a_recall_ordered_by_a_regulator_is_not_closed_by_the_manufacturer(
    consortium: Consortium,
) -> None:
    recall_id = consortium.regulator.recall_lot(
        consortium.lot_key, level=1, reason_hash=keccak(text="field safety notice")
    ).value
    expect_revert(
        lambda: consortium.manufacturer.close_recall(recall_id),
        "DevicesUnauthorized",
        {"caller": consortium.manufacturer.address},
    )
    assert consortium.regulator.recall(recall_id)["open"] is True


def test_a_manufacturer_without_a_production_licence_for_the_class_cannot_register(
    chain: DevChain, consortium: Consortium
) -> None:
    m = consortium.manufacturer
    consortium.regulator.attest_licence(
        m.address,
        kind=LicenceKind.PRODUCTION,
        number="narrowed licence",
        class_mask=class_mask(1, 2),
        valid_until=chain.now() + YEAR,
    )
    expect_revert(
        lambda: _register(m, NEW_GTIN, expiry=chain.now() + YEAR, device_class=3),
        "DevicesNotLicensed",
        {"manufacturer": m.address, "deviceClass": 3},
    )
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR, device_class=2)
    product = m.product(NEW_GTIN)
    assert product is not None and product.device_class == 2


def test_a_lot_that_has_already_expired_cannot_be_registered(
    chain: DevChain, consortium: Consortium
) -> None:
    now = chain.now()
    expect_revert(
        lambda: consortium.manufacturer.register_lot(
            consortium.gtin, "OLD1", production_date=now - 2 * YEAR, expiry=now - 1
        ),
        "DevicesInvalidLotDates",
        {"productionDate": now - 2 * YEAR, "expiry": now - 1},
    )


@pytest.mark.parametrize(
    ("opener", "closer"),
    [("manufacturer", "manufacturer"), ("manufacturer", "regulator"), ("regulator", "regulator")],
)
def test_recall_is_closed_by_the_manufacturer_or_a_regulator(
    consortium: Consortium, opener: str, closer: str
) -> None:
    recall_id = (
        consortium.by_name(opener)
        .recall_lot(consortium.lot_key, level=2, reason_hash=keccak(text="reason"))
        .value
    )
    by = consortium.by_name(closer)
    outcome = keccak(text="all units returned")
    result = by.close_recall(recall_id, outcome_hash=outcome)
    assert event_names(result) == ["RecallClosed"]
    assert result.event("RecallClosed") == {
        "recallId": recall_id,
        "lotKey": consortium.lot_key,
        "by": by.address,
        "outcomeHash": outcome,
    }
    assert by.recall(recall_id) == {
        "lot_key": consortium.lot_key,
        "lot_index": 1,
        "level": 2,
        "open": False,
        "initiator": consortium.by_name(opener).address,
    }
    assert active_recall(by, consortium.lot_key) == 0


@pytest.mark.parametrize("recall_id", [0, 1, 99])
def test_closing_an_unknown_recall_fails(consortium: Consortium, recall_id: int) -> None:
    expect_revert(
        lambda: consortium.regulator.close_recall(recall_id),
        "DevicesUnknownRecall",
        {"recallId": recall_id},
    )


def test_closed_recall_cannot_be_closed_again(consortium: Consortium) -> None:
    recall_id = consortium.manufacturer.recall_lot(
        consortium.lot_key, level=1, reason_hash=bytes(32)
    ).value
    consortium.regulator.close_recall(recall_id)
    for caller in (consortium.manufacturer, consortium.regulator):
        expect_revert(
            functools.partial(caller.close_recall, recall_id),
            "DevicesRecallClosed",
            {"recallId": recall_id},
        )


@pytest.mark.parametrize("who", ["rival", "distributor", "hospital"])
def test_only_the_lots_manufacturer_or_a_regulator_closes_a_recall(
    consortium: Consortium, rival: Ledger, who: str
) -> None:
    recall_id = consortium.regulator.recall_lot(
        consortium.lot_key, level=1, reason_hash=bytes(32)
    ).value
    caller = rival if who == "rival" else consortium.by_name(who)
    expect_revert(
        lambda: caller.close_recall(recall_id),
        "DevicesUnauthorized",
        {"caller": caller.address},
    )
    assert caller.recall(recall_id)["open"] is True


def test_suspended_manufacturer_cannot_close_its_recall(consortium: Consortium) -> None:
    m = consortium.manufacturer
    recall_id = m.recall_lot(consortium.lot_key, level=1, reason_hash=bytes(32)).value
    consortium.regulator.suspend(m.address)
    expect_revert(
        lambda: m.close_recall(recall_id),
        "DevicesUnauthorized",
        {"caller": m.address},
    )


# ------------------------------------------------------------------ views


def test_product_of_the_demo_gtin(consortium: Consortium) -> None:
    m = consortium.manufacturer
    product = m.product(consortium.gtin)
    assert product is not None
    assert (product.manufacturer, product.device_class, product.temp_min, product.temp_max) == (
        m.address,
        3,
        20,
        250,
    )
    assert product.certificate_hash == keccak(text="NMPA registration 20263130001")


@pytest.mark.parametrize("gtin", [NEW_GTIN, "", "123"])
def test_product_of_an_unknown_gtin_is_empty(consortium: Consortium, gtin: str) -> None:
    assert consortium.manufacturer.product(gtin) is None
    (record, cert) = simulate(consortium.manufacturer, "Devices", "productOf", gtin)
    assert tuple(record) == (ZERO_ADDRESS, 0, 0, 0, 0, False)
    assert bytes(cert) == bytes(32)


def test_lot_of_the_demo_lot_and_of_an_unknown_key(consortium: Consortium) -> None:
    m = consortium.manufacturer
    lot = m.lot(consortium.lot_key)
    assert lot is not None
    assert (lot.lot_index, lot.gtin, lot.active_recall) == (1, consortium.gtin, 0)
    assert lot.production_date < lot.expiry
    assert m.lot(keccak(text="nothing")) is None


def test_recall_of_an_unknown_id_is_empty(consortium: Consortium) -> None:
    assert consortium.regulator.recall(7) == {
        "lot_key": bytes(32),
        "lot_index": 0,
        "level": 0,
        "open": False,
        "initiator": ZERO_ADDRESS,
    }


def test_lot_facts_join_lot_and_product(consortium: Consortium) -> None:
    m = consortium.manufacturer
    lot = m.lot(consortium.lot_key)
    product = m.product(consortium.gtin)
    assert lot is not None and product is not None
    facts = simulate(m, "Devices", "lotFacts", 1)
    assert tuple(facts) == (m.address, 3, 20, 250, lot.expiry, product.registration_expiry, 0, True)
    recall_id = m.recall_lot(consortium.lot_key, level=1, reason_hash=bytes(32)).value
    assert tuple(simulate(m, "Devices", "lotFacts", 1))[-2] == recall_id


@pytest.mark.parametrize("lot_index", [0, 2, 2**32 - 1])
def test_lot_facts_of_an_unknown_index_are_empty(consortium: Consortium, lot_index: int) -> None:
    facts = simulate(consortium.manufacturer, "Devices", "lotFacts", lot_index)
    assert tuple(facts) == (ZERO_ADDRESS, 0, 0, 0, 0, 0, 0, False)


def test_lot_for_commission(consortium: Consortium) -> None:
    m = consortium.manufacturer
    lot = m.lot(consortium.lot_key)
    assert lot is not None
    assert list(simulate(m, "Devices", "lotForCommission", consortium.lot_key)) == [
        1,
        consortium.gtin.encode(),
        m.address,
        lot.expiry,
    ]


def test_lot_for_commission_of_an_unknown_lot_fails(consortium: Consortium) -> None:
    key = lot_key(consortium.gtin, "NOSUCHLOT")
    expect_revert(
        lambda: simulate(consortium.manufacturer, "Devices", "lotForCommission", key),
        "DevicesUnknownLot",
        {"lotKey": key},
    )


# ------------------------------------------------------------------ tracking, packages, master data

BOX_GTIN = make_gtin(indicator=1, company_prefix=DEMO_PREFIX, item_reference=77777)
CASE_GTIN = make_gtin(indicator=2, company_prefix=DEMO_PREFIX, item_reference=77777)
MASTER = keccak(text='{"gtin":"x","name_zh":"一次性使用无菌注射器"}')


def test_a_lot_tracked_product_is_not_serialised(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    result = m.register_product(
        NEW_GTIN,
        company_prefix=DEMO_PREFIX,
        device_class=2,
        certificate_hash=CERT,
        registration_expiry=chain.now() + YEAR,
        temp_min=-200,
        temp_max=300,
        serialised=False,
    )
    assert event_names(result) == ["ProductRegistered", "ProductTracking"]
    assert result.event("ProductTracking") == {"gtin": NEW_GTIN.encode(), "serialised": False}
    product = m.product(NEW_GTIN)
    assert product is not None and product.serialised is False
    facts = simulate(m, "Devices", "productFacts", NEW_GTIN.encode())
    assert tuple(facts) == (m.address, 2, -200, 300, product.registration_expiry, False)
    key = m.register_lot(
        NEW_GTIN, "L1", production_date=chain.now() - DAY, expiry=chain.now() + YEAR
    )
    index = m.lot(key.value)
    assert index is not None
    assert tuple(simulate(m, "Devices", "lotFacts", index.lot_index))[-1] is False


def test_registerProduct_registers_a_serialised_product(consortium: Consortium) -> None:
    m = consortium.manufacturer
    facts = simulate(m, "Devices", "productFacts", consortium.gtin.encode())
    assert tuple(facts)[0] == m.address and tuple(facts)[-1] is True
    assert tuple(simulate(m, "Devices", "productFacts", NEW_GTIN.encode())) == (
        ZERO_ADDRESS,
        0,
        0,
        0,
        0,
        False,
    )


def test_manufacturer_registers_box_and_case_levels(
    chain: DevChain, consortium: Consortium
) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    box = m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=10)
    assert event_names(box) == ["PackageLevelRegistered"]
    assert box.event("PackageLevelRegistered") == {
        "packageGtin": BOX_GTIN.encode(),
        "childGtin": NEW_GTIN.encode(),
        "quantity": 10,
    }
    m.register_package_level(CASE_GTIN, child_gtin=BOX_GTIN, quantity=20)
    case = m.package_level(CASE_GTIN)
    assert case is not None
    assert (case.child_gtin, case.quantity, case.base_gtin, case.base_quantity) == (
        BOX_GTIN,
        20,
        NEW_GTIN,
        200,
    )
    box_level = m.package_level(BOX_GTIN)
    assert box_level is not None and (box_level.base_gtin, box_level.base_quantity) == (
        NEW_GTIN,
        10,
    )
    assert m.package_level(NEW_GTIN) is None
    assert tuple(simulate(m, "Devices", "packageOf", NEW_GTIN.encode())) == (
        bytes(14),
        0,
        bytes(14),
        0,
    )


def test_package_level_needs_a_known_child(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    expect_revert(
        lambda: m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=10),
        "DevicesUnknownChild",
        {"childGtin": NEW_GTIN.encode()},
    )


@pytest.mark.parametrize("quantity", [0])
def test_package_quantity_must_be_positive(
    chain: DevChain, consortium: Consortium, quantity: int
) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    expect_revert(
        lambda: m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=quantity),
        "DevicesInvalidPackageQuantity",
        {"quantity": quantity},
    )


def test_package_units_must_fit_in_uint32(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=2**16)
    expect_revert(
        lambda: m.register_package_level(CASE_GTIN, child_gtin=BOX_GTIN, quantity=2**16),
        "DevicesInvalidPackageQuantity",
        {"quantity": 2**16},
    )


def test_package_gtin_cannot_be_registered_twice_or_be_a_product(
    chain: DevChain, consortium: Consortium
) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=10)
    # The same package again, a package over a product, and a package over itself (a cycle).
    for package, child in [(BOX_GTIN, NEW_GTIN), (consortium.gtin, NEW_GTIN), (BOX_GTIN, BOX_GTIN)]:
        expect_revert(
            lambda p=package, c=child: m.register_package_level(p, child_gtin=c, quantity=5),
            "DevicesPackageExists",
            {"packageGtin": package.encode()},
        )
    # A registered package GTIN cannot then be registered as a product.
    expect_revert(
        lambda: simulate(
            m, "Devices", "registerProduct", *_register_args(BOX_GTIN, expiry=chain.now() + YEAR)
        ),
        "DevicesProductExists",
        {"gtin": BOX_GTIN},
    )


def test_package_gtin_must_be_valid(chain: DevChain, consortium: Consortium) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    for bad in [bad_check_digit(BOX_GTIN), "123"]:
        expect_revert(
            lambda b=bad: simulate(m, "Devices", "registerPackageLevel", b, NEW_GTIN, 10),
            "DevicesInvalidGtin",
            {"gtin": bad},
        )
    expect_revert(
        lambda: simulate(m, "Devices", "registerPackageLevel", BOX_GTIN, "123", 10),
        "DevicesInvalidGtin",
        {"gtin": "123"},
    )


def test_package_gtin_must_be_under_the_callers_prefix(
    chain: DevChain, consortium: Consortium
) -> None:
    m = consortium.manufacturer
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    foreign = make_gtin(indicator=1, company_prefix=DISTRIBUTOR_PREFIX, item_reference=9)
    expect_revert(
        lambda: m.register_package_level(foreign, child_gtin=NEW_GTIN, quantity=10),
        "DevicesPackagePrefixNotOwned",
        {"packageGtin": foreign.encode(), "caller": m.address},
    )


def test_only_the_childs_active_manufacturer_registers_a_package(
    chain: DevChain, consortium: Consortium, rival: Ledger
) -> None:
    m = consortium.manufacturer
    rival_box = make_gtin(indicator=1, company_prefix=RIVAL_PREFIX, item_reference=42)
    expect_revert(
        lambda: rival.register_package_level(rival_box, child_gtin=consortium.gtin, quantity=10),
        "DevicesUnauthorized",
        {"caller": rival.address},
    )
    _register(m, NEW_GTIN, expiry=chain.now() + YEAR)
    consortium.regulator.suspend(m.address)
    expect_revert(
        lambda: m.register_package_level(BOX_GTIN, child_gtin=NEW_GTIN, quantity=10),
        "DevicesUnauthorized",
        {"caller": m.address},
    )


def test_master_data_versions_are_anchored(consortium: Consortium) -> None:
    m = consortium.manufacturer
    assert m.master_data(consortium.gtin) == (0, bytes(32))
    first = m.update_master_data(consortium.gtin, MASTER)
    assert first.value == 1
    assert first.event("MasterDataAnchored") == {
        "gtin": consortium.gtin.encode(),
        "version": 1,
        "masterHash": MASTER,
    }
    second = keccak(text="v2")
    assert m.update_master_data(consortium.gtin, second).value == 2
    assert m.master_data(consortium.gtin) == (2, second)


def test_unchanged_or_empty_master_data_is_refused(consortium: Consortium) -> None:
    m = consortium.manufacturer
    expect_revert(
        lambda: m.update_master_data(consortium.gtin, bytes(32)),
        "DevicesMasterDataUnchanged",
        {"gtin": consortium.gtin.encode(), "version": 0},
    )
    m.update_master_data(consortium.gtin, MASTER)
    expect_revert(
        lambda: m.update_master_data(consortium.gtin, MASTER),
        "DevicesMasterDataUnchanged",
        {"gtin": consortium.gtin.encode(), "version": 1},
    )


def test_only_the_manufacturer_anchors_master_data(consortium: Consortium, rival: Ledger) -> None:
    expect_revert(
        lambda: rival.update_master_data(consortium.gtin, MASTER),
        "DevicesUnauthorized",
        {"caller": rival.address},
    )
    expect_revert(
        lambda: simulate(consortium.manufacturer, "Devices", "updateMasterData", NEW_GTIN, MASTER),
        "DevicesUnknownProduct",
        {"gtin": NEW_GTIN},
    )


# ------------------------------------------------------------------ updateRecall, acknowledgeRecall


def test_the_manufacturer_updates_its_recall_notice(consortium: Consortium) -> None:
    m = consortium.manufacturer
    recall_id = m.recall_lot(consortium.lot_key, level=2, reason_hash=b"\x01" * 32).value
    assert m.recall_notice_version(recall_id) == 1
    result = m.update_recall(recall_id, notice_commitment=b"\x02" * 32)
    assert result.value == 2
    assert result.event("RecallUpdated") == {
        "recallId": recall_id,
        "by": m.address,
        "version": 2,
        "noticeCommitment": b"\x02" * 32,
    }
    assert m.update_recall(recall_id, notice_commitment=b"\x03" * 32).value == 3
    assert m.recall_notice_version(recall_id) == 3
    assert m.recall_notice_version(99) == 0


@pytest.mark.parametrize("who", ["manufacturer", "distributor", "hospital"])
def test_only_the_recalls_initiator_side_updates_it(consortium: Consortium, who: str) -> None:
    recall_id = consortium.regulator.recall_lot(
        consortium.lot_key, level=1, reason_hash=b"\x01" * 32
    ).value
    caller = consortium.by_name(who)
    expect_revert(
        lambda: caller.update_recall(recall_id, notice_commitment=b"\x02" * 32),
        "DevicesUnauthorized",
        {"caller": caller.address},
    )
    assert consortium.regulator.update_recall(recall_id, notice_commitment=b"\x02" * 32).value == 2


def test_a_closed_or_unknown_recall_is_not_updated(consortium: Consortium) -> None:
    m = consortium.manufacturer
    recall_id = m.recall_lot(consortium.lot_key, level=3, reason_hash=b"\x01" * 32).value
    m.close_recall(recall_id)
    expect_revert(
        lambda: m.update_recall(recall_id, notice_commitment=b"\x02" * 32),
        "DevicesRecallClosed",
        {"recallId": recall_id},
    )
    expect_revert(
        lambda: m.update_recall(7, notice_commitment=b"\x02" * 32),
        "DevicesUnknownRecall",
        {"recallId": 7},
    )


def test_a_holder_signs_its_acknowledgement(consortium: Consortium) -> None:
    recall_id = consortium.manufacturer.recall_lot(
        consortium.lot_key, level=1, reason_hash=b"\x01" * 32
    ).value
    h = consortium.hospital
    result = h.acknowledge_recall(recall_id, commitment=b"\x05" * 32)
    assert event_names(result) == ["RecallAcknowledged"]
    assert result.event("RecallAcknowledged") == {
        "recallId": recall_id,
        "holder": h.address,
        "commitment": b"\x05" * 32,
    }


@pytest.mark.parametrize("who", ["manufacturer", "regulator", "outsider"])
def test_the_manufacturer_the_regulator_and_non_members_cannot_acknowledge(
    chain: DevChain, consortium: Consortium, who: str
) -> None:
    recall_id = consortium.manufacturer.recall_lot(
        consortium.lot_key, level=1, reason_hash=b"\x01" * 32
    ).value
    if who == "outsider":
        caller = consortium.hospital.as_member(chain.accounts[8])
    else:
        caller = consortium.by_name(who)
    expect_revert(
        lambda: caller.acknowledge_recall(recall_id, commitment=b"\x05" * 32),
        "DevicesRecallNotHolder",
        {"recallId": recall_id, "account": caller.address},
    )


def test_a_closed_recall_takes_no_acknowledgement(consortium: Consortium) -> None:
    m = consortium.manufacturer
    recall_id = m.recall_lot(consortium.lot_key, level=1, reason_hash=b"\x01" * 32).value
    m.close_recall(recall_id)
    expect_revert(
        lambda: consortium.hospital.acknowledge_recall(recall_id, commitment=b"\x05" * 32),
        "DevicesRecallClosed",
        {"recallId": recall_id},
    )
