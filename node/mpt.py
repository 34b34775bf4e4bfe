"""Batched Merkle-Patricia trie writes (each changed node encoded and hashed once) and reads.

py-trie's `HexaryTrie` applies one key at a time: every write walks from the root and
re-encodes and re-hashes each node on its path, so a block that changes hundreds of slots
of one contract rewrites the upper nodes of its storage trie hundreds of times. Here a
batch is applied in one recursive pass over its sorted keys:

- `ordered_trie_root_and_nodes`: the trie of a block's transactions or receipts (keyed by
  `rlp(index)`), built bottom-up; what `eth.db.trie.make_trie_root_and_nodes` computes.
- `apply_changes`: writes and deletions applied to a trie stored in a database; only the
  new nodes that are referenced by hash are written (and the root, always by hash).
- `lookup`: one key's value, walking from a root; what `HexaryTrie.get` answers, without
  its per-node overhead (nibble tuples, node typing, a copy of every node decoded).

Both read nodes through a `NodeCache` if given one: decoded nodes by hash. A node's hash
names its content, so an entry is right in every database and every state that holds it.
`apply_changes` adds the nodes it stores, so the next block's reads of them are warm.

Nodes are in py-trie's decoded form: `b""` (blank), `[hp_path, value]` (leaf),
`[hp_path, child]` (extension), 17 items (branch: 16 children and a value). A child is
`b""`, a 32-byte hash or, when its RLP is shorter than 32 bytes, the node itself. Key
paths are hex strings, one character per nibble, so slicing and comparing stay in C.
Nodes are decoded through `decoded` (RLP decoding, cached: a pure function of the bytes)
and encoded with `encode_raw` (pyrlp's, telling bytes and lists apart by type first).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from functools import lru_cache
from os.path import commonprefix
from typing import Any, Protocol

import rlp
import rlp.codec
from eth_hash.auto import keccak
from eth_typing import Hash32
from trie.constants import BLANK_NODE_HASH
from trie.exceptions import MissingTrieNode
from trie.typing import Nibbles

__all__ = [
    "NodeCache",
    "NodeStore",
    "apply_changes",
    "decoded",
    "encode_raw",
    "lookup",
    "ordered_trie_root_and_nodes",
]

Node = Any  # b"" | list[Any]: blank, leaf, extension or branch
_Item = tuple[str, bytes]  # (hex key, value); an empty value deletes the key

BLANK = b""
_HEX = "0123456789abcdef"
_INDEX = {nibble: index for index, nibble in enumerate(_HEX)}
_NEXT = dict(zip(_HEX, _HEX[1:] + "g", strict=True))  # "g" sorts after every hex digit


@lru_cache(maxsize=1 << 16)
def decoded(encoded: bytes) -> Any:
    """`rlp.decode(encoded)`, cached and shared: never modify what it returns."""
    return rlp.decode(encoded)


_pyrlp_encode_raw = rlp.codec.encode_raw
_length_prefix = rlp.codec.length_prefix


def encode_raw(item: Any) -> bytes:
    """`rlp.codec.encode_raw`, telling the common types apart by `type` first (pyrlp tests
    every item with `isinstance` against an ABC, a slow check)."""
    kind = type(item)
    if kind is bytes or kind is bytearray:
        if len(item) == 1 and item[0] < 128:
            return item  # type: ignore[no-any-return]
        payload, offset = item, 128
    elif kind is list or kind is tuple:
        payload, offset = b"".join([encode_raw(x) for x in item]), 192
    else:
        return _pyrlp_encode_raw(item)  # type: ignore[no-any-return]
    return _length_prefix(len(payload), offset) + payload  # type: ignore[no-any-return]


class NodeStore(Protocol):
    """Where trie nodes live: node hash → RLP of the node."""

    def __getitem__(self, key: bytes, /) -> bytes: ...

    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...


class NodeCache:
    """Decoded trie nodes by hash, the last `size` to `2 * size` used: two generations,
    the older dropped whole when the recent one fills up (a node used since moves back to
    the recent one). Safe to share between threads: a race can only drop an entry."""

    __slots__ = ("_older", "_recent", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._recent: dict[bytes, Node] = {}
        self._older: dict[bytes, Node] = {}

    def __len__(self) -> int:
        return len(self._recent) + len(self._older)

    def node(self, db: NodeStore, node_hash: bytes) -> Node:
        """The node stored under `node_hash`: shared, never modify it. Raises `KeyError` if
        it is neither cached nor in `db`."""
        node = self._recent.get(node_hash)
        if node is None:
            node = self._older.get(node_hash)
            if node is None:
                node = decoded(db[node_hash])
            self.add(node_hash, node)
        return node

    def add(self, node_hash: bytes, node: Node) -> None:
        """Remember `node` (in its decoded form, never to be modified) as `node_hash`'s."""
        recent = self._recent
        if len(recent) >= self._size:
            self._older = recent
            self._recent = recent = {}
        recent[node_hash] = node


def _read_node(db: NodeStore, node_hash: bytes) -> Node:
    return decoded(db[node_hash])


