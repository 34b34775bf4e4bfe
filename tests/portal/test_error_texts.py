"""Every contract error and problem code has a status and a sentence in both portal
languages: a new Solidity custom error or `ProblemCode` without them fails here."""

from __future__ import annotations

import pytest

from medledger.domain.errors import CONTRACT_ERROR_STATUS, ProblemCode, contract_error_status
from medledger.portal.errors import MESSAGES, PortalFailure, explain
from medledger.portal.i18n import translations
from medledger.sdk.compiler import load_artifacts
from medledger.sdk.errors import ContractError

CODES = sorted(CONTRACT_ERROR_STATUS) + sorted(ProblemCode)


def _abi_errors() -> set[str]:
    return {
        entry["name"]
        for artifact in load_artifacts().values()
        for entry in artifact.abi
        if entry.get("type") == "error"
    }


def test_the_table_names_exactly_the_custom_errors_of_the_contracts() -> None:
    assert set(CONTRACT_ERROR_STATUS) == _abi_errors()
    assert set(CONTRACT_ERROR_STATUS.values()) == {409, 422}


def test_a_contract_error_is_answered_with_its_status_from_the_table() -> None:
    assert contract_error_status(ContractError("ItemsNotHolder", {})) == 409
    assert contract_error_status(ContractError("ItemsUnknownItem", {})) == 422
    assert contract_error_status(ContractError("Panic", {"code": 1})) == 409


@pytest.mark.parametrize("code", CODES)
def test_each_code_has_text_in_english_and_chinese(code: str) -> None:
    assert code in MESSAGES, f"portal.errors.MESSAGES has no text for {code}"
    english = translations("en").gettext(MESSAGES[code])
    chinese = translations("zh_CN").gettext(MESSAGES[code])
    assert english.strip()
    assert chinese != MESSAGES[code], f"no Chinese translation for {code}: {MESSAGES[code]!r}"
    failure = PortalFailure(code, "detail")
    assert "detail" not in explain(failure, translations("zh_CN").gettext)
