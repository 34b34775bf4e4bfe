"""Envelope encryption shared by documents and records: a fresh data key per object, that
key wrapped (AES-GCM) for each party under the party's key-encryption key, derived from the
master key by HKDF (`document-kek/<party>`). A party is a member address (lower-case) or the
group `regulator` (any active regulator)."""

from __future__ import annotations

from collections.abc import Iterable

from medledger.domain.custodial_keys import derive_key, master_key, seal, unseal
from medledger.domain.services import Services
from medledger.indexer.store.documents import WrappedKey

__all__ = ["REGULATOR_PARTY", "parties_of", "unwrap", "wrap_for"]

REGULATOR_PARTY = "regulator"


def _kek(services: Services, party: str) -> bytes:
    return derive_key(master_key(services.settings), f"document-kek/{party.lower()}")


def wrap_for(
    services: Services, object_id: str, dek: bytes, parties: Iterable[str]
) -> list[WrappedKey]:
    """`dek` wrapped for each of `parties`, bound to `object_id` and the party."""
    keys = []
    for party in sorted({p.lower() for p in parties}):
        nonce, wrapped = seal(_kek(services, party), dek, aad=f"{object_id}/{party}".encode())
        keys.append(WrappedKey(party, nonce, wrapped))
    return keys


def unwrap(services: Services, object_id: str, key: WrappedKey) -> bytes:
    """The data key of `object_id` from the copy wrapped for `key.party`."""
    return unseal(
        _kek(services, key.party),
        key.nonce,
        key.wrapped_key,
        aad=f"{object_id}/{key.party}".encode(),
    )


def parties_of(address: str, *, regulator: bool) -> list[str]:
    """The parties a reader may read as: its own address, and the regulator group if it is
    an active regulator."""
    return [address.lower(), REGULATOR_PARTY] if regulator else [address.lower()]
