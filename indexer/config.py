"""The indexer's one configuration object (`Settings`), built from the CLI or tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medledger.indexer.errors import ConfigError

__all__ = ["Settings", "sqlite_path"]


@dataclass(frozen=True, slots=True)
class Settings:
    """How to follow the chain and where to write.

    `db_url` is an SQLAlchemy URL: `sqlite:///path.db` (default backend, WAL) or
    `postgresql+psycopg://user@host/db`. `batch_blocks` is the widest block range fetched
    and written in one transaction; `confirmations` holds back that many blocks from the
    head; `undo_blocks` is how far back a reorg can be undone; on PostgreSQL, planner
    statistics are refreshed every `analyze_every` item-event rows and when caught up.
    """

    db_url: str
    batch_blocks: int = 2000
    confirmations: int = 0
    poll_interval: float = 0.5
    undo_blocks: int = 10_000
    start_block: int = 0
    analyze_every: int = 1_000_000  # PostgreSQL: refresh planner statistics after this many rows

    def __post_init__(self) -> None:
        if not (self.db_url.startswith("sqlite") or self.db_url.startswith("postgresql")):
            raise ConfigError(
                f"unsupported database URL {self.db_url!r}: use sqlite:///FILE or "
                "postgresql+psycopg://USER@HOST/DB"
            )
        if self.db_url.startswith("sqlite") and sqlite_path(self.db_url) is None:
            raise ConfigError(f"SQLite database must be a file, not {self.db_url!r}")
        if self.batch_blocks < 1:
            raise ConfigError(f"batch_blocks must be >= 1, not {self.batch_blocks}")
        if self.confirmations < 0:
            raise ConfigError(f"confirmations must be >= 0, not {self.confirmations}")

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file behind an `sqlite:///FILE` URL, or None for in-memory databases."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)
