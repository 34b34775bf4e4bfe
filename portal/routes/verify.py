"""The public verification page: type, paste or scan a code and see the verdict plainly,
with its reasons, in the visitor's language. The Digital Link resolver
(`api.routes.verify`) renders its browser answer with `verdict_page` too (`medledger.app`
registers it there), so a printed QR code lands on this same page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from medledger.domain.services import Services
from medledger.domain.verdicts import ReasonCode, Verdict
from medledger.domain.verification import VerifyResult
from medledger.domain.verifier import MAX_CODE, judge
from medledger.portal.context import PageCtx, page_ctx
from medledger.portal.nav import _l
from medledger.sdk.errors import Gs1Error
from medledger.web.deps import ServicesDep
from medledger.web.verify_limit import RateLimit, scan_member

__all__ = ["REASONS", "VERDICTS", "router", "verdict_page"]

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
# Every reason code of domain.verdicts in words (tests/portal/test_verify_reasons.py ties
# each to its zh-CN text); the API's English text is shown under it.
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
    ReasonCode.RECALLED: _l("The lot is recalled: do not use."),
    ReasonCode.EXPIRED: _l("The lot has expired: do not use."),
    ReasonCode.REGISTRATION_EXPIRED: _l("The product's registration certificate has expired."),
    ReasonCode.QUARANTINED: _l("The unit is quarantined."),
    ReasonCode.IN_TRANSIT: _l("In transit between two partners."),
    ReasonCode.DISPENSED: _l(
        "The unit was already dispensed or implanted; it must not be in circulation."
    ),
    ReasonCode.DESTROYED: _l("The unit was destroyed; it must not be in circulation."),
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
        reasons=REASONS,
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
