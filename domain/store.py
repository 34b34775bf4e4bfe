"""The partner API's own persistent state, apart from the indexer's schema: sign-in
challenges, API keys, custodial member keys, encrypted documents, recall acknowledgements,
oversight cursors, portal users, sessions and jobs. Tables, migrations and queries live in
`indexer.store`; this module finds the process's store.

The store lives in `settings.api_db_url` (default SQLite `api.db` under `data_dir`) and
is opened, and its schema migrated, when the process first asks for it (`api_store`).
"""

from __future__ import annotations

from medledger.domain.services import Component, Services
from medledger.domain.settings import ApiSettings
from medledger.indexer.store.engine import ApiStore

__all__ = ["ApiStore", "api_store", "store_url"]


def store_url(settings: ApiSettings) -> str:
    """The store's database: `api_db_url`, else SQLite `api.db` in the data directory."""
    url = settings.api_db_url
    return url if url is not None else f"sqlite:///{settings.data_dir / 'api.db'}"


API_STORE: Component[ApiStore] = Component("api_store")


def api_store(services: Services) -> ApiStore:
    """The process's store, opened (and its schema migrated) on first use."""
    return services.components.get(API_STORE, lambda: ApiStore(store_url(services.settings)))
