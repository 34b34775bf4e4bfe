"""Idempotent POSTs: a request sent with an Idempotency-Key runs once per principal and key;
a retry gets the first answer again (`web.idempotency` is the HTTP side).

`begin` claims the key for a request (`Run`, holding a lease of
`settings.idempotency_lease_seconds`) or says what a retry gets instead: the first answer
(`Replay`), or a refusal (`KeyReused`: same key, another request; `InFlight`: the first
still runs; `AnswerNotKept`: the first answer was larger than the store keeps). `finish`
keeps an answer, `abandon` forgets the key so that a retry runs again (a 5xx, a crash).

Stored answers are sealed under the master key's `idempotency` sub-key (AES-256-GCM, the
principal and key as associated data): an answer may carry a secret shown once (a new
API key). They expire after `settings.idempotency_ttl_seconds` and are pruned.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass

from medledger.domain.custodial_keys import derive_key, master_key, seal, unseal
from medledger.domain.services import Component, Services
from medledger.domain.store import api_store
from medledger.indexer.store import idempotency as rows

__all__ = [
    "LAST_PRUNE",
    "Answer",
    "AnswerNotKept",
    "InFlight",
    "KeyReused",
    "Replay",
    "Run",
    "abandon",
    "begin",
    "finish",
]

PRUNE_EVERY_MS = 60_000


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as the ASGI app sent it: status, raw header pairs, body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def pack(self) -> bytes:
        head = {"status": self.status, "headers": [[n.hex(), v.hex()] for n, v in self.headers]}
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def unpack(cls, packed: bytes) -> Answer:
        head, _, body = packed.partition(b"\n")
        fields = json.loads(head)
        headers = [(bytes.fromhex(n), bytes.fromhex(v)) for n, v in fields["headers"]]
        return cls(int(fields["status"]), headers, body)


@dataclass(frozen=True, slots=True)
class Run:
    """The key is this request's: run it, then `finish` or `abandon`."""

    principal: str
    key: str
    owner: str


@dataclass(frozen=True, slots=True)
class Replay:
    answer: Answer


@dataclass(frozen=True, slots=True)
class KeyReused:
    pass


@dataclass(frozen=True, slots=True)
class InFlight:
    retry_after: int  # seconds until the first request's lease runs out


@dataclass(frozen=True, slots=True)
class AnswerNotKept:
    status: int


Outcome = Run | Replay | KeyReused | InFlight | AnswerNotKept

LAST_PRUNE: Component[list[int]] = Component("idempotency_last_prune")
_PRUNE_LOCK = threading.Lock()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _sealing_key(services: Services) -> bytes:
    return derive_key(master_key(services.settings), "idempotency")


def _aad(principal: str, key: str) -> bytes:
    return f"{principal}\n{key}".encode()


def begin(services: Services, *, principal: str, key: str, fingerprint: bytes) -> Outcome:
    """Claim `key` of `principal` for a request with `fingerprint`, or what a retry gets."""
    settings = services.settings
    engine = api_store(services).engine
    now = _now_ms()
    _prune_now_and_then(services, now)
    owner = os.urandom(16).hex()
    found = rows.claim(
        engine,
        principal=principal,
        key=key,
        fingerprint=fingerprint,
        owner=owner,
        now=now,
        lease_until=now + int(settings.idempotency_lease_seconds * 1000),
        expires_at=now + settings.idempotency_ttl_seconds * 1000,
    )
    if found is None:
        return Run(principal, key, owner)
    if found.fingerprint != fingerprint:
        return KeyReused()
    if found.status is None:
        return InFlight(max(1, -(-(found.lease_until - now) // 1000)))
    if found.answer is None or found.nonce is None:
        return AnswerNotKept(found.status)
    packed = unseal(_sealing_key(services), found.nonce, found.answer, aad=_aad(principal, key))
    return Replay(Answer.unpack(packed))


def finish(services: Services, run: Run, answer: Answer, *, keep_body: bool) -> None:
    """Keep `answer` as the answer to every retry (only its status when not `keep_body`)."""
    nonce: bytes | None = None
    sealed: bytes | None = None
    if keep_body:
        nonce, sealed = seal(
            _sealing_key(services), answer.pack(), aad=_aad(run.principal, run.key)
        )
    rows.complete(
        api_store(services).engine,
        principal=run.principal,
        key=run.key,
        owner=run.owner,
        status=answer.status,
        nonce=nonce,
        answer=sealed,
    )


def abandon(services: Services, run: Run) -> None:
    """Forget the key: the request failed on our side, a retry runs it again."""
    rows.drop(api_store(services).engine, principal=run.principal, key=run.key, owner=run.owner)


def _prune_now_and_then(services: Services, now: int) -> None:
    last = services.components.get(LAST_PRUNE, lambda: [0])
    with _PRUNE_LOCK:
        if now - last[0] < PRUNE_EVERY_MS:
            return
        last[0] = now
    rows.prune(api_store(services).engine, now=now)
