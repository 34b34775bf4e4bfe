"""GS1 identifiers for MedLedger: UDIs, SSCCs and the ledger ids derived from them.

This module owns everything between a scanned code and the bytes the contracts store:

- reading a code in any of its printed or scanned forms (element string with parentheses,
  FNC1/GS-separated payload, raw DataMatrix/GS1-128/QR payload with a symbology identifier,
  GS1 Digital Link URI on any host) into a :class:`Udi`;
- writing a :class:`Udi` back out as an element string, a DataMatrix payload or a Digital Link
  URI;
- the canonical item paths (``/01/<gtin14>/21/<serial>``, ``/00/<sscc>``), lot paths
  (``/01/<gtin14>/10/<lot>``) and their keccak256 ids, exactly as the contracts compute them;
- GTIN/SSCC check digits, construction and company-prefix ownership;
- the ledger's narrower character rule for serials and lots (:func:`ledger_safe`), until the
  contracts take all of CSET 82 (ids stay the same: a value of ``[0-9A-Za-z-._]`` is its
  own percent-encoding, and the percent-encoded path splits back into its keys one way only,
  so no two serials or lots share an id).

Parsing itself is done by ``biip``, except that well-formed codes carrying only a Udi's AIs
are read by a ~10x cheaper fast path first (:func:`_parse_common`; it declines anything else,
so results and errors are biip's). This module adds the MedLedger rules on top and turns
every failure into a :class:`sdk.errors.Gs1Error` with a stable ``code``:

``empty``, ``malformed``, ``bad_check_digit``, ``unknown_ai``, ``bad_date``,
``missing_gtin``, ``missing_serial``, ``unsupported_chars``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote, urlsplit

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_element_strings import _parse_date_and_datetime as _biip_date
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.symbology import GS1Symbology, SymbologyIdentifier
from eth_utils.crypto import keccak

from medledger.sdk.errors import Gs1Error

__all__ = [
    "GS",
    "Udi",
    "check_digit",
    "company_prefix_of",
    "container_path",
    "item_id",
    "ledger_safe",
    "lot_key",
    "lot_path",
    "make_gln",
    "make_gtin",
    "make_sscc",
    "parse_code",
    "parse_unit",
    "unit_path",
    "validate_gln",
    "validate_gtin",
    "validate_sscc",
]

GS: Final = "\x1d"
"""ASCII group separator: how scanners transmit FNC1 between variable-length fields."""

DEFAULT_DL_BASE: Final = "https://id.medledger.example"

# Characters the contracts accept in a serial or lot, and their length limit.
_LEDGER_CHARS: Final = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._"
)
_LEDGER_MAX_LEN: Final = 20

# AIs whose data biip reads as a date (YYMMDD, optionally followed by a time). A failure to
# read one of these is reported as ``bad_date`` rather than ``malformed``.
_DATE_AIS: Final = frozenset(
    ("11", "12", "13", "15", "16", "17", "4324", "4325", "4326")
    + ("7003", "7006", "7007", "7011", "8008")
)

# The AIs a Udi carries; anything else biip recognises is accepted and ignored.
_AI_SSCC: Final = "00"
_AI_GTIN: Final = "01"
_AI_PRODUCTION: Final = "11"
_AI_EXPIRY: Final = "17"
_AI_LOT: Final = "10"
_AI_SERIAL: Final = "21"

_CONFIG: Final = ParseConfig()
_HRI_PAIR: Final = re.compile(r"\((\d+)\)([^(]*)")
_HRI_AI_SPACING: Final = re.compile(r"\s*\(\s*(\d+)\s*\)\s*")
_HRI_MARK: Final = re.compile(r"\((\d{2,4})\)")

# Fast path (see _parse_common): the well-formed forms a Udi's AIs take, read without biip.
_FAST_SYMBOLOGIES: Final = ("]d2", "]C1", "]Q3")
_FAST_FIXED_DIGITS: Final = {_AI_SSCC: 18, _AI_GTIN: 14, _AI_PRODUCTION: 6, _AI_EXPIRY: 6}
_FAST_VARIABLE: Final = frozenset((_AI_LOT, _AI_SERIAL))
_FAST_DATES: Final = frozenset((_AI_PRODUCTION, _AI_EXPIRY))
# GS1 CSET 82, 1..20 characters: exactly biip's pattern for AIs 10 and 21.
_FAST_CSET82: Final = re.compile(r'[!%-?A-Z_a-z"]{1,20}')
_FAST_HRI_PAIR: Final = re.compile(r"\(([0-9]{2})\)([^()]*)")
_FAST_DL: Final = re.compile(
    r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?(?P<prefix>(?:/[A-Za-z0-9\-._~]*)*?)"
    r"(?:/00/(?P<sscc>[0-9]{18})|/01/(?P<gtin>[0-9]{14})"
    r"(?:/10/(?P<lot>[A-Za-z0-9\-._]{1,20}))?(?:/21/(?P<serial>[A-Za-z0-9\-._]{1,20}))?)"
    r"(?:\?(?P<query>[0-9=&]*))?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Udi:
    """A parsed GS1 code: a device unit (GTIN + PI) or a logistic unit (SSCC).

    Construction validates and normalises: ``gtin`` is stored as 14 digits, check digits are
    verified, serial and lot must be valid GS1 (CSET 82, 1..20 characters), and exactly one of
    ``gtin`` / ``sscc`` must be present. Lot and dates may accompany an SSCC (a pallet label
    describing its contents).
    """

    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: datetime.date | None = None
    production_date: datetime.date | None = None
    sscc: str | None = None

    def __post_init__(self) -> None:
        if self.gtin is None and self.sscc is None:
            raise Gs1Error("missing_gtin", f"{self!r} has neither a GTIN (01) nor an SSCC (00)")
        if self.gtin is not None and self.sscc is not None:
            raise Gs1Error(
                "malformed",
                f"code carries both SSCC {self.sscc} and GTIN {self.gtin}; "
                "a Udi identifies either a logistic unit or a trade item",
            )
        if self.gtin is not None:
            object.__setattr__(self, "gtin", validate_gtin(self.gtin))
        if self.sscc is not None:
            object.__setattr__(self, "sscc", validate_sscc(self.sscc))
        if self.serial is not None:
            _check_cset82(_AI_SERIAL, self.serial, what="serial")
        if self.lot is not None:
            _check_cset82(_AI_LOT, self.lot, what="lot")
        for what, value in (("expiry", self.expiry), ("production date", self.production_date)):
            if value is not None and (
                isinstance(value, datetime.datetime) or not isinstance(value, datetime.date)
            ):
                raise Gs1Error("bad_date", f"{what} {value!r} must be a datetime.date")

    @property
    def is_container(self) -> bool:
        """True for a logistic unit (it has an SSCC)."""
        return self.sscc is not None

    @property
    def digital_link_path(self) -> str:
        """The canonical item path the ledger hashes into an item id.

        ``/00/<sscc>`` for a container, ``/01/<gtin14>/21/<serial>`` for a serialised unit.
        Raises ``missing_serial`` for a GTIN without a serial.
        """
        if self.sscc is not None:
            return container_path(self.sscc)
        assert self.gtin is not None  # guaranteed by __post_init__
        if self.serial is None:
            raise Gs1Error(
                "missing_serial",
                f"GTIN {self.gtin} has no serial (AI 21); it does not identify one unit",
            )
        return unit_path(self.gtin, self.serial)

    @property
    def item_id(self) -> bytes:
        """keccak256 of :attr:`digital_link_path` (32 bytes), as the contracts compute it."""
        return item_id(self.digital_link_path)

    @property
    def lot_key(self) -> bytes | None:
        """keccak256 of ``/01/<gtin14>/10/<lot>``, or None without a GTIN and a lot."""
        if self.gtin is None or self.lot is None:
            return None
        return lot_key(self.gtin, self.lot)

    def element_string(self) -> str:
        """Human-readable element string, e.g. ``(01)09506000134352(17)270131(10)L1(21)SN1``."""
        return GS1Message.from_element_strings(self._element_strings()).as_hri()

    def gs1_payload(self) -> str:
        """Data to encode in a GS1 DataMatrix/GS1-128 (GS after variable-length fields).

        No symbology identifier and no leading FNC1: the printer adds those.
        """
        return GS1Message.from_element_strings(self._element_strings()).value

    def digital_link_uri(self, *, base: str = DEFAULT_DL_BASE) -> str:
        """GS1 Digital Link URI on ``base``.

        The key and its qualifiers (lot, then serial) form the path; dates and anything that
        is not a qualifier of the key go in the query string, sorted by AI.
        """
        try:
            parts = urlsplit(base)
        except ValueError as exc:  # a bad host, e.g. "http://x]/"
            raise Gs1Error("malformed", f"Digital Link base {base!r} is not a URL") from exc
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise Gs1Error("malformed", f"Digital Link base {base!r} is not an http(s) URL")
        canonical = urlsplit(
            GS1DigitalLinkURI.from_element_strings(self._element_strings()).as_canonical_uri()
        )
        query = f"?{canonical.query}" if canonical.query else ""
        return f"{base.rstrip('/')}{canonical.path}{query}"

    def _element_strings(self) -> GS1ElementStrings:
        """The Udi's element strings in print order: key, dates, lot, serial."""
        elements = GS1ElementStrings()
        if self.sscc is not None:
            elements.append(_element(_AI_SSCC, self.sscc))
        else:
            assert self.gtin is not None
            elements.append(_element(_AI_GTIN, self.gtin))
        for ai, date, what in (
            (_AI_PRODUCTION, self.production_date, "production date"),
            (_AI_EXPIRY, self.expiry, "expiry"),
        ):
            if date is not None:
                elements.append(_date_element(ai, date, what=what))
        if self.lot is not None:
            elements.append(_element(_AI_LOT, self.lot))
        if self.serial is not None:
            elements.append(_element(_AI_SERIAL, self.serial))
        return elements


