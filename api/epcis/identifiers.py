"""EPCs for ledger items and back: GS1 Digital Link URIs (any host) and EPC URNs
(`urn:epc:id:sgtin:`, `urn:epc:id:sscc:`) name units and containers (a case by its package
GTIN); `urn:epc:class:lgtin:`
and Digital Link `/01/<gtin>/10/<lot>` name lots; members appear in source and destination
lists as `did:pkh:eip155:<chainId>:<address>` (CAIP-10 account ids).

The serial (or lot) of an EPC URN follows the EPC Tag Data Standard's escaping (TDS 2.1,
section 6.3 and table I.3.1-1): it is GS1 CSET 82, written as is except `"` `%` `&` `/` `<`
`>` `?`, which are %-escaped (%22 %25 %26 %2F %3C %3E %3F); a URN holding any of those seven raw,
or a `%` not followed by two hex digits, is malformed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from eth_utils import is_hex_address, to_checksum_address

from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import (
    Udi,
    check_digit,
    container_path,
    parse_code,
    unit_path,
    validate_gtin,
)

__all__ = [
    "Epc",
    "container_uri",
    "lot_uri",
    "member_of_uri",
    "member_uri",
    "epc_escape",
    "epc_unescape",
    "lgtin_urn",
    "parse_epc",
    "parse_epc_class",
    "sgtin_urn",
    "unit_uri",
]

# TDS: the CSET 82 characters an EPC URI component must %-escape.
_TDS_ESCAPED: Final = {c: f"%{ord(c):02X}" for c in '"%&/<>?'}
_TDS_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")


def epc_escape(value: str) -> str:
    """A serial as an EPC URI component (TDS escaping, module docstring)."""
    return "".join(_TDS_ESCAPED.get(char, char) for char in value)


def epc_unescape(component: str) -> str:
    """An EPC URI component back to its serial; Gs1Error `malformed` for a raw character
    TDS requires escaped or a broken %-escape."""
    raw = _TDS_ESCAPE.sub("", component)
    bad = next((char for char in raw if char in _TDS_ESCAPED), None)
    if bad is not None:
        raise Gs1Error(
            "malformed",
            f"EPC URI component {component!r} holds {bad!r}, which must be written "
            f"{_TDS_ESCAPED[bad]}",
        )
    return _TDS_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), component)


def sgtin_urn(gtin: str, serial: str, *, company_prefix_length: int) -> str:
    """`urn:epc:id:sgtin:<company prefix>.<indicator><item reference>.<serial>` (TDS)."""
    Udi(gtin=gtin, serial=serial)  # the serial is GS1 CSET 82, 1..20 characters
    return f"urn:epc:id:sgtin:{_gtin_key(gtin, company_prefix_length)}.{epc_escape(serial)}"


def lgtin_urn(gtin: str, lot: str, *, company_prefix_length: int) -> str:
    """`urn:epc:class:lgtin:<company prefix>.<indicator><item reference>.<lot>` (TDS 6.4.1),
    the lot escaped as a serial is."""
    Udi(gtin=gtin, lot=lot)  # the lot is GS1 CSET 82, 1..20 characters
    return f"urn:epc:class:lgtin:{_gtin_key(gtin, company_prefix_length)}.{epc_escape(lot)}"


def _gtin_key(gtin: str, company_prefix_length: int) -> str:
    gtin = validate_gtin(gtin)
    if not 6 <= company_prefix_length <= 12:
        raise Gs1Error("malformed", f"company prefix length {company_prefix_length} not 6..12")
    prefix = gtin[1 : 1 + company_prefix_length]
    return f"{prefix}.{gtin[0]}{gtin[1 + company_prefix_length : 13]}"


def parse_epc_class(uri: str) -> tuple[str, str]:
    """A lot class, `urn:epc:class:lgtin:` or a Digital Link `/01/<gtin>/10/<lot>` URI, as
    (GTIN, lot); Gs1Error (with its reason code) otherwise."""
    if uri.startswith("urn:epc:class:lgtin:"):
        prefix, reference, lot = _urn_key(uri.removeprefix("urn:epc:class:lgtin:"), what="LGTIN")
        body = reference[0] + prefix + reference[1:]
        if len(body) != 13 or not lot:
            raise Gs1Error("malformed", f"LGTIN {uri!r} needs 13 key digits and a lot")
        udi = Udi(gtin=validate_gtin(body + str(check_digit(body))), lot=epc_unescape(lot))
    elif uri.startswith(("http://", "https://")):
        udi = parse_code(uri)
    else:
        raise Gs1Error(
            "unknown_epc_scheme",
            f"EPC class {uri!r} is neither a GS1 Digital Link URI nor an lgtin EPC class URN",
        )
    if udi.gtin is None or udi.lot is None or udi.serial is not None:
        raise Gs1Error("missing_lot", f"EPC class {uri!r} does not name a lot (GTIN and lot only)")
    return udi.gtin, udi.lot


@dataclass(frozen=True, slots=True)
class Epc:
    """A unit (gtin + serial, maybe a lot) or a container (sscc)."""

    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    sscc: str | None = None

    @property
    def path(self) -> str:
        if self.sscc is not None:
            return container_path(self.sscc)
        assert self.gtin is not None and self.serial is not None
        return unit_path(self.gtin, self.serial)


def _urn_key(body: str, *, what: str) -> tuple[str, str, str]:
    parts = body.split(".", 2)
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise Gs1Error("malformed", f"{what} URN body {body!r} is not prefix.reference[.serial]")
    prefix, reference = parts[0], parts[1]
    if not reference:
        raise Gs1Error("malformed", f"{what} URN {body!r} has an empty reference")
    return prefix, reference, parts[2] if len(parts) == 3 else ""


def parse_epc(uri: str) -> Epc:
    """An EPC as a unit or container; Gs1Error (with its reason code) otherwise."""
    if uri.startswith("urn:epc:id:sgtin:"):
        prefix, reference, serial = _urn_key(uri.removeprefix("urn:epc:id:sgtin:"), what="SGTIN")
        body = reference[0] + prefix + reference[1:]
        if len(body) != 13 or not serial:
            raise Gs1Error("malformed", f"SGTIN {uri!r} needs 13 key digits and a serial")
        gtin = validate_gtin(body + str(check_digit(body)))
        udi = Udi(gtin=gtin, serial=epc_unescape(serial))  # CSET 82, 1..20 characters
        return Epc(gtin=udi.gtin, serial=udi.serial)
    if uri.startswith("urn:epc:id:sscc:"):
        prefix, reference, _ = _urn_key(uri.removeprefix("urn:epc:id:sscc:"), what="SSCC")
        body = reference[0] + prefix + reference[1:]
        if len(body) != 17:
            raise Gs1Error("malformed", f"SSCC {uri!r} needs 17 key digits")
        return Epc(sscc=body + str(check_digit(body)))
    if uri.startswith(("http://", "https://")):
        udi = parse_code(uri)
        if udi.sscc is not None:
            return Epc(sscc=udi.sscc)
        if udi.serial is None:
            raise Gs1Error("missing_serial", f"EPC {uri!r} names a GTIN without a serial")
        return Epc(gtin=udi.gtin, serial=udi.serial, lot=udi.lot)
    raise Gs1Error(
        "unknown_epc_scheme",
        f"EPC {uri!r} is neither a GS1 Digital Link URI nor an sgtin/sscc EPC URN",
    )


def unit_uri(base: str, gtin: str, serial: str) -> str:
    return base.rstrip("/") + unit_path(gtin, serial)


def container_uri(base: str, sscc: str) -> str:
    return base.rstrip("/") + container_path(sscc)


def lot_uri(base: str, gtin: str, lot: str) -> str:
    return f"{base.rstrip('/')}/01/{gtin}/10/{quote(lot, safe='')}"


def member_uri(chain_id: int, address: str) -> str:
    return f"did:pkh:eip155:{chain_id}:{to_checksum_address(address)}"


def member_of_uri(uri: str, chain_id: int) -> str | None:
    """The member address a `did:pkh` URI names on this chain, else None."""
    prefix = f"did:pkh:eip155:{chain_id}:"
    if not uri.startswith(prefix):
        return None
    address = uri.removeprefix(prefix)
    return to_checksum_address(address) if is_hex_address(address) else None
