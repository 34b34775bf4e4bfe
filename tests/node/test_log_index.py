"""eth_getLogs reads postings, not every block: on a 2,000-block store the candidate blocks
for an address or a topic are exactly the blocks that hold such a log."""

from __future__ import annotations

from pathlib import Path

from medledger.node.records import LogFilter, Reader, write_block
from medledger.node.store import LmdbStore

ITEMS = bytes.fromhex("4c18b49f381331196b8fae0fb9ef78be10ec4781")
OTHER = bytes.fromhex("ced72ef9731fe93a6b9e92873007193bb9bb4897")
SHIPPED = bytes(31) + b"\x01"
ADMITTED = bytes(31) + b"\x02"


def _log(address: bytes, topic: bytes, number: int) -> dict[str, object]:
    return {
        "address": "0x" + address.hex(),
        "topics": ["0x" + topic.hex()],
        "data": "0x",
        "blockNumber": hex(number),
        "transactionHash": "0x" + number.to_bytes(32, "big").hex(),
        "logIndex": "0x0",
    }


def test_the_log_index_narrows_a_query_to_the_blocks_that_match(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "index")
    buffer = store.write_buffer()
    shipped_blocks = set(range(7, 2000, 97))
    for number in range(1, 2000):
        address, topic = (ITEMS, SHIPPED) if number in shipped_blocks else (OTHER, ADMITTED)
        tx = {"hash": "0x" + number.to_bytes(32, "big").hex()}
        receipt = {"logs": [_log(address, topic, number)]}
        write_block(
            buffer,
            number=number,
            block_hash=number.to_bytes(32, "big"),
            transactions=[tx],
            receipts=[receipt],
            seal=b"\x00" * 65,
        )
    buffer.commit()
    snapshot = store.snapshot()
    reader = Reader(snapshot)
    by_address = LogFilter([ITEMS], [])
    by_topic = LogFilter([], [[SHIPPED]])
    both = LogFilter([ITEMS], [[ADMITTED]])
    assert set(reader._candidate_blocks(1, 1999, by_address)) == shipped_blocks
    assert set(reader._candidate_blocks(1, 1999, by_topic)) == shipped_blocks
    assert reader._candidate_blocks(1, 1999, both) == []
    in_range = {n for n in shipped_blocks if 100 <= n <= 500}
    assert set(reader._candidate_blocks(100, 500, by_address)) == in_range
    logs = reader.logs(100, 500, by_address, limit=1000)
    assert [int(log["blockNumber"], 16) for log in logs] == sorted(in_range)
    snapshot.close()
    buffer.close()
    store.close()
