"""The process's EPCIS capture log (`indexer.store.captures`), opened on first use."""

from __future__ import annotations

from sqlalchemy import create_engine

from domain.services import Services
from indexer.store.captures import NEW_EVENT, CaptureStore, EventState, Sending

__all__ = ["NEW_EVENT", "CaptureStore", "EventState", "Sending", "capture_store"]


def capture_store(services: Services) -> CaptureStore:
    found = services.extras.get("epcis.store")
    if found is None:
        url = services.settings.epcis_db_url
        if url is None:
            services.settings.data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{services.settings.data_dir / 'epcis.db'}"
        found = CaptureStore(create_engine(url))
        services.extras["epcis.store"] = found
    assert isinstance(found, CaptureStore)
    return found
