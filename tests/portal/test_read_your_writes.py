"""Read your own writes: the page after a successful action lists what it did.

Against the live stack (uvicorn serving the app, a real indexer thread following the
chain): every write waits for the read model to reach its block, so the very next page
has the new row. Against an indexer that does not move (the `portal` fixture indexes only
when told), the wait is bounded and the page says the write is pending instead of
showing a list that silently lacks it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest

from medledger.domain import devices
from medledger.domain.auth import resolve_member
from medledger.domain.partner_schemas import LotIn
from medledger.domain.read_your_writes import reached
from medledger.indexer.queries.devices import lots_of
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.live import LiveChain, LiveSite, live_chain, password_of
from tests.portal.regulator_env import form, regulator_app_client, sign_in

PENDING = 'data-state="pending"'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChain]:
    with live_chain(tmp_path_factory.mktemp("live")) as started:
        yield started


@pytest.fixture(scope="module")
def site(live: LiveChain) -> Iterator[LiveSite]:
    with live.serve() as served:
        yield served


@contextlib.contextmanager
def signed_in(site: LiveSite, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base_url, timeout=30) as client:
        form = client.get("/portal/sign-in?lang=en")
        signed = client.post(
            "/portal/sign-in",
            data={
                "username": name,
                "password": password_of(name),
                "csrf_token": csrf_of(form.text),
            },
        )
        assert signed.status_code == 303, signed.text
        yield client


def submit(client: httpx.Client, path: str, data: dict[str, str], *, page: str) -> str:
    """POST the form of `page` to `path`; the page it redirects to (303)."""
    token = csrf_of(client.get(page).text)
    answer = client.post(path, data={**data, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert "pending=1" not in location
    return location


def test_the_page_after_a_lot_or_a_shipment_lists_it(live: LiveChain, site: LiveSite) -> None:
    c = live.consortium
    with signed_in(site, "manufacturer") as maker, signed_in(site, "distributor") as receiver:
        for n in range(3):
            lot = f"RYW{n}"
            next_page = submit(
                maker,
                "/portal/manufacturer/lots",
                {
                    "lot_gtin": c.gtin,
                    "lot": lot,
                    "production_date": "2026-01-05",
                    "expiry": "2028-06-30",
                },
                page="/portal/manufacturer",
            )
            shown = maker.get(next_page).text
            assert f'data-lot="{lot}"' in shown and PENDING not in shown

        serials = [f"RYW-S{n}" for n in range(3)]
        c.manufacturer.commission(c.lot_key, serials)
        live.wait_indexed()
        for serial in serials:
            next_page = submit(
                maker,
                "/portal/shipments/outbound",
                {"receiver": c.distributor.address, "contents": f"(01){c.gtin}(21){serial}"},
                page="/portal/shipments/outbound",
            )
            shipment_id = int(next_page.rsplit("sent=", 1)[1])
            shown = maker.get(next_page).text
            assert f'data-shipment="{shipment_id}"' in shown and PENDING not in shown
            inbound = receiver.get("/portal/shipments/inbound").text
            assert f'data-shipment="{shipment_id}" data-status="in_transit"' in inbound


def test_a_write_the_index_has_not_reached_shows_as_pending(portal: PortalEnv) -> None:
    c = portal.api.consortium
    services = portal.api.services
    services.settings = services.settings.model_copy(update={"read_model_wait_seconds": 0.3})
    client = portal.sign_in("manufacturer", lang="zh")
    form = client.get("/portal/manufacturer")
    lot = {"lot_gtin": c.gtin, "lot": "LATE1", "production_date": "2026-01-05"}
    answer = client.post(
        "/portal/manufacturer/lots",
        data={**lot, "expiry": "2028-06-30", "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    next_page = answer.headers["location"]
    assert re.search(r"[?&]pending=1(&|$)", next_page)
    shown = client.get(next_page).text
    assert PENDING in shown and "待索引" in shown and 'data-lot="LATE1"' not in shown

    portal.api.sync()
    again = client.get("/portal/manufacturer").text
    assert 'data-lot="LATE1"' in again and PENDING not in again


def test_the_use_case_answers_once_the_index_has_its_block(live: LiveChain, site: LiveSite) -> None:
    c = live.consortium
    member = resolve_member(site.services, c.manufacturer.address, method="token")
    lot = LotIn(gtin=c.gtin, lot="RYW-API", production_date=1767225600, expiry=1830297600)
    done = devices.register_lot(site.services, member=member, lot=lot)
    assert done.indexed
    with site.services.engine.connect() as conn:
        assert "RYW-API" in [row.lot_number for row in lots_of(conn, c.manufacturer.address)]


def test_the_api_says_when_the_index_has_not_reached_a_write(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    c = portal.api.consortium
    body = {"gtin": c.gtin, "lot": "API1", "production_date": 1767225600, "expiry": 1830297600}
    late = portal.api.client.post(
        "/v1/partner/lots", json=body, headers=partner.login(c.manufacturer)
    )
    assert late.status_code == 201, late.text
    assert late.json()["indexed"] is False  # this fixture's indexer runs only on sync()
    assert not reached(portal.api.services, late.json()["block_number"], timeout=0)
    portal.api.sync()
    assert reached(portal.api.services, late.json()["block_number"], timeout=0)


def test_a_regulator_order_the_index_has_not_reached_shows_as_pending(portal: PortalEnv) -> None:
    c = portal.api.consortium
    portal.api.sync()
    reg = sign_in(regulator_app_client(portal, read_model_wait_seconds=0.3), "regulator")
    page = reg.get("/portal/regulator/members").text
    suspended = form(
        reg, f"/portal/regulator/members/{c.hospital.address}/suspend", page, reason="audit"
    )
    assert suspended.status_code == 303  # type: ignore[attr-defined]
    next_page = suspended.headers["location"]  # type: ignore[attr-defined]
    assert re.search(r"[?&]pending=1(&|$)", next_page)
    assert PENDING in reg.get(next_page).text

    portal.api.sync()
    page = reg.get("/portal/regulator/members").text
    assert PENDING not in page
    reinstated = form(reg, f"/portal/regulator/members/{c.hospital.address}/reinstate", page)
    next_page = reinstated.headers["location"]  # type: ignore[attr-defined]
    assert "pending=1" in next_page  # the index still lags: the page says so
    portal.api.sync()
    assert PENDING not in reg.get("/portal/regulator/members?notice=reinstated").text