# --------------------------------------------------------------------------- parsing


def parse_code(text: str) -> Udi:
    """Read a scanned or typed GS1 code into a :class:`Udi`.

    Accepted forms (surrounding whitespace is ignored):

    - element string with parentheses: ``(01)09506000134352(17)270131(10)L1(21)SN1``;
    - GS/FNC1-separated payload: ``01095060001343521727013110L1\\x1d21SN1``;
    - either of those, or a URI, behind a symbology identifier (``]d2``, ``]C1``, ``]Q3``...);
      after an EAN/UPC or ITF-14 identifier (``]E0``, ``]E4``, ``]I1``) a bare GTIN;
    - a GS1 Digital Link URI on any host, e.g.
      ``https://x/01/09506000134352/10/L1/21/SN1?17=270131``;
    - a bare 18-digit SSCC, as printed under a case or pallet label's barcode (no reading
      of 18 digits as a payload carries a GTIN or SSCC, so this is never ambiguous).

    Check digits, AIs and dates are validated; known AIs that a Udi does not carry (e.g. 02,
    37, 90-99) are accepted and ignored. The same AI twice with different data is
    ``malformed``.
    """
    stripped = text.strip()
    if len(stripped) == 18 and stripped.isascii() and stripped.isdigit():
        return Udi(sscc=stripped)
    fast = _parse_common(stripped)
    return fast if fast is not None else _parse_code_biip(text)


