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
        bool serialised;
    }

    /// @dev A product's rule facts by GTIN (manufacturer zero if unknown). `serialised` is
    /// false for a product tracked by lot only.
    struct ProductFacts {
        address manufacturer;
        uint8 deviceClass;
        int16 tempMin;
        int16 tempMax;
        uint40 registrationExpiry;
        bool serialised;
    }

    /// @dev One packaging level: `quantity` of `childGtin` per package; `baseGtin` is the unit
    /// product the chain resolves to and `baseQuantity` the units in one package.
    /// Two slots: 112 + 32 + 112 + 32 bits.
    struct PackageLevel {
        bytes14 childGtin;
        uint32 quantity;
        bytes14 baseGtin;
        uint32 baseQuantity;
    }

    /// @notice The facts of lot number `lotIndex` (1-based).
    function lotFacts(uint32 lotIndex) external view returns (LotFacts memory);

    /// @notice The rule facts of product `gtin` (14 ASCII digits); all zero if unknown.
    function productFacts(bytes14 gtin) external view returns (ProductFacts memory);

    /// @notice The packaging level `packageGtin`: its child, the child quantity per package,
    /// and the unit product and units per package it resolves to; all zero if not a package.
    function packageOf(bytes14 packageGtin)
        external
        view
        returns (bytes14 childGtin, uint32 quantity, bytes14 baseGtin, uint32 baseQuantity);

    /// @notice The GTIN (14 ASCII digits) of lot number `lotIndex`; zero if unknown.
    function lotGtin(uint32 lotIndex) external view returns (bytes14);

    /// @notice Resolve a lot key to its index, GTIN (14 ASCII digits) and manufacturer.
    function lotForCommission(bytes32 lotKey)
        external
        view
        returns (uint32 lotIndex, bytes14 gtin, address manufacturer, uint40 lotExpiry);
}
