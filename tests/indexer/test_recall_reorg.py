"""Recall notice versions and signed acknowledgements in the read model: projected from
`RecallUpdated` and `RecallAcknowledged`, and rewound by a reorg like every other row."""

from __future__ import annotations

from pathlib import Path

from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings
from medledger.indexer.digest import table_digests
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.recalls import chain_acks, notice_versions
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium
from tests.indexer.conftest import connect, index_all


def test_notice_versions_and_acknowledgements_are_projected_and_rewound(
    consortium: Consortium, chain: DevChain, tmp_path: Path
) -> None:
    c = consortium
    recall = c.manufacturer.recall_lot(c.lot_key, level=1, reason_hash=b"\x01" * 32).value
    c.hospital.acknowledge_recall(recall, commitment=b"\x0a" * 32)
    db_url = f"sqlite:///{tmp_path / 'index.db'}"
    snapshot = chain.tester.take_snapshot()
    c.manufacturer.update_recall(recall, notice_commitment=b"\x02" * 32)
    c.distributor.acknowledge_recall(recall, commitment=b"\x0b" * 32)
    source = Web3LogSource(chain.w3)
    with Indexer(Settings(db_url, batch_blocks=1), source, c.deployment) as indexer:
        indexer.catch_up()
        with connect(db_url) as conn:
            versions = notice_versions(conn, recall)
            assert [(v.version, v.commitment) for v in versions] == [
                (1, b"\x01" * 32),
                (2, b"\x02" * 32),
            ]
            acks = chain_acks(conn, recall)
            assert [(a.holder, a.commitment) for a in acks] == [
                (c.hospital.address, b"\x0a" * 32),
                (c.distributor.address, b"\x0b" * 32),
            ]

        chain.tester.revert_to_snapshot(snapshot)
        c.manufacturer.update_recall(recall, notice_commitment=b"\x03" * 32)
        chain.tester.mine_blocks(3)
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        indexer.catch_up()

    with connect(db_url) as conn:
        assert [v.commitment for v in notice_versions(conn, recall)] == [b"\x01" * 32, b"\x03" * 32]
        assert [a.holder for a in chain_acks(conn, recall)] == [c.hospital.address]
        after = table_digests(conn)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    index_all(clean, Web3LogSource(chain.w3), c.deployment)
    with connect(clean) as conn:
        assert table_digests(conn) == after
