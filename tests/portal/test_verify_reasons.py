"""Every verdict and every reason a verdict can give is worded on the verification page, in
zh-CN and English (the API's own text is English only); every scan alert the regulator
gets is worded on the regulator's pages."""

from __future__ import annotations

from medledger.domain.alerts import AlertKind
from medledger.domain.verdicts import ReasonCode, Verdict
from medledger.portal.i18n import translations
from medledger.portal.routes.regulator import ALERT_KINDS, ALERT_SUMMARIES
from medledger.portal.routes.verify import REASONS, VERDICTS


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_reason_code_has_its_words_in_both_languages() -> None:
    assert set(REASONS) == set(ReasonCode)
    chinese = translations("zh_CN")
    for code, english in REASONS.items():
        assert english, code
        worded = chinese.gettext(english)
        assert worded != english, f"{code}: no zh-CN translation of {english!r}"
        assert _chinese(worded), code


def test_every_verdict_is_named_in_both_languages() -> None:
    assert set(VERDICTS) == set(Verdict)
    for verdict, (zh, en) in VERDICTS.items():
        assert _chinese(zh), verdict
        assert en and en.isascii(), verdict


def test_every_alert_kind_has_its_words_in_both_languages() -> None:
    assert set(ALERT_KINDS) == set(ALERT_SUMMARIES) == set(AlertKind)
    chinese = translations("zh_CN")
    for kind in AlertKind:
        for english in (ALERT_KINDS[kind], ALERT_SUMMARIES[kind]):
            assert english, kind
            assert _chinese(chinese.gettext(english)), f"{kind}: no zh-CN text of {english!r}"


def test_the_two_places_reason_says_whose_scans_count() -> None:
    english = REASONS[ReasonCode.TWO_PLACES]
    assert "Only members' scans count" in english
    assert "匿名扫描不会改变" in translations("zh_CN").gettext(english)
