"""Valid inputs for the fuzz targets to start from: GS1 keys with correct check digits
(computed here, independently of `sdk.gs1`), serials and lots in GS1's CSET 82, and the
codes built from them in every printed and scanned form, including Digital Links."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from hypothesis import strategies as st

__all__ = [
    "Code",
    "codes",
    "epc_uris",
    "gtins",
    "mod10",
    "ssccs",
]

GS = "\x1d"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
LEDGER_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._"
HOSTS = ("https://id.example.com", "http://id.gs1.org", "https://x.example:8443/some/prefix")


def mod10(body: str) -> str:
    """`body` followed by its GS1 mod-10 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


gtins = st.one_of(_digits(13), _digits(12), _digits(11), _digits(7)).map(mod10)
ssccs = _digits(17).map(mod10)
serials = st.one_of(
    st.text(LEDGER_CHARS, min_size=1, max_size=20), st.text(CSET82, min_size=1, max_size=20)
)
dates = st.dates(datetime.date(2000, 1, 1), datetime.date(2049, 12, 31)).map(
    lambda d: d.strftime("%y%m%d")
)


@dataclass(frozen=True)
class Code:
    """A unit's or container's data, to be written in one of the printed forms."""

    gtin: str | None
    sscc: str | None
    lot: str | None
    serial: str | None
    expiry: str | None

    def hri(self) -> str:
        key = f"(00){self.sscc}" if self.sscc else f"(01){self.gtin}"
        fields = [("17", self.expiry), ("10", self.lot), ("21", self.serial)]
        return key + "".join(f"({ai}){v}" for ai, v in fields if v is not None)

    def payload(self, symbology: str = "]d2") -> str:
        out = symbology + (f"00{self.sscc}" if self.sscc else f"01{self.gtin}")
        if self.expiry:
            out += "17" + self.expiry
        variable = [f"{ai}{v}" for ai, v in (("10", self.lot), ("21", self.serial)) if v]
        return out + GS.join(variable)

    def digital_link(self, host: str = HOSTS[0]) -> str:
        from urllib.parse import quote

        if self.sscc:
            return f"{host}/00/{self.sscc}"
        path = f"{host}/01/{self.gtin}"
        if self.lot:
            path += "/10/" + quote(self.lot, safe="")
        if self.serial:
            path += "/21/" + quote(self.serial, safe="")
        return path + (f"?17={self.expiry}" if self.expiry else "")


_units = st.builds(
    Code,
    gtin=gtins,
    sscc=st.none(),
    lot=st.none() | serials,
    serial=st.none() | serials,
    expiry=st.none() | dates,
)
_containers = st.builds(
    Code, gtin=st.none(), sscc=ssccs, lot=st.none(), serial=st.none(), expiry=st.none()
)


@st.composite
def codes(draw: st.DrawFn) -> str:
    """A valid GS1 code in any form: element string, scanned payload or Digital Link."""
    code = draw(st.one_of(_units, _units, _containers))
    form = draw(st.integers(0, 3))
    if form == 0:
        return code.hri()
    if form == 1:
        return code.payload(draw(st.sampled_from(["", "]d2", "]C1", "]Q3"])))
    return code.digital_link(draw(st.sampled_from(HOSTS)))


@st.composite
def epc_uris(draw: st.DrawFn) -> str:
    """An EPC as EPCIS writes it: an SGTIN or SSCC URN, or a Digital Link."""
    prefix = draw(_digits(7))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        reference = draw(_digits(6))
        return f"urn:epc:id:sgtin:{prefix}.{reference}.{draw(serials)}"
    if kind == 1:
        return f"urn:epc:id:sscc:{prefix}.{draw(_digits(10))}"
    return draw(codes())
