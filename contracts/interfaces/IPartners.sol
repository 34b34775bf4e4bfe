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

    struct Licence {
        bytes32 numberHash;
        uint8 classMask;
        uint64 validUntil;
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
    /// ({isActive}), and the device classes `receiver` is qualified for, as a class mask
    /// (bit c set when {isQualified}(receiver, c) is true).
    function custodyParties(address relayer, address sender, address receiver)
        external
        view
        returns (bool relayerAllowed, bool senderActive, bool receiverActive, uint8 receiverClasses);

    /// @notice True if `account` holds an unexpired licence of `kind` covering `deviceClass`.
    function holdsLicence(address account, uint8 kind, uint8 deviceClass) external view returns (bool);

    /// @notice The member that owns a GS1 company prefix, or the zero address.
    function prefixOwner(string calldata prefix) external view returns (address);
}
