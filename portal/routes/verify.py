"""The public verification page: type, paste or scan a code and see the verdict plainly,
with its reasons, in the visitor's language. The Digital Link resolver
(`api.routes.verify`) renders its browser answer with `verdict_page` too (`medledger.app`
registers it there), so a printed QR code lands on this same page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from medledger.domain.services import Services
from medledger.domain.verdicts import ReasonCode, Scope, Verdict
from medledger.domain.verification import VerifyResult
from medledger.domain.verifier import MAX_CODE, judge
from medledger.portal.context import PageCtx, page_ctx
from medledger.portal.nav import _l
from medledger.sdk.errors import Gs1Error
from medledger.web.deps import ServicesDep
from medledger.web.verify_limit import RateLimit, scan_member

__all__ = [
    "EVENTS",
    "HEADLINES",
    "LOT_HEADLINES",
    "REASONS",
    "UNREADABLE",
    "VERDICTS",
    "headline",
    "router",
    "verdict_page",
]

router = APIRouter(prefix="/portal", include_in_schema=False)

# The verdict banner always names the verdict in both languages: a scanner may not read
# the page's language.
VERDICTS = {
    Verdict.GENUINE: ("真品", "Genuine"),
    Verdict.UNKNOWN: ("未知序列号", "Unknown"),
    Verdict.SUSPECT: ("可疑", "Suspect"),
    Verdict.RECALLED: ("已召回", "Recalled"),
    Verdict.EXPIRED: ("已过期", "Expired"),
    Verdict.DISPENSED: ("已使用", "Dispensed"),
    Verdict.DESTROYED: ("已销毁", "Destroyed"),
}
# The banner's first line: a sentence a patient understands, in both languages, for each
# verdict; a lot code or a case/pallet code says what it can and cannot prove
# (tests/portal/test_verify_plain_words.py).
HEADLINES: dict[Verdict, tuple[str, str]] = {
    Verdict.GENUINE: (
        "这件器械是真品：它已由制造商在联盟账本上登记。",
        "This device is genuine: its manufacturer registered it on the shared ledger.",
    ),
    Verdict.UNKNOWN: (
        "记录中找不到这件器械，它可能是假冒产品。请不要使用，并联系您的医生或供应商。",
        "We cannot find this device in the records: it may be counterfeit. Do not use it; "
        "contact your doctor or supplier.",
    ),
    Verdict.SUSPECT: (
        "这件器械的信息与记录不符，可能是假冒产品。请不要使用，并联系您的医生或供应商。",
        "This device's details do not match the records: it may be counterfeit. Do not use "
        "it; contact your doctor or supplier.",
    ),
    Verdict.RECALLED: (
        "这件器械所在批次已被召回。如果它已植入或已使用，请联系您的医生；如果尚未使用，请不要使用。",
        "This device's lot has been recalled. If it has already been implanted or used, "
        "contact your doctor; if not, do not use it.",
    ),
    Verdict.EXPIRED: (
        "这件器械已过有效期，请不要使用。",
        "This device has passed its expiry date: do not use it.",
    ),
    Verdict.DISPENSED: (
        "记录显示这件器械已被使用或植入。如果您手中的是未开封的全新包装，请联系您的医生或供应商。",
        "The records say this device was already used or implanted. If yours is in an unopened "
        "package, contact your doctor or supplier.",
    ),
    Verdict.DESTROYED: (
        "记录显示这件器械已被销毁，不应再出现。请不要使用，并联系您的供应商。",
        "The records say this device was destroyed and should no longer exist. Do not use it; "
        "contact your supplier.",
    ),
}
LOT_HEADLINES: dict[Verdict, tuple[str, str]] = {
    Verdict.GENUINE: (
        "此批号已由制造商在联盟账本上登记。批号只能证明批次真实，不能证明这一盒是独一无二的。",
        "This lot is registered on the shared ledger by its manufacturer. A lot code proves "
        "the lot is real, but cannot prove that this box is unique.",
    ),
    Verdict.UNKNOWN: (
        "记录中找不到这个批号，它可能是假冒产品。请不要使用，并联系您的医生或供应商。",
        "We cannot find this lot in the records: it may be counterfeit. Do not use it; "
        "contact your doctor or supplier.",
    ),
    Verdict.SUSPECT: (
        "标签上的有效期与记录不符，可能是假冒产品。请不要使用，并联系您的医生或供应商。",
        "The expiry date on the label does not match the records: it may be counterfeit. Do "
        "not use it; contact your doctor or supplier.",
    ),
}
CONTAINER_HEADLINES: dict[Verdict, tuple[str, str]] = {
    Verdict.GENUINE: (
        "这个箱或托盘已在联盟账本上登记。",
        "This case or pallet is registered on the shared ledger.",
    ),
    Verdict.UNKNOWN: (
        "记录中找不到这个箱或托盘，它可能是假冒的。请联系您的供应商。",
        "We cannot find this case or pallet in the records: it may be counterfeit. Contact "
        "your supplier.",
    ),
}
# A code that cannot be read is a typo or a damaged label far more often than a fake.
UNREADABLE = ("无法识别此代码", "We could not read this code")


def headline(result: VerifyResult) -> tuple[str, str]:
    """The banner's first sentence (zh-CN, English) for a verdict."""
    special = {Scope.LOT: LOT_HEADLINES, Scope.CONTAINER: CONTAINER_HEADLINES}.get(result.scope)
    if special is not None and result.verdict in special:
        return special[result.verdict]
    return HEADLINES[result.verdict]


