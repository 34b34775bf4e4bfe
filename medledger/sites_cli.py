"""`medledger sites ...`: a member's GLNs and sites from the command line, through the API's
own use cases (`domain.sites`) on its settings: `list` prints the primary GLN and sites
with their SGLN, `add GLN --name ...` registers a site (signed with the member's custodial
key), `retire GLN` retires one.

Exit codes: 0 done, 2 the GLN, the member or the stack could not be used, or the ledger
refused (the message names the bad value).
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
    _member,
    _say,
    _services,
    console,
)

__all__ = ["sites_app"]

sites_app = typer.Typer(help="Members' GLNs and sites.", no_args_is_help=True)
MemberOpt = Annotated[str, typer.Option("--member", help="Address of the member.")]
RPC, DB = "http://127.0.0.1:8545", "sqlite:///.medledger/indexer.db"
DEPLOYMENT, DATA = Path(".medledger/deployment.json"), Path(".medledger/api")


@sites_app.command("list")
def list_cmd(
    ctx: typer.Context,
    member: MemberOpt,
    rpc: Rpc = RPC,
    db: Db = DB,
    deployment: DeploymentFile = DEPLOYMENT,
    data_dir: DataDir = DATA,
) -> None:
    """The member's primary GLN and its sites (retired ones included)."""
    from medledger.domain import sites
    from medledger.domain.services import Services

    services = _services(ctx, rpc, db, deployment, data_dir)
    assert isinstance(services, Services)
    who = _member(services, member)
    with services.engine.connect() as conn:
        rows = sites.list_sites(conn, who.address, include_retired=True)
        for r in rows:
            state = _say("主", "primary") if r.is_primary else ""
            state += (" " if state else "") + (
                _say("在用", "active") if r.active else _say("停用", "retired")
            )
            sgln = sites.sgln(conn, r.gln, owner=who.address)
            console.print(f"{r.gln}  {sgln}  {state}  {r.name} {r.name_en}".rstrip())
    if not rows:
        console.print(_say("尚无 GLN", "no GLN yet"))


def _run(ctx: typer.Context, member: str, action: str, gln: str, **site: str) -> None:
    from pydantic import ValidationError

    from medledger.domain import sites
    from medledger.domain.services import Services
    from medledger.sdk.errors import MedLedgerError

    services = _services(ctx, RPC, DB, DEPLOYMENT, DATA)
    assert isinstance(services, Services)
    who = _member(services, member)
    try:
        if action == "add":
            body = sites.SiteIn(gln=gln, **site)
            done = sites.register_site(services, member=who, site=body)
        else:
            done = sites.retire_site(services, member=who, gln=gln)
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(f"{gln}：{reason}", f"{gln}: {reason}") from exc
    except (MedLedgerError, ValueError) as exc:
        raise _fail(f"{gln}：{exc}", f"{gln}: {exc}") from exc
    console.print(f"{gln}  {done.tx_hash}")


@sites_app.command("add")
def add_cmd(
    ctx: typer.Context,
    gln: Annotated[str, typer.Argument(help="The site's GLN, 13 digits.")],
    member: MemberOpt,
    name: Annotated[str, typer.Option("--name", help="Name (Chinese).")],
    name_en: Annotated[str, typer.Option("--name-en", help="Name (English).")] = "",
    address: Annotated[str, typer.Option("--address", help="Address.")] = "",
) -> None:
    """Register one of the member's sites on the ledger."""
    _run(ctx, member, "add", gln, name=name, name_en=name_en, address=address)


@sites_app.command("retire")
def retire_cmd(
    ctx: typer.Context,
    gln: Annotated[str, typer.Argument(help="The site's GLN.")],
    member: MemberOpt,
) -> None:
    """Retire one of the member's sites."""
    _run(ctx, member, "retire", gln)