def lookup(db: NodeStore, root: bytes, key: bytes, *, nodes: NodeCache | None = None) -> bytes:
    """The value at `key` in the trie at `root` in `db`, `b""` if there is none: what
    `HexaryTrie(db, root).get(key)` returns, and py-trie's `MissingTrieNode` (with the same
    hashes, key and prefix) if a node on the way is not in `db` (nor in `nodes`). Where
    keys differ in length, a key ending inside an extension's path is absent here (py-trie
    raises its `ValidationError`); the tries py-evm reads have keys of one length."""
    if root == BLANK_NODE_HASH:
        return BLANK
    read = _read_node if nodes is None else nodes.node
    path = key.hex()
    end = len(path)
    depth = 0
    ref: Node = root
    while True:
        if type(ref) is list:
            node = ref
        elif not ref:
            return BLANK
        else:
            try:
                node = read(db, ref)
            except KeyError:
                prefix = Nibbles(tuple(_INDEX[nibble] for nibble in path[:depth]))
                raise MissingTrieNode(Hash32(ref), Hash32(root), key, prefix) from None
        if len(node) == 17:
            if depth == end:
                return node[16]  # type: ignore[no-any-return]
            ref = node[_INDEX[path[depth]]]
            depth += 1
            continue
        rest, is_leaf = _unhp(node[0])
        if is_leaf:
            return node[1] if path[depth:] == rest else BLANK
        if not path.startswith(rest, depth):
            return BLANK
        depth += len(rest)
        ref = node[1]


def ordered_trie_root_and_nodes(
    encoded_items: Sequence[bytes],
) -> tuple[bytes, dict[bytes, bytes]]:
    """The root of the trie mapping `rlp(index)` to each item, and its nodes by hash."""
    items = sorted(
        (rlp.encode(index).hex(), item) for index, item in enumerate(encoded_items) if item
    )
    nodes: dict[bytes, bytes] = {}
    writer = _Writer(nodes, BLANK_NODE_HASH, items)
    return writer.store_root(writer.build(items, 0, len(items), 0)), nodes


def apply_changes(
    db: NodeStore,
    root: bytes,
    changes: Mapping[bytes, bytes | None],
    *,
    nodes: NodeCache | None = None,
) -> bytes:
    """Write `changes` (key → value; `None` or `b""` deletes) into the trie at `root` in
    `db`, storing each new node once, and return the new root. Raises py-trie's
    `MissingTrieNode` if a node the changes have to pass through is not in `db` (nor in
    `nodes`)."""
    items = sorted((key.hex(), value or BLANK) for key, value in changes.items())
    if not items:
        return root
    writer = _Writer(db, root, items, nodes)
    old = writer.root_node()
    new = writer.update(old, 0, len(items), 0)
    return root if new is old else writer.store_root(new)


