"""The process's EPCIS capture log (`indexer.store.captures`), opened on first use."""

from __future__ import annotations

from sqlalchemy import create_engine

from medledger.domain.services import Component, Services
from medledger.indexer.store.captures import NEW_EVENT, CaptureStore, EventState, Sending

__all__ = ["NEW_EVENT", "CaptureStore", "EventState", "Sending", "capture_store"]


CAPTURE_STORE: Component[CaptureStore] = Component("epcis.store")


def capture_store(services: Services) -> CaptureStore:
    def make() -> CaptureStore:
        url = services.settings.epcis_db_url
        if url is None:
            services.settings.data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{services.settings.data_dir / 'epcis.db'}"
        return CaptureStore(create_engine(url))

    return services.components.get(CAPTURE_STORE, make)
