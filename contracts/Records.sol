// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDevices} from "./interfaces/IDevices.sol";
import {IItems} from "./interfaces/IItems.sol";
import {IPartners} from "./interfaces/IPartners.sol";

/// @title Records
/// @notice Adverse-event reports and document anchors. Documents themselves (delivery notes,
/// inspection reports, temperature logs) stay off-chain, encrypted; the chain keeps a salted
/// hash, who anchored it, when, and what it is about.
/// @dev An adverse event is reported only by a member concerned by its subject (see
/// {reportAdverseEvent}): the regulator's alerts count reports per lot, so a member with no
/// part in a lot must not be able to push it over the alert threshold.
contract Records {
    struct Anchor {
        address anchoredBy;
        uint64 anchoredAt;
        uint16 kind;
    }

    IPartners private immutable _partners;
    IItems private immutable _items;
    IDevices private immutable _devices;
    mapping(bytes32 documentHash => Anchor) private _anchors;
    uint64 private _reportCount;

    error RecordsNotActiveMember(address account);
    error RecordsNotConcerned(bytes32 subjectId, address reporter);
    error RecordsInvalidSeverity(uint8 severity);
    error RecordsEmptyHash();
    error RecordsAlreadyAnchored(bytes32 documentHash, address anchoredBy);

    event AdverseEventReported(
        uint64 indexed reportId, bytes32 indexed subjectId, address indexed reporter, uint8 severity, bytes32 reportHash
    );
    event DocumentAnchored(bytes32 indexed documentHash, bytes32 indexed subjectId, address indexed by, uint16 kind);

    constructor(IPartners partners, IItems items, IDevices devices) {
        _partners = partners;
        _items = items;
        _devices = devices;
    }

    /// @notice Report an adverse event about an item or a lot (`subjectId` is its id or key).
    /// @dev Requirements: caller is an active member concerned by the subject: the regulator,
    /// the manufacturer of the item's lot or of the lot, or the item's current holder (a
    /// hospital keeps the units it dispensed; a packed item is held by its container's
    /// holder); a subject that is neither an item nor a lot concerns no one. `severity` is 1
    /// (death or serious injury) .. 3 (malfunction without harm); `reportHash` is non-zero.
    function reportAdverseEvent(bytes32 subjectId, uint8 severity, bytes32 reportHash)
        external
        returns (uint64 reportId)
    {
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (role == IPartners.Role.None) revert RecordsNotActiveMember(msg.sender);
        if (!_concerns(subjectId, msg.sender, role)) revert RecordsNotConcerned(subjectId, msg.sender);
        if (severity == 0 || severity > 3) revert RecordsInvalidSeverity(severity);
        if (reportHash == bytes32(0)) revert RecordsEmptyHash();
        reportId = ++_reportCount;
        emit AdverseEventReported(reportId, subjectId, msg.sender, severity, reportHash);
    }

    /// @notice Anchor the salted hash of an off-chain document about `subjectId`.
    /// @dev Requirements: caller is an active member; `documentHash` is non-zero and new.
    function anchorDocument(bytes32 documentHash, bytes32 subjectId, uint16 kind) external {
        if (!_partners.isActive(msg.sender)) revert RecordsNotActiveMember(msg.sender);
        if (documentHash == bytes32(0)) revert RecordsEmptyHash();
        Anchor storage a = _anchors[documentHash];
        if (a.anchoredBy != address(0)) revert RecordsAlreadyAnchored(documentHash, a.anchoredBy);
        _anchors[documentHash] = Anchor(msg.sender, uint64(block.timestamp), kind);
        emit DocumentAnchored(documentHash, subjectId, msg.sender, kind);
    }

    /// @notice Who anchored `documentHash`, when, and its kind (zero values if never).
    function anchorOf(bytes32 documentHash) external view returns (Anchor memory) {
        return _anchors[documentHash];
    }

    /// @dev Whether `subjectId` (an item id or a lot key) concerns `account`, whose active
    /// role is `role`.
    function _concerns(bytes32 subjectId, address account, IPartners.Role role) private view returns (bool) {
        (address holder, uint8 status, bool isContainer, uint32 lotIndex,) = _items.itemOf(subjectId);
        if (status != 0) {
            if (holder == account || role == IPartners.Role.Regulator) return true;
            return !isContainer && _devices.lotFacts(lotIndex).manufacturer == account;
        }
        // Not an item: a lot key, or nothing. lotForCommission reverts for an unknown lot,
        // which here means the subject concerns no one.
        try _devices.lotForCommission(subjectId) returns (uint32, bytes14, address manufacturer, uint40) {
            return role == IPartners.Role.Regulator || manufacturer == account;
        } catch {
            return false;
        }
    }
}
