"""Labels a clerk can use: unit and case labels carry the product's text from its master
record (names in both languages, model, registration certificate, lot, a plain expiry date,
storage), a case label the case's own code and how many units it holds, a logistic label
the SSCC as GS1-128 with shipper and contents; each rendered sheet decodes back to its codes
(zxing-cpp, no browser), and what must not be labelled is refused with the reason."""

from __future__ import annotations

import io
from dataclasses import dataclass

import httpx
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from medledger.domain.labels import Unlabellable, case_labels, label_refusals
from medledger.indexer.queries.devices import LotRow, lots_of
from medledger.ops.demo.consortium import DEMO_PREFIX, YEAR
from medledger.sdk import gs1
from medledger.sdk.gs1 import make_sscc, parse_code
from tests.portal.conftest import PortalEnv
from tests.portal.test_master_data_pages import SAMPLE, upload

MASK = "09506000301020"  # 医用外科口罩, a box of 50 is 19506000301027
BOX = "19506000301027"
STENT_BOX = "19506000201020"  # a package level of another product
LOT = "MK2601"
CASES = "/portal/labels/cases"
LOGISTIC = "/portal/labels/logistic"


@dataclass
class Packed:
    lot_key: str
    lot: LotRow
    cases: list[bytes]
    sscc: str
    pallet: bytes


@pytest.fixture
def packed(portal: PortalEnv) -> Packed:
    """The sample master data; lot MK2601 of masks, three boxes packed, two on a pallet."""
    upload(portal.sign_in("manufacturer", lang="en"), "master_sample.csv", SAMPLE)
    portal.api.sync()
    m, now = portal.api.consortium.manufacturer, portal.api.chain.now()
    key = m.register_lot(MASK, LOT, production_date=now - 86400, expiry=now + YEAR).value
    m.commission_lot(key, 500)
    cases = m.pack_cases(BOX, LOT, ["BX001", "BX002", "BX003"]).value
    sscc = make_sscc(extension=3, company_prefix=DEMO_PREFIX, serial_reference=4242)
    pallet = m.create_container(sscc, company_prefix=DEMO_PREFIX).value
    m.pack(pallet, cases[:2])
    portal.api.sync()
    with portal.api.services.engine.connect() as conn:
        lot = next(r for r in lots_of(conn, m.address) if r.lot_key == key)
    return Packed("0x" + key.hex(), lot, cases, sscc, pallet)


def _decoded(png: bytes, kind: zxingcpp.BarcodeFormat) -> list[zxingcpp.Barcode]:
    return [b for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png))) if b.format == kind]


def _cases(
    client: TestClient, packed: Packed, serials: list[str], path: str = CASES, **extra: str
) -> httpx.Response:
    params = {"lot_key": packed.lot_key, "package_gtin": BOX, "serials": "\n".join(serials)}
    return client.get(path, params={**params, **extra})


def test_a_case_label_shows_the_product_and_its_quantity_and_scans_as_the_case(
    portal: PortalEnv, packed: Packed
) -> None:
    client = portal.sign_in("manufacturer", lang="zh")
    page = _cases(client, packed, ["BX001", "BX002", "BX003"])
    assert page.status_code == 200, page.text
    assert 'data-labels="3" data-pages="1"' in page.text
    expiry = gs1.Udi(gtin=BOX, lot=LOT, serial="BX001", expiry=None)  # for its id only
    preview = page.text.split('id="label-preview"')[1].split("</pre>")[0]
    assert "医用外科口罩\n" in preview  # the page's language first, English below
    assert preview.index("医用外科口罩") < preview.index("Surgical mask")
    assert "内含 50 个" in preview
    assert "注册证编号：" in preview and "型号规格：" in preview and "储存条件：" in preview
    day = gs1.parse_code(preview.strip().splitlines()[-1]).expiry
    assert day is not None and f"失效日期：{day.year}年{day.month}月{day.day}日" in preview
    english = _cases(portal.sign_in("manufacturer", lang="en"), packed, ["BX001"])
    assert f"Expiry: {day.isoformat()}" in english.text and "Contains 50 units" in english.text

    sheet = _cases(client, packed, ["BX001", "BX002", "BX003"], f"{CASES}/sheet.png")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/png"
    matrices = _decoded(sheet.content, zxingcpp.BarcodeFormat.DataMatrix)
    scanned = sorted((parse_code("]d2" + m.bytes.decode("ascii")) for m in matrices), key=str)
    assert [(u.gtin, u.lot, u.serial, u.expiry) for u in scanned] == [
        (BOX, LOT, s, day) for s in ("BX001", "BX002", "BX003")
    ]
    assert {u.item_id for u in scanned} == set(packed.cases)  # the case's own ledger id
    assert expiry.item_id == packed.cases[0]


def test_case_labels_are_refused_for_what_was_never_packed(
    portal: PortalEnv, packed: Packed
) -> None:
    client = portal.sign_in("manufacturer", lang="en")
    page = _cases(client, packed, ["BX001", "NOPE1"])
    assert page.status_code == 400
    assert f"Never packed as a case of {BOX} from this lot: NOPE1." in page.text
    assert "No case labels were made" in page.text and "sheet.png" not in page.text
    other = _cases(client, packed, ["BX001"], package_gtin=STENT_BOX)
    assert f"{STENT_BOX} is not a package level of this lot&#39;s product." in other.text
    zh = _cases(portal.sign_in("manufacturer", lang="zh"), packed, ["NOPE1"])
    assert f"从未由此批次装成 {BOX} 的箱：NOPE1。" in zh.text
    sheet = _cases(client, packed, ["NOPE1"], f"{CASES}/sheet.pdf")
    assert sheet.status_code == 400 and not sheet.content.startswith(b"%PDF")


