// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IPartners
/// @notice Membership, roles, licences and GS1 company prefixes of the consortium.
interface IPartners {
    enum Role {
        None,
        Regulator,
        Manufacturer,
        Distributor,
        Logistics,
        Hospital
    }

    enum MemberStatus {
        None,
        Active,
        Suspended
    }

    struct Member {
        Role role;
        MemberStatus status;
        uint64 admittedAt;
    }

    /// @dev What the regulator attests: the licence number in clear (public registration
    /// data), the issuing authority, the business scope as classification codes of the
    /// medical device classification catalogue ("07", "07-03", ...), the warehouse address and
    /// province, the class mask the custody rules check, and the expiry.
    struct Licence {
        string number;
        uint8 classMask;
        uint64 validUntil;
        string authority;
        string[] scope;
        string warehouseAddress;
        string province;
    }

    /// @notice What a receiver does with goods from a supplier or of a product that is not in
    /// its approved files (首营企业/首营品种): Off (no check), Hold (the receipt succeeds but
    /// the goods land Quarantined for QA review) or Refuse (the shipment reverts).
    enum ApprovalPolicy {
        Off,
        Hold,
        Refuse
    }

    /// @notice Everything a custody handshake checks about its parties, read in one call.
    /// `senderClasses`/`receiverClasses` are class masks (bit c set when {isQualified} is
    /// true for class c); `policy` and `supplierApproved` are the receiver's approval policy
    /// and whether the sender is in its approved-supplier file.
    struct CustodyCheck {
        bool relayerAllowed;
        bool senderActive;
        bool receiverActive;
        uint8 senderClasses;
        uint8 receiverClasses;
        ApprovalPolicy policy;
        bool supplierApproved;
    }

    /// @notice True if `account` is an admitted member that is not suspended.
    function isActive(address account) external view returns (bool);

    /// @notice True if `account` may relay signed custody orders: an active member or a
    /// platform relayer.
    function mayRelay(address account) external view returns (bool);

    /// @notice True if the node should admit transactions from `account`: an active member, a
    /// platform relayer or the bootstrap admin.
    function mayTransact(address account) external view returns (bool);

    /// @notice The role of an active member, or `Role.None` if it is not active.
    function activeRole(address account) external view returns (Role);

    /// @notice True if `account` is active and holds an unexpired licence of a kind fitting its
    /// role that covers `deviceClass`: whether it may receive such a device.
    function isQualified(address account, uint8 deviceClass) external view returns (bool);

    /// @notice Everything a custody handshake checks about its parties, in one call: whether
    /// `relayer` may relay ({mayRelay}), whether `sender` and `receiver` are active
    /// ({isActive}), the device classes each is qualified for, and the receiver's approval
    /// policy and file entry for the sender (see {CustodyCheck}).
    function custodyParties(address relayer, address sender, address receiver)
        external
        view
        returns (CustodyCheck memory);

    /// @notice The qualification record commitment with which `member` approved product `gtin`
    /// (14 ASCII digits), or zero if it is not in its approved-product file.
    function productApproval(address member, bytes14 gtin) external view returns (bytes32);

    /// @notice True if `account` holds an unexpired licence of `kind` covering `deviceClass`.
    function holdsLicence(address account, uint8 kind, uint8 deviceClass) external view returns (bool);

    /// @notice The member that owns a GS1 company prefix, or the zero address.
    function prefixOwner(string calldata prefix) external view returns (address);
}