def _parse_code_biip(text: str) -> Udi:
    """:func:`parse_code` for every form, through biip; the reference for the fast path."""
    original = text
    text = text.strip()
    if not text:
        raise Gs1Error("empty", f"empty GS1 code {original!r}")

    symbology: SymbologyIdentifier | None = None
    if text.startswith("]"):
        try:
            symbology = SymbologyIdentifier.extract(text)
        except (ParseError, IndexError, ValueError) as exc:
            raise Gs1Error("malformed", f"unknown symbology identifier in {text!r}") from exc
        text = text[len(symbology) :].strip()
        if not text:
            raise Gs1Error("empty", f"no data after symbology identifier {symbology}")

    if text[:8].lower().startswith(("http://", "https://")):
        elements = _parse_digital_link(text)
    elif symbology is not None and symbology.gs1_symbology in GS1Symbology.with_gtin():
        return Udi(gtin=validate_gtin(text))
    elif text.startswith("("):
        elements = _parse_hri(text)
    else:
        elements = _parse_payload(text)
    return _udi_from_elements(elements, text=text)


def parse_unit(text: str) -> Udi:
    """:func:`parse_code`, then require a serialised unit (GTIN and serial).

    Raises ``missing_serial`` for a GTIN without a serial and ``missing_gtin`` for an SSCC.
    """
    udi = parse_code(text)
    if udi.gtin is None:
        raise Gs1Error(
            "missing_gtin",
            f"{text.strip()!r} identifies logistic unit {udi.sscc}, not a serialised device",
        )
    if udi.serial is None:
        raise Gs1Error(
            "missing_serial",
            f"{text.strip()!r} has GTIN {udi.gtin} but no serial (AI 21); "
            "a serialised device needs one",
        )
    return udi


