"""Per-member entitlement on the real broker (`medledger broker provision`): member B's
broker user cannot declare A's queues nor bind its own queue to A's routing keys (the
broker refuses), nor publish; A's user reads its own inbox; the password file is 0600 and
provisioning again keeps it."""

from __future__ import annotations

import logging
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest
from typer.testing import CliRunner

from medledger.cli import app
from medledger.domain.delivery.amqp import EXCHANGE
from medledger.ops.broker_provision import BrokerError, Provisioned, provision
from tests.api.amqp_env import VHost, vhost

__all__ = ["vhost"]


@pytest.fixture(scope="module")
def members(
    vhost: VHost, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Provisioned]]:
    """Two fresh members A and B (random addresses), provisioned in the test's vhost."""
    secrets_dir = tmp_path_factory.mktemp("broker-secrets")
    made: dict[str, Provisioned] = {}
    try:
        for name in ("A", "B"):
            address = "0x" + secrets.token_hex(20)
            made[name] = provision(
                address, secrets_dir=secrets_dir, admin_url=vhost.url(), vhost=vhost.name
            )
        yield made
    finally:
        for done in made.values():
            vhost.ctl("delete_user", done.username)


def _connect(vhost: VHost, done: Provisioned) -> pika.BlockingConnection:
    return vhost.connect(done.username, done.password_file.read_text().strip())


def test_a_member_cannot_bind_to_another_members_routing_keys(
    vhost: VHost, members: dict[str, Provisioned]
) -> None:
    a, b = members["A"], members["B"]
    with _connect(vhost, b) as connection:
        channel = connection.channel()
        own = f"{b.username}.erp"
        channel.queue_declare(own, exclusive=True)
        channel.queue_bind(own, EXCHANGE, routing_key=f"{b.username}.#")  # its own: fine
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.queue_bind(own, EXCHANGE, routing_key=f"{a.username}.#")
        assert refused.value.reply_code == 403
        assert "ACCESS_REFUSED" in refused.value.reply_text
    for forbidden in (
        lambda ch: ch.queue_declare(f"{a.username}.stolen", exclusive=True),  # A's queue name
        lambda ch: ch.basic_consume(a.queue, lambda *_: None),  # A's inbox
        lambda ch: ch.queue_bind(f"{b.username}.x", EXCHANGE, routing_key="regulator.#"),
        lambda ch: ch.queue_bind(f"{b.username}.x", EXCHANGE, routing_key="#"),
    ):
        with _connect(vhost, b) as connection:
            channel = connection.channel()
            channel.queue_declare(f"{b.username}.x", exclusive=True)
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                forbidden(channel)
            assert refused.value.reply_code == 403


def test_a_member_cannot_publish_on_the_events_exchange(
    vhost: VHost, members: dict[str, Provisioned]
) -> None:
    b = members["B"]
    with _connect(vhost, b) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.basic_publish(EXCHANGE, f"{b.username}.recall.issued", b"{}")
        assert refused.value.reply_code == 403


def test_a_member_reads_its_own_inbox(vhost: VHost, members: dict[str, Provisioned]) -> None:
    a, b = members["A"], members["B"]
    with vhost.connect() as admin:
        channel = admin.channel()
        for who in (a, b):
            channel.basic_publish(
                EXCHANGE, f"{who.username}.shipment.inbound", who.username.encode()
            )
    with _connect(vhost, a) as connection:
        channel = connection.channel()
        method, _props, body = channel.basic_get(a.queue, auto_ack=True)
        assert method is not None and body == a.username.encode()  # not B's
        assert channel.basic_get(a.queue, auto_ack=True)[0] is None


def test_the_password_is_private_and_kept_when_provisioned_again(
    vhost: VHost, members: dict[str, Provisioned]
) -> None:
    a = members["A"]
    assert stat.S_IMODE(a.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(a.password_file.parent.stat().st_mode) == 0o700
    password = a.password_file.read_text()
    result = CliRunner().invoke(
        app,
        [
            "broker",
            "provision",
            "--member",
            a.username.split(".")[1],
            "--secrets-dir",
            str(a.password_file.parent),
            "--admin-url",
            vhost.url(),
            "--vhost",
            vhost.name,
        ],
    )
    assert result.exit_code == 0, result.output
    assert a.queue in result.output
    assert a.password_file.read_text() == password
    _connect(vhost, a).close()  # the broker still takes it


def test_a_bad_address_is_named(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="'0x12' is not a member address"):
        provision("0x12", secrets_dir=tmp_path)
    result = CliRunner().invoke(
        app, ["broker", "provision", "--member", "member.#", "--secrets-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "member.#" in result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_regulator_binds_its_own_keys_only(vhost: VHost, tmp_path: Path) -> None:
    done = provision("regulator", secrets_dir=tmp_path, admin_url=vhost.url(), vhost=vhost.name)
    try:
        assert (done.username, done.queue, done.binding) == (
            "regulator",
            "regulator.inbox",
            "regulator.#",
        )
        with _connect(vhost, done) as connection:
            channel = connection.channel()
            channel.queue_declare("regulator.audit", exclusive=True)
            channel.queue_bind("regulator.audit", EXCHANGE, routing_key="regulator.recall.*")
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                channel.queue_bind("regulator.audit", EXCHANGE, routing_key="member.#")
            assert refused.value.reply_code == 403
    finally:
        vhost.ctl("delete_user", done.username)


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """`medledger api` sets up the process's logging on a stream CliRunner then closes."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("keep_logging")
def test_an_amqp_url_file_others_may_read_is_refused(tmp_path: Path) -> None:
    url_file = tmp_path / "amqp-url"
    url_file.write_text("amqp://guest:guest@127.0.0.1:5672/%2F")
    url_file.chmod(0o644)
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    result = CliRunner().invoke(
        app, ["api", "--deployment", str(deployment), "--amqp-url-file", str(url_file)]
    )
    assert result.exit_code == 2
    assert "must be a private file (mode 0600)" in result.output
