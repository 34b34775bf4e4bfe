"""`medledger up`: the whole stack in one process group, seeded once with the demo
consortium, until Ctrl-C.

Order: start the stack (ops.stack) → seed the demo consortium and a portal user per
organisation (ops.demo.seed; skipped when `seed.json` says it is done) → wait until both
indexers have the seeded blocks → print the URLs, the demo sign-ins and a code to verify →
watch the children, restarting one that dies on its own.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings
from medledger.ops.demo.seed import ORGANISATIONS, SeedResult, load_seed, save_seed, seed_demo
from medledger.ops.secrets import private_file
from medledger.ops.stack import Stack, StackConfig, start_stack
from medledger.runtime.supervisor import Supervisor, SupervisorError
from medledger.sdk.deploy import Deployment

__all__ = ["reset_data_dir", "run_up", "seed_stack", "wait_indexed", "write_urls"]

RESTART_LIMIT = 5  # per child; past it `up` gives up and stops everything


def reset_data_dir(data_dir: Path) -> None:
    """Delete a stack's data directory, refusing one that does not look like a stack's."""
    if not data_dir.exists():
        return
    marks = ("genesis.json", "secrets", "logs", "deployment.json")
    if not any((data_dir / m).exists() for m in marks) and any(data_dir.iterdir()):
        raise SupervisorError(
            f"--reset: {data_dir} is not empty and holds no MedLedger stack; not deleting it"
        )
    shutil.rmtree(data_dir)


# Each demo organisation's users: `<slug>` is its manager (the one user of older demos),
# `<slug>-qa` its QA and `<slug>-clerk` its clerk (`domain.auth.StaffRole`).
DEMO_STAFF = (("", "manager", ""), ("-qa", "qa", " QA"), ("-clerk", "clerk", " clerk"))


def _passwords(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets" / "demo-sign-ins.json"
    text = private_file(
        path,
        lambda: json.dumps({o.slug: f"demo-{secrets.token_urlsafe(9)}" for o in ORGANISATIONS}),
    )
    passwords: dict[str, str] = json.loads(text)
    wanted = [o.slug + suffix for o in ORGANISATIONS for suffix, _, _ in DEMO_STAFF]
    missing = [name for name in wanted if name not in passwords]
    if missing:  # a demo made before roles: its QA and clerk users get passwords now
        passwords.update({name: f"demo-{secrets.token_urlsafe(9)}" for name in missing})
        path.unlink()
        private_file(path, lambda: json.dumps(passwords))
    return passwords


def _side_services(stack: Stack, *, regulator: bool) -> Services:
    """The services of the partner API (or the regulator API), as its process has them."""
    if regulator:
        rpc, db = stack.follower_rpc or stack.chain_rpc, stack.regulator_index_db_url
        name, master = "regulator-api", stack.secrets.regulator_master_key
    else:
        rpc, db, name, master = stack.chain_rpc, stack.index_db_url, "api", stack.secrets.master_key
    settings = ApiSettings(
        rpc_url=rpc,
        db_url=db,
        deployment_file=stack.deployment_file,
        data_dir=stack.config.data_dir / name,
        regulator=regulator,
        master_key=SecretStr(master),
    )
    return Services.from_settings(settings)


def _portal_users(stack: Stack, seed: SeedResult) -> None:
    """A portal user per organisation: members on the partner side (their key in the
    partner API's custody), the regulator on the regulator side."""
    from eth_account import Account

    try:
        from medledger.portal.users import UserError, create_user
    except ImportError:  # the portal is not there yet: everything else is seeded
        return
    members = json.loads((stack.secrets.directory / "members.json").read_text())
    passwords = _passwords(stack.config.data_dir)
    for regulator in (False, True):
        services = _side_services(stack, regulator=regulator)
        for org in seed.organisations:
            if (org["role"] == "regulator") != regulator:
                continue
            key = None if regulator else Account.from_key(members[org["slug"]])
            for suffix, role, title in DEMO_STAFF:
                try:
                    create_user(
                        services,
                        username=org["slug"] + suffix,
                        password=passwords[org["slug"] + suffix],
                        address=org["address"],
                        display_name=org["name"] + title,
                        custodial_key=key,
                        role=role,
                    )
                except UserError as exc:
                    if exc.code != "username_taken":
                        raise
            if regulator:  # its manager's personal key to the regulator API
                _staff_key(stack, services, org["slug"])
        services.engine.dispose()


def _staff_key(stack: Stack, services: Services, username: str) -> None:
    """The demo regulator manager's staff key (`Authorization: Bearer mls_…`), minted once
    into `secrets/regulator-staff-key` (mode 0600)."""
    from medledger.domain.auth import create_staff_key

    private_file(
        stack.secrets.directory / "regulator-staff-key",
        lambda: create_staff_key(services, username, label="demo")[1],
    )


def seed_stack(stack: Stack, echo: Callable[[str], None]) -> SeedResult | None:
    """Seed our own chain once (an external chain's admin key is not ours: no seed)."""
    done = load_seed(stack.config.data_dir)
    if done is not None or not stack.config.own_node:
        return done
    started = time.monotonic()
    partner = _side_services(stack, regulator=False)
    try:
        seed = seed_demo(
            rpc_url=stack.chain_rpc,
            deployment=Deployment.load(stack.deployment_file),
            admin=stack.secrets.account("admin"),
            regulator=stack.secrets.account("regulator"),
            relayer=stack.secrets.account("relayer").address,
            data_dir=stack.config.data_dir,
            partner=partner,
            echo=echo,
        )
    finally:
        partner.engine.dispose()
    _portal_users(stack, seed)
    save_seed(stack.config.data_dir, seed)
    echo(f"seed: done in {time.monotonic() - started:.0f} s")
    return seed


def wait_indexed(stack: Stack, *, timeout: float = 120.0) -> None:
    """Until both indexers have reached the chain head as it is now."""
    rpc = httpx.post(stack.chain_rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
    head = int(rpc.json()["result"], 16)
    deadline = time.monotonic() + timeout
    for url in (stack.indexer_url, stack.regulator_indexer_url):
        while int(httpx.get(url + "/healthz").json()["block"]) < head:
            if time.monotonic() > deadline:
                raise SupervisorError(f"the indexer at {url} did not reach block {head}")
            time.sleep(0.2)


def banner(stack: Stack, seed: SeedResult | None) -> list[str]:
    c = stack.config
    lines = [
        "",
        f"MedLedger is up · data {c.data_dir} · logs {c.data_dir / 'logs'} (JSON lines)",
    ]
    if stack.sequencer_rpc:
        lines.append(f"  sequencer node        {stack.sequencer_rpc}   (JSON-RPC; GET /healthz)")
        lines.append(f"  regulator's follower  {stack.follower_rpc}")
    else:
        lines.append(f"  chain                 {stack.chain_rpc}")
    lines += [
        f"  partner portal + API  {stack.partner_api}/portal/   (OpenAPI: /docs)",
        f"  regulator portal+API  {stack.regulator_api}/portal/",
        f"  indexers              {stack.indexer_url}  {stack.regulator_indexer_url}",
        "  every process serves /healthz and Prometheus /metrics",
    ]
    if seed is not None:
        passwords = _passwords(c.data_dir)
        lines += ["", "Demo sign-ins (portal username / password; -qa and -clerk users too):"]
        for org in seed.organisations:
            side = stack.regulator_api if org["role"] == "regulator" else stack.partner_api
            where = side + "/portal/"
            lines.append(
                f"  {org['slug']:<9} {passwords[org['slug']]:<18} {org['role']:<12} "
                f"{where}  {org['name']}"
            )
            for suffix, role, _ in DEMO_STAFF[1:]:
                name = org["slug"] + suffix
                lines.append(f"    {name:<15} {passwords[name]:<18} {role}")
        staff_key = stack.secrets.directory / "regulator-staff-key"
        if staff_key.exists():
            lines.append(f"  regulator API staff key (Bearer): {staff_key}")
        lines += [
            "",
            f"Verify a sample code:  {stack.partner_api}{seed.sample_path}",
            f"A recalled unit:       {stack.partner_api}{seed.recalled_path}",
        ]
        if seed.lot_path:  # seeds before lot-tracked products had none
            lines += [
                f"A lot, by quantity:    {stack.partner_api}{seed.lot_path}",
                f"A recalled lot:        {stack.partner_api}{seed.recalled_lot_path}",
            ]
    lines += [
        f"Regulator staff API token: in {stack.secrets.directory / 'regulator-api-token'}",
        "Ctrl-C stops everything; the next `medledger up` keeps the data (--reset: fresh).",
    ]
    return lines


def run_up(config: StackConfig, *, reset: bool, echo: Callable[[str], None] = print) -> None:
    """Start, seed, print, and watch until SIGINT/SIGTERM (which stop every child)."""
    config = config.resolved()  # refuse bad settings before touching anything
    if reset:
        reset_data_dir(config.data_dir)
    supervisor = Supervisor(config.data_dir / "logs")
    supervisor.install_signal_handlers()
    with supervisor:
        echo(f"starting the stack in {config.data_dir} …")
        stack = start_stack(config, supervisor=supervisor)
        write_urls(stack)
        seed = seed_stack(stack, echo)
        wait_indexed(stack)
        for line in banner(stack, seed):
            echo(line)
        _watch(supervisor, echo)


def write_urls(stack: Stack) -> None:
    """`urls.json` in the data dir: where `medledger demo simulate` finds the stack."""
    urls = {
        "api": stack.partner_api,
        "regulator_api": stack.regulator_api,
        "rpc": stack.chain_rpc,
        "follower_rpc": stack.follower_rpc or stack.chain_rpc,
    }
    (stack.config.data_dir / "urls.json").write_text(json.dumps(urls, indent=2) + "\n")


def _watch(supervisor: Supervisor, echo: Callable[[str], None]) -> None:
    while True:
        time.sleep(1.0)
        for name, code in supervisor.exited().items():
            if supervisor.restarts(name) >= RESTART_LIMIT:
                raise SupervisorError(
                    f"{name} exited with {code} after {RESTART_LIMIT} restarts; stopping "
                    f"(last log lines:\n{supervisor.log_tail(name)})"
                )
            echo(f"{name} exited with {code}; restarting it (see {supervisor.log_path(name)})")
            supervisor.restart(name)
