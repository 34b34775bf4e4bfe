"""Webhook subscriptions (issue #17): a member (or the regulator's deployment, owner
`REGULATOR_OWNER`) subscribes a URL to event kinds with a filter; the secret is shown once
(at creation and rotation) and kept sealed under the master key's `webhooks` sub-key.

Every use case takes the owner: another member's subscription is 404, as one that does
not exist. The URL must be https, or http to a loopback/private host when
`webhook_allow_private_http` is set; https to a loopback/private host needs that setting
too (no requests into the operator's own network), and no credentials, fragments or
oversized URLs.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import time
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from medledger.domain.api_examples import (
    SUBSCRIPTION_EXAMPLE,
    SUBSCRIPTION_IN_EXAMPLE,
    example,
)
from medledger.domain.custodial_keys import derive_key, master_key, seal, unseal
from medledger.domain.errors import Conflict, NotFound, Unprocessable
from medledger.domain.events import EventFilter, EventKind
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store import subscriptions as rows
from medledger.indexer.store.subscriptions import DeliveryRow, SubscriptionRow

__all__ = [
    "MAX_SUBSCRIPTIONS",
    "REGULATOR_OWNER",
    "CreatedOut",
    "SubscriptionIn",
    "SubscriptionOut",
    "check_url",
    "create",
    "delivery_states",
    "get",
    "listing",
    "remove",
    "replay",
    "rotate",
    "secret_key_ready",
    "seal_secret",
    "secret_of",
    "set_paused",
    "skip",
]

MAX_SUBSCRIPTIONS: Final = 20
MAX_URL: Final = 2048
REGULATOR_OWNER: Final = "regulator"
_SECRET_PREFIX: Final = "whsec_"


class SubscriptionIn(BaseModel):
    """A new subscription: where to POST, which event kinds (at least one), and a filter."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [SUBSCRIPTION_IN_EXAMPLE]}
    )

    url: str = Field(min_length=8, max_length=MAX_URL)
    kinds: tuple[EventKind, ...] = Field(min_length=1, max_length=len(EventKind))
    gtin: str | None = Field(default=None, pattern=r"^\d{14}$")
    lot: str | None = Field(default=None, min_length=1, max_length=20)
    counterparty: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    location: str | None = Field(default=None, pattern=r"^\d{13}$")

    def event_filter(self) -> EventFilter:
        return EventFilter(
            kinds=self.kinds,
            gtin=self.gtin,
            lot=self.lot,
            counterparty=self.counterparty,
            location=self.location,
        )


class SubscriptionOut(BaseModel):
    model_config = example(SUBSCRIPTION_EXAMPLE)

    id: str
    url: str
    kinds: list[str]
    filter: dict[str, Any]
    status: str
    cursor: int
    created_by: str
    created_at: int
    updated_at: int


class CreatedOut(SubscriptionOut):
    model_config = example({**SUBSCRIPTION_EXAMPLE, "secret": "whsec_" + "Zx81" * 8})

    secret: str  # shown once: at creation and rotation


