// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {ItemsBase} from "./ItemsBase.sol";
import {Gs1} from "./lib/Gs1.sol";

/// @title ItemsLots
/// @notice Custody by quantity for devices that are not serialised (lot + expiry only):
/// commission a quantity, dispense, quarantine and release, destroy. Shipping quantities is
/// part of {Items.ship}. Deployed by {Items} and only meaningful through its fallback
/// (delegatecall): called directly it acts on its own, empty, storage.
/// @dev A holder's loose units of a lot are one slot (`Balance`), so no call loops over holders.
/// Every state-changing function also requires, besides its own requirements, to run by
/// delegatecall from {Items} (`ItemsNotDelegated` otherwise).
contract ItemsLots is ItemsBase {
    /// @dev The Items contract that deployed this module: state changes run only in its
    /// context (by delegatecall), never on this module's own storage.
    address private immutable _itemsContract;

    error ItemsNotDelegated();

    modifier delegated() {
        if (address(this) != _itemsContract) revert ItemsNotDelegated();
        _;
    }

    constructor(IPartners partners, IDevices devices) ItemsBase(partners, devices) {
        _itemsContract = msg.sender;
    }

    // Serialised units' dispense and destroy live here too, to keep {Items} under EIP-170.

    /// @notice Dispense (use on a patient) units at a hospital.
    /// @dev Requirements: caller is an active hospital; each item is a unit, a root, held by
    /// the caller and Active; its lot is neither expired nor under an open recall.
    function dispense(bytes32[] calldata itemIds, bytes32 recordHash) external delegated {
        if (_partners.activeRole(msg.sender) != IPartners.Role.Hospital) revert ItemsUnauthorized(msg.sender);
        _requireBatch(itemIds.length);
        for (uint256 i; i < itemIds.length; ++i) {
            bytes32 id = itemIds[i];
            Item storage item = _requireMovableRoot(id, msg.sender);
            if (item.isContainer) revert ItemsIsContainer(id);
            if (item.isCase) revert ItemsIsPackage(id);
            IDevices.LotFacts memory f = _devices.lotFacts(item.ref);
            if (f.activeRecall != 0) revert ItemsRecalled(id, f.activeRecall);
            if (f.lotExpiry <= block.timestamp) revert ItemsLotExpired(id, f.lotExpiry);
            item.status = Status.Dispensed;
        }
        emit ItemsDispensed(msg.sender, itemIds, recordHash);
    }

    /// @notice Destroy root items (units, or empty containers) the caller holds.
    /// @dev Requirements: caller active; each item a root held by the caller, Active or
    /// Quarantined; a container must be empty.
    function destroy(bytes32[] calldata itemIds, bytes32 recordHash) external delegated {
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
            if (item.isCase) _lotSupply[item.ref] -= _caseQuantity[id];
            item.status = Status.Destroyed;
        }
        emit ItemsDestroyed(msg.sender, itemIds, recordHash);
    }

    /// @notice Commission `quantity` units of a lot that are not serialised: they join the
    /// manufacturer's loose Active balance of the lot.
    /// @dev Requirements: caller is the lot's manufacturer and active; the lot has not expired;
    /// `quantity > 0`; the product is tracked by lot only (not serialised).
    function commissionLot(bytes32 lotKey, uint32 quantity) external delegated {
        (uint32 lotIndex,, address manufacturer, uint40 expiry) = _devices.lotForCommission(lotKey);
        if (msg.sender != manufacturer || !_partners.isActive(msg.sender)) revert ItemsUnauthorized(msg.sender);
        if (expiry <= block.timestamp) revert ItemsLotExpired(lotKey, expiry);
        if (quantity == 0) revert ItemsZeroQuantity(lotKey);
        if (_devices.lotFacts(lotIndex).serialised) revert ItemsSerialisedLot(lotKey);
        Balance storage b = _balances[lotIndex][msg.sender];
        b.active += quantity;
        _lotSupply[lotIndex] += quantity;
        _emitBalance(lotIndex, msg.sender, b);
        emit LotCommissioned(lotKey, msg.sender, quantity);
    }

    /// @notice Dispense (use on patients) loose units at a hospital.
    /// @dev Requirements: caller is an active hospital; 1..MAX_BATCH entries; each lot known,
    /// neither under an open recall nor expired; `quantity > 0` and at most the caller's
    /// Active balance of the lot.
    function dispenseLots(LotQuantity[] calldata lots, bytes32 recordHash) external delegated {
        if (_partners.activeRole(msg.sender) != IPartners.Role.Hospital) revert ItemsUnauthorized(msg.sender);
        _requireBatch(lots.length);
        for (uint256 i; i < lots.length; ++i) {
            (bytes32 key, uint32 lotIndex, uint32 q) = _entry(lots[i]);
            IDevices.LotFacts memory f = _devices.lotFacts(lotIndex);
            if (f.activeRecall != 0) revert ItemsRecalled(key, f.activeRecall);
            if (f.lotExpiry <= block.timestamp) revert ItemsLotExpired(key, f.lotExpiry);
            Balance storage b = _balances[lotIndex][msg.sender];
            if (b.active < q) revert ItemsInsufficientQuantity(key, msg.sender, b.active, q);
            b.active -= q;
            _lotSupply[lotIndex] -= q;
            _emitBalance(lotIndex, msg.sender, b);
        }
        emit LotsDispensed(msg.sender, lots, recordHash);
    }

    /// @notice Put loose units of `holder` on hold.
    /// @dev Requirements: caller is an active member and `holder` itself or a regulator;
    /// 1..MAX_BATCH entries; each lot known; `quantity > 0` and at most the Active balance.
    function quarantineLots(address holder, LotQuantity[] calldata lots, bytes32 reasonHash) external delegated {
        _moveHeld(holder, lots, false);
        emit LotsQuarantined(msg.sender, holder, lots, reasonHash);
    }

    /// @notice Release quarantined loose units of `holder` back to Active.
    /// @dev Requirements: caller is an active member and `holder` itself or a regulator;
    /// 1..MAX_BATCH entries; each lot known; `quantity > 0` and at most the Quarantined balance.
    function releaseLots(address holder, LotQuantity[] calldata lots) external delegated {
        _moveHeld(holder, lots, true);
        emit LotsReleased(msg.sender, holder, lots);
    }

    /// @notice Destroy loose units the caller holds, quarantined ones first, then Active ones.
    /// @dev Requirements: caller active; 1..MAX_BATCH entries; each lot known; `quantity > 0`
    /// and at most the caller's Quarantined plus Active balance of the lot.
    function destroyLots(LotQuantity[] calldata lots, bytes32 recordHash) external delegated {
        _requireActive(msg.sender);
        _requireBatch(lots.length);
        for (uint256 i; i < lots.length; ++i) {
            (bytes32 key, uint32 lotIndex, uint32 q) = _entry(lots[i]);
            Balance storage b = _balances[lotIndex][msg.sender];
            uint64 fromHold = b.quarantined < q ? b.quarantined : q;
            if (b.active < q - fromHold) {
                revert ItemsInsufficientQuantity(key, msg.sender, uint256(b.active) + b.quarantined, q);
            }
            b.quarantined -= fromHold;
            b.active -= q - fromHold;
            _lotSupply[lotIndex] -= q;
            _emitBalance(lotIndex, msg.sender, b);
        }
        emit LotsDestroyed(msg.sender, lots, recordHash);
    }

    // ---------------------------------------------------------------- cases (package levels)

    /// @notice Pack loose Active units of `lot` into cases of the package level `packageGtin`
    /// (registered in Devices), one case per serial. A case is an item: it ships, packs into a
    /// pallet, is quarantined and destroyed like a unit, and its units stay inside it until
    /// {unpackCases}. Its id is that of a unit of the package GTIN, keccak256 of
    /// "/01/<packageGtin>/21/<serial>" ({Gs1.unitId}): GTIN and serial identify a trade item
    /// instance in GS1, so a scanned case code resolves like a unit's, and a package GTIN is
    /// never a product's, so no unit can share the id. The lot is the case's attribute.
    /// @dev Requirements: caller active; `packageGtin` is a registered package level; the lot
    /// of its unit product is registered; 1..MAX_BATCH serials, each 1..20 GS1 CSET 82
    /// characters and new for this package GTIN; the caller's Active balance of the lot covers
    /// all the cases.
    function packCases(string calldata packageGtin, string calldata lot, string[] calldata serials)
        external
        delegated
        returns (bytes32[] memory ids)
    {
        _requireActive(msg.sender);
        _requireBatch(serials.length);
        bytes14 package = bytes14(bytes(packageGtin));
        (,, bytes14 baseGtin, uint32 perCase) = _devices.packageOf(package);
        if (perCase == 0 || bytes(packageGtin).length != 14) revert ItemsUnknownPackage(packageGtin);
        bytes32 lotKey = Gs1.lotKey(baseGtin, lot);
        (uint32 lotIndex,,,) = _devices.lotForCommission(lotKey);
        Balance storage b = _balances[lotIndex][msg.sender];
        uint256 needed = uint256(perCase) * serials.length;
        if (b.active < needed) revert ItemsInsufficientQuantity(lotKey, msg.sender, b.active, needed);
        b.active -= uint64(needed);
        _emitBalance(lotIndex, msg.sender, b);
        ids = new bytes32[](serials.length);
        for (uint256 i; i < serials.length; ++i) {
            if (!Gs1.isCset82(bytes(serials[i]))) revert ItemsInvalidSerial(serials[i]);
            bytes32 id = Gs1.unitId(package, serials[i]);
            if (_items[id].status != Status.None) revert ItemsAlreadyExists(id);
            _items[id] = Item(msg.sender, Status.Active, false, lotIndex, 0, true);
            _caseQuantity[id] = perCase;
            ids[i] = id;
        }
        emit CasesPacked(lotKey, msg.sender, package, perCase, ids, serials);
    }

    /// @notice Open cases: each case's units return to the caller's loose Active balance of
    /// its lot, and the case becomes Unpacked for good.
    /// @dev Requirements: caller active; 1..MAX_BATCH ids; each a case, a root (not inside a
    /// container), held by the caller and Active.
    function unpackCases(bytes32[] calldata caseIds) external delegated {
        _requireActive(msg.sender);
        _requireBatch(caseIds.length);
        for (uint256 i; i < caseIds.length; ++i) {
            bytes32 id = caseIds[i];
            Item storage item = _requireMovableRoot(id, msg.sender);
            if (!item.isCase) revert ItemsNotPackage(id);
            uint32 inside = _caseQuantity[id];
            item.status = Status.Unpacked;
            Balance storage b = _balances[item.ref][msg.sender];
            b.active += inside;
            _emitBalance(item.ref, msg.sender, b);
        }
        emit CasesUnpacked(msg.sender, caseIds);
    }

    // ---------------------------------------------------------------- views
    /// @notice A holder's loose units of a lot: Active, Quarantined, and shipped but not yet
    /// settled by the receiver.
    function lotBalance(uint32 lotIndex, address holder)
        external
        view
        returns (uint64 active, uint64 quarantined, uint64 inTransit)
    {
        Balance memory b = _balances[lotIndex][holder];
        return (b.active, b.quarantined, b.inTransit);
    }

    /// @notice Units of a lot that exist by quantity (loose anywhere, in transit, in cases):
    /// commissioned minus dispensed and destroyed.
    function lotSupply(uint32 lotIndex) external view returns (uint64) {
        return _lotSupply[lotIndex];
    }

    /// @notice The loose lot quantities of a shipment (in transit while it is).
    function shipmentLots(uint64 shipmentId) external view returns (ShipmentLot[] memory) {
        return _shipmentLots[shipmentId];
    }

    /// @notice Base units inside a case (package-level item); zero for any other item.
    function caseQuantity(bytes32 id) external view returns (uint32) {
        return _caseQuantity[id];
    }


    // ---------------------------------------------------------------- internals

    function _moveHeld(address holder, LotQuantity[] calldata lots, bool release_) private {
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (role == IPartners.Role.None) revert ItemsNotActiveMember(msg.sender);
        if (holder != msg.sender && role != IPartners.Role.Regulator) revert ItemsUnauthorized(msg.sender);
        _requireBatch(lots.length);
        for (uint256 i; i < lots.length; ++i) {
            (bytes32 key, uint32 lotIndex, uint32 q) = _entry(lots[i]);
            Balance storage b = _balances[lotIndex][holder];
            uint64 available = release_ ? b.quarantined : b.active;
            if (available < q) revert ItemsInsufficientQuantity(key, holder, available, q);
            if (release_) {
                b.quarantined -= q;
                b.active += q;
            } else {
                b.active -= q;
                b.quarantined += q;
            }
            _emitBalance(lotIndex, holder, b);
        }
    }
}
