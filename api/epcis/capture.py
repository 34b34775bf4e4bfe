"""EPCIS capture: a partner's EPCIS 2.0 document applied as signed ledger operations, all
or nothing as far as the chain allows.

1. Check (nothing sent): the GS1 schema (first errors only), then every event planned into
   ledger steps (`api.epcis.plan`): shapes, EPCs, parties, sensor values.
2. Rehearse (nothing sent): every step runs as an `eth_call` from the member against the
   current state, in order, unless it touches an item an earlier step of the document
   creates or changes (its outcome depends on a state that does not exist yet). The first
   refusal refuses the document: 409/422 named after the ledger rule, `applied: []`.
3. Claim every new event's hash in the capture log (`api.epcis.store`) at once, so a
   document posted twice is applied once; events captured before are duplicates. An event
   whose claim expired (its capture died) is taken over: first the operation it was
   sending is settled from the chain (`_settle`): the member's transaction with the logged
   nonce, if mined, counts as that operation when it went to the operation's contract and
   function with the operation's items in its calldata and succeeded; then the event is
   finished as a partial one is, without its logged operations.
4. Apply the steps in order, logging each before it is sent (its nonce) and once mined.
   Only a step that could not be rehearsed, or a state changed by someone else meanwhile,
   can still be refused here; the chain has no multi-transaction atomicity, so the answer
   then says exactly what was applied (`applied`, per event with its transactions,
   `complete` or not) and the log records the same: applied events as captured, a partly
   applied event as partial (posting the document again finishes it), the rest released. A
   transaction the node accepted but did not mine in time (202 `transaction_pending`) is
   not in the log: posting again is refused by the ledger if it was mined meanwhile, never
   applied twice.

Every event is claimed by its hash (SHA-256 of its canonical JSON, `recordTime` left out).
An event of our own export (`api.epcis.recorded`) is reported as recorded and not planned.
`prepare_capture` does steps 1-3 (before the API answers), `apply_capture` step 4 (in the
request with `sync=true`, else in a capture job, `api.epcis.jobs`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import Connection

from medledger.api.epcis.errors import CaptureInProgress, CaptureRefused, InvalidDocument
from medledger.api.epcis.plan import Planner, Step
from medledger.api.epcis.recorded import already_recorded
from medledger.api.epcis.schema import MAX_ERRORS, schema_errors
from medledger.api.epcis.store import NEW_EVENT, CaptureStore, EventState
from medledger.domain.errors import ApiError, contract_error_status
from medledger.domain.services import Services
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import REVERTS, Ledger, TxResult
from medledger.sdk.transactions import account_lock, await_own_pending

__all__ = [
    "CapturedEvent",
    "Prepared",
    "Rehearsal",
    "apply_capture",
    "capture_document",
    "event_hash",
    "prepare_capture",
]


def event_hash(event: Any) -> str:
    body = {k: v for k, v in event.items() if k != "recordTime"} if isinstance(event, dict) else 0
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ni:///sha-256;" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class CapturedEvent:
    index: int
    event_hash: str
    status: str  # "captured", "duplicate" (in the capture log) or "recorded" (exported by us)
    operations: list[str] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)


@dataclass
class _Planned:
    index: int
    event_hash: str
    steps: list[Step]


class _Passed(Exception):
    """The rehearsed operation would have been sent: its call did not revert."""


class Rehearsal(Ledger):
    """A member's ledger handle that calls instead of sending: an operation either raises
    the error its transaction would revert with, or `_Passed`.

    `of` keeps the handle's own class above this one (e.g. `api.tenancy.TenantLedger`), so
    its `_send` still turns what the call raises into what the member may see."""

    @classmethod
    def of(cls, ledger: Ledger) -> Rehearsal:
        rehearsal = object.__new__(_rehearsing(type(ledger), cls))
        rehearsal.__dict__.update(ledger.__dict__)
        return rehearsal

    def _send(self, contract: str, fn: str, *args: Any) -> TxResult[None]:
        try:
            self._c[contract].functions[fn](*args).call({"from": self.address})
        except REVERTS as exc:
            raise self._decode(exc) from exc
        raise _Passed


class _Intended(Exception):
    def __init__(self, to: str, data: str) -> None:
        super().__init__(to)
        self.to, self.data = to, data


class _Intent(Rehearsal):
    """A ledger handle whose operation raises `_Intended` with the transaction's target
    and calldata instead of sending it."""

    def _send(self, contract: str, fn: str, *args: Any) -> TxResult[None]:
        call = self._c[contract].functions[fn](*args)
        raise _Intended(str(call.address), str(call._encode_transaction_data()))


def _mined_at_nonce(ledger: Ledger, nonce: int, since: int) -> dict[str, Any] | None:
    """The member's mined transaction with `nonce` (in a block after `since`), if any."""
    with account_lock(ledger.address):  # a transaction still pooled is mined or dropped
        await_own_pending(ledger.w3, ledger.address, timeout=ledger.receipt_timeout)
    who = ledger.w3.to_checksum_address(ledger.address)
    low, high = since, int(ledger.w3.eth.block_number)
    if ledger.w3.eth.get_transaction_count(who, high) <= nonce:
        return None
    while low < high:  # the first block after which the member's nonce is past `nonce`
        middle = (low + high) // 2
        if ledger.w3.eth.get_transaction_count(who, middle) > nonce:
            high = middle
        else:
            low = middle + 1
    for tx in ledger.w3.eth.get_block(low, full_transactions=True)["transactions"]:
        if not isinstance(tx, bytes) and tx["from"] == who and tx["nonce"] == nonce:
            return dict(tx)
    return None


