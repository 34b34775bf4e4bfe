"""Hostile traffic for the chaos soak: the payloads of issue 13, in bounded amounts, at the
partner API, the regulator API and the sequencer's and follower's JSON-RPC, alongside the
honest traffic of `ops.simulate`.

`Hostile.run` cycles through `PAYLOADS` (shuffled each round) in one thread and through the
connection payloads (`CONNECTION_PAYLOADS`: raw sockets held open) in another, each sending
a handful of requests per turn:

    bracket_bomb       [ x 100,000 + ] x 100,000 to /v1/verify (both APIs) and both RPCs
    oversized_body     64 MB declared to /v1/verify and the RPCs; 3 MB streamed (chunked)
                       to the document upload with no credentials
    huge_batch         10,000 calls in one JSON-RPC batch
    fee_history        eth_feeHistory with 300,000 percentiles
    looping_call       eth_call of init code that jumps back for ever
    bad_raw_tx         raw transactions of type 0x7f, with a list for a nonce, truncated
    cross_origin       a JSON-RPC POST as text/plain (a browser's "simple request")
    far_scans          anonymous scans of a genuine unit from far-away countries, then a
                       member's scan from Shanghai: `poisoned` counts a `two_places` verdict
    bad_sensor         EPCIS receipts with temperatures 1e308, NaN, 4000, -5000
    bad_code           `http://x]/` as a code, a Digital Link and an EPCIS MATCH_epc
    invalid_api_key    verification with made-up API keys
    offset_overflow    ?offset=99999999999999999999 on shipments and documents
    sign_in_guess      API sign-ins signed by a stranger, portal sign-ins with a bad password
    nul_path           a NUL byte in a static path
    content_length_minus_one   `Content-Length: -1` on a POST to every listener
    half_open          connections that send half a request head and wait

API requests come through the trusted-proxy header (X-Forwarded-For, from 127.0.0.1) as
clients in TEST-NET address ranges, so their rate budgets are theirs, not the honest
traffic's. Every answer is counted by class (`HostileStats`): `2xx`, `3xx`, `4xx`, `5xx`;
`unavailable` (a 503 saying the ledger or every connection is busy: the soak's SIGKILLs,
not the input, caused it); `closed` (a raw connection closed without an answer), `held` (no
answer and not closed in time), `conn` (no connection: the process is down), `error` (the
generator itself failed; a bug here). A JSON-RPC answer is `5xx` if it holds the internal
error -32603, `4xx` if it holds another error, else `2xx`. Request bodies are built once,
so the generator costs the soak's own process little.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from medledger.ops.demo.seed import ORGANISATIONS, load_seed

__all__ = ["CONNECTION_PAYLOADS", "PAYLOADS", "Hostile", "HostileStats", "HostileTargets"]

PAYLOADS = (
    "bracket_bomb", "oversized_body", "huge_batch", "fee_history", "looping_call",
    "bad_raw_tx", "cross_origin", "far_scans", "bad_sensor", "bad_code", "invalid_api_key",
    "offset_overflow", "sign_in_guess", "nul_path",
)  # fmt: skip
CONNECTION_PAYLOADS = ("content_length_minus_one", "half_open")

BOMB = b"[" * 100_000 + b"]" * 100_000
BAD_CODE = "http://x]/"
FAR_AWAY = ("US", "BR", "AU", "ZA", "AQ")
SENSOR_VALUES: tuple[Any, ...] = (1e308, float("nan"), 4000, -5000)
HALF_OPEN = 16  # connections per listener per turn
HOLD_SECONDS = 15.0  # how long a half-open connection waits for the server to close it
ANSWER_SECONDS = 8.0  # how long a raw request waits for its status line
LOOP_INIT_CODE = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: a contract creation that never ends
STRANGER = Account.from_key("0x" + "5a" * 32)
UNAVAILABLE = ("chain_unavailable", '"busy"')  # a 503 naming one is load, not the input


@dataclass(frozen=True, slots=True)
class HostileTargets:
    api: str
    regulator_api: str
    rpc: str
    follower_rpc: str
    data_dir: Path  # the stack's: member keys (secrets/members.json) and the seed


@dataclass
class HostileStats:
    requests: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_payload: dict[str, Counter[str]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)  # the first few 5xx, described
    poisoned: int = 0  # member scans a hostile anonymous scan turned `two_places`
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each payload
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, payload: str, target: str, klass: str, detail: str = "") -> None:
        with self._lock:
            self.requests += 1
            self.by_class[klass] += 1
            self.by_payload.setdefault(payload, Counter())[klass] += 1
            if klass == "5xx" and len(self.server_errors) < 20:
                self.server_errors.append(f"{payload} -> {target}: {detail[:300]}")

    def count_poisoned(self) -> None:
        with self._lock:
            self.poisoned += 1

    def figures(self) -> dict[str, Any]:
        return {
            "hostile_requests": self.requests,
            "hostile_5xx": self.by_class["5xx"],
            "hostile_held": self.by_class["held"],
            "hostile_poisoned": self.poisoned,
            "hostile_by_class": dict(self.by_class),
            "hostile_by_payload": {p: dict(c) for p, c in sorted(self.by_payload.items())},
        }


def _class(status: int, body: str = "") -> str:
    if status == 503 and any(code in body for code in UNAVAILABLE):
        return "unavailable"
    return f"{status // 100}xx"


def _rpc_class(response: httpx.Response) -> tuple[str, str]:
    """The class of a JSON-RPC answer, and what to say of a 5xx."""
    if response.status_code != 200:
        return _class(response.status_code, response.text), response.text
    try:
        answer = json.loads(response.content or b"null")
    except ValueError:
        return "5xx", f"not JSON: {response.text}"
    answers = answer if isinstance(answer, list) else [answer]
    errors = [a.get("error") for a in answers if isinstance(a, dict) and a.get("error")]
    internal = [e for e in errors if isinstance(e, dict) and e.get("code") == -32603]
    if internal:
        return "5xx", json.dumps(internal[0])
    return ("4xx" if errors else "2xx"), ""


class Hostile:
    """The hostile clients of one stack; `run` until `stop` is set."""

    def __init__(
        self, targets: HostileTargets, *, check_key: str | None = None, seed: int | None = None
    ) -> None:
        self.targets = targets
        self.check_key = check_key  # a member's API key, for the scan after far-away ones
        self.stats = HostileStats()
        self.rng = random.Random(seed)
        self.http = httpx.Client(timeout=30)
        keys: dict[str, str] = json.loads((targets.data_dir / "secrets/members.json").read_text())
        roles = {o.slug: o.role.name.lower() for o in ORGANISATIONS}
        self.slug = min(s for s in keys if roles.get(s) not in (None, "regulator"))
        self.member = Account.from_key(keys[self.slug])
        seed_result = load_seed(targets.data_dir)
        sample = seed_result.sample_path if seed_result is not None else "/01/09506000134352/21/X"
        self.genuine = "https://id.example.com" + sample
        self._token: str | None = None
        self._addresses = itertools.count()
        self._stop = threading.Event()
        _bodies()  # built now, not in the middle of the soak

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ running

    def run(self, stop: threading.Event, *, pause: float = 0.3) -> HostileStats:
        """Send every payload in turn, `pause` seconds apart, until `stop` is set."""
        self._stop = stop
        workers = [
            threading.Thread(target=self._cycle, args=(PAYLOADS, stop, pause), daemon=True),
            threading.Thread(
                target=self._cycle, args=(CONNECTION_PAYLOADS, stop, pause), daemon=True
            ),
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return self.stats

    def _cycle(self, payloads: tuple[str, ...], stop: threading.Event, pause: float) -> None:
        rng = random.Random(self.rng.random())
        while not stop.is_set():
            order = list(payloads)
            rng.shuffle(order)
            for name in order:
                if stop.wait(pause):
                    return
                started = time.monotonic()
                try:
                    getattr(self, name)()
                except Exception as exc:  # a payload's own failure must not end the run
                    self.stats.count(name, "hostile", "error", f"{type(exc).__name__}: {exc}")
                spent = time.monotonic() - started
                self.stats.seconds[name] = self.stats.seconds.get(name, 0.0) + spent

    # ------------------------------------------------------------------ sending

    def _client_ip(self) -> str:
        return f"203.0.113.{next(self._addresses) % 250 + 1}"

    def _api(self, payload: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        headers = {"X-Forwarded-For": self._client_ip(), **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            self.stats.count(payload, url, "conn", str(exc))
            return None
        self.stats.count(payload, url, _class(response.status_code, response.text), response.text)
        return response

    def _rpc(
        self, payload: str, url: str, body: bytes, content_type: str = "application/json"
    ) -> None:
        try:
            response = self.http.post(url, content=body, headers={"Content-Type": content_type})
        except httpx.TransportError as exc:
            self.stats.count(payload, url, "conn", str(exc))
            return
        klass, detail = _rpc_class(response)
        self.stats.count(payload, url, klass, detail)

    def _raw(self, payload: str, url: str, head: bytes, body: bytes = b"") -> None:
        """Send `head` and `body` over a fresh socket; count the status line's class."""
        parts = urlsplit(url)
        try:
            sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=5)
        except OSError as exc:
            self.stats.count(payload, url, "conn", str(exc))
            return
        with sock:
            try:
                sock.sendall(head + body)
                sock.settimeout(ANSWER_SECONDS)
                line = sock.recv(64)
            except TimeoutError:
                self.stats.count(payload, url, "held", "no answer")
                return
            except OSError as exc:
                self.stats.count(payload, url, "closed", str(exc))
                return
        fields = line.split(b" ", 2)
        if len(fields) >= 2 and fields[1].isdigit():
            self.stats.count(payload, url, _class(int(fields[1])), line.decode("latin-1"))
        else:
            self.stats.count(payload, url, "closed", repr(line))

    def _listeners(self) -> Iterator[tuple[str, str]]:
        """(url, path to POST to) of every listener."""
        t = self.targets
        yield from ((t.api, "/v1/verify"), (t.regulator_api, "/v1/verify"),
                    (t.rpc, "/"), (t.follower_rpc, "/"))  # fmt: skip

    def _signed_in(self) -> dict[str, str]:
        """Bearer headers of a member (signed in again when refused); none while the API
        cannot sign it in (the request is then refused as anonymous)."""
        if self._token is None:
            self._token = self._sign_in()
        return {} if self._token is None else {"Authorization": f"Bearer {self._token}"}

    def _sign_in(self) -> str | None:
        """The member's token, from an address of its own (198.51.100.7); None if the API
        is down or refuses."""
        api, ip = self.targets.api, {"X-Forwarded-For": "198.51.100.7"}
        try:
            challenge = self.http.post(
                api + "/v1/auth/challenge", json={"address": self.member.address}, headers=ip
            )
            if challenge.status_code != 200:
                return None
            message = challenge.json()["message"]
            signed = {"message": message, "signature": _signature(self.member, message)}
            token = self.http.post(api + "/v1/auth/token", json=signed, headers=ip)
        except httpx.TransportError:
            return None
        return str(token.json()["access_token"]) if token.status_code == 200 else None

    def _as_member(self, payload: str, method: str, url: str, **kwargs: Any) -> None:
        headers = {**self._signed_in(), **kwargs.pop("headers", {})}
        response = self._api(payload, method, url, headers=headers, **kwargs)
        if response is not None and response.status_code == 401:
            self._token = None  # the API lost its key or the token ran out: sign in again

    # ------------------------------------------------------------------ payloads

    def bracket_bomb(self) -> None:
        t = self.targets
        for url in (t.api, t.regulator_api):
            self._api("bracket_bomb", "POST", url + "/v1/verify", content=BOMB,
                      headers={"Content-Type": "application/json"})  # fmt: skip
        for url in (t.rpc, t.follower_rpc):
            self._rpc("bracket_bomb", url, BOMB)

    def oversized_body(self) -> None:
        for url, path in self._listeners():
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {64 * 1024 * 1024}\r\n\r\n").encode()  # fmt: skip
            self._raw("oversized_body", url, head, b"[" + b"0," * 32_000)

        def chunks() -> Iterator[bytes]:
            for _ in range(48):
                yield b"A" * 65_536

        self._api("oversized_body", "POST", self.targets.api + "/v1/partner/documents/upload",
                  content=chunks(),
                  headers={"Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip

    def huge_batch(self) -> None:
        for url in (self.targets.rpc, self.targets.follower_rpc):
            self._rpc("huge_batch", url, _bodies()["huge_batch"][0])

    def fee_history(self) -> None:
        for url in (self.targets.rpc, self.targets.follower_rpc):
            self._rpc("fee_history", url, _bodies()["fee_history"][0])

    def looping_call(self) -> None:
        url = self.rng.choice([self.targets.rpc, self.targets.follower_rpc])
        self._rpc("looping_call", url, _bodies()["looping_call"][0])

    def bad_raw_tx(self) -> None:
        for body in _bodies()["bad_raw_tx"]:
            self._rpc("bad_raw_tx", self.targets.rpc, body)

    def cross_origin(self) -> None:
        for url in (self.targets.rpc, self.targets.follower_rpc):
            self._rpc("cross_origin", url, _call("eth_blockNumber"), content_type="text/plain")

    def far_scans(self) -> None:
        scan = f"{self.targets.api}/v1/verify?code={quote(self.genuine, safe='')}&country="
        for country in FAR_AWAY:
            self._api("far_scans", "GET", scan + country)
        if self.check_key is None:
            return
        check = self._api("far_scans", "GET", scan + "CN&region=31",
                          headers={"X-API-Key": self.check_key})  # fmt: skip
        if check is not None and check.status_code == 200:
            reasons = [r.get("code") for r in check.json().get("reasons", [])]
            if "two_places" in reasons:
                self.stats.count_poisoned()

    def bad_sensor(self) -> None:
        for value in SENSOR_VALUES:
            report = {"type": "gs1:Temperature", "value": value, "uom": "CEL"}
            event = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving",
                     "epcList": [self.genuine], "eventTime": "2026-01-05T10:00:00.000Z",
                     "eventTimeZoneOffset": "+08:00",
                     "sensorElementList": [{"sensorReport": [report]}]}  # fmt: skip
            document = {
                "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2026-01-05T10:00:00.000Z", "epcisBody": {"eventList": [event]},
            }  # fmt: skip
            self._as_member("bad_sensor", "POST", self.targets.api + "/v1/epcis/capture",
                            content=json.dumps(document).encode(),  # NaN goes out as NaN
                            headers={"Content-Type": "application/json"})  # fmt: skip

    def bad_code(self) -> None:
        t, code = self.targets, quote(BAD_CODE, safe="")
        self._api("bad_code", "GET", f"{t.api}/v1/verify?code={code}")
        self._api("bad_code", "POST", f"{t.api}/v1/verify", json={"code": BAD_CODE})
        self._api("bad_code", "GET", f"{t.regulator_api}/v1/verify?code={code}")
        self._api("bad_code", "GET", f"{t.api}/01/09506000134352/21/{quote(BAD_CODE, safe='')}")
        self._as_member("bad_code", "GET", f"{t.api}/v1/epcis/events?MATCH_epc={code}")

    def invalid_api_key(self) -> None:
        code = quote(self.genuine, safe="")
        for url in (self.targets.api, self.targets.regulator_api):
            for key in ("mlk_0000000000000000_guess", "not-a-key", "mlk_" + "a" * 300):
                self._api("invalid_api_key", "GET", f"{url}/v1/verify?code={code}",
                          headers={"X-API-Key": key})  # fmt: skip

    def offset_overflow(self) -> None:
        for path in ("/v1/partner/shipments", "/v1/partner/documents"):
            self._as_member("offset_overflow", "GET",
                            f"{self.targets.api}{path}?offset=99999999999999999999")  # fmt: skip

    def sign_in_guess(self) -> None:
        api = self.targets.api
        challenge = self._api("sign_in_guess", "POST", api + "/v1/auth/challenge",
                              json={"address": self.member.address})  # fmt: skip
        if challenge is not None and challenge.status_code == 200:
            message = challenge.json()["message"]
            guessed = {"message": message, "signature": _signature(STRANGER, message)}
            self._api("sign_in_guess", "POST", api + "/v1/auth/token", json=guessed)
        with httpx.Client(base_url=api, timeout=30,
                          headers={"X-Forwarded-For": self._client_ip()}) as browser:  # fmt: skip
            try:
                form = browser.get("/portal/sign-in")
                token = form.text.split('name="csrf_token" value="', 1)[-1].split('"', 1)[0]
                answer = browser.post("/portal/sign-in", data={
                    "username": self.slug, "password": f"guess-{self.rng.random()}",
                    "csrf_token": token})  # fmt: skip
            except httpx.TransportError as exc:
                self.stats.count("sign_in_guess", api + "/portal/sign-in", "conn", str(exc))
                return
            self.stats.count("sign_in_guess", api + "/portal/sign-in",
                             _class(answer.status_code), answer.text)  # fmt: skip

    def nul_path(self) -> None:
        for url in (self.targets.api, self.targets.regulator_api):
            self._api("nul_path", "GET", url + "/static/%00style.css")

    def content_length_minus_one(self) -> None:
        for url, path in self._listeners():
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: -1\r\n\r\n").encode()  # fmt: skip
            self._raw("content_length_minus_one", url, head, b'{"code": "x"}')

    def half_open(self) -> None:
        """HALF_OPEN connections per listener, each sending half a request head; counted
        `closed` when the server closes it within HOLD_SECONDS, else `held`."""
        held: list[tuple[str, socket.socket]] = []
        for url, path in self._listeners():
            parts = urlsplit(url)
            for _ in range(HALF_OPEN):
                try:
                    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=5)
                    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Ty".encode())
                except OSError as exc:
                    self.stats.count("half_open", url, "conn", str(exc))
                    continue
                sock.setblocking(False)
                held.append((url, sock))
        deadline = time.monotonic() + HOLD_SECONDS
        while held and time.monotonic() < deadline:
            if self._stop.wait(0.25):  # the soak is over: these are not judged
                for _, sock in held:
                    sock.close()
                return
            for url, sock in list(held):
                if _closed_by_peer(sock):
                    self.stats.count("half_open", url, "closed")
                    held.remove((url, sock))
                    sock.close()
        for url, sock in held:
            self.stats.count("half_open", url, "held", "still open")
            sock.close()


