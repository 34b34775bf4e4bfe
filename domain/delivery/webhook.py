"""One webhook request: the signed POST and what came back.

Headers: `MedLedger-Event-Id` (the event's stable id: receivers dedupe on it),
`MedLedger-Timestamp` (unix seconds) and `MedLedger-Signature: t=<unix>,v1=<hex>` where
the hex is HMAC-SHA256 keyed with the subscription's secret over `f"{t}.{raw body}"`. A
receiver recomputes it and refuses a timestamp more than `REPLAY_WINDOW` seconds off.

Every request has a 3 s connect and a 10 s total timeout, follows no redirect, and reads
at most `MAX_RESPONSE` bytes of the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Final

import httpx

__all__ = [
    "MAX_RESPONSE",
    "REPLAY_WINDOW",
    "Outcome",
    "post",
    "sign",
    "signature_header",
    "verify",
]

REPLAY_WINDOW: Final = 300
MAX_RESPONSE: Final = 4096
TIMEOUT: Final = httpx.Timeout(10.0, connect=3.0)
USER_AGENT: Final = "MedLedger-Webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 signature: hex HMAC-SHA256(secret, f"{timestamp}.{body}")."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int | None = None) -> bool:
    """What a receiver does (the README's verifier): parse, check the window, compare."""
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((int(time.time()) if now is None else now) - timestamp) > REPLAY_WINDOW:
        return False
    return hmac.compare_digest(fields.get("v1", ""), sign(secret, timestamp, body))


@dataclass(frozen=True, slots=True)
class Outcome:
    """A 2xx (`ok`), or the status (None: no answer) and a short error."""

    ok: bool
    status: int | None
    error: str


def post(client: httpx.Client, url: str, *, event_id: str, secret: str, body: bytes) -> Outcome:
    """POST one signed event; never raises for the receiver's faults."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "MedLedger-Event-Id": event_id,
        "MedLedger-Timestamp": str(timestamp),
        "MedLedger-Signature": signature_header(secret, timestamp, body),
    }
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE:
                    break
            status = response.status_code
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return Outcome(True, status, "")
    return Outcome(False, status, f"HTTP {status}")


def client() -> httpx.Client:
    """The worker's client: timeouts, no redirects, no environment proxies."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
