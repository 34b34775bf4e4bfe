"""`node.mpt` builds the tries py-trie builds: the same roots, the same nodes reachable from
them, every key readable back through a plain `HexaryTrie`; its lookups read what py-trie
reads, and fail where it fails; and three blocks that fill, update and empty a contract's
storage, committed by revm through `node.mpt`, are the blocks py-evm builds with its own
tries."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.db.atomic import AtomicDB
from eth.db.trie import make_trie_root_and_nodes
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from trie.constants import BLANK_NODE_HASH
from trie.exceptions import MissingTrieNode
from trie.hexary import HexaryTrie

from medledger.node import engine_blocks, evm
from medledger.node.chain import Chain
from medledger.node.config import NodeConfig, create_address
from medledger.node.mpt import NodeCache, apply_changes, lookup, ordered_trie_root_and_nodes
from tests.node.conftest import admin_account, sign

Changes = dict[bytes, bytes | None]


def _reachable(db: Any, root: bytes) -> dict[bytes, bytes]:
    """Every node stored by hash that the trie at `root` references, read from `db`."""
    found: dict[bytes, bytes] = {}
    refs: list[Any] = [] if root == BLANK_NODE_HASH else [root]
    while refs:
        ref = refs.pop()
        if isinstance(ref, bytes):
            if not ref or ref in found:
                continue
            found[ref] = db[ref]
            node = rlp.decode(found[ref])
        else:
            node = ref  # embedded
        if len(node) == 17:
            refs.extend(node[:16])
        elif node[0][0] >> 4 in (0, 1):  # extension
            refs.append(node[1])
    return found


def _state_nodes(db: Any, state_root: bytes) -> dict[bytes, bytes]:
    """The nodes of the account trie at `state_root` and of every account's storage trie."""
    nodes = _reachable(db, state_root)
    for encoded in list(nodes.values()):
        node = rlp.decode(encoded)
        if len(node) == 2 and node[0][0] >> 4 in (2, 3):  # a leaf: an account
            nodes.update(_reachable(db, rlp.decode(node[1])[2]))
    return nodes


def _apply_both(
    batches: list[Changes], keys: list[bytes] | None = None, *, nodes: NodeCache | None = None
) -> tuple[dict[bytes, bytes], bytes]:
    """Apply `batches` with `apply_changes` (reading through `nodes`) and with py-trie,
    checking after each batch, `lookup` too; returns our store and root."""
    ours: dict[bytes, bytes] = {}
    theirs: dict[bytes, bytes] = {}
    reference = HexaryTrie(theirs, prune=True)
    root = BLANK_NODE_HASH
    model: dict[bytes, bytes] = {}
    for changes in batches:
        root = apply_changes(ours, root, changes, nodes=nodes)
        for key, value in changes.items():
            reference[key] = value or b""
            if value:
                model[key] = value
            else:
                model.pop(key, None)
        assert root == reference.root_hash
        assert _reachable(ours, root) == _reachable(theirs, root)
        readback = HexaryTrie(ours, root)
        for key, value in model.items():
            assert readback[key] == value
            assert lookup(ours, root, key, nodes=nodes) == value
    for key in keys or []:
        if key not in model:
            assert HexaryTrie(ours, root)[key] == b""
            assert lookup(ours, root, key, nodes=nodes) == b""
    return ours, root


# Keys from a small alphabet share long prefixes and are prefixes of one another.
_short_keys = st.lists(st.sampled_from([0x00, 0x01, 0x10, 0x12, 0xFF]), min_size=1, max_size=5)
_keys = st.one_of(st.builds(bytes, _short_keys), st.binary(min_size=32, max_size=32))
# Short values give leaves under 32 bytes (embedded in their parent), values of 20 to 32
# bytes leaves at the edge of it; None and b"" delete.
_values = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(min_size=1, max_size=2),
    st.binary(min_size=20, max_size=32),
    st.binary(min_size=56, max_size=60),
)


