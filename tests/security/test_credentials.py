"""Attack replays, sign-in, credentials and secrets on disk (issue 13, findings 6, 12 and
15): concurrent password guesses, a stranger locking a user out, made-up API keys and
challenge floods, unlimited API keys, and secrets readable in files or environments.

Each attacker connects from its own loopback address (127.0.0.6x), so the budgets it
spends are its own, not those of the other modules' clients on 127.0.0.1.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from eth_account import Account
from eth_account.messages import encode_defunct

from medledger.domain.auth import MAX_ACTIVE_API_KEYS
from medledger.domain.store import ApiStore
from medledger.portal.throttle import DEVICE_COOKIE, FAILED_SIGN_INS_PER_USERNAME
from medledger.portal.users import add_user
from medledger.web.members import SIGN_IN_STEPS_PER_MINUTE
from tests.security.conftest import Target

USER, PASSWORD = "cred-attack-target", "correct horse battery"


@contextmanager
def _from(source: str, base: str) -> Iterator[httpx.Client]:
    """A client whose connections come from the loopback address `source`."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=60) as client:
        yield client


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal/sign-in").text)
    assert found is not None
    return found.group(1)


def _password_sign_in(
    client: httpx.Client, password: str, token: str | None = None
) -> httpx.Response:
    form = {"username": USER, "password": password, "csrf_token": token or _csrf(client)}
    return client.post("/portal/sign-in", data=form)


def _code(page: httpx.Response) -> str | None:
    found = re.search(r'role="alert" data-code="([^"]+)"', page.text)
    return found.group(1) if found else None


