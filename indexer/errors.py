"""The indexer's exception tree.

IndexerError
 ├── ConfigError         a bad --rpc/--db URL or setting
 ├── LockedError         another indexer already holds this database
 ├── ReorgTooDeepError   a reorg reached below the retained block history
 └── SourceError         the JSON-RPC endpoint failed or returned something unusable
"""

from __future__ import annotations

from medledger.sdk.errors import MedLedgerError

__all__ = ["ConfigError", "IndexerError", "LockedError", "ReorgTooDeepError", "SourceError"]


class IndexerError(MedLedgerError):
    """Base of every error the indexer raises on purpose."""


class ConfigError(IndexerError):
    """A setting that cannot work, named in the message."""


class LockedError(IndexerError):
    """Another indexer process is already writing to this database."""


class ReorgTooDeepError(IndexerError):
    """The chain changed below the oldest block hash the indexer still remembers."""


class SourceError(IndexerError):
    """The chain endpoint failed or answered inconsistently."""
