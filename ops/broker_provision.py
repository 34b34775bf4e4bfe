"""Per-member entitlement on the RabbitMQ broker (`medledger broker provision`).

A member gets a broker user `member.<address lower>` that may declare, bind and consume
only queues named `member.<address>.*`, may read the events exchange, and whose topic
permission lets it bind only routing keys `member.<address>.*` there (the broker refuses
a binding to another member's keys); it may publish nothing. The regulator's user
`regulator` gets the same over `regulator.*`. A durable queue `<prefix>.inbox` bound to
`<prefix>.#` is declared for it, so events published while its consumer is away wait
there. The password is generated once into `<secrets dir>/<user>.password` (0600, 0700
directory); provisioning again keeps it (and sets it on the broker again).

The machine's broker has no management plugin enabled, so this drives `rabbitmqctl`
(passwords go on its standard input, never on a command line). Declaring the inbox needs
an administrator's AMQP URL (`--admin-url`, default guest on localhost).
"""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pika

from medledger.domain.delivery.amqp import EXCHANGE
from medledger.ops.secrets import private_file
from medledger.sdk.errors import MedLedgerError

__all__ = ["BrokerError", "Provisioned", "RabbitCtl", "provision", "subject_prefix"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
REGULATOR = "regulator"


class BrokerError(MedLedgerError):
    """The broker (or rabbitmqctl) refused a step; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Provisioned:
    username: str
    password_file: Path
    vhost: str
    queue: str
    binding: str


@dataclass(frozen=True, slots=True)
class RabbitCtl:
    """`rabbitmqctl` of the broker's node (`node` None: the default one)."""

    executable: str = "rabbitmqctl"
    node: str | None = None
    timeout: float = 60.0

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        command = [self.executable, *(["-n", self.node] if self.node else []), *args]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, text=True, timeout=self.timeout
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerError(f"{self.executable} {args[0]}: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise BrokerError(f"{self.executable} {args[0]}: {detail[-1] if detail else '?'}")
        return done.stdout

    def user_exists(self, username: str) -> bool:
        listed = self("list_users", "--quiet", "--no-table-headers")
        return any(line.split("\t")[0] == username for line in listed.splitlines())


def subject_prefix(member: str) -> str:
    """`member.<address lower>` for a member address, `regulator` for "regulator"."""
    if member == REGULATOR:
        return REGULATOR
    if not _ADDRESS.match(member):
        raise BrokerError(f"{member!r} is not a member address (0x and 40 hex digits)")
    return f"member.{member.lower()}"


def provision(
    member: str,
    *,
    secrets_dir: Path,
    admin_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F",
    vhost: str = "/",
    exchange: str = EXCHANGE,
    ctl: RabbitCtl | None = None,
) -> Provisioned:
    """Create (or bring up to date) the broker user of `member` (an address, or
    "regulator") with its permissions and inbox; idempotent."""
    ctl = ctl or RabbitCtl()
    prefix = subject_prefix(member)
    username = prefix
    password_file = secrets_dir / f"{username}.password"
    password = private_file(password_file, lambda: secrets.token_urlsafe(24))
    if ctl.user_exists(username):
        ctl("change_password", username, stdin=password + "\n")
    else:
        ctl("add_user", username, stdin=password + "\n")
    own = rf"^{re.escape(prefix)}\..+$"
    readable = rf"^({re.escape(prefix)}\..+|{re.escape(exchange)})$"
    ctl("set_permissions", "-p", vhost, username, own, own, readable)
    ctl("set_topic_permissions", "-p", vhost, username, exchange, "^$", rf"^{re.escape(prefix)}\.")
    queue, binding = f"{prefix}.inbox", f"{prefix}.#"
    _declare_inbox(admin_url, vhost, exchange, queue, binding)
    return Provisioned(username, password_file, vhost, queue, binding)


def _declare_inbox(admin_url: str, vhost: str, exchange: str, queue: str, binding: str) -> None:
    params = pika.URLParameters(admin_url)
    params.virtual_host = vhost
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot connect to the broker as its administrator: {exc!r}") from exc
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange, routing_key=binding)
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"declaring {queue} on {vhost}: {exc!r}") from exc
    finally:
        if connection.is_open:
            connection.close()
