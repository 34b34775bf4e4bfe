"""Errors of the domain layer, with the HTTP status and stable code each is answered with
(the problem+json rendering is `web.problems`).

    ApiError (MedLedgerError)     a problem with a stable machine-readable `code`
     ├── NotFound                 404
     ├── Unauthorized             401
     ├── Forbidden                403
     ├── Conflict                 409  (a ledger rule refused the operation)
     ├── Unprocessable            422  (well-formed but unacceptable input)
     ├── RateLimited              429  (with Retry-After)
     ├── NotConfigured            503  (a feature whose secret or key is not configured)
     └── (elsewhere) OperationPending (domain.tenancy), EpcisError (api.epcis.errors)

The whole product's tree, from `MedLedgerError` down, is drawn in `sdk.errors`.

A `ContractError` is answered with the Solidity error's name as its code and the status
`CONTRACT_ERROR_STATUS` gives it (one table for every custom error of the contracts); the
codes the error handlers give themselves are `ProblemCode`. A `Gs1Error` is a 400 with the
GS1 reason as code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from medledger.sdk.errors import ContractError, MedLedgerError

__all__ = [
    "CONTRACT_ERROR_STATUS",
    "ApiError",
    "Conflict",
    "Forbidden",
    "NotConfigured",
    "NotFound",
    "ProblemCode",
    "RateLimited",
    "Unauthorized",
    "Unprocessable",
    "contract_error_status",
]

# The status of each Solidity custom error the contracts (and the OpenZeppelin code they
# use) revert with; its problem code is its name. 422: the request itself was malformed;
# 409: a ledger rule refused it. `tests/portal/test_error_texts.py` checks that the table
# names exactly the errors of the compiled ABIs, and that each has text in both portal
# languages.
CONFLICT, MALFORMED = 409, 422
CONTRACT_ERROR_STATUS: dict[str, int] = {
    # Partners (members, roles, licences, company prefixes)
    "PartnersAlreadyMember": CONFLICT,
    "PartnersInvalidClassMask": MALFORMED,
    "PartnersInvalidLicenceKind": MALFORMED,
    "PartnersInvalidMember": MALFORMED,
    "PartnersInvalidPrefix": MALFORMED,
    "PartnersInvalidRole": MALFORMED,
    "PartnersLicenceAlreadyExpired": CONFLICT,
    "PartnersNoLicence": CONFLICT,
    "PartnersNotActive": CONFLICT,
    "PartnersNotMember": CONFLICT,
    "PartnersNotSuspended": CONFLICT,
    "PartnersPrefixOverlaps": CONFLICT,
    "PartnersPrefixTaken": CONFLICT,
    "PartnersUnauthorized": CONFLICT,
    "PartnersInvalidLicenceText": MALFORMED,
    "PartnersInvalidScopeCode": MALFORMED,
    "PartnersInvalidGtin": MALFORMED,
    "PartnersInvalidSupplier": MALFORMED,
    "PartnersMissingRecord": MALFORMED,
    "PartnersSupplierNotApproved": CONFLICT,
    "PartnersProductNotApproved": CONFLICT,
    "PartnersInvalidGln": MALFORMED,
    "PartnersGlnTaken": CONFLICT,
    "PartnersNoSite": CONFLICT,
    "PartnersInvalidSiteText": MALFORMED,
    # Devices (products, lots, recalls)
    "DevicesInvalidDeviceClass": MALFORMED,
    "DevicesInvalidGtin": MALFORMED,
    "DevicesInvalidLotDates": MALFORMED,
    "DevicesInvalidLotNumber": MALFORMED,
    "DevicesInvalidRecallLevel": MALFORMED,
    "DevicesInvalidTemperatureRange": MALFORMED,
    "DevicesLotAlreadyRecalled": CONFLICT,
    "DevicesLotExists": CONFLICT,
    "DevicesNotLicensed": CONFLICT,
    "DevicesPrefixNotOwned": CONFLICT,
    "DevicesProductExists": CONFLICT,
    "DevicesRecallClosed": CONFLICT,
    "DevicesRecallNotHolder": CONFLICT,
    "DevicesRegistrationExpired": CONFLICT,
    "DevicesUnauthorized": CONFLICT,
    "DevicesUnknownLot": MALFORMED,
    "DevicesUnknownProduct": MALFORMED,
    "DevicesUnknownRecall": MALFORMED,
    "DevicesPackageExists": CONFLICT,
    "DevicesUnknownChild": MALFORMED,
    "DevicesInvalidPackageQuantity": MALFORMED,
    "DevicesMasterDataUnchanged": CONFLICT,
    "DevicesPackagePrefixNotOwned": CONFLICT,
    # Items (units, containers, custody)
    "ItemsAlreadyExists": CONFLICT,
    "ItemsBatchSize": MALFORMED,
    "ItemsContainerNotEmpty": CONFLICT,
    "ItemsExpiredSignature": CONFLICT,
    "ItemsInContainer": CONFLICT,
    "ItemsInvalidSerial": MALFORMED,
    "ItemsInvalidSigner": MALFORMED,
    "ItemsInvalidSscc": MALFORMED,
    "ItemsInvalidTemperature": MALFORMED,
    "ItemsIsContainer": CONFLICT,
    "ItemsLotExpired": CONFLICT,
    "ItemsNotActiveMember": CONFLICT,
    "ItemsNotContainer": CONFLICT,
    "ItemsNotHolder": CONFLICT,
    "ItemsPrefixNotOwned": CONFLICT,
    "ItemsRecalled": CONFLICT,
    "ItemsRecalledReturnOnly": CONFLICT,
    "ItemsReceiverNotQualified": CONFLICT,
    "ItemsRegistrationExpired": CONFLICT,
    "ItemsRejectedNotInShipment": CONFLICT,
    "ItemsSelfPack": MALFORMED,
    "ItemsSelfShipment": MALFORMED,
    "ItemsShipmentContentMismatch": CONFLICT,
    "ItemsShipmentNotInTransit": CONFLICT,
    "ItemsUnauthorized": CONFLICT,
    "ItemsUnknownItem": MALFORMED,
    "ItemsUnknownShipment": MALFORMED,
    "ItemsWrongParty": CONFLICT,
    "ItemsWrongStatus": CONFLICT,
    "ItemsZeroQuantity": MALFORMED,
    "ItemsInsufficientQuantity": CONFLICT,
    "ItemsLotsNotAscending": MALFORMED,
    "ItemsRejectedLotNotInShipment": CONFLICT,
    "ItemsRejectedQuantityExceeds": CONFLICT,
    "ItemsUnknownPackage": MALFORMED,
    "ItemsNotPackage": CONFLICT,
    "ItemsIsPackage": CONFLICT,
    "ItemsSerialisedLot": CONFLICT,
    "ItemsLotTracked": CONFLICT,
    "ItemsNotDelegated": CONFLICT,
    "ItemsSenderNotQualified": CONFLICT,
    "ItemsSupplierNotApproved": CONFLICT,
    "ItemsProductNotApproved": CONFLICT,
    # Records (adverse events, document anchors)
    "RecordsAlreadyAnchored": CONFLICT,
    "RecordsEmptyHash": MALFORMED,
    "RecordsInvalidSeverity": MALFORMED,
    "RecordsNotActiveMember": CONFLICT,
    "RecordsNotConcerned": CONFLICT,
    # OpenZeppelin: access control, signatures, nonces, SafeCast, ShortStrings
    "AccessControlBadConfirmation": CONFLICT,
    "AccessControlEnforcedDefaultAdminDelay": CONFLICT,
    "AccessControlEnforcedDefaultAdminRules": CONFLICT,
    "AccessControlInvalidDefaultAdmin": MALFORMED,
    "AccessControlUnauthorizedAccount": CONFLICT,
    "ECDSAInvalidSignature": MALFORMED,
    "ECDSAInvalidSignatureLength": MALFORMED,
    "ECDSAInvalidSignatureS": MALFORMED,
    "InvalidAccountNonce": MALFORMED,
    "InvalidShortString": MALFORMED,
    "SafeCastOverflowedUintDowncast": MALFORMED,
    "StringTooLong": MALFORMED,
}


class ProblemCode(StrEnum):
    """The problem codes that are neither a contract error's name, a GS1 reason nor the
    code of a particular `ApiError`: those the error handlers and the ledger plumbing give."""

    INVALID_REQUEST = "invalid_request"  # the request does not match the schema
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"  # any other HTTP error of the framework
    RATE_LIMITED = "rate_limited"
    CHAIN_UNAVAILABLE = "chain_unavailable"  # the node cannot be reached
    TRANSACTION_REVERTED = "transaction_reverted"  # a revert without a custom error
    TRANSACTION_PENDING = "transaction_pending"
    EARLIER_TRANSACTION_PENDING = "earlier_transaction_pending"
    INTERNAL_ERROR = "internal_error"
    # a code naming an item or lot (`domain.codes`), beside the GS1 reasons
    INVALID_CODE = "invalid_code"  # neither a 32-byte hex id nor a GS1 code
    MISSING_LOT = "missing_lot"  # a code naming no lot where a lot is needed
    # Idempotency-Key (`web.idempotency`)
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"  # empty, too long, not printable
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # same key, another request
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"  # the first still runs
    IDEMPOTENT_ANSWER_NOT_KEPT = "idempotent_answer_not_kept"  # first answer too large


def contract_error_status(exc: ContractError) -> int:
    """422 when a contract error means the request was malformed, else 409 (also for an
    Error(string) or Panic, which the contracts do not raise on purpose)."""
    return CONTRACT_ERROR_STATUS.get(exc.name, CONFLICT)


class ApiError(MedLedgerError):
    status = 400
    title = "Bad request"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class NotFound(ApiError):
    status = 404
    title = "Not found"


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"


class Conflict(ApiError):
    status = 409
    title = "Refused by a ledger rule"


class Unprocessable(ApiError):
    status = 422
    title = "Unprocessable request"


class RateLimited(ApiError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(ProblemCode.RATE_LIMITED, detail, retry_after=retry_after)
        self.retry_after = retry_after


class NotConfigured(ApiError):
    status = 503
    title = "Not configured"
