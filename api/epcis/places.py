"""Where and between whom a captured event happened, checked against the ledger before
anything is applied: `readPoint`/`bizLocation` must be a GLN of the capturing member (its
primary GLN or one of its registered sites, `domain.sites`), and the parties of
`sourceList`/`destinationList` (owning or possessing party, as `did:pkh` or as a GLN) must
be the shipment's sender and receiver.

Refusals (422, naming the event and field): `epcis_location_invalid` (not an SGLN or
Digital Link /414/ URI), `epcis_location_not_yours` (a GLN nobody or another member
holds), `epcis_party_mismatch` (a party that is not the sender or receiver).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.errors import CaptureRefused
from medledger.api.epcis.identifiers import member_of_uri
from medledger.domain.sites import parse_sgln
from medledger.indexer.queries.sites import gln_owner

__all__ = ["check_locations", "check_parties", "party_addresses"]

PARTY_TYPES = ("owning_party", "possessing_party")


def _refuse(index: int, code: str, field: str, detail: str) -> CaptureRefused:
    return CaptureRefused(
        422, code, f"event {index}: {detail}", event_index=index, field=field, applied=[]
    )


def _gln(index: int, field: str, uri: str) -> str:
    try:
        return parse_sgln(uri)
    except ValueError as exc:
        raise _refuse(index, "epcis_location_invalid", field, str(exc)) from exc


def check_locations(conn: Connection, index: int, event: dict[str, Any], member: str) -> None:
    """Refuse a readPoint or bizLocation that is not one of `member`'s GLNs."""
    for key in ("readPoint", "bizLocation"):
        place = event.get(key)
        if not isinstance(place, dict) or "id" not in place:
            continue
        field = f"$.epcisBody.eventList[{index}].{key}.id"
        gln = _gln(index, field, str(place["id"]))
        owner = gln_owner(conn, gln)
        if owner is None or owner[0].lower() != member.lower():
            raise _refuse(
                index,
                "epcis_location_not_yours",
                field,
                f"{key} {place['id']} (GLN {gln}) is not a GLN or site of yours",
            )


def party_addresses(
    conn: Connection, index: int, event: dict[str, Any], key: str, chain_id: int
) -> list[tuple[str, str]]:
    """(field, member address) of each owning or possessing party in `key`
    (`sourceList` or `destinationList`); a party that names no member is refused."""
    entries = event.get(key)
    name = "source" if key == "sourceList" else "destination"
    found: list[tuple[str, str]] = []
    for n, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        if str(entry.get("type", "")).rsplit("/", 1)[-1] not in PARTY_TYPES:
            continue
        uri = str(entry.get(name, ""))
        field = f"$.epcisBody.eventList[{index}].{key}[{n}]"
        address = member_of_uri(uri, chain_id)
        if address is None:
            owner = gln_owner(conn, _gln(index, field, uri)) if ":sgln:" in uri else None
            address = owner[0] if owner else None
        if address is None:
            raise _refuse(index, "epcis_party_mismatch", field, f"party {uri} is no member")
        found.append((field, address))
    return found


def check_parties(
    conn: Connection,
    index: int,
    event: dict[str, Any],
    *,
    sender: str,
    receiver: str | None,
    chain_id: int,
) -> None:
    """Refuse a source party other than `sender` or a destination party other than
    `receiver` (None: whichever the destination names, as long as they agree)."""
    for field, address in party_addresses(conn, index, event, "sourceList", chain_id):
        if address.lower() != sender.lower():
            raise _refuse(
                index, "epcis_party_mismatch", field, f"the sender is {sender}, not {address}"
            )
    destinations = party_addresses(conn, index, event, "destinationList", chain_id)
    expected = receiver or (destinations[0][1] if destinations else None)
    for field, address in destinations:
        if expected is not None and address.lower() != expected.lower():
            raise _refuse(
                index, "epcis_party_mismatch", field, f"the receiver is {expected}, not {address}"
            )
