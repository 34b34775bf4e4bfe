"""Hypothesis strategies that turn valid inputs into hostile ones.

A fuzz target starts from something the parser accepts (a GS1 code with a good check
digit, a Digital Link, a GS1 EPCIS example, a JSON-RPC call, a signed transaction) and
damages it a few times over, so most examples get past the first checks and reach the
code behind them:

- `mutated_text(seed)`: truncated, spliced with hostile tokens (`http://x]/`, NUL, GS, `%`,
  very long runs), characters replaced, slices deleted or repeated;
- `mutated_bytes(seed)`: bits flipped, truncated, bytes inserted, deleted or repeated;
- `mutated_json(seed)`: any node replaced by an extreme number (1e308, NaN, 2**256),
  a hostile string, another node's value, an empty or wrong-typed container, or wrapped
  in up to `MAX_NEST` arrays and objects; keys deleted or added; lists repeated;
- `mutated_leaves(seed)`: strings and numbers replaced by hostile ones, the shape kept;
- `json_body(seed)`: the bytes a client could send instead of `seed`: mostly a mutated
  document, else its JSON text mutated as bytes, or raw bytes.

Nesting stays at most `MAX_NEST` deep: a bracket bomb of 100,000 levels overflows the C
stack of the process that parses it, which here is pytest itself; the soak's hostile
traffic (`ops.hostile`) and the attack suite send those to separate processes.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "HOSTILE_NUMBERS",
    "HOSTILE_STRINGS",
    "MAX_NEST",
    "dumps",
    "json_body",
    "mutated_bytes",
    "mutated_json",
    "mutated_leaves",
    "mutated_text",
]

MAX_NEST = 200

HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "\x1d",
    "\n",
    "]",
    "http://x]/",
    "https://[::1/01/",
    "%",
    "%00",
    "%ff",
    "%2F..%2F",
    "../../etc/passwd",
    "é",
    "𝔘",
    "\u202e",
    "<script>",
    "' OR 1=1 --",
    "(01)",
    "(21)",
    "]d2",
    "urn:epc:id:sgtin:",
    "did:pkh:eip155:1:0x",
    "0x",
    "0x" + "f" * 64,
    "-1",
    "1e308",
    "99999999999999999999",
    "9" * 300,
    "A" * 1000,
)

HOSTILE_NUMBERS: tuple[int | float, ...] = (
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64 + 1,
    2**256,
    -(2**255),
    10**30,
    99999999999999999999,
    1e308,
    -1e308,
    4000,
    -5000,
    0.5,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
)

_HOSTILE_BYTES = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xc0", b"\xf8", b"]", b"[", b"{", b'"')

_SCALARS = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from([None, True, False]),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
)

_ANY_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    """JSON as Python writes it by default: NaN and Infinity included."""
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def mutated_text(draw: st.DrawFn, seed: str, *, max_mutations: int = 3) -> str:
    text = seed
    for _ in range(draw(st.integers(1, max_mutations))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.integers(0, 6))
        if op == 0:
            text = text[:at]
        elif op == 1:
            text = text[:at] + draw(st.sampled_from(HOSTILE_STRINGS)) + text[at:]
        elif op == 2:
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        elif op == 3:
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif op == 4:
            text = text[:at] + text[at : at + draw(st.integers(1, 8))] * draw(
                st.integers(2, 40)
            ) + text[at:]  # fmt: skip
        elif op == 5:
            text = text[:at] + draw(st.text(max_size=6)) + text[at:]
        else:
            text = text.swapcase() if draw(st.booleans()) else text[::-1]
    return text


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes, *, max_mutations: int = 4) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_mutations))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 5))
        if op == 0 and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            del data[at:]
        elif op == 2:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3:
            del data[at : at + draw(st.integers(1, 16))]
        elif op == 4:
            data[at:at] = data[at : at + draw(st.integers(1, 16))] * draw(st.integers(2, 30))
        else:
            data[at : at + 1] = draw(st.sampled_from(_HOSTILE_BYTES))
    return bytes(data)


Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _get(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    _get(value, path[:-1])[path[-1]] = new
    return value


@st.composite
def _replacement(draw: st.DrawFn, node: Any, everything: Any) -> Any:
    """What one node of a document becomes."""
    op = draw(st.integers(0, 7))
    if op == 0:
        return draw(st.sampled_from(HOSTILE_NUMBERS))
    if op == 1:
        return draw(st.sampled_from(HOSTILE_STRINGS))
    if op == 2 and isinstance(node, str):
        return draw(mutated_text(node))
    if op == 3:  # another node's value, in this place
        other = draw(st.sampled_from(_paths(everything)))
        return copy.deepcopy(_get(everything, other))
    if op == 4:
        return draw(st.sampled_from([[], {}, "", None, [node], {"": node}]))
    if op == 5:
        depth = draw(st.integers(1, MAX_NEST))
        for _ in range(depth):
            node = [node] if draw(st.booleans()) else {"a": node}
        return node
    if op == 6 and isinstance(node, list) and node:
        return node * draw(st.integers(2, 60))
    return draw(_ANY_JSON)


@st.composite
def mutated_json(draw: st.DrawFn, seed: Any, *, max_mutations: int = 3) -> Any:
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(_paths(value)))
        if path and draw(st.integers(0, 4)) == 0:  # drop the node, or add a sibling
            parent = _get(value, path[:-1])
            if draw(st.booleans()):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(HOSTILE_STRINGS))] = draw(_ANY_JSON)
            else:
                parent.insert(path[-1], draw(_ANY_JSON))
            continue
        value = _set(value, path, draw(_replacement(_get(value, path), value)))
    return value


@st.composite
def mutated_leaves(draw: st.DrawFn, seed: Any, *, max_mutations: int = 3) -> Any:
    """`seed` with a few strings and numbers replaced by hostile ones of the same type:
    the shape a schema checks survives, the values behind it do not."""
    value = copy.deepcopy(seed)
    leaves = [p for p in _paths(value) if isinstance(_get(value, p), str | int | float)]
    if not leaves:
        return value
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(leaves))
        old = _get(value, path)
        if isinstance(old, str):
            new: Any = draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), mutated_text(old)))
        else:
            new = draw(st.sampled_from(HOSTILE_NUMBERS))
        value = _set(value, path, new)
    return value


def json_body(seed: Any, *, raw_size: int = 300) -> st.SearchStrategy[bytes]:
    """Bytes a client could send where `seed`'s JSON belongs: mostly a damaged document or
    hostile values in its shape (which reach the code behind the parser), else damaged or
    raw bytes."""
    document = mutated_json(seed).map(dumps)
    values = mutated_leaves(seed).map(dumps)
    damaged = st.one_of(mutated_bytes(dumps(seed)), st.binary(max_size=raw_size))
    return st.one_of(document, document, values, values, damaged)
