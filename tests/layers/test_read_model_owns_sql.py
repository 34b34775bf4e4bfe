"""Only the read model (the `indexer` package) holds SQL text and table definitions;
every other package calls its typed queries."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE_THE_READ_MODEL = (
    "medledger", "ops", "api", "portal", "engines", "node", "web", "domain", "runtime",
    "sdk", "scripts",
)  # fmt: skip
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s|ALTER\s+TABLE\s|WITH\s+\w+\s+AS\s*\()",
    re.DOTALL,
)
TABLE_MAKERS = {"Table", "MetaData", "SQLModel"}


def _modules() -> list[Path]:
    return sorted(p for pkg in OUTSIDE_THE_READ_MODEL for p in (ROOT / pkg).rglob("*.py"))


def _sql_strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL.match(node.value):
                found.append((node.lineno, node.value[:60]))
    return found


def _from_sqlalchemy(tree: ast.AST) -> set[str]:
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").split(".")[0] in ("sqlalchemy", "sqlmodel")
        for alias in node.names
    } | {"sa", "sqlalchemy"}


def _table_definitions(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    ours = _from_sqlalchemy(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, "id", None)
            if isinstance(func, ast.Attribute) and getattr(func.value, "id", None) in ours:
                name = func.attr
            elif name not in ours:
                name = None
            if name in TABLE_MAKERS:
                found.append((node.lineno, str(name)))
        if isinstance(node, ast.ClassDef) and any(
            getattr(b, "id", None) == "SQLModel" for b in node.bases
        ):
            found.append((node.lineno, node.name))
    return found


def test_the_scan_sees_sql_where_there_is_sql() -> None:
    tree = ast.parse(
        'q = "SELECT a FROM t WHERE b = ?"\nw = "  INSERT INTO scans (a) VALUES (1)"\n'
        'm = MetaData()\nt = Table("x", m)\nprose = "Select the lot from the list"\n'
        "from sqlalchemy import MetaData, Table\nfrom rich.table import Table as Grid\n"
        "g = Grid()\n"
    )
    assert [line for line, _ in _sql_strings(tree)] == [1, 2]
    assert [line for line, _ in _table_definitions(tree)] == [3, 4]


def test_no_sql_text_outside_the_read_model() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in _modules()
        for line, text in _sql_strings(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == []


def test_no_table_definitions_outside_the_read_model() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in _modules()
        for line, name in _table_definitions(ast.parse(path.read_text(), str(path)))
    ]
    assert offenders == []
