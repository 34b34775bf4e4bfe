"""Inspection exports through the API on the real chain and indexer: a member downloads its
own GSP records as XLSX and PDF (opened here with openpyxl and pypdf), the regulator any
member's and the recall summary report; the upload verification says valid and who signed,
and invalid once one cell or one byte is changed; nobody reads another member's records."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from medledger.domain import records
from medledger.domain.records import RecordKind
from medledger.sdk.dates import day_of
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_master_data import demo_hip

partner = partner_env.partner

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(partner: PartnerEnv) -> str:
    now = int(partner.api.chain.w3.eth.get_block("latest")["timestamp"])
    today = day_of(now)
    return f"{today - dt.timedelta(days=1)}..{today + dt.timedelta(days=1)}"


@pytest.fixture
def story(partner: PartnerEnv) -> dict[str, Any]:
    """The hip's master record anchored; three units to the distributor (5.0-8.0 °C at
    receipt), one on to the hospital, which reports an adverse event; a level 2 recall."""
    api = partner.api
    c = api.consortium
    put = api.client.put(
        f"/v1/partner/products/{c.gtin}/master",
        json=demo_hip(c.prefix, c.gtin),
        headers=partner.login(c.manufacturer),
    )
    assert put.status_code == 200, put.text
    units = c.manufacturer.commission(c.lot_key, ["EXP1", "EXP2", "EXP3"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=50, temp_max=80
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[2:]).value, temp_min=40, temp_max=60
    )
    services = api.services
    report = records.seal(
        services,
        kind=RecordKind.ADVERSE_EVENT,
        author=c.hospital.address,
        readers=[c.manufacturer.address],
        subject_id=units[2],
        body={"event_date": "2026-12-01", "outcome": "recovered", "narrative": "松动 loosening"},
    )
    c.hospital.report_adverse_event(units[2], severity=2, report_hash=report.commitment)
    notice = records.seal(
        services,
        kind=RecordKind.RECALL_NOTICE,
        author=c.regulator.address,
        readers=[c.distributor.address, c.hospital.address, c.manufacturer.address],
        subject_id=c.lot_key,
        body={
            "reason": "包装破损 damaged sterile packaging",
            "action": "隔离并退回 quarantine, return",
        },
    )
    recall = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=notice.commitment).value
    api.sync()
    return {"recall": recall, "period": _period(partner)}


def _get(partner: PartnerEnv, who: str, path: str, **params: str) -> Any:
    ledger = partner.api.consortium.by_name(who)
    return partner.api.client.get(path, params=params, headers=partner.login(ledger))


def _verify(partner: PartnerEnv, who: str, name: str, data: bytes) -> dict[str, Any]:
    ledger = partner.api.consortium.by_name(who)
    r = partner.api.client.post(
        "/v1/exports/verify", files={"file": (name, data)}, headers=partner.login(ledger)
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _sheet(data: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data))
    return list(book.worksheets[0].iter_rows(values_only=True))


def test_the_distributor_exports_its_purchases_as_xlsx_and_a_changed_cell_fails(
    partner: PartnerEnv, story: dict[str, Any]
) -> None:
    c = partner.api.consortium
    r = _get(partner, "distributor", "/v1/partner/exports/purchase", period=story["period"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["x-export-signer"] == c.distributor.address
    rows = _sheet(r.content)
    zh, en = rows[0], rows[1]
    for column in ("购进日期", "医疗器械名称", "规格型号", "注册证编号/备案凭证编号", "供货者"):
        assert column in zh
    assert "Purchase date" in en and "Supplier" in en
    assert len(rows) == 3  # one lot received once
    line = dict(zip(zh, rows[2], strict=True))
    assert line["产品标识 (DI/GTIN)"] == c.gtin
    assert line["生产批号"] == c.lot
    assert line["数量"] == 3
    assert line["医疗器械名称"] == "髋关节假体" and line["规格型号"] == "THA-52"
    assert line["注册证编号/备案凭证编号"] == "国械注准20263130001"
    assert line["序列号"] == "EXP1, EXP2, EXP3"

    ok = _verify(partner, "distributor", "purchase.xlsx", r.content)
    assert ok["valid"] is True and ok["signer"] == c.distributor.address
    assert ok["kind"] == "purchase" and ok["rows"] == 1 and ok["member"] == c.distributor.address

    book = load_workbook(io.BytesIO(r.content))
    book.worksheets[0].cell(row=3, column=len(zh)).value = 2  # 3 units become 2
    changed = io.BytesIO()
    book.save(changed)
    bad = _verify(partner, "distributor", "purchase.xlsx", changed.getvalue())
    assert bad["valid"] is False and bad["signer"] is None
    assert "content hash" in bad["reason"]


def test_the_acceptance_pdf_is_signed_and_a_changed_byte_fails(
    partner: PartnerEnv, story: dict[str, Any]
) -> None:
    c = partner.api.consortium
    r = _get(
        partner,
        "distributor",
        "/v1/partner/exports/acceptance",
        period=story["period"],
        format="pdf",
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    digest = r.headers["x-export-sha256"]
    meta = reader.metadata
    assert meta is not None and f"sha256:{digest}" in str(meta["/Keywords"])
    assert c.distributor.address in str(meta["/Keywords"])
    text = "".join(page.extract_text() for page in reader.pages)
    assert c.gtin in text and digest in text and c.distributor.address in text
    assert "验收" in text  # the Chinese title and column names are real text

    ok = _verify(partner, "hospital", "acceptance.pdf", r.content)
    assert ok["valid"] is True and ok["signer"] == c.distributor.address
    assert ok["signer_name"] and ok["content_sha256"] == digest

    middle = len(r.content) // 2
    flipped = r.content[:middle] + bytes([r.content[middle] ^ 1]) + r.content[middle + 1 :]
    bad = _verify(partner, "distributor", "acceptance.pdf", flipped)
    assert bad["valid"] is False and "changed" in bad["reason"]


def test_sales_cold_chain_and_adverse_events_carry_the_ledger_facts(
    partner: PartnerEnv, story: dict[str, Any]
) -> None:
    sales = _sheet(
        _get(partner, "distributor", "/v1/partner/exports/sales", period=story["period"]).content
    )
    sale = dict(zip(sales[0], sales[2], strict=True))
    assert sale["购货者"] and sale["数量"] == 1 and sale["序列号"] == "EXP3"
    cold = _sheet(
        _get(partner, "hospital", "/v1/partner/exports/cold-chain", period=story["period"]).content
    )
    leg = dict(zip(cold[0], cold[2], strict=True))
    assert leg["运输最低温度 (°C)"] == "4.0" and leg["运输最高温度 (°C)"] == "6.0"
    assert leg["储存温度要求 (°C)"] == "2.0 ~ 25.0"
    events = _sheet(
        _get(
            partner, "hospital", "/v1/partner/exports/adverse-event", period=story["period"]
        ).content
    )
    event = dict(zip(events[0], events[2], strict=True))
    assert event["序列号"] == "EXP3" and event["严重程度"] == 2
    assert event["事件描述"] == "松动 loosening" and event["事件结果"] == "recovered"
    assert event["器械故障代码"] is None  # not in the report: left blank, not guessed
    maker = _sheet(
        _get(
            partner, "manufacturer", "/v1/partner/exports/adverse-event", period=story["period"]
        ).content
    )
    assert len(maker) == 3  # the maker of the product sees the report on it
    recalls = _sheet(
        _get(partner, "hospital", "/v1/partner/exports/recall", period=story["period"]).content
    )
    recall = dict(zip(recalls[0], recalls[2], strict=True))
    assert recall["召回编号"] == story["recall"] and recall["本单位未处理数量"] == 1
    assert recall["召回原因"] == "包装破损 damaged sterile packaging"
    assert recall["要求措施"] == "隔离并退回 quarantine, return"


def test_a_member_exports_only_its_own_records(partner: PartnerEnv, story: dict[str, Any]) -> None:
    period = story["period"]
    other = _sheet(
        _get(partner, "hospital2", "/v1/partner/exports/purchase", period=period).content
    )
    assert len(other) == 2  # headers only: the distributor's purchases are not its
    recalls = _sheet(
        _get(partner, "hospital2", "/v1/partner/exports/recall", period=period).content
    )
    assert len(recalls) == 2  # the recalled lot never reached it
    events = _sheet(
        _get(partner, "hospital2", "/v1/partner/exports/adverse-event", period=period).content
    )
    assert len(events) == 2  # neither its report nor its product
    client = partner.api.client
    assert client.get("/v1/partner/exports/purchase", params={"period": period}).status_code == 401
    # the regulator's routes do not exist on the partner API
    r = _get(
        partner,
        "distributor",
        "/v1/regulator/exports/purchase",
        period=period,
        member=partner.api.consortium.hospital.address,
    )
    assert r.status_code == 404
    wrong = _get(partner, "distributor", "/v1/partner/exports/secrets", period=period)
    assert wrong.status_code == 404 and wrong.json()["code"] == "unknown_export_kind"
    for bad in ("2026-13", "2026-01-01..2027-06-01", "2026-02-01..2026-01-01", "last month"):
        r = _get(partner, "distributor", "/v1/partner/exports/purchase", period=bad)
        assert r.status_code == 422 and r.json()["code"] == "invalid_export_period", bad


def test_the_regulator_exports_a_members_records_and_the_recall_report(
    partner: PartnerEnv, story: dict[str, Any]
) -> None:
    c = partner.api.consortium
    reg = regulator_client(partner.api)
    params = {"member": c.distributor.address, "period": story["period"]}
    assert reg.get("/v1/regulator/exports/acceptance", params=params).status_code == 401
    r = reg.get("/v1/regulator/exports/acceptance", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["x-export-signer"] == c.regulator.address
    rows = _sheet(r.content)
    line = dict(zip(rows[0], rows[2], strict=True))
    assert line["合格数量"] == 3 and line["拒收数量"] == 0 and line["验收结论"] == "合格 Accepted"
    nobody = reg.get(
        "/v1/regulator/exports/acceptance",
        params={**params, "member": "0x" + "12" * 20},
        headers=AUTH,
    )
    assert nobody.status_code == 404 and nobody.json()["code"] == "unknown_member"

    report = reg.get(f"/v1/regulator/recalls/{story['recall']}/report", headers=AUTH)
    assert report.status_code == 200 and report.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(report.content)).pages
    text = "".join(p.extract_text() for p in pages).replace("\n", "")  # narrow cells wrap
    assert c.hospital.address in text and c.distributor.address in text and "召回总结报告" in text
    xlsx = reg.get(
        f"/v1/regulator/recalls/{story['recall']}/report", params={"format": "xlsx"}, headers=AUTH
    )
    rows = _sheet(xlsx.content)
    holders = {
        r[rows[0].index("持有单位地址")]: dict(zip(rows[0], r, strict=True)) for r in rows[2:]
    }
    assert holders[c.distributor.address]["未处理数量"] == 2
    assert holders[c.hospital.address]["未处理数量"] == 1
    assert holders[c.hospital.address]["逾期"] == "否 No"
    assert holders[c.hospital.address]["召回原因"] == "包装破损 damaged sterile packaging"
    verified = reg.post(
        "/v1/exports/verify", files={"file": ("r.pdf", report.content)}, headers=AUTH
    ).json()
    assert verified["valid"] is True and verified["signer"] == c.regulator.address
    missing = reg.get("/v1/regulator/recalls/999/report", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_recall"


def test_verify_refuses_what_is_not_an_export(partner: PartnerEnv) -> None:
    body = _verify(partner, "hospital", "x.txt", b"hello")
    assert body["valid"] is False and body["format"] is None
    unsigned = _verify(partner, "hospital", "x.pdf", b"%PDF-1.4\n%%EOF\n")
    assert unsigned["valid"] is False and unsigned["format"] == "pdf"
    assert (
        partner.api.client.post("/v1/exports/verify", files={"file": ("x", b"x")}).status_code
        == 401
    )
