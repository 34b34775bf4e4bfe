"""The FastAPI application: `create_app(services)` wires settings, routes and errors.

Middleware, outermost first: the security headers (`api.security_headers`), the request
metrics, the guard that keeps request bodies within bounds and behind credentials
(`api.http_guard`; the gates of `api.gates`, and the portal's, say which credentials), the
audit trail of every write (`web.audit_trail`) and the Idempotency-Key of POSTs
(`web.idempotency`, whose dependency every route solves first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from medledger.api.epcis.document import MAX_BYTES as MAX_EPCIS_DOCUMENT_BYTES
from medledger.api.routes import (
    adverse_events,
    auth,
    devices,
    documents,
    epcis,
    epcis_queries,
    exports,
    imports,
    items,
    oversight_records,
    recalls,
    regulator,
    sites,
    subscriptions,
    trace,
    unit_records,
    verify,
)
from medledger.domain.bulk_import.files import MAX_FILE_BYTES as MAX_IMPORT_BYTES
from medledger.domain.delivery.amqp_stream import start_amqp_publishing
from medledger.domain.document_upload import MAX_DOCUMENT_BYTES
from medledger.domain.inspection_exports import MAX_UPLOAD as MAX_EXPORT_UPLOAD
from medledger.domain.services import Services
from medledger.web.audit_trail import AuditTrail
from medledger.web.gates import API_GATES
from medledger.web.http_guard import GuardRules, install_http_guard
from medledger.web.idempotency import install_idempotency
from medledger.web.metrics import install_metrics
from medledger.web.problems import install_error_handlers
from medledger.web.security_headers import SecurityHeaders

__all__ = ["BODY_BYTES", "create_app"]

_SLACK = 64 * 1024  # room for the rest of a request around its document
# The API routes whose bodies may be larger than the guard's default (256 KiB).
BODY_BYTES = {
    "/v1/partner/documents": MAX_DOCUMENT_BYTES * 4 // 3 + _SLACK,  # base64 in JSON
    "/v1/partner/documents/upload": MAX_DOCUMENT_BYTES + _SLACK,  # multipart
    "/v1/epcis/capture": MAX_EPCIS_DOCUMENT_BYTES,  # what capture itself reads
    "/v1/exports/verify": MAX_EXPORT_UPLOAD + _SLACK,  # multipart
    "/v1/partner/imports": MAX_IMPORT_BYTES + _SLACK,  # multipart
}


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="MedLedger API",
        version="1",
        description=(
            "Public verification of UDI-identified medical devices, partner custody operations, "
            "traces, regulator oversight and EPCIS 2.0 exchange over a permissioned ledger."
        ),
    )
    app.state.services = services
    install_error_handlers(app)
    install_idempotency(app)  # innermost: inside the body guard, before any router
    app.add_middleware(AuditTrail)
    install_http_guard(app, GuardRules(body_bytes=dict(BODY_BYTES), gates=dict(API_GATES)))
    install_metrics(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (verify, auth, devices, items, documents, trace, regulator, recalls, epcis):
        app.include_router(module.router)
    app.include_router(adverse_events.router)
    app.include_router(adverse_events.regulator_router)
    app.include_router(unit_records.router)
    app.include_router(exports.router)  # inspection exports and their verification
    app.include_router(oversight_records.router)  # sealed records for the regulator
    app.include_router(sites.router)  # members' GLNs and sites
    app.include_router(imports.router)  # bulk import of CSV/XLSX files
    app.include_router(subscriptions.partner_router)  # webhooks (and their delivery worker)
    app.include_router(subscriptions.regulator_router)
    app.include_router(subscriptions.events_router)
    app.include_router(epcis_queries.router)  # EPCIS named queries and their subscriptions
    from medledger.portal.app import install_portal  # the portal's pages use the routes above
    from medledger.portal.routes.verify import verdict_page

    install_portal(app)
    verify.serve_verdict_pages(app, verdict_page)  # the resolver's answer to browsers
    app.include_router(APIRouter(lifespan=_amqp_publishing))
    return app


@asynccontextmanager
async def _amqp_publishing(app: FastAPI) -> AsyncIterator[None]:
    """With `settings.amqp_url`: the event stream published to the broker meanwhile."""
    publishing = start_amqp_publishing(app.state.services)
    try:
        yield
    finally:
        if publishing is not None:
            publishing.close()