def _parse_payload(payload: str) -> GS1ElementStrings:
    payload = payload.lstrip(GS)
    try:
        return GS1Message.parse(payload, config=_CONFIG).element_strings
    except ParseError as exc:
        raise _explain_payload(payload, exc) from exc


def _parse_hri(text: str) -> GS1ElementStrings:
    # Printed HRI is often spaced around the AIs; whitespace inside data is not GS1 data.
    compact = _HRI_AI_SPACING.sub(lambda m: f"({m.group(1)})", text)
    if any(char.isspace() for char in compact):
        raise Gs1Error("malformed", f"element string {text!r} has whitespace inside a value")
    try:
        message = GS1Message.parse_hri(compact, config=_CONFIG)
    except ParseError as exc:
        fallback = _hri_by_known_ais(compact)
        if fallback is not None:
            return fallback
        raise _explain_pairs(_HRI_PAIR.findall(compact), text, exc) from exc
    if message.as_hri() != compact:
        fallback = _hri_by_known_ais(compact)
        if fallback is not None:
            return fallback
        # biip's HRI reader skips text it cannot place (e.g. "(B" inside a value).
        raise Gs1Error(
            "malformed",
            f"element string {text!r} reads back as {message.as_hri()!r}; "
            "part of it is not a (AI)data pair",
        )
    return message.element_strings


def _hri_by_known_ais(compact: str) -> GS1ElementStrings | None:
    """An element string whose data holds parentheses (CSET 82 allows them, e.g. serial
    ``A(B``), which biip's HRI reader cannot place: split only at ``(AI)`` marks naming a
    known AI, read the pairs as a GS-separated payload, and accept it only if it prints back
    as `compact`. None when that does not work either."""
    marks = [m for m in _HRI_MARK.finditer(compact) if _is_known_ai(m.group(1))]
    if not marks or marks[0].start() != 0:
        return None
    ends = [m.start() for m in marks[1:]] + [len(compact)]
    payload = GS.join(
        m.group(1) + compact[m.end() : end] for m, end in zip(marks, ends, strict=True)
    )
    try:
        message = GS1Message.parse(payload, config=_CONFIG)
    except ParseError:
        return None
    return message.element_strings if message.as_hri() == compact else None


def _parse_digital_link(uri: str) -> GS1ElementStrings:
    # urlsplit raises ValueError on a bad host ("http://x]/", "http://[::1x]/"); biip calls
    # it unguarded, so split here first and let every caller see a Gs1Error.
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise Gs1Error("malformed", f"{uri!r} is not a URI: {exc}") from exc
    try:
        return GS1DigitalLinkURI.parse(uri, config=_CONFIG).element_strings
    except ParseError as exc:
        segments = parts.path.split("/")
        start = next((i for i, seg in enumerate(segments) if _is_known_ai(seg)), len(segments))
        pairs = list(zip(segments[start::2], segments[start + 1 :: 2], strict=False))
        pairs += [(k, v) for k, _, v in (p.partition("=") for p in parts.query.split("&")) if k]
        known = [(key, unquote(value)) for key, value in pairs if _is_known_ai(key)]
        raise _explain_pairs(known, uri, exc) from exc


