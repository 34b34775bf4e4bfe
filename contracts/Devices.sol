// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDevices} from "./interfaces/IDevices.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {Gs1} from "./lib/Gs1.sol";

/// @title Devices
/// @notice Products (a GTIN registered by the manufacturer that owns its company prefix, with
/// device class, registration certificate and storage range), their lots, and lot recalls.
contract Devices is IDevices {
    /// @dev The master-data anchor of one product: version 0 means none yet.
    struct MasterAnchor {
        uint32 version;
        bytes32 masterHash;
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

    /// @dev ProductFacts is one slot: 160 + 8 + 16 + 16 + 40 + 8 bits.
    mapping(bytes14 gtin => ProductFacts) private _products;
    mapping(bytes14 gtin => bytes32) private _certificateHashes;
    mapping(uint32 lotIndex => Lot) private _lots;
    mapping(bytes32 lotKey => uint32 lotIndex) private _lotIndexes;
    mapping(uint32 recallId => Recall) private _recalls;
    mapping(bytes14 packageGtin => PackageLevel) private _packages;
    mapping(bytes14 gtin => MasterAnchor) private _masterData;
    uint32 private _lotCount;
    uint32 private _recallCount;
    mapping(uint32 recallId => uint32 version) private _noticeVersions;

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
    error DevicesRecallNotHolder(uint32 recallId, address account);
    error DevicesPackageExists(bytes14 packageGtin);
    error DevicesUnknownChild(bytes14 childGtin);
    error DevicesInvalidPackageQuantity(uint32 quantity);
    error DevicesMasterDataUnchanged(bytes14 gtin, uint32 version);
    error DevicesPackagePrefixNotOwned(bytes14 packageGtin, address caller);

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
    /// @dev A new version of the recall notice (action changed, scope widened): its salted
    /// commitment; version 1 is the notice `RecallOpened` committed to as `reasonHash`.
    event RecallUpdated(uint32 indexed recallId, address indexed by, uint32 version, bytes32 noticeCommitment);
    /// @dev A holder's signed acknowledgement of the recall notice: the salted commitment of
    /// its record (the notice version read, units returned, destroyed, a note).
    event RecallAcknowledged(uint32 indexed recallId, address indexed holder, bytes32 commitment);
    /// @dev Emitted after ProductRegistered by `registerProductTracked`; a product without it
    /// is serialised.
    event ProductTracking(bytes14 indexed gtin, bool serialised);
    event PackageLevelRegistered(bytes14 indexed packageGtin, bytes14 indexed childGtin, uint32 quantity);
    event MasterDataAnchored(bytes14 indexed gtin, uint32 version, bytes32 masterHash);

    constructor(IPartners partners) {
        _partners = partners;
    }

    /// @notice Register a serialised GTIN-14 (every unit carries its own serial) under the
    /// caller's company prefix.
    /// @dev Requirements: caller is an active manufacturer that owns `companyPrefix`; `gtin`
    /// is 14 digits with a valid check digit and carries that prefix; not yet registered as a
    /// product or a package level; `deviceClass` is 1..3 and covered by the caller's valid
    /// production licence; `tempMin <= tempMax` (tenths of a degree Celsius); the registration
    /// certificate has not expired.
    function registerProduct(
        string calldata gtin,
        string calldata companyPrefix,
        uint8 deviceClass,
        bytes32 certificateHash,
        uint40 registrationExpiry,
        int16 tempMin,
        int16 tempMax
    ) external {
        _registerProduct(gtin, companyPrefix, deviceClass, certificateHash, registrationExpiry, tempMin, tempMax, true);
    }

    /// @notice Register a GTIN-14 that is either serialised (`serialised`) or tracked by lot
    /// only (units carry no serial; custody moves quantities of a lot).
    /// @dev Requirements: those of `registerProduct`.
    function registerProductTracked(
        string calldata gtin,
        string calldata companyPrefix,
        uint8 deviceClass,
        bytes32 certificateHash,
        uint40 registrationExpiry,
        int16 tempMin,
        int16 tempMax,
        bool serialised
    ) external {
        _registerProduct(
            gtin, companyPrefix, deviceClass, certificateHash, registrationExpiry, tempMin, tempMax, serialised
        );
        emit ProductTracking(bytes14(bytes(gtin)), serialised);
    }

    /// @notice Register a packaging level: `packageGtin` holds `quantity` of `childGtin` (a
    /// product or a smaller package level), e.g. a box of 10 units or a case of 20 boxes.
    /// @dev Requirements: caller is the active manufacturer of `childGtin`, which is a
    /// registered product or package level; `packageGtin` is 14 digits with a valid check
    /// digit under a company prefix the caller owns; it is neither a product nor a package
    /// level yet (so no cycle can form); `quantity >= 1` and the units in the package fit in
    /// a uint32.
    function registerPackageLevel(string calldata packageGtin, string calldata childGtin, uint32 quantity)
        external
    {
        bytes memory g = bytes(packageGtin);
        if (g.length != 14 || !Gs1.hasValidCheckDigit(g)) revert DevicesInvalidGtin(packageGtin);
        if (bytes(childGtin).length != 14) revert DevicesInvalidGtin(childGtin);
        bytes14 child = bytes14(bytes(childGtin));
        (bytes14 base, uint32 baseQuantity) = _unitOf(child);
        if (base == bytes14(0)) revert DevicesUnknownChild(child);
        address manufacturer = _products[base].manufacturer;
        if (manufacturer != msg.sender || !_partners.isActive(msg.sender)) revert DevicesUnauthorized(msg.sender);
        bytes14 key = bytes14(g);
        if (!_ownsPrefixOf(g)) revert DevicesPackagePrefixNotOwned(key, msg.sender);
        if (_products[key].manufacturer != address(0) || _packages[key].quantity != 0) {
            revert DevicesPackageExists(key);
        }
        uint256 units = uint256(baseQuantity) * quantity;
        if (quantity == 0 || units > type(uint32).max) revert DevicesInvalidPackageQuantity(quantity);
        _packages[key] = PackageLevel(child, quantity, base, uint32(units));
        emit PackageLevelRegistered(key, child, quantity);
    }

    /// @notice Anchor a new version of the product's public master data (name, model,
    /// registration number, classification code, packaging, storage conditions) as the
    /// keccak256 of its canonical JSON; the record itself is public and kept by the read model.
    /// @dev Requirements: caller is the product's active manufacturer; `masterHash` is not
    /// zero and differs from the current version's.
    function updateMasterData(string calldata gtin, bytes32 masterHash) external returns (uint32 version) {
        bytes14 key = _requireOwnProduct(gtin);
        MasterAnchor storage a = _masterData[key];
        if (masterHash == bytes32(0) || masterHash == a.masterHash) {
            revert DevicesMasterDataUnchanged(key, a.version);
        }
        version = ++a.version;
        a.masterHash = masterHash;
        emit MasterDataAnchored(key, version, masterHash);
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

    /// @notice Register lot `lot` of product `gtin`; its key is keccak256 of the Digital Link
    /// path "/01/<gtin>/10/<lot>", the lot percent-encoded ({Gs1.lotKey}).
    /// @dev Requirements: caller is the product's active manufacturer; `lot` is 1..20 GS1
    /// CSET 82 characters; the lot is new; `productionDate < expiry` (unix seconds).
    function registerLot(
        string calldata gtin,
        string calldata lot,
        uint40 productionDate,
        uint40 expiry,
        bytes32 qcReleaseHash
    ) external returns (uint32 lotIndex) {
        bytes14 key = _requireOwnProduct(gtin);
        if (!Gs1.isCset82(bytes(lot))) revert DevicesInvalidLotNumber(lot);
        if (productionDate >= expiry || expiry <= block.timestamp) {
            revert DevicesInvalidLotDates(productionDate, expiry);
        }
        bytes32 lotKey = Gs1.lotKey(key, lot);
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

    /// @notice Publish a new version of an open recall's notice (the action changed, the
    /// scope widened); `noticeCommitment` is the salted commitment of its sealed record.
    /// @dev Requirements: as {closeRecall}: an active regulator, or the lot's active
    /// manufacturer when it opened the recall itself; the recall exists and is open.
    function updateRecall(uint32 recallId, bytes32 noticeCommitment) external returns (uint32 version) {
        Recall storage r = _requireOpenRecall(recallId);
        address manufacturer = _products[_lots[r.lotIndex].gtin].manufacturer;
        _requireManufacturerOrRegulator(r.initiator == manufacturer ? manufacturer : address(0));
        uint32 previous = _noticeVersions[recallId];
        version = (previous == 0 ? 1 : previous) + 1;
        _noticeVersions[recallId] = version;
        emit RecallUpdated(recallId, msg.sender, version, noticeCommitment);
    }

    /// @notice Acknowledge an open recall's notice as a holder, signed by the holder's own
    /// key; `commitment` is the salted commitment of the acknowledgement record (the notice
    /// version read, the units returned and destroyed, a note). Acknowledging again adds a
    /// later record (e.g. more units returned).
    /// @dev Requirements: the recall exists and is open; the caller is an active member that
    /// can hold field stock: not a regulator and not the lot's manufacturer (which runs the
    /// recall). Whether the lot reached the caller is custody's fact (`Items`), which this
    /// contract does not read; the read model counts acknowledgements of holders only.
    function acknowledgeRecall(uint32 recallId, bytes32 commitment) external {
        Recall storage r = _requireOpenRecall(recallId);
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (
            role == IPartners.Role.None || role == IPartners.Role.Regulator
                || msg.sender == _products[_lots[r.lotIndex].gtin].manufacturer
        ) revert DevicesRecallNotHolder(recallId, msg.sender);
        emit RecallAcknowledged(recallId, msg.sender, commitment);
    }

    /// @notice The current version of a recall's notice (1 until updated; 0 if unknown).
    function recallNoticeVersion(uint32 recallId) external view returns (uint32) {
        if (_recalls[recallId].lotIndex == 0) return 0;
        uint32 version = _noticeVersions[recallId];
        return version == 0 ? 1 : version;
    }

    /// @notice Product facts by GTIN (manufacturer zero if unknown) and its certificate hash.
    function productOf(string calldata gtin) external view returns (ProductFacts memory, bytes32 certificateHash) {
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
        ProductFacts storage p = _products[l.gtin];
        facts = LotFacts(
            p.manufacturer,
            p.deviceClass,
            p.tempMin,
            p.tempMax,
            l.expiry,
            p.registrationExpiry,
            l.activeRecall,
            p.serialised
        );
    }

    /// @inheritdoc IDevices
    function productFacts(bytes14 gtin) external view returns (ProductFacts memory) {
        return _products[gtin];
    }

    /// @inheritdoc IDevices
    function packageOf(bytes14 packageGtin)
        external
        view
        returns (bytes14 childGtin, uint32 quantity, bytes14 baseGtin, uint32 baseQuantity)
    {
        PackageLevel storage p = _packages[packageGtin];
        return (p.childGtin, p.quantity, p.baseGtin, p.baseQuantity);
    }

    /// @notice The current master-data anchor of a product (version 0: none yet).
    function masterDataOf(bytes14 gtin) external view returns (uint32 version, bytes32 masterHash) {
        MasterAnchor storage a = _masterData[gtin];
        return (a.version, a.masterHash);
    }

    /// @inheritdoc IDevices
    function lotGtin(uint32 lotIndex) external view returns (bytes14) {
        return _lots[lotIndex].gtin;
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

    function _registerProduct(
        string calldata gtin,
        string calldata companyPrefix,
        uint8 deviceClass,
        bytes32 certificateHash,
        uint40 registrationExpiry,
        int16 tempMin,
        int16 tempMax,
        bool serialised
    ) private {
        if (_partners.activeRole(msg.sender) != IPartners.Role.Manufacturer) revert DevicesUnauthorized(msg.sender);
        bytes memory g = bytes(gtin);
        if (g.length != 14 || !Gs1.hasValidCheckDigit(g)) revert DevicesInvalidGtin(gtin);
        if (!Gs1.hasCompanyPrefix(g, bytes(companyPrefix)) || _partners.prefixOwner(companyPrefix) != msg.sender) {
            revert DevicesPrefixNotOwned(companyPrefix, msg.sender);
        }
        bytes14 key = bytes14(g);
        if (_products[key].manufacturer != address(0) || _packages[key].quantity != 0) {
            revert DevicesProductExists(gtin);
        }
        if (deviceClass == 0 || deviceClass > 3) revert DevicesInvalidDeviceClass(deviceClass);
        if (!_partners.holdsLicence(msg.sender, _LICENCE_PRODUCTION, deviceClass)) {
            revert DevicesNotLicensed(msg.sender, deviceClass);
        }
        if (tempMin > tempMax) revert DevicesInvalidTemperatureRange(tempMin, tempMax);
        if (registrationExpiry <= block.timestamp) revert DevicesRegistrationExpired(gtin, registrationExpiry);
        _products[key] = ProductFacts(msg.sender, deviceClass, tempMin, tempMax, registrationExpiry, serialised);
        _certificateHashes[key] = certificateHash;
        emit ProductRegistered(
            key, msg.sender, deviceClass, tempMin, tempMax, certificateHash, registrationExpiry
        );
    }

    /// @dev The unit GTIN and units per `gtin`: itself and 1 for a product, its resolved base
    /// for a package level, zero for neither.
    function _unitOf(bytes14 gtin) private view returns (bytes14 base, uint32 units) {
        if (_products[gtin].manufacturer != address(0)) return (gtin, 1);
        PackageLevel storage p = _packages[gtin];
        return (p.baseGtin, p.baseQuantity);
    }

    /// @dev True when a company prefix (6..12 digits after the indicator digit) of `gtin` is
    /// owned by the caller.
    function _ownsPrefixOf(bytes memory gtin) private view returns (bool) {
        for (uint256 n = 6; n <= 12; ++n) {
            bytes memory prefix = new bytes(n);
            for (uint256 i; i < n; ++i) {
                prefix[i] = gtin[i + 1];
            }
            if (_partners.prefixOwner(string(prefix)) == msg.sender) return true;
        }
        return false;
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

    function _requireOpenRecall(uint32 recallId) private view returns (Recall storage r) {
        r = _recalls[recallId];
        if (r.lotIndex == 0) revert DevicesUnknownRecall(recallId);
        if (!r.open) revert DevicesRecallClosed(recallId);
    }

    function _requireManufacturerOrRegulator(address manufacturer) private view {
        IPartners.Role role = _partners.activeRole(msg.sender);
        if (role != IPartners.Role.Regulator && !(msg.sender == manufacturer && role != IPartners.Role.None)) {
            revert DevicesUnauthorized(msg.sender);
        }
    }
}
