"""Custodial member keys (`api_custodial_keys`), as AES-GCM ciphertext."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from medledger.indexer.store.tables import custodial_keys

__all__ = ["SealedKey", "add_sealed_key", "sealed_key"]


@dataclass(frozen=True, slots=True)
class SealedKey:
    nonce: bytes
    ciphertext: bytes


def add_sealed_key(engine: Engine, address: str, key: SealedKey, *, now: int) -> bool:
    """Keep `key` for `address`; False (and nothing written) if it already has one."""
    with engine.begin() as conn:
        if conn.execute(
            select(custodial_keys.c.address).where(custodial_keys.c.address == address)
        ).first():
            return False
        conn.execute(
            insert(custodial_keys).values(
                address=address, nonce=key.nonce, ciphertext=key.ciphertext, created_at=now
            )
        )
    return True


def sealed_key(engine: Engine, address: str) -> SealedKey | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(custodial_keys.c.nonce, custodial_keys.c.ciphertext).where(
                custodial_keys.c.address == address
            )
        ).first()
    return None if row is None else SealedKey(bytes(row.nonce), bytes(row.ciphertext))
