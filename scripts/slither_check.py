"""Static analysis gate: runs Slither over `contracts/` and fails on untriaged findings.

Slither gets its compilation through crytic-compile's standard-JSON platform, driving the
same offline npm `solc` wrapper as `sdk.compiler` (`--version`, `--standard-json`), so no
native compiler is needed and nothing is downloaded. Findings that lie wholly in
`node_modules/` (OpenZeppelin) are dropped. Every remaining Medium or High finding must be
listed, with a written justification, in `docs/slither-triage.json` (reasoning in
`docs/SLITHER.md`); otherwise the check prints it and exits 1.

    python -m scripts.slither_check [--all]   # --all also prints Low/Informational findings
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.sdk.compiler import EVM_VERSION, PROJECT_ROOT, SETTINGS, WRAPPER

__all__ = [
    "GATED_IMPACTS",
    "TRIAGE_FILE",
    "Finding",
    "TriageEntry",
    "load_triage",
    "main",
    "run_slither",
    "untriaged",
]

TRIAGE_FILE = PROJECT_ROOT / "docs" / "slither-triage.json"
GATED_IMPACTS = frozenset({"High", "Medium"})
REMAPPINGS = ["@openzeppelin/=node_modules/@openzeppelin/"]
MIN_JUSTIFICATION = 40  # characters: a sentence, not a placeholder


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    impact: str
    confidence: str
    target: str  # the primary element, e.g. "Partners.isActive(address)"
    description: str


@dataclass(frozen=True, slots=True)
class TriageEntry:
    check: str
    target: str
    justification: str

    def covers(self, finding: Finding) -> bool:
        return finding.check == self.check and finding.target == self.target


class TriageError(ValueError):
    """The triage file is malformed."""


def run_slither(*, project_root: Path = PROJECT_ROOT) -> list[Finding]:
    """Every Slither finding on `contracts/`, minus those wholly inside dependencies."""
    from crytic_compile import CryticCompile
    from crytic_compile.platform.solc_standard_json import SolcStandardJson
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    for name in ("CryticCompile", "Slither", "Detectors"):  # solc warnings belong to the build
        logging.getLogger(name).setLevel(logging.ERROR)
    sources = {
        path.relative_to(project_root).as_posix(): {"content": path.read_text()}
        for path in sorted((project_root / "contracts").rglob("*.sol"))
    }
    standard_input: dict[str, Any] = {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "remappings": REMAPPINGS,
            "viaIR": SETTINGS["viaIR"],
            "optimizer": SETTINGS["optimizer"],
            "evmVersion": EVM_VERSION,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
            },
        },
    }
    compilation = CryticCompile(
        SolcStandardJson(standard_input), solc=str(WRAPPER), solc_working_dir=str(project_root)
    )
    # Inline `slither-disable` comments and a stray slither.db.json must not hide anything:
    # the triage file is the single place where findings are accepted.
    slither = Slither(compilation, show_ignored_findings=True)
    for _, detector in inspect.getmembers(all_detectors, inspect.isclass):
        if issubclass(detector, AbstractDetector):
            slither.register_detector(detector)
    findings: list[Finding] = []
    for results in slither.run_detectors():
        for result in results:
            if _only_in_dependencies(result, project_root / "node_modules"):
                continue
            description = str(result["description"]).strip()
            findings.append(
                Finding(
                    check=str(result["check"]),
                    impact=str(result["impact"]),
                    confidence=str(result["confidence"]),
                    target=description.split(" (", 1)[0],
                    description=description,
                )
            )
    return findings


def _only_in_dependencies(result: dict[str, Any], dependencies: Path) -> bool:
    paths = [
        Path(element["source_mapping"].get("filename_absolute") or "/").resolve()
        for element in result.get("elements", [])
        if element.get("source_mapping")
    ]
    return bool(paths) and all(p.is_relative_to(dependencies.resolve()) for p in paths)


def load_triage(path: Path = TRIAGE_FILE) -> list[TriageEntry]:
    """Triage entries; each needs a check, a target and a real justification."""
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise TriageError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, list):
        raise TriageError(f"{path}: expected a JSON list of entries")
    entries: list[TriageEntry] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise TriageError(f"{path}[{i}]: expected an object")
        fields = {k: item.get(k) for k in ("check", "target", "justification")}
        if not all(isinstance(v, str) and v.strip() for v in fields.values()):
            raise TriageError(f"{path}[{i}]: needs non-empty check, target and justification")
        entry = TriageEntry(**{k: str(v).strip() for k, v in fields.items()})
        if len(entry.justification) < MIN_JUSTIFICATION:
            raise TriageError(f"{path}[{i}]: justification too short for {entry.target}")
        entries.append(entry)
    return entries


def untriaged(findings: Sequence[Finding], triage: Sequence[TriageEntry]) -> list[Finding]:
    """Gated (Medium/High) findings that no triage entry covers."""
    return [
        f for f in findings if f.impact in GATED_IMPACTS and not any(t.covers(f) for t in triage)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--all", action="store_true", help="also print Low/Informational")
    parser.add_argument("--triage", type=Path, default=TRIAGE_FILE, help="triage JSON file")
    args = parser.parse_args(argv)
    try:
        triage = load_triage(args.triage)
    except TriageError as exc:
        print(f"slither: bad triage file: {exc}")
        return 1
    try:
        findings = run_slither()
    except Exception as exc:  # any toolchain failure must fail the gate loudly
        print(f"slither: could not analyse contracts/: {type(exc).__name__}: {exc}")
        return 1
    failing = untriaged(findings, triage)
    if args.all:
        for f in findings:
            print(f"[{f.impact}/{f.confidence}] {f.check}: {f.description}\n")
    for f in failing:
        print(f"UNTRIAGED [{f.impact}/{f.confidence}] {f.check}: {f.description}\n")
    stale = [t for t in triage if not any(t.covers(f) for f in findings)]
    for t in stale:
        print(f"note: triage entry no longer matches any finding: {t.check} {t.target}")
    counts = Counter(f.impact for f in findings)
    gated = sum(counts[i] for i in GATED_IMPACTS)
    breakdown = ", ".join(f"{counts[i]} {i}" for i in ("High", "Medium", "Low", "Informational"))
    verdict = f"FAIL: {len(failing)} untriaged" if failing else "OK"
    print(
        f"slither: {len(findings)} findings in contracts/ ({breakdown}, "
        f"{counts['Optimization']} Optimization); {gated - len(failing)} of {gated} "
        f"Medium/High triaged in {_display(args.triage)}: {verdict}"
    )
    return 1 if failing else 0


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
