"""`medledger portal ...`: portal administration from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from rich.console import Console

__all__ = ["portal_app"]

portal_app = typer.Typer(help="The web portal's users.", no_args_is_help=True)
console = Console()


@portal_app.command("add-user")
def add_user_cmd(
    username: Annotated[str, typer.Argument(help="Sign-in name, 3-64 of [A-Za-z0-9._-].")],
    address: Annotated[str, typer.Option(help="The member address the user acts for.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the portal.")] = "",
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
        )
    except (UserError, ApiError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    finally:
        store.dispose()
    console.print(f"portal user [bold]{user.username}[/] acts for {user.address}")
