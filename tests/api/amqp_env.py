"""The machine's RabbitMQ (127.0.0.1:5672, guest/guest, `rabbitmqctl`) for the AMQP
tests: `vhost`, a fresh virtual host per module (deleted afterwards), so tests never see
each other's exchanges and queues; `Inbox`, a consumer that collects what a queue bound to
some routing keys receives. Skipped when the broker is not running, except in CI."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

from medledger.domain.delivery.amqp import EXCHANGE
from medledger.ops.broker_provision import BrokerError, RabbitCtl

__all__ = ["Inbox", "Received", "VHost", "vhost"]

HOST, PORT = "127.0.0.1", 5672


@dataclass(frozen=True, slots=True)
class VHost:
    name: str
    ctl: RabbitCtl

    def url(self, user: str = "guest", password: str = "guest") -> str:
        who = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"amqp://{who}@{HOST}:{PORT}/{quote(self.name, safe='')}"

    def connect(self, user: str = "guest", password: str = "guest") -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url(user, password)))


@pytest.fixture(scope="module")
def vhost() -> Iterator[VHost]:
    ctl = RabbitCtl()
    try:
        pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT, socket_timeout=3)).close()
    except pika.exceptions.AMQPError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("RabbitMQ is not running")
    name = f"medledger-test-{secrets.token_hex(5)}"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield VHost(name, ctl)
    finally:
        try:
            ctl("delete_vhost", name)
        except BrokerError:
            pass


@dataclass(frozen=True, slots=True)
class Received:
    routing_key: str
    message_id: str
    content_type: str | None
    delivery_mode: int | None
    body: bytes


@dataclass
class Inbox:
    """A durable queue bound to `keys` on the events exchange, read with basic_get."""

    vhost: VHost
    queue: str
    keys: tuple[str, ...]
    got: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._connection = self.vhost.connect()
        self._channel = self._connection.channel()
        self._channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        self._channel.queue_declare(self.queue, durable=True)
        for key in self.keys:
            self._channel.queue_bind(self.queue, EXCHANGE, routing_key=key)

    def drain(self) -> list[Received]:
        """Everything waiting now (acknowledged), appended to `got`."""
        while True:
            method, props, body = self._channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.got
            self.got.append(
                Received(
                    method.routing_key,
                    props.message_id,
                    props.content_type,
                    props.delivery_mode,
                    body,
                )
            )

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.drain()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.got

    def close(self) -> None:
        """Delete the queue (tests sharing the virtual host never see it) and disconnect."""
        if self._connection.is_open:
            self._channel.queue_delete(self.queue)
            self._connection.close()
