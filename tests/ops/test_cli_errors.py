"""The ops commands refuse bad input with a message naming the value."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from medledger.cli import app

runner = CliRunner()


def _said(output: str) -> str:
    return " ".join(output.split())  # rich wraps long messages


def test_simulate_refuses_a_non_positive_rate() -> None:
    result = runner.invoke(app, ["demo", "simulate", "--rate", "0"])
    assert result.exit_code == 2
    assert "--rate must be > 0, not 0" in _said(result.output)


def test_simulate_without_a_running_stack_names_the_missing_urls_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "simulate", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "urls.json does not exist" in _said(result.output)


def test_soak_refuses_non_positive_minutes() -> None:
    result = runner.invoke(app, ["bench", "soak", "--minutes", "-1"])
    assert result.exit_code == 2
    assert "--minutes -1.0" in _said(result.output)


def test_up_on_an_external_chain_needs_its_deployment_file(tmp_path: Path) -> None:
    argv = ["up", "--data-dir", str(tmp_path), "--chain-rpc", "http://127.0.0.1:9"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert "--chain-rpc http://127.0.0.1:9 needs a deployment file" in _said(result.output)


def test_up_reset_refuses_a_directory_that_is_not_a_stack(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["up", "--data-dir", str(tmp_path), "--reset"])
    assert result.exit_code == 2
    assert "holds no MedLedger stack" in _said(result.output)
    assert (tmp_path / "notes.txt").exists()


def test_up_names_a_port_that_is_already_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["up", "--data-dir", str(tmp_path), "--sequencer-port", "0", "--follower-port"]
        argv += ["0", "--regulator-api-port", "0", "--api-port", str(port)]
        result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert f"port {port} (partner API) is already in use" in _said(result.output)
    assert "--api-port" in result.output
    assert not (tmp_path / "secrets").exists()  # refused before anything was created