def _token(target: Target, client: httpx.Client, slug: str) -> dict[str, str]:
    account = Account.from_key(target.member_keys()[slug])
    challenge = client.post("/v1/auth/challenge", json={"address": account.address})
    assert challenge.status_code == 200, challenge.text
    message = challenge.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    token = client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_concurrent_guesses_are_capped_and_a_stranger_cannot_lock_the_owner_out(
    target: Target,
) -> None:
    store = ApiStore(f"sqlite:///{target.data_dir / 'api' / 'api.db'}")
    try:
        address = target.organisation("xihu")["address"]
        add_user(store.engine, None, username=USER, password=PASSWORD, address=address)
    finally:
        store.dispose()
    with _from("127.0.0.61", target.api) as owner:
        first = _password_sign_in(owner, PASSWORD)
        assert first.status_code == 303, first.text[:500]
        assert owner.cookies.get(DEVICE_COOKIE, path="/portal/sign-in")
        device_cookie = dict(owner.cookies)

    # 24 guesses at once from a stranger's address: at most the username's budget of
    # passwords is checked, the rest are refused before scrypt runs.
    strangers = [_from("127.0.0.62", target.api) for _ in range(24)]
    clients = [s.__enter__() for s in strangers]
    try:
        tokens = [_csrf(c) for c in clients]
        start = threading.Barrier(24)

        def guess(n: int) -> httpx.Response:
            start.wait()
            return _password_sign_in(clients[n], f"wrong guess {n}", tokens[n])

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(guess, range(24)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {401, 429}, statuses
        assert statuses.count(401) <= FAILED_SIGN_INS_PER_USERNAME, statuses
        assert statuses.count(429) >= 24 - FAILED_SIGN_INS_PER_USERNAME
        assert all(_code(a) == "rate_limited" for a in answers if a.status_code == 429)
        assert all(_code(a) == "bad_credentials" for a in answers if a.status_code == 401)
        # Without the owner's device cookie even the right password waits now ...
        assert _password_sign_in(clients[0], PASSWORD).status_code == 429
    finally:
        for s in strangers:
            s.__exit__(None, None, None)

    # ... but the owner's own browser signs in, from its address or the stranger's.
    for source in ("127.0.0.61", "127.0.0.62"):
        with _from(source, target.api) as owner:
            owner.cookies.update(device_cookie)
            signed_in = _password_sign_in(owner, PASSWORD)
            assert signed_in.status_code == 303, (source, _code(signed_in))
    target.assert_still_serving()


def test_made_up_api_keys_on_verify_spend_the_address_budget_then_get_429(
    target: Target,
) -> None:
    code = target.api + target.seed.sample_path
    with _from("127.0.0.64", target.api) as member:
        headers = _token(target, member, "chaoyang")
        created = member.post("/v1/auth/api-keys", json={"label": "scanner"}, headers=headers)
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        try:
            with _from("127.0.0.63", target.api) as attacker:
                genuine = {"X-API-Key": key}
                assert attacker.get("/v1/verify", params={"code": code}, headers=genuine).is_success
                answers = [
                    attacker.get(
                        "/v1/verify",
                        params={"code": code},
                        headers={
                            "X-API-Key": f"mlk_{secrets.token_hex(8)}_{secrets.token_hex(16)}"
                        },
                    )
                    for _ in range(200)
                ]
                statuses = [a.status_code for a in answers]
                assert set(statuses) == {401, 429}, statuses
                assert statuses.count(401) <= 120 + 5  # the address's burst, and a refill or two
                first_refusal = statuses.index(429)
                assert statuses[first_refusal:].count(401) <= 5
                refused = answers[first_refusal]
                assert refused.json()["code"] == "rate_limited"
                assert int(refused.headers["retry-after"]) >= 1
                assert {a.json()["code"] for a in answers if a.status_code == 401} == {
                    "invalid_api_key"
                }
                # The address is spent for anonymous scans too; the member's key, seen valid
                # a moment ago, still has its member's own budget.
                assert attacker.get("/v1/verify", params={"code": code}).status_code == 429
                again = attacker.get("/v1/verify", params={"code": code}, headers=genuine)
                assert again.status_code == 200, again.text
        finally:
            member.delete(f"/v1/auth/api-keys/{created.json()['id']}", headers=headers)
    target.assert_still_serving()


def _spent_challenges(target: Target, address: str) -> int:
    with sqlite3.connect(target.data_dir / "api" / "api.db") as db:
        row = db.execute("SELECT COUNT(*) FROM api_challenges WHERE address = ?", (address,))
        return int(row.fetchone()[0])


def test_a_challenge_flood_writes_nothing_and_is_throttled_per_address(target: Target) -> None:
    address = Account.create().address
    with _from("127.0.0.65", target.api) as attacker:
        answers = [
            attacker.post("/v1/auth/challenge", json={"address": address}).status_code
            for _ in range(SIGN_IN_STEPS_PER_MINUTE + 20)
        ]
        assert answers[:SIGN_IN_STEPS_PER_MINUTE] == [200] * SIGN_IN_STEPS_PER_MINUTE
        assert answers.count(429) >= 15, answers
        refused = attacker.post("/v1/auth/token", json={"message": "Nonce: x", "signature": "0x00"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        key_sign_in = attacker.post(
            "/portal/sign-in/key/challenge",
            data={"address": address, "csrf_token": _csrf(attacker)},
        )
        assert key_sign_in.status_code == 429
        assert key_sign_in.json()["code"] == "rate_limited"
    assert _spent_challenges(target, address) == 0
    target.assert_still_serving()


def test_a_member_cannot_hold_more_than_the_cap_of_api_keys(target: Target) -> None:
    with _from("127.0.0.66", target.api) as member:
        headers = _token(target, member, "baiyun")
        listed = member.get("/v1/auth/api-keys", headers=headers).json()
        active = sum(1 for k in listed if k["revoked_at"] is None)
        made: list[str] = []
        try:
            for n in range(MAX_ACTIVE_API_KEYS - active):
                created = member.post(
                    "/v1/auth/api-keys", json={"label": f"bulk {n}"}, headers=headers
                )
                assert created.status_code == 201, created.text
                made.append(created.json()["id"])
            over = member.post("/v1/auth/api-keys", json={"label": "one more"}, headers=headers)
            assert over.status_code == 422
            assert over.json()["code"] == "api_key_limit"
        finally:
            for key_id in made:
                member.delete(f"/v1/auth/api-keys/{key_id}", headers=headers)
    target.assert_still_serving()


def test_no_plaintext_regulator_key_on_disk_and_databases_are_private(target: Target) -> None:
    data = target.data_dir
    stack_secrets = target.stack.secrets
    clear = stack_secrets.regulator_key.removeprefix("0x").lower()
    assert not list(data.rglob("regulator-key.hex"))
    for directory in (data / "secrets", data / "api", data / "regulator-api"):
        for path in directory.iterdir():
            if path.is_file() and path.stat().st_size < 1_000_000:
                assert clear not in path.read_bytes().decode(errors="replace").lower(), path
    # The keystore and the password that opens it are not kept together.
    keystore = stack_secrets.regulator_keystore
    password = stack_secrets.regulator_key_password
    for path in keystore.parent.iterdir():
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert password not in path.read_text(errors="replace"), path
    databases = [
        p for p in data.rglob("*") if p.is_file() and re.search(r"\.db(-wal|-shm)?$", p.name)
    ]
    names = {p.relative_to(data).as_posix() for p in databases}
    assert {"api/api.db", "regulator-api/api.db", "index/partner.db", "index/regulator.db"} <= names
    for path in databases:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
    for directory in (data, data / "secrets", data / "api", data / "regulator-api", data / "index"):
        assert directory.stat().st_mode & 0o077 == 0, directory
    target.assert_still_serving()


def _environment(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")


def test_no_stack_process_holds_a_secret_in_its_environment(target: Target) -> None:
    s = target.stack.secrets
    every = {
        "authority key": s.authority_key,
        "admin key": s.admin_key,
        "partner master key": s.master_key,
        "regulator master key": s.regulator_master_key,
        "relayer key": s.relayer_key,
        "regulator key": s.regulator_key,
        "keystore password": s.regulator_key_password,
        "regulator API token": s.regulator_api_token,
        **{f"member key of {slug}": key for slug, key in target.member_keys().items()},
    }
    # Every secret is read from a 0600 file by the process that uses it (the regulator
    # API's keystore password and staff token by MEDLEDGER_API_*_FILE).
    for name in target.stack.names():
        process = psutil.Process(target.stack.supervisor.pid(name))
        for proc in [process, *process.children(recursive=True)]:
            environment = _environment(proc.pid).lower()
            for what, value in every.items():
                assert value.removeprefix("0x").lower() not in environment, (name, proc.pid, what)
    environment = _environment(target.stack.supervisor.pid("regulator-api"))
    assert "MEDLEDGER_API_REGULATOR_API_TOKEN_FILE=" in environment
    target.assert_still_serving()