class _Writer:
    """One batch: `items` sorted by key, `keys` their keys (for bisecting)."""

    __slots__ = ("db", "items", "keys", "nodes", "root")

    def __init__(
        self, db: NodeStore, root: bytes, items: list[_Item], nodes: NodeCache | None = None
    ) -> None:
        self.db = db
        self.root = root
        self.items = items
        self.keys = [key for key, _ in items]
        self.nodes = nodes

    def root_node(self) -> Node:
        return BLANK if self.root == BLANK_NODE_HASH else self.node_at(self.root, 0, 0)

    def node_at(self, ref: Node, at: int, depth: int) -> Node:
        """The node behind a child reference (read from the store if it is a hash);
        `keys[at]` and `depth` name the key and prefix being resolved if it is missing."""
        if type(ref) is list or ref == BLANK:
            return ref
        try:
            return decoded(self.db[ref]) if self.nodes is None else self.nodes.node(self.db, ref)
        except KeyError:
            key = self.keys[at]
            prefix = Nibbles([_INDEX[nibble] for nibble in key[:depth]])
            raise MissingTrieNode(
                Hash32(ref), Hash32(self.root), bytes.fromhex(key), prefix
            ) from None

    def ref(self, node: Node) -> Node:
        """How a parent points at `node`: embedded if its RLP is short, else by hash."""
        if type(node) is not list:
            return BLANK
        encoded = encode_raw(node)
        if len(encoded) < 32:
            return node
        return self.store(node, encoded)

    def store_root(self, node: Node) -> bytes:
        if type(node) is not list:
            return BLANK_NODE_HASH
        return self.store(node, encode_raw(node))

    def store(self, node: Node, encoded: bytes) -> bytes:
        """Write a new node (its lists are never modified after) by its hash."""
        node_hash = keccak(encoded)
        self.db[node_hash] = encoded
        if self.nodes is not None:
            self.nodes.add(node_hash, node)
        return node_hash

    def build(self, items: list[_Item], lo: int, hi: int, depth: int) -> Node:
        """A new subtree holding `items[lo:hi]` (all present), whose keys share `depth`
        nibbles."""
        if lo == hi:
            return BLANK
        first = items[lo][0]
        if hi - lo == 1:
            return [_hp(first[depth:], leaf=True), items[lo][1]]
        common = len(commonprefix((first, items[hi - 1][0])))
        if common > depth:
            child = self.build(items, lo, hi, common)
            return [_hp(first[depth:common], leaf=False), self.ref(child)]
        branch: list[Any] = [BLANK] * 17
        if len(first) == depth:
            branch[16] = items[lo][1]
            lo += 1
        prefix = first[:depth]
        while lo < hi:
            nibble = items[lo][0][depth]
            end = bisect_left(items, (prefix + _NEXT[nibble],), lo, hi)
            branch[_INDEX[nibble]] = self.ref(self.build(items, lo, end, depth + 1))
            lo = end
        return branch

    def update(self, node: Node, lo: int, hi: int, depth: int) -> Node:
        """`node` with `items[lo:hi]` applied; `node` itself if nothing changed."""
        if type(node) is not list:
            live = [item for item in self.items[lo:hi] if item[1]]
            return self.build(live, 0, len(live), depth) if live else node
        if len(node) == 17:
            return self.update_branch(node, list(node), set(), lo, hi, depth)
        path, is_leaf = _unhp(node[0])
        if is_leaf:
            return self.update_leaf(node, path, lo, hi, depth)
        return self.update_extension(node, path, lo, hi, depth)

    def update_leaf(self, node: Node, path: str, lo: int, hi: int, depth: int) -> Node:
        key = self.keys[lo][:depth] + path
        at = bisect_left(self.keys, key, lo, hi)
        live = [item for item in self.items[lo:hi] if item[1]]
        if at == hi or self.keys[at] != key:
            if not live:
                return node
            insort(live, (key, node[1]))
        elif live == [(key, node[1])]:
            return node
        return self.build(live, 0, len(live), depth)

    def update_extension(self, node: Node, path: str, lo: int, hi: int, depth: int) -> Node:
        below = self.keys[lo][:depth] + path
        start = bisect_left(self.keys, below, lo, hi)
        end = bisect_left(self.keys, below + "g", start, hi)
        items = self.items
        if not any(items[i][1] for i in range(lo, start)) and not any(
            items[i][1] for i in range(end, hi)
        ):
            if start == end:
                return node
            child = self.node_at(node[1], start, len(below))
            new = self.update(child, start, end, len(below))
            return node if new is child else self.extend(path, new)
        # Keys leave the extension's path: continue as the equivalent branch, whose
        # one child is the extension's child under what remains of the path.
        slots: list[Any] = [BLANK] * 17
        index = _INDEX[path[0]]
        if len(path) == 1:
            slots[index] = node[1]
            return self.update_branch(None, slots, set(), lo, hi, depth)
        slots[index] = [_hp(path[1:], leaf=False), node[1]]
        return self.update_branch(None, slots, {index}, lo, hi, depth)

    def update_branch(
        self, node: Node | None, slots: list[Any], dirty: set[int], lo: int, hi: int, depth: int
    ) -> Node:
        """Apply `items[lo:hi]` to the branch `slots` (a copy of `node`'s, or an equivalent
        of an extension being split); `dirty` slots hold new nodes, not references."""
        first = lo
        items, keys = self.items, self.keys
        if len(keys[lo]) == depth:
            slots[16] = items[lo][1]
            lo += 1
        prefix = keys[first][:depth]
        while lo < hi:
            nibble = keys[lo][depth]
            end = bisect_left(keys, prefix + _NEXT[nibble], lo, hi)
            index = _INDEX[nibble]
            child = self.node_at(slots[index], lo, depth + 1)
            new = self.update(child, lo, end, depth + 1)
            if new is not child:
                slots[index] = new
                dirty.add(index)
            lo = end
        if node is not None and not dirty and slots[16] == node[16]:
            return node
        children = [index for index in range(16) if type(slots[index]) is list or slots[index]]
        if len(children) + (1 if slots[16] else 0) > 1:
            for index in dirty:
                slots[index] = self.ref(slots[index])
            return slots
        if slots[16]:
            return [_hp("", leaf=True), slots[16]]
        if not children:
            return BLANK
        index = children[0]
        only = slots[index] if index in dirty else self.node_at(slots[index], first, depth + 1)
        return self.extend(_HEX[index], only)

    def extend(self, path: str, child: Node) -> Node:
        """The node for `child` reached through `path` more nibbles."""
        if type(child) is not list:
            return BLANK
        if len(child) == 17:
            return [_hp(path, leaf=False), self.ref(child)]
        rest, is_leaf = _unhp(child[0])
        return [_hp(path + rest, leaf=is_leaf), child[1]]


def _hp(path: str, *, leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path (flag nibble 2 for a leaf, +1 if odd)."""
    if len(path) % 2:
        return bytes.fromhex(("3" if leaf else "1") + path)
    return bytes.fromhex(("20" if leaf else "00") + path)


def _unhp(encoded: bytes) -> tuple[str, bool]:
    digits = encoded.hex()
    flag = digits[0]
    return (digits[1:] if flag in "13" else digits[2:]), flag in "23"