def test_a_recalled_or_expired_lot_gets_no_label(portal: PortalEnv, packed: Packed) -> None:
    with portal.api.services.engine.connect() as conn:
        box = [gs1.Udi(gtin=BOX, lot=LOT, serial="BX003")]
        unit = [gs1.Udi(gtin=MASK, lot=LOT, serial="U1")]
        after = packed.lot.expiry + 1
        assert (
            case_labels(conn, packed.lot, box, now=after)[1][0].reason is Unlabellable.LOT_EXPIRED
        )
        assert (
            label_refusals(conn, packed.lot, unit, now=after)[0].reason is Unlabellable.LOT_EXPIRED
        )
        made, refused = case_labels(conn, packed.lot, box, now=packed.lot.expiry)
        assert [c.quantity for c in made] == [50] and refused == []
    m = portal.api.consortium.manufacturer
    m.recall_lot(bytes.fromhex(packed.lot_key[2:]), level=2, reason_hash=b"\x02" * 32)
    portal.api.sync()
    page = _cases(portal.sign_in("manufacturer", lang="en"), packed, ["BX003"])
    assert page.status_code == 400
    assert f"Lot {LOT} is recalled: no labels are printed for its units." in page.text


def test_a_logistic_label_carries_the_sscc_as_gs1_128_with_shipper_and_contents(
    portal: PortalEnv, packed: Packed
) -> None:
    client = portal.sign_in("manufacturer", lang="en")
    page = client.get(LOGISTIC, params={"ssccs": f"(00){packed.sscc}"})
    assert page.status_code == 200, page.text
    assert 'data-labels="1" data-pages="1"' in page.text
    grouped = " ".join(packed.sscc[i : i + 4] for i in range(0, 18, 4))
    assert f'<dd id="sscc-grouped">{grouped}</dd>' in page.text
    assert "2 cases (100 units)" in page.text and f"<dd>{LOT}</dd>" in page.text
    sheet = client.get(f"{LOGISTIC}/sheet.png", params={"ssccs": packed.sscc})
    assert sheet.status_code == 200
    (symbol,) = _decoded(sheet.content, zxingcpp.BarcodeFormat.Code128)
    assert symbol.symbology_identifier == "]C1"  # GS1-128: FNC1 first
    assert parse_code("]C1" + symbol.bytes.decode("ascii")).sscc == packed.sscc
    pdf = client.get(f"{LOGISTIC}/sheet.pdf", params={"ssccs": packed.sscc})
    assert pdf.content.startswith(b"%PDF")
    zh = portal.sign_in("manufacturer", lang="zh").get(LOGISTIC, params={"ssccs": packed.sscc})
    assert "2 箱（共 100 个）" in zh.text and "发货方" in zh.text
    assert "<dt>To</dt>" not in page.text  # no consignee before it ships
    c = portal.api.consortium
    c.manufacturer.ship(c.distributor.address, [packed.pallet])
    portal.api.sync()
    shipped = client.get(LOGISTIC, params={"ssccs": packed.sscc}).text
    sender = shipped.split("<dt>From</dt><dd>")[1].split("<")[0]
    consignee = shipped.split("<dt>To</dt><dd>")[1].split("<")[0]
    assert sender and consignee and sender != consignee


def test_a_logistic_label_is_refused_for_a_unit_not_yours_or_unknown(
    portal: PortalEnv, packed: Packed
) -> None:
    distributor = portal.sign_in("distributor", lang="en")
    page = distributor.get(LOGISTIC, params={"ssccs": packed.sscc})
    assert page.status_code == 400
    assert f"Your organisation does not hold logistic unit {packed.sscc}" in page.text
    unknown = make_sscc(extension=3, company_prefix=DEMO_PREFIX, serial_reference=999)
    missing = distributor.get(f"{LOGISTIC}/sheet.png", params={"ssccs": unknown})
    assert missing.status_code == 400 and not missing.content.startswith(b"\x89PNG")
    zh = portal.sign_in("distributor", lang="zh").get(LOGISTIC, params={"ssccs": unknown})
    assert f"账本上没有 SSCC 为 {unknown} 的物流单元。" in zh.text
    hospital = portal.sign_in("hospital", lang="en").get(LOGISTIC)
    assert hospital.status_code in (403, 404)


def test_a_unit_label_prints_the_product_text_from_its_master_record(
    portal: PortalEnv, packed: Packed
) -> None:
    m, now = portal.api.consortium.manufacturer, portal.api.chain.now()
    hip = "09506000201016"  # serialised, in the sample master data
    key = m.register_lot(hip, "HP2601", production_date=now - 86400, expiry=now + YEAR).value
    m.commission(key, ["HP0001"])
    portal.api.sync()
    client = portal.sign_in("manufacturer", lang="en")
    page = client.get(
        "/portal/manufacturer/labels", params={"lot_key": "0x" + key.hex(), "serials": "HP0001"}
    )
    assert page.status_code == 200, page.text
    preview = page.text.split('id="label-preview"')[1].split("</pre>")[0]
    lines = preview.split("<pre>")[1].strip().splitlines()
    assert lines[:2] == ["Hip joint prosthesis", "髋关节假体"]  # English first on an English page
    assert lines[2].startswith("Model: THA-Ceramic 52mm")
    assert lines[3] == "Registration certificate: 国械注准20233130456"
    assert lines[4].startswith("Lot: HP2601 · Expiry: 20")
    assert lines[5] == "Storage: Store dry at room temperature; do not crush"
    assert lines[6].startswith(f"(01){hip}(17)") and lines[6].endswith("(10)HP2601(21)HP0001")
