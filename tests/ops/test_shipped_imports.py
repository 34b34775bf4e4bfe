"""What ships imports neither the developer tools (`scripts`) nor the tests, and the SDK a
partner's ERP installs does not need eth-tester (a development dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [
    "medledger",
    "domain",
    "web",
    "sdk",
    "node",
    "indexer",
    "api",
    "portal",
    "ops",
    "engines",
]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def test_no_shipped_module_imports_scripts_or_tests() -> None:
    offenders = {
        path: sorted(n for n in names if _top(n) in {"scripts", "tests"})
        for package in SHIPPED
        for path, names in _imports(package).items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_sdk_does_not_import_eth_tester() -> None:
    offenders = {
        path: sorted(n for n in names if _top(n) == "eth_tester")
        for path, names in _imports("sdk").items()
    }
    assert {path: names for path, names in offenders.items() if names} == {}