def _udi_from_elements(elements: GS1ElementStrings, *, text: str) -> Udi:
    found: dict[str, GS1ElementString] = {}
    for es in elements:
        earlier = found.setdefault(es.ai.ai, es)
        if earlier.value != es.value:
            raise Gs1Error(
                "malformed",
                f"AI ({es.ai.ai}) appears twice with different data "
                f"({earlier.value!r}, {es.value!r}) in {text!r}",
            )
    gtin = found.get(_AI_GTIN)
    sscc = found.get(_AI_SSCC)
    if gtin is None and sscc is None:
        raise Gs1Error("missing_gtin", f"{text!r} has neither a GTIN (01) nor an SSCC (00)")

    def value(ai: str) -> str | None:
        es = found.get(ai)
        return None if es is None else es.value

    def date(ai: str) -> datetime.date | None:
        es = found.get(ai)
        if es is None:
            return None
        if es.date is None:  # pragma: no cover - biip raises before this with verify_date
            raise Gs1Error("bad_date", f"AI ({ai}) date {es.value!r} in {text!r} is not valid")
        return es.date

    return Udi(
        gtin=value(_AI_GTIN),
        serial=value(_AI_SERIAL),
        lot=value(_AI_LOT),
        expiry=date(_AI_EXPIRY),
        production_date=date(_AI_PRODUCTION),
        sscc=value(_AI_SSCC),
    )


def _explain_payload(payload: str, exc: ParseError) -> Gs1Error:
    """Find which element of a GS-separated payload biip could not read, and why."""
    rest = payload
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            if len(rest) >= 2 and rest[:2].isdigit():
                return Gs1Error(
                    "unknown_ai",
                    f"no GS1 application identifier starts {rest[:4]!r} "
                    f"(at {rest[:24]!r} in {payload!r})",
                )
            return Gs1Error("malformed", f"expected an AI at {rest[:24]!r} in {payload!r}")
        try:
            element = GS1ElementString.extract(rest, config=_CONFIG)
        except ParseError:
            data = rest[len(ai) :].split(GS, 1)[0]
            return _element_error(ai.ai, data, payload)
        rest = rest[len(element) :].lstrip(GS)
    return Gs1Error("malformed", f"cannot read {payload!r}: {exc}")  # pragma: no cover


def _explain_pairs(pairs: list[tuple[str, str]], text: str, exc: ParseError) -> Gs1Error:
    """Find which (AI, data) pair of an element string or URI biip could not read, and why."""
    for ai, data in pairs:
        if not _is_known_ai(ai):
            return Gs1Error("unknown_ai", f"unknown GS1 application identifier ({ai}) in {text!r}")
        try:
            GS1ElementString.parse(f"{ai}{data}", config=_CONFIG)
        except ParseError:
            return _element_error(ai, data, text)
    return Gs1Error("malformed", f"cannot read {text!r}: {exc}")


def _element_error(ai: str, data: str, text: str) -> Gs1Error:
    if ai in _DATE_AIS:
        return Gs1Error("bad_date", f"AI ({ai}) date {data[:6]!r} in {text!r} is not a valid date")
    return Gs1Error("malformed", f"AI ({ai}) data {data!r} in {text!r} does not fit its format")


def _is_known_ai(ai: str) -> bool:
    if not (ai.isascii() and ai.isdigit()):
        return False
    try:
        return GS1ApplicationIdentifier.extract(ai).ai == ai
    except ParseError:
        return False


# --------------------------------------------------------------------------- fast path


def _parse_common(text: str) -> Udi | None:
    """Read a well-formed code that carries only a Udi's AIs without biip, or return None.

    About 20x cheaper than biip for the forms scanners and the API see most. It validates
    everything the biip path does (check digits, dates, lengths, CSET 82) and declines
    (None) anything it does not fully recognise, including every invalid code, so that
    :func:`_parse_code_biip` produces the result or the error. Same AI twice, both GTIN and
    SSCC, percent-encoding and other AIs are declined too.
    """
    if text.startswith(_FAST_SYMBOLOGIES):
        text = text[3:].strip()
    elif text.startswith("]"):
        return None
    if text.startswith(("https://", "http://")):
        fields = _fast_digital_link(text)
    elif text.startswith("("):
        fields = _fast_hri(text)
    else:
        fields = _fast_payload(text)
    return None if fields is None else _fast_udi(fields)


