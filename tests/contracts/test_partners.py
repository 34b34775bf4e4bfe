"""Partners.sol: admission, suspension, licences, company prefixes, qualification and the
two-step admin handover (OpenZeppelin AccessControlDefaultAdminRules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX, Consortium
from medledger.sdk.errors import ContractError, MedLedgerError
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.model import Licence, LicenceKind, Member, MemberStatus, Role, class_mask

ZERO_ADDRESS = "0x" + "00" * 20
DEFAULT_ADMIN_ROLE = bytes(32)
YEAR = 365 * 24 * 3600
NON_REGULATOR_ROLES = [Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL]


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args


def block_time(ledger: Ledger, result: TxResult[Any]) -> int:
    return int(ledger.w3.eth.get_block(result.receipt["blockNumber"])["timestamp"])


def event_names(result: TxResult[Any]) -> list[str]:
    return [e.name for e in result.events]


def call_as(ledger: Ledger, contract: str, fn: str, *args: Any) -> Any:
    """eth_call `contract.fn(*args)` from `ledger`'s account, decoding a revert like the Ledger.

    Used for functions the Ledger does not bind, and for errors whose first argument is a
    string: web3's EthereumTesterProvider decodes such revert data as if it were
    Error(string) while estimating gas, so `Ledger._send` cannot name them on eth-tester.
    eth_call keeps the raw revert data."""
    try:
        return ledger._c[contract].functions[fn](*args).call({"from": ledger.address})
    except Exception as exc:  # decoded exactly as the Ledger decodes its own calls
        raise ledger._decode(exc) from exc


@pytest.fixture
def outsider(chain: DevChain) -> LocalAccount:
    """A funded account that is not a member."""
    return chain.accounts[7]


@pytest.fixture
def newcomer(chain: DevChain, consortium: Consortium) -> LocalAccount:
    """chain.accounts[7] admitted as a distributor, with no licence yet."""
    account = chain.accounts[7]
    consortium.regulator.admit(account.address, Role.DISTRIBUTOR, "Newcomer Trading")
    return account


@pytest.fixture
def second_regulator(chain: DevChain, consortium: Consortium) -> Ledger:
    account = chain.accounts[8]
    consortium.admin.admit(account.address, Role.REGULATOR, "Provincial MPA")
    return consortium.admin.as_member(account)


# ------------------------------------------------------------------ admit


def test_admin_admits_a_regulator(
    chain: DevChain, consortium: Consortium, outsider: LocalAccount
) -> None:
    admin = consortium.admin
    result = admin.admit(outsider.address, Role.REGULATOR, "Provincial MPA")
    assert event_names(result) == ["MemberAdmitted"]
    assert result.event("MemberAdmitted") == {
        "account": outsider.address,
        "role": Role.REGULATOR,
        "name": "Provincial MPA",
        "by": admin.address,
    }
    assert admin.member(outsider.address) == Member(
        Role.REGULATOR, MemberStatus.ACTIVE, block_time(admin, result)
    )
    assert admin.is_active(outsider.address)
    # The new regulator can act as one at once.
    admin.as_member(outsider).admit(chain.accounts[9].address, Role.HOSPITAL, "Clinic")
    assert admin.member(chain.accounts[9].address).role is Role.HOSPITAL


@pytest.mark.parametrize("role", NON_REGULATOR_ROLES, ids=lambda r: r.name.lower())
def test_regulator_admits_every_non_regulator_role(
    consortium: Consortium, outsider: LocalAccount, role: Role
) -> None:
    regulator = consortium.regulator
    result = regulator.admit(outsider.address, role, "New Member Co.")
    assert result.event("MemberAdmitted") == {
        "account": outsider.address,
        "role": role,
        "name": "New Member Co.",
        "by": regulator.address,
    }
    member = regulator.member(outsider.address)
    assert (member.role, member.status) == (role, MemberStatus.ACTIVE)


def test_regulator_cannot_admit_a_regulator(consortium: Consortium, outsider: LocalAccount) -> None:
    regulator = consortium.regulator
    expect_revert(
        lambda: regulator.admit(outsider.address, Role.REGULATOR, "Rogue"),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )
    assert regulator.member(outsider.address).role is Role.NONE


@pytest.mark.parametrize("role", NON_REGULATOR_ROLES, ids=lambda r: r.name.lower())
def test_admin_cannot_admit_a_non_regulator(
    consortium: Consortium, outsider: LocalAccount, role: Role
) -> None:
    admin = consortium.admin
    expect_revert(
        lambda: admin.admit(outsider.address, role, "Shortcut Co."),
        "PartnersUnauthorized",
        {"caller": admin.address},
    )


@pytest.mark.parametrize("name", ["manufacturer", "distributor", "hospital"])
def test_ordinary_member_cannot_admit(
    consortium: Consortium, outsider: LocalAccount, name: str
) -> None:
    member = consortium.by_name(name)
    expect_revert(
        lambda: member.admit(outsider.address, Role.HOSPITAL, "Friend"),
        "PartnersUnauthorized",
        {"caller": member.address},
    )


def test_suspended_regulator_cannot_admit(consortium: Consortium, outsider: LocalAccount) -> None:
    regulator = consortium.regulator
    consortium.admin.suspend(regulator.address)
    expect_revert(
        lambda: regulator.admit(outsider.address, Role.HOSPITAL, "Clinic"),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )


@pytest.mark.parametrize("who", ["admin", "regulator"])
def test_role_none_is_an_invalid_role(
    consortium: Consortium, outsider: LocalAccount, who: str
) -> None:
    expect_revert(
        lambda: consortium.by_name(who).admit(outsider.address, Role.NONE, "Nobody"),
        "PartnersInvalidRole",
        {"role": Role.NONE},
    )


def test_role_beyond_the_enum_is_refused(consortium: Consortium, outsider: LocalAccount) -> None:
    # Solidity's ABI decoder rejects an out-of-range enum before the contract's own check, so
    # the revert carries no custom error.
    with pytest.raises(MedLedgerError) as e:
        consortium.regulator.admit(outsider.address, 6, "Nobody")  # type: ignore[arg-type]
    assert not isinstance(e.value, ContractError)
    assert consortium.regulator.member(outsider.address).role is Role.NONE


@pytest.mark.parametrize(("who", "role"), [("admin", Role.REGULATOR), ("regulator", Role.HOSPITAL)])
def test_zero_address_cannot_be_admitted(consortium: Consortium, who: str, role: Role) -> None:
    expect_revert(
        lambda: consortium.by_name(who).admit(ZERO_ADDRESS, role, "Void"),
        "PartnersInvalidMember",
        {"account": ZERO_ADDRESS},
    )


@pytest.mark.parametrize("role", [Role.HOSPITAL, Role.DISTRIBUTOR])
def test_existing_member_cannot_be_admitted_again(consortium: Consortium, role: Role) -> None:
    hospital = consortium.hospital
    expect_revert(
        lambda: consortium.regulator.admit(hospital.address, role, "Again"),
        "PartnersAlreadyMember",
        {"account": hospital.address},
    )
    assert consortium.regulator.member(hospital.address).role is Role.HOSPITAL


def test_suspended_member_cannot_be_readmitted(consortium: Consortium) -> None:
    hospital = consortium.hospital
    consortium.regulator.suspend(hospital.address)
    expect_revert(
        lambda: consortium.regulator.admit(hospital.address, Role.HOSPITAL, "Fresh start"),
        "PartnersAlreadyMember",
        {"account": hospital.address},
    )


def test_existing_regulator_cannot_be_admitted_again(consortium: Consortium) -> None:
    regulator = consortium.regulator
    expect_revert(
        lambda: consortium.admin.admit(regulator.address, Role.REGULATOR, "Again"),
        "PartnersAlreadyMember",
        {"account": regulator.address},
    )


# ------------------------------------------------------------------ suspend / reinstate


def test_regulator_suspends_and_reinstates_a_member(consortium: Consortium) -> None:
    regulator, hospital = consortium.regulator, consortium.hospital
    admitted_at = regulator.member(hospital.address).admitted_at
    reason = keccak(text="inspection failed")

    suspended = regulator.suspend(hospital.address, reason_hash=reason)
    assert event_names(suspended) == ["MemberSuspended"]
    assert suspended.event("MemberSuspended") == {
        "account": hospital.address,
        "reasonHash": reason,
        "by": regulator.address,
    }
    assert regulator.member(hospital.address) == Member(
        Role.HOSPITAL, MemberStatus.SUSPENDED, admitted_at
    )
    assert not regulator.is_active(hospital.address)
    assert not regulator.is_qualified(hospital.address, 3)

    reinstated = regulator.reinstate(hospital.address)
    assert event_names(reinstated) == ["MemberReinstated"]
    assert reinstated.event("MemberReinstated") == {
        "account": hospital.address,
        "by": regulator.address,
    }
    assert regulator.member(hospital.address) == Member(
        Role.HOSPITAL, MemberStatus.ACTIVE, admitted_at
    )
    assert regulator.is_qualified(hospital.address, 3)


def test_admin_suspends_and_reinstates_a_regulator(consortium: Consortium) -> None:
    admin, regulator = consortium.admin, consortium.regulator
    result = admin.suspend(regulator.address, reason_hash=keccak(text="audit"))
    assert result.event("MemberSuspended")["by"] == admin.address
    assert admin.member(regulator.address).status is MemberStatus.SUSPENDED
    # A suspended regulator loses its powers.
    expect_revert(
        lambda: regulator.suspend(consortium.hospital.address),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )
    result = admin.reinstate(regulator.address)
    assert result.event("MemberReinstated") == {
        "account": regulator.address,
        "by": admin.address,
    }
    regulator.suspend(consortium.hospital.address)
    assert not admin.is_active(consortium.hospital.address)


def test_regulator_cannot_suspend_another_regulator(
    consortium: Consortium, second_regulator: Ledger
) -> None:
    regulator = consortium.regulator
    expect_revert(
        lambda: regulator.suspend(second_regulator.address),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )
    expect_revert(
        lambda: regulator.suspend(regulator.address),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )
    assert regulator.is_active(second_regulator.address)


def test_regulator_cannot_reinstate_a_regulator(
    consortium: Consortium, second_regulator: Ledger
) -> None:
    consortium.admin.suspend(second_regulator.address)
    expect_revert(
        lambda: consortium.regulator.reinstate(second_regulator.address),
        "PartnersUnauthorized",
        {"caller": consortium.regulator.address},
    )
    assert not consortium.admin.is_active(second_regulator.address)


def test_admin_cannot_suspend_or_reinstate_a_non_regulator(consortium: Consortium) -> None:
    admin, hospital = consortium.admin, consortium.hospital
    expect_revert(
        lambda: admin.suspend(hospital.address),
        "PartnersUnauthorized",
        {"caller": admin.address},
    )
    consortium.regulator.suspend(hospital.address)
    expect_revert(
        lambda: admin.reinstate(hospital.address),
        "PartnersUnauthorized",
        {"caller": admin.address},
    )


def test_ordinary_member_cannot_suspend_or_reinstate(consortium: Consortium) -> None:
    manufacturer, hospital = consortium.manufacturer, consortium.hospital
    expect_revert(
        lambda: manufacturer.suspend(hospital.address),
        "PartnersUnauthorized",
        {"caller": manufacturer.address},
    )
    consortium.regulator.suspend(hospital.address)
    expect_revert(
        lambda: manufacturer.reinstate(hospital.address),
        "PartnersUnauthorized",
        {"caller": manufacturer.address},
    )


@pytest.mark.parametrize("who", ["admin", "regulator"])
def test_non_member_cannot_be_suspended_or_reinstated(
    consortium: Consortium, outsider: LocalAccount, who: str
) -> None:
    ledger = consortium.by_name(who)
    expect_revert(
        lambda: ledger.suspend(outsider.address),
        "PartnersNotMember",
        {"account": outsider.address},
    )
    expect_revert(
        lambda: ledger.reinstate(outsider.address),
        "PartnersNotMember",
        {"account": outsider.address},
    )


def test_suspended_member_cannot_be_suspended_again(consortium: Consortium) -> None:
    hospital = consortium.hospital
    consortium.regulator.suspend(hospital.address)
    expect_revert(
        lambda: consortium.regulator.suspend(hospital.address),
        "PartnersNotActive",
        {"account": hospital.address},
    )


def test_active_member_cannot_be_reinstated(consortium: Consortium) -> None:
    expect_revert(
        lambda: consortium.regulator.reinstate(consortium.hospital.address),
        "PartnersNotSuspended",
        {"account": consortium.hospital.address},
    )
    expect_revert(
        lambda: consortium.admin.reinstate(consortium.regulator.address),
        "PartnersNotSuspended",
        {"account": consortium.regulator.address},
    )


# ------------------------------------------------------------------ licences


def test_regulator_attests_a_licence(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    regulator = consortium.regulator
    number = "粤穗食药监械经营许20261234号"
    valid_until = chain.now() + YEAR
    mask = class_mask(1, 2)
    result = regulator.attest_licence(
        newcomer.address,
        kind=LicenceKind.DISTRIBUTION,
        number=number,
        class_mask=mask,
        valid_until=valid_until,
        authority="广州市市场监督管理局",
        scope=["07", "07-03", "14"],
        warehouse_address="广州市黄埔区科学大道 1 号 3 号仓",
        province="广东省",
    )
    assert event_names(result) == ["LicenceAttested"]
    assert result.event("LicenceAttested") == {
        "account": newcomer.address,
        "kind": LicenceKind.DISTRIBUTION,
        "number": number,
        "classMask": mask,
        "validUntil": valid_until,
        "authority": "广州市市场监督管理局",
        "scope": ("07", "07-03", "14"),
        "warehouseAddress": "广州市黄埔区科学大道 1 号 3 号仓",
        "province": "广东省",
        "by": regulator.address,
    }
    assert regulator.licence(newcomer.address, LicenceKind.DISTRIBUTION) == Licence(
        number,
        mask,
        valid_until,
        "广州市市场监督管理局",
        ("07", "07-03", "14"),
        "广州市黄埔区科学大道 1 号 3 号仓",
        "广东省",
    )
    assert regulator.licence(newcomer.address, LicenceKind.PRACTICE) == Licence("", 0, 0)
    assert [regulator.is_qualified(newcomer.address, c) for c in (1, 2, 3)] == [
        True,
        True,
        False,
    ]


def test_attesting_again_replaces_the_licence(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    regulator = consortium.regulator
    kind = LicenceKind.DISTRIBUTION
    regulator.attest_licence(
        newcomer.address,
        kind=kind,
        number="old",
        class_mask=class_mask(1),
        valid_until=chain.now() + YEAR,
    )
    new_until = chain.now() + 2 * YEAR
    regulator.attest_licence(
        newcomer.address,
        kind=kind,
        number="new",
        class_mask=class_mask(3),
        valid_until=new_until,
    )
    assert regulator.licence(newcomer.address, kind) == Licence("new", class_mask(3), new_until)
    assert not regulator.is_qualified(newcomer.address, 1)
    assert regulator.is_qualified(newcomer.address, 3)


def _attest(
    ledger: Ledger,
    account: str,
    *,
    kind: int = LicenceKind.DISTRIBUTION,
    mask: int = 0x0E,
    valid_until: int,
) -> TxResult[None]:
    return ledger.attest_licence(
        account, kind=kind, number="n", class_mask=mask, valid_until=valid_until
    )


@pytest.mark.parametrize("name", ["admin", "manufacturer", "hospital"])
def test_only_a_regulator_attests_licences(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount, name: str
) -> None:
    caller = consortium.by_name(name)
    expect_revert(
        lambda: _attest(caller, newcomer.address, valid_until=chain.now() + YEAR),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )


def test_suspended_regulator_cannot_attest(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    consortium.admin.suspend(consortium.regulator.address)
    expect_revert(
        lambda: _attest(consortium.regulator, newcomer.address, valid_until=chain.now() + YEAR),
        "PartnersUnauthorized",
        {"caller": consortium.regulator.address},
    )


def test_licence_for_a_non_member_is_refused(
    chain: DevChain, consortium: Consortium, outsider: LocalAccount
) -> None:
    expect_revert(
        lambda: _attest(consortium.regulator, outsider.address, valid_until=chain.now() + YEAR),
        "PartnersNotMember",
        {"account": outsider.address},
    )


@pytest.mark.parametrize("kind", [0, 5, 255])
def test_licence_kind_must_be_one_to_four(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount, kind: int
) -> None:
    expect_revert(
        lambda: _attest(
            consortium.regulator, newcomer.address, kind=kind, valid_until=chain.now() + YEAR
        ),
        "PartnersInvalidLicenceKind",
        {"kind": kind},
    )


@pytest.mark.parametrize(
    "mask",
    [0x00, 0x01, 0x10, 0x0F, 0x1E, 0xFF],
    ids=["empty", "bit0", "bit4", "bit0-with-classes", "bit4-with-classes", "all-bits"],
)
def test_class_mask_must_use_only_bits_one_to_three(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount, mask: int
) -> None:
    expect_revert(
        lambda: _attest(
            consortium.regulator, newcomer.address, mask=mask, valid_until=chain.now() + YEAR
        ),
        "PartnersInvalidClassMask",
        {"classMask": mask},
    )


@pytest.mark.parametrize("offset", [-YEAR, -1, 0])
def test_licence_already_expired_is_refused(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount, offset: int
) -> None:
    valid_until = chain.now() + offset
    expect_revert(
        lambda: _attest(consortium.regulator, newcomer.address, valid_until=valid_until),
        "PartnersLicenceAlreadyExpired",
        {"validUntil": valid_until},
    )


def test_regulator_revokes_a_licence(consortium: Consortium) -> None:
    regulator, hospital = consortium.regulator, consortium.hospital
    assert regulator.is_qualified(hospital.address, 3)
    result = regulator.revoke_licence(hospital.address, kind=LicenceKind.PRACTICE)
    assert event_names(result) == ["LicenceRevoked"]
    assert result.event("LicenceRevoked") == {
        "account": hospital.address,
        "kind": LicenceKind.PRACTICE,
        "by": regulator.address,
    }
    assert regulator.licence(hospital.address, LicenceKind.PRACTICE) == Licence("", 0, 0)
    assert not any(regulator.is_qualified(hospital.address, c) for c in (1, 2, 3))
    # Still a member, still active: only the licence is gone.
    assert regulator.is_active(hospital.address)


@pytest.mark.parametrize("kind", [0, LicenceKind.DISTRIBUTION, 5])
def test_revoking_a_licence_that_does_not_exist_fails(consortium: Consortium, kind: int) -> None:
    hospital = consortium.hospital  # holds only a practice licence
    expect_revert(
        lambda: consortium.regulator.revoke_licence(hospital.address, kind=kind),
        "PartnersNoLicence",
        {"account": hospital.address, "kind": kind},
    )


def test_a_licence_cannot_be_revoked_twice(consortium: Consortium) -> None:
    hospital = consortium.hospital
    consortium.regulator.revoke_licence(hospital.address, kind=LicenceKind.PRACTICE)
    expect_revert(
        lambda: consortium.regulator.revoke_licence(hospital.address, kind=LicenceKind.PRACTICE),
        "PartnersNoLicence",
        {"account": hospital.address, "kind": LicenceKind.PRACTICE},
    )


@pytest.mark.parametrize("name", ["admin", "manufacturer", "hospital"])
def test_only_a_regulator_revokes_licences(consortium: Consortium, name: str) -> None:
    caller = consortium.by_name(name)
    expect_revert(
        lambda: caller.revoke_licence(consortium.hospital.address, kind=LicenceKind.PRACTICE),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )
    assert caller.is_qualified(consortium.hospital.address, 3)


# ------------------------------------------------------------------ company prefixes


@pytest.mark.parametrize("prefix", ["690000", "69000012", "690000123456"])
def test_regulator_assigns_a_company_prefix(
    consortium: Consortium, newcomer: LocalAccount, prefix: str
) -> None:
    regulator = consortium.regulator
    assert int(regulator.prefix_owner(prefix), 16) == 0
    result = regulator.assign_company_prefix(newcomer.address, prefix)
    assert event_names(result) == ["CompanyPrefixAssigned"]
    assert result.event("CompanyPrefixAssigned") == {
        "account": newcomer.address,
        "prefix": prefix,
        "by": regulator.address,
    }
    assert regulator.prefix_owner(prefix) == newcomer.address


def test_a_member_may_own_several_prefixes(consortium: Consortium) -> None:
    manufacturer = consortium.manufacturer
    consortium.regulator.assign_company_prefix(manufacturer.address, "9506001")
    assert manufacturer.prefix_owner("9506001") == manufacturer.address
    assert manufacturer.prefix_owner(DEMO_PREFIX) == manufacturer.address


@pytest.mark.parametrize("name", ["admin", "manufacturer"])
def test_only_a_regulator_assigns_prefixes(
    consortium: Consortium, newcomer: LocalAccount, name: str
) -> None:
    caller = consortium.by_name(name)
    expect_revert(
        lambda: caller.assign_company_prefix(newcomer.address, "6900001"),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )


def test_prefix_for_a_non_member_is_refused(consortium: Consortium, outsider: LocalAccount) -> None:
    expect_revert(
        lambda: consortium.regulator.assign_company_prefix(outsider.address, "6900001"),
        "PartnersNotMember",
        {"account": outsider.address},
    )


@pytest.mark.parametrize(
    "prefix",
    ["", "69000", "6900001234567", "69000a1", "690 001", "690-001", "٦٩٠٠٠١"],
    ids=["empty", "5-digits", "13-digits", "letter", "space", "dash", "arabic-indic-digits"],
)
def test_malformed_prefix_is_refused(
    consortium: Consortium, newcomer: LocalAccount, prefix: str
) -> None:
    expect_revert(
        lambda: call_as(
            consortium.regulator, "Partners", "assignCompanyPrefix", newcomer.address, prefix
        ),
        "PartnersInvalidPrefix",
        {"prefix": prefix},
    )


@pytest.mark.parametrize(
    ("prefix", "owner"), [(DEMO_PREFIX, "manufacturer"), (DISTRIBUTOR_PREFIX, "distributor")]
)
def test_taken_prefix_is_refused(
    consortium: Consortium, newcomer: LocalAccount, prefix: str, owner: str
) -> None:
    owner_address = consortium.by_name(owner).address
    expect_revert(
        lambda: call_as(
            consortium.regulator, "Partners", "assignCompanyPrefix", newcomer.address, prefix
        ),
        "PartnersPrefixTaken",
        {"prefix": prefix, "owner": owner_address},
    )
    # Even to its own owner.
    expect_revert(
        lambda: call_as(
            consortium.regulator, "Partners", "assignCompanyPrefix", owner_address, prefix
        ),
        "PartnersPrefixTaken",
        {"prefix": prefix, "owner": owner_address},
    )
    assert consortium.regulator.prefix_owner(prefix) == owner_address


def test_a_prefix_that_starts_an_assigned_prefix_is_refused(consortium: Consortium) -> None:
    ledger = consortium.regulator
    shorter = DISTRIBUTOR_PREFIX[:6]
    expect_revert(
        lambda: ledger.assign_company_prefix(consortium.hospital.address, shorter),
        "PartnersPrefixOverlaps",
        {"prefix": shorter, "assigned": ""},
    )


def test_a_prefix_that_extends_an_assigned_prefix_is_refused(consortium: Consortium) -> None:
    ledger = consortium.regulator
    longer = DEMO_PREFIX + "12"
    expect_revert(
        lambda: ledger.assign_company_prefix(consortium.hospital.address, longer),
        "PartnersPrefixOverlaps",
        {"prefix": longer, "assigned": DEMO_PREFIX},
    )
    assert ledger.prefix_owner(longer) == "0x" + "00" * 20


# ------------------------------------------------------------------ isQualified


def test_licensed_members_are_qualified_for_classes_one_to_three_only(
    consortium: Consortium,
) -> None:
    ledger = consortium.regulator
    for name in ("manufacturer", "distributor", "logistics", "hospital", "hospital2"):
        address = consortium.by_name(name).address
        assert [ledger.is_qualified(address, c) for c in range(5)] == [
            False,
            True,
            True,
            True,
            False,
        ], name


def test_unlicensed_members_and_outsiders_are_not_qualified(
    consortium: Consortium, newcomer: LocalAccount, chain: DevChain
) -> None:
    ledger = consortium.regulator
    for address in (newcomer.address, chain.accounts[9].address, ledger.address):
        assert not any(ledger.is_qualified(address, c) for c in (1, 2, 3))


def test_expired_licence_no_longer_qualifies(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    ledger = consortium.regulator
    valid_until = chain.now() + 100
    _attest(ledger, newcomer.address, valid_until=valid_until)
    assert ledger.is_qualified(newcomer.address, 3)
    chain.advance(50)
    assert ledger.is_qualified(newcomer.address, 3)
    chain.advance(60)
    assert chain.now() > valid_until
    assert not ledger.is_qualified(newcomer.address, 3)


def test_demo_licences_expire_after_five_years(chain: DevChain, consortium: Consortium) -> None:
    hospital = consortium.hospital
    valid_until = hospital.licence(hospital.address, LicenceKind.PRACTICE).valid_until
    chain.advance(valid_until - chain.now() - 10)
    assert hospital.is_qualified(hospital.address, 1)
    chain.advance(20)
    assert not hospital.is_qualified(hospital.address, 1)


def test_licence_not_covering_the_class_does_not_qualify(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    ledger = consortium.regulator
    _attest(ledger, newcomer.address, mask=class_mask(1, 2), valid_until=chain.now() + YEAR)
    assert not ledger.is_qualified(newcomer.address, 3)
    _attest(ledger, newcomer.address, mask=class_mask(2), valid_until=chain.now() + YEAR)
    assert [ledger.is_qualified(newcomer.address, c) for c in (1, 2, 3)] == [False, True, False]


def test_only_licence_kinds_that_fit_the_role_qualify(
    chain: DevChain, consortium: Consortium, newcomer: LocalAccount
) -> None:
    ledger = consortium.regulator
    soon = chain.now() + 100
    _attest(ledger, newcomer.address, kind=LicenceKind.DISTRIBUTION, valid_until=soon)
    # A practice licence is a hospital's; it does not let a distributor receive devices.
    _attest(ledger, newcomer.address, kind=LicenceKind.PRACTICE, valid_until=chain.now() + YEAR)
    assert ledger.is_qualified(newcomer.address, 3)
    chain.advance(200)
    assert not any(ledger.is_qualified(newcomer.address, c) for c in (1, 2, 3))


def test_a_manufacturer_qualifies_with_a_production_or_a_distribution_licence(
    chain: DevChain, consortium: Consortium
) -> None:
    ledger, m = consortium.regulator, consortium.manufacturer
    ledger.revoke_licence(m.address, kind=LicenceKind.PRODUCTION)
    assert not ledger.is_qualified(m.address, 1)
    _attest(ledger, m.address, kind=LicenceKind.DISTRIBUTION, valid_until=chain.now() + YEAR)
    assert ledger.is_qualified(m.address, 1)


def test_suspended_member_is_not_qualified_until_reinstated(consortium: Consortium) -> None:
    ledger, distributor = consortium.regulator, consortium.distributor
    ledger.suspend(distributor.address)
    assert not any(ledger.is_qualified(distributor.address, c) for c in (1, 2, 3))
    ledger.reinstate(distributor.address)
    assert all(ledger.is_qualified(distributor.address, c) for c in (1, 2, 3))


# ------------------------------------------------------------------ admin handover


def test_admin_handover_takes_two_steps(chain: DevChain, consortium: Consortium) -> None:
    old = consortium.admin
    new = old.as_member(chain.accounts[8])
    begun = old.begin_admin_transfer(new.address)
    assert event_names(begun) == ["DefaultAdminTransferScheduled"]
    schedule = begun.event("DefaultAdminTransferScheduled")["acceptSchedule"]
    assert begun.event("DefaultAdminTransferScheduled") == {
        "newAdmin": new.address,
        "acceptSchedule": block_time(old, begun),  # the contract is deployed with delay 0
    }
    # Nothing changes until the new admin accepts.
    assert old.admin() == old.address
    assert call_as(old, "Partners", "pendingDefaultAdmin") == [new.address, schedule]

    accepted = new.accept_admin_transfer()
    assert event_names(accepted) == ["RoleRevoked", "RoleGranted"]
    assert accepted.event("RoleRevoked") == {
        "role": DEFAULT_ADMIN_ROLE,
        "account": old.address,
        "sender": new.address,
    }
    assert accepted.event("RoleGranted") == {
        "role": DEFAULT_ADMIN_ROLE,
        "account": new.address,
        "sender": new.address,
    }
    assert old.admin() == new.address
    assert call_as(old, "Partners", "pendingDefaultAdmin") == [ZERO_ADDRESS, 0]
    assert call_as(old, "Partners", "hasRole", DEFAULT_ADMIN_ROLE, new.address)
    assert not call_as(old, "Partners", "hasRole", DEFAULT_ADMIN_ROLE, old.address)


def test_new_admin_admits_regulators_and_the_old_one_no_longer_can(
    chain: DevChain, consortium: Consortium
) -> None:
    old = consortium.admin
    new = old.as_member(chain.accounts[8])
    old.begin_admin_transfer(new.address)
    new.accept_admin_transfer()

    expect_revert(
        lambda: old.admit(chain.accounts[9].address, Role.REGULATOR, "Old admin's pick"),
        "PartnersUnauthorized",
        {"caller": old.address},
    )
    expect_revert(
        lambda: old.suspend(consortium.regulator.address),
        "PartnersUnauthorized",
        {"caller": old.address},
    )
    expect_revert(
        lambda: old.begin_admin_transfer(old.address),
        "AccessControlUnauthorizedAccount",
        {"account": old.address, "neededRole": DEFAULT_ADMIN_ROLE},
    )
    result = new.admit(chain.accounts[9].address, Role.REGULATOR, "New admin's pick")
    assert result.event("MemberAdmitted")["by"] == new.address
    new.suspend(consortium.regulator.address)
    assert not new.is_active(consortium.regulator.address)


def test_third_party_cannot_accept_the_admin_role(chain: DevChain, consortium: Consortium) -> None:
    admin = consortium.admin
    admin.begin_admin_transfer(chain.accounts[8].address)
    for intruder in (consortium.regulator, admin.as_member(chain.accounts[9]), admin):
        expect_revert(
            intruder.accept_admin_transfer,
            "AccessControlInvalidDefaultAdmin",
            {"defaultAdmin": intruder.address},
        )
    assert admin.admin() == admin.address


def test_accepting_without_a_pending_transfer_fails(
    chain: DevChain, consortium: Consortium
) -> None:
    stranger = consortium.admin.as_member(chain.accounts[8])
    expect_revert(
        stranger.accept_admin_transfer,
        "AccessControlInvalidDefaultAdmin",
        {"defaultAdmin": stranger.address},
    )


def test_a_new_transfer_replaces_the_pending_one(chain: DevChain, consortium: Consortium) -> None:
    admin = consortium.admin
    first, second = admin.as_member(chain.accounts[8]), admin.as_member(chain.accounts[9])
    admin.begin_admin_transfer(first.address)
    admin.begin_admin_transfer(second.address)
    expect_revert(
        first.accept_admin_transfer,
        "AccessControlInvalidDefaultAdmin",
        {"defaultAdmin": first.address},
    )
    second.accept_admin_transfer()
    assert admin.admin() == second.address


@pytest.mark.parametrize("name", ["regulator", "manufacturer"])
def test_only_the_admin_begins_a_handover(
    chain: DevChain, consortium: Consortium, name: str
) -> None:
    caller = consortium.by_name(name)
    expect_revert(
        lambda: caller.begin_admin_transfer(caller.address),
        "AccessControlUnauthorizedAccount",
        {"account": caller.address, "neededRole": DEFAULT_ADMIN_ROLE},
    )
    assert consortium.admin.admin() == consortium.admin.address


def test_admin_role_cannot_be_granted_directly(chain: DevChain, consortium: Consortium) -> None:
    expect_revert(
        lambda: call_as(
            consortium.admin, "Partners", "grantRole", DEFAULT_ADMIN_ROLE, chain.accounts[8].address
        ),
        "AccessControlEnforcedDefaultAdminRules",
        {},
    )
