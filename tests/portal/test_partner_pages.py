"""The partner pages through the real app (TestClient), over eth-tester and a real
indexer: forms, the API's errors in both languages, role navigation and label sheets."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import urlencode

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.exc import OperationalError

from medledger.domain.errors import ApiError
from medledger.portal.routes import documents
from medledger.sdk import gs1
from tests.portal.conftest import PortalEnv, csrf_of

# The structured adverse-event report the hospital's form asks for (no patient identifiers).
REPORT = {
    "severity": "2",
    "event_date": "2026-03-02",
    "outcome": "injury",
    "device_problem_code": "A0501",
    "device_problem": "lead fracture",
    "patient_age_band": "65-79",
    "patient_sex": "female",
}


def post(
    client: TestClient,
    path: str,
    data: dict[str, object],
    *,
    page: str | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
):
    token = csrf_of(client.get(page or path).text)
    return client.post(path, data={**data, "csrf_token": token}, files=files)


def commission(portal: PortalEnv, client: TestClient, prefix: str, count: int) -> list[str]:
    c = portal.api.consortium
    started = post(
        client,
        "/portal/manufacturer/commission",
        {
            "lot_key": "0x" + c.lot_key.hex(),
            "prefix": prefix,
            "first": "1",
            "count": str(count),
            "width": "4",
        },
    )
    assert started.status_code == 303, started.text
    job_url = started.headers["location"]
    for _ in range(200):
        fragment = client.get(job_url, headers={"HX-Request": "true"})
        if 'data-finished="true"' in fragment.text:
            break
        assert 'hx-trigger="every 500ms"' in fragment.text  # still polling
        time.sleep(0.1)
    assert 'data-failed="false"' in fragment.text, fragment.text
    assert f'data-done="{count}"' in fragment.text
    assert "hx-trigger" not in fragment.text  # polling stops when done
    portal.api.sync()
    return [f"(01){c.gtin}(21){prefix}{n:04d}" for n in range(1, count + 1)]


def test_each_role_sees_only_its_own_navigation(portal: PortalEnv) -> None:
    expected = {
        "manufacturer": (
            {"/portal/manufacturer/commission", "/portal/manufacturer/labels"},
            {"/portal/hospital"},
        ),
        "distributor": (
            {"/portal/distributor", "/portal/shipments/inbound"},
            {"/portal/manufacturer/labels"},
        ),
        "hospital": (
            {"/portal/hospital", "/portal/hospital/adverse-events"},
            {"/portal/shipments/outbound", "/portal/manufacturer"},
        ),
    }
    for name, (shown, hidden) in expected.items():
        client = portal.sign_in(name)
        nav = client.get("/portal/verify").text.split("<main")[0]
        for path in shown:
            assert f'href="{path}"' in nav, (name, path)
        for path in hidden:
            assert f'href="{path}"' not in nav, (name, path)
    hospital = portal.sign_in("hospital", lang="en")
    refused = hospital.get("/portal/manufacturer/labels")
    assert refused.status_code == 403 and "role may not do this" in refused.text


def test_a_manufacturer_registers_a_product_and_a_lot_and_bad_input_keeps_the_form(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    client = portal.sign_in("manufacturer", lang="en")
    gtin = gs1.make_gtin(indicator=0, company_prefix=c.prefix, item_reference=4242)
    product = {
        "gtin": gtin,
        "company_prefix": c.prefix,
        "device_class": "2",
        "certificate": "国械注准20263140042",
        "registration_expiry": "2031-12-31",
        "temp_min": "2",
        "temp_max": "8",
    }
    scan = b"%PDF-1.4 certificate scan"
    registered = post(
        client,
        "/portal/manufacturer/products",
        product,
        page="/portal/manufacturer",
        files={"documents": ("certificate.pdf", scan, "application/pdf")},
    )
    assert registered.status_code == 303, registered.text
    lot = {"lot_gtin": gtin, "lot": "P42", "production_date": "2026-01-05", "expiry": "2028-06-30"}
    assert (
        post(client, "/portal/manufacturer/lots", lot, page="/portal/manufacturer").status_code
        == 303
    )
    portal.api.sync()
    page = client.get("/portal/manufacturer").text
    assert f'data-gtin="{gtin}"' in page and 'data-lot="P42"' in page
    assert "2.0 °C – 8.0 °C" in page
    certificate = re.search(r'href="(/portal/documents/[0-9a-f]+)" download>certificate.pdf', page)
    assert certificate and client.get(certificate.group(1)).content == scan
    again = post(client, "/portal/manufacturer/products", product, page="/portal/manufacturer")
    assert again.status_code == 400
    assert "This product is already registered." in again.text
    assert 'value="国械注准20263140042"' in again.text
    chinese = portal.sign_in("manufacturer", lang="zh")
    wrong = post(
        chinese,
        "/portal/manufacturer/lots",
        {**lot, "expiry": "someday"},
        page="/portal/manufacturer",
    )
    assert wrong.status_code == 422 and "aria-invalid" in wrong.text and 'value="P42"' in wrong.text
    assert "部分字段缺失或无效" in wrong.text


def test_commissioning_runs_as_a_job_and_the_label_sheet_scans(portal: PortalEnv) -> None:
    c = portal.api.consortium
    client = portal.sign_in("manufacturer")
    units = commission(portal, client, "LB", 150)
    assert c.manufacturer.item(gs1.parse_code(units[-1]).item_id).holder == c.manufacturer.address
    serials = "\n".join(f"LB{n:04d}" for n in (1, 2, 3))
    sheet = client.get(
        "/portal/manufacturer/labels/sheet.png",
        params={"lot_key": "0x" + c.lot_key.hex(), "serials": serials},
    )
    assert sheet.headers["content-type"] == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(sheet.content)))
    matrices = sorted(b.text for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix)
    links = sorted(b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode)
    assert all(
        b.symbology_identifier == "]d2"
        for b in found
        if b.format == zxingcpp.BarcodeFormat.DataMatrix
    )
    assert [gs1.parse_code(m).serial for m in matrices] == ["LB0001", "LB0002", "LB0003"]
    base = portal.api.services.settings.public_base_url
    assert links[0].startswith(f"{base}/01/{c.gtin}/10/{c.lot}/21/LB0001?17=")
    pdf = client.get(
        "/portal/manufacturer/labels/sheet.pdf",
        params={"lot_key": "0x" + c.lot_key.hex(), "serials": serials},
    )
    assert pdf.content.startswith(b"%PDF")


def test_a_receipt_with_rejection_a_count_check_and_a_cold_chain_excursion(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer")
    units = commission(portal, maker, "RX", 4)
    note = b"Delivery note DN-2026-0001: 4 units of LOT2026A"
    shipped = post(
        maker,
        "/portal/shipments/outbound",
        {"receiver": c.distributor.address, "contents": "\n".join(units), "note": "DN-2026-0001"},
        files={"documents": ("delivery-note.txt", note, "text/plain")},
    )
    assert shipped.status_code == 303, shipped.text
    shipment_id = int(shipped.headers["location"].split("sent=")[1])
    portal.api.sync()
    distributor = portal.sign_in("distributor", lang="en")
    acceptance = distributor.get(f"/portal/shipments/inbound/{shipment_id}").text
    link = re.search(r'href="(/portal/documents/[0-9a-f]+)"', acceptance)
    assert link and "delivery-note.txt" in acceptance
    download = distributor.get(link.group(1))
    assert download.content == note and "attachment" in download.headers["content-disposition"]
    assert portal.sign_in("hospital").get(link.group(1)).status_code == 404  # not a party
    assert f'data-shipment="{shipment_id}"' in distributor.get("/portal/shipments/inbound").text
    form_url = f"/portal/shipments/inbound/{shipment_id}"
    rejected = "0x" + gs1.parse_code(units[0]).item_id.hex()
    count = f"count:{c.gtin}:{c.lot}"
    base = {
        "reject": rejected,
        "temp_min": "3.5",
        "temp_max": "7",
        "excursion_minutes": "0",
        "note": "box 1 dented",
    }
    short = post(distributor, form_url, {**base, count: "4"})
    assert short.status_code == 400 and "The counted units differ" in short.text
    assert "box 1 dented" in short.text and "checked" in short.text  # the form keeps what was typed
    done = post(distributor, form_url, {**base, count: "3"})
    assert done.status_code == 200, done.text
    assert 'data-quarantined="false"' in done.text and "3 accepted, 1 rejected" in done.text
    on_chain = c.distributor.shipment(shipment_id)
    assert on_chain.status.name == "RECEIVED"
    portal.api.sync()
    onward = post(
        distributor,
        "/portal/shipments/outbound",
        {"receiver": c.hospital.address, "contents": "\n".join(units[1:])},
    )
    assert onward.status_code == 303, onward.text
    hospital_shipment = int(onward.headers["location"].split("sent=")[1])
    portal.api.sync()
    hospital = portal.sign_in("hospital", lang="zh")
    warm = post(
        hospital,
        f"/portal/shipments/inbound/{hospital_shipment}",
        {count: "3", "temp_min": "4", "temp_max": "31", "excursion_minutes": "45"},
    )
    assert warm.status_code == 200 and 'data-quarantined="true"' in warm.text
    assert c.hospital.item(gs1.parse_code(units[1]).item_id).status.name == "QUARANTINED"
    portal.api.sync()
    stock = hospital.get("/portal/hospital").text
    assert 'data-status="quarantined"' in stock and "已隔离" in stock
    refused = post(
        hospital,
        "/portal/hospital/use",
        {"contents": units[1], "use": "implant", "record": "OP-1"},
        page="/portal/hospital",
    )
    assert refused.status_code == 400 and "物品当前状态不允许此操作" in refused.text


def test_a_hospital_dispenses_and_reports_an_adverse_event(portal: PortalEnv) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer")
    units = commission(portal, maker, "HD", 2)
    shipped = post(
        maker,
        "/portal/shipments/outbound",
        {"receiver": c.hospital.address, "contents": "\n".join(units)},
    )
    shipment_id = int(shipped.headers["location"].split("sent=")[1])
    portal.api.sync()
    hospital = portal.sign_in("hospital", lang="en")
    count = f"count:{c.gtin}:{c.lot}"
    received = post(
        hospital,
        f"/portal/shipments/inbound/{shipment_id}",
        {count: "2", "temp_min": "5", "temp_max": "9", "excursion_minutes": "0"},
    )
    assert 'data-quarantined="false"' in received.text
    used = post(
        hospital,
        "/portal/hospital/use",
        {"contents": units[0], "use": "implant", "record": "OP-2026-17"},
        page="/portal/hospital",
    )
    assert used.status_code == 200 and "1 units recorded as used." in used.text
    assert c.hospital.item(gs1.parse_code(units[0]).item_id).status.name == "DISPENSED"
    again = post(
        hospital,
        "/portal/hospital/use",
        {"contents": units[0], "use": "dispense", "record": "RX-1"},
        page="/portal/hospital",
    )
    assert again.status_code == 400 and "The item is not in a state that allows this" in again.text
    report = post(
        hospital,
        "/portal/hospital/adverse-events",
        {**REPORT, "code": units[0], "narrative": "lead fracture after 3 days"},
    )
    assert report.status_code == 200 and "recorded" in report.text, report.text[-4000:]
    portal.api.sync()
    listed = hospital.get("/portal/adverse-events")
    (record_id,) = re.findall(r'data-record="([0-9a-f]+)"', listed.text)
    for who in ("hospital", "manufacturer", "regulator"):
        page = portal.sign_in(who, lang="zh").get(f"/portal/adverse-events/{record_id}")
        assert page.status_code == 200
        assert "lead fracture after 3 days" in page.text and "一般伤害" in page.text
    other = portal.sign_in("distributor", lang="en")
    assert other.get(f"/portal/adverse-events/{record_id}").status_code == 404
    assert record_id not in other.get("/portal/adverse-events").text
    verdict = hospital.get("/portal/verify", params={"code": units[0]})
    assert 'data-verdict="dispensed"' in verdict.text


def test_an_adverse_event_must_name_a_unit_the_hospital_holds(portal: PortalEnv) -> None:
    c = portal.api.consortium
    held, elsewhere = c.manufacturer.commission(c.lot_key, ["AEK1", "AEK2"]).value
    shipment = c.manufacturer.ship(c.hospital.address, [held]).value
    c.hospital.receive(shipment, temp_min=50, temp_max=80)  # on chain, not yet indexed
    unknown = f"(01){c.gtin}(21)NOPE01"
    not_held = f"(01){c.gtin}(21)AEK2"  # at the manufacturer
    form = {**REPORT, "severity": "3", "narrative": "alarm failed during surgery"}
    for lang, words in (("en", "No such item among yours."), ("zh", "在您的物品中找不到该物品。")):
        hospital = portal.sign_in("hospital", lang=lang)
        for code in (unknown, not_held):  # the same answer: existence is not disclosed
            refused = post(hospital, "/portal/hospital/adverse-events", {**form, "code": code})
            assert refused.status_code == 400 and 'data-code="item_not_found"' in refused.text
            assert words in refused.text
            assert f'value="{code}"' in refused.text  # the form keeps what was typed
            assert "alarm failed during surgery" in refused.text
            assert c.manufacturer.address not in refused.text
    typo = f"(01){c.gtin[:-1]}9(21)AEK1"
    malformed = post(hospital, "/portal/hospital/adverse-events", {**form, "code": typo})
    assert malformed.status_code == 400 and 'data-code="bad_check_digit"' in malformed.text
    known = post(
        hospital, "/portal/hospital/adverse-events", {**form, "code": f"(01){c.gtin}(21)AEK1"}
    )
    assert known.status_code == 200 and 'data-code="' not in known.text
    assert "不良事件报告 1 已记录" in known.text  # the refused reports took no id
    assert elsewhere != held


def ship_codes(portal: PortalEnv, sender: TestClient, receiver: str, codes: list[str]) -> int:
    """Ship `codes` through the outbound form; the shipment id (indexed)."""
    shipped = post(
        sender, "/portal/shipments/outbound", {"receiver": receiver, "contents": "\n".join(codes)}
    )
    assert shipped.status_code == 303, shipped.text
    portal.api.sync()
    return int(shipped.headers["location"].split("sent=")[1])


def test_a_receipt_rejects_several_units_in_any_order(portal: PortalEnv) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer")
    units = commission(portal, maker, "RJ", 4)
    shipment_id = ship_codes(portal, maker, c.distributor.address, units)
    distributor = portal.sign_in("distributor", lang="en")
    ids = ["0x" + gs1.parse_code(u).item_id.hex() for u in units]
    # The form sends the ticked boxes in the order the browser lists them, which need not
    # be the shipped order; three of four units are rejected, the last shipped first.
    form = [("reject", ids[3]), ("reject", ids[0]), ("reject", ids[2])]
    form_url = f"/portal/shipments/inbound/{shipment_id}"
    token = csrf_of(distributor.get(form_url).text)
    fields = {
        f"count:{c.gtin}:{c.lot}": "1",
        "temp_min": "4",
        "temp_max": "7",
        "excursion_minutes": "0",
        "csrf_token": token,
    }
    done = distributor.post(
        form_url,
        content=urlencode([*fields.items(), *form]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200, done.text
    assert "1 accepted, 3 rejected" in done.text
    assert c.distributor.item(bytes.fromhex(ids[1][2:])).holder == c.distributor.address
    for rejected in (ids[0], ids[2], ids[3]):
        assert c.distributor.item(bytes.fromhex(rejected[2:])).holder == c.manufacturer.address


def test_a_receipt_rejecting_a_unit_outside_the_shipment_is_a_form_error(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer")
    units = commission(portal, maker, "RO", 2)
    shipment_id = ship_codes(portal, maker, c.distributor.address, units[:1])
    distributor = portal.sign_in("distributor", lang="en")
    stray = "0x" + gs1.parse_code(units[1]).item_id.hex()
    refused = post(
        distributor,
        f"/portal/shipments/inbound/{shipment_id}",
        {"reject": stray, "temp_min": "4", "temp_max": "7", "excursion_minutes": "0"},
    )
    assert refused.status_code == 400
    assert 'data-code="ItemsRejectedNotInShipment"' in refused.text
    assert c.distributor.shipment(shipment_id).status.name == "IN_TRANSIT"


def test_a_hospital_unpacks_a_received_case_before_using_a_unit(portal: PortalEnv) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer")
    units = commission(portal, maker, "UP", 2)
    packed = post(
        maker,
        "/portal/packing",
        {
            "company_prefix": c.prefix,
            "extension": "1",
            "serial_reference": "4711",
            "contents": "\n".join(units),
        },
    )
    sscc = re.search(r'data-sscc="(\d{18})"', packed.text)
    assert sscc, packed.text
    case = gs1.parse_code(f"(00){sscc.group(1)}").item_id
    c.hospital.receive(
        c.manufacturer.ship(c.hospital.address, [case]).value, temp_min=50, temp_max=60
    )
    portal.api.sync()
    hospital = portal.sign_in("hospital", lang="en")
    packed_unit = post(
        hospital,
        "/portal/hospital/use",
        {"contents": units[0], "use": "dispense", "record": "RX-9"},
        page="/portal/hospital",
    )
    assert packed_unit.status_code == 400 and "unpack it first" in packed_unit.text
    opened = post(
        hospital,
        "/portal/packing/unpack",
        {"container": sscc.group(1)},
        page="/portal/packing",
    )
    assert opened.status_code == 200 and "Unpacked 2 items" in opened.text
    assert c.hospital.item(gs1.parse_code(units[0]).item_id).holder == c.hospital.address
    used = post(
        hospital,
        "/portal/hospital/use",
        {"contents": units[0], "use": "dispense", "record": "RX-9"},
        page="/portal/hospital",
    )
    assert used.status_code == 200, used.text
    not_a_case = post(
        hospital,
        "/portal/packing/unpack",
        {"container": units[1]},
        page="/portal/packing",
    )
    assert not_a_case.status_code == 400 and "This is not a case or pallet." in not_a_case.text


def test_an_oversized_document_is_refused_before_anything_is_shipped(
    portal: PortalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 16)
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer", lang="en")
    units = commission(portal, maker, "BIG", 2)
    form: dict[str, object] = {
        "receiver": c.distributor.address,
        "contents": "\n".join(units),
        "note": "DN-9",
    }
    scan = ("scan.pdf", b"%PDF" + b"x" * 40, "application/pdf")
    refused = post(maker, "/portal/shipments/outbound", form, files={"documents": scan})
    assert refused.status_code == 400 and 'data-code="document_too_large"' in refused.text
    # Nothing went on chain: the same units ship once the file is dropped.
    assert post(maker, "/portal/shipments/outbound", form).status_code == 303


def test_a_document_not_stored_after_the_chain_write_leaves_the_operation_recorded(
    portal: PortalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer", lang="en")
    units = commission(portal, maker, "DS", 2)
    working_upload = documents.upload

    def store_down(*_: object) -> None:
        raise OperationalError("INSERT INTO documents", {}, Exception("disk I/O error"))

    def suspended(*_: object) -> None:
        raise ApiError("member_not_active", "suspended")

    monkeypatch.setattr(documents, "upload", suspended)
    note = ("delivery-note.txt", b"DN-77", "text/plain")
    form = {"receiver": c.distributor.address, "contents": "\n".join(units), "note": "DN-77"}
    shipped = post(maker, "/portal/shipments/outbound", form, files={"documents": note})
    assert shipped.status_code == 200, shipped.text
    assert "is on its way." in shipped.text and 'data-outcome="recorded"' in shipped.text
    assert 'data-missing="delivery-note.txt"' in shipped.text
    assert "This organisation is suspended" in shipped.text  # why, in the clerk's words
    assert 'action="/portal/shipments/outbound"' not in shipped.text  # no resubmission
    assert "Not done:" not in shipped.text
    portal.api.sync()
    sent = re.search(r"Shipment (\d+) is on its way", shipped.text)
    assert sent
    shipment_id = int(sent.group(1))
    assert c.distributor.shipment(shipment_id).status.name == "IN_TRANSIT"

    distributor = portal.sign_in("distributor", lang="zh")
    monkeypatch.setattr(documents, "upload", store_down)
    report = ("inspection.txt", b"all sealed", "text/plain")
    form_url = f"/portal/shipments/inbound/{shipment_id}"
    received = post(
        distributor,
        form_url,
        {f"count:{c.gtin}:{c.lot}": "2", "temp_min": "4", "temp_max": "6"},
        files={"documents": report},
    )
    assert received.status_code == 200, received.text
    assert c.distributor.shipment(shipment_id).status.name == "RECEIVED"
    tx = re.search(r'data-tx="(0x[0-9a-f]{64})"', received.text)
    assert tx and c.distributor.w3.eth.get_transaction_receipt(tx.group(1))["status"] == 1
    assert f"发货单 {shipment_id} 已接收：接收 2 件，拒收 0 件。" in received.text
    assert 'data-missing="inspection.txt"' in received.text and "文档存储不可用" in received.text
    assert f'action="{form_url}"' not in received.text

    monkeypatch.setattr(documents, "upload", working_upload)  # the store is back
    retry = re.search(
        r'<form method="post" action="/portal/documents/attach".*?</form>', received.text, re.S
    )
    assert retry
    hidden = dict(re.findall(r'name="(\w+)" value="([^"]*)"', retry.group(0)))
    attached = distributor.post(
        "/portal/documents/attach", data=hidden, files={"documents": report}
    )
    assert (
        attached.status_code == 303 and attached.headers["location"] == "/portal/shipments/inbound"
    )
    listed = distributor.get(form_url).text
    link = re.search(
        r'href="(/portal/documents/[0-9a-f]+)" download data-document="[0-9a-f]+">inspection.txt',
        listed,
    )
    assert link and distributor.get(link.group(1)).content == b"all sealed"
    forged = {**hidden, "next": "https://evil.example/"}
    assert (
        distributor.post(
            "/portal/documents/attach", data=forged, files={"documents": report}
        ).status_code
        == 422
    )


def test_a_shipment_number_outside_the_ledgers_range_is_a_4xx(portal: PortalEnv) -> None:
    distributor = portal.sign_in("distributor")
    for shipment_id in (2**64, 0, -1):
        page = distributor.get(f"/portal/shipments/inbound/{shipment_id}")
        assert page.status_code == 422, (shipment_id, page.text[:300])


def test_receiving_a_shipment_that_does_not_exist_is_a_404(portal: PortalEnv) -> None:
    hospital = portal.sign_in("hospital", lang="en")
    page = post(hospital, "/portal/shipments/inbound/987654", {"temp_min": "1", "temp_max": "2"})
    assert page.status_code == 404 and 'data-code="shipment_not_found"' in page.text
