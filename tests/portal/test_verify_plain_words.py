"""The verification page is the patient's page: its first line is a sentence anyone
understands, in zh-CN and English; a typo reads as "we could not read this code", never as
a warning about the device; a recall tells whoever has the device implanted to contact
their doctor; no internal error code, event name or hash is ever shown."""

from __future__ import annotations

import html
import re

import pytest
from eth_utils import keccak

from medledger.domain.verdicts import Verdict
from medledger.portal.routes.verify import (
    CONTAINER_HEADLINES,
    EVENTS,
    HEADLINES,
    LOT_HEADLINES,
)
from medledger.sdk.gs1 import Udi
from tests.portal.conftest import PortalEnv

HEX = re.compile(r"0x[0-9a-fA-F]{8,}|\b[0-9a-f]{40,}\b")
INTERNAL = ("malformed", "bad_check_digit", "missing_serial", "commissioned", "recall_opened",
            "lot_registered", "unknown_serial", "Gs1Error")  # fmt: skip


def _visible(page: str) -> str:
    """The text a reader sees: tags, attributes and scripts removed."""
    body = page.split("<main", 1)[-1]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _plain(page: str) -> str:
    seen = _visible(page)
    assert not HEX.search(seen), HEX.search(seen)
    for word in INTERNAL:
        assert word not in seen, word
    return seen


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_verdict_has_a_first_sentence_in_both_languages() -> None:
    assert set(HEADLINES) == set(Verdict)
    for table in (HEADLINES, LOT_HEADLINES, CONTAINER_HEADLINES):
        for verdict, (zh, en) in table.items():
            assert _chinese(zh) and zh.endswith("。"), verdict
            assert en.isascii() and en.endswith("."), verdict
    assert "联系您的医生" in HEADLINES[Verdict.RECALLED][0]
    assert "contact your doctor" in HEADLINES[Verdict.RECALLED][1]


@pytest.mark.parametrize(
    "code",
    [
        "(01)09506000134353(21)SN1",  # a typo: wrong check digit
        "hello world",
        "(01)09506000134352(17)281341(21)SN1",  # no such day
        "(01)09506000134352",  # a product number alone
    ],
)
def test_a_code_that_cannot_be_read_says_so_plainly_in_both_languages(
    portal: PortalEnv, code: str
) -> None:
    for lang in ("zh", "en"):
        page = portal.client(lang=lang).get("/portal/verify", params={"code": code})
        assert page.status_code == 400
        seen = _plain(page.text)
        assert "无法识别此代码" in seen and "We could not read this code" in seen
        assert "Do not use the device" not in seen and "请勿使用该器械" not in seen


def test_a_genuine_unit_reads_as_a_sentence_with_no_hash_or_event_name(portal: PortalEnv) -> None:
    c = portal.api.consortium
    c.manufacturer.commission(c.lot_key, ["PLAIN001"])
    portal.api.sync()
    code = Udi(gtin=c.gtin, lot=c.lot, serial="PLAIN001").element_string()
    en = _plain(portal.client(lang="en").get("/portal/verify", params={"code": code}).text)
    assert HEADLINES[Verdict.GENUINE][1] in en and HEADLINES[Verdict.GENUINE][0] in en
    assert str(EVENTS["commissioned"]) in en
    zh = _plain(portal.client(lang="zh").get("/portal/verify", params={"code": code}).text)
    assert "由制造商登记" in zh


def test_a_recalled_implant_tells_the_patient_to_contact_their_doctor(portal: PortalEnv) -> None:
    c = portal.api.consortium
    c.manufacturer.commission(c.lot_key, ["PLAIN002"])
    c.manufacturer.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="lead fracture"))
    portal.api.sync()
    code = Udi(gtin=c.gtin, lot=c.lot, serial="PLAIN002").gs1_payload()
    en = _plain(portal.client(lang="en").get("/portal/verify", params={"code": code}).text)
    assert "contact your doctor" in en
    assert "Recall issued" in en
    zh = _plain(portal.client(lang="zh").get("/portal/verify", params={"code": code}).text)
    assert "联系您的医生" in zh and "发布召回" in zh


def test_a_lot_code_says_the_lot_is_real_but_cannot_prove_the_box_unique(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    portal.api.sync()
    for code in (f"(01){c.gtin}(10){c.lot}", f"https://id.example/01/{c.gtin}/10/{c.lot}"):
        page = portal.client(lang="en").get("/portal/verify", params={"code": code})
        assert page.status_code == 200 and 'data-scope="lot"' in page.text
        en = _plain(page.text)
        assert "cannot prove that this box is unique" in en
        zh = _plain(portal.client(lang="zh").get("/portal/verify", params={"code": code}).text)
        assert "不能证明这一盒是独一无二的" in zh
    unknown = portal.client(lang="en").get(
        "/portal/verify", params={"code": f"(01){c.gtin}(10)NOPE"}
    )
    assert "We cannot find this lot in the records" in _plain(unknown.text)
