"""The end-of-soak checks, each returning the problems it found (empty: it holds).

- `lost_transfers`: every write the API acknowledged has a successful receipt on the chain,
  in the block the API reported;
- `index_mismatches`: a live indexer's tables equal a fresh reindex of the same chain
  (`indexer.digest.table_digests`, table by table);
- `root_mismatches`: the follower's blocks (hash, state, receipts and transactions roots)
  equal the sequencer's, block by block;
- `invariant_violations`: over every item the chain ever logged, `Items.itemOf` agrees with
  the reindexed projection, packed items share their outermost container's holder and
  status, each container lists each child exactly once, and every holder is a member;
- `webhook_report`: every event a webhook subscription is entitled to reached the soak's
  receiver (`ops.webhook_sink`) at least once, signed with its secret, first arrivals in
  seq order, nothing it is not entitled to, and a repeat only of the event just received
  (its 2xx not yet recorded when a process was killed), at most one per kill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from medledger.domain.auth import Member
from medledger.domain.delivery.webhook import verify
from medledger.domain.events import MAX_EVENTS, EventFilter, read_events
from medledger.indexer.config import Settings
from medledger.indexer.db import make_engine
from medledger.indexer.digest import table_digests
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.events import last_seq, member_standing
from medledger.indexer.queries.soak import every_item
from medledger.indexer.source import Web3LogSource
from medledger.ops.simulate import Acked
from medledger.sdk.deploy import Deployment
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role

__all__ = [
    "invariant_violations",
    "lost_transfers",
    "reindex",
    "root_mismatches",
    "index_mismatches",
    "WebhookReport",
    "WebhookWatch",
    "entitled_seqs",
    "webhook_report",
]

BATCH = 200
ROOT_FIELDS = ("hash", "stateRoot", "receiptsRoot", "transactionsRoot")


def _batch(url: str, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    body = [
        {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
        for i, (method, params) in enumerate(calls)
    ]
    answers = httpx.post(url, json=body, timeout=120).json()
    by_id = {a["id"]: a for a in answers}
    return [by_id[i].get("result") for i in range(len(calls))]


def lost_transfers(rpc_url: str, acked: Sequence[Acked]) -> list[str]:
    lost = []
    for start in range(0, len(acked), BATCH):
        chunk = acked[start : start + BATCH]
        receipts = _batch(rpc_url, [("eth_getTransactionReceipt", [a.tx_hash]) for a in chunk])
        for a, receipt in zip(chunk, receipts, strict=True):
            if receipt is None or receipt["status"] != "0x1":
                lost.append(
                    f"{a.kind} {a.tx_hash}: {'no receipt' if receipt is None else 'reverted'}"
                )
            elif a.block and int(receipt["blockNumber"], 16) != a.block:
                lost.append(f"{a.kind} {a.tx_hash}: acknowledged in block {a.block}, now in "
                            f"{int(receipt['blockNumber'], 16)}")  # fmt: skip
    return lost


def reindex(rpc_url: str, deployment: Deployment, db_file: Path) -> str:
    """A fresh index of the chain at `rpc_url` into a new SQLite file; its URL."""
    url = f"sqlite:///{db_file}"
    with Indexer(Settings(url), Web3LogSource.from_url(rpc_url), deployment) as indexer:
        indexer.catch_up()
    return url


def index_mismatches(live_db_url: str, fresh_db_url: str) -> list[str]:
    digests = []
    for url in (live_db_url, fresh_db_url):
        engine = make_engine(url)
        with engine.connect() as conn:
            digests.append(table_digests(conn))
        engine.dispose()
    live, fresh = digests
    return [f"{t}: live {live[t]} != reindex {fresh[t]}" for t in live if live[t] != fresh[t]]


def root_mismatches(sequencer_url: str, follower_url: str, head: int) -> list[str]:
    problems = []
    for start in range(0, head + 1, BATCH):
        numbers = range(start, min(head, start + BATCH - 1) + 1)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [hex(n), False]) for n in numbers
        ]
        ours, theirs = _batch(sequencer_url, calls), _batch(follower_url, calls)
        for n, a, b in zip(numbers, ours, theirs, strict=True):
            if b is None:
                problems.append(f"block {n}: missing on the follower")
                continue
            fields = [f for f in ROOT_FIELDS if a[f] != b[f]]
            if fields:
                problems.append(f"block {n}: {', '.join(fields)} differ")
    return problems


def invariant_violations(ledger: Ledger, fresh_db_url: str) -> list[str]:
    engine = make_engine(fresh_db_url)
    with engine.connect() as conn:
        items = every_item(conn)
    engine.dispose()
    problems: list[str] = []
    states = {}
    for indexed_item in items:
        item = indexed_item.item_key
        state = ledger.item(item)
        states[item] = state
        indexed = (
            indexed_item.holder.lower(),
            int(indexed_item.status),
            indexed_item.parent,
            indexed_item.is_container,
        )
        chain = (state.holder.lower(), int(state.status), state.parent_id, state.is_container)
        if indexed != chain:
            problems.append(f"item 0x{item.hex()}: index {indexed} != chain {chain}")
    members: dict[str, bool] = {}
    for item, state in states.items():
        if state.holder not in members:
            members[state.holder] = ledger.member(state.holder).role != 0
        if not members[state.holder]:
            problems.append(f"item 0x{item.hex()} is held by non-member {state.holder}")
        if state.is_container:
            children = ledger.children(item)
            for child in set(children):
                if children.count(child) != 1:
                    problems.append(f"container 0x{item.hex()} lists 0x{child.hex()} twice")
        if state.parent_id is not None:
            if item not in ledger.children(state.parent_id):
                problems.append(f"0x{item.hex()} is not among its container's children")
            root = _root(states, ledger, item)
            if (state.holder, state.status) != (root.holder, root.status):
                problems.append(f"packed 0x{item.hex()} differs from its outermost container")
    return problems


def _root(states: dict[bytes, Any], ledger: Ledger, item: bytes) -> Any:
    state = states[item]
    while state.parent_id is not None:
        if state.parent_id not in states:
            states[state.parent_id] = ledger.item(state.parent_id)
        state = states[state.parent_id]
    return state


@dataclass(frozen=True, slots=True)
class WebhookWatch:
    """One subscription of the soak: its receiver path, owner, secret and first cursor."""

    path: str
    member: str
    secret: str
    after: int


@dataclass(slots=True)
class WebhookReport:
    events: int = 0  # distinct events received, over every subscription
    repeats: int = 0
    lost: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def entitled_seqs(db_url: str, chain_id: int, watch: WebhookWatch) -> tuple[int, list[int]]:
    """The newest seq of the outbox, then the seqs after `watch.after` its owner may see."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            head = last_seq(conn)
            standing = member_standing(conn, watch.member)
            if standing is None:
                return head, []
            member = Member(watch.member, Role(standing[0]), None, "soak")
            seqs: list[int] = []
            after = watch.after
            while True:
                events = read_events(
                    conn,
                    chain_id=chain_id,
                    member=member,
                    after=after,
                    filter=EventFilter(),
                    limit=MAX_EVENTS,
                )
                seqs += [e.seq for e in events]
                if len(events) < MAX_EVENTS:
                    return head, seqs
                after = events[-1].seq
    finally:
        engine.dispose()


