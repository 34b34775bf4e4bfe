// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IPartners} from "./interfaces/IPartners.sol";
import {Gs1} from "./lib/Gs1.sol";

/// @title Partners
/// @notice Who is in the consortium: members with one role each, their status, the licences a
/// regulator attests for them, and the GS1 company prefixes they own. The node reads
/// {isActive} to decide who may send transactions; the custody contract reads {isQualified}
/// before any member may receive a device.
/// @dev The bootstrap admin (two-step handover, from OpenZeppelin's
/// AccessControlDefaultAdminRules) admits regulators; regulators admit everyone else,
/// suspend and reinstate members, attest licences and assign company prefixes.
contract Partners is AccessControlDefaultAdminRules, IPartners {
    /// @notice Platform relayers (e.g. the API operator's hot key): granted and revoked by the
    /// admin with `grantRole`/`revokeRole`; they may submit members' signed custody orders but
    /// hold no custody and no member rights.
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    /// @notice Licence kinds: production, distribution (trading), healthcare practice, logistics.
    uint8 public constant LICENCE_PRODUCTION = 1;
    uint8 public constant LICENCE_DISTRIBUTION = 2;
    uint8 public constant LICENCE_PRACTICE = 3;
    uint8 public constant LICENCE_LOGISTICS = 4;
    uint8 private constant _MAX_LICENCE_KIND = 4;
    /// @dev Bits 1..3 of a class mask stand for device classes I..III.
    uint8 private constant _CLASS_MASK_ALL = 0x0e;
    /// @dev Limits on the attested licence texts (bytes): number, other texts, scope codes.
    uint256 private constant _MAX_NUMBER = 64;
    uint256 private constant _MAX_TEXT = 200;
    uint256 private constant _MAX_SCOPE = 64;
    uint256 private constant _MAX_CODE = 16;

    mapping(address account => Member) private _members;
    mapping(address account => mapping(uint8 kind => Licence)) private _licences;
    mapping(address account => uint8 kinds) private _licenceKinds;
    mapping(bytes32 prefixHash => address owner) private _prefixOwners;
    /// @dev True for every proper prefix of an assigned company prefix, so no two members'
    /// prefixes can ever overlap (GS1 prefixes are prefix-free).
    mapping(bytes32 prefixHash => bool) private _prefixReserved;
    mapping(address member => ApprovalPolicy) private _policies;
    /// @dev A member's approved-supplier and approved-product files (首营企业/首营品种): the
    /// commitment of the sealed qualification record behind each approval (zero: not approved).
    mapping(address member => mapping(address supplier => bytes32 record)) private _approvedSuppliers;
    mapping(address member => mapping(bytes14 gtin => bytes32 record)) private _approvedProducts;
    /// @dev GS1 GLNs (13 digits) of members: who owns each (its primary GLN or one of its
    /// sites) and whether it is a registered, unretired site. One slot per GLN.
    mapping(bytes13 gln => GlnEntry) private _glns;
    mapping(address member => bytes13 gln) private _primaryGlns;

    struct GlnEntry {
        address owner;
        bool site;
    }

    error PartnersUnauthorized(address caller);
    error PartnersInvalidMember(address account);
    error PartnersAlreadyMember(address account);
    error PartnersNotMember(address account);
    error PartnersInvalidRole(Role role);
    error PartnersNotActive(address account);
    error PartnersNotSuspended(address account);
    error PartnersInvalidLicenceKind(uint8 kind);
    error PartnersInvalidClassMask(uint8 classMask);
    error PartnersLicenceAlreadyExpired(uint64 validUntil);
    error PartnersNoLicence(address account, uint8 kind);
    error PartnersInvalidPrefix(string prefix);
    error PartnersPrefixTaken(string prefix, address owner);
    error PartnersPrefixOverlaps(string prefix, string assigned);
    error PartnersInvalidLicenceText(string value);
    error PartnersInvalidScopeCode(string code);
    error PartnersInvalidGtin(string gtin);
    error PartnersInvalidSupplier(address supplier);
    error PartnersMissingRecord();
    error PartnersSupplierNotApproved(address member, address supplier);
    error PartnersProductNotApproved(address member, string gtin);
    error PartnersInvalidGln(string gln);
    error PartnersGlnTaken(string gln, address owner);
    error PartnersNoSite(string gln);
    error PartnersInvalidSiteText(string value);

    event MemberAdmitted(address indexed account, Role role, string name, address indexed by);
    /// @dev `reasonHash` is the commitment of the sealed suspension record (salted), or zero.
    event MemberSuspended(address indexed account, bytes32 reasonHash, address indexed by);
    event MemberReinstated(address indexed account, address indexed by);
    event LicenceAttested(
        address indexed account,
        uint8 indexed kind,
        string number,
        uint8 classMask,
        uint64 validUntil,
        string authority,
        string[] scope,
        string warehouseAddress,
        string province,
        address indexed by
    );
    event LicenceRevoked(address indexed account, uint8 indexed kind, address indexed by);
    event CompanyPrefixAssigned(address indexed account, string prefix, address indexed by);
    event ApprovalPolicySet(address indexed member, ApprovalPolicy policy);
    event SupplierApproved(address indexed member, address indexed supplier, bytes32 recordCommitment);
    event SupplierWithdrawn(address indexed member, address indexed supplier, bytes32 recordCommitment);
    event ProductApproved(address indexed member, string gtin, bytes32 recordCommitment);
    event ProductWithdrawn(address indexed member, string gtin, bytes32 recordCommitment);
    event PrimaryGlnSet(address indexed member, string gln, address indexed by);
    event SiteRegistered(address indexed member, string gln, string name, string nameEn, string siteAddress);
    event SiteRetired(address indexed member, string gln);

    /// @param admin The bootstrap admin; it can only admit regulators and hand itself over.
    constructor(address admin) AccessControlDefaultAdminRules(0, admin) {}

    /// @notice Admit `account` as a member with `role`.
    /// @dev Requirements: the admin admits regulators; an active regulator admits other
    /// roles. `account` is non-zero and not yet a member; `role` is not None.
    function admit(address account, Role role, string calldata name) external {
        if (role == Role.None || uint8(role) > uint8(Role.Hospital)) revert PartnersInvalidRole(role);
        if (role == Role.Regulator) {
            if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert PartnersUnauthorized(msg.sender);
        } else {
            _requireRegulator();
        }
        if (account == address(0)) revert PartnersInvalidMember(account);
        if (_members[account].role != Role.None) revert PartnersAlreadyMember(account);
        _members[account] = Member(role, MemberStatus.Active, uint64(block.timestamp));
        emit MemberAdmitted(account, role, name, msg.sender);
    }

    /// @notice Suspend an active member: from the next block it can neither send nor receive.
    /// @dev Requirements: caller is an active regulator (or the admin, for a regulator);
    /// `account` is active.
    function suspend(address account, bytes32 reasonHash) external {
        _requireAuthorityOver(account);
        if (_members[account].status != MemberStatus.Active) revert PartnersNotActive(account);
        _members[account].status = MemberStatus.Suspended;
        emit MemberSuspended(account, reasonHash, msg.sender);
    }

    /// @notice Reinstate a suspended member.
    /// @dev Requirements: as {suspend}; `account` is suspended.
    function reinstate(address account) external {
        _requireAuthorityOver(account);
        if (_members[account].status != MemberStatus.Suspended) revert PartnersNotSuspended(account);
        _members[account].status = MemberStatus.Active;
        emit MemberReinstated(account, msg.sender);
    }

    /// @notice Attest (or replace, e.g. on renewal) licence `kind` of `account`, with its
    /// public registration data in clear.
    /// @dev Requirements: caller is an active regulator; `account` is a member; `kind` is
    /// 1..4; `classMask` uses only bits 1..3 and is non-zero; `validUntil` is in the future;
    /// the number is 1..64 bytes, authority, warehouse address and province at most 200;
    /// the scope holds at most 64 codes of 1..16 digits and hyphens.
    function attestLicence(address account, uint8 kind, Licence calldata licence) external {
        _requireRegulator();
        if (_members[account].role == Role.None) revert PartnersNotMember(account);
        if (kind == 0 || kind > _MAX_LICENCE_KIND) revert PartnersInvalidLicenceKind(kind);
        uint8 classMask = licence.classMask;
        if (classMask == 0 || classMask & ~_CLASS_MASK_ALL != 0) revert PartnersInvalidClassMask(classMask);
        if (licence.validUntil <= block.timestamp) revert PartnersLicenceAlreadyExpired(licence.validUntil);
        _checkLicenceTexts(licence);
        _licences[account][kind] = licence;
        _licenceKinds[account] |= uint8(1 << kind);
        emit LicenceAttested(
            account,
            kind,
            licence.number,
            classMask,
            licence.validUntil,
            licence.authority,
            licence.scope,
            licence.warehouseAddress,
            licence.province,
            msg.sender
        );
    }

    // ---------------------------------------------------------------- approved files

    /// @notice Set what happens to goods from unapproved suppliers or of unapproved products
    /// that the caller receives (see {ApprovalPolicy}; a new member starts at Off).
    /// @dev Requirements: caller is an active member holding stock (not a regulator).
    function setApprovalPolicy(ApprovalPolicy policy) external {
        _requireTrader();
        _policies[msg.sender] = policy;
        emit ApprovalPolicySet(msg.sender, policy);
    }

    /// @notice Put `supplier` into the caller's approved-supplier file (首营企业), backed by
    /// the sealed qualification record with commitment `record`; approving again replaces it.
    /// @dev Requirements: caller is an active trading member; `supplier` is another member;
    /// `record` is non-zero.
    function approveSupplier(address supplier, bytes32 record) external {
        _requireTrader();
        if (supplier == msg.sender || _members[supplier].role == Role.None) revert PartnersInvalidSupplier(supplier);
        if (record == bytes32(0)) revert PartnersMissingRecord();
        _approvedSuppliers[msg.sender][supplier] = record;
        emit SupplierApproved(msg.sender, supplier, record);
    }

    /// @notice Take `supplier` out of the caller's approved-supplier file; `record` is the
    /// commitment of the sealed record saying why.
    /// @dev Requirements: caller is an active trading member; `supplier` is in its file.
    function withdrawSupplier(address supplier, bytes32 record) external {
        _requireTrader();
        if (_approvedSuppliers[msg.sender][supplier] == bytes32(0)) {
            revert PartnersSupplierNotApproved(msg.sender, supplier);
        }
        delete _approvedSuppliers[msg.sender][supplier];
        emit SupplierWithdrawn(msg.sender, supplier, record);
    }

    /// @notice Put product `gtin` into the caller's approved-product file (首营品种), backed
    /// by the sealed qualification record with commitment `record`.
    /// @dev Requirements: caller is an active trading member; `gtin` is 14 digits with a valid
    /// check digit; `record` is non-zero.
    function approveProduct(string calldata gtin, bytes32 record) external {
        _requireTrader();
        bytes14 key = _gtinKey(gtin);
        if (record == bytes32(0)) revert PartnersMissingRecord();
        _approvedProducts[msg.sender][key] = record;
        emit ProductApproved(msg.sender, gtin, record);
    }

    /// @notice Take product `gtin` out of the caller's approved-product file.
    /// @dev Requirements: caller is an active trading member; the product is in its file.
    function withdrawProduct(string calldata gtin, bytes32 record) external {
        _requireTrader();
        bytes14 key = _gtinKey(gtin);
        if (_approvedProducts[msg.sender][key] == bytes32(0)) revert PartnersProductNotApproved(msg.sender, gtin);
        delete _approvedProducts[msg.sender][key];
        emit ProductWithdrawn(msg.sender, gtin, record);
    }

    /// @notice The approval policy of `member`.
    function approvalPolicyOf(address member) external view returns (ApprovalPolicy) {
        return _policies[member];
    }

    /// @notice The record commitment with which `member` approved `supplier` (zero: none).
    function supplierApproval(address member, address supplier) external view returns (bytes32) {
        return _approvedSuppliers[member][supplier];
    }

    /// @inheritdoc IPartners
    function productApproval(address member, bytes14 gtin) external view returns (bytes32) {
        return _approvedProducts[member][gtin];
    }

    /// @notice Revoke licence `kind` of `account`.
    /// @dev Requirements: caller is an active regulator; the licence exists.
    function revokeLicence(address account, uint8 kind) external {
        _requireRegulator();
        if (kind == 0 || kind > _MAX_LICENCE_KIND || _licenceKinds[account] & (1 << kind) == 0) {
            revert PartnersNoLicence(account, kind);
        }
        delete _licences[account][kind];
        _licenceKinds[account] &= ~uint8(1 << kind);
        emit LicenceRevoked(account, kind, msg.sender);
    }

    /// @notice Record that `account` owns GS1 company prefix `prefix`.
    /// @dev Requirements: caller is an active regulator; `account` is a member; `prefix` is
    /// 6..12 digits, not owned by anyone, not the start of an assigned prefix, and no
    /// assigned prefix is the start of it.
    function assignCompanyPrefix(address account, string calldata prefix) external {
        _requireRegulator();
        if (_members[account].role == Role.None) revert PartnersNotMember(account);
        bytes memory p = bytes(prefix);
        if (!Gs1.isCompanyPrefix(p)) revert PartnersInvalidPrefix(prefix);
        bytes32 key = keccak256(p);
        address owner = _prefixOwners[key];
        if (owner != address(0)) revert PartnersPrefixTaken(prefix, owner);
        if (_prefixReserved[key]) revert PartnersPrefixOverlaps(prefix, "");
        for (uint256 len = 6; len < p.length; ++len) {
            bytes32 shorter = keccak256(_head(p, len));
            if (_prefixOwners[shorter] != address(0)) revert PartnersPrefixOverlaps(prefix, string(_head(p, len)));
            _prefixReserved[shorter] = true;
        }
        _prefixOwners[key] = account;
        emit CompanyPrefixAssigned(account, prefix, msg.sender);
    }

    /// @notice Set the primary GLN of member `account` (its legal entity's location).
    /// @dev Requirements: caller is an active regulator; `account` is a member; `gln` is 13
    /// digits with a valid check digit and no other member's GLN. A previous primary GLN
    /// stays the member's (it may still be a site).
    function setPrimaryGln(address account, string calldata gln) external {
        _requireRegulator();
        if (_members[account].role == Role.None) revert PartnersNotMember(account);
        bytes13 key = _glnKey(gln);
        address owner = _glns[key].owner;
        if (owner != address(0) && owner != account) revert PartnersGlnTaken(gln, owner);
        _glns[key].owner = account;
        _primaryGlns[account] = key;
        emit PrimaryGlnSet(account, gln, msg.sender);
    }

    /// @notice Register (or register again after retiring) one of the caller's sites: a
    /// warehouse, plant or pharmacy with its GLN, its name in Chinese and English and address.
    /// @dev Requirements: caller is an active member other than a regulator; `gln` is 13
    /// digits with a valid check digit, no other member's GLN and not a registered site
    /// already; `name` is 1..200 bytes, `nameEn` and `siteAddress` at most 200.
    function registerSite(
        string calldata gln,
        string calldata name,
        string calldata nameEn,
        string calldata siteAddress
    ) external {
        _requireTrader();
        bytes13 key = _glnKey(gln);
        GlnEntry memory entry = _glns[key];
        if (entry.owner != address(0) && (entry.owner != msg.sender || entry.site)) {
            revert PartnersGlnTaken(gln, entry.owner);
        }
        uint256 n = bytes(name).length;
        if (n == 0 || n > _MAX_TEXT) revert PartnersInvalidSiteText(name);
        if (bytes(nameEn).length > _MAX_TEXT) revert PartnersInvalidSiteText(nameEn);
        if (bytes(siteAddress).length > _MAX_TEXT) revert PartnersInvalidSiteText(siteAddress);
        _glns[key] = GlnEntry(msg.sender, true);
        emit SiteRegistered(msg.sender, gln, name, nameEn, siteAddress);
    }

    /// @notice Retire one of the caller's sites; its GLN stays the caller's.
    /// @dev Requirements: caller is an active member other than a regulator and `gln` is one
    /// of its registered sites.
    function retireSite(string calldata gln) external {
        _requireTrader();
        bytes13 key = _glnKey(gln);
        GlnEntry storage entry = _glns[key];
        if (entry.owner != msg.sender || !entry.site) revert PartnersNoSite(gln);
        entry.site = false;
        emit SiteRetired(msg.sender, gln);
    }

    /// @notice The member owning `gln` (zero if none) and whether it is a registered site.
    function glnOwner(string calldata gln) external view returns (address owner, bool site) {
        GlnEntry memory entry = _glns[_glnKey(gln)];
        return (entry.owner, entry.site);
    }

    /// @notice The primary GLN of `account` ("" if none).
    function primaryGlnOf(address account) external view returns (string memory) {
        bytes13 key = _primaryGlns[account];
        return key == bytes13(0) ? "" : string(abi.encodePacked(key));
    }

    /// @notice The member record of `account` (role None if never admitted).
    function memberOf(address account) external view returns (Member memory) {
        return _members[account];
    }

    /// @notice Licence `kind` of `account` (zero values if none).
    function licenceOf(address account, uint8 kind) external view returns (Licence memory) {
        return _licences[account][kind];
    }

    /// @inheritdoc IPartners
    function isActive(address account) public view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @inheritdoc IPartners
    function mayTransact(address account) external view returns (bool) {
        return isActive(account) || hasRole(RELAYER_ROLE, account) || account == defaultAdmin();
    }

    /// @inheritdoc IPartners
    function mayRelay(address account) public view returns (bool) {
        return isActive(account) || hasRole(RELAYER_ROLE, account);
    }

    /// @inheritdoc IPartners
    function activeRole(address account) external view returns (Role) {
        Member storage m = _members[account];
        return m.status == MemberStatus.Active ? m.role : Role.None;
    }

    /// @inheritdoc IPartners
    /// @dev Only licence kinds that fit the member's role count: production or distribution
    /// for a manufacturer, distribution for a distributor, logistics or distribution for a
    /// logistics provider, practice for a hospital. Regulators never hold stock.
    function isQualified(address account, uint8 deviceClass) external view returns (bool) {
        return deviceClass != 0 && deviceClass <= 3 && _qualifiedClasses(account) & (1 << deviceClass) != 0;
    }

    /// @inheritdoc IPartners
    function custodyParties(address relayer, address sender, address receiver)
        external
        view
        returns (CustodyCheck memory check)
    {
        check.relayerAllowed = mayRelay(relayer);
        check.senderActive = isActive(sender);
        check.receiverActive = isActive(receiver);
        check.senderClasses = _qualifiedClasses(sender);
        check.receiverClasses = _qualifiedClasses(receiver);
        check.policy = _policies[receiver];
        check.supplierApproved = _approvedSuppliers[receiver][sender] != bytes32(0);
    }

    /// @inheritdoc IPartners
    function holdsLicence(address account, uint8 kind, uint8 deviceClass) public view returns (bool) {
        if (deviceClass == 0 || deviceClass > 3 || kind == 0 || kind > _MAX_LICENCE_KIND) return false;
        Licence storage l = _licences[account][kind];
        return l.classMask & (1 << deviceClass) != 0 && l.validUntil > block.timestamp;
    }

    /// @inheritdoc IPartners
    function prefixOwner(string calldata prefix) external view returns (address) {
        return _prefixOwners[keccak256(bytes(prefix))];
    }

    /// @dev The class mask of every unexpired licence of a kind fitting the member's role (see
    /// {isQualified}); zero unless the member is active.
    function _qualifiedClasses(address account) private view returns (uint8 classes) {
        Member storage m = _members[account];
        if (m.status != MemberStatus.Active) return 0;
        uint8 kinds = _licenceKinds[account] & _receivingKinds(m.role);
        for (uint8 kind = 1; kind <= _MAX_LICENCE_KIND; ++kind) {
            if (kinds & (1 << kind) == 0) continue;
            Licence storage l = _licences[account][kind];
            if (l.validUntil > block.timestamp) classes |= l.classMask;
        }
    }

    function _receivingKinds(Role role) private pure returns (uint8) {
        if (role == Role.Manufacturer) return uint8((1 << LICENCE_PRODUCTION) | (1 << LICENCE_DISTRIBUTION));
        if (role == Role.Distributor) return uint8(1 << LICENCE_DISTRIBUTION);
        if (role == Role.Logistics) return uint8((1 << LICENCE_LOGISTICS) | (1 << LICENCE_DISTRIBUTION));
        if (role == Role.Hospital) return uint8(1 << LICENCE_PRACTICE);
        return 0;
    }

    function _head(bytes memory value, uint256 length) private pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = value[i];
        }
    }

    function _checkLicenceTexts(Licence calldata licence) private pure {
        uint256 n = bytes(licence.number).length;
        if (n == 0 || n > _MAX_NUMBER) revert PartnersInvalidLicenceText(licence.number);
        if (bytes(licence.authority).length > _MAX_TEXT) revert PartnersInvalidLicenceText(licence.authority);
        if (bytes(licence.warehouseAddress).length > _MAX_TEXT) {
            revert PartnersInvalidLicenceText(licence.warehouseAddress);
        }
        if (bytes(licence.province).length > _MAX_TEXT) revert PartnersInvalidLicenceText(licence.province);
        if (licence.scope.length > _MAX_SCOPE) revert PartnersInvalidScopeCode(licence.scope[_MAX_SCOPE]);
        for (uint256 i; i < licence.scope.length; ++i) {
            bytes calldata code = bytes(licence.scope[i]);
            if (code.length == 0 || code.length > _MAX_CODE) revert PartnersInvalidScopeCode(licence.scope[i]);
            for (uint256 j; j < code.length; ++j) {
                bytes1 c = code[j];
                if ((c < "0" || c > "9") && c != "-") revert PartnersInvalidScopeCode(licence.scope[i]);
            }
        }
    }

    /// @dev A GTIN as stored by Devices: its 14 ASCII digits; the check digit must be valid.
    function _gtinKey(string calldata gtin) private pure returns (bytes14) {
        bytes memory g = bytes(gtin);
        if (g.length != 14 || !Gs1.hasValidCheckDigit(g)) revert PartnersInvalidGtin(gtin);
        return bytes14(g);
    }

    /// @dev A GLN as stored: its 13 ASCII digits; the check digit must be valid.
    function _glnKey(string calldata gln) private pure returns (bytes13) {
        bytes memory g = bytes(gln);
        if (g.length != 13 || !Gs1.hasValidCheckDigit(g)) revert PartnersInvalidGln(gln);
        return bytes13(g);
    }

    /// @dev An active member that may hold stock: anyone but a regulator.
    function _requireTrader() private view {
        Member storage m = _members[msg.sender];
        if (m.status != MemberStatus.Active || m.role == Role.Regulator) revert PartnersUnauthorized(msg.sender);
    }

    function _requireRegulator() private view {
        Member storage m = _members[msg.sender];
        if (m.role != Role.Regulator || m.status != MemberStatus.Active) {
            revert PartnersUnauthorized(msg.sender);
        }
    }

    /// @dev Regulators act on non-regulators; only the admin acts on regulators.
    function _requireAuthorityOver(address account) private view {
        Role role = _members[account].role;
        if (role == Role.None) revert PartnersNotMember(account);
        if (role == Role.Regulator) {
            if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert PartnersUnauthorized(msg.sender);
        } else {
            _requireRegulator();
        }
    }
}
