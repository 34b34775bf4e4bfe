// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDevices
/// @notice Products (GTIN), lots and lot recalls, as the custody contract reads them.
interface IDevices {
    /// @dev Everything the custody rules need about one lot, in one call.
    struct LotFacts {
        address manufacturer;
        uint8 deviceClass;
        int16 tempMin;
        int16 tempMax;
        uint40 lotExpiry;
        uint40 registrationExpiry;
        uint32 activeRecall;
    }

    /// @notice The facts of lot number `lotIndex` (1-based).
    function lotFacts(uint32 lotIndex) external view returns (LotFacts memory);

    /// @notice Resolve a lot key to its index, GTIN (14 ASCII digits) and manufacturer.
    function lotForCommission(bytes32 lotKey)
        external
        view
        returns (uint32 lotIndex, bytes14 gtin, address manufacturer, uint40 lotExpiry);
}
