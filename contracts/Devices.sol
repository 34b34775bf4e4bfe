// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {Gs1} from "./lib/Gs1.sol";

/// @title Devices
/// @notice Products (a GTIN registered by the manufacturer that owns its company prefix, with
/// device class, registration certificate and storage range), their lots, and lot recalls.
contract Devices is IDevices {
    /// @dev One slot: 160 + 8 + 16 + 16 + 40 bits.
    struct Product {
        address manufacturer;
        uint8 deviceClass;
        int16 tempMin;
        int16 tempMax;
        uint40 registrationExpiry;
    }

    /// @dev One slot: 112 + 40 + 40 + 32 bits.
    struct Lot {
        bytes14 gtin;
        uint40 productionDate;
        uint40 expiry;
        uint32 activeRecall;
    }

    struct Recall {
        bytes32 lotKey;
        uint32 lotIndex;
        uint8 level;
        bool open;
        address initiator;
    }

    /// @dev Partners.LICENCE_PRODUCTION.
    uint8 private constant _LICENCE_PRODUCTION = 1;

    IPartners private immutable _partners;

    mapping(bytes14 gtin => Product) private _products;
    mapping(bytes14 gtin => bytes32) private _certificateHashes;
    mapping(uint32 lotIndex => Lot) private _lots;
    mapping(bytes32 lotKey => uint32 lotIndex) private _lotIndexes;
    mapping(uint32 recallId => Recall) private _recalls;
    uint32 private _lotCount;
    uint32 private _recallCount;

    error DevicesUnauthorized(address caller);
    error DevicesNotLicensed(address manufacturer, uint8 deviceClass);
    error DevicesInvalidGtin(string gtin);
    error DevicesPrefixNotOwned(string prefix, address caller);
    error DevicesProductExists(string gtin);
    error DevicesUnknownProduct(string gtin);
    error DevicesInvalidDeviceClass(uint8 deviceClass);
    error DevicesInvalidTemperatureRange(int16 tempMin, int16 tempMax);
    error DevicesRegistrationExpired(string gtin, uint40 registrationExpiry);
    error DevicesInvalidLotNumber(string lot);
    error DevicesLotExists(bytes32 lotKey);
    error DevicesInvalidLotDates(uint40 productionDate, uint40 expiry);
    error DevicesUnknownLot(bytes32 lotKey);
    error DevicesInvalidRecallLevel(uint8 level);
    error DevicesLotAlreadyRecalled(bytes32 lotKey, uint32 recallId);
    error DevicesUnknownRecall(uint32 recallId);
    error DevicesRecallClosed(uint32 recallId);

    event ProductRegistered(
        bytes14 indexed gtin,
        address indexed manufacturer,
        uint8 deviceClass,
        int16 tempMin,
        int16 tempMax,
        bytes32 certificateHash,
        uint40 registrationExpiry
    );
    event RegistrationRenewed(bytes14 indexed gtin, bytes32 certificateHash, uint40 registrationExpiry);
    event LotRegistered(
        bytes32 indexed lotKey,
        bytes14 indexed gtin,
        uint32 lotIndex,
        string lot,
        uint40 productionDate,
        uint40 expiry,
        bytes32 qcReleaseHash
    );
    event RecallOpened(
        uint32 indexed recallId,
        bytes32 indexed lotKey,
        address indexed initiator,
        uint8 level,
        bytes32 reasonHash
    );
    event RecallClosed(uint32 indexed recallId, bytes32 indexed lotKey, address indexed by, bytes32 outcomeHash);

    constructor(IPartners partners) {
        _partners = partners;
    }

    /// @notice Register a GTIN-14 under the caller's company prefix.
    /// @dev Requirements: caller is an active manufacturer that owns `companyPrefix`; `gtin`
    /// is 14 digits with a valid check digit and carries that prefix; not yet registered;
    /// `deviceClass` is 1..3 and covered by the caller's valid production licence;
    /// `tempMin <= tempMax` (tenths of a degree Celsius); the registration certificate has
    /// not expired.
    function registerProduct(
        string calldata gtin,
        string calldata companyPrefix,
        uint8 deviceClass,
        bytes32 certificateHash,
        uint40 registrationExpiry,
        int16 tempMin,
        int16 tempMax
    ) external {
        if (_partners.activeRole(msg.sender) != IPartners.Role.Manufacturer) revert DevicesUnauthorized(msg.sender);
        bytes memory g = bytes(gtin);
        if (g.length != 14 || !Gs1.hasValidCheckDigit(g)) revert DevicesInvalidGtin(gtin);
        if (!Gs1.hasCompanyPrefix(g, bytes(companyPrefix)) || _partners.prefixOwner(companyPrefix) != msg.sender) {
            revert DevicesPrefixNotOwned(companyPrefix, msg.sender);
        }
        bytes14 key = bytes14(g);
        if (_products[key].manufacturer != address(0)) revert DevicesProductExists(gtin);
        if (deviceClass == 0 || deviceClass > 3) revert DevicesInvalidDeviceClass(deviceClass);
        if (!_partners.holdsLicence(msg.sender, _LICENCE_PRODUCTION, deviceClass)) {
            revert DevicesNotLicensed(msg.sender, deviceClass);
        }
        if (tempMin > tempMax) revert DevicesInvalidTemperatureRange(tempMin, tempMax);
        if (registrationExpiry <= block.timestamp) revert DevicesRegistrationExpired(gtin, registrationExpiry);
        _products[key] = Product(msg.sender, deviceClass, tempMin, tempMax, registrationExpiry);
        _certificateHashes[key] = certificateHash;
        emit ProductRegistered(
            key, msg.sender, deviceClass, tempMin, tempMax, certificateHash, registrationExpiry
        );
    }

    /// @notice Record a renewed registration certificate for a product.
    /// @dev Requirements: caller is the product's manufacturer and active; new expiry in the future.
    function renewRegistration(string calldata gtin, bytes32 certificateHash, uint40 registrationExpiry)
        external
    {
        bytes14 key = _requireOwnProduct(gtin);
        if (registrationExpiry <= block.timestamp) revert DevicesRegistrationExpired(gtin, registrationExpiry);
        _products[key].registrationExpiry = registrationExpiry;
        _certificateHashes[key] = certificateHash;
        emit RegistrationRenewed(key, certificateHash, registrationExpiry);
    }

    /// @notice Register lot `lot` of product `gtin`; its key is keccak256("/01/<gtin>/10/<lot>").
    /// @dev Requirements: caller is the product's active manufacturer; `lot` is 1..20 chars of
    /// [0-9A-Za-z-._]; the lot is new; `productionDate < expiry` (unix seconds).
    function registerLot(
        string calldata gtin,
        string calldata lot,
        uint40 productionDate,
        uint40 expiry,
        bytes32 qcReleaseHash
    ) external returns (uint32 lotIndex) {
        bytes14 key = _requireOwnProduct(gtin);
        if (!Gs1.isLedgerSafe(bytes(lot))) revert DevicesInvalidLotNumber(lot);
        if (productionDate >= expiry || expiry <= block.timestamp) {
            revert DevicesInvalidLotDates(productionDate, expiry);
        }
        bytes32 lotKey = keccak256(abi.encodePacked("/01/", gtin, "/10/", lot));
        if (_lotIndexes[lotKey] != 0) revert DevicesLotExists(lotKey);
        lotIndex = ++_lotCount;
        _lotIndexes[lotKey] = lotIndex;
        _lots[lotIndex] = Lot(key, productionDate, expiry, 0);
        emit LotRegistered(lotKey, key, lotIndex, lot, productionDate, expiry, qcReleaseHash);
    }

    /// @notice Open a recall of a whole lot. While it is open, the lot's items move only back
    /// to the manufacturer or to destruction, and cannot be dispensed.
    /// @dev Requirements: caller is the lot's active manufacturer or an active regulator;
    /// `level` is 1..3 (1 most severe); the lot has no open recall.
    function recallLot(bytes32 lotKey, uint8 level, bytes32 reasonHash) external returns (uint32 recallId) {
        uint32 lotIndex = _requireLot(lotKey);
        Lot storage l = _lots[lotIndex];
        _requireManufacturerOrRegulator(_products[l.gtin].manufacturer);
        if (level == 0 || level > 3) revert DevicesInvalidRecallLevel(level);
        if (l.activeRecall != 0) revert DevicesLotAlreadyRecalled(lotKey, l.activeRecall);
        recallId = ++_recallCount;
        _recalls[recallId] = Recall(lotKey, lotIndex, level, true, msg.sender);
        l.activeRecall = recallId;
        emit RecallOpened(recallId, lotKey, msg.sender, level, reasonHash);
    }

    /// @notice Close an open recall; the lot's items may move normally again.
    /// @dev Requirements: caller is an active regulator, or the lot's active manufacturer when
    /// the manufacturer opened the recall itself; the recall exists and is open.
    function closeRecall(uint32 recallId, bytes32 outcomeHash) external {
        Recall storage r = _recalls[recallId];
        if (r.lotIndex == 0) revert DevicesUnknownRecall(recallId);
        if (!r.open) revert DevicesRecallClosed(recallId);
        Lot storage l = _lots[r.lotIndex];
        address manufacturer = _products[l.gtin].manufacturer;
        // A recall ordered by a regulator is closed by a regulator.
        _requireManufacturerOrRegulator(r.initiator == manufacturer ? manufacturer : address(0));
        r.open = false;
        l.activeRecall = 0;
        emit RecallClosed(recallId, r.lotKey, msg.sender, outcomeHash);
    }

    /// @notice Product facts by GTIN (manufacturer zero if unknown) and its certificate hash.
    function productOf(string calldata gtin) external view returns (Product memory, bytes32 certificateHash) {
        bytes14 key = bytes14(bytes(gtin));
        return (_products[key], _certificateHashes[key]);
    }

    /// @notice Lot record and index by lot key (index zero if unknown).
    function lotOf(bytes32 lotKey) external view returns (Lot memory lot, uint32 lotIndex) {
        lotIndex = _lotIndexes[lotKey];
        lot = _lots[lotIndex];
    }

    /// @notice A recall record by id.
    function recallOf(uint32 recallId) external view returns (Recall memory) {
        return _recalls[recallId];
    }

    /// @inheritdoc IDevices
    function lotFacts(uint32 lotIndex) external view returns (LotFacts memory facts) {
        Lot storage l = _lots[lotIndex];
        Product storage p = _products[l.gtin];
        facts = LotFacts(
            p.manufacturer, p.deviceClass, p.tempMin, p.tempMax, l.expiry, p.registrationExpiry, l.activeRecall
        );
    }

    /// @inheritdoc IDevices
    function lotForCommission(bytes32 lotKey)
        external
        view
        returns (uint32 lotIndex, bytes14 gtin, address manufacturer, uint40 lotExpiry)
    {
        lotIndex = _requireLot(lotKey);
        Lot storage l = _lots[lotIndex];
        return (lotIndex, l.gtin, _products[l.gtin].manufacturer, l.expiry);
    }

    function _requireOwnProduct(string calldata gtin) private view returns (bytes14 key) {
        if (bytes(gtin).length != 14) revert DevicesInvalidGtin(gtin);
        key = bytes14(bytes(gtin));
        address manufacturer = _products[key].manufacturer;
        if (manufacturer == address(0)) revert DevicesUnknownProduct(gtin);
        if (manufacturer != msg.sender || !_partners.isActive(msg.sender)) revert DevicesUnauthorized(msg.sender);
    }

    function _requireLot(bytes32 lotKey) private view returns (uint32 lotIndex) {
        lotIndex = _lotIndexes[lotKey];
        if (lotIndex == 0) revert DevicesUnknownLot(lotKey);
    }

    function _requireManufacturerOrRegulator(address manufacturer) private view {
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (role != IPartners.Role.Regulator && !(msg.sender == manufacturer && role != IPartners.Role.None)) {
            revert DevicesUnauthorized(msg.sender);
        }
    }
}
