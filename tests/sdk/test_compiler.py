from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medledger.sdk.compiler import CONTRACTS_DIR, EVM_VERSION, compile_contracts
from medledger.sdk.errors import ToolchainError


def _copy_contracts(tmp_path: Path) -> Path:
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, target)
    return target


# A tiny contract shows the caching as well as the whole suite would, in a second instead
# of half a minute; every contract test compiles (or loads) the real suite.
COUNTER = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

interface ICounter {
    function bump() external;
}

contract Counter is ICounter {
    uint256 public count;

    function bump() external {
        count += 1;
    }
}
"""


def test_artifacts_are_cached_by_source_hash_and_rebuilt_when_a_source_changes(
    tmp_path: Path,
) -> None:
    sources, build = tmp_path / "contracts", tmp_path / "build"
    sources.mkdir()
    counter = sources / "Counter.sol"
    counter.write_text(COUNTER)
    first = compile_contracts(contracts_dir=sources, build_dir=build)
    assert set(first) == {"Counter"}  # the interface has no bytecode
    assert first["Counter"].bytecode and first["Counter"].deployed_bytecode
    [cache] = build.glob("*.json")
    written = (cache.stat().st_ino, cache.stat().st_mtime_ns)

    again = compile_contracts(contracts_dir=sources, build_dir=build)
    assert again == first
    assert list(build.glob("*.json")) == [cache]
    assert (cache.stat().st_ino, cache.stat().st_mtime_ns) == written  # read, not rewritten

    counter.write_text(COUNTER + "\n// a comment changes the source hash\n")
    rebuilt = compile_contracts(contracts_dir=sources, build_dir=build)
    assert rebuilt["Counter"].source_hash != first["Counter"].source_hash
    assert len(list(build.glob("*.json"))) == 2


def test_a_solidity_error_is_reported_with_its_file_and_message(tmp_path: Path) -> None:
    sources = _copy_contracts(tmp_path)
    (sources / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\n"
        "pragma solidity ^0.8.24;\n"
        "contract Broken { uint x = ; }\n"
    )
    with pytest.raises(ToolchainError) as err:
        compile_contracts(contracts_dir=sources, build_dir=tmp_path / "build")
    assert "Broken.sol" in str(err.value)
    assert "Solidity compilation failed" in str(err.value)


def test_missing_node_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="Node.js is not installed.*npm ci"):
        compile_contracts(build_dir=tmp_path / "build", force=True)


def test_no_sources_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no Solidity sources under"):
        compile_contracts(contracts_dir=tmp_path, build_dir=tmp_path / "build")


def test_the_evm_version_is_pinned_to_a_fork_py_evm_knows() -> None:
    from eth.vm.forks import PragueVM

    assert EVM_VERSION == "prague"
    assert PragueVM.fork == EVM_VERSION
