"""`medledger devices import|export` on the real chain (eth-tester) through the API's own
services: exit codes 0 (all in), 1 (some rows refused, listed) and 2 (the file, format
or member cannot be used, named in the message)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medledger.cli import app
from medledger.ops.demo import data as sample_data
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
runner = CliRunner()
SAMPLE = Path(sample_data.__file__).parent / "master_sample.csv"


def test_import_prints_the_counts_and_exits_zero_then_reimport_is_unchanged(
    partner: PartnerEnv,
) -> None:
    services = partner.api.services
    member = partner.api.consortium.manufacturer.address
    args = ["devices", "import", str(SAMPLE), "--member", member]
    first = runner.invoke(app, args, obj=services, env={"LANG": "en_GB.UTF-8"})
    assert first.exit_code == 0, first.output
    assert "11 created, 0 updated, 0 unchanged, 0 refused" in first.output
    again = runner.invoke(app, args, obj=services, env={"LANG": "zh_CN.UTF-8"})
    assert again.exit_code == 0, again.output
    assert "新建 0 个，更新 0 个，未变 11 个，拒绝 0 个" in again.output


def test_refused_rows_exit_one_with_row_column_and_reason(
    partner: PartnerEnv, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    lines = SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    bad.write_text("\n".join([lines[0], lines[1].replace("09506000201016", "09506000201017")]))
    member = partner.api.consortium.manufacturer.address
    result = runner.invoke(
        app,
        ["devices", "import", str(bad), "--member", member],
        obj=partner.api.services,
        env={"LANG": "en_GB.UTF-8"},
    )
    assert result.exit_code == 1, result.output
    assert "1 refused" in result.output
    assert "09506000201017" in result.output and "check digit" in result.output


def test_an_unreadable_file_or_unknown_format_exits_two_naming_it(
    partner: PartnerEnv, tmp_path: Path
) -> None:
    member = partner.api.consortium.manufacturer.address
    services = partner.api.services
    env = {"LANG": "en_GB.UTF-8"}
    missing = runner.invoke(
        app, ["devices", "import", str(tmp_path / "nope.csv"), "--member", member], env=env
    )
    assert missing.exit_code == 2 and "nope.csv" in missing.output
    text = tmp_path / "notes.txt"
    text.write_text("x")
    wrong = runner.invoke(app, ["devices", "import", str(text), "--member", member], env=env)
    # the console wraps long lines (a deep tmp path under xdist): compare words
    assert wrong.exit_code == 2
    assert "unsupported file type: notes.txt" in " ".join(wrong.output.split())
    fmt = runner.invoke(
        app, ["devices", "export", "--member", member, "--format", "pdf"], obj=services, env=env
    )
    assert fmt.exit_code == 2 and "--format pdf" in fmt.output
    outsider = runner.invoke(
        app,
        ["devices", "import", str(SAMPLE), "--member", "0x" + "ab" * 20],
        obj=services,
        env=env,
    )
    assert outsider.exit_code == 2 and "0x" + "ab" * 20 in outsider.output


def test_export_writes_the_members_records_as_xlsx(partner: PartnerEnv, tmp_path: Path) -> None:
    services = partner.api.services
    member = partner.api.consortium.manufacturer.address
    runner.invoke(app, ["devices", "import", str(SAMPLE), "--member", member], obj=services)
    partner.api.sync()
    target = tmp_path / "out.xlsx"
    result = runner.invoke(
        app,
        ["devices", "export", "--member", member, "--format", "xlsx", "-o", str(target)],
        obj=services,
        env={"LANG": "en_GB.UTF-8"},
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.output.replace("\n", "")
    assert target.read_bytes()[:2] == b"PK"
