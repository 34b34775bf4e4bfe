"""Start-up fails, naming the module, when a portal page module cannot be loaded."""

from __future__ import annotations

import sys
import types

import pytest

from medledger.portal.app import PAGE_MODULES, page_module
from medledger.portal.errors import PortalStartupError
from medledger.sdk.errors import MedLedgerError


def test_every_listed_page_module_loads_with_a_router() -> None:
    for name in PAGE_MODULES:
        assert page_module(name).__name__ == name


def test_a_missing_page_module_fails_start_up_naming_it() -> None:
    with pytest.raises(PortalStartupError, match=r"portal\.routes\.no_such_page") as caught:
        page_module("portal.routes.no_such_page")
    assert caught.value.module == "portal.routes.no_such_page"
    assert isinstance(caught.value, MedLedgerError)


def test_a_page_module_that_raises_on_import_fails_start_up_naming_it(tmp_path, monkeypatch):
    (tmp_path / "broken_portal_page.py").write_text("raise RuntimeError('template missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PortalStartupError, match="broken_portal_page.*template missing"):
        page_module("broken_portal_page")


def test_a_page_module_without_a_router_fails_start_up(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "routerless_page", types.ModuleType("routerless_page"))
    with pytest.raises(PortalStartupError, match="routerless_page.*router"):
        page_module("routerless_page")
