"""What an install of MedLedger puts in site-packages: one top-level name, `medledger`,
with every piece of the repository (api/, node/, …) as its subpackage."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
PIECES = ("api", "portal", "web", "domain", "indexer", "runtime", "sdk", "node", "ops", "engines")


def _installed_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return find_packages(where=str(ROOT), include=include)


def test_an_install_claims_only_the_medledger_name() -> None:
    packages = _installed_packages()
    assert {p.split(".")[0] for p in packages} == {"medledger"}


def test_every_piece_of_the_repository_is_a_medledger_subpackage() -> None:
    packages = set(_installed_packages())
    for piece in PIECES:
        assert (ROOT / piece / "__init__.py").is_file()
        assert (ROOT / "medledger" / piece).resolve() == (ROOT / piece).resolve()
        assert f"medledger.{piece}" in packages
    nested = {p for p in packages if p.count(".") >= 2}
    assert "medledger.api.routes" in nested and "medledger.indexer.store" in nested
