"""Failures in words a clerk understands: the API's stable error codes (ApiError codes,
Solidity error names, GS1 reasons, form validation) mapped to messages in both languages.

`explain(exc, gettext)` returns the translated sentence for any error a portal action can
raise; unknown codes fall back to the API's own detail, so nothing is hidden. Add a code
to MESSAGES (English message id) and its Chinese translation to the catalog. A message
with `%(name)s` placeholders is filled from the failure's `params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from medledger.domain.errors import ApiError
from medledger.portal.nav import _l
from medledger.sdk.errors import ContractError, Gs1Error, MedLedgerError

__all__ = [
    "ACTION_ERRORS",
    "FormError",
    "PortalFailure",
    "PortalStartupError",
    "explain",
    "failure",
]

MESSAGES: dict[str, str] = {
    # background jobs
    "job_interrupted": _l(
        "The job stopped when the server restarted. The units done so far are on the "
        "ledger; start the job again for the rest."
    ),
    # sign-in and configuration
    "bad_credentials": _l("Wrong username or password."),
    "rate_limited": _l("Too many attempts. Wait a minute and try again."),
    "rate_limited_minutes": _l("Too many attempts. Try again in %(minutes)s minutes."),
    "member_not_active": _l("This organisation is suspended or not a member of the network."),
    "master_key_missing": _l("The platform is not configured for sign-in (no master key)."),
    "relayer_missing": _l("The platform relayer is not configured."),
    "signature_required": _l(
        "The platform holds no key for your organisation; sign with your own key instead."
    ),
    "csrf_failed": _l("The form has expired. Reload the page and try again."),
    "invalid_signature": _l("The signature does not match the challenge."),
    "invalid_challenge": _l("The sign-in challenge is unknown or malformed."),
    "challenge_used": _l("This sign-in challenge was already used. Try again."),
    "challenge_expired": _l("The sign-in challenge has expired. Try again."),
    "forbidden_role": _l("Your organisation's role may not do this."),
    "manufacturer_only": _l("Only a manufacturer may do this."),
    # any request: the API's error handlers
    "method_not_allowed": _l("This address does not accept that kind of request."),
    "http_error": _l("The request could not be handled."),
    "chain_unavailable": _l("The ledger cannot be reached at the moment. Try again shortly."),
    "internal_error": _l("The operation failed on our side and has been logged. Try again later."),
    # input
    "invalid_request": _l("Some fields are missing or invalid; see the marked fields."),
    "not_found": _l("Nothing was found under that code."),
    "unknown_subject": _l("This device or lot is not on the ledger."),
    "unknown_device": _l("No device with the code %(code)s is on the ledger."),
    "count_mismatch": _l(
        "The counted units differ from the units you accept: reject the missing units or "
        "correct the count."
    ),
    "document_too_large": _l("A document is too large (at most 8 MB)."),
    "invalid_counterparty": _l("The counterparty must be another member."),
    "shipment_not_found": _l("No such shipment among yours."),
    "container_not_found": _l("No such case or pallet."),
    "item_not_found": _l("No such item among yours."),
    "bad_check_digit": _l("The code's check digit is wrong; check for a typing error."),
    "unknown_ai": _l("The code contains an unknown GS1 application identifier."),
    "bad_date": _l("The code contains an invalid date."),
    "missing_serial": _l("The code has no serial number (AI 21)."),
    "missing_gtin": _l("The code has no GTIN (AI 01)."),
    "malformed": _l("This is not a GS1 code."),
    # label sheets
    "labels_too_many": _l(
        "At most %(limit)s labels per sheet; you asked for %(count)s. Split the serial "
        "numbers into several sheets."
    ),
    "labels_lot_recalled": _l("Lot %(lot)s is recalled: no labels are printed for its units."),
    "labels_refused": _l(
        "No labels were made: some of these units must not be labelled (see the serial "
        "numbers field)."
    ),
    "label_not_commissioned": _l("Never commissioned in this lot: %(serials)s."),
    "label_dispensed": _l("Already dispensed or implanted: %(serials)s."),
    "label_destroyed": _l("Destroyed: %(serials)s."),
    "label_unpacked": _l("Already unpacked: %(serials)s."),
    "labels_lot_expired": _l("Lot %(lot)s expired on %(expiry)s: no labels are printed for it."),
    "labels_cases_refused": _l(
        "No case labels were made: some of these cases must not be labelled (see the serial "
        "numbers field)."
    ),
    "label_case_not_commissioned": _l(
        "Never packed as a case of %(gtin)s from this lot: %(serials)s."
    ),
    "labels_not_a_package": _l("%(gtin)s is not a package level of this lot's product."),
    "labels_container_unknown": _l("No logistic unit with SSCC %(sscc)s is on the ledger."),
    "labels_container_not_yours": _l(
        "Your organisation does not hold logistic unit %(sscc)s: only its holder prints its label."
    ),
    "empty": _l("Enter or scan a code."),
    "invalid_code": _l("This is neither an item id nor a GS1 code."),
    # ledger rules (Solidity custom errors)
    "ItemsNotHolder": _l("Your organisation does not hold this item."),
    "RecordsNotConcerned": _l(
        "Only the unit's holder, the lot's manufacturer or the regulator may report about it."
    ),
    "transaction_pending": _l(
        "The ledger accepted the operation but has not recorded it yet. Check the list in a "
        "minute before trying again."
    ),
    "earlier_transaction_pending": _l(
        "Your previous operation is still being recorded. Try again in a moment."
    ),
    "transaction_reverted": _l("The ledger refused the operation."),
    "signature_malformed": _l("The signature is malformed; sign the order again."),
    "body_too_large": _l("What you sent is too large."),
    "body_timeout": _l("The upload was too slow and was stopped. Try again."),
    # Idempotency-Key on API writes (web.idempotency)
    "invalid_idempotency_key": _l(
        "The Idempotency-Key is not valid: 1 to 255 printable ASCII characters, sent once."
    ),
    "idempotency_key_reused": _l(
        "This Idempotency-Key was already used for a different request. Use a new key for "
        "a new request."
    ),
    "idempotency_key_in_flight": _l(
        "The first request with this Idempotency-Key is still running. Try again in a moment."
    ),
    "idempotent_answer_not_kept": _l(
        "The request with this Idempotency-Key was already carried out, but its answer was "
        "too large to keep. Look up the result instead of retrying."
    ),
    "ItemsReceiverNotQualified": _l(
        "The receiver is not licensed for this device class; it cannot receive these goods."
    ),
    "ItemsRecalled": _l("This lot is recalled; it must not move."),
    "ItemsRecalledReturnOnly": _l("This lot is recalled; it may only go back to its maker."),
    "ItemsLotExpired": _l("This lot has expired; it must not move."),
    "ItemsRegistrationExpired": _l("The product's registration certificate has expired."),
    "ItemsAlreadyExists": _l("One of these serial numbers or codes is already on the ledger."),
    "ItemsInvalidSerial": _l("A serial number is not valid (1-20 GS1 characters)."),
    "ItemsInvalidSscc": _l("The SSCC is not valid."),
    "ItemsPrefixNotOwned": _l("This code is not under your organisation's company prefix."),
    "ItemsWrongParty": _l("This shipment is not addressed to your organisation."),
    "ItemsShipmentNotInTransit": _l("This shipment was already received or cancelled."),
    "ItemsWrongStatus": _l(
        "The item is not in a state that allows this (shipped, quarantined, used or destroyed)."
    ),
    "ItemsInContainer": _l("The item is packed in a case or pallet; unpack it first."),
    "ItemsIsContainer": _l("This is a case or pallet, not a unit."),
    "ItemsNotContainer": _l("This is not a case or pallet."),
    "ItemsUnknownItem": _l("Unknown item: it was never commissioned."),
    "ItemsUnknownShipment": _l("No such shipment."),
    "ItemsContainerNotEmpty": _l("The case or pallet is not empty."),
    "ItemsRejectedNotInShipment": _l("A rejected item is not part of this shipment."),
    "ItemsSelfShipment": _l("You cannot ship to your own organisation."),
    "ItemsSelfPack": _l("A case or pallet cannot contain itself."),
    "ItemsNotActiveMember": _l("A party is not an active member of the network."),
    "ItemsInvalidTemperature": _l("The temperatures are not valid (minimum above maximum)."),
    "ItemsBatchSize": _l("Too many items in one operation (at most 500)."),
    "ItemsUnauthorized": _l("Your organisation may not do this."),
    "DevicesPrefixNotOwned": _l("This GTIN is not under your organisation's company prefix."),
    "DevicesNotLicensed": _l("Your organisation holds no production licence for this class."),
    "DevicesProductExists": _l("This product is already registered."),
    "DevicesLotExists": _l("This lot is already registered."),
    "DevicesUnknownProduct": _l("Unknown product: register the GTIN first."),
    "DevicesUnknownLot": _l("Unknown lot: register the lot first."),
    "DevicesRegistrationExpired": _l("The product's registration certificate has expired."),
    "DevicesInvalidLotDates": _l("The dates are not valid (expiry must be after production)."),
    "DevicesInvalidGtin": _l("The GTIN is not valid (14 digits with a correct check digit)."),
    "DevicesInvalidLotNumber": _l("The lot number is not valid (1-20 GS1 characters)."),
    "DevicesInvalidTemperatureRange": _l("The storage temperature range is not valid."),
    "DevicesInvalidDeviceClass": _l("The device class must be I, II or III."),
    "DevicesUnauthorized": _l("Your organisation may not do this."),
    "PartnersNotActive": _l("A party is not an active member of the network."),
    # ledger rules (Solidity custom errors, continued; OpenZeppelin's last)
    "PartnersUnauthorized": _l("Only the regulator or the network administrator may do this."),
    "PartnersAlreadyMember": _l("This organisation is already a member of the network."),
    "PartnersInvalidMember": _l("This is not a valid member account."),
    "PartnersNotMember": _l("This organisation is not a member of the network."),
    "PartnersInvalidRole": _l("This is not a role a member can have."),
    "PartnersNotSuspended": _l("This organisation is not suspended."),
    "PartnersInvalidLicenceKind": _l("Unknown kind of licence."),
    "PartnersInvalidClassMask": _l(
        "The licence must cover at least one device class (I, II or III)."
    ),
    "PartnersLicenceAlreadyExpired": _l("The licence's expiry date is already past."),
    "PartnersNoLicence": _l("The organisation holds no licence of this kind."),
    "PartnersInvalidPrefix": _l("The company prefix is not valid (6-12 digits)."),
    "PartnersPrefixTaken": _l("This company prefix already belongs to another organisation."),
    "PartnersPrefixOverlaps": _l("This company prefix overlaps one that is already assigned."),
    "DevicesInvalidRecallLevel": _l("The recall level must be I, II or III."),
    "DevicesLotAlreadyRecalled": _l("This lot is already under recall."),
    "DevicesUnknownRecall": _l("No such recall."),
    "DevicesRecallClosed": _l("This recall is already closed."),
    "recall_outstanding_unconfirmed": _l(
        "Units of this recall are still in the field or holders have not acknowledged it: "
        "give the reason for closing and confirm."
    ),
    "recall_reason_too_long": _l("The reason may be at most 4,000 characters."),
    "recall_manufacturer_or_regulator_only": _l(
        "Only the lot's manufacturer or the regulator runs a recall."
    ),
    "recall_notice_unavailable": _l("The recall notice is not available here."),
    "recall_destroy_count": _l("Give 1 to 200 unit codes to destroy."),
    "recall_unit_not_of_lot": _l("This code is not a unit of the recalled lot."),
    "unknown_recall": _l("No such recall."),
    "not_in_recall_scope": _l("Your organisation holds no units of this recalled lot."),
    "recall_closed": _l("This recall is already closed."),
    "DevicesRecallNotHolder": _l(
        "Only an organisation holding stock of the recalled lot acknowledges the recall."
    ),
    "DevicesPackageExists": _l("This package GTIN is already registered."),
    "DevicesUnknownChild": _l("The contents GTIN is neither a registered product nor a package."),
    "DevicesInvalidPackageQuantity": _l(
        "The package quantity must be at least 1 and hold at most 4,294,967,295 units."
    ),
    "DevicesMasterDataUnchanged": _l("The product's master data is unchanged."),
    "DevicesPackagePrefixNotOwned": _l(
        "This package GTIN is not under your organisation's company prefix."
    ),
    # product master data (domain.master_data, portal.routes.master_data)
    "file_missing": _l("Choose a file to import."),
    "master_data_conflict": _l(
        "The ledger already holds other facts for this product (class, storage range, "
        "tracking or packaging), which cannot change."
    ),
    "prefix_not_owned": _l("This GTIN is under none of your organisation's company prefixes."),
    "unknown_product": _l("No product or package with this GTIN is on the ledger."),
    "gtin_mismatch": _l("The GTIN in the record differs from the one in the address."),
    "ItemsExpiredSignature": _l("The signed order has expired; sign it again."),
    "ItemsInvalidSigner": _l("The order is not signed by the organisation it names."),
    "ItemsShipmentContentMismatch": _l("The items listed differ from the shipment's contents."),
    "ItemsZeroQuantity": _l("A quantity must be at least 1."),
    "ItemsInsufficientQuantity": _l("The holder does not have that many units of this lot."),
    "ItemsLotsNotAscending": _l("Each lot may appear only once, in ascending lot key order."),
    "ItemsRejectedLotNotInShipment": _l("A rejected lot is not part of this shipment."),
    "ItemsRejectedQuantityExceeds": _l("More units of a lot are rejected than were shipped."),
    "ItemsUnknownPackage": _l("This GTIN is not a registered package level."),
    "ItemsNotPackage": _l("This item is not a case or box that can be unpacked."),
    "ItemsIsPackage": _l("This is a case or box: unpack it before dispensing its units."),
    "ItemsSerialisedLot": _l("This product is serialised: commission its units by serial number."),
    "ItemsLotTracked": _l(
        "This product is tracked by lot, not by serial: commission a quantity of the lot."
    ),
    "ItemsNotDelegated": _l("This call must be sent to the Items contract."),
    "RecordsNotActiveMember": _l("Your organisation is not an active member of the network."),
    "RecordsInvalidSeverity": _l("The severity must be 1, 2 or 3."),
    "RecordsEmptyHash": _l("The document fingerprint is empty."),
    "RecordsAlreadyAnchored": _l("This document is already anchored on the ledger."),
    "AccessControlUnauthorizedAccount": _l("Your account does not hold the role this needs."),
    "AccessControlBadConfirmation": _l("Only the account itself may give up its role."),
    "AccessControlEnforcedDefaultAdminDelay": _l(
        "The administrator handover is not due yet; wait until its delay has passed."
    ),
    "AccessControlEnforcedDefaultAdminRules": _l(
        "The administrator role changes hands only through a handover."
    ),
    "AccessControlInvalidDefaultAdmin": _l("This account cannot become the administrator."),
    "ECDSAInvalidSignature": _l("The signature is not valid; sign the order again."),
    "ECDSAInvalidSignatureLength": _l("The signature has the wrong length; sign the order again."),
    "ECDSAInvalidSignatureS": _l("The signature is malformed; sign the order again."),
    "InvalidAccountNonce": _l(
        "The order was signed with an outdated sequence number; sign it again."
    ),
    "InvalidShortString": _l("A text is too long for the ledger."),
    "StringTooLong": _l("A text is too long for the ledger."),
    "SafeCastOverflowedUintDowncast": _l("A number is too large for the ledger."),
    # codes in any form (portal.forms)
    "unsupported_chars": _l("The code holds characters GS1 does not allow in a serial or lot."),
    "missing_lot": _l("The code names no lot: scan the lot's code, or type the GTIN and lot."),
    "code_lot_mismatch": _l("The scanned code's lot differs from the lot typed."),
    "code_not_of_lot": _l("A code names a unit of another product, or has no serial number."),
    # loose lot quantities (portal.lot_forms, domain.lot_custody)
    "invalid_quantity": _l("End each line with a quantity: a whole number of at least 1."),
    "lot_not_found": _l("No such lot is registered on the ledger."),
    "lot_quantity_unavailable": _l(
        "Only %(available)s units of lot %(lot)s are available; %(requested)s were asked for."
    ),
    # qualification both ways, approved files (domain.qualification)
    "ItemsSenderNotQualified": _l(
        "The sender holds no valid licence covering this device class; it may not ship these goods."
    ),
    "ItemsSupplierNotApproved": _l(
        "The receiver has not approved this supplier (first-time supplier review) and refuses "
        "goods from unapproved suppliers."
    ),
    "ItemsProductNotApproved": _l(
        "The receiver has not approved this product (first-time product review) and refuses "
        "unapproved products."
    ),
    "PartnersInvalidLicenceText": _l(
        "The licence number must be 1-64 characters; authority, warehouse address and province "
        "at most 200 bytes each."
    ),
    "PartnersInvalidScopeCode": _l(
        "A business scope code is not valid: use classification codes such as 07 or 07-03 (at "
        "most 64 codes)."
    ),
    "PartnersInvalidGtin": _l("The GTIN is not valid (14 digits with a correct check digit)."),
    "PartnersInvalidSupplier": _l("The supplier must be another member of the network."),
    "PartnersMissingRecord": _l("An approval needs its qualification record."),
    "PartnersSupplierNotApproved": _l("This supplier is not in your approved-supplier file."),
    "PartnersProductNotApproved": _l("This product is not in your approved-product file."),
    "PartnersInvalidGln": _l("The GLN is not valid (13 digits with a correct check digit)."),
    "PartnersGlnTaken": _l("This GLN already belongs to another organisation or site."),
    "PartnersNoSite": _l("This GLN is not one of your registered sites."),
    "PartnersInvalidSiteText": _l(
        "A site needs a name; its name, English name and address are at most 200 bytes each."
    ),
    "qualification_not_found": _l("No approval files of that member are shared with you."),
    "qualification_traders_only": _l("Only members that hold stock keep approval files."),
    "sites_traders_only": _l("Only members that hold stock register sites."),
    "epcis_location_invalid": _l(
        "The event's location is neither an SGLN nor a GS1 Digital Link location (414)."
    ),
    "epcis_location_not_yours": _l("The event's location is not one of your GLNs or sites."),
    "epcis_party_mismatch": _l(
        "A source or destination party of the event is not the shipment's sender or receiver."
    ),
    "unknown_capture": _l("There is no such capture job of yours."),
    "epcis_biz_transaction_invalid": _l(
        "A business transaction is not valid: its type must be a CBV type (po, desadv, inv, "
        "rma, ...), its id 1 to 128 characters; at most 20 per event."
    ),
    "epcis_location_not_theirs": _l(
        "The event's ship-to location is not a GLN or site of the receiver."
    ),
    "ship_from_not_sender_site": _l(
        "The ship-from site is not one of your GLNs or active registered sites."
    ),
    "ship_to_not_receiver_site": _l(
        "The ship-to site is not a GLN or active registered site of the receiver."
    ),
    "acceptance_with_hash": _l(
        "Send either the acceptance record or an inspection hash you signed, not both."
    ),
    "acceptance_not_found": _l("No acceptance record of this shipment is shared with you."),
    # sealed records (domain.adverse_events, domain.returns, domain.service_records)
    "adverse_event_not_found": _l("No such adverse-event report among those you may read."),
    "return_to_non_supplier": _l(
        "Goods can only be returned to a member that supplied you; choose the supplier."
    ),
    "unit_not_implanted": _l("Only a unit that was implanted (used) can be recorded as explanted."),
    "record_needs_custodial_key": _l(
        "An order you sign yourself carries your own hash; send the record without a signature."
    ),
    "record_not_found": _l("No such record among those shared with you."),
    "record_commitment_mismatch": _l(
        "The record does not match the commitment on the ledger; it was refused."
    ),
    "record_conflict": _l("A different record is already stored under this id or commitment."),
    # users, roles and maker-checker (portal.users, domain.approvals)
    "staff_role_required": _l("Your role may not do this: it needs %(role)s."),
    "approval_role_required": _l("Deciding this action needs a QA user or a manager."),
    "approval_not_found": _l("No such action awaits approval in your organisation."),
    "approval_decided": _l("This action has already been decided."),
    "approval_own_proposal": _l("Another user must approve or reject what you proposed."),
    "approval_not_yours": _l("Only the user who proposed an action may withdraw it."),
    "reason_required": _l("Say why the action is rejected."),
    "approval_limit": _l("Too many actions await approval; decide some first."),
    "user_limit": _l("Your organisation has the most users it may have."),
    "invalid_role": _l("The role must be clerk, QA or manager."),
    "username_taken": _l("This username is taken; choose another."),
    "weak_password": _l("The password needs at least 8 characters."),
    "invalid_username": _l("A username has 3 to 64 letters, digits, '.', '_' or '-'."),
    "user_not_found": _l("No such user."),
    "audit_anchor_key": _l("The platform holds no key to anchor this audit trail with."),
    # inspection exports (domain.inspection_exports, portal.routes.exports)
    "unknown_export_kind": _l("There is no export of that kind."),
    "invalid_export_period": _l(
        "Give the period as a month (2026-12) or a date range (2026-12-01..2026-12-31) of "
        "at most 12 months."
    ),
    "export_too_large": _l("The export would have too many rows: choose a shorter period."),
    "export_key_missing": _l(
        "Your organisation keeps its own key, so the platform cannot sign an export for it."
    ),
    "unknown_member": _l("No member of the network has this address."),
    "invalid_export_file": _l("The file is too large to be an export."),
    # return inspection (domain.return_inspection)
    "return_not_found": _l(
        "No goods of this shipment came back to you awaiting return inspection."
    ),
    "return_inspection_lines": _l(
        "Inspect every product and lot that came back, each exactly once."
    ),
    # registration renewal (domain.registration_renewal)
    "renewal_product_not_found": _l("No product with this GTIN is registered by you."),
    "renewal_expiry_not_future": _l("The renewed registration must expire after today."),
    # bulk import (domain.bulk_import)
    "import_file_too_large": _l("The file is too large: at most 20 MiB."),
    "import_unsupported_type": _l("Upload a .csv or .xlsx file."),
    "import_empty_file": _l("The file holds no data rows."),
    "import_too_many_columns": _l("The file has too many columns: at most 60."),
    "import_bad_header": _l(
        "The first row must name the columns (for example 产品标识, 批号, 序列号)."
    ),
    "import_too_many_rows": _l("The file has too many rows: at most 100,000."),
    "import_bad_encoding": _l("The CSV file must be saved as UTF-8 or GB18030."),
    "import_unreadable": _l("The file cannot be read; save it again as CSV or XLSX."),
    "import_zip_bomb": _l(
        "The workbook expands to far more data than a spreadsheet holds and was refused."
    ),
    "import_unknown_kind": _l("Choose what the file holds: commissioning list, lots or products."),
    "import_not_found": _l("No such import job among yours."),
    "import_not_resumable": _l("This import has nothing left to resume."),
    "import_failed": _l(
        "The import stopped; the rows written so far are on the ledger. "
        "Resume it to write the rest."
    ),
    "import_row_refused": _l(
        "The ledger refused a row of the file; the rows before it are on the ledger."
    ),
    # webhook subscriptions and the event stream (domain.subscriptions, domain.events)
    "subscription_not_found": _l("No such subscription of your organisation."),
    "subscription_limit": _l("Your organisation has the most subscriptions allowed (20)."),
    "subscription_suspended": _l(
        "Deliveries are suspended by a failed event: send it again or skip it first."
    ),
    "delivery_not_dead": _l("This event is not among the failed deliveries."),
    "webhook_url_invalid": _l("The address must be an https URL without a user name or password."),
    "webhook_url_private": _l("Deliveries to this network's internal addresses are not allowed."),
    "invalid_limit": _l("Ask for between 1 and 500 events at a time."),
    "invalid_cursor": _l("The event position must be 0 or more."),
    "epcis_query_not_found": _l("No saved EPCIS query of that name."),
    "epcis_query_exists": _l("Your organisation already has an EPCIS query of that name."),
    "epcis_query_limit": _l("Your organisation has the most saved EPCIS queries allowed (50)."),
    "epcis_query_in_use": _l("This EPCIS query has subscriptions: remove them first."),
    "epcis_query_parameter": _l(
        "Saved EPCIS queries take MATCH_epc, EQ_bizStep, EQ_disposition, GE_eventTime and "
        "LT_eventTime."
    ),
    "epcis_subscription_mode": _l("Choose either a stream or a schedule for the subscription."),
    "epcis_schedule_invalid": _l("The schedule is not valid or never runs."),
    "epcis_schedule_too_frequent": _l("The schedule runs too often: at most once an hour."),
}


@dataclass
class PortalFailure(MedLedgerError):
    """A failure to show on the page: a stable code, the raw detail, field errors, and the
    values its message names."""

    code: str
    detail: str
    fields: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class FormError(PortalFailure):
    """Input the portal itself rejects before calling the API layer."""


class PortalStartupError(MedLedgerError):
    """The portal cannot start: a page module of `portal.app.PAGE_MODULES` is broken."""

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"portal page module {module} cannot be loaded: {reason}")
        self.module = module


def failure(exc: Exception) -> PortalFailure:
    """Any error a portal action can raise, as a PortalFailure."""
    if isinstance(exc, PortalFailure):
        return exc
    if isinstance(exc, ApiError):
        return PortalFailure(exc.code, exc.detail)
    if isinstance(exc, ContractError):
        return PortalFailure(exc.name, str(exc))
    if isinstance(exc, Gs1Error):
        return PortalFailure(exc.code, str(exc))
    if isinstance(exc, ValidationError):
        fields = {".".join(str(p) for p in e["loc"]) or "form": e["msg"] for e in exc.errors()}
        return PortalFailure("invalid_request", str(exc), fields)
    raise exc


def explain(problem: PortalFailure, gettext: Callable[[str], str]) -> str:
    """The clerk's sentence for a failure, in the request's language."""
    message = MESSAGES.get(problem.code)
    if message is None:
        return gettext("The operation failed: %(detail)s") % {"detail": problem.detail}
    return gettext(message) % problem.params if problem.params else gettext(message)


# What a portal action catches and shows on its page (anything else is a server error).
ACTION_ERRORS = (ValidationError, PortalFailure, ApiError, ContractError, Gs1Error)
