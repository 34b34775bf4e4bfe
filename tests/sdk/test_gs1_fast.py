"""Differential tests: sdk.gs1's biip-free fast path against the biip path it short-cuts.

For valid codes in every form, and for the same codes mutated (wrong check digit, bad dates,
odd characters, truncated, extra AIs), the fast path either declines (None) or returns exactly
the Udi the biip path returns, and parse_code's result or error (code and message) is the biip
path's.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import GS, Udi, _parse_code_biip, _parse_common, parse_code
from tests.sdk.test_gs1 import CSET82_ALPHABET, LEDGER_ALPHABET, gtins, ssccs

Element = tuple[str, str]
Outcome = Udi | tuple[str, str]

SYMBOLOGIES = ["", "]d2", "]C1", "]Q3", "]e0", "]E0", "]d1"]
FORMS = ["hri", "payload", "link"]
# Characters scanners and forgers put where they do not belong.
ODD_CHARS = "0123456789AZaz()/?&=%#é \t\x00" + GS
EXTRA_ELEMENTS: list[Element] = [
    ("99", "X1"),
    ("17", "270231"),
    ("23", "99X"),
    ("22", "CPV"),
    ("01", "09506000134352"),
    ("00", "106141411234567897"),
    ("21", "OTHER"),
]


def outcome(parse: Callable[[str], Udi], text: str) -> Outcome:
    try:
        return parse(text)
    except Gs1Error as exc:
        return (exc.code, str(exc))


def yymmdd(date: datetime.date) -> str:
    return date.strftime("%y%m%d")


valid_dates = st.dates(datetime.date(1980, 1, 1), datetime.date(2070, 12, 31)).map(yymmdd)
# Day 00 (last day of the month), month 00/13, 30 February, 31 April...
raw_dates = st.from_regex(r"[0-9]{2}(0[0-9]|1[0-3])[0-3][0-9]", fullmatch=True)


@st.composite
def elements(draw: st.DrawFn, *, valid: bool) -> list[Element]:
    """A Udi's elements in print order: key, dates, lot, serial (each optional but the key)."""
    values = st.text(alphabet=LEDGER_ALPHABET if valid else CSET82_ALPHABET, min_size=1)
    dates = valid_dates if valid else st.one_of(valid_dates, raw_dates)
    key = draw(st.one_of(gtins().map(lambda g: ("01", g)), ssccs().map(lambda s: ("00", s))))
    result = [key]
    for ai, strategy in (
        ("11", dates),
        ("17", dates),
        ("10", values.filter(lambda v: len(v) <= 20)),
        ("21", values.filter(lambda v: len(v) <= 20)),
    ):
        if (ai == "21" and key[0] == "00") or not draw(st.booleans()):
            continue
        result.append((ai, draw(strategy)))
    return result


def render(form: str, elements: list[Element], *, base: str = "https://id.example") -> str:
    if form == "hri":
        return "".join(f"({ai}){value}" for ai, value in elements)
    if form == "payload":
        parts = [f"{ai}{value}{GS if ai in ('10', '21') else ''}" for ai, value in elements]
        return "".join(parts).rstrip(GS)
    # Lot and serial qualify a GTIN in the path; anything else goes in the query.
    in_path = ("00", "01", "10", "21") if elements[0][0] == "01" else ("00",)
    path = [f"/{ai}/{value}" for ai, value in elements if ai in in_path]
    query = "&".join(f"{ai}={value}" for ai, value in elements if ai not in in_path)
    return base + "".join(path) + (f"?{query}" if query else "")


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "check", "extra"]))
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if kind == "replace":
            text = text[:at] + draw(st.sampled_from(ODD_CHARS)) + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(ODD_CHARS)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "truncate":
            text = text[:at]
        elif kind == "check":
            # Flip a digit: often the key's check digit, always a digit somewhere.
            digits = [i for i, char in enumerate(text) if char.isdigit()]
            if digits:
                i = draw(st.sampled_from(digits))
                text = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
        else:
            ai, value = draw(st.sampled_from(EXTRA_ELEMENTS))
            text += draw(st.sampled_from([f"({ai}){value}", f"{GS}{ai}{value}", f"&{ai}={value}"]))
    return text


@st.composite
def codes(draw: st.DrawFn, *, valid: bool) -> str:
    form = draw(st.sampled_from(FORMS))
    base = draw(st.sampled_from(["https://id.example", "http://x.example:8080/a/b-c"]))
    text = render(form, draw(elements(valid=valid)), base=base)
    prefix = draw(st.sampled_from(SYMBOLOGIES))
    padding = draw(st.sampled_from(["", " ", "\n", GS if form == "payload" else ""]))
    return f"{padding}{prefix}{text}{padding}"


def assert_fast_path_agrees(text: str) -> Udi | None:
    reference = outcome(_parse_code_biip, text)
    fast = _parse_common(text.strip())
    if fast is not None:
        assert fast == reference, (text, fast, reference)
    stripped = text.strip()
    if len(stripped) == 18 and stripped.isascii() and stripped.isdigit():
        # parse_code reads a bare 18-digit SSCC, which biip does not (tests/sdk/test_gs1.py).
        read = outcome(parse_code, text)
        if isinstance(read, Udi):
            assert read.sscc == stripped, text
        else:
            assert read[0] == "bad_check_digit", (text, read)
        return fast
    assert outcome(parse_code, text) == reference, text
    return fast


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(codes(valid=True))
def test_valid_codes_in_every_form_take_the_fast_path_with_the_biip_result(text: str) -> None:
    fast = assert_fast_path_agrees(text)
    # The fast path leaves EAN/non-GS1 identifiers and an SSCC's lot (a query AI) to biip.
    if not text.strip().startswith(("]e0", "]E0", "]d1")) and not re.search(r"[?&]10=", text):
        assert fast is not None, f"fast path declined a well-formed code {text!r}"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_and_invalid_codes_give_exactly_the_biip_result_or_error(
    data: st.DataObject,
) -> None:
    text = data.draw(codes(valid=False))
    if data.draw(st.booleans()):
        text = data.draw(mutated(text))
    assert_fast_path_agrees(text)


def test_the_fast_path_declines_what_it_does_not_fully_recognise() -> None:
    gtin = "09506000134352"
    declined = [
        f"(01){gtin}(21)SN1(99)X",  # another AI
        f"(01){gtin}(21)SN1(21)SN1",  # same AI twice
        f"(01){gtin}(21)A(B",  # "(" inside a value
        f"(01) {gtin} (21) SN1",  # spaced HRI
        f"https://x/01/{gtin}/21/A%2FB",  # percent-encoding
        f"HTTPS://x/01/{gtin}/21/SN1",
        f"https://x/01/{gtin}/21/SN1?17=270131&linkType=gs1:pip",
        f"]E0{gtin}",
        f"01{gtin}21{'A' * 21}",  # serial longer than 20: biip splits it
        f"(01){gtin[:-1]}3(21)SN1",  # wrong check digit: biip words the error
        f"(01){gtin}(17)270230(21)SN1",  # 30 February
    ]
    for text in declined:
        assert _parse_common(text) is None, text
        assert_fast_path_agrees(text)


def test_day_00_is_the_last_day_of_the_month_on_the_fast_path() -> None:
    udi = _parse_common("(01)09506000134352(17)280200(21)SN1")
    assert udi is not None
    assert udi.expiry == datetime.date(2028, 2, 29)
