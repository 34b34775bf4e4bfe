"""`medledger broker …`: the AMQP binding's administration (`ops.broker_provision`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["broker_app"]

broker_app = typer.Typer(help="The event stream on an AMQP broker.", no_args_is_help=True)
console = Console()


@broker_app.command("provision")
def provision_cmd(
    member: Annotated[
        str, typer.Option(help='Member address (0x…), or "regulator" for the regulator.')
    ],
    secrets_dir: Annotated[
        Path, typer.Option(help="Where the member's broker password file (0600) is written.")
    ] = Path(".medledger/broker-secrets"),
    admin_url: Annotated[
        str, typer.Option(help="AMQP URL of a broker administrator (declares the inbox).")
    ] = "amqp://guest:guest@127.0.0.1:5672/%2F",
    vhost: Annotated[str, typer.Option(help="Virtual host of the events exchange.")] = "/",
    exchange: Annotated[str, typer.Option(help="The events exchange.")] = "medledger.events",
    node: Annotated[
        str | None, typer.Option(help="rabbitmqctl node name (default: the local node).")
    ] = None,
) -> None:
    """Give a member its own broker user: it may bind and consume only its own routing
    keys (member.<address>.*) and queues, and gets a durable inbox queue."""
    from medledger.ops.broker_provision import BrokerError, RabbitCtl, provision

    try:
        done = provision(
            member,
            secrets_dir=secrets_dir,
            admin_url=admin_url,
            vhost=vhost,
            exchange=exchange,
            ctl=RabbitCtl(node=node),
        )
    except BrokerError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(
        f"user {done.username} (password in {done.password_file}), vhost {done.vhost}: "
        f"queue {done.queue} bound to {done.binding} on {exchange}"
    )
