from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from medledger.sdk.abi import AbiCodec
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.deploy import CONTRACT_NAMES


def _codec(artifacts: dict[str, ContractArtifact]) -> AbiCodec:
    return AbiCodec({name: artifacts[name].abi for name in CONTRACT_NAMES})


def test_a_custom_error_decodes_to_its_name_and_named_checksummed_arguments(
    artifacts: dict[str, ContractArtifact],
) -> None:
    selector = keccak(text="ItemsNotHolder(bytes32,address)")[:4]
    data = selector + encode(["bytes32", "address"], [b"\x11" * 32, "0x" + "ab" * 20])
    error = _codec(artifacts).decode_error(data)
    assert error is not None
    assert error.name == "ItemsNotHolder"
    assert error.contract == "Items"
    assert error.args_by_name == {
        "id": b"\x11" * 32,
        "holder": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
    }
    assert str(error).startswith("ItemsNotHolder(id=0x1111")


def test_standard_error_and_panic_are_decoded_and_unknown_selectors_are_not(
    artifacts: dict[str, ContractArtifact],
) -> None:
    codec = _codec(artifacts)
    reason = codec.decode_error(keccak(text="Error(string)")[:4] + encode(["string"], ["nope"]))
    panic = codec.decode_error(keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11]))
    assert reason is not None and reason.args_by_name == {"reason": "nope"}
    assert panic is not None and panic.args_by_name == {"code": 0x11}
    assert codec.decode_error(b"\xde\xad\xbe\xef") is None


def test_logs_of_unknown_events_are_skipped(artifacts: dict[str, ContractArtifact]) -> None:
    log = {
        "topics": [b"\x00" * 32],
        "data": b"",
        "address": "0x" + "00" * 20,
        "blockNumber": 1,
        "blockHash": b"\x00" * 32,
        "transactionHash": b"\x00" * 32,
        "logIndex": 0,
    }
    assert _codec(artifacts).decode_logs([log]) == []
