"""Typed Python bindings for the contract suite: `Ledger` is one member's handle on it.

A caller writes `ledger.ship(receiver, ids)` and gets a `TxResult` with the decoded events
and the operation's value (a shipment id, item ids, a lot key), or a `ContractError` named
after the Solidity custom error, never raw ABI.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import TxReceipt

from medledger.sdk import gs1
from medledger.sdk.abi import AbiCodec, DecodedEvent
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import CONTRACT_NAMES, Deployment
from medledger.sdk.errors import ContractError, MedLedgerError
from medledger.sdk.messages import (
    CancelOrder,
    Domain,
    LotQuantity,
    ReceiveOrder,
    ShipOrder,
    sign_order,
    sorted_lots,
)
from medledger.sdk.model import (
    ApprovalPolicy,
    ItemState,
    ItemStatus,
    Licence,
    LotRecord,
    Member,
    MemberStatus,
    PackageLevelRecord,
    ProductRecord,
    Role,
    ShipmentState,
    ShipmentStatus,
)
from medledger.sdk.transactions import (
    RECEIPT_TIMEOUT,
    account_lock,
    await_own_pending,
    send_transaction,
)

__all__ = ["REVERTS", "Ledger", "TxResult", "case_id", "revert_data"]

T = TypeVar("T")
# What web3 raises for a JSON-RPC error answering a reverted call or gas estimate.
REVERTS = (ContractCustomError, ContractLogicError, ContractPanicError)
ZERO32 = bytes(32)
DEFAULT_DEADLINE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class TxResult(Generic[T]):
    value: T
    receipt: TxReceipt
    events: list[DecodedEvent]

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])

    def event(self, name: str) -> dict[str, Any]:
        """The arguments of the first event called `name`."""
        for e in self.events:
            if e.name == name:
                return e.args
        raise KeyError(f"no {name} event in transaction {self.receipt['transactionHash'].hex()}")


class Ledger:
    """The contract suite as seen by one member account."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        account: LocalAccount,
        *,
        artifacts: dict[str, ContractArtifact] | None = None,
    ) -> None:
        arts = artifacts or load_artifacts()
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        self.codec = AbiCodec({name: arts[name].abi for name in CONTRACT_NAMES})
        self._c: dict[str, Contract] = {
            name: w3.eth.contract(address=deployment.address_of(name), abi=arts[name].abi)  # type: ignore[call-overload]
            for name in CONTRACT_NAMES
        }
        self.domain = Domain(deployment.chain_id, deployment.items)
        # How long a send waits for its receipt before `TransactionPending`.
        self.receipt_timeout = RECEIPT_TIMEOUT

    @property
    def address(self) -> str:
        return str(self.account.address)

    def as_member(self, account: LocalAccount) -> Ledger:
        """The same deployment, acting as another member."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.account = account
        return clone

    # ------------------------------------------------------------ partners

    def admit(self, account: str, role: Role, name: str) -> TxResult[None]:
        return self._send("Partners", "admit", account, int(role), name)

    def suspend(self, account: str, *, reason_hash: bytes = ZERO32) -> TxResult[None]:
        return self._send("Partners", "suspend", account, reason_hash)

    def reinstate(self, account: str) -> TxResult[None]:
        return self._send("Partners", "reinstate", account)

    def attest_licence(
        self,
        account: str,
        *,
        kind: int,
        number: str,
        class_mask: int,
        valid_until: int,
        authority: str = "",
        scope: Sequence[str] = (),
        warehouse_address: str = "",
        province: str = "",
    ) -> TxResult[None]:
        """Attest (or renew) a licence with its public registration data in clear."""
        terms = (
            number,
            class_mask,
            valid_until,
            authority,
            list(scope),
            warehouse_address,
            province,
        )
        return self._send("Partners", "attestLicence", account, int(kind), terms)

    def set_approval_policy(self, policy: ApprovalPolicy) -> TxResult[None]:
        """What happens to goods from unapproved suppliers or of unapproved products."""
        return self._send("Partners", "setApprovalPolicy", int(policy))

    def approve_supplier(self, supplier: str, *, record: bytes) -> TxResult[None]:
        """Add `supplier` to the approved-supplier file (首营企业), with the commitment of
        the sealed qualification record."""
        return self._send("Partners", "approveSupplier", supplier, record)

    def withdraw_supplier(self, supplier: str, *, record: bytes = ZERO32) -> TxResult[None]:
        return self._send("Partners", "withdrawSupplier", supplier, record)

    def approve_product(self, gtin: str, *, record: bytes) -> TxResult[None]:
        """Add product `gtin` to the approved-product file (首营品种)."""
        return self._send("Partners", "approveProduct", gtin, record)

    def withdraw_product(self, gtin: str, *, record: bytes = ZERO32) -> TxResult[None]:
        return self._send("Partners", "withdrawProduct", gtin, record)

    def approval_policy(self, member: str) -> ApprovalPolicy:
        return ApprovalPolicy(self._call("Partners", "approvalPolicyOf", member))

    def supplier_approval(self, member: str, supplier: str) -> bytes | None:
        """The record commitment behind `member`'s approval of `supplier`, or None."""
        record = bytes(self._call("Partners", "supplierApproval", member, supplier))
        return record if any(record) else None

    def product_approval(self, member: str, gtin: str) -> bytes | None:
        record = bytes(self._call("Partners", "productApproval", member, gtin.encode("ascii")))
        return record if any(record) else None

    def revoke_licence(self, account: str, *, kind: int) -> TxResult[None]:
        return self._send("Partners", "revokeLicence", account, int(kind))

    def assign_company_prefix(self, account: str, prefix: str) -> TxResult[None]:
        return self._send("Partners", "assignCompanyPrefix", account, prefix)

    def set_primary_gln(self, account: str, gln: str) -> TxResult[None]:
        """Regulator only: the member's primary GLN (its legal entity's location)."""
        return self._send("Partners", "setPrimaryGln", account, gln)

    def register_site(
        self, gln: str, *, name: str, name_en: str = "", address: str = ""
    ) -> TxResult[None]:
        """One of the caller's own sites (warehouse, plant, pharmacy) under its GLN."""
        return self._send("Partners", "registerSite", gln, name, name_en, address)

    def retire_site(self, gln: str) -> TxResult[None]:
        return self._send("Partners", "retireSite", gln)

    def gln_owner(self, gln: str) -> tuple[str, bool]:
        """The member owning `gln` (the zero address if none), and whether it is a site."""
        owner, site = self._call("Partners", "glnOwner", gln)
        return str(owner), bool(site)

    def primary_gln(self, account: str) -> str | None:
        return str(self._call("Partners", "primaryGlnOf", account)) or None

    def grant_relayer(self, account: str) -> TxResult[None]:
        """Admin only: let `account` relay members' signed custody orders."""
        return self._send("Partners", "grantRole", self._relayer_role(), account)

    def revoke_relayer(self, account: str) -> TxResult[None]:
        return self._send("Partners", "revokeRole", self._relayer_role(), account)

    def may_relay(self, account: str) -> bool:
        return bool(self._call("Partners", "mayRelay", account))

    def may_transact(self, account: str) -> bool:
        """Whether the node admits transactions from `account`."""
        return bool(self._call("Partners", "mayTransact", account))

    def _relayer_role(self) -> bytes:
        return bytes(self._call("Partners", "RELAYER_ROLE"))

    def begin_admin_transfer(self, new_admin: str) -> TxResult[None]:
        return self._send("Partners", "beginDefaultAdminTransfer", new_admin)

    def accept_admin_transfer(self) -> TxResult[None]:
        return self._send("Partners", "acceptDefaultAdminTransfer")

    def member(self, account: str) -> Member:
        role, status, admitted_at = self._call("Partners", "memberOf", account)
        return Member(Role(role), MemberStatus(status), admitted_at)

    def licence(self, account: str, kind: int) -> Licence:
        number, mask, valid_until, authority, scope, address, province = self._call(
            "Partners", "licenceOf", account, int(kind)
        )
        return Licence(number, mask, valid_until, authority, tuple(scope), address, province)

    def is_active(self, account: str) -> bool:
        return bool(self._call("Partners", "isActive", account))

    def is_qualified(self, account: str, device_class: int) -> bool:
        return bool(self._call("Partners", "isQualified", account, device_class))

    def prefix_owner(self, prefix: str) -> str:
        return str(self._call("Partners", "prefixOwner", prefix))

    def admin(self) -> str:
        return str(self._call("Partners", "defaultAdmin"))

    # ------------------------------------------------------------ devices

    def register_product(
        self,
        gtin: str,
        *,
        company_prefix: str,
        device_class: int,
        certificate_hash: bytes,
        registration_expiry: int,
        temp_min: int,
        temp_max: int,
        serialised: bool = True,
    ) -> TxResult[None]:
        """Register a product; `serialised=False` registers one tracked by lot only."""
        args = (gtin, company_prefix, device_class, certificate_hash, registration_expiry)
        if serialised:
            return self._send("Devices", "registerProduct", *args, temp_min, temp_max)
        return self._send("Devices", "registerProductTracked", *args, temp_min, temp_max, False)

    def register_package_level(
        self, package_gtin: str, *, child_gtin: str, quantity: int
    ) -> TxResult[None]:
        """Register `package_gtin` as a package of `quantity` x `child_gtin`."""
        return self._send("Devices", "registerPackageLevel", package_gtin, child_gtin, quantity)

    def update_master_data(self, gtin: str, master_hash: bytes) -> TxResult[int]:
        """Anchor a new master-data version; the value is the version number."""
        result = self._send("Devices", "updateMasterData", gtin, master_hash)
        return _with_value(result, int(result.event("MasterDataAnchored")["version"]))

    def package_level(self, package_gtin: str) -> PackageLevelRecord | None:
        child, quantity, base, base_quantity = self._call(
            "Devices", "packageOf", package_gtin.encode()
        )
        if quantity == 0:
            return None
        return PackageLevelRecord(
            package_gtin, bytes(child).decode(), quantity, bytes(base).decode(), base_quantity
        )

    def master_data(self, gtin: str) -> tuple[int, bytes]:
        """The current master-data anchor: (version, hash); version 0 when none."""
        version, master_hash = self._call("Devices", "masterDataOf", gtin.encode())
        return int(version), bytes(master_hash)

    def renew_registration(
        self, gtin: str, *, certificate_hash: bytes, registration_expiry: int
    ) -> TxResult[None]:
        return self._send(
            "Devices", "renewRegistration", gtin, certificate_hash, registration_expiry
        )

    def register_lot(
        self,
        gtin: str,
        lot: str,
        *,
        production_date: int,
        expiry: int,
        qc_release_hash: bytes = ZERO32,
    ) -> TxResult[bytes]:
        """Register a lot; the value is its lot key."""
        result = self._send(
            "Devices", "registerLot", gtin, lot, production_date, expiry, qc_release_hash
        )
        return _with_value(result, bytes(result.event("LotRegistered")["lotKey"]))

    def recall_lot(self, lot_key: bytes, *, level: int, reason_hash: bytes) -> TxResult[int]:
        """Open a recall; the value is the recall id."""
        result = self._send("Devices", "recallLot", lot_key, level, reason_hash)
        return _with_value(result, int(result.event("RecallOpened")["recallId"]))

    def close_recall(self, recall_id: int, *, outcome_hash: bytes = ZERO32) -> TxResult[None]:
        return self._send("Devices", "closeRecall", recall_id, outcome_hash)

    def update_recall(self, recall_id: int, *, notice_commitment: bytes) -> TxResult[int]:
        """Publish a new version of an open recall's notice; the value is its version."""
        result = self._send("Devices", "updateRecall", recall_id, notice_commitment)
        return _with_value(result, int(result.event("RecallUpdated")["version"]))

    def acknowledge_recall(self, recall_id: int, *, commitment: bytes) -> TxResult[None]:
        """Acknowledge an open recall's notice as a holder, signed by this account."""
        return self._send("Devices", "acknowledgeRecall", recall_id, commitment)

    def recall_notice_version(self, recall_id: int) -> int:
        return int(self._call("Devices", "recallNoticeVersion", recall_id))

    def product(self, gtin: str) -> ProductRecord | None:
        (manufacturer, cls, tmin, tmax, expiry, serialised), cert = self._call(
            "Devices", "productOf", gtin
        )
        if int(manufacturer, 16) == 0:
            return None
        return ProductRecord(manufacturer, cls, tmin, tmax, expiry, bytes(cert), serialised)

    def lot(self, lot_key: bytes) -> LotRecord | None:
        (gtin, production, expiry, recall), index = self._call("Devices", "lotOf", lot_key)
        if index == 0:
            return None
        return LotRecord(index, bytes(gtin).decode(), production, expiry, recall)

    def lot_manufacturer(self, lot_index: int) -> str:
        """The manufacturer of the lot at `lot_index` (Devices.lotFacts)."""
        return str(self._call("Devices", "lotFacts", lot_index)[0])

    def recall(self, recall_id: int) -> dict[str, Any]:
        lot_key, lot_index, level, is_open, initiator = self._call("Devices", "recallOf", recall_id)
        return {
            "lot_key": bytes(lot_key),
            "lot_index": lot_index,
            "level": level,
            "open": is_open,
            "initiator": initiator,
        }

    # ------------------------------------------------------------ items

    def commission(self, lot_key: bytes, serials: Sequence[str]) -> TxResult[list[bytes]]:
        """Commission units; the value is their item ids, in order."""
        result = self._send("Items", "commission", lot_key, list(serials))
        ids = [bytes(i) for i in result.event("ItemsCommissioned")["itemIds"]]
        return _with_value(result, ids)

    def create_container(self, sscc: str, *, company_prefix: str) -> TxResult[bytes]:
        result = self._send("Items", "createContainer", sscc, company_prefix)
        return _with_value(result, bytes(result.event("ContainerCreated")["containerId"]))

    def pack(self, container_id: bytes, child_ids: Sequence[bytes]) -> TxResult[None]:
        return self._send("Items", "pack", container_id, list(child_ids))

    def unpack(self, container_id: bytes) -> TxResult[list[bytes]]:
        result = self._send("Items", "unpack", container_id)
        return _with_value(result, [bytes(i) for i in result.event("ItemsUnpacked")["itemIds"]])

    def sign_ship(
        self,
        receiver: str,
        item_ids: Sequence[bytes],
        *,
        document_hash: bytes = ZERO32,
        lots: Sequence[LotQuantity] = (),
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> tuple[ShipOrder, bytes]:
        """A Ship order signed by this member, for anyone to relay; `lots` are loose lot
        quantities, signed in the ascending lot key order the contract wants."""
        order = ShipOrder(
            sender=self.address,
            receiver=receiver,
            itemIds=tuple(item_ids),
            lots=sorted_lots(lots),
            documentHash=document_hash,
            nonce=self.nonce() if nonce is None else nonce,
            deadline=self._deadline(deadline),
        )
        return order, sign_order(self.account, order, self.domain)

    def relay_ship(self, order: ShipOrder, signature: bytes) -> TxResult[int]:
        """Submit a signed Ship order; the value is the shipment id."""
        result = self._send("Items", "ship", order.as_tuple(), signature)
        return _with_value(result, int(result.event("ShipmentSent")["shipmentId"]))

    def ship(
        self,
        receiver: str,
        item_ids: Sequence[bytes],
        *,
        document_hash: bytes = ZERO32,
        lots: Sequence[LotQuantity] = (),
    ) -> TxResult[int]:
        """Sign and submit a shipment of root items and loose lot quantities to `receiver`."""
        with self._in_order():
            return self.relay_ship(
                *self.sign_ship(receiver, item_ids, document_hash=document_hash, lots=lots)
            )

    def sign_receive(
        self,
        shipment_id: int,
        *,
        temp_min: int,
        temp_max: int,
        rejected_ids: Sequence[bytes] = (),
        excursion_seconds: int = 0,
        inspection_hash: bytes = ZERO32,
        rejected_lots: Sequence[LotQuantity] = (),
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> tuple[ReceiveOrder, bytes]:
        order = ReceiveOrder(
            receiver=self.address,
            shipmentId=shipment_id,
            rejectedIds=tuple(rejected_ids),
            rejectedLots=sorted_lots(rejected_lots),
            tempMin=temp_min,
            tempMax=temp_max,
            excursionSeconds=excursion_seconds,
            inspectionHash=inspection_hash,
            nonce=self.nonce() if nonce is None else nonce,
            deadline=self._deadline(deadline),
        )
        return order, sign_order(self.account, order, self.domain)

    def relay_receive(
        self, order: ReceiveOrder, signature: bytes, *, item_ids: Sequence[bytes] | None = None
    ) -> TxResult[list[bytes]]:
        """Submit a signed Receive order; the value is the accepted item ids."""
        ids = list(item_ids) if item_ids is not None else self.shipped_items(order.shipmentId)
        result = self._send("Items", "receiveShipment", order.as_tuple(), ids, signature)
        accepted = [bytes(i) for i in result.event("ShipmentReceived")["acceptedIds"]]
        return _with_value(result, accepted)

    def receive(
        self,
        shipment_id: int,
        *,
        temp_min: int,
        temp_max: int,
        rejected_ids: Sequence[bytes] = (),
        excursion_seconds: int = 0,
        inspection_hash: bytes = ZERO32,
        rejected_lots: Sequence[LotQuantity] = (),
    ) -> TxResult[list[bytes]]:
        """Sign and submit the inbound inspection result of a shipment addressed to us.
        `rejected_ids` may come in any order: they are signed in shipped order, as the
        contract wants them (ids not in the shipment last, for the contract to name).
        `rejected_lots` are the rejected parts of the shipped lot quantities."""
        shipped = self.shipped_items(shipment_id)
        position = {item_id: i for i, item_id in enumerate(shipped)}
        rejected = sorted(rejected_ids, key=lambda i: position.get(bytes(i), len(shipped)))
        with self._in_order():
            order, signature = self.sign_receive(
                shipment_id,
                temp_min=temp_min,
                temp_max=temp_max,
                rejected_ids=rejected,
                excursion_seconds=excursion_seconds,
                inspection_hash=inspection_hash,
                rejected_lots=rejected_lots,
            )
            return self.relay_receive(order, signature, item_ids=shipped)

    def sign_cancel(
        self,
        shipment_id: int,
        *,
        reason_hash: bytes = ZERO32,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> tuple[CancelOrder, bytes]:
        order = CancelOrder(
            sender=self.address,
            shipmentId=shipment_id,
            reasonHash=reason_hash,
            nonce=self.nonce() if nonce is None else nonce,
            deadline=self._deadline(deadline),
        )
        return order, sign_order(self.account, order, self.domain)

    def relay_cancel(
        self, order: CancelOrder, signature: bytes, *, item_ids: Sequence[bytes] | None = None
    ) -> TxResult[None]:
        ids = list(item_ids) if item_ids is not None else self.shipped_items(order.shipmentId)
        return self._send("Items", "cancelShipment", order.as_tuple(), ids, signature)

    def cancel(self, shipment_id: int, *, reason_hash: bytes = ZERO32) -> TxResult[None]:
        with self._in_order():
            return self.relay_cancel(*self.sign_cancel(shipment_id, reason_hash=reason_hash))

    def dispense(self, item_ids: Sequence[bytes], *, record_hash: bytes = ZERO32) -> TxResult[None]:
        return self._send("Items", "dispense", list(item_ids), record_hash)

    def quarantine(
        self, item_ids: Sequence[bytes], *, reason_hash: bytes = ZERO32
    ) -> TxResult[None]:
        return self._send("Items", "quarantine", list(item_ids), reason_hash)

    def release(self, item_ids: Sequence[bytes]) -> TxResult[None]:
        return self._send("Items", "release", list(item_ids))

    def destroy(self, item_ids: Sequence[bytes], *, record_hash: bytes = ZERO32) -> TxResult[None]:
        return self._send("Items", "destroy", list(item_ids), record_hash)

    # ------------------------------------------------------------ lot quantities and cases

    def commission_lot(self, lot_key: bytes, quantity: int) -> TxResult[None]:
        """Commission `quantity` units of a lot that is not serialised."""
        return self._send("Items", "commissionLot", lot_key, quantity)

    def dispense_lots(
        self, lots: Sequence[LotQuantity], *, record_hash: bytes = ZERO32
    ) -> TxResult[None]:
        return self._send("Items", "dispenseLots", _lot_tuples(lots), record_hash)

    def quarantine_lots(
        self, holder: str, lots: Sequence[LotQuantity], *, reason_hash: bytes = ZERO32
    ) -> TxResult[None]:
        return self._send("Items", "quarantineLots", holder, _lot_tuples(lots), reason_hash)

    def release_lots(self, holder: str, lots: Sequence[LotQuantity]) -> TxResult[None]:
        return self._send("Items", "releaseLots", holder, _lot_tuples(lots))

    def destroy_lots(
        self, lots: Sequence[LotQuantity], *, record_hash: bytes = ZERO32
    ) -> TxResult[None]:
        return self._send("Items", "destroyLots", _lot_tuples(lots), record_hash)

    def pack_cases(
        self, package_gtin: str, lot: str, serials: Sequence[str]
    ) -> TxResult[list[bytes]]:
        """Pack loose units of `lot` into cases of `package_gtin`; the value is the case ids."""
        result = self._send("Items", "packCases", package_gtin, lot, list(serials))
        return _with_value(result, [bytes(i) for i in result.event("CasesPacked")["caseIds"]])

    def unpack_cases(self, case_ids: Sequence[bytes]) -> TxResult[None]:
        return self._send("Items", "unpackCases", list(case_ids))

    def lot_balance(self, lot_index: int, holder: str) -> tuple[int, int, int]:
        """(Active, Quarantined, shipped and unsettled) loose units of a lot at `holder`."""
        active, quarantined, in_transit = self._call("Items", "lotBalance", lot_index, holder)
        return int(active), int(quarantined), int(in_transit)

    def lot_supply(self, lot_index: int) -> int:
        return int(self._call("Items", "lotSupply", lot_index))

    def shipment_lots(self, shipment_id: int) -> list[tuple[bytes, int, int]]:
        """(lot key, lot index, quantity) of each lot quantity of a shipment."""
        rows = self._call("Items", "shipmentLots", shipment_id)
        return [(bytes(key), int(index), int(q)) for key, index, q in rows]

    def case_quantity(self, case_id: bytes) -> int:
        return int(self._call("Items", "caseQuantity", case_id))

    def item(self, item_id: bytes) -> ItemState:
        holder, status, is_container, lot_index, parent = self._call("Items", "itemOf", item_id)
        parent_id = bytes(parent) if any(parent) else None
        return ItemState(holder, ItemStatus(status), is_container, lot_index, parent_id)

    def children(self, container_id: bytes) -> list[bytes]:
        return [bytes(i) for i in self._call("Items", "childrenOf", container_id)]

    def shipment(self, shipment_id: int) -> ShipmentState:
        sender, status, count, tmin, tmax, classes, lot_count, receiver, held, items_hash = (
            self._call("Items", "shipmentOf", shipment_id)
        )
        return ShipmentState(
            shipment_id,
            sender,
            receiver,
            ShipmentStatus(status),
            count,
            tmin,
            tmax,
            bytes(items_hash),
            class_mask=classes,
            lot_count=lot_count,
            held=bool(held),
        )

    def shipped_items(self, shipment_id: int) -> list[bytes]:
        """The item ids of a shipment, from its ShipmentSent event."""
        topic = self.codec.event_topic("ShipmentSent")
        logs = self.w3.eth.get_logs(
            {
                "address": Web3.to_checksum_address(self.deployment.items),
                "topics": [topic, shipment_id.to_bytes(32, "big")],  # type: ignore[list-item]
                "fromBlock": self.deployment.deployed_at_block,
                "toBlock": "latest",
            }
        )
        for event in self.codec.decode_logs(logs):
            return [bytes(i) for i in event.args["itemIds"]]
        raise MedLedgerError(f"shipment {shipment_id} not found on chain")

    def nonce(self, account: str | None = None) -> int:
        return int(self._call("Items", "nonces", account or self.address))

    # ------------------------------------------------------------ records

    def report_adverse_event(
        self, subject_id: bytes, *, severity: int, report_hash: bytes
    ) -> TxResult[int]:
        result = self._send("Records", "reportAdverseEvent", subject_id, severity, report_hash)
        return _with_value(result, int(result.event("AdverseEventReported")["reportId"]))

    def anchor_document(
        self, document_hash: bytes, *, subject_id: bytes, kind: int
    ) -> TxResult[None]:
        return self._send("Records", "anchorDocument", document_hash, subject_id, kind)

    def anchor(self, document_hash: bytes) -> dict[str, Any]:
        by, at, kind = self._call("Records", "anchorOf", document_hash)
        return {"anchored_by": by, "anchored_at": at, "kind": kind}

    # ------------------------------------------------------------ transactions

    def failure_of(self, tx_hash: bytes) -> MedLedgerError | None:
        """Why a mined transaction reverted (its call replayed, decoded), or None if it
        succeeded or is not mined."""
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        if receipt is None or receipt["status"] == 1:
            return None
        tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        fields = {"from": tx["from"], "to": tx.get("to"), "data": tx.get("input")}
        return self._replay_failure(fields, receipt)

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _in_order(self) -> Iterator[None]:
        """Hold this account's send lock over an order it signs and sends itself: the
        order's nonce advances only when its transaction is mined, so the next order of
        this account (in any thread, or any process sharing the locks) is signed after
        that, and an earlier transaction still pending is waited for first."""
        with account_lock(self.address):
            await_own_pending(self.w3, self.address, timeout=self.receipt_timeout)
            yield

    def _deadline(self, deadline: int | None) -> int:
        if deadline is not None:
            return deadline
        return int(self.w3.eth.get_block("latest")["timestamp"]) + DEFAULT_DEADLINE_SECONDS

    def _call(self, contract: str, fn: str, *args: Any) -> Any:
        try:
            return self._c[contract].functions[fn](*args).call({"from": self.address})
        except REVERTS as exc:
            raise self._decode(exc) from exc

    def _send(self, contract: str, fn: str, *args: Any) -> TxResult[None]:
        call = self._c[contract].functions[fn](*args)
        try:
            tx: dict[str, Any] = dict(call.build_transaction({"from": self.address}))
        except REVERTS as exc:
            error = self._decode(exc)
            if not isinstance(error, ContractError) or error.name == "Error":
                # A revert whose data was not passed on (eth-tester's gas estimation reads
                # data that happens to decode as a string as Error(string)): ask eth_call.
                error = self._decode_call(call) or error
            raise error from exc
        receipt = send_transaction(self.w3, self.account, tx, timeout=self.receipt_timeout)
        if receipt["status"] != 1:
            raise self._replay_failure(tx, receipt)
        return TxResult(None, receipt, self.codec.decode_logs(receipt["logs"]))

    def _decode_call(self, call: Any) -> MedLedgerError | None:
        try:
            call.call({"from": self.address})
        except REVERTS as exc:
            decoded = self._decode(exc)
            return decoded if isinstance(decoded, ContractError) else None
        return None

    def _decode(self, exc: Exception) -> MedLedgerError:
        data = revert_data(exc)
        if data:
            decoded = self.codec.decode_error(data)
            if decoded is not None:
                return decoded
        return MedLedgerError(f"contract call failed: {exc}")

    def _replay_failure(self, tx: dict[str, Any], receipt: TxReceipt) -> MedLedgerError:
        """Replay a reverted transaction's call to learn its error: first on the state
        after its block (which holds what made it fail when an earlier transaction of the
        same block won a race for the same item), then on the state before it."""
        call = {k: tx[k] for k in ("from", "to", "data") if tx.get(k) is not None}
        for block in (receipt["blockNumber"], receipt["blockNumber"] - 1):
            try:
                self.w3.eth.call(call, block)  # type: ignore[arg-type]
            except REVERTS as exc:
                return self._decode(exc)
        return MedLedgerError(f"transaction {receipt['transactionHash'].hex()} reverted")


def revert_data(exc: Exception) -> bytes | None:
    """The revert data of a JSON-RPC error: its `data` field, hex, as every node (ours,
    anvil, geth) returns it for a reverted call; web3 keeps it as the exception's `data`."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    return None


def case_id(package_gtin: str, serial: str) -> bytes:
    """The ledger id of a case (package-level item), as Items.packCases computes it: the id of
    the trade item instance "/01/<packageGtin>/21/<serial>", so the case's printed code
    (its lot is an attribute) resolves like a unit's."""
    return gs1.item_id(gs1.unit_path(package_gtin, serial))


def _lot_tuples(lots: Sequence[LotQuantity]) -> list[tuple[bytes, int]]:
    return [q.as_tuple() for q in lots]


def _with_value(result: TxResult[Any], value: T) -> TxResult[T]:
    return TxResult(value, result.receipt, result.events)


__all__ += ["ContractError"]
