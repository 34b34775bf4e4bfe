"""The product's one exception root, `MedLedgerError`, and the SDK's own errors.

Every error MedLedger raises on purpose derives from `MedLedgerError` (the SDK is the
lowest layer, imported by every package), so `except MedLedgerError` catches all of them:

MedLedgerError
 ├── ToolchainError          sdk: node/npm/solc missing or a compile failed
 ├── Gs1Error                sdk: a barcode or Digital Link that is not a valid UDI/SSCC
 ├── KeystoreError           sdk: a keystore that cannot be read or decrypted
 ├── CertificateError        sdk: a member certificate that fails verification
 ├── ContractError           sdk: a decoded Solidity custom error (name + args)
 ├── TransactionPending      sdk.transactions: sent, not mined within the wait
 ├── SenderBusy              sdk.transactions: the account's earlier send is still pending
 ├── DeployError             engines.deploy: an endpoint or key that cannot deploy
 ├── DevChainUnavailable      engines.devchain: eth-tester (the `dev` extra) is missing
 ├── NodeError               node.errors: the node's tree (config, store, RPC, seal, ...)
 ├── IndexerError            indexer.errors: the read model's tree (config, lock, reorg, ...)
 ├── FeedError               domain.oversight_pull: the partner API refused a feed pull
 ├── ApiError                domain.errors: a problem with a stable `code` and HTTP status
 │    ├── NotFound, Unauthorized, Forbidden, Conflict, Unprocessable, RateLimited,
 │    │   NotConfigured, OperationPending (domain.tenancy)
 │    └── EpcisError         api.epcis.errors: EPCIS capture's problems
 ├── PortalFailure           portal.errors: a failure shown on a portal page
 │    └── FormError          input the portal rejects itself
 ├── PortalStartupError      portal.errors: a page module that cannot be loaded
 ├── SignInRequired          portal.context: a visitor on a member page (redirect)
 ├── WrongRole               portal.context: a member on another role's page (403)
 ├── SignInThrottled         portal.throttle: no password may be checked yet
 └── UserError               portal.users: a portal user that cannot be created as asked
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