def _fast_value_ok(ai: str, value: str) -> bool:
    width = _FAST_FIXED_DIGITS.get(ai)
    if width is not None:
        return len(value) == width and value.isascii() and value.isdigit()
    return ai in _FAST_VARIABLE and _FAST_CSET82.fullmatch(value) is not None


def _fast_hri(text: str) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    end = 0
    for match in _FAST_HRI_PAIR.finditer(text):
        ai, value = match.groups()
        if match.start() != end or ai in fields or not _fast_value_ok(ai, value):
            return None
        fields[ai] = value
        end = match.end()
    return fields if end == len(text) else None


def _fast_payload(payload: str) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    payload = payload.lstrip(GS)
    pos, size = 0, len(payload)
    while pos < size:
        ai = payload[pos : pos + 2]
        width = _FAST_FIXED_DIGITS.get(ai)
        if width is not None:
            end = pos + 2 + width
        elif ai in _FAST_VARIABLE:
            end = payload.find(GS, pos + 2)
            end = size if end < 0 else end
        else:
            return None
        value = payload[pos + 2 : end]
        if ai in fields or not _fast_value_ok(ai, value):
            return None
        fields[ai] = value
        pos = end + 1 if payload[end : end + 1] == GS else end
    return fields


def _fast_digital_link(uri: str) -> dict[str, str] | None:
    match = _FAST_DL.fullmatch(uri)
    # A digits-only prefix segment could be a key biip would stop at.
    if match is None or any(seg.isdigit() for seg in match["prefix"].split("/")):
        return None
    fields = {
        ai: value
        for ai, value in (
            (_AI_SSCC, match["sscc"]),
            (_AI_GTIN, match["gtin"]),
            (_AI_LOT, match["lot"]),
            (_AI_SERIAL, match["serial"]),
        )
        if value is not None
    }
    for pair in (match["query"] or "").split("&"):
        ai, equals, value = pair.partition("=")
        if not pair:
            continue
        if not equals or ai not in _FAST_DATES or ai in fields or not _fast_value_ok(ai, value):
            return None
        fields[ai] = value
    return fields


def _fast_udi(fields: dict[str, str]) -> Udi | None:
    key = fields.get(_AI_GTIN) or fields.get(_AI_SSCC)
    if key is None or (_AI_GTIN in fields and _AI_SSCC in fields):
        return None
    if gs1_standard_check_digit(key[:-1]) != int(key[-1]):
        return None
    dates: dict[str, datetime.date] = {}
    for ai in _FAST_DATES & fields.keys():
        try:
            dates[ai] = _biip_date(fields[ai])[0]
        except ValueError:
            return None
    udi = object.__new__(Udi)  # every field is validated above; skip __post_init__'s biip
    for name, value in (
        ("gtin", fields.get(_AI_GTIN)),
        ("serial", fields.get(_AI_SERIAL)),
        ("lot", fields.get(_AI_LOT)),
        ("expiry", dates.get(_AI_EXPIRY)),
        ("production_date", dates.get(_AI_PRODUCTION)),
        ("sscc", fields.get(_AI_SSCC)),
    ):
        object.__setattr__(udi, name, value)
    return udi


# --------------------------------------------------------------------------- element builders


def _element(ai: str, data: str) -> GS1ElementString:
    try:
        return GS1ElementString.parse(f"{ai}{data}", config=_CONFIG)
    except ParseError as exc:
        raise _element_error(ai, data, f"({ai}){data}") from exc


def _date_element(ai: str, date: datetime.date, *, what: str) -> GS1ElementString:
    element = _element(ai, date.strftime("%y%m%d"))
    if element.date != date:
        raise Gs1Error(
            "bad_date",
            f"{what} {date.isoformat()} cannot be written as YYMMDD "
            f"(it would read back as {element.date})",
        )
    return element


