// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Gs1
/// @notice GS1 key checks the contracts need: digit strings, mod-10 check digits,
/// company-prefix ownership and the character set allowed in serials and lots.
library Gs1 {
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
}
