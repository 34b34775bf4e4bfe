"""The SDK's exception tree.

MedLedgerError
 ├── ToolchainError        node/npm/solc missing or a compile failed
 ├── Gs1Error              a barcode or Digital Link that is not a valid UDI/SSCC
 ├── KeystoreError         a keystore that cannot be read or decrypted
 ├── CertificateError      a member certificate that fails verification
 └── ContractError         a decoded Solidity custom error (name + args)
"""

from __future__ import annotations

from typing import Any


class MedLedgerError(Exception):
    """Base of every error the SDK raises on purpose."""


class ToolchainError(MedLedgerError):
    """The Solidity toolchain is missing or failed."""


class Gs1Error(MedLedgerError):
    """A GS1 code that cannot be turned into a UDI or SSCC.

    ``code`` is a stable machine-readable reason (for example ``bad_check_digit``,
    ``unknown_ai``, ``missing_serial``); the message names the offending value.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class KeystoreError(MedLedgerError):
    """A keystore file that is malformed or whose password is wrong."""


class CertificateError(MedLedgerError):
    """A member certificate that is invalid, expired or not issued by the CA."""


class ContractError(MedLedgerError):
    """A contract call reverted with a known custom error.

    ``name`` is the Solidity error name (``ItemsNotHolder``), ``args`` its decoded
    arguments by parameter name.
    """

    def __init__(self, name: str, args: dict[str, Any], *, contract: str | None = None) -> None:
        self.name = name
        self.args_by_name = args
        self.contract = contract
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in args.items())
        super().__init__(f"{name}({rendered})")


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value)
