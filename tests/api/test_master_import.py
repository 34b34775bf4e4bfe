"""Importing product master data files on the real chain (eth-tester) and indexer: the
shipped sample registers every product with its package levels, re-importing it changes
nothing, a changed row becomes version 2 with history kept, refused rows are reported with
row, column, value and reason, and CSV, XLSX and UDID XML round-trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from medledger.domain.auth import Member, resolve_member
from medledger.domain.master_data import product_master
from medledger.domain.master_files import parse_row, read_rows, write_records
from medledger.domain.master_import import export_file, import_file
from medledger.ops.demo import data as sample_data
from medledger.sdk.gs1 import make_gtin
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
FOREIGN = make_gtin(indicator=0, company_prefix="6942000", item_reference=42)
SAMPLE = Path(sample_data.__file__).parent
SAMPLE_CSV = (SAMPLE / "master_sample.csv").read_bytes()
SAMPLE_XML = (SAMPLE / "master_sample_udid.xml").read_bytes()


def maker(api: ApiEnv) -> Member:
    return resolve_member(api.services, api.consortium.manufacturer.address, method="token")


def _rewrite_csv(data: bytes, row: int, column: str, value: str) -> bytes:
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    lines[row - 1][lines[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return out.getvalue().encode("utf-8-sig")


def test_the_sample_registers_every_product_and_reimporting_it_changes_nothing(
    partner: PartnerEnv,
) -> None:
    api = partner.api
    seen: list[tuple[int, int]] = []
    report = import_file(
        api.services,
        member=maker(api),
        filename="master_sample.csv",
        data=SAMPLE_CSV,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert [r.outcome for r in report.rows] == ["created"] * 11, report.refused
    assert seen[-1] == (11, 11) and len(seen) == 11
    m = api.consortium.manufacturer
    syringe = m.product("09506000301013")
    assert syringe is not None and syringe.serialised is False and syringe.device_class == 3
    hip = m.product("09506000201016")
    assert hip is not None and hip.serialised is True
    case = m.package_level("29506000301017")
    assert case is not None
    assert (case.child_gtin, case.quantity, case.base_gtin, case.base_quantity) == (
        "19506000301010",
        20,
        "09506000301013",
        2000,
    )
    api.sync()
    view = product_master(api.services, "29506000301017")
    assert view.master is not None and view.master.name_zh == "一次性使用无菌注射器 带针"
    assert [p.units for p in view.packages] == [100, 2000]

    block = api.chain.w3.eth.block_number
    again = import_file(
        api.services, member=maker(api), filename="master_sample.csv", data=SAMPLE_CSV
    )
    assert [r.outcome for r in again.rows] == ["unchanged"] * 11
    assert api.chain.w3.eth.block_number == block  # not one transaction

    # The same products as UDID XML hash the same: nothing changes either.
    xml = import_file(api.services, member=maker(api), filename="udid.xml", data=SAMPLE_XML)
    assert [r.outcome for r in xml.rows] == ["unchanged"] * 11


def test_a_changed_row_becomes_version_two_with_history_kept(partner: PartnerEnv) -> None:
    api = partner.api
    import_file(api.services, member=maker(api), filename="a.csv", data=SAMPLE_CSV)
    changed = _rewrite_csv(SAMPLE_CSV, 2, "规格型号", "THA-Ceramic 56mm 股骨柄 13#")
    report = import_file(api.services, member=maker(api), filename="b.csv", data=changed)
    outcomes = {r.gtin: (r.outcome, r.version) for r in report.rows}
    assert outcomes["09506000201016"] == ("updated", 2)
    assert {o for g, o in outcomes.items() if g != "09506000201016"} == {("unchanged", 1)}
    api.sync()
    view = product_master(api.services, "09506000201016")
    assert [(v.version, v.record.model if v.record else None) for v in view.history] == [
        (1, "THA-Ceramic 52mm 股骨柄 12#"),
        (2, "THA-Ceramic 56mm 股骨柄 13#"),
    ]
    assert view.master is not None and view.master.model == "THA-Ceramic 56mm 股骨柄 13#"


def test_refused_rows_are_reported_with_row_column_value_and_reason(partner: PartnerEnv) -> None:
    api = partner.api
    data = SAMPLE_CSV
    data = _rewrite_csv(data, 2, "最小销售单元产品标识", "09506000201017")  # bad check digit
    data = _rewrite_csv(data, 3, "产品名称", "")
    data = _rewrite_csv(data, 4, "管理类别", "IV")
    data = _rewrite_csv(data, 5, "最低储存温度(℃)", "45")
    data = _rewrite_csv(data, 7, "最小销售单元产品标识", "09506000301013")  # row 6's GTIN
    data = _rewrite_csv(data, 8, "最小销售单元产品标识", FOREIGN)  # not the maker's prefix
    report = import_file(api.services, member=maker(api), filename="bad.csv", data=data)
    refused = {r.row: r.problems[0] for r in report.refused}
    assert sorted(refused) == [2, 3, 4, 5, 7, 8]
    assert (refused[2].column, refused[2].value) == ("gtin", "09506000201017")
    assert "校验位" in refused[2].reason_zh and "check digit" in refused[2].reason_en
    assert (refused[3].column, refused[3].reason_en) == ("name_zh", "required, but empty")
    assert (refused[4].column, refused[4].value) == ("device_class", "IV")
    assert refused[5].column == "temp_min" and "最低温度高于最高温度" == refused[5].reason_zh
    assert refused[7].column == "gtin" and "row 6" in refused[7].reason_en
    assert refused[8].column == "gtin" and "prefix_not_owned" in refused[8].reason_en
    assert report.count("created") == 5


def test_csv_xlsx_and_udid_exports_read_back_to_the_same_records(partner: PartnerEnv) -> None:
    api = partner.api
    import_file(api.services, member=maker(api), filename="a.csv", data=SAMPLE_CSV)
    api.sync()
    originals = [parse_row(r).record for r in read_rows("a.csv", SAMPLE_CSV)]
    for fmt, name in [("csv", "x.csv"), ("xlsx", "x.xlsx"), ("udid", "x.xml")]:
        exported = export_file(api.services, member=maker(api), fmt=fmt)  # type: ignore[arg-type]
        back = sorted(
            (parse_row(r).record for r in read_rows(name, exported)), key=lambda r: r.gtin
        )
        assert back == sorted(originals, key=lambda r: r.gtin), fmt
        again = import_file(api.services, member=maker(api), filename=name, data=exported)
        assert {r.outcome for r in again.rows} == {"unchanged"}, fmt


def test_xlsx_written_by_hand_imports(partner: PartnerEnv) -> None:
    api = partner.api
    records = [parse_row(r).record for r in read_rows("a.csv", SAMPLE_CSV)][:2]
    data = write_records([r for r in records if r is not None], "xlsx")
    report = import_file(api.services, member=maker(api), filename="two.xlsx", data=data)
    assert [r.outcome for r in report.rows] == ["created", "created"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("a.txt", b"x", "unsupported file type"),
        ("a.csv", b"foo,bar\n1,2\n", "no gtin"),
        ("a.xml", b"<udid><device>", "cannot read the XML"),
        ("a.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><udid>&a;</udid>', "cannot read the XML"),
        ("a.xlsx", b"not a zip", "cannot read the XLSX"),
        ("a.zip", b"not a zip", "cannot read the ZIP"),
    ],
)
def test_an_unreadable_file_is_refused_as_a_whole(name: str, data: bytes, reason: str) -> None:
    from medledger.domain.master_files import FileError

    with pytest.raises(FileError) as e:
        read_rows(name, data)
    assert reason in e.value.reason_en and e.value.reason_zh


def test_a_zip_of_udid_xml_files_reads_like_the_files() -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("part1/udid.xml", SAMPLE_XML)
        archive.writestr("readme.txt", "not data")
    rows = read_rows("download.zip", buffer.getvalue())
    records = [parse_row(r).record for r in rows]
    assert records == [parse_row(r).record for r in read_rows("udid.xml", SAMPLE_XML)]
    assert len(records) == 11 and all(r is not None for r in records)
    hip = records[0]
    assert hip is not None and (hip.device_class, hip.serialised) == (3, True)
    assert hip.storage.humidity_max == 80 and hip.storage.temp_min == -200
