"""`medledger exports ...`: signed inspection exports from the command line.

`create KIND` writes a member's GSP records of one kind for a period (purchase,
acceptance, sales, cold-chain, recall, adverse-event) as a signed XLSX or PDF, signed with
the member's custodial key in the API's store (or, `--regulator`, with the regulator's
key); `verify FILE` says whether an export file is intact and who signed it, reading the
signer's organisation name from the indexer database when it can.

Exit codes: 0 written / valid, 1 the file is not valid, 2 the input, the member or the
stack could not be used (the message names the bad value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medledger.devices_cli import (
    DataDir,
    Db,
    DeploymentFile,
    Rpc,
    _fail,
    _say,
    _services,
    console,
)

__all__ = ["exports_app"]

exports_app = typer.Typer(
    help="Signed inspection exports: create and verify.", no_args_is_help=True
)


@exports_app.command("create")
def create_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="purchase, acceptance, sales, cold-chain, ...")],
    member: Annotated[str, typer.Option("--member", help="Address of the member.")],
    period: Annotated[str, typer.Option("--period", help="2026-12 or 2026-12-01..2026-12-31")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx or pdf.")] = "xlsx",
    regulator: Annotated[
        bool, typer.Option("--regulator", help="Sign with the regulator's key.")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    rpc: Rpc = "http://127.0.0.1:8545",
    db: Db = "sqlite:///.medledger/indexer.db",
    deployment: DeploymentFile = Path(".medledger/deployment.json"),
    data_dir: DataDir = Path(".medledger/api"),
) -> None:
    """Write the member's records of KIND for the period as a signed file."""
    import time

    from medledger.domain.errors import ApiError
    from medledger.domain.inspection_exports import ExportFormat, export_kind, member_export
    from medledger.domain.services import Services

    if fmt not in {f.value for f in ExportFormat}:
        raise _fail(f"--format {fmt}：应为 xlsx 或 pdf", f"--format {fmt}: must be xlsx or pdf")
    services = _services(ctx, rpc, db, deployment, data_dir)
    assert isinstance(services, Services)
    try:
        with services.engine.connect() as conn:
            found = member_export(
                services,
                conn,
                kind=export_kind(kind),
                member=member,
                period=period,
                fmt=ExportFormat(fmt),
                regulator=regulator,
                now=int(time.time()),
            )
    except ApiError as exc:
        raise _fail(f"{exc.code}：{exc.detail}", f"{exc.code}: {exc.detail}") from exc
    target = output or Path(found.filename)
    try:
        target.write_bytes(found.data)
    except OSError as exc:
        raise _fail(
            f"无法写入 {target}：{exc.strerror}", f"cannot write {target}: {exc.strerror}"
        ) from exc
    console.print(
        _say(
            f"已写入 {target}，签名者 {found.signer}，内容哈希 {found.content_hash}",
            f"wrote {target}, signed by {found.signer}, content sha256 {found.content_hash}",
        )
    )


@exports_app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="An export file (XLSX or PDF).")],
    db: Annotated[
        str | None, typer.Option("--db", help="Indexer database URL, for the signer's name.")
    ] = None,
) -> None:
    """Say whether FILE is exactly as its signer made it, and who signed it."""
    from medledger.domain.inspection_exports import MAX_UPLOAD, verify_export
    from medledger.indexer.db import make_engine

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(
            f"无法读取文件 {file}：{exc.strerror}", f"cannot read {file}: {exc.strerror}"
        ) from exc
    if len(data) > MAX_UPLOAD:
        raise _fail(f"{file} 超过 {MAX_UPLOAD} 字节", f"{file} is over {MAX_UPLOAD} bytes")
    if db is None:
        found = verify_export(None, data)
    else:
        engine = make_engine(db)
        try:
            with engine.connect() as conn:
                found = verify_export(conn, data)
        finally:
            engine.dispose()
    if not found.valid:
        console.print(f"[red]{_say('无效', 'INVALID')}[/]: {found.reason}")
        raise typer.Exit(code=1)
    who = f"{found.signer} {found.signer_name or ''}".strip()
    console.print(
        f"[green]{_say('有效', 'VALID')}[/]: {found.title}; "
        f"{_say('签名者', 'signed by')} {who}; "
        f"{_say('期间', 'period')} {found.period or '-'}; "
        f"{_say('记录数', 'rows')} {found.rows}; sha256 {found.content_sha256}"
    )
