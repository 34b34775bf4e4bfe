// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {Gs1} from "./lib/Gs1.sol";

/// @title Items
/// @notice Serialised units and containers (SSCC), and their custody: commission, pack and
/// unpack, ship and receive (both signed as EIP-712 messages that any member may relay),
/// cancel, dispense, quarantine and release, destroy.
/// @dev Each item is one storage slot keyed by keccak256 of its GS1 Digital Link path. A
/// packed item keeps its slot untouched while inside a container: its holder and status are
/// the container's (resolved by {itemOf}), so moving a pallet writes one slot, not one per unit,
/// and the custody checks read the pallet's distinct lots, not every unit.
contract Items is EIP712, Nonces {
    enum Status {
        None,
        Active,
        InTransit,
        Quarantined,
        Dispensed,
        Destroyed
    }

    enum ShipmentStatus {
        None,
        InTransit,
        Received,
        Rejected,
        Cancelled
    }

    /// @dev One slot: 160 + 8 + 8 + 32 + 32 bits. `ref` is the lot index of a unit or the
    /// container number of a container; `parent` is the container number holding it (0: none).
    struct Item {
        address holder;
        Status status;
        bool isContainer;
        uint32 ref;
        uint32 parent;
    }

    /// @dev `classMask` has bit c set when a class-c device is inside; the receiver's licence
    /// is checked against it again on receipt, in case it lapsed in transit.
    struct Shipment {
        address sender;
        ShipmentStatus status;
        uint32 itemCount;
        int16 tempMin;
        int16 tempMax;
        uint8 classMask;
        address receiver;
        bytes32 itemsHash;
    }

    /// @notice What the sender signs to ship root items (units or containers) to `receiver`.
    struct ShipOrder {
        address sender;
        address receiver;
        bytes32[] itemIds;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice What the receiver signs after inbound inspection. Shipped items not listed in
    /// `rejectedIds` are accepted. Temperatures are tenths of a degree Celsius.
    struct ReceiveOrder {
        address receiver;
        uint64 shipmentId;
        bytes32[] rejectedIds;
        int16 tempMin;
        int16 tempMax;
        uint32 excursionSeconds;
        bytes32 inspectionHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice What the sender signs to call back a shipment still in transit.
    struct CancelOrder {
        address sender;
        uint64 shipmentId;
        bytes32 reasonHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Scratch state while checking everything inside a shipment.
    struct ShipCheck {
        bytes32 rootId;
        address receiver;
        uint32 lastLot;
        uint8 classesChecked;
        uint8 receiverClasses;
        int16 tempMin;
        int16 tempMax;
    }

    bytes32 public constant SHIP_TYPEHASH = keccak256(
        "Ship(address sender,address receiver,bytes32[] itemIds,bytes32 documentHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant RECEIVE_TYPEHASH = keccak256(
        "Receive(address receiver,uint64 shipmentId,bytes32[] rejectedIds,int16 tempMin,int16 tempMax,uint32 excursionSeconds,bytes32 inspectionHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant CANCEL_TYPEHASH =
        keccak256("Cancel(address sender,uint64 shipmentId,bytes32 reasonHash,uint256 nonce,uint256 deadline)");
    /// @notice Most items one call may touch: 500 commissions (~30k gas each) take about
    /// half of a common 30M block gas limit.
    uint256 public constant MAX_BATCH = 500;

    IPartners private immutable _partners;
    IDevices private immutable _devices;

    mapping(bytes32 id => Item) private _items;
    mapping(uint32 containerNo => bytes32 id) private _containerIds;
    mapping(uint32 containerNo => bytes32[] childIds) private _children;
    /// @dev The distinct lots anywhere inside a container (nested containers included), kept
    /// at pack time so shipping a pallet checks each lot once instead of reading every unit.
    mapping(uint32 containerNo => uint32[] lotIndexes) private _containerLots;
    mapping(uint32 containerNo => mapping(uint32 lotIndex => bool)) private _containerHasLot;
    mapping(uint64 shipmentId => Shipment) private _shipments;
    uint32 private _containerCount;
    uint64 private _shipmentCount;

    error ItemsNotActiveMember(address account);
    error ItemsUnauthorized(address caller);
    error ItemsBatchSize(uint256 count, uint256 max);
    error ItemsUnknownItem(bytes32 id);
    error ItemsAlreadyExists(bytes32 id);
    error ItemsInvalidSerial(string serial);
    error ItemsInvalidSscc(string sscc);
    error ItemsPrefixNotOwned(string prefix, address caller);
    error ItemsNotHolder(bytes32 id, address holder);
    error ItemsWrongStatus(bytes32 id, Status status);
    error ItemsInContainer(bytes32 id, bytes32 containerId);
    error ItemsNotContainer(bytes32 id);
    error ItemsIsContainer(bytes32 id);
    error ItemsContainerNotEmpty(bytes32 id);
    error ItemsSelfPack(bytes32 id);
    error ItemsLotExpired(bytes32 id, uint40 expiry);
    error ItemsRegistrationExpired(bytes32 id, uint40 expiry);
    error ItemsRecalledReturnOnly(bytes32 id, address manufacturer);
    error ItemsRecalled(bytes32 id, uint32 recallId);
    error ItemsReceiverNotQualified(address receiver, uint8 deviceClass);
    error ItemsSelfShipment(address account);
    error ItemsExpiredSignature(uint256 deadline);
    error ItemsInvalidSigner(address signer, address expected);
    error ItemsUnknownShipment(uint64 shipmentId);
    error ItemsShipmentNotInTransit(uint64 shipmentId, ShipmentStatus status);
    error ItemsWrongParty(uint64 shipmentId, address expected);
    error ItemsShipmentContentMismatch(uint64 shipmentId);
    error ItemsRejectedNotInShipment(bytes32 id);
    error ItemsInvalidTemperature(int16 tempMin, int16 tempMax);

    event ItemsCommissioned(bytes32 indexed lotKey, address indexed manufacturer, bytes32[] itemIds, string[] serials);
    event ContainerCreated(bytes32 indexed containerId, address indexed owner, string sscc);
    event ItemsPacked(bytes32 indexed containerId, address indexed holder, bytes32[] itemIds);
    event ItemsUnpacked(bytes32 indexed containerId, address indexed holder, bytes32[] itemIds);
    event ShipmentSent(
        uint64 indexed shipmentId,
        address indexed sender,
        address indexed receiver,
        bytes32[] itemIds,
        bytes32 documentHash,
        address relayer
    );
    event ShipmentReceived(
        uint64 indexed shipmentId,
        address indexed receiver,
        address indexed sender,
        bytes32[] acceptedIds,
        bytes32[] rejectedIds,
        int16 tempMin,
        int16 tempMax,
        uint32 excursionSeconds,
        bytes32 inspectionHash,
        bool quarantined
    );
    event ShipmentCancelled(uint64 indexed shipmentId, address indexed sender, bytes32[] itemIds, bytes32 reasonHash);
    event ItemsDispensed(address indexed holder, bytes32[] itemIds, bytes32 recordHash);
    event ItemsQuarantined(address indexed by, bytes32[] itemIds, bytes32 reasonHash);
    event ItemsReleased(address indexed by, bytes32[] itemIds);
    event ItemsDestroyed(address indexed holder, bytes32[] itemIds, bytes32 recordHash);

    constructor(IPartners partners, IDevices devices) EIP712("MedLedger Items", "1") {
        _partners = partners;
        _devices = devices;
    }

    // ---------------------------------------------------------------- creation

    /// @notice Commission serialised units into a registered lot. Each id is
    /// keccak256("/01/<gtin>/21/<serial>").
    /// @dev Requirements: caller is the lot's manufacturer and active; the lot has not expired;
    /// 1..MAX_BATCH serials, each 1..20 chars of [0-9A-Za-z-._] and new.
    function commission(bytes32 lotKey, string[] calldata serials) external returns (bytes32[] memory ids) {
        (uint32 lotIndex, bytes14 gtin, address manufacturer, uint40 expiry) = _devices.lotForCommission(lotKey);
        if (msg.sender != manufacturer || !_partners.isActive(msg.sender)) revert ItemsUnauthorized(msg.sender);
        if (expiry <= block.timestamp) revert ItemsLotExpired(lotKey, expiry);
        _requireBatch(serials.length);
        ids = new bytes32[](serials.length);
        for (uint256 i; i < serials.length; ++i) {
            if (!Gs1.isLedgerSafe(bytes(serials[i]))) revert ItemsInvalidSerial(serials[i]);
            bytes32 id = keccak256(abi.encodePacked("/01/", gtin, "/21/", serials[i]));
            if (_items[id].status != Status.None) revert ItemsAlreadyExists(id);
            _items[id] = Item(msg.sender, Status.Active, false, lotIndex, 0);
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
        _items[id] = Item(msg.sender, Status.Active, true, number, 0);
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
    /// licensed for its device class, and a recalled lot only returns to its manufacturer.
    function ship(ShipOrder calldata order, bytes calldata signature) external returns (uint64 shipmentId) {
        bytes32 itemsHash = keccak256(abi.encodePacked(order.itemIds));
        uint8 receiverClasses = _checkShipParties(order, itemsHash, signature);
        _requireBatch(order.itemIds.length);
        ShipCheck memory check =
            ShipCheck(0, order.receiver, 0, 0, receiverClasses, type(int16).min, type(int16).max);
        for (uint256 i; i < order.itemIds.length; ++i) {
            bytes32 id = order.itemIds[i];
            Item storage item = _requireMovableRoot(id, order.sender);
            check.rootId = id;
            _checkContents(item, check);
            item.status = Status.InTransit;
        }
        shipmentId = ++_shipmentCount;
        _shipments[shipmentId] = Shipment(
            order.sender,
            ShipmentStatus.InTransit,
            uint32(order.itemIds.length),
            check.tempMin,
            check.tempMax,
            check.classesChecked,
            order.receiver,
            itemsHash
        );
        emit ShipmentSent(shipmentId, order.sender, order.receiver, order.itemIds, order.documentHash, msg.sender);
    }

    /// @notice Accept a shipment after inbound inspection, rejecting any listed items, on the
    /// receiver's EIP-712 signature; any active member may relay. Accepted items pass to the
    /// receiver (quarantined if the recorded temperatures left the storage range of any
    /// product inside); rejected items return to the sender.
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
            order.excursionSeconds > 0 || order.tempMin < s.tempMin || order.tempMax > s.tempMax;
        bytes32[] memory accepted = _settle(itemIds, order.rejectedIds, order.receiver, quarantined);
        s.status = accepted.length == 0 ? ShipmentStatus.Rejected : ShipmentStatus.Received;
        _emitReceived(order, s.sender, accepted, quarantined && accepted.length > 0);
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
        s.status = ShipmentStatus.Cancelled;
        emit ShipmentCancelled(order.shipmentId, order.sender, itemIds, order.reasonHash);
    }

    // ---------------------------------------------------------------- end of life and holds

    /// @notice Dispense (use on a patient) units at a hospital.
    /// @dev Requirements: caller is an active hospital; each item is a unit, a root, held by
    /// the caller and Active; its lot is neither expired nor under an open recall.
    function dispense(bytes32[] calldata itemIds, bytes32 recordHash) external {
        if (_partners.activeRole(msg.sender) != IPartners.Role.Hospital) revert ItemsUnauthorized(msg.sender);
        _requireBatch(itemIds.length);
        for (uint256 i; i < itemIds.length; ++i) {
            bytes32 id = itemIds[i];
            Item storage item = _requireMovableRoot(id, msg.sender);
            if (item.isContainer) revert ItemsIsContainer(id);
            IDevices.LotFacts memory f = _devices.lotFacts(item.ref);
            if (f.activeRecall != 0) revert ItemsRecalled(id, f.activeRecall);
            if (f.lotExpiry <= block.timestamp) revert ItemsLotExpired(id, f.lotExpiry);
            item.status = Status.Dispensed;
        }
        emit ItemsDispensed(msg.sender, itemIds, recordHash);
    }

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

    /// @notice Destroy root items (units, or empty containers) the caller holds.
    /// @dev Requirements: caller active; each item a root held by the caller, Active or
    /// Quarantined; a container must be empty.
    function destroy(bytes32[] calldata itemIds, bytes32 recordHash) external {
        _requireActive(msg.sender);
        _requireBatch(itemIds.length);
        for (uint256 i; i < itemIds.length; ++i) {
            bytes32 id = itemIds[i];
            Item storage item = _requireRoot(id);
            if (item.holder != msg.sender) revert ItemsNotHolder(id, item.holder);
            if (item.status != Status.Active && item.status != Status.Quarantined) {
                revert ItemsWrongStatus(id, item.status);
            }
            if (item.isContainer && _children[item.ref].length != 0) revert ItemsContainerNotEmpty(id);
            item.status = Status.Destroyed;
        }
        emit ItemsDestroyed(msg.sender, itemIds, recordHash);
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
        if (f.activeRecall != 0) {
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
        check.classesChecked |= classBit;
        if (f.tempMin > check.tempMin) check.tempMin = f.tempMin;
        if (f.tempMax < check.tempMax) check.tempMax = f.tempMax;
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

    function _requireRoot(bytes32 id) private view returns (Item storage item) {
        item = _items[id];
        if (item.status == Status.None) revert ItemsUnknownItem(id);
        if (item.parent != 0) revert ItemsInContainer(id, _containerIds[item.parent]);
    }

    function _requireMovableRoot(bytes32 id, address holder) private view returns (Item storage item) {
        item = _requireRoot(id);
        if (item.holder != holder) revert ItemsNotHolder(id, item.holder);
        if (item.status != Status.Active) revert ItemsWrongStatus(id, item.status);
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

    function _requireActive(address account) private view {
        if (!_partners.isActive(account)) revert ItemsNotActiveMember(account);
    }

    function _requireBatch(uint256 count) private pure {
        if (count == 0 || count > MAX_BATCH) revert ItemsBatchSize(count, MAX_BATCH);
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
    /// receiver. Returns the device classes the receiver is qualified for.
    function _checkShipParties(ShipOrder calldata order, bytes32 itemsHash, bytes calldata signature)
        private
        returns (uint8 receiverClasses)
    {
        (bool relayerAllowed, bool senderActive, bool receiverActive, uint8 classes) =
            _partners.custodyParties(msg.sender, order.sender, order.receiver);
        if (!relayerAllowed) revert ItemsNotActiveMember(msg.sender);
        _verify(_hashShip(order, itemsHash), signature, order.sender, order.nonce, order.deadline);
        if (!senderActive) revert ItemsNotActiveMember(order.sender);
        if (order.receiver == order.sender) revert ItemsSelfShipment(order.sender);
        if (!receiverActive) revert ItemsNotActiveMember(order.receiver);
        return classes;
    }

    function _hashShip(ShipOrder calldata o, bytes32 itemsHash) private pure returns (bytes32) {
        return keccak256(abi.encode(SHIP_TYPEHASH, o.sender, o.receiver, itemsHash, o.documentHash, o.nonce, o.deadline));
    }

    function _hashReceive(ReceiveOrder calldata o) private pure returns (bytes32) {
        bytes memory head = abi.encode(
            RECEIVE_TYPEHASH, o.receiver, o.shipmentId, keccak256(abi.encodePacked(o.rejectedIds)), o.tempMin
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
