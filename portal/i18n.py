"""Languages of the portal: which one a request gets, its Babel message catalogs, and
locale-aware formatting of dates, numbers and temperatures.

The language comes from `?lang=zh|en`, then the `lang` cookie, then Accept-Language;
zh-CN is the default. Catalogs are the `.po` files under `portal/locale/<locale>/
LC_MESSAGES/`; every `*.po` there is loaded (so each page family may keep its own file,
e.g. `messages.po` and `regulator.po`) and compiled in memory at first use, so a fresh
clone needs no build step. Message ids are the English text: a missing translation
shows English.

Update catalogs after adding `_("...")` calls:

    .venv/bin/pybabel extract -F portal/babel.cfg -k _l -o /tmp/portal.pot portal
    .venv/bin/pybabel update -i /tmp/portal.pot -d portal/locale -D messages
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

from medledger.sdk.dates import consortium_zone, day_of

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Lang",
    "choose_lang",
    "translations",
]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANG_COOKIE = "lang"


@dataclass(frozen=True, slots=True)
class Lang:
    """One portal language: its short code (`?lang=`), Babel locale and HTML tag."""

    code: str
    locale: str
    html: str
    name: str  # in its own language, for the switch


LANGS: dict[str, Lang] = {
    "zh": Lang("zh", "zh_CN", "zh-CN", "中文"),
    "en": Lang("en", "en", "en", "English"),
}
DEFAULT_LANG = LANGS["zh"]


def choose_lang(request: Request) -> Lang:
    """`?lang=`, else the cookie, else the best Accept-Language match, else zh-CN."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGS:
            return LANGS[value]
    header = request.headers.get("accept-language", "")
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()))
    for quality, tag in sorted(ranked, key=lambda r: -r[0]):
        primary = tag.split("-")[0]
        if quality > 0 and primary in LANGS:
            return LANGS[primary]
    return DEFAULT_LANG


@cache
def translations(locale: str) -> Translations:
    """Every catalog of `locale`, compiled in memory and merged."""
    merged = Translations()
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        merged.merge(Translations(fp=buffer))
    return merged


class Formatter:
    """Locale-aware formatting for one language (exposed to templates as `fmt`)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.locale = Locale.parse(lang.locale)

    def datetime(self, timestamp: int | None) -> str:
        if timestamp is None:
            return "—"
        moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        zone = consortium_zone()
        return dates.format_datetime(moment, "medium", tzinfo=zone, locale=self.locale)

    def date(self, value: int | dt.date | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, int):
            value = day_of(value)
        return dates.format_date(value, "medium", locale=self.locale)

    def number(self, value: float | int | None) -> str:
        return "—" if value is None else numbers.format_decimal(value, locale=self.locale)

    def temperature(self, tenths: int | None) -> str:
        """A temperature kept in tenths of a degree Celsius, e.g. `2.5 °C`."""
        if tenths is None:
            return "—"
        return numbers.format_decimal(tenths / 10, "#,##0.0", locale=self.locale) + " °C"

    def percent(self, fraction: float) -> str:
        return numbers.format_percent(fraction, "#,##0%", locale=self.locale)
