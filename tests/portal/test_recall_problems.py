"""Every problem the recall, regulator and document use cases raise that a portal page
can show is worded there, in zh-CN and English (the API's own text is English only)."""

from __future__ import annotations

from medledger.domain.document_upload import DocumentProblem
from medledger.domain.recalls import RecallProblem
from medledger.domain.regulator import RegulatorProblem
from medledger.portal.errors import MESSAGES
from medledger.portal.i18n import translations
from medledger.portal.routes import regulator  # noqa: F401 (registers the regulator's messages)

# JSON-only: the portal sends files, never base64 text.
API_ONLY = {DocumentProblem.INVALID_BASE64}


def test_every_recall_regulator_and_document_problem_has_words_in_both_languages() -> None:
    chinese = translations("zh_CN")
    codes = [*RecallProblem, *RegulatorProblem, *DocumentProblem]
    for code in (c for c in codes if c not in API_ONLY):
        english = MESSAGES.get(code)
        assert english, f"{code}: no words on the portal"
        worded = chinese.gettext(english)
        assert worded != english, f"{code}: no zh-CN translation of {english!r}"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in worded), code