def _check_cset82(ai: str, value: str, *, what: str) -> None:
    if not value:
        raise Gs1Error("empty", f"{what} is empty")
    try:
        GS1ElementString.parse(f"{ai}{value}", config=_CONFIG)
    except ParseError as exc:
        raise Gs1Error(
            "malformed",
            f"{what} {value!r} is not valid GS1 data for AI ({ai}) "
            "(1..20 characters of GS1 CSET 82)",
        ) from exc


# --------------------------------------------------------------------------- paths and ids


def unit_path(gtin: str, serial: str) -> str:
    """``/01/<gtin14>/21/<serial>``; the serial is percent-encoded where Digital Link requires.

    For a ledger-safe serial (see :func:`ledger_safe`) the serial appears verbatim, exactly as
    the contract builds the path.
    """
    _check_cset82(_AI_SERIAL, serial, what="serial")
    return f"/01/{validate_gtin(gtin)}/21/{quote(serial, safe='')}"


def lot_path(gtin: str, lot: str) -> str:
    """``/01/<gtin14>/10/<lot>``, percent-encoded like :func:`unit_path`."""
    _check_cset82(_AI_LOT, lot, what="lot")
    return f"/01/{validate_gtin(gtin)}/10/{quote(lot, safe='')}"


def container_path(sscc: str) -> str:
    """``/00/<sscc>`` for a logistic unit."""
    return f"/00/{validate_sscc(sscc)}"


def item_id(path: str) -> bytes:
    """keccak256 of the UTF-8 path: the 32-byte id of an item on the ledger."""
    if not path:
        raise Gs1Error("empty", "item path is empty")
    if not path.startswith(("/01/", "/00/")):
        raise Gs1Error("malformed", f"item path {path!r} must start with /01/ or /00/")
    return keccak(text=path)


def lot_key(gtin: str, lot: str) -> bytes:
    """keccak256 of :func:`lot_path`: the 32-byte key of a lot on the ledger."""
    return keccak(text=lot_path(gtin, lot))


# --------------------------------------------------------------------------- keys


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit for ``digits`` (the key without its check digit)."""
    if not digits:
        raise Gs1Error("empty", "no digits to compute a check digit for")
    if not (digits.isascii() and digits.isdigit()):
        raise Gs1Error("malformed", f"{digits!r} is not all digits")
    return gs1_standard_check_digit(digits)


def validate_gtin(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 and return its 14-digit form."""
    _check_key(gtin, kind="GTIN", lengths=(8, 12, 13, 14))
    try:
        parsed = Gtin.parse(gtin, config=_CONFIG)
    except ParseError as exc:  # pragma: no cover - _check_key covers what biip checks
        raise Gs1Error("malformed", f"GTIN {gtin!r} is not valid: {exc}") from exc
    return parsed.as_gtin_14()


def validate_sscc(sscc: str) -> str:
    """Validate an 18-digit SSCC and return it."""
    _check_key(sscc, kind="SSCC", lengths=(18,))
    try:
        return Sscc.parse(sscc, config=_CONFIG).value
    except ParseError as exc:  # pragma: no cover - _check_key covers what biip checks
        raise Gs1Error("malformed", f"SSCC {sscc!r} is not valid: {exc}") from exc


def _check_key(key: str, *, kind: str, lengths: tuple[int, ...]) -> None:
    if not key:
        raise Gs1Error("empty", f"{kind} is empty")
    if not (key.isascii() and key.isdigit()) or len(key) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise Gs1Error("malformed", f"{kind} {key!r} must be {expected} digits")
    expected_digit = check_digit(key[:-1])
    if int(key[-1]) != expected_digit:
        raise Gs1Error("bad_check_digit", f"check digit of {kind} {key} should be {expected_digit}")


def validate_gln(gln: str) -> str:
    """Validate a 13-digit GLN (company prefix, location reference, check digit); return it."""
    _check_key(gln, kind="GLN", lengths=(13,))
    return gln


