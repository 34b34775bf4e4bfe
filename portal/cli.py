"""`medledger portal ...`: portal administration from the command line (users with their
role, a staff member's personal API key); `medledger audit ...`: verify the audit trail's
hash chains and anchor their heads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account import Account
from rich.console import Console

__all__ = ["audit_app", "portal_app"]

portal_app = typer.Typer(help="The web portal's users.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail of every user action.", no_args_is_help=True)
DATA_DIR = Path(".medledger/api")
console = Console()


@portal_app.command("add-user")
def add_user_cmd(
    username: Annotated[str, typer.Argument(help="Sign-in name, 3-64 of [A-Za-z0-9._-].")],
    address: Annotated[str, typer.Option(help="The member address the user acts for.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the portal.")] = "",
    role: Annotated[
        str, typer.Option(help="The user's role in its organisation: clerk, qa or manager.")
    ] = "manager",
    key_file: Annotated[
        Path | None,
        typer.Option(help="File with the member's hex private key, to take into custody."),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="The API's data directory.")] = Path(
        ".medledger/api"
    ),
) -> None:
    """Create a portal user bound to a member. The password comes from
    MEDLEDGER_PORTAL_PASSWORD or is asked for."""
    from medledger.domain.custodial_keys import CustodyVault
    from medledger.domain.errors import ApiError
    from medledger.domain.settings import ApiSettings
    from medledger.domain.store import ApiStore, store_url
    from medledger.portal.users import UserError, add_user

    password = os.environ.get("MEDLEDGER_PORTAL_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    settings = ApiSettings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = ApiStore(store_url(settings))
    try:
        key = Account.from_key(key_file.read_text().strip()) if key_file else None
        user = add_user(
            store.engine,
            CustodyVault(store, settings) if key else None,
            username=username,
            password=password,
            address=address,
            display_name=display_name,
            custodial_key=key,
            role=role,
            created_by="cli",
        )
    except (UserError, ApiError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    finally:
        store.dispose()
    console.print(f"portal user [bold]{user.username}[/] ({user.role}) acts for {user.address}")


@portal_app.command("staff-key")
def staff_key_cmd(
    username: Annotated[str, typer.Argument(help="The user the key is for.")],
    label: Annotated[str, typer.Option(help="What the key is used for.")] = "",
    rpc_url: Annotated[str, typer.Option(help="The API's chain node.")] = "http://127.0.0.1:8545",
    deployment_file: Annotated[Path, typer.Option()] = Path(".medledger/deployment.json"),
    data_dir: Annotated[Path, typer.Option(help="The API's data directory.")] = DATA_DIR,
) -> None:
    """A personal API key for a user (the regulator's staff call the regulator API with
    it: Authorization: Bearer mls_...). Printed once."""
    from medledger.domain.auth import create_staff_key
    from medledger.domain.errors import ApiError

    services = _services(data_dir, rpc_url, deployment_file)
    try:
        key_id, key = create_staff_key(services, username, label=label or "cli")
    except ApiError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(f"staff key {key_id} for {username}:\n{key}")


def _services(data_dir: Path, rpc_url: str, deployment_file: Path) -> Any:
    from medledger.domain.services import Services
    from medledger.domain.settings import ApiSettings

    settings = ApiSettings(data_dir=data_dir, rpc_url=rpc_url, deployment_file=deployment_file)
    return Services.from_settings(settings)


@audit_app.command("verify")
def audit_verify_cmd(
    organisation: Annotated[
        str | None, typer.Option(help="One organisation's chain (its address).")
    ] = None,
    on_chain: Annotated[bool, typer.Option(help="Also check the anchors on chain.")] = True,
    rpc_url: Annotated[str, typer.Option(help="The chain node.")] = "http://127.0.0.1:8545",
    deployment_file: Annotated[Path, typer.Option()] = Path(".medledger/deployment.json"),
    data_dir: Annotated[Path, typer.Option(help="The API's data directory.")] = DATA_DIR,
) -> None:
    """Recompute every hash chain of the audit trail; exit 1 if an entry was edited,
    deleted or inserted, or an anchor does not match."""
    from medledger.domain import audit
    from medledger.domain.settings import ApiSettings
    from medledger.domain.store import ApiStore, store_url

    if on_chain:
        reports = audit.verify(_services(data_dir, rpc_url, deployment_file), chain=organisation)
    else:
        store = ApiStore(store_url(ApiSettings(data_dir=data_dir)))
        try:
            reports = audit.verify_store(store.engine, chain=organisation)
        finally:
            store.dispose()
    for report in reports:
        state = "[green]intact[/]" if report.ok else "[red]BROKEN[/]"
        console.print(
            f"{report.chain}: {report.entries} entries, {report.anchors} anchors, {state}"
        )
        for problem in report.problems:
            console.print(f"  - {problem}")
    if not all(r.ok for r in reports):
        raise typer.Exit(code=1)


@audit_app.command("anchor")
def audit_anchor_cmd(
    organisation: Annotated[str, typer.Argument(help="The organisation's address.")],
    rpc_url: Annotated[str, typer.Option(help="The chain node.")] = "http://127.0.0.1:8545",
    deployment_file: Annotated[Path, typer.Option()] = Path(".medledger/deployment.json"),
    data_dir: Annotated[Path, typer.Option(help="The API's data directory.")] = DATA_DIR,
) -> None:
    """Anchor the organisation's chain head on chain now (with its custodial key)."""
    from medledger.domain import audit

    row = audit.anchor(_services(data_dir, rpc_url, deployment_file), organisation)
    if row is None:
        console.print("nothing new to anchor")
    else:
        console.print(f"entry {row.seq} anchored in {row.tx_hash}")
