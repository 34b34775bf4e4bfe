"""Issue #16's acceptance check "no unsalted hash of user-entered text is written on
chain": seed the demo (`ops.demo.seed`) on a real EVM, read every log of every block, and
look for any 32-byte word (topic or data word) equal to the keccak256 or sha256 of a text
the demo entered, of two such texts joined (f"{a}:{b}", f"{a} {b}", a + b, the forms the
old code hashed, like f"{use}:{reference}"), or of the JSON it sealed.

The texts are gathered from the demo itself, not listed here: every string constant in
the demo's modules (names, lot numbers, notes, the literal parts of its f-strings) and
every string in the bodies of the records the demo sealed, with those bodies as JSON.
The master data the demo imports is public by design (served at GET /v1/devices/{gtin})
and anchored as a hash of its published record, so it is not a secret here.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from medledger.domain import records
from medledger.domain.services import Components
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.shipments import shipments_of
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo import gsp_records as gsp
from medledger.ops.demo import master
from medledger.ops.demo import seed as demo_seed
from medledger.ops.demo.seed import seed_demo
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.deploy import deploy_suite
from tests.api import partner_env
from tests.api.conftest import api  # noqa: F401  (the fixture `partner` builds on)
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
DEMO = Path(demo_seed.__file__).parent
SHORT = 100  # texts joined in pairs: names, numbers, notes (not docstrings)


def _literals() -> set[str]:
    """Every string constant in the demo's modules, f-strings' literal parts included."""
    found: set[str] = set()
    for module in sorted(DEMO.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _digests(data: bytes) -> set[bytes]:
    return {bytes(keccak(data)), hashlib.sha256(data).digest()}


def _guessable(texts: set[str], blobs: set[bytes]) -> dict[bytes, str]:
    """Each digest an observer could confirm a guess against, and what it is of."""
    out: dict[bytes, str] = {}
    for t in texts:
        for form in (t, t.strip()):
            for d in _digests(form.encode()):
                out[d] = form
    short = sorted(t for t in texts if 0 < len(t) <= SHORT)
    for a, b in product(short, repeat=2):
        for joined in (f"{a}:{b}", f"{a} {b}", a + b):
            out[bytes(keccak(joined.encode()))] = joined
    for blob in blobs:
        for d in _digests(blob):
            out[d] = blob.decode()[:80]
    return out


def _words(chain_logs: list[Any]) -> Iterator[tuple[str, bytes]]:
    """(contract address and topic0, word) for every topic and 32-byte data word."""
    for log in chain_logs:
        where = f"{log['address']} {bytes(log['topics'][0]).hex()[:8]}"
        for topic in log["topics"][1:]:
            yield where, bytes(topic)
        data = bytes(log["data"])
        for i in range(0, len(data) - len(data) % 32, 32):
            yield where, data[i : i + 32]


def test_no_event_of_the_seeded_demo_carries_a_hash_of_text_the_demo_entered(
    partner: PartnerEnv,
    tmp_path: Path,
    artifacts: dict[str, ContractArtifact],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = partner.api
    w3 = env.chain.w3
    funder, admin = env.chain.accounts[7], env.chain.accounts[10]
    # A suite of its own: the seed admits its own consortium and company prefixes.
    deployment = deploy_suite(w3, admin, artifacts=artifacts)
    db_url = f"sqlite:///{tmp_path / 'seed.indexer.db'}"
    services = replace(
        env.services, deployment=deployment, engine=make_engine(db_url), components=Components()
    )

    def index() -> None:
        with Indexer(IndexerSettings(db_url, batch_blocks=500), Web3LogSource(w3), deployment) as i:
            i.catch_up()

    # The master-data import waits for the partner indexer to see each prefix; no indexer
    # process runs here, so the real indexer catches up before the (real) wait.
    waiting = master._await_prefix
    monkeypatch.setattr(master, "_await_prefix", lambda *a, **k: (index(), waiting(*a, **k))[1])
    # Likewise the GSP records step waits for the read model to reach the chain head.
    monkeypatch.setattr(gsp, "await_indexed", lambda *a, **k: index())
    keys = demo_seed._member_keys(tmp_path / "secrets" / "members.json")
    for account in keys.values():  # eth-tester charges gas: fund the demo's fresh keys
        w3.eth.send_transaction({"from": funder.address, "to": account.address, "value": 10**21})
    first_block = w3.eth.block_number + 1
    seed_demo(
        rpc_url="unused",
        deployment=deployment,
        admin=admin,
        regulator=env.chain.accounts[8],
        relayer=env.chain.accounts[9].address,
        data_dir=tmp_path,
        partner=services,
        echo=lambda _: None,
        w3=w3,
    )

    texts = _literals()
    blobs: set[bytes] = set()
    sealed = records.list_for(
        services, reader=env.chain.accounts[8].address, regulator=True, limit=10_000
    )
    for record in sealed:
        _, plaintext = records.opening(services, record.id)
        body = json.loads(plaintext)
        texts |= set(_strings(body))
        blobs |= {plaintext, json.dumps(body, sort_keys=True).encode(), json.dumps(body).encode()}
    kinds = {r.kind for r in sealed}
    assert {"qc_release", "dispense", "acceptance", "recall_notice"} <= kinds
    assert {"return", "return_inspection", "explant", "service", "adverse_event"} <= kinds
    assert "qualification" in kinds
    index()  # Kangze keeps Hold: East China Demo's last delivery landed in quarantine
    with services.engine.connect() as conn:
        (last,) = shipments_of(conn, keys["kangze"].address, side="inbound", limit=1)
    assert last.sender.address == keys["huadong"].address and last.quarantined is True
    guessable = _guessable(texts, blobs)
    # The scan would catch what the demo used to write (a composition and a plain note).
    assert bytes(keccak(text="implant:JH-2026-0412")) in guessable  # f"{use}:{reference}"
    assert bytes(keccak(text="particles in drip chamber")) in guessable
    assert bytes(keccak(text="QC release HP2609A")) in guessable

    logs = w3.eth.get_logs({"fromBlock": first_block, "toBlock": "latest"})
    assert len(logs) > 150
    found = {(where, guessable[word]) for where, word in _words(logs) if word in guessable}
    assert not found, f"unsalted hashes of entered text on chain: {sorted(found)[:10]}"
