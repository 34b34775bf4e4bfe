"""Words for the ledger's enumerations (item and shipment statuses, roles), as message
ids, so templates can show `_(word(status))` in either language."""

from __future__ import annotations

from medledger.portal.nav import _l

__all__ = ["WORDS", "word"]

WORDS: dict[str, str] = {
    # ItemStatus / ShipmentStatus (lower-case names)
    "active": _l("in stock"),
    "in_transit": _l("in transit"),
    "quarantined": _l("quarantined"),
    "dispensed": _l("dispensed"),
    "destroyed": _l("destroyed"),
    "unpacked": _l("unpacked"),
    "received": _l("received"),
    "rejected": _l("rejected"),
    "cancelled": _l("cancelled"),
    # Role
    "regulator": _l("regulator"),
    "manufacturer": _l("manufacturer"),
    "distributor": _l("distributor"),
    "logistics": _l("logistics provider"),
    "hospital": _l("hospital"),
}


def word(name: str) -> str:
    """The message id for an enumeration value's lower-case name (itself if unknown)."""
    return WORDS.get(name.lower(), name)