def _out(row: SubscriptionRow) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        kinds=row.kinds,
        filter=row.filter,
        status=row.status,
        cursor=row.cursor,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _private(host: str) -> bool:
    """Whether `host` is, or resolves to, an address that is not global (loopback,
    private, link-local, reserved): the operator's own network."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        addresses = [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]
    return any(not a.is_global for a in addresses)


def check_url(url: str, *, allow_private_http: bool) -> str:
    """The URL if deliveries may go there, else a 422 naming what is wrong."""
    if len(url) > MAX_URL:
        raise Unprocessable("webhook_url_invalid", f"the URL is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise Unprocessable("webhook_url_invalid", f"scheme {parts.scheme!r}: use https")
    if parts.username is not None or parts.password is not None:
        raise Unprocessable("webhook_url_invalid", "the URL must not carry credentials")
    if parts.fragment or not parts.hostname:
        raise Unprocessable(
            "webhook_url_invalid", f"{url!r} is not a plain http(s) URL with a host"
        )
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise Unprocessable("webhook_url_invalid", f"bad port in {url!r}") from exc
    private = _private(parts.hostname)
    if private and not allow_private_http:
        raise Unprocessable(
            "webhook_url_private", f"{parts.hostname} is a loopback or private address"
        )
    if parts.scheme == "http" and not private:
        raise Unprocessable("webhook_url_invalid", "plain http only to a loopback or private host")
    return url


def _secret_key(services: Services) -> bytes:
    return derive_key(master_key(services.settings), "webhooks")


def secret_key_ready(services: Services) -> None:
    """NotConfigured (503) unless secrets can be sealed: no master key, no webhooks."""
    _secret_key(services)


def seal_secret(services: Services, sub_id: str, secret: str) -> tuple[bytes, bytes]:
    """`secret` sealed for the subscription `sub_id` (its id is the AAD)."""
    return _seal(services, sub_id, secret)


def _seal(services: Services, sub_id: str, secret: str) -> tuple[bytes, bytes]:
    return seal(_secret_key(services), secret.encode(), aad=sub_id.encode())


def secret_of(services: Services, row: SubscriptionRow) -> str:
    """The subscription's signing secret, unsealed (the delivery worker's)."""
    key = _secret_key(services)
    return unseal(key, row.secret_nonce, row.secret_ciphertext, aad=row.id.encode()).decode()


def _new_secret() -> str:
    return _SECRET_PREFIX + secrets.token_hex(32)


def create(
    services: Services, *, owner: str, created_by: str, body: SubscriptionIn, cursor: int
) -> CreatedOut:
    """A new active subscription delivering events after seq `cursor`."""
    check_url(body.url, allow_private_http=services.settings.webhook_allow_private_http)
    sub_id = "sub_" + os.urandom(12).hex()
    secret = _new_secret()
    nonce, sealed = _seal(services, sub_id, secret)
    flt = body.event_filter().model_dump(exclude={"kinds"}, exclude_none=True)
    now = int(time.time())
    row = SubscriptionRow(
        sub_id,
        owner,
        created_by[:120],
        "events",
        [str(k) for k in body.kinds],
        flt,
        body.url,
        nonce,
        sealed,
        "active",
        cursor,
        now,
        now,
    )
    if not rows.add_subscription(api_store(services).engine, row, limit=MAX_SUBSCRIPTIONS):
        raise Conflict(
            "subscription_limit", f"at most {MAX_SUBSCRIPTIONS} subscriptions per member"
        )
    return CreatedOut(**_out(row).model_dump(), secret=secret)


def _own(services: Services, owner: str, sub_id: str) -> SubscriptionRow:
    row = rows.get_subscription(api_store(services).engine, sub_id, owner=owner)
    if row is None:
        raise NotFound("subscription_not_found", f"no subscription {sub_id}")
    return row


def get(services: Services, *, owner: str, sub_id: str) -> SubscriptionOut:
    return _out(_own(services, owner, sub_id))


def listing(services: Services, *, owner: str) -> list[SubscriptionOut]:
    return [_out(r) for r in rows.list_subscriptions(api_store(services).engine, owner)]


def set_paused(services: Services, *, owner: str, sub_id: str, paused: bool) -> SubscriptionOut:
    """Pause, or resume (a suspended subscription resumes only by replay or skip)."""
    row = _own(services, owner, sub_id)
    if not paused and row.status == "suspended":
        raise Conflict(
            "subscription_suspended",
            "a dead-lettered delivery holds this subscription: replay or skip it",
        )
    rows.set_status(
        api_store(services).engine, sub_id, "paused" if paused else "active", now=int(time.time())
    )
    return _out(_own(services, owner, sub_id))


def remove(services: Services, *, owner: str, sub_id: str) -> None:
    _own(services, owner, sub_id)
    rows.remove_subscription(api_store(services).engine, sub_id)


def rotate(services: Services, *, owner: str, sub_id: str) -> CreatedOut:
    """A new secret, effective for the next delivery; the old one stops at once."""
    row = _own(services, owner, sub_id)
    secret = _new_secret()
    nonce, sealed = _seal(services, sub_id, secret)
    rows.set_secret(api_store(services).engine, sub_id, nonce, sealed, now=int(time.time()))
    return CreatedOut(**_out(row).model_dump(), secret=secret)


def delivery_states(
    services: Services, *, owner: str, sub_id: str, state: str | None, limit: int
) -> list[DeliveryRow]:
    _own(services, owner, sub_id)
    return rows.deliveries_of(api_store(services).engine, sub_id, state=state, limit=limit)


def replay(services: Services, *, owner: str, sub_id: str, seq: int) -> SubscriptionOut:
    """Send a dead-lettered delivery again from its first attempt; the subscription
    resumes."""
    _own(services, owner, sub_id)
    if not rows.replay(api_store(services).engine, sub_id, seq, now=int(time.time())):
        raise NotFound("delivery_not_dead", f"no dead-lettered delivery {seq} of {sub_id}")
    return _out(_own(services, owner, sub_id))


def skip(services: Services, *, owner: str, sub_id: str, seq: int) -> SubscriptionOut:
    """Give up a dead-lettered delivery on purpose (audited by the route's trail); the
    cursor passes it and the subscription resumes."""
    _own(services, owner, sub_id)
    if not rows.skip(api_store(services).engine, sub_id, seq, now=int(time.time())):
        raise NotFound("delivery_not_dead", f"no dead-lettered delivery {seq} of {sub_id}")
    return _out(_own(services, owner, sub_id))