@st.composite
def _batches(draw: st.DrawFn) -> list[Changes]:
    pool = draw(st.lists(_keys, min_size=1, max_size=40, unique=True))
    changes = st.dictionaries(st.sampled_from(pool), _values, max_size=len(pool))
    batches = draw(st.lists(changes, min_size=1, max_size=6))
    if draw(st.booleans()):
        batches.append(dict.fromkeys(pool))  # delete everything
    return batches


@settings(max_examples=300, deadline=None)
@given(_batches())
def test_batches_of_writes_and_deletes_give_py_trie_roots_and_nodes(
    batches: list[Changes],
) -> None:
    _apply_both(batches)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=300, unique=True),
    st.data(),
)
def test_storage_like_batches_give_py_trie_roots(keys: list[bytes], data: st.DataObject) -> None:
    values = st.one_of(st.just(b""), st.builds(rlp.encode, st.integers(1, 2**256 - 1)))
    fill = {key: data.draw(values) for key in keys}
    rewrite = data.draw(st.dictionaries(st.sampled_from(keys), values))
    fresh = data.draw(st.lists(st.binary(min_size=32, max_size=32), max_size=50))
    rewrite.update(dict.fromkeys(fresh, b"\x01"))
    absent = data.draw(st.lists(st.binary(min_size=32, max_size=32), max_size=20))
    _apply_both([fill, rewrite], keys=keys + fresh + absent, nodes=NodeCache(64))


def test_deleting_every_key_leaves_the_blank_root() -> None:
    keys = [keccak(bytes([i])) for i in range(50)]
    db, root = _apply_both([dict.fromkeys(keys, b"\x2a" * 40), dict.fromkeys(keys)])
    assert root == BLANK_NODE_HASH


def test_an_empty_batch_and_deletes_of_absent_keys_write_nothing() -> None:
    db, root = _apply_both([{keccak(bytes([i])): b"\x07" * 40 for i in range(20)}])
    nodes = dict(db)
    assert apply_changes(db, root, {}) == root
    assert apply_changes(db, root, {keccak(b"absent"): None, keccak(b"gone"): b""}) == root
    assert db == nodes


def test_a_missing_node_on_the_way_is_reported_as_py_trie_reports_it() -> None:
    keys = [keccak(bytes([i])) for i in range(40)]
    db, root = _apply_both([dict.fromkeys(keys, b"\x07" * 40)])
    del db[next(key for key in _reachable(db, root) if key != root)]
    with pytest.raises(MissingTrieNode) as raised:
        for key in keys:
            apply_changes(db, root, {key: b"\x08"})
    assert raised.value.root_hash == root
    assert raised.value.requested_key in keys


def _probes(keys: list[bytes]) -> list[bytes]:
    """`keys` and keys around them, mostly absent: each one's prefix, an extension of it,
    and keys that differ in its last nibble or in the one before."""
    probes = {b"", b"\x00", *keys}
    for key in keys:
        if key:
            last = key[-1]
            probes.update(
                (key[:-1], key[:-1] + bytes([last ^ 0x01]), key[:-1] + bytes([last ^ 0x10]))
            )
        probes.add(key + b"\x00")
    return sorted(probes)


def _outcome(read: Any, *args: Any, **kwargs: Any) -> Any:
    """What `read(*args, **kwargs)` returns, or the type and arguments of what it raises."""
    try:
        return read(*args, **kwargs)
    except Exception as exc:
        return type(exc).__name__, exc.args


def _py_trie_get(db: Any, root: bytes, key: bytes) -> Any:
    """`HexaryTrie.get`'s outcome; `None` for its refusal of a key that ends inside an
    extension's path (with keys of different lengths)."""
    outcome = _outcome(HexaryTrie(db, root).get, key)
    return None if isinstance(outcome, tuple) and outcome[0] == "ValidationError" else outcome


