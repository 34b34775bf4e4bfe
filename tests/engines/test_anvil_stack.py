"""The whole stack on an external engine: anvil from npm, no node of ours.

`medledger deploy` puts the suite on anvil (admitting the stack's regulator and granting
its relayer), the demo consortium is enrolled on that deployment, `ops.stack` starts the
indexers and both APIs pointed at anvil, and units then live their whole custody
lifecycle through the partner HTTP API with the members' own signatures: EIP-712 orders
relayed by the platform, and member-signed transactions several pallets at a time.
The verdicts, both indexers' databases and the regulator API are checked against it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from medledger.cli import app
from medledger.engines.anvil import anvil_dev_accounts, start_anvil
from medledger.indexer.db import make_engine
from medledger.indexer.items import EventKind
from medledger.indexer.queries.trace import unit_history
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.ops.demo.e2e_lifecycle import Cast, PalletLife, run_pallet
from medledger.ops.secrets import StackSecrets, load_or_create_secrets
from medledger.ops.stack import StackConfig, start_stack
from medledger.runtime.supervisor import Supervisor
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.deploy import Deployment
from medledger.sdk.keys import create_keystore
from medledger.sdk.model import ItemStatus
from medledger.sdk.transactions import send_transaction

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = [
    EventKind.COMMISSIONED,
    EventKind.PACKED,
    EventKind.SHIPPED,
    EventKind.RECEIVED,
    EventKind.UNPACKED,
    EventKind.SHIPPED,
    EventKind.RECEIVED,
    EventKind.DISPENSED,
]


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Supervisor(tmp_path_factory.mktemp("anvil")) as supervisor:
        yield start_anvil(supervisor)


@pytest.fixture(scope="module")
def dev() -> list[LocalAccount]:
    return anvil_dev_accounts(10)


def _key(account: LocalAccount) -> str:
    return "0x" + bytes(account.key).hex()


def _deploy(rpc: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["deploy", "--rpc", rpc, *args])
    return result.exit_code, " ".join(result.output.split())


def test_deploy_names_the_problem(anvil: str, dev: list[LocalAccount], tmp_path: Path) -> None:
    out = str(tmp_path / "deployment.json")
    code, text = _deploy("http://127.0.0.1:9", "--key", _key(dev[0]), "--out", out)
    assert code == 2 and "cannot reach a JSON-RPC endpoint at http://127.0.0.1:9" in text
    code, text = _deploy(anvil, "--key", "0x1234", "--out", out)
    assert code == 2 and "--key has 4 hex digits" in text
    code, text = _deploy(anvil, "--key", "0xnothex", "--out", out)
    assert code == 2 and "--key is not hexadecimal" in text
    pauper = "0x" + "42" * 32
    code, text = _deploy(anvil, "--key", pauper, "--out", out)
    assert code == 2 and "holds 0 wei on chain 31337" in text and "fund the account" in text
    assert not Path(out).exists()
    code, text = _deploy(anvil, "--out", out)
    assert code == 2 and "exactly one of --key" in text


def test_deploy_from_an_encrypted_keystore(
    anvil: str, dev: list[LocalAccount], tmp_path: Path
) -> None:
    keystore = tmp_path / "deployer.json"
    create_keystore(keystore, "s3cret", private_key=bytes(dev[6].key), kdf="pbkdf2", iterations=2)
    (tmp_path / "wrong").write_text("guess\n")
    (tmp_path / "right").write_text("s3cret\n")
    out = tmp_path / "deployment.json"
    args = ["--keystore", str(keystore), "--out", str(out), "--password-file"]
    code, text = _deploy(anvil, *args, str(tmp_path / "wrong"))
    assert code == 2 and f"wrong password for keystore {keystore}" in text
    code, text = _deploy(anvil, *args, str(tmp_path / "right"))
    assert code == 0, text
    assert f"deploying from {dev[6].address}" in text
    assert Deployment.load(out).chain_id == 31337


def _deploy_for_stack(anvil: str, dev: list[LocalAccount], data_dir: Path) -> StackSecrets:
    """`medledger deploy --stack-dir` as an operator runs it before `medledger up
    --chain-rpc`: the stack's regulator and relayer are bootstrapped on the chain."""
    argv = [sys.executable, "-m", "medledger.cli", "deploy", "--rpc", anvil]
    argv += ["--stack-dir", str(data_dir), "--fund-wei", str(10**20)]
    argv += ["--regulator-name", "National Medical Products Administration"]
    env = {"MEDLEDGER_DEPLOY_KEY": _key(dev[0]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    secrets = load_or_create_secrets(data_dir / "secrets")  # as `medledger deploy` made them
    regulator, relayer = secrets.account("regulator"), secrets.account("relayer")
    assert f"admitted regulator {regulator.address}" in done.stdout
    assert f"granted RELAYER_ROLE to {relayer.address}" in done.stdout
    # anvil charges gas: the relayer and the regulator pay for what they submit.
    w3 = Web3(HTTPProvider(anvil))
    assert w3.eth.get_balance(relayer.address) == w3.eth.get_balance(regulator.address) == 10**20
    return secrets


def _check_unit_history(db_url: str, life: PalletLife, cast: Cast) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for unit in life.units:
                steps = unit_history(conn, unit)
                assert [s.kind for s in steps] == LIFECYCLE
                assert steps[-1].status is ItemStatus.DISPENSED
                assert steps[-1].holder == life.hospital.address
                assert steps[2].via == life.pallet  # shipped inside the pallet
                assert [s.shipment_id for s in steps if s.kind is EventKind.SHIPPED] == (
                    life.shipments
                )
            pallet = unit_history(conn, life.pallet)
            assert pallet[-1].holder == cast.distributor.address
    finally:
        engine.dispose()


def _check_chain_agrees(consortium: Consortium, life: PalletLife) -> None:
    for unit in life.units:
        state = consortium.admin.item(unit)
        assert state.status is ItemStatus.DISPENSED
        assert state.holder == life.hospital.address


def test_whole_stack_on_anvil(
    anvil: str, dev: list[LocalAccount], tmp_path: Path, artifacts: dict[str, ContractArtifact]
) -> None:
    data_dir = tmp_path / "stack"
    secrets = _deploy_for_stack(anvil, dev, data_dir)
    deployment_file = data_dir / "deployment.json"
    w3 = Web3(HTTPProvider(anvil))
    consortium = bootstrap_consortium(
        w3,
        [dev[0], secrets.account("regulator"), *dev[1:6]],
        now=int(w3.eth.get_block("latest")["timestamp"]),
        artifacts=artifacts,
        deployment=Deployment.load(deployment_file),
    )
    config = replace(
        StackConfig.on_free_ports(data_dir),
        chain_rpc_url=anvil,
        deployment_file=deployment_file,
        indexer_poll_interval=0.05,
        api_env={"MEDLEDGER_API_VERIFY_RATE_PER_MINUTE": "100000"},
    )
    with start_stack(config) as stack, httpx.Client(base_url=stack.partner_api, timeout=60) as http:
        assert sorted(stack.names()) == ["api", "indexer", "regulator-api", "regulator-indexer"]
        assert stack.sequencer_rpc is None and stack.chain_rpc == anvil

        # Relayed orders, two pallets at once: one relayer key shared by concurrent requests.
        relayed = Cast.sign_in(consortium, http, artifacts, relayed=True)
        with ThreadPoolExecutor(2) as pool:
            life, twin = pool.map(lambda _: run_pallet(relayed, 3), range(2))
        answer = relayed.verify(life.serials[0])
        assert (answer["verdict"], answer["status"]) == ("dispensed", "dispensed")
        assert answer["lot"]["lot"] == consortium.lot
        assert any(ref["tx_hash"] for ref in answer["chain"])
        assert relayed.verify("NEVERMADE1")["verdict"] == "unknown"

        # Member-signed transactions, three pallets at once: nonces assigned client-side, each
        # held back until anvil has taken the one before it.
        direct = Cast.sign_in(consortium, http, artifacts, relayed=False, in_nonce_order=True)
        with ThreadPoolExecutor(3) as pool:
            lives = list(pool.map(lambda _: run_pallet(direct, 4, tag="RAW"), range(3)))
        for other in lives:
            assert direct.verify(other.serials[-1])["status"] == "dispensed"

        for done in (life, twin, *lives):
            _check_chain_agrees(consortium, done)
            _check_unit_history(stack.index_db_url, done, relayed)

        regulator = httpx.get(
            f"{stack.regulator_api}/v1/trace/items/0x{life.units[0].hex()}/history",
            headers={"Authorization": f"Bearer {secrets.regulator_api_token}"},
            timeout=30,
        )
        assert regulator.status_code == 200, regulator.text
        kinds = [step["kind"] for step in regulator.json()["steps"]]
        assert kinds == [k.name.lower() for k in LIFECYCLE]
        _check_unit_history(stack.regulator_index_db_url, life, relayed)


def test_concurrent_sends_from_one_account_take_distinct_nonces(
    anvil: str, dev: list[LocalAccount]
) -> None:
    """An API process relays for many requests with one key: its threads must not pick
    the same pending nonce (anvil then answers "replacement transaction underpriced")."""
    w3 = Web3(HTTPProvider(anvil))
    sender, receiver = dev[8], dev[7].address
    start = threading.Barrier(8)

    def send(_: int) -> int:
        start.wait()
        receipt = send_transaction(w3, sender, {"to": receiver, "value": 1, "gas": 21_000})
        return int(w3.eth.get_transaction(receipt["transactionHash"])["nonce"])

    with ThreadPoolExecutor(8) as pool:
        nonces = sorted(pool.map(send, range(8)))
    assert nonces == list(range(nonces[0], nonces[0] + 8))
