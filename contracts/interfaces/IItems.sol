// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IItems
/// @notice The custody view other contracts read: who holds an item now.
interface IItems {
    /// @notice The effective state of an item: a packed item reports the holder and status
    /// of its outermost container (`status` is Items.Status: 0 = no such item). `lotIndex`
    /// is 0 for containers.
    function itemOf(bytes32 id)
        external
        view
        returns (address holder, uint8 status, bool isContainer, uint32 lotIndex, bytes32 parentId);
}

/// @title IItemLots
/// @notice Custody by quantity, read at the Items address (its fallback runs ItemsLots).
interface IItemLots {
    /// @notice A holder's loose units of a lot: Active, Quarantined, shipped and unsettled.
    function lotBalance(uint32 lotIndex, address holder)
        external
        view
        returns (uint64 active, uint64 quarantined, uint64 inTransit);

    /// @notice Units of a lot that exist by quantity: commissioned less dispensed and destroyed.
    function lotSupply(uint32 lotIndex) external view returns (uint64);

    /// @notice Base units inside a case (package-level item); zero for any other item.
    function caseQuantity(bytes32 id) external view returns (uint32);
}
