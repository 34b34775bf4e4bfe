"""Webhook subscriptions and the event stream, the HTTP face of `domain.subscriptions` and
`domain.events`: a member at `/v1/partner/subscriptions` (its own only: another's is 404),
the regulator's staff at `/v1/regulator/subscriptions` (regulator mode; every event).
`GET /v1/partner/events` reads the same stream by polling.

The router's lifespan runs the delivery worker (`domain.delivery.worker`) in the API
process when `webhook_delivery` is on and a master key is configured.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel

from medledger.api.routes.epcis_query_runner import EpcisQueryRunner
from medledger.domain import subscriptions as subs
from medledger.domain.api_examples import (
    DELIVERY_EXAMPLE,
    EVENT_EXAMPLE,
    SUBSCRIPTION_EXAMPLE,
    example,
)
from medledger.domain.delivery.worker import DeliveryWorker, ping
from medledger.domain.errors import NotConfigured
from medledger.domain.events import (
    MAX_EVENTS,
    EventFilter,
    EventKind,
    event_json,
    event_names,
    read_events,
)
from medledger.domain.partner_schemas import PROBLEMS
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries.events import last_seq
from medledger.indexer.store.subscriptions import DeliveryRow, get_subscription
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorOnly

__all__ = ["events_router", "partner_router", "regulator_router"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = getattr(app.state, "services", None)
    worker = None
    if isinstance(services, Services) and services.settings.webhook_delivery:
        try:
            subs.secret_key_ready(services)
            runner = EpcisQueryRunner(services)  # EPCIS query subscriptions' query
            worker = DeliveryWorker(services, query_runner=runner).start()
        except NotConfigured as exc:
            log.warning("webhook delivery is off: %s", exc)
    try:
        yield
    finally:
        if worker is not None:
            worker.close()


SubId = Annotated[str, Path(min_length=5, max_length=32, pattern=r"^sub_[0-9a-f]+$")]
Seq = Annotated[int, Path(ge=1, le=2**62)]


class Owner(BaseModel):
    owner: str
    actor: str


def _member_owner(member: CurrentMember) -> Owner:
    return Owner(owner=member.address, actor=f"{member.method}:{member.address}")


def _regulator_owner(request: Request) -> Owner:
    actor = getattr(request.state, "audit_actor", ("regulator", "", None))[0]
    return Owner(owner=subs.REGULATOR_OWNER, actor=str(actor))


class SubscriptionsOut(BaseModel):
    model_config = example({"subscriptions": [SUBSCRIPTION_EXAMPLE]})

    subscriptions: list[subs.SubscriptionOut]


class DeliveryOut(BaseModel):
    model_config = example(DELIVERY_EXAMPLE)

    seq: int
    attempts: int
    state: str
    last_status: int | None
    last_error: str | None
    next_attempt_at: int  # unix milliseconds (pending deliveries)
    updated_at: int


class DeliveriesOut(BaseModel):
    model_config = example({"deliveries": [DELIVERY_EXAMPLE]})

    deliveries: list[DeliveryOut]


class PingOut(BaseModel):
    model_config = example({"ok": True, "status": 204, "error": ""})

    ok: bool
    status: int | None
    error: str


def _deliveries(found: list[DeliveryRow]) -> DeliveriesOut:
    return DeliveriesOut(
        deliveries=[
            DeliveryOut(
                seq=d.seq,
                attempts=d.attempts,
                state=d.state,
                last_status=d.last_status,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at,
                updated_at=d.updated_at,
            )
            for d in found
        ]
    )


def _install(router: APIRouter, owner_of: Callable[..., Owner]) -> None:
    """The same routes for a member's and the regulator's subscriptions."""
    dep = Depends(owner_of)  # a local alias would not resolve under postponed annotations

    @router.post("", status_code=201, response_model=subs.CreatedOut)
    def create(
        body: subs.SubscriptionIn, *, who: Owner = dep, services: ServicesDep
    ) -> subs.CreatedOut:
        """Subscribe a URL to event kinds from now on; the secret is shown only here."""
        with services.engine.connect() as conn:
            cursor = last_seq(conn)
        return subs.create(
            services, owner=who.owner, created_by=who.actor, body=body, cursor=cursor
        )

    @router.get("", response_model=SubscriptionsOut)
    def listing(*, who: Owner = dep, services: ServicesDep) -> SubscriptionsOut:
        return SubscriptionsOut(subscriptions=subs.listing(services, owner=who.owner))

    @router.get("/{sub_id}", response_model=subs.SubscriptionOut)
    def one(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> subs.SubscriptionOut:
        return subs.get(services, owner=who.owner, sub_id=sub_id)

    @router.post("/{sub_id}/pause", response_model=subs.SubscriptionOut)
    def pause(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> subs.SubscriptionOut:
        return subs.set_paused(services, owner=who.owner, sub_id=sub_id, paused=True)

    @router.post("/{sub_id}/resume", response_model=subs.SubscriptionOut)
    def resume(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> subs.SubscriptionOut:
        return subs.set_paused(services, owner=who.owner, sub_id=sub_id, paused=False)

    @router.delete("/{sub_id}", status_code=204)
    def remove(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> Response:
        subs.remove(services, owner=who.owner, sub_id=sub_id)
        return Response(status_code=204)

    @router.post("/{sub_id}/rotate-secret", response_model=subs.CreatedOut)
    def rotate(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> subs.CreatedOut:
        """A new secret, shown only here; the old one stops signing at once."""
        return subs.rotate(services, owner=who.owner, sub_id=sub_id)

    @router.get("/{sub_id}/deliveries", response_model=DeliveriesOut)
    def deliveries(
        sub_id: SubId,
        *,
        who: Owner = dep,
        services: ServicesDep,
        state: Annotated[str | None, Query(pattern=r"^(pending|delivered|dead|skipped)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> DeliveriesOut:
        """Newest first."""
        found = subs.delivery_states(
            services, owner=who.owner, sub_id=sub_id, state=state, limit=limit
        )
        return _deliveries(found)

    @router.get("/{sub_id}/dead-letters", response_model=DeliveriesOut)
    def dead_letters(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> DeliveriesOut:
        found = subs.delivery_states(
            services, owner=who.owner, sub_id=sub_id, state="dead", limit=100
        )
        return _deliveries(found)

    @router.post("/{sub_id}/deliveries/{seq}/replay", response_model=subs.SubscriptionOut)
    def replay(
        sub_id: SubId, seq: Seq, *, who: Owner = dep, services: ServicesDep
    ) -> subs.SubscriptionOut:
        """Send a dead-lettered event again (attempts from zero); the subscription resumes."""
        return subs.replay(services, owner=who.owner, sub_id=sub_id, seq=seq)

    @router.post("/{sub_id}/deliveries/{seq}/skip", response_model=subs.SubscriptionOut)
    def skip(
        sub_id: SubId, seq: Seq, *, who: Owner = dep, services: ServicesDep
    ) -> subs.SubscriptionOut:
        """Give a dead-lettered event up on purpose (recorded in the audit trail)."""
        return subs.skip(services, owner=who.owner, sub_id=sub_id, seq=seq)

    @router.post("/{sub_id}/ping", response_model=PingOut)
    def test_ping(sub_id: SubId, *, who: Owner = dep, services: ServicesDep) -> PingOut:
        """Send a signed `{"type": "ping"}` now and say what the receiver answered."""
        subs.get(services, owner=who.owner, sub_id=sub_id)
        row = get_subscription(api_store(services).engine, sub_id, owner=who.owner)
        assert row is not None
        outcome = ping(services, row)
        return PingOut(ok=outcome.ok, status=outcome.status, error=outcome.error)


partner_router = APIRouter(
    prefix="/v1/partner/subscriptions", tags=["partner"], responses=PROBLEMS, lifespan=_lifespan
)
regulator_router = APIRouter(
    prefix="/v1/regulator/subscriptions", tags=["regulator"], dependencies=[RegulatorOnly]
)
_install(partner_router, _member_owner)
_install(regulator_router, _regulator_owner)

events_router = APIRouter(prefix="/v1/partner/events", tags=["partner"], responses=PROBLEMS)


class EventsOut(BaseModel):
    model_config = example({"events": [EVENT_EXAMPLE], "next_after": 1843})

    events: list[dict[str, Any]]
    next_after: int


@events_router.get("", response_model=EventsOut)
def events(
    member: CurrentMember,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    kinds: Annotated[list[EventKind] | None, Query(max_length=len(EventKind))] = None,
    gtin: Annotated[str | None, Query(pattern=r"^\d{14}$")] = None,
    lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> EventsOut:
    """The member's events after seq `after`, oldest first (the regulator member: all)."""
    flt = EventFilter(kinds=tuple(kinds or ()), gtin=gtin, lot=lot)
    with services.engine.connect() as conn:
        found = read_events(
            conn,
            chain_id=services.deployment.chain_id,
            member=member,
            after=after,
            filter=flt,
            limit=limit,
        )
        names = event_names(conn, found)
    return EventsOut(
        events=[event_json(e, names) for e in found],
        next_after=found[-1].seq if found else after,
    )