def _signature(signer: Any, message: str) -> str:
    """`signer`'s personal signature of `message` (EIP-191), as sign-in takes it."""
    return "0x" + str(signer.sign_message(encode_defunct(text=message)).signature.hex())


def _call(method: str, *params: Any) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    ).encode()


@functools.cache
def _bodies() -> dict[str, list[bytes]]:
    """The large and signed JSON-RPC bodies, built once per process."""
    fields = {"chainId": 1337, "nonce": 0, "gas": 90_000, "gasPrice": 0,
              "to": STRANGER.address, "value": 0, "data": b""}  # fmt: skip
    raw = bytes(STRANGER.sign_transaction(fields).raw_transaction)
    percentiles = [round(i / 3_000, 4) for i in range(300_000)]
    return {
        "huge_batch": [b"[" + b",".join([_call("eth_blockNumber")] * 10_000) + b"]"],
        "fee_history": [_call("eth_feeHistory", "0x400", "latest", percentiles)],
        "looping_call": [_call("eth_call", {"data": LOOP_INIT_CODE}, "latest")],
        "bad_raw_tx": [
            _call("eth_sendRawTransaction", "0x" + bad.hex())
            for bad in (b"\x7f" + raw, raw[: len(raw) // 2], b"\xc0", b"\x02" + raw)
        ],
    }


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server closed the connection or answered (a 408, say) on it."""
    try:
        sock.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True