def _settle(ledger: Ledger, store: CaptureStore, event: _Planned, seen: EventState) -> None:
    """Log whether the operation an expired claim was sending was applied (see the module
    doc); nothing if another capture settled it first."""
    assert seen.sending is not None
    step = next((s for s in event.steps if s.name == seen.sending.operation), None)
    tx = _mined_at_nonce(ledger, seen.sending.nonce, seen.sending.block)
    applied = None
    if step is not None and tx is not None and _is_step(ledger, step, tx):
        receipt = ledger.w3.eth.get_transaction_receipt(tx["hash"])
        applied = _tx_hash(TxResult(None, receipt, [])) if receipt["status"] == 1 else None
    store.settle(event.event_hash, seen, tx_hash=applied)


def _is_step(ledger: Ledger, step: Step, tx: dict[str, Any]) -> bool:
    """`tx` calls the step's contract function with every item the step touches."""
    try:
        step.run(_Intent.of(ledger))
    except _Intended as intended:
        data = bytes(tx.get("input") or tx.get("data") or b"")  # eth-tester says "data"
        return (
            str(tx["to"]).lower() == intended.to.lower()
            and data[:4].hex() == intended.data.removeprefix("0x")[:8]
            and all(item in data for item in step.touches)
        )
    except (ContractError, ApiError):  # the state it would be sent in has moved on
        pass
    return False


def _rehearsing(kind: type[Ledger], base: type[Rehearsal]) -> type[Rehearsal]:
    """`kind` with `base`'s `_send` below its own: MRO kind, base, Ledger."""
    if kind is Ledger or issubclass(kind, Rehearsal):
        return base
    return type(f"{base.__name__.strip('_')}{kind.__name__}", (kind, base), {})


def _tx_hash(result: TxResult[Any]) -> str:
    return "0x" + bytes(result.receipt["transactionHash"]).hex()


def _refuse(exc: ContractError, index: int, applied: list[dict[str, Any]]) -> NoReturn:
    what = "nothing was applied" if not applied else "the events in `applied` were applied"
    raise CaptureRefused(
        contract_error_status(exc),
        exc.name,
        f"event {index}: {exc}; {what}",
        event_index=index,
        applied=applied,
    ) from exc


def _rehearse(ledger: Ledger, planned: list[_Planned]) -> None:
    rehearsal = Rehearsal.of(ledger)
    touched: set[bytes] = set()
    for event in planned:
        for step in event.steps:
            if not step.touches & touched:
                try:
                    step.run(rehearsal)
                except _Passed:
                    pass
                except ContractError as exc:
                    _refuse(exc, event.index, [])
                except ApiError as exc:  # a refusal as the member may see it, e.g. a 404
                    exc.extra.setdefault("event_index", event.index)
                    exc.extra["applied"] = []
                    raise
            touched |= step.touches


def _apply(ledger: Ledger, store: CaptureStore, planned: list[_Planned]) -> list[CapturedEvent]:
    done: list[CapturedEvent] = []
    for position, event in enumerate(planned):
        result = CapturedEvent(event.index, event.event_hash, "captured")
        try:
            for step in event.steps:
                with account_lock(ledger.address):  # the step's transaction takes this nonce
                    store.sending(
                        event.event_hash,
                        step.name,
                        nonce=ledger.w3.eth.get_transaction_count(
                            ledger.account.address, "pending"
                        ),
                        block=int(ledger.w3.eth.block_number),
                    )
                    tx = step.run(ledger)
                result.operations.append(step.name)
                result.tx_hashes.append(_tx_hash(tx))
                store.applied(event.event_hash, step.name, result.tx_hashes[-1])
        except BaseException as exc:
            store.stopped(event.event_hash)
            for later in planned[position + 1 :]:
                store.release(later.event_hash)
            applied = [_applied(e, complete=True) for e in done]
            if result.operations:
                applied.append(_applied(result, complete=False))
            if isinstance(exc, ContractError):
                _refuse(exc, event.index, applied)
            if isinstance(exc, ApiError):  # e.g. 202 transaction_pending, 409 busy
                exc.extra.setdefault("event_index", event.index)
                exc.extra["applied"] = applied
            raise
        store.done(event.event_hash)
        done.append(result)
    return done


