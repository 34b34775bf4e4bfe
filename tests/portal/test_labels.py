"""Label sheets a clerk can use: exactly the labels asked for (on as many pages as they
need), a stated limit, no label for what must not be labelled (never commissioned,
recalled lot, dispensed or destroyed unit), and human-readable text that breaks only
between element strings. Also the site's root page."""

from __future__ import annotations

import datetime as dt
import io
import re

import httpx
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from medledger.portal import labels
from medledger.portal.routes.manufacturer import MAX_LABELS
from medledger.sdk import gs1
from tests.portal.conftest import PortalEnv

LABELS = "/portal/manufacturer/labels"


def _matrices(png: bytes) -> list[str]:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return sorted(b.text for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix)


def _ask(
    client: TestClient, portal: PortalEnv, serials: list[str], path: str = LABELS
) -> httpx.Response:
    lot_key = "0x" + portal.api.consortium.lot_key.hex()
    return client.get(path, params={"lot_key": lot_key, "serials": "\n".join(serials)})


def test_the_plain_text_breaks_only_between_element_strings() -> None:
    udi = gs1.Udi(
        gtin="09506000134352", lot="CR2612X", serial="UX00001", expiry=dt.date(2028, 6, 30)
    )
    elements = labels.hri_elements(udi)
    assert elements == ["(01)09506000134352", "(17)280630", "(10)CR2612X", "(21)UX00001"]
    assert "".join(elements) == udi.element_string()
    lines = labels.hri_lines(elements, lambda line: len(line) <= 30)
    assert lines == ["(01)09506000134352(17)280630", "(10)CR2612X(21)UX00001"]
    longest = gs1.Udi(gtin="09506000134352", lot="L" * 20, serial="S" * 20)
    assert "".join(labels.hri_elements(longest)) == longest.element_string()
    narrow = labels.hri_lines(labels.hri_elements(longest), lambda line: len(line) <= 10)
    assert narrow == labels.hri_elements(longest)  # too long for a line: alone, unbroken


def test_twelve_labels_print_twelve_on_two_pages(portal: PortalEnv) -> None:
    c = portal.api.consortium
    serials = [f"TW{n:04d}" for n in range(1, 13)]
    c.manufacturer.commission(c.lot_key, serials)
    portal.api.sync()
    client = portal.sign_in("manufacturer", lang="en")
    page = _ask(client, portal, serials)
    assert page.status_code == 200, page.text
    assert 'data-labels="12" data-pages="2"' in page.text
    assert "Labels: 12, exactly as asked · A4 pages: 2" in page.text
    assert page.text.count('<img src="/portal/manufacturer/labels/sheet.png?') == 2
    first = _ask(client, portal, serials, f"{LABELS}/sheet.png")
    second = client.get(f"{LABELS}/sheet.png", params={**first.request.url.params, "page": 2})
    printed = _matrices(first.content) + _matrices(second.content)
    assert sorted(str(gs1.parse_code(m).serial) for m in printed) == serials
    third = client.get(f"{LABELS}/sheet.png", params={**first.request.url.params, "page": 3})
    assert third.status_code == 404
    pdf = _ask(client, portal, serials, f"{LABELS}/sheet.pdf").content
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2


def test_more_than_the_limit_is_refused_with_the_limit(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer", lang="en")
    asked = [f"MX{n:04d}" for n in range(MAX_LABELS + 1)]
    page = _ask(client, portal, asked)
    assert page.status_code == 400
    assert f"At most {MAX_LABELS} labels per sheet; you asked for {MAX_LABELS + 1}." in page.text
    assert "sheet.png" not in page.text
    chinese = _ask(portal.sign_in("manufacturer", lang="zh"), portal, asked)
    assert f"每张标签单最多 {MAX_LABELS} 张标签" in chinese.text


def test_no_label_for_a_unit_never_commissioned_used_or_destroyed(portal: PortalEnv) -> None:
    c = portal.api.consortium
    ids = c.manufacturer.commission(c.lot_key, ["OK0001", "DS0001", "DT0001"]).value
    shipment = c.manufacturer.ship(c.hospital.address, [ids[1]]).value
    c.hospital.receive(shipment, temp_min=40, temp_max=80)
    c.hospital.dispense([ids[1]])
    c.manufacturer.destroy([ids[2]])
    portal.api.sync()
    client = portal.sign_in("manufacturer", lang="en")
    page = _ask(client, portal, ["OK0001", "NEVER1", "DS0001", "DT0001", "NEVER2"])
    assert page.status_code == 400
    assert "No labels were made" in page.text
    assert "Never commissioned in this lot: NEVER1, NEVER2." in page.text
    assert "Already dispensed or implanted: DS0001." in page.text
    assert "Destroyed: DT0001." in page.text
    assert "sheet.png" not in page.text
    sheet = _ask(client, portal, ["NEVER1"], f"{LABELS}/sheet.png")
    assert sheet.status_code == 400 and sheet.headers["content-type"].startswith("text/html")
    chinese = _ask(portal.sign_in("manufacturer", lang="zh"), portal, ["NEVER1"])
    assert "从未在此批次赋码：NEVER1。" in chinese.text
    assert _ask(client, portal, ["OK0001"]).status_code == 200


def test_no_label_for_a_recalled_lot(portal: PortalEnv) -> None:
    c = portal.api.consortium
    c.manufacturer.commission(c.lot_key, ["RC0001"])
    c.manufacturer.recall_lot(c.lot_key, level=2, reason_hash=b"\x01" * 32)
    portal.api.sync()
    page = _ask(portal.sign_in("manufacturer", lang="en"), portal, ["RC0001"])
    assert page.status_code == 400
    assert f"Lot {c.lot} is recalled: no labels are printed for its units." in page.text
    sheet = _ask(portal.sign_in("manufacturer"), portal, ["RC0001"], f"{LABELS}/sheet.pdf")
    assert not sheet.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("lang", "heading", "sign_in"),
    [
        ("zh", "这件医疗器械是真品吗？", "登录门户"),
        ("en", "Is this medical device genuine?", "Sign in to the portal"),
    ],
)
def test_the_root_leads_to_verification_and_sign_in(
    portal: PortalEnv, lang: str, heading: str, sign_in: str
) -> None:
    page = portal.client(lang=lang).get("/")
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    assert 'action="/portal/verify"' in page.text and 'name="code"' in page.text
    assert (
        f'href="/portal/sign-in" role="button" class="secondary" id="to-portal">{sign_in}<'
        in page.text
    )
    signed_in = portal.sign_in("hospital").get("/")
    assert 'href="/portal/" role="button"' in signed_in.text
