"""Language negotiation, sign-in, sessions and CSRF of the portal, through the real app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from medledger.portal import sessions, throttle
from medledger.portal.sessions import Session
from tests.portal.conftest import USERS, PortalEnv, csrf_of, password_of


def test_the_portal_speaks_chinese_unless_asked_otherwise(portal: PortalEnv) -> None:
    client = portal.client()
    page = client.get("/portal/sign-in")
    assert '<html lang="zh-CN"' in page.text and "登录" in page.text
    english = client.get("/portal/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en"' in english.text and "Sign in" in english.text
    ranked = client.get("/portal/sign-in", headers={"Accept-Language": "fr, en;q=0.5, zh;q=0.8"})
    assert '<html lang="zh-CN"' in ranked.text


def test_the_query_beats_the_cookie_which_beats_the_browser(portal: PortalEnv) -> None:
    client = portal.client()
    switched = client.get("/portal/sign-in?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en"' in switched.text
    assert "lang=en" in switched.headers["set-cookie"]
    remembered = client.get("/portal/sign-in", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en"' in remembered.text
    back = client.get("/portal/sign-in?lang=zh")
    assert '<html lang="zh-CN"' in back.text
    assert '<html lang="zh-CN"' in client.get("/portal/sign-in").text


def test_a_wrong_password_is_refused_in_the_chosen_language(portal: PortalEnv) -> None:
    for lang, words in (("zh", "用户名或密码错误"), ("en", "Wrong username or password")):
        client = portal.client(lang=lang)
        form = client.get("/portal/sign-in")
        response = client.post(
            "/portal/sign-in",
            data={
                "username": "hospital",
                "password": "nope-nope",
                "csrf_token": csrf_of(form.text),
            },
        )
        assert response.status_code == 401
        assert words in response.text
        assert 'value="hospital"' in response.text  # what was typed is kept
        assert "mlp_session" not in response.headers.get("set-cookie", "")


def test_signing_in_sets_a_signed_httponly_lax_cookie_and_lands_on_the_role_page(
    portal: PortalEnv,
) -> None:
    client = portal.client()
    form = client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in",
        data={
            "username": "hospital",
            "password": password_of("hospital"),
            "csrf_token": csrf_of(form.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/hospital")
    cookie = response.headers["set-cookie"]
    assert "mlp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/portal/verify")
    assert "Ruijin Hospital" in page.text


def test_a_tampered_session_cookie_counts_as_signed_out(portal: PortalEnv) -> None:
    client = portal.sign_in("hospital")
    value = client.cookies["mlp_session"]
    payload, _, mac = value.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    client.cookies.set("mlp_session", forged)
    response = client.get("/portal/hospital")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in?next=")


def test_a_post_without_the_csrf_token_is_refused(portal: PortalEnv) -> None:
    client = portal.client()
    client.get("/portal/sign-in")
    missing = client.post(
        "/portal/sign-in", data={"username": "hospital", "password": password_of("hospital")}
    )
    assert missing.status_code == 403
    assert "表单已过期" in missing.text
    signed_in = portal.sign_in("hospital", lang="en")
    wrong = signed_in.post("/portal/sign-out", data={"csrf_token": "forged"})
    assert wrong.status_code == 403 and "The form has expired" in wrong.text
    copied = signed_in.cookies["mlp_session"]
    right = signed_in.post(
        "/portal/sign-out", data={"csrf_token": csrf_of(signed_in.get("/portal/verify").text)}
    )
    assert right.status_code == 303
    assert signed_in.get("/portal/hospital").status_code == 303  # signed out
    thief = portal.client()
    thief.cookies.set("mlp_session", copied)
    assert thief.get("/portal/hospital").status_code == 303  # the copied cookie died too


def test_a_suspended_member_is_signed_out_at_once(portal: PortalEnv) -> None:
    client = portal.sign_in("distributor")
    c = portal.api.consortium
    c.regulator.suspend(c.distributor.address)
    response = client.get("/portal/distributor")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in")


def test_a_member_signs_in_with_its_own_key(portal: PortalEnv) -> None:
    from eth_account.messages import encode_defunct

    c = portal.api.consortium
    client = portal.client()
    token = csrf_of(client.get("/portal/sign-in").text)
    challenge = client.post(
        "/portal/sign-in/key/challenge",
        data={"address": c.logistics.address, "csrf_token": token},
    )
    assert challenge.status_code == 200, challenge.text
    message = challenge.json()["message"]
    signature = c.logistics.account.sign_message(encode_defunct(text=message)).signature
    signed = client.post(
        "/portal/sign-in/key",
        data={"message": message, "signature": "0x" + signature.hex(), "csrf_token": token},
    )
    assert signed.status_code == 303, signed.text
    assert "ColdChain Logistics" in client.get("/portal/verify").text
    replay = portal.client()
    again = replay.post(
        "/portal/sign-in/key",
        data={
            "message": message,
            "signature": "0x" + signature.hex(),
            "csrf_token": csrf_of(replay.get("/portal/sign-in?lang=en").text),
        },
    )
    assert again.status_code == 401 and "already used" in again.text


def test_the_resolver_page_and_the_portal_verify_page_are_one_page(portal: PortalEnv) -> None:
    c = portal.api.consortium
    c.manufacturer.commission(c.lot_key, ["PV0001"])
    portal.api.sync()
    client = portal.client(lang="en")
    link = client.get(f"/01/{c.gtin}/21/PV0001", headers={"Accept": "text/html"})
    typed = client.get("/portal/verify", params={"code": f"(01){c.gtin}(21)PV0001"})
    for page in (link, typed):
        assert page.status_code == 200
        assert 'data-verdict="genuine"' in page.text
        assert "Registered on the ledger by its manufacturer." in page.text
        assert '<html lang="en"' in page.text
    bad = client.get("/portal/verify", params={"code": f"(01){c.gtin[:-1]}9(21)X"})
    assert bad.status_code == 400 and 'data-error="bad_check_digit"' in bad.text


def test_password_guessing_is_throttled_per_username(portal: PortalEnv) -> None:
    client = portal.client(lang="en")
    token = csrf_of(client.get("/portal/sign-in").text)
    for attempt in range(10):
        wrong = client.post(
            "/portal/sign-in",
            data={"username": "hospital", "password": f"guess-{attempt}", "csrf_token": token},
        )
        assert wrong.status_code == 401
    blocked = client.post(
        "/portal/sign-in",
        data={"username": "hospital", "password": password_of("hospital"), "csrf_token": token},
    )
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert portal.sign_in("distributor").cookies.get("mlp_session")  # other users unaffected


def test_failed_sign_ins_are_throttled_per_client_address_across_usernames(
    portal: PortalEnv,
) -> None:
    def attempt(client: TestClient, username: str, password: str, **headers: str) -> Response:
        token = csrf_of(client.get("/portal/sign-in").text)
        form = {"username": username, "password": password, "csrf_token": token}
        return client.post("/portal/sign-in", data=form, headers=headers)

    office = "198.51.100.7"
    colleague = portal.client(lang="en", address=office)
    for name in USERS * 2:  # successful sign-ins from a shared address do not count
        assert attempt(colleague, name, password_of(name)).status_code == 303
    attacker = portal.client(lang="en", address=office)
    for n in range(throttle.FAILED_SIGN_INS_PER_ADDRESS):
        # a new username each time (the per-username throttle never trips) and a forged
        # X-Forwarded-For, which the app must not take for the client's address
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert attempt(attacker, f"user{n}", "guess", **forged).status_code == 401
    for client, lang, words in (
        (attacker, "en", "Too many attempts. Try again in 3 minutes."),
        (portal.client(lang="zh", address=office), "zh", "尝试次数过多，请 3 分钟后再试。"),
    ):
        blocked = attempt(client, "distributor", password_of("distributor"))
        assert blocked.status_code == 429 and 'data-code="rate_limited_minutes"' in blocked.text
        assert words in blocked.text, lang
        assert 'value="distributor"' in blocked.text
        assert "mlp_session" not in blocked.headers.get("set-cookie", "")
    elsewhere = portal.client(address="192.0.2.44")
    assert attempt(elsewhere, "distributor", password_of("distributor")).status_code == 303


def _attempt(client: TestClient, username: str, password: str) -> Response:
    token = csrf_of(client.get("/portal/sign-in").text)
    form = {"username": username, "password": password, "csrf_token": token}
    return client.post("/portal/sign-in", data=form)


def test_concurrent_guesses_check_no_more_passwords_than_the_budget(portal: PortalEnv) -> None:
    clients = [portal.client(lang="en", address=f"198.51.100.{n}") for n in range(24)]
    tokens = [csrf_of(c.get("/portal/sign-in").text) for c in clients]

    def guess(n: int) -> Response:
        form = {"username": "hospital", "password": f"guess-{n}", "csrf_token": tokens[n]}
        return clients[n].post("/portal/sign-in", data=form)

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(guess, range(24)))
    allowed = throttle.FAILED_SIGN_INS_PER_USERNAME
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * allowed + [429] * (24 - allowed)
    assert all('data-code="rate_limited"' in a.text for a in answers if a.status_code == 429)


def test_a_strangers_failures_do_not_lock_a_user_out_of_a_browser_it_used_before(
    portal: PortalEnv,
) -> None:
    office = "198.51.100.20"
    own = portal.client(lang="en", address=office)
    first = _attempt(own, "hospital", password_of("hospital"))
    assert first.status_code == 303
    assert "mlp_device=" in first.headers["set-cookie"]
    assert "Path=/portal/sign-in" in first.headers["set-cookie"]
    stranger = portal.client(lang="en", address=office)  # even from the user's own address
    answers = [_attempt(stranger, "hospital", f"guess-{n}").status_code for n in range(12)]
    assert answers == [401] * throttle.FAILED_SIGN_INS_PER_USERNAME + [429] * 2
    waiting = _attempt(stranger, "hospital", password_of("hospital"))
    assert waiting.status_code == 429 and 1 <= int(waiting.headers["retry-after"]) <= 60
    assert _attempt(own, "hospital", password_of("hospital")).status_code == 303
    # The browser's own budget: its failures stop it, not the stranger's.
    mine = [_attempt(own, "hospital", "typo-typo").status_code for _ in range(11)]
    assert mine == [401] * throttle.FAILED_SIGN_INS_PER_DEVICE + [429]


def test_a_device_cookie_is_bound_to_its_users_and_cannot_be_forged(portal: PortalEnv) -> None:
    own = portal.client(lang="en")
    assert _attempt(own, "distributor", password_of("distributor")).status_code == 303
    for _ in range(throttle.FAILED_SIGN_INS_PER_USERNAME):
        assert _attempt(portal.client(), "hospital", "guess-guess").status_code == 401
    # The distributor's browser is a stranger to the hospital user.
    assert _attempt(own, "hospital", password_of("hospital")).status_code == 429
    value = own.cookies.get(throttle.DEVICE_COOKIE, path="/portal/sign-in")
    assert value is not None
    mac = value.partition(".")[2]
    settings = portal.api.services.settings
    hospital = {"id": "x", "users": ["hospital"]}
    swapped = sessions.signed_value(settings, hospital, purpose="p").partition(".")[0]
    other_purpose = sessions.signed_value(settings, hospital, purpose="portal-session")
    for cookie in (f"{swapped}.{mac}", other_purpose):
        forged = portal.client(lang="en")
        forged.cookies.set(throttle.DEVICE_COOKIE, cookie, path="/portal/sign-in")
        assert _attempt(forged, "hospital", password_of("hospital")).status_code == 429


def test_htmx_requests_may_send_the_csrf_token_as_a_header(portal: PortalEnv) -> None:
    client = portal.sign_in("hospital")
    token = csrf_of(client.get("/portal/verify").text)
    signed_out = client.post("/portal/sign-out", headers={"X-CSRF-Token": token})
    assert signed_out.status_code == 303


def test_signing_out_twice_at_once_is_not_a_server_error(
    portal: PortalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two tabs (or workers) sign the same session out together: both find it not yet
    # revoked, then both record it; the second must not fail on the duplicate.
    session = Session.new(username="hospital", address="0x" + "22" * 20, method="password")
    monkeypatch.setattr(sessions, "is_revoked", lambda *_: False)
    sessions.revoke(portal.api.services, session)
    sessions.revoke(portal.api.services, session)
    monkeypatch.undo()
    assert sessions.is_revoked(portal.api.services, session)


def test_a_non_ascii_csrf_token_or_session_cookie_is_refused_not_a_server_error(
    portal: PortalEnv,
) -> None:
    client = portal.client()
    client.get("/portal/sign-in")
    forged = client.post(
        "/portal/sign-in", data={"csrf_token": "é", "username": "hospital", "password": "x"}
    )
    assert forged.status_code == 403
    settings = portal.api.services.settings
    assert sessions.read_session(settings, "e30.été") is None