def _applied(event: CapturedEvent, *, complete: bool) -> dict[str, Any]:
    return {
        "index": event.index,
        "event_hash": event.event_hash,
        "operations": event.operations,
        "tx_hashes": event.tx_hashes,
        "complete": complete,
    }


def _plan(
    services: Services,
    conn: Connection,
    ledger: Ledger,
    events: list[Any],
    hashes: list[str],
    states: dict[str, EventState],
    recorded: dict[int, str],
) -> dict[str, _Planned]:
    """The steps of each event not captured yet, without those the log says were applied;
    an event repeated in the document, or one the ledger already recorded, is planned once
    or not at all."""
    planner = Planner(services, conn, ledger)
    planned: dict[str, _Planned] = {}
    for index, (event, digest) in enumerate(zip(events, hashes, strict=True)):
        state = states.get(digest, NEW_EVENT)
        if state.captured or digest in planned or index in recorded:
            continue
        steps = [s for s in planner.plan(index, event) if s.name not in state.operations]
        planned[digest] = _Planned(index, digest, steps)
    return planned


@dataclass
class Prepared:
    """A checked, rehearsed and claimed document, ready to apply."""

    hashes: list[str]
    states: dict[str, EventState]
    planned: dict[str, _Planned]
    recorded: dict[int, str]  # index -> the transaction that already recorded the event


def prepare_capture(
    services: Services,
    conn: Connection,
    ledger: Ledger,
    store: CaptureStore,
    document: Any,
) -> Prepared:
    """Check, plan, rehearse and claim the document's new events (see the module doc);
    nothing is sent. Raises what refuses the document."""
    errors = schema_errors(services, document)
    if not errors and document.get("type") != "EPCISDocument":
        errors = [{"path": "$.type", "message": "capture takes an EPCISDocument"}]
    if errors:
        raise InvalidDocument(errors, max_errors=MAX_ERRORS)
    events: list[Any] = list(document["epcisBody"]["eventList"])
    hashes = [event_hash(e) for e in events]
    recorded = already_recorded(conn, events, chain_id=services.deployment.chain_id)
    states = store.states(hashes)
    busy = [
        i
        for i, h in enumerate(hashes)
        if states.get(h, NEW_EVENT).pending and not store.expired(states[h])
    ]
    if busy:
        raise CaptureInProgress(busy)
    planned = _plan(services, conn, ledger, events, hashes, states, recorded)
    dying = [p for p in planned.values() if states.get(p.event_hash, NEW_EVENT).sending]
    if dying:  # expired claims: settle what they were sending, then plan on what is logged
        for event in dying:
            _settle(ledger, store, event, states[event.event_hash])
        states = store.states(hashes)
        planned = _plan(services, conn, ledger, events, hashes, states, recorded)
    _rehearse(ledger, list(planned.values()))
    taken = store.claim_all(list(planned), ledger.address)
    if taken:
        raise CaptureInProgress([p.index for p in planned.values() if p.event_hash in taken])
    return Prepared(hashes, states, planned, recorded)


def apply_capture(ledger: Ledger, store: CaptureStore, prepared: Prepared) -> list[CapturedEvent]:
    """Apply the claimed events in order; one outcome per event of the document."""
    applied = {e.event_hash: e for e in _apply(ledger, store, list(prepared.planned.values()))}
    out: list[CapturedEvent] = []
    for index, digest in enumerate(prepared.hashes):
        if index in prepared.recorded:
            out.append(CapturedEvent(index, digest, "recorded", [], [prepared.recorded[index]]))
            continue
        first = applied.get(digest)
        if first is not None and first.index == index:
            out.append(first)
            continue
        state = prepared.states.get(digest, NEW_EVENT)
        earlier = first.tx_hashes if first else list(state.tx_hashes)
        out.append(CapturedEvent(index, digest, "duplicate", [], list(earlier)))
    return out


def capture_document(
    services: Services,
    conn: Connection,
    ledger: Ledger,
    store: CaptureStore,
    document: Any,
) -> list[CapturedEvent]:
    """Check, rehearse, claim and apply the document's new events (see the module doc)."""
    return apply_capture(ledger, store, prepare_capture(services, conn, ledger, store, document))
