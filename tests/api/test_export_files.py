"""Export files without a chain: the period rule, the signed XLSX and PDF read back and
verified (a formula-looking cell stays text, a changed header or a forged signature fails),
every export problem code with its sentence in both portal languages, and
`medledger exports create|verify` on the real chain."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from eth_account import Account
from openpyxl import load_workbook
from typer.testing import CliRunner

from medledger.cli import app
from medledger.domain.errors import Unprocessable
from medledger.domain.exports import xlsx
from medledger.domain.exports.model import Column, Export, ExportProblem, parse_period, sign_export
from medledger.domain.exports.pdf import SEAL_MARK, write_pdf
from medledger.domain.exports.xlsx import write_xlsx
from medledger.domain.inspection_exports import verify_export
from medledger.portal.errors import MESSAGES
from medledger.portal.i18n import translations
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
runner = CliRunner()
KEY = Account.create()


def _export(*rows: tuple[str | int | None, ...]) -> Export:
    return Export(
        kind="purchase",
        title_zh="购进记录",
        title_en="Purchase records",
        member="0x" + "ab" * 20,
        member_name="示范医疗器械经营有限公司",
        period="2026-12",
        generated_at=1_796_000_000,
        columns=(Column("医疗器械名称", "Device name"), Column("数量", "Quantity")),
        rows=rows or (("髋关节假体", 3),),
    )


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        ("2028-02", dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
        ("2026-01-15..2027-01-14", dt.date(2026, 1, 15), dt.date(2027, 1, 14)),
        (" 2026-12-05..2026-12-05 ", dt.date(2026, 12, 5), dt.date(2026, 12, 5)),
    ],
)
def test_a_period_is_a_month_or_a_range_of_at_most_twelve_months(
    text: str, first: dt.date, last: dt.date
) -> None:
    period = parse_period(text)
    assert (period.first, period.last) == (first, last)
    assert period.end - period.start == ((last - first).days + 1) * 86_400


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-1", "2026-01-15..2027-01-15", "2026-12-02..2026-12-01", "x" * 500]
)
def test_other_periods_are_refused_with_a_code(text: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_period(text)
    assert refused.value.code == ExportProblem.BAD_PERIOD


def test_a_month_period_reads_as_the_month() -> None:
    assert parse_period("2026-12").label == "2026-12"
    assert parse_period("2026-12-01..2026-12-30").label == "2026-12-01..2026-12-30"


def test_a_formula_looking_cell_stays_text_and_the_workbook_verifies() -> None:
    signed = sign_export(_export(('=HYPERLINK("http://x")', 1), ("髋关节假体", None)), KEY)
    data = write_xlsx(signed, signer_name="")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A3"].data_type == "s" and sheet["A3"].value.startswith("=HYPERLINK")
    found = verify_export(None, data)
    assert found.valid and found.signer == KEY.address and found.rows == 2


def test_a_changed_header_or_a_forged_signature_fails() -> None:
    data = write_xlsx(sign_export(_export(), KEY), signer_name="")
    book = load_workbook(io.BytesIO(data))
    book.worksheets[0]["A2"] = "Product"
    changed = io.BytesIO()
    book.save(changed)
    assert not verify_export(None, changed.getvalue()).valid
    book = load_workbook(io.BytesIO(data))
    other = sign_export(_export(), Account.create())
    signature = book["签名 Signature"]
    row = next(r for r in signature.iter_rows() if r[1].value == "Signature (EIP-191)")
    row[2].value = "0x" + other.signature.hex()
    forged = io.BytesIO()
    book.save(forged)
    found = verify_export(None, forged.getvalue())
    assert not found.valid and "signer" in found.reason


def test_a_pdf_with_a_replaced_seal_or_none_fails() -> None:
    signed = sign_export(_export(), KEY)
    data = write_pdf(signed, KEY, signer_name="")
    assert verify_export(None, data).valid
    body = data[: data.rfind(SEAL_MARK)]
    assert not verify_export(None, body).valid
    resealed = write_pdf(sign_export(_export(("other", 1)), KEY), KEY, signer_name="")
    mixed = body + resealed[resealed.rfind(SEAL_MARK) :]
    assert not verify_export(None, mixed).valid


def test_a_workbook_that_unpacks_too_large_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_xlsx(sign_export(_export(), KEY), signer_name="")
    assert verify_export(None, data).valid
    monkeypatch.setattr(xlsx, "MAX_UNPACKED", 10_000)  # a real workbook unpacks to more
    found = verify_export(None, data)
    assert not found.valid and "unpacks to" in found.reason


@pytest.mark.parametrize("code", list(ExportProblem))
def test_each_export_problem_has_a_sentence_in_both_languages(code: ExportProblem) -> None:
    assert code.value in MESSAGES
    english = translations("en").gettext(MESSAGES[code.value])
    chinese = translations("zh_CN").gettext(MESSAGES[code.value])
    assert english.strip() and chinese != MESSAGES[code.value]


def test_the_cli_creates_and_verifies_an_export(partner: PartnerEnv, tmp_path: Path) -> None:
    c = partner.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["CLI1"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=50, temp_max=80
    )
    partner.api.sync()
    now = int(partner.api.chain.w3.eth.get_block("latest")["timestamp"])
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    period = f"{day - dt.timedelta(days=1)}..{day + dt.timedelta(days=1)}"
    target = tmp_path / "purchase.pdf"
    env = {"LANG": "en_GB.UTF-8"}
    made = runner.invoke(
        app,
        [
            "exports",
            "create",
            "purchase",
            "--member",
            c.distributor.address,
            "--period",
            period,
            "--format",
            "pdf",
            "-o",
            str(target),
        ],
        obj=partner.api.services,
        env=env,
    )
    assert made.exit_code == 0, made.output
    ok = runner.invoke(app, ["exports", "verify", str(target), "--db", partner.api.db_url], env=env)
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and c.distributor.address in ok.output
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x01
    target.write_bytes(bytes(data))
    bad = runner.invoke(app, ["exports", "verify", str(target)], env={"LANG": "zh_CN.UTF-8"})
    assert bad.exit_code == 1 and "无效" in bad.output
    wrong = runner.invoke(
        app,
        ["exports", "create", "secrets", "--member", c.distributor.address, "--period", period],
        obj=partner.api.services,
        env=env,
    )
    assert wrong.exit_code == 2 and "unknown_export_kind" in wrong.output
