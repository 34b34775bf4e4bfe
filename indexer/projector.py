"""Applies decoded contract events to SQL: one call writes one block range, its blocks,
its processed-log keys and the cursor, inside the caller's transaction.

Event handlers follow the contract's own state rules (see contracts/Items.sol): a
container move is expanded to every item inside it, so `items` always holds what
`Items.itemOf` would answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind, ItemCache
from medledger.indexer.outbox import LedgerEventKind as Ev
from medledger.indexer.outbox import Outbox, celsius
from medledger.indexer.source import BlockRef
from medledger.indexer.undo import UndoWriter
from medledger.sdk.abi import DecodedEvent
from medledger.sdk.model import ItemStatus, MemberStatus, ShipmentStatus

__all__ = ["Projector", "item_keys"]

ACTIVE = int(ItemStatus.ACTIVE)
_LOT_EVENT_KEY = ("block_number", "log_index", "lot_index", "kind")
_ITEM_LIST_ARGS = ("itemIds", "acceptedIds", "rejectedIds", "caseIds")


def item_keys(event: DecodedEvent) -> list[bytes]:
    """Every existing item id an event refers to (commissioned ids are new, so excluded)."""
    if event.name in ("ItemsCommissioned", "CasesPacked"):
        return []
    keys: list[bytes] = []
    for name in _ITEM_LIST_ARGS:
        if name in event.args:
            keys.extend(event.args[name])
    if "containerId" in event.args and event.name != "ContainerCreated":
        keys.append(event.args["containerId"])
    return keys


class Projector:
    """Writes one batch of events (already sorted by block and log index)."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self.undo = UndoWriter(sql)
        self.items = ItemCache(sql)
        self.orgs: dict[str, int] = {
            str(a): int(i) for i, a in sql.rows("SELECT id, address FROM organisations")
        }
        self.next_org = max(self.orgs.values(), default=0) + 1
        self.lots: dict[bytes, int] = {}
        # Units of lot quantities accepted per shipment: ShipmentLotsReceived comes just
        # before its ShipmentReceived, which sets the shipment's status.
        self.lots_accepted: dict[int, int] = {}
        # Lot indexes of a shipment's loose quantities, for its outbox event (the lots'
        # event comes just before ShipmentSent / ShipmentReceived).
        self.lots_moved: dict[int, list[dict[str, Any]]] = {}
        self.outbox = Outbox(sql)
        self._handlers: dict[str, Callable[[DecodedEvent], None]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("_on_")
        }

    # ------------------------------------------------------------ the batch

    def write(
        self,
        events: Sequence[DecodedEvent],
        logs: Sequence[tuple[bytes, int, int, bytes]],
        blocks: Mapping[int, BlockRef],
        end: BlockRef,
    ) -> int:
        """Write `events`, the processed-log keys `logs` (block hash, log index, block
        number, tx hash), the `blocks` they came from and the cursor at `end`; return the
        number of item-event rows written."""
        self.items.load(k for e in events for k in item_keys(e))
        self.outbox.begin({b.number: b.timestamp for b in (*blocks.values(), end)})
        first_ids: dict[int, int] = {}
        for event in events:
            first_ids.setdefault(event.block_number, self.items.next_event_id)
            handler = self._handlers.get(event.name)
            if handler is not None:
                handler(event)
        count = self.items.flush(end.number)
        self.outbox.flush()
        self.undo.flush()
        block_rows = [
            (b.number, b.hash, b.timestamp, first_ids.get(b.number, self.items.next_event_id))
            for b in sorted(blocks.values(), key=lambda b: b.number)
        ]
        if end.number not in blocks:
            block_rows.append((end.number, end.hash, end.timestamp, self.items.next_event_id))
        self.sql.bulk_insert(
            "blocks", ("number", "hash", "timestamp", "first_event_id"), block_rows
        )
        self.sql.bulk_insert(
            "processed_logs", ("block_hash", "log_index", "block_number", "tx_hash"), logs
        )
        if not self.sql.run(
            "UPDATE cursor SET block_number = ?, block_hash = ? WHERE id = 1",
            (end.number, end.hash),
        ):
            self.sql.run(
                "INSERT INTO cursor (id, block_number, block_hash) VALUES (1, ?, ?)",
                (end.number, end.hash),
            )
        return count

    # ------------------------------------------------------------ helpers

    def org(self, address: str, block: int) -> int:
        """The surrogate id of an address, creating a placeholder organisation if unseen."""
        found = self.orgs.get(address)
        if found is not None:
            return found
        org_id = self.next_org
        self.next_org += 1
        self.undo.insert(
            block,
            "organisations",
            {
                "id": org_id,
                "address": address,
                "role": 0,
                "name": "",
                "status": 0,
                "admitted_block": block,
            },
            ("id",),
        )
        self.orgs[address] = org_id
        return org_id

    def lot_index(self, lot_key: bytes) -> int:
        found = self.lots.get(lot_key)
        if found is None:
            found = int(self.sql.one("SELECT lot_index FROM lots WHERE lot_key = ?", (lot_key,)))
            self.lots[lot_key] = found
        return found

    def _move(
        self,
        e: DecodedEvent,
        keys: Sequence[bytes],
        kind: EventKind,
        *,
        holder: int | None = None,
        status: int | None = None,
        shipment: int | None = None,
    ) -> None:
        """Apply a holder/status change to roots `keys` and everything inside them."""
        block, log_index = e.block_number, e.log_index
        for key in keys:
            root = self.items.get(key)
            for item in self.items.subtree(root):
                if holder is not None:
                    item.holder = holder
                if status is not None:
                    item.status = status
                via = None if item is root else root.id
                self.items.record(item, kind, block, log_index, via=via, shipment=shipment)

    def _emit(
        self,
        e: DecodedEvent,
        kind: Ev,
        data: dict[str, Any],
        audience: set[int],
        lots: Sequence[int] = (),
        *,
        makers: bool = False,
        **subject: Any,
    ) -> None:
        self.outbox.chain_event(
            kind,
            block=e.block_number,
            tx_hash=e.transaction_hash,
            log_index=e.log_index,
            data=data,
            audience=audience,
            lots=lots,
            makers=makers,
            **subject,
        )

    def _tree(self, keys: Sequence[bytes]) -> list[Any]:
        return [item for key in keys for item in self.items.subtree(self.items.get(key))]

    def _lot_list(self, lots: Sequence[tuple[bytes, int]]) -> list[dict[str, Any]]:
        return [{"lot_index": self.lot_index(bytes(k)), "quantity": int(q)} for k, q in lots]

    def _lot_data(self, moved: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for m in moved:
            facts = self.outbox.lot(m["lot_index"])
            out.append({"gtin": facts.gtin, "lot": facts.lot, "quantity": m["quantity"]})
        return out

    def _custody_event(self, e: DecodedEvent, kind: Ev, keys: Sequence[bytes]) -> None:
        """item.quarantined / item.released of units: to their holders and manufacturers."""
        tree = self._tree(keys)
        units = [i for i in tree if i.lot_index is not None]
        data: dict[str, Any] = {"by": str(e.args["by"]), "unit_count": len(units)}
        if len(units) == 1:
            data["serial"] = units[0].code
        self._emit(
            e, kind, data, {i.holder for i in tree}, [i.lot_index for i in units], makers=True
        )

    def _lots_custody_event(self, e: DecodedEvent, kind: Ev) -> None:
        moved = self._lot_list(e.args["lots"])
        holder = self.org(str(e.args["holder"]), e.block_number)
        data = {"by": str(e.args["by"]), "holder": str(e.args["holder"])}
        data["lots"] = self._lot_data(moved)  # type: ignore[assignment]
        self._emit(e, kind, data, {holder}, [m["lot_index"] for m in moved], makers=True)

    # ------------------------------------------------------------ Partners

    def _on_MemberAdmitted(self, e: DecodedEvent) -> None:
        a = e.args
        address = str(a["account"])
        if address in self.orgs:
            self.undo.update(
                e.block_number,
                "organisations",
                {"id": self.orgs[address]},
                {"role": int(a["role"]), "name": str(a["name"]), "status": 1},
            )
            return
        org_id = self.next_org
        self.next_org += 1
        row = {
            "id": org_id,
            "address": address,
            "role": int(a["role"]),
            "name": str(a["name"]),
            "status": int(MemberStatus.ACTIVE),
            "admitted_block": e.block_number,
        }
        self.undo.insert(e.block_number, "organisations", row, ("id",))
        self.orgs[address] = org_id

    def _set_member_status(self, e: DecodedEvent, status: MemberStatus) -> None:
        org_id = self.org(str(e.args["account"]), e.block_number)
        self.undo.update(e.block_number, "organisations", {"id": org_id}, {"status": int(status)})

    def _on_MemberSuspended(self, e: DecodedEvent) -> None:
        self._set_member_status(e, MemberStatus.SUSPENDED)

    def _on_MemberReinstated(self, e: DecodedEvent) -> None:
        self._set_member_status(e, MemberStatus.ACTIVE)

    def _on_LicenceAttested(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "organisation_id": self.org(str(a["account"]), e.block_number),
            "kind": int(a["kind"]),
            "class_mask": int(a["classMask"]),
            "valid_until": int(a["validUntil"]),
            "revoked": False,
            "block_number": e.block_number,
            "number": str(a["number"]),
            "authority": str(a["authority"]),
            "scope": ",".join(str(c) for c in a["scope"]),
            "warehouse_address": str(a["warehouseAddress"]),
            "province": str(a["province"]),
        }
        self.undo.upsert(e.block_number, "licences", row, ("organisation_id", "kind"))
        data = {"member": str(a["account"]), "change": "attested", "licence_kind": row["kind"]}
        data["valid_until"] = row["valid_until"]
        self._emit(e, Ev.LICENCE_CHANGED, data, {self.orgs[str(a["account"])]})

    def _on_LicenceRevoked(self, e: DecodedEvent) -> None:
        key = {"organisation_id": self.org(str(e.args["account"]), e.block_number)}
        key["kind"] = int(e.args["kind"])
        self.undo.update(e.block_number, "licences", key, {"revoked": True})
        data = {"member": str(e.args["account"]), "change": "revoked", "licence_kind": key["kind"]}
        self._emit(e, Ev.LICENCE_CHANGED, data, {key["organisation_id"]})

    def _on_CompanyPrefixAssigned(self, e: DecodedEvent) -> None:
        row = {
            "prefix": str(e.args["prefix"]),
            "organisation_id": self.org(str(e.args["account"]), e.block_number),
            "block_number": e.block_number,
        }
        self.undo.upsert(e.block_number, "company_prefixes", row, ("prefix",))

    def _on_PrimaryGlnSet(self, e: DecodedEvent) -> None:
        org_id = self.org(str(e.args["member"]), e.block_number)
        gln = str(e.args["gln"])
        for (old,) in self.sql.rows(
            "SELECT gln FROM sites WHERE organisation_id = ? AND is_primary", (org_id,)
        ):
            self.undo.update(e.block_number, "sites", {"gln": old}, {"is_primary": False})
        values = {"organisation_id": org_id, "is_primary": True, "block_number": e.block_number}
        if not self.undo.update(e.block_number, "sites", {"gln": gln}, values):
            blank = {"name": "", "name_en": "", "address": "", "active": False}
            row = {"gln": gln, **blank, **values}
            self.undo.insert(e.block_number, "sites", row, ("gln",))

    def _on_SiteRegistered(self, e: DecodedEvent) -> None:
        org_id = self.org(str(e.args["member"]), e.block_number)
        gln = str(e.args["gln"])
        values = {
            "organisation_id": org_id,
            "name": str(e.args["name"]),
            "name_en": str(e.args["nameEn"]),
            "address": str(e.args["siteAddress"]),
            "active": True,
            "block_number": e.block_number,
        }
        if not self.undo.update(e.block_number, "sites", {"gln": gln}, values):
            row = {"gln": gln, "is_primary": False, **values}
            self.undo.insert(e.block_number, "sites", row, ("gln",))

    def _on_SiteRetired(self, e: DecodedEvent) -> None:
        key = {"gln": str(e.args["gln"])}
        self.undo.update(e.block_number, "sites", key, {"active": False})

    def _on_ApprovalPolicySet(self, e: DecodedEvent) -> None:
        org_id = self.org(str(e.args["member"]), e.block_number)
        policy = {"approval_policy": int(e.args["policy"])}
        self.undo.update(e.block_number, "organisations", {"id": org_id}, policy)

    def _supplier_file(self, e: DecodedEvent, *, approved: bool) -> None:
        row = {
            "organisation_id": self.org(str(e.args["member"]), e.block_number),
            "supplier_id": self.org(str(e.args["supplier"]), e.block_number),
            "record": bytes(e.args["recordCommitment"]),
            "approved": approved,
            "block_number": e.block_number,
        }
        self.undo.upsert(
            e.block_number, "supplier_approvals", row, ("organisation_id", "supplier_id")
        )

    def _product_file(self, e: DecodedEvent, *, approved: bool) -> None:
        row = {
            "organisation_id": self.org(str(e.args["member"]), e.block_number),
            "gtin": str(e.args["gtin"]),
            "record": bytes(e.args["recordCommitment"]),
            "approved": approved,
            "block_number": e.block_number,
        }
        self.undo.upsert(e.block_number, "product_approvals", row, ("organisation_id", "gtin"))

    def _on_SupplierApproved(self, e: DecodedEvent) -> None:
        self._supplier_file(e, approved=True)

    def _on_SupplierWithdrawn(self, e: DecodedEvent) -> None:
        self._supplier_file(e, approved=False)

    def _on_ProductApproved(self, e: DecodedEvent) -> None:
        self._product_file(e, approved=True)

    def _on_ProductWithdrawn(self, e: DecodedEvent) -> None:
        self._product_file(e, approved=False)

    # ------------------------------------------------------------ Devices

    def _on_ProductRegistered(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "gtin": _gtin(a["gtin"]),
            "manufacturer_id": self.org(str(a["manufacturer"]), e.block_number),
            "device_class": int(a["deviceClass"]),
            "temp_min": int(a["tempMin"]),
            "temp_max": int(a["tempMax"]),
            "certificate_hash": bytes(a["certificateHash"]),
            "registration_expiry": int(a["registrationExpiry"]),
            "block_number": e.block_number,
            "serialised": True,  # until a ProductTracking event says otherwise
        }
        self.undo.upsert(e.block_number, "products", row, ("gtin",))

    def _on_RegistrationRenewed(self, e: DecodedEvent) -> None:
        a = e.args
        self.undo.update(
            e.block_number,
            "products",
            {"gtin": _gtin(a["gtin"])},
            {
                "certificate_hash": bytes(a["certificateHash"]),
                "registration_expiry": int(a["registrationExpiry"]),
            },
        )

    def _on_ProductTracking(self, e: DecodedEvent) -> None:
        self.undo.update(
            e.block_number,
            "products",
            {"gtin": _gtin(e.args["gtin"])},
            {"serialised": bool(e.args["serialised"])},
        )

    def _on_PackageLevelRegistered(self, e: DecodedEvent) -> None:
        a = e.args
        child = _gtin(a["childGtin"])
        quantity = int(a["quantity"])
        # The contract resolves a child package to its unit product the same way.
        inner = self.undo.select("package_levels", {"package_gtin": child})
        base, units = (child, 1) if inner is None else (inner["base_gtin"], inner["base_quantity"])
        row = {
            "package_gtin": _gtin(a["packageGtin"]),
            "child_gtin": child,
            "quantity": quantity,
            "base_gtin": base,
            "base_quantity": int(units) * quantity,
            "block_number": e.block_number,
        }
        self.undo.insert(e.block_number, "package_levels", row, ("package_gtin",))

    def _on_MasterDataAnchored(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "gtin": _gtin(a["gtin"]),
            "version": int(a["version"]),
            "master_hash": bytes(a["masterHash"]),
            "block_number": e.block_number,
            "tx_hash": e.transaction_hash,
        }
        self.undo.insert(e.block_number, "product_master_versions", row, ("gtin", "version"))

    def _on_LotRegistered(self, e: DecodedEvent) -> None:
        a = e.args
        row: dict[str, Any] = {
            "lot_index": int(a["lotIndex"]),
            "lot_key": bytes(a["lotKey"]),
            "gtin": _gtin(a["gtin"]),
            "lot_number": str(a["lot"]),
            "production_date": int(a["productionDate"]),
            "expiry": int(a["expiry"]),
            "qc_release_hash": bytes(a["qcReleaseHash"]),
            "active_recall": 0,
            "block_number": e.block_number,
        }
        self.undo.insert(e.block_number, "lots", row, ("lot_index",))
        self.lots[row["lot_key"]] = row["lot_index"]

    def _on_RecallOpened(self, e: DecodedEvent) -> None:
        a = e.args
        lot_index = self.lot_index(bytes(a["lotKey"]))
        row = {
            "id": int(a["recallId"]),
            "lot_index": lot_index,
            "initiator_id": self.org(str(a["initiator"]), e.block_number),
            "level": int(a["level"]),
            "reason_hash": bytes(a["reasonHash"]),
            "opened_block": e.block_number,
            "closed_block": None,
            "opened_tx_hash": e.transaction_hash,
            "opened_log_index": e.log_index,
        }
        self.undo.insert(e.block_number, "recalls", row, ("id",))
        self.undo.update(
            e.block_number, "lots", {"lot_index": lot_index}, {"active_recall": row["id"]}
        )
        data = {"recall_id": row["id"], "level": row["level"], "initiator": str(a["initiator"])}
        self._recall_event(e, Ev.RECALL_ISSUED, data, lot_index, self.orgs[str(a["initiator"])])

    def _recall_event(
        self, e: DecodedEvent, kind: Ev, data: dict[str, Any], lot_index: int, by: int
    ) -> None:
        """To the manufacturer, the acting member and every holder the lot reached."""
        self._emit(e, kind, data, {by}, [lot_index], makers=True)
        self.outbox.pending[-1].reach_lot = lot_index

    def _on_RecallClosed(self, e: DecodedEvent) -> None:
        recall_id = int(e.args["recallId"])
        lot_index = self.lot_index(bytes(e.args["lotKey"]))
        self.undo.update(
            e.block_number, "recalls", {"id": recall_id}, {"closed_block": e.block_number}
        )
        self.undo.update(e.block_number, "lots", {"lot_index": lot_index}, {"active_recall": 0})
        by = str(e.args["by"])
        data = {"recall_id": recall_id, "by": by}
        self._recall_event(e, Ev.RECALL_CLOSED, data, lot_index, self.org(by, e.block_number))

    def _on_RecallUpdated(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "recall_id": int(a["recallId"]),
            "version": int(a["version"]),
            "commitment": bytes(a["noticeCommitment"]),
            "by_id": self.org(str(a["by"]), e.block_number),
            "block_number": e.block_number,
            "tx_hash": e.transaction_hash,
        }
        self.undo.insert(e.block_number, "recall_notice_versions", row, ("recall_id", "version"))
        recall = self.undo.select("recalls", {"id": row["recall_id"]})
        if recall is not None:
            data = {"recall_id": row["recall_id"], "version": row["version"], "by": str(a["by"])}
            lot = int(recall["lot_index"])
            self._recall_event(e, Ev.RECALL_UPDATED, data, lot, self.orgs[str(a["by"])])

    def _on_RecallAcknowledged(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "block_number": e.block_number,
            "log_index": e.log_index,
            "recall_id": int(a["recallId"]),
            "holder_id": self.org(str(a["holder"]), e.block_number),
            "commitment": bytes(a["commitment"]),
            "tx_hash": e.transaction_hash,
        }
        self.undo.insert(e.block_number, "recall_ack_events", row, ("block_number", "log_index"))

    # ------------------------------------------------------------ Items

    def _on_ItemsCommissioned(self, e: DecodedEvent) -> None:
        a = e.args
        lot_index = self.lot_index(bytes(a["lotKey"]))
        holder = self.org(str(a["manufacturer"]), e.block_number)
        create, record = self.items.create, self.items.record
        for key, serial in zip(a["itemIds"], a["serials"], strict=True):
            item = create(key, is_container=False, lot_index=lot_index, code=serial, holder=holder)
            record(item, EventKind.COMMISSIONED, e.block_number, e.log_index)

    def _on_ContainerCreated(self, e: DecodedEvent) -> None:
        a = e.args
        holder = self.org(str(a["owner"]), e.block_number)
        item = self.items.create(
            bytes(a["containerId"]),
            is_container=True,
            lot_index=None,
            code=str(a["sscc"]),
            holder=holder,
        )
        self.items.record(item, EventKind.CONTAINER_CREATED, e.block_number, e.log_index)

    def _on_ItemsPacked(self, e: DecodedEvent) -> None:
        container = self.items.get(bytes(e.args["containerId"]))
        assert container.children is not None
        self.items.record(container, EventKind.PACKED, e.block_number, e.log_index)
        for key in e.args["itemIds"]:
            child = self.items.get(key)
            child.parent = container.id
            container.children.append(child.id)
            for item in self.items.subtree(child):
                self.items.record(
                    item, EventKind.PACKED, e.block_number, e.log_index, via=container.id
                )

    def _on_ItemsUnpacked(self, e: DecodedEvent) -> None:
        container = self.items.get(bytes(e.args["containerId"]))
        holder = self.org(str(e.args["holder"]), e.block_number)
        self.items.record(container, EventKind.UNPACKED, e.block_number, e.log_index)
        for key in e.args["itemIds"]:
            child = self.items.get(key)
            child.parent = None
            for item in self.items.subtree(child):
                item.holder = holder
                item.status = ACTIVE
                self.items.record(
                    item, EventKind.UNPACKED, e.block_number, e.log_index, via=container.id
                )
        container.children = []

    def _on_ShipmentSent(self, e: DecodedEvent) -> None:
        a = e.args
        shipment_id = int(a["shipmentId"])
        row = {
            "id": shipment_id,
            "sender_id": self.org(str(a["sender"]), e.block_number),
            "receiver_id": self.org(str(a["receiver"]), e.block_number),
            "status": int(ShipmentStatus.IN_TRANSIT),
            "item_count": len(a["itemIds"]),
            "document_hash": bytes(a["documentHash"]),
            "sent_block": e.block_number,
        }
        self.undo.insert(e.block_number, "shipments", row, ("id",))
        moved = self.lots_moved.pop(shipment_id, [])
        lots = [i.lot_index for i in self._tree(a["itemIds"]) if i.lot_index is not None]
        data = {
            "shipment_id": shipment_id,
            "sender": str(a["sender"]),
            "receiver": str(a["receiver"]),
            "item_count": row["item_count"],
            "lot_quantities": self._lot_data(moved),
        }
        self._emit(
            e,
            Ev.SHIPMENT_INBOUND,
            data,
            {self.orgs[str(a["sender"])], self.orgs[str(a["receiver"])]},
            [*lots, *(m["lot_index"] for m in moved)],
            shipment_id=shipment_id,
            counterparty=str(a["sender"]),
        )
        self._move(
            e,
            a["itemIds"],
            EventKind.SHIPPED,
            status=int(ItemStatus.IN_TRANSIT),
            shipment=shipment_id,
        )

    def _on_ShipmentReceived(self, e: DecodedEvent) -> None:
        a = e.args
        shipment_id = int(a["shipmentId"])
        receiver = self.org(str(a["receiver"]), e.block_number)
        accepted, rejected = a["acceptedIds"], a["rejectedIds"]
        status = int(ItemStatus.QUARANTINED) if a["quarantined"] else ACTIVE
        self._move(
            e, accepted, EventKind.RECEIVED, holder=receiver, status=status, shipment=shipment_id
        )
        self._move(e, rejected, EventKind.REJECTED, status=ACTIVE, shipment=shipment_id)
        accepted_units = self.lots_accepted.pop(shipment_id, 0)
        any_accepted = bool(accepted) or accepted_units > 0
        self._receipt_events(e, any_accepted=any_accepted, accepted_units=accepted_units)
        self.undo.update(
            e.block_number,
            "shipments",
            {"id": shipment_id},
            {
                "status": int(ShipmentStatus.RECEIVED if any_accepted else ShipmentStatus.REJECTED),
                "settled_block": e.block_number,
                "accepted_count": len(accepted),
                "rejected_count": len(rejected),
                "temp_min": int(a["tempMin"]),
                "temp_max": int(a["tempMax"]),
                "excursion_seconds": int(a["excursionSeconds"]),
                "quarantined": bool(a["quarantined"]),
            },
        )

    def _receipt_events(self, e: DecodedEvent, *, any_accepted: bool, accepted_units: int) -> None:
        """shipment.received and/or .rejected (to both parties), and alert.cold_chain on an
        excursion or a quarantine at receipt (also to the lots' manufacturers)."""
        a = e.args
        shipment_id = int(a["shipmentId"])
        moved = self.lots_moved.pop(shipment_id, [])
        tree = self._tree([*a["acceptedIds"], *a["rejectedIds"]])
        lots = [*(i.lot_index for i in tree if i.lot_index is not None)]
        lots += [m["lot_index"] for m in moved]
        parties = {self.org(str(a["receiver"]), e.block_number)}
        parties.add(self.org(str(a["sender"]), e.block_number))
        rejected_units = sum(m["quantity"] for m in moved) - accepted_units
        data: dict[str, Any] = {
            "shipment_id": shipment_id,
            "sender": str(a["sender"]),
            "receiver": str(a["receiver"]),
            "accepted_count": len(a["acceptedIds"]),
            "rejected_count": len(a["rejectedIds"]),
            "accepted_quantity": accepted_units,
            "rejected_quantity": rejected_units,
            "temperature": {"min": celsius(int(a["tempMin"])), "max": celsius(int(a["tempMax"]))},
            "excursion": {"value": int(a["excursionSeconds"]), "unit": "s"},
            "quarantined": bool(a["quarantined"]),
        }
        subject: dict[str, Any] = {"shipment_id": shipment_id, "counterparty": str(a["sender"])}
        if any_accepted:
            self._emit(e, Ev.SHIPMENT_RECEIVED, data, parties, lots, **subject)
        if a["rejectedIds"] or rejected_units > 0:
            self._emit(e, Ev.SHIPMENT_REJECTED, dict(data), parties, lots, **subject)
        if int(a["excursionSeconds"]) > 0 or bool(a["quarantined"]):
            self._emit(e, Ev.ALERT_COLD_CHAIN, dict(data), parties, lots, makers=True, **subject)

    def _on_ShipmentCancelled(self, e: DecodedEvent) -> None:
        shipment_id = int(e.args["shipmentId"])
        shipment = self.undo.select("shipments", {"id": shipment_id})
        if shipment is not None:
            sender = str(e.args["sender"])
            parties = {int(shipment["sender_id"]), int(shipment["receiver_id"])}
            tree = self._tree(e.args["itemIds"])
            lots = [i.lot_index for i in tree if i.lot_index is not None]
            data = {"shipment_id": shipment_id, "sender": sender}
            self._emit(
                e,
                Ev.SHIPMENT_CANCELLED,
                data,
                parties,
                lots,
                shipment_id=shipment_id,
                counterparty=sender,
            )
        self._move(e, e.args["itemIds"], EventKind.CANCELLED, status=ACTIVE, shipment=shipment_id)
        self.undo.update(
            e.block_number,
            "shipments",
            {"id": shipment_id},
            {"status": int(ShipmentStatus.CANCELLED), "settled_block": e.block_number},
        )

    def _on_ItemsDispensed(self, e: DecodedEvent) -> None:
        self._move(e, e.args["itemIds"], EventKind.DISPENSED, status=int(ItemStatus.DISPENSED))

    def _on_ItemsQuarantined(self, e: DecodedEvent) -> None:
        self._move(e, e.args["itemIds"], EventKind.QUARANTINED, status=int(ItemStatus.QUARANTINED))
        self._custody_event(e, Ev.ITEM_QUARANTINED, e.args["itemIds"])

    def _on_ItemsReleased(self, e: DecodedEvent) -> None:
        self._move(e, e.args["itemIds"], EventKind.RELEASED, status=ACTIVE)
        self._custody_event(e, Ev.ITEM_RELEASED, e.args["itemIds"])

    def _on_ItemsDestroyed(self, e: DecodedEvent) -> None:
        self._move(e, e.args["itemIds"], EventKind.DESTROYED, status=int(ItemStatus.DESTROYED))

    # ------------------------------------------------------------ custody by quantity

    def _on_LotBalance(self, e: DecodedEvent) -> None:
        """The holder's balance after the change, absolute: an upsert, whatever changed it."""
        a = e.args
        key = {
            "lot_index": int(a["lotIndex"]),
            "organisation_id": self.org(str(a["holder"]), e.block_number),
        }
        values = {
            "active": int(a["active"]),
            "quarantined": int(a["quarantined"]),
            "in_transit": int(a["inTransit"]),
            "updated_block": e.block_number,
        }
        if not self.undo.update(e.block_number, "lot_balances", key, values):
            self.undo.insert(
                e.block_number, "lot_balances", {**key, **values}, ("lot_index", "organisation_id")
            )

    def _lot_events(
        self,
        e: DecodedEvent,
        kind: EventKind,
        lots: Sequence[tuple[bytes, int]],
        *,
        holder: str | None = None,
        shipment_id: int | None = None,
    ) -> None:
        """One `lot_events` row per lot of a lot event (the history behind `lot_balances`)."""
        holder_id = None if holder is None else self.org(holder, e.block_number)
        for key, quantity in lots:
            row = {
                "block_number": e.block_number,
                "log_index": e.log_index,
                "lot_index": self.lot_index(bytes(key)),
                "kind": int(kind),
                "quantity": int(quantity),
                "holder_id": holder_id,
                "shipment_id": shipment_id,
            }
            self.undo.insert(e.block_number, "lot_events", row, _LOT_EVENT_KEY)

    def _on_LotCommissioned(self, e: DecodedEvent) -> None:
        a = e.args
        lots = [(a["lotKey"], a["quantity"])]
        self._lot_events(e, EventKind.COMMISSIONED, lots, holder=str(a["manufacturer"]))

    def _on_ShipmentLotsSent(self, e: DecodedEvent) -> None:
        shipment_id = int(e.args["shipmentId"])
        self.lots_moved[shipment_id] = self._lot_list(e.args["lots"])
        self._lot_events(e, EventKind.SHIPPED, e.args["lots"], shipment_id=shipment_id)

    def _on_ShipmentLotsReceived(self, e: DecodedEvent) -> None:
        shipment_id = int(e.args["shipmentId"])
        accepted = sum(int(quantity) for _, quantity in e.args["accepted"])
        self.lots_accepted[shipment_id] = accepted
        self.lots_moved[shipment_id] = self._lot_list([*e.args["accepted"], *e.args["rejected"]])
        self._lot_events(e, EventKind.RECEIVED, e.args["accepted"], shipment_id=shipment_id)
        self._lot_events(e, EventKind.REJECTED, e.args["rejected"], shipment_id=shipment_id)

    def _on_LotsDispensed(self, e: DecodedEvent) -> None:
        a = e.args
        self._lot_events(e, EventKind.DISPENSED, a["lots"], holder=str(a["holder"]))

    def _on_LotsQuarantined(self, e: DecodedEvent) -> None:
        a = e.args
        self._lot_events(e, EventKind.QUARANTINED, a["lots"], holder=str(a["holder"]))
        self._lots_custody_event(e, Ev.ITEM_QUARANTINED)

    def _on_LotsReleased(self, e: DecodedEvent) -> None:
        a = e.args
        self._lot_events(e, EventKind.RELEASED, a["lots"], holder=str(a["holder"]))
        self._lots_custody_event(e, Ev.ITEM_RELEASED)

    def _on_LotsDestroyed(self, e: DecodedEvent) -> None:
        a = e.args
        self._lot_events(e, EventKind.DESTROYED, a["lots"], holder=str(a["holder"]))

    def _on_CasesPacked(self, e: DecodedEvent) -> None:
        a = e.args
        lot_index = self.lot_index(bytes(a["lotKey"]))
        holder = self.org(str(a["holder"]), e.block_number)
        package_gtin = bytes(a["packageGtin"]).decode()
        for key, serial in zip(a["caseIds"], a["serials"], strict=True):
            item = self.items.create(
                bytes(key), is_container=False, lot_index=lot_index, code=serial, holder=holder
            )
            self.items.record(item, EventKind.COMMISSIONED, e.block_number, e.log_index)
            row = {"item_id": item.id, "package_gtin": package_gtin, "quantity": int(a["quantity"])}
            self.undo.insert(e.block_number, "case_contents", row, ("item_id",))

    def _on_CasesUnpacked(self, e: DecodedEvent) -> None:
        self._move(e, e.args["caseIds"], EventKind.UNPACKED, status=int(ItemStatus.UNPACKED))

    # ------------------------------------------------------------ Records

    def _on_AdverseEventReported(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "id": int(a["reportId"]),
            "subject": bytes(a["subjectId"]),
            "reporter_id": self.org(str(a["reporter"]), e.block_number),
            "severity": int(a["severity"]),
            "report_hash": bytes(a["reportHash"]),
            "block_number": e.block_number,
        }
        self.undo.insert(e.block_number, "adverse_events", row, ("id",))

    def _on_DocumentAnchored(self, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "document_hash": bytes(a["documentHash"]),
            "subject": bytes(a["subjectId"]),
            "organisation_id": self.org(str(a["by"]), e.block_number),
            "kind": int(a["kind"]),
            "block_number": e.block_number,
        }
        self.undo.insert(e.block_number, "documents", row, ("document_hash",))


def _gtin(value: Any) -> str:
    """A bytes14 GTIN as its 14-digit string."""
    return bytes(value).decode("ascii") if isinstance(value, bytes | bytearray) else str(value)
