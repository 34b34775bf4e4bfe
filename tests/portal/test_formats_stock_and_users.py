"""Locale formats, stock expiry warnings, the add-user command and the session cookie's
Secure flag."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from eth_utils import keccak
from typer.testing import CliRunner

from medledger.cli import app
from medledger.portal.i18n import LANGS, Formatter
from medledger.portal.users import authenticate, find_user
from tests.portal.conftest import PortalEnv, csrf_of, password_of


def test_dates_numbers_and_temperatures_follow_the_locale() -> None:
    zh, en = Formatter(LANGS["zh"]), Formatter(LANGS["en"])
    noon = int(dt.datetime(2026, 3, 5, 4, 0, tzinfo=dt.UTC).timestamp())  # 12:00 in Shanghai
    assert zh.date(noon) == "2026年3月5日" and en.date(noon) == "Mar 5, 2026"
    assert "12:00:00" in zh.datetime(noon) and "12:00:00" in en.datetime(noon).replace(
        "\u202f", " "
    )
    assert zh.number(1234567) == "1,234,567" and en.number(1234.5) == "1,234.5"
    assert zh.temperature(-185) == "-18.5 °C" and en.temperature(25) == "2.5 °C"
    assert en.temperature(None) == "—"


def test_stock_warns_about_lots_close_to_expiry(portal: PortalEnv) -> None:
    c = portal.api.consortium
    now = portal.api.chain.now()
    soon = c.manufacturer.register_lot(
        c.gtin,
        "SOON1",
        production_date=now - 86400,
        expiry=now + 20 * 86400,
        qc_release_hash=keccak(text="qc"),
    ).value
    ids = c.manufacturer.commission(soon, ["EXP1", "EXP2"]).value
    ids += c.manufacturer.commission(c.lot_key, ["FAR1"]).value
    shipment = c.manufacturer.ship(c.distributor.address, ids).value
    c.manufacturer.commission(c.lot_key, ["KEEP1"])
    c.distributor.receive(shipment, temp_min=40, temp_max=60)
    portal.api.sync()
    page = portal.sign_in("distributor", lang="en").get("/portal/distributor").text
    assert 'class="expiring" data-lot="SOON1"' in page
    assert f'class="ok" data-lot="{c.lot}"' in page
    assert 'data-expiring="1"' in page and "expires soon" in page
    maker = portal.sign_in("manufacturer", lang="en")
    assert 'href="/portal/stock"' in maker.get("/portal/verify").text
    own = maker.get("/portal/stock").text
    assert 'data-lot="SOON1"' not in own  # shipped away
    assert f'data-lot="{c.lot}" data-status="active"' in own  # KEEP1
    assert portal.sign_in("hospital").get("/portal/stock").status_code == 403


def test_add_user_creates_a_user_who_can_sign_in(tmp_path: Path, portal: PortalEnv) -> None:
    c = portal.api.consortium
    key_file = tmp_path / "key.hex"
    key_file.write_text("0x" + bytes(c.hospital2.account.key).hex())
    data_dir = portal.api.services.settings.data_dir
    env = {
        "MEDLEDGER_PORTAL_PASSWORD": "huashan-pass",
        "MEDLEDGER_API_MASTER_KEY": portal.api.services.settings.master_key.get_secret_value(),
    }
    runner = CliRunner()
    args = [
        "portal",
        "add-user",
        "nurse.li",
        "--address",
        c.hospital2.address,
        "--key-file",
        str(key_file),
        "--data-dir",
        str(data_dir),
    ]
    created = runner.invoke(app, args, env=env)
    assert created.exit_code == 0, created.output
    assert "nurse.li" in created.output
    found = find_user(portal.api.services, "nurse.li")
    assert found is not None and found[0].address == c.hospital2.address
    assert authenticate(portal.api.services, "nurse.li", "huashan-pass") is not None
    assert authenticate(portal.api.services, "nurse.li", "wrong-pass") is None
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 2 and "already exists" in again.output
    weak = runner.invoke(
        app,
        ["portal", "add-user", "x.y", "--address", "0x12", "--data-dir", str(data_dir)],
        env={**env, "MEDLEDGER_PORTAL_PASSWORD": "short"},
    )
    assert weak.exit_code == 2 and "at least 8 characters" in weak.output


def test_the_session_cookie_is_secure_behind_https(portal: PortalEnv) -> None:
    services = portal.api.services
    services.settings = services.settings.model_copy(
        update={"public_base_url": "https://portal.example"}
    )
    client = portal.client()
    form = client.get("/portal/sign-in")
    signed = client.post(
        "/portal/sign-in",
        data={
            "username": "hospital",
            "password": password_of("hospital"),
            "csrf_token": csrf_of(form.text),
        },
    )
    assert signed.status_code == 303
    assert "Secure" in signed.headers["set-cookie"]


def test_every_message_in_the_portal_has_a_chinese_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from medledger.portal.i18n import LOCALE_DIR

    translated: set[str] = set()
    for po in sorted((LOCALE_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            translated |= {str(m.id) for m in read_po(fh, locale="zh_CN") if m.id and m.string}
    portal_dir = LOCALE_DIR.parent
    # The regulator pages and the trace explorer keep their own catalog and tests.
    theirs = ("regulator", "trace", "recall", "chain")
    used = {
        str(message)
        for filename, _, message, _, _ in extract_from_dir(
            portal_dir,
            method_map=[("**.py", "python"), ("**.html", "jinja2")],
            keywords={"_": None, "_l": None, "gettext": None},
        )
        if not any(word in filename for word in theirs)
    }
    assert len(used) > 200, "the extraction found too few messages"
    assert sorted(used - translated) == []
