// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {Gs1} from "./lib/Gs1.sol";
import {ItemsBase} from "./ItemsBase.sol";
import {ItemsLots} from "./ItemsLots.sol";

/// @title Items
/// @notice Serialised units and containers (SSCC), and their custody: commission, pack and
/// unpack, ship and receive (both signed as EIP-712 messages that any member may relay),
/// cancel, dispense, quarantine and release, destroy. A shipment also carries loose lot
/// quantities of lot-tracked devices; their other operations and cases (package levels)
/// are in {ItemsLots}, reached through this contract's fallback.
/// @dev Each item is one storage slot keyed by keccak256 of its GS1 Digital Link path. A
/// packed item keeps its slot untouched while inside a container: its holder and status are
/// the container's (resolved by {itemOf}), so moving a pallet writes one slot, not one per unit,
/// and the custody checks read the pallet's distinct lots, not every unit.
contract Items is ItemsBase, EIP712, Nonces {
    /// @dev The lot-quantity and case functions live in {ItemsLots} (the code size limit);
    /// {fallback} delegates to it, so they run on this contract's storage and address.
    address private immutable _lotsModule;

    constructor(IPartners partners, IDevices devices) ItemsBase(partners, devices) EIP712("MedLedger Items", "1") {
        _lotsModule = address(new ItemsLots(partners, devices));
    }

    /// @notice Runs {ItemsLots} functions (lot quantities and cases) on this contract's state.
    fallback() external {
        address module = _lotsModule;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, 0, calldatasize())
            let ok := delegatecall(gas(), module, ptr, calldatasize(), 0, 0)
            returndatacopy(ptr, 0, returndatasize())
            if iszero(ok) { revert(ptr, returndatasize()) }
            return(ptr, returndatasize())
        }
    }

    // ---------------------------------------------------------------- creation

    /// @notice Commission serialised units into a registered lot. Each id is keccak256 of the
    /// unit's Digital Link path "/01/<gtin>/21/<serial>", the serial percent-encoded
    /// ({Gs1.unitId}).
    /// @dev Requirements: caller is the lot's manufacturer and active; the product is
    /// serialised (a lot-tracked product is commissioned by quantity); the lot has not expired;
    /// 1..MAX_BATCH serials, each 1..20 GS1 CSET 82 characters and new.
    function commission(bytes32 lotKey, string[] calldata serials) external returns (bytes32[] memory ids) {
        (uint32 lotIndex, bytes14 gtin, address manufacturer, uint40 expiry) = _devices.lotForCommission(lotKey);
        if (msg.sender != manufacturer || !_partners.isActive(msg.sender)) revert ItemsUnauthorized(msg.sender);
        if (expiry <= block.timestamp) revert ItemsLotExpired(lotKey, expiry);
        if (!_devices.lotFacts(lotIndex).serialised) revert ItemsLotTracked(lotKey);
        _requireBatch(serials.length);
        ids = new bytes32[](serials.length);
        for (uint256 i; i < serials.length; ++i) {
            if (!Gs1.isCset82(bytes(serials[i]))) revert ItemsInvalidSerial(serials[i]);
            bytes32 id = Gs1.unitId(gtin, serials[i]);
            if (_items[id].status != Status.None) revert ItemsAlreadyExists(id);
            _items[id] = Item(msg.sender, Status.Active, false, lotIndex, 0, false);
            ids[i] = id;
        }
        emit ItemsCommissioned(lotKey, msg.sender, ids, serials);
    }

    /// @notice Create a container (logistic unit) identified by an SSCC; its id is
    /// keccak256("/00/<sscc>").
    /// @dev Requirements: caller is active and owns `companyPrefix`; `sscc` is 18 digits with a
    /// valid check digit and carries that prefix; the container is new.
    function createContainer(string calldata sscc, string calldata companyPrefix) external returns (bytes32 id) {
        if (!_partners.isActive(msg.sender)) revert ItemsNotActiveMember(msg.sender);
        bytes memory s = bytes(sscc);
        if (s.length != 18 || !Gs1.hasValidCheckDigit(s)) revert ItemsInvalidSscc(sscc);
        if (!Gs1.hasCompanyPrefix(s, bytes(companyPrefix)) || _partners.prefixOwner(companyPrefix) != msg.sender) {
            revert ItemsPrefixNotOwned(companyPrefix, msg.sender);
        }
        id = keccak256(abi.encodePacked("/00/", sscc));
        if (_items[id].status != Status.None) revert ItemsAlreadyExists(id);
        uint32 number = ++_containerCount;
        _items[id] = Item(msg.sender, Status.Active, true, number, 0, false);
        _containerIds[number] = id;
        emit ContainerCreated(id, msg.sender, sscc);
    }

    // ---------------------------------------------------------------- aggregation

    /// @notice Pack root items the caller holds into a container the caller holds.
    /// @dev Requirements: caller active; container exists, is a container, is a root, held by
    /// the caller and Active; each child exists, is a root, held by the caller, Active, and is
    /// not the container itself.
    function pack(bytes32 containerId, bytes32[] calldata childIds) external {
        _requireActive(msg.sender);
        _requireBatch(childIds.length);
        Item storage container = _requireMovableRoot(containerId, msg.sender);
        if (!container.isContainer) revert ItemsNotContainer(containerId);
        uint32 number = container.ref;
        bytes32[] storage children = _children[number];
        for (uint256 i; i < childIds.length; ++i) {
            bytes32 childId = childIds[i];
            if (childId == containerId) revert ItemsSelfPack(childId);
            Item storage child = _requireMovableRoot(childId, msg.sender);
            child.parent = number;
            children.push(childId);
            if (child.isContainer) {
                uint32[] storage inner = _containerLots[child.ref];
                for (uint256 j; j < inner.length; ++j) {
                    _addLot(number, inner[j]);
                }
            } else {
                _addLot(number, child.ref);
            }
        }
        emit ItemsPacked(containerId, msg.sender, childIds);
    }

    /// @notice Unpack every item of a container; each becomes a root held by the caller.
    /// @dev Requirements: caller active; container is a root, held by the caller and Active.
    function unpack(bytes32 containerId) external {
        _requireActive(msg.sender);
        Item storage container = _requireMovableRoot(containerId, msg.sender);
        if (!container.isContainer) revert ItemsNotContainer(containerId);
        uint32 number = container.ref;
        bytes32[] memory childIds = _children[number];
        for (uint256 i; i < childIds.length; ++i) {
            Item storage child = _items[childIds[i]];
            // Packed items keep their slot frozen; catching up holder and parent is the one write.
            child.holder = msg.sender;
            child.parent = 0;
        }
        delete _children[number];
        uint32[] storage lots = _containerLots[number];
        for (uint256 i; i < lots.length; ++i) {
            delete _containerHasLot[number][lots[i]];
        }
        delete _containerLots[number];
        emit ItemsUnpacked(containerId, msg.sender, childIds);
    }

    // ---------------------------------------------------------------- custody handshake

    /// @notice Ship root items from `order.sender` to `order.receiver`, on the sender's
    /// EIP-712 signature; any active member may relay.
    /// @dev Requirements: relayer an active member or platform relayer; sender and receiver
    /// active, sender != receiver; deadline not
    /// passed; signature by the sender over a fresh nonce; every item a root held by the
    /// sender and Active; for every unit inside: lot and registration not expired, receiver
    /// and sender licensed for its device class (a recall return to the manufacturer needs
    /// no sender licence), a recalled lot only returns to its manufacturer, and, unless the
    /// receiver is the product's manufacturer, supplier and product in the receiver's
    /// approved files when its policy is Refuse (when Hold, the shipment is marked held).
    function ship(ShipOrder calldata order, bytes calldata signature) external returns (uint64 shipmentId) {
        bytes32 itemsHash = keccak256(abi.encodePacked(order.itemIds));
        ShipCheck memory check = _checkShipParties(order, itemsHash, signature);
        _requireBatch(order.itemIds.length + order.lots.length);
        for (uint256 i; i < order.itemIds.length; ++i) {
            bytes32 id = order.itemIds[i];
            Item storage item = _requireMovableRoot(id, order.sender);
            check.rootId = id;
            _checkContents(item, check);
            item.status = Status.InTransit;
        }
        shipmentId = ++_shipmentCount;
        if (order.lots.length != 0) _shipLots(shipmentId, order, check);
        _shipments[shipmentId] = Shipment(
            order.sender,
            ShipmentStatus.InTransit,
            uint32(order.itemIds.length),
            check.tempMin,
            check.tempMax,
            check.classesChecked,
            uint16(order.lots.length),
            order.receiver,
            check.held,
            itemsHash
        );
        emit ShipmentSent(shipmentId, order.sender, order.receiver, order.itemIds, order.documentHash, msg.sender);
        if (check.held) emit ShipmentHeldForReview(shipmentId, order.receiver, order.sender);
    }

    /// @notice Accept a shipment after inbound inspection, rejecting any listed items, on the
    /// receiver's EIP-712 signature; any active member may relay. Accepted items pass to the
    /// receiver (quarantined if the recorded temperatures left the storage range of any
    /// product inside, or if the shipment was held for approval review); rejected items
    /// return to the sender.
    /// @dev Requirements: relayer a member or platform relayer; receiver active; deadline not
    /// passed; signature by the shipment's receiver over a fresh nonce; shipment in transit; the receiver still
    /// licensed for every device class inside; `itemIds` is exactly the
    /// shipped list; `rejectedIds` is a subsequence of it; `tempMin <= tempMax`.
    function receiveShipment(ReceiveOrder calldata order, bytes32[] calldata itemIds, bytes calldata signature)
        external
    {
        _requireRelayer(msg.sender);
        _verify(_hashReceive(order), signature, order.receiver, order.nonce, order.deadline);
        Shipment storage s = _requireInTransit(order.shipmentId, itemIds);
        if (s.receiver != order.receiver) revert ItemsWrongParty(order.shipmentId, s.receiver);
        _requireActive(order.receiver);
        for (uint8 c = 1; c <= 3; ++c) {
            if (s.classMask & (1 << c) != 0 && !_partners.isQualified(order.receiver, c)) {
                revert ItemsReceiverNotQualified(order.receiver, c);
            }
        }
        if (order.tempMin > order.tempMax) revert ItemsInvalidTemperature(order.tempMin, order.tempMax);
        bool quarantined =
            s.held || order.excursionSeconds > 0 || order.tempMin < s.tempMin || order.tempMax > s.tempMax;
        bytes32[] memory accepted = _settle(itemIds, order.rejectedIds, order.receiver, quarantined);
        uint256 lotsAccepted = _settleLots(order, s.sender, s.lotCount, quarantined);
        bool anyAccepted = accepted.length != 0 || lotsAccepted != 0;
        s.status = anyAccepted ? ShipmentStatus.Received : ShipmentStatus.Rejected;
        _emitReceived(order, s.sender, accepted, quarantined && anyAccepted);
    }

    /// @notice Call back a shipment still in transit, on the sender's EIP-712 signature; the
    /// items become Active at the sender again.
    /// @dev Requirements: relayer a member or platform relayer; deadline not passed; signature
    /// by the shipment's sender over a fresh nonce; shipment in transit; `itemIds` is exactly the shipped list.
    function cancelShipment(CancelOrder calldata order, bytes32[] calldata itemIds, bytes calldata signature)
        external
    {
        _requireRelayer(msg.sender);
        _verify(_hashCancel(order), signature, order.sender, order.nonce, order.deadline);
        Shipment storage s = _requireInTransit(order.shipmentId, itemIds);
        if (s.sender != order.sender) revert ItemsWrongParty(order.shipmentId, s.sender);
        for (uint256 i; i < itemIds.length; ++i) {
            _items[itemIds[i]].status = Status.Active;
        }
        ShipmentLot[] storage lots = _shipmentLots[order.shipmentId];
        for (uint256 i; i < s.lotCount; ++i) {
            ShipmentLot storage l = lots[i];
            Balance storage b = _balances[l.lotIndex][order.sender];
            b.inTransit -= l.quantity;
            b.active += l.quantity;
            _emitBalance(l.lotIndex, order.sender, b);
        }
        s.status = ShipmentStatus.Cancelled;
        emit ShipmentCancelled(order.shipmentId, order.sender, itemIds, order.reasonHash);
    }

    // ---------------------------------------------------------------- end of life and holds

    /// @notice Put root items on hold (for example a suspected counterfeit or damage).
    /// @dev Requirements: caller is an active member; each item is a root and Active; the
    /// caller holds it or is a regulator.
    function quarantine(bytes32[] calldata itemIds, bytes32 reasonHash) external {
        _setHold(itemIds, Status.Active, Status.Quarantined);
        emit ItemsQuarantined(msg.sender, itemIds, reasonHash);
    }

    /// @notice Release quarantined root items back to Active.
    /// @dev Requirements: caller is an active member; each item is a root and Quarantined; the
    /// caller holds it or is a regulator.
    function release(bytes32[] calldata itemIds) external {
        _setHold(itemIds, Status.Quarantined, Status.Active);
        emit ItemsReleased(msg.sender, itemIds);
    }

    // ---------------------------------------------------------------- views
    /// @notice The effective state of an item: a packed item reports the holder and status of
    /// its outermost container. `lotIndex` is 0 for containers.
    function itemOf(bytes32 id)
        external
        view
        returns (address holder, Status status, bool isContainer, uint32 lotIndex, bytes32 parentId)
    {
        Item memory item = _items[id];
        isContainer = item.isContainer;
        lotIndex = item.isContainer ? 0 : item.ref;
        parentId = item.parent == 0 ? bytes32(0) : _containerIds[item.parent];
        while (item.parent != 0) {
            item = _items[_containerIds[item.parent]];
        }
        return (item.holder, item.status, isContainer, lotIndex, parentId);
    }

    /// @notice The direct children of a container.
    function childrenOf(bytes32 containerId) external view returns (bytes32[] memory) {
        Item storage item = _items[containerId];
        if (!item.isContainer) return new bytes32[](0);
        return _children[item.ref];
    }

    /// @notice A shipment record by id.
    function shipmentOf(uint64 shipmentId) external view returns (Shipment memory) {
        return _shipments[shipmentId];
    }

    /// @notice The EIP-712 domain separator for this chain and contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    function _shipLots(uint64 shipmentId, ShipOrder calldata order, ShipCheck memory check) private {
        ShipmentLot[] storage stored = _shipmentLots[shipmentId];
        bytes32 previous = bytes32(0);
        for (uint256 i; i < order.lots.length; ++i) {
            (bytes32 key, uint32 lotIndex, uint32 q) = _entry(order.lots[i]);
            if (key <= previous) revert ItemsLotsNotAscending(key);
            previous = key;
            check.rootId = key;
            _checkLot(lotIndex, check);
            Balance storage b = _balances[lotIndex][order.sender];
            if (b.active < q) revert ItemsInsufficientQuantity(key, order.sender, b.active, q);
            b.active -= q;
            b.inTransit += q;
            _emitBalance(lotIndex, order.sender, b);
            stored.push(ShipmentLot(key, lotIndex, q));
        }
        emit ShipmentLotsSent(shipmentId, order.lots);
    }

    /// @dev Settles every shipped lot quantity: the rejected part back to the sender's Active
    /// balance, the rest to the receiver's. Returns the units accepted.
    function _settleLots(ReceiveOrder calldata order, address sender, uint16 lotCount, bool quarantined)
        private
        returns (uint256 acceptedTotal)
    {
        LotQuantity[] calldata rejected = order.rejectedLots;
        if (lotCount == 0) {
            if (rejected.length != 0) revert ItemsRejectedLotNotInShipment(rejected[0].lotKey);
            return 0;
        }
        ShipmentLot[] storage lots = _shipmentLots[order.shipmentId];
        LotQuantity[] memory accepted = new LotQuantity[](lotCount);
        uint256 r = 0;
        for (uint256 i; i < lotCount; ++i) {
            ShipmentLot memory l = lots[i];
            uint32 back = 0;
            if (r < rejected.length && rejected[r].lotKey == l.lotKey) {
                back = rejected[r].quantity;
                if (back == 0) revert ItemsZeroQuantity(l.lotKey);
                if (back > l.quantity) revert ItemsRejectedQuantityExceeds(l.lotKey, l.quantity, back);
                ++r;
            }
            Balance storage b = _balances[l.lotIndex][sender];
            b.inTransit -= l.quantity;
            b.active += back;
            _emitBalance(l.lotIndex, sender, b);
            uint32 kept = l.quantity - back;
            b = _balances[l.lotIndex][order.receiver];
            if (quarantined) b.quarantined += kept;
            else b.active += kept;
            _emitBalance(l.lotIndex, order.receiver, b);
            accepted[i] = LotQuantity(l.lotKey, kept);
            acceptedTotal += kept;
        }
        if (r != rejected.length) revert ItemsRejectedLotNotInShipment(rejected[r].lotKey);
        emit ShipmentLotsReceived(order.shipmentId, accepted, rejected, quarantined && acceptedTotal != 0);
    }

    function _checkContents(Item storage item, ShipCheck memory check) private view {
        if (!item.isContainer) {
            _checkLot(item.ref, check);
            return;
        }
        uint32[] storage lots = _containerLots[item.ref];
        for (uint256 i; i < lots.length; ++i) {
            _checkLot(lots[i], check);
        }
    }

    function _addLot(uint32 containerNo, uint32 lotIndex) private {
        if (_containerHasLot[containerNo][lotIndex]) return;
        _containerHasLot[containerNo][lotIndex] = true;
        _containerLots[containerNo].push(lotIndex);
    }

    function _checkLot(uint32 lotIndex, ShipCheck memory check) private view {
        if (lotIndex == check.lastLot) return;
        check.lastLot = lotIndex;
        IDevices.LotFacts memory f = _devices.lotFacts(lotIndex);
        bool recallReturn = f.activeRecall != 0;
        if (recallReturn) {
            // A recall return: the only move a recalled unit may make, whatever its dates.
            if (check.receiver != f.manufacturer) revert ItemsRecalledReturnOnly(check.rootId, f.manufacturer);
        } else {
            if (f.lotExpiry <= block.timestamp) revert ItemsLotExpired(check.rootId, f.lotExpiry);
            if (f.registrationExpiry <= block.timestamp) {
                revert ItemsRegistrationExpired(check.rootId, f.registrationExpiry);
            }
        }
        uint8 classBit = uint8(1 << f.deviceClass);
        if (check.receiverClasses & classBit == 0) revert ItemsReceiverNotQualified(check.receiver, f.deviceClass);
        if (!recallReturn && check.senderClasses & classBit == 0) {
            revert ItemsSenderNotQualified(check.sender, f.deviceClass);
        }
        if (check.policy != IPartners.ApprovalPolicy.Off && check.receiver != f.manufacturer) {
            _checkApproved(lotIndex, check);
        }
        check.classesChecked |= classBit;
        if (f.tempMin > check.tempMin) check.tempMin = f.tempMin;
        if (f.tempMax < check.tempMax) check.tempMax = f.tempMax;
    }

    /// @dev The receiver's approved files (首营企业/首营品种): outside them, Refuse reverts and
    /// Hold marks the shipment held.
    function _checkApproved(uint32 lotIndex, ShipCheck memory check) private view {
        bool refuse = check.policy == IPartners.ApprovalPolicy.Refuse;
        if (!check.supplierApproved) {
            if (refuse) revert ItemsSupplierNotApproved(check.receiver, check.sender);
            check.held = true;
        }
        bytes14 gtin = _devices.lotGtin(lotIndex);
        if (_partners.productApproval(check.receiver, gtin) == bytes32(0)) {
            if (refuse) revert ItemsProductNotApproved(check.receiver, gtin);
            check.held = true;
        }
    }

    /// @dev Walks the shipped list once, matching `rejectedIds` as an ordered subsequence.
    function _settle(bytes32[] calldata itemIds, bytes32[] calldata rejectedIds, address receiver, bool quarantined)
        private
        returns (bytes32[] memory accepted)
    {
        if (rejectedIds.length > itemIds.length) revert ItemsRejectedNotInShipment(rejectedIds[itemIds.length]);
        accepted = new bytes32[](itemIds.length - rejectedIds.length);
        Status acceptedStatus = quarantined ? Status.Quarantined : Status.Active;
        uint256 r;
        uint256 a;
        for (uint256 i; i < itemIds.length; ++i) {
            bytes32 id = itemIds[i];
            Item storage item = _items[id];
            if (r < rejectedIds.length && rejectedIds[r] == id) {
                item.status = Status.Active;
                ++r;
            } else {
                if (a == accepted.length) revert ItemsRejectedNotInShipment(rejectedIds[r]);
                item.holder = receiver;
                item.status = acceptedStatus;
                accepted[a++] = id;
            }
        }
        if (r != rejectedIds.length) revert ItemsRejectedNotInShipment(rejectedIds[r]);
    }

    function _emitReceived(ReceiveOrder calldata o, address sender, bytes32[] memory accepted, bool quarantined)
        private
    {
        emit ShipmentReceived(
            o.shipmentId,
            o.receiver,
            sender,
            accepted,
            o.rejectedIds,
            o.tempMin,
            o.tempMax,
            o.excursionSeconds,
            o.inspectionHash,
            quarantined
        );
    }

    function _setHold(bytes32[] calldata itemIds, Status from, Status to) private {
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (role == IPartners.Role.None) revert ItemsNotActiveMember(msg.sender);
        _requireBatch(itemIds.length);
        for (uint256 i; i < itemIds.length; ++i) {
            bytes32 id = itemIds[i];
            Item storage item = _requireRoot(id);
            if (item.holder != msg.sender && role != IPartners.Role.Regulator) revert ItemsNotHolder(id, item.holder);
            if (item.status != from) revert ItemsWrongStatus(id, item.status);
            item.status = to;
        }
    }

    function _requireInTransit(uint64 shipmentId, bytes32[] calldata itemIds)
        private
        view
        returns (Shipment storage s)
    {
        s = _shipments[shipmentId];
        if (s.status == ShipmentStatus.None) revert ItemsUnknownShipment(shipmentId);
        if (s.status != ShipmentStatus.InTransit) revert ItemsShipmentNotInTransit(shipmentId, s.status);
        if (keccak256(abi.encodePacked(itemIds)) != s.itemsHash) revert ItemsShipmentContentMismatch(shipmentId);
    }

    function _requireRelayer(address account) private view {
        if (!_partners.mayRelay(account)) revert ItemsNotActiveMember(account);
    }

    /// @dev Deadline, then signer, then nonce: a stale or forged message never burns a nonce.
    function _verify(bytes32 structHash, bytes calldata signature, address expected, uint256 nonce, uint256 deadline)
        private
    {
        if (block.timestamp > deadline) revert ItemsExpiredSignature(deadline);
        address signer = ECDSA.recover(_hashTypedDataV4(structHash), signature);
        if (signer != expected) revert ItemsInvalidSigner(signer, expected);
        _useCheckedNonce(expected, nonce);
    }

    /// @dev The party checks of {ship}, with one call to Partners, in the order a reader of
    /// {ship}'s requirements expects them to fail: relayer, signature, sender, self-shipment,
    /// receiver. Returns the scratch state for checking the contents, with both parties'
    /// qualified classes and the receiver's approval policy.
    function _checkShipParties(ShipOrder calldata order, bytes32 itemsHash, bytes calldata signature)
        private
        returns (ShipCheck memory check)
    {
        IPartners.CustodyCheck memory p = _partners.custodyParties(msg.sender, order.sender, order.receiver);
        if (!p.relayerAllowed) revert ItemsNotActiveMember(msg.sender);
        _verify(_hashShip(order, itemsHash), signature, order.sender, order.nonce, order.deadline);
        if (!p.senderActive) revert ItemsNotActiveMember(order.sender);
        if (order.receiver == order.sender) revert ItemsSelfShipment(order.sender);
        if (!p.receiverActive) revert ItemsNotActiveMember(order.receiver);
        check = ShipCheck(
            0,
            order.receiver,
            0,
            0,
            p.receiverClasses,
            type(int16).min,
            type(int16).max,
            order.sender,
            p.senderClasses,
            p.policy,
            p.supplierApproved,
            false
        );
    }

    function _hashShip(ShipOrder calldata o, bytes32 itemsHash) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SHIP_TYPEHASH, o.sender, o.receiver, itemsHash, _hashLots(o.lots), o.documentHash, o.nonce, o.deadline
            )
        );
    }

    /// @dev EIP-712 encoding of a `LotQuantity[]`: keccak256 of its elements' struct hashes.
    function _hashLots(LotQuantity[] calldata lots) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](lots.length);
        for (uint256 i; i < lots.length; ++i) {
            hashes[i] = keccak256(abi.encode(LOT_QUANTITY_TYPEHASH, lots[i].lotKey, lots[i].quantity));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _hashReceive(ReceiveOrder calldata o) private pure returns (bytes32) {
        bytes memory head = abi.encode(
            RECEIVE_TYPEHASH,
            o.receiver,
            o.shipmentId,
            keccak256(abi.encodePacked(o.rejectedIds)),
            _hashLots(o.rejectedLots),
            o.tempMin
        );
        return keccak256(
            abi.encodePacked(
                head, abi.encode(o.tempMax, o.excursionSeconds, o.inspectionHash, o.nonce, o.deadline)
            )
        );
    }

    function _hashCancel(CancelOrder calldata o) private pure returns (bytes32) {
        return keccak256(abi.encode(CANCEL_TYPEHASH, o.sender, o.shipmentId, o.reasonHash, o.nonce, o.deadline));
    }
}