def received(log: Path) -> list[dict[str, Any]]:
    """The receiver's log lines (a line torn by a SIGKILL was never answered: skipped)."""
    if not log.exists():
        return []
    lines = []
    for text in log.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return lines


def webhook_report(
    lines: Sequence[dict[str, Any]],
    watches: Sequence[WebhookWatch],
    entitled: dict[str, tuple[int, list[int]]],
    kills: int,
) -> WebhookReport:
    """Check `lines` (read before `entitled` was: events newer than its head may be on
    their way) against each watch's entitled seqs; `kills` of the API and the receiver."""
    report = WebhookReport()
    for watch in watches:
        head, expected = entitled[watch.path]
        seqs: list[int] = []
        for line in (x for x in lines if x.get("path") == watch.path):
            body = str(line["body"])
            event = json.loads(body)
            seqs.append(int(event["seq"]))
            signature = str(line.get("signature", ""))
            if not verify(watch.secret, signature, body.encode(), now=int(line["at"])):
                report.violations.append(f"{watch.path}: event {event['id']}: bad signature")
            if line.get("id") != event["id"]:
                report.violations.append(f"{watch.path}: event {event['id']}: id header differs")
        got, allowed = set(seqs), set(expected)
        report.events += len(got)
        report.repeats += len(seqs) - len(got)
        report.lost += [
            f"{watch.path}: seq {s} never arrived" for s in expected if s <= head and s not in got
        ]
        report.violations += [
            f"{watch.path}: seq {s} is not the owner's" for s in sorted(got - allowed)
        ]
        for before, after in zip(seqs, seqs[1:], strict=False):
            if after < before:
                report.violations.append(f"{watch.path}: seq {after} arrived after {before}")
        if len(seqs) - len(got) > kills:
            report.violations.append(
                f"{watch.path}: {len(seqs) - len(got)} repeats for {kills} kills"
            )
    return report
