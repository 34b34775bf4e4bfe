"""Compiles `contracts/` offline with py-solc-x driving the pinned npm `solc`.

Artifacts (ABI, creation and runtime bytecode) are cached under `build/contracts/`, keyed
by a hash of every source, the compiler and OpenZeppelin versions and the settings, so a
change to any of them rebuilds and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.sdk.errors import ToolchainError

__all__ = [
    "DELEGATED_MODULES",
    "EVM_VERSION",
    "PROJECT_ROOT",
    "ContractArtifact",
    "compile_contracts",
    "load_artifacts",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
BUILD_DIR = PROJECT_ROOT / "build" / "contracts"
WRAPPER = Path(__file__).resolve().parent / "toolchain" / "solc-wrapper.cjs"
# py-evm 0.12 (our node) knows forks up to Prague; solc 0.8.37 would default to Osaka.
EVM_VERSION = "prague"
# The IR pipeline with a high `runs` (contracts are deployed once and called for ever) cuts
# a single-item Items.ship from ~4,500 to ~3,300 opcodes: our node interprets each one.
SETTINGS: dict[str, Any] = {
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 100_000},
    "evmVersion": EVM_VERSION,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


# A contract whose fallback delegates to a module deployed with it: its ABI also lists the
# module's functions, events and errors, since callers reach them at the contract's address.
DELEGATED_MODULES: dict[str, tuple[str, ...]] = {"Items": ("ItemsLots",)}


@dataclass(frozen=True, slots=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    source_hash: str


def load_artifacts(*, contracts_dir: Path = CONTRACTS_DIR) -> dict[str, ContractArtifact]:
    """Every deployable contract by name, compiled if the cache is stale."""
    return compile_contracts(contracts_dir=contracts_dir)


def compile_contracts(
    *, contracts_dir: Path = CONTRACTS_DIR, build_dir: Path = BUILD_DIR, force: bool = False
) -> dict[str, ContractArtifact]:
    node_modules = _check_toolchain()
    sources = _read_sources(contracts_dir)
    source_hash = _source_hash(sources, node_modules)
    cache = build_dir / f"{source_hash}.json"
    if cache.exists() and not force:
        return _parse_cache(json.loads(cache.read_text()), source_hash)
    output = _run_solc(sources)
    contracts: dict[str, Any] = {}
    for path, by_name in output.get("contracts", {}).items():
        if not path.startswith("contracts/"):
            continue
        for name, data in by_name.items():
            code = data["evm"]["bytecode"]["object"]
            if code and data["abi"]:  # skip interfaces and internal-only libraries
                contracts[name] = {
                    "abi": data["abi"],
                    "bytecode": code,
                    "deployed_bytecode": data["evm"]["deployedBytecode"]["object"],
                }
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"source_hash": source_hash, "contracts": contracts}))
    os.replace(tmp, cache)
    return _parse_cache({"contracts": contracts}, source_hash)


def _check_toolchain() -> Path:
    if shutil.which("node") is None:
        raise ToolchainError(
            "Node.js is not installed: the Solidity compiler runs as the npm package `solc`. "
            "Install Node.js >= 18 with npm (Debian: `apt-get install nodejs npm`), "
            f"then run `npm ci` in {PROJECT_ROOT}."
        )
    node_modules = PROJECT_ROOT / "node_modules"
    for package in ("solc", "@openzeppelin/contracts"):
        if not (node_modules / package / "package.json").exists():
            raise ToolchainError(
                f"npm package `{package}` is missing from {node_modules}: run `npm ci` in "
                f"{PROJECT_ROOT} (or `make setup`)."
            )
    return node_modules


def _read_sources(contracts_dir: Path) -> dict[str, str]:
    files = sorted(contracts_dir.rglob("*.sol"))
    if not files:
        raise ToolchainError(f"no Solidity sources under {contracts_dir}")
    return {f"contracts/{p.relative_to(contracts_dir).as_posix()}": p.read_text() for p in files}


def _source_hash(sources: dict[str, str], node_modules: Path) -> str:
    digest = hashlib.sha256()
    for path, text in sorted(sources.items()):
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    for package in ("solc", "@openzeppelin/contracts"):
        version = json.loads((node_modules / package / "package.json").read_text())["version"]
        digest.update(f"{package}@{version}\0".encode())
    digest.update(json.dumps(SETTINGS, sort_keys=True).encode())
    digest.update(WRAPPER.read_bytes())
    return digest.hexdigest()[:32]


def _run_solc(sources: dict[str, str]) -> dict[str, Any]:
    import solcx  # imported late: only a cache miss needs it
    from solcx.exceptions import SolcError

    standard_input = {
        "language": "Solidity",
        "sources": {path: {"content": text} for path, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output: dict[str, Any] = solcx.compile_standard(standard_input, solc_binary=WRAPPER)
    except SolcError as exc:
        try:
            output = json.loads(exc.stdout_data or "")
        except (TypeError, ValueError):
            raise ToolchainError(f"solc failed: {exc.stderr_data or exc.message}") from exc
        _raise_for_errors(output)
        raise ToolchainError(f"solc failed: {exc.message}") from exc
    _raise_for_errors(output)
    return output


def _raise_for_errors(output: dict[str, Any]) -> None:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError(
            "Solidity compilation failed:\n"
            + "\n".join(e.get("formattedMessage", e["message"]) for e in errors)
        )


def _with_modules(name: str, contracts: dict[str, Any]) -> list[dict[str, Any]]:
    """`name`'s ABI plus the entries of the modules its fallback delegates to."""
    abi: list[dict[str, Any]] = list(contracts[name]["abi"])
    seen = {json.dumps(entry, sort_keys=True) for entry in abi}
    for module in DELEGATED_MODULES.get(name, ()):
        for entry in contracts.get(module, {}).get("abi", []):
            key = json.dumps(entry, sort_keys=True)
            if entry.get("type") != "constructor" and key not in seen:
                seen.add(key)
                abi.append(entry)
    return abi


def _parse_cache(data: dict[str, Any], source_hash: str) -> dict[str, ContractArtifact]:
    contracts: dict[str, Any] = data["contracts"]
    return {
        name: ContractArtifact(
            name=name,
            abi=_with_modules(name, contracts),
            bytecode=bytes.fromhex(c["bytecode"]),
            deployed_bytecode=bytes.fromhex(c["deployed_bytecode"]),
            source_hash=source_hash,
        )
        for name, c in contracts.items()
    }
