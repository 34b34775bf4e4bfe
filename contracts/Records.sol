// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IPartners} from "./interfaces/IPartners.sol";

/// @title Records
/// @notice Adverse-event reports and document anchors. Documents themselves (delivery notes,
/// inspection reports, temperature logs) stay off-chain, encrypted; the chain keeps a salted
/// hash, who anchored it, when, and what it is about.
contract Records {
    struct Anchor {
        address anchoredBy;
        uint64 anchoredAt;
        uint16 kind;
    }

    IPartners private immutable _partners;
    mapping(bytes32 documentHash => Anchor) private _anchors;
    uint64 private _reportCount;

    error RecordsNotActiveMember(address account);
    error RecordsInvalidSeverity(uint8 severity);
    error RecordsEmptyHash();
    error RecordsAlreadyAnchored(bytes32 documentHash, address anchoredBy);

    event AdverseEventReported(
        uint64 indexed reportId, bytes32 indexed subjectId, address indexed reporter, uint8 severity, bytes32 reportHash
    );
    event DocumentAnchored(bytes32 indexed documentHash, bytes32 indexed subjectId, address indexed by, uint16 kind);

    constructor(IPartners partners) {
        _partners = partners;
    }

    /// @notice Report an adverse event about an item or a lot (`subjectId` is its id or key).
    /// @dev Requirements: caller is an active member; `severity` is 1 (death or serious
    /// injury) .. 3 (malfunction without harm); `reportHash` is non-zero.
    function reportAdverseEvent(bytes32 subjectId, uint8 severity, bytes32 reportHash)
        external
        returns (uint64 reportId)
    {
        if (!_partners.isActive(msg.sender)) revert RecordsNotActiveMember(msg.sender);
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
}