@settings(max_examples=200, deadline=None)
@given(_batches(), st.sampled_from([1, 3, 1000]))
def test_lookups_read_what_py_trie_reads_at_every_root_written(
    batches: list[Changes], size: int
) -> None:
    nodes = NodeCache(size)
    db: dict[bytes, bytes] = {}
    root = BLANK_NODE_HASH
    model: dict[bytes, bytes] = {}
    history = []
    for changes in batches:
        root = apply_changes(db, root, changes, nodes=nodes)
        for key, value in changes.items():
            if value:
                model[key] = value
            else:
                model.pop(key, None)
        history.append((root, dict(model)))
    # Earlier roots too: the cache holds nodes by hash, whichever state they belong to.
    for root, model in history:
        for key in _probes([key for changes in batches for key in changes]):
            value = lookup(db, root, key, nodes=nodes)
            assert value == model.get(key, b"")
            expected = _py_trie_get(db, root, key)
            if expected is None:  # a prefix of keys present, itself absent
                assert any(other.hex().startswith(key.hex()) for other in model if other != key)
                expected = b""
            assert value == expected
    assert len(nodes) <= 2 * size
    for node_hash, encoded in db.items():  # the nodes writes cache are the nodes reads decode
        cached = _outcome(nodes.node, {}, node_hash)
        assert cached in (rlp.decode(encoded), ("KeyError", (node_hash,)))


_present = st.one_of(
    st.binary(min_size=1, max_size=2),
    st.binary(min_size=20, max_size=32),
    st.binary(min_size=56, max_size=60),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _present, min_size=1, max_size=40), st.data())
def test_a_lookup_through_a_missing_node_fails_as_py_tries_get(
    items: dict[bytes, bytes], data: st.DataObject
) -> None:
    db: dict[bytes, bytes] = {}
    root = apply_changes(db, BLANK_NODE_HASH, items)
    del db[data.draw(st.sampled_from(sorted(_reachable(db, root))))]
    for key in _probes(list(items)):
        expected = _py_trie_get(db, root, key)
        if expected is None:
            expected = b""
        assert _outcome(lookup, db, root, key) == expected
        assert _outcome(lookup, db, root, key, nodes=NodeCache(8)) == expected


def test_the_node_cache_keeps_at_most_two_generations() -> None:
    nodes = NodeCache(4)
    db = {keccak(bytes([i])): rlp.encode([b"\x20", bytes([i])]) for i in range(20)}
    for node_hash in db:
        nodes.node(db, node_hash)
        assert len(nodes) <= 8
    recent = list(db)[-4:]
    db.clear()  # what is cached is answered without the store
    assert [nodes.node(db, node_hash) for node_hash in recent] == [
        [b"\x20", bytes([i])] for i in range(16, 20)
    ]
    with pytest.raises(KeyError):
        nodes.node(db, keccak(b"\x00"))


def _without_a_node(db: AtomicDB, root: bytes, *, at_root: bool) -> None:
    nodes = _reachable(db, root)
    del db[root if at_root else next(key for key in sorted(nodes) if key != root)]


class _Encoded:
    def __init__(self, encoded: bytes) -> None:
        self.encoded = encoded

    def encode(self) -> bytes:
        return self.encoded


