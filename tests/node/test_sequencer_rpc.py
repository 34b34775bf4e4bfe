"""The sequencer over real HTTP, started as `medledger node` in a subprocess: web3.py and
the SDK work unchanged, admission follows live membership, errors use standard codes."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import RpcError
from medledger.ops.demo.consortium import bootstrap_consortium
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role
from tests.node.conftest import (
    NodeProcess,
    admin_account,
    deployment_of,
    sign,
    spawn_node,
    wait_receipt,
)


@pytest.fixture(scope="module")
def sequencer(
    tmp_path_factory: pytest.TempPathFactory, genesis_file: Path
) -> Iterator[NodeProcess]:
    node = spawn_node(tmp_path_factory.mktemp("seq") / "node", genesis_file)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def w3(sequencer: NodeProcess) -> Web3:
    return Web3(Web3.HTTPProvider(sequencer.url))


@pytest.fixture
def client(sequencer: NodeProcess) -> Iterator[RpcClient]:
    c = RpcClient(sequencer.url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def admin(w3: Web3, node_config: NodeConfig) -> Ledger:
    return Ledger(w3, deployment_of(node_config), admin_account(node_config))


def _post(url: str, body: bytes) -> object:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_the_node_answers_standard_identity_methods(w3: Web3, node_config: NodeConfig) -> None:
    assert w3.eth.chain_id == node_config.chain_id
    assert w3.net.version == str(node_config.chain_id)
    assert w3.client_version.startswith("medledger/")
    assert w3.eth.syncing is False
    assert w3.eth.gas_price == 0
    genesis = w3.eth.get_block(0)
    assert genesis["number"] == 0 and genesis["baseFeePerGas"] == 0
    code = w3.eth.get_code(node_config.contract_address("Partners"))
    assert len(code) > 1000


def test_malformed_requests_get_the_standard_error_codes(sequencer: NodeProcess) -> None:
    assert _post(sequencer.url, b"{not json")["error"]["code"] == -32700  # type: ignore[index]
    assert _post(sequencer.url, b"[]")["error"]["code"] == -32600  # type: ignore[index]
    missing = _post(sequencer.url, b'{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}')
    assert missing["error"]["code"] == -32601  # type: ignore[index]
    assert "eth_nope" in missing["error"]["message"]  # type: ignore[index]
    bad = _post(
        sequencer.url,
        b'{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x12","latest"]}',
    )
    assert bad["error"]["code"] == -32602  # type: ignore[index]
    assert "20 bytes" in bad["error"]["message"]  # type: ignore[index]


def test_a_batch_is_answered_in_order_with_per_request_errors(sequencer: NodeProcess) -> None:
    body = json.dumps(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_bogus", "params": []},
            {"jsonrpc": "2.0", "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"},
        ]
    ).encode()
    answers = _post(sequencer.url, body)
    assert isinstance(answers, list)
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert answers[0]["result"] == "0x539"
    assert answers[1]["error"]["code"] == -32601


def test_a_non_member_is_refused_at_admission_with_a_reason(
    client: RpcClient, node_config: NodeConfig
) -> None:
    stranger = Account.create()
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(stranger, node_config, nonce=0))
    assert info.value.code == -32010
    assert stranger.address.lower()[2:] in info.value.message
    assert "not an active member" in info.value.message


def test_the_bootstrap_admin_may_send_without_being_a_member(
    client: RpcClient, node_config: NodeConfig
) -> None:
    admin = admin_account(node_config)
    nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
    tx_hash = client.call("eth_sendRawTransaction", sign(admin, node_config, nonce=nonce))
    receipt = wait_receipt(client, tx_hash)
    assert receipt["status"] == "0x1"
    seal = client.call("medledger_getSeal", receipt["blockNumber"])
    assert seal["blockHash"] == receipt["blockHash"] and len(seal["seal"]) == 132


def test_duplicates_gaps_and_wrong_chain_ids_are_handled(
    client: RpcClient, admin: Ledger, node_config: NodeConfig
) -> None:
    member = Account.create()
    admin.admit(member.address, Role.REGULATOR, "Duplicate test regulator")
    later = sign(member, node_config, nonce=1)
    first = sign(member, node_config, nonce=0)
    later_hash = client.call("eth_sendRawTransaction", later)  # waits for nonce 0
    assert client.call("eth_getTransactionCount", member.address, "pending") == "0x0"
    first_hash = client.call("eth_sendRawTransaction", first)
    with pytest.raises(RpcError, match="already known|nonce too low"):
        client.call("eth_sendRawTransaction", first)
    assert wait_receipt(client, later_hash)["status"] == "0x1"
    assert (
        wait_receipt(client, first_hash)["blockNumber"]
        <= wait_receipt(client, later_hash)["blockNumber"]
    )
    with pytest.raises(RpcError, match="already known") as info:
        client.call("eth_sendRawTransaction", first)
    assert info.value.code == -32003
    with pytest.raises(RpcError, match="wrong chain id"):
        client.call("eth_sendRawTransaction", sign(member, node_config, nonce=2, chainId=1))


def test_a_member_suspended_in_one_block_is_refused_from_the_next(
    client: RpcClient, admin: Ledger, node_config: NodeConfig
) -> None:
    regulator, member = Account.create(), Account.create()
    admin.admit(regulator.address, Role.REGULATOR, "Suspending regulator")
    admin.as_member(regulator).admit(member.address, Role.HOSPITAL, "Soon suspended")
    ok = client.call("eth_sendRawTransaction", sign(member, node_config, nonce=0))
    assert wait_receipt(client, ok)["status"] == "0x1"
    waiting = client.call("eth_sendRawTransaction", sign(member, node_config, nonce=5))
    assert client.call("medledger_getTransactionStatus", waiting) == {"status": "pending"}
    suspension = admin.as_member(regulator).suspend(member.address)
    block = suspension.receipt["blockNumber"]
    dropped = client.call("medledger_getTransactionStatus", waiting)
    assert dropped == {"status": "dropped", "reason": "sender is no longer an active member"}
    assert client.call("medledger_getTransactionStatus", ok)["status"] == "mined"
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(member, node_config, nonce=1))
    assert info.value.code == -32010
    assert int(client.call("eth_blockNumber"), 16) >= block
    admin.as_member(regulator).reinstate(member.address)
    again = client.call("eth_sendRawTransaction", sign(member, node_config, nonce=1))
    assert wait_receipt(client, again)["status"] == "0x1"


def test_the_sdk_runs_the_consortium_bootstrap_and_a_custody_lifecycle(
    w3: Web3, admin: Ledger, client: RpcClient
) -> None:
    accounts = [admin.account] + [Account.create() for _ in range(6)]
    admin.admit(accounts[1].address, Role.REGULATOR, "NMPA")
    for account in accounts[2:]:
        admin.as_member(accounts[1]).admit(account.address, Role.DISTRIBUTOR, "member")
    now = int(time.time())
    consortium = bootstrap_consortium(w3, accounts, now=now)
    manufacturer, distributor = consortium.manufacturer, consortium.distributor
    ids = manufacturer.commission(consortium.lot_key, ["SN-N-1", "SN-N-2"]).value
    shipment = manufacturer.ship(distributor.address, ids).value
    received = distributor.receive(shipment, temp_min=52, temp_max=79)
    assert distributor.item(ids[0]).holder == distributor.address
    with pytest.raises(ContractError) as info:
        manufacturer.ship(distributor.address, ids)
    assert info.value.name == "ItemsNotHolder"
    # the shipment's events are found through the log index, by address and by topic
    items = consortium.deployment.items
    topic = "0x" + received.receipt["logs"][0]["topics"][0].hex()
    block = hex(received.receipt["blockNumber"])
    by_address = client.call("eth_getLogs", {"address": items, "fromBlock": "0x0"})
    by_topic = client.call("eth_getLogs", {"topics": [topic], "fromBlock": block, "toBlock": block})
    tx = "0x" + received.receipt["transactionHash"].hex()
    assert any(log["transactionHash"] == tx for log in by_address)
    assert [log["transactionHash"] for log in by_topic] == [tx] * len(by_topic)
    assert by_topic
    unrelated = "0x" + keccak(text="nothing").hex()
    assert client.call("eth_getLogs", {"topics": [unrelated], "fromBlock": "0x0"}) == []


def test_get_logs_refuses_a_range_over_the_cap(client: RpcClient) -> None:
    with pytest.raises(RpcError) as info:
        client.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(10**6)})
    assert info.value.code == -32005 and "100000 blocks" in info.value.message


def test_reads_at_a_past_block_see_past_state(w3: Web3, admin: Ledger) -> None:
    newcomer = Account.create()
    result = admin.admit(newcomer.address, Role.REGULATOR, "Past-state regulator")
    number = result.receipt["blockNumber"]
    contract = admin._c["Partners"]
    assert contract.functions.isActive(newcomer.address).call(block_identifier=number) is True
    assert contract.functions.isActive(newcomer.address).call(block_identifier=number - 1) is False


def test_a_transaction_that_could_not_pay_its_gas_is_refused_at_admission(
    client: RpcClient, node_config: NodeConfig
) -> None:
    admin = admin_account(node_config)
    nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(admin, node_config, nonce=nonce, gasPrice=1))
    assert info.value.code == -32003 and "insufficient funds" in info.value.message


def test_a_reverting_call_answers_code_3_with_the_revert_data(
    client: RpcClient, node_config: NodeConfig
) -> None:
    from medledger.sdk.abi import AbiCodec
    from medledger.sdk.compiler import load_artifacts

    abi = load_artifacts()["Partners"].abi
    contract = Web3().eth.contract(abi=abi)
    stranger = Account.create().address
    data = contract.encode_abi("admit", [Account.create().address, 1, "x"])
    call = {"from": stranger, "to": node_config.contract_address("Partners"), "data": data}
    for method in ("eth_call", "eth_estimateGas"):
        with pytest.raises(RpcError) as info:
            client.call(method, call, "latest")
        assert info.value.code == 3 and info.value.message == "execution reverted"
        decoded = AbiCodec({"Partners": abi}).decode_error(bytes.fromhex(info.value.data[2:]))
        assert decoded is not None and decoded.name == "PartnersUnauthorized"


def test_blocks_are_served_with_hashes_or_full_transactions_and_as_raw_rlp(
    client: RpcClient, node_config: NodeConfig
) -> None:
    import rlp

    admin = admin_account(node_config)
    nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
    tx_hash = client.call("eth_sendRawTransaction", sign(admin, node_config, nonce=nonce))
    receipt = wait_receipt(client, tx_hash)
    light = client.call("eth_getBlockByHash", receipt["blockHash"], False)
    full = client.call("eth_getBlockByNumber", receipt["blockNumber"], True)
    assert tx_hash in light["transactions"]
    assert any(
        tx["hash"] == tx_hash and tx["from"] == admin.address.lower() for tx in full["transactions"]
    )
    raw = bytes.fromhex(client.call("debug_getRawBlock", receipt["blockNumber"])[2:])
    header = rlp.decode(raw)[0]
    assert "0x" + keccak(rlp.encode(header)).hex() == light["hash"]
    logs = client.call("eth_getLogs", {"blockHash": receipt["blockHash"]})
    assert all(log["blockHash"] == receipt["blockHash"] for log in logs)
    history = client.call("eth_feeHistory", "0x4", "latest", [50])
    assert history["baseFeePerGas"] == ["0x0"] * (len(history["gasUsedRatio"]) + 1)
    assert client.call("eth_getBlockByNumber", hex(10**9), False) is None
    assert client.call("medledger_authorities") == list(node_config.authorities)
    status = client.call("medledger_status")
    assert status["role"] == "sequencer" and status["headNumber"] >= int(receipt["blockNumber"], 16)


def test_a_platform_relayer_is_admitted_until_its_role_is_revoked(
    client: RpcClient, admin: Ledger, node_config: NodeConfig
) -> None:
    relayer = Account.create()
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(relayer, node_config, nonce=0))
    assert info.value.code == -32010
    admin.grant_relayer(relayer.address)
    tx_hash = client.call("eth_sendRawTransaction", sign(relayer, node_config, nonce=0))
    assert wait_receipt(client, tx_hash)["status"] == "0x1"
    admin.revoke_relayer(relayer.address)
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(relayer, node_config, nonce=1))
    assert info.value.code == -32010 and "mayTransact" in info.value.message
