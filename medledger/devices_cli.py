"""`medledger devices ...`: a manufacturer's product master data from the command line.

`import FILE` reads a CSV, XLSX, UDID XML or ZIP file and imports every row as the member
`--member` (its custodial key in the API's store), with a progress bar and the report of
refused rows; `export` writes the member's current master records as CSV, XLSX or UDID
XML. Both run the API's own use cases (`domain.master_import`) on its settings.

Exit codes: 0 every row imported (or unchanged), 1 some rows refused, 2 the file, the
member or the stack could not be used (the message names the bad value).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

if TYPE_CHECKING:
    from medledger.domain.auth import Member
    from medledger.domain.services import Services

__all__ = ["devices_app"]

devices_app = typer.Typer(help="Product master data: import and export.", no_args_is_help=True)
console = Console(width=max(Console().width, 120))

Rpc = Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain node.")]
Db = Annotated[str, typer.Option("--db", help="Indexer database URL.")]
DeploymentFile = Annotated[Path, typer.Option("--deployment", help="Deployment JSON.")]
DataDir = Annotated[Path, typer.Option("--data-dir", help="The API's data directory.")]
MemberOpt = Annotated[str, typer.Option("--member", help="Address of the manufacturer.")]


def _zh() -> bool:
    return os.environ.get("LANG", "").lower().startswith("zh")


def _say(zh: str, en: str) -> str:
    return zh if _zh() else en


def _fail(zh: str, en: str) -> typer.Exit:
    console.print(f"[red]{_say('错误', 'error')}:[/] {_say(zh, en)}")
    return typer.Exit(code=2)


def _services(ctx: typer.Context, rpc: str, db: str, deployment: Path, data_dir: Path) -> object:
    """The Services a test passes as the context object, else the API's from its settings."""
    from medledger.domain.services import Services
    from medledger.domain.settings import ApiSettings

    if isinstance(ctx.obj, Services):
        return ctx.obj
    if not deployment.exists():
        raise _fail(f"找不到部署文件 {deployment}", f"deployment file {deployment} not found")
    settings = ApiSettings(rpc_url=rpc, db_url=db, deployment_file=deployment, data_dir=data_dir)
    return Services.from_settings(settings)


def _member(services: Services, address: str) -> Member:
    from eth_utils import is_address, to_checksum_address

    from medledger.domain.auth import resolve_member
    from medledger.sdk.errors import MedLedgerError

    if not is_address(address):
        raise _fail(f"{address} 不是账户地址", f"{address} is not an account address")
    try:
        return resolve_member(services, to_checksum_address(address), method="cli")
    except MedLedgerError as exc:
        raise _fail(f"成员 {address} 不可用：{exc}", f"member {address} cannot act: {exc}") from exc


@devices_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, XLSX, UDID XML or ZIP of UDID XML.")],
    member: MemberOpt,
    rpc: Rpc = "http://127.0.0.1:8545",
    db: Db = "sqlite:///.medledger/indexer.db",
    deployment: DeploymentFile = Path(".medledger/deployment.json"),
    data_dir: DataDir = Path(".medledger/api"),
) -> None:
    """Import product master data: new products are registered with their package levels,
    changed rows become a new version, unchanged rows change nothing."""
    from medledger.domain.master_files import FileError
    from medledger.domain.master_import import import_rows, read_file
    from medledger.domain.services import Services

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(
            f"无法读取文件 {file}：{exc.strerror}", f"cannot read {file}: {exc.strerror}"
        ) from exc
    try:
        rows = read_file(file.name, data)
    except FileError as exc:
        raise _fail(f"{file}：{exc.reason_zh}", f"{file}: {exc.reason_en}") from exc
    services = _services(ctx, rpc, db, deployment, data_dir)
    assert isinstance(services, Services)
    who = _member(services, member)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(_say("导入", "importing"), total=len(rows))
        report = import_rows(
            services,
            member=who,
            rows=rows,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    counts = {o: report.count(o) for o in ("created", "updated", "unchanged", "refused")}
    console.print(
        _say(
            "新建 {created} 个，更新 {updated} 个，未变 {unchanged} 个，拒绝 {refused} 个",
            "{created} created, {updated} updated, {unchanged} unchanged, {refused} refused",
        ).format(**counts)
    )
    if report.refused:
        table = Table(
            *(_say("行", "row"), _say("列", "column"), _say("值", "value"), _say("原因", "reason"))
        )
        for row in report.refused:
            for p in row.problems:
                table.add_row(
                    str(row.row), p.column, p.value, p.reason_zh if _zh() else p.reason_en
                )
        console.print(table)
        raise typer.Exit(code=1)


@devices_app.command("export")
def export_cmd(
    ctx: typer.Context,
    member: MemberOpt,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or udid (XML).")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    rpc: Rpc = "http://127.0.0.1:8545",
    db: Db = "sqlite:///.medledger/indexer.db",
    deployment: DeploymentFile = Path(".medledger/deployment.json"),
    data_dir: DataDir = Path(".medledger/api"),
) -> None:
    """Export the member's current product master records."""
    from medledger.domain.master_files import FORMATS
    from medledger.domain.master_import import export_file
    from medledger.domain.services import Services

    if fmt not in FORMATS:
        raise _fail(
            f"--format {fmt}：应为 csv、xlsx 或 udid", f"--format {fmt}: must be csv, xlsx or udid"
        )
    services = _services(ctx, rpc, db, deployment, data_dir)
    assert isinstance(services, Services)
    who = _member(services, member)
    data = export_file(services, member=who, fmt=fmt)
    target = output or Path(f"master-data.{'xml' if fmt == 'udid' else fmt}")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise _fail(
            f"无法写入 {target}：{exc.strerror}", f"cannot write {target}: {exc.strerror}"
        ) from exc
    console.print(
        _say(f"已写入 {target}（{len(data)} 字节）", f"wrote {target} ({len(data)} bytes)")
    )
