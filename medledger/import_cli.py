"""`medledger import KIND FILE --api URL --key-file F`: a bulk import through the partner
API (`POST /v1/partner/imports`) with the member's API key, a progress bar on stderr until
the job is done, and each bad row (row, column, value, reason) when the file is refused.

Exit codes: 0 imported, 1 the file has bad rows (nothing written) or the write stopped
(resume it with `--resume JOB`), 2 the file, key or API could not be used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

__all__ = ["import_command"]

err = Console(stderr=True)
out = Console()
KINDS = ("commissioning", "lots", "products", "shipments", "receipts")


def _zh() -> bool:
    return os.environ.get("LANG", "").lower().startswith("zh")


def _fail(zh: str, en: str) -> typer.Exit:
    err.print(f"[red]{'错误' if _zh() else 'error'}:[/] {zh if _zh() else en}")
    return typer.Exit(code=2)


def import_command(
    kind: Annotated[
        str, typer.Argument(help="commissioning, lots, products, shipments or receipts")
    ],
    file: Annotated[Path, typer.Argument(help="a .csv (UTF-8 or GB18030) or .xlsx file")],
    api: Annotated[str, typer.Option("--api", help="The partner API's base URL.")],
    key_file: Annotated[Path, typer.Option("--key-file", help="File holding your API key.")],
    resume: Annotated[
        str | None, typer.Option("--resume", help="Resume this job instead of uploading.")
    ] = None,
) -> None:
    """Import a file; every row is checked before anything is written."""
    import httpx

    if kind not in KINDS:
        raise _fail(
            f"类型 {kind!r} 无效，应为 {'、'.join(KINDS)}", f"kind {kind!r} is not one of {KINDS}"
        )
    try:
        key = key_file.read_text().strip()
    except OSError as exc:
        raise _fail(
            f"无法读取密钥文件 {key_file}", f"cannot read the key file {key_file}: {exc}"
        ) from exc
    with httpx.Client(base_url=api.rstrip("/"), headers={"X-API-Key": key}, timeout=120) as http:
        try:
            if resume:
                answer = http.post(f"/v1/partner/imports/{resume}/resume")
            else:
                if not file.is_file():
                    raise _fail(f"找不到文件 {file}", f"file {file} not found")
                answer = http.post(
                    "/v1/partner/imports",
                    data={"kind": kind},
                    files={"file": (file.name, file.read_bytes())},
                )
        except httpx.HTTPError as exc:
            raise _fail(f"无法连接 {api}", f"cannot reach {api}: {exc}") from exc
        if answer.status_code >= 400:
            body = _json(answer)
            raise _fail(
                f"{file.name} 被拒收（{body.get('code')}）：{body.get('detail')}",
                f"{file.name} refused ({body.get('code')}): {body.get('detail')}",
            )
        job = answer.json()
        if job["state"] == "invalid":
            _print_errors(http, job)
            raise typer.Exit(code=1)
        job = _follow(http, job)
    if job["state"] != "done":
        problem = job.get("problem") or {}
        err.print(
            f"[red]{job['state']}[/] {problem.get('code', '')}: {problem.get('detail', '')} — "
            f"medledger import {kind} {file} --api {api} --key-file {key_file} --resume {job['id']}"
        )
        raise typer.Exit(code=1)
    out.print(f"{job['done_rows']} rows imported (job {job['id']})")


def _json(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {"code": answer.status_code, "detail": answer.text[:200]}
    return body if isinstance(body, dict) else {"code": answer.status_code, "detail": str(body)}


def _follow(http: Any, job: dict[str, Any]) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(job["filename"], total=job["total_rows"])
        while job["state"] in ("ready", "running"):
            time.sleep(0.5)
            job = http.get(f"/v1/partner/imports/{job['id']}", params={"limit": 1}).json()
            bar.update(task, completed=job["done_rows"])
    return job


def _print_errors(http: Any, job: dict[str, Any]) -> None:
    err.print(
        f"[red]{job['error_count']} bad rows[/] in {job['filename']}: nothing was written "
        f"(all rows: GET /v1/partner/imports/{job['id']}/errors.csv)"
    )
    for e in job["errors"]:
        message = e["message_zh"] if _zh() else e["message_en"]
        line = f"  row {e['row']}, column {e['column']} = {e['value']!r}: {message} ({e['code']})"
        typer.echo(line, err=True)
