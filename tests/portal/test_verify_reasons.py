"""Every reason a verdict can give is worded on the verification page, in zh-CN and
English (the API's own text is English only)."""

from __future__ import annotations

from domain.verification import ReasonCode
from portal.i18n import translations
from portal.routes.verify import REASONS


def test_every_reason_code_has_its_words_in_both_languages() -> None:
    assert set(REASONS) == set(ReasonCode)
    chinese = translations("zh_CN")
    for code, english in REASONS.items():
        assert english, code
        worded = chinese.gettext(english)
        assert worded != english, f"{code}: no zh-CN translation of {english!r}"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in worded), code


def test_the_two_places_reason_says_whose_scans_count() -> None:
    english = REASONS[ReasonCode.TWO_PLACES]
    assert "Only members' scans count" in english
    assert "匿名扫描不会改变" in translations("zh_CN").gettext(english)