def make_gln(*, company_prefix: str, location_reference: int) -> str:
    """Build a GLN: company prefix, location reference (zero-padded), check digit."""
    if not (company_prefix.isascii() and company_prefix.isdigit()) or not (
        6 <= len(company_prefix) <= 12
    ):
        raise Gs1Error("malformed", f"company prefix {company_prefix!r} must be 6..12 digits")
    width = 12 - len(company_prefix)
    if not 0 <= location_reference < 10**width:
        raise Gs1Error("malformed", f"location reference {location_reference} needs {width} digits")
    body = f"{company_prefix}{location_reference:0{width}d}"
    return f"{body}{check_digit(body)}"


def company_prefix_of(gtin_or_sscc: str, prefix: str) -> bool:
    """True if the key's company prefix digits start with ``prefix``.

    The company prefix starts right after the GTIN-14 indicator digit or the SSCC extension
    digit, so UPC company prefixes are written with their leading 0 (GS1 form).
    """
    if not prefix:
        raise Gs1Error("empty", "company prefix is empty")
    if not (prefix.isascii() and prefix.isdigit()):
        raise Gs1Error("malformed", f"company prefix {prefix!r} is not all digits")
    key = validate_sscc(gtin_or_sscc) if len(gtin_or_sscc) == 18 else validate_gtin(gtin_or_sscc)
    return key[1:].startswith(prefix)


def make_sscc(*, extension: int, company_prefix: str, serial_reference: int) -> str:
    """Build an 18-digit SSCC: extension digit, company prefix, serial reference, check digit."""
    body = _key_body(
        first=extension,
        first_name="extension digit",
        company_prefix=company_prefix,
        reference=serial_reference,
        reference_name="serial reference",
        width=16,
    )
    return f"{body}{check_digit(body)}"


def make_gtin(*, indicator: int, company_prefix: str, item_reference: int) -> str:
    """Build a 14-digit GTIN: indicator digit, company prefix, item reference, check digit."""
    body = _key_body(
        first=indicator,
        first_name="indicator digit",
        company_prefix=company_prefix,
        reference=item_reference,
        reference_name="item reference",
        width=12,
    )
    return f"{body}{check_digit(body)}"


def _key_body(
    *,
    first: int,
    first_name: str,
    company_prefix: str,
    reference: int,
    reference_name: str,
    width: int,
) -> str:
    if not 0 <= first <= 9:
        raise Gs1Error("malformed", f"{first_name} {first} must be 0..9")
    if not (company_prefix.isascii() and company_prefix.isdigit()) or not (
        4 <= len(company_prefix) <= min(12, width)
    ):
        raise Gs1Error(
            "malformed", f"company prefix {company_prefix!r} must be 4..{min(12, width)} digits"
        )
    room = width - len(company_prefix)
    if not 0 <= reference < 10**room:
        raise Gs1Error(
            "malformed",
            f"{reference_name} {reference} does not fit in {room} digits "
            f"after company prefix {company_prefix}",
        )
    return f"{first}{company_prefix}{reference:0{room}d}" if room else f"{first}{company_prefix}"


# --------------------------------------------------------------------------- ledger rule


def ledger_safe(value: str, *, what: str) -> str:
    """Return ``value`` if today's contracts accept it as a serial or lot, else raise.

    ``Items.commission`` and ``Devices.registerLot`` still check ``Gs1.isLedgerSafe``:
    ``[0-9A-Za-z-._]``, 1..20 characters; other GS1 characters are valid in a barcode but
    such items cannot be put on the ledger yet (``unsupported_chars``). Everything else
    here (parsing, ids, Digital Link, labels) already takes all of GS1 CSET 82; once the
    contracts call ``Gs1.isCset82`` and ``Gs1.unitId``/``Gs1.lotKey``, whose ids are
    :func:`unit_path`/:func:`lot_path` hashed, this check becomes the CSET 82 one.
    """
    if not value:
        raise Gs1Error("empty", f"{what} is empty")
    for char in value:
        if char not in _LEDGER_CHARS:
            raise Gs1Error(
                "unsupported_chars",
                f"{what} {value!r} contains {char!r}; the ledger accepts only 0-9 A-Z a-z - . _",
            )
    if len(value) > _LEDGER_MAX_LEN:
        raise Gs1Error(
            "unsupported_chars",
            f"{what} {value!r} is {len(value)} characters; the ledger accepts 1..{_LEDGER_MAX_LEN}",
        )
    return value