# Every reason code of domain.verdicts in words (tests/portal/test_verify_reasons.py ties
# each to its zh-CN text); the API's English text, which names ledger internals, is not
# shown on the page.
REASONS = {
    ReasonCode.COMMISSIONED: _l("Registered on the ledger by its manufacturer."),
    ReasonCode.CONTAINER: _l("A logistic unit (case or pallet) registered on the ledger."),
    ReasonCode.UNKNOWN_SERIAL: _l("This serial number was never registered: possibly counterfeit."),
    ReasonCode.UNKNOWN_PRODUCT: _l("This product is not registered on the ledger."),
    ReasonCode.UNKNOWN_CONTAINER: _l("This case or pallet is not registered on the ledger."),
    ReasonCode.LOT_MISMATCH: _l("The lot on the label differs from the ledger's."),
    ReasonCode.SERIAL_UNDER_OTHER_LOT: _l("This serial number belongs to another lot."),
    ReasonCode.EXPIRY_MISMATCH: _l("The expiry date on the label differs from the ledger's."),
    ReasonCode.TWO_PLACES: _l(
        "A network member (a hospital's or distributor's scanner) scanned this unit far from "
        "here within hours: one unit cannot be in two places. Only members' scans count; an "
        "anonymous scan never changes anyone else's result."
    ),
    ReasonCode.SCANNED_AFTER_DISPENSED: _l("The unit was scanned again long after it was used."),
    ReasonCode.SCANNED_AFTER_DESTROYED: _l(
        "The unit was scanned again long after it was destroyed: the unit or its label may "
        "have been reused."
    ),
    ReasonCode.RECALLED: _l(
        "The lot has been recalled. If the device is already implanted or used, contact your "
        "doctor; otherwise do not use it."
    ),
    ReasonCode.RECALL_CLOSED_OUTSTANDING: _l(
        "The lot was recalled and the recall was closed while this unit was still in "
        "circulation; it was never returned. Do not use it; contact the manufacturer."
    ),
    ReasonCode.EXPIRED: _l("The lot has passed its expiry date: do not use it."),
    ReasonCode.REGISTRATION_EXPIRED: _l("The product's registration certificate has expired."),
    ReasonCode.QUARANTINED: _l(
        "The unit is held back by its holder (for example after a cold-chain problem) until "
        "it is checked."
    ),
    ReasonCode.IN_TRANSIT: _l("In transit between two partners."),
    ReasonCode.DISPENSED: _l(
        "The unit was already dispensed or implanted; it must not be in circulation."
    ),
    ReasonCode.DESTROYED: _l("The unit was destroyed; it must not be in circulation."),
    ReasonCode.LOT_REGISTERED: _l("The lot is registered on the ledger by its manufacturer."),
    ReasonCode.UNKNOWN_LOT: _l("This lot was never registered: possibly counterfeit."),
    ReasonCode.LOT_CODE_NOT_UNIQUE: _l(
        "A lot code is printed on every box of the lot, so it cannot prove that this box is "
        "unique. A code with a serial number can."
    ),
}
# The ledger records a verdict rests on, in words (never event names or hashes).
EVENTS = {
    "commissioned": _l("Registered by the manufacturer"),
    "container_created": _l("Case or pallet registered"),
    "packed": _l("Packed into a case or pallet"),
    "unpacked": _l("Unpacked from a case or pallet"),
    "shipped": _l("Shipped"),
    "received": _l("Received"),
    "rejected": _l("Refused on delivery"),
    "cancelled": _l("Shipment cancelled"),
    "dispensed": _l("Dispensed or implanted"),
    "quarantined": _l("Held back for checking"),
    "released": _l("Released after checking"),
    "destroyed": _l("Destroyed"),
    "recall_opened": _l("Recall issued"),
    "lot_registered": _l("Lot registered by the manufacturer"),
}


def verdict_page(
    request: Request,
    services: Services,
    *,
    code: str,
    result: VerifyResult | None = None,
    error: Gs1Error | None = None,
) -> HTMLResponse:
    """The verification page for `code`: its verdict, or why the code is invalid."""
    ctx = page_ctx(request, services)
    return ctx.render(
        "verify.html",
        code=code,
        result=result,
        gs1_error=error,
        verdicts=VERDICTS,
        headline=None if result is None else headline(result),
        unreadable=UNREADABLE,
        reasons=REASONS,
        events=EVENTS,
        status_code=400 if error is not None else 200,
    )


@router.get("/verify", dependencies=[RateLimit])
def verify_page(
    request: Request, services: ServicesDep, ctx: PageCtx, code: str = ""
) -> HTMLResponse:
    code = code.strip()[:MAX_CODE]
    if not code:
        return verdict_page(request, services, code="")
    try:
        result = judge(services, code=code, location=None, member=scan_member(request))
    except Gs1Error as exc:
        return verdict_page(request, services, code=code, error=exc)
    return verdict_page(request, services, code=code, result=result)
