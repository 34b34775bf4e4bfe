"""The FastAPI application: `create_app(services)` wires settings, routes and errors."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.routes import auth, documents, epcis, partner, recall_acks, regulator, trace, verify
from api.services import Services

__all__ = ["create_app"]


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
    install_metrics(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (verify, auth, partner, documents, trace, regulator, recall_acks, epcis):
        app.include_router(module.router)
    from portal.app import install_portal  # the portal's pages use the routes above

    install_portal(app)
    return app
