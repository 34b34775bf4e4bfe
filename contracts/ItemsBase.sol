// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";

/// @title ItemsBase
/// @notice The custody state, types, errors and events shared by {Items} and its lot module
/// {ItemsLots}, which runs by delegatecall on the same storage: both inherit this contract
/// first, so its state variables sit at the same slots in both.
abstract contract ItemsBase {
    enum Status {
        None,
        Active,
        InTransit,
        Quarantined,
        Dispensed,
        Destroyed,
        Unpacked
    }

    enum ShipmentStatus {
        None,
        InTransit,
        Received,
        Rejected,
        Cancelled
    }

    /// @dev One slot: 160 + 8 + 8 + 32 + 32 + 8 bits. `ref` is the lot index of a unit or case, or the
    /// container number of a container; `parent` is the container number holding it (0: none).
    struct Item {
        address holder;
        Status status;
        bool isContainer;
        uint32 ref;
        uint32 parent;
        bool isCase;
    }

    /// @dev `classMask` has bit c set when a class-c device is inside; the receiver's licence
    /// is checked against it again on receipt, in case it lapsed in transit.
    /// `held` is set when something inside is outside the receiver's approved files and its
    /// policy is Hold: whatever it accepts lands Quarantined for QA review.
    struct Shipment {
        address sender;
        ShipmentStatus status;
        uint32 itemCount;
        int16 tempMin;
        int16 tempMax;
        uint8 classMask;
        uint16 lotCount;
        address receiver;
        bool held;
        bytes32 itemsHash;
    }

    /// @notice A quantity of base units of one lot (`lotKey` as registered in Devices).
    struct LotQuantity {
        bytes32 lotKey;
        uint32 quantity;
    }

    /// @dev A holder's loose (not serialised, not in a case) units of one lot; one slot.
    /// `inTransit` counts what the holder shipped and the receiver has not yet settled.
    struct Balance {
        uint64 active;
        uint64 quarantined;
        uint64 inTransit;
    }

    /// @dev One shipped lot quantity, kept with its shipment until it is settled.
    struct ShipmentLot {
        bytes32 lotKey;
        uint32 lotIndex;
        uint32 quantity;
    }

    /// @notice What the sender signs to ship root items (units, cases or containers) and loose
    /// lot quantities (`lots`, in strictly ascending `lotKey` order) to `receiver`.
    struct ShipOrder {
        address sender;
        address receiver;
        bytes32[] itemIds;
        LotQuantity[] lots;
        bytes32 documentHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice What the receiver signs after inbound inspection. Shipped items not listed in
    /// `rejectedIds` are accepted, and of each shipped lot quantity what `rejectedLots` (in
    /// strictly ascending `lotKey` order) does not reject. Temperatures are tenths of a
    /// degree Celsius.
    struct ReceiveOrder {
        address receiver;
        uint64 shipmentId;
        bytes32[] rejectedIds;
        LotQuantity[] rejectedLots;
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
        address sender;
        uint8 senderClasses;
        IPartners.ApprovalPolicy policy;
        bool supplierApproved;
        bool held;
    }

    bytes32 public constant LOT_QUANTITY_TYPEHASH = keccak256("LotQuantity(bytes32 lotKey,uint32 quantity)");
    bytes32 public constant SHIP_TYPEHASH = keccak256(
        "Ship(address sender,address receiver,bytes32[] itemIds,LotQuantity[] lots,bytes32 documentHash,uint256 nonce,uint256 deadline)LotQuantity(bytes32 lotKey,uint32 quantity)"
    );
    bytes32 public constant RECEIVE_TYPEHASH = keccak256(
        "Receive(address receiver,uint64 shipmentId,bytes32[] rejectedIds,LotQuantity[] rejectedLots,int16 tempMin,int16 tempMax,uint32 excursionSeconds,bytes32 inspectionHash,uint256 nonce,uint256 deadline)LotQuantity(bytes32 lotKey,uint32 quantity)"
    );
    bytes32 public constant CANCEL_TYPEHASH =
        keccak256("Cancel(address sender,uint64 shipmentId,bytes32 reasonHash,uint256 nonce,uint256 deadline)");
    /// @notice Most items one call may touch: 500 commissions (~30k gas each) take about
    /// half of a common 30M block gas limit.
    uint256 public constant MAX_BATCH = 500;

    IPartners internal immutable _partners;
    IDevices internal immutable _devices;

    mapping(bytes32 id => Item) internal _items;
    mapping(uint32 containerNo => bytes32 id) internal _containerIds;
    mapping(uint32 containerNo => bytes32[] childIds) internal _children;
    /// @dev The distinct lots anywhere inside a container (nested containers included), kept
    /// at pack time so shipping a pallet checks each lot once instead of reading every unit.
    mapping(uint32 containerNo => uint32[] lotIndexes) internal _containerLots;
    mapping(uint32 containerNo => mapping(uint32 lotIndex => bool)) internal _containerHasLot;
    mapping(uint64 shipmentId => Shipment) internal _shipments;
    uint32 internal _containerCount;
    uint64 internal _shipmentCount;
    mapping(uint32 lotIndex => mapping(address holder => Balance)) internal _balances;
    /// @dev Units of a lot that exist by quantity (loose, in transit or in cases): commissioned
    /// minus dispensed and destroyed. The conservation invariant's right-hand side.
    mapping(uint32 lotIndex => uint64) internal _lotSupply;
    mapping(uint64 shipmentId => ShipmentLot[]) internal _shipmentLots;
    /// @dev Base units inside a case (package-level item); zero for any other item.
    mapping(bytes32 id => uint32) internal _caseQuantity;

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
    error ItemsSenderNotQualified(address sender, uint8 deviceClass);
    error ItemsSupplierNotApproved(address receiver, address supplier);
    error ItemsProductNotApproved(address receiver, bytes14 gtin);
    error ItemsSelfShipment(address account);
    error ItemsExpiredSignature(uint256 deadline);
    error ItemsInvalidSigner(address signer, address expected);
    error ItemsUnknownShipment(uint64 shipmentId);
    error ItemsShipmentNotInTransit(uint64 shipmentId, ShipmentStatus status);
    error ItemsWrongParty(uint64 shipmentId, address expected);
    error ItemsShipmentContentMismatch(uint64 shipmentId);
    error ItemsRejectedNotInShipment(bytes32 id);
    error ItemsInvalidTemperature(int16 tempMin, int16 tempMax);
    error ItemsZeroQuantity(bytes32 lotKey);
    error ItemsInsufficientQuantity(bytes32 lotKey, address holder, uint256 available, uint256 requested);
    error ItemsLotsNotAscending(bytes32 lotKey);
    error ItemsRejectedLotNotInShipment(bytes32 lotKey);
    error ItemsRejectedQuantityExceeds(bytes32 lotKey, uint32 shipped, uint32 rejected);
    error ItemsUnknownPackage(string packageGtin);
    error ItemsNotPackage(bytes32 id);
    error ItemsIsPackage(bytes32 id);
    error ItemsSerialisedLot(bytes32 lotKey);
    error ItemsLotTracked(bytes32 lotKey);

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
    /// @notice Shipment `shipmentId` holds a supplier or product outside `receiver`'s approved
    /// files and its policy is Hold: what it accepts will land Quarantined for QA review.
    event ShipmentHeldForReview(uint64 indexed shipmentId, address indexed receiver, address indexed sender);
    event ShipmentCancelled(uint64 indexed shipmentId, address indexed sender, bytes32[] itemIds, bytes32 reasonHash);
    event ItemsDispensed(address indexed holder, bytes32[] itemIds, bytes32 recordHash);
    event ItemsQuarantined(address indexed by, bytes32[] itemIds, bytes32 reasonHash);
    event ItemsReleased(address indexed by, bytes32[] itemIds);
    event ItemsDestroyed(address indexed holder, bytes32[] itemIds, bytes32 recordHash);
    /// @notice A holder's loose balance of a lot after any change: the one event a read model
    /// needs to keep per-lot per-holder quantities (the other lot events say why).
    event LotBalance(
        uint32 indexed lotIndex, address indexed holder, uint64 active, uint64 quarantined, uint64 inTransit
    );
    event LotCommissioned(bytes32 indexed lotKey, address indexed manufacturer, uint32 quantity);
    event ShipmentLotsSent(uint64 indexed shipmentId, LotQuantity[] lots);
    event ShipmentLotsReceived(
        uint64 indexed shipmentId, LotQuantity[] accepted, LotQuantity[] rejected, bool quarantined
    );
    event LotsDispensed(address indexed holder, LotQuantity[] lots, bytes32 recordHash);
    event LotsQuarantined(
        address indexed by, address indexed holder, LotQuantity[] lots, bytes32 reasonHash
    );
    event LotsReleased(address indexed by, address indexed holder, LotQuantity[] lots);
    event LotsDestroyed(address indexed holder, LotQuantity[] lots, bytes32 recordHash);
    event CasesPacked(
        bytes32 indexed lotKey,
        address indexed holder,
        bytes14 packageGtin,
        uint32 quantity,
        bytes32[] caseIds,
        string[] serials
    );
    event CasesUnpacked(address indexed holder, bytes32[] caseIds);

    constructor(IPartners partners, IDevices devices) {
        _partners = partners;
        _devices = devices;
    }

    /// @dev A lot quantity entry resolved: its key, lot index (the lot must be registered) and
    /// quantity, which must not be zero.
    function _entry(LotQuantity calldata e) internal view returns (bytes32 key, uint32 lotIndex, uint32 q) {
        key = e.lotKey;
        q = e.quantity;
        if (q == 0) revert ItemsZeroQuantity(key);
        (lotIndex,,,) = _devices.lotForCommission(key);
    }

    function _emitBalance(uint32 lotIndex, address holder, Balance storage b) internal {
        emit LotBalance(lotIndex, holder, b.active, b.quarantined, b.inTransit);
    }

    function _requireRoot(bytes32 id) internal view returns (Item storage item) {
        item = _items[id];
        if (item.status == Status.None) revert ItemsUnknownItem(id);
        if (item.parent != 0) revert ItemsInContainer(id, _containerIds[item.parent]);
    }

    function _requireMovableRoot(bytes32 id, address holder) internal view returns (Item storage item) {
        item = _requireRoot(id);
        if (item.holder != holder) revert ItemsNotHolder(id, item.holder);
        if (item.status != Status.Active) revert ItemsWrongStatus(id, item.status);
    }

    function _requireActive(address account) internal view {
        if (!_partners.isActive(account)) revert ItemsNotActiveMember(account);
    }

    function _requireBatch(uint256 count) internal pure {
        if (count == 0 || count > MAX_BATCH) revert ItemsBatchSize(count, MAX_BATCH);
    }
}
