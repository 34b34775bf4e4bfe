"""The regulator's overview and recall centre name the recalled product (from its master
record, which the regulator's deployment holds once pulled through the oversight feed), in
the page's language; without a record they show the GTIN alone."""

from __future__ import annotations

import time

from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.domain.master_data import MasterRecord
from medledger.domain.store import api_store
from medledger.indexer.store.master_records import put_master_record
from tests.api.test_master_data import demo_hip
from tests.portal.conftest import PortalEnv
from tests.portal.regulator_env import regulator_app_client, sign_in


def _anchor(portal: PortalEnv) -> None:
    c = portal.api.consortium
    record = MasterRecord.model_validate(demo_hip(c.prefix, c.gtin))
    put_master_record(
        api_store(portal.api.services).engine,
        master_hash=record.master_hash(),
        gtin=c.gtin,
        record=record.canonical().decode(),
        now=int(time.time()),
    )
    c.manufacturer.update_master_data(c.gtin, record.master_hash())


def _recall(portal: PortalEnv) -> int:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["RN1"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=40, temp_max=60
    )
    recall_id: int = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="r")).value
    portal.api.sync()
    return recall_id


def test_the_overview_and_recall_pages_name_the_product_in_either_language(
    portal: PortalEnv,
) -> None:
    _anchor(portal)
    recall_id = _recall(portal)
    for lang, name in (("en", "Hip joint prosthesis"), ("zh-CN", "髋关节假体")):
        reg: TestClient = sign_in(regulator_app_client(portal, lang=lang), "regulator")
        listed = reg.get("/portal/regulator/recalls")
        assert listed.status_code == 200, listed.text
        assert 'data-field="product_name" href="/portal/products/' in listed.text
        assert name in listed.text
        page = reg.get(f"/portal/regulator/recalls/{recall_id}")
        assert name in page.text and "THA-52" in page.text
        overview = reg.get("/portal/regulator")  # the open recalls, by product name
        assert f'data-recall="{recall_id}"' in overview.text and name in overview.text


def test_without_a_master_record_the_recall_pages_show_the_gtin(portal: PortalEnv) -> None:
    recall_id = _recall(portal)
    reg = sign_in(regulator_app_client(portal), "regulator")
    page = reg.get(f"/portal/regulator/recalls/{recall_id}")
    assert page.status_code == 200
    assert portal.api.consortium.gtin in page.text and 'data-field="product_name"' not in page.text
