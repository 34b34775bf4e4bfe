// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Gs1
/// @notice GS1 key checks the contracts need: digit strings, mod-10 check digits,
/// company-prefix ownership, the character set allowed in serials and lots, and the ledger
/// ids derived from GS1 keys.
/// @dev The id rule: an id is keccak256 of the canonical GS1 Digital Link path of the key,
/// `/01/<gtin14>/21/<serial>` (unit), `/01/<gtin14>/10/<lot>` (lot key), `/00/<sscc>`
/// (container), with every serial and lot percent-encoded (`pathValue`: each byte outside
/// the URI unreserved set A-Z a-z 0-9 - . _ ~ becomes %XX, upper-case hex). An encoded
/// value never holds '/', and percent-encoding is one-to-one, so a path splits back into
/// its keys in exactly one way and no two keys share an id, whatever qualifiers follow the
/// GTIN. A value of [0-9A-Za-z-._] encodes to itself: the ids the ledger already holds
/// are unchanged.
library Gs1 {
    bytes16 private constant _HEX = "0123456789ABCDEF";
    // Bit c is set for each byte c allowed: URI unreserved (A-Z a-z 0-9 - . _ ~) and GS1
    // CSET 82 (! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z).
    uint256 private constant _UNRESERVED = 0x47fffffe87fffffe03ff600000000000;
    uint256 private constant _CSET82 = 0x7fffffe87fffffeffffffe600000000;

    /// @dev GS1 mod-10 check over a digit string whose last digit is the check digit.
    function hasValidCheckDigit(bytes memory key) internal pure returns (bool) {
        uint256 n = key.length;
        if (n < 2) return false;
        uint256 sum;
        for (uint256 i; i < n - 1; ++i) {
            uint8 c = uint8(key[i]);
            if (c < 0x30 || c > 0x39) return false;
            uint256 d = c - 0x30;
            // Weights alternate 3,1,... counted from the digit next to the check digit.
            sum += ((n - 1 - i) % 2 == 1) ? d * 3 : d;
        }
        uint8 last = uint8(key[n - 1]);
        if (last < 0x30 || last > 0x39) return false;
        return (10 - (sum % 10)) % 10 == last - 0x30;
    }

    /// @dev True when `prefix` (6..12 digits) sits right after the first digit of `key`
    /// (the GTIN-14 indicator digit or the SSCC extension digit).
    function hasCompanyPrefix(bytes memory key, bytes memory prefix) internal pure returns (bool) {
        if (prefix.length < 6 || prefix.length > 12 || key.length < prefix.length + 2) return false;
        for (uint256 i; i < prefix.length; ++i) {
            if (key[i + 1] != prefix[i]) return false;
        }
        return true;
    }

    /// @dev A company prefix is 6..12 digits.
    function isCompanyPrefix(bytes memory prefix) internal pure returns (bool) {
        if (prefix.length < 6 || prefix.length > 12) return false;
        for (uint256 i; i < prefix.length; ++i) {
            uint8 c = uint8(prefix[i]);
            if (c < 0x30 || c > 0x39) return false;
        }
        return true;
    }

    /// @dev Serials and lots on the ledger use 1..20 characters of [0-9A-Za-z-._], so the
    /// Digital Link path needs no percent-encoding and every unit has exactly one id.
    function isLedgerSafe(bytes memory value) internal pure returns (bool) {
        uint256 n = value.length;
        if (n == 0 || n > 20) return false;
        for (uint256 i; i < n; ++i) {
            uint8 c = uint8(value[i]);
            bool ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == 0x2d || c == 0x2e || c == 0x5f;
            if (!ok) return false;
        }
        return true;
    }

    /// @dev A serial or lot as GS1 allows it: 1..20 characters of GS1 AI encodable
    /// character set 82 (GS1 General Specifications 7.11, figure 7.11-1):
    /// ! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z.
    function isCset82(bytes calldata value) internal pure returns (bool) {
        return value.length != 0 && value.length <= 20 && _only(value, _CSET82);
    }

    /// @dev `value` as a Digital Link path segment: each byte outside A-Z a-z 0-9 - . _ ~
    /// percent-encoded as %XX with upper-case hex (RFC 3986 2.1, 2.3).
    function pathValue(bytes calldata value) internal pure returns (bytes memory) {
        uint256 n = value.length;
        uint256 extra = 0;
        for (uint256 i; i < n; ) {
            if ((_UNRESERVED >> uint8(value[i])) & 1 == 0) extra += 2;
            // i < n <= calldata size: cannot overflow.
            unchecked {
                ++i;
            }
        }
        if (extra == 0) return value;
        bytes memory out = new bytes(n + extra);
        uint256 j = 0;
        for (uint256 i; i < n; ++i) {
            bytes1 c = value[i];
            if ((_UNRESERVED >> uint8(c)) & 1 == 1) {
                out[j++] = c;
            } else {
                out[j++] = "%";
                out[j++] = _HEX[uint8(c) >> 4];
                out[j++] = _HEX[uint8(c) & 0x0f];
            }
        }
        return out;
    }

    /// @dev The id of unit `serial` of `gtin` (14 digits): keccak256("/01/<gtin>/21/<serial>"),
    /// the serial percent-encoded (`pathValue`). A serial that needs no encoding (every
    /// ledger-safe one) is hashed straight from calldata, at the old cost.
    function unitId(bytes14 gtin, string calldata serial) internal pure returns (bytes32) {
        bytes calldata s = bytes(serial);
        if (_only(s, _UNRESERVED)) return keccak256(abi.encodePacked("/01/", gtin, "/21/", s));
        return keccak256(abi.encodePacked("/01/", gtin, "/21/", pathValue(s)));
    }

    /// @dev The key of lot `lot` of `gtin` (14 digits): keccak256("/01/<gtin>/10/<lot>"), the
    /// lot percent-encoded (`pathValue`).
    function lotKey(bytes14 gtin, string calldata lot) internal pure returns (bytes32) {
        bytes calldata l = bytes(lot);
        if (_only(l, _UNRESERVED)) return keccak256(abi.encodePacked("/01/", gtin, "/10/", l));
        return keccak256(abi.encodePacked("/01/", gtin, "/10/", pathValue(l)));
    }

    /// @dev True when every byte of `value` has its bit set in `mask` (bit c for byte c).
    function _only(bytes calldata value, uint256 mask) private pure returns (bool) {
        uint256 n = value.length;
        for (uint256 i; i < n; ) {
            if ((mask >> uint8(value[i])) & 1 == 0) return false;
            // i < n <= calldata size: cannot overflow.
            unchecked {
                ++i;
            }
        }
        return true;
    }
}
