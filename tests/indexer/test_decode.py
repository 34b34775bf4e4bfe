"""The fast decoder must agree with the SDK's reference AbiCodec on every log."""

from __future__ import annotations

from medledger.indexer.decode import LogDecoder
from medledger.indexer.source import Web3LogSource
from medledger.sdk.abi import AbiCodec
from medledger.sdk.deploy import CONTRACT_NAMES


def _reference(artifacts) -> AbiCodec:
    return AbiCodec({n: artifacts[n].abi for n in CONTRACT_NAMES})


def test_fast_decoding_equals_the_reference_codec_on_synthetic_logs(artifacts, synthetic):
    chain, deployment = synthetic
    logs = chain.get_logs(1, chain.head(), [deployment.address_of(n) for n in CONTRACT_NAMES])
    fast = LogDecoder(artifacts).decode_logs(logs)
    assert len(fast) == len(logs) > 100
    assert fast == _reference(artifacts).decode_logs(logs)


def test_fast_decoding_equals_the_reference_codec_on_real_chain_logs(artifacts, devchain_run):
    source = Web3LogSource(devchain_run.chain.w3)
    deployment = devchain_run.run.deployment
    logs = source.get_logs(0, source.head(), [deployment.address_of(n) for n in CONTRACT_NAMES])
    fast = LogDecoder(artifacts).decode_logs(logs)
    assert {e.name for e in fast} >= {"ItemsCommissioned", "ShipmentReceived", "RecallOpened"}
    assert fast == _reference(artifacts).decode_logs(logs)
