"""Stateful property test of the custody rules (ARCHITECTURE §3).

Random members run random custody operations (commission, containers, pack/unpack, the
ship/receive/cancel handshake, dispense, quarantine/release, destroy, recalls, stale or
forged signed orders) against the real contracts on eth-tester and against `CustodyModel`,
a small dict-based reference model. Each step predicts success or the exact custom error
first, then runs it on chain; after each step the chain must agree with the model.

The model is deliberately naive: it stores holder and status on every item and, when a
container moves, rewrites its whole subtree; the contract instead resolves packed items
through their outermost container. A packed item must agree either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from eth.vm.spoof import SpoofTransaction
from eth_utils import keccak
from hypothesis import HealthCheck, event, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import (
    DEMO_GTIN,
    DEMO_LOT,
    DEMO_PREFIX,
    DISTRIBUTOR_PREFIX,
    Consortium,
    bootstrap_consortium,
)
from medledger.sdk import gs1
from medledger.sdk.compiler import load_artifacts
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import Ledger, case_id
from medledger.sdk.messages import LotQuantity, ShipOrder, sign_order
from medledger.sdk.model import ItemStatus, ShipmentStatus

MEMBERS = ("manufacturer", "distributor", "logistics", "hospital", "hospital2")
ACTORS = (*MEMBERS, "regulator")
LOT_B = "LOT2026B"
STORAGE_RANGE = (20, 250)  # DEMO_GTIN, tenths of a degree Celsius
OPEN_RANGE = (-(2**15), 2**15 - 1)  # a shipment with no units inside
LOTS = (DEMO_LOT, LOT_B)
# A lot-tracked product (no serials: custody by quantity) and its case of 10.
GLOVES = gs1.make_gtin(indicator=0, company_prefix=DEMO_PREFIX, item_reference=55555)
CASE_GTIN = gs1.make_gtin(indicator=1, company_prefix=DEMO_PREFIX, item_reference=55555)
LOT_G = "GLOVES26"
PER_CASE = 10
UNKNOWN_ID = keccak(text="/01/09506000134352/21/NEVER-COMMISSIONED")
BAD_SIGNATURES = ("replayed order", "future nonce", "forged signature", "expired signature")
# GS1 CSET 82: the characters a serial may hold (ISO/IEC 646 invariant subset).
_CSET82 = re.compile(r"[!\"%-?A-Z_a-z]{1,20}")

A, T, Q, D, X = (
    ItemStatus.ACTIVE,
    ItemStatus.IN_TRANSIT,
    ItemStatus.QUARANTINED,
    ItemStatus.DISPENSED,
    ItemStatus.DESTROYED,
)


# ---------------------------------------------------------------- the reference model


class Revert(Exception):
    """The model's prediction that the chain reverts with custom error `name`; `args` are
    the expected arguments, or None where only the name is predicted."""

    def __init__(self, name: str, **args: Any) -> None:
        super().__init__(name)
        self.name = name
        self.args_by_name: dict[str, Any] | None = args or None


@dataclass
class Item:
    holder: str
    status: ItemStatus = A
    lot: str | None = None  # units only
    parent: bytes | None = None
    children: list[bytes] = field(default_factory=list)  # containers only
    case: int = 0  # units inside a case (package-level item); 0 for anything else

    @property
    def is_container(self) -> bool:
        return self.lot is None


@dataclass
class Shipment:
    sender: str
    receiver: str
    item_ids: tuple[bytes, ...]
    temp_range: tuple[int, int]
    status: ShipmentStatus = ShipmentStatus.IN_TRANSIT
    lots: tuple[tuple[str, int], ...] = ()  # loose lot quantities: (lot, quantity)


@dataclass
class Lot:
    key: bytes
    index: int
    recall: int = 0  # the open recall id, 0 if none


@dataclass
class Recall:
    lot: str
    initiator: str
    open: bool = True


class CustodyModel:
    """Who holds what, as the rules of ARCHITECTURE §3 say it should be."""

    def __init__(
        self,
        *,
        manufacturer: str,
        regulator: str,
        hospitals: set[str],
        lots: dict[str, Lot],
        max_batch: int,
    ) -> None:
        self.max_batch = max_batch
        self.manufacturer = manufacturer
        self.regulator = regulator
        self.hospitals = hospitals
        self.prefix_owner: dict[str, str] = {}
        self.lots = lots
        self.items: dict[bytes, Item] = {}
        self.shipments: dict[int, Shipment] = {}
        self.recalls: dict[int, Recall] = {}
        self.nonces: dict[str, int] = {}
        # Loose units of a lot by holder: [Active, Quarantined, shipped and unsettled].
        self.balances: dict[tuple[str, str], list[int]] = {}
        self.supply: dict[str, int] = {}  # commissioned - dispensed - destroyed, by lot

    def clone(self) -> CustodyModel:
        new = object.__new__(CustodyModel)
        new.__dict__.update(self.__dict__)
        new.items = {
            k: dataclasses.replace(v, children=list(v.children)) for k, v in self.items.items()
        }
        new.shipments = {k: dataclasses.replace(v) for k, v in self.shipments.items()}
        new.lots = {k: dataclasses.replace(v) for k, v in self.lots.items()}
        new.recalls = {k: dataclasses.replace(v) for k, v in self.recalls.items()}
        new.nonces = dict(self.nonces)
        new.balances = {k: list(v) for k, v in self.balances.items()}
        new.supply = dict(self.supply)
        return new

    def balance(self, lot: str, holder: str) -> list[int]:
        return self.balances.setdefault((lot, holder), [0, 0, 0])

    # ------------------------------------------------------------ queries

    def subtree(self, item_id: bytes) -> list[bytes]:
        """The item and everything packed inside it, depth first in packing order."""
        out = [item_id]
        for child in self.items[item_id].children:
            out += self.subtree(child)
        return out

    def root_of(self, item_id: bytes) -> bytes:
        while (parent := self.items[item_id].parent) is not None:
            item_id = parent
        return item_id

    def roots(self, holder: str | None = None, *statuses: ItemStatus) -> list[bytes]:
        return [
            i
            for i, it in self.items.items()
            if it.parent is None
            and (holder is None or it.holder == holder)
            and (not statuses or it.status in statuses)
        ]

    def nonce(self, account: str) -> int:
        return self.nonces.get(account, 0)

    def _move(self, root: bytes, **changes: Any) -> None:
        for i in self.subtree(root):
            for name, value in changes.items():
                setattr(self.items[i], name, value)

    def _root(self, item_id: bytes) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise Revert("ItemsUnknownItem", id=item_id)
        if item.parent is not None:
            raise Revert("ItemsInContainer", id=item_id, containerId=item.parent)
        return item

    def _movable_root(self, item_id: bytes, holder: str) -> Item:
        """Only the holder moves an item, and only while it is Active: nothing moves in
        transit, quarantined, dispensed or destroyed."""
        item = self._root(item_id)
        if item.holder != holder:
            raise Revert("ItemsNotHolder", id=item_id, holder=item.holder)
        if item.status != A:
            raise Revert("ItemsWrongStatus", id=item_id, status=item.status)
        return item

    def _batch(self, ids: list[Any]) -> None:
        if not 1 <= len(ids) <= self.max_batch:
            raise Revert("ItemsBatchSize", count=len(ids), max=self.max_batch)

    def _take(
        self, lot: str, holder: str, quantity: int, *, source: int = 0, moved_to: int | None
    ) -> None:
        """Move `quantity` loose units from balance slot `source` (0 Active, 1 Quarantined)
        to slot `moved_to` (2: in transit; None: out of custody by quantity)."""
        b = self.balance(lot, holder)
        if b[source] < quantity:
            raise Revert(
                "ItemsInsufficientQuantity",
                lotKey=self.lots[lot].key,
                holder=holder,
                available=b[source],
                requested=quantity,
            )
        b[source] -= quantity
        if moved_to is not None:
            b[moved_to] += quantity

    # ------------------------------------------------------------ operations

    def commission(self, caller: str, lot: str, serials: list[str]) -> list[bytes]:
        if caller != self.manufacturer:
            raise Revert("ItemsUnauthorized", caller=caller)
        ids = []
        for serial in serials:
            if not _CSET82.fullmatch(serial):
                raise Revert("ItemsInvalidSerial", serial=serial)
            item_id = gs1.item_id(gs1.unit_path(DEMO_GTIN, serial))
            if item_id in self.items:
                raise Revert("ItemsAlreadyExists", id=item_id)
            self.items[item_id] = Item(caller, lot=lot)
            ids.append(item_id)
        return ids

    def create_container(self, caller: str, sscc: str, prefix: str) -> bytes:
        if self.prefix_owner.get(prefix) != caller:
            raise Revert("ItemsPrefixNotOwned", prefix=prefix, caller=caller)
        item_id = gs1.item_id(gs1.container_path(sscc))
        if item_id in self.items:
            raise Revert("ItemsAlreadyExists", id=item_id)
        self.items[item_id] = Item(caller)
        return item_id

    def pack(self, caller: str, container_id: bytes, child_ids: list[bytes]) -> None:
        self._batch(child_ids)
        container = self._movable_root(container_id, caller)
        if not container.is_container:
            raise Revert("ItemsNotContainer", id=container_id)
        for child_id in child_ids:
            if child_id == container_id:
                raise Revert("ItemsSelfPack", id=child_id)
            self._movable_root(child_id, caller).parent = container_id
            container.children.append(child_id)

    def unpack(self, caller: str, container_id: bytes) -> list[bytes]:
        container = self._movable_root(container_id, caller)
        if not container.is_container:
            raise Revert("ItemsNotContainer", id=container_id)
        children, container.children = container.children, []
        for child_id in children:
            self.items[child_id].parent = None
        return children

    def ship(
        self,
        sender: str,
        receiver: str,
        item_ids: list[bytes],
        lots: tuple[tuple[str, int], ...] = (),
    ) -> int:
        if receiver == sender:
            raise Revert("ItemsSelfShipment", account=sender)
        if not 1 <= len(item_ids) + len(lots) <= self.max_batch:
            raise Revert("ItemsBatchSize", count=len(item_ids) + len(lots), max=self.max_batch)
        low, high = OPEN_RANGE
        for root in item_ids:
            self._movable_root(root, sender)
            for i in self.subtree(root):
                lot = self.items[i].lot
                if lot is None:
                    continue
                # A recalled unit moves only back to its manufacturer (or to destruction).
                if self.lots[lot].recall and receiver != self.manufacturer:
                    raise Revert("ItemsRecalledReturnOnly", id=root, manufacturer=self.manufacturer)
                low, high = max(low, STORAGE_RANGE[0]), min(high, STORAGE_RANGE[1])
            self._move(root, status=T)
        for lot, quantity in lots:
            key = self.lots[lot].key
            if quantity == 0:
                raise Revert("ItemsZeroQuantity", lotKey=key)
            if self.lots[lot].recall and receiver != self.manufacturer:
                raise Revert("ItemsRecalledReturnOnly", id=key, manufacturer=self.manufacturer)
            low, high = max(low, STORAGE_RANGE[0]), min(high, STORAGE_RANGE[1])
            self._take(lot, sender, quantity, moved_to=2)
        shipment_id = len(self.shipments) + 1
        self.shipments[shipment_id] = Shipment(
            sender, receiver, tuple(item_ids), (low, high), lots=lots
        )
        self.nonces[sender] = self.nonce(sender) + 1
        return shipment_id

    def _in_transit(self, shipment_id: int, item_ids: list[bytes]) -> Shipment:
        s = self.shipments.get(shipment_id)
        if s is None:
            raise Revert("ItemsUnknownShipment", shipmentId=shipment_id)
        if s.status != ShipmentStatus.IN_TRANSIT:
            raise Revert("ItemsShipmentNotInTransit", shipmentId=shipment_id, status=s.status)
        if tuple(item_ids) != s.item_ids:
            raise Revert("ItemsShipmentContentMismatch", shipmentId=shipment_id)
        return s

    def receive(
        self,
        receiver: str,
        shipment_id: int,
        item_ids: list[bytes],
        *,
        rejected: list[bytes],
        temps: tuple[int, int],
        excursion: int,
        rejected_lots: tuple[tuple[str, int], ...] = (),
    ) -> list[bytes]:
        s = self._in_transit(shipment_id, item_ids)
        if receiver != s.receiver:
            raise Revert("ItemsWrongParty", shipmentId=shipment_id, expected=s.receiver)
        if temps[0] > temps[1]:
            raise Revert("ItemsInvalidTemperature", tempMin=temps[0], tempMax=temps[1])
        if not _is_subsequence(rejected, s.item_ids):
            raise Revert("ItemsRejectedNotInShipment")
        quarantined = excursion > 0 or temps[0] < s.temp_range[0] or temps[1] > s.temp_range[1]
        accepted = [i for i in s.item_ids if i not in rejected]
        for root in s.item_ids:
            if root in rejected:
                self._move(root, status=A)
            else:
                self._move(root, holder=receiver, status=Q if quarantined else A)
        back = dict(rejected_lots)
        for lot, _ in rejected_lots:
            if lot not in dict(s.lots):
                raise Revert("ItemsRejectedLotNotInShipment", lotKey=self.lots[lot].key)
        kept_total = 0
        for lot, quantity in s.lots:
            rejected_q = back.get(lot)
            if rejected_q == 0:
                raise Revert("ItemsZeroQuantity", lotKey=self.lots[lot].key)
            if rejected_q is not None and rejected_q > quantity:
                raise Revert(
                    "ItemsRejectedQuantityExceeds",
                    lotKey=self.lots[lot].key,
                    shipped=quantity,
                    rejected=rejected_q,
                )
            kept = quantity - (rejected_q or 0)
            sent = self.balance(lot, s.sender)
            sent[2] -= quantity
            sent[0] += quantity - kept
            self.balance(lot, receiver)[1 if quarantined else 0] += kept
            kept_total += kept
        s.status = ShipmentStatus.RECEIVED if accepted or kept_total else ShipmentStatus.REJECTED
        self.nonces[receiver] = self.nonce(receiver) + 1
        return accepted

    def cancel(self, sender: str, shipment_id: int, item_ids: list[bytes]) -> None:
        s = self._in_transit(shipment_id, item_ids)
        if sender != s.sender:
            raise Revert("ItemsWrongParty", shipmentId=shipment_id, expected=s.sender)
        for root in s.item_ids:
            self._move(root, status=A)
        for lot, quantity in s.lots:
            b = self.balance(lot, sender)
            b[2] -= quantity
            b[0] += quantity
        s.status = ShipmentStatus.CANCELLED
        self.nonces[sender] = self.nonce(sender) + 1

    def dispense(self, caller: str, item_ids: list[bytes]) -> None:
        if caller not in self.hospitals:
            raise Revert("ItemsUnauthorized", caller=caller)
        self._batch(item_ids)
        for i in item_ids:
            item = self._movable_root(i, caller)
            if item.lot is None:
                raise Revert("ItemsIsContainer", id=i)
            if item.case:
                raise Revert("ItemsIsPackage", id=i)
            if recall := self.lots[item.lot].recall:
                raise Revert("ItemsRecalled", id=i, recallId=recall)
            item.status = D

    def hold(
        self, caller: str, item_ids: list[bytes], *, before: ItemStatus, after: ItemStatus
    ) -> None:
        """Quarantine (Active to Quarantined) or release: by the holder or a regulator."""
        self._batch(item_ids)
        for i in item_ids:
            item = self._root(i)
            if item.holder != caller and caller != self.regulator:
                raise Revert("ItemsNotHolder", id=i, holder=item.holder)
            if item.status != before:
                raise Revert("ItemsWrongStatus", id=i, status=item.status)
            self._move(i, status=after)

    def destroy(self, caller: str, item_ids: list[bytes]) -> None:
        self._batch(item_ids)
        for i in item_ids:
            item = self._root(i)
            if item.holder != caller:
                raise Revert("ItemsNotHolder", id=i, holder=item.holder)
            if item.status not in (A, Q):
                raise Revert("ItemsWrongStatus", id=i, status=item.status)
            if item.children:
                raise Revert("ItemsContainerNotEmpty", id=i)
            item.status = X
            if item.case:
                assert item.lot is not None
                self.supply[item.lot] -= item.case

    # ------------------------------------------------------------ custody by quantity

    def commission_lot(self, caller: str, lot: str, quantity: int) -> None:
        if caller != self.manufacturer:
            raise Revert("ItemsUnauthorized", caller=caller)
        if quantity == 0:
            raise Revert("ItemsZeroQuantity", lotKey=self.lots[lot].key)
        self.balance(lot, caller)[0] += quantity
        self.supply[lot] = self.supply.get(lot, 0) + quantity

    def dispense_lots(self, caller: str, lots: list[tuple[str, int]]) -> None:
        if caller not in self.hospitals:
            raise Revert("ItemsUnauthorized", caller=caller)
        self._batch(lots)
        for lot, quantity in lots:
            key = self.lots[lot].key
            if quantity == 0:
                raise Revert("ItemsZeroQuantity", lotKey=key)
            if recall := self.lots[lot].recall:
                raise Revert("ItemsRecalled", id=key, recallId=recall)
            self._take(lot, caller, quantity, moved_to=None)
            self.supply[lot] -= quantity

    def hold_lots(
        self, caller: str, holder: str, lots: list[tuple[str, int]], *, release: bool
    ) -> None:
        if holder != caller and caller != self.regulator:
            raise Revert("ItemsUnauthorized", caller=caller)
        self._batch(lots)
        for lot, quantity in lots:
            if quantity == 0:
                raise Revert("ItemsZeroQuantity", lotKey=self.lots[lot].key)
            source = 1 if release else 0
            self._take(lot, holder, quantity, source=source, moved_to=1 - source)

    def destroy_lots(self, caller: str, lots: list[tuple[str, int]]) -> None:
        self._batch(lots)
        for lot, quantity in lots:
            if quantity == 0:
                raise Revert("ItemsZeroQuantity", lotKey=self.lots[lot].key)
            b = self.balance(lot, caller)
            if b[0] + b[1] < quantity:
                raise Revert(
                    "ItemsInsufficientQuantity",
                    lotKey=self.lots[lot].key,
                    holder=caller,
                    available=b[0] + b[1],
                    requested=quantity,
                )
            from_hold = min(b[1], quantity)
            b[1] -= from_hold
            b[0] -= quantity - from_hold
            self.supply[lot] -= quantity

    def pack_cases(self, caller: str, lot: str, serials: list[str]) -> list[bytes]:
        self._batch(serials)
        self._take(lot, caller, PER_CASE * len(serials), moved_to=None)
        ids = []
        for serial in serials:
            item_id = case_id(CASE_GTIN, serial)
            if item_id in self.items:
                raise Revert("ItemsAlreadyExists", id=item_id)
            self.items[item_id] = Item(caller, lot=lot, case=PER_CASE)
            ids.append(item_id)
        return ids

    def unpack_cases(self, caller: str, case_ids: list[bytes]) -> None:
        self._batch(case_ids)
        for i in case_ids:
            item = self._movable_root(i, caller)
            if not item.case:
                raise Revert("ItemsNotPackage", id=i)
            assert item.lot is not None
            item.status = ItemStatus.UNPACKED
            self.balance(item.lot, caller)[0] += item.case

    def recall(self, caller: str, lot: str, level: int) -> int:
        if caller not in (self.manufacturer, self.regulator):
            raise Revert("DevicesUnauthorized", caller=caller)
        if not 1 <= level <= 3:
            raise Revert("DevicesInvalidRecallLevel", level=level)
        if open_recall := self.lots[lot].recall:
            raise Revert(
                "DevicesLotAlreadyRecalled", lotKey=self.lots[lot].key, recallId=open_recall
            )
        recall_id = len(self.recalls) + 1
        self.recalls[recall_id] = Recall(lot, caller)
        self.lots[lot].recall = recall_id
        return recall_id

    def close_recall(self, caller: str, recall_id: int) -> None:
        if recall_id not in self.recalls:
            raise Revert("DevicesUnknownRecall", recallId=recall_id)
        recall = self.recalls[recall_id]
        if not recall.open:
            raise Revert("DevicesRecallClosed", recallId=recall_id)
        # A recall ordered by a regulator is closed by a regulator.
        if caller != self.regulator and caller != recall.initiator:
            raise Revert("DevicesUnauthorized", caller=caller)
        recall.open = False
        self.lots[recall.lot].recall = 0


def _is_subsequence(part: Iterable[bytes], whole: Iterable[bytes]) -> bool:
    rest = iter(whole)
    return all(any(x == y for y in rest) for x in part)


# ---------------------------------------------------------------- the chain, built once


@dataclass
class _World:
    chain: DevChain
    consortium: Consortium
    lots: dict[str, tuple[bytes, int]]  # lot -> (key, index)
    max_batch: int
    snapshot: int
    gas: _GasEstimator


class _GasEstimator:
    """Replaces eth-tester's gas estimation (a binary search: ~14 runs). It only changes what
    gas limit the SDK sends with; the contracts run unchanged.

    Where the model predicts a revert, it runs the transaction once and raises the revert,
    which is how the SDK learns the custom error. Where the model predicts success (while
    `trusting`), it skips that dry run and allows the block's whole gas limit: the chain runs
    the transaction once, and if it reverts after all, the SDK replays the mined failure into
    its custom error and the step fails as before."""

    def __init__(self) -> None:
        self.trusted = False

    @contextlib.contextmanager
    def trusting(self) -> Iterator[None]:
        self.trusted = True
        try:
            yield
        finally:
            self.trusted = False

    def __call__(self, state: Any, transaction: Any) -> int:
        if self.trusted:
            return int(state.gas_limit)
        snapshot = state.snapshot()
        try:
            spoofed = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
            computation = state.apply_transaction(spoofed)
            if computation.is_error:
                raise computation.error
            used = state.gas_limit - computation.get_gas_remaining()
        finally:
            state.revert(snapshot)
        return int(min(state.gas_limit, 2 * used + 100_000))


@functools.cache
def _world() -> _World:
    chain = DevChain.start(accounts=12)
    consortium = bootstrap_consortium(chain.w3, chain.accounts[:7], now=chain.now())
    m = consortium.manufacturer
    now = chain.now()
    lot_b = m.register_lot(DEMO_GTIN, LOT_B, production_date=now - 86_400, expiry=now + 10**8).value
    m.register_product(
        GLOVES,
        company_prefix=DEMO_PREFIX,
        device_class=2,
        certificate_hash=keccak(text="gloves"),
        registration_expiry=now + 10**8,
        temp_min=STORAGE_RANGE[0],
        temp_max=STORAGE_RANGE[1],
        serialised=False,
    )
    lot_g = m.register_lot(GLOVES, LOT_G, production_date=now - 86_400, expiry=now + 10**8).value
    m.register_package_level(CASE_GTIN, child_gtin=GLOVES, quantity=PER_CASE)
    lots = {}
    for name, key in ((DEMO_LOT, consortium.lot_key), (LOT_B, lot_b), (LOT_G, lot_g)):
        record = m.lot(key)
        assert record is not None
        lots[name] = (key, record.lot_index)
    address = Web3.to_checksum_address(m.deployment.items)
    items = chain.w3.eth.contract(address=address, abi=load_artifacts()["Items"].abi)
    max_batch = int(items.functions.MAX_BATCH().call())
    gas = chain.tester.backend.chain.gas_estimator = _GasEstimator()
    return _World(chain, consortium, lots, max_batch, chain.tester.take_snapshot(), gas)


# ---------------------------------------------------------------- the state machine


class CustodyMachine(RuleBasedStateMachine):
    """Each rule makes sensible choices about four times in five; otherwise it gets one
    thing wrong on purpose (`_flaw`: a wrong party, a stale signature, an item in the wrong
    state...). Natural conflicts, like a recall opened while units are out, add to those."""

    def __init__(self) -> None:
        super().__init__()
        world = _world()
        world.chain.tester.revert_to_snapshot(world.snapshot)
        self.chain, self.gas = world.chain, world.gas
        c = world.consortium
        self.ledgers: dict[str, Ledger] = {n: c.by_name(n) for n in ACTORS}
        self.addr = {n: ledger.address for n, ledger in self.ledgers.items()}
        self.lot_index = {lot: index for lot, (_, index) in world.lots.items()}
        self.model = CustodyModel(
            manufacturer=self.addr["manufacturer"],
            regulator=self.addr["regulator"],
            hospitals={self.addr["hospital"], self.addr["hospital2"]},
            lots={lot: Lot(key, index) for lot, (key, index) in world.lots.items()},
            max_batch=world.max_batch,
        )
        self.model.prefix_owner = {
            DEMO_PREFIX: self.addr["manufacturer"],
            DISTRIBUTOR_PREFIX: self.addr["distributor"],
        }
        self.serials: list[str] = []
        self.ssccs: list[tuple[str, str]] = []  # (sscc, prefix)
        self.signed: list[tuple[str, Any, bytes, list[bytes]]] = []  # used orders, to replay
        self.seen_nonces: dict[str, int] = {}
        self.to_check: set[bytes] = set()
        self.signers: set[str] = set()
        self.cursor = 0
        self.case_serials: list[str] = []

    # ------------------------------------------------------------ plumbing

    def _attempt(
        self,
        label: str,
        predict: Callable[[CustodyModel], Any],
        act: Callable[[], Any],
        *,
        named: Iterable[bytes] = (),
        signer: str | None = None,
    ) -> Any:
        """Predict the outcome on a copy of the model, run `act` on chain, and require the
        same outcome: the same return value, or a revert with the predicted error. The model
        changes only on success. A predicted revert fails in gas estimation, so nothing is
        mined and only successful steps need re-reading the chain."""
        trial = self.model.clone()
        try:
            expected = predict(trial)
        except Revert as revert:
            with pytest.raises(ContractError) as caught:
                act()
            error = caught.value
            assert error.name == revert.name, f"{label}: model predicted {revert.name}"
            if revert.args_by_name is not None:
                assert error.args_by_name == revert.args_by_name, (label, revert.args_by_name)
            event(f"{label} reverted: {revert.name}")
            return None
        try:
            with self.gas.trusting():
                actual = act()
        except ContractError as exc:
            raise AssertionError(f"{label}: model predicted success, chain reverted {exc}") from exc
        if expected is not None:
            assert actual.value == expected, label
        self.to_check.update(i for i, it in trial.items.items() if self.model.items.get(i) != it)
        self.to_check.update(i for i in named if i in trial.items)
        if signer is not None:
            self.signers.add(signer)
        self.model = trial
        event(f"ok: {label}")
        return actual

    @staticmethod
    def _flaw(data: st.DataObject, *flaws: str) -> str | None:
        """None about four times in five; else one of the (non-empty) `flaws`."""
        choices = [f for f in flaws if f]
        if not choices or data.draw(st.integers(0, 5)) > 0:
            return None
        return data.draw(st.sampled_from(choices))

    @staticmethod
    def _some(data: st.DataObject, pool: list[bytes], *, max_size: int = 3) -> list[bytes]:
        if not pool:
            return []
        return data.draw(
            st.lists(st.sampled_from(pool), min_size=1, max_size=max_size, unique=True)
        )

    def _other(self, data: st.DataObject, *names: str) -> str:
        return data.draw(st.sampled_from([n for n in MEMBERS if n not in names]))

    def _name(self, address: str) -> str:
        return next(n for n, a in self.addr.items() if a == address)

    def _strangers(self, data: st.DataObject, *, besides: Iterable[bytes]) -> list[bytes]:
        """Some items outside `besides`, or an id nobody commissioned."""
        excluded = set(besides)
        return self._some(data, [i for i in [*self.model.items, UNKNOWN_ID] if i not in excluded])

    def _recalled(self, root: bytes) -> bool:
        lots = {self.model.items[i].lot for i in self.model.subtree(root)}
        return any(self.model.lots[lot].recall for lot in lots if lot is not None)

    def _active_roots(self, name: str) -> list[bytes]:
        return self.model.roots(self.addr[name], A)

    # ------------------------------------------------------------ creation and aggregation

    @rule(data=st.data())
    def commission(self, data: st.DataObject) -> None:
        # The first units of an example are always commissioned, so it can go somewhere.
        flaw = self._flaw(
            data,
            *(("not the manufacturer", "existing serial", "bad serial") if self.serials else ()),
        )
        caller = (
            "manufacturer" if flaw != "not the manufacturer" else self._other(data, "manufacturer")
        )
        lot = data.draw(st.sampled_from(LOTS))
        earlier = list(self.serials)
        serials = [f"SN{len(self.serials) + k:04d}" for k in range(data.draw(st.integers(1, 3)))]
        self.serials += serials
        if flaw == "existing serial":
            serials[-1] = data.draw(st.sampled_from(earlier))
        elif flaw == "bad serial":
            serials[-1] = data.draw(st.sampled_from(("SN 1", "", "X" * 21, "SN#1", "SN/1")))
        self._attempt(
            "commission",
            lambda m: m.commission(self.addr[caller], lot, serials),
            lambda: self.ledgers[caller].commission(self.model.lots[lot].key, serials),
        )

    @rule(data=st.data())
    def create_container(self, data: st.DataObject) -> None:
        flaw = self._flaw(data, "foreign prefix", "existing sscc" if self.ssccs else "")
        caller = data.draw(st.sampled_from(("manufacturer", "distributor")))
        prefix = DEMO_PREFIX if caller == "manufacturer" else DISTRIBUTOR_PREFIX
        sscc = gs1.make_sscc(extension=0, company_prefix=prefix, serial_reference=len(self.ssccs))
        if flaw == "existing sscc":
            sscc, prefix = data.draw(st.sampled_from(self.ssccs))
            caller = self._name(self.model.prefix_owner[prefix])
        else:
            self.ssccs.append((sscc, prefix))
        if flaw == "foreign prefix":
            caller = self._other(data, caller)
        self._attempt(
            "create_container",
            lambda m: m.create_container(self.addr[caller], sscc, prefix),
            lambda: self.ledgers[caller].create_container(sscc, company_prefix=prefix),
        )

    def _container_holders(self, *, with_other_roots: bool) -> list[str]:
        return [
            n
            for n in MEMBERS
            if any(self.model.items[i].is_container for i in self._active_roots(n))
            and (not with_other_roots or len(self._active_roots(n)) > 1)
        ]

    @precondition(lambda self: self._container_holders(with_other_roots=True))
    @rule(data=st.data())
    def pack(self, data: st.DataObject) -> None:
        caller = data.draw(st.sampled_from(self._container_holders(with_other_roots=True)))
        roots = self._active_roots(caller)
        container = data.draw(
            st.sampled_from([i for i in roots if self.model.items[i].is_container])
        )
        children = self._some(data, [i for i in roots if i != container])
        flaw = self._flaw(data, "not the holder", "into itself", "not a movable root", "a unit")
        if flaw == "not the holder":
            caller = self._other(data, caller)
        elif flaw == "into itself":
            children.append(container)
        elif flaw == "not a movable root":
            children = self._strangers(data, besides=roots)
        elif flaw == "a unit":
            container = data.draw(st.sampled_from(roots))
        self._attempt(
            "pack",
            lambda m: m.pack(self.addr[caller], container, children),
            lambda: self.ledgers[caller].pack(container, children),
            named=[container, *children],
        )

    @precondition(lambda self: self._container_holders(with_other_roots=False))
    @rule(data=st.data())
    def unpack(self, data: st.DataObject) -> None:
        caller = data.draw(st.sampled_from(self._container_holders(with_other_roots=False)))
        roots = self._active_roots(caller)
        containers = [i for i in roots if self.model.items[i].is_container]
        full = [i for i in containers if self.model.items[i].children]
        container = data.draw(st.sampled_from(full or containers))
        flaw = self._flaw(data, "not the holder", "not a movable root")
        if flaw == "not the holder":
            caller = self._other(data, caller)
        elif flaw == "not a movable root":
            container = data.draw(st.sampled_from([*self.model.items, UNKNOWN_ID]))
        self._attempt(
            "unpack",
            lambda m: m.unpack(self.addr[caller], container),
            lambda: self.ledgers[caller].unpack(container),
            named=[container],
        )

    # ------------------------------------------------------------ the custody handshake

    def _relayer(self, data: st.DataObject) -> Ledger:
        return self.ledgers[data.draw(st.sampled_from(ACTORS))]

    def _shippable(self) -> dict[str, list[bytes]]:
        """Active roots by holder; the manufacturer's recalled stock has nowhere to go."""
        return {
            n: [i for i in self._active_roots(n) if n != "manufacturer" or not self._recalled(i)]
            for n in MEMBERS
        }

    @precondition(lambda self: any(self._shippable().values()))
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        pools = self._shippable()
        sender = data.draw(st.sampled_from([n for n, pool in pools.items() if pool]))
        ids = self._some(data, pools[sender])
        # A recalled unit goes back to its manufacturer; anything else goes anywhere, most
        # often downstream to a hospital.
        recalled = any(self._recalled(i) for i in ids)
        downstream = [n for n in (*MEMBERS, "hospital", "hospital2") if n != sender]
        receiver = "manufacturer" if recalled else data.draw(st.sampled_from(downstream))
        returns = {n: [i for i in self._active_roots(n) if self._recalled(i)] for n in MEMBERS}
        flaw = self._flaw(
            data,
            "to itself",
            "not its movable roots",
            *(("recalled stock elsewhere",) * 2 if any(returns.values()) else ()),
            *BAD_SIGNATURES,
        )
        if flaw == "to itself":
            receiver = sender
        elif flaw == "not its movable roots":
            ids = self._strangers(data, besides=pools[sender])
        elif flaw == "recalled stock elsewhere":
            sender = data.draw(st.sampled_from([n for n, pool in returns.items() if pool]))
            ids = self._some(data, returns[sender])
            receiver = self._other(data, sender, "manufacturer")
        elif flaw in BAD_SIGNATURES:
            self._relay_bad_order(data, flaw, sender, receiver, ids)
            return
        me = self.ledgers[sender]
        order, signature = me.sign_ship(
            self.addr[receiver], ids, nonce=self.model.nonce(me.address)
        )
        relayer = self._relayer(data)
        if self._attempt(
            "ship",
            lambda m: m.ship(me.address, self.addr[receiver], ids),
            lambda: relayer.relay_ship(order, signature),
            named=ids,
            signer=me.address,
        ):
            self.signed.append(("ship", order, signature, []))

    def _relay_bad_order(
        self, data: st.DataObject, flaw: str, sender: str, receiver: str, ids: list[bytes]
    ) -> None:
        """Signed orders are single-use, bound to their signer, and expire: each of these
        reverts and burns no nonce."""
        me, relayer = self.ledgers[sender], self._relayer(data)
        nonce = self.model.nonce(me.address)
        act: Callable[[], Any] = lambda: None  # noqa: E731
        if flaw == "replayed order" and self.signed:
            kind, old, signature, passed = data.draw(st.sampled_from(self.signed))
            signer = old.receiver if kind == "receive" else old.sender
            revert = Revert(
                "InvalidAccountNonce", account=signer, currentNonce=self.model.nonce(signer)
            )
            if kind == "ship":
                act = functools.partial(relayer.relay_ship, old, signature)
            elif kind == "receive":
                act = functools.partial(relayer.relay_receive, old, signature, item_ids=passed)
            else:
                act = functools.partial(relayer.relay_cancel, old, signature, item_ids=passed)
        elif flaw == "forged signature":
            forger = self.ledgers[data.draw(st.sampled_from([n for n in ACTORS if n != sender]))]
            order = ShipOrder(
                me.address, self.addr[receiver], tuple(ids), nonce, self.chain.now() + 3600
            )
            signature = sign_order(forger.account, order, forger.domain)
            signer = me.address
            revert = Revert("ItemsInvalidSigner", signer=forger.address, expected=me.address)
            act = functools.partial(relayer.relay_ship, order, signature)
        elif flaw == "expired signature":
            deadline = self.chain.now() - 1
            order, signature = me.sign_ship(
                self.addr[receiver], ids, nonce=nonce, deadline=deadline
            )
            signer, revert = me.address, Revert("ItemsExpiredSignature", deadline=deadline)
            act = functools.partial(relayer.relay_ship, order, signature)
        else:  # a nonce from the future (or nothing yet to replay)
            order, signature = me.sign_ship(self.addr[receiver], ids, nonce=nonce + 1)
            signer = me.address
            revert = Revert("InvalidAccountNonce", account=me.address, currentNonce=nonce)
            act = functools.partial(relayer.relay_ship, order, signature)

        def predict(_: CustodyModel) -> None:
            raise revert

        self._attempt(flaw, predict, act, signer=signer)

    def _in_transit(self) -> list[int]:
        return [k for k, s in self.model.shipments.items() if s.status == ShipmentStatus.IN_TRANSIT]

    def _settled(self, data: st.DataObject) -> int:
        """A shipment already received, rejected or cancelled, or one that does not exist."""
        done = [k for k, s in self.model.shipments.items() if s.status != ShipmentStatus.IN_TRANSIT]
        return data.draw(st.sampled_from([*done, len(self.model.shipments) + 1]))

    @staticmethod
    def _mismatch(data: st.DataObject, ids: list[bytes]) -> list[bytes]:
        return data.draw(st.sampled_from([ids[::-1], ids[1:], ids + ids[:1]]))

    @precondition(lambda self: self._in_transit())
    @rule(data=st.data())
    def receive(self, data: st.DataObject) -> None:
        shipment_id = data.draw(st.sampled_from(self._in_transit()))
        s = self.model.shipments[shipment_id]
        actor, passed = self._name(s.receiver), list(s.item_ids)
        rejected: list[bytes] = []
        if data.draw(st.integers(0, 3)) == 0:
            rejected = [i for i in passed if data.draw(st.booleans())]
        kind = data.draw(st.sampled_from(("in range",) * 5 + ("cold", "hot", "excursion")))
        lo, hi = STORAGE_RANGE
        t_min = data.draw(st.integers(lo - 100, lo - 1) if kind == "cold" else st.integers(lo, hi))
        t_max = data.draw(
            st.integers(hi + 1, hi + 100) if kind == "hot" else st.integers(t_min, hi)
        )
        excursion = data.draw(st.integers(1, 7200)) if kind == "excursion" else 0
        flaw = self._flaw(
            data, "wrong party", "content mismatch", "rejects a stranger", "inverted", "settled"
        )
        if flaw == "wrong party":
            actor = self._other(data, actor)
        elif flaw == "content mismatch":
            passed = self._mismatch(data, passed)
        elif flaw == "rejects a stranger":
            stranger = data.draw(
                st.sampled_from([*self._strangers(data, besides=passed), UNKNOWN_ID])
            )
            rejected.insert(data.draw(st.integers(0, len(rejected))), stranger)
        elif flaw == "inverted":
            t_min, t_max = t_max + 1, t_max
        elif flaw == "settled":
            shipment_id = self._settled(data)
        rejected_lots: tuple[tuple[str, int], ...] = ()
        if s.lots and data.draw(st.integers(0, 2)) == 0:
            shipped = s.lots[0][1]
            rejected_lots = ((LOT_G, data.draw(st.integers(1, shipped))),)
        lot_flaw = self._flaw(data, "rejects more than shipped" if s.lots else "a lot not shipped")
        if lot_flaw == "rejects more than shipped":
            rejected_lots = ((LOT_G, s.lots[0][1] + 1),)
        elif lot_flaw == "a lot not shipped":
            rejected_lots = ((LOT_G, 1),)
        key = self.model.lots[LOT_G].key
        me = self.ledgers[actor]
        order, signature = me.sign_receive(
            shipment_id,
            temp_min=t_min,
            temp_max=t_max,
            rejected_ids=rejected,
            excursion_seconds=excursion,
            rejected_lots=[LotQuantity(key, q) for _, q in rejected_lots],
            nonce=self.model.nonce(me.address),
        )
        relayer = self._relayer(data)
        if self._attempt(
            "receive",
            lambda m: m.receive(
                me.address,
                shipment_id,
                passed,
                rejected=rejected,
                temps=(t_min, t_max),
                excursion=excursion,
                rejected_lots=rejected_lots,
            ),
            lambda: relayer.relay_receive(order, signature, item_ids=passed),
            named=s.item_ids,
            signer=me.address,
        ):
            self.signed.append(("receive", order, signature, passed))

    @precondition(lambda self: self._in_transit())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        shipment_id = data.draw(st.sampled_from(self._in_transit()))
        s = self.model.shipments[shipment_id]
        actor, passed = self._name(s.sender), list(s.item_ids)
        flaw = self._flaw(data, "wrong party", "content mismatch", "settled")
        if flaw == "wrong party":
            actor = self._other(data, actor)
        elif flaw == "content mismatch":
            passed = self._mismatch(data, passed)
        elif flaw == "settled":
            shipment_id = self._settled(data)
        me = self.ledgers[actor]
        order, signature = me.sign_cancel(shipment_id, nonce=self.model.nonce(me.address))
        relayer = self._relayer(data)
        if self._attempt(
            "cancel",
            lambda m: m.cancel(me.address, shipment_id, passed),
            lambda: relayer.relay_cancel(order, signature, item_ids=passed),
            named=s.item_ids,
            signer=me.address,
        ):
            self.signed.append(("cancel", order, signature, passed))

    # ------------------------------------------------------------ end of life and holds

    def _units(self, name: str) -> list[bytes]:
        return [i for i in self._active_roots(name) if not self.model.items[i].is_container]

    @precondition(lambda self: self._units("hospital") or self._units("hospital2"))
    @rule(data=st.data())
    def dispense(self, data: st.DataObject) -> None:
        caller = data.draw(
            st.sampled_from([h for h in ("hospital", "hospital2") if self._units(h)])
        )
        units = self._units(caller)
        # Recalled units are never dispensed; if nothing else is left, try anyway.
        ids = self._some(data, [i for i in units if not self._recalled(i)] or units, max_size=2)
        flaw = self._flaw(data, "not a hospital", "not a movable unit")
        if flaw == "not a hospital":
            caller = self._other(data, "hospital", "hospital2")
        elif flaw == "not a movable unit":
            ids = self._strangers(data, besides=units)
        self._attempt(
            "dispense",
            lambda m: m.dispense(self.addr[caller], ids),
            lambda: self.ledgers[caller].dispense(ids),
            named=ids,
        )

    @precondition(lambda self: self.model.roots(None, A) or self.model.roots(None, Q))
    @rule(data=st.data())
    def quarantine_or_release(self, data: st.DataObject) -> None:
        release = bool(self.model.roots(None, Q)) and (
            not self.model.roots(None, A) or data.draw(st.booleans())
        )
        before, after = (Q, A) if release else (A, Q)
        pools = {n: self.model.roots(self.addr[n], before) for n in MEMBERS}
        pools["regulator"] = self.model.roots(None, before)
        caller = data.draw(st.sampled_from([n for n, pool in pools.items() if pool]))
        ids = self._some(data, pools[caller])
        flaw = self._flaw(data, "not the holder", "wrong status")
        if flaw == "not the holder":
            caller = self._other(data, self._name(self.model.items[ids[0]].holder))
        elif flaw == "wrong status":
            ids = self._strangers(data, besides=pools["regulator"])
        ledger = self.ledgers[caller]
        self._attempt(
            "release" if release else "quarantine",
            lambda m: m.hold(ledger.address, ids, before=before, after=after),
            lambda: (ledger.release if release else ledger.quarantine)(ids),
            named=ids,
        )

    def _destructible(self) -> dict[str, list[bytes]]:
        return {
            n: [i for i in self.model.roots(self.addr[n], A, Q) if not self.model.items[i].children]
            for n in MEMBERS
        }

    @precondition(lambda self: any(self._destructible().values()))
    @rule(data=st.data())
    def destroy(self, data: st.DataObject) -> None:
        pools = self._destructible()
        caller = data.draw(st.sampled_from([n for n, pool in pools.items() if pool]))
        ids = self._some(data, pools[caller], max_size=2)
        full = [
            i for i in self.model.roots(self.addr[caller], A, Q) if self.model.items[i].children
        ]
        flaw = self._flaw(data, "not the holder", "full container" if full else "", "wrong status")
        if flaw == "not the holder":
            caller = self._other(data, caller)
        elif flaw == "full container":
            ids = [*ids, data.draw(st.sampled_from(full))]
        elif flaw == "wrong status":
            ids = self._strangers(data, besides=pools[caller])
        self._attempt(
            "destroy",
            lambda m: m.destroy(self.addr[caller], ids),
            lambda: self.ledgers[caller].destroy(ids),
            named=ids,
        )

    # ------------------------------------------------------------ custody by quantity

    def _loose(self, name: str, slot: int = 0) -> int:
        return self.model.balance(LOT_G, self.addr[name])[slot]

    def _quantity(self, data: st.DataObject, available: int, flaw: str | None) -> int:
        """A quantity within `available`; too many or zero for those flaws."""
        if flaw == "too many":
            return available + data.draw(st.integers(1, 5))
        if flaw == "zero":
            return 0
        return data.draw(st.integers(1, max(available, 1)))

    @precondition(lambda self: self.model.supply.get(LOT_G, 0) < 120)
    @rule(data=st.data())
    def commission_lot(self, data: st.DataObject) -> None:
        flaw = self._flaw(data, "not the manufacturer", "zero")
        caller = (
            "manufacturer" if flaw != "not the manufacturer" else self._other(data, "manufacturer")
        )
        quantity = 0 if flaw == "zero" else data.draw(st.integers(1, 60))
        self._attempt(
            "commission_lot",
            lambda m: m.commission_lot(self.addr[caller], LOT_G, quantity),
            lambda: self.ledgers[caller].commission_lot(self.model.lots[LOT_G].key, quantity),
        )

    @precondition(lambda self: any(self._loose(n) for n in MEMBERS))
    @rule(data=st.data())
    def ship_quantities(self, data: st.DataObject) -> None:
        """Loose units of the lot-tracked lot, sometimes with items in the same order."""
        sender = data.draw(st.sampled_from([n for n in MEMBERS if self._loose(n)]))
        recalled = bool(self.model.lots[LOT_G].recall)
        receiver = (
            "manufacturer" if recalled and sender != "manufacturer" else self._other(data, sender)
        )
        flaw = self._flaw(data, "too many", "zero", "recalled stock elsewhere" if recalled else "")
        if flaw == "recalled stock elsewhere":
            receiver = self._other(data, sender, "manufacturer")
        quantity = self._quantity(data, self._loose(sender), flaw)
        pool = [i for i in self._active_roots(sender) if not self._recalled(i)]
        ids = self._some(data, pool) if data.draw(st.integers(0, 2)) == 0 else []
        me = self.ledgers[sender]
        key = self.model.lots[LOT_G].key
        order, signature = me.sign_ship(
            self.addr[receiver],
            ids,
            lots=[LotQuantity(key, quantity)],
            nonce=self.model.nonce(me.address),
        )
        relayer = self._relayer(data)
        if self._attempt(
            "ship_quantities",
            lambda m: m.ship(me.address, self.addr[receiver], ids, ((LOT_G, quantity),)),
            lambda: relayer.relay_ship(order, signature),
            named=ids,
            signer=me.address,
        ):
            self.signed.append(("ship", order, signature, []))

    @precondition(lambda self: self._loose("hospital") or self._loose("hospital2"))
    @rule(data=st.data())
    def dispense_lots(self, data: st.DataObject) -> None:
        caller = data.draw(
            st.sampled_from([h for h in ("hospital", "hospital2") if self._loose(h)])
        )
        flaw = self._flaw(data, "not a hospital", "too many", "zero")
        quantity = self._quantity(data, self._loose(caller), flaw)
        if flaw == "not a hospital":
            caller = self._other(data, "hospital", "hospital2")
        key = self.model.lots[LOT_G].key
        self._attempt(
            "dispense_lots",
            lambda m: m.dispense_lots(self.addr[caller], [(LOT_G, quantity)]),
            lambda: self.ledgers[caller].dispense_lots([LotQuantity(key, quantity)]),
        )

    @precondition(lambda self: any(self._loose(n, 0) or self._loose(n, 1) for n in MEMBERS))
    @rule(data=st.data())
    def hold_or_destroy_lots(self, data: st.DataObject) -> None:
        """Quarantine, release (by the holder or a regulator) or destroy loose units."""
        holder = data.draw(
            st.sampled_from([n for n in MEMBERS if self._loose(n, 0) or self._loose(n, 1)])
        )
        action = data.draw(
            st.sampled_from(
                ("quarantine", "release", "destroy")
                if self._loose(holder, 1)
                else ("quarantine", "destroy")
            )
        )
        caller = holder if data.draw(st.integers(0, 3)) else "regulator"
        if action == "destroy":
            caller = holder
        flaw = self._flaw(data, "too many", "zero", "not the holder")
        if flaw == "not the holder":
            caller = self._other(data, holder)
        available = {
            "quarantine": self._loose(holder, 0),
            "release": self._loose(holder, 1),
            "destroy": self._loose(holder, 0) + self._loose(holder, 1),
        }[action]
        quantity = self._quantity(data, available, flaw)
        entry = [LotQuantity(self.model.lots[LOT_G].key, quantity)]
        ledger, at = self.ledgers[caller], self.addr[holder]
        if action == "destroy":
            if caller != holder:  # destroyLots acts on the caller's own balance
                at = ledger.address
            self._attempt(
                "destroy_lots",
                lambda m: m.destroy_lots(ledger.address, [(LOT_G, quantity)]),
                lambda: ledger.destroy_lots(entry),
            )
            return
        release = action == "release"
        self._attempt(
            f"{action}_lots",
            lambda m: m.hold_lots(ledger.address, at, [(LOT_G, quantity)], release=release),
            lambda: (ledger.release_lots if release else ledger.quarantine_lots)(at, entry),
        )

    @precondition(lambda self: any(self._loose(n) >= PER_CASE for n in MEMBERS))
    @rule(data=st.data())
    def pack_cases(self, data: st.DataObject) -> None:
        caller = data.draw(st.sampled_from([n for n in MEMBERS if self._loose(n) >= PER_CASE]))
        count = data.draw(st.integers(1, max(1, self._loose(caller) // PER_CASE)))
        serials = [f"C{len(self.case_serials) + k}" for k in range(count)]
        self.case_serials += serials
        flaw = self._flaw(
            data, "too many", "existing serial" if len(self.case_serials) > count else ""
        )
        if flaw == "too many":
            serials.append(f"C{len(self.case_serials)}")
            serials += [
                f"X{len(self.case_serials)}-{k}" for k in range(self._loose(caller) // PER_CASE)
            ]
        elif flaw == "existing serial":
            serials[-1] = data.draw(st.sampled_from(self.case_serials[:-count]))
        self._attempt(
            "pack_cases",
            lambda m: m.pack_cases(self.addr[caller], LOT_G, serials),
            lambda: self.ledgers[caller].pack_cases(CASE_GTIN, LOT_G, serials),
        )

    def _cases(self, name: str) -> list[bytes]:
        return [i for i in self._active_roots(name) if self.model.items[i].case]

    @precondition(lambda self: any(self._cases(n) for n in MEMBERS))
    @rule(data=st.data())
    def unpack_cases(self, data: st.DataObject) -> None:
        caller = data.draw(st.sampled_from([n for n in MEMBERS if self._cases(n)]))
        ids = self._some(data, self._cases(caller))
        flaw = self._flaw(data, "not the holder", "not a case")
        if flaw == "not the holder":
            caller = self._other(data, caller)
        elif flaw == "not a case":
            ids = self._strangers(data, besides=ids)
        self._attempt(
            "unpack_cases",
            lambda m: m.unpack_cases(self.addr[caller], ids),
            lambda: self.ledgers[caller].unpack_cases(ids),
            named=ids,
        )

    # ------------------------------------------------------------ recalls

    @precondition(lambda self: self.model.items)
    @rule(data=st.data())
    def recall_or_close(self, data: st.DataObject) -> None:
        """Open a recall of a lot, or close its open one: by the manufacturer or a regulator,
        and a regulator's recall only by a regulator."""
        lot = data.draw(st.sampled_from((*LOTS, LOT_G)))
        open_id = self.model.lots[lot].recall
        by_regulator = (
            bool(open_id) and self.model.recalls[open_id].initiator == self.addr["regulator"]
        )
        flaw = self._flaw(
            data,
            "unauthorized",
            "twice",
            "bad level" if not open_id else "",
            "manufacturer closes a regulator's recall" if by_regulator else "",
        )
        caller = (
            "regulator"
            if by_regulator
            else data.draw(st.sampled_from(("manufacturer", "regulator")))
        )
        if flaw == "unauthorized":
            caller = self._other(data, "manufacturer")
        elif flaw == "manufacturer closes a regulator's recall":
            caller = "manufacturer"
        closing = bool(open_id) != (flaw == "twice")
        if closing:
            closed = [r for r, recall in self.model.recalls.items() if not recall.open]
            recall_id = open_id or data.draw(
                st.sampled_from([*closed, len(self.model.recalls) + 1])
            )
            self._attempt(
                "close_recall",
                lambda m: m.close_recall(self.addr[caller], recall_id),
                lambda: self.ledgers[caller].close_recall(recall_id),
            )
            return
        level = data.draw(st.sampled_from((0, 4)) if flaw == "bad level" else st.integers(1, 3))
        self._attempt(
            "recall",
            lambda m: m.recall(self.addr[caller], lot, level),
            lambda: self.ledgers[caller].recall_lot(
                self.model.lots[lot].key, level=level, reason_hash=keccak(text=lot)
            ),
        )

    # Hypothesis picks uniformly among the enabled rules; a supply chain mostly ships and
    # receives, and stock reaches hospitals (to be dispensed) only through both.
    ship_more = ship
    receive_more = receive
    receive_again = receive
    dispense_more = dispense
    ship_quantities_more = ship_quantities

    # ------------------------------------------------------------ invariants

    @invariant()
    def every_item_has_one_holder_and_packed_items_share_their_roots_state(self) -> None:
        members = {self.addr[n] for n in MEMBERS}
        for i, it in self.model.items.items():
            assert it.holder in members
            if it.parent is not None:
                assert self.model.items[it.parent].children.count(i) == 1
                root = self.model.items[self.model.root_of(i)]
                assert (it.holder, it.status) == (root.holder, root.status)
            assert all(self.model.items[c].parent == i for c in it.children)

    @invariant()
    def lot_quantities_are_conserved_and_the_chain_agrees(self) -> None:
        """Loose units over all holders (Active, Quarantined, in transit) plus the units in
        live cases are what was commissioned less what was dispensed or destroyed; the
        chain's balances and supply are the model's."""
        loose = sum(sum(self.model.balance(LOT_G, self.addr[n])) for n in ACTORS)
        packed = sum(
            it.case for it in self.model.items.values() if it.case and it.status in (A, T, Q)
        )
        assert loose + packed == self.model.supply.get(LOT_G, 0)
        viewer, index = self.ledgers["regulator"], self.lot_index[LOT_G]
        assert viewer.lot_supply(index) == self.model.supply.get(LOT_G, 0)
        for n in ACTORS:
            address = self.addr[n]
            assert list(viewer.lot_balance(index, address)) == self.model.balance(LOT_G, address)

    @invariant()
    def the_chain_agrees_with_the_model(self) -> None:
        """Checks what the last step changed plus one more item in turn; `teardown`
        checks everything, so a stray write is caught by the end of the example at the latest."""
        ids = list(self.model.items)
        if ids:
            self.cursor = (self.cursor + 1) % len(ids)
            self.to_check.add(ids[self.cursor])
        self._check_items(self.to_check)
        for signer in self.signers:
            self._check_nonce(signer)
        self.to_check.clear()
        self.signers.clear()

    def teardown(self) -> None:
        self._check_items(self.model.items)
        for name in MEMBERS:
            self._check_nonce(self.addr[name])
        viewer = self.ledgers["regulator"]
        for shipment_id, s in self.model.shipments.items():
            on_chain = viewer.shipment(shipment_id)
            assert (on_chain.sender, on_chain.receiver, on_chain.status) == (
                s.sender,
                s.receiver,
                s.status,
            )
        for lot in self.model.lots.values():
            record = viewer.lot(lot.key)
            assert record is not None and record.active_recall == lot.recall

    def _check_items(self, ids: Iterable[bytes]) -> None:
        viewer = self.ledgers["regulator"]
        seen: dict[bytes, Any] = {}

        def state(item_id: bytes) -> Any:
            if item_id not in seen:
                seen[item_id] = viewer.item(item_id)
            return seen[item_id]

        for i in ids:
            want = self.model.items[i]
            got = state(i)
            lot_index = 0 if want.lot is None else self.lot_index[want.lot]
            assert (got.holder, got.status, got.parent_id, got.is_container, got.lot_index) == (
                want.holder,
                want.status,
                want.parent,
                want.is_container,
                lot_index,
            ), f"item {i.hex()}"
            root = self.model.root_of(i)
            if root != i:  # a packed item moves with its outermost container
                assert (got.holder, got.status) == (state(root).holder, state(root).status)

    def _check_nonce(self, account: str) -> None:
        nonce = self.ledgers["regulator"].nonce(account)
        assert nonce >= self.seen_nonces.get(account, 0), "a nonce went backwards"
        assert nonce == self.model.nonce(account)
        self.seen_nonces[account] = nonce


CI = os.environ.get("CI") == "true"
SETTINGS = settings(
    max_examples=200 if CI else 25,
    stateful_step_count=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def _run_share(share: int, *, examples: int, warning_filters: list[Any]) -> str | None:
    """Run `examples` of the examples in this worker process and return None, or the failure
    with its traceback and Hypothesis's notes (the steps to reproduce it) as text."""
    # pytest's filters, so that a warning is an error here too
    cast(list[Any], warnings.filters)[:] = warning_filters
    if SETTINGS.derandomize:  # Hypothesis's CI profile: the same examples on every run,
        seed(share)(CustodyMachine)  # and different ones in each share
    try:
        run_state_machine_as_test(
            CustodyMachine, settings=settings(SETTINGS, max_examples=examples)
        )
    except BaseException as exc:
        return "".join(traceback.format_exception(exc))
    return None


def test_random_custody_operations_agree_with_the_reference_model() -> None:
    # The examples are independent, so they are shared among worker processes, one per core,
    # each with its own chain: the same number of examples in half the time on two cores.
    # A worker's main thread also starts with a shallow Python stack. Under pytest's deep
    # stack, CPython 3.11 kept allocating and freeing a frame-stack chunk (an mmap/munmap
    # pair, millions per run) as py-evm's calls crossed a chunk boundary: twice the runtime.
    shares = min(os.cpu_count() or 1, 4)
    examples = -(-SETTINGS.max_examples // shares)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that has threads
    with ProcessPoolExecutor(shares, mp_context=spawn) as pool:
        runs = [
            pool.submit(_run_share, k, examples=examples, warning_filters=list(warnings.filters))
            for k in range(shares)
        ]
        failures = [failure for run in runs if (failure := run.result())]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
