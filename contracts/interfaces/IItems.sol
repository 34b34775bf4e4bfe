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
