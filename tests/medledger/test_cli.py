from __future__ import annotations

import json

from typer.testing import CliRunner

from medledger.cli import app

runner = CliRunner()


def test_gs1_parse_prints_the_canonical_ids_of_a_datamatrix_payload() -> None:
    result = runner.invoke(app, ["gs1", "parse", "]d201095060001343521727013110L1\x1d21SN1"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed["gtin"] == "09506000134352"
    assert parsed["serial"] == "SN1"
    assert parsed["expiry"] == "2027-01-31"
    assert parsed["item_id"].startswith("0x") and len(parsed["item_id"]) == 66


def test_gs1_parse_names_the_bad_check_digit_and_exits_non_zero() -> None:
    result = runner.invoke(app, ["gs1", "parse", "(01)09506000134353(21)X"])
    assert result.exit_code == 2
    assert "09506000134353" in result.output
    assert "should be 2" in result.output


def test_compile_lists_every_deployable_contract() -> None:
    result = runner.invoke(app, ["compile"])
    assert result.exit_code == 0, result.output
    for name in ("Partners", "Devices", "Items", "Records"):
        assert name in result.output