@pytest.mark.parametrize("count", [0, 1, 2, 16, 17, 128, 129, 1000])
def test_ordered_tries_are_py_evms(count: int) -> None:
    sizes = [1, 5, 27, 28, 29, 30, 31, 32, 33, 200]  # leaves of 30 to 34 bytes among them
    items = [keccak(bytes([i % 256, i // 256])) * 7 for i in range(count)]
    items = [item[: sizes[i % len(sizes)]] for i, item in enumerate(items)]
    root, nodes = ordered_trie_root_and_nodes(items)
    encodable: Any = [_Encoded(i) for i in items]
    expected_root, expected_nodes = make_trie_root_and_nodes(encodable)
    assert root == expected_root
    assert nodes == expected_nodes
    readback = HexaryTrie(nodes, root)
    for index, item in enumerate(items):
        assert readback[rlp.encode(index)] == item


# Runtime code: SSTORE(slot, word 2) for slot in [word 0, word 0 + word 1) of calldata.
_FILL = bytes.fromhex(
    "5f35" "602035" "8101"  # i = word 0; end = i + word 1
    "5b" "8181" "11" "15" "61001e" "57"  # 7: loop; if not end > i, jump to 30
    "604035" "82" "55"  # SSTORE(i, word 2)
    "90" "600101" "90" "610007" "56"  # i += 1; jump to the loop
    "5b00"  # 30: stop
)  # fmt: skip


def _deployer(runtime: bytes) -> bytes:
    """Init code returning `runtime` (CODECOPY it, RETURN it)."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def _fill(first: int, count: int, value: int) -> bytes:
    return b"".join(word.to_bytes(32, "big") for word in (first, count, value))


# Runtime code: CREATE2 with the calldata as init code, the new address into slot 0.
_FACTORY = bytes.fromhex("365f5f37" "5f365f5f" "f5" "5f55" "00")  # fmt: skip
# Init code that stores slots 1..3 and then reverts: the new account's storage is rolled
# back to the trie from before the create (py-evm's `rollback_trie`, under CREATE2).
_STORE_THEN_REVERT = bytes.fromhex("60016001556001600255600160035560006000fd")
# Init code that stores slot 1 and self-destructs: storage wiped in the creating tx.
_STORE_THEN_DESTRUCT = bytes.fromhex("600160015533ff")


def _three_blocks(directory: Path, config: NodeConfig) -> list[Any]:
    """Block hashes of three blocks that fill, update and empty a contract's storage (and
    create accounts that revert and self-destruct), and the nodes of the last state, built
    by the engine `config` names."""
    admin = admin_account(config)
    sender = bytes.fromhex(admin.address[2:])
    fill, factory = (to_checksum_address(create_address(sender, n)) for n in (0, 5))
    empty = to_checksum_address(keccak(b"an empty account")[:20])

    def tx(nonce: int, to: str, data: bytes = b"", gas: int = 30_000_000) -> str:
        return sign(admin, config, nonce=nonce, to=to, data=data, gas=gas)

    blocks = [
        [
            tx(0, "", _deployer(_FILL)),
            tx(1, fill, _fill(0, 150, 1)),
            tx(2, "", _STORE_THEN_REVERT),
            tx(3, "", _STORE_THEN_DESTRUCT),
            tx(4, empty, gas=21_000),  # touches an empty account
            tx(5, "", _deployer(_FACTORY)),
            tx(6, factory, _STORE_THEN_REVERT),
            tx(7, factory, _STORE_THEN_DESTRUCT),
        ],
        [
            tx(8, fill, _fill(0, 100, 0)),
            tx(9, fill, _fill(100, 50, 2)),
            tx(10, fill, _fill(150, 30, 3)),
        ],
        [tx(11, fill, _fill(100, 80, 0))],
    ]
    chain = Chain(replace(config, data_dir=directory))
    buffer, parent = chain._buffer, chain.head_hash
    results: list[Any] = []
    for number, raws in enumerate(blocks, start=1):
        txs = [evm.decode_transaction(bytes.fromhex(raw[2:])) for raw in raws]
        options: dict[str, Any] = {
            "chain_id": config.chain_id,
            "coinbase": bytes(20),
            "timestamp": config.genesis_timestamp + number,
            "gas_limit": config.block_gas_limit,
        }
        if chain.executor is not None:
            block = engine_blocks.build(buffer, chain.executor, parent, txs, **options)
            header, receipts = block.header, block.result.receipts
            assert not block.result.dropped
        else:
            built = evm.build_block(buffer, parent, txs, **options)
            header, receipts = built.header, built.receipts
            assert not built.dropped
        statuses = [rlp.decode(r.encode())[0] for r in receipts]
        results.append((header.hash, statuses))
        parent = header.hash
    results.append(_state_nodes(buffer, header.state_root))
    buffer.discard()
    chain.close()
    return results


@pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode:DeprecationWarning")
def test_blocks_committed_by_revm_through_batched_tries_are_py_evms(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    batched = _three_blocks(tmp_path / "revm", replace(node_config, engine="revm"))
    reference = _three_blocks(tmp_path / "py-evm", replace(node_config, engine="pyevm"))
    assert batched == reference
    assert [statuses for _, statuses in batched[:3]] == [
        [b"\x01", b"\x01", b"", b"\x01", b"\x01", b"\x01", b"\x01", b"\x01"],
        [b"\x01"] * 3,
        [b"\x01"],
    ]
