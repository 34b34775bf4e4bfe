"""Block seals: the authority's recoverable secp256k1 signature over the block hash.

A seal is 65 bytes, r ‖ s ‖ v (v in {0, 1}), kept beside the block rather than in the
header's extraData (py-evm limits extraData to 32 bytes). Anyone who knows the authority
addresses can check a seal with `verify_seal`.
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey
from eth_utils import keccak, to_checksum_address

from medledger.node.errors import SealError

__all__ = ["Sealer", "recover_signer", "verify_seal"]

SEAL_DOMAIN = b"medledger-seal-v1"


def _digest(chain_id: int, block_hash: bytes) -> bytes:
    return keccak(SEAL_DOMAIN + chain_id.to_bytes(32, "big") + block_hash)


class Sealer:
    """Holds the authority key and signs block hashes."""

    def __init__(self, private_key_hex: str, *, chain_id: int) -> None:
        self._key = PrivateKey(bytes.fromhex(private_key_hex.removeprefix("0x")))
        self.chain_id = chain_id
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = to_checksum_address(keccak(public)[12:])

    def seal(self, block_hash: bytes) -> bytes:
        return bytes(self._key.sign_recoverable(_digest(self.chain_id, block_hash), hasher=None))


def recover_signer(seal: bytes, block_hash: bytes, *, chain_id: int) -> str:
    if len(seal) != 65 or seal[64] > 1:
        raise SealError(f"seal must be 65 bytes r||s||v with v in {{0,1}}, got {len(seal)} bytes")
    try:
        public = PublicKey.from_signature_and_message(
            seal, _digest(chain_id, block_hash), hasher=None
        )
    except Exception as exc:  # coincurve raises plain Exception on bad signatures
        raise SealError(f"seal does not recover to a public key: {exc}") from exc
    return to_checksum_address(keccak(public.format(compressed=False)[1:])[12:])


def verify_seal(
    seal: bytes, block_hash: bytes, *, chain_id: int, authorities: tuple[str, ...]
) -> str:
    """The sealing authority's address; `SealError` if the signer is not an authority."""
    signer = recover_signer(seal, block_hash, chain_id=chain_id)
    if signer not in authorities:
        raise SealError(
            f"block 0x{block_hash.hex()} is sealed by {signer}, which is not an authority "
            f"({', '.join(authorities)})"
        )
    return signer
