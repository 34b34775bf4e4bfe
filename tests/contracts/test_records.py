"""Records.sol: adverse-event reports and document anchors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import item_id, make_sscc, unit_path
from medledger.sdk.ledger import Ledger, TxResult

ZERO_ADDRESS = "0x" + "00" * 20
MEMBERS = ["regulator", "manufacturer", "distributor", "logistics", "hospital", "hospital2"]


def expect_revert(call: Callable[[], object], name: str, args: dict[str, Any]) -> None:
    with pytest.raises(ContractError) as e:
        call()
    assert e.value.name == name
    assert e.value.args_by_name == args


def block_time(ledger: Ledger, result: TxResult[Any]) -> int:
    return int(ledger.w3.eth.get_block(result.receipt["blockNumber"])["timestamp"])


def event_names(result: TxResult[Any]) -> list[str]:
    return [e.name for e in result.events]


@pytest.fixture
def unit_id(consortium: Consortium) -> bytes:
    """A unit the hospital holds: commissioned, shipped by the manufacturer and accepted."""
    (unit,) = consortium.manufacturer.commission(consortium.lot_key, ["SN-AE-1"]).value
    shipment = consortium.manufacturer.ship(consortium.hospital.address, [unit]).value
    consortium.hospital.receive(shipment, temp_min=50, temp_max=80)
    return unit


# ------------------------------------------------------------------ reportAdverseEvent


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_hospital_reports_an_adverse_event(
    consortium: Consortium, unit_id: bytes, severity: int
) -> None:
    hospital = consortium.hospital
    report_hash = keccak(text="MAUDE-like report #1")
    result = hospital.report_adverse_event(unit_id, severity=severity, report_hash=report_hash)
    assert result.value == 1
    assert event_names(result) == ["AdverseEventReported"]
    assert result.event("AdverseEventReported") == {
        "reportId": 1,
        "subjectId": unit_id,
        "reporter": hospital.address,
        "severity": severity,
        "reportHash": report_hash,
    }


@pytest.mark.parametrize(
    ("reporter", "subject", "concerned"),
    [
        ("hospital", "unit", True),  # its holder
        ("manufacturer", "unit", True),  # the maker of its lot
        ("regulator", "unit", True),
        ("manufacturer", "lot", True),
        ("regulator", "lot", True),
        ("hospital2", "unit", False),  # never held it
        ("distributor", "unit", False),
        ("logistics", "unit", False),
        ("hospital", "lot", False),  # holds a unit; a lot report is its maker's or regulator's
        ("hospital2", "lot", False),
        ("distributor", "lot", False),
    ],
)
def test_only_members_concerned_by_the_subject_report_it(
    consortium: Consortium, unit_id: bytes, reporter: str, subject: str, concerned: bool
) -> None:
    ledger = consortium.by_name(reporter)
    subject_id = unit_id if subject == "unit" else consortium.lot_key
    if not concerned:
        expect_revert(
            lambda: ledger.report_adverse_event(subject_id, severity=1, report_hash=b"\x01" * 32),
            "RecordsNotConcerned",
            {"subjectId": subject_id, "reporter": ledger.address},
        )
    ids = [
        ledger.report_adverse_event(subject_id, severity=3, report_hash=keccak(text=f"r{n}"))
        for n in range(2 if concerned else 0)
    ]
    assert [r.event("AdverseEventReported")["reporter"] for r in ids] == [ledger.address] * len(ids)
    assert [r.value for r in ids] == [1, 2][: len(ids)]


def test_a_hospital_reports_a_unit_it_dispensed(consortium: Consortium, unit_id: bytes) -> None:
    consortium.hospital.dispense([unit_id])
    result = consortium.hospital.report_adverse_event(
        unit_id, severity=1, report_hash=keccak(text="patient harmed")
    )
    assert result.event("AdverseEventReported")["subjectId"] == unit_id


@pytest.mark.parametrize("reporter", ["regulator", "manufacturer", "hospital"])
def test_a_subject_that_is_neither_an_item_nor_a_lot_concerns_no_one(
    consortium: Consortium, reporter: str
) -> None:
    ledger = consortium.by_name(reporter)
    unknown = item_id(unit_path(consortium.gtin, "NEVER-MADE"))
    expect_revert(
        lambda: ledger.report_adverse_event(unknown, severity=1, report_hash=keccak(text="r")),
        "RecordsNotConcerned",
        {"subjectId": unknown, "reporter": ledger.address},
    )


def test_a_past_holder_no_longer_reports_a_unit_it_passed_on(
    consortium: Consortium, unit_id: bytes
) -> None:
    hospital, other = consortium.hospital, consortium.hospital2
    shipment = hospital.ship(other.address, [unit_id]).value
    other.receive(shipment, temp_min=50, temp_max=80)
    expect_revert(
        lambda: hospital.report_adverse_event(unit_id, severity=2, report_hash=keccak(text="r")),
        "RecordsNotConcerned",
        {"subjectId": unit_id, "reporter": hospital.address},
    )
    assert other.report_adverse_event(unit_id, severity=2, report_hash=keccak(text="r")).value == 1


def test_the_holder_of_a_case_reports_a_unit_packed_in_it(consortium: Consortium) -> None:
    maker, distributor = consortium.manufacturer, consortium.distributor
    (unit,) = maker.commission(consortium.lot_key, ["SN-AE-CASE"]).value
    distributor.receive(maker.ship(distributor.address, [unit]).value, temp_min=50, temp_max=80)
    prefix = consortium.distributor_prefix
    sscc = make_sscc(extension=0, company_prefix=prefix, serial_reference=4711)
    case = distributor.create_container(sscc, company_prefix=prefix).value
    distributor.pack(case, [unit])
    result = distributor.report_adverse_event(unit, severity=3, report_hash=keccak(text="r"))
    assert result.event("AdverseEventReported")["reporter"] == distributor.address
    expect_revert(
        lambda: consortium.hospital.report_adverse_event(
            case, severity=3, report_hash=keccak(text="r")
        ),
        "RecordsNotConcerned",
        {"subjectId": case, "reporter": consortium.hospital.address},
    )


def test_a_failed_report_does_not_use_up_an_id(consortium: Consortium, unit_id: bytes) -> None:
    hospital = consortium.hospital
    with pytest.raises(ContractError):
        hospital.report_adverse_event(unit_id, severity=0, report_hash=keccak(text="r"))
    assert (
        hospital.report_adverse_event(unit_id, severity=1, report_hash=keccak(text="r")).value == 1
    )


@pytest.mark.parametrize("who", ["outsider", "admin"])
def test_non_member_cannot_report(
    chain: DevChain, consortium: Consortium, unit_id: bytes, who: str
) -> None:
    caller = (
        consortium.admin if who == "admin" else consortium.hospital.as_member(chain.accounts[7])
    )
    expect_revert(
        lambda: caller.report_adverse_event(unit_id, severity=1, report_hash=keccak(text="r")),
        "RecordsNotActiveMember",
        {"account": caller.address},
    )


def test_suspended_member_cannot_report_until_reinstated(
    consortium: Consortium, unit_id: bytes
) -> None:
    hospital = consortium.hospital
    consortium.regulator.suspend(hospital.address)
    expect_revert(
        lambda: hospital.report_adverse_event(unit_id, severity=2, report_hash=keccak(text="r")),
        "RecordsNotActiveMember",
        {"account": hospital.address},
    )
    consortium.regulator.reinstate(hospital.address)
    assert (
        hospital.report_adverse_event(unit_id, severity=2, report_hash=keccak(text="r")).value == 1
    )


@pytest.mark.parametrize("severity", [0, 4, 255])
def test_severity_must_be_one_to_three(
    consortium: Consortium, unit_id: bytes, severity: int
) -> None:
    expect_revert(
        lambda: consortium.hospital.report_adverse_event(
            unit_id, severity=severity, report_hash=keccak(text="r")
        ),
        "RecordsInvalidSeverity",
        {"severity": severity},
    )


def test_report_needs_a_report_hash(consortium: Consortium, unit_id: bytes) -> None:
    expect_revert(
        lambda: consortium.hospital.report_adverse_event(
            unit_id, severity=1, report_hash=bytes(32)
        ),
        "RecordsEmptyHash",
        {},
    )


# ------------------------------------------------------------------ anchorDocument


@pytest.mark.parametrize("kind", [0, 7, 65535])
def test_member_anchors_a_document(consortium: Consortium, unit_id: bytes, kind: int) -> None:
    distributor = consortium.distributor
    document = keccak(text="salt|delivery note 2026-001")
    assert distributor.anchor(document) == {
        "anchored_by": ZERO_ADDRESS,
        "anchored_at": 0,
        "kind": 0,
    }
    result = distributor.anchor_document(document, subject_id=unit_id, kind=kind)
    assert event_names(result) == ["DocumentAnchored"]
    assert result.event("DocumentAnchored") == {
        "documentHash": document,
        "subjectId": unit_id,
        "by": distributor.address,
        "kind": kind,
    }
    assert distributor.anchor(document) == {
        "anchored_by": distributor.address,
        "anchored_at": block_time(distributor, result),
        "kind": kind,
    }


def test_anchors_of_different_documents_are_independent(
    chain: DevChain, consortium: Consortium
) -> None:
    a, b = keccak(text="doc a"), keccak(text="doc b")
    consortium.manufacturer.anchor_document(a, subject_id=consortium.lot_key, kind=1)
    chain.advance(100)
    consortium.hospital.anchor_document(b, subject_id=bytes(32), kind=2)
    first, second = consortium.regulator.anchor(a), consortium.regulator.anchor(b)
    assert (first["anchored_by"], first["kind"]) == (consortium.manufacturer.address, 1)
    assert (second["anchored_by"], second["kind"]) == (consortium.hospital.address, 2)
    assert second["anchored_at"] >= first["anchored_at"] + 100


@pytest.mark.parametrize("who", ["outsider", "admin"])
def test_non_member_cannot_anchor(chain: DevChain, consortium: Consortium, who: str) -> None:
    caller = (
        consortium.admin if who == "admin" else consortium.hospital.as_member(chain.accounts[7])
    )
    document = keccak(text="doc")
    expect_revert(
        lambda: caller.anchor_document(document, subject_id=bytes(32), kind=1),
        "RecordsNotActiveMember",
        {"account": caller.address},
    )
    assert caller.anchor(document)["anchored_by"] == ZERO_ADDRESS


def test_suspended_member_cannot_anchor(consortium: Consortium) -> None:
    logistics = consortium.logistics
    consortium.regulator.suspend(logistics.address)
    expect_revert(
        lambda: logistics.anchor_document(keccak(text="log"), subject_id=bytes(32), kind=3),
        "RecordsNotActiveMember",
        {"account": logistics.address},
    )


def test_anchor_needs_a_document_hash(consortium: Consortium) -> None:
    expect_revert(
        lambda: consortium.hospital.anchor_document(bytes(32), subject_id=bytes(32), kind=1),
        "RecordsEmptyHash",
        {},
    )


@pytest.mark.parametrize("second", ["manufacturer", "hospital"])
def test_a_document_is_anchored_only_once(
    consortium: Consortium, unit_id: bytes, second: str
) -> None:
    first = consortium.manufacturer
    document = keccak(text="inspection report")
    result = first.anchor_document(document, subject_id=unit_id, kind=4)
    original = first.anchor(document)
    expect_revert(
        lambda: consortium.by_name(second).anchor_document(
            document, subject_id=consortium.lot_key, kind=9
        ),
        "RecordsAlreadyAnchored",
        {"documentHash": document, "anchoredBy": first.address},
    )
    assert (
        first.anchor(document)
        == original
        == {
            "anchored_by": first.address,
            "anchored_at": block_time(first, result),
            "kind": 4,
        }
    )
