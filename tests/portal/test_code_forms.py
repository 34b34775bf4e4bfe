"""Portal forms that take a code accept every form the verification page reads: the
regulator's recall form takes a lot's scanned code in its GTIN field, the trace explorer
a DataMatrix payload, an element string or a Digital Link (`portal.forms` tests the
parser itself on every form, the bare SSCC included)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from medledger.sdk.gs1 import Udi
from tests.portal.conftest import PortalEnv
from tests.portal.recall_approvals_env import approve, regulator_checker
from tests.portal.regulator_env import regulator_app_client, sign_in


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _recall(client: TestClient, **fields: str):  # noqa: ANN202
    page = client.get("/portal/regulator/recalls")
    return client.post("/portal/regulator/recalls", data={"csrf_token": _csrf(page.text), **fields})


def test_the_recall_form_takes_a_lots_code_in_any_form(portal: PortalEnv) -> None:
    c = portal.api.consortium
    reg = sign_in(regulator_app_client(portal), "regulator")
    scanned = "]d2" + Udi(gtin=c.gtin, lot=c.lot).gs1_payload()
    mismatch = _recall(reg, gtin=scanned, lot="OTHER", level="2", reason="seal")
    assert mismatch.status_code in (400, 422)
    assert "lot differs from the lot typed." in mismatch.text
    issued = _recall(reg, gtin=scanned, lot="", level="2", reason="seal")
    assert issued.status_code == 303, issued.text
    approve(regulator_checker(portal), issued.headers["location"])
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    assert recall_id and c.manufacturer.recall(recall_id)["open"] is True


def test_the_trace_explorer_reads_a_datamatrix_payload_and_a_lot_link(portal: PortalEnv) -> None:
    c = portal.api.consortium
    c.manufacturer.commission(c.lot_key, ["CF0001"])
    portal.api.sync()
    client = portal.sign_in("manufacturer", lang="en")
    unit = Udi(gtin=c.gtin, lot=c.lot, serial="CF0001")
    for code in (unit.gs1_payload(), unit.digital_link_uri(), unit.element_string()):
        page = client.get("/portal/trace", params={"code": code})
        assert page.status_code == 200, (code, page.text[-500:])
        assert "CF0001" in page.text
    lot = client.get("/portal/trace", params={"code": f"https://x.example/01/{c.gtin}/10/{c.lot}"})
    assert lot.status_code == 200
